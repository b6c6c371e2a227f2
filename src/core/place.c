/*
** core/place.c: where a spawn goes when the spawner names no theatre.
**
** A mobile actor spawned without spawn_at goes to the spawner's theatre
** unless that theatre has work queued and another one is clearly lighter:
** a spawning actor must not pile everything on its own theatre, but
** actors that talk to each other (a parent and the few children it
** spawns) should not be split apart either, since a message between
** theatres costs several times one within a theatre.
**
** The policy, for a spawn from theatre cur whose run queue holds nrun
** actors (its local load L = nrun + 1, counting the spawner):
**   - L < PLACE_QUEUE: local. A spawner with little queued keeps its
**     children, so a pair or a handful of actors stays together.
**   - local too until cur is saturated: it has had at least that much
**     queued for PLACE_BUSY_SECS of its CPU time without once running out
**     of work. A loop
**     that spawns a few hundred actors (a ring, a pipeline) is over before
**     that, and they stay together: at spawn time they look exactly like
**     the workers of a parallel map, and splitting a ring that passes a
**     token costs a wake-up of a sleeping theatre at every cut. Spawning
**     that goes on (a tree that keeps growing, a master that hands out
**     many chunks) saturates its theatre, and from then on:
**   - if cur already sends its spawns to theatre j (place_to), they
**     go on there while j's load is under L + PLACE_SLACK: consecutive
**     spawns land together, in blocks, so a ring or a pipeline spawned in
**     one loop is cut in a few places rather than at every other actor;
**   - else the least loaded other theatre m, if its load is under 7/8 of
**     L, becomes place_to (an idle theatre has load 0); otherwise local.
** Both bounds leave a band where nothing moves, so two theatres that are
** both busy keep their spawns at home instead of trading them.
**
** Whatever the loads say, a spawn one of whose arguments is the actor
** its theatre spawned last (a reference, at the top level, before any
** table) goes where that one went: `local b = B(); local a = A(b)` makes
** a pair that talks, and `prev = Node(prev)` a chain, and neither is cut
** where the choice above moves on to another theatre. Only the last spawn
** counts: workers that all name one sink are spread as before. Such a
** pair is also coupled for work stealing (actor.c, steal.c: one does not
** go without the other), two by two along a chain. Reading the arguments
** costs a header each, at most PLACE_ARGS of them and none past a
** table.
**
** The load a theatre publishes is its run queue's length (stored by its
** own thread at each pass of its loop, every PUBLISH_EVERY actors of a
** long pass (theatre.c), and 0 when it goes idle), plus one
** for each spawn another theatre placed there since (a relaxed add by the
** spawner), so a burst of spawns does not all go to a theatre that has
** not woken up yet to publish. A theatre the watchdog finds stuck in one
** turn (node.c) gets no spawns.
**
** Cost: a few relaxed loads and one relaxed add per placed spawn; the scan
** over the theatres only when the current choice stops fitting; a look at
** the CPU clock at one spawn in PLACE_PROBE until saturated. No lock.
*/
#include <time.h>

#include "core/node.h"
#include "core/theatre.h"
#include "node_internal.h"
#include "wire/mp.h"

#define PLACE_QUEUE 3  /* local load from which a spawn may go elsewhere */
#define PLACE_SLACK 16 /* how far past L a chosen theatre's load may get */
#define PLACE_BUSY_SECS 2e-3 /* busy this long with work queued: saturated */
#define PLACE_PROBE 8        /* spawns between two looks at the CPU time */
#define PLACE_ARGS 8 /* top-level arguments read for a reference, at most */

/* t's load, or -1 if it is stuck.
** Relaxed throughout: a load is a hint read at one instant and nothing
** else is published through it; a stale value only places one spawn less
** well, never loses it (the spawn itself goes through the inbox). */
static int load_of(stage__theatre_t *t) {
    if (atomic_load_explicit(&t->stuck, memory_order_relaxed)) return -1;
    return atomic_load_explicit(&t->load, memory_order_relaxed);
}

/* Count a spawn placed on t in its load until t publishes again. */
static int place_on(stage__theatre_t *t) {
    atomic_fetch_add_explicit(&t->load, 1, memory_order_relaxed);
    return t->index;
}

