/*
** tests/fuzz/fuzz_secure.c: a deterministic mutation fuzzer for the
** cluster-key layer (net/secure.h; ctest "fuzz.secure"). Each iteration
** runs a handshake, seals a stream of records (AES-256-GCM or
** ChaCha20-Poly1305, as the iteration picks), mutates the HELLO, the REPLY
** or the stream (flipped bits, bytes changed, inserted or removed, the
** stream cut, a record replayed, two swapped) and checks what a node
** would see:
**   - a mutated HELLO is never accepted, a mutated REPLY never finishes;
**   - from a mutated stream the receiver opens a prefix of what was sealed,
**     exactly, then refuses or waits: no altered byte is ever opened.
**
**     fuzz_secure [--seed S] [--secs T] [--iters N] [--iter I]
**
** libsodium's randomness is replaced by a generator seeded per iteration,
** so iteration I of seed S always builds the same bytes: a failure prints
** "seed S, iteration I", and `fuzz_secure --seed S --iter I` replays it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "net/secure.h"
#include "stage/errors.h"

static uint64_t rng; /* libsodium's randomness and the mutations' */

static uint64_t next(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static const char *rb_name(void) {
    return "fuzz_secure";
}
static uint32_t rb_random(void) {
    return (uint32_t)(next() >> 32);
}
static void rb_buf(void *const buf, const size_t size) {
    unsigned char *p = buf;
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)(next() >> 56);
}
static randombytes_implementation deterministic = {rb_name, rb_random, NULL,
                                                   NULL,    rb_buf,    NULL};

static uint64_t cur_seed, cur_iter;

static void fail(const char *what) {
    fprintf(stderr,
            "fuzz.secure: %s at seed %llu, iteration %llu (replay: "
            "fuzz_secure --seed %llu --iter %llu)\n",
            what, (unsigned long long)cur_seed, (unsigned long long)cur_iter,
            (unsigned long long)cur_seed, (unsigned long long)cur_iter);
    exit(1);
}

#define MAXB 8192

/* Mutate b[0..*n) (room for MAXB) in one of several ways; rec marks the
** record boundaries of a stream (NULL for a handshake message). */
static void mutate(uint8_t *b, size_t *n, const size_t *rec, int nrec) {
    switch (next() % 6) {
    case 0: /* flip 1 to 4 bits */
        for (int k = 1 + (int)(next() % 4); k > 0 && *n; k--) {
            size_t at = next() % *n;
            b[at] ^= (uint8_t)(1u << (next() % 8));
        }
        break;
    case 1: /* set a byte */
        if (*n) b[next() % *n] = (uint8_t)next();
        break;
    case 2: /* cut the end */
        if (*n) *n = next() % *n;
        break;
    case 3: /* insert a byte */
        if (*n < MAXB) {
            size_t at = next() % (*n + 1);
            memmove(b + at + 1, b + at, *n - at);
            b[at] = (uint8_t)next();
            (*n)++;
        }
        break;
    case 4: /* remove a byte */
        if (*n) {
            size_t at = next() % *n;
            memmove(b + at, b + at + 1, *n - at - 1);
            (*n)--;
        }
        break;
    default: /* a record replayed after itself, or two swapped */
        if (rec && nrec >= 2) {
            int k = (int)(next() % (uint64_t)(nrec - 1));
            size_t a = rec[k], m = rec[k + 1], e = rec[k + 2];
            uint8_t tmp[MAXB];
            if (next() % 2 && *n + (m - a) <= MAXB) { /* replay k */
                memmove(b + m + (m - a), b + m, *n - m);
                memcpy(b + m, b + a, m - a);
                *n += m - a;
            } else { /* swap k and k + 1 */
                memcpy(tmp, b + a, e - a);
                memcpy(b + a, tmp + (m - a), e - m);
                memcpy(b + a + (e - m), tmp, m - a);
            }
        } else if (*n) {
            b[0] ^= 0x80;
        }
    }
}

