/*
** node/drain.c: senders that move, at one place — a sender actor that
** moved here holds its first messages to each target (a drain, per stay
** and target) until a token sent through every place it left has reached
** the target behind what it sent from there; the places it left put those
** tokens behind its messages. Stays at a place release in epoch order.
** docs/migration.md, "Senders that move", has why this keeps the order.
**
** Pure logic: no I/O, no clock. One thread drives one place.
*/
#include <stdlib.h>
#include <string.h>

#include "migrate_int.h"
#include "stage/errors.h"

/* The map key of a (sender, target) pair. */
static uint64_t pair_hash(stage_mig_addr_t a, stage_mig_addr_t b) {
    uint64_t h = stage__mig_hash(a) * 31 + stage__mig_hash(b);
    return h ? h : 1;
}

/* The drains whose (sender, target) hash like these (filter with drain_is). */
static drain_t *drain_chain(stage_mig_t *m, stage_mig_addr_t sender,
                            stage_mig_addr_t target) {
    return stage__u64map_get(&m->drains, pair_hash(sender, target));
}

/* 1 if d is the drain of sender for target. */
static bool drain_is(const drain_t *d, stage_mig_addr_t sender,
                     stage_mig_addr_t target) {
    return stage_mig_addr_eq(d->sender, sender) &&
           stage_mig_addr_eq(d->target, target);
}

/* Forget d (its held messages went). */
static void drain_del(stage_mig_t *m, drain_t *d) {
    uint64_t h = pair_hash(d->sender, d->target);
    drain_t *head = stage__u64map_get(&m->drains, h), **pp = &head;
    while (*pp != d)
        pp = &(*pp)->next;
    *pp = d->next;
    if (head)
        stage__u64map_put(&m->drains, h, head);
    else
        stage__u64map_take(&m->drains, h);
    free(d->held.v);
    free(d->tok);
    free(d);
}

/* The oldest stay of sender here, for target, not released yet. */
static drain_t *drain_oldest(stage_mig_t *m, stage_mig_addr_t sender,
                             stage_mig_addr_t target) {
    drain_t *best = NULL;
    for (drain_t *d = drain_chain(m, sender, target); d; d = d->next)
        if (drain_is(d, sender, target) && !d->released &&
            (!best || d->epoch < best->epoch))
            best = d;
    return best;
}

/* Release, oldest stay first, every stay whose tokens are all answered:
** their held messages go, in order. A released stay that is over is
** forgotten; the current one stays, released, so that sends go at once. */
static void drain_progress(stage_mig_t *m, uint64_t now,
                           stage_mig_addr_t sender, stage_mig_addr_t target) {
    drain_t *d;
    while ((d = drain_oldest(m, sender, target)) && d->waiting == 0) {
        ivec_t h = d->held;
        d->held = (ivec_t){0};
        d->released = true;
        bool gone = d->left;
        if (gone) drain_del(m, d);
        for (size_t i = 0; i < h.n; i++)
            stage__mig_send_routed(m, now, &h.v[i], h.v[i].birth);
        free(h.v);
    }
}

/* Token `handle` of d is answered. Handles are numbered here, so they
** name one token (a token sent twice is answered once). */
static void drain_done(stage_mig_t *m, uint64_t now, drain_t *d,
                       uint64_t handle) {
    bool changed = false;
    for (size_t i = 0; i < d->ntok; i++) {
        if (d->tok[i].done || d->tok[i].handle != handle) continue;
        d->tok[i].done = true;
        d->waiting--;
        changed = true;
    }
    if (changed) drain_progress(m, now, d->sender, d->target);
}

/* Send d's tokens through the places a left (none, if they all died). */
static void drain_tokens(stage_mig_t *m, drain_t *d,
                         const stage_mig_actor_t *a) {
    for (size_t i = 0; i < a->nfrom; i++) {
        uint32_t p = a->from[i];
        if (p == m->cfg.place || stage__mig_is_dead(m, p)) continue;
        stage_mig_item_t tok = {.kind = STAGE_MIG_TOKEN,
                                .reply = m->cfg.place,
                                .epoch = d->epoch,
                                .handle = ++m->flushes,
                                .birth = d->target,
                                .after = a->birth};
        if (d->ntok == d->captok) {
            d->captok = d->captok ? 2 * d->captok : 4;
            d->tok = realloc(d->tok, d->captok * sizeof *d->tok);
            if (!d->tok) abort();
        }
        d->tok[d->ntok++] = (drain_tok_t){p, tok.handle, false};
        d->waiting++;
        stage_mig_frame_t f = {.kind = STAGE_MIG_F_DRAIN, .item = tok};
        stage__mig_send(m, p, &f);
    }
}

/* The drain of this stay of the moved sender a (key skey here) for
** target: found, or started (its tokens sent). */
static drain_t *drain_for(stage_mig_t *m, uint64_t now,
                          const stage_mig_actor_t *a, uint64_t skey,
                          stage_mig_addr_t target) {
    for (drain_t *d = drain_chain(m, a->birth, target); d; d = d->next)
        if (drain_is(d, a->birth, target) && d->skey == skey) return d;
    drain_t *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->sender = a->birth;
    d->target = target;
    d->skey = skey;
    d->epoch = a->epoch;
    uint64_t h = pair_hash(d->sender, target);
    d->next = stage__u64map_get(&m->drains, h);
    if (stage__u64map_put(&m->drains, h, d)) abort();
    drain_tokens(m, d, a);
    drain_progress(m, now, a->birth, target); /* nothing to wait for? */
    return d;
}

