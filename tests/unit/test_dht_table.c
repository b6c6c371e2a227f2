/*
** tests/unit/test_dht_table.c: the manager's entry table (etable.c, and
** table.c's walks over it) — inserts, removals at a position, filters,
** lookups and range walks checked against a plain model (a sorted array,
** as the table was before the chunks) through random changes over many
** seeds, with the chunks' invariants after every step.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht_internal.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "test_rng.h"

#define MODEL_MAX 6000

typedef struct model {
    etable_t t;
    entry_t v[MODEL_MAX]; /* sorted by (key, sub) */
    size_t n;
    uint64_t rng;
    uint64_t keys; /* keys drawn from [0, keys): small gives many subs */
} model_t;

static uint64_t rnd(model_t *m) {
    return test_xorshift(&m->rng);
}

static int cmp2(const entry_t *e, uint64_t key, uint64_t sub) {
    if (e->key != key) return e->key < key ? -1 : 1;
    if (e->sub != sub) return e->sub < sub ? -1 : 1;
    return 0;
}

/* The model's index of the first entry >= (key, sub). */
static size_t model_lower(const model_t *m, uint64_t key, uint64_t sub) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp2(&m->v[mid], key, sub) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Allocations left before one fails (-1: none fails). */
static int fail_after = -1;

static bool fail_now(void) {
    return fail_after >= 0 && fail_after-- == 0;
}
static void *t_malloc(size_t n) {
    return fail_now() ? NULL : malloc(n);
}
static void *t_realloc(void *p, size_t n) {
    return fail_now() ? NULL : realloc(p, n);
}
static void *t_calloc(size_t c, size_t n) {
    return fail_now() ? NULL : calloc(c, n);
}
static void t_free(void *p) {
    free(p);
}

/* The table holds what the model holds, in order, and keeps its
** invariants: no empty chunk, neighbours more than half a chunk, each
** slot's bound its chunk's last entry. */
static void check(const model_t *m) {
    assert_int_equal(m->t.n, m->n);
    size_t k = 0, total = 0;
    for (size_t c = 0; c < m->t.nc; c++) {
        const etab_slot_t *sl = &m->t.c[c];
        assert_true(sl->n > 0);
        assert_true(sl->n <= ETAB_CHUNK);
        if (c > 0) assert_true(m->t.c[c - 1].n + sl->n > ETAB_CHUNK / 2);
        /* the bound the search reads is the chunk's last entry */
        assert_true(sl->key == sl->ch->v[sl->n - 1].key &&
                    sl->sub == sl->ch->v[sl->n - 1].sub);
        total += sl->n;
    }
    assert_int_equal(total, m->n);
    etab_it_t it = {0, 0};
    for (entry_t *e = stage__etab_at(&m->t, it); e;
         e = stage__etab_next(&m->t, &it), k++) {
        assert_true(k < m->n);
        assert_true(e->key == m->v[k].key && e->sub == m->v[k].sub);
        assert_true(e->owner == m->v[k].owner);
    }
    assert_int_equal(k, m->n);
}

/* The table's position it is the model's index i. */
static void assert_same_place(const model_t *m, etab_it_t it, size_t i) {
    entry_t *e = stage__etab_at(&m->t, it);
    if (i == m->n) {
        assert_null(e);
        return;
    }
    assert_non_null(e);
    assert_true(e->key == m->v[i].key && e->sub == m->v[i].sub);
}

static void insert(model_t *m) {
    if (m->n == MODEL_MAX) return;
    uint64_t key = rnd(m) % m->keys, sub = rnd(m) % 4;
    size_t i = model_lower(m, key, sub);
    etab_it_t it = stage__etab_lower(&m->t, key, sub);
    assert_same_place(m, it, i);
    if (i < m->n && cmp2(&m->v[i], key, sub) == 0) return; /* present */
    entry_t e = {.key = key, .sub = sub, .owner = rnd(m)};
    entry_t *got = stage__etab_insert(&m->t, it, &e);
    assert_non_null(got);
    assert_true(got->key == key && got->sub == sub && got->owner == e.owner);
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(entry_t));
    m->v[i] = e;
    m->n++;
}

