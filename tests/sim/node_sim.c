/*
** tests/sim/node_sim.c: the node protocols of several nodes (src/node: the
** frame codec, calls and their deadlines, the name cache, claims and the
** leave; src/dht: each node's manager) driven over a simulated network, one
** seed at a time, the way src/net drives them over TCP: each node's manager,
** calls timer
** and workload are events on one virtual clock; frames between two nodes
** keep their order (FIFO per pair, random latency); every body is encoded
** and decoded by the codec.
**
** Nodes crash (kill -9: what they sent and the network had not delivered
** yet is lost from a random point on, as with a session's unacknowledged
** frames) and restart as new incarnations, which join the ring and claim
** their actor's name again. Every other node learns of a death after a
** random delay (its failure detector, or the news), after the frames of
** the dead node it was going to get: it ends the session (the calls to
** that node fail), forgets the names cached for it, and its manager drops
** what the dead node owned (stage_dht_owner_gone).
**
** At the end the nodes leave gracefully, one after the other (their names
** released and the releases confirmed, then the ring left and a goodbye
** to every node, behind what they sent).
**
** Each node hosts one actor, named "svc-<slot>". Nodes call one another's
** actors (found by name) with a behaviour: answer at once, answer after
** up to 1.5 timeouts, or never; and look names up (the cache, else the
** DHT).
**
** Checked for every seed:
**   - every call ends exactly once: its reply (only the one it asked, from
**     the node it asked, before its deadline), Timeout at its deadline to
**     the millisecond, NodeDown when its node's death is known and not
**     after the deadline, ActorNotFound from a node that is not the
**     actor's run, or Stopped when its own node stops; never two of them,
**     never none (at the end every node stops: the rest fail Stopped);
**   - a name answered from the cache never names an incarnation its node
**     knows is dead;
**   - names appear: every actor that lives 4 s after its name was claimed
**     is found by name from another node meanwhile, and at the end (after
**     a quiet time) every node finds every live actor by name through the
**     DHT;
**   - names disappear: once every node knows an incarnation is dead (or
**     has its goodbye), no lookup started later finds its actor, and a
**     lookup after each leave finds nothing;
**   - a leave waits for its removals and confirms them all.
**
**   node_sim [FIRST_SEED [COUNT]]     (default 1 60)
** A failure prints the seed; `node_sim SEED 1` replays it
** (NODE_SIM_TRACE=1 prints every event).
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht/dht.h"
#include "node/calls.h"
#include "node/frames.h"
#include "node/holdings.h"
#include "node/names.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define SIM_NAME "node_sim"
#include "sim_util.h"

#define NODES 4
#define TIMEOUT 2000     /* call timeout, ms */
#define DETECT_MIN 100   /* a death is known this long after, at least */
#define DETECT_MAX 900   /* ... and at most (below TIMEOUT: NodeDown) */
#define LAT_MAX 15       /* one-way latency, ms */
#define LEASE 2000       /* the DHT's lease */
#define PERIOD 200       /* the DHT's period */
#define CHAOS_MS 40000   /* crashes and restarts happen before this */
#define QUIET_MS 10000   /* then nothing breaks for so long */
#define APPEAR_MS 4000   /* a name claimed is found by others within */
#define DISAPPEAR_MS 500 /* no lookup started this long after all know */
#define LEAVES_AT (CHAOS_MS + QUIET_MS + 3000) /* then they leave, in turn */
#define LEAVE_GAP 3000                         /* one after the other */
#define MAX_CALLS 20000
#define KIND_MSG STAGE__NODE_FRAME_MSG
#define KIND_REPLY STAGE__NODE_FRAME_REPLY
#define KIND_DHT STAGE__NODE_FRAME_DHT

/* ---- failure reporting ---------------------------------------------------
 */

/* ---- the ledger of calls -------------------------------------------------
 */

typedef struct ledger {
    int caller, target;
    uint32_t caller_inc, target_inc;
    uint64_t sent, deadline;
    int mode;    /* 0 answer now, 1 answer later, 2 never, 3 no such actor */
    int endings; /* must end at exactly 1 */
    int status;
    uint64_t ended;
} ledger_t;

static ledger_t calls_made[MAX_CALLS];
static size_t ncalls;
static uint64_t stat_late, stat_timeout, stat_down, stat_ok, stat_notfound,
    stat_stopped, stat_lookups, stat_found, stat_dropped;

/* ---- nodes ----------------------------------------------------------------
 */

typedef struct req {
    uint64_t id;
    int kind; /* 1 claim, 2 find */
    int name; /* the slot named */
    uint64_t started;
    bool final; /* a lookup of the final check */
} req_t;

#define MAX_REQS 256

