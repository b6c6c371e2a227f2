/*
** node/route.c: the sender side of the migration protocol at one place —
** a route per moved target actor (keyed by its birth address) that keeps
** this place's messages to it in order across its moves.
**
** The rule that keeps the order: a place has messages to an actor in the
** pipe of one address at a time. It sends through its route's address; to
** switch to another (the actor told it where it is now, or the old address
** bounced a message back), it holds new messages and sends a FLUSH through
** the old address. The FLUSH follows everything sent before it (FIFO
** channels, forwarding along the actor's own path) and comes back either
** answered by the actor's place (everything before it is in the mailbox:
** switch, release the held) or bounced (the address retired: the messages
** it bounced came back before it, in order). After a bounce the store says
** where the actor is, and a FLUSH-after goes there: the actor's place
** answers it once the old address is closed (its RETIRE marker, or its
** upstream's death, has reached the actor), so nothing that was forwarded
** from it can still arrive. Then the bounced messages are sent, then the
** held ones. docs/migration.md has the argument in full. A sender actor
** that moved is drained first (drain.c).
**
** Pure logic: no I/O, no clock. One thread drives one place.
*/
#include <stdlib.h>
#include <string.h>

#include "migrate_int.h"
#include "stage/errors.h"

/* This place's route to the actor born at birth, or NULL. */
static route_t *route_find(stage_mig_t *m, stage_mig_addr_t birth) {
    route_t *r = stage__u64map_get(&m->routes, stage__mig_hash(birth));
    while (r && !stage_mig_addr_eq(r->birth, birth))
        r = r->next;
    return r;
}

/* A new DIRECT route through addr to the actor born at birth. */
static route_t *route_new(stage_mig_t *m, uint64_t now, stage_mig_addr_t birth,
                          stage_mig_addr_t addr) {
    route_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    uint64_t h = stage__mig_hash(birth);
    r->birth = birth;
    r->addr = addr;
    r->state = R_DIRECT;
    r->used = now;
    if (now + m->cfg.route_idle_ms < m->route_timer)
        m->route_timer = now + m->cfg.route_idle_ms;
    r->next = stage__u64map_get(&m->routes, h);
    if (stage__u64map_put(&m->routes, h, r)) abort();
    m->nroutes++;
    return r;
}

/* Forget r: its pipe is empty and nothing is held. */
static void route_del(stage_mig_t *m, route_t *r) {
    uint64_t h = stage__mig_hash(r->birth);
    route_t *head = stage__u64map_get(&m->routes, h), **pp = &head;
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    if (head)
        stage__u64map_put(&m->routes, h, head); /* replaces: no allocation */
    else
        stage__u64map_take(&m->routes, h);
    m->nroutes--;
    free(r->held.v);
    free(r->bounced.v);
    free(r);
}

/* The route to birth, made (through addr) if there is none. */
static route_t *route_get(stage_mig_t *m, uint64_t now, stage_mig_addr_t birth,
                          stage_mig_addr_t addr) {
    route_t *r = route_find(m, birth);
    return r ? r : route_new(m, now, birth, addr);
}

size_t stage_mig_routes(const stage_mig_t *m) {
    return m->nroutes;
}

/* Item `it` of this place did not get through (err). A message is reported
** failed (its fate may be unknown: never resent); a drain token is sent
** again (harmless twice), unless its actor is lost: then it is answered. */
static void fail_or_retry(stage_mig_t *m, uint64_t now,
                          const stage_mig_item_t *it, int err, bool lost);

/* Report this place's message it failed with err (not a flush). */
static void fail(stage_mig_t *m, const stage_mig_item_t *it, int err) {
    if (it->kind != STAGE_MIG_MSG) return;
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_FAIL);
    fx->item = *it;
    fx->err = err;
    fx->birth = it->birth;
}

/* Send it (this place's) to address `to`, as its first hop. */
static void send_item(stage_mig_t *m, stage_mig_addr_t to,
                      const stage_mig_item_t *it) {
    stage_mig_frame_t f = {.kind = STAGE_MIG_F_ITEM, .to = to, .item = *it};
    f.item.hops = 0;
    stage__mig_send(m, to.place, &f);
}

/* Ask the store for r at `due`. */
static void set_due(stage_mig_t *m, route_t *r, uint64_t due) {
    r->due = due;
    if (due < m->route_timer) m->route_timer = due;
}

/* Ask the store where r's actor is now. */
static void ask_store(stage_mig_t *m, route_t *r) {
    r->due = 0;
    m->st.resolves++;
    stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_RESOLVE);
    fx->birth = r->birth;
}