/* Remove a run of entries from a random place, as RF_REPLACE does: the
** position given back is the entry that followed. */
static void remove_run(model_t *m) {
    if (!m->n) return;
    uint64_t key = rnd(m) % m->keys;
    size_t i = model_lower(m, key, 0);
    etab_it_t it = stage__etab_lower(&m->t, key, 0);
    size_t run = 1 + rnd(m) % 8;
    while (run-- && i < m->n) {
        if (rnd(m) % 3 == 0) { /* skip one */
            stage__etab_next(&m->t, &it);
            i++;
        } else {
            stage__etab_remove(&m->t, &it);
            memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(entry_t));
            m->n--;
        }
        assert_same_place(m, it, i);
    }
}

static bool keep_odd_owner(entry_t *e, void *arg) {
    (void)arg;
    return e->owner & 1;
}

static void filter(model_t *m) {
    stage__etab_filter(&m->t, keep_odd_owner, NULL);
    size_t w = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].owner & 1) m->v[w++] = m->v[i];
    m->n = w;
}

/* Random inserts and removals (and now and then a filter) over many
** seeds; the table and the model agree after every step. */
static void table_matches_sorted_model_over_random_changes(void **state) {
    (void)state;
    model_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    for (uint64_t seed = 1; seed <= 60; seed++) {
        m->rng = seed * 0x9e3779b97f4a7c15ull;
        m->keys = seed % 3 == 0 ? 40 : 20000;
        m->n = 0;
        int steps = 10000;
        size_t peak = 0;
        for (int s = 0; s < steps; s++) {
            uint64_t r = rnd(m) % 1000;
            /* grow for the first half (a run removes 3 on average), then
            ** shrink */
            if (r < (s < steps / 2 ? 950u : 300u))
                insert(m);
            else
                remove_run(m);
            if (s % 1500 == 1499) filter(m); /* about half go */
            if (m->n > peak) peak = m->n;
            if (s % 97 == 0) check(m);
        }
        /* many chunks, or (40 keys of 4 subs) long runs of one key */
        assert_true(peak >= (m->keys == 40 ? 100u : 2000u));
        check(m);
        while (m->n)
            remove_run(m);
        check(m);
        assert_int_equal(m->t.nc, 0);
        stage__etab_free(&m->t);
    }
    free(m);
}

/* Keys stored in ascending order fill their chunks: a manager sent a
** sorted transfer does not hold half-empty chunks. */
static void table_ascending_inserts_fill_chunks(void **state) {
    (void)state;
    etable_t t = {0};
    for (uint64_t k = 0; k < 100 * ETAB_CHUNK; k++) {
        entry_t e = {.key = k};
        assert_non_null(
            stage__etab_insert(&t, stage__etab_lower(&t, k, 0), &e));
    }
    assert_int_equal(t.nc, 100);
    stage__etab_free(&t);
}

/* Removing most entries merges chunks: memory follows the entries. */
static void table_removals_merge_chunks(void **state) {
    (void)state;
    etable_t t = {0};
    size_t n = 50 * ETAB_CHUNK;
    for (uint64_t k = 0; k < n; k++) {
        entry_t e = {.key = k * 7919 % n};
        assert_non_null(
            stage__etab_insert(&t, stage__etab_lower(&t, e.key, 0), &e));
    }
    for (uint64_t k = 0; k < n; k++) {
        if (k % 10 == 0) continue;
        etab_it_t it = stage__etab_lower(&t, k, 0);
        assert_true(stage__etab_at(&t, it)->key == k);
        stage__etab_remove(&t, &it);
    }
    assert_int_equal(t.n, n / 10);
    /* neighbours hold more than half a chunk together */
    assert_true(t.nc <= 2 * t.n / (ETAB_CHUNK / 2) + 1);
    stage__etab_free(&t);
}

/* A manager alone, id 1 at "a:1". */
static stage_dht_t *one_manager(void) {
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = 1;
    c.address = "a:1";
    stage_dht_t *d;
    assert_int_equal(stage_dht_new(&d, &c, 0), 0);
    return d;
}

