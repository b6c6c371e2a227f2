/*
** core/native_monitor.c: monitors in the C API — stage_monitor,
** stage_monitor_far, stage_on_node_down, stage_on_node_up,
** stage_demonitor.
**
** A C actor's monitor is core's (core/monitor.h): its turn calls the
** program's callback with the actor's context and state. The public
** handle is the monitor's id, a plain value: a stale handle finds nothing
** and is harmless. Theatre thread of the running actor.
*/
#include <stdlib.h>

#include "core/future.h"
#include "core/monitor.h"
#include "core/theatre.h"
#include "native.h"
#include "util/alloc.h"

typedef struct cmon {
    stage_down_fn down; /* MON_ACTOR */
    stage_node_fn node; /* MON_NODE_* */
    void *ud;
} cmon_t;

/* The monitor's turn: the callback, with what it needs copied first (a
** callback may cancel its own watch of nodes, which frees cm). */
static void cmon_turn(stage__theatre_t *t, stage__actor_t *a,
                      stage__monitor_t *m, const stage__down_t *d) {
    cmon_t cm = *(cmon_t *)m->arg;
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    if (m->kind == MON_ACTOR) {
        stage_down_t down = {d->target, d->reason, d->message};
        cm.down(&ctx, a->data, cm.ud, &down);
    } else {
        cm.node(&ctx, a->data, cm.ud, d->address, d->incarnation);
    }
}

static void cmon_drop(stage__monitor_t *m) {
    stage__free(m->arg);
}

/* Check ctx and out, and make the callback's record; 0 or STAGE_E*. */
static int prepare(stage_ctx_t *ctx, bool fn_ok, stage_monitor_t *out,
                   cmon_t **cm) {
    if (out) out->id = 0;
    if (!fn_ok) return STAGE_EINVAL;
    if (ctx->a->flags & ACTOR_DEAD) return STAGE_ESTOPPED; /* in death */
    return (*cm = stage__calloc(1, sizeof **cm)) ? 0 : STAGE_ENOMEM;
}

/* Name monitor m (or report no memory, freeing cm). */
static int done(stage__monitor_t *m, cmon_t *cm, stage_monitor_t *out) {
    if (!m) {
        stage__free(cm);
        return STAGE_ENOMEM;
    }
    m->travels = true; /* a function and pointers of this process */
    if (out) out->id = m->id;
    return 0;
}

int stage_monitor(stage_ctx_t *ctx, const stage_id_t *id, stage_down_fn fn,
                  void *ud, stage_monitor_t *out) {
    cmon_t *cm;
    int rc = prepare(ctx, id && fn, out, &cm);
    if (rc) return rc;
    *cm = (cmon_t){.down = fn, .ud = ud};
    return done(
        stage__monitor_actor(ctx->t, ctx->a, id, cmon_turn, cmon_drop, cm), cm,
        out);
}

int stage_monitor_far(stage_ctx_t *ctx, stage_future_t *lookup,
                      stage_down_fn fn, void *ud, stage_monitor_t *out) {
    cmon_t *cm;
    int rc = prepare(ctx, lookup && fn, out, &cm);
    if (rc) return rc;
    *cm = (cmon_t){.down = fn, .ud = ud};
    return done(stage__monitor_far(ctx->t, ctx->a, (stage__future_t *)lookup,
                                   cmon_turn, cmon_drop, cm),
                cm, out);
}

static int on_node(stage_ctx_t *ctx, int kind, stage_node_fn fn, void *ud,
                   stage_monitor_t *out) {
    cmon_t *cm;
    int rc = prepare(ctx, fn != NULL, out, &cm);
    if (rc) return rc;
    *cm = (cmon_t){.node = fn, .ud = ud};
    return done(
        stage__monitor_node(ctx->t, ctx->a, kind, cmon_turn, cmon_drop, cm), cm,
        out);
}

int stage_on_node_down(stage_ctx_t *ctx, stage_node_fn fn, void *ud,
                       stage_monitor_t *out) {
    return on_node(ctx, MON_NODE_DOWN, fn, ud, out);
}

int stage_on_node_up(stage_ctx_t *ctx, stage_node_fn fn, void *ud,
                     stage_monitor_t *out) {
    return on_node(ctx, MON_NODE_UP, fn, ud, out);
}

int stage_demonitor(stage_ctx_t *ctx, stage_monitor_t m) {
    return stage__monitor_cancel(ctx->t, ctx->a, m.id);
}
