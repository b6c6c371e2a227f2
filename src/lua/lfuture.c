/*
** lua/lfuture.c: futures in Lua — await, next, catch, due, done, join — and
** the error objects failures become.
**
** A future userdata holds one reference to a core future (core/future.c).
** Continuations run on the theatre that made the future: await resumes the
** awaiting actor's coroutine; next/catch queue a turn of the actor that asked
** (so it never runs concurrently with that actor's handlers); join and
** delegation complete another future directly.
**
** Await: the actor's turn yields; a CONT_RESUME continuation (and, with a
** timeout, a timer) makes the actor ready again; await's continuation
** function then looks at the future and either returns, raises, or yields
** again (a wake-up can be stale: an earlier await's timer, say).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- userdata ----------------------------------------------------------- */

/* A future userdata has no __gc: a finaliser costs Lua a separate list, a
** protected call each, and an extra cycle before the memory goes, which
** made `ref:method(...)` half as dear again as a one-way send. Instead
** the world's allocator (fut_alloc, over the one the world was made with)
** sees the userdata's block freed, which Lua does once nothing can reach
** it any more (after any finaliser that could have resurrected it ran),
** and drops its reference to the core future then.
**
** The userdata keeps the slot of its hold; a block being freed is a
** future's if the slot its bytes name holds that very block. No other
** block can be at that address while the future's is, so another's bytes,
** whatever they are, never match. The userdata's size is odd (one byte
** past the struct) only so that few other blocks share it and are looked
** at: strings of one length, mostly. */
#define FUT_UDSIZE (sizeof(stage__lfut_t) + 1)

#ifdef STAGE_SANITIZE
#define SPARE_MAX 0 /* see the envelope cache in core/actor.c */
#else
#define SPARE_MAX 4096
#endif

/* The collector only sees the few bytes of the userdata, not the future
** (and envelope) behind it, so under heavy sending it would run far too
** rarely and memory would grow. Every GC_EVERY futures, step it as if
** their real size had been allocated. */
#define GC_EVERY 256
#define GC_STEP_KB (GC_EVERY * (int)(sizeof(stage__future_t) + 64) / 4096)

static void holds_free(stage__lfholds_t *h) {
    stage__free(h->slots);
    h->slots = NULL;
    h->nslots = h->free = 0;
}

/* The block blk is being freed: if a future userdata's, drop its future. */
static void released(stage__lfholds_t *h, void *blk) {
    const stage__lfut_t *u = (const void *)((char *)blk + h->off);
    uint32_t i = u->slot;
    if (i >= h->nslots || h->slots[i].blk != blk) return; /* not a future */
    stage__future_t *f = h->slots[i].u.f;
    h->slots[i].blk = NULL;
    h->slots[i].u.next = h->free;
    h->free = i;
    h->held--;
    stage__future_unref(f);
    if (h->closing && !h->held) holds_free(h);
}

/* Give the spare blocks back to the allocator below. */
static void spares_free(stage__lfholds_t *h) {
    while (h->spare) {
        void *p = h->spare;
        h->spare = *(void **)p;
        h->alloc(h->alloc_ud, p, h->size, 0);
    }
    h->nspare = 0;
}

/* The allocator below, giving the spare blocks back to it first if it
** refuses a block: the heap cap counts them as used. */
static void *below(stage__lw_t *w, void *ptr, size_t osize, size_t nsize) {
    stage__lfholds_t *h = &w->futs;
    void *p = h->alloc(h->alloc_ud, ptr, osize, nsize);
    if (!p && nsize && h->spare) {
        int refused = w->mem_refused; /* not by the cap, if it fits now */
        spares_free(h);
        if ((p = h->alloc(h->alloc_ud, ptr, osize, nsize)))
            w->mem_refused = refused;
    }
    return p;
}

/* A block of a future userdata's size is freed. Out of line: the paths
** of fut_alloc that only test and pass on stay short. */
__attribute__((noinline)) static void *freed(stage__lw_t *w, void *blk) {
    stage__lfholds_t *h = &w->futs;
    released(h, blk);
    if (h->nspare < SPARE_MAX && !h->closing) {
        *(void **)blk = h->spare;
        h->spare = blk;
        h->nspare++;
        return NULL;
    }
    return below(w, blk, h->size, 0);
}