typedef struct node {
    int slot;
    char addr[STAGE_ADDR_MAX];
    bool alive, joined;
    uint32_t inc;
    uint64_t manager;
    stage_dht_t *dht;
    stage__calls_t calls;
    stage__names_t names;
    stage__hold_t hold;
    uint64_t next_id;
    uint64_t dht_armed, calls_armed; /* when their events fire */
    uint32_t bound[NODES];           /* the incarnation of each session */
    uint32_t dead[NODES][16];        /* incarnations known dead */
    int ndead[NODES];
    stage_id_t seen[NODES]; /* the last id found for each name */
    bool have_seen[NODES];
    req_t reqs[MAX_REQS];
    int nreqs;
    bool claimed; /* its name is claimed for its actor */
    uint64_t claimed_at;
    bool found_by_other; /* its name was found by another node */
} node_t;

static node_t nodes[NODES];
/* every node knows incarnation inc of slot s is dead: when (0: not yet) */
static uint64_t all_know[NODES][64];
static uint64_t died_at[NODES][64];
static uint64_t managers[NODES][64]; /* the manager of each incarnation */
static bool gone_confirmed[NODES];   /* a lookup after it left missed it */
static uint32_t incs;                /* incarnations so far (all slots) */

/* A node's call: the module's record first. */
typedef struct simcall {
    stage__call_t call;
    size_t idx; /* in calls_made */
} simcall_t;

static bool known_dead(const node_t *n, int s, uint32_t inc) {
    for (int i = 0; i < n->ndead[s]; i++)
        if (n->dead[s][i] == inc) return true;
    return false;
}

static int slot_of(const char *addr) {
    for (int i = 0; i < NODES; i++)
        if (!strcmp(nodes[i].addr, addr)) return i;
    die("no node at '%s'", addr);
    return -1;
}

static void actor_id(const node_t *n, stage_id_t *id) {
    memset(id, 0, sizeof *id);
    snprintf(id->node, sizeof id->node, "%s", n->addr);
    id->incarnation = n->inc;
    id->serial = 1;
    snprintf(id->type, sizeof id->type, "Svc");
}

static void name_of(int slot, char *buf, size_t len) {
    snprintf(buf, len, "svc-%d", slot);
}

/* ---- events -------------------------------------------------------------
 */

enum {
    EV_DELIVER,
    EV_DHT_TIMER,
    EV_CALLS_TIMER,
    EV_WORK,
    EV_DETECT,
    EV_CRASH,
    EV_RESTART,
    EV_REPLY,
    EV_CLAIM,
    EV_FINAL,
    EV_LEAVE,      /* it leaves gracefully */
    EV_LEAVE_RING, /* its removals are confirmed, or the wait is over */
    EV_BYE,        /* its goodbye reaches a node */
    EV_STOP,       /* it stops, once the goodbyes are out */
    EV_GONE_CHECK  /* a node looks up the name of one that left */
};

typedef struct frame {
    int kind;
    uint32_t src_inc, dst_inc; /* dst_inc 0: whoever answers */
    size_t len;
    char body[];
} frame_t;

typedef struct ev {
    uint64_t at, seq;
    int type, node, peer;
    uint32_t inc;        /* the node's incarnation the event is for */
    uint64_t arg;        /* REPLY: the call id; DETECT: the dead incarnation */
    int64_t idx;         /* REPLY: the ledger index the reply carries */
    uint32_t caller_inc; /* REPLY: the run of the caller it is owed to */
    frame_t *f;
} ev_t;

#include "evheap.h" /* heap, push, pop */
/* pair (from, to): when its last frame is delivered; frames from a crashed
** node past cut are lost */
static uint64_t pair_last[NODES][NODES], pair_cut[NODES][NODES];

static void at(uint64_t when, int type, int node, int peer, uint32_t inc,
               uint64_t arg) {
    push((ev_t){.at = when,
                .type = type,
                .node = node,
                .peer = peer,
                .inc = inc,
                .arg = arg});
}

/* ---- sending --------------------------------------------------------------
 */

/* A frame from n to slot `to`, FIFO behind the pair's earlier ones. */
static void send_frame(node_t *n, int to, int kind, const char *body,
                       size_t len) {
    frame_t *f = malloc(sizeof *f + len);
    CHECK(f);
    f->kind = kind;
    f->src_inc = n->inc;
    f->dst_inc = known_dead(n, to, n->bound[to]) ? 0 : n->bound[to];
    f->len = len;
    memcpy(f->body, body, len);
    uint64_t when = now + 1 + rnd(LAT_MAX);
    if (when < pair_last[n->slot][to]) when = pair_last[n->slot][to];
    pair_last[n->slot][to] = when;
    push((ev_t){.at = when,
                .type = EV_DELIVER,
                .node = to,
                .peer = n->slot,
                .inc = 0,
                .f = f});
}

