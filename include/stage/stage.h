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
** Threads: functions taking a stage_ctx_t run inside a handler or a turn
** of the actor (a timer's callback, a future's callback given a ctx), on
** the actor's theatre thread, and only there. Functions taking a
** stage_node_t may be called from any thread unless they say otherwise.
**
** Errors: functions return 0 or a negative STAGE_E* code (stage/errors.h);
** a call that returns an error never calls its callback. Failures found
** later reach a future; one that nobody looks at is logged.
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
    /* The largest message, in bytes, encoded (msgpack): a message's
    ** arguments, a spawn's, a reply's value. The same limit holds for
    ** actors of this node and of others; past it the sender gets TooLarge.
    ** 0 = STAGE_MAX_MESSAGE_DEFAULT; else STAGE_MAX_MESSAGE_MIN to
    ** STAGE_MAX_MESSAGE_MAX. */
    size_t max_message;
    /* The cap of each theatre's Lua heap, in bytes: an actor whose
    ** allocation would pass it (after a full collection) gets a
    ** MemoryExceeded error that fails its message; the theatre serves on.
    ** 0 = no cap. Default STAGE_MEMORY_LIMIT_DEFAULT. */
    size_t memory_limit;
    /* A directory the node's Files environment actor reads and writes
    ** under (stage_node_files), or NULL for none. Opened by
    ** stage_node_new (STAGE_EIO if it cannot be): the string is
    ** borrowed for that call only. */
    const char *files_dir;
} stage_node_config_t;

/* A message's limit by default: 8 MiB less the 1 KiB kept for what
** carries it between nodes, so that any message fits in one frame. */
#define STAGE_MAX_MESSAGE_DEFAULT (((size_t)8 << 20) - 1024)
#define STAGE_MAX_MESSAGE_MIN ((size_t)1024)
#define STAGE_MAX_MESSAGE_MAX ((size_t)1 << 30)

/* Each theatre's Lua heap cap by default: 1 GiB. */
#define STAGE_MEMORY_LIMIT_DEFAULT ((size_t)1 << 30)
#define STAGE_MEMORY_LIMIT_MIN ((size_t)4 << 20)

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
** returns STAGE_ESCRIPT with "file:line: message" in err. path NULL: no
** script, but the theatres run Lua, so a networked node runs the Lua
** types it fetches from the sources store (docs/lua-api.md). */
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

/* Ask the node to stop with exit status code, 0 to 255 (what a process can
** exit with): any other code is logged as an error and the node's status
** is 1, not the code's low byte. Any thread; returns at once. */
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

/* What a handler that fails (stage_fail) leaves behind: the policy of its
** type. RESTART, the default, runs death, zeroes the state and runs birth
** again with the spawn arguments, keeping the actor's id and names, its
** queued messages and the sends it made; its timers are cancelled. KEEP
** serves on with the state as the handler left it; STOP stops the actor
** (death runs; its queued messages fail with ActorNotFound). A birth that
** fails stops the actor, but under KEEP. */
typedef enum stage_on_error {
    STAGE_ON_ERROR_RESTART = 0,
    STAGE_ON_ERROR_KEEP,
    STAGE_ON_ERROR_STOP
} stage_on_error_t;

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
    /* Optional, for migration: state to one msgpack value (append it to
    ** out), and back (data is that value, checked to be well formed, and
    ** state is zeroed). 0 or a negative STAGE_E* code. A type without them
    ** cannot move (docs/c-api.md, "Moving actors"). */
    int (*encode)(const void *state, stage_pack_t *out);
    int (*decode)(void *state, const char *data, size_t len);
    /* What a failed handler leaves behind (see stage_on_error_t). With
    ** RESTART, an actor that would restart a max_restarts + 1st time within
    ** restart_window seconds stops instead (a crash loop). 0: the defaults,
    ** 10 restarts within 10 s. */
    stage_on_error_t on_error;
    int max_restarts;
    double restart_window;
    /* Optional, for migration: departing runs as a turn of the actor just
    ** before its state is encoded to move (cancel its watches of nodes
    ** there, which do not travel; its timers and monitors of actors go
    ** with it inside a node); 0, or a negative STAGE_E* code to
    ** refuse the move (the actor stays as it is). arrived runs as a turn
    ** where it arrived, after decode and before its queued messages (set
    ** them again there); also where it stayed, if the move is refused
    ** after departing ran. Neither runs before the actor's birth. */
    int (*departing)(stage_ctx_t *ctx, void *state);
    void (*arrived)(stage_ctx_t *ctx, void *state);
} stage_type_def_t;