/* The world's allocator once futures are open (ud: the world). Blocks of
** a future userdata's size are kept (SPARE_MAX of them) for the next ones:
** cheaper than the allocator below. */
static void *fut_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    stage__lw_t *w = ud;
    stage__lfholds_t *h = &w->futs;
    if (nsize == h->size && !ptr && h->spare) {
        void *p = h->spare;
        h->spare = *(void **)p;
        h->nspare--;
        return p;
    }
    if (nsize == 0 && osize == h->size && ptr) return freed(w, ptr);
    return below(w, ptr, osize, nsize);
}

/* The allocator while a future userdata is measured: the last new block. */
static void *probe_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    stage__lfholds_t *h = &((stage__lw_t *)ud)->futs;
    void *p = h->alloc(h->alloc_ud, ptr, osize, nsize);
    if (!ptr && nsize) {
        h->probed = p;
        h->size = nsize;
    }
    return p;
}

/* Its finaliser: lua_close has begun, and frees every future userdata
** after the finalisers have run; the last one frees the slots. */
static int holds_gc(lua_State *L) {
    stage__lfholds_t *h = &stage__lw(L)->futs;
    h->closing = true;
    spares_free(h);
    if (!h->held) holds_free(h);
    return 0;
}

/* Set up the holds: measure a future userdata's block (with the collector
** stopped, it is the last block made), then put fut_alloc in place. */
static void holds_open(lua_State *L) {
    stage__lw_t *w = stage__lw(L);
    stage__lfholds_t *h = &w->futs;
    h->alloc = lua_getallocf(L, &h->alloc_ud);
    int running = lua_gc(L, LUA_GCISRUNNING);
    lua_gc(L, LUA_GCSTOP);
    lua_setallocf(L, probe_alloc, w);
    stage__lfut_t *u = lua_newuserdatauv(L, FUT_UDSIZE, 0);
    lua_setallocf(L, fut_alloc, w);
    if (running) lua_gc(L, LUA_GCRESTART);
    *u = (stage__lfut_t){NULL, UINT32_MAX};
    h->off = (size_t)((char *)u - (char *)h->probed);
    if (!h->probed || h->off + sizeof *u > h->size) {
        h->size = 0; /* never a freed block's */
        luaL_error(L, "cannot measure a future's userdata");
    }
    lua_pop(L, 1);
    lua_newuserdatauv(L, 1, 0); /* the finaliser of holds_gc */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, holds_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    luaL_ref(L, LUA_REGISTRYINDEX);
}

/* A free slot, or UINT32_MAX (out of memory). */
static uint32_t hold_slot(stage__lfholds_t *h) {
    if (h->free == h->nslots) {
        uint32_t n = h->nslots ? h->nslots * 2 : 64;
        stage__lfhold_t *s =
            n > h->nslots ? stage__realloc(h->slots, n * sizeof *s) : NULL;
        if (!s) return UINT32_MAX;
        for (uint32_t i = h->nslots; i < n; i++) {
            s[i].blk = NULL;
            s[i].u.next = i + 1;
        }
        h->slots = s;
        h->nslots = n;
    }
    uint32_t i = h->free;
    h->free = h->slots[i].u.next;
    return i;
}

void stage__lfuture_push(lua_State *L, stage__future_t *f) {
    stage__lw_t *w = stage__lw(L);
    stage__lfholds_t *h = &w->futs;
    stage__lfut_t *u = lua_newuserdatauv(L, FUT_UDSIZE, 0);
    uint32_t i = hold_slot(h);
    if (i == UINT32_MAX) {
        *u = (stage__lfut_t){NULL, UINT32_MAX}; /* garbage, no future */
        stage__future_unref(f);
        luaL_error(L, "out of memory");
    }
    h->slots[i].blk = (char *)u - h->off;
    h->slots[i].u.f = f;
    h->held++;
    *u = (stage__lfut_t){f, i};
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->future_mt);
    lua_setmetatable(L, -2);
    if (++w->futures_made % GC_EVERY == 0) lua_gc(L, LUA_GCSTEP, GC_STEP_KB);
}

stage__lfut_t *stage__lfuture_test(lua_State *L, int idx) {
    return stage__lw_testud(L, idx, stage__lw(L)->future_mtp);
}

static stage__future_t *check_future(lua_State *L, int idx) {
    stage__lfut_t *u = stage__lfuture_test(L, idx);
    if (!u) luaL_typeerror(L, idx, "future");
    return u->f;
}

/* ---- errors ------------------------------------------------------------- */

