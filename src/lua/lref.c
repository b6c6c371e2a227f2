/*
** lua/lref.c: references — `ref:method(args)` — and the sends behind them.
**
** A reference is a userdata holding an actor id. Indexing it with a method
** name gives a sender closure (one per name, cached), so `ref:m(x)` is a
** plain call. A send encodes the arguments (copy semantics), queues the
** envelope and returns a future at once.
**
** Promise pipelining: a pending future among the arguments defers the
** send until it resolves, without blocking the sender. Deferred sends sit
** in the sending actor's `deferred` list; a later send to the same target
** queues behind them, so messages between two actors keep their order.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstage.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- the reference userdata --------------------------------------------- */

/* References are immutable, so a theatre shares one per id while it is
** alive: refcache maps serial -> reference, with weak values. Messages
** that carry references (replies to the sender, say) then decode without
** allocating. */
void stage__lref_push(lua_State *L, const stage_id_t *id) {
    stage__lw_t *w = stage__lw(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->refcache);
    lua_Integer key = (lua_Integer)id->serial;
    if (lua_rawgeti(L, -1, key) == LUA_TUSERDATA) {
        stage__lref_t *r = lua_touserdata(L, -1);
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
    stage__lref_t *r = lua_newuserdatauv(L, sizeof *r, 0);
    r->id = *id;
    r->pending = NULL;
    r->type = stage__id_is_local(w->node, id)
                  ? stage__type_find(w->node, id->type)
                  : NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->ref_mt);
    lua_setmetatable(L, -2);
}

stage__lref_t *stage__lref_test(lua_State *L, int idx) {
    stage__lw_t *w = stage__lw(L);
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
        return NULL;
    const void *m = lua_topointer(L, -1);
    lua_pop(L, 1);
    return m == w->ref_mtp || m == w->farref_mtp ? lua_touserdata(L, idx)
                                                 : NULL;
}

void stage__lref_push_far(lua_State *L, stage__future_t *f) {
    stage__lw_t *w = stage__lw(L);
    stage__lref_t *r = lua_newuserdatauv(L, sizeof *r, 0);
    memset(r, 0, sizeof *r);
    r->pending = f;
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->farref_mt);
    lua_setmetatable(L, -2);
}

/* Take a far reference's id from its finished lookup. 0, or the lookup's
** failure (r stays unresolved and keeps failing sends the same way). */
static int far_settle(stage__lw_t *w, stage__lref_t *r) {
    stage__future_t *f = r->pending;
    if (!f || !stage__future_done(f)) return 0;
    if (f->status) return f->status;
    stage_unpack_t u;
    stage_unpack_init(&u, f->data, f->len);
    if (stage_unpack_id(&u, &r->id)) return STAGE_EDECODE;
    r->type = stage__id_is_local(w->node, &r->id)
                  ? stage__type_find(w->node, r->id.type)
                  : NULL;
    r->pending = NULL;
    f->observed = true;
    stage__future_unref(f);
    return 0;
}

int stage__lref_settle(lua_State *L, stage__lref_t *r) {
    return far_settle(stage__lw(L), r);
}

static int r_gc(lua_State *L) {
    stage__lref_t *r = lua_touserdata(L, 1);
    if (r->pending) stage__future_unref(r->pending);
    r->pending = NULL;
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
        far_settle(stage__lw(L), r);
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
    if (a) far_settle(w, a);
    if (b) far_settle(w, b);
    lua_pushboolean(L, a && b && !a->pending && !b->pending &&
                           stage_id_equal(&a->id, &b->id));
    return 1;
}