/* Register a native type with every theatre. def and the strings and
** methods it points to must outlive the node. Before stage_node_start.
** STAGE_EINVAL for a bad name, on_error, max_restarts (< 0) or
** restart_window (< 0, infinite or not a number), STAGE_EEXISTS if the
** type exists. */
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

/* Spawn an actor of type on the given theatre, or (theatre < 0) where
** placement puts it: this theatre, unless the type is mobile and this
** theatre is saturated while another is clearly lighter (pinned and
** creatable types: always this one). out gets its id, which names that
** theatre. args is a msgpack array (or NULL, 0 for none) passed to birth;
** STAGE_ETOOBIG past the node's max_message. */
STAGE_EXTERN int stage_spawn(stage_ctx_t *ctx, const char *type, int theatre,
                             const void *args, size_t len, stage_id_t *out);

/* Spawn type on the node at address ("host:port"; this node's own address
** spawns here) with args for birth (a msgpack array, or NULL, 0). *fut
** gets a new future of the new actor's id (stage_result_id reads it),
** failing with TypeNotFound if that node has no such type, or
** NodeUnreachable. Returns 0, STAGE_EINVAL (a bad type name or address,
** args not an array, fut NULL), STAGE_ETYPE_NOT_FOUND (this node's address
** and no such type), STAGE_EUNREACHABLE (another address, and this node
** has no network), STAGE_ETOOBIG (args past max_message; that node's
** smaller limit fails *fut with TooLarge) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_spawn_at(stage_ctx_t *ctx, const char *address,
                                const char *type, const void *args, size_t len,
                                stage_future_t **fut);

/* Send method(args) to 'to'. args is a msgpack array or NULL, 0 (only its
** header is checked here; a malformed body fails when the receiver reads
** it, or before it leaves for another node, and that failure reaches the
** future); STAGE_ETOOBIG past the node's max_message. If fut is
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
** per message; a handler that does not reply completes it with nil. A
** value past the node's max_message fails the sender's future with
** TooLarge instead (logged with the actor's id) and returns
** STAGE_ETOOBIG. */
STAGE_EXTERN int stage_reply(stage_ctx_t *ctx, const stage_msg_t *msg,
                             const void *value, size_t len);
/* Fail the sender's future with a typed error and a message. */
STAGE_EXTERN int stage_reply_error(stage_ctx_t *ctx, const stage_msg_t *msg,
                                   int code, const char *message);
/* Delegate the reply to msg to f: the sender's future completes as f does
** (a Lua handler that returns a future does this), so a handler can answer
** after it has returned — with a future of a send, or one it completes
** itself (stage_future_new). Borrows f (release yours as usual); if every
** reference to f goes before it completes, the sender's future fails with
** Canceled. 0, STAGE_EEXISTS (msg has had its reply), STAGE_EINVAL (f
** NULL) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_reply_future(stage_ctx_t *ctx, const stage_msg_t *msg,
                                    stage_future_t *f);

/* Stop the running actor after this handler; death runs then. */
STAGE_EXTERN void stage_stop(stage_ctx_t *ctx);
/* The running handler or turn failed, and may have left the state half
** changed (a Lua handler's error): the reply to the message it handles,
** if not given yet, fails with HandlerError and message (NULL: "the
** handler failed"), or the failure is logged; after the handler returns,
** the type's on_error policy applies (stage_on_error_t). Return from the
** handler after calling it. A failure that does not touch the state is a
** reply: stage_reply_error. Once per turn; in death it is only logged. */
STAGE_EXTERN void stage_fail(stage_ctx_t *ctx, const char *message);
/* Stop actor to, of this node or another: the order is queued behind the
** messages sent to it before. fut (may be NULL) completes with true once
** the actor has taken it (its death runs next), or fails (ActorNotFound,
** NodeUnreachable, ...). 0 or STAGE_E* as stage_send. */
STAGE_EXTERN int stage_stop_actor(stage_ctx_t *ctx, const stage_id_t *to,
                                  stage_future_t **fut);