void stage__lerror_push(lua_State *L, const stage__future_t *f) {
    lua_createtable(L, 0, 5);
    lua_pushstring(L, stage_err_name(f->status));
    lua_setfield(L, -2, "type");
    lua_pushstring(L, f->message ? f->message : stage_strerror(f->status));
    lua_setfield(L, -2, "message");
    if (f->actor) {
        lua_pushstring(L, f->actor);
        lua_setfield(L, -2, "actor");
    }
    if (f->traceback) {
        lua_pushstring(L, f->traceback);
        lua_setfield(L, -2, "traceback");
    }
    luaL_setmetatable(L, ERROR_MT);
}

int stage__lerror_is(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, ERROR_MT);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

static int e_tostring(lua_State *L) {
    lua_getfield(L, 1, "type");
    lua_getfield(L, 1, "message");
    lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "Error"),
                    luaL_optstring(L, -1, "?"));
    return 1;
}

static int e_concat(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    luaL_tolstring(L, 2, NULL);
    lua_concat(L, 2);
    return 1;
}

/* Raise a typed error object with message, marked where it was raised. */
static int raise_error(lua_State *L, int status, const char *message) {
    stage__future_t tmp = {.status = status, .message = (char *)message};
    stage__lerror_push(L, &tmp);
    luaL_where(L, 1);
    lua_setfield(L, -2, "where");
    return lua_error(L);
}

int stage__lerror_raise(lua_State *L, int status, const char *message) {
    return raise_error(L, status, message);
}

int stage__lfuture_result(lua_State *L, stage__future_t *f) {
    f->observed = true;
    if (f->status == 0) {
        char err[256];
        if (stage__lv_decode_value(L, f->data, f->len, &stage__lw(L)->hooks,
                                   err, sizeof err))
            return luaL_error(L, "cannot decode a reply: %s", err);
        return 1;
    }
    stage__lerror_push(L, f);
    luaL_where(L, 1);
    lua_setfield(L, -2, "where");
    return lua_error(L);
}

/* ---- completing a future from Lua values -------------------------------- */

static void forward_cont(stage__theatre_t *t, stage__future_t *src, void *arg) {
    stage__future_t *dst = arg;
    if (t) stage__future_forward(dst, src);
    stage__future_unref(dst);
}

void stage__lfuture_complete(lua_State *L, int idx, stage__future_t *fut,
                             const stage_id_t *self) {
    if (lua_isnil(L, idx)) { /* most handlers return nothing */
        stage__future_resolve(fut, "\xc0", 1);
        return;
    }
    stage__lw_t *w = stage__lw(L);
    idx = lua_absindex(L, idx);
    stage__lfut_t *inner = stage__lfuture_test(L, idx);
    if (inner) { /* delegate: fut follows inner (first-class continuation) */
        if (stage__future_on(w->t, inner->f, CONT_CALL, 0, forward_cont, fut))
            stage__future_reject(fut, STAGE_ENOMEM,
                                 "out of memory delegating the reply", NULL,
                                 NULL);
        else
            stage__future_ref(fut); /* forward_cont's */
        return;
    }
    char err[256];
    stage_pack_t *p = &w->scratch;
    stage_pack_reset(p);
    int rc = stage__lv_encode_value(L, idx, p, &w->hooks, err, sizeof err);
    if (rc == STAGE_ETOOBIG) {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(self, id, sizeof id);
        stage__future_too_large(fut, id, 0);
        return;
    }
    if (rc) {
        char id[STAGE_ID_TEXT_MAX], msg[400];
        stage_id_format(self, id, sizeof id);
        snprintf(msg, sizeof msg, "cannot send the reply: %s", err);
        stage__future_reject(fut, STAGE_EENCODE, msg, id, NULL);
        return;
    }
    stage__future_resolve(fut, p->data, p->len);
}