static void req_done(node_t *n, const stage_dht_effect_t *fx);

/* Send the manager's effects and rearm its timer (the real driver's
** stage__lookup_drain). */
static void drain(node_t *n) {
    size_t k;
    const stage_dht_effect_t *fx = stage_dht_effects(n->dht, &k);
    for (size_t i = 0; i < k; i++) {
        if (fx[i].kind == STAGE_DHT_FX_SEND) {
            stage_pack_t p = STAGE_PACK_INIT;
            CHECK(stage_dht_msg_encode(fx[i].msg, n->manager, &p) == 0);
            send_frame(n, slot_of(fx[i].to_addr), KIND_DHT, p.data, p.len);
            stage_pack_free(&p);
        } else if (fx[i].kind == STAGE_DHT_FX_DONE) {
            req_done(n, &fx[i]);
        }
    }
    if (!n->joined && stage_dht_successor(n->dht).id &&
        stage_dht_predecessor(n->dht).id)
        n->joined = true;
    uint64_t next = stage_dht_next_timer(n->dht);
    if (next != UINT64_MAX && next != n->dht_armed) {
        n->dht_armed = next > now ? next : now + 1;
        at(n->dht_armed, EV_DHT_TIMER, n->slot, -1, n->inc, 0);
    }
}

static void calls_arm(node_t *n) {
    uint64_t next = stage__calls_next_deadline(&n->calls);
    if (next >= n->calls_armed) return;
    n->calls_armed = next;
    at(next, EV_CALLS_TIMER, n->slot, -1, n->inc, 0);
}

/* ---- calls ----------------------------------------------------------------
 */

static void call_ended(size_t idx, int status, int replier) {
    ledger_t *l = &calls_made[idx];
    CHECK(l->endings == 0); /* never two endings */
    l->endings++;
    l->status = status;
    l->ended = now;
    switch (status) {
    case 0:
        CHECK(replier == l->target);
        CHECK(now <= l->deadline);
        stat_ok++;
        break;
    case STAGE_EACTOR_NOT_FOUND:
        CHECK(replier == l->target);
        CHECK(l->mode == 3 || nodes[l->target].inc != l->target_inc);
        stat_notfound++;
        break;
    case STAGE_ETIMEOUT:
        CHECK(now == l->deadline); /* to the millisecond */
        stat_timeout++;
        break;
    case STAGE_ENODE_DOWN:
        CHECK(now <= l->deadline);
        CHECK(known_dead(&nodes[l->caller], l->target, l->target_inc) ||
              l->target_inc != nodes[l->target].inc);
        stat_down++;
        break;
    case STAGE_ESTOPPED:
        stat_stopped++;
        break;
    default:
        die("call %zu ended with %s", idx, stage_err_name(status));
    }
    trace("call %zu (%d -> %d) ends: %s", idx, l->caller, l->target,
          status ? stage_err_name(status) : "reply");
}

static void on_call_failed(void *ud, stage__call_t *call, int status,
                           const char *message) {
    (void)ud;
    CHECK(message && message[0]);
    simcall_t *c = (simcall_t *)call;
    call_ended(c->idx, status, -1);
    free(c);
}

/* n calls the actor it found under target's name. */
static void make_call(node_t *n, int target) {
    if (ncalls == MAX_CALLS) return;
    stage_id_t to_buf = n->seen[target];
    const stage_id_t *to = &to_buf;
    size_t idx = ncalls++;
    ledger_t *l = &calls_made[idx];
    *l = (ledger_t){.caller = n->slot,
                    .target = target,
                    .caller_inc = n->inc,
                    .target_inc = to->incarnation,
                    .sent = now,
                    .deadline = now + TIMEOUT};
    uint64_t r = rnd(10);
    l->mode = r < 5 ? 0 : r < 8 ? 1 : r < 9 ? 2 : 3;
    if (l->mode == 3) to_buf.serial = 2; /* an actor that stopped */
    if (known_dead(n, target, to->incarnation)) {
        call_ended(idx, STAGE_ENODE_DOWN, -1); /* at once, as out_msg */
        return;
    }
    simcall_t *c = malloc(sizeof *c);
    CHECK(c);
    c->idx = idx;
    uint64_t id = ++n->next_id;
    CHECK(stage__calls_open(&n->calls, &c->call, id, nodes[target].addr, now) ==
          0);
    CHECK(c->call.deadline == l->deadline);
    calls_arm(n);
    char args[64];
    stage_pack_t a = {args, 0, sizeof args, 0};
    stage_pack_array(&a, 3);
    stage_pack_int(&a, l->mode);
    stage_pack_int(&a, (int64_t)rnd(TIMEOUT * 3 / 2));
    stage_pack_int(&a, (int64_t)idx);
    stage_pack_t p = STAGE_PACK_INIT;
    CHECK(stage__node_msg_encode(&p, id, to, "work", 4, a.data, a.len) == 0);
    send_frame(n, target, KIND_MSG, p.data, p.len);
    stage_pack_free(&p);
}

