/*
** tests/sim/migrate_sim.c: the migration protocol (src/node/migrate.c and
** route.c) driven over a simulated system, one seed at a time: nodes of
** several theatres (places), a FIFO channel between every two places
** (intra-node inboxes are fast, sessions between nodes slower and
** jittery), a migrations store that answers late and lags writes, and a
** failure detector whose verdict reaches each place at its own time.
**
** Actors move at random between any two places, often straight back; a
** sender on every place sends numbered one-way messages and calls to every
** actor through old and new addresses; actors make calls of their own to an
** echo whose reply comes back to the place the call was made from, after
** they may have moved on. Some seeds kill nodes mid-run, mid-move included.
**
** Checked for every seed:
**   - no message delivered twice; each sender's messages to an actor are
**     delivered in the order sent (no overtaking, across any moves);
**   - an actor is resident at most at one place at any time, and at the end
**     at exactly one living place or lost (its place died) — never moving;
**   - a message reported failed was never delivered; a message neither
**     delivered nor reported was last held by a place that died; with no
**     death in the seed, every message is delivered and every call replied;
**   - every call completes (reply or typed error); a reply answers the one
**     delivery of its call; the actors' own calls are answered after moves;
**   - after the chaos, one probe from every living place to every actor is
**     delivered (a live actor: the race of thesis 5.3.1 ends) or fails with
**     a typed error (a lost one);
**   - the store names each living actor's current address (registrations
**     follow), every forwarding entry and alias has retired, and every
**     route that still places its actor was forgotten once idle.
**
**   migrate_sim [FIRST_SEED [COUNT]]     (default 1 300)
** A failure prints the seed; `migrate_sim SEED 1` replays it exactly;
** MIGRATE_SIM_TRACE=1 prints every event.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/migrate.h"
#include "stage/errors.h"

#define SIM_NAME "migrate_sim"
#include "sim_util.h"

#define MAXN 4
#define MAXT 3
#define MAXP (MAXN * MAXT)
#define MAXA 8
#define CHAOS 3000 /* ms of moves, sends and deaths */
#define PROBE 6000 /* the probes go then */
#define HORIZON 90000
#define GRACE 150

/* ---- the world ------------------------------------------------------- */

static int nnodes, nthe, nplaces, nactors;
static bool node_dead[MAXN];
static bool knows_dead[MAXP][MAXN]; /* place learned that node died */
static stage_mig_t *mig[MAXP];
static uint64_t serials[MAXP];
static uint64_t last_at[MAXP][MAXP]; /* FIFO per channel */
static uint64_t timer_at[MAXP];
static bool deaths; /* the seed killed a node */

static int node_of(int p) {
    return p / nthe;
}

static bool place_dead(int p) {
    return node_dead[node_of(p)];
}

/* ---- the ledger -------------------------------------------------------- */

enum { M_SENDER = 1, M_OWN, M_PROBE, M_ACTOR };

typedef struct msg {
    int kind;     /* M_SENDER, M_OWN (an actor's own reply), M_PROBE,
                  ** M_ACTOR (sent by an actor, which moves) */
    int sender;   /* the place it was sent from */
    int origin;   /* who: a place, or MAXP + an actor */
    int actor;    /* target */
    uint64_t seq; /* per (sender, actor) */
    bool call;
    int delivered; /* times */
    bool failed;   /* reported failed to its sender */
    int where;     /* last place that held it */
    int future;    /* 0 pending, 1 replied, 2 failed (calls) */
    int call_at;   /* the place the call is believed at */
    int call_hops; /* ... as told by a notice of that many hops */
    int call_from; /* on its way from there (-1: at rest at call_at) */
    uint64_t sent; /* when */
} msg_t;

static msg_t *ledger;
static size_t nmsgs, capmsgs;
static uint64_t seqs[MAXP + MAXA][MAXA], last_seq[MAXP + MAXA][MAXA];

typedef enum { A_RESIDENT = 1, A_MOVING, A_LOST } astate_t;

typedef struct actor {
    stage_mig_addr_t birth, addr; /* addr: current (RESIDENT) */
    astate_t state;
    int src, dst;   /* MOVING */
    int prev;       /* the place before, to go back to */
    bool committed; /* MOVING: the source gave it up */
    bool tried;     /* it began a move once: its place has an entry */
    uint32_t epoch;
    stage_mig_addr_t addrs[4096]; /* every address it had */
    int naddrs;
    stage_mig_item_t *mbox;
    size_t nbox, capbox;
    bool turn_planned;
} actor_t;

