/*
** tests/unit/test_capi_futures.c: futures in the C API — a callback set in
** a handler runs as a turn of that actor, one set outside runs with no
** actor, each runs exactly once (also when its actor stopped first, or
** nobody can complete the future); deadlines (due), join, futures the
** program completes (promises), delegated replies; and bad arguments.
*/
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test_capi_util.h"

/* ---- what the handlers and callbacks saw ------------------------------- */

typedef struct worker {
    stage_id_t me;
} worker_t;

static stage_future_t *done;      /* a callback resolves it */
static stage_future_t *held;      /* a reply "hold" delegated; test completes */
static stage_future_t *hold_seen; /* hold() resolves it once held is set */
static stage_future_t *extern_part; /* a promise of the test's, joined */
static int calls, ctx_ok, ctx_null, theatre_seen;
static stage_id_t noted_sender, asker_id;
static int64_t value_seen;
static int status_seen;
static int rc_seen[8];

static void reset(stage_node_t *node) {
    calls = ctx_ok = ctx_null = status_seen = 0;
    theatre_seen = -1;
    value_seen = 0;
    memset(rc_seen, 0x7f, sizeof rc_seen);
    memset(&noted_sender, 0, sizeof noted_sender);
    held = extern_part = hold_seen = NULL;
    assert_int_equal(stage_future_new(node, &done), 0);
}

/* Record what a callback got: its context and an integer or a failure. */
static void note(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    calls++;
    if (!ctx) ctx_null++;
    if (ctx && ud && stage_id_equal(stage_self(ctx), &((worker_t *)ud)->me))
        ctx_ok++;
    if (ctx) theatre_seen = stage_ctx_theatre(ctx);
    status_seen = res->status;
    stage_unpack_t u;
    stage_unpack_init(&u, res->data, res->len);
    if (!res->status) stage_unpack_int(&u, &value_seen);
}

static void w_birth(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)m;
    ((worker_t *)state)->me = *stage_self(ctx);
}

static void w_double(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    cu_reply_int(ctx, m, 2 * cu_arg_int(m));
}

/* gate(): holds its theatre until the test opens the gate (10 s at most),
** so that the messages behind it are still queued when the node stops. */
static atomic_int gate_open;
static stage_future_t *gate_entered; /* resolved as the gate closes */

static void w_gate(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    cu_resolve_int(gate_entered, 1);
    double until = stage_now() + WAIT_SECS;
    while (!atomic_load(&gate_open) && stage_now() < until)
        sched_yield();
    cu_reply_int(ctx, m, atomic_load(&gate_open));
}

static void w_fail(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_reply_error(ctx, m, STAGE_EHANDLER, "asked to fail");
}

static void w_note(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)ctx;
    (void)state;
    const stage_id_t *from = stage_msg_sender(m);
    if (from) noted_sender = *from;
}

/* hold(): answers when the test completes `held`. */
static void w_hold(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    int rc = stage_future_new(stage_ctx_node(ctx), &held);
    if (!rc) rc = stage_reply_future(ctx, m, held);
    if (rc) stage_reply_error(ctx, m, rc, "hold failed");
    cu_resolve_int(hold_seen, 1);
}

/* A worker's state: its id, and the recorder an asker tells. */
typedef struct asker {
    worker_t w;
    stage_id_t recorder;
} asker_t;

/* The callback of ask: a turn of the asker; it sends as the asker. */
static void asked(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    note(ctx, ud, res);
    if (ctx) stage_send(ctx, &((asker_t *)ud)->recorder, "note", NULL, 0, NULL);
    cu_resolve_int(done, calls);
}

/* ask(target, recorder): double(21) to target; the answer in asked(). */
static void w_ask(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    asker_t *st = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t target;
    if (stage_msg_unpack(m, &u, &argc) || argc != 2 ||
        stage_unpack_id(&u, &target) || stage_unpack_id(&u, &st->recorder)) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "ask(target, recorder)");
        return;
    }
    asker_id = st->w.me;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_int(&p, 21);
    stage_future_t *f = NULL;
    int rc = stage_send(ctx, &target, "double", p.data, p.len, &f);
    if (!rc) rc = stage_future_then(f, asked, st);
    stage_future_release(&f);
    stage_pack_free(&p);
    if (rc) stage_reply_error(ctx, m, rc, "ask failed");
}