void stage__lfuture_fail(lua_State *L, int idx, stage__future_t *fut,
                         const stage_id_t *self, const char *tb) {
    char id[STAGE_ID_TEXT_MAX];
    stage_id_format(self, id, sizeof id);
    idx = lua_absindex(L, idx);
    int status = STAGE_EHANDLER;
    if (stage__lerror_is(L, idx)) { /* a failure passing through */
        lua_getfield(L, idx, "type");
        status = stage_err_from_name(luaL_optstring(L, -1, "HandlerError"));
        if (status == STAGE_EINVAL) status = STAGE_EHANDLER;
        lua_pop(L, 1);
        if (lua_getfield(L, idx, "actor") == LUA_TSTRING) /* where it began */
            snprintf(id, sizeof id, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_getfield(L, idx, "message");
    } else {
        luaL_tolstring(L, idx, NULL);
    }
    const char *msg = lua_tostring(L, -1);
    if (fut)
        stage__future_reject(fut, status, msg ? msg : "?", id, tb);
    else
        LOG_WARN("actor %s: %s: %s\n%s", id, stage_err_name(status),
                 msg ? msg : "?", tb ? tb : "");
    lua_pop(L, 1);
}

/* ---- await -------------------------------------------------------------- */

typedef struct waitst {
    stage__future_t *f;
    stage__timer_t *tm;
    bool timed_out;
} waitst_t;

static void await_timeout(stage__theatre_t *t, stage__timer_t *tm) {
    stage__actor_t *a = stage__actor_find(t, tm->actor);
    waitst_t *ws = a ? stage__lactor(a)->wait : NULL;
    if (!ws || ws->tm != tm) return;
    ws->timed_out = true;
    stage__actor_ready(t, a);
}

static void wait_end(lua_State *L, stage__actor_t *a) {
    waitst_t *ws = stage__lactor(a)->wait;
    if (!ws) return;
    if (ws->tm) {
        stage__timer_cancel(stage__lw(L)->t, ws->tm);
        stage__timer_unref(ws->tm);
    }
    stage__free(ws);
    stage__lactor(a)->wait = NULL;
}

void stage__lwait_free(stage__actor_t *a) {
    waitst_t *ws = stage__lactor(a)->wait;
    if (!ws) return;
    if (ws->tm) stage__timer_unref(ws->tm);
    stage__free(ws);
    stage__lactor(a)->wait = NULL;
}

static int await_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    stage__future_t *f = check_future(L, 1);
    stage__actor_t *a = stage__lw(L)->t->running;
    waitst_t *ws = stage__lactor(a)->wait;
    if (stage__future_done(f)) {
        wait_end(L, a);
        return stage__lfuture_result(L, f);
    }
    if (ws && ws->timed_out) {
        char msg[128];
        snprintf(msg, sizeof msg, "no result within %g s", ws->tm->span);
        wait_end(L, a);
        return raise_error(L, STAGE_ETIMEOUT, msg);
    }
    stage__lw(L)->preempted = 0;
    return lua_yieldk(L, 0, 0, await_k); /* a stale wake-up: wait on */
}

static int f_await(lua_State *L) {
    stage__future_t *f = check_future(L, 1);
    double secs = luaL_optnumber(L, 2, -1);
    lua_settop(L, 2);
    if (stage__future_done(f)) return stage__lfuture_result(L, f);
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    if (f->target == a->serial) {
        f->observed = true; /* raised here: that is looking at it */
        return raise_error(L, STAGE_EDEADLOCK,
                           "await on a message this actor sent "
                           "to itself would never finish (an actor handles one "
                           "message at a time)");
    }
    if (!lua_isyieldable(L))
        return luaL_error(L, "await cannot suspend here (in a next() or "
                             "catch() continuation, a metamethod or a C "
                             "function): return or chain the future instead");
    if (L != w->handler_co)
        return luaL_error(L, "await inside a coroutine the handler made "
                             "cannot suspend the actor: await in the handler "
                             "itself, or chain with next()");
    if (secs < 0 && stage__node_config(w->node)->call_timeout > 0)
        secs = stage__node_config(w->node)->call_timeout;
    waitst_t *ws = stage__calloc(1, sizeof *ws);
    if (ws && secs >= 0 &&
        (ws->tm = stage__timer_new(w->t, secs, 0, await_timeout, NULL)))
        ws->tm->actor = a->serial;
    if (!ws || (secs >= 0 && !ws->tm) ||
        stage__future_on(w->t, f, CONT_RESUME, a->serial, NULL, NULL)) {
        if (ws && ws->tm) {
            stage__timer_cancel(w->t, ws->tm);
            stage__timer_unref(ws->tm);
        }
        stage__free(ws);
        return luaL_error(L, "await: out of memory");
    }
    ws->f = f;
    stage__lactor(a)->wait = ws;
    w->preempted = 0;
    return lua_yieldk(L, 0, 0, await_k);
}

int stage__lfuture_await(lua_State *L) {
    return f_await(L);
}

