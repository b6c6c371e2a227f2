/*
** lua/limage.c: how Lua actors travel in an image (core/image.h) — the
** Lua kind's hooks.
**
** The state is the actor's self table, encoded by lvalue.c's state mode:
** plain values, nested tables, references (their ids: they decode as
** references of the theatre it arrives in, so sends through them work
** there), shared subtables and cycles (kept: each table is written once,
** then referred to by number). What cannot travel fails the export naming
** the field ("self.handlers[2] is a function: it cannot travel"): a
** function, a coroutine, a future, a userdata other than a reference, a
** reference whose lookup has not finished, a table with a metatable
** (the self table's own, its class, is set again on arrival). Nothing is
** changed on failure: the actor stays as it was.
** Also refused (STAGE_EBUSY, for the caller to retry): an actor with
** next/catch continuations that have not run — they are closures of this
** theatre's Lua state.
** departing and arrived are methods of the class (or its supertypes),
** called with self like death: a turn that cannot await.
** Theatre thread only.
*/
#include <stdio.h>
#include <string.h>

#include "lstage.h"

/* the state field its own methods travel in (stage.update_method) */
#define OWN_METHODS "__stage_methods"
/* ... and the version of its type's code (core/kind.h) */
#define CODE_VERSION "__stage_version"

/* v as 16 hex digits in buf[24]. */
static const char *version_text(uint64_t v, char *buf) {
    snprintf(buf, 24, "%016llx", (unsigned long long)v);
    return buf;
}

/* The text of a's id into buf. */
static void id_text(stage__theatre_t *t, stage__actor_t *a, char *buf,
                    size_t len) {
    stage_id_t id;
    stage__make_id(t->node, a->serial, a->type, &id);
    stage_id_format(&id, buf, len);
}

const char *stage__limage_what(lua_State *L, int idx, void *ud) {
    stage__lw_t *w = ud;
    /* a future travels in a message as its value once resolved; in a
    ** state it stays a future, which cannot travel */
    if (stage__lfuture_test(L, idx)) return "a future";
    stage__lref_t *r = stage__lref_test(L, idx);
    if (r) stage__target_settle(w->node, r);
    if (r && r->pending) return "a reference whose lookup has not finished";
    return r ? NULL : "a userdata";
}

int stage__limage_export(stage__theatre_t *t, stage__actor_t *a,
                         stage_pack_t *out, char *err, size_t errlen) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    stage__lactor_t *la = stage__lactor(a);
    char id[STAGE_ID_TEXT_MAX], why[400];
    if (!w || !la->state_ref) { /* its birth is still queued */
        stage_pack_nil(out);
        return 0;
    }
    id_text(t, a, id, sizeof id);
    if (la->conts) {
        snprintf(err, errlen,
                 "actor '%s' has %u continuation%s (next or catch) that "
                 "ha%s not run: it can move once they have",
                 id, (unsigned)la->conts, la->conts == 1 ? "" : "s",
                 la->conts == 1 ? "s" : "ve");
        return STAGE_EBUSY;
    }
    lua_State *L = w->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, la->state_ref);
    if (la->sources_ref) { /* its own methods travel as their sources */
        lua_rawgeti(L, LUA_REGISTRYINDEX, la->sources_ref);
        lua_setfield(L, -2, OWN_METHODS);
    }
    uint64_t v = atomic_load_explicit(&a->type->version, memory_order_relaxed);
    if (v) { /* the version of its code, never the code */
        lua_pushfstring(L, "%s", version_text(v, why));
        lua_setfield(L, -2, CODE_VERSION);
    }
    int rc = stage__lv_encode_state(L, -1, out, &w->hooks, why, sizeof why);
    if (la->sources_ref) {
        lua_pushnil(L);
        lua_setfield(L, -2, OWN_METHODS);
    }
    if (v) {
        lua_pushnil(L);
        lua_setfield(L, -2, CODE_VERSION);
    }
    lua_pop(L, 1);
    if (rc) snprintf(err, errlen, "cannot move actor '%s': %s", id, why);
    return rc;
}

/* Under lua_pcall: decode the state (light userdata at 1) and push it. */
typedef struct pstate {
    const char *data;
    size_t len;
    const stage__lv_hooks_t *h;
    char *err;
    size_t errlen;
    int rc;
} pstate_t;

