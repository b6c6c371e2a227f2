/*
** tests/unit/test_node_relocate.c: messages that follow a moved actor
** (src/node/relocate.c) driven with virtual time — held frames go to the
** place the store names in the order they came, across lookups, retries
** and hops; chains through nodes that left are followed up to the limit,
** and a loop ends; "nowhere" is believed for a second; at most 64 lookups
** and 64 puts at once; every failure says its status and why; store
** entries are put, put again, replaced and removed; hostile answers.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "node/relocate.h"
#include "stage/errors.h"

#define MAXH 512

/* What the driver saw, and what it knows of nodes. */
typedef struct world {
    stage_reloc_t *r;
    uint64_t next_id;
    /* gone nodes: address -> STAGE_RELOC_LEFT / _DEAD */
    char gone_addr[32][STAGE_ADDR_MAX];
    int gone_kind[32], ngone;
    /* FINDs made, in order, and which are unanswered */
    uint64_t find_req[MAXH];
    stage_id_t find_id[MAXH];
    int nfinds;
    /* per handle: SENDs (in order), FAILs */
    uint64_t sent[MAXH];
    stage_id_t sent_to[MAXH];
    int nsent;
    int fail_status[MAXH + 1];
    char fail_why[MAXH + 1][STAGE_RELOC_WHY_MAX];
    stage_id_t fail_id[MAXH + 1];
    int nfailed;
    uint64_t put_req[MAXH];
    stage_id_t put_old[MAXH], put_cur[MAXH];
    int nputs;
    stage_id_t removed[MAXH];
    int nremoved;
    uint64_t recorded[MAXH];
    int nrecorded;
} world_t;

static world_t W;

/* The machine's gone hook: the world's table of nodes. */
static int gone(void *ud, const stage_id_t *id, const char **why) {
    world_t *w = ud;
    for (int i = 0; i < w->ngone; i++)
        if (!strcmp(w->gone_addr[i], id->node)) {
            *why = "it was declared dead (no heartbeat for 3 s)";
            return w->gone_kind[i];
        }
    return STAGE_RELOC_LIVE;
}

/* Node addr left or died (kind). */
static void set_gone(world_t *w, const char *addr, int kind) {
    snprintf(w->gone_addr[w->ngone], STAGE_ADDR_MAX, "%s", addr);
    w->gone_kind[w->ngone++] = kind;
}

/* An actor id at node. */
static stage_id_t id_at(const char *node, uint64_t serial) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", node);
    id.incarnation = 7;
    id.serial = serial;
    snprintf(id.type, sizeof id.type, "Echo");
    return id;
}

/* A fresh world and machine (cfg NULL: the defaults). */
static world_t *setup(stage_reloc_config_t *cfg) {
    memset(&W, 0, sizeof W);
    stage_reloc_config_t c;
    if (!cfg) {
        stage_reloc_config_init(&c);
        cfg = &c;
    }
    cfg->next_id = &W.next_id;
    cfg->gone = gone;
    cfg->ud = &W;
    W.r = stage_reloc_new(cfg);
    assert_non_null(W.r);
    return &W;
}

/* Read the effects into w. */
static void collect(world_t *w) {
    size_t n;
    const stage_reloc_fx_t *fx = stage_reloc_effects(w->r, &n);
    for (size_t i = 0; i < n; i++) {
        const stage_reloc_fx_t *x = &fx[i];
        switch (x->kind) {
        case STAGE_RELOC_FX_FIND:
            w->find_req[w->nfinds] = x->req;
            w->find_id[w->nfinds++] = x->id;
            break;
        case STAGE_RELOC_FX_SEND:
            assert_int_equal(w->fail_status[x->handle], 0);
            w->sent_to[w->nsent] = x->id;
            w->sent[w->nsent++] = x->handle;
            break;
        case STAGE_RELOC_FX_FAIL:
            assert_int_equal(w->fail_status[x->handle], 0); /* once */
            assert_true(x->status < 0);
            assert_true(x->why[0]);
            w->fail_status[x->handle] = x->status;
            memcpy(w->fail_why[x->handle], x->why, sizeof x->why);
            w->fail_id[x->handle] = x->id;
            w->nfailed++;
            break;
        case STAGE_RELOC_FX_PUT:
            w->put_req[w->nputs] = x->req;
            w->put_old[w->nputs] = x->id;
            w->put_cur[w->nputs++] = x->cur;
            break;
        case STAGE_RELOC_FX_REMOVE:
            w->removed[w->nremoved++] = x->id;
            break;
        case STAGE_RELOC_FX_RECORDED:
            w->recorded[w->nrecorded++] = x->tag;
            break;
        default:
            fail_msg("effect of kind %d", x->kind);
        }
    }
}

