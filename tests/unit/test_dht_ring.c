/*
** tests/unit/test_dht_ring.c: ring arithmetic, keys, replicas, the primary,
** and routing decisions (dht/route.c's next hop).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht_internal.h"
#include "dht/dht.h"
#include "stage/errors.h"

static void intervals_wrap_around_zero(void **state) {
    (void)state;
    assert_true(in_oc(5, 3, 5));
    assert_false(in_oc(3, 3, 5));
    assert_true(in_oc(1, UINT64_MAX - 2, 4)); /* (max-2, 4] wraps */
    assert_true(in_oc(UINT64_MAX, UINT64_MAX - 2, 4));
    assert_false(in_oc(10, UINT64_MAX - 2, 4));
    assert_true(in_oc(42, 7, 7)); /* (a, a] is the whole ring */
    assert_false(in_oo(5, 3, 5));
    assert_true(in_oo(4, 3, 5));
    assert_false(in_oo(7, 7, 7)); /* (a, a) is the ring without a */
    assert_true(in_oo(8, 7, 7));
}

static void replicas_are_evenly_spaced_and_primary_is_smallest(void **st) {
    (void)st;
    uint64_t k = 0xfedcba9876543210ull;
    uint64_t r0 = stage_dht_replica(k, 0, 3), r1 = stage_dht_replica(k, 1, 3),
             r2 = stage_dht_replica(k, 2, 3);
    assert_int_equal(r0, k);
    assert_int_equal(r1 - r0, 0x5555555555555555ull);
    assert_int_equal(r2 - r1, 0x5555555555555555ull);
    int p = stage_dht_primary_index(k, 3);
    uint64_t rp = stage_dht_replica(k, p, 3);
    assert_true(rp <= r0 && rp <= r1 && rp <= r2);
    assert_int_equal(stage_dht_replica(k, 1, 2) - k, 0x8000000000000000ull);
    assert_int_equal(stage_dht_primary_index(5, 1), 0);
}

static void keys_depend_on_store_and_text(void **st) {
    (void)st;
    uint64_t a = stage_dht_key(STAGE_DHT_NAMES, "Queue", 5);
    assert_int_equal(a, stage_dht_key(STAGE_DHT_NAMES, "Queue", 5));
    assert_int_not_equal(a, stage_dht_key(STAGE_DHT_TYPES, "Queue", 5));
    assert_int_not_equal(a, stage_dht_key(STAGE_DHT_NAMES, "Queuf", 5));
}

static stage_dht_t *manager(uint64_t id) {
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = id;
    c.address = "10.0.0.1:7400";
    stage_dht_t *d = NULL;
    assert_int_equal(stage_dht_new(&d, &c, 0), 0);
    return d;
}

static stage_dht_peer_t peer(uint64_t id) {
    stage_dht_peer_t p = {id, "10.0.0.2:7400"};
    return p;
}

static void next_hop_is_closest_preceding_finger(void **st) {
    (void)st;
    stage_dht_t *d = manager(1000);
    d->succ[0] = peer(1100);
    d->succ[1] = peer(1200);
    d->nsucc = 2;
    d->finger[60] = peer(5000);
    d->finger[61] = peer(9000);
    d->finger[62] = peer(20000);
    stage__dht_fingers_changed(d);
    bool final;
    /* key between self and successor: the successor, as the last hop */
    const stage_dht_peer_t *p =
        stage__dht_next_hop(d, 1050, NULL, 0, true, &final);
    assert_int_equal(p->id, 1100);
    assert_true(final);
    /* far key: the finger closest before it */
    p = stage__dht_next_hop(d, 9500, NULL, 0, true, &final);
    assert_int_equal(p->id, 9000);
    assert_false(final);
    /* that finger failed for this message: the next closest */
    uint64_t excl[] = {9000};
    p = stage__dht_next_hop(d, 9500, excl, 1, true, &final);
    assert_int_equal(p->id, 5000);
    /* the successor failed: the key's next successor, as the last hop */
    uint64_t ex2[] = {1100};
    p = stage__dht_next_hop(d, 1150, ex2, 1, true, &final);
    assert_int_equal(p->id, 1200);
    assert_true(final);
    stage_dht_destroy(&d);
    assert_null(d);
}

