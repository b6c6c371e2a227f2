/*
** tests/unit/test_node_holdings.c: what a node holds in the DHT and the
** leave (src/node/holdings.c), over real managers (src/dht) wired by hand
** with virtual time: a claimed name is released when its actor stops, and
** is gone from the directory and the cache; a type is withdrawn after two
** idle sweeps, not before, and not while a birth holds it; the leave
** releases and withdraws everything, waits for the confirmations (or
** leaves at once when alone, or nothing is to be confirmed) and happens
** once.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dht/dht.h"
#include "node/holdings.h"
#include "node/names.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define A "10.0.0.1:7400"
#define B "10.0.0.2:7400"

/* Two managers, A and B, with A's holdings; messages go between them at
** once; the requests' completions are kept. */
typedef struct world {
    stage_dht_t *dht[2];
    uint64_t now, next_id;
    stage__names_t names;
    stage__hold_t hold;
    size_t actors;      /* the count hook's answer */
    bool retire;        /* the retire hook's answer */
    uint64_t done[256]; /* requests completed */
    int status[256];
    int ndone;
    int byes_confirmed; /* bye_done said "the last" */
    uint64_t byes[256];
    int nbyes;
} world_t;

static size_t count(void *ud, void *ty) {
    (void)ty;
    return ((world_t *)ud)->actors;
}

static bool retire(void *ud, void *ty) {
    (void)ty;
    return ((world_t *)ud)->retire;
}

/* Run both managers for 2 s of virtual time, messages delivered at once,
** noting A's completions (and telling the holdings of them, as the
** driver's drain does). */
static void settle(world_t *w) {
    uint64_t until = w->now + 2000;
    /* a manager's effects stay until the next call into it: read once */
    bool fresh[2] = {true, true};
    while (w->now < until) {
        bool any = true;
        for (int rounds = 0; any; rounds++) {
            assert_true(rounds < 1000); /* messages end within a moment */
            any = false;
            for (int k = 0; k < 2; k++) {
                if (!fresh[k]) continue;
                fresh[k] = false;
                size_t n;
                const stage_dht_effect_t *fx = stage_dht_effects(w->dht[k], &n);
                /* encoded first: a recv starts the receiver's new list */
                stage_pack_t bufs[256];
                int dst[256], nb = 0;
                uint64_t self = stage_dht_self(w->dht[k]).id;
                for (size_t i = 0; i < n; i++) {
                    if (fx[i].kind == STAGE_DHT_FX_SEND) {
                        assert_true(nb < 256);
                        bufs[nb] = (stage_pack_t)STAGE_PACK_INIT;
                        assert_int_equal(
                            stage_dht_msg_encode(fx[i].msg, self, &bufs[nb]),
                            0);
                        dst[nb++] = !strcmp(fx[i].to_addr, A) ? 0 : 1;
                    } else if (fx[i].kind == STAGE_DHT_FX_DONE && k == 0) {
                        w->done[w->ndone % 256] = fx[i].req;
                        w->status[w->ndone++ % 256] = fx[i].status;
                        if (stage__hold_bye_done(&w->hold, fx[i].req))
                            w->byes_confirmed++;
                    }
                }
                for (int i = 0; i < nb; i++) {
                    stage_dht_msg_t m;
                    assert_int_equal(stage_dht_msg_decode(&m, bufs[i].data,
                                                          bufs[i].len,
                                                          k ? B : A, self),
                                     0);
                    stage_dht_recv(w->dht[dst[i]], w->now, &m);
                    fresh[dst[i]] = true;
                    stage_dht_msg_clear(&m);
                    stage_pack_free(&bufs[i]);
                    any = true;
                }
            }
        }
        w->now += 5;
        stage_dht_tick(w->dht[0], w->now);
        stage_dht_tick(w->dht[1], w->now);
        fresh[0] = fresh[1] = true;
    }
}

static stage_dht_t *manager(const char *addr, uint64_t id, uint64_t now) {
    stage_dht_config_t c;
    stage_dht_config_init(&c);
    c.id = id;
    c.address = addr;
    c.seed = id;
    c.replicas = 1;
    c.period_ms = 100;
    stage_dht_t *d;
    assert_int_equal(stage_dht_new(&d, &c, now), 0);
    return d;
}

static int setup_alone(void **state) {
    world_t *w = calloc(1, sizeof *w);
    w->now = 1000;
    w->dht[0] = manager(A, 0x1000000000000000ull, w->now);
    w->dht[1] = manager(B, 0x9000000000000000ull, w->now);
    stage__names_init(&w->names, A, 7);
    stage__hold_hooks_t hooks = {w, count, retire, NULL};
    stage__hold_init(&w->hold, w->dht[0], &w->next_id, &w->names, A, 7, &hooks);
    w->retire = true;
    *state = w;
    return 0;
}

