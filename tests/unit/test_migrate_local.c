/*
** tests/unit/test_migrate_local.c: moves between the theatres of one node
** through the C API (stage_migrate, stage_migrate_actor,
** stage_node_migrate_actor; core/move.c): a C actor moved back and forth
** while the test's thread calls it keeps every message once and in order;
** it moves itself; refusals leave it where it was, serving; what a move
** cannot do yet is refused at once; a state its type cannot decode where
** it goes leaves it intact where it was; a move asked in arrived comes
** after the messages the actor arrived with.
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
/* Fickle: a Counter whose decode refuses every state. */

static const stage_type_def_t fickle_type = {.name = "Fickle",
                                             .state_size = sizeof(counter_t),
                                             .methods = methods,
                                             .encode = c_encode,
                                             .decode = c_decode_refuse,
                                             .departing = c_departing,
                                             .arrived = c_arrived};

/* Rover: a Counter that, on each arrival, moves on to the next theatre
** (stage_migrate in arrived). */
static void c_arrived_move_on(stage_ctx_t *ctx, void *state) {
    ((counter_t *)state)->arrivals++;
    int to = (stage_ctx_theatre(ctx) + 1) % THEATRES;
    assert_int_equal(stage_migrate(ctx, to), 0);
}

static const stage_type_def_t rover_type = {.name = "Rover",
                                            .state_size = sizeof(counter_t),
                                            .methods = methods,
                                            .encode = c_encode,
                                            .decode = c_decode,
                                            .departing = c_departing,
                                            .arrived = c_arrived_move_on};
/* Ticker: a Counter with timers. arm(ms) sets a one-shot timer that
** resolves tick_done; every(ms) a repeating one; stop_ticking() cancels
** the last set (answers stage_timer_cancel's code). Each firing records
** where and when it ran. */
static stage_future_t *tick_done, *tick_there;
static int ticks, tick_theatre, tick_want = -1;
static double tick_at;
static stage_timer_t tick_timer;

static void on_tick(stage_ctx_t *ctx, void *state, void *ud) {
    (void)state;
    ticks++;
    tick_theatre = stage_ctx_theatre(ctx);
    tick_at = stage_now();
    if (ud) cu_resolve_int(ud, ticks);
    if (tick_there && tick_theatre == tick_want) {
        cu_resolve_int(tick_there, tick_theatre);
        tick_there = NULL;
    }
}

static void c_arm(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg,
                 stage_after(ctx, (double)cu_arg_int(msg) / 1000, on_tick,
                             tick_done, &tick_timer));
}

static void c_every(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg,
                 stage_every(ctx, (double)cu_arg_int(msg) / 1000, on_tick, NULL,
                             &tick_timer));
}

static void c_stop_ticking(stage_ctx_t *ctx, void *state,
                           const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_timer_cancel(ctx, tick_timer));
}

static const stage_method_t ticker_methods[] = {
    {"info", c_info},
    {"where", c_where},
    {"arm", c_arm},
    {"every", c_every},
    {"stop_ticking", c_stop_ticking},
    {NULL, NULL}};
static const stage_type_def_t ticker_type = {.name = "Ticker",
                                             .state_size = sizeof(counter_t),
                                             .methods = ticker_methods,
                                             .encode = c_encode,
                                             .decode = c_decode,
                                             .departing = c_departing,
                                             .arrived = c_arrived};

/* Warden: a Counter that watches. watch(id) sets a monitor whose DOWN
** resolves down_done (the k-th monitor set: downs[k] counts its runs);
** unwatch(k) cancels the k-th (answers stage_demonitor's code). */
static stage_future_t *down_done;
static int downs[4], down_theatre, down_reason, nwatches;
static stage_monitor_t watches[4];

static void on_down(stage_ctx_t *ctx, void *state, void *ud,
                    const stage_down_t *down) {
    (void)state;
    downs[(intptr_t)ud]++;
    down_theatre = stage_ctx_theatre(ctx);
    down_reason = down->reason;
    if (down_done) cu_resolve_int(down_done, (intptr_t)ud);
    down_done = NULL;
}

static void c_watch(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    stage_id_t id;
    assert_int_equal(cu_arg_id(msg, &id), 0);
    intptr_t k = nwatches++;
    cu_reply_int(ctx, msg,
                 stage_monitor(ctx, &id, on_down, (void *)k, &watches[k]));
}

static void c_unwatch(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_demonitor(ctx, watches[cu_arg_int(msg)]));
}

static const stage_method_t warden_methods[] = {{"where", c_where},
                                                {"watch", c_watch},
                                                {"unwatch", c_unwatch},
                                                {NULL, NULL}};
