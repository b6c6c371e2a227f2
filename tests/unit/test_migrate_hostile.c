/*
** tests/unit/test_migrate_hostile.c: C types whose migration callbacks
** misbehave (encode fails, writes nothing or two values; decode fails;
** departing refuses), bad arguments to stage_node_migrate_actor, and a
** move to a theatre stuck in one long call: each move is refused with a
** status, and the actor serves on where it was, its state intact.
*/
#include <stdatomic.h>
#include <time.h>

#include "core/node.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "test_capi_util.h"

#define THEATRES 3

typedef struct st {
    int64_t count, mode, arrivals;
} st_t;

enum { OK, ENC_FAIL, ENC_NONE, ENC_TWO, DEC_FAIL, DEP_FAIL };

static void s_add(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    st_t *c = state;
    c->count += cu_arg_int(msg);
    cu_reply_int(ctx, msg, c->count);
}

static void s_mode(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    ((st_t *)state)->mode = cu_arg_int(msg);
    cu_reply_int(ctx, msg, 0);
}

static void s_where(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_ctx_theatre(ctx));
}

static void s_arrivals(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    cu_reply_int(ctx, msg, ((st_t *)state)->arrivals);
}

static int s_encode(const void *state, stage_pack_t *out) {
    const st_t *c = state;
    if (c->mode == ENC_FAIL) return STAGE_EINVAL;
    if (c->mode == ENC_NONE) return 0;
    stage_pack_array(out, 2);
    stage_pack_int(out, c->count);
    stage_pack_int(out, c->mode);
    if (c->mode == ENC_TWO) stage_pack_int(out, 7);
    return 0;
}

static int s_decode(void *state, const char *data, size_t len) {
    st_t *c = state;
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, data, len);
    if (stage_unpack_array(&u, &n) || n != 2 ||
        stage_unpack_int(&u, &c->count) || stage_unpack_int(&u, &c->mode))
        return STAGE_EDECODE;
    return c->mode == DEC_FAIL ? STAGE_EDECODE : 0;
}

static int s_departing(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    return ((st_t *)state)->mode == DEP_FAIL ? STAGE_EBUSY : 0;
}

static void s_arrived(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    ((st_t *)state)->arrivals++;
}

static const stage_method_t methods[] = {{"add", s_add},
                                         {"mode", s_mode},
                                         {"where", s_where},
                                         {"arrivals", s_arrivals},
                                         {NULL, NULL}};
static const stage_type_def_t st_type = {.name = "St",
                                         .state_size = sizeof(st_t),
                                         .methods = methods,
                                         .encode = s_encode,
                                         .decode = s_decode,
                                         .departing = s_departing,
                                         .arrived = s_arrived};
/* Blocker: block() holds its theatre, outside Lua, until `unblock`. */
static atomic_int unblock;

static void b_block(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    struct timespec ms = {0, 1000000};
    while (!atomic_load(&unblock))
        nanosleep(&ms, NULL);
    cu_reply_int(ctx, msg, 1);
}

static const stage_method_t b_methods[] = {{"block", b_block}, {NULL, NULL}};
static const stage_type_def_t blocker_type = {
    .name = "Blocker", .state_size = 1, .methods = b_methods};

static const stage_type_def_t *const types[] = {&st_type, &blocker_type, NULL};

static int64_t call(stage_node_t *node, const stage_id_t *id, const char *m,
                    int64_t arg) {
    stage_future_t *f = cu_call(node, id, m, arg, 0);
    return cu_int(&f);
}

/* Move id to `to`: the status; the message in err. */
static int move(stage_node_t *node, const stage_id_t *id, int to, char *err,
                size_t errlen) {
    stage_future_t *f;
    assert_int_equal(stage_node_migrate_actor(node, id, to, &f), 0);
    stage_result_t res;
    cu_wait(f, &res);
    snprintf(err, errlen, "%s", res.message ? res.message : "");
    int status = res.status;
    stage_future_release(&f);
    return status;
}