static actor_t actors[MAXA];
static struct {
    stage_mig_addr_t addr;
    uint32_t epoch;
} store[MAXA];

static uint64_t st_excused, st_actor_msgs, st_maxlat, st_moves, st_restored,
    st_lost_actors, st_delivered, st_failed, st_died_with, st_fate_unknown,
    st_own, st_maxhops, st_probes;

static int actor_of_birth(stage_mig_addr_t b) {
    for (int i = 0; i < nactors; i++)
        if (stage_mig_addr_eq(actors[i].birth, b)) return i;
    die("no actor born at %u/%" PRIu64, b.place, b.key);
    return -1;
}

static size_t new_msg(int kind, int sender, int origin, int actor, bool call) {
    if (nmsgs == capmsgs) {
        capmsgs = capmsgs ? capmsgs * 2 : 1024;
        ledger = realloc(ledger, capmsgs * sizeof *ledger);
    }
    msg_t *m = &ledger[nmsgs];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->sender = sender;
    m->origin = origin;
    m->actor = actor;
    m->seq = ++seqs[origin][actor];
    m->call = call;
    m->where = sender;
    m->call_at = m->call_from = -1;
    m->sent = now;
    return nmsgs++;
}

/* ---- events ------------------------------------------------------------ */

enum {
    EV_NONE,
    EV_FRAME,   /* a: src, b: dst */
    EV_REPLY,   /* a: actor's place, b: sender place, x: msg */
    EV_ECHO,    /* a: origin place, x: msg (an actor's own call returns) */
    EV_TURN,    /* a: actor */
    EV_MOVE,    /* a: actor */
    EV_SEND,    /* a: place */
    EV_KILL,    /* a: node */
    EV_LEARN,   /* a: place, b: node */
    EV_TIMER,   /* a: place */
    EV_RESOLVE, /* a: place, b: actor */
    EV_STORE,   /* a: actor, x: epoch; addr */
    EV_PROBE,
};

typedef struct ev {
    uint64_t at, seq;
    int type, a, b;
    uint64_t x;
    stage_mig_addr_t addr;
    stage_mig_frame_t f;
} ev_t;

#include "evheap.h" /* heap, push, pop */

static uint64_t latency(int s, int d) {
    if (node_of(s) == node_of(d)) return rnd(2);
    return 1 + rnd(rnd(4) ? 6 : 25);
}

/* A FIFO channel s -> d: an item of it never overtakes an earlier one. */
static void channel(int s, int d, ev_t e) {
    uint64_t at = now + latency(s, d);
    if (at < last_at[s][d]) at = last_at[s][d];
    last_at[s][d] = at;
    e.at = at;
    e.a = s;
    e.b = d;
    push(e);
}

/* Frames sent to a dead place wait here until their sender learns. */
static ev_t *limbo;
static size_t nlimbo, caplimbo;

/* ---- driving a place ------------------------------------------------------
 */

static void effects(int p);

static void schedule_timer(int p) {
    uint64_t t = stage_mig_next_timer(mig[p]);
    if (t == UINT64_MAX) return;
    if (t < now) t = now;
    if (timer_at[p] && timer_at[p] <= t) return;
    timer_at[p] = t;
    push((ev_t){.at = t, .type = EV_TIMER, .a = p});
}

static uint64_t new_key(void *ud) {
    int p = (int)(intptr_t)ud;
    return ++serials[p];
}

static bool native(void *ud, uint64_t key) {
    int p = (int)(intptr_t)ud;
    for (int i = 0; i < nactors; i++)
        if (actors[i].state == A_RESIDENT &&
            actors[i].addr.place == (uint32_t)p && actors[i].addr.key == key &&
            actors[i].epoch == 0)
            return true;
    return false;
}

static void plan_turn(int a) {
    if (actors[a].turn_planned) return;
    actors[a].turn_planned = true;
    push((ev_t){.at = now + rnd(3), .type = EV_TURN, .a = a});
}

static void mbox_push(actor_t *ac, const stage_mig_item_t *it) {
    if (ac->nbox == ac->capbox) {
        ac->capbox = ac->capbox ? ac->capbox * 2 : 16;
        ac->mbox = realloc(ac->mbox, ac->capbox * sizeof *ac->mbox);
    }
    ac->mbox[ac->nbox++] = *it;
}

static void fail_call(size_t id, const char *why) {
    msg_t *m = &ledger[id];
    if (!m->call || m->future) return;
    m->future = 2;
    trace("call %zu fails: %s", id, why);
}

