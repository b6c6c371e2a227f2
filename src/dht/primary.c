/*
** dht/primary.c: what the owner of a key does — answer reads, decide
** writes at the primary and copy them to the other replicas, hold
** watches, renew leases, hand ranges over and repair them.
** A write is answered only after at least one copy is acknowledged (R>1),
** so a claim reported won survives the primary's crash: its successor
** repairs the range from the copies, and holds atomic writes in that range
** (STAGE_EBUSY: the asker retries) until the repair is done or 3 periods
** have passed.
** Invariants: decisions[] are writes waiting for copies; watches[] are
** leased and dropped when their lease ends.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "stage/pack.h"
#include "util/alloc.h"

bool stage__dht_frozen(const stage_dht_t *d, uint64_t key) {
    return d->repair_until > d->now && in_oc(key, d->repair_lo, d->repair_hi);
}

static stage_dht_msg_t *reply(stage_dht_t *d, const stage_dht_msg_t *m,
                              int status) {
    stage_dht_msg_t *r = stage__dht_send(d, STAGE_DHT_M_REPLY, &m->origin);
    if (!r) return NULL;
    r->op = m->op;
    r->rid = m->rid;
    r->status = status;
    r->hops = m->hops;
    r->peer = d->self;
    return r; /* no key: the asker matches rid and op */
}

static void attach(stage_dht_msg_t *r, payload_t *pl) {
    if (r && !pl->err) {
        r->data = pl->data;
        r->len = pl->len;
        /* records under the message's key leave theirs out on the wire */
        rec_t first;
        uint32_t off = 0;
        if (stage__dht_pl_next(r->data, r->len, &off, &first) == 1)
            r->key = first.key;
    } else {
        stage__free(pl->data);
    }
}

/* The live items of key (not its tombstones). */
static void items(stage_dht_t *d, uint64_t key, payload_t *pl) {
    etab_it_t it;
    for (entry_t *e = stage__dht_first(d, key, &it); e && e->key == key;
         e = stage__dht_next(d, &it))
        if (e->expires > d->now && !e->gone) stage__dht_pl_entry(pl, e, d->now);
}

/* ---- watches held here: a timed index (their leases), and by key a
** list each, unordered ---- */
#define WATCH_MIX 0x5bd1e9955bd1e995ull

held_t *stage__dht_watches_on(const stage_dht_t *d, uint64_t key) {
    uint64_t k = key ^ WATCH_MIX;
    return k ? stage__u64map_get(&d->watches_at, k) : d->watches_zero;
}

/* Make h the first held on its key (NULL: none left). 0 or STAGE_ENOMEM
** (only when the key had none). */
static int watches_first(stage_dht_t *d, uint64_t key, held_t *h) {
    uint64_t k = key ^ WATCH_MIX;
    if (!k) {
        d->watches_zero = h;
        return 0;
    }
    if (h) return stage__u64map_put(&d->watches_at, k, h);
    stage__u64map_take(&d->watches_at, k);
    return 0;
}

/* Hold a new watch (lease until expires); NULL if out of memory. */
static held_t *held_add(stage_dht_t *d, const stage_dht_msg_t *m,
                        uint64_t expires) {
    held_t *h = stage__calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->ix.id = ++d->watch_ids;
    h->ix.deadline = expires;
    h->key = m->key;
    h->req = m->arg;
    h->watcher = m->origin;
    h->next = stage__dht_watches_on(d, m->key);
    if (stage__dht_ix_add(&d->watches, &h->ix) || watches_first(d, m->key, h)) {
        if (stage__dht_ix_get(&d->watches, h->ix.id))
            stage__dht_ix_remove(&d->watches, &h->ix);
        stage__free(h);
        return NULL;
    }
    if (h->next) h->next->prev = h;
    return h;
}

