/*
** core/move.c: moves between the theatres of one node (core/move.h says
** the scheme: the birth theatre B sequences an actor's messages and moves).
**
** A move, for actor A born in B, at C, going to D (any may be equal):
**   request -> B: queued if A is moving; else hub.moving (B holds A's
**              messages from now on), OUT sent to C behind all B forwarded
**   NEAR at E: (a move next to actor E, born in theatre E) where E is
**              now: its hub's, or here; not there: ActorNotFound. Then on
**   OUT at C:  A suspended in a handler: it waits (ACTOR_MOVING) until the
**              handler ends; else export (departing runs). Refused: A stays,
**              RELEASE to B. Exported: A is kept at C, ACTOR_LEAVING (it
**              takes nothing; the watches on it, its C timers and its own
**              monitors go with the move); IMPORT to D with the image,
**              straight (not through B: B holds A's messages until the
**              RELEASE either way)
**   IMPORT at D: import (the watches are given, then arrived runs), COMMIT
**              to C, the future completes, RELEASE to B. Failed: ABORT to C
**   COMMIT at C: A is dropped there.  ABORT at C: A serves on at C
**              (arrived runs again, the watches come back), RELEASE to B
**   RELEASE at B: hub.at = where A is; the held messages go there in order
**              (into A's mailbox if that is B); a failed move's future
**              completes; the next queued move starts; an actor back home
**              drops its hub.
**   STEAL at B (steal.c: A at home, between turns, never moved): hub.moving
**              and the export at once, as OUT at C does, C being B.
** Keeping A at C until D has it means a failed import (a type whose decode
** refuses the state) leaves A as it was: nothing is decoded to restore it.
** The future completes at D, before B forwards again: what its caller
** sends next enters B, which holds it until the RELEASE, behind what it
** held before.
** Threads: each step runs on the theatre named, as an ENV_CALL.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "core/envelope.h"
#include "core/directory.h"
#include "core/image.h"
#include "core/monitor.h"
#include "core/move.h"
#include "core/node.h"
#include "core/timer.h"
#include "util/alloc.h"
#include "util/log.h"

typedef struct stage__move move_t;
struct stage__move {
    move_t *next; /* queued behind the move under way */
    uint64_t serial;
    int to;     /* where it goes */
    int at;     /* where it is (set as the move goes) */
    int left;   /* the theatre it is kept at while its image travels */
    bool self;  /* asked by the actor itself: no future; failures logged */
    bool steal; /* a hand-over of steal.c: no future; failures silent */
    bool near;  /* to: where actor `by` is (resolved at its birth theatre) */
    stage_id_t by;
    stage__future_t *f;
    stage_id_t id;
    stage_pack_t image;
    stage__env_t *back; /* COMMIT or ABORT to `left`: made at the export, so
                        ** that the theatre holding A always hears */
    void *watches;      /* the watches on A (core/monitor.h) as it travels */
    stage__timer_t *timers; /* its timers that travel (core/timer.h) */
    void *own;              /* its own monitors that travel */
    int rc;
    char err[512];
};

typedef struct hub {
    int at;      /* the theatre the actor is at */
    int going;   /* while moving: where to */
    bool moving; /* a move is under way: messages are held */
    stage__env_t *head, *tail;
    move_t *qhead, *qtail;
} hub_t;

static void hub_start(stage__theatre_t *t, hub_t *h, move_t *m);

