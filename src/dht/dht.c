/*
** dht/dht.c: a manager's lifecycle, its effects and its timer.
** Every entry point records the time, runs the logic and recomputes the
** next timer. Effects accumulate until the driver reads them
** (stage_dht_effects); the first call after that starts a new list, so a
** driver may make several calls before it drains. Effects live in
** vectors owned by the manager; FX_SEND messages are kept by index while
** they are being built (the vector may move) and resolved to pointers in
** stage_dht_effects.
** Pure logic: no I/O, no clock.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "util/alloc.h"

int stage__dht_grow(void **v, size_t *cap, size_t n, size_t sz) {
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *nv = stage__realloc(*v, ncap * sz);
    if (!nv) return STAGE_ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

void stage_dht_config_init(stage_dht_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->replicas = 3;
    cfg->succ_len = 8;
    cfg->period_ms = 1000;
    cfg->finger_period_ms = 3000;
    cfg->hop_timeout_ms = 300;
    cfg->ack_delay_ms = 20;
    cfg->request_timeout_ms = 1500;
    cfg->request_tries = 4;
    cfg->lease_ms = 30000;
}

static bool config_valid(const stage_dht_config_t *c) {
    return c->id != 0 && c->address && strlen(c->address) < STAGE_ADDR_MAX &&
           c->replicas >= 1 && c->replicas <= STAGE_DHT_REPLICAS_MAX &&
           c->succ_len >= 1 && c->succ_len <= STAGE_DHT_SUCC_MAX &&
           c->period_ms > 0 && c->finger_period_ms > 0 &&
           c->hop_timeout_ms > 0 && c->request_timeout_ms > 0 &&
           c->request_tries > 0 && c->lease_ms >= 3 * c->period_ms;
}

int stage_dht_new(stage_dht_t **out, const stage_dht_config_t *cfg,
                  uint64_t now) {
    if (!out || !cfg || !config_valid(cfg)) return STAGE_EINVAL;
    stage_dht_t *d = stage__calloc(1, sizeof(*d));
    if (!d) return STAGE_ENOMEM;
    d->cfg = *cfg;
    d->fx_list = 1;        /* 0: a driver's "none handled yet" */
    d->cfg.address = NULL; /* copied into self.addr */
    d->self.id = cfg->id;
    strcpy(d->self.addr, cfg->address);
    d->step = cfg->replicas == 1 ? 0 : UINT64_MAX / (uint64_t)cfg->replicas;
    d->rng = cfg->seed ^ cfg->id;
    d->now = now;
    d->range_lo = d->self.id; /* alone: the whole ring */
    d->ack_base = 1;
    d->next_period = now + stage__dht_rand(d) % cfg->period_ms;
    d->stab_every = cfg->period_ms;
    d->next_finger_at = now + cfg->finger_period_ms;
    d->next_renew = now + cfg->lease_ms / 3;
    d->next_merge = now + MERGE_PERIODS * (uint64_t)cfg->period_ms;
    d->next_timer = d->next_period;
    *out = d;
    return 0;
}

/* Free what the previous call's effects held. */
static void reset(stage_dht_t *d, uint64_t now) {
    if (d->fx_read) { /* the driver has them: a new list */
        for (size_t i = 0; i < d->out.n; i++)
            stage__free(d->out.v[i].data);
        for (size_t i = 0; i < d->garbage.n; i++)
            stage__free(d->garbage.v[i]);
        d->out.n = d->fx.n = d->items.n = d->garbage.n = d->dests.n = 0;
        d->fx_read = false;
        d->fx_resolved = 0;
        d->fx_list++;
    }
    if (now <= d->now) return;
    /* our stabilize is due every period at most: a call more than a period
    ** past it means we were not run meanwhile */
    bool woke = !d->stopped && now > d->next_period + d->cfg.period_ms;
    d->now = now;
    if (woke) stage__dht_ring_woke(d);
}

static void drain_loop(stage_dht_t *d);

