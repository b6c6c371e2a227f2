/*
** core/monitor.c: monitors (core/monitor.h) — the watcher's side (its
** monitors, their turns), the target's side (the watches on its actors,
** the DOWNs they become) and the node events the network reports.
**
** Each theatre keeps its part in a stage__monitors_t made on first use:
**   held      monitor id -> stage__monitor_t (its watchers' monitors)
**   watchers  watcher serial -> mlist_t (its monitors, doubly linked)
**   watched   target serial -> wlist_t (the watches on it)
**   reasons   serial -> reason_t (an actor stopping with a failure)
** Theatre thread only. Everything another theatre or the network asks of
** a theatre comes as an ENV_CALL for the theatre (target 0) on its inbox,
** in the order asked, so a watch asked for and then cancelled is added
** and then removed, whatever the threads.
**
** A DOWN (downmsg_t) goes to the theatre named by its monitor id's low
** bits, which checks it against the monitor (still set, same target) and
** queues the turn in the watcher's mailbox; the turn looks the monitor up
** again, so a cancel in between wins. The first DOWN of a monitor wins
** (state MON_DOWN); any later one is ignored.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/future.h"
#include "core/monitor.h"
#include "core/move.h"
#include "core/netif.h"
#include "core/node.h"
#include "core/theatre.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/u64map.h"

#define THEATRE_MASK ((1u << STAGE_THEATRE_BITS) - 1)
/* Watches for other nodes' monitors one theatre keeps at most: a peer
** that floods MONITOR frames is refused (Busy) instead of growing us. */
#define REMOTE_WATCHES_MAX (1u << 20)
/* The longest reason text a DOWN carries (longer ones are cut). */
#define DOWN_MESSAGE_MAX 4096

enum { MON_DOWN = 3 }; /* a DOWN is queued: the target side is done */

/* A watch on an actor of this theatre. */
typedef struct watch {
    struct watch *next;
    uint64_t mon;
    bool remote;
    uint32_t inc;              /* remote: the watcher's node incarnation */
    char node[STAGE_ADDR_MAX]; /* remote: its address */
} watch_t;

typedef struct wlist {
    watch_t *first;
} wlist_t;

typedef struct mlist {
    stage__monitor_t *first;
} mlist_t;

typedef struct reason {
    int code;
    char message[];
} reason_t;

struct stage__monitors {
    uint64_t counter; /* ids given out: counter << 8 | theatre */
    stage_u64map_t held, watchers, watched, reasons;
    /* ids given out here whose monitor left with its watcher (a C actor
    ** that moved, stage__monitors_take_own): id -> the watcher's serial,
    ** until it comes back or is forgotten; a DOWN for it is sent on */
    stage_u64map_t away;
    size_t nremote; /* remote watches in watched */
};

/* What travels to a theatre: a DOWN for monitor mon (about actor serial,
** from node `node` when remote), or a node event (kind MON_NODE_*). */
typedef struct downmsg {
    uint64_t mon;
    uint64_t serial;
    uint64_t watcher; /* sent on to a watcher that moved: its serial */
    int kind;
    int reason;
    bool remote;
    uint32_t inc, up_inc;      /* node events */
    char node[STAGE_ADDR_MAX]; /* the DOWN's sender, or the node's */
    char message[];
} downmsg_t;

/* A watch to add or remove on the theatre of target. */
typedef struct watchreq {
    stage_id_t target;
    uint64_t mon;
    bool remote, unwatch;
    uint32_t inc;
    char node[STAGE_ADDR_MAX];
} watchreq_t;

/* ---- state ---------------------------------------------------------------
 */

static stage__monitors_t *state_of(stage__theatre_t *t) {
    if (!t->monitors) t->monitors = stage__calloc(1, sizeof *t->monitors);
    return t->monitors;
}

static downmsg_t *downmsg_new(const char *message) {
    size_t n = message ? strnlen(message, DOWN_MESSAGE_MAX - 1) : 0;
    downmsg_t *d = stage__calloc(1, sizeof *d + n + 1);
    if (d && n) memcpy(d->message, message, n);
    return d;
}

/* Post call(t, NULL, e) with arg to theatre t; drop releases arg if it
** never runs. 0 or STAGE_ENOMEM. Always through t's inbox, even from t's
** own thread: what was queued there first runs first. (A spawn from
** outside waits in the inbox; a watch for the new actor that came in from
** the network on the theatre that polls the network must not overtake it
** and find no actor.) */
static int to_theatre(stage__theatre_t *t, stage__call_fn call,
                      stage__call_fn drop, void *arg) {
    stage__env_t *e = stage__env_call(call, drop, arg);
    if (!e) return STAGE_ENOMEM;
    stage__theatre_post(t, e);
    return 0;
}

/* A call's payload, freed with its envelope. */
static void free_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    stage__free(e->arg);
    stage__env_free(e);
}

/* ---- the watcher's side ------------------------------------------------- */

