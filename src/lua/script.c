/*
** lua/script.c: running a script on a node — loading it in every theatre,
** starting main(args), and telling the user why a program ended badly.
**
** The script's top level runs once per theatre, on the calling thread,
** before the node starts (so a syntax error is reported before anything
** runs). main(args) runs as the birth of a pinned actor of the internal type
** "stage.main" on theatre 0, so it can await like any actor.
*/
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAIN_TYPE "stage.main"

static stage__lnode_t *lnode(stage_node_t *node) {
    return stage__node_kind_data(node, &stage__lua_kind);
}

static void theatre_close(stage__theatre_t *t, void *tdata) {
    (void)t;
    stage__lw_close(tdata);
}

static int quiescent(stage_node_t *node, void *ndata, int status) {
    (void)node;
    stage__lnode_t *ln = ndata;
    if (ln && ln->has_main && !atomic_load(&ln->main_done)) {
        char msg[1024];
        snprintf(msg, sizeof msg,
                 "%s: main never finished: it waits for something "
                 "that can no longer happen (every actor is idle and no "
                 "timer is pending)",
                 ln->script);
        stage__log_text(STAGE_LOG_ERROR, msg);
        return 1;
    }
    return status;
}

static void node_free(stage_node_t *node, void *ndata) {
    (void)node;
    stage__lnode_t *ln = ndata;
    if (!ln) return;
    for (int i = 0; i < ln->argc; i++)
        stage__free(ln->argv[i]);
    stage__free(ln->argv);
    stage__free(ln->script);
    stage__free(ln->text);
    stage__lcode_free_all(ln);
    stage__free(ln);
}

const stage__kind_t stage__lua_kind = {
    .actor_size = sizeof(stage__lactor_t),
    .deliver = stage__lactor_deliver,
    .resume = stage__lactor_resume,
    .destroy = stage__lactor_destroy,
    .theatre_close = theatre_close,
    .preempt = stage__lua_preempt,
    .quiescent = quiescent,
    .node_free = node_free,
    .state_export = stage__limage_export, /* limage.c */
    .state_import = stage__limage_import,
    .departing = stage__limage_departing,
    .arrived = stage__limage_arrived,
    .depart = stage__limage_depart,
    .load_code = stage__lcode_load,     /* lcode.c */
    .update_code = stage__lupdate_code, /* lupdate.c */
};

/* The text of the error value on top of L (popped). */
static void take_error(lua_State *L, char *err, size_t errlen) {
    snprintf(err, errlen, "%s", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
}

/* 0 if path names a readable file, else STAGE_ESCRIPT with "cannot open
** script 'path': reason" in err (the reason lowercase, as all our
** messages). */
static int check_readable(const char *path, char *err, size_t errlen) {
    struct stat st;
    FILE *probe = fopen(path, "r");
    int e = !probe                                                  ? errno
            : fstat(fileno(probe), &st) == 0 && S_ISDIR(st.st_mode) ? EISDIR
                                                                    : 0;
    if (probe) fclose(probe);
    if (!e) return 0;
    int n = snprintf(err, errlen, "cannot open script '%s': ", path);
    if (n >= 0 && (size_t)n < errlen) {
        snprintf(err + n, errlen - (size_t)n, "%s", strerror(e));
        err[n] = (char)tolower((unsigned char)err[n]);
    }
    return STAGE_ESCRIPT;
}

/* Compile the script at path into a function on L's stack, or raise: text
** only, as all actor code (lsandbox.c). */
static void load_text(lua_State *L, const char *path) {
    if (luaL_loadfilex(L, path, "t") == LUA_OK) return;
    const char *msg = lua_tostring(L, -1);
    if (msg && strstr(msg, "attempt to load a binary chunk"))
        luaL_error(L,
                   "%s: a compiled (binary) chunk: scripts run from their "
                   "source text only (the sandbox loads no bytecode)",
                   path);
    lua_error(L);
}

/* Compile the script at path (light userdata 1) without running it.
** Called protected, as loading allocates outside any protection. */
static int load_file(lua_State *L) {
    load_text(L, lua_touserdata(L, 1));
    return 0;
}

int stage_script_check(const char *path, char *err, size_t errlen) {
    int rc = check_readable(path, err, errlen);
    if (rc) return rc;
    lua_State *L = lua_newstate(stage__lua_alloc, NULL);
    if (!L) {
        snprintf(err, errlen, "out of memory");
        return STAGE_ENOMEM;
    }
    lua_pushcfunction(L, load_file);
    lua_pushlightuserdata(L, (void *)path);
    rc = lua_pcall(L, 1, 0, 0) == LUA_OK ? 0 : STAGE_ESCRIPT;
    if (rc) take_error(L, err, errlen);
    lua_close(L);
    return rc;
}

/* Load and run the script at path (light userdata 1). Called protected:
** loading itself allocates outside any protection. */
static int run_file(lua_State *L) {
    load_text(L, lua_touserdata(L, 1));
    lua_call(L, 0, 0);
    return 0;
}

/* Read the whole file at path into ln->text: 0, or STAGE_ESCRIPT. */
static int read_text(stage__lnode_t *ln, const char *path, char *err,
                     size_t errlen) {
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (ln->text = stage__malloc((size_t)n + 1)) &&
        fread(ln->text, 1, (size_t)n, f) == (size_t)n) {
        ln->text[n] = '\0';
        ln->text_len = (size_t)n;
        fclose(f);
        return 0;
    }
    if (f) fclose(f);
    bool nomem = n >= 0 && !ln->text;
    stage__free(ln->text);
    ln->text = NULL;
    snprintf(err, errlen, "%s script '%s'",
             nomem ? "out of memory reading" : "cannot read", path);
    return nomem ? STAGE_ENOMEM : STAGE_ESCRIPT;
}

