/*
** core/native.c: actors written in C (include/stage/stage.h) — the native
** kind, messages and replies, the public send/spawn calls — and the stdout
** environment actor. Futures, timers and lookups of the C API are in
** native_future.c, native_timer.c and native_directory.c.
**
** A native handler runs to completion on its theatre's thread; it cannot be
** preempted or suspended. A stage_ctx_t lives on the theatre's stack for the
** duration of one handler or turn (native.h).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/move.h"
#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "native.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wire/mp.h"

static const char NIL = (char)0xc0;

/* ---- messages ----------------------------------------------------------- */

const char *stage_msg_method(const stage_msg_t *m) {
    return stage__env_method(m->e);
}

void stage_msg_args(const stage_msg_t *m, const char **data, size_t *len) {
    *data = stage__env_args(m->e);
    *len = m->e->len;
}

int stage_msg_unpack(const stage_msg_t *m, stage_unpack_t *u, uint32_t *argc) {
    stage_unpack_init(u, stage__env_args(m->e), m->e->len);
    if (m->e->len == 0) {
        *argc = 0;
        return 0;
    }
    return stage_unpack_array(u, argc);
}

const stage_id_t *stage_msg_sender(const stage_msg_t *msg) {
    stage_msg_t *m = (stage_msg_t *)msg; /* fills its cache only */
    if (!m->e->sender_type) return NULL;
    if (!m->has_sender) {
        stage__make_id(m->ctx->t->node, m->e->sender, m->e->sender_type,
                       &m->sender);
        m->has_sender = true;
    }
    return &m->sender;
}

int stage_reply(stage_ctx_t *ctx, const stage_msg_t *msg, const void *value,
                size_t len) {
    stage_msg_t *m = (stage_msg_t *)msg;
    if (m->replied) return STAGE_EEXISTS;
    if (stage_pack_validate(value, len, 1)) return STAGE_EINVAL;
    m->replied = true;
    if (len > ctx->t->node->cfg.max_message) {
        if (m->e->future) {
            char id[STAGE_ID_TEXT_MAX];
            stage_id_format(stage_self(ctx), id, sizeof id);
            stage__future_too_large(m->e->future, id, len);
        }
        return STAGE_ETOOBIG;
    }
    if (m->e->future) stage__future_resolve(m->e->future, value, len);
    return 0;
}

/* The delegated reply is done (or its future is being freed, t NULL). */
static void forward_reply(stage__theatre_t *t, stage__future_t *src,
                          void *arg) {
    stage__future_t *dst = arg;
    if (t)
        stage__future_forward(dst, src);
    else if (stage__node_stopping(dst->node))
        stage__future_reject(dst, STAGE_ESTOPPED,
                             "the node stopped before the "
                             "delegated reply completed",
                             NULL, NULL);
    else
        stage__future_reject(dst, STAGE_ECANCELED,
                             "the future this reply was delegated to was "
                             "released before it completed",
                             NULL, NULL);
    stage__future_unref(dst);
}

int stage_reply_future(stage_ctx_t *ctx, const stage_msg_t *msg,
                       stage_future_t *fut) {
    (void)ctx;
    stage_msg_t *m = (stage_msg_t *)msg;
    stage__future_t *f = (stage__future_t *)fut;
    if (!f) return STAGE_EINVAL;
    int rc = 0;
    if (m->replied) {
        rc = STAGE_EEXISTS;
    } else if (m->e->future) {
        stage__future_ref(m->e->future);
        rc = stage__future_on_any(f, forward_reply, m->e->future);
        if (rc) stage__future_unref(m->e->future);
    }
    if (!rc) m->replied = true;
    return rc;
}

int stage_reply_error(stage_ctx_t *ctx, const stage_msg_t *msg, int code,
                      const char *message) {
    stage_msg_t *m = (stage_msg_t *)msg;
    if (m->replied) return STAGE_EEXISTS;
    m->replied = true;
    char id[STAGE_ID_TEXT_MAX];
    stage_id_format(stage_self(ctx), id, sizeof id);
    if (m->e->future)
        stage__future_reject(m->e->future, code, message, id, NULL);
    else
        LOG_WARN("actor %s: %s: %s (no one asked for the reply)", id,
                 stage_err_name(code), message);
    return 0;
}

