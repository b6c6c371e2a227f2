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
**  - takeovers: every 10 s a node claims a name, is crashed and restarted
**    at its address (a new incarnation and manager id) and claims the name
**    again as soon as it has joined: it must get it at once, not
**    AlreadyExists until the dead run's lease ends; a stranger claiming
**    it meanwhile must not; reads from five members 0.5 s and 3 s later
**    must all give the new run's id.
**  - name moves: every 10 s a node claims a name for one of its actors;
**    once it has it, another node takes it over for an actor of its own
**    (stage_dht_name_move, as a node taking over a draining node's actor
**    does), while a third tries to from an id the name does not hold (it
**    must be refused), and the first forgets it; reads from five members
**    0.5 s after, and after a lease, must all give the second node's
**    actor, held by its manager (the first's renewals must not put it
**    back). With --release the first node releases the name instead (a
**    removal, where --stall stops its primary); reads 0.5 s after, 0.5 s
**    after the stall and after a lease must all find no entry.
**  - fresh reads: the first node stores a source as it makes the ring;
**    every node that joins later reads it at once, 0.1 s and 0.5 s after
**    its join, and so does a random member each time: while the ring
**    repairs the ranges the joins moved. Every read must give the entry
**    (a user's first spawn of a type on a node just started is one).
** Single-threaded.
*/
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "stage/errors.h"
#include "stage/pack.h"

enum {
    P_RACE = 0,
    P_RACE_CRASH = 1000,
    P_WATCH,
    P_EXPORT,
    P_SPLIT,
    P_SPLIT_CHECK,
    P_SOURCE = 1100,
    P_TAKE = 1200,       /* + round: a node claims take-<round> */
    P_TAKE_RETRY = 1250, /* + round: ... again, after a timeout */
    P_TAKE_CRASH = 1300, /* + round: it is crashed and restarted in place */
    P_TAKE_AGAIN = 1350, /* + round: it has joined: it claims the name */
    P_TAKE_CHECK = 1400, /* + round: read the name back */
    P_MOVE = 1500,       /* + round: a node claims nmove-<round> */
    P_MOVE_AGAIN = 1550, /* + round: the takeover, again after a timeout */
    P_MOVE_CHECK = 1600, /* + round: read the name back */
    P_MOVE_TAKE = 1650,  /* + round: the takeover (--stall: in the stall) */
    P_FRESH = 100000     /* + node: it and a member read the fresh entry */
};

#define TAKE_MAX 32  /* rounds of the takeover probe (< 50) */
#define TAKE_READS 5 /* reads of the name, 0.5 s and 3 s after the reclaim */
enum { TAKE_FIRST, TAKE_AGAIN, TAKE_READ, TAKE_STRANGER }; /* sreq expect */
enum {
    MOVE_CLAIM,
    MOVE_TAKE,
    MOVE_RETAKE,
    MOVE_WRONG,
    MOVE_READ,
    MOVE_RELEASE
};
/* A takeover refused by a replica that holds no entry for the name is
** asked again, as net/relocate.c does: this often, this far apart. */
#define MOVE_ASKS 16
#define MOVE_ASK_MS 500

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
    /* each round needs ~12 s: claim, 2 s, restart, join, reclaim, read */
    for (int k = 0;
         c->takeover && k < TAKE_MAX && 2 + 10.0 * k + 12 < c->duration_s; k++)
        stage__sim_at(s, t0 + MS(2 + 10.0 * k), A_PROBE, P_TAKE + k);
    /* each round: claim, take over, reads at 0.5 s and after a lease */
    double lease_s = (c->lease_ms ? c->lease_ms : 30000) / 1000.0;
    for (int k = 0; c->name_moves && k < TAKE_MAX &&
                    3 + 10.0 * k + lease_s + 8 < c->duration_s;
         k++)
        stage__sim_at(s, t0 + MS(3 + 10.0 * k), A_PROBE, P_MOVE + k);
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

/* ---- a node restarted in place takes its name over ---- */

/* Claim take-<k> for actor 7000+k of node (phase: TAKE_FIRST, TAKE_AGAIN
** by the node of round k; TAKE_STRANGER by another). */
static void take_claim(stage__sim_t *s, int k, int node, int phase) {
    int m = node_mgr(s, node);
    if (!s->nodes[node].alive || !s->mgrs[m].d) return;
    char name[32];
    snprintf(name, sizeof(name), "take-%d", k);
    stage_id_t id = stage__sim_actor_of(s, node, 7000 + k);
    uint64_t rq = stage__sim_new_req(s, RK_TAKE, k, m);
    s->reqs[rq - 1].expect = (uint64_t)phase;
    stage_dht_name_claim(s->mgrs[m].d, s->now, rq, name, &id);
    stage__sim_drain(s, m);
}

static void take_start(stage__sim_t *s, int k) {
    int m = live_node_mgr(s);
    if (m < 0) return;
    s->take_node[k] = s->mgrs[m].node;
    take_claim(s, k, s->take_node[k], TAKE_FIRST);
}

/* Crash the holder and start it again at once at its address; a stranger
** tries to take the name meanwhile. */
static void take_restart(stage__sim_t *s, int k) {
    int node = s->take_node[k];
    if (!s->nodes[node].alive) return;
    stage__sim_crash_node(s, node);
    s->nodes[node].same_addr = true;
    if (stage__sim_start_node(s, node, true)) return;
    s->take_restart[k] = s->now;
    s->ntake++;
    for (int tries = 0; tries < 100; tries++) {
        int m = live_node_mgr(s);
        if (m >= 0 && s->mgrs[m].node != node) {
            take_claim(s, k, s->mgrs[m].node, TAKE_STRANGER);
            break;
        }
    }
}

/* From the drain of mgr's effects, which a call into mgr now would cut
** short: the claim is the next event. */
/* ---- reads while the ring repairs the ranges joins moved ---- */

static const char fresh_src[] = "return 'fresh'";

static void fresh_joined(stage__sim_t *s, int node) {
    int m = node_mgr(s, node);
    if (!s->fresh_put) { /* the first member: store it */
        s->fresh_put = true;
        uint64_t rq = stage__sim_new_req(s, RK_FRESH, -1, m);
        stage_dht_source_put(s->mgrs[m].d, s->now, rq, "Fresh", fresh_src,
                             sizeof fresh_src - 1, 0);
        stage__sim_drain(s, m);
        return;
    }
    static const uint64_t after[] = {0, 100, 500};
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++)
        stage__sim_at(s, s->now + after[i], A_PROBE, P_FRESH + node);
}

