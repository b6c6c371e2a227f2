/*
** node/frames.h: the codec of the node frames — the frames of kinds 16 and
** up that two node incarnations exchange in their session (MSG, REPLY,
** SPAWN, FIND, NAME, STOP, PICK, MONITOR, DEMONITOR, DOWN, NODE_DOWN; DHT
** bodies are stage_dht_msg_encode's), and the bodies of the replies that
** have a shape of their own (PICK's [n, id], a failure's [message, actor,
** traceback]). docs/protocol.md, "Node protocol", describes each one.
**
** One encoder and one decoder per kind. An encoder appends one body to a
** stage_pack_t and returns stage_pack_error (errors are sticky: the
** caller may check once). A decoder reads a body that came from the
** network, so it is hostile: every field is checked (array length,
** integer range, string length, no NUL where a C string is made of it,
** names and type names valid, nothing after the last field) and the
** result is 0 or STAGE_EDECODE. Decoded strings and values point into
** the body (borrowed: valid while it is): no allocation, no copy, so the
** MSG and REPLY paths cost what hand-packing did.
**
** What the codec cannot judge alone is left to the driver and said so
** where it matters: whether a target is an actor of this node, whether a
** NODE_DOWN's address is canonical (that needs the socket layer). Depth:
** arguments and values are read with the unpacker's cap
** (STAGE_PACK_MAX_DEPTH from where they start); the frame layer
** (wire/frame.h) has already capped the whole body at that depth.
** Pure: no I/O, no clock, no state; any thread.
*/
#ifndef STAGE_NODE_FRAMES_H
#define STAGE_NODE_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"
#include "stage/pack.h"

/* The frame kinds (the transport owns 0-15; net checks that its first
** user kind is MSG's). */
enum {
    STAGE__NODE_FRAME_MSG = 16,
    STAGE__NODE_FRAME_REPLY,
    STAGE__NODE_FRAME_SPAWN,
    STAGE__NODE_FRAME_FIND,
    STAGE__NODE_FRAME_DHT,
    STAGE__NODE_FRAME_NAME,
    STAGE__NODE_FRAME_STOP,
    STAGE__NODE_FRAME_PICK,
    STAGE__NODE_FRAME_MONITOR,
    STAGE__NODE_FRAME_DEMONITOR,
    STAGE__NODE_FRAME_DOWN,
    STAGE__NODE_FRAME_NODE_DOWN,
    STAGE__NODE_FRAME_MOVE,
    STAGE__NODE_FRAME_BOUNCE, /* net/relocate.c: a draining node's */
    STAGE__NODE_FRAME_UPDATE  /* net/sources.c: stage.update_type */
};

/* Limits the decoders hold bodies to. */
#define STAGE__NODE_METHOD_MAX 255        /* a method name, bytes */
#define STAGE__NODE_NAME_MAX 255          /* a name in the names store */
#define STAGE__NODE_STATUS_MIN -100000    /* lowest status accepted */
#define STAGE__NODE_WHY_MAX 160           /* NODE_DOWN's reason */
#define STAGE__NODE_DOWN_MESSAGE_MAX 4096 /* a DOWN's message is cut here */

/* An actor of the receiving node as MSG, STOP, NAME and the monitor frames
** carry it: its id without the node's address (the connection says it).
** type points into the body: tlen bytes, a valid type name. */
typedef struct stage__node_target {
    uint32_t incarnation;
    uint64_t serial; /* > 0 */
    const char *type;
    size_t tlen;
} stage__node_target_t;

/* MSG [call, incarnation, serial, type, method, args]; STOP [call,
** incarnation, serial, type] (method "stop", no args). */
typedef struct stage__node_msg {
    uint64_t call; /* 0: no reply wanted */
    stage__node_target_t to;
    const char *method; /* 1..255 bytes, no NUL */
    size_t mlen;
    const char *args; /* one msgpack array; NULL for a STOP */
    size_t alen;
    /* set by the decoder even when it fails: call and to were read, so
    ** the sender can be answered (MalformedData) rather than left to its
    ** deadline */
    bool answerable;
} stage__node_msg_t;

/* REPLY [call, status, value]. status 0: value is the result; else it is
** [message, actor, traceback] (stage__node_failure_decode). A status the
** decoder does not know (valid range, no name) becomes STAGE_EHANDLER. */
typedef struct stage__node_reply {
    uint64_t call;
    int status;
    const char *value; /* exactly one msgpack value */
    size_t vlen;
} stage__node_reply_t;

/* A failure's [message, actor, traceback]: each absent (NULL) unless a
** string. Lenient on purpose: the call fails either way, with what could
** be read. */
typedef struct stage__node_failure {
    const char *message, *actor, *traceback;
    size_t mlen, alen, tlen;
} stage__node_failure_t;