static void after_stop(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    note(ctx, ud, res);
    cu_resolve_int(done, calls);
}

/* ask_and_stop(target): hold() to target, then stop before the answer. */
static void w_ask_and_stop(stage_ctx_t *ctx, void *state,
                           const stage_msg_t *m) {
    (void)state;
    stage_id_t target;
    stage_future_t *f = NULL;
    int rc = cu_arg_id(m, &target) ? STAGE_EINVAL : 0;
    if (!rc) rc = stage_send(ctx, &target, "hold", NULL, 0, &f);
    if (!rc) rc = stage_future_then(f, after_stop, NULL);
    stage_future_release(&f);
    if (rc) stage_reply_error(ctx, m, rc, "ask_and_stop failed");
    stage_stop(ctx);
}

/* Send double(n) to id from a handler: a future of it, or NULL. */
static stage_future_t *double_of(stage_ctx_t *ctx, const stage_id_t *to,
                                 int64_t n, const char *method) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_int(&p, n);
    stage_future_t *f = NULL;
    stage_send(ctx, to, method, p.data, p.len, &f);
    stage_pack_free(&p);
    return f;
}

/* delegate(target): the answer is target's double(50), and a second
** delegation is refused. */
static void w_delegate(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_id_t target;
    if (cu_arg_id(m, &target)) return;
    stage_future_t *f = double_of(ctx, &target, 50, "double");
    rc_seen[0] = stage_reply_future(ctx, m, f);
    rc_seen[1] = stage_reply_future(ctx, m, f);
    rc_seen[2] = stage_reply(ctx, m, "\xc0", 1);
    rc_seen[3] = stage_reply_future(ctx, m, NULL);
    stage_future_release(&f);
}

/* A timer's turn completes the promise it was given, then drops it. */
static void complete_later(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)state;
    stage_future_t *p = ud;
    cu_resolve_int(p, 99);
    stage_future_release(&p);
}

/* later(ms): answers 99 after ms, from a timer, after returning. */
static void w_later(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_future_t *p = NULL;
    int rc = stage_future_new(stage_ctx_node(ctx), &p);
    if (!rc) rc = stage_reply_future(ctx, m, p);
    if (!rc)
        rc = stage_after(ctx, (double)cu_arg_int(m) / 1000, complete_later, p,
                         NULL);
    if (rc) {
        stage_reply_error(ctx, m, rc, "later failed");
        stage_future_release(&p);
    }
}

/* abandon(): delegates to a promise and drops it unfinished. */
static void w_abandon(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_future_t *p = NULL;
    if (stage_future_new(stage_ctx_node(ctx), &p)) return;
    stage_reply_future(ctx, m, p);
    stage_future_release(&p);
}

/* join3(target, fail_second): [double(1), double(2) or fail, the test's
** extern_part], joined here; the answer is the join. */
static void w_join3(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t target;
    bool fail_second = false;
    if (stage_msg_unpack(m, &u, &argc) || argc != 2 ||
        stage_unpack_id(&u, &target) || stage_unpack_bool(&u, &fail_second))
        return;
    stage_future_t *parts[3] = {
        double_of(ctx, &target, 1, "double"),
        double_of(ctx, &target, 2, fail_second ? "fail" : "double"),
        extern_part};
    stage_future_t *j = NULL;
    int rc = stage_join(parts, 3, &j);
    if (!rc) rc = stage_reply_future(ctx, m, j);
    if (rc) stage_reply_error(ctx, m, rc, "join failed");
    stage_future_release(&j);
    stage_future_release(&parts[0]);
    stage_future_release(&parts[1]);
}