static void send_reply(node_t *n, int to, uint64_t call, int64_t idx) {
    stage_pack_t p = STAGE_PACK_INIT;
    char v[16];
    stage_pack_t val = {v, 0, sizeof v, 0};
    stage_pack_int(&val, idx);
    CHECK(stage__node_reply_encode(&p, call, val.data, val.len) == 0);
    send_frame(n, to, KIND_REPLY, p.data, p.len);
    stage_pack_free(&p);
}

static void in_msg(node_t *n, int from, const frame_t *f) {
    stage__node_msg_t m;
    CHECK(stage__node_msg_decode(&m, f->body, f->len, false) == 0);
    CHECK(m.call);
    if (m.to.incarnation != n->inc || m.to.serial != 1) {
        stage_pack_t p = STAGE_PACK_INIT;
        CHECK(stage__node_reply_fail_encode(&p, m.call, STAGE_EACTOR_NOT_FOUND,
                                            "not here", NULL, NULL) == 0);
        send_frame(n, from, KIND_REPLY, p.data, p.len);
        stage_pack_free(&p);
        return;
    }
    stage_unpack_t u;
    uint32_t three;
    int64_t mode, delay, idx;
    stage_unpack_init(&u, m.args, m.alen);
    CHECK(!stage_unpack_array(&u, &three) && three == 3 &&
          !stage_unpack_int(&u, &mode) && !stage_unpack_int(&u, &delay) &&
          !stage_unpack_int(&u, &idx));
    if (mode == 0)
        send_reply(n, from, m.call, idx);
    else if (mode == 1)
        push((ev_t){.at = now + (uint64_t)delay,
                    .type = EV_REPLY,
                    .node = n->slot,
                    .peer = from,
                    .inc = n->inc,
                    .arg = m.call,
                    .idx = idx,
                    .caller_inc = f->src_inc});
}

static void in_reply(node_t *n, int from, const frame_t *f) {
    stage__node_reply_t r;
    CHECK(stage__node_reply_decode(&r, f->body, f->len) == 0);
    simcall_t *c =
        (simcall_t *)stage__calls_reply(&n->calls, r.call, nodes[from].addr);
    if (!c) { /* late: its call ended before (it timed out) */
        stat_late++;
        return;
    }
    if (r.status == 0) { /* the value is the ledger index: the right call */
        stage_unpack_t u;
        int64_t idx;
        stage_unpack_init(&u, r.value, r.vlen);
        CHECK(!stage_unpack_int(&u, &idx) && (size_t)idx == c->idx);
    } else {
        stage__node_failure_t e;
        stage__node_failure_decode(&e, r.value, r.vlen);
        CHECK(e.message && e.mlen == 8 && !memcmp(e.message, "not here", 8));
    }
    call_ended(c->idx, r.status, from);
    free(c);
}

static void in_dht(node_t *n, int from, const frame_t *f) {
    stage_dht_msg_t m;
    CHECK(stage_dht_msg_decode(&m, f->body, f->len, nodes[from].addr,
                               nodes[from].manager) == 0);
    stage_dht_recv(n->dht, now, &m);
    stage_dht_msg_clear(&m);
    drain(n);
}

static void forget_dead(node_t *n, int s, uint32_t inc) {
    if (known_dead(n, s, inc)) return;
    CHECK(n->ndead[s] < 16);
    n->dead[s][n->ndead[s]++] = inc;
}

/* n learns that slot s's incarnation inc is dead (reason: the transport's):
** what net's on_peer_down and deaths.c do. */
static void session_ended(node_t *n, int s, uint32_t inc, int reason) {
    if (known_dead(n, s, inc)) return;
    forget_dead(n, s, inc);
    trace("%d learns %d (inc %u) is dead", n->slot, s, inc);
    stage__calls_session_ended(&n->calls, nodes[s].addr, reason, "simulated");
    calls_arm(n);
    stage__names_forget_node(&n->names, nodes[s].addr);
    if (n->bound[s] == inc) n->bound[s] = 0;
    /* its manager forgets it, and drops what it owned (deaths.c) */
    if (reason != STAGE_ESTOPPED)
        stage_dht_peer_gone(n->dht, now, nodes[s].addr);
    /* a death is news for the DHT (deaths.c); a goodbye is not: the node
    ** withdrew its own entries before it left */
    if (reason != STAGE_ECANCELED)
        stage_dht_owner_gone(n->dht, now, managers[s][inc]);
    drain(n);
}

