/*
** sim/queue.c: the event queue — a timing wheel of one slot per simulated
** millisecond over the next 65 s, each slot a FIFO list, and a binary heap
** for events further away that moves them into their slot as the wheel
** comes within reach. Push and pop are O(1) and touch little memory, which
** matters at ten thousand managers and a hundred million events.
** Order: by time; within one millisecond, events moved from the far heap
** first (in (time, seq) order), then in the order they were pushed. It
** depends only on the sequence of pushes, so a run stays reproducible.
** Single-threaded.
*/
#include <stdlib.h>

#include "sim_int.h"
#include "util/alloc.h"

#define WHEEL (1u << 16)
#define NIL UINT32_MAX

static bool before(const ev_t *a, const ev_t *b) {
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static uint32_t node_new(stage__sim_queue_t *q, const ev_t *e) {
    if (q->free == NIL) {
        uint32_t cap = q->cap ? q->cap * 2 : 1u << 16;
        stage__sim_qnode_t *n = stage__realloc(q->nodes, cap * sizeof(*n));
        if (!n) abort(); /* the simulator cannot go on without memory */
        for (uint32_t i = q->cap; i < cap; i++)
            n[i].next = i + 1 < cap ? i + 1 : NIL;
        q->nodes = n;
        q->free = q->cap;
        q->cap = cap;
    }
    uint32_t i = q->free;
    q->free = q->nodes[i].next;
    q->nodes[i].ev = *e;
    q->nodes[i].next = NIL;
    return i;
}

static void slot_append(stage__sim_queue_t *q, const ev_t *e) {
    uint32_t i = node_new(q, e), s = (uint32_t)(e->t & (WHEEL - 1));
    if (q->tail[s] == NIL)
        q->head[s] = i;
    else
        q->nodes[q->tail[s]].next = i;
    q->tail[s] = i;
    q->inwheel++;
}

static void far_push(stage__sim_queue_t *q, const ev_t *e) {
    if (q->nfar == q->capfar) {
        size_t cap = q->capfar ? q->capfar * 2 : 1024;
        ev_t *h = stage__realloc(q->far, cap * sizeof(*h));
        if (!h) abort();
        q->far = h;
        q->capfar = cap;
    }
    size_t i = q->nfar++;
    while (i > 0 && before(e, &q->far[(i - 1) / 2])) {
        q->far[i] = q->far[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->far[i] = *e;
}

static ev_t far_pop(stage__sim_queue_t *q) {
    ev_t top = q->far[0], last = q->far[--q->nfar];
    size_t i = 0, n = q->nfar;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&q->far[c + 1], &q->far[c])) c++;
        if (!before(&q->far[c], &last)) break;
        q->far[i] = q->far[c];
        i = c;
    }
    if (n) q->far[i] = last;
    return top;
}

/* Bring far events within the wheel's reach into their slots. */
static void migrate(stage__sim_queue_t *q) {
    while (q->nfar && q->far[0].t < q->cur + WHEEL) {
        ev_t e = far_pop(q);
        slot_append(q, &e);
    }
}

int stage__sim_queue_init(stage__sim_queue_t *q) {
    q->head = stage__malloc(WHEEL * sizeof(uint32_t));
    q->tail = stage__malloc(WHEEL * sizeof(uint32_t));
    if (!q->head || !q->tail) return -1;
    for (uint32_t i = 0; i < WHEEL; i++)
        q->head[i] = q->tail[i] = NIL;
    q->free = NIL;
    return 0;
}

void stage__sim_queue_push(stage__sim_queue_t *q, const ev_t *e) {
    if (e->t < q->cur) { /* never in the past: run it now */
        ev_t c = *e;
        c.t = q->cur;
        slot_append(q, &c);
    } else if (e->t < q->cur + WHEEL) {
        slot_append(q, e);
    } else {
        far_push(q, e);
    }
}

bool stage__sim_queue_pop(stage__sim_queue_t *q, uint64_t until, ev_t *out) {
    for (;;) {
        uint32_t s = (uint32_t)(q->cur & (WHEEL - 1)), i = q->head[s];
        if (i != NIL) {
            *out = q->nodes[i].ev;
            q->head[s] = q->nodes[i].next;
            if (q->head[s] == NIL) q->tail[s] = NIL;
            q->nodes[i].next = q->free;
            q->free = i;
            q->inwheel--;
            return true;
        }
        if (q->cur >= until) return false;
        if (q->inwheel == 0) { /* nothing near: jump to the next far event */
            if (!q->nfar || q->far[0].t > until) {
                q->cur = until;
                return false;
            }
            q->cur = q->far[0].t;
        } else {
            q->cur++;
        }
        migrate(q);
    }
}

void stage__sim_queue_each(stage__sim_queue_t *q,
                           void (*fn)(ev_t *e, void *arg), void *arg) {
    for (uint32_t s = 0; s < WHEEL; s++)
        for (uint32_t i = q->head[s]; i != NIL; i = q->nodes[i].next)
            fn(&q->nodes[i].ev, arg);
    for (size_t i = 0; i < q->nfar; i++)
        fn(&q->far[i], arg);
}

void stage__sim_queue_free(stage__sim_queue_t *q) {
    stage__free(q->head);
    stage__free(q->tail);
    stage__free(q->nodes);
    stage__free(q->far);
}
