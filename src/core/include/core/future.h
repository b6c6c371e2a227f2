/*
** core/future.h: futures — the result of a send. Refcounted; any thread
** may complete one (the first completion wins); its continuations belong
** to its owner theatre and run there.
*/
#ifndef STAGE_CORE_FUTURE_H
#define STAGE_CORE_FUTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/envelope.h"
#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__future stage__future_t;
typedef struct stage__cont stage__cont_t;
struct stage__retry;
struct stage__byname;

enum { FUT_PENDING = 0, FUT_WAITING = 1, FUT_EXT_WAITING = 2, FUT_DONE = 4 };

typedef enum {
    CONT_RESUME = 1, /* resume actor's suspended await */
    CONT_CALL        /* fn(t, fut, arg) on the owner theatre */
} stage__cont_kind_t;

/* A continuation. t is NULL when the future is freed without the
** continuation having run (teardown): then only release arg. */
typedef void (*stage__cont_fn)(stage__theatre_t *t, stage__future_t *f,
                               void *arg);

struct stage__cont {
    stage__cont_t *next;
    stage__cont_kind_t kind;
    uint64_t actor; /* CONT_RESUME: serial of the waiting actor */
    stage__cont_fn fn;
    void *arg;
};

struct stage__future {
    stage__item_t hdr; /* pushed on the owner's inbox when done */
    atomic_uint refs;
    atomic_uint state;   /* FUT_* bits */
    atomic_flag claimed; /* first completion wins */
    uint16_t owner;      /* theatre whose thread runs continuations */
    bool observed;       /* someone looked at the result */
    bool promise;        /* made to be completed by the program */
    atomic_bool queued;  /* on the owner's inbox now */
    uint64_t target;     /* serial of the actor that will complete it */
    stage_node_t *node;
    /* result, written once by the completer before state gets FUT_DONE */
    int status; /* 0 or STAGE_E* */
    char *data; /* msgpack value if status == 0 */
    uint32_t len;
    char small[16];       /* data points here for small values */
    char *message;        /* if status < 0 */
    char *actor;          /* id text of the actor that failed, or NULL */
    char *traceback;      /* or NULL */
    stage__cont_t *conts; /* owner theatre only */
    /* Called on the completing thread once the result is published (the
    ** network layer uses it to send a reply to a remote caller). */
    void (*on_done)(stage__future_t *f);
    void *on_done_arg;
    /* A call through a name: its copy, while a failure may still retry it
    ** (core/retry.c); the completion that exchanges it out owns it. */
    _Atomic(struct stage__retry *) retry;
    /* A lookup by name: the name, shared with the references made from
    ** the lookup (a reference held; core/pipeline.h). */
    struct stage__byname *byname;
};

/* A new pending future owned by theatre owner, expected to be completed
** by actor target (serial, 0 if none). One reference. NULL on ENOMEM. */
stage__future_t *stage__future_new(stage_node_t *node, int owner,
                                   uint64_t target);
void stage__future_ref(stage__future_t *f);
void stage__future_unref(stage__future_t *f);
/* Complete f with a msgpack value (copied). Any thread. Returns 1 if this
** completion won, 0 if f was already completed. */
int stage__future_resolve(stage__future_t *f, const char *data, size_t len);
/* Fail f. message, actor and traceback are copied (actor, traceback may be
** NULL). Any thread. Returns 1 if this completion won. */
int stage__future_reject(stage__future_t *f, int status, const char *message,
                         const char *actor, const char *traceback);
/* The reply the actor with id text actor made for f, of len bytes (0:
** unknown, the encoder stopped), is past the node's max_message: fail f
** with TooLarge, and log it with the actor's id, as the caller may be on
** another node. Any thread. */
void stage__future_too_large(stage__future_t *f, const char *actor, size_t len);
/* Copy src's result into dst (src done). Returns 1 if it won. */
int stage__future_forward(stage__future_t *dst, const stage__future_t *src);
static inline bool stage__future_done(const stage__future_t *f) {
    return atomic_load_explicit(&((stage__future_t *)f)->state,
                                memory_order_acquire) &
           FUT_DONE;
}
/* Set a FUT_*WAITING bit unless f is done: 1 if set (f not done). */
int stage__future_mark(stage__future_t *f, unsigned bit);
/* Add a continuation (owner theatre only). If f is already done it runs on
** the owner's next pass, never inside this call. */
int stage__future_on(stage__theatre_t *t, stage__future_t *f,
                     stage__cont_kind_t kind, uint64_t actor, stage__cont_fn fn,
                     void *arg);
/* Run f's continuations (owner theatre, f done). */
void stage__future_fire(stage__theatre_t *t, stage__future_t *f);
/* f, taken from its owner's inbox at teardown, never fires: release its
** continuations as a freed future does (they may hold references that
** keep f alive: a join's parts, a deadline's timer) and the inbox's
** reference. */
void stage__future_abandon(stage__future_t *f);

/* Add a CONT_CALL continuation fn(t, f, arg) from any thread: at once on
** f's owner theatre, else through a call pushed to the owner (fn(NULL, f,
** arg) runs if the owner never takes it). 0, or STAGE_ENOMEM: fn is then
** never called. */
int stage__future_on_any(stage__future_t *f, stage__cont_fn fn, void *arg);

/* Fail f with Timeout unless it completes within secs (f's owner theatre
** t only). The deadline's timer holds f and is disarmed when f completes
** first, so it keeps no idle node alive; it does not count as looking at
** f (an unobserved failure is still logged). 0 or STAGE_ENOMEM. */
int stage__future_due(stage__theatre_t *t, stage__future_t *f, double secs);

/* A new future of theatre t (its thread) that resolves to nil after secs;
** its timer keeps the node running until then. NULL on ENOMEM. */
stage__future_t *stage__future_sleep(stage__theatre_t *t, double secs);

/* A new future owned by theatre owner: the msgpack array of the values of
** parts[0..n) in order once all succeed, or the first failure. The parts
** are borrowed and may belong to any theatre of node; the join holds a
** part only once it has completed, so one freed unfinished (nobody can
** complete it) fails the join with Canceled. Its target (the Deadlock
** check of await) is the running actor's if a part waits on it, else the
** first part's. Any thread; NULL on ENOMEM. */
stage__future_t *stage__future_join(stage_node_t *node, int owner,
                                    stage__future_t *const *parts, size_t n);

#endif
