/*
** tests/unit/test_capi_names.c: names and lookups in the C API on an
** embedded node — stage_name, stage_find_name/type/subtype/all_types from
** a handler and from outside, names going with their actor, bad
** arguments — a C actor finding a Lua actor by name and a Lua actor
** finding a C actor by type (tests/unit/capi_names.lua), and
** stage_node_spawn_at on a node without a network.
*/
#include <unistd.h>

#include "test_capi_util.h"

/* ---- C actors -------------------------------------------------------------
 */

static int rc_seen[16];

/* Reply to m with what f gives (the handler's way to answer with a
** future), or the failure of the call that made it. */
static void answer(stage_ctx_t *ctx, const stage_msg_t *m, int rc,
                   stage_future_t **f) {
    if (!rc) rc = stage_reply_future(ctx, m, *f);
    if (rc) stage_reply_error(ctx, m, rc, "the call failed");
    stage_future_release(f);
}

/* The first argument of m as a string in buf ("" if none). */
static const char *arg_str(const stage_msg_t *m, char *buf, size_t len) {
    stage_unpack_t u;
    uint32_t argc;
    const char *s;
    size_t n;
    buf[0] = '\0';
    if (!stage_msg_unpack(m, &u, &argc) && argc >= 1 &&
        !stage_unpack_str(&u, &s, &n))
        snprintf(buf, len, "%.*s", (int)n, s);
    return buf;
}

static void n_claim(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    char name[300];
    stage_future_t *f = NULL;
    answer(ctx, m, stage_name(ctx, arg_str(m, name, sizeof name), NULL, &f),
           &f);
}

/* claim_for(name, id): the name for another actor. */
static void n_claim_for(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    const char *s;
    size_t n;
    stage_id_t id;
    char name[300];
    if (stage_msg_unpack(m, &u, &argc) || argc != 2 ||
        stage_unpack_str(&u, &s, &n) || stage_unpack_id(&u, &id))
        return;
    snprintf(name, sizeof name, "%.*s", (int)n, s);
    stage_future_t *f = NULL;
    answer(ctx, m, stage_name(ctx, name, &id, &f), &f);
}

static void n_find(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    char name[300];
    stage_future_t *f = NULL;
    answer(ctx, m, stage_find_name(ctx, arg_str(m, name, sizeof name), &f), &f);
}

static void n_find_type(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    char type[300];
    stage_future_t *f = NULL;
    answer(ctx, m, stage_find_type(ctx, arg_str(m, type, sizeof type), &f), &f);
}

static void n_find_all(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    char type[300];
    stage_future_t *f = NULL;
    answer(ctx, m, stage_find_all_types(ctx, arg_str(m, type, sizeof type), &f),
           &f);
}

/* Every wrong way to call the lookups from a handler; codes in order. */
static void n_bad(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    char long_name[300];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    stage_future_t *f = (stage_future_t *)1;
    int k = 0;
    rc_seen[k++] = stage_name(ctx, "", NULL, &f);
    rc_seen[k++] = f != NULL;
    rc_seen[k++] = stage_name(ctx, NULL, NULL, &f);
    rc_seen[k++] = stage_name(ctx, long_name, NULL, &f);
    rc_seen[k++] = stage_find_name(ctx, "x", NULL);
    rc_seen[k++] = stage_find_type(ctx, "9lives", &f);
    rc_seen[k++] = stage_find_subtype(ctx, "a b", &f);
    rc_seen[k++] = stage_find_all_types(ctx, "", &f);
    rc_seen[k++] = stage_spawn_at(ctx, "local", "Nope", NULL, 0, &f);
    cu_reply_int(ctx, m, k);
}

static void n_stop(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_stop(ctx);
}

/* ask_name(name, text): find the actor named name, send it echo(text),
** answer with its reply — a chain of two callbacks, each a turn of this
** actor, ending in a promise the handler delegated its reply to. */
typedef struct asking {
    stage_future_t *reply; /* the promise the reply was delegated to */
    char text[64];
} asking_t;

static void finish(asking_t *q, const stage_result_t *res) {
    if (res->status)
        stage_future_reject(q->reply, res->status, res->message);
    else
        stage_future_resolve(q->reply, res->data, res->len);
    stage_future_release(&q->reply);
    free(q);
}

