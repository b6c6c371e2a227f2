/*
** tests/unit/test_capi_monitors.c: monitors of the C API — stage_monitor,
** stage_monitor_far, stage_demonitor, stage_on_node_down, stage_on_node_up:
** a monitor's callback runs once, as a turn of the actor that set it, with
** the reason (a stop, a Lua birth that failed, an actor not there, a
** lookup that failed); a cancelled one never runs; in death nothing can be
** set. Between two networked nodes in one process: a remote actor that
** stops, one whose node stops, and the watched node coming up and going
** down.
*/
#include <unistd.h>

#include "test_capi_util.h"

#define SLOTS 8

/* What the callbacks saw, per slot (a monitor's ud). */
typedef struct seen {
    int fired;
    int reason;
    char message[512];
    stage_id_t id;
    int wrong_context; /* ran with another actor's ctx or state */
} seen_t;

static seen_t seen[SLOTS];
static stage_future_t *signal_of[SLOTS]; /* resolved by the callback */

typedef struct watcher_st {
    stage_id_t me;
    stage_monitor_t mons[SLOTS];
    stage_monitor_t up, down;
} watcher_st_t;

static watcher_st_t *the_watcher; /* its state, for the checks */
static int death_rc = 1;          /* what stage_monitor said in death */
static stage_future_t *death_signal;
static uint64_t mon_ids[SLOTS]; /* the monitors set, by slot */

/* Node events the watcher heard: "up ADDR" or "down ADDR", and the
** incarnation of the last one. */
static char node_events[8][STAGE_ADDR_MAX + 8];
static uint32_t node_incs[8];
static int nnode_events;
static stage_future_t *node_signal[8]; /* event i resolves the i-th */

static void on_down(stage_ctx_t *ctx, void *state, void *ud,
                    const stage_down_t *down) {
    int slot = (int)(intptr_t)ud;
    seen_t *s = &seen[slot];
    watcher_st_t *st = state;
    if (!ctx || st != the_watcher || !stage_id_equal(stage_self(ctx), &st->me))
        s->wrong_context++;
    s->fired++;
    s->reason = down->reason;
    s->id = *down->id;
    snprintf(s->message, sizeof s->message, "%s",
             down->message ? down->message : "(null)");
    if (signal_of[slot]) cu_resolve_int(signal_of[slot], s->fired);
}

static void on_node(stage_ctx_t *ctx, void *state, void *ud,
                    const char *address, uint32_t incarnation) {
    (void)ctx;
    (void)state;
    int i = nnode_events++;
    if (i >= 8) return;
    snprintf(node_events[i], sizeof node_events[i], "%s %s", (const char *)ud,
             address);
    node_incs[i] = incarnation;
    if (node_signal[i]) cu_resolve_int(node_signal[i], i + 1);
}

/* ---- the actors ---------------------------------------------------------- */

/* Arguments [slot, id] or [slot, string]. */
static int args_slot(const stage_msg_t *m, stage_unpack_t *u) {
    uint32_t argc;
    int64_t slot;
    if (stage_msg_unpack(m, u, &argc) || argc != 2 ||
        stage_unpack_int(u, &slot) || slot < 0 || slot >= SLOTS)
        return -1;
    return (int)slot;
}

static void w_birth(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)m;
    watcher_st_t *st = state;
    st->me = *stage_self(ctx);
    the_watcher = st;
}

static void w_death(stage_ctx_t *ctx, void *state) {
    (void)state;
    stage_id_t self = *stage_self(ctx);
    death_rc = stage_monitor(ctx, &self, on_down, NULL, NULL);
    if (death_signal) cu_resolve_int(death_signal, 1);
}

/* watch(slot, id): stage_monitor; replies its code. */
static void w_watch(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    watcher_st_t *st = state;
    stage_unpack_t u;
    stage_id_t id;
    int slot = args_slot(m, &u);
    if (slot < 0 || stage_unpack_id(&u, &id)) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "watch(slot, id)");
        return;
    }
    int rc = stage_monitor(ctx, &id, on_down, (void *)(intptr_t)slot,
                           &st->mons[slot]);
    mon_ids[slot] = st->mons[slot].id;
    cu_reply_int(ctx, m, rc);
}