static const stage_type_def_t warden_type = {.name = "Warden",
                                             .state_size = sizeof(counter_t),
                                             .methods = warden_methods,
                                             .encode = c_encode,
                                             .decode = c_decode};

/* Guard k (0..GUARDS-1): watch(id, k) sets a monitor whose DOWN counts in
** guard_downs[k] with its reason, and resolves guard_done[k]; unwatch()
** cancels it (answers stage_demonitor's code). */
#define GUARDS 12
static stage_future_t *guard_done[GUARDS];
static int guard_downs[GUARDS], guard_reason[GUARDS];
static stage_monitor_t guard_mon[GUARDS];

static void guard_down(stage_ctx_t *ctx, void *state, void *ud,
                       const stage_down_t *down) {
    (void)ctx;
    (void)state;
    intptr_t k = (intptr_t)ud;
    guard_downs[k]++;
    guard_reason[k] = down->reason;
    cu_resolve_int(guard_done[k], guard_downs[k]);
}

static void g_watch(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t id;
    int64_t k;
    assert_int_equal(stage_msg_unpack(msg, &u, &argc), 0);
    assert_int_equal(stage_unpack_id(&u, &id), 0);
    assert_int_equal(stage_unpack_int(&u, &k), 0);
    cu_reply_int(ctx, msg,
                 stage_monitor(ctx, &id, guard_down, (void *)(intptr_t)k,
                               &guard_mon[k]));
}

static void g_unwatch(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_demonitor(ctx, guard_mon[cu_arg_int(msg)]));
}

static const stage_method_t guard_methods[] = {
    {"watch", g_watch}, {"unwatch", g_unwatch}, {NULL, NULL}};
static const stage_type_def_t guard_type = {
    .name = "Guard", .kind = STAGE_KIND_PINNED, .methods = guard_methods};

static const stage_type_def_t plain_type = {
    .name = "Plain", .state_size = sizeof(counter_t), .methods = methods};
static const stage_type_def_t pinned_type = {.name = "Pinned",
                                             .kind = STAGE_KIND_PINNED,
                                             .state_size = sizeof(counter_t),
                                             .methods = methods,
                                             .encode = c_encode,
                                             .decode = c_decode};
static const stage_type_def_t *const types[] = {
    &counter_type, &plain_type,  &pinned_type, &fickle_type, &rover_type,
    &ticker_type,  &warden_type, &guard_type,  NULL};

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

/* [count, arrivals, departs, theatre] of id into v. */
static void info(stage_node_t *node, const stage_id_t *id, int64_t v[4]) {
    stage_future_t *f = cu_call(node, id, "info", 0, 1);
    counter_info(&f, v);
}

/* A state the destination cannot decode: the move fails with the decode's
** error and the actor stays where it was, as it was (the import failed
** after it had left, and nothing is decoded to take it back), with the
** calls queued before, during and after the move answered in order. */
static void
a_state_that_does_not_decode_leaves_the_actor_where_it_was(void **s) {
    (void)s;
    enum { N = 50 };
    stage_node_t *node = node_up();
    stage_id_t c;
    char err[512];
    spawn(node, "Fickle", 1, &c);
    stage_future_t *f = cu_call(node, &c, "add", 5, 0);
    assert_int_equal(cu_int(&f), 5);
    for (int round = 0; round < 3; round++) {
        static stage_future_t *adds[2 * N];
        stage_future_t *mv = NULL;
        for (int i = 0; i < N; i++)
            adds[i] = cu_call(node, &c, "add", 1, 0);
        assert_int_equal(stage_node_migrate_actor(node, &c, 2, &mv), 0);
        for (int i = N; i < 2 * N; i++)
            adds[i] = cu_call(node, &c, "add", 1, 0);
        stage_result_t res;
        cu_wait(mv, &res);
        assert_int_equal(res.status, STAGE_EDECODE);
        snprintf(err, sizeof err, "%s", res.message ? res.message : "");
        stage_future_release(&mv);
        assert_non_null(strstr(err, "type 'Fickle': its decode callback "
                                    "refused the state (invalid argument)"));
        for (int i = 0; i < 2 * N; i++)
            assert_int_equal(cu_int(&adds[i]), 5 + round * 2 * N + i + 1);
    }
    assert_int_equal(move(node, &c, 0, err, sizeof err), STAGE_EDECODE);
    int64_t v[4];
    info(node, &c, v);
    assert_int_equal(v[0], 5 + 3 * 2 * N);
    assert_int_equal(v[1], 4); /* arrived ran again where it stayed */
    assert_int_equal(v[2], 4); /* after each departing */
    assert_int_equal(v[3], 1);
    cu_end(&node);
}

