/*
** tests/unit/test_migrate.c: the migration state machine (src/node) alone,
** three places wired by hand — the fast path, a move's two phases, a
** destination or a source dying mid-move, a sender switching address only
** through a FLUSH, a bounce resolved through the store and a FLUSH-after
** that waits for the old address to retire. tests/sim/migrate_sim.c runs
** the same machine over many seeds.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "node/migrate.h"
#include "stage/errors.h"

#define NP 3
#define GRACE 100

static stage_mig_t *pl[NP];
static uint64_t keys[NP];
static stage_mig_fx_t fx[64];
static stage_mig_item_t items[64];
static size_t nfx;

static uint64_t new_key(void *ud) {
    return 100 + ++keys[(intptr_t)ud];
}

static int setup(void **state) {
    (void)state;
    memset(keys, 0, sizeof keys);
    for (int p = 0; p < NP; p++) {
        stage_mig_config_t cfg;
        stage_mig_config_init(&cfg);
        cfg.place = (uint32_t)p;
        cfg.grace_ms = GRACE;
        cfg.new_key = new_key;
        cfg.ud = (void *)(intptr_t)p;
        pl[p] = stage_mig_new(&cfg);
        assert_non_null(pl[p]);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int p = 0; p < NP; p++)
        stage_mig_destroy(&pl[p]);
    return 0;
}

/* Read place p's effects into fx (their item lists into items). */
static size_t drain(int p) {
    const stage_mig_fx_t *f = stage_mig_effects(pl[p], &nfx);
    assert_true(nfx <= 64);
    memcpy(fx, f, nfx * sizeof *f);
    for (size_t i = 0; i < nfx; i++)
        if (fx[i].nitems) {
            assert_true(fx[i].nitems <= 64);
            memcpy(items, fx[i].items, fx[i].nitems * sizeof *items);
            fx[i].items = items;
        }
    return nfx;
}

/* The n-th effect of kind among those drained, or NULL. */
static stage_mig_fx_t *find(int kind, int n) {
    for (size_t i = 0; i < nfx; i++)
        if (fx[i].kind == kind && n-- == 0) return &fx[i];
    return NULL;
}

/* The frame of the n-th SEND drained, checked to go to place `to`. */
static stage_mig_frame_t sent(int n, int to) {
    stage_mig_fx_t *s = find(STAGE_MIG_FX_SEND, n);
    assert_non_null(s);
    assert_int_equal(s->place, to);
    return s->frame;
}

static stage_mig_item_t msg(int sender, uint64_t handle,
                            stage_mig_addr_t birth) {
    return (stage_mig_item_t){.kind = STAGE_MIG_MSG,
                              .sender = (uint32_t)sender,
                              .handle = handle,
                              .birth = birth};
}

static const stage_mig_addr_t BIRTH = {0, 5};

/* Move actor 0/5 from place 0 to place 1 with mailbox q[0..n); returns its
** new address. Drains every step. */
static stage_mig_addr_t move_0_to_1(const stage_mig_item_t *q, size_t n) {
    assert_int_equal(stage_mig_depart(pl[0], 0, 5, 1, q, n, 77), 0);
    drain(0);
    stage_mig_frame_t mv = sent(0, 1);
    assert_int_equal(mv.kind, STAGE_MIG_F_MOVE);
    stage_mig_recv(pl[1], 1, 0, &mv);
    drain(1);
    stage_mig_frame_t ready = sent(0, 0);
    assert_int_equal(ready.kind, STAGE_MIG_F_READY);
    stage_mig_recv(pl[0], 2, 1, &ready);
    drain(0);
    stage_mig_frame_t commit = sent(0, 1);
    assert_int_equal(commit.kind, STAGE_MIG_F_COMMIT);
    assert_non_null(find(STAGE_MIG_FX_DEPARTED, 0));
    stage_mig_recv(pl[1], 3, 0, &commit);
    drain(1);
    return ready.at;
}

static void fast_path_is_one_send_and_no_route(void **state) {
    (void)state;
    stage_mig_item_t m = msg(2, 1, BIRTH);
    stage_mig_send(pl[2], 0, &m, BIRTH);
    assert_int_equal(drain(2), 1);
    stage_mig_frame_t f = sent(0, 0);
    assert_int_equal(f.kind, STAGE_MIG_F_ITEM);
    assert_true(stage_mig_addr_eq(f.to, BIRTH));
    assert_int_equal(stage_mig_routes(pl[2]), 0);
}

