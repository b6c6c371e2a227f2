/*
** tests/unit/test_node_calls.c: the calls a node has open (src/node/
** calls.c) driven with virtual time — deadlines to the millisecond, a
** reply matched only to its call and its node, a session's end failing
** exactly its node's calls with the typed error, the stop failing all,
** and every call ending exactly once even when the fail hook opens and
** ends calls itself.
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

#include "node/calls.h"
#include "stage/errors.h"

#define TIMEOUT 1000
#define MAXCALLS 512

/* A call as a driver keeps it: the module's part first. */
typedef struct tcall {
    stage__call_t call;
    int ended; /* times it ended: must end at 1 */
    int status;
    char message[512];
} tcall_t;

typedef struct world {
    stage__calls_t cs;
    tcall_t calls[MAXCALLS];
    uint64_t next_id;
    int failures;
    /* what the fail hook does besides recording */
    void (*also)(struct world *w, tcall_t *c);
} world_t;

static void on_fail(void *ud, stage__call_t *call, int status,
                    const char *message) {
    world_t *w = ud;
    tcall_t *c = (tcall_t *)call;
    assert_true(c >= w->calls && c < w->calls + MAXCALLS);
    c->ended++;
    c->status = status;
    snprintf(c->message, sizeof c->message, "%s", message);
    w->failures++;
    if (w->also) w->also(w, c);
}

static int setup(void **state) {
    world_t *w = calloc(1, sizeof *w);
    stage__calls_init(&w->cs, TIMEOUT, on_fail, w);
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world_t *w = *state;
    stage__calls_close(&w->cs);
    free(w);
    return 0;
}

/* Open the next call slot to peer at now: its index. */
static int open_call(world_t *w, const char *peer, uint64_t now) {
    int i = (int)w->next_id++;
    assert_true(i < MAXCALLS);
    assert_int_equal(stage__calls_open(&w->cs, &w->calls[i].call,
                                       (uint64_t)i + 1, peer, now),
                     0);
    return i;
}

/* The call ended by a reply: the module hands it back once. */
static void replied(world_t *w, int i, const char *peer) {
    stage__call_t *c = stage__calls_reply(&w->cs, (uint64_t)i + 1, peer);
    assert_ptr_equal(c, &w->calls[i].call);
    w->calls[i].ended++;
}

static void calls_time_out_at_their_deadline_not_before(void **state) {
    world_t *w = *state;
    assert_int_equal(stage__calls_next_deadline(&w->cs), UINT64_MAX);
    int a = open_call(w, "10.0.0.1:1", 100);
    int b = open_call(w, "10.0.0.2:1", 250);
    assert_int_equal(stage__calls_next_deadline(&w->cs), 100 + TIMEOUT);
    assert_int_equal(stage__calls_tick(&w->cs, 100 + TIMEOUT - 1), 0);
    assert_int_equal(w->calls[a].ended, 0);
    assert_int_equal(stage__calls_tick(&w->cs, 100 + TIMEOUT), 1);
    assert_int_equal(w->calls[a].ended, 1);
    assert_int_equal(w->calls[a].status, STAGE_ETIMEOUT);
    assert_string_equal(w->calls[a].message,
                        "no reply from node '10.0.0.1:1' within 1 s");
    assert_int_equal(w->calls[b].ended, 0);
    assert_int_equal(stage__calls_next_deadline(&w->cs), 250 + TIMEOUT);
    /* a late tick takes everything due at once */
    int c = open_call(w, "10.0.0.3:1", 300);
    assert_int_equal(stage__calls_tick(&w->cs, 5000), 2);
    assert_int_equal(w->calls[b].ended, 1);
    assert_int_equal(w->calls[c].ended, 1);
    assert_int_equal(stage__calls_count(&w->cs), 0);
    assert_int_equal(stage__calls_next_deadline(&w->cs), UINT64_MAX);
}

