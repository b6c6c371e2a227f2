/*
** lua/lactor.c: actor types defined in Lua, and how their turns run.
**
** stage.actor(name, opts) returns a class table. An actor's state is a table
** whose metatable's __index is its class, so `self:helper()` is a local
** call; a class's metatable holds its supertype (`super`) for inheritance.
** Message dispatch looks a method up in the class and its supertypes only.
**
** A turn: take a coroutine from the pool, push the handler, the state and
** the decoded arguments, resume. Finished -> complete the reply and give the
** coroutine back. Yielded -> the actor keeps the coroutine (ACTOR_SUSPENDED)
** until await's future completes, or until its next slot if it was
** preempted. Failed -> reject the reply with the error and the traceback.
**
** Preemption: the watchdog signals the theatre thread; stage__lua_preempt
** (in the signal handler) sets a count hook on the running coroutine; the
** hook yields it, or raises BudgetExceeded once it has run past the budget.
** Under ThreadSanitizer a count hook polls for the watchdog's request
** instead (see poll_hook).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sanitize.h"
#include "wire/mp.h"

/* ---- classes ------------------------------------------------------------ */

static const char *const kinds[] = {"mobile", "pinned", "creatable", NULL};

/* Push the class table of type ty (nil if this theatre has none). */
static void push_class(lua_State *L, const stage__type_t *ty) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, stage__lw(L)->classes);
    lua_getfield(L, -1, ty->name);
    lua_remove(L, -2);
}

/* The registry ref of type ty's class in this theatre (LUA_NOREF if the
** theatre's script does not define it), cached per type index. */
static int class_ref(stage__lw_t *w, const stage__type_t *ty) {
    if (ty->index < w->nclass_refs && w->class_refs[ty->index] != LUA_REFNIL)
        return w->class_refs[ty->index];
    if (ty->index >= w->nclass_refs) {
        int n = ty->index + 16;
        int *p = stage__realloc(w->class_refs, (size_t)n * sizeof *p);
        if (!p) return LUA_NOREF;
        for (int i = w->nclass_refs; i < n; i++)
            p[i] = LUA_REFNIL;
        w->class_refs = p;
        w->nclass_refs = n;
    }
    push_class(w->L, ty);
    if (lua_isnil(w->L, -1)) {
        lua_pop(w->L, 1);
        return LUA_NOREF;
    }
    return w->class_refs[ty->index] = luaL_ref(w->L, LUA_REGISTRYINDEX);
}

/* Push onto L (a thread of w's state) method name m (len bytes) of a
** message to an actor of type ty:
** the Lua string kept for ty in this theatre when it is ty's last one
** again (most actors receive one method over and over: a registry read
** instead of interning the bytes), else a new one, kept from now on. */
static void push_method(stage__lw_t *w, lua_State *L, const stage__type_t *ty,
                        const char *m, size_t len) {
    if (ty->index >= w->nmnames && len < sizeof w->mnames[0].name) {
        int n = ty->index + 16;
        stage__lmname_t *p = stage__realloc(w->mnames, (size_t)n * sizeof *p);
        if (p) {
            memset(p + w->nmnames, 0, (size_t)(n - w->nmnames) * sizeof *p);
            w->mnames = p;
            w->nmnames = n;
        }
    }
    stage__lmname_t *c = ty->index < w->nmnames ? &w->mnames[ty->index] : NULL;
    if (c && c->ref && c->len == len && !memcmp(c->name, m, len)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
        return;
    }
    lua_pushlstring(L, m, len);
    if (!c || len >= sizeof c->name) return;
    lua_pushvalue(L, -1);
    if (c->ref) {
        lua_rawseti(L, LUA_REGISTRYINDEX, c->ref);
    } else if ((c->ref = luaL_ref(L, LUA_REGISTRYINDEX)) <= 0) {
        c->ref = 0; /* no room in the registry: not kept */
        return;
    }
    memcpy(c->name, m, len);
    c->len = (uint8_t)len;
}

/* Push the method name of class at idx or its supertypes, or nil. */
static void find_method(lua_State *L, int idx, const char *name) {
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        lua_pushstring(L, name); /* raw: the metatable leads to spawn */
        if (lua_rawget(L, -2) != LUA_TNIL) {
            lua_remove(L, -2);
            return;
        }
        lua_pop(L, 1);
        if (!lua_getmetatable(L, -1)) break;
        lua_getfield(L, -1, "super");
        lua_remove(L, -2);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
}

/* What a failed handler leaves behind, from stage.actor's options. */
typedef struct policy {
    stage_on_error_t on_error;
    int max_restarts;
    double restart_window;
} policy_t;

#define MAX_RESTARTS_MAX 1000000 /* the ring of restart times: 8 MB */

static const char *const on_errors[] = {"restart", "keep", "stop", "resume",
                                        NULL};

/* opts.on_error of type name, options at 2 (pushed on L, raises if bad). */
static stage_on_error_t check_on_error(lua_State *L, const char *name) {
    int i = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
        while (on_errors[i] && strcmp(on_errors[i], lua_tostring(L, -1)))
            i++;
    if (lua_type(L, -1) != LUA_TSTRING || !on_errors[i])
        luaL_error(L,
                   "actor type '%s': option 'on_error' must be \"restart\", "
                   "\"keep\" (or \"resume\") or \"stop\", not '%s'",
                   name, luaL_tolstring(L, -1, NULL));
    return i == 3 ? STAGE_ON_ERROR_KEEP : (stage_on_error_t)i;
}