static void move_runs_only_on_commit_and_keeps_the_mailbox(void **state) {
    (void)state;
    stage_mig_item_t q[2] = {msg(2, 1, BIRTH), msg(2, 2, BIRTH)};
    assert_int_equal(stage_mig_depart(pl[0], 0, 5, 1, q, 2, 77), 0);
    drain(0);
    stage_mig_frame_t mv = sent(0, 1);
    stage_mig_recv(pl[1], 1, 0, &mv);
    drain(1);
    assert_null(find(STAGE_MIG_FX_ARRIVED, 0)); /* not before COMMIT */
    stage_mig_frame_t ready = sent(0, 0);
    /* a message arriving at the source during the move is held there */
    stage_mig_frame_t late = {
        .kind = STAGE_MIG_F_ITEM, .to = BIRTH, .item = msg(2, 3, BIRTH)};
    stage_mig_recv(pl[0], 1, 2, &late);
    assert_int_equal(drain(0), 0);
    stage_mig_recv(pl[0], 2, 1, &ready);
    drain(0);
    assert_int_equal(sent(0, 1).kind, STAGE_MIG_F_COMMIT);
    stage_mig_frame_t fwd = sent(1, 1); /* behind the COMMIT */
    assert_int_equal(fwd.kind, STAGE_MIG_F_ITEM);
    assert_int_equal(fwd.item.handle, 3);
    assert_int_equal(fwd.item.hops, 1);
    stage_mig_frame_t commit = sent(0, 1);
    stage_mig_recv(pl[1], 3, 0, &commit);
    drain(1);
    stage_mig_fx_t *arr = find(STAGE_MIG_FX_ARRIVED, 0);
    assert_non_null(arr);
    assert_int_equal(arr->state, 77);
    assert_int_equal(arr->epoch, 1);
    assert_int_equal(arr->nitems, 2);
    assert_int_equal(arr->items[0].handle, 1);
    assert_int_equal(arr->items[1].handle, 2);
    assert_true(stage_mig_addr_eq(arr->birth, BIRTH));
    stage_mig_addr_t new_at = arr->addr;
    stage_mig_recv(pl[1], 4, 0, &fwd);
    drain(1);
    stage_mig_fx_t *d = find(STAGE_MIG_FX_DELIVER, 0);
    assert_non_null(d);
    assert_int_equal(d->item.handle, 3);
    stage_mig_frame_t hint = sent(0, 2); /* it came the long way */
    assert_int_equal(hint.kind, STAGE_MIG_F_HINT);
    assert_true(stage_mig_addr_eq(hint.at, new_at));
}

static void destination_dying_before_ready_restores(void **state) {
    (void)state;
    stage_mig_item_t q[1] = {msg(2, 1, BIRTH)};
    assert_int_equal(stage_mig_depart(pl[0], 0, 5, 1, q, 1, 9), 0);
    drain(0);
    stage_mig_frame_t mv = sent(0, 1);
    stage_mig_dead(pl[0], 5, (uint32_t[]){1}, 1);
    stage_mig_undelivered(pl[0], 5, 1, &mv);
    drain(0);
    stage_mig_fx_t *r = find(STAGE_MIG_FX_RESTORED, 0);
    assert_non_null(r);
    assert_int_equal(r->nitems, 1);
    assert_int_equal(r->items[0].handle, 1);
    /* the actor is here again: items are delivered */
    stage_mig_frame_t it = {
        .kind = STAGE_MIG_F_ITEM, .to = BIRTH, .item = msg(2, 2, BIRTH)};
    stage_mig_recv(pl[0], 6, 2, &it);
    drain(0);
    assert_non_null(find(STAGE_MIG_FX_DELIVER, 0));
    /* and it cannot be sent to a place known dead */
    assert_int_equal(stage_mig_depart(pl[0], 7, 5, 1, NULL, 0, 9),
                     STAGE_EINVAL);
}

static void source_dying_while_prepared_commits_at_destination(void **s) {
    (void)s;
    assert_int_equal(stage_mig_depart(pl[0], 0, 5, 1, NULL, 0, 9), 0);
    assert_int_equal(stage_mig_depart(pl[0], 0, 5, 2, NULL, 0, 9), STAGE_EBUSY);
    drain(0);
    stage_mig_frame_t mv = sent(0, 1);
    stage_mig_recv(pl[1], 1, 0, &mv);
    drain(1);
    assert_null(find(STAGE_MIG_FX_ARRIVED, 0));
    stage_mig_dead(pl[1], 2, (uint32_t[]){0}, 1);
    drain(1);
    assert_non_null(find(STAGE_MIG_FX_ARRIVED, 0));
}

