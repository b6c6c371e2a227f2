/*
** dht/msg.c: message payloads and the msgpack wire form of a message.
**
** Payload (internal, never on the wire): records one after the other, each
** key, sub, owner, ver (u64), ttl (u32), index (u8), len (u32), gone (u8),
** then len value bytes. Only this file reads or writes it; the reader
** still checks every length.
**
** Wire form (compact: absent and zero fields are left out): one msgpack
** array [type, mask, field...]: the fields whose bit is set in mask, in
** bit order (M_* below), except that the sender's id (M_FROM) comes first.
** The sender is implied where it can be: its address is not sent (the
** receiver knows the connection it came in on), nor its id when it is the
** manager the sender's node announced in the connection's handshake.
** `to` is the low 32 bits of the recipient's id (a check against a
** restarted node). A peer is its bare id when it is at the sender's
** address (the sender itself, or another manager of its node), else
** [id, n, "rest"] (an address whose first n >= 2 bytes are the sender's)
** or [id, "addr"]; in a list, nil is an unknown peer. An entry is
** [rmask, field...] the same way (R_*); its key is left out when it is
** the message's. R_GONE marks a tombstone (a removed item: a version, no
** value) and has no field. Present numbers are never 0 (0 is absence),
** so every message has one encoding. Decoding checks every field's type and
** range and refuses unknown bits: the bytes are hostile.
** Pure logic: no I/O.
*/
#include <stdlib.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "stage/pack.h"
#include "util/alloc.h"

#define REC_HEAD 42

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
    char *nd = stage__realloc(p->data, cap);
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
    b[41] = (char)r->gone;
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
               e->value,
               e->gone};
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
    r->gone = b[41] != 0;
    if (r->len > len - *off - REC_HEAD) return -1;
    r->value = r->len ? b + REC_HEAD : NULL;
    *off += REC_HEAD + r->len;
    return 1;
}

void stage_dht_msg_clear(stage_dht_msg_t *m) {
    stage__free(m->data);
    memset(m, 0, offsetof(stage_dht_msg_t, peers));
}

/* ---- the wire form's fields ---- */

enum {
    M_OP = 1 << 0,
    M_HOPS = 1 << 1,
    M_STATUS = 1 << 2,
    M_FLAGS = 1 << 3,
    M_TO = 1 << 4,
    M_SEQ = 1 << 5,
    M_RID = 1 << 6,
    M_KEY = 1 << 7,
    M_ARG = 1 << 8,
    M_ORIGIN = 1 << 9,       /* origin, when it is not the sender */
    M_ORIGIN_FROM = 1 << 10, /* origin is the sender: no field */
    M_PEER = 1 << 11,
    M_PEER_FROM = 1 << 12, /* peer is the sender: no field */
    M_PEERS = 1 << 13,
    M_RECS = 1 << 14,
    M_ACKS = 1 << 15,
    M_FROM = 1 << 16, /* the sender's id, when the handshake did not say it */
    M_ALL = (1 << 17) - 1
};

enum {
    R_KEY = 1 << 0, /* else the message's key */
    R_SUB = 1 << 1,
    R_OWNER = 1 << 2,
    R_VER = 1 << 3,
    R_TTL = 1 << 4,
    R_INDEX = 1 << 5,
    R_VALUE = 1 << 6,
    R_GONE = 1 << 7, /* a tombstone: no field (it needs R_VER, no R_VALUE) */
    R_ALL = (1 << 8) - 1
};

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

/* ---- encoding, or only counting its bytes (p NULL) ---- */

typedef struct out {
    stage_pack_t *p;
    size_t n;
} out_t;

/* Ids and other u64 go as msgpack ints (two's complement above 2^63). */
static void o_int(out_t *o, int64_t v) {
    if (o->p) stage_pack_int(o->p, v);
    o->n += sz_int(v);
}

