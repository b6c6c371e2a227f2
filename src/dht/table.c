/*
** dht/table.c: the entries a manager holds, sorted by (key, sub), with
** their leases. They live in etable.c's sorted chunks: a store or an
** erase costs O(log n) plus moves inside one chunk; the period's sweep
** (expiry, out-of-range drop) walks them all, once a period.
** Invariants: the table is sorted and has no two entries with the same
** (key, sub); an entry whose lease ran out is gone after the next sweep;
** an entry outside our range for more than 3 periods is dropped (it was
** handed over or copied on; we keep it a little while so a joiner that
** lost our transfer can still fetch it).
** Merging (repair, transfer): a present entry keeps its value unless the
** incoming one is newer (higher ver, given by the deciding primary:
** primary.c) and has the same owner, or the present one was held across
** a stop of ours (stale) and the incoming one is newer, whoever owns it;
** the later expiry of one owner's entry wins.
** Removals leave tombstones (gone: a version, no value), kept a lease
** and merged as entries are, so a removal decided where we could not see
** it (by our successor while we were stopped) replaces the copy we held
** across the stop, and an older copy handed over later cannot bring the
** item back. At one version a tombstone beats the item. Nothing reads
** them: reads, claims, swaps, renewals and counts skip them.
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

entry_t *stage__dht_seek(stage_dht_t *d, uint64_t key, uint64_t sub,
                         etab_it_t *it) {
    *it = stage__etab_lower(&d->table, key, sub);
    return stage__etab_at(&d->table, *it);
}

entry_t *stage__dht_first(stage_dht_t *d, uint64_t key, etab_it_t *it) {
    return stage__dht_seek(d, key, 0, it);
}

entry_t *stage__dht_next(stage_dht_t *d, etab_it_t *it) {
    return stage__etab_next(&d->table, it);
}

entry_t *stage__dht_erase(stage_dht_t *d, etab_it_t *it) {
    stage__free(stage__etab_at(&d->table, *it)->value);
    stage__etab_remove(&d->table, it);
    return stage__etab_at(&d->table, *it);
}

entry_t *stage__dht_find(stage_dht_t *d, uint64_t key, uint64_t sub) {
    entry_t *e =
        stage__etab_at(&d->table, stage__etab_lower(&d->table, key, sub));
    return e && cmp(e, key, sub) == 0 ? e : NULL;
}

/* Position r at the first entry of its part r->part or a later one. */
static entry_t *range_seek(stage_dht_t *d, rangeit_t *r) {
    for (; r->part < r->nparts; r->part++) {
        r->it = stage__etab_lower(&d->table, r->from[r->part], 0);
        entry_t *e = stage__etab_at(&d->table, r->it);
        if (e && e->key <= r->to[r->part]) return e;
    }
    return NULL;
}

entry_t *stage__dht_range_first(stage_dht_t *d, uint64_t lo, uint64_t hi,
                                rangeit_t *r) {
    r->part = r->nparts = 0;
    if (lo == hi) { /* the whole ring */
        r->from[r->nparts] = 0;
        r->to[r->nparts++] = UINT64_MAX;
    } else if (lo < hi) {
        r->from[r->nparts] = lo + 1;
        r->to[r->nparts++] = hi;
    } else { /* wraps: [0, hi] comes first in the table */
        r->from[r->nparts] = 0;
        r->to[r->nparts++] = hi;
        if (lo != UINT64_MAX) {
            r->from[r->nparts] = lo + 1;
            r->to[r->nparts++] = UINT64_MAX;
        }
    }
    return range_seek(d, r);
}

entry_t *stage__dht_range_next(stage_dht_t *d, rangeit_t *r) {
    entry_t *e = stage__etab_next(&d->table, &r->it);
    if (e && e->key <= r->to[r->part]) return e;
    r->part++;
    return range_seek(d, r);
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
    etab_it_t it = stage__etab_lower(&d->table, r->key, r->sub);
    entry_t *e = stage__etab_at(&d->table, it);
    if (e && cmp(e, r->key, r->sub) == 0) {
        e->out_since = 0;
        /* a merge (handoff, repair) never takes an entry from the owner
        ** that holds it here (after a partition the primary's holder wins:
        ** its answers to the owners' re-puts have decided who keeps the
        ** name), but for an entry held across a stop of ours: our
        ** successor may have stood in and moved the name meanwhile, and
        ** the newer write (higher ver) wins, or we would serve the old
        ** value until the new owner's next renewal */
        bool same = r->owner == e->owner;
        /* a removal is one owner's later write: its tombstone wins over
        ** the item at one version (the item never over the tombstone) */
        bool newer =
            r->ver > e->ver || (r->ver == e->ver && (r->gone || !e->gone));
        bool take = !merge || (same && newer) || (e->stale && r->ver > e->ver);
        /* a lease extends the item's lease, a tombstone's a tombstone's */
        bool kin = same && r->gone == e->gone;
        if (!take) {
            if (expires > e->expires && kin) e->expires = expires;
            return 0;
        }
        if (merge && kin && expires < e->expires) expires = e->expires;
        if (!merge) e->stale = false; /* decided or copied: current */
        int rc = set_value(e, r);
        if (rc) return rc;
        e->gone = r->gone;
        e->owner = r->owner;
        e->ver = r->ver;
        e->index = r->index;
        e->expires = expires;
        return 0;
    }
    entry_t n = {r->key,   r->sub, r->owner, r->ver, expires, 0,
                 r->index, false,  r->gone,  0,      NULL};
    int rc = set_value(&n, r);
    if (rc) return rc;
    if (!stage__etab_insert(&d->table, it, &n)) {
        stage__free(n.value);
        return STAGE_ENOMEM;
    }
    return 0;
}

