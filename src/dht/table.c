/*
** dht/table.c: the entries a manager holds, sorted by (key, sub), with
** their leases.
** Invariants: the table is sorted and has no two entries with the same
** (key, sub); an entry whose lease ran out is gone after the next sweep;
** an entry outside our range for more than 3 periods is dropped (it was
** handed over or copied on; we keep it a little while so a joiner that
** lost our transfer can still fetch it).
** Merging (repair, transfer): a present entry keeps its value unless the
** incoming one is newer (higher ver) and has the same owner; the later
** expiry of one owner's entry wins.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "util/alloc.h"

static int cmp(const entry_t *e, uint64_t key, uint64_t sub) {
    if (e->key != key) return e->key < key ? -1 : 1;
    if (e->sub != sub) return e->sub < sub ? -1 : 1;
    return 0;
}

/* Index of the first entry >= (key, sub). */
static size_t lower2(const stage_dht_t *d, uint64_t key, uint64_t sub) {
    size_t lo = 0, hi = d->table.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp(&d->table.v[mid], key, sub) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t stage__dht_lower(const stage_dht_t *d, uint64_t key) {
    return lower2(d, key, 0);
}

entry_t *stage__dht_find(stage_dht_t *d, uint64_t key, uint64_t sub) {
    size_t i = lower2(d, key, sub);
    if (i < d->table.n && cmp(&d->table.v[i], key, sub) == 0)
        return &d->table.v[i];
    return NULL;
}

static int set_value(entry_t *e, const rec_t *r) {
    char *v = NULL;
    if (r->len) {
        v = stage__malloc(r->len);
        if (!v) return STAGE_ENOMEM;
        memcpy(v, r->value, r->len);
    }
    stage__free(e->value);
    e->value = v;
    e->len = r->len;
    return 0;
}

/* Entries of owner are refused: its node was declared dead lately. */
static bool owner_is_gone(const stage_dht_t *d, uint64_t owner) {
    for (int i = 0; i < GONE_MAX; i++)
        if (d->gone[i] == owner && d->gone_until[i] > d->now) return true;
    return false;
}

int stage__dht_store(stage_dht_t *d, const rec_t *r, bool merge) {
    if (owner_is_gone(d, r->owner)) return 0; /* see stage_dht_owner_gone */
    uint64_t expires = d->now + r->ttl;
    size_t i = lower2(d, r->key, r->sub);
    if (i < d->table.n && cmp(&d->table.v[i], r->key, r->sub) == 0) {
        entry_t *e = &d->table.v[i];
        e->out_since = 0;
        /* a merge (handoff, repair) never takes an entry from the owner
        ** that holds it here: after a partition, the primary's holder wins */
        if (merge && (r->ver < e->ver || r->owner != e->owner)) {
            if (expires > e->expires && r->owner == e->owner)
                e->expires = expires;
            return 0;
        }
        if (merge && expires < e->expires) expires = e->expires;
        int rc = set_value(e, r);
        if (rc) return rc;
        e->owner = r->owner;
        e->ver = r->ver;
        e->index = r->index;
        e->expires = expires;
        return 0;
    }
    if (stage__dht_grow((void **)&d->table.v, &d->table.cap, d->table.n,
                        sizeof(entry_t)))
        return STAGE_ENOMEM;
    entry_t e = {r->key, r->sub,   r->owner, r->ver, expires,
                 0,      r->index, 0,        NULL};
    int rc = set_value(&e, r);
    if (rc) return rc;
    memmove(&d->table.v[i + 1], &d->table.v[i],
            (d->table.n - i) * sizeof(entry_t));
    d->table.v[i] = e;
    d->table.n++;
    return 0;
}

void stage__dht_erase(stage_dht_t *d, size_t i) {
    stage__free(d->table.v[i].value);
    memmove(&d->table.v[i], &d->table.v[i + 1],
            (d->table.n - i - 1) * sizeof(entry_t));
    d->table.n--;
}

/* Drop expired entries and those long out of our range. */
void stage__dht_table_tick(stage_dht_t *d) {
    size_t w = 0, nexp = 0;
    uint64_t expired[32]; /* keys whose watchers hear of the expiry */
    uint64_t grace = 3 * (uint64_t)d->cfg.period_ms;
    bool ranged = d->pred.id != 0;
    /* entries leaving for good go to the neighbour on their side: a joiner
    ** may have been handed keys that belong before it */
    payload_t back = {0}, ahead = {0};
    for (size_t i = 0; i < d->table.n; i++) {
        entry_t *e = &d->table.v[i];
        bool keep = e->expires > d->now;
        if (keep && ranged && !in_oc(e->key, d->pred.id, d->self.id)) {
            if (!e->out_since)
                e->out_since = d->now;
            else if (d->now - e->out_since > grace)
                keep = false;
        } else if (keep) {
            e->out_since = 0;
        }
        if (!keep) {
            if (e->expires <= d->now && nexp < 32 && d->watches.list.n)
                expired[nexp++] = e->key;
            else if (e->expires > d->now)
                stage__dht_pl_entry(
                    e->key - d->self.id < d->pred.id - e->key ? &ahead : &back,
                    e, d->now);
            stage__free(e->value);
            continue;
        }
        d->table.v[w++] = *e;
    }
    d->table.n = w;
    stage__dht_send_payload(d, STAGE_DHT_M_TRANSFER, &d->pred, &back);
    stage__dht_send_payload(d, STAGE_DHT_M_TRANSFER,
                            d->nsucc ? &d->succ[0] : NULL, &ahead);
    for (size_t i = 0; i < nexp; i++)
        if (i == 0 || expired[i] != expired[i - 1])
            stage__dht_changed(d, expired[i]);
}

/* 1 if a watcher here watches key. */
static bool watched(const stage_dht_t *d, uint64_t key) {
    return stage__dht_watches_on(d, key) != NULL;
}

int stage_dht_owner_gone(stage_dht_t *d, uint64_t now, uint64_t owner) {
    if (d->stopped || owner == 0 || owner == d->self.id) return 0;
    stage__dht_begin(d, now);
    int slot = 0; /* the same owner's slot, else the one expiring first */
    for (int i = 0; i < GONE_MAX; i++) {
        if (d->gone[i] == owner) {
            slot = i;
            break;
        }
        if (d->gone_until[i] < d->gone_until[slot]) slot = i;
    }
    d->gone[slot] = owner;
    d->gone_until[slot] = now + d->cfg.lease_ms;
    stage__dht_peer_failed(d, owner);
    /* watched keys that lose an item, each once (the table is sorted) */
    uint64_t *keys = NULL;
    size_t nkeys = 0, cap = 0, w = 0;
    int dropped = 0;
    for (size_t i = 0; i < d->table.n; i++) {
        entry_t *e = &d->table.v[i];
        if (e->owner != owner) {
            d->table.v[w++] = *e;
            continue;
        }
        if ((nkeys == 0 || keys[nkeys - 1] != e->key) && watched(d, e->key) &&
            stage__dht_grow((void **)&keys, &cap, nkeys, sizeof *keys) == 0)
            keys[nkeys++] = e->key; /* no memory: the lease tells them */
        stage__free(e->value);
        dropped++;
    }
    d->table.n = w;
    for (size_t i = 0; i < nkeys; i++)
        stage__dht_changed(d, keys[i]);
    stage__free(keys);
    stage__dht_end(d);
    return dropped;
}

void stage__dht_table_free(stage_dht_t *d) {
    for (size_t i = 0; i < d->table.n; i++)
        stage__free(d->table.v[i].value);
    stage__free(d->table.v);
    d->table.v = NULL;
    d->table.n = d->table.cap = 0;
}

size_t stage_dht_entry_count(const stage_dht_t *d, size_t *total) {
    size_t n = 0;
    for (size_t i = 0; i < d->table.n; i++)
        if (d->table.v[i].expires > d->now &&
            (d->pred.id == 0 ||
             in_oc(d->table.v[i].key, d->pred.id, d->self.id)))
            n++;
    if (total) *total = d->table.n;
    return n;
}

int stage_dht_holds(const stage_dht_t *d, uint64_t now, uint64_t key,
                    uint64_t sub) {
    size_t i = lower2(d, key, sub);
    return i < d->table.n && cmp(&d->table.v[i], key, sub) == 0 &&
           d->table.v[i].expires > now;
}