/* Stop the node with exit status code (0 to 255, as stage_node_stop)
** after this handler. */
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
/* Move the running actor to theatre `theatre` of this node once this
** handler is over (weak mobility: it takes no other message first). A move
** refused (a type without encode/decode, state encode cannot write, a
** pinned actor, ...) is logged and the actor stays, serving. To another
** node: stage_migrate_node. 0, STAGE_EINVAL (no such theatre, or a move
** asked already in this handler) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_migrate(stage_ctx_t *ctx, int theatre);
/* Move actor `who` of this node to theatre `theatre` once it is between
** two messages (suspended in a handler: once that handler is over). *fut
** (may be NULL) gets its id at its new place, or the reason it stayed
** (NotSendable naming what cannot travel, InvalidArgument for a pinned
** actor, ActorNotFound, ...): the actor then stays, serving. Moves of one
** actor run one after another, in the order asked. 0, STAGE_EINVAL (no
** such theatre, or `who` is another node's: stage_migrate_actor_node
** moves between nodes) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_migrate_actor(stage_ctx_t *ctx, const stage_id_t *who,
                                     int theatre, stage_future_t **fut);
/* Moves to another node (docs/migration.md "Between nodes"): as
** stage_migrate and stage_migrate_actor, to the node at address `where`
** ("host:port"; this node's own: the actor's birth theatre). `who` may be
** an actor of another node: its node is asked. *fut gets its id at its new
** place (a new id on another node; its first id still reaches it), or why
** it stayed: besides stage_migrate_actor's reasons, NotSendable for an
** actor with timers that may still fire, monitors of its own, or others'
** monitors on it (they move with it only inside a node). 0,
** STAGE_EINVAL (no network, `where` not a node address, or a move asked
** already in this handler) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_migrate_node(stage_ctx_t *ctx, const char *where);
STAGE_EXTERN int stage_migrate_actor_node(stage_ctx_t *ctx,
                                          const stage_id_t *who,
                                          const char *where,
                                          stage_future_t **fut);
/* stage_migrate_actor_node from outside the actors (futures of theatre 0). */
STAGE_EXTERN int stage_node_migrate_actor_node(stage_node_t *node,
                                               const stage_id_t *who,
                                               const char *where,
                                               stage_future_t **fut);
/* stage_stop_actor from outside the actors. */
STAGE_EXTERN int stage_node_stop_actor(stage_node_t *node, const stage_id_t *to,
                                       stage_future_t **fut);
/* stage_migrate_actor from outside the actors (futures of theatre 0). */
STAGE_EXTERN int stage_node_migrate_actor(stage_node_t *node,
                                          const stage_id_t *who, int theatre,
                                          stage_future_t **fut);
/* stage_spawn_at from outside the actors. */
STAGE_EXTERN int stage_node_spawn_at(stage_node_t *node, const char *address,
                                     const char *type, const void *args,
                                     size_t len, stage_future_t **fut);
/* The id of the node's stdout environment actor (Lua's stage.stdout):
** print(...) and write(s) sent to it keep their order with what Lua actors
** print. Any thread. */
STAGE_EXTERN void stage_node_stdout(stage_node_t *node, stage_id_t *out);
/* The id of the node's Stdin environment actor (Lua's stage.stdin):
** subscribe(ref [, method]) sends each line of the process's standard
** input to ref as method(line) ("line" by default), then method(nil) at
** its end; it reads only once someone subscribed, and holds the node
** until the end; unsubscribe(ref). Any thread. */
STAGE_EXTERN void stage_node_stdin(stage_node_t *node, stage_id_t *out);
/* The id of the node's Files environment actor (Lua's stage.files), which
** reads and writes under cfg.files_dir: read(path), write(path, s),
** append(path, s), list([path]), exists(path); paths relative to that
** directory, without '..' or symbolic links. 0, or STAGE_EINVAL if the
** node has no files_dir. Any thread. */
STAGE_EXTERN int stage_node_files(stage_node_t *node, stage_id_t *out);

