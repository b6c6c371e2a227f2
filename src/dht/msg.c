/*
** dht/msg.c: message payloads and the msgpack wire form of a message.
**
** Payload (internal, never on the wire): records one after the other, each
** key, sub, owner, ver (u64), ttl (u32), index (u8), len (u32), then len
** value bytes. Only this file reads or writes it; the reader still checks
** every length.
**
** Wire form: one msgpack array
**   [type, op, hops, status, flags, to, seq, rid, key, arg,
**    from, origin, peer, [peer...], [[key, sub, owner, ver, ttl, index,
**    bin value]...]]
** where a peer is [id, "addr"], or nil when absent. Decoding checks every
** field's type and range: the bytes are hostile.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht/dht_internal.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define REC_HEAD 41

static void pl_reserve(payload_t *p, uint32_t n) {
    if (p->err) return;
    if ((uint64_t)p->len + n > STAGE_DHT_PAYLOAD_MAX) {
        p->err = STAGE_ETOOBIG;
        return;
    }
    if (p->len + n <= p->cap) return;
    uint32_t cap = p->cap ? p->cap : 256;
    while (cap < p->len + n)
        cap *= 2;
    char *nd = realloc(p->data, cap);
    if (!nd) {
        p->err = STAGE_ENOMEM;
        return;
    }
    p->data = nd;
    p->cap = cap;
}

static void put64(char *b, uint64_t v) {
    memcpy(b, &v, 8);
}

static uint64_t get64(const char *b) {
    uint64_t v;
    memcpy(&v, b, 8);
    return v;
}

void stage__dht_pl_rec(payload_t *p, const rec_t *r) {
    pl_reserve(p, REC_HEAD + r->len);
    if (p->err) return;
    char *b = p->data + p->len;
    put64(b, r->key);
    put64(b + 8, r->sub);
    put64(b + 16, r->owner);
    put64(b + 24, r->ver);
    memcpy(b + 32, &r->ttl, 4);
    b[36] = (char)r->index;
    memcpy(b + 37, &r->len, 4);
    if (r->len) memcpy(b + REC_HEAD, r->value, r->len);
    p->len += REC_HEAD + r->len;
}

void stage__dht_pl_entry(payload_t *p, const entry_t *e, uint64_t now) {
    rec_t r = {e->key,
               e->sub,
               e->owner,
               e->ver,
               e->expires > now ? (uint32_t)(e->expires - now) : 0,
               e->index,
               e->len,
               e->value};
    stage__dht_pl_rec(p, &r);
}

int stage__dht_pl_next(const char *data, uint32_t len, uint32_t *off,
                       rec_t *r) {
    if (*off == len) return 0;
    if (len - *off < REC_HEAD) return -1;
    const char *b = data + *off;
    r->key = get64(b);
    r->sub = get64(b + 8);
    r->owner = get64(b + 16);
    r->ver = get64(b + 24);
    memcpy(&r->ttl, b + 32, 4);
    r->index = (uint8_t)b[36];
    memcpy(&r->len, b + 37, 4);
    if (r->len > len - *off - REC_HEAD) return -1;
    r->value = r->len ? b + REC_HEAD : NULL;
    *off += REC_HEAD + r->len;
    return 1;
}

void stage_dht_msg_clear(stage_dht_msg_t *m) {
    free(m->data);
    memset(m, 0, offsetof(stage_dht_msg_t, peers));
}

/* ---- sizes of the msgpack form ---- */

static size_t sz_uint(uint64_t v) {
    return v < 128            ? 1
           : v <= 0xff        ? 2
           : v <= 0xffff      ? 3
           : v <= 0xffffffffu ? 5
                              : 9;
}

static size_t sz_int(int64_t v) {
    if (v >= 0) return sz_uint((uint64_t)v);
    return v >= -32         ? 1
           : v >= -128      ? 2
           : v >= -32768    ? 3
           : v >= INT32_MIN ? 5
                            : 9;
}

static size_t sz_hdr(uint32_t n, int kind) { /* 0 str, 1 bin, 2 array */
    if (kind == 0) return n < 32 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
    if (kind == 1) return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
    return n < 16 ? 1 : n <= 0xffff ? 3 : 5;
}

