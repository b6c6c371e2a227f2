/*
** node/migrate.c: the actor side of the migration protocol at one place —
** the addresses of moved actors (entries), the addresses of earlier places
** forwarded here (aliases), a move's two phases, forwarding, retiring.
**
** A move is decided in two phases so that a place that dies mid-move
** leaves the actor at exactly one place: the source sends MOVE and holds
** what arrives for the actor; the destination installs the actor without
** running it and answers READY; the source then sends COMMIT, forwards what
** it held, and forwards from then on. The source restores the actor only
** if the destination died before READY reached it (so the destination never
** ran it: it runs only on COMMIT); the destination runs it on COMMIT, or
** when the source died (then the source's copy died with it). A COMMIT
** followed by the destination's death loses the actor (it may have run):
** its senders are told (docs/migration.md, "Failures").
**
** Forwarding follows the actor's own path: a departed address forwards to
** the next place on the same FIFO channel the actor itself took, so what a
** sender put in one address's pipe reaches the actor in order, however
** often it moves. An address retires (forwards no more: later items bounce
** to their senders) when its grace is over and the address before it has
** retired; the RETIRE marker follows the same path, so the actor learns
** which of its old addresses can deliver no more (closes them), which is
** what a FLUSH-after waits for.
**
** Pure logic: no I/O, no clock. One thread drives one place.
*/
#include <stdlib.h>
#include <string.h>

#include "migrate_int.h"
#include "stage/errors.h"

/* Append a copy of f to v. */
static void fpush(fvec_t *v, const stage_mig_frame_t *f) {
    v->v = stage__mig_grow(v->v, &v->cap, v->n + 1, sizeof *v->v);
    v->v[v->n++] = *f;
}

/* Append `at` to a's open addresses (it is the current one now). */
static void hist_push(stage_mig_actor_t *a, stage_mig_addr_t at) {
    a->hist =
        stage__mig_grow(a->hist, &a->caphist, a->nhist + 1, sizeof *a->hist);
    a->hist[a->nhist++] = at;
}

/* 1 if nothing more can come to the actor through address x: x is not one
** of its open old addresses (the current one, last, has no pipe). */
static bool closed(const stage_mig_actor_t *a, stage_mig_addr_t x) {
    for (size_t i = 0; i + 1 < a->nhist; i++)
        if (stage_mig_addr_eq(a->hist[i], x)) return false;
    return true;
}

/* a's current address (the last of its open ones). */
static stage_mig_addr_t current(const stage_mig_actor_t *a) {
    return a->hist[a->nhist - 1];
}

/* ---- entries and aliases ----------------------------------------------- */

static entry_t *entry_get(stage_mig_t *m, uint64_t key) {
    return stage__u64map_get(&m->entries, key);
}

/* A new entry for key in state, in the entries map. */
static entry_t *entry_new(stage_mig_t *m, uint64_t key, int state) {
    entry_t *e = calloc(1, sizeof *e);
    if (!e || stage__u64map_put(&m->entries, key, e)) abort();
    e->key = key;
    e->state = state;
    return e;
}

/* Take FORWARD entry e out of the grace list. */
static void fwd_unlink(stage_mig_t *m, entry_t *e) {
    if (e->state != E_FORWARD) return;
    if (e->fprev)
        e->fprev->fnext = e->fnext;
    else
        m->fwd_head = e->fnext;
    if (e->fnext)
        e->fnext->fprev = e->fprev;
    else
        m->fwd_tail = e->fprev;
    e->fprev = e->fnext = NULL;
}

/* Forget entry e and what it holds. */
static void entry_del(stage_mig_t *m, entry_t *e) {
    fwd_unlink(m, e);
    stage__u64map_take(&m->entries, e->key);
    stage_mig_actor_free(e->actor);
    for (size_t i = 0; i < e->held.n; i++)
        stage_mig_frame_clear(&e->held.v[i]);
    free(e->held.v);
    free(e);
}

/* The alias of address a here, or NULL. */
static alias_t *alias_find(stage_mig_t *m, stage_mig_addr_t a) {
    alias_t *al = stage__u64map_get(&m->aliases, stage__mig_hash(a));
    while (al && !stage_mig_addr_eq(al->addr, a))
        al = al->next;
    return al;
}

