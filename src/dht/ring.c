/*
** dht/ring.c: Chord membership — join, stabilize, notify, fingers,
** liveness, graceful leave and re-merge after a partition.
** Invariants: succ[0..nsucc) are distinct, not self, in ring order from
** self; pred is 0 or a peer that notified us within ~2 periods.
** States: ALONE (nsucc == 0) -> JOINING (join_addr set, !joined) ->
** MEMBER (joined) -> STOPPED (stage_dht_leave).
** The range of this manager is (pred, self]. When pred changes, the range
** either shrank (a joiner: hand it the entries) or grew (pred died: repair
** the acquired part from the other replicas; atomic writes there wait).
** Pure logic: no I/O; effects are returned to the driver.
*/
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"

/* Our neighbours changed: stabilize again soon (period/8), then back off
** by doubling to the period while nothing changes, so the ring settles in
** round trips after a join or a failure and costs one round per period
** when it is quiet. */
static void quicken(stage_dht_t *d) {
    uint32_t fast = d->cfg.period_ms / 8 ? d->cfg.period_ms / 8 : 1;
    d->stab_every = fast;
    if (d->next_period > d->now + fast) d->next_period = d->now + fast;
}

uint64_t stage__dht_rand(stage_dht_t *d) {
    uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

bool stage__dht_is_dead(const stage_dht_t *d, uint64_t id) {
    for (int i = 0; i < DEAD_MAX; i++)
        if (d->dead[i] == id && d->dead_until[i] > d->now) return true;
    return false;
}

/* Remember a failed member: it may be across a partition that heals. */
static void remember(stage_dht_t *d, const stage_dht_peer_t *p) {
    for (int i = 0; i < d->nknown; i++)
        if (d->known[i].id == p->id) return;
    if (d->nknown < KNOWN_MAX)
        d->known[d->nknown++] = *p;
    else
        d->known[stage__dht_rand(d) % KNOWN_MAX] = *p;
}

static void succ_remove(stage_dht_t *d, int i) {
    memmove(&d->succ[i], &d->succ[i + 1],
            (size_t)(d->nsucc - i - 1) * sizeof(d->succ[0]));
    d->nsucc--;
}

void stage__dht_peer_failed(stage_dht_t *d, uint64_t id) {
    if (id == 0 || id == d->self.id) return;
    int slot = -1;
    for (int i = 0; i < DEAD_MAX && slot < 0; i++)
        if (d->dead[i] == id || d->dead_until[i] <= d->now) slot = i;
    if (slot < 0) slot = (int)(stage__dht_rand(d) % DEAD_MAX);
    d->dead[slot] = id;
    d->dead_until[slot] = d->now + 2 * (uint64_t)d->cfg.period_ms;
    for (int i = 0; i < d->nsucc; i++)
        if (d->succ[i].id == id) {
            remember(d, &d->succ[i]);
            /* a stabilize question to it is void: were it still counted,
            ** the successor adopted next would be failed for its silence
            ** (a node restarted at the dead one's address, say) */
            if (i == 0) d->stab_waiting = d->stab_retried = false;
            succ_remove(d, i);
            d->ring_whole = false; /* until the next list says so */
            quicken(d);
            break;
        }
    bool fingers = false;
    for (int i = 0; i < FINGERS; i++)
        if (d->finger[i].id == id) {
            d->finger[i].id = 0;
            fingers = true;
        }
    if (fingers) stage__dht_fingers_changed(d);
    if (d->pred.id == id) {
        d->pred.id = 0; /* range_lo keeps its old start */
        quicken(d);
    }
}

static bool mark_stale(entry_t *e, void *arg) {
    (void)arg;
    e->stale = true;
    return true;
}

void stage__dht_ring_woke(stage_dht_t *d) {
    if (!d->joined || d->nsucc == 0) return; /* alone: nobody stood in */
    stage__etab_filter(&d->table, mark_stale, NULL);
    d->pred.id = 0;
    d->range_lo = d->self.id; /* nothing here is current: as a joiner */
    quicken(d);
}

void stage__dht_fingers_changed(stage_dht_t *d) {
    d->nrt = 0;
    for (int i = FINGERS - 1; i >= 0; i--) {
        uint64_t id = d->finger[i].id;
        if (id == 0 || (d->nrt && d->rt_id[d->nrt - 1] == id)) continue;
        d->rt_id[d->nrt] = id;
        d->rt_idx[d->nrt++] = (uint8_t)i;
    }
}

bool stage__dht_responsible(const stage_dht_t *d, uint64_t key) {
    if (d->pred.id) return in_oc(key, d->pred.id, d->self.id);
    return d->nsucc == 0; /* alone: everything; else wait for a pred */
}

/* Put p in the successor list at its place in ring order. */
static void succ_insert(stage_dht_t *d, const stage_dht_peer_t *p) {
    if (p->id == 0 || p->id == d->self.id || stage__dht_is_dead(d, p->id))
        return;
    int i = 0;
    for (; i < d->nsucc; i++) {
        if (d->succ[i].id == p->id) return;
        if (in_oo(p->id, d->self.id, d->succ[i].id)) break;
    }
    if (i >= d->cfg.succ_len) return;
    if (d->nsucc == d->cfg.succ_len) {
        d->nsucc--; /* the last one falls off: no longer the whole ring */
        d->ring_whole = false;
    }
    memmove(&d->succ[i + 1], &d->succ[i],
            (size_t)(d->nsucc - i) * sizeof(d->succ[0]));
    d->succ[i] = *p;
    d->nsucc++;
}

void stage__dht_orphan_seen(stage_dht_t *d, const stage_dht_peer_t *p) {
    if (d->nsucc == 0 && d->joined && p->id != d->pred.id) succ_insert(d, p);
}

void stage__dht_closer_seen(stage_dht_t *d, const stage_dht_peer_t *p) {
    if (d->joined && d->nsucc && p->id &&
        in_oo(p->id, d->self.id, d->succ[0].id))
        succ_insert(d, p); /* a pending GET_PRED now times out on it */
}

/* Our list reaches round to our predecessor: with us it is every member. */
static bool pred_listed(const stage_dht_t *d) {
    for (int i = 0; d->pred.id && i < d->nsucc; i++)
        if (d->succ[i].id == d->pred.id) return true;
    return false;
}

static void send_notify(stage_dht_t *d);

static void set_pred(stage_dht_t *d, const stage_dht_peer_t *p) {
    uint64_t old = d->pred.id ? d->pred.id : d->range_lo;
    d->pred = *p;
    d->pred_seen = d->now;
    if (p->id != old) {
        stage__dht_pred_changed(d, old, p->id);
        quicken(d);
    }
    d->range_lo = p->id;
    /* a ring of two, or a member whose successors all left: the notifier
    ** thinks we follow it, so it is on the ring after us too; tell it we
    ** precede it now, not at our next stabilize (period/8 after a change):
    ** until then it has no predecessor, and neither serves nor has joined */
    if (d->nsucc == 0) {
        succ_insert(d, p);
        send_notify(d);
    }
    d->ring_whole = d->ring_whole || pred_listed(d);
}

void stage__dht_pred_changed(stage_dht_t *d, uint64_t old_lo, uint64_t lo) {
    if (old_lo == d->self.id || in_oo(lo, old_lo, d->self.id)) {
        /* a joiner took (old_lo, lo]: hand it over */
        stage_dht_peer_t to = d->pred;
        stage__dht_transfer(d, &to, old_lo, lo);
        /* our first predecessor since we joined: our range (lo, self] is
        ** what our successor hands us, unless part of it was a member
        ** that died and nobody repaired yet (a node restarted at once
        ** joins right into its dead run's range): fetch it from the
        ** replicas too, and decide nothing in it before */
        if (old_lo == d->self.id && d->nsucc)
            stage__dht_repair(d, lo, d->self.id);
    } else {
        stage__dht_repair(d, lo, old_lo); /* (lo, old_lo] is ours now */
    }
}

/* A joiner became our predecessor: tell the old one (PRED_INFO, unasked),
** so it takes the joiner as its successor now rather than at its next
** stabilize; routes then stop walking back over the joiner. */
static void tell_old_pred(stage_dht_t *d, const stage_dht_peer_t *to) {
    stage_dht_msg_t *r = stage__dht_send(d, STAGE_DHT_M_PRED_INFO, to);
    if (!r) return;
    r->peer = d->pred;
    r->flags = RF_PUSH | RF_SAME_LIST; /* it keeps its list until it asks */
}

static void on_notify(stage_dht_t *d, const stage_dht_msg_t *m) {
    const stage_dht_peer_t *n = &m->from;
    if (n->id == d->pred.id) {
        d->pred_seen = d->now;
        return;
    }
    /* a farther node notifies us only when it believes our predecessor
    ** died; if that predecessor also missed its own notify, believe it */
    bool pred_quiet = d->now - d->pred_seen >
                      (uint64_t)d->cfg.period_ms + d->cfg.period_ms / 2;
    stage_dht_peer_t old = d->pred;
    bool joiner = old.id && in_oo(n->id, old.id, d->self.id);
    if (d->pred.id == 0 || joiner || pred_quiet) set_pred(d, n);
    if (joiner && !pred_quiet && old.id != d->self.id) tell_old_pred(d, &old);
}

/* A digest of n successors from the first: the asker tells us the one of
** the list it holds, and we send the list only when ours differs. */
static uint64_t list_hash(const stage_dht_peer_t *p, int n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    for (int i = 0; i < n; i++)
        h = (h ^ p[i].id) * 0xbf58476d1ce4e5b9ull;
    return h | 1; /* never 0: 0 asks for the list */
}

static void on_get_pred(stage_dht_t *d, const stage_dht_msg_t *m) {
    stage_dht_msg_t *r = stage__dht_send(d, STAGE_DHT_M_PRED_INFO, &m->from);
    if (!r) return;
    r->peer = d->pred;
    if (m->flags & RF_FINGERS) { /* a member that lost every successor */
        int n = 0;
        for (int i = 0; i < d->nrt && n < STAGE_DHT_SUCC_MAX; i++)
            r->peers[n++] = d->finger[d->rt_idx[i]];
        for (int i = 0; i < d->nsucc && n < STAGE_DHT_SUCC_MAX; i++)
            r->peers[n++] = d->succ[i];
        r->npeers = (uint8_t)n;
        r->flags = RF_FINGERS;
        return;
    }
    int n = d->nsucc < d->cfg.succ_len - 1 ? d->nsucc : d->cfg.succ_len - 1;
    if (m->arg && m->arg == list_hash(d->succ, n)) {
        r->flags = RF_SAME_LIST;
        return;
    }
    for (int i = 0; i < n; i++)
        r->peers[i] = d->succ[i];
    r->npeers = (uint8_t)n;
}

/* GET_PRED to our successor, with the digest of the list it gave us. */
static void refill(stage_dht_t *d);

static bool get_pred(stage_dht_t *d) {
    stage_dht_msg_t *m = stage__dht_send(d, STAGE_DHT_M_GET_PRED, &d->succ[0]);
    if (!m) return false;
    if (d->nsucc > 1) m->arg = list_hash(&d->succ[1], d->nsucc - 1);
    return true;
}

static void send_notify(stage_dht_t *d) {
    if (d->nsucc) stage__dht_send(d, STAGE_DHT_M_NOTIFY, &d->succ[0]);
}

static void joined(stage_dht_t *d) {
    if (d->joined) return;
    d->joined = true;
    d->next_finger_at = d->now; /* fill the fingers soon */
    d->finger_burst = FINGERS;
    stage_dht_effect_t *e = VEC_PUSH(d->fx);
    if (e) {
        memset(e, 0, sizeof(*e));
        e->kind = STAGE_DHT_FX_JOINED;
    }
}

static void on_pred_info(stage_dht_t *d, const stage_dht_msg_t *m) {
    if (m->flags & RF_FINGERS) { /* members to restart from (see refill) */
        for (int i = 0; i < m->npeers && i < STAGE_DHT_SUCC_MAX; i++)
            succ_insert(d, &m->peers[i]);
        return;
    }
    if (!d->nsucc || m->from.id != d->succ[0].id) return;
    d->stab_waiting = false;
    const stage_dht_peer_t *x = &m->peer;
    stage_dht_peer_t s = d->succ[0];
    if (!(m->flags & RF_SAME_LIST)) {
        uint64_t before = list_hash(d->succ, d->nsucc);
        d->nsucc = 1; /* rebuild the list from our successor's */
        d->ring_whole = false;
        int n = m->npeers < STAGE_DHT_SUCC_MAX ? m->npeers : STAGE_DHT_SUCC_MAX;
        for (int i = 0; i < n; i++) {
            d->ring_whole |= m->peers[i].id == d->self.id;
            succ_insert(d, &m->peers[i]);
        }
        d->ring_whole = d->ring_whole || pred_listed(d);
        if (list_hash(d->succ, d->nsucc) != before) quicken(d);
    }
    joined(d);
    if (x->id && in_oo(x->id, d->self.id, s.id) &&
        !stage__dht_is_dead(d, x->id)) {
        /* a closer successor: ask it at once rather than next period, so a
        ** far successor pointer walks back in round trips, not periods */
        succ_insert(d, x);
        if (get_pred(d)) {
            d->stab_waiting = true;
            d->stab_sent = d->now;
        }
        return;
    }
    if (!(m->flags & RF_PUSH)) send_notify(d);
}

static void on_leave(stage_dht_t *d, const stage_dht_msg_t *m) {
    uint64_t id = m->from.id;
    if (id == d->pred.id) {
        /* our predecessor hands its range over: no repair needed */
        d->pred.id = 0;
        d->range_lo = m->peer.id ? m->peer.id : d->self.id;
        if (m->peer.id && m->peer.id != d->self.id) {
            d->pred = m->peer;
            d->pred_seen = d->now;
        }
    }
    bool was_succ = d->nsucc && d->succ[0].id == id;
    stage__dht_peer_failed(d, id);
    d->nknown -= d->nknown && d->known[d->nknown - 1].id == id;
    if (was_succ) {
        for (int i = 0; i < m->npeers && i < STAGE_DHT_SUCC_MAX; i++)
            succ_insert(d, &m->peers[i]);
        d->stab_waiting = false;
    }
}

void stage__dht_ring_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    switch (m->type) {
    case STAGE_DHT_M_NOTIFY:
        on_notify(d, m);
        break;
    case STAGE_DHT_M_GET_PRED:
        on_get_pred(d, m);
        break;
    case STAGE_DHT_M_PRED_INFO:
        on_pred_info(d, m);
        break;
    case STAGE_DHT_M_LEAVE:
        on_leave(d, m);
        break;
    case STAGE_DHT_M_PING:
        stage__dht_send(d, STAGE_DHT_M_PONG, &m->from);
        break;
    default:
        break;
    }
}

