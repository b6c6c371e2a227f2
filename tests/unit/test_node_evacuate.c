/*
** tests/unit/test_node_evacuate.c: a node's drain plan (src/node/
** evacuate.c) driven with virtual time — actors spread by the nodes'
** sizes, at most `inflight` moves at once, a busy actor asked again later,
** a dead node's actors sent elsewhere, an actor that cannot move staying
** with its reason, and DONE once, when every actor is accounted for.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "node/evacuate.h"
#include "stage/errors.h"

#define MAXACTORS 20000

/* What the driver saw: each actor's move under way (its node, or ""), how
** often each ended which way, and the DONE and PROGRESS effects. */
typedef struct world {
    stage_evac_t *e;
    char at[MAXACTORS + 1][STAGE_ADDR_MAX]; /* "" if none under way */
    int stayed_err[MAXACTORS + 1];
    char stayed_why[MAXACTORS + 1][STAGE_EVAC_WHY_MAX];
    int moves, inflight, max_inflight, stayed, done, progress;
} world_t;

/* Read the effects into w. */
static void collect(world_t *w) {
    size_t n;
    const stage_evac_fx_t *fx = stage_evac_effects(w->e, &n);
    for (size_t i = 0; i < n; i++) {
        const stage_evac_fx_t *f = &fx[i];
        switch (f->kind) {
        case STAGE_EVAC_FX_MOVE:
            assert_true(f->key >= 1 && f->key <= MAXACTORS);
            assert_string_equal(w->at[f->key], ""); /* one at a time */
            snprintf(w->at[f->key], STAGE_ADDR_MAX, "%s", f->addr);
            w->moves++;
            if (++w->inflight > w->max_inflight) w->max_inflight = w->inflight;
            break;
        case STAGE_EVAC_FX_STAYED:
            assert_int_equal(w->stayed_err[f->key], 0); /* once */
            w->stayed_err[f->key] = f->err;
            snprintf(w->stayed_why[f->key], STAGE_EVAC_WHY_MAX, "%s", f->why);
            w->stayed++;
            break;
        case STAGE_EVAC_FX_DONE:
            w->done++;
            break;
        case STAGE_EVAC_FX_PROGRESS:
            w->progress++;
            break;
        default:
            fail_msg("effect of kind %d", f->kind);
        }
    }
}

static world_t *world(const stage_evac_config_t *cfg) {
    static world_t w;
    memset(&w, 0, sizeof w);
    w.e = stage_evac_new(cfg);
    assert_non_null(w.e);
    return &w;
}

/* The move of key ended with rc, saying why (NULL: nothing). */
static void result_why(world_t *w, uint64_t now, uint64_t key, int rc,
                       const char *why) {
    assert_string_not_equal(w->at[key], "");
    w->at[key][0] = 0;
    w->inflight--;
    stage_evac_result(w->e, now, key, rc, why);
    collect(w);
}

/* The move of key ended with rc. */
static void result(world_t *w, uint64_t now, uint64_t key, int rc) {
    result_why(w, now, key, rc, NULL);
}

/* End every move under way to addr (NULL: any) with rc — not those the
** results start; how many. */
static int answer_all(world_t *w, uint64_t now, const char *addr, int rc) {
    static uint64_t keys[MAXACTORS];
    int n = 0;
    for (uint64_t k = 1; k <= MAXACTORS; k++)
        if (w->at[k][0] && (!addr || !strcmp(w->at[k], addr))) keys[n++] = k;
    for (int i = 0; i < n; i++)
        result(w, now, keys[i], rc);
    return n;
}

