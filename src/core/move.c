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
#include "node_internal.h"
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
    /* inside the node: A's queued messages, handed over as they are (the
    ** image is bare: a move costs the state, not the backlog) */
    stage__env_t *mbox_head, *mbox_tail;
    int rc;
    char err[512];
    /* between nodes (the section "between nodes" below) */
    char node_to[STAGE_ADDR_MAX]; /* "": a theatre of this node */
    bool ship;       /* at a guest's node for its home: the image goes home */
    stage_id_t home; /* ship: the actor's home id */
    char wait[STAGE_ADDR_MAX]; /* the node whose answer the hub waits for */
};

typedef struct hub {
    int at;      /* the theatre the actor is at */
    int going;   /* while moving: where to */
    bool moving; /* a move is under way: messages are held */
    stage__env_t *head, *tail;
    move_t *qhead, *qtail;
    /* between nodes */
    move_t *cur;     /* the move under way */
    bool remote;     /* the actor lives on another node, as rid */
    stage_id_t rid;  /* ... or, for a guest that left, its home */
    bool guest;      /* an alias at a node the actor arrived at */
    stage_id_t home; /* guest: its home id, which sequences it */
    stage_id_t me;   /* at home: the actor's id (set when it first leaves) */
    bool handing;    /* at home: ADOPT sent, no answer yet (the drain) */
    bool handed;     /* ... answered: rid is its own home now */
    /* guest: the ids that led to its home id before it (a msgpack array,
    ** or NULL; its IMPORT's), for an orphan takeover (orphans_adopt) */
    char *formers;
    size_t flen;
} hub_t;

static void hub_start(stage__theatre_t *t, hub_t *h, move_t *m);
static bool guest_ask(stage__theatre_t *t, hub_t *h, move_t *m);
static bool net_finish(stage_node_t *node, move_t *m);
static bool net_start(stage__theatre_t *t, hub_t *h, move_t *m);
static bool net_in(stage__theatre_t *t, hub_t *h, move_t *m);
static const stage__import_opts_t *import_opts(move_t *m,
                                               stage__import_opts_t *o);
static void guest_gone(stage__theatre_t *t, hub_t *h, uint64_t serial);
static bool handed_ask(stage__theatre_t *t, hub_t *h, move_t *m);

/* Free m (its future reference, its image, what it carries). */
static void move_free(move_t *m) {
    if (m->f) stage__future_unref(m->f);
    for (stage__env_t *e; (e = m->mbox_head);) { /* the node stopped */
        m->mbox_head = e->next;
        stage__env_drop(e, STAGE_ESTOPPED);
    }
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
    if (net_finish(node, m)) return;
    if (m->rc && !m->f && !m->steal) {
        char idt[STAGE_ID_TEXT_MAX] = "?", by[STAGE_ID_TEXT_MAX];
        if (m->id.serial) stage_id_format(&m->id, idt, sizeof idt);
        if (m->near) {
            stage_id_format(&m->by, by, sizeof by);
            LOG_WARN("actor '%s' did not move next to actor '%s' and stays "
                     "in theatre %d: %s",
                     idt, by, m->at, m->err);
        } else if (m->node_to[0]) {
            LOG_WARN("actor '%s' did not move to node '%s' and stays where "
                     "it was: %s",
                     idt, m->node_to, m->err);
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

/* Hold e at the end of what h holds while its actor moves. */
static void hub_hold(hub_t *h, stage__env_t *e) {
    e->next = NULL;
    if (h->tail)
        h->tail->next = e;
    else
        h->head = e;
    h->tail = e;
}

/* Hand e to the actor at theatre at (B's thread: t is its birth theatre),
** or, h remote, on the node it lives at. A theatre call (a watch request,
** stage__move_follow) runs there; for an actor on another node, here,
** where it finds the actor gone (watches do not follow it there). */
static void forward(stage__theatre_t *t, const hub_t *h, int at,
                    stage__env_t *e) {
    if (h && h->remote) {
        if (e->hdr.kind == ENV_CALL && !e->target)
            e->call(t, NULL, e);
        else
            stage__route_id(t->node, &h->rid, e);
        return;
    }
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
    if (m->at >= 0) { /* here; else on another node (h->remote) */
        h->at = m->at;
        h->remote = false;
    }
    h->moving = false;
    h->cur = NULL;
    for (stage__env_t *e; (e = h->head);) {
        h->head = e->next;
        e->next = NULL;
        forward(t, h, h->at, e);
    }
    h->tail = NULL;
    move_finish(t->node, m);
    for (move_t *n; (n = h->qhead);) {
        if (!(h->qhead = n->next)) h->qtail = NULL;
        if (guest_ask(t, h, n)) continue; /* its home sequences it */
        hub_start(t, h, n);
        return;
    }
    if (h->at == t->index && !h->remote && !h->guest)
        stage__free(stage__u64map_take(&t->hubs, serial));
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
    if (m->mbox_head) { /* its mailbox back, ahead of anything since */
        m->mbox_tail->next = x->mbox_head;
        if (!x->mbox_head) x->mbox_tail = m->mbox_tail;
        x->mbox_head = m->mbox_head;
        m->mbox_head = m->mbox_tail = NULL;
    }
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

/* Send m's ABORT (m->rc, m->err say why) to the theatre A is kept at (t
** itself when a move to another node failed at its birth theatre). */
static void abort_move(stage__theatre_t *t, move_t *m) {
    stage__env_t *e = m->back;
    e->arg = m;
    if (m->left == t->index) {
        leave_call(t, NULL, e);
        return;
    }
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
    /* the mailbox C handed over, before arrived runs: a move asked there
    ** waits behind it (stage__migrate_self) */
    for (stage__env_t *e; (e = m->mbox_head);) {
        m->mbox_head = e->next;
        stage__actor_enqueue(t, a, e);
    }
    m->mbox_tail = NULL;
}

/* Send m's COMMIT to the theatre A is kept at (it is dropped there): it
** arrived, or its image left this node (between nodes). */
static void commit_move(stage__theatre_t *t, move_t *m) {
    stage__env_t *e = m->back; /* COMMIT: A's serial is enough */
    m->back = NULL;
    e->arg = NULL;
    e->sender = m->serial;
    if (m->left == t->index)
        leave_call(t, NULL, e);
    else
        stage__theatre_post(stage__node_theatre(t->node, m->left), e);
}

/* The image of m came from another node (no theatre of this one keeps the
** actor: m->back is NULL), and the import at m->to failed: take it in
** again at t, where the image came in (its birth theatre), from the copy. */
static void restore_here(stage__theatre_t *t, move_t *m) {
    char err[512];
    stage__import_opts_t o;
    if (stage__actor_import(t, m->image.data, m->image.len, import_opts(m, &o),
                            NULL, NULL, err, sizeof err)) {
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&m->id, idt, sizeof idt);
        char to[STAGE_ADDR_MAX + 16];
        if (m->node_to[0])
            snprintf(to, sizeof to, "node '%s'", m->node_to);
        else
            snprintf(to, sizeof to, "theatre %d", m->to);
        LOG_ERROR("actor '%s' lost: it could not move to %s (%s), nor be "
                  "taken back in theatre %d: %s",
                  idt, to, m->err, t->index, err);
        stage__image_drop(t->node, m->image.data, m->image.len, STAGE_ENOMEM,
                          err);
    }
    marked(t, m->serial);
    m->at = t->index;
    release(t, m);
}

static void restore_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    restore_here(t, step(e));
}

/* Take the actor in at t (its destination): C drops it, B forwards to it.
** If that fails, C keeps it; an image that came from another node is
** taken in again at B (m->at), from the copy, or lost if B was t. */
static void import_here(stage__theatre_t *t, move_t *m) {
    stage__import_opts_t o;
    int rc =
        stage__actor_import(t, m->image.data, m->image.len, import_opts(m, &o),
                            NULL, NULL, m->err, sizeof m->err);
    if (rc && m->back) {
        m->rc = rc;
        abort_move(t, m);
        return;
    }
    if (rc) {
        m->rc = rc;
        if (m->at != t->index && m->at >= 0 &&
            !post(t->node, m->at, restore_call, m))
            return;
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&m->id, idt, sizeof idt);
        LOG_ERROR("actor '%s' lost: it could not move to theatre %d: %s", idt,
                  t->index, m->err);
        stage__image_drop(t->node, m->image.data, m->image.len, rc, m->err);
        m->at = t->index;
        release(t, m);
        return;
    }
    marked(t, m->serial);
    m->at = t->index;
    if (m->back) { /* a move inside the node */
        commit_move(t, m);
        /* answered now, not after the release reaches B: what its caller
        ** sends next goes to B, which holds it until then */
        move_answer(m);
    }
    release(t, m);
}

static void import_call(stage__theatre_t *t, stage__actor_t *a,
                        stage__env_t *e) {
    (void)a;
    import_here(t, step(e));
}

/* At B: the image is out of C (m->at). */
static void hub_in(stage__theatre_t *t, move_t *m) {
    if (net_in(t, hub_get(t, m->serial), m)) return;
    if (m->to == t->index) {
        import_here(t, m);
    } else if (post(t->node, m->to, import_call, m)) {
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        if (m->back)
            abort_move(t, m); /* A stays where it is kept */
        else
            restore_here(t, m); /* its image came from another node */
    }
}

static void in_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    hub_in(t, step(e));
}

