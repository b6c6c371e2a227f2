/*
** tests/unit/test_node_names.c: the name cache, the runs other nodes
** announced and the rule for asking again (src/node/names.c), with
** virtual time: entries expire at their TTL to the millisecond and go with
** their node; a restart is noticed; a REFIND's answer is judged as the
** driver relies on; a waiting lookup asks again at 25, 50, then every
** 100 ms, and gives up once STAGE__NAMES_REWAIT_MS have passed.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/names.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define SELF "127.0.0.1:7400"
#define SELF_INC 0x11u

static int setup(void **state) {
    stage__names_t *ns = malloc(sizeof *ns);
    stage__names_init(ns, SELF, SELF_INC);
    *state = ns;
    return 0;
}

static int teardown(void **state) {
    stage__names_t *ns = *state;
    stage__names_close(ns);
    free(ns);
    return 0;
}

static stage_id_t id_at(const char *node, uint32_t inc, uint64_t serial) {
    stage_id_t id = {.incarnation = inc, .serial = serial};
    snprintf(id.node, sizeof id.node, "%s", node);
    snprintf(id.type, sizeof id.type, "Queue");
    return id;
}

/* The msgpack of id in buf (at least 200 bytes): its length. */
static size_t pack_id(char *buf, const stage_id_t *id) {
    stage_pack_t p = {buf, 0, 200, 0};
    stage_pack_id(&p, id);
    assert_int_equal(stage_pack_error(&p), 0);
    return p.len;
}

static void put(stage__names_t *ns, const char *name, const char *node,
                uint64_t now) {
    char buf[200];
    stage_id_t id = id_at(node, 7, 1);
    size_t len = pack_id(buf, &id);
    assert_int_equal(stage__names_put(ns, name, buf, len, now), 0);
}

static bool has(stage__names_t *ns, const char *name, uint64_t now) {
    const char *v;
    size_t len;
    return stage__names_get(ns, name, now, &v, &len);
}

static void a_cached_name_lives_its_ttl_and_no_longer(void **state) {
    stage__names_t *ns = *state;
    char buf[200];
    stage_id_t id = id_at("10.0.0.1:1", 7, 42);
    size_t len = pack_id(buf, &id);
    assert_int_equal(stage__names_put(ns, "queue", buf, len, 1000), 0);
    const char *v;
    size_t vlen;
    assert_true(stage__names_get(ns, "queue", 1000, &v, &vlen));
    assert_int_equal(vlen, len);
    assert_memory_equal(v, buf, len);
    assert_true(has(ns, "queue", 1000 + STAGE__NAMES_TTL_MS - 1));
    assert_false(has(ns, "queue", 1000 + STAGE__NAMES_TTL_MS));
    assert_int_equal(stage__names_count(ns), 0); /* an expired one goes */
    assert_false(has(ns, "other", 1000));
}

static void only_an_id_is_cached(void **state) {
    stage__names_t *ns = *state;
    assert_int_equal(stage__names_put(ns, "x", "\xc3", 1, 0), STAGE_EDECODE);
    char buf[210];
    stage_id_t id = id_at("10.0.0.1:1", 7, 42);
    size_t len = pack_id(buf, &id);
    buf[len] = '\xc0'; /* an id and something more */
    assert_int_equal(stage__names_put(ns, "x", buf, len + 1, 0), STAGE_EDECODE);
    assert_int_equal(stage__names_count(ns), 0);
}

static void a_name_put_again_replaces_and_drop_removes(void **state) {
    stage__names_t *ns = *state;
    put(ns, "queue", "10.0.0.1:1", 0);
    put(ns, "queue", "10.0.0.2:1", 500);
    assert_int_equal(stage__names_count(ns), 1);
    /* the second put's TTL counts */
    assert_true(has(ns, "queue", 500 + STAGE__NAMES_TTL_MS - 1));
    stage__names_drop(ns, "queue");
    assert_false(has(ns, "queue", 600));
    stage__names_drop(ns, "never there");
}

static void a_nodes_entries_go_with_it(void **state) {
    stage__names_t *ns = *state;
    char name[32];
    for (int i = 0; i < 300; i++) { /* past one gathering of 64 */
        snprintf(name, sizeof name, "n%d", i);
        put(ns, name, i % 3 ? "10.0.0.1:1" : "10.0.0.2:1", 0);
    }
    stage__names_forget_node(ns, "10.0.0.1:1");
    assert_int_equal(stage__names_count(ns), 100);
    assert_true(has(ns, "n0", 1));
    assert_false(has(ns, "n1", 1));
    stage__names_forget_node(ns, NULL);
    assert_int_equal(stage__names_count(ns), 0);
}

static void a_restart_is_noticed_and_ends_the_old_run(void **state) {
    stage__names_t *ns = *state;
    stage_id_t old = id_at("10.0.0.1:1", 5, 1), neu = id_at("10.0.0.1:1", 6, 1);
    assert_false(stage__names_run_ended(ns, &old)); /* nothing known */
    assert_false(stage__names_peer_up(ns, "10.0.0.1:1", 5));
    assert_false(stage__names_peer_up(ns, "10.0.0.1:1", 5)); /* reconnect */
    assert_false(stage__names_run_ended(ns, &old));
    assert_true(stage__names_peer_up(ns, "10.0.0.1:1", 6));
    assert_true(stage__names_run_ended(ns, &old));
    assert_false(stage__names_run_ended(ns, &neu));
    assert_false(stage__names_peer_up(ns, "10.0.0.1:1", 0)); /* no news */
    assert_false(stage__names_run_ended(ns, &neu));
    /* this node's own earlier runs */
    stage_id_t mine = id_at(SELF, SELF_INC, 1), before = id_at(SELF, 3, 1);
    assert_false(stage__names_run_ended(ns, &mine));
    assert_true(stage__names_run_ended(ns, &before));
}