/* Free m (its future reference, its image, what it carries). */
static void move_free(move_t *m) {
    if (m->f) stage__future_unref(m->f);
    if (m->back) {
        m->back->drop = NULL;
        stage__env_free(m->back);
    }
    stage__monitors_drop_watches(m->watches);
    stage__timers_drop(m->timers);
    stage__monitors_drop_own(m->own);
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
        char idt[STAGE_ID_TEXT_MAX] = "?", by[STAGE_ID_TEXT_MAX];
        if (m->id.serial) stage_id_format(&m->id, idt, sizeof idt);
        if (m->near) {
            stage_id_format(&m->by, by, sizeof by);
            LOG_WARN("actor '%s' did not move next to actor '%s' and stays "
                     "in theatre %d: %s",
                     idt, by, m->at, m->err);
        } else {
            LOG_WARN("actor '%s' did not move to theatre %d and stays in "
                     "theatre %d: %s",
                     idt, m->to, m->at, m->err);
        }
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

/* Hand e to the actor at theatre at (B's thread: t is its birth theatre).
** A theatre call (a watch request, stage__move_follow) runs there. */
static void forward(stage__theatre_t *t, int at, stage__env_t *e) {
    if (at != t->index) {
        stage__theatre_post(stage__node_theatre(t->node, at), e);
        return;
    }
    if (e->hdr.kind == ENV_CALL && !e->target) {
        e->call(t, NULL, e);
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

/* At C, where A is kept while its image travels (ACTOR_LEAVING): the move
** is over. Arrived (m->rc 0, e->arg NULL, A's serial in e->sender): A is
** dropped here. Not (e->arg m): A serves on here, as it was. */
static void leave_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)a;
    move_t *m = e->arg;
    uint64_t serial = m ? m->serial : e->sender;
    stage__env_free(e);
    stage__actor_t *x = stage__actor_find(t, serial);
    if (!x || !(x->flags & ACTOR_LEAVING)) { /* cannot happen */
        LOG_ERROR("theatre %d: the actor a move left here is gone", t->index);
        if (m) release(t, m);
        return;
    }
    if (!m) {
        stage__actor_export_commit(t, x);
        return;
    }
    m->back = NULL;
    x->flags &= ~(ACTOR_LEAVING | ACTOR_MOVING);
    if (stage__dir_add(x->type, x))
        LOG_ERROR("theatre %d: out of memory: an actor that did not move "
                  "is missing from its type's list (find_type)",
                  t->index);
    stage__monitors_give_watches(t, x, m->watches);
    m->watches = NULL;
    stage__timers_give(t, m->timers);
    m->timers = NULL;
    stage__monitors_give_own(t, x, m->own);
    m->own = NULL;
    stage__actor_export_abort(t, x, m->image.data, m->image.len);
    marked(t, serial); /* its messages may have passed through the inbox */
    if (x->mbox_head) stage__actor_schedule(t, x);
    m->at = t->index;
    release(t, m);
}

/* The drop of a COMMIT or ABORT the node's stop left in an inbox. */
static void leave_drop(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    if (e->arg) {
        ((move_t *)e->arg)->back = NULL;
        move_drop(t, a, e);
    } else {
        stage__env_free(e);
    }
}

/* Send m's ABORT (m->rc, m->err say why) to the theatre A is kept at (not
** t, its destination: export_now does not export to where A is). */
static void abort_move(stage__theatre_t *t, move_t *m) {
    stage__env_t *e = m->back;
    e->arg = m;
    assert(m->left != t->index);
    stage__theatre_post(stage__node_theatre(t->node, m->left), e);
}

/* The import made A at t: the watches on it and its timers, before its
** arrived hook runs (which may cancel a timer). */
static void adopt(stage__theatre_t *t, stage__actor_t *a, void *ud) {
    move_t *m = ud;
    stage__monitors_give_watches(t, a, m->watches);
    m->watches = NULL;
    stage__timers_give(t, m->timers); /* same deadlines, same ids */
    m->timers = NULL;
    stage__monitors_give_own(t, a, m->own); /* same ids */
    m->own = NULL;
}

/* Take the actor in at t (its destination): C drops it, its future
** completes, B forwards to it. If that fails, C keeps it. */
static void import_here(stage__theatre_t *t, move_t *m) {
    stage__import_opts_t o = {.adopt = adopt, .ud = m};
    int rc = stage__actor_import(t, m->image.data, m->image.len, &o, NULL, NULL,
                                 m->err, sizeof m->err);
    if (rc) {
        m->rc = rc;
        abort_move(t, m);
        return;
    }
    stage__env_t *e = m->back; /* COMMIT: A's serial is enough */
    m->back = NULL;
    e->arg = NULL;
    e->sender = m->serial;
    stage__theatre_post(stage__node_theatre(t->node, m->left), e);
    marked(t, m->serial);
    m->at = t->index;
    /* answered now, not after the release reaches B: what its caller
    ** sends next goes to B, which holds it until then */
    move_answer(m);
    release(t, m);
}

static void import_call(stage__theatre_t *t, stage__actor_t *a,
                        stage__env_t *e) {
    (void)a;
    import_here(t, step(e));
}

/* Export a (idle, t's thread) for m, keep it here, leaving, and send the
** image straight to its destination D, which takes it in, then tells this
** theatre (COMMIT or ABORT) and B (RELEASE). */
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
    if (!rc && (!(m->back = stage__env_call(leave_call, leave_drop, m)) ||
                !(e = stage__env_call(import_call, move_drop, m)))) {
        stage__actor_export_abort(t, a, m->image.data, m->image.len);
        rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
    }
    if (rc) {
        m->rc = rc;
        if (m->back) {
            m->back->drop = NULL;
            stage__env_free(m->back);
            m->back = NULL;
        }
        /* what cannot travel now will not later: steal.c leaves it; a
        ** busy one (a pending runtime turn) may go another time */
        if (m->steal && rc != STAGE_EBUSY) a->flags |= ACTOR_NOSTEAL;
        if (a->mbox_head) stage__actor_schedule(t, a);
        release(t, m);
        return;
    }
    /* kept here, taking nothing, until its import is done: its messages
    ** (at B) and watch requests are held, its mailbox stays for a refusal */
    a->flags |= ACTOR_LEAVING | ACTOR_MOVING;
    stage__dir_remove(a->type, a);
    m->left = t->index;
    m->watches = stage__monitors_take_watches(t, a->serial);
    m->timers = stage__timers_take(t, a->serial);
    m->own = stage__monitors_take_own(t, a->serial);
    stage__theatre_post(stage__node_theatre(t->node, m->to), e);
}

