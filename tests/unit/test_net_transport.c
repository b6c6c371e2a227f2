/*
** tests/unit/test_net_transport.c: two transports on loopback, one loop —
** frames both ways in order, simultaneous connects, a peer that dies and
** returns, an unreachable peer, bounded queues, heartbeats.
*/
#include "test_net_util.h"
#include "util/log.h"

static uv_loop_t loop;
static tnode_t a, b;
static uint64_t want; /* frames each side waits for */

static bool both_have_want(void *ud) {
    (void)ud;
    return a.frames >= want && b.frames >= want;
}

#define A_MANAGER 0x1234u
#define B_MANAGER 0x8000000000000001ull /* a negative int on the wire */

static int setup(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    uv_loop_init(&loop);
    cfg.manager = A_MANAGER;
    tn_start(&loop, &a, &cfg, NULL);
    cfg.manager = B_MANAGER;
    tn_start(&loop, &b, &cfg, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    log_capture_end(); /* if a check failed while capturing */
    tn_stop(&loop, &a);
    tn_stop(&loop, &b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static void frames_flow_both_ways_in_order(void **state) {
    (void)state;
    want = 20000;
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 16), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 16), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    assert_int_equal(a.frames, want);
    assert_int_equal(b.frames, want);
    assert_false(a.out_of_order);
    assert_false(b.out_of_order);
    assert_string_equal(b.last_peer, a.addr);
    assert_int_equal(a.ups, 1);
    assert_int_equal(b.ups, 1);
    assert_int_equal(a.downs + b.downs, 0);
}

/* Each side learns the other's DHT manager id from its handshake (the
** DHT then leaves the sender's id out of every message). */
static void the_handshake_tells_the_peer_manager(void **state) {
    (void)state;
    assert_true(stage__transport_peer_manager(a.t, b.addr) == 0);
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 0), 0);
    assert_int_equal(tn_send(&b, a.addr, 0, 0), 0);
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    assert_true(stage__transport_peer_manager(a.t, b.addr) == B_MANAGER);
    assert_true(stage__transport_peer_manager(b.t, a.addr) == A_MANAGER);
    assert_true(stage__transport_peer_manager(a.t, "127.0.0.1:1") == 0);
}

static bool b_has_want(void *ud) {
    (void)ud;
    return b.frames >= want;
}

static void frames_of_one_loop_turn_go_in_one_write(void **state) {
    (void)state;
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 8), 0);
    assert_true(tn_run_until(&loop, b_has_want, NULL));
    stage__net_stats_t before, after;
    assert_int_equal(stage__transport_peer_stats(a.t, b.addr, &before), 0);
    want = 1001;
    for (uint64_t i = 1; i < want; i++)
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
    assert_true(tn_run_until(&loop, b_has_want, NULL));
    assert_int_equal(stage__transport_peer_stats(a.t, b.addr, &after), 0);
    assert_false(b.out_of_order);
    assert_int_equal(after.frames_out - before.frames_out, 1000);
    assert_int_equal(after.writes - before.writes, 1); /* one, not 1000 */
}

static void large_frames_arrive_whole(void **state) {
    (void)state;
    want = 8;
    size_t pad = 3 << 20; /* 3 MiB each, several reads per frame */
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, pad), 0);
        assert_int_equal(tn_send(&b, a.addr, i, pad), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    assert_false(a.out_of_order || b.out_of_order);
    assert_true(b.bytes >= want * pad);
    stage__net_stats_t sa, sb;
    assert_int_equal(stage__transport_peer_stats(a.t, b.addr, &sa), 0);
    stage__transport_stats(b.t, &sb);
    assert_true(sa.bytes_out >= want * pad && sb.bytes_in >= want * pad);
}

static void oversized_send_is_refused(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tnode_t c;
    tn_config(&cfg);
    cfg.max_frame = 1024;
    cfg.max_outbound = 4096;
    tn_start(&loop, &c, &cfg, NULL);
    assert_int_equal(tn_send(&c, a.addr, 0, 2000), STAGE_ETOOBIG);
    assert_int_equal(tn_send(&c, c.addr, 0, 10), STAGE_EINVAL);
    assert_int_equal(tn_send(&c, "nonsense", 0, 10), STAGE_EINVAL);
    assert_int_equal(stage__transport_send(c.t, a.addr, 1, "\xc0", 1),
                     STAGE_EINVAL);
    tn_stop(&loop, &c);
}

