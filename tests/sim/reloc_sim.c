/*
** tests/sim/reloc_sim.c: messages that follow moved actors (src/node/
** relocate.c) on several nodes with their DHT managers (src/dht) over a
** simulated network, one seed at a time, driven the way net/relocate.c
** drives them: each node's machine holds the messages for ids of nodes
** that left or died, asks its own manager's migrations store, sends on
** what it found, and writes the entries of the actors this node takes
** over. Frames between two nodes keep their order (FIFO per pair, random
** latency); DHT messages go through the codec.
**
** The system: NODES nodes, ACTORS actors (born one per node, round the
** ring). Every node sends numbered messages to random actors, each through
** a random one of the ids the actor has had (a sender with an old
** reference). Every few seconds, one of (the next waits for a drain to
** end):
**   migrate  an actor moves from its home to another node as a guest; its
**            home forwards what comes for it (core/move.c's home scheme);
**   drain    a node hands its actors over: those it hosts move to other
**            nodes, its guests elsewhere are adopted where they are; each
**            adopter puts every id of the actor -> its new id into the
**            store (the machine's writing side, the old home's formers
**            with it) and says ADOPTED once they are in; then the node
**            stops taking frames, leaves the ring, and says goodbye behind
**            what it forwarded; frames it did not take come back to their
**            senders with the goodbye (a session's unacknowledged frames)
**            and follow through the store;
**   crash    a node dies (kill -9: what it sent and the network had not
**            delivered is lost); every node learns it after 100-900 ms:
**            its messages not taken by then fail NodeDown, and the guests
**            whose home it was become their node's own, their home id ->
**            new id put into the store (core/move.c's orphans).
** Messages to an id of a node known gone go through the sender's machine.
** The store is in trouble now and then: FAULT_PCT of the lookups and puts
** fail at once (ETIMEOUT), to be asked again (lookups) or put again at the
** sweep (puts).
**
** Checked for every seed:
**   - every message ends exactly once: delivered to its actor, or failed
**     back to its sender with a typed status and a reason;
**   - none is delivered twice, and each sender's messages through one id
**     reach the actor in the order they were sent (not across two ids of
**     one actor: see last_seq);
**   - no machine sends to a node its node knows is gone; an adopter told
**     RECORDED has an entry in the store; every drain ends;
**   - a message to an actor that lives, sent when the store had led from
**     its id to the actor (an entry in, by a node that lives) for longer
**     than "nowhere" is believed, is delivered, not failed (unless a node
**     crashed shortly before: the store may miss an entry then, CHURN_MS).
**   - every id of an actor that lives leads somewhere at the end: an
**     entry that died with the node that wrote it was put again. (An
**     actor drained from A to X, X putting A's id -> X's, then moved on
**     from X as a guest, is an orphan when X dies: its move carried A's
**     id, which its new node puts with X's: core/move.c's orphans_adopt.)
** A store that fails a lookup three times is a failure with its reason:
** counted, allowed. So is a failure through an id whose entry went with
** the node that wrote it and is not put again yet (within CHURN_MS),
** counted apart.
**
**   reloc_sim [FIRST_SEED [COUNT]]     (default 1 50)
** A failure prints the seed; `reloc_sim SEED 1` replays it
** (RELOC_SIM_TRACE=1 prints every event).
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht.h"
#include "node/relocate.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define SIM_NAME "reloc_sim"
#include "sim_util.h"

#define NODES 7
#define ACTORS 10
#define IDS_MAX 16     /* ids an actor has had */
#define LAT_MAX 15     /* one-way latency, ms */
#define LEASE 2000     /* the DHT's lease */
#define PERIOD 200     /* the DHT's period */
#define SWEEP_MS 500   /* net's sweep timer: retries, puts again */
#define DETECT_MIN 100 /* a death is known this long after, at least */
#define DETECT_MAX 900 /* ... and at most */
#define START_MS 3000  /* the ring settles; then work and chaos */
#define CHAOS_MS 30000 /* no chaos starts after */
#define SEND_MS 34000  /* no message is sent after */
#define END_MS 42000   /* all settled: every node stops */
#define NONE_MS 1000   /* the machine's "nowhere" cache */
#define SLACK_MS 1500  /* a store read settles within, past that */
/* After a crash the store may miss an entry all of whose holders died, or
** that a range under repair does not have yet, until its owner's next
** renewal (docs/dht.md "Failures": within lease/3 of the owner learning
** of the death, repairs within 3 periods) */
#define CHURN_MS (DETECT_MAX + LEASE / 3 + 3 * PERIOD)
#define MAX_MSGS 40000
#define DRAINS_MAX 2
#define FAULT_PCT 10 /* store requests that fail at once (ETIMEOUT) */
#define CRASHES_MAX 2

/* ---- messages -------------------------------------------------------------
 */

enum { M_DIRECT = 1, M_FWD, M_HELD, M_DELIVERED, M_FAILED, M_GONE };
/* M_GONE: its sender crashed (a killed process completes no future) */

typedef struct msg {
    int sender, actor;
    int ref;       /* which of the actor's ids the sender used */
    uint64_t seq;  /* per sender, actor and id */
    stage_id_t to; /* the id it is sent to (now) */
    int state;
    int via;    /* DIRECT: the node it was sent to; FWD: its forwarder */
    bool taken; /* DIRECT: its node took it */
    int status;
    bool from_store; /* failed by the machine (not a session's end) */
    bool store_err;  /* ... because the store could not be asked */
    uint64_t sent_at, ended_at;
} msg_t;

