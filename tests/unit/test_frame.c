/*
** tests/unit/test_frame.c: frame encoding and the incremental decoder
** (wire/frame.h): batches, every split of the input, and each refusal.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stage/errors.h"
#include "wire/frame.h"

/* Three frames in one batch: small, empty array, large (str16 body). */
static void batch(stage_pack_t *out) {
    stage_pack_t body = STAGE_PACK_INIT;
    stage_pack_array(&body, 2);
    stage_pack_cstr(&body, "square");
    stage_pack_int(&body, 10);
    assert_int_equal(stage__frame_append(out, 1, body.data, body.len, 0), 0);
    assert_int_equal(stage__frame_append(out, 2, "\x90", 1, 0), 0);
    size_t start = stage__frame_begin(out, 200);
    char *big = malloc(60000);
    memset(big, 'b', 60000);
    stage_pack_str(out, big, 60000);
    assert_int_equal(stage__frame_end(out, start, 0), 0);
    free(big);
    stage_pack_free(&body);
}

/* Take every frame available; check each against the batch's frames. */
static int take(stage__fdec_t *d, int seen) {
    static const uint8_t kinds[] = {1, 2, 200};
    static const size_t lens[] = {9, 1, 60003};
    stage__frame_t f;
    int rc;
    while ((rc = stage__fdec_next(d, &f)) == 1) {
        assert_true(seen < 3);
        assert_int_equal(f.kind, kinds[seen]);
        assert_int_equal(f.len, lens[seen]);
        if (seen == 0) assert_memory_equal(f.body, "\x92\xa6square\x0a", 9);
        if (seen == 2) assert_int_equal((uint8_t)f.body[0], 0xda);
        seen++;
    }
    assert_int_equal(rc, 0);
    return seen;
}

static void a_batch_decodes_in_order(void **state) {
    (void)state;
    stage_pack_t out = STAGE_PACK_INIT;
    batch(&out);
    assert_int_equal(out.len, 8 + 9 + 8 + 1 + 8 + 60003);
    assert_memory_equal(out.data, "ST\x04\x01\x00\x00\x00\x09", 8);
    stage__fdec_t d;
    stage__fdec_init(&d, 0);
    assert_int_equal(stage__fdec_feed(&d, out.data, out.len), 0);
    assert_int_equal(take(&d, 0), 3);
    /* and again, after draining */
    assert_int_equal(stage__fdec_feed(&d, out.data, out.len), 0);
    assert_int_equal(take(&d, 0), 3);
    assert_string_equal(stage__fdec_error(&d), "");
    stage__fdec_close(&d);
    stage_pack_free(&out);
}

static void any_split_of_the_input_decodes_the_same(void **state) {
    (void)state;
    stage_pack_t out = STAGE_PACK_INIT;
    batch(&out);
    /* split in two at every position among the small frames and around
    ** the big one's header; then all of it a byte at a time */
    for (size_t at = 0; at <= out.len; at++) {
        if (at > 60 && at < out.len - 20) at = out.len - 20;
        stage__fdec_t d;
        stage__fdec_init(&d, 0);
        assert_int_equal(stage__fdec_feed(&d, out.data, at), 0);
        int seen = take(&d, 0);
        assert_int_equal(stage__fdec_feed(&d, out.data + at, out.len - at), 0);
        assert_int_equal(take(&d, seen), 3);
        stage__fdec_close(&d);
    }
    stage__fdec_t d;
    stage__fdec_init(&d, 0);
    int seen = 0;
    for (size_t i = 0; i < out.len; i++) {
        assert_int_equal(stage__fdec_feed(&d, out.data + i, 1), 0);
        seen = take(&d, seen);
    }
    assert_int_equal(seen, 3);
    stage__fdec_close(&d);
    stage_pack_free(&out);
}

static void zero_copy_reads_decode_the_same(void **state) {
    (void)state;
    stage_pack_t out = STAGE_PACK_INIT;
    batch(&out);
    stage__fdec_t d;
    stage__fdec_init(&d, 0);
    int seen = 0;
    for (size_t at = 0; at < out.len;) {
        char *p;
        size_t room, n = 1000;
        assert_int_equal(stage__fdec_space(&d, 1000, &p, &room), 0);
        assert_true(room >= 1000);
        if (n > out.len - at) n = out.len - at;
        memcpy(p, out.data + at, n);
        stage__fdec_commit(&d, n);
        at += n;
        seen = take(&d, seen);
    }
    assert_int_equal(seen, 3);
    stage__fdec_close(&d);
    stage_pack_free(&out);
}

/* Feed b[0..len) to a new decoder of max bytes; expect code and msg. */
static void refused(const char *b, size_t len, size_t max, int code,
                    const char *msg) {
    stage__fdec_t d;
    stage__frame_t f;
    stage__fdec_init(&d, max);
    assert_int_equal(stage__fdec_feed(&d, b, len), 0);
    assert_int_equal(stage__fdec_next(&d, &f), code);
    assert_string_equal(stage__fdec_error(&d), msg);
    /* sticky, even when good frames follow */
    assert_int_equal(stage__fdec_feed(&d, "ST\x04\x00\x00\x00\x00\x01\xc0", 9),
                     0);
    assert_int_equal(stage__fdec_next(&d, &f), code);
    stage__fdec_close(&d);
}

