/*
** sim/scenario.c: what the simulated system does and what is measured.
** Timeline: nodes join over join_s, the ring settles for settle_s, then
** the measured run lasts duration_s: lookups at lookup_rate, entries
** claimed by every node when it joins, and the faults asked for (churn,
** mass failure, spaced failures, a partition and its heal, claim races).
** At the end one JSON summary line gives the figures; fault events print
** their own lines. Everything depends only on the seed.
** Single-threaded.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "stage/errors.h"
#include "util/alloc.h"

enum {
    A_JOIN = 1,
    A_ENTRIES,
    A_LOAD,
    A_MEASURE,
    A_SESSION_END,
    A_MASS,
    A_MASS_CHECK,
    A_SPACED,
    A_PART,
    A_HEAL,
    A_END
};

#define LOAD_TICK_MS 10

uint64_t stage__sim_new_req(stage__sim_t *s, int kind, int entry, int mgr) {
    if (s->nreqs == s->capreqs) {
        size_t cap = s->capreqs ? s->capreqs * 2 : 4096;
        sreq_t *v = stage__realloc(s->reqs, cap * sizeof(*v));
        if (!v) abort(); /* the simulator cannot go on without memory */
        s->reqs = v;
        s->capreqs = cap;
    }
    sreq_t *r = &s->reqs[s->nreqs++];
    r->kind = kind;
    r->entry = entry;
    r->mgr = mgr;
    r->t0 = s->now;
    r->expect = 0;
    return s->nreqs; /* ids start at 1 */
}

stage_id_t stage__sim_actor_of(stage__sim_t *s, int node, int serial) {
    stage_id_t id;
    memset(&id, 0, sizeof(id));
    snprintf(id.node, sizeof(id.node), "%s", s->nodes[node].addr);
    id.incarnation = s->nodes[node].inc;
    id.serial = (uint64_t)serial;
    strcpy(id.type, "Worker");
    return id;
}

static void claim_entries(stage__sim_t *s, int node) {
    int i = node_mgr(s, node);
    if (!s->nodes[node].alive || !s->mgrs[i].d) return;
    for (int j = 0; j < s->c.entries; j++) {
        char name[64];
        snprintf(name, sizeof(name), "e%d.%u.%d", node, s->nodes[node].inc, j);
        if (s->nentries == s->capentries) {
            size_t cap = s->capentries ? s->capentries * 2 : 1024;
            sentry_t *v = stage__realloc(s->entries, cap * sizeof(*v));
            if (!v) abort();
            s->entries = v;
            s->capentries = cap;
        }
        sentry_t *e = &s->entries[s->nentries];
        e->key = stage_dht_key(STAGE_DHT_NAMES, name, strlen(name));
        e->node = node;
        e->inc = s->nodes[node].inc;
        e->confirmed = false;
        e->dead_at = 0;
        e->declared = false;
        stage_id_t id = stage__sim_actor_of(s, node, j);
        uint64_t rq = stage__sim_new_req(s, RK_CLAIM, (int)s->nentries++, i);
        stage_dht_name_claim(s->mgrs[i].d, s->now, rq, name, &id);
        stage__sim_drain(s, i);
    }
}

bool stage__sim_entry_live(const stage__sim_t *s, const sentry_t *e) {
    const node_t *n = &s->nodes[e->node];
    return e->confirmed && n->alive && n->inc == e->inc;
}

/* One get of a random live entry, or one routed lookup of a random key. */
static void one_lookup(stage__sim_t *s) {
    int m = stage__sim_random_live_mgr(s);
    if (m < 0) return;
    if (stage__sim_rng_below(&s->rng, 4) == 0 || s->nentries == 0) {
        uint64_t key = stage__sim_rng_next(&s->rng);
        uint64_t rq = stage__sim_new_req(s, RK_LOOKUP, 0, m);
        s->reqs[rq - 1].expect = stage__sim_oracle_owner(s, key);
        stage_dht_lookup(s->mgrs[m].d, s->now, rq, key);
        stage__sim_drain(s, m);
        return;
    }
    for (int tries = 0; tries < 20; tries++) {
        size_t k = stage__sim_rng_below(&s->rng, s->nentries);
        sentry_t *e = &s->entries[k];
        if (!stage__sim_entry_live(s, e) || s->now - e->since < 2000) continue;
        uint64_t rq = stage__sim_new_req(s, RK_GET, (int)k, m);
        stage_dht_get(s->mgrs[m].d, s->now, rq, e->key);
        stage__sim_drain(s, m);
        return;
    }
}

