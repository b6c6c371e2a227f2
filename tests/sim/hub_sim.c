/*
** tests/sim/hub_sim.c: moves between nodes — the home scheme (src/node/
** hub.c) — on several nodes over a simulated network, one seed at a time,
** driven the way a node would drive it: messages for a local id enter the
** machine, which delivers, forwards or holds them; its steps travel as
** frames (FIFO per pair of nodes, random latency); exports, imports and
** restores move the actor's state (its image: what it has seen); the ids
** that led to a home id, and the names the home holds for the actor, go
** with an IMPORT, an ADOPT or a NAMES (net/netmove.c's part: the record
** as it is when the step is sent), and a takeover puts the ids into a
** migrations store (a map here; an entry dies with the node that wrote
** it) and claims the names (they are the new home's once the claim
** ends, 1-20 ms later).
**
** The system: NODES nodes, ACTORS actors (born one per node, round the
** ring). Every node sends numbered messages to random actors, each
** through a random one of the ids the actor has had. Actors move at
** random, asked by any node through any of their ids (a third of the
** moves straight back where the actor came from: thesis 5.3.1's race),
** to any node, its own home included; exports and imports are refused now
** and then. Every few seconds, one of: an actor stops where it runs (its
** messages fail ActorNotFound from then on), a node crashes (kill -9: what it
** held or had in flight is lost, and the others learn it 50-500 ms later,
** its guests taking themselves over), or a node drains (its actors that
** live elsewhere are handed over to the node they live at, those it runs
** move away; then it leaves). A sender of an id whose node it knows is
** gone asks the store where it went. Every node names random actors now
** and then: the name is held by the actor's home (its birth node, or the
** node that took it over), whatever the actor does meanwhile.
**
** Checked for every seed:
**   - every message ends once: delivered to its actor, or failed with
**     NodeDown because a node that held it or was to take it died, or
**     ActorNotFound because its actor stopped (the only failures
**     allowed); none is delivered twice, and each sender's
**     messages through one id reach the actor in the order sent;
**   - every move asked is answered once, or lost with a node that died;
**   - a home lets an actor's names go (FX_GONE) only once it stopped;
**   - an actor never runs in two places, and when it runs nowhere at the
**     end, a node it could have been lost with died;
**   - at the end, a probe from every live node through the actor's first
**     id and every id it has at a live node reaches every live actor;
**   - at the end, every live actor away from its live home keeps, where
**     it lives, the very names its home holds for it (a name given while
**     it moved, the IMPORT gone before, included), and a takeover claims
**     only names given to that actor;
**   - at the end, no live node keeps a tomb (a guest's forwarding entry)
**     of an actor that stopped, if its birth node is its home still and
**     lives, and so does the node it stopped at (FORGET).
**
**   hub_sim [FIRST_SEED [COUNT]]     (default 1 50)
** A failure prints the seed; `hub_sim SEED 1` replays it (HUB_SIM_TRACE=1
** prints every event).
*/
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/hub.h"
#include "stage/errors.h"

#define SIM_NAME "hub_sim"
#include "sim_util.h"

#define NODES 5
#define ACTORS 6
#define IDS_MAX 64
#define LAT_MAX 12
#define DETECT_MIN 50
#define DETECT_MAX 500
#define CHAOS_MS 12000 /* no crash, drain or move starts after */
#define PROBE_MS 15000 /* the probes go */
#define END_MS 20000
#define MAX_MSGS 40000
#define MAX_REQS 4000
#define MAX_IMAGES 8000
#define CRASHES_MAX 2
#define DRAINS_MAX 1
#define STORE_MAX 512
#define FORMERS_MAX 16 /* earlier ids an IMPORT or ADOPT carries */
#define NAMES_MAX 64   /* names a record carries */
#define HELD_MAX 512   /* names a node holds */
#define MAX_NAMES 4096 /* names given in a seed */

/* ---- the world ------------------------------------------------------------
 */

typedef struct node {
    bool alive, draining, closed, left;
    bool knows_gone[NODES];
    char addr[STAGE_ADDR_MAX];
    uint32_t inc;
    uint64_t serials;
    stage_hub_t *m;
} node_t;

typedef struct state {
    uint64_t last[NODES][IDS_MAX]; /* last seq seen per sender, id used */
} state_t;

typedef struct actor {
    int node; /* where it runs (-1: nowhere: its image travels) */
    uint64_t serial;
    int last_node;  /* where it last ran */
    int stopped_at; /* where it stopped */
    bool lost;
    bool stopped; /* it stopped where it ran (its messages: ActorNotFound) */
    stage_id_t ids[IDS_MAX];
    int nids;
    state_t st;
    int home;             /* the node holding its names: its birth node, or
                          ** the last that took it over */
    uint64_t home_serial; /* its id there */
} actor_t;

/* What an IMPORT, ADOPT or NAMES carries (the driver's bytes): the ids
** that led to the home id, the names the home holds for the actor. */
typedef struct rec {
    int nids, nnames;
    stage_id_t ids[FORMERS_MAX];
    int names[NAMES_MAX];
} rec_t;

/* A name a node holds for its actor serial. */
typedef struct held_name {
    uint64_t serial;
    int name;
} held_name_t;

enum { M_PENDING = 1, M_DELIVERED, M_FAILED, M_GONE };

typedef struct msg {
    int sender, actor, ref;
    uint64_t seq;
    int state;
    int at; /* the node that has it (or is to take it) */
    bool probe;
} msg_t;

typedef struct req {
    int asker, actor;
    int state; /* M_PENDING, M_DELIVERED (answered), M_FAILED (lost) */
    int holder;
} req_t;

typedef struct image {
    int actor;
    state_t st;
} image_t;