/* Whether m takes the actor to another node. */
static bool leaves_node(const move_t *m) {
    return m->node_to[0] || m->ship;
}

/* What a move inside the node carries beside the image (the watches on a,
** a C actor's timers and monitors: this process's) cannot go to another
** node: 0, or STAGE_EENCODE and why in m->err. After a's departing hook
** ran, which may let go of them. t's thread. */
static int bound_here(stage__theatre_t *t, stage__actor_t *a, move_t *m) {
    char id[STAGE_ID_TEXT_MAX];
    stage_id_format(&m->id, id, sizeof id);
    int bind = stage__monitors_bind(t, a->serial);
    size_t n = stage__timers_travelling(t, a->serial);
    if (bind & STAGE__MON_WATCHED)
        snprintf(m->err, sizeof m->err,
                 "actor '%s' is watched by another actor's monitor: watches "
                 "do not follow an actor to another node, and only their "
                 "watchers can cancel them; it can move there once they have",
                 id);
    else if (n)
        snprintf(m->err, sizeof m->err,
                 "actor '%s' has %zu timer%s that may still fire: timers do "
                 "not travel to another node; cancel them in departing and "
                 "set them again in arrived",
                 id, n, n == 1 ? "" : "s");
    else if (bind & STAGE__MON_OWN_TRAVELS)
        snprintf(m->err, sizeof m->err,
                 "actor '%s' has monitors of its own: monitors do not travel "
                 "to another node; cancel them in departing and set them "
                 "again in arrived",
                 id);
    else
        return 0;
    return STAGE_EENCODE;
}

