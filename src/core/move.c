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
** Between nodes (section "between nodes" below), the decisions are the
** machine's, node/hub.h (one per theatre: the serials born there): it
** holds and routes an actor's messages while it moves between nodes,
** says which step goes where and when an actor leaves, comes back, or is
** this node's own; this file carries them out (exports, imports, frames,
** envelopes, images). B's queue below stays the one order of an actor's
** moves: a move to another node starts in the machine when it reaches
** the head of that queue, and so does a guest's export its home asked.
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
#include "wire/mp.h"
#include "node/hub.h"
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
    char node_to[STAGE_ADDR_MAX]; /* "": a theatre of this node; ship: its
                                  ** home, where its image goes */
    bool ship;      /* the machine's export of a guest (its home asked) */
    bool machine;   /* a move the machine runs (its req): FX_ANSWER ends it */
    bool parked;    /* ... and only the machine has it now (no step of it
                    ** is on its way inside this node) */
    bool exporting; /* its export for the machine is under way */
};

typedef struct hub {
    int at;      /* the theatre the actor is at */
    int going;   /* while moving: where to */
    bool moving; /* a move is under way (this hub holds messages if it is
                 ** one inside the node: holds()) */
    stage__env_t *head, *tail;
    move_t *cur; /* the move under way (NULL: a steal) */
    move_t *qhead, *qtail;
    const stage__type_t *type; /* the actor's (its id for the machine) */
} hub_t;

static void hub_start(stage__theatre_t *t, hub_t *h, move_t *m);
static bool net_start(stage__theatre_t *t, hub_t *h, move_t *m);
static void net_exported(stage__theatre_t *t, move_t *m);
static void export_ended(stage__theatre_t *t, hub_t *h, move_t *m);
static const stage__import_opts_t *import_opts(move_t *m,
                                               stage__import_opts_t *o);
static bool machine_knows(const stage__theatre_t *t, uint64_t serial);
static int machine_place(const stage__theatre_t *t, uint64_t serial,
                         const char **node);