/* Give the machine frame `handle` for old, and read the effects. */
static void frame(world_t *w, uint64_t now, const stage_id_t *old,
                  uint64_t handle, const char *dead) {
    assert_int_equal(stage_reloc_frame(w->r, now, old, handle, dead), 0);
    collect(w);
}

/* Answer the find-th FIND, and read the effects. */
static void answer(world_t *w, uint64_t now, int find, int status,
                   const stage_id_t *cur) {
    assert_true(stage_reloc_answer(w->r, now, w->find_req[find], status, cur));
    collect(w);
}

/* Whether a and b name the same actor. */
static bool same_id(const stage_id_t *a, const stage_id_t *b) {
    return !strcmp(a->node, b->node) && a->serial == b->serial &&
           a->incarnation == b->incarnation;
}

static void order_is_kept_per_target_across_a_lookup(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9);
    for (uint64_t h = 1; h <= 5; h++)
        frame(w, 0, &a, h, NULL);
    assert_int_equal(w->nfinds, 1); /* one lookup for the five */
    assert_true(same_id(&w->find_id[0], &a));
    assert_int_equal(w->nsent, 0);
    answer(w, 10, 0, 0, &b);
    assert_int_equal(w->nsent, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(w->sent[i], (uint64_t)i + 1);
        assert_true(same_id(&w->sent_to[i], &b));
    }
    frame(w, 20, &a, 6, NULL); /* the answer is remembered */
    assert_int_equal(w->nfinds, 1);
    assert_int_equal(w->sent[5], 6);
    assert_int_equal(w->nfailed, 0);
    stage_reloc_destroy(&w->r);
    assert_null(w->r);
}

/* A node never reached (it may have left before this one knew it): its
** frames follow their actor where the store says; later ones go behind
** them (knows), and where the store has nothing they fail NodeUnreachable
** with the node's why, not ActorNotFound. */
static void frames_of_a_node_never_reached(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9), z = id_at("z:1", 3);
    assert_false(stage_reloc_knows(w->r, &a));
    assert_int_equal(stage_reloc_frame_down(w->r, 0, &a, 1, STAGE_EUNREACHABLE,
                                            "8 connection attempts failed"),
                     0);
    collect(w);
    assert_true(stage_reloc_knows(w->r, &a)); /* asking: the next goes too */
    answer(w, 5, 0, 0, &b);
    assert_int_equal(w->nsent, 1);
    assert_true(same_id(&w->sent_to[0], &b));
    assert_true(stage_reloc_knows(w->r, &a)); /* found: straight to b */
    assert_int_equal(stage_reloc_frame_down(w->r, 6, &a, 2, STAGE_EUNREACHABLE,
                                            "its node cannot be reached"),
                     0);
    collect(w);
    assert_int_equal(w->nsent, 2);
    assert_true(same_id(&w->sent_to[1], &b));
    /* nowhere: the node's failure, as without the store */
    assert_int_equal(stage_reloc_frame_down(w->r, 7, &z, 3, STAGE_EUNREACHABLE,
                                            "8 connection attempts failed"),
                     0);
    collect(w);
    answer(w, 9, 1, STAGE_ENAME_NOT_FOUND, NULL);
    assert_int_equal(w->fail_status[3], STAGE_EUNREACHABLE);
    assert_non_null(strstr(w->fail_why[3], "8 connection attempts failed"));
    assert_false(stage_reloc_knows(w->r, &z)); /* nowhere is not followed */
    /* only the failures of a node that is down */
    assert_int_equal(
        stage_reloc_frame_down(w->r, 9, &z, 4, STAGE_ETIMEOUT, "x"),
        STAGE_EINVAL);
    stage_reloc_destroy(&w->r);
}