/* ---- promise pipelining and far references ----------------------------------
**
** A send may take futures among its arguments (stage_arg_t) and may go
** to an actor not found yet, through the future of its lookup
** (stage_find_name's, stage_spawn_at's, ...: a far reference). Such a send
** returns at once; the message goes once the lookup and the futures are
** done, with their values in place, without blocking the sender. A
** sender's messages to one target keep their order: a send (stage_send
** too) behind an earlier waiting one to the same target waits for it. A
** lookup that fails fails the send's future with its error (NameNotFound,
** ...); an argument that fails fails it naming the argument; an actor that
** stops with sends still waiting fails them with Stopped.
*/

/* One argument of a send: an encoded msgpack value (data, len: one value,
** borrowed for the call), or, with future set, the value that future
** resolves to (borrowed: Stage holds its own reference until the send). */
typedef struct stage_arg {
    const void *data;
    size_t len;
    stage_future_t *future;
} stage_arg_t;

/* Send method(args[0..n)) to 'to' as stage_send does, with futures among
** the arguments. *fut (fut may be NULL) gets a new future of the reply. 0,
** STAGE_EINVAL (a bad method, more than 250 arguments, a value that is
** not one msgpack value, a future of another node), the codes of
** stage_send for 'to', or STAGE_ENOMEM. */
STAGE_EXTERN int stage_send_args(stage_ctx_t *ctx, const stage_id_t *to,
                                 const char *method, const stage_arg_t *args,
                                 size_t n, stage_future_t **fut);
/* The same to the actor whose id lookup (a future of an id, borrowed)
** gives: a far reference. A lookup that fails, or gives no id, fails *fut
** (or is logged) and the message is not sent. Through stage_find_name's
** lookup, a send with *fut whose actor is gone (ActorNotFound, NodeDown,
** NodeUnreachable) looks the name up once more and goes to the actor that
** holds it now, if another does; later sends through lookup go there too
** (docs/c-api.md, "A far reference found by name"). 0, STAGE_EINVAL or
** STAGE_ENOMEM. */
STAGE_EXTERN int stage_send_far(stage_ctx_t *ctx, stage_future_t *lookup,
                                const char *method, const stage_arg_t *args,
                                size_t n, stage_future_t **fut);
/* stage_send_args and stage_send_far from outside the actors (any thread):
** the node's sends from outside keep their order per target as an
** actor's do; their futures belong to theatre 0. */
STAGE_EXTERN int stage_node_send_args(stage_node_t *node, const stage_id_t *to,
                                      const char *method,
                                      const stage_arg_t *args, size_t n,
                                      stage_future_t **fut);
STAGE_EXTERN int stage_node_send_far(stage_node_t *node, stage_future_t *lookup,
                                     const char *method,
                                     const stage_arg_t *args, size_t n,
                                     stage_future_t **fut);

/* stage_stop_actor to the actor whose id lookup gives (a far reference):
** the order waits for the lookup and for the sends made through it
** before, as they wait for each other. *fut (may be NULL) gets true once
** the actor has taken it, or the lookup's failure. 0, STAGE_EINVAL or
** STAGE_ENOMEM. */
STAGE_EXTERN int stage_stop_far(stage_ctx_t *ctx, stage_future_t *lookup,
                                stage_future_t **fut);
/* stage_stop_far from outside the actors (any thread). */
STAGE_EXTERN int stage_node_stop_far(stage_node_t *node, stage_future_t *lookup,
                                     stage_future_t **fut);

/* ---- names and lookups ------------------------------------------------------
**
** On an embedded node these look at the node itself; on a node with a
** network (stage/net.h) they go through the directory of its system, the
** DHT. A name is 1 to 255 bytes; a type name is one stage_type_name_valid
** accepts (another cannot exist: STAGE_EINVAL). Each call gives a new
** future (release it, or give it to stage_future_then); from a handler its
** callbacks run as turns of the actor, from outside on theatre 0. Each
** returns 0, STAGE_EINVAL (a bad name, fut NULL where a future is the
** point) or STAGE_ENOMEM.
*/

/* Bind name to actor id (NULL: the running actor). *fut (fut may be NULL:
** a failure is then logged) completes with true, or fails with
** AlreadyExists (another actor holds it) or ActorNotFound (id has stopped).
** A name goes when its actor stops (or with its node): there is no call to
** release it sooner. A name for another node's actor is held by that
** node. */
STAGE_EXTERN int stage_name(stage_ctx_t *ctx, const char *name,
                            const stage_id_t *id, stage_future_t **fut);