/* Export a (idle, t's thread) for m and keep it here, leaving. Inside the
** node the image goes straight to its destination D, which takes it in,
** then tells this theatre (COMMIT or ABORT) and B (RELEASE); to another
** node it goes to B, which sends it there and keeps a copy (net_in). */
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
    bool away = leaves_node(m); /* to another node: through B */
    int b = stage__serial_theatre(m->serial);
    stage__env_t *e = NULL;
    int rc =
        away ? stage__actor_export(t, a, &m->image, m->err, sizeof m->err)
             : stage__actor_export_bare(t, a, &m->image, m->err, sizeof m->err);
    if (!rc && away && (rc = bound_here(t, a, m)))
        stage__actor_export_abort(t, a, m->image.data, m->image.len);
    if (!rc &&
        (!(m->back = stage__env_call(leave_call, leave_drop, m)) ||
         (away ? b != t->index && !(e = stage__env_call(in_call, move_drop, m))
               : !(e = stage__env_call(import_call, move_drop, m))))) {
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
    if (!away) { /* its mailbox goes with the move, as it is */
        m->mbox_head = a->mbox_head;
        m->mbox_tail = a->mbox_tail;
        a->mbox_head = a->mbox_tail = NULL;
    }
    if (!away)
        stage__theatre_post(stage__node_theatre(t->node, m->to), e);
    else if (b == t->index)
        hub_in(t, m);
    else
        stage__theatre_post(stage__node_theatre(t->node, b), e);
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
    h->cur = m;
    h->going = m->rc ? h->at : m->to;
    m->at = h->at;
    if (!m->rc && net_start(t, h, m)) return;
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

/* The answer to a guest's own request to move (arg: its serial), on the
** theatre it was at: refused, or its home unreachable, it serves on there
** (the failure logged); moved, nothing to do. */
static void self_refused(stage__theatre_t *t, stage__future_t *f, void *arg) {
    if (!t || !f->status) return;
    uint64_t serial = (uint64_t)(uintptr_t)arg;
    stage__actor_t *x = stage__actor_find(t, serial);
    const char *why = f->message ? f->message : stage_strerror(f->status);
    if (x)
        LOG_WARN("an actor of type '%s' did not move to another node and "
                 "stays in theatre %d: %s",
                 x->type->name, t->index, why);
    else
        LOG_WARN("an actor that arrived here did not move as it asked: %s",
                 why);
    if (x && !x->move && (x->flags & ACTOR_MOVING)) {
        x->flags &= ~ACTOR_MOVING;
        if (x->mbox_head) stage__actor_schedule(t, x);
    }
}

/* A move m of guest h (an actor that arrived from another node) to
** another node is asked of its home, which sequences it (the home's OUT
** comes back as a move of its own); one to a theatre of this node, once
** it left, fails. True if m was taken so (else it is started here). */
static bool guest_ask(stage__theatre_t *t, hub_t *h, move_t *m) {
    if (!h->guest || m->ship) return false;
    if (m->node_to[0]) {
        stage__move_msg_t q = {
            .op = STAGE__MOVE_REQ, .at = h->home, .where = m->node_to};
        /* asked by itself: it takes no message until the home's order
        ** comes; if the home refuses, or cannot be reached, it serves
        ** on (the answer's continuation, on its theatre) */
        stage__future_t *f = m->f;
        if (m->self && !h->remote && !f &&
            (f = stage__future_new(t->node, h->at, 0)) &&
            stage__future_on_any(f, self_refused,
                                 (void *)(uintptr_t)m->serial)) {
            stage__future_unref(f);
            f = NULL;
        }
        t->node->net_hooks.move(t->node, h->home.node, &q, f);
        if (f && f != m->f) {
            f->observed = true; /* self_refused logs a failure */
            stage__future_unref(f);
        }
        move_free(m);
        return true;
    }
    if (h->remote) {
        m->rc = STAGE_EACTOR_NOT_FOUND;
        m->at = t->index;
        snprintf(m->err, sizeof m->err,
                 "the actor moved to another node: ask its reference "
                 "there, or move it by node address");
        move_finish(t->node, m);
        return true;
    }
    return false;
}

/* At B: start m, or queue it behind the move under way; a guest's move
** to another node is asked of its home. */
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
    if (h && guest_ask(t, h, m)) return;
    if (h && (h->handed || h->handing) && handed_ask(t, h, m)) return;
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

/* Where the actor of hub h is, or goes while it moves: a theatre of this
** node, or -1 and *node, the address of the node it is on (for a guest
** that left: its home's), else NULL. Its birth theatre's thread. */
static int hub_place(const hub_t *h, const char **node) {
    *node = NULL;
    const move_t *m = h->moving ? h->cur : NULL;
    if (m && m->node_to[0])
        *node = m->node_to;
    else if (m && m->ship)
        *node = m->home.node;
    else if (!m && h->remote)
        *node = h->rid.node;
    return *node ? -1 : m ? h->going : h->at;
}

/* At the birth theatre of m->by (t): where that actor is now goes into
** m->to (where it goes, if it is moving), or m->node_to if that is another
** node, and m on to A's birth theatre; not there (it stopped), m fails
** with ActorNotFound naming it. */
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
    } else if (!h) {
        m->to = t->index;
    } else {
        const char *node;
        m->to = hub_place(h, &node);
        if (node) snprintf(m->node_to, sizeof m->node_to, "%s", node);
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
    char node[STAGE_ADDR_MAX]; /* "": to, or next to by, on this node */
} later_t;

/* Ask the move of a itself now, to node `node` if not NULL: it takes no
** message until it has moved (or, from another node, its home refused). */
static int self_now(stage__theatre_t *t, stage__actor_t *a, int to,
                    const stage_id_t *by, const char *node) {
    stage_id_t who;
    stage__make_id(t->node, a->serial, a->type, &who);
    a->flags |= ACTOR_MOVING;
    int rc = node ? stage__migrate_node(t->node, a->serial, node, NULL, true)
                  : migrate(t->node, a->serial, to, by, NULL, true, &who);
    if (rc) a->flags &= ~ACTOR_MOVING;
    return rc;
}

/* The turn of a move asked in arrived: the messages it came with ran. */
static void later_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    later_t *l = e->arg;
    int rc = a && !(a->flags & (ACTOR_MOVING | ACTOR_STOPPING))
                 ? self_now(t, a, l->to, l->near ? &l->by : NULL,
                            l->node[0] ? l->node : NULL)
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

/* Ask the move of a itself (to `to`, next to *by, or to node `node`),
** now, or, asked in arrived, after the messages it came with (a turn
** behind them), so that an actor moving on at every arrival still serves. */
static int self_move(stage__theatre_t *t, stage__actor_t *a, int to,
                     const stage_id_t *by, const char *node) {
    if (!(a->flags & ACTOR_ARRIVING)) return self_now(t, a, to, by, node);
    later_t *l = stage__calloc(1, sizeof *l);
    stage__env_t *e = l ? stage__env_call(later_call, later_drop, l) : NULL;
    if (!e) {
        stage__free(l);
        return STAGE_ENOMEM;
    }
    l->to = to;
    l->near = by != NULL;
    if (by) l->by = *by;
    if (node) snprintf(l->node, sizeof l->node, "%s", node);
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

int stage__migrate_self(stage__theatre_t *t, stage__actor_t *a, int to,
                        const stage_id_t *by) {
    if (a->flags & ACTOR_MOVING) return STAGE_EINVAL;
    if (by ? !stage__id_is_local(t->node, by)
           : !stage__node_theatre(t->node, to))
        return STAGE_EINVAL;
    return self_move(t, a, to, by, NULL);
}

int stage__migrate_self_node(stage__theatre_t *t, stage__actor_t *a,
                             const char *where) {
    if ((a->flags & ACTOR_MOVING) || !where ||
        strlen(where) >= STAGE_ADDR_MAX || !t->node->net_hooks.move)
        return STAGE_EINVAL;
    return self_move(t, a, -1, NULL, where);
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
    if (h && !h->moving && !h->remote && h->at == at) {
        if (h->guest)
            guest_gone(t, h, serial);
        else
            stage__free(stage__u64map_take(&t->hubs, serial));
    }
}

void stage__move_gone(stage__theatre_t *t, uint64_t serial) {
    int b = stage__serial_theatre(serial);
    if (b == t->index) { /* at home: a hub only if it arrived from a node */
        hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
        if (h && h->guest && !h->moving && !h->remote) guest_gone(t, h, serial);
        return;
    }
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
    if (!h || (!h->moving && (h->at == t->index || h->remote))) return 0;
    if (!h->moving) {
        stage__theatre_post(stage__node_theatre(t->node, h->at), e);
        return 1;
    }
    hub_hold(h, e);
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
        if (h->remote) {
            forward(t, h, h->at, e);
            return 1;
        }
        if (h->at == t->index) return 0;
        stage__theatre_post(stage__node_theatre(t->node, h->at), e);
        return 1;
    }
    hub_hold(h, e);
    return 1;
}

