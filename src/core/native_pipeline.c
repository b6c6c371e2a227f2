/*
** core/native_pipeline.c: promise pipelining and far references in the C
** API — stage_send_args, stage_send_far and their stage_node_* forms —
** and the order of plain sends behind deferred ones (native.c calls
** stage__native_defer_plain).
**
** The mechanism is core's (pipeline.c), shared with the Lua binding; this
** file checks a C caller's arguments and gives it the C contracts. A send
** with no pending future, a found target and nothing deferred before it
** goes at once, as stage_send does.
** Threads: ctx forms on the actor's theatre; node forms any thread.
*/
#include <stdlib.h>
#include <string.h>

#include "core/future.h"
#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "native.h"
#include "node_internal.h"
#include "util/alloc.h"

#define MAX_ARGS 250 /* as a Lua send: STAGE__LV_MAX_ARGS */

/* 0 if a message to id can be sent from this node, else why not (the
** checks stage_send makes at once). */
static int id_check(stage_node_t *node, const stage_id_t *id) {
    bool local = stage__id_is_local(node, id);
    if (stage__id_is_stale(node, id)) return STAGE_EACTOR_NOT_FOUND;
    if (!local && !node->net_hooks.send) return STAGE_EUNREACHABLE;
    if (local && !stage__type_find(node, id->type))
        return STAGE_EACTOR_NOT_FOUND;
    return 0;
}

/* Check args[0..n) and translate them: 0 or STAGE_EINVAL. */
static int args_check(stage_node_t *node, const stage_arg_t *args, size_t n,
                      stage__parg_t *out) {
    if (n > MAX_ARGS || (n && !args)) return STAGE_EINVAL;
    for (size_t i = 0; i < n; i++) {
        stage__future_t *f = (stage__future_t *)args[i].future;
        if (f) {
            if (f->node != node) return STAGE_EINVAL;
            out[i] = (stage__parg_t){.f = f};
        } else {
            if (!args[i].data || !args[i].len ||
                stage_pack_validate(args[i].data, args[i].len, 1))
                return STAGE_EINVAL;
            out[i] = (stage__parg_t){.data = args[i].data, .len = args[i].len};
        }
    }
    return 0;
}

/* 1 if a send to `to` with args must wait: a lookup or argument pending
** (or failed: its failure goes to the send's future), or an earlier
** deferred send from the same sender to `to`. */
static bool must_wait(stage_node_t *node, stage__actor_t *a,
                      stage__target_t *to, const stage__parg_t *args,
                      size_t n) {
    if (to->pending) return true;
    for (size_t i = 0; i < n; i++) {
        stage__future_t *f = args[i].f;
        if (f && (!stage__future_done(f) || f->status)) return true;
    }
    if (!a) return stage__pipeline_outside_busy(node);
    return a->deferred && stage__pipeline_blocked(node, a, to);
}

/* Send now: the values (of done futures too) as one array. */
static int send_now(stage_node_t *node, stage__actor_t *a,
                    const stage__target_t *to, const char *method,
                    const stage__parg_t *args, size_t n, stage__future_t *reply,
                    bool stop) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        if (args[i].f) {
            args[i].f->observed = true;
            stage_pack_raw(&p, args[i].f->data, args[i].f->len);
        } else {
            stage_pack_raw(&p, args[i].data, args[i].len);
        }
    }
    int rc = stage_pack_error(&p);
    if (!rc)
        rc = stage__pipeline_send(node, a, to, method, strlen(method), p.data,
                                  p.len, reply, stop, false);
    stage_pack_free(&p);
    return rc;
}

/* The send of stage_send_args/far from actor a (NULL: outside) to `to`
** (its pending lookup borrowed); with stop, the order to stop instead. */
static int send_args(stage_node_t *node, stage__actor_t *a, stage__target_t *to,
                     const char *method, const stage_arg_t *args, size_t n,
                     stage_future_t **fut, bool stop) {
    if (fut) *fut = NULL;
    size_t mlen = method ? strlen(method) : 0;
    if (!mlen || mlen > 255) return STAGE_EINVAL;
    stage__parg_t one, *pargs = n > 1 ? stage__malloc(n * sizeof *pargs) : &one;
    if (!pargs) return STAGE_ENOMEM;
    int rc = args_check(node, args, n, pargs);
    stage__future_t *reply = NULL;
    if (!rc && fut) {
        int owner = a ? a->theatre->index : 0;
        uint64_t target = !to->pending && to->type ? to->id.serial : 0;
        if (!(reply = stage__future_new(node, owner, target)))
            rc = STAGE_ENOMEM;
    }
    if (!rc) {
        if (!must_wait(node, a, to, pargs, n))
            rc = send_now(node, a, to, method, pargs, n, reply, stop);
        else if (a)
            rc = stage__pipeline_defer(a->theatre, a, to, method, pargs, (int)n,
                                       reply, stop);
        else
            rc = stage__pipeline_defer_outside(node, to, method, pargs, (int)n,
                                               reply, stop);
    }
    if (pargs != &one) stage__free(pargs);
    if (rc && reply) stage__future_unref(reply);
    if (!rc && fut) *fut = (stage_future_t *)reply;
    return rc;
}

