/*
** tests/unit/test_image.c: actor images (core/image.h) — what travels when
** an actor moves, through the internal test move between theatres of one
** node (stage__test_move): Lua state round trips, references that still
** answer, refusals that name the field and leave the actor serving,
** hooks, awaits and continuations, C types with and without encode and
** decode, pinned actors, queued messages and calls, and hostile images.
*/
#include "test_counter_type.h"

#include "core/actor.h"
#include "core/future.h"
#include "core/image.h"
#include "core/kind.h"
#include "core/node.h"
#include "core/theatre.h"

/* ---- C types --------------------------------------------------------------
 */

/* Gate: park() answers once open() is called (a promise it keeps). */
typedef struct gate {
    stage_future_t *p;
} gate_t;

static stage_future_t *parked; /* resolved by park, for the test thread */

static void gate_park(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    gate_t *g = state;
    stage_future_new(stage_ctx_node(ctx), &g->p);
    stage_reply_future(ctx, msg, g->p);
    if (parked) stage_future_resolve(parked, "\xc3", 1);
}

static void gate_open(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    gate_t *g = state;
    (void)ctx;
    (void)msg;
    cu_resolve_int(g->p, 42);
    stage_future_release(&g->p);
}

static const stage_method_t gate_methods[] = {
    {"park", gate_park}, {"open", gate_open}, {NULL, NULL}};
static const stage_type_def_t gate_type = {.name = "Gate",
                                           .kind = STAGE_KIND_PINNED,
                                           .state_size = sizeof(gate_t),
                                           .methods = gate_methods};

/* CCounter (test_counter_type.h): a C actor with encode and decode, and
** the two hooks. */
static const stage_method_t counter_methods[] = {{"add", c_add},
                                                 {"info", c_info},
                                                 {"refuse", c_refuse},
                                                 {"where", c_where},
                                                 {NULL, NULL}};
static const stage_type_def_t counter_type = {.name = "CCounter",
                                              .state_size = sizeof(counter_t),
                                              .methods = counter_methods,
                                              .encode = c_encode,
                                              .decode = c_decode,
                                              .departing = c_departing,
                                              .arrived = c_arrived};
static const stage_type_def_t plain_type = {.name = "CPlain",
                                            .state_size = sizeof(counter_t),
                                            .methods = counter_methods};
static const stage_type_def_t cpinned_type = {.name = "CPinned",
                                              .kind = STAGE_KIND_PINNED,
                                              .state_size = sizeof(counter_t),
                                              .methods = counter_methods,
                                              .encode = c_encode,
                                              .decode = c_decode};

/* CLog: push(x) logs [x, theatre]; get() answers the log. Encoded. */
#define LOG_MAX 64
typedef struct clog {
    int64_t n, log[LOG_MAX][2];
} clog_t;

static void l_push(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    clog_t *l = state;
    if (l->n == LOG_MAX) return;
    l->log[l->n][0] = cu_arg_int(msg);
    l->log[l->n++][1] = stage_ctx_theatre(ctx);
}

static void l_get(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    clog_t *l = state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, (uint32_t)l->n);
    for (int64_t i = 0; i < l->n; i++) {
        stage_pack_array(&p, 2);
        stage_pack_int(&p, l->log[i][0]);
        stage_pack_int(&p, l->log[i][1]);
    }
    stage_reply(ctx, msg, p.data, p.len);
    stage_pack_free(&p);
}

static int l_encode(const void *state, stage_pack_t *out) {
    const clog_t *l = state;
    stage_pack_array(out, (uint32_t)l->n * 2);
    for (int64_t i = 0; i < l->n; i++) {
        stage_pack_int(out, l->log[i][0]);
        stage_pack_int(out, l->log[i][1]);
    }
    return 0;
}

static int l_decode(void *state, const char *data, size_t len) {
    clog_t *l = state;
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, data, len);
    if (stage_unpack_array(&u, &n) || n % 2 || n / 2 > LOG_MAX)
        return STAGE_EDECODE;
    for (l->n = 0; l->n < n / 2; l->n++)
        if (stage_unpack_int(&u, &l->log[l->n][0]) ||
            stage_unpack_int(&u, &l->log[l->n][1]))
            return STAGE_EDECODE;
    return 0;
}