static stage__monitor_t *monitor_new(stage__theatre_t *t, stage__actor_t *a,
                                     int kind, stage__monitor_fn fn,
                                     void (*drop)(stage__monitor_t *),
                                     void *arg) {
    stage__monitors_t *ms = state_of(t);
    stage__monitor_t *m = ms ? stage__calloc(1, sizeof *m) : NULL;
    if (!m) return NULL;
    mlist_t *l = stage__u64map_get(&ms->watchers, a->serial);
    bool new_list = !l;
    if (new_list && (!(l = stage__calloc(1, sizeof *l)) ||
                     stage__u64map_put(&ms->watchers, a->serial, l)))
        goto nomem;
    m->id = ++ms->counter << STAGE_THEATRE_BITS | (uint64_t)t->index;
    if (stage__u64map_put(&ms->held, m->id, m)) {
        if (new_list) stage__u64map_take(&ms->watchers, a->serial);
        goto nomem;
    }
    m->watcher = a->serial;
    m->kind = kind;
    m->state = MON_SET;
    m->fn = fn;
    m->drop = drop;
    m->arg = arg;
    if ((m->next = l->first)) m->next->prev = m;
    l->first = m;
    return m;
nomem:
    if (new_list) stage__free(l);
    stage__free(m);
    return NULL;
}

/* Take m out of ms's maps (it stays allocated). */
static void forget(stage__monitors_t *ms, stage__monitor_t *m) {
    stage__u64map_take(&ms->held, m->id);
    if (m->prev) {
        m->prev->next = m->next;
    } else {
        mlist_t *l = stage__u64map_get(&ms->watchers, m->watcher);
        if (l && !(l->first = m->next)) {
            stage__u64map_take(&ms->watchers, m->watcher);
            stage__free(l);
        }
    }
    if (m->next) m->next->prev = m->prev;
    m->prev = m->next = NULL;
}

static void unaway_call(stage__theatre_t *t, stage__actor_t *a,
                        stage__env_t *e) {
    (void)a;
    if (t->monitors) stage__u64map_take(&t->monitors->away, e->sender);
    stage__env_free(e);
}

/* m, forgotten at t, was given out by another theatre (its watcher moved
** here): that theatre no longer sends DOWNs for it on. */
static void forgotten(stage__theatre_t *t, const stage__monitor_t *m) {
    int origin = (int)(m->id & THEATRE_MASK);
    if (origin == t->index) return;
    stage__env_t *e = stage__env_call(unaway_call, NULL, NULL);
    if (!e) return;    /* an entry stays there until the node stops */
    e->sender = m->id; /* a theatre call: target stays 0 */
    stage__theatre_post(stage__node_theatre(t->node, origin), e);
}

static void monitor_free(stage__monitor_t *m) {
    if (m->lookup) stage__future_unref(m->lookup);
    if (m->drop) m->drop(m);
    stage__free(m);
}

/* The turn of a DOWN or node event in the watcher's mailbox: run the
** monitor's function unless it was cancelled since. Owns e and its d. */
static void turn_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    downmsg_t *d = e->arg;
    stage__monitors_t *ms = t->monitors;
    stage__monitor_t *m = ms ? stage__u64map_get(&ms->held, d->mon) : NULL;
    if (m && a && m->watcher == a->serial) {
        stage__down_t info = {.reason = d->reason,
                              .message = d->reason ? d->message : NULL,
                              .address = d->node,
                              .incarnation = d->inc};
        if (m->kind == MON_ACTOR) {
            forget(ms, m); /* once: fn may not cancel it any more */
            forgotten(t, m);
            info.target = &m->target;
            m->fn(t, a, m, &info);
            monitor_free(m);
        } else {
            m->fn(t, a, m, &info); /* m may be cancelled in there */
        }
    }
    free_call(t, a, e);
}

/* Queue d as a turn of m's watcher (t's thread). Takes d. */
static void queue_turn(stage__theatre_t *t, stage__monitor_t *m, downmsg_t *d) {
    stage__actor_t *a = stage__actor_find(t, m->watcher);
    stage__env_t *e = a ? stage__env_call(turn_call, free_call, d) : NULL;
    if (!e) {
        if (a)
            LOG_ERROR("theatre %d: out of memory: monitor %" PRIx64
                      " does not fire",
                      t->index, m->id);
        stage__free(d);
        return;
    }
    if (m->kind == MON_ACTOR) m->state = MON_DOWN;
    d->mon = m->id;
    e->target = a->serial;
    e->target_type = a->type;
    stage__actor_enqueue(t, a, e);
}

/* Fire actor monitor m now with code and msg (t's thread). */
static void fire_now(stage__theatre_t *t, stage__monitor_t *m, int code,
                     const char *msg) {
    downmsg_t *d = downmsg_new(msg);
    if (!d) {
        LOG_ERROR("theatre %d: out of memory: monitor %" PRIx64
                  " does not fire",
                  t->index, m->id);
        return;
    }
    d->kind = MON_ACTOR;
    d->reason = code;
    queue_turn(t, m, d);
}

static int follow_down(stage__theatre_t *t, downmsg_t *d);

