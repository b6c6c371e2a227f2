/*
** sim/engine.c: the simulator's engine — the event loop, the virtual
** network and the managers' lifecycle.
** Events come from queue.c in an order that depends only on the order
** they were made, so a run depends only on its seed. Each manager has at
** most one live timer event (older ones carry a stale generation and are
** skipped). Messages are copied into pooled buffers on send and delivered
** after the link's latency unless lost, partitioned, or addressed to a
** node incarnation that is gone (a node restarted at its address gets
** what is sent there after its restart, as a real one would).
** Single-threaded.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"
#include "stage/errors.h"
#include "stage/pack.h"
#include "util/alloc.h"

/* ---- PRNG ---- */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void stage__sim_rng_seed(stage__sim_rng_t *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t stage__sim_rng_next(stage__sim_rng_t *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double stage__sim_rng_unit(stage__sim_rng_t *r) {
    return (double)(stage__sim_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t stage__sim_rng_below(stage__sim_rng_t *r, uint64_t n) {
    return n ? stage__sim_rng_next(r) % n : 0;
}

double stage__sim_rng_exp(stage__sim_rng_t *r, double mean) {
    return -mean * log(1.0 - stage__sim_rng_unit(r));
}

/* ---- events ---- */

void stage__sim_push(stage__sim_t *s, ev_t *e) {
    e->seq = ++s->seq;
    stage__sim_queue_push(&s->q, e);
}

void stage__sim_at(stage__sim_t *s, uint64_t t, int act, int arg) {
    ev_t e = {.t = t, .kind = EV_ACT, .act = act, .arg = arg};
    stage__sim_push(s, &e);
}

/* ---- message buffers ---- */

static stage_dht_msg_t *msg_get(stage__sim_t *s) {
    if (s->npool) return s->pool[--s->npool];
    stage_dht_msg_t *m = stage__malloc(sizeof(*m));
    if (!m) abort();
    return m;
}

static void msg_put(stage__sim_t *s, stage_dht_msg_t *m) {
    stage__free(m->data);
    m->data = NULL;
    if (s->npool == s->cappool) {
        size_t cap = s->cappool ? 2 * s->cappool : 64;
        stage_dht_msg_t **p = stage__realloc(s->pool, cap * sizeof(*p));
        if (!p) {
            stage__free(m);
            return;
        }
        s->pool = p;
        s->cappool = cap;
    }
    s->pool[s->npool++] = m;
}

/* ---- the network ---- */

/* "10.a.b.c:port" -> node index (a.b.c) and port; -1 if not ours. */
static int parse_addr(const char *a, uint32_t *port) {
    unsigned v[4] = {0}, k = 0;
    if (strncmp(a, "10.", 3) != 0) return -1;
    for (a += 3; *a && k < 4; a++) {
        if (*a >= '0' && *a <= '9')
            v[k] = v[k] * 10 + (unsigned)(*a - '0');
        else if (*a == '.' || *a == ':')
            k++;
        else
            return -1;
    }
    *port = v[3];
    return (int)(v[0] << 16 | v[1] << 8 | v[2]);
}

static uint64_t latency(stage__sim_t *s, int a, int b) {
    const node_t *x = &s->nodes[a], *y = &s->nodes[b];
    /* Manhattan distance in the unit square: 0 .. 2, mean 2/3 */
    double dist = fabs(x->x - y->x) + fabs(x->y - y->y);
    double ms = s->c.latency_ms * (0.2 + 1.2 * dist) +
                stage__sim_rng_exp(&s->rng, s->c.latency_ms * 0.05);
    return (uint64_t)ms + 1;
}

static void send_msg(stage__sim_t *s, int from, const stage_dht_effect_t *e) {
    stage_dht_msg_t *src = e->msg;
    uint32_t port;
    int node = parse_addr(e->to_addr, &port);
    /* the manager a node announces in its handshakes: its first */
    uint64_t known = s->mgrs[s->mgrs[from].node * s->c.vnodes].id;
    if (s->measuring) {
        s->bytes += stage_dht_msg_wire_size(src, known) + 8; /* + header */
        s->msgs++;
    }
    if (node < 0 || node >= s->nn || !s->nodes[node].alive ||
        s->nodes[node].port != port ||
        s->nodes[node].group != s->nodes[s->mgrs[from].node].group ||
        (s->c.loss > 0 && stage__sim_rng_unit(&s->rng) < s->c.loss)) {
        s->dropped++;
        return;
    }
    int V = s->c.vnodes, dst = node * V;
    for (int i = 0; i < V && src->to; i++)
        if (s->mgrs[node * V + i].id == src->to) dst = node * V + i;
    stage_dht_msg_t *m = msg_get(s);
    if (s->c.wire) {
        stage_pack_t p = STAGE_PACK_INIT;
        if (stage_dht_msg_encode(src, known, &p) ||
            stage_dht_msg_decode(m, p.data, p.len, src->from.addr, known)) {
            s->failures++;
            fprintf(stderr, "sim: message codec round trip failed\n");
            stage_pack_free(&p);
            msg_put(s, m);
            return;
        }
        stage_pack_free(&p);
    } else {
        size_t n = offsetof(stage_dht_msg_t, peers) +
                   (size_t)src->npeers * sizeof(src->peers[0]);
        memcpy(m, src, n);
        src->data = NULL; /* we take the payload */
    }
    ev_t ev = {.t = s->now + latency(s, s->mgrs[from].node, node),
               .kind = EV_MSG,
               .mgr = dst,
               .gen = s->nodes[node].inc,
               .msg = m};
    stage__sim_push(s, &ev);
}

static void ring_add(stage__sim_t *s, uint64_t id);
static void live_add(stage__sim_t *s, int i);

/* Carry out the effects of the last call into manager i. */
void stage__sim_drain(stage__sim_t *s, int i) {
    mgr_t *g = &s->mgrs[i];
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(g->d, &n);
    for (size_t k = 0; k < n; k++) {
        switch (fx[k].kind) {
        case STAGE_DHT_FX_SEND:
            send_msg(s, i, &fx[k]);
            break;
        case STAGE_DHT_FX_JOINED:
            if (!g->joined) {
                g->joined = true;
                ring_add(s, g->id);
                live_add(s, i);
                stage__sim_on_joined(s, i);
            }
            break;
        default:
            stage__sim_on_done(s, i, &fx[k]);
            break;
        }
    }
    if (!s->mgrs[i].d) return; /* crashed by the scenario meanwhile */
    uint64_t t = stage_dht_next_timer(g->d);
    if (t < g->sched) {
        g->sched = t < s->now ? s->now : t;
        ev_t ev = {.t = g->sched, .kind = EV_TIMER, .mgr = i, .gen = ++g->gen};
        stage__sim_push(s, &ev);
    }
}

/* ---- managers ---- */

static void ring_add(stage__sim_t *s, uint64_t id) {
    int lo = 0, hi = s->nring;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->ring[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&s->ring[lo + 1], &s->ring[lo],
            (size_t)(s->nring - lo) * sizeof(uint64_t));
    s->ring[lo] = id;
    s->nring++;
}

static void ring_del(stage__sim_t *s, uint64_t id) {
    for (int i = 0; i < s->nring; i++)
        if (s->ring[i] == id) {
            memmove(&s->ring[i], &s->ring[i + 1],
                    (size_t)(s->nring - i - 1) * sizeof(uint64_t));
            s->nring--;
            return;
        }
}

uint64_t stage__sim_oracle_owner(const stage__sim_t *s, uint64_t key) {
    int lo = 0, hi = s->nring;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->ring[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return s->nring == 0 ? 0 : s->ring[lo == s->nring ? 0 : lo];
}

int stage__sim_random_live_mgr(stage__sim_t *s) {
    if (!s->nlive) return -1;
    int m = s->live[stage__sim_rng_below(&s->rng, (uint64_t)s->nlive)];
    /* a stalled node asks nothing: another, if there is one */
    for (int tries = 0; tries < 16 && stage__sim_stalled(s, s->mgrs[m].node);
         tries++)
        m = s->live[stage__sim_rng_below(&s->rng, (uint64_t)s->nlive)];
    return stage__sim_stalled(s, s->mgrs[m].node) ? -1 : m;
}

static void live_add(stage__sim_t *s, int i) {
    s->live_pos[i] = s->nlive;
    s->live[s->nlive++] = i;
}

static void live_del(stage__sim_t *s, int i) {
    int p = s->live_pos[i], last = s->live[--s->nlive];
    s->live[p] = last;
    s->live_pos[last] = p;
}

int stage__sim_start_node(stage__sim_t *s, int node, bool join) {
    node_t *n = &s->nodes[node];
    n->alive = true;
    n->inc++;
    n->born = s->now;
    if (!n->same_addr || !n->port) n->port = 7400 + n->inc;
    n->same_addr = false;
    snprintf(n->addr, sizeof(n->addr), "10.%d.%d.%d:%u", (node >> 16) & 255,
             (node >> 8) & 255, node & 255, n->port);
    /* a live member to join through, chosen before we exist */
    int via = join ? stage__sim_random_live_mgr(s) : -1;
    for (int j = 0; j < s->c.vnodes; j++) {
        int i = node * s->c.vnodes + j;
        mgr_t *g = &s->mgrs[i];
        stage_dht_config_t cfg;
        stage_dht_config_init(&cfg);
        cfg.id = stage__sim_rng_next(&s->rng) | 1;
        cfg.address = n->addr;
        cfg.seed = stage__sim_rng_next(&s->rng);
        cfg.replicas = s->c.replicas;
        int lg = 1;
        while ((1 << lg) < s->nn * s->c.vnodes)
            lg++;
        cfg.succ_len =
            lg > 8 ? (lg > STAGE_DHT_SUCC_MAX ? STAGE_DHT_SUCC_MAX : lg) : 8;
        cfg.period_ms = s->c.period_ms;
        cfg.finger_period_ms = s->c.finger_period_ms;
        cfg.lease_ms = s->c.lease_ms;
        memset(g, 0, sizeof(*g));
        g->node = node;
        g->id = cfg.id;
        g->sched = UINT64_MAX;
        if (stage_dht_new(&g->d, &cfg, s->now)) return STAGE_ENOMEM;
        if (via < 0 && j == 0) {
            g->joined = true; /* the first member makes the ring */
            ring_add(s, g->id);
            live_add(s, i);
            stage__sim_drain(s, i);
            stage__sim_on_joined(s, i);
            continue;
        }
        const mgr_t *v =
            via >= 0 ? &s->mgrs[via] : &s->mgrs[node * s->c.vnodes];
        stage_dht_peer_t vp = stage_dht_self(v->d);
        stage_dht_join(g->d, s->now, vp.addr, vp.id);
        stage__sim_drain(s, i);
    }
    return 0;
}

static void stop_mgr(stage__sim_t *s, int i) {
    mgr_t *g = &s->mgrs[i];
    if (g->joined) {
        ring_del(s, g->id);
        live_del(s, i);
    }
    stage_dht_destroy(&g->d);
    g->joined = false;
    g->gen++;
    g->sched = UINT64_MAX;
}

void stage__sim_crash_node(stage__sim_t *s, int node) {
    if (!s->nodes[node].alive) return;
    s->nodes[node].alive = false;
    for (size_t k = 0; k < s->nentries; k++) /* their leases will lapse */
        if (s->entries[k].node == node && !s->entries[k].dead_at)
            s->entries[k].dead_at = s->now;
    for (int j = 0; j < s->c.vnodes; j++) {
        int i = node * s->c.vnodes + j;
        if (s->c.declare_dead_s > 0 && s->mgrs[i].d) {
            s->mgrs[i].gone_id = s->mgrs[i].id;
            stage__sim_at(s, s->now + MS(s->c.declare_dead_s), A_DECLARE, i);
        }
        stop_mgr(s, i);
    }
}

void stage__sim_declare_dead(stage__sim_t *s, int i) {
    uint64_t id = s->mgrs[i].gone_id;
    if (!id) return;
    s->mgrs[i].gone_id = 0;
    int node = i / s->c.vnodes;
    for (size_t k = 0; k < s->nentries; k++)
        if (s->entries[k].node == node && s->entries[k].dead_at)
            s->entries[k].declared = true;
    for (int m = 0; m < s->nm; m++) {
        if (!s->mgrs[m].d) continue;
        stage_dht_owner_gone(s->mgrs[m].d, s->now, id);
        stage__sim_drain(s, m);
    }
}

void stage__sim_leave_node(stage__sim_t *s, int node) {
    if (!s->nodes[node].alive) return;
    for (int j = 0; j < s->c.vnodes; j++) {
        int i = node * s->c.vnodes + j;
        if (!s->mgrs[i].d) continue;
        stage_dht_leave(s->mgrs[i].d, s->now);
        stage__sim_drain(s, i);
    }
    stage__sim_crash_node(s, node);
}

void stage__sim_stall_node(stage__sim_t *s, int node, uint64_t ms) {
    if (s->nodes[node].alive) s->nodes[node].stalled_until = s->now + ms;
}

bool stage__sim_stalled(const stage__sim_t *s, int node) {
    return s->nodes[node].alive && s->now < s->nodes[node].stalled_until;
}

/* ---- the loop ---- */

void stage__sim_loop(stage__sim_t *s, uint64_t until) {
    ev_t e;
    while (stage__sim_queue_pop(&s->q, until, &e)) {
        s->now = e.t;
        s->events++;
        if (e.kind == EV_ACT) {
            stage__sim_on_act(s, e.act, e.arg);
            continue;
        }
        mgr_t *g = &s->mgrs[e.mgr];
        if (stage__sim_stalled(s, g->node)) { /* it waits, in order */
            e.t = s->nodes[g->node].stalled_until;
            stage__sim_push(s, &e);
            continue;
        }
        if (e.kind == EV_TIMER) {
            if (e.gen != g->gen || !g->d) continue;
            g->sched = UINT64_MAX;
            if (stage_dht_next_timer(g->d) > s->now) { /* moved later */
                ev_t ev = {.t = stage_dht_next_timer(g->d),
                           .kind = EV_TIMER,
                           .mgr = e.mgr,
                           .gen = ++g->gen};
                g->sched = ev.t;
                stage__sim_push(s, &ev);
                continue;
            }
            stage_dht_tick(g->d, s->now);
            stage__sim_drain(s, e.mgr);
            continue;
        }
        if (g->d && s->nodes[g->node].alive && s->nodes[g->node].inc == e.gen) {
            stage_dht_recv(g->d, s->now, e.msg);
            stage__sim_drain(s, e.mgr);
        }
        msg_put(s, e.msg);
    }
    if (s->now < until) s->now = until;
}

int stage__sim_engine_init(stage__sim_t *s) {
    int V = s->c.vnodes;
    s->nn = s->c.nodes;
    s->nm = s->nn * V;
    s->nodes = stage__calloc((size_t)s->nn, sizeof(node_t));
    s->mgrs = stage__calloc((size_t)s->nm, sizeof(mgr_t));
    s->ring = stage__calloc((size_t)s->nm + 1, sizeof(uint64_t));
    s->hops_hist = stage__calloc(256, sizeof(uint64_t));
    s->live = stage__calloc((size_t)s->nm, sizeof(int));
    s->live_pos = stage__calloc((size_t)s->nm, sizeof(int));
    if (!s->nodes || !s->mgrs || !s->ring || !s->hops_hist || !s->live ||
        !s->live_pos || stage__sim_queue_init(&s->q))
        return STAGE_ENOMEM;
    for (int i = 0; i < s->nn; i++) {
        s->nodes[i].x = stage__sim_rng_unit(&s->rng);
        s->nodes[i].y = stage__sim_rng_unit(&s->rng);
    }
    for (int i = 0; i < s->nm; i++)
        s->mgrs[i].sched = UINT64_MAX;
    return 0;
}

static void free_msg(ev_t *e, void *arg) {
    if (e->kind == EV_MSG) msg_put(arg, e->msg);
}

void stage__sim_engine_free(stage__sim_t *s) {
    for (int i = 0; i < s->nm; i++)
        stage_dht_destroy(&s->mgrs[i].d);
    stage__sim_queue_each(&s->q, free_msg, s);
    stage__sim_queue_free(&s->q);
    for (size_t i = 0; i < s->npool; i++)
        stage__free(s->pool[i]);
    stage__free(s->pool);
    stage__free(s->nodes);
    stage__free(s->mgrs);
    stage__free(s->ring);
    stage__free(s->hops_hist);
    stage__free(s->live);
    stage__free(s->live_pos);
    stage__free(s->reqs);
    stage__free(s->entries);
}