static void echoed(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    (void)ctx;
    finish(ud, res);
}

static void found(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    asking_t *q = ud;
    stage_id_t id;
    int rc = ctx ? stage_result_id(res, &id) : STAGE_ESTOPPED;
    if (rc) {
        finish(q, res);
        return;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_cstr(&p, q->text);
    stage_future_t *f = NULL;
    rc = stage_send(ctx, &id, "echo", p.data, p.len, &f);
    if (!rc) rc = stage_future_then(f, echoed, q);
    stage_future_release(&f);
    stage_pack_free(&p);
    if (rc) {
        stage_result_t failed = {.status = rc, .message = "cannot send echo"};
        finish(q, &failed);
    }
}

static void n_ask_name(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    const char *name, *text;
    size_t nlen, tlen;
    asking_t *q = calloc(1, sizeof *q);
    if (!q || stage_msg_unpack(m, &u, &argc) || argc != 2 ||
        stage_unpack_str(&u, &name, &nlen) ||
        stage_unpack_str(&u, &text, &tlen) || nlen > 100 ||
        tlen >= sizeof q->text) {
        free(q);
        stage_reply_error(ctx, m, STAGE_EINVAL, "ask_name(name, text)");
        return;
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)nlen, name);
    snprintf(q->text, sizeof q->text, "%.*s", (int)tlen, text);
    stage_future_t *f = NULL;
    int rc = stage_future_new(stage_ctx_node(ctx), &q->reply);
    if (!rc) rc = stage_reply_future(ctx, m, q->reply);
    if (!rc) rc = stage_find_name(ctx, key, &f);
    if (!rc) rc = stage_future_then(f, found, q);
    stage_future_release(&f);
    if (rc) {
        stage_result_t failed = {.status = rc, .message = "ask_name failed"};
        finish(q, &failed);
    }
}

static const stage_method_t n_methods[] = {
    {"claim", n_claim},         {"claim_for", n_claim_for}, {"find", n_find},
    {"find_type", n_find_type}, {"find_all", n_find_all},   {"bad", n_bad},
    {"stop", n_stop},           {"ask_name", n_ask_name},   {NULL, NULL}};
static const stage_type_def_t namer_type = {.name = "Namer",
                                            .methods = n_methods};

typedef struct counter {
    int64_t total;
} counter_t;

static void c_add(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    counter_t *c = state;
    c->total += cu_arg_int(m);
    cu_reply_int(ctx, m, c->total);
}

static const stage_method_t c_methods[] = {{"add", c_add}, {NULL, NULL}};
static const stage_type_def_t counter_type = {
    .name = "Counter", .state_size = sizeof(counter_t), .methods = c_methods};
static const stage_type_def_t shape_type = {.name = "Shape",
                                            .methods = c_methods};
static const stage_type_def_t square_type = {
    .name = "Square", .super = "Shape", .methods = c_methods};

static const stage_type_def_t *const types[] = {
    &namer_type, &counter_type, &shape_type, &square_type, NULL};

/* ---- helpers ----------------------------------------------------------------
 */

/* Spawn type on theatre and wait until the actor is born: a spawn from
** outside is asynchronous, and only a message to the actor (answered after
** its birth) says it exists for the lookups too. */
static stage_id_t spawn(stage_node_t *node, const char *type, int theatre) {
    stage_id_t id;
    assert_int_equal(stage_node_spawn(node, type, theatre, NULL, 0, &id), 0);
    stage_future_t *f = cu_call(node, &id, "born?", 0, 1);
    assert_int_equal(cu_status(&f), STAGE_ENO_METHOD);
    return id;
}

/* Send method(s [, id]) from the test's thread. */
static stage_future_t *call_str(stage_node_t *node, const stage_id_t *to,
                                const char *method, const char *s,
                                const stage_id_t *id) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, id ? 2 : 1);
    stage_pack_cstr(&p, s);
    if (id) stage_pack_id(&p, id);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

/* f's result: status, and the message copied into msg (may be NULL). */
static int result_of(stage_future_t **f, char *msg, size_t len) {
    stage_result_t res;
    cu_wait(*f, &res);
    if (msg) snprintf(msg, len, "%s", res.message ? res.message : "");
    int status = res.status;
    if (!status && msg) snprintf(msg, len, "%s", "");
    stage_future_release(f);
    return status;
}