static void on_deliver(int p, const stage_mig_fx_t *fx) {
    int a = actor_of_birth(fx->item.birth);
    actor_t *ac = &actors[a];
    CHECK(ac->state == A_RESIDENT && ac->addr.place == (uint32_t)p &&
          ac->addr.key == fx->key);
    ledger[fx->item.handle].where = p;
    if (fx->item.hops > st_maxhops) st_maxhops = fx->item.hops;
    mbox_push(ac, &fx->item);
    plan_turn(a);
}

static void took_items(int p, const stage_mig_item_t *items, size_t n,
                       actor_t *ac) {
    ac->nbox = 0;
    for (size_t i = 0; i < n; i++) {
        ledger[items[i].handle].where = p;
        mbox_push(ac, &items[i]);
    }
}

static void on_arrived(int p, const stage_mig_fx_t *fx) {
    int a = actor_of_birth(fx->birth);
    actor_t *ac = &actors[a];
    CHECK(ac->state == A_MOVING && ac->dst == p);
    CHECK(fx->epoch == ac->epoch + 1);
    trace("actor %d arrives at %d as %" PRIu64 " (epoch %u)", a, p, fx->key,
          fx->epoch);
    ac->state = A_RESIDENT;
    ac->prev = ac->src;
    ac->addr = fx->addr;
    ac->epoch = fx->epoch;
    ac->addrs[ac->naddrs++] = fx->addr;
    took_items(p, fx->items, fx->nitems, ac);
    /* the store (migrations, names, types) is written by the new place */
    push((ev_t){.at = now + 1 + rnd(20),
                .type = EV_STORE,
                .a = a,
                .x = fx->epoch,
                .addr = fx->addr});
    if (ac->nbox) plan_turn(a);
}

static void on_restored(int p, const stage_mig_fx_t *fx) {
    int a = actor_of_birth(fx->birth);
    actor_t *ac = &actors[a];
    CHECK(ac->state == A_MOVING && ac->src == p);
    CHECK(stage_mig_addr_eq(fx->addr, ac->addr));
    trace("actor %d restored at %d", a, p);
    st_restored++;
    ac->state = A_RESIDENT;
    took_items(p, fx->items, fx->nitems, ac);
    if (ac->nbox) plan_turn(a);
}

static void on_send_fx(int p, const stage_mig_fx_t *fx) {
    const stage_mig_frame_t *f = &fx->frame;
    int d = (int)fx->place;
    CHECK(!knows_dead[p][node_of(d)]); /* nothing goes to a known death */
    if (f->kind == STAGE_MIG_F_ITEM && f->item.kind == STAGE_MIG_MSG &&
        f->item.hops == 0 && f->item.sender == (uint32_t)p && f->item.call)
        ledger[f->item.handle].call_at = d;
    channel(p, d, (ev_t){.type = EV_FRAME, .f = *f});
}

static void on_fail(int p, const stage_mig_fx_t *fx) {
    msg_t *m = &ledger[fx->item.handle];
    CHECK(m->sender == p);
    CHECK(m->delivered == 0);
    CHECK(fx->err == STAGE_ENODE_DOWN || fx->err == STAGE_EACTOR_NOT_FOUND);
    CHECK(deaths); /* nothing fails in a seed without deaths */
    m->failed = true;
    m->where = p;
    fail_call(fx->item.handle, "reported failed");
}