/* Ids are sent as msgpack ints (two's complement for the top half). */
static size_t sz_id(uint64_t v) {
    return sz_int((int64_t)v);
}

static size_t sz_peer(const stage_dht_peer_t *p) {
    if (p->id == 0) return 1;
    size_t n = strnlen(p->addr, STAGE_ADDR_MAX - 1);
    return 1 + sz_id(p->id) + sz_hdr((uint32_t)n, 0) + n;
}

size_t stage_dht_msg_wire_size(const stage_dht_msg_t *m) {
    size_t n = 1 + sz_uint(m->type) + sz_uint(m->op) + sz_uint(m->hops) +
               sz_int(m->status) + sz_uint(m->flags) + sz_id(m->to) +
               sz_uint(m->seq) + sz_uint(m->rid) + sz_id(m->key) +
               sz_id(m->arg);
    n += sz_peer(&m->from) + sz_peer(&m->origin) + sz_peer(&m->peer);
    n += sz_hdr(m->npeers, 2);
    for (int i = 0; i < m->npeers && i < STAGE_DHT_SUCC_MAX; i++)
        n += sz_peer(&m->peers[i]);
    uint32_t off = 0, cnt = 0;
    rec_t r;
    size_t recs = 0;
    while (stage__dht_pl_next(m->data, m->len, &off, &r) == 1) {
        cnt++;
        recs += 1 + sz_id(r.key) + sz_id(r.sub) + sz_id(r.owner) +
                sz_uint(r.ver) + sz_uint(r.ttl) + sz_uint(r.index) +
                sz_hdr(r.len, 1) + r.len;
    }
    return n + sz_hdr(cnt, 2) + recs;
}

/* ---- encode ---- */

static void enc_peer(stage_pack_t *p, const stage_dht_peer_t *peer) {
    if (peer->id == 0) {
        stage_pack_nil(p);
        return;
    }
    stage_pack_array(p, 2);
    stage_pack_int(p, (int64_t)peer->id);
    stage_pack_str(p, peer->addr, strnlen(peer->addr, STAGE_ADDR_MAX - 1));
}

int stage_dht_msg_encode(const stage_dht_msg_t *m, struct stage_pack *p) {
    uint32_t off = 0, cnt = 0;
    rec_t r;
    while (stage__dht_pl_next(m->data, m->len, &off, &r) == 1)
        cnt++;
    stage_pack_array(p, 15);
    stage_pack_int(p, m->type);
    stage_pack_int(p, m->op);
    stage_pack_int(p, m->hops);
    stage_pack_int(p, m->status);
    stage_pack_int(p, m->flags);
    stage_pack_int(p, (int64_t)m->to);
    stage_pack_int(p, (int64_t)m->seq);
    stage_pack_int(p, (int64_t)m->rid);
    stage_pack_int(p, (int64_t)m->key);
    stage_pack_int(p, (int64_t)m->arg);
    enc_peer(p, &m->from);
    enc_peer(p, &m->origin);
    enc_peer(p, &m->peer);
    int np = m->npeers < STAGE_DHT_SUCC_MAX ? m->npeers : STAGE_DHT_SUCC_MAX;
    stage_pack_array(p, (uint32_t)np);
    for (int i = 0; i < np; i++)
        enc_peer(p, &m->peers[i]);
    stage_pack_array(p, cnt);
    off = 0;
    while (stage__dht_pl_next(m->data, m->len, &off, &r) == 1) {
        stage_pack_array(p, 7);
        stage_pack_int(p, (int64_t)r.key);
        stage_pack_int(p, (int64_t)r.sub);
        stage_pack_int(p, (int64_t)r.owner);
        stage_pack_int(p, (int64_t)r.ver);
        stage_pack_int(p, r.ttl);
        stage_pack_int(p, r.index);
        stage_pack_bin(p, r.value, r.len);
    }
    return stage_pack_error(p);
}

/* ---- decode (hostile input) ---- */

static int dec_u(stage_unpack_t *u, uint64_t max, uint64_t *out) {
    int64_t v;
    if (stage_unpack_int(u, &v) || v < 0 || (uint64_t)v > max)
        return STAGE_EDECODE;
    *out = (uint64_t)v;
    return 0;
}