static const stage_method_t log_methods[] = {
    {"push", l_push}, {"get", l_get}, {"where", c_where}, {NULL, NULL}};
static const stage_type_def_t log_type = {.name = "CLog",
                                          .state_size = sizeof(clog_t),
                                          .methods = log_methods,
                                          .encode = l_encode,
                                          .decode = l_decode};

/* Driver: go(target, n, to) sends n push(i) and one get() to target, all
** queued behind this handler, then moves target to theatre `to` before
** it runs them; answers [true, get's answer] once both are in. */
static void d_go(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t target;
    int64_t n, to;
    stage_msg_unpack(msg, &u, &argc);
    stage_unpack_id(&u, &target);
    stage_unpack_int(&u, &n);
    stage_unpack_int(&u, &to);
    for (int64_t i = 1; i <= n; i++) {
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_array(&p, 1);
        stage_pack_int(&p, i);
        stage_send(ctx, &target, "push", p.data, p.len, NULL);
        stage_pack_free(&p);
    }
    stage_future_t *parts[2];
    stage_send(ctx, &target, "get", NULL, 0, &parts[1]);
    stage_future_new(stage_ctx_node(ctx), &parts[0]);
    stage__test_move(stage_ctx_node(ctx), &target, (int)to,
                     (stage__future_t *)parts[0]);
    stage_future_t *j;
    stage_join(parts, 2, &j);
    stage_reply_future(ctx, msg, j);
    stage_future_release(&j);
    stage_future_release(&parts[0]);
    stage_future_release(&parts[1]);
}

static const stage_method_t driver_methods[] = {{"go", d_go}, {NULL, NULL}};
static const stage_type_def_t driver_type = {
    .name = "Driver", .kind = STAGE_KIND_PINNED, .methods = driver_methods};

static const stage_type_def_t *const types[] = {
    &gate_type,   &counter_type, &plain_type, &cpinned_type,
    &driver_type, &log_type,     NULL};

/* ---- helpers ---------------------------------------------------------------
 */

static int log_lines;
static void quiet(void *ud, int level, const char *message) {
    (void)ud;
    (void)level;
    (void)message;
    log_lines++;
}

/* A started node of 2 theatres with the C types and image.lua. */
static stage_node_t *node_up(void) {
    stage_node_t *node = cu_node(2, types);
    cu_script(node, "image");
    cu_start(node);
    return node;
}

/* Move id to theatre `to` (the test move): its status, the message in
** err. */
static int move(stage_node_t *node, const stage_id_t *id, int to, char *err,
                size_t errlen) {
    stage_future_t *f;
    assert_int_equal(stage_future_new(node, &f), 0);
    assert_int_equal(stage__test_move(node, id, to, (stage__future_t *)f), 0);
    stage_result_t res;
    cu_wait(f, &res);
    int rc = res.status;
    snprintf(err, errlen, "%s", rc && res.message ? res.message : "");
    stage_future_release(&f);
    return rc;
}

static void move_ok(stage_node_t *node, const stage_id_t *id, int to) {
    char err[512];
    int rc = move(node, id, to, err, sizeof err);
    if (rc) fail_msg("move failed: %s: %s", stage_err_name(rc), err);
}

static void spawn(stage_node_t *node, const char *type, int theatre,
                  const stage_id_t *arg, stage_id_t *out) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, arg ? 1 : 0);
    if (arg) stage_pack_id(&p, arg);
    assert_int_equal(stage_node_spawn(node, type, theatre, p.data, p.len, out),
                     0);
    stage_pack_free(&p);
}

/* Call method with one string argument (NULL: none, a NULL id: an id). */
static stage_future_t *call(stage_node_t *node, const stage_id_t *to,
                            const char *method, const char *s,
                            const stage_id_t *id) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, s || id ? 1 : 0);
    if (s) stage_pack_cstr(&p, s);
    if (id) stage_pack_id(&p, id);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

