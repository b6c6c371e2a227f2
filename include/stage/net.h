/*
** stage/net.h: joining a node to others — its network and its manager.
**
** A node given a network listens for other nodes, runs a manager of the DHT
** (names, types, ...) and sends messages to actors on other nodes through
** one connection per pair of nodes. docs/operations.md tells how to start
** a system; docs/protocol.md what goes on the wire.
*/
#ifndef STAGE_NET_H
#define STAGE_NET_H

#include "stage/common.h"

#include <stdint.h>

#include "stage/stage.h"

STAGE_BEGIN_DECLS

typedef struct stage_net_config {
    const char *listen;  /* "host:port" to listen at (port 0: any) */
    const char *join;    /* address of any member; NULL: a new system */
    int replicas;        /* DHT replication factor R (3) */
    int handle_signals;  /* stop the node on SIGTERM and SIGINT */
    double call_timeout; /* a remote call without a reply fails (60 s) */
    double lease_secs;   /* DHT entries of a dead node expire (30 s) */
    double period_secs;  /* DHT stabilize/liveness period t (1 s) */
    /* The join is retried this long, then fails for good with
    ** NodeUnreachable (30 s; 0: the default; < 0: retried for ever). */
    double join_timeout;
    double node_timeout; /* a node heard nothing from this long is declared
                         ** dead: calls to it fail with NodeDown (10 s) */
    /* SIGTERM (handle_signals) moves the node's mobile actors to the
    ** other nodes before it stops, for at most this long (30 s; 0: the
    ** default; < 0: no drain, it stops at once as on SIGINT). */
    double drain_timeout;
    /* The cluster key (docs/security.md): STAGE_CLUSTER_KEY_BYTES bytes
    ** that every node of the system holds. With it, every connection
    ** begins with a handshake that proves both ends hold the key, and all
    ** its traffic is encrypted and authenticated; a node without the key
    ** cannot connect. NULL: no key, and the node listens on a loopback
    ** address only, unless insecure. Copied by stage_node_network. */
    const unsigned char *cluster_key;
    /* A second key accepted from peers while the key is rotated (this
    ** node dials with cluster_key); NULL: none. Copied. */
    const unsigned char *cluster_key_also;
    /* Without a cluster key, listen on an address that is not loopback
    ** anyway: every host that can reach it is then a full member. */
    int insecure;
} stage_net_config_t;

#define STAGE_CLUSTER_KEY_BYTES 32

STAGE_EXTERN void stage_net_config_init(stage_net_config_t *cfg);

/* Bind, start the node's I/O thread and its manager, and join the system
** at cfg->join (or start one). Before stage_node_start; the node then runs
** until stopped (a listener keeps it alive). On failure returns a
** STAGE_E* code with a message in err ("cannot listen at '...': ..."). */
STAGE_EXTERN int stage_node_network(stage_node_t *node,
                                    const stage_net_config_t *cfg, char *err,
                                    size_t errlen);

/* The address other nodes reach this node at (its ids carry it). */
STAGE_EXTERN const char *stage_node_address(const stage_node_t *node);
/* 1 once the node's manager is a member of the ring (at once for a new
** system), else 0. Any thread. */
STAGE_EXTERN int stage_node_joined(const stage_node_t *node);
/* Block until the node has joined its system (as stage_node_joined says),
** without polling: 0 at once if it has. timeout_secs < 0 waits for ever.
** Any thread but a theatre's (STAGE_EDEADLOCK there: it would stall the
** join). STAGE_ETIMEOUT, STAGE_EUNREACHABLE (the node gave up joining
** after cfg->join_timeout: stage_node_joined_future's failure says why),
** STAGE_ESTOPPED (the node stopped first) or STAGE_EINVAL (no network:
** call stage_node_network first). */
STAGE_EXTERN int stage_node_wait_joined(stage_node_t *node,
                                        double timeout_secs);
/* *fut: a new future of true once the node has joined its system (already
** resolved if it has), failing with NodeUnreachable if it gave up joining
** ("cannot join the system at '...': not joined within 30 s: ...
** connection refused"), or Stopped if the node stops first; give
** it to stage_future_then for a callback (in a handler, a turn of the
** actor). Any thread. 0, STAGE_EINVAL (fut NULL, or no network) or
** STAGE_ENOMEM. */
STAGE_EXTERN int stage_node_joined_future(stage_node_t *node,
                                          stage_future_t **fut);
/* This node's manager id on the ring (0 before stage_node_network). */
STAGE_EXTERN uint64_t stage_node_manager_id(const stage_node_t *node);

/* What a node's connections carried since it started: bytes as written to
** and read from the sockets (frames with their headers; TCP/IP headers
** not counted), frames of every kind (handshakes, heartbeats, DHT and
** actor traffic), and write calls (frames are batched into writes). */
typedef struct stage_net_stats {
    uint64_t bytes_in, bytes_out;
    uint64_t frames_in, frames_out;
    uint64_t writes;
} stage_net_stats_t;

/* Fill *out: 0, or STAGE_EINVAL if node has no network. Any thread. */
STAGE_EXTERN int stage_node_net_stats(stage_node_t *node,
                                      stage_net_stats_t *out);

STAGE_END_DECLS

#endif