static void a_successor_list_sends_a_new_message_to_the_owner(void **st) {
    (void)st;
    stage_dht_t *d = manager(1000);
    d->succ[0] = peer(1100);
    d->succ[1] = peer(1200);
    d->succ[2] = peer(1300);
    d->nsucc = 3;
    bool final;
    /* a key within the list (which need not hold the whole ring): straight
    ** to the owner, not FINAL (it may have a newer predecessor) */
    const stage_dht_peer_t *p =
        stage__dht_next_hop(d, 1250, NULL, 0, true, &final);
    assert_int_equal(p->id, 1300);
    assert_false(final);
    /* past the list's end: the closest preceding member */
    p = stage__dht_next_hop(d, 1350, NULL, 0, true, &final);
    assert_int_equal(p->id, 1300);
    assert_false(final);
    /* the whole ring the same; the successor itself stays FINAL */
    d->ring_whole = true;
    p = stage__dht_next_hop(d, 1250, NULL, 0, true, &final);
    assert_int_equal(p->id, 1300);
    assert_false(final);
    p = stage__dht_next_hop(d, 1050, NULL, 0, true, &final);
    assert_int_equal(p->id, 1100);
    assert_true(final);
    /* a message that has travelled already routes by the ring alone */
    p = stage__dht_next_hop(d, 1250, NULL, 0, false, &final);
    assert_int_equal(p->id, 1200);
    stage_dht_destroy(&d);
}

static void failed_peer_leaves_every_table(void **st) {
    (void)st;
    stage_dht_t *d = manager(1000);
    d->succ[0] = peer(1100);
    d->succ[1] = peer(1200);
    d->nsucc = 2;
    d->finger[61] = peer(1100);
    stage__dht_fingers_changed(d);
    stage__dht_peer_failed(d, 1100);
    assert_int_equal(d->nsucc, 1);
    assert_int_equal(d->succ[0].id, 1200);
    assert_int_equal(d->finger[61].id, 0);
    assert_true(stage__dht_is_dead(d, 1100));
    stage_dht_destroy(&d);
}

/* A node restarted at its address announces a new manager: the old one
** leaves every table at once, the new one (already known) stays, and
** managers elsewhere are untouched. */
static void restarted_peer_forgets_only_the_old_manager(void **st) {
    (void)st;
    stage_dht_t *d = manager(1000);
    stage_dht_peer_t other = {1300, "10.0.0.3:7400"};
    d->pred = peer(900);
    d->succ[0] = peer(1100);
    d->succ[1] = peer(1200); /* the new run, learnt from someone else */
    d->succ[2] = other;
    d->nsucc = 3;
    d->finger[61] = peer(1100);
    stage__dht_fingers_changed(d);
    assert_int_equal(stage_dht_peer_restarted(d, 10, "10.0.0.2:7400", 0), 0);
    assert_int_equal(d->nsucc, 3); /* no manager announced: nothing */
    assert_int_equal(stage_dht_peer_restarted(d, 10, "10.0.0.2:7400", 1200), 2);
    assert_int_equal(d->nsucc, 2);
    assert_int_equal(d->succ[0].id, 1200);
    assert_int_equal(d->succ[1].id, 1300);
    assert_int_equal(d->finger[61].id, 0);
    assert_int_equal(d->pred.id, 0);
    assert_true(stage__dht_is_dead(d, 1100));
    assert_true(stage__dht_is_dead(d, 900));
    assert_false(stage__dht_is_dead(d, 1200));
    stage_dht_destroy(&d);
}

static void alone_manager_owns_every_key(void **st) {
    (void)st;
    stage_dht_t *d = manager(77);
    assert_true(stage__dht_responsible(d, 5));
    assert_true(stage__dht_responsible(d, UINT64_MAX));
    d->pred = peer(50);
    d->succ[0] = peer(50);
    d->nsucc = 1;
    assert_true(stage__dht_responsible(d, 60));
    assert_false(stage__dht_responsible(d, 40));
    stage_dht_destroy(&d);
}

static void bad_config_is_refused(void **st) {
    (void)st;
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    stage_dht_t *d = NULL;
    c.address = "x:1";
    assert_int_equal(stage_dht_new(&d, &c, 0), STAGE_EINVAL); /* id 0 */
    c.id = 9;
    c.replicas = 9;
    assert_int_equal(stage_dht_new(&d, &c, 0), STAGE_EINVAL);
    assert_null(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intervals_wrap_around_zero),
        cmocka_unit_test(replicas_are_evenly_spaced_and_primary_is_smallest),
        cmocka_unit_test(keys_depend_on_store_and_text),
        cmocka_unit_test(next_hop_is_closest_preceding_finger),
        cmocka_unit_test(a_successor_list_sends_a_new_message_to_the_owner),
        cmocka_unit_test(failed_peer_leaves_every_table),
        cmocka_unit_test(restarted_peer_forgets_only_the_old_manager),
        cmocka_unit_test(alone_manager_owns_every_key),
        cmocka_unit_test(bad_config_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
