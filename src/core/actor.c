/*
** core/actor.c: actors of a theatre, their table, envelopes and routing.
**
** The actor table maps serial -> actor for one theatre (open addressing,
** linear probing, tombstones); only the theatre's thread touches it.
** A serial is (counter << STAGE_THEATRE_BITS) | birth theatre, so an id names
** the theatre to try first; the shared info (shared.c) says where an actor
** that moved lives now.
*/
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/move.h"
#include "core/directory.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/monitor.h"
#include "core/node.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define TOMBSTONE ((stage__actor_t *)1)

/* ---- envelopes -------------------------------------------------------------
 */

/* Small envelopes are recycled through the freeing theatre's cache: a
** sender's theatre allocates, the receiver's frees, and in steady traffic
** both caches stay warm. Sanitizer builds skip the cache so that every
** use-after-free is still caught. */
#ifdef STAGE_SANITIZE
#define CACHE_MAX 0
#else
#define CACHE_MAX 4096 /* of each class */
#endif

/* An envelope's bytes before its data: 97 on 64-bit machines. */
#define ENV_HEADER offsetof(stage__env_t, data)

/* The data bytes of each class: with the header, 128, 160 and 224 in
** all, sizes a malloc serves exactly. */
static const uint8_t class_data[ENV_CLASSES] = {31, 63, ENV_SMALL};

static int size_class(size_t data) {
    int c = 0;
    while (c < ENV_CLASSES && data > class_data[c])
        c++;
    return c;
}

/* Zero every field of e's header, one store each. GCC makes a memset of
** the header (or an assignment of an empty one) `rep stos`, whose start-up
** cost on AMD's Zen cores was 5% of a Lua message's time (perf, ring). A
** field added to stage__env_t is added here: the assertion counts bytes. */
static void env_clear(stage__env_t *e) {
    _Static_assert(ENV_HEADER == 97, "a field of stage__env_t not cleared");
    atomic_init(&e->hdr.link.next, NULL);
    e->hdr.kind = e->hdr.flags = 0;
    e->mlen = e->target_theatre = 0;
    e->len = 0;
    e->target = e->sender = 0;
    e->sender_type = e->target_type = NULL;
    e->future = NULL;
    e->call = e->drop = NULL;
    e->arg = NULL;
    e->next = NULL;
    e->size_class = 0;
}

static stage__env_t *env_alloc(size_t data) {
    stage__theatre_t *t = stage__current();
    stage__env_t *e;
    int c = size_class(data);
    if (c < ENV_CLASSES && t && (e = t->env_cache[c])) {
        t->env_cache[c] = e->next;
        t->nenv_cache[c]--;
    } else {
        e = stage__malloc(ENV_HEADER +
                          (c < ENV_CLASSES ? class_data[c] : data));
        if (!e) return NULL;
    }
    env_clear(e);
    e->size_class = (uint8_t)c;
    return e;
}

void stage__caches_free(stage__theatre_t *t) {
    stage__env_t *e;
    for (int c = 0; c < ENV_CLASSES; c++) {
        while ((e = t->env_cache[c])) {
            t->env_cache[c] = e->next;
            stage__free(e);
        }
        t->nenv_cache[c] = 0;
    }
    stage__future_t *f;
    while ((f = t->fut_cache)) {
        t->fut_cache = (stage__future_t *)f->conts;
        stage__free(f);
    }
    t->nfut_cache = 0;
}

stage__env_t *stage__env_new(const char *method, size_t mlen, const void *args,
                             size_t len) {
    if (mlen > UINT16_MAX || len > UINT32_MAX) return NULL;
    stage__env_t *e = env_alloc(mlen + 1 + len);
    if (!e) return NULL;
    e->hdr.kind = ENV_MSG;
    e->mlen = (uint16_t)mlen;
    e->len = (uint32_t)len;
    memcpy(e->data, method, mlen);
    e->data[mlen] = 0;
    if (len) memcpy(e->data + mlen + 1, args, len);
    return e;
}

stage__env_t *stage__env_call(stage__call_fn fn, stage__call_fn drop,
                              void *arg) {
    stage__env_t *e = stage__env_new("", 0, NULL, 0);
    if (!e) return NULL;
    e->hdr.kind = ENV_CALL;
    e->hdr.flags = ENV_SYSTEM;
    e->call = fn;
    e->drop = drop;
    e->arg = arg;
    return e;
}