static void machine_msg(stage__theatre_t *t, uint64_t serial, stage__env_t *e);
static void machine_stopped(stage__theatre_t *t, uint64_t serial);

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
** a steal's and a guest's export's are not: its home answers), and free
** m. */
static void move_finish(stage_node_t *node, move_t *m) {
    if (m->rc && !m->f && !m->steal && !m->ship) {
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

/* Whether h holds its actor's messages: a move inside the node is under
** way (the machine holds them during one between nodes). */
static bool holds(const hub_t *h) {
    return h->moving && !(h->cur && (h->cur->machine || h->cur->ship));
}

/* A new hub for serial, at t (B) where it is (NULL if out of memory). */
static hub_t *hub_new(stage__theatre_t *t, uint64_t serial) {
    hub_t *h = stage__calloc(1, sizeof *h);
    if (!h || stage__u64map_put(&t->hubs, serial, h)) {
        stage__free(h);
        return NULL;
    }
    stage__actor_t *a = stage__actor_find(t, serial);
    h->at = t->index;
    h->type = a ? a->type : NULL;
    return h;
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

/* The move m is over (m->at: where the actor is, -1: unchanged): forward
** what was held, complete m, start the next queued move or drop a hub no
** longer needed. An export for the machine ends in export_ended. B's
** thread. */
static void hub_release(stage__theatre_t *t, move_t *m) {
    uint64_t serial = m->serial;
    hub_t *h = hub_get(t, serial);
    if (!h) { /* cannot happen: a move holds its hub */
        move_finish(t->node, m);
        return;
    }
    if (m->exporting) {
        export_ended(t, h, m);
        return;
    }
    if (m->at >= 0) h->at = m->at;
    h->moving = false;
    h->cur = NULL;
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
        return;
    }
    if (h->at == t->index) stage__free(stage__u64map_take(&t->hubs, serial));
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

/* Take the actor in at t (its destination): C drops it, B forwards to it.
** If that fails, C keeps it (m->back: the move inside the node always has
** one). */
static void import_here(stage__theatre_t *t, move_t *m) {
    assert(m->back);
    stage__import_opts_t o;
    int rc =
        stage__actor_import(t, m->image.data, m->image.len, import_opts(m, &o),
                            NULL, NULL, m->err, sizeof m->err);
    if (rc) {
        m->rc = rc;
        abort_move(t, m);
        return;
    }
    marked(t, m->serial);
    m->at = t->index;
    commit_move(t, m);
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

static void in_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    net_exported(t, step(e));
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

/* The rest of a MOVE frame beside its image: an IN's two ids; an
** IMPORT's, and the ids and names it carries (16 ids at most; more than
** this is found as the frame goes, and fails the IMPORT there, the home
** keeping its copy; an IN is a guest's only copy of itself). */
#define MOVE_IN_REST 1024
#define MOVE_IMPORT_REST 4096

/* An image larger than the node it goes to takes could not go (for a
** guest shipped home, it would be lost): 0, or STAGE_ETOOBIG and why in
** m->err, before it leaves. t's thread. */
static int too_large(stage__theatre_t *t, move_t *m) {
    stage_node_t *node = t->node;
    if (!m->node_to[0] || !node->net_hooks.takes) return 0;
    size_t max = node->net_hooks.takes(node, m->node_to);
    size_t rest = m->ship ? MOVE_IN_REST : MOVE_IMPORT_REST;
    if (m->image.len <= (max > rest ? max - rest : 0)) return 0;
    /* no id: the reason goes through the machine's 256 bytes, and whoever
    ** hears it knows the actor */
    if (m->ship)
        snprintf(m->err, sizeof m->err,
                 "cannot move: its image takes a frame of over %zu bytes, "
                 "more than its home node '%s' takes (its --max-message is "
                 "smaller), and a move goes through there",
                 m->image.len, m->node_to);
    else
        snprintf(m->err, sizeof m->err,
                 "cannot move to node '%s': its image takes a frame of over "
                 "%zu bytes, more than that node takes (its --max-message is "
                 "smaller than this node's)",
                 m->node_to, m->image.len);
    return STAGE_ETOOBIG;
}

/* Export a (idle, t's thread) for m and keep it here, leaving. Inside the
** node the image goes straight to its destination D, which takes it in,
** then tells this theatre (COMMIT or ABORT) and B (RELEASE); to another
** node it goes to B, which hands it to the machine (net_exported). */
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
    bool away = m->exporting; /* to another node: through B */
    int b = stage__serial_theatre(m->serial);
    stage__env_t *e = NULL;
    int rc =
        away ? stage__actor_export(t, a, &m->image, m->err, sizeof m->err)
             : stage__actor_export_bare(t, a, &m->image, m->err, sizeof m->err);
    if (!rc && away && ((rc = bound_here(t, a, m)) || (rc = too_large(t, m))))
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
        net_exported(t, m);
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
    h->going = m->rc || m->to < 0 ? h->at : m->to;
    m->at = h->at;
    if (m->ship)
        m->exporting = true; /* its home's order: the export, here */
    else if (!m->rc && net_start(t, h, m))
        return;
    stage__theatre_t *d =
        m->rc || m->to < 0 ? NULL : stage__node_theatre(t->node, m->to);
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

/* At B: start m, or queue it behind the move under way (one order of
** moves per actor, whichever kind). */
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
    if (!h && !stage__actor_find(t, m->serial) &&
        !machine_knows(t, m->serial)) {
        m->rc = STAGE_EACTOR_NOT_FOUND;
        m->at = t->index;
        snprintf(m->err, sizeof m->err,
                 "no actor of serial %llu on node '%s' (theatre %d): it "
                 "stopped, or never lived here; only a live actor moves",
                 (unsigned long long)m->serial, t->node->address, t->index);
        move_finish(t->node, m);
        return;
    }
    if (!h && !(h = hub_new(t, m->serial))) {
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        move_finish(t->node, m);
        return;
    }
    hub_start(t, h, m);
}

static void request_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    request_here(t, step(e));
}

/* Where actor serial (hub h, or NULL: at t) is, or goes while it moves:
** a theatre of this node, or -1 and *node, the address of the node it is
** on or goes to (the machine's word), else NULL. Its birth theatre's
** thread. */
static int hub_place(stage__theatre_t *t, const hub_t *h, uint64_t serial,
                     const char **node) {
    *node = NULL;
    if (machine_place(t, serial, node) != STAGE_HUB_PLACE_HERE && *node) {
        if (strcmp(*node, t->node->address)) return -1;
        *node = NULL; /* coming home: to its birth theatre */
        return t->index;
    }
    *node = NULL;
    return !h ? t->index : h->moving && h->cur ? h->going : h->at;
}

/* At the birth theatre of m->by (t): where that actor is now goes into
** m->to (where it goes, if it is moving), or m->node_to if that is another
** node, and m on to A's birth theatre; not there (it stopped), m fails
** with ActorNotFound naming it. */
static void near_here(stage__theatre_t *t, move_t *m) {
    hub_t *h = hub_get(t, m->by.serial);
    stage__actor_t *x = h ? NULL : stage__actor_find(t, m->by.serial);
    bool known = h || machine_knows(t, m->by.serial);
    if (!known && (!x || (x->flags & ACTOR_DEAD))) {
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
        const char *node;
        m->to = hub_place(t, h, m->by.serial, &node);
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

/* The drop of a call whose arg is one allocation: a later move's, a
** rename's. */
static void arg_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
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
    stage__env_t *e = l ? stage__env_call(later_call, arg_drop, l) : NULL;
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
        (t->hubs.count && hub_get(t, a->serial)) ||
        machine_knows(t, a->serial)) {
        /* a move asked of it is under way (refused at its start, say, its
        ** release still on its way here; or a move it asked itself, on
        ** its way to here): it is that move's */
        if (a->mbox_head) stage__actor_schedule(t, a);
        return STAGE_EBUSY;
    }
    move_t *m = stage__calloc(1, sizeof *m);
    hub_t *h = m ? hub_new(t, a->serial) : NULL;
    if (!h) {
        stage__free(m);
        if (a->mbox_head) stage__actor_schedule(t, a);
        return STAGE_ENOMEM;
    }
    m->serial = a->serial;
    m->to = to;
    m->at = t->index;
    m->left = -1;
    m->steal = true;
    stage_pack_init(&m->image);
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
    char canon[STAGE_ADDR_MAX]; /* as the transport names its peers */
    if ((a->flags & ACTOR_MOVING) || !t->node->net_hooks.move ||
        stage__node_addr_canon(where, canon, sizeof canon))
        return STAGE_EINVAL;
    return self_move(t, a, -1, NULL, canon);
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
    if (h && !h->moving && h->at == at) {
        stage__free(stage__u64map_take(&t->hubs, serial));
        machine_stopped(t, serial);
    }
}

void stage__move_gone(stage__theatre_t *t, uint64_t serial) {
    int b = stage__serial_theatre(serial);
    if (b == t->index) { /* at home: the machine's, if it knows it */
        hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
        if (!h || (!h->moving && h->at == t->index)) machine_stopped(t, serial);
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
    const char *node;
    int place = machine_place(t, serial, &node);
    if (place == STAGE_HUB_PLACE_MOVING) { /* between nodes: it holds */
        machine_msg(t, serial, e);
        return 1;
    }
    if (place != STAGE_HUB_PLACE_HERE) return 0; /* watches stay here */
    hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
    if (h && holds(h)) {
        hub_hold(h, e);
        return 1;
    }
    if (!h || h->at == t->index) return 0;
    stage__theatre_post(stage__node_theatre(t->node, h->at), e);
    return 1;
}

void stage__move_leaving(stage__theatre_t *t, stage__env_t *e) {
    if (!stage__move_follow(t, e->target, e))
        stage__env_undeliverable(t->node, e); /* cannot happen: B holds */
}

/* A message for serial at t, its birth theatre, that the machine does
** not know: held if a move inside the node is under way, else sent where
** the actor is (its theatre: B's thread). */
static void deliver_here(stage__theatre_t *t, uint64_t serial,
                         stage__env_t *e) {
    hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
    if (h && holds(h))
        hub_hold(h, e);
    else
        forward(t, h ? h->at : t->index, e);
}

int stage__move_miss(stage__theatre_t *t, stage__env_t *e) {
    if (stage__serial_theatre(e->target) != t->index) return 0;
    if (machine_knows(t, e->target)) {
        machine_msg(t, e->target, e);
        return 1;
    }
    hub_t *h = t->hubs.count ? hub_get(t, e->target) : NULL;
    if (!h || (!holds(h) && h->at == t->index)) return 0;
    deliver_here(t, e->target, e);
    return 1;
}

static void machine_free(stage__theatre_t *t);

/* Fail what hub val holds (teardown). */
static void hub_free(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    hub_t *h = val;
    for (stage__env_t *e; (e = h->head);) {
        h->head = e->next;
        stage__env_drop(e, STAGE_ESTOPPED);
    }
    /* the move under way is an envelope's (its drop fails it) or, parked,
    ** the machine's (machine_free fails it): not read here, it may be
    ** gone */
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
    machine_free(t);
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
** The home dies: its guests take themselves over (FX_REHOMED), each with
** the ids that led to its home id there, which its IMPORT carried
** (net/netmove.c adds them from the home's migrations store entries); a
** guest being exported to go home stays, taken back from its image.
** Every decision above is the machine's (node/hub.h, its header says the
** states); what follows carries its effects out and feeds it the steps,
** the exports' and imports' ends, deaths and hand-overs.
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

/* ---- the machine's driver -------------------------------------------------
** One machine per theatre (node/hub.h), made at first need: the hubs of
** the actors born there and the guests taken in there (their serials are
** born there too). Its handles are this file's: a message is its
** envelope, an image a netimage_t, a request the move_t at the head of
** its actor's queue. What it holds when the node stops is failed here
** (machine_free): the envelopes it holds are listed as they go in, the
** images as they are made. Its effects run on the theatre's thread, in
** the order given; one that starts a move (the next in a queue) adds
** effects, run after those of the batch at hand (machine_run). */

/* An image the machine holds: an actor between nodes, in t's list. */
typedef struct netimage {
    struct netimage *prev, *next;
    stage_pack_t pack;
} netimage_t;

/* Theatres of this process with a machine (made, not yet freed): a
** session's end is told to theatres only when there are some. */
static atomic_long machines;

typedef struct stage__netmoves stage__netmoves_t;
struct stage__netmoves {
    stage_hub_t *hub;
    netimage_t *images;   /* alive: made here, not yet freed */
    stage_u64map_t held;  /* envelopes given to the machine, not yet back */
    stage_u64map_t moves; /* the moves it alone has (parked) */
    bool running;         /* machine_run is carrying its effects out */
    size_t adopts;        /* ADOPT steps sent (a hand-over round's count) */
};

/* t's machine, made at first need; NULL if out of memory. t's thread. */
static stage__netmoves_t *netmoves(stage__theatre_t *t) {
    if (t->netmoves) return t->netmoves;
    stage__netmoves_t *nm = stage__calloc(1, sizeof *nm);
    if (nm &&
        !(nm->hub = stage_hub_new(t->node->address, t->node->incarnation))) {
        stage__free(nm);
        nm = NULL;
    }
    if (nm) atomic_fetch_add_explicit(&machines, 1, memory_order_relaxed);
    t->netmoves = nm;
    return nm;
}

/* Whether t's machine has a hub or a guest for serial. t's thread. */
static bool machine_knows(const stage__theatre_t *t, uint64_t serial) {
    return t->netmoves && stage_hub_knows(t->netmoves->hub, serial);
}

/* The machine's STAGE_HUB_PLACE_* for serial; *node as stage_hub_place. */
static int machine_place(const stage__theatre_t *t, uint64_t serial,
                         const char **node) {
    *node = NULL;
    return t->netmoves ? stage_hub_place(t->netmoves->hub, serial, node, NULL)
                       : STAGE_HUB_PLACE_HERE;
}

bool stage__move_lives_away(const stage__theatre_t *t, uint64_t serial) {
    const char *node;
    int place = machine_place(t, serial, &node);
    return place == STAGE_HUB_PLACE_AWAY || place == STAGE_HUB_PLACE_MOVING;
}

/* A new image of t with a copy of data[0..len); NULL if out of memory. */
static netimage_t *image_new(stage__theatre_t *t, const char *data,
                             size_t len) {
    netimage_t *im = stage__calloc(1, sizeof *im);
    if (!im) return NULL;
    stage_pack_init(&im->pack);
    stage_pack_raw(&im->pack, data, len);
    if (stage_pack_error(&im->pack)) {
        stage_pack_free(&im->pack);
        stage__free(im);
        return NULL;
    }
    im->next = t->netmoves->images;
    if (im->next) im->next->prev = im;
    t->netmoves->images = im;
    return im;
}

/* Free image im of t (NULL: none). */
static void image_free(stage__theatre_t *t, netimage_t *im) {
    if (!im) return;
    if (im->prev)
        im->prev->next = im->next;
    else
        t->netmoves->images = im->next;
    if (im->next) im->next->prev = im->prev;
    stage_pack_free(&im->pack);
    stage__free(im);
}

static void machine_run(stage__theatre_t *t);

/* Move m is the machine's alone (on), or not any more: listed so, for
** the teardown. t's thread. */
static void park(stage__theatre_t *t, move_t *m, bool on) {
    if (on && !m->parked &&
        stage__u64map_put(&t->netmoves->moves, (uint64_t)(uintptr_t)m, m))
        LOG_WARN("out of memory listing a move between nodes: if the node "
                 "stops before it ends, its future is not failed");
    if (!on && m->parked)
        stage__u64map_take(&t->netmoves->moves, (uint64_t)(uintptr_t)m);
    m->parked = on;
}

/* Message e for local serial (the machine knows it): the machine routes
** or holds it. t's thread (serial's birth theatre). */
static void machine_msg(stage__theatre_t *t, uint64_t serial, stage__env_t *e) {
    stage__netmoves_t *nm = t->netmoves;
    if (stage__u64map_put(&nm->held, (uint64_t)(uintptr_t)e, e))
        LOG_WARN("out of memory listing a message held for a moving actor: "
                 "if the node stops before it goes, it is not failed");
    stage_hub_msg(nm->hub, serial, (uint64_t)(uintptr_t)e);
    machine_run(t);
}

/* Local actor serial stopped where it was (not moving): the machine
** forgets it (a guest's home hears; the nodes it left forget it). */
static void machine_stopped(stage__theatre_t *t, uint64_t serial) {
    if (!machine_knows(t, serial) &&
        !(t->netmoves && stage_hub_visited(t->netmoves->hub, serial)))
        return;
    stage_hub_stopped(t->netmoves->hub, serial);
    machine_run(t);
}

/* The envelope the machine gives back as msg. */
static stage__env_t *held_back(stage__theatre_t *t, uint64_t msg) {
    stage__u64map_take(&t->netmoves->held, msg);
    return (stage__env_t *)(uintptr_t)msg;
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

/* FX_STEP REQ: move m is asked of node `to` (a guest's home, or the node
** an actor handed over lives at), which answers m's future; here it is
** over. Asked by the actor itself (a guest), it takes no message until
** the home's order comes; if the home refuses, or cannot be reached, it
** serves on (self_refused, on its theatre). */
static void step_req(stage__theatre_t *t, const char *to,
                     const stage__move_msg_t *q, move_t *m) {
    hub_t *h = hub_get(t, m->serial);
    stage__future_t *f = m->f;
    if (m->self && !f &&
        (f = stage__future_new(t->node, h ? h->at : t->index, 0)) &&
        stage__future_on_any(f, self_refused, (void *)(uintptr_t)m->serial)) {
        stage__future_unref(f);
        f = NULL;
    }
    t->node->net_hooks.move(t->node, to, q, f);
    if (f && f != m->f) {
        f->observed = true; /* self_refused logs a failure */
        stage__future_unref(f);
    }
    if (m->f) stage__future_unref(m->f);
    m->f = NULL;
    park(t, m, false);
    m->rc = 0;
    m->at = -1;
    hub_release(t, m);
}

/* FX_STEP: the step goes to its node, with the image's bytes (an IN's
** image is done with then; an IMPORT's the machine keeps). */
static void fx_step(stage__theatre_t *t, const stage_hub_fx_t *x) {
    const stage_hub_step_t *s = &x->step;
    stage_node_t *node = t->node;
    netimage_t *im = (netimage_t *)(uintptr_t)s->image;
    stage__move_msg_t q = {.op = s->op,
                           .status = s->status,
                           .home = s->home,
                           .at = s->at,
                           .where = s->where[0] ? s->where : NULL};
    if (q.at.serial && stage__id_is_local(node, &q.at)) /* the machine's */
        q.at.theatre = (uint16_t)stage__serial_theatre(q.at.serial);
    if ((s->op == STAGE_HUB_IN || s->op == STAGE_HUB_IMPORT) && im) {
        q.data = im->pack.data;
        q.len = im->pack.len;
    } else if (s->op == STAGE_HUB_REFUSED || s->op == STAGE_HUB_FAILED) {
        q.data = s->why;
        q.len = strlen(s->why);
    }
    if (s->op == STAGE_HUB_ADOPT || s->op == STAGE_HUB_TOMB)
        t->netmoves->adopts++; /* the drain waits for its answer */
    if (s->op == STAGE_HUB_REQ && s->req) {
        step_req(t, x->node, &q, (move_t *)(uintptr_t)s->req);
        return;
    }
    node->net_hooks.move(node, x->node, &q, NULL);
    if (s->op == STAGE_HUB_IN) image_free(t, im);
}

/* Start the export of m (the machine's, at the head of h's queue) where
** its actor is. B's thread. */
static void export_start(stage__theatre_t *t, hub_t *h, move_t *m) {
    m->at = h->at;
    if (h->at == t->index) {
        out_here(t, m);
    } else if (post(t->node, h->at, out_call, m)) {
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        hub_release(t, m);
    }
}

/* FX_EXPORT: local actor serial leaves: for the move at the head of its
** queue, or, a guest its home asked home (OUT), as a move of its own in
** that queue, behind any under way. */
static void fx_export(stage__theatre_t *t, uint64_t serial) {
    hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
    move_t *m = h && h->moving && h->cur && h->cur->parked ? h->cur : NULL;
    if (m) {
        park(t, m, false);
        m->exporting = true;
        export_start(t, h, m);
        return;
    }
    m = stage__calloc(1, sizeof *m);
    if (!m || (!h && !(h = hub_new(t, serial)))) {
        stage__free(m);
        stage_hub_export_refused(t->netmoves->hub, serial, STAGE_ENOMEM,
                                 "out of memory");
        return;
    }
    m->serial = serial;
    m->to = m->at = m->left = -1;
    m->ship = true;
    const char *home = NULL; /* SHIP: MOVING, to its home */
    machine_place(t, serial, &home);
    if (home) snprintf(m->node_to, sizeof m->node_to, "%s", home);
    stage_pack_init(&m->image);
    request_here(t, m);
}

/* At B, the export of m for the machine is done: the image is the actor
** now (the theatre that kept it drops it), the machine has it. */
static void net_exported(stage__theatre_t *t, move_t *m) {
    netimage_t *im = image_new(t, m->image.data, m->image.len);
    if (!im) { /* it stays where it is kept */
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        abort_move(t, m);
        return;
    }
    stage_pack_free(&m->image);
    stage_pack_init(&m->image);
    m->exporting = false;
    commit_move(t, m);
    hub_t *h = hub_get(t, m->serial);
    if (h) h->at = t->index; /* taken back, it runs here (FX_RESTORE) */
    stage_hub_exported(t->netmoves->hub, m->serial, (uint64_t)(uintptr_t)im);
    if (m->ship) { /* its home has it: this queue's move is over */
        m->at = -1;
        hub_release(t, m);
    } else {
        park(t, m, true);
    }
    machine_run(t);
}

/* At B, the export of m for the machine failed (m->rc, m->err; m->at:
** where the actor stays). */
static void export_ended(stage__theatre_t *t, hub_t *h, move_t *m) {
    stage_hub_t *hub = t->netmoves->hub;
    m->exporting = false;
    if (m->at >= 0) h->at = m->at;
    stage_hub_export_refused(hub, m->serial, m->rc, m->err);
    /* it stopped meanwhile (its stop was not told: a move was under way):
    ** a guest's home hears (GONE), the nodes it left forget it (FORGET) */
    if (m->rc == STAGE_EACTOR_NOT_FOUND) stage_hub_stopped(hub, m->serial);
    if (m->ship) {
        m->at = -1;
        hub_release(t, m);
    } else {
        park(t, m, true); /* FX_ANSWER ends it */
    }
    machine_run(t);
}

/* FX_ANSWER: the machine's move m is over. One to a theatre of this node
** of an actor that lived on another node came home first: it goes on
** there as a move inside the node. */
static void fx_answer(stage__theatre_t *t, const stage_hub_fx_t *x) {
    move_t *m = (move_t *)(uintptr_t)x->req;
    hub_t *h = hub_get(t, m->serial);
    park(t, m, false);
    m->rc = x->status;
    if (m->rc) {
        snprintf(m->err, sizeof m->err, "%s", x->why);
    } else {
        m->id = x->id;
        if (stage__id_is_local(t->node, &m->id))
            m->id.theatre = (uint16_t)stage__serial_theatre(m->id.serial);
    }
    if (!m->rc && !m->node_to[0] && m->to >= 0 && m->to != t->index && h &&
        h->at == t->index) {
        m->machine = false;
        hub_start(t, h, m);
        return;
    }
    m->at = -1;
    hub_release(t, m);
}

/* FX_RESTORE: image im runs again at t as serial (its birth theatre). */
static void fx_restore(stage__theatre_t *t, uint64_t serial, netimage_t *im) {
    char err[512] = "out of memory";
    stage__import_opts_t o = {.bind_reply = bind_remote, .serial = serial};
    if (!im || stage__actor_import(t, im->pack.data, im->pack.len, &o, NULL,
                                   NULL, err, sizeof err)) {
        LOG_ERROR("an actor (serial %llu) could not be taken back in theatre "
                  "%d and is lost: %s",
                  (unsigned long long)serial, t->index, err);
        if (im)
            stage__image_drop(t->node, im->pack.data, im->pack.len,
                              STAGE_ENOMEM, err);
    } else {
        marked(t, serial);
    }
    hub_t *h = t->hubs.count ? hub_get(t, serial) : NULL;
    if (h) h->at = t->index;
    image_free(t, im);
}

/* FX_IMPORT: take image im in at t, a guest of x->id (its home). */
static void fx_import(stage__theatre_t *t, const stage_hub_fx_t *x) {
    stage_node_t *node = t->node;
    netimage_t *im = (netimage_t *)(uintptr_t)x->image;
    stage__import_opts_t o = {.bind_reply = bind_remote};
    stage_id_t id;
    char err[512] = "out of memory";
    int rc = STAGE_ENOMEM;
    if (atomic_load(&node->draining)) {
        rc = STAGE_ESTOPPED;
        snprintf(err, sizeof err,
                 "node '%s' is draining: it takes no actors that move",
                 node->address);
    } else if (im) {
        rc = stage__actor_import(t, im->pack.data, im->pack.len, &o, NULL, &id,
                                 err, sizeof err);
    }
    if (rc) {
        LOG_WARN("did not take in an actor moving from '%s': %s", x->id.node,
                 err);
        stage_hub_import_refused(t->netmoves->hub, x->image, rc, err);
    } else {
        stage_hub_imported(t->netmoves->hub, x->image, id.serial);
    }
    image_free(t, im);
}

/* FX_REHOMED: actor x->id is this node's as x->cur: the network records
** it (the ids x->step.formers says led to it, too) and answers the home
** that handed it over (x->node), or, none (its home died), notes the
** takeover (NodeDown). */
static void fx_rehomed(stage__theatre_t *t, const stage_hub_fx_t *x) {
    stage_node_t *node = t->node;
    stage_id_t cur = x->cur;
    cur.theatre = (uint16_t)stage__serial_theatre(cur.serial);
    if (node->net_hooks.rehomed)
        node->net_hooks.rehomed(node, &x->id, &cur,
                                x->node[0] ? 0 : STAGE_ENODE_DOWN,
                                x->step.formers, x->step.flen);
}

/* One of the machine's effects, carried out. */
static void fx_one(stage__theatre_t *t, const stage_hub_fx_t *x) {
    stage__env_t *e;
    switch (x->kind) {
    case STAGE_HUB_FX_DELIVER:
        deliver_here(t, x->serial, held_back(t, x->msg));
        break;
    case STAGE_HUB_FX_FORWARD:
        /* a theatre call (a watch request) finds the actor gone here:
        ** watches do not follow it to another node */
        e = held_back(t, x->msg);
        if (e->hdr.kind == ENV_CALL && !e->target)
            e->call(t, NULL, e);
        else
            stage__route_id(t->node, &x->id, e);
        break;
    case STAGE_HUB_FX_STEP:
        fx_step(t, x);
        break;
    case STAGE_HUB_FX_EXPORT:
        fx_export(t, x->serial);
        break;
    case STAGE_HUB_FX_IMPORT:
        fx_import(t, x);
        break;
    case STAGE_HUB_FX_RESTORE:
        fx_restore(t, x->serial, (netimage_t *)(uintptr_t)x->image);
        break;
    case STAGE_HUB_FX_DROP:
        image_free(t, (netimage_t *)(uintptr_t)x->image);
        break;
    case STAGE_HUB_FX_ANSWER:
        fx_answer(t, x);
        break;
    case STAGE_HUB_FX_REHOMED:
        fx_rehomed(t, x);
        break;
    case STAGE_HUB_FX_HANDED: /* the drain counts it (net/netdrain.c) */
        if (t->node->net_hooks.rehomed)
            t->node->net_hooks.rehomed(t->node, &x->id, &x->cur, x->status,
                                       NULL, 0);
        break;
    case STAGE_HUB_FX_LED: /* the drain counts it (net/netdrain.c) */
        if (t->node->net_hooks.led) t->node->net_hooks.led(t->node, x->status);
        break;
    case STAGE_HUB_FX_GONE: /* its names go, as when an actor stops here */
        if (t->node->net_hooks.actor_gone)
            t->node->net_hooks.actor_gone(t->node, x->serial);
        break;
    }
}

/* Carry out t's machine's effects until there are none. Called again
** while they run (an effect that feeds the machine), it returns: the
** loop below runs what that added after the batch at hand. */
static void machine_run(stage__theatre_t *t) {
    stage__netmoves_t *nm = t->netmoves;
    if (!nm || nm->running) return;
    nm->running = true;
    for (;;) {
        size_t n;
        const stage_hub_fx_t *v = stage_hub_effects(nm->hub, &n);
        if (!n) break;
        for (size_t i = 0; i < n; i++)
            fx_one(t, &v[i]);
    }
    nm->running = false;
}

/* At B, h moving with m: a move to another node (or, of an actor that
** lives on another node, to a theatre of this one: it comes home first,
** fx_answer) is the machine's from here on. True if it is (or it is over);
** false: a move inside the node. */
static bool net_start(stage__theatre_t *t, hub_t *h, move_t *m) {
    const char *dest = m->node_to;
    if (!dest[0]) {
        const char *node;
        int place = machine_place(t, m->serial, &node);
        /* MOVING: a guest whose home's order waits behind m in the queue */
        if (place == STAGE_HUB_PLACE_HERE || place == STAGE_HUB_PLACE_MOVING)
            return false;
        if (place != STAGE_HUB_PLACE_AWAY) {
            m->rc = STAGE_EACTOR_NOT_FOUND;
            if (place == STAGE_HUB_PLACE_HANDED)
                snprintf(m->err, sizeof m->err,
                         "the actor moved to node '%s', which is its home "
                         "now: move it by node address",
                         node);
            else
                snprintf(m->err, sizeof m->err,
                         "the actor moved to another node: ask its "
                         "reference there, or move it by node address");
            m->at = -1;
            hub_release(t, m);
            return true;
        }
        dest = t->node->address;
    }
    stage__netmoves_t *nm = netmoves(t);
    if (!nm) {
        m->rc = STAGE_ENOMEM;
        snprintf(m->err, sizeof m->err, "out of memory");
        m->at = -1;
        hub_release(t, m);
        return true;
    }
    stage_id_t me;
    memset(&me, 0, sizeof me);
    if (h->type) {
        stage__make_id(t->node, m->serial, h->type, &me);
    } else { /* known to the machine, which has its id */
        snprintf(me.node, sizeof me.node, "%s", t->node->address);
        me.incarnation = t->node->incarnation;
        me.serial = m->serial;
        me.theatre = (uint16_t)t->index;
    }
    m->machine = true;
    park(t, m, true);
    stage_hub_move(nm->hub, &me, dest, (uint64_t)(uintptr_t)m);
    machine_run(t); /* m may be over now */
    return true;
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

/* A status from another node: one this node names, else Handler. */
static int status_known(int status) {
    return status < 0 && strcmp(stage_err_name(status), "Error")
               ? status
               : STAGE_EHANDLER;
}

/* Step ns (not REQ, which is a request like any) for t's machine. */
static void machine_step(stage__theatre_t *t, const netstep_t *ns) {
    const stage__move_msg_t *q = &ns->q;
    if (q->op == STAGE__MOVE_FORGET && !t->netmoves) return; /* no tombs */
    stage__netmoves_t *nm = netmoves(t);
    if (!nm) {
        LOG_ERROR("out of memory: a move step (%d) from '%s' is lost", q->op,
                  ns->peer);
        return;
    }
    stage_hub_step_t s;
    memset(&s, 0, sizeof s);
    s.op = q->op;
    s.home = q->home;
    s.at = q->at;
    s.status = q->status ? status_known(q->status) : 0;
    if (q->op == STAGE__MOVE_REFUSED || q->op == STAGE__MOVE_FAILED)
        snprintf(s.why, sizeof s.why, "%.*s", (int)q->len, q->data);
    if (q->op == STAGE__MOVE_IN || q->op == STAGE__MOVE_IMPORT) {
        netimage_t *im = image_new(t, q->data, q->len);
        if (!im) /* an IMPORT is refused for it (fx_import) */
            LOG_ERROR("out of memory keeping the image of an actor from "
                      "'%s' (step %d)",
                      ns->peer, q->op);
        s.image = (uint64_t)(uintptr_t)im;
    }
    if (q->op == STAGE__MOVE_IMPORT) { /* the ids that led to its home */
        s.formers = q->formers;
        s.flen = q->flen;
    } else if (q->op == STAGE__MOVE_ADOPT || q->op == STAGE__MOVE_NAMES) {
        s.formers = q->data; /* [those ids, its names] */
        s.flen = q->len;
    }
    stage_hub_step(nm->hub, ns->peer, &s);
    machine_run(t);
}

/* u64map_each: fail a message the machine holds (teardown). */
static void held_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__env_drop(val, STAGE_ESTOPPED);
}

/* u64map_each: fail a move only the machine had (teardown). */
static void parked_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    move_t *m = val;
    if (m->f)
        stage__future_reject(m->f, STAGE_ESTOPPED,
                             "the node stopped during the move", NULL, NULL);
    move_free(m);
}

/* Free t's machine, failing what it alone has (teardown). */
static void machine_free(stage__theatre_t *t) {
    stage__netmoves_t *nm = t->netmoves;
    if (!nm) return;
    stage_hub_destroy(&nm->hub);
    stage__u64map_each(&nm->held, held_drop, NULL);
    stage__u64map_free(&nm->held);
    stage__u64map_each(&nm->moves, parked_drop, NULL);
    stage__u64map_free(&nm->moves);
    while (nm->images) {
        netimage_t *im = nm->images;
        stage__image_drop(t->node, im->pack.data, im->pack.len, STAGE_ESTOPPED,
                          "the node stopped during the move");
        image_free(t, im);
    }
    stage__free(nm);
    t->netmoves = NULL;
    atomic_fetch_sub_explicit(&machines, 1, memory_order_relaxed);
}

/* ---- handing homes over (the drain) ---------------------------------------
** A node that drains is the home of its actors that moved to other nodes:
** once it is gone, nothing would sequence them. So it hands each over to
** the node it is at (ADOPT, behind what it forwarded there; the machine's
** stage_hub_handover): that node makes it its own — its hub no longer
** asks home — and tells the migrations store (first id -> the id there),
** which senders of the first id consult once the home has left
** (net/relocate.c); it answers once the network has put it in the store
** and taken its names over (net_hooks.rehomed). The home forwards
** stragglers until it leaves, and passes moves asked of it to that node. */

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
    size_t left = 0, asked = 0;
    stage__netmoves_t *nm = t->netmoves;
    if (nm) {
        size_t before = nm->adopts;
        left = stage_hub_handover(nm->hub);
        machine_run(t);
        asked = nm->adopts - before;
    }
    r->fn(r->ud, t->index, asked, left > asked ? left - asked : 0);
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
    if (ns->q.op == STAGE__MOVE_REQ) { /* queued at its actor's B as any */
        if (stage__migrate_node(t->node, ns->q.at.serial, ns->where, ns->f,
                                false) &&
            ns->f)
            stage__future_reject(ns->f, STAGE_ENOMEM, "out of memory", NULL,
                                 NULL);
    } else {
        machine_step(t, ns);
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

/* A step for an actor that is not here (own): the call f fails, or the
** home asking for it (OUT) hears that it stays where it was (REFUSED),
** not here: its move ends, and so do the messages it held meanwhile; a
** home handing it over (ADOPT, its drain) hears that it was not taken
** (ADOPTED with the status), and its drain goes on without waiting for
** it. An id of this node's address but of an earlier incarnation names an
** actor lost with that incarnation (killed and restarted): NodeDown, as
** calls to it say. Other steps, and those for an actor of another
** address (an answer may speak only for this one's), are logged. Any
** thread. */
static void refuse_step(stage_node_t *node, const char *peer,
                        const stage__move_msg_t *q, const stage_id_t *own,
                        stage__future_t *f) {
    char idt[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 300];
    stage_id_format(own, idt, sizeof idt);
    /* an answer speaks for an actor of this address (the home checks it) */
    bool ours = !strcmp(own->node, node->address);
    bool lost = ours && own->incarnation != node->incarnation;
    if (lost)
        snprintf(msg, sizeof msg,
                 "node '%s' went down with actor '%s' and restarted: the "
                 "actor is lost",
                 node->address, idt);
    else
        snprintf(msg, sizeof msg,
                 "actor '%s' not found on node '%s': cannot move it", idt,
                 node->address);
    int status = lost ? STAGE_ENODE_DOWN : STAGE_EACTOR_NOT_FOUND;
    if (f) {
        stage__future_reject(f, status, msg, idt, NULL);
    } else if (q->op == STAGE__MOVE_OUT && ours && node->net_hooks.move) {
        stage__move_msg_t r = {.op = STAGE__MOVE_REFUSED,
                               .status = status,
                               .home = q->home,
                               .at = q->at,
                               .data = msg,
                               .len = strlen(msg)};
        node->net_hooks.move(node, peer, &r, NULL);
    } else if (q->op == STAGE__MOVE_ADOPT && ours && node->net_hooks.move) {
        LOG_INFO("not taking over actor '%s' from '%s': %s", idt, peer, msg);
        stage__move_msg_t r = {.op = STAGE__MOVE_ADOPTED,
                               .status = status,
                               .home = q->home,
                               .at = q->at};
        node->net_hooks.move(node, peer, &r, NULL);
    } else if (q->op == STAGE__MOVE_TOMB && ours && node->net_hooks.move) {
        /* the draining node hears at once (its tomb's id: home) */
        stage__move_msg_t r = {.op = STAGE__MOVE_ADOPTED,
                               .status = status,
                               .home = q->at,
                               .at = q->home};
        node->net_hooks.move(node, peer, &r, NULL);
    } else {
        LOG_WARN("refused a move step (%d) from '%s': %s", q->op, peer, msg);
    }
}

void stage__move_net_in(stage_node_t *node, const char *peer,
                        const stage__move_msg_t *q, stage__future_t *f) {
    if (q->op == STAGE__MOVE_REPLY) {
        net_reply(node, peer, q);
        return;
    }
    int th;
    const stage_id_t *own =
        q->op == STAGE__MOVE_REQ || q->op == STAGE__MOVE_OUT ||
                q->op == STAGE__MOVE_ADOPT || q->op == STAGE__MOVE_NAMES
            ? &q->at
        : q->op == STAGE__MOVE_IMPORT || q->op == STAGE__MOVE_FORGET
            ? NULL /* where its guests are: by its home serial */
            : &q->home;
    if (own) {
        th = stage__serial_theatre(own->serial);
        if (!stage__id_is_local(node, own) || !stage__node_theatre(node, th)) {
            refuse_step(node, peer, q, own, f);
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

static void down_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    stage__free(e->arg);
    stage__env_free(e);
}

/* At t: node peer is gone for the machine (its moves waiting for peer
** end; ended, its guests whose home it was are this node's own). */
static void down_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    char *peer = e->arg; /* the address, then whether its session ended */
    stage__env_free(e);
    if (t->netmoves) {
        stage_hub_node_down(t->netmoves->hub, peer, peer[strlen(peer) + 1]);
        machine_run(t);
    }
    stage__free(peer);
}

void stage__move_node_down(stage_node_t *node, const char *peer, bool ended) {
    /* relaxed: a machine made before the session ended was made by a
    ** theatre that sent or took a step through it: that step's frame
    ** came before the end, in the loop's order */
    if (!atomic_load_explicit(&machines, memory_order_relaxed))
        return; /* the common case: nothing ever moved between nodes */
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

/* At t, the birth theatre of the serial in the env: its names changed. */
static void renamed_call(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)a;
    uint64_t *serial = e->arg;
    stage__env_free(e);
    if (t->netmoves) {
        stage_hub_renamed(t->netmoves->hub, *serial);
        machine_run(t);
    }
    stage__free(serial);
}

void stage__move_renamed(stage_node_t *node, uint64_t serial) {
    /* relaxed: a machine whose step the loop took in was made before that
    ** step was pushed, so the loop sees it; one whose IMPORT the loop has
    ** not built yet needs nothing (the IMPORT, built after this claim,
    ** carries the name) */
    if (!atomic_load_explicit(&machines, memory_order_relaxed)) return;
    stage__theatre_t *b =
        stage__node_theatre(node, stage__serial_theatre(serial));
    if (!b) return;
    uint64_t *arg = stage__malloc(sizeof *arg);
    stage__env_t *e = arg ? stage__env_call(renamed_call, arg_drop, arg) : NULL;
    if (!e) {
        stage__free(arg);
        LOG_ERROR("out of memory: a name given to actor %llu may not reach "
                  "the node it lives on",
                  (unsigned long long)serial);
        return;
    }
    *arg = serial;
    stage__theatre_post(b, e);
}

int stage__migrate_node(stage_node_t *node, uint64_t serial,
                        const char *where_given, stage__future_t *f,
                        bool self) {
    char where[STAGE_ADDR_MAX]; /* as the transport names its peers */
    if (stage__node_addr_canon(where_given, where, sizeof where))
        return STAGE_EINVAL;
    if (!strcmp(where, node->address)) /* this node: its birth theatre */
        return stage__migrate(node, serial, stage__serial_theatre(serial), f,
                              self);
    int b = stage__serial_theatre(serial);
    if (!stage__node_theatre(node, b) || !node->net_hooks.move)
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
                          const char *where_given, stage__future_t *f) {
    char where[STAGE_ADDR_MAX]; /* as the transport names its peers */
    if (!node->net_hooks.move ||
        stage__node_addr_canon(where_given, where, sizeof where))
        return STAGE_EINVAL;
    stage__move_msg_t q = {.op = STAGE__MOVE_REQ, .at = *who, .where = where};
    node->net_hooks.move(node, who->node, &q, f);
    return 0;
}