typedef struct entry {
    stage_id_t old, cur;
    int writer;
} entry_t;

static node_t nodes[NODES];
static actor_t actors[ACTORS];
static msg_t msgs[MAX_MSGS];
static size_t nmsgs;
static req_t reqs[MAX_REQS];
static size_t nreqs;
static image_t images[MAX_IMAGES];
static size_t nimages;
static entry_t store[STORE_MAX];
static size_t nstore;
#define CACHE_MAX 256
static entry_t cache[NODES][CACHE_MAX]; /* each node's answers kept */
static int ncache[NODES];
static uint64_t next_seq[NODES][ACTORS][IDS_MAX];
static held_name_t held[NODES][HELD_MAX];
static int nheld[NODES];
static int name_actor[MAX_NAMES]; /* the actor each name was given to */
static int nnames;
static int crashes, drains;
/* messages a closed node did not take, per sender, in order: they come
** back with its goodbye (a session's unacknowledged frames) */
static size_t bounced[NODES][MAX_MSGS / 8];
static size_t nbounced[NODES];
static uint64_t st_delivered, st_failed, st_moves, st_answered, st_crashes,
    st_drains, st_orphans, st_refused, st_stops, st_handed, st_gone, st_names,
    st_names_sent, st_names_taken, st_forgets, st_led, st_left_probes;

/* ---- events ---------------------------------------------------------------
 */

enum {
    EV_FRAME = 1,
    EV_SEND,
    EV_MOVE,
    EV_CHAOS,
    EV_DETECT,
    EV_DRAIN,
    EV_PROBE,
    EV_BYE,
    EV_EXPORT, /* the actor's current message ends: it goes */
    EV_IMPORT, /* the image is decoded: it runs */
    EV_NAME,   /* a node names a random actor */
    EV_CLAIMED /* a name a takeover claims is in: the node holds it */
};
enum { F_MSG = 1, F_STEP };

typedef struct frame {
    int kind;
    size_t m; /* MSG */
    stage_id_t to;
    stage_hub_step_t step;
    rec_t rec; /* STEP: its record's bytes */
} frame_t;

typedef struct ev {
    uint64_t at, seq;
    int type, node, peer;
    uint64_t arg; /* EXPORT: the serial; IMPORT: the image; CLAIMED: the
                  ** serial the name is claimed for */
    int name;     /* CLAIMED */
    frame_t *f;
} ev_t;

#include "evheap.h" /* heap, push, pop */
static uint64_t pair_last[NODES][NODES];

/* Schedule an event without a frame. */
static void at(uint64_t when, int type, int node, int peer) {
    push((ev_t){.at = when, .type = type, .node = node, .peer = peer});
}

/* A frame from n to slot `to`, FIFO behind the pair's earlier ones. */
static frame_t *send_frame(int n, int to, int kind) {
    frame_t *f = calloc(1, sizeof *f);
    CHECK(f);
    f->kind = kind;
    uint64_t when = now + 1 + rnd(LAT_MAX);
    if (when < pair_last[n][to]) when = pair_last[n][to];
    pair_last[n][to] = when;
    push((ev_t){.at = when, .type = EV_FRAME, .node = to, .peer = n, .f = f});
    return f;
}

/* ---- helpers --------------------------------------------------------------
 */

/* The slot of the node at addr. */
static int slot_of(const char *addr) {
    for (int i = 0; i < NODES; i++)
        if (!strcmp(nodes[i].addr, addr)) return i;
    die("no node '%s'", addr);
}

/* Whether a and b name one actor (nodes do not restart here). */
static bool same_id(const stage_id_t *a, const stage_id_t *b) {
    return a->serial == b->serial && !strcmp(a->node, b->node);
}

/* A new id at node n. */
static stage_id_t new_id(int n) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", nodes[n].addr);
    id.incarnation = nodes[n].inc;
    id.serial = ++nodes[n].serials;
    snprintf(id.type, sizeof id.type, "Counter");
    return id;
}

/* Actor a has had id (senders may use it from now on). */
static void add_id(int a, const stage_id_t *id) {
    actor_t *ac = &actors[a];
    for (int i = 0; i < ac->nids; i++)
        if (same_id(&ac->ids[i], id)) return;
    CHECK(ac->nids < IDS_MAX);
    ac->ids[ac->nids++] = *id;
}

/* Message m failed (NodeDown: the only failure allowed). */
static void failed(size_t m, int status, const char *why) {
    msg_t *g = &msgs[m];
    CHECK(g->state == M_PENDING || g->state == M_GONE);
    if (status != STAGE_ENODE_DOWN &&
        !(status == STAGE_EACTOR_NOT_FOUND && actors[g->actor].stopped))
        die("message %zu (%d -> actor %d via id %d, seq %" PRIu64
            ") failed %s: %s",
            m, g->sender, g->actor, g->ref, g->seq, stage_err_name(status),
            why);
    if (g->state == M_GONE) return; /* its sender hears nothing */
    g->state = M_FAILED;
    st_failed++;
    trace("msg %zu fails %s: %s", m, stage_err_name(status), why);
}

/* Where the store says id went (the latest entry by a live writer), as
** node n's relocation machine knows it: the first answer is kept (its
** FOUND cache: what n sends through id after goes the same way, so in
** order), and followed on when its node is gone (a hop). False: none. */
static bool store_find(int n, const stage_id_t *id, stage_id_t *cur,
                       bool fresh) {
    for (int i = 0; i < ncache[n] && !fresh; i++)
        if (same_id(&cache[n][i].old, id)) {
            *cur = cache[n][i].cur;
            return true;
        }
    const entry_t *found = NULL;
    for (size_t i = 0; i < nstore; i++)
        if (same_id(&store[i].old, id) && nodes[store[i].writer].alive)
            found = &store[i];
    if (!found) return false;
    *cur = found->cur;
    if (fresh) return true;
    CHECK(ncache[n] < CACHE_MAX);
    cache[n][ncache[n]++] = *found;
    return true;
}

