/*
** dht/route.c: recursive routing with a per-hop acknowledgement.
** A routed message goes to the closest preceding member we know of; the
** member that receives it acknowledges at once. A hop not acknowledged in
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

#include "dht/dht_internal.h"

static bool excluded(uint64_t id, const uint64_t *excl, int n) {
    for (int i = 0; i < n; i++)
        if (excl[i] == id) return true;
    return false;
}

const stage_dht_peer_t *stage__dht_next_hop(const stage_dht_t *d, uint64_t key,
                                            const uint64_t *excl, int nexcl,
                                            bool *final) {
    uint64_t self = d->self.id;
    *final = false;
    for (int i = 0; i < d->nsucc; i++) {
        const stage_dht_peer_t *s = &d->succ[i];
        if (excluded(s->id, excl, nexcl)) continue;
        if (in_oc(key, self, s->id)) {
            *final = true; /* s is the first live member at or after key */
            return s;
        }
        break;
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
        p = stage__dht_next_hop(d, h->msg.key, h->tried, h->ntried, &final);
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
        m->data = malloc(h->msg.len);
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
    free(h->msg.data);
    free(h);
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
        free(m->data);
        m->data = NULL;
        return;
    }
    if (m->hops >= MAX_HOPS) {
        free(m->data);
        m->data = NULL;
        return;
    }
    hop_t *h = malloc(sizeof(*h));
    hop_t **slot = h ? VEC_PUSH(d->hops) : NULL;
    if (!slot) {
        free(h);
        free(m->data);
        m->data = NULL;
        return;
    }
    memcpy(&h->msg, m, offsetof(stage_dht_msg_t, peers));
    h->msg.hops++;
    h->msg.npeers = 0;
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

void stage__dht_route_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    if (m->from.id != d->self.id) {
        stage_dht_msg_t *a = stage__dht_send(d, STAGE_DHT_M_ACK, &m->from);
        if (a) a->seq = m->seq;
    }
    if (m->op == 0 || m->op >= STAGE_DHT_OP__END) return;
    /* an orphan looking for its predecessor (key = its id - 1): if it lies
    ** between us and our successor, we skipped it after failures */
    if (m->op == STAGE_DHT_OP_LOOKUP && m->key == m->origin.id - 1)
        stage__dht_closer_seen(d, &m->origin);
    stage_dht_msg_t c;
    memcpy(&c, m, offsetof(stage_dht_msg_t, peers));
    c.npeers = 0;
    c.data = NULL;
    if (m->len) {
        c.data = malloc(m->len);
        if (!c.data) return;
        memcpy(c.data, m->data, m->len);
    }
    stage__dht_route(d, &c);
}

void stage__dht_ack_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    for (size_t i = 0; i < d->hops.n; i++) {
        hop_t *h = d->hops.v[i];
        if (h->seq == m->seq && h->ntried &&
            h->tried[h->ntried - 1] == m->from.id) {
            hop_free(h);
            d->hops.v[i] = d->hops.v[--d->hops.n];
            return;
        }
    }
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
