/*
** tests/fuzz/wire_checks.c: properties of the wire readers on any input.
**
** 1. stage_pack_validate and a typed walk with the cursor agree on whether
**    data is one well-formed value, and the cursor stays inside the data.
** 2. The Lua decoder accepts no more than validate does, leaves the stack
**    as it was on failure and one value on success; what it decodes
**    encodes again into valid msgpack (or fails only for nesting the
**    encoder does not send).
** 3. The frame decoder gives the same frames and the same error however
**    the stream is split, and every frame body it gives validates; data
**    wrapped in one frame decodes exactly when it validates.
** Pure; one thread (the Lua state's).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/errors.h"
#include "stage/pack.h"
#include "wire/frame.h"
#include "lua/lvalue.h"
#include "wire_checks.h"

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf(why, whylen, __VA_ARGS__);                                \
            return 1;                                                          \
        }                                                                      \
    } while (0)

/* Read one value with the typed calls. 0 or STAGE_EDECODE. */
static int walk(stage_unpack_t *u, int depth) {
    stage_id_t id;
    const char *s;
    size_t n;
    uint32_t count;
    bool b;
    int64_t i;
    double d;
    switch (stage_unpack_peek(u)) {
    case STAGE_T_NIL:
        return stage_unpack_nil(u);
    case STAGE_T_BOOL:
        return stage_unpack_bool(u, &b);
    case STAGE_T_INT:
        if (stage_unpack_int(u, &i) == 0) return 0;
        return u->err ? u->err : stage_unpack_double(u, &d);
    case STAGE_T_DOUBLE:
        return stage_unpack_double(u, &d);
    case STAGE_T_STR:
        return stage_unpack_str(u, &s, &n);
    case STAGE_T_BIN:
        return stage_unpack_bin(u, &s, &n);
    case STAGE_T_ID:
        return stage_unpack_id(u, &id);
    case STAGE_T_OTHER:
        return stage_unpack_skip(u);
    case STAGE_T_ARRAY:
    case STAGE_T_MAP:
        break;
    default:
        return STAGE_EDECODE;
    }
    if (depth + 1 > STAGE_PACK_MAX_DEPTH) return STAGE_EDECODE;
    uint64_t values;
    if (stage_unpack_array(u, &count) == 0)
        values = count;
    else if (stage_unpack_map(u, &count) == 0)
        values = 2 * (uint64_t)count;
    else
        return STAGE_EDECODE;
    for (uint64_t k = 0; k < values; k++)
        if (walk(u, depth + 1)) return STAGE_EDECODE;
    return 0;
}

static int check_cursor(const uint8_t *data, size_t len, char *why,
                        size_t whylen) {
    const char *b = (const char *)data;
    int v = stage_pack_validate(b, len, 1);
    stage_unpack_t u;
    stage_unpack_init(&u, b, len);
    int w = walk(&u, 0);
    CHECK(u.p >= b && u.p <= b + len, "cursor left the data");
    if (w == 0) w = stage_unpack_peek(&u) == STAGE_T_END ? 0 : STAGE_EDECODE;
    CHECK((v == 0) == (w == 0), "validate says %d, the cursor walk %d", v, w);
    stage_unpack_init(&u, b, len);
    int sk = stage_unpack_skip(&u);
    CHECK(sk != 0 || v != 0 || u.p == b + len, "skip stopped short");
    return 0;
}

static int check_lua(lua_State *L, const uint8_t *data, size_t len, char *why,
                     size_t whylen) {
    char err[256];
    const char *b = (const char *)data;
    int top = lua_gettop(L);
    int rc = stage__lv_decode_value(L, b, len, NULL, err, sizeof err);
    CHECK(rc == 0 || rc == STAGE_EDECODE, "decode_value returned %d", rc);
    CHECK(lua_gettop(L) == top + (rc == 0), "decode_value left the stack");
    CHECK(rc != 0 || stage_pack_validate(b, len, 1) == 0,
          "decode_value accepted what validate refuses");
    if (rc == 0) {
        stage_pack_t p = STAGE_PACK_INIT;
        int e = stage__lv_encode_value(L, -1, &p, NULL, err, sizeof err);
        int ok = e == 0 ? stage_pack_validate(p.data, p.len, 1) == 0
                        : strstr(err, "nested deeper") != NULL;
        stage_pack_free(&p);
        CHECK(ok, "decoded value re-encodes badly: %d %s", e, err);
    }
    lua_settop(L, top);
    int n = stage__lv_decode_args(L, b, len, NULL, err, sizeof err);
    CHECK(n >= 0 || n == STAGE_EDECODE, "decode_args returned %d", n);
    CHECK(lua_gettop(L) == top + (n > 0 ? n : 0), "decode_args left the stack");
    lua_settop(L, top);
    return 0;
}

/* A digest of what a frame decoder gives for data fed in chunks of the
** sizes cycling through split[] (0: all at once). */
static uint64_t frames_digest(const uint8_t *data, size_t len,
                              const size_t *split, int nsplit, int *bad) {
    stage__fdec_t d;
    stage__frame_t f;
    uint64_t h = 1469598103934665603ull;
    int rc = 0, k = 0;
    stage__fdec_init(&d, 4096);
    *bad = 0;
    for (size_t at = 0; at < len && rc >= 0;) {
        size_t n = split[k++ % nsplit];
        if (n == 0 || n > len - at) n = len - at;
        if (stage__fdec_feed(&d, data + at, n)) abort();
        at += n;
        while ((rc = stage__fdec_next(&d, &f)) == 1) {
            if (stage_pack_validate(f.body, f.len, 1)) *bad = 1;
            h = (h ^ f.kind ^ (uint64_t)f.len << 8) * 1099511628211ull;
            for (size_t i = 0; i < f.len; i++)
                h = (h ^ (uint8_t)f.body[i]) * 1099511628211ull;
        }
    }
    h = (h ^ (uint64_t)(-rc)) * 1099511628211ull;
    for (const char *m = stage__fdec_error(&d); *m; m++)
        h = (h ^ (uint8_t)*m) * 1099511628211ull;
    stage__fdec_close(&d);
    return h;
}

static int check_frames(const uint8_t *data, size_t len, char *why,
                        size_t whylen) {
    static const size_t whole[] = {0}, bytes[] = {1}, mixed[] = {3, 1, 7, 64};
    int bad1, bad2, bad3;
    uint64_t a = frames_digest(data, len, whole, 1, &bad1);
    uint64_t b = frames_digest(data, len, bytes, 1, &bad2);
    uint64_t c = frames_digest(data, len, mixed, 4, &bad3);
    CHECK(!bad1 && !bad2 && !bad3, "a frame body does not validate");
    CHECK(a == b && a == c, "frames differ with the split of the stream");
    /* data as the body of one frame */
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__frame_append(&p, 9, data, len, 0);
    CHECK(rc == 0, "frame_append failed: %d", rc);
    stage__fdec_t d;
    stage__frame_t f;
    stage__fdec_init(&d, 0);
    stage__fdec_feed(&d, p.data, p.len);
    rc = stage__fdec_next(&d, &f);
    int valid = stage_pack_validate((const char *)data, len, 1) == 0;
    stage__fdec_close(&d);
    stage_pack_free(&p);
    CHECK(rc == (valid ? 1 : STAGE_EDECODE), "wrapped frame gave %d", rc);
    return 0;
}

int stage_fuzz_wire_one(lua_State *L, const uint8_t *data, size_t len,
                        char *why, size_t whylen) {
    return check_cursor(data, len, why, whylen) ||
           check_lua(L, data, len, why, whylen) ||
           check_frames(data, len, why, whylen);
}