static msg_t msgs[MAX_MSGS];
static size_t nmsgs;
/* Order is per sender and target (the id it sends to): a sender that
** holds two references to one actor (its first id and a later one) may
** see a message through the later one overtake one through the first
** while the store is asked where the first leads. */
static uint64_t last_seq[NODES][ACTORS][IDS_MAX]; /* the last delivered */
static uint64_t next_seq[NODES][ACTORS][IDS_MAX];
static uint64_t st_delivered, st_failed, st_held, st_store_err, st_moves,
    st_drains, st_crashes, st_adopted, st_orphans, st_entry_died;

/* ---- actors ---------------------------------------------------------------
 */

typedef struct actor {
    bool alive;
    bool arrived; /* at host (a MOVE is not in flight) */
    int home, host;
    stage_id_t ids[IDS_MAX]; /* ids[nids - 1]: the current one (home's) */
    int nids;
    stage_id_t guest; /* its id at host, when host != home */
    /* the ids that led to its home id when it left as a guest (its home
    ** took it over before), which its move carried (an IMPORT's formers) */
    stage_id_t gformers[IDS_MAX];
    int ngformers;
} actor_t;

static actor_t actors[ACTORS];

/* What the store leads to from an id: the node whose entry it is, and
** since when (0: none). */
typedef struct storeview {
    int writer;
    uint64_t in_at;
    uint64_t lost_at; /* its writer died with it in (the entry went) */
} storeview_t;

static storeview_t sview[ACTORS][IDS_MAX];

/* ---- nodes ----------------------------------------------------------------
 */

typedef struct pending {
    uint64_t req;
    int actor, id; /* a PUT of actors[actor].ids[id] */
} pending_t;

typedef struct node {
    int slot;
    char addr[STAGE_ADDR_MAX];
    bool alive, joined, draining, closed, stopped;
    uint64_t gone_at;    /* when it crashed or stopped (0: it runs) */
    uint64_t crashed_at; /* when it crashed (0: it did not) */
    uint32_t inc;
    uint64_t manager;
    stage_dht_t *dht;
    stage_reloc_t *rel;
    uint64_t next_id, serials;
    uint64_t dht_armed;
    bool dirty; /* the manager had an input since its effects were read */
    bool left[NODES], dead[NODES]; /* what it knows of the others */
    int adopting;                  /* DRAIN: adoptions not yet answered */
    pending_t puts[256];
    int nputs;
    int ad_pending[ACTORS]; /* as an adopter: what it waits for (+1) */
    uint64_t ad_tag[ACTORS];
    int ad_home[ACTORS];
} node_t;

static node_t nodes[NODES];
static int drains, crashes;
static bool drain_running;

/* The slot of the node at addr. */
static int slot_of(const char *addr) {
    for (int i = 0; i < NODES; i++)
        if (!strcmp(nodes[i].addr, addr)) return i;
    die("no node at '%s'", addr);
}

/* Whether a and b name the same actor. */
static bool same_id(const stage_id_t *a, const stage_id_t *b) {
    return a->serial == b->serial && a->incarnation == b->incarnation &&
           !strcmp(a->node, b->node);
}

/* The actor, and which of its ids, id is (-1: none). */
static int actor_of(const stage_id_t *id, int *which) {
    for (int a = 0; a < ACTORS; a++)
        for (int i = 0; i < actors[a].nids; i++)
            if (same_id(&actors[a].ids[i], id)) {
                if (which) *which = i;
                return a;
            }
    return -1;
}

/* A new actor id at n. */
static stage_id_t new_id(node_t *n) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", n->addr);
    id.incarnation = n->inc;
    id.serial = ++n->serials;
    snprintf(id.type, sizeof id.type, "Cell");
    return id;
}

/* ---- events ---------------------------------------------------------------
 */

enum {
    EV_DELIVER,
    EV_DHT_TIMER,
    EV_SWEEP,
    EV_SEND,
    EV_CHAOS,
    EV_DETECT,  /* node learns peer died */
    EV_BYE_OUT, /* node says goodbye (its forwards are in) */
    EV_STOP,    /* a node that left stops */
    EV_END
};

enum { F_DHT, F_MSG, F_FWD, F_MOVE, F_ADOPT, F_ADOPTED, F_BYE };

typedef struct frame {
    int kind;
    uint32_t src_inc;
    size_t m; /* MSG, FWD: the message */
    int actor;
    bool guest; /* MOVE: it arrives as a guest (formers: its home's) */
    stage_id_t formers[IDS_MAX];
    int nformers;
    size_t len;
    char body[];
} frame_t;

typedef struct ev {
    uint64_t at, seq;
    int type, node, peer;
    frame_t *f;
} ev_t;

#include "evheap.h" /* heap, push, pop */
static uint64_t pair_last[NODES][NODES];

/* Schedule an event without a frame. */
static void at(uint64_t when, int type, int node, int peer) {
    push((ev_t){.at = when, .type = type, .node = node, .peer = peer});
}

