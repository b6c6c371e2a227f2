/*
** tests/unit/test_dht_lease.c: entries held by a manager are leases — they
** expire unless their owner renews them, a renewal from anyone else is
** answered MISSING — and the primary decides claims atomically, letting a
** node restarted at its address take its earlier run's names over.
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
#include "stage/pack.h"

#define LEASE 30000

static stage_dht_t *lone(int replicas) {
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = 1000;
    c.address = "10.0.0.1:7400";
    c.replicas = replicas;
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

/* A routed message of op from 'from' for key with one record, of version
** ver (the one its asker last saw). */
static void route_ver(stage_dht_t *d, uint64_t now, int op, uint64_t from,
                      uint64_t key, uint64_t rid, const char *value,
                      uint64_t ver) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_ROUTE;
    m.op = (uint8_t)op;
    m.to = 1000;
    m.rid = rid;
    m.key = key;
    m.from = m.origin = fake(from);
    payload_t pl = {0};
    rec_t r = {key,   0,    from, ver, LEASE, 0, (uint32_t)strlen(value),
               value, false};
    stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    stage_dht_recv(d, now, &m);
    free(pl.data);
}

static void route(stage_dht_t *d, uint64_t now, int op, uint64_t from,
                  uint64_t key, uint64_t rid, const char *value) {
    route_ver(d, now, op, from, key, rid, value, 0);
}

static void renew(stage_dht_t *d, uint64_t now, uint64_t from, uint64_t key) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_RENEW;
    m.to = 1000;
    m.from = fake(from);
    payload_t pl = {0};
    rec_t r = {key, 0, from, 0, LEASE, 0, 0, NULL, false};
    stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    stage_dht_recv(d, now, &m);
    free(pl.data);
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

/* Messages of type with a payload among the last effects. */
static int sent(stage_dht_t *d, int type) {
    size_t n;
    int k = 0;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    for (size_t i = 0; i < n; i++)
        k += fx[i].kind == STAGE_DHT_FX_SEND && fx[i].msg->type == type &&
             fx[i].msg->len > 0;
    return k;
}

static void entry_expires_without_renewal(void **st) {
    (void)st;
    stage_dht_t *d = lone(1);
    route(d, 100, STAGE_DHT_OP_PUT, 5, 777, 1, "v");
    assert_int_equal(reply_status(d, 1), 0);
    assert_true(stage_dht_holds(d, 200, 777, 0));
    assert_true(stage_dht_holds(d, 100 + LEASE - 1, 777, 0));
    assert_false(stage_dht_holds(d, 100 + LEASE + 1, 777, 0));
    stage_dht_tick(d, 100 + LEASE + 2000); /* the sweep drops it */
    size_t total;
    stage_dht_entry_count(d, &total);
    assert_int_equal(total, 0);
    stage_dht_destroy(&d);
}

static void owner_renewal_extends_the_lease(void **st) {
    (void)st;
    stage_dht_t *d = lone(1);
    route(d, 0, STAGE_DHT_OP_PUT, 5, 777, 1, "v");
    renew(d, 20000, 5, 777);
    assert_int_equal(sent(d, STAGE_DHT_M_MISSING), 0);
    assert_true(stage_dht_holds(d, 45000, 777, 0));
    assert_false(stage_dht_holds(d, 50001, 777, 0));
    /* someone else's renewal does not count: it hears MISSING */
    renew(d, 21000, 6, 777);
    assert_int_equal(sent(d, STAGE_DHT_M_MISSING), 1);
    assert_false(stage_dht_holds(d, 50001, 777, 0));
    stage_dht_destroy(&d);
}