static void listening_on_a_taken_port_fails_once_and_for_all(void **state) {
    (void)state;
    stage__transport_t *t = NULL;
    assert_int_equal(stage__transport_new(&loop, NULL, NULL, &t), 0);
    assert_int_equal(stage__transport_listen(t, "nonsense", NULL, 0),
                     STAGE_EINVAL);
    assert_int_equal(stage__transport_listen_error(t), 0);
    assert_int_equal(stage__transport_listen(t, a.addr, NULL, 0), STAGE_EIO);
    /* the reason, for the caller's one line: "address already in use" */
    assert_int_equal(stage__transport_listen_error(t), UV_EADDRINUSE);
    assert_int_equal(stage__transport_listen(t, "127.0.0.1:0", NULL, 0),
                     STAGE_EINVAL);
    assert_string_equal(stage__transport_address(t), "");
    assert_int_equal(tn_send(&(tnode_t){.t = t}, a.addr, 0, 4), STAGE_EINVAL);
    stage__transport_destroy(&t);
    assert_null(t);
}

static int rounds;

static bool one_conn_each_and_all_frames(void *ud) {
    (void)ud;
    return a.frames >= want && b.frames >= want && a.ups == 1 && b.ups == 1;
}

/* Live (not closing) connections of n's transport. */
static int live_conns(const tnode_t *n) {
    int k = 0;
    for (stage__conn_t *c = n->t->conns; c; c = c->next)
        k += c->state != CONN_CLOSING;
    return k;
}

static void simultaneous_connect_keeps_one_connection(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    for (rounds = 0; rounds < 20; rounds++) {
        want = 500;
        /* Both queue before the loop runs: both dial at once. */
        for (uint64_t i = 0; i < want; i++) {
            assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
            assert_int_equal(tn_send(&b, a.addr, i, 8), 0);
        }
        assert_true(tn_run_until(&loop, one_conn_each_and_all_frames, NULL));
        for (int i = 0; i < 20; i++)
            uv_run(&loop, UV_RUN_NOWAIT);
        assert_int_equal(a.frames, want);
        assert_int_equal(b.frames, want);
        assert_false(a.out_of_order || b.out_of_order);
        assert_int_equal(a.downs + b.downs, 0);
        assert_int_equal(live_conns(&a), 1);
        assert_int_equal(live_conns(&b), 1);
        tn_stop(&loop, &a);
        tn_stop(&loop, &b);
        tn_start(&loop, &a, &cfg, NULL);
        tn_start(&loop, &b, &cfg, NULL);
    }
}

static bool a_saw_down(void *ud) {
    (void)ud;
    return a.downs > 0;
}

static bool a_gave_up(void *ud) {
    (void)ud;
    return a.last_reason == STAGE_EUNREACHABLE;
}

static tnode_t b2;

static bool b2_has_want(void *ud) {
    (void)ud;
    return b2.frames >= want && a.ups >= 2;
}

static bool a_acked_all(void *ud) {
    (void)ud;
    stage__peer_t *p = stage__peer_find(a.t, b.addr);
    return b.frames >= want && p && stage__session_unacked(&p->s) == 0;
}

/* b stops (kill -9: nothing listens at its address any more). The session
** is not ended by the lost connection but by the refused reconnects: a
** declares that incarnation dead, and frames sent later wait for whoever
** answers next, here a new incarnation. */
static void stopped_peer_is_declared_dead_then_a_new_one_serves(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.max_attempts = 1000; /* keep dialling while nobody answers */
    tn_stop(&loop, &a);
    tn_start(&loop, &a, &cfg, NULL);
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 8), 0);
    assert_true(tn_run_until(&loop, a_acked_all, NULL));
    uint32_t old_inc = a.last_inc;
    char baddr[STAGE_ADDR_MAX];
    snprintf(baddr, sizeof baddr, "%s", b.addr);
    uint64_t t0 = uv_now(&loop);
    tn_stop(&loop, &b);
    assert_true(tn_run_until(&loop, a_saw_down, NULL));
    assert_int_equal(a.last_reason, STAGE_ENODE_DOWN);
    assert_int_equal(a.down_inc, old_inc);
    assert_non_null(strstr(a.down_why, "refused"));
    assert_int_equal(a.dropped, 0);         /* frame 0 was acknowledged */
    assert_true(uv_now(&loop) - t0 < 2000); /* refusals, not the silence */
    assert_true(stage__transport_is_dead(a.t, baddr, old_inc, NULL));
    assert_int_equal(stage__transport_peer_is_up(a.t, baddr), 0);
    /* Frames sent while nobody is there wait for the next incarnation. */
    want = 100;
    for (uint64_t i = 0; i < want; i++)
        assert_int_equal(tn_send(&a, baddr, i, 8), 0);
    tn_config(&cfg);
    tn_start(&loop, &b2, &cfg, baddr);
    assert_true(tn_run_until(&loop, b2_has_want, NULL));
    assert_false(b2.out_of_order);
    assert_int_equal(b2.frames, want);
    assert_int_not_equal(a.last_inc, old_inc); /* a new incarnation */
    assert_int_equal(a.downs, 1);
    tn_stop(&loop, &b2);
}

