/*
** tests/unit/test_node_hub.c: the home scheme's machine (node/hub.h) by
** hand, one node "a:1" and the steps its peers would send: held messages
** released in order to the new place, the copy taken back when the
** destination fails or dies, steps from the wrong node ignored, a guest's
** moves asked of its home and its image shipped home, the tomb it leaves
** (forwarding to its home), an orphan taking
** itself over with its earlier ids (also one whose home dies while its
** image ships there: it stays), where the machine says an actor is, a
** drain's hand-over, an actor that stops away, and names given to an
** actor away (NAMES: at once, or once a move under way has ended; the
** guest keeps the last record, and takes itself over with it).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "node/hub.h"
#include "stage/errors.h"

#define FX_MAX 64

static stage_hub_fx_t fx[FX_MAX];
static size_t nfx;

/* The machine's effects since the last call, into fx[0..nfx). */
static void collect(stage_hub_t *h) {
    size_t n;
    const stage_hub_fx_t *v = stage_hub_effects(h, &n);
    assert_true(n <= FX_MAX);
    if (n) memcpy(fx, v, n * sizeof *v);
    nfx = n;
}

static stage_id_t id_at(const char *node, uint64_t serial) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", node);
    id.incarnation = 1;
    id.serial = serial;
    snprintf(id.type, sizeof id.type, "Counter");
    return id;
}

static stage_hub_step_t step_of(int op, const stage_id_t *home,
                                const stage_id_t *at) {
    stage_hub_step_t s;
    memset(&s, 0, sizeof s);
    s.op = op;
    if (home) s.home = *home;
    if (at) s.at = *at;
    return s;
}

/* Actor a:1/5 moves to b:1, which takes it in as b:1/9; messages 1, 2, 3
** come during the move. The machine is left with it away. */
static stage_hub_t *moved_away(void) {
    stage_hub_t *h = stage_hub_new("a:1", 1);
    assert_non_null(h);
    stage_id_t me = id_at("a:1", 5), there = id_at("b:1", 9);
    stage_hub_move(h, &me, "b:1", 40);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_EXPORT);
    assert_int_equal(fx[0].serial, 5);
    stage_hub_msg(h, 5, 1);
    stage_hub_msg(h, 5, 2);
    stage_hub_exported(h, 5, 77);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_STEP);
    assert_string_equal(fx[0].node, "b:1");
    assert_int_equal(fx[0].step.op, STAGE_HUB_IMPORT);
    assert_int_equal(fx[0].step.image, 77);
    assert_int_equal(fx[0].step.home.serial, 5);
    stage_hub_msg(h, 5, 3);
    collect(h);
    assert_int_equal(nfx, 0); /* held */
    stage_hub_step_t s = step_of(STAGE_HUB_ARRIVED, &me, &there);
    stage_hub_step(h, "b:1", &s);
    collect(h);
    return h;
}

/* Actor a:1/5 asked to move to b:1 (request 40), exported (image 77):
** its IMPORT is on its way, no answer yet. */
static stage_hub_t *importing(void) {
    stage_hub_t *h = stage_hub_new("a:1", 1);
    assert_non_null(h);
    stage_id_t me = id_at("a:1", 5);
    stage_hub_move(h, &me, "b:1", 40);
    stage_hub_exported(h, 5, 77);
    collect(h);
    return h;
}

static void messages_held_in_a_move_go_to_the_new_place_in_order(void **st) {
    (void)st;
    stage_hub_t *h = moved_away();
    /* the copy goes, the future has the new id, then 1, 2, 3 follow */
    assert_int_equal(nfx, 5);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_DROP);
    assert_int_equal(fx[0].image, 77);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_ANSWER);
    assert_int_equal(fx[1].req, 40);
    assert_int_equal(fx[1].status, 0);
    assert_string_equal(fx[1].id.node, "b:1");
    assert_int_equal(fx[1].id.serial, 9);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fx[2 + i].kind, STAGE_HUB_FX_FORWARD);
        assert_int_equal(fx[2 + i].msg, (uint64_t)i + 1);
        assert_int_equal(fx[2 + i].id.serial, 9);
    }
    stage_hub_msg(h, 5, 4); /* after the move: straight there */
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_FORWARD);
    assert_int_equal(fx[0].msg, 4);
    stage_hub_destroy(&h);
    assert_null(h);
}

