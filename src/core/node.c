/*
** core/node.c: a node — its theatres, actor types, quiescence and the
** watchdog that preempts runaway Lua turns and reports stuck theatres.
**
** States: NEW -> RUNNING [stage_node_start] -> STOPPED [stage_node_stop or
** quiescence] -> joined [stage_node_wait]. Types are registered in NEW only,
** so theatres read the type table without locks while RUNNING.
**
** Threads: the theatres, one watchdog, and the caller's. node->work and the
** stop fields are atomics; everything else is written before start.
*/
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/future.h"
#include "core/image.h"
#include "core/kind.h"
#include "core/netif.h"
#include "core/node.h"
#include "core/theatre.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/sanitize.h"

#define SIG_PREEMPT (SIGRTMIN + 3)

static void futex_wait(atomic_int *addr, int val, double secs) {
    struct timespec ts, *tsp = NULL;
    if (secs >= 0) {
        ts.tv_sec = (time_t)secs;
        ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

static void futex_wake(atomic_int *addr) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
}

void stage__futex_wait(atomic_int *addr, int val, double secs) {
    futex_wait(addr, val, secs);
}

void stage__futex_wake(atomic_int *addr) {
    futex_wake(addr);
}

void stage_node_config_init(stage_node_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->slice_secs = 0.01;
    cfg->budget_secs = 10.0;
    cfg->stop_grace_secs = 5.0; /* Erlang's default shutdown for a worker */
    cfg->max_message = STAGE_MAX_MESSAGE_DEFAULT;
    cfg->memory_limit = STAGE_MEMORY_LIMIT_DEFAULT;
}

static int default_theatres(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > STAGE_MAX_THEATRES ? STAGE_MAX_THEATRES : (int)n;
}

static int check_config(const stage_node_config_t *cfg) {
    if (cfg->theatres < 0 || cfg->theatres > STAGE_MAX_THEATRES)
        return STAGE_EINVAL;
    if (cfg->slice_secs <= 0 || cfg->budget_secs <= 0 ||
        cfg->call_timeout < 0 || cfg->stop_grace_secs <= 0)
        return STAGE_EINVAL;
    if (cfg->max_message && (cfg->max_message < STAGE_MAX_MESSAGE_MIN ||
                             cfg->max_message > STAGE_MAX_MESSAGE_MAX))
        return STAGE_EINVAL;
    if (cfg->memory_limit && cfg->memory_limit < STAGE_MEMORY_LIMIT_MIN)
        return STAGE_EINVAL;
    if (cfg->address &&
        (!*cfg->address || strlen(cfg->address) >= STAGE_ADDR_MAX ||
         strpbrk(cfg->address, "~/")))
        return STAGE_EINVAL;
    return 0;
}

int stage_node_new(stage_node_t **out, const stage_node_config_t *cfg) {
    stage_node_config_t defaults;
    if (!cfg) {
        stage_node_config_init(&defaults);
        cfg = &defaults;
    }
    int rc = check_config(cfg);
    if (rc) return rc;
    stage_node_t *n = stage__calloc(1, sizeof *n);
    if (!n) return STAGE_ENOMEM;
    n->cfg = *cfg;
    snprintf(n->address, sizeof n->address, "%s",
             cfg->address ? cfg->address : "local");
    n->address_len = strlen(n->address);
    n->cfg.address = n->address;
    if (getrandom(&n->incarnation, sizeof n->incarnation, 0) !=
        sizeof n->incarnation)
        n->incarnation = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    if (!n->cfg.max_message) n->cfg.max_message = STAGE_MAX_MESSAGE_DEFAULT;
    n->ntheatres = cfg->theatres ? cfg->theatres : default_theatres();
    n->cfg.theatres = n->ntheatres;
    stage__shared_init(n);
    pthread_mutex_init(&n->names_lock, NULL);
    pthread_mutex_init(&n->ring_lock, NULL);
    pthread_mutex_init(&n->replies_lock, NULL);
    pthread_mutex_init(&n->types_lock, NULL);
    /* all the room types will have: the array never moves under the
    ** threads that read it without a lock (the network's, from before the
    ** script has defined its types; the theatres') */
    n->types = stage__malloc(STAGE_TYPES_MAX * sizeof *n->types);
    if (!n->types) goto nomem;
    n->captypes = STAGE_TYPES_MAX;
    n->theatres = stage__calloc((size_t)n->ntheatres, sizeof *n->theatres);
    if (!n->theatres) goto nomem;
    for (int i = 0; i < n->ntheatres; i++)
        if (!(n->theatres[i] = stage__theatre_new(n, i))) goto nomem;
    if ((rc = stage__stdout_register(n)) || (rc = stage__environ_new(n))) {
        stage_node_destroy(&n);
        return rc;
    }
    *out = n;
    return 0;
nomem:
    stage_node_destroy(&n);
    return STAGE_ENOMEM;
}

/* Nodes left running a death (stage_node_wait gave up on a theatre): their
** memory stays in use and reachable (for leak checkers) until the exit. */
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static stage_node_t *abandoned;

static void ring_waiters_end(stage_node_t *n, int status, const char *msg);

/* Drain every theatre's inbox until none has anything left: dropping an
** item can complete a future of another theatre. */
static void drain_theatres(stage_node_t *n) {
    int k;
    do {
        k = 0;
        for (int i = 0; i < n->ntheatres; i++)
            if (n->theatres[i]) k += stage__theatre_drain(n->theatres[i]);
    } while (k);
}

/* Tear the theatres down (see stage__theatre_clear): no theatre is freed
** while another's teardown may still push to it. */
static void destroy_theatres(stage_node_t *n) {
    if (!n->theatres) return;
    for (int i = 0; i < n->ntheatres; i++)
        if (n->theatres[i]) stage__theatre_clear(n->theatres[i]);
    drain_theatres(n);
    for (int i = 0; i < n->ntheatres; i++)
        if (n->theatres[i]) stage__theatre_close(n->theatres[i]);
    drain_theatres(n);
    for (int i = 0; i < n->ntheatres; i++) {
        if (n->theatres[i]) stage__theatre_free(n->theatres[i]);
        n->theatres[i] = NULL;
    }
}

void stage_node_destroy(stage_node_t **np) {
    stage_node_t *n = *np;
    if (!n) return;
    if (n->started && !n->joined) {
        stage_node_stop(n, 0);
        stage_node_wait(n);
    }
    if (n->abandoned) { /* a theatre still runs: it may touch anything */
        if (!n->output_abandoned) stage__theatre_flush_output(n->theatres[0]);
        LOG_ERROR("the node's memory is not freed: a theatre is still "
                  "running a death");
        pthread_mutex_lock(&abandoned_lock);
        n->next_abandoned = abandoned; /* reachable on purpose */
        abandoned = n;
        pthread_mutex_unlock(&abandoned_lock);
        *np = NULL;
        return;
    }
    /* The network first: failing its pending calls completes futures
    ** that land in the theatres' inboxes, which must still exist. */
    ring_waiters_end(n, STAGE_ESTOPPED, NULL);
    if (n->net_hooks.close) n->net_hooks.close(n);
    stage__environ_close(n); /* its answers land in the inboxes too */
    stage__replies_free(n);  /* into the inboxes too */
    destroy_theatres(n);
    for (int i = 0; i < n->nkinds; i++)
        if (n->kinds[i].kind->node_free)
            n->kinds[i].kind->node_free(n, n->kinds[i].data);
    stage__free(n->theatres);
    for (int i = 0; i < n->ntypes; i++) {
        pthread_mutex_destroy(&n->types[i]->lock);
        stage__free(n->types[i]->members);
        stage__free(n->types[i]);
    }
    stage__names_free(n);
    pthread_mutex_destroy(&n->ring_lock);
    pthread_mutex_destroy(&n->replies_lock);
    pthread_mutex_destroy(&n->types_lock);
    stage__free(n->types);
    stage__shared_free(n);
    stage__free(n);
    *np = NULL;
}

/* ---- types --------------------------------------------------------------- */

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* Types are few and fixed once the node runs: a scan comparing hashes
** first is cheaper than a map, and it is on the path of every decoded id. */
stage__type_t *stage__type_find(stage_node_t *n, const char *name) {
    uint32_t h = name_hash(name);
    /* acquire: pairs with stage__type_add_live's release store, so a type
    ** counted here is seen whole (its fields, its source) */
    int nt = atomic_load_explicit(&n->ntypes, memory_order_acquire);
    for (int i = 0; i < nt; i++)
        if (n->types[i]->hash == h && strcmp(n->types[i]->name, name) == 0)
            return n->types[i];
    return NULL;
}

int stage__type_count(stage_node_t *n) {
    /* acquire: as in stage__type_find */
    return atomic_load_explicit(&n->ntypes, memory_order_acquire);
}

stage__type_t *stage__type_at(stage_node_t *n, int i) {
    return n->types[i];
}

/* k's slot in n, or -1. Any thread: the I/O loop may ask while a kind
** is added (see stage__node_kind_add). */
static int kind_slot(const stage_node_t *n, const stage__kind_t *k) {
    int nk = __atomic_load_n(&n->nkinds, __ATOMIC_ACQUIRE);
    for (int i = 0; i < nk; i++)
        if (n->kinds[i].kind == k) return i;
    return -1;
}

int stage__node_kind_add(stage_node_t *n, const stage__kind_t *k, void *ndata) {
    int i = kind_slot(n, k);
    bool added = i < 0;
    if (added) {
        if (n->nkinds == STAGE_KINDS_MAX) return STAGE_ENOMEM;
        i = n->nkinds;
        n->kinds[i].kind = k;
        if (k->preempt) n->kind_preempts = true;
    }
    n->kinds[i].data = ndata;
    /* published last (release): the I/O loop may already run and read
    ** the kinds (stage__code_load, for code another node sends) */
    if (added) __atomic_store_n(&n->nkinds, i + 1, __ATOMIC_RELEASE);
    return i;
}

void *stage__node_kind_data(stage_node_t *n, const stage__kind_t *k) {
    int i = kind_slot(n, k);
    return i < 0 ? NULL : n->kinds[i].data;
}

void *stage__theatre_kind_data(stage__theatre_t *t, const stage__kind_t *k) {
    int i = kind_slot(t->node, k);
    return i < 0 ? NULL : t->kind_data[i];
}

void stage__theatre_set_kind_data(stage__theatre_t *t, const stage__kind_t *k,
                                  void *data) {
    int i = kind_slot(t->node, k);
    assert(i >= 0);
    if (i >= 0) t->kind_data[i] = data;
}

/* A new type (not yet in n->types), or NULL on no memory. */
static stage__type_t *type_new(stage_node_t *n, const char *name,
                               stage_kind_t kind, const char *super,
                               const stage__kind_t *impl, int slot,
                               const stage_type_def_t *native, int index) {
    stage__type_t *ty = stage__calloc(1, sizeof *ty);
    if (!ty) return NULL;
    snprintf(ty->name, sizeof ty->name, "%s", name);
    snprintf(ty->super, sizeof ty->super, "%s", super ? super : "");
    ty->kind = kind;
    ty->impl = impl;
    ty->slot = slot;
    ty->data_size = native ? native->state_size : impl->actor_size;
    ty->native = native;
    ty->index = index;
    ty->hash = name_hash(ty->name);
    ty->on_error = native ? native->on_error : STAGE_ON_ERROR_RESTART;
    ty->max_restarts = native && native->max_restarts ? native->max_restarts
                                                      : STAGE_MAX_RESTARTS;
    ty->restart_window = native && native->restart_window > 0
                             ? native->restart_window
                             : STAGE_RESTART_WINDOW;
    pthread_mutex_init(&ty->lock, NULL);
    (void)n;
    return ty;
}

/* 0 if name, super and kind can name a type. */
static int type_check(const char *name, stage_kind_t kind, const char *super) {
    if (!stage_type_name_valid(name)) return STAGE_EINVAL;
    if (super && *super && !stage_type_name_valid(super)) return STAGE_EINVAL;
    if (kind > STAGE_KIND_CREATABLE) return STAGE_EINVAL;
    return 0;
}

int stage__type_add(stage_node_t *n, const char *name, stage_kind_t kind,
                    const char *super, const stage__kind_t *impl,
                    const stage_type_def_t *native,
                    void (*init)(stage__type_t *ty, void *arg), void *arg,
                    stage__type_t **out) {
    int rc = type_check(name, kind, super);
    if (rc) return rc;
    if (n->started) return STAGE_EBUSY;
    if (stage__type_find(n, name)) return STAGE_EEXISTS;
    int slot = kind_slot(n, impl);
    if (slot < 0) slot = stage__node_kind_add(n, impl, NULL);
    if (slot < 0) return slot;
    int nt = atomic_load_explicit(&n->ntypes, memory_order_relaxed);
    if (nt == n->captypes) return STAGE_ENOMEM;
    stage__type_t *ty = type_new(n, name, kind, super, impl, slot, native, nt);
    if (!ty) return STAGE_ENOMEM;
    if (init) init(ty, arg);
    n->types[nt] = ty;
    /* release: a node's network runs before its script has defined its
    ** types, and its thread may look one up (stage__type_find) and read
    ** the type whole, init's fields too */
    atomic_store_explicit(&n->ntypes, nt + 1, memory_order_release);
    if (out) *out = ty;
    return 0;
}

int stage__type_add_live(stage_node_t *n, const char *name, stage_kind_t kind,
                         const char *super, const stage__kind_t *impl,
                         void (*init)(stage__type_t *ty, void *arg), void *arg,
                         stage__type_t **out) {
    int rc = type_check(name, kind, super);
    if (rc) return rc;
    int slot = kind_slot(n, impl); /* the kinds are fixed since the start */
    if (slot < 0) return STAGE_EINVAL;
    pthread_mutex_lock(&n->types_lock);
    stage__type_t *ty = stage__type_find(n, name);
    int nt = atomic_load_explicit(&n->ntypes, memory_order_relaxed);
    if (ty)
        rc = STAGE_EEXISTS;
    else if (nt >= n->captypes) /* the array never moves while running */
        rc = STAGE_ENOMEM;
    else if (!(ty = type_new(n, name, kind, super, impl, slot, NULL, nt)))
        rc = STAGE_ENOMEM;
    if (!rc) {
        if (init) init(ty, arg);
        n->types[nt] = ty;
        /* release: a reader that counts this type sees it whole */
        atomic_store_explicit(&n->ntypes, nt + 1, memory_order_release);
    }
    pthread_mutex_unlock(&n->types_lock);
    if (out) *out = ty;
    return rc;
}

int stage__code_load(stage_node_t *n, const char *what, const char *src,
                     size_t len, stage__code_done_fn done, void *arg) {
    int nk = __atomic_load_n(&n->nkinds, __ATOMIC_ACQUIRE); /* see kind_add */
    for (int i = 0; i < nk; i++)
        if (n->kinds[i].kind->load_code)
            return n->kinds[i].kind->load_code(n, n->kinds[i].data, what, src,
                                               len, done, arg);
    return STAGE_EINVAL;
}

uint64_t stage__code_version(const char *text, size_t len) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a, 64 bits */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    return h ? h : 1; /* 0 says "none" */
}