static int r_tostring(lua_State *L) {
    stage__lref_t *r = stage__lref_test(L, 1);
    if (!r) return luaL_typeerror(L, 1, "reference");
    int rc = far_settle(stage__lw(L), r);
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

/* ---- pipelined (deferred) sends ---------------------------------------------
 */

typedef struct seg {
    stage__future_t *f; /* pending or done future, or NULL */
    char *data;         /* encoded value when f is NULL */
    size_t len;
} seg_t;

struct stage__deferred {
    stage__deferred_t *next;
    int refs;  /* the actor's list + one per pending continuation */
    bool dead; /* the sender stopped */
    int pending;
    bool stop; /* a stop order (stage.stop(ref)), not a message */
    uint64_t actor;
    stage__lref_t to; /* to.pending: the lookup of a far ref */
    stage__future_t *reply;
    char method[256];
    int n;
    seg_t segs[];
};

static void deferred_unref(stage__deferred_t *d) {
    if (--d->refs) return;
    for (int i = 0; i < d->n; i++) {
        if (d->segs[i].f) stage__future_unref(d->segs[i].f);
        stage__free(d->segs[i].data);
    }
    if (d->reply) stage__future_unref(d->reply);
    if (d->to.pending) stage__future_unref(d->to.pending);
    stage__free(d);
}

/* Same destination: the same resolved id, or the same pending lookup.
** Both are settled first: a copy in the deferred list and the caller's
** reference share one lookup, and must compare equal once it is done. */
static bool same_target(stage__lw_t *w, stage__lref_t *a, stage__lref_t *b) {
    far_settle(w, a);
    far_settle(w, b);
    if (a->pending || b->pending) return a->pending == b->pending;
    return stage_id_equal(&a->id, &b->id);
}

/* Fail d's reply, or log the failure of a one-way send (stage.send). */
static void deferred_fail(stage__deferred_t *d, int status, const char *msg,
                          const char *actor, const char *tb) {
    if (d->reply)
        stage__future_reject(d->reply, status, msg, actor, tb);
    else
        LOG_WARN("%s: %s", stage_err_name(status), msg);
}

static int queue_message(stage__lw_t *w, stage__actor_t *a,
                         const stage__lref_t *to, const char *method,
                         size_t mlen, const stage_pack_t *args,
                         stage__future_t *reply, bool stop);

/* Send d now that its futures are done; or fail its reply. */
static void deferred_send(stage__lw_t *w, stage__actor_t *a,
                          stage__deferred_t *d) {
    int rc = far_settle(w, &d->to);
    if (rc) {
        stage__future_t *f = d->to.pending;
        f->observed = true; /* its failure goes on in the message's */
        char msg[512];
        snprintf(msg, sizeof msg, "message '%s' not sent: %s", d->method,
                 f->message ? f->message : stage_strerror(rc));
        deferred_fail(d, rc, msg, NULL, NULL);
        return;
    }
    for (int i = 0; i < d->n; i++) {
        stage__future_t *f = d->segs[i].f;
        if (f && f->status) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "argument %d failed before the message "
                     "'%s' could be sent: %s",
                     i + 1, d->method,
                     f->message ? f->message : stage_strerror(f->status));
            deferred_fail(d, f->status, msg, f->actor, f->traceback);
            return;
        }
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, (uint32_t)d->n);
    for (int i = 0; i < d->n; i++) {
        seg_t *s = &d->segs[i];
        if (s->f)
            stage_pack_raw(&p, s->f->data, s->f->len);
        else
            stage_pack_raw(&p, s->data, s->len);
    }
    if (stage_pack_error(&p) ||
        queue_message(w, a, &d->to, d->method, strlen(d->method), &p, d->reply,
                      d->stop)) {
        char msg[320];
        snprintf(msg, sizeof msg, "message '%s' not sent: out of memory",
                 d->method);
        deferred_fail(d, STAGE_ENOMEM, msg, NULL, NULL);
    }
    stage_pack_free(&p);
}

/* Send every deferred message whose futures are done and that has no
** earlier deferred message to the same target. */
static void deferred_flush(stage__lw_t *w, stage__actor_t *a) {
    stage__deferred_t **pp = &a->deferred;
    while (*pp) {
        stage__deferred_t *d = *pp;
        bool blocked = d->pending > 0;
        for (stage__deferred_t *e = a->deferred; !blocked && e != d;
             e = e->next)
            blocked = same_target(w, &e->to, &d->to);
        if (blocked) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        deferred_send(w, a, d);
        deferred_unref(d);
    }
}

