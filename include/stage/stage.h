/*
** stage/stage.h: the Stage runtime as a C library.
**
** A node runs T theatres (one OS thread each, one per core by default). Actors
** live in a theatre and handle one message at a time. Actors are written in Lua
** (load a script with stage_node_load_script) or in C (register a native type
** with stage_type_register); both kinds message each other freely.
**
** Values crossing actors are MessagePack: message arguments are one msgpack
** array, a reply is one msgpack value. stage/pack.h has small helpers to write
** and read them; any msgpack library works too. Actor ids travel as the
** msgpack ext type STAGE_MSGPACK_EXT_ID.
**
** Threads: functions taking a stage_ctx_t run inside a handler, on the
** actor's theatre thread, and only there. Functions taking a stage_node_t
** may be called from any thread unless they say otherwise.
**
** What a node does to the process (Linux only: futexes, real-time signals):
**   - stage_node_start installs a handler for the real-time signal
**     SIGRTMIN+3, which a watchdog thread sends to a theatre whose Lua
**     handler has run past half a slice (preemption). Leave that signal
**     to Stage.
**   - stage_node_network sets SIGPIPE to ignored if it is at its default
**     (a program's own handler is left alone), and with
**     cfg.handle_signals catches SIGTERM and SIGINT to stop the node.
**   - Output of the stdout environment actor (Lua print) goes to the C
**     stdout stream, flushed when that actor's mailbox is empty and when
**     stage_node_wait returns.
**   - Stage's log lines go to stderr, or to the function given to
**     stage_set_log (stage/log.h). Repeated lines are folded into one
**     with a count: the first time a line is held back a small thread
**     starts to write the counts when their second is over, and an atexit
**     handler writes those still open when the process exits.
*/
#ifndef STAGE_STAGE_H
#define STAGE_STAGE_H

#include "stage/common.h"

#include <stddef.h>
#include <stdint.h>

#include "stage/alloc.h"
#include "stage/errors.h"
#include "stage/id.h"
#include "stage/log.h"
#include "stage/pack.h"

STAGE_BEGIN_DECLS

/* The version of the library the program runs with: STAGE_VERSION_HEX's
** number and STAGE_VERSION's text, which a program built against other
** headers may compare. Any thread. */
STAGE_EXTERN unsigned stage_version(void);
STAGE_EXTERN const char *stage_version_string(void);

typedef struct stage_node stage_node_t;     /* opaque: one node */
typedef struct stage_ctx stage_ctx_t;       /* opaque: the running actor */
typedef struct stage_future stage_future_t; /* opaque: a pending result */
typedef struct stage_msg stage_msg_t;       /* opaque: a received message */

/* ---- node ---------------------------------------------------------------- */

typedef struct stage_node_config {
    int theatres;        /* theatre threads; 0 = one per core */
    const char *address; /* node address used in ids; NULL = "local" */
    double slice_secs;   /* a handler running longer is preempted (0.01) */
    double budget_secs;  /* a handler running longer gets an error (10) */
    double call_timeout; /* default await timeout in seconds; 0 = none */
    /* When the node stops, the deaths of its live actors get this long in
    ** all (5); one still running then is failed (Lua) or given up on. */
    double stop_grace_secs;
} stage_node_config_t;

/* Fill *cfg with the defaults. */
STAGE_EXTERN void stage_node_config_init(stage_node_config_t *cfg);

/* Create a node (not yet running). cfg may be NULL for the defaults.
** Returns 0 and *out, or STAGE_EINVAL / STAGE_ENOMEM. */
STAGE_EXTERN int stage_node_new(stage_node_t **out,
                                const stage_node_config_t *cfg);

/* Stop (if running), join the theatres and free everything. Sets *node to
** NULL. Not from a theatre thread. */
STAGE_EXTERN void stage_node_destroy(stage_node_t **node);

/* Check that the Lua script at path can be read and compiles, without
** running it: 0, or STAGE_ESCRIPT with "cannot open script 'path': reason"
** or "file:line: message" (a syntax error) in err. No node needed: a
** program checks its script before it opens a port. Any thread. */
STAGE_EXTERN int stage_script_check(const char *path, char *err, size_t errlen);

/* Load a Lua script in every theatre: its top level runs there and defines
** actor types. Before stage_node_start only. On a syntax or runtime error
** returns STAGE_ESCRIPT with "file:line: message" in err. */
STAGE_EXTERN int stage_node_load_script(stage_node_t *node, const char *path,
                                        char *err, size_t errlen);