/* At C: everything B forwarded is in the mailbox; export once idle. */
static void out_here(stage__theatre_t *t, move_t *m) {
    stage__actor_t *a = stage__actor_find(t, m->serial);
    if (m->rc) { /* a move it asked itself, refused before it started: it
                 ** takes messages again */
        if (a && m->self && !a->move) {
            a->flags &= ~ACTOR_MOVING;
            if (a->mbox_head) stage__actor_schedule(t, a);
        }
        m->at = t->index;
        release(t, m);
        return;
    }
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
    h->going = m->rc ? h->at : m->to;
    m->at = h->at;
    stage__theatre_t *d = m->rc ? NULL : stage__node_theatre(t->node, m->to);
    if (d && m->to != h->at &&
        atomic_load_explicit(&d->stuck, memory_order_relaxed) &&
        atomic_load_explicit(&d->in_turn, memory_order_relaxed)) {
        m->rc = STAGE_EBUSY;
        snprintf(m->err, sizeof m->err,
                 "theatre %d is stuck in one long call (see the log): the "
                 "actor stays in theatre %d; ask again once it runs",
                 m->to, h->at);
    }
    /* refused: ends here, but for a move the actor asked itself, which
    ** goes by the actor, so that it takes messages again (out_here) */
    if (m->rc && !m->self) {
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

/* At B: start m, or queue it behind the move under way. */
static void request_here(stage__theatre_t *t, move_t *m) {
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

static void request_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    request_here(t, step(e));
}

/* At the birth theatre of m->by (t): where that actor is now goes into
** m->to (where it goes, if it is moving), and m on to A's birth theatre;
** not there (it stopped), m fails with ActorNotFound naming it. */
static void near_here(stage__theatre_t *t, move_t *m) {
    hub_t *h = hub_get(t, m->by.serial);
    stage__actor_t *x = h ? NULL : stage__actor_find(t, m->by.serial);
    if (!h && (!x || (x->flags & ACTOR_DEAD))) {
        char by[STAGE_ID_TEXT_MAX];
        stage_id_format(&m->by, by, sizeof by);
        m->rc = STAGE_EACTOR_NOT_FOUND;
        snprintf(m->err, sizeof m->err,
                 "cannot move next to actor '%s': it was not found (it "
                 "stopped, or never existed); give a live actor or a theatre",
                 by);
        if (!m->self) { /* else it goes by the actor (hub_start) */
            move_finish(t->node, m);
            return;
        }
    } else {
        m->to = !h ? t->index : h->moving ? h->going : h->at;
    }
    int b = stage__serial_theatre(m->serial);
    if (b == t->index) {
        request_here(t, m);
    } else if (post(t->node, b, request_call, m)) {
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        move_finish(t->node, m);
    }
}

static void near_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    near_here(t, step(e));
}

/* Post a move of serial to `to`, or next to actor *by (not NULL); *who,
** if known, is the actor's id (for the log of a refused self move). */
static int migrate(stage_node_t *node, uint64_t serial, int to,
                   const stage_id_t *by, stage__future_t *f, bool self,
                   const stage_id_t *who) {
    int b = stage__serial_theatre(serial);
    int first = by ? stage__serial_theatre(by->serial) : b;
    if ((!by && !stage__node_theatre(node, to)) ||
        !stage__node_theatre(node, b) || !stage__node_theatre(node, first))
        return STAGE_EINVAL;
    move_t *m = stage__calloc(1, sizeof *m);
    if (!m) return STAGE_ENOMEM;
    m->serial = serial;
    m->to = by ? -1 : to;
    m->at = -1;
    m->left = -1;
    m->self = self;
    m->near = by != NULL;
    if (by) m->by = *by;
    if (who) m->id = *who;
    m->f = f;
    stage_pack_init(&m->image);
    if (f) stage__future_ref(f);
    if (post(node, first, by ? near_call : request_call, m)) {
        if (f) stage__future_unref(f);
        m->f = NULL;
        move_free(m);
        return STAGE_ENOMEM;
    }
    return 0;
}

int stage__migrate(stage_node_t *node, uint64_t serial, int to,
                   stage__future_t *f, bool self) {
    return migrate(node, serial, to, NULL, f, self, NULL);
}

int stage__migrate_near(stage_node_t *node, uint64_t serial,
                        const stage_id_t *by, stage__future_t *f, bool self) {
    if (!by || !stage__id_is_local(node, by)) return STAGE_EINVAL;
    return migrate(node, serial, -1, by, f, self, NULL);
}

/* ---- a move the actor asks of itself --------------------------------------
 */

typedef struct later {
    int to;
    bool near;
    stage_id_t by;
} later_t;

/* Ask the move of a itself now: it takes no message until it has moved. */
static int self_now(stage__theatre_t *t, stage__actor_t *a, int to,
                    const stage_id_t *by) {
    stage_id_t who;
    stage__make_id(t->node, a->serial, a->type, &who);
    a->flags |= ACTOR_MOVING;
    int rc = migrate(t->node, a->serial, to, by, NULL, true, &who);
    if (rc) a->flags &= ~ACTOR_MOVING;
    return rc;
}

/* The turn of a move asked in arrived: the messages it came with ran. */
static void later_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    later_t *l = e->arg;
    int rc = a && !(a->flags & (ACTOR_MOVING | ACTOR_STOPPING))
                 ? self_now(t, a, l->to, l->near ? &l->by : NULL)
                 : 0;
    if (rc) {
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_t id;
        stage__make_id(t->node, a->serial, a->type, &id);
        stage_id_format(&id, idt, sizeof idt);
        LOG_WARN("actor '%s' did not move as its arrived hook asked: out of "
                 "memory",
                 idt);
    }
    stage__free(l);
    stage__env_free(e);
}