static int pdecode_state(lua_State *L) {
    pstate_t *p = lua_touserdata(L, 1);
    lua_pop(L, 1);
    p->rc = stage__lv_decode_state(L, p->data, p->len, p->h, p->err, p->errlen);
    return p->rc ? 0 : 1;
}

/* Install the methods of its own at 1 (name -> source) in the actor at
** 2 (light userdata). Protected: compiling raises. */
static int install_p(lua_State *L) {
    stage__lupdate_install(L, lua_touserdata(L, 2), 1);
    return 0;
}

int stage__limage_import(stage__theatre_t *t, stage__actor_t *a,
                         const char *data, size_t len, char *err,
                         size_t errlen) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    if (!w) {
        snprintf(err, errlen, "theatre %d has no Lua state", t->index);
        return STAGE_ETYPE_NOT_FOUND;
    }
    lua_State *L = w->L;
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 4) || stage__lactor_push_class(w, a->type)) {
        snprintf(err, errlen,
                 "cannot take an actor of type '%s' in: the type is not "
                 "defined in theatre %d",
                 a->type->name, t->index);
        return STAGE_ETYPE_NOT_FOUND;
    }
    char why[256];
    pstate_t p = {data, len, &w->hooks, why, sizeof why, 0};
    lua_pushcfunction(L, pdecode_state);
    lua_pushlightuserdata(L, &p);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_settop(L, top);
        snprintf(err, errlen, "out of memory restoring a '%s' actor's state",
                 a->type->name);
        return STAGE_ENOMEM;
    }
    if (p.rc) {
        lua_settop(L, top);
        snprintf(err, errlen, "malformed actor image: the state of a '%s': %s",
                 a->type->name, why);
        return STAGE_EDECODE;
    }
    lua_insert(L, -2); /* state, class */
    lua_setmetatable(L, -2);
    if (lua_istable(L, -1) &&
        lua_getfield(L, -1, CODE_VERSION) == LUA_TSTRING) { /* its code's */
        uint64_t v =
            atomic_load_explicit(&a->type->version, memory_order_relaxed);
        char here[24];
        if (v && strcmp(lua_tostring(L, -1), version_text(v, here))) {
            snprintf(err, errlen,
                     "cannot take an actor of type '%s' in: it runs version "
                     "%s of the type's code, and this node version %s (the "
                     "type has other code here, or one of the two nodes "
                     "did not get an update): it stays where it was",
                     a->type->name, lua_tostring(L, -1), here);
            lua_settop(L, top);
            return STAGE_ECLASH;
        }
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_setfield(L, -2, CODE_VERSION);
    } else if (lua_istable(L, -1)) {
        lua_pop(L, 1);
    }
    if (lua_istable(L, -1) &&
        lua_getfield(L, -1, OWN_METHODS) == LUA_TTABLE) { /* update_method */
        lua_pushnil(L);
        lua_setfield(L, -3, OWN_METHODS);
        lua_pushcfunction(L, install_p);
        lua_insert(L, -2);
        lua_pushlightuserdata(L, a);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            snprintf(err, errlen,
                     "cannot take a '%s' actor in: its own methods: %s",
                     a->type->name, luaL_tolstring(L, -1, NULL));
            stage__lupdate_drop(w, a);
            lua_settop(L, top);
            return STAGE_EDECODE;
        }
    } else {
        lua_pop(L, 1);
    }
    stage__lactor(a)->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, top);
    return 0;
}

int stage__limage_departing(stage__theatre_t *t, stage__actor_t *a, char *err,
                            size_t errlen) {
    char why[400], id[STAGE_ID_TEXT_MAX];
    int rc = stage__lactor_hook(t, a, "departing", why, sizeof why);
    if (!rc) return 0;
    id_text(t, a, id, sizeof id);
    snprintf(err, errlen, "actor '%s' refused to move: %s", id, why);
    return rc;
}

int stage__limage_arrived(stage__theatre_t *t, stage__actor_t *a, char *err,
                          size_t errlen) {
    return stage__lactor_hook(t, a, "arrived", err, errlen);
}

void stage__limage_depart(stage__theatre_t *t, stage__actor_t *a) {
    stage__lw_t *w = t->kind_data[a->type->slot];
    stage__lactor_t *la = stage__lactor(a);
    if (w && la->state_ref) luaL_unref(w->L, LUA_REGISTRYINDEX, la->state_ref);
    la->state_ref = 0;
    if (w) stage__lupdate_drop(w, a);
}
