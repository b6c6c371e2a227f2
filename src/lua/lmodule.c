/*
** lua/lmodule.c: the `stage` module (require "stage"): defining and finding
** actors, timers, time and control. docs/lua-api.md is its reference.
*/
#include <stdlib.h>
#include <string.h>

#include "core/move.h"
#include "core/netif.h"
#include "lstage.h"
#include "stage/net.h"
#include "util/log.h"
#include "wire/mp.h"

typedef struct ltimer {
    stage__timer_t *tm;
} ltimer_t;

static int m_self(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    stage_id_t id;
    stage__make_id(w->node, a->serial, a->type, &id);
    stage__lref_push(L, &id); /* shared through the theatre's refcache */
    return 1;
}

static int m_ref(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    stage_id_t id;
    if (stage_id_parse(&id, s, len))
        return luaL_error(L, "'%s' is not an actor id", s);
    stage__lref_push(L, &id);
    return 1;
}

static int m_now(lua_State *L) {
    lua_pushnumber(L, stage__now());
    return 1;
}

/* stage.exit([code]): code 0..255, what a process can exit with (300
** would be 44). */
static int m_exit(lua_State *L) {
    lua_Integer code = luaL_optinteger(L, 1, 0);
    if (code < 0 || code > 255)
        return luaL_argerror(
            L, 1,
            lua_pushfstring(L, "exit code must be from 0 to 255, got %I",
                            (LUAI_UACINT)code));
    stage_node_stop(stage__lw(L)->node, (int)code);
    return 0;
}

/* stage.stop(): the running actor, after this turn. stage.stop(ref): any
** actor, on any node; a future of true. */
static int m_stop(lua_State *L) {
    if (lua_isnoneornil(L, 1)) {
        stage__actor_t *a = stage__lw_running(L);
        a->flags |= ACTOR_STOPPING;
        return 0;
    }
    stage__lref_t *r = stage__lref_test(L, 1);
    if (!r) return luaL_typeerror(L, 1, "reference");
    return stage__lref_stop(L, r);
}

/* stage.refuse(message): fail the caller's future with HandlerError and
** message, as an error would, without counting as a failure of the actor:
** the handler vouches that its state is whole (on_error does not apply).
** Raises an error object marked refused (lactor.c's turn_failed). */
static int m_refuse(lua_State *L) {
    const char *msg = lua_isnoneornil(L, 1) ? "the request was refused"
                                            : luaL_tolstring(L, 1, NULL);
    stage__future_t tmp = {.status = STAGE_EHANDLER, .message = (char *)msg};
    stage__lerror_push(L, &tmp);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "refused");
    return lua_error(L);
}

static int m_theatre(lua_State *L) {
    lua_pushinteger(L, stage__lw(L)->t->index);
    return 1;
}

static int m_theatres(lua_State *L) {
    lua_pushinteger(L, stage_node_theatres(stage__lw(L)->node));
    return 1;
}

