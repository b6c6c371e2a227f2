/*
** core/kind.h: actor types and the kinds of actor behind them (native C,
** Lua). A kind (stage__kind_t) says how its actors run their messages,
** how much data each of its actors carries, and what it does at the
** theatre's and the node's milestones. A node keeps the kinds registered
** with it, each with its node-level data, in slots; a theatre keeps one
** data pointer per slot. Core runs every kind the same way and knows
** nothing of what their data holds.
*/
#ifndef STAGE_CORE_KIND_H
#define STAGE_CORE_KIND_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/envelope.h"
#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__actor stage__actor_t;
typedef struct stage__type stage__type_t;

/* The end of a load of code (load_code): status 0, or STAGE_E* with msg
** (borrowed for the call) saying why. Any thread. */
typedef void (*stage__code_done_fn)(stage_node_t *node, void *arg, int status,
                                    const char *msg);

enum { TURN_DONE = 0, TURN_WAIT = 1, TURN_PREEMPTED = 2 };

#define STAGE_KINDS_MAX 4 /* kinds one node may register */

/* A kind of actor (native C, Lua). Every hook but deliver, resume and
** destroy may be NULL. */
typedef struct stage__kind {
    /* Bytes of data each actor carries, allocated with it (zeroed) and
    ** reached by stage__actor_data. Native C types size it per type. */
    size_t actor_size;
    /* Run message e on actor a (takes ownership of e). Returns TURN_DONE,
    ** TURN_WAIT (suspended until a future completes) or TURN_PREEMPTED
    ** (suspended, may continue at once). */
    int (*deliver)(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e);
    /* Continue a suspended turn. Same return as deliver. */
    int (*resume)(stage__theatre_t *t, stage__actor_t *a);
    /* The actor stopped: run death, release its data. */
    void (*destroy)(stage__theatre_t *t, stage__actor_t *a);
    /* Release the kind's data of theatre t (tdata, may be NULL) at
    ** teardown, on the destroying thread. */
    void (*theatre_close)(stage__theatre_t *t, void *tdata);
    /* Ask the turn t runs now to stop soon. A signal handler on t's thread
    ** calls it, so it may only do what a signal handler may: tdata is the
    ** kind's data of t, read as a plain pointer. A kind with this hook
    ** makes the node run its watchdog. */
    void (*preempt)(stage__theatre_t *t, void *tdata);
    /* The node went quiescent: the exit status to use (status is the
    ** current one). Any thread; may print why the program is stuck. */
    int (*quiescent)(stage_node_t *node, void *ndata, int status);
    /* Free the kind's node-level data (in stage_node_destroy). */
    void (*node_free)(stage_node_t *node, void *ndata);
    /* Migration (core/image.h); a kind without state_export cannot move.
    ** Write born actor a's state to out as one msgpack value, or refuse
    ** with the reason in err: STAGE_EENCODE (what cannot travel, named),
    ** STAGE_EBUSY (something of a's still pending in this theatre). */
    int (*state_export)(stage__theatre_t *t, stage__actor_t *a,
                        stage_pack_t *out, char *err, size_t errlen);
    /* Give a (new, not born in this theatre) the state in data[0..len),
    ** hostile bytes: 0, or STAGE_EDECODE / STAGE_ENOMEM with err, leaving
    ** a stateless. */
    int (*state_import)(stage__theatre_t *t, stage__actor_t *a,
                        const char *data, size_t len, char *err, size_t errlen);
    /* Run a's departing (leaving) or arrived hook, if its type has one, as
    ** a turn of a that cannot suspend: 0, or STAGE_EHANDLER with err. */
    int (*departing)(stage__theatre_t *t, stage__actor_t *a, char *err,
                     size_t errlen);
    int (*arrived)(stage__theatre_t *t, stage__actor_t *a, char *err,
                   size_t errlen);
    /* a left in an image: release its data without its death. */
    void (*depart)(stage__theatre_t *t, stage__actor_t *a);
    /* Code that travels: run the source text src[0..len) (a script's,
    ** from the sources store, fetched for type `what`: its errors name
    ** it) in every theatre of the running node, where its top level
    ** defines types, and register them (stage__type_add_live) once every
    ** theatre has them; then done(node, arg, 0 or STAGE_E*, why) on some
    ** theatre's thread. Copies src. 0, or an error and done is not called.
    ** Any thread. */
    int (*load_code)(stage_node_t *node, void *ndata, const char *what,
                     const char *src, size_t len, stage__code_done_fn done,
                     void *arg);
    /* Live replacement: in every theatre, on its own thread, set the
    ** methods of msgpack map methods[0..len) (name -> a function's source
    ** text) in type's class, where the theatre has it; then done(node,
    ** arg, 0 or STAGE_E*, why). Copies methods. 0, or an error and done is
    ** not called. Any thread. */
    int (*update_code)(stage_node_t *node, void *ndata, const char *type,
                       const char *methods, size_t len,
                       stage__code_done_fn done, void *arg);
} stage__kind_t;