/* due(target, ms): hold() to target with a deadline; the answer is it. */
static void w_due(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t target;
    int64_t ms;
    if (stage_msg_unpack(m, &u, &argc) || argc != 2 ||
        stage_unpack_id(&u, &target) || stage_unpack_int(&u, &ms))
        return;
    stage_future_t *f = NULL;
    int rc = stage_send(ctx, &target, "hold", NULL, 0, &f);
    if (!rc) rc = stage_future_due(f, (double)ms / 1000);
    if (!rc) rc = stage_reply_future(ctx, m, f);
    if (rc) stage_reply_error(ctx, m, rc, "due failed");
    stage_future_release(&f);
}

/* quick(target): double(4) with a long deadline; the node must still go
** idle once the answer came. */
static void w_quick(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_id_t target;
    if (cu_arg_id(m, &target)) return;
    stage_future_t *f = double_of(ctx, &target, 4, "double");
    stage_future_due(f, 30);
    stage_future_then(f, after_stop, NULL);
    stage_future_release(&f);
}

/* reject_here(): a promise failed in this handler names this actor. */
static void w_reject_here(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_future_t *p = NULL;
    if (stage_future_new(stage_ctx_node(ctx), &p)) return;
    rc_seen[0] = stage_future_reject(p, STAGE_ETIMEOUT, "too late here");
    rc_seen[1] = stage_future_reject(p, STAGE_EHANDLER, "again");
    stage_reply_future(ctx, m, p);
    stage_future_release(&p);
}

static const stage_method_t w_methods[] = {{"double", w_double},
                                           {"gate", w_gate},
                                           {"fail", w_fail},
                                           {"note", w_note},
                                           {"hold", w_hold},
                                           {"ask", w_ask},
                                           {"ask_and_stop", w_ask_and_stop},
                                           {"delegate", w_delegate},
                                           {"later", w_later},
                                           {"abandon", w_abandon},
                                           {"join3", w_join3},
                                           {"due", w_due},
                                           {"quick", w_quick},
                                           {"reject_here", w_reject_here},
                                           {NULL, NULL}};
static const stage_type_def_t w_type = {.name = "Worker",
                                        .state_size = sizeof(asker_t),
                                        .methods = w_methods,
                                        .birth = w_birth};
static const stage_type_def_t *const types[] = {&w_type, NULL};

/* Expect one hold() (hold_seen); wait_held waits until it has run. */
static void expect_hold(stage_node_t *node) {
    assert_int_equal(stage_future_new(node, &hold_seen), 0);
}

static void wait_held(void) {
    assert_int_equal(cu_int(&hold_seen), 1);
    assert_non_null(held);
}

/* Send method(id [, x]) from the test's thread. */
static stage_future_t *call_id(stage_node_t *node, const stage_id_t *to,
                               const char *method, const stage_id_t *id,
                               const stage_id_t *id2, int64_t x, int with_x) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1 + (id2 != NULL) + (with_x != 0));
    stage_pack_id(&p, id);
    if (id2) stage_pack_id(&p, id2);
    if (with_x == 1) stage_pack_int(&p, x);
    if (with_x == 2) stage_pack_bool(&p, x != 0);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

static stage_id_t spawn(stage_node_t *node, int theatre) {
    stage_id_t id;
    assert_int_equal(stage_node_spawn(node, "Worker", theatre, NULL, 0, &id),
                     0);
    return id;
}

/* ---- callbacks ------------------------------------------------------------
 */

static void future_then_in_a_handler_is_a_turn_of_the_asker(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t asker = spawn(node, 0), target = spawn(node, 1);
    stage_id_t recorder = spawn(node, 1);
    stage_future_t *f = call_id(node, &asker, "ask", &target, &recorder, 0, 0);
    assert_int_equal(cu_status(&f), 0);
    assert_int_equal(cu_int(&done), 1);
    assert_int_equal(value_seen, 42);
    assert_int_equal(ctx_ok, 1);       /* ctx and state of the asker */
    assert_int_equal(theatre_seen, 0); /* on the asker's theatre */
    /* a message sent from the callback comes from the asker: wait for it
    ** by a message to the recorder sent after it (they arrive in order) */
    f = cu_call(node, &recorder, "double", 1, 0);
    assert_int_equal(cu_int(&f), 2);
    assert_true(stage_id_equal(&noted_sender, &asker));
    cu_end(&node);
    assert_int_equal(calls, 1);
}