int stage__code_update(stage_node_t *n, const char *type, const char *methods,
                       size_t len, stage__code_done_fn done, void *arg) {
    int nk = __atomic_load_n(&n->nkinds, __ATOMIC_ACQUIRE); /* see kind_add */
    for (int i = 0; i < nk; i++)
        if (n->kinds[i].kind->update_code)
            return n->kinds[i].kind->update_code(n, n->kinds[i].data, type,
                                                 methods, len, done, arg);
    return STAGE_EINVAL;
}

int stage__node_update_code(stage_node_t *n, stage__type_t *ty,
                            const char *methods, size_t len,
                            stage__code_done_fn done, void *arg) {
    if (n->net_hooks.update)
        return n->net_hooks.update(n, ty, methods, len, done, arg);
    return stage__code_update(n, ty->name, methods, len, done, arg);
}

/* ---- accessors -------------------------------------------------------------
 */

int stage_node_theatres(const stage_node_t *n) {
    return n->ntheatres;
}

stage__theatre_t *stage__node_theatre(stage_node_t *n, int i) {
    return i >= 0 && i < n->ntheatres ? n->theatres[i] : NULL;
}

const stage_node_config_t *stage__node_config(stage_node_t *n) {
    return &n->cfg;
}

int stage__node_stopping(stage_node_t *n) {
    return atomic_load_explicit(&n->stopping, memory_order_acquire);
}

