/*
** tests/unit/test_node_frames.c: the node frame codec (src/node/frames.c)
** — every kind round-trips, and bodies from a hostile peer (truncated at
** every byte, a byte too many, a field out of range, declared lengths far
** past the body, nesting past the cap, random mutations) are refused
** without reading outside them; what a decoder accepts keeps its promises.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/frames.h"
#include "stage/errors.h"

/* Decode body as kind: 0 or STAGE_EDECODE (m: the MSG/STOP result). */
static int decode(int kind, const char *body, size_t len,
                  stage__node_msg_t *m) {
    stage__node_msg_t tmp;
    stage__node_reply_t r;
    stage__node_spawn_t s;
    stage__node_find_t f;
    stage__node_name_t n;
    stage__node_watch_t w;
    stage__node_down_t d;
    stage__node_death_t x;
    stage__node_move_t v;
    if (!m) m = &tmp;
    switch (kind) {
    case STAGE__NODE_FRAME_MSG:
        return stage__node_msg_decode(m, body, len, false);
    case STAGE__NODE_FRAME_STOP:
        return stage__node_msg_decode(m, body, len, true);
    case STAGE__NODE_FRAME_REPLY:
        return stage__node_reply_decode(&r, body, len);
    case STAGE__NODE_FRAME_SPAWN:
        return stage__node_spawn_decode(&s, body, len);
    case STAGE__NODE_FRAME_FIND:
        return stage__node_find_decode(&f, body, len, false);
    case STAGE__NODE_FRAME_PICK:
        return stage__node_find_decode(&f, body, len, true);
    case STAGE__NODE_FRAME_NAME:
        return stage__node_name_decode(&n, body, len);
    case STAGE__NODE_FRAME_MONITOR:
    case STAGE__NODE_FRAME_DEMONITOR:
        return stage__node_watch_decode(&w, body, len);
    case STAGE__NODE_FRAME_DOWN:
        return stage__node_down_decode(&d, body, len);
    case STAGE__NODE_FRAME_NODE_DOWN:
        return stage__node_death_decode(&x, body, len);
    case STAGE__NODE_FRAME_MOVE:
        return stage__node_move_decode(&v, body, len);
    }
    fail_msg("no decoder for kind %d", kind);
    return -1;
}

static stage_id_t target(void) {
    stage_id_t id = {.incarnation = 0xdeadbeef, .serial = 4097};
    strcpy(id.node, "127.0.0.1:7400");
    strcpy(id.type, "Area");
    return id;
}

/* A valid body of kind in p. */
static void good_body(int kind, stage_pack_t *p) {
    stage_id_t to = target();
    char args[] = "\x92\x01\xa1x"; /* [1, "x"] */
    int rc = 0;
    switch (kind) {
    case STAGE__NODE_FRAME_MSG:
        rc = stage__node_msg_encode(p, 7, &to, "square", 6, args, 4);
        break;
    case STAGE__NODE_FRAME_STOP:
        rc = stage__node_stop_encode(p, 7, &to);
        break;
    case STAGE__NODE_FRAME_REPLY:
        rc = stage__node_reply_encode(p, 7, "\x92\x01\x02", 3);
        break;
    case STAGE__NODE_FRAME_SPAWN:
        rc = stage__node_spawn_encode(p, 7, "Area", 2, args, 4);
        break;
    case STAGE__NODE_FRAME_FIND:
        rc = stage__node_find_encode(p, 7, "Area", true);
        break;
    case STAGE__NODE_FRAME_PICK:
        rc = stage__node_find_encode(p, 7, "Area", false);
        break;
    case STAGE__NODE_FRAME_NAME:
        rc = stage__node_name_encode(p, 7, "queue", &to);
        break;
    case STAGE__NODE_FRAME_MONITOR:
    case STAGE__NODE_FRAME_DEMONITOR:
        rc = stage__node_watch_encode(p, 9, &to);
        break;
    case STAGE__NODE_FRAME_DOWN:
        rc = stage__node_down_encode(p, 9, 4097, STAGE_EHANDLER, "boom");
        break;
    case STAGE__NODE_FRAME_NODE_DOWN:
        rc = stage__node_death_encode(p, "127.0.0.1:7401", 42,
                                      0xfedcba9876543210ull, "silent");
        break;
    case STAGE__NODE_FRAME_MOVE: { /* an IMPORT with a small "image" */
        stage__node_move_t m = {
            .op = 5, .has_home = true, .home = to, .data = args, .dlen = 4};
        rc = stage__node_move_encode(p, &m);
        break;
    }
    default:
        fail_msg("no encoder for kind %d", kind);
    }
    assert_int_equal(rc, 0);
}

static const int kinds[] = {
    STAGE__NODE_FRAME_MSG,       STAGE__NODE_FRAME_REPLY,
    STAGE__NODE_FRAME_SPAWN,     STAGE__NODE_FRAME_FIND,
    STAGE__NODE_FRAME_NAME,      STAGE__NODE_FRAME_STOP,
    STAGE__NODE_FRAME_PICK,      STAGE__NODE_FRAME_MONITOR,
    STAGE__NODE_FRAME_DEMONITOR, STAGE__NODE_FRAME_DOWN,
    STAGE__NODE_FRAME_NODE_DOWN, STAGE__NODE_FRAME_MOVE};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* Decode a copy of body[0..len) in a buffer of exactly len bytes, so that
