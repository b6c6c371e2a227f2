/*
** tests/unit/test_net_addr.c: node addresses — what parses, and the
** canonical text peers are compared by.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "stage/errors.h"

/* The canonical form of text, or "" if it does not parse. */
static const char *canon(const char *text) {
    static char buf[STAGE_ADDR_MAX];
    struct sockaddr_storage ss;
    buf[0] = '\0';
    if (stage__addr_parse(text, &ss) == 0)
        assert_int_equal(
            stage__addr_format((struct sockaddr *)&ss, buf, sizeof buf), 0);
    return buf;
}

static void literal_addresses_parse_to_canonical_text(void **state) {
    (void)state;
    assert_string_equal(canon("127.0.0.1:7400"), "127.0.0.1:7400");
    assert_string_equal(canon("localhost:7400"), "127.0.0.1:7400");
    assert_string_equal(canon("10.0.0.2:0"), "10.0.0.2:0");
    assert_string_equal(canon("[::1]:7400"), "[::1]:7400");
    assert_string_equal(canon("[0:0::1]:80"), "[::1]:80");
    assert_string_equal(canon("0.0.0.0:65535"), "0.0.0.0:65535");
}

static void malformed_addresses_are_refused(void **state) {
    (void)state;
    const char *bad[] = {"",
                         ":7400",
                         "127.0.0.1",
                         "127.0.0.1:",
                         "127.0.0.1:65536",
                         "127.0.0.1:-1",
                         "127.0.0.1:7x",
                         "example.org:80",
                         "[::1:80",
                         "[]:80",
                         "300.1.1.1:80",
                         "[127.0.0.1]x:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sockaddr_storage ss;
        if (stage__addr_parse(bad[i], &ss) != STAGE_EINVAL)
            fail_msg("'%s' parsed", bad[i]);
    }
}

static void formatting_into_a_short_buffer_fails(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    char small[8];
    assert_int_equal(stage__addr_parse("127.0.0.1:7400", &ss), 0);
    assert_int_equal(
        stage__addr_format((struct sockaddr *)&ss, small, sizeof small),
        STAGE_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_addresses_parse_to_canonical_text),
        cmocka_unit_test(malformed_addresses_are_refused),
        cmocka_unit_test(formatting_into_a_short_buffer_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
