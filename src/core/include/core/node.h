/*
** core/node.h: what other components need of a node — its theatres, the
** quiescence count, its address and incarnation, the shared info of where
** moved actors live, and routing to an id that may be on another node.
*/
#ifndef STAGE_CORE_NODE_H
#define STAGE_CORE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/envelope.h"
#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__env stage__env_t;
typedef struct stage__future stage__future_t;

/* The id of the node's stdout environment actor. Any thread. */
void stage__stdout_id(stage_node_t *node, stage_id_t *out);
/* The ids of its Stdin and Files environment actors (environ.c): 0, or
** STAGE_EINVAL if it has none (Files: no cfg.files_dir). Any thread. */
typedef struct stage__environ stage__environ_t;
int stage__environ_stdin(stage_node_t *node, stage_id_t *out);
int stage__environ_files(stage_node_t *node, stage_id_t *out);

stage__theatre_t *stage__node_theatre(stage_node_t *node, int index);
void stage__work_add(stage_node_t *node, int n);
void stage__work_sub(stage_node_t *node, int n);
/* The node config (read-only once started). */
const stage_node_config_t *stage__node_config(stage_node_t *node);
/* Stopping: 1 once stage_node_stop ran. */
int stage__node_stopping(stage_node_t *node);
/* When the deaths of a stopping node must be over (stage__now() seconds),
** or 0 if the node is not stopping (yet). Any thread. */
double stage__node_stop_deadline(stage_node_t *node);
/* Shared info: where a moved actor lives now (theatre index, or -1). */
int stage__shared_lookup(stage_node_t *node, uint64_t serial);
void stage__shared_set(stage_node_t *node, uint64_t serial, int theatre);
void stage__shared_remove(stage_node_t *node, uint64_t serial);

/* Set the address ids carry (the node's listen address). Before start. */
int stage__node_set_address(stage_node_t *node, const char *address);
uint32_t stage__node_incarnation(const stage_node_t *node);
const char *stage__node_address(const stage_node_t *node);

/* The network layer says the node is a member of its system now (once;
** any thread): stage_node_wait_joined returns and the futures of
** stage_node_joined_future resolve. */
void stage__node_set_joined(stage_node_t *node);
/* The node drains (its actors move away before it stops): it takes no
** actors that move. Any thread. */
void stage__node_set_draining(stage_node_t *node);
bool stage__node_draining(stage_node_t *node);
/* The network layer gave up joining (status, a STAGE_E* code, and msg
** say why): final, as joined is (once; any thread, but not with
** stage__node_set_joined on another). stage_node_wait_joined returns
** status, and the futures of stage_node_joined_future fail with it. */
void stage__node_set_join_failed(stage_node_t *node, int status,
                                 const char *msg);

/* Spawn type on the node at address where; f (a reference is taken)
** gets the new id, or TooLarge at once for args past max_message. 0 if
** there is no network (f untouched). */
int stage__node_spawn_remote(stage_node_t *node, const char *where,
                             const char *type, const char *args, size_t len,
                             stage__future_t *f);

/* Route e to `to`, which may live on another node: through the network
** hooks, or failing e's future with NodeUnreachable when there are none.
** Any thread. Takes ownership of e. */
void stage__route_id(stage_node_t *node, const stage_id_t *to, stage__env_t *e);

#endif