/* A frame from n to slot `to`, FIFO behind the pair's earlier ones. */
static frame_t *send_frame(node_t *n, int to, int kind, const char *body,
                           size_t len) {
    frame_t *f = calloc(1, sizeof *f + len);
    CHECK(f);
    f->kind = kind;
    f->src_inc = n->inc;
    f->len = len;
    if (len) memcpy(f->body, body, len);
    uint64_t when = now + 1 + rnd(LAT_MAX);
    if (when < pair_last[n->slot][to]) when = pair_last[n->slot][to];
    pair_last[n->slot][to] = when;
    push((ev_t){
        .at = when, .type = EV_DELIVER, .node = to, .peer = n->slot, .f = f});
    return f;
}

/* ---- the ledger ------------------------------------------------------------
 */

/* Message m reached its actor at host: once, in its sender's order. */
static void delivered(int host, size_t m) {
    msg_t *g = &msgs[m];
    CHECK(g->state != M_DELIVERED && g->state != M_FAILED); /* once */
    uint64_t *last = &last_seq[g->sender][g->actor][g->ref];
    if (g->seq <= *last)
        die("message %zu (seq %" PRIu64 " from %d through id %d) reached "
            "actor %d after seq %" PRIu64 ": order or a duplicate",
            m, g->seq, g->sender, g->ref, g->actor, *last);
    *last = g->seq;
    g->state = M_DELIVERED;
    g->ended_at = now;
    st_delivered++;
    trace("msg %zu (%d -> actor %d seq %" PRIu64 ") delivered at %d", m,
          g->sender, g->actor, g->seq, host);
}

static void failed(size_t m, int status, const char *why, bool store,
                   bool store_err) {
    msg_t *g = &msgs[m];
    CHECK(g->state != M_DELIVERED && g->state != M_FAILED); /* once */
    CHECK(status < 0 && stage_err_name(status) && why && why[0]);
    g->state = M_FAILED;
    g->status = status;
    g->from_store = store;
    g->store_err = store_err;
    g->ended_at = now;
    st_failed++;
    if (store_err) st_store_err++;
    trace("msg %zu (%d -> actor %d) fails %s: %s", m, g->sender, g->actor,
          stage_err_name(status), why);
}

/* ---- the machine's effects (net/relocate.c's run_one) ----------------------
 */

static void drain(node_t *n);
static bool run_effects(node_t *n);
static void arrive(node_t *n, size_t m);
static void adoption_step(node_t *n, int a);

/* n sends message m to id `to` (its node live, as n knows). */
static void route(node_t *n, size_t m, const stage_id_t *to) {
    msg_t *g = &msgs[m];
    g->to = *to;
    int d = slot_of(to->node);
    trace("msg %zu (%d -> actor %d seq %" PRIu64 ") goes to %d as %" PRIu64, m,
          n->slot, g->actor, g->seq, d, to->serial);
    if (n->left[d] || n->dead[d] || nodes[d].inc != to->incarnation)
        die("message %zu sent to node %d, which its sender knows is gone", m,
            d);
    if (d == n->slot) {
        g->state = M_DIRECT, g->via = d, g->taken = true;
        arrive(n, m);
        return;
    }
    g->state = M_DIRECT;
    g->via = d;
    g->taken = false;
    frame_t *f = send_frame(n, d, F_MSG, NULL, 0);
    f->m = m;
}

/* The machine's gone hook: what node ud knows of id's node. */
static int gone_hook(void *ud, const stage_id_t *id, const char **why) {
    node_t *n = ud;
    int s = slot_of(id->node);
    if (nodes[s].inc != id->incarnation) return STAGE_RELOC_DEAD;
    if (n->left[s]) return STAGE_RELOC_LEFT;
    if (n->dead[s]) {
        *why = "it was declared dead (simulated)";
        return STAGE_RELOC_DEAD;
    }
    return STAGE_RELOC_LIVE;
}

/* The store answered n's put req: the view learns it is in. */
static void put_answered(node_t *n, uint64_t req, int status) {
    for (int i = 0; i < n->nputs; i++)
        if (n->puts[i].req == req) {
            pending_t p = n->puts[i];
            n->puts[i] = n->puts[--n->nputs];
            if (!status) {
                sview[p.actor][p.id].writer = n->slot;
                sview[p.actor][p.id].in_at = now;
            }
            return;
        }
}

/* RECORDED for actor a at n: an entry of n's is in for one more of its
** ids (a put answered, and none told wrong). */
static void recorded_check(node_t *n, int a) {
    int in = 0;
    for (int i = 0; i < actors[a].nids; i++)
        in += sview[a][i].in_at && sview[a][i].writer == n->slot;
    if (in < 1)
        die("node %d was told actor %d's entries are in: none is", n->slot, a);
}