/* stage.net_stats(): what this node's connections carried, or nil on a
** node without a network. */
static int m_net_stats(lua_State *L) {
    stage_net_stats_t s;
    if (stage_node_net_stats(stage__lw(L)->node, &s)) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 5);
    const struct {
        const char *k;
        uint64_t v;
    } f[] = {{"bytes_in", s.bytes_in},
             {"bytes_out", s.bytes_out},
             {"frames_in", s.frames_in},
             {"frames_out", s.frames_out},
             {"writes", s.writes}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        lua_pushinteger(L, (lua_Integer)f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    return 1;
}

/* ---- calls that wait for a reference's lookup ---------------------------- */

/* The call again, once the lookup it waited for ended: upvalue 1 is the
** function, upvalue 2 the number of arguments, the rest the arguments. */
static int call_again(lua_State *L) {
    int n = (int)lua_tointeger(L, lua_upvalueindex(2));
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    lua_settop(L, 0);
    for (int i = 0; i < n; i++)
        lua_pushvalue(L, lua_upvalueindex(3 + i));
    return fn(L);
}

/* Whether the reference at idx (if it is one) is a far reference whose
** lookup still runs, or failed: the call waits for it, and its future
** says how it ended either way (a call that raised or not depending on
** how fast the lookup was would be no API). One that ended well is
** settled here. */
static bool still_looking(lua_State *L, int idx) {
    stage__lref_t *r = stage__lref_test(L, idx);
    if (!r) return false;
    stage__lref_settle(L, r);
    return r->pending != NULL;
}

/* fn's call with the n arguments on the stack must wait for the lookup of
** the far reference at idx (find_name, spawn_at): push the future of the
** same call made once the lookup has ended, as a continuation of the
** calling actor (its lookup's future's `next`: a lookup that fails fails
** it). Returns 1. */
static int after_lookup(lua_State *L, int idx, lua_CFunction fn, int n) {
    stage__lref_t *r = stage__lref_test(L, idx);
    lua_pushcfunction(L, fn);
    lua_pushinteger(L, n);
    for (int i = 1; i <= n; i++)
        lua_pushvalue(L, i);
    lua_pushcclosure(L, call_again, n + 2);
    stage__future_ref(r->pending);
    stage__lfuture_push(L, r->pending); /* it holds that reference */
    lua_getfield(L, -1, "next");
    lua_insert(L, -3); /* next, closure, future */
    lua_insert(L, -2); /* next, future, closure */
    lua_call(L, 2, 1);
    return 1;
}

/* The node address where (argument idx) names, or NULL: a "host:port"
** string of a node (checked; this node's own is returned too), or a
** reference to an actor of another node (its node). Raises for a bad
** address, or on a node without network. */
static const char *migrate_node(lua_State *L, int idx) {
    stage__lw_t *w = stage__lw(L);
    const char *addr = NULL;
    stage__lref_t *r = stage__lref_test(L, idx);
    if (r) { /* settled: m_migrate waited for its lookup */
        if (stage__id_is_local(w->node, &r->id)) return NULL;
        addr = lua_pushstring(L, r->id.node);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        /* as the transport names its peers: "localhost:7400" is the node
        ** that listens at 127.0.0.1:7400, and its moves must say so */
        char canon[STAGE_ADDR_MAX];
        addr = lua_tostring(L, idx);
        if (stage__node_addr_canon(addr, canon, sizeof canon))
            return luaL_error(L,
                              "migrate: '%s' is not a node address: give "
                              "\"host:port\" with an IP address or "
                              "localhost as host, a theatre index or a "
                              "reference",
                              addr),
                   NULL;
        addr = lua_pushstring(L, canon);
    } else {
        return NULL;
    }
    if (!stage__node_net(w->node))
        return luaL_error(L,
                          "migrate: this node is not networked: it cannot "
                          "move an actor to node '%s'",
                          addr),
               NULL;
    return addr;
}

/* The theatre `where` (argument idx) names: a theatre index of this node,
** or -1 and *by for a reference to an actor of this node (go where it is
** when the move starts: core/move.h). Raises otherwise (migrate_node
** takes node addresses and references of other nodes first). */
static int migrate_where(lua_State *L, int idx, stage_id_t *by) {
    stage__lw_t *w = stage__lw(L);
    int n = stage_node_theatres(w->node);
    if (lua_type(L, idx) == LUA_TNUMBER) {
        int whole;
        lua_Integer i = lua_tointegerx(L, idx, &whole);
        if (!whole)
            return luaL_error(L,
                              "migrate: theatre %s is not a whole number: "
                              "give a theatre index from 0 to %d",
                              stage__lv_text(L, idx), n - 1);
        if (i < 0 || i >= n)
            return luaL_error(L,
                              "migrate: no theatre %I on this node (it has "
                              "theatres 0 to %d)",
                              i, n - 1);
        return (int)i;
    }
    stage__lref_t *r = stage__lref_test(L, idx);
    if (r) { /* settled: m_migrate waited for its lookup */
        *by = r->id;
        return -1;
    }
    return luaL_typeerror(L, idx, "theatre index or reference");
}

/* stage.migrate(where): the running actor moves there once its current
** message (handler) is over; returns nothing, a refusal is logged. A
** far reference as where is gone to once its lookup has ended. */
static int migrate_me(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    if (a->flags & ACTOR_MOVING)
        return luaL_error(L, "migrate: the actor is moving already");
    if (a->type->kind != STAGE_KIND_MOBILE) { /* known now: raise */
        stage_id_t id;
        char idt[STAGE_ID_TEXT_MAX];
        stage__make_id(w->node, a->serial, a->type, &id);
        stage_id_format(&id, idt, sizeof idt);
        return luaL_error(
            L,
            "migrate: actor '%s' is %s: it stays in its "
            "theatre (only mobile actors move)",
            idt, a->type->kind == STAGE_KIND_PINNED ? "pinned" : "creatable");
    }
    if (still_looking(L, 1)) {
        lua_settop(L, 1);
        after_lookup(L, 1, migrate_me, 1);
        return 0; /* its future, dropped: a failure is logged */
    }
    stage_id_t by;
    const char *node = migrate_node(L, 1);
    int to = node ? -1 : migrate_where(L, 1, &by);
    if (node ? stage__migrate_self_node(w->t, a, node)
             : stage__migrate_self(w->t, a, to, to < 0 ? &by : NULL))
        return luaL_error(L, "migrate: out of memory");
    return 0;
}

/* stage.migrate(ref, where): a future of the reference at its new place,
** or of the reason it stayed. A far reference, as ref or where, is moved
** or gone to once its lookup has ended. */
static int m_migrate(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    stage__lref_t *r = lua_gettop(L) >= 2 ? stage__lref_test(L, 1) : NULL;
    if (!r && !lua_isnoneornil(L, 2)) /* two arguments: the first is whom */
        return luaL_typeerror(L, 1, "reference");
    if (!r) return migrate_me(L);
    for (int i = 1; i <= 2; i++)
        if (still_looking(L, i)) {
            lua_settop(L, 2);
            return after_lookup(L, i, m_migrate, 2);
        }
    stage_id_t by;
    const char *node = migrate_node(L, 2);
    bool local = stage__id_is_local(w->node, &r->id);
    if (!local && !node)
        return luaL_error(L,
                          "migrate: the actor lives on node '%s': give "
                          "where as a node address or a reference to an "
                          "actor of another node",
                          r->id.node);
    int to = node ? -1 : migrate_where(L, 2, &by);
    stage__future_t *f = stage__future_new(w->node, w->t->index, 0);
    if (!f) return luaL_error(L, "out of memory");
    int rc = !local ? stage__migrate_remote(w->node, &r->id, node, f)
             : node ? stage__migrate_node(w->node, r->id.serial, node, f, false)
             : to < 0
                 ? stage__migrate_near(w->node, r->id.serial, &by, f, false)
                 : stage__migrate(w->node, r->id.serial, to, f, false);
    if (rc) {
        stage__future_unref(f);
        return luaL_error(L, "migrate: out of memory");
    }
    stage__lfuture_push(L, f);
    return 1;
}

int stage__lref_migrate(lua_State *L) {
    if (!stage__lref_test(L, 1)) return luaL_typeerror(L, 1, "reference");
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    return m_migrate(L);
}

/* ---- names and types ---------------------------------------------------- */

/* A new future of this theatre for a directory request. */
static stage__future_t *dir_future(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    stage__future_t *f = stage__future_new(w->node, w->t->index, 0);
    if (!f) luaL_error(L, "out of memory");
    return f;
}

static const char *check_key(lua_State *L, int idx, const char *what) {
    size_t len;
    const char *k = luaL_checklstring(L, idx, &len);
    if (len == 0 || len > 255 || memchr(k, 0, len))
        luaL_error(L, "%s must be 1 to 255 bytes without NUL", what);
    return k;
}

/* stage.name(name [, ref]): a future of true once the name is ours. */
static int m_name(lua_State *L) {
    const char *name = check_key(L, 1, "a name");
    stage__lw_t *w = stage__lw(L);
    stage_id_t id;
    if (lua_isnoneornil(L, 2)) {
        stage__actor_t *a = stage__lw_running(L);
        stage__make_id(w->node, a->serial, a->type, &id);
    } else {
        stage__lref_t *r = stage__lref_test(L, 2);
        if (!r) return luaL_typeerror(L, 2, "reference");
        if (still_looking(L, 2)) { /* named once found */
            lua_settop(L, 2);
            return after_lookup(L, 2, m_name, 2);
        }
        id = r->id;
    }
    stage__future_t *f = dir_future(L); /* directory borrows it */
    stage__directory(w->node, STAGE__NAME_CLAIM, name, &id, f);
    stage__lfuture_push(L, f);
    return 1;
}

/* The type name at idx: a string, or an actor class (stage.actor's
** result, as `is = T` takes it), replaced on the stack by its name. */
static const char *check_type(lua_State *L, int idx, const char *fn) {
    if (lua_istable(L, idx)) {
        if (lua_getfield(L, idx, "__type") != LUA_TSTRING)
            luaL_error(L,
                       "%s: argument %d must be an actor class or a type "
                       "name (got a table that is not a class)",
                       fn, idx);
        lua_replace(L, idx);
    } else if (lua_type(L, idx) != LUA_TSTRING) {
        luaL_error(L,
                   "%s: argument %d must be an actor class or a type name "
                   "(got %s)",
                   fn, idx, luaL_typename(L, idx));
    }
    return check_key(L, idx, "a type name");
}

/* Push a far reference resolved by the directory lookup op of key. */
static int find_ref(lua_State *L, int op, const char *key) {
    stage__future_t *f = dir_future(L); /* directory borrows it */
    stage__directory(stage__lw(L)->node, op, key, NULL, f);
    stage__lref_push_far(L, f);
    return 1;
}

static int m_find_name(lua_State *L) {
    return find_ref(L, STAGE__FIND_NAME, check_key(L, 1, "a name"));
}

static int m_find_type(lua_State *L) {
    return find_ref(L, STAGE__FIND_TYPE, check_type(L, 1, "find_type"));
}

static int m_find_subtype(lua_State *L) {
    return find_ref(L, STAGE__FIND_SUBTYPE, check_type(L, 1, "find_subtype"));
}

/* stage.find_all_types(T): a future of a list of references. */
static int m_find_all_types(lua_State *L) {
    const char *key = check_type(L, 1, "find_all_types");
    stage__future_t *f = dir_future(L); /* directory borrows it */
    stage__directory(stage__lw(L)->node, STAGE__FIND_ALL, key, NULL, f);
    stage__lfuture_push(L, f);
    return 1;
}

/* stage.hosts(): a future of the nodes' host entries (this node's first). */
static int m_hosts(lua_State *L) {
    stage__future_t *f = dir_future(L); /* directory borrows it */
    stage__directory(stage__lw(L)->node, STAGE__HOSTS, "", NULL, f);
    stage__lfuture_push(L, f);
    return 1;
}

/* ---- timers ------------------------------------------------------------- */

/* A Lua actor's timer is core's actor timer (core/timer.h): each firing
** queues a turn of the actor, which runs fn() like a handler (it may
** await); a cancel also stops a turn already queued, and the actor's stop
** cancels it. tm->arg is fn's registry ref, the timer's own. */
static int timer_fn_ref(const stage__timer_t *tm) {
    return (int)(intptr_t)tm->arg;
}

/* A firing, as a turn of the timer's actor. */
static void timer_turn(stage__theatre_t *t, stage__actor_t *a,
                       stage__timer_t *tm) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    lua_rawgeti(w->L, LUA_REGISTRYINDEX, timer_fn_ref(tm));
    stage__lactor_call_turn(w, a);
}