static void fresh_read(stage__sim_t *s, int node) {
    int m = stage__sim_random_live_mgr(s);
    int who[2] = {node_mgr(s, node), m < 0 ? -1 : node_mgr(s, s->mgrs[m].node)};
    for (int i = 0; i < 2; i++) {
        if (who[i] < 0 || !s->mgrs[who[i]].d) continue;
        if (!s->nodes[s->mgrs[who[i]].node].alive) continue;
        uint64_t rq = stage__sim_new_req(s, RK_FRESH, node, who[i]);
        stage_dht_source_get(s->mgrs[who[i]].d, s->now, rq, "Fresh");
        stage__sim_drain(s, who[i]);
        s->fresh_reads++;
    }
}

static void fresh_done(stage__sim_t *s, const sreq_t *r,
                       const stage_dht_effect_t *e) {
    if (r->entry < 0) { /* the put */
        if (e->status) {
            s->failures++;
            fprintf(s->out, "{\"event\":\"fresh_put_failed\",\"status\":%d}\n",
                    e->status);
        }
        return;
    }
    /* [source, version]: fixarray 2, then the source as a str */
    size_t n = sizeof fresh_src - 1;
    bool ok = !e->status && e->nitems == 1 && e->items[0].len > n + 2 &&
              memcmp(e->items[0].value + 2, fresh_src, n) == 0;
    if (ok) {
        s->fresh_ok++;
        return;
    }
    fprintf(s->out,
            "{\"event\":\"fresh_read_failed\",\"joiner\":%d,\"reader\":%d,"
            "\"status\":%d,\"items\":%zu,\"t_ms\":%llu}\n",
            r->entry, s->mgrs[r->mgr].node, e->status, e->nitems,
            (unsigned long long)s->now);
}

