/*
** lua/lcode.c: code on demand — loading a script's text that came from the
** sources store into a running node (the Lua kind's load_code hook).
**
** The unit of code is a script's text: a script's types may share its
** top-level locals and helpers, so a type alone cannot be cut out of it.
** The text runs in every theatre, as a node's own script does at start,
** each on its own thread (an ENV_CALL posted to each theatre, target 0):
** under the same sandbox, with the heap cap, and with a time limit of the
** handler budget (a top level that never ends fails the load, not the
** theatre). It gets a global environment of its own, which reads through
** to the theatre's globals: its global functions (main among them: it is
** never called) do not replace the node's own.
**
** While it runs (w->live set), stage.actor records each type in the load
** instead of registering it: the types are registered once every theatre
** has its classes, by the theatre that finishes last, so no spawn can
** find a type that a theatre lacks. That theatre calls done.
**
** States of a load: RUNNING (theatres left) -> done [last theatre]. The
** text is kept (lnode's codes) once a type points to it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

#define LIVE_TYPES_MAX 64 /* types one loaded script may define */

typedef struct def {
    char name[STAGE_TYPE_MAX];
    char super[STAGE_TYPE_MAX];
    stage_kind_t kind;
    stage_on_error_t on_error;
    int max_restarts;
    double restart_window;
} def_t;

struct stage__lload {
    stage__lcode_t *code; /* the text; kept by lnode once it is used */
    stage_node_t *node;
    stage__code_done_fn done;
    void *arg;
    atomic_int left; /* theatres that have not run it yet */
    pthread_mutex_t lock;
    int status; /* under lock: the first failure */
    char why[512];
    /* theatre 0's types, in the order its top level defined them; every
    ** other theatre counts its own and must define the same */
    def_t defs[LIVE_TYPES_MAX];
    int ndefs;
    int *counts; /* per theatre */
};

/* Note a failure of the load (the first one wins). Any theatre. */
static void fail(stage__lload_t *ld, int status, const char *why) {
    pthread_mutex_lock(&ld->lock);
    if (!ld->status) {
        ld->status = status;
        snprintf(ld->why, sizeof ld->why, "%s", why);
    }
    pthread_mutex_unlock(&ld->lock);
}

int stage__lcode_define(lua_State *L, const char *name, stage_kind_t kind,
                        const char *super, stage_on_error_t on_error,
                        int max_restarts, double restart_window) {
    stage__lw_t *w = stage__lw(L);
    stage__lload_t *ld = w->live;
    int i = w->t->index, k = ld->counts[i];
    if (k >= LIVE_TYPES_MAX)
        return luaL_error(L,
                          "code loaded from the sources store defines more "
                          "than %d actor types",
                          LIVE_TYPES_MAX);
    ld->counts[i]++;
    if (i != 0) return 0; /* theatre 0's list is the one registered */
    def_t *d = &ld->defs[k];
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->super, sizeof d->super, "%s", super ? super : "");
    d->kind = kind;
    d->on_error = on_error;
    d->max_restarts = max_restarts;
    d->restart_window = restart_window;
    ld->ndefs = k + 1;
    return 0;
}

/* A count hook for a loaded top level: past the budget, raise. */
static void deadline_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    stage__lw_t *w = stage__lw(L);
    if (stage__now() < w->live_deadline) return;
    char msg[160];
    snprintf(msg, sizeof msg,
             "it ran past the handler budget of %g s (an endless loop?)",
             stage__node_config(w->node)->budget_secs);
    lua_pushstring(L, msg);
    lua_error(L);
}