/* The policy of type name from its options at 2 (none: the defaults);
** raises on a bad option. */
static policy_t check_policy(lua_State *L, const char *name) {
    policy_t p = {STAGE_ON_ERROR_RESTART, STAGE_MAX_RESTARTS,
                  STAGE_RESTART_WINDOW};
    if (lua_isnoneornil(L, 2)) return p;
    int top = lua_gettop(L);
    if (lua_getfield(L, 2, "on_error") != LUA_TNIL)
        p.on_error = check_on_error(L, name);
    const char *pol = on_errors[p.on_error];
    bool limit = false; /* max_restarts or restart_window given */
    if (lua_getfield(L, 2, "max_restarts") != LUA_TNIL) {
        limit = true;
        lua_Integer n = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (n < 1 || n > MAX_RESTARTS_MAX)
            luaL_error(L,
                       "actor type '%s': option 'max_restarts' must be a "
                       "whole number from 1 to %d (for none, use on_error "
                       "= \"stop\"), not '%s'",
                       name, MAX_RESTARTS_MAX, luaL_tolstring(L, -1, NULL));
        p.max_restarts = (int)n;
    }
    if (lua_getfield(L, 2, "restart_window") != LUA_TNIL) {
        limit = true;
        lua_Number x = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (!(x > 0) || x == HUGE_VAL)
            luaL_error(L,
                       "actor type '%s': option 'restart_window' must be a "
                       "number of seconds above 0, not '%s'",
                       name, luaL_tolstring(L, -1, NULL));
        p.restart_window = x;
    }
    if (limit && p.on_error != STAGE_ON_ERROR_RESTART)
        luaL_error(L,
                   "actor type '%s': options 'max_restarts' and "
                   "'restart_window' go with on_error = \"restart\", not "
                   "\"%s\"",
                   name, pol);
    lua_settop(L, top);
    return p;
}

/* stage__type_add's init for a type of the script: its policy, and the
** script's text, which the sources store gets. */
typedef struct define {
    const policy_t *pol;
    const stage__lnode_t *ln;
} define_t;

static void init_type(stage__type_t *ty, void *arg) {
    const define_t *d = arg;
    ty->on_error = d->pol->on_error;
    ty->max_restarts = d->pol->max_restarts;
    ty->restart_window = d->pol->restart_window;
    ty->source = d->ln ? d->ln->text : NULL;
    ty->source_len = d->ln ? d->ln->text_len : 0;
    atomic_store_explicit(
        &ty->version,
        ty->source ? stage__code_version(ty->source, ty->source_len) : 0,
        memory_order_relaxed);
}

static int class_call(lua_State *L) { /* Class(...) */
    return stage__lactor_spawn(L, -1, 2, lua_gettop(L) - 1);
}

static int class_spawn(lua_State *L) { /* Class:spawn(...) */
    luaL_checktype(L, 1, LUA_TTABLE);
    return stage__lactor_spawn(L, -1, 2, lua_gettop(L) - 1);
}

/* Class:spawn_at("host:port", ...): on another node; a far reference. */
static int spawn_remote(lua_State *L, const char *where) {
    if (lua_getfield(L, 1, "__type") != LUA_TSTRING)
        return luaL_error(L, "spawn_at: not an actor class");
    const char *name = lua_tostring(L, -1);
    lua_pop(L, 1);
    stage__lw_t *w = stage__lw(L);
    stage__future_t *f = stage__future_new(w->node, w->t->index, 0);
    if (!f) return luaL_error(L, "out of memory");
    char err[256];
    stage_pack_t *p = &w->scratch;
    stage_pack_reset(p);
    int rc = stage__lv_encode_args(L, 3, lua_gettop(L) - 2, p, &w->hooks, err,
                                   sizeof err);
    if (rc == STAGE_ETOOBIG) { /* as the spawn fails on any node: at once */
        char msg[STAGE_ADDR_MAX + STAGE_TYPE_MAX + 320];
        snprintf(msg, sizeof msg, "cannot spawn '%s' on node '%s': %s", name,
                 where, err);
        stage__future_reject(f, STAGE_ETOOBIG, msg, NULL, NULL);
        stage__lref_push_far(L, f);
        return 1;
    }
    if (rc) {
        stage__future_unref(f);
        return luaL_error(L, "spawn '%s': %s", name, err);
    }
    if (!strcmp(where, stage__node_address(w->node))) {
        stage__future_unref(f);
        return stage__lactor_spawn(L, -1, 3, lua_gettop(L) - 2);
    }
    stage__future_ref(f);
    if (!stage__node_spawn_remote(w->node, where, name, p->data, p->len, f)) {
        stage__future_unref(f);
        stage__future_unref(f);
        return luaL_error(L,
                          "spawn_at '%s': this node is not connected to "
                          "others (start it with stage node)",
                          where);
    }
    stage__lref_push_far(L, f);
    return 1;
}

static int class_spawn_at(lua_State *L) { /* Class:spawn_at(theatre, ...) */
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = stage_node_theatres(stage__lw(L)->node);
    if (lua_type(L, 2) == LUA_TSTRING) {
        /* as the transport names its peers: "localhost:7400" is the node
        ** at 127.0.0.1:7400, and this node's own address is this node */
        char canon[STAGE_ADDR_MAX];
        const char *where = lua_tostring(L, 2);
        if (stage__node_addr_canon(where, canon, sizeof canon))
            return luaL_error(L,
                              "spawn_at: '%s' is not a node address: give "
                              "\"host:port\" with an IP address or "
                              "localhost as host, or a theatre index from 0 "
                              "to %d",
                              where, n - 1);
        return spawn_remote(L, canon);
    }
    int whole;
    lua_Integer th = lua_tointegerx(L, 2, &whole);
    if (!whole)
        return luaL_error(L,
                          "spawn_at: theatre %s is not a whole number: give "
                          "a theatre index from 0 to %d, or \"host:port\"",
                          stage__lv_text(L, 2), n - 1);
    if (th < 0 || th >= n)
        return luaL_error(L,
                          "spawn_at: no theatre %I (this node has %d: 0 to %d)",
                          th, n, n - 1);
    return stage__lactor_spawn(L, (int)th, 3, lua_gettop(L) - 2);
}

