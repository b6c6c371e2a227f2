/*
** tests/unit/test_migrate_local.c: moves between the theatres of one node
** through the C API (stage_migrate, stage_migrate_actor,
** stage_node_migrate_actor; core/move.c): a C actor moved back and forth
** while the test's thread calls it keeps every message once and in order;
** it moves itself; refusals leave it where it was, serving; what a move
** cannot do yet is refused at once.
*/
#include "test_counter_type.h"

#define THEATRES 4

/* Counter (test_counter_type.h), and hop(t): it moves itself to t
** (answers rc). */
static void c_hop(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    int rc = stage_migrate(ctx, (int)cu_arg_int(msg));
    if (!rc) assert_int_equal(stage_migrate(ctx, 0), STAGE_EINVAL); /* once */
    cu_reply_int(ctx, msg, rc);
}

static const stage_method_t methods[] = {{"add", c_add},       {"info", c_info},
                                         {"where", c_where},   {"hop", c_hop},
                                         {"refuse", c_refuse}, {NULL, NULL}};
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
static const stage_type_def_t *const types[] = {&counter_type, &plain_type,
                                                &pinned_type, NULL};

static stage_node_t *node_up(void) {
    stage_node_t *node = cu_node(THEATRES, types);
    cu_start(node);
    return node;
}

static void spawn(stage_node_t *node, const char *type, int theatre,
                  stage_id_t *out) {
    assert_int_equal(stage_node_spawn(node, type, theatre, "\x90", 1, out), 0);
}

static int64_t where(stage_node_t *node, const stage_id_t *id) {
    stage_future_t *f = cu_call(node, id, "where", 0, 1);
    return cu_int(&f);
}

/* Move id to theatre to from outside: the status; the message in err. */
static int move(stage_node_t *node, const stage_id_t *id, int to, char *err,
                size_t errlen) {
    stage_future_t *f;
    assert_int_equal(stage_node_migrate_actor(node, id, to, &f), 0);
    stage_result_t res;
    cu_wait(f, &res);
    snprintf(err, errlen, "%s", res.message ? res.message : "");
    int status = res.status;
    if (!status) { /* its id, the same within a node */
        stage_id_t got;
        assert_int_equal(stage_result_id(&res, &got), 0);
        assert_true(stage_id_equal(&got, id));
    }
    stage_future_release(&f);
    return status;
}