struct stage__type {
    char name[STAGE_TYPE_MAX];
    stage_kind_t kind;
    char super[STAGE_TYPE_MAX];     /* "" if none */
    const stage__kind_t *impl;      /* the kind that runs its actors */
    int slot;                       /* impl's slot in the node */
    size_t data_size;               /* each actor's data: impl's, or the
                                    ** state_size of a C type */
    const stage_type_def_t *native; /* C types */
    int index;                      /* position in node->types */
    uint32_t hash;                  /* of name, for stage__type_find */
    /* the local actors of this type (directory.c); an actor's dir_slot is
    ** its index here, read and written under lock */
    pthread_mutex_t lock;
    stage__actor_t **members;
    size_t n, cap;
    atomic_bool announced; /* registered in the DHT */
    /* a steal of one of its actors took long (its departing hook, its
    ** state): core/steal.c leaves its actors where they are from then on
    ** (relaxed: a hint any theatre reads and writes) */
    atomic_bool slow_to_steal;
    /* what a failed turn leaves behind (core/onerror.c); fixed before the
    ** node starts */
    stage_on_error_t on_error;
    int max_restarts;      /* RESTART: at most this many ... */
    double restart_window; /* ... within this many seconds */
    /* the text of the code that defines it (its Lua script, as the sources
    ** store keeps it: docs/lua-api.md "Code on demand"), or NULL (C
    ** types); fixed before the node starts, or before a type added while
    ** it runs is published. Owned by its kind's node data. */
    const char *source;
    size_t source_len;
    /* the sources store has it from this node run (net/sources.c) */
    atomic_bool source_put;
    /* the version of its code (stage__code_version of source; 0: none),
    ** which an actor of it carries when it moves: written with source,
    ** read by any theatre (relaxed: a move compares it, nothing more) */
    atomic_uint_fast64_t version;
};

#define STAGE_MAX_RESTARTS 10    /* the default max_restarts */
#define STAGE_RESTART_WINDOW 10. /* the default restart_window, seconds */

stage__type_t *stage__type_find(stage_node_t *node, const char *name);
/* The node's types: how many, and the i-th (0 <= i < count). Any
** thread: types are only ever appended. */
int stage__type_count(stage_node_t *node);
stage__type_t *stage__type_at(stage_node_t *node, int i);
/* Register a type (before start; the node's network may already run):
** a native type takes its policy from its def, and init(ty, arg), if not
** NULL, fills the rest in before other threads can find the type.
** STAGE_EEXISTS / EINVAL / ENOMEM / EBUSY once started. */
int stage__type_add(stage_node_t *node, const char *name, stage_kind_t kind,
                    const char *super, const stage__kind_t *impl,
                    const stage_type_def_t *native,
                    void (*init)(stage__type_t *ty, void *arg), void *arg,
                    stage__type_t **out);
/* The same while the node runs (code loaded from the sources store), for a
** kind registered before start: init(ty, arg) fills the new type in (its
** policy, source) before other threads can find it. STAGE_EEXISTS (*out:
** the type of that name), STAGE_ENOMEM past STAGE_TYPES_MAX types. Any
** thread. */
#define STAGE_TYPES_MAX 1024
int stage__type_add_live(stage_node_t *node, const char *name,
                         stage_kind_t kind, const char *super,
                         const stage__kind_t *impl,
                         void (*init)(stage__type_t *ty, void *arg), void *arg,
                         stage__type_t **out);
/* Load code into the node through the kind that runs it (the Lua kind's
** load_code): STAGE_EINVAL if no kind of the node loads code. Any thread,
** once the node runs. */
int stage__code_load(stage_node_t *node, const char *what, const char *src,
                     size_t len, stage__code_done_fn done, void *arg);
/* The version of a type's code: a 64-bit hash (FNV-1a) of its text. */
uint64_t stage__code_version(const char *text, size_t len);
/* Replace methods of type ty on this node (the kind's update_code). */
int stage__code_update(stage_node_t *node, const char *type,
                       const char *methods, size_t len,
                       stage__code_done_fn done, void *arg);
/* stage.update_type: on every node (the net hook update: the sources
** store and the other nodes first), else on this one. Any thread. */
int stage__node_update_code(stage_node_t *node, stage__type_t *ty,
                            const char *methods, size_t len,
                            stage__code_done_fn done, void *arg);

/* Register kind k with node (before start), with its node-level data
** ndata; again: replace its data. Returns its slot, or STAGE_ENOMEM when
** STAGE_KINDS_MAX kinds are registered. stage__type_add registers a
** type's kind if it is not yet. */
int stage__node_kind_add(stage_node_t *node, const stage__kind_t *k,
                         void *ndata);
/* k's node-level data, or NULL if k is not registered. Any thread. */
void *stage__node_kind_data(stage_node_t *node, const stage__kind_t *k);

#endif
