/*
** core/netif.h: the one interface through which core reaches other
** nodes. src/net installs these hooks; an embedded node has none, and
** core then answers as a node alone (NodeUnreachable for remote ids).
*/
#ifndef STAGE_CORE_NETIF_H
#define STAGE_CORE_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/net.h"
#include "stage/stage.h"

typedef struct stage__theatre stage__theatre_t;
typedef struct stage__env stage__env_t;
typedef struct stage__type stage__type_t;
typedef struct stage__future stage__future_t;

/* A step of a move between nodes (core/move.c <-> net/netmove.c): the
** fields of one MOVE frame (docs/protocol.md "MOVE"). Strings and data
** are borrowed for the call. */
enum {
    STAGE__MOVE_REQ = 1, /* ask: move `at` to node `where` (call: n) */
    STAGE__MOVE_OUT,     /* home -> the actor's node: export `at`, ship home */
    STAGE__MOVE_IN,      /* the actor's node -> home: the image (data) */
    STAGE__MOVE_REFUSED, /* the actor's node -> home: it stays (status) */
    STAGE__MOVE_IMPORT,  /* home -> destination: take the image (data) in */
    STAGE__MOVE_ARRIVED, /* destination -> home: it lives at `at` now */
    STAGE__MOVE_FAILED,  /* destination -> home: not taken in (status) */
    STAGE__MOVE_REPLY,   /* -> the node holding call token n: its answer */
    STAGE__MOVE_GONE,    /* the node it arrived at -> home: it stopped as at */
    STAGE__MOVE_ADOPT,   /* home -> the actor's node: home it, as at */
    STAGE__MOVE_ADOPTED, /* the actor's node -> home: done (status 0) or not */
    STAGE__MOVE_NAMES,   /* home -> the actor's node: its record (data) now */
    STAGE__MOVE_FORGET,  /* home -> a node it left: it stopped (its tombs) */
    STAGE__MOVE_TOMB     /* a node that drains -> home: `at` led to it here */
};
typedef struct stage__move_msg {
    int op;
    uint64_t n;      /* REQ: the call (0: none); REPLY: the held token */
    uint32_t inc;    /* REPLY: the incarnation holding the token */
    int status;      /* REFUSED, FAILED, REPLY: 0 or STAGE_E* */
    stage_id_t home; /* the actor's first id, its sequencer (not REQ, REPLY) */
    stage_id_t at;   /* REQ: whom; OUT: the actor there; ARRIVED: new id */
    const char *where; /* REQ: the node to go to */
    const char *data;  /* IN, IMPORT: image; REFUSED, FAILED: why; REPLY:
                       ** the value (status 0) or the message */
    size_t len;
    /* IMPORT (in): the ids that led to `home` before it (a msgpack array
    ** of ids, from the home's migrations store entries), or NULL: kept
    ** with the guest for an orphan takeover. Out, net/netmove.c adds them */
    const char *formers;
    size_t flen;
} stage__move_msg_t;

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
    /* Ask the node of actor `to` to watch it for monitor mon of this node
    ** (on), or to stop (core/monitor.h). A watch that cannot be asked for
    ** fires mon (stage__monitor_remote_down). Any theatre. */
    void (*monitor)(stage_node_t *node, const stage_id_t *to, uint64_t mon,
                    bool on);
    /* Tell node `to` that actor serial of this node, watched by its
    ** monitor mon, stopped with reason (0 or STAGE_E*) and message
    ** (borrowed). Any theatre. */
    void (*down)(stage_node_t *node, const char *to, uint64_t mon,
                 uint64_t serial, int reason, const char *message);
    /* The largest MOVE frame body node `to` takes, as far as this node
    ** knows (its own limit, or less if `to` said so). Any theatre: an
    ** image is checked before it leaves (a step that cannot go would lose
    ** it). */
    size_t (*takes)(stage_node_t *node, const char *to);
    /* Send a move's step to node `to` (an address), in order with the
    ** messages this thread sent there (one queue). REQ with f (a
    ** reference is taken): f gets the reply. Failures to send are the
    ** session's end (stage__move_node_down) or f's. Any theatre. */
    void (*move)(stage_node_t *node, const char *to, const stage__move_msg_t *m,
                 stage__future_t *f);
    /* Actor `old` lives as `cur` from now on, homed where it is (its home
    ** node leaves; core/move.c "handing homes over"): at cur's node, the
    ** migrations store is told (with the ids it had before old in
    ** formers[0..flen), or none: an ADOPT's data, [ids, names], at a
    ** handover; the IMPORT's array of ids at a takeover), and old's node
    ** answered (status 0), or not (STAGE_ENODE_DOWN: old's node is gone,
    ** this node took the actor over itself); at old's, the handover is
    ** counted (status: 0, or why not). Any theatre. */
    void (*rehomed)(stage_node_t *node, const stage_id_t *old,
                    const stage_id_t *cur, int status, const char *formers,
                    size_t flen);
    /* A draining node's tomb (an id an actor had here before it left) was
    ** handed to the actor's home (status 0: the migrations store leads
    ** that id there), or not: the drain counts it. Any theatre. */
    void (*led)(stage_node_t *node, int status);
    /* stage.update_type: store the new code of ty (its source and the
    ** update's methods, msgpack map name -> source text) in the sources
    ** store, apply it on every node it reaches and here
    ** (stage__code_update), then done(node, arg, status, why). Copies
    ** methods. 0, or an error and done is not called. Any theatre. */
    int (*update)(stage_node_t *node, stage__type_t *ty, const char *methods,
                  size_t len,
                  void (*done)(stage_node_t *node, void *arg, int status,
                               const char *why),
                  void *arg);
} stage__net_hooks_t;
void stage__node_set_net_hooks(stage_node_t *node,
                               const stage__net_hooks_t *hooks, void *data);
void *stage__node_net(stage_node_t *node);

#endif