static void later_drop(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)t;
    (void)a;
    stage__free(e->arg);
    stage__env_free(e);
}

int stage__migrate_self(stage__theatre_t *t, stage__actor_t *a, int to,
                        const stage_id_t *by) {
    if (a->flags & ACTOR_MOVING) return STAGE_EINVAL;
    if (by ? !stage__id_is_local(t->node, by)
           : !stage__node_theatre(t->node, to))
        return STAGE_EINVAL;
    if (!(a->flags & ACTOR_ARRIVING)) return self_now(t, a, to, by);
    /* asked in arrived: after the messages it came with (a turn behind
    ** them), so that an actor moving on at every arrival still serves */
    later_t *l = stage__calloc(1, sizeof *l);
    stage__env_t *e = l ? stage__env_call(later_call, later_drop, l) : NULL;
    if (!e) {
        stage__free(l);
        return STAGE_ENOMEM;
    }
    l->to = to;
    l->near = by != NULL;
    if (by) l->by = *by;
    e->target = a->serial;
    e->target_type = a->type;
    stage__actor_enqueue(t, a, e);
    return 0;
}

int stage__move_steal(stage__theatre_t *t, stage__actor_t *a, int to) {
    if ((a->flags & (ACTOR_MOVING | ACTOR_LEAVING | ACTOR_SUSPENDED)) ||
        (t->hubs.count && hub_get(t, a->serial))) {
        /* a move asked of it is under way (refused at its start, say, its
        ** release still on its way here; or a move it asked itself, on
        ** its way to here): it is that move's */
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
    m->at = t->index;
    m->left = -1;
    m->steal = true;
    stage_pack_init(&m->image);
    h->at = t->index;
    h->going = to; /* a move next to it goes there (near_here) */
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

int stage__move_follow(stage__theatre_t *t, uint64_t serial, stage__env_t *e) {
    int b = stage__serial_theatre(serial);
    if (b != t->index) {
        stage__theatre_post(stage__node_theatre(t->node, b), e);
        return 1;
    }
    hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
    if (!h || (!h->moving && h->at == t->index)) return 0;
    if (!h->moving) {
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

void stage__move_leaving(stage__theatre_t *t, stage__env_t *e) {
    if (!stage__move_follow(t, e->target, e))
        stage__env_undeliverable(t->node, e); /* cannot happen: B holds */
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