static void bad_magic_is_refused_from_the_first_byte(void **state) {
    (void)state;
    refused("GET / HTTP/1.1\r\n", 16, 0, STAGE_EPROTO,
            "not a stage connection: frame starts with 0x47 instead of 'ST'");
    refused("G", 1, 0, STAGE_EPROTO,
            "not a stage connection: frame starts with 0x47 instead of 'ST'");
    refused("SX", 2, 0, STAGE_EPROTO,
            "not a stage connection: frame starts with 0x53 0x58 instead of "
            "'ST'");
}

static void another_version_is_refused_with_both_versions(void **state) {
    (void)state;
    refused("ST\x03", 3, 0, STAGE_EPROTO,
            "unsupported protocol version 3 (this node speaks 4)");
    refused("ST\x01\x01\x00\x00\x00\x01\xc0", 9, 0, STAGE_EPROTO,
            "unsupported protocol version 1 (this node speaks 4)");
}

static void oversized_frames_are_refused_from_the_header(void **state) {
    (void)state;
    /* 9 MiB announced, nothing of the body sent */
    refused("ST\x04\x01\x00\x90\x00\x00", 8, 0, STAGE_EPROTO,
            "frame of 9437192 bytes exceeds the maximum of 8388608 bytes");
    refused("ST\x04\x01\xff\xff\xff\xff", 8, 0, STAGE_EPROTO,
            "frame of 4294967303 bytes exceeds the maximum of 8388608 bytes");
    /* a configured maximum: 100 bytes with the header */
    char b[120] = "ST\x04\x01\x00\x00\x00\x5d";
    b[8] = (char)0xd9; /* str8 of 90 bytes: body of 92 bytes */
    b[9] = 90;
    memset(b + 10, 'x', 90);
    b[7] = 92;
    stage__fdec_t d;
    stage__frame_t f;
    stage__fdec_init(&d, 100);
    assert_int_equal(stage__fdec_feed(&d, b, 100), 0);
    assert_int_equal(stage__fdec_next(&d, &f), 1);
    assert_int_equal(f.len, 92);
    stage__fdec_close(&d);
    b[7] = 93;
    b[9] = 91;
    refused(b, 101, 100, STAGE_EPROTO,
            "frame of 101 bytes exceeds the maximum of 100 bytes");
}

static void malformed_bodies_are_refused(void **state) {
    (void)state;
    refused("ST\x04\x07\x00\x00\x00\x01\xc1", 9, 0, STAGE_EDECODE,
            "malformed frame body (kind 7, length 1)");
    refused("ST\x04\x07\x00\x00\x00\x00", 8, 0, STAGE_EDECODE,
            "malformed frame body (kind 7, length 0)");
    refused("ST\x04\x07\x00\x00\x00\x02\xc0\xc0", 10, 0, STAGE_EDECODE,
            "malformed frame body (kind 7, length 2)");
    refused("ST\x04\x07\x00\x00\x00\x03\x92\xc0\xa5", 11, 0, STAGE_EDECODE,
            "malformed frame body (kind 7, length 3)");
}

static void the_encoder_refuses_frames_over_the_maximum(void **state) {
    (void)state;
    stage_pack_t out = STAGE_PACK_INIT;
    char body[100];
    memset(body, 0xc0, sizeof body);
    stage_pack_nil(&out);
    assert_int_equal(stage__frame_append(&out, 1, body, 92, 100), 0);
    assert_int_equal(stage__frame_append(&out, 1, body, 93, 100),
                     STAGE_ETOOBIG);
    assert_int_equal(out.len, 1 + 100);
    size_t start = stage__frame_begin(&out, 3);
    stage_pack_raw(&out, body, 93);
    assert_int_equal(stage__frame_end(&out, start, 100), STAGE_ETOOBIG);
    assert_int_equal(out.len, 101);
    start = stage__frame_begin(&out, 3);
    stage_pack_raw(&out, body, 92);
    assert_int_equal(stage__frame_end(&out, start, 100), 0);
    assert_int_equal(out.len, 201);
    assert_memory_equal(out.data + 101, "ST\x04\x03\x00\x00\x00\x5c", 8);
    stage_pack_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_batch_decodes_in_order),
        cmocka_unit_test(any_split_of_the_input_decodes_the_same),
        cmocka_unit_test(zero_copy_reads_decode_the_same),
        cmocka_unit_test(bad_magic_is_refused_from_the_first_byte),
        cmocka_unit_test(another_version_is_refused_with_both_versions),
        cmocka_unit_test(oversized_frames_are_refused_from_the_header),
        cmocka_unit_test(malformed_bodies_are_refused),
        cmocka_unit_test(the_encoder_refuses_frames_over_the_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
