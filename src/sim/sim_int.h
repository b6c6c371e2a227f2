/*
** sim/sim_int.h: the simulator's state, shared by engine.c (events,
** network, managers) and scenario.c (workload, faults, figures).
** Single-threaded.
*/
#ifndef STAGE_SIM_INT_H
#define STAGE_SIM_INT_H

#include "sim/sim.h"

enum { EV_MSG = 1, EV_TIMER, EV_ACT };

#define MS(x) ((uint64_t)((x)*1000.0)) /* seconds to ms */

typedef struct ev {
    uint64_t t, seq;
    int kind;
    int mgr;      /* MSG: destination manager; TIMER: its manager */
    uint32_t gen; /* MSG: destination incarnation; TIMER: generation */
    int act, arg; /* ACT */
    stage_dht_msg_t *msg;
} ev_t;

/* The event queue (queue.c). */
typedef struct stage__sim_qnode {
    ev_t ev;
    uint32_t next;
} stage__sim_qnode_t;

typedef struct stage__sim_queue {
    uint64_t cur;          /* the wheel's current millisecond */
    uint32_t *head, *tail; /* per slot FIFO of nodes */
    stage__sim_qnode_t *nodes;
    uint32_t cap, free;
    size_t inwheel;
    ev_t *far; /* heap of events beyond the wheel */
    size_t nfar, capfar;
} stage__sim_queue_t;

int stage__sim_queue_init(stage__sim_queue_t *q);
void stage__sim_queue_push(stage__sim_queue_t *q, const ev_t *e);
/* The next event at or before until, or false (cur is then until). */
bool stage__sim_queue_pop(stage__sim_queue_t *q, uint64_t until, ev_t *out);
void stage__sim_queue_each(stage__sim_queue_t *q,
                           void (*fn)(ev_t *e, void *arg), void *arg);
void stage__sim_queue_free(stage__sim_queue_t *q);

typedef struct mgr {
    stage_dht_t *d;
    uint64_t id;
    int node;
    uint64_t sched;   /* time of our pending timer event, UINT64_MAX: none */
    uint64_t gone_id; /* its id when its node crashed, until declared dead */
    uint32_t gen;
    bool joined;
} mgr_t;

typedef struct node {
    char addr[32];
    uint32_t port;  /* of addr: 7400 + inc, unless restarted in place */
    bool same_addr; /* the next start keeps addr (a restart in place) */
    bool alive;
    int group;
    uint32_t inc;
    double x, y;
    uint64_t born;
    /* stopped (as by SIGSTOP) until then: it handles nothing, and what is
    ** sent to it and its timers wait for it */
    uint64_t stalled_until;
} node_t;

/* A request the scenario made, by sim request id; from RK_RACE on, the
** probes' (probes.c). */
enum {
    RK_NONE,
    RK_CLAIM,
    RK_GET,
    RK_LOOKUP,
    RK_CHECK,
    RK_RACE,
    RK_WATCH,
    RK_EXPORT,
    RK_SOURCE,
    RK_SPLIT,
    RK_TAKE,
    RK_MOVE,
    RK_FRESH
};
enum { A_PROBE = 50, A_DECLARE }; /* actions engine.c and probes.c plan */
typedef struct sreq {
    int kind;
    int entry; /* entries[] index (CLAIM, GET), race index (RACE) */
    int mgr;
    uint64_t t0;
    uint64_t expect; /* LOOKUP: the owner we expect */
} sreq_t;

/* An entry (a name) some node claimed. */
typedef struct sentry {
    uint64_t key;
    int node;
    uint32_t inc;
    bool confirmed;
    uint64_t since;
    uint64_t dead_at; /* when its owner died (0: alive) */
    bool declared;    /* its owner has been declared dead everywhere */
} sentry_t;