/* Ask whoever is at the join address to route a lookup of our id. */
static void send_join(stage_dht_t *d) {
    for (size_t i = 0; i < d->reqs.list.n; i++) /* one at a time */
        if (((request_t *)d->reqs.list.v[i])->kind == RQ_JOIN) return;
    stage_dht_peer_t via = {d->join_id, ""};
    memcpy(via.addr, d->join_addr, STAGE_ADDR_MAX);
    reqspec_t s = {.kind = RQ_JOIN,
                   .op = STAGE_DHT_OP_LOOKUP,
                   .key = d->self.id,
                   .via = &via};
    stage__dht_request(d, &s, NULL);
}

/* Every successor failed (a mass failure): the nearest finger that is not
** known dead becomes our successor and stabilization walks back from
** there. With no finger left, ask our predecessor for its fingers. Never
** fall back on the predecessor itself: in a large ring that walks the
** whole ring backwards. */
static void refill(stage_dht_t *d) {
    const stage_dht_peer_t *best = NULL;
    for (int i = 0; i < FINGERS; i++) {
        const stage_dht_peer_t *f = &d->finger[i];
        if (f->id == 0 || f->id == d->self.id || stage__dht_is_dead(d, f->id))
            continue;
        if (!best || f->id - d->self.id < best->id - d->self.id) best = f;
    }
    if (best) {
        stage_dht_peer_t b = *best;
        succ_insert(d, &b);
    } else if (d->pred.id) {
        stage_dht_msg_t *m = stage__dht_send(d, STAGE_DHT_M_GET_PRED, &d->pred);
        if (m) m->flags = RF_FINGERS;
    }
}

