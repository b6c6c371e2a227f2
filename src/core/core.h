/*
** core/core.h: the runtime's internal structures, shared by src/core and the
** Lua binding (src/lua). Not a public header.
**
** A node owns T theatres. A theatre is one thread with its own run queue,
** timers, actor table and (when scripts are loaded) Lua state. Everything a
** theatre owns is touched only by its thread, except its inbox, which any
** thread pushes to (envelopes for its actors, completed futures, calls).
**
** Threads and ownership:
**   actor       owned by its theatre; other threads hold only ids
**   envelope    owned by whoever holds it; handed over on push
**   future      refcounted; its continuations belong to its owner theatre;
**               any thread may complete it (first completion wins)
**
** Quiescence: node->work counts busy theatres plus envelopes in flight
** between threads plus external holds. A theatre is busy while it has
** anything runnable or an armed timer. The count reaches zero only when no
** event can ever happen again; the theatre that takes it there stops the node.
*/
#ifndef STAGE_CORE_CORE_H
#define STAGE_CORE_CORE_H

#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/mpsc.h"
#include "stage/net.h"
#include "stage/stage.h"
#include "util/buf.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__actor stage__actor_t;
typedef struct stage__env stage__env_t;
typedef struct stage__type stage__type_t;
typedef struct stage__future stage__future_t;
typedef struct stage__cont stage__cont_t;
typedef struct stage__timer stage__timer_t;

#define STAGE_MAX_THEATRES 256
#define STAGE_TURN_MESSAGES 100 /* messages per actor turn: fairness */
#define STAGE_THEATRE_BITS 8    /* serial = counter << 8 | birth theatre */

/* ---- what travels through an inbox --------------------------------------- */

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
    ENV_REMOTE = 4   /* came from another node: its data is hostile */
};

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
    uint64_t target;         /* target serial */
    uint64_t sender;         /* sender serial, 0 if not an actor */
    stage__type_t *sender_type;
    stage__type_t *target_type;
    stage__future_t *future; /* reply, or NULL; the envelope holds a ref */
    stage__call_fn call;     /* ENV_CALL for a theatre (target 0): run */
    stage__call_fn drop;     /* ENV_CALL never run: release (a == NULL) */
    void *arg;               /* ENV_CALL */
    int lua_ref;             /* Lua continuation: registry ref, or -2 */
    stage__env_t *next;      /* mailbox link (theatre-local) */
    bool small;              /* allocated with ENV_SMALL bytes of data */
    uint32_t len;            /* msgpack args length */
    char data[];             /* method NUL args */
};

static inline const char *stage__env_method(const stage__env_t *e) {
    return e->data;
}
static inline const char *stage__env_args(const stage__env_t *e) {
    return e->data + e->mlen + 1;
}

#define ENV_SMALL 120 /* data bytes of a recyclable envelope */

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

/* ---- actor types ------------------------------------------------------------
 */

enum { TURN_DONE = 0, TURN_WAIT = 1, TURN_PREEMPTED = 2 };

/* How a kind of actor runs its messages (native C, Lua). */
typedef struct stage__ops {
    /* Run message e on actor a (takes ownership of e). Returns TURN_DONE,
    ** TURN_WAIT (suspended until a future completes) or TURN_PREEMPTED
    ** (suspended, may continue at once). */
    int (*deliver)(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e);
    /* Continue a suspended turn. Same return as deliver. */
    int (*resume)(stage__theatre_t *t, stage__actor_t *a);
    /* The actor stopped: run death, free its state. */
    void (*destroy)(stage__theatre_t *t, stage__actor_t *a);
} stage__ops_t;

struct stage__type {
    char name[STAGE_TYPE_MAX];
    stage_kind_t kind;
    char super[STAGE_TYPE_MAX]; /* "" if none */
    const stage__ops_t *ops;
    const stage_type_def_t *native; /* C types */
    int index;                      /* position in node->types */
    uint32_t hash;                  /* of name, for stage__type_find */
    /* the local actors of this type (directory.c); an actor's dir_slot is
    ** its index here, read and written under lock */
    pthread_mutex_t lock;
    stage__actor_t **members;
    size_t n, cap;
    atomic_bool announced; /* registered in the DHT */
};

/* ---- actors -------------------------------------------------------------- */

enum {
    ACTOR_QUEUED = 1,    /* on the run queue */
    ACTOR_SUSPENDED = 2, /* a turn is suspended (await or preempted) */
    ACTOR_READY = 4,     /* the suspended turn may continue */
    ACTOR_STOPPING = 8,  /* stop after this turn */
    ACTOR_DEAD = 16
};

/* A sends queued behind an unresolved future argument (see lua/). */
typedef struct stage__deferred stage__deferred_t;

