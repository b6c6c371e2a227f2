/*
** tests/unit/test_capi_pipeline.c: promise pipelining and far references
** in the C API on an embedded node — a future as an argument
** (stage_send_args), the order of a sender's messages across a deferred
** send and later ones, a failed argument, sends through a lookup
** (stage_send_far) that wait for it and fail with its error, follow the
** name they were found by once when its actor is gone, a stopping
** sender's waiting sends, the same from outside the actors, and C and Lua
** actors pipelining each other's futures (tests/unit/capi_pipeline.lua).
**
** The promises the tests resolve (g_promise) are made by the test thread
** and read by handlers: the send that carries one to a handler happens
** after it is set, so the handler sees it.
*/
#include "test_capi_util.h"

static stage_future_t *g_promise; /* a promise the test completes */
static stage_future_t *g_held;    /* a send's future a handler keeps */

/* ---- the receiver: Log ---------------------------------------------------
 */

typedef struct logbook {
    int64_t seen[8];
    int n;
} logbook_t;

/* log(v): note v; answer how many were noted. */
static void l_log(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    logbook_t *b = state;
    if (b->n < 8) b->seen[b->n++] = cu_arg_int(m);
    cu_reply_int(ctx, m, b->n);
}

/* add(a [, b]): a + b. */
static void l_add(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    int64_t a = 0, b = 0;
    if (stage_msg_unpack(m, &u, &argc) || argc < 1 ||
        stage_unpack_int(&u, &a) || (argc > 1 && stage_unpack_int(&u, &b))) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "add needs integers");
        return;
    }
    cu_reply_int(ctx, m, a + b);
}

/* seen(): the values noted, as one number of digits (1, 2, 3 -> 123). */
static void l_seen(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    logbook_t *b = state;
    int64_t v = 0;
    for (int i = 0; i < b->n; i++)
        v = v * 10 + b->seen[i];
    cu_reply_int(ctx, m, v);
}

static const stage_method_t l_methods[] = {
    {"log", l_log}, {"add", l_add}, {"seen", l_seen}, {NULL, NULL}};
static const stage_type_def_t log_type = {
    .name = "Log", .state_size = sizeof(logbook_t), .methods = l_methods};

/* ---- the sender: Piper ---------------------------------------------------
 */

static stage_arg_t int_arg(stage_pack_t *p, int64_t v) {
    stage_pack_reset(p);
    stage_pack_int(p, v);
    return (stage_arg_t){.data = p->data, .len = p->len};
}

static stage_arg_t fut_arg(stage_future_t *f) {
    return (stage_arg_t){.future = f};
}

/* Answer m as f completes, or with rc if the call that made f failed. */
static void answer(stage_ctx_t *ctx, const stage_msg_t *m, int rc,
                   stage_future_t **f) {
    if (!rc) rc = stage_reply_future(ctx, m, *f);
    if (rc) stage_reply_error(ctx, m, rc, "the send failed");
    stage_future_release(f);
}

/* pipe(dst): dst:add(g_promise), answered with its reply. */
static void p_pipe(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_id_t dst;
    stage_future_t *f = NULL;
    stage_arg_t a = fut_arg(g_promise);
    int rc = cu_arg_id(m, &dst) ? STAGE_EINVAL
                                : stage_send_args(ctx, &dst, "add", &a, 1, &f);
    answer(ctx, m, rc, &f);
}

/* order(dst): dst:log(g_promise), dst:log(2) (stage_send), dst:log(3)
** (stage_send_args, values only); answered with the last one's reply. */
static void p_order(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_id_t dst;
    stage_pack_t p = STAGE_PACK_INIT, arr = STAGE_PACK_INIT;
    stage_future_t *f1 = NULL, *f3 = NULL;
    stage_arg_t a = fut_arg(g_promise);
    int rc = cu_arg_id(m, &dst) ? STAGE_EINVAL
                                : stage_send_args(ctx, &dst, "log", &a, 1, &f1);
    stage_pack_array(&arr, 1);
    stage_pack_int(&arr, 2);
    if (!rc) rc = stage_send(ctx, &dst, "log", arr.data, arr.len, NULL);
    a = int_arg(&p, 3);
    if (!rc) rc = stage_send_args(ctx, &dst, "log", &a, 1, &f3);
    stage_future_release(&f1);
    stage_pack_free(&p);
    stage_pack_free(&arr);
    answer(ctx, m, rc, &f3);
}

/* fail_arg(dst): dst:add(5, g_promise). */
static void p_fail_arg(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_id_t dst;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_future_t *f = NULL;
    stage_arg_t a[2] = {int_arg(&p, 5), fut_arg(g_promise)};
    int rc = cu_arg_id(m, &dst) ? STAGE_EINVAL
                                : stage_send_args(ctx, &dst, "add", a, 2, &f);
    stage_pack_free(&p);
    answer(ctx, m, rc, &f);
}