** a read past the end is caught by the sanitizers. */
static int decode_exact(int kind, const char *body, size_t len,
                        stage__node_msg_t *m) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    int rc = decode(kind, copy, len, m);
    free(copy);
    return rc;
}

/* ---- every kind ---------------------------------------------------------- */

static void every_kind_decodes_what_it_encodes(void **state) {
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        good_body(kinds[k], &p);
        assert_int_equal(decode_exact(kinds[k], p.data, p.len, NULL), 0);
        stage_pack_free(&p);
    }
}

static void every_truncation_of_every_kind_is_refused(void **state) {
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        good_body(kinds[k], &p);
        for (size_t n = 0; n < p.len; n++)
            if (decode_exact(kinds[k], p.data, n, NULL) != STAGE_EDECODE)
                fail_msg("kind %d accepted %zu of its %zu bytes", kinds[k], n,
                         p.len);
        stage_pack_free(&p);
    }
}

static void a_byte_after_the_body_is_refused(void **state) {
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        good_body(kinds[k], &p);
        stage_pack_nil(&p);
        if (decode_exact(kinds[k], p.data, p.len, NULL) != STAGE_EDECODE)
            fail_msg("kind %d accepted a byte after its body", kinds[k]);
        stage_pack_free(&p);
    }
}

static void a_field_more_or_less_is_refused(void **state) {
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        good_body(kinds[k], &p);
        /* every body is a fixarray: its header's low nibble is the count */
        assert_int_equal((unsigned char)p.data[0] & 0xf0, 0x90);
        for (int d = -1; d <= 1; d += 2) {
            char *b = malloc(p.len + 1);
            memcpy(b, p.data, p.len);
            b[0] = (char)(b[0] + d);
            size_t len = p.len;
            if (d > 0) b[len++] = '\xc0'; /* a nil as the extra field */
            if (decode_exact(kinds[k], b, len, NULL) != STAGE_EDECODE)
                fail_msg("kind %d accepted %+d field", kinds[k], d);
            free(b);
        }
        stage_pack_free(&p);
    }
}

static void a_body_that_is_not_an_array_is_refused(void **state) {
    (void)state;
    const char *bodies[] = {"",     "\xc0",
                            "\x07", "\xa3\x61\x62\x63", /* the str "abc" */
                            "\x80", "\xc1"};
    size_t lens[] = {0, 1, 1, 4, 1, 1};
    for (size_t k = 0; k < NKINDS; k++)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
            assert_int_equal(decode_exact(kinds[k], bodies[i], lens[i], NULL),
                             STAGE_EDECODE);
}

/* Declared lengths far past the body: a str32 of 4 GiB, an array32 of
** 4 G elements, a bin32 as arguments. */
static void declared_lengths_past_the_body_are_refused(void **state) {
    (void)state;
    const char huge_str[] = "\x96\x07\xce\xde\xad\xbe\xef\x01"
                            "\xdb\xff\xff\xff\xff"
                            "Area";
    assert_int_equal(decode_exact(STAGE__NODE_FRAME_MSG, huge_str,
                                  sizeof huge_str - 1, NULL),
                     STAGE_EDECODE);
    const char huge_array[] = "\xdd\xff\xff\xff\xff\x07";
    for (size_t k = 0; k < NKINDS; k++)
        assert_int_equal(
            decode_exact(kinds[k], huge_array, sizeof huge_array - 1, NULL),
            STAGE_EDECODE);
    /* MSG whose arguments declare 2^32-1 elements, with none there */
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t to = target();
    assert_int_equal(
        stage__node_msg_encode(&p, 7, &to, "m", 1, "\xdd\xff\xff\xff\xff", 5),
        0);
    stage__node_msg_t m;
    assert_int_equal(decode_exact(STAGE__NODE_FRAME_MSG, p.data, p.len, &m),
                     STAGE_EDECODE);
    assert_true(m.answerable); /* the sender can be told */
    stage_pack_free(&p);
}

/* ---- MSG and STOP ---------------------------------------------------------
 */

