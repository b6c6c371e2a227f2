/*
** tests/unit/test_lvalue.c: Lua values <-> msgpack (wire/lvalue.h): round
** trips of every kind of value, the errors a script sees (naming the
** argument and field), cycles, limits, and hostile input to the decoder.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "stage/errors.h"
#include "lua/lvalue.h"

/* deq(a, b): deep equality that tells integers from floats. */
static const char *helpers =
    "function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    return math.type(a) == math.type(b) and (a == b or a ~= a and b ~= "
    "b)\n"
    "  end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n";

static int setup(void **state) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_dostring(L, helpers)) return -1;
    *state = L;
    return 0;
}

static int teardown(void **state) {
    lua_close(*state);
    return 0;
}

/* Run chunk and leave its results on the stack; returns their number. */
static int run(lua_State *L, const char *chunk) {
    int top = lua_gettop(L);
    if (luaL_dostring(L, chunk)) fail_msg("%s", lua_tostring(L, -1));
    return lua_gettop(L) - top;
}

/* Encode what chunk returns as arguments, decode them, and check that they
** are deeply equal to the originals. Returns the encoding's first byte of
** the first argument. */
static void round_trip(lua_State *L, const char *chunk) {
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    int top = lua_gettop(L);
    int n = run(L, chunk);
    int rc = stage__lv_encode_args(L, top + 1, n, &p, NULL, err, sizeof err);
    if (rc) fail_msg("%s: %s", chunk, err);
    assert_int_equal(lua_gettop(L), top + n);
    assert_int_equal(stage_pack_validate(p.data, p.len, 1), 0);
    int got = stage__lv_decode_args(L, p.data, p.len, NULL, err, sizeof err);
    if (got != n) fail_msg("%s: decoded %d of %d: %s", chunk, got, n, err);
    for (int i = 1; i <= n; i++) {
        lua_getglobal(L, "deq");
        lua_pushvalue(L, top + i);
        lua_pushvalue(L, top + n + i);
        lua_call(L, 2, 1);
        if (!lua_toboolean(L, -1)) fail_msg("%s: value %d differs", chunk, i);
        lua_pop(L, 1);
    }
    lua_settop(L, top);
    stage_pack_free(&p);
}

static void scalars_round_trip_and_keep_their_number_kind(void **state) {
    lua_State *L = *state;
    round_trip(L, "return 1, 1.0, -0.5, 0, -1, 2^53, 1e308, -1e-308");
    round_trip(L, "return math.maxinteger, math.mininteger, 127, 128, -32,"
                  " -33, 255, 256, 65535, 65536, 4294967295, 4294967296");
    round_trip(L, "return -128, -129, -32768, -32769, -2^31 // 1,"
                  " -2^31 // 1 - 1, 2^31 // 1 - 1, 2^31 // 1");
    round_trip(L, "return string.rep('s', 31), string.rep('t', 32)");
    round_trip(L, "return 0/0, 1/0, -1/0, 3.0, -2.0");
    round_trip(L, "return 'a', '', 'bin\\0ary\\255', string.rep('x', 70000)");
    round_trip(L, "return true, false, nil, nil, 1, nil");
    round_trip(L, "return");
    /* integers decode as integers, floats as floats */
    char err[128];
    stage_pack_t p = STAGE_PACK_INIT;
    run(L, "return 3, 3.0");
    assert_int_equal(stage__lv_encode_args(L, -2, 2, &p, NULL, err, 128), 0);
    lua_settop(L, 0);
    assert_int_equal(stage__lv_decode_args(L, p.data, p.len, NULL, err, 128),
                     2);
    assert_true(lua_isinteger(L, 1));
    assert_false(lua_isinteger(L, 2));
    lua_settop(L, 0);
    stage_pack_free(&p);
}

