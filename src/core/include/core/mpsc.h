/*
** core/mpsc.h: intrusive multi-producer single-consumer queue (Vyukov's).
**
** Producers on any thread push; one consumer pops. Nodes are embedded in the
** queued objects. The queue holds a stub node so push is one atomic exchange
** and one store, never a loop.
**
** Invariant: head is only touched by the consumer; tail is the last node
** pushed (or the stub). A pop can see an empty queue while a push is half
** done (tail exchanged, next not yet linked): it returns NULL and the
** consumer tries again on its next pass; the producer's wake-up that follows
** every push guarantees that pass happens.
*/
#ifndef STAGE_CORE_MPSC_H
#define STAGE_CORE_MPSC_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct stage__mpsc_node {
    _Atomic(struct stage__mpsc_node *) next;
} stage__mpsc_node_t;

typedef struct stage__mpsc {
    _Atomic(stage__mpsc_node_t *) tail; /* producers */
    char pad[64 - sizeof(void *)];      /* keep producers off the consumer */
    stage__mpsc_node_t *head;           /* consumer */
    stage__mpsc_node_t stub;
} stage__mpsc_t;

static inline void stage__mpsc_init(stage__mpsc_t *q) {
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->tail, &q->stub);
    q->head = &q->stub;
}

/* Push n. Any thread. */
static inline void stage__mpsc_push(stage__mpsc_t *q, stage__mpsc_node_t *n) {
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* acq_rel: release publishes n's contents to the consumer; acquire
    ** orders us after the previous producer's link of prev. seq_cst is
    ** needed by the sleeper protocol in theatre.c (Dekker pairing with the
    ** consumer's store to its sleeping flag), so use it. */
    stage__mpsc_node_t *prev = atomic_exchange(&q->tail, n);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Pop the oldest node, or NULL. Consumer thread only. */
static inline stage__mpsc_node_t *stage__mpsc_pop(stage__mpsc_t *q) {
    stage__mpsc_node_t *head = q->head;
    stage__mpsc_node_t *next =
        atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &q->stub) {
        if (!next) return NULL;
        q->head = next;
        head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next) {
        q->head = next;
        return head;
    }
    /* head is the last node: park the stub behind it before taking it. */
    if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
        return NULL; /* a push is half done; retry later */
    stage__mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        q->head = next;
        return head;
    }
    return NULL;
}

/* 1 if nothing is queued and no push is under way. Consumer only. */
static inline int stage__mpsc_empty(stage__mpsc_t *q) {
    return q->head == &q->stub && atomic_load(&q->tail) == &q->stub;
}

#endif