static void assert_true_result(stage_future_t **f) {
    stage_result_t res;
    cu_wait(*f, &res);
    if (res.status) fail_msg("%s: %s", stage_err_name(res.status), res.message);
    assert_int_equal(res.len, 1);
    assert_int_equal((uint8_t)res.data[0], 0xc3); /* true */
    stage_future_release(f);
}

/* ---- names ------------------------------------------------------------------
 */

static void names_claimed_in_a_handler_are_found_from_outside(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t n1 = spawn(node, "Namer", 1), n2 = spawn(node, "Namer", 0);
    stage_future_t *f = call_str(node, &n1, "claim", "clock", NULL);
    assert_true_result(&f);
    assert_int_equal(stage_node_find_name(node, "clock", &f), 0);
    stage_id_t id;
    cu_id(&f, &id);
    assert_true(stage_id_equal(&id, &n1));
    /* another actor cannot take it; its holder may claim it again */
    char msg[512], text[STAGE_ID_TEXT_MAX];
    f = call_str(node, &n2, "claim", "clock", NULL);
    assert_int_equal(result_of(&f, msg, sizeof msg), STAGE_EEXISTS);
    stage_id_format(&n1, text, sizeof text);
    assert_non_null(strstr(msg, "'clock' is taken by"));
    assert_non_null(strstr(msg, text));
    f = call_str(node, &n1, "claim", "clock", NULL);
    assert_true_result(&f);
    /* from outside, for an actor; found from a handler */
    assert_int_equal(stage_node_name(node, "alias", &n1, &f), 0);
    assert_true_result(&f);
    f = call_str(node, &n2, "find", "alias", NULL);
    cu_id(&f, &id);
    assert_true(stage_id_equal(&id, &n1));
    f = call_str(node, &n2, "find", "nobody", NULL);
    assert_int_equal(result_of(&f, msg, sizeof msg), STAGE_ENAME_NOT_FOUND);
    assert_string_equal(msg, "no actor is named 'nobody'");
    cu_end(&node);
}