static void a_hint_switches_address_only_through_a_flush(void **state) {
    (void)state;
    stage_mig_item_t m1 = msg(2, 1, BIRTH);
    stage_mig_send(pl[2], 0, &m1, BIRTH);
    drain(2);
    stage_mig_addr_t now_at = {1, 101};
    stage_mig_frame_t hint = {
        .kind = STAGE_MIG_F_HINT, .at = now_at, .item = m1, .from = 1};
    stage_mig_recv(pl[2], 1, 1, &hint);
    drain(2);
    stage_mig_frame_t fl = sent(0, 0); /* through the old address */
    assert_int_equal(fl.item.kind, STAGE_MIG_FLUSH);
    assert_true(stage_mig_addr_eq(fl.to, BIRTH));
    stage_mig_item_t m2 = msg(2, 2, BIRTH);
    stage_mig_send(pl[2], 2, &m2, BIRTH);
    assert_int_equal(drain(2), 0); /* held */
    stage_mig_frame_t ans = {
        .kind = STAGE_MIG_F_FLUSHED, .at = now_at, .item = fl.item, .from = 1};
    stage_mig_recv(pl[2], 3, 1, &ans);
    drain(2);
    stage_mig_frame_t f = sent(0, 1);
    assert_int_equal(f.item.handle, 2);
    assert_true(stage_mig_addr_eq(f.to, now_at));
}

static void a_bounce_resolves_then_waits_for_the_old_address(void **s) {
    (void)s;
    stage_mig_item_t m1 = msg(2, 1, BIRTH);
    stage_mig_send(pl[2], 0, &m1, BIRTH);
    drain(2);
    stage_mig_frame_t b = {
        .kind = STAGE_MIG_F_BOUNCE, .to = BIRTH, .item = m1, .from = 0};
    stage_mig_recv(pl[2], 1, 0, &b);
    drain(2);
    stage_mig_frame_t fl = sent(0, 0); /* collects what else bounces */
    assert_int_equal(fl.item.kind, STAGE_MIG_FLUSH);
    stage_mig_item_t m2 = msg(2, 2, BIRTH);
    stage_mig_send(pl[2], 2, &m2, BIRTH);
    assert_int_equal(drain(2), 0);
    b.item = fl.item;
    stage_mig_recv(pl[2], 3, 0, &b);
    drain(2);
    assert_non_null(find(STAGE_MIG_FX_RESOLVE, 0));
    stage_mig_addr_t now_at = {1, 101};
    stage_mig_resolved(pl[2], 4, BIRTH, now_at);
    drain(2);
    stage_mig_frame_t after = sent(0, 1);
    assert_int_equal(after.item.kind, STAGE_MIG_FLUSH);
    assert_true(stage_mig_addr_eq(after.item.after, BIRTH));
    stage_mig_frame_t ans = {.kind = STAGE_MIG_F_FLUSHED,
                             .at = now_at,
                             .item = after.item,
                             .from = 1};
    stage_mig_recv(pl[2], 5, 1, &ans);
    drain(2);
    assert_int_equal(sent(0, 1).item.handle, 1); /* the bounced first */
    assert_int_equal(sent(1, 1).item.handle, 2);
}

static void flush_after_waits_for_the_retire_marker(void **state) {
    (void)state;
    stage_mig_addr_t at = move_0_to_1(NULL, 0);
    stage_mig_item_t fl = {.kind = STAGE_MIG_FLUSH,
                           .sender = 2,
                           .handle = 9,
                           .birth = BIRTH,
                           .after = BIRTH};
    stage_mig_frame_t f = {.kind = STAGE_MIG_F_ITEM, .to = at, .item = fl};
    stage_mig_recv(pl[1], 10, 2, &f);
    assert_int_equal(drain(1), 0); /* 0/5 may still forward: wait */
    assert_int_equal(stage_mig_next_timer(pl[0]), 2 + GRACE);
    stage_mig_tick(pl[0], 2 + GRACE);
    drain(0);
    stage_mig_frame_t ret = sent(0, 1);
    assert_int_equal(ret.kind, STAGE_MIG_F_RETIRE);
    stage_mig_stats_t st;
    stage_mig_stats(pl[0], &st);
    assert_int_equal(st.entries, 0); /* forgotten at the old place */
    stage_mig_recv(pl[1], 200, 0, &ret);
    drain(1);
    stage_mig_frame_t ans = sent(0, 2);
    assert_int_equal(ans.kind, STAGE_MIG_F_FLUSHED);
    assert_true(stage_mig_addr_eq(ans.at, at));
    stage_mig_stats(pl[1], &st);
    assert_int_equal(st.aliases, 0);
    /* the old address now bounces */
    stage_mig_frame_t late = {
        .kind = STAGE_MIG_F_ITEM, .to = BIRTH, .item = msg(2, 4, BIRTH)};
    stage_mig_recv(pl[0], 201, 2, &late);
    drain(0);
    assert_int_equal(sent(0, 2).kind, STAGE_MIG_F_BOUNCE);
}

