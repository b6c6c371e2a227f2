/*
** node/evacuate.h: a node's drain (SIGTERM to a `stage node`: its mobile
** actors move to the other nodes before it leaves) — which actor goes to
** which node, how many moves run at once, what is tried again and when it
** is over — as a pure state machine: no clock (milliseconds come in), no
** I/O. The driver lists the actors and the other nodes, with what each
** node reports in its DHT host entry, starts the moves the effects ask
** for, and says how each ended.
**
** Choice: an actor goes to the node with the fewest actors per core,
** counting those this drain sent it already (so 10,000 actors spread by
** the nodes' sizes, not all onto the idlest one), the lower load breaking
** a tie, then the node listed first.
** Pacing: at most `inflight` moves at once: a move carries the actor's
** mailbox, and a burst of thousands would fill the links at once.
** Outcomes of a move (stage_evac_result):
**   0                    moved;
**   STAGE_EACTOR_NOT_FOUND  it stopped meanwhile: nothing to move (done);
**   STAGE_EBUSY          it is in a handler (or moving): the same node
**                        again after retry_ms, without counting a try;
**   STAGE_ENODE_DOWN, STAGE_EUNREACHABLE, STAGE_ESTOPPED
**                        the destination is gone or leaving: never chosen
**                        again; the actor tries another node;
**   STAGE_ETIMEOUT       the destination did not answer in time: another
**                        node (this one keeps its place in the choice);
**   anything else        it cannot move (its state cannot travel, it is
**                        pinned, too large): it stays, reported once.
** An actor that has been tried `tries` times, or when no node is left,
** stays. Every actor ends moved, gone or stayed; then DONE.
** Not thread-safe: one owner (the node's loop).
*/
#ifndef STAGE_NODE_EVACUATE_H
#define STAGE_NODE_EVACUATE_H

#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"

typedef struct stage_evac_config {
    int inflight;         /* moves at once (32) */
    int tries;            /* moves tried per actor before it stays (3) */
    uint64_t retry_ms;    /* a busy actor is asked again after (20) */
    uint64_t progress_ms; /* PROGRESS at most this often (1000) */
} stage_evac_config_t;

typedef enum stage_evac_fx_kind {
    STAGE_EVAC_FX_MOVE = 1, /* move actor `key` to node `addr` */
    STAGE_EVAC_FX_STAYED,   /* actor `key` stays: err says why (its last
                            ** move's outcome, or STAGE_ENODE_DOWN: no
                            ** node left to take it), and why, when that
                            ** outcome came with a message, in its words */
    STAGE_EVAC_FX_PROGRESS, /* counts so far (the stats) */
    STAGE_EVAC_FX_DONE,     /* every actor moved, gone or stayed */
} stage_evac_fx_kind_t;

#define STAGE_EVAC_WHY_MAX 320 /* a STAYED's why, with its NUL */

typedef struct stage_evac_fx {
    int kind;
    uint64_t key;
    int err;                      /* STAYED */
    char why[STAGE_EVAC_WHY_MAX]; /* STAYED: "" if no message came */
    char addr[STAGE_ADDR_MAX];    /* MOVE */
} stage_evac_fx_t;

typedef struct stage_evac_stats {
    size_t total;    /* actors added */
    size_t moved;    /* arrived elsewhere */
    size_t gone;     /* stopped before they could move */
    size_t stayed;   /* could not move */
    size_t inflight; /* moves under way */
    size_t waiting;  /* not started, or to be tried again */
    size_t nodes;    /* nodes still taking actors */
} stage_evac_stats_t;

typedef struct stage_evac stage_evac_t;

/* Fill *cfg with the defaults. */
void stage_evac_config_init(stage_evac_config_t *cfg);
/* A drain; cfg is copied (NULL: the defaults). NULL if out of memory. */
stage_evac_t *stage_evac_new(const stage_evac_config_t *cfg);
/* Free *e and set it to NULL. */
void stage_evac_destroy(stage_evac_t **e);

/* Node addr can take actors: cores (at least 1 is assumed), actors it runs
** now, load (its runnable actors per core, for ties). Called again for a
** node it knows, the figures are replaced (fresher ones from its host
** entry; moves to it under way are added) and a node that was gone stays
** gone. 0, STAGE_EINVAL (addr empty or too long) or STAGE_ENOMEM. */
int stage_evac_node(stage_evac_t *e, const char *addr, int cores, double actors,
                    double load);
/* Node addr is gone (declared dead, or leaving): it is chosen no more.
** Moves to it under way still end with stage_evac_result. */
void stage_evac_node_gone(stage_evac_t *e, uint64_t now, const char *addr);
/* An actor to move (its key, not 0, is the driver's: an actor serial,
** say). 0, STAGE_EINVAL (key 0), STAGE_EEXISTS (added already) or
** STAGE_ENOMEM. Actors may be added
** after the start too (one spawned meanwhile). */
int stage_evac_add(stage_evac_t *e, uint64_t key);
/* Start moving (the first MOVE effects). */
void stage_evac_start(stage_evac_t *e, uint64_t now);
/* The move of key asked by the last MOVE effect for it ended with rc (see
** the top), and the message why (NULL: none; copied, cut to fit), which a
** STAYED it leads to carries. Results for keys with no move under way are
** ignored. */
void stage_evac_result(stage_evac_t *e, uint64_t now, uint64_t key, int rc,
                       const char *why);
/* Time passed (harmless to call early). */
void stage_evac_tick(stage_evac_t *e, uint64_t now);
/* When to call stage_evac_tick next (absolute ms; UINT64_MAX: never). */
uint64_t stage_evac_next_timer(const stage_evac_t *e);
/* Whether every actor has moved, gone or stayed (after the start). */
int stage_evac_done(const stage_evac_t *e);
/* The effects since they were last read; valid until the next call. */
const stage_evac_fx_t *stage_evac_effects(stage_evac_t *e, size_t *n);
void stage_evac_stats(const stage_evac_t *e, stage_evac_stats_t *out);

#endif
