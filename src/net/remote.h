/*
** net/remote.h: the I/O loop of a networked node (remote.c), its directory
** driver (rdir.c: the DHT manager and lookups through it) and what the
** node holds in the DHT for itself (rhome.c).
** Internal; everything here runs on the loop's owner unless noted: the
** I/O thread until the node starts, then theatre 0 (see remote.c).
*/
#ifndef STAGE_NET_REMOTE_H
#define STAGE_NET_REMOTE_H

#include <stdbool.h>
#include <string.h>
#include <uv.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/netif.h"
#include "core/node.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "transport.h"
#include "dht/dht.h"
#include "stage/net.h"
#include "util/u64map.h"

enum {
    FRAME_MSG = STAGE__NET_KIND_USER,
    FRAME_REPLY,
    FRAME_SPAWN,
    FRAME_FIND,
    FRAME_DHT,
    FRAME_NAME,
    FRAME_STOP,
    FRAME_PICK
};

enum { IO_MSG = 1, IO_REPLY, IO_SPAWN, IO_DIR, IO_ANNOUNCE, IO_GONE, IO_STOP };

typedef struct io_item {
    stage__mpsc_node_t link;
    int kind;
    stage_id_t to;              /* IO_MSG target, IO_DIR id */
    stage__env_t *e;            /* IO_MSG */
    stage__future_t *f;         /* IO_REPLY: done; else: to complete */
    int op;                     /* IO_DIR */
    int theatre;                /* IO_SPAWN */
    char where[STAGE_ADDR_MAX]; /* IO_SPAWN node */
    char key[256];              /* IO_DIR key, IO_SPAWN/IO_ANNOUNCE type */
    char super[STAGE_TYPE_MAX]; /* IO_ANNOUNCE */
    char *args;                 /* IO_SPAWN */
    size_t len;
} io_item_t;

struct io;

/* A call waiting for its REPLY: it completes f, or, with cb, calls
** cb(io, arg, status, value, len) (value: the reply, or the error message).
*/
typedef void (*stage__call_cb)(struct io *io, void *arg, int status,
                               const char *value, size_t len);
typedef struct call {
    stage__future_t *f;
    stage__call_cb cb;
    void *arg;
    char peer[STAGE_ADDR_MAX];
    uint64_t deadline; /* loop ms */
} call_t;

/* The reply owed to a remote caller (stage__future_t.on_done_arg). */
typedef struct owed {
    char peer[STAGE_ADDR_MAX];
    uint64_t call;
    struct io *io;
} owed_t;

/* A frame waiting for a full peer queue to drain. */
typedef struct held {
    struct held *next;
    int kind;
    size_t len;
    char peer[STAGE_ADDR_MAX];
    char body[];
} held_t;

typedef struct io {
    stage_node_t *node;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t dht_timer, sweep, stop_timer, poll_timer;
    uv_signal_t sigterm, sigint;
    uv_thread_t thread;
    stage__mpsc_t inbox;
    stage_pack_t reply_buf; /* REPLY bodies, packed on the loop's owner */
    atomic_bool closing;
    atomic_bool joined;   /* the manager is a member of a ring */
    atomic_bool handover; /* theatre 0 asks the I/O thread for the loop */
    /* theatre 0 once it runs the loop, else NULL: on its thread, work is
    ** done at once instead of going through the inbox */
    _Atomic(stage__theatre_t *) owner;
    bool loop_done;    /* the loop stopped for good */
    uint64_t activity; /* frames and items handled: polls compare it */
    stage__transport_t *tr;
    stage_dht_t *dht;
    stage_u64map_t calls;    /* call id -> call_t */
    stage_u64map_t reqs;     /* DHT request id -> lookup_t */
    struct lookup *asks;     /* lookups with subtypes to ask (rdir.c) */
    stage_u64map_t names;    /* name key -> cached id (rdir.c) */
    stage_u64map_t claims;   /* name key -> name this node claimed */
    atomic_int nclaims;      /* how many: actor_gone skips work at 0 */
    struct announced *types; /* types this node is registered for (rdir.c) */
    int ntypes, captypes;
    stage_u64map_t byes; /* leaving: removals not yet confirmed (rdir.c) */
    uv_timer_t leave_timer;
    bool leaving, left;
    uint64_t next_id;
    uint64_t call_timeout; /* ms */
    held_t *held_head, *held_tail;
    char address[STAGE_ADDR_MAX];
    uint64_t manager;
    bool signals;
} io_t;