static void chains_through_nodes_that_left_are_followed(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9), c = id_at("c:1", 2);
    set_gone(w, "b:1", STAGE_RELOC_LEFT);
    frame(w, 0, &a, 1, NULL);
    frame(w, 0, &a, 2, NULL);
    answer(w, 5, 0, 0, &b); /* b left in turn: b is looked up */
    assert_int_equal(w->nsent, 0);
    assert_int_equal(w->nfinds, 2);
    assert_true(same_id(&w->find_id[1], &b));
    frame(w, 6, &a, 3, NULL); /* behind 1 and 2, under b */
    assert_int_equal(w->nfinds, 2);
    answer(w, 8, 1, 0, &c);
    assert_int_equal(w->nsent, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(w->sent[i], (uint64_t)i + 1);
        assert_true(same_id(&w->sent_to[i], &c));
    }
    stage_reloc_destroy(&w->r);
}

static void a_chain_longer_than_the_hop_limit_fails(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t ids[12];
    for (int i = 0; i < 12; i++) {
        char addr[16];
        snprintf(addr, sizeof addr, "n%d:1", i);
        ids[i] = id_at(addr, 1);
        if (i) set_gone(w, addr, STAGE_RELOC_LEFT);
    }
    frame(w, 0, &ids[0], 1, NULL);
    for (int i = 0; i < 11 && !w->nfailed; i++) {
        assert_int_equal(w->nfinds, i + 1);
        answer(w, 1, i, 0, &ids[i + 1]);
    }
    assert_int_equal(w->nsent, 0);
    assert_int_equal(w->fail_status[1], STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(w->fail_why[1], "more nodes that left"));
    assert_int_equal(w->nfinds, 9); /* the first place and 8 hops */
    stage_reloc_destroy(&w->r);
}

static void a_loop_between_two_places_ends(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9);
    set_gone(w, "a:1", STAGE_RELOC_LEFT);
    set_gone(w, "b:1", STAGE_RELOC_LEFT);
    frame(w, 0, &a, 1, NULL);
    answer(w, 1, 0, 0, &b);
    answer(w, 2, 1, 0, &a); /* b's entry leads back to a */
    assert_int_equal(w->nfinds, 2);
    assert_int_equal(w->fail_status[1], STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(w->fail_why[1], "more nodes that left"));
    frame(w, 3, &b, 2, NULL); /* both remembered: it ends at once too */
    assert_int_equal(w->fail_status[2], STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(w->nsent, 0);
    stage_reloc_destroy(&w->r);
}

static void nowhere_is_believed_for_a_second_then_asked_again(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9);
    frame(w, 100, &a, 1, NULL);
    answer(w, 100, 0, STAGE_ENAME_NOT_FOUND, NULL);
    assert_int_equal(w->fail_status[1], STAGE_EACTOR_NOT_FOUND);
    assert_string_equal(w->fail_why[1],
                        "its node 'a:1' is gone (it left, died or restarted), "
                        "and the migrations store has no later place for it "
                        "(it stopped, or never moved)");
    assert_true(same_id(&w->fail_id[1], &a));
    frame(w, 1099, &a, 2, NULL); /* within the second: not asked */
    assert_int_equal(w->nfinds, 1);
    assert_int_equal(w->fail_status[2], STAGE_EACTOR_NOT_FOUND);
    frame(w, 1100, &a, 3, NULL); /* a second on: asked again */
    assert_int_equal(w->nfinds, 2);
    assert_int_equal(w->fail_status[3], 0);
    answer(w, 1101, 1, 0, &b); /* it moved meanwhile */
    assert_int_equal(w->nsent, 1);
    assert_int_equal(w->sent[0], 3);
    stage_reloc_destroy(&w->r);
}

static void at_most_64_lookups_and_64_puts_at_once(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    for (uint64_t i = 1; i <= 100; i++) {
        stage_id_t a = id_at("a:1", i);
        frame(w, 0, &a, i, NULL);
    }
    assert_int_equal(w->nfinds, 64);
    stage_id_t b = id_at("b:1", 1);
    answer(w, 1, 0, 0, &b);
    assert_int_equal(w->nfinds, 65);             /* one ended, the next asked */
    assert_int_equal(w->find_id[64].serial, 65); /* in the order they came */
    for (int i = 1; i < 36; i++)
        answer(w, 2, i, 0, &b);
    assert_int_equal(w->nfinds, 100);
    stage_id_t cur = id_at("c:1", 1);
    for (uint64_t i = 1; i <= 100; i++) {
        stage_id_t old = id_at("d:1", i);
        assert_int_equal(stage_reloc_record(w->r, 3, &old, &cur, 0), 0);
    }
    collect(w);
    assert_int_equal(w->nputs, 64);
    assert_true(stage_reloc_answer(w->r, 4, w->put_req[0], 0, NULL));
    collect(w);
    assert_int_equal(w->nputs, 65);
    assert_int_equal(w->put_old[64].serial, 65);
    stage_reloc_destroy(&w->r);
}

