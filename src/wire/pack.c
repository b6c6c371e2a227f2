/*
** wire/pack.c: the msgpack writer of stage/pack.h.
**
** Bytes are written directly into p->data, in the smallest msgpack form of
** each value (as msgpack-c's packer does), with one capacity check per
** value: bench/wire_bench measures it against msgpack_pack_* through a
** write callback. Integers use the unsigned forms when >= 0 and the signed
** ones when < 0; doubles are always float 64 so a float stays a float.
** Invariant: once p->err is set nothing more is written until reset.
** Not thread-safe: one owner per writer.
*/
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stage/errors.h"
#include "stage/pack.h"
#include "util/alloc.h"
#include "wire/mp.h"

void stage_pack_init(stage_pack_t *p) {
    p->data = NULL;
    p->len = p->cap = 0;
    p->err = 0;
}

/* Small buffers are recycled per thread: a writer made, filled and freed
** for every message (the natural way to use one) then costs no malloc.
** Sanitizer builds skip the cache so every use after free is still seen.
** A thread's cache is freed when the thread ends (a key's destructor: a
** theatre's thread ends with every node). */
#define SMALL 128
#ifdef STAGE_SANITIZE
#define CACHE_MAX 0
#else
#define CACHE_MAX 32
#endif
static _Thread_local char *cache[CACHE_MAX ? CACHE_MAX : 1];
static _Thread_local int ncache;
static _Thread_local bool cache_armed; /* the key's destructor will run */
static pthread_key_t cache_key;
static bool cache_key_ok; /* else threads go without a cache */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

void stage__pack_cache_free(void) {
    while (ncache)
        stage__free(cache[--ncache]);
}

static void cache_drop(void *unused) {
    (void)unused;
    stage__pack_cache_free();
    cache_armed = false;
}

static void cache_key_init(void) {
    cache_key_ok = !pthread_key_create(&cache_key, cache_drop);
}

void stage_pack_free(stage_pack_t *p) {
    if (p->cap == SMALL && ncache < CACHE_MAX) {
        if (!cache_armed) {
            pthread_once(&cache_once, cache_key_init);
            cache_armed =
                cache_key_ok && !pthread_setspecific(cache_key, &cache_armed);
        }
        if (cache_armed) {
            cache[ncache++] = p->data;
            stage_pack_init(p);
            return;
        }
    }
    stage__free(p->data);
    stage_pack_init(p);
}

void stage_pack_reset(stage_pack_t *p) {
    p->len = 0;
    p->err = 0;
}

int stage_pack_error(const stage_pack_t *p) {
    return p->err;
}

/* Slow path of room(): grow the buffer to hold n more bytes. */
static char *grow(stage_pack_t *p, size_t n) {
    if (!p->cap && n <= SMALL && ncache) {
        p->data = cache[--ncache];
        p->cap = SMALL;
        return p->data + p->len;
    }
    size_t cap = p->cap ? p->cap : SMALL;
    while (cap - p->len < n) {
        if (cap > ((size_t)-1) / 2) {
            p->err = STAGE_ENOMEM;
            return NULL;
        }
        cap *= 2;
    }
    char *d = stage__realloc(p->data, cap);
    if (!d) {
        p->err = STAGE_ENOMEM;
        return NULL;
    }
    p->data = d;
    p->cap = cap;
    return d + p->len;
}

/* Where the next n bytes go, or NULL after an error. */
static inline char *room(stage_pack_t *p, size_t n) {
    if (p->err) return NULL;
    if (p->cap - p->len >= n) return p->data + p->len;
    return grow(p, n);
}

static inline void put16(char *d, uint16_t v) {
    d[0] = (char)(v >> 8);
    d[1] = (char)v;
}

static inline void put32(char *d, uint32_t v) {
    d[0] = (char)(v >> 24);
    d[1] = (char)(v >> 16);
    d[2] = (char)(v >> 8);
    d[3] = (char)v;
}

static inline void put64(char *d, uint64_t v) {
    put32(d, (uint32_t)(v >> 32));
    put32(d + 4, (uint32_t)v);
}

/* Write the one-byte tag then a big-endian field of size 0, 1, 2, 4, 8. */
static inline void tagged(stage_pack_t *p, uint8_t tag, uint64_t v, int size) {
    char *d = room(p, 1 + (size_t)size);
    if (!d) return;
    d[0] = (char)tag;
    switch (size) {
    case 1:
        d[1] = (char)v;
        break;
    case 2:
        put16(d + 1, (uint16_t)v);
        break;
    case 4:
        put32(d + 1, (uint32_t)v);
        break;
    case 8:
        put64(d + 1, v);
        break;
    default:
        break;
    }
    p->len += 1 + (size_t)size;
}