/* The timer's last reference went: release fn (unless the theatre's Lua
** state is already closed, which took it along). */
static void timer_drop(stage__timer_t *tm) {
    stage__theatre_t *t = stage__current();
    stage__lw_t *w = t ? stage__lw_of(t) : NULL;
    if (w) luaL_unref(w->L, LUA_REGISTRYINDEX, timer_fn_ref(tm));
}

static int make_timer(lua_State *L, bool repeat) {
    double secs = luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (repeat && !(secs > 0))
        return luaL_error(L, "every: the interval must be > 0 (got %f)", secs);
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    ltimer_t *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->tm = NULL;
    luaL_setmetatable(L, TIMER_MT);
    lua_pushvalue(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    u->tm = stage__timer_actor(w->t, a, secs, repeat ? secs : 0, timer_turn,
                               (void *)(intptr_t)ref);
    if (!u->tm) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "out of memory");
    }
    u->tm->drop = timer_drop;
    return 1;
}

/* stage.sleep(secs): a future that resolves (to nil) after secs. */
static int m_sleep(lua_State *L) {
    double secs = luaL_checknumber(L, 1);
    stage__future_t *f = stage__future_sleep(stage__lw(L)->t, secs);
    if (!f) return luaL_error(L, "out of memory");
    stage__lfuture_push(L, f);
    return 1;
}

