/*
** tests/unit/test_pack.c: the msgpack writer and the hostile-input cursor
** (stage/pack.h): every integer width and boundary, str/bin/array/map size
** classes, ids, and each class of malformed input.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stage/errors.h"
#include "stage/pack.h"

static stage_id_t make_id(const char *node, const char *type, uint64_t serial) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    strcpy(id.node, node);
    strcpy(id.type, type);
    id.incarnation = 0x2a;
    id.theatre = 3;
    id.serial = serial;
    return id;
}

static void int_round_trip(int64_t v, size_t want_len, uint8_t want_tag) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, v);
    assert_int_equal(stage_pack_error(&p), 0);
    assert_int_equal(p.len, want_len);
    assert_int_equal((uint8_t)p.data[0], want_tag);
    stage_unpack_t u;
    int64_t got = 0;
    stage_unpack_init(&u, p.data, p.len);
    assert_int_equal(stage_unpack_peek(&u), STAGE_T_INT);
    assert_int_equal(stage_unpack_int(&u, &got), 0);
    assert_true(got == v);
    assert_int_equal(stage_unpack_peek(&u), STAGE_T_END);
    assert_int_equal(stage_pack_validate(p.data, p.len, 1), 0);
    stage_pack_free(&p);
}

static void integers_use_the_smallest_width_and_round_trip(void **state) {
    (void)state;
    int_round_trip(0, 1, 0x00);
    int_round_trip(127, 1, 0x7f);
    int_round_trip(128, 2, 0xcc);
    int_round_trip(255, 2, 0xcc);
    int_round_trip(256, 3, 0xcd);
    int_round_trip(65535, 3, 0xcd);
    int_round_trip(65536, 5, 0xce);
    int_round_trip(UINT32_MAX, 5, 0xce);
    int_round_trip((int64_t)UINT32_MAX + 1, 9, 0xcf);
    int_round_trip(INT64_MAX, 9, 0xcf);
    int_round_trip(-1, 1, 0xff);
    int_round_trip(-32, 1, 0xe0);
    int_round_trip(-33, 2, 0xd0);
    int_round_trip(INT8_MIN, 2, 0xd0);
    int_round_trip(INT8_MIN - 1, 3, 0xd1);
    int_round_trip(INT16_MIN, 3, 0xd1);
    int_round_trip(INT16_MIN - 1, 5, 0xd2);
    int_round_trip(INT32_MIN, 5, 0xd2);
    int_round_trip((int64_t)INT32_MIN - 1, 9, 0xd3);
    int_round_trip(INT64_MIN, 9, 0xd3);
}

static void big_unsigned_is_not_an_int_but_reads_as_double(void **state) {
    (void)state;
    const char b[] = "\xcf\xff\xff\xff\xff\xff\xff\xff\xff";
    stage_unpack_t u;
    int64_t i;
    double d;
    stage_unpack_init(&u, b, 9);
    assert_int_equal(stage_unpack_int(&u, &i), STAGE_EDECODE);
    assert_int_equal(u.err, 0); /* a wrong type, not malformed */
    assert_int_equal(stage_unpack_double(&u, &d), 0);
    assert_true(d == 18446744073709551615.0);
}

