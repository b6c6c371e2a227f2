/*
** tests/sim/sim_tests.c: simulation tests over many seeds. Each test is a
** scenario of `stage sim` options and a check of the figures it reports;
** `sim_tests <name> [seeds]` runs seeds 1..seeds (default 8). A failure
** prints the seed and the command that reproduces it exactly.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

typedef struct test {
    const char *name;
    const char *args;
    const char *(*check)(const stage__sim_figures_t *f);
} test_t;

static const char *joins(const stage__sim_figures_t *f) {
    if (f->ring_consistent < 1) return "ring not consistent after joins";
    if (f->lookup_success < 1) return "a lookup failed without faults";
    if (f->route_correct < 1) return "a lookup reached the wrong owner";
    if (f->claims_ok < 1) return "a claim failed without faults";
    if (f->mean_hops > 0.5 * 7.64 + 1) return "too many hops";
    return NULL;
}

static const char *leave(const stage__sim_figures_t *f) {
    if (f->lookup_success < 0.995) return "lookups failed across leaves";
    if (f->claims_ok < 0.99) return "claims failed across leaves";
    if (f->stale_entries) return "entries outlived their owner";
    return NULL;
}

static const char *crash(const stage__sim_figures_t *f) {
    if (f->entries_lost_fraction > 0) return "entries lost to spaced crashes";
    if (f->lookup_success < 0.995) return "lookups failed across crashes";
    return NULL;
}

static const char *mass(const stage__sim_figures_t *f) {
    if (f->mass_checked == 0) return "nothing checked after the failure";
    if (f->mass_check_failures)
        return "a key with a live replica was not found after 3 periods";
    if (f->mass_unreplicated)
        return "entries had fewer than R replicas before the failure";
    /* with every entry on R holders, the loss is chance: ranges of unequal
    ** size make one run's losses correlated, and the victims depend on the
    ** run's random stream (any change of timing moves it): seeds 1-8 gave
    ** 0.03-0.21 around 0.5^3 = 0.125 */
    if (f->entries_lost_fraction > 0.25) return "lost far more than 0.5^R";
    return NULL;
}

static const char *partition(const stage__sim_figures_t *f) {
    if (f->ring_consistent < 1) return "the ring did not re-merge";
    if (f->stale_entries) return "entries outlived their owner";
    if (f->split_winners < 1) return "no claim won during the partition";
    if (f->split_holders != 1) return "a name has two holders after the heal";
    return NULL;
}

static const char *lease(const stage__sim_figures_t *f) {
    if (f->stale_entries) return "a dead owner's entry did not expire";
    return NULL;
}

/* Crashed nodes declared dead a second later: their entries are gone
** everywhere from then on, the others' are all kept. */
static const char *withdraw(const stage__sim_figures_t *f) {
    if (f->stale_declared) return "an entry of a node declared dead is held";
    if (f->entries_lost_fraction > 0) return "entries of live owners lost";
    if (f->lookup_success < 0.995) return "lookups failed across crashes";
    if (f->races_exactly_one != f->races) return "a race without one winner";
    return NULL;
}

static const char *claims(const stage__sim_figures_t *f) {
    if (f->races == 0) return "no race ran";
    if (f->races_exactly_one != f->races) return "a race without one winner";
    if (f->failures) return "two claimants were told they won";
    return NULL;
}

static const char *watch(const stage__sim_figures_t *f) {
    if (f->watchers_ok != 5) return "a watcher missed a change";
    return NULL;
}

static const char *sources(const stage__sim_figures_t *f) {
    if (f->sources_ok != 5) return "source store/clash/update went wrong";
    return NULL;
}

static const char *wire(const stage__sim_figures_t *f) {
    if (f->failures) return "a message did not survive the codec";
    if (f->lookup_success < 1) return "lookups failed over the codec";
    return NULL;
}

/* A node restarted at its address reclaims its name at once: not
** AlreadyExists until the dead run's lease (30 s) ends, nor after a wait
** near it; nobody else takes the name meanwhile, and every read after
** gives the new run's actor. The wait allowed covers a restart that killed
** the name's primary: its successor repairs the range first (up to 3
** periods), and the claim waits for that. */
static const char *takeover(const stage__sim_figures_t *f) {
    if (f->takeovers < 4) return "too few restarts ran";
    if (f->takeovers_refused) return "a restarted node was refused its name";
    if (f->stolen) return "another node took a restarted node's name";
    if (f->takeovers_ok != f->takeovers)
        return "a name did not name the restarted node's actor";
    if (f->takeover_ms_max > 8000) return "a takeover waited near the lease";
    return NULL;
}