static void held_drop(stage_dht_t *d, held_t *h) {
    if (h->prev)
        h->prev->next = h->next;
    else
        watches_first(d, h->key, h->next); /* the key is there: no growth */
    if (h->next) h->next->prev = h->prev;
    stage__dht_ix_remove(&d->watches, &h->ix);
    stage__free(h);
}

static int by_pos(const void *a, const void *b) {
    size_t x = (*(held_t *const *)a)->ix.pos;
    size_t y = (*(held_t *const *)b)->ix.pos;
    return x < y ? -1 : x > y;
}

void stage__dht_changed(stage_dht_t *d, uint64_t key) {
    /* in the order they were held (the order of a scan over them all) */
    held_t *first = stage__dht_watches_on(d, key);
    if (!first) return;
    d->watches_some.n = 0;
    for (held_t *h = first; h; h = h->next) {
        held_t **slot = VEC_PUSH(d->watches_some);
        if (!slot) break; /* out of memory: these are told, not the rest */
        *slot = h;
    }
    qsort(d->watches_some.v, d->watches_some.n, sizeof(*d->watches_some.v),
          by_pos);
    for (size_t i = 0; i < d->watches_some.n; i++) {
        held_t *w = d->watches_some.v[i];
        stage_dht_msg_t *e = stage__dht_send(d, STAGE_DHT_M_EVENT, &w->watcher);
        if (!e) return;
        e->key = key;
        e->arg = w->req;
        payload_t pl = {0};
        items(d, key, &pl);
        attach(e, &pl);
    }
}

static void on_get(stage_dht_t *d, const stage_dht_msg_t *m) {
    payload_t pl = {0};
    items(d, m->key, &pl);
    attach(reply(d, m, pl.len ? 0 : STAGE_ENAME_NOT_FOUND), &pl);
}

static void on_watch(stage_dht_t *d, const stage_dht_msg_t *m) {
    held_t *w = stage__dht_watches_on(d, m->key);
    while (w && (w->watcher.id != m->origin.id || w->req != m->arg))
        w = w->next;
    uint64_t expires = d->now + d->cfg.lease_ms;
    if (w)
        stage__dht_ix_set(&d->watches, &w->ix, expires);
    else
        held_add(d, m, expires);
    payload_t pl = {0};
    items(d, m->key, &pl);
    attach(reply(d, m, 0), &pl);
}

/* Does a name claim (RF_TAKEOVER) meet an item that names an actor of an
** earlier run of the claimant's own node? Incarnations are random, so
** "earlier" cannot be read from their numbers; the address decides. One
** process at a time listens at an address, and the claimant listens at
** m->origin.addr now (a node claims names only for its own actors: the
** claimed id is at that address). An item naming another incarnation at
** that address therefore names a run that has ended: a node restarted
** after a crash takes its names back at once instead of waiting for the
** dead run's leases. */
static bool earlier_run(const stage_dht_msg_t *m, const rec_t *r,
                        const entry_t *e) {
    stage_id_t mine, held;
    stage_unpack_t u;
    if (!(m->flags & RF_TAKEOVER)) return false;
    stage_unpack_init(&u, r->value, r->len);
    if (stage_unpack_id(&u, &mine)) return false;
    stage_unpack_init(&u, e->value, e->len);
    if (stage_unpack_id(&u, &held)) return false;
    return strcmp(mine.node, m->origin.addr) == 0 &&
           strcmp(held.node, mine.node) == 0 &&
           held.incarnation != mine.incarnation;
}

