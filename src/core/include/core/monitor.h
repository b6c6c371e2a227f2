/*
** core/monitor.h: monitors — an actor watching another actor end (Erlang's
** monitor, Akka's DeathWatch) or other nodes go down and come up — for
** every kind of actor (the C API and Lua build on these).
**
** Two sides, each kept by a theatre and touched by its thread only:
**   - the watcher's theatre holds its monitors (stage__monitor_t), each
**     with an id unique in the node (a counter << 8 | the theatre), by
**     which cancels, DOWNs and node events find it;
**   - the target's theatre holds the watches on each of its actors: the
**     id of a local watcher's monitor, or a remote one's with the address
**     and incarnation of the watcher's node.
** When an actor stops, each watch on it becomes a DOWN for its monitor:
** posted to the watcher's theatre, or sent through the network hook
** (a DOWN frame); a watcher's theatre runs the monitor's function once,
** as a turn of the watcher (an ENV_CALL in its mailbox, never during a
** handler), and forgets the monitor. A DOWN follows the messages the
** target sent the watcher before it stopped. A cancel, or the watcher
** stopping, forgets monitors at once (a turn already queued does not
** run) and tells the target's side to drop their watches.
**
** States of a monitor of an actor: PENDING (waiting for its far
** reference's lookup) -> SET [the lookup gave an id; the watch is asked
** for] -> gone [its turn ran, cancel, or its watcher stopped]. A monitor
** of nodes (MON_NODE_DOWN/UP) is SET until cancelled or its watcher stops,
** and fires for each event.
*/
#ifndef STAGE_CORE_MONITOR_H
#define STAGE_CORE_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__actor stage__actor_t;
typedef struct stage__future stage__future_t;
typedef struct stage__monitor stage__monitor_t;
typedef struct stage__monitors stage__monitors_t; /* a theatre's (monitor.c) */

enum { MON_ACTOR = 1, MON_NODE_DOWN, MON_NODE_UP };
enum { MON_PENDING = 1, MON_SET };

/* What a monitor's turn is told. */
typedef struct stage__down {
    const stage_id_t *target; /* MON_ACTOR: the actor watched */
    int reason;               /* MON_ACTOR: 0 (it stopped), or STAGE_E* */
    const char *message;      /* MON_ACTOR, reason != 0: what happened */
    const char *address;      /* MON_NODE_*: the node */
    uint32_t incarnation;     /* MON_NODE_*: its incarnation */
} stage__down_t;

/* A monitor's function: runs as a turn of its watcher a. */
typedef void (*stage__monitor_fn)(stage__theatre_t *t, stage__actor_t *a,
                                  stage__monitor_t *m, const stage__down_t *d);

struct stage__monitor {
    uint64_t id;
    uint64_t watcher;                  /* serial */
    int kind;                          /* MON_* */
    int state;                         /* MON_PENDING or MON_SET */
    stage_id_t target;                 /* MON_ACTOR once SET */
    stage__future_t *lookup;           /* PENDING: the far reference's (held) */
    stage__monitor_fn fn;              /* the turn */
    void (*drop)(stage__monitor_t *m); /* forgotten: release arg (or NULL) */
    void *arg;
    /* fn and arg mean the same on every theatre of the node (a C actor's:
    ** a function and pointers of this process): a MON_ACTOR monitor that
    ** is SET moves with its watcher (stage__monitors_take_own) */
    bool travels;
    stage__monitor_t *prev, *next; /* the watcher's monitors */
};

/* Watch actor target for actor a of theatre t (t's thread): fn runs once,
** as a turn of a, when the target stops (reason 0, or the failure it
** stopped with; Stopped when its node stops), its node is declared dead
** (NodeDown), or at once if it is not there (ActorNotFound; NodeUnreachable
** for another node's actor on a node without a network). drop and arg as
** in stage__monitor_t. The monitor, owned by t, or NULL (ENOMEM: nothing
** is set, drop not called). */
stage__monitor_t *stage__monitor_actor(stage__theatre_t *t, stage__actor_t *a,
                                       const stage_id_t *target,
                                       stage__monitor_fn fn,
                                       void (*drop)(stage__monitor_t *),
                                       void *arg);
/* The same for the actor a lookup (a future of an id, borrowed: a far
** reference) gives, once it does; a failed lookup fires fn with its
** failure (NameNotFound, ...). */
stage__monitor_t *stage__monitor_far(stage__theatre_t *t, stage__actor_t *a,
                                     stage__future_t *lookup,
                                     stage__monitor_fn fn,
                                     void (*drop)(stage__monitor_t *),
                                     void *arg);