static void a_hold_keeps_forwarding_past_the_grace(void **state) {
    (void)state;
    stage_mig_addr_t at = move_0_to_1(NULL, 0);
    stage_mig_hold(pl[0], 5); /* a future of the actor is still out here */
    stage_mig_tick(pl[0], 2 + 10 * GRACE);
    assert_int_equal(drain(0), 0);
    /* its reply, sent on as a message, still finds the actor */
    stage_mig_frame_t f = {
        .kind = STAGE_MIG_F_ITEM, .to = BIRTH, .item = msg(0, 7, BIRTH)};
    stage_mig_recv(pl[0], 2 + 10 * GRACE, 0, &f);
    drain(0);
    stage_mig_frame_t fwd = sent(0, 1);
    assert_true(stage_mig_addr_eq(fwd.to, BIRTH));
    stage_mig_release(pl[0], 3 + 10 * GRACE, 5);
    drain(0);
    assert_int_equal(sent(0, 1).kind, STAGE_MIG_F_RETIRE);
    (void)at;
}

static void an_idle_route_is_forgotten_after_a_flush(void **state) {
    (void)state;
    stage_mig_item_t m1 = msg(2, 1, BIRTH);
    stage_mig_send(pl[2], 0, &m1, (stage_mig_addr_t){1, 101}); /* a locator */
    drain(2);
    assert_int_equal(stage_mig_routes(pl[2]), 1);
    stage_mig_frame_t fl = sent(0, 0); /* the birth's pipe first */
    assert_int_equal(fl.item.kind, STAGE_MIG_FLUSH);
    stage_mig_frame_t ans = {.kind = STAGE_MIG_F_FLUSHED,
                             .at = {1, 101},
                             .item = fl.item,
                             .from = 1};
    stage_mig_recv(pl[2], 1, 1, &ans);
    drain(2);
    assert_int_equal(sent(0, 1).item.handle, 1);
    /* next_timer may come early (a lower bound): tick until it acts */
    uint64_t t = 0;
    nfx = 0;
    for (int i = 0; i < 3 && !find(STAGE_MIG_FX_SEND, 0); i++) {
        t = stage_mig_next_timer(pl[2]);
        assert_true(t > 1 && t != UINT64_MAX);
        stage_mig_tick(pl[2], t);
        drain(2);
    }
    stage_mig_frame_t idle = sent(0, 1);
    assert_int_equal(idle.item.kind, STAGE_MIG_FLUSH);
    ans.item = idle.item;
    stage_mig_recv(pl[2], t + 1, 1, &ans);
    drain(2);
    assert_int_equal(stage_mig_routes(pl[2]), 0);
    /* and the next send takes the fast path to the birth address */
    stage_mig_item_t m2 = msg(2, 2, BIRTH);
    stage_mig_send(pl[2], t + 2, &m2, BIRTH);
    drain(2);
    assert_true(stage_mig_addr_eq(sent(0, 0).to, BIRTH));
}

static void a_lost_actor_fails_every_message_typed(void **state) {
    (void)state;
    stage_mig_item_t m1 = msg(2, 1, BIRTH);
    stage_mig_send(pl[2], 0, &m1, BIRTH);
    drain(2);
    stage_mig_frame_t f = sent(0, 0);
    stage_mig_dead(pl[2], 1, (uint32_t[]){0}, 1);
    stage_mig_undelivered(pl[2], 1, 0, &f);
    drain(2);
    stage_mig_fx_t *fail = find(STAGE_MIG_FX_FAIL, 0);
    assert_non_null(fail); /* its fate is unknown: reported, not resent */
    assert_int_equal(fail->err, STAGE_ENODE_DOWN);
    stage_mig_item_t m2 = msg(2, 2, BIRTH);
    stage_mig_send(pl[2], 2, &m2, BIRTH);
    assert_int_equal(drain(2), 1); /* held while the store is asked */
    assert_non_null(find(STAGE_MIG_FX_RESOLVE, 0));
    uint64_t now = 3;
    for (int i = 0; i < 40 && !find(STAGE_MIG_FX_FAIL, 0); i++) {
        stage_mig_resolved(pl[2], now, BIRTH, BIRTH); /* still at 0: dead */
        drain(2);
        now = stage_mig_next_timer(pl[2]);
        if (find(STAGE_MIG_FX_FAIL, 0)) break;
        stage_mig_tick(pl[2], now);
        drain(2);
    }
    fail = find(STAGE_MIG_FX_FAIL, 0);
    assert_non_null(fail);
    assert_int_equal(fail->item.handle, 2);
    assert_int_equal(fail->err, STAGE_ENODE_DOWN);
    stage_mig_item_t m3 = msg(2, 3, BIRTH);
    stage_mig_send(pl[2], now, &m3, BIRTH);
    drain(2);
    assert_non_null(find(STAGE_MIG_FX_FAIL, 0)); /* at once from now on */
}