static void claim_is_decided_once_at_the_primary(void **st) {
    (void)st;
    for (int r = 1; r <= 3; r += 2) {
        stage_dht_t *d = lone(r);
        uint64_t key =
            stage_dht_replica(4242, stage_dht_primary_index(4242, r), r);
        route(d, 0, STAGE_DHT_OP_CLAIM, 5, key, 1, "actor-5");
        assert_int_equal(reply_status(d, 1), 0);
        route(d, 10, STAGE_DHT_OP_CLAIM, 6, key, 2, "actor-6");
        assert_int_equal(reply_status(d, 2), STAGE_EEXISTS);
        /* the winner repeating its claim still wins; its node claiming
        ** the name for another actor does not */
        route(d, 20, STAGE_DHT_OP_CLAIM, 5, key, 3, "actor-5");
        assert_int_equal(reply_status(d, 3), 0);
        route(d, 21, STAGE_DHT_OP_CLAIM, 5, key, 5, "actor-7");
        assert_int_equal(reply_status(d, 5), STAGE_EEXISTS);
        /* once the winner's lease is over, the name is free */
        route(d, 20 + LEASE + 1, STAGE_DHT_OP_CLAIM, 6, key, 4, "actor-6");
        assert_int_equal(reply_status(d, 4), 0);
        stage_dht_destroy(&d);
    }
}

static void own_requests_complete_through_the_effects(void **st) {
    (void)st;
    stage_dht_t *d = lone(3);
    assert_int_equal(stage_dht_claim(d, 0, 11, 99, "a", 1), 0);
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    int done = 0;
    for (size_t i = 0; i < n; i++)
        if (fx[i].kind == STAGE_DHT_FX_DONE && fx[i].req == 11) {
            assert_int_equal(fx[i].status, 0);
            done++;
        }
    assert_int_equal(done, 1);
    assert_int_equal(stage_dht_owned_count(d), 1);
    assert_int_equal(stage_dht_get(d, 5, 12, 99), 0);
    fx = stage_dht_effects(d, &n);
    assert_int_equal(n, 1);
    assert_int_equal(fx[0].status, 0);
    assert_int_equal(fx[0].nitems, 1);
    assert_memory_equal(fx[0].items[0].value, "a", 1);
    assert_int_equal(fx[0].items[0].owner, 1000);
    stage_dht_destroy(&d);
}

/* FX_DONE of req among the last effects: its status, or 1 if none. */
static int done_status(stage_dht_t *d, uint64_t req) {
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    for (size_t i = 0; i < n; i++)
        if (fx[i].kind == STAGE_DHT_FX_DONE && fx[i].req == req)
            return fx[i].status;
    return 1;
}

/* A lone manager's removals complete like its writes (a node alone names
** actors and retires types; it waits for these before it stops). */
static void own_removals_complete_alone(void **st) {
    (void)st;
    for (int r = 1; r <= 3; r++) {
        stage_dht_t *d = lone(r);
        assert_int_equal(stage_dht_claim(d, 0, 11, 99, "a", 1), 0);
        assert_int_equal(done_status(d, 11), 0);
        assert_int_equal(stage_dht_remove(d, 1, 12, 99, 0), 0);
        assert_int_equal(done_status(d, 12), 0);
        assert_int_equal(stage_dht_owned_count(d), 0);
        assert_int_equal(stage_dht_get(d, 2, 13, 99), 0);
        assert_int_equal(done_status(d, 13), STAGE_ENAME_NOT_FOUND);
        /* an item of a key with several (a type's actors) */
        assert_int_equal(stage_dht_put(d, 3, 14, 77, 5, "x", 1), 0);
        assert_int_equal(stage_dht_put(d, 3, 15, 77, 6, "y", 1), 0);
        assert_int_equal(stage_dht_remove(d, 4, 16, 77, 5), 0);
        assert_int_equal(done_status(d, 16), 0);
        assert_int_equal(stage_dht_get(d, 5, 17, 77), 0);
        size_t n;
        const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
        assert_int_equal(n, 1);
        assert_int_equal(fx[0].nitems, 1);
        assert_memory_equal(fx[0].items[0].value, "y", 1);
        stage_dht_destroy(&d);
    }
}

