/*
** core/pipeline.c: far references and promise pipelining (pipeline.h) —
** deferred sends, their queue per sender, and the flush when their
** futures complete.
**
** A deferred send (stage__deferred_t) holds copies of its encoded
** arguments, references on its futures, its target's lookup and its
** reply. It sits in its sender's list (the actor's `deferred`, or from
** outside the actors the node's list on theatre 0) in send order. A
** continuation on each of its pending futures decrements `pending` on the
** sender's theatre and flushes the list: every send whose futures are done
** and that has no earlier deferred send to the same target goes, in order.
** A future of another theatre completes there; its continuation hands the
** flush to the sender's theatre with a call.
**
** refs: the list's + one per continuation not run yet; atomic because a
** continuation dropped at teardown releases it on the destroying thread.
** Everything else of a deferred send is the sender's theatre's.
*/
#include <stdio.h>
#include <string.h>

#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

typedef struct seg {
    stage__future_t *f; /* the argument's future, or NULL */
    size_t off, len;    /* else its value in blob */
} seg_t;

struct stage__deferred {
    stage__deferred_t *next;
    atomic_int refs;
    int pending; /* futures not done yet */
    bool dead;   /* left its list: abandoned */
    bool stop;   /* a stop order, not a message */
    stage_node_t *node;
    int theatre;    /* the sender's */
    uint64_t actor; /* the sender's serial; 0 from outside the actors */
    stage__target_t to;
    stage__future_t *reply;
    char method[256];
    char *blob; /* the encoded arguments */
    int n;
    seg_t segs[];
};

/* ---- targets ------------------------------------------------------------ */

void stage__target_set(stage_node_t *node, stage__target_t *to,
                       const stage_id_t *id) {
    to->id = *id;
    to->pending = NULL;
    to->byname = NULL;
    to->gen = 0;
    to->type =
        stage__id_is_local(node, id) ? stage__type_find(node, id->type) : NULL;
}

int stage__target_settle(stage_node_t *node, stage__target_t *to) {
    stage__future_t *f = to->pending;
    if (f) {
        if (!stage__future_done(f)) return 0;
        if (f->status) return f->status;
        stage_id_t id;
        stage_unpack_t u;
        stage_unpack_init(&u, f->data, f->len);
        if (stage_unpack_id(&u, &id)) return STAGE_EDECODE;
        stage__byname_t *b = to->byname;
        stage__target_set(node, to, &id);
        to->byname = b; /* the id of gen 0: the lookup's */
        f->observed = true;
        stage__future_unref(f);
    }
    if (to->byname) stage__target_follow(node, to);
    return 0;
}

/* Same destination: the same resolved id, or the same pending lookup.
** Both are settled first: a copy in a deferred send and the caller's
** target share one lookup, and must compare equal once it is done. */
static bool same_target(stage_node_t *node, stage__target_t *a,
                        stage__target_t *b) {
    stage__target_settle(node, a);
    stage__target_settle(node, b);
    if (a->pending || b->pending) return a->pending == b->pending;
    return stage_id_equal(&a->id, &b->id);
}

/* ---- sending now -------------------------------------------------------- */

/* A message of len bytes of arguments to `to` passes the node's limit: fail
** reply, or log (one way: nobody else hears of it). The limit is the same
** wherever `to` is, so a program that runs on one node runs on many. */
static void too_large(stage_node_t *node, const stage__target_t *to,
                      const char *method, size_t len, stage__future_t *reply) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 400];
    stage_id_format(&to->id, id, sizeof id);
    snprintf(msg, sizeof msg,
             "cannot send '%s' to actor '%s': its arguments are %zu bytes, "
             "over the limit of %zu bytes (--max-message)",
             method, id, len, node->cfg.max_message);
    if (reply)
        stage__future_reject(reply, STAGE_ETOOBIG, msg, NULL, NULL);
    else
        LOG_WARN("%s", msg);
}