/* SPAWN [call, type, theatre, args]. theatre: -1 (the receiver picks) up
** to 65535; one beyond the receiver's theatres is its to clamp. */
typedef struct stage__node_spawn {
    uint64_t call;    /* > 0 */
    const char *type; /* a type name's length, no NUL (not checked valid:
                      ** an unknown type is answered TypeNotFound) */
    size_t tlen;
    int theatre;
    const char *args; /* one msgpack array */
    size_t alen;
} stage__node_spawn_t;

/* FIND [call, type, all] and PICK [call, type] (all false). */
typedef struct stage__node_find {
    uint64_t call;    /* > 0 */
    const char *type; /* < STAGE_TYPE_MAX bytes, no NUL */
    size_t tlen;
    bool all;
} stage__node_find_t;

/* NAME [call, name, incarnation, serial, type]. */
typedef struct stage__node_name {
    uint64_t call;    /* > 0 */
    const char *name; /* 1..255 bytes, no NUL */
    size_t nlen;
    stage__node_target_t id;
} stage__node_name_t;

/* MONITOR and DEMONITOR [mon, incarnation, serial, type]. */
typedef struct stage__node_watch {
    uint64_t mon; /* > 0 */
    stage__node_target_t to;
} stage__node_watch_t;

/* DOWN [mon, serial, status, message]. status as REPLY's (0: stopped). */
typedef struct stage__node_down {
    uint64_t mon, serial; /* > 0 */
    int status;
    const char *message; /* may hold NULs; the receiver cuts and ends it */
    size_t mlen;
} stage__node_down_t;

/* NODE_DOWN [address, incarnation, manager, why]. */
typedef struct stage__node_death {
    const char *addr; /* a node address (stage__node_addr_valid); the
                      ** driver checks it is canonical */
    size_t alen;
    uint32_t incarnation; /* > 0 */
    uint64_t manager;     /* two's complement on the wire; 0: unknown */
    const char *why;      /* <= STAGE__NODE_WHY_MAX bytes */
    size_t wlen;
} stage__node_death_t;

/* BOUNCE [kind, frame]: a MSG or STOP frame (kind, the body as it came,
** bin) that a draining node did not deliver, back to its sender, which
** sends it where its actor went (net/relocate.c). */
int stage__node_bounce_encode(stage_pack_t *p, int kind, const char *body,
                              size_t len);
/* 0, or STAGE_EDECODE (not a BOUNCE of a MSG or STOP frame). */
int stage__node_bounce_decode(const char *body, size_t len, int *kind,
                              const char **frame, size_t *flen);

/* MOVE [op, n, inc, status, home, at, where, data(, formers)]: a step of
** a move between nodes (docs/migration.md "Between nodes"; the ops are
** core's STAGE__MOVE_*, 1..14). Ids go as [address, incarnation, theatre,
** serial, type] or nil. What each op must carry (the decoder checks):
**   REQ 1: at, where (an address); n: the call (0: none)
**   OUT 2, ARRIVED 6: home, at
**   IN 3, IMPORT 5: home, data (the image, a msgpack array); an IMPORT
**            may carry a ninth field, formers: bin, one msgpack array (of
**            the ids that led to home before it: the guest keeps them for
**            an orphan takeover)
**   REFUSED 4, FAILED 7: home, status < 0, data (the reason, text)
**   REPLY 8: n > 0 (the token), inc, status; data: status 0, one msgpack
**            value; else the message (text)
**   GONE 9:  home, at (the id it stopped as)
**   ADOPT 10: home, at: `at` is its own actor now (its home leaves)
**   ADOPTED 11: home, at, status (0: taken over; else why not)
**   NAMES 12: home, at; data, if any, an array (its record)
**   FORGET 13: home (it stopped: the tombs of it go)
**   TOMB 14: home, at (the id it had at the sender, which drains)
** Fields an op does not use are nil or 0. */
enum { STAGE__NODE_MOVE_OPS = 14 };
#define STAGE__NODE_MOVE_WHY_MAX 1024 /* a reason or failure message */
typedef struct stage__node_move {
    int op;
    uint64_t n;
    uint32_t inc;
    int status;
    bool has_home, has_at;
    stage_id_t home, at;
    const char *where; /* NUL-free, wlen bytes; NULL if absent */
    size_t wlen;
    const char *data; /* borrowed; NULL if absent */
    size_t dlen;
    const char *formers; /* IMPORT: borrowed; NULL if absent */
    size_t flen;
} stage__node_move_t;

/* ---- encoders: append one body to p; return stage_pack_error(p) ------- */