static void a_destination_that_dies_gives_the_actor_back(void **st) {
    (void)st;
    stage_hub_t *h = stage_hub_new("a:1", 1);
    stage_id_t me = id_at("a:1", 5);
    stage_hub_move(h, &me, "b:1", 40);
    stage_hub_exported(h, 5, 77);
    stage_hub_msg(h, 5, 1);
    collect(h);
    stage_hub_node_down(h, "c:1", true); /* another node: nothing */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_node_down(h, "b:1", true);
    collect(h);
    assert_int_equal(nfx, 3);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_RESTORE);
    assert_int_equal(fx[0].serial, 5);
    assert_int_equal(fx[0].image, 77);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_ANSWER);
    assert_int_equal(fx[1].status, STAGE_ENODE_DOWN);
    assert_non_null(strstr(fx[1].why, "taken back on node 'a:1'"));
    assert_int_equal(fx[2].kind, STAGE_HUB_FX_DELIVER); /* here again */
    assert_int_equal(fx[2].msg, 1);
    stage_hub_destroy(&h);
}

/* The destination was never reached (nothing answered at its address):
** the actor is taken back as when it dies, but the move fails
** NodeUnreachable, not NodeDown. */
static void a_destination_never_reached_gives_the_actor_back(void **st) {
    (void)st;
    stage_hub_t *h = importing();
    stage_hub_node_down(h, "b:1", false);
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_RESTORE);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_ANSWER);
    assert_int_equal(fx[1].status, STAGE_EUNREACHABLE);
    assert_non_null(strstr(fx[1].why, "node 'b:1' was not reached"));
    stage_hub_destroy(&h);
}

static void a_refused_import_takes_the_actor_back_with_the_reason(void **st) {
    (void)st;
    stage_hub_t *h = importing();
    stage_id_t me = id_at("a:1", 5);
    stage_hub_step_t s = step_of(STAGE_HUB_FAILED, &me, NULL);
    s.status = STAGE_EHANDLER;
    snprintf(s.why, sizeof s.why, "arrived failed");
    stage_hub_step(h, "c:1", &s); /* not the destination: ignored */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_step(h, "b:1", &s);
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_RESTORE);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_ANSWER);
    assert_int_equal(fx[1].status, STAGE_EHANDLER);
    assert_string_equal(fx[1].why, "arrived failed");
    stage_hub_destroy(&h);
}

/* a:1 takes in h:1/3's actor (earlier ids: z:1/2) as a:1/11. */
static stage_hub_t *with_guest(void) {
    stage_hub_t *h = stage_hub_new("a:1", 1);
    stage_id_t home = id_at("h:1", 3);
    stage_hub_step_t s = step_of(STAGE_HUB_IMPORT, &home, NULL);
    s.image = 50;
    stage_id_t z = id_at("z:1", 2); /* a driver's record: any bytes */
    s.formers = (const char *)&z;
    s.flen = sizeof z;
    stage_hub_step(h, "h:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_IMPORT);
    assert_int_equal(fx[0].image, 50);
    stage_hub_imported(h, 50, 11);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].step.op, STAGE_HUB_ARRIVED);
    assert_string_equal(fx[0].node, "h:1");
    assert_string_equal(fx[0].step.at.node, "a:1");
    assert_int_equal(fx[0].step.at.serial, 11);
    return h;
}

static void a_guest_asks_its_home_and_ships_its_image_home(void **st) {
    (void)st;
    stage_hub_t *h = with_guest();
    stage_id_t here = id_at("a:1", 11), home = id_at("h:1", 3);
    stage_hub_move(h, &here, "c:1", 8);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].step.op, STAGE_HUB_REQ);
    assert_string_equal(fx[0].node, "h:1");
    assert_int_equal(fx[0].step.at.serial, 3);
    assert_string_equal(fx[0].step.where, "c:1");
    assert_int_equal(fx[0].step.req, 8);
    stage_hub_step_t s = step_of(STAGE_HUB_OUT, &home, &here);
    stage_hub_step(h, "h:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_EXPORT);
    stage_hub_msg(h, 11, 1); /* held while it goes */
    stage_hub_exported(h, 11, 51);
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].step.op, STAGE_HUB_IN);
    assert_int_equal(fx[0].step.image, 51);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_FORWARD); /* behind it */
    assert_int_equal(fx[1].id.serial, 3);
    stage_hub_destroy(&h);
}

