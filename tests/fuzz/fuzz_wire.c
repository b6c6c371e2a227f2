/*
** tests/fuzz/fuzz_wire.c: a deterministic mutation fuzzer for the wire
** readers (ctest "fuzz.wire"). Seeds are well-formed values, Lua argument
** encodings and frame streams; each iteration mutates one of them and runs
** the checks of wire_checks.c.
**
**     fuzz_wire [--seed S] [--secs T] [--iters N] [--iter I]
**
** Iteration i of seed S always builds the same input, so a failure prints
** "seed S, iteration I" and `fuzz_wire --seed S --iter I` replays exactly
** that input. Runs until T seconds (default 3) or N iterations pass. A crash
** (a signal, or a sanitizer report) prints the seed and iteration too.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "stage/pack.h"
#include "wire/frame.h"
#include "lua/lvalue.h"
#include "wire_checks.h"

#ifdef STAGE_SANITIZE
#include <sanitizer/common_interface_defs.h>
#endif

#define MAX_SEEDS 64
#define FUZZ_MAX_INPUT 8192

static stage_pack_t seeds[MAX_SEEDS];
static int nseeds;
static uint64_t cur_seed, cur_iter;

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void say_where(void) {
    char line[160];
    int n =
        snprintf(line, sizeof line,
                 "fuzz.wire: crashed at seed %llu, iteration %llu "
                 "(replay: fuzz_wire --seed %llu --iter %llu)\n",
                 (unsigned long long)cur_seed, (unsigned long long)cur_iter,
                 (unsigned long long)cur_seed, (unsigned long long)cur_iter);
    if (n > 0) (void)!write(2, line, (size_t)n);
}

static void on_signal(int sig) {
    say_where();
    signal(sig, SIG_DFL);
    raise(sig);
}

static stage_pack_t *new_seed(void) {
    stage_pack_init(&seeds[nseeds]);
    return &seeds[nseeds++];
}

static void seed_values(void) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    strcpy(id.node, "[::1]:7400");
    strcpy(id.type, "Area");
    id.serial = 17;
    stage_pack_t *p = new_seed();
    stage_pack_array(p, 6);
    stage_pack_map(p, 2);
    stage_pack_cstr(p, "a");
    stage_pack_array(p, 3);
    stage_pack_int(p, -70000);
    stage_pack_double(p, 2.5);
    stage_pack_id(p, &id);
    stage_pack_int(p, 7);
    stage_pack_bin(p, "\0\1", 2);
    stage_pack_str(p, "x\0y", 3);
    stage_pack_bool(p, true);
    stage_pack_raw(p, "\xd4\x05\x01", 3);
    stage_pack_int(p, INT64_MIN);
    stage_pack_nil(p);
    p = new_seed();
    for (int i = 0; i < 20; i++)
        stage_pack_array(p, 1);
    stage_pack_map(p, 1);
    stage_pack_int(p, 1);
    stage_pack_str(p, "0123456789abcdef0123456789abcdef0123", 36);
    p = new_seed();
    stage_pack_id(p, &id);
    p = new_seed();
    stage_pack_raw(p, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
}

/* Lua argument lists, encoded as the binding would. */
static void seed_lua(lua_State *L) {
    static const char *chunks[] = {
        "return 1, 'two', 3.5",
        "return {1, 2, {a = 'b', [true] = false}}, nil, 'x'",
        "return {x = {y = {z = {1.5, -1, math.maxinteger}}}}",
        "return string.rep('s', 300), {}, {[0] = 0}",
    };
    char err[128];
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        int top = lua_gettop(L);
        if (luaL_dostring(L, chunks[k])) abort();
        int n = lua_gettop(L) - top;
        if (stage__lv_encode_args(L, top + 1, n, new_seed(), NULL, err,
                                  sizeof err))
            abort();
        lua_settop(L, top);
    }
}

/* Frame streams: a few frames batched, as a connection writes them. */
static void seed_frames(void) {
    stage_pack_t *p = new_seed();
    stage__frame_append(p, 1, seeds[0].data, seeds[0].len, 0);
    stage__frame_append(p, 2, "\x90", 1, 0);
    stage__frame_append(p, 3, seeds[4].data, seeds[4].len, 0);
    p = new_seed();
    stage__frame_append(p, 7, "\xc0", 1, 0);
}

