/*
** core/theatre.h: theatres — one thread each, with its own run queue,
** timers and actor table — and how work reaches them.
**
** A node owns T theatres. A theatre is one thread with its own run queue,
** timers, actor table and (when scripts are loaded) Lua state. Everything a
** theatre owns is touched only by its thread, except its inbox, which any
** thread pushes to (envelopes for its actors, completed futures, calls).
**
** Threads and ownership:
**   actor       owned by its theatre; other threads hold only ids
**   envelope    owned by whoever holds it; handed over on push
**   future      refcounted; its continuations belong to its owner theatre;
**               any thread may complete it (first completion wins)
**
** Quiescence: node->work counts busy theatres plus envelopes in flight
** between threads plus external holds. A theatre is busy while it has
** anything runnable or an armed timer. The count reaches zero only when no
** event can ever happen again; the theatre that takes it there stops the node.
*/
#ifndef STAGE_CORE_THEATRE_H
#define STAGE_CORE_THEATRE_H

#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/mpsc.h"
#include "core/timer.h"
#include "stage/stage.h"
#include "util/u64map.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__actor stage__actor_t;
typedef struct stage__env stage__env_t;
typedef struct stage__future stage__future_t;
typedef struct stage__timer stage__timer_t;

#define STAGE_MAX_THEATRES 256
#define STAGE_TURN_MESSAGES 100 /* messages per actor turn: fairness */

typedef struct stage__actor_table {
    stage__actor_t **slots; /* open addressing by serial; NULL or tombstone */
    uint32_t cap, count, used;
} stage__actor_table_t;

/* How a theatre that runs the node's I/O loop (src/net) waits: in the
** loop's poll instead of on its futex. Set by the net hook adopt, on the
** theatre's own thread, before it first sleeps. */
typedef struct stage__poller {
    /* Run the I/O that is ready, waiting up to timeout s for some (0: do
    ** not wait; < 0: until woken). Returns 1 if it did anything. */
    int (*poll)(void *ud, double timeout);
    /* End a poll from any thread. */
    void (*wake)(void *ud);
    void *ud;
} stage__poller_t;