/* Actor `home` arrives at a:1 as serial and leaves for its home. */
static void pass_through(stage_hub_t *h, const stage_id_t *home,
                         uint64_t serial) {
    stage_id_t here = id_at("a:1", serial);
    stage_hub_step_t s = step_of(STAGE_HUB_IMPORT, home, NULL);
    s.image = 100 + serial;
    stage_hub_step(h, home->node, &s);
    stage_hub_imported(h, s.image, serial);
    s = step_of(STAGE_HUB_OUT, home, &here);
    stage_hub_step(h, home->node, &s);
    stage_hub_exported(h, serial, 200 + serial);
    collect(h);
    assert_int_equal(stage_hub_place(h, serial, NULL, NULL),
                     STAGE_HUB_PLACE_LEFT);
}

/* A guest that left leaves a tomb: what still comes to its id goes to its
** whole home id, a move asked of it goes to its home, and the steps for
** a guest find it gone (an ADOPT is asked again: busy). Two tombs of one
** home share its address. */
static void a_guest_that_left_forwards_to_its_home(void **st) {
    (void)st;
    stage_hub_t *h = with_guest();
    stage_id_t here = id_at("a:1", 11), home = id_at("h:1", 3);
    stage_hub_step_t s = step_of(STAGE_HUB_OUT, &home, &here);
    stage_hub_step(h, "h:1", &s);
    stage_hub_exported(h, 11, 51);
    collect(h);
    assert_true(stage_hub_knows(h, 11));
    const char *node = NULL;
    stage_id_t at;
    assert_int_equal(stage_hub_place(h, 11, &node, &at), STAGE_HUB_PLACE_LEFT);
    assert_string_equal(node, "h:1");
    assert_true(at.serial == 3 && at.incarnation == 1);
    assert_string_equal(at.node, "h:1");
    assert_string_equal(at.type, "Counter");
    stage_hub_msg(h, 11, 7);
    stage_hub_move(h, &here, "c:1", 8);
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_FORWARD);
    assert_int_equal(fx[0].msg, 7);
    assert_string_equal(fx[0].id.node, "h:1");
    assert_int_equal(fx[0].id.serial, 3);
    assert_string_equal(fx[0].id.type, "Counter");
    assert_int_equal(fx[1].step.op, STAGE_HUB_REQ);
    assert_string_equal(fx[1].node, "h:1");
    assert_int_equal(fx[1].step.at.serial, 3);
    assert_int_equal(fx[1].step.req, 8);
    stage_hub_step(h, "h:1", &s); /* OUT again: it is not here */
    s = step_of(STAGE_HUB_ADOPT, &home, &here);
    stage_hub_step(h, "h:1", &s);
    stage_hub_stopped(h, 11);
    stage_hub_node_down(h, "h:1", true); /* it stays a tomb */
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].step.op, STAGE_HUB_REFUSED);
    assert_int_equal(fx[0].step.status, STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(fx[1].step.op, STAGE_HUB_ADOPTED);
    assert_int_equal(fx[1].step.status, STAGE_EBUSY);
    assert_int_equal(stage_hub_place(h, 11, NULL, NULL), STAGE_HUB_PLACE_LEFT);
    /* another guest of h:1 passes as 12; one of x:1, of the same serial
    ** as the first, as 13; the first comes back and leaves again as 14 */
    stage_id_t home2 = id_at("h:1", 4), other = id_at("x:1", 3);
    home2.theatre = 2;
    pass_through(h, &home2, 12);
    pass_through(h, &other, 13);
    pass_through(h, &home, 14);
    const char *node2 = NULL;
    assert_int_equal(stage_hub_place(h, 12, &node2, &at), STAGE_HUB_PLACE_LEFT);
    assert_true(at.serial == 4 && at.theatre == 2);
    assert_ptr_equal(node2, node);
    assert_int_equal(stage_hub_tombs(h), 4);
    /* x:1 says its actor 3 stopped: its tomb goes, not those of h:1/3 */
    s = step_of(STAGE_HUB_FORGET, &other, NULL);
    stage_hub_step(h, "x:1", &s);
    assert_int_equal(stage_hub_tombs(h), 3);
    assert_false(stage_hub_knows(h, 13));
    /* h:1 says its actor 3 stopped: both its tombs go, not h:1/4's */
    s = step_of(STAGE_HUB_FORGET, &home, NULL);
    stage_hub_step(h, "h:1", &s);
    stage_hub_step(h, "h:1", &s); /* again: nothing left of it */
    collect(h);
    assert_int_equal(nfx, 0);
    assert_int_equal(stage_hub_tombs(h), 1);
    assert_false(stage_hub_knows(h, 11) || stage_hub_knows(h, 14));
    assert_int_equal(stage_hub_place(h, 11, NULL, NULL), STAGE_HUB_PLACE_HERE);
    stage_hub_msg(h, 11, 9); /* the driver's: no such actor */
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_DELIVER);
    assert_int_equal(stage_hub_place(h, 12, NULL, NULL), STAGE_HUB_PLACE_LEFT);
    stage_hub_destroy(&h);
}