/* Copy a peer address into a STAGE_ADDR_MAX buffer (snprintf costs more
** than a whole message on the hot path). */
static inline void stage__addr_copy(char *dst, const char *src) {
    size_t n = strnlen(src, STAGE_ADDR_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* remote.c */
/* A target on this node as a MSG or NAME frame carries it: incarnation,
** serial, type (the node is the receiver). Reading fills to->node with
** this node's address; 0 or STAGE_EDECODE. */
int stage__io_read_target(io_t *io, stage_unpack_t *u, stage_id_t *to);
void stage__io_pack_target(stage_pack_t *p, const stage_id_t *to);
/* The type of id if it names an actor type of this node; else NULL, and
** the call (if any) is answered ActorNotFound. */
stage__type_t *stage__io_local_target(io_t *io, const char *peer, uint64_t call,
                                      const stage_id_t *id);
/* The manager has left the ring: stop once the goodbyes are out. */
void stage__io_left(io_t *io);
int stage__io_send_frame(io_t *io, const char *peer, int kind, const char *body,
                         size_t len);
/* Open a call to peer answered through cb (f NULL). Returns its id or 0. */
uint64_t stage__io_call_cb(io_t *io, const char *peer, stage__call_cb cb,
                           void *arg);
/* A future whose completion is sent to peer as the reply to call. */
stage__future_t *stage__io_owed(io_t *io, const char *peer, uint64_t call,
                                uint64_t target);
void stage__io_reply_error(io_t *io, const char *peer, uint64_t call,
                           int status, const char *msg);

/* rdir.c */
/* Send the manager's effects and rearm its timer: after every DHT call. */
void stage__rdir_drain(io_t *io);
/* The key of a name in the name cache and the claims (not 0). */
uint64_t stage__rdir_name_key(const char *name);
/* A random nonzero 64-bit number (manager ids, seeds, picks). */
uint64_t stage__random64(void);
int stage__rdir_start(io_t *io, const stage_net_config_t *cfg, char *err,
                      size_t errlen);
void stage__rdir_close(io_t *io);
/* Forget cached names of actors on node peer (it died or restarted). */
void stage__rdir_forget_node(io_t *io, const char *peer);
/* The node at peer stopped or is unreachable: the manager forgets it. */
void stage__rdir_peer_gone(io_t *io, const char *peer);
int stage__rdir_in_dht(io_t *io, const char *peer, const char *body,
                       size_t len);
int stage__rdir_in_find(io_t *io, const char *peer, const char *body,
                        size_t len);
int stage__rdir_in_pick(io_t *io, const char *peer, const char *body,
                        size_t len);
/* A directory request from a theatre; takes it. */
void stage__rdir_lookup(io_t *io, io_item_t *it);

/* rhome.c */
/* Leave gracefully: remove this node's names and type registrations, then
** (once the DHT confirmed them, or after a second) leave the ring and call
** stage__io_left. Effects go out on the loop. */
void stage__rdir_leave(io_t *io);
int stage__rdir_in_name(io_t *io, const char *peer, const char *body,
                        size_t len);
void stage__rdir_announce(io_t *io, io_item_t *it);
/* Actor serial of this node stopped: release the names claimed for it
** (all of them with serial 0, before leaving). */
void stage__rdir_release(io_t *io, uint64_t serial);
/* Every half second: withdraw from the types this node has had no actor
** of for a while. */
void stage__rdir_sweep(io_t *io);
/* The DHT claimed name for id: released when id stops, if id is ours. */
void stage__rhome_claimed(io_t *io, const char *name, const stage_id_t *id);
/* Request req finished: if it was a removal we wait for to leave, note it. */
void stage__rhome_bye_done(io_t *io, uint64_t req);
void stage__rhome_close(io_t *io);

#endif