/* Watch nodes (kind MON_NODE_DOWN or MON_NODE_UP) for a: fn runs as a turn
** of a at each such event (stage__monitor_node_down/up), until cancelled. */
stage__monitor_t *stage__monitor_node(stage__theatre_t *t, stage__actor_t *a,
                                      int kind, stage__monitor_fn fn,
                                      void (*drop)(stage__monitor_t *),
                                      void *arg);
/* Cancel monitor id of actor a (t's thread): its function does not run
** again, not even a turn already queued. 0, also when it has fired or been
** cancelled already; STAGE_EINVAL for an id never given out on t, or
** another actor's. */
int stage__monitor_cancel(stage__theatre_t *t, stage__actor_t *a, uint64_t id);

/* Stop a after its current turn with a failure (code, message copied):
** its watchers are told that reason instead of a normal stop. The first
** failure given is kept. t's thread. */
void stage__actor_fail(stage__theatre_t *t, stage__actor_t *a, int code,
                       const char *message);

/* Actor a stops (stage__actor_destroy, after its death ran): tell its
** watchers, drop its own monitors. t's thread. */
void stage__monitors_actor_gone(stage__theatre_t *t, stage__actor_t *a);
/* What actor serial of t is bound by: 0, or STAGE__MON_OWN (monitors of
** its own that cannot move: a Lua actor's, watches of nodes, one still
** looking its actor up, one of another node's actor; core/image.h), or
** STAGE__MON_OWN_TRAVELS (its own that move with it,
** stage__monitors_take_own), or STAGE__MON_WATCHED (others watch it, or a
** failure of it is recorded for its watchers: the watches follow it,
** stage__monitors_take_watches), or several of them. t's thread. */
#define STAGE__MON_OWN 1
#define STAGE__MON_WATCHED 2
#define STAGE__MON_OWN_TRAVELS 4
int stage__monitors_bind(stage__theatre_t *t, uint64_t serial);
/* An actor that moves inside the node takes the watches on it along
** (core/move.h): take them from t, where it leaves (an opaque list, NULL
** if none; t's thread), give them to t where it arrived, before any turn
** of a there (t's thread; without memory its watchers are told so, with
** OutOfMemory), or drop them (the node stops: the list is freed, nobody
** told). The watchers keep their monitors where they are: a DOWN finds
** them as before. */
void *stage__monitors_take_watches(stage__theatre_t *t, uint64_t serial);
void stage__monitors_give_watches(stage__theatre_t *t, stage__actor_t *a,
                                  void *watches);
void stage__monitors_drop_watches(void *watches);
/* The same for an actor's own monitors that travel (all of them, once
** stage__monitors_bind says no STAGE__MON_OWN): its MON_ACTOR monitors,
** which keep their ids. The theatre that gave an id out sends a DOWN for
** it on after the watcher (through its birth theatre, as messages go);
** without memory at t a monitor is cancelled, logged. */
void *stage__monitors_take_own(stage__theatre_t *t, uint64_t serial);
void stage__monitors_give_own(stage__theatre_t *t, stage__actor_t *a,
                              void *own);
void stage__monitors_drop_own(void *own);
/* Free t's monitor state (teardown, after its actors went). */
void stage__monitors_free(stage__theatre_t *t);

/* ---- from the network (the loop's thread) -------------------------------
** peer is the node a frame came from (its address; peer_inc its
** incarnation, 0 if unknown). */

/* A MONITOR frame: a monitor mon of node peer watches target, an actor of
** this node (its id checked by the caller). Not there: a DOWN of
** ActorNotFound goes back. */
void stage__monitor_remote_watch(stage_node_t *node, const stage_id_t *target,
                                 const char *peer, uint32_t peer_inc,
                                 uint64_t mon);
/* A DEMONITOR frame: peer's monitor mon no longer watches target. */
void stage__monitor_remote_unwatch(stage_node_t *node, const stage_id_t *target,
                                   const char *peer, uint64_t mon);
/* A DOWN frame: the actor serial of node peer, watched by monitor mon of
** this node, stopped with reason (0 or STAGE_E*) and message. 0, or
** STAGE_EDECODE if mon cannot be one of this node's (the caller logs). */
int stage__monitor_remote_down(stage_node_t *node, const char *peer,
                               uint64_t mon, uint64_t serial, int reason,
                               const char *message);
/* Node address's incarnation inc (0: every incarnation there) is dead:
** monitors of actors there fire with NodeDown (message says why), watches
** of watchers there are dropped, and, if up_inc is not 0 (the incarnation
** that was up), the MON_NODE_DOWN monitors fire with it. */
void stage__monitor_node_down(stage_node_t *node, const char *address,
                              uint32_t inc, uint32_t up_inc,
                              const char *message);
/* Node address's incarnation inc connected, new to this node: the
** MON_NODE_UP monitors fire. */
void stage__monitor_node_up(stage_node_t *node, const char *address,
                            uint32_t inc);

#endif