/* A node that drains hands its tombs to their homes (TOMB), counted until
** answered; the home has the store lead the id to its actor (REHOMED, to
** be answered to that node); a home that ended is not waited for. */
static void a_drain_hands_its_tombs_to_their_homes(void **st) {
    (void)st;
    stage_hub_t *h = stage_hub_new("a:1", 1);
    stage_id_t home = id_at("h:1", 3), home2 = id_at("g:1", 7),
               home3 = id_at("f:1", 9);
    pass_through(h, &home, 11);
    pass_through(h, &home2, 12);
    pass_through(h, &home3, 13);
    assert_int_equal(stage_hub_handover(h), 3);
    collect(h);
    assert_int_equal(nfx, 3);
    size_t i = 0;
    while (i < nfx && strcmp(fx[i].node, "h:1"))
        i++;
    assert_true(i < nfx);
    assert_int_equal(fx[i].step.op, STAGE_HUB_TOMB);
    assert_string_equal(fx[i].node, "h:1");
    assert_int_equal(fx[i].step.home.serial, 3);
    assert_string_equal(fx[i].step.at.node, "a:1");
    assert_int_equal(fx[i].step.at.serial, 11);
    assert_int_equal(stage_hub_handover(h), 3); /* asked: not again */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_id_t here = id_at("a:1", 11);
    stage_hub_step_t s = step_of(STAGE_HUB_ADOPTED, &here, &home);
    stage_hub_step(h, "h:1", &s);
    stage_hub_node_down(h, "g:1", true); /* the other's home is gone */
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_LED);
    assert_int_equal(fx[0].status, 0);
    assert_int_equal(fx[0].id.serial, 11);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_LED);
    assert_int_equal(fx[1].status, STAGE_ENODE_DOWN);
    /* the third's actor stops meanwhile: its tomb goes, answered */
    s = step_of(STAGE_HUB_FORGET, &home3, NULL);
    stage_hub_step(h, "f:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_LED);
    assert_int_equal(fx[0].status, STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(fx[0].id.serial, 13);
    /* a home that refuses (ActorNotFound: it says it left no tomb here) is
    ** not asked again */
    stage_id_t home4 = id_at("e:1", 4), here4 = id_at("a:1", 14);
    pass_through(h, &home4, 14);
    assert_int_equal(stage_hub_handover(h), 1);
    collect(h);
    assert_int_equal(fx[0].step.op, STAGE_HUB_TOMB);
    s = step_of(STAGE_HUB_ADOPTED, &here4, &home4);
    s.status = STAGE_EACTOR_NOT_FOUND;
    stage_hub_step(h, "e:1", &s);
    stage_hub_step(h, "e:1", &s); /* twice: answered once */
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_LED);
    assert_int_equal(fx[0].status, STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(stage_hub_handover(h), 0);
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_destroy(&h);
    /* at the home: h:1/3 went to a:1 (as 11) and came back */
    h = stage_hub_new("h:1", 1);
    s = step_of(STAGE_HUB_TOMB, &home, &here);
    stage_hub_step(h, "a:1", &s); /* before: it left no tomb there */
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].step.op, STAGE_HUB_ADOPTED);
    assert_int_equal(fx[0].step.status, STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(fx[0].step.home.serial, 11);
    stage_hub_move(h, &home, "a:1", 40);
    stage_hub_exported(h, 3, 77);
    s = step_of(STAGE_HUB_ARRIVED, &home, &here);
    stage_hub_step(h, "a:1", &s);
    stage_hub_move(h, &home, "h:1", 41);
    s = step_of(STAGE_HUB_IN, &home, NULL);
    s.image = 78;
    stage_hub_step(h, "a:1", &s);
    collect(h);
    s = step_of(STAGE_HUB_TOMB, &home, &here);
    stage_hub_step(h, "x:1", &s); /* not from the node of that id */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_step(h, "a:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_REHOMED);
    assert_string_equal(fx[0].id.node, "a:1");
    assert_int_equal(fx[0].id.serial, 11);
    assert_string_equal(fx[0].cur.node, "h:1");
    assert_int_equal(fx[0].cur.serial, 3);
    assert_string_equal(fx[0].node, "a:1");
    stage_hub_destroy(&h);
}

/* The home of an actor that left a tomb at a node tells that node once the
** actor stops: where it lives (GONE), or at home, once back. */
static void a_home_tells_the_nodes_an_actor_left_once_it_stops(void **st) {
    (void)st;
    stage_id_t me = id_at("a:1", 5), at_c = id_at("c:1", 4);
    for (int back = 0; back < 2; back++) {
        stage_hub_t *h = moved_away(); /* a:1/5 lives at b:1 as 9 */
        stage_hub_move(h, &me, back ? "a:1" : "c:1", 41);
        collect(h);
        assert_int_equal(fx[0].step.op, STAGE_HUB_OUT);
        stage_hub_step_t s = step_of(STAGE_HUB_IN, &me, NULL);
        s.image = 78;
        stage_hub_step(h, "b:1", &s); /* b:1 keeps a tomb */
        collect(h);
        assert_true(stage_hub_visited(h, 5));
        if (back) { /* home: its stop here tells b:1 */
            assert_int_equal(fx[0].kind, STAGE_HUB_FX_RESTORE);
            stage_hub_stopped(h, 5);
        } else { /* at c:1: its stop there, GONE, tells b:1 */
            s = step_of(STAGE_HUB_ARRIVED, &me, &at_c);
            stage_hub_step(h, "c:1", &s);
            collect(h);
            s = step_of(STAGE_HUB_GONE, &me, &at_c);
            stage_hub_step(h, "c:1", &s);
        }
        collect(h);
        size_t i = 0;
        while (i < nfx && fx[i].step.op != STAGE_HUB_FORGET)
            i++;
        assert_true(i < nfx);
        assert_string_equal(fx[i].node, "b:1");
        assert_int_equal(fx[i].step.home.serial, 5);
        assert_string_equal(fx[i].step.home.node, "a:1");
        assert_string_equal(fx[i].step.home.type, "Counter");
        assert_false(stage_hub_visited(h, 5));
        stage_hub_stopped(h, 5); /* once */
        collect(h);
        assert_int_equal(nfx, 0);
        stage_hub_destroy(&h);
    }
    /* a node whose session ended took its tombs with it: not told */
    stage_hub_t *h = moved_away();
    stage_hub_move(h, &me, "a:1", 41);
    stage_hub_step_t s = step_of(STAGE_HUB_IN, &me, NULL);
    s.image = 78;
    stage_hub_step(h, "b:1", &s);
    stage_hub_node_down(h, "b:1", true);
    stage_hub_stopped(h, 5);
    collect(h);
    for (size_t i = 0; i < nfx; i++)
        assert_int_not_equal(fx[i].step.op, STAGE_HUB_FORGET);
    stage_hub_destroy(&h);
}

static void an_orphan_takes_itself_over_with_its_earlier_ids(void **st) {
    (void)st;
    stage_hub_t *h = with_guest();
    stage_hub_node_down(h, "h:1", false); /* a step failed: not the end */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_node_down(h, "h:1", true);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_REHOMED);
    assert_string_equal(fx[0].id.node, "h:1");
    assert_string_equal(fx[0].cur.node, "a:1");
    assert_int_equal(fx[0].cur.serial, 11);
    assert_int_equal(fx[0].step.flen, sizeof(stage_id_t));
    stage_id_t z;
    memcpy(&z, fx[0].step.formers, sizeof z);
    assert_string_equal(z.node, "z:1");
    assert_string_equal(fx[0].node, ""); /* no one to answer */
    stage_hub_msg(h, 11, 1);             /* its own now */
    collect(h);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_DELIVER);
    stage_hub_destroy(&h);
}