static void call_true(stage_node_t *node, const stage_id_t *to,
                      const char *method, const char *s) {
    stage_future_t *f = call(node, to, method, s, NULL);
    stage_result_t res;
    cu_wait(f, &res);
    if (res.status)
        fail_msg("%s failed: %s", method, res.message ? res.message : "");
    stage_future_release(&f);
}

static int64_t where(stage_node_t *node, const stage_id_t *id) {
    stage_future_t *f = cu_call(node, id, "where", 0, 1);
    return cu_int(&f);
}

/* ---- Lua state ---------------------------------------------------------- */

static void lua_state_round_trips_between_theatres(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t echo, k;
    spawn(node, "Echo", 0, NULL, &echo);
    spawn(node, "Keeper", 0, &echo, &k);
    call_true(node, &k, "fill", NULL);
    char buf[256];
    stage_future_t *f = call(node, &k, "check", NULL, NULL);
    assert_string_equal(cu_str(&f, buf, sizeof buf), "ok 0");
    move_ok(node, &k, 1);
    f = call(node, &k, "check", NULL, NULL);
    assert_string_equal(cu_str(&f, buf, sizeof buf), "ok 1");
    /* the reference it holds works from its new theatre */
    f = call(node, &k, "via_peer", "hi", NULL);
    assert_string_equal(cu_str(&f, buf, sizeof buf), "echo:hi");
    move_ok(node, &k, 0); /* and back, where it was born */
    f = call(node, &k, "check", NULL, NULL);
    assert_string_equal(cu_str(&f, buf, sizeof buf), "ok 0");
    cu_end(&node);
}

static void what_cannot_travel_is_refused_naming_the_field(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t echo, k;
    spawn(node, "Echo", 0, NULL, &echo);
    spawn(node, "Keeper", 0, &echo, &k);
    call_true(node, &k, "fill", NULL);
    static const struct {
        const char *what, *want;
    } cases[] = {
        {"function", "self.handlers[2] is a function: it cannot travel"},
        {"coroutine", "self.co is a coroutine: it cannot travel"},
        {"future", "self.pending.f is a future: it cannot travel"},
        {"userdata", "self.tm is a userdata: it cannot travel"},
        {"metatable", "self.obj is a table with a metatable: it cannot "
                      "travel"},
        {"deepest", ": tables nested deeper than 32"},
    };
    char err[512], buf[256];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        call_true(node, &k, "set_bad", cases[i].what);
        assert_int_equal(move(node, &k, 1, err, sizeof err), STAGE_EENCODE);
        if (!strstr(err, cases[i].want))
            fail_msg("'%s': got '%s'", cases[i].what, err);
        assert_non_null(strstr(err, "cannot move actor '"));
        if (!strcmp(cases[i].what, "deepest"))
            assert_non_null(strstr(err, "': self.deep.d.d.d.d.d.d.d.d.d.d"));
        /* intact, where it was, and serving */
        stage_future_t *f = call(node, &k, "check", NULL, NULL);
        assert_string_equal(cu_str(&f, buf, sizeof buf), "ok 0");
        call_true(node, &k, "clear_bad", NULL);
    }
    call_true(node, &k, "set_bad", "deep"); /* the deepest that travels */
    move_ok(node, &k, 1);
    stage_future_t *f = call(node, &k, "check", NULL, NULL);
    assert_string_equal(cu_str(&f, buf, sizeof buf), "ok 1");
    cu_end(&node);
}

