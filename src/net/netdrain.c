/*
** net/netdrain.c: a `stage node` that gets SIGTERM while it has peers
** drains before it stops — its mobile actors move to the other nodes,
** chosen by the load their DHT host entries report (node/evacuate.h), it
** hands the homes of its actors that live elsewhere over to their nodes
** (core/move.c, ADOPT), and only then leaves (names, types, its DHT
** range, the goodbye). docs/migration.md "Draining a node".
**
** Phases, each started by the end of the one before:
**   LIST   every theatre lists its mobile actors; the hosts store is read
**   MOVE   the evacuation plan's moves, at most `inflight` at once, with
**          a progress line a second
**   HAND   rounds of ADOPT until every actor born here that lives on
**          another node is that node's own (and in the migrations store)
**   BOUNCE messages for its actors go back to their senders (below), who
**          send them where the store says (net/relocate.c), after what
**          this node forwarded for them: each sender's order holds
**   then the node stops as it would (stage_node_stop): names, types, its
**   DHT range, the goodbye (a frame that comes after it is not taken: its
**   sender gets it back from its session, and sends it on the same way).
** A second SIGTERM, or SIGINT, stops at once. Runs on the loop's owner.
*/
#include <stdio.h>
#include <string.h>

#include "core/move.h"
#include "netnode.h"
#include "node/evacuate.h"
#include "util/alloc.h"
#include "util/log.h"

#define DRAIN_HAND_RETRY_MS 20  /* a busy handover is asked again after */
#define DRAIN_HAND_WATCH_MS 100 /* the handovers' deadline is checked */
#define DRAIN_HAND_MAX_MS 10000 /* every handover answered, at most */
#define DRAIN_FLUSH_MAX_MS 5000 /* every frame acknowledged, at most */
#define DRAIN_POLL_MS 5         /* the flush's checks */
#define DRAIN_FETCHES 10        /* reads of the hosts store finding none */
#define DRAIN_FETCH_MS 500      /* ... apart */

enum { LIST = 1, MOVE, HAND, BARRIER, FLUSH, DONE };

struct stage__drain {
    stage__netnode_t *nn;
    int phase;
    uv_timer_t timer, limit; /* the phases' and the drain's deadline */
    bool timer_on;
    uint64_t start, phase_at;
    /* LIST */
    int listing; /* theatres yet to answer */
    stage_evac_t *evac;
    bool fetched; /* the hosts store answered */
    int fetches;  /* reads of it that found no node to take actors */
    /* HAND */
    int hand_theatres;      /* theatres yet to answer this round */
    size_t hand_busy;       /* ... busy in it */
    size_t hand_waiting;    /* ADOPTs and TOMBs not answered */
    size_t handed, refused; /* answers */
    size_t led, unled;      /* TOMBs' answers */
    /* BARRIER */
    int barrier; /* theatres yet to answer */
    /* BARRIER, FLUSH: the messages to bounce once they are over */
    struct bounced *held_head, *held_tail;
};

/* A drain's item on the loop (stage__drain_item): from a theatre or a
** completing thread. */
enum { DI_LISTED = 1, DI_MOVED, DI_HANDED_ROUND, DI_BARRIER, DI_LED };

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

static void push(stage__netnode_t *nn, int op, uint64_t key, int status,
                 void *args, size_t len) {
    stage__netnode_item_t *it = stage__calloc(1, sizeof *it);
    if (!it) {
        stage__free(args);
        LOG_ERROR("out of memory: the drain loses a step and may not end "
                  "(SIGTERM again stops the node)");
        return;
    }
    it->kind = ITEM_DRAIN;
    it->op = op;
    it->mon = key;
    it->theatre = status;
    it->args = args;
    it->len = len;
    stage__netnode_push(nn, it);
}

static void arm(stage__drain_t *d, uint64_t ms);
static void run_effects(stage__drain_t *d);
static void hand_round(stage__drain_t *d);
static void bounce_begin(stage__drain_t *d);

/* ---- LIST ------------------------------------------------------------------
 */