static void msg_fields_come_back(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t to = target();
    assert_int_equal(
        stage__node_msg_encode(&p, 12345, &to, "square", 6, "\x91\x0a", 2), 0);
    stage__node_msg_t m;
    assert_int_equal(stage__node_msg_decode(&m, p.data, p.len, false), 0);
    assert_int_equal(m.call, 12345);
    assert_int_equal(m.to.incarnation, 0xdeadbeef);
    assert_int_equal(m.to.serial, 4097);
    assert_int_equal(m.to.tlen, 4);
    assert_memory_equal(m.to.type, "Area", 4);
    assert_int_equal(m.mlen, 6);
    assert_memory_equal(m.method, "square", 6);
    assert_int_equal(m.alen, 2);
    assert_memory_equal(m.args, "\x91\x0a", 2);
    stage_pack_reset(&p);
    /* no arguments: an empty array goes */
    assert_int_equal(stage__node_msg_encode(&p, 0, &to, "go", 2, NULL, 0), 0);
    assert_int_equal(stage__node_msg_decode(&m, p.data, p.len, false), 0);
    assert_int_equal(m.call, 0);
    assert_int_equal(m.alen, 1);
    assert_memory_equal(m.args, "\x90", 1);
    uint64_t call = 99;
    assert_int_equal(stage__node_msg_call(p.data, p.len, &call), 0);
    assert_int_equal(call, 0); /* one way */
    stage_pack_reset(&p);
    assert_int_equal(stage__node_stop_encode(&p, 3, &to), 0);
    /* a STOP's body is no MSG's, even for the counting peek */
    assert_int_equal(stage__node_msg_call(p.data, p.len, &call), STAGE_EDECODE);
    assert_int_equal(stage__node_msg_decode(&m, p.data, p.len, true), 0);
    assert_int_equal(m.call, 3);
    assert_null(m.args);
    assert_memory_equal(m.method, "stop", 4);
    /* a STOP is no MSG, and the other way round */
    assert_int_equal(stage__node_msg_decode(&m, p.data, p.len, false),
                     STAGE_EDECODE);
    stage_pack_free(&p);
}

/* A MSG body [call, inc, serial, type, method, args] built field by field. */
static int msg_with(int64_t call, int64_t inc, int64_t serial, const char *type,
                    size_t tlen, const char *method, size_t mlen,
                    const char *args, size_t alen, stage__node_msg_t *m) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 6);
    stage_pack_int(&p, call);
    stage_pack_int(&p, inc);
    stage_pack_int(&p, serial);
    stage_pack_str(&p, type, tlen);
    stage_pack_str(&p, method, mlen);
    stage_pack_raw(&p, args, alen);
    assert_int_equal(stage_pack_error(&p), 0);
    int rc = decode_exact(STAGE__NODE_FRAME_MSG, p.data, p.len, m);
    stage_pack_free(&p);
    return rc;
}

static void msg_fields_out_of_range_are_refused(void **state) {
    (void)state;
    stage__node_msg_t m;
    char m256[256], t64[64];
    memset(m256, 'm', sizeof m256);
    memset(t64, 'T', sizeof t64);
    const char *a = "\x90";
    assert_int_equal(msg_with(1, 1, 1, "A", 1, "m", 1, a, 1, &m), 0);
    /* call and target: not answerable */
    assert_int_equal(msg_with(-1, 1, 1, "A", 1, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_false(m.answerable);
    assert_int_equal(msg_with(1, -1, 1, "A", 1, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1ll << 32, 1, "A", 1, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, 0, "A", 1, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, -5, "A", 1, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, 1, "", 0, "m", 1, a, 1, &m), STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, 1, t64, 63, "m", 1, a, 1, &m), 0);
    assert_int_equal(msg_with(1, 1, 1, t64, 64, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, 1, "A\0B", 3, "m", 1, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, 1, "1A", 2, "m", 1, a, 1, &m),
                     STAGE_EDECODE); /* not a type name */
    assert_false(m.answerable);
    /* method and arguments: answerable */
    assert_int_equal(msg_with(1, 1, 1, "A", 1, "", 0, a, 1, &m), STAGE_EDECODE);
    assert_true(m.answerable);
    assert_int_equal(msg_with(1, 1, 1, "A", 1, m256, 255, a, 1, &m), 0);
    assert_int_equal(msg_with(1, 1, 1, "A", 1, m256, 256, a, 1, &m),
                     STAGE_EDECODE);
    assert_true(m.answerable);
    assert_int_equal(msg_with(1, 1, 1, "A", 1, "m\0x", 3, a, 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(msg_with(1, 1, 1, "A", 1, "m", 1, "\x07", 1, &m),
                     STAGE_EDECODE); /* arguments not an array */
    assert_true(m.answerable);
    assert_int_equal(msg_with(1, 1, 1, "A", 1, "m", 1, "\x80", 1, &m),
                     STAGE_EDECODE); /* a map */
}

/* Arguments nested past the reader's cap (STAGE_PACK_MAX_DEPTH levels
** from the arguments' own array) are refused, and answerable. (The frame
** layer caps the whole body at the same depth before a decoder sees it.) */
static void msg_arguments_too_deep_are_refused(void **state) {
    (void)state;
    char deep[80];
    stage__node_msg_t m;
    for (int levels = 63; levels <= 65; levels++) {
        memset(deep, '\x91', (size_t)levels - 1);
        deep[levels - 1] = '\x90';
        int rc = msg_with(1, 1, 1, "A", 1, "m", 1, deep, (size_t)levels, &m);
        assert_int_equal(rc,
                         levels <= STAGE_PACK_MAX_DEPTH ? 0 : STAGE_EDECODE);
        assert_true(m.answerable);
    }
}

/* ---- REPLY ----------------------------------------------------------------
 */

static void reply_fields_come_back(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage__node_reply_t r;
    assert_int_equal(stage__node_reply_encode(&p, 99, "\xc3", 1), 0);
    assert_int_equal(stage__node_reply_decode(&r, p.data, p.len), 0);
    assert_int_equal(r.call, 99);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.vlen, 1);
    assert_memory_equal(r.value, "\xc3", 1);
    stage_pack_reset(&p);
    assert_int_equal(stage__node_reply_fail_encode(&p, 99, STAGE_ETIMEOUT,
                                                   "late", "a/b", NULL),
                     0);
    assert_int_equal(stage__node_reply_decode(&r, p.data, p.len), 0);
    assert_int_equal(r.status, STAGE_ETIMEOUT);
    stage__node_failure_t f;
    stage__node_failure_decode(&f, r.value, r.vlen);
    assert_int_equal(f.mlen, 4);
    assert_memory_equal(f.message, "late", 4);
    assert_int_equal(f.alen, 3);
    assert_memory_equal(f.actor, "a/b", 3);
    assert_null(f.traceback);
    stage_pack_reset(&p);
    /* no message: the status's own words */
    assert_int_equal(
        stage__node_reply_fail_encode(&p, 1, STAGE_ENOMEM, NULL, NULL, NULL),
        0);
    assert_int_equal(stage__node_reply_decode(&r, p.data, p.len), 0);
    stage__node_failure_decode(&f, r.value, r.vlen);
    assert_int_equal(f.mlen, strlen(stage_strerror(STAGE_ENOMEM)));
    stage_pack_free(&p);
}

static int reply_with(int64_t call, int64_t status, stage__node_reply_t *r) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 3);
    stage_pack_int(&p, call);
    stage_pack_int(&p, status);
    stage_pack_nil(&p);
    int rc = decode_exact(STAGE__NODE_FRAME_REPLY, p.data, p.len, NULL);
    if (!rc) rc = stage__node_reply_decode(r, p.data, p.len);
    stage_pack_free(&p);
    return rc;
}

