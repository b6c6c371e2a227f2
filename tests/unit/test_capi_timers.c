/*
** tests/unit/test_capi_timers.c: timers of C actors — stage_after,
** stage_every, stage_timer_cancel, stage_sleep: they fire as turns of
** their actor, a cancel holds even for a turn already queued, a stopped
** actor's timers never run, and bad arguments are refused.
*/
#include <unistd.h>

#include "test_capi_util.h"

/* ---- a clock actor and what the test looks at -------------------------- */

typedef struct clock_st {
    stage_id_t me;
    int fired;         /* callbacks run */
    int wrong_context; /* a callback saw another actor's ctx or state */
    double busy_end;   /* when the busy handler returned */
    double fired_at;
    stage_timer_t timer, victim;
    int cancel_rc;
} clock_st_t;

static stage_future_t *done; /* a callback resolves it: the test may look */
static clock_st_t *seen;     /* the state of the last clock born */
static clock_st_t last;      /* a copy of it made by its death: the state
                             ** itself goes with its actor */
static int ticks, died, victim_ran, fired_total;
static stage_timer_t foreign; /* another actor's timer */

static void spin(double secs) { /* busy work inside a handler */
    double until = stage_now() + secs;
    while (stage_now() < until) {
    }
}

static void count_tick_in_death(stage_ctx_t *ctx, void *state, void *ud);

static void clock_birth(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)m;
    clock_st_t *st = state;
    st->me = *stage_self(ctx);
    seen = st;
}

static int death_rc = 1; /* what stage_every said in death */

static void clock_death(stage_ctx_t *ctx, void *state) {
    if (state == seen) last = *seen;
    died++;
    death_rc = stage_every(ctx, 0.001, count_tick_in_death, NULL, NULL);
}

/* Record that a callback ran in this actor's context. */
static void note_context(stage_ctx_t *ctx, void *state) {
    clock_st_t *st = state;
    if (!ctx || st != seen || !stage_id_equal(stage_self(ctx), &st->me))
        st->wrong_context++;
}

static void on_fire(stage_ctx_t *ctx, void *state, void *ud) {
    clock_st_t *st = state;
    note_context(ctx, state);
    st->fired++;
    fired_total++;
    st->fired_at = stage_now();
    cu_resolve_int(ud, st->fired);
}

static void clock_arm_after(stage_ctx_t *ctx, void *state,
                            const stage_msg_t *m) {
    clock_st_t *st = state;
    cu_reply_int(ctx, m,
                 stage_after(ctx, (double)cu_arg_int(m) / 1000, on_fire, done,
                             &st->timer));
}

static void clock_busy(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)ctx;
    clock_st_t *st = state;
    spin((double)cu_arg_int(m) / 1000);
    st->busy_end = stage_now();
}

static void on_tick(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ud;
    clock_st_t *st = state;
    note_context(ctx, state);
    if (++ticks == 3) {
        st->cancel_rc = stage_timer_cancel(ctx, st->timer);
        cu_resolve_int(done, ticks);
    }
}

static void clock_every(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    clock_st_t *st = state;
    stage_every(ctx, (double)cu_arg_int(m) / 1000, on_tick, NULL, &st->timer);
}

static void count_tick(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)state;
    (void)ud;
    ticks++;
}

static void count_tick_in_death(stage_ctx_t *ctx, void *state, void *ud) {
    count_tick(ctx, state, ud);
}

/* Arm two timers, then stop: neither may ever run. */
static void clock_arm_and_stop(stage_ctx_t *ctx, void *state,
                               const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_every(ctx, 0.005, count_tick, NULL, NULL);
    stage_after(ctx, 0.02, count_tick, NULL, NULL);
    stage_stop(ctx);
}

static void victim_fire(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)state;
    (void)ud;
    victim_ran++;
}

static void last_fire(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)ud;
    cu_resolve_int(done, ((clock_st_t *)state)->cancel_rc);
}

/* Fires first: cancels the victim, whose turn is already queued behind
** this one, then queues one more turn to report after the victim's. */
static void canceller_fire(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ud;
    clock_st_t *st = state;
    st->cancel_rc = stage_timer_cancel(ctx, st->victim);
    stage_after(ctx, 0, last_fire, NULL, NULL);
}

