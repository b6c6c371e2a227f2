/*
** core/native_future.c: futures in the C API — callbacks, waiting,
** deadlines, join, and futures the program completes itself (promises).
**
** The mechanisms are core's (future.c) and shared with the Lua binding;
** this file gives them their C contracts. A callback set in a handler or
** turn of a C actor runs as a turn of that actor (native.h): the future's
** continuation, on the theatre that owns the future, queues the turn in
** the actor's mailbox. Set from outside the actors, it runs on the owner
** theatre at once, with no actor. Either way it runs exactly once: with
** ctx NULL when its actor, or the node, stopped first, and with Canceled
** when the future is freed unfinished (a promise nobody can complete). The
** callback holds no reference: whoever will complete the future does.
**
** Any thread, except stage_future_wait (not a theatre's).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/future.h"
#include "core/node.h"
#include "core/theatre.h"
#include "native.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

static void fill_result(const stage__future_t *f, stage_result_t *res) {
    res->status = f->status;
    res->data = f->status ? NULL : f->data;
    res->len = f->status ? 0 : f->len;
    res->message = f->status ? f->message : NULL;
    res->actor = f->status ? f->actor : NULL;
    res->traceback = f->status ? f->traceback : NULL;
}

/* ---- callbacks ------------------------------------------------------------
 */

typedef struct then_arg {
    stage_future_fn fn;
    void *ud;
    stage__future_t *f; /* done: a reference its turn holds; else NULL */
    uint64_t actor;     /* serial of the C actor that asked, or 0 */
} then_arg_t;

/* Call fn once with f's result (or why it has none), then free ta. */
static void then_call(then_arg_t *ta, stage__future_t *f, stage_ctx_t *ctx) {
    stage_result_t res;
    if (stage__future_done(f))
        fill_result(f, &res);
    else if (stage__node_stopping(f->node))
        res = (stage_result_t){.status = STAGE_ESTOPPED,
                               .message = "the node stopped before the "
                                          "future completed"};
    else
        res = (stage_result_t){.status = STAGE_ECANCELED,
                               .message = "the future was released before "
                                          "it completed"};
    ta->fn(ctx, ta->ud, &res);
    stage__free(ta);
}

/* A turn is over (run or dropped): its reference to the future goes. */
static void then_turn_end(then_arg_t *ta, stage_ctx_t *ctx) {
    stage__future_t *f = ta->f;
    then_call(ta, f, ctx);
    stage__future_unref(f);
}

/* The callback as a turn of the actor that asked. */
static void then_turn(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    then_turn_end(e->arg, &ctx);
    stage__env_free(e);
}

/* That actor has stopped, or the node: no turn, no context. */
static void then_turn_drop(stage__theatre_t *t, stage__actor_t *a,
                           stage__env_t *e) {
    (void)t;
    (void)a;
    then_turn_end(e->arg, NULL);
    stage__env_free(e);
}

/* f completed, on its owner theatre; or t NULL: f is freed unfinished, or
** the owner never took the callback (the node stopped). */
static void then_fire(stage__theatre_t *t, stage__future_t *f, void *arg) {
    then_arg_t *ta = arg;
    if (!t || !ta->actor) {
        then_call(ta, f, NULL);
        return;
    }
    stage__future_ref(ta->f = f); /* the result, until the turn is over */
    if (stage__native_turn(f->node, ta->actor, then_turn, then_turn_drop, ta)) {
        LOG_ERROR("out of memory queueing a future's callback: it runs "
                  "without its actor");
        then_turn_end(ta, NULL);
    }
}

int stage_future_then(stage_future_t *fut, stage_future_fn fn, void *ud) {
    stage__future_t *f = (stage__future_t *)fut;
    if (!f || !fn) return STAGE_EINVAL;
    then_arg_t *ta = stage__malloc(sizeof *ta);
    if (!ta) return STAGE_ENOMEM;
    stage__actor_t *a = stage__native_running(f->node);
    *ta = (then_arg_t){fn, ud, NULL, a ? a->serial : 0};
    int rc = stage__future_on_any(f, then_fire, ta);
    if (rc) stage__free(ta);
    return rc;
}

/* ---- waiting, looking ------------------------------------------------------
 */

int stage_future_wait(stage_future_t *fut, double timeout,
                      stage_result_t *res) {
    stage__future_t *f = (stage__future_t *)fut;
    if (!f || !res) return STAGE_EINVAL;
    if (stage__current()) return STAGE_EDEADLOCK;
    double deadline = timeout >= 0 ? stage__now() + timeout : 0;
    while (stage__future_mark(f, FUT_EXT_WAITING)) {
        double left = -1;
        if (timeout >= 0 && (left = deadline - stage__now()) <= 0)
            return STAGE_ETIMEOUT;
        unsigned s = atomic_load(&f->state);
        if (!(s & FUT_DONE))
            stage__futex_wait((atomic_int *)&f->state, (int)s, left);
    }
    f->observed = true;
    fill_result(f, res);
    return 0;
}