static void a_reply_ends_only_its_call_and_only_from_its_node(void **state) {
    world_t *w = *state;
    int a = open_call(w, "10.0.0.1:1", 0);
    int b = open_call(w, "10.0.0.1:1", 10);
    /* another node answering for call a, an id nobody called */
    assert_null(stage__calls_reply(&w->cs, (uint64_t)a + 1, "10.0.0.9:1"));
    assert_null(stage__calls_reply(&w->cs, 999, "10.0.0.1:1"));
    replied(w, a, "10.0.0.1:1");
    /* the same reply again, and a reply after the deadline: nothing */
    assert_null(stage__calls_reply(&w->cs, (uint64_t)a + 1, "10.0.0.1:1"));
    assert_int_equal(stage__calls_next_deadline(&w->cs), 10 + TIMEOUT);
    assert_int_equal(stage__calls_tick(&w->cs, 10 + TIMEOUT), 1);
    assert_null(stage__calls_reply(&w->cs, (uint64_t)b + 1, "10.0.0.1:1"));
    assert_int_equal(w->calls[a].ended, 1);
    assert_int_equal(w->calls[b].ended, 1);
    assert_int_equal(w->calls[b].status, STAGE_ETIMEOUT);
}

static void
a_sessions_end_fails_its_nodes_calls_with_the_typed_error(void **state) {
    world_t *w = *state;
    struct {
        int reason, status;
        const char *words;
    } cases[] = {
        {STAGE_ENODE_DOWN, STAGE_ENODE_DOWN, "is down"},
        {STAGE_ECANCELED, STAGE_ENODE_DOWN, "stopped"},
        {STAGE_ESTOPPED, STAGE_ENODE_DOWN, "restarted"},
        {STAGE_EPROTO, STAGE_ENODE_DOWN, "is down"},
        {STAGE_EUNREACHABLE, STAGE_EUNREACHABLE, "is unreachable"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int x = open_call(w, "10.0.0.1:1", k);
        int y = open_call(w, "10.0.0.1:1", k);
        int z = open_call(w, "10.0.0.2:1", k);
        assert_int_equal(stage__calls_session_ended(&w->cs, "10.0.0.1:1",
                                                    cases[k].reason, "why"),
                         2);
        char want[200];
        snprintf(want, sizeof want,
                 "node '10.0.0.1:1' %s before it replied: why", cases[k].words);
        assert_int_equal(w->calls[x].status, cases[k].status);
        assert_int_equal(w->calls[y].status, cases[k].status);
        assert_string_equal(w->calls[x].message, want);
        assert_int_equal(w->calls[x].ended, 1);
        assert_int_equal(w->calls[y].ended, 1);
        assert_int_equal(w->calls[z].ended, 0); /* another node's */
        replied(w, z, "10.0.0.2:1");
        /* no second failure, no reply matched after it */
        assert_int_equal(stage__calls_session_ended(&w->cs, "10.0.0.1:1",
                                                    cases[k].reason, "why"),
                         0);
        assert_null(stage__calls_reply(&w->cs, (uint64_t)x + 1, "10.0.0.1:1"));
    }
    assert_int_equal(stage__calls_count(&w->cs), 0);
}

static void stop_fails_every_call_once(void **state) {
    world_t *w = *state;
    for (int i = 0; i < 100; i++)
        open_call(w, i % 2 ? "10.0.0.1:1" : "10.0.0.2:1", (uint64_t)i);
    replied(w, 7, "10.0.0.1:1");
    assert_int_equal(stage__calls_stop(&w->cs), 99);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(w->calls[i].ended, 1);
        if (i != 7) assert_int_equal(w->calls[i].status, STAGE_ESTOPPED);
    }
    assert_string_equal(w->calls[0].message,
                        "this node shut down before node '10.0.0.2:1' "
                        "replied");
    assert_int_equal(stage__calls_tick(&w->cs, UINT64_MAX - TIMEOUT), 0);
    assert_int_equal(stage__calls_stop(&w->cs), 0);
}

static void a_call_taken_back_is_never_failed(void **state) {
    world_t *w = *state;
    int a = open_call(w, "10.0.0.1:1", 0);
    int b = open_call(w, "10.0.0.1:1", 0);
    assert_ptr_equal(stage__calls_take(&w->cs, (uint64_t)a + 1),
                     &w->calls[a].call);
    assert_null(stage__calls_take(&w->cs, (uint64_t)a + 1));
    assert_int_equal(stage__calls_session_ended(&w->cs, "10.0.0.1:1",
                                                STAGE_ENODE_DOWN, "gone"),
                     1);
    assert_int_equal(w->calls[a].ended, 0);
    assert_int_equal(w->calls[b].ended, 1);
}