static void tables_round_trip(void **state) {
    lua_State *L = *state;
    round_trip(L, "return {}, {1, 2, 3}, {a = 1, b = 'x'}, {1, 2, x = 1}");
    round_trip(L, "return {[1] = 1, [3] = 3}, {[0] = 'zero'}, {[-1] = 1}");
    round_trip(L, "return {[1.5] = 'f', [true] = 'y', [false] = 'n'}");
    round_trip(L, "return {a = {b = {c = {1, {2, {3}}}}}}, {{}, {{}}}");
    round_trip(L, "local t = {} for i = 1, 1000 do t[i] = i * 1.5 end "
                  "return t");
    round_trip(L, "local t = {} for i = 1, 100 do t['k' .. i] = {i} end "
                  "return t");
}

/* The first byte of the encoding of the value chunk returns. */
static uint8_t first_byte(lua_State *L, const char *chunk) {
    stage_pack_t p = STAGE_PACK_INIT;
    char err[128];
    run(L, chunk);
    assert_int_equal(stage__lv_encode_value(L, -1, &p, NULL, err, 128), 0);
    lua_pop(L, 1);
    uint8_t b = (uint8_t)p.data[0];
    stage_pack_free(&p);
    return b;
}

static void sequences_are_arrays_and_the_rest_maps(void **state) {
    lua_State *L = *state;
    assert_int_equal(first_byte(L, "return {}"), 0x90);
    assert_int_equal(first_byte(L, "return {1, 2, 3}"), 0x93);
    assert_int_equal(first_byte(L, "return {1, nil, 3}"), 0x82);
    assert_int_equal(first_byte(L, "return {1, 2, x = 3}"), 0x83);
    assert_int_equal(first_byte(L, "return {[2] = 2}"), 0x81);
    assert_int_equal(first_byte(L, "return {[1.0] = 1}"), 0x91);
    assert_int_equal(first_byte(L, "return setmetatable({}, {__len = "
                                   "function() return 5 end})"),
                     0x90);
}

static void shared_tables_are_copied_and_cycles_are_errors(void **state) {
    lua_State *L = *state;
    round_trip(L, "local s = {1, 2} return {s, s, {s}}, s");
    /* copies, not one table: changing one leaves the other */
    stage_pack_t p = STAGE_PACK_INIT;
    char err[256];
    run(L, "local s = {1} return {s, s}");
    assert_int_equal(stage__lv_encode_value(L, -1, &p, NULL, err, 256), 0);
    lua_settop(L, 0);
    assert_int_equal(stage__lv_decode_value(L, p.data, p.len, NULL, err, 256),
                     0);
    lua_rawgeti(L, 1, 1);
    lua_rawgeti(L, 1, 2);
    assert_false(lua_rawequal(L, -1, -2));
    lua_settop(L, 0);
    stage_pack_free(&p);
}

/* Encode what chunk returns as arguments; expect STAGE_EENCODE with msg. */
static void encode_fails(lua_State *L, const char *chunk, const char *msg) {
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, 42); /* what was there before stays */
    int n = run(L, chunk);
    int rc = stage__lv_encode_args(L, -n, n, &p, NULL, err, sizeof err);
    if (rc != STAGE_EENCODE) fail_msg("%s: encoded", chunk);
    assert_string_equal(err, msg);
    assert_int_equal(p.len, 1);
    assert_int_equal(lua_gettop(L), n);
    lua_settop(L, 0);
    stage_pack_free(&p);
}