/* The fields any thread touches sit apart from those only the theatre's
** own thread writes, each group on cache lines of its own: a sender that
** reads t->node must not pull in the line where t's run queue changes at
** every message. */
struct stage__theatre {
    stage__mpsc_t inbox;             /* any thread pushes */
    alignas(64) atomic_int sleeping; /* futex word: 1 while asleep */
    atomic_int ended; /* futex word: 1 once its thread's work is done */
    /* fixed before other threads see t (poller: before t first sleeps);
    ** any thread reads them */
    alignas(64) stage_node_t *node;
    int index;
    pthread_t thread;
    /* its thread's CPU clock, taken when it starts: the watchdog reads it
    ** while the thread may be ending, when its pthread_t may be gone */
    clockid_t cpu_clock;
    bool has_cpu_clock;
    stage__poller_t poller; /* poll NULL: sleeps on its futex */
    alignas(64) atomic_uint_fast64_t next_serial; /* any thread reserves */
    /* spawn placement (place.c), read by every spawning theatre: the load
    ** this theatre publishes (its run queue's length, plus the spawns
    ** others placed here since it last published), and 1 while the
    ** watchdog finds it stuck in one turn (node.c) */
    alignas(64) atomic_int load;
    atomic_int stuck;
    atomic_uint nactors; /* its actors, as of its last publication */
    /* steal.c: 1 while this theatre, idle, asks for work; the theatre that
    ** serves it takes it back to 0 */
    atomic_int hungry;
    /* the rest: this theatre's thread only, but for the preemption
    ** fields the watchdog reads (see below) */
    alignas(64) stage__actor_t *run_head, *run_tail;
    int nrun; /* actors on the run queue */
    /* place.c: where this theatre's spawns go now; since when it has had
    ** work queued (0: not yet seen), and whether that lasted long enough */
    int place_to;
    uint64_t last_spawn; /* the serial of its last spawn, or 0 */
    bool last_paired;    /* that one is coupled with the one before */
    double busy_since;   /* its thread's CPU time */
    unsigned probe;
    bool saturated;
    /* steal.c: since when (its CPU time, 0: not yet seen) it has had a
    ** backlog while another theatre was hungry; when it may look at its
    ** queue to give again */
    double backlog_since;
    double give_after;
    double probe_at;     /* when (stage__now) it last read its CPU clock */
    bool sliced;         /* a turn ran out its slice: long work, give at once */
    double light;        /* seconds a light message takes here (steal.c) */
    double heavy_at;     /* when (stage__now) an actor here was last heavy */
    unsigned looks;      /* steal looks taken (theatre.c: one in 8 weighs) */
    double preempted_at; /* when a turn here last ran out its slice */
    stage__actor_table_t actors;
    stage__timer_t **heap; /* timer min-heap */
    int nheap, capheap;
    uint64_t timer_seq;
    stage_u64map_t timer_ids; /* actor timers by id (timer.c) */
    uint64_t next_timer_id;
    /* monitor.c's; NULL until the theatre's first monitor or watch */
    struct stage__monitors *monitors;
    /* core/move.c's hubs: actors born here that are away or moving */
    stage_u64map_t hubs;
    /* ... and its machine for moves between nodes (node/hub.h), NULL
    ** until the theatre's first such move or step */
    struct stage__netmoves *netmoves;
    bool busy;               /* holds one unit of node->work */
    stage__actor_t *running; /* actor in a turn, or NULL */
    int turn_msgs; /* messages of running's turn so far (stage__turn_next) */
    /* the actor a deliver or resume went on to (stage__turn_switch), for
    ** run_actor, which clears it */
    stage__actor_t *switched;
    /* the last actor of run_queue's pass, NULL once it has run */
    stage__actor_t *pass_last;
    /* preemption: turn_seq and in_turn are written by this thread and read
    ** by the watchdog, which asks a theatre whose turn_seq has not moved for
    ** half a slice to preempt that turn by storing it in preempt_seq (then
    ** signals it); see stage__preempt_wanted */
    atomic_uint_fast64_t turn_seq; /* bumped at every message */
    atomic_int in_turn;            /* 1 between turn_begin and turn_end */
    /* the actor of that turn, for the watchdog's log of a stuck turn:
    ** stored before turn_seq is bumped (release), read after it */
    atomic_uint_fast64_t turn_serial;
    _Atomic(stage__type_t *) turn_type;
    /* the turn_seq of the turn the watchdog wants preempted */
    atomic_uint_fast64_t preempt_seq;
    /* each registered kind's data for this theatre, by slot (kind.h):
    ** set by the kind on this thread before its first turn here */
    void *kind_data[STAGE_KINDS_MAX];
    stage__env_t *env_cache[ENV_CLASSES]; /* free small envelopes */
    int nenv_cache[ENV_CLASSES];
    stage__future_t *fut_cache; /* free futures */
    int nfut_cache;
    /* node stop (stage__actors_reap): after it, no death runs; while a
    ** death runs, its actor, for the node's log if the theatre hangs */
    bool deaths_over;
    _Atomic(stage__type_t *) reaping_type;
    atomic_uint_fast64_t reaping; /* serial, or 0 */
};

/* The data of kind k for theatre t (a scan of the node's kinds: on a hot
** path use t->kind_data[type->slot]). t's thread. */
void *stage__theatre_kind_data(stage__theatre_t *t, const stage__kind_t *k);
/* Set it (k registered with t's node). t's thread, or before t starts. */
void stage__theatre_set_kind_data(stage__theatre_t *t, const stage__kind_t *k,
                                  void *data);

/* The theatre a spawn of a mobile actor from cur, with birth arguments
** args (a msgpack array of len bytes), goes to when the spawner names none
** (place.c). *pair: the spawn names cur's last spawn, which is in no pair
** itself: the two may be coupled (stage__place_spawned). cur's thread;
** never blocks. */
int stage__place(stage__theatre_t *cur, const void *args, size_t len,
                 bool *pair);
/* cur spawned the actor serial (paired: coupled with cur's spawn before
** it). cur's thread. */
static inline void stage__place_spawned(stage__theatre_t *cur, uint64_t serial,
                                        bool paired) {
    cur->last_spawn = serial;
    cur->last_paired = paired;
}
/* Publish t's load for the placement of others' spawns. t's thread. */
void stage__place_publish(stage__theatre_t *t);
/* t ran out of work: publish load 0 and forget how long it was busy. t's
** thread. */
void stage__place_idle(stage__theatre_t *t);
/* The node's load as its theatres last published it: *runnable the actors
** on their run queues, *actors the actors they hold. Any thread. */
void stage__place_node_load(stage_node_t *n, unsigned *runnable,
                            unsigned *actors);