/* far(name): log(1), log(2), log(3) through find_name(name) at once;
** answered with the last one's reply. */
static void p_far(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    const char *s;
    size_t n;
    char name[64];
    if (stage_msg_unpack(m, &u, &argc) || argc != 1 ||
        stage_unpack_str(&u, &s, &n) || n >= sizeof name) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "far(name)");
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)n, s);
    stage_future_t *lookup = NULL, *f = NULL;
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage_find_name(ctx, name, &lookup);
    for (int64_t i = 1; i <= 3 && !rc; i++) {
        stage_arg_t a = int_arg(&p, i);
        stage_future_release(&f);
        rc = stage_send_far(ctx, lookup, "log", &a, 1, &f);
    }
    stage_future_release(&lookup);
    stage_pack_free(&p);
    answer(ctx, m, rc, &f);
}

/* stop_with(dst): dst:add(g_promise) kept in g_held, and stop. */
static void p_stop_with(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_id_t dst;
    stage_arg_t a = fut_arg(g_promise);
    int rc = cu_arg_id(m, &dst)
                 ? STAGE_EINVAL
                 : stage_send_args(ctx, &dst, "add", &a, 1, &g_held);
    cu_reply_int(ctx, m, rc);
    stage_stop(ctx);
}

/* cross(src, dst): dst:twice(src:value(21)), src and dst Lua actors. */
static void p_cross(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t src, dst;
    if (stage_msg_unpack(m, &u, &argc) || argc != 2 ||
        stage_unpack_id(&u, &src) || stage_unpack_id(&u, &dst)) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "cross(src, dst)");
        return;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_int(&p, 21);
    stage_future_t *v = NULL, *f = NULL;
    int rc = stage_send(ctx, &src, "value", p.data, p.len, &v);
    stage_arg_t a = fut_arg(v);
    if (!rc) rc = stage_send_args(ctx, &dst, "twice", &a, 1, &f);
    stage_future_release(&v); /* the send holds it */
    stage_pack_free(&p);
    answer(ctx, m, rc, &f);
}

static const stage_method_t p_methods[] = {
    {"pipe", p_pipe}, {"order", p_order},         {"fail_arg", p_fail_arg},
    {"far", p_far},   {"stop_with", p_stop_with}, {"cross", p_cross},
    {NULL, NULL}};
static const stage_type_def_t piper_type = {.name = "Piper",
                                            .methods = p_methods};

static const stage_type_def_t *const types[] = {&log_type, &piper_type, NULL};

/* ---- helpers ---------------------------------------------------------------
 */

static stage_id_t spawn(stage_node_t *node, const char *type, int theatre) {
    stage_id_t id;
    assert_int_equal(stage_node_spawn(node, type, theatre, NULL, 0, &id), 0);
    return id;
}

/* Send method(id) from outside; its future. */
static stage_future_t *call_id(stage_node_t *node, const stage_id_t *to,
                               const char *method, const stage_id_t *arg) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_id(&p, arg);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

static stage_future_t *call_str(stage_node_t *node, const stage_id_t *to,
                                const char *method, const char *arg) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_cstr(&p, arg);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

/* What log has noted, as digits. */
static int64_t seen(stage_node_t *node, const stage_id_t *log) {
    stage_future_t *f = cu_call(node, log, "seen", 0, 1);
    return cu_int(&f);
}

/* ---- tests -----------------------------------------------------------------
 */

static void a_c_actor_pipelines_a_future_into_a_send(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1), piper = spawn(node, "Piper", 0);
    assert_int_equal(stage_future_new(node, &g_promise), 0);
    stage_future_t *f = call_id(node, &piper, "pipe", &log);
    /* the send waits for the promise, and the handler has returned */
    stage_future_t *probe = cu_call(node, &piper, "pipe", 0, 1);
    assert_int_equal(cu_status(&probe), STAGE_EINVAL); /* its turn came */
    assert_int_equal(stage_future_done(f), 0);
    assert_int_equal(cu_resolve_int(g_promise, 40), 0);
    assert_int_equal(cu_int(&f), 40);
    stage_future_release(&g_promise);
    cu_end(&node);
}

