/*
** core/actor.h: actors — state, mailbox, flags — and their lifecycle:
** serials, spawn, stop, destroy. An actor is owned by its theatre; other
** threads hold only ids.
*/
#ifndef STAGE_CORE_ACTOR_H
#define STAGE_CORE_ACTOR_H

#include <stdint.h>

#include "core/envelope.h"
#include "core/kind.h"
#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__actor stage__actor_t;
typedef struct stage__type stage__type_t;

#define STAGE_THEATRE_BITS 8 /* serial = counter << 8 | birth theatre */

enum {
    ACTOR_QUEUED = 1,    /* on the run queue */
    ACTOR_SUSPENDED = 2, /* a turn is suspended (await or preempted) */
    ACTOR_READY = 4,     /* the suspended turn may continue */
    ACTOR_STOPPING = 8,  /* stop after this turn */
    ACTOR_DEAD = 16,
    ACTOR_BORN = 32,    /* C: its birth ran, so its death runs */
    ACTOR_RESTART = 64, /* a turn failed: restart it after the turn */
    ACTOR_FAILED = 128, /* stopping because a turn failed (on_error) */
    ACTOR_MOVING = 256, /* takes no message: a move waits (core/move.h) */
    ACTOR_MOVED = 512,  /* arrived by a move: no local fast path (route) */

    /* moved out, kept until its import elsewhere is done: it takes
    ** nothing (core/move.h) */
    ACTOR_LEAVING = 1024,
    /* its arrived hook runs: a move it asks waits (core/move.h) */
    ACTOR_ARRIVING = 2048,
    ACTOR_PLACED = 4096,  /* spawned at a named theatre: never stolen */
    ACTOR_NOSTEAL = 8192, /* its state cannot travel: not stolen again */
    /* an actor of its theatre sent it a message since steal.c last looked
    ** (SPOKEN), or more than one (TALKED: it stays, in a conversation) */
    ACTOR_SPOKEN = 16384,
    ACTOR_TALKED = 32768, /* ACTOR_SPOKEN << 1 */
    /* its messages took long the last time they were timed (LONG), and
    ** the time before too (HEAVY: a conversation does not keep it;
    ** steal.c) */
    ACTOR_LONG = 65536,
    ACTOR_HEAVY = 131072, /* ACTOR_LONG << 1 */
    /* coupled with the actor of the serial before its own (PAIR_PREV) or
    ** after it (PAIR_NEXT): stolen with it or not at all (steal.c) */
    ACTOR_PAIR_PREV = 262144,
    ACTOR_PAIR_NEXT = 524288,
    ACTOR_PICKED = 1048576 /* chosen to go, within a hand-over (steal.c) */
};

/* A serial's neighbours on its theatre: the serials reserved just before
** and just after it there. */
#define STAGE__SERIAL_STEP ((uint64_t)1 << STAGE_THEATRE_BITS)

/* What an actor of a RESTART type keeps to be born again (onerror.c). */
typedef struct stage__restart stage__restart_t;

/* A send queued behind an unresolved future or lookup (core/pipeline.h). */
typedef struct stage__deferred stage__deferred_t;

struct stage__actor {
    stage__actor_t *run_next; /* run queue link */
    stage__env_t *mbox_head;  /* mailbox: theatre-local FIFO */
    stage__env_t *mbox_tail;
    uint64_t serial;
    stage__type_t *type;
    stage__theatre_t *theatre;
    uint32_t flags;
    stage__env_t *current;       /* message of the suspended turn */
    stage__deferred_t *deferred; /* pipelined sends waiting on futures */
    void *data;        /* its kind's data (type->data_size bytes, zeroed, after
                       ** the actor; NULL if 0): a C actor's state, a Lua
                       ** actor's refs */
    double spent;      /* seconds the current message has run */
    uint32_t dir_slot; /* index in type->serials */
    stage__restart_t *restart; /* RESTART types: after data, else NULL */
    struct stage__move *move;  /* a move waiting for its turn to end */
};

/* Reserve a serial on theatre t. Any thread. */
uint64_t stage__serial_reserve(stage__theatre_t *t);
/* Create an actor with a reserved serial on theatre t (t's thread), whose
** birth message will be birth (borrowed; NULL: it has none), which a type
** that restarts keeps a copy of. NULL on ENOMEM. */
stage__actor_t *stage__actor_new(stage__theatre_t *t, stage__type_t *type,
                                 uint64_t serial, const stage__env_t *birth);