struct stage__actor {
    stage__actor_t *run_next; /* run queue link */
    stage__env_t *mbox_head;  /* mailbox: theatre-local FIFO */
    stage__env_t *mbox_tail;
    uint64_t serial;
    stage__type_t *type;
    stage__theatre_t *theatre;
    uint32_t flags;
    int lua_ref;                 /* Lua: state table in the registry */
    int co_ref;                  /* Lua: suspended coroutine, or -2 */
    stage__env_t *current;       /* message of the suspended turn */
    stage__deferred_t *deferred; /* pipelined sends waiting on futures */
    void *state;                 /* C: state_size bytes */
    void *wait;                  /* Lua: what a suspended await waits for */
    double spent;                /* seconds the current message has run */
    uint32_t dir_slot;           /* index in type->serials */
};

/* ---- futures ---------------------------------------------------------------
 */

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

/* ---- timers ------------------------------------------------------------- */

typedef void (*stage__timer_fn)(stage__theatre_t *t, stage__timer_t *tm);

struct stage__timer {
    double deadline; /* stage__now() seconds */
    double interval; /* > 0: repeat */
    double span;     /* the delay asked for */
    uint64_t seq;    /* heap tie-break: FIFO for equal deadlines */
    uint64_t actor;  /* owning actor serial (0: none) */
    int heap_index;  /* -1 when not armed */
    bool cancelled;
    stage__timer_fn fn;               /* fired (theatre thread) */
    void (*drop)(stage__timer_t *tm); /* freed: release arg; may be NULL */
    void *arg;
    int lua_ref; /* Lua callback, or -2 */
    int refs;    /* theatre-local: heap + holders */
};

/* Monotonic seconds. Any thread. */
double stage__now(void);
stage__timer_t *stage__timer_new(stage__theatre_t *t, double delay,
                                 double interval, stage__timer_fn fn,
                                 void *arg);
void stage__timer_cancel(stage__theatre_t *t, stage__timer_t *tm);
void stage__timer_unref(stage__timer_t *tm);
/* Run due timers; returns seconds until the next one (or -1: none). */
double stage__timers_run(stage__theatre_t *t);
/* At node teardown: drop every timer of t. */
void stage__timers_free(stage__theatre_t *t);
/* Cancel every timer owned by actor serial (it stopped). */
void stage__timers_cancel_actor(stage__theatre_t *t, uint64_t serial);

/* ---- theatres ----------------------------------------------------------- */

typedef struct stage__actor_table {
    stage__actor_t **slots; /* open addressing by serial; NULL or tombstone */
    uint32_t cap, count, used;
} stage__actor_table_t;

/* How a theatre that runs the node's I/O loop (src/net) waits: in the
** loop's poll instead of on its futex. Set by the net hook adopt, on the
** theatre's own thread, before it first sleeps. */
typedef struct stage__poller {
    /* Run the I/O that is ready, waiting up to timeout s for some (0: do
    ** not wait; < 0: until woken). Returns 1 if it did anything. */
    int (*poll)(void *ud, double timeout);
    /* End a poll from any thread. */
    void (*wake)(void *ud);
    void *ud;
} stage__poller_t;

struct stage__theatre {
    stage__mpsc_t inbox;             /* any thread pushes */
    alignas(64) atomic_int sleeping; /* futex word: 1 while asleep */
    alignas(64) stage_node_t *node;
    int index;
    pthread_t thread;
    stage__actor_t *run_head, *run_tail;
    stage__actor_table_t actors;
    atomic_uint_fast64_t next_serial; /* any thread may reserve one */
    stage__timer_t **heap;            /* timer min-heap */
    int nheap, capheap;
    uint64_t timer_seq;
    bool busy;               /* holds one unit of node->work */
    stage__actor_t *running; /* actor in a turn, or NULL */
    /* preemption: turn_seq and in_turn are written by this thread and read
    ** by the watchdog, which asks a theatre whose turn_seq has not moved for
    ** half a slice to preempt that turn by storing it in preempt_seq (then
    ** signals it); see stage__preempt_wanted */
    atomic_uint_fast64_t turn_seq; /* bumped at every message */
    atomic_int in_turn;            /* 1 between turn_begin and turn_end */
    /* the turn_seq of the turn the watchdog wants preempted */
    atomic_uint_fast64_t preempt_seq;
    void *volatile running_lua; /* lua_State of the running turn */
    void *lua;                  /* per-theatre Lua data (src/lua) */
    stage__env_t *env_cache;    /* free small envelopes */
    stage__future_t *fut_cache; /* free futures */
    int nenv_cache, nfut_cache;
    stage__poller_t poller; /* poll NULL: sleeps on its futex */
};

/* The theatre the calling thread runs, or NULL. */
stage__theatre_t *stage__current(void);