void stage__sim_probe_joined(stage__sim_t *s, int mgr) {
    int node = s->mgrs[mgr].node;
    if (mgr != node_mgr(s, node)) return;
    if (s->c.fresh_reads) fresh_joined(s, node);
    for (int k = 0; k < TAKE_MAX; k++)
        if (s->take_restart[k] && !s->take_done[k] && s->take_node[k] == node)
            stage__sim_at(s, s->now, A_PROBE, P_TAKE_AGAIN + k);
}

/* TAKE_READS reads of the name, from random members. */
static void take_read(stage__sim_t *s, int k) {
    char name[32];
    snprintf(name, sizeof(name), "take-%d", k);
    for (int i = 0; i < TAKE_READS; i++) {
        int m = stage__sim_random_live_mgr(s);
        if (m < 0) return;
        uint64_t rq = stage__sim_new_req(s, RK_TAKE, k, m);
        s->reqs[rq - 1].expect = TAKE_READ;
        stage_dht_name_find(s->mgrs[m].d, s->now, rq, name);
        stage__sim_drain(s, m);
    }
}

/* The read must give the restarted node's actor, owned by its manager. */
static bool take_read_ok(stage__sim_t *s, int k, const stage_dht_effect_t *e) {
    int node = s->take_node[k];
    stage_id_t id;
    stage_unpack_t u;
    if (e->status || e->nitems != 1 || !s->nodes[node].alive ||
        e->items[0].owner != s->mgrs[node_mgr(s, node)].id)
        return false;
    stage_unpack_init(&u, e->items[0].value, e->items[0].len);
    return stage_unpack_id(&u, &id) == 0 &&
           id.incarnation == s->nodes[node].inc && id.serial == 7000u + k;
}

static void take_done(stage__sim_t *s, const sreq_t *r,
                      const stage_dht_effect_t *e) {
    int k = r->entry, node = s->mgrs[r->mgr].node;
    int phase = (int)r->expect;
    if (k < 0 || k >= TAKE_MAX) return;
    if (e->status == STAGE_ETIMEOUT && phase != TAKE_READ &&
        phase != TAKE_STRANGER && s->nodes[node].alive) {
        /* the claimant tries again, as the next event (see probe_joined) */
        stage__sim_at(s, s->now, A_PROBE,
                      (phase == TAKE_FIRST ? P_TAKE_RETRY : P_TAKE_AGAIN) + k);
        return;
    }
    const char *what = NULL;
    if (phase == TAKE_FIRST && e->status == 0) {
        stage__sim_at(s, s->now + 2000, A_PROBE, P_TAKE_CRASH + k);
    } else if (phase == TAKE_AGAIN && e->status == 0 && !s->take_done[k]) {
        s->take_done[k] = true;
        uint64_t ms = s->now - s->take_restart[k];
        if (ms > s->take_ms_max) s->take_ms_max = ms;
        stage__sim_at(s, s->now + 500, A_PROBE, P_TAKE_CHECK + k);
        stage__sim_at(s, s->now + 3000, A_PROBE, P_TAKE_CHECK + k);
    } else if (phase == TAKE_AGAIN && e->status == STAGE_EEXISTS) {
        s->take_done[k] = true;
        s->takes_refused++;
        what = "takeover_refused";
    } else if (phase == TAKE_READ) {
        bool ok = take_read_ok(s, k, e);
        /* a round is right when all its 2 * TAKE_READS reads are */
        if (++s->take_reads[k] == 2 * TAKE_READS && !s->take_wrong[k])
            s->takes_ok += ok;
        if (!ok) {
            s->take_wrong[k] = true;
            what = "takeover_read_wrong";
        }
    } else if (phase == TAKE_STRANGER && e->status == 0) {
        s->takes_stolen++;
        what = "takeover_stolen";
    }
    if (what)
        fprintf(s->out,
                "{\"event\":\"%s\",\"round\":%d,\"status\":%d,"
                "\"t_ms\":%llu}\n",
                what, k, e->status, (unsigned long long)s->now);
}