/* Fail what hub val holds (teardown). */
static void hub_free(uint64_t key, void *val, void *ud) {
    (void)key;
    hub_t *h = val;
    stage__free(h->formers);
    for (stage__env_t *e; (e = h->head);) {
        h->head = e->next;
        stage__env_drop(e, STAGE_ESTOPPED);
    }
    move_t *cur = h->moving ? h->cur : NULL;
    if (cur && cur->wait[0]) { /* waiting for another node: only h has it */
        if (cur->image.len)
            stage__image_drop(ud, cur->image.data, cur->image.len,
                              STAGE_ESTOPPED,
                              "the node stopped during the move");
        if (cur->f)
            stage__future_reject(cur->f, STAGE_ESTOPPED,
                                 "the node stopped during the move", NULL,
                                 NULL);
        move_free(cur);
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
    stage__u64map_each(&t->hubs, hub_free, t->node);
    stage__u64map_free(&t->hubs);
}

/* ---- between nodes ---------------------------------------------------------
** docs/migration.md "Between nodes". The actor's birth theatre on its
** birth node (its home) stays its sequencer wherever it goes: every
** message to its first id enters there and is held or forwarded, and every
** move is asked there. The steps travel as MOVE frames (net/netmove.c), in
** the same session, behind the messages the same theatre forwarded:
**   home, actor here:   export as above; the image goes (IMPORT) to the
**                       destination, a copy kept until it answers; C,
**                       which kept the actor, drops it as it goes (the
**                       copy is the actor now: a failure takes it back
**                       from the copy). An actor bound by what only
**                       travels inside a node (watches on it, C timers
**                       and monitors: bound_here) is refused
**   home, actor away:   OUT to the node it is at, behind what was forwarded
**                       there; that node exports it (its hub sequences it
**                       there) and sends the image home (IN), or says why
**                       not (REFUSED, the actor stays there)
**   destination:        imports under a new id (a guest, whose hub, once
**                       it leaves, forwards to the home id), ARRIVED; or
**                       FAILED, and home takes the actor back from its copy
**   home, at the end:   forwards what it held to the new id and completes
**                       the future with it.
** A destination that dies before it answered: the actor is taken back
** from the copy (it never ran there, home held its messages). The node
** the actor was at dies: the actor is lost with it, as it would be unmoved.
** The home dies: its guests take themselves over (orphans_adopt), each
** with the ids that led to its home id there, which its IMPORT carried
** (net/netmove.c adds them from the home's migrations store entries).
*/

/* The options of an import for m: under m's own serial at its home (a
** move back, or a local one), calls held on other nodes answered there,
** and what travelled beside the image inside the node given (adopt). */
static stage__future_t *bind_remote(stage_node_t *node, const char *address,
                                    uint32_t incarnation, uint64_t token,
                                    void *ud);
static const stage__import_opts_t *import_opts(move_t *m,
                                               stage__import_opts_t *o) {
    *o = (stage__import_opts_t){.bind_reply = bind_remote,
                                .adopt = m ? adopt : NULL,
                                .ud = m,
                                .serial = m ? m->serial : 0};
    return o;
}

/* The held call's answer, owed to node addr (incarnation inc) under a
** token: sent there once the actor has answered. */
typedef struct owed_call {
    char addr[STAGE_ADDR_MAX];
    uint32_t inc;
    uint64_t token;
} owed_call_t;

/* on_done of a bound reply: send the answer home (completing thread). */
static void owed_done(stage__future_t *f) {
    owed_call_t *o = f->on_done_arg;
    f->on_done_arg = NULL;
    f->observed = true;
    stage_node_t *node = f->node;
    stage__move_msg_t q = {
        .op = STAGE__MOVE_REPLY,
        .n = o->token,
        .inc = o->inc,
        .status = f->status,
        .data = f->status ? f->message : f->data,
        .len = f->status ? (f->message ? strlen(f->message) : 0) : f->len};
    if (node->net_hooks.move) node->net_hooks.move(node, o->addr, &q, NULL);
    stage__free(o);
}

static stage__future_t *bind_remote(stage_node_t *node, const char *address,
                                    uint32_t incarnation, uint64_t token,
                                    void *ud) {
    (void)ud;
    if (!node->net_hooks.move) return NULL;
    stage__future_t *f = stage__future_new(node, 0, 0);
    owed_call_t *o = stage__calloc(1, sizeof *o);
    if (!f || !o) {
        stage__free(o);
        if (f) stage__future_unref(f);
        return NULL;
    }
    snprintf(o->addr, sizeof o->addr, "%s", address);
    o->inc = incarnation;
    o->token = token;
    f->on_done_arg = o;
    f->on_done = owed_done;
    return f;
}

/* Moves of this process waiting for another node's answer: a session's
** end looks for them only when there are some (an over-count, from a
** move dropped at teardown, costs a scan, nothing more). */
static atomic_long waiting_moves;
/* Guests of this process (actors that arrived from another node, still
** homed there): a session's end looks for those of the node gone only
** when there are some (an over-count costs a scan). */
static atomic_long guest_hubs;

/* m waits for node's answer (NULL: no longer). */
static void wait_for(move_t *m, const char *node) {
    if (node && !m->wait[0]) atomic_fetch_add(&waiting_moves, 1);
    if (!node && m->wait[0]) atomic_fetch_sub(&waiting_moves, 1);
    snprintf(m->wait, sizeof m->wait, "%s", node ? node : "");
}

static void send_step(stage_node_t *node, const char *to,
                      const stage__move_msg_t *q) {
    node->net_hooks.move(node, to, q, NULL);
}

/* A move run at a guest's node for its home ends: a refusal goes home
** (the image went home already otherwise). True if m was such a move. */
static bool net_finish(stage_node_t *node, move_t *m) {
    if (!m->ship) return false;
    if (m->rc) {
        stage__move_msg_t q = {.op = STAGE__MOVE_REFUSED,
                               .status = m->rc,
                               .home = m->home,
                               .data = m->err,
                               .len = strlen(m->err)};
        send_step(node, m->home.node, &q);
    }
    move_free(m);
    return true;
}

/* At B, h moving with m: if the actor is on another node, ask it out (OUT)
** and wait; a guest's node checks the order is its home's. True if m is
** under way (or over) here. */
static bool net_start(stage__theatre_t *t, hub_t *h, move_t *m) {
    stage_node_t *node = t->node;
    if (m->ship) {
        if (!h->guest || h->remote || strcmp(h->home.node, m->home.node) ||
            h->home.incarnation != m->home.incarnation ||
            h->home.serial != m->home.serial) {
            char idt[STAGE_ID_TEXT_MAX];
            stage_id_format(&m->home, idt, sizeof idt);
            m->rc = STAGE_EACTOR_NOT_FOUND;
            snprintf(m->err, sizeof m->err,
                     "actor '%s' is not on node '%s' (it left, or stopped)",
                     idt, node->address);
            LOG_WARN("refused a move order from '%s': %s", m->home.node,
                     m->err);
            m->at = h->remote ? -1 : h->at;
            hub_release(t, m);
            return true;
        }
        return false; /* exported here, like a local move; then net_in */
    }
    if (!h->remote) return false;
    if (m->node_to[0] && !strcmp(m->node_to, h->rid.node)) {
        m->id = h->rid; /* there already */
        m->at = -1;
        hub_release(t, m);
        return true;
    }
    stage__move_msg_t q = {.op = STAGE__MOVE_OUT, .home = h->me, .at = h->rid};
    wait_for(m, h->rid.node);
    m->at = -1;
    send_step(node, h->rid.node, &q);
    return true;
}

/* At B with m's image: a guest's goes home (and B forwards there from now
** on); one going to another node goes there, B keeping the image until it
** answers. True if taken; else it is imported here. */
static bool net_in(stage__theatre_t *t, hub_t *h, move_t *m) {
    stage_node_t *node = t->node;
    if (!h) return false; /* cannot happen: a move holds its hub */
    if (m->ship) {
        stage__move_msg_t q = {.op = STAGE__MOVE_IN,
                               .home = m->home,
                               .data = m->image.data,
                               .len = m->image.len};
        if (m->back) commit_move(t, m); /* it left: its home has the image */
        send_step(node, m->home.node, &q);
        h->remote = true;
        h->rid = m->home;
        m->at = -1;
        hub_release(t, m);
        return true;
    }
    if (!h->me.serial && m->id.serial == m->serial &&
        stage__id_is_local(node, &m->id))
        h->me = m->id;
    if (!m->node_to[0]) return false;
    stage__move_msg_t q = {.op = STAGE__MOVE_IMPORT,
                           .home = h->me,
                           .data = m->image.data,
                           .len = m->image.len};
    /* it leaves the theatre that kept it: if the destination fails, it is
    ** taken back from the copy B keeps (net_restore) */
    if (m->back) commit_move(t, m);
    wait_for(m, m->node_to);
    send_step(node, m->node_to, &q);
    return true;
}

/* The destination did not take the actor in (status, why): take it back
** where its image came from (m->at), from the copy. B's thread. */
static void net_restore(stage__theatre_t *t, move_t *m, int status,
                        const char *why, size_t len) {
    m->rc = status;
    snprintf(m->err, sizeof m->err, "%.*s", (int)len, why);
    wait_for(m, NULL);
    if (m->at < 0) m->at = t->index;
    stage__env_t *e = NULL;
    if (m->at != t->index &&
        (e = stage__env_call(restore_call, move_drop, m))) {
        stage__theatre_post(stage__node_theatre(t->node, m->at), e);
        return;
    }
    e = stage__env_call(restore_call, move_drop, m);
    if (!e) { /* cannot happen but for memory: say it */
        LOG_ERROR("out of memory taking an actor back: it is lost");
        stage__image_drop(t->node, m->image.data, m->image.len, STAGE_ENOMEM,
                          "out of memory");
        m->at = t->index;
        hub_release(t, m);
        return;
    }
    restore_call(t, NULL, e);
}

/* Guest serial (hub h, on t) stopped where it arrived: its hub goes, and
** its home, which forwards to it, is told (GONE). */
static void guest_gone(stage__theatre_t *t, hub_t *h, uint64_t serial) {
    stage__move_msg_t q = {.op = STAGE__MOVE_GONE, .home = h->home};
    q.at = h->home; /* its type; then this node's id for it */
    snprintf(q.at.node, sizeof q.at.node, "%s", t->node->address);
    q.at.incarnation = t->node->incarnation;
    q.at.serial = serial;
    q.at.theatre = (uint16_t)stage__serial_theatre(serial);
    send_step(t->node, h->home.node, &q);
    stage__free(h->formers);
    stage__free(stage__u64map_take(&t->hubs, serial));
    atomic_fetch_sub(&guest_hubs, 1);
}

/* A status from another node: one this node names, else Handler. */
static int status_known(int status) {
    return status < 0 && strcmp(stage_err_name(status), "Error")
               ? status
               : STAGE_EHANDLER;
}

/* A step from another node, copied, on its way to its theatre. */
typedef struct netstep {
    stage__move_msg_t q;
    char peer[STAGE_ADDR_MAX];
    char where[STAGE_ADDR_MAX];
    stage__future_t *f; /* REQ: the caller's answer */
    char data[];
} netstep_t;

static void netstep_drop(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)t;
    (void)a;
    netstep_t *ns = e->arg;
    if (ns->f) {
        stage__future_reject(ns->f, STAGE_ESTOPPED, "the node stopped", NULL,
                             NULL);
        stage__future_unref(ns->f);
    }
    stage__free(ns);
    stage__env_free(e);
}