/* A DOWN reached the watcher's theatre t: check it against its monitor
** and queue the turn (or send it after a watcher that moved). Takes d. */
static void down_here(stage__theatre_t *t, downmsg_t *d) {
    stage__monitors_t *ms = t->monitors;
    stage__monitor_t *m = ms ? stage__u64map_get(&ms->held, d->mon) : NULL;
    if (!m && ms && !d->watcher)
        d->watcher = (uint64_t)(uintptr_t)stage__u64map_take(&ms->away, d->mon);
    if (!m && d->watcher && follow_down(t, d)) return; /* it moved */
    if (!m || m->state != MON_SET) { /* cancelled, or a DOWN came first */
        LOG_DEBUG("a DOWN for monitor %" PRIx64 " from '%s' found it gone "
                  "(cancelled, fired, or its actor stopped)",
                  d->mon, d->remote ? d->node : "this node");
        stage__free(d);
        return;
    }
    bool same = m->kind == MON_ACTOR && m->target.serial == d->serial &&
                (d->remote ? !strcmp(m->target.node, d->node)
                           : stage__id_is_local(t->node, &m->target));
    if (!same) {
        LOG_WARN("dropped a DOWN for monitor %" PRIx64 " from '%s': that "
                 "monitor watches another actor",
                 d->mon, d->remote ? d->node : "this node");
        stage__free(d);
        return;
    }
    queue_turn(t, m, d);
}

static void down_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    down_here(t, e->arg);
    stage__env_free(e);
}

/* DOWN d is for a monitor whose watcher (d->watcher) moved: send it after
** the watcher, through its birth theatre, as its messages go (core/move.h).
** 1 if it went (then e owns d), 0 if the watcher is not to be found. */
static int follow_down(stage__theatre_t *t, downmsg_t *d) {
    stage__env_t *e = stage__env_call(down_call, free_call, d);
    if (!e) {
        LOG_ERROR("theatre %d: out of memory: a DOWN for monitor %" PRIx64
                  " is lost",
                  t->index, d->mon);
        return 0;
    }
    if (stage__move_follow(t, d->watcher, e)) return 1;
    e->arg = NULL;
    stage__env_free(e);
    return 0;
}

/* Send DOWN d to the theatre of its monitor. Takes d. */
static void post_down(stage_node_t *node, downmsg_t *d) {
    stage__theatre_t *t =
        stage__node_theatre(node, (int)(d->mon & THEATRE_MASK));
    if (!t || to_theatre(t, down_call, free_call, d)) {
        if (t)
            LOG_ERROR("out of memory: a DOWN for monitor %" PRIx64 " is lost",
                      d->mon);
        stage__free(d);
    }
}

/* ---- the target's side -------------------------------------------------- */

/* Answer watch request r with a DOWN of code and msg, to the node or the
** theatre of its monitor. */
static void refuse(stage_node_t *node, const watchreq_t *r, int code,
                   const char *msg) {
    if (r->remote) {
        if (node->net_hooks.down)
            node->net_hooks.down(node, r->node, r->mon, r->target.serial, code,
                                 msg);
        return;
    }
    downmsg_t *d = downmsg_new(msg);
    if (!d) {
        LOG_ERROR("out of memory: a DOWN for monitor %" PRIx64 " is lost",
                  r->mon);
        return;
    }
    d->mon = r->mon;
    d->serial = r->target.serial;
    d->kind = MON_ACTOR;
    d->reason = code;
    post_down(node, d);
}

static void refuse_not_found(stage_node_t *node, const watchreq_t *r) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 80];
    stage_id_format(&r->target, id, sizeof id);
    snprintf(msg, sizeof msg,
             "actor '%s' not found (it stopped or never existed)", id);
    refuse(node, r, STAGE_EACTOR_NOT_FOUND, msg);
}

static bool watch_is(const watch_t *w, const watchreq_t *r) {
    return w->mon == r->mon && w->remote == r->remote &&
           (!r->remote || !strcmp(w->node, r->node));
}

static void send_req(stage_node_t *node, watchreq_t *r);
static void post_req(stage_node_t *node, int where, watchreq_t *r);

/* Add the watch r asks for on t, where its target lives (or lived). */
static void watch_here(stage__theatre_t *t, watchreq_t *r) {
    stage__actor_t *a = stage__actor_find(t, r->target.serial);
    if (a && (a->flags & ACTOR_LEAVING)) a = NULL; /* cannot happen: held */
    int moved = a ? -1 : stage__shared_lookup(t->node, r->target.serial);
    if (!a && moved >= 0 && moved != t->index) {
        post_req(t->node, moved, r); /* it lives elsewhere now */
        return;
    }
    stage__monitors_t *ms = a ? state_of(t) : NULL;
    if (!a) {
        refuse_not_found(t->node, r);
        return;
    }
    if (r->remote && ms && ms->nremote >= REMOTE_WATCHES_MAX) {
        char msg[STAGE_ADDR_MAX + 160];
        snprintf(msg, sizeof msg,
                 "node '%s' keeps too many watches for other nodes' "
                 "monitors (%u on theatre %d): try again later",
                 stage__node_address(t->node), REMOTE_WATCHES_MAX, t->index);
        refuse(t->node, r, STAGE_EBUSY, msg);
        return;
    }
    wlist_t *l = ms ? stage__u64map_get(&ms->watched, a->serial) : NULL;
    for (watch_t *w = l ? l->first : NULL; w; w = w->next)
        if (watch_is(w, r)) return; /* the same monitor twice */
    watch_t *w = ms ? stage__calloc(1, sizeof *w) : NULL;
    bool new_list = !l;
    if (w && new_list &&
        (!(l = stage__calloc(1, sizeof *l)) ||
         stage__u64map_put(&ms->watched, a->serial, l))) {
        stage__free(l);
        stage__free(w);
        w = NULL;
    }
    if (!w) {
        refuse(t->node, r, STAGE_ENOMEM, "out of memory watching the actor");
        return;
    }
    w->mon = r->mon;
    w->remote = r->remote;
    w->inc = r->inc;
    memcpy(w->node, r->node, sizeof w->node);
    w->next = l->first;
    l->first = w;
    if (w->remote) ms->nremote++;
}

