/*
** dht/kv.c: requests at the asker — send, retry, fall back, complete —
** and the entries this manager owns and renews.
** A request is routed to one replica key: the primary for writes and
** watches, the primary first and then the others for reads. It is retried
** after request_timeout_ms (a read moves to the next replica) and fails
** with STAGE_ETIMEOUT after request_tries. The answer comes straight from
** the key's owner as a REPLY carrying our rid.
** Owned entries: after a write succeeds we know who holds each replica;
** every lease_ms/3 we renew them with one RENEW message per holder. A
** holder that lacks an entry says MISSING and we put that replica again.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "util/alloc.h"

uint64_t stage_dht_replica(uint64_t k, int i, int r) {
    if (r <= 1) return k;
    uint64_t step = UINT64_MAX / (uint64_t)r +
                    (UINT64_MAX % (uint64_t)r == (uint64_t)r - 1 ? 1 : 0);
    return k + (uint64_t)i * step;
}

int stage_dht_primary_index(uint64_t k, int r) {
    int best = 0;
    for (int i = 1; i < r; i++)
        if (stage_dht_replica(k, i, r) < stage_dht_replica(k, best, r))
            best = i;
    return best;
}

uint64_t stage__dht_base(const stage_dht_t *d, uint64_t key, int index) {
    return key - stage_dht_replica(0, index, d->cfg.replicas);
}

static int max_tries(const stage_dht_t *d, int kind) {
    switch (kind) {
    case RQ_USER:
        return d->cfg.request_tries;
    case RQ_JOIN:
        return 1 << 30;
    case RQ_COPY:
    case RQ_REPUT:
    case RQ_WATCH:
        return 2;
    default:
        return 1;
    }
}

static uint64_t target(const stage_dht_t *d, const request_t *r) {
    if (r->op == STAGE_DHT_OP_LOOKUP || r->op == STAGE_DHT_OP_FETCH)
        return r->base;
    return stage_dht_replica(r->base, r->index, d->cfg.replicas);
}

/* r's next try is due at t. */
static void req_due(stage_dht_t *d, request_t *r, uint64_t t) {
    stage__dht_ix_set(&d->reqs, &r->ix, t);
}

static void send_req(stage_dht_t *d, request_t *r) {
    req_due(d, r, d->now + d->cfg.request_timeout_ms);
    stage_dht_msg_t m;
    memset(&m, 0, offsetof(stage_dht_msg_t, peers));
    m.type = STAGE_DHT_M_ROUTE;
    m.op = (uint8_t)r->op;
    m.rid = r->ix.id;
    m.key = target(d, r);
    m.arg = r->arg;
    m.flags = r->flags;
    m.origin = m.from = d->self;
    if (r->len) {
        m.data = stage__malloc(r->len);
        if (!m.data) return;
        memcpy(m.data, r->data, r->len);
        m.len = r->len;
    }
    if (r->via.addr[0]) { /* straight to a member we cannot route to yet */
        stage_dht_msg_t *s = stage__dht_send(d, STAGE_DHT_M_ROUTE, &r->via);
        if (!s) {
            stage__free(m.data);
            return;
        }
        m.to = s->to;
        *s = m;
        s->npeers = 0;
        return;
    }
    stage__dht_route(d, &m);
}

int stage__dht_request(stage_dht_t *d, const reqspec_t *s, payload_t *pl) {
    request_t *r = stage__malloc(sizeof(*r));
    if (!r || (pl && pl->err)) {
        stage__free(r);
        if (pl) stage__free(pl->data);
        return r ? pl->err : STAGE_ENOMEM;
    }
    memset(r, 0, sizeof(*r));
    r->ix.id = ++d->rid;
    r->ix.deadline = d->now; /* send_req sets it */
    if (stage__dht_ix_add(&d->reqs, &r->ix)) {
        stage__free(r);
        if (pl) stage__free(pl->data);
        return STAGE_ENOMEM;
    }
    r->kind = s->kind;
    r->op = s->op;
    r->req = s->req;
    r->base = s->key;
    r->sub = s->sub;
    r->arg = s->arg;
    r->index = s->index;
    r->flags = s->flags;
    if (s->via) r->via = *s->via;
    if (pl) {
        r->data = pl->data;
        r->len = pl->len;
    }
    send_req(d, r);
    return 0;
}