/* Every takeover ran to its end: the name at the actor that took it. */
static const char *moves_ended(const stage__sim_figures_t *f) {
    if (f->name_moves < 4) return "too few takeovers ran";
    if (f->name_moves_stolen) return "a takeover from a wrong id won";
    if (f->name_moves_refused) return "a takeover was refused";
    if (f->name_moves_ok != f->name_moves)
        return "a name did not name the actor that took it over";
    return NULL;
}

/* A name taken over by another node for its actor (a drain's takeover)
** is that node's from then on, everywhere, and stays so after a lease
** (the first holder's renewals do not put it back); a takeover from an id
** the name does not hold is refused. Over the codec, with loss. */
static const char *name_moves(const stage__sim_figures_t *f) {
    if (f->failures) return "a message did not survive the codec";
    return moves_ended(f);
}

/* Name moves while the name's primary is stopped (--stall: as by SIGSTOP,
** 3 s, the takeover 1.5 s in), every other round, on 4 nodes: a node may
** hold most of the ring, and the replica standing in for it then has no
** entry to swap. Such a refusal without an entry is asked again (as
** net/relocate.c does); every takeover must end with the name at the new
** actor, read so after the stall and after a lease. Seed 35 meets one
** (cluster.drain_fault's failure: e frozen held 77% of the ring). */
static const char *moves_stalled(const stage__sim_figures_t *f) {
    return moves_ended(f);
}

/* A name released while its primary is stopped (--stall, as above, with
** the release 1.5 s in) stays released: reads 0.5 s after the release,
** 0.5 s after the primary resumed and after a lease all find no entry.
** The stopped primary held the name's entry across the stall; the
** removal was decided by the replica standing in for it. */
static const char *releases_stalled(const stage__sim_figures_t *f) {
    if (f->name_moves < 4) return "too few releases ran";
    if (f->name_moves_refused) return "a release failed";
    if (f->name_moves_ok != f->name_moves)
        return "a released name was found again";
    return NULL;
}

/* A stored entry read as each node joins a small ring, and 0.1 s and
** 0.5 s after, by the joiner and by a member: every read gives it. Joins
** make members repair their ranges, and a replica repairing answers a
** read "busy"; a read that met three such answers in a few milliseconds
** used to fail Timeout (a first spawn on a node just started). */
static const char *fresh(const stage__sim_figures_t *f) {
    if (f->failures) return "the entry could not be stored";
    if (f->fresh_reads < 10) return "too few reads ran";
    if (f->fresh_reads_ok != f->fresh_reads)
        return "a read as nodes joined did not give the entry";
    return NULL;
}

static const test_t tests[] = {
    {"joins", "--nodes 200 --join 10 --settle 20 --duration 30", joins},
    {"leave", "--nodes 150 --churn-median 60 --leave-frac 1 --duration 60",
     leave},
    {"crash", "--nodes 150 --spaced-fail 15 --duration 90", crash},
    {"mass_failure", "--nodes 200 --mass-fail 0.5 --mass-at 10 --duration 30",
     mass},
    {"partition", "--nodes 150 --partition-at 10 --heal-at 40 --duration 120",
     partition},
    {"lease_expiry",
     "--nodes 100 --spaced-fail 5 --lease-ms 6000 --duration 60", lease},
    {"withdraw",
     "--nodes 150 --spaced-fail 4 --declare-dead 1 --claimants 5 "
     "--duration 60",
     withdraw},
    {"claim_race",
     "--nodes 150 --claimants 10 --loss 0.02 --crash-during-claims 0.01 "
     "--duration 60",
     claims},
    {"watch", "--nodes 100 --watchers 5 --duration 40", watch},
    {"source_clash", "--nodes 100 --sources --duration 30", sources},
    {"wire", "--nodes 100 --wire --loss 0.01 --duration 30", wire},
    {"takeover", "--nodes 100 --takeover --loss 0.01 --duration 60", takeover},
    /* a small ring: the restarted node often joins into the range its dead
    ** run owned, before anyone repaired it */
    {"takeover_small",
     "--nodes 6 --takeover --join 5 --settle 10 --duration 60", takeover},
    {"name_moves",
     "--nodes 60 --name-moves --wire --loss 0.01 --lease-ms 6000 "
     "--duration 70",
     name_moves},
    {"name_moves_stall",
     "--nodes 4 --join 2 --settle 10 --name-moves --stall 3 --period-ms 200 "
     "--lease-ms 3000 --duration 70",
     moves_stalled},
    /* the same with a 6 s lease: the stopped primary's own entry outlives
    ** the stall, and a hand-back that kept it served the old holder until
    ** the new owner's next renewal (seeds 57, 114, 180, 236) */
    {"name_moves_stall_lease",
     "--nodes 4 --join 2 --settle 10 --name-moves --stall 3 --period-ms 200 "
     "--lease-ms 6000 --duration 70",
     moves_stalled},
    /* a release while the name's primary is stopped: the stopped node's
    ** entry outlives the stall (a 6 s lease), and must not be served
    ** again after the resume */
    {"name_release_stall",
     "--nodes 4 --join 2 --settle 10 --name-moves --release --stall 3 "
     "--period-ms 200 --lease-ms 6000 --duration 70",
     releases_stalled},
    {"fresh_reads", "--nodes 6 --join 3 --settle 5 --duration 5 --fresh-reads",
     fresh},
    {"fresh_reads_wire",
     "--nodes 40 --join 10 --settle 5 --duration 5 --fresh-reads --wire "
     "--loss 0.01",
     fresh},
};

