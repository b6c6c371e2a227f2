/*
** tests/unit/test_id.c: the text form of actor ids and type name rules
** (stage/id.h).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stage/errors.h"
#include "stage/id.h"
#include "wire/mp.h"

static int parse(stage_id_t *id, const char *text) {
    return stage_id_parse(id, text, strlen(text));
}

static void round_trip(const char *text) {
    stage_id_t id;
    char buf[STAGE_ID_TEXT_MAX];
    assert_int_equal(parse(&id, text), 0);
    assert_int_equal(stage_id_format(&id, buf, sizeof buf), (int)strlen(text));
    assert_string_equal(buf, text);
}

static void parse_reads_every_part(void **state) {
    (void)state;
    stage_id_t id;
    assert_int_equal(parse(&id, "127.0.0.1:7400~2a/0/Area/17"), 0);
    assert_string_equal(id.node, "127.0.0.1:7400");
    assert_int_equal(id.incarnation, 0x2a);
    assert_int_equal(id.theatre, 0);
    assert_string_equal(id.type, "Area");
    assert_int_equal(id.serial, 17);
}

static void text_forms_round_trip(void **state) {
    (void)state;
    round_trip("127.0.0.1:7400~2a/0/Area/17");
    round_trip("local~1/0/Area/17");
    round_trip("[::1]:7400~ffffffff/65535/Chat.Room-2_x/18446744073709551615");
    round_trip("[2001:db8::ff00:42:8329]:1~0/3/a/0");
    round_trip("node-7.example.org:65535~abc/12/_T/1");
}

static void ids_format_and_parse_back(void **state) {
    (void)state;
    stage_id_t id, back;
    char buf[STAGE_ID_TEXT_MAX];
    memset(&id, 0, sizeof id);
    memset(id.node, 'n', 58);
    memcpy(id.node + 58, ".h:80", 5); /* 63 bytes: the longest address */
    memset(id.type, 'T', STAGE_TYPE_MAX - 1);
    id.incarnation = UINT32_MAX;
    id.theatre = UINT16_MAX;
    id.serial = UINT64_MAX;
    int n = stage_id_format(&id, buf, sizeof buf);
    assert_true(n > 0 && n < STAGE_ID_TEXT_MAX);
    assert_int_equal(stage_id_parse(&back, buf, (size_t)n), 0);
    assert_true(stage_id_equal(&id, &back));
    assert_int_equal(stage_id_format(&id, buf, (size_t)n), STAGE_ETOOBIG);
    assert_int_equal(stage_id_format(&id, buf, (size_t)n + 1), n);
}

static void bad_text_is_rejected(void **state) {
    (void)state;
    static const char *bad[] = {
        "",
        "local",
        "local~1/0/Area",                      /* no serial */
        "local~1/0/Area/",                     /* empty serial */
        "local~/0/Area/1",                     /* empty incarnation */
        "local~1//Area/1",                     /* empty theatre */
        "local~1/0//1",                        /* empty type */
        "~1/0/Area/1",                         /* empty node */
        "localhost~1/0/Area/1",                /* node without a port */
        "host:0~1/0/Area/1",                   /* port 0 */
        "host:65536~1/0/Area/1",               /* port too big */
        "host:07400~1/0/Area/1",               /* port with a leading zero */
        "host:~1/0/Area/1",                    /* empty port */
        ":7400~1/0/Area/1",                    /* empty host */
        "[::1~1/0/Area/1",                     /* unclosed bracket */
        "[]:1~1/0/Area/1",                     /* empty v6 */
        "[x::1]:1~1/0/Area/1",                 /* not hex */
        "ho st:1~1/0/Area/1",                  /* space in the host */
        "local~1/0/Area/17x",                  /* trailing bytes */
        "local~1/0/Area/17/",                  /* trailing slash */
        "local~1/0/9Area/1",                   /* type starting with a digit */
        "local~1/0/Ar ea/1",                   /* space in the type */
        "local~1/0/Ar~ea/1",                   /* '~' in the type */
        "local~100000000/0/Area/1",            /* incarnation over 32 bits */
        "local~2A/0/Area/1",                   /* uppercase hex */
        "local~02a/0/Area/1",                  /* leading zero */
        "local~1/65536/Area/1",                /* theatre over 16 bits */
        "local~1/00/Area/1",                   /* leading zero */
        "local~1/-1/Area/1",                   /* sign */
        "local~1/0/Area/18446744073709551616", /* serial over 64 bits */
        "local~1/0/Area/+1",
        "local~1/0/Area/017",
        "local~1~1/0/Area/1",
        "[::1]~1/0/Area/1",    /* v6 without a port */
        "[::1]:~1/0/Area/1",   /* v6 with an empty port */
        "[::1]x:1~1/0/Area/1", /* junk after the bracket */
        "[:1]:1~1/0/Area/1",   /* one ':' is not v6 */
        "h:1:2~1/0/Area/1",    /* two ports */
        "loca~1/0/Area/1",     /* neither local nor host:port */
        "locals~1/0/Area/1",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        stage_id_t id;
        memset(&id, 0x5a, sizeof id);
        if (parse(&id, bad[k]) != STAGE_EINVAL)
            fail_msg("accepted '%s'", bad[k]);
        for (size_t i = 0; i < sizeof id; i++)
            assert_int_equal(((unsigned char *)&id)[i], 0x5a); /* untouched */
    }
}