/* watch_name(slot, name): stage_monitor_far on a lookup of name. */
static void w_watch_name(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    watcher_st_t *st = state;
    stage_unpack_t u;
    const char *s;
    size_t len;
    char name[64];
    int slot = args_slot(m, &u);
    if (slot < 0 || stage_unpack_str(&u, &s, &len) || len >= sizeof name) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "watch_name(slot, name)");
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)len, s);
    stage_future_t *lookup;
    int rc = stage_find_name(ctx, name, &lookup);
    if (!rc) {
        rc = stage_monitor_far(ctx, lookup, on_down, (void *)(intptr_t)slot,
                               &st->mons[slot]);
        stage_future_release(&lookup);
    }
    cu_reply_int(ctx, m, rc);
}

/* spawn_watch(slot, type): spawn type here and monitor it at once, before
** its birth can run; replies the code. */
static void w_spawn_watch(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    watcher_st_t *st = state;
    stage_unpack_t u;
    const char *s;
    size_t len;
    char type[64];
    int slot = args_slot(m, &u);
    if (slot < 0 || stage_unpack_str(&u, &s, &len) || len >= sizeof type) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "spawn_watch(slot, type)");
        return;
    }
    snprintf(type, sizeof type, "%.*s", (int)len, s);
    stage_id_t id;
    int rc = stage_spawn(ctx, type, -1, NULL, 0, &id);
    if (!rc)
        rc = stage_monitor(ctx, &id, on_down, (void *)(intptr_t)slot,
                           &st->mons[slot]);
    cu_reply_int(ctx, m, rc);
}

/* unwatch(slot): stage_demonitor's code for the monitor set in slot, by
** whichever watcher set it. */
static void w_unwatch(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    int64_t slot = cu_arg_int(m);
    stage_monitor_t mon = {slot >= 0 && slot < SLOTS ? mon_ids[slot] : 0};
    cu_reply_int(ctx, m, stage_demonitor(ctx, mon));
}

/* bad(): the codes of calls that must fail, as one number: each digit 1
** if that call said what it should. */
static void w_bad(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_monitor_t out = {42};
    int ok = 0;
    ok = ok * 10 +
         (stage_monitor(ctx, NULL, on_down, NULL, &out) == STAGE_EINVAL &&
          out.id == 0);
    ok = ok * 10 + (stage_monitor(ctx, stage_self(ctx), NULL, NULL, NULL) ==
                    STAGE_EINVAL);
    ok = ok * 10 +
         (stage_monitor_far(ctx, NULL, on_down, NULL, NULL) == STAGE_EINVAL);
    ok = ok * 10 + (stage_on_node_up(ctx, NULL, NULL, NULL) == STAGE_EINVAL);
    ok = ok * 10 +
         (stage_demonitor(ctx, (stage_monitor_t){12345}) == STAGE_EINVAL);
    cu_reply_int(ctx, m, ok);
}

/* nodes(): watch nodes going down and coming up. */
static void w_nodes(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    watcher_st_t *st = state;
    int rc = stage_on_node_up(ctx, on_node, "up", &st->up);
    if (!rc) rc = stage_on_node_down(ctx, on_node, "down", &st->down);
    cu_reply_int(ctx, m, rc);
}

static void w_quit(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_stop(ctx);
}

static const stage_method_t w_methods[] = {{"watch", w_watch},
                                           {"watch_name", w_watch_name},
                                           {"spawn_watch", w_spawn_watch},
                                           {"unwatch", w_unwatch},
                                           {"bad", w_bad},
                                           {"nodes", w_nodes},
                                           {"quit", w_quit},
                                           {NULL, NULL}};
static const stage_type_def_t watcher_type = {.name = "Watcher",
                                              .state_size =
                                                  sizeof(watcher_st_t),
                                              .methods = w_methods,
                                              .birth = w_birth,
                                              .death = w_death};

/* A Mortal stops when told "quit" (and answers "ping"). */
static void mortal_quit(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_stop(ctx);
}

static void mortal_ping(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    cu_reply_int(ctx, m, 1);
}

static const stage_method_t m_methods[] = {
    {"quit", mortal_quit}, {"ping", mortal_ping}, {NULL, NULL}};
static const stage_type_def_t mortal_type = {.name = "Mortal",
                                             .methods = m_methods};

static const stage_type_def_t *const types[] = {&watcher_type, &mortal_type,
                                                NULL};

/* ---- helpers ------------------------------------------------------------- */

static void reset(void) {
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < SLOTS; i++)
        signal_of[i] = NULL;
    death_rc = 1;
    death_signal = NULL;
    memset(mon_ids, 0, sizeof mon_ids);
    nnode_events = 0;
    memset(node_signal, 0, sizeof node_signal);
}