/* Stop using r's address; the store says where to go. after: the address
** whose pipe must be drained before anything is sent elsewhere. */
static void go_resolving(stage_mig_t *m, uint64_t now, route_t *r,
                         stage_mig_addr_t after, bool later) {
    if (r->state == R_RESOLVING || r->state == R_LOST) return;
    r->state = R_RESOLVING;
    r->after = after;
    r->flush = 0;
    if (later)
        set_due(m, r, now + m->cfg.resolve_retry_ms);
    else
        ask_store(m, r);
}

/* Put r in state (FLUSHING, COLLECTING or AFTER) with a FLUSH through
** `to` that is answered once `after` (if any) is closed. A FLUSH is never
** sent to a place known dead: the store is asked instead. */
static void start_flush(stage_mig_t *m, uint64_t now, route_t *r,
                        stage_mig_addr_t to, stage_mig_addr_t after,
                        int state) {
    if (stage__mig_is_dead(m, to.place)) {
        go_resolving(m, now, r, after.key ? after : to, false);
        return;
    }
    stage_mig_item_t fl = {.kind = STAGE_MIG_FLUSH,
                           .sender = m->cfg.place,
                           .handle = ++m->flushes,
                           .birth = r->birth,
                           .after = after};
    r->state = state;
    r->idle_flush = false;
    r->flush = fl.handle;
    r->to = to;
    m->st.flushes++;
    send_item(m, to, &fl);
}

/* r cannot place its actor any more: every message to it fails with err. */
static void lose(stage_mig_t *m, route_t *r, int err) {
    r->state = R_LOST;
    r->err = err;
    m->st.lost++;
    for (size_t i = 0; i < r->bounced.n; i++)
        fail_or_retry(m, 0, &r->bounced.v[i], err, true);
    for (size_t i = 0; i < r->held.n; i++)
        fail_or_retry(m, 0, &r->held.v[i], err, true);
    r->bounced.n = r->held.n = 0;
}

/* Item `it` of this place for r's actor, in its turn. */
static void route_put(stage_mig_t *m, uint64_t now, route_t *r,
                      const stage_mig_item_t *it) {
    r->used = now;
    r->idle_flush = false; /* something to send: the route stays */
    switch (r->state) {
    case R_DIRECT:
        if (!stage__mig_is_dead(m, r->addr.place)) {
            send_item(m, r->addr, it);
            return;
        }
        go_resolving(m, now, r, r->addr, false);
        stage__mig_ipush(&r->held, it);
        return;
    case R_LOST:
        fail_or_retry(m, now, it, r->err, true);
        return;
    default:
        stage__mig_ipush(&r->held, it);
        return;
    }
}

void stage__mig_send_routed(stage_mig_t *m, uint64_t now,
                            const stage_mig_item_t *item,
                            stage_mig_addr_t via) {
    route_t *r = route_find(m, item->birth);
    if (!r && stage_mig_addr_eq(via, item->birth) &&
        !stage__mig_is_dead(m, via.place)) {
        send_item(m, via, item); /* the fast path */
        return;
    }
    if (!r) {
        /* This place may have sent to the birth address before (the fast
        ** path keeps no trace): that pipe is drained first, through a
        ** FLUSH, and via only tells that the actor moved. */
        r = route_new(m, now, item->birth, item->birth);
        start_flush(m, now, r, r->addr, (stage_mig_addr_t){0}, R_FLUSHING);
    }
    route_put(m, now, r, item);
}

void stage_mig_send(stage_mig_t *m, uint64_t now, const stage_mig_item_t *item,
                    stage_mig_addr_t via) {
    stage__mig_enter(m);
    const stage_mig_actor_t *a;
    if (item->skey && stage__mig_moved_sender(m, item->skey, &a)) {
        if (stage__mig_drain_holds(m, now, a, item)) return;
    }
    stage__mig_send_routed(m, now, item, via);
}

/* See the declaration above. */
static void fail_or_retry(stage_mig_t *m, uint64_t now,
                          const stage_mig_item_t *it, int err, bool lost) {
    if (it->kind == STAGE_MIG_MSG)
        fail(m, it, err);
    else if (it->kind == STAGE_MIG_TOKEN && lost)
        stage__mig_token_reached(m, it); /* nothing will come after all */
    else if (it->kind == STAGE_MIG_TOKEN)
        stage__mig_send_routed(m, now, it, it->birth);
}

/* The FLUSH answered: r's actor is at `at` and everything r sent before is
** in its mailbox. Send the bounced, then the held, to `at`. */
static void switch_to(stage_mig_t *m, uint64_t now, route_t *r,
                      stage_mig_addr_t at) {
    r->addr = at;
    r->state = R_DIRECT;
    if (r->used + m->cfg.route_idle_ms < m->route_timer) /* idle deadline */
        m->route_timer = r->used + m->cfg.route_idle_ms;
    r->flush = 0;
    r->tries = 0;
    ivec_t b = r->bounced, h = r->held;
    r->bounced = r->held = (ivec_t){0};
    for (size_t i = 0; i < b.n; i++)
        route_put(m, now, r, &b.v[i]);
    for (size_t i = 0; i < h.n; i++)
        route_put(m, now, r, &h.v[i]);
    free(b.v);
    free(h.v);
}