/* Run n's machine's effects (net/relocate.c's run_one); true if the
** manager was asked. */
static bool run_effects(node_t *n) {
    bool asked = false;
    for (;;) {
        size_t k;
        const stage_reloc_fx_t *fx = stage_reloc_effects(n->rel, &k);
        if (!k) break;
        for (size_t i = 0; i < k; i++) {
            const stage_reloc_fx_t *x = &fx[i];
            int rc, a, which;
            switch (x->kind) {
            case STAGE_RELOC_FX_FIND:
                trace("%d asks the store for %s/%" PRIu64, n->slot, x->id.node,
                      x->id.serial);
                rc = STAGE_ETIMEOUT; /* a store in trouble, FAULT_PCT */
                if (rnd(100) >= FAULT_PCT) {
                    n->dirty = true;
                    rc = stage_dht_migration_find(n->dht, now, x->req, &x->id);
                }
                if (rc) stage_reloc_answer(n->rel, now, x->req, rc, NULL);
                asked |= !rc;
                break;
            case STAGE_RELOC_FX_PUT:
                rc = STAGE_ETIMEOUT;
                if (rnd(100) >= FAULT_PCT) {
                    n->dirty = true;
                    rc = stage_dht_migration_put(n->dht, now, x->req, &x->id,
                                                 &x->cur);
                }
                a = actor_of(&x->id, &which);
                CHECK(a >= 0);
                asked |= !rc;
                if (rc) {
                    stage_reloc_answer(n->rel, now, x->req, rc, NULL);
                } else if (n->nputs < 256) {
                    n->puts[n->nputs++] = (pending_t){x->req, a, which};
                }
                break;
            case STAGE_RELOC_FX_REMOVE:
                n->dirty = true;
                asked |=
                    !stage_dht_migration_remove(n->dht, now, x->req, &x->id);
                a = actor_of(&x->id, &which);
                if (a >= 0 && sview[a][which].writer == n->slot)
                    sview[a][which].in_at = 0;
                break;
            case STAGE_RELOC_FX_SEND:
                CHECK(msgs[x->handle - 1].state == M_HELD);
                route(n, x->handle - 1, &x->id);
                break;
            case STAGE_RELOC_FX_FAIL:
                CHECK(msgs[x->handle - 1].state == M_HELD);
                failed(x->handle - 1, x->status, x->why, true,
                       strstr(x->why, "could not be asked") != NULL);
                break;
            case STAGE_RELOC_FX_RECORDED:
                for (a = 0; a < ACTORS; a++)
                    if (n->ad_tag[a] == x->tag && n->ad_pending[a]) {
                        recorded_check(n, a);
                        adoption_step(n, a);
                    }
                break;
            default:
                die("effect of kind %d", x->kind);
            }
        }
    }
    return asked;
}

/* Send the manager's effects, answer the machine, rearm the timer. */
static void drain(node_t *n) {
    size_t k = 0;
    /* read once per input: the manager turns its offsets into pointers */
    const stage_dht_effect_t *fx =
        n->dirty ? stage_dht_effects(n->dht, &k) : NULL;
    n->dirty = false;
    for (size_t i = 0; i < k; i++) {
        const stage_dht_effect_t *x = &fx[i];
        if (x->kind == STAGE_DHT_FX_SEND) {
            stage_pack_t p = STAGE_PACK_INIT;
            CHECK(stage_dht_msg_encode(x->msg, n->manager, &p) == 0);
            send_frame(n, slot_of(x->to_addr), F_DHT, p.data, p.len);
            stage_pack_free(&p);
        } else if (x->kind == STAGE_DHT_FX_DONE) {
            stage_id_t cur;
            bool have = false;
            if (x->status == 0 && x->nitems) {
                stage_unpack_t u;
                stage_unpack_init(&u, x->items[0].value, x->items[0].len);
                if (stage_unpack_id(&u, &cur)) memset(&cur, 0, sizeof cur);
                have = true;
            }
            put_answered(n, x->req, x->status);
            stage_reloc_answer(n->rel, now, x->req, x->status,
                               have ? &cur : NULL);
        }
    }
    if (!n->joined && stage_dht_successor(n->dht).id &&
        stage_dht_predecessor(n->dht).id)
        n->joined = true;
    uint64_t next = stage_dht_next_timer(n->dht);
    if (next != UINT64_MAX && next != n->dht_armed) {
        n->dht_armed = next > now ? next : now + 1;
        at(n->dht_armed, EV_DHT_TIMER, n->slot, -1);
    }
    /* outside the manager's effects, as net does; what it asked is read
    ** from the manager next */
    if (run_effects(n)) drain(n);
}

/* Hold message m (for g->to, of a node n knows left or died). */
static void hold(node_t *n, size_t m, const char *dead) {
    msgs[m].state = M_HELD;
    trace("msg %zu (%d -> actor %d seq %" PRIu64 ") held for %s/%" PRIu64, m,
          n->slot, msgs[m].actor, msgs[m].seq, msgs[m].to.node,
          msgs[m].to.serial);
    st_held++;
    int rc = stage_reloc_frame(n->rel, now, &msgs[m].to, m + 1, dead);
    if (rc) /* the driver fails it, as net's gone_target does */
        failed(m, STAGE_ENODE_DOWN, "no memory to follow it", false, false);
}

/* ---- actors at a node -----------------------------------------------------
 */

/* Message m reaches n (taken): its actor is here, or n forwards it. */
static void arrive(node_t *n, size_t m) {
    msg_t *g = &msgs[m];
    actor_t *a = &actors[g->actor];
    if (!a->alive) {
        failed(m, STAGE_EACTOR_NOT_FOUND, "no such actor here (it died)", false,
               false);
        return;
    }
    if (a->host == n->slot && a->arrived) {
        delivered(n->slot, m);
        return;
    }
    CHECK(a->host != n->slot); /* for it, before it arrived: cannot be */
    /* its home (or a home that handed it over, until it leaves) forwards
    ** it where the actor is, behind the actor's move if under way */
    g->state = M_FWD;
    g->via = n->slot;
    trace("msg %zu forwarded by %d to %d", m, n->slot, a->host);
    frame_t *f = send_frame(n, a->host, F_FWD, NULL, 0);
    f->m = m;
}

