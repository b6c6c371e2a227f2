/* tests/unit/test_u64map.c: the 64-bit key map (calls and DHT requests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stage/errors.h"
#include "util/u64map.h"

static void u64map_keeps_what_was_put(void **state) {
    (void)state;
    stage_u64map_t m = STAGE_U64MAP_INIT;
    static int vals[5000];
    for (uint64_t k = 1; k <= 5000; k++)
        assert_int_equal(stage__u64map_put(&m, k * 7919, &vals[k - 1]), 0);
    assert_int_equal(m.count, 5000);
    for (uint64_t k = 1; k <= 5000; k++)
        assert_ptr_equal(stage__u64map_get(&m, k * 7919), &vals[k - 1]);
    assert_null(stage__u64map_get(&m, 3));
    stage__u64map_free(&m);
}

static void u64map_take_removes_and_keeps_the_rest_findable(void **state) {
    (void)state;
    stage_u64map_t m = STAGE_U64MAP_INIT;
    static int v[2000];
    for (uint64_t k = 1; k <= 2000; k++)
        stage__u64map_put(&m, k, &v[k - 1]);
    for (uint64_t k = 1; k <= 2000; k += 2)
        assert_ptr_equal(stage__u64map_take(&m, k), &v[k - 1]);
    assert_int_equal(m.count, 1000);
    for (uint64_t k = 1; k <= 2000; k++) {
        if (k % 2)
            assert_null(stage__u64map_get(&m, k));
        else
            assert_ptr_equal(stage__u64map_get(&m, k), &v[k - 1]);
    }
    assert_null(stage__u64map_take(&m, 1)); /* already gone */
    stage__u64map_free(&m);
}

static void u64map_refuses_key_zero(void **state) {
    (void)state;
    stage_u64map_t m = STAGE_U64MAP_INIT;
    int x;
    assert_int_equal(stage__u64map_put(&m, 0, &x), STAGE_EINVAL);
    assert_null(stage__u64map_get(&m, 0));
    assert_int_equal(stage__u64map_put(&m, 5, &x), 0);
    assert_int_equal(stage__u64map_put(&m, 5, NULL), 0); /* replace */
    assert_int_equal(m.count, 1);
    stage__u64map_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(u64map_keeps_what_was_put),
        cmocka_unit_test(u64map_take_removes_and_keeps_the_rest_findable),
        cmocka_unit_test(u64map_refuses_key_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
