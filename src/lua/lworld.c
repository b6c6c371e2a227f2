/*
** lua/lworld.c: one theatre's Lua state — its libraries, the `stage`
** module, the metatables and the pool of coroutines handlers run in.
**
** The lua_State's extra space points back at the world, so any C function
** finds its theatre from L alone (stage__lw).
*/
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

/* print inside an actor goes through the stdout actor, so the lines of one
** actor keep their order with its other output. Outside a turn (the
** script's top level) it writes directly. Prints the n values on L's
** stack. */
static int print_line(lua_State *L, int n) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    stage__lw_t *w = stage__lw(L);
    if (!w->t->running) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        fwrite(s, 1, len, stdout);
        fputc('\n', stdout);
        return 0;
    }
    stage_pack_t *p = &w->scratch;
    stage_pack_reset(p);
    stage_pack_array(p, 1);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    stage_pack_str(p, s, len);
    if (stage_pack_error(p)) return luaL_error(L, "print: out of memory");
    stage__env_t *e = stage__env_new("print", 5, p->data, p->len);
    if (!e) return luaL_error(L, "print: out of memory");
    stage_id_t out;
    stage__stdout_id(w->node, &out);
    e->target = out.serial;
    e->target_type = stage__type_find(w->node, out.type);
    e->sender = w->t->running->serial;
    e->sender_type = w->t->running->type;
    stage__route(w->node, e);
    return 0;
}

static int print_from(lua_State *L, int from);

/* Back from a wait for argument ctx (its value on top). */
static int print_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    lua_replace(L, (int)ctx);
    return print_from(L, (int)ctx + 1);
}

/* Replace the futures among the arguments from `from` on by their values,
** waiting for them as await does (lazy synchronisation, llazy.c). */
static int print_from(lua_State *L, int from) {
    int n = lua_gettop(L);
    for (int i = from; i <= n; i++) {
        if (lua_type(L, i) != LUA_TUSERDATA || !stage__lfuture_test(L, i))
            continue;
        lua_pushcfunction(L, stage__lfuture_value);
        lua_pushvalue(L, i);
        lua_callk(L, 1, 1, (lua_KContext)i, print_k);
        lua_replace(L, i);
    }
    return print_line(L, n);
}

/* print(...): a future's value is printed, once it is there. */
static int l_print(lua_State *L) {
    return print_from(L, 1);
}

/* coroutine.resume(co, ...): Lua's, noting co as the innermost running
** thread so that the watchdog's hook lands where the code runs. */
static int co_resume(lua_State *L) {
    lua_State *co = lua_tothread(L, 1);
    luaL_argexpected(L, co != NULL, 1, "coroutine");
    stage__lw_t *w = stage__lw(L);
    lua_State *prev = w->running;
    if (prev) w->running = co;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    w->running = prev;
    return lua_gettop(L);
}

/* coroutine.wrap on top of that resume (Lua's own wrap bypasses it). */
static const char wrap_code[] =
    "local create, resume, pack, unpack = ...\n"
    "return function(f)\n"
    "  local co = create(f)\n"
    "  return function(...)\n"
    "    local r = pack(resume(co, ...))\n"
    "    if r[1] then return unpack(r, 2, r.n) end\n"
    "    error(r[2], 0)\n"
    "  end\n"
    "end\n";

static void wrap_coroutines(lua_State *L) {
    lua_getglobal(L, "coroutine");
    lua_getfield(L, -1, "resume");
    lua_pushcclosure(L, co_resume, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "resume");
    /* stack: coroutine, resume */
    if (luaL_loadbuffer(L, wrap_code, sizeof wrap_code - 1, "=wrap") != LUA_OK)
        lua_error(L); /* out of memory: open_world fails */
    lua_getfield(L, -3, "create");
    lua_pushvalue(L, -3);
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "pack");
    lua_getfield(L, -2, "unpack");
    lua_remove(L, -3);
    lua_call(L, 4, 1);
    lua_setfield(L, -3, "wrap");
    lua_pop(L, 2);
}

static int load_stage(lua_State *L) {
    return stage__lmodule_open(L);
}

/* Handler coroutines: pool[i] is kept alive by registry ref pool_refs[i]. */
lua_State *stage__lw_take_co(stage__lw_t *w, int *ref) {
    if (w->npool) {
        w->npool--;
        *ref = w->pool_refs[w->npool];
        return w->pool[w->npool];
    }
    lua_State *co = lua_newthread(w->L);
    stage__lsandbox_mark_handler(w->L, -1);
    *ref = luaL_ref(w->L, LUA_REGISTRYINDEX);
    return co;
}

void stage__lw_give_co(stage__lw_t *w, lua_State *co, int ref) {
    if (w->npool == w->cappool) {
        int cap = w->cappool ? w->cappool * 2 : 16;
        lua_State **p = stage__realloc(w->pool, (size_t)cap * sizeof *p);
        int *r =
            p ? stage__realloc(w->pool_refs, (size_t)cap * sizeof *r) : NULL;
        if (p) w->pool = p;
        if (!r) {
            luaL_unref(w->L, LUA_REGISTRYINDEX, ref); /* let it be collected */
            return;
        }
        w->pool_refs = r;
        w->cappool = cap;
    }
    lua_settop(co, 0);
    w->pool[w->npool] = co;
    w->pool_refs[w->npool++] = ref;
}

