/*
** tests/unit/test_shared.c: the shared information of a node (thesis
** Listing 5.7) — a message that reaches a theatre its actor has left is
** forwarded to the theatre the shared information names.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/actor.h"
#include "core/kind.h"
#include "core/node.h"
#include "stage/stage.h"

static int hits;

static void hit(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    hits += 1 + stage_ctx_theatre(ctx) * 100; /* which theatre ran it */
}

static const stage_method_t methods[] = {{"hit", hit}, {NULL, NULL}};
static const stage_type_def_t type = {.name = "Mover", .methods = methods};

/* An actor born in theatre 0 (by its serial) that lives in theatre 1. */
static stage_node_t *node_with_moved_actor(stage_id_t *id, bool shared) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    assert_int_equal(stage_type_register(node, &type), 0);
    stage__type_t *ty = stage__type_find(node, "Mover");
    uint64_t serial = stage__serial_reserve(stage__node_theatre(node, 0));
    assert_non_null(
        stage__actor_new(stage__node_theatre(node, 1), ty, serial, NULL));
    if (shared) stage__shared_set(node, serial, 1);
    stage__make_id(node, serial, ty, id);
    assert_int_equal(id->theatre, 0);
    return node;
}

static void
shared_info_forwards_to_the_theatre_an_actor_moved_to(void **state) {
    (void)state;
    stage_id_t id;
    stage_node_t *node = node_with_moved_actor(&id, true);
    hits = 0;
    assert_int_equal(stage_node_send(node, &id, "hit", NULL, 0, NULL), 0);
    assert_int_equal(stage_node_run(node), 0);
    assert_int_equal(hits, 101); /* handled once, in theatre 1 */
    stage_node_destroy(&node);
}

static void without_shared_info_the_message_is_not_found(void **state) {
    (void)state;
    stage_id_t id;
    stage_node_t *node = node_with_moved_actor(&id, false);
    hits = 0;
    stage_future_t *f;
    stage_node_hold(node);
    assert_int_equal(stage_node_start(node), 0);
    assert_int_equal(stage_node_send(node, &id, "hit", NULL, 0, &f), 0);
    stage_result_t r;
    assert_int_equal(stage_future_wait(f, 10, &r), 0);
    assert_int_equal(r.status, STAGE_EACTOR_NOT_FOUND);
    stage_future_release(&f);
    stage_node_release(node);
    stage_node_wait(node);
    assert_int_equal(hits, 0);
    stage_node_destroy(&node);
}

static void shared_info_entries_can_be_removed(void **state) {
    (void)state;
    stage_id_t id;
    stage_node_t *node = node_with_moved_actor(&id, true);
    assert_int_equal(stage__shared_lookup(node, id.serial), 1);
    stage__shared_remove(node, id.serial);
    assert_int_equal(stage__shared_lookup(node, id.serial), -1);
    stage_node_destroy(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_info_forwards_to_the_theatre_an_actor_moved_to),
        cmocka_unit_test(without_shared_info_the_message_is_not_found),
        cmocka_unit_test(shared_info_entries_can_be_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