static void reply_status_out_of_range_is_refused(void **state) {
    (void)state;
    stage__node_reply_t r;
    assert_int_equal(reply_with(1, 1, &r), STAGE_EDECODE);
    assert_int_equal(reply_with(1, -100001, &r), STAGE_EDECODE);
    assert_int_equal(reply_with(-1, 0, &r), STAGE_EDECODE);
    assert_int_equal(reply_with(1, -100000, &r), 0);
    assert_int_equal(r.status, STAGE_EHANDLER); /* no such code */
    assert_int_equal(reply_with(1, STAGE_ENODE_DOWN, &r), 0);
    assert_int_equal(r.status, STAGE_ENODE_DOWN);
}

/* A failure's fields that are not strings read as absent; the call still
** fails with what could be read. */
static void failure_fields_that_are_not_strings_are_absent(void **state) {
    (void)state;
    stage__node_failure_t f;
    stage__node_failure_decode(&f, "\x93\x01\xa1x\xc0", 5);
    assert_null(f.message);
    assert_int_equal(f.alen, 1);
    assert_memory_equal(f.actor, "x", 1);
    assert_null(f.traceback);
    stage__node_failure_decode(&f, "\xc0", 1);
    assert_null(f.message);
    stage__node_failure_decode(&f, "\x93\xa2", 2); /* truncated */
    assert_null(f.message);
    assert_null(f.actor);
}

/* ---- SPAWN, FIND, PICK, NAME ---------------------------------------------
 */

static void spawn_fields_come_back_and_theatre_is_clamped(void **state) {
    (void)state;
    int64_t theatres[] = {3, -1, -7, 65535, 65536, INT64_MAX, INT64_MIN};
    int want[] = {3, -1, -1, 65535, -1, -1, -1};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_array(&p, 4);
        stage_pack_int(&p, 5);
        stage_pack_cstr(&p, "Area");
        stage_pack_int(&p, theatres[i]);
        stage_pack_array(&p, 0);
        stage__node_spawn_t s;
        assert_int_equal(stage__node_spawn_decode(&s, p.data, p.len), 0);
        assert_int_equal(s.call, 5);
        assert_int_equal(s.theatre, want[i]);
        assert_int_equal(s.tlen, 4);
        assert_int_equal(s.alen, 1);
        stage_pack_free(&p);
    }
    /* call 0 (a spawn nobody would hear of), an empty or NUL type */
    const char *bad[] = {"\x94\x00\xa1"
                         "A"
                         "\x00\x90",
                         "\x94\x01\xa0\x00\x90",
                         "\x94\x01\xa2"
                         "A\0"
                         "\x00\x90"};
    size_t lens[] = {6, 5, 7};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(
            decode_exact(STAGE__NODE_FRAME_SPAWN, bad[i], lens[i], NULL),
            STAGE_EDECODE);
}

static void find_and_pick_fields_come_back(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage__node_find_t f;
    assert_int_equal(stage__node_find_encode(&p, 8, "Worker", true), 0);
    assert_int_equal(stage__node_find_decode(&f, p.data, p.len, false), 0);
    assert_true(f.all);
    assert_int_equal(f.call, 8);
    assert_int_equal(f.tlen, 6);
    /* FIND's body is no PICK's, and the other way round */
    assert_int_equal(stage__node_find_decode(&f, p.data, p.len, true),
                     STAGE_EDECODE);
    stage_pack_reset(&p);
    assert_int_equal(stage__node_find_encode(&p, 8, "Worker", false), 0);
    assert_int_equal(stage__node_find_decode(&f, p.data, p.len, true), 0);
    assert_false(f.all);
    assert_int_equal(stage__node_find_decode(&f, p.data, p.len, false),
                     STAGE_EDECODE);
    stage_pack_free(&p);
    /* call 0; all not a bool */
    assert_int_equal(decode_exact(STAGE__NODE_FRAME_PICK,
                                  "\x92\x00\xa1"
                                  "A",
                                  4, NULL),
                     STAGE_EDECODE);
    assert_int_equal(decode_exact(STAGE__NODE_FRAME_FIND,
                                  "\x93\x01\xa1"
                                  "A"
                                  "\x01",
                                  5, NULL),
                     STAGE_EDECODE);
}