static void count_hops(stage__sim_t *s, int hops) {
    s->hops_hist[hops < 0 ? 0 : hops > 255 ? 255 : hops]++;
}

void stage__sim_on_done(stage__sim_t *s, int mgr, const stage_dht_effect_t *e) {
    (void)mgr;
    if (e->req == 0 || e->req > s->nreqs) return;
    sreq_t *r = &s->reqs[e->req - 1];
    if (r->kind >= RK_RACE) {
        stage__sim_probe_done(s, r, e);
        return;
    }
    if (e->kind != STAGE_DHT_FX_DONE) return;
    sentry_t *en =
        r->kind == RK_CLAIM || r->kind == RK_GET || r->kind == RK_CHECK
            ? &s->entries[r->entry]
            : NULL;
    bool measured = r->t0 >= s->t_measure && s->measuring;
    switch (r->kind) {
    case RK_CLAIM:
        s->claims++; /* counted when answered: a claimant may die first */
        if (e->status == 0) {
            en->confirmed = true;
            en->since = s->now;
            s->claims_ok++;
        }
        break;
    case RK_GET:
    case RK_CHECK: {
        uint64_t owner = s->mgrs[node_mgr(s, en->node)].id;
        bool ok =
            e->status == 0 && e->nitems == 1 && e->items[0].owner == owner;
        if (r->kind == RK_CHECK) {
            if (!ok) s->mass_failed++;
            break;
        }
        if (!measured) break;
        s->gets++;
        if (ok) {
            s->gets_ok++;
            count_hops(s, e->hops);
        }
        break;
    }
    case RK_LOOKUP:
        if (!measured) break;
        s->lookups++;
        if (e->status == 0) {
            s->lookups_ok++;
            count_hops(s, e->hops);
            if (e->nitems && e->items[0].owner == r->expect) s->lookups_right++;
        }
        break;
    default:
        break;
    }
    r->kind = RK_NONE;
}

void stage__sim_on_joined(stage__sim_t *s, int mgr) {
    int node = s->mgrs[mgr].node;
    stage__sim_probe_joined(s, mgr);
    if (mgr == node_mgr(s, node) && s->c.entries > 0)
        stage__sim_at(s, s->now + 2 * (uint64_t)s->c.period_ms, A_ENTRIES,
                      node);
}

/* ---- faults ---- */

static void schedule_session(stage__sim_t *s, int node) {
    if (s->c.churn_median_s <= 0) return;
    double mean = s->c.churn_median_s / log(2.0);
    stage__sim_at(s, s->now + MS(stage__sim_rng_exp(&s->rng, mean)) + 1,
                  A_SESSION_END, node);
}

/* Count entries of live owners that no live manager holds any more. */
static void count_lost(stage__sim_t *s, uint64_t *live, uint64_t *lost) {
    int R = s->c.replicas;
    for (size_t k = 0; k < s->nentries; k++) {
        const sentry_t *e = &s->entries[k];
        if (!stage__sim_entry_live(s, e)) continue;
        (*live)++;
        bool held = false;
        for (int i = 0; i < R && !held; i++) {
            uint64_t rk = stage_dht_replica(e->key, i, R);
            for (int m = 0; m < s->nm && !held; m++)
                held = s->mgrs[m].d &&
                       stage_dht_holds(s->mgrs[m].d, s->now, rk, 0);
        }
        if (!held) (*lost)++;
    }
}