/* Split args into argv (in buf); returns argc. */
static int split(const char *args, char *buf, size_t len, char **argv) {
    int argc = 0;
    snprintf(buf, len, "%s", args);
    argv[argc++] = "sim";
    for (char *t = strtok(buf, " "); t && argc < 62; t = strtok(NULL, " "))
        argv[argc++] = t;
    return argc;
}

static int run(const test_t *t, unsigned long seed, stage__sim_figures_t *f,
               FILE *out) {
    char buf[512], *argv[64];
    int argc = split(t->args, buf, sizeof(buf), argv);
    stage__sim_config_t c;
    stage__sim_config_init(&c);
    if (stage__sim_parse_args(&c, argc, argv) || stage__sim_check_config(&c))
        return -1;
    c.seed = seed;
    return stage__sim_run(&c, out, f);
}

/* The same seed prints the same bytes; another seed does not. */
static int determinism(void) {
    test_t t = {"determinism",
                "--nodes 100 --duration 30 --loss 0.01 --claimants 5 "
                "--churn-median 120 --watchers 3 --sources",
                NULL};
    char *text[3] = {NULL, NULL, NULL};
    size_t len[3];
    for (int i = 0; i < 3; i++) {
        FILE *f = open_memstream(&text[i], &len[i]);
        stage__sim_figures_t fig;
        if (!f || run(&t, i < 2 ? 7 : 8, &fig, f) < 0) return 1;
        fclose(f);
    }
    int bad = len[0] != len[1] || memcmp(text[0], text[1], len[0]) != 0 ||
              (len[0] == len[2] && memcmp(text[0], text[2], len[0]) == 0);
    if (bad && getenv("SIM_TESTS_DUMP"))
        for (int i = 0; i < 3; i++)
            printf("--- %d\n%s", i, text[i]);
    if (bad)
        printf("sim.determinism failed: seed 7 twice gave different output "
               "(or seed 8 the same); reproduce: stage sim %s --seed 7\n",
               t.args);
    for (int i = 0; i < 3; i++)
        free(text[i]);
    return bad;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: sim_tests <test> [seeds]\n");
        return 2;
    }
    if (!strcmp(argv[1], "determinism")) return determinism();
    unsigned long seeds = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (strcmp(argv[1], tests[i].name) != 0) continue;
        FILE *null = fopen("/dev/null", "w");
        int failed = 0;
        for (unsigned long seed = 1; seed <= seeds; seed++) {
            stage__sim_figures_t f;
            int rc = run(&tests[i], seed, &f, null);
            const char *why = rc < 0 ? "bad scenario" : tests[i].check(&f);
            if (!why && rc) why = "a checked property failed";
            if (why) {
                printf("sim.%s failed at seed %lu: %s\n  reproduce: stage sim "
                       "%s --seed %lu\n",
                       tests[i].name, seed, why, tests[i].args, seed);
                failed = 1;
            }
        }
        fclose(null);
        return failed;
    }
    fprintf(stderr, "sim_tests: no test '%s'\n", argv[1]);
    return 2;
}