/* The hook opens a call to the same node (a lookup asks the next one) and
** takes another open call back: the new call is not failed by the end
** already under way, the taken one is not failed at all. */
static int victim = -1;
static void hook_opens_and_takes(world_t *w, tcall_t *c) {
    (void)c;
    if (w->next_id < 40) open_call(w, "10.0.0.1:1", 5);
    if (victim >= 0 && stage__calls_take(&w->cs, (uint64_t)victim + 1)) {
        w->calls[victim].ended++;
        victim = -1;
    }
}

static void the_fail_hook_may_open_and_end_calls(void **state) {
    world_t *w = *state;
    for (int i = 0; i < 10; i++)
        open_call(w, "10.0.0.1:1", 0);
    victim = open_call(w, "10.0.0.2:1", 0);
    int taken = victim;
    w->also = hook_opens_and_takes;
    assert_int_equal(stage__calls_session_ended(&w->cs, "10.0.0.1:1",
                                                STAGE_ENODE_DOWN, "gone"),
                     10);
    w->also = NULL;
    assert_int_equal(w->calls[taken].ended, 1);
    assert_int_not_equal(w->calls[taken].status, STAGE_ENODE_DOWN);
    /* the 10 calls the hook opened are open still; they time out */
    assert_int_equal(stage__calls_count(&w->cs), 10);
    assert_int_equal(stage__calls_tick(&w->cs, 5 + TIMEOUT), 10);
    for (int i = 0; i < (int)w->next_id; i++)
        assert_int_equal(w->calls[i].ended, 1);
}

/* Random operations against a model: every call ends exactly once, with
** the status of what ended it, and deadlines come in order. */
static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_operations_end_every_call_exactly_once(void **state) {
    world_t *w = *state;
    static const char *peers[] = {"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"};
    uint64_t now = 0;
    bool done[MAXCALLS] = {false}; /* the model: ended? */
    int want[MAXCALLS];            /* ... with this status (0: replied) */
    for (int step = 0; step < 5000; step++) {
        int n = (int)w->next_id, pick = -1; /* an open call, or -1 */
        for (int i = 0; i < n; i++)
            if (!done[i] && (pick < 0 || rnd() % 3 == 0)) pick = i;
        switch (rnd() % 6) {
        case 0:
        case 1:
            if (w->next_id < MAXCALLS) open_call(w, peers[rnd() % 3], now);
            break;
        case 2:
            if (pick >= 0) {
                replied(w, pick, w->calls[pick].call.peer);
                done[pick] = true, want[pick] = 0;
            }
            break;
        case 3: {
            const char *peer = peers[rnd() % 3];
            for (int i = 0; i < n; i++)
                if (!done[i] && !strcmp(w->calls[i].call.peer, peer))
                    done[i] = true, want[i] = STAGE_ENODE_DOWN;
            stage__calls_session_ended(&w->cs, peer, STAGE_ENODE_DOWN, "x");
            break;
        }
        default:
            now += rnd() % 300;
            uint64_t next = stage__calls_next_deadline(&w->cs);
            for (int i = 0; i < n; i++) {
                if (done[i]) continue;
                assert_true(w->calls[i].call.deadline >= next);
                if (w->calls[i].call.deadline <= now)
                    done[i] = true, want[i] = STAGE_ETIMEOUT;
            }
            stage__calls_tick(&w->cs, now);
        }
        for (int i = 0; i < (int)w->next_id; i++) {
            assert_int_equal(w->calls[i].ended, done[i] ? 1 : 0);
            if (done[i] && want[i])
                assert_int_equal(w->calls[i].status, want[i]);
        }
    }
    assert_true(w->next_id > 100);
    stage__calls_stop(&w->cs);
    for (int i = 0; i < (int)w->next_id; i++)
        assert_int_equal(w->calls[i].ended, 1);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(calls_time_out_at_their_deadline_not_before),
        T(a_reply_ends_only_its_call_and_only_from_its_node),
        T(a_sessions_end_fails_its_nodes_calls_with_the_typed_error),
        T(stop_fails_every_call_once),
        T(a_call_taken_back_is_never_failed),
        T(the_fail_hook_may_open_and_end_calls),
        T(random_operations_end_every_call_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
