/*
** dht/route.c: recursive routing with a per-hop acknowledgement.
** A routed message goes to the closest preceding member we know of, or
** straight to the key's owner when our successor list shows it; the
** member that receives it owes an ack, which rides on the next message
** it sends to the previous hop within ack_delay_ms (a REPLY, usually) or
** else goes alone (ACK, every ack owed to that member at once). A hop not
*acknowledged in
** hop_timeout_ms is retried through another route (never one that already
** failed for this message), up to HOP_TRIES; then it is dropped and the
** asker's own timeout retries the whole request. The owner of the key (the
** member whose range (pred, self] holds it) handles it and answers the
** asker directly.
** Invariant: every pending hop holds its own copy of the message.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "util/alloc.h"

static bool excluded(uint64_t id, const uint64_t *excl, int n) {
    for (int i = 0; i < n; i++)
        if (excl[i] == id) return true;
    return false;
}

const stage_dht_peer_t *stage__dht_next_hop(const stage_dht_t *d, uint64_t key,
                                            const uint64_t *excl, int nexcl,
                                            bool jump, bool *final) {
    uint64_t self = d->self.id;
    *final = false;
    /* our successor list is a run of consecutive members: a key that falls
    ** within it belongs to the first member at or after it, so a message
    ** that starts here goes there, one hop (when the list holds the whole
    ** ring, a small one, that is every key; while a ring forms, it saves
    ** the hop through the owner's predecessor). Only our successor is sure
    ** enough to be FINAL (the receiver then walks back to its predecessor
    ** if it must); a member further on may have been joined before since
    ** our list was sent, so it decides by its own range and routes on.
    ** Later hops go by their own successor only: two members with stale
    ** lists could otherwise bounce a message between them. */
    bool first = true;
    uint64_t prev = self;
    for (int i = 0; i < d->nsucc; i++) {
        const stage_dht_peer_t *s = &d->succ[i];
        if (excluded(s->id, excl, nexcl)) continue;
        if (in_oc(key, prev, s->id)) {
            *final = first;
            return s;
        }
        if (!jump) break;
        first = false;
        prev = s->id;
    }
    /* closest preceding member of key among fingers and successors */
    const stage_dht_peer_t *best = NULL;
    uint64_t bestd = UINT64_MAX;
    for (int i = 0; i < d->nrt + d->nsucc; i++) {
        uint64_t id = i < d->nrt ? d->rt_id[i] : d->succ[i - d->nrt].id;
        if (!in_oo(id, self, key)) continue;
        uint64_t dist = key - id;
        if (dist >= bestd || excluded(id, excl, nexcl) ||
            stage__dht_is_dead(d, id))
            continue;
        best = i < d->nrt ? &d->finger[d->rt_idx[i]] : &d->succ[i - d->nrt];
        bestd = dist;
    }
    if (best) return best;
    for (int i = 0; i < d->nsucc; i++) /* the first successor left */
        if (!excluded(d->succ[i].id, excl, nexcl)) {
            *final = in_oc(key, self, d->succ[i].id);
            return &d->succ[i];
        }
    return NULL;
}

/* Send the hop's message to its next try; false if no route is left. */
static bool send_hop(stage_dht_t *d, hop_t *h) {
    bool final;
    if (h->ntried >= HOP_TRIES) return false;
    const stage_dht_peer_t *p = NULL;
    if (h->back && d->pred.id && !excluded(d->pred.id, h->tried, h->ntried)) {
        p = &d->pred; /* the key is behind us: our predecessor is closer */
        final = true;
    } else {
        p = stage__dht_next_hop(d, h->msg.key, h->tried, h->ntried,
                                h->msg.hops <= 1, &final);
    }
    if (!p) return false;
    stage_dht_msg_t *m = stage__dht_send(d, STAGE_DHT_M_ROUTE, p);
    if (!m) return false;
    uint64_t to = m->to;
    stage_dht_peer_t from = m->from;
    memcpy(m, &h->msg, offsetof(stage_dht_msg_t, peers));
    m->to = to;
    m->from = from;
    h->seq = m->seq = ++d->seq;
    m->flags = (h->msg.flags & ~(uint32_t)RF_FINAL) | (final ? RF_FINAL : 0);
    m->data = NULL;
    if (h->msg.len) {
        m->data = stage__malloc(h->msg.len);
        if (!m->data) {
            m->len = 0;
            return false;
        }
        memcpy(m->data, h->msg.data, h->msg.len);
    }
    h->tried[h->ntried++] = to;
    h->deadline = d->now + d->cfg.hop_timeout_ms;
    return true;
}

static void hop_free(hop_t *h) {
    stage__free(h->msg.data);
    stage__free(h);
}

