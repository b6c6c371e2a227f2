/*
** tests/unit/test_steal.c: work stealing between the theatres of one node
** (core/steal.c) with C actors. Actors spawned from the test's thread
** with theatre -1 all start on theatre 0; each gets a few milliseconds of
** CPU work queued, so theatre 0 has a backlog while theatre 1 is idle:
** whatever answers from theatre 1 was stolen. A stolen Counter keeps its
** state and its queued messages in order, and its departing and arrived
** hooks run once each; pinned actors, actors spawned on a named theatre
** and a type without encode/decode never leave theatre 0, and all answer.
** The steal is a move (core/move.c): a stolen actor's C timer goes with
** it and fires once where it went; one whose state the idle theatre
** cannot decode serves on at theatre 0, as it was.
*/
#include <stdatomic.h>
#include <time.h>

#include "test_counter_type.h"

#define ACTORS 24 /* per kind */
#define SPIN_MS 3 /* CPU work per spin message */

/* spin(ms): burn ms of this thread's CPU time (a C handler cannot be
** preempted), then answer the theatre it ran on. */
static void c_spin(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double until = ts.tv_sec + ts.tv_nsec * 1e-9 + cu_arg_int(msg) * 1e-3;
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    while (ts.tv_sec + ts.tv_nsec * 1e-9 < until);
    cu_reply_int(ctx, msg, stage_ctx_theatre(ctx));
}

/* Rings of arm(i): actor i's timer fired on theatre rang_on[i], rang[i]
** times; when all `ringing` have, all_rang resolves. */
#define RING_MS 1000 /* past the spins: the steals happen while armed */
static atomic_int rang[ACTORS], rang_on[ACTORS], nrang, ringing;
static stage_future_t *all_rang;

static void on_ring(stage_ctx_t *ctx, void *state, void *ud) {
    intptr_t i = (intptr_t)ud;
    ((counter_t *)state)->count += 100;
    atomic_store(&rang_on[i], stage_ctx_theatre(ctx));
    atomic_fetch_add(&rang[i], 1);
    if (atomic_fetch_add(&nrang, 1) + 1 == atomic_load(&ringing))
        cu_resolve_int(all_rang, 1);
}

/* arm(i): a one-shot timer of RING_MS that counts 100 and records i. */
static void c_arm(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg,
                 stage_after(ctx, RING_MS / 1000.0, on_ring,
                             (void *)(intptr_t)cu_arg_int(msg), NULL));
}

static const stage_method_t methods[] = {
    {"add", c_add},     {"info", c_info},     {"spin", c_spin},
    {"where", c_where}, {"refuse", c_refuse}, {"arm", c_arm},
    {NULL, NULL}};
static const stage_type_def_t counter_type = {.name = "Counter",
                                              .state_size = sizeof(counter_t),
                                              .methods = methods,
                                              .encode = c_encode,
                                              .decode = c_decode,
                                              .departing = c_departing,
                                              .arrived = c_arrived};
static const stage_type_def_t plain_type = {
    .name = "Plain", .state_size = sizeof(counter_t), .methods = methods};
static const stage_type_def_t pinned_type = {.name = "Pinned",
                                             .kind = STAGE_KIND_PINNED,
                                             .state_size = sizeof(counter_t),
                                             .methods = methods,
                                             .encode = c_encode,
                                             .decode = c_decode};
static const stage_type_def_t fickle_type = {.name = "Fickle",
                                             .state_size = sizeof(counter_t),
                                             .methods = methods,
                                             .encode = c_encode,
                                             .decode = c_decode_refuse,
                                             .departing = c_departing,
                                             .arrived = c_arrived};
static const stage_type_def_t *const all_types[] = {
    &counter_type, &plain_type, &pinned_type, &fickle_type, NULL};

static void steal_takes_queued_actors_with_state_and_order(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    stage_id_t ids[ACTORS];
    stage_future_t *first[ACTORS], *spin[ACTORS], *second[ACTORS],
        *info[ACTORS];
    for (int i = 0; i < ACTORS; i++) {
        assert_int_equal(
            stage_node_spawn(node, "Counter", -1, NULL, 0, &ids[i]), 0);
        assert_int_equal(ids[i].theatre, 0);
        first[i] = cu_call(node, &ids[i], "add", 1, 0);
    }
    /* all born and idle: what goes now has a state, and hooks that run */
    for (int i = 0; i < ACTORS; i++)
        assert_int_equal(cu_int(&first[i]), 1);
    for (int i = 0; i < ACTORS; i++) {
        spin[i] = cu_call(node, &ids[i], "spin", SPIN_MS, 0);
        second[i] = cu_call(node, &ids[i], "add", 10, 0);
        info[i] = cu_call(node, &ids[i], "info", 0, 1);
    }
    int stolen = 0;
    for (int i = 0; i < ACTORS; i++) {
        /* in order, the state carried along: 1 before, then 11 */
        int64_t ran_on = cu_int(&spin[i]);
        assert_int_equal(cu_int(&second[i]), 11);
        int64_t in[4];
        counter_info(&info[i], in);
        assert_int_equal(in[0], 11);
        if (in[3] == 1) { /* stolen: it left once, arrived once */
            stolen++;
            assert_int_equal(in[1], 1);
            assert_int_equal(in[2], 1);
        } else {
            assert_int_equal(in[3], 0);
            assert_int_equal(in[1], 0);
            assert_int_equal(in[2], 0);
            assert_int_equal(ran_on, 0);
        }
    }
    if (!stolen)
        fail_msg("no actor was stolen: all %d ran on theatre 0 while "
                 "theatre 1 was idle",
                 ACTORS);
    cu_end(&node);
}