/* A frame arrives at n from slot `from`, sent by incarnation f->src_inc. */
static void deliver(node_t *n, int from, frame_t *f) {
    node_t *src = &nodes[from];
    if (!n->alive) return;                          /* lost */
    if (f->dst_inc && f->dst_inc != n->inc) return; /* an earlier run's */
    if (src->inc != f->src_inc && now > pair_cut[from][n->slot])
        return; /* its sender died and it had not gone out yet */
    if (known_dead(n, from, f->src_inc)) return; /* quarantined */
    if (n->bound[from] != f->src_inc) {
        /* a new session: its incarnation is news (a restart, net's
        ** on_peer_up: lookup.c and monitors.c) */
        if (n->bound[from] && !known_dead(n, from, n->bound[from]))
            session_ended(n, from, n->bound[from], STAGE_ESTOPPED);
        n->bound[from] = f->src_inc;
        if (stage__names_peer_up(&n->names, src->addr, f->src_inc) &&
            stage_dht_peer_restarted(n->dht, now, src->addr, src->manager) >
                0) {
            stage__names_forget_node(&n->names, src->addr);
            drain(n);
        }
    }
    switch (f->kind) {
    case KIND_MSG:
        in_msg(n, from, f);
        break;
    case KIND_REPLY:
        in_reply(n, from, f);
        break;
    case KIND_DHT:
        in_dht(n, from, f);
        break;
    default:
        die("frame of kind %d", f->kind);
    }
}

/* ---- names ----------------------------------------------------------------
 */

static req_t *req_new(node_t *n, int kind, int name) {
    CHECK(n->nreqs < MAX_REQS);
    req_t *r = &n->reqs[n->nreqs++];
    *r =
        (req_t){.id = ++n->next_id, .kind = kind, .name = name, .started = now};
    return r;
}

static void claim_name(node_t *n) {
    char name[32];
    stage_id_t id;
    name_of(n->slot, name, sizeof name);
    actor_id(n, &id);
    req_t *r = req_new(n, 1, n->slot);
    if (stage_dht_name_claim(n->dht, now, r->id, name, &id)) n->nreqs--;
    drain(n);
}

/* A name's answer: what it names must be live unless its death is not
** known everywhere yet (with a margin for requests under way). */
static void found(node_t *n, const req_t *r, const stage_id_t *id,
                  bool cached) {
    int s = slot_of(id->node);
    CHECK(s == r->name && id->serial == 1);
    if (cached) CHECK(!known_dead(n, s, id->incarnation));
    uint64_t known = id->incarnation < 64 ? all_know[s][id->incarnation] : 0;
    if (known && r->started > known + DISAPPEAR_MS)
        die("node %d found 'svc-%d' naming incarnation %u, dead and known "
            "so everywhere since %" PRIu64,
            n->slot, s, id->incarnation, known);
    n->seen[s] = *id;
    n->have_seen[s] = true;
    if (s != n->slot && nodes[s].alive && nodes[s].inc == id->incarnation)
        nodes[s].found_by_other = true;
    stat_found++;
}

static void req_done(node_t *n, const stage_dht_effect_t *fx) {
    int i = 0;
    while (i < n->nreqs && n->reqs[i].id != fx->req)
        i++;
    if (i == n->nreqs) { /* a removal of the leave, or the manager's own */
        if (stage__hold_bye_done(&n->hold, fx->req))
            at(now + 1, EV_LEAVE_RING, n->slot, -1, n->inc, 0);
        return;
    }
    req_t r = n->reqs[i];
    n->reqs[i] = n->reqs[--n->nreqs];
    if (r.kind == 1) {
        if (fx->status == 0) {
            char name[32];
            name_of(n->slot, name, sizeof name);
            CHECK(stage__hold_claimed(&n->hold, name, 1) == 0);
            n->claimed = true;
            n->claimed_at = now;
            n->found_by_other = false;
            trace("%d claimed its name", n->slot);
        } else {
            at(now + 300, EV_CLAIM, n->slot, -1, n->inc, 0); /* again */
        }
        return;
    }
    if (r.kind == 3 && (fx->status == STAGE_ENAME_NOT_FOUND ||
                        (fx->status == 0 && !fx->nitems)))
        gone_confirmed[r.name] = true;
    if (fx->status || !fx->nitems) {
        if (r.final && nodes[r.name].alive)
            die("final: node %d cannot find 'svc-%d': %s", n->slot, r.name,
                fx->status ? stage_err_name(fx->status) : "no entry");
        return;
    }
    stage_id_t id;
    stage_unpack_t u;
    stage_unpack_init(&u, fx->items[0].value, fx->items[0].len);
    CHECK(stage_unpack_id(&u, &id) == 0);
    char name[32];
    name_of(r.name, name, sizeof name);
    /* as lookup.c does: not an answer naming an incarnation known dead */
    if (!known_dead(n, r.name, id.incarnation))
        stage__names_put(&n->names, name, fx->items[0].value, fx->items[0].len,
                         now);
    found(n, &r, &id, false);
    if (r.final)
        CHECK(nodes[r.name].alive && id.incarnation == nodes[r.name].inc);
}