/* The adopter n of actor a: one more thing done (the last: ADOPTED). */
static void adoption_step(node_t *n, int a) {
    if (--n->ad_pending[a]) return;
    n->ad_tag[a] = 0;
    int home = n->ad_home[a];
    if (home >= 0 && nodes[home].alive) {
        frame_t *f = send_frame(n, home, F_ADOPTED, NULL, 0);
        f->actor = a;
    }
}

/* n makes actor a its own as id `cur` (formers: the ids that lead to it,
** home: who waits for ADOPTED, -1: no one). */
static void adopt(node_t *n, int a, const stage_id_t *cur,
                  const stage_id_t *formers, int nformers, int home) {
    actor_t *ac = &actors[a];
    CHECK(ac->nids < IDS_MAX);
    ac->ids[ac->nids++] = *cur;
    ac->home = n->slot;
    ac->host = n->slot;
    ac->arrived = true;
    n->ad_tag[a] = (uint64_t)(a + 1) * 1000 + (uint64_t)ac->nids;
    n->ad_home[a] = home;
    n->ad_pending[a] = 1;
    for (int i = 0; i < nformers; i++) {
        int rc = stage_reloc_record(n->rel, now, &formers[i], cur,
                                    home >= 0 ? n->ad_tag[a] : 0);
        CHECK(rc >= 0);
        n->ad_pending[a] += rc;
    }
    st_adopted++;
    trace("%d adopts actor %d as %s/%" PRIu64 " (%d ids)", n->slot, a,
          cur->node, cur->serial, nformers);
    adoption_step(n, a);
    run_effects(n);
    drain(n);
}

/* ---- frames ---------------------------------------------------------------
 */

/* A DHT message for n's manager. */
static void in_dht(node_t *n, int from, const frame_t *f) {
    stage_dht_msg_t m;
    CHECK(stage_dht_msg_decode(&m, f->body, f->len, nodes[from].addr,
                               nodes[from].manager) == 0);
    n->dirty = true;
    stage_dht_recv(n->dht, now, &m);
    stage_dht_msg_clear(&m);
    drain(n);
}

static void close_node(node_t *n);

/* A frame from slot `from` reaches n (or is lost with its sender). */
static void deliver(node_t *n, int from, frame_t *f) {
    node_t *src = &nodes[from];
    if (!n->alive || !src->alive || src->inc != f->src_inc) return; /* lost */
    switch (f->kind) {
    case F_DHT:
        in_dht(n, from, f);
        break;
    case F_MSG: {
        msg_t *g = &msgs[f->m];
        if (g->state != M_DIRECT || g->via != n->slot) break; /* given back */
        if (n->closed) break; /* not taken: it comes back with the goodbye */
        g->taken = true;
        arrive(n, f->m);
        break;
    }
    case F_FWD: {
        msg_t *g = &msgs[f->m];
        CHECK(g->state == M_FWD || g->state == M_GONE);
        arrive(n, f->m);
        break;
    }
    case F_MOVE: /* a guest (migrate), or the node's own (drain) */
        actors[f->actor].arrived = true;
        if (!f->guest) {
            stage_id_t cur = new_id(n);
            adopt(n, f->actor, &cur, f->formers, f->nformers, from);
        } else {
            actor_t *ac = &actors[f->actor];
            ac->guest = new_id(n);
            memcpy(ac->gformers, f->formers, sizeof f->formers);
            ac->ngformers = f->nformers;
        }
        break;
    case F_ADOPT:
        CHECK(actors[f->actor].host == n->slot);
        adopt(n, f->actor, &actors[f->actor].guest, f->formers, f->nformers,
              from);
        break;
    case F_ADOPTED: {
        actor_t *a = &actors[f->actor];
        stage_id_t mine = {0};
        for (int i = 0; i < a->nids; i++)
            if (slot_of(a->ids[i].node) == n->slot &&
                a->ids[i].incarnation == n->inc)
                mine = a->ids[i];
        stage_reloc_forget(n->rel, now, &mine); /* its entries go */
        run_effects(n);
        drain(n);
        CHECK(n->adopting > 0);
        if (--n->adopting == 0) close_node(n);
        break;
    }
    case F_BYE: { /* from's goodbye: what it did not take comes back */
        n->left[from] = true;
        n->dirty = true;
        stage_dht_peer_gone(n->dht, now, src->addr);
        for (size_t m = 0; m < nmsgs; m++)
            if (msgs[m].sender == n->slot && msgs[m].state == M_DIRECT &&
                msgs[m].via == from && !msgs[m].taken)
                hold(n, m, NULL);
        run_effects(n);
        drain(n);
        break;
    }
    default:
        die("frame of kind %d", f->kind);
    }
}

/* ---- the workload and the chaos -------------------------------------------
 */

/* Whether node s runs and takes actors (not draining, not closed). */
static bool open_node(int s) {
    return nodes[s].alive && !nodes[s].draining && !nodes[s].closed;
}

/* n sends the next numbered message to a random actor, through a random
** one of its ids. */
static void send_one(node_t *n) {
    if (nmsgs == MAX_MSGS) return;
    int a = (int)rnd(ACTORS);
    actor_t *ac = &actors[a];
    size_t m = nmsgs++;
    msg_t *g = &msgs[m];
    int ref = (int)rnd((uint64_t)ac->nids);
    *g = (msg_t){.sender = n->slot,
                 .actor = a,
                 .ref = ref,
                 .seq = ++next_seq[n->slot][a][ref],
                 .to = ac->ids[ref],
                 .sent_at = now};
    int d = slot_of(g->to.node);
    bool stale = nodes[d].inc != g->to.incarnation;
    if (stale || n->dead[d]) {
        hold(n, m, "it was declared dead (simulated)");
    } else if (n->left[d]) {
        hold(n, m, NULL);
    } else {
        route(n, m, &g->to);
    }
    run_effects(n);
    drain(n);
}

