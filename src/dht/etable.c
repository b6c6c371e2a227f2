/*
** dht/etable.c: the ordered table of entries, a list of sorted chunks
** (see etable.h for its invariants and the rule on pointers).
** Pure data structure: no I/O, one thread.
*/
#include <assert.h>
#include <string.h>

#include "etable.h"
#include "util/alloc.h"

#define HALF (ETAB_CHUNK / 2)

/* e against (key, sub): -1, 0 or 1. */
static int cmp(const entry_t *e, uint64_t key, uint64_t sub) {
    if (e->key != key) return e->key < key ? -1 : 1;
    if (e->sub != sub) return e->sub < sub ? -1 : 1;
    return 0;
}

/* Slot c's last entry < (key, sub)? */
static bool below(const etab_slot_t *s, uint64_t key, uint64_t sub) {
    return s->key != key ? s->key < key : s->sub < sub;
}

/* Slot c changed: take its bound from its last entry. */
static void bound(etable_t *t, size_t c) {
    etab_slot_t *s = &t->c[c];
    assert(s->n > 0);
    s->key = s->ch->v[s->n - 1].key;
    s->sub = s->ch->v[s->n - 1].sub;
}

etab_it_t stage__etab_lower(const etable_t *t, uint64_t key, uint64_t sub) {
    size_t lo = 0, hi = t->nc; /* the first chunk whose last is >= */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (below(&t->c[mid], key, sub))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->nc) return (etab_it_t){t->nc, 0};
    const entry_t *v = t->c[lo].ch->v;
    size_t a = 0, b = t->c[lo].n - 1; /* the last one is >=: it is in */
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (cmp(&v[mid], key, sub) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    return (etab_it_t){lo, a};
}

/* Make room for one more slot at c, its chunk allocated and empty: 0, or
** -1 (no memory, nothing changed). */
static int open_slot(etable_t *t, size_t c) {
    if (t->nc == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4;
        etab_slot_t *v = stage__realloc(t->c, cap * sizeof *v);
        if (!v) return -1;
        t->c = v;
        t->cap = cap;
    }
    etab_chunk_t *ch = stage__malloc(sizeof *ch);
    if (!ch) return -1;
    memmove(&t->c[c + 1], &t->c[c], (t->nc - c) * sizeof *t->c);
    t->nc++;
    t->c[c] = (etab_slot_t){0, 0, 0, ch};
    return 0;
}

/* Free slot c's chunk and drop the slot. */
static void close_slot(etable_t *t, size_t c) {
    stage__free(t->c[c].ch);
    memmove(&t->c[c], &t->c[c + 1], (t->nc - c - 1) * sizeof *t->c);
    t->nc--;
}

/* Split full chunk c: its upper half goes to a new chunk after it. */
static int split(etable_t *t, size_t c) {
    if (open_slot(t, c + 1)) return -1;
    etab_slot_t *a = &t->c[c], *b = &t->c[c + 1];
    b->n = a->n - HALF;
    memcpy(b->ch->v, &a->ch->v[HALF], b->n * sizeof(entry_t));
    a->n = HALF;
    bound(t, c);
    bound(t, c + 1);
    return 0;
}

entry_t *stage__etab_insert(etable_t *t, etab_it_t it, const entry_t *e) {
    if (t->nc == 0) {
        if (open_slot(t, 0)) return NULL;
        it = (etab_it_t){0, 0};
    } else if (it.c == t->nc ||
               (it.i == 0 && it.c > 0 && t->c[it.c - 1].n < ETAB_CHUNK)) {
        /* at the end, or between two chunks: at the end of the first
        ** (ascending keys then fill chunks instead of splitting each) */
        it.c--;
        it.i = t->c[it.c].n;
    }
    if (t->c[it.c].n == ETAB_CHUNK && it.c == t->nc - 1 && it.i == ETAB_CHUNK) {
        /* past the last entry: a new chunk, so that ascending keys fill
        ** their chunks (a split would leave them half full) */
        if (open_slot(t, t->nc)) return NULL;
        it = (etab_it_t){t->nc - 1, 0};
    } else if (t->c[it.c].n == ETAB_CHUNK) {
        if (split(t, it.c)) return NULL;
        if (it.i > HALF) {
            it.c++;
            it.i -= HALF;
        }
    }
    etab_slot_t *s = &t->c[it.c];
    assert(it.i <= s->n);
    memmove(&s->ch->v[it.i + 1], &s->ch->v[it.i],
            (s->n - it.i) * sizeof(entry_t));
    s->ch->v[it.i] = *e;
    s->n++;
    t->n++;
    bound(t, it.c);
    return &s->ch->v[it.i];
}

/* Append chunk c + 1 to chunk c (they fit in one) and free it. */
static void merge(etable_t *t, size_t c) {
    etab_slot_t *a = &t->c[c], *b = &t->c[c + 1];
    assert(a->n + b->n <= ETAB_CHUNK);
    memcpy(&a->ch->v[a->n], b->ch->v, b->n * sizeof(entry_t));
    a->n += b->n;
    close_slot(t, c + 1);
    bound(t, c);
}

void stage__etab_remove(etable_t *t, etab_it_t *it) {
    etab_slot_t *s = &t->c[it->c];
    assert(it->i < s->n);
    memmove(&s->ch->v[it->i], &s->ch->v[it->i + 1],
            (s->n - it->i - 1) * sizeof(entry_t));
    s->n--;
    t->n--;
    if (s->n == 0) {
        /* its neighbours held more than HALF with its one entry: they
        ** hold more than HALF together */
        close_slot(t, it->c);
        it->i = 0;
        return;
    }
    bound(t, it->c);
    if (it->c > 0 && t->c[it->c - 1].n + s->n <= HALF) {
        size_t before = t->c[it->c - 1].n;
        merge(t, it->c - 1);
        it->c--;
        it->i += before;
    }
    if (it->c + 1 < t->nc && t->c[it->c].n + t->c[it->c + 1].n <= HALF)
        merge(t, it->c); /* the position is unchanged, even at the end */
    if (it->i == t->c[it->c].n) {
        it->c++;
        it->i = 0;
    }
}

/* Restore the invariants after chunks were thinned in place. */
static void rebalance(etable_t *t) {
    size_t w = 0;
    for (size_t c = 0; c < t->nc; c++) {
        etab_slot_t *s = &t->c[c];
        if (s->n == 0) {
            stage__free(s->ch);
        } else if (w > 0 && t->c[w - 1].n + s->n <= HALF) {
            etab_slot_t *a = &t->c[w - 1];
            memcpy(&a->ch->v[a->n], s->ch->v, s->n * sizeof(entry_t));
            a->n += s->n;
            stage__free(s->ch);
            bound(t, w - 1);
        } else {
            t->c[w] = *s;
            bound(t, w++);
        }
    }
    t->nc = w;
}

void stage__etab_filter(etable_t *t, bool (*keep)(entry_t *e, void *arg),
                        void *arg) {
    for (size_t c = 0; c < t->nc; c++) {
        etab_slot_t *s = &t->c[c];
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++)
            if (keep(&s->ch->v[i], arg)) s->ch->v[w++] = s->ch->v[i];
        t->n -= s->n - w;
        s->n = w;
    }
    rebalance(t);
}

void stage__etab_free(etable_t *t) {
    for (size_t c = 0; c < t->nc; c++)
        stage__free(t->c[c].ch);
    stage__free(t->c);
    memset(t, 0, sizeof *t);
}