/* Remove the watch r names from t (nothing if it is not there). */
static void unwatch_here(stage__theatre_t *t, const watchreq_t *r) {
    stage__monitors_t *ms = t->monitors;
    wlist_t *l = ms ? stage__u64map_get(&ms->watched, r->target.serial) : NULL;
    for (watch_t **pw = l ? &l->first : NULL; pw && *pw; pw = &(*pw)->next) {
        watch_t *w = *pw;
        if (!watch_is(w, r)) continue;
        *pw = w->next;
        if (w->remote) ms->nremote--;
        stage__free(w);
        break;
    }
    if (l && !l->first) {
        stage__u64map_take(&ms->watched, r->target.serial);
        stage__free(l);
    }
}

static void req_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    watchreq_t *r = e->arg;
    stage__actor_t *x = stage__actor_find(t, r->target.serial);
    /* not here, or on its way out: the request follows it as its messages
    ** do, through its birth theatre (core/move.h) */
    bool home = stage__serial_theatre(r->target.serial) == t->index;
    if (((!x && home) || (x && (x->flags & ACTOR_LEAVING))) &&
        stage__move_follow(t, r->target.serial, e))
        return;
    if (r->unwatch)
        unwatch_here(t, r);
    else
        watch_here(t, r);
    free_call(t, a, e);
}

/* Carry r (a copy) to its target's birth theatre, which sends it on to
** where the target is, behind the messages it sent there, or holds it
** while the target moves (core/move.h): watch and unwatch of one monitor
** take one path, in order, wherever the target goes. */
static void send_req(stage_node_t *node, watchreq_t *r) {
    post_req(node, stage__serial_theatre(r->target.serial), r);
}

/* Carry r (a copy) to theatre where. */
static void post_req(stage_node_t *node, int where, watchreq_t *r) {
    stage__theatre_t *t = stage__node_theatre(node, where);
    if (!t) {
        if (!r->unwatch) refuse_not_found(node, r);
        return;
    }
    watchreq_t *copy = stage__malloc(sizeof *copy);
    if (copy) *copy = *r;
    if (!copy || to_theatre(t, req_call, free_call, copy)) {
        stage__free(copy);
        if (!r->unwatch)
            refuse(node, r, STAGE_ENOMEM, "out of memory watching the actor");
    }
}

/* Ask the target's side of actor monitor m for its watch (on) or to drop
** it. t is m's theatre (its thread). */
static void tell_target(stage__theatre_t *t, stage__monitor_t *m, bool on) {
    stage_node_t *node = t->node;
    if (!stage__id_is_local(node, &m->target)) {
        if (node->net_hooks.monitor)
            node->net_hooks.monitor(node, &m->target, m->id, on);
        return;
    }
    watchreq_t r = {.target = m->target, .mon = m->id, .unwatch = !on};
    send_req(node, &r);
}

/* Start actor monitor m, SET with its target (t's thread). */
static void start(stage__theatre_t *t, stage__monitor_t *m) {
    stage_node_t *node = t->node;
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 160];
    stage_id_format(&m->target, id, sizeof id);
    const stage_id_t *to = &m->target;
    if (stage__id_is_stale(node, to)) {
        snprintf(msg, sizeof msg,
                 "actor '%s' not found: it belonged to an earlier run of this "
                 "node (this run is incarnation %" PRIx32 ")",
                 id, stage__node_incarnation(node));
        fire_now(t, m, STAGE_EACTOR_NOT_FOUND, msg);
    } else if (stage__id_is_local(node, to) &&
               (!stage__type_find(node, to->type) ||
                stage__serial_theatre(to->serial) != to->theatre ||
                !stage__node_theatre(node, to->theatre))) {
        snprintf(msg, sizeof msg, "actor '%s' not found (it never existed)",
                 id);
        fire_now(t, m, STAGE_EACTOR_NOT_FOUND, msg);
    } else if (!stage__id_is_local(node, to) && !node->net_hooks.monitor) {
        snprintf(msg, sizeof msg,
                 "actor '%s' is on node '%s', and this node is not connected "
                 "to others (start it with stage node)",
                 id, to->node);
        fire_now(t, m, STAGE_EUNREACHABLE, msg);
    } else {
        tell_target(t, m, true);
    }
}

/* ---- far monitors: waiting for a lookup --------------------------------- */

/* Monitor id's lookup is done: start it or fire it (its theatre t). */
static void far_settle(stage__theatre_t *t, uint64_t id) {
    stage__monitors_t *ms = t->monitors;
    stage__monitor_t *m = ms ? stage__u64map_get(&ms->held, id) : NULL;
    if (!m || m->state != MON_PENDING) return;
    stage__future_t *f = m->lookup;
    m->lookup = NULL;
    m->state = MON_SET;
    f->observed = true; /* the monitor reports a failure */
    stage_unpack_t u;
    stage_unpack_init(&u, f->data, f->len);
    if (f->status)
        fire_now(t, m, f->status,
                 f->message ? f->message : stage_strerror(f->status));
    else if (stage_unpack_id(&u, &m->target))
        fire_now(t, m, STAGE_EDECODE, "the lookup gave no actor id");
    else
        start(t, m);
    stage__future_unref(f);
}