static void
a_dead_nodes_frames_fail_node_down_with_the_deaths_why(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9);
    frame(w, 0, &a, 1, "it did not answer for 3 s");
    answer(w, 1, 0, STAGE_ENAME_NOT_FOUND, NULL);
    assert_int_equal(w->fail_status[1], STAGE_ENODE_DOWN);
    assert_string_equal(w->fail_why[1], "it did not answer for 3 s");
    /* one that left, followed to a node since declared dead, where the
    ** store has nothing: NodeDown, with that death's why */
    set_gone(w, "b:1", STAGE_RELOC_DEAD);
    stage_id_t a2 = id_at("a:1", 6);
    frame(w, 2, &a2, 2, NULL);
    answer(w, 3, 1, 0, &b);
    assert_int_equal(w->nfinds, 3);
    answer(w, 4, 2, STAGE_ENAME_NOT_FOUND, NULL);
    assert_int_equal(w->fail_status[2], STAGE_ENODE_DOWN);
    assert_string_equal(w->fail_why[2],
                        "it was declared dead (no heartbeat for 3 s)");
    assert_true(same_id(&w->fail_id[2], &b));
    stage_reloc_destroy(&w->r);
}

static void
a_dead_nodes_frame_the_store_cannot_place_says_both_whys(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5);
    frame(w, 0, &a, 1, "it did not answer for 3 s");
    answer(w, 10, 0, STAGE_ETIMEOUT, NULL);
    stage_reloc_tick(w->r, 210);
    collect(w);
    answer(w, 220, 1, STAGE_ETIMEOUT, NULL);
    stage_reloc_tick(w->r, 420);
    collect(w);
    answer(w, 430, 2, STAGE_ETIMEOUT, NULL); /* the third: it fails */
    assert_int_equal(w->nfailed, 1);
    assert_int_equal(w->fail_status[1], STAGE_ENODE_DOWN);
    /* the death, and that the store was not there to say where it went */
    assert_true(strstr(w->fail_why[1], "it did not answer for 3 s; ") ==
                w->fail_why[1]);
    assert_non_null(strstr(w->fail_why[1], "could not be asked"));
    stage_reloc_destroy(&w->r);
}

static void a_store_error_is_asked_again_then_fails_saying_so(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9);
    frame(w, 0, &a, 1, NULL);
    answer(w, 10, 0, STAGE_ETIMEOUT, NULL);
    assert_int_equal(w->nfailed, 0); /* held */
    assert_int_equal(stage_reloc_next_timer(w->r), 210);
    frame(w, 20, &a, 2, NULL); /* waits with it, not a second lookup */
    stage_reloc_tick(w->r, 209);
    collect(w);
    assert_int_equal(w->nfinds, 1);
    stage_reloc_tick(w->r, 210);
    collect(w);
    assert_int_equal(w->nfinds, 2);
    assert_int_equal(stage_reloc_next_timer(w->r), UINT64_MAX);
    answer(w, 220, 1, STAGE_ETIMEOUT, NULL);
    stage_reloc_tick(w->r, 420);
    collect(w);
    answer(w, 430, 2, STAGE_EUNREACHABLE, NULL); /* the third: it fails */
    assert_int_equal(w->nfinds, 3);
    assert_int_equal(w->nfailed, 2);
    for (int h = 1; h <= 2; h++) {
        assert_int_equal(w->fail_status[h], STAGE_EACTOR_NOT_FOUND);
        assert_non_null(strstr(w->fail_why[h], "could not be asked"));
    }
    frame(w, 440, &a, 3, NULL); /* not believed: asked afresh */
    assert_int_equal(w->nfinds, 4);
    answer(w, 450, 3, 0, &b);
    assert_int_equal(w->nsent, 1);
    assert_int_equal(w->sent[0], 3);
    stage_reloc_destroy(&w->r);
}