/* Effects pile up until the driver reads them: a driver may make several
** calls (release every name of a stopping node) and drain once. */
static void effects_accumulate_until_read(void **st) {
    (void)st;
    stage_dht_t *d = lone(3);
    assert_int_equal(stage_dht_claim(d, 0, 21, 99, "a", 1), 0);
    assert_int_equal(stage_dht_claim(d, 0, 22, 98, "b", 1), 0);
    assert_int_equal(stage_dht_remove(d, 1, 23, 99, 0), 0);
    stage_dht_tick(d, 2);
    assert_int_equal(done_status(d, 21), 0);
    assert_int_equal(done_status(d, 22), 0);
    assert_int_equal(done_status(d, 23), 0);
    /* read: the next call starts afresh */
    assert_int_equal(stage_dht_get(d, 3, 24, 98), 0);
    size_t n;
    stage_dht_effects(d, &n);
    assert_int_equal(n, 1);
    assert_int_equal(done_status(d, 24), 0);
    stage_dht_destroy(&d);
}

/* An actor id of the node at addr, run inc. */
static stage_id_t actor_at(const char *addr, uint32_t inc, uint64_t serial) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", addr);
    id.incarnation = inc;
    id.serial = serial;
    snprintf(id.type, sizeof id.type, "Service");
    return id;
}

/* A routed CLAIM of key for actor id from manager `from` at addr. */
static void claim_for(stage_dht_t *d, uint64_t now, uint64_t from,
                      const char *addr, uint64_t key, uint64_t rid,
                      const stage_id_t *id, uint32_t flags) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_id(&p, id);
    assert_int_equal(stage_pack_error(&p), 0);
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_ROUTE;
    m.op = STAGE_DHT_OP_CLAIM;
    m.flags = flags;
    m.to = 1000;
    m.rid = rid;
    m.key = key;
    m.from.id = m.origin.id = from;
    snprintf(m.origin.addr, sizeof m.origin.addr, "%s", addr);
    m.from = m.origin;
    payload_t pl = {0};
    rec_t r = {key, 0, from, 0, LEASE, 0, (uint32_t)p.len, p.data, false};
    stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    stage_dht_recv(d, now, &m);
    free(pl.data);
    stage_pack_free(&p);
}

/* The incarnation of the actor the entry (key, 0) names, or 0. */
static uint32_t held_run(stage_dht_t *d, uint64_t key) {
    entry_t *e = stage__dht_find(d, key, 0);
    stage_id_t id;
    stage_unpack_t u;
    if (!e) return 0;
    stage_unpack_init(&u, e->value, e->len);
    return stage_unpack_id(&u, &id) ? 0 : id.incarnation;
}

/* A node restarted at its address (a new run: another incarnation, another
** manager id) claims the names its earlier run held and gets them at once;
** nobody else can take them that way. */
static void name_claim_takes_over_an_earlier_run_of_its_node(void **st) {
    (void)st;
    const char *a = "10.0.0.5:7400", *b = "10.0.0.6:7400";
    for (int r = 1; r <= 3; r += 2) {
        stage_dht_t *d = lone(r);
        uint64_t key =
            stage_dht_replica(4242, stage_dht_primary_index(4242, r), r);
        stage_id_t old = actor_at(a, 0x111, 3), now = actor_at(a, 0x222, 3);
        claim_for(d, 0, 5, a, key, 1, &old, RF_TAKEOVER);
        assert_int_equal(reply_status(d, 1), 0);
        /* a plain claim keeps the old rule: another owner holds it */
        claim_for(d, 10, 9, a, key, 2, &now, 0);
        assert_int_equal(reply_status(d, 2), STAGE_EEXISTS);
        /* another node, for its own actor or one at the holder's
        ** address, does not take it over */
        stage_id_t theirs = actor_at(b, 0x333, 3);
        claim_for(d, 20, 6, b, key, 3, &theirs, RF_TAKEOVER);
        assert_int_equal(reply_status(d, 3), STAGE_EEXISTS);
        claim_for(d, 21, 6, b, key, 4, &now, RF_TAKEOVER);
        assert_int_equal(reply_status(d, 4), STAGE_EEXISTS);
        /* the holder's own run, for another of its actors: still taken
        ** (two actors of one run never share a name) */
        stage_id_t other = actor_at(a, 0x111, 4);
        claim_for(d, 22, 5, a, key, 5, &other, RF_TAKEOVER);
        assert_int_equal(reply_status(d, 5), STAGE_EEXISTS);
        assert_int_equal(held_run(d, key), 0x111);
        /* the new run at the address: the name is its own at once */
        claim_for(d, 30, 9, a, key, 6, &now, RF_TAKEOVER);
        assert_int_equal(reply_status(d, 6), 0);
        assert_int_equal(held_run(d, key), 0x222);
        assert_int_equal(stage__dht_find(d, key, 0)->owner, 9);
        /* and the old run's renewal is answered MISSING */
        renew(d, 40, 5, key);
        assert_int_equal(sent(d, STAGE_DHT_M_MISSING), 1);
        stage_dht_destroy(&d);
    }
}