/* Does the write conflict? Puts the conflicting items in *pl. */
static int check(stage_dht_t *d, const stage_dht_msg_t *m, const rec_t *r,
                 const rec_t *expect, payload_t *pl) {
    if (m->op == STAGE_DHT_OP_CLAIM) {
        int rc = 0;
        etab_it_t it;
        for (entry_t *e = stage__dht_first(d, m->key, &it);
             e && e->key == m->key; e = stage__dht_next(d, &it)) {
            if (e->expires <= d->now || e->gone) continue;
            /* a claim is repeatable by its owner with the same value only:
            ** two actors of one node must not both hold a name */
            bool other =
                (m->flags & RF_BYSUB)
                    ? e->sub != r->sub
                    : e->owner != m->origin.id || e->len != r->len ||
                          (r->len && memcmp(e->value, r->value, r->len) != 0);
            if (other && !earlier_run(m, r, e)) {
                stage__dht_pl_entry(pl, e, d->now);
                rc = (m->flags & RF_BYSUB) ? STAGE_ECLASH : STAGE_EEXISTS;
            }
        }
        return rc;
    }
    if (m->op == STAGE_DHT_OP_CAS) {
        entry_t *e = stage__dht_find(d, m->key, r->sub);
        if (e && (e->expires <= d->now || e->gone)) e = NULL;
        bool ok = expect ? e && e->len == expect->len &&
                               (e->len == 0 ||
                                memcmp(e->value, expect->value, e->len) == 0)
                         : e == NULL;
        /* a request is at least once: the same swap again, by the same
        ** owner, finds its own value there and succeeds again */
        if (!ok && e && e->owner == m->origin.id && e->len == r->len &&
            (e->len == 0 || memcmp(e->value, r->value, e->len) == 0))
            ok = true;
        if (!ok && e) stage__dht_pl_entry(pl, e, d->now);
        return ok ? 0 : STAGE_EEXISTS;
    }
    return 0;
}

/* Apply a write here; 0 or STAGE_ENOMEM. A removal (of the remover's own
** item) leaves a tombstone with the removal's version, held or not held
** here: where we stand in for a stopped primary the item may be held only
** there, and the tombstone must reach it (the hand-back, its repair) to
** replace its copy. It lives a lease: longer than any copy of the item
** made before the removal (its owner renews it no more). */
static int apply(stage_dht_t *d, int op, uint32_t flags, rec_t *r) {
    if (op == STAGE_DHT_OP_REMOVE || (flags & RF_REMOVE)) {
        entry_t *e = stage__dht_find(d, r->key, r->sub);
        if (!r->owner || (e && e->owner != r->owner && !e->gone)) return 0;
        rec_t t = *r;
        t.gone = true;
        t.len = 0;
        t.value = NULL;
        t.ttl = d->cfg.lease_ms;
        if (!t.ver) t.ver = 1; /* a tombstone has one (the wire says so) */
        return stage__dht_store(d, &t, false);
    }
    etab_it_t it;
    for (entry_t *o = stage__dht_first(d, r->key, &it);
         (flags & RF_REPLACE) && o && o->key == r->key;) {
        if (o->sub != r->sub && !o->gone)
            o = stage__dht_erase(d, &it);
        else
            o = stage__dht_next(d, &it);
    }
    entry_t *e = stage__dht_find(d, r->key, r->sub);
    if (e && !e->gone && (flags & RF_BYSUB) && e->owner != r->owner) {
        e->expires = d->now + r->ttl; /* same source from another node */
        return 0;
    }
    return stage__dht_store(d, r, false);
}

/* The version of a write decided here: after the one held for (key,
** sub), whoever owns it, and after the one its asker gave (r->ver: the
** version its own last write of the item was given, told in that write's
** answer). A merge into an entry held across a stop keeps the higher
** version (table.c), so the newest write wins a hand-back: a successor
** that stood in for a stopped primary and swapped a name there holds a
** higher version than the primary's own entry, even when its clock is
** behind (clocks are each node's monotonic time and differ between
** machines: the time alone orders writes decided at one manager, the held
** version orders them after what the decider saw); a removal it decided
** holding no copy itself comes after the primary's copy by the asker's
** version. Never 0: 0 is no version on the wire. */
static uint64_t next_ver(stage_dht_t *d, const rec_t *r) {
    uint64_t ver = d->now ? d->now : 1;
    const entry_t *e = stage__dht_find(d, r->key, r->sub);
    if (e && e->ver >= ver && e->ver < UINT64_MAX) ver = e->ver + 1;
    if (r->ver >= ver && r->ver < UINT64_MAX) ver = r->ver + 1;
    return ver;
}