static void req_remove(stage_dht_t *d, request_t *r) {
    stage__dht_ix_remove(&d->reqs, &r->ix);
    stage__free(r->data);
    stage__free(r);
}

/* owned_at's key for (base, sub): a mix, never 0. Two entries may share
** one: the second is then loose, found by a scan (as every entry was). */
static uint64_t owned_key(uint64_t base, uint64_t sub) {
    uint64_t z = base ^ (sub + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1;
}

owned_t *stage__dht_owned_find(stage_dht_t *d, uint64_t base, uint64_t sub) {
    uintptr_t i =
        (uintptr_t)stage__u64map_get(&d->owned_at, owned_key(base, sub));
    if (i && d->owned.v[i - 1].base == base && d->owned.v[i - 1].sub == sub)
        return &d->owned.v[i - 1];
    for (size_t j = 0; d->owned_loose && j < d->owned.n; j++)
        if (d->owned.v[j].base == base && d->owned.v[j].sub == sub)
            return &d->owned.v[j];
    return NULL;
}

/* A new entry at the end of owned, for (base, sub); NULL if out of memory. */
static owned_t *owned_add(stage_dht_t *d, uint64_t base, uint64_t sub) {
    owned_t *o = VEC_PUSH(d->owned);
    if (!o) return NULL;
    memset(o, 0, sizeof(*o));
    o->base = base;
    o->sub = sub;
    uint64_t k = owned_key(base, sub);
    o->mapped =
        !stage__u64map_get(&d->owned_at, k) &&
        stage__u64map_put(&d->owned_at, k, (void *)(uintptr_t)d->owned.n) == 0;
    if (!o->mapped) d->owned_loose++;
    return o;
}

void stage__dht_owned_drop(stage_dht_t *d, owned_t *o) {
    stage__free(o->value);
    if (o->mapped)
        stage__u64map_take(&d->owned_at, owned_key(o->base, o->sub));
    else
        d->owned_loose--;
    owned_t *last = &d->owned.v[--d->owned.n];
    if (last == o) return;
    *o = *last;
    if (o->mapped) /* the key is there: this put never grows the map */
        stage__u64map_put(&d->owned_at, owned_key(o->base, o->sub),
                          (void *)(uintptr_t)(o - d->owned.v + 1));
}

/* A write of ours succeeded: remember the entry and its holders. */
static void owned_update(stage_dht_t *d, const request_t *r,
                         const stage_dht_msg_t *m) {
    rec_t rec;
    uint32_t off = 0;
    if (stage__dht_pl_next(r->data, r->len, &off, &rec) != 1) return;
    for (size_t i = 0; (r->flags & RF_REPLACE) && i < d->owned.n;) {
        if (d->owned.v[i].base == r->base && d->owned.v[i].sub != rec.sub)
            stage__dht_owned_drop(d, &d->owned.v[i]);
        else
            i++;
    }
    owned_t *o = stage__dht_owned_find(d, r->base, rec.sub);
    if (!o) o = owned_add(d, r->base, rec.sub);
    if (!o) return;
    char *v = rec.len ? stage__malloc(rec.len) : NULL;
    if (rec.len && !v) return;
    if (rec.len) memcpy(v, rec.value, rec.len);
    stage__free(o->value);
    o->value = v;
    o->len = rec.len;
    o->ver = m->arg; /* 0 from a primary that does not tell it */
    o->flags =
        (uint32_t)(r->op == STAGE_DHT_OP_CLAIM ? r->op : STAGE_DHT_OP_PUT) |
        (r->flags & (RF_BYSUB | RF_TAKEOVER)) << 8;
    for (int i = 0; i < m->npeers && i < 8; i++)
        if (m->peers[i].id) {
            o->holder[i] = m->peers[i];
            o->sent[i] = o->acked[i] = d->now;
        }
}

/* Put replica i of an owned entry again (it went missing). */
static void reput(stage_dht_t *d, owned_t *o, int i) {
    int r = d->cfg.replicas;
    int prim = stage_dht_primary_index(o->base, r);
    payload_t pl = {0};
    /* our last write's version: a copy put straight at a replica is that
    ** write again (version 0 lost every merge into a stale entry); the
    ** primary decides a later one, after it */
    rec_t rec = {stage_dht_replica(o->base, i, r),
                 o->sub,
                 d->self.id,
                 o->ver,
                 d->cfg.lease_ms,
                 (uint8_t)i,
                 o->len,
                 o->value,
                 false};
    stage__dht_pl_rec(&pl, &rec);
    reqspec_t s = {.kind = RQ_REPUT, .index = i, .key = o->base, .sub = o->sub};
    s.op = i == prim ? (int)(o->flags & 0xff) : STAGE_DHT_OP_COPY;
    s.flags = (o->flags >> 8) & (RF_BYSUB | RF_TAKEOVER);
    o->holder[i].id = 0;
    o->asked = d->now;
    stage__dht_request(d, &s, &pl);
}

static void reply_reput(stage_dht_t *d, const request_t *r,
                        const stage_dht_msg_t *m) {
    owned_t *o = stage__dht_owned_find(d, r->base, r->sub);
    if (!o) return;
    if (m->status == STAGE_EEXISTS) { /* someone else holds it now: lost */
        stage__dht_owned_drop(d, o);
        return;
    }
    if (m->status) return;
    if (r->op != STAGE_DHT_OP_COPY && m->arg) o->ver = m->arg; /* decided */
    for (int i = 0; i < 8; i++) {
        const stage_dht_peer_t *h = r->op == STAGE_DHT_OP_COPY
                                        ? (i == r->index ? &m->peer : NULL)
                                        : (i < m->npeers ? &m->peers[i] : NULL);
        if (!h || !h->id) continue;
        o->holder[i] = *h;
        o->sent[i] = o->acked[i] = d->now;
    }
}

/* Merge what a replica sent for our repaired range (sub, req] = (lo, hi]:
** each entry is mapped back to its replica that falls in our range. */
static void reply_fetch(stage_dht_t *d, const request_t *r,
                        const stage_dht_msg_t *m) {
    rec_t rec;
    uint32_t off = 0;
    int n = d->cfg.replicas;
    while (stage__dht_pl_next(m->data, m->len, &off, &rec) == 1) {
        if (rec.index >= n || rec.ttl == 0) continue;
        uint64_t base = stage__dht_base(d, rec.key, rec.index);
        for (int j = 0; j < n; j++) {
            rec_t c = rec;
            c.key = stage_dht_replica(base, j, n);
            c.index = (uint8_t)j;
            if (in_oc(c.key, r->sub, r->req)) stage__dht_store(d, &c, true);
        }
    }
}

static void repair_done(stage_dht_t *d) {
    if (d->repair_left > 0 && --d->repair_left == 0) d->repair_until = 0;
}

static void on_reply(stage_dht_t *d, const stage_dht_msg_t *m) {
    request_t *r = (request_t *)stage__dht_ix_get(&d->reqs, m->rid);
    if (!r || m->op != r->op) return;
    if (r->op == STAGE_DHT_OP_GET && m->status == STAGE_ENAME_NOT_FOUND &&
        ++r->misses < d->cfg.replicas) {
        /* one replica may have lost it (a failure, a repair under way):
        ** only all of them saying so is an answer */
        r->index = (r->index + 1) % d->cfg.replicas;
        send_req(d, r);
        return;
    }
    if (m->status == STAGE_EBUSY) { /* a repair is under way there */
        /* a repair on a sound ring takes round trips, not periods: ask
        ** again soon (a node restarted at once claims its names while
        ** its dead run's range is repaired). A read asks the next
        ** replica at once, and waits only when every replica said so: a
        ** ring that a join has just changed repairs all of them at once,
        ** and four answers in a few milliseconds must not fail a read */
        int waits = BUSY_WAITS;
        uint64_t again = d->now + d->cfg.period_ms / BUSY_SPLIT;
        if (r->op == STAGE_DHT_OP_GET) { /* as long, in shorter waits */
            waits *= d->cfg.replicas * (BUSY_READ_SPLIT / BUSY_SPLIT);
            again = d->now + d->cfg.period_ms / BUSY_READ_SPLIT;
            if ((r->busy + 1) % d->cfg.replicas) again = d->now;
        }
        req_due(d, r, again);
        if (r->busy++ < waits) r->tries--; /* waiting is no try */
        return;
    }
    switch (r->kind) {
    case RQ_USER:
        if (r->op == STAGE_DHT_OP_LOOKUP) {
            payload_t pl = {0};
            rec_t rec = {r->base, 0, m->peer.id, 0, 0, 0, 0, NULL, false};
            stage__dht_pl_rec(&pl, &rec);
            stage__dht_done(d, r->req, 0, m->hops, pl.data, pl.len,
                            STAGE_DHT_FX_DONE);
            stage__free(pl.data);
            break;
        }
        if (m->status == 0 &&
            (r->op == STAGE_DHT_OP_PUT || r->op == STAGE_DHT_OP_CLAIM ||
             r->op == STAGE_DHT_OP_CAS))
            owned_update(d, r, m);
        stage__dht_done(d, r->req, m->status, m->hops, m->data, m->len,
                        STAGE_DHT_FX_DONE);
        break;
    case RQ_COPY:
        stage__dht_decision_copied(d, r->req, r->index, &m->peer, true);
        break;
    case RQ_REPUT:
        reply_reput(d, r, m);
        break;
    case RQ_REPAIR:
        reply_fetch(d, r, m);
        if (!(m->flags & RF_LAST)) return; /* more parts of the walk come */
        repair_done(d);
        break;
    case RQ_WATCH:
        break;
    default:
        stage__dht_ring_found(d, r, m);
        break;
    }
    req_remove(d, r);
}

/* An owner asks us to renew; answer with what we do not hold for it. */
static void on_missing(stage_dht_t *d, const stage_dht_msg_t *m) {
    rec_t rec;
    uint32_t off = 0;
    for (size_t i = 0; i < d->owned.n; i++) /* the holder answered */
        for (int j = 0; j < d->cfg.replicas; j++)
            if (d->owned.v[i].holder[j].id == m->from.id)
                d->owned.v[i].acked[j] = d->now;
    while (stage__dht_pl_next(m->data, m->len, &off, &rec) == 1) {
        if (rec.index >= d->cfg.replicas) continue;
        owned_t *o = stage__dht_owned_find(
            d, stage__dht_base(d, rec.key, rec.index), rec.sub);
        if (o && o->holder[rec.index].id == m->from.id) reput(d, o, rec.index);
    }
}

static void on_event(stage_dht_t *d, const stage_dht_msg_t *m) {
    int R = d->cfg.replicas;
    for (size_t i = 0; i < d->mywatches.n; i++) {
        uint64_t k = d->mywatches.v[i].key; /* base key; events name the
                                             ** primary's replica key */
        if (d->mywatches.v[i].req != m->arg ||
            stage_dht_replica(k, stage_dht_primary_index(k, R), R) != m->key)
            continue;
        stage__dht_done(d, m->arg, 0, 0, m->data, m->len, STAGE_DHT_FX_WATCH);
        return;
    }
}

void stage__dht_kv_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    rec_t rec;
    uint32_t off = 0;
    switch (m->type) {
    case STAGE_DHT_M_REPLY:
        on_reply(d, m);
        break;
    case STAGE_DHT_M_TRANSFER:
        while (stage__dht_pl_next(m->data, m->len, &off, &rec) == 1)
            if (rec.index < d->cfg.replicas && rec.ttl)
                stage__dht_store(d, &rec, true);
        break;
    case STAGE_DHT_M_EVENT:
        on_event(d, m);
        break;
    case STAGE_DHT_M_RENEW:
        stage__dht_renew_recv(d, m);
        break;
    case STAGE_DHT_M_MISSING:
        on_missing(d, m);
        break;
    default:
        break;
    }
}