/* Deliver an inbox item to theatre t from any thread. The item must carry
** ENV_COUNTED if the sender is not t's own thread (the caller does the
** accounting with stage__work_add). */
void stage__theatre_push(stage__theatre_t *t, stage__item_t *it);

/* Mark the start and end of code running for actor a (a handler, or a
** continuation in its context): what stage.self() and the watchdog see. */
void stage__turn_begin(stage__theatre_t *t, stage__actor_t *a);
void stage__turn_end(stage__theatre_t *t);
/* 1 if the watchdog has asked t to preempt the turn it runs now. t's thread
** only (its signal handler included: lock-free atomics only). */
int stage__preempt_wanted(stage__theatre_t *t);

/* Queue e for actor a of theatre t (t's thread only). */
void stage__actor_enqueue(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e);
/* Put a on t's run queue if it is not there (t's thread only). */
void stage__actor_schedule(stage__theatre_t *t, stage__actor_t *a);
/* A suspended actor's turn may continue (t's thread only). */
void stage__actor_ready(stage__theatre_t *t, stage__actor_t *a);

/* Route e (a message) to its target from any thread: local fast path if the
** target lives in the calling theatre, else the target theatre's inbox.
** Unknown targets fail e's future with ActorNotFound. */
void stage__route(stage_node_t *node, stage__env_t *e);

/* ---- actors ------------------------------------------------------------- */

/* Reserve a serial on theatre t. Any thread. */
uint64_t stage__serial_reserve(stage__theatre_t *t);
/* Create an actor with a reserved serial on theatre t (t's thread).
** NULL on ENOMEM. */
stage__actor_t *stage__actor_new(stage__theatre_t *t, stage__type_t *type,
                                 uint64_t serial);
stage__actor_t *stage__actor_find(stage__theatre_t *t, uint64_t serial);
/* Spawn an actor of type on theatre (-1: the calling theatre, or 0 from
** outside). Its birth message carries args (msgpack array). The serial is
** known at once; the actor exists by the time any message sent after this
** call reaches its theatre. Any thread. */
int stage__spawn(stage_node_t *node, stage__type_t *type, int theatre,
                 const void *args, size_t len, uint64_t *serial);
/* Mark a to stop after its current turn (t's thread). */
void stage__actor_stop(stage__theatre_t *t, stage__actor_t *a);
/* Remove a now: run its type's destroy, fail its queued messages (t's
** thread, a not in a turn). */
void stage__actor_destroy(stage__theatre_t *t, stage__actor_t *a);
/* At node teardown: destroy every actor of t. */
void stage__actors_destroy_all(stage__theatre_t *t);
/* The id of actor serial of type on this node. */
void stage__make_id(stage_node_t *node, uint64_t serial,
                    const stage__type_t *type, stage_id_t *out);
static inline int stage__serial_theatre(uint64_t serial) {
    return (int)(serial & ((1u << STAGE_THEATRE_BITS) - 1));
}
/* 1 if id names an actor of this node (incarnation included). */
int stage__id_is_local(stage_node_t *node, const stage_id_t *id);

/* ---- node ---------------------------------------------------------------- */

/* The id of the node's stdout environment actor. Any thread. */
void stage__stdout_id(stage_node_t *node, stage_id_t *out);

stage__theatre_t *stage__node_theatre(stage_node_t *node, int index);
stage__type_t *stage__type_find(stage_node_t *node, const char *name);
/* Register a type (before start). STAGE_EEXISTS / EINVAL / ENOMEM. */
int stage__type_add(stage_node_t *node, const char *name, stage_kind_t kind,
                    const char *super, const stage__ops_t *ops,
                    const stage_type_def_t *native, stage__type_t **out);
void stage__work_add(stage_node_t *node, int n);
void stage__work_sub(stage_node_t *node, int n);
/* The node config (read-only once started). */
const stage_node_config_t *stage__node_config(stage_node_t *node);
/* Stopping: 1 once stage_node_stop ran. */
int stage__node_stopping(stage_node_t *node);
/* Shared info: where a moved actor lives now (theatre index, or -1). */
int stage__shared_lookup(stage_node_t *node, uint64_t serial);
void stage__shared_set(stage_node_t *node, uint64_t serial, int theatre);
void stage__shared_remove(stage_node_t *node, uint64_t serial);

/* ---- directory (directory.c) ------------------------------------------- */

enum {
    STAGE__NAME_CLAIM = 1, /* f gets true, or AlreadyExists */
    STAGE__FIND_NAME,      /* f gets the id named key, or NameNotFound */
    STAGE__FIND_TYPE,      /* f gets a random actor id of type key */
    STAGE__FIND_SUBTYPE,   /* ... of type key or one of its subtypes */
    STAGE__FIND_ALL        /* f gets an array of every id of type key */
};