static uint64_t min_u64(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

/* Send the acks that are due; then the earliest thing we wait for. */
static void rearm(stage_dht_t *d) {
    uint64_t t = stage__dht_flush_acks(d, false);
    t = min_u64(t, d->next_period);
    t = min_u64(t, d->next_finger_at);
    t = min_u64(t, d->next_renew);
    t = min_u64(t, stage__dht_ring_deadline(d));
    t = min_u64(t, stage__dht_ix_next(&d->hops));
    t = min_u64(t, stage__dht_ix_next(&d->reqs));
    t = min_u64(t, stage__dht_ix_next(&d->decs));
    d->next_timer = t;
}

void stage_dht_destroy(stage_dht_t **dp) {
    if (!dp || !*dp) return;
    stage_dht_t *d = *dp;
    reset(d, d->now);
    stage__dht_table_free(d);
    stage__dht_kv_free(d);
    stage__dht_route_free(d);
    for (size_t i = 0; i < d->loop.n; i++)
        stage__free(d->loop.v[i].data);
    stage__free(d->loop.v);
    stage__free(d->fx.v);
    stage__free(d->out.v);
    stage__free(d->dests.v);
    stage__free(d->items.v);
    stage__free(d->garbage.v);
    stage__free(d);
    *dp = NULL;
}

void stage__dht_begin(stage_dht_t *d, uint64_t now) {
    reset(d, now);
}

void stage__dht_end(stage_dht_t *d) {
    drain_loop(d);
    rearm(d);
}

int stage_dht_join(stage_dht_t *d, uint64_t now, const char *addr,
                   uint64_t id) {
    reset(d, now);
    if (d->stopped) return STAGE_ESTOPPED;
    if (!addr || strlen(addr) >= STAGE_ADDR_MAX) return STAGE_EINVAL;
    strcpy(d->join_addr, addr);
    d->join_id = id;
    d->joined = false;
    d->next_period = now; /* the ring tick sends the join at once */
    stage__dht_ring_tick(d);
    drain_loop(d);
    rearm(d);
    return 0;
}

int stage_dht_leave(stage_dht_t *d, uint64_t now) {
    reset(d, now);
    if (d->stopped) return STAGE_ESTOPPED;
    d->leaving = true;
    stage__dht_ring_leave(d);
    drain_loop(d);
    stage__dht_flush_acks(d, true);
    d->stopped = true;
    d->next_timer = UINT64_MAX;
    return 0;
}

static void dispatch(stage_dht_t *d, const stage_dht_msg_t *m) {
    switch (m->type) {
    case STAGE_DHT_M_ACK: /* its acks are taken in stage_dht_recv */
        break;
    case STAGE_DHT_M_ROUTE:
        stage__dht_route_recv(d, m);
        break;
    case STAGE_DHT_M_REPLY:
    case STAGE_DHT_M_TRANSFER:
    case STAGE_DHT_M_EVENT:
    case STAGE_DHT_M_RENEW:
    case STAGE_DHT_M_MISSING:
        stage__dht_kv_recv(d, m);
        break;
    default:
        stage__dht_ring_recv(d, m);
        break;
    }
}

/* Handle the messages we sent ourselves, in order. */
static void drain_loop(stage_dht_t *d) {
    while (d->loop_head < d->loop.n) {
        stage_dht_msg_t m = d->loop.v[d->loop_head++];
        dispatch(d, &m);
        stage__free(m.data);
    }
    d->loop.n = d->loop_head = 0;
}

void stage_dht_recv(stage_dht_t *d, uint64_t now, const stage_dht_msg_t *m) {
    reset(d, now);
    /* the wire carries the low 32 bits of `to` */
    if (d->stopped || !m ||
        (m->to != 0 && (uint32_t)m->to != (uint32_t)d->self.id))
        return;
    if (m->from.id == d->self.id || m->from.id == 0) return;
    stage__dht_ack_recv(d, m);
    dispatch(d, m);
    drain_loop(d);
    rearm(d);
}

void stage_dht_tick(stage_dht_t *d, uint64_t now) {
    reset(d, now);
    if (d->stopped) return;
    stage__dht_route_tick(d);
    stage__dht_ring_poll(d);
    stage__dht_kv_tick(d);
    if (d->now >= d->next_period || d->now >= d->next_finger_at)
        stage__dht_ring_tick(d);
    drain_loop(d);
    rearm(d);
}

uint64_t stage_dht_next_timer(const stage_dht_t *d) {
    return d->next_timer;
}

const stage_dht_effect_t *stage_dht_effects(stage_dht_t *d, size_t *n) {
    /* once each: a second read of the same list finds them set (nothing is
    ** added to a list once read: the next call starts a new one) */
    for (size_t i = d->fx_resolved; i < d->fx.n; i++) {
        stage_dht_effect_t *e = &d->fx.v[i];
        if (e->kind == STAGE_DHT_FX_SEND) {
            e->msg = &d->out.v[e->req];
            e->to_addr = d->dests.v[e->req].addr;
        } else if (e->nitems) {
            e->items = &d->items.v[(uintptr_t)e->items];
        } else {
            e->items = NULL;
        }
    }
    d->fx_read = true;
    d->fx_resolved = d->fx.n;
    *n = d->fx.n;
    return d->fx.v;
}

uint64_t stage_dht_effects_list(const stage_dht_t *d) {
    return d->fx_list;
}

stage_dht_msg_t *stage__dht_send(stage_dht_t *d, int type,
                                 const stage_dht_peer_t *to) {
    if (to->id == d->self.id) { /* to ourselves: handled before we return */
        stage_dht_msg_t *l = VEC_PUSH(d->loop);
        if (!l) return NULL;
        memset(l, 0, offsetof(stage_dht_msg_t, peers));
        l->type = (uint8_t)type;
        l->to = l->from.id = d->self.id;
        l->from = d->self;
        return l;
    }
    if (d->out.n != d->dests.n) return NULL;
    stage_dht_peer_t *dest = VEC_PUSH(d->dests);
    if (!dest) return NULL;
    stage_dht_msg_t *m = VEC_PUSH(d->out);
    stage_dht_effect_t *e = m ? VEC_PUSH(d->fx) : NULL;
    if (!e) {
        d->dests.n--;
        if (m) d->out.n--;
        return NULL;
    }
    *dest = *to;
    memset(e, 0, sizeof(*e));
    e->kind = STAGE_DHT_FX_SEND;
    e->req = d->out.n - 1;
    memset(m, 0, offsetof(stage_dht_msg_t, peers));
    m->type = (uint8_t)type;
    m->to = to->id;
    m->from = d->self;
    return m;
}

void stage__dht_keep(stage_dht_t *d, char *p) {
    if (!p) return;
    char **slot = VEC_PUSH(d->garbage);
    if (slot)
        *slot = p;
    else
        stage__free(p);
}

void stage__dht_done(stage_dht_t *d, uint64_t req, int status, int hops,
                     const char *data, uint32_t len, int kind) {
    char *copy = NULL;
    if (data && len) { /* the caller's bytes may not outlive this call */
        copy = stage__malloc(len);
        if (copy) memcpy(copy, data, len);
        stage__dht_keep(d, copy);
    }
    size_t first = d->items.n;
    uint32_t off = 0;
    rec_t r;
    while (copy && stage__dht_pl_next(copy, len, &off, &r) == 1) {
        if (r.gone) continue; /* no item (answers never carry them) */
        stage_dht_item_t *it = VEC_PUSH(d->items);
        if (!it) break;
        it->owner = r.owner;
        it->sub = r.sub;
        it->value = r.value;
        it->len = r.len;
    }
    stage_dht_effect_t *e = VEC_PUSH(d->fx);
    if (!e) return;
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->req = req;
    e->status = status;
    e->hops = hops;
    e->nitems = d->items.n - first;
    /* items may move while later effects are added: keep the index, and
    ** resolve it in stage_dht_effects. */
    e->items = (const stage_dht_item_t *)(uintptr_t)first;
}

stage_dht_peer_t stage_dht_self(const stage_dht_t *d) {
    return d->self;
}

stage_dht_peer_t stage_dht_successor(const stage_dht_t *d) {
    stage_dht_peer_t none = {0, ""};
    return d->nsucc ? d->succ[0] : none;
}

stage_dht_peer_t stage_dht_predecessor(const stage_dht_t *d) {
    return d->pred;
}