static void stabilize(stage_dht_t *d) {
    /* an answer may still come (ring_poll asks again after the hop
    ** timeout); none for a whole period: the successor is gone */
    bool waiting =
        d->stab_waiting && d->nsucc && d->now - d->stab_sent < d->cfg.period_ms;
    if (d->stab_waiting && d->nsucc && !waiting)
        stage__dht_peer_failed(d, d->succ[0].id);
    d->stab_waiting = waiting;
    if (d->pred.id && d->now - d->pred_seen > 2 * (uint64_t)d->cfg.period_ms +
                                                  d->cfg.period_ms / 2) {
        stage_dht_peer_t p = d->pred;
        remember(d, &p);
        d->pred.id = 0; /* range_lo keeps the old start: repaired later */
    }
    if (d->pred.id)
        d->pred_lost = 0;
    else if (!d->pred_lost)
        d->pred_lost = d->now;
    if (d->joined && d->pred_lost &&
        d->now - d->pred_lost > 3 * (uint64_t)d->cfg.period_ms) {
        /* nobody notifies us: route towards our predecessor; a member that
        ** lost every successor and gets it adopts us (orphan_seen) */
        d->pred_lost = d->now;
        reqspec_t s = {.kind = RQ_FIND_PRED,
                       .op = STAGE_DHT_OP_LOOKUP,
                       .key = d->self.id - 1};
        stage__dht_request(d, &s, NULL);
    }
    if (d->nsucc == 0) refill(d);
    if (d->nsucc == 0) {
        if (d->join_addr[0] && !d->joined) send_join(d);
        return;
    }
    if (d->stab_waiting) return;
    if (get_pred(d)) {
        d->stab_waiting = true;
        d->stab_retried = false;
        d->stab_sent = d->now;
    }
}