static void a_drain_hands_over_what_lives_elsewhere(void **st) {
    (void)st;
    stage_hub_t *h = moved_away();
    stage_id_t me = id_at("a:1", 5), there = id_at("b:1", 9);
    assert_int_equal(stage_hub_handover(h), 1);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].step.op, STAGE_HUB_ADOPT);
    assert_string_equal(fx[0].node, "b:1");
    assert_int_equal(stage_hub_handover(h), 1); /* asked: not again */
    collect(h);
    assert_int_equal(nfx, 0);
    assert_int_equal(stage_hub_place(h, 5, NULL, NULL), STAGE_HUB_PLACE_HANDED);
    stage_hub_step_t s = step_of(STAGE_HUB_ADOPTED, &me, &there);
    stage_hub_step(h, "b:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_HANDED);
    assert_int_equal(fx[0].status, 0);
    assert_int_equal(fx[0].id.serial, 5);
    assert_string_equal(fx[0].cur.node, "b:1");
    assert_int_equal(stage_hub_handover(h), 0);
    stage_hub_move(h, &me, "c:1", 9); /* asked of its new home */
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].step.op, STAGE_HUB_REQ);
    assert_string_equal(fx[0].node, "b:1");
    assert_int_equal(fx[0].step.at.serial, 9);
    stage_hub_destroy(&h);
}