/* Run the text (light userdata 1: the load) in a global environment of
** its own. Protected. */
static int run_text(lua_State *L) {
    stage__lload_t *ld = lua_touserdata(L, 1);
    const char *src = ld->code->text;
    size_t len = ld->code->len;
    /* a first line "#!..." is skipped, as lua and loadfile do */
    if (len && src[0] == '#') {
        while (len && *src != '\n')
            src++, len--;
    }
    if (luaL_loadbufferx(L, src, len, ld->code->chunk, "t") != LUA_OK)
        return lua_error(L);
    lua_createtable(L, 0, 8); /* its globals; reads go on to the theatre's */
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setupvalue(L, -2, 1); /* _ENV, a main chunk's only upvalue */
    lua_call(L, 0, 0);
    return 0;
}

void stage__lcode_guard(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    w->live_deadline = stage__now() + stage__node_config(w->node)->budget_secs;
    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, 10000);
}

void stage__lcode_unguard(lua_State *L) {
    stage__lua_hook_idle(L);
}

static void finish(stage__lload_t *ld);

/* Run the load in theatre t (t's thread; an ENV_CALL with the load). */
static void load_in(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    stage__lload_t *ld = e->arg;
    stage__env_free(e);
    stage__lw_t *w = stage__lw_of(t);
    if (!w) {
        fail(ld, STAGE_EINVAL, "a theatre of this node runs no Lua");
    } else {
        lua_State *L = w->L;
        int top = lua_gettop(L);
        w->live = ld;
        w->live_clash = 0;
        stage__lcode_guard(L);
        lua_pushcfunction(L, run_text);
        lua_pushlightuserdata(L, ld);
        w->mem_refused = 0;
        int prev = stage__lw_enforce(w);
        int st = lua_pcall(L, 1, 0, 0);
        stage__lw_unenforce(w, prev);
        stage__lcode_unguard(L);
        w->live = NULL;
        if (st != LUA_OK) {
            char why[400];
            if (st == LUA_ERRMEM && w->mem_refused)
                snprintf(why, sizeof why,
                         "its top level would pass the Lua heap cap of "
                         "theatre %d (%zu bytes, --memory)",
                         t->index, w->mem_limit);
            else
                snprintf(why, sizeof why, "%s", luaL_tolstring(L, -1, NULL));
            fail(ld, w->live_clash ? STAGE_ECLASH : STAGE_ESCRIPT, why);
        }
        lua_settop(L, top);
    }
    /* acq_rel: the last theatre sees every other's defs and counts */
    if (atomic_fetch_sub_explicit(&ld->left, 1, memory_order_acq_rel) == 1)
        finish(ld);
}

/* The ENV_CALL of a load was never run (the node stops). */
static void load_dropped(stage__theatre_t *t, stage__actor_t *a,
                         stage__env_t *e) {
    (void)t;
    (void)a;
    stage__lload_t *ld = e->arg;
    stage__env_free(e);
    fail(ld, STAGE_ESTOPPED, "the node stopped");
    if (atomic_fetch_sub_explicit(&ld->left, 1, memory_order_acq_rel) == 1)
        finish(ld);
}

/* stage__type_add_live's init: the policy and source of a loaded type. */
static void init_type(stage__type_t *ty, void *arg) {
    void **p = arg;
    const def_t *d = p[0];
    const stage__lcode_t *code = p[1];
    ty->on_error = d->on_error;
    ty->max_restarts = d->max_restarts;
    ty->restart_window = d->restart_window;
    ty->source = code->text;
    ty->source_len = code->len;
    atomic_store_explicit(&ty->version,
                          stage__code_version(code->text, code->len),
                          memory_order_relaxed);
}

