/*
** tests/unit/test_dht_route.c: the acks a manager owes for routed
** messages — they ride on its next message to the member that sent them,
** or go alone once due, every one owed to that member, oldest first, at
** most STAGE_DHT_ACKS_MAX to a message; an ack owed to an id at one
** address never rides to that id at another (a restarted node).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht.h"

static const stage_dht_peer_t P = {300, "p:1"};  /* sends us routed messages */
static const stage_dht_peer_t P2 = {300, "p:2"}; /* P restarted elsewhere */
static const stage_dht_peer_t Q = {400, "q:1"};  /* asks */

/* A manager alone on its ring (it owns every key), id 100. */
static stage_dht_t *alone(void) {
    stage_dht_config_t cfg;
    stage_dht_config_init(&cfg);
    cfg.id = 100;
    cfg.address = "m:1";
    stage_dht_t *d = NULL;
    assert_int_equal(stage_dht_new(&d, &cfg, 1000), 0);
    return d;
}

/* A routed lookup from 'from', asked by 'origin', numbered seq. */
static void route_in(stage_dht_t *d, uint64_t now, const stage_dht_peer_t *from,
                     const stage_dht_peer_t *origin, uint64_t seq) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_ROUTE;
    m.op = STAGE_DHT_OP_LOOKUP;
    m.to = 100;
    m.seq = seq;
    m.rid = seq;
    m.key = 5000 + seq;
    m.from = *from;
    m.origin = *origin;
    stage_dht_recv(d, now, &m);
}

typedef struct sent {
    int type;
    char to[STAGE_ADDR_MAX];
    int nacks;
    uint64_t acks[STAGE_DHT_ACKS_MAX];
} sent_t;

/* The messages of the last calls, in order; returns how many. */
static int sent(stage_dht_t *d, sent_t *out, int max) {
    size_t n;
    int k = 0;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    for (size_t i = 0; i < n; i++) {
        if (fx[i].kind != STAGE_DHT_FX_SEND) continue;
        assert_true(k < max);
        out[k].type = fx[i].msg->type;
        strcpy(out[k].to, fx[i].to_addr);
        out[k].nacks = fx[i].msg->nacks;
        memcpy(out[k].acks, fx[i].msg->acks, sizeof(out[k].acks));
        k++;
    }
    return k;
}

static void owed_acks_go_together_once_due_oldest_first(void **st) {
    (void)st;
    stage_dht_t *d = alone();
    sent_t s[128];
    for (uint64_t seq = 1; seq <= 70; seq++) {
        route_in(d, 1000, &P, &Q, seq);
        int n = sent(d, s, 128);
        assert_int_equal(n, 1); /* the answer, to the asker */
        assert_int_equal(s[0].type, STAGE_DHT_M_REPLY);
        assert_string_equal(s[0].to, "q:1");
        assert_int_equal(s[0].nacks, 0);
    }
    uint64_t due = stage_dht_next_timer(d);
    assert_true(due > 1000 && due <= 1000 + 20);
    stage_dht_tick(d, due);
    int n = sent(d, s, 128);
    assert_int_equal(n, 3);
    uint64_t next = 1;
    for (int i = 0; i < n; i++) {
        assert_int_equal(s[i].type, STAGE_DHT_M_ACK);
        assert_string_equal(s[i].to, "p:1");
        assert_int_equal(s[i].nacks, i < 2 ? STAGE_DHT_ACKS_MAX : 6);
        for (int j = 0; j < s[i].nacks; j++)
            assert_true(s[i].acks[j] == next++);
    }
    assert_true(stage_dht_next_timer(d) > due + 20); /* none owed now */
    stage_dht_destroy(&d);
}

static void an_owed_ack_rides_on_the_next_message_to_its_member(void **st) {
    (void)st;
    stage_dht_t *d = alone();
    sent_t s[8];
    route_in(d, 1000, &P, &Q, 1); /* answered to Q: the ack waits */
    assert_int_equal(sent(d, s, 8), 1);
    assert_int_equal(s[0].nacks, 0);
    route_in(d, 1005, &P, &P, 2); /* answered to P: both acks ride */
    assert_int_equal(sent(d, s, 8), 1);
    assert_string_equal(s[0].to, "p:1");
    assert_int_equal(s[0].nacks, 2);
    assert_true(s[0].acks[0] == 1 && s[0].acks[1] == 2);
    stage_dht_tick(d, 1100);
    int n = sent(d, s, 8);
    for (int i = 0; i < n; i++) /* nothing left to ack alone */
        assert_int_not_equal(s[i].type, STAGE_DHT_M_ACK);
    stage_dht_destroy(&d);
}

static void an_ack_never_rides_to_its_id_at_another_address(void **st) {
    (void)st;
    stage_dht_t *d = alone();
    sent_t s[8];
    route_in(d, 1000, &P, &Q, 1);   /* owed to 300 at p:1 */
    route_in(d, 1001, &P2, &P2, 7); /* 300 at p:2: answered there */
    int n = sent(d, s, 8);
    assert_int_equal(n, 2);
    assert_string_equal(s[1].to, "p:2");
    assert_int_equal(s[1].nacks, 1);
    assert_true(s[1].acks[0] == 7);
    stage_dht_tick(d, stage_dht_next_timer(d));
    n = sent(d, s, 8);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].type, STAGE_DHT_M_ACK);
    assert_string_equal(s[0].to, "p:1");
    assert_int_equal(s[0].nacks, 1);
    assert_true(s[0].acks[0] == 1);
    stage_dht_destroy(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owed_acks_go_together_once_due_oldest_first),
        cmocka_unit_test(an_owed_ack_rides_on_the_next_message_to_its_member),
        cmocka_unit_test(an_ack_never_rides_to_its_id_at_another_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