static void decide(stage_dht_t *d, const stage_dht_msg_t *m) {
    rec_t r, ex;
    uint32_t off = 0;
    int nrec = stage__dht_pl_next(m->data, m->len, &off, &r);
    bool has_ex = stage__dht_pl_next(m->data, m->len, &off, &ex) == 1;
    int R = d->cfg.replicas;
    if (nrec != 1 || r.key != m->key || r.index >= R || r.gone ||
        r.len > STAGE_DHT_VALUE_MAX) {
        reply(d, m, STAGE_EPROTO);
        return;
    }
    r.owner = m->origin.id;
    r.ver = next_ver(d, &r);
    if (r.ttl > d->cfg.lease_ms) r.ttl = d->cfg.lease_ms;
    payload_t pl = {0};
    int rc = check(d, m, &r, has_ex ? &ex : NULL, &pl);
    if (rc == 0) rc = apply(d, m->op, m->flags, &r);
    if (rc) {
        attach(reply(d, m, rc), &pl);
        return;
    }
    stage__free(pl.data);
    stage__dht_changed(d, m->key);
    decision_t *dec = stage__malloc(sizeof(*dec));
    if (dec) {
        memset(dec, 0, sizeof(*dec));
        dec->ix.id = ++d->rid;
        dec->ix.deadline = d->now + 2 * (uint64_t)d->cfg.request_timeout_ms + 1;
    }
    if (!dec || stage__dht_ix_add(&d->decs, &dec->ix)) {
        stage__free(dec);
        reply(d, m, STAGE_ENOMEM);
        return;
    }
    dec->origin_rid = m->rid;
    dec->origin = m->origin;
    dec->op = m->op;
    dec->ver = r.ver;
    dec->npeers = R;
    dec->peers[r.index] = d->self;
    dec->waiting = R - 1;
    uint64_t base = stage__dht_base(d, r.key, r.index);
    uint64_t rid = dec->ix.id;
    for (int i = 0; i < R; i++) {
        if (i == r.index) continue;
        rec_t c = r;
        c.key = stage_dht_replica(base, i, R);
        c.index = (uint8_t)i;
        payload_t cp = {0};
        stage__dht_pl_rec(&cp, &c);
        reqspec_t s = {.kind = RQ_COPY,
                       .op = STAGE_DHT_OP_COPY,
                       .req = rid,
                       .key = base,
                       .index = i,
                       .sub = r.sub};
        s.flags = (m->op == STAGE_DHT_OP_REMOVE ? RF_REMOVE : 0) |
                  (m->flags & RF_REPLACE);
        stage__dht_request(d, &s, &cp);
    }
    if (R == 1) stage__dht_decision_copied(d, rid, 0, NULL, false);
}

/* Answer the asker of dec and drop it; a success tells the write's
** version (arg), which its owner gives its re-puts and its removal. */
static void finish(stage_dht_t *d, decision_t *dec) {
    int status = dec->status;
    if (status == 0 && d->cfg.replicas > 1 && dec->acked == 0)
        status = STAGE_ETIMEOUT; /* kept here; the asker will retry */
    stage_dht_msg_t q = {0};
    q.op = (uint8_t)dec->op;
    q.rid = dec->origin_rid;
    q.origin = dec->origin;
    stage_dht_msg_t *r = reply(d, &q, status);
    if (r) {
        for (int j = 0; j < dec->npeers; j++)
            r->peers[j] = dec->peers[j];
        r->npeers = (uint8_t)dec->npeers;
        if (status == 0) r->arg = dec->ver;
    }
    stage__dht_ix_remove(&d->decs, &dec->ix);
    stage__free(dec);
}

