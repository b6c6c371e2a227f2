/*
** sim/sim.h: the deterministic simulator of DHT managers.
** One process runs thousands of managers (src/dht) on a virtual clock: an
** event heap orders message deliveries, timers and scenario actions by
** (time, sequence number), and every random choice comes from one seeded
** xoshiro256** generator, so a run is reproduced exactly from its seed.
** The network: per-node coordinates give per-link latency plus jitter;
** messages can be lost, nodes split into partitions, crashed, restarted.
** Single-threaded.
*/
#ifndef STAGE_SIM_H
#define STAGE_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dht/dht.h"

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ---- */
typedef struct stage__sim_rng {
    uint64_t s[4];
} stage__sim_rng_t;
void stage__sim_rng_seed(stage__sim_rng_t *r, uint64_t seed);
uint64_t stage__sim_rng_next(stage__sim_rng_t *r);
double stage__sim_rng_unit(stage__sim_rng_t *r);                /* [0, 1) */
uint64_t stage__sim_rng_below(stage__sim_rng_t *r, uint64_t n); /* [0, n) */
double stage__sim_rng_exp(stage__sim_rng_t *r, double mean);

typedef struct stage__sim_config {
    int nodes;
    uint64_t seed;
    int vnodes;            /* managers (virtual ids) per node */
    double duration_s;     /* simulated time after the ring is built */
    double join_s;         /* nodes join spread over this time */
    double settle_s;       /* then the ring settles this long */
    double loss;           /* message loss probability */
    double latency_ms;     /* mean one-way latency */
    double lookup_rate;    /* lookups per second, whole system */
    int entries;           /* entries (names) each node owns */
    double churn_median_s; /* 0: no churn */
    double leave_frac;     /* share of departures that are graceful */
    double mass_fail;      /* fraction crashed at once (0: none) */
    double mass_at_s;      /* when, after the settle */
    double spaced_fail_s;  /* > 0: one crash every this many seconds */
    double declare_dead_s; /* > 0: a crashed node's managers are declared
                           ** dead to every live manager this long after */
    double partition_at_s, heal_at_s; /* partition in two halves */
    int claimants;                    /* > 0: claim race of this many nodes */
    double crash_during_claims;       /* fraction crashed during the race */
    int replicas;
    uint32_t period_ms;
    uint32_t finger_period_ms;
    uint32_t lease_ms;
    int watchers;     /* > 0: watchers of a service tag, exports */
    bool sources;     /* store sources: a clash, a match, an update */
    bool takeover;    /* nodes restarted at their address reclaim a name */
    bool name_moves;  /* names taken over by another node (compare-and-swap) */
    double stall_s;   /* > 0: each takeover is asked while the name's
                      ** primary's node is stopped (SIGSTOP) this long */
    bool release;     /* with name_moves: the holder releases the name (a
                      ** removal) instead; name_moves counts the releases,
                      ** name_moves_ok those never read back */
    bool fresh_reads; /* an entry read as each node joins, and after */
    bool wire;        /* pass messages through the msgpack codec */
} stage__sim_config_t;

/* The figures of a run (also printed as the summary line). */
typedef struct stage__sim_figures {
    double mean_hops, p99_hops, lookup_success, route_correct, claims_ok;
    double entries_lost_fraction, bytes_per_node_per_s, msgs_per_node_per_s;
    double keys_max_over_mean, keys_p99_over_mean, ring_consistent;
    uint64_t lookups, claims, mass_checked, mass_check_failures;
    uint64_t mass_unreplicated; /* entries short of R holders before it */
    uint64_t stale_entries, events;
    uint64_t stale_declared; /* entries of owners declared dead, still held */
    int races, races_exactly_one, watchers_ok, sources_ok, failures;
    int split_winners, split_holders; /* claims in a partition, after */
    int takeovers, takeovers_ok;      /* restarts that reclaimed a name */
    int takeovers_refused, stolen;    /* AlreadyExists; a stranger won */
    double takeover_ms_max;           /* restart -> name reclaimed */
    int name_moves, name_moves_ok;    /* names taken over, read right */
    int name_moves_refused, name_moves_stolen; /* refused; a wrong one won */
    int name_moves_unseen; /* refusals that found no entry (asked again) */
    int fresh_reads, fresh_reads_ok; /* reads as nodes join; right ones */
} stage__sim_figures_t;

void stage__sim_config_init(stage__sim_config_t *c);
/* Parse `stage sim` options (argv[0] is skipped) into *c; then check it.
** Each returns 0, or -1 after saying what is wrong on stderr. */
int stage__sim_parse_args(stage__sim_config_t *c, int argc, char **argv);
int stage__sim_check_config(const stage__sim_config_t *c);
/* Run one simulation and print its JSON lines to out; fill *fig if not
** NULL. Returns 0, or 1 when a checked property failed. */
int stage__sim_run(const stage__sim_config_t *c, FILE *out,
                   stage__sim_figures_t *fig);

#endif
