/*
** core/retry.c: calls through a name, retried once (thesis Listing 4.10).
**
** A reference found by name (Lua's find_name, the C API's lookup future)
** carries a byname: the name, and the id a retry found for it since. A call
** through such a reference keeps a copy of itself on its reply future
** (stage__retry_arm). If the reply is about to fail with ActorNotFound (the
** actor stopped, or its node restarted), NodeDown or NodeUnreachable, the
** failure is diverted here instead:
**
**   DIVERTED -> LOOKING   on the reply's owner theatre: the name is looked
**                         up again, bypassing the node's name cache
**                         (directory op STAGE__REFIND_NAME)
**   LOOKING  -> RESENT    it names another actor: the byname takes the new
**                         id (every reference made from the lookup sends
**                         there from now on) and the call goes to it with
**                         the same reply future, which holds no copy any
**                         more: a second failure is final
**   LOOKING  -> FAILED    no such name, the same actor, or the lookup
**                         failed: the reply fails with the first failure,
**                         saying what the second lookup found
**
** Other failures (a handler's error, Timeout, Stopped, ...) complete the
** reply at once, and a reply frees the copy. A one-way send has no reply
** and keeps no copy: one to an actor that is gone is lost as before (the
** node it reached logs it), but a send made after a call's retry goes to
** the new id. A retried call may arrive after later messages that went
** straight to the new actor: order holds per actor, and this is another.
**
** Threads: arm on the sender's, before routing; divert on whichever thread
** fails the reply; the lookup and the resend on the reply's owner theatre.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "retry.h"
#include "util/alloc.h"
#include "util/log.h"

struct stage__byname {
    atomic_uint refs;
    atomic_uint gen;      /* ids retries found; 0: none, id unset */
    pthread_mutex_t lock; /* guards id */
    stage_id_t id;
    char name[];
};

typedef struct stage__retry {
    stage_node_t *node;
    stage__byname_t *byname; /* a reference */
    stage_id_t sent_to;      /* where the call went */
    uint64_t sender;         /* the sending actor's serial; 0: outside */
    stage__future_t *reply;  /* a reference, once diverted */
    int status;              /* the failure diverted, and its text */
    char *message, *actor, *traceback;
    size_t mlen, len;
    char call[]; /* the method (mlen bytes, then a NUL), then the args:
                 ** the call's msgpack array (len bytes) */
} retry_t;

/* ---- names -------------------------------------------------------------- */

stage__byname_t *stage__byname_new(const char *name) {
    size_t n = strlen(name);
    stage__byname_t *b = stage__malloc(sizeof *b + n + 1);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    atomic_init(&b->gen, 0);
    pthread_mutex_init(&b->lock, NULL);
    memset(&b->id, 0, sizeof b->id);
    memcpy(b->name, name, n + 1);
    return b;
}

void stage__byname_ref(stage__byname_t *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void stage__byname_unref(stage__byname_t *b) {
    /* acq_rel: the last owner must see every write of the others */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&b->lock);
    stage__free(b);
}