/* DRAIN at a place the sender left: the token goes behind what the sender
** sent from here (held in a drain of its own, in the route, or sent). */
void stage__mig_on_drain(stage_mig_t *m, uint64_t now,
                         const stage_mig_frame_t *f) {
    stage_mig_item_t tok = f->item;
    tok.sender = m->cfg.place;
    tok.hops = 0;
    /* behind what the sender sent from here before the stay that waits:
    ** the newest earlier stay still holding, if any (stays release in
    ** order), else the route */
    drain_t *behind = NULL;
    for (drain_t *d = drain_chain(m, tok.after, tok.birth); d; d = d->next)
        if (drain_is(d, tok.after, tok.birth) && !d->released &&
            d->epoch < tok.epoch && (!behind || d->epoch > behind->epoch))
            behind = d;
    if (behind)
        stage__mig_ipush(&behind->held, &tok);
    else
        stage__mig_send_routed(m, now, &tok, tok.birth);
}

void stage__mig_token_reached(stage_mig_t *m, const stage_mig_item_t *it) {
    if (stage__mig_is_dead(m, it->reply)) return;
    stage_mig_frame_t f = {
        .kind = STAGE_MIG_F_DRAINED, .item = *it, .from = m->cfg.place};
    stage__mig_send(m, it->reply, &f);
}

typedef struct dctx {
    drain_t **ds;
    size_t n, cap;
} dctx_t;

/* u64map_each callback: every drain into a dctx_t. */
static void collect_drains(uint64_t key, void *val, void *ud) {
    (void)key;
    dctx_t *c = ud;
    for (drain_t *d = val; d; d = d->next) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->ds = realloc(c->ds, c->cap * sizeof *c->ds);
            if (!c->ds) abort();
        }
        c->ds[c->n++] = d;
    }
}

void stage__mig_drains_departed(stage_mig_t *m, uint64_t key) {
    if (!m->drains.count) return;
    dctx_t c = {0};
    stage__u64map_each(&m->drains, collect_drains, &c);
    for (size_t i = 0; i < c.n; i++) {
        if (c.ds[i]->skey != key) continue;
        if (c.ds[i]->released)
            drain_del(m, c.ds[i]);
        else
            c.ds[i]->left = true; /* its held messages still go from here */
    }
    free(c.ds);
}

void stage__mig_drains_dead(stage_mig_t *m, uint64_t now) {
    if (!m->drains.count) return;
    dctx_t c = {0};
    stage__u64map_each(&m->drains, collect_drains, &c);
    /* mark first, by pairs after: releasing may forget records */
    stage_mig_addr_t(*pairs)[2] = malloc((c.n ? c.n : 1) * sizeof *pairs);
    if (!pairs) abort();
    for (size_t i = 0; i < c.n; i++) {
        drain_t *d = c.ds[i];
        for (size_t k = 0; k < d->ntok; k++) {
            if (d->tok[k].done) continue;
            if (stage__mig_is_dead(m, d->tok[k].place)) { /* no more */
                d->tok[k].done = true;
                d->waiting--;
                continue;
            }
            /* it may have died on its way there, taken and never
            ** answered: ask again (a token answered twice counts once) */
            stage_mig_item_t tok = {.kind = STAGE_MIG_TOKEN,
                                    .reply = m->cfg.place,
                                    .epoch = d->epoch,
                                    .handle = d->tok[k].handle,
                                    .birth = d->target,
                                    .after = d->sender};
            stage_mig_frame_t f = {.kind = STAGE_MIG_F_DRAIN, .item = tok};
            stage__mig_send(m, d->tok[k].place, &f);
        }
        pairs[i][0] = d->sender;
        pairs[i][1] = d->target;
    }
    for (size_t i = 0; i < c.n; i++)
        drain_progress(m, now, pairs[i][0], pairs[i][1]);
    free(pairs);
    free(c.ds);
}

bool stage__mig_drain_holds(stage_mig_t *m, uint64_t now,
                            const stage_mig_actor_t *a,
                            const stage_mig_item_t *item) {
    drain_t *d = drain_for(m, now, a, item->skey, item->birth);
    if (d->released) return false;
    stage__mig_ipush(&d->held, item); /* what it sent before is on its way */
    return true;
}

void stage__mig_on_drained(stage_mig_t *m, uint64_t now,
                           const stage_mig_item_t *it) {
    for (drain_t *d = drain_chain(m, it->after, it->birth); d; d = d->next)
        if (drain_is(d, it->after, it->birth) && d->epoch == it->epoch) {
            drain_done(m, now, d, it->handle);
            return;
        }
}

/* u64map_each callback: free a chain of drains. */
static void free_drains(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (drain_t *d = val, *nx; d; d = nx) {
        nx = d->next;
        free(d->held.v);
        free(d->tok);
        free(d);
    }
}

void stage__mig_drains_free(stage_mig_t *m) {
    stage__u64map_each(&m->drains, free_drains, NULL);
    stage__u64map_free(&m->drains);
}