/* ---- the native kind ---------------------------------------------------- */

static stage_handler_fn find_method(const stage_type_def_t *def,
                                    const char *name) {
    for (const stage_method_t *m = def->methods; m && m->name; m++)
        if (strcmp(m->name, name) == 0) return m->fn;
    return NULL;
}

/* Fail (or log) a message nobody can handle. */
static void no_method(stage_ctx_t *ctx, stage__env_t *e) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 160];
    stage_id_format(stage_self(ctx), id, sizeof id);
    snprintf(msg, sizeof msg, "actor '%s' of type '%s' has no method '%s'", id,
             ctx->a->type->name, stage__env_method(e));
    if (e->future)
        stage__future_reject(e->future, STAGE_ENO_METHOD, msg, id, NULL);
    else
        LOG_WARN("%s", msg);
}

static int native_deliver(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e) {
    if (e->hdr.kind == ENV_CALL) { /* a turn: a timer, a callback */
        if (e->call)
            e->call(t, a, e);
        else
            stage__env_drop(e, STAGE_EINVAL);
        return TURN_DONE;
    }
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    stage_msg_t m = {.e = e, .ctx = &ctx};
    ctx.msg = &m;
    const stage_type_def_t *def = a->type->native;
    bool birth = (e->hdr.flags & ENV_SYSTEM) && !strcmp(e->data, "birth");
    stage_handler_fn fn = birth ? def->birth : find_method(def, e->data);
    if (birth) a->flags |= ACTOR_BORN;
    if (fn)
        fn(&ctx, a->data, &m);
    else if (!birth)
        no_method(&ctx, e);
    if (e->future && !m.replied) stage__future_resolve(e->future, &NIL, 1);
    stage__env_free(e);
    return TURN_DONE;
}

static int native_resume(stage__theatre_t *t, stage__actor_t *a) {
    (void)t;
    (void)a;
    return TURN_DONE; /* native turns never suspend */
}

/* death runs once, if birth ran, unless the node's stop is over. */
static void native_destroy(stage__theatre_t *t, stage__actor_t *a) {
    if (!a->type->native->death || t->deaths_over || !(a->flags & ACTOR_BORN))
        return;
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    a->type->native->death(&ctx, a->data);
}

/* Each type sizes its actors' data (its state_size): actor_size is 0. */
const stage__kind_t stage__native_kind = {
    .deliver = native_deliver,
    .resume = native_resume,
    .destroy = native_destroy,
    .state_export = stage__native_state_export, /* native_image.c */
    .state_import = stage__native_state_import,
    .departing = stage__native_departing,
    .arrived = stage__native_arrived};

int stage_type_register(stage_node_t *node, const stage_type_def_t *def) {
    if (!def || !def->name) return STAGE_EINVAL;
    if ((unsigned)def->on_error > STAGE_ON_ERROR_STOP ||
        def->max_restarts < 0 || !isfinite(def->restart_window) ||
        def->restart_window < 0)
        return STAGE_EINVAL;
    return stage__type_add(node, def->name, def->kind, def->super,
                           &stage__native_kind, def, NULL, NULL, NULL);
}

stage__actor_t *stage__native_running(stage_node_t *node) {
    stage__theatre_t *t = stage__current();
    stage__actor_t *a = t && t->node == node ? t->running : NULL;
    return a && a->type->impl == &stage__native_kind ? a : NULL;
}

int stage__native_owner(stage_node_t *node) {
    stage__theatre_t *t = stage__current();
    return t && t->node == node ? t->index : 0;
}

int stage__native_turn(stage_node_t *node, uint64_t serial, stage__call_fn call,
                       stage__call_fn drop, void *arg) {
    stage__env_t *e = stage__env_call(call, drop, arg);
    if (!e) return STAGE_ENOMEM;
    e->target = serial;
    stage__route(node, e);
    return 0;
}

/* ---- inside a handler --------------------------------------------------- */

