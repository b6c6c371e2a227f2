/*
** tests/unit/test_types.c: a node's types are published whole. A `stage
** node` listens before its script has defined its types, so its network
** thread may look a type up (a peer moves an actor here) while the main
** thread is still adding types: whatever it finds must have its policy
** already, never the defaults it had for a moment. Under TSan, a field
** written after the type is published is a reported data race.
*/
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/kind.h"
#include "stage/stage.h"

#define NTYPES 200

static char names[NTYPES][16];
static stage_type_def_t defs[NTYPES];

static void nop(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)ctx;
    (void)state;
    (void)m;
}

static const stage_method_t methods[] = {{"nop", nop}, {NULL, NULL}};

typedef struct reader {
    stage_node_t *node;
    int whole; /* types found with their own policy */
} reader_t;

/* Find each type in the order it is added, as soon as it is there. */
static void *read_types(void *arg) {
    reader_t *r = arg;
    for (int i = 0; i < NTYPES; i++) {
        stage__type_t *ty;
        while (!(ty = stage__type_find(r->node, names[i])))
            sched_yield();
        if (ty->on_error == STAGE_ON_ERROR_STOP && ty->max_restarts == 3 &&
            ty->restart_window == 2.5)
            r->whole++;
    }
    return NULL;
}

/* A node of one theatre, not started. */
static stage_node_t *node_new(void) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    return node;
}

static void a_type_found_from_another_thread_has_its_policy(void **state) {
    (void)state;
    stage_node_t *node = node_new();
    for (int i = 0; i < NTYPES; i++) {
        snprintf(names[i], sizeof names[i], "Policy%d", i);
        defs[i] = (stage_type_def_t){.name = names[i],
                                     .methods = methods,
                                     .on_error = STAGE_ON_ERROR_STOP,
                                     .max_restarts = 3,
                                     .restart_window = 2.5};
    }
    reader_t r = {node, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_types, &r), 0);
    for (int i = 0; i < NTYPES; i++)
        assert_int_equal(stage_type_register(node, &defs[i]), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.whole, NTYPES);
    stage_node_destroy(&node);
}

/* A def's policy is checked before anything is added. */
static void a_bad_policy_adds_no_type(void **state) {
    (void)state;
    stage_node_t *node = node_new();
    stage_type_def_t def = {.name = "Bad", .methods = methods};
    def.restart_window = -1;
    assert_int_equal(stage_type_register(node, &def), STAGE_EINVAL);
    def.restart_window = 0;
    def.max_restarts = -2;
    assert_int_equal(stage_type_register(node, &def), STAGE_EINVAL);
    def.max_restarts = 0;
    def.on_error = (stage_on_error_t)7;
    assert_int_equal(stage_type_register(node, &def), STAGE_EINVAL);
    assert_null(stage__type_find(node, "Bad"));
    def.on_error = STAGE_ON_ERROR_KEEP; /* zeros: the defaults */
    assert_int_equal(stage_type_register(node, &def), 0);
    stage__type_t *ty = stage__type_find(node, "Bad");
    assert_non_null(ty);
    assert_int_equal(ty->on_error, STAGE_ON_ERROR_KEEP);
    assert_int_equal(ty->max_restarts, STAGE_MAX_RESTARTS);
    assert_true(ty->restart_window == STAGE_RESTART_WINDOW);
    stage_node_destroy(&node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_type_found_from_another_thread_has_its_policy),
        cmocka_unit_test(a_bad_policy_adds_no_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
