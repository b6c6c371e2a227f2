/*
** tests/unit/test_move_refuse.c: a move step for an actor that is not on
** this node is answered, so that nobody waits for it (core/move.c,
** refuse_step). The home asking for the actor (OUT) hears REFUSED, and a
** home handing it over (ADOPT, its drain) hears ADOPTED with the status:
** ActorNotFound for an id of this run with no such theatre, NodeDown for
** an id of an earlier run at this address (the actor was lost with it).
** The network is replaced by a hook that records what would be sent.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/move.h"
#include "core/netif.h"
#include "core/node.h"
#include "stage/stage.h"

static stage__move_msg_t sent;
static char sent_to[64], sent_why[512];
static int nsent;

static void move_hook(stage_node_t *node, const char *to,
                      const stage__move_msg_t *m, stage__future_t *f) {
    (void)node;
    (void)f;
    sent = *m;
    snprintf(sent_to, sizeof sent_to, "%s", to);
    snprintf(sent_why, sizeof sent_why, "%.*s", (int)m->len,
             m->data ? m->data : "");
    sent.data = sent_why;
    nsent++;
}

static stage_node_t *node_new(void) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    stage__net_hooks_t hooks = {.move = move_hook};
    stage__node_set_net_hooks(node, &hooks, NULL);
    nsent = 0;
    return node;
}

/* An id of this node, of incarnation inc, on theatre th. */
static stage_id_t id_of(stage_node_t *node, uint32_t inc, int th) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", stage_node_address(node));
    id.incarnation = inc;
    id.theatre = (uint16_t)th;
    id.serial = (uint64_t)7 << 8 | (uint64_t)th;
    snprintf(id.type, sizeof id.type, "T");
    return id;
}

/* Step op for id, from the node at 127.0.0.1:1. */
static void step(stage_node_t *node, int op, const stage_id_t *id) {
    stage__move_msg_t q = {.op = op, .home = *id, .at = *id};
    stage__move_net_in(node, "127.0.0.1:1", &q, NULL);
}

static void out_no_theatre(void **state) {
    (void)state;
    stage_node_t *node = node_new();
    stage_id_t id = id_of(node, stage__node_incarnation(node), 9);
    step(node, STAGE__MOVE_OUT, &id);
    assert_int_equal(nsent, 1);
    assert_string_equal(sent_to, "127.0.0.1:1");
    assert_int_equal(sent.op, STAGE__MOVE_REFUSED);
    assert_int_equal(sent.status, STAGE_EACTOR_NOT_FOUND);
    assert_true(stage_id_equal(&sent.at, &id));
    assert_non_null(strstr(sent_why, "not found on node"));
    stage_node_destroy(&node);
}

static void out_earlier_run(void **state) {
    (void)state;
    stage_node_t *node = node_new();
    stage_id_t id = id_of(node, stage__node_incarnation(node) + 1, 0);
    step(node, STAGE__MOVE_OUT, &id);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent.op, STAGE__MOVE_REFUSED);
    assert_int_equal(sent.status, STAGE_ENODE_DOWN);
    assert_non_null(strstr(sent_why, "restarted: the actor is lost"));
    stage_node_destroy(&node);
}

static void adopt_answered(void **state) {
    (void)state;
    stage_node_t *node = node_new();
    stage_id_t gone = id_of(node, stage__node_incarnation(node), 9);
    step(node, STAGE__MOVE_ADOPT, &gone);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent.op, STAGE__MOVE_ADOPTED);
    assert_int_equal(sent.status, STAGE_EACTOR_NOT_FOUND);
    assert_true(stage_id_equal(&sent.home, &gone));
    stage_id_t lost = id_of(node, stage__node_incarnation(node) + 1, 0);
    step(node, STAGE__MOVE_ADOPT, &lost);
    assert_int_equal(nsent, 2);
    assert_int_equal(sent.op, STAGE__MOVE_ADOPTED);
    assert_int_equal(sent.status, STAGE_ENODE_DOWN);
    stage_node_destroy(&node);
}

/* Steps nobody waits for are logged, not answered; and so are steps for
** an actor of another address: an answer may speak only for this one's
** (the home would drop it). */
static void others_logged(void **state) {
    (void)state;
    stage_node_t *node = node_new();
    stage_id_t id = id_of(node, stage__node_incarnation(node), 9);
    step(node, STAGE__MOVE_NAMES, &id);
    assert_int_equal(nsent, 0);
    snprintf(id.node, sizeof id.node, "127.0.0.1:2");
    step(node, STAGE__MOVE_OUT, &id);
    step(node, STAGE__MOVE_ADOPT, &id);
    assert_int_equal(nsent, 0);
    stage_node_destroy(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(out_no_theatre),
        cmocka_unit_test(out_earlier_run),
        cmocka_unit_test(adopt_answered),
        cmocka_unit_test(others_logged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