const stage_id_t *stage_self(stage_ctx_t *ctx) {
    if (!ctx->has_self) {
        stage__make_id(ctx->t->node, ctx->a->serial, ctx->a->type, &ctx->self);
        ctx->has_self = true;
    }
    return &ctx->self;
}

stage_node_t *stage_ctx_node(stage_ctx_t *ctx) {
    return ctx->t->node;
}

int stage_ctx_theatre(stage_ctx_t *ctx) {
    return ctx->t->index;
}

void stage_stop(stage_ctx_t *ctx) {
    ctx->a->flags |= ACTOR_STOPPING;
}

/* A failure in death is only logged (the actor goes anyway), and so is
** a second one in a turn: the policy applies once. */
void stage_fail(stage_ctx_t *ctx, const char *message) {
    if (!message) message = "the handler failed";
    stage_msg_t *m = ctx->msg;
    char id[STAGE_ID_TEXT_MAX];
    stage_id_format(stage_self(ctx), id, sizeof id);
    if (m && !m->replied && m->e->future) {
        m->replied = true;
        stage__future_reject(m->e->future, STAGE_EHANDLER, message, id, NULL);
    } else {
        LOG_WARN("actor %s: HandlerError: %s", id, message);
    }
    bool birth = m && (m->e->hdr.flags & ENV_SYSTEM) &&
                 !strcmp(stage__env_method(m->e), "birth");
    if (ctx->t->running == ctx->a)
        stage__actor_failed(ctx->t, ctx->a, birth, STAGE_EHANDLER, message);
}

void stage_exit(stage_ctx_t *ctx, int code) {
    stage_node_stop(ctx->t->node, code);
}

/* ---- sending and spawning (shared by handlers and outside threads) ------ */

/* Arguments must be one msgpack array. Only the header is looked at here:
** every reader (the cursor, the Lua decoder, the network) checks each byte
** against the length anyway, so a full walk per send would be paid twice. */
static bool is_array(const void *args, size_t len) {
    uint8_t b = *(const uint8_t *)args;
    return (b >= 0x90 && b <= 0x9f) || ((b == 0xdc || b == 0xdd) && len >= 3);
}

bool stage__native_args_ok(const void *args, size_t len) {
    return len == 0 || (args && is_array(args, len));
}

static int do_spawn(stage_node_t *node, const char *type, int theatre,
                    const void *args, size_t len, stage_id_t *out) {
    if (!type) return STAGE_EINVAL;
    stage__type_t *ty = stage__type_find(node, type);
    if (!ty) return STAGE_ETYPE_NOT_FOUND;
    if (theatre >= stage_node_theatres(node)) return STAGE_EINVAL;
    if (len && !is_array(args, len)) return STAGE_EINVAL;
    uint64_t serial;
    int rc = stage__spawn(node, ty, theatre, args, len, &serial);
    if (rc == 0 && out) stage__make_id(node, serial, ty, out);
    return rc;
}

/* The type named name: the type this thread found last, checked with one
** comparison, else a lookup (a sender mostly sends to one type). The
** node's incarnation tells a node from a later one at the same address. */
static stage__type_t *type_of(stage_node_t *node, const char *name) {
    static _Thread_local stage__type_t *last;
    static _Thread_local stage_node_t *last_node;
    static _Thread_local uint32_t last_incarnation;
    if (last && last_node == node &&
        last_incarnation == stage__node_incarnation(node) &&
        !strcmp(last->name, name))
        return last;
    stage__type_t *ty = stage__type_find(node, name);
    if (ty) {
        last = ty;
        last_node = node;
        last_incarnation = stage__node_incarnation(node);
    }
    return ty;
}