static void order_is_kept_behind_a_deferred_send(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1), piper = spawn(node, "Piper", 0);
    assert_int_equal(stage_future_new(node, &g_promise), 0);
    stage_future_t *f = call_id(node, &piper, "order", &log);
    stage_future_t *probe = cu_call(node, &piper, "pipe", 0, 1);
    assert_int_equal(cu_status(&probe), STAGE_EINVAL);
    assert_int_equal(seen(node, &log), 0); /* log(2), log(3) wait too */
    assert_int_equal(cu_resolve_int(g_promise, 1), 0);
    assert_int_equal(cu_int(&f), 3);
    assert_int_equal(seen(node, &log), 123);
    stage_future_release(&g_promise);
    cu_end(&node);
}

static void a_failed_argument_fails_the_send_naming_it(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1), piper = spawn(node, "Piper", 0);
    assert_int_equal(stage_future_new(node, &g_promise), 0);
    stage_future_t *f = call_id(node, &piper, "fail_arg", &log);
    assert_int_equal(stage_future_reject(g_promise, STAGE_ETIMEOUT, "too slow"),
                     0);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ETIMEOUT);
    assert_non_null(strstr(res.message, "argument 2"));
    assert_non_null(strstr(res.message, "'add'"));
    assert_non_null(strstr(res.message, "too slow"));
    stage_future_release(&f);
    stage_future_release(&g_promise);
    assert_int_equal(seen(node, &log), 0); /* never delivered */
    cu_end(&node);
}

static void
a_far_reference_waits_keeps_order_and_fails_with_the_lookup(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1), piper = spawn(node, "Piper", 0);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_name(node, "book", &log, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    f = call_str(node, &piper, "far", "book");
    assert_int_equal(cu_int(&f), 3);
    assert_int_equal(seen(node, &log), 123);
    f = call_str(node, &piper, "far", "nobody");
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_ENAME_NOT_FOUND);
    assert_non_null(strstr(res.message, "'log' not sent"));
    stage_future_release(&f);
    cu_end(&node);
}

/* stage_node_stop_far: the order waits behind the sends made through the
** same far reference, stops the actor, and the sends after it find none;
** through a lookup that finds nothing it fails as the lookup did. */
static void a_far_reference_stops_its_actor_in_order(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1);
    stage_future_t *f = NULL, *lookup = NULL, *before = NULL, *stop = NULL,
                   *after = NULL;
    assert_int_equal(stage_node_name(node, "victim", &log, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    assert_int_equal(stage_node_find_name(node, "victim", &lookup), 0);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_arg_t a = int_arg(&p, 7);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &before),
                     0);
    assert_int_equal(stage_node_stop_far(node, lookup, &stop), 0);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &after),
                     0);
    assert_int_equal(cu_int(&before), 1); /* handled before the stop */
    assert_int_equal(cu_status(&stop), 0);
    assert_int_equal(cu_status(&after), STAGE_EACTOR_NOT_FOUND);
    stage_future_release(&lookup);
    assert_int_equal(stage_node_find_name(node, "nobody", &lookup), 0);
    assert_int_equal(stage_node_stop_far(node, lookup, &stop), 0);
    assert_int_equal(cu_status(&stop), STAGE_ENAME_NOT_FOUND);
    assert_int_equal(stage_node_stop_far(node, NULL, &stop), STAGE_EINVAL);
    assert_null(stop);
    stage_future_release(&lookup);
    stage_pack_free(&p);
    cu_end(&node);
}

/* Name name for id. */
static void name_for(stage_node_t *node, const char *name,
                     const stage_id_t *id) {
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_name(node, name, id, &f), 0);
    assert_int_equal(cu_status(&f), 0);
}

/* Stop id and wait until it is gone, and its names with it: the stop is
** taken before the actor goes, and a message after it comes back once it
** has. */
static void stop_and_wait(stage_node_t *node, const stage_id_t *id) {
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_stop_actor(node, id, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    f = cu_call(node, id, "seen", 0, 1);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
}

/* A call through stage_find_name's lookup whose actor has stopped goes to
** the actor that holds the name now (one retry, thesis Listing 4.10), and
** later sends through the lookup go there at once; with nobody holding the
** name it fails with ActorNotFound, saying the name was looked up again. */
static void a_far_reference_by_name_follows_the_name_once(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t one = spawn(node, "Log", 1);
    name_for(node, "book", &one);
    stage_future_t *lookup = NULL, *f = NULL;
    assert_int_equal(stage_node_find_name(node, "book", &lookup), 0);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_arg_t a = int_arg(&p, 1);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &f), 0);
    assert_int_equal(cu_int(&f), 1);
    stop_and_wait(node, &one);
    stage_id_t two = spawn(node, "Log", 0);
    name_for(node, "book", &two);
    a = int_arg(&p, 2);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &f), 0);
    assert_int_equal(cu_int(&f), 1); /* two's first */
    a = int_arg(&p, 3);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &f), 0);
    assert_int_equal(cu_int(&f), 2);
    assert_int_equal(seen(node, &two), 23);
    stop_and_wait(node, &two);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &f), 0);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(res.message, "the name 'book' was looked up again: "
                                        "no actor is named 'book'"));
    stage_future_release(&f);
    stage_future_release(&lookup);
    stage_pack_free(&p);
    cu_end(&node);
}