/* stage.actor(name [, opts]) */
int stage__lactor_define(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    if (!stage_type_name_valid(name))
        return luaL_error(L,
                          "invalid actor type name '%s' (1 to 63 of "
                          "A-Z a-z 0-9 _ . -, not starting with a digit)",
                          name);
    int kind = STAGE_KIND_MOBILE;
    const char *super = NULL;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "kind");
        if (!lua_isnil(L, -1)) {
            const char *k = lua_tostring(L, -1);
            for (kind = 0; kinds[kind] && (!k || strcmp(kinds[kind], k));)
                kind++;
            if (!kinds[kind])
                return luaL_error(L,
                                  "actor type '%s': option 'kind' must be "
                                  "\"mobile\", \"pinned\" or "
                                  "\"creatable\", not '%s'",
                                  name, luaL_tolstring(L, -1, NULL));
        }
        lua_getfield(L, 2, "is");
        if (!lua_isnil(L, -1)) {
            if (!lua_istable(L, -1) ||
                lua_getfield(L, -1, "__type") != LUA_TSTRING)
                return luaL_error(L,
                                  "option 'is' of '%s' must be an actor "
                                  "class",
                                  name);
            super = lua_tostring(L, -1);
        }
    }
    policy_t pol = check_policy(L, name);
    stage__lw_t *w = stage__lw(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->classes);
    stage__type_t *ty = stage__type_find(w->node, name);
    if (w->live) { /* code from the sources store, while the node runs */
        if (ty && (w->live_clash = 1)) /* SourceClash, for the load */
            return luaL_error(L,
                              "it defines actor type '%s', which this node "
                              "has already from other code",
                              name);
        lua_pushnil(L); /* where classes[name] is below: kept in step */
        /* a class here with no type is a failed load's: replaced */
        stage__lcode_define(L, name, (stage_kind_t)kind, super, pol.on_error,
                            pol.max_restarts, pol.restart_window);
    } else if (lua_getfield(L, -1, name) != LUA_TNIL) {
        return luaL_error(L, "actor type '%s' is defined twice", name);
    } else if (!ty) {
        define_t d = {&pol, stage__node_kind_data(w->node, &stage__lua_kind)};
        int rc = stage__type_add(w->node, name, kind, super, &stage__lua_kind,
                                 NULL, init_type, &d, &ty);
        if (rc == STAGE_EBUSY) /* the node runs: its types are fixed */
            return luaL_error(L,
                              "cannot define actor type '%s' while the node "
                              "runs: define actor types at the script's top "
                              "level, outside main and the handlers",
                              name);
        if (rc)
            return luaL_error(L, "cannot define actor type '%s': %s", name,
                              stage_strerror(rc));
    } else if (ty->impl != &stage__lua_kind) {
        return luaL_error(L, "actor type '%s' is already a C type", name);
    } else if (ty->on_error != pol.on_error ||
               ty->max_restarts != pol.max_restarts ||
               ty->restart_window != pol.restart_window) {
        return luaL_error(L,
                          "actor type '%s' has other on_error options in "
                          "another theatre: define it the same way in "
                          "every theatre",
                          name);
    }
    lua_createtable(L, 0, 4); /* the class */
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__type");
    lua_pushvalue(L, -1); /* the metatable of its actors' state tables */
    lua_setfield(L, -2, "__index");
    lua_createtable(L, 0, 4); /* its metatable */
    lua_pushcfunction(L, class_call);
    lua_setfield(L, -2, "__call");
    if (super) {
        lua_getfield(L, 2, "is");
        lua_setfield(L, -2, "super");
    }
    lua_createtable(L, 0, 3); /* class functions, reached by __index */
    lua_pushcfunction(L, class_spawn);
    lua_setfield(L, -2, "spawn");
    lua_pushcfunction(L, class_spawn_at);
    lua_setfield(L, -2, "spawn_at");
    if (super) { /* and, after those, the supertype's methods */
        lua_createtable(L, 0, 1);
        lua_getfield(L, 2, "is");
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
    }
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, name); /* classes[name] = class */
    return 1;
}

/* ---- spawning ----------------------------------------------------------- */

int stage__lactor_spawn(lua_State *L, int theatre, int first, int n) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "__type") != LUA_TSTRING)
        return luaL_error(L, "spawn: not an actor class");
    const char *name = lua_tostring(L, -1);
    lua_pop(L, 1);
    stage__lw_t *w = stage__lw(L);
    if (!w->t->running) /* first: a loaded script's types are not yet */
        return luaL_error(L,
                          "spawn '%s': actors are spawned from handlers or "
                          "main, not from the script's top level",
                          name);
    stage__type_t *ty = stage__type_find(w->node, name);
    if (!ty) return luaL_error(L, "spawn: unknown actor type '%s'", name);
    char err[256], msg[STAGE_TYPE_MAX + 300];
    stage_pack_t *p = &w->scratch;
    stage_pack_reset(p);
    int rc = stage__lv_encode_args(L, first, n, p, &w->hooks, err, sizeof err);
    if (rc == STAGE_ETOOBIG) { /* typed, as the same spawn_at would fail */
        snprintf(msg, sizeof msg, "cannot spawn '%s': %s", name, err);
        return stage__lerror_raise(L, rc, msg);
    }
    if (rc) return luaL_error(L, "spawn '%s': %s", name, err);
    uint64_t serial;
    rc = stage__spawn(w->node, ty, theatre, p->data, p->len, &serial);
    if (rc) return luaL_error(L, "spawn '%s': %s", name, stage_strerror(rc));
    stage_id_t id;
    stage__make_id(w->node, serial, ty, &id);
    stage__lref_new(L, &id); /* new: nothing to share it with yet */
    return 1;
}

/* ---- turns -------------------------------------------------------------- */

static void push_budget_error(lua_State *L, double spent, double budget);

/* co is the running handler's coroutine (or NULL between turns); the
** watchdog's signal hooks whatever Lua thread runs innermost (see
** lworld.c's coroutine.resume). */
static void set_running(stage__lw_t *w, lua_State *co) {
    w->running = co;
    w->handler_co = co;
}

