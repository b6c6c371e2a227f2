/*
** core/future.c: futures — one result, many continuations.
**
** Any thread may complete a future; the first completion wins (claimed).
** The winner writes the result, then sets FUT_DONE with a release exchange;
** readers acquire it. Continuations belong to the owner theatre: adding one
** sets FUT_WAITING (a CAS from PENDING; if DONE already, the owner fires it
** itself). A completer that sees FUT_WAITING pushes the future onto the
** owner's inbox (holding a reference); one that sees FUT_EXT_WAITING wakes
** outside threads blocked in stage_future_wait.
**
** A failed future that nobody observed is logged when its last reference
** goes, so no failure is silently dropped.
*/
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/node.h"
#include "core/theatre.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#ifdef STAGE_SANITIZE
#define CACHE_MAX 0 /* see the envelope cache in actor.c */
#else
#define CACHE_MAX 4096
#endif

stage__future_t *stage__future_new(stage_node_t *node, int owner,
                                   uint64_t target) {
    stage__theatre_t *t = stage__current();
    stage__future_t *f = t ? t->fut_cache : NULL;
    if (f) {
        t->fut_cache = (stage__future_t *)f->conts;
        t->nfut_cache--;
        memset(f, 0, sizeof *f);
    } else if (!(f = stage__calloc(1, sizeof *f))) {
        return NULL;
    }
    f->hdr.kind = ENV_FUTURE;
    atomic_init(&f->refs, 1);
    atomic_init(&f->state, FUT_PENDING);
    atomic_flag_clear(&f->claimed);
    f->owner = (uint16_t)owner;
    f->target = target;
    f->node = node;
    return f;
}

void stage__future_ref(stage__future_t *f) {
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

static void drop_conts(stage__future_t *f) {
    stage__cont_t *c;
    while ((c = f->conts)) {
        f->conts = c->next;
        if (c->kind == CONT_CALL) c->fn(NULL, f, c->arg);
        stage__free(c);
    }
}

void stage__future_unref(stage__future_t *f) {
    /* acq_rel: the last owner must see every write of the others. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* STAGE_ESTOPPED: dropped at shutdown, which the user asked for */
    if (stage__future_done(f) && f->status && f->status != STAGE_ESTOPPED &&
        !f->observed)
        LOG_WARN("unhandled failure%s%s: %s: %s", f->actor ? " in actor " : "",
                 f->actor ? f->actor : "", stage_err_name(f->status),
                 f->message ? f->message : stage_strerror(f->status));
    drop_conts(f);
    if (f->data != f->small) stage__free(f->data);
    stage__free(f->message);
    stage__free(f->actor);
    stage__free(f->traceback);
    stage__theatre_t *t = stage__current();
    if (t && t->nfut_cache < CACHE_MAX) { /* conts links the cache */
        f->conts = (stage__cont_t *)t->fut_cache;
        t->fut_cache = f;
        t->nfut_cache++;
        return;
    }
    stage__free(f);
}

void stage__future_abandon(stage__future_t *f) {
    atomic_store(&f->queued, false);
    drop_conts(f);
    stage__future_unref(f); /* the inbox's reference */
}

static char *dup_or_null(const char *s) {
    return s ? stage__strdup(s) : NULL;
}

/* Put f on its owner's inbox unless it is there already. */
static void notify_owner(stage__future_t *f) {
    if (atomic_exchange(&f->queued, true)) return;
    stage__theatre_t *owner = stage__node_theatre(f->node, f->owner);
    stage__future_ref(f); /* the inbox's reference */
    if (stage__current() != owner) {
        stage__work_add(f->node, 1);
        f->hdr.flags |= ENV_COUNTED;
    }
    stage__theatre_push(owner, &f->hdr);
}

/* Publish the result and tell whoever waits. */
static void publish(stage__future_t *f) {
    unsigned old =
        atomic_exchange_explicit(&f->state, FUT_DONE, memory_order_acq_rel);
    if (f->on_done) f->on_done(f);
    if (old & FUT_EXT_WAITING) stage__futex_wake((atomic_int *)&f->state);
    if (old & FUT_WAITING) notify_owner(f);
}

int stage__future_resolve(stage__future_t *f, const char *data, size_t len) {
    if (atomic_flag_test_and_set(&f->claimed)) return 0;
    f->data = len <= sizeof f->small ? f->small : stage__malloc(len);
    if (!f->data) {
        f->status = STAGE_ENOMEM;
        f->message = stage__strdup("out of memory storing a reply");
    } else {
        memcpy(f->data, data, len);
        f->len = (uint32_t)len;
    }
    publish(f);
    return 1;
}

int stage__future_reject(stage__future_t *f, int status, const char *message,
                         const char *actor, const char *traceback) {
    if (atomic_flag_test_and_set(&f->claimed)) return 0;
    f->status = status < 0 ? status : STAGE_EHANDLER;
    f->message = dup_or_null(message ? message : stage_strerror(status));
    f->actor = dup_or_null(actor);
    f->traceback = dup_or_null(traceback);
    publish(f);
    return 1;
}

int stage__future_forward(stage__future_t *dst, const stage__future_t *src) {
    if (src->status == 0)
        return stage__future_resolve(dst, src->data, src->len);
    return stage__future_reject(dst, src->status, src->message, src->actor,
                                src->traceback);
}

int stage__future_mark(stage__future_t *f, unsigned bit) {
    unsigned s = atomic_load(&f->state);
    while (!(s & FUT_DONE))
        if ((s & bit) || atomic_compare_exchange_weak(&f->state, &s, s | bit))
            return 1;
    return 0;
}

int stage__future_on(stage__theatre_t *t, stage__future_t *f,
                     stage__cont_kind_t kind, uint64_t actor, stage__cont_fn fn,
                     void *arg) {
    stage__cont_t *c = stage__malloc(sizeof *c);
    if (!c) return STAGE_ENOMEM;
    c->kind = kind;
    c->actor = actor;
    c->fn = fn;
    c->arg = arg;
    c->next = NULL;
    stage__cont_t **p = &f->conts; /* keep registration order */
    while (*p)
        p = &(*p)->next;
    *p = c;
    f->observed = true;
    if (stage__future_mark(f, FUT_WAITING)) return 0;
    (void)t;
    notify_owner(f); /* already done: fire on the owner's next pass */
    return 0;
}

void stage__future_fire(stage__theatre_t *t, stage__future_t *f) {
    atomic_store(&f->queued, false);
    stage__cont_t *c;
    while ((c = f->conts)) {
        f->conts = c->next;
        if (c->kind == CONT_RESUME) {
            stage__actor_t *a = stage__actor_find(t, c->actor);
            if (a && (a->flags & ACTOR_SUSPENDED)) stage__actor_ready(t, a);
        } else {
            c->fn(t, f, c->arg);
        }
        stage__free(c);
    }
    stage__future_unref(f); /* the inbox's reference */
}