/* Send method(slot, id) to to; its integer answer. */
static int64_t call_slot_id(stage_node_t *node, const stage_id_t *to,
                            const char *method, int slot,
                            const stage_id_t *id) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_int(&p, slot);
    stage_pack_id(&p, id);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return cu_int(&f);
}

static int64_t call_slot_str(stage_node_t *node, const stage_id_t *to,
                             const char *method, int slot, const char *s) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_int(&p, slot);
    stage_pack_cstr(&p, s);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return cu_int(&f);
}

/* A promise the callback of slot resolves. */
static void arm(stage_node_t *node, int slot) {
    assert_int_equal(stage_future_new(node, &signal_of[slot]), 0);
}

/* Wait for slot's callback (WAIT_SECS at most). */
static void await_slot(int slot) {
    stage_result_t res;
    cu_wait(signal_of[slot], &res);
    stage_future_release(&signal_of[slot]);
}

static void quit(stage_node_t *node, const stage_id_t *id) {
    stage_future_t *f = cu_call(node, id, "quit", 0, 1);
    assert_int_equal(cu_status(&f), 0);
}

/* ---- on one node --------------------------------------------------------- */

static void monitor_fires_once_as_a_turn_of_the_watcher(void **state) {
    (void)state;
    reset();
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t w, a, b;
    assert_int_equal(stage_node_spawn(node, "Watcher", 0, NULL, 0, &w), 0);
    assert_int_equal(stage_node_spawn(node, "Mortal", 1, NULL, 0, &a), 0);
    assert_int_equal(stage_node_spawn(node, "Mortal", 0, NULL, 0, &b), 0);

    /* a stops itself: reason 0, no message, its id */
    arm(node, 0);
    assert_int_equal(call_slot_id(node, &w, "watch", 0, &a), 0);
    quit(node, &a);
    await_slot(0);
    assert_int_equal(seen[0].fired, 1);
    assert_int_equal(seen[0].reason, 0);
    assert_string_equal(seen[0].message, "(null)");
    assert_true(stage_id_equal(&seen[0].id, &a));
    assert_int_equal(seen[0].wrong_context, 0);

    /* b is stopped from outside */
    arm(node, 1);
    assert_int_equal(call_slot_id(node, &w, "watch", 1, &b), 0);
    stage_future_t *f;
    assert_int_equal(stage_node_stop_actor(node, &b, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    await_slot(1);
    assert_int_equal(seen[1].reason, 0);

    /* a again: it is gone, so ActorNotFound at once */
    arm(node, 2);
    assert_int_equal(call_slot_id(node, &w, "watch", 2, &a), 0);
    await_slot(2);
    assert_int_equal(seen[2].reason, STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(seen[2].message, "not found"));

    /* an id of this node that never was, and one of an earlier run */
    stage_id_t never = a, stale = a;
    never.serial += 1000 << 8;
    stale.incarnation ^= 1;
    arm(node, 3);
    assert_int_equal(call_slot_id(node, &w, "watch", 3, &never), 0);
    await_slot(3);
    assert_int_equal(seen[3].reason, STAGE_EACTOR_NOT_FOUND);
    arm(node, 4);
    assert_int_equal(call_slot_id(node, &w, "watch", 4, &stale), 0);
    await_slot(4);
    assert_int_equal(seen[4].reason, STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(seen[4].message, "earlier run"));

    /* another node's actor, and this node has no network */
    stage_id_t far = a;
    snprintf(far.node, sizeof far.node, "127.0.0.1:9");
    arm(node, 5);
    assert_int_equal(call_slot_id(node, &w, "watch", 5, &far), 0);
    await_slot(5);
    assert_int_equal(seen[5].reason, STAGE_EUNREACHABLE);

    /* each fired once */
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i].fired, 1);
    cu_end(&node);
}

