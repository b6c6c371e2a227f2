/*
** tests/unit/test_lpattern.c: lua/lpattern.c's string.find, match, gmatch
** and gsub against Lua's own, saved before they are replaced: tens of
** thousands of random patterns and subjects over a small alphabet
** (deterministic seeds), and cases picked by hand (the depth where
** "pattern too complex" starts, every error message), each called
** directly and inside a coroutine that the matcher yields from every few
** steps, so that every place it can stop and go on is exercised. Results,
** errors and the calls of a gsub function replacement must be the same.
** Also: a gsub function replacement may yield, where Lua's may not.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua/lpattern.h"
#include "util/sanitize.h"

/* Under ThreadSanitizer, far fewer: each yield (and error) of the matcher
** is a longjmp inside Lua's library, which TSan does not follow, so its
** shadow stack keeps the frames jumped over, and past 65,536 it aborts (a
** CHECK in its stack depot); the cases by hand then do not yield. This
** test runs on one thread: TSan has little to find in it. */
#if STAGE_UNDER_TSAN
#define SEEDS 1
#define CASES 300
#else
#define SEEDS 6
#define CASES 6000 /* per seed, each run three ways */
#endif

static int yield_always(lua_State *L) {
    (void)L;
    return 1;
}

/* set_every(n): yield every n steps wherever the call can (0: never). */
static int l_set_every(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    stage__lpattern_test_poll(n ? yield_always : NULL, (unsigned)n);
    return 0;
}

static int setup(void **state) {
    lua_State *L = luaL_newstate();
    /* no theatre's world: the watchdog's request is never asked of it */
    *(void **)lua_getextraspace(L) = NULL;
    luaL_openlibs(L);
    lua_newtable(L); /* ORIG: Lua's own */
    lua_getglobal(L, "string");
    for (const char *const *f =
             (const char *const[]){"find", "match", "gmatch", "gsub", NULL};
         *f; f++) {
        lua_getfield(L, -1, *f);
        lua_setfield(L, -3, *f);
    }
    lua_pop(L, 1);
    lua_setglobal(L, "ORIG");
    lua_newtable(L); /* NEW: lpattern.c's */
    stage__lpattern_open(L);
    lua_setglobal(L, "NEW");
    lua_register(L, "set_every", l_set_every);
    if (luaL_dofile(L, STAGE_TEST_DIR "/lpattern.lua")) {
        print_error("%s\n", lua_tostring(L, -1));
        return -1;
    }
    *state = L;
    return 0;
}

static int teardown(void **state) {
    lua_close(*state);
    stage__lpattern_test_poll(NULL, 0);
    return 0;
}

/* Call global fn with the integer arguments; leave its results. */
static void call(lua_State *L, const char *fn, int nargs, lua_Integer a,
                 lua_Integer b, int nres) {
    lua_settop(L, 0);
    lua_getglobal(L, fn);
    if (nargs > 0) lua_pushinteger(L, a);
    if (nargs > 1) lua_pushinteger(L, b);
    if (lua_pcall(L, nargs, nres, 0) != LUA_OK)
        fail_msg("%s: %s", fn, lua_tostring(L, -1));
}

static void lpattern_random_patterns_match_lua(void **state) {
    lua_State *L = *state;
    for (int seed = 1; seed <= SEEDS; seed++) {
        call(L, "fuzz", 2, seed, CASES, 3);
        if (lua_tointeger(L, 1) != 0)
            fail_msg("seed %d: %lld of %d cases differ; the first: %s", seed,
                     (long long)lua_tointeger(L, 1), CASES, lua_tostring(L, 2));
        /* the coroutine runs did stop and go on, many times */
        assert_true(lua_tointeger(L, 3) > CASES);
    }
}

static void lpattern_cases_by_hand_match_lua(void **state) {
    lua_State *L = *state;
    lua_settop(L, 0);
    lua_getglobal(L, "fixed");
    lua_pushboolean(L, !STAGE_UNDER_TSAN);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK)
        fail_msg("fixed: %s", lua_tostring(L, -1));
    if (lua_tointeger(L, 1) != 0)
        fail_msg("%lld cases differ; the first: %s",
                 (long long)lua_tointeger(L, 1), lua_tostring(L, 2));
}

/* A replacement function that yields inside gsub (await does): the
** coroutine goes on where it was, and the result is whole; Lua's gsub
** refuses. */
static void lpattern_gsub_function_may_yield(void **state) {
    lua_State *L = *state;
    const char *chunk =
        "local function run(gsub)\n"
        "  local co = coroutine.wrap(function()\n"
        "    return gsub('a b c', '%w', function(c)\n"
        "      local got = coroutine.yield(c)\n"
        "      return got .. c\n"
        "    end)\n"
        "  end)\n"
        "  local seen, r, n = {}, co()\n"
        "  while r and #r == 1 do seen[#seen + 1] = r; r, n = co('<') end\n"
        "  return table.concat(seen), r, n\n"
        "end\n"
        "local seen, r, n = run(NEW.gsub)\n"
        "assert(seen == 'abc', seen)\n"
        "assert(r == '<a <b <c' and n == 3, tostring(r))\n"
        "local ok, err = pcall(run, ORIG.gsub)\n"
        "assert(not ok and err:find('yield across'), err)\n";
    if (luaL_dostring(L, chunk)) fail_msg("%s", lua_tostring(L, -1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lpattern_random_patterns_match_lua),
        cmocka_unit_test(lpattern_cases_by_hand_match_lua),
        cmocka_unit_test(lpattern_gsub_function_may_yield),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