static void far_call(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    far_settle(t, (uint64_t)(uintptr_t)e->arg);
    stage__env_free(e);
}

static void far_call_drop(stage__theatre_t *t, stage__actor_t *a,
                          stage__env_t *e) {
    (void)t;
    (void)a;
    stage__env_free(e);
}

/* The lookup's continuation, on its owner theatre (NULL: never). */
static void far_done(stage__theatre_t *t, stage__future_t *f, void *arg) {
    (void)f;
    if (!t) return;
    uint64_t id = (uint64_t)(uintptr_t)arg;
    stage__theatre_t *mt =
        stage__node_theatre(t->node, (int)(id & THEATRE_MASK));
    if (mt && to_theatre(mt, far_call, far_call_drop, arg))
        LOG_ERROR("out of memory: monitor %" PRIx64 " never starts", id);
}

/* ---- the calls ------------------------------------------------------------
 */

stage__monitor_t *stage__monitor_actor(stage__theatre_t *t, stage__actor_t *a,
                                       const stage_id_t *target,
                                       stage__monitor_fn fn,
                                       void (*drop)(stage__monitor_t *),
                                       void *arg) {
    stage__monitor_t *m = monitor_new(t, a, MON_ACTOR, fn, drop, arg);
    if (!m) return NULL;
    m->target = *target;
    start(t, m);
    return m;
}

stage__monitor_t *stage__monitor_far(stage__theatre_t *t, stage__actor_t *a,
                                     stage__future_t *lookup,
                                     stage__monitor_fn fn,
                                     void (*drop)(stage__monitor_t *),
                                     void *arg) {
    stage__monitor_t *m = monitor_new(t, a, MON_ACTOR, fn, drop, arg);
    if (!m) return NULL;
    m->state = MON_PENDING;
    stage__future_ref(lookup);
    m->lookup = lookup;
    if (stage__future_done(lookup)) {
        far_settle(t, m->id);
    } else if (stage__future_on_any(lookup, far_done,
                                    (void *)(uintptr_t)m->id)) {
        m->drop = NULL; /* the caller keeps arg: nothing was set */
        forget(t->monitors, m);
        monitor_free(m);
        return NULL;
    }
    return m;
}

stage__monitor_t *stage__monitor_node(stage__theatre_t *t, stage__actor_t *a,
                                      int kind, stage__monitor_fn fn,
                                      void (*drop)(stage__monitor_t *),
                                      void *arg) {
    return monitor_new(t, a, kind, fn, drop, arg);
}

/* Forget m and tell its target's side, unless a DOWN is already on its way
** or quiet (the node stops: every side goes). */
static void release(stage__theatre_t *t, stage__monitor_t *m, bool quiet) {
    forget(t->monitors, m);
    if (!quiet) forgotten(t, m);
    if (!quiet && m->kind == MON_ACTOR && m->state == MON_SET)
        tell_target(t, m, false);
    monitor_free(m);
}

int stage__monitor_cancel(stage__theatre_t *t, stage__actor_t *a, uint64_t id) {
    stage__monitors_t *ms = t->monitors;
    stage__monitor_t *m = ms ? stage__u64map_get(&ms->held, id) : NULL;
    if (m) {
        if (m->watcher != a->serial) return STAGE_EINVAL;
        release(t, m, false);
        return 0;
    }
    bool here = (id & THEATRE_MASK) == (uint64_t)t->index;
    /* given out elsewhere: it may have come along with an actor that
    ** moved here, and fired or been cancelled since */
    if (!here && (a->flags & ACTOR_MOVED) &&
        stage__node_theatre(t->node, (int)(id & THEATRE_MASK)) &&
        (id >> STAGE_THEATRE_BITS))
        return 0;
    if (!here || !ms || (id >> STAGE_THEATRE_BITS) == 0 ||
        (id >> STAGE_THEATRE_BITS) > ms->counter)
        return STAGE_EINVAL;
    return 0; /* fired, or cancelled */
}

void stage__actor_fail(stage__theatre_t *t, stage__actor_t *a, int code,
                       const char *message) {
    a->flags |= ACTOR_STOPPING;
    stage__monitors_t *ms = state_of(t);
    if (ms && stage__u64map_get(&ms->reasons, a->serial)) return;
    if (!message) message = "";
    size_t n = strnlen(message, DOWN_MESSAGE_MAX - 1);
    reason_t *r = ms ? stage__malloc(sizeof *r + n + 1) : NULL;
    if (r) {
        r->code = code;
        memcpy(r->message, message, n);
        r->message[n] = 0;
    }
    if (!r || stage__u64map_put(&ms->reasons, a->serial, r)) {
        stage__free(r);
        LOG_ERROR("theatre %d: out of memory: the watchers of an actor will "
                  "see it stop without its failure",
                  t->index);
    }
}

/* ---- an actor stops ------------------------------------------------------ */