int stage_future_done(const stage_future_t *f) {
    return stage__future_done((const stage__future_t *)f);
}

int stage_result_id(const stage_result_t *res, stage_id_t *out) {
    if (!res || !out) return STAGE_EINVAL;
    if (res->status) return res->status;
    stage_unpack_t u;
    stage_id_t id;
    stage_unpack_init(&u, res->data, res->len);
    if (stage_unpack_id(&u, &id) || u.p != u.end) return STAGE_EDECODE;
    *out = id;
    return 0;
}

void stage_future_release(stage_future_t **fut) {
    if (!*fut) return;
    stage__future_unref((stage__future_t *)*fut);
    *fut = NULL;
}

/* ---- deadlines --------------------------------------------------------------
 */

typedef struct due_req {
    stage__future_t *f; /* a reference until the deadline is armed */
    double secs;
} due_req_t;

/* On f's owner theatre: arm the deadline. */
static void due_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    due_req_t *r = e->arg;
    if (stage__future_due(t, r->f, r->secs))
        stage__future_reject(r->f, STAGE_ENOMEM,
                             "out of memory arming a deadline", NULL, NULL);
    stage__future_unref(r->f);
    stage__free(r);
    stage__env_free(e);
}

static void due_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    due_req_t *r = e->arg;
    stage__future_unref(r->f);
    stage__free(r);
    stage__env_free(e);
}

int stage_future_due(stage_future_t *fut, double secs) {
    stage__future_t *f = (stage__future_t *)fut;
    if (!f || !(secs >= 0) || isinf(secs)) return STAGE_EINVAL;
    stage__theatre_t *owner = stage__node_theatre(f->node, f->owner);
    if (stage__current() == owner) return stage__future_due(owner, f, secs);
    due_req_t *r = stage__malloc(sizeof *r);
    stage__env_t *e = r ? stage__env_call(due_call, due_drop, r) : NULL;
    if (!e) {
        stage__free(r);
        return STAGE_ENOMEM;
    }
    *r = (due_req_t){f, secs};
    stage__future_ref(f);
    stage__theatre_post(owner, e);
    return 0;
}

/* ---- join -----------------------------------------------------------------
 */

int stage_join(stage_future_t *const *futures, size_t n, stage_future_t **out) {
    if (!out) return STAGE_EINVAL;
    *out = NULL;
    if (!futures || n == 0 || n > UINT32_MAX || !futures[0])
        return STAGE_EINVAL;
    stage_node_t *node = ((stage__future_t *)futures[0])->node;
    stage__future_t **parts = stage__malloc(n * sizeof *parts);
    if (!parts) return STAGE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        parts[i] = (stage__future_t *)futures[i];
        if (!parts[i] || parts[i]->node != node) {
            stage__free(parts);
            return STAGE_EINVAL;
        }
    }
    stage__future_t *r =
        stage__future_join(node, stage__native_owner(node), parts, n);
    stage__free(parts);
    if (!r) return STAGE_ENOMEM;
    *out = (stage_future_t *)r;
    return 0;
}

/* ---- promises --------------------------------------------------------------
 */

int stage_future_new(stage_node_t *node, stage_future_t **out) {
    if (!out) return STAGE_EINVAL;
    *out = NULL;
    if (!node) return STAGE_EINVAL;
    stage__future_t *f = stage__future_new(node, stage__native_owner(node), 0);
    if (!f) return STAGE_ENOMEM;
    f->promise = true;
    *out = (stage_future_t *)f;
    return 0;
}

/* The completer holds a reference until the completion is published: the
** thread waiting for it may release the last other one as soon as it sees
** the result. */
int stage_future_resolve(stage_future_t *fut, const void *value, size_t len) {
    stage__future_t *f = (stage__future_t *)fut;
    if (!f || !f->promise || !value || stage_pack_validate(value, len, 1))
        return STAGE_EINVAL;
    stage__future_ref(f);
    int won = stage__future_resolve(f, value, len);
    stage__future_unref(f);
    return won ? 0 : STAGE_EEXISTS;
}

int stage_future_reject(stage_future_t *fut, int code, const char *message) {
    stage__future_t *f = (stage__future_t *)fut;
    if (!f || !f->promise || code <= STAGE__ERRNO_BASE ||
        code >= STAGE__ERRNO_END)
        return STAGE_EINVAL;
    char id[STAGE_ID_TEXT_MAX];
    stage__actor_t *a = stage__native_running(f->node);
    if (a) {
        stage_id_t self;
        stage__make_id(f->node, a->serial, a->type, &self);
        stage_id_format(&self, id, sizeof id);
    }
    stage__future_ref(f); /* as in stage_future_resolve */
    int won = stage__future_reject(f, code, message, a ? id : NULL, NULL);
    stage__future_unref(f);
    return won ? 0 : STAGE_EEXISTS;
}