int stage__pipeline_send(stage_node_t *node, stage__actor_t *a,
                         const stage__target_t *to, const char *method,
                         size_t mlen, const char *args, size_t len,
                         stage__future_t *reply, bool stop, bool checked) {
    /* a call through a name may be retried once (core/retry.c); not an
    ** order to stop: the actor that took the name since is another */
    if (to->byname && reply && !stop &&
        stage__retry_arm(node, a, to, method, mlen, args, len, reply)) {
        stage__future_reject(reply, STAGE_ENOMEM, NULL, NULL, NULL);
        return STAGE_ENOMEM;
    }
    /* a type is set only for an id of this node (stage__target_set) */
    int local = to->type || stage__id_is_local(node, &to->id);
    if (local &&
        (!to->type || stage__serial_theatre(to->id.serial) != to->id.theatre)) {
        char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 400];
        stage_id_format(&to->id, id, sizeof id);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found (it never existed "
                 "here); message '%s' not delivered",
                 id, method);
        if (reply)
            stage__future_reject(reply, STAGE_EACTOR_NOT_FOUND, msg, NULL,
                                 NULL);
        else /* one way: nobody else hears of it */
            LOG_WARN("%s", msg);
        return 0;
    }
    if (len > node->cfg.max_message) {
        too_large(node, to, method, len, reply);
        return 0;
    }
    stage__env_t *e = stage__env_new(method, mlen, args, len);
    if (!e) {
        if (reply) stage__future_reject(reply, STAGE_ENOMEM, NULL, NULL, NULL);
        return STAGE_ENOMEM;
    }
    if (stop) e->hdr.kind = ENV_STOP_ACTOR;
    if (!checked) e->hdr.flags |= ENV_UNCHECKED;
    e->target = to->id.serial;
    e->target_type = to->type;
    if (a) {
        e->sender = a->serial;
        e->sender_type = a->type;
    }
    if (reply) {
        stage__future_ref(reply);
        e->future = reply;
    }
    if (local)
        stage__route(node, e);
    else
        stage__route_id(node, &to->id, e);
    return 0;
}

/* ---- the queue of deferred sends ---------------------------------------- */

/* The list of deferred sends of actor a, or of the node's outside sends. */
static stage__deferred_t **list_of(stage_node_t *node, stage__actor_t *a) {
    return a ? &a->deferred : &node->outside_deferred;
}

bool stage__pipeline_blocked(stage_node_t *node, stage__actor_t *a,
                             stage__target_t *to) {
    for (stage__deferred_t *d = *list_of(node, a); d; d = d->next)
        if (same_target(node, &d->to, to)) return true;
    return false;
}

bool stage__pipeline_needed(stage_node_t *node, stage__actor_t *a,
                            stage__target_t *to, const stage__parg_t *args,
                            int n) {
    if (to->pending && (stage__target_settle(node, to) || to->pending))
        return true;
    for (int i = 0; i < n; i++) {
        stage__future_t *f = args[i].f;
        if (f && (!stage__future_done(f) || f->status)) return true;
    }
    return *list_of(node, a) && stage__pipeline_blocked(node, a, to);
}

static void deferred_unref(stage__deferred_t *d) {
    if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < d->n; i++)
        if (d->segs[i].f) stage__future_unref(d->segs[i].f);
    if (d->reply) stage__future_unref(d->reply);
    if (d->to.pending) stage__future_unref(d->to.pending);
    if (d->to.byname) stage__byname_unref(d->to.byname);
    stage__free(d->blob);
    stage__free(d);
}

/* A copy of the send, or NULL on ENOMEM (nothing taken). */
static stage__deferred_t *deferred_new(stage_node_t *node, int theatre,
                                       stage__actor_t *a,
                                       const stage__target_t *to,
                                       const char *method,
                                       const stage__parg_t *args, int n,
                                       stage__future_t *reply, bool stop) {
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (!args[i].f) total += args[i].len;
    stage__deferred_t *d =
        stage__calloc(1, sizeof *d + (size_t)n * sizeof(seg_t));
    char *blob = d ? stage__malloc(total ? total : 1) : NULL;
    if (!blob) {
        stage__free(d);
        return NULL;
    }
    atomic_init(&d->refs, 1);
    d->stop = stop;
    d->node = node;
    d->theatre = theatre;
    d->actor = a ? a->serial : 0;
    d->to = *to;
    if (d->to.pending) stage__future_ref(d->to.pending);
    if (d->to.byname) stage__byname_ref(d->to.byname);
    if ((d->reply = reply)) stage__future_ref(reply);
    snprintf(d->method, sizeof d->method, "%s", method);
    d->blob = blob;
    d->n = n;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if ((d->segs[i].f = args[i].f)) {
            stage__future_ref(args[i].f);
            continue;
        }
        memcpy(blob + off, args[i].data, args[i].len);
        d->segs[i].off = off;
        d->segs[i].len = args[i].len;
        off += args[i].len;
    }
    return d;
}