uint64_t stage__dht_ring_deadline(const stage_dht_t *d) {
    return d->stab_waiting && d->nsucc ? d->stab_sent + d->cfg.hop_timeout_ms
                                       : UINT64_MAX;
}

void stage__dht_ring_poll(stage_dht_t *d) {
    if (d->now < stage__dht_ring_deadline(d)) return;
    d->stab_sent = d->now;
    if (!d->stab_retried) { /* one lost message must not cost a successor */
        d->stab_retried = true;
        get_pred(d);
        return;
    }
    /* silent twice: gone; ask the next one now rather than next period */
    stage__dht_peer_failed(d, d->succ[0].id);
    if (d->nsucc == 0) refill(d);
    d->stab_retried = false;
    d->stab_waiting = d->nsucc > 0 && get_pred(d);
}

/* Refresh the next finger that is not simply our successor. */
static void fix_finger(stage_dht_t *d) {
    if (!d->nsucc) return;
    uint64_t span = d->succ[0].id - d->self.id;
    int i = d->next_finger;
    if (i <= 0 || i >= FINGERS || ((uint64_t)1 << i) <= span) {
        i = FINGERS - 1;
        /* a new member's quick round ends with its first full cycle */
        if (d->finger_burst < FINGERS - 1) d->finger_burst = 0;
    }
    d->next_finger = i - 1;
    reqspec_t s = {.kind = RQ_FINGER,
                   .op = STAGE_DHT_OP_LOOKUP,
                   .req = (uint64_t)i,
                   .key = d->self.id + ((uint64_t)1 << i)};
    stage__dht_request(d, &s, NULL);
}

