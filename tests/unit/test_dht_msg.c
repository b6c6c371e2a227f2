/*
** tests/unit/test_dht_msg.c: the compact msgpack form of DHT messages —
** round trip, the wire size the simulator counts, what is left out, and
** hostile input.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht_internal.h"
#include "dht/dht.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define FROM "10.0.0.1:7400" /* where the sample's bytes come from */
#define FROM_ID 9            /* the manager FROM's handshake announced */

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
    m->from = (stage_dht_peer_t){42, FROM};
    m->origin = (stage_dht_peer_t){43, "[::1]:7401"};
    m->npeers = 2;
    m->peers[0] = (stage_dht_peer_t){44, "a:1"};
    m->peers[1] = (stage_dht_peer_t){0x8000000000000000ull, "b:2"};
    m->nacks = 2;
    m->acks[0] = 299;
    m->acks[1] = UINT64_MAX;
    payload_t pl = {0};
    rec_t r1 = {5, 6, 7, 8, 9000, 2, 3, "abc", false};
    rec_t r2 = {UINT64_MAX, 0, 1,    0,    0,
                0,          0, NULL, false};          /* the message's key */
    rec_t r3 = {9, 1, 7, 12, 5000, 1, 0, NULL, true}; /* a tombstone */
    stage__dht_pl_rec(&pl, &r1);
    stage__dht_pl_rec(&pl, &r2);
    stage__dht_pl_rec(&pl, &r3);
    m->data = pl.data;
    m->len = pl.len;
}

static void message_round_trips_and_size_is_exact(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    sample(&m);
    stage_pack_t p = STAGE_PACK_INIT;
    /* the sender's id implied by the handshake (42), and given (none) */
    for (uint64_t known = 42;; known = 0) {
        stage_pack_reset(&p);
        assert_int_equal(stage_dht_msg_encode(&m, known, &p), 0);
        assert_int_equal(stage_dht_msg_wire_size(&m, known), p.len);
        assert_int_equal(
            stage_dht_msg_decode(&back, p.data, p.len, FROM, known), 0);
        assert_true(back.to == (uint32_t)m.to); /* `to` travels as 32 bits */
        back.to = m.to;
        assert_memory_equal(&back, &m, offsetof(stage_dht_msg_t, len));
        assert_int_equal(back.len, m.len);
        assert_memory_equal(back.data, m.data, m.len);
        assert_memory_equal(back.peers, m.peers, 2 * sizeof(m.peers[0]));
        stage_dht_msg_clear(&back);
        if (!known) break;
    }
    stage_dht_msg_clear(&m);
    stage_pack_free(&p);
}

/* The handshake announced one manager of the sender's node: messages from
** it leave their sender's id out; another manager of that node (a virtual
** id) still sends its own. */
static void the_announced_sender_goes_without_its_id(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_NOTIFY;
    m.from = (stage_dht_peer_t){0xfedcba9876543210ull, FROM};
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage_dht_msg_encode(&m, m.from.id, &p), 0);
    assert_int_equal(p.len, 3); /* [NOTIFY, 0] */
    assert_int_equal(
        stage_dht_msg_decode(&back, p.data, p.len, FROM, m.from.id), 0);
    assert_true(back.from.id == m.from.id);
    assert_string_equal(back.from.addr, FROM);
    /* without an announced manager the message cannot be read */
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, FROM, 0),
                     STAGE_EDECODE);
    /* a virtual id of the same node: [NOTIFY, M_FROM, id] */
    stage_pack_reset(&p);
    assert_int_equal(stage_dht_msg_encode(&m, 77, &p), 0);
    assert_int_equal(p.len, 1 + 1 + 5 + 9);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, FROM, 77), 0);
    assert_true(back.from.id == m.from.id);
    /* the announced id given again is a second spelling: refused */
    assert_int_equal(
        stage_dht_msg_decode(&back, p.data, p.len, FROM, m.from.id),
        STAGE_EDECODE);
    stage_pack_free(&p);
}

/* Encode m, decode it as coming from FROM, whose handshake announced
** m's sender; the length, or -1. */
static long round_trip(const stage_dht_msg_t *m, stage_dht_msg_t *back) {
    stage_pack_t p = STAGE_PACK_INIT;
    long n = -1;
    if (stage_dht_msg_encode(m, m->from.id, &p) == 0 &&
        stage_dht_msg_decode(back, p.data, p.len, FROM, m->from.id) == 0)
        n = (long)p.len;
    if (n >= 0 && stage_dht_msg_wire_size(m, m->from.id) != p.len) n = -1;
    stage_pack_free(&p);
    return n;
}

