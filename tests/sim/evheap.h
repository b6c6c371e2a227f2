/*
** tests/sim/evheap.h: the event queue of the simulators — a binary
** min-heap of ev_t ordered by (at, seq), where seq is the order the
** events were scheduled in, so events due at one instant run in that
** order and a seed replays exactly. Included by a simulator after it
** defines ev_t with fields `uint64_t at, seq`; it owns heap, nheap and
** evseq (a new seed sets nheap and evseq to 0).
*/
#ifndef STAGE_TESTS_SIM_EVHEAP_H
#define STAGE_TESTS_SIM_EVHEAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static ev_t *heap;
static size_t nheap, capheap;
static uint64_t evseq;

/* Whether a runs before b. */
static bool ev_less(const ev_t *a, const ev_t *b) {
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* Schedule e (its seq is set here). */
static void push(ev_t e) {
    if (nheap == capheap) {
        capheap = capheap ? capheap * 2 : 1024;
        heap = realloc(heap, capheap * sizeof *heap);
        if (!heap) {
            fprintf(stderr, "simulator: out of memory\n");
            exit(2);
        }
    }
    e.seq = evseq++;
    size_t i = nheap++;
    while (i && ev_less(&e, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = e;
}

/* The next event (there is one: nheap > 0). */
static ev_t pop(void) {
    ev_t top = heap[0], last = heap[--nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        const ev_t *cur = &last;
        if (l < nheap && ev_less(&heap[l], cur)) s = l, cur = &heap[l];
        if (r < nheap && ev_less(&heap[r], cur)) s = r;
        if (s == i) break;
        heap[i] = heap[s];
        i = s;
    }
    if (nheap) heap[i] = last;
    return top;
}

#endif