static void store_put(int writer, const stage_id_t *old,
                      const stage_id_t *cur) {
    CHECK(nstore < STORE_MAX);
    store[nstore++] = (entry_t){*old, *cur, writer};
}

/* The record an IMPORT, ADOPT or NAMES of n's actor cur carries, as it is
** now (net/netmove.c): the ids n's entries say lead to cur, the names n
** holds for it. */
static void record_of(int n, const stage_id_t *cur, rec_t *r) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < nstore && r->nids < FORMERS_MAX; i++)
        if (store[i].writer == n && same_id(&store[i].cur, cur))
            r->ids[r->nids++] = store[i].old;
    for (int i = 0; i < nheld[n] && r->nnames < NAMES_MAX; i++)
        if (held[n][i].serial == cur->serial)
            r->names[r->nnames++] = held[n][i].name;
}

/* n holds name for its actor serial now (its claim ended). */
static void hold_name(int n, uint64_t serial, int name) {
    CHECK(nheld[n] < HELD_MAX);
    held[n][nheld[n]++] = (held_name_t){serial, name};
}

/* n lets the names of its actor serial go (it stopped, or was handed
** over). */
static void drop_names(int n, uint64_t serial) {
    for (int i = 0; i < nheld[n];)
        if (held[n][i].serial == serial)
            held[n][i] = held[n][--nheld[n]];
        else
            i++;
}

/* The actor that has had id, or -1. */
static int actor_of(const stage_id_t *id) {
    for (int a = 0; a < ACTORS; a++)
        for (int i = 0; i < actors[a].nids; i++)
            if (same_id(&actors[a].ids[i], id)) return a;
    return -1;
}

/* ---- the driver -----------------------------------------------------------
 */

static void run(int n);

/* n sends message m to id (hops: store lookups made). */
static void send_to(int n, size_t m, const stage_id_t *to, int hops) {
    int t = slot_of(to->node);
    msg_t *g = &msgs[m];
    if (nodes[n].knows_gone[t]) {
        stage_id_t cur;
        if (hops >= 8 || !store_find(n, to, &cur, g->probe)) {
            g->at = n;
            failed(m, STAGE_ENODE_DOWN,
                   "its node is gone, and the store has no later place");
            return;
        }
        send_to(n, m, &cur, hops + 1);
        return;
    }
    if (t == n) {
        g->at = n;
        stage_hub_msg(nodes[n].m, to->serial, m + 1);
        return;
    }
    g->at = t;
    frame_t *f = send_frame(n, t, F_MSG);
    f->m = m;
    f->to = *to;
}

/* Message m reaches its actor at n, as local serial. */
static void deliver(int n, size_t m, uint64_t serial) {
    msg_t *g = &msgs[m];
    actor_t *ac = &actors[g->actor];
    if (ac->stopped && ac->node < 0) { /* the driver: no such actor */
        failed(m, STAGE_EACTOR_NOT_FOUND, "it stopped");
        return;
    }
    if (ac->node != n || ac->serial != serial)
        die("message %zu for actor %d delivered at node %d as %" PRIu64
            ", where it does not run (it runs at %d as %" PRIu64 ")",
            m, g->actor, n, serial, ac->node, ac->serial);
    uint64_t *last = &ac->st.last[g->sender][g->ref];
    if (!g->probe && g->seq <= *last)
        die("message %zu (%d -> actor %d via id %d) seq %" PRIu64
            " after %" PRIu64 ": out of order or twice",
            m, g->sender, g->actor, g->ref, g->seq, *last);
    if (!g->probe) *last = g->seq;
    CHECK(g->state == M_PENDING || g->state == M_GONE);
    g->state = M_DELIVERED;
    st_delivered++;
}

/* Actor a runs at n as serial from state st (import or restore). */
static void runs(int a, int n, uint64_t serial, const state_t *st) {
    actor_t *ac = &actors[a];
    if (ac->node >= 0 && nodes[ac->node].alive)
        die("actor %d runs at node %d and at node %d", a, ac->node, n);
    if (ac->stopped) die("actor %d stopped, and runs again at node %d", a, n);
    ac->node = n;
    ac->last_node = n;
    ac->serial = serial;
    ac->st = *st;
    ac->lost = false;
}

/* n sends x's step (with the earlier ids an IMPORT or ADOPT carries). */
static void fx_step(int n, const stage_hub_fx_t *x) {
    int t = slot_of(x->node);
    if (nodes[n].knows_gone[t] && x->step.op == STAGE_HUB_NAMES)
        return;                   /* nothing waits for it */
    if (nodes[n].knows_gone[t]) { /* it cannot go (net/netmove.c) */
        if (x->step.op == STAGE_HUB_REQ && x->step.req) {
            reqs[x->step.req - 1].state = M_FAILED; /* its caller hears */
        } else if (x->step.op == STAGE_HUB_TOMB) {  /* its drain hears */
            stage_hub_step_t r;
            memset(&r, 0, sizeof r);
            r.op = STAGE_HUB_ADOPTED;
            r.home = x->step.at;
            r.at = x->step.home;
            r.status = STAGE_EUNREACHABLE;
            stage_hub_step(nodes[n].m, x->node, &r);
        } else {
            stage_hub_node_down(nodes[n].m, x->node, false);
        }
        return;
    }
    frame_t *f = send_frame(n, t, F_STEP);
    f->step = x->step;
    if (f->step.op == STAGE_HUB_IMPORT || f->step.op == STAGE_HUB_ADOPT ||
        f->step.op == STAGE_HUB_NAMES) {
        /* the record is the driver's bytes: here, as it is now */
        record_of(n, &f->step.home, &f->rec);
        bool some = f->rec.nids || f->rec.nnames;
        f->step.formers = some ? (const char *)&f->rec : NULL;
        f->step.flen = some ? sizeof f->rec : 0;
        if (f->step.op == STAGE_HUB_NAMES) st_names_sent++;
    }
    if (f->step.op == STAGE_HUB_REQ) reqs[f->step.req - 1].holder = t;
    if (f->step.op == STAGE_HUB_FORGET) st_forgets++;
    trace("%d -> %d step %d for %s/%" PRIu64, n, t, x->step.op,
          x->step.home.node, x->step.home.serial);
}