/* d left the node's list of sends from outside. */
static void outside_left(const stage__deferred_t *d) {
    /* release: whatever d routed happens before a sender from outside
    ** that reads 0 (acquire, stage__pipeline_outside_busy) routes its own
    ** next send directly, so that one arrives behind it */
    if (!d->actor)
        atomic_fetch_sub_explicit(&d->node->outside_sends, 1,
                                  memory_order_release);
}

/* Fail d's reply, or log the failure of a one-way send. */
static void deferred_fail(stage__deferred_t *d, int status, const char *msg,
                          const char *actor, const char *tb) {
    if (d->reply)
        stage__future_reject(d->reply, status, msg, actor, tb);
    else
        LOG_WARN("%s: %s", stage_err_name(status), msg);
}

/* Send d now that its futures are done; or fail its reply. */
static void deferred_send(stage_node_t *node, stage__actor_t *a,
                          stage__deferred_t *d) {
    int rc = stage__target_settle(node, &d->to);
    if (rc) {
        stage__future_t *f = d->to.pending;
        f->observed = true; /* its failure goes on in the message's */
        char msg[512];
        snprintf(msg, sizeof msg, "message '%s' not sent: %s", d->method,
                 f->message ? f->message : stage_strerror(rc));
        deferred_fail(d, rc, msg, NULL, NULL);
        return;
    }
    for (int i = 0; i < d->n; i++) {
        stage__future_t *f = d->segs[i].f;
        if (f && f->status) {
            f->observed = true; /* the same */
            char msg[512];
            snprintf(msg, sizeof msg,
                     "argument %d failed before the message "
                     "'%s' could be sent: %s",
                     i + 1, d->method,
                     f->message ? f->message : stage_strerror(f->status));
            deferred_fail(d, f->status, msg, f->actor, f->traceback);
            return;
        }
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, (uint32_t)d->n);
    for (int i = 0; i < d->n; i++) {
        seg_t *s = &d->segs[i];
        if (s->f) {
            s->f->observed = true;
            stage_pack_raw(&p, s->f->data, s->f->len);
        } else {
            stage_pack_raw(&p, d->blob + s->off, s->len);
        }
    }
    if (stage_pack_error(&p) ||
        stage__pipeline_send(node, a, &d->to, d->method, strlen(d->method),
                             p.data, p.len, d->reply, d->stop, false)) {
        char msg[320];
        snprintf(msg, sizeof msg, "message '%s' not sent: out of memory",
                 d->method);
        deferred_fail(d, STAGE_ENOMEM, msg, NULL, NULL);
    }
    stage_pack_free(&p);
}

/* Send every deferred send of a's list (a NULL: the node's from outside)
** whose futures are done and that has no earlier one to the same target. */
static void deferred_flush(stage_node_t *node, stage__actor_t *a) {
    stage__deferred_t **head = list_of(node, a), **pp = head;
    while (*pp) {
        stage__deferred_t *d = *pp;
        bool blocked = d->pending > 0;
        for (stage__deferred_t *e = *head; !blocked && e != d; e = e->next)
            blocked = same_target(node, &e->to, &d->to);
        if (blocked) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        d->dead = true;
        deferred_send(node, a, d);
        outside_left(d);
        deferred_unref(d);
    }
}

/* One of d's futures is done: on the sender's theatre t, flush. */
static void ready_here(stage__theatre_t *t, stage__deferred_t *d) {
    d->pending--;
    if (!d->dead) {
        stage__actor_t *a = d->actor ? stage__actor_find(t, d->actor) : NULL;
        if (a || !d->actor) deferred_flush(t->node, a);
    }
    deferred_unref(d);
}

static void ready_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)a;
    stage__deferred_t *d = e->arg;
    stage__env_free(e);
    ready_here(t, d);
}

static void ready_drop(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)t;
    (void)a;
    deferred_unref(e->arg);
    stage__env_free(e);
}

/* A future of d is done, on its owner theatre t (t NULL: it never will:
** teardown; d waits for its sender to stop). */
static void deferred_ready(stage__theatre_t *t, stage__future_t *f, void *arg) {
    (void)f;
    stage__deferred_t *d = arg;
    if (t && t->index == d->theatre) {
        ready_here(t, d);
        return;
    }
    stage__env_t *e = t ? stage__env_call(ready_call, ready_drop, d) : NULL;
    if (!e) { /* out of memory: d waits for its sender to stop */
        deferred_unref(d);
        return;
    }
    stage__theatre_post(stage__node_theatre(t->node, d->theatre), e);
}

