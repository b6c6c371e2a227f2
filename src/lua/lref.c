/*
** lua/lref.c: references — `ref:method(args)` — and the sends behind them.
**
** A reference is a userdata holding an actor id. Indexing it with a method
** name gives a sender closure (one per name, cached), so `ref:m(x)` is a
** plain call. A send encodes the arguments (copy semantics), queues the
** envelope and returns a future at once.
**
** Far references and promise pipelining are core's (core/pipeline.h): a
** send through a reference whose lookup runs, or with a pending future
** among its arguments, encodes the other arguments and hands the send to
** core, which defers it without blocking the sender. A far reference from
** find_name keeps the name (its byname), so that core retries a call
** through it once when its actor is gone (core/retry.c).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- the reference userdata --------------------------------------------- */

/* A reference's userdata: a tag, then the reference. stage__lref_test, on
** every send, knows one by its size and tag, not by a metatable fetched
** and compared: nothing else starts with the tag's address, and Lua code
** makes no userdata (nor sees a reference's metatable: lsandbox.c). */
typedef struct lref_box {
    const void *tag;
    stage__lref_t r;
} lref_box_t;

static const char lref_tag;

static stage__lref_t *new_box(lua_State *L) {
    lref_box_t *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->tag = &lref_tag;
    return &b->r;
}

/* The reference of the userdata at idx (a reference's: checked before). */
static stage__lref_t *unbox(lua_State *L, int idx) {
    return &((lref_box_t *)lua_touserdata(L, idx))->r;
}

/* References are immutable, so a theatre shares one per id while it is
** alive: refcache maps serial -> reference, with weak values. Messages
** that carry references (replies to the sender, say) then decode without
** allocating. */
void stage__lref_push(lua_State *L, const stage_id_t *id) {
    stage__lw_t *w = stage__lw(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->refcache);
    lua_Integer key = (lua_Integer)id->serial;
    if (lua_rawgeti(L, -1, key) == LUA_TUSERDATA) {
        stage__lref_t *r = unbox(L, -1);
        if (r->id.incarnation == id->incarnation &&
            stage_id_equal(&r->id, id)) {
            lua_remove(L, -2);
            return;
        }
    }
    lua_pop(L, 1);
    stage__lref_new(L, id);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, key);
    lua_remove(L, -2);
}

void stage__lref_new(lua_State *L, const stage_id_t *id) {
    stage__lw_t *w = stage__lw(L);
    stage__lref_t *r = new_box(L);
    stage__target_set(w->node, r, id);
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->ref_mt);
    lua_setmetatable(L, -2);
}

stage__lref_t *stage__lref_test(lua_State *L, int idx) {
    lref_box_t *b = lua_touserdata(L, idx); /* NULL unless a userdata */
    return b && lua_rawlen(L, idx) == sizeof *b && b->tag == &lref_tag
               ? &b->r
               : NULL; /* a light userdata's length is 0 */
}

void stage__lref_push_far(lua_State *L, stage__future_t *f) {
    stage__lw_t *w = stage__lw(L);
    stage__lref_t *r = new_box(L);
    memset(r, 0, sizeof *r);
    r->pending = f;
    if ((r->byname = f->byname)) stage__byname_ref(r->byname); /* by name */
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->farref_mt);
    lua_setmetatable(L, -2);
}

int stage__lref_settle(lua_State *L, stage__lref_t *r) {
    return stage__target_settle(stage__lw(L)->node, r);
}

static int r_gc(lua_State *L) {
    stage__lref_t *r = unbox(L, 1);
    /* a lookup done is taken: a finaliser elsewhere may bring r back */
    stage__lref_settle(L, r);
    if (r->pending) stage__future_unref(r->pending);
    if (r->byname) stage__byname_unref(r->byname);
    r->pending = NULL;
    r->byname = NULL;
    return 0;
}

void stage__lv_push_id(lua_State *L, const stage_id_t *id, void *ud) {
    (void)ud;
    stage__lref_push(L, id);
}

/* Encoder hook: references become ids; resolved futures their value. */
int stage__lv_encode_ud(lua_State *L, int idx, stage_pack_t *p, void *ud) {
    (void)ud;
    stage__lref_t *r = stage__lref_test(L, idx);
    if (r) {
        stage__target_settle(stage__lw(L)->node, r);
        if (r->pending) return STAGE_EENCODE; /* its lookup is not done */
        stage_pack_id(p, &r->id);
        return 0;
    }
    stage__lfut_t *u = stage__lfuture_test(L, idx);
    if (u && stage__future_done(u->f) && u->f->status == 0) {
        u->f->observed = true;
        stage_pack_raw(p, u->f->data, u->f->len);
        return 0;
    }
    return STAGE_EENCODE;
}