/* n looks up the name of slot s: the cache, else the DHT. */
static void lookup(node_t *n, int s, bool final) {
    char name[32];
    name_of(s, name, sizeof name);
    const char *v;
    size_t len;
    stat_lookups++;
    if (!final && stage__names_get(&n->names, name, now, &v, &len)) {
        stage_id_t id;
        stage_unpack_t u;
        stage_unpack_init(&u, v, len);
        CHECK(stage_unpack_id(&u, &id) == 0);
        req_t r = {.name = s, .started = now};
        found(n, &r, &id, true);
        return;
    }
    req_t *r = req_new(n, 2, s);
    r->final = final;
    if (stage_dht_name_find(n->dht, now, r->id, name)) n->nreqs--;
    drain(n);
}

/* ---- the run --------------------------------------------------------------
 */

static size_t type_count(void *ud, void *ty) {
    (void)ud;
    (void)ty;
    return 1; /* its actor lives until the node stops */
}

static bool type_retire(void *ud, void *ty) {
    (void)ud;
    (void)ty;
    return true;
}

static void start_node(node_t *n, int join) {
    n->alive = true;
    n->joined = false;
    n->inc = ++incs;
    CHECK(n->inc < 64);
    n->manager = (rnd(UINT64_MAX) | 1);
    managers[n->slot][n->inc] = n->manager;
    n->next_id = 0;
    n->dht_armed = n->calls_armed = UINT64_MAX;
    n->nreqs = 0;
    n->claimed = false;
    memset(n->bound, 0, sizeof n->bound);
    memset(n->have_seen, 0, sizeof n->have_seen);
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = n->manager;
    c.address = n->addr;
    c.seed = rnd(UINT64_MAX) | 1;
    c.lease_ms = LEASE;
    c.period_ms = PERIOD;
    CHECK(stage_dht_new(&n->dht, &c, now) == 0);
    if (join >= 0) CHECK(stage_dht_join(n->dht, now, nodes[join].addr, 0) == 0);
    stage__calls_init(&n->calls, TIMEOUT, on_call_failed, n);
    stage__names_init(&n->names, n->addr, n->inc);
    stage__hold_hooks_t hooks = {n, type_count, type_retire, NULL};
    stage__hold_init(&n->hold, n->dht, &n->next_id, &n->names, n->addr, n->inc,
                     &hooks);
    drain(n);
    at(now + 1500 + rnd(500), EV_CLAIM, n->slot, -1, n->inc, 0);
    at(now + rnd(100), EV_WORK, n->slot, -1, n->inc, 0);
    trace("%d starts as incarnation %u (manager %016" PRIx64 ")", n->slot,
          n->inc, n->manager);
}

/* n stops (the end of the run): its calls fail Stopped. */
static void stop_node(node_t *n) {
    trace("%d (inc %u) stops", n->slot, n->inc);
    stage__calls_stop(&n->calls);
    stage__calls_close(&n->calls);
    stage__hold_close(&n->hold);
    stage__names_close(&n->names);
    stage_dht_destroy(&n->dht);
    n->alive = false;
}

static void crash(node_t *n) {
    int s = n->slot;
    uint32_t inc = n->inc;
    trace("%d (inc %u) crashes", s, inc);
    died_at[s][inc] = now;
    /* what it sent that the network holds: a prefix arrives */
    uint64_t latest = 0;
    for (int d = 0; d < NODES; d++) {
        uint64_t last = pair_last[s][d];
        pair_cut[s][d] = last > now ? now + rnd(last - now + 1) : now;
        if (pair_cut[s][d] > latest) latest = pair_cut[s][d];
    }
    /* its calls die with it: nobody hears of them (a process that is
    ** killed completes no future); the ledger forgets them */
    stage__call_t *c;
    while ((c = stage__calls_take(&n->calls,
                                  n->calls.head ? n->calls.head->id : 0))) {
        simcall_t *sc = (simcall_t *)c;
        calls_made[sc->idx].endings = 1;
        calls_made[sc->idx].status = 1; /* gone with its caller */
        free(sc);
    }
    stage__calls_close(&n->calls);
    stage__hold_close(&n->hold);
    stage__names_close(&n->names);
    stage_dht_destroy(&n->dht);
    n->alive = false;
    n->claimed = false;
    /* every other node finds out, after what it was to get from it */
    uint64_t all = 0;
    for (int d = 0; d < NODES; d++) {
        if (d == s) continue;
        uint64_t when = now + DETECT_MIN + rnd(DETECT_MAX - DETECT_MIN);
        if (when <= pair_cut[s][d]) when = pair_cut[s][d] + 1;
        at(when, EV_DETECT, d, s, 0, inc);
        if (when > all) all = when;
    }
    all_know[s][inc] = all;
    (void)latest;
    at(all + 200 + rnd(2000), EV_RESTART, s, -1, 0, 0);
}

