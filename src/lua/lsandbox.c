/*
** lua/lsandbox.c: the sandbox every theatre's Lua state runs actor code in,
** whatever the code came with (a node's script, or later the sources
** store): the same libraries on every node, nothing that reaches the
** process or another actor's state.
**
** Taken away: io, debug, package, dofile, loadfile, string.dump, os but
** for clock, time, date and difftime. Replaced: string.find, match,
** gmatch and gsub, by lpattern.c's, which the watchdog can preempt;
** string.rep and table.move, by lbounded.c's, which cannot loop for ever.
** Narrowed: load takes text chunks only (mode "t"); require gives
** "stage" and the standard libraries, no other module; collectgarbage
** does "count", "step" (small steps) and "isrunning", not a full
** collection or a change of the collector's mode, which would stall or
** slow every actor of the theatre; coroutine.resume and coroutine.close
** refuse the coroutines handlers run in (one actor could otherwise resume
** or kill another's suspended turn).
**
** Frozen (read-only, shared by every actor of a theatre): the standard
** library tables, seen through proxies whose __newindex raises and which
** rawset refuses; the string metatable and the metatables of references,
** futures, timers, errors and monitors, which getmetatable hides behind
** an empty read-only table. The stage module is copied for each require:
** a script's copy is its own (as its locals are), and a field read costs
** no more than before. Globals stay writable: they belong to one theatre
** (docs/lua-api.md, "The sandbox").
**
** Runs once per world, on the theatre's thread (lworld.c's open_world),
** after the libraries and the stage module are open.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lpattern.h"
#include "lstage.h"

#define FROZEN_KEY "stage.frozen"   /* registry: frozen table -> its name */
#define MODULES_KEY "stage.modules" /* registry: what require gives */
#define STAGE_KEY "stage.module"    /* registry: the stage module */
#define HANDLERS_KEY "stage.handler_threads" /* registry: weak-key set */

/* The error for a write to the frozen table at 1 (what upvalue 1 names)
** at key 2. */
static int frozen_newindex(lua_State *L) {
    const char *what = lua_tostring(L, lua_upvalueindex(1));
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    bool lib = lua_toboolean(L, lua_upvalueindex(2));
    return luaL_error(L,
                      "cannot set '%s' in %s: it is shared by every actor "
                      "of the theatre and is read-only%s",
                      key, what,
                      lib ? " (keep your own functions in locals)" : "");
}

/* next over the real table (upvalue 1), for the proxy's __pairs: the real
** table itself is never handed out. */
static int frozen_next(lua_State *L) {
    lua_settop(L, 2);
    return lua_next(L, lua_upvalueindex(1)) ? 2 : (lua_pushnil(L), 1);
}

static int frozen_pairs(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, frozen_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int frozen_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)luaL_len(L, lua_upvalueindex(1)));
    return 1;
}

/* Push a read-only proxy of the table at real (0: an empty one, opaque),
** named what in its errors, and note it frozen. */
static void push_frozen(lua_State *L, int real, const char *what) {
    if (real) real = lua_absindex(L, real);
    lua_newtable(L);
    lua_createtable(L, 0, 5);
    if (real) {
        lua_pushvalue(L, real);
        lua_setfield(L, -2, "__index");
        lua_pushvalue(L, real);
        lua_pushcclosure(L, frozen_pairs, 1);
        lua_setfield(L, -2, "__pairs");
        lua_pushvalue(L, real);
        lua_pushcclosure(L, frozen_len, 1);
        lua_setfield(L, -2, "__len");
    }
    lua_pushstring(L, what);
    lua_pushboolean(L, real != 0); /* a library: a hint on what to do */
    lua_pushcclosure(L, frozen_newindex, 2);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0); /* getmetatable(proxy) is false: hidden */
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, FROZEN_KEY);
    lua_pushvalue(L, -2);
    lua_pushstring(L, what);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* rawset(t, k, v): Lua's, but for a frozen table. */
static int l_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, LUA_REGISTRYINDEX, FROZEN_KEY);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) == LUA_TSTRING)
        return luaL_error(L,
                          "rawset: %s is shared by every actor of the "
                          "theatre and is read-only",
                          lua_tostring(L, -1));
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* load(chunk [, name [, mode [, env]]]): text chunks only, whatever mode
** asks for: a binary chunk fails as Lua fails it with mode "t". */
static int l_load(lua_State *L) {
    int n = lua_gettop(L);
    if (n < 1)
        return luaL_error(L, "bad argument #1 to 'load' (value "
                             "expected)");
    lua_settop(L, n < 3 ? 3 : n);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* The largest step collectgarbage("step", kb) may ask for: a step as if
** that many kilobytes had been allocated, a few milliseconds at most. */
#define GC_STEP_MAX_KB 1024

/* collectgarbage([opt [, arg]]): the options that do not stall or slow
** the theatre's other actors. */
static int l_collectgarbage(lua_State *L) {
    const char *opt = luaL_optstring(L, 1, "collect");
    if (!strcmp(opt, "count")) {
        int k = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
        lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
        return 1;
    }
    if (!strcmp(opt, "isrunning")) {
        lua_pushboolean(L, lua_gc(L, LUA_GCISRUNNING, 0));
        return 1;
    }
    if (!strcmp(opt, "step")) {
        lua_Integer kb = luaL_optinteger(L, 2, 0);
        if (kb < 0 || kb > GC_STEP_MAX_KB)
            return luaL_error(L,
                              "collectgarbage('step', %I): a step takes "
                              "from 0 to %d kilobytes (call it again for "
                              "more)",
                              (LUAI_UACINT)kb, GC_STEP_MAX_KB);
        lua_pushboolean(L, lua_gc(L, LUA_GCSTEP, (int)kb));
        return 1;
    }
    return luaL_error(L,
                      "collectgarbage('%s') is not available to actor code: "
                      "the collector is shared by every actor of the "
                      "theatre and runs on its own; use 'count', or 'step' "
                      "until it returns true for a whole cycle",
                      opt);
}

/* require(name): the standard libraries (their frozen proxies), or
** "stage": a copy of the module of its own for each require, so that a
** script that changes its copy changes nothing for another script, and
** reading a field costs what it costs in a plain table. */
static int l_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    if (!strcmp(name, "stage")) {
        lua_getfield(L, LUA_REGISTRYINDEX, STAGE_KEY);
        lua_createtable(L, 0, 32);
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        return 1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    return luaL_error(L,
                      "module '%s' not available: actor code runs in a "
                      "sandbox that loads no modules (require \"stage\" and "
                      "the standard libraries only; docs/lua-api.md)",
                      name);
}

/* Refuse thread at 1 if a handler's turn runs (or will run) in it. */
static void check_not_handler(lua_State *L, const char *fn) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co != NULL, 1, "coroutine");
    lua_getfield(L, LUA_REGISTRYINDEX, HANDLERS_KEY);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) != LUA_TNIL)
        luaL_error(L,
                   "coroutine.%s: this is the coroutine a handler runs in, "
                   "not one the actor made (use coroutine.create)",
                   fn);
    lua_pop(L, 2);
}