/* EV_EXPORT: local actor serial leaves n (or is refused). */
static void do_export(int n, uint64_t serial) {
    stage_hub_t *m = nodes[n].m;
    int a = -1;
    for (int i = 0; i < ACTORS; i++)
        if (actors[i].node == n && actors[i].serial == serial) a = i;
    if (a < 0) { /* it stopped while its export was asked: as
                 ** core/move.c, the machine hears of the stop again */
        stage_hub_export_refused(m, serial, STAGE_EACTOR_NOT_FOUND,
                                 "no such actor here");
        stage_hub_stopped(m, serial);
    } else if (rnd(10) == 0) { /* a handler that will not let go, say */
        st_refused++;
        stage_hub_export_refused(m, serial, STAGE_EBUSY, "busy");
    } else {
        CHECK(nimages < MAX_IMAGES);
        images[nimages] = (image_t){a, actors[a].st};
        actors[a].node = -1;
        trace("%d exports actor %d (image %zu)", n, a, nimages + 1);
        stage_hub_exported(m, serial, ++nimages);
    }
    run(n);
}

/* EV_IMPORT: image runs at n (or is refused). */
static void do_import(int n, uint64_t image) {
    stage_hub_t *m = nodes[n].m;
    if (nodes[n].draining || rnd(10) == 0) {
        st_refused++;
        stage_hub_import_refused(m, image, STAGE_EHANDLER, "not taken in");
    } else {
        const image_t *im = &images[image - 1];
        stage_id_t id = new_id(n);
        runs(im->actor, n, id.serial, &im->st);
        add_id(im->actor, &id);
        trace("%d imports actor %d as %" PRIu64, n, im->actor, id.serial);
        stage_hub_imported(m, image, id.serial);
    }
    run(n);
}

/* An export or import takes a moment (a handler ends, an image decodes):
** messages come meanwhile. */
static void later(int n, int type, uint64_t arg) {
    push((ev_t){.at = now + rnd(6), .type = type, .node = n, .arg = arg});
}

/* n took an actor over: its ids go into the store, its names are
** claimed (n holds them once the claim ends); ADOPTED if asked. */
static void fx_rehomed(int n, const stage_hub_fx_t *x) {
    int a = actor_of(&x->id);
    CHECK(a >= 0);
    store_put(n, &x->id, &x->cur);
    rec_t r;
    memset(&r, 0, sizeof r);
    CHECK(x->step.flen == 0 || x->step.flen == sizeof r);
    if (x->step.flen) memcpy(&r, x->step.formers, sizeof r);
    for (int i = 0; i < r.nids; i++)
        store_put(n, &r.ids[i], &x->cur);
    actors[a].home = n;
    actors[a].home_serial = x->cur.serial;
    for (int i = 0; i < r.nnames; i++) {
        if (name_actor[r.names[i]] != a)
            die("node %d takes actor %d over with name %d, given to actor %d",
                n, a, r.names[i], name_actor[r.names[i]]);
        st_names_taken++;
        push((ev_t){.at = now + 1 + rnd(20),
                    .type = EV_CLAIMED,
                    .node = n,
                    .arg = x->cur.serial,
                    .name = r.names[i]});
    }
    if (!x->node[0]) {
        st_orphans++;
        return;
    }
    stage_hub_fx_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.node, sizeof s.node, "%s", x->node);
    s.step.op = STAGE_HUB_ADOPTED;
    s.step.home = x->id;
    s.step.at = x->cur;
    fx_step(n, &s);
}

/* The actor that had id serial at node n (its home there: born there,
** or taken over), or -1. */
static int had_id(int n, uint64_t serial) {
    for (int a = 0; a < ACTORS; a++)
        for (int i = 0; i < actors[a].nids; i++)
            if (actors[a].ids[i].serial == serial &&
                !strcmp(actors[a].ids[i].node, nodes[n].addr))
                return a;
    return -1;
}