/* The text of the value at 1 (a __tostring may raise: called protected). */
static int tostring_p(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/* A turn of a running e (NULL: a turn core made, a timer's) failed with
** the error at idx of L: the type's on_error applies (core/onerror.c),
** unless the handler turned the request down with stage.refuse. A typed
** failure passing through (an await that failed) is the reason monitors
** hear; any other error is HandlerError. A birth that failed and stops
** its actor made no state to serve with, so its death does not run
** (Erlang's terminate does not run after a failed init either). */
static void turn_failed(stage__lw_t *w, stage__actor_t *a, int idx,
                        const stage__env_t *e) {
    lua_State *L = w->L;
    if (a->type->on_error == STAGE_ON_ERROR_KEEP) return;
    idx = lua_absindex(L, idx);
    int code = STAGE_EHANDLER;
    if (stage__lerror_is(L, idx)) {
        bool refused = lua_getfield(L, idx, "refused") != LUA_TNIL;
        lua_pop(L, 1);
        if (refused) return;
        lua_getfield(L, idx, "type");
        code = stage_err_from_name(luaL_optstring(L, -1, "HandlerError"));
        if (code == STAGE_EINVAL) code = STAGE_EHANDLER;
        lua_pop(L, 1);
    }
    bool birth = e && (e->hdr.flags & ENV_SYSTEM) &&
                 !strcmp(stage__env_method(e), "birth");
    lua_pushcfunction(L, tostring_p);
    lua_pushvalue(L, idx);
    const char *why = lua_pcall(L, 1, 1, 0) == LUA_OK ? lua_tostring(L, -1)
                                                      : "(an error value)";
    stage__actor_failed(w->t, a, birth, code, why);
    lua_pop(L, 1);
    if (birth && (a->flags & ACTOR_STOPPING)) {
        stage__lactor_t *la = stage__lactor(a);
        luaL_unref(L, LUA_REGISTRYINDEX, la->state_ref);
        la->state_ref = 0;
    }
}

/* Push on w->L the MemoryExceeded error of actor a, whose turn the heap
** cap stopped. The cap is the node's, so its operator hears of it even if
** the caller does not look: the failure's log line (turn_failed) names a,
** or under on_error "keep", which logs none, this one. */
static void memory_exceeded(stage__lw_t *w, stage__actor_t *a) {
    stage_id_t id;
    char text[STAGE_ID_TEXT_MAX], who[STAGE_ID_TEXT_MAX + 16];
    stage__make_id(w->node, a->serial, a->type, &id);
    stage_id_format(&id, text, sizeof text);
    snprintf(who, sizeof who, "actor '%s'", text);
    stage__lw_push_memory_error(w->L, w, who);
    if (a->type->on_error == STAGE_ON_ERROR_KEEP)
        LOG_WARN("actor '%s': MemoryExceeded: its message fails: it would "
                 "pass the Lua heap cap of theatre %d (%zu bytes, --memory)",
                 text, w->t->index, w->mem_limit);
}

static bool hook_is_idle(lua_State *co);

/* Every turn's coroutine holds TURN_BELOW values under its function: a
** message's, the table its handler was found in (the class), left there
** because taking it away costs two more calls per message. Once the
** function has returned, the results are what is above them (lua_resume's
** count is of the whole stack). */
#define TURN_BELOW 1

static int runner(lua_State *L);

/* The level of co's outermost call: levels double until one is past it,
** then halve (a stack overflow's coroutine holds some 200,000 calls, and
** lua_getstack walks them from the top each time). */
static int outermost(lua_State *co) {
    lua_Debug ar;
    int in = 0, out = 1;
    while (lua_getstack(co, out, &ar)) {
        in = out;
        out *= 2;
    }
    while (out - in > 1) {
        int mid = in + (out - in) / 2;
        if (lua_getstack(co, mid, &ar))
            in = mid;
        else
            out = mid;
    }
    return in;
}

/* Push co's traceback onto L, without its last line when that is the
** runner's ("[C]: in ?"), which is the runtime's, not the actor's. */
static void traceback(lua_State *L, lua_State *co) {
    static const char runner_line[] = "\n\t[C]: in ?";
    size_t len, tail = sizeof runner_line - 1;
    luaL_traceback(L, co, NULL, 0);
    const char *tb = lua_tolstring(L, -1, &len);
    if (len < tail || memcmp(tb + len - tail, runner_line, tail)) return;
    lua_Debug ar;
    if (!lua_getstack(co, outermost(co), &ar) || !lua_getinfo(co, "f", &ar))
        return;
    bool ours = lua_tocfunction(co, -1) == runner;
    lua_pop(co, 1);
    if (!ours) return;
    lua_pushlstring(L, tb, len - tail);
    lua_replace(L, -2);
}

/* Complete reply with the nres results on top of co, the handler's of a
** message to a (nil if none). */
static void reply_with(stage__lw_t *w, stage__actor_t *a, lua_State *co,
                       int nres, stage__future_t *reply) {
    stage_id_t self;
    stage__make_id(w->node, a->serial, a->type, &self);
    if (nres == 0) lua_pushnil(co);
    stage__lfuture_complete(co, -(nres ? nres : 1), reply, &self);
}

/* After lua_resume returned status on co for actor a running envelope e
** (NULL for a turn core made: no reply, nothing to free); or for the actor
** the runner went on to (t->switched), running the envelope it took. */
static int finish(stage__lw_t *w, stage__actor_t *a, lua_State *co, int coref,
                  stage__env_t *e, int status) {
    lua_State *L = w->L;
    if (w->t->switched) a = w->t->switched; /* the runner went on to it */
    w->runner_pays = w->t->run_head != NULL;
    set_running(w, NULL);
    /* The watchdog's signal may have come as the turn ended, setting the
    ** preemption hook on co, which no longer runs: the request is void. A
    ** count hook left on would slow every handler co runs from now on
    ** (Lua's VM calls its hook code at each instruction while one is set)
    ** and preempt the next at once. */
    if (!hook_is_idle(co)) stage__lua_hook_idle(co);
    if (status == LUA_YIELD && w->preempted == 2) { /* past its budget */
        const stage_node_config_t *cfg = stage__node_config(w->node);
        push_budget_error(L, a->spent, cfg->budget_secs);
        status = LUA_ERRRUN;
    } else if (status == LUA_YIELD) {
        if (!w->preempted && !stage__lactor(a)->wait) {
            lua_settop(co, 0);
            lua_pushliteral(co, "coroutine.yield called outside a coroutine "
                                "of the handler's own; use await to wait");
            lua_xmove(co, L, 1);
            status = LUA_ERRRUN;
        } else {
            stage__lactor(a)->co_ref = coref;
            a->current = e;
            return w->preempted ? TURN_PREEMPTED : TURN_WAIT;
        }
    } else if (status == LUA_ERRMEM && w->mem_refused) {
        memory_exceeded(w, a);
        status = LUA_ERRRUN;
    } else if (status != LUA_OK) {
        lua_xmove(co, L, 1);
    }
    a->spent = 0;
    stage__future_t *reply = e ? e->future : NULL;
    if (status == LUA_OK) {
        if (reply) reply_with(w, a, co, lua_gettop(co) - TURN_BELOW, reply);
        stage__lw_give_co(w, co, coref);
    } else {
        stage_id_t self;
        stage__make_id(w->node, a->serial, a->type, &self);
        traceback(L, co);
        stage__lfuture_fail(L, -2, reply, &self, lua_tostring(L, -1));
        turn_failed(w, a, -2, e);
        lua_pop(L, 2);
#if LUA_VERSION_RELEASE_NUM >= 50406
        lua_closethread(co, L);
#else
        lua_resetthread(co);
#endif
        if (co == w->poisoned) { /* its hooks are off for good: drop it */
            w->poisoned = NULL;
            luaL_unref(L, LUA_REGISTRYINDEX, coref);
        } else {
            stage__lw_give_co(w, co, coref);
        }
    }
    if (e) stage__env_free(e);
    return TURN_DONE;
}

/* a's state table, made at its first message (its birth's); the class
** is its metatable. */
static int state_ref(stage__lw_t *w, stage__actor_t *a) {
    stage__lactor_t *la = stage__lactor(a);
    if (!la->state_ref) {
        lua_State *L = w->L;
        lua_newtable(L);
        int cref = class_ref(w, a->type);
        if (cref != LUA_NOREF) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, cref);
            lua_setmetatable(L, -2);
        }
        la->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return la->state_ref;
}

