/*
** tests/fuzz/wire_bench.c: nanoseconds per operation of the value encoding
** on the hot path of a Lua message: the arguments (an integer, a short
** string, a reference) encoded from Lua and decoded back into Lua; the raw
** writer against msgpack-c's packer through a write callback; the frame
** decoder.
** Run: build-<dir>/tests/fuzz/wire_bench [iterations [lua|writer|frames]].
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <msgpack.h>

#include "stage/errors.h"
#include "stage/pack.h"
#include "wire/frame.h"
#include "lua/lvalue.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int enc_ref(lua_State *L, int idx, stage_pack_t *p, void *ud) {
    (void)ud;
    stage_id_t *id = luaL_testudata(L, idx, "bench.ref");
    if (!id) return STAGE_EENCODE;
    stage_pack_id(p, id);
    return 0;
}

static void push_ref(lua_State *L, const stage_id_t *id, void *ud) {
    (void)ud;
    stage_id_t *u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = *id;
    luaL_setmetatable(L, "bench.ref");
}

static void fill_id(stage_id_t *id) {
    memset(id, 0, sizeof *id);
    strcpy(id->node, "127.0.0.1:7400");
    strcpy(id->type, "Area");
    id->incarnation = 0x2a;
    id->serial = 17;
}

static void bench_lua(long n) {
    lua_State *L = luaL_newstate();
    stage__lv_hooks_t h = {enc_ref, push_ref, NULL, 0, NULL};
    stage_pack_t p = STAGE_PACK_INIT;
    char err[128];
    luaL_newmetatable(L, "bench.ref");
    lua_pop(L, 1);
    lua_pushinteger(L, 42);
    lua_pushstring(L, "hello");
    fill_id(lua_newuserdatauv(L, sizeof(stage_id_t), 0));
    luaL_setmetatable(L, "bench.ref");
    double t0 = now();
    for (long i = 0; i < n; i++) {
        stage_pack_reset(&p);
        if (stage__lv_encode_args(L, 1, 3, &p, &h, err, sizeof err)) abort();
    }
    double t1 = now();
    for (long i = 0; i < n; i++) {
        if (stage__lv_decode_args(L, p.data, p.len, &h, err, sizeof err) != 3)
            abort();
        lua_settop(L, 3);
    }
    double t2 = now();
    for (long i = 0; i < n; i++) {
        if (stage__lv_pdecode(L, true, p.data, p.len, &h, err, sizeof err) != 3)
            abort();
        lua_settop(L, 3);
    }
    double t3 = now();
    printf("lua args (int, short str, ref) %zu bytes: encode %.0f ns, "
           "decode %.0f ns, both %.0f ns/op; protected decode %.0f ns\n",
           p.len, (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9, (t2 - t0) / n * 1e9,
           (t3 - t2) / n * 1e9);
    stage_pack_free(&p);
    lua_close(L);
}

static int to_pack(void *data, const char *buf, size_t len) {
    stage_pack_raw(data, buf, len);
    return 0;
}

/* The same bytes written directly and by msgpack-c's packer through a
** write callback; then what encoding an id (with its checks) costs. */
static void bench_writer(long n) {
    stage_id_t id;
    stage_pack_t p = STAGE_PACK_INIT;
    fill_id(&id);
    stage_pack_id(&p, &id);
    char ext[STAGE_ID_TEXT_MAX];
    size_t elen = p.len;
    memcpy(ext, p.data, elen);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        stage_pack_reset(&p);
        stage_pack_array(&p, 3);
        stage_pack_int(&p, 42 + (i & 1));
        stage_pack_str(&p, "hello", 5);
        stage_pack_raw(&p, ext, elen);
    }
    double t1 = now();
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p, to_pack);
    for (long i = 0; i < n; i++) {
        stage_pack_reset(&p);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int64(&pk, 42 + (i & 1));
        msgpack_pack_str(&pk, 5);
        msgpack_pack_str_body(&pk, "hello", 5);
        msgpack_pack_ext(&pk, elen - 3, 1);
        msgpack_pack_ext_body(&pk, ext + 3, elen - 3);
    }
    double t2 = now();
    for (long i = 0; i < n; i++) {
        stage_pack_reset(&p);
        id.serial = (uint64_t)i;
        stage_pack_id(&p, &id);
    }
    double t3 = now();
    printf("writer [int, str, ext]: direct %.1f ns, msgpack-c packer %.1f "
           "ns; stage_pack_id %.1f ns\n",
           (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9, (t3 - t2) / n * 1e9);
    stage_pack_free(&p);
}

static void bench_frames(long n) {
    stage_pack_t body = STAGE_PACK_INIT, out = STAGE_PACK_INIT;
    stage_id_t id;
    fill_id(&id);
    stage_pack_array(&body, 3);
    stage_pack_int(&body, 42);
    stage_pack_str(&body, "hello", 5);
    stage_pack_id(&body, &id);
    for (int i = 0; i < 64; i++)
        stage__frame_append(&out, 1, body.data, body.len, 0);
    stage__fdec_t d;
    stage__frame_t f;
    stage__fdec_init(&d, 0);
    long frames = 0;
    double t0 = now();
    for (long i = 0; i < n / 64; i++) {
        stage__fdec_feed(&d, out.data, out.len);
        while (stage__fdec_next(&d, &f) == 1)
            frames++;
    }
    double t1 = now();
    printf("frame decoder (%zu-byte frames, 64 per read): %.1f ns/frame\n",
           body.len + 8, (t1 - t0) / (double)frames * 1e9);
    stage__fdec_close(&d);
    stage_pack_free(&body);
    stage_pack_free(&out);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *only = argc > 2 ? argv[2] : ""; /* lua, writer or frames */
    /* The machine is shared: run each 3 times; read the best line. */
    for (int round = 0; round < 3; round++) {
        if (!*only || !strcmp(only, "lua")) bench_lua(n);
        if (!*only || !strcmp(only, "writer")) bench_writer(n);
        if (!*only || !strcmp(only, "frames")) bench_frames(n);
    }
    return 0;
}