static void outside_cb(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    note(ctx, ud, res);
    cu_resolve_int(done, calls);
}

static void future_then_from_outside_runs_without_an_actor(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t w = spawn(node, 1);
    stage_future_t *f = cu_call(node, &w, "double", 5, 0);
    assert_int_equal(stage_future_then(f, outside_cb, NULL), 0);
    stage_future_release(&f); /* borrowed: the send completes it anyway */
    assert_int_equal(cu_int(&done), 1);
    assert_int_equal(ctx_null, 1);
    assert_int_equal(value_seen, 10);
    /* a failure reaches the callback with its type and message */
    assert_int_equal(stage_future_new(node, &done), 0);
    f = cu_call(node, &w, "fail", 0, 1);
    assert_int_equal(stage_future_then(f, outside_cb, NULL), 0);
    stage_future_release(&f);
    assert_int_equal(cu_int(&done), 2);
    assert_int_equal(status_seen, STAGE_EHANDLER);
    assert_int_equal(stage_future_then(NULL, outside_cb, NULL), STAGE_EINVAL);
    f = cu_call(node, &w, "double", 1, 0);
    assert_int_equal(stage_future_then(f, NULL, NULL), STAGE_EINVAL);
    assert_int_equal(cu_int(&f), 2);
    cu_end(&node);
    assert_int_equal(calls, 2);
}

static void future_then_whose_actor_stopped_runs_without_context(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t asker = spawn(node, 0), target = spawn(node, 1);
    expect_hold(node);
    stage_future_t *f =
        call_id(node, &asker, "ask_and_stop", &target, NULL, 0, 0);
    assert_int_equal(cu_status(&f), 0);
    /* the asker is gone: a message after its stop finds nobody */
    f = cu_call(node, &asker, "double", 1, 0);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
    wait_held();
    assert_int_equal(calls, 0);
    assert_int_equal(cu_resolve_int(held, 7), 0);
    assert_int_equal(cu_int(&done), 1);
    assert_int_equal(ctx_null, 1);
    assert_int_equal(value_seen, 7);
    stage_future_release(&held);
    cu_end(&node);
    assert_int_equal(calls, 1);
}

static void
future_then_on_a_promise_nobody_can_complete_is_canceled(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    reset(node);
    cu_start(node);
    stage_future_t *p;
    assert_int_equal(stage_future_new(node, &p), 0);
    assert_int_equal(stage_future_then(p, outside_cb, NULL), 0);
    stage_future_release(&p); /* the last reference */
    assert_int_equal(cu_int(&done), 1);
    assert_int_equal(status_seen, STAGE_ECANCELED);
    assert_int_equal(ctx_null, 1);
    cu_end(&node);
}

static void stopped_cb(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    note(ctx, ud, res);
}

static void future_then_pending_when_the_node_stops_runs_once(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t w = spawn(node, 1);
    expect_hold(node);
    stage_future_t *f = call_id(node, &w, "hold", &w, NULL, 0, 0);
    assert_int_equal(stage_future_then(f, stopped_cb, NULL), 0);
    stage_future_release(&f);
    wait_held();
    stage_node_release(node);
    stage_node_stop(node, 0);
    assert_int_equal(stage_node_wait(node), 0);
    assert_int_equal(calls, 0);
    stage_future_release(&held); /* nobody completes it now */
    stage_future_release(&done);
    stage_node_destroy(&node);
    assert_int_equal(calls, 1);
    assert_int_equal(ctx_null, 1);
    assert_int_equal(status_seen, STAGE_ESTOPPED);
}

static int stopped_calls;

static void count_stopped(stage_ctx_t *ctx, void *ud,
                          const stage_result_t *res) {
    (void)ctx;
    (void)ud;
    if (res->status == STAGE_ESTOPPED) stopped_calls++;
    calls++;
}