/* One of n's machine's effects, done as a node would. */
static void fx_one(int n, const stage_hub_fx_t *x) {
    stage_hub_t *m = nodes[n].m;
    switch (x->kind) {
    case STAGE_HUB_FX_DELIVER:
        deliver(n, x->msg - 1, x->serial);
        break;
    case STAGE_HUB_FX_FORWARD:
        send_to(n, x->msg - 1, &x->id, 0);
        break;
    case STAGE_HUB_FX_STEP:
        fx_step(n, x);
        break;
    case STAGE_HUB_FX_EXPORT:
        later(n, EV_EXPORT, x->serial);
        break;
    case STAGE_HUB_FX_IMPORT:
        later(n, EV_IMPORT, x->image);
        break;
    case STAGE_HUB_FX_RESTORE: {
        const image_t *im = &images[x->image - 1];
        trace("%d restores actor %d as %" PRIu64, n, im->actor, x->serial);
        runs(im->actor, n, x->serial, &im->st);
        break;
    }
    case STAGE_HUB_FX_DROP:
        break;
    case STAGE_HUB_FX_ANSWER: {
        req_t *r = &reqs[x->req - 1];
        if (r->state != M_PENDING)
            die("move request %" PRIu64 " answered twice", x->req);
        r->state = M_DELIVERED;
        st_answered++;
        if (!x->status) add_id(r->actor, &x->id);
        break;
    }
    case STAGE_HUB_FX_REHOMED:
        fx_rehomed(n, x);
        break;
    case STAGE_HUB_FX_LED: /* only a drain hands its tombs over */
        if (!nodes[n].draining)
            die("node %d hands a tomb over, not draining", n);
        if (!x->status) st_led++;
        break;
    case STAGE_HUB_FX_HANDED: /* only a drain hands over */
        if (!nodes[n].draining) die("node %d hands over, not draining", n);
        if (!x->status) st_handed++;
        if (!x->status) drop_names(n, x->id.serial); /* the adopter's */
        break;
    case STAGE_HUB_FX_GONE: { /* its home lets its names go */
        int a = had_id(n, x->serial);
        if (a < 0 || !actors[a].stopped)
            die("node %d lets actor %d (serial %" PRIu64 ") go: it has not "
                "stopped",
                n, a, x->serial);
        st_gone++;
        drop_names(n, x->serial);
        break;
    }
    default:
        die("effect %d", x->kind);
    }
    (void)m;
}

/* Run n's machine's effects until there are none. */
static void run(int n) {
    for (;;) {
        size_t k;
        const stage_hub_fx_t *fx = stage_hub_effects(nodes[n].m, &k);
        if (!k) return;
        /* the list is valid until the next read: copy it first */
        stage_hub_fx_t *copy = malloc(k * sizeof *copy);
        CHECK(copy);
        memcpy(copy, fx, k * sizeof *copy);
        for (size_t i = 0; i < k; i++)
            fx_one(n, &copy[i]);
        free(copy);
    }
}

/* ---- events ---------------------------------------------------------------
 */

/* A frame that n, closed, does not take: a message comes back to its
** sender with the goodbye; a move asked fails (its caller hears). */
static void refuse(int from, frame_t *f) {
    if (f->kind == F_MSG) {
        CHECK(nbounced[from] < MAX_MSGS / 8);
        bounced[from][nbounced[from]++] = f->m;
    } else if (f->step.op == STAGE_HUB_REQ) {
        reqs[f->step.req - 1].state = M_FAILED;
    }
}

/* A frame from slot `from` reaches n (or is lost, or refused). */
static void in_frame(int n, int from, frame_t *f) {
    if (!f->kind) return; /* came back with a goodbye */
    if (nodes[n].alive && nodes[from].alive && nodes[n].closed) {
        refuse(from, f);
        return;
    }
    if (!nodes[n].alive || !nodes[from].alive) { /* lost with a node */
        if (f->kind == F_MSG &&
            (msgs[f->m].state == M_PENDING || msgs[f->m].state == M_GONE))
            failed(f->m, STAGE_ENODE_DOWN, "lost with its node");
        if (f->kind == F_STEP && f->step.op == STAGE_HUB_REQ &&
            reqs[f->step.req - 1].state == M_PENDING)
            reqs[f->step.req - 1].state = M_FAILED;
        return;
    }
    if (f->kind == F_MSG) {
        stage_hub_msg(nodes[n].m, f->to.serial, f->m + 1);
    } else {
        stage_hub_step(nodes[n].m, nodes[from].addr, &f->step);
    }
    run(n);
}

/* n sends the next message to a random actor through a random id. */
static void send_one(int n, bool probe, int a, int ref) {
    CHECK(nmsgs < MAX_MSGS);
    size_t m = nmsgs++;
    msgs[m] = (msg_t){.sender = n,
                      .actor = a,
                      .ref = ref,
                      .seq = ++next_seq[n][a][ref],
                      .state = M_PENDING,
                      .at = n,
                      .probe = probe};
    send_to(n, m, &actors[a].ids[ref], 0);
    run(n);
}

/* n asks actor a (through a random id) to move to a random node. */
static void move_one(int n) {
    int a = (int)rnd(ACTORS);
    actor_t *ac = &actors[a];
    int ref = (int)rnd((uint64_t)ac->nids);
    int d = (int)rnd(NODES);
    if (rnd(3) == 0 && ac->nids > 1) /* back where it came from */
        d = slot_of(ac->ids[ac->nids - 2].node);
    const stage_id_t *id = &ac->ids[ref];
    int t = slot_of(id->node);
    if (!nodes[d].alive || nodes[d].draining || nodes[d].left ||
        nodes[n].knows_gone[t] || nodes[t].left || nodes[n].knows_gone[d])
        return;
    CHECK(nreqs < MAX_REQS);
    size_t r = nreqs++;
    reqs[r] = (req_t){n, a, M_PENDING, t};
    st_moves++;
    trace("%d asks actor %d (id %d) to move to %d", n, a, ref, d);
    if (t == n) {
        stage_hub_move(nodes[n].m, id, nodes[d].addr, r + 1);
        run(n);
        return;
    }
    stage_hub_fx_t x;
    memset(&x, 0, sizeof x);
    snprintf(x.node, sizeof x.node, "%s", id->node);
    x.step.op = STAGE_HUB_REQ;
    x.step.at = *id;
    x.step.req = r + 1;
    snprintf(x.step.where, sizeof x.step.where, "%s", nodes[d].addr);
    fx_step(n, &x);
}