static void o_array(out_t *o, uint32_t n) {
    if (o->p) stage_pack_array(o->p, n);
    o->n += sz_hdr(n, 2);
}

static void o_nil(out_t *o) {
    if (o->p) stage_pack_nil(o->p);
    o->n += 1;
}

static void o_peer(out_t *o, const stage_dht_peer_t *peer, const char *home) {
    if (peer->id == 0) {
        o_nil(o);
        return;
    }
    size_t n = strnlen(peer->addr, STAGE_ADDR_MAX - 1);
    if (n == strnlen(home, STAGE_ADDR_MAX - 1) &&
        !memcmp(peer->addr, home, n)) {
        o_int(o, (int64_t)peer->id); /* at the sender's address */
        return;
    }
    size_t c = 0; /* the bytes it shares with the sender's address */
    while (c < n && peer->addr[c] && peer->addr[c] == home[c])
        c++;
    if (c == n && c > 0) c--; /* a prefix of home: keep a byte to send */
    o_array(o, c >= 2 ? 3 : 2);
    o_int(o, (int64_t)peer->id);
    if (c >= 2) {
        o_int(o, (int64_t)c);
        n -= c;
    } else {
        c = 0;
    }
    if (o->p) stage_pack_str(o->p, peer->addr + c, n);
    o->n += sz_hdr((uint32_t)n, 0) + n;
}

static bool same_peer(const stage_dht_peer_t *a, const stage_dht_peer_t *b) {
    return a->id == b->id && !strncmp(a->addr, b->addr, STAGE_ADDR_MAX);
}

static void o_rec(out_t *o, const rec_t *r, uint64_t key) {
    uint32_t rm = (r->key != key ? R_KEY : 0) | (r->sub ? R_SUB : 0) |
                  (r->owner ? R_OWNER : 0) | (r->ver ? R_VER : 0) |
                  (r->ttl ? R_TTL : 0) | (r->index ? R_INDEX : 0) |
                  (r->len ? R_VALUE : 0) | (r->gone ? R_GONE : 0);
    o_array(o, 1 + (uint32_t)__builtin_popcount(rm & ~(uint32_t)R_GONE));
    o_int(o, rm);
    if (rm & R_KEY) o_int(o, (int64_t)r->key);
    if (rm & R_SUB) o_int(o, (int64_t)r->sub);
    if (rm & R_OWNER) o_int(o, (int64_t)r->owner);
    if (rm & R_VER) o_int(o, (int64_t)r->ver);
    if (rm & R_TTL) o_int(o, r->ttl);
    if (rm & R_INDEX) o_int(o, r->index);
    if (rm & R_VALUE) {
        if (o->p) stage_pack_bin(o->p, r->value, r->len);
        o->n += sz_hdr(r->len, 1) + r->len;
    }
}

static uint32_t mask_of(const stage_dht_msg_t *m, uint32_t nrec,
                        uint64_t known_from) {
    uint32_t k = m->from.id != known_from || !known_from ? M_FROM : 0;
    k |= m->op ? M_OP : 0;
    k |= m->hops ? M_HOPS : 0;
    k |= m->status ? M_STATUS : 0;
    k |= m->flags ? M_FLAGS : 0;
    k |= (uint32_t)m->to ? M_TO : 0;
    k |= m->seq ? M_SEQ : 0;
    k |= m->rid ? M_RID : 0;
    k |= m->key ? M_KEY : 0;
    k |= m->arg ? M_ARG : 0;
    if (m->origin.id)
        k |= same_peer(&m->origin, &m->from) ? M_ORIGIN_FROM : M_ORIGIN;
    if (m->peer.id) k |= same_peer(&m->peer, &m->from) ? M_PEER_FROM : M_PEER;
    k |= m->npeers ? M_PEERS : 0;
    k |= nrec ? M_RECS : 0;
    k |= m->nacks ? M_ACKS : 0;
    return k;
}