static void pick_answer_round_trips_and_checks_n(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t id = target(), back;
    uint64_t n;
    assert_int_equal(stage__node_pick_answer_encode(&p, 12, &id), 0);
    assert_int_equal(stage__node_pick_answer_decode(&n, &back, p.data, p.len),
                     0);
    assert_int_equal(n, 12);
    assert_true(stage_id_equal(&id, &back));
    stage_pack_reset(&p);
    stage_pack_array(&p, 2);
    stage_pack_int(&p, 0);
    stage_pack_id(&p, &id);
    assert_int_equal(stage__node_pick_answer_decode(&n, &back, p.data, p.len),
                     STAGE_EDECODE);
    stage_pack_free(&p);
}

static void ids_answer_round_trips_and_holds_only_ids(void **state) {
    (void)state;
    stage_id_t a = target(), b = target();
    b.serial = 5;
    stage_pack_t ids = STAGE_PACK_INIT, p = STAGE_PACK_INIT;
    stage_pack_id(&ids, &a);
    stage_pack_id(&ids, &b);
    assert_int_equal(stage__node_ids_encode(&p, 2, ids.data, ids.len), 0);
    uint32_t n;
    const char *got;
    size_t glen;
    assert_int_equal(stage__node_ids_decode(&n, &got, &glen, p.data, p.len), 0);
    assert_int_equal(n, 2);
    assert_int_equal(glen, ids.len);
    assert_memory_equal(got, ids.data, glen);
    for (size_t cut = 0; cut < p.len; cut++)
        assert_int_equal(stage__node_ids_decode(&n, &got, &glen, p.data, cut),
                         STAGE_EDECODE);
    /* one more declared than there are; a value that is not an id */
    p.data[0] = (char)0x93;
    assert_int_equal(stage__node_ids_decode(&n, &got, &glen, p.data, p.len),
                     STAGE_EDECODE);
    assert_int_equal(stage__node_ids_decode(&n, &got, &glen, "\x91\x07", 2),
                     STAGE_EDECODE);
    assert_int_equal(stage__node_ids_decode(&n, &got, &glen, "\x90", 1), 0);
    assert_int_equal(n, 0);
    stage_pack_free(&ids);
    stage_pack_free(&p);
}

static void name_fields_come_back_and_bad_names_are_refused(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t to = target();
    stage__node_name_t n;
    assert_int_equal(stage__node_name_encode(&p, 4, "queue", &to), 0);
    assert_int_equal(stage__node_name_decode(&n, p.data, p.len), 0);
    assert_int_equal(n.call, 4);
    assert_int_equal(n.nlen, 5);
    assert_memory_equal(n.name, "queue", 5);
    assert_int_equal(n.id.serial, 4097);
    stage_pack_free(&p);
    char long_name[257];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    const char *names[] = {"", long_name, "a\0b"};
    size_t lens[] = {0, 256, 3};
    for (int i = 0; i < 3; i++) {
        stage_pack_t q = STAGE_PACK_INIT;
        stage_pack_array(&q, 5);
        stage_pack_int(&q, 4);
        stage_pack_str(&q, names[i], lens[i]);
        stage_pack_int(&q, 1);
        stage_pack_int(&q, 1);
        stage_pack_cstr(&q, "Area");
        assert_int_equal(stage__node_name_decode(&n, q.data, q.len),
                         STAGE_EDECODE);
        stage_pack_free(&q);
    }
}

/* ---- monitors, NODE_DOWN ---------------------------------------------------
 */

static void down_fields_come_back_and_the_message_is_cut(void **state) {
    (void)state;
    char big[STAGE__NODE_DOWN_MESSAGE_MAX + 100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    stage_pack_t p = STAGE_PACK_INIT;
    stage__node_down_t d;
    assert_int_equal(stage__node_down_encode(&p, 5, 6, 0, big), 0);
    assert_int_equal(stage__node_down_decode(&d, p.data, p.len), 0);
    assert_int_equal(d.mon, 5);
    assert_int_equal(d.serial, 6);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.mlen, STAGE__NODE_DOWN_MESSAGE_MAX);
    stage_pack_free(&p);
    /* mon 0, serial 0, status 1 */
    const char *bad[] = {"\x94\x00\x01\x00\xa0", "\x94\x01\x00\x00\xa0",
                         "\x94\x01\x01\x01\xa0"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(decode_exact(STAGE__NODE_FRAME_DOWN, bad[i], 5, NULL),
                         STAGE_EDECODE);
}

static void watch_fields_come_back(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t to = target();
    stage__node_watch_t w;
    assert_int_equal(stage__node_watch_encode(&p, 77, &to), 0);
    assert_int_equal(stage__node_watch_decode(&w, p.data, p.len), 0);
    assert_int_equal(w.mon, 77);
    assert_int_equal(w.to.incarnation, 0xdeadbeef);
    assert_int_equal(decode_exact(STAGE__NODE_FRAME_MONITOR,
                                  "\x94\x00\x01\x01\xa1"
                                  "A",
                                  6, NULL),
                     STAGE_EDECODE); /* mon 0 */
    stage_pack_free(&p);
}

static int death_with(const char *addr, int64_t inc, const char *why,
                      size_t wlen, stage__node_death_t *d) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 4);
    stage_pack_cstr(&p, addr);
    stage_pack_int(&p, inc);
    stage_pack_int(&p, -1);
    stage_pack_str(&p, why, wlen);
    int rc = stage__node_death_decode(d, p.data, p.len);
    stage_pack_free(&p);
    return rc;
}

