/*
** tests/unit/test_alloc.c: the allocator hook (stage_replace_allocator) —
** what it refuses, and that Stage, its Lua states and libuv all allocate
** and free through the program's functions. One process: the hook is
** process-wide, and the tests run in order (the first installs it).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "stage/net.h"
#include "stage/stage.h"
#include "wire/mp.h"

/* ---- a counting allocator ------------------------------------------------
 */

static atomic_long calls, live;

static void *c_malloc(size_t n) {
    atomic_fetch_add(&calls, 1);
    void *p = malloc(n);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

static void *c_calloc(size_t n, size_t size) {
    atomic_fetch_add(&calls, 1);
    void *p = calloc(n, size);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

static void *c_realloc(void *old, size_t n) {
    atomic_fetch_add(&calls, 1);
    void *p = realloc(old, n);
    if (p && !old) atomic_fetch_add(&live, 1);
    return p;
}

static void c_free(void *p) {
    if (!p) return;
    atomic_fetch_sub(&live, 1);
    free(p);
}

/* ---- tests -----------------------------------------------------------------
 */

static void replace_allocator_refuses_a_partial_set(void **state) {
    (void)state;
    assert_int_equal(stage_replace_allocator(c_malloc, NULL, c_calloc, c_free),
                     STAGE_EINVAL);
    assert_int_equal(stage_replace_allocator(NULL, NULL, NULL, c_free),
                     STAGE_EINVAL);
}

static void replace_allocator_before_anything_is_taken(void **state) {
    (void)state;
    assert_int_equal(
        stage_replace_allocator(c_malloc, c_realloc, c_calloc, c_free), 0);
    /* and again, while Stage has allocated nothing yet */
    assert_int_equal(
        stage_replace_allocator(c_malloc, c_realloc, c_calloc, c_free), 0);
}

/* A script's node with a network: Stage's own blocks, its Lua states' and
** libuv's all come from c_* and all go back to c_free. */
static void every_block_comes_and_goes_through_the_hook(void **state) {
    (void)state;
    char path[] = "/tmp/stage_test_alloc_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char script[] = "local stage = require 'stage'\n"
                          "local T = stage.actor 'T'\n"
                          "function T:twice(x) return 2 * x end\n"
                          "function main(args)\n"
                          "  assert(T():twice(21):await() == 42)\n"
                          "  stage.exit(0)\n"
                          "end\n";
    assert_int_equal(write(fd, script, sizeof script - 1),
                     (ssize_t)sizeof script - 1);
    close(fd);
    long live0 = atomic_load(&live);
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    long calls0 = atomic_load(&calls);
    assert_true(calls0 > 0); /* the node itself */
    char err[256];
    assert_int_equal(stage_node_load_script(node, path, err, sizeof err), 0);
    /* two Lua states with their libraries: hundreds of blocks */
    assert_true(atomic_load(&calls) - calls0 > 200);
    stage_net_config_t nc;
    stage_net_config_init(&nc);
    nc.listen = "127.0.0.1:0";
    long calls1 = atomic_load(&calls);
    assert_int_equal(stage_node_network(node, &nc, err, sizeof err), 0);
    assert_true(atomic_load(&calls) > calls1);
    assert_int_equal(stage_node_run_main(node, 0, NULL), 0);
    assert_int_equal(stage_node_run(node), 0);
    stage_node_destroy(&node);
    unlink(path);
    /* every block went back through c_free (this thread's cache of small
    ** writer buffers, kept for its next packer, goes first) */
    stage__pack_cache_free();
    assert_int_equal(atomic_load(&live), live0);

    /* libuv's own functions allocate through the hook too */
    uv_interface_address_t *ifs;
    int n;
    long calls2 = atomic_load(&calls);
    assert_int_equal(uv_interface_addresses(&ifs, &n), 0);
    assert_true(atomic_load(&calls) > calls2);
    uv_free_interface_addresses(ifs, n);
}

static void replace_allocator_refuses_once_stage_holds_memory(void **state) {
    (void)state;
    assert_int_equal(stage_replace_allocator(NULL, NULL, NULL, NULL),
                     STAGE_EBUSY);
    /* nothing changed: a packer still allocates through c_malloc */
    long calls0 = atomic_load(&calls);
    stage_pack_t p = STAGE_PACK_INIT;
    char big[1000] = {0};
    stage_pack_str(&p, big, sizeof big);
    assert_int_equal(stage_pack_error(&p), 0);
    assert_true(atomic_load(&calls) > calls0);
    stage_pack_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replace_allocator_refuses_a_partial_set),
        cmocka_unit_test(replace_allocator_before_anything_is_taken),
        cmocka_unit_test(every_block_comes_and_goes_through_the_hook),
        cmocka_unit_test(replace_allocator_refuses_once_stage_holds_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
