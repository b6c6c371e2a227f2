/*
** session/session.h: the reliable session between this node and one
** incarnation of a peer — a pure state machine (no sockets, no clock, no
** libuv): time comes in as milliseconds, effects go out as return values
** and two hooks the driver supplies. src/net/ drives it over TCP; the
** simulator (tests/sim/session_sim.c) drives it over a simulated network.
**
** A session outlives TCP connections. Sending: each user frame gets the
** next sequence number (0, 1, ...) and is kept, bytes exactly as written,
** until the peer acknowledges it (a cumulative count). Receiving: frame
** `received` is taken, an earlier one is a duplicate (dropped and counted),
** a later one a gap (a protocol violation: the driver closes the
** connection, and the next one resumes). A new connection starts with a
** handshake in which each side says which incarnation of the other it has
** a session with and how many of its frames it has taken; the sender drops
** what was taken and resends the rest, in order, before anything new.
**
** States: UNBOUND (peer 0: frames may be queued for whoever answers) ->
** BOUND(inc) [a handshake from inc: hook up] -> UNBOUND [the session ends:
** hook end, with every frame not acknowledged; the session restarts empty
** for the next incarnation]. A session ends when the peer shows up with a
** new incarnation (STAGE_ESTOPPED), says goodbye (STAGE_ECANCELED), no
** longer knows the session (STAGE_ECANCELED, or STAGE_EPROTO when its
** counts contradict ours), is declared dead (STAGE_ENODE_DOWN: nothing
** heard for dead_after_ms; refused_limit connection attempts refused in a
** row; or news from elsewhere), or was never reached (STAGE_EUNREACHABLE,
** the driver's give-up policy for a peer without a session). Incarnations
** declared dead or replaced are remembered (quarantined): a later
** handshake from one is refused (the driver answers DEAD).
**
** Memory: frames live in chunks (about CHUNK bytes each, one frame per
** chunk when larger) appended to in place; a chunk handed to a write is
** pinned (no append, no free) until the driver releases it, so the written
** buffer itself is the resend store and no frame is copied twice. Fully
** acknowledged chunks are recycled.
** Not thread-safe: one owner (the transport's loop thread).
*/
#ifndef STAGE_SESSION_SESSION_H
#define STAGE_SESSION_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/pack.h"

/* Incarnations of one address remembered as dead. */
#define STAGE__SESSION_QUARANTINE 8
/* A reason text, as told in a DEAD frame or a log line. */
#define STAGE__SESSION_WHY_MAX 160

typedef struct stage__session stage__session_t;
typedef struct stage__session_chunk stage__session_chunk_t;

typedef struct stage__session_config {
    size_t max_bytes;       /* frames held (queued + unacknowledged) */
    size_t max_frame;       /* largest frame, header included */
    uint64_t dead_after_ms; /* silence that declares a peer dead */
    int refused_limit;      /* refused connects in a row that do too */
    size_t ack_bytes;       /* an ack owed for this many bytes goes now */
    uint64_t ack_ms;        /* ... and any ack owed within this */
} stage__session_config_t;

/* The frames of a session that were never acknowledged, oldest first
** (stage__session_iter_next). Valid during the end hook only. */
typedef struct stage__session_iter {
    const stage__session_chunk_t *chunk;
    size_t off;
    uint64_t seq, start, end;
} stage__session_iter_t;

typedef struct stage__session_hooks {
    void *ud;
    /* The session with incarnation inc ended for reason (why: a sentence
    ** for logs, "nothing heard from it for 10000 ms"); lost lists the
    ** count frames sent and not acknowledged (their fate is unknown: each
    ** may or may not have been delivered). The session is already empty
    ** and unbound: the hook may append frames (they go to whoever answers
    ** next). */
    void (*end)(void *ud, stage__session_t *s, uint32_t inc, int reason,
                const char *why, uint64_t count, stage__session_iter_t *lost);
} stage__session_hooks_t;

/* A range of bytes to write, inside a pinned chunk. */
typedef struct stage__session_span {
    stage__session_chunk_t *chunk;
    const char *data;
    size_t len;
} stage__session_span_t;

