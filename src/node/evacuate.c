/*
** node/evacuate.c: a node's drain — which actor goes where, how many at
** once, what is tried again (node/evacuate.h says the rules).
**
** Actors live in one array (the map gives a key's index); the ones to
** start wait in a FIFO of indices, the busy ones in a second FIFO until
** their retry time (one retry delay for all, so that FIFO is in time
** order). Nodes are few (the system's): a linear scan chooses.
*/
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "node/evacuate.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/u64map.h"

enum { WAITING, INFLIGHT, FINISHED };

typedef struct actor {
    uint64_t key;
    uint64_t ready_at; /* a busy one: not before */
    int state;
    int tries;
    int node;  /* INFLIGHT: where it goes; WAITING: the one to prefer (-1) */
    int avoid; /* a node that did not answer it in time (-1) */
} actor_t;

typedef struct node {
    char addr[STAGE_ADDR_MAX];
    double per_core; /* 1 / cores */
    double actors;   /* it runs, plus those sent to it by this drain */
    double load;
    bool gone;
} node_t;

/* A FIFO of actor indices. */
typedef struct fifo {
    size_t *v;
    size_t head, n, cap;
} fifo_t;

struct stage_evac {
    stage_evac_config_t cfg;
    actor_t *actors;
    size_t nactors, capactors;
    stage_u64map_t bykey; /* key -> index + 1 */
    node_t *nodes;
    int nnodes, capnodes;
    fifo_t ready, later; /* to start; busy, until ready_at */
    stage_evac_stats_t st;
    bool started, done_said, changed;
    uint64_t progress_at; /* the next PROGRESS, at the earliest */
    stage_evac_fx_t *fx;
    size_t nfx, capfx;
    bool fx_read;
};

void stage_evac_config_init(stage_evac_config_t *cfg) {
    cfg->inflight = 32;
    cfg->tries = 3;
    cfg->retry_ms = 20;
    cfg->progress_ms = 1000;
}

stage_evac_t *stage_evac_new(const stage_evac_config_t *cfg) {
    stage_evac_t *e = stage__calloc(1, sizeof *e);
    if (!e) return NULL;
    if (cfg)
        e->cfg = *cfg;
    else
        stage_evac_config_init(&e->cfg);
    if (e->cfg.inflight < 1) e->cfg.inflight = 1;
    if (e->cfg.tries < 1) e->cfg.tries = 1;
    return e;
}

void stage_evac_destroy(stage_evac_t **ep) {
    stage_evac_t *e = *ep;
    if (!e) return;
    stage__free(e->actors);
    stage__u64map_free(&e->bykey);
    stage__free(e->nodes);
    stage__free(e->ready.v);
    stage__free(e->later.v);
    stage__free(e->fx);
    stage__free(e);
    *ep = NULL;
}

/* ---- small pieces ------------------------------------------------------ */

static int fifo_push(fifo_t *q, size_t i) {
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        size_t *v = stage__malloc(cap * sizeof *v);
        if (!v) return STAGE_ENOMEM;
        for (size_t k = 0; k < q->n; k++)
            v[k] = q->v[(q->head + k) % q->cap];
        stage__free(q->v);
        q->v = v, q->cap = cap, q->head = 0;
    }
    q->v[(q->head + q->n++) % q->cap] = i;
    return 0;
}

static size_t fifo_front(const fifo_t *q) {
    return q->v[q->head];
}

