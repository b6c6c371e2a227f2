/*
** core/move.c: moves between the theatres of one node (core/move.h says
** the scheme: the birth theatre B sequences an actor's messages and moves).
**
** A move, for actor A born in B, at C, going to D (any may be equal):
**   request -> B: queued if A is moving; else hub.moving (B holds A's
**              messages from now on), OUT sent to C behind all B forwarded
**   OUT at C:  A suspended in a handler: it waits (ACTOR_MOVING) until the
**              handler ends; else export (departing runs). Refused: A stays,
**              RELEASE to B. Exported: A leaves C, IMPORT to D with the
**              image
**   IMPORT at D: import (arrived runs); the future completes; RELEASE to
**              B. Failed: the image goes back to C (RESTORE), which
**              imports it again, then RELEASE
**   RELEASE at B: hub.at = where A is; the held messages go there in order
**              (into A's mailbox if that is B); a failed move's future
**              completes; the next queued move starts; an actor back home
**              drops its hub.
** Threads: each step runs on the theatre named, as an ENV_CALL.
*/
#include <stdio.h>
#include <string.h>

#include "core/envelope.h"
#include "core/image.h"
#include "core/move.h"
#include "core/node.h"
#include "util/alloc.h"
#include "util/log.h"

typedef struct stage__move move_t;
struct stage__move {
    move_t *next; /* queued behind the move under way */
    uint64_t serial;
    int to;     /* where it goes */
    int at;     /* where it is (set as the move goes) */
    bool self;  /* asked by the actor itself: no future; failures logged */
    bool steal; /* a hand-over of steal.c: no future; failures silent */
    stage__future_t *f;
    stage_id_t id;
    stage_pack_t image;
    int rc;
    char err[512];
};

typedef struct hub {
    int at;      /* the theatre the actor is at */
    bool moving; /* a move is under way: messages are held */
    stage__env_t *head, *tail;
    move_t *qhead, *qtail;
} hub_t;

static void hub_start(stage__theatre_t *t, hub_t *h, move_t *m);

/* Free m (its future reference, its image). */
static void move_free(move_t *m) {
    if (m->f) stage__future_unref(m->f);
    stage_pack_free(&m->image);
    stage__free(m);
}

/* Complete m's future, if it has one, with the actor's id, or its
** failure, and let go of it. */
static void move_answer(move_t *m) {
    if (!m->f) return;
    if (m->rc == 0) {
        stage_pack_t p;
        stage_pack_init(&p);
        stage_pack_id(&p, &m->id);
        if (stage_pack_error(&p))
            stage__future_reject(m->f, STAGE_ENOMEM, "out of memory", NULL,
                                 NULL);
        else
            stage__future_resolve(m->f, p.data, p.len);
        stage_pack_free(&p);
    } else {
        stage__future_reject(m->f, m->rc, m->err, NULL, NULL);
    }
    stage__future_unref(m->f);
    m->f = NULL;
}

/* Complete m's future (see move_answer; a self move's failure is logged,
** a steal's is not), and free m. */
static void move_finish(stage_node_t *node, move_t *m) {
    if (m->rc && !m->f && !m->steal) {
        char idt[STAGE_ID_TEXT_MAX] = "?";
        if (m->id.serial) stage_id_format(&m->id, idt, sizeof idt);
        LOG_WARN("actor '%s' did not move to theatre %d and stays in theatre "
                 "%d: %s",
                 idt, m->to, m->at, m->err);
    }
    move_answer(m);
    (void)node;
    move_free(m);
}

/* The node stopped before a step ran: the move fails, its image is lost. */
static void move_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    move_t *m = e->arg;
    if (m->image.len && m->f)
        stage__image_drop(m->f->node, m->image.data, m->image.len,
                          STAGE_ESTOPPED, "the node stopped during the move");
    if (m->f)
        stage__future_reject(m->f, STAGE_ESTOPPED,
                             "the node stopped during the move", NULL, NULL);
    move_free(m);
    stage__env_free(e);
}

/* Run fn(m) on theatre `to`. 0 or STAGE_ENOMEM (m untouched). */
static int post(stage_node_t *node, int to, stage__call_fn fn, move_t *m) {
    stage__env_t *e = stage__env_call(fn, move_drop, m);
    if (!e) return STAGE_ENOMEM;
    stage__theatre_post(stage__node_theatre(node, to), e);
    return 0;
}