static void listed(void *ud, int theatre, const uint64_t *serials, size_t n,
                   bool nomem) {
    stage__drain_t *d = ud;
    uint64_t *copy = n ? stage__malloc(n * sizeof *copy) : NULL;
    if (copy) memcpy(copy, serials, n * sizeof *copy);
    if (nomem || (n && !copy))
        LOG_ERROR("out of memory: the actors of theatre %d are not listed for "
                  "the drain: they stop with the node",
                  theatre);
    push(d->nn, DI_LISTED, 0, 0, copy, copy ? n : 0);
}

static void fetched(stage__netnode_t *nn, void *arg, int status,
                    const stage_dht_host_t *hosts, size_t n) {
    stage__drain_t *d = arg;
    (void)status;
    if (d != nn->drain) return;
    for (size_t i = 0; i < n; i++)
        if (hosts[i].mobile && strcmp(hosts[i].addr, nn->address))
            stage_evac_node(d->evac, hosts[i].addr, hosts[i].cores,
                            hosts[i].actors, hosts[i].load);
    d->fetched = true;
    push(nn, DI_LISTED, 0, 1, NULL, 0); /* out of the manager's effects */
}

static void list_done(stage__drain_t *d) {
    stage_evac_stats_t st;
    stage_evac_stats(d->evac, &st);
    /* a node that joined a moment ago has no entry yet (one a second) */
    if (!st.nodes && st.total && ++d->fetches < DRAIN_FETCHES) {
        d->fetched = false;
        arm(d, DRAIN_FETCH_MS);
        return;
    }
    if (!st.nodes && st.total)
        LOG_WARN("draining: no other node takes actors (their host entries "
                 "say so, or none was read): %zu actors stay and stop with "
                 "this node",
                 st.total);
    else
        LOG_INFO("draining: %zu actors to move to %zu nodes", st.total,
                 st.nodes);
    d->phase = MOVE;
    stage_evac_start(d->evac, now_ms(d->nn));
    run_effects(d);
}

/* ---- MOVE ------------------------------------------------------------------
 */

/* on_done of a move's future (the completing thread): the outcome goes
** to the loop. Its argument is the actor's serial (no memory of its own:
** a future freed at the node's stop without completing runs no hook). */
static void moved(stage__future_t *f) {
    stage__netnode_t *nn = stage__node_net(f->node);
    uint64_t serial = (uint64_t)(uintptr_t)f->on_done_arg;
    if (!nn || atomic_load(&nn->closing)) return;
    /* a refusal says why (it names the actor and what keeps it) */
    char *why = f->status < 0 && f->message ? stage__strdup(f->message) : NULL;
    push(nn, DI_MOVED, serial, f->status, why, why ? strlen(why) : 0);
}

static void move_one(stage__drain_t *d, uint64_t serial, const char *addr) {
    stage__netnode_t *nn = d->nn;
    stage__future_t *f = stage__future_new(nn->node, 0, 0);
    if (!f) {
        stage_evac_result(d->evac, now_ms(nn), serial, STAGE_ENOMEM, NULL);
        return;
    }
    f->observed = true; /* the drain reads every outcome */
    f->on_done_arg = (void *)(uintptr_t)serial;
    f->on_done = moved;
    if (stage__migrate_node(nn->node, serial, addr, f, false)) {
        f->on_done = NULL;
        stage_evac_result(d->evac, now_ms(nn), serial, STAGE_ENOMEM, NULL);
    }
    stage__future_unref(f);
}

static void progress(stage__drain_t *d, const char *what) {
    stage_evac_stats_t st;
    stage_evac_stats(d->evac, &st);
    LOG_INFO("draining: %s%zu of %zu actors moved, %zu stopped meanwhile, "
             "%zu stay (%.1f s)",
             what, st.moved, st.total, st.gone, st.stayed,
             (double)(now_ms(d->nn) - d->start) / 1000);
}

