/*
** tests/unit/test_dht_gone.c: a node declared dead loses its entries at
** once (stage_dht_owner_gone) — its names become free to claim, the
** entries of others stay, watchers hear of it, and a copy of a dead
** owner's entry handed back later (a replica that had not heard) is
** refused for a lease's time.
** One manager alone owns the whole ring; other managers are faked by
** handing it messages.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dht/dht_internal.h"
#include "dht/dht.h"
#include "stage/errors.h"

#define LEASE 30000
#define SELF 1000

static stage_dht_t *lone(void) {
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = SELF;
    c.address = "10.0.0.1:7400";
    c.replicas = 1;
    c.lease_ms = LEASE;
    stage_dht_t *d = NULL;
    assert_int_equal(stage_dht_new(&d, &c, 0), 0);
    return d;
}

static stage_dht_peer_t fake(uint64_t id) {
    stage_dht_peer_t p = {id, ""};
    snprintf(p.addr, sizeof(p.addr), "10.0.0.%d:7400", (int)(id % 200));
    return p;
}

/* Hand d a message of type (op for ROUTE) from manager 'from' carrying one
** record of key owned by owner (none if value is NULL). */
static void give(stage_dht_t *d, uint64_t now, int type, int op, uint64_t from,
                 uint64_t owner, uint64_t key, uint64_t rid,
                 const char *value) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = (uint8_t)type;
    m.op = (uint8_t)op;
    m.to = SELF;
    m.rid = rid;
    m.key = key;
    m.from = m.origin = fake(from);
    payload_t pl = {0};
    rec_t r = {
        key,   0,    owner, 1, LEASE, 0, value ? (uint32_t)strlen(value) : 0,
        value, false};
    if (value) stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    stage_dht_recv(d, now, &m);
    free(pl.data);
}

/* A request of op from manager from, for key, with a value it owns. */
static void hand(stage_dht_t *d, uint64_t now, int op, uint64_t from,
                 uint64_t key, uint64_t rid, const char *value) {
    give(d, now, STAGE_DHT_M_ROUTE, op, from, from, key, rid, value);
}

/* The status of the REPLY for rid among the last effects, or 1 if none. */
static int reply_status(stage_dht_t *d, uint64_t rid) {
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    for (size_t i = 0; i < n; i++)
        if (fx[i].kind == STAGE_DHT_FX_SEND &&
            fx[i].msg->type == STAGE_DHT_M_REPLY && fx[i].msg->rid == rid)
            return fx[i].msg->status;
    return 1;
}

/* EVENT messages for key among the last effects, and the items the last
** one carried in *bytes (0: none). */
static int events(stage_dht_t *d, uint64_t key, uint32_t *bytes) {
    size_t n;
    int k = 0;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    for (size_t i = 0; i < n; i++)
        if (fx[i].kind == STAGE_DHT_FX_SEND &&
            fx[i].msg->type == STAGE_DHT_M_EVENT && fx[i].msg->key == key) {
            k++;
            *bytes = fx[i].msg->len;
        }
    return k;
}

static void dead_owner_loses_its_entries_at_once(void **st) {
    (void)st;
    stage_dht_t *d = lone();
    hand(d, 0, STAGE_DHT_OP_CLAIM, 5, 701, 1, "actor-5");
    assert_int_equal(reply_status(d, 1), 0);
    hand(d, 0, STAGE_DHT_OP_CLAIM, 6, 702, 2, "actor-6");
    assert_int_equal(reply_status(d, 2), 0);
    /* another node of 5's claims 701: taken */
    hand(d, 10, STAGE_DHT_OP_CLAIM, 7, 701, 3, "actor-7");
    assert_int_equal(reply_status(d, 3), STAGE_EEXISTS);

    assert_int_equal(stage_dht_owner_gone(d, 100, 5), 1);
    assert_false(stage_dht_holds(d, 100, 701, 0));
    assert_true(stage_dht_holds(d, 100, 702, 0)); /* not 5's */
    /* the name is free now, long before the lease would have run out */
    hand(d, 110, STAGE_DHT_OP_CLAIM, 7, 701, 4, "actor-7");
    assert_int_equal(reply_status(d, 4), 0);
    assert_true(stage_dht_holds(d, 120, 701, 0));
    /* news repeated changes nothing; this manager's own are never dropped */
    assert_int_equal(stage_dht_owner_gone(d, 130, 5), 0);
    assert_int_equal(stage_dht_owner_gone(d, 130, SELF), 0);
    assert_int_equal(stage_dht_owner_gone(d, 130, 0), 0);
    stage_dht_destroy(&d);
}

static void dead_owner_entries_are_refused_for_a_lease(void **st) {
    (void)st;
    stage_dht_t *d = lone();
    hand(d, 0, STAGE_DHT_OP_PUT, 5, 801, 1, "x");
    assert_int_equal(stage_dht_owner_gone(d, 100, 5), 1);
    /* a neighbour that had not heard hands 5's entry over, or 5's put
    ** was still travelling: not stored */
    give(d, 200, STAGE_DHT_M_TRANSFER, 0, 9, 5, 801, 0, "x");
    hand(d, 200, STAGE_DHT_OP_PUT, 5, 801, 2, "x");
    assert_false(stage_dht_holds(d, 200, 801, 0));
    /* a lease later the id is forgotten (ids are random per start, so
    ** it can only be a copy that outlived every lease) */
    hand(d, 100 + LEASE + 1, STAGE_DHT_OP_PUT, 5, 801, 3, "x");
    assert_true(stage_dht_holds(d, 100 + LEASE + 2, 801, 0));
    stage_dht_destroy(&d);
}

static void watchers_hear_of_the_entries_that_went(void **st) {
    (void)st;
    stage_dht_t *d = lone();
    hand(d, 0, STAGE_DHT_OP_PUT, 5, 901, 1, "x");
    hand(d, 0, STAGE_DHT_OP_WATCH, 8, 901, 2, NULL);
    hand(d, 0, STAGE_DHT_OP_WATCH, 8, 902, 3, NULL);
    uint32_t bytes = 1;
    stage_dht_owner_gone(d, 50, 5);
    assert_int_equal(events(d, 901, &bytes), 1);
    assert_int_equal(bytes, 0);                  /* the key has no item left */
    assert_int_equal(events(d, 902, &bytes), 0); /* nothing of 5's there */
    stage_dht_destroy(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dead_owner_loses_its_entries_at_once),
        cmocka_unit_test(dead_owner_entries_are_refused_for_a_lease),
        cmocka_unit_test(watchers_hear_of_the_entries_that_went),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
