/*
** lua/lupdate.c: live replacement of code (thesis 5.2) — a method of one
** actor (stage.update_method), or methods of a type in every running
** actor of it and every later one (stage.update_type).
**
** A method's new code travels as the source text of a function
** expression, "function(self, ...) ... end", never as bytecode; it is
** compiled where it runs, in text mode, with the theatre's globals (not
** the locals of the script that defined the type), under the handler
** budget.
**
** update_method sends the actor a STAGE__UPDATE_METHOD message, which
** core queues ahead of the waiting ones: it runs right after the current
** message, and gives the actor a method of its own (la->methods_ref),
** looked up before its class; its source goes with the actor when it
** moves (limage.c).
**
** update_type replaces the functions in the type's class table, which
** every actor of the type (and of its subtypes that do not define the
** method) reaches: in every theatre, each on its own thread, between two
** messages, so every message runs one version whole. On a node with a
** network the node's net hook stores the new code and tells the other
** nodes first (net/sources.c); at a script's top level it patches the
** class as defined so far (how the stored code replays its updates).
*/
#include <stdio.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

/* A method name an update may give: a handler's. */
static bool method_name_ok(const char *m, size_t len) {
    return len > 0 && len <= 255 && m[0] != '_' && !memchr(m, 0, len);
}

/* Compile the function expression src, for method `what`, and run it
** guarded: push the function, or raise a message naming what. Text only,
** in the theatre's globals. */
static void compile(lua_State *L, const char *what, const char *src,
                    size_t len) {
    stage__lw_t *w = stage__lw(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "return ");
    luaL_addlstring(&b, src, len);
    luaL_pushresult(&b);
    char chunk[300];
    snprintf(chunk, sizeof chunk, "=method '%s'", what);
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    if (luaL_loadbufferx(L, text, n, chunk, "t") != LUA_OK) {
        lua_remove(L, -2);
        lua_error(L);
    }
    lua_remove(L, -2);
    (void)w;
    stage__lcode_guard(L); /* evaluating it may not end */
    int st = lua_pcall(L, 0, 1, 0);
    stage__lcode_unguard(L);
    if (st != LUA_OK) lua_error(L);
    if (!lua_isfunction(L, -1))
        luaL_error(L,
                   "the new code of method '%s' must be the source text of "
                   "a function ('function(self, ...) ... end'), not of %s",
                   what, luaL_typename(L, -1));
}

/* ---- one actor ---------------------------------------------------------- */

/* stage.update_method(ref, name, src): a future of true once the actor
** runs the new method. */
int stage__lupdate_method(lua_State *L) {
    stage__lref_t *to = stage__lref_test(L, 1);
    if (!to) return luaL_typeerror(L, 1, "reference");
    size_t nlen, slen;
    const char *name = luaL_checklstring(L, 2, &nlen);
    const char *src = luaL_checklstring(L, 3, &slen);
    if (!method_name_ok(name, nlen))
        return luaL_error(L,
                          "update_method: '%s' is not a method name (1 to "
                          "255 bytes, not starting with '_')",
                          name);
    compile(L, name, src, slen); /* its errors here, at once */
    lua_pop(L, 1);
    lua_settop(L, 3);
    return stage__lref_call(L, to, STAGE__UPDATE_METHOD, 2, 2);
}

/* The table of a's methods of its own (made if need be) and of their
** sources on L's stack: methods, sources. */
static void push_own(lua_State *L, stage__lactor_t *la) {
    if (!la->methods_ref) {
        lua_newtable(L);
        la->methods_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_newtable(L);
        la->sources_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, la->methods_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, la->sources_ref);
}

/* Give actor a (light userdata 1) method 2 from source 3. Protected. */
static int give_p(lua_State *L) {
    stage__actor_t *a = lua_touserdata(L, 1);
    size_t nlen, slen;
    const char *name = lua_tolstring(L, 2, &nlen);
    const char *src = lua_tolstring(L, 3, &slen);
    if (!name || !src || !method_name_ok(name, nlen))
        return luaL_error(L, "an update of a method: not [name, source]");
    compile(L, name, src, slen);
    push_own(L, stage__lactor(a));
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3); /* sources[name] = src */
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3); /* methods[name] = f */
    return 0;
}