static void run_effects(stage__drain_t *d) {
    size_t n;
    const stage_evac_fx_t *fx = stage_evac_effects(d->evac, &n);
    /* copied: a move's start may complete at once and read effects again */
    stage_evac_fx_t *copy = n ? stage__malloc(n * sizeof *copy) : NULL;
    if (n && !copy) {
        LOG_ERROR("out of memory: the drain stops moving actors");
        n = 0;
    }
    if (n) memcpy(copy, fx, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        const stage_evac_fx_t *x = &copy[i];
        switch (x->kind) {
        case STAGE_EVAC_FX_MOVE:
            move_one(d, x->key, x->addr);
            break;
        case STAGE_EVAC_FX_STAYED:
            LOG_WARN("draining: an actor (serial %llu) stays and stops with "
                     "this node: %s",
                     (unsigned long long)x->key,
                     x->why[0] ? x->why : stage_strerror(x->err));
            break;
        case STAGE_EVAC_FX_PROGRESS:
            progress(d, "");
            break;
        case STAGE_EVAC_FX_DONE:
            break;
        }
    }
    stage__free(copy);
    if (d->phase == MOVE && stage_evac_done(d->evac)) {
        progress(d, "moves done: ");
        d->phase = HAND;
        d->phase_at = now_ms(d->nn);
        hand_round(d);
        return;
    }
    if (d->phase == MOVE) {
        uint64_t next = stage_evac_next_timer(d->evac), now = now_ms(d->nn);
        if (next != UINT64_MAX) arm(d, next > now ? next - now : 1);
    }
}

/* ---- HAND ------------------------------------------------------------------
 */

static void handed_round(void *ud, int theatre, size_t asked, size_t busy) {
    stage__drain_t *d = ud;
    (void)theatre;
    push(d->nn, DI_HANDED_ROUND, asked, 0, NULL, busy);
}

static void hand_round(stage__drain_t *d) {
    d->hand_theatres = stage_node_theatres(d->nn->node);
    d->hand_busy = 0;
    if (stage__move_handover(d->nn->node, handed_round, d)) {
        d->hand_theatres = 0;
        bounce_begin(d);
    }
}

/* A round is over and every answer came: again, or the stop. */
static void hand_check(stage__drain_t *d) {
    if (d->phase != HAND) return;
    if (d->hand_theatres || d->hand_waiting) { /* watch for the deadline */
        if (!d->timer_on) arm(d, DRAIN_HAND_WATCH_MS);
        return;
    }
    if (d->hand_busy) {
        arm(d, DRAIN_HAND_RETRY_MS);
        return;
    }
    if (d->handed || d->refused)
        LOG_INFO("draining: %zu actors that live on other nodes are theirs "
                 "now%s",
                 d->handed,
                 d->refused ? " (the others had stopped, or were lost)" : "");
    if (d->led || d->unled)
        LOG_INFO("draining: %zu of %zu ids that actors had here before they "
                 "left lead to their homes now%s",
                 d->led, d->led + d->unled,
                 d->unled ? " (the others' homes were gone, or their actors "
                            "stopped)"
                          : "");
    bounce_begin(d);
}

void stage__drain_led(stage_node_t *node, int status) {
    push(stage__node_net(node), DI_LED, 0, status, NULL, 0);
}

void stage__drain_rehomed(stage__netnode_t *nn, const stage_id_t *old,
                          const stage_id_t *cur, int status) {
    stage__drain_t *d = nn->drain;
    (void)cur;
    if (status && status != STAGE_EBUSY && status != STAGE_EACTOR_NOT_FOUND) {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(old, id, sizeof id);
        LOG_WARN("draining: node '%s' did not take actor '%s' over: %s",
                 cur->node, id, stage_strerror(status));
    }
    if (!status) { /* its names went with it */
        stage__hold_hand_over(&nn->holdings, old->serial);
    }
    if (!d) return;
    if (d->hand_waiting) d->hand_waiting--;
    if (!status)
        d->handed++;
    else if (status == STAGE_EBUSY)
        d->hand_busy++;
    else
        d->refused++;
    hand_check(d);
}

/* ---- the end: bouncing -----------------------------------------------------
** From now on a message that comes for an actor of this node goes back to
** its sender (BOUNCE), which sends it where the store says its actor is.
** The first are held until the theatres have forwarded what came before
** (a barrier through each) and every frame this node sent is
** acknowledged: what a sender gets back goes after what this node
** forwarded for it. Then the node stops; its leave takes every other
** frame (replies, the DHT's) as before. */

typedef struct bounced {
    struct bounced *next;
    int kind;
    size_t len;
    char peer[STAGE_ADDR_MAX];
    char body[];
} bounced_t;