/* Live entries that fewer than R managers hold. */
static uint64_t count_short(stage__sim_t *s) {
    int R = s->c.replicas;
    uint64_t n = 0;
    for (size_t k = 0; k < s->nentries; k++) {
        const sentry_t *e = &s->entries[k];
        if (!stage__sim_entry_live(s, e)) continue;
        int held = 0;
        for (int i = 0; i < R; i++) {
            uint64_t rk = stage_dht_replica(e->key, i, R);
            for (int m = 0; m < s->nm; m++)
                if (s->mgrs[m].d &&
                    stage_dht_holds(s->mgrs[m].d, s->now, rk, 0)) {
                    held++;
                    break;
                }
        }
        n += held < R;
    }
    return n;
}

static void mass_failure(stage__sim_t *s) {
    int n = (int)(s->c.mass_fail * s->nn), done = 0;
    s->mass_short = count_short(s);
    while (done < n) {
        int node = (int)stage__sim_rng_below(&s->rng, (uint64_t)s->nn);
        if (!s->nodes[node].alive) continue;
        stage__sim_crash_node(s, node);
        done++;
    }
    count_lost(s, &s->mass_live, &s->mass_lost);
    fprintf(s->out,
            "{\"event\":\"mass_failure\",\"t_ms\":%llu,\"crashed\":%d,"
            "\"entries\":%llu,\"entries_lost\":%llu}\n",
            (unsigned long long)s->now, n, (unsigned long long)s->mass_live,
            (unsigned long long)s->mass_lost);
    stage__sim_at(s, s->now + 3 * (uint64_t)s->c.period_ms, A_MASS_CHECK, 0);
}

/* Three periods after the failure: every entry that kept a live replica
** must be found. */
static void mass_check(stage__sim_t *s) {
    int R = s->c.replicas;
    for (size_t k = 0; k < s->nentries; k++) {
        const sentry_t *e = &s->entries[k];
        if (!stage__sim_entry_live(s, e)) continue;
        bool held = false;
        for (int i = 0; i < R && !held; i++)
            for (int m = 0; m < s->nm && !held; m++)
                held = s->mgrs[m].d &&
                       stage_dht_holds(s->mgrs[m].d, s->now,
                                       stage_dht_replica(e->key, i, R), 0);
        if (!held) continue;
        int m = stage__sim_random_live_mgr(s);
        if (m < 0) return;
        uint64_t rq = stage__sim_new_req(s, RK_CHECK, (int)k, m);
        s->mass_checked++;
        stage_dht_get(s->mgrs[m].d, s->now, rq, e->key);
        stage__sim_drain(s, m);
    }
}

static void spaced_failure(stage__sim_t *s) {
    for (int tries = 0; tries < 100; tries++) {
        int node = (int)stage__sim_rng_below(&s->rng, (uint64_t)s->nn);
        if (!s->nodes[node].alive) continue;
        stage__sim_crash_node(s, node);
        break;
    }
    count_lost(s, &s->spaced_live, &s->spaced_lost);
    stage__sim_at(s, s->now + MS(s->c.spaced_fail_s), A_SPACED, 0);
}

static void partition(stage__sim_t *s, bool heal) {
    for (int i = 0; i < s->nn; i++)
        s->nodes[i].group = heal ? 0 : (int)stage__sim_rng_below(&s->rng, 2);
    fprintf(s->out, "{\"event\":\"%s\",\"t_ms\":%llu}\n",
            heal ? "heal" : "partition", (unsigned long long)s->now);
}

/* ---- figures ---- */