void stage__env_free(stage__env_t *e) {
    if (e->future) stage__future_unref(e->future);
    stage__theatre_t *t = stage__current();
    int c = e->size_class;
    if (c < ENV_CLASSES && t && t->nenv_cache[c] < CACHE_MAX) {
        e->next = t->env_cache[c];
        t->env_cache[c] = e;
        t->nenv_cache[c]++;
        return;
    }
    stage__free(e);
}

/* An ENV_CALL that will never run: its drop releases what it carries. */
static void release_call(stage__env_t *e) {
    if (e->drop)
        e->drop(stage__current(), NULL, e);
    else
        stage__env_free(e);
}

static void env_describe_target(stage_node_t *node, const stage__env_t *e,
                                char *buf, size_t len) {
    stage_id_t id;
    if (e->target_type) {
        stage__make_id(node, e->target, e->target_type, &id);
        stage_id_format(&id, buf, len);
    } else {
        snprintf(buf, len, "serial %llu", (unsigned long long)e->target);
    }
}

void stage__env_undeliverable(stage_node_t *node, stage__env_t *e) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 128];
    env_describe_target(node, e, id, sizeof id);
    snprintf(msg, sizeof msg,
             "actor '%s' not found (it stopped or never "
             "existed); message '%s' not delivered",
             id, stage__env_method(e));
    if (e->future)
        stage__future_reject(e->future, STAGE_EACTOR_NOT_FOUND, msg, NULL,
                             NULL);
    else if (e->hdr.kind == ENV_MSG)
        LOG_WARN("%s", msg);
    if (e->hdr.kind == ENV_CALL) {
        release_call(e);
        return;
    }
    stage__env_free(e);
}

void stage__env_drop(stage__env_t *e, int status) {
    if (e->future)
        stage__future_reject(e->future, status,
                             "the node stopped before the "
                             "message was handled",
                             NULL, NULL);
    if (e->hdr.kind == ENV_CALL) {
        release_call(e);
        return;
    }
    stage__env_free(e);
}

/* ---- the actor table --------------------------------------------------------
 */

static uint32_t slot_of(uint64_t serial, uint32_t cap) {
    return (uint32_t)((serial >> STAGE_THEATRE_BITS) * 0x9E3779B97F4A7C15ull >>
                      32) &
           (cap - 1);
}

static int table_grow(stage__actor_table_t *tb) {
    uint32_t cap = tb->cap ? tb->cap * 2 : 64;
    if (tb->count * 2 < tb->cap) cap = tb->cap; /* rehash away tombstones */
    stage__actor_t **slots = stage__calloc(cap, sizeof *slots);
    if (!slots) return STAGE_ENOMEM;
    for (uint32_t i = 0; i < tb->cap; i++) {
        stage__actor_t *a = tb->slots[i];
        if (!a || a == TOMBSTONE) continue;
        uint32_t j = slot_of(a->serial, cap);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = a;
    }
    stage__free(tb->slots);
    tb->slots = slots;
    tb->cap = cap;
    tb->used = tb->count;
    return 0;
}

static int table_put(stage__actor_table_t *tb, stage__actor_t *a) {
    if ((tb->used + 1) * 4 > tb->cap * 3 && table_grow(tb)) return STAGE_ENOMEM;
    uint32_t i = slot_of(a->serial, tb->cap);
    while (tb->slots[i] && tb->slots[i] != TOMBSTONE)
        i = (i + 1) & (tb->cap - 1);
    if (!tb->slots[i]) tb->used++;
    tb->slots[i] = a;
    tb->count++;
    return 0;
}

static uint32_t table_find_slot(const stage__actor_table_t *tb, uint64_t s) {
    if (!tb->cap) return UINT32_MAX;
    uint32_t i = slot_of(s, tb->cap);
    for (stage__actor_t *a; (a = tb->slots[i]); i = (i + 1) & (tb->cap - 1))
        if (a != TOMBSTONE && a->serial == s) return i;
    return UINT32_MAX;
}

stage__actor_t *stage__actor_find(stage__theatre_t *t, uint64_t serial) {
    uint32_t i = table_find_slot(&t->actors, serial);
    return i == UINT32_MAX ? NULL : t->actors.slots[i];
}

/* ---- actors ------------------------------------------------------------- */

uint64_t stage__serial_reserve(stage__theatre_t *t) {
    uint64_t c =
        atomic_fetch_add_explicit(&t->next_serial, 1, memory_order_relaxed);
    return c << STAGE_THEATRE_BITS | (uint64_t)t->index;
}

