/*
** tests/unit/test_capi_net.c: the C API between two networked nodes in
** one process, on loopback. Node A names a C actor; node B joins A's
** system, waits for its join with stage_node_wait_joined (no polling), and
** a Lua actor there (tests/unit/capi_net.lua) finds the C actor by name and
** by type and calls it; B's C side finds it too and spawns on A by
** address. Also: waiting for a join that does not come (timeout, stop), a
** join that gives up after its own timeout (NodeUnreachable, final), and
** from places where it cannot work. And a C actor that moves between the
** two nodes and back (stage_node_migrate_actor_node), its state and its
** first id following it, and a refused move that leaves it serving; what
** moves with a C actor inside a node (its timers, its monitors, others'
** monitors on it) refusing a move to another node until let go of.
*/
#include <time.h>
#include <unistd.h>

#include "test_capi_util.h"
#include "test_counter_type.h"

/* greet(who): "hello <who> from C". */
static void greet(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    const char *who;
    size_t len;
    if (stage_msg_unpack(m, &u, &argc) || argc != 1 ||
        stage_unpack_str(&u, &who, &len)) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "greet(who)");
        return;
    }
    char text[128];
    snprintf(text, sizeof text, "hello %.*s from C", (int)len, who);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_cstr(&p, text);
    stage_reply(ctx, m, p.data, p.len);
    stage_pack_free(&p);
}

/* wait_here(): stage_node_wait_joined from a theatre; answers its code. */
static void wait_here(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    cu_reply_int(ctx, m, stage_node_wait_joined(stage_ctx_node(ctx), 1));
}

static const stage_method_t g_methods[] = {
    {"greet", greet}, {"wait_here", wait_here}, {NULL, NULL}};
static const stage_type_def_t greeter_type = {.name = "Greeter",
                                              .methods = g_methods};
static const stage_type_def_t *const types[] = {&greeter_type, NULL};

/* Give node a network at 127.0.0.1:0 joining join (NULL: a new system). */
static void network(stage_node_t *node, const char *join) {
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.join = join;
    net.period_secs = 0.25; /* a quicker join and ring */
    char err[256];
    int rc = stage_node_network(node, &net, err, sizeof err);
    if (rc) fail_msg("stage_node_network: %s", err);
}

static stage_future_t *call_str(stage_node_t *node, const stage_id_t *to,
                                const char *method, const char *s) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_cstr(&p, s);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

/* Seconds on the monotonic clock. */
static double now_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whether node's find_type(type) answers want within WAIT_SECS; asks
   again at once after each TypeNotFound (each asks the DHT). */
static bool type_seen(stage_node_t *node, const char *type,
                      const stage_id_t *want) {
    for (double end = now_secs() + WAIT_SECS; now_secs() < end;) {
        stage_future_t *f;
        assert_int_equal(stage_node_find_type(node, type, &f), 0);
        stage_result_t res;
        cu_wait(f, &res);
        int status = res.status;
        stage_id_t id;
        bool found = !status && !stage_result_id(&res, &id);
        stage_future_release(&f);
        if (found) return stage_id_equal(&id, want);
        if (status != STAGE_ETYPE_NOT_FOUND) return false;
    }
    return false;
}

/* Whether the host entry at u (a map) is a well-formed one; its address
** (NUL-ended) to addr. */
static bool host_entry(stage_unpack_t *u, char *addr, size_t len) {
    uint32_t n;
    bool have[5] = {false};
    if (stage_unpack_map(u, &n) || n != 5) return false;
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *s;
        size_t kl, sl;
        int64_t v;
        double d;
        bool b;
        if (stage_unpack_str(u, &k, &kl)) return false;
        if (kl == 7 && !memcmp(k, "address", 7)) {
            if (stage_unpack_str(u, &s, &sl) || sl >= len) return false;
            memcpy(addr, s, sl);
            addr[sl] = 0;
            have[0] = true;
        } else if (kl == 8 && !memcmp(k, "theatres", 8)) {
            have[1] = !stage_unpack_int(u, &v) && v == 2;
        } else if (kl == 4 && !memcmp(k, "load", 4)) {
            have[2] = !stage_unpack_double(u, &d) && d >= 0;
        } else if (kl == 6 && !memcmp(k, "actors", 6)) {
            have[3] = !stage_unpack_int(u, &v) && v >= 0;
        } else if (kl == 12 && !memcmp(k, "takes_movers", 12)) {
            have[4] = !stage_unpack_bool(u, &b) && b;
        } else {
            return false;
        }
    }
    return have[0] && have[1] && have[2] && have[3] && have[4];
}