/* The step in e, with its move. */
static move_t *step(stage__env_t *e) {
    move_t *m = e->arg;
    stage__env_free(e);
    return m;
}

static hub_t *hub_get(stage__theatre_t *t, uint64_t serial) {
    return stage__u64map_get(&t->hubs, serial);
}

/* Hand e to the actor at theatre at (B's thread: t is its birth theatre). */
static void forward(stage__theatre_t *t, int at, stage__env_t *e) {
    if (at != t->index) {
        stage__theatre_post(stage__node_theatre(t->node, at), e);
        return;
    }
    stage__actor_t *a = stage__actor_find(t, e->target);
    if (a)
        stage__actor_enqueue(t, a, e);
    else
        stage__env_undeliverable(t->node, e);
}

/* ---- at the birth theatre ----------------------------------------------- */

/* The move m is over (m->at: where the actor is): forward what was held,
** complete m, start the next queued move or drop a hub no longer needed.
** B's thread. */
static void hub_release(stage__theatre_t *t, move_t *m) {
    uint64_t serial = m->serial;
    hub_t *h = hub_get(t, serial);
    if (!h) { /* cannot happen: a move holds its hub */
        move_finish(t->node, m);
        return;
    }
    h->at = m->at;
    h->moving = false;
    for (stage__env_t *e; (e = h->head);) {
        h->head = e->next;
        e->next = NULL;
        forward(t, h->at, e);
    }
    h->tail = NULL;
    move_finish(t->node, m);
    move_t *n = h->qhead;
    if (n) {
        if (!(h->qhead = n->next)) h->qtail = NULL;
        hub_start(t, h, n);
    } else if (h->at == t->index) {
        stage__free(stage__u64map_take(&t->hubs, serial));
    }
}

static void release_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    hub_release(t, step(e));
}

/* Send m's end to the birth theatre. t's thread. */
static void release(stage__theatre_t *t, move_t *m) {
    int b = stage__serial_theatre(m->serial);
    if (b == t->index) {
        hub_release(t, m);
    } else if (post(t->node, b, release_call, m)) {
        /* the hub keeps holding: say so loudly */
        LOG_ERROR("out of memory ending the move of an actor: messages to it "
                  "wait in theatre %d",
                  b);
        move_free(m);
    }
}

/* The actor serial arrived in t by a move: at its birth theatre, the
** messages its senders there sent while it was away may still be in the
** inbox, behind a push another thread has not finished linking, so the
** local fast path (stage__route) must not pass them: it is off for it. */
static void marked(stage__theatre_t *t, uint64_t serial) {
    stage__actor_t *a = stage__actor_find(t, serial);
    if (a) a->flags |= ACTOR_MOVED;
}

/* ---- at the actor's theatres --------------------------------------------- */

/* The image came back from a theatre that could not take the actor in:
** take it in again where it was (C). */
static void restore_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    move_t *m = step(e);
    char err[512];
    if (stage__actor_import(t, m->image.data, m->image.len, NULL, NULL, NULL,
                            err, sizeof err)) {
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&m->id, idt, sizeof idt);
        LOG_ERROR("actor '%s' lost: it could not move to theatre %d (%s), "
                  "nor be taken back in theatre %d: %s",
                  idt, m->to, m->err, t->index, err);
        stage__image_drop(t->node, m->image.data, m->image.len, STAGE_ENOMEM,
                          err);
    }
    marked(t, m->serial);
    m->at = t->index;
    release(t, m);
}

/* Take the actor in at t (its destination); if that fails, the image goes
** back to the theatre it left. */
static void import_here(stage__theatre_t *t, move_t *m, int left) {
    int rc = stage__actor_import(t, m->image.data, m->image.len, NULL, NULL,
                                 NULL, m->err, sizeof m->err);
    if (!rc) {
        marked(t, m->serial);
        m->at = t->index;
        /* answered now, not after the release reaches B: what its caller
        ** sends next goes to B, which holds it until then */
        move_answer(m);
        release(t, m);
        return;
    }
    m->rc = rc;
    if (left == t->index || post(t->node, left, restore_call, m)) {
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&m->id, idt, sizeof idt);
        LOG_ERROR("actor '%s' lost: it could not move to theatre %d: %s", idt,
                  t->index, m->err);
        stage__image_drop(t->node, m->image.data, m->image.len, rc, m->err);
        m->at = t->index;
        release(t, m);
    }
}

static void import_call(stage__theatre_t *t, stage__actor_t *a,
                        stage__env_t *e) {
    (void)a;
    move_t *m = step(e);
    import_here(t, m, m->at);
}

