/*
** core/timer.h: a theatre's timers, a min-heap by deadline. Theatre-local:
** created, fired and cancelled on the owning theatre's thread.
**
** An actor's timer (stage__timer_actor) fires as a turn of its actor: each
** firing queues an ENV_CALL envelope in the actor's mailbox, which the
** actor's kind runs between its handlers; a turn queued before a cancel
** does not run. Such a timer has an id, unique in its theatre, by which
** it is found while it may still fire.
*/
#ifndef STAGE_CORE_TIMER_H
#define STAGE_CORE_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__timer stage__timer_t;
typedef struct stage__actor stage__actor_t;

typedef void (*stage__timer_fn)(stage__theatre_t *t, stage__timer_t *tm);
/* An actor timer's turn: runs as a turn of actor a (see stage__timer_actor). */
typedef void (*stage__timer_turn_fn)(stage__theatre_t *t, stage__actor_t *a,
                                     stage__timer_t *tm);

struct stage__timer {
    double deadline; /* stage__now() seconds */
    double interval; /* > 0: repeat */
    double span;     /* the delay asked for */
    uint64_t seq;    /* heap tie-break: FIFO for equal deadlines */
    uint64_t actor;  /* owning actor serial (0: none) */
    int heap_index;  /* -1 when not armed */
    bool cancelled;
    stage__timer_fn fn;               /* fired (theatre thread) */
    void (*drop)(stage__timer_t *tm); /* freed: release arg; may be NULL */
    void *arg;
    int refs; /* theatre-local: heap + holders */
    /* actor timers (stage__timer_actor) only: */
    uint64_t id;               /* in its theatre's timer_ids, or 0 */
    stage__timer_turn_fn turn; /* runs as a turn of the actor */
    stage__theatre_t *theatre; /* whose timer_ids list it */
    int queued;                /* its turns queued, not run yet */
    /* its turn and arg mean the same on every theatre of the node (a C
    ** actor's: a function and a pointer of this process): it moves with
    ** its actor inside the node (stage__timers_take) */
    bool travels;
    stage__timer_t *taken; /* the next of a list stage__timers_take made */
};

/* Monotonic seconds. Any thread. */
double stage__now(void);
stage__timer_t *stage__timer_new(stage__theatre_t *t, double delay,
                                 double interval, stage__timer_fn fn,
                                 void *arg);
void stage__timer_cancel(stage__theatre_t *t, stage__timer_t *tm);
void stage__timer_unref(stage__timer_t *tm);
/* Run due timers; returns seconds until the next one (or -1: none). */
double stage__timers_run(stage__theatre_t *t);
/* At node teardown: drop every timer of t. */
void stage__timers_free(stage__theatre_t *t);
/* Cancel every timer owned by actor serial (it stopped). */
void stage__timers_cancel_actor(stage__theatre_t *t, uint64_t serial);

/* How many timers of actor serial may still fire (armed, or with a turn
** queued) and do not travel with it: a scan of t's actor timers. t's
** thread. */
size_t stage__timers_of_actor(stage__theatre_t *t, uint64_t serial);
/* The same count of those that travel inside the node (a C actor's),
** which cannot go to another node (core/move.c). t's thread. */
size_t stage__timers_travelling(stage__theatre_t *t, uint64_t serial);

/* An actor moves inside the node (core/move.h): take its armed timers
** that travel out of t (a list, NULL if none; none may have a turn
** queued), give them to t where it is now (same deadlines, same ids: they
** fire there, once each; without memory one is cancelled and logged), or
** drop them (the node stops). The caller's thread is t's. */
stage__timer_t *stage__timers_take(stage__theatre_t *t, uint64_t serial);
void stage__timers_give(stage__theatre_t *t, stage__timer_t *list);
void stage__timers_drop(stage__timer_t *list);

/* A timer of actor a (t's thread): after delay s, and then every interval s
** (its id, unique in the node: a counter << 8 | t's index)
** if interval > 0, it queues turn(t, a, tm) as a turn of a, unless it has
** been cancelled by then (a stopping cancels it). arg is the caller's
** (tm->arg; released by tm->drop, which the caller may set). Returns it
** with the caller's reference (release it with stage__timer_unref), or
** NULL on ENOMEM. */
stage__timer_t *stage__timer_actor(stage__theatre_t *t, stage__actor_t *a,
                                   double delay, double interval,
                                   stage__timer_turn_fn turn, void *arg);
/* The actor timer of t with this id, while it is armed or has a turn
** queued; else NULL. t's thread. */
stage__timer_t *stage__timer_find(stage__theatre_t *t, uint64_t id);

#endif