/* BOUNCE: an item of this place was not taken where it went. */
static void on_bounce(stage_mig_t *m, uint64_t now,
                      const stage_mig_frame_t *f) {
    const stage_mig_item_t *it = &f->item;
    /* without a route, this place sent through the birth address */
    route_t *r = route_get(m, now, it->birth, it->birth);
    if (it->kind == STAGE_MIG_FLUSH) {
        if (it->handle != r->flush) return; /* an older one */
        if (r->state == R_AFTER) {          /* the store's answer was stale */
            if (++r->tries >= m->cfg.resolve_tries)
                lose(m, r, STAGE_EACTOR_NOT_FOUND);
            else
                go_resolving(m, now, r, r->after, true);
        } else {
            go_resolving(m, now, r, r->addr, false);
        }
        return;
    }
    bool entry = f->from == r->addr.place && stage_mig_addr_eq(f->to, r->addr);
    if (!entry || r->state == R_RESOLVING || r->state == R_AFTER ||
        r->state == R_LOST) {
        /* cut off downstream by a death: resending could overtake */
        fail_or_retry(m, now, it,
                      r->state == R_LOST ? r->err : STAGE_ENODE_DOWN,
                      r->state == R_LOST);
        return;
    }
    stage__mig_ipush(&r->bounced, it);
    if (r->state == R_DIRECT)
        start_flush(m, now, r, r->addr, (stage_mig_addr_t){0}, R_COLLECTING);
    else
        r->state = R_COLLECTING;
}

/* r's FLUSH `handle` was lost with a place: the store says where to go. */
static void on_flush_lost(stage_mig_t *m, uint64_t now, route_t *r,
                          uint64_t handle) {
    if (!r || handle != r->flush) return;
    if (r->state == R_AFTER)
        go_resolving(m, now, r, r->after, false);
    else if (r->state == R_FLUSHING || r->state == R_COLLECTING)
        go_resolving(m, now, r, r->addr, false);
}

void stage__mig_route_frame(stage_mig_t *m, uint64_t now,
                            const stage_mig_frame_t *f) {
    const stage_mig_item_t *it = &f->item;
    route_t *r;
    switch (f->kind) {
    case STAGE_MIG_F_HINT:
        r = route_get(m, now, it->birth, it->birth);
        if (r->state == R_DIRECT && !stage_mig_addr_eq(r->addr, f->at))
            start_flush(m, now, r, r->addr, (stage_mig_addr_t){0}, R_FLUSHING);
        return;
    case STAGE_MIG_F_FLUSHED:
        r = route_find(m, it->birth);
        if (!r || it->handle != r->flush ||
            (r->state != R_FLUSHING && r->state != R_AFTER))
            return;
        if (r->idle_flush) /* nothing was sent since: forget it */
            route_del(m, r);
        else
            switch_to(m, now, r, f->at);
        return;
    case STAGE_MIG_F_BOUNCE:
        on_bounce(m, now, f);
        return;
    case STAGE_MIG_F_FAILED:
        if (it->kind == STAGE_MIG_FLUSH)
            on_flush_lost(m, now, route_find(m, it->birth), it->handle);
        else
            fail_or_retry(m, now, it, f->err, false);
        return;
    case STAGE_MIG_F_DRAIN:
        stage__mig_on_drain(m, now, f);
        return;
    case STAGE_MIG_F_DRAINED:
        stage__mig_on_drained(m, now, it);
        return;
    case STAGE_MIG_F_CALL_AT: {
        stage_mig_fx_t *fx = stage__mig_fx(m, STAGE_MIG_FX_CALL_AT);
        fx->item = *it;
        fx->place = f->at.place;
        fx->from = f->from;
        return;
    }
    default:
        return;
    }
}

void stage__mig_route_undelivered(stage_mig_t *m, uint64_t now, uint32_t to,
                                  const stage_mig_item_t *it) {
    route_t *r = route_find(m, it->birth);
    if (it->kind == STAGE_MIG_FLUSH) {
        on_flush_lost(m, now, r, it->handle);
        return;
    }
    if (r && r->addr.place == to &&
        (r->state == R_DIRECT || r->state == R_FLUSHING ||
         r->state == R_COLLECTING))
        go_resolving(m, now, r, r->addr, false);
    /* a message may or may not have arrived: reported, not resent */
    fail_or_retry(m, now, it, STAGE_ENODE_DOWN, false);
}