static void the_sender_and_its_node_travel_as_bare_ids(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_ACK;
    m.from = (stage_dht_peer_t){0xfedcba9876543210ull, FROM}; /* 9 bytes */
    m.nacks = 1;
    m.acks[0] = 5;
    /* [type, mask, [seq]]: an ack alone is 7 bytes, the sender implied */
    assert_int_equal(round_trip(&m, &back), 7);
    assert_int_equal(back.nacks, 1);
    assert_true(back.acks[0] == 5);
    assert_string_equal(back.from.addr, FROM);
    /* origin and peer that are the sender cost nothing; a peer of the
    ** sender's node is its id alone; another node's peer has its address */
    m.type = STAGE_DHT_M_REPLY;
    m.origin = m.from;
    m.peer = m.from;
    long base = round_trip(&m, &back);
    assert_true(base == 7);
    assert_true(back.origin.id == m.from.id && back.peer.id == m.from.id);
    assert_string_equal(back.origin.addr, FROM);
    m.npeers = 2;
    m.peers[0] = (stage_dht_peer_t){7, FROM};
    m.peers[1] = (stage_dht_peer_t){8, "10.0.0.2:7400"};
    /* [7, [8, 7, "2:7400"]]: the address shares "10.0.0." with the sender's */
    assert_int_equal(round_trip(&m, &back), base + 1 + 1 + 1 + 1 + 1 + 7);
    assert_string_equal(back.peers[0].addr, FROM);
    assert_string_equal(back.peers[1].addr, "10.0.0.2:7400");
    /* a prefix of the sender's address, an empty one */
    m.peers[1] = (stage_dht_peer_t){8, "10.0.0.1"};
    assert_true(round_trip(&m, &back) > 0);
    assert_string_equal(back.peers[1].addr, "10.0.0.1");
    m.peers[1] = (stage_dht_peer_t){8, ""};
    assert_true(round_trip(&m, &back) > 0);
    assert_string_equal(back.peers[1].addr, "");
    /* an address with nothing in common goes whole: [8, "b:2"] */
    m.peers[1] = (stage_dht_peer_t){8, "b:2"};
    assert_int_equal(round_trip(&m, &back), base + 1 + 1 + 1 + 1 + 4);
    assert_string_equal(back.peers[1].addr, "b:2");
    /* an entry under the message's key leaves the key out */
    m.npeers = 0;
    m.key = 1000;
    payload_t pl = {0};
    rec_t r = {1000, 0, 0, 0, 0, 0, 0, NULL, false};
    stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    assert_int_equal(round_trip(&m, &back), base + 3 + 1 + 2);
    rec_t got;
    uint32_t off = 0;
    assert_int_equal(stage__dht_pl_next(back.data, back.len, &off, &got), 1);
    assert_true(got.key == 1000);
    stage_dht_msg_clear(&back);
    stage_dht_msg_clear(&m);
}

/* Decode raw bytes built by hand, as from FROM (manager FROM_ID). */
static int decode_raw(const stage_pack_t *p) {
    stage_dht_msg_t back;
    int rc = stage_dht_msg_decode(&back, p->data, p->len, FROM, FROM_ID);
    if (rc == 0) stage_dht_msg_clear(&back);
    return rc;
}