stage__actor_t *stage__actor_new(stage__theatre_t *t, stage__type_t *type,
                                 uint64_t serial, const stage__env_t *birth) {
    /* one allocation: the actor, its data, then what a restart needs */
    size_t data = type->data_size, align = _Alignof(max_align_t);
    size_t keep = stage__restart_size(type, birth);
    if (keep) data = (data + align - 1) / align * align;
    stage__actor_t *a = stage__calloc(1, sizeof *a + data + keep);
    if (!a) return NULL;
    a->serial = serial;
    a->type = type;
    a->theatre = t;
    if (type->data_size) a->data = a + 1;
    if (keep) stage__restart_init(a, (char *)(a + 1) + data, birth);
    if (table_put(&t->actors, a)) {
        stage__free(a);
        return NULL;
    }
    if (stage__dir_add(type, a)) {
        uint32_t i = table_find_slot(&t->actors, serial);
        t->actors.slots[i] = TOMBSTONE;
        t->actors.count--;
        stage__free(a);
        return NULL;
    }
    stage_node_t *node = t->node;
    if (node->net_hooks.announce && !atomic_load(&type->announced) &&
        !atomic_exchange(&type->announced, true))
        node->net_hooks.announce(node, type);
    return a;
}

void stage__actor_stop(stage__theatre_t *t, stage__actor_t *a) {
    a->flags |= ACTOR_STOPPING;
    stage__actor_schedule(t, a);
}

void stage__actor_destroy(stage__theatre_t *t, stage__actor_t *a) {
    if (a->move) { /* a move waited for its turn to end: it fails */
        a->flags |= ACTOR_STOPPING;
        stage__move_resume(t, a);
    }
    uint32_t i = table_find_slot(&t->actors, a->serial);
    if (i != UINT32_MAX) {
        t->actors.slots[i] = TOMBSTONE;
        t->actors.count--;
    }
    a->flags |= ACTOR_DEAD;
    stage__dir_remove(a->type, a);
    /* A name for a is claimed under its type's lock while a is listed; the
    ** removal above took that lock after it, so a relaxed read of the
    ** count sees that claim's increment. */
    if (atomic_load_explicit(&t->node->nnames, memory_order_relaxed))
        stage__names_drop_actor(t->node, a->serial);
    if (t->node->net_hooks.actor_gone)
        t->node->net_hooks.actor_gone(t->node, a->serial);
    stage__timers_cancel_actor(t, a->serial);
    a->type->impl->destroy(t, a);
    stage__deferred_abandon(a); /* its death's too */
    /* and those its death hook set: they could never fire as its turns,
    ** and would keep the node from quiescence */
    stage__timers_cancel_actor(t, a->serial);
    stage__restart_free(a);
    /* after its death, whose messages its watchers get before the DOWN */
    stage__monitors_actor_gone(t, a);
    stage__env_t *e;
    bool stopping = stage__node_stopping(t->node);
    while ((e = a->mbox_head)) {
        a->mbox_head = e->next;
        if (stopping)
            stage__env_drop(e, STAGE_ESTOPPED);
        else
            stage__env_undeliverable(t->node, e);
    }
    if (a->current) stage__env_drop(a->current, STAGE_ESTOPPED);
    /* Still on the run queue? run_queue skips dead actors; free it there. */
    if (a->flags & ACTOR_QUEUED) return;
    stage__free(a);
}

void stage__actor_unlist(stage__theatre_t *t, stage__actor_t *a) {
    uint32_t i = table_find_slot(&t->actors, a->serial);
    if (i != UINT32_MAX) {
        t->actors.slots[i] = TOMBSTONE;
        t->actors.count--;
    }
    a->flags |= ACTOR_DEAD;
    stage__dir_remove(a->type, a);
    stage__restart_free(a);
    if (a->flags & ACTOR_QUEUED) return; /* run_queue frees it */
    stage__free(a);
}