double stage__node_stop_deadline(stage_node_t *n) {
    return atomic_load(&n->stop_deadline);
}

void stage__node_set_net_hooks(stage_node_t *n, const stage__net_hooks_t *h,
                               void *data) {
    n->net_hooks = *h;
    n->net = data;
}

void *stage__node_net(stage_node_t *n) {
    return n->net;
}

int stage_node_net_stats(stage_node_t *n, stage_net_stats_t *out) {
    if (!n->net_hooks.stats) return STAGE_EINVAL;
    return n->net_hooks.stats(n, out);
}

int stage__node_set_address(stage_node_t *n, const char *address) {
    if (n->started || !address || !*address ||
        strlen(address) >= STAGE_ADDR_MAX || strpbrk(address, "~/"))
        return STAGE_EINVAL;
    snprintf(n->address, sizeof n->address, "%s", address);
    n->address_len = strlen(n->address);
    return 0;
}

uint32_t stage__node_incarnation(const stage_node_t *n) {
    return n->incarnation;
}

const char *stage__node_address(const stage_node_t *n) {
    return n->address;
}

void stage__make_id(stage_node_t *n, uint64_t serial, const stage__type_t *ty,
                    stage_id_t *out) {
    memcpy(out->node, n->address, sizeof out->node);
    out->incarnation = n->incarnation;
    out->theatre = (uint16_t)stage__serial_theatre(serial);
    out->serial = serial;
    memcpy(out->type, ty->name, sizeof out->type);
}