int stage__lupdate_deliver(stage__lw_t *w, stage__actor_t *a, stage__env_t *e) {
    lua_State *L = w->L;
    int top = lua_gettop(L);
    char why[512];
    lua_pushcfunction(L, give_p);
    lua_pushlightuserdata(L, a);
    int n = stage__lv_pdecode(L, true, stage__env_args(e), e->len, &w->hooks,
                              why, sizeof why);
    int st = n == 2 ? lua_pcall(L, 3, 0, 0) : LUA_ERRRUN;
    if (n != 2 && n >= 0)
        snprintf(why, sizeof why, "an update of a method: not [name, source]");
    else if (st != LUA_OK)
        snprintf(why, sizeof why, "%s", luaL_tolstring(L, -1, NULL));
    lua_settop(L, top);
    if (e->future) {
        if (st == LUA_OK)
            stage__future_resolve(e->future, "\xc3", 1); /* true */
        else
            stage__future_reject(e->future, STAGE_ESCRIPT, why, NULL, NULL);
    } else if (st != LUA_OK) {
        LOG_WARN("update_method: %s", why);
    }
    stage__env_free(e);
    return TURN_DONE;
}

void stage__lupdate_install(lua_State *L, stage__actor_t *a, int idx) {
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushcfunction(L, give_p);
        lua_pushlightuserdata(L, a);
        lua_pushvalue(L, -4);
        lua_pushvalue(L, -4);
        lua_call(L, 3, 0);
        lua_pop(L, 1);
    }
}

void stage__lupdate_drop(stage__lw_t *w, stage__actor_t *a) {
    stage__lactor_t *la = stage__lactor(a);
    if (!la->methods_ref) return;
    luaL_unref(w->L, LUA_REGISTRYINDEX, la->methods_ref);
    luaL_unref(w->L, LUA_REGISTRYINDEX, la->sources_ref);
    la->methods_ref = la->sources_ref = 0;
}

/* ---- a type -------------------------------------------------------------- */

/* Set the methods of the table at midx (name -> source) in the class at
** cidx, compiled here. Raises. */
static void patch_class(lua_State *L, int cidx, int midx) {
    cidx = lua_absindex(L, cidx);
    midx = lua_absindex(L, midx);
    lua_pushnil(L);
    while (lua_next(L, midx)) {
        size_t nlen = 0, slen = 0;
        const char *name =
            lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &nlen) : NULL;
        const char *src =
            lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &slen) : NULL;
        if (!name || !src || !method_name_ok(name, nlen))
            luaL_error(L, "update_type: the methods must be a table of "
                          "method name -> source text of a function");
        compile(L, name, src, slen);
        lua_pushvalue(L, -3);
        lua_insert(L, -2);
        lua_rawset(L, cidx); /* class[name] = f */
        lua_pop(L, 1);
    }
}

/* The name of the type at 1 (a class, or a type name). */
static const char *type_arg(lua_State *L) {
    if (lua_istable(L, 1) && lua_getfield(L, 1, "__type") == LUA_TSTRING) {
        lua_replace(L, 1);
        return lua_tostring(L, 1);
    }
    if (lua_type(L, 1) == LUA_TSTRING) return lua_tostring(L, 1);
    luaL_typeerror(L, 1, "actor class or type name");
    return NULL;
}

/* The update of a theatre's class, and who waits for every theatre. */
typedef struct upd {
    stage_node_t *node;
    char type[STAGE_TYPE_MAX];
    char *methods; /* msgpack map: name -> source */
    size_t len;
    stage__code_done_fn done;
    void *arg;
    atomic_int left;
    pthread_mutex_t lock;
    int status;
    char why[400];
} upd_t;

/* Patch the class of upd (light userdata 1) in this theatre. Protected. */
static int patch_p(lua_State *L) {
    upd_t *u = lua_touserdata(L, 1);
    stage__type_t *ty = stage__type_find(u->node, u->type);
    stage__lw_t *w = stage__lw(L);
    if (!ty || stage__lactor_push_class(w, ty)) return 0; /* none here */
    char why[256];
    if (stage__lv_decode_state(L, u->methods, u->len, &w->hooks, why,
                               sizeof why) ||
        !lua_istable(L, -1))
        return luaL_error(L, "update_type: malformed methods: %s", why);
    patch_class(L, -2, -1);
    return 0;
}

static void upd_end(upd_t *u) {
    u->done(u->node, u->arg, u->status, u->status ? u->why : NULL);
    pthread_mutex_destroy(&u->lock);
    stage__free(u->methods);
    stage__free(u);
}