/* Tell the watches of a (taken from ms) that it stopped. */
static void tell_watchers(stage__theatre_t *t, stage__actor_t *a, wlist_t *l,
                          const reason_t *r) {
    stage_node_t *node = t->node;
    bool stopping = stage__node_stopping(node);
    int code = r ? r->code : stopping ? STAGE_ESTOPPED : 0;
    char msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 64];
    const char *text = r ? r->message : "";
    if (!r && stopping) {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_t self;
        stage__make_id(node, a->serial, a->type, &self);
        stage_id_format(&self, id, sizeof id);
        snprintf(msg, sizeof msg, "actor '%s' stopped with its node '%s'", id,
                 stage__node_address(node));
        text = msg;
    }
    for (watch_t *w = l->first, *next; w; w = next) {
        next = w->next;
        if (w->remote) {
            t->monitors->nremote--;
            if (node->net_hooks.down)
                node->net_hooks.down(node, w->node, w->mon, a->serial, code,
                                     text);
        } else if (!stopping) { /* else no turn of the watcher runs again */
            downmsg_t *d = downmsg_new(text);
            if (d) {
                d->mon = w->mon;
                d->serial = a->serial;
                d->kind = MON_ACTOR;
                d->reason = code;
                post_down(node, d);
            } else {
                LOG_ERROR("out of memory: a DOWN for monitor %" PRIx64
                          " is lost",
                          w->mon);
            }
        }
        stage__free(w);
    }
    stage__free(l);
}

void stage__monitors_actor_gone(stage__theatre_t *t, stage__actor_t *a) {
    stage__monitors_t *ms = t->monitors;
    if (!ms) return;
    reason_t *r = stage__u64map_take(&ms->reasons, a->serial);
    wlist_t *l = stage__u64map_take(&ms->watched, a->serial);
    if (l) tell_watchers(t, a, l, r);
    stage__free(r);
    mlist_t *own = stage__u64map_get(&ms->watchers, a->serial);
    bool quiet = stage__node_stopping(t->node);
    while (own && own->first) { /* the last release frees own */
        stage__monitor_t *m = own->first;
        own = m->next ? own : NULL;
        release(t, m, quiet);
    }
}

/* ---- an actor moves --------------------------------------------------- */

void *stage__monitors_take_watches(stage__theatre_t *t, uint64_t serial) {
    stage__monitors_t *ms = t->monitors;
    wlist_t *l = ms ? stage__u64map_take(&ms->watched, serial) : NULL;
    for (watch_t *w = l ? l->first : NULL; w; w = w->next)
        if (w->remote) ms->nremote--;
    return l;
}

void stage__monitors_give_watches(stage__theatre_t *t, stage__actor_t *a,
                                  void *watches) {
    wlist_t *l = watches;
    if (!l) return;
    stage__monitors_t *ms = state_of(t);
    if (ms && !stage__u64map_get(&ms->watched, a->serial) &&
        !stage__u64map_put(&ms->watched, a->serial, l)) {
        for (watch_t *w = l->first; w; w = w->next)
            if (w->remote) ms->nremote++;
        return;
    }
    /* no memory (or, which cannot happen, watches here already): the
    ** watchers hear that they lost it, rather than nothing ever */
    static const char why[] = "out of memory keeping the watch on the actor "
                              "as it moved: it is no longer watched";
    reason_t *r = stage__malloc(sizeof *r + sizeof why);
    if (r) {
        r->code = STAGE_ENOMEM;
        memcpy(r->message, why, sizeof why);
    }
    LOG_ERROR("theatre %d: %s", t->index, why);
    if (ms) {
        for (watch_t *w = l->first; w; w = w->next)
            if (w->remote) ms->nremote++; /* tell_watchers counts them off */
        tell_watchers(t, a, l, r);
    } else {
        stage__monitors_drop_watches(l);
    }
    stage__free(r);
}

void stage__monitors_drop_watches(void *watches) {
    wlist_t *l = watches;
    for (watch_t *w = l ? l->first : NULL, *next; w; w = next) {
        next = w->next;
        stage__free(w);
    }
    stage__free(l);
}

void *stage__monitors_take_own(stage__theatre_t *t, uint64_t serial) {
    stage__monitors_t *ms = t->monitors;
    mlist_t *l = ms ? stage__u64map_take(&ms->watchers, serial) : NULL;
    for (stage__monitor_t *m = l ? l->first : NULL; m; m = m->next) {
        stage__u64map_take(&ms->held, m->id);
        if ((m->id & THEATRE_MASK) == (uint64_t)t->index &&
            stage__u64map_put(&ms->away, m->id, (void *)(uintptr_t)serial))
            LOG_ERROR("theatre %d: out of memory: a DOWN for monitor %" PRIx64
                      " of an actor that moved will not reach it",
                      t->index, m->id);
    }
    return l;
}

