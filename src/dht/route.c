/*
** dht/route.c: recursive routing with a per-hop acknowledgement.
** A routed message goes to the closest preceding member we know of, or
** straight to the key's owner when our successor list shows it; the
** member that receives it owes an ack, which rides on the next message
** it sends to the previous hop within ack_delay_ms (a REPLY, usually) or
** else goes alone (ACK, every ack owed to that member at once). A hop not
** acknowledged in hop_timeout_ms is retried through another route (never one
** that already
** failed for this message), up to HOP_TRIES; then it is dropped and the
** asker's own timeout retries the whole request. The owner of the key (the
** member whose range (pred, self] holds it) handles it and answers the
** asker directly.
** Invariant: every pending hop holds its own copy of the message.
** Pure logic: no I/O.
*/
#include <assert.h>
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

/* Send the hop's message to its next try, and index it by the new seq;
** false if no route is left (the hop is then out of the index). */
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
    m->seq = ++d->seq;
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
    uint64_t deadline = d->now + d->cfg.hop_timeout_ms;
    if (h->ix.id) { /* a retry: the ack names the new seq */
        stage__dht_ix_set(&d->hops, &h->ix, deadline);
        stage__dht_ix_rekey(&d->hops, &h->ix, m->seq);
        return true;
    }
    h->ix.id = m->seq;
    h->ix.deadline = deadline;
    if (stage__dht_ix_add(&d->hops, &h->ix) == 0) return true;
    h->ix.id = 0;
    return false;
}

static void hop_free(hop_t *h) {
    stage__free(h->msg.data);
    stage__free(h);
}

/* Drop h: out of the index (if in it: ix.id != 0) and freed. */
static void hop_drop(stage_dht_t *d, hop_t *h) {
    if (h->ix.id) stage__dht_ix_remove(&d->hops, &h->ix);
    hop_free(h);
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
    if (!h) {
        stage__free(m->data);
        m->data = NULL;
        return;
    }
    h->ix.id = 0; /* indexed once sent (send_hop) */
    memcpy(&h->msg, m, offsetof(stage_dht_msg_t, peers));
    h->msg.hops++;
    h->msg.npeers = h->msg.nacks = 0;
    h->ntried = 0;
    /* sent to us as the key's successor, but the key is before our pred:
    ** the sender's successor pointer is stale; walk back */
    h->back = (m->flags & RF_FINAL) && d->pred.id &&
              in_oc(m->key, d->self.id, d->pred.id);
    m->data = NULL;
    if (!send_hop(d, h)) hop_drop(d, h);
}

/* The ack numbered k (in the queue). */
static ack_t *ack_at(stage_dht_t *d, uint64_t k) {
    assert(k >= d->ack_base && k - d->ack_base < d->acks.n);
    return &d->acks.v[k - d->ack_base];
}

static void owe_ack(stage_dht_t *d, const stage_dht_peer_t *to, uint64_t seq) {
    uint32_t delay = d->cfg.ack_delay_ms;
    if (delay > d->cfg.hop_timeout_ms / 4) delay = d->cfg.hop_timeout_ms / 4;
    ackto_t *g = stage__u64map_get(&d->ackto, to->id);
    if (!g) {
        g = stage__malloc(sizeof(*g));
        if (!g || stage__u64map_put(&d->ackto, to->id, g)) {
            stage__free(g);
            return; /* the hop is retried: costs time, not correctness */
        }
        g->first = g->last = 0;
    }
    ack_t *a = VEC_PUSH(d->acks);
    if (!a) {
        if (!g->first) stage__free(stage__u64map_take(&d->ackto, to->id));
        return;
    }
    a->to = *to;
    a->seq = seq;
    a->due = d->now + delay;
    a->next = 0;
    a->gone = false;
    /* the queue stays in due order: the first owed is the first due */
    assert(d->acks.n < 2 || a[-1].due <= a->due);
    uint64_t k = d->ack_base + d->acks.n - 1;
    if (g->last)
        ack_at(d, g->last)->next = k;
    else
        g->first = k;
    g->last = k;
    d->acks_owed++;
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
    hop_t *h = (hop_t *)stage__dht_ix_get(&d->hops, seq);
    if (h && h->ntried && h->tried[h->ntried - 1] == from) hop_drop(d, h);
}