static void encode(const stage_dht_msg_t *m, uint64_t known_from, out_t *o) {
    uint32_t off = 0, nrec = 0;
    rec_t r;
    while (stage__dht_pl_next(m->data, m->len, &off, &r) == 1)
        nrec++;
    uint32_t k = mask_of(m, nrec, known_from);
    const char *home = m->from.addr;
    o_array(o, 2 + (uint32_t)__builtin_popcount(
                       k & ~(uint32_t)(M_ORIGIN_FROM | M_PEER_FROM)));
    o_int(o, m->type);
    o_int(o, k);
    if (k & M_FROM) o_int(o, (int64_t)m->from.id);
    if (k & M_OP) o_int(o, m->op);
    if (k & M_HOPS) o_int(o, m->hops);
    if (k & M_STATUS) o_int(o, m->status);
    if (k & M_FLAGS) o_int(o, m->flags);
    if (k & M_TO) o_int(o, (uint32_t)m->to); /* a check: 32 bits */
    if (k & M_SEQ) o_int(o, (int64_t)m->seq);
    if (k & M_RID) o_int(o, (int64_t)m->rid);
    if (k & M_KEY) o_int(o, (int64_t)m->key);
    if (k & M_ARG) o_int(o, (int64_t)m->arg);
    if (k & M_ORIGIN) o_peer(o, &m->origin, home);
    if (k & M_PEER) o_peer(o, &m->peer, home);
    if (k & M_PEERS) {
        int np =
            m->npeers < STAGE_DHT_SUCC_MAX ? m->npeers : STAGE_DHT_SUCC_MAX;
        o_array(o, (uint32_t)np);
        for (int i = 0; i < np; i++)
            o_peer(o, &m->peers[i], home);
    }
    if (k & M_RECS) {
        o_array(o, nrec);
        off = 0;
        while (stage__dht_pl_next(m->data, m->len, &off, &r) == 1)
            o_rec(o, &r, m->key);
    }
    if (k & M_ACKS) {
        int na = m->nacks < STAGE_DHT_ACKS_MAX ? m->nacks : STAGE_DHT_ACKS_MAX;
        o_array(o, (uint32_t)na);
        for (int i = 0; i < na; i++)
            o_int(o, (int64_t)m->acks[i]);
    }
}

size_t stage_dht_msg_wire_size(const stage_dht_msg_t *m, uint64_t known_from) {
    out_t o = {NULL, 0};
    encode(m, known_from, &o);
    return o.n;
}

int stage_dht_msg_encode(const stage_dht_msg_t *m, uint64_t known_from,
                         struct stage_pack *p) {
    out_t o = {p, 0};
    encode(m, known_from, &o);
    return stage_pack_error(p);
}

/* ---- decode (hostile input) ---- */

/* An unsigned field, present so 1..max. */
static int dec_u(stage_unpack_t *u, uint64_t max, uint64_t *out) {
    int64_t v;
    if (stage_unpack_int(u, &v) || v <= 0 || (uint64_t)v > max)
        return STAGE_EDECODE;
    *out = (uint64_t)v;
    return 0;
}

/* A 64-bit field, present so not 0. */
static int dec_id(stage_unpack_t *u, uint64_t *out) {
    int64_t v;
    if (stage_unpack_int(u, &v) || v == 0) return STAGE_EDECODE;
    *out = (uint64_t)v;
    return 0;
}