/* ---- next, catch -------------------------------------------------------- */

/* fn runs in the context of the actor that asked (stage.self(), sends from
** it), on its theatre, as soon as the future completes: between that
** actor's turns or while it awaits, never during one of its handlers. It
** cannot await; returning a future chains instead. */
typedef struct thenst {
    stage__future_t *result;
    int fn_ref;
    bool is_catch;
    uint64_t actor;
} thenst_t;

static void then_free(lua_State *L, thenst_t *ts) {
    if (L) luaL_unref(L, LUA_REGISTRYINDEX, ts->fn_ref);
    stage__future_unref(ts->result);
    stage__free(ts);
}

/* Message handler for continuations: keep the error, remember where. */
static int cont_msgh(lua_State *L) {
    luaL_traceback(L, L, NULL, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "stage.traceback");
    return 1;
}

static void then_run(stage__lw_t *w, stage__actor_t *a, thenst_t *ts,
                     stage__future_t *f) {
    lua_State *L = w->L;
    int base = lua_gettop(L);
    lua_pushcfunction(L, cont_msgh);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ts->fn_ref);
    f->observed = true;
    if (f->status == 0) {
        char err[256];
        if (stage__lv_decode_value(L, f->data, f->len, &w->hooks, err,
                                   sizeof err))
            lua_pushnil(L);
    } else {
        stage__lerror_push(L, f);
    }
    stage_id_t self;
    stage__make_id(w->node, a->serial, a->type, &self);
    stage__turn_begin(w->t, a);
    w->running = L;
    w->mem_refused = 0;
    int prev = stage__lw_enforce(w);
    int status = lua_pcall(L, 1, 1, base + 1);
    stage__lw_unenforce(w, prev);
    w->running = NULL;
    stage__turn_end(w->t);
    if (status == LUA_OK) {
        stage__lfuture_complete(L, -1, ts->result, &self);
    } else {
        if (status == LUA_ERRMEM && w->mem_refused) {
            char text[STAGE_ID_TEXT_MAX], who[STAGE_ID_TEXT_MAX + 40];
            stage_id_format(&self, text, sizeof text);
            snprintf(who, sizeof who, "a continuation of actor '%s'", text);
            lua_pop(L, 1);
            stage__lw_push_memory_error(w->L, w, who);
            LOG_WARN("%s: MemoryExceeded: it fails", who);
            lua_pushnil(L); /* no message handler ran: no traceback */
        } else {
            lua_getfield(L, LUA_REGISTRYINDEX, "stage.traceback");
        }
        stage__lfuture_fail(L, -2, ts->result, &self, lua_tostring(L, -1));
    }
    lua_settop(L, base);
}

static void then_fire(stage__theatre_t *t, stage__future_t *f, void *arg) {
    thenst_t *ts = arg;
    stage__lw_t *w = t ? stage__lw_of(t) : NULL;
    if (!w) {
        then_free(NULL, ts);
        return;
    }
    stage__actor_t *a = stage__actor_find(t, ts->actor);
    if (a && a->type->impl == &stage__lua_kind && stage__lactor(a)->conts)
        stage__lactor(a)->conts--; /* (a restart zeroed it: may be 0) */
    if ((f->status == 0) == ts->is_catch)
        stage__future_forward(ts->result, f); /* passes through */
    else if (!a)
        stage__future_reject(ts->result, STAGE_EACTOR_NOT_FOUND,
                             "the actor "
                             "that registered this continuation stopped",
                             NULL, NULL);
    else
        then_run(w, a, ts, f);
    then_free(w->L, ts);
}