static void a_moved_sender_waits_for_a_drain_of_where_it_was(void **s) {
    (void)s;
    /* actor 0/5 moves to place 1; there it sends to an actor born at 2/9 */
    stage_mig_addr_t at = move_0_to_1(NULL, 0);
    const stage_mig_addr_t T = {2, 9};
    stage_mig_item_t m1 = msg(1, 1, T);
    m1.skey = at.key;
    stage_mig_send(pl[1], 10, &m1, T);
    drain(1);
    stage_mig_frame_t dr = sent(0, 0); /* a drain through place 0 */
    assert_int_equal(dr.kind, STAGE_MIG_F_DRAIN);
    assert_int_equal(find(STAGE_MIG_FX_SEND, 1) == NULL, 1); /* m1 held */
    stage_mig_item_t m2 = msg(1, 2, T);
    m2.skey = at.key;
    stage_mig_send(pl[1], 11, &m2, T);
    assert_int_equal(drain(1), 0);
    /* place 0 puts the token behind what the actor sent from there */
    stage_mig_recv(pl[0], 12, 1, &dr);
    drain(0);
    stage_mig_frame_t tok = sent(0, 2);
    assert_int_equal(tok.item.kind, STAGE_MIG_TOKEN);
    assert_true(stage_mig_addr_eq(tok.to, T));
    /* the target (it never moved) answers it to place 1 */
    stage_mig_frame_t ans = {
        .kind = STAGE_MIG_F_DRAINED, .item = tok.item, .from = 2};
    stage_mig_recv(pl[1], 20, 2, &ans);
    drain(1);
    assert_int_equal(sent(0, 2).item.handle, 1); /* then m1, m2 in order */
    assert_int_equal(sent(1, 2).item.handle, 2);
    stage_mig_item_t m3 = msg(1, 3, T);
    m3.skey = at.key;
    stage_mig_send(pl[1], 21, &m3, T);
    assert_int_equal(drain(1), 1); /* drained once per stay and target */
}

static void a_stopped_actor_fails_at_once(void **state) {
    (void)state;
    stage_mig_item_t m1 = msg(2, 1, BIRTH);
    stage_mig_send(pl[2], 0, &m1, BIRTH);
    drain(2);
    stage_mig_frame_t b = {
        .kind = STAGE_MIG_F_BOUNCE, .to = BIRTH, .item = m1, .from = 0};
    stage_mig_recv(pl[2], 1, 0, &b); /* it is not there any more */
    drain(2);
    b.item = sent(0, 0).item;
    stage_mig_recv(pl[2], 2, 0, &b);
    drain(2);
    assert_non_null(find(STAGE_MIG_FX_RESOLVE, 0));
    stage_mig_resolved_gone(pl[2], 3, BIRTH, STAGE_EACTOR_NOT_FOUND);
    drain(2);
    stage_mig_fx_t *fail = find(STAGE_MIG_FX_FAIL, 0);
    assert_non_null(fail); /* the bounced message, known undelivered */
    assert_int_equal(fail->item.handle, 1);
    assert_int_equal(fail->err, STAGE_EACTOR_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(fast_path_is_one_send_and_no_route),
        T(move_runs_only_on_commit_and_keeps_the_mailbox),
        T(destination_dying_before_ready_restores),
        T(source_dying_while_prepared_commits_at_destination),
        T(a_hint_switches_address_only_through_a_flush),
        T(a_bounce_resolves_then_waits_for_the_old_address),
        T(flush_after_waits_for_the_retire_marker),
        T(a_hold_keeps_forwarding_past_the_grace),
        T(an_idle_route_is_forgotten_after_a_flush),
        T(a_lost_actor_fails_every_message_typed),
        T(a_moved_sender_waits_for_a_drain_of_where_it_was),
        T(a_stopped_actor_fails_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