/* A random open node other than `not` (-1: none). */
static int pick_open(int not ) {
    int c[NODES], k = 0;
    for (int i = 0; i < NODES; i++)
        if (i != not &&open_node(i)) c[k++] = i;
    return k ? c[rnd((uint64_t)k)] : -1;
}

/* How many nodes are open. */
static int live_count(void) {
    int k = 0;
    for (int i = 0; i < NODES; i++)
        k += nodes[i].alive && !nodes[i].draining && !nodes[i].closed;
    return k;
}

/* Whether node s is a guest's host, or a move to it is under way. */
static bool hosts_guests(int s) {
    for (int a = 0; a < ACTORS; a++)
        if (actors[a].alive && actors[a].host == s && actors[a].home != s)
            return true;
    return false;
}

/* A random actor at its home moves to another node as a guest. */
static void migrate(void) {
    int a = (int)rnd(ACTORS);
    actor_t *ac = &actors[a];
    if (!ac->alive || ac->host != ac->home || !ac->arrived) return;
    int y = pick_open(ac->home);
    if (y < 0 || !open_node(ac->home)) return;
    ac->host = y;
    ac->arrived = false;
    frame_t *f = send_frame(&nodes[ac->home], y, F_MOVE, NULL, 0);
    f->actor = a;
    f->guest = true; /* with the ids that led to its home id (netmove.c) */
    f->nformers = (int)stage_reloc_formers(
        nodes[ac->home].rel, &ac->ids[ac->nids - 1], f->formers, IDS_MAX - 1);
    st_moves++;
    trace("actor %d moves from %d to %d (a guest)", a, ac->home, y);
}

/* Node x drains: its actors move, or are adopted where they are. */
static void start_drain(int x) {
    node_t *n = &nodes[x];
    n->draining = true;
    drain_running = true;
    drains++;
    st_drains++;
    trace("%d drains", x);
    for (int a = 0; a < ACTORS; a++) {
        actor_t *ac = &actors[a];
        if (!ac->alive || ac->home != x) continue;
        stage_id_t *cur = &ac->ids[ac->nids - 1];
        frame_t *f;
        if (ac->host == x) {
            int y = pick_open(x);
            CHECK(y >= 0);
            ac->host = y;
            ac->arrived = false;
            f = send_frame(n, y, F_MOVE, NULL, 0);
        } else {
            f = send_frame(n, ac->host, F_ADOPT, NULL, 0);
        }
        f->actor = a;
        f->nformers =
            (int)stage_reloc_formers(n->rel, cur, f->formers, IDS_MAX - 1);
        f->formers[f->nformers++] = *cur;
        n->adopting++;
    }
    if (!n->adopting) close_node(n);
}

/* n's actors are all handed over: it stops taking frames, leaves the
** ring, and says goodbye once what it forwarded is in. */
static void close_node(node_t *n) {
    n->closed = true;
    trace("%d closes and leaves the ring", n->slot);
    n->dirty = true;
    if (stage_dht_leave(n->dht, now) == 0) drain(n);
    uint64_t t = now + 1;
    for (int d = 0; d < NODES; d++)
        if (pair_last[n->slot][d] >= t) t = pair_last[n->slot][d] + 1;
    at(t, EV_BYE_OUT, n->slot, -1);
}

/* Node x dies now (kill -9). */
static void crash(int x) {
    node_t *n = &nodes[x];
    n->alive = false;
    n->gone_at = n->crashed_at = now;
    crashes++;
    st_crashes++;
    trace("%d crashes", x);
    for (size_t m = 0; m < nmsgs; m++)
        if (msgs[m].sender == x && msgs[m].state != M_DELIVERED &&
            msgs[m].state != M_FAILED)
            msgs[m].state = M_GONE;
    for (int a = 0; a < ACTORS; a++) {
        actor_t *ac = &actors[a];
        if (ac->alive && ac->host == x) ac->alive = false;
        if (ac->alive && ac->home == x && !ac->arrived) ac->alive = false;
    }
    for (int a = 0; a < ACTORS; a++) /* its entries go with it */
        for (int i = 0; i < IDS_MAX; i++)
            if (sview[a][i].writer == x && sview[a][i].in_at) {
                sview[a][i].in_at = 0;
                sview[a][i].lost_at = now;
            }
    stage_reloc_destroy(&n->rel);
    stage_dht_destroy(&n->dht);
    for (int d = 0; d < NODES; d++)
        if (d != x && nodes[d].alive)
            at(now + DETECT_MIN + rnd(DETECT_MAX - DETECT_MIN), EV_DETECT, d,
               x);
}