static double hops_quantile(const stage__sim_t *s, double q, double *mean) {
    uint64_t n = 0, sum = 0;
    for (int i = 0; i < 256; i++) {
        n += s->hops_hist[i];
        sum += (uint64_t)i * s->hops_hist[i];
    }
    *mean = n ? (double)sum / (double)n : 0;
    uint64_t want = (uint64_t)ceil(q * (double)n), acc = 0;
    for (int i = 0; i < 256; i++) {
        acc += s->hops_hist[i];
        if (n && acc >= want) return i;
    }
    return 0;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void balance(stage__sim_t *s, double *maxr, double *p99r) {
    size_t *v = stage__calloc((size_t)s->nn + 1, sizeof(size_t));
    size_t n = 0, sum = 0;
    if (!v) return;
    for (int i = 0; i < s->nn; i++) {
        if (!s->nodes[i].alive) continue;
        size_t k = 0;
        for (int j = 0; j < s->c.vnodes; j++)
            if (s->mgrs[i * s->c.vnodes + j].d)
                k +=
                    stage_dht_entry_count(s->mgrs[i * s->c.vnodes + j].d, NULL);
        v[n++] = k;
        sum += k;
    }
    qsort(v, n, sizeof(size_t), cmp_size);
    double mean = n ? (double)sum / (double)n : 0;
    *maxr = mean > 0 ? (double)v[n - 1] / mean : 0;
    *p99r = mean > 0 ? (double)v[(size_t)(0.99 * (double)(n - 1))] / mean : 0;
    stage__free(v);
}

/* Fraction of live managers whose successor and predecessor are right. */
static double ring_consistency(stage__sim_t *s) {
    int ok = 0, n = 0;
    for (int i = 0; i < s->nm; i++) {
        mgr_t *g = &s->mgrs[i];
        if (!g->d || !g->joined) continue;
        n++;
        uint64_t succ = stage__sim_oracle_owner(s, g->id + 1);
        uint64_t pred = 0;
        for (int lo = 0, hi = s->nring; lo < hi;) { /* largest id < self */
            int mid = (lo + hi) / 2;
            if (s->ring[mid] < g->id)
                lo = mid + 1;
            else
                hi = mid;
            if (lo >= hi) pred = s->ring[(lo + s->nring - 1) % s->nring];
        }
        bool good = stage_dht_successor(g->d).id == succ &&
                    stage_dht_predecessor(g->d).id == pred;
        ok += good;
    }
    return n ? (double)ok / n : 0;
}

static void figures(stage__sim_t *s, stage__sim_figures_t *f) {
    memset(f, 0, sizeof(*f));
    f->p99_hops = hops_quantile(s, 0.99, &f->mean_hops);
    balance(s, &f->keys_max_over_mean, &f->keys_p99_over_mean);
    double secs = (double)(s->t_end - s->t_measure) / 1000.0;
    int live = 0;
    for (int i = 0; i < s->nn; i++)
        live += s->nodes[i].alive;
    f->entries_lost_fraction =
        s->mass_live     ? (double)s->mass_lost / (double)s->mass_live
        : s->spaced_live ? (double)s->spaced_lost / (double)s->spaced_live
                         : 0;
    f->mass_unreplicated = s->mass_short;
    uint64_t ok = s->gets_ok + s->lookups_ok;
    f->lookups = s->gets + s->lookups;
    f->lookup_success = f->lookups ? (double)ok / (double)f->lookups : 1.0;
    f->route_correct =
        s->lookups ? (double)s->lookups_right / (double)s->lookups : 1.0;
    f->claims = s->claims;
    f->claims_ok = s->claims ? (double)s->claims_ok / (double)s->claims : 1.0;
    f->mass_checked = s->mass_checked;
    f->mass_check_failures = s->mass_failed;
    f->bytes_per_node_per_s =
        secs > 0 && live ? (double)s->bytes / secs / live : 0;
    f->msgs_per_node_per_s =
        secs > 0 && live ? (double)s->msgs / secs / live : 0;
    f->ring_consistent = ring_consistency(s);
    f->stale_entries = stage__sim_stale_entries(s);
    f->stale_declared = stage__sim_stale_declared(s);
    f->events = s->events;
    for (int r = 0; r < s->races && r < 64; r++) /* while the ring is whole */
        if (stage__sim_race_whole(s, r)) {
            f->races++;
            f->races_exactly_one += s->race_wins[r] == 1;
        }
    f->watchers_ok = stage__sim_watchers_ok(s);
    f->sources_ok = s->sources_ok;
    f->split_winners = s->split_winners;
    f->split_holders = s->split_items;
    f->takeovers = s->ntake;
    f->takeovers_ok = s->takes_ok;
    f->takeovers_refused = s->takes_refused;
    f->stolen = s->takes_stolen;
    f->takeover_ms_max = (double)s->take_ms_max;
    f->name_moves = s->nmove;
    f->name_moves_ok = s->moves_ok;
    f->name_moves_refused = s->moves_refused;
    f->name_moves_stolen = s->moves_stolen;
    f->name_moves_unseen = s->moves_unseen;
    f->fresh_reads = s->fresh_reads;
    f->fresh_reads_ok = s->fresh_ok;
}

static void summary(stage__sim_t *s, const stage__sim_figures_t *f) {
    int live = 0;
    for (int i = 0; i < s->nn; i++)
        live += s->nodes[i].alive;
    fprintf(
        s->out,
        "{\"event\":\"summary\",\"nodes\":%d,\"vnodes\":%d,\"seed\":%llu,"
        "\"live_nodes\":%d,\"sim_s\":%.1f,\"events\":%llu,"
        "\"mean_hops\":%.3f,\"p99_hops\":%.0f,\"lookups\":%llu,"
        "\"lookup_success\":%.5f,\"route_correct\":%.5f,"
        "\"claims\":%llu,\"claims_ok\":%.5f,"
        "\"entries_lost_fraction\":%.5f,\"mass_checked\":%llu,"
        "\"mass_check_failures\":%llu,\"mass_unreplicated\":%llu,"
        "\"stale_entries\":%llu,\"stale_declared\":%llu,"
        "\"bytes_per_node_per_s\":%.1f,\"msgs_per_node_per_s\":%.2f,"
        "\"keys_per_node_max_over_mean\":%.3f,"
        "\"keys_per_node_p99_over_mean\":%.3f,\"ring_consistent\":%.4f,"
        "\"races\":%d,\"races_exactly_one\":%d,\"watchers\":%d,"
        "\"watchers_ok\":%d,\"sources_ok\":%d,\"takeovers\":%d,"
        "\"takeovers_ok\":%d,\"takeovers_refused\":%d,\"stolen\":%d,"
        "\"takeover_ms_max\":%.0f,\"name_moves\":%d,\"name_moves_ok\":%d,"
        "\"name_moves_refused\":%d,\"name_moves_stolen\":%d,"
        "\"name_moves_unseen\":%d,\"fresh_reads\":%d,\"fresh_reads_ok\":%d,"
        "\"failures\":%d}\n",
        s->nn, s->c.vnodes, (unsigned long long)s->c.seed, live,
        (double)s->now / 1000.0, (unsigned long long)f->events, f->mean_hops,
        f->p99_hops, (unsigned long long)f->lookups, f->lookup_success,
        f->route_correct, (unsigned long long)f->claims, f->claims_ok,
        f->entries_lost_fraction, (unsigned long long)f->mass_checked,
        (unsigned long long)f->mass_check_failures,
        (unsigned long long)f->mass_unreplicated,
        (unsigned long long)f->stale_entries,
        (unsigned long long)f->stale_declared, f->bytes_per_node_per_s,
        f->msgs_per_node_per_s, f->keys_max_over_mean, f->keys_p99_over_mean,
        f->ring_consistent, f->races, f->races_exactly_one, s->nwatch,
        f->watchers_ok, f->sources_ok, f->takeovers, f->takeovers_ok,
        f->takeovers_refused, f->stolen, f->takeover_ms_max, f->name_moves,
        f->name_moves_ok, f->name_moves_refused, f->name_moves_stolen,
        f->name_moves_unseen, f->fresh_reads, f->fresh_reads_ok, s->failures);
}

/* ---- actions ---- */

void stage__sim_on_act(stage__sim_t *s, int act, int arg) {
    switch (act) {
    case A_JOIN:
        stage__sim_start_node(s, arg, true);
        if (s->now >= s->t_measure) schedule_session(s, arg);
        break;
    case A_ENTRIES:
        claim_entries(s, arg);
        break;
    case A_LOAD: {
        double want = s->c.lookup_rate * LOAD_TICK_MS / 1000.0;
        int n = (int)want;
        if (stage__sim_rng_unit(&s->rng) < want - n) n++;
        for (int k = 0; k < n; k++)
            one_lookup(s);
        stage__sim_at(s, s->now + LOAD_TICK_MS, A_LOAD, 0);
        break;
    }
    case A_MEASURE:
        s->measuring = true;
        s->bytes = s->msgs = 0;
        for (int i = 0; i < s->nn; i++)
            schedule_session(s, i);
        break;
    case A_SESSION_END:
        if (!s->nodes[arg].alive) break;
        if (stage__sim_rng_unit(&s->rng) < s->c.leave_frac)
            stage__sim_leave_node(s, arg);
        else
            stage__sim_crash_node(s, arg);
        stage__sim_at(s, s->now + 1000 + stage__sim_rng_below(&s->rng, 2000),
                      A_JOIN, arg);
        break;
    case A_MASS:
        mass_failure(s);
        break;
    case A_MASS_CHECK:
        mass_check(s);
        break;
    case A_SPACED:
        spaced_failure(s);
        break;
    case A_PART:
        partition(s, false);
        break;
    case A_HEAL:
        partition(s, true);
        break;
    case A_PROBE:
        stage__sim_probe_act(s, arg);
        break;
    case A_DECLARE:
        stage__sim_declare_dead(s, arg);
        break;
    default:
        break;
    }
}

void stage__sim_config_init(stage__sim_config_t *c) {
    memset(c, 0, sizeof(*c));
    c->nodes = 100;
    c->seed = 1;
    c->vnodes = 1;
    c->duration_s = 60;
    c->join_s = 20;
    c->settle_s = 20;
    c->latency_ms = 40;
    c->lookup_rate = 100;
    c->entries = 3;
    c->replicas = 3;
    c->period_ms = 1000;
    c->finger_period_ms = 3000;
    c->lease_ms = 30000;
}

int stage__sim_run(const stage__sim_config_t *c, FILE *out,
                   stage__sim_figures_t *fig) {
    stage__sim_t *s = stage__calloc(1, sizeof(*s));
    if (!s) return 1;
    s->c = *c;
    s->out = out;
    stage__sim_rng_seed(&s->rng, c->seed);
    if (stage__sim_engine_init(s)) {
        stage__sim_engine_free(s);
        stage__free(s);
        return 1;
    }
    uint64_t t0 = MS(c->join_s + c->settle_s);
    s->t_measure = t0;
    s->t_end = t0 + MS(c->duration_s);
    stage__sim_start_node(s, 0, false);
    for (int i = 1; i < s->nn; i++)
        stage__sim_at(s, MS(c->join_s) * (uint64_t)i / (uint64_t)s->nn, A_JOIN,
                      i);
    stage__sim_at(s, t0, A_MEASURE, 0);
    stage__sim_at(s, t0, A_LOAD, 0);
    if (c->mass_fail > 0) stage__sim_at(s, t0 + MS(c->mass_at_s), A_MASS, 0);
    if (c->spaced_fail_s > 0)
        stage__sim_at(s, t0 + MS(c->spaced_fail_s), A_SPACED, 0);
    if (c->partition_at_s > 0) {
        stage__sim_at(s, t0 + MS(c->partition_at_s), A_PART, 0);
        stage__sim_at(s, t0 + MS(c->heal_at_s), A_HEAL, 0);
    }
    stage__sim_probes_plan(s, t0);
    fprintf(out,
            "{\"event\":\"config\",\"nodes\":%d,\"vnodes\":%d,\"seed\":%llu,"
            "\"replicas\":%d,\"period_ms\":%u,\"loss\":%.4f,"
            "\"duration_s\":%.1f,\"churn_median_s\":%.1f}\n",
            c->nodes, c->vnodes, (unsigned long long)c->seed, c->replicas,
            c->period_ms, c->loss, c->duration_s, c->churn_median_s);
    stage__sim_loop(s, s->t_end);
    for (int r = 0; r < s->races && r < 64; r++)
        if (s->race_wins[r] != 1 && stage__sim_race_whole(s, r)) {
            s->failures++;
            fprintf(out,
                    "{\"event\":\"race_result\",\"race\":%d,\"winners\":%d}\n",
                    r, s->race_wins[r]);
        }
    stage__sim_figures_t f;
    figures(s, &f);
    f.failures = s->failures;
    summary(s, &f);
    if (fig) *fig = f;
    int rc = s->failures ? 1 : 0;
    stage__sim_engine_free(s);
    stage__free(s);
    return rc;
}