void stage__monitors_give_own(stage__theatre_t *t, stage__actor_t *a,
                              void *own) {
    mlist_t *l = own;
    if (!l) return;
    stage__monitors_t *ms = state_of(t);
    bool ok = ms && !stage__u64map_put(&ms->watchers, a->serial, l);
    for (stage__monitor_t *m = l->first, *next; m; m = next) {
        next = m->next;
        if (ok && !stage__u64map_put(&ms->held, m->id, m)) {
            if ((m->id & THEATRE_MASK) == (uint64_t)t->index)
                stage__u64map_take(&ms->away, m->id); /* back home */
            continue;
        }
        LOG_ERROR("theatre %d: out of memory: monitor %" PRIx64 " of an "
                  "actor that moved here is cancelled",
                  t->index, m->id);
        if (m->prev) m->prev->next = m->next;
        if (m->next) m->next->prev = m->prev;
        if (l->first == m) l->first = m->next;
        m->prev = m->next = NULL;
        if (m->kind == MON_ACTOR && m->state == MON_SET)
            tell_target(t, m, false);
        forgotten(t, m);
        monitor_free(m);
    }
    if (!ok) {
        stage__free(l);
    } else if (!l->first) {
        stage__u64map_take(&ms->watchers, a->serial);
        stage__free(l);
    }
}

void stage__monitors_drop_own(void *own) {
    mlist_t *l = own;
    for (stage__monitor_t *m = l ? l->first : NULL, *next; m; m = next) {
        next = m->next;
        monitor_free(m);
    }
    stage__free(l);
}

int stage__monitors_bind(stage__theatre_t *t, uint64_t serial) {
    stage__monitors_t *ms = t->monitors;
    if (!ms) return 0;
    mlist_t *own = stage__u64map_get(&ms->watchers, serial);
    wlist_t *on = stage__u64map_get(&ms->watched, serial);
    int bind = 0;
    for (stage__monitor_t *m = own ? own->first : NULL; m; m = m->next)
        /* a NodeDown is told to every theatre at once: a monitor of an
        ** actor of another node could miss it on its way */
        if (!m->travels || m->kind != MON_ACTOR || m->state != MON_SET ||
            !stage__id_is_local(t->node, &m->target))
            bind |= STAGE__MON_OWN;
        else
            bind |= STAGE__MON_OWN_TRAVELS;
    if ((on && on->first) || stage__u64map_get(&ms->reasons, serial))
        bind |= STAGE__MON_WATCHED;
    return bind;
}

static void free_entry(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

static void free_watches(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    wlist_t *l = val;
    for (watch_t *w = l->first, *next; w; w = next) {
        next = w->next;
        stage__free(w);
    }
    stage__free(l);
}

static void free_held(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    monitor_free(val);
}

void stage__monitors_free(stage__theatre_t *t) {
    stage__monitors_t *ms = t->monitors;
    if (!ms) return;
    stage__u64map_each(&ms->held, free_held, NULL);
    stage__u64map_each(&ms->watchers, free_entry, NULL);
    stage__u64map_each(&ms->watched, free_watches, NULL);
    stage__u64map_each(&ms->reasons, free_entry, NULL);
    stage__u64map_free(&ms->away); /* serials, nothing to free */
    stage__u64map_free(&ms->held);
    stage__u64map_free(&ms->watchers);
    stage__u64map_free(&ms->watched);
    stage__u64map_free(&ms->reasons);
    stage__free(ms);
    t->monitors = NULL;
}

/* ---- from the network ----------------------------------------------------
 */

void stage__monitor_remote_watch(stage_node_t *node, const stage_id_t *target,
                                 const char *peer, uint32_t peer_inc,
                                 uint64_t mon) {
    watchreq_t r = {
        .target = *target, .mon = mon, .remote = true, .inc = peer_inc};
    snprintf(r.node, sizeof r.node, "%s", peer);
    send_req(node, &r);
}

void stage__monitor_remote_unwatch(stage_node_t *node, const stage_id_t *target,
                                   const char *peer, uint64_t mon) {
    watchreq_t r = {
        .target = *target, .mon = mon, .remote = true, .unwatch = true};
    snprintf(r.node, sizeof r.node, "%s", peer);
    send_req(node, &r);
}

int stage__monitor_remote_down(stage_node_t *node, const char *peer,
                               uint64_t mon, uint64_t serial, int reason,
                               const char *message) {
    if (!stage__node_theatre(node, (int)(mon & THEATRE_MASK)))
        return STAGE_EDECODE; /* no theatre of ours gave out that id */
    downmsg_t *d = downmsg_new(message);
    if (!d) {
        LOG_ERROR("out of memory: a DOWN from '%s' is lost", peer);
        return 0;
    }
    d->mon = mon;
    d->serial = serial;
    d->kind = MON_ACTOR;
    d->reason = reason;
    d->remote = true;
    snprintf(d->node, sizeof d->node, "%s", peer);
    post_down(node, d);
    return 0;
}

typedef struct collect {
    uint64_t *ids;
    size_t n;
} collect_t;

static void collect_key(uint64_t key, void *val, void *ud) {
    (void)val;
    collect_t *c = ud;
    c->ids[c->n++] = key;
}

/* The keys of map m now (free with stage__free), so that the caller may
** change the map as it goes; NULL if it is empty or there is no memory
** (logged). */
static uint64_t *keys_of(const stage_u64map_t *m, size_t *n, int theatre) {
    *n = 0;
    if (!m->count) return NULL;
    collect_t c = {stage__malloc(m->count * sizeof *c.ids), 0};
    if (!c.ids) {
        LOG_ERROR("theatre %d: out of memory: a node event is lost", theatre);
        return NULL;
    }
    stage__u64map_each(m, collect_key, &c);
    *n = c.n;
    return c.ids;
}

/* Whether node event ev concerns monitor m, and with what reason. */
static bool event_fires(const downmsg_t *ev, stage_node_t *node,
                        const stage__monitor_t *m) {
    if (ev->kind == MON_NODE_UP) return m->kind == MON_NODE_UP;
    if (m->kind == MON_NODE_DOWN) return ev->up_inc != 0;
    return m->kind == MON_ACTOR && m->state == MON_SET &&
           !stage__id_is_local(node, &m->target) &&
           !strcmp(m->target.node, ev->node) &&
           (!ev->inc || m->target.incarnation == ev->inc);
}

/* Fire monitor m of t for node event ev. */
static void event_fire(stage__theatre_t *t, stage__monitor_t *m,
                       const downmsg_t *ev) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + DOWN_MESSAGE_MAX];
    const char *text = NULL;
    if (m->kind == MON_ACTOR) {
        stage_id_format(&m->target, id, sizeof id);
        snprintf(msg, sizeof msg, "actor '%s' is lost with its node '%s': %s",
                 id, ev->node, ev->message);
        text = msg;
    }
    downmsg_t *d = downmsg_new(text);
    if (!d) {
        LOG_ERROR("theatre %d: out of memory: monitor %" PRIx64
                  " does not fire",
                  t->index, m->id);
        return;
    }
    d->kind = m->kind;
    d->reason = m->kind == MON_ACTOR ? STAGE_ENODE_DOWN : 0;
    d->inc = ev->kind == MON_NODE_UP ? ev->inc : ev->up_inc;
    memcpy(d->node, ev->node, sizeof d->node);
    queue_turn(t, m, d);
}