static void timers_refuse_unless_departing_cancels_them(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t echo, k, h;
    char err[512];
    spawn(node, "Echo", 0, NULL, &echo);
    spawn(node, "Keeper", 0, &echo, &k);
    call_true(node, &k, "tick", NULL);
    assert_int_equal(move(node, &k, 1, err, sizeof err), STAGE_EENCODE);
    assert_non_null(strstr(err, "has 1 timer that may still fire"));
    assert_int_equal(where(node, &k), 0);
    call_true(node, &k, "untick", NULL);
    move_ok(node, &k, 1);
    assert_int_equal(where(node, &k), 1);
    /* Hooked: departing cancels its timer, arrived sets it again */
    spawn(node, "Hooked", 0, NULL, &h);
    stage_future_t *f = call(node, &h, "counts", NULL, NULL);
    stage_result_t res;
    cu_wait(f, &res); /* born: its birth set the timer */
    assert_memory_equal(res.data, "\x93\x00\x00\xff", 4);
    stage_future_release(&f);
    move_ok(node, &h, 1);
    f = call(node, &h, "counts", NULL, NULL);
    cu_wait(f, &res);
    assert_int_equal(res.status, 0);
    /* [departed, arrivals, where] = [1, 1, 1] */
    assert_memory_equal(res.data, "\x93\x01\x01\x01", 4);
    stage_future_release(&f);
    /* a departing that fails refuses the move: the actor stays */
    call_true(node, &h, "set_refuse", "yes");
    assert_int_equal(move(node, &h, 0, err, sizeof err), STAGE_EHANDLER);
    assert_non_null(strstr(err, "refused to move: departing failed:"));
    assert_non_null(strstr(err, "not now"));
    f = call(node, &h, "counts", NULL, NULL);
    cu_wait(f, &res);
    assert_memory_equal(res.data, "\x93\x01\x01\x01", 4);
    stage_future_release(&f);
    call_true(node, &h, "done", NULL);
    cu_end(&node);
}

static void an_actor_in_an_await_is_busy_until_its_handler_ends(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t gate, w, echo, k;
    char err[512];
    spawn(node, "Gate", 0, NULL, &gate);
    spawn(node, "Waiter", 0, NULL, &w);
    assert_int_equal(stage_future_new(node, &parked), 0);
    stage_future_t *waiting = call(node, &w, "wait", NULL, &gate);
    assert_int_equal(cu_status(&parked), 0); /* Waiter is in its await */
    assert_int_equal(move(node, &w, 1, err, sizeof err), STAGE_EBUSY);
    assert_non_null(strstr(err, "suspended in an await"));
    stage_future_t *o = cu_call(node, &gate, "open", 0, 1);
    assert_int_equal(cu_status(&o), 0);
    assert_int_equal(cu_int(&waiting), 42);
    move_ok(node, &w, 1); /* its handler has finished */
    assert_int_equal(where(node, &w), 1);
    /* a pending continuation (next) keeps it too */
    spawn(node, "Echo", 0, NULL, &echo);
    spawn(node, "Keeper", 0, &echo, &k);
    assert_int_equal(stage_future_new(node, &parked), 0);
    stage_future_t *l = call(node, &k, "later", NULL, &gate);
    assert_int_equal(cu_status(&l), 0);
    assert_int_equal(cu_status(&parked), 0);
    assert_int_equal(move(node, &k, 1, err, sizeof err), STAGE_EBUSY);
    assert_non_null(strstr(err, "1 continuation (next or catch)"));
    o = cu_call(node, &gate, "open", 0, 1);
    assert_int_equal(cu_status(&o), 0);
    /* the continuation ran before a message sent after the gate opened */
    stage_future_t *v = call(node, &k, "later_v", NULL, NULL);
    assert_int_equal(cu_int(&v), 42);
    move_ok(node, &k, 1);
    cu_end(&node);
}

/* An actor's own monitors keep it where it is; the watches of others on
** an actor go with it (the test move carries them as core/move.c does). */
static void own_monitors_do_not_travel(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t echo, k;
    char err[512];
    spawn(node, "Echo", 0, NULL, &echo);
    spawn(node, "Keeper", 0, &echo, &k);
    stage_future_t *f = call(node, &k, "watch", NULL, &echo);
    assert_int_equal(cu_status(&f), 0);
    assert_int_equal(move(node, &k, 1, err, sizeof err), STAGE_EENCODE);
    assert_non_null(strstr(err, "monitors do not travel"));
    move_ok(node, &echo, 1); /* watched: it moves, its watch along */
    move_ok(node, &echo, 0);
    call_true(node, &k, "unwatch", NULL);
    move_ok(node, &k, 1);
    move_ok(node, &echo, 1);
    cu_end(&node);
}