/* Whether node's stage_node_hosts lists self first and then other within
** WAIT_SECS (other's entry is published a moment after it joined); asks
** again after each answer without it. */
static bool hosts_list(stage_node_t *node, const char *self,
                       const char *other) {
    for (double end = now_secs() + WAIT_SECS; now_secs() < end;) {
        stage_future_t *f;
        assert_int_equal(stage_node_hosts(node, &f), 0);
        stage_result_t res;
        cu_wait(f, &res);
        assert_int_equal(res.status, 0);
        stage_unpack_t u;
        uint32_t n;
        char addr[STAGE_ADDR_MAX];
        bool found = false;
        stage_unpack_init(&u, res.data, res.len);
        assert_int_equal(stage_unpack_array(&u, &n), 0);
        assert_true(n >= 1);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(host_entry(&u, addr, sizeof addr));
            if (i == 0) assert_string_equal(addr, self);
            found |= i > 0 && !strcmp(addr, other);
        }
        stage_future_release(&f);
        if (found) return true;
    }
    return false;
}

static void stop_and_destroy(stage_node_t **node) {
    stage_node_release(*node);
    stage_node_stop(*node, 0);
    assert_int_equal(stage_node_wait(*node), 0);
    stage_node_destroy(node);
}

static void net_lua_on_one_node_calls_a_named_c_actor_of_another(void **state) {
    (void)state;
    stage_node_t *a = cu_node(2, types), *b = cu_node(2, NULL);
    network(a, NULL);
    assert_int_equal(stage_node_wait_joined(a, WAIT_SECS), 0); /* its own */
    cu_script(b, "capi_net");
    network(b, stage_node_address(a));
    stage_future_t *joined;
    assert_int_equal(stage_node_joined_future(b, &joined), 0);
    assert_int_equal(stage_node_wait_joined(b, 20), 0);
    assert_true(stage_node_joined(b));
    stage_result_t res;
    cu_wait(joined, &res);
    assert_int_equal(res.status, 0);
    assert_memory_equal(res.data, "\xc3", 1); /* true */
    stage_future_release(&joined);
    cu_start(a);
    cu_start(b);

    /* A: a C actor, named from outside */
    stage_id_t g;
    assert_int_equal(stage_node_spawn(a, "Greeter", 1, NULL, 0, &g), 0);
    stage_future_t *f;
    assert_int_equal(stage_node_name(a, "c-greeter", &g, &f), 0);
    cu_wait(f, &res);
    if (res.status) fail_msg("naming: %s", res.message);
    stage_future_release(&f);

    /* A's registration for Greeter is made without waiting (lua-api.md,
       "find_type"): B waits until its directory lists it */
    assert_true(type_seen(b, "Greeter", &g));

    /* B: a Lua actor finds it by name and by type, and calls it */
    stage_id_t client;
    assert_int_equal(stage_node_spawn(b, "Client", 0, NULL, 0, &client), 0);
    char buf[128];
    f = call_str(b, &client, "call", "c-greeter");
    assert_string_equal(cu_str(&f, buf, sizeof buf), "hello lua from C");
    f = call_str(b, &client, "call_type", "Greeter");
    assert_string_equal(cu_str(&f, buf, sizeof buf),
                        "hello lua, by type from C");

    /* B's C side: by name, by type, all of the type */
    stage_id_t id;
    assert_int_equal(stage_node_find_name(b, "c-greeter", &f), 0);
    cu_id(&f, &id);
    assert_true(stage_id_equal(&id, &g));
    assert_string_equal(id.node, stage_node_address(a));
    assert_int_equal(stage_node_find_type(b, "Greeter", &f), 0);
    cu_id(&f, &id);
    assert_true(stage_id_equal(&id, &g));
    assert_int_equal(stage_node_find_all_types(b, "Greeter", &f), 0);
    cu_wait(f, &res);
    assert_int_equal(res.status, 0);
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(stage_unpack_id(&u, &id), 0);
    assert_true(stage_id_equal(&id, &g));
    stage_future_release(&f);
    assert_int_equal(stage_node_find_name(b, "nobody", &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ENAME_NOT_FOUND);

    /* B spawns on A by address, and calls what it spawned */
    assert_int_equal(
        stage_node_spawn_at(b, stage_node_address(a), "Greeter", NULL, 0, &f),
        0);
    stage_id_t far;
    cu_id(&f, &far);
    assert_string_equal(far.node, stage_node_address(a));
    assert_false(stage_id_equal(&far, &g));
    f = call_str(b, &far, "greet", "B");
    assert_string_equal(cu_str(&f, buf, sizeof buf), "hello B from C");
    assert_int_equal(
        stage_node_spawn_at(b, stage_node_address(a), "Nope", NULL, 0, &f), 0);
    assert_int_equal(cu_status(&f), STAGE_ETYPE_NOT_FOUND);

    /* B's host entries: its own first, then A's once A has published */
    assert_true(hosts_list(b, stage_node_address(b), stage_node_address(a)));

    /* waiting for the join on a theatre would stall it */
    f = cu_call(a, &g, "wait_here", 0, 1);
    assert_int_equal(cu_int(&f), STAGE_EDEADLOCK);

    stop_and_destroy(&b);
    stop_and_destroy(&a);
}

static const stage_method_t counter_methods[] = {{"add", c_add},
                                                 {"info", c_info},
                                                 {"refuse", c_refuse},
                                                 {"where", c_where},
                                                 {NULL, NULL}};
static const stage_type_def_t counter_type = {.name = "Counter",
                                              .state_size = sizeof(counter_t),
                                              .methods = counter_methods,
                                              .encode = c_encode,
                                              .decode = c_decode,
                                              .departing = c_departing,
                                              .arrived = c_arrived};
static const stage_type_def_t *const counter_types[] = {&counter_type, NULL};

/* Move who to node where from node (the future's id in *out), or why not. */
static int move_to(stage_node_t *node, const stage_id_t *who,
                   const stage_node_t *where, stage_id_t *out) {
    stage_future_t *f;
    assert_int_equal(
        stage_node_migrate_actor_node(node, who, stage_node_address(where), &f),
        0);
    stage_result_t res;
    cu_wait(f, &res);
    int status = res.status;
    if (!status) assert_int_equal(stage_result_id(&res, out), 0);
    stage_future_release(&f);
    return status;
}

/* info()'s [count, arrivals, departs] of who, asked from node. */
static void info(stage_node_t *node, const stage_id_t *who, int64_t want[3]) {
    stage_future_t *f = cu_call(node, who, "info", 0, 1);
    int64_t v[4];
    counter_info(&f, v);
    for (int i = 0; i < 3; i++)
        assert_int_equal(v[i], want[i]);
}

static void net_c_actor_moves_to_another_node_and_back(void **state) {
    (void)state;
    stage_node_t *a = cu_node(2, counter_types), *b = cu_node(2, counter_types);
    network(a, NULL);
    assert_int_equal(stage_node_wait_joined(a, WAIT_SECS), 0);
    network(b, stage_node_address(a));
    assert_int_equal(stage_node_wait_joined(b, 20), 0);
    cu_start(a);
    cu_start(b);
    stage_id_t c, at_b, back;
    assert_int_equal(stage_node_spawn(a, "Counter", 1, NULL, 0, &c), 0);
    stage_future_t *f = cu_call(a, &c, "add", 5, 0);
    assert_int_equal(cu_int(&f), 5);

    /* to B: a new id there; its first id still reaches it, from A and B */
    assert_int_equal(move_to(a, &c, b, &at_b), 0);
    assert_string_equal(at_b.node, stage_node_address(b));
    f = cu_call(a, &c, "add", 1, 0);
    assert_int_equal(cu_int(&f), 6);
    f = cu_call(b, &c, "add", 1, 0);
    assert_int_equal(cu_int(&f), 7);
    f = cu_call(b, &at_b, "add", 1, 0);
    assert_int_equal(cu_int(&f), 8);
    info(a, &c, (int64_t[]){8, 1, 1});

    /* B asks it home by its first id: the same id again; B's id forwards */
    assert_int_equal(move_to(b, &c, a, &back), 0);
    assert_true(stage_id_equal(&back, &c));
    f = cu_call(b, &at_b, "add", 1, 0);
    assert_int_equal(cu_int(&f), 9);
    info(b, &c, (int64_t[]){9, 2, 2});

    /* a move its departing refuses: it stays, at B too (the refusal comes
    ** back from B to its home), and serves on */
    assert_int_equal(move_to(a, &c, b, &at_b), 0);
    f = cu_call(a, &c, "refuse", 1, 0);
    assert_int_equal(cu_int(&f), 1);
    assert_int_not_equal(move_to(b, &c, a, &back), 0);
    f = cu_call(a, &c, "add", 1, 0);
    assert_int_equal(cu_int(&f), 10);
    info(b, &at_b, (int64_t[]){10, 3, 3});

    /* from B to an address where no node listens: it is taken back at its
    ** home, A, and serves on with its state */
    f = cu_call(a, &c, "refuse", 0, 0);
    assert_int_equal(cu_int(&f), 1);
    assert_int_equal(stage_node_migrate_actor_node(a, &c, "127.0.0.1:1", &f),
                     0);
    stage_result_t res;
    cu_wait(f, &res);
    assert_int_equal(res.status, STAGE_EUNREACHABLE); /* never reached */
    assert_non_null(strstr(res.message, "'127.0.0.1:1'"));
    stage_future_release(&f);
    f = cu_call(b, &c, "add", 1, 0);
    assert_int_equal(cu_int(&f), 11);
    info(a, &c, (int64_t[]){11, 4, 4}); /* departed B, arrived home */

    /* stopped where it arrived, through its first id: both ids say it */
    assert_int_equal(move_to(a, &c, b, &at_b), 0);
    assert_int_equal(stage_node_stop_actor(a, &c, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    f = cu_call(a, &c, "add", 1, 0);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
    f = cu_call(a, &at_b, "add", 1, 0);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);

    /* where must be a node address */
    assert_int_equal(stage_node_migrate_actor_node(a, &c, "nowhere", &f),
                     STAGE_EINVAL);
    assert_null(f);
    stop_and_destroy(&b);
    stop_and_destroy(&a);
}

/* Ticker: a Counter with a timer. arm(ms) sets a one-shot timer (its
** firing does nothing); disarm() cancels it (stage_timer_cancel's code). */
static stage_timer_t tick_timer;

static void on_tick(stage_ctx_t *ctx, void *state, void *ud) {
    (void)ctx;
    (void)state;
    (void)ud;
}

static void t_arm(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg,
                 stage_after(ctx, (double)cu_arg_int(msg) / 1000, on_tick, NULL,
                             &tick_timer));
}

static void t_disarm(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_timer_cancel(ctx, tick_timer));
}