/* n learns x died: its messages x had not finished fail (a session's
** end), x's guests here become n's own, its manager drops x. */
static void detect(node_t *n, int x) {
    n->dead[x] = true;
    for (size_t m = 0; m < nmsgs; m++) {
        msg_t *g = &msgs[m];
        if (g->sender == n->slot && g->via == x &&
            (g->state == M_DIRECT || g->state == M_FWD))
            failed(m, STAGE_ENODE_DOWN, "its node died (simulated)", false,
                   false);
    }
    n->dirty = true;
    stage_dht_peer_gone(n->dht, now, nodes[x].addr);
    n->dirty = true;
    stage_dht_owner_gone(n->dht, now, nodes[x].manager);
    for (int a = 0; a < ACTORS; a++) {
        actor_t *ac = &actors[a];
        if (ac->alive && ac->home == x && ac->host == n->slot && ac->arrived) {
            /* every id that led to it: its move's, and its home id */
            stage_id_t ids[IDS_MAX];
            int k = ac->ngformers;
            memcpy(ids, ac->gformers, (size_t)k * sizeof *ids);
            ids[k++] = ac->ids[ac->nids - 1];
            st_orphans++;
            adopt(n, a, &ac->guest, ids, k, -1);
        }
    }
    run_effects(n);
    drain(n);
}

/* One migration, drain or crash, if none is under way. */
static void chaos(void) {
    at(now + 2000 + rnd(2000), EV_CHAOS, -1, -1);
    if (drain_running || now > CHAOS_MS) return;
    uint64_t r = rnd(10);
    int x = (int)rnd(NODES);
    if (r < 5) {
        migrate();
    } else if (r < 8 && drains < DRAINS_MAX && live_count() > 3 &&
               open_node(x) && !hosts_guests(x)) {
        start_drain(x);
    } else if (crashes < CRASHES_MAX && live_count() > 3 && open_node(x) &&
               !hosts_guests(x)) {
        /* not while it forwards: a forward lost with it is its sender's
        ** session's business, which this simulator does not model */
        for (size_t m = 0; m < nmsgs; m++)
            if (msgs[m].state == M_FWD) return;
        crash(x);
    }
}

/* ---- nodes start and stop ---------------------------------------------------
 */

/* n starts (joining through slot join; -1: the first). */
static void start_node(node_t *n, int join) {
    n->alive = true;
    n->inc = (uint32_t)n->slot + 1;
    n->manager = rnd(UINT64_MAX) | 1;
    n->dht_armed = UINT64_MAX;
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = n->manager;
    c.address = n->addr;
    c.seed = rnd(UINT64_MAX) | 1;
    c.lease_ms = LEASE;
    c.period_ms = PERIOD;
    CHECK(stage_dht_new(&n->dht, &c, now) == 0);
    if (join >= 0) CHECK(stage_dht_join(n->dht, now, nodes[join].addr, 0) == 0);
    stage_reloc_config_t rc;
    stage_reloc_config_init(&rc);
    rc.next_id = &n->next_id;
    rc.gone = gone_hook;
    rc.ud = n;
    n->rel = stage_reloc_new(&rc);
    CHECK(n->rel);
    n->dirty = true;
    drain(n);
    at(now + SWEEP_MS, EV_SWEEP, n->slot, -1);
    at(START_MS + rnd(100), EV_SEND, n->slot, -1);
}

/* n stops (it left, or the run ends): what its machine holds fails. */
static void stop_node(node_t *n) {
    stage_reloc_stop(n->rel);
    run_effects(n);
    for (size_t m = 0; m < nmsgs; m++) /* its calls not taken end Stopped */
        if (msgs[m].sender == n->slot && msgs[m].state == M_DIRECT &&
            !msgs[m].taken) {
            if (now >= END_MS) /* all quiet since SEND_MS: it was lost */
                die("message %zu (%d -> actor %d, sent at %" PRIu64
                    ") never reached node %d, and nobody said so",
                    m, n->slot, msgs[m].actor, msgs[m].sent_at, msgs[m].via);
            failed(m, STAGE_ESTOPPED, "this node stopped first", false, false);
        }
    stage_reloc_destroy(&n->rel);
    stage_dht_destroy(&n->dht);
    n->alive = false;
    n->stopped = true;
    n->gone_at = now;
}

/* Run one event. */
static void step(ev_t e) {
    now = e.at;
    node_t *n = e.node >= 0 ? &nodes[e.node] : NULL;
    switch (e.type) {
    case EV_DELIVER:
        deliver(n, e.peer, e.f);
        free(e.f);
        break;
    case EV_DHT_TIMER:
        if (!n->alive || n->dht_armed != e.at) break;
        n->dht_armed = UINT64_MAX;
        n->dirty = true;
        stage_dht_tick(n->dht, now);
        drain(n);
        break;
    case EV_SWEEP:
        if (!n->alive) break;
        stage_reloc_tick(n->rel, now);
        if (n->joined) stage_reloc_sweep(n->rel, now);
        run_effects(n);
        drain(n);
        at(now + SWEEP_MS, EV_SWEEP, n->slot, -1);
        break;
    case EV_SEND:
        if (!n->alive || n->draining || n->closed || now > SEND_MS) break;
        send_one(n);
        at(now + 10 + rnd(40), EV_SEND, n->slot, -1);
        break;
    case EV_CHAOS:
        chaos();
        break;
    case EV_DETECT:
        if (n->alive) detect(n, e.peer);
        break;
    case EV_BYE_OUT:
        if (!n->alive) break;
        for (int d = 0; d < NODES; d++)
            if (d != n->slot && nodes[d].alive)
                send_frame(n, d, F_BYE, NULL, 0);
        at(now + 300, EV_STOP, n->slot, -1);
        break;
    case EV_STOP:
        if (!n->alive) break;
        trace("%d stops", n->slot);
        stop_node(n);
        drain_running = false;
        break;
    case EV_END:
        break;
    default:
        die("event of type %d", e.type);
    }
}