static void clock_race(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)m;
    clock_st_t *st = state;
    stage_after(ctx, 0.001, canceller_fire, NULL, NULL);
    stage_after(ctx, 0.002, victim_fire, NULL, &st->victim);
    /* Both fall due while this handler runs: the theatre fires them
    ** together once it returns, queueing both turns in deadline order. */
    spin(0.02);
}

/* Every way to call the timer functions wrong; the codes in order. */
static int bad_rc[16];

static void clock_bad(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_timer_t tm = {77};
    stage_future_t *f = (stage_future_t *)1;
    int k = 0;
    bad_rc[k++] = stage_after(ctx, -1, on_fire, NULL, &tm);
    bad_rc[k++] = (int)tm.id; /* cleared on error */
    bad_rc[k++] = stage_after(ctx, NAN, on_fire, NULL, NULL);
    bad_rc[k++] = stage_after(ctx, INFINITY, on_fire, NULL, NULL);
    bad_rc[k++] = stage_after(ctx, 1, NULL, NULL, NULL);
    bad_rc[k++] = stage_every(ctx, 0, on_tick, NULL, NULL);
    bad_rc[k++] = stage_every(ctx, -0.5, on_tick, NULL, NULL);
    bad_rc[k++] = stage_timer_cancel(ctx, (stage_timer_t){0});
    bad_rc[k++] = stage_timer_cancel(ctx, (stage_timer_t){1u << 30});
    bad_rc[k++] = stage_timer_cancel(ctx, foreign); /* another actor's */
    bad_rc[k++] = stage_sleep(ctx, -1, &f);
    bad_rc[k++] = f != NULL; /* cleared on error */
    bad_rc[k++] = stage_sleep(ctx, 1, NULL);
    cu_reply_int(ctx, m, k);
}

/* Arm a long timer whose id another actor will try to cancel. */
static void clock_own(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    cu_reply_int(ctx, m, stage_after(ctx, 0.05, count_tick, NULL, &foreign));
}

static void clock_cancel(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    cu_reply_int(ctx, m, stage_timer_cancel(ctx, ((clock_st_t *)state)->timer));
}

/* nap(ms): answers nil after ms, through stage_sleep's future. */
static void clock_nap(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_future_t *f = NULL;
    int rc = stage_sleep(ctx, (double)cu_arg_int(m) / 1000, &f);
    if (rc == 0) rc = stage_reply_future(ctx, m, f);
    if (rc) stage_reply_error(ctx, m, rc, "nap failed");
    stage_future_release(&f);
}

static const stage_method_t clock_methods[] = {
    {"arm_after", clock_arm_after},
    {"busy", clock_busy},
    {"every", clock_every},
    {"arm_and_stop", clock_arm_and_stop},
    {"race", clock_race},
    {"bad", clock_bad},
    {"own", clock_own},
    {"cancel", clock_cancel},
    {"nap", clock_nap},
    {NULL, NULL}};
static const stage_type_def_t clock_type = {.name = "Clock",
                                            .state_size = sizeof(clock_st_t),
                                            .methods = clock_methods,
                                            .birth = clock_birth,
                                            .death = clock_death};
static const stage_type_def_t *const types[] = {&clock_type, NULL};

static void reset(stage_node_t *node) {
    ticks = died = victim_ran = fired_total = 0;
    seen = NULL;
    assert_int_equal(stage_future_new(node, &done), 0);
}

/* ---- tests ------------------------------------------------------------- */

static void timer_after_runs_once_as_a_turn_between_handlers(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t clock;
    assert_int_equal(stage_node_spawn(node, "Clock", 1, NULL, 0, &clock), 0);
    stage_future_t *armed = cu_call(node, &clock, "arm_after", 10, 0);
    stage_future_t *busy = cu_call(node, &clock, "busy", 50, 0);
    assert_int_equal(cu_int(&done), 1);
    assert_int_equal(cu_int(&armed), 0);
    assert_int_equal(cu_status(&busy), 0);
    /* due after 10 ms, it waited for the 50 ms handler to return */
    assert_true(seen->fired_at >= seen->busy_end);
    assert_int_equal(seen->wrong_context, 0);
    assert_int_not_equal(seen->timer.id, 0);
    cu_end(&node); /* quiescence: nothing is armed any more */
    assert_int_equal(fired_total, 1);
}