/* stage_migrate in arrived, at every arrival: each move waits for the
** messages the actor arrived with, so every call is answered, in order,
** while it keeps moving (before, the next move took the actor, and its
** mailbox, away before any message ran, for ever). */
static void moving_on_at_every_arrival_still_serves(void **s) {
    (void)s;
    enum { N = 200 };
    stage_node_t *node = node_up();
    stage_id_t r;
    spawn(node, "Rover", 0, &r);
    stage_future_t *f = cu_call(node, &r, "add", 0, 0);
    assert_int_equal(cu_int(&f), 0); /* born: its hooks run from now */
    stage_future_t *mv = NULL;
    assert_int_equal(stage_node_migrate_actor(node, &r, 1, &mv), 0);
    static stage_future_t *adds[N];
    for (int i = 0; i < N; i++)
        adds[i] = cu_call(node, &r, "add", 1, 0);
    assert_int_equal(cu_status(&mv), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(cu_int(&adds[i]), i + 1);
    int64_t v[4];
    info(node, &r, v);
    assert_int_equal(v[0], N);
    assert_true(v[1] >= 1);
    stage_future_t *stop = NULL; /* it moves for ever: stop it, so that the
                                 ** node can stop once idle */
    assert_int_equal(stage_node_stop_actor(node, &r, &stop), 0);
    assert_int_equal(cu_status(&stop), 0);
    cu_end(&node);
}

/* A C actor's timer moves with it: a one-shot set before three moves
** fires once, where the actor is, not before its deadline. */
static void a_timer_moves_with_its_actor_and_fires_once(void **s) {
    (void)s;
    enum { MS = 1000 }; /* three moves take far less */
    stage_node_t *node = node_up();
    stage_id_t k;
    char err[512];
    spawn(node, "Ticker", 0, &k);
    assert_int_equal(where(node, &k), 0);
    assert_int_equal(stage_future_new(node, &tick_done), 0);
    ticks = 0;
    double before = stage_now();
    stage_future_t *f = cu_call(node, &k, "arm", MS, 0);
    assert_int_equal(cu_int(&f), 0);
    for (int to = 1; to < THEATRES; to++)
        assert_int_equal(move(node, &k, to, err, sizeof err), 0);
    assert_true(stage_now() < before + MS / 1000.0); /* moved in time */
    assert_int_equal(cu_int(&tick_done), 1);
    assert_int_equal(tick_theatre, THEATRES - 1);
    assert_true(tick_at >= before + MS / 1000.0);
    assert_int_equal(where(node, &k), THEATRES - 1); /* a round trip */
    assert_int_equal(ticks, 1);
    cu_end(&node);
}

/* A repeating timer keeps firing where its actor moved, and the actor
** cancels it there with the handle it got before the move. */
static void a_repeating_timer_follows_and_is_cancelled_where_it_went(void **s) {
    (void)s;
    stage_node_t *node = node_up();
    stage_id_t k;
    char err[512];
    spawn(node, "Ticker", 1, &k);
    assert_int_equal(where(node, &k), 1);
    tick_want = 3;
    assert_int_equal(stage_future_new(node, &tick_there), 0);
    stage_future_t *there = tick_there;
    stage_future_t *f = cu_call(node, &k, "every", 5, 0);
    assert_int_equal(cu_int(&f), 0);
    /* a move can meet a firing queued as a turn (Busy): ask again */
    int rc = STAGE_EBUSY;
    for (int i = 0; i < 1000 && rc == STAGE_EBUSY; i++)
        rc = move(node, &k, 3, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(cu_int(&there), 3); /* it fired where the actor went */
    f = cu_call(node, &k, "stop_ticking", 0, 0);
    assert_int_equal(cu_int(&f), 0);
    cu_end(&node); /* a timer still armed would keep the node up */
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

/* A C actor's monitors of other actors move with it: the DOWN finds it
** where it went (its callback runs there, once), and it cancels one there
** with the handle it got before the moves. */
static void a_watchers_monitors_move_with_it(void **s) {
    (void)s;
    stage_node_t *node = node_up();
    stage_id_t w, c, c2;
    char err[512];
    nwatches = 0;
    memset(downs, 0, sizeof downs);
    spawn(node, "Warden", 1, &w);
    spawn(node, "Counter", 0, &c);
    spawn(node, "Counter", 2, &c2);
    assert_int_equal(where(node, &w), 1);     /* born: it moves from now */
    assert_int_equal(watch(node, &w, &c), 0); /* monitor 0, given out at 1 */
    for (int to = 2; to < THEATRES; to++)
        assert_int_equal(move(node, &w, to, err, sizeof err), 0);
    stage_future_t *done = NULL;
    assert_int_equal(stage_future_new(node, &done), 0);
    down_done = done;
    stage_future_t *stop = NULL;
    assert_int_equal(stage_node_stop_actor(node, &c, &stop), 0);
    assert_int_equal(cu_status(&stop), 0);
    assert_int_equal(cu_int(&done), 0);
    assert_int_equal(down_theatre, THEATRES - 1);
    assert_int_equal(down_reason, 0);
    /* two monitors of c2 set at THEATRES - 1; the warden goes home and
    ** on, and cancels the second there */
    assert_int_equal(watch(node, &w, &c2), 0); /* monitor 1 */
    assert_int_equal(watch(node, &w, &c2), 0); /* monitor 2 */
    assert_int_equal(move(node, &w, 1, err, sizeof err), 0);
    assert_int_equal(move(node, &w, 0, err, sizeof err), 0);
    stage_future_t *f = cu_call(node, &w, "unwatch", 2, 0);
    assert_int_equal(cu_int(&f), 0);
    assert_int_equal(stage_future_new(node, &done), 0);
    down_done = done;
    assert_int_equal(stage_node_stop_actor(node, &c2, &stop), 0);
    assert_int_equal(cu_status(&stop), 0);
    assert_int_equal(cu_int(&done), 1);
    assert_int_equal(down_theatre, 0);
    assert_int_equal(where(node, &w), 0); /* a round trip */
    assert_int_equal(downs[0], 1);
    assert_int_equal(downs[1], 1);
    assert_int_equal(downs[2], 0); /* cancelled after the moves */
    cu_end(&node);
}

/* Guard g watches target as k: a future of its answer. */
static stage_future_t *guard_watch(stage_node_t *node, const stage_id_t *g,
                                   const stage_id_t *target, int k) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_id(&p, target);
    stage_pack_int(&p, k);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, g, "watch", p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

/* Watches set and cancelled while their target moves back and forth,
** none awaited until the end: every watch finds the actor wherever it
** is (none says ActorNotFound), every one not cancelled fires once with
** its stop, and the cancelled ones never run. */
static void watches_set_and_cancelled_while_it_moves(void **s) {
    (void)s;
    enum { MOVES = 400 };
    stage_node_t *node = node_up();
    stage_id_t t, g[GUARDS];
    spawn(node, "Counter", 0, &t);
    assert_int_equal(where(node, &t), 0);
    for (int k = 0; k < GUARDS; k++) {
        spawn(node, "Guard", k % THEATRES, &g[k]);
        guard_downs[k] = 0;
        assert_int_equal(stage_future_new(node, &guard_done[k]), 0);
    }
    static stage_future_t *moves[MOVES], *watched[GUARDS], *cancels[GUARDS];
    int k = 0, nc = 0;
    for (int i = 0; i < MOVES; i++) {
        assert_int_equal(stage_node_migrate_actor(
                             node, &t, (i * 7 + 1) % THEATRES, &moves[i]),
                         0);
        if (i % (MOVES / GUARDS) == 0 && k < GUARDS) {
            watched[k] = guard_watch(node, &g[k], &t, k);
            k++;
        }
        if (i % (MOVES / 4) == 3 && nc < 3) { /* guards 0..2 cancel */
            cancels[nc] = cu_call(node, &g[nc], "unwatch", nc, 0);
            nc++;
        }
    }
    assert_int_equal(k, GUARDS);
    assert_int_equal(nc, 3);
    for (int i = 0; i < MOVES; i++)
        assert_int_equal(cu_status(&moves[i]), 0);
    for (int j = 0; j < GUARDS; j++)
        assert_int_equal(cu_int(&watched[j]), 0);
    for (int j = 0; j < nc; j++)
        assert_int_equal(cu_int(&cancels[j]), 0);
    stage_future_t *stop = NULL;
    assert_int_equal(stage_node_stop_actor(node, &t, &stop), 0);
    assert_int_equal(cu_status(&stop), 0);
    for (int j = nc; j < GUARDS; j++) {
        assert_int_equal(cu_int(&guard_done[j]), 1);
        assert_int_equal(guard_reason[j], 0); /* a stop, not NotFound */
    }
    for (int j = 0; j < nc; j++) {
        assert_int_equal(guard_downs[j], 0);
        stage_future_release(&guard_done[j]);
    }
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
        cmocka_unit_test(
            a_state_that_does_not_decode_leaves_the_actor_where_it_was),
        cmocka_unit_test(moving_on_at_every_arrival_still_serves),
        cmocka_unit_test(a_timer_moves_with_its_actor_and_fires_once),
        cmocka_unit_test(
            a_repeating_timer_follows_and_is_cancelled_where_it_went),
        cmocka_unit_test(a_watchers_monitors_move_with_it),
        cmocka_unit_test(watches_set_and_cancelled_while_it_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