static void deferred_ready(stage__theatre_t *t, stage__future_t *f, void *arg) {
    (void)f;
    stage__deferred_t *d = arg;
    d->pending--;
    if (t && !d->dead) {
        stage__actor_t *a = stage__actor_find(t, d->actor);
        if (a) deferred_flush(stage__lw_of(t), a);
    }
    deferred_unref(d);
}

/* The actor stopped: its unsent messages fail. */
void stage__deferred_abandon(stage__actor_t *a) {
    stage__deferred_t *d;
    while ((d = a->deferred)) {
        a->deferred = d->next;
        d->dead = true;
        deferred_fail(d, STAGE_ESTOPPED,
                      "the sender stopped before the arguments of its "
                      "message resolved",
                      NULL, NULL);
        deferred_unref(d);
    }
}

static bool blocked_by_deferred(stage__lw_t *w, stage__actor_t *a,
                                stage__lref_t *to) {
    for (stage__deferred_t *d = a->deferred; d; d = d->next)
        if (same_target(w, &d->to, to)) return true;
    return false;
}

/* Raise the encoding error of argument i (1-based). */
static int arg_error(lua_State *L, const char *method, const char *err) {
    return luaL_error(L, "cannot send '%s': %s", method, err);
}

/* Defer method(args at first..first+n-1) from actor a until its futures
** resolve; pushes the send's future. */
static int defer_send(lua_State *L, stage__lw_t *w, stage__actor_t *a,
                      const stage__lref_t *to, const char *method, int first,
                      int n, stage__future_t *reply, bool stop) {
    stage__deferred_t *d =
        stage__calloc(1, sizeof *d + (size_t)n * sizeof(seg_t));
    if (!d) {
        if (reply) stage__future_unref(reply);
        return luaL_error(L, "cannot send '%s': out of memory", method);
    }
    d->refs = 1;
    d->stop = stop;
    d->actor = a->serial;
    d->to = *to;
    if (d->to.pending) stage__future_ref(d->to.pending);
    d->reply = reply;
    d->n = n;
    snprintf(d->method, sizeof d->method, "%s", method);
    char err[256];
    for (int i = 0; i < n; i++) {
        stage__lfut_t *u = stage__lfuture_test(L, first + i);
        if (u) {
            stage__future_ref(d->segs[i].f = u->f);
            continue;
        }
        stage_pack_t *p = &w->scratch;
        stage_pack_reset(p);
        if (stage__lv_encode_arg(L, first + i, i + 1, p, &w->hooks, err,
                                 sizeof err)) {
            deferred_unref(d);
            return arg_error(L, method, err);
        }
        if (!(d->segs[i].data = stage__malloc(p->len ? p->len : 1))) {
            deferred_unref(d);
            return arg_error(L, method, "out of memory");
        }
        memcpy(d->segs[i].data, p->data, p->len);
        d->segs[i].len = p->len;
    }
    if (reply) {
        stage__future_ref(reply);
        stage__lfuture_push(L, reply);
    }
    stage__deferred_t **pp = &a->deferred;
    while (*pp)
        pp = &(*pp)->next;
    *pp = d;
    for (int i = -1; i < n; i++) {
        stage__future_t *f = i < 0 ? d->to.pending : d->segs[i].f;
        if (!f || stage__future_done(f)) continue;
        d->pending++;
        d->refs++;
        if (stage__future_on(w->t, f, CONT_CALL, 0, deferred_ready, d)) {
            d->pending--;
            d->refs--;
            /* it would never know when f is done: it fails instead */
            for (pp = &a->deferred; *pp != d;)
                pp = &(*pp)->next;
            *pp = d->next;
            char msg[320];
            snprintf(msg, sizeof msg,
                     "message '%s' not sent: out of memory waiting for "
                     "its arguments",
                     d->method);
            deferred_fail(d, STAGE_ENOMEM, msg, NULL, NULL);
            deferred_unref(d);
            break;
        }
    }
    deferred_flush(w, a);
    return 1;
}