/* Say in why that a's type is not defined in w (no class): -1. */
static int no_class(stage__lw_t *w, const stage__actor_t *a, char *why,
                    size_t whylen) {
    snprintf(why, whylen, "type '%s' is not defined in theatre %d",
             a->type->name, w->t->index);
    return -1;
}

/* Push handler, state and arguments of message e onto co, above the table
** the handler was found in (TURN_BELOW); or, with kept, a's class and
** state at kept and kept + 1 of co already (the runner's), only the
** handler, a copy of the state and the arguments. The lookups are made
** on co itself, so nothing moves between threads. Returns the number of
** values after the function, or -1 with the reason in why, -2 for a birth
** with no hook; co's stack is then for the caller to clear. Inlined into
** both its callers: out of line, its call (a dozen saved registers, seven
** arguments) was 2% of a message of the ring. */
static inline __attribute__((always_inline)) int
push_message(stage__lw_t *w, stage__actor_t *a, lua_State *co, stage__env_t *e,
             int kept, char *why, size_t whylen) {
    bool birth = (e->hdr.flags & ENV_SYSTEM) && !strcmp(e->data, "birth");
    const char *m = stage__env_method(e);
    /* The fast path: a method the class itself defines, found with one
    ** lookup in the class (kept per type in class_refs). */
    int cref = kept ? LUA_REFNIL : class_ref(w, a->type);
    if (cref == LUA_NOREF) return no_class(w, a, why, whylen);
    /* the first letter first: most methods are neither (a message costs
    ** a few hundred instructions, two strcmp calls a visible share) */
    bool reserved =
        !birth && ((m[0] == 'b' && !strcmp(m, "birth")) ||
                   (m[0] == 'd' && !strcmp(m, "death")) || m[0] == '_');
    stage__lactor_t *la = stage__lactor(a);
    if (la->methods_ref && !reserved) { /* its own (update_method) */
        lua_rawgeti(co, LUA_REGISTRYINDEX, la->methods_ref);
        push_method(w, co, a->type, m, e->mlen);
        if (lua_rawget(co, -2) == LUA_TFUNCTION) {
            if (kept) lua_remove(co, -2);
            goto found;
        }
        lua_pop(co, 2);
    }
    int class_at = kept;
    if (!kept) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, cref);
        class_at = lua_gettop(co);
    }
    /* raw: a class's metatable leads to spawn and spawn_at, not methods.
    ** With its length: lua_pushstring's cache of C strings, keyed by
    ** address, only misses on a method name in an envelope. */
    if (reserved || (push_method(w, co, a->type, m, e->mlen),
                     lua_rawget(co, class_at)) != LUA_TFUNCTION) {
        if (!reserved) lua_pop(co, 1);
        find_method(co, class_at, reserved ? "" : m); /* supertypes */
        if (!lua_isfunction(co, -1)) {
            if (birth) return -2; /* no birth hook: nothing to run */
            stage_id_t id;
            char text[STAGE_ID_TEXT_MAX];
            stage__make_id(w->node, a->serial, a->type, &id);
            stage_id_format(&id, text, sizeof text);
            snprintf(why, whylen, "actor '%s' of type '%s' has no method '%s'",
                     text, a->type->name, m);
            return -1;
        }
    }
found:
    if (kept)
        lua_pushvalue(co, kept + 1);
    else
        lua_rawgeti(co, LUA_REGISTRYINDEX, la->state_ref);
    if (e->len == 0 || (e->len == 1 && (uint8_t)stage__env_args(e)[0] == 0x90))
        return 1; /* no arguments */
    /* From another node, a small body may ask for a lot of memory: decode
    ** it protected so running out fails this message, not the process. */
    int n = e->hdr.flags & ENV_REMOTE
                ? stage__lv_pdecode(co, true, stage__env_args(e), e->len,
                                    &w->hooks, why, whylen)
                : stage__lv_decode_args(co, stage__env_args(e), e->len,
                                        &w->hooks, why, whylen);
    return n < 0 ? -1 : n + 1;
}