/* stage_dht_name_claim asks for the takeover: a manager claiming a name
** held for an earlier run of its node gets it, not AlreadyExists. */
static void name_store_claims_take_over(void **st) {
    (void)st;
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = 1000;
    c.address = "10.0.0.5:7400";
    c.replicas = 1;
    c.lease_ms = LEASE;
    stage_dht_t *d = NULL;
    assert_int_equal(stage_dht_new(&d, &c, 0), 0);
    uint64_t key = stage_dht_key(STAGE_DHT_NAMES, "svc", 3);
    stage_id_t old = actor_at(c.address, 0x111, 3);
    claim_for(d, 0, 5, c.address, key, 1, &old, 0); /* the earlier run */
    assert_int_equal(reply_status(d, 1), 0);
    stage_id_t now = actor_at(c.address, 0x222, 7);
    assert_int_equal(stage_dht_name_claim(d, 10, 11, "svc", &now), 0);
    assert_int_equal(done_status(d, 11), 0);
    assert_int_equal(held_run(d, key), 0x222);
    stage_dht_destroy(&d);
}

/* stage_dht_name_move: a node that takes an actor over (its home drains)
** takes its name over from the id it had, atomically, and holds it from
** then on; the former holder's renewal is answered MISSING; a name bound
** to another actor, or to no one, is not taken. */
static void names_move_with_their_actors(void **st) {
    (void)st;
    for (int r = 1; r <= 3; r += 2) {
        stage_dht_t *d = lone(r);
        uint64_t key = stage_dht_key(STAGE_DHT_NAMES, "svc", 3);
        uint64_t rkey =
            stage_dht_replica(key, stage_dht_primary_index(key, r), r);
        stage_id_t first = actor_at("10.0.0.5:7400", 0x111, 3);
        stage_id_t here = actor_at("10.0.0.1:7400", 0x999, 7);
        claim_for(d, 0, 5, first.node, rkey, 1, &first, RF_TAKEOVER);
        assert_int_equal(reply_status(d, 1), 0);
        stage_id_t other = actor_at("10.0.0.5:7400", 0x111, 4);
        assert_int_equal(stage_dht_name_move(d, 5, 21, "svc", &other, &here),
                         0);
        assert_int_equal(done_status(d, 21), STAGE_EEXISTS);
        assert_int_equal(stage_dht_name_move(d, 6, 22, "svc", &first, &here),
                         0);
        assert_int_equal(done_status(d, 22), 0);
        /* the same takeover again (its reply was lost, say): done */
        assert_int_equal(stage_dht_name_move(d, 7, 24, "svc", &first, &here),
                         0);
        assert_int_equal(done_status(d, 24), 0);
        assert_int_equal(held_run(d, rkey), 0x999);
        assert_int_equal(stage__dht_find(d, rkey, 0)->owner, 1000);
        renew(d, 40, 5, rkey);
        assert_int_equal(sent(d, STAGE_DHT_M_MISSING), 1);
        assert_int_equal(
            stage_dht_name_move(d, 41, 23, "nobody", &first, &here), 0);
        assert_int_equal(done_status(d, 23), STAGE_EEXISTS);
        stage_dht_destroy(&d);
    }
}

