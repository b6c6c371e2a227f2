/*
** sim/probes.c: the checked scenarios that run beside the workload.
**  - claim races: every 10 s, `claimants` nodes claim one name at the same
**    instant (while a fraction of nodes crash); a claimant that times out
**    tries again. Exactly one may ever be told it won.
**  - watches: `watchers` nodes watch a service tag; every 5 s a node
**    exports a reference under it; each watcher's last notification must
**    list every export.
**  - sources: a source stored, a different one under the same type (a
**    clash), the first again (fine), the second as an update (fine), read.
**  - a partition: one node of each side claims one name (both may win);
**    after the heal and a lease the name has exactly one holder.
**  - stale leases: entries of nodes dead for longer than a lease and
**    three periods must be gone everywhere.
** Single-threaded.
*/
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "stage/errors.h"

enum {
    P_RACE = 0,
    P_RACE_CRASH = 1000,
    P_WATCH,
    P_EXPORT,
    P_SPLIT,
    P_SPLIT_CHECK,
    P_SOURCE = 1100
};

void stage__sim_probes_plan(stage__sim_t *s, uint64_t t0) {
    const stage__sim_config_t *c = &s->c;
    if (c->claimants > 0) {
        s->races = c->duration_s >= 20 ? (int)(c->duration_s / 10) : 1;
        if (s->races > 64) s->races = 64;
        for (int r = 0; r < s->races; r++)
            stage__sim_at(s, t0 + MS(1 + 10.0 * r), A_PROBE, P_RACE + r);
    }
    if (c->watchers > 0) {
        stage__sim_at(s, t0 + MS(0.5), A_PROBE, P_WATCH);
        for (double t = 3; t < c->duration_s - 5; t += 5)
            stage__sim_at(s, t0 + MS(t), A_PROBE, P_EXPORT);
    }
    if (c->partition_at_s > 0 && c->heal_at_s > c->partition_at_s + 6) {
        stage__sim_at(s, t0 + MS(c->partition_at_s + 5), A_PROBE, P_SPLIT);
        stage__sim_at(s, t0 + MS(c->duration_s - 2), A_PROBE, P_SPLIT_CHECK);
    }
    if (c->sources)
        for (int k = 0; k < 5; k++)
            stage__sim_at(s, t0 + MS(2 + 3.0 * k), A_PROBE, P_SOURCE + k);
}

static int live_node_mgr(stage__sim_t *s) {
    int m = stage__sim_random_live_mgr(s);
    return m < 0 ? -1 : node_mgr(s, s->mgrs[m].node);
}

/* ---- claim races ---- */

static void race_claim(stage__sim_t *s, int race, int node) {
    int m = node_mgr(s, node);
    if (!s->nodes[node].alive || !s->mgrs[m].d) return;
    char name[32];
    snprintf(name, sizeof(name), "race-%d", race);
    stage_id_t id = stage__sim_actor_of(s, node, 1000 + race);
    uint64_t rq = stage__sim_new_req(s, RK_RACE, race, m);
    stage_dht_name_claim(s->mgrs[m].d, s->now, rq, name, &id);
    stage__sim_drain(s, m);
}

/* Was the ring whole for race r (not split, nor re-merging after a
** heal)? Only then must a name have exactly one holder. */
bool stage__sim_race_whole(const stage__sim_t *s, int r) {
    const stage__sim_config_t *c = &s->c;
    if (c->partition_at_s <= 0) return true;
    double t = (double)r * 10.0 + 1.0; /* its start, after the settle */
    return t + 10.0 < c->partition_at_s || t > c->heal_at_s + 60.0;
}

static void race_start(stage__sim_t *s, int race) {
    for (int k = 0; k < s->c.claimants; k++) {
        int m = live_node_mgr(s);
        if (m >= 0) race_claim(s, race, s->mgrs[m].node);
    }
    int crash = (int)(s->c.crash_during_claims * s->nn);
    for (int k = 0; k < crash; k++)
        stage__sim_at(s, s->now + 1 + stage__sim_rng_below(&s->rng, 3000),
                      A_PROBE, P_RACE_CRASH);
}

