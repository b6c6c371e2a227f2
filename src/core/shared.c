/*
** core/shared.c: the shared information of a node (thesis 5.3.1): serial ->
** theatre for actors living away from their birth theatre.
**
** Fine-grained locking as in the thesis: SHARED_STRIPES stripes, each a
** mutex and an open-addressing table. A theatre changes one entry at a time
** (an actor arriving or leaving), so stripes almost never contend. Lookups
** happen only when a message misses its theatre, never on the fast path.
*/
#include <stdlib.h>

#include "core/node.h"

#define EMPTY 0
#define DELETED UINT64_MAX

static stage__shared_stripe_t *stripe_of(stage_node_t *n, uint64_t serial) {
    return &n->shared[(serial >> STAGE_THEATRE_BITS) % SHARED_STRIPES];
}

static uint32_t home(uint64_t serial, uint32_t cap) {
    return (uint32_t)(serial * 0x9E3779B97F4A7C15ull >> 40) & (cap - 1);
}

void stage__shared_init(stage_node_t *n) {
    for (int i = 0; i < SHARED_STRIPES; i++)
        pthread_mutex_init(&n->shared[i].lock, NULL);
}

void stage__shared_free(stage_node_t *n) {
    for (int i = 0; i < SHARED_STRIPES; i++) {
        free(n->shared[i].keys);
        free(n->shared[i].vals);
        pthread_mutex_destroy(&n->shared[i].lock);
    }
}

/* Slot of serial in s, or of the first free slot on its probe path. */
static uint32_t probe(const stage__shared_stripe_t *s, uint64_t serial,
                      int *found) {
    uint32_t i = home(serial, s->cap), free_slot = UINT32_MAX;
    for (uint32_t k = 0; k < s->cap; k++, i = (i + 1) & (s->cap - 1)) {
        if (s->keys[i] == serial) {
            *found = 1;
            return i;
        }
        if (s->keys[i] == DELETED && free_slot == UINT32_MAX) free_slot = i;
        if (s->keys[i] == EMPTY) break;
    }
    *found = 0;
    return free_slot != UINT32_MAX ? free_slot : i;
}

static int grow(stage__shared_stripe_t *s) {
    uint32_t cap = s->cap ? s->cap * 2 : 16;
    uint64_t *keys = calloc(cap, sizeof *keys);
    int *vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return STAGE_ENOMEM;
    }
    for (uint32_t i = 0; i < s->cap; i++) {
        if (s->keys[i] == EMPTY || s->keys[i] == DELETED) continue;
        uint32_t j = home(s->keys[i], cap);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = s->keys[i];
        vals[j] = s->vals[i];
    }
    free(s->keys);
    free(s->vals);
    s->keys = keys;
    s->vals = vals;
    s->cap = cap;
    return 0;
}

int stage__shared_lookup(stage_node_t *n, uint64_t serial) {
    stage__shared_stripe_t *s = stripe_of(n, serial);
    int found = 0, theatre = -1;
    pthread_mutex_lock(&s->lock);
    if (s->cap) {
        uint32_t i = probe(s, serial, &found);
        if (found) theatre = s->vals[i];
    }
    pthread_mutex_unlock(&s->lock);
    return theatre;
}

void stage__shared_set(stage_node_t *n, uint64_t serial, int theatre) {
    stage__shared_stripe_t *s = stripe_of(n, serial);
    int found = 0;
    pthread_mutex_lock(&s->lock);
    if ((s->count + 1) * 2 > s->cap && grow(s)) {
        pthread_mutex_unlock(&s->lock);
        return; /* out of memory: the actor stays reachable by its birth
                ** theatre's forwarding only */
    }
    uint32_t i = probe(s, serial, &found);
    if (!found) s->count++;
    s->keys[i] = serial;
    s->vals[i] = theatre;
    pthread_mutex_unlock(&s->lock);
}

void stage__shared_remove(stage_node_t *n, uint64_t serial) {
    stage__shared_stripe_t *s = stripe_of(n, serial);
    int found = 0;
    pthread_mutex_lock(&s->lock);
    if (s->cap) {
        uint32_t i = probe(s, serial, &found);
        if (found) {
            s->keys[i] = DELETED;
            s->count--;
        }
    }
    pthread_mutex_unlock(&s->lock);
}