/* ---- sending ----------------------------------------------------------------
 */

/* Queue an encoded message, or with stop a stop order; reply (may be
** NULL) gets a reference of the envelope's. Failures to reach the target
** complete reply. */
static int queue_message(stage__lw_t *w, stage__actor_t *a,
                         const stage__lref_t *to, const char *method,
                         size_t mlen, const stage_pack_t *args,
                         stage__future_t *reply, bool stop) {
    int local = stage__id_is_local(w->node, &to->id);
    if (local &&
        (!to->type || stage__serial_theatre(to->id.serial) != to->id.theatre)) {
        char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 400];
        stage_id_format(&to->id, id, sizeof id);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found (it never existed "
                 "here); message '%s' not delivered",
                 id, method);
        if (reply)
            stage__future_reject(reply, STAGE_EACTOR_NOT_FOUND, msg, NULL,
                                 NULL);
        else /* stage.send: nobody else hears of it */
            LOG_WARN("%s", msg);
        return 0;
    }
    stage__env_t *e = stage__env_new(method, mlen, args->data, args->len);
    if (!e) {
        if (reply) stage__future_reject(reply, STAGE_ENOMEM, NULL, NULL, NULL);
        return STAGE_ENOMEM;
    }
    if (stop) e->hdr.kind = ENV_STOP_ACTOR;
    e->target = to->id.serial;
    e->target_type = to->type;
    if (a) {
        e->sender = a->serial;
        e->sender_type = a->type;
    }
    if (reply) {
        stage__future_ref(reply);
        e->future = reply;
    }
    if (local)
        stage__route(w->node, e);
    else
        stage__route_id(w->node, &to->id, e);
    return 0;
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
    far_settle(w, to);
    /* the target serial feeds the Deadlock check: only for an actor of
    ** this node (another node's serials are numbered the same way) */
    uint64_t target = to->type && !to->pending ? to->id.serial : 0;
    if (want_reply &&
        !(reply = stage__future_new(w->node, w->t->index, target)))
        return luaL_error(L, "out of memory");
    bool pending =
        to->pending || (a->deferred && blocked_by_deferred(w, a, to));
    for (int i = first; !pending && i < first + n; i++) {
        if (lua_type(L, i) != LUA_TUSERDATA) continue;
        stage__lfut_t *u = stage__lfuture_test(L, i);
        pending = u && (!stage__future_done(u->f) || u->f->status);
    }
    if (pending) {
        defer_send(L, w, a, to, method, first, n, reply, stop);
        return want_reply;
    }
    char err[256];
    stage_pack_t *p = &w->scratch;
    stage_pack_reset(p);
    if (n == 0) {
        stage_pack_array(p, 0);
    } else if (stage__lv_encode_args(L, first, n, p, &w->hooks, err,
                                     sizeof err)) {
        if (reply) stage__future_unref(reply);
        return arg_error(L, method, err);
    }
    int rc = queue_message(w, a, to, method, mlen, p, reply, stop);
    if (!reply) /* one way: nobody else hears of it */
        return rc ? luaL_error(L, "cannot send '%s': %s", method,
                               stage_strerror(rc))
                  : 0;
    stage__lfuture_push(L, reply); /* failed already if rc */
    return 1;
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
    const char *method = luaL_checklstring(L, 2, &mlen);
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
    lua_newtable(L); /* methods: filled on demand */
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
    w->farref_mtp = lua_topointer(L, -1);
    w->farref_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    w->ref_mtp = lua_topointer(L, -1);
    w->ref_mt = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L); /* refcache, weak values */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    w->refcache = luaL_ref(L, LUA_REGISTRYINDEX);
}