/* Look up our own successor through another member: a finger (this
** undoes loops, where the ring wraps around itself twice after concurrent
** joins) or a remembered member that failed (it may be across a partition
** that healed: then we adopt a closer successor from its ring). */
static void merge(stage_dht_t *d, bool remembered) {
    const stage_dht_peer_t *k = NULL;
    if (remembered && d->nknown) {
        k = &d->known[stage__dht_rand(d) % d->nknown];
    } else {
        int i = (int)(stage__dht_rand(d) % FINGERS);
        for (int n = 0; n < FINGERS && !k; n++, i = (i + 1) % FINGERS)
            if (d->finger[i].id && d->nsucc && d->finger[i].id != d->succ[0].id)
                k = &d->finger[i];
    }
    if (!k || k->id == d->self.id) return;
    reqspec_t s = {.kind = RQ_MERGE,
                   .op = STAGE_DHT_OP_LOOKUP,
                   .req = k->id,
                   .key = d->self.id + 1,
                   .via = k};
    stage__dht_request(d, &s, NULL);
}

void stage__dht_ring_found(stage_dht_t *d, const request_t *r,
                           const stage_dht_msg_t *m) {
    const stage_dht_peer_t *o = &m->peer;
    if (o->id == 0 || o->id == d->self.id) return;
    if (r->kind == RQ_FINGER && r->req < FINGERS) {
        bool same = d->finger[r->req].id == o->id;
        d->finger[r->req] = *o;
        if (!same) stage__dht_fingers_changed(d);
    } else if (r->kind == RQ_JOIN) {
        succ_insert(d, o);
        d->stab_waiting = false;
        d->next_period = d->now; /* stabilize at once */
    } else if (r->kind == RQ_MERGE) {
        if (d->nsucc == 0 || in_oo(o->id, d->self.id, d->succ[0].id)) {
            succ_insert(d, o);
            d->stab_waiting = false;
        }
        for (int i = 0; i < d->nknown; i++)
            if (d->known[i].id == r->req) d->known[i] = d->known[--d->nknown];
    }
}

