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
**
** Below the core: the mechanisms both the C API and the Lua binding build
** on — a continuation added from any thread, a deadline (due), sleep, and
** join.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "node_internal.h"
#include "retry.h"
#include "util/alloc.h"
#include "util/log.h"

#ifdef STAGE_SANITIZE
#define CACHE_MAX 0 /* see the envelope cache in actor.c */
#else
#define CACHE_MAX 4096
#endif

stage__future_t *stage__future_new(stage_node_t *node, int owner,
                                   uint64_t target) {
    /* Every field set, one store each, small[] aside (data points there
    ** only once written): GCC makes a memset of the whole `rep stos`, whose
    ** start-up cost on AMD's Zen cores is a visible share of a call (as
    ** for envelopes, core/actor.c). A field added to stage__future_t is
    ** added here: the assertion counts bytes. */
    _Static_assert(sizeof(stage__future_t) == 152,
                   "a field of stage__future_t not set");
    stage__theatre_t *t = stage__current();
    stage__future_t *f = t ? t->fut_cache : NULL;
    if (f) {
        t->fut_cache = (stage__future_t *)f->conts;
        t->nfut_cache--;
    } else if (!(f = stage__malloc(sizeof *f))) {
        return NULL;
    }
    atomic_init(&f->hdr.link.next, NULL);
    f->hdr.kind = ENV_FUTURE;
    f->hdr.flags = 0;
    atomic_init(&f->refs, 1);
    atomic_init(&f->state, FUT_PENDING);
    atomic_flag_clear(&f->claimed);
    f->owner = (uint16_t)owner;
    f->observed = f->promise = false;
    atomic_init(&f->queued, false);
    f->target = target;
    f->node = node;
    f->status = 0;
    f->data = NULL;
    f->len = 0;
    f->message = f->actor = f->traceback = NULL;
    f->conts = NULL;
    f->on_done = NULL;
    f->on_done_arg = NULL;
    atomic_init(&f->retry, NULL);
    f->byname = NULL;
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
    if (f->status && stage__future_done(f) && f->status != STAGE_ESTOPPED &&
        !f->observed)
        LOG_WARN("unhandled failure%s%s: %s: %s", f->actor ? " in actor " : "",
                 f->actor ? f->actor : "", stage_err_name(f->status),
                 f->message ? f->message : stage_strerror(f->status));
    if (f->conts) drop_conts(f);
    if (atomic_load_explicit(&f->retry, memory_order_relaxed))
        stage__retry_drop(f); /* never completed */
    if (f->byname) stage__byname_unref(f->byname);
    if (f->data != f->small) stage__free(f->data);
    if (f->status) { /* only a failure has them */
        stage__free(f->message);
        stage__free(f->actor);
        stage__free(f->traceback);
    }
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
    /* relaxed: only a call through a name sets it, before its route */
    if (atomic_load_explicit(&f->retry, memory_order_relaxed))
        stage__retry_drop(f);
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
    /* a call through a name that may be retried is not failed yet: the
    ** retry completes it (core/retry.c) */
    if (atomic_load_explicit(&f->retry, memory_order_relaxed) &&
        stage__retry_divert(f, status, message, actor, traceback))
        return 1;
    if (atomic_flag_test_and_set(&f->claimed)) return 0;
    if (atomic_load_explicit(&f->retry, memory_order_relaxed))
        stage__retry_drop(f);
    f->status = status < 0 ? status : STAGE_EHANDLER;
    f->message = dup_or_null(message ? message : stage_strerror(status));
    f->actor = dup_or_null(actor);
    f->traceback = dup_or_null(traceback);
    publish(f);
    return 1;
}