/* A target of id, checked as stage_send checks it. */
static int id_target(stage_node_t *node, const stage_id_t *id,
                     stage__target_t *to) {
    if (!id) return STAGE_EINVAL;
    int rc = id_check(node, id);
    if (!rc) stage__target_set(node, to, id);
    return rc;
}

/* A target of a lookup: its id if it has found one (or the id a retry
** through its name found since), else the lookup itself (borrowed), which
** the deferred send will hold; with the lookup's name (borrowed), if it
** was stage_find_name's. */
static int far_target(stage_node_t *node, stage_future_t *lookup,
                      stage__target_t *to) {
    stage__future_t *f = (stage__future_t *)lookup;
    if (!f || f->node != node) return STAGE_EINVAL;
    memset(to, 0, sizeof *to);
    stage_id_t id;
    stage_unpack_t u;
    if (stage__future_done(f) && !f->status) {
        stage_unpack_init(&u, f->data, f->len);
        if (!stage_unpack_id(&u, &id)) {
            f->observed = true;
            stage__target_set(node, to, &id);
            if ((to->byname = f->byname)) stage__target_follow(node, to);
            return 0;
        }
    }
    to->pending = f; /* pending, failed, or no id: the send's future says */
    to->byname = f->byname;
    return 0;
}

int stage_send_args(stage_ctx_t *ctx, const stage_id_t *to, const char *method,
                    const stage_arg_t *args, size_t n, stage_future_t **fut) {
    stage__target_t t;
    if (fut) *fut = NULL;
    int rc = id_target(ctx->t->node, to, &t);
    return rc ? rc
              : send_args(ctx->t->node, ctx->a, &t, method, args, n, fut,
                          false);
}

int stage_node_send_args(stage_node_t *node, const stage_id_t *to,
                         const char *method, const stage_arg_t *args, size_t n,
                         stage_future_t **fut) {
    stage__target_t t;
    if (fut) *fut = NULL;
    int rc = id_target(node, to, &t);
    return rc ? rc : send_args(node, NULL, &t, method, args, n, fut, false);
}

int stage_send_far(stage_ctx_t *ctx, stage_future_t *lookup, const char *method,
                   const stage_arg_t *args, size_t n, stage_future_t **fut) {
    stage__target_t t;
    if (fut) *fut = NULL;
    int rc = far_target(ctx->t->node, lookup, &t);
    return rc ? rc
              : send_args(ctx->t->node, ctx->a, &t, method, args, n, fut,
                          false);
}

int stage_node_send_far(stage_node_t *node, stage_future_t *lookup,
                        const char *method, const stage_arg_t *args, size_t n,
                        stage_future_t **fut) {
    stage__target_t t;
    if (fut) *fut = NULL;
    int rc = far_target(node, lookup, &t);
    return rc ? rc : send_args(node, NULL, &t, method, args, n, fut, false);
}

int stage_stop_far(stage_ctx_t *ctx, stage_future_t *lookup,
                   stage_future_t **fut) {
    stage__target_t t;
    if (fut) *fut = NULL;
    int rc = far_target(ctx->t->node, lookup, &t);
    return rc ? rc
              : send_args(ctx->t->node, ctx->a, &t, "stop", NULL, 0, fut, true);
}

int stage_node_stop_far(stage_node_t *node, stage_future_t *lookup,
                        stage_future_t **fut) {
    stage__target_t t;
    if (fut) *fut = NULL;
    int rc = far_target(node, lookup, &t);
    return rc ? rc : send_args(node, NULL, &t, "stop", NULL, 0, fut, true);
}

/* ---- plain sends behind deferred ones ----------------------------------- */

int stage__native_defer_plain(stage_node_t *node, stage__actor_t *a,
                              const stage_id_t *id, const char *method,
                              const void *args, size_t len, bool stop,
                              stage__future_t *reply, bool *deferred) {
    *deferred = false;
    stage__target_t to;
    stage__target_set(node, &to, id);
    if (a ? !stage__pipeline_blocked(node, a, &to)
          : !stage__pipeline_outside_busy(node))
        return 0;
    /* split the array into its values */
    stage_unpack_t u;
    uint32_t n = 0;
    stage_unpack_init(&u, args, len);
    if (len && stage_unpack_array(&u, &n)) return STAGE_EINVAL;
    stage__parg_t one, *pargs = n > 1 ? stage__malloc(n * sizeof *pargs) : &one;
    if (!pargs) return STAGE_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        const char *at = u.p;
        rc = stage_unpack_skip(&u) ? STAGE_EINVAL : 0;
        pargs[i] = (stage__parg_t){.data = at, .len = (size_t)(u.p - at)};
    }
    if (!rc && a)
        rc = stage__pipeline_defer(a->theatre, a, &to, method, pargs, (int)n,
                                   reply, stop);
    else if (!rc)
        rc = stage__pipeline_defer_outside(node, &to, method, pargs, (int)n,
                                           reply, stop);
    if (pargs != &one) stage__free(pargs);
    *deferred = rc == 0;
    return rc;
}