void stage__dht_ring_tick(stage_dht_t *d) {
    if (d->now >= d->next_period) {
        d->next_period = d->now + d->stab_every;
        d->stab_every = d->stab_every < d->cfg.period_ms / 2 ? d->stab_every * 2
                                                             : d->cfg.period_ms;
        stabilize(d);
        if (d->now >= d->next_merge && d->joined) {
            d->next_merge = d->now + MERGE_PERIODS * (uint64_t)d->cfg.period_ms;
            merge(d, ++d->merges % 2 == 0);
        }
    }
    if (d->now >= d->next_finger_at) {
        /* a new member fills its fingers quickly, then one per period */
        uint32_t every = d->cfg.finger_period_ms;
        if (d->finger_burst > 0) {
            d->finger_burst--;
            every = every / 16 + 1;
        }
        d->next_finger_at = d->now + every;
        if (d->joined) fix_finger(d);
    }
}

void stage__dht_ring_leave(stage_dht_t *d) {
    if (!d->nsucc) return;
    stage__dht_transfer(d, &d->succ[0], d->pred.id ? d->pred.id : d->range_lo,
                        d->self.id);
    stage_dht_msg_t *m = stage__dht_send(d, STAGE_DHT_M_LEAVE, &d->succ[0]);
    if (m) m->peer = d->pred;
    if (d->pred.id && d->pred.id != d->succ[0].id) {
        m = stage__dht_send(d, STAGE_DHT_M_LEAVE, &d->pred);
        if (!m) return;
        m->peer = d->succ[0];
        for (int i = 0; i < d->nsucc; i++)
            m->peers[i] = d->succ[i];
        m->npeers = (uint8_t)d->nsucc;
    }
}

/* Forget the managers known at addr but keep (0: all of them). */
static int forget_at(stage_dht_t *d, uint64_t now, const char *addr,
                     uint64_t keep) {
    if (d->stopped) return 0;
    stage__dht_begin(d, now);
    uint64_t ids[STAGE_DHT_SUCC_MAX + FINGERS + 1];
    int n = 0;
    const stage_dht_peer_t *pred = &d->pred;
    for (int i = -1; i < STAGE_DHT_SUCC_MAX + FINGERS; i++) {
        const stage_dht_peer_t *p = i < 0 ? pred
                                    : i < STAGE_DHT_SUCC_MAX
                                        ? &d->succ[i]
                                        : &d->finger[i - STAGE_DHT_SUCC_MAX];
        if (i >= 0 && i < STAGE_DHT_SUCC_MAX && i >= d->nsucc) continue;
        if (!p->id || p->id == keep || strcmp(p->addr, addr)) continue;
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = ids[j] == p->id;
        if (!seen) ids[n++] = p->id;
    }
    for (int j = 0; j < n; j++) {
        stage__dht_peer_failed(d, ids[j]);
        for (size_t i = 0; i < d->hops.list.n; i++) { /* retry: next tick */
            hop_t *h = (hop_t *)d->hops.list.v[i];
            if (h->ntried && h->tried[h->ntried - 1] == ids[j])
                stage__dht_ix_set(&d->hops, &h->ix, d->now);
        }
    }
    stage__dht_end(d);
    return n;
}

int stage_dht_peer_gone(stage_dht_t *d, uint64_t now, const char *addr) {
    return forget_at(d, now, addr, 0);
}

int stage_dht_peer_restarted(stage_dht_t *d, uint64_t now, const char *addr,
                             uint64_t keep) {
    return keep ? forget_at(d, now, addr, keep) : 0;
}