void stage__target_follow(stage_node_t *node, stage__target_t *to) {
    stage__byname_t *b = to->byname;
    /* a plain load on the hot path; the lock below orders the id itself */
    unsigned gen = atomic_load_explicit(&b->gen, memory_order_relaxed);
    if (gen == to->gen || to->pending) return;
    stage_id_t id;
    pthread_mutex_lock(&b->lock);
    id = b->id;
    gen = atomic_load_explicit(&b->gen, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
    stage__target_set(node, to, &id); /* clears byname and gen: */
    to->byname = b;
    to->gen = gen;
}

/* The name now names id: every target of b follows at its next send. */
static void byname_moved(stage__byname_t *b, const stage_id_t *id) {
    pthread_mutex_lock(&b->lock);
    b->id = *id;
    atomic_fetch_add_explicit(&b->gen, 1, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
}

/* ---- the copy of a call ------------------------------------------------- */

static void retry_free(retry_t *r) {
    stage__byname_unref(r->byname);
    stage__free(r->message);
    stage__free(r->actor);
    stage__free(r->traceback);
    stage__free(r);
}

int stage__retry_arm(stage_node_t *node, stage__actor_t *a,
                     const stage__target_t *to, const char *method, size_t mlen,
                     const char *args, size_t len, stage__future_t *reply) {
    /* every call through a name pays this copy: one allocation, no more */
    retry_t *r = stage__malloc(sizeof *r + mlen + 1 + len);
    if (!r) return STAGE_ENOMEM;
    r->node = node;
    stage__byname_ref(r->byname = to->byname);
    r->sent_to = to->id;
    r->sender = a ? a->serial : 0;
    r->reply = NULL;
    r->status = 0;
    r->message = r->actor = r->traceback = NULL;
    r->mlen = mlen;
    r->len = len;
    memcpy(r->call, method, mlen);
    r->call[mlen] = '\0';
    memcpy(r->call + mlen + 1, args, len);
    /* release: whoever completes reply got it through the route that
    ** follows, which publishes r too; this costs nothing more */
    retry_t *old =
        atomic_exchange_explicit(&reply->retry, r, memory_order_release);
    if (old) retry_free(old); /* a future is armed once: cannot happen */
    return 0;
}

void stage__retry_drop(stage__future_t *f) {
    retry_t *r =
        atomic_exchange_explicit(&f->retry, NULL, memory_order_acquire);
    if (r) retry_free(r);
}

/* Fail r's reply with the failure diverted, saying what the second look
** found (why), and end r. */
static void give_up(retry_t *r, const char *why) {
    char msg[1400];
    snprintf(msg, sizeof msg, "%s (the name '%s' was looked up again: %s)",
             r->message, r->byname->name, why);
    stage__future_reject(r->reply, r->status, msg, r->actor, r->traceback);
    stage__future_unref(r->reply);
    retry_free(r);
}

/* The second lookup is done (t NULL: it never will, teardown). */
static void retry_found(stage__theatre_t *t, stage__future_t *look, void *arg) {
    retry_t *r = arg;
    stage_id_t id;
    stage_unpack_t u;
    int rc = !t ? STAGE_ESTOPPED : look->status;
    if (!rc) {
        stage_unpack_init(&u, look->data, look->len);
        rc = stage_unpack_id(&u, &id) ? STAGE_EDECODE : 0;
    }
    if (rc) {
        give_up(r, t && look->message ? look->message : stage_strerror(rc));
        return;
    }
    if (stage_id_equal(&id, &r->sent_to)) {
        give_up(r, "it still names that actor");
        return;
    }
    byname_moved(r->byname, &id);
    if (stage__future_done(r->reply)) { /* a deadline, say, came first */
        stage__future_unref(r->reply);
        retry_free(r);
        return;
    }
    char from[STAGE_ID_TEXT_MAX], to_text[STAGE_ID_TEXT_MAX];
    stage_id_format(&r->sent_to, from, sizeof from);
    stage_id_format(&id, to_text, sizeof to_text);
    LOG_DEBUG("call '%s' through the name '%s': %s (%s); sent to %s", r->call,
              r->byname->name, from, stage_err_name(r->status), to_text);
    stage__target_t to;
    stage__target_set(t->node, &to, &id); /* no name: this was the retry */
    stage__actor_t *a = r->sender ? stage__actor_find(t, r->sender) : NULL;
    /* a failure to queue it fails the reply there */
    stage__pipeline_send(t->node, a, &to, r->call, r->mlen,
                         r->call + r->mlen + 1, r->len, r->reply, false,
                         false); /* checked again: the copy is not the call */
    stage__future_unref(r->reply);
    retry_free(r);
}

/* On the reply's owner theatre: look the name up again. */
static void retry_lookup(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    retry_t *r = e->arg;
    stage__env_free(e);
    if (stage__future_done(r->reply)) {
        stage__future_unref(r->reply);
        retry_free(r);
        return;
    }
    stage__future_t *look = stage__future_new(t->node, t->index, 0);
    if (!look || stage__future_on(t, look, CONT_CALL, 0, retry_found, r)) {
        if (look) stage__future_unref(look);
        give_up(r, "out of memory");
        return;
    }
    /* the directory completes look, or holds it until it does */
    stage__directory(t->node, STAGE__REFIND_NAME, r->byname->name, &r->sent_to,
                     look);
    stage__future_unref(look);
}

/* The node stopped before its theatre took the lookup. */
static void retry_cancel(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)t;
    (void)a;
    retry_t *r = e->arg;
    stage__env_free(e);
    give_up(r, "the node stopped first");
}

static bool retryable(int status) {
    return status == STAGE_EACTOR_NOT_FOUND || status == STAGE_ENODE_DOWN ||
           status == STAGE_EUNREACHABLE;
}

static char *dup_or_null(const char *s) {
    return s ? stage__strdup(s) : NULL;
}

int stage__retry_divert(stage__future_t *f, int status, const char *message,
                        const char *actor, const char *traceback) {
    if (!retryable(status)) return 0;
    retry_t *r =
        atomic_exchange_explicit(&f->retry, NULL, memory_order_acquire);
    if (!r) return 0;
    stage__theatre_t *owner = stage__node_theatre(r->node, f->owner);
    r->status = status;
    r->message = stage__strdup(message ? message : stage_strerror(status));
    r->actor = dup_or_null(actor);
    r->traceback = dup_or_null(traceback);
    stage__env_t *e = stage__env_call(retry_lookup, retry_cancel, r);
    if (!e || !owner || !r->message || (actor && !r->actor) ||
        (traceback && !r->traceback) || stage__future_done(f) ||
        stage__node_stopping(r->node)) {
        if (e) stage__env_free(e);
        retry_free(r); /* the failure goes to f now, as without a name */
        return 0;
    }
    stage__future_ref(r->reply = f);
    stage__theatre_post(owner, e);
    return 1;
}