static void node_down_fields_come_back_and_are_checked(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage__node_death_t d;
    char why[STAGE__NODE_WHY_MAX + 50];
    memset(why, 'w', sizeof why - 1);
    why[sizeof why - 1] = '\0';
    assert_int_equal(stage__node_death_encode(&p, "[::1]:7400", 0xffffffffu,
                                              1ull << 63, why),
                     0);
    assert_int_equal(stage__node_death_decode(&d, p.data, p.len), 0);
    assert_int_equal(d.alen, 10);
    assert_int_equal(d.incarnation, 0xffffffffu);
    assert_int_equal(d.manager, 1ull << 63);
    assert_int_equal(d.wlen, STAGE__NODE_WHY_MAX); /* cut when sent */
    stage_pack_free(&p);
    assert_int_equal(death_with("127.0.0.1:1", 1, "x", 1, &d), 0);
    assert_int_equal(d.manager, UINT64_MAX); /* -1: two's complement */
    assert_int_equal(death_with("127.0.0.1:1", 0, "x", 1, &d), STAGE_EDECODE);
    assert_int_equal(death_with("127.0.0.1:1", 1ll << 32, "x", 1, &d),
                     STAGE_EDECODE);
    assert_int_equal(death_with("", 1, "x", 1, &d), STAGE_EDECODE);
    assert_int_equal(death_with("no port", 1, "x", 1, &d), STAGE_EDECODE);
    assert_int_equal(
        death_with("127.0.0.1:1", 1, why, STAGE__NODE_WHY_MAX + 1, &d),
        STAGE_EDECODE);
}

/* A MOVE of op with the given fields: what the decoder says. */
static int move_with(int op, uint64_t n, uint32_t inc, int status, bool home,
                     bool at, const char *where, const char *data, size_t dlen,
                     stage__node_move_t *out) {
    stage_id_t id = target();
    stage__node_move_t m = {.op = op,
                            .n = n,
                            .inc = inc,
                            .status = status,
                            .has_home = home,
                            .home = id,
                            .has_at = at,
                            .at = id,
                            .where = where,
                            .wlen = where ? strlen(where) : 0,
                            .data = data,
                            .dlen = dlen};
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage__node_move_encode(&p, &m), 0);
    int rc = decode_exact(STAGE__NODE_FRAME_MOVE, p.data, p.len, NULL);
    if (!rc) assert_int_equal(stage__node_move_decode(out, p.data, p.len), 0);
    stage_pack_free(&p);
    return rc;
}