/* Callbacks of messages still queued when the node stops run once each,
** as the node is destroyed, with Stopped: the messages wait on theatre 1,
** their callbacks belong to theatre 0, which is torn down first. */
static void future_then_of_queued_messages_runs_at_teardown(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    stopped_calls = 0;
    atomic_store(&gate_open, 0);
    cu_start(node);
    stage_id_t w0 = spawn(node, 0), w1 = spawn(node, 1);
    assert_int_equal(stage_future_new(node, &gate_entered), 0);
    stage_future_t *gate = cu_call(node, &w1, "gate", 0, 1);
    /* theatre 1 is in the gate: what follows stays in its inbox */
    assert_int_equal(cu_int(&gate_entered), 1);
    for (int i = 0; i < 20; i++) {
        stage_future_t *f = cu_call(node, &w1, "double", i, 0);
        assert_int_equal(stage_future_then(f, count_stopped, NULL), 0);
        stage_future_release(&f);
    }
    /* theatre 0 took the callbacks before this message (one inbox) */
    stage_future_t *f = cu_call(node, &w0, "double", 1, 0);
    assert_int_equal(cu_int(&f), 2);
    stage_node_release(node);
    stage_node_stop(node, 0);
    atomic_store(&gate_open, 1);
    assert_int_equal(stage_node_wait(node), 0);
    assert_int_equal(calls, 0);
    stage_future_release(&gate);
    stage_future_release(&done);
    stage_node_destroy(&node);
    assert_int_equal(calls, 20);
    assert_int_equal(stopped_calls, 20);
}

/* ---- delegation and promises ----------------------------------------------
 */

static void future_reply_delegated_to_a_send_or_a_promise(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t a = spawn(node, 0), b = spawn(node, 1);
    stage_future_t *f = call_id(node, &a, "delegate", &b, NULL, 0, 0);
    assert_int_equal(cu_int(&f), 100);
    assert_int_equal(rc_seen[0], 0);
    assert_int_equal(rc_seen[1], STAGE_EEXISTS);
    assert_int_equal(rc_seen[2], STAGE_EEXISTS);
    assert_int_equal(rc_seen[3], STAGE_EINVAL);
    double start = stage_now();
    f = cu_call(node, &a, "later", 20, 0);
    assert_int_equal(cu_int(&f), 99);
    assert_true(stage_now() - start >= 0.02);
    f = cu_call(node, &a, "abandon", 0, 1);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ECANCELED);
    assert_non_null(strstr(res.message, "released before it completed"));
    stage_future_release(&f);
    stage_future_release(&done);
    cu_end(&node);
}

static void future_promise_is_completed_once_by_the_program(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    reset(node);
    cu_start(node);
    stage_future_t *p;
    assert_int_equal(stage_future_new(node, &p), 0);
    assert_false(stage_future_done(p));
    assert_int_equal(stage_future_resolve(p, "\xc1", 1), STAGE_EINVAL);
    assert_int_equal(stage_future_resolve(p, NULL, 0), STAGE_EINVAL);
    assert_int_equal(stage_future_reject(p, 5, "not a code"), STAGE_EINVAL);
    assert_int_equal(cu_resolve_int(p, 3), 0);
    assert_true(stage_future_done(p));
    assert_int_equal(cu_resolve_int(p, 4), STAGE_EEXISTS);
    assert_int_equal(stage_future_reject(p, STAGE_ETIMEOUT, NULL),
                     STAGE_EEXISTS);
    assert_int_equal(cu_int(&p), 3);
    /* a send's future is completed by its receiver, not the program */
    stage_id_t w = spawn(node, 0);
    stage_future_t *f = cu_call(node, &w, "double", 2, 0);
    assert_int_equal(cu_resolve_int(f, 1), STAGE_EINVAL);
    assert_int_equal(cu_int(&f), 4);
    /* failed in a handler, the failure names the actor */
    f = cu_call(node, &w, "reject_here", 0, 1);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ETIMEOUT);
    assert_string_equal(res.message, "too late here");
    char text[STAGE_ID_TEXT_MAX];
    stage_id_format(&w, text, sizeof text);
    assert_non_null(res.actor);
    assert_string_equal(res.actor, text);
    assert_null(res.traceback);
    assert_int_equal(rc_seen[0], 0);
    assert_int_equal(rc_seen[1], STAGE_EEXISTS);
    stage_future_release(&f);
    assert_int_equal(stage_future_new(node, NULL), STAGE_EINVAL);
    assert_int_equal(stage_future_new(NULL, &f), STAGE_EINVAL);
    assert_int_equal(stage_future_wait(NULL, 1, &res), STAGE_EINVAL);
    stage_future_release(&done);
    cu_end(&node);
}