/* Run the update in theatre t (an ENV_CALL). */
static void upd_in(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    upd_t *u = e->arg;
    stage__env_free(e);
    stage__lw_t *w = stage__lw_of(t);
    if (w) {
        int top = lua_gettop(w->L);
        lua_pushcfunction(w->L, patch_p);
        lua_pushlightuserdata(w->L, u);
        if (lua_pcall(w->L, 1, 0, 0) != LUA_OK) {
            pthread_mutex_lock(&u->lock);
            if (!u->status) {
                u->status = STAGE_ESCRIPT;
                snprintf(u->why, sizeof u->why, "theatre %d: %s", t->index,
                         luaL_tolstring(w->L, -1, NULL));
            }
            pthread_mutex_unlock(&u->lock);
        }
        lua_settop(w->L, top);
    }
    /* acq_rel: the last theatre sees the others' status */
    if (atomic_fetch_sub_explicit(&u->left, 1, memory_order_acq_rel) == 1)
        upd_end(u);
}

static void upd_dropped(stage__theatre_t *t, stage__actor_t *a,
                        stage__env_t *e) {
    (void)t;
    (void)a;
    upd_t *u = e->arg;
    stage__env_free(e);
    pthread_mutex_lock(&u->lock);
    if (!u->status) {
        u->status = STAGE_ESTOPPED;
        snprintf(u->why, sizeof u->why, "the node stopped");
    }
    pthread_mutex_unlock(&u->lock);
    if (atomic_fetch_sub_explicit(&u->left, 1, memory_order_acq_rel) == 1)
        upd_end(u);
}

int stage__lupdate_code(stage_node_t *node, void *ndata, const char *type,
                        const char *methods, size_t len,
                        stage__code_done_fn done, void *arg) {
    (void)ndata;
    int nt = stage_node_theatres(node);
    upd_t *u = stage__calloc(1, sizeof *u);
    if (!u || !(u->methods = stage__malloc(len ? len : 1))) {
        stage__free(u);
        return STAGE_ENOMEM;
    }
    memcpy(u->methods, methods, len);
    u->len = len;
    snprintf(u->type, sizeof u->type, "%s", type);
    u->node = node;
    u->done = done;
    u->arg = arg;
    pthread_mutex_init(&u->lock, NULL);
    atomic_init(&u->left, nt);
    for (int i = 0; i < nt; i++) {
        stage__env_t *e = stage__env_call(upd_in, upd_dropped, u);
        if (!e) {
            pthread_mutex_lock(&u->lock);
            if (!u->status) {
                u->status = STAGE_ENOMEM;
                snprintf(u->why, sizeof u->why, "out of memory");
            }
            pthread_mutex_unlock(&u->lock);
            if (atomic_fetch_sub_explicit(&u->left, 1, memory_order_acq_rel) ==
                1)
                upd_end(u);
            continue;
        }
        stage__theatre_post(stage__node_theatre(node, i), e);
    }
    return 0;
}

/* The end of an update_type: complete its future (arg). */
static void type_done(stage_node_t *node, void *arg, int status,
                      const char *why) {
    (void)node;
    stage__future_t *f = arg;
    if (status)
        stage__future_reject(f, status, why, NULL, NULL);
    else
        stage__future_resolve(f, "\xc3", 1); /* true */
    stage__future_unref(f);
}

/* stage.update_type(T, methods): see the file's comment. */
int stage__lupdate_type(lua_State *L) {
    const char *name = type_arg(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    stage__lw_t *w = stage__lw(L);
    stage__type_t *ty = stage__type_find(w->node, name);
    if (!w->t->running) { /* a top level: this theatre's class, as it is */
        lua_rawgeti(L, LUA_REGISTRYINDEX, w->classes);
        if (lua_getfield(L, -1, name) != LUA_TTABLE)
            return luaL_error(L, "update_type: no actor type '%s' here", name);
        patch_class(L, -1, 2);
        return 0;
    }
    if (!ty || ty->impl != &stage__lua_kind)
        return luaL_error(L, "update_type: no Lua actor type '%s' here", name);
    lua_newtable(L); /* 3: the methods' functions: they compile here */
    patch_class(L, 3, 2);
    lua_pop(L, 1);
    char why[256];
    stage_pack_t p = STAGE_PACK_INIT;
    if (stage__lv_encode_state(L, 2, &p, &w->hooks, why, sizeof why)) {
        stage_pack_free(&p);
        return luaL_error(L, "update_type: %s", why);
    }
    stage__future_t *f = stage__future_new(w->node, w->t->index, 0);
    if (!f) {
        stage_pack_free(&p);
        return luaL_error(L, "out of memory");
    }
    stage__lfuture_push(L, f); /* holds one reference; type_done the other */
    stage__future_ref(f);
    int rc = stage__node_update_code(w->node, ty, p.data, p.len, type_done, f);
    stage_pack_free(&p);
    if (rc) type_done(w->node, f, rc, "cannot update the type");
    return 1;
}