/* A and B in one ring. */
static int setup_pair(void **state) {
    setup_alone(state);
    world_t *w = *state;
    assert_int_equal(stage_dht_join(w->dht[1], w->now, A, 0), 0);
    settle(w);
    assert_true(stage_dht_successor(w->dht[0]).id != 0);
    return 0;
}

static int teardown(void **state) {
    world_t *w = *state;
    stage__hold_close(&w->hold);
    stage__names_close(&w->names);
    stage_dht_destroy(&w->dht[0]);
    stage_dht_destroy(&w->dht[1]);
    free(w);
    return 0;
}

static stage_id_t actor(uint64_t serial) {
    stage_id_t id = {.incarnation = 7, .serial = serial};
    strcpy(id.node, A);
    strcpy(id.type, "Svc");
    return id;
}

/* Ask A's manager for name: 0 found, or the request's status. */
static int find(world_t *w, const char *name) {
    uint64_t req = ++w->next_id;
    assert_int_equal(stage_dht_name_find(w->dht[0], w->now, req, name), 0);
    settle(w);
    for (int i = w->ndone - 1; i >= 0 && i >= w->ndone - 256; i--)
        if (w->done[i % 256] == req) return w->status[i % 256];
    fail_msg("no answer to the lookup of '%s'", name);
    return -1;
}

static void claim(world_t *w, const char *name, uint64_t serial) {
    stage_id_t id = actor(serial);
    uint64_t req = ++w->next_id;
    assert_int_equal(stage_dht_name_claim(w->dht[0], w->now, req, name, &id),
                     0);
    settle(w);
    assert_int_equal(stage__hold_claimed(&w->hold, name, serial), 0);
}

static void a_name_goes_when_its_actor_stops(void **state) {
    world_t *w = *state;
    claim(w, "one", 5);
    claim(w, "two", 5);
    claim(w, "other", 6);
    assert_int_equal(stage__hold_claims(&w->hold), 3);
    assert_int_equal(find(w, "one"), 0);
    /* the cache has it too; the release drops it */
    char buf[200];
    stage_pack_t p = {buf, 0, sizeof buf, 0};
    stage_id_t id = actor(5);
    stage_pack_id(&p, &id);
    assert_int_equal(stage__names_put(&w->names, "one", p.data, p.len, 0), 0);
    assert_int_equal(stage__hold_release(&w->hold, 5, w->now), 2);
    settle(w);
    assert_int_equal(stage__hold_claims(&w->hold), 1);
    assert_int_equal(find(w, "one"), STAGE_ENAME_NOT_FOUND);
    assert_int_equal(find(w, "two"), STAGE_ENAME_NOT_FOUND);
    assert_int_equal(find(w, "other"), 0);
    assert_int_equal(stage__names_count(&w->names), 0);
    /* another actor's stop releases nothing */
    assert_int_equal(stage__hold_release(&w->hold, 99, w->now), 0);
    assert_int_equal(stage__hold_release(&w->hold, 0, w->now), 1);
    settle(w);
    assert_int_equal(find(w, "other"), STAGE_ENAME_NOT_FOUND);
}

/* The types store's items for type at A's manager: how many. */
static int type_items(world_t *w, const char *type) {
    uint64_t req = ++w->next_id;
    assert_int_equal(stage_dht_type_find(w->dht[0], w->now, req, type), 0);
    settle(w);
    for (int i = w->ndone - 1; i >= 0; i--)
        if (w->done[i % 256] == req) return w->status[i % 256] ? 0 : 1;
    return -1;
}

static void a_type_is_withdrawn_after_two_idle_sweeps(void **state) {
    world_t *w = *state;
    int ty;
    stage__hold_announce(&w->hold, &ty, "Svc", "", w->now);
    stage__hold_announce(&w->hold, &ty, "Svc", "", w->now); /* listed once */
    settle(w);
    assert_int_equal(stage__hold_types(&w->hold), 1);
    assert_int_equal(type_items(w, "Svc"), 1);
    w->actors = 0;
    assert_int_equal(stage__hold_sweep(&w->hold, w->now), 0); /* one idle */
    w->actors = 3;
    assert_int_equal(stage__hold_sweep(&w->hold, w->now), 0); /* reset */
    w->actors = 0;
    assert_int_equal(stage__hold_sweep(&w->hold, w->now), 0);
    w->retire = false; /* a birth holds it */
    assert_int_equal(stage__hold_sweep(&w->hold, w->now), 0);
    assert_int_equal(stage__hold_types(&w->hold), 1);
    w->retire = true;
    assert_int_equal(stage__hold_sweep(&w->hold, w->now), 1);
    settle(w);
    assert_int_equal(stage__hold_types(&w->hold), 0);
    assert_int_equal(type_items(w, "Svc"), 0);
}