/* The test's thread calls add(1) N times while moves, not awaited, take
** the actor around every theatre: each answer is the count so far, so a
** message lost, duplicated or out of order shows. */
static void calls_keep_their_order_across_moves_asked_from_outside(void **s) {
    (void)s;
    enum { N = 4000, EVERY = 50 };
    stage_node_t *node = node_up();
    stage_id_t c;
    spawn(node, "Counter", 0, &c);
    assert_int_equal(where(node, &c), 0); /* born: the hooks run from now */
    static stage_future_t *adds[N], *moves[N / EVERY];
    int nmoves = 0, at = 0, moved = 0;
    for (int i = 0; i < N; i++) {
        adds[i] = cu_call(node, &c, "add", 1, 0);
        if (i % EVERY == 0) {
            int to = (at + 1 + i / EVERY % (THEATRES - 1)) % THEATRES;
            assert_int_equal(
                stage_node_migrate_actor(node, &c, to, &moves[nmoves++]), 0);
            moved += to != at;
            at = to;
        }
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(cu_int(&adds[i]), i + 1);
    for (int i = 0; i < nmoves; i++)
        assert_int_equal(cu_status(&moves[i]), 0);
    stage_future_t *f = cu_call(node, &c, "info", 0, 1);
    stage_result_t res;
    cu_wait(f, &res);
    stage_unpack_t u;
    uint32_t n;
    int64_t v[4];
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(stage_unpack_int(&u, &v[i]), 0);
    assert_int_equal(v[0], N);
    assert_int_equal(v[1], moved); /* arrived once per move */
    assert_int_equal(v[2], moved); /* departing too */
    assert_int_equal(v[3], at);
    stage_future_release(&f);
    cu_end(&node);
}

/* stage_migrate in a handler: the actor moves after it, once asked. */
static void an_actor_moves_itself_after_its_handler(void **s) {
    (void)s;
    stage_node_t *node = node_up();
    stage_id_t c;
    spawn(node, "Counter", 1, &c);
    for (int to = 0; to < 2 * THEATRES; to++) {
        stage_future_t *f = cu_call(node, &c, "hop", to % THEATRES, 0);
        assert_int_equal(cu_int(&f), 0);
        assert_int_equal(where(node, &c), to % THEATRES);
    }
    stage_future_t *f = cu_call(node, &c, "hop", THEATRES, 0);
    assert_int_equal(cu_int(&f), STAGE_EINVAL); /* no such theatre */
    cu_end(&node);
}

/* A refused move leaves the actor where it was, serving; its future says
** why. */
static void refused_moves_leave_the_actor_serving(void **s) {
    (void)s;
    stage_node_t *node = node_up();
    stage_id_t c, plain, pinned;
    char err[512];
    spawn(node, "Plain", 2, &plain);
    assert_int_equal(where(node, &plain), 2); /* born */
    assert_int_equal(move(node, &plain, 1, err, sizeof err), STAGE_EENCODE);
    assert_non_null(strstr(err, "has no encode and decode"));
    assert_int_equal(where(node, &plain), 2);
    spawn(node, "Pinned", 3, &pinned);
    assert_int_equal(where(node, &pinned), 3);
    assert_int_equal(move(node, &pinned, 0, err, sizeof err), STAGE_EINVAL);
    assert_non_null(strstr(err, "pinned"));
    assert_int_equal(where(node, &pinned), 3);
    spawn(node, "Counter", 0, &c);
    assert_int_equal(move(node, &c, 1, err, sizeof err), 0);
    stage_future_t *f = cu_call(node, &c, "refuse", 1, 0);
    assert_int_equal(cu_int(&f), 1);
    assert_int_equal(move(node, &c, 2, err, sizeof err), STAGE_EHANDLER);
    assert_int_equal(where(node, &c), 1);
    f = cu_call(node, &c, "add", 3, 0);
    assert_int_equal(cu_int(&f), 3);
    cu_end(&node);
}

/* An actor that stopped away from its birth theatre: messages to it and
** moves of it fail with ActorNotFound, whether they were on their way or
** sent after. */
static void an_actor_stopped_away_from_home_is_not_found(void **s) {
    (void)s;
    stage_node_t *node = node_up();
    stage_id_t c;
    char err[512];
    spawn(node, "Counter", 0, &c);
    assert_int_equal(move(node, &c, 2, err, sizeof err), 0);
    stage_future_t *before = cu_call(node, &c, "add", 1, 0);
    stage_future_t *stop = NULL;
    assert_int_equal(stage_node_stop_actor(node, &c, &stop), 0);
    stage_future_t *after = cu_call(node, &c, "add", 1, 0);
    assert_int_equal(cu_int(&before), 1);
    assert_int_equal(cu_status(&stop), 0);
    assert_int_equal(cu_status(&after), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(move(node, &c, 1, err, sizeof err),
                     STAGE_EACTOR_NOT_FOUND);
    stage_future_t *later = cu_call(node, &c, "add", 1, 0);
    assert_int_equal(cu_status(&later), STAGE_EACTOR_NOT_FOUND);
    cu_end(&node);
}

/* Bad requests fail at once: no such theatre, another node's actor. */
static void what_cannot_move_yet_is_refused_at_once(void **s) {
    (void)s;
    stage_node_t *node = node_up();
    stage_id_t c;
    stage_future_t *f = NULL;
    spawn(node, "Counter", 0, &c);
    assert_int_equal(stage_node_migrate_actor(node, &c, THEATRES, &f),
                     STAGE_EINVAL);
    assert_int_equal(stage_node_migrate_actor(node, &c, -1, &f), STAGE_EINVAL);
    stage_id_t far = c;
    far.incarnation ^= 1; /* another run of this node: not here */
    assert_int_equal(stage_node_migrate_actor(node, &far, 1, &f), STAGE_EINVAL);
    assert_null(f);
    assert_int_equal(where(node, &c), 0);
    cu_end(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            calls_keep_their_order_across_moves_asked_from_outside),
        cmocka_unit_test(an_actor_moves_itself_after_its_handler),
        cmocka_unit_test(refused_moves_leave_the_actor_serving),
        cmocka_unit_test(an_actor_stopped_away_from_home_is_not_found),
        cmocka_unit_test(what_cannot_move_yet_is_refused_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