static void demonitor_keeps_the_callback_from_running(void **state) {
    (void)state;
    reset();
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t w, a, b;
    assert_int_equal(stage_node_spawn(node, "Watcher", 0, NULL, 0, &w), 0);
    assert_int_equal(stage_node_spawn(node, "Mortal", 1, NULL, 0, &a), 0);
    assert_int_equal(stage_node_spawn(node, "Mortal", 1, NULL, 0, &b), 0);
    assert_int_equal(call_slot_id(node, &w, "watch", 0, &a), 0);
    arm(node, 1);
    assert_int_equal(call_slot_id(node, &w, "watch", 1, &b), 0);
    stage_future_t *f = cu_call(node, &w, "unwatch", 0, 0);
    assert_int_equal(cu_int(&f), 0);
    quit(node, &a);
    quit(node, &b); /* after a, on the same theatre: its DOWN comes later */
    await_slot(1);
    assert_int_equal(seen[0].fired, 0);
    assert_int_equal(seen[1].fired, 1);
    /* cancelling again, or after it fired, is no error */
    f = cu_call(node, &w, "unwatch", 0, 0);
    assert_int_equal(cu_int(&f), 0);
    f = cu_call(node, &w, "unwatch", 1, 0);
    assert_int_equal(cu_int(&f), 0);
    /* bad arguments; another actor's monitor */
    f = cu_call(node, &w, "bad", 0, 1);
    assert_int_equal(cu_int(&f), 11111);
    stage_id_t w2;
    assert_int_equal(stage_node_spawn(node, "Watcher", 0, NULL, 0, &w2), 0);
    assert_int_equal(call_slot_id(node, &w2, "watch", 2, &w), 0);
    f = cu_call(node, &w, "unwatch", 2, 0);
    assert_int_equal(cu_int(&f), STAGE_EINVAL);
    cu_end(&node);
}

static void monitor_reports_a_lua_birth_that_failed(void **state) {
    (void)state;
    reset();
    stage_node_t *node = cu_node(1, types);
    cu_script(node, "capi_monitors");
    cu_start(node);
    stage_id_t w;
    assert_int_equal(stage_node_spawn(node, "Watcher", 0, NULL, 0, &w), 0);
    arm(node, 0);
    assert_int_equal(call_slot_str(node, &w, "spawn_watch", 0, "Failing"), 0);
    await_slot(0);
    assert_int_equal(seen[0].reason, STAGE_EHANDLER);
    assert_non_null(strstr(seen[0].message, "no good start"));
    assert_string_equal(seen[0].id.type, "Failing");
    /* and it is gone */
    stage_future_t *f = cu_call(node, &seen[0].id, "ping", 0, 1);
    assert_int_equal(cu_status(&f), STAGE_EACTOR_NOT_FOUND);
    cu_end(&node);
}

static void monitor_far_follows_its_lookup(void **state) {
    (void)state;
    reset();
    stage_node_t *node = cu_node(2, types);
    cu_start(node);
    stage_id_t w, a;
    assert_int_equal(stage_node_spawn(node, "Watcher", 0, NULL, 0, &w), 0);
    assert_int_equal(stage_node_spawn(node, "Mortal", 1, NULL, 0, &a), 0);
    stage_future_t *f;
    assert_int_equal(stage_node_name(node, "mortal", &a, &f), 0);
    assert_int_equal(cu_status(&f), 0);
    arm(node, 0);
    arm(node, 1);
    assert_int_equal(call_slot_str(node, &w, "watch_name", 0, "mortal"), 0);
    assert_int_equal(call_slot_str(node, &w, "watch_name", 1, "nobody"), 0);
    await_slot(1);
    assert_int_equal(seen[1].reason, STAGE_ENAME_NOT_FOUND);
    quit(node, &a);
    await_slot(0);
    assert_int_equal(seen[0].reason, 0);
    assert_true(stage_id_equal(&seen[0].id, &a));
    cu_end(&node);
}

static void nothing_is_set_in_death(void **state) {
    (void)state;
    reset();
    stage_node_t *node = cu_node(1, types);
    cu_start(node);
    stage_id_t w;
    assert_int_equal(stage_node_spawn(node, "Watcher", 0, NULL, 0, &w), 0);
    assert_int_equal(stage_future_new(node, &death_signal), 0);
    quit(node, &w);
    stage_result_t res;
    cu_wait(death_signal, &res);
    stage_future_release(&death_signal);
    assert_int_equal(death_rc, STAGE_ESTOPPED);
    cu_end(&node);
}

/* ---- between two nodes --------------------------------------------------- */

static void network(stage_node_t *node, const char *join) {
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.join = join;
    net.period_secs = 0.25;
    char err[256];
    int rc = stage_node_network(node, &net, err, sizeof err);
    if (rc) fail_msg("stage_node_network: %s", err);
}