void stage_pack_nil(stage_pack_t *p) {
    tagged(p, 0xc0, 0, 0);
}

void stage_pack_bool(stage_pack_t *p, bool v) {
    tagged(p, v ? 0xc3 : 0xc2, 0, 0);
}

void stage_pack_int(stage_pack_t *p, int64_t v) {
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u < 128)
            tagged(p, (uint8_t)u, 0, 0);
        else if (u <= UINT8_MAX)
            tagged(p, 0xcc, u, 1);
        else if (u <= UINT16_MAX)
            tagged(p, 0xcd, u, 2);
        else if (u <= UINT32_MAX)
            tagged(p, 0xce, u, 4);
        else
            tagged(p, 0xcf, u, 8);
    } else {
        if (v >= -32)
            tagged(p, (uint8_t)(int8_t)v, 0, 0);
        else if (v >= INT8_MIN)
            tagged(p, 0xd0, (uint64_t)v, 1);
        else if (v >= INT16_MIN)
            tagged(p, 0xd1, (uint64_t)v, 2);
        else if (v >= INT32_MIN)
            tagged(p, 0xd2, (uint64_t)v, 4);
        else
            tagged(p, 0xd3, (uint64_t)v, 8);
    }
}

void stage_pack_double(stage_pack_t *p, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    tagged(p, 0xcb, u, 8);
}

/* A header for a payload of len bytes: fix (if fixtag), 8, 16 or 32 bits. */
static void sized(stage_pack_t *p, int fixtag, uint8_t t8, size_t len) {
    if (len > UINT32_MAX) {
        if (!p->err) p->err = STAGE_EINVAL;
        return;
    }
    if (fixtag >= 0 && len < 32)
        tagged(p, (uint8_t)(fixtag | (int)len), 0, 0);
    else if (len <= UINT8_MAX)
        tagged(p, t8, len, 1);
    else if (len <= UINT16_MAX)
        tagged(p, t8 + 1, len, 2);
    else
        tagged(p, t8 + 2, len, 4);
}

void stage_pack_str(stage_pack_t *p, const char *s, size_t len) {
    sized(p, 0xa0, 0xd9, len);
    stage_pack_raw(p, s, len);
}

void stage_pack_cstr(stage_pack_t *p, const char *s) {
    if (!s) {
        if (!p->err) p->err = STAGE_EINVAL;
        return;
    }
    stage_pack_str(p, s, strlen(s));
}

void stage_pack_bin(stage_pack_t *p, const void *b, size_t len) {
    sized(p, -1, 0xc4, len);
    stage_pack_raw(p, b, len);
}

/* An array or map header of n entries: fix (n < 16), 16 or 32 bits. */
static void container(stage_pack_t *p, uint8_t fix, uint8_t t16, uint32_t n) {
    if (n < 16)
        tagged(p, fix | (uint8_t)n, 0, 0);
    else if (n <= UINT16_MAX)
        tagged(p, t16, n, 2);
    else
        tagged(p, t16 + 1, n, 4);
}

void stage_pack_array(stage_pack_t *p, uint32_t n) {
    container(p, 0x90, 0xdc, n);
}

void stage_pack_map(stage_pack_t *p, uint32_t n) {
    container(p, 0x80, 0xde, n);
}

void stage_pack_raw(stage_pack_t *p, const void *b, size_t len) {
    if (len == 0) return;
    char *d = room(p, len);
    if (!d) return;
    memcpy(d, b, len);
    p->len += len;
}

/* Writes the id as ext 8 (its payload is 18..142 bytes; layout in
** docs/protocol.md "Values"); an id whose parts are invalid is EINVAL. */
void stage_pack_id(stage_pack_t *p, const stage_id_t *id) {
    size_t a = strnlen(id->node, STAGE_ADDR_MAX);
    size_t t = strnlen(id->type, STAGE_TYPE_MAX);
    if (!stage__node_addr_valid(id->node, a) ||
        !stage__type_name_valid_n(id->type, t)) {
        if (!p->err) p->err = STAGE_EINVAL;
        return;
    }
    size_t plen = 16 + a + t;
    char *d = room(p, 3 + plen);
    if (!d) return;
    d[0] = (char)0xc7;
    d[1] = (char)plen;
    d[2] = STAGE_MSGPACK_EXT_ID;
    d += 3;
    *d++ = (char)a;
    memcpy(d, id->node, a);
    d += a;
    put32(d, id->incarnation);
    put16(d + 4, id->theatre);
    put64(d + 6, id->serial);
    d += 14;
    *d++ = (char)t;
    memcpy(d, id->type, t);
    p->len += 3 + plen;
}