void stage__netnode_bounce(stage__netnode_t *nn, const char *peer, int kind,
                           const char *body, size_t len) {
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__node_bounce_encode(&p, kind, body, len);
    if (!rc)
        rc = stage__netnode_send_frame(nn, peer, FRAME_BOUNCE, p.data, p.len);
    stage_pack_free(&p);
    if (rc)
        LOG_WARN("a message from '%s' could not be sent back to it: %s", peer,
                 stage_strerror(rc));
}

bool stage__drain_bounce(stage__netnode_t *nn, const char *peer, int kind,
                         const char *body, size_t len) {
    stage__drain_t *d = nn->drain;
    if (!d || d->phase < BARRIER) return false;
    if (d->phase >= DONE) {
        stage__netnode_bounce(nn, peer, kind, body, len);
        return true;
    }
    bounced_t *b = stage__malloc(sizeof *b + len);
    if (!b) return false; /* delivered here instead: it stops with the node */
    b->next = NULL;
    b->kind = kind;
    b->len = len;
    stage__addr_copy(b->peer, peer);
    memcpy(b->body, body, len);
    if (d->held_tail)
        d->held_tail->next = b;
    else
        d->held_head = b;
    d->held_tail = b;
    return true;
}

static void barrier_call(void *ud, int theatre, const uint64_t *serials,
                         size_t n, bool nomem) {
    (void)theatre;
    (void)serials;
    (void)n;
    (void)nomem;
    stage__drain_t *d = ud;
    push(d->nn, DI_BARRIER, 0, 0, NULL, 0);
}

static void bounce_begin(stage__drain_t *d) {
    d->phase = BARRIER;
    d->phase_at = now_ms(d->nn);
    d->barrier = stage_node_theatres(d->nn->node);
    stage__move_listing(d->nn->node, barrier_call, d);
}

static void flush_step(stage__drain_t *d) {
    stage__netnode_t *nn = d->nn;
    uint64_t waited = now_ms(nn) - d->phase_at;
    size_t unacked = stage__transport_unacked(nn->tr);
    if (unacked && waited < DRAIN_FLUSH_MAX_MS) {
        arm(d, DRAIN_POLL_MS);
        return;
    }
    if (unacked)
        LOG_WARN("draining: %zu frames this node sent were not acknowledged "
                 "in %d ms",
                 unacked, DRAIN_FLUSH_MAX_MS);
    d->phase = DONE;
    for (bounced_t *b; (b = d->held_head);) {
        d->held_head = b->next;
        stage__netnode_bounce(nn, b->peer, b->kind, b->body, b->len);
        stage__free(b);
    }
    d->held_tail = NULL;
    LOG_INFO("draining: done in %.1f s: leaving",
             (double)(now_ms(nn) - d->start) / 1000);
    stage_node_stop(nn->node, 0);
}

/* ---- the loop's side --------------------------------------------------------
 */

/* The drain ran out of time (--drain): what has not moved stays. */
static void deadline(uv_timer_t *t) {
    stage__drain_t *d = t->data;
    if (d->phase > HAND) return;
    stage_evac_stats_t st;
    stage_evac_stats(d->evac, &st);
    size_t left = st.total - st.moved - st.gone;
    LOG_WARN("draining: not done in %g s (--drain): %zu actor%s not moved "
             "stop%s with this node",
             (double)d->nn->drain_ms / 1000, left, left == 1 ? "" : "s",
             left == 1 ? "s" : "");
    bounce_begin(d);
}

static void on_timer(uv_timer_t *t) {
    stage__drain_t *d = t->data;
    d->timer_on = false;
    switch (d->phase) {
    case LIST:
        if (stage__hosts_fetch(d->nn, fetched, d)) list_done(d);
        break;
    case MOVE:
        stage_evac_tick(d->evac, now_ms(d->nn));
        run_effects(d);
        break;
    case HAND:
        if (!d->hand_theatres && !d->hand_waiting) {
            hand_round(d);
        } else if (now_ms(d->nn) - d->phase_at > DRAIN_HAND_MAX_MS) {
            LOG_WARN("draining: %zu handovers (of actors that live on other "
                     "nodes, or of ids actors had here) were not answered in "
                     "%d ms: messages to those ids fail once this node is "
                     "gone",
                     d->hand_waiting, DRAIN_HAND_MAX_MS);
            bounce_begin(d);
        } else {
            arm(d, DRAIN_HAND_WATCH_MS);
        }
        break;
    case FLUSH:
        flush_step(d);
        break;
    }
}