static int younger_first(const void *x, const void *y) {
    uint64_t a = (*(stage__actor_t *const *)x)->serial;
    uint64_t b = (*(stage__actor_t *const *)y)->serial;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* A theatre's actors were all born there (serial = counter << 8 | theatre),
** so serial order is spawn order: the youngest go first, as an Erlang
** supervisor stops its children in the reverse of their start order. The
** stdout actor stays for the output of the deaths (theatre_destroy). */
void stage__actors_reap(stage__theatre_t *t) {
    stage_node_t *node = t->node;
    size_t n = 0, skipped = 0;
    stage__actor_t **all = stage__malloc((t->actors.count + 1) * sizeof *all);
    for (uint32_t i = 0; all && i < t->actors.cap; i++) {
        stage__actor_t *a = t->actors.slots[i];
        if (a && a != TOMBSTONE && a->serial != node->stdout_serial)
            all[n++] = a;
    }
    if (!all) LOG_ERROR("theatre %d: out of memory: no death runs", t->index);
    for (stage__actor_t *a = t->run_head, *next; a; a = next) {
        next = a->run_next; /* the queue never runs again */
        a->flags &= ~ACTOR_QUEUED;
        if (a->flags & ACTOR_DEAD) stage__free(a);
    }
    t->run_head = t->run_tail = NULL;
    t->nrun = 0;
    if (n) qsort(all, n, sizeof *all, younger_first);
    for (size_t i = 0; i < n; i++) {
        stage__actor_t *a = all[i];
        double deadline = stage__node_stop_deadline(node);
        if (!t->deaths_over && deadline > 0 && stage__now() >= deadline)
            t->deaths_over = true;
        if (t->deaths_over) skipped++;
        atomic_store(&t->reaping_type, a->type);
        atomic_store(&t->reaping, a->serial);
        stage__actor_destroy(t, a);
        atomic_store(&t->reaping, 0);
    }
    t->deaths_over = true;
    if (t->index == 0) stage__deferred_abandon_outside(node);
    if (skipped)
        LOG_WARN("theatre %d: %zu actors stopped without death: the stop "
                 "grace of %g s ran out",
                 t->index, skipped, stage__node_config(node)->stop_grace_secs);
    stage__free(all);
}

void stage__actors_destroy_all(stage__theatre_t *t) {
    for (stage__actor_t *a = t->run_head, *next; a; a = next) {
        next = a->run_next; /* gone from the table, left for the queue */
        a->flags &= ~ACTOR_QUEUED;
        if (a->flags & ACTOR_DEAD) stage__free(a);
    }
    t->run_head = t->run_tail = NULL;
    t->nrun = 0;
    for (uint32_t i = 0; i < t->actors.cap; i++) {
        stage__actor_t *a = t->actors.slots[i];
        if (!a || a == TOMBSTONE) continue;
        a->flags &= ~ACTOR_QUEUED;
        stage__actor_destroy(t, a);
    }
    if (t->index == 0) stage__deferred_abandon_outside(t->node);
    stage__monitors_free(t);
    stage__free(t->actors.slots);
    memset(&t->actors, 0, sizeof t->actors);
}

/* ---- routing --------------------------------------------------------------
 */

void stage__route(stage_node_t *node, stage__env_t *e) {
    stage__theatre_t *cur = stage__current();
    int where = stage__serial_theatre(e->target);
    stage__theatre_t *t = stage__node_theatre(node, where);
    if (!t) {
        stage__env_undeliverable(node, e);
        return;
    }
    if (cur == t) {
        stage__actor_t *a = stage__actor_find(t, e->target);
        /* one that came back by a move may have messages from this very
        ** theatre still in its inbox (core/move.h): they go first */
        if (a && !(a->flags & (ACTOR_MOVED | ACTOR_LEAVING))) {
            /* a second message since steal.c looked: in a conversation
            ** here, it stays (one, an order given once, is not) */
            a->flags |= ACTOR_SPOKEN | (a->flags & ACTOR_SPOKEN) << 1;
            stage__actor_enqueue(t, a, e);
            return;
        }
    }
    stage__theatre_post(t, e);
}

/* ---- spawning ----------------------------------------------------------- */

/* Create the actor an envelope reserved and queue its birth message. */
static void spawn_here(stage__theatre_t *t, stage__env_t *e) {
    stage__actor_t *a = stage__actor_new(t, e->target_type, e->target, e);
    if (!a) {
        LOG_ERROR("out of memory spawning an actor of type '%s'",
                  e->target_type->name);
        stage__env_free(e);
        return;
    }
    if (e->hdr.flags & ENV_PLACED) a->flags |= ACTOR_PLACED;
    if (e->hdr.flags & ENV_PAIRED) { /* its partner is born, or dead */
        stage__actor_t *b =
            stage__actor_find(t, a->serial - STAGE__SERIAL_STEP);
        if (b) {
            a->flags |= ACTOR_PAIR_PREV;
            b->flags |= ACTOR_PAIR_NEXT;
        }
    }
    e->hdr.kind = ENV_MSG;
    e->hdr.flags =
        (uint8_t)((e->hdr.flags | ENV_SYSTEM) & ~(ENV_PLACED | ENV_PAIRED));
    stage__actor_enqueue(t, a, e);
}

static void spawn_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)a;
    e->call = NULL;
    e->target = (uint64_t)(uintptr_t)e->arg;
    e->arg = NULL;
    spawn_here(t, e);
}