void stage__dht_decision_copied(stage_dht_t *d, uint64_t rid, int index,
                                const stage_dht_peer_t *holder, bool ok) {
    decision_t *dec = (decision_t *)stage__dht_ix_get(&d->decs, rid);
    if (!dec) return;
    if (ok && holder && index < 8) {
        dec->peers[index] = *holder;
        dec->acked++;
    }
    if (--dec->waiting <= 0) finish(d, dec);
}

static void on_copy(stage_dht_t *d, const stage_dht_msg_t *m) {
    rec_t r;
    uint32_t off = 0;
    if (stage__dht_pl_next(m->data, m->len, &off, &r) != 1 || r.key != m->key ||
        r.index >= d->cfg.replicas || r.gone || r.len > STAGE_DHT_VALUE_MAX) {
        reply(d, m, STAGE_EPROTO);
        return;
    }
    if (r.ttl > d->cfg.lease_ms) r.ttl = d->cfg.lease_ms;
    if (!(m->flags & RF_REMOVE)) r.owner = r.owner ? r.owner : m->origin.id;
    int rc = apply(d, STAGE_DHT_OP_COPY, m->flags, &r);
    reply(d, m, rc);
}

/* Send what we hold in (key-1, arg]; walk on if the range goes past us. */
static void on_fetch(stage_dht_t *d, const stage_dht_msg_t *m) {
    uint64_t lo = m->key - 1, hi = m->arg;
    payload_t pl = {0};
    rangeit_t it;
    for (entry_t *e = stage__dht_range_first(d, lo, hi, &it); e;
         e = stage__dht_range_next(d, &it))
        if (e->expires > d->now) stage__dht_pl_entry(&pl, e, d->now);
    bool last = in_oc(hi, lo, d->self.id) || d->nsucc == 0;
    stage_dht_msg_t *r = reply(d, m, 0);
    if (r && last) r->flags = RF_LAST;
    attach(r, &pl);
    if (last) return;
    stage_dht_msg_t f;
    memcpy(&f, m, offsetof(stage_dht_msg_t, peers));
    f.data = NULL;
    f.len = 0;
    f.flags = 0;
    f.key = d->self.id + 1;
    stage__dht_route(d, &f);
}

/* Without a predecessor (ours died, or we have just joined) we are sent a
** key's messages as its last hope (route.c), but the keys before our own
** range were another member's: until a predecessor notifies us and we
** have repaired them (or been handed them), nothing here is current for
** them, and a claim decided now could grant a name the dead member had
** granted. A member alone on its ring owns everything. */
static bool unrepaired(const stage_dht_t *d, uint64_t key) {
    return d->pred.id == 0 && d->nsucc > 0 &&
           (d->range_lo == d->self.id || !in_oc(key, d->range_lo, d->self.id));
}

void stage__dht_kv_handle(stage_dht_t *d, const stage_dht_msg_t *m) {
    if (m->op == STAGE_DHT_OP_LOOKUP) {
        reply(d, m, 0);
        return;
    }
    bool atomic = m->op != STAGE_DHT_OP_COPY && m->op != STAGE_DHT_OP_FETCH;
    if (atomic && (stage__dht_frozen(d, m->key) || unrepaired(d, m->key))) {
        reply(d, m, STAGE_EBUSY);
        return;
    }
    switch (m->op) {
    case STAGE_DHT_OP_GET:
        on_get(d, m);
        break;
    case STAGE_DHT_OP_WATCH:
        on_watch(d, m);
        break;
    case STAGE_DHT_OP_COPY:
        on_copy(d, m);
        break;
    case STAGE_DHT_OP_FETCH:
        on_fetch(d, m);
        break;
    default:
        decide(d, m);
        break;
    }
}