/* stage_name from outside the actors; id is required. */
STAGE_EXTERN int stage_node_name(stage_node_t *node, const char *name,
                                 const stage_id_t *id, stage_future_t **fut);

/* *fut: a future of the id of the actor named name (an msgpack id:
** stage_result_id reads it), or NameNotFound. */
STAGE_EXTERN int stage_find_name(stage_ctx_t *ctx, const char *name,
                                 stage_future_t **fut);
STAGE_EXTERN int stage_node_find_name(stage_node_t *node, const char *name,
                                      stage_future_t **fut);
/* *fut: a future of the id of a random actor of type (one of this node's
** when it has one), or TypeNotFound. */
STAGE_EXTERN int stage_find_type(stage_ctx_t *ctx, const char *type,
                                 stage_future_t **fut);
STAGE_EXTERN int stage_node_find_type(stage_node_t *node, const char *type,
                                      stage_future_t **fut);
/* The same among type and the types that inherit from it (their super). */
STAGE_EXTERN int stage_find_subtype(stage_ctx_t *ctx, const char *type,
                                    stage_future_t **fut);
STAGE_EXTERN int stage_node_find_subtype(stage_node_t *node, const char *type,
                                         stage_future_t **fut);
/* *fut: a future of the msgpack array of the ids of every actor of type,
** empty when there is none. */
STAGE_EXTERN int stage_find_all_types(stage_ctx_t *ctx, const char *type,
                                      stage_future_t **fut);
STAGE_EXTERN int stage_node_find_all_types(stage_node_t *node, const char *type,
                                           stage_future_t **fut);
/* *fut: a future of the msgpack array of the nodes' host entries, this
** node's first, each a map {"address", "theatres", "load", "actors",
** "takes_movers"} (docs/c-api.md "Names and lookups"). */
STAGE_EXTERN int stage_hosts(stage_ctx_t *ctx, stage_future_t **fut);
STAGE_EXTERN int stage_node_hosts(stage_node_t *node, stage_future_t **fut);

/* ---- timers and time --------------------------------------------------------
 */

/* Names a timer of an actor: a plain value. */
typedef struct stage_timer {
    uint64_t id;
} stage_timer_t;

/* A timer's callback: a turn of the actor that set the timer, run between
** its handlers (never during one), with that actor's ctx and state. ud is
** what was given to stage_after or stage_every: borrowed, never freed by
** Stage. */
typedef void (*stage_timer_fn)(stage_ctx_t *ctx, void *state, void *ud);

/* Run fn(ctx, state, ud) once, secs (>= 0) from now, as a turn of the
** running actor. *out (out may be NULL) names the timer for
** stage_timer_cancel. An armed timer keeps the node from stopping at
** quiescence; it is cancelled when its actor stops. 0, STAGE_EINVAL (secs
** negative, infinite or not a number, fn NULL), STAGE_ESTOPPED (in the
** actor's death: it would never fire) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_after(stage_ctx_t *ctx, double secs, stage_timer_fn fn,
                             void *ud, stage_timer_t *out);
/* The same every secs (> 0) until cancelled or the actor stops. */
STAGE_EXTERN int stage_every(stage_ctx_t *ctx, double secs, stage_timer_fn fn,
                             void *ud, stage_timer_t *out);
/* Cancel a timer of the running actor: its callback does not run again,
** not even a turn it has already queued. 0, also when the timer has
** already fired for the last time or been cancelled; STAGE_EINVAL for a
** timer that was never set (on this theatre, for an actor that never
** moved) or is another actor's. A timer that moved with its actor inside
** the node is cancelled where it is. */
STAGE_EXTERN int stage_timer_cancel(stage_ctx_t *ctx, stage_timer_t timer);
/* *fut: a new future that resolves to nil secs (>= 0) from now (Lua's
** stage.sleep); its timer keeps the node running until then. 0,
** STAGE_EINVAL (secs negative, infinite or not a number, fut NULL) or
** STAGE_ENOMEM. */
STAGE_EXTERN int stage_sleep(stage_ctx_t *ctx, double secs,
                             stage_future_t **fut);
/* The monotonic clock in seconds (Lua's stage.now). Any thread. */
STAGE_EXTERN double stage_now(void);