int stage__spawn(stage_node_t *node, stage__type_t *type, int theatre,
                 const void *args, size_t len, uint64_t *serial) {
    stage__theatre_t *cur = stage__current();
    if (cur && cur->node != node) cur = NULL;
    bool placed = theatre >= 0, pair = false;
    if (theatre < 0 && !cur)
        theatre = 0;
    else if (theatre < 0) /* pinned and creatable: the spawner's theatre */
        theatre = type->kind == STAGE_KIND_MOBILE
                      ? stage__place(cur, args, len, &pair)
                      : cur->index;
    stage__theatre_t *t = stage__node_theatre(node, theatre);
    if (!t) return STAGE_EINVAL;
    if (len > node->cfg.max_message) return STAGE_ETOOBIG;
    stage__env_t *e = stage__env_new("birth", 5, args, len);
    if (!e) return STAGE_ENOMEM;
    if (placed) e->hdr.flags |= ENV_PLACED; /* never stolen (steal.c) */
    e->target = stage__serial_reserve(t);
    e->target_type = type;
    e->sender = cur && cur->running ? cur->running->serial : 0;
    e->sender_type = cur && cur->running ? cur->running->type : NULL;
    *serial = e->target;
    if (cur) {
        /* coupled only if the two are neighbours on their theatre */
        pair = pair && e->target - STAGE__SERIAL_STEP == cur->last_spawn;
        if (pair) e->hdr.flags |= ENV_PAIRED;
        stage__place_spawned(cur, e->target, pair);
    }
    if (cur == t) {
        spawn_here(t, e);
        return 0;
    }
    /* A call for the theatre itself (target 0); the serial rides in arg. */
    e->hdr.kind = ENV_CALL;
    e->call = spawn_call;
    e->arg = (void *)(uintptr_t)e->target;
    e->target = 0;
    stage__theatre_post(t, e);
    return 0;
}

/* e cannot reach `to`: fail its future with status and msg, or log msg
** (a one-way message); free e. */
static void route_fail(stage__env_t *e, int status, const char *msg) {
    if (e->future)
        stage__future_reject(e->future, status, msg, NULL, NULL);
    else
        LOG_WARN("%s", msg);
    stage__env_free(e);
}

void stage__route_id(stage_node_t *node, const stage_id_t *to,
                     stage__env_t *e) {
    if (stage__id_is_local(node, to)) {
        stage__route(node, e);
        return;
    }
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 160];
    stage_id_format(to, id, sizeof id);
    if (stage__id_is_stale(node, to)) { /* this address, another run */
        snprintf(msg, sizeof msg,
                 "actor '%s' not found: it belonged to an earlier run of "
                 "this node (this run is incarnation %" PRIx32
                 "); message '%s' not delivered",
                 id, stage__node_incarnation(node), stage__env_method(e));
        route_fail(e, STAGE_EACTOR_NOT_FOUND, msg);
        return;
    }
    if (node->net_hooks.send) {
        node->net_hooks.send(node, to, e);
        return;
    }
    snprintf(msg, sizeof msg,
             "actor '%s' is on node '%s', and this node "
             "is not connected to others (start it with stage node)",
             id, to->node);
    route_fail(e, STAGE_EUNREACHABLE, msg);
}

int stage__node_spawn_remote(stage_node_t *node, const char *where,
                             const char *type, const char *args, size_t len,
                             stage__future_t *f) {
    if (!node->net_hooks.spawn) return 0;
    size_t max = node->cfg.max_message;
    if (len > max) {
        char msg[STAGE_ADDR_MAX + STAGE_TYPE_MAX + 200];
        snprintf(msg, sizeof msg,
                 "cannot spawn '%s' on node '%s': its arguments are %zu "
                 "bytes, over the limit of %zu bytes (--max-message)",
                 type, where, len, max);
        stage__future_reject(f, STAGE_ETOOBIG, msg, NULL, NULL);
        stage__future_unref(f);
        return 1;
    }
    node->net_hooks.spawn(node, where, type, args, len, f);
    return 1;
}