/* Register the load's types: 0, or fail the load. */
static int register_types(stage__lload_t *ld) {
    int nt = stage_node_theatres(ld->node);
    char why[400];
    for (int i = 1; i < nt; i++)
        if (ld->counts[i] != ld->ndefs) {
            snprintf(why, sizeof why,
                     "its top level defined %d actor types in theatre 0 and "
                     "%d in theatre %d: it must define the same ones in "
                     "every theatre",
                     ld->ndefs, ld->counts[i], i);
            fail(ld, STAGE_ESCRIPT, why);
            return -1;
        }
    for (int i = 0; i < ld->ndefs; i++) {
        def_t *d = &ld->defs[i];
        void *arg[2] = {d, ld->code};
        stage__type_t *ty;
        int rc = stage__type_add_live(ld->node, d->name, d->kind,
                                      d->super[0] ? d->super : NULL,
                                      &stage__lua_kind, init_type, arg, &ty);
        /* the same code, loaded by another load just now: compared by
        ** version (its text may be switched by an update on the loop's
        ** thread meanwhile; the version is read atomically) */
        if (rc == STAGE_EEXISTS &&
            atomic_load_explicit(&ty->version, memory_order_relaxed) ==
                stage__code_version(ld->code->text, ld->code->len))
            continue;
        if (rc == STAGE_EEXISTS) {
            snprintf(why, sizeof why,
                     "it defines actor type '%s', which this node has "
                     "already from other code",
                     d->name);
            fail(ld, STAGE_ECLASH, why);
            return -1;
        }
        if (rc) {
            snprintf(why, sizeof why, "cannot add actor type '%s': %s", d->name,
                     rc == STAGE_ENOMEM ? "too many types, or out of memory"
                                        : stage_strerror(rc));
            fail(ld, rc, why);
            return -1;
        }
        ld->code->used = 1;
    }
    return 0;
}

/* The last theatre ran the load: register its types, tell the caller. */
static void finish(stage__lload_t *ld) {
    if (!ld->status) register_types(ld);
    stage__lnode_t *ln = stage__node_kind_data(ld->node, &stage__lua_kind);
    stage__lcode_t *code = ld->code;
    if (code->used) { /* types point to its text: kept till node_free */
        pthread_mutex_lock(&ln->codes_lock);
        code->next = ln->codes;
        ln->codes = code;
        pthread_mutex_unlock(&ln->codes_lock);
    } else {
        stage__free(code);
    }
    ld->done(ld->node, ld->arg, ld->status, ld->status ? ld->why : NULL);
    pthread_mutex_destroy(&ld->lock);
    stage__free(ld->counts);
    stage__free(ld);
}

void stage__lcode_free_all(stage__lnode_t *ln) {
    while (ln->codes) {
        stage__lcode_t *c = ln->codes;
        ln->codes = c->next;
        stage__free(c);
    }
    pthread_mutex_destroy(&ln->codes_lock);
}

int stage__lcode_load(stage_node_t *node, void *ndata, const char *what,
                      const char *src, size_t len, stage__code_done_fn done,
                      void *arg) {
    (void)ndata;
    int nt = stage_node_theatres(node);
    stage__lload_t *ld = stage__calloc(1, sizeof *ld);
    stage__lcode_t *code = ld ? stage__malloc(sizeof *code + len + 1) : NULL;
    int *counts = code ? stage__calloc((size_t)nt, sizeof *counts) : NULL;
    if (!counts) {
        stage__free(code);
        stage__free(ld);
        return STAGE_ENOMEM;
    }
    memset(code, 0, sizeof *code);
    memcpy(code->text, src, len);
    code->text[len] = '\0';
    code->len = len;
    snprintf(code->chunk, sizeof code->chunk, "=sources store '%s'", what);
    ld->code = code;
    ld->counts = counts;
    ld->node = node;
    ld->done = done;
    ld->arg = arg;
    pthread_mutex_init(&ld->lock, NULL);
    atomic_init(&ld->left, nt);
    for (int i = 0; i < nt; i++) {
        stage__env_t *e = stage__env_call(load_in, load_dropped, ld);
        if (!e) { /* this theatre's part fails; the others go on */
            fail(ld, STAGE_ENOMEM, "out of memory");
            if (atomic_fetch_sub_explicit(&ld->left, 1, memory_order_acq_rel) ==
                1)
                finish(ld);
            continue;
        }
        stage__theatre_post(stage__node_theatre(node, i), e);
    }
    return 0;
}
