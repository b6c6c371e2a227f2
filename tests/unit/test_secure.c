/*
** tests/unit/test_secure.c: the cluster-key layer alone (net/secure.h), on
** bytes — the handshake agrees on keys only when both sides hold the same
** cluster key, and a wrong one fails inside the handshake; records come
** out as they went in, and a flipped bit, a replayed, reordered or cut
** record is refused, under each cipher; the fastest cipher both sides run
** is chosen; keys move on every rekey period; nonces never repeat; key
** files and loopback checks.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "net/keyfile.h"
#include "net/secure.h"
#include "stage/errors.h"

static stage__secure_keys_t key_a, key_b, key_ba;

static int setup_keys(void **state) {
    (void)state;
    assert_int_equal(stage__secure_global_init(), 0);
    memset(&key_a, 0, sizeof key_a);
    memset(&key_b, 0, sizeof key_b);
    for (int i = 0; i < STAGE__CLUSTER_KEY_BYTES; i++) {
        key_a.key[0][i] = (uint8_t)i;
        key_b.key[0][i] = (uint8_t)(i * 7 + 1);
    }
    key_a.n = key_b.n = 1;
    key_ba = key_b; /* a node mid-rotation: dials with B, accepts A too */
    memcpy(key_ba.key[1], key_a.key[0], STAGE__CLUSTER_KEY_BYTES);
    key_ba.n = 2;
    return 0;
}

/* Run the handshake between an initiator holding ik and a responder
** holding rk. 0 if both sides are up; else which side failed (1: the
** responder, 2: the initiator) with *reject the reason it would send. */
static int handshake(stage__secure_t *i, const stage__secure_keys_t *ik,
                     stage__secure_t *r, const stage__secure_keys_t *rk,
                     int *reject) {
    uint8_t hello[STAGE__SECURE_MSG], reply[STAGE__SECURE_MSG];
    char why[256];
    stage__secure_init(i, ik, true);
    stage__secure_init(r, rk, false);
    assert_int_equal(stage__secure_hello(i, hello), 0);
    if (stage__secure_accept(r, hello, reply, reject, why, sizeof why)) {
        assert_non_null(strstr(why, "wrong cluster key"));
        return 1;
    }
    if (stage__secure_finish(i, reply, why, sizeof why)) return 2;
    return 0;
}

/* Seal text as records into out (cleared first). */
static void seal(stage__secure_t *s, stage_buf_t *out, const void *text,
                 size_t len) {
    stage__secure_piece_t p = {text, len};
    stage__buf_clear(out);
    assert_int_equal(stage__secure_seal(s, out, &p, 1), 0);
}

/* Open the one record in in[0..len) into out (room for 128 bytes): 0 or
** STAGE_EPROTO (a record that says it is longer than len would wait for
** bytes that never come: a cut stream, which the connection refuses). */
static int open1(stage__secure_t *s, const void *in, size_t len, uint8_t *out,
                 size_t *plain) {
    size_t whole;
    char why[256];
    int rc = stage__secure_record(s, in, len, plain, &whole, why, sizeof why);
    if (rc != 1) return STAGE_EPROTO;
    assert_true(*plain <= 128);
    return stage__secure_open(s, in, out, why, sizeof why);
}

static void same_key_agrees_and_records_flow_both_ways(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject = 0;
    stage_buf_t buf = STAGE_BUF_INIT;
    uint8_t out[128];
    size_t plain;
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    for (int k = 0; k < 10; k++) {
        char text[32];
        int n = snprintf(text, sizeof text, "frame %d to the responder", k);
        seal(&i, &buf, text, (size_t)n);
        assert_int_equal(buf.len, stage__secure_sealed_size((size_t)n));
        for (size_t at = 0; at + 5 <= buf.len; at++) /* encrypted */
            assert_false(memcmp(buf.data + at, "frame", 5) == 0);
        assert_int_equal(open1(&r, buf.data, buf.len, out, &plain), 0);
        assert_int_equal(plain, (size_t)n);
        assert_memory_equal(out, text, plain);
        n = snprintf(text, sizeof text, "answer %d", k);
        seal(&r, &buf, text, (size_t)n);
        assert_int_equal(open1(&i, buf.data, buf.len, out, &plain), 0);
        assert_memory_equal(out, text, plain);
    }
    /* each direction has its own key: a record does not open in reverse */
    seal(&i, &buf, "mine", 4);
    stage__secure_t i2 = i;
    assert_int_equal(open1(&i2, buf.data, buf.len, out, &plain), STAGE_EPROTO);
    stage__buf_free(&buf);
    stage__secure_wipe(&i);
    stage__secure_wipe(&r);
}