static void move_ops_come_back_and_need_their_fields(void **state) {
    (void)state;
    stage__node_move_t m;
    const char *img = "\x92\x01\xa1x", *why = "no room";
    /* REQ: at and an address */
    assert_int_equal(
        move_with(1, 5, 0, 0, false, true, "127.0.0.1:7402", NULL, 0, &m), 0);
    assert_int_equal(m.op, 1);
    assert_int_equal(m.n, 5);
    assert_true(m.has_at && !m.has_home);
    assert_int_equal(m.at.serial, 4097);
    assert_string_equal(m.at.node, "127.0.0.1:7400");
    assert_string_equal(m.at.type, "Area");
    assert_int_equal(m.at.incarnation, 0xdeadbeef);
    assert_int_equal(m.wlen, 14);
    assert_int_equal(move_with(1, 5, 0, 0, false, true, "no port", NULL, 0, &m),
                     STAGE_EDECODE);
    assert_int_equal(
        move_with(1, 5, 0, 0, false, false, "127.0.0.1:7402", NULL, 0, &m),
        STAGE_EDECODE);
    /* OUT and ARRIVED: home and at */
    assert_int_equal(move_with(2, 0, 0, 0, true, true, NULL, NULL, 0, &m), 0);
    assert_int_equal(move_with(6, 0, 0, 0, true, false, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* IN and IMPORT: an image, which is a msgpack array */
    assert_int_equal(move_with(3, 0, 0, 0, true, false, NULL, img, 4, &m), 0);
    assert_int_equal(m.dlen, 4);
    assert_memory_equal(m.data, img, 4);
    assert_int_equal(move_with(5, 0, 0, 0, true, false, NULL, "\xa1x", 2, &m),
                     STAGE_EDECODE); /* a string, not an image */
    assert_int_equal(move_with(5, 0, 0, 0, true, false, NULL, img, 3, &m),
                     STAGE_EDECODE); /* cut */
    assert_int_equal(move_with(5, 0, 0, 0, false, false, NULL, img, 4, &m),
                     STAGE_EDECODE);
    /* REFUSED and FAILED: a failure and its reason */
    assert_int_equal(
        move_with(7, 0, 0, STAGE_ENOMEM, true, false, NULL, why, 7, &m), 0);
    assert_int_equal(m.status, STAGE_ENOMEM);
    assert_int_equal(move_with(4, 0, 0, 0, true, false, NULL, why, 7, &m),
                     STAGE_EDECODE); /* status 0 is no refusal */
    assert_int_equal(
        move_with(4, 0, 0, STAGE_EBUSY, true, false, NULL, "a\0b", 3, &m),
        STAGE_EDECODE); /* NUL in the reason */
    /* REPLY: a token, an incarnation, a value or a message */
    assert_int_equal(move_with(8, 9, 3, 0, false, false, NULL, "\x01", 1, &m),
                     0);
    assert_int_equal(m.n, 9);
    assert_int_equal(m.inc, 3);
    assert_int_equal(move_with(8, 0, 3, 0, false, false, NULL, "\x01", 1, &m),
                     STAGE_EDECODE); /* token 0 */
    assert_int_equal(
        move_with(8, 9, 3, 0, false, false, NULL, "\x92\x01", 2, &m),
        STAGE_EDECODE); /* not one value */
    assert_int_equal(
        move_with(8, 9, 3, STAGE_EHANDLER, false, false, NULL, why, 7, &m), 0);
    /* ops out of range */
    assert_int_equal(move_with(0, 0, 0, 0, true, true, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    assert_int_equal(move_with(15, 0, 0, 0, true, true, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* TOMB: a home and an id there */
    assert_int_equal(move_with(14, 0, 0, 0, true, true, NULL, NULL, 0, &m), 0);
    assert_int_equal(move_with(14, 0, 0, 0, true, false, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* FORGET: a home */
    assert_int_equal(move_with(13, 0, 0, 0, true, false, NULL, NULL, 0, &m), 0);
    assert_int_equal(m.op, 13);
    assert_int_equal(move_with(13, 0, 0, 0, false, true, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* ADOPT: home and at, and the earlier ids as an array or nothing */
    assert_int_equal(move_with(10, 0, 0, 0, true, true, NULL, NULL, 0, &m), 0);
    assert_int_equal(move_with(10, 0, 0, 0, true, true, NULL, "\x90", 1, &m),
                     0);
    assert_int_equal(move_with(10, 0, 0, 0, true, true, NULL, "\x01", 1, &m),
                     STAGE_EDECODE);
    assert_int_equal(move_with(10, 0, 0, 0, false, true, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* NAMES: as ADOPT: home and at, the record as an array or nothing */
    assert_int_equal(
        move_with(12, 0, 0, 0, true, true, NULL, "\x92\x90\x90", 3, &m), 0);
    assert_int_equal(m.op, 12);
    assert_int_equal(m.dlen, 3);
    assert_int_equal(move_with(12, 0, 0, 0, true, true, NULL, NULL, 0, &m), 0);
    assert_int_equal(move_with(12, 0, 0, 0, true, true, NULL, "\xa1x", 2, &m),
                     STAGE_EDECODE);
    assert_int_equal(move_with(12, 0, 0, 0, true, false, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* ADOPTED: home, at, a status that is 0 or an error */
    assert_int_equal(
        move_with(11, 0, 0, STAGE_EBUSY, true, true, NULL, NULL, 0, &m), 0);
    assert_int_equal(move_with(11, 0, 0, 5, true, true, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
    /* GONE: home and at */
    assert_int_equal(move_with(9, 0, 0, 0, true, true, NULL, NULL, 0, &m), 0);
    assert_int_equal(move_with(9, 0, 0, 0, false, true, NULL, NULL, 0, &m),
                     STAGE_EDECODE);
}

/* An IMPORT (op 5; IN: 3) whose ninth field is formers[0..flen): what
** the decoder says, *out filled. */
static int import_with_formers(int op, const char *formers, size_t flen,
                               stage__node_move_t *out) {
    const char *img = "\x92\x01\xa1x";
    stage_id_t id = {.node = "127.0.0.1:7400", .serial = 4097, .theatre = 1};
    snprintf(id.type, sizeof id.type, "Area");
    id.incarnation = 7;
    stage__node_move_t m = {.op = 5,
                            .has_home = true,
                            .home = id,
                            .data = img,
                            .dlen = 4,
                            .formers = formers,
                            .flen = flen};
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage__node_move_encode(&p, &m), 0);
    if (op != 5) p.data[1] = (char)op; /* [op, ...]: the op after the array */
    int rc = stage__node_move_decode(out, p.data, p.len);
    stage_pack_free(&p);
    return rc;
}

static void move_import_carries_earlier_ids_as_an_array(void **state) {
    (void)state;
    stage__node_move_t m;
    /* none: eight fields, as before; an array: they come back */
    assert_int_equal(import_with_formers(5, NULL, 0, &m), 0);
    assert_null(m.formers);
    assert_int_equal(import_with_formers(5, "\x92\x01\x02", 3, &m), 0);
    assert_int_equal(m.flen, 3);
    assert_memory_equal(m.formers, "\x92\x01\x02", 3);
    assert_int_equal(m.dlen, 4); /* the image as it was */
    /* not an array, cut, or on another op than IMPORT: refused */
    assert_int_equal(import_with_formers(5, "\x01", 1, &m), STAGE_EDECODE);
    assert_int_equal(import_with_formers(5, "\x92\x01", 2, &m), STAGE_EDECODE);
    assert_int_equal(import_with_formers(3, "\x90", 1, &m), STAGE_EDECODE);
    /* the encoder gives formers to an IMPORT only */
    stage__node_move_t in = {.op = 3,
                             .has_home = true,
                             .home = {.node = "127.0.0.1:7400",
                                      .incarnation = 7,
                                      .serial = 1,
                                      .type = "Area"},
                             .data = "\x90",
                             .dlen = 1,
                             .formers = "\x90",
                             .flen = 1};
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage__node_move_encode(&p, &in), 0);
    assert_int_equal(stage__node_move_decode(&m, p.data, p.len), 0);
    assert_null(m.formers);
    stage_pack_free(&p);
}

/* ---- random mutations ------------------------------------------------------
 */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* What a decoder accepted keeps its promises (body: exactly len bytes). */
static void check_accepted(int kind, const char *body, size_t len) {
    stage__node_msg_t m;
    if (decode(kind, body, len, &m)) return;
    if (kind == STAGE__NODE_FRAME_MSG || kind == STAGE__NODE_FRAME_STOP) {
        assert_true(m.to.serial > 0);
        assert_true(m.to.tlen > 0 && m.to.tlen < STAGE_TYPE_MAX);
        assert_null(memchr(m.to.type, 0, m.to.tlen));
        assert_true(m.mlen > 0 && m.mlen <= STAGE__NODE_METHOD_MAX);
        assert_null(memchr(m.method, 0, m.mlen));
        if (kind == STAGE__NODE_FRAME_MSG) {
            assert_true(m.args >= body && m.args + m.alen == body + len);
            assert_int_equal(stage_pack_validate(m.args, m.alen, 1), 0);
        }
    }
}

static void random_mutations_never_read_outside_the_body(void **state) {
    (void)state;
    for (size_t k = 0; k < NKINDS; k++) {
        stage_pack_t p = STAGE_PACK_INIT;
        good_body(kinds[k], &p);
        char *b = malloc(p.len + 8);
        for (int round = 0; round < 4000; round++) {
            memcpy(b, p.data, p.len);
            size_t len = p.len;
            int edits = 1 + (int)(next_rand() % 3);
            for (int e = 0; e < edits; e++) {
                size_t at = next_rand() % len;
                switch (next_rand() % 4) {
                case 0: /* a random byte */
                    b[at] = (char)next_rand();
                    break;
                case 1: /* a length-ish byte */
                    b[at] =
                        (char)"\xff\x7f\x80\xdb\xdd\xc4\x00"[next_rand() % 7];
                    break;
                case 2: /* cut */
                    len = at ? at : 1;
                    break;
                case 3: /* grow by a random byte */
                    if (len < p.len + 8) b[len++] = (char)next_rand();
                    break;
                }
            }
            char *exact = malloc(len);
            memcpy(exact, b, len);
            check_accepted(kinds[k], exact, len);
            free(exact);
        }
        free(b);
        stage_pack_free(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_kind_decodes_what_it_encodes),
        cmocka_unit_test(every_truncation_of_every_kind_is_refused),
        cmocka_unit_test(a_byte_after_the_body_is_refused),
        cmocka_unit_test(a_field_more_or_less_is_refused),
        cmocka_unit_test(a_body_that_is_not_an_array_is_refused),
        cmocka_unit_test(declared_lengths_past_the_body_are_refused),
        cmocka_unit_test(msg_fields_come_back),
        cmocka_unit_test(msg_fields_out_of_range_are_refused),
        cmocka_unit_test(msg_arguments_too_deep_are_refused),
        cmocka_unit_test(reply_fields_come_back),
        cmocka_unit_test(reply_status_out_of_range_is_refused),
        cmocka_unit_test(failure_fields_that_are_not_strings_are_absent),
        cmocka_unit_test(spawn_fields_come_back_and_theatre_is_clamped),
        cmocka_unit_test(find_and_pick_fields_come_back),
        cmocka_unit_test(pick_answer_round_trips_and_checks_n),
        cmocka_unit_test(ids_answer_round_trips_and_holds_only_ids),
        cmocka_unit_test(name_fields_come_back_and_bad_names_are_refused),
        cmocka_unit_test(down_fields_come_back_and_the_message_is_cut),
        cmocka_unit_test(watch_fields_come_back),
        cmocka_unit_test(node_down_fields_come_back_and_are_checked),
        cmocka_unit_test(move_ops_come_back_and_need_their_fields),
        cmocka_unit_test(move_import_carries_earlier_ids_as_an_array),
        cmocka_unit_test(random_mutations_never_read_outside_the_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
