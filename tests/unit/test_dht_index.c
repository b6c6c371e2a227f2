/*
** tests/unit/test_dht_index.c: the DHT manager's timed index (index.c) —
** the earliest deadline, lookups by id and the due pass checked against a
** plain model (a vector scanned and swap-removed, as the manager did
** before the index) through thousands of random changes.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht_internal.h"
#include "test_rng.h"

#define NODES 600

typedef struct model {
    tindex_t x;
    tnode_t nodes[NODES]; /* nodes[i] has id i + 1 when live */
    bool live[NODES];
    tnode_t *vec[NODES]; /* the old vector: push, swap-remove */
    size_t n;
    uint64_t rng;
} model_t;

static uint64_t rnd(model_t *m) {
    return test_xorshift(&m->rng);
}

static void model_add(model_t *m, int i, uint64_t deadline) {
    tnode_t *n = &m->nodes[i];
    n->id = (uint64_t)i + 1;
    n->deadline = deadline;
    assert_int_equal(stage__dht_ix_add(&m->x, n), 0);
    m->live[i] = true;
    m->vec[m->n++] = n;
}

static void model_remove(model_t *m, tnode_t *n) {
    stage__dht_ix_remove(&m->x, n);
    m->live[n->id - 1] = false;
    for (size_t k = 0; k < m->n; k++)
        if (m->vec[k] == n) {
            m->vec[k] = m->vec[--m->n];
            return;
        }
    fail_msg("node %llu not in the model", (unsigned long long)n->id);
}

/* Everything the index answers agrees with the model. */
static void check(model_t *m) {
    uint64_t min = UINT64_MAX;
    assert_int_equal(m->x.list.n, m->n);
    assert_int_equal(m->x.heap.n, m->n);
    for (size_t k = 0; k < m->n; k++) {
        if (m->vec[k]->deadline < min) min = m->vec[k]->deadline;
        assert_ptr_equal(m->x.list.v[k], m->vec[k]); /* same order */
    }
    assert_true(stage__dht_ix_next(&m->x) == min);
    for (int i = 0; i < NODES; i++) {
        tnode_t *got = stage__dht_ix_get(&m->x, (uint64_t)i + 1);
        assert_ptr_equal(got, m->live[i] ? &m->nodes[i] : NULL);
    }
    for (size_t s = 1; s < m->x.heap.n; s++)
        assert_true(m->x.heap.v[(s - 1) / 2]->deadline <=
                    m->x.heap.v[s]->deadline);
}

static void model_init(model_t *m, uint64_t seed) {
    memset(m, 0, sizeof(*m));
    m->rng = seed;
}

static int free_slot(model_t *m) {
    int start = (int)(rnd(m) % NODES);
    for (int k = 0; k < NODES; k++)
        if (!m->live[(start + k) % NODES]) return (start + k) % NODES;
    return -1;
}

static void index_earliest_and_ids_follow_every_change(void **state) {
    (void)state;
    model_t *m = malloc(sizeof(*m));
    assert_non_null(m);
    model_init(m, 0x2545F4914F6CDD1Dull);
    for (int step = 0; step < 20000; step++) {
        uint64_t r = rnd(m) % 10;
        int i = free_slot(m);
        if ((r < 4 || m->n == 0) && i >= 0) {
            model_add(m, i, rnd(m) % 1000);
        } else if (r < 7 && m->n) { /* drop any one, as acked() does */
            model_remove(m, m->vec[rnd(m) % m->n]);
        } else if (m->n) { /* a retry or a busy answer moves it */
            tnode_t *n = m->vec[rnd(m) % m->n];
            stage__dht_ix_set(&m->x, n, rnd(m) % 1000);
        }
        if (step % 50 == 0) check(m);
    }
    check(m);
    while (m->n)
        model_remove(m, m->vec[m->n - 1]);
    check(m);
    stage__dht_ix_free(&m->x);
    free(m);
}

static void index_rekey_finds_a_hop_by_its_new_seq_only(void **state) {
    (void)state;
    model_t *m = malloc(sizeof(*m));
    assert_non_null(m);
    model_init(m, 99);
    model_add(m, 0, 10);
    model_add(m, 1, 20);
    stage__dht_ix_rekey(&m->x, &m->nodes[0], 5000);
    assert_null(stage__dht_ix_get(&m->x, 1));
    assert_ptr_equal(stage__dht_ix_get(&m->x, 5000), &m->nodes[0]);
    assert_ptr_equal(stage__dht_ix_get(&m->x, 2), &m->nodes[1]);
    stage__dht_ix_remove(&m->x, &m->nodes[0]);
    assert_null(stage__dht_ix_get(&m->x, 5000));
    assert_true(stage__dht_ix_next(&m->x) == 20);
    stage__dht_ix_free(&m->x);
    free(m);
}

/* What the pass does to a visited node, decided by its id and the pass:
** 0 retried (a later deadline), 1 removed, 2 retried and a new node added
** (a request whose retry reached a write decided here, which asks for
** copies). */
static int fate(const tnode_t *n, int pass) {
    return (int)((n->id * 2654435761u + (uint64_t)pass) % 3);
}

static void index_due_pass_visits_what_the_old_scan_did(void **state) {
    (void)state;
    model_t *m = malloc(sizeof(*m));
    tnode_t fresh = {0}; /* stands for a node added in a pass: not due */
    assert_non_null(m);
    model_init(m, 7);
    for (int pass = 0; pass < 300; pass++) {
        uint64_t now = (uint64_t)pass * 10;
        for (int k = 0; k < 20; k++) {
            int i = free_slot(m);
            if (i >= 0) model_add(m, i, now + rnd(m) % 200);
        }
        /* the old scan over a copy of the vector */
        tnode_t *vec[NODES];
        uint64_t dl[NODES];
        size_t n = m->n;
        memcpy(vec, m->vec, n * sizeof(*vec));
        for (int i = 0; i < NODES; i++)
            dl[i] = m->nodes[i].deadline;
        uint64_t want[NODES * 2], got[NODES * 2];
        size_t nwant = 0, ngot = 0;
        for (size_t k = 0; k < n;) {
            tnode_t *v = vec[k];
            if (v == &fresh || dl[v->id - 1] > now) {
                k++;
                continue;
            }
            want[nwant++] = v->id;
            int f = fate(v, pass);
            if (f == 1) {
                vec[k] = vec[--n];
                continue;
            }
            dl[v->id - 1] = now + 100;
            k++;
            if (f == 2 && n < NODES) vec[n++] = &fresh;
        }
        /* the due pass over the index, doing the same */
        tnode_t *t;
        stage__dht_ix_due(&m->x, now);
        while ((t = stage__dht_ix_due_next(&m->x)) != NULL) {
            got[ngot++] = t->id;
            int f = fate(t, pass);
            if (f == 1) {
                model_remove(m, t);
                continue;
            }
            stage__dht_ix_set(&m->x, t, now + 100);
            int i = free_slot(m);
            if (f == 2 && i >= 0) model_add(m, i, now + 50);
        }
        assert_int_equal(ngot, nwant);
        for (size_t k = 0; k < ngot; k++)
            assert_true(got[k] == want[k]);
        check(m);
    }
    while (m->n)
        model_remove(m, m->vec[0]);
    stage__dht_ix_free(&m->x);
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(index_earliest_and_ids_follow_every_change),
        cmocka_unit_test(index_rekey_finds_a_hop_by_its_new_seq_only),
        cmocka_unit_test(index_due_pass_visits_what_the_old_scan_did),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