static void fifo_pop(fifo_t *q) {
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

/* Append an effect (out of memory: it is lost, and so is the drain's
** word on it; the driver's own log still has the move). */
static stage_evac_fx_t *fx_add(stage_evac_t *e, int kind, uint64_t key) {
    if (e->fx_read) e->nfx = 0, e->fx_read = false;
    if (e->nfx == e->capfx) {
        size_t cap = e->capfx ? 2 * e->capfx : 16;
        stage_evac_fx_t *p = stage__realloc(e->fx, cap * sizeof *p);
        if (!p) return NULL;
        e->fx = p, e->capfx = cap;
    }
    stage_evac_fx_t *f = &e->fx[e->nfx++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->key = key;
    return f;
}

static int find_node(const stage_evac_t *e, const char *addr) {
    for (int i = 0; i < e->nnodes; i++)
        if (!strcmp(e->nodes[i].addr, addr)) return i;
    return -1;
}

/* The node for actor a: the fewest actors per core, then the lowest load,
** then the first listed; a's preferred node if it still takes actors; -1
** if none does. */
static int choose(const stage_evac_t *e, const actor_t *a) {
    if (a->node >= 0 && !e->nodes[a->node].gone) return a->node;
    int best = -1, fallback = -1;
    for (int i = 0; i < e->nnodes; i++) {
        const node_t *n = &e->nodes[i];
        if (n->gone) continue;
        if (i == a->avoid) {
            fallback = i;
            continue;
        }
        if (best < 0) {
            best = i;
            continue;
        }
        const node_t *b = &e->nodes[best];
        double x = n->actors * n->per_core, y = b->actors * b->per_core;
        if (x < y || (x == y && n->load < b->load)) best = i;
    }
    return best >= 0 ? best : fallback; /* the avoided one if it is alone */
}

static void finish(stage_evac_t *e, actor_t *a) {
    a->state = FINISHED;
    e->changed = true;
}

static void stay(stage_evac_t *e, actor_t *a, int err, const char *why) {
    finish(e, a);
    e->st.stayed++;
    stage_evac_fx_t *f = fx_add(e, STAGE_EVAC_FX_STAYED, a->key);
    if (!f) return;
    f->err = err;
    if (why) snprintf(f->why, sizeof f->why, "%s", why);
}

/* Start moves while there is room and an actor ready. */
static void pump(stage_evac_t *e, uint64_t now) {
    while (e->later.n && e->actors[fifo_front(&e->later)].ready_at <= now) {
        size_t i = fifo_front(&e->later);
        fifo_pop(&e->later);
        if (fifo_push(&e->ready, i)) stay(e, &e->actors[i], STAGE_ENOMEM, NULL);
    }
    while (e->ready.n && e->st.inflight < (size_t)e->cfg.inflight) {
        actor_t *a = &e->actors[fifo_front(&e->ready)];
        int n = choose(e, a);
        if (n < 0) {
            fifo_pop(&e->ready);
            stay(e, a, STAGE_ENODE_DOWN, NULL);
            continue;
        }
        stage_evac_fx_t *f = fx_add(e, STAGE_EVAC_FX_MOVE, a->key);
        if (!f) break; /* no memory for the effect: the next tick */
        fifo_pop(&e->ready);
        snprintf(f->addr, sizeof f->addr, "%s", e->nodes[n].addr);
        a->state = INFLIGHT;
        a->node = n;
        e->nodes[n].actors += 1;
        e->st.inflight++;
    }
    if (e->started && !e->done_said && stage_evac_done(e)) {
        e->done_said = true;
        fx_add(e, STAGE_EVAC_FX_DONE, 0);
    }
}

/* ---- the API --------------------------------------------------------- */

int stage_evac_node(stage_evac_t *e, const char *addr, int cores, double actors,
                    double load) {
    size_t len = addr ? strlen(addr) : 0;
    if (!len || len >= STAGE_ADDR_MAX) return STAGE_EINVAL;
    if (!isfinite(actors) || actors < 0) actors = 0;
    if (!isfinite(load) || load < 0) load = 0;
    int i = find_node(e, addr);
    if (i < 0) {
        if (e->nnodes == e->capnodes) {
            int cap = e->capnodes ? 2 * e->capnodes : 8;
            node_t *p = stage__realloc(e->nodes, (size_t)cap * sizeof *p);
            if (!p) return STAGE_ENOMEM;
            e->nodes = p, e->capnodes = cap;
        }
        i = e->nnodes++;
        memset(&e->nodes[i], 0, sizeof e->nodes[i]);
        memcpy(e->nodes[i].addr, addr, len + 1);
        e->st.nodes++;
    }
    node_t *n = &e->nodes[i];
    double sent = 0; /* moves to it under way are not in its figure yet */
    for (size_t k = 0; k < e->nactors; k++)
        if (e->actors[k].node == i && e->actors[k].state == INFLIGHT) sent++;
    n->per_core = 1.0 / (cores > 0 ? cores : 1);
    n->actors = actors + sent;
    n->load = load;
    return 0;
}

void stage_evac_node_gone(stage_evac_t *e, uint64_t now, const char *addr) {
    int i = addr ? find_node(e, addr) : -1;
    if (i < 0 || e->nodes[i].gone) return;
    e->nodes[i].gone = true;
    e->st.nodes--;
    if (e->started) pump(e, now); /* actors with nowhere to go stay */
}

int stage_evac_add(stage_evac_t *e, uint64_t key) {
    if (!key) return STAGE_EINVAL;
    if (stage__u64map_get(&e->bykey, key)) return STAGE_EEXISTS;
    if (e->nactors == e->capactors) {
        size_t cap = e->capactors ? 2 * e->capactors : 64;
        actor_t *p = stage__realloc(e->actors, cap * sizeof *p);
        if (!p) return STAGE_ENOMEM;
        e->actors = p, e->capactors = cap;
    }
    size_t i = e->nactors;
    if (stage__u64map_put(&e->bykey, key, (void *)(uintptr_t)(i + 1)))
        return STAGE_ENOMEM;
    if (fifo_push(&e->ready, i)) {
        stage__u64map_take(&e->bykey, key);
        return STAGE_ENOMEM;
    }
    e->actors[i] = (actor_t){.key = key, .node = -1, .avoid = -1};
    e->nactors++;
    e->st.total++;
    e->done_said = false; /* a late actor: DONE comes again after it */
    e->changed = true;
    return 0;
}

void stage_evac_start(stage_evac_t *e, uint64_t now) {
    e->started = true;
    e->progress_at = now + e->cfg.progress_ms;
    pump(e, now);
}

void stage_evac_result(stage_evac_t *e, uint64_t now, uint64_t key, int rc,
                       const char *why) {
    uintptr_t v = (uintptr_t)stage__u64map_get(&e->bykey, key);
    if (!v || e->actors[v - 1].state != INFLIGHT) return;
    size_t i = v - 1;
    actor_t *a = &e->actors[i];
    node_t *n = &e->nodes[a->node];
    e->st.inflight--;
    e->changed = true;
    switch (rc) {
    case 0:
        finish(e, a);
        e->st.moved++;
        break;
    case STAGE_EACTOR_NOT_FOUND:
        n->actors -= 1;
        a->node = -1;
        finish(e, a);
        e->st.gone++;
        break;
    case STAGE_EBUSY: /* the same node, a little later, no try counted */
        n->actors -= 1;
        a->state = WAITING;
        a->ready_at = now + e->cfg.retry_ms;
        if (fifo_push(&e->later, i)) stay(e, a, STAGE_ENOMEM, NULL);
        break;
    case STAGE_ENODE_DOWN:
    case STAGE_EUNREACHABLE:
    case STAGE_ESTOPPED:
    case STAGE_ETIMEOUT:
        n->actors -= 1;
        if (rc == STAGE_ETIMEOUT) {
            a->avoid = a->node;
        } else if (!n->gone) {
            n->gone = true;
            e->st.nodes--;
        }
        a->node = -1;
        if (++a->tries >= e->cfg.tries) {
            stay(e, a, rc, why);
        } else {
            a->state = WAITING;
            if (fifo_push(&e->ready, i)) stay(e, a, STAGE_ENOMEM, NULL);
        }
        break;
    default: /* it cannot move: it stays */
        n->actors -= 1;
        a->node = -1;
        stay(e, a, rc, why);
        break;
    }
    pump(e, now);
}

void stage_evac_tick(stage_evac_t *e, uint64_t now) {
    if (!e->started) return;
    pump(e, now);
    if (e->changed && now >= e->progress_at && !e->done_said) {
        e->changed = false;
        e->progress_at = now + e->cfg.progress_ms;
        fx_add(e, STAGE_EVAC_FX_PROGRESS, 0);
    }
}

uint64_t stage_evac_next_timer(const stage_evac_t *e) {
    if (!e->started || e->done_said) return UINT64_MAX;
    uint64_t t = e->progress_at;
    if (e->later.n) {
        uint64_t r = e->actors[fifo_front(&e->later)].ready_at;
        if (r < t) t = r;
    }
    return t;
}

int stage_evac_done(const stage_evac_t *e) {
    return e->started && e->st.moved + e->st.gone + e->st.stayed == e->st.total;
}

const stage_evac_fx_t *stage_evac_effects(stage_evac_t *e, size_t *n) {
    if (e->fx_read) e->nfx = 0;
    e->fx_read = true;
    *n = e->nfx;
    return e->fx;
}

void stage_evac_stats(const stage_evac_t *e, stage_evac_stats_t *out) {
    *out = e->st;
    out->waiting = e->ready.n + e->later.n;
}