typedef struct stage__sim {
    stage__sim_config_t c;
    FILE *out;
    stage__sim_rng_t rng;
    uint64_t now, seq;
    stage__sim_queue_t q;
    stage_dht_msg_t **pool;
    size_t npool, cappool;
    /* world */
    node_t *nodes;
    mgr_t *mgrs;
    int nn, nm;     /* nm = nn * vnodes */
    uint64_t *ring; /* sorted ids of joined live managers (oracle) */
    int nring;
    int *live, *live_pos, nlive; /* joined live managers, for picking */
    /* scenario */
    sreq_t *reqs;
    size_t nreqs, capreqs;
    sentry_t *entries;
    size_t nentries, capentries;
    uint64_t t_measure, t_end;
    bool measuring;
    /* figures */
    uint64_t bytes, msgs, dropped;
    uint64_t gets, gets_ok, lookups, lookups_ok, lookups_right;
    uint64_t claims, claims_ok;
    uint64_t *hops_hist; /* hops -> count */
    uint64_t mass_live, mass_lost, mass_checked, mass_failed, mass_short;
    uint64_t spaced_live, spaced_lost;
    int races, race_wins[64];
    uint64_t race_value[64];
    int nwatch, watch_mgr[64], watch_events[64], watch_items[64];
    int exports_ok, sources_ok;
    int split_winners, split_items;
    /* takeovers (probes.c): per round, the node restarted in place and
    ** when; the figures */
    int ntake, take_node[32];
    uint64_t take_restart[32];
    bool take_done[32], take_wrong[32];
    int take_reads[32];
    int takes_ok, takes_refused, takes_stolen;
    uint64_t take_ms_max;
    /* names that move with their actors (probes.c): per round, the node
    ** that claimed it and the one that took it over; the figures */
    int nmove, move_from[32], move_to[32], move_reads[32];
    int move_stalled[32]; /* --stall: the name's primary's node, or -1 */
    bool move_done[32], move_wrong[32];
    int moves_ok, moves_refused, moves_stolen;
    int moves_unseen, move_asked[32]; /* refusals without an entry; asks */
    /* reads after joins (probes.c) */
    bool fresh_put;
    int fresh_reads, fresh_ok;
    uint64_t stale;
    uint64_t events;
    int failures; /* checked properties that failed */
} stage__sim_t;

/* engine.c */
int stage__sim_engine_init(stage__sim_t *s);
void stage__sim_engine_free(stage__sim_t *s);
void stage__sim_push(stage__sim_t *s, ev_t *e);
void stage__sim_at(stage__sim_t *s, uint64_t t, int act, int arg);
int stage__sim_start_node(stage__sim_t *s, int node, bool join);
void stage__sim_crash_node(stage__sim_t *s, int node);
/* The news that manager i's node died reaches every live manager. */
void stage__sim_declare_dead(stage__sim_t *s, int i);
void stage__sim_leave_node(stage__sim_t *s, int node);
/* Stop node (as SIGSTOP does) for ms: it resumes with what came meanwhile. */
void stage__sim_stall_node(stage__sim_t *s, int node, uint64_t ms);
bool stage__sim_stalled(const stage__sim_t *s, int node);
void stage__sim_drain(stage__sim_t *s, int mgr);
void stage__sim_loop(stage__sim_t *s, uint64_t until);
int stage__sim_random_live_mgr(stage__sim_t *s);
uint64_t stage__sim_oracle_owner(const stage__sim_t *s, uint64_t key);
uint64_t stage__sim_new_req(stage__sim_t *s, int kind, int entry, int mgr);

/* probes.c: claim races, watches, sources, stale leases */
void stage__sim_probes_plan(stage__sim_t *s, uint64_t t0);
bool stage__sim_race_whole(const stage__sim_t *s, int r);
void stage__sim_probe_act(stage__sim_t *s, int arg);
void stage__sim_probe_done(stage__sim_t *s, sreq_t *r,
                           const stage_dht_effect_t *e);
/* Entries whose owner was declared dead that a live manager holds. */
uint64_t stage__sim_stale_declared(stage__sim_t *s);
uint64_t stage__sim_stale_entries(stage__sim_t *s);
int stage__sim_watchers_ok(stage__sim_t *s);
void stage__sim_probe_joined(stage__sim_t *s, int mgr);

/* scenario.c */
stage_id_t stage__sim_actor_of(stage__sim_t *s, int node, int serial);
bool stage__sim_entry_live(const stage__sim_t *s, const sentry_t *e);
static inline int node_mgr(const stage__sim_t *s, int node) {
    return node * s->c.vnodes;
}
/* scenario.c: called by the engine */
void stage__sim_on_act(stage__sim_t *s, int act, int arg);
void stage__sim_on_done(stage__sim_t *s, int mgr, const stage_dht_effect_t *e);
void stage__sim_on_joined(stage__sim_t *s, int mgr);

#endif