static int r_eq(lua_State *L) {
    if (stage__lfuture_test(L, 1) || stage__lfuture_test(L, 2))
        return stage__lfuture_lazy_eq(L); /* ref == f: f's value */
    stage__lw_t *w = stage__lw(L);
    stage__lref_t *a = stage__lref_test(L, 1), *b = stage__lref_test(L, 2);
    if (a) stage__target_settle(w->node, a);
    if (b) stage__target_settle(w->node, b);
    lua_pushboolean(L, a && b && !a->pending && !b->pending &&
                           stage_id_equal(&a->id, &b->id));
    return 1;
}

static int r_tostring(lua_State *L) {
    stage__lref_t *r = stage__lref_test(L, 1);
    if (!r) return luaL_typeerror(L, 1, "reference");
    int rc = stage__target_settle(stage__lw(L)->node, r);
    if (r->pending) {
        lua_pushstring(L, rc ? "reference (lookup failed)"
                             : "reference (lookup pending)");
        return 1;
    }
    char buf[STAGE_ID_TEXT_MAX];
    stage_id_format(&r->id, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

/* ---- sending ----------------------------------------------------------------
 */

/* Raise the encoding error of an argument. */
static int arg_error(lua_State *L, const char *method, const char *err) {
    return luaL_error(L, "cannot send '%s': %s", method, err);
}

/* Arguments past the node's max_message (err says which): the same
** failure a send to any node gives, TooLarge, in reply if the sender wants
** one (it fails now), else raised. */
static int too_large(lua_State *L, const stage__lref_t *to, const char *method,
                     const char *err, stage__future_t *reply) {
    char id[STAGE_ID_TEXT_MAX] = "", msg[STAGE_ID_TEXT_MAX + 600];
    if (!to->pending) stage_id_format(&to->id, id, sizeof id);
    snprintf(msg, sizeof msg, "cannot send '%s'%s%s%s: %s", method,
             id[0] ? " to actor '" : "", id, id[0] ? "'" : "", err);
    if (!reply) return stage__lerror_raise(L, STAGE_ETOOBIG, msg);
    stage__future_reject(reply, STAGE_ETOOBIG, msg, NULL, NULL);
    return 0;
}

/* Hand method(args at first..first+n-1) to core, which defers it until
** its futures and its target's lookup are done (core/pipeline.h). The
** reply's future, if any, is on the stack already (it holds reply): an
** argument too large fails it at once. */
static void defer_send(lua_State *L, stage__lw_t *w, stage__actor_t *a,
                       const stage__lref_t *to, const char *method, int first,
                       int n, stage__future_t *reply, bool stop) {
    /* a userdata, so that an error while encoding leaks nothing */
    stage__parg_t *args = lua_newuserdatauv(L, (size_t)n * sizeof *args, 0);
    memset(args, 0, (size_t)n * sizeof *args);
    stage_pack_t *p = &w->scratch; /* the values, one after the other */
    stage_pack_reset(p);
    char err[256];
    for (int i = 0; i < n; i++) {
        stage__lfut_t *u = stage__lfuture_test(L, first + i);
        if (u) {
            args[i].f = u->f;
            continue;
        }
        size_t at = p->len;
        int rc = stage__lv_encode_arg(L, first + i, i + 1, p, &w->hooks, err,
                                      sizeof err);
        if (rc == STAGE_ETOOBIG) {
            too_large(L, to, method, err, reply);
            lua_pop(L, 1);
            return;
        }
        if (rc) arg_error(L, method, err);
        args[i].len = p->len - at;
    }
    size_t at = 0; /* p has stopped moving: point into it */
    for (int i = 0; i < n; i++) {
        if (args[i].f) continue;
        args[i].data = p->data + at;
        at += args[i].len;
    }
    int rc = stage__pipeline_defer(w->t, a, to, method, args, n, reply, stop);
    if (rc) arg_error(L, method, "out of memory");
    lua_pop(L, 1);
}

/* Send method(the n values from first on) to `to` (with stop, the order
** to stop instead); with want_reply, push its future (returns 1), else
** send one-way (returns 0). */
static int send_common(lua_State *L, stage__lref_t *to, const char *method,
                       size_t mlen, int first, int n, bool want_reply,
                       bool stop) {
    stage__lw_t *w = stage__lw(L);
    stage__actor_t *a = stage__lw_running(L);
    stage__future_t *reply = NULL;
    if (to->pending || to->byname) stage__target_settle(w->node, to);
    stage_pack_t *p = &w->scratch;
    stage_pack_reset(p);
    /* The common case first: a settled target, no send deferred before
    ** this one, and scalar arguments, so no future among them to wait for
    ** (a message costs a few hundred instructions: the general walk
    ** below is a visible share of them). */
    bool now = !to->pending && !a->deferred &&
               stage__lv_encode_scalars(L, first, n, p, &w->hooks);
    if (want_reply) {
        /* the target serial feeds the Deadlock check: only for an actor
        ** of this node (another node's serials are numbered the same way) */
        uint64_t target = to->type && !to->pending ? to->id.serial : 0;
        if (!(reply = stage__future_new(w->node, w->t->index, target)))
            return luaL_error(L, "out of memory");
    }
    int rc = 0;
    if (!now) {
        bool pending = to->pending ||
                       (a->deferred && stage__pipeline_blocked(w->node, a, to));
        for (int i = first; !pending && i < first + n; i++) {
            if (lua_type(L, i) != LUA_TUSERDATA) continue;
            stage__lfut_t *u = stage__lfuture_test(L, i);
            pending = u && (!stage__future_done(u->f) || u->f->status);
        }
        if (pending) {
            if (reply) stage__lfuture_push(L, reply); /* it holds reply now */
            defer_send(L, w, a, to, method, first, n, reply, stop);
            return want_reply;
        }
        char err[256];
        rc = stage__lv_encode_args(L, first, n, p, &w->hooks, err, sizeof err);
        if (rc == STAGE_ETOOBIG) {
            too_large(L, to, method, err, reply);
            stage__lfuture_push(L, reply); /* failed already */
            return 1;
        }
        if (rc) {
            if (reply) stage__future_unref(reply);
            return arg_error(L, method, err);
        }
    }
    rc = stage__pipeline_send(w->node, a, to, method, mlen, p->data, p->len,
                              reply, stop, true);
    if (!reply) /* one way: nobody else hears of it */
        return rc ? luaL_error(L, "cannot send '%s': %s", method,
                               stage_strerror(rc))
                  : 0;
    stage__lfuture_push(L, reply); /* failed already if rc */
    return 1;
}

int stage__lref_call(lua_State *L, stage__lref_t *to, const char *method,
                     int first, int n) {
    return send_common(L, to, method, strlen(method), first, n, true, false);
}

/* The sender closure: upvalue 1 is the method name. */
static int r_send(lua_State *L) {
    stage__lref_t *to = stage__lref_test(L, 1);
    size_t mlen;
    const char *method = lua_tolstring(L, lua_upvalueindex(1), &mlen);
    if (!to)
        return luaL_error(L,
                          "'%s' must be called on a reference with ':' "
                          "(ref:%s(...))",
                          method, method);
    return send_common(L, to, method, mlen, 2, lua_gettop(L) - 1, true, false);
}

/* stage.stop(ref): the order to stop, behind the messages sent to ref
** before it; pushes a future of true once the actor has taken it. */
int stage__lref_stop(lua_State *L, stage__lref_t *to) {
    return send_common(L, to, "stop", 4, 0, 0, true, true);
}

/* stage.send(ref, method, ...): a one-way message, like Erlang's `!`: no
** future and no reply; a failure is logged with the actor id. */
int stage__lref_send_oneway(lua_State *L) {
    stage__lref_t *to = stage__lref_test(L, 1);
    if (!to) return luaL_typeerror(L, 1, "reference");
    size_t mlen;
    const char *method = lua_type(L, 2) == LUA_TSTRING
                             ? lua_tolstring(L, 2, &mlen)
                             : luaL_checklstring(L, 2, &mlen);
    if (mlen == 0 || mlen > 255 || method[0] == '_')
        return luaL_error(L, "send: bad method name '%s'", method);
    return send_common(L, to, method, mlen, 3, lua_gettop(L) - 2, false, false);
}

/* methods.__index(methods, name): make, cache and return the sender. */
static int r_method(lua_State *L) {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    size_t len;
    const char *name = lua_tolstring(L, 2, &len);
    if (len == 0 || len > 255 || name[0] == '_') return 0;
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, r_send, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

void stage__lref_open(lua_State *L) {
    luaL_newmetatable(L, REF_MT);
    lua_newtable(L); /* methods: filled on demand, but for migrate */
    lua_pushcfunction(L, stage__lref_migrate);
    lua_setfield(L, -2, "migrate");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, r_method);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, r_eq);
    lua_setfield(L, -2, "__eq");
    lua_pushcfunction(L, r_tostring);
    lua_setfield(L, -2, "__tostring");
    stage__lw_t *w = stage__lw(L);
    /* far references: the same, plus a __gc for their pending lookup */
    lua_createtable(L, 0, 5);
    for (const char *const *f =
             (const char *const[]){"__index", "__eq", "__tostring", NULL};
         *f; f++) {
        lua_getfield(L, -2, *f);
        lua_setfield(L, -2, *f);
    }
    lua_pushcfunction(L, r_gc);
    lua_setfield(L, -2, "__gc");
    w->farref_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    w->ref_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L); /* refcache, weak values */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    w->refcache = luaL_ref(L, LUA_REGISTRYINDEX);
}