/* Forward address a (of an earlier place) to key here. */
static void alias_add(stage_mig_t *m, stage_mig_addr_t a, uint64_t key) {
    alias_t *al = calloc(1, sizeof *al);
    if (!al) abort();
    uint64_t h = stage__mig_hash(a);
    al->addr = a;
    al->key = key;
    al->next = stage__u64map_get(&m->aliases, h);
    if (stage__u64map_put(&m->aliases, h, al)) abort();
    m->naliases++;
}

/* Forget alias al (its upstream retired or died). */
static void alias_del(stage_mig_t *m, alias_t *al) {
    uint64_t h = stage__mig_hash(al->addr);
    alias_t *head = stage__u64map_get(&m->aliases, h), **pp = &head;
    while (*pp != al)
        pp = &(*pp)->next;
    *pp = al->next;
    if (head)
        stage__u64map_put(&m->aliases, h, head);
    else
        stage__u64map_take(&m->aliases, h);
    entry_t *e = entry_get(m, al->key);
    if (e) e->aliases_in--;
    m->naliases--;
    free(al);
}

/* This place's address for key. */
static stage_mig_addr_t own(const stage_mig_t *m, uint64_t key) {
    return (stage_mig_addr_t){m->cfg.place, key};
}

/* ---- items at an entry -------------------------------------------------- */

static void to_sender(stage_mig_t *m, int kind, const stage_mig_item_t *it,
                      stage_mig_addr_t to, stage_mig_addr_t at, int err) {
    if (stage__mig_is_dead(m, it->sender)) return; /* nobody to tell */
    stage_mig_frame_t f = {.kind = (uint8_t)kind,
                           .item = *it,
                           .to = to,
                           .at = at,
                           .err = err,
                           .from = m->cfg.place};
    stage__mig_send(m, it->sender, &f);
}

/* Answer the flushes of a whose `after` has closed. */
static void answer_pending(stage_mig_t *m, stage_mig_actor_t *a) {
    size_t k = 0;
    for (size_t i = 0; i < a->npend; i++) {
        if (closed(a, a->pend[i].after))
            to_sender(m, STAGE_MIG_F_FLUSHED, &a->pend[i], a->birth, current(a),
                      0);
        else
            a->pend[k++] = a->pend[i];
    }
    a->npend = k;
}

/* Close x and every older address of a (a RETIRE is cumulative: an address
** retires only after the one before it did). */
static void close_upto(stage_mig_t *m, stage_mig_actor_t *a,
                       stage_mig_addr_t x) {
    for (size_t i = 0; i + 1 < a->nhist; i++) {
        if (!stage_mig_addr_eq(a->hist[i], x)) continue;
        memmove(a->hist, a->hist + i + 1, (a->nhist - i - 1) * sizeof *a->hist);
        a->nhist -= i + 1;
        answer_pending(m, a);
        return;
    }
}

/* Frame f (ITEM or RETIRE) reached resident entry e. */
static void at_resident(stage_mig_t *m, entry_t *e,
                        const stage_mig_frame_t *f) {
    stage_mig_actor_t *a = e->actor;
    if (f->kind == STAGE_MIG_F_RETIRE) {
        close_upto(m, a, f->at);
        return;
    }
    const stage_mig_item_t *it = &f->item;
    if (it->kind == STAGE_MIG_TOKEN) {
        stage__mig_token_reached(m, it);
        return;
    }
    if (it->kind == STAGE_MIG_FLUSH) {
        if (it->after.key == 0 || closed(a, it->after)) {
            to_sender(m, STAGE_MIG_F_FLUSHED, it, a->birth, current(a), 0);
        } else {
            a->pend = stage__mig_grow(a->pend, &a->cappend, a->npend + 1,
                                      sizeof *a->pend);
            a->pend[a->npend++] = *it;
        }
        return;
    }
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_DELIVER);
    fx->key = e->key;
    fx->item = *it;
    if (it->hops > 0) { /* came the long way: tell the sender where it is */
        m->st.hints++;
        to_sender(m, STAGE_MIG_F_HINT, it, a->birth, current(a), 0);
    }
}