/* coroutine.resume and coroutine.close (the originals: upvalue 1). */
static int l_co_resume(lua_State *L) {
    check_not_handler(L, "resume");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int l_co_close(lua_State *L) {
    check_not_handler(L, "close");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void stage__lsandbox_mark_handler(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, HANDLERS_KEY);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Wrap field name of the table on top with f, the original its upvalue. */
static void wrap_field(lua_State *L, const char *name, lua_CFunction f) {
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

/* A new weak-key table in the registry at key. */
static void weak_table(lua_State *L, const char *key) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, key);
}

/* os: only the clock and the calendar. */
static void open_os(lua_State *L) {
    static const char *const keep[] = {"clock", "time", "date", "difftime",
                                       NULL};
    lua_getglobal(L, "os");
    lua_createtable(L, 0, 4);
    for (const char *const *k = keep; *k; k++) {
        lua_getfield(L, -2, *k);
        lua_setfield(L, -2, *k);
    }
    lua_remove(L, -2);
    lua_setglobal(L, "os");
}

/* Hide the metatable of registry name (if made) behind an opaque frozen
** table; what names it in errors. */
static void hide_metatable(lua_State *L, const char *name, const char *what) {
    if (luaL_getmetatable(L, name) == LUA_TTABLE) {
        push_frozen(L, 0, what);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}

/* Replace global lib by a frozen proxy, also what require gives for it. */
static void freeze_global(lua_State *L, const char *lib) {
    char what[64];
    snprintf(what, sizeof what, "the '%s' library", lib);
    lua_getglobal(L, lib);
    push_frozen(L, -1, what);
    lua_pushvalue(L, -1);
    lua_setglobal(L, lib);
    lua_getfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    lua_insert(L, -2);
    lua_setfield(L, -2, lib);
    lua_pop(L, 2);
}

int stage__lsandbox_open(lua_State *L) {
    static const char *const gone[] = {"io",     "debug",    "package",
                                       "dofile", "loadfile", NULL};
    static const char *const libs[] = {"string", "table", "math", "coroutine",
                                       "utf8",   "os",    NULL};
    weak_table(L, FROZEN_KEY);
    weak_table(L, HANDLERS_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, MODULES_KEY);
    /* the stage module, loaded now so that its metatables exist */
    luaL_requiref(L, "stage", stage__lmodule_open, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, STAGE_KEY);
    for (const char *const *g = gone; *g; g++) {
        lua_pushnil(L);
        lua_setglobal(L, *g);
    }
    open_os(L);
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    stage__lpattern_open(L); /* find, match, gmatch, gsub: preemptible */
    lua_pop(L, 1);
    stage__lbounded_open(L); /* string.rep, table.move */
    lua_getglobal(L, "coroutine");
    wrap_field(L, "resume", l_co_resume);
    wrap_field(L, "close", l_co_close);
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    wrap_field(L, "load", l_load);
    lua_pushcfunction(L, l_rawset);
    lua_setfield(L, -2, "rawset");
    lua_pushcfunction(L, l_collectgarbage);
    lua_setfield(L, -2, "collectgarbage");
    lua_pushcfunction(L, l_require);
    lua_setfield(L, -2, "require");
    lua_pop(L, 1);
    for (const char *const *l = libs; *l; l++)
        freeze_global(L, *l);
    lua_pushliteral(L, ""); /* the string metatable */
    lua_getmetatable(L, -1);
    push_frozen(L, 0, "the string metatable");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    hide_metatable(L, REF_MT, "the metatable of references");
    hide_metatable(L, FUTURE_MT, "the metatable of futures");
    hide_metatable(L, TIMER_MT, "the metatable of timers");
    hide_metatable(L, ERROR_MT, "the metatable of errors");
    hide_metatable(L, MONITOR_MT, "the metatable of monitors");
    /* far references look like the others */
    lua_rawgeti(L, LUA_REGISTRYINDEX, stage__lw(L)->farref_mt);
    luaL_getmetatable(L, REF_MT);
    lua_getfield(L, -1, "__metatable");
    lua_setfield(L, -3, "__metatable");
    lua_pop(L, 2);
    return 0;
}