/* MSG for to (its incarnation, serial and type); args: one encoded msgpack
** array, or NULL/0 for none (an empty array goes). */
int stage__node_msg_encode(stage_pack_t *p, uint64_t call, const stage_id_t *to,
                           const char *method, size_t mlen, const char *args,
                           size_t alen);
int stage__node_stop_encode(stage_pack_t *p, uint64_t call,
                            const stage_id_t *to);
/* A REPLY with status 0 and value (one encoded msgpack value). */
int stage__node_reply_encode(stage_pack_t *p, uint64_t call, const char *value,
                             size_t vlen);
/* A REPLY with status < 0: [message, actor, traceback]; message NULL says
** stage_strerror(status), actor and traceback NULL go as nil. */
int stage__node_reply_fail_encode(stage_pack_t *p, uint64_t call, int status,
                                  const char *message, const char *actor,
                                  const char *traceback);
/* SPAWN; args as MSG's. */
int stage__node_spawn_encode(stage_pack_t *p, uint64_t call, const char *type,
                             int theatre, const char *args, size_t alen);
/* FIND with all true (find_all_types), or PICK with all false. */
int stage__node_find_encode(stage_pack_t *p, uint64_t call, const char *type,
                            bool all);
int stage__node_name_encode(stage_pack_t *p, uint64_t call, const char *name,
                            const stage_id_t *id);
/* MONITOR or DEMONITOR (the kind says which; the body is the same). */
int stage__node_watch_encode(stage_pack_t *p, uint64_t mon,
                             const stage_id_t *to);
/* message is cut at STAGE__NODE_DOWN_MESSAGE_MAX bytes. */
int stage__node_down_encode(stage_pack_t *p, uint64_t mon, uint64_t serial,
                            int status, const char *message);
/* why is cut at STAGE__NODE_WHY_MAX bytes. */
int stage__node_death_encode(stage_pack_t *p, const char *addr,
                             uint32_t incarnation, uint64_t manager,
                             const char *why);
/* MOVE from m (home, at packed when has_home, has_at; where, data when
** not NULL). The encoder does not check what the op needs. */
int stage__node_move_encode(stage_pack_t *p, const stage__node_move_t *m);
/* PICK's answer: [n, id] (n >= 1). */
int stage__node_pick_answer_encode(stage_pack_t *p, uint64_t n,
                                   const stage_id_t *id);
/* FIND's answer with all: an array of the n ids already packed in ids. */
int stage__node_ids_encode(stage_pack_t *p, uint32_t n, const char *ids,
                           size_t len);

/* ---- decoders: 0 or STAGE_EDECODE -------------------------------------- */

/* MSG, or with stop a STOP. On STAGE_EDECODE m->answerable says whether
** call and target were read (then the method or the arguments were bad). */
int stage__node_msg_decode(stage__node_msg_t *m, const char *body, size_t len,
                           bool stop);
int stage__node_reply_decode(stage__node_reply_t *r, const char *body,
                             size_t len);
/* The call of a MSG body our own encoder made, read without checking the
** rest (counting the frames a session gave back): 0 and *call, or
** STAGE_EDECODE. Not for bodies from the network. */
int stage__node_msg_call(const char *body, size_t len, uint64_t *call);
/* The [message, actor, traceback] of a failed REPLY's value (never fails:
** what is not a string is absent). */
void stage__node_failure_decode(stage__node_failure_t *f, const char *value,
                                size_t len);
int stage__node_spawn_decode(stage__node_spawn_t *s, const char *body,
                             size_t len);
/* FIND, or with pick a PICK. */
int stage__node_find_decode(stage__node_find_t *f, const char *body, size_t len,
                            bool pick);
int stage__node_name_decode(stage__node_name_t *n, const char *body,
                            size_t len);
int stage__node_watch_decode(stage__node_watch_t *w, const char *body,
                             size_t len);
int stage__node_down_decode(stage__node_down_t *d, const char *body,
                            size_t len);
int stage__node_death_decode(stage__node_death_t *d, const char *body,
                             size_t len);
/* MOVE: every field checked, and that the op has what it needs. */
int stage__node_move_decode(stage__node_move_t *m, const char *body,
                            size_t len);
/* PICK's answer [n, id]: n >= 1 and a valid id. */
int stage__node_pick_answer_decode(uint64_t *n, stage_id_t *id,
                                   const char *value, size_t len);
/* FIND's answer with all: an array of *n ids, each a valid id and nothing
** else; *ids, *ilen: the ids' bytes (borrowed), to append elsewhere. */
int stage__node_ids_decode(uint32_t *n, const char **ids, size_t *ilen,
                           const char *value, size_t len);

/* A status from the network as the node reports it: an unknown code in
** the accepted range becomes STAGE_EHANDLER. */
int stage__node_status_known(int status);

#endif