/* Frames a sent and b never acknowledged before it died are given back
** with the end of the session, all of them, in order. */
static void
unacknowledged_frames_are_given_back_when_the_peer_dies(void **state) {
    (void)state;
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 8), 0);
    assert_true(tn_run_until(&loop, a_acked_all, NULL));
    for (uint64_t i = 1; i <= 5; i++) /* queued in this loop turn... */
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
    tn_stop(&loop, &b); /* ...and b is gone before they are read */
    assert_true(tn_run_until(&loop, a_saw_down, NULL));
    assert_int_equal(a.last_reason, STAGE_ENODE_DOWN);
    assert_int_equal(a.dropped, 5);
    assert_int_equal(a.nlost, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(a.lost[i], i + 1);
}

/* b restarts at its address (a new incarnation) before a gives its
** incarnation up: the session ends with STAGE_ESTOPPED, giving back what
** was not acknowledged, and the new incarnation gets what is sent next. */
static void restarted_peer_ends_the_session_with_estopped(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.refused_limit = 1000; /* the restart comes before the verdict */
    cfg.max_attempts = 1000;
    tn_stop(&loop, &a);
    tn_start(&loop, &a, &cfg, NULL);
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 8), 0);
    assert_true(tn_run_until(&loop, a_acked_all, NULL));
    uint32_t old_inc = a.last_inc;
    char baddr[STAGE_ADDR_MAX];
    snprintf(baddr, sizeof baddr, "%s", b.addr);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(tn_send(&a, baddr, i, 8), 0);
    tn_stop(&loop, &b);
    tn_config(&cfg);
    tn_start(&loop, &b2, &cfg, baddr);
    assert_true(tn_run_until(&loop, a_saw_down, NULL));
    assert_int_equal(a.last_reason, STAGE_ESTOPPED);
    assert_int_equal(a.down_inc, old_inc);
    assert_non_null(strstr(a.down_why, "restarted"));
    assert_int_equal(a.nlost, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(a.lost[i], i + 1);
    want = 10;
    for (uint64_t i = 0; i < want; i++)
        assert_int_equal(tn_send(&a, baddr, i, 8), 0);
    assert_true(tn_run_until(&loop, b2_has_want, NULL));
    assert_false(b2.out_of_order);
    assert_int_equal(b2.frames, want);
    assert_int_equal(a.downs, 1);
    /* the old incarnation is refused from now on */
    assert_true(stage__transport_is_dead(a.t, baddr, old_inc, NULL));
    tn_stop(&loop, &b2);
}

/* b says goodbye and, still stopping, listens on: the session ends with
** STAGE_ECANCELED, and frames a sends b after that start no new session
** with that incarnation: nothing comes up again, and they are given back
** (b has stopped, as far as a is concerned). */
static void peer_that_said_goodbye_is_not_taken_back(void **state) {
    (void)state;
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 8), 0);
    assert_true(tn_run_until(&loop, a_acked_all, NULL));
    stage__transport_goodbye(b.t);
    assert_true(tn_run_until(&loop, a_saw_down, NULL));
    assert_int_equal(a.last_reason, STAGE_ECANCELED);
    assert_int_equal(a.down_inc, a.last_inc);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
    assert_true(tn_run_until(&loop, a_gave_up, NULL));
    assert_int_equal(a.downs, 2);
    assert_int_equal(a.down_inc, 0); /* no session was bound */
    assert_int_equal(a.nlost, 3);
    assert_int_equal(b.frames, 1);
    assert_int_equal(a.ups, 1);
    assert_int_equal(b.ups, 1);
}

/* The test breaks a's connection to b again and again while frames
** stream both ways: each side gets every frame once and in order, and
** nobody is reported down or up again. */
static int breaks;
static uint64_t break_every;

static bool both_have_want_breaking(void *ud) {
    (void)ud;
    stage__peer_t *p = stage__peer_find(a.t, b.addr);
    if (p && p->conn && p->up &&
        a.frames + b.frames >= (breaks + 1) * break_every) {
        stage__conn_close(p->conn, STAGE_EIO, STAGE_LOG_DEBUG,
                          "the test breaks it");
        breaks++;
    }
    return a.frames >= want && b.frames >= want;
}