/* Hand d a TRANSFER from manager 9 of the name entry (key, 0) naming id
** (NULL: a tombstone, the name removed), owned by owner at version ver (a
** range handed back, say). */
static void hand_back(stage_dht_t *d, uint64_t now, uint64_t key,
                      uint64_t owner, uint64_t ver, const stage_id_t *id) {
    stage_pack_t p = STAGE_PACK_INIT;
    if (id) stage_pack_id(&p, id);
    assert_int_equal(stage_pack_error(&p), 0);
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_TRANSFER;
    m.to = 1000;
    m.from = fake(9);
    payload_t pl = {0};
    rec_t r = {key, 0, owner, ver, LEASE, 0, (uint32_t)p.len, p.data, !id};
    stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    stage_dht_recv(d, now, &m);
    free(pl.data);
    stage_pack_free(&p);
}

/* A primary stopped (SIGSTOP) while its successor stood in and moved a
** name there: when the range is handed back, the newer write wins over the
** entry it held across the stop, whoever owns either (it served the old
** holder until the new owner's next renewal, lease/3); an older or equal
** version does not replace it. Without a stop, a hand-back never replaces
** another owner's entry (after a partition the primary's holder wins). A
** write decided here comes after the version held, even when this
** manager's clock is behind the one that decided that (clocks are per
** machine). */
static void hand_back_keeps_the_newer_write(void **st) {
    (void)st;
    stage_dht_t *d = lone(1);
    uint64_t key = stage_dht_key(STAGE_DHT_NAMES, "svc", 3);
    stage_id_t first = actor_at("10.0.0.5:7400", 0x111, 3);
    stage_id_t second = actor_at("10.0.0.6:7400", 0x222, 4);
    stage_id_t third = actor_at("10.0.0.7:7400", 0x333, 5);
    stage_id_t here = actor_at("10.0.0.1:7400", 0x999, 7);
    claim_for(d, 100, 5, first.node, key, 1, &first, RF_TAKEOVER);
    assert_int_equal(reply_status(d, 1), 0);
    /* not stopped: another owner's entry, newer or not, is not taken */
    hand_back(d, 200, key, 6, 150, &second);
    assert_int_equal(held_run(d, key), 0x111);
    /* a member of a ring, stopped from 200 to 5000: the successor
    ** decided the swap at 150 by its clock */
    d->joined = true;
    d->succ[0] = fake(2000);
    d->nsucc = 1;
    hand_back(d, 5000, key, 6, 150, &second);
    assert_int_equal(held_run(d, key), 0x222);
    assert_int_equal(stage__dht_find(d, key, 0)->owner, 6);
    /* a replica that still holds the old write, or another owner's write
    ** of the same version: not taken */
    hand_back(d, 5001, key, 5, 100, &first);
    hand_back(d, 5002, key, 7, 150, &third);
    assert_int_equal(held_run(d, key), 0x222);
    assert_int_equal(stage__dht_find(d, key, 0)->owner, 6);
    /* a machine whose clock is far ahead decided the next write */
    hand_back(d, 5003, key, 6, 1000000000, &second);
    assert_int_equal(stage__dht_find(d, key, 0)->ver, 1000000000);
    /* alone again, we take the name over at 6000 by our clock: after it
    ** all the same, and current from then on */
    d->nsucc = 0;
    assert_int_equal(stage_dht_name_move(d, 6000, 21, "svc", &second, &here),
                     0);
    assert_int_equal(done_status(d, 21), 0);
    assert_true(stage__dht_find(d, key, 0)->ver > 1000000000);
    hand_back(d, 6001, key, 6, 2000000000, &second);
    assert_int_equal(held_run(d, key), 0x999);
    assert_int_equal(stage__dht_find(d, key, 0)->owner, 1000);
    /* one owner's own entry handed back keeps the later lease */
    uint64_t until = stage__dht_find(d, key, 0)->expires;
    hand_back(d, 6002, key, 1000, 1, &here);
    assert_int_equal(stage__dht_find(d, key, 0)->expires, until + 2);
    stage_dht_destroy(&d);
}