static void an_orphan_whose_image_ships_home_stays_here(void **st) {
    (void)st;
    stage_hub_t *h = with_guest();
    stage_id_t here = id_at("a:1", 11), home = id_at("h:1", 3);
    stage_hub_step_t s = step_of(STAGE_HUB_OUT, &home, &here);
    stage_hub_step(h, "h:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_EXPORT);
    stage_hub_msg(h, 11, 1);
    stage_hub_node_down(h, "h:1", true); /* home died, the export goes on */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_exported(h, 11, 51);
    collect(h);
    assert_int_equal(nfx, 3); /* no IN to the dead home */
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_RESTORE);
    assert_int_equal(fx[0].serial, 11);
    assert_int_equal(fx[0].image, 51);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_DELIVER); /* what it held */
    assert_int_equal(fx[1].msg, 1);
    assert_int_equal(fx[2].kind, STAGE_HUB_FX_REHOMED);
    assert_string_equal(fx[2].id.node, "h:1");
    assert_int_equal(fx[2].cur.serial, 11);
    assert_int_equal(fx[2].step.flen, sizeof(stage_id_t));
    assert_string_equal(fx[2].node, "");
    assert_int_equal(stage_hub_place(h, 11, NULL, NULL), STAGE_HUB_PLACE_HERE);
    stage_hub_destroy(&h);
}

static void the_machine_says_where_an_actor_is(void **st) {
    (void)st;
    stage_hub_t *h = stage_hub_new("a:1", 1);
    stage_id_t me = id_at("a:1", 5), there = id_at("b:1", 9), id;
    const char *node = NULL;
    assert_int_equal(stage_hub_place(h, 5, &node, &id), STAGE_HUB_PLACE_HERE);
    assert_null(node);
    stage_hub_move(h, &me, "b:1", 40);
    assert_int_equal(stage_hub_place(h, 5, &node, NULL),
                     STAGE_HUB_PLACE_MOVING);
    assert_string_equal(node, "b:1");
    stage_hub_exported(h, 5, 50);
    stage_hub_step_t s = step_of(STAGE_HUB_ARRIVED, &me, &there);
    stage_hub_step(h, "b:1", &s);
    node = NULL;
    assert_int_equal(stage_hub_place(h, 5, &node, &id), STAGE_HUB_PLACE_AWAY);
    assert_string_equal(node, "b:1");
    assert_int_equal(id.serial, 9);
    stage_hub_destroy(&h);
}