void stage__future_too_large(stage__future_t *f, const char *actor,
                             size_t len) {
    char msg[STAGE_ID_TEXT_MAX + 200], size[48] = "";
    if (len) snprintf(size, sizeof size, "%zu bytes, ", len);
    snprintf(msg, sizeof msg,
             "the reply of actor '%s' is too large: %sover the limit of %zu "
             "bytes (--max-message)",
             actor, size, f->node->cfg.max_message);
    LOG_WARN("%s; its caller gets TooLarge", msg);
    stage__future_reject(f, STAGE_ETOOBIG, msg, actor, NULL);
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

/* Add a continuation, not counting as looking at f (owner theatre). */
static int add_cont(stage__future_t *f, stage__cont_kind_t kind, uint64_t actor,
                    stage__cont_fn fn, void *arg) {
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
    if (stage__future_mark(f, FUT_WAITING)) return 0;
    notify_owner(f); /* already done: fire on the owner's next pass */
    return 0;
}

int stage__future_on(stage__theatre_t *t, stage__future_t *f,
                     stage__cont_kind_t kind, uint64_t actor, stage__cont_fn fn,
                     void *arg) {
    (void)t;
    f->observed = true;
    return add_cont(f, kind, actor, fn, arg);
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

/* ---- a continuation from any thread ------------------------------------- */

typedef struct on_req {
    stage__future_t *f; /* a reference until the owner has registered */
    stage__cont_fn fn;
    void *arg;
} on_req_t;

static void on_register(stage__theatre_t *t, stage__actor_t *a,
                        stage__env_t *e) {
    (void)a;
    on_req_t *r = e->arg;
    if (stage__future_on(t, r->f, CONT_CALL, 0, r->fn, r->arg))
        r->fn(NULL, r->f, r->arg);
    stage__future_unref(r->f);
    stage__free(r);
    stage__env_free(e);
}

static void on_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    on_req_t *r = e->arg;
    r->fn(NULL, r->f, r->arg);
    stage__future_unref(r->f);
    stage__free(r);
    stage__env_free(e);
}

int stage__future_on_any(stage__future_t *f, stage__cont_fn fn, void *arg) {
    stage__theatre_t *owner = stage__node_theatre(f->node, f->owner);
    if (stage__current() == owner)
        return stage__future_on(owner, f, CONT_CALL, 0, fn, arg);
    on_req_t *r = stage__malloc(sizeof *r);
    stage__env_t *e = r ? stage__env_call(on_register, on_drop, r) : NULL;
    if (!e) {
        stage__free(r);
        return STAGE_ENOMEM;
    }
    *r = (on_req_t){f, fn, arg};
    stage__future_ref(f);
    stage__theatre_post(owner, e);
    return 0;
}

/* ---- timers that complete futures: due, sleep --------------------------- */

static void timed_drop(stage__timer_t *tm) {
    stage__future_unref(tm->arg);
}

/* A timer of t calling fire(t, tm) after secs, tm->arg = f (a reference
** it holds). Returns it with the caller's reference, or NULL. */
static stage__timer_t *future_timer(stage__theatre_t *t, stage__future_t *f,
                                    double secs, stage__timer_fn fire) {
    stage__future_ref(f);
    stage__timer_t *tm = stage__timer_new(t, secs, 0, fire, f);
    if (!tm) {
        stage__future_unref(f);
        return NULL;
    }
    tm->drop = timed_drop;
    return tm;
}

static void due_fire(stage__theatre_t *t, stage__timer_t *tm) {
    (void)t;
    char msg[96];
    snprintf(msg, sizeof msg, "no result within %g s", tm->span);
    stage__future_reject(tm->arg, STAGE_ETIMEOUT, msg, NULL, NULL);
}

/* f completed (or is being freed): the deadline is moot. */
static void due_done(stage__theatre_t *t, stage__future_t *f, void *arg) {
    (void)f;
    stage__timer_t *tm = arg;
    if (t) stage__timer_cancel(t, tm);
    stage__timer_unref(tm);
}

int stage__future_due(stage__theatre_t *t, stage__future_t *f, double secs) {
    if (stage__future_done(f)) return 0;
    stage__timer_t *tm = future_timer(t, f, secs, due_fire);
    if (!tm) return STAGE_ENOMEM;
    /* Our reference goes to the continuation that disarms the timer when
    ** f completes first. It does not count as looking at f. */
    if (add_cont(f, CONT_CALL, 0, due_done, tm))
        stage__timer_unref(tm); /* the deadline stays; only disarming goes */
    return 0;
}

static void sleep_fire(stage__theatre_t *t, stage__timer_t *tm) {
    (void)t;
    stage__future_resolve(tm->arg, "\xc0", 1); /* nil */
}

stage__future_t *stage__future_sleep(stage__theatre_t *t, double secs) {
    stage__future_t *f = stage__future_new(t->node, t->index, 0);
    if (!f) return NULL;
    stage__timer_t *tm = future_timer(t, f, secs, sleep_fire);
    if (!tm) {
        stage__future_unref(f);
        return NULL;
    }
    stage__timer_unref(tm); /* the heap keeps it until it fires */
    return f;
}

/* ---- join --------------------------------------------------------------- */

/* The parts' continuations may run on several theatres at once: the
** counts are atomic, and the last arrival builds the result. The join
** holds a part only once it has completed (got[i]), so a part nobody can
** complete any more is freed, and fails the join, instead of living on. */
typedef struct joinst {
    stage__future_t *result;
    atomic_size_t pending; /* parts not arrived, + 1 while joining */
    atomic_bool failed;    /* a failure was forwarded to result */
    atomic_int lost;       /* why a part will never give a value, or 0 */
    size_t n;
    stage__future_t **want; /* the parts, not held: matched by address */
    _Atomic(stage__future_t *) got[]; /* the completed parts, held */
} joinst_t;

/* One part arrived (or the join finished setting up). The last one builds
** the array; acq_rel on pending makes every earlier arrival's writes (its
** part in got, the flags) visible to it. */
static void join_arrive(joinst_t *js) {
    if (atomic_fetch_sub_explicit(&js->pending, 1, memory_order_acq_rel) != 1)
        return;
    stage__future_t *r = js->result;
    int lost = atomic_load(&js->lost);
    if (atomic_load(&js->failed)) {
        /* the result has the first failure */
    } else if (lost) {
        stage__future_reject(
            r, lost,
            lost == STAGE_ESTOPPED    ? "the node stopped before the join "
                                        "completed"
            : lost == STAGE_ECANCELED ? "a future of the join was released "
                                        "before it completed"
                                      : "out of memory joining futures",
            NULL, NULL);
    } else {
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_array(&p, (uint32_t)js->n);
        for (size_t i = 0; i < js->n; i++)
            stage_pack_raw(&p, js->got[i]->data, js->got[i]->len);
        if (stage_pack_error(&p))
            stage__future_reject(r, STAGE_ENOMEM, NULL, NULL, NULL);
        else
            stage__future_resolve(r, p.data, p.len);
        stage_pack_free(&p);
    }
    for (size_t i = 0; i < js->n; i++)
        if (js->got[i]) stage__future_unref(js->got[i]);
    stage__future_unref(r);
    stage__free(js->want);
    stage__free(js);
}

/* A part will never give its value: the first reason is kept. */
static void join_lose(joinst_t *js, int why) {
    int none = 0;
    atomic_compare_exchange_strong(&js->lost, &none, why);
}

static void join_fire(stage__theatre_t *t, stage__future_t *f, void *arg) {
    joinst_t *js = arg;
    if (!t) {
        join_lose(js, stage__node_stopping(f->node) ? STAGE_ESTOPPED
                                                    : STAGE_ECANCELED);
    } else {
        /* keep its value; a part listed twice fills its slots in turn */
        for (size_t i = 0; i < js->n; i++) {
            stage__future_t *none = NULL;
            if (js->want[i] == f &&
                atomic_compare_exchange_strong(&js->got[i], &none, f)) {
                stage__future_ref(f);
                break;
            }
        }
        if (f->status && !atomic_exchange(&js->failed, true))
            stage__future_forward(js->result, f);
    }
    join_arrive(js);
}

stage__future_t *stage__future_join(stage_node_t *node, int owner,
                                    stage__future_t *const *parts, size_t n) {
    joinst_t *js = stage__calloc(1, sizeof *js + n * sizeof js->got[0]);
    stage__future_t **want = js ? stage__malloc(n * sizeof *want) : NULL;
    stage__future_t *r = want ? stage__future_new(node, owner, 0) : NULL;
    if (!r) {
        stage__free(want);
        stage__free(js);
        return NULL;
    }
    js->result = r;
    stage__future_ref(r); /* the join's; the caller has the other */
    js->n = n;
    js->want = want;
    atomic_init(&js->pending, n + 1); /* +1: nothing completes r before the
                                      ** loop below has ended */
    stage__theatre_t *cur = stage__current();
    stage__actor_t *run = cur && cur->node == node ? cur->running : NULL;
    for (size_t i = 0; i < n; i++) {
        want[i] = parts[i];
        /* the join waits on every part: if one needs the running actor,
        ** awaiting the join deadlocks as awaiting that part would */
        if (!r->target || (run && parts[i]->target == run->serial))
            r->target = parts[i]->target;
    }
    for (size_t i = 0; i < n; i++) {
        if (stage__future_on_any(parts[i], join_fire, js)) {
            join_lose(js, STAGE_ENOMEM);
            join_arrive(js);
        }
    }
    join_arrive(js); /* the +1 */
    return r;
}