void stage__dht_renew_recv(stage_dht_t *d, const stage_dht_msg_t *m) {
    rec_t r;
    uint32_t off = 0;
    payload_t miss = {0};
    while (stage__dht_pl_next(m->data, m->len, &off, &r) == 1) {
        entry_t *e = stage__dht_find(d, r.key, r.sub);
        bool ours = stage__dht_responsible(d, r.key) || d->pred.id == 0;
        if (e && !e->gone && e->owner == m->from.id && ours &&
            e->expires > d->now) {
            uint32_t ttl = r.ttl > d->cfg.lease_ms ? d->cfg.lease_ms : r.ttl;
            if (d->now + ttl > e->expires) e->expires = d->now + ttl;
        } else {
            r.len = 0;
            stage__dht_pl_rec(&miss, &r);
        }
    }
    /* always answer: silence tells the owner we are gone */
    attach(stage__dht_send(d, STAGE_DHT_M_MISSING, &m->from), &miss);
}

void stage__dht_send_payload(stage_dht_t *d, int type,
                             const stage_dht_peer_t *to, payload_t *pl) {
    if (!pl->len || !to || !to->id) {
        stage__free(pl->data);
        return;
    }
    attach(stage__dht_send(d, type, to), pl);
}

/* Hand the entries of (lo, hi] to `to`, tombstones too. When leaving, not
** the entries we own: nobody renews them once we are gone, and a copy of
** one whose removal is still on its way would outlive the removal (our
** tombstones go: they guard our removals). */
void stage__dht_transfer(stage_dht_t *d, const stage_dht_peer_t *to,
                         uint64_t lo, uint64_t hi) {
    payload_t pl = {0};
    rangeit_t it;
    for (entry_t *e = stage__dht_range_first(d, lo, hi, &it); e;
         e = stage__dht_range_next(d, &it))
        if (e->expires > d->now &&
            !(d->leaving && e->owner == d->self.id && !e->gone))
            stage__dht_pl_entry(&pl, e, d->now);
    if (!pl.len) return;
    attach(stage__dht_send(d, STAGE_DHT_M_TRANSFER, to), &pl);
}

void stage__dht_repair(stage_dht_t *d, uint64_t lo, uint64_t hi) {
    int R = d->cfg.replicas;
    if (R == 1 || lo == hi) return;
    d->repair_lo = lo;
    d->repair_hi = hi;
    d->repair_until = d->now + 3 * (uint64_t)d->cfg.period_ms;
    d->repair_left = R - 1;
    for (int i = 1; i < R; i++) {
        uint64_t shift = stage_dht_replica(0, i, R);
        /* a little wider: replicas of one key are not exactly step apart */
        reqspec_t s = {.kind = RQ_REPAIR,
                       .op = STAGE_DHT_OP_FETCH,
                       .key = lo + shift - 7,
                       .arg = hi + shift + 8,
                       .sub = lo,
                       .req = hi};
        stage__dht_request(d, &s, NULL);
    }
}

void stage__dht_primary_tick(stage_dht_t *d) {
    tnode_t *n; /* the due decisions, in the order the old scan took them */
    stage__dht_ix_due(&d->decs, d->now);
    while ((n = stage__dht_ix_due_next(&d->decs)) != NULL)
        finish(d, (decision_t *)n);
    stage__dht_ix_due(&d->watches, d->now); /* leases ended */
    while ((n = stage__dht_ix_due_next(&d->watches)) != NULL)
        held_drop(d, (held_t *)n);
}

void stage__dht_primary_free(stage_dht_t *d) {
    while (d->decs.list.n) {
        tnode_t *n = d->decs.list.v[d->decs.list.n - 1];
        stage__dht_ix_remove(&d->decs, n);
        stage__free(n);
    }
    stage__dht_ix_free(&d->decs);
    while (d->watches.list.n)
        held_drop(d, (held_t *)d->watches.list.v[d->watches.list.n - 1]);
    stage__dht_ix_free(&d->watches);
    stage__u64map_free(&d->watches_at);
    stage__free(d->watches_some.v);
}
