/*
** tests/unit/test_dht_msg.c: the msgpack form of DHT messages — round trip,
** the wire size the simulator counts, and hostile input.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht_internal.h"
#include "stage/dht.h"
#include "stage/errors.h"
#include "stage/pack.h"

static void sample(stage_dht_msg_t *m) {
    memset(m, 0, sizeof(*m));
    m->type = STAGE_DHT_M_REPLY;
    m->op = STAGE_DHT_OP_CLAIM;
    m->hops = 7;
    m->status = STAGE_EEXISTS;
    m->flags = 0x12;
    m->to = 0xfedcba9876543210ull; /* top bit set: travels as a negative int */
    m->seq = 300;
    m->rid = 70000;
    m->key = UINT64_MAX;
    m->arg = 1;
    m->from = (stage_dht_peer_t){42, "10.0.0.1:7400"};
    m->origin = (stage_dht_peer_t){43, "[::1]:7401"};
    m->npeers = 2;
    m->peers[0] = (stage_dht_peer_t){44, "a:1"};
    m->peers[1] = (stage_dht_peer_t){0x8000000000000000ull, "b:2"};
    payload_t pl = {0};
    rec_t r1 = {5, 6, 7, 8, 9000, 2, 3, "abc"};
    rec_t r2 = {UINT64_MAX, 0, 1, 0, 0, 0, 0, NULL};
    stage__dht_pl_rec(&pl, &r1);
    stage__dht_pl_rec(&pl, &r2);
    m->data = pl.data;
    m->len = pl.len;
}

static void message_round_trips_and_size_is_exact(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    sample(&m);
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage_dht_msg_encode(&m, &p), 0);
    assert_int_equal(stage_dht_msg_wire_size(&m), p.len);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len), 0);
    assert_memory_equal(&back, &m, offsetof(stage_dht_msg_t, len));
    assert_int_equal(back.len, m.len);
    assert_memory_equal(back.data, m.data, m.len);
    assert_memory_equal(back.peers, m.peers, 2 * sizeof(m.peers[0]));
    stage_dht_msg_clear(&back);
    stage_dht_msg_clear(&m);
    stage_pack_free(&p);
}

static void every_truncation_is_refused(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    sample(&m);
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage_dht_msg_encode(&m, &p), 0);
    for (size_t n = 0; n < p.len; n++) {
        assert_int_equal(stage_dht_msg_decode(&back, p.data, n), STAGE_EDECODE);
        assert_null(back.data);
    }
    stage_dht_msg_clear(&m);
    stage_pack_free(&p);
}

static void bad_fields_are_refused(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    /* an unknown message type */
    sample(&m);
    m.type = 200;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_dht_msg_encode(&m, &p);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len), STAGE_EDECODE);
    /* a peer address that does not fit */
    stage_pack_reset(&p);
    stage_pack_array(&p, 15);
    for (int i = 0; i < 10; i++)
        stage_pack_int(&p, i == 0 ? 1 : 0);
    char big[100];
    memset(big, 'x', sizeof(big));
    stage_pack_array(&p, 2);
    stage_pack_int(&p, 5);
    stage_pack_str(&p, big, sizeof(big));
    stage_pack_nil(&p);
    stage_pack_nil(&p);
    stage_pack_array(&p, 0);
    stage_pack_array(&p, 0);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len), STAGE_EDECODE);
    /* trailing bytes after the message */
    stage_pack_reset(&p);
    stage_dht_msg_encode(&m, &p);
    stage_pack_nil(&p);
    m.type = STAGE_DHT_M_PING;
    stage_pack_reset(&p);
    stage_dht_msg_encode(&m, &p);
    stage_pack_nil(&p);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len), STAGE_EDECODE);
    stage_dht_msg_clear(&m);
    stage_pack_free(&p);
}

static void random_bytes_never_crash(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    sample(&m);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_dht_msg_encode(&m, &p);
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 20000; round++) {
        char *b = malloc(p.len);
        memcpy(b, p.data, p.len);
        for (int k = 0; k < 3; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[x % p.len] = (char)(x >> 32);
        }
        if (stage_dht_msg_decode(&back, b, p.len) == 0) {
            assert_true(back.npeers <= STAGE_DHT_SUCC_MAX);
            stage_dht_msg_clear(&back);
        }
        free(b);
    }
    stage_dht_msg_clear(&m);
    stage_pack_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_round_trips_and_size_is_exact),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(bad_fields_are_refused),
        cmocka_unit_test(random_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