/* Each misbehaving callback refuses the move with a message that says
** what the callback did; the actor stays in theatre 1, serving, its state
** intact; `arrived` runs again where it stayed after `departing` ran. */
static void misbehaving_callbacks_refuse_the_move(void **s) {
    (void)s;
    static const struct {
        int mode, status;
        const char *says;
    } cases[] = {
        {ENC_FAIL, STAGE_EENCODE,
         "type 'St': its encode callback failed (invalid argument): the "
         "actor cannot move"},
        {ENC_NONE, STAGE_EENCODE,
         "type 'St': its encode callback returned 0 but wrote nothing: it "
         "must write one msgpack value"},
        {ENC_TWO, STAGE_EENCODE,
         "its encode callback returned 0 but wrote bytes that are not "
         "exactly one msgpack value"},
        {DEP_FAIL, STAGE_EHANDLER, "type 'St': departing refused the move"},
    };
    stage_node_t *node = cu_node(THEATRES, types);
    cu_start(node);
    stage_id_t a;
    assert_int_equal(stage_node_spawn(node, "St", 0, "\x90", 1, &a), 0);
    assert_int_equal(call(node, &a, "add", 5), 5);
    char err[512];
    assert_int_equal(move(node, &a, 1, err, sizeof err), 0);
    assert_int_equal(call(node, &a, "where", 0), 1);
    int64_t arrivals = call(node, &a, "arrivals", 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        call(node, &a, "mode", cases[i].mode);
        assert_int_equal(move(node, &a, 2, err, sizeof err), cases[i].status);
        if (!strstr(err, cases[i].says))
            fail_msg("wanted '%s' in: %s", cases[i].says, err);
        assert_int_equal(call(node, &a, "where", 0), 1);
        assert_int_equal(call(node, &a, "add", 1), 5 + (int64_t)i + 1);
        if (cases[i].mode != DEP_FAIL) /* departing ran: arrived again */
            assert_int_equal(call(node, &a, "arrivals", 0), ++arrivals);
    }
    call(node, &a, "mode", OK);
    assert_int_equal(move(node, &a, 2, err, sizeof err), 0);
    assert_int_equal(call(node, &a, "where", 0), 2);
    assert_int_equal(call(node, &a, "add", 0), 9);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_migrate_actor(node, NULL, 1, &f), STAGE_EINVAL);
    assert_null(f);
    cu_end(&node);
}

/* A move to a theatre the watchdog finds stuck is refused with Busy at
** once, naming the theatre, instead of holding the actor (and every
** message to it) until the long call returns; once it returns the move
** is made. */
static void a_move_to_a_stuck_theatre_is_refused(void **s) {
    (void)s;
    stage_node_t *node = cu_node(THEATRES, types);
    cu_start(node);
    stage_id_t a, b;
    assert_int_equal(stage_node_spawn(node, "St", 0, "\x90", 1, &a), 0);
    assert_int_equal(stage_node_spawn(node, "Blocker", 1, "\x90", 1, &b), 0);
    assert_int_equal(call(node, &a, "add", 3), 3); /* born */
    atomic_store(&unblock, 0);
    stage_future_t *blocked = cu_call(node, &b, "block", 0, 1);
    stage__theatre_t *t1 = stage__node_theatre(node, 1);
    double deadline = stage__now() + WAIT_SECS;
    while (!atomic_load(&t1->stuck)) { /* the watchdog's mark, after 1 s */
        if (stage__now() > deadline) fail_msg("theatre 1 never marked stuck");
        struct timespec ms = {0, 10000000};
        nanosleep(&ms, NULL);
    }
    char err[512];
    assert_int_equal(move(node, &a, 1, err, sizeof err), STAGE_EBUSY);
    if (!strstr(err, "theatre 1 is stuck in one long call"))
        fail_msg("unexpected message: %s", err);
    assert_int_equal(call(node, &a, "where", 0), 0); /* answers at once */
    assert_int_equal(call(node, &a, "add", 1), 4);
    atomic_store(&unblock, 1);
    assert_int_equal(cu_int(&blocked), 1);
    deadline = stage__now() + WAIT_SECS;
    while (atomic_load(&t1->stuck)) { /* "runs again", at its next look */
        if (stage__now() > deadline) fail_msg("theatre 1 still marked stuck");
        struct timespec ms = {0, 10000000};
        nanosleep(&ms, NULL);
    }
    assert_int_equal(move(node, &a, 1, err, sizeof err), 0);
    assert_int_equal(call(node, &a, "where", 0), 1);
    cu_end(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(misbehaving_callbacks_refuse_the_move),
        cmocka_unit_test(a_move_to_a_stuck_theatre_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