/* Resume co, which holds a function and its nargs arguments, as a turn of
** a running envelope e (NULL: a turn core made). */
static int start_turn(stage__lw_t *w, stage__actor_t *a, lua_State *co,
                      int coref, stage__env_t *e, int nargs) {
    int nres = 0;
    w->preempted = 0;
    w->resumed_at = 0; /* unknown start: the hook counts a whole slice */
    set_running(w, co);
    w->mem_refused = 0;
    w->turn_env = e;
    int prev = stage__lw_enforce(w);
    int status = lua_resume(co, w->L, nargs, &nres);
    stage__lw_unenforce(w, prev);
    return finish(w, a, co, coref, w->turn_env, status);
}

void stage__lactor_call_turn(stage__lw_t *w, stage__actor_t *a) {
    stage__lactor_call_turn_args(w, a, 0);
}

void stage__lactor_call_turn_args(stage__lw_t *w, stage__actor_t *a,
                                  int nargs) {
    int coref;
    lua_State *co = stage__lw_take_co(w, &coref);
    lua_pushnil(co); /* where a message's class is (TURN_BELOW) */
    lua_xmove(w->L, co, nargs + 1);
    w->call_turn = start_turn(w, a, co, coref, NULL, nargs);
}

/* A turn core made (an actor timer's, a callback): its call runs it, as
** for a C actor; one that starts a Lua function (stage__lactor_call_turn)
** says in w->call_turn whether that suspended. */
static int deliver_call(stage__lw_t *w, stage__actor_t *a, stage__env_t *e) {
    if (!e->call) {
        stage__env_drop(e, STAGE_EINVAL);
        return TURN_DONE;
    }
    w->call_turn = TURN_DONE;
    e->call(w->t, a, e);
    return w->call_turn;
}

/* Message e was not run (push_message's n and why): fail its future, or
** say why, and free it. */
static void refuse(stage__env_t *e, int n, const char *why) {
    if (n == -1) {
        int code = strstr(why, "no method") ? STAGE_ENO_METHOD : STAGE_EDECODE;
        if (e->future)
            stage__future_reject(e->future, code, why, NULL, NULL);
        else
            LOG_WARN("%s", why);
    } else if (e->future) {
        stage__future_resolve(e->future, "\xc0", 1);
    }
    stage__env_free(e);
}

/* ---- the runner -------------------------------------------------------------
** A turn's messages run in one resume of its coroutine, not one resume
** each: the runner, a C function at the bottom of the coroutine, calls
** the first message's handler, then takes the next message of the turn
** and calls its handler, until there is none. The next message is the
** actor's own next (core's stage__turn_next: the one run_actor would
** deliver now), or else the first message of the next actor on the run
** queue, when core lets the turn go on to it (stage__turn_after: a ring's
** token, a ping-pong's ball). A resume with its set-up and its end, and a
** pass of the theatre, cost as much as a short handler; a step of the
** runner is a call. Otherwise each message is as if run by itself: its
** turn begins (the watchdog, the budget), a call's reply is its handler's
** results (the last one's, finish makes), and a failure, a preemption or
** an await is the running message's (w->turn_env) and its actor's
** (t->running). The handlers are called with lua_callk, so that they may
** yield (await, preemption) through it. */

static int runner_next(lua_State *L, int status, lua_KContext below);

/* Make L's stack a's class and state; 0 if w has no class of a's type. */
static bool class_and_state(stage__lw_t *w, stage__actor_t *a, lua_State *L) {
    int cref = class_ref(w, a->type);
    if (cref == LUA_NOREF) return false;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, state_ref(w, a));
    return true;
}

/* The runner's start: [class, handler, state, arguments...] */
static int runner(lua_State *L) {
    lua_callk(L, lua_gettop(L) - 2, LUA_MULTRET, 1, runner_next);
    return runner_next(L, LUA_OK, 1);
}

/* After a handler returned, its results above `below` values (or its
** coroutine was resumed and it then returned): the next message's, until
** there is none; the last one's results are the runner's, for finish.
** Under each message after the first are its actor's class and state
** (below is then 2): looked up once for one actor's messages, the class
** once for actors of one type. */
static int runner_next(lua_State *L, int status, lua_KContext below) {
    (void)status;
    stage__lw_t *w = stage__lw(L);
    stage__theatre_t *t = w->t;
    stage__actor_t *a = t->running;
    for (;;) {
        stage__env_t *e = stage__turn_next(t, a);
        stage__actor_t *b = e ? a : stage__turn_after(t, a);
        if (!b) break;
        if (w->turn_env->future) /* the call that ran: its results */
            reply_with(w, a, L, lua_gettop(L) - (int)below,
                       w->turn_env->future);
        stage__env_free(w->turn_env); /* the message that just ran */
        /* what stays of [class, state] under the next message */
        int keep = b->type != a->type ? 0 : b == a && below == 2 ? 2 : 1;
        if (b != a) e = stage__turn_switch(t, a, b);
        a = b;
        w->turn_env = e;
        a->spent = 0;
        w->resumed_at = 0;
        char why[512];
        int n;
        if (keep == 0 && !class_and_state(w, a, L)) {
            n = no_class(w, a, why, sizeof why);
        } else {
            if (keep == 1) {
                lua_settop(L, 1);
                lua_rawgeti(L, LUA_REGISTRYINDEX, state_ref(w, a));
            } else if (keep == 2) {
                lua_settop(L, 2);
            }
            below = 2;
            n = push_message(w, a, L, e, 1, why, sizeof why);
        }
        if (n < 0) { /* the turn ends here; run_actor goes on */
            w->turn_env = NULL;
            refuse(e, n, why);
            return 0;
        }
        lua_callk(L, n, LUA_MULTRET, 2, runner_next);
    }
    return lua_gettop(L) - (int)below;
}

static int lua_deliver(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    if (e->hdr.kind == ENV_CALL) return deliver_call(w, a, e);
    if (e->data[0] == '_' && !strcmp(e->data, STAGE__UPDATE_METHOD))
        return stage__lupdate_deliver(w, a, e);
    int coref;
    lua_State *co = stage__lw_take_co(w, &coref);
    /* a plain message that another may follow in this turn (queued for a,
    ** for another actor, or likely: runner_pays): the runner runs it, then
    ** the next ones, over a nil where a message's class is (TURN_BELOW).
    ** Alone, as a message between theatres is, it costs 260 instructions
    ** more with the runner than without (of some 3,500 a message). */
    bool run = !(e->hdr.flags & ENV_SYSTEM) &&
               (a->mbox_head || t->run_head || w->runner_pays);
    if (run) {
        lua_pushnil(co);
        lua_pushcfunction(co, runner);
    }
    char why[512];
    int nargs = push_message(w, a, co, e, 0, why, sizeof why);
    if (run && nargs >= 0) nargs += 2; /* the class and the handler */
    if (nargs < 0) {
        stage__lw_give_co(w, co, coref);
        refuse(e, nargs, why);
        return TURN_DONE;
    }
    return start_turn(w, a, co, coref, e, nargs);
}

