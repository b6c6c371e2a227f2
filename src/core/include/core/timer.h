/*
** core/timer.h: a theatre's timers, a min-heap by deadline. Theatre-local:
** created, fired and cancelled on the owning theatre's thread.
*/
#ifndef STAGE_CORE_TIMER_H
#define STAGE_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__timer stage__timer_t;

typedef void (*stage__timer_fn)(stage__theatre_t *t, stage__timer_t *tm);

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
    int lua_ref; /* Lua callback, or -2 */
    int refs;    /* theatre-local: heap + holders */
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

#endif