/* ---- monitors ---------------------------------------------------------------
**
** A monitor calls back when an actor ends (Erlang's monitor, Akka's
** DeathWatch) or when other nodes go down or come up. Each callback is a
** turn of the actor that set the monitor, run between its handlers (never
** during one), with that actor's ctx and state; ud is what was given,
** borrowed, never freed by Stage. A monitor goes when its actor stops
** (its callback never runs after that) and does not keep a node from
** stopping at quiescence. The functions take the running actor's ctx
** (its theatre's thread).
*/

/* Names a monitor (or a watch of nodes) of an actor: a plain value. */
typedef struct stage_monitor {
    uint64_t id;
} stage_monitor_t;

/* What a monitor of an actor is told, borrowed for the callback. */
typedef struct stage_down {
    const stage_id_t *id; /* the actor watched */
    /* 0: it stopped (stage_stop, stage_stop_actor, Lua's stage.stop);
    ** else a negative STAGE_E* code: the failure it stopped with (a Lua
    ** birth that raised: HandlerError, ...), STAGE_ESTOPPED (its node
    ** stopped), STAGE_ENODE_DOWN (its node was declared dead),
    ** STAGE_EACTOR_NOT_FOUND (it was not there when the monitor reached
    ** it), or another failure to watch it (STAGE_EUNREACHABLE,
    ** STAGE_ENAME_NOT_FOUND for a lookup that failed, ...) */
    int reason;
    const char *message; /* reason != 0: what happened; else NULL */
} stage_down_t;

typedef void (*stage_down_fn)(stage_ctx_t *ctx, void *state, void *ud,
                              const stage_down_t *down);

/* Call fn(ctx, state, ud, down) once, as a turn of the running actor, when
** actor id (of this node or another) stops, its node is declared dead, or
** at once if it is not there. *out (out may be NULL) names the monitor for
** stage_demonitor. Each call sets a monitor of its own. 0, STAGE_EINVAL
** (id or fn NULL), STAGE_ESTOPPED (in the actor's death: it would never
** fire) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_monitor(stage_ctx_t *ctx, const stage_id_t *id,
                               stage_down_fn fn, void *ud,
                               stage_monitor_t *out);
/* The same for the actor the lookup (a future of an id, borrowed:
** stage_find_name's, stage_spawn_at's, ...) gives, once it does; a lookup
** that fails calls fn with its failure. */
STAGE_EXTERN int stage_monitor_far(stage_ctx_t *ctx, stage_future_t *lookup,
                                   stage_down_fn fn, void *ud,
                                   stage_monitor_t *out);

/* A node event: the node's address and incarnation (borrowed). */
typedef void (*stage_node_fn)(stage_ctx_t *ctx, void *state, void *ud,
                              const char *address, uint32_t incarnation);

/* Call fn as a turn of the running actor each time a node incarnation
** this node had a connection with is declared dead (down), or each time a
** node incarnation new to this node connects (up; a connection broken and
** made again to the same incarnation is not an event), until
** stage_demonitor or the actor stops. Never on a node without a network.
** 0, STAGE_EINVAL (fn NULL), STAGE_ESTOPPED (in death) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_on_node_down(stage_ctx_t *ctx, stage_node_fn fn,
                                    void *ud, stage_monitor_t *out);
STAGE_EXTERN int stage_on_node_up(stage_ctx_t *ctx, stage_node_fn fn, void *ud,
                                  stage_monitor_t *out);

/* Cancel a monitor or a watch of nodes of the running actor: its callback
** does not run again, not even a turn it has already queued. 0, also when
** it has fired or been cancelled already; STAGE_EINVAL for one never set
** (on this theatre, for an actor that never moved), or another actor's.
** A monitor that moved with its actor inside the node is cancelled where
** it is. */
STAGE_EXTERN int stage_demonitor(stage_ctx_t *ctx, stage_monitor_t m);

/* ---- futures ----------------------------------------------------------------
 */

typedef struct stage_result {
    int status;       /* 0, or the negative STAGE_E* code of the failure */
    const char *data; /* status 0: the msgpack value */
    size_t len;
    const char *message;   /* status < 0: what happened */
    const char *actor;     /* status < 0: the id text of the actor where it
                           ** happened, or NULL */
    const char *traceback; /* status < 0: a Lua traceback, or NULL */
} stage_result_t;

