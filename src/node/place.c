/*
** node/place.c: one place's migration machine as a whole — its
** configuration, the effects it hands the driver (and what is freed when
** they are read), the actor records that travel, counts. The actor side is
** migrate.c, the sender side route.c and drain.c.
**
** Pure logic: no I/O, no clock. One thread drives one place.
*/
#include <stdlib.h>
#include <string.h>

#include "migrate_int.h"

uint64_t stage__mig_hash(stage_mig_addr_t a) {
    uint64_t h =
        a.key * 0x9e3779b97f4a7c15ull ^ (uint64_t)a.place << 32 ^ a.place;
    h ^= h >> 29;
    return h ? h : 1;
}

void stage_mig_config_init(stage_mig_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->grace_ms = 1000;
    cfg->resolve_retry_ms = 50;
    cfg->resolve_tries = 20;
    cfg->route_idle_ms = 10000;
}

bool stage__mig_is_dead(const stage_mig_t *m, uint32_t place) {
    return stage__u64map_get(&m->dead, (uint64_t)place + 1) != NULL;
}

void *stage__mig_grow(void *v, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return v;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *n = realloc(v, c * size);
    if (!n) abort(); /* the simulator and the node treat OOM as fatal here */
    *cap = c;
    return n;
}

int stage__mig_ipush(ivec_t *v, const stage_mig_item_t *it) {
    v->v = stage__mig_grow(v->v, &v->cap, v->n + 1, sizeof *v->v);
    v->v[v->n++] = *it;
    return 0;
}

void stage__mig_bury(stage_mig_t *m, void *p) {
    m->grave = stage__mig_grow(m->grave, &m->capgrave, m->ngrave + 1,
                               sizeof *m->grave);
    m->grave[m->ngrave++] = p;
}

void stage__mig_enter(stage_mig_t *m) {
    if (!m->read) return;
    m->read = false;
    m->nfx = 0;
    for (size_t i = 0; i < m->ngrave; i++)
        free(m->grave[i]);
    m->ngrave = 0;
}

stage_mig_fx_t *stage__mig_fx(stage_mig_t *m, int kind) {
    m->fx = stage__mig_grow(m->fx, &m->capfx, m->nfx + 1, sizeof *m->fx);
    stage_mig_fx_t *fx = &m->fx[m->nfx++];
    memset(fx, 0, sizeof *fx);
    fx->kind = kind;
    return fx;
}

void stage__mig_send(stage_mig_t *m, uint32_t place,
                     const stage_mig_frame_t *f) {
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_SEND);
    fx->place = place;
    fx->frame = *f;
}

void stage_mig_actor_free(stage_mig_actor_t *a) {
    if (!a) return;
    free(a->hist);
    free(a->from);
    free(a->pend);
    free(a->msgs);
    free(a);
}

void stage_mig_frame_clear(stage_mig_frame_t *f) {
    stage_mig_actor_free(f->actor);
    f->actor = NULL;
}

void *stage__mig_dup(const void *p, size_t n, size_t size) {
    if (!n) return NULL;
    void *d = malloc(n * size);
    if (!d) abort();
    memcpy(d, p, n * size);
    return d;
}

/* A deep copy of a (its mailbox too). */
stage_mig_actor_t *stage__mig_actor_copy(const stage_mig_actor_t *a) {
    stage_mig_actor_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    *c = *a;
    c->hist = stage__mig_dup(a->hist, a->nhist, sizeof *a->hist);
    c->caphist = a->nhist;
    c->pend = stage__mig_dup(a->pend, a->npend, sizeof *a->pend);
    c->cappend = a->npend;
    c->msgs = stage__mig_dup(a->msgs, a->nmsgs, sizeof *a->msgs);
    c->from = stage__mig_dup(a->from, a->nfrom, sizeof *a->from);
    c->capfrom = a->nfrom;
    return c;
}

stage_mig_t *stage_mig_new(const stage_mig_config_t *cfg) {
    if (!cfg->new_key) return NULL;
    stage_mig_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    m->route_timer = UINT64_MAX;
    return m;
}

/* u64map_each callback: free an entry. */
static void free_entry(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    entry_t *e = val;
    stage_mig_actor_free(e->actor);
    for (size_t i = 0; i < e->held.n; i++)
        stage_mig_frame_clear(&e->held.v[i]);
    free(e->held.v);
    free(e);
}

/* u64map_each callback: free a chain of aliases. */
static void free_aliases(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (alias_t *al = val, *nx; al; al = nx) {
        nx = al->next;
        free(al);
    }
}

void stage_mig_destroy(stage_mig_t **mp) {
    stage_mig_t *m = *mp;
    if (!m) return;
    stage__u64map_each(&m->entries, free_entry, NULL);
    stage__u64map_free(&m->entries);
    stage__u64map_each(&m->aliases, free_aliases, NULL);
    stage__u64map_free(&m->aliases);
    stage__mig_route_free(m);
    stage__u64map_free(&m->dead);
    for (size_t i = 0; i < m->ngrave; i++)
        free(m->grave[i]);
    free(m->grave);
    free(m->fx);
    free(m);
    *mp = NULL;
}

const stage_mig_fx_t *stage_mig_effects(stage_mig_t *m, size_t *n) {
    *n = m->nfx;
    m->read = true;
    return m->fx;
}

void stage_mig_stats(const stage_mig_t *m, stage_mig_stats_t *out) {
    *out = m->st;
    out->entries = m->entries.count;
    out->aliases = m->naliases;
    out->routes = m->nroutes;
}