/* A removal leaves a tombstone (its version, no value) that merges as an
** entry does: a primary stopped (SIGSTOP) while its successor stood in,
** moved a name and saw it released, gets the release's tombstone in the
** hand-back, and it replaces the entry held across the stop (served again
** until its lease ended, before); an older copy handed over after it, or
** the item at the tombstone's version, does not bring the name back.
** Without a stop, the owner's own later removal replaces its older entry
** (the removal was decided on a partition's other side, say). A write
** decided here comes after the tombstone; reads, renewals and counts do
** not see it. */
static void a_removal_wins_the_hand_back(void **st) {
    (void)st;
    stage_dht_t *d = lone(1);
    uint64_t key = stage_dht_key(STAGE_DHT_NAMES, "svc", 3);
    stage_id_t first = actor_at("10.0.0.5:7400", 0x111, 3);
    stage_id_t second = actor_at("10.0.0.6:7400", 0x222, 4);
    claim_for(d, 100, 5, first.node, key, 1, &first, RF_TAKEOVER);
    assert_int_equal(reply_status(d, 1), 0);
    uint64_t ver = stage__dht_find(d, key, 0)->ver;
    /* not stopped: the owner's older removal is not taken, its later one
    ** is; another owner's removal, later or not, is not */
    hand_back(d, 200, key, 5, ver - 1, NULL);
    hand_back(d, 201, key, 6, ver + 5, NULL);
    assert_true(stage_dht_holds(d, 201, key, 0));
    hand_back(d, 202, key, 5, ver + 1, NULL);
    assert_false(stage_dht_holds(d, 202, key, 0));
    assert_true(stage__dht_find(d, key, 0)->gone);
    /* the old copy again, or the item at the removal's version: removed */
    hand_back(d, 203, key, 5, ver, &first);
    hand_back(d, 204, key, 5, ver + 1, &first);
    assert_false(stage_dht_holds(d, 204, key, 0));
    size_t total;
    assert_int_equal(stage_dht_entry_count(d, &total), 0);
    assert_int_equal(total, 1); /* the tombstone, until its lease ends */
    /* and nobody renews it */
    renew(d, 205, 5, key);
    assert_int_equal(sent(d, STAGE_DHT_M_MISSING), 1);
    /* a tombstone of a removal decided far ahead (another machine's
    ** clock): a claim decided here after it comes after it */
    hand_back(d, 206, key, 5, 1000000000, NULL);
    assert_int_equal(stage__dht_find(d, key, 0)->ver, 1000000000);
    claim_for(d, 207, 6, second.node, key, 2, &second, RF_TAKEOVER);
    assert_int_equal(reply_status(d, 2), 0);
    assert_true(stage_dht_holds(d, 207, key, 0));
    assert_true(stage__dht_find(d, key, 0)->ver > 1000000000);
    stage_dht_destroy(&d);

    /* stopped from 100 to 5000: the successor moved the name to owner 6
    ** (version 150 by its clock), and 6 released it (160) */
    d = lone(1);
    claim_for(d, 100, 5, first.node, key, 1, &first, RF_TAKEOVER);
    assert_int_equal(reply_status(d, 1), 0);
    d->joined = true;
    d->succ[0] = fake(2000);
    d->nsucc = 1;
    hand_back(d, 5000, key, 6, 160, NULL);
    assert_false(stage_dht_holds(d, 5000, key, 0));
    /* a replica that still holds the old write: not taken */
    hand_back(d, 5001, key, 5, 100, &first);
    assert_false(stage_dht_holds(d, 5001, key, 0));
    assert_int_equal(stage__dht_find(d, key, 0)->ver, 160);
    stage_dht_destroy(&d);
}