/* A peer: nil (only where nil_ok), a bare id at home, or [id, "addr"]. */
static int dec_peer(stage_unpack_t *u, stage_dht_peer_t *p, const char *home,
                    bool nil_ok) {
    uint32_t n;
    const char *s;
    size_t len;
    memset(p, 0, sizeof(*p));
    int t = stage_unpack_peek(u);
    if (t == STAGE_T_NIL) return nil_ok ? stage_unpack_nil(u) : STAGE_EDECODE;
    if (t == STAGE_T_INT) {
        if (dec_id(u, &p->id)) return STAGE_EDECODE;
        strcpy(p->addr, home);
        return 0;
    }
    uint64_t c = 0; /* [id, shared, "rest"]: home's first bytes + rest */
    if (stage_unpack_array(u, &n) || (n != 2 && n != 3) || dec_id(u, &p->id) ||
        (n == 3 && (dec_u(u, strlen(home), &c) || c < 2)) ||
        stage_unpack_str(u, &s, &len) || c + len >= STAGE_ADDR_MAX ||
        memchr(s, 0, len))
        return STAGE_EDECODE;
    memcpy(p->addr, home, c);
    memcpy(p->addr + c, s, len);
    p->addr[c + len] = 0;
    return 0;
}

static int dec_head(stage_unpack_t *u, stage_dht_msg_t *m, uint32_t k) {
    uint64_t v;
    int64_t status;
    if (k & M_OP) {
        if (dec_u(u, STAGE_DHT_OP__END - 1, &v)) return STAGE_EDECODE;
        m->op = (uint8_t)v;
    }
    if (k & M_HOPS) {
        if (dec_u(u, 255, &v)) return STAGE_EDECODE;
        m->hops = (uint8_t)v;
    }
    if (k & M_STATUS) {
        if (stage_unpack_int(u, &status) || status >= 0 || status < -100000)
            return STAGE_EDECODE;
        m->status = (int32_t)status;
    }
    if (k & M_FLAGS) {
        if (dec_u(u, 0xffffffffu, &v)) return STAGE_EDECODE;
        m->flags = (uint32_t)v;
    }
    if (((k & M_TO) && dec_u(u, 0xffffffffu, &m->to)) ||
        ((k & M_SEQ) && dec_id(u, &m->seq)) ||
        ((k & M_RID) && dec_id(u, &m->rid)) ||
        ((k & M_KEY) && dec_id(u, &m->key)) ||
        ((k & M_ARG) && dec_id(u, &m->arg)))
        return STAGE_EDECODE;
    if (k & M_ORIGIN_FROM)
        m->origin = m->from;
    else if ((k & M_ORIGIN) && dec_peer(u, &m->origin, m->from.addr, false))
        return STAGE_EDECODE;
    if (k & M_PEER_FROM)
        m->peer = m->from;
    else if ((k & M_PEER) && dec_peer(u, &m->peer, m->from.addr, false))
        return STAGE_EDECODE;
    return 0;
}

static int dec_rec(stage_unpack_t *u, uint64_t key, rec_t *r) {
    uint32_t n;
    uint64_t rm, v;
    size_t len = 0;
    memset(r, 0, sizeof(*r));
    r->key = key;
    if (stage_unpack_array(u, &n) || n < 1) return STAGE_EDECODE;
    int64_t raw;
    if (stage_unpack_int(u, &raw) || raw < 0 || raw > R_ALL)
        return STAGE_EDECODE;
    rm = (uint64_t)raw;
    if (n != 1 + (uint32_t)__builtin_popcountll(rm & ~(uint64_t)R_GONE))
        return STAGE_EDECODE;
    /* a tombstone is a version and no value */
    if ((rm & R_GONE) && (!(rm & R_VER) || (rm & R_VALUE)))
        return STAGE_EDECODE;
    r->gone = (rm & R_GONE) != 0;
    if (((rm & R_KEY) && dec_id(u, &r->key)) ||
        ((rm & R_SUB) && dec_id(u, &r->sub)) ||
        ((rm & R_OWNER) && dec_id(u, &r->owner)) ||
        ((rm & R_VER) && dec_id(u, &r->ver)))
        return STAGE_EDECODE;
    if (rm & R_TTL) {
        if (dec_u(u, 0xffffffffu, &v)) return STAGE_EDECODE;
        r->ttl = (uint32_t)v;
    }
    if (rm & R_INDEX) {
        if (dec_u(u, 7, &v)) return STAGE_EDECODE;
        r->index = (uint8_t)v;
    }
    if (rm & R_VALUE) {
        if (stage_unpack_bin(u, &r->value, &len) || len == 0 ||
            len > STAGE_DHT_VALUE_MAX)
            return STAGE_EDECODE;
        r->len = (uint32_t)len;
    }
    return 0;
}