static void effects(int p) {
    size_t n;
    const stage_mig_fx_t *fx0 = stage_mig_effects(mig[p], &n);
    /* copy: handling one may call into the machine again */
    stage_mig_fx_t *fx = malloc((n ? n : 1) * sizeof *fx);
    memcpy(fx, fx0, n * sizeof *fx);
    stage_mig_item_t **items = calloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        if (!fx[i].nitems) continue;
        items[i] = malloc(fx[i].nitems * sizeof **items);
        memcpy(items[i], fx[i].items, fx[i].nitems * sizeof **items);
        fx[i].items = items[i];
    }
    for (size_t i = 0; i < n; i++) {
        switch (fx[i].kind) {
        case STAGE_MIG_FX_SEND:
            on_send_fx(p, &fx[i]);
            break;
        case STAGE_MIG_FX_DELIVER:
            on_deliver(p, &fx[i]);
            break;
        case STAGE_MIG_FX_ARRIVED:
            on_arrived(p, &fx[i]);
            break;
        case STAGE_MIG_FX_RESTORED:
            on_restored(p, &fx[i]);
            break;
        case STAGE_MIG_FX_DEPARTED: {
            actor_t *ac = &actors[actor_of_birth(fx[i].birth)];
            CHECK(ac->state == A_MOVING && ac->src == p);
            ac->committed = true;
            if (place_dead(ac->dst)) { /* committed to a dead place */
                ac->state = A_LOST;
                st_lost_actors++;
            }
            break;
        }
        case STAGE_MIG_FX_RESOLVE:
            push((ev_t){.at = now + 1 + rnd(10),
                        .type = EV_RESOLVE,
                        .a = p,
                        .b = actor_of_birth(fx[i].birth)});
            break;
        case STAGE_MIG_FX_FAIL:
            on_fail(p, &fx[i]);
            break;
        case STAGE_MIG_FX_CALL_AT: {
            msg_t *m = &ledger[fx[i].item.handle];
            bool arrival = fx[i].from == fx[i].place;
            if (fx[i].item.hops < m->call_hops ||
                (fx[i].item.hops == m->call_hops &&
                 (m->call_from < 0 || !arrival)))
                break; /* older news */
            m->call_hops = fx[i].item.hops;
            m->call_at = (int)fx[i].place;
            m->call_from = arrival ? -1 : (int)fx[i].from;
            if (knows_dead[p][node_of(m->call_at)] ||
                (m->call_from >= 0 && knows_dead[p][node_of(m->call_from)]))
                fail_call(fx[i].item.handle, "on a dead place's way");
            break;
        }
        default:
            die("unknown effect %d", fx[i].kind);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    free(fx);
    schedule_timer(p);
}

/* ---- what happens ------------------------------------------------------ */

static void item_seen(int p, const stage_mig_frame_t *f) {
    if (f->kind == STAGE_MIG_F_MOVE) {
        for (size_t i = 0; i < f->actor->nmsgs; i++)
            ledger[f->actor->msgs[i].handle].where = p;
        return;
    }
    if ((f->kind == STAGE_MIG_F_ITEM || f->kind == STAGE_MIG_F_BOUNCE ||
         f->kind == STAGE_MIG_F_FAILED) &&
        f->item.kind == STAGE_MIG_MSG)
        ledger[f->item.handle].where = p;
}

static void ev_frame(ev_t *e) {
    int s = e->a, d = e->b;
    if (place_dead(d)) { /* its sender learns later: given back then */
        if (nlimbo == caplimbo) {
            caplimbo = caplimbo ? caplimbo * 2 : 64;
            limbo = realloc(limbo, caplimbo * sizeof *limbo);
        }
        limbo[nlimbo++] = *e;
        return;
    }
    if (knows_dead[d][node_of(s)]) { /* its session is over */
        stage_mig_frame_clear(&e->f);
        return;
    }
    item_seen(d, &e->f);
    static const char *kinds[] = {
        "?",      "ITEM",   "MOVE", "READY",   "COMMIT", "RETIRE", "FLUSHED",
        "BOUNCE", "FAILED", "HINT", "CALL_AT", "DRAIN",  "DRAINED"};
    trace("frame %d -> %d %s to %u/%" PRIu64 " at %u/%" PRIu64
          " item %s %" PRIu64 " hops %u after %u/%" PRIu64 " for %u/%" PRIu64,
          s, d, kinds[e->f.kind], e->f.to.place, e->f.to.key, e->f.at.place,
          e->f.at.key,
          e->f.item.kind == STAGE_MIG_FLUSH   ? "flush"
          : e->f.item.kind == STAGE_MIG_TOKEN ? "token"
                                              : "msg",
          e->f.item.handle, e->f.item.hops, e->f.item.after.place,
          e->f.item.after.key, e->f.item.birth.place, e->f.item.birth.key);
    stage_mig_recv(mig[d], now, (uint32_t)s, &e->f);
    effects(d);
}

static void ev_turn(int a) {
    actor_t *ac = &actors[a];
    ac->turn_planned = false;
    if (ac->state != A_RESIDENT || !ac->nbox || place_dead((int)ac->addr.place))
        return;
    stage_mig_item_t it = ac->mbox[0];
    memmove(ac->mbox, ac->mbox + 1, --ac->nbox * sizeof *ac->mbox);
    msg_t *m = &ledger[it.handle];
    CHECK(m->actor == a);
    CHECK(m->delivered == 0); /* never twice */
    CHECK(!m->failed);
    if (m->seq <= last_seq[m->origin][a]) { /* each sender's order */
        /* the one exception: an actor's message from a place it left that
        ** died before the drain behind it came back */
        if (m->kind != M_ACTOR || !place_dead(m->sender))
            die("actor %d got msg %" PRIu64 " (from %d #%" PRIu64
                ") after #%" PRIu64,
                a, it.handle, m->origin, m->seq, last_seq[m->origin][a]);
        st_excused++;
    } else {
        last_seq[m->origin][a] = m->seq;
    }
    m->delivered++;
    st_delivered++;
    if (now - m->sent > st_maxlat) st_maxlat = now - m->sent;
    int p = (int)ac->addr.place;
    trace("actor %d at %d runs msg %" PRIu64 " (from %d #%" PRIu64 ")", a, p,
          it.handle, m->sender, m->seq);
    if (m->call)
        channel(p, m->sender, (ev_t){.type = EV_REPLY, .x = it.handle});
    /* sometimes the actor calls an echo: the reply comes back to this
    ** place, through this address, maybe after the actor moved on */
    if (m->kind != M_PROBE && now < CHAOS && !rnd(6))
        push((ev_t){.at = now + 1 + rnd(2 * GRACE),
                    .type = EV_ECHO,
                    .a = p,
                    .b = a,
                    .addr = ac->addr});
    /* and sometimes sends to another actor: a sender that moves */
    if (m->kind != M_PROBE && now < CHAOS && rnd(3) == 0 && nactors > 1) {
        int b = (int)rnd((uint64_t)nactors - 1);
        if (b >= a) b++;
        actor_t *tb = &actors[b];
        size_t id = new_msg(M_ACTOR, p, MAXP + a, b, false);
        stage_mig_item_t out = {.kind = STAGE_MIG_MSG,
                                .sender = (uint32_t)p,
                                .skey = ac->addr.key,
                                .handle = id,
                                .birth = tb->birth};
        stage_mig_addr_t via = rnd(2) ? tb->birth : tb->addrs[rnd(tb->naddrs)];
        st_actor_msgs++;
        trace("actor %d at %d sends msg %zu #%" PRIu64 " to actor %d", a, p, id,
              ledger[id].seq, b);
        stage_mig_send(mig[p], now, &out, via);
        effects(p);
    }
    if (ac->nbox) plan_turn(a);
}

static void send_from(int p, int a, stage_mig_addr_t via, int kind, bool call) {
    size_t id = new_msg(kind, p, p, a, call);
    stage_mig_item_t it = {.kind = STAGE_MIG_MSG,
                           .call = call,
                           .sender = (uint32_t)p,
                           .handle = id,
                           .birth = actors[a].birth};
    trace("place %d sends msg %zu #%" PRIu64 " to actor %d via %u/%" PRIu64, p,
          id, ledger[id].seq, a, via.place, via.key);
    stage_mig_send(mig[p], now, &it, via);
    effects(p);
}

static void ev_send(int p) {
    if (now >= CHAOS || place_dead(p)) return;
    int a = (int)rnd((uint64_t)nactors);
    actor_t *ac = &actors[a];
    /* through an old or a new address, as the sender happens to hold */
    stage_mig_addr_t via = rnd(2) ? ac->birth : ac->addrs[rnd(ac->naddrs)];
    send_from(p, a, via, M_SENDER, rnd(10) < 3);
    push((ev_t){.at = now + 1 + rnd(6), .type = EV_SEND, .a = p});
}

static void ev_move(int a) {
    actor_t *ac = &actors[a];
    if (now >= CHAOS || ac->state == A_LOST) return;
    uint64_t again = now + 1 + rnd(rnd(3) ? 8 : 60);
    if (ac->state == A_RESIDENT && !place_dead((int)ac->addr.place)) {
        int s = (int)ac->addr.place, d;
        if (rnd(3) == 0 && ac->naddrs > 1)
            d = ac->prev; /* straight back */
        else
            d = (int)rnd((uint64_t)nplaces);
        if (d != s && !knows_dead[s][node_of(d)]) {
            int rc = stage_mig_depart(mig[s], now, ac->addr.key, (uint32_t)d,
                                      ac->mbox, ac->nbox, 0);
            CHECK(rc == 0);
            trace("actor %d departs %d for %d with %zu queued", a, s, d,
                  ac->nbox);
            st_moves++;
            ac->state = A_MOVING;
            ac->committed = false;
            ac->tried = true;
            ac->src = s;
            ac->dst = d;
            ac->nbox = 0;
            effects(s);
        }
    }
    push((ev_t){.at = again, .type = EV_MOVE, .a = a});
}

static void ev_kill(int n) {
    int alive = 0;
    for (int i = 0; i < nnodes; i++)
        alive += !node_dead[i];
    if (alive <= 1 || node_dead[n]) return;
    trace("node %d dies", n);
    node_dead[n] = deaths = true;
    for (int a = 0; a < nactors; a++) {
        actor_t *ac = &actors[a];
        bool gone =
            ac->state == A_RESIDENT && node_of((int)ac->addr.place) == n;
        /* a move whose destination died after the commit, or whose both
        ** ends died, loses the actor */
        if (ac->state == A_MOVING && place_dead(ac->dst) &&
            (ac->committed || place_dead(ac->src)))
            gone = true;
        if (gone) {
            ac->state = A_LOST;
            st_lost_actors++;
        }
    }
    for (int p = 0; p < nplaces; p++)
        if (!place_dead(p))
            push((ev_t){
                .at = now + 5 + rnd(60), .type = EV_LEARN, .a = p, .b = n});
}

static int cmp_seq(const void *x, const void *y) {
    const ev_t *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Place p learns node n died: its sessions with n's places end. */
static void ev_learn(int p, int n) {
    if (place_dead(p) || knows_dead[p][n]) return;
    knows_dead[p][n] = true;
    trace("place %d learns node %d died", p, n);
    uint32_t qs[MAXT];
    size_t nq = 0;
    for (int q = 0; q < nplaces; q++)
        if (node_of(q) == n) qs[nq++] = (uint32_t)q;
    stage_mig_dead(mig[p], now, qs, nq);
    effects(p);
    /* frames from p to n not taken there come back, oldest first; frames
    ** from n to p not yet read are refused */
    ev_t *back = NULL;
    size_t nback = 0;
    for (int pass = 0; pass < 2; pass++) {
        ev_t *v = pass ? limbo : heap;
        size_t cnt = pass ? nlimbo : nheap;
        for (size_t i = 0; i < cnt; i++) {
            ev_t *e = &v[i];
            if (e->type != EV_FRAME && e->type != EV_REPLY) continue;
            if (e->a == p && node_of(e->b) == n) {
                if (e->type == EV_FRAME) {
                    back = realloc(back, (nback + 1) * sizeof *back);
                    back[nback++] = *e;
                }
                e->type = EV_NONE;
            } else if (node_of(e->a) == n && e->b == p) {
                if (e->type == EV_FRAME && e->f.kind == STAGE_MIG_F_MOVE) {
                    /* the actor left a place that died, and never came */
                    actor_t *ac = &actors[actor_of_birth(e->f.actor->birth)];
                    CHECK(ac->state == A_MOVING);
                    ac->state = A_LOST;
                    st_lost_actors++;
                }
                if (e->type == EV_FRAME) stage_mig_frame_clear(&e->f);
                e->type = EV_NONE;
            }
        }
    }
    if (nback) qsort(back, nback, sizeof *back, cmp_seq);
    for (size_t i = 0; i < nback; i++) {
        stage_mig_undelivered(mig[p], now, (uint32_t)back[i].b, &back[i].f);
        effects(p);
    }
    free(back);
    /* calls believed at a place of n fail (typed NodeDown) */
    for (size_t i = 0; i < nmsgs; i++)
        if (ledger[i].sender == p && ledger[i].call && !ledger[i].future &&
            ledger[i].call_at >= 0 &&
            (node_of(ledger[i].call_at) == n ||
             (ledger[i].call_from >= 0 && node_of(ledger[i].call_from) == n)))
            fail_call(i, "its place died");
}

static void ev_resolve(int p, int a) {
    if (place_dead(p)) return;
    stage_mig_resolved(mig[p], now, actors[a].birth, store[a].addr);
    effects(p);
}

static void ev_reply(ev_t *e) {
    int s = e->b;
    if (place_dead(s)) return;
    msg_t *m = &ledger[e->x];
    CHECK(m->delivered == 1);
    if (m->future == 0)
        m->future = 1;
    else
        st_fate_unknown++; /* failed first (a death), answered after all */
}

static void ev_echo(ev_t *e) {
    int p = e->a;
    if (place_dead(p)) return;
    st_own++;
    send_from(p, e->b, e->addr, M_OWN, false);
}

static void ev_probe(void) {
    for (int p = 0; p < nplaces; p++) {
        if (place_dead(p)) continue;
        for (int a = 0; a < nactors; a++) {
            st_probes++;
            send_from(p, a, actors[a].birth, M_PROBE, true);
        }
    }
}

/* ---- one seed --------------------------------------------------------------
 */

static void setup(void) {
    nnodes = 2 + (int)rnd(MAXN - 1);
    nthe = 1 + (int)rnd(MAXT);
    nplaces = nnodes * nthe;
    nactors = 2 + (int)rnd(MAXA - 1);
    for (int p = 0; p < nplaces; p++) {
        stage_mig_config_t cfg;
        stage_mig_config_init(&cfg);
        cfg.place = (uint32_t)p;
        cfg.grace_ms = GRACE / 2 + rnd(GRACE);
        cfg.resolve_retry_ms = 20;
        cfg.resolve_tries = 10;
        cfg.route_idle_ms = 50 + rnd(500);
        cfg.new_key = new_key;
        cfg.native = native;
        cfg.ud = (void *)(intptr_t)p;
        mig[p] = stage_mig_new(&cfg);
        CHECK(mig[p]);
        push((ev_t){.at = rnd(5), .type = EV_SEND, .a = p});
    }
    for (int a = 0; a < nactors; a++) {
        actor_t *ac = &actors[a];
        int p = (int)rnd((uint64_t)nplaces);
        ac->birth = ac->addr = (stage_mig_addr_t){(uint32_t)p, ++serials[p]};
        ac->state = A_RESIDENT;
        ac->prev = p;
        ac->addrs[ac->naddrs++] = ac->addr;
        store[a].addr = ac->addr;
        store[a].epoch = 0;
        push((ev_t){.at = 1 + rnd(20), .type = EV_MOVE, .a = a});
    }
    /* half the seeds kill up to nnodes - 1 nodes during the chaos */
    if (rnd(2))
        for (int k = 0, n = 1 + (int)rnd((uint64_t)nnodes - 1); k < n; k++)
            push((ev_t){.at = 100 + rnd(CHAOS - 200),
                        .type = EV_KILL,
                        .a = (int)rnd((uint64_t)nnodes)});
    push((ev_t){.at = PROBE, .type = EV_PROBE});
}

static void final_checks(void) {
    for (int a = 0; a < nactors; a++) {
        actor_t *ac = &actors[a];
        CHECK(ac->state != A_MOVING);
        if (ac->state == A_RESIDENT) {
            CHECK(!place_dead((int)ac->addr.place));
            CHECK(ac->nbox == 0);
            /* the store (and a name) names where it is */
            CHECK(stage_mig_addr_eq(store[a].addr, ac->addr));
        }
    }
    for (size_t i = 0; i < nmsgs; i++) {
        msg_t *m = &ledger[i];
        if (place_dead(m->sender)) continue;
        bool lost_actor = actors[m->actor].state == A_LOST;
        if (m->kind == M_PROBE) {
            /* the race ends: a probe reaches a live actor; a lost one is
            ** reported with a typed error */
            if (lost_actor)
                CHECK(m->delivered || m->failed);
            else
                CHECK(m->delivered == 1 && m->future == 1);
        }
        if (!m->delivered && !m->failed) {
            if (!deaths)
                die("message %zu (kind %d from %d #%" PRIu64
                    " to actor %d) neither delivered nor reported, last at "
                    "place %d",
                    i, m->kind, m->origin, m->seq, m->actor, m->where);
            if (!place_dead(m->where))
                die("message %zu (from %d #%" PRIu64 " to actor %d) vanished "
                    "at living place %d",
                    i, m->sender, m->seq, m->actor, m->where);
            st_died_with++;
        }
        if (m->failed) st_failed++;
        if (m->call) {
            if (m->future == 0)
                die("call %zu (from %d to actor %d) never completed", i,
                    m->sender, m->actor);
            if (!deaths) CHECK(m->future == 1);
        }
    }
    for (int p = 0; p < nplaces; p++) {
        if (place_dead(p)) continue;
        stage_mig_stats_t st;
        stage_mig_stats(mig[p], &st);
        CHECK(st.aliases == 0);      /* every old address retired */
        CHECK(st.routes == st.lost); /* idle routes forgotten */
        size_t resident = 0;
        for (int a = 0; a < nactors; a++)
            resident += actors[a].state == A_RESIDENT &&
                        actors[a].addr.place == (uint32_t)p && actors[a].tried;
        if (st.entries > resident)
            die("place %d keeps %zu entries for %zu moved residents", p,
                st.entries, resident);
    }
}

static uint64_t tot[12];

static void run_seed(uint64_t s) {
    seed = s;
    rng = s * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    if (!rng) rng = 1;
    now = 0;
    memset(node_dead, 0, sizeof node_dead);
    memset(knows_dead, 0, sizeof knows_dead);
    memset(serials, 0, sizeof serials);
    memset(last_at, 0, sizeof last_at);
    memset(timer_at, 0, sizeof timer_at);
    memset(seqs, 0, sizeof seqs);
    memset(last_seq, 0, sizeof last_seq);
    for (int a = 0; a < MAXA; a++) {
        free(actors[a].mbox);
        memset(&actors[a], 0, sizeof actors[a]);
    }
    nmsgs = nheap = nlimbo = 0;
    deaths = false;
    st_moves = st_restored = st_lost_actors = st_delivered = st_failed = 0;
    st_died_with = st_fate_unknown = st_own = st_maxhops = st_probes = 0;
    st_maxlat = st_excused = st_actor_msgs = 0;
    setup();
    while (nheap) {
        ev_t e = pop();
        now = e.at;
        if (now > HORIZON) die("still busy at the horizon (a livelock?)");
        switch (e.type) {
        case EV_FRAME:
            ev_frame(&e);
            break;
        case EV_REPLY:
            ev_reply(&e);
            break;
        case EV_ECHO:
            ev_echo(&e);
            break;
        case EV_TURN:
            ev_turn(e.a);
            break;
        case EV_MOVE:
            ev_move(e.a);
            break;
        case EV_SEND:
            ev_send(e.a);
            break;
        case EV_KILL:
            ev_kill(e.a);
            break;
        case EV_LEARN:
            ev_learn(e.a, e.b);
            break;
        case EV_RESOLVE:
            ev_resolve(e.a, e.b);
            break;
        case EV_PROBE:
            ev_probe();
            break;
        case EV_STORE:
            if (e.x > store[e.a].epoch) {
                store[e.a].epoch = (uint32_t)e.x;
                store[e.a].addr = e.addr;
            }
            break;
        case EV_TIMER:
            if (timer_at[e.a] != e.at || place_dead(e.a)) break;
            timer_at[e.a] = 0;
            stage_mig_tick(mig[e.a], now);
            effects(e.a);
            break;
        default:
            break;
        }
    }
    final_checks();
    stage_mig_stats_t sum = {0};
    for (int p = 0; p < nplaces; p++) {
        stage_mig_stats_t st;
        stage_mig_stats(mig[p], &st);
        sum.forwarded += st.forwarded;
        sum.bounced += st.bounced;
        sum.flushes += st.flushes;
        sum.resolves += st.resolves;
        stage_mig_destroy(&mig[p]);
    }
    for (size_t i = 0; i < nlimbo; i++)
        if (limbo[i].type == EV_FRAME) stage_mig_frame_clear(&limbo[i].f);
    uint64_t v[12] = {nmsgs,          st_delivered, st_moves,     st_restored,
                      st_lost_actors, st_failed,    st_died_with, sum.forwarded,
                      sum.bounced,    sum.flushes,  sum.resolves, st_own};
    for (int i = 0; i < 12; i++)
        tot[i] += v[i];
}

int main(int argc, char **argv) {
    uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 300;
    tracing = getenv("MIGRATE_SIM_TRACE") != NULL;
    uint64_t maxhops = 0, maxlat = 0, amsgs = 0, excused = 0;
    for (uint64_t s = first; s < first + count; s++) {
        run_seed(s);
        if (st_maxhops > maxhops) maxhops = st_maxhops;
        if (!deaths && st_maxlat > maxlat) maxlat = st_maxlat;
        amsgs += st_actor_msgs;
        excused += st_excused;
    }
    printf("migrate_sim: seeds %" PRIu64 "..%" PRIu64 " passed: %" PRIu64
           " messages (%" PRIu64 " from actors that move; %" PRIu64
           " delivered, %" PRIu64 " reported failed, %" PRIu64
           " died with their place), %" PRIu64 " moves (%" PRIu64
           " given back by a dead destination), %" PRIu64
           " actors lost with their place; %" PRIu64 " forwarded, %" PRIu64
           " bounced, %" PRIu64 " flushes, %" PRIu64 " store lookups, %" PRIu64
           " own replies after moves; most hops %" PRIu64
           ", slowest delivery in a seed without deaths %" PRIu64
           " ms; %" PRIu64 " delivered out of order after the death of a "
           "place their sender had left\n",
           first, first + count - 1, tot[0], amsgs, tot[1], tot[5], tot[6],
           tot[2], tot[3], tot[4], tot[7], tot[8], tot[9], tot[10], tot[11],
           maxhops, maxlat, excused);
    free(ledger);
    free(heap);
    free(limbo);
    return 0;
}