static void errors_name_the_argument_and_field(void **state) {
    lua_State *L = *state;
    encode_fails(L, "return 1, {f = function() end}",
                 "argument 2: field 'f': cannot send a function");
    encode_fails(L, "return {a = {b = print}}",
                 "argument 1: field 'a'.'b': cannot send a function");
    encode_fails(L, "return {1, 2, io.stdout}",
                 "argument 1: index 3: cannot send userdata");
    encode_fails(L, "return {a = {1, {f = print}}}",
                 "argument 1: field 'a'[2].'f': cannot send a function");
    encode_fails(L, "return nil, nil, coroutine.create(print)",
                 "argument 3: cannot send a thread");
    encode_fails(L, "return {[print] = 1}",
                 "argument 1: cannot send a table with a function key");
    encode_fails(L, "return {x = {[{}] = 1}}",
                 "argument 1: field 'x': cannot send a table with a table "
                 "key");
    encode_fails(L, "local t = {} t.self = t return t",
                 "argument 1: field 'self': table contains a cycle");
    encode_fails(L, "local a, b = {}, {} a[1] = b b[2] = a return 0, a",
                 "argument 2: index 1[2]: table contains a cycle");
    encode_fails(L, "return {[2.5] = {[true] = print}}",
                 "argument 1: key 2.5[true]: cannot send a function");
    char err[128];
    stage_pack_t p = STAGE_PACK_INIT;
    lua_pushlightuserdata(L, &p);
    assert_int_equal(stage__lv_encode_value(L, -1, &p, NULL, err, 128),
                     STAGE_EENCODE);
    assert_string_equal(err, "value: cannot send userdata");
    run(L, "return {f = print}");
    assert_int_equal(stage__lv_encode_arg(L, -1, 4, &p, NULL, err, 128),
                     STAGE_EENCODE);
    assert_string_equal(err, "argument 4: field 'f': cannot send a function");
    char small[16]; /* a short buffer gets the start of the message */
    assert_int_equal(stage__lv_encode_arg(L, -1, 4, &p, NULL, small, 16),
                     STAGE_EENCODE);
    assert_string_equal(small, "argument 4: fie");
    assert_int_equal(stage__lv_encode_arg(L, -1, 4, &p, NULL, NULL, 0),
                     STAGE_EENCODE);
    assert_int_equal(p.len, 0);
    lua_settop(L, 0);
    stage_pack_free(&p);
}

static void nesting_and_argument_counts_are_limited(void **state) {
    lua_State *L = *state;
    char chunk[200];
    snprintf(chunk, sizeof chunk,
             "local t = 1 for i = 1, %d do t = {t} end return t",
             STAGE__LV_MAX_DEPTH);
    round_trip(L, chunk);
    snprintf(chunk, sizeof chunk,
             "local t = 1 for i = 1, %d do t = {t} end return t",
             STAGE__LV_MAX_DEPTH + 1);
    char msg[256] = "argument 1: index 1";
    for (int i = 1; i < STAGE__LV_MAX_DEPTH; i++)
        strcat(msg, "[1]");
    strcat(msg, ": tables nested deeper than 32");
    encode_fails(L, chunk, msg);
    encode_fails(L, "return table.unpack({}, 1, 251)",
                 "too many arguments (251, at most 250)");
}

/* Encode what chunk returns as arguments with hooks h; expect
** STAGE_ETOOBIG with msg, and nothing left of it in the buffer. */
static void encode_too_large(lua_State *L, const stage__lv_hooks_t *h,
                             const char *chunk, const char *msg) {
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, 42);
    int n = run(L, chunk);
    int rc = stage__lv_encode_args(L, -n, n, &p, h, err, sizeof err);
    if (rc != STAGE_ETOOBIG) fail_msg("%s: %d, not too large", chunk, rc);
    assert_string_equal(err, msg);
    assert_int_equal(p.len, 1);
    lua_settop(L, 0);
    stage_pack_free(&p);
}

static void a_table_shared_exponentially_is_too_large(void **state) {
    lua_State *L = *state;
    encode_too_large(L, NULL,
                     "local t = string.rep('x', 4 << 20) "
                     "for i = 1, 6 do t = {t, t} end return t",
                     "argument 1: index 1[2]: value too large (over 67108864 "
                     "bytes)");
}

static void the_hooks_set_the_size_limit(void **state) {
    lua_State *L = *state;
    stage__lv_hooks_t h = {.max_bytes = 1000};
    /* a str of 996 bytes takes 3 of header, and the array 1: 1000 */
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    int n = run(L, "return string.rep('x', 996)");
    assert_int_equal(stage__lv_encode_args(L, -n, n, &p, &h, err, sizeof err),
                     0);
    assert_int_equal(p.len, 1000); /* exactly the limit goes */
    lua_settop(L, 0);
    stage_pack_free(&p);
    encode_too_large(L, &h, "return string.rep('x', 997)",
                     "argument 1: value too large (over 1000 bytes: "
                     "--max-message)");
    encode_too_large(L, &h,
                     "local t = {} for i = 1, 600 do t[i] = i end "
                     "return {t, t}",
                     "argument 1: index 2: value too large (over 1000 "
                     "bytes: --max-message)");
}

