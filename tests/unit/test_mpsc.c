/* tests/unit/test_mpsc.c: the multi-producer single-consumer queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/mpsc.h"

typedef struct item {
    stage__mpsc_node_t link;
    int producer;
    int seq;
} item_t;

static void mpsc_empty_queue_pops_nothing(void **state) {
    (void)state;
    stage__mpsc_t q;
    stage__mpsc_init(&q);
    assert_true(stage__mpsc_empty(&q));
    assert_null(stage__mpsc_pop(&q));
}

static void mpsc_single_producer_keeps_fifo_order(void **state) {
    (void)state;
    stage__mpsc_t q;
    stage__mpsc_init(&q);
    item_t items[100];
    for (int i = 0; i < 100; i++) {
        items[i].seq = i;
        stage__mpsc_push(&q, &items[i].link);
    }
    assert_false(stage__mpsc_empty(&q));
    for (int i = 0; i < 100; i++) {
        item_t *it = (item_t *)stage__mpsc_pop(&q);
        assert_non_null(it);
        assert_int_equal(it->seq, i);
    }
    assert_null(stage__mpsc_pop(&q));
    assert_true(stage__mpsc_empty(&q));
}

static void mpsc_reuses_nodes_after_draining(void **state) {
    (void)state;
    stage__mpsc_t q;
    stage__mpsc_init(&q);
    item_t a = {.seq = 1}, b = {.seq = 2};
    for (int round = 0; round < 3; round++) {
        stage__mpsc_push(&q, &a.link);
        assert_ptr_equal(stage__mpsc_pop(&q), &a.link);
        stage__mpsc_push(&q, &b.link);
        stage__mpsc_push(&q, &a.link);
        assert_ptr_equal(stage__mpsc_pop(&q), &b.link);
        assert_ptr_equal(stage__mpsc_pop(&q), &a.link);
        assert_null(stage__mpsc_pop(&q));
    }
}

#define PRODUCERS 4
#define PER_PRODUCER 200000

typedef struct producer_arg {
    stage__mpsc_t *q;
    item_t *items;
    int id;
} producer_arg_t;

static void *produce(void *arg) {
    producer_arg_t *pa = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        pa->items[i].producer = pa->id;
        pa->items[i].seq = i;
        stage__mpsc_push(pa->q, &pa->items[i].link);
    }
    return NULL;
}

static void
mpsc_concurrent_producers_lose_nothing_and_keep_each_order(void **state) {
    (void)state;
    stage__mpsc_t q;
    stage__mpsc_init(&q);
    pthread_t th[PRODUCERS];
    producer_arg_t args[PRODUCERS];
    int next[PRODUCERS] = {0};
    for (int p = 0; p < PRODUCERS; p++) {
        args[p] = (producer_arg_t){&q, calloc(PER_PRODUCER, sizeof(item_t)), p};
        assert_non_null(args[p].items);
        assert_int_equal(pthread_create(&th[p], NULL, produce, &args[p]), 0);
    }
    long received = 0;
    while (received < (long)PRODUCERS * PER_PRODUCER) {
        item_t *it = (item_t *)stage__mpsc_pop(&q);
        if (!it) continue; /* a push may be half done: try again */
        assert_int_equal(it->seq, next[it->producer]);
        next[it->producer]++;
        received++;
    }
    for (int p = 0; p < PRODUCERS; p++) {
        pthread_join(th[p], NULL);
        assert_int_equal(next[p], PER_PRODUCER);
        free(args[p].items);
    }
    assert_null(stage__mpsc_pop(&q));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mpsc_empty_queue_pops_nothing),
        cmocka_unit_test(mpsc_single_producer_keeps_fifo_order),
        cmocka_unit_test(mpsc_reuses_nodes_after_draining),
        cmocka_unit_test(
            mpsc_concurrent_producers_lose_nothing_and_keep_each_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