/* The actor a:1/5 lives at b:1 as b:1/9 and stops there: b:1 says GONE.
** Its home lets what it holds for it go (its names), once, and forgets
** it; a GONE from another node, or for an id it does not have there, is
** not believed. */
static void an_actor_that_stops_away_lets_its_home_drop_its_names(void **st) {
    (void)st;
    stage_hub_t *h = moved_away();
    stage_id_t me = id_at("a:1", 5), there = id_at("b:1", 9);
    stage_id_t elsewhere = id_at("b:1", 10);
    stage_hub_step_t s = step_of(STAGE_HUB_GONE, &me, &elsewhere);
    stage_hub_step(h, "b:1", &s); /* not its id there */
    collect(h);
    assert_int_equal(nfx, 0);
    s = step_of(STAGE_HUB_GONE, &me, &there);
    stage_hub_step(h, "c:1", &s); /* not from the node it is at */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_step(h, "b:1", &s);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_GONE);
    assert_int_equal(fx[0].serial, 5);
    assert_int_equal(stage_hub_place(h, 5, NULL, NULL), STAGE_HUB_PLACE_HERE);
    stage_hub_step(h, "b:1", &s); /* again: forgotten, nothing */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_destroy(&h);
}

/* A name given to a:1/5 while it lives at b:1 as b:1/9: b:1 is sent its
** record again (NAMES; the driver fills the record in). One given to an
** actor here, or that has no hub, sends nothing (its IMPORT carries it). */
static void a_name_given_away_goes_to_the_node_it_lives_on(void **st) {
    (void)st;
    stage_hub_t *h = moved_away();
    stage_hub_renamed(h, 5);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_STEP);
    assert_int_equal(fx[0].step.op, STAGE_HUB_NAMES);
    assert_string_equal(fx[0].node, "b:1");
    assert_string_equal(fx[0].step.home.node, "a:1");
    assert_int_equal(fx[0].step.home.serial, 5);
    assert_string_equal(fx[0].step.at.node, "b:1");
    assert_int_equal(fx[0].step.at.serial, 9);
    stage_hub_renamed(h, 6); /* never moved */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_destroy(&h);
}

/* A name given while the IMPORT is on its way (the IMPORT may have gone
** without it) goes to where the actor arrived, after what was held and
** before the next move's OUT; none if the move ends with the actor here. */
static void a_name_given_during_a_move_follows_it_once_it_arrived(void **st) {
    (void)st;
    stage_hub_t *h = importing();
    stage_id_t me = id_at("a:1", 5), there = id_at("b:1", 9);
    stage_hub_msg(h, 5, 1);
    stage_hub_renamed(h, 5);
    stage_hub_move(h, &me, "c:1", 41); /* queued behind */
    collect(h);
    assert_int_equal(nfx, 0);
    stage_hub_step_t s = step_of(STAGE_HUB_ARRIVED, &me, &there);
    stage_hub_step(h, "b:1", &s);
    collect(h);
    assert_int_equal(nfx, 5);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_DROP);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_ANSWER);
    assert_int_equal(fx[2].kind, STAGE_HUB_FX_FORWARD);
    assert_int_equal(fx[3].step.op, STAGE_HUB_NAMES);
    assert_string_equal(fx[3].node, "b:1");
    assert_int_equal(fx[3].step.at.serial, 9);
    assert_int_equal(fx[4].step.op, STAGE_HUB_OUT); /* the next move */
    assert_string_equal(fx[4].node, "b:1");
    stage_hub_destroy(&h);
    /* renamed during a move that fails: it is here, nothing to send */
    h = importing();
    stage_hub_renamed(h, 5);
    s = step_of(STAGE_HUB_FAILED, &me, NULL);
    s.status = STAGE_EHANDLER;
    stage_hub_step(h, "b:1", &s);
    collect(h);
    assert_int_equal(nfx, 2);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_RESTORE);
    assert_int_equal(fx[1].kind, STAGE_HUB_FX_ANSWER);
    stage_hub_destroy(&h);
}