static void req_failed(stage_dht_t *d, request_t *r) {
    if (r->kind == RQ_USER)
        stage__dht_done(d, r->req, STAGE_ETIMEOUT, 0, NULL, 0,
                        STAGE_DHT_FX_DONE);
    else if (r->kind == RQ_COPY)
        stage__dht_decision_copied(d, r->req, r->index, NULL, false);
    else if (r->kind == RQ_REPAIR)
        repair_done(d);
}

/* Renew every owned entry: one RENEW per holder. */
typedef struct renewal {
    const stage_dht_peer_t *holder;
    rec_t rec;
} renewal_t;

static int renewal_cmp(const void *a, const void *b) {
    uint64_t x = ((const renewal_t *)a)->holder->id;
    uint64_t y = ((const renewal_t *)b)->holder->id;
    return x < y ? -1 : x > y;
}

static void renew(stage_dht_t *d) {
    int r = d->cfg.replicas;
    renewal_t *v = stage__malloc(d->owned.n * (size_t)r * sizeof(*v) + 1);
    if (!v) return;
    size_t n = 0;
    for (size_t i = 0; i < d->owned.n; i++) {
        owned_t *o = &d->owned.v[i];
        for (int j = 0; j < r; j++) {
            if (o->holder[j].id && o->sent[j] > o->acked[j])
                o->holder[j].id = 0; /* silent since the last round: gone */
            if (o->holder[j].id == 0) {
                if (d->now - o->asked >= d->cfg.request_timeout_ms)
                    reput(d, o, j);
                continue;
            }
            o->sent[j] = d->now;
            rec_t rec = {stage_dht_replica(o->base, j, r),
                         o->sub,
                         d->self.id,
                         0,
                         d->cfg.lease_ms,
                         (uint8_t)j,
                         0,
                         NULL,
                         false};
            v[n].holder = &o->holder[j];
            v[n++].rec = rec;
        }
    }
    qsort(v, n, sizeof(*v), renewal_cmp);
    for (size_t i = 0; i < n;) {
        payload_t pl = {0};
        size_t j = i;
        for (; j < n && v[j].holder->id == v[i].holder->id; j++)
            stage__dht_pl_rec(&pl, &v[j].rec);
        stage_dht_msg_t *m =
            pl.err ? NULL : stage__dht_send(d, STAGE_DHT_M_RENEW, v[i].holder);
        if (m) {
            m->data = pl.data;
            m->len = pl.len;
        } else {
            stage__free(pl.data);
        }
        i = j;
    }
    stage__free(v);
    for (size_t i = 0; i < d->mywatches.n; i++) {
        reqspec_t s = {.kind = RQ_WATCH,
                       .op = STAGE_DHT_OP_WATCH,
                       .key = d->mywatches.v[i].key,
                       .arg = d->mywatches.v[i].req};
        s.index = stage_dht_primary_index(s.key, r);
        stage__dht_request(d, &s, NULL);
    }
}