static const stage_method_t ticker_methods[] = {
    {"add", c_add}, {"arm", t_arm}, {"disarm", t_disarm}, {NULL, NULL}};
static const stage_type_def_t ticker_type = {.name = "Ticker",
                                             .state_size = sizeof(counter_t),
                                             .methods = ticker_methods,
                                             .encode = c_encode,
                                             .decode = c_decode};

/* Warden: watch(id) sets a monitor whose DOWN resolves down_done with its
** reason; unwatch() cancels it (stage_demonitor's code). */
static stage_future_t *down_done;
static stage_monitor_t warden_mon;

static void on_down(stage_ctx_t *ctx, void *state, void *ud,
                    const stage_down_t *down) {
    (void)ctx;
    (void)state;
    (void)ud;
    if (down_done) cu_resolve_int(down_done, down->reason);
    down_done = NULL;
}

static void w_watch(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    stage_id_t id;
    if (cu_arg_id(msg, &id)) {
        stage_reply_error(ctx, msg, STAGE_EINVAL, "watch(id)");
        return;
    }
    cu_reply_int(ctx, msg, stage_monitor(ctx, &id, on_down, NULL, &warden_mon));
}

static void w_unwatch(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_demonitor(ctx, warden_mon));
}

static const stage_method_t warden_methods[] = {
    {"add", c_add}, {"watch", w_watch}, {"unwatch", w_unwatch}, {NULL, NULL}};