/* Export a (idle, t's thread) for m, and send the image to its
** destination D, which takes it in and tells B. (Not through B: B holds
** a's messages until D's release whichever way the image goes, and a
** failed import sends it back to C.) */
static void export_now(stage__theatre_t *t, stage__actor_t *a, move_t *m) {
    a->move = NULL;
    a->flags &= ~ACTOR_MOVING;
    stage__make_id(t->node, a->serial, a->type, &m->id);
    m->at = t->index;
    if (m->to == t->index) { /* there already */
        if (a->mbox_head) stage__actor_schedule(t, a);
        release(t, m);
        return;
    }
    stage__env_t *e = NULL;
    int rc = stage__actor_export(t, a, &m->image, m->err, sizeof m->err);
    if (!rc && !(e = stage__env_call(import_call, move_drop, m))) {
        stage__actor_export_abort(t, a, m->image.data, m->image.len);
        rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
    }
    if (rc) {
        m->rc = rc;
        /* what cannot travel now will not later: steal.c leaves it; a
        ** busy one (a pending runtime turn) may go another time */
        if (m->steal && rc != STAGE_EBUSY) a->flags |= ACTOR_NOSTEAL;
        if (a->mbox_head) stage__actor_schedule(t, a);
        release(t, m);
        return;
    }
    stage__actor_export_commit(t, a);
    stage__theatre_post(stage__node_theatre(t->node, m->to), e);
}

/* At C: everything B forwarded is in the mailbox; export once idle. */
static void out_here(stage__theatre_t *t, move_t *m) {
    stage__actor_t *a = stage__actor_find(t, m->serial);
    if (!a) {
        m->rc = STAGE_EACTOR_NOT_FOUND;
        m->at = t->index;
        snprintf(m->err, sizeof m->err,
                 "actor not found in theatre %d: it stopped", t->index);
        release(t, m);
        return;
    }
    if (a->flags & ACTOR_SUSPENDED) { /* moves when its handler ends */
        a->move = m;
        a->flags |= ACTOR_MOVING;
        return;
    }
    export_now(t, a, m);
}

static void out_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    out_here(t, step(e));
}

void stage__move_resume(stage__theatre_t *t, stage__actor_t *a) {
    move_t *m = a->move;
    if (!m) return; /* asked itself: the order is on its way */
    if (a->flags & ACTOR_STOPPING) {
        a->move = NULL;
        m->rc = STAGE_EACTOR_NOT_FOUND;
        m->at = t->index;
        snprintf(m->err, sizeof m->err, "the actor stopped before it moved");
        release(t, m);
        return;
    }
    export_now(t, a, m);
}

/* ---- requests ------------------------------------------------------------ */

/* Start m at B: hold A's messages, send the order behind what went to it.
** A destination the watchdog finds stuck in one long call would hold the
** actor, and its messages, until the call returns: refused (Busy). */
static void hub_start(stage__theatre_t *t, hub_t *h, move_t *m) {
    h->moving = true;
    m->at = h->at;
    stage__theatre_t *d = stage__node_theatre(t->node, m->to);
    if (m->to != h->at &&
        atomic_load_explicit(&d->stuck, memory_order_relaxed) &&
        atomic_load_explicit(&d->in_turn, memory_order_relaxed)) {
        m->rc = STAGE_EBUSY;
        snprintf(m->err, sizeof m->err,
                 "theatre %d is stuck in one long call (see the log): the "
                 "actor stays in theatre %d; ask again once it runs",
                 m->to, h->at);
        if (!post(t->node, t->index, release_call, m)) return;
        hub_release(t, m); /* no memory to post: end it here */
        return;
    }
    if (h->at == t->index) {
        out_here(t, m);
        return;
    }
    if (post(t->node, h->at, out_call, m)) {
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        hub_release(t, m);
    }
}

static void request_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    move_t *m = step(e);
    hub_t *h = hub_get(t, m->serial);
    if (h && h->moving) { /* one move at a time, in the order asked */
        m->next = NULL;
        if (h->qtail)
            h->qtail->next = m;
        else
            h->qhead = m;
        h->qtail = m;
        return;
    }
    if (!h && !stage__actor_find(t, m->serial)) {
        m->rc = STAGE_EACTOR_NOT_FOUND;
        m->at = t->index;
        snprintf(m->err, sizeof m->err,
                 "actor not found: it stopped, or it is not an actor of this "
                 "node");
        move_finish(t->node, m);
        return;
    }
    if (!h) {
        if (!(h = stage__calloc(1, sizeof *h)) ||
            stage__u64map_put(&t->hubs, m->serial, h)) {
            stage__free(h);
            m->rc = STAGE_ENOMEM;
            snprintf(m->err, sizeof m->err, "out of memory");
            move_finish(t->node, m);
            return;
        }
        h->at = t->index;
    }
    hub_start(t, h, m);
}