/* Node x dies now (kill -9). */
static void crash(int x) {
    nodes[x].alive = false;
    crashes++;
    st_crashes++;
    trace("%d crashes", x);
    for (size_t m = 0; m < nmsgs; m++)
        if (msgs[m].state == M_PENDING && msgs[m].sender == x)
            msgs[m].state = M_GONE; /* a killed sender hears nothing */
        else if ((msgs[m].state == M_PENDING || msgs[m].state == M_GONE) &&
                 msgs[m].at == x)
            failed(m, STAGE_ENODE_DOWN, "its node died");
    for (size_t r = 0; r < nreqs; r++)
        if (reqs[r].state == M_PENDING && reqs[r].holder == x)
            reqs[r].state = M_FAILED;
    for (int a = 0; a < ACTORS; a++)
        if (actors[a].node == x) actors[a].lost = true;
    stage_hub_destroy(&nodes[x].m);
    for (int d = 0; d < NODES; d++)
        if (d != x && nodes[d].alive)
            at(now + DETECT_MIN + rnd(DETECT_MAX - DETECT_MIN), EV_DETECT, d,
               x);
}

/* n learns x is gone (its session ended). */
static void detect(int n, int x) {
    if (!nodes[n].alive || nodes[n].knows_gone[x]) return;
    nodes[n].knows_gone[x] = true;
    stage_hub_node_down(nodes[n].m, nodes[x].addr, true);
    run(n);
}

/* A drain round at x: hand over, move away what runs here; left once
** nothing is left. */
static void drain_round(int x) {
    node_t *n = &nodes[x];
    if (!n->alive) return;
    size_t left = stage_hub_handover(n->m);
    run(x);
    int targets[NODES], k = 0;
    for (int d = 0; d < NODES; d++)
        if (d != x && nodes[d].alive && !nodes[d].left && !nodes[d].draining)
            targets[k++] = d;
    bool running = false;
    for (int a = 0; a < ACTORS && k; a++) {
        actor_t *ac = &actors[a];
        if (ac->node != x) continue;
        running = true;
        stage_id_t id = new_id(x); /* its id here: find it */
        n->serials--;
        id.serial = ac->serial;
        CHECK(nreqs < MAX_REQS);
        size_t r = nreqs++;
        reqs[r] = (req_t){x, a, M_PENDING, x};
        stage_hub_move(n->m, &id, nodes[targets[rnd((uint64_t)k)]].addr, r + 1);
        run(x);
    }
    if (!left && !running) { /* it stops taking frames; then goodbye */
        n->closed = true;
        trace("%d closes", x);
        uint64_t t = now + 1;
        for (int d = 0; d < NODES; d++)
            if (pair_last[x][d] >= t) t = pair_last[x][d] + 1;
        at(t, EV_BYE, x, -1);
        return;
    }
    at(now + 200, EV_DRAIN, x, -1);
}

/* x says goodbye, what it sent all in: each peer learns it left, and
** gets back what it sent there that x did not take, in order, to send
** on through the store. */
static void bye(int x) {
    nodes[x].left = true;
    trace("%d leaves", x);
    for (int d = 0; d < NODES; d++) {
        if (d == x || !nodes[d].alive) continue;
        /* in flight, unacknowledged: in the order sent (arrival time,
        ** then the order made) */
        for (;;) {
            ev_t *first = NULL;
            for (size_t i = 0; i < nheap; i++)
                if (heap[i].type == EV_FRAME && heap[i].node == x &&
                    heap[i].peer == d && heap[i].f->kind &&
                    (!first || ev_less(&heap[i], first)))
                    first = &heap[i];
            if (!first) break;
            refuse(d, first->f);
            first->f->kind = 0;
        }
        nodes[d].knows_gone[x] = true;
        stage_hub_node_down(nodes[d].m, nodes[x].addr, true);
        run(d);
        for (size_t i = 0; i < nbounced[d]; i++) {
            msg_t *g = &msgs[bounced[d][i]];
            send_to(d, bounced[d][i], &actors[g->actor].ids[g->ref], 0);
            run(d);
        }
        nbounced[d] = 0;
    }
}

/* A random actor, if it runs, stops where it is. */
static void stop_one(void) {
    int a = (int)rnd(ACTORS);
    actor_t *ac = &actors[a];
    if (ac->node < 0 || !nodes[ac->node].alive || ac->stopped) return;
    trace("actor %d stops at %d", a, ac->node);
    ac->stopped = true;
    int n = ac->node;
    ac->stopped_at = n;
    ac->node = -1;
    st_stops++;
    drop_names(n, ac->serial); /* held here if this is its home */
    stage_hub_stopped(nodes[n].m, ac->serial);
    run(n);
}

/* n names a random actor (through its first id: its home claims it).
** Not through a home that drains: its hand-over carries what it holds
** when the ADOPT goes. */
static void name_one(int n) {
    int a = (int)rnd(ACTORS);
    actor_t *ac = &actors[a];
    int h = ac->home;
    if (ac->stopped || !nodes[h].alive || nodes[h].draining || nodes[h].left ||
        nodes[n].knows_gone[h] || nnames >= MAX_NAMES)
        return;
    int name = nnames++;
    name_actor[name] = a;
    st_names++;
    trace("%d names actor %d: name %d, held by %d for %" PRIu64, n, a, name, h,
          ac->home_serial);
    hold_name(h, ac->home_serial, name);
    stage_hub_renamed(nodes[h].m, ac->home_serial);
    run(h);
}

/* One stop, crash or drain, now and then, while chaos lasts. */
static void chaos(void) {
    at(now + 2000 + rnd(2000), EV_CHAOS, -1, -1);
    if (now > CHAOS_MS) return;
    if (rnd(4) == 0) {
        stop_one();
        return;
    }
    int x = (int)rnd(NODES);
    if (!nodes[x].alive || nodes[x].left || nodes[x].draining) return;
    int live = 0;
    for (int i = 0; i < NODES; i++)
        live += nodes[i].alive && !nodes[i].left && !nodes[i].draining;
    if (live <= 2) return;
    if (rnd(2) && crashes < CRASHES_MAX) {
        crash(x);
    } else if (drains < DRAINS_MAX) {
        nodes[x].draining = true;
        drains++;
        st_drains++;
        trace("%d drains", x);
        drain_round(x);
    }
}