/* ---- due ------------------------------------------------------------------
 */

static void future_due_fails_with_timeout_unless_done_in_time(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t a = spawn(node, 0), b = spawn(node, 1);
    expect_hold(node);
    stage_future_t *f = call_id(node, &a, "due", &b, NULL, 20, 1);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ETIMEOUT);
    assert_string_equal(res.message, "no result within 0.02 s");
    stage_future_release(&f);
    wait_held();
    stage_future_release(&held); /* b's hold(), which nobody completes */
    /* from outside: a future that completes first keeps its value */
    f = cu_call(node, &b, "double", 8, 0);
    assert_int_equal(stage_future_due(f, 10), 0);
    assert_int_equal(cu_int(&f), 16);
    /* and one that does not */
    expect_hold(node);
    f = call_id(node, &b, "hold", &b, NULL, 0, 0);
    assert_int_equal(stage_future_due(f, 0.01), 0);
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ETIMEOUT);
    stage_future_release(&f);
    wait_held();
    stage_future_release(&held);
    /* bad arguments */
    f = cu_call(node, &b, "double", 1, 0);
    assert_int_equal(stage_future_due(NULL, 1), STAGE_EINVAL);
    assert_int_equal(stage_future_due(f, -1), STAGE_EINVAL);
    assert_int_equal(stage_future_due(f, NAN), STAGE_EINVAL);
    assert_int_equal(stage_future_due(f, INFINITY), STAGE_EINVAL);
    assert_int_equal(cu_int(&f), 2);
    stage_future_release(&done);
    cu_end(&node);
}

static void future_due_does_not_keep_an_idle_node_alive(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    stage_id_t a = spawn(node, 0), b = spawn(node, 1);
    stage_future_t *f = call_id(node, &a, "quick", &b, NULL, 0, 0);
    stage_future_release(&f);
    double start = stage_now();
    assert_int_equal(stage_node_run(node), 0); /* not held: quiescence */
    assert_true(stage_now() - start < 5);      /* not the 30 s deadline */
    assert_int_equal(calls, 1);
    assert_int_equal(value_seen, 8);
    stage_future_release(&done);
    stage_node_destroy(&node);
}

/* ---- join -----------------------------------------------------------------
 */

static void
future_join_gives_the_values_in_order_or_the_first_failure(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    reset(node);
    cu_start(node);
    stage_id_t a = spawn(node, 1), b = spawn(node, 0);
    /* parts of two theatres: a's sends (theatre 1) and the test's promise
    ** (theatre 0), completed last */
    assert_int_equal(stage_future_new(node, &extern_part), 0);
    stage_future_t *f = call_id(node, &a, "join3", &b, NULL, 0, 2);
    assert_int_equal(cu_resolve_int(extern_part, 30), 0);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, 0);
    stage_unpack_t u;
    uint32_t n;
    int64_t v[3];
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(stage_unpack_int(&u, &v[i]), 0);
    assert_int_equal(v[0], 2);
    assert_int_equal(v[1], 4);
    assert_int_equal(v[2], 30);
    stage_future_release(&f);
    stage_future_release(&extern_part);
    /* the failing part fails the join, though the last is still pending */
    assert_int_equal(stage_future_new(node, &extern_part), 0);
    f = call_id(node, &a, "join3", &b, NULL, 1, 2);
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_EHANDLER);
    assert_string_equal(res.message, "asked to fail");
    stage_future_release(&f);
    stage_future_release(&extern_part); /* joined, never completed */
    /* a part nobody can complete any more fails the join */
    assert_int_equal(stage_future_new(node, &extern_part), 0);
    f = call_id(node, &a, "join3", &b, NULL, 0, 2);
    stage_future_t *first = cu_call(node, &a, "double", 0, 0);
    assert_int_equal(cu_int(&first), 0); /* join3 has run */
    stage_future_release(&extern_part);  /* the join does not hold it */
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ECANCELED);
    assert_non_null(strstr(res.message, "released before it completed"));
    stage_future_release(&f);
    stage_future_release(&done);
    cu_end(&node);
}