/* Run the script at path (NULL: none) in world w. */
static int run_in(stage__lw_t *w, const char *path, char *err, size_t errlen) {
    if (!path) return 0;
    lua_pushcfunction(w->L, run_file);
    lua_pushlightuserdata(w->L, (void *)path);
    w->mem_refused = 0;
    int prev = stage__lw_enforce(w);
    int st = lua_pcall(w->L, 1, 0, 0);
    stage__lw_unenforce(w, prev);
    if (st == LUA_ERRMEM && w->mem_refused) {
        lua_pop(w->L, 1); /* a plain message, as other script errors */
        lua_pushfstring(w->L,
                        "%s: the script's top level would pass the Lua "
                        "heap cap of theatre %d (%I bytes, --memory)",
                        path, w->t->index, (LUAI_UACINT)w->mem_limit);
        st = LUA_ERRRUN;
    }
    if (st != LUA_OK) {
        take_error(w->L, err, errlen);
        return STAGE_ESCRIPT;
    }
    return 0;
}

int stage_node_load_script(stage_node_t *node, const char *path, char *err,
                           size_t errlen) {
    if (lnode(node)) {
        snprintf(err, errlen, "a script is loaded already");
        return STAGE_EBUSY;
    }
    stage__lnode_t *ln = stage__calloc(1, sizeof *ln);
    if (!ln || (path && !(ln->script = stage__strdup(path)))) {
        stage__free(ln);
        snprintf(err, errlen, "out of memory");
        return STAGE_ENOMEM;
    }
    pthread_mutex_init(&ln->codes_lock, NULL);
    int slot = stage__node_kind_add(node, &stage__lua_kind, ln);
    if (slot < 0) {
        node_free(node, ln);
        snprintf(err, errlen, "cannot add the Lua kind of actor: %s",
                 stage_strerror(slot));
        return slot;
    }
    int rc = path ? check_readable(path, err, errlen) : 0;
    /* the text its types have in the sources store: the script's bytes,
    ** read once, before its top level runs */
    if (!rc && path) rc = read_text(ln, path, err, errlen);
    if (rc) return rc;
    for (int i = 0; i < stage_node_theatres(node); i++) {
        stage__lw_t *w =
            stage__lw_open(stage__node_theatre(node, i), err, errlen);
        if (!w) return STAGE_ENOMEM;
        if ((rc = run_in(w, path, err, errlen))) return rc;
    }
    return 0;
}