static int then_common(lua_State *L, bool is_catch) {
    stage__future_t *f = check_future(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    thenst_t *ts = stage__malloc(sizeof *ts);
    stage__future_t *r = stage__future_new(w->node, w->t->index, 0);
    if (!ts || !r) {
        stage__free(ts);
        if (r) stage__future_unref(r);
        return luaL_error(L, "out of memory");
    }
    r->target = f->target; /* it cannot finish before f: same deadlock */
    lua_pushvalue(L, 2);
    *ts = (thenst_t){r, luaL_ref(L, LUA_REGISTRYINDEX), is_catch, a->serial};
    stage__future_ref(r);
    if (stage__future_on(w->t, f, CONT_CALL, 0, then_fire, ts)) {
        then_free(L, ts);
        stage__future_unref(r);
        return luaL_error(L, "out of memory");
    }
    stage__lactor(a)->conts++;
    stage__lfuture_push(L, r);
    return 1;
}

static int f_next(lua_State *L) {
    return then_common(L, false);
}

static int f_catch(lua_State *L) {
    return then_common(L, true);
}

/* ---- due, done ---------------------------------------------------------- */

static int f_due(lua_State *L) {
    stage__future_t *f = check_future(L, 1);
    double secs = luaL_checknumber(L, 2);
    lua_settop(L, 1);
    if (stage__future_due(stage__lw(L)->t, f, secs))
        return luaL_error(L, "due: out of memory");
    return 1;
}

static int f_done(lua_State *L) {
    lua_pushboolean(L, stage__future_done(check_future(L, 1)));
    return 1;
}

/* __tostring, for the C functions that cannot wait (string.format, ...;
** tostring and print wait, llazy.c): the value's text once resolved,
** else what the future is. Raises nothing but a memory error: an error
** object's text may come here (stage__lfuture_fail), outside any pcall. */
static int f_tostring(lua_State *L) {
    stage__future_t *f = check_future(L, 1);
    char err[256];
    if (!stage__future_done(f)) {
        lua_pushliteral(L, "future (pending)");
    } else if (f->status) {
        lua_pushfstring(L, "future (failed: %s: %s)", stage_err_name(f->status),
                        f->message ? f->message : stage_strerror(f->status));
    } else if (stage__lv_decode_value(L, f->data, f->len, &stage__lw(L)->hooks,
                                      err, sizeof err)) {
        lua_pushliteral(L, "future (resolved)");
    } else {
        luaL_tolstring(L, -1, NULL);
    }
    return 1;
}

/* ---- join --------------------------------------------------------------- */

/* stage.join{f1, f2, ...}: a future of {v1, v2, ...} (core's join, which
** also gives it the Deadlock target of await); plain values in the list
** count as already resolved. */
int stage__lfuture_join(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    stage__lw_t *w = stage__lw(L);
    int n = (int)luaL_len(L, 1);
    /* a userdata, so that an error below frees it; the futures made for
    ** plain values are released before any error is raised */
    stage__future_t **parts =
        lua_newuserdatauv(L, (size_t)n * sizeof *parts + 1, 0);
    bool *made = lua_newuserdatauv(L, (size_t)n + 1, 0);
    char err[256];
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        stage__lfut_t *u = stage__lfuture_test(L, -1);
        made[i] = !u;
        if (u) {
            parts[i] = u->f; /* borrowed: the list holds it */
            lua_pop(L, 1);
            continue;
        }
        stage_pack_t *p = &w->scratch;
        stage_pack_reset(p);
        stage__future_t *v = stage__future_new(w->node, w->t->index, 0);
        if (!v ||
            stage__lv_encode_value(L, -1, p, &w->hooks, err, sizeof err)) {
            if (v) stage__future_unref(v);
            for (int j = 0; j < i; j++)
                if (made[j]) stage__future_unref(parts[j]);
            return luaL_error(L, "join: element %d: %s", i + 1,
                              v ? err : "out of memory");
        }
        stage__future_resolve(v, p->data, p->len);
        parts[i] = v;
        lua_pop(L, 1);
    }
    stage__future_t *r =
        stage__future_join(w->node, w->t->index, parts, (size_t)n);
    for (int i = 0; i < n; i++) /* the join holds them once completed */
        if (made[i]) stage__future_unref(parts[i]);
    if (!r) return luaL_error(L, "join: out of memory");
    stage__lfuture_push(L, r);
    return 1;
}

/* ---- module ------------------------------------------------------------- */

void stage__lfuture_open(lua_State *L) {
    static const luaL_Reg methods[] = {{"await", f_await}, {"next", f_next},
                                       {"catch", f_catch}, {"due", f_due},
                                       {"done", f_done},   {NULL, NULL}};
    holds_open(L);
    luaL_newmetatable(L, FUTURE_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, f_tostring);
    lua_setfield(L, -2, "__tostring");
    stage__llazy_open(L, -1); /* operators use the value */
    stage__lw(L)->future_mtp = lua_topointer(L, -1);
    stage__lw(L)->future_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_newmetatable(L, ERROR_MT);
    lua_pushcfunction(L, e_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, e_concat);
    lua_setfield(L, -2, "__concat");
    lua_pop(L, 1);
}