/* Frame f (ITEM or RETIRE) reached entry e, whatever its state. */
static void at_entry(stage_mig_t *m, entry_t *e, stage_mig_frame_t *f) {
    switch (e->state) {
    case E_RESIDENT:
        at_resident(m, e, f);
        return;
    case E_PREPARING:
    case E_PREPARED:
        f->to = own(m, e->key); /* forwarded under this address later */
        fpush(&e->held, f);
        return;
    case E_FORWARD:
        f->to = own(m, e->key);
        if (f->kind == STAGE_MIG_F_ITEM) {
            f->item.hops++;
            m->st.forwarded++;
            if (f->item.call)
                to_sender(m, STAGE_MIG_F_CALL_AT, &f->item, f->item.birth,
                          e->next, 0);
        }
        stage__mig_send(m, e->next.place, f);
        return;
    }
}

/* ITEM f for an actor of this place that never moved. */
static void at_native(stage_mig_t *m, const stage_mig_frame_t *f) {
    if (f->item.kind == STAGE_MIG_TOKEN) {
        stage__mig_token_reached(m, &f->item);
        return;
    }
    if (f->item.kind == STAGE_MIG_FLUSH) { /* nothing can be behind it */
        to_sender(m, STAGE_MIG_F_FLUSHED, &f->item, f->to, f->to, 0);
        return;
    }
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_DELIVER);
    fx->key = f->to.key;
    fx->item = f->item;
}

/* Frame f (ITEM or RETIRE) for address f->to arrived here. */
static void dispatch(stage_mig_t *m, stage_mig_frame_t *f) {
    entry_t *e = NULL;
    alias_t *al = NULL;
    if (f->to.place == m->cfg.place) {
        e = entry_get(m, f->to.key);
    } else if ((al = alias_find(m, f->to))) {
        e = entry_get(m, al->key);
    }
    if (f->kind == STAGE_MIG_F_RETIRE) {
        /* an upstream address retiring itself ends its alias here */
        if (al && stage_mig_addr_eq(f->to, f->at)) alias_del(m, al);
        if (e) at_entry(m, e, f);
        return;
    }
    if (!e && f->to.place == m->cfg.place && m->cfg.native &&
        m->cfg.native(m->cfg.ud, f->to.key)) {
        at_native(m, f);
        return;
    }
    if (e && f->item.call && f->item.hops > 0) /* the call is here now */
        to_sender(m, STAGE_MIG_F_CALL_AT, &f->item, f->item.birth, f->to, 0);
    if (!e) { /* not here (any more): back to the sender */
        m->st.bounced++;
        to_sender(m, STAGE_MIG_F_BOUNCE, &f->item, f->to, f->to, 0);
        return;
    }
    at_entry(m, e, f);
}

/* Run the frames e held while its move was being decided. */
static void replay_held(stage_mig_t *m, entry_t *e) {
    fvec_t held = e->held;
    e->held = (fvec_t){0};
    for (size_t i = 0; i < held.n; i++) {
        entry_t *now_e = entry_get(m, held.v[i].to.key);
        if (now_e) at_entry(m, now_e, &held.v[i]);
    }
    free(held.v);
}

/* ---- moves ----------------------------------------------------------------
 */

int stage_mig_depart(stage_mig_t *m, uint64_t now, uint64_t key, uint32_t dest,
                     const stage_mig_item_t *items, size_t n, uint64_t state) {
    (void)now;
    stage__mig_enter(m);
    if (!key || dest == m->cfg.place || stage__mig_is_dead(m, dest))
        return STAGE_EINVAL;
    entry_t *e = entry_get(m, key);
    if (e && e->state != E_RESIDENT)
        return e->state == E_FORWARD ? STAGE_EINVAL : STAGE_EBUSY;
    if (!e) { /* its first move: it was born here */
        e = entry_new(m, key, E_RESIDENT);
        e->actor = calloc(1, sizeof *e->actor);
        if (!e->actor) abort();
        e->actor->birth = own(m, key);
        hist_push(e->actor, own(m, key));
    }
    stage_mig_actor_t *a = e->actor;
    stage__mig_drains_departed(m, key);
    free(a->msgs);
    a->msgs = stage__mig_dup(items, n, sizeof *items);
    a->nmsgs = n;
    a->state = state;
    e->state = E_PREPARING;
    e->next = (stage_mig_addr_t){dest, 0};
    stage_mig_frame_t f = {.kind = STAGE_MIG_F_MOVE,
                           .to = own(m, key),
                           .epoch = a->epoch + 1,
                           .actor = stage__mig_actor_copy(a)};
    stage__mig_send(m, dest, &f);
    return 0;
}

