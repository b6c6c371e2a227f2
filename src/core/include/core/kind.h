/*
** core/kind.h: actor types and the kinds of actor behind them (native C,
** Lua): how a kind runs its messages (stage__ops_t), a type's record, and
** the hooks the Lua binding installs in a node.
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

stage__type_t *stage__type_find(stage_node_t *node, const char *name);
/* Register a type (before start). STAGE_EEXISTS / EINVAL / ENOMEM. */
int stage__type_add(stage_node_t *node, const char *name, stage_kind_t kind,
                    const char *super, const stage__ops_t *ops,
                    const stage_type_def_t *native, stage__type_t **out);

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