/* Run the loaded script's main(args) in a pinned actor on theatre 0 once
** the node starts. argv is copied. An error in main makes the node exit with
** status 1 after printing "file:line: message". Before stage_node_start. */
STAGE_EXTERN int stage_node_run_main(stage_node_t *node, int argc,
                                     const char *const *argv);

/* Start the theatre threads; returns at once. */
STAGE_EXTERN int stage_node_start(stage_node_t *node);

/* Block until the node stops: at quiescence (no runnable actor, pending
** timer or outstanding external hold) or on stage_node_stop/stage_exit.
** Then every live actor's death runs (youngest first in each theatre, the
** theatres in parallel) within cfg.stop_grace_secs; a theatre still in a
** death a second after that is given up on (logged): the node is then
** leaked by stage_node_destroy. Returns the exit status. Not from a
** theatre thread. */
STAGE_EXTERN int stage_node_wait(stage_node_t *node);

/* stage_node_start then stage_node_wait. */
STAGE_EXTERN int stage_node_run(stage_node_t *node);

/* Ask the node to stop with exit status code. Any thread; returns at once. */
STAGE_EXTERN void stage_node_stop(stage_node_t *node, int code);

/* Keep the node from stopping at quiescence until the matching release,
** e.g. while an outside thread will still send. Any thread. */
STAGE_EXTERN void stage_node_hold(stage_node_t *node);
STAGE_EXTERN void stage_node_release(stage_node_t *node);

/* The number of theatres of a node. */
STAGE_EXTERN int stage_node_theatres(const stage_node_t *node);

/* ---- native actor types ----------------------------------------------------
 */

typedef enum stage_kind {
    STAGE_KIND_MOBILE = 0, /* the default: may be moved */
    STAGE_KIND_PINNED,     /* stays in its theatre: devices, files, stdout */
    STAGE_KIND_CREATABLE   /* stateless, created on demand, one per theatre */
} stage_kind_t;

/* A handler. state points at the actor's state_size bytes; msg is borrowed
** for the duration of the call. */
typedef void (*stage_handler_fn)(stage_ctx_t *ctx, void *state,
                                 const stage_msg_t *msg);

typedef struct stage_method {
    const char *name;
    stage_handler_fn fn;
} stage_method_t;

typedef struct stage_type_def {
    const char *name; /* see stage_type_name_valid */
    stage_kind_t kind;
    const char *super;             /* supertype name, or NULL */
    size_t state_size;             /* zeroed bytes per actor */
    const stage_method_t *methods; /* ends with {NULL, NULL} */
    /* Optional: runs first, with the spawn arguments as its message. */
    stage_handler_fn birth;
    /* Optional: runs when the actor stops. */
    void (*death)(stage_ctx_t *ctx, void *state);
    /* Optional, for migration: state to msgpack (append to a buffer you
    ** get from stage_pack_*), and back. 0 or a negative STAGE_E* code. */
    int (*encode)(const void *state, stage_pack_t *out);
    int (*decode)(void *state, const char *data, size_t len);
} stage_type_def_t;

/* Register a native type with every theatre. def and the strings and
** methods it points to must outlive the node. Before stage_node_start.
** STAGE_EINVAL for a bad name, STAGE_EEXISTS if the type exists. */
STAGE_EXTERN int stage_type_register(stage_node_t *node,
                                     const stage_type_def_t *def);

/* ---- inside a handler ------------------------------------------------------
 */

/* The running actor's id (borrowed, valid during the handler). */
STAGE_EXTERN const stage_id_t *stage_self(stage_ctx_t *ctx);
/* The node the running actor belongs to. */
STAGE_EXTERN stage_node_t *stage_ctx_node(stage_ctx_t *ctx);
/* The index of the running actor's theatre. */
STAGE_EXTERN int stage_ctx_theatre(stage_ctx_t *ctx);

/* Spawn an actor of type on this theatre (theatre < 0) or on the given one.
** args is a msgpack array (or NULL, 0 for none) passed to birth. */
STAGE_EXTERN int stage_spawn(stage_ctx_t *ctx, const char *type, int theatre,
                             const void *args, size_t len, stage_id_t *out);