static void
hostile_answers_and_inputs_are_refused_or_fail_clearly(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), garbage;
    /* an answer naming the dead id itself: nowhere, not a loop */
    frame(w, 0, &a, 1, NULL);
    answer(w, 1, 0, 0, &a);
    assert_int_equal(w->fail_status[1], STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(w->fail_why[1], "no later place"));
    /* an entry that is not an id (no node; a text not ended) */
    stage_id_t a2 = id_at("a:1", 6);
    frame(w, 2, &a2, 2, NULL);
    memset(&garbage, 'x', sizeof garbage);
    answer(w, 3, 1, 0, &garbage);
    assert_int_equal(w->fail_status[2], STAGE_EACTOR_NOT_FOUND);
    assert_non_null(strstr(w->fail_why[2], "not an actor id"));
    stage_id_t a3 = id_at("a:1", 7), empty;
    memset(&empty, 0, sizeof empty);
    frame(w, 4, &a3, 3, NULL);
    answer(w, 5, 2, 0, &empty);
    assert_non_null(strstr(w->fail_why[3], "not an actor id"));
    /* answers to nothing asked, twice, or request 0: not the machine's */
    assert_false(stage_reloc_answer(w->r, 6, w->find_req[0], 0, &a));
    assert_false(stage_reloc_answer(w->r, 6, 0, 0, &a));
    assert_false(stage_reloc_answer(w->r, 6, 9999, 0, &a));
    /* frames for what is not an id, or with no handle: refused */
    assert_int_equal(stage_reloc_frame(w->r, 7, &garbage, 4, NULL),
                     STAGE_EINVAL);
    assert_int_equal(stage_reloc_frame(w->r, 7, &empty, 4, NULL), STAGE_EINVAL);
    assert_int_equal(stage_reloc_frame(w->r, 7, &a, 0, NULL), STAGE_EINVAL);
    assert_int_equal(stage_reloc_record(w->r, 7, &garbage, &a, 0),
                     STAGE_EINVAL);
    collect(w);
    assert_int_equal(w->nsent, 0);
    assert_int_equal(w->nfailed, 3);
    stage_reloc_destroy(&w->r);
}

static void targets_past_the_limit_are_refused(void **state) {
    (void)state;
    stage_reloc_config_t cfg;
    stage_reloc_config_init(&cfg);
    cfg.targets_max = 2;
    world_t *w = setup(&cfg);
    stage_id_t a = id_at("a:1", 1), b = id_at("a:1", 2), c = id_at("a:1", 3);
    frame(w, 0, &a, 1, NULL);
    frame(w, 0, &b, 2, NULL);
    assert_int_equal(stage_reloc_frame(w->r, 0, &c, 3, NULL), STAGE_ENOMEM);
    frame(w, 0, &a, 4, NULL); /* a known one still is */
    stage_reloc_destroy(&w->r);
}

static void entries_are_put_recorded_once_and_put_again(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t old = id_at("h:1", 3), former = id_at("g:1", 8);
    stage_id_t cur = id_at("me:1", 4), cur2 = id_at("me:1", 5);
    assert_int_equal(stage_reloc_record(w->r, 0, &old, &cur, 77), 1);
    assert_int_equal(stage_reloc_record(w->r, 0, &former, &cur, 77), 1);
    collect(w);
    assert_int_equal(w->nputs, 2);
    assert_true(same_id(&w->put_cur[0], &cur));
    stage_id_t out[4];
    assert_int_equal(stage_reloc_formers(w->r, &cur, out, 4), 2);
    /* the first put fails: nothing said, again at the sweep */
    assert_true(
        stage_reloc_answer(w->r, 1, w->put_req[0], STAGE_ETIMEOUT, NULL));
    assert_true(stage_reloc_answer(w->r, 1, w->put_req[1], 0, NULL));
    collect(w);
    assert_int_equal(w->nrecorded, 1); /* former's */
    stage_reloc_sweep(w->r, 500);
    collect(w);
    assert_int_equal(w->nputs, 3); /* only the one not in */
    assert_true(same_id(&w->put_old[2], &old));
    /* replaced while that put is under way: its answer does not count,
    ** the latest place is put */
    assert_int_equal(stage_reloc_record(w->r, 501, &old, &cur2, 78), 0);
    assert_true(stage_reloc_answer(w->r, 502, w->put_req[2], 0, NULL));
    collect(w);
    assert_int_equal(w->nputs, 4);
    assert_true(same_id(&w->put_cur[3], &cur2));
    assert_int_equal(w->nrecorded, 1);
    assert_true(stage_reloc_answer(w->r, 503, w->put_req[3], 0, NULL));
    collect(w);
    assert_int_equal(w->nrecorded, 2);
    assert_int_equal(w->recorded[1], 77);
    assert_int_equal(stage_reloc_formers(w->r, &cur, out, 4), 1);
    assert_int_equal(stage_reloc_formers(w->r, &cur2, out, 4), 1);
    assert_true(same_id(&out[0], &old));
    stage_reloc_sweep(w->r, 1000); /* all in: nothing to put */
    collect(w);
    assert_int_equal(w->nputs, 4);
    /* cur stops here: its entries go */
    stage_reloc_forget(w->r, 1001, &cur);
    collect(w);
    assert_int_equal(w->nremoved, 1);
    assert_true(same_id(&w->removed[0], &former));
    assert_int_equal(stage_reloc_formers(w->r, &cur, out, 4), 0);
    stage_reloc_destroy(&w->r);
}