/* ---- names that move with their actors ---- */

static stage_id_t move_actor(stage__sim_t *s, int node, int k) {
    return stage__sim_actor_of(s, node, 8000 + k);
}

static void move_request(stage__sim_t *s, int k, int node, int phase) {
    int m = node_mgr(s, node);
    if (!s->nodes[node].alive || !s->mgrs[m].d) return;
    char name[32];
    snprintf(name, sizeof(name), "nmove-%d", k);
    uint64_t rq = stage__sim_new_req(s, RK_MOVE, k, m);
    s->reqs[rq - 1].expect = (uint64_t)phase;
    stage_id_t from = move_actor(s, s->move_from[k], k);
    stage_id_t to = move_actor(s, node, k);
    if (phase == MOVE_CLAIM) {
        stage_dht_name_claim(s->mgrs[m].d, s->now, rq, name, &from);
    } else if (phase == MOVE_WRONG) {
        from.serial += 1000; /* an id the name never held */
        stage_dht_name_move(s->mgrs[m].d, s->now, rq, name, &from, &to);
    } else if (phase == MOVE_READ) {
        stage_dht_name_find(s->mgrs[m].d, s->now, rq, name);
    } else if (phase == MOVE_RELEASE) {
        stage_dht_name_release(s->mgrs[m].d, s->now, rq, name);
    } else {
        stage_dht_name_move(s->mgrs[m].d, s->now, rq, name, &from, &to);
    }
    stage__sim_drain(s, m);
}

/* A live node other than those given (-1: none). */
static int other_node(stage__sim_t *s, int a, int b) {
    for (int tries = 0; tries < 100; tries++) {
        int m = live_node_mgr(s);
        if (m >= 0 && s->mgrs[m].node != a && s->mgrs[m].node != b)
            return s->mgrs[m].node;
    }
    return -1;
}

static void move_start(stage__sim_t *s, int k) {
    int m = live_node_mgr(s);
    if (m < 0) return;
    s->move_from[k] = s->mgrs[m].node;
    move_request(s, k, s->move_from[k], MOVE_CLAIM);
}

static void move_read(stage__sim_t *s, int k) {
    for (int i = 0; i < TAKE_READS; i++) {
        int m = stage__sim_random_live_mgr(s);
        if (m >= 0) move_request(s, k, s->mgrs[m].node, MOVE_READ);
    }
}

/* The node of the manager that holds name's primary replica (the
** oracle's owner of its key), or -1. */
static int primary_node(stage__sim_t *s, const char *name) {
    int R = s->c.replicas;
    uint64_t k = stage_dht_key(STAGE_DHT_NAMES, name, strlen(name));
    uint64_t id = stage__sim_oracle_owner(
        s, stage_dht_replica(k, stage_dht_primary_index(k, R), R));
    for (int m = 0; id && m < s->nm; m++)
        if (s->mgrs[m].d && s->mgrs[m].id == id) return s->mgrs[m].node;
    return -1;
}

/* The takeover of round k, and the wrong one beside it (neither by a
** stalled node: it asks nothing); with --release, the holder's release. */
static void move_take(stage__sim_t *s, int k) {
    if (s->c.release) {
        s->move_to[k] = s->move_from[k];
        s->nmove++;
        move_request(s, k, s->move_from[k], MOVE_RELEASE);
        return;
    }
    int to = other_node(s, s->move_from[k], -1);
    int wrong = other_node(s, s->move_from[k], to);
    if (to < 0 || wrong < 0) return;
    s->move_to[k] = to;
    s->nmove++;
    move_request(s, k, to, MOVE_TAKE);
    move_request(s, k, wrong, MOVE_WRONG);
}