/* Put d at the end of its list on theatre t, wait for its futures, and
** flush. 0, or STAGE_ENOMEM: d is unlinked and failed. */
static int deferred_enqueue(stage__theatre_t *t, stage__actor_t *a,
                            stage__deferred_t *d) {
    stage__deferred_t **pp = list_of(t->node, a);
    while (*pp)
        pp = &(*pp)->next;
    *pp = d;
    int rc = 0;
    for (int i = -1; i < d->n; i++) {
        stage__future_t *f = i < 0 ? d->to.pending : d->segs[i].f;
        if (!f || stage__future_done(f)) continue;
        d->pending++;
        atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
        if (stage__future_on_any(f, deferred_ready, d)) {
            d->pending--;
            atomic_fetch_sub_explicit(&d->refs, 1, memory_order_relaxed);
            rc = STAGE_ENOMEM;
            break;
        }
    }
    if (rc) { /* it would never know when f is done: it fails instead */
        for (pp = list_of(t->node, a); *pp != d;)
            pp = &(*pp)->next;
        *pp = d->next;
        d->dead = true;
        char msg[320];
        snprintf(msg, sizeof msg,
                 "message '%s' not sent: out of memory waiting for "
                 "its arguments",
                 d->method);
        deferred_fail(d, STAGE_ENOMEM, msg, NULL, NULL);
        outside_left(d);
        deferred_unref(d);
        return rc;
    }
    deferred_flush(t->node, a);
    return 0;
}

int stage__pipeline_defer(stage__theatre_t *t, stage__actor_t *a,
                          const stage__target_t *to, const char *method,
                          const stage__parg_t *args, int n,
                          stage__future_t *reply, bool stop) {
    stage__deferred_t *d =
        deferred_new(t->node, t->index, a, to, method, args, n, reply, stop);
    if (!d) return STAGE_ENOMEM;
    if (!a)
        atomic_fetch_add_explicit(&t->node->outside_sends, 1,
                                  memory_order_relaxed);
    deferred_enqueue(t, a, d);
    return 0;
}

/* ---- from outside the actors -------------------------------------------- */

static void outside_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    stage__deferred_t *d = e->arg;
    stage__env_free(e);
    deferred_enqueue(t, NULL, d);
}

/* The node stopped before theatre 0 took d. */
static void outside_drop(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)t;
    (void)a;
    stage__deferred_t *d = e->arg;
    stage__env_free(e);
    d->dead = true;
    deferred_fail(d, STAGE_ESTOPPED,
                  "the node stopped before the message could be sent", NULL,
                  NULL);
    outside_left(d);
    deferred_unref(d);
}

int stage__pipeline_defer_outside(stage_node_t *node, const stage__target_t *to,
                                  const char *method, const stage__parg_t *args,
                                  int n, stage__future_t *reply, bool stop) {
    stage__deferred_t *d =
        deferred_new(node, 0, NULL, to, method, args, n, reply, stop);
    stage__env_t *e = d ? stage__env_call(outside_call, outside_drop, d) : NULL;
    if (!e) {
        if (d) deferred_unref(d);
        return STAGE_ENOMEM;
    }
    atomic_fetch_add_explicit(&node->outside_sends, 1, memory_order_relaxed);
    stage__theatre_post(stage__node_theatre(node, 0), e);
    return 0;
}

bool stage__pipeline_outside_busy(stage_node_t *node) {
    /* acquire: pairs with outside_left's release */
    return atomic_load_explicit(&node->outside_sends, memory_order_acquire);
}

/* ---- the sender stops --------------------------------------------------- */

static void abandon(stage__deferred_t **list, const char *why) {
    stage__deferred_t *d;
    while ((d = *list)) {
        *list = d->next;
        d->dead = true;
        deferred_fail(d, STAGE_ESTOPPED, why, NULL, NULL);
        outside_left(d);
        deferred_unref(d);
    }
}

void stage__deferred_abandon(stage__actor_t *a) {
    abandon(&a->deferred, "the sender stopped before the arguments of its "
                          "message resolved");
}

void stage__deferred_abandon_outside(stage_node_t *node) {
    abandon(&node->outside_deferred,
            "the node stopped before the arguments of the message "
            "resolved");
}