/* The move at B that waits for peer's answer to h's step: NULL (logged)
** if none does. image: the answer is to an IMPORT (else to an OUT). */
static move_t *waiting(stage__theatre_t *t, hub_t *h, const netstep_t *ns,
                       bool image) {
    move_t *m = h && h->moving ? h->cur : NULL;
    if (!m || strcmp(m->wait, ns->peer) || (m->image.len != 0) != image) {
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&ns->q.home, idt, sizeof idt);
        LOG_WARN("refused a move step (%d) from '%s' for actor '%s' in "
                 "theatre %d: no move of it waits for that node",
                 ns->q.op, ns->peer, idt, t->index);
        return NULL;
    }
    return m;
}

/* IMPORT at the destination: take the actor in on t as a guest. */
static void guest_import(stage__theatre_t *t, netstep_t *ns) {
    stage_node_t *node = t->node;
    stage__import_opts_t o;
    import_opts(NULL, &o);
    stage_id_t id;
    char err[512];
    stage__move_msg_t q = {.home = ns->q.home};
    int rc = STAGE_ESTOPPED;
    if (atomic_load(&node->draining))
        snprintf(err, sizeof err,
                 "node '%s' is draining: it takes no actors that move",
                 node->address);
    else
        rc = stage__actor_import(t, ns->data, ns->q.len, &o, NULL, &id, err,
                                 sizeof err);
    hub_t *h = NULL;
    if (!rc && (!(h = stage__calloc(1, sizeof *h)) ||
                stage__u64map_put(&t->hubs, id.serial, h))) {
        /* no hub: its messages would not follow it: it stays, unlisted */
        stage__free(h);
        LOG_ERROR("out of memory taking actor '%s' in: it cannot follow its "
                  "messages once it leaves",
                  id.type);
    } else if (!rc) {
        h->at = t->index;
        h->guest = true;
        h->home = ns->q.home;
        if (ns->q.flen && (h->formers = stage__malloc(ns->q.flen))) {
            memcpy(h->formers, ns->q.formers, ns->q.flen);
            h->flen = ns->q.flen;
        } else if (ns->q.flen) {
            LOG_WARN("out of memory keeping the earlier ids of actor '%s': "
                     "if its home dies, only its home id leads to it",
                     id.type);
        }
        atomic_fetch_add(&guest_hubs, 1);
    }
    if (!rc) {
        q.op = STAGE__MOVE_ARRIVED;
        q.at = id;
    } else {
        q.op = STAGE__MOVE_FAILED;
        q.status = rc;
        q.data = err;
        q.len = strlen(err);
        LOG_WARN("did not take in an actor moving from '%s': %s", ns->peer,
                 err);
    }
    send_step(node, ns->q.home.node, &q);
}