void stage__dht_ack_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    for (int i = 0; i < m->nacks && i < STAGE_DHT_ACKS_MAX; i++)
        acked(d, m->acks[i], m->from.id);
}

/* Move acks owed to 'to' onto m while it has room, oldest first. */
static void ride(stage_dht_t *d, stage_dht_msg_t *m,
                 const stage_dht_peer_t *to) {
    ackto_t *g = stage__u64map_get(&d->ackto, to->id);
    if (!g) return;
    uint64_t prev = 0;
    for (uint64_t k = g->first; k && m->nacks < STAGE_DHT_ACKS_MAX;) {
        ack_t *a = ack_at(d, k);
        uint64_t next = a->next;
        if (strcmp(a->to.addr, to->addr)) { /* the id at another address */
            prev = k;
            k = next;
            continue;
        }
        m->acks[m->nacks++] = a->seq;
        a->gone = true;
        d->acks_owed--;
        if (prev)
            ack_at(d, prev)->next = next;
        else
            g->first = next;
        if (g->last == k) g->last = prev;
        k = next;
    }
    if (!g->first) stage__free(stage__u64map_take(&d->ackto, to->id));
}

/* The oldest ack still owed, or NULL; drops the gone ones before it. */
static ack_t *ack_first(stage_dht_t *d) {
    while (d->ack_head < d->acks.n && d->acks.v[d->ack_head].gone)
        d->ack_head++;
    if (d->ack_head == d->acks.n) { /* none owed: start the queue again */
        d->ack_base += d->acks.n;
        d->acks.n = d->ack_head = 0;
        return NULL;
    }
    if (d->ack_head >= 64 && d->ack_head * 2 >= d->acks.n) {
        /* never empty under steady traffic: shift it down now and then */
        memmove(d->acks.v, d->acks.v + d->ack_head,
                (d->acks.n - d->ack_head) * sizeof(*d->acks.v));
        d->ack_base += d->ack_head;
        d->acks.n -= d->ack_head;
        d->ack_head = 0;
    }
    return &d->acks.v[d->ack_head];
}

uint64_t stage__dht_flush_acks(stage_dht_t *d, bool all) {
    if (!d->acks_owed) { /* all rode: empty the queue */
        ack_first(d);
        return UINT64_MAX;
    }
    for (size_t i = 0; i < d->out.n && d->acks_owed; i++)
        ride(d, &d->out.v[i], &d->dests.v[i]);
    ack_t *a;
    while ((a = ack_first(d)) && (all || a->due <= d->now)) {
        stage_dht_peer_t to = a->to;
        stage_dht_msg_t *m = stage__dht_send(d, STAGE_DHT_M_ACK, &to);
        if (!m) break; /* out of memory: the hops are retried */
        ride(d, m, &to);
    }
    a = ack_first(d);
    return a ? a->due : UINT64_MAX;
}

static void free_val(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage__dht_route_free(stage_dht_t *d) {
    tnode_t *n;
    while (d->hops.list.n) {
        n = d->hops.list.v[d->hops.list.n - 1];
        stage__dht_ix_remove(&d->hops, n);
        hop_free((hop_t *)n);
    }
    stage__dht_ix_free(&d->hops);
    stage__u64map_each(&d->ackto, free_val, NULL);
    stage__u64map_free(&d->ackto);
    stage__free(d->acks.v);
}

void stage__dht_route_tick(stage_dht_t *d) {
    tnode_t *n; /* the due hops, in the order the old scan took them */
    stage__dht_ix_due(&d->hops, d->now);
    while ((n = stage__dht_ix_due_next(&d->hops)) != NULL) {
        hop_t *h = (hop_t *)n;
        uint64_t failed = h->tried[h->ntried - 1];
        /* a silent successor is judged by stabilize; others we drop */
        if (!(d->nsucc && d->succ[0].id == failed))
            stage__dht_peer_failed(d, failed);
        if (!send_hop(d, h)) hop_drop(d, h);
    }
}