/* A promise the i-th node event resolves. */
static void arm_node_event(stage_node_t *node, int i) {
    assert_int_equal(stage_future_new(node, &node_signal[i]), 0);
}

/* Wait for the i-th node event (WAIT_SECS at most). */
static void await_node_event(int i) {
    stage_result_t res;
    cu_wait(node_signal[i], &res);
    stage_future_release(&node_signal[i]);
}

static void remote_monitors_and_node_events(void **state) {
    (void)state;
    reset();
    stage_node_t *a = cu_node(2, types), *b = cu_node(2, types);
    network(a, NULL);
    assert_int_equal(stage_node_wait_joined(a, WAIT_SECS), 0);
    cu_start(a);
    stage_id_t w;
    assert_int_equal(stage_node_spawn(a, "Watcher", 0, NULL, 0, &w), 0);
    stage_future_t *f = cu_call(a, &w, "nodes", 0, 1);
    assert_int_equal(cu_int(&f), 0);

    /* B joins: A sees it come up */
    arm_node_event(a, 0);
    network(b, stage_node_address(a));
    assert_int_equal(stage_node_wait_joined(b, 20), 0);
    cu_start(b);
    char b_addr[STAGE_ADDR_MAX];
    snprintf(b_addr, sizeof b_addr, "%s", stage_node_address(b));
    await_node_event(0);
    char want[STAGE_ADDR_MAX + 8];
    snprintf(want, sizeof want, "up %s", b_addr);
    assert_string_equal(node_events[0], want);

    /* a Mortal of B stops: A's monitor hears it */
    stage_id_t m1, m2;
    assert_int_equal(stage_node_spawn(b, "Mortal", 1, NULL, 0, &m1), 0);
    assert_int_equal(stage_node_spawn(b, "Mortal", 0, NULL, 0, &m2), 0);
    assert_int_equal(node_incs[0], m1.incarnation);
    arm(a, 0);
    assert_int_equal(call_slot_id(a, &w, "watch", 0, &m1), 0);
    assert_int_equal(call_slot_id(a, &w, "watch", 1, &m2), 0);
    stage_id_t gone = m1;
    gone.serial += 1000 << 8;
    arm(a, 2);
    assert_int_equal(call_slot_id(a, &w, "watch", 2, &gone), 0);
    await_slot(2); /* B answers: there is no such actor */
    assert_int_equal(seen[2].reason, STAGE_EACTOR_NOT_FOUND);
    /* a message from A after the watches: once m1 and m2 answer it, they
    ** exist and are watched (it came behind the MONITOR frames) */
    f = cu_call(a, &m1, "ping", 0, 1);
    assert_int_equal(cu_int(&f), 1);
    f = cu_call(a, &m2, "ping", 0, 1);
    assert_int_equal(cu_int(&f), 1);
    quit(b, &m1);
    await_slot(0);
    assert_int_equal(seen[0].reason, 0);
    assert_true(stage_id_equal(&seen[0].id, &m1));
    assert_int_equal(seen[0].wrong_context, 0);

    /* B stops: m2 stops with it, and A sees B go down */
    arm(a, 1);
    arm_node_event(a, 1);
    stage_node_release(b);
    stage_node_stop(b, 0);
    assert_int_equal(stage_node_wait(b), 0);
    stage_node_destroy(&b);
    await_slot(1);
    assert_int_equal(seen[1].reason, STAGE_ESTOPPED);
    assert_true(stage_id_equal(&seen[1].id, &m2));
    await_node_event(1);
    assert_int_equal(nnode_events, 2);
    snprintf(want, sizeof want, "down %s", b_addr);
    assert_string_equal(node_events[1], want);
    assert_int_equal(node_incs[1], m2.incarnation);
    for (int i = 0; i < 3; i++)
        assert_int_equal(seen[i].fired, 1);
    stage_node_release(a);
    stage_node_stop(a, 0);
    assert_int_equal(stage_node_wait(a), 0);
    stage_node_destroy(&a);
}

int main(void) {
    alarm(120); /* a hang fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(monitor_fires_once_as_a_turn_of_the_watcher),
        cmocka_unit_test(demonitor_keeps_the_callback_from_running),
        cmocka_unit_test(monitor_reports_a_lua_birth_that_failed),
        cmocka_unit_test(monitor_far_follows_its_lookup),
        cmocka_unit_test(nothing_is_set_in_death),
        cmocka_unit_test(remote_monitors_and_node_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