/* The period's sweep: what it drops, where that goes. */
typedef struct sweep {
    stage_dht_t *d;
    uint64_t grace;
    bool ranged;
    size_t nexp;
    uint64_t expired[32]; /* keys whose watchers hear of the expiry */
    payload_t back, ahead;
} sweep_t;

/* Keep e, or drop it (expired, or out of our range past the grace). */
static bool sweep_keep(entry_t *e, void *arg) {
    sweep_t *s = arg;
    stage_dht_t *d = s->d;
    bool keep = e->expires > d->now;
    if (keep && s->ranged && !in_oc(e->key, d->pred.id, d->self.id)) {
        if (!e->out_since)
            e->out_since = d->now;
        else if (d->now - e->out_since > s->grace)
            keep = false;
    } else if (keep) {
        e->out_since = 0;
    }
    if (keep) return true;
    if (e->expires <= d->now && !e->gone && s->nexp < 32 && d->watches.list.n)
        s->expired[s->nexp++] = e->key;
    else if (e->expires > d->now)
        stage__dht_pl_entry(
            e->key - d->self.id < d->pred.id - e->key ? &s->ahead : &s->back, e,
            d->now);
    stage__free(e->value);
    return false;
}

/* Drop expired entries and those long out of our range. */
void stage__dht_table_tick(stage_dht_t *d) {
    /* entries leaving for good go to the neighbour on their side: a joiner
    ** may have been handed keys that belong before it */
    sweep_t s = {.d = d,
                 .grace = 3 * (uint64_t)d->cfg.period_ms,
                 .ranged = d->pred.id != 0};
    stage__etab_filter(&d->table, sweep_keep, &s);
    stage__dht_send_payload(d, STAGE_DHT_M_TRANSFER, &d->pred, &s.back);
    stage__dht_send_payload(d, STAGE_DHT_M_TRANSFER,
                            d->nsucc ? &d->succ[0] : NULL, &s.ahead);
    for (size_t i = 0; i < s.nexp; i++)
        if (i == 0 || s.expired[i] != s.expired[i - 1])
            stage__dht_changed(d, s.expired[i]);
}

/* 1 if a watcher here watches key. */
static bool watched(const stage_dht_t *d, uint64_t key) {
    return stage__dht_watches_on(d, key) != NULL;
}

/* stage_dht_owner_gone's sweep: the owner's entries go. */
typedef struct gone {
    stage_dht_t *d;
    uint64_t owner;
    uint64_t *keys; /* watched keys that lose an item, each once */
    size_t nkeys, cap;
    int dropped;
} gone_t;

/* Keep e unless its owner is gone. */
static bool gone_keep(entry_t *e, void *arg) {
    gone_t *g = arg;
    if (e->owner != g->owner) return true;
    /* the table is sorted: a key's items are together */
    if (!e->gone && (g->nkeys == 0 || g->keys[g->nkeys - 1] != e->key) &&
        watched(g->d, e->key) &&
        stage__dht_grow((void **)&g->keys, &g->cap, g->nkeys,
                        sizeof *g->keys) == 0)
        g->keys[g->nkeys++] = e->key; /* no memory: the lease tells them */
    stage__free(e->value);
    g->dropped++;
    return false;
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
    gone_t g = {.d = d, .owner = owner};
    stage__etab_filter(&d->table, gone_keep, &g);
    uint64_t *keys = g.keys;
    size_t nkeys = g.nkeys;
    int dropped = g.dropped;
    for (size_t i = 0; i < nkeys; i++)
        stage__dht_changed(d, keys[i]);
    stage__free(keys);
    stage__dht_end(d);
    return dropped;
}

void stage__dht_table_free(stage_dht_t *d) {
    etab_it_t it = {0, 0};
    for (entry_t *e = stage__etab_at(&d->table, it); e;
         e = stage__etab_next(&d->table, &it))
        stage__free(e->value);
    stage__etab_free(&d->table);
}

size_t stage_dht_entry_count(const stage_dht_t *d, size_t *total) {
    size_t n = 0;
    etab_it_t it = {0, 0};
    for (const entry_t *e = stage__etab_at(&d->table, it); e;
         e = stage__etab_next(&d->table, &it))
        if (e->expires > d->now && !e->gone &&
            (d->pred.id == 0 || in_oc(e->key, d->pred.id, d->self.id)))
            n++;
    if (total) *total = d->table.n;
    return n;
}

int stage_dht_holds(const stage_dht_t *d, uint64_t now, uint64_t key,
                    uint64_t sub) {
    const entry_t *e =
        stage__etab_at(&d->table, stage__etab_lower(&d->table, key, sub));
    return e && cmp(e, key, sub) == 0 && e->expires > now && !e->gone;
}