static int dec_recs(stage_unpack_t *u, stage_dht_msg_t *m) {
    uint32_t n;
    if (stage_unpack_array(u, &n) || n == 0) return STAGE_EDECODE;
    payload_t pl = {0};
    for (uint32_t i = 0; i < n && !pl.err; i++) {
        rec_t r;
        if (dec_rec(u, m->key, &r)) {
            stage__free(pl.data);
            return STAGE_EDECODE;
        }
        stage__dht_pl_rec(&pl, &r);
    }
    if (pl.err) {
        stage__free(pl.data);
        return STAGE_EDECODE;
    }
    m->data = pl.data;
    m->len = pl.len;
    return 0;
}

static int dec_lists(stage_unpack_t *u, stage_dht_msg_t *m, uint32_t k) {
    uint32_t n;
    if (k & M_PEERS) {
        if (stage_unpack_array(u, &n) || n == 0 || n > STAGE_DHT_SUCC_MAX)
            return STAGE_EDECODE;
        for (uint32_t i = 0; i < n; i++) /* nil: an unknown holder */
            if (dec_peer(u, &m->peers[i], m->from.addr, true))
                return STAGE_EDECODE;
        m->npeers = (uint8_t)n;
    }
    if ((k & M_RECS) && dec_recs(u, m)) return STAGE_EDECODE;
    if (k & M_ACKS) {
        if (stage_unpack_array(u, &n) || n == 0 || n > STAGE_DHT_ACKS_MAX)
            return STAGE_EDECODE;
        for (uint32_t i = 0; i < n; i++)
            if (dec_id(u, &m->acks[i])) return STAGE_EDECODE;
        m->nacks = (uint8_t)n;
    }
    return 0;
}

int stage_dht_msg_decode(stage_dht_msg_t *m, const char *buf, size_t len,
                         const char *from_addr, uint64_t from_id) {
    stage_unpack_t u;
    uint32_t n;
    uint64_t type;
    int64_t k;
    memset(m, 0, sizeof(*m));
    if (!from_addr || !from_addr[0] || strlen(from_addr) >= STAGE_ADDR_MAX)
        return STAGE_EDECODE;
    stage_unpack_init(&u, buf, len);
    if (stage_unpack_array(&u, &n) || n < 2 ||
        dec_u(&u, STAGE_DHT_M__END - 1, &type) || stage_unpack_int(&u, &k) ||
        k < 0 || k > M_ALL || ((k & M_ORIGIN) && (k & M_ORIGIN_FROM)) ||
        ((k & M_PEER) && (k & M_PEER_FROM)) ||
        n != 2 + (uint32_t)__builtin_popcountll(
                     (uint64_t)k & ~(uint64_t)(M_ORIGIN_FROM | M_PEER_FROM)))
        goto bad;
    if (k & M_FROM) { /* the id given again is no other encoding */
        if (dec_id(&u, &m->from.id) || m->from.id == from_id) goto bad;
    } else if (!(m->from.id = from_id)) {
        goto bad; /* no id here, none announced */
    }
    m->type = (uint8_t)type;
    strcpy(m->from.addr, from_addr);
    if (dec_head(&u, m, (uint32_t)k) || dec_lists(&u, m, (uint32_t)k) ||
        stage_unpack_peek(&u) != STAGE_T_END)
        goto bad;
    return 0;
bad:
    stage_dht_msg_clear(m);
    memset(m, 0, sizeof(*m));
    return STAGE_EDECODE;
}
