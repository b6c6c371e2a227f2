/*
** lua/llazy.c: lazy synchronisation (thesis 3.4) — using a future's value
** waits for it. `area:square(10) + 1`, `"total: " .. f`, `#f`, `f < 5`,
** `tostring(f)` and `print(f)` inside an actor suspend it, as f:await()
** does, until f is done, and then use the value (or raise the failure).
**
** The operators are metamethods of the future metatable (C functions: each
** resolves its future operands with stage__lfuture_value through
** lua_callk, so that the wait can yield and the operation go on from the
** continuation). Lua calls them only where its rules allow: `==` only
** between two futures (or a future and a reference: lref.c's __eq comes
** here), never between a future and a number or a string; a future in a
** condition is true, whatever its value. Indexing a future gives its
** methods (await, next, ...), not fields of its value. C functions that
** check their argument types (string.format, math.max, table.concat, ...)
** do not wait: their __tostring view of a future is its value once done,
** else "future (pending)".
**
** Where the actor cannot wait (a next() or catch() function, death(), a
** coroutine of the handler's own, inside a C function), a pending future's
** value raises an error that says so; outside an actor (the script's top
** level), another. Runs on the theatre's thread.
*/
#include <string.h>

#include "lstage.h"

/* The operations, by the index each metamethod closure carries. */
enum { ARITH, UNARY, CONCAT, LEN, COMPARE };

static const struct lazy_op {
    const char *mm;
    int kind;
    int op; /* LUA_OP* for lua_arith or lua_compare */
} ops[] = {
    {"__add", ARITH, LUA_OPADD},   {"__sub", ARITH, LUA_OPSUB},
    {"__mul", ARITH, LUA_OPMUL},   {"__div", ARITH, LUA_OPDIV},
    {"__mod", ARITH, LUA_OPMOD},   {"__pow", ARITH, LUA_OPPOW},
    {"__idiv", ARITH, LUA_OPIDIV}, {"__band", ARITH, LUA_OPBAND},
    {"__bor", ARITH, LUA_OPBOR},   {"__bxor", ARITH, LUA_OPBXOR},
    {"__shl", ARITH, LUA_OPSHL},   {"__shr", ARITH, LUA_OPSHR},
    {"__unm", UNARY, LUA_OPUNM},   {"__bnot", UNARY, LUA_OPBNOT},
    {"__concat", CONCAT, 0},       {"__len", LEN, 0},
    {"__eq", COMPARE, LUA_OPEQ},   {"__lt", COMPARE, LUA_OPLT},
    {"__le", COMPARE, LUA_OPLE},
};
#define NOPS (int)(sizeof ops / sizeof ops[0])
#define EQ_OP 16 /* ops[EQ_OP] is __eq */

int stage__lfuture_value(lua_State *L) {
    stage__lfut_t *u = stage__lfuture_test(L, 1);
    lua_settop(L, 1);
    if (!u) return 1; /* not a future: the value itself */
    if (stage__future_done(u->f)) return stage__lfuture_result(L, u->f);
    stage__lw_t *w = stage__lw(L);
    if (!w->t->running)
        return luaL_error(L, "the value of a pending future was used outside "
                             "an actor (at the script's top level); use it "
                             "in a handler or in main");
    if (!lua_isyieldable(L) || L != w->handler_co)
        return luaL_error(L, "the value of a pending future is needed where "
                             "the actor cannot wait for it (in a next() or "
                             "catch() function, death(), a coroutine the "
                             "handler made, or a C function such as "
                             "string.format): await it first (f:await())");
    return stage__lfuture_await(L);
}

static int lazy_run(lua_State *L, int op, int from);

/* Back from a wait for operand i (its value on top). */
static int lazy_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    int op = (int)(ctx >> 4), i = (int)(ctx & 15);
    lua_replace(L, i);
    return lazy_run(L, op, i + 1);
}

/* Replace the future operands from..n of ops[op] by their values (waiting
** as await does), then push the operation's result. */
static int lazy_run(lua_State *L, int op, int from) {
    int n = ops[op].kind == UNARY || ops[op].kind == LEN ? 1 : 2;
    for (int i = from; i <= n; i++) {
        if (!stage__lfuture_test(L, i)) continue;
        lua_pushcfunction(L, stage__lfuture_value);
        lua_pushvalue(L, i);
        lua_callk(L, 1, 1, (lua_KContext)(op << 4 | i), lazy_k);
        lua_replace(L, i);
    }
    lua_settop(L, n);
    switch (ops[op].kind) {
    case ARITH:
    case UNARY:
        lua_arith(L, ops[op].op);
        break;
    case CONCAT:
        lua_concat(L, 2);
        break;
    case LEN:
        lua_len(L, 1);
        break;
    default:
        lua_pushboolean(L, lua_compare(L, 1, 2, ops[op].op));
    }
    return 1;
}

/* A metamethod: upvalue 1 is its index in ops. */
static int lazy_mm(lua_State *L) {
    int op = (int)lua_tointeger(L, lua_upvalueindex(1));
    lua_settop(L, 2); /* unary ones get their operand twice */
    return lazy_run(L, op, 1);
}

int stage__lfuture_lazy_eq(lua_State *L) {
    lua_settop(L, 2);
    return lazy_run(L, EQ_OP, 1);
}

/* tostring(v): Lua's, but a future gives its value's text, once done. */
static int tostring_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    luaL_tolstring(L, -1, NULL);
    return 1;
}

static int l_tostring(lua_State *L) {
    luaL_checkany(L, 1);
    if (stage__lfuture_test(L, 1)) {
        lua_pushcfunction(L, stage__lfuture_value);
        lua_pushvalue(L, 1);
        lua_callk(L, 1, 1, 0, tostring_k);
        return tostring_k(L, LUA_OK, 0);
    }
    luaL_tolstring(L, 1, NULL);
    return 1;
}

void stage__llazy_open(lua_State *L, int mt) {
    mt = lua_absindex(L, mt);
    for (int i = 0; i < NOPS; i++) {
        lua_pushinteger(L, i);
        lua_pushcclosure(L, lazy_mm, 1);
        lua_setfield(L, mt, ops[i].mm);
    }
    lua_pushcfunction(L, l_tostring);
    lua_setglobal(L, "tostring");
}