static void over_long_parts_are_rejected(void **state) {
    (void)state;
    char text[400];
    stage_id_t id;
    /* a 64-byte node address (one too many) */
    memset(text, 'n', 59);
    strcpy(text + 59, ".h:80~1/0/A/1");
    assert_int_equal(parse(&id, text), STAGE_EINVAL);
    text[0] = '\0';
    strcpy(text, "local~1/0/");
    memset(text + 10, 'T', 64); /* a 64-byte type name */
    strcpy(text + 74, "/1");
    assert_int_equal(parse(&id, text), STAGE_EINVAL);
    memset(text + 10, 'T', 63);
    strcpy(text + 73, "/1");
    assert_int_equal(parse(&id, text), 0);
}

static void parse_does_not_read_past_len(void **state) {
    (void)state;
    stage_id_t id;
    const char *text = "local~1/0/Area/17";
    assert_int_equal(stage_id_parse(&id, text, strlen(text) - 1), 0);
    assert_int_equal(id.serial, 1);
    assert_int_equal(stage_id_parse(&id, "local~1/0/Area/1\0", 17),
                     STAGE_EINVAL); /* an embedded NUL is not an id */
}

static void equal_compares_every_part(void **state) {
    (void)state;
    stage_id_t a, b;
    assert_int_equal(parse(&a, "local~1/0/Area/17"), 0);
    assert_int_equal(parse(&b, "local~1/0/Area/17"), 0);
    assert_true(stage_id_equal(&a, &b));
    static const char *others[] = {"local~2/0/Area/17", "local~1/1/Area/17",
                                   "local~1/0/Area/18", "host:1~1/0/Area/17",
                                   "local~1/0/Arena/17"};
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(parse(&b, others[k]), 0);
        assert_false(stage_id_equal(&a, &b));
    }
}

static void type_names_follow_the_documented_rule(void **state) {
    (void)state;
    char long_name[80];
    assert_true(stage_type_name_valid("Area"));
    assert_true(stage_type_name_valid("a"));
    assert_true(stage_type_name_valid("_x.y-z9"));
    assert_true(stage_type_name_valid(".hidden"));
    assert_false(stage_type_name_valid(""));
    assert_false(stage_type_name_valid(NULL));
    assert_false(stage_type_name_valid("9lives"));
    assert_false(stage_type_name_valid("with space"));
    assert_false(stage_type_name_valid("a/b"));
    assert_false(stage_type_name_valid("caf\xc3\xa9"));
    memset(long_name, 'x', 63);
    long_name[63] = '\0';
    assert_true(stage_type_name_valid(long_name));
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    assert_false(stage_type_name_valid(long_name));
}

/* A node address given by a user is named as the transport names its
** peers: "localhost" is 127.0.0.1, IPv6 as inet_ntop writes it; a host
** name (no node is reached by one) or a bad address is refused. */
static void node_addresses_take_their_canonical_form(void **state) {
    (void)state;
    static const char *const same[][2] = {
        {"127.0.0.1:7400", "127.0.0.1:7400"},
        {"localhost:7400", "127.0.0.1:7400"},
        {"10.1.2.3:1", "10.1.2.3:1"},
        {"[::1]:7400", "[::1]:7400"},
        {"[0:0:0:0:0:0:0:1]:7400", "[::1]:7400"},
        {"[FE80::1]:65535", "[fe80::1]:65535"},
    };
    char out[STAGE_ADDR_MAX];
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        assert_int_equal(stage__node_addr_canon(same[i][0], out, sizeof out),
                         0);
        assert_string_equal(out, same[i][1]);
    }
    static const char *const bad[] = {
        "local",
        "example.com:7400",
        "999.1.1.1:80",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "[::1]",
        "[localhost]:1",
        "1.2.3:7400",
        "::1:7400",
        "",
        NULL,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(stage__node_addr_canon(bad[i], out, sizeof out),
                         STAGE_EINVAL);
    /* too small a buffer: refused, not cut */
    assert_int_equal(stage__node_addr_canon("localhost:7400", out, 14),
                     STAGE_EINVAL);
    assert_int_equal(stage__node_addr_canon("localhost:7400", out, 15), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_reads_every_part),
        cmocka_unit_test(text_forms_round_trip),
        cmocka_unit_test(ids_format_and_parse_back),
        cmocka_unit_test(bad_text_is_rejected),
        cmocka_unit_test(over_long_parts_are_rejected),
        cmocka_unit_test(parse_does_not_read_past_len),
        cmocka_unit_test(equal_compares_every_part),
        cmocka_unit_test(type_names_follow_the_documented_rule),
        cmocka_unit_test(node_addresses_take_their_canonical_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