/* ---- handing homes over (the drain) ---------------------------------------
** A node that drains is the home of its actors that moved to other nodes:
** once it is gone, nothing would sequence them. So it hands each over to
** the node it is at (ADOPT, behind what it forwarded there): that node
** makes it its own — its hub no longer asks home — and tells the
** migrations store (first id -> the id there), which senders of the first
** id consult once the home has left (net/relocate.c). The home forwards
** stragglers until it leaves, and passes moves asked of it to that node. */

/* ADOPT at the actor's node: the guest at ns->q.at becomes this node's
** (ADOPTED goes once the network has put it in the store and taken its
** names over: net_hooks.rehomed). */
static void guest_adopt(stage__theatre_t *t, netstep_t *ns) {
    hub_t *h = hub_get(t, ns->q.at.serial);
    stage__move_msg_t q = {
        .op = STAGE__MOVE_ADOPTED, .home = ns->q.home, .at = ns->q.at};
    if (!h || !h->guest || !stage_id_equal(&h->home, &ns->q.home)) {
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&ns->q.at, idt, sizeof idt);
        LOG_INFO("did not take actor '%s' over from '%s': it is no actor "
                 "of that node here (it stopped)",
                 idt, ns->peer);
        q.status = STAGE_EACTOR_NOT_FOUND;
    } else if (h->moving || h->remote) {
        q.status = STAGE_EBUSY; /* cannot be: home sequences its moves */
    }
    if (!q.status) {
        h->guest = false;
        atomic_fetch_sub(&guest_hubs, 1);
        memset(&h->home, 0, sizeof h->home);
        stage__free(h->formers); /* the ADOPT carries its home's */
        h->formers = NULL;
        if (h->at == t->index) /* where it was born here: nothing to keep */
            stage__free(stage__u64map_take(&t->hubs, ns->q.at.serial));
        /* the network answers once the store and the names have it */
        t->node->net_hooks.rehomed(t->node, &ns->q.home, &ns->q.at, 0,
                                   ns->q.data, ns->q.len);
        return;
    }
    send_step(t->node, ns->q.home.node, &q);
}

/* ADOPTED at home: h is handed over (its node sequences it now), or not
** (busy: asked again at the next round; gone: forgotten). */
static void home_adopted(stage__theatre_t *t, hub_t *h, netstep_t *ns) {
    if (!h || !h->handing || !h->remote ||
        !stage_id_equal(&h->rid, &ns->q.at)) {
        LOG_WARN("refused a move step (%d) from '%s': no handover of that "
                 "actor waits for it",
                 ns->q.op, ns->peer);
        return;
    }
    h->handing = false;
    int status = ns->q.status;
    if (!status)
        h->handed = true;
    else if (status == STAGE_EACTOR_NOT_FOUND && !h->moving)
        stage__free(stage__u64map_take(&t->hubs, ns->q.home.serial));
    if (t->node->net_hooks.rehomed)
        t->node->net_hooks.rehomed(t->node, &ns->q.home, &ns->q.at, status,
                                   NULL, 0);
}

/* A move asked of home for h, handed over (or being): to a node, asked
** of the node it is at (after the ADOPT, in the same session); inside
** this node, it cannot be. True (m taken). */
static bool handed_ask(stage__theatre_t *t, hub_t *h, move_t *m) {
    if (m->node_to[0]) {
        stage__move_msg_t q = {
            .op = STAGE__MOVE_REQ, .at = h->rid, .where = m->node_to};
        t->node->net_hooks.move(t->node, h->rid.node, &q, m->f);
        move_free(m);
        return true;
    }
    m->rc = STAGE_EACTOR_NOT_FOUND;
    m->at = t->index;
    snprintf(m->err, sizeof m->err,
             "the actor moved to node '%s', which is its home now: move it "
             "by node address",
             h->rid.node);
    move_finish(t->node, m);
    return true;
}

typedef struct handover {
    stage_node_t *node;
    size_t asked, busy;
} handover_t;

/* u64map_each: ADOPT for h, an actor born here that lives elsewhere. */
static void handover_one(uint64_t key, void *val, void *ud) {
    (void)key;
    hub_t *h = val;
    handover_t *ho = ud;
    if (h->guest || !h->remote || h->handed) return;
    if (h->moving || h->handing) {
        ho->busy++;
        return;
    }
    stage__move_msg_t q = {
        .op = STAGE__MOVE_ADOPT, .home = h->me, .at = h->rid};
    send_step(ho->node, h->rid.node, &q);
    h->handing = true;
    ho->asked++;
}

typedef struct handround {
    stage__handover_fn fn;
    stage__listing_fn list;
    void *ud;
} handround_t;

static void handover_call(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e) {
    (void)a;
    handround_t *r = e->arg;
    stage__env_free(e);
    handover_t ho = {t->node, 0, 0};
    stage__u64map_each(&t->hubs, handover_one, &ho);
    r->fn(r->ud, t->index, ho.asked, ho.busy);
    stage__free(r);
}

static void handover_drop(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e) {
    (void)a;
    handround_t *r = e->arg;
    r->fn(r->ud, t ? t->index : -1, 0, 0);
    stage__free(r);
    stage__env_free(e);
}

/* Post call (drop: its drop) to every theatre with a copy of *tmpl; for
** a theatre it cannot be posted to for want of memory, nomem(tmpl, i). */
static void each_theatre(stage_node_t *node, stage__call_fn call,
                         stage__call_fn drop, const handround_t *tmpl,
                         void (*nomem)(const handround_t *, int)) {
    int n = stage_node_theatres(node);
    for (int i = 0; i < n; i++) {
        handround_t *r = stage__malloc(sizeof *r);
        stage__env_t *e = r ? stage__env_call(call, drop, r) : NULL;
        if (!e) {
            stage__free(r);
            nomem(tmpl, i);
            continue;
        }
        *r = *tmpl;
        stage__theatre_post(stage__node_theatre(node, i), e);
    }
}

static void handover_nomem(const handround_t *r, int theatre) {
    r->fn(r->ud, theatre, 0, 1); /* that theatre: again next round */
}

int stage__move_handover(stage_node_t *node, stage__handover_fn fn, void *ud) {
    if (!node->net_hooks.move) return STAGE_EINVAL;
    handround_t r = {.fn = fn, .ud = ud};
    each_theatre(node, handover_call, handover_drop, &r, handover_nomem);
    return 0;
}