/* MOVE at the destination: hold the actor, not running, and say READY. */
static void on_move(stage_mig_t *m, uint32_t from, stage_mig_frame_t *f) {
    if (from != f->to.place || stage__mig_is_dead(m, from)) {
        stage_mig_frame_clear(f);
        return;
    }
    uint64_t key = m->cfg.new_key(m->cfg.ud);
    entry_t *e = entry_new(m, key, E_PREPARED);
    e->actor = f->actor;
    f->actor = NULL;
    e->actor->epoch = f->epoch;
    hist_push(e->actor, own(m, key));
    e->from = f->to;
    alias_add(m, f->to, key);
    e->aliases_in++;
    stage_mig_frame_t r = {.kind = STAGE_MIG_F_READY,
                           .to = f->to,
                           .at = own(m, key),
                           .epoch = f->epoch};
    stage__mig_send(m, from, &r);
}

/* The actor of PREPARED entry e runs here from now on. */
/* Remember that a left place `from` (newest first, once, not here). Every
** place it ever left stays: its messages from there may still be held or
** on their way, and a drain must go through it (bounded by the places of
** the system). */
static void left_from(stage_mig_t *m, stage_mig_actor_t *a, uint32_t from) {
    a->from =
        stage__mig_grow(a->from, &a->capfrom, a->nfrom + 1, sizeof *a->from);
    size_t n = 0;
    for (size_t i = 0; i < a->nfrom; i++)
        if (a->from[i] != from && a->from[i] != m->cfg.place)
            a->from[n++] = a->from[i];
    memmove(a->from + 1, a->from, n * sizeof *a->from);
    a->from[0] = from;
    a->nfrom = n + 1;
}

/* The actor of PREPARED entry e runs here from now on. */
static void commit_here(stage_mig_t *m, entry_t *e) {
    stage_mig_actor_t *a = e->actor;
    e->state = E_RESIDENT;
    left_from(m, a, e->from.place);
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_ARRIVED);
    fx->key = e->key;
    fx->birth = a->birth;
    fx->addr = own(m, e->key);
    fx->epoch = a->epoch;
    fx->state = a->state;
    fx->items = a->msgs;
    fx->nitems = a->nmsgs;
    /* calls that travelled in the mailbox are here now */
    for (size_t i = 0; i < a->nmsgs; i++) {
        a->msgs[i].hops++; /* it travelled, like a forwarded one */
        if (a->msgs[i].call)
            to_sender(m, STAGE_MIG_F_CALL_AT, &a->msgs[i], a->birth,
                      own(m, e->key), 0);
    }
    stage__mig_bury(m, a->msgs);
    a->msgs = NULL;
    a->nmsgs = 0;
    replay_held(m, e);
}

/* READY at the source: give the actor up, forward what was held. */
static void on_ready(stage_mig_t *m, uint64_t now, uint32_t from,
                     const stage_mig_frame_t *f) {
    entry_t *e = f->to.place == m->cfg.place ? entry_get(m, f->to.key) : NULL;
    if (!e || e->state != E_PREPARING || e->next.place != from ||
        f->epoch != e->actor->epoch + 1)
        return; /* stale: the move was given up (its dest died) */
    stage_mig_frame_t c = {
        .kind = STAGE_MIG_F_COMMIT, .to = f->at, .epoch = f->epoch};
    stage__mig_send(m, from, &c);
    /* calls in the mailbox now travel to the destination */
    stage_mig_actor_t *a = e->actor;
    for (size_t i = 0; i < a->nmsgs; i++) {
        if (!a->msgs[i].call) continue;
        stage_mig_item_t it = a->msgs[i];
        it.hops++;
        to_sender(m, STAGE_MIG_F_CALL_AT, &it, a->birth, f->at, 0);
    }
    e->state = E_FORWARD;
    e->next = f->at;
    e->grace_until = now + m->cfg.grace_ms;
    e->fprev = m->fwd_tail; /* the latest deadline: the list stays sorted */
    if (m->fwd_tail)
        m->fwd_tail->fnext = e;
    else
        m->fwd_head = e;
    m->fwd_tail = e;
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_DEPARTED);
    fx->key = e->key;
    fx->birth = e->actor->birth;
    fx->addr = f->at;
    stage_mig_actor_free(e->actor);
    e->actor = NULL;
    replay_held(m, e); /* in order, behind the COMMIT */
}