/* Defer a send behind an earlier deferred one from the same sender to the
** same target, if there is one (pipeline.h): 0 and *deferred, or an
** error. */
static int send_behind(stage_node_t *node, stage__actor_t *a, int owner,
                       int kind, const stage_id_t *to, const char *method,
                       const void *args, size_t len, stage_future_t **fut,
                       bool *deferred) {
    stage__future_t *f = NULL;
    if (fut &&
        !(f = stage__future_new(node, owner,
                                stage__id_is_local(node, to) ? to->serial : 0)))
        return STAGE_ENOMEM;
    int rc = stage__native_defer_plain(node, a, to, method, args, len,
                                       kind == ENV_STOP_ACTOR, f, deferred);
    if (!rc && *deferred && fut)
        *fut = (stage_future_t *)f;
    else if (f)
        stage__future_unref(f);
    return rc;
}

/* Send an envelope of kind (ENV_MSG, or ENV_STOP_ACTOR: the order to stop)
** from the running actor a (NULL outside actors). owner: the theatre whose
** thread runs the reply's continuations. */
static int do_send(stage_node_t *node, stage__actor_t *a, int owner, int kind,
                   const stage_id_t *to, const char *method, const void *args,
                   size_t len, stage_future_t **fut) {
    if (fut) *fut = NULL;
    size_t mlen = method ? strlen(method) : 0;
    if (!mlen || mlen > 255 || !to) return STAGE_EINVAL;
    if (len && !is_array(args, len)) return STAGE_EINVAL;
    if (len > node->cfg.max_message) return STAGE_ETOOBIG;
    bool local = stage__id_is_local(node, to);
    if (stage__id_is_stale(node, to)) return STAGE_EACTOR_NOT_FOUND;
    if (!local && !node->net_hooks.send) return STAGE_EUNREACHABLE;
    stage__type_t *tt = local ? type_of(node, to->type) : NULL;
    if (local && !tt) return STAGE_EACTOR_NOT_FOUND;
    if (a ? a->deferred != NULL : stage__pipeline_outside_busy(node)) {
        bool deferred;
        int rc = send_behind(node, a, owner, kind, to, method, args, len, fut,
                             &deferred);
        if (rc || deferred) return rc;
    }
    stage__env_t *e = stage__env_new(method, mlen, args, len);
    if (!e) return STAGE_ENOMEM;
    e->hdr.kind = kind;
    e->hdr.flags |= ENV_UNCHECKED; /* only its header was looked at */
    e->target = to->serial;
    e->target_type = tt;
    if (a) {
        e->sender = a->serial;
        e->sender_type = a->type;
    }
    if (fut) {
        stage__future_t *f =
            stage__future_new(node, owner, local ? to->serial : 0);
        if (!f) {
            stage__env_free(e);
            return STAGE_ENOMEM;
        }
        stage__future_ref(f);
        e->future = f;
        *fut = (stage_future_t *)f;
    }
    stage__route_id(node, to, e);
    return 0;
}

int stage_spawn(stage_ctx_t *ctx, const char *type, int theatre,
                const void *args, size_t len, stage_id_t *out) {
    return do_spawn(ctx->t->node, type, theatre, args, len, out);
}

int stage_send(stage_ctx_t *ctx, const stage_id_t *to, const char *method,
               const void *args, size_t len, stage_future_t **fut) {
    return do_send(ctx->t->node, ctx->a, ctx->t->index, ENV_MSG, to, method,
                   args, len, fut);
}

int stage_node_spawn(stage_node_t *node, const char *type, int theatre,
                     const void *args, size_t len, stage_id_t *out) {
    /* theatre 0, never placed; from outside the theatres stage__spawn
    ** takes -1 as that, and the actor may be stolen (steal.c) */
    if (theatre < 0 && stage__current()) theatre = 0;
    return do_spawn(node, type, theatre, args, len, out);
}

int stage_node_send(stage_node_t *node, const stage_id_t *to,
                    const char *method, const void *args, size_t len,
                    stage_future_t **fut) {
    return do_send(node, NULL, 0, ENV_MSG, to, method, args, len, fut);
}

int stage_stop_actor(stage_ctx_t *ctx, const stage_id_t *to,
                     stage_future_t **fut) {
    return do_send(ctx->t->node, ctx->a, ctx->t->index, ENV_STOP_ACTOR, to,
                   "stop", NULL, 0, fut);
}