/* A write's answer tells the version it was given; its owner keeps it,
** puts a lost copy again with it (not version 0, which lost every merge
** into an entry held across a stop), and its removal carries it: a
** replica standing in for a stopped primary, holding no copy, decides the
** removal after it whatever its own clock says, so the tombstone wins over
** the stopped primary's copy. */
static void owners_know_their_versions(void **st) {
    (void)st;
    stage_dht_t *d = lone(3);
    uint64_t k = 4242;
    int prim = stage_dht_primary_index(k, 3);
    assert_int_equal(stage_dht_put(d, 100, 11, k, 0, "a", 1), 0);
    assert_int_equal(done_status(d, 11), 0);
    owned_t *o = stage__dht_owned_find(d, k, 0);
    assert_non_null(o);
    uint64_t ver = stage__dht_find(d, stage_dht_replica(k, prim, 3), 0)->ver;
    assert_true(ver > 0);
    assert_int_equal(o->ver, ver);
    /* a holder says a copy is missing: it is put again at its version */
    int i = (prim + 1) % 3;
    uint64_t ki = stage_dht_replica(k, i, 3);
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_MISSING;
    m.to = 1000;
    m.from = o->holder[i];
    payload_t pl = {0};
    rec_t r = {ki, 0, 1000, 0, 0, (uint8_t)i, 0, NULL, false};
    stage__dht_pl_rec(&pl, &r);
    m.data = pl.data;
    m.len = pl.len;
    stage_dht_recv(d, 200, &m);
    free(pl.data);
    assert_int_equal(stage__dht_find(d, ki, 0)->ver, ver);
    /* the next write of it comes after */
    assert_int_equal(stage_dht_put(d, 50, 12, k, 0, "b", 1), 0);
    assert_int_equal(done_status(d, 12), 0);
    assert_true(o->ver > ver);
    stage_dht_destroy(&d);

    /* a removal asked with the version its owner saw (far ahead of this
    ** manager's clock), where no copy is held */
    d = lone(1);
    route_ver(d, 100, STAGE_DHT_OP_REMOVE, 5, 777, 1, "", 1000000000);
    assert_int_equal(reply_status(d, 1), 0);
    assert_true(stage__dht_find(d, 777, 0)->gone);
    assert_true(stage__dht_find(d, 777, 0)->ver > 1000000000);
    /* the stopped primary's copy, of that version, does not come back */
    d->joined = true;
    d->succ[0] = fake(2000);
    d->nsucc = 1;
    stage_dht_msg_t t;
    memset(&t, 0, sizeof(t));
    t.type = STAGE_DHT_M_TRANSFER;
    t.to = 1000;
    t.from = fake(9);
    payload_t tp = {0};
    rec_t c = {777, 0, 5, 1000000000, LEASE, 0, 1, "v", false};
    stage__dht_pl_rec(&tp, &c);
    t.data = tp.data;
    t.len = tp.len;
    stage_dht_recv(d, 5000, &t);
    free(tp.data);
    assert_false(stage_dht_holds(d, 5000, 777, 0));
    stage_dht_destroy(&d);
}

/* A GET of key from manager 'from', sent to d as the key's owner. */
static void get_final(stage_dht_t *d, uint64_t now, uint64_t from, uint64_t key,
                      uint64_t rid) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = STAGE_DHT_M_ROUTE;
    m.op = STAGE_DHT_OP_GET;
    m.flags = RF_FINAL;
    m.to = 1000;
    m.rid = rid;
    m.key = key;
    m.from = m.origin = fake(from);
    stage_dht_recv(d, now, &m);
}

/* A member that was not run for a while (SIGSTOP) answers nothing from
** what it held before until a predecessor notifies it and it has repaired
** its range: its successor may have stood in and moved a name meanwhile,
** and the hand-back comes a round trip after it resumes. A pause shorter
** than that changes nothing. */
static void a_member_stopped_for_a_while_serves_nothing_stale(void **st) {
    (void)st;
    stage_dht_t *d = lone(1);
    uint64_t key = 700; /* in (500, 1000] */
    stage_id_t first = actor_at("10.0.0.5:7400", 0x111, 3);
    claim_for(d, 10, 5, first.node, key, 1, &first, RF_TAKEOVER);
    assert_int_equal(reply_status(d, 1), 0);
    d->joined = true;
    d->pred = fake(500);
    d->pred_seen = 10;
    d->range_lo = 500;
    d->succ[0] = fake(2000);
    d->nsucc = 1;
    uint64_t due = d->next_period, period = d->cfg.period_ms;
    get_final(d, due + period, 6, key, 2);
    assert_int_equal(reply_status(d, 2), 0);
    /* a late timer is not a stop; every call now runs the late tick */
    stage_dht_tick(d, due + period);
    due = d->next_period;
    assert_true(due <= d->now + period);
    get_final(d, due + period + 1 + 3000, 6, key, 3);
    assert_int_equal(reply_status(d, 3), STAGE_EBUSY);
    assert_int_equal(d->pred.id, 0);
    stage_dht_destroy(&d);
}