/* Takes m's payload. */
void stage__dht_route(stage_dht_t *d, stage_dht_msg_t *m) {
    bool mine = stage__dht_responsible(d, m->key) ||
                ((m->flags & RF_FINAL) && d->pred.id == 0);
    if (!mine && d->nsucc == 0 && d->joined) {
        /* no successor left: whoever asks is a live member after us (or
        ** will be walked back from); answer as best we can */
        stage__dht_orphan_seen(d, &m->origin);
        mine = d->nsucc == 0 || stage__dht_responsible(d, m->key);
    }
    if (mine) {
        stage__dht_kv_handle(d, m);
        stage__free(m->data);
        m->data = NULL;
        return;
    }
    if (m->hops >= MAX_HOPS) {
        stage__free(m->data);
        m->data = NULL;
        return;
    }
    hop_t *h = stage__malloc(sizeof(*h));
    hop_t **slot = h ? VEC_PUSH(d->hops) : NULL;
    if (!slot) {
        stage__free(h);
        stage__free(m->data);
        m->data = NULL;
        return;
    }
    memcpy(&h->msg, m, offsetof(stage_dht_msg_t, peers));
    h->msg.hops++;
    h->msg.npeers = h->msg.nacks = 0;
    h->ntried = 0;
    /* sent to us as the key's successor, but the key is before our pred:
    ** the sender's successor pointer is stale; walk back */
    h->back = (m->flags & RF_FINAL) && d->pred.id &&
              in_oc(m->key, d->self.id, d->pred.id);
    m->data = NULL;
    *slot = h;
    if (!send_hop(d, h)) {
        d->hops.n--;
        hop_free(h);
    }
}

static void owe_ack(stage_dht_t *d, const stage_dht_peer_t *to, uint64_t seq) {
    uint32_t delay = d->cfg.ack_delay_ms;
    if (delay > d->cfg.hop_timeout_ms / 4) delay = d->cfg.hop_timeout_ms / 4;
    ack_t *a = VEC_PUSH(d->acks);
    if (!a) return; /* the hop is retried: costs time, not correctness */
    a->to = *to;
    a->seq = seq;
    a->due = d->now + delay;
}

void stage__dht_route_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    if (m->from.id != d->self.id && m->seq) owe_ack(d, &m->from, m->seq);
    if (m->op == 0 || m->op >= STAGE_DHT_OP__END) return;
    /* an orphan looking for its predecessor (key = its id - 1): if it lies
    ** between us and our successor, we skipped it after failures */
    if (m->op == STAGE_DHT_OP_LOOKUP && m->key == m->origin.id - 1)
        stage__dht_closer_seen(d, &m->origin);
    stage_dht_msg_t c;
    memcpy(&c, m, offsetof(stage_dht_msg_t, peers));
    c.npeers = c.nacks = 0;
    c.data = NULL;
    if (m->len) {
        c.data = stage__malloc(m->len);
        if (!c.data) return;
        memcpy(c.data, m->data, m->len);
    }
    stage__dht_route(d, &c);
}

static void acked(stage_dht_t *d, uint64_t seq, uint64_t from) {
    for (size_t i = 0; i < d->hops.n; i++) {
        hop_t *h = d->hops.v[i];
        if (h->seq == seq && h->ntried && h->tried[h->ntried - 1] == from) {
            hop_free(h);
            d->hops.v[i] = d->hops.v[--d->hops.n];
            return;
        }
    }
}

void stage__dht_ack_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    for (int i = 0; i < m->nacks && i < STAGE_DHT_ACKS_MAX; i++)
        acked(d, m->acks[i], m->from.id);
}

/* Move acks owed to 'to' onto m while it has room. */
static void ride(stage_dht_t *d, stage_dht_msg_t *m,
                 const stage_dht_peer_t *to) {
    size_t k = 0;
    for (size_t i = 0; i < d->acks.n; i++) {
        ack_t *a = &d->acks.v[i];
        if (m->nacks < STAGE_DHT_ACKS_MAX && a->to.id == to->id &&
            !strcmp(a->to.addr, to->addr))
            m->acks[m->nacks++] = a->seq;
        else
            d->acks.v[k++] = *a;
    }
    d->acks.n = k;
}

uint64_t stage__dht_flush_acks(stage_dht_t *d, bool all) {
    if (!d->acks.n) return UINT64_MAX;
    for (size_t i = 0; i < d->out.n && d->acks.n; i++)
        ride(d, &d->out.v[i], &d->dests.v[i]);
    for (size_t i = 0; i < d->acks.n;) {
        if (!all && d->acks.v[i].due > d->now) {
            i++;
            continue;
        }
        stage_dht_peer_t to = d->acks.v[i].to;
        stage_dht_msg_t *m = stage__dht_send(d, STAGE_DHT_M_ACK, &to);
        if (!m) break; /* out of memory: the hops are retried */
        ride(d, m, &to);
        i = 0;
    }
    uint64_t t = UINT64_MAX;
    for (size_t i = 0; i < d->acks.n; i++)
        if (d->acks.v[i].due < t) t = d->acks.v[i].due;
    return t;
}

void stage__dht_route_tick(stage_dht_t *d) {
    for (size_t i = 0; i < d->hops.n;) {
        hop_t *h = d->hops.v[i];
        if (h->deadline > d->now) {
            i++;
            continue;
        }
        uint64_t failed = h->tried[h->ntried - 1];
        /* a silent successor is judged by stabilize; others we drop */
        if (!(d->nsucc && d->succ[0].id == failed))
            stage__dht_peer_failed(d, failed);
        if (send_hop(d, h)) {
            i++;
            continue;
        }
        hop_free(h);
        d->hops.v[i] = d->hops.v[--d->hops.n];
    }
}