int stage_node_stop_actor(stage_node_t *node, const stage_id_t *to,
                          stage_future_t **fut) {
    return do_send(node, NULL, 0, ENV_STOP_ACTOR, to, "stop", NULL, 0, fut);
}

/* Move actor who of node to theatre; *fut (may be NULL) of owner. */
static int migrate_actor(stage_node_t *node, int owner, const stage_id_t *who,
                         int theatre, stage_future_t **fut) {
    if (fut) *fut = NULL;
    if (!who || !stage__id_is_local(node, who) ||
        !stage__node_theatre(node, theatre))
        return STAGE_EINVAL;
    stage__future_t *f = NULL;
    if (fut && !(f = stage__future_new(node, owner, 0))) return STAGE_ENOMEM;
    int rc = stage__migrate(node, who->serial, theatre, f, false);
    if (rc) {
        if (f) stage__future_unref(f);
        return rc;
    }
    if (fut) *fut = (stage_future_t *)f;
    return 0;
}

int stage_migrate(stage_ctx_t *ctx, int theatre) {
    return stage__migrate_self(ctx->t, ctx->a, theatre, NULL);
}

int stage_migrate_actor(stage_ctx_t *ctx, const stage_id_t *who, int theatre,
                        stage_future_t **fut) {
    return migrate_actor(ctx->t->node, ctx->t->index, who, theatre, fut);
}

int stage_node_migrate_actor(stage_node_t *node, const stage_id_t *who,
                             int theatre, stage_future_t **fut) {
    return migrate_actor(node, 0, who, theatre, fut);
}

/* 1 if where is a node address a move can go to (node networked). */
static bool node_where(stage_node_t *node, const char *where) {
    return where && stage__node_net(node) &&
           stage__node_addr_valid(where, strlen(where));
}

/* Move actor who (any node) to node where; *fut (may be NULL) of owner. */
static int migrate_actor_node(stage_node_t *node, int owner,
                              const stage_id_t *who, const char *where,
                              stage_future_t **fut) {
    if (fut) *fut = NULL;
    if (!who || !node_where(node, where)) return STAGE_EINVAL;
    stage__future_t *f = NULL;
    if (fut && !(f = stage__future_new(node, owner, 0))) return STAGE_ENOMEM;
    int rc = stage__id_is_local(node, who)
                 ? stage__migrate_node(node, who->serial, where, f, false)
                 : stage__migrate_remote(node, who, where, f);
    if (rc) {
        if (f) stage__future_unref(f);
        return rc;
    }
    if (fut) *fut = (stage_future_t *)f;
    return 0;
}

int stage_migrate_node(stage_ctx_t *ctx, const char *where) {
    if (!node_where(ctx->t->node, where)) return STAGE_EINVAL;
    return stage__migrate_self_node(ctx->t, ctx->a, where);
}

int stage_migrate_actor_node(stage_ctx_t *ctx, const stage_id_t *who,
                             const char *where, stage_future_t **fut) {
    return migrate_actor_node(ctx->t->node, ctx->t->index, who, where, fut);
}

int stage_node_migrate_actor_node(stage_node_t *node, const stage_id_t *who,
                                  const char *where, stage_future_t **fut) {
    return migrate_actor_node(node, 0, who, where, fut);
}