/* On every send: memcmp of the address and its NUL, not strncmp (a
** visible share of a local message's cost). */
int stage__id_is_local(stage_node_t *n, const stage_id_t *id) {
    return id->incarnation == n->incarnation &&
           memcmp(id->node, n->address, n->address_len + 1) == 0;
}

int stage__id_is_stale(stage_node_t *n, const stage_id_t *id) {
    return id->incarnation != n->incarnation &&
           strncmp(id->node, n->address, sizeof id->node) == 0;
}

/* ---- work and quiescence ----------------------------------------------------
 */

void stage__work_add(stage_node_t *n, int k) {
    /* relaxed is enough for the increment: it happens before the push that
    ** hands the work over, and the push is seq_cst. */
    atomic_fetch_add_explicit(&n->work, k, memory_order_relaxed);
}

void stage__work_sub(stage_node_t *n, int k) {
    /* acq_rel: the thread that reads zero must see every effect of the work
    ** that was just retired before it decides the node is quiescent. */
    if (atomic_fetch_sub_explicit(&n->work, k, memory_order_acq_rel) == k) {
        int status = n->exit_code;
        for (int i = 0; i < n->nkinds; i++)
            if (n->kinds[i].kind->quiescent)
                status =
                    n->kinds[i].kind->quiescent(n, n->kinds[i].data, status);
        stage_node_stop(n, status);
    }
}

