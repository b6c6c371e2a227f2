/*
** dht/api.c: the key/value requests a caller makes (stage_dht_get, put,
** claim, cas, remove, watch, lookup). Each builds the record, routes it to
** the right replica through kv.c and returns; the answer comes back later
** as an FX_DONE effect with the caller's request id.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "util/alloc.h"

/* Send a user request for op on base key k with up to two records. */
static int user(stage_dht_t *d, uint64_t now, uint64_t req, int op, uint64_t k,
                uint32_t flags, const rec_t *a, const rec_t *b) {
    stage__dht_begin(d, now);
    if (d->stopped) return STAGE_ESTOPPED;
    int R = d->cfg.replicas;
    int index = op == STAGE_DHT_OP_LOOKUP ? 0 : stage_dht_primary_index(k, R);
    payload_t pl = {0};
    if (a) {
        /* a write of an item we own comes after our last one (primary.c,
        ** next_ver) */
        rec_t r = *a;
        const owned_t *o = r.ver ? NULL : stage__dht_owned_find(d, k, r.sub);
        if (o) r.ver = o->ver;
        r.key = stage_dht_replica(k, index, R);
        r.index = (uint8_t)index;
        r.owner = d->self.id;
        r.ttl = d->cfg.lease_ms;
        stage__dht_pl_rec(&pl, &r);
    }
    if (b) { /* keyed as a: a record of key 0 does not decode on the wire */
        rec_t e = *b;
        e.key = stage_dht_replica(k, index, R);
        e.index = (uint8_t)index;
        stage__dht_pl_rec(&pl, &e);
    }
    reqspec_t s = {.kind = RQ_USER,
                   .op = op,
                   .req = req,
                   .key = k,
                   .index = index,
                   .flags = flags,
                   .sub = a ? a->sub : 0};
    int rc = stage__dht_request(d, &s, &pl);
    stage__dht_end(d);
    return rc;
}

static bool value_ok(const void *v, size_t len) {
    return (v || len == 0) && len <= STAGE_DHT_VALUE_MAX;
}

int stage_dht_get(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k) {
    return user(d, now, req, STAGE_DHT_OP_GET, k, 0, NULL, NULL);
}

int stage_dht_lookup(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k) {
    return user(d, now, req, STAGE_DHT_OP_LOOKUP, k, 0, NULL, NULL);
}

int stage__dht_put_flags(stage_dht_t *d, uint64_t now, uint64_t req, int op,
                         uint64_t k, uint64_t sub, uint32_t flags,
                         const void *value, size_t len) {
    if (!value_ok(value, len)) return STAGE_EINVAL;
    rec_t r = {0, sub, 0, 0, 0, 0, (uint32_t)len, value, false};
    return user(d, now, req, op, k, flags, &r, NULL);
}

int stage_dht_put(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                  uint64_t sub, const void *value, size_t len) {
    return stage__dht_put_flags(d, now, req, STAGE_DHT_OP_PUT, k, sub, 0, value,
                                len);
}

int stage_dht_claim(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                    const void *value, size_t len) {
    return stage__dht_put_flags(d, now, req, STAGE_DHT_OP_CLAIM, k, 0, 0, value,
                                len);
}

int stage_dht_cas(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                  const void *expected, size_t elen, const void *value,
                  size_t len) {
    if (!value_ok(value, len) || (expected && !value_ok(expected, elen)))
        return STAGE_EINVAL;
    rec_t r = {0, 0, 0, 0, 0, 0, (uint32_t)len, value, false};
    rec_t e = {0, 0, 0, 0, 0, 0, (uint32_t)elen, expected, false};
    return user(d, now, req, STAGE_DHT_OP_CAS, k, 0, &r, expected ? &e : NULL);
}

void stage__dht_forget(stage_dht_t *d, uint64_t k, uint64_t sub) {
    owned_t *o = stage__dht_owned_find(d, k, sub);
    if (o) stage__dht_owned_drop(d, o);
}

int stage_dht_remove(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                     uint64_t sub) {
    /* forget it first: it must not be renewed or put back; the removal
    ** comes after our last write of it (primary.c, next_ver) */
    const owned_t *o = stage__dht_owned_find(d, k, sub);
    uint64_t ver = o ? o->ver : 0;
    stage__dht_forget(d, k, sub);
    rec_t r = {0, sub, 0, ver, 0, 0, 0, NULL, false};
    return user(d, now, req, STAGE_DHT_OP_REMOVE, k, 0, &r, NULL);
}

int stage_dht_watch(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k) {
    if (d->stopped) return STAGE_ESTOPPED;
    watch_t *w = VEC_PUSH(d->mywatches);
    if (!w) return STAGE_ENOMEM;
    memset(w, 0, sizeof(*w));
    w->key = k;
    w->req = req;
    stage__dht_begin(d, now);
    int R = d->cfg.replicas;
    reqspec_t s = {.kind = RQ_USER,
                   .op = STAGE_DHT_OP_WATCH,
                   .req = req,
                   .key = k,
                   .arg = req,
                   .index = stage_dht_primary_index(k, R)};
    int rc = stage__dht_request(d, &s, NULL);
    stage__dht_end(d);
    return rc;
}

void stage_dht_unwatch(stage_dht_t *d, uint64_t req) {
    for (size_t i = 0; i < d->mywatches.n; i++)
        if (d->mywatches.v[i].req == req) {
            d->mywatches.v[i] = d->mywatches.v[--d->mywatches.n];
            return;
        }
}