/* Every live node probes every live actor through its first id and its
** ids at live nodes; if no node crashed, also through its ids at nodes
** that drained and left (their tombs and handovers lead on). */
static void probes(void) {
    for (int n = 0; n < NODES; n++) {
        if (!nodes[n].alive || nodes[n].left) continue;
        for (int a = 0; a < ACTORS; a++) {
            actor_t *ac = &actors[a];
            for (int i = 0; i < ac->nids; i++) {
                int t = slot_of(ac->ids[i].node);
                bool left = nodes[t].alive && nodes[t].left;
                if (i && (!nodes[t].alive || left) && (!left || crashes))
                    continue;
                if (i && left) st_left_probes++;
                send_one(n, true, a, i);
            }
        }
    }
}

/* Run event e. */
static void step(ev_t e) {
    now = e.at;
    switch (e.type) {
    case EV_FRAME:
        in_frame(e.node, e.peer, e.f);
        free(e.f);
        break;
    case EV_SEND:
        at(now + 1 + rnd(20), EV_SEND, e.node, -1);
        if (now < PROBE_MS && nodes[e.node].alive && !nodes[e.node].left) {
            int a = (int)rnd(ACTORS);
            send_one(e.node, false, a, (int)rnd((uint64_t)actors[a].nids));
        }
        break;
    case EV_MOVE:
        at(now + 50 + rnd(500), EV_MOVE, e.node, -1);
        if (now < CHAOS_MS && nodes[e.node].alive && !nodes[e.node].left)
            move_one(e.node);
        break;
    case EV_CHAOS:
        chaos();
        break;
    case EV_DETECT:
        detect(e.node, e.peer);
        break;
    case EV_DRAIN:
        drain_round(e.node);
        break;
    case EV_PROBE:
        probes();
        break;
    case EV_BYE:
        bye(e.node);
        break;
    case EV_EXPORT:
        if (nodes[e.node].alive) do_export(e.node, e.arg);
        break;
    case EV_IMPORT:
        if (nodes[e.node].alive) do_import(e.node, e.arg);
        break;
    case EV_NAME:
        at(now + 100 + rnd(600), EV_NAME, e.node, -1);
        if (now < CHAOS_MS && nodes[e.node].alive && !nodes[e.node].left)
            name_one(e.node);
        break;
    case EV_CLAIMED: /* the takeover's claim is in: held, and told */
        if (!nodes[e.node].alive || nodes[e.node].left) break;
        hold_name(e.node, e.arg, e.name);
        stage_hub_renamed(nodes[e.node].m, e.arg);
        run(e.node);
        break;
    }
}

/* ---- the checks -----------------------------------------------------------
 */

/* At the end, what the machines say of actor a's place (stage_hub_place):
** here where it runs; at its live home, if its home has not handed it
** over, the node it runs at. */
static void check_place(int a) {
    const actor_t *ac = &actors[a];
    int r = ac->node;
    if (r < 0 || !nodes[r].alive || ac->stopped) return;
    int p = stage_hub_place(nodes[r].m, ac->serial, NULL, NULL);
    if (p != STAGE_HUB_PLACE_HERE)
        die("actor %d runs at %d, whose machine places it %d", a, r, p);
    int h = slot_of(ac->ids[0].node);
    if (h == r || !nodes[h].alive || nodes[h].left) return;
    const char *at = NULL;
    p = stage_hub_place(nodes[h].m, ac->ids[0].serial, &at, NULL);
    if (p == STAGE_HUB_PLACE_AWAY && strcmp(at, nodes[r].addr))
        die("actor %d runs at %d, its home %d has it at '%s'", a, r, h, at);
    if (p != STAGE_HUB_PLACE_AWAY && p != STAGE_HUB_PLACE_HANDED)
        die("actor %d runs at %d, its home %d places it %d", a, r, h, p);
}

/* At the end, no node keeps a tomb of actor a once it has stopped (its
** home told them: FORGET), if its birth node is its home still and lives,
** and so does the node it stopped at (its GONE reached home). */
static void check_tombs(int a) {
    const actor_t *ac = &actors[a];
    int h = slot_of(ac->ids[0].node), f = ac->stopped_at;
    if (!ac->stopped || ac->home != h || !nodes[h].alive || nodes[h].left ||
        nodes[h].draining || !nodes[f].alive)
        return;
    for (int i = 1; i < ac->nids; i++) {
        int e = slot_of(ac->ids[i].node);
        if (e == h || !nodes[e].alive || nodes[e].left) continue;
        stage_id_t home;
        if (stage_hub_place(nodes[e].m, ac->ids[i].serial, NULL, &home) ==
                STAGE_HUB_PLACE_LEFT &&
            home.serial == ac->ids[0].serial)
            die("actor %d stopped at %d, and node %d keeps a tomb of it "
                "(%" PRIu64 ")",
                a, f, e, ac->ids[i].serial);
    }
}