static int m_after(lua_State *L) {
    return make_timer(L, false);
}

static int m_every(lua_State *L) {
    return make_timer(L, true);
}

static int t_cancel(lua_State *L) {
    ltimer_t *u = luaL_checkudata(L, 1, TIMER_MT);
    if (u->tm) stage__timer_cancel(stage__lw(L)->t, u->tm);
    return 0;
}

static int t_gc(lua_State *L) {
    ltimer_t *u = luaL_checkudata(L, 1, TIMER_MT);
    if (u->tm) stage__timer_unref(u->tm);
    u->tm = NULL;
    return 0;
}

int stage__lmodule_open(lua_State *L) {
    static const luaL_Reg timer_methods[] = {{"cancel", t_cancel},
                                             {NULL, NULL}};
    luaL_newmetatable(L, TIMER_MT);
    luaL_newlib(L, timer_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, t_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    stage__lmonitor_open(L);

    static const luaL_Reg fns[] = {{"actor", stage__lactor_define},
                                   {"self", m_self},
                                   {"ref", m_ref},
                                   {"join", stage__lfuture_join},
                                   {"after", m_after},
                                   {"sleep", m_sleep},
                                   {"every", m_every},
                                   {"now", m_now},
                                   {"exit", m_exit},
                                   {"stop", m_stop},
                                   {"refuse", m_refuse},
                                   {"migrate", m_migrate},
                                   {"theatre", m_theatre},
                                   {"theatres", m_theatres},
                                   {"net_stats", m_net_stats},
                                   {"name", m_name},
                                   {"send", stage__lref_send_oneway},
                                   {"find_name", m_find_name},
                                   {"find_type", m_find_type},
                                   {"find_subtype", m_find_subtype},
                                   {"find_all_types", m_find_all_types},
                                   {"hosts", m_hosts},
                                   {"monitor", stage__lmonitor_monitor},
                                   {"on_node_down", stage__lmonitor_node_down},
                                   {"on_node_up", stage__lmonitor_node_up},
                                   {"update_method", stage__lupdate_method},
                                   {"update_type", stage__lupdate_type},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    stage_id_t out;
    stage__stdout_id(stage__lw(L)->node, &out);
    stage__lref_push(L, &out);
    lua_setfield(L, -2, "stdout");
    if (!stage__environ_stdin(stage__lw(L)->node, &out)) {
        stage__lref_push(L, &out);
        lua_setfield(L, -2, "stdin");
    }
    if (!stage__environ_files(stage__lw(L)->node, &out)) { /* --files */
        stage__lref_push(L, &out);
        lua_setfield(L, -2, "files");
    }
    lua_pushliteral(L, STAGE_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