static void a_stopping_sender_fails_its_waiting_sends(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1), piper = spawn(node, "Piper", 0);
    assert_int_equal(stage_future_new(node, &g_promise), 0);
    stage_future_t *f = call_id(node, &piper, "stop_with", &log);
    assert_int_equal(cu_int(&f), 0);
    stage_result_t res;
    cu_wait(g_held, &res);
    assert_int_equal(res.status, STAGE_ESTOPPED);
    stage_future_release(&g_held);
    assert_int_equal(cu_resolve_int(g_promise, 1), 0); /* too late */
    stage_future_release(&g_promise);
    assert_int_equal(seen(node, &log), 0);
    cu_end(&node);
}

static void outside_sends_pipeline_and_keep_their_order(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t log = spawn(node, "Log", 1);
    stage_future_t *promise = NULL, *f1 = NULL, *f3 = NULL, *lookup = NULL;
    assert_int_equal(stage_future_new(node, &promise), 0);
    stage_arg_t a = fut_arg(promise);
    assert_int_equal(stage_node_send_args(node, &log, "log", &a, 1, &f1), 0);
    stage_future_t *f2 = cu_call(node, &log, "log", 2, 0); /* behind it */
    assert_int_equal(stage_node_find_name(node, "ledger", &lookup), 0);
    stage_pack_t p = STAGE_PACK_INIT;
    a = int_arg(&p, 3);
    assert_int_equal(stage_node_send_far(node, lookup, "log", &a, 1, &f3), 0);
    stage_pack_free(&p);
    assert_int_equal(cu_resolve_int(promise, 1), 0);
    assert_int_equal(cu_int(&f1), 1);
    assert_int_equal(cu_int(&f2), 2);
    assert_int_equal(seen(node, &log), 12);
    assert_int_equal(cu_status(&f3), STAGE_ENAME_NOT_FOUND);
    stage_future_release(&lookup);
    stage_future_release(&promise);
    /* bad arguments are refused at once */
    a = (stage_arg_t){.data = "\xc1", .len = 1};
    assert_int_equal(stage_node_send_args(node, &log, "log", &a, 1, &f1),
                     STAGE_EINVAL);
    assert_null(f1);
    assert_int_equal(stage_node_send_far(node, NULL, "log", NULL, 0, &f1),
                     STAGE_EINVAL);
    cu_end(&node);
}

static void c_and_lua_actors_pipeline_each_others_futures(void **st) {
    (void)st;
    stage_node_t *node = cu_node(2, types);
    cu_script(node, "capi_pipeline");
    cu_start(node);
    stage_id_t piper = spawn(node, "Piper", 0), log = spawn(node, "Log", 1);
    stage_id_t src = spawn(node, "LuaSource", 1),
               dst = spawn(node, "LuaDoubler", 0);
    stage_id_t lpiper = spawn(node, "LuaPiper", 1);
    /* a C actor pipelines a Lua actor's future into a send to a Lua actor */
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_id(&p, &src);
    stage_pack_id(&p, &dst);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, &piper, "cross", p.data, p.len, &f),
                     0);
    assert_int_equal(cu_int(&f), 42);
    /* a Lua actor pipelines a Lua future into a send to a C actor */
    stage_pack_reset(&p);
    stage_pack_array(&p, 3);
    stage_pack_id(&p, &log);
    stage_pack_id(&p, &src);
    stage_pack_int(&p, 7);
    assert_int_equal(stage_node_send(node, &lpiper, "into", p.data, p.len, &f),
                     0);
    assert_int_equal(cu_int(&f), 7);
    stage_pack_free(&p);
    cu_end(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_c_actor_pipelines_a_future_into_a_send),
        cmocka_unit_test(order_is_kept_behind_a_deferred_send),
        cmocka_unit_test(a_failed_argument_fails_the_send_naming_it),
        cmocka_unit_test(
            a_far_reference_waits_keeps_order_and_fails_with_the_lookup),
        cmocka_unit_test(a_far_reference_stops_its_actor_in_order),
        cmocka_unit_test(a_far_reference_by_name_follows_the_name_once),
        cmocka_unit_test(a_stopping_sender_fails_its_waiting_sends),
        cmocka_unit_test(outside_sends_pipeline_and_keep_their_order),
        cmocka_unit_test(c_and_lua_actors_pipeline_each_others_futures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
