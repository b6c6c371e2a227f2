/*
** core/native_timer.c: timers and time in the C API — stage_after,
** stage_every, stage_timer_cancel, stage_sleep, stage_now.
**
** A C actor's timer is core's actor timer (timer.c): each firing queues a
** turn of the actor, which calls the program's callback with the actor's
** context and state; a cancel suppresses a turn already queued, and the
** actor's stop cancels its timers. The public handle is the timer's id in
** its theatre, a plain value: a stale handle finds nothing and is
** harmless. Theatre thread of the running actor, except stage_now.
*/
#include <math.h>
#include <stdlib.h>

#include "core/future.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "native.h"
#include "util/alloc.h"

typedef struct ctimer {
    stage_timer_fn fn;
    void *ud;
} ctimer_t;

/* A firing, as a turn of the timer's actor. */
static void ctimer_turn(stage__theatre_t *t, stage__actor_t *a,
                        stage__timer_t *tm) {
    ctimer_t *ct = tm->arg;
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    ct->fn(&ctx, a->data, ct->ud);
}

static void ctimer_drop(stage__timer_t *tm) {
    stage__free(tm->arg);
}

/* 1 if secs is a delay a timer can wait: finite, not negative. */
static int delay_ok(double secs) {
    return secs >= 0 && !isinf(secs);
}

static int arm(stage_ctx_t *ctx, double secs, double interval,
               stage_timer_fn fn, void *ud, stage_timer_t *out) {
    if (out) out->id = 0;
    if (!fn || !delay_ok(secs)) return STAGE_EINVAL;
    if (ctx->a->flags & ACTOR_DEAD) return STAGE_ESTOPPED; /* in death */
    ctimer_t *ct = stage__malloc(sizeof *ct);
    if (!ct) return STAGE_ENOMEM;
    *ct = (ctimer_t){fn, ud};
    stage__timer_t *tm =
        stage__timer_actor(ctx->t, ctx->a, secs, interval, ctimer_turn, ct);
    if (!tm) {
        stage__free(ct);
        return STAGE_ENOMEM;
    }
    tm->drop = ctimer_drop;
    tm->travels = true; /* a function and a pointer of this process */
    if (out) out->id = tm->id;
    stage__timer_unref(tm); /* the heap and its turns hold it */
    return 0;
}

int stage_after(stage_ctx_t *ctx, double secs, stage_timer_fn fn, void *ud,
                stage_timer_t *out) {
    return arm(ctx, secs, 0, fn, ud, out);
}

int stage_every(stage_ctx_t *ctx, double secs, stage_timer_fn fn, void *ud,
                stage_timer_t *out) {
    if (!(secs > 0) || isinf(secs)) {
        if (out) out->id = 0;
        return STAGE_EINVAL;
    }
    return arm(ctx, secs, secs, fn, ud, out);
}

int stage_timer_cancel(stage_ctx_t *ctx, stage_timer_t timer) {
    stage__theatre_t *t = ctx->t;
    uint64_t n = timer.id >> STAGE_THEATRE_BITS;
    int at = (int)(timer.id & ((1u << STAGE_THEATRE_BITS) - 1));
    if (!n || (at == t->index && n > t->next_timer_id) ||
        at >= stage_node_theatres(t->node))
        return STAGE_EINVAL;
    stage__timer_t *tm = stage__timer_find(t, timer.id);
    /* set on another theatre: it may have come along with an actor that
    ** moved, and fired or been cancelled since */
    if (!tm && at != t->index && !(ctx->a->flags & ACTOR_MOVED))
        return STAGE_EINVAL;
    if (!tm) return 0; /* fired for the last time, or cancelled */
    if (tm->actor != ctx->a->serial) return STAGE_EINVAL;
    stage__timer_cancel(t, tm);
    return 0;
}

int stage_sleep(stage_ctx_t *ctx, double secs, stage_future_t **fut) {
    if (!fut) return STAGE_EINVAL;
    *fut = NULL;
    if (!delay_ok(secs)) return STAGE_EINVAL;
    stage__future_t *f = stage__future_sleep(ctx->t, secs);
    if (!f) return STAGE_ENOMEM;
    *fut = (stage_future_t *)f;
    return 0;
}

double stage_now(void) {
    return stage__now();
}