/* A node's host entry: put, read back and decoded, replaced by the next
** put (one entry per manager, not one per put); a value that is not a
** host entry does not decode. */
static void host_entries_are_replaced_and_decoded(void **st) {
    (void)st;
    stage_dht_t *d = lone(1);
    stage_dht_host_t h = {"10.0.0.1:7400", 4, 0.5, 1, 120}, got;
    assert_int_equal(stage_dht_host_put(d, 0, 21, &h), 0);
    assert_int_equal(done_status(d, 21), 0);
    h.load = 2.25, h.actors = 7, h.mobile = 0;
    assert_int_equal(stage_dht_host_put(d, 1, 22, &h), 0);
    assert_int_equal(done_status(d, 22), 0);
    assert_int_equal(stage_dht_host_get(d, 2, 23, 1000), 0);
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(d, &n);
    assert_int_equal(n, 1);
    assert_int_equal(fx[0].status, 0);
    assert_int_equal(fx[0].nitems, 1);
    assert_int_equal(
        stage_dht_host_decode(fx[0].items[0].value, fx[0].items[0].len, &got),
        0);
    assert_string_equal(got.addr, "10.0.0.1:7400");
    assert_int_equal(got.cores, 4);
    assert_true(got.load == 2.25);
    assert_int_equal(got.mobile, 0);
    assert_int_equal(got.actors, 7);
    /* another manager's entry: none */
    assert_int_equal(stage_dht_host_get(d, 3, 24, 999), 0);
    assert_int_not_equal(done_status(d, 24), 0);
    stage_dht_destroy(&d);

    /* hostile values: each refused */
    static const struct {
        const char *v;
        size_t len;
    } bad[] = {
        {"", 0},
        {"\x95\xa0\x04\xcb\x00\x00\x00\x00\x00\x00\x00\x00\xc3\x01",
         14},                                 /* addr "" */
        {"\x95\xa1x\x00\x00\xc3\x01", 7},     /* 0 cores */
        {"\x95\xa1x\x01\xff\xc3\x01", 7},     /* load -1 */
        {"\x95\xa1x\x01\x00\xc3\xff", 7},     /* actors -1 */
        {"\x94\xa1x\x01\x00\xc3", 6},         /* 4 fields */
        {"\x95\xa2x\x00\x01\x00\xc3\x01", 8}, /* a NUL in addr */
        {"\x95\xa1x\x01\x00\xc3", 6},         /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(stage_dht_host_decode(bad[i].v, bad[i].len, &got),
                         STAGE_EDECODE);
    /* and the smallest good one */
    assert_int_equal(
        stage_dht_host_decode("\x95\xa1x\x01\x00\xc3\x02", 7, &got), 0);
    assert_int_equal(got.actors, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(entry_expires_without_renewal),
        cmocka_unit_test(owner_renewal_extends_the_lease),
        cmocka_unit_test(claim_is_decided_once_at_the_primary),
        cmocka_unit_test(own_requests_complete_through_the_effects),
        cmocka_unit_test(own_removals_complete_alone),
        cmocka_unit_test(host_entries_are_replaced_and_decoded),
        cmocka_unit_test(effects_accumulate_until_read),
        cmocka_unit_test(name_claim_takes_over_an_earlier_run_of_its_node),
        cmocka_unit_test(name_store_claims_take_over),
        cmocka_unit_test(names_move_with_their_actors),
        cmocka_unit_test(hand_back_keeps_the_newer_write),
        cmocka_unit_test(a_removal_wins_the_hand_back),
        cmocka_unit_test(owners_know_their_versions),
        cmocka_unit_test(a_member_stopped_for_a_while_serves_nothing_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
