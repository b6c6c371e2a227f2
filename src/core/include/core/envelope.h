/*
** core/envelope.h: what travels through a theatre's inbox — envelopes
** (messages, runtime calls, stop orders) and the header every inbox item
** starts with. An envelope is owned by whoever holds it and handed over on
** push; its data is hostile when ENV_REMOTE is set.
*/
#ifndef STAGE_CORE_ENVELOPE_H
#define STAGE_CORE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mpsc.h"
#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__actor stage__actor_t;
typedef struct stage__env stage__env_t;
typedef struct stage__type stage__type_t;
typedef struct stage__future stage__future_t;

enum {
    ENV_MSG = 1,   /* a message for an actor */
    ENV_FUTURE,    /* a future of this theatre completed (it is a future) */
    ENV_CALL,      /* target 0: run call(theatre, NULL, env) on the theatre;
                   ** else a runtime turn of the target (continuation, timer) */
    ENV_STOP_ACTOR /* stop the target actor after its current turn */
};

enum {
    ENV_COUNTED = 1, /* holds one unit of node->work until received */
    ENV_SYSTEM = 2,  /* runtime message (birth, timers, continuations) */
    ENV_REMOTE = 4,  /* came from another node: its data is hostile */
    /* its arguments were not made by the Lua encoder (C, pipelining): the
    ** network checks them before they leave in a frame */
    ENV_UNCHECKED = 8,
    ENV_PLACED = 16, /* a birth at a theatre the spawner named (steal.c) */
    /* a birth coupled with the actor born just before it on its theatre
    ** (its serial less one count: place.c, steal.c) */
    ENV_PAIRED = 32
};

/* The reserved method that replaces one method of its target actor
** (stage.update_method): queued ahead of the messages waiting, so it runs
** right after the current one. */
#define STAGE__UPDATE_METHOD "_stage_update"

typedef void (*stage__call_fn)(stage__theatre_t *t, stage__actor_t *a,
                               stage__env_t *e);

/* Every inbox item starts with this header. */
typedef struct stage__item {
    stage__mpsc_node_t link;
    uint8_t kind;
    uint8_t flags;
} stage__item_t;

struct stage__env {
    stage__item_t hdr;
    uint16_t mlen;           /* method name length (data holds it + NUL) */
    uint16_t target_theatre; /* birth theatre of the target */
    uint32_t len;            /* msgpack args length */
    uint64_t target;         /* target serial */
    uint64_t sender;         /* sender serial, 0 if not an actor */
    stage__type_t *sender_type;
    stage__type_t *target_type;
    stage__future_t *future; /* reply, or NULL; the envelope holds a ref */
    stage__call_fn call;     /* ENV_CALL for a theatre (target 0): run */
    stage__call_fn drop;     /* ENV_CALL never run: release (a == NULL) */
    void *arg;               /* ENV_CALL */
    stage__env_t *next;      /* mailbox link (theatre-local) */
    uint8_t size_class;      /* of its data (ENV_CLASSES: not recycled) */
    char data[];             /* method NUL args */
};

static inline const char *stage__env_method(const stage__env_t *e) {
    return e->data;
}
static inline const char *stage__env_args(const stage__env_t *e) {
    return e->data + e->mlen + 1;
}

/* Envelopes of up to ENV_SMALL data bytes are recycled, in ENV_CLASSES
** classes of size: a one-way message with small arguments (most of them)
** takes 128 bytes, not the 224 of the largest class; a flood queued by
** the million is that much less memory to fault in. */
#define ENV_CLASSES 3
#define ENV_SMALL 127

/* A new message envelope (method + args copied). NULL on ENOMEM. */
stage__env_t *stage__env_new(const char *method, size_t mlen, const void *args,
                             size_t len);
/* A new ENV_CALL envelope for fn(t, NULL, e) with arg; drop (may be NULL)
** releases arg if it never runs. */
stage__env_t *stage__env_call(stage__call_fn fn, stage__call_fn drop,
                              void *arg);
/* Free e, dropping its future reference. */
void stage__env_free(stage__env_t *e);
/* Free t's caches of envelopes and futures (t's thread, at teardown). */
void stage__caches_free(stage__theatre_t *t);
/* e cannot be delivered: its target is unknown. Fail its future with
** ActorNotFound (or log, if it has none) and free it. */
void stage__env_undeliverable(stage_node_t *node, stage__env_t *e);
/* Free e, failing its future with status (STAGE_ESTOPPED at shutdown). */
void stage__env_drop(stage__env_t *e, int status);

#endif
