/*
** core/timer.c: a theatre's timers, in a binary min-heap by (deadline, seq).
**
** Theatre thread only. A timer is reference counted (theatre-local ints):
** the heap holds one while armed, and whoever may cancel it holds one; drop
** releases its argument when the last goes.
** Cancelling removes it from the heap at once, so an idle theatre with only
** cancelled timers gives its work unit back and the node can stop.
**
** An actor timer is listed in its theatre's timer_ids from its creation
** until its last reference goes; each turn it queues holds a reference,
** so a cancel finds it, and suppresses the turn, until the turn has run.
*/
#include <stdlib.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "util/alloc.h"
#include "util/log.h"

static int earlier(const stage__timer_t *a, const stage__timer_t *b) {
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(stage__theatre_t *t, int i, stage__timer_t *tm) {
    t->heap[i] = tm;
    tm->heap_index = i;
}

static void sift_up(stage__theatre_t *t, int i) {
    stage__timer_t *tm = t->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!earlier(tm, t->heap[parent])) break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, tm);
}

static void sift_down(stage__theatre_t *t, int i) {
    stage__timer_t *tm = t->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= t->nheap) break;
        if (c + 1 < t->nheap && earlier(t->heap[c + 1], t->heap[c])) c++;
        if (!earlier(t->heap[c], tm)) break;
        place(t, i, t->heap[c]);
        i = c;
    }
    place(t, i, tm);
}

static int heap_push(stage__theatre_t *t, stage__timer_t *tm) {
    if (t->nheap == t->capheap) {
        int cap = t->capheap ? t->capheap * 2 : 16;
        stage__timer_t **h = stage__realloc(t->heap, (size_t)cap * sizeof *h);
        if (!h) return STAGE_ENOMEM;
        t->heap = h;
        t->capheap = cap;
    }
    tm->seq = t->timer_seq++;
    place(t, t->nheap++, tm);
    sift_up(t, tm->heap_index);
    return 0;
}

static void heap_remove(stage__theatre_t *t, stage__timer_t *tm) {
    int i = tm->heap_index;
    tm->heap_index = -1;
    stage__timer_t *last = t->heap[--t->nheap];
    if (i == t->nheap) return;
    place(t, i, last);
    sift_down(t, i);
    sift_up(t, last->heap_index);
}

stage__timer_t *stage__timer_new(stage__theatre_t *t, double delay,
                                 double interval, stage__timer_fn fn,
                                 void *arg) {
    stage__timer_t *tm = stage__calloc(1, sizeof *tm);
    if (!tm) return NULL;
    tm->deadline = stage__now() + (delay > 0 ? delay : 0);
    tm->interval = interval;
    tm->span = delay;
    tm->fn = fn;
    tm->arg = arg;
    tm->refs = 2; /* the heap's and the caller's */
    if (heap_push(t, tm)) {
        stage__free(tm);
        return NULL;
    }
    return tm;
}

void stage__timer_unref(stage__timer_t *tm) {
    if (--tm->refs) return;
    if (tm->id) stage__u64map_take(&tm->theatre->timer_ids, tm->id);
    if (tm->drop) tm->drop(tm);
    stage__free(tm);
}

static void disarm(stage__theatre_t *t, stage__timer_t *tm) {
    heap_remove(t, tm);
    stage__timer_unref(tm);
}

void stage__timer_cancel(stage__theatre_t *t, stage__timer_t *tm) {
    tm->cancelled = true;
    if (tm->heap_index >= 0) disarm(t, tm);
}

void stage__timers_cancel_actor(stage__theatre_t *t, uint64_t serial) {
    for (int i = t->nheap - 1; i >= 0; i--) {
        if (i >= t->nheap) continue; /* removals shrink the heap */
        stage__timer_t *tm = t->heap[i];
        if (tm->actor == serial) {
            tm->cancelled = true;
            disarm(t, tm);
        }
    }
}

double stage__timers_run(stage__theatre_t *t) {
    if (!t->nheap) return -1;
    double now = stage__now();
    while (t->nheap && t->heap[0]->deadline <= now) {
        stage__timer_t *tm = t->heap[0];
        heap_remove(t, tm);
        if (tm->interval > 0) {
            tm->deadline += tm->interval;
            if (tm->deadline < now) tm->deadline = now + tm->interval;
            tm->refs++; /* the heap again; fn may cancel it */
            if (heap_push(t, tm)) tm->refs--; /* no memory: stop repeating */
        }
        tm->fn(t, tm);
        stage__timer_unref(tm);
    }
    return t->nheap ? t->heap[0]->deadline - now : -1;
}

void stage__timers_free(stage__theatre_t *t) {
    while (t->nheap) {
        stage__timer_t *tm = t->heap[0];
        tm->cancelled = true;
        disarm(t, tm);
    }
    stage__free(t->heap);
    t->heap = NULL;
    t->capheap = 0;
    stage__u64map_free(&t->timer_ids);
}

/* ---- actor timers ------------------------------------------------------- */

/* The queued turn of an actor timer: run it unless the timer was cancelled
** since it was queued. Owns e, which holds a reference to the timer. */
static void timer_turn(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    stage__timer_t *tm = e->arg;
    tm->queued--;
    if (!tm->cancelled) tm->turn(t, a, tm);
    stage__timer_unref(tm);
    stage__env_free(e);
}