static void spreads_by_size_and_keeps_to_inflight(void **state) {
    (void)state;
    stage_evac_config_t cfg;
    stage_evac_config_init(&cfg);
    cfg.inflight = 8;
    world_t *w = world(&cfg);
    /* b has 3 times a's cores; c runs many actors already */
    assert_int_equal(stage_evac_node(w->e, "a:1", 2, 0, 0), 0);
    assert_int_equal(stage_evac_node(w->e, "b:1", 6, 0, 0), 0);
    assert_int_equal(stage_evac_node(w->e, "c:1", 2, 5000, 0), 0);
    for (uint64_t k = 1; k <= 1000; k++)
        assert_int_equal(stage_evac_add(w->e, k), 0);
    assert_int_equal(stage_evac_add(w->e, 7), STAGE_EEXISTS);
    assert_int_equal(stage_evac_add(w->e, 0), STAGE_EINVAL);
    stage_evac_start(w->e, 0);
    collect(w);
    int to_a = 0, to_b = 0, to_c = 0;
    for (uint64_t now = 1; w->moves < 1000; now++) {
        assert_true(w->inflight <= 8);
        assert_true(now < 10000);
        for (uint64_t k = 1; k <= 1000; k++) {
            if (!w->at[k][0]) continue;
            to_a += !strcmp(w->at[k], "a:1");
            to_b += !strcmp(w->at[k], "b:1");
            to_c += !strcmp(w->at[k], "c:1");
            result(w, now, k, 0);
        }
    }
    answer_all(w, 10000, NULL, 0);
    assert_int_equal(w->max_inflight, 8);
    assert_int_equal(to_a + to_b + to_c, 1000);
    assert_int_equal(to_c, 0); /* 2,500 per core already */
    /* per core alike: b gets three times what a gets, give or take one */
    assert_true(to_b >= 3 * to_a - 3 && to_b <= 3 * to_a + 3);
    assert_int_equal(w->done, 1);
    assert_true(stage_evac_done(w->e));
    stage_evac_stats_t st;
    stage_evac_stats(w->e, &st);
    assert_int_equal(st.moved, 1000);
    assert_int_equal(st.total, 1000);
    assert_int_equal(st.inflight, 0);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(stage_evac_next_timer(w->e), UINT64_MAX);
    stage_evac_destroy(&w->e);
    assert_null(w->e);
}

static void a_busy_actor_is_asked_again_later_at_the_same_node(void **state) {
    (void)state;
    stage_evac_config_t cfg;
    stage_evac_config_init(&cfg);
    cfg.retry_ms = 20;
    world_t *w = world(&cfg);
    stage_evac_node(w->e, "a:1", 1, 0, 0);
    stage_evac_node(w->e, "b:1", 1, 0, 0);
    stage_evac_add(w->e, 1);
    stage_evac_start(w->e, 100);
    collect(w);
    char first[STAGE_ADDR_MAX];
    memcpy(first, w->at[1], sizeof first);
    for (int i = 0; i < 10; i++) { /* busy ten times: no try is counted */
        result(w, 100, 1, STAGE_EBUSY);
        assert_int_equal(w->inflight, 0);
        assert_int_equal(stage_evac_next_timer(w->e), 120);
        stage_evac_tick(w->e, 119);
        collect(w);
        assert_int_equal(w->inflight, 0); /* not before its time */
        stage_evac_tick(w->e, 120);
        collect(w);
        assert_int_equal(w->inflight, 1);
        assert_string_equal(w->at[1], first);
    }
    result(w, 120, 1, 0);
    assert_int_equal(w->done, 1);
    assert_int_equal(w->stayed, 0);
    stage_evac_destroy(&w->e);
}

static void a_dead_nodes_actors_go_elsewhere(void **state) {
    (void)state;
    world_t *w = world(NULL);
    stage_evac_node(w->e, "a:1", 1, 0, 0);
    stage_evac_node(w->e, "b:1", 1, 0, 0);
    for (uint64_t k = 1; k <= 20; k++)
        stage_evac_add(w->e, k);
    stage_evac_start(w->e, 0);
    collect(w);
    assert_int_equal(w->inflight, 20);
    /* a dies: its moves fail NodeDown and go to b; a is chosen no more */
    stage_evac_node_gone(w->e, 1, "a:1");
    int failed = answer_all(w, 1, "a:1", STAGE_ENODE_DOWN);
    assert_int_equal(failed, 10);
    for (uint64_t k = 1; k <= 20; k++)
        assert_string_equal(w->at[k], "b:1");
    answer_all(w, 2, NULL, 0);
    assert_int_equal(w->done, 1);
    assert_int_equal(w->stayed, 0);
    stage_evac_stats_t st;
    stage_evac_stats(w->e, &st);
    assert_int_equal(st.moved, 20);
    assert_int_equal(st.nodes, 1);
    stage_evac_destroy(&w->e);
}