/* Hooks: userdata of this metatable is an id. */
static int enc_ud(lua_State *L, int idx, stage_pack_t *p, void *ud) {
    (void)ud;
    stage_id_t *id = luaL_testudata(L, idx, "test.id");
    if (!id) return STAGE_EENCODE;
    stage_pack_id(p, id);
    return 0;
}

static void push_id(lua_State *L, const stage_id_t *id, void *ud) {
    (*(int *)ud)++;
    stage_id_t *u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = *id;
    luaL_setmetatable(L, "test.id");
}

static void references_go_through_the_hooks(void **state) {
    lua_State *L = *state;
    int pushed = 0;
    stage__lv_hooks_t h = {enc_ud, push_id, &pushed, 0, NULL};
    luaL_newmetatable(L, "test.id");
    lua_pop(L, 1);
    stage_id_t *id = lua_newuserdatauv(L, sizeof *id, 0);
    memset(id, 0, sizeof *id);
    strcpy(id->node, "127.0.0.1:7400");
    strcpy(id->type, "Area");
    id->incarnation = 0x2a;
    id->serial = 17;
    luaL_setmetatable(L, "test.id");
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ref");
    char err[128];
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage__lv_encode_args(L, 1, 2, &p, &h, err, 128), 0);
    assert_int_equal(stage__lv_encode_args(L, 1, 1, &p, NULL, err, 128),
                     STAGE_EENCODE);
    assert_string_equal(err, "argument 1: cannot send userdata");
    lua_settop(L, 0);
    assert_int_equal(stage__lv_decode_args(L, p.data, p.len, &h, err, 128), 2);
    assert_int_equal(pushed, 2);
    stage_id_t *got = luaL_checkudata(L, 1, "test.id");
    assert_string_equal(got->node, "127.0.0.1:7400");
    assert_int_equal(got->serial, 17);
    lua_getfield(L, 2, "ref");
    assert_non_null(luaL_testudata(L, -1, "test.id"));
    lua_settop(L, 0);
    /* without hooks an id decodes as its text form */
    assert_int_equal(stage__lv_decode_args(L, p.data, p.len, NULL, err, 128),
                     2);
    assert_string_equal(lua_tostring(L, 1), "127.0.0.1:7400~2a/0/Area/17");
    lua_settop(L, 0);
    stage_pack_free(&p);
}

/* Decode len bytes of b as arguments; expect failure with msg, nothing
** pushed. */
static void decode_fails(lua_State *L, const char *b, size_t len,
                         const char *msg) {
    char err[128];
    lua_settop(L, 0);
    lua_pushinteger(L, 7);
    char *copy = malloc(len ? len : 1); /* so ASan sees an overread */
    memcpy(copy, b, len);
    assert_int_equal(stage__lv_decode_args(L, copy, len, NULL, err, 128),
                     STAGE_EDECODE);
    if (msg) assert_string_equal(err, msg);
    assert_int_equal(lua_gettop(L), 1);
    lua_settop(L, 0);
    free(copy);
}

static void hostile_input_fails_cleanly(void **state) {
    lua_State *L = *state;
    decode_fails(L, "", 0, "arguments are not an array at byte 0");
    decode_fails(L, "\x01", 1, "arguments are not an array at byte 0");
    decode_fails(L, "\x92\x01", 2, "arguments are not an array at byte 0");
    decode_fails(L, "\x91\x01\x01", 3, "trailing bytes at byte 2");
    decode_fails(L, "\x91\xc1", 2, "malformed value at byte 1");
    decode_fails(L, "\x91\xd4\x07\x00", 4, "unsupported ext type 7 at byte 1");
    decode_fails(L, "\x91\x81\xc0\x01", 4, "map key of type nil at byte 2");
    decode_fails(L, "\x91\x81\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\x01", 12,
                 "map key of type number at byte 2");
    decode_fails(L, "\x91\x81\x90\x01", 4, "map key of type table at byte 2");
    decode_fails(L, "\x91\xd4\x01\x00", 4, "malformed actor id at byte 1");
    decode_fails(L, "\x91\xdd\xff\xff\xff\xff\x00", 7,
                 "malformed value at byte 1");
    /* too many values */
    char b[300];
    b[0] = (char)0xdc;
    b[1] = 0;
    b[2] = (char)251;
    memset(b + 3, 0xc0, 251);
    decode_fails(L, b, 254, "too many values (251, at most 250) at byte 0");
    b[2] = (char)250;
    assert_int_equal(stage__lv_decode_args(L, b, 253, NULL, NULL, 0), 250);
    lua_settop(L, 0);
    /* a depth bomb */
    memset(b, 0x91, sizeof b);
    decode_fails(L, b, sizeof b, "nested deeper than 64 at byte 64");
}