/* The CPU time of the calling thread, in seconds. */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* 1 if cur has had work queued for PLACE_BUSY_SECS since it was last idle.
** The time is cur's own CPU time, not the wall clock's: on a machine
** whose cores are shared, a spawning loop the system preempts is not
** saturating its theatre. That clock is a system call (about 1 µs here),
** so it is read at the first such spawn, then at one in PLACE_PROBE, and
** no more once saturated. */
static int saturated(stage__theatre_t *cur) {
    if (cur->saturated) return 1;
    if (!cur->busy_since) {
        cur->busy_since = thread_cpu();
        cur->probe = 0;
        return 0;
    }
    if (++cur->probe % PLACE_PROBE) return 0;
    return cur->saturated = thread_cpu() - cur->busy_since >= PLACE_BUSY_SECS;
}

/* The serial of the id whose ext payload is s[0..len) (wire/mp.h: node,
** then incarnation, theatre and serial), or 0 if it is too short for one. */
static uint64_t payload_serial(const char *s, size_t len) {
    if (len < 18) return 0; /* s may be the end of the args */
    size_t a = (unsigned char)s[0];
    if (a + 17 > len) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)s[1 + a + 6 + i];
    return v;
}

/* 1 if one of the first PLACE_ARGS values of the msgpack array args, up to
** the first array or map, is a reference to the actor serial of node n.
** Cheap on a spawn's path: a header per value, the serial read in place,
** and the whole id decoded only when that matches. */
static int names(stage_node_t *n, const char *args, size_t len,
                 uint64_t serial) {
    const char *end = args + len;
    stage__mp_t m;
    if (!len || stage__mp_head(args, end, &m) || m.t != STAGE_T_ARRAY) return 0;
    const char *p = m.next;
    for (uint32_t i = 0; i < m.n && i < PLACE_ARGS && p < end; i++) {
        stage__mp_t v;
        if (stage__mp_head(p, end, &v) || v.t == STAGE_T_ARRAY ||
            v.t == STAGE_T_MAP)
            return 0;
        stage_id_t id;
        if (v.t == STAGE_T_ID && payload_serial(v.s, v.n) == serial &&
            !stage__id_from_payload(v.s, v.n, &id) &&
            stage__id_is_local(n, &id))
            return 1;
        p = v.next;
    }
    return 0;
}

/* The theatre the load-based choice below gives. */
static int choose(stage__theatre_t *cur) {
    stage_node_t *n = cur->node;
    int local = cur->nrun + 1;
    if (local < PLACE_QUEUE || n->ntheatres == 1 || !saturated(cur))
        return cur->index;
    stage__theatre_t *j = stage__node_theatre(n, cur->place_to);
    if (j && j != cur) {
        int l = load_of(j);
        if (l >= 0 && l < local + PLACE_SLACK) return place_on(j);
    }
    stage__theatre_t *best = NULL;
    int least = 0;
    for (int i = 0; i < n->ntheatres; i++) {
        stage__theatre_t *t = n->theatres[i];
        int l = t == cur ? -1 : load_of(t);
        if (l >= 0 && (!best || l < least)) {
            best = t;
            least = l;
        }
    }
    if (best && least * 8 < local * 7) {
        cur->place_to = best->index;
        return place_on(best);
    }
    cur->place_to = cur->index;
    return cur->index;
}

int stage__place(stage__theatre_t *cur, const void *args, size_t len,
                 bool *pair) {
    uint64_t last = cur->last_spawn;
    bool with = last && names(cur->node, args, len, last);
    *pair = with && !cur->last_paired;
    stage__theatre_t *there =
        with ? stage__node_theatre(cur->node, stage__serial_theatre(last))
             : NULL;
    if (!there || load_of(there) < 0) return choose(cur);
    return there == cur ? cur->index : place_on(there);
}

void stage__place_idle(stage__theatre_t *t) {
    t->busy_since = 0;
    t->saturated = false;
    stage__place_publish(t);
}

void stage__place_publish(stage__theatre_t *t) {
    /* relaxed: see load_of. A spawn counted by another theatre between
    ** this theatre's look at its queue and this store is forgotten: it is
    ** in the inbox, and counted at the next publication. */
    atomic_store_explicit(&t->load, t->nrun, memory_order_relaxed);
    atomic_store_explicit(&t->nactors, t->actors.count, memory_order_relaxed);
}

void stage__place_node_load(stage_node_t *n, unsigned *runnable,
                            unsigned *actors) {
    unsigned r = 0, a = 0;
    for (int i = 0; i < n->ntheatres; i++) {
        stage__theatre_t *t = n->theatres[i];
        int l = atomic_load_explicit(&t->load, memory_order_relaxed);
        r += l > 0 ? (unsigned)l : 0;
        a += atomic_load_explicit(&t->nactors, memory_order_relaxed);
    }
    *runnable = r;
    *actors = a;
}