int stage__migrate(stage_node_t *node, uint64_t serial, int to,
                   stage__future_t *f, bool self) {
    int b = stage__serial_theatre(serial);
    if (!stage__node_theatre(node, to) || !stage__node_theatre(node, b))
        return STAGE_EINVAL;
    move_t *m = stage__calloc(1, sizeof *m);
    if (!m) return STAGE_ENOMEM;
    m->serial = serial;
    m->to = to;
    m->at = -1;
    m->self = self;
    m->f = f;
    stage_pack_init(&m->image);
    if (f) stage__future_ref(f);
    if (post(node, b, request_call, m)) {
        if (f) stage__future_unref(f);
        m->f = NULL;
        move_free(m);
        return STAGE_ENOMEM;
    }
    return 0;
}

int stage__move_steal(stage__theatre_t *t, stage__actor_t *a, int to) {
    if (t->hubs.count && hub_get(t, a->serial)) {
        /* a move asked of it is under way (refused at its start, say, its
        ** release still on its way here): it is that move's */
        if (a->mbox_head) stage__actor_schedule(t, a);
        return STAGE_EBUSY;
    }
    move_t *m = stage__calloc(1, sizeof *m);
    hub_t *h = stage__calloc(1, sizeof *h);
    if (!m || !h || stage__u64map_put(&t->hubs, a->serial, h)) {
        stage__free(m);
        stage__free(h);
        if (a->mbox_head) stage__actor_schedule(t, a);
        return STAGE_ENOMEM;
    }
    m->serial = a->serial;
    m->to = to;
    m->steal = true;
    stage_pack_init(&m->image);
    h->at = t->index;
    h->moving = true;
    export_now(t, a, m); /* at home, idle: no order to wait for */
    return 0;
}

/* At B: the actor stopped at theatre e->arg (as an integer): its hub,
** if no move is under way, is dropped; later messages fail as for any
** stopped actor. */
static void gone_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    uint64_t serial = e->sender; /* a theatre call: target stays 0 */
    int at = (int)(intptr_t)e->arg;
    stage__env_free(e);
    hub_t *h = hub_get(t, serial);
    if (h && !h->moving && h->at == at)
        stage__free(stage__u64map_take(&t->hubs, serial));
}

void stage__move_gone(stage__theatre_t *t, uint64_t serial) {
    int b = stage__serial_theatre(serial);
    if (b == t->index) return; /* at home: it has no hub */
    stage__env_t *e =
        stage__env_call(gone_call, NULL, (void *)(intptr_t)t->index);
    if (!e) return; /* the hub stays: messages still fail at t */
    e->sender = serial;
    stage__theatre_post(stage__node_theatre(t->node, b), e);
}

int stage__move_miss(stage__theatre_t *t, stage__env_t *e) {
    if (!t->hubs.count || stage__serial_theatre(e->target) != t->index)
        return 0;
    hub_t *h = hub_get(t, e->target);
    if (!h) return 0;
    if (!h->moving) {
        if (h->at == t->index) return 0;
        stage__theatre_post(stage__node_theatre(t->node, h->at), e);
        return 1;
    }
    e->next = NULL;
    if (h->tail)
        h->tail->next = e;
    else
        h->head = e;
    h->tail = e;
    return 1;
}

/* Fail what hub val holds (teardown). */
static void hub_free(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    hub_t *h = val;
    for (stage__env_t *e; (e = h->head);) {
        h->head = e->next;
        stage__env_drop(e, STAGE_ESTOPPED);
    }
    for (move_t *m; (m = h->qhead);) {
        h->qhead = m->next;
        if (m->f)
            stage__future_reject(m->f, STAGE_ESTOPPED, "the node stopped", NULL,
                                 NULL);
        move_free(m);
    }
    stage__free(h);
}

void stage__move_free(stage__theatre_t *t) {
    stage__u64map_each(&t->hubs, hub_free, NULL);
    stage__u64map_free(&t->hubs);
}