static void with_no_node_left_actors_stay_saying_why(void **state) {
    (void)state;
    stage_evac_config_t cfg;
    stage_evac_config_init(&cfg);
    cfg.tries = 2;
    world_t *w = world(&cfg);
    stage_evac_node(w->e, "a:1", 1, 0, 0);
    stage_evac_node(w->e, "b:1", 1, 0, 0);
    stage_evac_add(w->e, 1);
    stage_evac_add(w->e, 2);
    stage_evac_start(w->e, 0);
    collect(w);
    assert_string_equal(w->at[1], "a:1");
    assert_string_equal(w->at[2], "b:1");
    /* a unreachable: 1 goes to b; b stopping: 2 has nowhere to go */
    result(w, 1, 1, STAGE_EUNREACHABLE);
    assert_string_equal(w->at[1], "b:1");
    result(w, 1, 2, STAGE_ESTOPPED);
    assert_int_equal(w->stayed, 1);
    assert_int_equal(w->stayed_err[2], STAGE_ENODE_DOWN);
    assert_int_equal(w->done, 0);
    /* 1's move to b fails too: its second try, it stays */
    result(w, 2, 1, STAGE_ESTOPPED);
    assert_int_equal(w->stayed_err[1], STAGE_ESTOPPED);
    assert_int_equal(w->done, 1);
    stage_evac_stats_t st;
    stage_evac_stats(w->e, &st);
    assert_int_equal(st.stayed, 2);
    assert_int_equal(st.nodes, 0);
    stage_evac_destroy(&w->e);

    /* no node at all: every actor stays at the start, DONE at once */
    w = world(NULL);
    stage_evac_add(w->e, 5);
    stage_evac_start(w->e, 0);
    collect(w);
    assert_int_equal(w->stayed_err[5], STAGE_ENODE_DOWN);
    assert_int_equal(w->done, 1);
    stage_evac_destroy(&w->e);
}

static void timeouts_try_another_node_then_stay(void **state) {
    (void)state;
    stage_evac_config_t cfg;
    stage_evac_config_init(&cfg);
    cfg.tries = 3;
    world_t *w = world(&cfg);
    stage_evac_node(w->e, "a:1", 1, 0, 0);
    stage_evac_node(w->e, "b:1", 1, 0, 0);
    stage_evac_add(w->e, 1);
    stage_evac_start(w->e, 0);
    collect(w);
    char first[STAGE_ADDR_MAX];
    memcpy(first, w->at[1], sizeof first);
    result(w, 5000, 1, STAGE_ETIMEOUT);
    assert_string_not_equal(w->at[1], first); /* the other one */
    result(w, 10000, 1, STAGE_ETIMEOUT);
    assert_string_equal(w->at[1], first); /* timeouts do not make it gone */
    result(w, 15000, 1, STAGE_ETIMEOUT);
    assert_int_equal(w->stayed_err[1], STAGE_ETIMEOUT);
    assert_int_equal(w->done, 1);
    stage_evac_destroy(&w->e);
}