/* Drop the watches of monitors of the node ev names (t's thread). */
static void drop_remote_watches(stage__theatre_t *t, const downmsg_t *ev) {
    stage__monitors_t *ms = t->monitors;
    if (!ms->nremote) return;
    size_t n, dropped = 0;
    uint64_t *keys = keys_of(&ms->watched, &n, t->index);
    for (size_t i = 0; i < n; i++) {
        wlist_t *l = stage__u64map_get(&ms->watched, keys[i]);
        for (watch_t **pw = &l->first; *pw;) {
            watch_t *w = *pw;
            if (w->remote && !strcmp(w->node, ev->node) &&
                (!ev->inc || !w->inc || w->inc == ev->inc)) {
                *pw = w->next;
                ms->nremote--;
                dropped++;
                stage__free(w);
            } else {
                pw = &w->next;
            }
        }
        if (!l->first) {
            stage__u64map_take(&ms->watched, keys[i]);
            stage__free(l);
        }
    }
    stage__free(keys);
    if (dropped)
        LOG_DEBUG("theatre %d: dropped %zu watch%s for monitors of node "
                  "'%s' (it is down)",
                  t->index, dropped, dropped == 1 ? "" : "es", ev->node);
}

static void event_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    downmsg_t *ev = e->arg;
    stage__monitors_t *ms = t->monitors;
    if (ms) {
        size_t n;
        uint64_t *ids = keys_of(&ms->held, &n, t->index);
        for (size_t i = 0; i < n; i++) {
            stage__monitor_t *m = stage__u64map_get(&ms->held, ids[i]);
            if (m && event_fires(ev, t->node, m)) event_fire(t, m, ev);
        }
        stage__free(ids);
        if (ev->kind == MON_NODE_DOWN) drop_remote_watches(t, ev);
    }
    free_call(t, a, e);
}

/* Post node event ev (a copy for each theatre). */
static void node_event(stage_node_t *node, const downmsg_t *ev) {
    size_t size = sizeof *ev + strlen(ev->message) + 1;
    for (int i = 0; i < stage_node_theatres(node); i++) {
        downmsg_t *d = stage__malloc(size);
        if (d) memcpy(d, ev, size);
        stage__theatre_t *t = stage__node_theatre(node, i);
        if (!d || to_theatre(t, event_call, free_call, d)) {
            stage__free(d);
            LOG_ERROR("theatre %d: out of memory: the event of node '%s' is "
                      "lost",
                      i, ev->node);
        }
    }
}

void stage__monitor_node_down(stage_node_t *node, const char *address,
                              uint32_t inc, uint32_t up_inc,
                              const char *message) {
    downmsg_t *ev = downmsg_new(message);
    if (!ev) {
        LOG_ERROR("out of memory: the end of node '%s' is lost", address);
        return;
    }
    ev->kind = MON_NODE_DOWN;
    ev->inc = inc;
    ev->up_inc = up_inc;
    snprintf(ev->node, sizeof ev->node, "%s", address);
    node_event(node, ev);
    stage__free(ev);
}

void stage__monitor_node_up(stage_node_t *node, const char *address,
                            uint32_t inc) {
    downmsg_t *ev = downmsg_new(NULL);
    if (!ev) {
        LOG_ERROR("out of memory: the start of node '%s' is lost", address);
        return;
    }
    ev->kind = MON_NODE_UP;
    ev->inc = inc;
    snprintf(ev->node, sizeof ev->node, "%s", address);
    node_event(node, ev);
    stage__free(ev);
}
