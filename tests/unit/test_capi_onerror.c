/*
** tests/unit/test_capi_onerror.c: what a failed C handler leaves behind —
** stage_fail and the on_error policy of stage_type_def_t. KEEP serves on
** with the changed state; RESTART (the default) runs death, zeroes the
** state and runs birth again with the spawn arguments, under the same id
** and name, handling the messages queued behind the failure, with the old
** instance's timers cancelled; STOP stops the actor. A birth that fails
** stops it (but under KEEP), on restart too; past max_restarts within
** restart_window it stops. Nodes of one theatre: the counters below are
** written there and read by the test after an answer from it.
*/
#include <unistd.h>

#include "test_capi_util.h"

typedef struct acc {
    int64_t n;     /* birth sets it from its argument */
    int64_t extra; /* birth leaves it: zeroed state shows here */
} acc_t;

enum { KEEP, RESTART, STOP, LIMITED, FRAGILE, BADBIRTH, KEPTBAD, NTYPES };
static const char *const names[NTYPES] = {
    "Kept", "Acc", "Stopper", "Limited", "Fragile", "BadBirth", "KeptBad"};
static int births[NTYPES], deaths[NTYPES];
static int fragile_fails; /* Fragile's birth fails once it is set */
static int old_fired;     /* firings of a timer the failed instance set */

static int type_index(stage_ctx_t *ctx) {
    for (int i = 0; i < NTYPES; i++)
        if (!strcmp(stage_self(ctx)->type, names[i])) return i;
    return 0;
}

static void acc_birth(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    acc_t *a = state;
    int i = type_index(ctx);
    births[i]++;
    a->n = cu_arg_int(m);
    if (i == BADBIRTH || i == KEPTBAD || (i == FRAGILE && fragile_fails))
        stage_fail(ctx, "cannot be born");
}

static void acc_death(stage_ctx_t *ctx, void *state) {
    (void)state;
    deaths[type_index(ctx)]++;
}

/* Change the state, then fail. */
static void bump_fail(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)m;
    acc_t *a = state;
    a->n++;
    a->extra = 7;
    if (type_index(ctx) == FRAGILE) fragile_fails = 1;
    stage_fail(ctx, "half done");
}

static void get(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    cu_reply_int(ctx, m, ((acc_t *)state)->n);
}

static void extra(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    cu_reply_int(ctx, m, ((acc_t *)state)->extra);
}

static void add(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    acc_t *a = state;
    a->n += cu_arg_int(m);
    cu_reply_int(ctx, m, a->n);
}

static void fire_old(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)state;
    (void)ud;
    old_fired++;
}

/* A timer 50 ms from now, which a restart must cancel. */
static void arm(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_after(ctx, 0.05, fire_old, NULL, NULL);
}

static void probe_fire(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)state;
    stage_future_t *p = ud;
    cu_resolve_int(p, old_fired);
    stage_future_release(&p);
}

/* Answer, 100 ms from now, how often the old timer fired: a timer of this
** theatre due sooner fires first. */
static void probe(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_future_t *p;
    if (stage_future_new(stage_ctx_node(ctx), &p)) return;
    stage_reply_future(ctx, m, p);
    stage_after(ctx, 0.1, probe_fire, p, NULL);
}

static void fail_in_timer(stage_ctx_t *ctx, void *state, void *ud) {
    acc_t *a = state;
    a->n = 99;
    cu_resolve_int(ud, 1); /* the test's next message comes after this */
    stage_future_t *p = ud;
    stage_future_release(&p);
    stage_fail(ctx, "the timer failed");
}

/* A timer at once that changes the state and fails; the reply comes from
** it, before it fails. */
static void arm_failing(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_future_t *p;
    if (stage_future_new(stage_ctx_node(ctx), &p)) return;
    stage_reply_future(ctx, m, p);
    stage_after(ctx, 0, fail_in_timer, p, NULL);
}

static const stage_method_t methods[] = {{"bump_fail", bump_fail},
                                         {"get", get},
                                         {"extra", extra},
                                         {"add", add},
                                         {"arm", arm},
                                         {"probe", probe},
                                         {"arm_failing", arm_failing},
                                         {NULL, NULL}};

#define TYPE(tname, policy, max, window)                                       \
    {                                                                          \
        .name = tname, .state_size = sizeof(acc_t), .methods = methods,        \
        .birth = acc_birth, .death = acc_death, .on_error = policy,            \
        .max_restarts = max, .restart_window = window                          \
    }