void stage__dht_kv_tick(stage_dht_t *d) {
    tnode_t *n; /* the due requests, in the order the old scan took them */
    stage__dht_ix_due(&d->reqs, d->now);
    while ((n = stage__dht_ix_due_next(&d->reqs)) != NULL) {
        request_t *r = (request_t *)n;
        if (++r->tries < max_tries(d, r->kind)) {
            if (r->op == STAGE_DHT_OP_GET)
                r->index = (r->index + 1) % d->cfg.replicas;
            send_req(d, r);
            continue;
        }
        req_failed(d, r);
        req_remove(d, r);
    }
    stage__dht_primary_tick(d);
    if (d->now >= d->next_period) stage__dht_table_tick(d);
    if (d->now >= d->next_renew) {
        d->next_renew = d->now + d->cfg.lease_ms / 3;
        renew(d);
    }
}

void stage__dht_kv_free(stage_dht_t *d) {
    while (d->reqs.list.n)
        req_remove(d, (request_t *)d->reqs.list.v[d->reqs.list.n - 1]);
    stage__dht_ix_free(&d->reqs);
    for (size_t i = 0; i < d->owned.n; i++)
        stage__free(d->owned.v[i].value);
    stage__free(d->owned.v);
    stage__u64map_free(&d->owned_at);
    stage__free(d->mywatches.v);
    stage__dht_primary_free(d);
}

size_t stage_dht_owned_count(const stage_dht_t *d) {
    return d->owned.n;
}