int stage__lactor_resume(stage__theatre_t *t, stage__actor_t *a) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    stage__lactor_t *la = stage__lactor(a);
    lua_rawgeti(w->L, LUA_REGISTRYINDEX, la->co_ref);
    lua_State *co = lua_tothread(w->L, -1);
    lua_pop(w->L, 1);
    int coref = la->co_ref;
    stage__env_t *e = a->current;
    la->co_ref = 0;
    a->current = NULL;
    int nres = 0;
    w->preempted = 0;
    w->resumed_at = stage__now(); /* rare path: a clock read is fine */
    set_running(w, co);
    w->turn_env = e;
    int prev = stage__lw_enforce(w);
    int status = lua_resume(co, w->L, 0, &nres);
    stage__lw_unenforce(w, prev);
    return finish(w, a, co, coref, w->turn_env, status);
}

/* Run the death function on top of L as a last turn of actor a: it cannot
** await; the watchdog fails it past its budget, or at a node's stop past
** the stop deadline (preempt_hook). A failure is logged. */
static void run_death(stage__theatre_t *t, stage__lw_t *w, stage__actor_t *a) {
    lua_State *L = w->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, stage__lactor(a)->state_ref);
    stage__actor_t *prev = t->running;
    stage__turn_begin(t, a);
    a->spent = 0;
    w->resumed_at = stage__now();
    w->running = L;
    w->mem_refused = 0;
    int enf = stage__lw_enforce(w);
    int rc = lua_pcall(L, 1, 0, 0);
    stage__lw_unenforce(w, enf);
    if (rc != LUA_OK) {
        stage_id_t id;
        char text[STAGE_ID_TEXT_MAX];
        stage__make_id(t->node, a->serial, a->type, &id);
        stage_id_format(&id, text, sizeof text);
        LOG_WARN("actor %s: death: %s", text, luaL_tolstring(L, -1, NULL));
        lua_pop(L, 2);
    }
    w->running = NULL;
    stage__turn_end(t);
    t->running = prev;
}

int stage__lactor_push_class(stage__lw_t *w, const stage__type_t *ty) {
    int cref = class_ref(w, ty);
    if (cref == LUA_NOREF) return -1;
    lua_rawgeti(w->L, LUA_REGISTRYINDEX, cref);
    return 0;
}

/* Message handler for a hook: the error with a traceback. */
static int hook_msgh(lua_State *L) {
    luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
    return 1;
}

int stage__lactor_hook(stage__theatre_t *t, stage__actor_t *a, const char *name,
                       char *err, size_t errlen) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    stage__lactor_t *la = stage__lactor(a);
    if (!w || !la->state_ref || stage__lactor_push_class(w, a->type)) return 0;
    lua_State *L = w->L;
    int base = lua_gettop(L) - 1; /* the class */
    find_method(L, base + 1, name);
    if (!lua_isfunction(L, -1)) {
        lua_settop(L, base);
        return 0;
    }
    lua_pushcfunction(L, hook_msgh);
    lua_insert(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, la->state_ref);
    /* a turn of a that cannot await: a plain pcall, as death runs */
    stage__actor_t *prev = t->running;
    stage__turn_begin(t, a);
    a->spent = 0;
    w->resumed_at = stage__now();
    w->running = L;
    w->mem_refused = 0;
    int enf = stage__lw_enforce(w);
    int rc = lua_pcall(L, 1, 0, base + 2);
    stage__lw_unenforce(w, enf);
    w->running = NULL;
    stage__turn_end(t);
    t->running = prev;
    if (rc != LUA_OK) {
        snprintf(err, errlen, "%s failed: %s", name,
                 luaL_tolstring(L, -1, NULL));
        lua_settop(L, base);
        return STAGE_EHANDLER;
    }
    lua_settop(L, base);
    return 0;
}

void stage__lactor_destroy(stage__theatre_t *t, stage__actor_t *a) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    stage__lactor_t *la = stage__lactor(a);
    if (!w) return;
    lua_State *L = w->L;
    if (la->co_ref) { /* stopped while suspended: drop the coroutine */
        luaL_unref(L, LUA_REGISTRYINDEX, la->co_ref);
        la->co_ref = 0;
    }
    stage__lwait_free(a); /* its timer was cancelled with the actor's */
    int cref = class_ref(w, a->type);
    /* no state table: its birth never started, so no death either */
    if (!t->deaths_over && cref != LUA_NOREF && la->state_ref) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, cref);
        lua_pushliteral(L, "death");
        if (lua_rawget(L, -2) == LUA_TNIL) { /* inherited? */
            lua_pop(L, 1);
            find_method(L, lua_gettop(L), "death");
        }
        lua_remove(L, -2);
        if (lua_isfunction(L, -1))
            run_death(t, w, a);
        else
            lua_pop(L, 1);
    }
    if (la->state_ref) luaL_unref(L, LUA_REGISTRYINDEX, la->state_ref);
    la->state_ref = 0;
    stage__lupdate_drop(w, a);
}

int stage__lactor_deliver(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e) {
    state_ref(t->kind_data[a->type->slot], a);
    return lua_deliver(t, a, e);
}

/* ---- preemption --------------------------------------------------------- */

/* A death still running when the node's stop grace ends. */
static void push_grace_error(lua_State *L, double grace) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "death ran past the node's stop grace of %g s (an endless "
             "loop?)",
             grace);
    stage__future_t tmp = {.status = STAGE_EBUDGET, .message = msg};
    stage__lerror_push(L, &tmp);
}