static int dec_id(stage_unpack_t *u, uint64_t *out) {
    int64_t v;
    if (stage_unpack_int(u, &v)) return STAGE_EDECODE;
    *out = (uint64_t)v;
    return 0;
}

static int dec_peer(stage_unpack_t *u, stage_dht_peer_t *p) {
    uint32_t n;
    const char *s;
    size_t len;
    memset(p, 0, sizeof(*p));
    if (stage_unpack_peek(u) == STAGE_T_NIL) return stage_unpack_nil(u);
    if (stage_unpack_array(u, &n) || n != 2 || dec_id(u, &p->id) ||
        p->id == 0 || stage_unpack_str(u, &s, &len) || len >= STAGE_ADDR_MAX ||
        memchr(s, 0, len))
        return STAGE_EDECODE;
    memcpy(p->addr, s, len);
    p->addr[len] = 0;
    return 0;
}

static int dec_head(stage_unpack_t *u, stage_dht_msg_t *m) {
    uint64_t v[5];
    static const uint64_t max[5] = {STAGE_DHT_M__END - 1, STAGE_DHT_OP__END - 1,
                                    255, 0, 0xffffffffu};
    int64_t status;
    for (int i = 0; i < 5; i++) {
        if (i == 3) {
            if (stage_unpack_int(u, &status) || status > 0 || status < -100000)
                return STAGE_EDECODE;
            continue;
        }
        if (dec_u(u, max[i], &v[i])) return STAGE_EDECODE;
    }
    if (v[0] == 0) return STAGE_EDECODE;
    m->type = (uint8_t)v[0];
    m->op = (uint8_t)v[1];
    m->hops = (uint8_t)v[2];
    m->status = (int32_t)status;
    m->flags = (uint32_t)v[4];
    if (dec_id(u, &m->to) || dec_id(u, &m->seq) || dec_id(u, &m->rid) ||
        dec_id(u, &m->key) || dec_id(u, &m->arg) || dec_peer(u, &m->from) ||
        dec_peer(u, &m->origin) || dec_peer(u, &m->peer))
        return STAGE_EDECODE;
    return 0;
}

static int dec_recs(stage_unpack_t *u, stage_dht_msg_t *m) {
    uint32_t n, k;
    if (stage_unpack_array(u, &n)) return STAGE_EDECODE;
    payload_t pl = {0};
    for (uint32_t i = 0; i < n && !pl.err; i++) {
        rec_t r;
        uint64_t ttl, index;
        size_t len;
        if (stage_unpack_array(u, &k) || k != 7 || dec_id(u, &r.key) ||
            dec_id(u, &r.sub) || dec_id(u, &r.owner) || dec_id(u, &r.ver) ||
            dec_u(u, 0xffffffffu, &ttl) || dec_u(u, 7, &index) ||
            stage_unpack_bin(u, &r.value, &len) || len > STAGE_DHT_VALUE_MAX) {
            free(pl.data);
            return STAGE_EDECODE;
        }
        r.ttl = (uint32_t)ttl;
        r.index = (uint8_t)index;
        r.len = (uint32_t)len;
        stage__dht_pl_rec(&pl, &r);
    }
    if (pl.err) {
        free(pl.data);
        return STAGE_EDECODE;
    }
    m->data = pl.data;
    m->len = pl.len;
    return 0;
}

int stage_dht_msg_decode(stage_dht_msg_t *m, const char *buf, size_t len) {
    stage_unpack_t u;
    uint32_t n, np;
    memset(m, 0, sizeof(*m));
    stage_unpack_init(&u, buf, len);
    int rc = STAGE_EDECODE;
    if (stage_unpack_array(&u, &n) || n != 15 || dec_head(&u, m) ||
        stage_unpack_array(&u, &np) || np > STAGE_DHT_SUCC_MAX)
        goto bad;
    for (uint32_t i = 0; i < np; i++)
        if (dec_peer(&u, &m->peers[i])) goto bad; /* nil: unknown holder */
    m->npeers = (uint8_t)np;
    if (dec_recs(&u, m) || stage_unpack_peek(&u) != STAGE_T_END) goto bad;
    return 0;
bad:
    stage_dht_msg_clear(m);
    memset(m, 0, sizeof(*m));
    return rc;
}