/* Apply one random mutation to buf[0..*len). */
static void mutate(uint8_t *buf, size_t *len, uint64_t *r) {
    static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xc1,
                                          0xc7, 0xd4, 0xd8, 0xd9, 0xdb, 0xdc,
                                          0xdd, 0xde, 0xdf, 0x91, 0x81, 0xa5};
    size_t n = *len, at = n ? next_rand(r) % n : 0;
    switch (next_rand(r) % 7) {
    case 0:
        if (n) buf[at] ^= (uint8_t)(1u << (next_rand(r) % 8));
        break;
    case 1:
        if (n) buf[at] = interesting[next_rand(r) % sizeof interesting];
        break;
    case 2:
        if (n) buf[at] = (uint8_t)next_rand(r);
        break;
    case 3:
        *len = n ? next_rand(r) % n : 0;
        break; /* truncate */
    case 4:    /* delete a byte */
        if (n) memmove(buf + at, buf + at + 1, n - at - 1), *len = n - 1;
        break;
    case 5: /* insert a byte */
        if (n < FUZZ_MAX_INPUT) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = interesting[next_rand(r) % sizeof interesting];
            *len = n + 1;
        }
        break;
    default: /* duplicate a stretch */
        if (n && n * 2 <= FUZZ_MAX_INPUT) {
            uint8_t tmp[FUZZ_MAX_INPUT];
            size_t from = next_rand(r) % n, k = next_rand(r) % (n - from) + 1;
            memcpy(tmp, buf + from, k);
            memmove(buf + at + k, buf + at, n - at);
            memcpy(buf + at, tmp, k);
            *len = n + k;
        }
        break;
    }
}

/* Build the input of iteration iter into buf; returns its length. */
static size_t make_input(uint64_t seed, uint64_t iter, uint8_t *buf) {
    uint64_t r =
        seed * 0x9e3779b97f4a7c15ull ^ (iter + 1) * 0xbf58476d1ce4e5b9ull;
    if (!r) r = 1;
    const stage_pack_t *s = &seeds[next_rand(&r) % (uint64_t)nseeds];
    size_t len = s->len;
    memcpy(buf, s->data, len);
    int rounds = 1 + (int)(next_rand(&r) % 8);
    for (int k = 0; k < rounds; k++)
        mutate(buf, &len, &r);
    return len;
}

static void usage(void) {
    fprintf(stderr, "usage: fuzz_wire [--seed S] [--secs T] [--iters N] "
                    "[--iter I]\n");
    exit(2);
}

int main(int argc, char **argv) {
    uint64_t seed = 1, iters = UINT64_MAX, only = UINT64_MAX;
    double secs = 3;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--secs"))
            secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--iters"))
            iters = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--iter"))
            only = strtoull(argv[++i], NULL, 0);
        else
            usage();
    }
    signal(SIGSEGV, on_signal);
    signal(SIGABRT, on_signal);
    signal(SIGBUS, on_signal);
#ifdef STAGE_SANITIZE
    __sanitizer_set_death_callback(say_where);
#endif
    cur_seed = seed;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    seed_values();
    seed_lua(L);
    seed_frames();
    static uint8_t buf[FUZZ_MAX_INPUT * 2];
    char why[300];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cur_seed = seed;
    uint64_t i = only == UINT64_MAX ? 0 : only;
    for (; i < iters; i++) {
        cur_iter = i;
        size_t len = make_input(seed, i, buf);
        if (stage_fuzz_wire_one(L, buf, len, why, sizeof why)) {
            fprintf(stderr,
                    "fuzz.wire: FAILED at seed %llu, iteration %llu: %s\n"
                    "replay: fuzz_wire --seed %llu --iter %llu\n",
                    (unsigned long long)seed, (unsigned long long)i, why,
                    (unsigned long long)seed, (unsigned long long)i);
            return 1;
        }
        if (only != UINT64_MAX) break;
        if ((i & 255) == 255) {
            lua_gc(L, LUA_GCCOLLECT);
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((double)(t.tv_sec - t0.tv_sec) +
                    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >=
                secs)
                break;
        }
    }
    printf("fuzz.wire: seed %llu, %llu inputs, all checks held\n",
           (unsigned long long)seed, (unsigned long long)(i + 1));
    lua_close(L);
    for (int k = 0; k < nseeds; k++)
        stage_pack_free(&seeds[k]);
    return 0;
}