static void race_done(stage__sim_t *s, const sreq_t *r,
                      const stage_dht_effect_t *e) {
    int race = r->entry, node = s->mgrs[r->mgr].node;
    if (race < 0 || race >= 64) return;
    if (e->status == STAGE_ETIMEOUT && s->nodes[node].alive) {
        race_claim(s, race, node); /* the claimant tries again */
        return;
    }
    if (e->status != 0) return;
    uint64_t who = (uint64_t)node << 32 | s->nodes[node].inc;
    if (s->race_wins[race] && s->race_value[race] != who &&
        stage__sim_race_whole(s, race)) {
        s->failures++;
        fprintf(s->out,
                "{\"event\":\"claim_violation\",\"race\":%d,\"t_ms\":%llu}\n",
                race, (unsigned long long)s->now);
    }
    if (!s->race_wins[race] || s->race_value[race] != who) s->race_wins[race]++;
    s->race_value[race] = who;
}

/* ---- watches ---- */

static void watch_start(stage__sim_t *s) {
    for (int k = 0; k < s->c.watchers && s->nwatch < 64; k++) {
        int m = live_node_mgr(s);
        if (m < 0) return;
        int w = s->nwatch++;
        s->watch_mgr[w] = m;
        uint64_t rq = stage__sim_new_req(s, RK_WATCH, w, m);
        stage_dht_service_watch(s->mgrs[m].d, s->now, rq, "svc");
        stage__sim_drain(s, m);
    }
}

static void export(stage__sim_t *s) {
    int m = live_node_mgr(s);
    if (m < 0) return;
    stage_id_t ref =
        stage__sim_actor_of(s, s->mgrs[m].node, 5000 + s->exports_ok);
    uint64_t rq = stage__sim_new_req(s, RK_EXPORT, 0, m);
    stage_dht_service_export(s->mgrs[m].d, s->now, rq, "svc", &ref);
    stage__sim_drain(s, m);
}

int stage__sim_watchers_ok(stage__sim_t *s) {
    int ok = 0;
    for (int w = 0; w < s->nwatch; w++)
        ok += s->watch_events[w] > 0 && s->watch_items[w] == s->exports_ok;
    return ok;
}

/* ---- a claim on each side of a partition ---- */

/* One node of each side claims "split" for its own actor; after the heal
** and a lease, the name must have exactly one holder. */
static void split_claims(stage__sim_t *s) {
    for (int side = 0; side < 2; side++)
        for (int tries = 0; tries < 100; tries++) {
            int m = live_node_mgr(s);
            if (m < 0 || s->nodes[s->mgrs[m].node].group != side) continue;
            stage_id_t id = stage__sim_actor_of(s, s->mgrs[m].node, 9000);
            uint64_t rq = stage__sim_new_req(s, RK_SPLIT, side, m);
            stage_dht_name_claim(s->mgrs[m].d, s->now, rq, "split", &id);
            stage__sim_drain(s, m);
            break;
        }
}

static void split_check(stage__sim_t *s) {
    int m = live_node_mgr(s);
    if (m < 0) return;
    uint64_t rq = stage__sim_new_req(s, RK_SPLIT, 2, m);
    stage_dht_name_find(s->mgrs[m].d, s->now, rq, "split");
    stage__sim_drain(s, m);
}

static void split_done(stage__sim_t *s, const sreq_t *r,
                       const stage_dht_effect_t *e) {
    if (r->entry < 2) {
        s->split_winners += e->status == 0;
        return;
    }
    s->split_items = e->status == 0 ? (int)e->nitems : 0;
    fprintf(s->out,
            "{\"event\":\"partition_claims\",\"won_during_partition\":%d,"
            "\"holders_after_heal\":%d}\n",
            s->split_winners, s->split_items);
}

/* ---- sources ---- */

static const char *const src_text[] = {"return 1", "return 2"};
/* step: which node, which text, update?, expected status */
static const int src_plan[5][4] = {{0, 0, 0, 0},
                                   {1, 1, 0, STAGE_ECLASH},
                                   {2, 0, 0, 0},
                                   {1, 1, 1, 0},
                                   {2, -1, 0, 0}};