/* ---- the checks -------------------------------------------------------------
 */

/* Whether the store led from msgs[m].to to its actor (a live writer's
** entry, in long enough before the message failed). */
static bool reachable(size_t m) {
    const msg_t *g = &msgs[m];
    int which = 0, a = actor_of(&g->to, &which);
    CHECK(a == g->actor);
    if (!actors[a].alive) return false;
    const storeview_t *v = &sview[a][which];
    if (v->lost_at && v->lost_at < g->ended_at && !v->in_at)
        st_entry_died++;            /* see the top: before it is put again */
    for (int s = 0; s < NODES; s++) /* the store under churn (CHURN_MS) */
        if (nodes[s].crashed_at && nodes[s].crashed_at < g->ended_at &&
            g->ended_at < nodes[s].crashed_at + CHURN_MS + NONE_MS)
            return false;
    const node_t *w = &nodes[v->writer];
    return g->status != STAGE_ESTOPPED && v->in_at &&
           (!w->gone_at || w->gone_at > g->ended_at) &&
           v->in_at + NONE_MS + SLACK_MS < g->ended_at;
}

/* The checks at the end of a seed (the top says which). */
static void check(void) {
    for (int a = 0; a < ACTORS; a++)
        for (int i = 0; actors[a].alive && i < actors[a].nids; i++)
            if (sview[a][i].lost_at && !sview[a][i].in_at)
                die("actor %d lives, but its id %s/%" PRIu64
                    " leads nowhere: its entry died with node %d at %" PRIu64
                    " and no one put it again",
                    a, actors[a].ids[i].node, actors[a].ids[i].serial,
                    sview[a][i].writer, sview[a][i].lost_at);
    for (size_t m = 0; m < nmsgs; m++) {
        const msg_t *g = &msgs[m];
        if (g->state == M_GONE) continue; /* with its sender */
        if (g->state != M_DELIVERED && g->state != M_FAILED)
            die("message %zu (%d -> actor %d, seq %" PRIu64 ", sent at %" PRIu64
                ") never ended (state %d): lost without its sender told",
                m, g->sender, g->actor, g->seq, g->sent_at, g->state);
        if (g->state == M_FAILED && g->from_store && !g->store_err &&
            reachable(m)) {
            die("message %zu (%d -> actor %d via %s/%" PRIu64
                ") failed %s at %" PRIu64
                " though the store led to its live actor",
                m, g->sender, g->actor, g->to.node, g->to.serial,
                stage_err_name(g->status), g->ended_at);
        }
    }
}

/* One seed. */
static void run(void) {
    memset(nodes, 0, sizeof nodes);
    memset(actors, 0, sizeof actors);
    memset(sview, 0, sizeof sview);
    memset(last_seq, 0, sizeof last_seq);
    memset(next_seq, 0, sizeof next_seq);
    memset(pair_last, 0, sizeof pair_last);
    nmsgs = 0, nheap = 0, evseq = 0, now = 0;
    drains = crashes = 0;
    drain_running = false;
    for (int i = 0; i < NODES; i++) {
        nodes[i].slot = i;
        snprintf(nodes[i].addr, sizeof nodes[i].addr, "10.0.0.%d:7400", i + 1);
    }
    for (int i = 0; i < NODES; i++) {
        now = (uint64_t)i * 50;
        start_node(&nodes[i], i ? 0 : -1);
    }
    for (int a = 0; a < ACTORS; a++) {
        int s = a % NODES;
        actors[a] =
            (actor_t){.alive = true, .arrived = true, .home = s, .host = s};
        actors[a].ids[actors[a].nids++] = new_id(&nodes[s]);
    }
    at(START_MS + 500, EV_CHAOS, -1, -1);
    at(END_MS, EV_END, -1, -1);
    while (nheap) {
        ev_t e = pop();
        if (e.at > END_MS) {
            free(e.f);
            continue;
        }
        step(e);
    }
    now = END_MS;
    if (drain_running) die("a drain did not end (its adoptions never came)");
    for (int i = 0; i < NODES; i++)
        if (nodes[i].alive) stop_node(&nodes[i]);
    check();
}

int main(int argc, char **argv) {
    uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 50;
    tracing = getenv("RELOC_SIM_TRACE") != NULL;
    for (seed = first; seed < first + count; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull | 1;
        run();
        free(heap);
        heap = NULL;
        capheap = 0;
    }
    printf("reloc_sim: seeds %" PRIu64 "-%" PRIu64 ": %" PRIu64
           " delivered, %" PRIu64 " failed (typed; %" PRIu64
           " of them the store could not be asked), %" PRIu64
           " held for the store; %" PRIu64 " migrations, %" PRIu64
           " drains, %" PRIu64 " crashes, %" PRIu64 " adoptions (%" PRIu64
           " orphans)\n",
           first, first + count - 1, st_delivered, st_failed, st_store_err,
           st_held, st_moves, st_drains, st_crashes, st_adopted, st_orphans);
    printf("reloc_sim: %" PRIu64 " failed to a live actor through an id whose "
           "entry died with the node that wrote it, before it was put again\n",
           st_entry_died);
    return 0;
}