static void arm(stage__drain_t *d, uint64_t ms) {
    uv_timer_start(&d->timer, on_timer, ms ? ms : 1, 0);
    d->timer_on = true;
}

void stage__drain_item(stage__netnode_t *nn, stage__netnode_item_t *it) {
    stage__drain_t *d = nn->drain;
    if (!d) return;
    switch (it->op) {
    case DI_LISTED:
        if (it->theatre == 1) { /* the hosts store answered */
            if (!d->listing) list_done(d);
            return;
        }
        for (size_t i = 0; i < it->len; i++)
            stage_evac_add(d->evac, ((uint64_t *)it->args)[i]);
        if (--d->listing == 0 && d->fetched) list_done(d);
        return;
    case DI_MOVED:
        stage_evac_result(d->evac, now_ms(nn), it->mon, it->theatre,
                          it->args); /* the refusal's words, or NULL */
        if (d->phase == MOVE) run_effects(d);
        return;
    case DI_LED: /* a TOMB answered: the store leads its id home, or not */
        if (d->hand_waiting) d->hand_waiting--;
        if (it->theatre)
            d->unled++;
        else
            d->led++;
        hand_check(d);
        return;
    case DI_HANDED_ROUND:
        d->hand_waiting += it->mon;
        d->hand_busy += it->len;
        if (d->hand_theatres) d->hand_theatres--;
        hand_check(d);
        return;
    case DI_BARRIER:
        if (d->phase == BARRIER && --d->barrier == 0) {
            d->phase = FLUSH;
            d->phase_at = now_ms(nn);
            flush_step(d);
        }
        return;
    }
}

/* Whether this node has a session with another. */
static void any_peer(void *ud, const char *addr, uint32_t incarnation) {
    (void)addr;
    (void)incarnation;
    *(bool *)ud = true;
}

bool stage__drain_start(stage__netnode_t *nn) {
    if (nn->drain || !nn->drain_ms)
        return false; /* a second SIGTERM, or
                       ** no drain: at once */
    bool peers = false;
    stage__transport_each_session(nn->tr, any_peer, &peers);
    if (!peers || !atomic_load(&nn->joined)) return false;
    stage__drain_t *d = stage__calloc(1, sizeof *d);
    if (!d || !(d->evac = stage_evac_new(NULL))) {
        stage__free(d);
        LOG_ERROR("out of memory: no drain, the node stops at once");
        return false;
    }
    d->nn = nn;
    d->phase = LIST;
    d->start = d->phase_at = now_ms(nn);
    uv_timer_init(&nn->loop, &d->timer);
    d->timer.data = d;
    uv_timer_init(&nn->loop, &d->limit);
    d->limit.data = d;
    uv_timer_start(&d->limit, deadline, nn->drain_ms, 0);
    nn->drain = d;
    stage__node_set_draining(nn->node);
    stage__hosts_now(nn);
    LOG_INFO("draining: moving this node's actors to the other nodes before "
             "it stops (SIGTERM again stops it at once)");
    d->listing = stage_node_theatres(nn->node);
    stage__move_listing(nn->node, listed, d);
    if (stage__hosts_fetch(nn, fetched, d)) d->fetched = true;
    return true;
}

static void closed(uv_handle_t *h) {
    stage__free(h->data);
}

/* Messages held to bounce when the node stopped first: they stop too. */
static void held_free(stage__drain_t *d) {
    for (bounced_t *b; (b = d->held_head);) {
        d->held_head = b->next;
        stage__free(b);
    }
    d->held_tail = NULL;
}

void stage__drain_close(stage__netnode_t *nn) {
    stage__drain_t *d = nn->drain;
    if (!d) return;
    nn->drain = NULL;
    held_free(d);
    stage_evac_destroy(&d->evac);
    uv_close((uv_handle_t *)&d->limit, NULL);
    uv_close((uv_handle_t *)&d->timer, closed);
}