stage__actor_t *stage__actor_find(stage__theatre_t *t, uint64_t serial);
/* Spawn an actor of type on theatre (-1: placed by place.c if the type is
** mobile and the caller a theatre of node, else the calling theatre, or 0
** from outside). Its birth message carries args (msgpack array). The serial is
** known at once; the actor exists by the time any message sent after this
** call reaches its theatre. 0, STAGE_EINVAL (no such theatre),
** STAGE_ETOOBIG (args past the node's max_message) or STAGE_ENOMEM. Any
** thread. */
int stage__spawn(stage_node_t *node, stage__type_t *type, int theatre,
                 const void *args, size_t len, uint64_t *serial);
/* Mark a to stop after its current turn (t's thread). */
void stage__actor_stop(stage__theatre_t *t, stage__actor_t *a);
/* Remove a now: run its type's destroy, fail its queued messages (t's
** thread, a not in a turn). */
void stage__actor_destroy(stage__theatre_t *t, stage__actor_t *a);
/* Remove a from t and free it, and nothing else: no death, no monitor,
** no name dropped, its mailbox left to the caller (empty). For an actor
** that left in an image (core/image.h) or never came to life. t's
** thread. */
void stage__actor_unlist(stage__theatre_t *t, stage__actor_t *a);
/* The node stopped: destroy t's live actors, running their deaths, the
** youngest first, until the node's stop deadline (t's thread). */
void stage__actors_reap(stage__theatre_t *t);
/* At node teardown: destroy every actor of t (no death runs). */
void stage__actors_destroy_all(stage__theatre_t *t);
/* ---- core/onerror.c: what a failed turn leaves behind ---- */
/* Bytes an actor of type needs past its data to be restarted with birth's
** arguments (0 unless the type restarts). */
size_t stage__restart_size(const stage__type_t *type,
                           const stage__env_t *birth);
/* Keep what birth carries in mem (stage__restart_size bytes) for a's
** restarts. */
void stage__restart_init(stage__actor_t *a, void *mem,
                         const stage__env_t *birth);
/* Release what a's restarts hold (a is being destroyed). */
void stage__restart_free(stage__actor_t *a);
/* The turn a runs on t failed (a Lua error, stage_fail) with code (a
** STAGE_E* code, the typed error a call to it got) and why; birth: the
** turn was a's birth. Applies the type's on_error, with a log line: KEEP
** does nothing, STOP marks a stopping and tells its monitors code and why
** (stage__actor_fail), RESTART marks it ACTOR_RESTART (or stops it so: a
** birth, or past the restart limit). Does nothing for a stopping, dead or
** already failed actor. t's thread. */
void stage__actor_failed(stage__theatre_t *t, stage__actor_t *a, bool birth,
                         int code, const char *why);
/* Restart a, marked ACTOR_RESTART, between its turns: cancel its timers,
** run its death, zero its data and put its birth message first in its
** mailbox (or mark it stopping if that fails); the caller schedules it.
** t's thread. */
void stage__actor_restart(stage__theatre_t *t, stage__actor_t *a);

/* Write what a's restarts keep (nil for none) to p, for an image
** (core/image.h): birth's arguments and sender, and the times of the
** last restarts as ages at now. t's thread. */
void stage__restart_pack(stage_node_t *node, const stage__actor_t *a,
                         stage_pack_t *p, double now);
/* Give a (made with its birth from an image) its restart count and the
** ages of its last n restarts, oldest first, at now. 0 or STAGE_ENOMEM. */
int stage__restart_restore(stage__actor_t *a, uint32_t count,
                           const double *ages, uint32_t n, double now);

/* The id of actor serial of type on this node. */
void stage__make_id(stage_node_t *node, uint64_t serial,
                    const stage__type_t *type, stage_id_t *out);
static inline int stage__serial_theatre(uint64_t serial) {
    return (int)(serial & ((1u << STAGE_THEATRE_BITS) - 1));
}
/* 1 if id names an actor of this node (incarnation included). */
int stage__id_is_local(stage_node_t *node, const stage_id_t *id);
/* 1 if id names an actor of an earlier run of this node: its address, not
** its incarnation. Such an actor is gone (ActorNotFound). */
int stage__id_is_stale(stage_node_t *node, const stage_id_t *id);

#endif