/* main_done(ok, err): main returned or raised err = {value, traceback}. */
static int main_done(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    stage__lnode_t *ln = lnode(w->node);
    atomic_store(&ln->main_done, 1);
    if (lua_toboolean(L, 1)) return 0;
    /* the program ends: its last words may pass the heap cap */
    stage__lw_unenforce(w, 0);
    if (!lua_istable(L, 2)) { /* a memory error skips xpcall's handler */
        lua_createtable(L, 2, 0);
        if (w->mem_refused)
            stage__lw_push_memory_error(L, w, "main");
        else
            lua_pushvalue(L, 2);
        lua_rawseti(L, -2, 1);
        lua_replace(L, 2);
    }
    lua_geti(L, 2, 1);
    int typed = stage__lerror_is(L, -1);
    if (typed && lua_getfield(L, -1, "where") == LUA_TSTRING) {
        luaL_tolstring(L, -2, NULL); /* where is "file:line: " */
        lua_concat(L, 2);
    } else {
        if (typed) lua_pop(L, 1); /* no where */
        luaL_tolstring(L, -1, NULL);
    }
    lua_geti(L, 2, 2);
    lua_pushfstring(L, "%s\n%s", lua_tostring(L, -2),
                    luaL_optstring(L, -1, ""));
    stage__log_text(STAGE_LOG_ERROR, lua_tostring(L, -1));
    stage_node_stop(w->node, 1);
    return 0;
}

/* traceback(level): the running thread's traceback from level on (the
** sandbox has no debug library for main_runner to take it from). */
static int l_traceback(lua_State *L) {
    luaL_traceback(L, L, NULL, (int)luaL_checkinteger(L, 1));
    return 1;
}

static const char main_runner[] =
    "local main_done, traceback = ...\n"
    "local function handler(e) return {e, traceback(2)} end\n"
    "return function(self, args)\n"
    "  main_done(xpcall(main, handler, args))\n"
    "end\n";

/* Define the main class, whose birth runs main(args); pushes false if
** the script has no main. Called protected: it allocates. */
static int define_main_p(lua_State *L) {
    if (lua_getglobal(L, "main") != LUA_TFUNCTION) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushcfunction(L, stage__lactor_define);
    lua_pushliteral(L, MAIN_TYPE);
    lua_createtable(L, 0, 2);
    lua_pushliteral(L, "pinned");
    lua_setfield(L, -2, "kind");
    /* main's failure ends the program (main_done): no restart */
    lua_pushliteral(L, "keep");
    lua_setfield(L, -2, "on_error");
    lua_call(L, 2, 1);
    if (luaL_loadbuffer(L, main_runner, sizeof main_runner - 1, "=main"))
        return lua_error(L);
    lua_pushcfunction(L, main_done);
    lua_pushcfunction(L, l_traceback);
    lua_call(L, 2, 1);
    lua_setfield(L, -2, "birth");
    lua_pushboolean(L, 1);
    return 1;
}

/* Define the main class in theatre 0: birth runs main(args). */
static int define_main(stage__lw_t *w, char *err, size_t errlen) {
    lua_State *L = w->L;
    lua_pushcfunction(L, define_main_p);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        take_error(L, err, errlen);
        return STAGE_ESCRIPT;
    }
    int found = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!found) {
        snprintf(err, errlen, "%s: no function main(args) to run",
                 lnode(w->node)->script);
        return STAGE_ESCRIPT;
    }
    return 0;
}

int stage_node_run_main(stage_node_t *node, int argc, const char *const *argv) {
    stage__lnode_t *ln = lnode(node);
    if (!ln || !ln->script || ln->has_main || argc < 0) return STAGE_EINVAL;
    stage__theatre_t *t0 = stage__node_theatre(node, 0);
    char err[512];
    int rc = define_main(stage__lw_of(t0), err, sizeof err);
    if (rc) {
        stage__log_text(STAGE_LOG_ERROR, err);
        return rc;
    }
    /* main is this node's own: its code does not go to the sources store */
    stage__type_t *mt = stage__type_find(node, MAIN_TYPE);
    mt->source = NULL;
    atomic_store_explicit(&mt->version, 0, memory_order_relaxed);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_array(&p, (uint32_t)argc);
    for (int i = 0; i < argc; i++)
        stage_pack_cstr(&p, argv[i]);
    uint64_t serial;
    rc = stage_pack_error(&p);
    if (!rc)
        rc = stage__spawn(node, stage__type_find(node, MAIN_TYPE), 0, p.data,
                          p.len, &serial);
    stage_pack_free(&p);
    if (rc) return rc;
    ln->has_main = 1;
    return 0;
}