/* The turn will never run (its actor stopped, or the node did). */
static void timer_turn_drop(stage__theatre_t *t, stage__actor_t *a,
                            stage__env_t *e) {
    (void)t;
    (void)a;
    ((stage__timer_t *)e->arg)->queued--;
    stage__timer_unref(e->arg);
    stage__env_free(e);
}

/* Fired: queue the turn in the actor's mailbox, behind what is there. */
static void actor_timer_fire(stage__theatre_t *t, stage__timer_t *tm) {
    stage__actor_t *a = stage__actor_find(t, tm->actor);
    if (!a || (a->flags & ACTOR_DEAD)) return;
    stage__env_t *e = stage__env_call(timer_turn, timer_turn_drop, tm);
    if (!e) { /* this firing is lost, a repeat may not be */
        char id[STAGE_ID_TEXT_MAX];
        stage_id_t self;
        stage__make_id(t->node, a->serial, a->type, &self);
        stage_id_format(&self, id, sizeof id);
        LOG_ERROR("actor %s: out of memory: a timer's turn is lost", id);
        return;
    }
    tm->refs++;
    tm->queued++;
    e->target = a->serial;
    e->target_type = a->type;
    stage__actor_enqueue(t, a, e);
}

stage__timer_t *stage__timer_actor(stage__theatre_t *t, stage__actor_t *a,
                                   double delay, double interval,
                                   stage__timer_turn_fn turn, void *arg) {
    /* unique in the node: a timer that moves keeps its id */
    uint64_t id = ++t->next_timer_id << STAGE_THEATRE_BITS | (uint64_t)t->index;
    stage__timer_t *tm =
        stage__timer_new(t, delay, interval, actor_timer_fire, arg);
    if (!tm) return NULL;
    if (stage__u64map_put(&t->timer_ids, id, tm)) {
        stage__timer_cancel(t, tm);
        stage__timer_unref(tm);
        return NULL;
    }
    tm->id = id;
    tm->theatre = t;
    tm->actor = a->serial;
    tm->turn = turn;
    return tm;
}

stage__timer_t *stage__timer_find(stage__theatre_t *t, uint64_t id) {
    return id ? stage__u64map_get(&t->timer_ids, id) : NULL;
}

typedef struct armed {
    uint64_t serial;
    bool travels; /* count those that travel (else those that do not) */
    size_t n;
} armed_t;

static void count_armed(uint64_t key, void *val, void *ud) {
    (void)key;
    const stage__timer_t *tm = val;
    armed_t *c = ud;
    /* armed, or with a turn queued: a one-shot that has fired and run is
    ** found (a handle still holds it) but cannot fire again */
    if (tm->actor == c->serial && !tm->cancelled && tm->travels == c->travels &&
        (tm->heap_index >= 0 || tm->queued))
        c->n++;
}

size_t stage__timers_of_actor(stage__theatre_t *t, uint64_t serial) {
    armed_t c = {serial, false, 0};
    stage__u64map_each(&t->timer_ids, count_armed, &c);
    return c.n;
}

size_t stage__timers_travelling(stage__theatre_t *t, uint64_t serial) {
    armed_t c = {serial, true, 0};
    stage__u64map_each(&t->timer_ids, count_armed, &c);
    return c.n;
}

/* ---- moving with the actor ---------------------------------------------- */

typedef struct taking {
    uint64_t serial;
    stage__timer_t *list;
} taking_t;

static void collect(uint64_t key, void *val, void *ud) {
    (void)key;
    stage__timer_t *tm = val;
    taking_t *k = ud;
    if (tm->actor == k->serial && tm->travels && !tm->cancelled &&
        tm->heap_index >= 0) {
        tm->taken = k->list;
        k->list = tm;
    }
}

stage__timer_t *stage__timers_take(stage__theatre_t *t, uint64_t serial) {
    taking_t k = {serial, NULL};
    stage__u64map_each(&t->timer_ids, collect, &k);
    for (stage__timer_t *tm = k.list; tm; tm = tm->taken) {
        heap_remove(t, tm); /* the heap's reference goes with the list */
        stage__u64map_take(&t->timer_ids, tm->id);
        tm->theatre = NULL;
    }
    return k.list;
}

void stage__timers_give(stage__theatre_t *t, stage__timer_t *list) {
    for (stage__timer_t *tm = list, *next; tm; tm = next) {
        next = tm->taken;
        tm->taken = NULL;
        tm->theatre = t;
        if (!stage__u64map_put(&t->timer_ids, tm->id, tm)) {
            if (!heap_push(t, tm)) continue;
            stage__u64map_take(&t->timer_ids, tm->id);
        }
        LOG_ERROR("theatre %d: out of memory: a timer of an actor that "
                  "moved here is cancelled",
                  t->index);
        tm->theatre = NULL; /* listed nowhere: its unref must not look */
        tm->id = 0;
        tm->cancelled = true;
        stage__timer_unref(tm);
    }
}

void stage__timers_drop(stage__timer_t *list) {
    for (stage__timer_t *tm = list, *next; tm; tm = next) {
        next = tm->taken;
        tm->cancelled = true;
        tm->id = 0; /* listed nowhere */
        stage__timer_unref(tm);
    }
}