/* Look key up (or claim it for id) and complete f, which it borrows (the
** network path takes a reference of its own). Any thread. */
void stage__directory(stage_node_t *node, int op, const char *key,
                      const stage_id_t *id, stage__future_t *f);
int stage__dir_add(stage__type_t *ty, stage__actor_t *a);
void stage__dir_remove(stage__type_t *ty, stage__actor_t *a);
/* 1 if the actor serial of type ty is alive on this node (a scan of the
** type's list: for rare requests). Any thread. */
int stage__dir_alive(stage__type_t *ty, uint64_t serial);
/* Actors of type ty alive on this node now. Any thread. */
size_t stage__dir_count(stage__type_t *ty);
/* If no actor of ty is alive here, clear ty->announced (the next birth
** announces the type again) and return 1; else 0. Any thread. */
int stage__dir_retire(stage__type_t *ty);
int stage__dir_random(stage_node_t *node, stage__type_t *ty, uint64_t seed,
                      stage_id_t *out);
size_t stage__dir_all(stage_node_t *node, stage__type_t *ty, stage_pack_t *p);
int stage__names_claim(stage_node_t *n, const char *name, const stage_id_t *id,
                       stage_id_t *holder);
int stage__names_find(stage_node_t *n, const char *name, stage_id_t *out);
void stage__names_drop_actor(stage_node_t *n, uint64_t serial);

/* Hooks the network layer installs (src/net; NULL on an embedded node). */
typedef struct stage__net_hooks {
    /* Directory lookups through the DHT (see stage__directory). */
    void (*directory)(stage_node_t *node, int op, const char *key,
                      const stage_id_t *id, stage__future_t *f);
    /* The first local actor of type ty exists: announce the type. */
    void (*announce)(stage_node_t *node, stage__type_t *ty);
    /* Local actor serial stopped: release the names it holds. Called for
    ** every actor that stops (theatre thread): return at once if none. */
    void (*actor_gone)(stage_node_t *node, uint64_t serial);
    /* The node is being destroyed (after its theatres stopped). */
    void (*close)(stage_node_t *node);
    /* Theatre 0 starts (its own thread): it may take over the I/O loop
    ** by setting t->poller. */
    void (*adopt)(stage_node_t *node, stage__theatre_t *t);
    /* The connections' counts (stage_node_net_stats). Any thread. */
    int (*stats)(stage_node_t *node, stage_net_stats_t *out);
    /* Send e to the actor `to` on another node. Takes ownership of e;
    ** failures complete e's future. Any theatre or outside thread. */
    void (*send)(stage_node_t *node, const stage_id_t *to, stage__env_t *e);
    /* Spawn type on node `where` (an address) with msgpack args; the
    ** future gets the new actor's id. Takes a reference to f. */
    void (*spawn)(stage_node_t *node, const char *where, const char *type,
                  const char *args, size_t len, stage__future_t *f);
} stage__net_hooks_t;
void stage__node_set_net_hooks(stage_node_t *node,
                               const stage__net_hooks_t *hooks, void *data);
void *stage__node_net(stage_node_t *node);
/* Set the address ids carry (the node's listen address). Before start. */
int stage__node_set_address(stage_node_t *node, const char *address);
uint32_t stage__node_incarnation(const stage_node_t *node);
const char *stage__node_address(const stage_node_t *node);

/* Spawn type on the node at address where; f (a reference is taken)
** gets the new id. 0 if there is no network (f untouched). */
int stage__node_spawn_remote(stage_node_t *node, const char *where,
                             const char *type, const char *args, size_t len,
                             stage__future_t *f);

/* Route e to `to`, which may live on another node: through the network
** hooks, or failing e's future with NodeUnreachable when there are none.
** Any thread. Takes ownership of e. */
void stage__route_id(stage_node_t *node, const stage_id_t *to, stage__env_t *e);

/* Hooks the Lua binding installs (NULL without scripts). */
typedef struct stage__lua_hooks {
    /* Close a theatre's Lua state (at teardown, on the destroying thread). */
    void (*theatre_close)(stage__theatre_t *t);
    /* Ask the running Lua turn of t to stop soon: a signal handler on t's
    ** thread calls it, so it may only do what a signal handler may. */
    void (*preempt)(stage__theatre_t *t);
    /* The node went quiescent: the exit status to use (status is the
    ** current one). Any thread; may print why the program is stuck. */
    int (*quiescent)(stage_node_t *node, int status);
    /* Free the node's Lua data (in stage_node_destroy). */
    void (*node_free)(stage_node_t *node);
} stage__lua_hooks_t;
void stage__node_set_lua_hooks(stage_node_t *node,
                               const stage__lua_hooks_t *hooks, void *data);
void *stage__node_lua(stage_node_t *node);

#endif
