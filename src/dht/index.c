/*
** dht/index.c: the manager's timed indexes — its requests, decisions and
** pending hops, each found by id (u64 map), its deadlines in a min-heap.
** A node (tnode_t) sits first in the item it indexes. Three views:
**   list: every node, in the order the manager has always walked them
**         (added at the end, removed by moving the last into the hole);
**   heap: a binary min-heap by deadline; node->slot is where it is;
**   byid: id -> node.
** A due pass (ix_due, ix_due_next) visits the nodes whose deadline has
** come in list order — the order of the scans it replaced, so the
** manager's messages are the same — and touches only those. The one
** removal allowed during a pass is of the node just visited: the list's
** last node then moves into its place and, if it is due, comes next.
** Invariants: heap.v[i]->slot == i; list.v[i]->pos == i; every node is in
** all three views, or none.
** Pure logic: no I/O; one manager's thread.
*/
#include <assert.h>
#include <stdlib.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "util/alloc.h"

static bool earlier(const tnode_t *a, const tnode_t *b) {
    return a->deadline < b->deadline;
}

static void heap_put(tindex_t *x, size_t slot, tnode_t *n) {
    x->heap.v[slot] = n;
    n->slot = slot;
}

/* Move the node at slot towards the root while it is earlier. */
static void sift_up(tindex_t *x, size_t slot) {
    tnode_t *n = x->heap.v[slot];
    while (slot > 0) {
        size_t up = (slot - 1) / 2;
        if (!earlier(n, x->heap.v[up])) break;
        heap_put(x, slot, x->heap.v[up]);
        slot = up;
    }
    heap_put(x, slot, n);
}

/* Move the node at slot towards the leaves while a child is earlier. */
static void sift_down(tindex_t *x, size_t slot) {
    tnode_t *n = x->heap.v[slot];
    for (;;) {
        size_t c = 2 * slot + 1;
        if (c >= x->heap.n) break;
        if (c + 1 < x->heap.n && earlier(x->heap.v[c + 1], x->heap.v[c])) c++;
        if (!earlier(x->heap.v[c], n)) break;
        heap_put(x, slot, x->heap.v[c]);
        slot = c;
    }
    heap_put(x, slot, n);
}

int stage__dht_ix_add(tindex_t *x, tnode_t *n) {
    assert(n->id != 0 && stage__u64map_get(&x->byid, n->id) == NULL);
    if (stage__dht_grow((void **)&x->list.v, &x->list.cap, x->list.n,
                        sizeof(*x->list.v)) ||
        stage__dht_grow((void **)&x->heap.v, &x->heap.cap, x->heap.n,
                        sizeof(*x->heap.v)) ||
        stage__u64map_put(&x->byid, n->id, n))
        return STAGE_ENOMEM;
    n->pos = x->list.n;
    x->list.v[x->list.n++] = n;
    x->heap.n++;
    heap_put(x, x->heap.n - 1, n);
    sift_up(x, n->slot);
    return 0;
}

void stage__dht_ix_remove(tindex_t *x, tnode_t *n) {
    assert(n->pos < x->list.n && x->list.v[n->pos] == n);
    assert(n->slot < x->heap.n && x->heap.v[n->slot] == n);
    stage__u64map_take(&x->byid, n->id);
    tnode_t *last = x->list.v[--x->list.n];
    if (x->walking) {
        /* only the node just visited: its hole takes the list's last, which
        ** the old scan looked at next (were it due) */
        assert(x->due_at > 0 && x->due.v[x->due_at - 1] == n);
        if (last != n && x->due_at < x->due.n &&
            x->due.v[x->due.n - 1] == last) {
            x->due.v[--x->due_at] = last;
            x->due.n--;
        }
    }
    if (last != n) {
        last->pos = n->pos;
        x->list.v[n->pos] = last;
    }
    tnode_t *tail = x->heap.v[--x->heap.n];
    if (tail != n) {
        size_t slot = n->slot;
        heap_put(x, slot, tail);
        if (slot > 0 && earlier(tail, x->heap.v[(slot - 1) / 2]))
            sift_up(x, slot);
        else
            sift_down(x, slot);
    }
}

tnode_t *stage__dht_ix_get(const tindex_t *x, uint64_t id) {
    return stage__u64map_get(&x->byid, id);
}

void stage__dht_ix_rekey(tindex_t *x, tnode_t *n, uint64_t id) {
    assert(id != 0 && stage__u64map_get(&x->byid, n->id) == n);
    stage__u64map_take(&x->byid, n->id);
    n->id = id;
    /* the map held one more a moment ago: this put never grows it, and
    ** so never fails */
    int rc = stage__u64map_put(&x->byid, id, n);
    assert(rc == 0);
    (void)rc;
}

void stage__dht_ix_set(tindex_t *x, tnode_t *n, uint64_t deadline) {
    assert(n->slot < x->heap.n && x->heap.v[n->slot] == n);
    bool sooner = deadline < n->deadline;
    n->deadline = deadline;
    if (sooner)
        sift_up(x, n->slot);
    else
        sift_down(x, n->slot);
}

uint64_t stage__dht_ix_next(const tindex_t *x) {
    return x->heap.n ? x->heap.v[0]->deadline : UINT64_MAX;
}

static int by_pos(const void *a, const void *b) {
    size_t x = (*(tnode_t *const *)a)->pos, y = (*(tnode_t *const *)b)->pos;
    return x < y ? -1 : x > y;
}

void stage__dht_ix_due(tindex_t *x, uint64_t now) {
    assert(!x->walking);
    x->due.n = x->due_at = 0;
    x->walking = true;
    if (stage__dht_ix_next(x) > now ||
        stage__dht_grow((void **)&x->due.v, &x->due.cap, 0, sizeof(*x->due.v)))
        return;
    /* the due nodes are a subtree at the root: walk it breadth first,
    ** using the output as the queue. Out of memory, the ones found so far
    ** go now and the others at the next tick (the timer says now). */
    x->due.v[x->due.n++] = x->heap.v[0];
    for (size_t k = 0; k < x->due.n; k++) {
        size_t c = 2 * x->due.v[k]->slot + 1;
        for (size_t e = c + 2; c < e && c < x->heap.n; c++) {
            if (x->heap.v[c]->deadline > now) continue;
            if (stage__dht_grow((void **)&x->due.v, &x->due.cap, x->due.n,
                                sizeof(*x->due.v)))
                break;
            x->due.v[x->due.n++] = x->heap.v[c];
        }
    }
    qsort(x->due.v, x->due.n, sizeof(*x->due.v), by_pos);
}

tnode_t *stage__dht_ix_due_next(tindex_t *x) {
    if (x->due_at < x->due.n) return x->due.v[x->due_at++];
    x->walking = false;
    x->due.n = x->due_at = 0;
    return NULL;
}

void stage__dht_ix_free(tindex_t *x) {
    stage__free(x->list.v);
    stage__free(x->heap.v);
    stage__free(x->due.v);
    stage__u64map_free(&x->byid);
    x->list.v = x->heap.v = x->due.v = NULL;
    x->list.n = x->list.cap = x->heap.n = x->heap.cap = 0;
    x->due.n = x->due.cap = x->due_at = 0;
}