static void push_budget_error(lua_State *L, double spent, double budget) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "handler ran for %.1f s, past its budget of %g "
             "s (an endless loop?)",
             spent, budget);
    stage__future_t tmp = {.status = STAGE_EBUDGET, .message = msg};
    stage__lerror_push(L, &tmp);
}

/* ThreadSanitizer holds an asynchronous signal back until the thread calls
** an atomic or a function it intercepts, which a pure Lua loop never does:
** the watchdog's signal would never reach it (util/sanitize.h). So in a
** TSan build every Lua thread carries a count hook that polls for the
** watchdog's request (the one the signal handler reads) every POLL_COUNT
** instructions; the signal still comes, and if late, finds no request left
** and does nothing. Other builds set no hook until the signal comes: with a
** count hook set, Lua's VM stops in its hook code at every instruction. */
#define POLL_COUNT 1000

static void preempt_hook(lua_State *co, lua_Debug *ar);

static void poll_hook(lua_State *co, lua_Debug *ar) {
    if (stage__preempt_wanted(stage__lw(co)->t)) preempt_hook(co, ar);
}

static bool hook_is_idle(lua_State *co) {
    return lua_gethook(co) == (STAGE_UNDER_TSAN ? poll_hook : NULL);
}

void stage__lua_hook_idle(lua_State *co) {
    if (STAGE_UNDER_TSAN)
        lua_sethook(co, poll_hook, LUA_MASKCOUNT, POLL_COUNT);
    else
        lua_sethook(co, NULL, 0, 0);
}

/* Count the time the turn of w has run since it was last resumed, for
** a preemption of co now: 1 if that is past the budget. *late: a death
** running past the node's stop grace. */
static bool count_spent(stage__lw_t *w, stage__actor_t *a, bool *late) {
    const stage_node_config_t *cfg = stage__node_config(w->node);
    double now = stage__now();
    /* The first slice is an estimate: the watchdog saw the turn running at
    ** one look and again at the next, half a slice later, so it has run at
    ** least that long. The lower bound: a budget never ends early. */
    if (w->resumed_at <= 0) w->resumed_at = now - cfg->slice_secs / 2;
    a->spent += now - w->resumed_at;
    w->resumed_at = now;
    double deadline = stage__node_stop_deadline(w->node);
    *late = deadline > 0 && now >= deadline; /* a death at the stop */
    return a->spent >= cfg->budget_secs;
}

/* Push the error of a turn that ran past its budget (over) or past the
** node's stop grace. */
static void push_over_error(stage__lw_t *w, lua_State *co, stage__actor_t *a,
                            bool over) {
    const stage_node_config_t *cfg = stage__node_config(w->node);
    if (over)
        push_budget_error(co, a->spent, cfg->budget_secs);
    else
        push_grace_error(co, cfg->stop_grace_secs);
}

static void preempt_hook(lua_State *co, lua_Debug *ar) {
    (void)ar;
    stage__lua_hook_idle(co);
    stage__lw_t *w = stage__lw(co);
    stage__actor_t *a = w->t->running;
    if (!a || w->running != co) return; /* a late signal */
    bool late, over = count_spent(w, a, &late);
    /* Past the budget: yield too, and the theatre fails the message (see
    ** finish). Raising here instead would leave the coroutine unable to
    ** run hooks ever again: Lua does not restore its allowhook flag when
    ** an error unwinds a hook inside lua_resume. A coroutine the handler
    ** made cannot be yielded for the actor: it only meets the budget. */
    if (co != w->handler_co) {
        if (over || late) { /* that coroutine dies: its hooks do not matter;
                            ** a death's pcall restores them */
            push_over_error(w, co, a, over);
            lua_error(co);
        }
        /* keep measuring here, and preempt the handler once back in it */
        lua_sethook(co, preempt_hook, LUA_MASKCOUNT, 100000);
        if (w->handler_co)
            lua_sethook(w->handler_co, preempt_hook, LUA_MASKCOUNT, 1);
        return;
    }
    if (lua_isyieldable(co)) {
        w->preempted = over ? 2 : 1;
        /* In a hook, lua_yield returns here, and the coroutine yields
        ** once the hook returns: go at once. Going on would set the
        ** measuring hook below on a coroutine that yielded, and a count
        ** hook makes Lua's VM stop in its hook code at every instruction:
        ** this handler, and every later one the pooled coroutine runs,
        ** would run at half speed and be preempted every 100,000
        ** instructions, asked or not. */
        lua_yield(co, 0);
        return;
    }
    if (over) { /* cannot yield here (a C call in between): raise */
        w->poisoned = co;
        push_over_error(w, co, a, true);
        lua_error(co);
    }
    /* not yieldable now: keep measuring, so that the turn yields once it
    ** can and meets its budget even if it never can (a node that stops
    ** waits for it) */
    lua_sethook(co, preempt_hook, LUA_MASKCOUNT, 100000);
}

int stage__lua_preempt_point(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    if (!w || !stage__preempt_wanted(w->t)) return 0;
    stage__actor_t *a = w->t->running;
    if (!a || w->running != L) return 0;
    /* The request stays until the turn ends: a call that cannot yield
    ** counts the time at every look, and raises once it is over. */
    bool late, over = count_spent(w, a, &late);
    if (L == w->handler_co && lua_isyieldable(L)) {
        /* the signal's hook would preempt the turn again once resumed */
        stage__lua_hook_idle(L);
        w->preempted = over ? 2 : 1;
        return 1;
    }
    if (over || (late && L != w->handler_co)) {
        push_over_error(w, L, a, over);
        lua_error(L); /* not from a hook: L's hooks stay as they are */
    }
    if (L != w->handler_co && w->handler_co) /* preempt it once back */
        lua_sethook(w->handler_co, preempt_hook, LUA_MASKCOUNT, 1);
    return 0;
}

void stage__lua_preempt(stage__theatre_t *t, void *tdata) {
    (void)t;
    stage__lw_t *w = tdata; /* this thread's own: a plain read */
    lua_State *co = w ? w->running : NULL;
    if (co) lua_sethook(co, preempt_hook, LUA_MASKCOUNT, 1);
}
