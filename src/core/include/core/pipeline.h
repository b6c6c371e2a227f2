/*
** core/pipeline.h: sends whose target or arguments are not known yet —
** far references and promise pipelining — shared by the Lua binding and
** the C API.
**
** A send's target is an id, or a pending lookup (a future of an id: a far
** reference). Its arguments are encoded values or futures. A send with a
** pending future among them is *deferred*: it waits in its sender's queue
** (stage__actor_t.deferred; from outside the actors, theatre 0's) until
** they are done, without blocking the sender. A later send to the same
** target queues behind it, so a sender's messages to one target keep their
** order. A failed lookup or argument fails the send's future and the
** message is not delivered; a sender that stops fails its unsent messages
** with Stopped.
**
** A target found by name (find_name) keeps the name (stage__byname_t): a
** call through it that fails with ActorNotFound, NodeDown or
** NodeUnreachable looks the name up once more, bypassing the name cache,
** and if it now names another actor the call goes there and every copy of
** the target follows (thesis Listing 4.10; core/retry.c).
**
** The fast path — a resolved target, no pending future, nothing deferred —
** never comes here beyond stage__pipeline_send.
** Threads: the sender's theatre, except where noted.
*/
#ifndef STAGE_CORE_PIPELINE_H
#define STAGE_CORE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/future.h"
#include "stage/stage.h"

/* The name a target was found by, and the id a retry found for it since:
** shared by the lookup's future and every target made from it. gen counts
** the ids retries found (0: none yet; id is then unset). Refcounted; any
** thread. */
typedef struct stage__byname stage__byname_t;

/* Where a send goes: id (with its local type, or NULL), or, while pending
** is set, the lookup that will give it (a reference held). byname (a
** reference held, or NULL) is the name it was found by; gen the byname
** generation id follows. */
typedef struct stage__target {
    stage_id_t id;
    stage__type_t *type;
    stage__future_t *pending;
    stage__byname_t *byname;
    unsigned gen;
} stage__target_t;

/* One argument: the value of future f, or an encoded value (data, len). */
typedef struct stage__parg {
    stage__future_t *f;
    const char *data;
    size_t len;
} stage__parg_t;

/* The target id, with its type if it is an actor of this node; no lookup,
** no name. */
void stage__target_set(stage_node_t *node, stage__target_t *to,
                       const stage_id_t *id);
/* Take a far target's id once its lookup is done, and the id a retry
** through its name found since: 0 (to->pending says whether it still
** runs), or the lookup's failure (to stays pending and keeps failing sends
** the same way). Any thread that owns *to. */
int stage__target_settle(stage_node_t *node, stage__target_t *to);

/* A new byname for name, or NULL on ENOMEM. Any thread. */
stage__byname_t *stage__byname_new(const char *name);
void stage__byname_ref(stage__byname_t *b);
void stage__byname_unref(stage__byname_t *b);
/* If a retry through to's name found another id since to took its own,
** point to there. Any thread that owns *to. */
void stage__target_follow(stage_node_t *node, stage__target_t *to);

/* Keep a copy of the call method(args) to `to` (found by name) from actor
** a (NULL: outside) on reply, so that a failure of reply with ActorNotFound,
** NodeDown or NodeUnreachable retries it once through the name instead
** (core/retry.c). 0 or STAGE_ENOMEM. Any thread, before the call is
** routed. */
int stage__retry_arm(stage_node_t *node, stage__actor_t *a,
                     const stage__target_t *to, const char *method, size_t mlen,
                     const char *args, size_t len, stage__future_t *reply);

/* Queue method(args, a msgpack array) to a resolved target now, from actor
** a (NULL: outside the actors); with stop, the order to stop instead.
** reply (may be NULL) gets a reference of the envelope's; through a name
** (to->byname) it also keeps a copy of the call for one retry. A target
** that cannot be reached, or arguments past the node's max_message, fail
** reply with the reason (or it is logged): 0; STAGE_ENOMEM, reply failed
** too. checked: args come from the Lua encoder (well-formed, 32 levels at
** most); else the network checks them (ENV_UNCHECKED). Any thread. */
int stage__pipeline_send(stage_node_t *node, stage__actor_t *a,
                         const stage__target_t *to, const char *method,
                         size_t mlen, const char *args, size_t len,
                         stage__future_t *reply, bool stop, bool checked);

/* 1 if a send from a (NULL: from outside, on theatre 0) to `to` must wait
** behind an earlier deferred send to the same target. */
bool stage__pipeline_blocked(stage_node_t *node, stage__actor_t *a,
                             stage__target_t *to);

/* 1 if a send with these arguments to `to` from a must be deferred: a
** pending target or argument future, a failed one, or an earlier deferred
** send to `to`. */
bool stage__pipeline_needed(stage_node_t *node, stage__actor_t *a,
                            stage__target_t *to, const stage__parg_t *args,
                            int n);

/* Defer method(args[0..n)) from actor a of theatre t (a NULL: from outside
** the actors, t theatre 0) until its futures are done; it goes at once if
** nothing holds it. Copies the values, takes references on the futures,
** the target's lookup and reply (may be NULL). 0, or STAGE_ENOMEM: nothing
** is queued and reply is untouched. */
int stage__pipeline_defer(stage__theatre_t *t, stage__actor_t *a,
                          const stage__target_t *to, const char *method,
                          const stage__parg_t *args, int n,
                          stage__future_t *reply, bool stop);

/* The same from any thread outside the actors: the send is handed to
** theatre 0, which defers it there; until it has gone, the node's other
** sends from outside go through theatre 0 too, behind it. */
int stage__pipeline_defer_outside(stage_node_t *node, const stage__target_t *to,
                                  const char *method, const stage__parg_t *args,
                                  int n, stage__future_t *reply, bool stop);
/* 1 while sends from outside must go through theatre 0 (an earlier one
** is deferred there). Any thread. */
bool stage__pipeline_outside_busy(stage_node_t *node);

/* Actor a stopped: its deferred sends fail with Stopped. */
void stage__deferred_abandon(stage__actor_t *a);
/* The node's teardown: theatre 0's deferred sends from outside fail. */
void stage__deferred_abandon_outside(stage_node_t *node);

#endif