static void every_truncation_fails_cleanly(void **state) {
    lua_State *L = *state;
    char err[128];
    stage_pack_t p = STAGE_PACK_INIT;
    /* tables, and each scalar decoding takes a short cut for */
    static const char *const chunks[] = {
        "return 1, 'two', {3, {four = 4.5, [5] = {true}}}, nil",
        "return 200, 40000, 3000000000, -100, -40000, -3000000000, "
        "string.rep('x', 31), false, 7"};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        int n = run(L, chunks[c]);
        stage_pack_reset(&p);
        assert_int_equal(stage__lv_encode_args(L, 1, n, &p, NULL, err, 128), 0);
        lua_settop(L, 0);
        for (size_t len = 0; len < p.len; len++) {
            decode_fails(L, p.data, len, NULL);
            assert_int_equal(
                stage__lv_decode_value(L, p.data, len, NULL, err, 128),
                STAGE_EDECODE);
            assert_int_equal(lua_gettop(L), 0);
        }
    }
    stage_pack_free(&p);
}

/* A Lua allocator with a limit, like a sandbox's. */
typedef struct mem {
    size_t used, limit;
} mem_t;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    mem_t *m = ud;
    if (!ptr) osize = 0;
    if (nsize == 0) {
        free(ptr);
        m->used -= osize;
        return NULL;
    }
    if (nsize > osize && m->used + (nsize - osize) > m->limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) m->used = m->used - osize + nsize;
    return p;
}

/* decode(data, len) -> rc, value: stage__lv_decode_value in a Lua call. */
static int decode_fn(lua_State *L) {
    const char *data = lua_touserdata(L, 1);
    size_t len = (size_t)lua_tointeger(L, 2);
    int rc = stage__lv_decode_value(L, data, len, NULL, NULL, 0);
    lua_pushinteger(L, rc);
    return rc ? 1 : 2;
}

