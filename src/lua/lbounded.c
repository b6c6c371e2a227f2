/*
** lua/lbounded.c: the two C functions of Lua's library, besides the
** pattern functions (lpattern.c), that can loop for ever without
** allocating, so that neither the heap cap nor the budget could stop
** them, made to behave (measured: docs/lua-api.md, "Endless loops"):
**   string.rep(s, n [, sep]) with s and sep empty ran n empty copies
**   (string.rep("", 1e15): months): the result is "" at once;
**   table.move(a1, f, e, t [, a2]) over a huge range of absent keys
**   (table.move({}, 1, 1e15, 2): months) moves its elements in chunks and
**   looks at the watchdog's request between them, yielding the handler as
**   the matcher does (its place is an integer on the stack), or raising
**   BudgetExceeded where it cannot yield.
** Results and errors are Lua 5.4's; both run on the caller's thread.
*/
#include <lauxlib.h>

#include "lstage.h"

#define MOVE_CHUNK 1024 /* elements moved between two looks */

/* string.rep: Lua's (upvalue 1), but an empty result is made at once. */
static int l_rep(lua_State *L) {
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Lua's checktab: arg is a table, or has the metamethods it needs (raw
** fields of its metatable). */
static void check_table(lua_State *L, int arg, const char *const *fields) {
    if (lua_type(L, arg) == LUA_TTABLE) return;
    int n = 1; /* the metatable, then the fields read */
    if (lua_getmetatable(L, arg)) {
        for (; *fields; fields++) {
            lua_pushstring(L, *fields);
            if (lua_rawget(L, -++n) == LUA_TNIL) break;
        }
        if (!*fields) {
            lua_pop(L, n);
            return;
        }
    }
    luaL_checktype(L, arg, LUA_TTABLE); /* the error */
}

static int move_k(lua_State *L, int status, lua_KContext ctx);

/* Move table.move's elements from the one at slot 6 on (an offset into
** the range, counting down if ctx is 1); then return the destination. */
static int move_loop(lua_State *L, int down) {
    lua_Integer f = lua_tointeger(L, 2), e = lua_tointeger(L, 3);
    lua_Integer t = lua_tointeger(L, 4), i = lua_tointeger(L, 6);
    int tt = lua_isnoneornil(L, 5) ? 1 : 5;
    lua_Integer n = e - f + 1;
    for (int k = 0; down ? i >= 0 : i < n; down ? i-- : i++) {
        if (++k == MOVE_CHUNK) {
            k = 0;
            if (stage__lua_preempt_point(L) && lua_isyieldable(L)) {
                lua_pushinteger(L, i);
                lua_replace(L, 6);
                return lua_yieldk(L, 0, down, move_k);
            }
        }
        lua_geti(L, 1, f + i);
        lua_seti(L, tt, t + i);
    }
    lua_pushvalue(L, tt);
    return 1;
}

static int move_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    lua_settop(L, 6);
    return move_loop(L, (int)ctx);
}

/* table.move(a1, f, e, t [, a2]), as Lua 5.4's. */
static int l_move(lua_State *L) {
    static const char *const r[] = {"__index", NULL};
    static const char *const w[] = {"__newindex", NULL};
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    check_table(L, 1, r);
    check_table(L, tt, w);
    if (e < f) { /* nothing to move */
        lua_pushvalue(L, tt);
        return 1;
    }
    luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3,
                  "too many elements to move");
    lua_Integer n = e - f + 1;
    luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
    int up = t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ));
    lua_settop(L, 5);
    lua_pushinteger(L, up ? 0 : n - 1);
    return move_loop(L, !up);
}

void stage__lbounded_open(lua_State *L) {
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "rep");
    lua_pushcclosure(L, l_rep, 1);
    lua_setfield(L, -2, "rep");
    lua_getglobal(L, "table");
    lua_pushcfunction(L, l_move);
    lua_setfield(L, -2, "move");
    lua_pop(L, 2);
}