static void what_cannot_move_stays_and_stopped_ones_are_gone(void **state) {
    (void)state;
    world_t *w = world(NULL);
    stage_evac_node(w->e, "a:1", 4, 0, 0);
    for (uint64_t k = 1; k <= 4; k++)
        stage_evac_add(w->e, k);
    stage_evac_start(w->e, 0);
    collect(w);
    result_why(w, 1, 1, STAGE_EENCODE,
               "cannot move actor 'x': self.f is a function");
    result(w, 1, 2, STAGE_ETOOBIG);
    result(w, 1, 3, STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(w->done, 0);
    /* one spawned meanwhile joins the drain */
    assert_int_equal(stage_evac_add(w->e, 9), 0);
    stage_evac_tick(w->e, 2);
    collect(w);
    assert_string_equal(w->at[9], "a:1");
    result(w, 2, 4, 0);
    assert_int_equal(w->done, 0);
    result(w, 3, 9, 0);
    assert_int_equal(w->done, 1);
    assert_int_equal(w->stayed_err[1], STAGE_EENCODE);
    /* a STAYED says it in the refusal's own words, when there were some */
    assert_string_equal(w->stayed_why[1],
                        "cannot move actor 'x': self.f is a function");
    assert_int_equal(w->stayed_err[2], STAGE_ETOOBIG);
    assert_string_equal(w->stayed_why[2], "");
    assert_int_equal(w->stayed_err[3], 0);
    stage_evac_stats_t st;
    stage_evac_stats(w->e, &st);
    assert_int_equal(st.moved, 2);
    assert_int_equal(st.gone, 1);
    assert_int_equal(st.stayed, 2);
    /* a result for no move under way is ignored */
    stage_evac_result(w->e, 4, 9, STAGE_EBUSY, NULL);
    stage_evac_result(w->e, 4, 12345, 0, NULL);
    size_t n;
    stage_evac_effects(w->e, &n);
    assert_int_equal(n, 0);
    stage_evac_destroy(&w->e);
}

static void progress_comes_at_most_once_a_period(void **state) {
    (void)state;
    stage_evac_config_t cfg;
    stage_evac_config_init(&cfg);
    cfg.progress_ms = 1000;
    cfg.inflight = 1;
    world_t *w = world(&cfg);
    stage_evac_node(w->e, "a:1", 1, 0, 0);
    for (uint64_t k = 1; k <= 50; k++)
        stage_evac_add(w->e, k);
    stage_evac_start(w->e, 0);
    collect(w);
    for (uint64_t now = 100; !w->done; now += 100) { /* a move per 100 ms */
        answer_all(w, now, NULL, 0);
        stage_evac_tick(w->e, now);
        collect(w);
    }
    /* 5 s of moves: a line a second, not one a move */
    if (w->progress < 4 || w->progress > 5)
        fail_msg("%d progress effects in 5 s", w->progress);
    stage_evac_destroy(&w->e);
}

static void a_nodes_figures_can_be_refreshed(void **state) {
    (void)state;
    stage_evac_config_t cfg;
    stage_evac_config_init(&cfg);
    cfg.inflight = 1;
    world_t *w = world(&cfg);
    stage_evac_node(w->e, "a:1", 1, 0, 0);
    stage_evac_node(w->e, "b:1", 1, 10, 0);
    assert_int_equal(stage_evac_node(w->e, "", 1, 0, 0), STAGE_EINVAL);
    char long_addr[STAGE_ADDR_MAX + 8];
    memset(long_addr, 'x', sizeof long_addr - 1);
    long_addr[sizeof long_addr - 1] = 0;
    assert_int_equal(stage_evac_node(w->e, long_addr, 1, 0, 0), STAGE_EINVAL);
    stage_evac_add(w->e, 1);
    stage_evac_add(w->e, 2);
    stage_evac_start(w->e, 0);
    collect(w);
    assert_string_equal(w->at[1], "a:1");
    /* a's entry now says it is full: the next goes to b */
    stage_evac_node(w->e, "a:1", 1, 100, 0);
    result(w, 1, 1, 0);
    assert_string_equal(w->at[2], "b:1");
    result(w, 2, 2, 0);
    assert_int_equal(w->done, 1);
    stage_evac_destroy(&w->e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spreads_by_size_and_keeps_to_inflight),
        cmocka_unit_test(a_busy_actor_is_asked_again_later_at_the_same_node),
        cmocka_unit_test(a_dead_nodes_actors_go_elsewhere),
        cmocka_unit_test(with_no_node_left_actors_stay_saying_why),
        cmocka_unit_test(timeouts_try_another_node_then_stay),
        cmocka_unit_test(what_cannot_move_stays_and_stopped_ones_are_gone),
        cmocka_unit_test(progress_comes_at_most_once_a_period),
        cmocka_unit_test(a_nodes_figures_can_be_refreshed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