static const stage_type_def_t kept = TYPE("Kept", STAGE_ON_ERROR_KEEP, 0, 0);
static const stage_type_def_t restarted = TYPE("Acc", 0, 0, 0); /* default */
static const stage_type_def_t stopper =
    TYPE("Stopper", STAGE_ON_ERROR_STOP, 0, 0);
static const stage_type_def_t limited =
    TYPE("Limited", STAGE_ON_ERROR_RESTART, 2, 60);
static const stage_type_def_t fragile = TYPE("Fragile", 0, 0, 0);
static const stage_type_def_t badbirth = TYPE("BadBirth", 0, 0, 0);
static const stage_type_def_t keptbad =
    TYPE("KeptBad", STAGE_ON_ERROR_KEEP, 0, 0);
static const stage_type_def_t *const types[] = {
    &kept, &restarted, &stopper, &limited, &fragile, &badbirth, &keptbad, NULL};

/* A node of one theatre with the types, started, counters reset. */
static stage_node_t *start(void) {
    memset(births, 0, sizeof births);
    memset(deaths, 0, sizeof deaths);
    fragile_fails = old_fired = 0;
    stage_node_t *node = cu_node(1, types);
    cu_start(node);
    return node;
}

/* Spawn type with start value n. */
static stage_id_t spawn(stage_node_t *node, const char *type, int64_t n) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_int(&p, n);
    stage_id_t id;
    assert_int_equal(stage_node_spawn(node, type, 0, p.data, p.len, &id), 0);
    stage_pack_free(&p);
    return id;
}

static stage_future_t *call(stage_node_t *node, const stage_id_t *to,
                            const char *method) {
    return cu_call(node, to, method, 0, 1);
}

/* f fails with HandlerError "half done" from actor id. */
static void fails_half_done(stage_future_t **f, const stage_id_t *id) {
    stage_result_t res;
    cu_wait(*f, &res);
    assert_int_equal(res.status, STAGE_EHANDLER);
    assert_string_equal(res.message, "half done");
    char text[STAGE_ID_TEXT_MAX];
    stage_id_format(id, text, sizeof text);
    assert_string_equal(res.actor, text);
    stage_future_release(f);
}

static void keep_serves_the_changed_state(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t k = spawn(node, "Kept", 5);
    stage_future_t *f = call(node, &k, "bump_fail");
    fails_half_done(&f, &k);
    f = call(node, &k, "get");
    assert_int_equal(cu_int(&f), 6);
    f = call(node, &k, "extra");
    assert_int_equal(cu_int(&f), 7);
    assert_int_equal(births[KEEP], 1);
    assert_int_equal(deaths[KEEP], 0);
    cu_end(&node);
}

