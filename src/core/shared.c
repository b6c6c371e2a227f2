/*
** core/shared.c: the shared information of a node (thesis 5.3.1): serial ->
** theatre for actors living away from their birth theatre.
**
** Fine-grained locking as in the thesis: SHARED_STRIPES stripes, each a
** mutex and a map. A theatre changes one entry at a time (an actor
** arriving or leaving), so stripes almost never contend. Lookups happen
** only when a message misses its theatre, never on the fast path.
*/
#include <stdint.h>

#include "node_internal.h"

static stage__shared_stripe_t *stripe_of(stage_node_t *n, uint64_t serial) {
    return &n->shared[(serial >> STAGE_THEATRE_BITS) % SHARED_STRIPES];
}

void stage__shared_init(stage_node_t *n) {
    for (int i = 0; i < SHARED_STRIPES; i++)
        pthread_mutex_init(&n->shared[i].lock, NULL);
}

void stage__shared_free(stage_node_t *n) {
    for (int i = 0; i < SHARED_STRIPES; i++) {
        stage__u64map_free(&n->shared[i].map);
        pthread_mutex_destroy(&n->shared[i].lock);
    }
}

int stage__shared_lookup(stage_node_t *n, uint64_t serial) {
    stage__shared_stripe_t *s = stripe_of(n, serial);
    pthread_mutex_lock(&s->lock);
    uintptr_t v = (uintptr_t)stage__u64map_get(&s->map, serial);
    pthread_mutex_unlock(&s->lock);
    return (int)v - 1; /* -1: not moved */
}

void stage__shared_set(stage_node_t *n, uint64_t serial, int theatre) {
    stage__shared_stripe_t *s = stripe_of(n, serial);
    pthread_mutex_lock(&s->lock);
    /* out of memory: the actor stays reachable through its birth
    ** theatre's forwarding only */
    (void)stage__u64map_put(&s->map, serial, (void *)(uintptr_t)(theatre + 1));
    pthread_mutex_unlock(&s->lock);
}

void stage__shared_remove(stage_node_t *n, uint64_t serial) {
    stage__shared_stripe_t *s = stripe_of(n, serial);
    pthread_mutex_lock(&s->lock);
    stage__u64map_take(&s->map, serial);
    pthread_mutex_unlock(&s->lock);
}