static void broken_connections_lose_and_double_nothing(void **state) {
    (void)state;
    want = 100000;
    break_every = 15000;
    breaks = 0;
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 16), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 16), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want_breaking, NULL));
    assert_true(breaks >= 5);
    assert_int_equal(a.frames, want);
    assert_int_equal(b.frames, want);
    assert_false(a.out_of_order);
    assert_false(b.out_of_order);
    assert_int_equal(a.ups, 1);
    assert_int_equal(b.ups, 1);
    assert_int_equal(a.downs + b.downs, 0);
    stage__peer_t *pa = stage__peer_find(a.t, b.addr);
    stage__peer_t *pb = stage__peer_find(b.t, a.addr);
    assert_int_equal(pa->s.duplicates + pb->s.duplicates, 0);
}

static void unreachable_peer_drops_queue_after_policy(void **state) {
    (void)state;
    char gone[STAGE_ADDR_MAX];
    snprintf(gone, sizeof gone, "%s", b.addr);
    tn_stop(&loop, &b); /* nothing listens there now */
    for (uint64_t i = 0; i < 7; i++)
        assert_int_equal(tn_send(&a, gone, i, 8), 0);
    assert_true(tn_run_until(&loop, a_gave_up, NULL));
    assert_int_equal(a.dropped, 7);
    assert_int_equal(a.ups, 0);
    /* refused: given up at refused_limit (2), not max_attempts (4) */
    assert_non_null(
        strstr(a.down_why, "2 connection attempts in a row were refused"));
}

static bool b_has_want_a_drained(void *ud) {
    (void)ud;
    return b.frames >= want && a.drains > 0;
}

static void full_queue_returns_busy_then_drains(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.max_frame = 4096;
    cfg.max_outbound = 64 * 1024;
    tn_stop(&loop, &a);
    tn_start(&loop, &a, &cfg, NULL);
    uint64_t n = 0;
    int rc;
    while ((rc = tn_send(&a, b.addr, n, 1000)) == 0)
        n++;
    assert_int_equal(rc, STAGE_EBUSY);
    assert_true(n > 50 && n < 70); /* 64 KiB of ~1 KiB frames */
    want = n;
    assert_true(tn_run_until(&loop, b_has_want_a_drained, NULL));
    assert_int_equal(b.frames, n);
    assert_false(b.out_of_order);
    assert_int_equal(tn_send(&a, b.addr, n, 1000), 0);
}

static bool a_pinged_thrice(void *ud) {
    (void)ud;
    stage__net_stats_t s;
    stage__transport_peer_stats(a.t, b.addr, &s);
    return s.frames_in >= 1 + 1 + 3; /* hello, the echo, three pings */
}

static void idle_connection_stays_up_on_heartbeats(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.heartbeat_ms = 40;
    cfg.heartbeat_misses = 5; /* tolerate a 200 ms stall of a loaded CI */
    tn_stop(&loop, &a);
    tn_stop(&loop, &b);
    tn_start(&loop, &a, &cfg, NULL);
    tn_start(&loop, &b, &cfg, NULL);
    b.echo = true;
    want = 1;
    assert_int_equal(tn_send(&a, b.addr, 0, 8), 0);
    assert_true(tn_run_until(&loop, a_pinged_thrice, NULL));
    assert_int_equal(a.downs + b.downs, 0);
    assert_int_equal(stage__transport_peer_is_up(a.t, b.addr), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_handshake_tells_the_peer_manager,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(frames_flow_both_ways_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(frames_of_one_loop_turn_go_in_one_write,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(large_frames_arrive_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(oversized_send_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            listening_on_a_taken_port_fails_once_and_for_all, setup, teardown),
        cmocka_unit_test_setup_teardown(
            simultaneous_connect_keeps_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(
            stopped_peer_is_declared_dead_then_a_new_one_serves, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            unacknowledged_frames_are_given_back_when_the_peer_dies, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            restarted_peer_ends_the_session_with_estopped, setup, teardown),
        cmocka_unit_test_setup_teardown(
            broken_connections_lose_and_double_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(
            unreachable_peer_drops_queue_after_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(
            peer_that_said_goodbye_is_not_taken_back, setup, teardown),
        cmocka_unit_test_setup_teardown(full_queue_returns_busy_then_drains,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(idle_connection_stays_up_on_heartbeats,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