static void names_go_when_their_actor_stops(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t n1 = spawn(node, "Namer", 1), n2 = spawn(node, "Namer", 0);
    stage_future_t *f = call_str(node, &n1, "claim", "clock", NULL);
    assert_true_result(&f);
    assert_int_equal(stage_node_name(node, "alias", &n1, &f), 0);
    assert_true_result(&f);
    assert_int_equal(stage_node_stop_actor(node, &n1, &f), 0);
    assert_true_result(&f);
    /* the stop order is taken before the actor is gone: a message after
    ** it comes back once it is */
    f = cu_call(node, &n1, "find", 0, 1);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(stage_node_find_name(node, "clock", &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ENAME_NOT_FOUND);
    assert_int_equal(stage_node_find_name(node, "alias", &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ENAME_NOT_FOUND);
    /* a stopped actor, or one that never was, gets no name */
    char msg[512];
    assert_int_equal(stage_node_name(node, "late", &n1, &f), 0);
    assert_int_equal(result_of(&f, msg, sizeof msg), STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(msg, "the name 'late' is not given to it"));
    f = call_str(node, &n2, "claim_for", "late", &n1);
    assert_int_equal(result_of(&f, NULL, 0), STAGE_EACTOR_NOT_FOUND);
    stage_id_t ghost = n2;
    ghost.serial += 1u << 20;
    assert_int_equal(stage_node_name(node, "ghost", &ghost, &f), 0);
    assert_int_equal(result_of(&f, NULL, 0), STAGE_EACTOR_NOT_FOUND);
    strcpy(ghost.type, "NoSuchType");
    assert_int_equal(stage_node_name(node, "ghost", &ghost, &f), 0);
    assert_int_equal(result_of(&f, NULL, 0), STAGE_EACTOR_NOT_FOUND);
    /* the name is free for another actor now */
    f = call_str(node, &n2, "claim", "clock", NULL);
    assert_true_result(&f);
    cu_end(&node);
}

static void names_and_lookups_refuse_bad_arguments(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    cu_start(node);
    stage_id_t n = spawn(node, "Namer", 0);
    char name[300];
    memset(name, 'n', 256);
    name[256] = '\0';
    stage_future_t *f = (stage_future_t *)1;
    assert_int_equal(stage_node_find_name(node, name, &f), STAGE_EINVAL);
    assert_null(f);
    assert_int_equal(stage_node_find_name(node, "", &f), STAGE_EINVAL);
    assert_int_equal(stage_node_find_name(node, NULL, &f), STAGE_EINVAL);
    assert_int_equal(stage_node_find_name(node, "x", NULL), STAGE_EINVAL);
    assert_int_equal(stage_node_find_type(node, "1Shape", &f), STAGE_EINVAL);
    assert_int_equal(stage_node_find_subtype(node, "Sh ape", &f), STAGE_EINVAL);
    assert_int_equal(stage_node_find_all_types(node, NULL, &f), STAGE_EINVAL);
    assert_int_equal(stage_node_name(node, "x", NULL, &f), STAGE_EINVAL);
    assert_int_equal(stage_node_name(node, "", &n, &f), STAGE_EINVAL);
    name[255] = '\0'; /* 255 bytes: a name, that nobody has */
    assert_int_equal(stage_node_find_name(node, name, &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ENAME_NOT_FOUND);
    f = cu_call(node, &n, "bad", 0, 1);
    assert_int_equal(cu_int(&f), 9);
    const int want[9] = {STAGE_EINVAL,         0,
                         STAGE_EINVAL,         STAGE_EINVAL,
                         STAGE_EINVAL,         STAGE_EINVAL,
                         STAGE_EINVAL,         STAGE_EINVAL,
                         STAGE_ETYPE_NOT_FOUND};
    for (int i = 0; i < 9; i++)
        if (rc_seen[i] != want[i])
            fail_msg("call %d returned %d, not %d", i, rc_seen[i], want[i]);
    cu_end(&node);
}

/* ---- types -----------------------------------------------------------------
 */

static int is_one_of(const stage_id_t *id, const stage_id_t *ids, int n) {
    for (int i = 0; i < n; i++)
        if (stage_id_equal(id, &ids[i])) return 1;
    return 0;
}

static void types_are_found_by_type_subtype_and_all(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t all[3] = {spawn(node, "Square", 0), spawn(node, "Square", 1),
                         spawn(node, "Shape", 1)};
    stage_id_t n = spawn(node, "Namer", 0);
    stage_future_t *f;
    stage_id_t id;
    int square = 0, shape = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(stage_node_find_type(node, "Square", &f), 0);
        cu_id(&f, &id);
        assert_true(is_one_of(&id, all, 2));
        assert_int_equal(stage_node_find_subtype(node, "Shape", &f), 0);
        cu_id(&f, &id);
        assert_true(is_one_of(&id, all, 3));
        square += !strcmp(id.type, "Square");
        shape += !strcmp(id.type, "Shape");
    }
    assert_true(square > 0 && shape > 0); /* both types of the family */
    assert_int_equal(stage_node_find_type(node, "Shape", &f), 0);
    cu_id(&f, &id);
    assert_true(stage_id_equal(&id, &all[2]));
    /* all of a type, from a handler */
    f = call_str(node, &n, "find_all", "Square", NULL);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, 0);
    stage_unpack_t u;
    uint32_t count;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_array(&u, &count), 0);
    assert_int_equal(count, 2);
    stage_id_t got[2];
    assert_int_equal(stage_unpack_id(&u, &got[0]), 0);
    assert_int_equal(stage_unpack_id(&u, &got[1]), 0);
    assert_true(is_one_of(&got[0], all, 2) && is_one_of(&got[1], all, 2));
    assert_false(stage_id_equal(&got[0], &got[1]));
    stage_future_release(&f);
    /* none: an empty list, or TypeNotFound */
    f = call_str(node, &n, "find_all", "Circle", NULL);
    cu_wait(f, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.len, 1);
    assert_int_equal((uint8_t)res.data[0], 0x90);
    stage_future_release(&f);
    char msg[256];
    f = call_str(node, &n, "find_type", "Circle", NULL);
    assert_int_equal(result_of(&f, msg, sizeof msg), STAGE_ETYPE_NOT_FOUND);
    assert_string_equal(msg, "no actor of type 'Circle'");
    assert_int_equal(stage_node_find_subtype(node, "Circle", &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ETYPE_NOT_FOUND);
    cu_end(&node);
}

/* ---- across languages -------------------------------------------------------
 */

static void a_c_actor_finds_a_lua_actor_by_name_and_calls_it(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    cu_script(node, "capi_names");
    cu_start(node);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_cstr(&p, "lua-echo");
    stage_id_t echo, asker = spawn(node, "Namer", 0);
    assert_int_equal(stage_node_spawn(node, "LuaEcho", 1, p.data, p.len, &echo),
                     0);
    stage_pack_free(&p);
    stage_future_t *f = cu_call(node, &echo, "ready", 0, 1); /* named by now */
    assert_true_result(&f);
    stage_pack_array(&p, 2);
    stage_pack_cstr(&p, "lua-echo");
    stage_pack_cstr(&p, "hi");
    assert_int_equal(
        stage_node_send(node, &asker, "ask_name", p.data, p.len, &f), 0);
    char buf[64];
    assert_string_equal(cu_str(&f, buf, sizeof buf), "lua:hi");
    stage_pack_reset(&p);
    stage_pack_array(&p, 2);
    stage_pack_cstr(&p, "nobody");
    stage_pack_cstr(&p, "hi");
    assert_int_equal(
        stage_node_send(node, &asker, "ask_name", p.data, p.len, &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ENAME_NOT_FOUND);
    stage_pack_free(&p);
    cu_end(&node);
}

static void a_lua_actor_finds_a_c_actor_by_type_and_calls_it(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    cu_script(node, "capi_names");
    cu_start(node);
    spawn(node, "Counter", 1);
    stage_id_t caller = spawn(node, "Caller", 0);
    stage_future_t *f = cu_call(node, &caller, "call_counter", 5, 0);
    assert_int_equal(cu_int(&f), 5);
    f = cu_call(node, &caller, "call_counter", 3, 0);
    assert_int_equal(cu_int(&f), 8);
    cu_end(&node);
}

/* ---- spawn_at, stdout -------------------------------------------------------
 */

static void spawn_at_this_node_or_refused_without_a_network(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_future_t *f = (stage_future_t *)1;
    const char args[] = {(char)0x91, 0x07}; /* [7] */
    assert_int_equal(stage_node_spawn_at(node, "local", "Counter", args, 2, &f),
                     0);
    stage_id_t id;
    cu_id(&f, &id);
    assert_string_equal(id.type, "Counter");
    f = cu_call(node, &id, "add", 1, 0);
    assert_int_equal(cu_int(&f), 1);
    assert_int_equal(
        stage_node_spawn_at(node, "10.0.0.1:7400", "Counter", NULL, 0, &f),
        STAGE_EUNREACHABLE);
    assert_null(f);
    assert_int_equal(stage_node_spawn_at(node, "local", "Nope", NULL, 0, &f),
                     STAGE_ETYPE_NOT_FOUND);
    assert_int_equal(stage_node_spawn_at(node, "local", "9x", NULL, 0, &f),
                     STAGE_EINVAL);
    assert_int_equal(stage_node_spawn_at(node, "", "Counter", NULL, 0, &f),
                     STAGE_EINVAL);
    assert_int_equal(stage_node_spawn_at(node, NULL, "Counter", NULL, 0, &f),
                     STAGE_EINVAL);
    assert_int_equal(
        stage_node_spawn_at(node, "local", "Counter", "\xc1", 1, &f),
        STAGE_EINVAL);
    assert_int_equal(
        stage_node_spawn_at(node, "local", "Counter", NULL, 0, NULL),
        STAGE_EINVAL);
    stage_id_t out;
    stage_node_stdout(node, &out);
    assert_string_equal(out.type, "Stdout");
    assert_string_equal(out.node, "local");
    cu_end(&node);
}

int main(void) {
    alarm(120); /* a hang fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_claimed_in_a_handler_are_found_from_outside),
        cmocka_unit_test(names_go_when_their_actor_stops),
        cmocka_unit_test(names_and_lookups_refuse_bad_arguments),
        cmocka_unit_test(types_are_found_by_type_subtype_and_all),
        cmocka_unit_test(a_c_actor_finds_a_lua_actor_by_name_and_calls_it),
        cmocka_unit_test(a_lua_actor_finds_a_c_actor_by_type_and_calls_it),
        cmocka_unit_test(spawn_at_this_node_or_refused_without_a_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