static void doubles_stay_doubles_and_float32_reads(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_double(&p, 1.5);
    stage_pack_double(&p, -0.0);
    stage_pack_raw(&p, "\xca\x3f\xc0\x00\x00", 5); /* float32 1.5 */
    stage_pack_int(&p, 7);
    assert_int_equal(p.len, 9 + 9 + 5 + 1);
    stage_unpack_t u;
    double d;
    int64_t i;
    stage_unpack_init(&u, p.data, p.len);
    assert_int_equal(stage_unpack_peek(&u), STAGE_T_DOUBLE);
    assert_int_equal(stage_unpack_int(&u, &i), STAGE_EDECODE);
    assert_int_equal(stage_unpack_double(&u, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(stage_unpack_double(&u, &d), 0);
    assert_true(d == 0.0);
    assert_int_equal(stage_unpack_double(&u, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(stage_unpack_double(&u, &d), 0); /* int as double */
    assert_true(d == 7.0);
    stage_pack_free(&p);
}

static void str_round_trip(size_t len, uint8_t tag, size_t hdr) {
    char *s = calloc(1, len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(i * 7);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_str(&p, s, len);
    stage_pack_bin(&p, s, len);
    assert_int_equal(p.len, hdr + len + (len < 32 ? hdr + 1 : hdr) + len);
    assert_int_equal((uint8_t)p.data[0], tag);
    stage_unpack_t u;
    const char *got;
    size_t n;
    stage_unpack_init(&u, p.data, p.len);
    assert_int_equal(stage_unpack_bin(&u, &got, &n), STAGE_EDECODE);
    assert_int_equal(stage_unpack_str(&u, &got, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(got, s, len);
    assert_int_equal(stage_unpack_peek(&u), STAGE_T_BIN);
    assert_int_equal(stage_unpack_bin(&u, &got, &n), 0);
    assert_int_equal(n, len);
    assert_true(len == 0 || memcmp(got, s, len) == 0);
    assert_int_equal(stage_pack_validate(p.data, p.len, 2), 0);
    stage_pack_free(&p);
    free(s);
}

static void strings_and_bins_of_every_size_class(void **state) {
    (void)state;
    str_round_trip(0, 0xa0, 1);
    str_round_trip(31, 0xbf, 1);
    str_round_trip(32, 0xd9, 2);
    str_round_trip(255, 0xd9, 2);
    str_round_trip(256, 0xda, 3);
    str_round_trip(65535, 0xda, 3);
    str_round_trip(65536, 0xdb, 5);
}

static void containers_of_every_size_class(void **state) {
    (void)state;
    static const uint32_t sizes[] = {0, 15, 16, 65535, 65536};
    static const uint8_t atag[] = {0x90, 0x9f, 0xdc, 0xdc, 0xdd};
    static const uint8_t mtag[] = {0x80, 0x8f, 0xde, 0xde, 0xdf};
    for (int k = 0; k < 5; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_array(&p, sizes[k]);
        for (uint32_t i = 0; i < sizes[k]; i++)
            stage_pack_nil(&p);
        stage_pack_map(&p, sizes[k]);
        for (uint32_t i = 0; i < sizes[k]; i++) {
            stage_pack_int(&p, i);
            stage_pack_bool(&p, i & 1);
        }
        assert_int_equal((uint8_t)p.data[0], atag[k]);
        assert_int_equal(stage_pack_validate(p.data, p.len, 2), 0);
        stage_unpack_t u;
        uint32_t n;
        stage_unpack_init(&u, p.data, p.len);
        assert_int_equal(stage_unpack_map(&u, &n), STAGE_EDECODE);
        assert_int_equal(stage_unpack_array(&u, &n), 0);
        assert_int_equal(n, sizes[k]);
        for (uint32_t i = 0; i < n; i++)
            assert_int_equal(stage_unpack_nil(&u), 0);
        assert_int_equal((uint8_t)*u.p, mtag[k]);
        assert_int_equal(stage_unpack_map(&u, &n), 0);
        assert_int_equal(n, sizes[k]);
        for (uint32_t i = 0; i < n; i++) {
            int64_t key;
            bool v;
            assert_int_equal(stage_unpack_int(&u, &key), 0);
            assert_int_equal(stage_unpack_bool(&u, &v), 0);
            assert_true(key == i && v == (i & 1));
        }
        assert_int_equal(stage_unpack_peek(&u), STAGE_T_END);
        stage_pack_free(&p);
    }
}

static void ids_round_trip_as_ext_1(void **state) {
    (void)state;
    const char *nodes[] = {"local", "127.0.0.1:7400", "[::1]:7400",
                           "a-very-long-host-name.example.org:65535"};
    for (int k = 0; k < 4; k++) {
        stage_id_t id = make_id(nodes[k], "Area", UINT64_MAX - (uint64_t)k);
        id.incarnation = UINT32_MAX;
        id.theatre = UINT16_MAX;
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_id(&p, &id);
        assert_int_equal(stage_pack_error(&p), 0);
        assert_int_equal((uint8_t)p.data[0], 0xc7);
        assert_int_equal((uint8_t)p.data[2], STAGE_MSGPACK_EXT_ID);
        assert_int_equal(p.len, 3 + 16 + strlen(nodes[k]) + 4);
        stage_unpack_t u;
        stage_id_t got;
        stage_unpack_init(&u, p.data, p.len);
        assert_int_equal(stage_unpack_peek(&u), STAGE_T_ID);
        assert_int_equal(stage_unpack_id(&u, &got), 0);
        assert_string_equal(got.node, nodes[k]);
        assert_string_equal(got.type, "Area");
        assert_true(got.incarnation == UINT32_MAX);
        assert_int_equal(got.theatre, UINT16_MAX);
        assert_true(got.serial == UINT64_MAX - (uint64_t)k);
        assert_int_equal(stage_pack_validate(p.data, p.len, 1), 0);
        stage_pack_free(&p);
    }
}

static void ids_encode_as_documented(void **state) {
    (void)state;
    /* docs/protocol.md, "Actor ids": 127.0.0.1:7400~2a/0/Area/17 */
    static const char want[] = "\xc7\x22\x01"
                               "\x0e"
                               "127.0.0.1:7400"
                               "\x00\x00\x00\x2a"
                               "\x00\x00"
                               "\x00\x00\x00\x00\x00\x00\x00\x11"
                               "\x04"
                               "Area";
    stage_id_t id = make_id("127.0.0.1:7400", "Area", 17);
    id.theatre = 0;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_id(&p, &id);
    assert_int_equal(p.len, sizeof want - 1);
    assert_memory_equal(p.data, want, p.len);
    stage_pack_free(&p);
}

static void writing_an_invalid_id_is_a_sticky_error(void **state) {
    (void)state;
    stage_id_t bad_type = make_id("local", "9Area", 1);
    stage_id_t bad_node = make_id("host-without-port", "Area", 1);
    stage_id_t long_type = make_id("local", "A", 1);
    memset(long_type.type, 'A', sizeof long_type.type); /* no NUL */
    const stage_id_t *ids[] = {&bad_type, &bad_node, &long_type};
    for (int k = 0; k < 3; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_id(&p, ids[k]);
        stage_pack_int(&p, 1);
        assert_int_equal(stage_pack_error(&p), STAGE_EINVAL);
        assert_int_equal(p.len, 0);
        stage_pack_reset(&p);
        stage_pack_int(&p, 1);
        assert_int_equal(stage_pack_error(&p), 0);
        assert_int_equal(p.len, 1);
        stage_pack_free(&p);
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_cstr(&p, NULL);
    assert_int_equal(stage_pack_error(&p), STAGE_EINVAL);
    stage_pack_free(&p);
}

/* An ext 8 id with the given payload. */
static size_t id_ext(char *out, const char *payload, size_t len) {
    out[0] = (char)0xc7;
    out[1] = (char)len;
    out[2] = STAGE_MSGPACK_EXT_ID;
    memcpy(out + 3, payload, len);
    return 3 + len;
}

static void bad_id_payloads_are_malformed(void **state) {
    (void)state;
    /* A good payload: node "local", numbers, type "Area". */
    char good[64], b[80];
    size_t n = 0;
    good[n++] = 5;
    memcpy(good + n, "local", 5);
    n += 5;
    memset(good + n, 0, 14);
    n += 14;
    good[n++] = 4;
    memcpy(good + n, "Area", 4);
    n += 4;
    stage_id_t id;
    stage_unpack_t u;
    size_t bl = id_ext(b, good, n);
    stage_unpack_init(&u, b, bl);
    assert_int_equal(stage_unpack_id(&u, &id), 0);

    char p[64];
    struct {
        size_t at;
        char byte;
        size_t len;
    } cases[] = {
        {0, 0, n},     /* empty node */
        {0, 60, n},    /* node length past the payload */
        {2, '\0', n},  /* NUL in the node */
        {2, '/', n},   /* node that is not an address */
        {20, 0, n},    /* empty type */
        {20, 5, n},    /* type length past the end */
        {20, 3, n},    /* type length short of the end */
        {21, '7', n},  /* type starting with a digit */
        {22, '\0', n}, /* NUL in the type */
        {22, ' ', n},  /* space in the type */
        {0, 5, n - 1}, /* truncated payload */
        {0, 5, 17},    /* too short for any id */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(p, good, n);
        p[cases[k].at] = cases[k].byte;
        bl = id_ext(b, p, cases[k].len);
        stage_unpack_init(&u, b, bl);
        assert_int_equal(stage_unpack_peek(&u), STAGE_T_ID);
        assert_int_equal(stage_unpack_id(&u, &id), STAGE_EDECODE);
        assert_int_equal(u.err, STAGE_EDECODE);
        assert_int_equal(stage_pack_validate(b, bl, 1), STAGE_EDECODE);
    }
}

static void other_ext_types_are_skipped(void **state) {
    (void)state;
    /* fixext 1..16, ext 8/16/32 of type 5 and a timestamp (-1), then 1 */
    static const char b[] = "\xd4\x05\x01"
                            "\xd5\x05\x01\x02"
                            "\xd6\xff\x00\x00\x00\x00"
                            "\xd7\x05\x01\x02\x03\x04\x05\x06\x07\x08"
                            "\xd8\x05"
                            "0123456789abcdef"
                            "\xc7\x02\x05\x01\x02"
                            "\xc8\x00\x01\x05\x01"
                            "\xc9\x00\x00\x00\x00\x05"
                            "\x01";
    stage_unpack_t u;
    stage_unpack_init(&u, b, sizeof b - 1);
    for (int k = 0; k < 8; k++) {
        assert_int_equal(stage_unpack_peek(&u), STAGE_T_OTHER);
        assert_int_equal(stage_unpack_skip(&u), 0);
    }
    int64_t i;
    assert_int_equal(stage_unpack_int(&u, &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(stage_pack_validate(b, sizeof b - 1, 9), 0);
}

/* A buffer holding one of everything, nested. */
static void pack_everything(stage_pack_t *p) {
    stage_id_t id = make_id("[::1]:7400", "Area.v2", 17);
    stage_pack_array(p, 4);
    stage_pack_map(p, 3);
    stage_pack_cstr(p, "a");
    stage_pack_array(p, 3);
    stage_pack_int(p, -70000);
    stage_pack_double(p, 2.5);
    stage_pack_nil(p);
    stage_pack_cstr(p, "b");
    stage_pack_bin(p, "\0\1\2", 3);
    stage_pack_int(p, 300);
    stage_pack_id(p, &id);
    stage_pack_str(p, "x\0y", 3);
    stage_pack_bool(p, true);
    stage_pack_array(p, 0);
}

static void skip_steps_over_whole_nested_values(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    pack_everything(&p);
    stage_pack_int(&p, 99);
    stage_unpack_t u;
    uint32_t n;
    int64_t i;
    stage_unpack_init(&u, p.data, p.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(stage_unpack_skip(&u), 0); /* the map */
    assert_int_equal(stage_unpack_peek(&u), STAGE_T_STR);
    assert_int_equal(stage_unpack_skip(&u), 0);
    assert_int_equal(stage_unpack_skip(&u), 0);
    assert_int_equal(stage_unpack_skip(&u), 0);
    assert_int_equal(stage_unpack_int(&u, &i), 0);
    assert_int_equal(i, 99);
    assert_int_equal(stage_pack_validate(p.data, p.len, 2), 0);
    assert_int_equal(stage_pack_validate(p.data, p.len, 1), STAGE_EDECODE);
    assert_int_equal(stage_pack_validate(p.data, p.len, 3), STAGE_EDECODE);
    assert_int_equal(stage_pack_validate(p.data, 0, 0), 0);
    stage_pack_free(&p);
}

static void every_truncation_is_malformed(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    pack_everything(&p);
    for (size_t len = 0; len < p.len; len++) {
        char *copy = malloc(len ? len : 1); /* ASan sees any overread */
        memcpy(copy, p.data, len);
        assert_int_equal(stage_pack_validate(copy, len, 1), STAGE_EDECODE);
        stage_unpack_t u;
        stage_unpack_init(&u, copy, len);
        assert_int_not_equal(stage_unpack_skip(&u), 0);
        free(copy);
    }
    stage_pack_free(&p);
}

static void declared_lengths_past_the_end_are_malformed(void **state) {
    (void)state;
    static const struct {
        const char *b;
        size_t len;
    } cases[] = {
        {"\xa5"
         "abcd",
         5}, /* fixstr 5, 4 bytes */
        {"\xd9\x05"
         "abcd",
         6}, /* str8 */
        {"\xda\x00\x05"
         "abcd",
         7}, /* str16 */
        {"\xdb\xff\xff\xff\xff"
         "ab",
         7},                             /* str32 of 4 GiB */
        {"\xc6\x7f\xff\xff\xff", 5},     /* bin32 */
        {"\xc9\x00\x00\x10\x00\x05", 6}, /* ext32 */
        {"\xd8\x05"
         "0123",
         6},                                     /* fixext16 */
        {"\xdd\xff\xff\xff\xff\xc0", 6},         /* array32 of 4G values */
        {"\xdf\x00\x00\x00\x02\xc0\xc0\xc0", 8}, /* map of 2 pairs, 3 bytes */
        {"\x93\xc0\xc0", 3},                     /* fixarray 3, 2 values */
        {"\xcd\x01", 2},                         /* uint16, 1 byte */
        {"\xcb\x00\x00\x00", 4},                 /* float64, 3 bytes */
        {"\xc1", 1},                             /* never used */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        stage_unpack_t u;
        stage_unpack_init(&u, cases[k].b, cases[k].len);
        assert_int_equal(stage_pack_validate(cases[k].b, cases[k].len, 1),
                         STAGE_EDECODE);
        stage_vtype_t t = stage_unpack_peek(&u);
        if (t != STAGE_T_BAD) {
            /* the header itself fits: the value does not */
            assert_true(t == STAGE_T_ARRAY || t == STAGE_T_MAP);
            assert_int_equal(stage_unpack_skip(&u), STAGE_EDECODE);
        }
        assert_int_equal(u.err, STAGE_EDECODE);
        /* sticky: nothing reads any more */
        assert_int_equal(stage_unpack_peek(&u), STAGE_T_BAD);
        assert_int_equal(stage_unpack_nil(&u), STAGE_EDECODE);
    }
}

static void huge_counts_are_rejected_from_the_header(void **state) {
    (void)state;
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, "\xdd\xff\xff\xff\xff\xc0\xc0", 7);
    assert_int_equal(stage_unpack_array(&u, &n), STAGE_EDECODE);
    assert_int_equal(u.err, STAGE_EDECODE);
    stage_unpack_init(&u, "\xde\x00\x02\xc0\xc0\xc0", 6);
    assert_int_equal(stage_unpack_map(&u, &n), STAGE_EDECODE);
    stage_unpack_init(&u, "\xde\x00\x02\xc0\xc0\xc0\xc0", 7);
    assert_int_equal(stage_unpack_map(&u, &n), 0);
    assert_int_equal(n, 2);
}

static void nesting_is_capped_at_max_depth(void **state) {
    (void)state;
    char b[STAGE_PACK_MAX_DEPTH + 2];
    memset(b, 0x91, sizeof b); /* [[[...]]] */
    b[STAGE_PACK_MAX_DEPTH - 1] = (char)0x90;
    assert_int_equal(stage_pack_validate(b, STAGE_PACK_MAX_DEPTH, 1), 0);
    b[STAGE_PACK_MAX_DEPTH - 1] = (char)0x91;
    b[STAGE_PACK_MAX_DEPTH] = (char)0x80; /* one level more, a map */
    assert_int_equal(stage_pack_validate(b, STAGE_PACK_MAX_DEPTH + 1, 1),
                     STAGE_EDECODE);
    /* a depth bomb: a megabyte of nested arrays */
    size_t big = 1 << 20;
    char *bomb = malloc(big);
    memset(bomb, 0x91, big);
    bomb[big - 1] = (char)0xc0;
    stage_unpack_t u;
    stage_unpack_init(&u, bomb, big);
    assert_int_equal(stage_unpack_skip(&u), STAGE_EDECODE);
    assert_int_equal(stage_pack_validate(bomb, big, 1), STAGE_EDECODE);
    free(bomb);
}

static void wrong_type_does_not_move_the_cursor(void **state) {
    (void)state;
    stage_unpack_t u;
    const char *s;
    size_t n;
    bool b;
    stage_unpack_init(&u, "\xa2hi", 3);
    assert_int_equal(stage_unpack_bool(&u, &b), STAGE_EDECODE);
    assert_int_equal(stage_unpack_nil(&u), STAGE_EDECODE);
    assert_int_equal(u.err, 0);
    assert_int_equal(stage_unpack_str(&u, &s, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(s, "hi", 2);
    assert_int_equal(stage_unpack_peek(&u), STAGE_T_END);
    assert_int_equal(stage_unpack_nil(&u), STAGE_EDECODE);
    assert_int_equal(stage_unpack_skip(&u), STAGE_EDECODE);
    assert_int_equal(u.err, 0); /* the end is not malformed */
}

static void reset_keeps_memory_and_forgets_errors(void **state) {
    (void)state;
    stage_pack_t p;
    stage_pack_init(&p);
    for (int i = 0; i < 1000; i++)
        stage_pack_cstr(&p, "some text here");
    assert_int_equal(p.len, 15000);
    char *data = p.data;
    stage_pack_reset(&p);
    assert_int_equal(p.len, 0);
    stage_pack_int(&p, 5);
    assert_ptr_equal(p.data, data);
    stage_pack_free(&p);
    assert_null(p.data);
    stage_pack_nil(&p);
    assert_int_equal(p.len, 1);
    stage_pack_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integers_use_the_smallest_width_and_round_trip),
        cmocka_unit_test(big_unsigned_is_not_an_int_but_reads_as_double),
        cmocka_unit_test(doubles_stay_doubles_and_float32_reads),
        cmocka_unit_test(strings_and_bins_of_every_size_class),
        cmocka_unit_test(containers_of_every_size_class),
        cmocka_unit_test(ids_round_trip_as_ext_1),
        cmocka_unit_test(ids_encode_as_documented),
        cmocka_unit_test(writing_an_invalid_id_is_a_sticky_error),
        cmocka_unit_test(bad_id_payloads_are_malformed),
        cmocka_unit_test(other_ext_types_are_skipped),
        cmocka_unit_test(skip_steps_over_whole_nested_values),
        cmocka_unit_test(every_truncation_is_malformed),
        cmocka_unit_test(declared_lengths_past_the_end_are_malformed),
        cmocka_unit_test(huge_counts_are_rejected_from_the_header),
        cmocka_unit_test(nesting_is_capped_at_max_depth),
        cmocka_unit_test(wrong_type_does_not_move_the_cursor),
        cmocka_unit_test(reset_keeps_memory_and_forgets_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