static void
timer_every_repeats_until_cancelled_then_the_node_stops(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    reset(node);
    stage_id_t clock;
    assert_int_equal(stage_node_spawn(node, "Clock", 0, NULL, 0, &clock), 0);
    stage_future_t *f = cu_call(node, &clock, "every", 5, 0);
    stage_future_release(&f);
    /* not held: it stops at quiescence, which the cancel allows */
    assert_int_equal(stage_node_run(node), 0);
    assert_int_equal(ticks, 3);
    assert_int_equal(last.cancel_rc, 0);
    assert_int_equal(last.wrong_context, 0);
    stage_future_release(&done);
    stage_node_destroy(&node);
}

static void timer_cancel_holds_for_a_turn_already_queued(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    reset(node);
    cu_start(node);
    stage_id_t clock;
    assert_int_equal(stage_node_spawn(node, "Clock", 0, NULL, 0, &clock), 0);
    stage_future_t *f = cu_call(node, &clock, "race", 0, 1);
    assert_int_equal(cu_status(&f), 0);
    assert_int_equal(cu_int(&done), 0); /* the cancel's code */
    assert_int_equal(victim_ran, 0);
    cu_end(&node);
    assert_int_equal(victim_ran, 0);
}

static void timer_of_a_stopped_actor_never_runs(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    reset(node);
    stage_id_t clock;
    assert_int_equal(stage_node_spawn(node, "Clock", 0, NULL, 0, &clock), 0);
    assert_int_equal(
        stage_node_send(node, &clock, "arm_and_stop", NULL, 0, NULL), 0);
    /* the stop cancels both timers, so the node reaches quiescence; one
    ** set in death is refused */
    assert_int_equal(stage_node_run(node), 0);
    assert_int_equal(died, 1);
    assert_int_equal(ticks, 0);
    assert_int_equal(death_rc, STAGE_ESTOPPED);
    stage_future_release(&done);
    stage_node_destroy(&node);
}

static void timer_bad_arguments_are_refused(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    reset(node);
    cu_start(node);
    stage_id_t owner, other;
    assert_int_equal(stage_node_spawn(node, "Clock", 0, NULL, 0, &owner), 0);
    assert_int_equal(stage_node_spawn(node, "Clock", 0, NULL, 0, &other), 0);
    stage_future_t *f = cu_call(node, &owner, "own", 0, 1);
    assert_int_equal(cu_int(&f), 0);
    f = cu_call(node, &other, "bad", 0, 1);
    assert_int_equal(cu_int(&f), 13);
    const int want[13] = {STAGE_EINVAL, 0,
                          STAGE_EINVAL, STAGE_EINVAL,
                          STAGE_EINVAL, STAGE_EINVAL,
                          STAGE_EINVAL, STAGE_EINVAL,
                          STAGE_EINVAL, STAGE_EINVAL,
                          STAGE_EINVAL, 0,
                          STAGE_EINVAL};
    for (int i = 0; i < 13; i++)
        if (bad_rc[i] != want[i])
            fail_msg("call %d returned %d, not %d", i, bad_rc[i], want[i]);
    /* a timer that has fired for the last time: cancelling it is harmless */
    f = cu_call(node, &other, "arm_after", 0, 0);
    assert_int_equal(cu_int(&f), 0);
    assert_int_equal(cu_int(&done), 1);
    f = cu_call(node, &other, "cancel", 0, 1);
    assert_int_equal(cu_int(&f), 0);
    cu_end(&node);
    assert_int_equal(ticks, 1); /* the owner's timer was not cancelled */
}

static void timer_sleep_resolves_to_nil_after_its_delay(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t clock;
    assert_int_equal(stage_node_spawn(node, "Clock", 1, NULL, 0, &clock), 0);
    double start = stage_now();
    stage_future_t *f = cu_call(node, &clock, "nap", 30, 0);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.len, 1);
    assert_int_equal((uint8_t)res.data[0], 0xc0); /* nil */
    assert_true(stage_now() - start >= 0.03);
    stage_future_release(&f);
    stage_future_release(&done);
    cu_end(&node);
}

int main(void) {
    alarm(120); /* a hang (a timer that keeps a node alive) fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timer_after_runs_once_as_a_turn_between_handlers),
        cmocka_unit_test(
            timer_every_repeats_until_cancelled_then_the_node_stops),
        cmocka_unit_test(timer_cancel_holds_for_a_turn_already_queued),
        cmocka_unit_test(timer_of_a_stopped_actor_never_runs),
        cmocka_unit_test(timer_bad_arguments_are_refused),
        cmocka_unit_test(timer_sleep_resolves_to_nil_after_its_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