static void a_refind_answer_is_judged(void **state) {
    stage__names_t *ns = *state;
    stage_id_t failed = id_at("10.0.0.1:1", 5, 9);
    char buf[200];
    size_t len = pack_id(buf, &failed);
    assert_int_equal(stage__names_refind(ns, &failed, STAGE_ETIMEOUT, NULL, 0),
                     STAGE__REFIND_BUSY);
    assert_int_equal(stage__names_refind(ns, &failed, STAGE_EBUSY, NULL, 0),
                     STAGE__REFIND_BUSY);
    assert_int_equal(stage__names_refind(ns, &failed, 0, NULL, 0),
                     STAGE__REFIND_MISSING);
    assert_int_equal(
        stage__names_refind(ns, &failed, STAGE_ENAME_NOT_FOUND, NULL, 0),
        STAGE__REFIND_MISSING);
    assert_int_equal(stage__names_refind(ns, &failed, STAGE_ENOMEM, NULL, 0),
                     STAGE__REFIND_ANSWER);
    /* the same actor, its run not known to have ended: the answer stands */
    assert_int_equal(stage__names_refind(ns, &failed, 0, buf, len),
                     STAGE__REFIND_ANSWER);
    stage__names_peer_up(ns, "10.0.0.1:1", 5);
    stage__names_peer_up(ns, "10.0.0.1:1", 6); /* it restarted */
    assert_int_equal(stage__names_refind(ns, &failed, 0, buf, len),
                     STAGE__REFIND_STALE);
    /* the name now names an actor of the new run: that one is live */
    stage_id_t moved = id_at("10.0.0.1:1", 6, 2);
    len = pack_id(buf, &moved);
    assert_int_equal(stage__names_refind(ns, &failed, 0, buf, len),
                     STAGE__REFIND_ANSWER);
    /* an actor of another node: a new holder */
    stage_id_t other = id_at("10.0.0.2:1", 5, 9);
    len = pack_id(buf, &other);
    assert_int_equal(stage__names_refind(ns, &failed, 0, buf, len),
                     STAGE__REFIND_ANSWER);
    /* not an id: the driver hands it on as it is */
    assert_int_equal(stage__names_refind(ns, &failed, 0, "\xc3", 1),
                     STAGE__REFIND_ANSWER);
}

static void a_waiting_lookup_asks_again_then_gives_up(void **state) {
    stage__names_t *ns = *state;
    stage__rewait_t rw = {0};
    uint64_t now = 5000, waits[32];
    int n = 0;
    assert_int_equal(stage__names_rewait_next(ns), UINT64_MAX);
    while (stage__names_rewait(ns, &rw, now)) {
        assert_true(n < 32);
        assert_int_equal(stage__names_rewait_next(ns), rw.due);
        waits[n++] = rw.due - now;
        /* not due a millisecond early, due at its time */
        assert_null(stage__names_rewait_due(ns, rw.due - 1));
        stage__rewait_t *due = stage__names_rewait_due(ns, rw.due);
        assert_ptr_equal(due, &rw);
        assert_null(due->next);
        assert_int_equal(stage__names_rewait_next(ns), UINT64_MAX);
        now = rw.due + 3; /* the DHT's answer takes 3 ms */
    }
    assert_int_equal(waits[0], 25);
    assert_int_equal(waits[1], 50);
    for (int i = 2; i < n; i++)
        assert_int_equal(waits[i], 100);
    /* it gave up at the first answer past the time, not before */
    assert_true(now - 5000 >= STAGE__NAMES_REWAIT_MS);
    assert_true(now - 5000 < STAGE__NAMES_REWAIT_MS + 100 + 3);
    assert_null(stage__names_rewait_all(ns));
}

static void waiting_lookups_come_due_in_their_own_time(void **state) {
    stage__names_t *ns = *state;
    stage__rewait_t a = {0}, b = {0}, c = {0};
    assert_true(stage__names_rewait(ns, &a, 0));  /* due 25 */
    assert_true(stage__names_rewait(ns, &b, 10)); /* due 35 */
    assert_true(stage__names_rewait(ns, &c, 30)); /* due 55 */
    assert_int_equal(stage__names_rewait_next(ns), 25);
    stage__rewait_t *due = stage__names_rewait_due(ns, 40);
    int got = 0;
    for (stage__rewait_t *rw = due; rw; rw = rw->next) {
        assert_true(rw == &a || rw == &b);
        got++;
    }
    assert_int_equal(got, 2);
    assert_int_equal(stage__names_rewait_next(ns), 55);
    assert_ptr_equal(stage__names_rewait_all(ns), &c);
    assert_int_equal(stage__names_rewait_next(ns), UINT64_MAX);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_cached_name_lives_its_ttl_and_no_longer),
        T(only_an_id_is_cached),
        T(a_name_put_again_replaces_and_drop_removes),
        T(a_nodes_entries_go_with_it),
        T(a_restart_is_noticed_and_ends_the_old_run),
        T(a_refind_answer_is_judged),
        T(a_waiting_lookup_asks_again_then_gives_up),
        T(waiting_lookups_come_due_in_their_own_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