static void source_step(stage__sim_t *s, int k) {
    int m = node_mgr(s, src_plan[k][0] % s->nn);
    if (!s->mgrs[m].d) return;
    uint64_t rq = stage__sim_new_req(s, RK_SOURCE, k, m);
    int t = src_plan[k][1];
    if (t < 0)
        stage_dht_source_get(s->mgrs[m].d, s->now, rq, "Area");
    else
        stage_dht_source_put(s->mgrs[m].d, s->now, rq, "Area", src_text[t],
                             strlen(src_text[t]), src_plan[k][2]);
    stage__sim_drain(s, m);
}

static void source_done(stage__sim_t *s, const sreq_t *r,
                        const stage_dht_effect_t *e) {
    int k = r->entry;
    bool ok = e->status == src_plan[k][3];
    if (ok && src_plan[k][1] < 0) /* the read: one item, the update */
        ok = e->nitems == 1 && e->items[0].len > 10 && /* [fixstr 8, ...] */
             memcmp(e->items[0].value + 2, src_text[1], 8) == 0;
    if (ok)
        s->sources_ok++;
    else
        fprintf(s->out,
                "{\"event\":\"source_step_failed\",\"step\":%d,"
                "\"status\":%d}\n",
                k, e->status);
}

/* ---- dispatch ---- */

void stage__sim_probe_act(stage__sim_t *s, int arg) {
    if (arg < P_RACE_CRASH) {
        race_start(s, arg - P_RACE);
    } else if (arg == P_RACE_CRASH) {
        int m = stage__sim_random_live_mgr(s);
        if (m >= 0) stage__sim_crash_node(s, s->mgrs[m].node);
    } else if (arg == P_WATCH) {
        watch_start(s);
    } else if (arg == P_EXPORT) {
        export(s);
    } else if (arg == P_SPLIT) {
        split_claims(s);
    } else if (arg == P_SPLIT_CHECK) {
        split_check(s);
    } else if (arg >= P_SOURCE && arg < P_SOURCE + 5) {
        source_step(s, arg - P_SOURCE);
    }
}

void stage__sim_probe_done(stage__sim_t *s, sreq_t *r,
                           const stage_dht_effect_t *e) {
    switch (r->kind) {
    case RK_RACE:
        race_done(s, r, e);
        break;
    case RK_WATCH:
        if (e->kind == STAGE_DHT_FX_WATCH && r->entry < 64) {
            s->watch_events[r->entry]++;
            s->watch_items[r->entry] = (int)e->nitems;
        }
        return; /* a watch stays */
    case RK_EXPORT:
        s->exports_ok += e->status == 0;
        break;
    case RK_SOURCE:
        source_done(s, r, e);
        break;
    case RK_SPLIT:
        split_done(s, r, e);
        break;
    default:
        break;
    }
    r->kind = RK_NONE;
}

uint64_t stage__sim_stale_entries(stage__sim_t *s) {
    uint64_t n = 0, grace = s->c.lease_ms + 3 * (uint64_t)s->c.period_ms;
    int R = s->c.replicas;
    for (size_t k = 0; k < s->nentries; k++) {
        const sentry_t *e = &s->entries[k];
        if (!e->dead_at || s->now - e->dead_at < grace) continue;
        for (int i = 0; i < R; i++)
            for (int m = 0; m < s->nm; m++)
                n += s->mgrs[m].d &&
                     stage_dht_holds(s->mgrs[m].d, s->now,
                                     stage_dht_replica(e->key, i, R), 0);
    }
    return n;
}

uint64_t stage__sim_stale_declared(stage__sim_t *s) {
    uint64_t n = 0;
    int R = s->c.replicas;
    for (size_t k = 0; k < s->nentries; k++) {
        const sentry_t *e = &s->entries[k];
        if (!e->declared) continue;
        for (int i = 0; i < R; i++)
            for (int m = 0; m < s->nm; m++)
                n += s->mgrs[m].d &&
                     stage_dht_holds(s->mgrs[m].d, s->now,
                                     stage_dht_replica(e->key, i, R), 0);
    }
    return n;
}