/* COMMIT at the destination: run the actor. */
static void on_commit(stage_mig_t *m, uint32_t from,
                      const stage_mig_frame_t *f) {
    entry_t *e = f->to.place == m->cfg.place ? entry_get(m, f->to.key) : NULL;
    if (e && e->state == E_PREPARED && e->from.place == from) commit_here(m, e);
}

/* PREPARING entry e: its destination died before READY came. The actor
** never ran there (it runs only on COMMIT): it stays here. */
static void restore(stage_mig_t *m, entry_t *e) {
    stage_mig_actor_t *a = e->actor;
    e->state = E_RESIDENT;
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_RESTORED);
    fx->key = e->key;
    fx->birth = a->birth;
    fx->addr = current(a);
    fx->epoch = a->epoch;
    fx->state = a->state;
    fx->items = a->msgs;
    fx->nitems = a->nmsgs;
    stage__mig_bury(m, a->msgs);
    a->msgs = NULL;
    a->nmsgs = 0;
    replay_held(m, e);
}

/* ---- events ------------------------------------------------------------ */

void stage_mig_recv(stage_mig_t *m, uint64_t now, uint32_t from,
                    stage_mig_frame_t *f) {
    stage__mig_enter(m);
    if (stage__mig_is_dead(m, from)) { /* its session is over */
        stage_mig_frame_clear(f);
        return;
    }
    switch (f->kind) {
    case STAGE_MIG_F_ITEM:
    case STAGE_MIG_F_RETIRE:
        dispatch(m, f);
        return;
    case STAGE_MIG_F_MOVE:
        on_move(m, from, f);
        return;
    case STAGE_MIG_F_READY:
        on_ready(m, now, from, f);
        return;
    case STAGE_MIG_F_COMMIT:
        on_commit(m, from, f);
        return;
    default:
        stage__mig_route_frame(m, now, f);
        return;
    }
}

void stage_mig_undelivered(stage_mig_t *m, uint64_t now, uint32_t to,
                           stage_mig_frame_t *f) {
    stage__mig_enter(m);
    stage_mig_frame_clear(f); /* a MOVE: the source kept its own copy */
    if (f->kind != STAGE_MIG_F_ITEM) return;
    if (f->item.hops == 0 && f->item.sender == m->cfg.place) {
        stage__mig_route_undelivered(m, now, to, &f->item);
        return;
    }
    /* forwarded, and lost with the next place: its fate is unknown */
    to_sender(m, STAGE_MIG_F_FAILED, &f->item, f->to, f->to, STAGE_ENODE_DOWN);
}

typedef struct dead_ctx {
    stage_mig_t *m;
    uint32_t place;
    entry_t **es;
    size_t n, cap;
    alias_t **as;
    size_t na, capa;
} dead_ctx_t;

/* u64map_each callback: every entry into a dead_ctx_t. */
static void collect_entry(uint64_t key, void *val, void *ud) {
    (void)key;
    dead_ctx_t *c = ud;
    c->es = stage__mig_grow(c->es, &c->cap, c->n + 1, sizeof *c->es);
    c->es[c->n++] = val;
}

/* u64map_each callback: the aliases of the ctx's place. */
static void collect_alias(uint64_t key, void *val, void *ud) {
    (void)key;
    dead_ctx_t *c = ud;
    for (alias_t *al = val; al; al = al->next) {
        if (al->addr.place != c->place) continue;
        c->as = stage__mig_grow(c->as, &c->capa, c->na + 1, sizeof *c->as);
        c->as[c->na++] = al;
    }
}