static void
restart_runs_birth_again_on_zeroed_state_same_id_and_name(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t r = spawn(node, "Acc", 5);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_name(node, "acc", &r, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    f = call(node, &r, "bump_fail");
    fails_half_done(&f, &r);
    f = call(node, &r, "get");
    assert_int_equal(cu_int(&f), 5); /* birth's, from the spawn argument */
    f = call(node, &r, "extra");
    assert_int_equal(cu_int(&f), 0); /* zeroed: birth does not set it */
    assert_int_equal(births[RESTART], 2);
    assert_int_equal(deaths[RESTART], 1); /* the failed instance's */
    /* the same id, found by its name */
    stage_id_t found;
    assert_int_equal(stage_node_find_name(node, "acc", &f), 0);
    cu_id(&f, &found);
    assert_true(stage_id_equal(&found, &r));
    f = cu_call(node, &found, "add", 1, 0);
    assert_int_equal(cu_int(&f), 6);
    cu_end(&node);
    assert_int_equal(deaths[RESTART], 2); /* and the new one's at the stop */
}

static void
restart_keeps_the_messages_queued_behind_the_failure(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t r = spawn(node, "Acc", 5);
    stage_future_t *failed = call(node, &r, "bump_fail");
    stage_future_t *a = cu_call(node, &r, "add", 1, 0);
    stage_future_t *b = cu_call(node, &r, "add", 2, 0);
    fails_half_done(&failed, &r);
    assert_int_equal(cu_int(&a), 6);
    assert_int_equal(cu_int(&b), 8);
    cu_end(&node);
}

static void restart_cancels_the_old_instances_timers(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t r = spawn(node, "Acc", 5);
    stage_future_t *f = call(node, &r, "arm");
    assert_int_equal(cu_status(&f), 0);
    f = call(node, &r, "bump_fail");
    fails_half_done(&f, &r);
    f = call(node, &r, "probe");
    assert_int_equal(cu_int(&f), 0); /* the 50 ms timer never fired */
    cu_end(&node);
}

static void a_failure_in_a_timer_restarts_too(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t r = spawn(node, "Acc", 5);
    stage_future_t *f = call(node, &r, "arm_failing");
    assert_int_equal(cu_int(&f), 1); /* from inside the failing turn */
    f = call(node, &r, "get");
    assert_int_equal(cu_int(&f), 5); /* not the timer's 99 */
    assert_int_equal(births[RESTART], 2);
    cu_end(&node);
}

static void stop_stops_the_actor(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t s = spawn(node, "Stopper", 5);
    stage_future_t *failed = call(node, &s, "bump_fail");
    stage_future_t *behind = call(node, &s, "get");
    fails_half_done(&failed, &s);
    assert_int_equal(cu_status(&behind), STAGE_EACTOR_NOT_FOUND);
    stage_future_t *f = call(node, &s, "get");
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(deaths[STOP], 1);
    cu_end(&node);
}

static void a_failed_birth_stops_the_actor_but_under_keep(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t b = spawn(node, "BadBirth", 5);
    stage_future_t *f = call(node, &b, "get");
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
    stage_id_t k = spawn(node, "KeptBad", 5);
    f = call(node, &k, "get");
    assert_int_equal(cu_int(&f), 5);
    cu_end(&node);
}

static void a_birth_failing_on_restart_stops_the_actor(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t fr = spawn(node, "Fragile", 5);
    stage_future_t *failed = call(node, &fr, "bump_fail");
    stage_future_t *behind = call(node, &fr, "get");
    fails_half_done(&failed, &fr);
    assert_int_equal(cu_status(&behind), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(births[FRAGILE], 2);
    cu_end(&node);
}

static void past_the_restart_limit_the_actor_stops(void **unused) {
    (void)unused;
    stage_node_t *node = start();
    stage_id_t l = spawn(node, "Limited", 0);
    stage_future_t *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = call(node, &l, "bump_fail");
    stage_future_t *behind = call(node, &l, "get");
    for (int i = 0; i < 3; i++) /* two restarts, then a stop */
        fails_half_done(&f[i], &l);
    assert_int_equal(cu_status(&f[3]), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(cu_status(&behind), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(births[LIMITED], 3);
    assert_int_equal(deaths[LIMITED], 3);
    cu_end(&node);
}

static void bad_policies_are_refused(void **unused) {
    (void)unused;
    stage_node_t *node = cu_node(1, NULL);
    stage_type_def_t def = TYPE("Bad", 0, 0, 0);
    def.on_error = (stage_on_error_t)7;
    assert_int_equal(stage_type_register(node, &def), STAGE_EINVAL);
    def = (stage_type_def_t)TYPE("Bad", 0, -1, 0);
    assert_int_equal(stage_type_register(node, &def), STAGE_EINVAL);
    const double windows[] = {-1, INFINITY, NAN};
    for (int i = 0; i < 3; i++) {
        def = (stage_type_def_t)TYPE("Bad", 0, 0, windows[i]);
        assert_int_equal(stage_type_register(node, &def), STAGE_EINVAL);
    }
    def = (stage_type_def_t)TYPE("Bad", STAGE_ON_ERROR_STOP, 3, 0.5);
    assert_int_equal(stage_type_register(node, &def), 0);
    stage_node_destroy(&node);
}

int main(void) {
    alarm(120); /* a hang (a timer that keeps a node alive) fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keep_serves_the_changed_state),
        cmocka_unit_test(
            restart_runs_birth_again_on_zeroed_state_same_id_and_name),
        cmocka_unit_test(restart_keeps_the_messages_queued_behind_the_failure),
        cmocka_unit_test(restart_cancels_the_old_instances_timers),
        cmocka_unit_test(a_failure_in_a_timer_restarts_too),
        cmocka_unit_test(stop_stops_the_actor),
        cmocka_unit_test(a_failed_birth_stops_the_actor_but_under_keep),
        cmocka_unit_test(a_birth_failing_on_restart_stops_the_actor),
        cmocka_unit_test(past_the_restart_limit_the_actor_stops),
        cmocka_unit_test(bad_policies_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