static void wrong_key_fails_in_the_handshake(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject = 0;
    assert_int_equal(handshake(&i, &key_a, &r, &key_b, &reject), 1);
    assert_int_equal(reject, STAGE__SECURE_WRONG_KEY);
    assert_int_equal(r.state, SECURE_FAILED);
    /* nothing can be sealed or opened by the side that failed */
    stage_buf_t buf = STAGE_BUF_INIT;
    stage__secure_piece_t p = {"x", 1};
    assert_int_equal(stage__secure_seal(&r, &buf, &p, 1), STAGE_EPROTO);
    assert_int_equal(buf.len, 0);
    stage__buf_free(&buf);
}

/* The initiator checks the reply: one made under another key (or
** altered on the way, or a replayed old one) fails there, before any
** record. */
static void initiator_refuses_a_reply_it_cannot_verify(void **state) {
    (void)state;
    uint8_t hello[STAGE__SECURE_MSG], reply[STAGE__SECURE_MSG];
    uint8_t old[STAGE__SECURE_MSG];
    char why[256];
    int reject;
    stage__secure_t i, r;
    for (size_t bit = 0; bit < STAGE__SECURE_MSG * 8; bit += 13) {
        stage__secure_init(&i, &key_a, true);
        stage__secure_init(&r, &key_a, false);
        assert_int_equal(stage__secure_hello(&i, hello), 0);
        assert_int_equal(
            stage__secure_accept(&r, hello, reply, &reject, why, sizeof why),
            0);
        memcpy(old, reply, sizeof old);
        reply[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(stage__secure_finish(&i, reply, why, sizeof why),
                         STAGE_EPROTO);
        assert_int_equal(i.state, SECURE_FAILED);
    }
    /* a reply of an earlier handshake does not verify for a new hello */
    stage__secure_init(&i, &key_a, true);
    assert_int_equal(stage__secure_hello(&i, hello), 0);
    assert_int_equal(stage__secure_finish(&i, old, why, sizeof why),
                     STAGE_EPROTO);
    assert_non_null(strstr(why, "wrong cluster key"));
}

static void a_flipped_bit_in_a_hello_is_refused(void **state) {
    (void)state;
    uint8_t hello[STAGE__SECURE_MSG], reply[STAGE__SECURE_MSG];
    char why[256];
    int reject;
    stage__secure_t i, r;
    for (size_t bit = 0; bit < STAGE__SECURE_MSG * 8; bit++) {
        stage__secure_init(&i, &key_a, true);
        stage__secure_init(&r, &key_a, false);
        assert_int_equal(stage__secure_hello(&i, hello), 0);
        hello[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(
            stage__secure_accept(&r, hello, reply, &reject, why, sizeof why),
            STAGE_EPROTO);
    }
}

/* During a rotation a node accepts either key; it dials with the first. */
static void a_node_with_two_keys_accepts_either(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    assert_int_equal(handshake(&i, &key_a, &r, &key_ba, &reject), 0);
    assert_int_equal(r.key, 1);
    assert_int_equal(handshake(&i, &key_b, &r, &key_ba, &reject), 0);
    assert_int_equal(r.key, 0);
    assert_int_equal(handshake(&i, &key_ba, &r, &key_b, &reject), 0);
    assert_int_equal(handshake(&i, &key_ba, &r, &key_a, &reject), 1);
}

static void flipped_bits_in_records_are_refused(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    stage_buf_t buf = STAGE_BUF_INIT;
    uint8_t out[128];
    size_t plain;
    const char text[] = "a frame of some forty bytes, say this one";
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    seal(&i, &buf, text, sizeof text);
    for (size_t bit = 0; bit < buf.len * 8; bit++) {
        stage__secure_t r2 = r; /* the same receiver state each time */
        buf.data[bit / 8] ^= (char)(1u << (bit % 8));
        assert_int_equal(open1(&r2, buf.data, buf.len, out, &plain),
                         STAGE_EPROTO);
        buf.data[bit / 8] ^= (char)(1u << (bit % 8));
    }
    assert_int_equal(open1(&r, buf.data, buf.len, out, &plain), 0);
    assert_memory_equal(out, text, sizeof text);
    stage__buf_free(&buf);
}

static void replayed_and_reordered_records_are_refused(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    stage_buf_t r0 = STAGE_BUF_INIT, r1 = STAGE_BUF_INIT;
    uint8_t out[128];
    size_t plain;
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    seal(&i, &r0, "first", 5);
    seal(&i, &r1, "second", 6);
    stage__secure_t r2 = r;
    assert_int_equal(open1(&r2, r1.data, r1.len, out, &plain), STAGE_EPROTO);
    assert_int_equal(r2.state, SECURE_FAILED); /* and it stays failed */
    assert_int_equal(open1(&r2, r0.data, r0.len, out, &plain), STAGE_EPROTO);
    assert_int_equal(open1(&r, r0.data, r0.len, out, &plain), 0);
    assert_int_equal(open1(&r, r0.data, r0.len, out, &plain), STAGE_EPROTO);
    stage__buf_free(&r0);
    stage__buf_free(&r1);
}

static void a_cut_record_is_never_complete(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    stage_buf_t buf = STAGE_BUF_INIT;
    size_t plain, whole;
    char why[256];
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    seal(&i, &buf, "cut me", 6);
    for (size_t n = 0; n < buf.len; n++)
        assert_int_equal(stage__secure_record(&r, (uint8_t *)buf.data, n,
                                              &plain, &whole, why, sizeof why),
                         0);
    /* a length out of bounds is refused before anything is buffered */
    uint8_t zero[4] = {0, 0, 0, 0}, huge[4] = {0, 1, 0, 1};
    assert_int_equal(
        stage__secure_record(&r, zero, 4, &plain, &whole, why, sizeof why),
        STAGE_EPROTO);
    assert_int_equal(
        stage__secure_record(&r, huge, 4, &plain, &whole, why, sizeof why),
        STAGE_EPROTO);
    assert_non_null(strstr(why, "65537 bytes"));
    stage__buf_free(&buf);
}

/* Keys narrowed to the ciphers c. */
static stage__secure_keys_t with_ciphers(const stage__secure_keys_t *k,
                                         uint8_t c) {
    stage__secure_keys_t n = *k;
    n.ciphers = c;
    return n;
}

static bool aes_here(void) {
    return crypto_aead_aes256gcm_is_available();
}

static void the_fastest_common_cipher_is_chosen(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    stage__secure_keys_t chacha = with_ciphers(&key_a, STAGE__SECURE_CHACHA);
    int best = aes_here() ? STAGE__SECURE_AESGCM : STAGE__SECURE_CHACHA;
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    assert_int_equal(i.cipher, best);
    assert_int_equal(r.cipher, best);
    assert_int_equal(handshake(&i, &chacha, &r, &key_a, &reject), 0);
    assert_int_equal(i.cipher, STAGE__SECURE_CHACHA);
    assert_int_equal(r.cipher, STAGE__SECURE_CHACHA);
    assert_int_equal(handshake(&i, &key_a, &r, &chacha, &reject), 0);
    assert_int_equal(i.cipher, STAGE__SECURE_CHACHA);
    assert_int_equal(r.cipher, STAGE__SECURE_CHACHA);
}

/* Records of every size, both ways, under each cipher this CPU runs; an
** altered or replayed one fails under each. */
static void each_cipher_carries_records(void **state) {
    (void)state;
    uint8_t ciphers[2] = {STAGE__SECURE_CHACHA, STAGE__SECURE_AESGCM};
    size_t sizes[] = {1, 15, 16, 17, 100, 4096, STAGE__SECURE_RECORD_MAX};
    uint8_t *text = malloc(STAGE__SECURE_RECORD_MAX);
    uint8_t *back = malloc(STAGE__SECURE_RECORD_MAX);
    for (size_t k = 0; k < STAGE__SECURE_RECORD_MAX; k++)
        text[k] = (uint8_t)(k * 13 + 5);
    for (int c = 0; c < (aes_here() ? 2 : 1); c++) {
        stage__secure_keys_t keys = with_ciphers(&key_a, ciphers[c]);
        stage__secure_t i, r;
        int reject;
        stage_buf_t buf = STAGE_BUF_INIT;
        char why[256];
        assert_int_equal(handshake(&i, &keys, &r, &keys, &reject), 0);
        assert_int_equal(i.cipher, ciphers[c]);
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            size_t plain, whole;
            seal(&r, &buf, text, sizes[z]);
            assert_int_equal(stage__secure_record(&i, (uint8_t *)buf.data,
                                                  buf.len, &plain, &whole, why,
                                                  sizeof why),
                             1);
            assert_int_equal(plain, sizes[z]);
            assert_int_equal(stage__secure_open(&i, (uint8_t *)buf.data, back,
                                                why, sizeof why),
                             0);
            assert_memory_equal(back, text, sizes[z]);
            stage__secure_t again = i; /* the same record again: refused */
            assert_int_equal(stage__secure_open(&again, (uint8_t *)buf.data,
                                                back, why, sizeof why),
                             STAGE_EPROTO);
        }
        seal(&i, &buf, text, 100);
        buf.data[STAGE__SECURE_HEADER + 50] ^= 1;
        stage__secure_t r2 = r;
        assert_int_equal(
            stage__secure_open(&r2, (uint8_t *)buf.data, back, why, sizeof why),
            STAGE_EPROTO);
        stage__buf_free(&buf);
    }
    free(text);
    free(back);
}

/* Every rekey records each direction moves to a new key (the test makes
** the period 4): both sides move together, and a record sealed under the
** new key does not open under the old one. */
static void keys_move_on_every_rekey_records(void **state) {
    (void)state;
    uint8_t ciphers[2] = {STAGE__SECURE_CHACHA, STAGE__SECURE_AESGCM};
    for (int c = 0; c < (aes_here() ? 2 : 1); c++) {
        stage__secure_keys_t keys = with_ciphers(&key_a, ciphers[c]);
        stage__secure_t i, r, stale;
        int reject;
        stage_buf_t buf = STAGE_BUF_INIT;
        uint8_t out[128];
        size_t plain;
        assert_int_equal(handshake(&i, &keys, &r, &keys, &reject), 0);
        i.rekey = r.rekey = 4;
        for (int n = 0; n < 50; n++) {
            if (n == 4) {
                stale = r;
                stale.rekey = 1000; /* a receiver that would not move */
            }
            seal(&i, &buf, "moving on", 9);
            if (n == 4)
                assert_int_equal(open1(&stale, buf.data, buf.len, out, &plain),
                                 STAGE_EPROTO);
            assert_int_equal(open1(&r, buf.data, buf.len, out, &plain), 0);
            assert_memory_equal(out, "moving on", 9);
        }
        stage__buf_free(&buf);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The same plaintext sealed 200,000 times never gives the same bytes: the
** nonce is new every time (a repeat would repeat the ciphertext). */
static void nonces_never_repeat_across_a_long_stream(void **state) {
    (void)state;
    enum { N = 200000 };
    stage__secure_t i, r;
    int reject;
    stage_buf_t buf = STAGE_BUF_INIT;
    uint8_t out[128];
    size_t plain;
    uint64_t *seen = malloc(N * sizeof *seen);
    assert_non_null(seen);
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    for (size_t k = 0; k < N; k++) {
        seal(&i, &buf, "sixteen bytes!!!", 16);
        memcpy(&seen[k], buf.data + STAGE__SECURE_HEADER, 8);
        assert_int_equal(open1(&r, buf.data, buf.len, out, &plain), 0);
    }
    assert_int_equal(i.tx_n, N);
    assert_int_equal(r.rx_n, N);
    qsort(seen, N, sizeof *seen, cmp_u64);
    for (size_t k = 1; k < N; k++)
        assert_true(seen[k] != seen[k - 1]);
    free(seen);
    stage__buf_free(&buf);
}

static void the_last_nonce_is_never_used(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    stage_buf_t buf = STAGE_BUF_INIT;
    stage__secure_piece_t p = {"x", 1};
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    i.tx_n = UINT64_MAX - 1;
    assert_int_equal(stage__secure_seal(&i, &buf, &p, 1), STAGE_EPROTO);
    assert_int_equal(buf.len, 0);
    stage__buf_free(&buf);
}

/* A write of many pieces becomes records of at most RECORD_MAX bytes,
** and the receiver gets the same bytes in the same order. */
static void pieces_are_sealed_into_bounded_records(void **state) {
    (void)state;
    stage__secure_t i, r;
    int reject;
    stage_buf_t buf = STAGE_BUF_INIT;
    size_t total = 3 * STAGE__SECURE_RECORD_MAX + 1000, at = 0;
    uint8_t *text = malloc(total), *back = malloc(total);
    for (size_t k = 0; k < total; k++)
        text[k] = (uint8_t)(k * 31 + 7);
    stage__secure_piece_t pieces[4] = {{text, 10},
                                       {text + 10, STAGE__SECURE_RECORD_MAX},
                                       {text + 10, 0},
                                       {text + 10 + STAGE__SECURE_RECORD_MAX,
                                        total - 10 - STAGE__SECURE_RECORD_MAX}};
    assert_int_equal(handshake(&i, &key_a, &r, &key_a, &reject), 0);
    assert_int_equal(stage__secure_seal(&i, &buf, pieces, 4), 0);
    /* a record per piece (none for the empty one), the last piece in
    ** three (64 KiB, 64 KiB, then the rest) */
    assert_int_equal(buf.len,
                     total + 5 * (STAGE__SECURE_HEADER + STAGE__SECURE_TAG));
    int records = 0;
    for (size_t off = 0; off < buf.len; records++) {
        size_t plain, whole;
        char why[256];
        assert_int_equal(stage__secure_record(&r, (uint8_t *)buf.data + off,
                                              buf.len - off, &plain, &whole,
                                              why, sizeof why),
                         1);
        assert_true(plain <= STAGE__SECURE_RECORD_MAX);
        assert_int_equal(stage__secure_open(&r, (uint8_t *)buf.data + off,
                                            back + at, why, sizeof why),
                         0);
        at += plain, off += whole;
    }
    assert_int_equal(records, 5);
    assert_int_equal(at, total);
    assert_memory_equal(back, text, total);
    free(text);
    free(back);
    stage__buf_free(&buf);
}

static void first_bytes_tell_plain_from_keyed(void **state) {
    (void)state;
    uint8_t rej[STAGE__SECURE_REJECT];
    assert_int_equal(stage__secure_classify("S", 1), STAGE__SECURE_MORE);
    assert_int_equal(stage__secure_classify("ST\3", 3), STAGE__SECURE_IS_PLAIN);
    assert_int_equal(stage__secure_classify("SK", 2), STAGE__SECURE_IS_SECURE);
    assert_int_equal(stage__secure_classify("GET /", 5),
                     STAGE__SECURE_IS_OTHER);
    assert_int_equal(stage__secure_classify("SX", 2), STAGE__SECURE_IS_OTHER);
    stage__secure_reject(rej, STAGE__SECURE_NO_KEY);
    assert_int_equal(stage__secure_classify(rej, sizeof rej),
                     STAGE__SECURE_IS_SECURE);
    assert_int_equal(stage__secure_rejected(rej), STAGE__SECURE_NO_KEY);
    rej[4] = 99;
    assert_int_equal(stage__secure_rejected(rej), 0);
    assert_non_null(strstr(stage__secure_reason(STAGE__SECURE_WRONG_KEY),
                           "different keys"));
}

/* ---- key files */

static char dir[64];
static char path[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/stage_keyXXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    return 0;
}

static int teardown_dir(void **state) {
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void keygen_writes_a_private_key_that_reads_back(void **state) {
    (void)state;
    char err[512];
    uint8_t k1[32], k2[32];
    struct stat st;
    assert_int_equal(stage__keyfile_generate(path, false, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65); /* 64 hex digits and a newline */
    assert_int_equal(stage__keyfile_read(path, k1, err, sizeof err), 0);
    /* not replaced unless told */
    assert_int_equal(stage__keyfile_generate(path, false, err, sizeof err),
                     STAGE_EEXISTS);
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(stage__keyfile_read(path, k2, err, sizeof err), 0);
    assert_memory_equal(k1, k2, 32);
    assert_int_equal(stage__keyfile_generate(path, true, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stage__keyfile_read(path, k2, err, sizeof err), 0);
    assert_memory_not_equal(k1, k2, 32);
}

static void a_key_others_can_read_is_refused(void **state) {
    (void)state;
    char err[512];
    uint8_t k[32];
    assert_int_equal(stage__keyfile_generate(path, false, err, sizeof err), 0);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(stage__keyfile_read(path, k, err, sizeof err),
                     STAGE_EINVAL);
    assert_non_null(strstr(err, "can be read or written by others"));
    assert_non_null(strstr(err, "mode 0644"));
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(stage__keyfile_read(path, k, err, sizeof err), 0);
}

static void a_file_that_is_not_a_key_is_refused(void **state) {
    (void)state;
    char err[512];
    uint8_t k[32];
    static const char *bad[] = {
        "", "abcd\n",
        ("zz0102030405060708090a0b0c0d0e0f101112131415161718191a"
         "1b1c1d1e1f\n"), /* one string, not two */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(stage__keyfile_read(path, k, err, sizeof err),
                         STAGE_EINVAL);
        assert_non_null(strstr(err, "64 hexadecimal digits"));
    }
    FILE *f = fopen(path, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
          f);
    fclose(f);
    assert_int_equal(stage__keyfile_read(path, k, err, sizeof err), 0);
    assert_int_equal(k[31], 0x1f);
    assert_int_equal(stage__keyfile_read("/nonexistent/k", k, err, sizeof err),
                     STAGE_EIO);
    assert_non_null(strstr(err, "cannot read cluster key '/nonexistent/k'"));
}

/* A FIFO or a directory given as the key file is refused at once (a FIFO
** is not waited on for a writer), and keygen does not offer --force for
** them. alarm(): a read that blocks kills the test loudly. */
static void a_key_path_that_is_no_file_is_refused(void **state) {
    (void)state;
    char err[512];
    uint8_t k[32];
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(5);
    assert_int_equal(stage__keyfile_read(path, k, err, sizeof err),
                     STAGE_EINVAL);
    alarm(0);
    assert_non_null(strstr(err, "is not a regular file"));
    assert_non_null(strstr(err, "stage keygen FILE"));
    for (int force = 0; force < 2; force++) {
        assert_int_equal(stage__keyfile_generate(path, force, err, sizeof err),
                         STAGE_EEXISTS);
        assert_non_null(strstr(err, "is not a regular file"));
        assert_null(strstr(err, "give --force"));
    }
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(stage__keyfile_read(path, k, err, sizeof err),
                     STAGE_EINVAL);
    assert_non_null(strstr(err, "is not a regular file"));
    assert_int_equal(stage__keyfile_generate(path, true, err, sizeof err),
                     STAGE_EEXISTS);
    assert_non_null(strstr(err, "give another FILE"));
    rmdir(path);
}

static void loopback_addresses_are_told_apart(void **state) {
    (void)state;
    assert_true(stage__addr_is_loopback("127.0.0.1:7400"));
    assert_true(stage__addr_is_loopback("127.3.2.1:0"));
    assert_true(stage__addr_is_loopback("localhost:1"));
    assert_true(stage__addr_is_loopback("[::1]:7400"));
    assert_false(stage__addr_is_loopback("0.0.0.0:7400"));
    assert_false(stage__addr_is_loopback("[::]:7400"));
    assert_false(stage__addr_is_loopback("10.0.0.2:7400"));
    assert_false(stage__addr_is_loopback("not an address"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_key_agrees_and_records_flow_both_ways),
        cmocka_unit_test(wrong_key_fails_in_the_handshake),
        cmocka_unit_test(initiator_refuses_a_reply_it_cannot_verify),
        cmocka_unit_test(a_flipped_bit_in_a_hello_is_refused),
        cmocka_unit_test(a_node_with_two_keys_accepts_either),
        cmocka_unit_test(flipped_bits_in_records_are_refused),
        cmocka_unit_test(replayed_and_reordered_records_are_refused),
        cmocka_unit_test(a_cut_record_is_never_complete),
        cmocka_unit_test(the_fastest_common_cipher_is_chosen),
        cmocka_unit_test(each_cipher_carries_records),
        cmocka_unit_test(keys_move_on_every_rekey_records),
        cmocka_unit_test(nonces_never_repeat_across_a_long_stream),
        cmocka_unit_test(the_last_nonce_is_never_used),
        cmocka_unit_test(pieces_are_sealed_into_bounded_records),
        cmocka_unit_test(first_bytes_tell_plain_from_keyed),
        cmocka_unit_test_setup_teardown(
            keygen_writes_a_private_key_that_reads_back, setup_dir,
            teardown_dir),
        cmocka_unit_test_setup_teardown(a_key_others_can_read_is_refused,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(a_file_that_is_not_a_key_is_refused,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(a_key_path_that_is_no_file_is_refused,
                                        setup_dir, teardown_dir),
        cmocka_unit_test(loopback_addresses_are_told_apart),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