static void steal_leaves_pinned_placed_and_unsendable(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    /* per actor: its kind (0 free, 1 pinned, 2 on theatre 0, 3 no encode) */
    enum { FREE, PINNED, PLACED, PLAIN, KINDS };
    static const char *const names[KINDS] = {"a free Counter", "a Pinned",
                                             "a Counter spawned on theatre 0",
                                             "a Plain (no encode)"};
    stage_future_t *spin[KINDS * ACTORS];
    for (int i = 0; i < KINDS * ACTORS; i++) {
        int kind = i % KINDS;
        stage_id_t id;
        const char *type = kind == PINNED  ? "Pinned"
                           : kind == PLAIN ? "Plain"
                                           : "Counter";
        assert_int_equal(
            stage_node_spawn(node, type, kind == PLACED ? 0 : -1, NULL, 0, &id),
            0);
        spin[i] = cu_call(node, &id, "spin", SPIN_MS, 0);
    }
    int free_stolen = 0;
    for (int i = 0; i < KINDS * ACTORS; i++) {
        int64_t on = cu_int(&spin[i]);
        if (i % KINDS == FREE)
            free_stolen += on == 1;
        else if (on != 0)
            fail_msg("%s ran on theatre %d", names[i % KINDS], (int)on);
    }
    /* else the test shows nothing */
    if (!free_stolen) fail_msg("no free Counter was stolen");
    cu_end(&node);
}

/* Counters with an armed C timer, stolen: the timer went with each and
** fires once, where it went, after its deadline; those not stolen ring at
** home. Every call is answered, in order. */
static void a_stolen_actors_timer_goes_with_it(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    stage_id_t ids[ACTORS];
    stage_future_t *f[ACTORS], *spin[ACTORS], *second[ACTORS];
    atomic_store(&nrang, 0);
    atomic_store(&ringing, ACTORS);
    assert_int_equal(stage_future_new(node, &all_rang), 0);
    double armed = stage_now();
    for (int i = 0; i < ACTORS; i++) {
        atomic_store(&rang[i], 0);
        assert_int_equal(
            stage_node_spawn(node, "Counter", -1, NULL, 0, &ids[i]), 0);
        f[i] = cu_call(node, &ids[i], "arm", i, 0);
    }
    for (int i = 0; i < ACTORS; i++)
        assert_int_equal(cu_int(&f[i]), 0);
    for (int i = 0; i < ACTORS; i++) {
        spin[i] = cu_call(node, &ids[i], "spin", SPIN_MS, 0);
        second[i] = cu_call(node, &ids[i], "add", 1, 0);
    }
    for (int i = 0; i < ACTORS; i++) {
        cu_int(&spin[i]);
        assert_int_equal(cu_int(&second[i]), 1); /* before its ring */
    }
    assert_true(stage_now() < armed + RING_MS / 1000.0); /* else: longer */
    assert_int_equal(cu_int(&all_rang), 1);
    assert_true(stage_now() >= armed + RING_MS / 1000.0);
    int stolen = 0;
    for (int i = 0; i < ACTORS; i++) {
        int64_t in[4];
        f[i] = cu_call(node, &ids[i], "info", 0, 1);
        counter_info(&f[i], in);
        assert_int_equal(in[0], 101);                      /* rang once */
        assert_int_equal(atomic_load(&rang[i]), 1);        /* here too */
        assert_int_equal(atomic_load(&rang_on[i]), in[3]); /* where it is */
        stolen += in[3] == 1;
    }
    if (!stolen)
        fail_msg("no actor was stolen: all %d ran on theatre 0 while "
                 "theatre 1 was idle",
                 ACTORS);
    cu_end(&node);
}

/* Fickles (a decode that refuses every state) with work queued: a steal
** of one fails at the idle theatre, and the actor, kept at theatre 0
** until then, serves on there as it was — its state, its calls in order,
** departing and arrived once each — and is not tried again. */
static void
a_steal_the_idle_theatre_cannot_decode_leaves_it_serving(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    stage_id_t ids[ACTORS];
    stage_future_t *first[ACTORS], *spin[ACTORS], *second[ACTORS],
        *info[ACTORS];
    for (int i = 0; i < ACTORS; i++) {
        assert_int_equal(stage_node_spawn(node, "Fickle", -1, NULL, 0, &ids[i]),
                         0);
        first[i] = cu_call(node, &ids[i], "add", 1, 0);
    }
    for (int i = 0; i < ACTORS; i++)
        assert_int_equal(cu_int(&first[i]), 1);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < ACTORS; i++) {
            spin[i] = cu_call(node, &ids[i], "spin", SPIN_MS, 0);
            second[i] = cu_call(node, &ids[i], "add", 10, 0);
            info[i] = cu_call(node, &ids[i], "info", 0, 1);
        }
        int tried = 0;
        for (int i = 0; i < ACTORS; i++) {
            assert_int_equal(cu_int(&spin[i]), 0);
            assert_int_equal(cu_int(&second[i]), 11 + 10 * round);
            int64_t in[4];
            counter_info(&info[i], in);
            assert_int_equal(in[0], 11 + 10 * round);
            assert_int_equal(in[3], 0);
            assert_int_equal(in[1], in[2]); /* each departing, one arrived */
            assert_true(in[2] <= 1);        /* tried once at most */
            tried += in[2] == 1;
        }
        if (round == 0 && !tried)
            fail_msg("no Fickle was tried: theatre 1 stayed idle");
    }
    cu_end(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steal_takes_queued_actors_with_state_and_order),
        cmocka_unit_test(steal_leaves_pinned_placed_and_unsendable),
        cmocka_unit_test(a_stolen_actors_timer_goes_with_it),
        cmocka_unit_test(
            a_steal_the_idle_theatre_cannot_decode_leaves_it_serving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