void stage_node_hold(stage_node_t *n) {
    stage__work_add(n, 1);
}

void stage_node_release(stage_node_t *n) {
    stage__work_sub(n, 1);
}

void stage_node_stop(stage_node_t *n, int code) {
    if (code < 0 || code > 255) {
        LOG_ERROR("exit status %d is not one a process can have (0 to 255): "
                  "the node exits with 1",
                  code);
        code = 1;
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&n->stopping, &expected, 1)) {
        /* seq_cst: a theatre that sees 0 here looks again before each
        ** death (stage__actors_reap) */
        atomic_store(&n->stop_deadline, stage__now() + n->cfg.stop_grace_secs);
        n->exit_code = code;
        atomic_store(&n->stopped, 1);
        futex_wake(&n->stopped);
        if (!(atomic_fetch_or(&n->ring, RING_STOPPED) & RING_JOINED)) {
            futex_wake(&n->ring);
            ring_waiters_end(n, STAGE_ESTOPPED, NULL);
        }
    }
    for (int i = 0; i < n->ntheatres; i++)
        stage__theatre_wake(n->theatres[i]);
}

void stage__node_set_exit_code(stage_node_t *n, int code) {
    if (!stage__node_stopping(n)) n->exit_code = code;
}

/* ---- start, wait, watchdog ---------------------------------------------- */

/* A signal that arrives late, once the turn it was meant for has ended,
** finds no request for the turn running now and does nothing. */
static void on_preempt_signal(int sig) {
    (void)sig;
    stage__theatre_t *t = stage__current();
    if (!t || !stage__preempt_wanted(t)) return;
    /* the kinds are fixed since the node started: plain reads suffice */
    stage_node_t *n = t->node;
    for (int i = 0; i < n->nkinds; i++)
        if (n->kinds[i].kind->preempt)
            n->kinds[i].kind->preempt(t, t->kind_data[i]);
}

/* A turn that has not returned for STUCK_SECS holds its theatre: C code
** (a C actor's long loop or blocking call, a long C call from Lua such as
** table.sort of a huge table) cannot be preempted, and the budget only
** stops Lua code and Lua patterns (lua/lpattern.c). The
** watchdog logs it then, every STUCK_REPEAT_SECS while it lasts, and once
** more when it returns; meanwhile the theatre is marked stuck and gets no
** spawns placed by others (place.c). */
#define STUCK_SECS 1.0
#define STUCK_REPEAT_SECS 10.0
/* A look this much later than asked does not count towards STUCK_SECS. */
#define STUCK_LATE_SECS 0.1
/* How often the watchdog looks when no kind preempts (C actors only). */
#define WATCH_SECS 0.1
/* The share of a look a theatre's thread must have had the CPU for, in a
** message seen at the last look, for that message to be preempted (the
** look's timer may fire a little early). */
#define PREEMPT_CPU 0.8

/* What the watchdog knows of one theatre's turn. */
typedef struct turn_watch {
    uint64_t seq;  /* the turn_seq seen */
    double start;  /* when it was first seen */
    double since;  /* the same, later by the looks that came late */
    double last;   /* when it was last seen running */
    double logged; /* when it was last logged as stuck, or 0 */
    char who[STAGE_ID_TEXT_MAX];
} turn_watch_t;

/* The id of the actor of t's turn seq into who; 0, or -1 if the turn has
** moved on meanwhile. */
static int turn_actor(stage_node_t *n, stage__theatre_t *t, uint64_t seq,
                      char *who, size_t len) {
    /* acquire: pairs with the release bump in stage__turn_begin, so the
    ** actor stored for this seq (or for a later turn) is seen; the two
    ** acquire loads of the actor keep the second look at the seq after
    ** them, and a later turn's actor shows as a changed seq there. (A turn
    ** that has held its theatre for a second rarely ends just now; if it
    ** does, the next look reports its return.) */
    if (atomic_load_explicit(&t->turn_seq, memory_order_acquire) != seq)
        return -1;
    uint64_t serial =
        atomic_load_explicit(&t->turn_serial, memory_order_acquire);
    stage__type_t *ty =
        atomic_load_explicit(&t->turn_type, memory_order_acquire);
    if (atomic_load_explicit(&t->turn_seq, memory_order_relaxed) != seq || !ty)
        return -1;
    stage_id_t id;
    stage__make_id(n, serial, ty, &id);
    stage_id_format(&id, who, len);
    return 0;
}