static void a_forgotten_entry_says_its_tag(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t old = id_at("h:1", 3), cur = id_at("me:1", 4);
    assert_int_equal(stage_reloc_record(w->r, 0, &old, &cur, 5), 1);
    stage_reloc_forget(w->r, 1, &cur); /* before its put was answered */
    collect(w);
    assert_int_equal(w->nrecorded, 1);
    assert_int_equal(w->recorded[0], 5);
    assert_int_equal(w->nremoved, 1);
    assert_false(stage_reloc_answer(w->r, 2, w->put_req[0], 0, NULL));
    stage_reloc_destroy(&w->r);
}

static void a_stop_fails_every_frame_held(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("a:1", 6);
    frame(w, 0, &a, 1, NULL);
    frame(w, 0, &b, 2, NULL);
    stage_reloc_stop(w->r);
    collect(w);
    for (int h = 1; h <= 2; h++) {
        assert_int_equal(w->fail_status[h], STAGE_ESTOPPED);
        assert_string_equal(w->fail_why[h], "this node stopped first");
    }
    assert_true(stage_reloc_answer(w->r, 1, w->find_req[0], 0, &a));
    collect(w);
    assert_int_equal(w->nsent, 0);
    stage_reloc_destroy(&w->r);
}

static void
effects_of_inputs_made_while_running_go_to_the_next_list(void **state) {
    (void)state;
    world_t *w = setup(NULL);
    stage_id_t a = id_at("a:1", 5), b = id_at("b:1", 9);
    assert_int_equal(stage_reloc_frame(w->r, 0, &a, 1, NULL), 0);
    size_t n;
    const stage_reloc_fx_t *fx = stage_reloc_effects(w->r, &n);
    assert_int_equal(n, 1);
    uint64_t req = fx[0].req;
    assert_false(stage_reloc_pending(w->r));
    assert_true(stage_reloc_finding(w->r, req)); /* its entry is to read */
    assert_false(stage_reloc_finding(w->r, req + 1));
    assert_false(stage_reloc_finding(w->r, 0));
    /* the driver answers while it runs the list (a request that failed) */
    assert_true(stage_reloc_answer(w->r, 1, req, 0, &b));
    assert_false(stage_reloc_finding(w->r, req));
    assert_int_equal(fx[0].kind, STAGE_RELOC_FX_FIND); /* still valid */
    assert_true(stage_reloc_pending(w->r));
    fx = stage_reloc_effects(w->r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(fx[0].kind, STAGE_RELOC_FX_SEND);
    stage_reloc_destroy(&w->r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_is_kept_per_target_across_a_lookup),
        cmocka_unit_test(frames_of_a_node_never_reached),
        cmocka_unit_test(chains_through_nodes_that_left_are_followed),
        cmocka_unit_test(a_chain_longer_than_the_hop_limit_fails),
        cmocka_unit_test(a_loop_between_two_places_ends),
        cmocka_unit_test(nowhere_is_believed_for_a_second_then_asked_again),
        cmocka_unit_test(at_most_64_lookups_and_64_puts_at_once),
        cmocka_unit_test(
            a_dead_nodes_frames_fail_node_down_with_the_deaths_why),
        cmocka_unit_test(a_store_error_is_asked_again_then_fails_saying_so),
        cmocka_unit_test(
            a_dead_nodes_frame_the_store_cannot_place_says_both_whys),
        cmocka_unit_test(
            hostile_answers_and_inputs_are_refused_or_fail_clearly),
        cmocka_unit_test(targets_past_the_limit_are_refused),
        cmocka_unit_test(entries_are_put_recorded_once_and_put_again),
        cmocka_unit_test(a_forgotten_entry_says_its_tag),
        cmocka_unit_test(a_stop_fails_every_frame_held),
        cmocka_unit_test(
            effects_of_inputs_made_while_running_go_to_the_next_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