void stage_mig_resolved(stage_mig_t *m, uint64_t now, stage_mig_addr_t birth,
                        stage_mig_addr_t addr) {
    stage__mig_enter(m);
    route_t *r = route_find(m, birth);
    if (!r || r->state != R_RESOLVING || r->due) return;
    if (addr.key == 0 || stage__mig_is_dead(m, addr.place)) {
        /* unknown, or at a dead place: the store may lag a move; past the
        ** tries, the actor is lost */
        if (++r->tries >= m->cfg.resolve_tries)
            lose(m, r, addr.key ? STAGE_ENODE_DOWN : STAGE_EACTOR_NOT_FOUND);
        else
            set_due(m, r, now + m->cfg.resolve_retry_ms);
        return;
    }
    start_flush(m, now, r, addr, r->after, R_AFTER);
}

void stage_mig_resolved_gone(stage_mig_t *m, uint64_t now,
                             stage_mig_addr_t birth, int err) {
    (void)now;
    stage__mig_enter(m);
    route_t *r = route_find(m, birth);
    if (r && r->state == R_RESOLVING && !r->due) lose(m, r, err);
}

typedef struct each_ctx {
    stage_mig_t *m;
    uint64_t now;
    uint32_t place;
    route_t **rs;
    size_t n, cap;
} each_ctx_t;

/* u64map_each callback: every route into an each_ctx_t. */
static void collect(uint64_t key, void *val, void *ud) {
    (void)key;
    each_ctx_t *c = ud;
    for (route_t *r = val; r; r = r->next) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->rs = realloc(c->rs, c->cap * sizeof *c->rs);
            if (!c->rs) abort();
        }
        c->rs[c->n++] = r;
    }
}

void stage__mig_route_dead(stage_mig_t *m, uint64_t now, uint32_t place) {
    each_ctx_t c = {.m = m, .now = now, .place = place};
    stage__u64map_each(&m->routes, collect, &c);
    for (size_t i = 0; i < c.n; i++) {
        route_t *r = c.rs[i];
        if ((r->state == R_DIRECT || r->state == R_FLUSHING ||
             r->state == R_COLLECTING) &&
            r->addr.place == place)
            go_resolving(m, now, r, r->addr, false);
        else if (r->state == R_AFTER && r->to.place == place)
            go_resolving(m, now, r, r->after, false);
        /* The FLUSH out may have died with that place further down its
        ** path, taken and never answered: send another (the first one's
        ** answer, if it comes, is ignored). Nothing sent after it passes
        ** through a place known dead, so this one is answered or bounced. */
        else if (r->state == R_FLUSHING || r->state == R_COLLECTING)
            start_flush(m, now, r, r->addr, (stage_mig_addr_t){0}, r->state);
        else if (r->state == R_AFTER)
            start_flush(m, now, r, r->to, r->after, R_AFTER);
    }
    free(c.rs);
}

/* Routes whose store question is due are asked; routes unused for
** route_idle_ms flush to be forgotten. Scans the routes only when the
** earliest deadline (kept as a lower bound) has come. */
void stage__mig_route_tick(stage_mig_t *m, uint64_t now) {
    if (now < m->route_timer) return;
    each_ctx_t c = {.m = m};
    stage__u64map_each(&m->routes, collect, &c);
    uint64_t next = UINT64_MAX, idle = m->cfg.route_idle_ms;
    for (size_t i = 0; i < c.n; i++) {
        route_t *r = c.rs[i];
        if (r->state == R_RESOLVING && r->due && r->due <= now) {
            ask_store(m, r);
        } else if (r->state == R_DIRECT && r->used + idle <= now) {
            start_flush(m, now, r, r->addr, (stage_mig_addr_t){0}, R_FLUSHING);
            r->idle_flush = r->state == R_FLUSHING;
        }
        if (r->state == R_RESOLVING && r->due && r->due < next) next = r->due;
        if (r->state == R_DIRECT && r->used + idle < next)
            next = r->used + idle;
    }
    free(c.rs);
    m->route_timer = next; /* lowered again as deadlines appear */
}

uint64_t stage__mig_route_next(const stage_mig_t *m) {
    return m->route_timer;
}

/* u64map_each callback: free a chain of routes. */
static void free_chain(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (route_t *r = val, *nx; r; r = nx) {
        nx = r->next;
        free(r->held.v);
        free(r->bounced.v);
        free(r);
    }
}

void stage__mig_route_free(stage_mig_t *m) {
    stage__mig_drains_free(m);
    stage__u64map_each(&m->routes, free_chain, NULL);
    stage__u64map_free(&m->routes);
}