/* Log theatre i's turn when it has been stuck long enough (if report),
** and when it returns. seq and busy: what the watchdog reads of the
** theatre now. */
static void watch_stuck(stage_node_t *n, int i, turn_watch_t *w, uint64_t seq,
                        bool busy, double now, bool report) {
    stage__theatre_t *t = n->theatres[i];
    if (busy && seq == w->seq) {
        double ran = now - w->start;
        w->last = now;
        if (!w->logged && report && now - w->since >= STUCK_SECS &&
            turn_actor(n, t, seq, w->who, sizeof w->who) == 0) {
            /* relaxed: a hint for placement, as the load is (place.c) */
            atomic_store_explicit(&t->stuck, 1, memory_order_relaxed);
            w->logged = now;
            LOG_WARN("theatre %d is stuck: actor '%s' has run one message "
                     "for %.1f s without returning (a C actor's handler, or "
                     "a long C call from Lua such as table.sort of a huge "
                     "table, cannot be preempted, and the budget stops only "
                     "Lua code and pattern matching); the other actors of "
                     "theatre %d wait, and spawns go to other theatres "
                     "meanwhile",
                     i, w->who, ran, i);
        } else if (w->logged && now - w->logged >= STUCK_REPEAT_SECS) {
            w->logged = now;
            LOG_WARN("theatre %d is still stuck: actor '%s' has run one "
                     "message for %.0f s",
                     i, w->who, ran);
        }
        return;
    }
    if (w->logged) {
        atomic_store_explicit(&t->stuck, 0, memory_order_relaxed);
        /* it was seen running until w->last: within a look of its end */
        LOG_WARN("theatre %d runs again: the message of actor '%s' "
                 "returned after %.1f s",
                 i, w->who, w->last - w->start);
    }
    w->seq = seq;
    w->start = w->since = now;
    w->logged = 0;
}

/* The CPU time in seconds of the thread whose clock is id (has: got), or
** wall, the wall's time, if it has none. */
static double thread_secs(clockid_t id, bool has, double wall) {
    struct timespec ts;
    if (!has || clock_gettime(id, &ts)) return wall;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Every half slice (every WATCH_SECS when no kind preempts), ask each
** theatre whose message has not changed since the last look, and has had
** the CPU for most of a look since (so it has run at least about half a
** slice: a thread the loaded machine did not run meanwhile is not held
** against its message) to preempt that turn, and signal it; its Lua hook
** then yields, or fails the message once it has run past its budget. Log
** a turn that holds its theatre past STUCK_SECS (watch_stuck). Once the
** node is stopping, ask every theatre in a turn at once: its turn yields
** at the hook and is never resumed, so the theatre can stop. Runs until
** stage_node_wait has joined the theatres. */
static void *watchdog_main(void *arg) {
    stage_node_t *n = arg;
    uint64_t seen[STAGE_MAX_THEATRES] = {0};
    uint64_t signalled[STAGE_MAX_THEATRES] = {0};
    turn_watch_t *watch = stage__calloc((size_t)n->ntheatres, sizeof *watch);
    if (!watch)
        LOG_WARN("out of memory in the watchdog: a stuck theatre is not "
                 "reported");
    double look = n->kind_preempts ? n->cfg.slice_secs / 2 : WATCH_SECS;
    double last = stage__now();
    /* each theatre's CPU clock, and its reading when its message was
    ** first seen */
    clockid_t cpu_id[STAGE_MAX_THEATRES];
    bool has_cpu[STAGE_MAX_THEATRES];
    double seen_cpu[STAGE_MAX_THEATRES] = {0};
    /* taken by stage__theatre_start: a theatre's thread may have ended and
    ** been joined already (a node stopping as it starts), and with it its
    ** pthread_t, which pthread_getcpuclockid here would read (TSan saw
    ** the SEGV); a clock id of a thread gone only fails to read */
    for (int i = 0; i < n->ntheatres; i++) {
        has_cpu[i] = n->theatres[i]->has_cpu_clock;
        cpu_id[i] = n->theatres[i]->cpu_clock;
    }
    while (!atomic_load(&n->watchdog_quit)) {
        futex_wait(&n->watchdog_quit, 0, look);
        bool stopping = stage__node_stopping(n);
        double now = stage__now();
        /* Woken far later than asked (a loaded machine did not run this
        ** thread): no turn was asked to yield meanwhile, so the time
        ** missed is not held against a turn that has not returned. */
        double late = now - last - look;
        last = now;
        for (int i = 0; watch && late > STUCK_LATE_SECS && i < n->ntheatres;
             i++)
            if (!watch[i].logged) watch[i].since += late;
        for (int i = 0; i < n->ntheatres; i++) {
            stage__theatre_t *t = n->theatres[i];
            /* relaxed: see stage__turn_begin */
            uint64_t seq =
                atomic_load_explicit(&t->turn_seq, memory_order_relaxed);
            bool busy = atomic_load_explicit(&t->in_turn, memory_order_relaxed);
            /* a stopping node's deaths are join_theatres's to report */
            if (watch) watch_stuck(n, i, &watch[i], seq, busy, now, !stopping);
            double cpu = thread_secs(cpu_id[i], has_cpu[i], now);
            if (seq != seen[i]) seen_cpu[i] = cpu; /* another message */
            bool long_turn =
                seq == seen[i] && cpu - seen_cpu[i] >= PREEMPT_CPU * look;
            if (n->kind_preempts && busy && (long_turn || stopping) &&
                seq != signalled[i]) {
                signalled[i] = seq; /* the hook re-arms itself if needed */
                /* relaxed: the request is its own only data, and the signal
                ** carries it: the kernel queues the signal under the target
                ** thread's signal lock, which that thread takes before it
                ** runs the handler, so this store happens before the
                ** handler's load. A poll (under TSan) sees it a look later
                ** at worst. */
                atomic_store_explicit(&t->preempt_seq, seq,
                                      memory_order_relaxed);
                pthread_kill(t->thread, SIG_PREEMPT);
            }
            seen[i] = seq;
        }
    }
    /* the theatres are joined, or given up on (join_theatres logged the
    ** death that holds one): a stuck turn logged that has ended since the
    ** last look is reported as returned */
    for (int i = 0; watch && i < n->ntheatres; i++) {
        stage__theatre_t *t = n->theatres[i];
        uint64_t seq = atomic_load_explicit(&t->turn_seq, memory_order_relaxed);
        bool busy = atomic_load_explicit(&t->in_turn, memory_order_relaxed);
        if (watch[i].logged && (!busy || seq != watch[i].seq))
            watch_stuck(n, i, &watch[i], seq, false, stage__now(), false);
    }
    stage__free(watch);
    return NULL;
}

int stage_node_start(stage_node_t *n) {
    if (n->started) return STAGE_EBUSY;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_preempt_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIG_PREEMPT, &sa, NULL);
    n->started = 1;
    /* Each theatre starts busy; it gives its unit back when idle. */
    stage__work_add(n, n->ntheatres);
    for (int i = 0; i < n->ntheatres; i++) {
        int rc = stage__theatre_start(n->theatres[i]);
        if (rc) {
            LOG_ERROR("cannot start theatre %d: %s", i, stage_strerror(rc));
            stage__work_sub(n, n->ntheatres - i);
            stage_node_stop(n, 1);
            return rc;
        }
    }
    if (pthread_create(&n->watchdog, NULL, watchdog_main, n) == 0)
        n->has_watchdog = 1;
    else
        LOG_WARN("cannot start the watchdog thread: turns are not "
                 "preempted, and a stuck theatre is not reported");
    return 0;
}

