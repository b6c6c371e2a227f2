/*
** core/native.h: what the files of the C API share (native.c: actors,
** messages, sends; native_future.c; native_timer.c; native_directory.c):
** the context of a handler or turn, a message being handled, and turns of
** a C actor. Private to src/core.
**
** A turn of a C actor is an ENV_CALL envelope in its mailbox: the native
** kind runs e->call(t, a, e) between the actor's handlers, with a context
** the call makes for itself (stage__ctx_init). Timers and future callbacks
** run this way, so they never run during one of the actor's handlers.
*/
#ifndef STAGE_CORE_NATIVE_H
#define STAGE_CORE_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/kind.h"
#include "core/theatre.h"
#include "stage/stage.h"

struct stage_ctx {
    stage__theatre_t *t;
    stage__actor_t *a;
    stage_msg_t *msg; /* the message a handler handles, or NULL */
    bool has_self;
    stage_id_t self; /* made on first use: most handlers never ask */
};

struct stage_msg {
    stage__env_t *e;
    stage_ctx_t *ctx;
    bool replied;
    bool has_sender; /* sender made on first use */
    stage_id_t sender;
};

/* The kind of C actors (native.c). */
extern const stage__kind_t stage__native_kind;

/* A context for a handler or turn of actor a on theatre t. */
static inline void stage__ctx_init(stage_ctx_t *ctx, stage__theatre_t *t,
                                   stage__actor_t *a) {
    ctx->t = t;
    ctx->a = a;
    ctx->msg = NULL;
    ctx->has_self = false;
}

/* The native kind's hooks for images (native_image.c, core/kind.h). */
int stage__native_state_export(stage__theatre_t *t, stage__actor_t *a,
                               stage_pack_t *out, char *err, size_t errlen);
int stage__native_state_import(stage__theatre_t *t, stage__actor_t *a,
                               const char *data, size_t len, char *err,
                               size_t errlen);
int stage__native_departing(stage__theatre_t *t, stage__actor_t *a, char *err,
                            size_t errlen);
int stage__native_arrived(stage__theatre_t *t, stage__actor_t *a, char *err,
                          size_t errlen);

/* The C actor whose handler or turn the calling thread runs for node, or
** NULL (outside the actors, or in a Lua actor's turn). */
stage__actor_t *stage__native_running(stage_node_t *node);

/* The theatre that owns a future the calling thread makes for node: its
** own if it runs one of node's theatres, else 0. */
int stage__native_owner(stage_node_t *node);

/* Queue call(t, a, e) as a turn of the C actor serial of node (any
** thread), routed as a message is: it runs between the actor's handlers.
** If the actor is not there (it stopped) or the node stops first, drop(t,
** NULL, e) runs instead. call and drop own e (stage__env_free) and arg.
** 0, or STAGE_ENOMEM: neither runs then. */
int stage__native_turn(stage_node_t *node, uint64_t serial, stage__call_fn call,
                       stage__call_fn drop, void *arg);

/* 1 if args, len is a valid argument list for a send or a spawn: none
** (len 0), or a msgpack array (its header is checked). */
bool stage__native_args_ok(const void *args, size_t len);

/* A plain send (args a msgpack array, or none) from actor a (NULL: from
** outside) to id, with stop the order to stop: if an earlier deferred send
** from the same sender to id holds it, defer it behind (reply may be NULL;
** a reference is taken) and set *deferred. 0, STAGE_EINVAL (args no
** array) or STAGE_ENOMEM (native_pipeline.c). */
int stage__native_defer_plain(stage_node_t *node, stage__actor_t *a,
                              const stage_id_t *id, const char *method,
                              const void *args, size_t len, bool stop,
                              stage__future_t *reply, bool *deferred);

#endif