/* The guest keeps the record its home sends last: an orphan takes itself
** over with it. A NAMES from another node than its home, or for an id it
** does not have, changes nothing; an empty one empties the record. */
static void a_guest_keeps_the_record_its_home_sends_last(void **st) {
    (void)st;
    stage_hub_t *h = with_guest();
    stage_id_t here = id_at("a:1", 11), home = id_at("h:1", 3);
    size_t len;
    assert_int_equal(stage_hub_record(h, 11, &len)[0], 'z');
    assert_int_equal(len, sizeof(stage_id_t));
    stage_hub_step_t s = step_of(STAGE_HUB_NAMES, &home, &here);
    s.formers = "\x92\x90\x91\xa5later";
    s.flen = 9;
    stage_hub_step(h, "h:1", &s);
    collect(h);
    assert_int_equal(nfx, 0);
    assert_memory_equal(stage_hub_record(h, 11, &len), s.formers, 9);
    assert_int_equal(len, 9);
    stage_id_t other = id_at("x:1", 3);
    stage_hub_step_t bad = step_of(STAGE_HUB_NAMES, &other, &here);
    bad.formers = "\x90";
    bad.flen = 1;
    stage_hub_step(h, "x:1", &bad); /* not its home */
    stage_id_t nobody = id_at("a:1", 12);
    bad = step_of(STAGE_HUB_NAMES, &home, &nobody);
    stage_hub_step(h, "h:1", &bad); /* not a guest here */
    collect(h);
    assert_int_equal(nfx, 0);
    assert_int_equal(stage_hub_record(h, 11, &len)[0], '\x92');
    assert_null(stage_hub_record(h, 12, &len));
    assert_int_equal(len, 0);
    stage_hub_node_down(h, "h:1", true);
    collect(h);
    assert_int_equal(nfx, 1);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_REHOMED);
    assert_int_equal(fx[0].step.flen, 9);
    assert_memory_equal(fx[0].step.formers, s.formers, 9);
    stage_hub_destroy(&h);
    h = with_guest(); /* its home's names all went: nothing to carry */
    s = step_of(STAGE_HUB_NAMES, &home, &here);
    stage_hub_step(h, "h:1", &s);
    assert_null(stage_hub_record(h, 11, &len));
    stage_hub_node_down(h, "h:1", true);
    collect(h);
    assert_int_equal(fx[0].kind, STAGE_HUB_FX_REHOMED);
    assert_int_equal(fx[0].step.flen, 0);
    stage_hub_destroy(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(messages_held_in_a_move_go_to_the_new_place_in_order),
        cmocka_unit_test(a_destination_that_dies_gives_the_actor_back),
        cmocka_unit_test(a_destination_never_reached_gives_the_actor_back),
        cmocka_unit_test(a_refused_import_takes_the_actor_back_with_the_reason),
        cmocka_unit_test(a_guest_asks_its_home_and_ships_its_image_home),
        cmocka_unit_test(a_guest_that_left_forwards_to_its_home),
        cmocka_unit_test(a_home_tells_the_nodes_an_actor_left_once_it_stops),
        cmocka_unit_test(a_drain_hands_its_tombs_to_their_homes),
        cmocka_unit_test(an_orphan_takes_itself_over_with_its_earlier_ids),
        cmocka_unit_test(an_orphan_whose_image_ships_home_stays_here),
        cmocka_unit_test(the_machine_says_where_an_actor_is),
        cmocka_unit_test(a_drain_hands_over_what_lives_elsewhere),
        cmocka_unit_test(an_actor_that_stops_away_lets_its_home_drop_its_names),
        cmocka_unit_test(a_name_given_away_goes_to_the_node_it_lives_on),
        cmocka_unit_test(a_name_given_during_a_move_follows_it_once_it_arrived),
        cmocka_unit_test(a_guest_keeps_the_record_its_home_sends_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