/* Join the theatres, which run the deaths of their actors first. One that
** is not done a second past the stop deadline is stuck in a death that
** cannot be preempted (C code, a blocking call): log it and leave it. */
#define STOP_JOIN_MARGIN 1.0

static void join_theatres(stage_node_t *n) {
    double until = stage__node_stop_deadline(n) + STOP_JOIN_MARGIN;
    for (int i = 0; i < n->ntheatres; i++) {
        stage__theatre_t *t = n->theatres[i];
        if (stage__theatre_join(t, until) == 0) continue;
        pthread_detach(t->thread); /* nobody will join it: it ends alone */
        n->abandoned = 1;
        if (i == 0) n->output_abandoned = 1;
        char who[STAGE_ID_TEXT_MAX] = "?";
        stage__type_t *ty = atomic_load(&t->reaping_type);
        uint64_t serial = atomic_load(&t->reaping);
        if (ty && serial) {
            stage_id_t id;
            stage__make_id(n, serial, ty, &id);
            stage_id_format(&id, who, sizeof who);
        }
        LOG_ERROR("theatre %d did not stop within %g s: the death of actor "
                  "'%s' has not returned (blocked outside Lua?); leaving it "
                  "running",
                  i, n->cfg.stop_grace_secs + STOP_JOIN_MARGIN, who);
    }
}

int stage_node_wait(stage_node_t *n) {
    if (stage__current()) return STAGE_EDEADLOCK;
    if (!n->started || n->joined) return n->exit_code;
    /* The SIGTERM that stops a `stage node` usually lands on this thread.
    ** Under ThreadSanitizer its handler runs only at this thread's next
    ** atomic, and the kernel restarts the futex wait after the signal, so
    ** the wait wakes every 100 ms to reach the atomic (util/sanitize.h). */
    double secs = STAGE_UNDER_TSAN ? 0.1 : -1;
    while (!atomic_load(&n->stopped))
        futex_wait(&n->stopped, 0, secs);
    join_theatres(n);
    atomic_store(&n->watchdog_quit, 1);
    futex_wake(&n->watchdog_quit);
    if (n->has_watchdog) pthread_join(n->watchdog, NULL);
    n->joined = 1;
    fflush(stdout);
    return n->exit_code;
}