/* Spawn type at address with a future of the id, owned by theatre owner;
** theatre: where a spawn on this node goes (-1: the calling theatre). */
static int spawn_at(stage_node_t *node, int owner, int theatre,
                    const char *address, const char *type, const void *args,
                    size_t len, stage_future_t **fut) {
    if (!fut) return STAGE_EINVAL;
    *fut = NULL;
    /* this node's own address ("local" without a network), or another as
    ** the transport names its peers ("localhost:7400": 127.0.0.1:7400) */
    char canon[STAGE_ADDR_MAX];
    if (!address || !type || !stage_type_name_valid(type) ||
        !stage__native_args_ok(args, len))
        return STAGE_EINVAL;
    if (strcmp(address, stage__node_address(node))) {
        if (stage__node_addr_canon(address, canon, sizeof canon))
            return STAGE_EINVAL;
        address = canon;
    }
    if (len > node->cfg.max_message) return STAGE_ETOOBIG;
    stage__future_t *f = stage__future_new(node, owner, 0);
    if (!f) return STAGE_ENOMEM;
    if (!strcmp(address, stage__node_address(node))) {
        stage_id_t id;
        stage_pack_t p = STAGE_PACK_INIT;
        int rc = do_spawn(node, type, theatre, args, len, &id);
        if (!rc) stage_pack_id(&p, &id);
        if (!rc && !(rc = stage_pack_error(&p)))
            stage__future_resolve(f, p.data, p.len);
        stage_pack_free(&p);
        if (rc) {
            stage__future_unref(f);
            return rc;
        }
    } else {
        if (!len) args = "\x90", len = 1; /* the frame carries an array */
        stage__future_ref(f);             /* the network's */
        if (!stage__node_spawn_remote(node, address, type, args, len, f)) {
            stage__future_unref(f);
            stage__future_unref(f);
            return STAGE_EUNREACHABLE;
        }
    }
    *fut = (stage_future_t *)f;
    return 0;
}

int stage_spawn_at(stage_ctx_t *ctx, const char *address, const char *type,
                   const void *args, size_t len, stage_future_t **fut) {
    return spawn_at(ctx->t->node, ctx->t->index, -1, address, type, args, len,
                    fut);
}

int stage_node_spawn_at(stage_node_t *node, const char *address,
                        const char *type, const void *args, size_t len,
                        stage_future_t **fut) {
    return spawn_at(node, 0, 0, address, type, args, len, fut);
}

/* ---- the stdout environment actor --------------------------------------- */

/* print(...): its arguments (strings or numbers) joined by tabs, one line.
** write(s): s as it is. Output is flushed once the mailbox is empty. */
static void stdout_out(stage_ctx_t *ctx, const stage_msg_t *msg, bool line) {
    stage_unpack_t u;
    uint32_t n = 0;
    if (stage_msg_unpack(msg, &u, &n)) {
        stage_reply_error(ctx, msg, STAGE_EINVAL, "stdout: malformed text");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        int64_t iv;
        double dv;
        if (i && line) fputc('\t', stdout);
        if (stage_unpack_str(&u, &s, &len) == 0)
            fwrite(s, 1, len, stdout);
        else if (stage_unpack_int(&u, &iv) == 0)
            printf("%lld", (long long)iv);
        else if (stage_unpack_double(&u, &dv) == 0)
            printf("%.14g", dv);
        else if (stage_unpack_skip(&u) == 0)
            fputs("?", stdout);
    }
    if (line) fputc('\n', stdout);
    if (!ctx->a->mbox_head) fflush(stdout);
}

static void stdout_print(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stdout_out(ctx, m, true);
}

static void stdout_write(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stdout_out(ctx, m, false);
}

static const stage_method_t stdout_methods[] = {{"print", stdout_print},
                                                {"println", stdout_print},
                                                {"write", stdout_write},
                                                {NULL, NULL}};

static const stage_type_def_t stdout_def = {
    .name = "Stdout",
    .kind = STAGE_KIND_PINNED,
    .methods = stdout_methods,
    .on_error = STAGE_ON_ERROR_KEEP}; /* it never fails */

int stage__stdout_register(stage_node_t *node) {
    int rc = stage__type_add(node, stdout_def.name, stdout_def.kind, NULL,
                             &stage__native_kind, &stdout_def, NULL, NULL,
                             &node->stdout_type);
    if (rc) return rc;
    stage__theatre_t *t0 = stage__node_theatre(node, 0);
    uint64_t serial = stage__serial_reserve(t0);
    if (!stage__actor_new(t0, node->stdout_type, serial, NULL))
        return STAGE_ENOMEM;
    node->stdout_serial = serial;
    return 0;
}

void stage__stdout_id(stage_node_t *node, stage_id_t *out) {
    stage__make_id(node, node->stdout_serial, node->stdout_type, out);
}

void stage_node_stdout(stage_node_t *node, stage_id_t *out) {
    stage__stdout_id(node, out);
}