/* A move to or from a dead place is decided; forwarding to it stops. */
static void dead_entries(stage_mig_t *m, uint32_t place) {
    dead_ctx_t c = {.m = m, .place = place};
    stage__u64map_each(&m->entries, collect_entry, &c);
    for (size_t i = 0; i < c.n; i++) {
        entry_t *e = c.es[i];
        if (e->state == E_PREPARING && e->next.place == place) {
            restore(m, e);
        } else if (e->state == E_PREPARED && e->from.place == place) {
            commit_here(m, e); /* the source's copy died with it */
        } else if (e->state == E_FORWARD && e->next.place == place) {
            m->st.retired++;
            entry_del(m, e); /* the path is cut: later items bounce */
        }
    }
    free(c.es);
}

/* Nothing more comes from a dead place: its aliases close, as if it had
** retired them (the marker goes on to the actor). */
static void dead_aliases(stage_mig_t *m, uint32_t place) {
    dead_ctx_t c = {.m = m, .place = place};
    stage__u64map_each(&m->aliases, collect_alias, &c);
    for (size_t i = 0; i < c.na; i++) {
        stage_mig_frame_t f = {.kind = STAGE_MIG_F_RETIRE,
                               .to = c.as[i]->addr,
                               .at = c.as[i]->addr};
        dispatch(m, &f);
    }
    free(c.as);
}

void stage_mig_dead(stage_mig_t *m, uint64_t now, const uint32_t *places,
                    size_t n) {
    stage__mig_enter(m);
    size_t k = 0;
    uint32_t *fresh = malloc((n ? n : 1) * sizeof *fresh);
    if (!fresh) abort();
    /* all of them first: nothing below may send to any of them */
    for (size_t i = 0; i < n; i++) {
        if (stage__mig_is_dead(m, places[i])) continue;
        if (stage__u64map_put(&m->dead, (uint64_t)places[i] + 1, (void *)1))
            abort();
        fresh[k++] = places[i];
    }
    for (size_t i = 0; i < k; i++)
        dead_entries(m, fresh[i]);
    for (size_t i = 0; i < k; i++)
        dead_aliases(m, fresh[i]);
    for (size_t i = 0; i < k; i++)
        stage__mig_route_dead(m, now, fresh[i]);
    if (k) stage__mig_drains_dead(m, now);
    free(fresh);
}

bool stage__mig_moved_sender(stage_mig_t *m, uint64_t key,
                             const stage_mig_actor_t **a) {
    entry_t *e = entry_get(m, key);
    if (!e || e->state != E_RESIDENT || !e->actor->nfrom) return false;
    *a = e->actor;
    return true;
}

void stage_mig_stopped(stage_mig_t *m, uint64_t key) {
    stage__mig_enter(m);
    entry_t *e = entry_get(m, key);
    if (e && e->state == E_RESIDENT) entry_del(m, e);
}

void stage_mig_hold(stage_mig_t *m, uint64_t key) {
    entry_t *e = entry_get(m, key);
    if (e) e->holds++;
}

void stage_mig_release(stage_mig_t *m, uint64_t now, uint64_t key) {
    entry_t *e = entry_get(m, key);
    if (e && e->holds > 0) e->holds--;
    stage_mig_tick(m, now);
}

/* 1 if FORWARD entry e may retire once its grace is over. */
static bool retirable(const entry_t *e) {
    return !e->aliases_in && !e->holds;
}

void stage_mig_tick(stage_mig_t *m, uint64_t now) {
    stage__mig_enter(m);
    for (entry_t *e = m->fwd_head, *nx; e && e->grace_until <= now; e = nx) {
        nx = e->fnext;
        if (!retirable(e)) continue; /* upstream still forwards into it */
        /* the grace is over and nothing comes from upstream any more */
        stage_mig_frame_t f = {.kind = STAGE_MIG_F_RETIRE,
                               .to = own(m, e->key),
                               .at = own(m, e->key)};
        stage__mig_send(m, e->next.place, &f);
        m->st.retired++;
        entry_del(m, e);
    }
    stage__mig_route_tick(m, now);
}

uint64_t stage_mig_next_timer(const stage_mig_t *m) {
    uint64_t t = stage__mig_route_next(m);
    /* the first that may retire; blocked ones are few (their upstream
    ** has not retired yet) and are passed over */
    for (const entry_t *e = m->fwd_head; e && e->grace_until < t; e = e->fnext)
        if (retirable(e)) return e->grace_until;
    return t;
}