static int live_other(int not ) {
    int c[NODES], k = 0;
    for (int i = 0; i < NODES; i++)
        if (i != not &&nodes[i].alive) c[k++] = i;
    return k ? c[rnd((uint64_t)k)] : -1;
}

static void work(node_t *n) {
    int t = (int)rnd(NODES);
    if (t != n->slot) {
        if (rnd(3) == 0 || !n->have_seen[t])
            lookup(n, t, false);
        else
            make_call(n, t);
    }
    at(now + 20 + rnd(80), EV_WORK, n->slot, -1, n->inc, 0);
}

/* ---- leaving (node/holdings.c, as net/holdings.c drives it) --------------
 */

/* n leaves the ring now: its goodbye goes to every node, behind what it
** sent them; it stops a moment later. */
static void leave_ring(node_t *n) {
    size_t unconfirmed;
    if (!stage__hold_ring_left(&n->hold, &unconfirmed)) return;
    bool alone = live_other(n->slot) < 0;
    if (!alone && unconfirmed)
        die("node %d left with %zu removals unconfirmed", n->slot, unconfirmed);
    trace("%d (inc %u) leaves the ring", n->slot, n->inc);
    if (stage_dht_leave(n->dht, now) == 0) drain(n);
    uint64_t all = now;
    for (int d = 0; d < NODES; d++) {
        if (d == n->slot || !nodes[d].alive) continue;
        uint64_t when = now + 1 + rnd(LAT_MAX);
        if (when < pair_last[n->slot][d]) when = pair_last[n->slot][d];
        pair_last[n->slot][d] = when;
        at(when, EV_BYE, d, n->slot, 0, n->inc);
        at(when + DISAPPEAR_MS + 1 + rnd(200), EV_GONE_CHECK, d, n->slot, 0, 0);
        if (when > all) all = when;
    }
    all_know[n->slot][n->inc] = all;
    at(now + 100, EV_STOP, n->slot, -1, n->inc, 0);
}

static void leave(node_t *n) {
    CHECK(n->alive);
    trace("%d (inc %u) leaves", n->slot, n->inc);
    int r = stage__hold_leave(&n->hold, now);
    drain(n);
    if (r == STAGE__HOLD_LEAVE_NOW)
        leave_ring(n);
    else if (r == STAGE__HOLD_LEAVE_WAIT)
        at(n->hold.leave_by, EV_LEAVE_RING, n->slot, -1, n->inc, 0);
    else
        die("node %d was leaving already", n->slot);
}

/* n looks up the name of slot s, which left: the DHT must not have it. */
static void gone_check(node_t *n, int s) {
    char name[32];
    name_of(s, name, sizeof name);
    req_t *r = req_new(n, 3, s);
    if (stage_dht_name_find(n->dht, now, r->id, name)) n->nreqs--;
    drain(n);
}

static bool chaos_ok(void) {
    for (int i = 0; i < NODES; i++)
        if (!nodes[i].alive || !nodes[i].claimed) return false;
    return now < CHAOS_MS;
}