static void out_of_memory_while_decoding_unwinds_cleanly(void **state) {
    (void)state;
    mem_t m = {0, 2 << 20};
    lua_State *L = lua_newstate(limited_alloc, &m);
    assert_non_null(L);
    /* 200000 empty arrays: 200 KB of msgpack, ~10 MB of Lua tables */
    size_t n = 200000, len = 5 + n;
    char *b = malloc(len);
    memcpy(b, "\xdd\x00\x03\x0d\x40", 5);
    memset(b + 5, 0x90, n);
    lua_pushcfunction(L, decode_fn);
    lua_pushlightuserdata(L, b);
    lua_pushinteger(L, (lua_Integer)len);
    assert_int_equal(lua_pcall(L, 2, LUA_MULTRET, 0), LUA_ERRMEM);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    /* the state is still good */
    lua_pushcfunction(L, decode_fn);
    lua_pushlightuserdata(L, "\x92\x01\xa1x");
    lua_pushinteger(L, 4);
    assert_int_equal(lua_pcall(L, 2, LUA_MULTRET, 0), LUA_OK);
    assert_true(lua_istable(L, 1)); /* the value, then rc */
    assert_int_equal(lua_tointeger(L, 2), 0);
    lua_settop(L, 0);
    /* the protected form returns the error instead */
    char err[64];
    assert_int_equal(stage__lv_pdecode(L, false, b, len, NULL, err, 64),
                     STAGE_ENOMEM);
    assert_string_equal(err, "out of memory");
    assert_int_equal(lua_gettop(L), 0);
    memcpy(b, "\x93\x01\xa1x\x90", 5);
    assert_int_equal(stage__lv_pdecode(L, true, b, 5, NULL, err, 64), 3);
    assert_int_equal(lua_gettop(L), 3);
    assert_int_equal(lua_tointeger(L, 1), 1);
    assert_string_equal(lua_tostring(L, 2), "x");
    assert_true(lua_istable(L, 3));
    assert_int_equal(stage__lv_pdecode(L, false, b, 2, NULL, err, 64),
                     STAGE_EDECODE);
    assert_int_equal(stage__lv_pdecode(L, false, b + 1, 1, NULL, err, 64), 0);
    assert_int_equal(lua_gettop(L), 4);
    lua_settop(L, 0);
    /* scalars alone take a path without lua_pcall: the same results, the
    ** same refusals */
    const char sc[] = "\x94\x05\xc3\xc0\xcb\x3f\xf8\0\0\0\0\0\0";
    assert_int_equal(
        stage__lv_pdecode(L, true, sc, sizeof sc - 1, NULL, err, 64), 4);
    assert_int_equal(lua_tointeger(L, 1), 5);
    assert_true(lua_toboolean(L, 2) && lua_isnil(L, 3));
    assert_true(lua_tonumber(L, 4) == 1.5);
    lua_settop(L, 0);
    assert_int_equal(
        stage__lv_pdecode(L, false, "\xd1\xff\x85", 3, NULL, err, 64), 0);
    assert_int_equal(lua_tointeger(L, 1), -123);
    assert_int_equal(
        stage__lv_pdecode(L, true, "\x91\xcd\x01", 3, NULL, err, 64),
        STAGE_EDECODE); /* a uint 16 cut short */
    assert_int_equal(
        stage__lv_pdecode(L, true, "\x91\x01\x02", 3, NULL, err, 64),
        STAGE_EDECODE); /* trailing bytes */
    assert_int_equal(lua_gettop(L), 1);
    lua_close(L);
    assert_int_equal(m.used, 0);
    free(b);
}

/* ---- the state of an actor image (stage__lv_encode_state) ---- */

/* Encode the table chunk returns as a state into p; the error into err. */
static int encode_state(lua_State *L, const char *chunk, stage_pack_t *p,
                        char *err) {
    run(L, chunk);
    int rc = stage__lv_encode_state(L, -1, p, NULL, err, 256);
    lua_pop(L, 1);
    return rc;
}

static void state_keeps_shared_tables_and_cycles(void **state) {
    lua_State *L = *state;
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(
        encode_state(L,
                     "local s = {v = 1}; local t = {one = s, two = s, "
                     "list = {s, s}}; t.me = t; s.back = t; "
                     "t.str = 'a\\0b'; t.i = 3; t.f = 3.0; return t",
                     &p, err),
        0);
    assert_int_equal(stage__lv_decode_state(L, p.data, p.len, NULL, err, 256),
                     0);
    lua_setglobal(L, "got");
    run(L, "assert(got.one == got.two and got.list[1] == got.one and "
           "got.list[2] == got.one, 'shared')\n"
           "assert(got.me == got and got.one.back == got, 'cycles')\n"
           "assert(got.str == 'a\\0b' and #got.str == 3, 'zero bytes')\n"
           "assert(math.type(got.i) == 'integer' and "
           "math.type(got.f) == 'float', 'number kinds')");
    stage_pack_free(&p);
}