/* The read must give the second node's actor, held by its manager. */
static bool move_read_ok(stage__sim_t *s, int k, const stage_dht_effect_t *e) {
    int node = s->move_to[k];
    stage_id_t id, want = move_actor(s, node, k);
    stage_unpack_t u;
    if (e->status || e->nitems != 1 || !s->nodes[node].alive ||
        e->items[0].owner != s->mgrs[node_mgr(s, node)].id)
        return false;
    stage_unpack_init(&u, e->items[0].value, e->items[0].len);
    return stage_unpack_id(&u, &id) == 0 && id.serial == want.serial &&
           id.incarnation == want.incarnation && !strcmp(id.node, want.node);
}

static void move_done(stage__sim_t *s, const sreq_t *r,
                      const stage_dht_effect_t *e) {
    int k = r->entry, phase = (int)r->expect;
    if (k < 0 || k >= TAKE_MAX) return;
    const char *what = NULL;
    double lease_s = (s->c.lease_ms ? s->c.lease_ms : 30000) / 1000.0;
    int reads = (s->c.release ? 3 : 2) * TAKE_READS; /* a round's, in all */
    if (phase == MOVE_CLAIM && e->status == 0 && !s->move_done[k]) {
        s->move_stalled[k] = -1;
        /* every other round: a round's last reads (a lease after) must not
        ** meet the next round's stall */
        if (s->c.stall_s <= 0 || k % 2) {
            move_take(s, k);
            return;
        }
        /* its primary stops (unless it is the first node: a drained node
        ** is not the frozen one); the takeover comes in the stall */
        char name[32];
        snprintf(name, sizeof(name), "nmove-%d", k);
        int p = primary_node(s, name);
        if (p >= 0 && p != s->move_from[k]) {
            s->move_stalled[k] = p;
            stage__sim_stall_node(s, p, MS(s->c.stall_s));
            fprintf(s->out,
                    "{\"event\":\"stall\",\"round\":%d,\"node\":%d,"
                    "\"t_ms\":%llu}\n",
                    k, p, (unsigned long long)s->now);
        }
        stage__sim_at(s, s->now + MS(s->c.stall_s / 2), A_PROBE,
                      P_MOVE_TAKE + k);
    } else if ((phase == MOVE_TAKE || phase == MOVE_RETAKE) &&
               e->status == STAGE_EEXISTS && e->nitems == 0 &&
               !s->move_done[k] && ++s->move_asked[k] < MOVE_ASKS) {
        /* no entry where the DHT looked: a replica standing in for the
        ** primary that has not got it (yet); a refusal that names another
        ** value is an answer */
        s->moves_unseen++;
        fprintf(s->out,
                "{\"event\":\"name_move_unseen\",\"round\":%d,\"t_ms\":%llu}\n",
                k, (unsigned long long)s->now);
        stage__sim_at(s, s->now + MOVE_ASK_MS, A_PROBE, P_MOVE_AGAIN + k);
    } else if (phase == MOVE_RELEASE && !s->move_done[k]) {
        if (e->status == STAGE_ETIMEOUT) { /* asked again, as a node does */
            stage__sim_at(s, s->now, A_PROBE, P_MOVE_AGAIN + k);
            return;
        }
        s->move_done[k] = true;
        if (e->status) {
            s->moves_refused++;
            what = "name_release_failed";
        } else {
            /* read 0.5 s after, 0.5 s after the primary resumed (its held
            ** entry must not come back), and after a lease */
            int p = s->move_stalled[k];
            uint64_t resumed = p >= 0 && s->nodes[p].stalled_until > s->now
                                   ? s->nodes[p].stalled_until
                                   : s->now + 500;
            stage__sim_at(s, s->now + 500, A_PROBE, P_MOVE_CHECK + k);
            stage__sim_at(s, resumed + 500, A_PROBE, P_MOVE_CHECK + k);
            stage__sim_at(s, s->now + MS(lease_s + 2), A_PROBE,
                          P_MOVE_CHECK + k);
        }
    } else if ((phase == MOVE_TAKE || phase == MOVE_RETAKE) &&
               e->status == STAGE_ETIMEOUT && !s->move_done[k]) {
        /* it may have been decided: asked again, a refusal is read out */
        stage__sim_at(s, s->now, A_PROBE, P_MOVE_AGAIN + k);
    } else if ((phase == MOVE_TAKE && e->status == 0) ||
               (phase == MOVE_RETAKE &&
                (e->status == 0 || e->status == STAGE_EEXISTS))) {
        if (s->move_done[k]) return;
        s->move_done[k] = true;
        /* the first node forgets it: no renewal may put it back */
        int from = s->move_from[k], m = node_mgr(s, from);
        char name[32];
        snprintf(name, sizeof(name), "nmove-%d", k);
        if (s->nodes[from].alive && s->mgrs[m].d)
            stage_dht_name_forget(s->mgrs[m].d, name);
        stage__sim_at(s, s->now + 500, A_PROBE, P_MOVE_CHECK + k);
        stage__sim_at(s, s->now + MS(lease_s + 2), A_PROBE, P_MOVE_CHECK + k);
    } else if (phase == MOVE_TAKE) {
        s->move_done[k] = true;
        s->moves_refused++;
        what = "name_move_refused";
    } else if (phase == MOVE_WRONG && e->status == 0) {
        s->moves_stolen++;
        what = "name_move_stolen";
    } else if (phase == MOVE_READ) {
        bool ok = s->c.release ? e->status == STAGE_ENAME_NOT_FOUND
                               : move_read_ok(s, k, e);
        if (++s->move_reads[k] == reads && !s->move_wrong[k]) s->moves_ok += ok;
        if (!ok) {
            s->move_wrong[k] = true;
            what = s->c.release ? "name_release_read_found"
                                : "name_move_read_wrong";
        }
    }
    if (what)
        fprintf(s->out,
                "{\"event\":\"%s\",\"round\":%d,\"status\":%d,"
                "\"t_ms\":%llu}\n",
                what, k, e->status, (unsigned long long)s->now);
}