static void step(ev_t e) {
    now = e.at;
    node_t *n = e.node >= 0 ? &nodes[e.node] : NULL;
    switch (e.type) {
    case EV_DELIVER:
        deliver(n, e.peer, e.f);
        free(e.f);
        break;
    case EV_DHT_TIMER:
        if (!n->alive || n->inc != e.inc || n->dht_armed != e.at) break;
        n->dht_armed = UINT64_MAX;
        stage_dht_tick(n->dht, now);
        drain(n);
        break;
    case EV_CALLS_TIMER:
        if (!n->alive || n->inc != e.inc || n->calls_armed != e.at) break;
        n->calls_armed = UINT64_MAX;
        stage__calls_tick(&n->calls, now);
        calls_arm(n);
        break;
    case EV_WORK:
        if (n->alive && n->inc == e.inc && now < LEAVES_AT) work(n);
        break;
    case EV_LEAVE:
        leave(n);
        break;
    case EV_LEAVE_RING:
        if (n->alive && n->inc == e.inc) leave_ring(n);
        break;
    case EV_BYE:
        if (n->alive)
            session_ended(n, e.peer, (uint32_t)e.arg, STAGE_ECANCELED);
        break;
    case EV_STOP:
        if (n->alive && n->inc == e.inc) stop_node(n);
        break;
    case EV_GONE_CHECK:
        if (n->alive) gone_check(n, e.peer);
        break;
    case EV_DETECT:
        if (n->alive)
            session_ended(n, e.peer, (uint32_t)e.arg, STAGE_ENODE_DOWN);
        break;
    case EV_CRASH:
        if (chaos_ok()) crash(&nodes[rnd(NODES)]);
        if (now < CHAOS_MS) at(now + 3000 + rnd(5000), EV_CRASH, -1, -1, 0, 0);
        break;
    case EV_RESTART: {
        int via = live_other(e.node);
        CHECK(via >= 0);
        start_node(n, via);
        break;
    }
    case EV_REPLY:
        if (!n->alive || n->inc != e.inc) break;
        /* as netnode.c: not to a later run of the caller, whose calls
        ** count from 1 again */
        if (n->bound[e.peer] != e.caller_inc)
            stat_dropped++;
        else
            send_reply(n, e.peer, e.arg, e.idx);
        break;
    case EV_CLAIM:
        if (n->alive && n->inc == e.inc && !n->claimed) claim_name(n);
        break;
    case EV_FINAL:
        for (int i = 0; i < NODES; i++)
            for (int j = 0; j < NODES; j++)
                if (i != j) lookup(&nodes[i], j, true);
        break;
    }
}

static void run(void) {
    now = 0;
    ncalls = 0;
    nheap = 0;
    evseq = 0;
    memset(all_know, 0, sizeof all_know);
    memset(died_at, 0, sizeof died_at);
    memset(managers, 0, sizeof managers);
    incs = 0;
    memset(pair_last, 0, sizeof pair_last);
    memset(pair_cut, 0, sizeof pair_cut);
    memset(gone_confirmed, 0, sizeof gone_confirmed);
    for (int i = 0; i < NODES; i++) {
        memset(&nodes[i], 0, sizeof nodes[i]);
        nodes[i].slot = i;
        snprintf(nodes[i].addr, sizeof nodes[i].addr, "10.0.0.%d:7400", i + 1);
    }
    for (int i = 0; i < NODES; i++) {
        now = (uint64_t)i * 50;
        start_node(&nodes[i], i ? 0 : -1);
    }
    at(5000, EV_CRASH, -1, -1, 0, 0);
    at(CHAOS_MS + QUIET_MS, EV_FINAL, -1, -1, 0, 0);
    for (int i = 0; i < NODES; i++)
        at(LEAVES_AT + (uint64_t)i * LEAVE_GAP, EV_LEAVE, i, -1, 0, 0);
    uint64_t end = LEAVES_AT + NODES * LEAVE_GAP;
    while (nheap && heap[0].at <= end) {
        ev_t e = pop();
        step(e);
        /* names appear: an actor living APPEAR_MS past its claim was found
        ** by another node meanwhile */
        for (int i = 0; i < NODES; i++) {
            node_t *x = &nodes[i];
            if (x->alive && x->claimed && !x->found_by_other &&
                now > x->claimed_at + APPEAR_MS)
                die("nobody found 'svc-%d' (incarnation %u) within %d ms of "
                    "its claim",
                    i, x->inc, APPEAR_MS);
        }
    }
    for (int i = 0; i < NODES; i++)
        if (nodes[i].alive) stop_node(&nodes[i]);
    while (nheap) {
        ev_t e = pop();
        free(e.f);
    }
    /* names disappear: each node that left with others still there was
    ** looked up afterwards, and not found */
    for (int i = 0; i < NODES - 1; i++)
        if (!gone_confirmed[i])
            die("'svc-%d' was not confirmed gone after its node left", i);
    /* never neither: every call ended */
    for (size_t i = 0; i < ncalls; i++)
        if (calls_made[i].endings != 1)
            die("call %zu (%d -> %d at %" PRIu64 ") ended %d times", i,
                calls_made[i].caller, calls_made[i].target, calls_made[i].sent,
                calls_made[i].endings);
}

int main(int argc, char **argv) {
    uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 60;
    tracing = getenv("NODE_SIM_TRACE") != NULL;
    for (seed = first; seed < first + count; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull + 1;
        run();
    }
    printf("node_sim: %" PRIu64 " seeds: %" PRIu64 " replies, %" PRIu64
           " timeouts, %" PRIu64 " node down, %" PRIu64
           " actor not found, %" PRIu64 " stopped, %" PRIu64
           " late replies ignored, %" PRIu64
           " replies to an ended run dropped; %" PRIu64 " lookups, %" PRIu64
           " found\n",
           count, stat_ok, stat_timeout, stat_down, stat_notfound, stat_stopped,
           stat_late, stat_dropped, stat_lookups, stat_found);
    return 0;
}