/* A future's callback; res is borrowed for the call. ctx is the actor that
** asked, and the call a turn of it; NULL when the callback was set outside
** actors, or when that actor (or the node) stopped before the callback
** could run — then only release ud: the actor's state is gone. */
typedef void (*stage_future_fn)(stage_ctx_t *ctx, void *ud,
                                const stage_result_t *res);

/* Call fn(ctx, ud, result) exactly once, after f completes. Set in a
** handler or a turn of an actor, fn runs as a turn of that actor: between
** its handlers, never during one (as Lua's next). Set from outside the
** actors, it runs on the theatre that made f (theatre 0 for the
** stage_node_* calls) with ctx NULL. If the actor stops first, fn runs with
** ctx NULL; if the node stops first, on the thread destroying it, with
** status STAGE_ESTOPPED unless f had completed. Borrows f (release yours as
** usual: a send's future is completed whoever holds it); if every
** reference to an unfinished f goes (a stage_future_new nobody can
** complete now), fn runs at once with status STAGE_ECANCELED. Any thread.
** 0, STAGE_EINVAL (f or fn NULL) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_future_then(stage_future_t *f, stage_future_fn fn,
                                   void *ud);

/* Block the calling thread until f completes or timeout_secs pass (< 0:
** forever); on completion *res is filled and stays valid until f is
** released. Not from a theatre thread (it would stall the theatre): returns
** STAGE_EDEADLOCK there. STAGE_ETIMEOUT on timeout, STAGE_EINVAL for a
** NULL f or res. */
STAGE_EXTERN int stage_future_wait(stage_future_t *f, double timeout_secs,
                                   stage_result_t *res);

/* 1 once f has completed (resolved or failed), else 0. Any thread. */
STAGE_EXTERN int stage_future_done(const stage_future_t *f);

/* Fail f with Timeout unless it completes within secs (>= 0) (Lua's
** f:due). Borrows f. The deadline keeps the node running until f
** completes or it passes, no longer. Any thread. 0, STAGE_EINVAL (f NULL,
** secs negative, infinite or not a number) or STAGE_ENOMEM. */
STAGE_EXTERN int stage_future_due(stage_future_t *f, double secs);

/* *out: a new future of the msgpack array of the values of futures[0..n)
** in order, once all succeed, or of the first failure (Lua's stage.join).
** Borrows the futures (release yours as usual); they must be of one node
** and may come from any of its theatres. The join belongs to the calling
** thread's theatre (theatre 0 from outside), like a send's future. Any
** thread. 0, STAGE_EINVAL (n == 0, a NULL, futures of two nodes) or
** STAGE_ENOMEM. */
STAGE_EXTERN int stage_join(stage_future_t *const *futures, size_t n,
                            stage_future_t **out);

/* *out: a new pending future that the program completes itself with
** stage_future_resolve or stage_future_reject (a promise): to answer a
** message later (stage_reply_future), or to give a value to a join. It
** belongs to the calling thread's theatre (theatre 0 from outside), like a
** send's future. Any thread. 0, STAGE_EINVAL (node or out NULL) or
** STAGE_ENOMEM. */
STAGE_EXTERN int stage_future_new(stage_node_t *node, stage_future_t **out);
/* Complete f, made by stage_future_new, with value (one msgpack value,
** copied). The first completion wins: STAGE_EEXISTS if f had completed.
** Borrows f. Any thread. 0, STAGE_EEXISTS or STAGE_EINVAL (not a future of
** stage_future_new, or not one msgpack value). */
STAGE_EXTERN int stage_future_resolve(stage_future_t *f, const void *value,
                                      size_t len);
/* Fail f, made by stage_future_new, with code (a negative STAGE_E*) and
** message (NULL: code's message); in a handler or turn, the failure names
** the running actor. As stage_future_resolve otherwise. */
STAGE_EXTERN int stage_future_reject(stage_future_t *f, int code,
                                     const char *message);

/* The actor id a result holds (of a lookup or a stage_spawn_at): 0 and
** *out, res->status if it failed, or STAGE_EDECODE if its value is not an
** id. Any thread. */
STAGE_EXTERN int stage_result_id(const stage_result_t *res, stage_id_t *out);

/* Drop a future; its result, if it ever fails, is logged. Sets *f NULL. */
STAGE_EXTERN void stage_future_release(stage_future_t **f);

STAGE_END_DECLS

#endif