/* [x, theatre] of a Fragile */
static void fragile_get(stage_node_t *node, const stage_id_t *id, int x,
                        int theatre) {
    stage_future_t *f = call(node, id, "get", NULL, NULL);
    stage_result_t res;
    cu_wait(f, &res);
    if (res.status) fail_msg("get: %s", res.message);
    char want[3] = {(char)0x92, (char)x, (char)theatre};
    assert_int_equal(res.len, 3);
    assert_memory_equal(res.data, want, 3);
    stage_future_release(&f);
}

static void restart_records_travel(void **state) {
    (void)state;
    stage_set_log(quiet, NULL); /* the restarts' lines */
    stage_node_t *node = node_up();
    stage_id_t fr;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_int(&p, 7);
    assert_int_equal(stage_node_spawn(node, "Fragile", 0, p.data, p.len, &fr),
                     0);
    stage_pack_free(&p);
    call_true(node, &fr, "change", NULL);
    stage_future_t *f = call(node, &fr, "boom", NULL, NULL);
    assert_int_equal(cu_status(&f), STAGE_EHANDLER); /* restart 1 */
    fragile_get(node, &fr, 7, 0);
    call_true(node, &fr, "change", NULL);
    move_ok(node, &fr, 1);
    f = call(node, &fr, "boom", NULL, NULL);
    assert_int_equal(cu_status(&f), STAGE_EHANDLER); /* restart 2 */
    /* born again from the birth arguments that travelled */
    fragile_get(node, &fr, 7, 1);
    f = call(node, &fr, "boom", NULL, NULL);
    assert_int_equal(cu_status(&f), STAGE_EHANDLER); /* one too many */
    f = call(node, &fr, "get", NULL, NULL);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND); /* stopped */
    cu_end(&node);
    stage_set_log(NULL, NULL);
}

static void pinned_actors_stay(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t p, c;
    char err[512];
    spawn(node, "Pinned", 0, NULL, &p);
    assert_int_equal(move(node, &p, 1, err, sizeof err), STAGE_EINVAL);
    assert_non_null(strstr(err, "is pinned"));
    assert_int_equal(where(node, &p), 0);
    spawn(node, "CPinned", 0, NULL, &c);
    assert_int_equal(move(node, &c, 1, err, sizeof err), STAGE_EINVAL);
    assert_int_equal(where(node, &c), 0);
    cu_end(&node);
}

/* ---- C types ------------------------------------------------------------ */

static void c_types_move_with_encode_and_decode_only(void **state) {
    (void)state;
    stage_node_t *node = node_up();
    stage_id_t c, plain;
    char err[512];
    spawn(node, "CCounter", 0, NULL, &c);
    stage_future_t *f = cu_call(node, &c, "add", 5, 0);
    assert_int_equal(cu_int(&f), 5);
    move_ok(node, &c, 1);
    f = cu_call(node, &c, "info", 0, 1);
    stage_result_t res;
    cu_wait(f, &res);
    /* [count 5, arrivals 1, departs 1, theatre 1] */
    assert_int_equal(res.len, 5);
    assert_memory_equal(res.data, "\x94\x05\x01\x01\x01", 5);
    stage_future_release(&f);
    f = cu_call(node, &c, "refuse", 1, 0);
    assert_int_equal(cu_int(&f), 1);
    assert_int_equal(move(node, &c, 0, err, sizeof err), STAGE_EHANDLER);
    assert_non_null(strstr(err, "departing refused the move"));
    assert_int_equal(where(node, &c), 1);
    spawn(node, "CPlain", 0, NULL, &plain);
    assert_int_equal(move(node, &plain, 1, err, sizeof err), STAGE_EENCODE);
    assert_non_null(strstr(err, "its type 'CPlain' has no encode and decode"));
    assert_int_equal(where(node, &plain), 0);
    cu_end(&node);
}

/* ---- queued messages ------------------------------------------------------
 */