/* Lua's allocator: luaL_newstate's (free at size 0, else realloc), through
** Stage's allocator hook. Any theatre's thread. */
void *stage__lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        stage__free(ptr);
        return NULL;
    }
    return stage__realloc(ptr, nsize);
}

/* A world's allocator: stage__lua_alloc's, with the heap cap (ud: the
** world). Growth that would pass the cap returns NULL: Lua then collects
** in full and asks again, and raises "not enough memory" (preallocated:
** no allocation) if the cap still refuses. Shrinking never fails. The
** theatre's thread. */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    stage__lw_t *w = ud;
    size_t old = ptr ? osize : 0; /* with no block, osize is a type tag */
    if (nsize == 0) {
        stage__free(ptr);
        w->mem_used -= old;
        return NULL;
    }
    /* no wrap: a heap and a block are both far below 2^63 bytes */
    size_t used = w->mem_used - old + nsize;
    if (used > w->mem_cap && nsize > old) {
        w->mem_refused = 1;
        return NULL;
    }
    void *p = stage__realloc(ptr, nsize);
    if (p) w->mem_used = used;
    return p;
}

void stage__lw_push_memory_error(lua_State *L, stage__lw_t *w,
                                 const char *who) {
    char msg[STAGE_ID_TEXT_MAX + 200];
    snprintf(msg, sizeof msg,
             "%s would pass the Lua heap cap of theatre %d (%zu bytes, "
             "--memory)",
             who, w->t->index, w->mem_limit);
    stage__future_t tmp = {.status = STAGE_EMEMORY, .message = msg};
    stage__lerror_push(L, &tmp);
}

/* An error outside any protected call: luaL_newstate's panic, logged;
** Lua aborts the process next. */
static int l_panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    LOG_ERROR("unprotected error in call to Lua API (%s)",
              msg ? msg : "error object is not a string");
    return 0;
}

/* warn(): off until "@on", as luaL_newstate has it; a whole warning (its
** pieces joined, cut at the buffer's size) becomes a log line. */
static void l_warn(void *ud, const char *msg, int tocont) {
    stage__lw_t *w = ud;
    if (!w->warn_len && !w->warn_cont && !tocont && msg[0] == '@') {
        if (!strcmp(msg, "@on")) w->warn_on = 1;
        if (!strcmp(msg, "@off")) w->warn_on = 0;
        return;
    }
    w->warn_cont = tocont;
    if (!w->warn_on) return;
    size_t room = sizeof w->warn - 1 - w->warn_len, n = strlen(msg);
    memcpy(w->warn + w->warn_len, msg, n < room ? n : room);
    w->warn_len += n < room ? n : room;
    if (tocont) return;
    w->warn[w->warn_len] = '\0';
    w->warn_len = 0;
    LOG_WARN("lua warning: %s", w->warn);
}

/* The libraries, the stage module and the metatables of world w (its
** light userdata at 1). Protected: running out of memory raises. */
static int open_world(lua_State *L) {
    stage__lw_t *w = lua_touserdata(L, 1);
    luaL_openlibs(L);
    stage__lua_hook_idle(L); /* before any coroutine is made from L */
    wrap_coroutines(L);
    lua_newtable(L);
    w->classes = luaL_ref(L, LUA_REGISTRYINDEX);
    stage__lref_open(L);
    stage__lfuture_open(L);
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, load_stage);
    lua_setfield(L, -2, "stage");
    return stage__lsandbox_open(L);
}

stage__lw_t *stage__lw_open(stage__theatre_t *t, char *err, size_t errlen) {
    stage__lw_t *w = stage__calloc(1, sizeof *w);
    if (w) w->mem_cap = SIZE_MAX; /* until actor code runs */
    lua_State *L = w ? lua_newstate(capped_alloc, w) : NULL;
    if (!L) {
        stage__free(w);
        snprintf(err, errlen, "out of memory creating a Lua state");
        return NULL;
    }
    lua_atpanic(L, l_panic);
    lua_setwarnf(L, l_warn, w);
    w->L = L;
    w->t = t;
    w->node = t->node;
    *(stage__lw_t **)lua_getextraspace(L) = w;
    w->hooks.encode_userdata = stage__lv_encode_ud;
    w->hooks.push_id = stage__lv_push_id;
    w->hooks.ud = w;
    w->hooks.what_userdata = stage__limage_what;
    w->hooks.max_bytes = stage__node_config(w->node)->max_message;
    size_t cap = stage__node_config(w->node)->memory_limit;
    w->mem_limit = cap ? cap : SIZE_MAX;
    lua_pushcfunction(L, open_world);
    lua_pushlightuserdata(L, w);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        snprintf(err, errlen, "cannot set up a Lua state: %s",
                 lua_tostring(L, -1));
        lua_close(L);
        stage__free(w);
        return NULL;
    }
    stage__theatre_set_kind_data(t, &stage__lua_kind, w);
    return w;
}

void stage__lw_close(stage__lw_t *w) {
    if (!w) return;
    stage__theatre_set_kind_data(w->t, &stage__lua_kind, NULL);
    lua_close(w->L);
    stage_pack_free(&w->scratch);
    stage__free(w->pool);
    stage__free(w->pool_refs);
    stage__free(w->class_refs);
    stage__free(w->mnames);
    stage__free(w);
}

stage__actor_t *stage__lw_running(lua_State *L) {
    stage__actor_t *a = stage__lw(L)->t->running;
    if (!a)
        luaL_error(L, "this needs a running actor (call it from a "
                      "handler or main, not the script's top level)");
    return a;
}