/* What a handshake from the peer means (stage__session_greeted). */
enum {
    STAGE__SESSION_RESUMED = 0, /* the same session goes on */
    STAGE__SESSION_NEW = 1,     /* a session with a new incarnation began */
    STAGE__SESSION_DEAD = 2,    /* that incarnation is quarantined: refuse */
    STAGE__SESSION_STALE = 3,   /* an older handshake than one already read:
                                ** close its connection, change nothing */
    STAGE__SESSION_LEFT = 4     /* that incarnation said goodbye and is
                                ** stopping: close, start nothing */
};

struct stage__session {
    stage__session_config_t cfg;
    stage__session_hooks_t hooks;
    uint32_t self; /* this node's incarnation */
    uint32_t peer; /* the incarnation the session is with; 0: unbound */
    /* sending: frames [acked, next) in chunks head..tail, oldest first */
    stage__session_chunk_t *head, *tail, *spare;
    stage__session_chunk_t *wchunk; /* chunks before it are all taken */
    int nspare;
    uint64_t next, acked;
    uint64_t sent; /* frames ever handed to a connection (a high-water) */
    size_t bytes;  /* of the chunks held */
    /* receiving */
    uint64_t received, ack_sent;
    size_t owed_bytes;   /* taken since the last ack */
    uint64_t owed_since; /* when the first of them came */
    uint64_t duplicates; /* dropped: earlier than received */
    uint64_t greeted;    /* the number of the last handshake read from peer */
    /* failure detection */
    uint64_t heard; /* the last time anything came from peer */
    int refused;    /* connects refused in a row */
    struct {
        uint32_t inc;
        char why[STAGE__SESSION_WHY_MAX];
    } dead[STAGE__SESSION_QUARANTINE];
    int ndead; /* entries used; the oldest is replaced past the end */
    int dead_next;
    uint32_t left; /* the last incarnation that said goodbye */
};

/* Defaults: max_bytes 32 MiB, max_frame 8 MiB, dead_after_ms 10000,
** refused_limit 2, ack_bytes 64 KiB, ack_ms 20. */
void stage__session_config_init(stage__session_config_t *cfg);

/* Start s empty and unbound for this node's incarnation self. cfg and
** hooks are copied. */
void stage__session_init(stage__session_t *s,
                         const stage__session_config_t *cfg,
                         const stage__session_hooks_t *hooks, uint32_t self);
/* Free s's memory; no hook is called. Chunks still pinned are freed when
** released (stage__session_release). */
void stage__session_close(stage__session_t *s);

/* ---- sending ---------------------------------------------------------- */

/* Append one user frame (kind, body[0..len)), header and body as the wire
** carries them. 0, STAGE_EBUSY (would pass max_bytes: nothing appended),
** STAGE_ETOOBIG (the frame would pass max_frame) or STAGE_ENOMEM. */
int stage__session_append(stage__session_t *s, int kind, const void *body,
                          size_t len);
/* 1 if frames wait to be written on the current connection. */
bool stage__session_unsent(const stage__session_t *s);
/* The next bytes to write on the current connection, as up to max spans
** in order; each chunk is pinned until stage__session_release. *frames
** gets the number of frames in them. Returns the number of spans. */
size_t stage__session_take(stage__session_t *s, stage__session_span_t *spans,
                           size_t max, uint64_t *frames);
/* A write that pointed into c is over (done, failed or abandoned). */
void stage__session_release(stage__session_t *s, stage__session_chunk_t *c);
/* The peer has taken n frames (a cumulative ack). 0, or STAGE_EPROTO if n
** passes what was sent (the driver closes the connection). */
int stage__session_acked(stage__session_t *s, uint64_t n);
/* Bytes held: queued and unacknowledged. */
size_t stage__session_bytes(const stage__session_t *s);
/* Frames sent or queued and not acknowledged. */
uint64_t stage__session_unacked(const stage__session_t *s);

/* ---- receiving -------------------------------------------------------- */

/* Frame seq of len bytes arrived at now: 1 take it (deliver), 0 a
** duplicate (drop), STAGE_EPROTO a gap (close the connection). */
int stage__session_received(stage__session_t *s, uint64_t seq, size_t len,
                            uint64_t now);
/* 1 and *n (the cumulative count to send) if an ACK should go now: one is
** owed for ack_bytes or ack_ms, or, writing (data goes anyway, so it rides
** along), for half of either. The ack then counts as sent. Else 0. */
int stage__session_ack(stage__session_t *s, uint64_t now, bool writing,
                       uint64_t *n);