/* The mobile actors of t, for a drain (listing_call). */
static void listing_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    handround_t *r = e->arg;
    stage__env_free(e);
    stage__actor_table_t *tb = &t->actors;
    uint64_t *serials =
        tb->count ? stage__malloc(tb->count * sizeof *serials) : NULL;
    size_t n = 0;
    for (uint32_t i = 0; serials && i < tb->cap; i++) {
        stage__actor_t *x = tb->slots[i];
        if (!x || x == (stage__actor_t *)1) continue; /* a tombstone */
        if (x->type->kind == STAGE_KIND_MOBILE &&
            !(x->flags & (ACTOR_DEAD | ACTOR_STOPPING | ACTOR_LEAVING)) &&
            n < tb->count)
            serials[n++] = x->serial;
    }
    r->list(r->ud, t->index, serials, n, tb->count && !serials);
    stage__free(serials);
    stage__free(r);
}

static void listing_drop(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    handround_t *r = e->arg;
    r->list(r->ud, t ? t->index : -1, NULL, 0, false);
    stage__free(r);
    stage__env_free(e);
}

static void listing_nomem(const handround_t *r, int theatre) {
    r->list(r->ud, theatre, NULL, 0, true);
}

int stage__move_listing(stage_node_t *node, stage__listing_fn fn, void *ud) {
    handround_t r = {.list = fn, .ud = ud};
    each_theatre(node, listing_call, listing_drop, &r, listing_nomem);
    return 0;
}

static void netstep_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    netstep_t *ns = e->arg;
    stage__env_free(e);
    stage_node_t *node = t->node;
    hub_t *h = hub_get(t, ns->q.home.serial);
    move_t *m;
    switch (ns->q.op) {
    case STAGE__MOVE_REQ:
        if (stage__migrate_node(node, ns->q.at.serial, ns->where, ns->f,
                                false) &&
            ns->f)
            stage__future_reject(ns->f, STAGE_ENOMEM, "out of memory", NULL,
                                 NULL);
        break;
    case STAGE__MOVE_OUT:
        if (!(m = stage__calloc(1, sizeof *m))) {
            LOG_ERROR("out of memory: a move order from '%s' is lost",
                      ns->peer);
            break;
        }
        m->serial = ns->q.at.serial;
        m->to = m->at = m->left = -1;
        m->ship = true;
        m->home = ns->q.home;
        stage_pack_init(&m->image);
        if (post(node, t->index, request_call, m)) move_free(m);
        break;
    case STAGE__MOVE_IMPORT:
        guest_import(t, ns);
        break;
    case STAGE__MOVE_IN:
        if (!(m = waiting(t, h, ns, false))) break;
        stage_pack_reset(&m->image);
        stage_pack_raw(&m->image, ns->data, ns->q.len);
        wait_for(m, NULL);
        m->at = t->index;
        m->id = h->me;
        if (stage_pack_error(&m->image)) {
            LOG_ERROR("out of memory: actor lost on its way home");
            hub_release(t, m);
            break;
        }
        hub_in(t, m);
        break;
    case STAGE__MOVE_REFUSED:
        if (!(m = waiting(t, h, ns, false))) break;
        m->rc = status_known(ns->q.status);
        snprintf(m->err, sizeof m->err, "%.*s", (int)ns->q.len, ns->data);
        wait_for(m, NULL);
        m->at = -1;
        hub_release(t, m);
        break;
    case STAGE__MOVE_ARRIVED:
        if (!(m = waiting(t, h, ns, true))) break;
        stage_pack_free(&m->image);
        wait_for(m, NULL);
        h->remote = true;
        h->rid = ns->q.at;
        m->id = ns->q.at;
        m->at = -1;
        hub_release(t, m);
        break;
    case STAGE__MOVE_GONE: /* it stopped where it was: forget it */
        if (h && !h->moving && h->remote && h->rid.serial == ns->q.at.serial &&
            h->rid.incarnation == ns->q.at.incarnation &&
            !strcmp(h->rid.node, ns->q.at.node))
            stage__free(stage__u64map_take(&t->hubs, ns->q.home.serial));
        break;
    case STAGE__MOVE_FAILED:
        if (!(m = waiting(t, h, ns, true))) break;
        net_restore(t, m, status_known(ns->q.status), ns->data, ns->q.len);
        break;
    case STAGE__MOVE_ADOPT:
        guest_adopt(t, ns);
        break;
    case STAGE__MOVE_ADOPTED:
        home_adopted(t, h, ns);
        break;
    }
    if (ns->f) stage__future_unref(ns->f);
    stage__free(ns);
}

/* REPLY: the answer to a call held here under a token. Any thread. */
static void net_reply(stage_node_t *node, const char *peer,
                      const stage__move_msg_t *q) {
    stage__future_t *f =
        q->inc == node->incarnation ? stage__replies_take(node, q->n) : NULL;
    if (!f) {
        LOG_WARN("dropped the answer from '%s' to a call held by token %llu: "
                 "no call waits for it here (it was answered, or this node "
                 "restarted)",
                 peer, (unsigned long long)q->n);
        return;
    }
    if (q->status == 0) {
        stage__future_resolve(f, q->data, q->len);
    } else {
        char msg[1024];
        snprintf(msg, sizeof msg, "%.*s", (int)q->len, q->data);
        stage__future_reject(f, status_known(q->status), msg, NULL, NULL);
    }
    stage__future_unref(f);
}

void stage__move_net_in(stage_node_t *node, const char *peer,
                        const stage__move_msg_t *q, stage__future_t *f) {
    if (q->op == STAGE__MOVE_REPLY) {
        net_reply(node, peer, q);
        return;
    }
    int th;
    const stage_id_t *own = q->op == STAGE__MOVE_REQ ||
                                    q->op == STAGE__MOVE_OUT ||
                                    q->op == STAGE__MOVE_ADOPT
                                ? &q->at
                            : q->op == STAGE__MOVE_IMPORT ? NULL
                                                          : &q->home;
    if (own) {
        th = stage__serial_theatre(own->serial);
        if (!stage__id_is_local(node, own) || !stage__node_theatre(node, th)) {
            char idt[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 200];
            stage_id_format(own, idt, sizeof idt);
            snprintf(msg, sizeof msg,
                     "actor '%s' not found on node '%s': cannot move it", idt,
                     node->address);
            if (f)
                stage__future_reject(f, STAGE_EACTOR_NOT_FOUND, msg, idt, NULL);
            else
                LOG_WARN("refused a move step (%d) from '%s': %s", q->op, peer,
                         msg);
            return;
        }
    } else {
        int n = stage_node_theatres(node);
        th = (int)(q->home.serial % (uint64_t)(n > 0 ? n : 1));
    }
    netstep_t *ns = stage__malloc(sizeof *ns + q->len + q->flen + 1);
    stage__env_t *e =
        ns ? stage__env_call(netstep_call, netstep_drop, ns) : NULL;
    if (!e) {
        stage__free(ns);
        LOG_ERROR("out of memory: a move step from '%s' is lost", peer);
        if (f)
            stage__future_reject(f, STAGE_ENOMEM, "out of memory", NULL, NULL);
        return;
    }
    ns->q = *q;
    snprintf(ns->peer, sizeof ns->peer, "%s", peer);
    snprintf(ns->where, sizeof ns->where, "%s", q->where ? q->where : "");
    ns->q.where = NULL;
    if (q->len) memcpy(ns->data, q->data, q->len);
    ns->q.data = ns->data;
    if (q->flen) memcpy(ns->data + q->len, q->formers, q->flen);
    ns->q.formers = q->flen ? ns->data + q->len : NULL;
    ns->f = f;
    if (f) stage__future_ref(f);
    stage__theatre_post(stage__node_theatre(node, th), e);
}