static void malformed_compact_forms_are_refused(void **st) {
    (void)st;
    stage_pack_t p = STAGE_PACK_INIT;
    /* the smallest message: [NOTIFY, 0] */
    stage_pack_array(&p, 2);
    stage_pack_int(&p, STAGE_DHT_M_NOTIFY);
    stage_pack_int(&p, 0);
    assert_int_equal(decode_raw(&p), 0);
    stage_dht_msg_t back;
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, NULL, 9),
                     STAGE_EDECODE);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, "", 9),
                     STAGE_EDECODE);
    /* a sender id of 0 */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_NOTIFY);
    stage_pack_int(&p, 1 << 16);
    stage_pack_int(&p, 0);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    /* a mask bit nobody knows */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_NOTIFY);
    stage_pack_int(&p, 1 << 17);
    stage_pack_int(&p, 1);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    /* more fields than the mask says, and fewer */
    stage_pack_reset(&p);
    stage_pack_array(&p, 4);
    stage_pack_int(&p, STAGE_DHT_M_ROUTE);
    stage_pack_int(&p, 1); /* op only */
    stage_pack_int(&p, STAGE_DHT_OP_GET);
    stage_pack_int(&p, 3);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    stage_pack_reset(&p);
    stage_pack_array(&p, 2);
    stage_pack_int(&p, STAGE_DHT_M_ROUTE);
    stage_pack_int(&p, 1);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    /* a field present but 0 (absence has one spelling), an op out of range */
    for (int op = 0; op <= STAGE_DHT_OP__END; op += STAGE_DHT_OP__END) {
        stage_pack_reset(&p);
        stage_pack_array(&p, 3);
        stage_pack_int(&p, STAGE_DHT_M_ROUTE);
        stage_pack_int(&p, 1);
        stage_pack_int(&p, op);
        assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    }
    /* origin both sent and "the sender" */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_ROUTE);
    stage_pack_int(&p, (1 << 9) | (1 << 10));
    stage_pack_int(&p, 10);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    /* a status that is not negative */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_REPLY);
    stage_pack_int(&p, 1 << 2);
    stage_pack_int(&p, 3);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    /* an empty ack list, and one longer than allowed */
    for (int n = 0; n <= STAGE_DHT_ACKS_MAX + 1; n += STAGE_DHT_ACKS_MAX + 1) {
        stage_pack_reset(&p);
        stage_pack_array(&p, 3);
        stage_pack_int(&p, STAGE_DHT_M_ACK);
        stage_pack_int(&p, 1 << 15);
        stage_pack_array(&p, (uint32_t)n);
        for (int i = 0; i < n; i++)
            stage_pack_int(&p, i + 1);
        assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    }
    /* entries: an unknown entry bit, a length that disagrees with its mask,
    ** an empty value present, an index beyond 7, a tombstone (R_GONE, no
    ** field) without a version */
    static const int64_t bad[][3] = {{1 << 8, 0, 0},
                                     {1 << 4, 0, 0},
                                     {1 << 6, -1, 0},
                                     {1 << 5, 8, 0},
                                     {1 << 7, 0, 0}};
    for (int k = 0; k < 5; k++) {
        stage_pack_reset(&p);
        stage_pack_array(&p, 3);
        stage_pack_int(&p, STAGE_DHT_M_TRANSFER);
        stage_pack_int(&p, 1 << 14);
        stage_pack_array(&p, 1);
        bool ttl_missing = bad[k][0] == (1 << 4);
        stage_pack_array(&p, ttl_missing || bad[k][0] >= (1 << 7) ? 1 : 2);
        stage_pack_int(&p, bad[k][0]);
        if (bad[k][1] == -1)
            stage_pack_bin(&p, "", 0);
        else if (bad[k][1])
            stage_pack_int(&p, bad[k][1]);
        assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    }
    /* a tombstone with a value; with a version it is good, and the bit
    ** takes no field (one more would disagree with the mask) */
    for (int k = 0; k < 3; k++) {
        stage_pack_reset(&p);
        stage_pack_array(&p, 3);
        stage_pack_int(&p, STAGE_DHT_M_TRANSFER);
        stage_pack_int(&p, 1 << 14);
        stage_pack_array(&p, 1);
        stage_pack_array(&p, k == 0 ? 3 : k == 1 ? 2 : 3);
        stage_pack_int(&p, (1 << 7) | (1 << 3) | (k == 0 ? 1 << 6 : 0));
        stage_pack_int(&p, 5); /* ver */
        if (k == 0) stage_pack_bin(&p, "v", 1);
        if (k == 2) stage_pack_int(&p, 1);
        assert_int_equal(decode_raw(&p), k == 1 ? 0 : STAGE_EDECODE);
    }
    /* a peer sharing more of the sender's address than there is */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_PRED_INFO);
    stage_pack_int(&p, 1 << 11);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, 5);
    stage_pack_int(&p, (int64_t)strlen(FROM) + 1);
    stage_pack_str(&p, "x", 1);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    /* a peer as neither an id nor [id, "addr"] */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_PRED_INFO);
    stage_pack_int(&p, 1 << 11);
    stage_pack_str(&p, "a:1", 3);
    assert_int_equal(decode_raw(&p), STAGE_EDECODE);
    stage_pack_free(&p);
}

static void every_truncation_is_refused(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    sample(&m);
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage_dht_msg_encode(&m, 42, &p), 0);
    for (size_t n = 0; n < p.len; n++) {
        assert_int_equal(stage_dht_msg_decode(&back, p.data, n, FROM, 42),
                         STAGE_EDECODE);
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
    stage_dht_msg_encode(&m, 42, &p);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, FROM, FROM_ID),
                     STAGE_EDECODE);
    /* a peer address that does not fit */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_int(&p, STAGE_DHT_M_PRED_INFO);
    stage_pack_int(&p, 1 << 11);
    char big[100];
    memset(big, 'x', sizeof(big));
    stage_pack_array(&p, 2);
    stage_pack_int(&p, 5);
    stage_pack_str(&p, big, sizeof(big));
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, FROM, FROM_ID),
                     STAGE_EDECODE);
    /* trailing bytes after the message */
    stage_pack_reset(&p);
    stage_dht_msg_encode(&m, 42, &p);
    stage_pack_nil(&p);
    m.type = STAGE_DHT_M_PING;
    stage_pack_reset(&p);
    stage_dht_msg_encode(&m, 42, &p);
    stage_pack_nil(&p);
    assert_int_equal(stage_dht_msg_decode(&back, p.data, p.len, FROM, FROM_ID),
                     STAGE_EDECODE);
    stage_dht_msg_clear(&m);
    stage_pack_free(&p);
}

static void random_bytes_never_crash(void **st) {
    (void)st;
    stage_dht_msg_t m, back;
    sample(&m);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_dht_msg_encode(&m, 42, &p);
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
        if (stage_dht_msg_decode(&back, b, p.len, FROM, 42) == 0) {
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
        cmocka_unit_test(the_announced_sender_goes_without_its_id),
        cmocka_unit_test(the_sender_and_its_node_travel_as_bare_ids),
        cmocka_unit_test(malformed_compact_forms_are_refused),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(bad_fields_are_refused),
        cmocka_unit_test(random_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
