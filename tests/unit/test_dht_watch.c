/*
** tests/unit/test_dht_watch.c: watches held at a key's primary — a write
** tells every watcher of the key, in the order they first watched (while
** none has left), and no one else; a watch renewed is one watch; a lease
** not renewed ends it.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht.h"

#define R 3
#define LEASE 6000

static const char VALUE[] = "\xa5hello"; /* msgpack "hello" */

/* A manager alone on its ring (it is every key's primary), id 100. */
static stage_dht_t *alone(void) {
    stage_dht_config_t cfg;
    stage_dht_config_init(&cfg);
    cfg.id = 100;
    cfg.address = "m:1";
    cfg.replicas = R;
    cfg.lease_ms = LEASE;
    stage_dht_t *d = NULL;
    assert_int_equal(stage_dht_new(&d, &cfg, 1000), 0);
    return d;
}

/* The key the primary holds k under (watches name it). */
static uint64_t primary_key(uint64_t k) {
    return stage_dht_replica(k, stage_dht_primary_index(k, R), R);
}

/* Watcher number w (id 1000 + w, address "w<w>:1") watches k, request w. */
static void watch_in(stage_dht_t *d, uint64_t now, int w, uint64_t k) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_ROUTE;
    m.op = STAGE_DHT_OP_WATCH;
    m.to = 100;
    m.rid = (uint64_t)w;
    m.key = primary_key(k);
    m.arg = (uint64_t)w;
    m.from.id = 1000 + (uint64_t)w;
    snprintf(m.from.addr, sizeof(m.from.addr), "w%d:1", w);
    m.origin = m.from;
    stage_dht_recv(d, now, &m);
    size_t n;
    stage_dht_effects(d, &n); /* the answer: not what is tested here */
}

/* Put k at now; the watchers told, by request, in order, into told[]. */
static int put_and_events(stage_dht_t *d, uint64_t now, uint64_t k,
                          uint64_t *told, int max) {
    assert_int_equal(stage_dht_put(d, now, 1, k, 0, VALUE, sizeof(VALUE) - 1),
                     0);
    size_t n;
    int nt = 0;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    for (size_t i = 0; i < n; i++) {
        if (fx[i].kind != STAGE_DHT_FX_SEND ||
            fx[i].msg->type != STAGE_DHT_M_EVENT)
            continue;
        assert_true(nt < max);
        assert_true(fx[i].msg->key == primary_key(k));
        char addr[16];
        snprintf(addr, sizeof(addr), "w%d:1", (int)fx[i].msg->arg);
        assert_string_equal(fx[i].to_addr, addr);
        told[nt++] = fx[i].msg->arg;
    }
    return nt;
}

static void a_write_tells_the_watchers_of_its_key_in_order(void **st) {
    (void)st;
    stage_dht_t *d = alone();
    int order[] = {4, 1, 7, 2, 9, 3};
    for (int i = 0; i < 6; i++)
        watch_in(d, 1000, order[i], 77);
    watch_in(d, 1001, 5, 78); /* another key */
    watch_in(d, 1002, 7, 77); /* renewed: still one watch */
    uint64_t told[16];
    int nt = put_and_events(d, 1010, 77, told, 16);
    assert_int_equal(nt, 6);
    for (int i = 0; i < 6; i++)
        assert_true(told[i] == (uint64_t)order[i]);
    stage_dht_destroy(&d);
}

static void a_watch_not_renewed_ends_with_its_lease(void **st) {
    (void)st;
    stage_dht_t *d = alone();
    watch_in(d, 1000, 1, 77);
    watch_in(d, 1000, 2, 77);
    watch_in(d, 1000, 3, 77);
    watch_in(d, 1000 + LEASE / 2, 2, 77); /* 2 renews, 1 and 3 do not */
    stage_dht_tick(d, 1000 + LEASE + 1);
    size_t n;
    stage_dht_effects(d, &n);
    uint64_t told[16];
    int nt = put_and_events(d, 1000 + LEASE + 2, 77, told, 16);
    assert_int_equal(nt, 1);
    assert_true(told[0] == 2);
    watch_in(d, 1000 + LEASE + 3, 1, 77); /* 1 again: a new watch */
    nt = put_and_events(d, 1000 + LEASE + 4, 77, told, 16);
    assert_int_equal(nt, 2);
    assert_true(told[0] == 2 && told[1] == 1);
    stage_dht_destroy(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_write_tells_the_watchers_of_its_key_in_order),
        cmocka_unit_test(a_watch_not_renewed_ends_with_its_lease),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