/* A manager holding random keys: the range walk over (lo, hi] gives what
** the whole table filtered by in_oc gave, in the same order (payloads
** carry entries in that order), for ranges that wrap, the whole ring,
** and the ends of the key space. */
static void table_range_walk_is_the_filtered_full_walk(void **state) {
    (void)state;
    stage_dht_t *d = one_manager();
    uint64_t rng = 88172645463325252ull;
    const uint64_t ends[] = {0, 1, UINT64_MAX, UINT64_MAX - 1};
    for (int i = 0; i < 3000; i++) {
        uint64_t x = test_xorshift(&rng);
        uint64_t key = i < 4 ? ends[i] : x;
        rec_t r = {key, (uint64_t)i % 3, 9, 0, 60000, 0, 0, NULL, false};
        assert_int_equal(stage__dht_store(d, &r, false), 0);
    }
    for (int q = 0; q < 400; q++) {
        uint64_t lo = test_xorshift(&rng), hi = lo * 0x9e3779b97f4a7c15ull;
        if (q % 5 == 1) hi = lo; /* the whole ring */
        if (q % 5 == 2) lo = ends[q % 4];
        if (q % 5 == 3) hi = ends[q % 4];
        etab_it_t it = {0, 0};
        rangeit_t r;
        entry_t *got = stage__dht_range_first(d, lo, hi, &r);
        size_t n = 0;
        for (entry_t *e = stage__etab_at(&d->table, it); e;
             e = stage__etab_next(&d->table, &it)) {
            if (!in_oc(e->key, lo, hi)) continue;
            assert_ptr_equal(got, e);
            got = stage__dht_range_next(d, &r);
            n++;
        }
        assert_null(got);
        if (lo == hi) assert_int_equal(n, d->table.n);
    }
    stage_dht_destroy(&d);
}

/* Inserts that need a new chunk or a bigger slot array, refused by the
** allocator at each of their allocations: NULL, and the table is as it
** was; the manager's store answers STAGE_ENOMEM and keeps nothing. */
static void table_insert_without_memory_changes_nothing(void **state) {
    (void)state;
    model_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->rng = 77;
    m->keys = 1u << 30;
    int refused = 0;
    for (int s = 0; s < 4000; s++) {
        uint64_t key = rnd(m) % m->keys;
        size_t i = model_lower(m, key, 0);
        if (i < m->n && m->v[i].key == key) continue;
        entry_t e = {.key = key, .owner = rnd(m)};
        fail_after = (int)(rnd(m) % 3);
        entry_t *got =
            stage__etab_insert(&m->t, stage__etab_lower(&m->t, key, 0), &e);
        fail_after = -1;
        if (got) {
            memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(entry_t));
            m->v[i] = e;
            m->n++;
        } else {
            refused++;
        }
        check(m);
    }
    assert_true(refused > 10); /* splits and new slot arrays were refused */
    assert_true(m->n > 2000);
    stage__etab_free(&m->t);
    free(m);

    stage_dht_t *d = one_manager();
    rec_t r = {42, 0, 9, 0, 60000, 0, 5, "hello", false};
    fail_after = 0; /* the value's copy */
    assert_int_equal(stage__dht_store(d, &r, false), STAGE_ENOMEM);
    fail_after = 1; /* the table's first slots (the copy is freed) */
    assert_int_equal(stage__dht_store(d, &r, false), STAGE_ENOMEM);
    fail_after = -1;
    assert_null(stage__dht_find(d, 42, 0));
    assert_int_equal(stage__dht_store(d, &r, false), 0);
    assert_non_null(stage__dht_find(d, 42, 0));
    stage_dht_destroy(&d);
}

int main(void) {
    /* before anything is allocated: the hook cannot be swapped later */
    if (stage__alloc_replace(t_malloc, t_realloc, t_calloc, t_free)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_matches_sorted_model_over_random_changes),
        cmocka_unit_test(table_ascending_inserts_fill_chunks),
        cmocka_unit_test(table_removals_merge_chunks),
        cmocka_unit_test(table_range_walk_is_the_filtered_full_walk),
        cmocka_unit_test(table_insert_without_memory_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