/* At the end, actor a's names where it lives are those its home holds
** (when it lives away from a live home). */
static void check_names(int a) {
    const actor_t *ac = &actors[a];
    int r = ac->node, h = ac->home;
    if (r < 0 || !nodes[r].alive || ac->stopped || r == h || !nodes[h].alive ||
        nodes[h].left)
        return;
    size_t len;
    const char *b = stage_hub_record(nodes[r].m, ac->serial, &len);
    rec_t rec;
    memset(&rec, 0, sizeof rec);
    CHECK(len == 0 || len == sizeof rec);
    if (len) memcpy(&rec, b, sizeof rec);
    rec_t want;
    stage_id_t hid = new_id(h); /* its id at its home */
    nodes[h].serials--;
    hid.serial = ac->home_serial;
    record_of(h, &hid, &want);
    bool same = rec.nnames == want.nnames;
    for (int i = 0; same && i < want.nnames; i++) {
        bool found = false;
        for (int j = 0; j < rec.nnames; j++)
            found |= rec.names[j] == want.names[i];
        same = found;
    }
    if (!same)
        die("actor %d lives at %d with %d names, its home %d holds %d "
            "(the first missing or extra: %d)",
            a, r, rec.nnames, h, want.nnames,
            want.nnames ? want.names[0] : rec.names[0]);
}

/* The checks at the end of a seed (the top says which). */
static void check(void) {
    for (size_t m = 0; m < nmsgs; m++) {
        const msg_t *g = &msgs[m];
        if (g->state == M_PENDING)
            die("message %zu (%d -> actor %d via id %d, seq %" PRIu64
                ") never ended (at node %d)",
                m, g->sender, g->actor, g->ref, g->seq, g->at);
        const actor_t *ac = &actors[g->actor];
        bool live = ac->node >= 0 && nodes[ac->node].alive;
        if (g->probe && live && g->state != M_DELIVERED)
            die("probe %zu (%d -> actor %d via id %d: %s/%" PRIu64
                ") did not reach the live actor",
                m, g->sender, g->actor, g->ref, ac->ids[g->ref].node,
                ac->ids[g->ref].serial);
    }
    for (size_t r = 0; r < nreqs; r++)
        if (reqs[r].state == M_PENDING)
            die("move request %zu (by %d, actor %d) never answered (held "
                "at %d)",
                r + 1, reqs[r].asker, reqs[r].actor, reqs[r].holder);
    for (int a = 0; a < ACTORS; a++) {
        const actor_t *ac = &actors[a];
        if ((ac->node >= 0 && nodes[ac->node].alive) || ac->stopped) continue;
        if (!crashes) die("actor %d runs nowhere, and no node crashed", a);
    }
    for (int a = 0; a < ACTORS; a++)
        check_place(a);
    for (int a = 0; a < ACTORS; a++)
        check_names(a);
    for (int a = 0; a < ACTORS; a++)
        check_tombs(a);
}

/* One seed. */
static void run_seed(void) {
    memset(nodes, 0, sizeof nodes);
    memset(actors, 0, sizeof actors);
    memset(next_seq, 0, sizeof next_seq);
    memset(pair_last, 0, sizeof pair_last);
    nmsgs = nreqs = nimages = nstore = 0;
    nheap = 0, evseq = 0, now = 0;
    crashes = drains = 0;
    memset(nbounced, 0, sizeof nbounced);
    memset(ncache, 0, sizeof ncache);
    memset(nheld, 0, sizeof nheld);
    nnames = 0;
    for (int i = 0; i < NODES; i++) {
        node_t *n = &nodes[i];
        n->alive = true;
        snprintf(n->addr, sizeof n->addr, "10.0.0.%d:7400", i + 1);
        n->inc = (uint32_t)(seed * 7 + (uint64_t)i + 1);
        n->m = stage_hub_new(n->addr, n->inc);
        CHECK(n->m);
        at(1 + rnd(20), EV_SEND, i, -1);
        at(50 + rnd(100), EV_MOVE, i, -1);
        at(100 + rnd(600), EV_NAME, i, -1);
    }
    for (int a = 0; a < ACTORS; a++) {
        int n = a % NODES;
        stage_id_t id = new_id(n);
        actors[a] = (actor_t){.node = n,
                              .serial = id.serial,
                              .last_node = n,
                              .home = n,
                              .home_serial = id.serial};
        actors[a].ids[actors[a].nids++] = id;
    }
    at(1000 + rnd(2000), EV_CHAOS, -1, -1);
    at(PROBE_MS, EV_PROBE, -1, -1);
    while (nheap) {
        ev_t e = pop();
        if (e.at > END_MS) {
            free(e.f);
            continue;
        }
        step(e);
    }
    now = END_MS;
    check();
    for (int i = 0; i < NODES; i++)
        stage_hub_destroy(&nodes[i].m);
}

int main(int argc, char **argv) {
    uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 50;
    tracing = getenv("HUB_SIM_TRACE") != NULL;
    for (seed = first; seed < first + count; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull | 1;
        run_seed();
        free(heap);
        heap = NULL;
        capheap = 0;
    }
    printf("hub_sim: seeds %" PRIu64 "-%" PRIu64 ": %" PRIu64
           " delivered, %" PRIu64 " failed NodeDown; %" PRIu64
           " moves asked, %" PRIu64 " answered, %" PRIu64
           " exports or imports refused; %" PRIu64 " crashes, %" PRIu64
           " drains, %" PRIu64 " handed over, %" PRIu64
           " orphans taken over, %" PRIu64 " actors stopped (%" PRIu64
           " away: their homes let their names go); %" PRIu64
           " names given, %" PRIu64 " NAMES sent, %" PRIu64
           " names taken over; %" PRIu64
           " FORGETs sent (tombs of stopped actors); %" PRIu64
           " tombs handed over by drains, %" PRIu64
           " probes through ids at nodes that left\n",
           first, first + count - 1, st_delivered, st_failed, st_moves,
           st_answered, st_refused, st_crashes, st_drains, st_handed,
           st_orphans, st_stops, st_gone, st_names, st_names_sent,
           st_names_taken, st_forgets, st_led, st_left_probes);
    return 0;
}
