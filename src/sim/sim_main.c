/*
** sim/sim_main.c: `stage sim` — parse the options and run the simulator.
** Single-threaded.
*/
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/sim_main.h"

static const char usage[] =
    "usage: stage sim --nodes N --seed S [options]\n"
    "Run N DHT managers in one process on a virtual clock; print JSON lines.\n"
    "  --vnodes V              managers (virtual ids) per node (1)\n"
    "  --duration SECS         measured simulated time (60)\n"
    "  --join SECS             nodes join spread over this time (20)\n"
    "  --settle SECS           the ring settles this long before (20)\n"
    "  --loss P                message loss probability (0)\n"
    "  --latency MS            mean one-way latency (40)\n"
    "  --lookup-rate R         lookups per second, whole system (100)\n"
    "  --entries E             names each node claims (3)\n"
    "  --churn-median SECS     median session time; 0 = no churn (0)\n"
    "  --leave-frac F          share of departures that are graceful (0)\n"
    "  --mass-fail F --mass-at SECS   crash a fraction F at once\n"
    "  --spaced-fail SECS      crash one node every SECS\n"
    "  --declare-dead SECS     a crash is declared dead everywhere SECS after\n"
    "  --partition-at SECS --heal-at SECS   split in two halves, then heal\n"
    "  --claimants K           claim races of K nodes every 10 s\n"
    "  --crash-during-claims F crash a fraction F during each race\n"
    "  --replicas R (3)  --period-ms T (1000)  --finger-period-ms F (3000)\n"
    "  --watchers W            W nodes watch a service tag; exports every 5 s\n"
    "  --sources               store sources: a clash, a match, an update\n"
    "  --takeover              every 10 s a node holding a name is crashed,\n"
    "                          restarted at its address and reclaims it\n"
    "  --name-moves            every 10 s a name is taken over by another\n"
    "                          node (a drain's compare-and-swap)\n"
    "  --stall SECS            with --name-moves, every other round: the\n"
    "                          name's primary's node is stopped SECS, from\n"
    "                          SECS/2 before the takeover\n"
    "  --release               with --name-moves: the holder releases the\n"
    "                          name instead (a removal); no read may find it\n"
    "  --fresh-reads           a stored entry is read as each node joins\n"
    "  --lease-ms L (30000)  --wire (pass messages through msgpack)\n";

typedef struct opt {
    const char *name;
    char kind; /* i int, u uint64, d double, m uint32, f flag */
    void *p;
} opt_t;

/* Store v as the value of o: 0, or -1 if v is not a number of o's kind,
** 0 or more, that fits (no sign: strtoul would wrap "-1" around). */
static int parse_value(const opt_t *o, const char *v) {
    char *end;
    errno = 0;
    if (o->kind == 'd') {
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d) || d < 0) return -1;
        *(double *)o->p = d;
        return 0;
    }
    if (!isdigit((unsigned char)v[0])) return -1;
    unsigned long long u = strtoull(v, &end, 10);
    if (*end || errno == ERANGE) return -1;
    if (o->kind == 'i' && u <= INT_MAX)
        *(int *)o->p = (int)u;
    else if (o->kind == 'm' && u <= UINT32_MAX)
        *(uint32_t *)o->p = (uint32_t)u;
    else if (o->kind == 'u')
        *(uint64_t *)o->p = u;
    else
        return -1;
    return 0;
}