static const stage_type_def_t warden_type = {.name = "Warden",
                                             .state_size = sizeof(counter_t),
                                             .methods = warden_methods,
                                             .encode = c_encode,
                                             .decode = c_decode};
static const stage_type_def_t *const bound_types[] = {
    &counter_type, &ticker_type, &warden_type, NULL};

/* The move of who to node where: its status, its id there in *out, or
** why not in why. */
static int move_why(stage_node_t *node, const stage_id_t *who,
                    const stage_node_t *where, stage_id_t *out, char *why,
                    size_t len) {
    stage_future_t *f;
    assert_int_equal(
        stage_node_migrate_actor_node(node, who, stage_node_address(where), &f),
        0);
    stage_result_t res;
    cu_wait(f, &res);
    int status = res.status;
    if (!status) assert_int_equal(stage_result_id(&res, out), 0);
    snprintf(why, len, "%s", status && res.message ? res.message : "");
    stage_future_release(&f);
    return status;
}

/* w.watch(id): its answer. */
static int64_t watch(stage_node_t *node, const stage_id_t *w,
                     const stage_id_t *id) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_id(&p, id);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, w, "watch", p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return cu_int(&f);
}

/* What moves with a C actor inside a node (its timers, its monitors, the
** watches of others on it) cannot go to another node: the move is refused
** (NotSendable, saying what binds it), the actor serves on where it was,
** and moves once they are let go of. A monitor set on its first id while
** it is away finds it gone. */
static void net_what_moves_inside_a_node_is_refused_between_nodes(void **s) {
    (void)s;
    stage_node_t *a = cu_node(2, bound_types), *b = cu_node(2, bound_types);
    network(a, NULL);
    assert_int_equal(stage_node_wait_joined(a, WAIT_SECS), 0);
    network(b, stage_node_address(a));
    assert_int_equal(stage_node_wait_joined(b, 20), 0);
    cu_start(a);
    cu_start(b);
    stage_id_t k, c, w, moved;
    char why[512];

    /* an armed timer */
    assert_int_equal(stage_node_spawn(a, "Ticker", 1, NULL, 0, &k), 0);
    stage_future_t *f = cu_call(a, &k, "arm", 60000, 0);
    assert_int_equal(cu_int(&f), 0);
    assert_int_equal(move_why(a, &k, b, &moved, why, sizeof why),
                     STAGE_EENCODE);
    assert_non_null(strstr(why, "has 1 timer that may still fire: timers do "
                                "not travel to another node"));
    f = cu_call(a, &k, "add", 3, 0);
    assert_int_equal(cu_int(&f), 3); /* it serves on, on A */
    f = cu_call(a, &k, "disarm", 0, 1);
    assert_int_equal(cu_int(&f), 0);
    assert_int_equal(move_why(a, &k, b, &moved, why, sizeof why), 0);
    assert_string_equal(moved.node, stage_node_address(b));
    f = cu_call(a, &k, "add", 1, 0);
    assert_int_equal(cu_int(&f), 4); /* its state went along */

    /* watched by another actor's monitor; that actor has a monitor of its
    ** own: neither goes until the monitor is cancelled */
    assert_int_equal(stage_node_spawn(a, "Counter", 1, NULL, 0, &c), 0);
    assert_int_equal(stage_node_spawn(a, "Warden", 0, NULL, 0, &w), 0);
    assert_int_equal(watch(a, &w, &c), 0);
    assert_int_equal(move_why(a, &c, b, &moved, why, sizeof why),
                     STAGE_EENCODE);
    assert_non_null(strstr(why, "is watched by another actor's monitor: "
                                "watches do not follow an actor to another "
                                "node"));
    assert_int_equal(move_why(a, &w, b, &moved, why, sizeof why),
                     STAGE_EENCODE);
    assert_non_null(strstr(why, "has monitors of its own: monitors do not "
                                "travel to another node"));
    f = cu_call(a, &c, "add", 2, 0);
    assert_int_equal(cu_int(&f), 2); /* it serves on, on A */
    f = cu_call(a, &w, "unwatch", 0, 1);
    assert_int_equal(cu_int(&f), 0);
    assert_int_equal(move_why(a, &c, b, &moved, why, sizeof why), 0);
    assert_string_equal(moved.node, stage_node_address(b));
    f = cu_call(a, &c, "add", 1, 0);
    assert_int_equal(cu_int(&f), 3);

    /* a monitor set on its first id now: the watch finds it gone */
    assert_int_equal(stage_future_new(a, &down_done), 0);
    stage_future_t *done = down_done;
    assert_int_equal(watch(a, &w, &c), 0);
    assert_int_equal(cu_int(&done), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(move_why(a, &w, b, &moved, why, sizeof why), 0);
    stop_and_destroy(&b);
    stop_and_destroy(&a);
}

/* A guest (an actor that arrived from another node) asked to move inside
** its node and, at once, to another node: the second waits behind the
** first, then is asked of its home like any move of a guest; both end,
** and the actor is home again under its first id, serving. */
static void net_a_guests_queued_move_to_a_node_goes_through_its_home(void **s) {
    (void)s;
    stage_node_t *a = cu_node(2, counter_types), *b = cu_node(2, counter_types);
    network(a, NULL);
    assert_int_equal(stage_node_wait_joined(a, WAIT_SECS), 0);
    network(b, stage_node_address(a));
    assert_int_equal(stage_node_wait_joined(b, 20), 0);
    cu_start(a);
    cu_start(b);
    stage_id_t c, at_b, back;
    assert_int_equal(stage_node_spawn(a, "Counter", 1, NULL, 0, &c), 0);
    assert_int_equal(move_to(a, &c, b, &at_b), 0);
    for (int i = 0; i < 20; i++) { /* each round: one local, one home */
        stage_future_t *local, *home;
        int other = (at_b.theatre + 1) % 2;
        assert_int_equal(stage_node_migrate_actor(b, &at_b, other, &local), 0);
        assert_int_equal(stage_node_migrate_actor_node(
                             b, &at_b, stage_node_address(a), &home),
                         0);
        assert_int_equal(cu_status(&local), 0);
        stage_result_t res;
        cu_wait(home, &res);
        if (res.status) fail_msg("round %d: %s", i, res.message);
        assert_int_equal(stage_result_id(&res, &back), 0);
        stage_future_release(&home);
        assert_true(stage_id_equal(&back, &c));
        stage_future_t *f = cu_call(a, &c, "add", 1, 0);
        assert_int_equal(cu_int(&f), i + 1);
        assert_int_equal(move_to(a, &c, b, &at_b), 0);
    }
    stop_and_destroy(&b);
    stop_and_destroy(&a);
}

static void net_wait_joined_times_out_or_ends_with_the_node(void **state) {
    (void)state;
    /* a system nobody answers for: port 1 on loopback */
    stage_node_t *c = cu_node(1, types);
    network(c, "127.0.0.1:1");
    double start = stage_now();
    assert_int_equal(stage_node_wait_joined(c, 0.2), STAGE_ETIMEOUT);
    assert_true(stage_now() - start >= 0.2);
    assert_false(stage_node_joined(c));
    stage_future_t *joined;
    assert_int_equal(stage_node_joined_future(c, &joined), 0);
    assert_false(stage_future_done(joined));
    stage_node_stop(c, 0);
    assert_int_equal(stage_node_wait_joined(c, 5), STAGE_ESTOPPED);
    assert_int_equal(cu_status(&joined), STAGE_ESTOPPED);
    stage_node_destroy(&c);
}

static void net_join_gives_up_after_its_timeout(void **state) {
    (void)state;
    stage_node_t *c = cu_node(1, types);
    stage_net_config_t net;
    stage_net_config_init(&net);
    assert_true(net.join_timeout == 30);
    net.listen = "127.0.0.1:0";
    net.join = "127.0.0.1:1"; /* nobody there */
    net.join_timeout = 0.5;
    char err[256];
    if (stage_node_network(c, &net, err, sizeof err))
        fail_msg("stage_node_network: %s", err);
    stage_future_t *joined;
    assert_int_equal(stage_node_joined_future(c, &joined), 0);
    double start = stage_now();
    assert_int_equal(stage_node_wait_joined(c, WAIT_SECS), STAGE_EUNREACHABLE);
    double took = stage_now() - start;
    assert_true(took >= 0.45 && took < 3); /* the bound, not WAIT_SECS */
    assert_false(stage_node_joined(c));
    stage_result_t res;
    cu_wait(joined, &res);
    assert_int_equal(res.status, STAGE_EUNREACHABLE);
    const char *want = "cannot join the system at '127.0.0.1:1': not joined "
                       "within 0.5 s: ";
    if (strncmp(res.message, want, strlen(want)) ||
        !strstr(res.message, "connection refused"))
        fail_msg("'%s'", res.message);
    stage_future_release(&joined);
    /* final: asked again, it fails at once with the same reason */
    assert_int_equal(stage_node_joined_future(c, &joined), 0);
    assert_true(stage_future_done(joined));
    cu_wait(joined, &res);
    assert_int_equal(res.status, STAGE_EUNREACHABLE);
    assert_non_null(strstr(res.message, "connection refused"));
    stage_future_release(&joined);
    assert_int_equal(stage_node_wait_joined(c, 0), STAGE_EUNREACHABLE);
    stage_node_destroy(&c);
}

static void net_join_timeout_must_be_a_number(void **state) {
    (void)state;
    stage_node_t *c = cu_node(1, types);
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.join = "127.0.0.1:1";
    net.join_timeout = NAN;
    char err[256];
    assert_int_equal(stage_node_network(c, &net, err, sizeof err),
                     STAGE_EINVAL);
    assert_string_equal(err, "the join timeout is not a number");
    stage_node_destroy(&c);
}

static void net_wait_joined_needs_a_network(void **state) {
    (void)state;
    stage_node_t *node = cu_node(1, types);
    assert_int_equal(stage_node_wait_joined(node, 0), STAGE_EINVAL);
    stage_future_t *f = (stage_future_t *)1;
    assert_int_equal(stage_node_joined_future(node, &f), STAGE_EINVAL);
    assert_null(f);
    assert_int_equal(stage_node_joined_future(node, NULL), STAGE_EINVAL);
    stage_node_destroy(&node);
}

int main(void) {
    alarm(120); /* a hang fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(net_lua_on_one_node_calls_a_named_c_actor_of_another),
        cmocka_unit_test(net_c_actor_moves_to_another_node_and_back),
        cmocka_unit_test(net_what_moves_inside_a_node_is_refused_between_nodes),
        cmocka_unit_test(
            net_a_guests_queued_move_to_a_node_goes_through_its_home),
        cmocka_unit_test(net_wait_joined_times_out_or_ends_with_the_node),
        cmocka_unit_test(net_join_gives_up_after_its_timeout),
        cmocka_unit_test(net_join_timeout_must_be_a_number),
        cmocka_unit_test(net_wait_joined_needs_a_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