static void alone_a_node_leaves_at_once(void **state) {
    world_t *w = *state;
    claim(w, "one", 5);
    assert_int_equal(stage__hold_leave(&w->hold, w->now),
                     STAGE__HOLD_LEAVE_NOW);
    assert_int_equal(stage__hold_leave(&w->hold, w->now),
                     STAGE__HOLD_LEFT_ALREADY);
    size_t unconfirmed = 99;
    assert_true(stage__hold_ring_left(&w->hold, &unconfirmed));
    assert_int_equal(unconfirmed, 0);
    assert_false(stage__hold_ring_left(&w->hold, &unconfirmed));
}

static void the_leave_waits_for_its_removals(void **state) {
    world_t *w = *state;
    int ty;
    claim(w, "one", 5);
    claim(w, "two", 6);
    stage__hold_announce(&w->hold, &ty, "Svc", "", w->now);
    settle(w);
    int before = w->byes_confirmed;
    uint64_t t = w->now;
    assert_int_equal(stage__hold_leave(&w->hold, t), STAGE__HOLD_LEAVE_WAIT);
    assert_int_equal(w->hold.leave_by, t + STAGE__HOLD_LEAVE_WAIT_MS);
    assert_int_equal(stage__hold_claims(&w->hold), 0);
    assert_int_equal(stage__hold_types(&w->hold), 0);
    settle(w); /* three removals confirmed: the last says so, once */
    assert_int_equal(w->byes_confirmed, before + 1);
    size_t unconfirmed = 99;
    assert_true(stage__hold_ring_left(&w->hold, &unconfirmed));
    assert_int_equal(unconfirmed, 0);
    assert_int_equal(find(w, "one"), STAGE_ENAME_NOT_FOUND);
    assert_int_equal(type_items(w, "Svc"), 0);
}

static void a_leave_with_nothing_held_goes_at_once(void **state) {
    world_t *w = *state;
    assert_int_equal(stage__hold_leave(&w->hold, w->now),
                     STAGE__HOLD_LEAVE_NOW);
}

/* The wait runs out: the removals not confirmed are counted. */
static void a_leave_past_its_wait_counts_the_unconfirmed(void **state) {
    world_t *w = *state;
    claim(w, "one", 5);
    assert_int_equal(stage__hold_leave(&w->hold, w->now),
                     STAGE__HOLD_LEAVE_WAIT);
    /* no delivery: the driver's timer fires at leave_by */
    size_t unconfirmed = 0;
    assert_true(stage__hold_ring_left(&w->hold, &unconfirmed));
    assert_int_equal(unconfirmed, 1);
    settle(w); /* a late confirmation asks for no second leave */
    assert_int_equal(w->byes_confirmed, 0);
}

/* A death may take the supertype link of one of this node's types with it
** (the item is shared, owned by its last writer): relink puts the links
** of its types again, those with a supertype only, and none once it
** leaves. */
static void supertype_links_are_put_again(void **state) {
    world_t *w = *state;
    int sub, plain;
    stage__hold_announce(&w->hold, &sub, "Sub", "Base", w->now);
    stage__hold_announce(&w->hold, &plain, "Plain", "", w->now);
    settle(w);
    assert_int_equal(type_items(w, "Base"), 1);
    assert_int_equal(stage__hold_relink(&w->hold, w->now), 1);
    settle(w);
    assert_int_equal(type_items(w, "Base"), 1);
    assert_int_equal(type_items(w, "Sub"), 1);
    stage__hold_leave(&w->hold, w->now);
    assert_int_equal(stage__hold_relink(&w->hold, w->now), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_name_goes_when_its_actor_stops,
                                        setup_pair, teardown),
        cmocka_unit_test_setup_teardown(
            a_type_is_withdrawn_after_two_idle_sweeps, setup_pair, teardown),
        cmocka_unit_test_setup_teardown(alone_a_node_leaves_at_once,
                                        setup_alone, teardown),
        cmocka_unit_test_setup_teardown(the_leave_waits_for_its_removals,
                                        setup_pair, teardown),
        cmocka_unit_test_setup_teardown(a_leave_with_nothing_held_goes_at_once,
                                        setup_pair, teardown),
        cmocka_unit_test_setup_teardown(
            a_leave_past_its_wait_counts_the_unconfirmed, setup_pair, teardown),
        cmocka_unit_test_setup_teardown(supertype_links_are_put_again,
                                        setup_pair, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