static void future_join_refuses_bad_arguments(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types), *other = cu_node(1, types);
    reset(node);
    stage_future_t *p, *q, *j = (stage_future_t *)1;
    assert_int_equal(stage_future_new(node, &p), 0);
    assert_int_equal(stage_future_new(other, &q), 0);
    stage_future_t *two_nodes[2] = {p, q}, *with_null[2] = {p, NULL};
    assert_int_equal(stage_join(&p, 0, &j), STAGE_EINVAL);
    assert_null(j);
    assert_int_equal(stage_join(NULL, 1, &j), STAGE_EINVAL);
    assert_int_equal(stage_join(&p, 1, NULL), STAGE_EINVAL);
    assert_int_equal(stage_join(two_nodes, 2, &j), STAGE_EINVAL);
    assert_int_equal(stage_join(with_null, 2, &j), STAGE_EINVAL);
    /* one part: an array of its value */
    assert_int_equal(stage_join(&p, 1, &j), 0);
    assert_int_equal(cu_resolve_int(p, 5), 0);
    cu_start(node);
    stage_result_t res;
    cu_wait(j, &res);
    assert_int_equal(res.len, 2);
    assert_memory_equal(res.data, "\x91\x05", 2);
    stage_future_release(&j);
    stage_future_release(&p);
    stage_future_release(&q);
    stage_future_release(&done);
    cu_end(&node);
    stage_node_destroy(&other);
}

static void future_result_id_reads_an_id_or_says_why_not(void **state) {
    (void)state;
    stage_id_t id;
    stage_result_t failed = {.status = STAGE_ENAME_NOT_FOUND};
    assert_int_equal(stage_result_id(&failed, &id), STAGE_ENAME_NOT_FOUND);
    stage_result_t number = {.data = "\x05", .len = 1};
    assert_int_equal(stage_result_id(&number, &id), STAGE_EDECODE);
    assert_int_equal(stage_result_id(NULL, &id), STAGE_EINVAL);
    assert_int_equal(stage_result_id(&number, NULL), STAGE_EINVAL);
    stage_id_t want;
    assert_int_equal(stage_id_parse(&want, "local~2a/0/Worker/256", 21), 0);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_id(&p, &want);
    stage_result_t one = {.data = p.data, .len = p.len};
    assert_int_equal(stage_result_id(&one, &id), 0);
    assert_true(stage_id_equal(&id, &want));
    stage_pack_free(&p);
}

int main(void) {
    alarm(120); /* a hang fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(future_then_in_a_handler_is_a_turn_of_the_asker),
        cmocka_unit_test(future_then_from_outside_runs_without_an_actor),
        cmocka_unit_test(future_then_whose_actor_stopped_runs_without_context),
        cmocka_unit_test(
            future_then_on_a_promise_nobody_can_complete_is_canceled),
        cmocka_unit_test(future_then_pending_when_the_node_stops_runs_once),
        cmocka_unit_test(future_then_of_queued_messages_runs_at_teardown),
        cmocka_unit_test(future_reply_delegated_to_a_send_or_a_promise),
        cmocka_unit_test(future_promise_is_completed_once_by_the_program),
        cmocka_unit_test(future_due_fails_with_timeout_unless_done_in_time),
        cmocka_unit_test(future_due_does_not_keep_an_idle_node_alive),
        cmocka_unit_test(
            future_join_gives_the_values_in_order_or_the_first_failure),
        cmocka_unit_test(future_join_refuses_bad_arguments),
        cmocka_unit_test(future_result_id_reads_an_id_or_says_why_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