/* Messages queued when the image is made travel in order, and a call
** among them answers its caller after the move. */
static void queued_messages_and_calls_travel_in_order(const char *type) {
    stage_node_t *node = node_up();
    stage_id_t echo, k, d;
    spawn(node, "Echo", 0, NULL, &echo);
    spawn(node, type, 0, &echo, &k);
    spawn(node, "Driver", 0, NULL, &d);
    assert_int_equal(where(node, &k), 0); /* born */
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 3);
    stage_pack_id(&p, &k);
    stage_pack_int(&p, 50);
    stage_pack_int(&p, 1);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, &d, "go", p.data, p.len, &f), 0);
    stage_pack_free(&p);
    stage_result_t res;
    cu_wait(f, &res);
    if (res.status) fail_msg("go failed: %s", res.message);
    /* [true, [[1, 1], [2, 1], ... [50, 1]]]: each handled in theatre 1 */
    stage_unpack_t u;
    uint32_t n;
    bool moved;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(stage_unpack_bool(&u, &moved), 0);
    assert_true(moved);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(n, 50);
    for (int64_t i = 1; i <= 50; i++) {
        int64_t x, th;
        assert_int_equal(stage_unpack_array(&u, &n), 0);
        assert_int_equal(stage_unpack_int(&u, &x), 0);
        assert_int_equal(stage_unpack_int(&u, &th), 0);
        assert_int_equal(x, i);
        assert_int_equal(th, 1);
    }
    stage_future_release(&f);
    cu_end(&node);
}

static void lua_queued_messages_and_calls_travel_in_order(void **state) {
    (void)state;
    queued_messages_and_calls_travel_in_order("Keeper");
}

static void c_queued_messages_and_calls_travel_in_order(void **state) {
    (void)state;
    queued_messages_and_calls_travel_in_order("CLog");
}

/* ---- hostile images ------------------------------------------------------
 */

/* An image of a CCounter with queued messages, made on a node not
** started (the test thread acts as its theatres). */
static stage_node_t *node_with_image(stage_pack_t *img, stage__actor_t **out) {
    stage_node_t *node = cu_node(2, types);
    stage__theatre_t *t0 = stage__node_theatre(node, 0);
    stage__type_t *ty = stage__type_find(node, "CCounter");
    stage__actor_t *a =
        stage__actor_new(t0, ty, stage__serial_reserve(t0), NULL);
    assert_non_null(a);
    a->flags |= ACTOR_BORN;
    ((counter_t *)a->data)->count = 77;
    for (int i = 0; i < 3; i++) {
        stage__env_t *e = stage__env_new("add", 3, "\x91\x01", 2);
        e->target = a->serial;
        e->target_type = ty;
        if (i == 1) e->future = stage__future_new(node, 0, a->serial);
        e->next = NULL;
        if (a->mbox_tail)
            a->mbox_tail->next = e;
        else
            a->mbox_head = e;
        a->mbox_tail = e;
    }
    char err[256];
    assert_int_equal(stage__actor_export(t0, a, img, err, sizeof err), 0);
    *out = a;
    return node;
}

/* Import data into theatre 1: its status; an actor made is let go. */
static int try_import(stage_node_t *node, const char *data, size_t len) {
    stage__theatre_t *t1 = stage__node_theatre(node, 1);
    stage_id_t id;
    char err[256];
    int rc =
        stage__actor_import(t1, data, len, NULL, NULL, &id, err, sizeof err);
    if (rc == 0) {
        stage__actor_t *a = stage__actor_find(t1, id.serial);
        assert_non_null(a);
        stage__actor_export_commit(t1, a);
    } else {
        assert_true(err[0] != 0); /* every refusal says why */
    }
    return rc;
}