static void state_errors_name_the_field_from_self(void **state) {
    lua_State *L = *state;
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    static const struct {
        const char *chunk, *want;
    } cases[] = {
        {"return {handlers = {1, print}}",
         "self.handlers[2] is a function: it cannot travel"},
        {"return {co = coroutine.create(print)}",
         "self.co is a coroutine: it cannot travel"},
        {"return {obj = {x = setmetatable({}, {})}}",
         "self.obj.x is a table with a metatable: it cannot travel"},
        {"return {['not a name'] = {[true] = print}}",
         "self[\"not a name\"][true] is a function: it cannot travel"},
        {"return {k = {[{}] = 1}}",
         "self.k is a table with a table key: it cannot travel"},
        {"return {io = io.stdout}", "self.io is a userdata: it cannot travel"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(encode_state(L, cases[i].chunk, &p, err),
                         STAGE_EENCODE);
        assert_string_equal(err, cases[i].want);
        assert_int_equal(p.len, 0);
    }
    /* 32 tables deep, self included, is the limit */
    const char *deep = "local t = {} local r = t for i = 2, %d do "
                       "t.d = {} t = t.d end return r";
    char chunk[128];
    snprintf(chunk, sizeof chunk, deep, STAGE__LV_MAX_DEPTH);
    assert_int_equal(encode_state(L, chunk, &p, err), 0);
    stage_pack_reset(&p);
    snprintf(chunk, sizeof chunk, deep, STAGE__LV_MAX_DEPTH + 1);
    assert_int_equal(encode_state(L, chunk, &p, err), STAGE_EENCODE);
    assert_non_null(strstr(err, "tables nested deeper than 32"));
    assert_true(strncmp(err, "self.d.d.d", 10) == 0);
    stage_pack_free(&p);
}

static void hostile_states_fail_cleanly(void **state) {
    lua_State *L = *state;
    char err[256];
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(encode_state(L,
                                  "local t = {a = {1, 2, 'x'}, b = {}} "
                                  "t.b.c = t.a; t.b.t = t; return t",
                                  &p, err),
                     0);
    int top = lua_gettop(L);
    for (size_t n = 0; n < p.len; n++) { /* every truncation */
        assert_int_equal(stage__lv_decode_state(L, p.data, n, NULL, err, 256),
                         STAGE_EDECODE);
        assert_int_equal(lua_gettop(L), top);
    }
    /* references to tables not made yet, or out of range */
    assert_int_equal(stage__lv_decode_state(L, "\x81\xa1x\xd6\x02\0\0\0\x02", 9,
                                            NULL, err, 256),
                     STAGE_EDECODE);
    assert_non_null(strstr(err, "reference to table 2, of 1 so far"));
    assert_int_equal(stage__lv_decode_state(L, "\x81\xa1x\xd6\x02\0\0\0\x00", 9,
                                            NULL, err, 256),
                     STAGE_EDECODE);
    /* a table as a key through a reference */
    assert_int_equal(stage__lv_decode_state(L, "\x81\xd6\x02\0\0\0\x01\x01", 8,
                                            NULL, err, 256),
                     STAGE_EDECODE);
    assert_int_equal(stage__lv_decode_state(L, "\x05", 1, NULL, err, 256),
                     STAGE_EDECODE); /* not a table */
    srand(11);
    char buf[64];
    for (int i = 0; i < 20000; i++) { /* random bytes behind a map header */
        size_t n = 1 + (size_t)(rand() % (int)sizeof buf);
        buf[0] = (char)(0x80 | (rand() % 16));
        for (size_t k = 1; k < n; k++)
            buf[k] = (char)rand();
        if (stage__lv_decode_state(L, buf, n, NULL, err, 256) == 0)
            lua_pop(L, 1);
        assert_int_equal(lua_gettop(L), top);
    }
    stage_pack_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            scalars_round_trip_and_keep_their_number_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(tables_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(sequences_are_arrays_and_the_rest_maps,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            shared_tables_are_copied_and_cycles_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_name_the_argument_and_field,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(nesting_and_argument_counts_are_limited,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_table_shared_exponentially_is_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(the_hooks_set_the_size_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(references_go_through_the_hooks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(hostile_input_fails_cleanly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_truncation_fails_cleanly, setup,
                                        teardown),
        cmocka_unit_test(out_of_memory_while_decoding_unwinds_cleanly),
        cmocka_unit_test_setup_teardown(state_keeps_shared_tables_and_cycles,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(state_errors_name_the_field_from_self,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_states_fail_cleanly, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
