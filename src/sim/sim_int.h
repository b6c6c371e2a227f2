/*
** sim/sim_int.h: the simulator's state, shared by engine.c (events,
** network, managers) and scenario.c (workload, faults, figures).
** Single-threaded.
*/
#ifndef STAGE_SIM_INT_H
#define STAGE_SIM_INT_H

#include "sim/sim.h"

enum { EV_MSG = 1, EV_TIMER, EV_ACT };

typedef struct ev {
    uint64_t t, seq;
    int kind;
    int mgr;      /* MSG: destination manager; TIMER: its manager */
    uint32_t gen; /* MSG: destination incarnation; TIMER: generation */
    int act, arg; /* ACT */
    stage_dht_msg_t *msg;
} ev_t;

/* The event queue (queue.c). */
typedef struct sim_qnode {
    ev_t ev;
    uint32_t next;
} sim_qnode_t;

typedef struct sim_queue {
    uint64_t cur;          /* the wheel's current millisecond */
    uint32_t *head, *tail; /* per slot FIFO of nodes */
    sim_qnode_t *nodes;
    uint32_t cap, free;
    size_t inwheel;
    ev_t *far; /* heap of events beyond the wheel */
    size_t nfar, capfar;
} sim_queue_t;

int sim_queue_init(sim_queue_t *q);
void sim_queue_push(sim_queue_t *q, const ev_t *e);
/* The next event at or before until, or false (cur is then until). */
bool sim_queue_pop(sim_queue_t *q, uint64_t until, ev_t *out);
void sim_queue_each(sim_queue_t *q, void (*fn)(ev_t *e, void *arg), void *arg);
void sim_queue_free(sim_queue_t *q);

typedef struct mgr {
    stage_dht_t *d;
    uint64_t id;
    int node;
    uint64_t sched; /* time of our pending timer event, UINT64_MAX: none */
    uint32_t gen;
    bool joined;
} mgr_t;

typedef struct node {
    char addr[32];
    bool alive;
    int group;
    uint32_t inc;
    double x, y;
    uint64_t born;
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
    RK_SPLIT
};
enum { A_PROBE = 50 }; /* scenario actions handed to probes.c */
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
} sentry_t;

typedef struct sim {
    sim_config_t c;
    FILE *out;
    sim_rng_t rng;
    uint64_t now, seq;
    sim_queue_t q;
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
    uint64_t stale;
    uint64_t events;
    int failures; /* checked properties that failed */
} sim_t;

/* engine.c */
int sim_engine_init(sim_t *s);
void sim_engine_free(sim_t *s);
void sim_push(sim_t *s, ev_t *e);
void sim_at(sim_t *s, uint64_t t, int act, int arg);
int sim_start_node(sim_t *s, int node, bool join);
void sim_crash_node(sim_t *s, int node);
void sim_leave_node(sim_t *s, int node);
void sim_drain(sim_t *s, int mgr);
void sim_loop(sim_t *s, uint64_t until);
int sim_random_live_mgr(sim_t *s);
uint64_t sim_oracle_owner(const sim_t *s, uint64_t key);
uint64_t sim_new_req(sim_t *s, int kind, int entry, int mgr);

/* probes.c: claim races, watches, sources, stale leases */
void sim_probes_plan(sim_t *s, uint64_t t0);
bool sim_race_whole(const sim_t *s, int r);
void sim_probe_act(sim_t *s, int arg);
void sim_probe_done(sim_t *s, sreq_t *r, const stage_dht_effect_t *e);
uint64_t sim_stale_entries(sim_t *s);
int sim_watchers_ok(sim_t *s);

/* scenario.c */
stage_id_t sim_actor_of(sim_t *s, int node, int serial);
bool sim_entry_live(const sim_t *s, const sentry_t *e);
static inline int node_mgr(const sim_t *s, int node) {
    return node * s->c.vnodes;
}
/* scenario.c: called by the engine */
void sim_on_act(sim_t *s, int act, int arg);
void sim_on_done(sim_t *s, int mgr, const stage_dht_effect_t *e);
void sim_on_joined(sim_t *s, int mgr);

#endif