int stage_node_run(stage_node_t *n) {
    int rc = stage_node_start(n);
    if (rc) return rc;
    return stage_node_wait(n);
}

/* ---- joining a system ---------------------------------------------------- */

/* Complete every future waiting for the join: true (status 0), or fail it
** with status and msg (NULL: the node stopped). Any thread. */
static void ring_waiters_end(stage_node_t *n, int status, const char *msg) {
    pthread_mutex_lock(&n->ring_lock);
    stage__future_t **w = n->ring_waiters;
    size_t k = n->nring_waiters;
    n->ring_waiters = NULL;
    n->nring_waiters = 0;
    pthread_mutex_unlock(&n->ring_lock);
    for (size_t i = 0; i < k; i++) {
        if (status)
            stage__future_reject(w[i], status,
                                 msg ? msg
                                     : "the node stopped before it joined "
                                       "its system",
                                 NULL, NULL);
        else
            stage__future_resolve(w[i], "\xc3", 1); /* true */
        stage__future_unref(w[i]);
    }
    stage__free(w);
}

void stage__node_set_draining(stage_node_t *n) {
    atomic_store(&n->draining, true);
}

bool stage__node_draining(stage_node_t *n) {
    return atomic_load(&n->draining);
}

void stage__node_set_joined(stage_node_t *n) {
    if (atomic_load(&n->ring) & RING_FAILED) return; /* it gave up: final */
    if (atomic_fetch_or(&n->ring, RING_JOINED) & RING_JOINED) return;
    futex_wake(&n->ring);
    ring_waiters_end(n, 0, NULL);
}

void stage__node_set_join_failed(stage_node_t *n, int status, const char *msg) {
    pthread_mutex_lock(&n->ring_lock);
    bool done = atomic_load(&n->ring) & (RING_JOINED | RING_FAILED);
    if (!done) {
        n->join_status = status;
        snprintf(n->join_error, sizeof n->join_error, "%s", msg);
        /* under the lock: a waiter added now sees the reason set */
        atomic_fetch_or(&n->ring, RING_FAILED);
    }
    pthread_mutex_unlock(&n->ring_lock);
    if (done) return;
    futex_wake(&n->ring);
    ring_waiters_end(n, status, n->join_error);
}

int stage_node_wait_joined(stage_node_t *n, double timeout) {
    if (stage__current()) return STAGE_EDEADLOCK;
    if (!n->net_hooks.directory || timeout != timeout) return STAGE_EINVAL;
    double deadline = timeout >= 0 ? stage__now() + timeout : 0;
    for (;;) {
        int s = atomic_load(&n->ring);
        if (s & RING_JOINED) return 0;
        /* set before the bit (seq_cst): seen with it */
        if (s & RING_FAILED) return n->join_status;
        if (s & RING_STOPPED) return STAGE_ESTOPPED;
        double left = -1;
        if (timeout >= 0 && (left = deadline - stage__now()) <= 0)
            return STAGE_ETIMEOUT;
        futex_wait(&n->ring, s, left);
    }
}

int stage_node_joined_future(stage_node_t *n, stage_future_t **fut) {
    if (!fut) return STAGE_EINVAL;
    *fut = NULL;
    if (!n->net_hooks.directory) return STAGE_EINVAL;
    stage__theatre_t *cur = stage__current();
    int owner = cur && cur->node == n ? cur->index : 0;
    stage__future_t *f = stage__future_new(n, owner, 0);
    if (!f) return STAGE_ENOMEM;
    /* Under the lock: stage__node_set_joined sets the bit, then takes the
    ** lock to complete the waiters, so f is either seen joined here or
    ** completed there. */
    pthread_mutex_lock(&n->ring_lock);
    int s = atomic_load(&n->ring);
    int rc = 0;
    if (!(s & (RING_JOINED | RING_STOPPED | RING_FAILED))) {
        stage__future_t **w =
            stage__realloc(n->ring_waiters, (n->nring_waiters + 1) * sizeof *w);
        if (w) {
            n->ring_waiters = w;
            w[n->nring_waiters++] = f;
            stage__future_ref(f);
        } else {
            rc = STAGE_ENOMEM;
        }
    }
    pthread_mutex_unlock(&n->ring_lock);
    if (rc) {
        stage__future_unref(f);
        return rc;
    }
    if (s & RING_JOINED)
        stage__future_resolve(f, "\xc3", 1);
    else if (s & RING_FAILED) /* n->join_error is set for good */
        stage__future_reject(f, n->join_status, n->join_error, NULL, NULL);
    else if (s & RING_STOPPED)
        stage__future_reject(f, STAGE_ESTOPPED,
                             "the node stopped before it joined its system",
                             NULL, NULL);
    *fut = (stage_future_t *)f;
    return 0;
}