int stage__sim_parse_args(stage__sim_config_t *c, int argc, char **argv) {
    opt_t opts[] = {
        {"--nodes", 'i', &c->nodes},
        {"--seed", 'u', &c->seed},
        {"--vnodes", 'i', &c->vnodes},
        {"--duration", 'd', &c->duration_s},
        {"--join", 'd', &c->join_s},
        {"--settle", 'd', &c->settle_s},
        {"--loss", 'd', &c->loss},
        {"--latency", 'd', &c->latency_ms},
        {"--lookup-rate", 'd', &c->lookup_rate},
        {"--entries", 'i', &c->entries},
        {"--churn-median", 'd', &c->churn_median_s},
        {"--leave-frac", 'd', &c->leave_frac},
        {"--mass-fail", 'd', &c->mass_fail},
        {"--mass-at", 'd', &c->mass_at_s},
        {"--spaced-fail", 'd', &c->spaced_fail_s},
        {"--declare-dead", 'd', &c->declare_dead_s},
        {"--partition-at", 'd', &c->partition_at_s},
        {"--heal-at", 'd', &c->heal_at_s},
        {"--claimants", 'i', &c->claimants},
        {"--crash-during-claims", 'd', &c->crash_during_claims},
        {"--replicas", 'i', &c->replicas},
        {"--period-ms", 'm', &c->period_ms},
        {"--finger-period-ms", 'm', &c->finger_period_ms},
        {"--lease-ms", 'm', &c->lease_ms},
        {"--wire", 'f', &c->wire},
        {"--watchers", 'i', &c->watchers},
        {"--sources", 'f', &c->sources},
        {"--takeover", 'f', &c->takeover},
        {"--name-moves", 'f', &c->name_moves},
        {"--fresh-reads", 'f', &c->fresh_reads},
        {"--stall", 'd', &c->stall_s},
        {"--release", 'f', &c->release},
    };
    for (int i = 1; i < argc; i++) {
        size_t k = 0, n = sizeof(opts) / sizeof(opts[0]);
        while (k < n && strcmp(argv[i], opts[k].name) != 0)
            k++;
        if (k == n) {
            fprintf(stderr, "stage sim: unknown option '%s'\n", argv[i]);
            return -1;
        }
        if (opts[k].kind == 'f') {
            *(bool *)opts[k].p = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "stage sim: option '%s' needs a value\n", argv[i]);
            return -1;
        }
        const char *v = argv[++i];
        if (parse_value(&opts[k], v)) {
            fprintf(stderr, "stage sim: option '%s' must be %s, not '%s'\n",
                    opts[k].name,
                    opts[k].kind == 'd' ? "a number, 0 or more"
                    : opts[k].kind == 'i'
                        ? "a whole number from 0 to 2147483647"
                    : opts[k].kind == 'm'
                        ? "a whole number from 0 to 4294967295"
                        : "a whole number from 0 to 18446744073709551615",
                    v);
            return -1;
        }
    }
    return 0;
}

static const char *check(const stage__sim_config_t *c) {
    if (c->nodes < 1 || c->nodes > (1 << 24))
        return "--nodes must be 1..16777216";
    if (c->vnodes < 1 || c->vnodes > 64) return "--vnodes must be 1..64";
    if (c->replicas < 1 || c->replicas > 8) return "--replicas must be 1..8";
    if (c->loss < 0 || c->loss >= 1) return "--loss must be in [0, 1)";
    if (c->period_ms < 10 || c->finger_period_ms < 10)
        return "--period-ms and --finger-period-ms must be at least 10";
    if (c->lease_ms < 3 * c->period_ms)
        return "--lease-ms must be >= 3 periods";
    if (c->claimants > 1000) return "--claimants must be at most 1000";
    if (c->mass_fail < 0 || c->mass_fail >= 1)
        return "--mass-fail must be in [0, 1)";
    if (c->duration_s <= 0 || c->join_s < 0 || c->settle_s < 0)
        return "times must be positive";
    return NULL;
}

int stage__sim_check_config(const stage__sim_config_t *c) {
    const char *err = check(c);
    if (err) fprintf(stderr, "stage sim: %s\n", err);
    return err ? -1 : 0;
}

int stage__sim_main(int argc, char **argv) {
    stage__sim_config_t c;
    stage__sim_config_init(&c);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
    if (stage__sim_parse_args(&c, argc, argv) || stage__sim_check_config(&c)) {
        fputs(usage, stderr);
        return 2;
    }
    int rc = stage__sim_run(&c, stdout, NULL);
    if (rc)
        fprintf(stderr, "stage sim: a checked property failed (seed %llu)\n",
                (unsigned long long)c.seed);
    return rc;
}