/* Work stealing (steal.c). t is about to sleep with nothing to do: ask
** the others for work. t's thread. */
void stage__steal_ask(stage__theatre_t *t);
/* t woke up: it no longer asks. t's thread. */
void stage__steal_fed(stage__theatre_t *t);
/* Another theatre is hungry and t has a backlog: once that has lasted,
** move some of t's queued actors there. *last: the current pass's last
** actor (updated if it goes). t's thread, between turns. */
void stage__steal_give(stage__theatre_t *t, stage__actor_t **last);
/* a's turn, which ran while t looked for actors to give, took secs for
** turns messages (and resumes): note whether they are heavy (steal.c).
** t's thread. */
void stage__steal_weigh(stage__theatre_t *t, stage__actor_t *a, double secs,
                        uint64_t turns);

/* The next message of a's turn, for a kind that runs several in one
** deliver (lactor.c runs the messages queued for an actor in one resume
** of its coroutine): the one run_actor would deliver next, taken off a's
** mailbox, counted in the turn and begun (stage__turn_begin), or NULL
** where run_actor would look first: the turn's length reached, a stop,
** restart or move of a, the node stopping, or a message that is not a
** plain one (a system message, an update, an order to stop). t's thread,
** inside a's deliver or resume. */
stage__env_t *stage__turn_next(stage__theatre_t *t, stage__actor_t *a);

/* When a's turn has no next message (stage__turn_next is NULL): the actor
** run_actor would run next, if the turn may go on to it in the same
** deliver: the first on the run queue, of a's kind, neither suspended nor
** stopping, restarting or moving, nor heavy (a message of its costs far
** more than the call saved, and it must be looked at by steal.c between
** turns), with a plain message first; and a neither stopping, restarting
** nor moving. NULL otherwise, and while t has a backlog another theatre
** may steal from (the pass between actors gives it away). A run of one
** kind's actors, each handing the next a message (a ring, a ping-pong),
** then costs a call each rather than a pass of the theatre and a
** deliver. t's thread, inside a's deliver or resume. */
stage__actor_t *stage__turn_after(stage__theatre_t *t, const stage__actor_t *a);
/* Go on to b (stage__turn_after's): a's turn ends, b is taken off the run
** queue and its turn begins, counted in the same turn's messages; returns
** b's first message, taken off its mailbox. Once the deliver or resume
** returns, run_actor goes on with b. */
stage__env_t *stage__turn_switch(stage__theatre_t *t, stage__actor_t *a,
                                 stage__actor_t *b);

/* Wake t if it sleeps (on its futex or in its poller). Any thread. */
void stage__theatre_wake(stage__theatre_t *t);

/* The theatre the calling thread runs, or NULL; inline, as a message asks
** it several times. Set by theatre.c only. */
extern _Thread_local stage__theatre_t *stage__current_theatre;
static inline stage__theatre_t *stage__current(void) {
    return stage__current_theatre;
}

/* Deliver an inbox item to theatre t from any thread. The item must carry
** ENV_COUNTED if the sender is not t's own thread (the caller does the
** accounting with stage__work_add). */
void stage__theatre_push(stage__theatre_t *t, stage__item_t *it);
/* Push e to t from any thread, counting it in the node's work until t
** receives it (the usual way to hand t a message or a call). */
void stage__theatre_post(stage__theatre_t *t, stage__env_t *e);

/* Mark the start and end of code running for actor a (a handler, or a
** continuation in its context): what stage.self() and the watchdog see. */
void stage__turn_begin(stage__theatre_t *t, stage__actor_t *a);
void stage__turn_end(stage__theatre_t *t);
/* 1 if the watchdog has asked t to preempt the turn it runs now. t's thread
** only (its signal handler included: lock-free atomics only). */
int stage__preempt_wanted(stage__theatre_t *t);

/* Queue e for actor a of theatre t (t's thread only). */
void stage__actor_enqueue(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e);
/* Put a on t's run queue if it is not there (t's thread only). */
void stage__actor_schedule(stage__theatre_t *t, stage__actor_t *a);
/* A suspended actor's turn may continue (t's thread only). */
void stage__actor_ready(stage__theatre_t *t, stage__actor_t *a);

/* Route e (a message) to its target from any thread: local fast path if the
** target lives in the calling theatre, else the target theatre's inbox.
** Unknown targets fail e's future with ActorNotFound. */
void stage__route(stage_node_t *node, stage__env_t *e);

#endif