typedef struct down_look {
    const char *peer;
    hub_t *found;
} down_look_t;

/* u64map_each: the first hub whose move waits for look->peer. */
static void down_find(uint64_t key, void *val, void *ud) {
    (void)key;
    hub_t *h = val;
    down_look_t *look = ud;
    if (!look->found && h->moving && h->cur && h->cur->wait[0] &&
        !strcmp(h->cur->wait, look->peer))
        look->found = h;
}

static void down_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    stage__free(e->arg);
    stage__env_free(e);
}

typedef struct orphans {
    const char *peer;
    uint64_t serials[64];
    int n;
} orphans_t;

/* u64map_each: guests here (not moving) whose home is look->peer. */
static void orphan_find(uint64_t key, void *val, void *ud) {
    hub_t *h = val;
    orphans_t *o = ud;
    if (h->guest && !h->moving && !h->remote && o->n < 64 &&
        !strcmp(h->home.node, o->peer))
        o->serials[o->n++] = key;
}

/* At t: the guests whose home node is gone (it died, or left without
** handing them over) become this node's own, as a drain's ADOPT would
** make them, and the migrations store learns their first id -> their id
** here: senders of the first id find them there (net/relocate.c). Their
** names went with the home. */
static void orphans_adopt(stage__theatre_t *t, const char *peer) {
    orphans_t o = {.peer = peer};
    do {
        o.n = 0;
        stage__u64map_each(&t->hubs, orphan_find, &o);
        for (int i = 0; i < o.n; i++) {
            hub_t *h = hub_get(t, o.serials[i]);
            stage_id_t first = h->home, here = h->home;
            snprintf(here.node, sizeof here.node, "%s", t->node->address);
            here.incarnation = t->node->incarnation;
            here.serial = o.serials[i];
            here.theatre = (uint16_t)stage__serial_theatre(o.serials[i]);
            /* the ids that led to its home (it took the actor over
            ** before) lead here too: their entries died with it */
            char *formers = h->formers;
            size_t flen = h->flen;
            h->formers = NULL;
            h->guest = false;
            atomic_fetch_sub(&guest_hubs, 1);
            memset(&h->home, 0, sizeof h->home);
            if (h->at == t->index)
                stage__free(stage__u64map_take(&t->hubs, o.serials[i]));
            if (t->node->net_hooks.rehomed)
                t->node->net_hooks.rehomed(t->node, &first, &here,
                                           STAGE_ENODE_DOWN, formers, flen);
            stage__free(formers);
        }
    } while (o.n == 64);
}

/* At t: the moves that wait for node peer's answer learn it died. */
static void down_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    char *peer = e->arg; /* the address, then whether its session ended */
    stage__env_free(e);
    if (peer[strlen(peer) + 1]) /* it ended: its guests here are orphans */
        orphans_adopt(t, peer);
    for (;;) { /* one at a time: a release may change the table */
        down_look_t look = {peer, NULL};
        stage__u64map_each(&t->hubs, down_find, &look);
        if (!look.found) break;
        move_t *m = look.found->cur;
        char why[2 * STAGE_ADDR_MAX + 160];
        if (m->image.len) {
            snprintf(why, sizeof why,
                     "node '%s' went down before it took the actor in: the "
                     "actor is taken back on node '%s'",
                     peer, t->node->address);
            LOG_WARN("%s", why);
            net_restore(t, m, STAGE_ENODE_DOWN, why, strlen(why));
        } else {
            m->rc = STAGE_ENODE_DOWN;
            snprintf(m->err, sizeof m->err,
                     "node '%s' went down with the actor: it is lost", peer);
            wait_for(m, NULL);
            m->at = -1;
            hub_release(t, m);
        }
    }
    stage__free(peer);
}

void stage__move_node_down(stage_node_t *node, const char *peer, bool ended) {
    if (!atomic_load(&waiting_moves) && (!ended || !atomic_load(&guest_hubs)))
        return; /* the common case */
    int n = stage_node_theatres(node);
    size_t len = strlen(peer);
    for (int i = 0; i < n; i++) {
        char *copy = stage__malloc(len + 2);
        stage__env_t *e =
            copy ? stage__env_call(down_call, down_drop, copy) : NULL;
        if (!e) {
            stage__free(copy);
            LOG_ERROR("out of memory: moves to node '%s' in theatre %d wait "
                      "for it still",
                      peer, i);
            continue;
        }
        memcpy(copy, peer, len + 1);
        copy[len + 1] = ended;
        stage__theatre_post(stage__node_theatre(node, i), e);
    }
}

int stage__migrate_node(stage_node_t *node, uint64_t serial, const char *where,
                        stage__future_t *f, bool self) {
    if (!strcmp(where, node->address)) /* this node: its birth theatre */
        return stage__migrate(node, serial, stage__serial_theatre(serial), f,
                              self);
    int b = stage__serial_theatre(serial);
    if (!stage__node_theatre(node, b) || !node->net_hooks.move ||
        strlen(where) >= STAGE_ADDR_MAX)
        return STAGE_EINVAL;
    move_t *m = stage__calloc(1, sizeof *m);
    if (!m) return STAGE_ENOMEM;
    m->serial = serial;
    m->to = -1;
    m->at = -1;
    m->left = -1;
    m->self = self;
    m->f = f;
    snprintf(m->node_to, sizeof m->node_to, "%s", where);
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

int stage__migrate_remote(stage_node_t *node, const stage_id_t *who,
                          const char *where, stage__future_t *f) {
    if (!node->net_hooks.move || strlen(where) >= STAGE_ADDR_MAX)
        return STAGE_EINVAL;
    stage__move_msg_t q = {.op = STAGE__MOVE_REQ, .at = *who, .where = where};
    node->net_hooks.move(node, who->node, &q, f);
    return 0;
}