static void one(uint64_t seed, uint64_t iter) {
    static stage__secure_keys_t keys;
    stage__secure_t i, r, i2;
    uint8_t hello[STAGE__SECURE_MSG], reply[STAGE__SECURE_MSG];
    uint8_t b[MAXB], plain[MAXB], got[MAXB];
    size_t n, rec[40];
    char why[256];
    int reject;
    cur_seed = seed, cur_iter = iter;
    rng = seed * 0x9e3779b97f4a7c15ull + iter * 0xbf58476d1ce4e5b9ull + 1;
    memset(&keys, 0x42, sizeof keys.key);
    keys.n = 1;
    keys.ciphers = next() % 2 ? STAGE__SECURE_CHACHA : 0; /* 0: the best */
    stage__secure_init(&i, &keys, true);
    stage__secure_init(&r, &keys, false);
    if (stage__secure_hello(&i, hello)) fail("hello failed");
    int target = (int)(next() % 4);
    if (target == 0) { /* a mutated HELLO */
        memcpy(b, hello, sizeof hello);
        n = sizeof hello;
        mutate(b, &n, NULL, 0);
        if (n < STAGE__SECURE_MSG) return; /* the node waits: a deadline */
        /* a node reads the message's 53 bytes (what follows is records) */
        int same = !memcmp(b, hello, STAGE__SECURE_MSG);
        int rc = stage__secure_accept(&r, b, reply, &reject, why, sizeof why);
        if ((rc == 0) != same) fail("a mutated HELLO was accepted");
        return;
    }
    if (stage__secure_accept(&r, hello, reply, &reject, why, sizeof why))
        fail("a good HELLO was refused");
    i2 = i;
    if (target == 1) { /* a mutated REPLY */
        memcpy(b, reply, sizeof reply);
        n = sizeof reply;
        mutate(b, &n, NULL, 0);
        if (n < STAGE__SECURE_MSG) return;
        int same = !memcmp(b, reply, STAGE__SECURE_MSG);
        if ((stage__secure_finish(&i2, b, why, sizeof why) == 0) != same)
            fail("a mutated REPLY finished the handshake");
        return;
    }
    if (stage__secure_finish(&i, reply, why, sizeof why))
        fail("a good REPLY was refused");
    /* a stream of up to 30 records of 1 to 200 bytes, sealed by i */
    stage_buf_t s = STAGE_BUF_INIT;
    size_t total = 0;
    int nrec = 1 + (int)(next() % 30);
    rec[0] = 0;
    for (int k = 0; k < nrec; k++) {
        size_t len = 1 + next() % 200;
        for (size_t j = 0; j < len; j++)
            plain[total + j] = (uint8_t)next();
        stage__secure_piece_t p = {plain + total, len};
        if (stage__secure_seal(&i, &s, &p, 1)) fail("seal failed");
        total += len;
        rec[k + 1] = s.len;
    }
    memcpy(b, s.data, s.len);
    n = s.len;
    stage__buf_free(&s);
    mutate(b, &n, rec, nrec);
    size_t at = 0, out = 0;
    for (;;) { /* the receiver: opened bytes must be what was sealed */
        size_t p, whole;
        int rc = stage__secure_record(&r, b + at, n - at, &p, &whole, why,
                                      sizeof why);
        if (rc <= 0) break;
        if (out + p > sizeof got) break; /* more than was ever sealed */
        if (stage__secure_open(&r, b + at, got + out, why, sizeof why)) break;
        if (out + p > total || memcmp(got + out, plain + out, p))
            fail("an altered record was opened");
        out += p, at += whole;
    }
}

int main(int argc, char **argv) {
    uint64_t seed = 1, iters = UINT64_MAX, only = UINT64_MAX;
    double secs = 3;
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--seed")) seed = strtoull(argv[a + 1], NULL, 10);
        if (!strcmp(argv[a], "--secs")) secs = atof(argv[a + 1]);
        if (!strcmp(argv[a], "--iters"))
            iters = strtoull(argv[a + 1], NULL, 10);
        if (!strcmp(argv[a], "--iter")) only = strtoull(argv[a + 1], NULL, 10);
    }
    if (randombytes_set_implementation(&deterministic) ||
        stage__secure_global_init())
        return 2;
    if (only != UINT64_MAX) {
        one(seed, only);
        printf("fuzz.secure: seed %llu, iteration %llu: ok\n",
               (unsigned long long)seed, (unsigned long long)only);
        return 0;
    }
    time_t end = time(NULL) + (time_t)secs;
    uint64_t it = 0;
    for (; it < iters && (it % 256 || time(NULL) < end); it++)
        one(seed, it);
    printf("fuzz.secure: seed %llu, %llu iterations: ok\n",
           (unsigned long long)seed, (unsigned long long)it);
    return 0;
}
