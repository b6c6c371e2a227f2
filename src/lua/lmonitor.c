/*
** lua/lmonitor.c: monitors in Lua — stage.monitor(ref, fn),
** stage.on_node_down(fn), stage.on_node_up(fn) and the handles they give,
** with cancel().
**
** A Lua actor's monitor is core's (core/monitor.h): its turn runs fn like
** a handler (it may await), with what happened as arguments:
**   monitor       fn(reason, err): reason "normal" for a stop, else the
**                 typed name of the failure ("HandlerError", "NodeDown",
**                 "ActorNotFound", ...); err, then, the error object a
**                 failed future raises (type, message, actor), else nil
**   on_node_*     fn(address, incarnation)
** m->arg is fn's registry ref, the monitor's own. A handle holds only the
** monitor's id: dropping it cancels nothing (as an Erlang monitor
** reference), and a stale one finds nothing.
*/
#include <stdint.h>
#include <string.h>

#include "lstage.h"

typedef struct lmon {
    uint64_t id;
} lmon_t;

static int fn_ref(const stage__monitor_t *m) {
    return (int)(intptr_t)m->arg;
}

/* The monitor's turn: fn with what happened, as a turn of its actor. */
static void lmon_turn(stage__theatre_t *t, stage__actor_t *a,
                      stage__monitor_t *m, const stage__down_t *d) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    lua_State *L = w->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref(m));
    if (m->kind != MON_ACTOR) {
        lua_pushstring(L, d->address);
        lua_pushinteger(L, (lua_Integer)d->incarnation);
    } else if (!d->reason) {
        lua_pushliteral(L, "normal");
        lua_pushnil(L);
    } else {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(d->target, id, sizeof id);
        stage__future_t err = {
            .status = d->reason, .message = (char *)d->message, .actor = id};
        lua_pushstring(L, stage_err_name(d->reason));
        stage__lerror_push(L, &err);
    }
    stage__lactor_call_turn_args(w, a, 2);
}

/* The monitor is forgotten: release fn (unless the theatre's Lua state is
** already closed, which took it along). */
static void lmon_drop(stage__monitor_t *m) {
    stage__theatre_t *t = stage__current();
    stage__lw_t *w = t ? stage__lw_of(t) : NULL;
    if (w) luaL_unref(w->L, LUA_REGISTRYINDEX, fn_ref(m));
}

/* Push a handle for a monitor made by make(L, ref) with fn (at fn_idx)
** as a registry ref; raise on no memory. */
static int push_handle(lua_State *L, int fn_idx,
                       stage__monitor_t *(*make)(lua_State *L, int ref)) {
    luaL_checktype(L, fn_idx, LUA_TFUNCTION);
    lmon_t *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->id = 0;
    luaL_setmetatable(L, MONITOR_MT);
    lua_pushvalue(L, fn_idx);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    stage__monitor_t *m = make(L, ref);
    if (!m) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "out of memory");
    }
    u->id = m->id;
    return 1;
}

/* stage.monitor(ref, fn): the actor ref names, or, for a far reference
** whose lookup runs, the one it finds. */
static stage__monitor_t *make_actor(lua_State *L, int ref) {
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    stage__lref_t *r = stage__lref_test(L, 1);
    stage__target_settle(w->node, r); /* a failed lookup stays pending */
    void *arg = (void *)(intptr_t)ref;
    if (r->pending)
        return stage__monitor_far(w->t, a, r->pending, lmon_turn, lmon_drop,
                                  arg);
    return stage__monitor_actor(w->t, a, &r->id, lmon_turn, lmon_drop, arg);
}

int stage__lmonitor_monitor(lua_State *L) {
    if (!stage__lref_test(L, 1)) return luaL_typeerror(L, 1, "reference");
    stage__lw_running(L); /* raises outside an actor */
    return push_handle(L, 2, make_actor);
}

static stage__monitor_t *make_node(lua_State *L, int ref, int kind) {
    stage__lw_t *w = stage__lw(L);
    return stage__monitor_node(w->t, stage__lw_running(L), kind, lmon_turn,
                               lmon_drop, (void *)(intptr_t)ref);
}

static stage__monitor_t *make_down(lua_State *L, int ref) {
    return make_node(L, ref, MON_NODE_DOWN);
}

static stage__monitor_t *make_up(lua_State *L, int ref) {
    return make_node(L, ref, MON_NODE_UP);
}

int stage__lmonitor_node_down(lua_State *L) {
    stage__lw_running(L);
    return push_handle(L, 1, make_down);
}

int stage__lmonitor_node_up(lua_State *L) {
    stage__lw_running(L);
    return push_handle(L, 1, make_up);
}

/* handle:cancel(): fn does not run again, not even a turn already queued;
** the running actor's own monitors only. */
static int h_cancel(lua_State *L) {
    lmon_t *u = luaL_checkudata(L, 1, MONITOR_MT);
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    if (stage__monitor_cancel(w->t, a, u->id))
        return luaL_error(L, "cancel: this monitor belongs to another actor "
                             "(a monitor is cancelled by the actor that set "
                             "it)");
    return 0;
}

void stage__lmonitor_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"cancel", h_cancel}, {NULL, NULL}};
    luaL_newmetatable(L, MONITOR_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}