/* Send method(args) to 'to'. args is a msgpack array or NULL, 0 (only its
** header is checked here; a malformed body fails when the receiver reads
** it, and that failure reaches the future). If fut is
** not NULL, *fut receives a new future for the reply (release it, or give
** it to stage_future_then). Messages from one actor to another arrive in
** send order. Errors found later (unknown actor, failed handler) reach the
** future; with fut NULL they are logged. STAGE_EACTOR_NOT_FOUND at once for
** an id of this node of an unknown type or of an earlier run of this node
** (its address, another incarnation). */
STAGE_EXTERN int stage_send(stage_ctx_t *ctx, const stage_id_t *to,
                            const char *method, const void *args, size_t len,
                            stage_future_t **fut);

/* Complete the sender's future with value (one msgpack value). At most once
** per message; a handler that does not reply completes it with nil. */
STAGE_EXTERN int stage_reply(stage_ctx_t *ctx, const stage_msg_t *msg,
                             const void *value, size_t len);
/* Fail the sender's future with a typed error and a message. */
STAGE_EXTERN int stage_reply_error(stage_ctx_t *ctx, const stage_msg_t *msg,
                                   int code, const char *message);

/* Stop the running actor after this handler; death runs then. */
STAGE_EXTERN void stage_stop(stage_ctx_t *ctx);
/* Stop actor to, of this node or another: the order is queued behind the
** messages sent to it before. fut (may be NULL) completes with true once
** the actor has taken it (its death runs next), or fails (ActorNotFound,
** NodeUnreachable, ...). 0 or STAGE_E* as stage_send. */
STAGE_EXTERN int stage_stop_actor(stage_ctx_t *ctx, const stage_id_t *to,
                                  stage_future_t **fut);
/* Stop the node with exit status code after this handler. */
STAGE_EXTERN void stage_exit(stage_ctx_t *ctx, int code);

/* The method name and the msgpack array of arguments of msg (borrowed). */
STAGE_EXTERN const char *stage_msg_method(const stage_msg_t *msg);
STAGE_EXTERN void stage_msg_args(const stage_msg_t *msg, const char **data,
                                 size_t *len);
/* A cursor over the arguments of msg, past the array header; *argc gets
** their number. 0 or STAGE_EDECODE. */
STAGE_EXTERN int stage_msg_unpack(const stage_msg_t *msg, stage_unpack_t *u,
                                  uint32_t *argc);
/* The sender's id, or NULL when the sender was not an actor. */
STAGE_EXTERN const stage_id_t *stage_msg_sender(const stage_msg_t *msg);

/* ---- outside actors (any thread) --------------------------------------------
 */

/* As stage_spawn and stage_send, from a thread that is not running a
** handler (the program's main thread, say). Futures of these sends run
** their callbacks on theatre 0. */
STAGE_EXTERN int stage_node_spawn(stage_node_t *node, const char *type,
                                  int theatre, const void *args, size_t len,
                                  stage_id_t *out);
STAGE_EXTERN int stage_node_send(stage_node_t *node, const stage_id_t *to,
                                 const char *method, const void *args,
                                 size_t len, stage_future_t **fut);
/* stage_stop_actor from outside the actors. */
STAGE_EXTERN int stage_node_stop_actor(stage_node_t *node, const stage_id_t *to,
                                       stage_future_t **fut);

/* ---- futures ----------------------------------------------------------------
 */

typedef struct stage_result {
    int status;       /* 0, or the negative STAGE_E* code of the failure */
    const char *data; /* status 0: the msgpack value */
    size_t len;
    const char *message; /* status < 0: what happened, with the actor's id */
} stage_result_t;

typedef void (*stage_future_fn)(void *ud, const stage_result_t *res);

/* Call fn(ud, result) once f completes, on the theatre that made f, as a
** turn of its own. Takes ownership of f. */
STAGE_EXTERN int stage_future_then(stage_future_t *f, stage_future_fn fn,
                                   void *ud);

/* Block the calling thread until f completes or timeout_secs pass (< 0:
** forever); on completion *res is filled and stays valid until f is
** released. Not from a theatre thread (it would stall the theatre): returns
** STAGE_EDEADLOCK there. STAGE_ETIMEOUT on timeout. */
STAGE_EXTERN int stage_future_wait(stage_future_t *f, double timeout_secs,
                                   stage_result_t *res);

/* Drop a future; its result, if it ever fails, is logged. Sets *f NULL. */
STAGE_EXTERN void stage_future_release(stage_future_t **f);

STAGE_END_DECLS

#endif
