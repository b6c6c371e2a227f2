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

static int cmp(const entry_t *e, uint64_t key, uint64_t sub) {
    if (e->key != key) return e->key < key ? -1 : 1;
    if (e->sub != sub) return e->sub < sub ? -1 : 1;
    return 0;
}

etab_it_t stage__etab_lower(const etable_t *t, uint64_t key, uint64_t sub) {
    size_t lo = 0, hi = t->nc; /* the first chunk whose last is >= */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const etab_chunk_t *ch = t->c[mid];
        if (cmp(&ch->v[ch->n - 1], key, sub) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->nc) return (etab_it_t){t->nc, 0};
    const etab_chunk_t *ch = t->c[lo];
    size_t a = 0, b = ch->n - 1; /* the last one is >=: the answer is in */
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (cmp(&ch->v[mid], key, sub) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    return (etab_it_t){lo, a};
}

/* Make room for one more chunk pointer at c: 0, or -1 (no memory). */
static int open_slot(etable_t *t, size_t c) {
    if (t->nc == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4;
        etab_chunk_t **v = stage__realloc(t->c, cap * sizeof *v);
        if (!v) return -1;
        t->c = v;
        t->cap = cap;
    }
    memmove(&t->c[c + 1], &t->c[c], (t->nc - c) * sizeof *t->c);
    t->nc++;
    return 0;
}

/* Drop chunk pointer c (the chunk is freed or merged already). */
static void close_slot(etable_t *t, size_t c) {
    memmove(&t->c[c], &t->c[c + 1], (t->nc - c - 1) * sizeof *t->c);
    t->nc--;
}

/* Split full chunk c: its upper half goes to a new chunk after it. */
static int split(etable_t *t, size_t c) {
    etab_chunk_t *nw = stage__malloc(sizeof *nw);
    if (!nw) return -1;
    if (open_slot(t, c + 1)) {
        stage__free(nw);
        return -1;
    }
    etab_chunk_t *ch = t->c[c];
    nw->n = ch->n - HALF;
    memcpy(nw->v, &ch->v[HALF], nw->n * sizeof(entry_t));
    ch->n = HALF;
    t->c[c + 1] = nw;
    return 0;
}

/* Append an empty chunk (the caller fills it at once): 0, or -1. */
static int add_last(etable_t *t) {
    etab_chunk_t *ch = stage__malloc(sizeof *ch);
    if (!ch || open_slot(t, t->nc)) {
        stage__free(ch);
        return -1;
    }
    ch->n = 0;
    t->c[t->nc - 1] = ch;
    return 0;
}

entry_t *stage__etab_insert(etable_t *t, etab_it_t it, const entry_t *e) {
    if (t->nc == 0) {
        if (add_last(t)) return NULL;
        it = (etab_it_t){0, 0};
    } else if (it.c == t->nc ||
               (it.i == 0 && it.c > 0 && t->c[it.c - 1]->n < ETAB_CHUNK)) {
        /* at the end, or between two chunks: at the end of the first
        ** (ascending keys then fill chunks instead of splitting each) */
        it.c--;
        it.i = t->c[it.c]->n;
    }
    if (t->c[it.c]->n == ETAB_CHUNK && it.c == t->nc - 1 &&
        it.i == ETAB_CHUNK) {
        /* past the last entry: a new chunk, so that ascending keys fill
        ** their chunks (a split would leave them half full) */
        if (add_last(t)) return NULL;
        it = (etab_it_t){t->nc - 1, 0};
    } else if (t->c[it.c]->n == ETAB_CHUNK) {
        if (split(t, it.c)) return NULL;
        if (it.i > HALF) {
            it.c++;
            it.i -= HALF;
        }
    }
    etab_chunk_t *ch = t->c[it.c];
    assert(it.i <= ch->n);
    memmove(&ch->v[it.i + 1], &ch->v[it.i], (ch->n - it.i) * sizeof(entry_t));
    ch->v[it.i] = *e;
    ch->n++;
    t->n++;
    return &ch->v[it.i];
}

/* Append chunk c + 1 to chunk c (they fit in one) and free it. */
static void merge(etable_t *t, size_t c) {
    etab_chunk_t *a = t->c[c], *b = t->c[c + 1];
    assert(a->n + b->n <= ETAB_CHUNK);
    memcpy(&a->v[a->n], b->v, b->n * sizeof(entry_t));
    a->n += b->n;
    stage__free(b);
    close_slot(t, c + 1);
}

void stage__etab_remove(etable_t *t, etab_it_t *it) {
    etab_chunk_t *ch = t->c[it->c];
    assert(it->i < ch->n);
    memmove(&ch->v[it->i], &ch->v[it->i + 1],
            (ch->n - it->i - 1) * sizeof(entry_t));
    ch->n--;
    t->n--;
    if (ch->n == 0) {
        /* its neighbours held more than HALF with its one entry: they
        ** hold more than HALF together */
        stage__free(ch);
        close_slot(t, it->c);
        it->i = 0;
        return;
    }
    if (it->c > 0 && t->c[it->c - 1]->n + ch->n <= HALF) {
        size_t before = t->c[it->c - 1]->n;
        merge(t, it->c - 1);
        it->c--;
        it->i += before;
    }
    if (it->c + 1 < t->nc && t->c[it->c]->n + t->c[it->c + 1]->n <= HALF)
        merge(t, it->c); /* the position is unchanged, even at the end */
    if (it->i == t->c[it->c]->n) {
        it->c++;
        it->i = 0;
    }
}

/* Restore the invariants after chunks were thinned in place. */
static void rebalance(etable_t *t) {
    size_t w = 0;
    for (size_t c = 0; c < t->nc; c++) {
        etab_chunk_t *ch = t->c[c];
        if (ch->n == 0) {
            stage__free(ch);
        } else if (w > 0 && t->c[w - 1]->n + ch->n <= HALF) {
            etab_chunk_t *a = t->c[w - 1];
            memcpy(&a->v[a->n], ch->v, ch->n * sizeof(entry_t));
            a->n += ch->n;
            stage__free(ch);
        } else {
            t->c[w++] = ch;
        }
    }
    t->nc = w;
}

void stage__etab_filter(etable_t *t, bool (*keep)(entry_t *e, void *arg),
                        void *arg) {
    for (size_t c = 0; c < t->nc; c++) {
        etab_chunk_t *ch = t->c[c];
        size_t w = 0;
        for (size_t i = 0; i < ch->n; i++)
            if (keep(&ch->v[i], arg)) ch->v[w++] = ch->v[i];
        t->n -= ch->n - w;
        ch->n = w;
    }
    rebalance(t);
}

void stage__etab_free(etable_t *t) {
    for (size_t c = 0; c < t->nc; c++)
        stage__free(t->c[c]);
    stage__free(t->c);
    memset(t, 0, sizeof *t);
}