/* ---- dispatch ---- */

void stage__sim_probe_act(stage__sim_t *s, int arg) {
    if (arg >= P_FRESH) {
        fresh_read(s, arg - P_FRESH);
    } else if (arg < P_RACE_CRASH) {
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
    } else if (arg >= P_TAKE && arg < P_TAKE + TAKE_MAX) {
        take_start(s, arg - P_TAKE);
    } else if (arg >= P_TAKE_RETRY && arg < P_TAKE_RETRY + TAKE_MAX) {
        int k = arg - P_TAKE_RETRY;
        take_claim(s, k, s->take_node[k], TAKE_FIRST);
    } else if (arg >= P_TAKE_CRASH && arg < P_TAKE_CRASH + TAKE_MAX) {
        take_restart(s, arg - P_TAKE_CRASH);
    } else if (arg >= P_TAKE_AGAIN && arg < P_TAKE_AGAIN + TAKE_MAX) {
        int k = arg - P_TAKE_AGAIN;
        if (!s->take_done[k]) take_claim(s, k, s->take_node[k], TAKE_AGAIN);
    } else if (arg >= P_TAKE_CHECK && arg < P_TAKE_CHECK + TAKE_MAX) {
        take_read(s, arg - P_TAKE_CHECK);
    } else if (arg >= P_MOVE && arg < P_MOVE + TAKE_MAX) {
        move_start(s, arg - P_MOVE);
    } else if (arg >= P_MOVE_AGAIN && arg < P_MOVE_AGAIN + TAKE_MAX) {
        int k = arg - P_MOVE_AGAIN;
        move_request(s, k, s->move_to[k],
                     s->c.release ? MOVE_RELEASE : MOVE_RETAKE);
    } else if (arg >= P_MOVE_CHECK && arg < P_MOVE_CHECK + TAKE_MAX) {
        move_read(s, arg - P_MOVE_CHECK);
    } else if (arg >= P_MOVE_TAKE && arg < P_MOVE_TAKE + TAKE_MAX) {
        move_take(s, arg - P_MOVE_TAKE);
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
    case RK_TAKE:
        take_done(s, r, e);
        break;
    case RK_MOVE:
        move_done(s, r, e);
        break;
    case RK_FRESH:
        fresh_done(s, r, e);
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