/* 1 and *n if an ack is owed, due or not (a goodbye acknowledges all it
** took, so that the peer gives back nothing that arrived); it then counts
** as sent. Else 0. */
int stage__session_ack_all(stage__session_t *s, uint64_t *n);
/* 1 if an ack is owed (not yet due: the driver comes back within ack_ms). */
bool stage__session_ack_owed(const stage__session_t *s);

/* ---- connections and the failure detector ------------------------------ */

/* The fields of this node's handshake: the peer incarnation of the session
** (0: none) and how many of its frames were taken. */
void stage__session_hello(const stage__session_t *s, uint32_t *known,
                          uint64_t *received);
/* 1 if a handshake numbered number (its sender counts the handshakes it
** sends) from incarnation inc is older than one already read from it: it
** was sent on a connection its sender has since given up (two nodes that
** dial each other at once keep one connection; the other's handshake may
** still arrive). The driver closes that connection and changes nothing
** else: acting on it would replace a live connection, or end a live
** session, on stale news. */
bool stage__session_stale(const stage__session_t *s, uint32_t inc,
                          uint64_t number);
/* A handshake numbered number came at now from incarnation inc, which has
** a session with incarnation known of this node (0: none) and took
** received of its frames. Ends the session if inc replaced its incarnation
** or the two views disagree (hook end), binds inc, and moves the sender to
** resend from the first frame the peer lacks. STAGE__SESSION_RESUMED or
** _NEW; STAGE__SESSION_DEAD (inc is quarantined: refuse it; why says what
** declared it dead), _STALE (see stage__session_stale) or _LEFT (inc said
** goodbye: see stage__session_goodbye), changing nothing. */
int stage__session_greeted(stage__session_t *s, uint32_t inc, uint32_t known,
                           uint64_t received, uint64_t number, uint64_t now,
                           char *why, size_t whylen);
/* Anything (bytes, a frame, a ping) came from the bound peer at now. */
void stage__session_heard(stage__session_t *s, uint64_t now);
/* A connection attempt was refused (nothing listens at the address). 1 if
** that declared the bound peer dead (hook end, STAGE_ENODE_DOWN), else 0
** (also when unbound: the driver's give-up policy applies). */
int stage__session_refused(stage__session_t *s);
/* A connection attempt failed otherwise, or one succeeded: the refusals
** are no longer in a row. */
void stage__session_not_refused(stage__session_t *s);
/* Check the silence at now: 1 if the bound peer was declared dead (hook
** end, STAGE_ENODE_DOWN), else 0. */
int stage__session_tick(stage__session_t *s, uint64_t now);
/* Quarantine incarnation inc (why: a sentence) and end the session if it
** is bound to inc (STAGE_ENODE_DOWN). 1 if a session ended. */
int stage__session_declare_dead(stage__session_t *s, uint32_t inc,
                                const char *why);
/* End the session for reason (STAGE_ECANCELED: the peer said goodbye;
** STAGE_EUNREACHABLE: never reached), even unbound (the frames queued
** are given back). Incarnations are not quarantined. */
void stage__session_end(stage__session_t *s, int reason, const char *why);
/* The peer said goodbye (it stops): end the session (STAGE_ECANCELED,
** why). Its incarnation never comes back; a handshake from it while it
** finishes stopping starts no new session (STAGE__SESSION_LEFT), but is
** not refused as dead either: a node that left stops with its own exit
** status. */
void stage__session_goodbye(stage__session_t *s, const char *why);
/* 1 if incarnation inc said goodbye. */
static inline bool stage__session_has_left(const stage__session_t *s,
                                           uint32_t inc) {
    return inc && inc == s->left;
}
/* 1 if inc is quarantined (why, if not NULL, gets the reason). */
bool stage__session_is_dead(const stage__session_t *s, uint32_t inc,
                            const char **why);
/* The incarnation of the session, 0 if unbound. */
static inline uint32_t stage__session_peer(const stage__session_t *s) {
    return s->peer;
}

/* The next frame of lost: 1 and its kind and body (borrowed), or 0 at the
** end. */
int stage__session_iter_next(stage__session_iter_t *it, int *kind,
                             const char **body, size_t *len);

#endif