static void malformed_images_are_refused(void **state) {
    (void)state;
    stage_set_log(quiet, NULL);
    stage_pack_t img = STAGE_PACK_INIT;
    stage__actor_t *a;
    stage_node_t *node = node_with_image(&img, &a);
    for (size_t n = 0; n < img.len; n++) /* every truncation */
        assert_int_equal(try_import(node, img.data, n), STAGE_EDECODE);
    srand(7);
    char buf[512];
    for (int i = 0; i < 5000; i++) { /* random bytes */
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)rand();
        if (i % 2 && n) buf[0] = (char)0x9a; /* an array of 10 */
        assert_int_not_equal(try_import(node, buf, n), 0);
    }
    char *copy = malloc(img.len);
    for (int i = 0; i < 5000; i++) { /* the valid image, one byte changed */
        memcpy(copy, img.data, img.len);
        copy[(size_t)rand() % img.len] = (char)rand();
        try_import(node, copy, img.len); /* either way, no crash */
    }
    free(copy);
    /* the valid image: the actor, its state and its three messages */
    stage__theatre_t *t1 = stage__node_theatre(node, 1);
    stage_id_t id;
    char err[256];
    assert_int_equal(stage__actor_import(t1, img.data, img.len, NULL, NULL, &id,
                                         err, sizeof err),
                     0);
    stage__actor_t *b = stage__actor_find(t1, id.serial);
    assert_int_equal(((counter_t *)b->data)->count, 77);
    int k = 0;
    for (stage__env_t *e = b->mbox_head; e; e = e->next, k++)
        assert_string_equal(stage__env_method(e), "add");
    assert_int_equal(k, 3);
    /* the same id cannot arrive twice in one theatre */
    assert_int_equal(stage__actor_import(t1, img.data, img.len, NULL, NULL,
                                         NULL, err, sizeof err),
                     STAGE_EEXISTS);
    stage_pack_free(&img);
    stage_node_destroy(&node);
    stage_set_log(NULL, NULL);
    assert_true(log_lines > 0); /* the replies it could not bind, say */
}

/* An image travels as one message: past max_message it is refused. */
static void an_image_past_max_message_is_refused(void **state) {
    (void)state;
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    cfg.max_message = STAGE_MAX_MESSAGE_MIN;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    assert_int_equal(stage_type_register(node, &counter_type), 0);
    stage__theatre_t *t = stage__node_theatre(node, 0);
    stage__type_t *ty = stage__type_find(node, "CCounter");
    stage__actor_t *a = stage__actor_new(t, ty, stage__serial_reserve(t), NULL);
    a->flags |= ACTOR_BORN;
    char args[200] = {(char)0x91, (char)0xd9, (char)196}; /* ["xxx..."] */
    memset(args + 3, 'x', sizeof args - 3);
    stage_pack_t img = STAGE_PACK_INIT;
    char err[256];
    for (int i = 0; i < 6; i++) {
        stage__env_t *e = stage__env_new("add", 3, args, sizeof args);
        e->target = a->serial;
        e->target_type = ty;
        e->future = stage__future_new(node, 0, a->serial);
        stage__actor_enqueue(t, a, e);
        stage_pack_reset(&img);
        int rc = stage__actor_export(t, a, &img, err, sizeof err);
        if (i < 4) { /* 4 messages of 200 bytes fit in 1024, 5 do not */
            assert_int_equal(rc, 0);
            stage__actor_export_abort(t, a, img.data, img.len);
            continue;
        }
        assert_int_equal(rc, STAGE_ETOOBIG);
        assert_int_equal(img.len, 0);
        assert_non_null(strstr(err, "over the limit of 1024 bytes"));
    }
    stage_pack_free(&img);
    stage_set_log(quiet, NULL); /* the calls left unanswered */
    stage_node_destroy(&node);
    stage_set_log(NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lua_state_round_trips_between_theatres),
        cmocka_unit_test(what_cannot_travel_is_refused_naming_the_field),
        cmocka_unit_test(timers_refuse_unless_departing_cancels_them),
        cmocka_unit_test(an_actor_in_an_await_is_busy_until_its_handler_ends),
        cmocka_unit_test(own_monitors_do_not_travel),
        cmocka_unit_test(restart_records_travel),
        cmocka_unit_test(pinned_actors_stay),
        cmocka_unit_test(c_types_move_with_encode_and_decode_only),
        cmocka_unit_test(lua_queued_messages_and_calls_travel_in_order),
        cmocka_unit_test(c_queued_messages_and_calls_travel_in_order),
        cmocka_unit_test(malformed_images_are_refused),
        cmocka_unit_test(an_image_past_max_message_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
