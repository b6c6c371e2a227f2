/*
** net/secure.c: the cluster-key handshake (Noise NNpsk0) and the records
** that carry a connection's frames once it is done. secure.h describes the
** messages and the nonce discipline. Pure functions on bytes: no libuv.
** Any thread for a given state's owner.
*/
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "secure.h"
#include "stage/errors.h"

/* Hashed into the transcript first: a change of any algorithm is a change
** of this name, and two nodes that differ agree on no key. */
static const char protocol_name[] =
    "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b (keyed BLAKE2b as HKDF PRF) "
    "stage cluster v1";

enum { T_HELLO = 1, T_REPLY = 2, T_REJECT = 3 };

_Static_assert(sizeof(crypto_aead_aes256gcm_state) <= STAGE__SECURE_AES_STATE,
               "room for libsodium's AES-GCM state");

int stage__secure_global_init(void) {
    return sodium_init() < 0 ? STAGE_EIO : 0;
}

/* out = BLAKE2b-256(a || b). */
static void hash2(uint8_t out[32], const uint8_t *a, size_t alen,
                  const uint8_t *b, size_t blen) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, a, alen);
    crypto_generichash_update(&st, b, blen);
    crypto_generichash_final(&st, out, 32);
}

/* Noise's HKDF(ck, ikm) with keyed BLAKE2b-256 as the PRF: n outputs. */
static void hkdf(const uint8_t ck[32], const uint8_t *ikm, size_t ikmlen,
                 uint8_t *o1, uint8_t *o2, uint8_t *o3) {
    uint8_t temp[32], prev[33];
    crypto_generichash(temp, 32, ikm, ikmlen, ck, 32);
    uint8_t one = 1;
    crypto_generichash(prev, 32, &one, 1, temp, 32);
    memcpy(o1, prev, 32);
    prev[32] = 2;
    crypto_generichash(o2, 32, prev, 33, temp, 32);
    if (o3) {
        memcpy(prev, o2, 32);
        prev[32] = 3;
        crypto_generichash(o3, 32, prev, 33, temp, 32);
    }
    sodium_memzero(temp, sizeof temp);
    sodium_memzero(prev, sizeof prev);
}

static void mix_hash(stage__secure_t *s, const uint8_t *p, size_t n) {
    hash2(s->h, s->h, 32, p, n);
}

static void mix_key(stage__secure_t *s, const uint8_t *ikm, size_t n) {
    hkdf(s->ck, ikm, n, s->ck, s->k, NULL);
    s->n = 0;
}

static void mix_key_and_hash(stage__secure_t *s, const uint8_t *ikm, size_t n) {
    uint8_t th[32];
    hkdf(s->ck, ikm, n, s->ck, th, s->k);
    mix_hash(s, th, 32);
    sodium_memzero(th, sizeof th);
    s->n = 0;
}

/* Noise's ChaChaPoly nonce: 32 zero bits, then the counter little-endian. */
static void nonce(uint8_t out[12], uint64_t n) {
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(n >> (8 * i));
}

/* EncryptAndHash of an empty payload: the tag into out. */
static void seal_empty(stage__secure_t *s, uint8_t out[16]) {
    uint8_t nb[12], none[1] = {0}; /* an empty payload (never read) */
    unsigned long long maclen;
    nonce(nb, s->n++);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        none, out, &maclen, none, 0, s->h, 32, NULL, nb, s->k);
    mix_hash(s, out, 16);
}

/* DecryptAndHash of an empty payload with tag in. 0 or -1. */
static int open_empty(stage__secure_t *s, const uint8_t in[16]) {
    uint8_t nb[12], none[1] = {0}; /* an empty payload */
    nonce(nb, s->n++);
    if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            none, NULL, none, 0, in, s->h, 32, nb, s->k))
        return -1;
    mix_hash(s, in, 16);
    return 0;
}

/* The state both sides start from with key i (before any message). */
static void start(stage__secure_t *s, int i) {
    crypto_generichash(s->h, 32, (const uint8_t *)protocol_name,
                       sizeof protocol_name - 1, NULL, 0);
    memcpy(s->ck, s->h, 32);
    mix_hash(s, NULL, 0); /* the prologue: empty */
    mix_key_and_hash(s, s->keys->key[i], STAGE__CLUSTER_KEY_BYTES); /* psk */
    s->key = i;
}

void stage__secure_keys_wipe(stage__secure_keys_t *keys) {
    sodium_memzero(keys, sizeof *keys);
}

void stage__secure_init(stage__secure_t *s, const stage__secure_keys_t *keys,
                        bool initiator) {
    memset(s, 0, sizeof *s);
    s->keys = keys;
    s->initiator = initiator;
    s->state = SECURE_START;
}

void stage__secure_wipe(stage__secure_t *s) {
    const stage__secure_keys_t *keys = s->keys;
    sodium_memzero(s, sizeof *s);
    s->keys = keys;
    s->state = SECURE_FAILED;
}

/* The handshake is over: derive the transport keys, forget the rest. */
static void split(stage__secure_t *s) {
    uint8_t k1[32], k2[32];
    hkdf(s->ck, NULL, 0, k1, k2, NULL);
    memcpy(s->tx, s->initiator ? k1 : k2, 32);
    memcpy(s->rx, s->initiator ? k2 : k1, 32);
    if (s->cipher == STAGE__SECURE_AESGCM) {
        crypto_aead_aes256gcm_beforenm((void *)s->tx_aes, s->tx);
        crypto_aead_aes256gcm_beforenm((void *)s->rx_aes, s->rx);
    }
    if (!s->rekey) s->rekey = STAGE__SECURE_REKEY;
    sodium_memzero(k1, sizeof k1);
    sodium_memzero(k2, sizeof k2);
    sodium_memzero(s->ck, sizeof s->ck);
    sodium_memzero(s->k, sizeof s->k);
    sodium_memzero(s->e_sk, sizeof s->e_sk);
    s->tx_n = s->rx_n = 0;
    s->state = SECURE_UP;
}

static void header(uint8_t out[4], int type) {
    out[0] = 'S', out[1] = 'K', out[2] = STAGE__SECURE_VERSION;
    out[3] = (uint8_t)type;
}

int stage__secure_classify(const void *p, size_t n) {
    const uint8_t *b = p;
    if (n >= 1 && b[0] != 'S') return STAGE__SECURE_IS_OTHER;
    if (n < 2) return STAGE__SECURE_MORE;
    if (b[1] == 'T') return STAGE__SECURE_IS_PLAIN;
    return b[1] == 'K' ? STAGE__SECURE_IS_SECURE : STAGE__SECURE_IS_OTHER;
}

/* The ciphers this process can run: ChaCha20-Poly1305 always, AES-256-GCM
** where the CPU has AES-NI and CLMUL (sodium_init has looked). */
static uint8_t ciphers_here(void) {
    return STAGE__SECURE_CHACHA |
           (crypto_aead_aes256gcm_is_available() ? STAGE__SECURE_AESGCM : 0);
}

/* Write one HELLO or REPLY's header, cipher byte and ephemeral key into
** out; s has its ephemeral key pair. All of it goes into the transcript:
** the cipher choice cannot be changed on the way. */
static void write_e(stage__secure_t *s, int type, uint8_t ciphers,
                    uint8_t *out) {
    header(out, type);
    out[4] = ciphers;
    mix_hash(s, out, 5);
    memcpy(out + 5, s->e_pk, 32);
    mix_hash(s, s->e_pk, 32);
    mix_key(s, s->e_pk, 32); /* psk mode: e is also mixed into the key */
}

/* Read the peer's header (of type), cipher byte and ephemeral key from in:
** 0, or -1 (with why) if the header is not one of type. */
static int read_e(stage__secure_t *s, int type, const uint8_t *in,
                  uint8_t re[32], char *why, size_t len) {
    uint8_t want[4];
    header(want, type);
    if (memcmp(in, want, 4) != 0) {
        snprintf(why, len, "not a cluster-key %s message of version %d",
                 type == T_HELLO ? "HELLO" : "REPLY", STAGE__SECURE_VERSION);
        return -1;
    }
    mix_hash(s, in, 5);
    memcpy(re, in + 5, 32);
    mix_hash(s, re, 32);
    mix_key(s, re, 32);
    return 0;
}

static int new_ephemeral(stage__secure_t *s) {
    randombytes_buf(s->e_sk, 32);
    return crypto_scalarmult_base(s->e_pk, s->e_sk) ? STAGE_EIO : 0;
}

int stage__secure_hello(stage__secure_t *s, uint8_t out[STAGE__SECURE_MSG]) {
    if (s->state != SECURE_START || !s->initiator || s->keys->n < 1)
        return STAGE_EPROTO;
    if (new_ephemeral(s)) return STAGE_EIO;
    start(s, 0);
    s->offered = (s->keys->ciphers ? s->keys->ciphers : 0xff) & ciphers_here();
    if (!s->offered) s->offered = STAGE__SECURE_CHACHA;
    write_e(s, T_HELLO, s->offered, out);
    seal_empty(s, out + 37);
    s->state = SECURE_SENT;
    return 0;
}

/* MixKey(DH(our e, their e)). 0, or -1 for a low-order point. */
static int mix_dh(stage__secure_t *s, const uint8_t re[32]) {
    uint8_t dh[32];
    int rc = crypto_scalarmult(dh, s->e_sk, re);
    if (!rc) mix_key(s, dh, 32);
    sodium_memzero(dh, sizeof dh);
    return rc ? -1 : 0;
}

int stage__secure_accept(stage__secure_t *s,
                         const uint8_t in[STAGE__SECURE_MSG],
                         uint8_t out[STAGE__SECURE_MSG], int *reject, char *why,
                         size_t len) {
    uint8_t re[32];
    *reject = STAGE__SECURE_WRONG_KEY;
    if (s->state != SECURE_START || s->initiator) return STAGE_EPROTO;
    if (in[0] == 'S' && in[1] == 'K' && in[2] != STAGE__SECURE_VERSION) {
        snprintf(why, len,
                 "cluster-key handshake of version %d (this node speaks %d)",
                 in[2], STAGE__SECURE_VERSION);
        *reject = STAGE__SECURE_BAD_VERSION;
        goto fail;
    }
    int i = 0;
    for (; i < s->keys->n; i++) { /* a rotation may accept two keys */
        start(s, i);
        if (read_e(s, T_HELLO, in, re, why, len)) goto fail;
        if (open_empty(s, in + 37) == 0) break;
    }
    if (i == s->keys->n) {
        snprintf(why, len,
                 "wrong cluster key (its handshake does not verify "
                 "under this node's key)");
        goto fail;
    }
    /* the fastest cipher both run (the HELLO's offer is authenticated) */
    uint8_t mine =
        (s->keys->ciphers ? s->keys->ciphers : 0xff) & ciphers_here();
    s->cipher = in[4] & mine & STAGE__SECURE_AESGCM ? STAGE__SECURE_AESGCM
                : in[4] & STAGE__SECURE_CHACHA      ? STAGE__SECURE_CHACHA
                                                    : 0;
    if (!s->cipher) {
        snprintf(why, len, "no cipher in common (it offers 0x%02x)", in[4]);
        goto fail;
    }
    if (new_ephemeral(s)) {
        snprintf(why, len, "no randomness for an ephemeral key");
        goto fail;
    }
    write_e(s, T_REPLY, (uint8_t)s->cipher, out);
    if (mix_dh(s, re)) {
        snprintf(why, len, "bad ephemeral key in the handshake");
        goto fail;
    }
    seal_empty(s, out + 37);
    split(s);
    return 0;
fail:
    stage__secure_wipe(s);
    return STAGE_EPROTO;
}

int stage__secure_finish(stage__secure_t *s,
                         const uint8_t in[STAGE__SECURE_MSG], char *why,
                         size_t len) {
    uint8_t re[32];
    if (s->state != SECURE_SENT) {
        snprintf(why, len, "handshake reply out of turn");
        goto fail;
    }
    if (read_e(s, T_REPLY, in, re, why, len)) goto fail;
    if (mix_dh(s, re)) {
        snprintf(why, len, "bad ephemeral key in the handshake reply");
        goto fail;
    }
    if (open_empty(s, in + 37)) {
        snprintf(why, len,
                 "wrong cluster key (its handshake reply does not "
                 "verify under this node's key)");
        goto fail;
    }
    s->cipher = in[4];
    if ((s->cipher != STAGE__SECURE_CHACHA &&
         s->cipher != STAGE__SECURE_AESGCM) ||
        !(s->cipher & s->offered)) {
        snprintf(why, len, "it chose a cipher this node did not offer (0x%02x)",
                 in[4]);
        goto fail;
    }
    split(s);
    return 0;
fail:
    stage__secure_wipe(s);
    return STAGE_EPROTO;
}

void stage__secure_reject(uint8_t out[STAGE__SECURE_REJECT], int reason) {
    header(out, T_REJECT);
    out[4] = (uint8_t)reason;
}

int stage__secure_rejected(const uint8_t in[STAGE__SECURE_REJECT]) {
    uint8_t want[4];
    header(want, T_REJECT);
    if (memcmp(in, want, 3) != 0 || in[3] != T_REJECT) return 0;
    return in[4] >= STAGE__SECURE_WRONG_KEY &&
                   in[4] <= STAGE__SECURE_BAD_VERSION
               ? in[4]
               : 0;
}

const char *stage__secure_reason(int reason) {
    switch (reason) {
    case STAGE__SECURE_WRONG_KEY:
        return "it refused this node's cluster key: the two nodes hold "
               "different keys";
    case STAGE__SECURE_NO_KEY:
        return "it has no cluster key, and this node has one: give both "
               "the same key";
    case STAGE__SECURE_KEY_NEEDED:
        return "it requires a cluster key, and this node has none: start "
               "this node with the system's key (--cluster-key FILE)";
    case STAGE__SECURE_BAD_VERSION:
        return "it speaks another version of the cluster-key handshake";
    default:
        return "it refused the connection";
    }
}

size_t stage__secure_sealed_size(size_t n) {
    size_t records =
        (n + STAGE__SECURE_RECORD_MAX - 1) / STAGE__SECURE_RECORD_MAX;
    return n + records * (STAGE__SECURE_HEADER + STAGE__SECURE_TAG);
}

/* The next key of a direction, every s->rekey records: a one-way function
** of the last (keyed BLAKE2b), so a key taken from memory later does not
** open what went before; the nonce counter goes on. aes: the AES-GCM
** state to remake, or NULL. */
static void rekey(uint8_t key[32], unsigned char *aes) {
    static const uint8_t label[] = "stage cluster rekey";
    crypto_generichash(key, 32, label, sizeof label - 1, key, 32);
    if (aes) crypto_aead_aes256gcm_beforenm((void *)aes, key);
}

/* Seal m[0..len) (len <= RECORD_MAX) as one record at rec: the header,
** the ciphertext (written from m: no copy first), the tag. */
static void seal_record(stage__secure_t *s, uint8_t *rec, const uint8_t *m,
                        size_t len) {
    uint8_t nb[12];
    unsigned long long maclen;
    rec[0] = (uint8_t)(len >> 24), rec[1] = (uint8_t)(len >> 16);
    rec[2] = (uint8_t)(len >> 8), rec[3] = (uint8_t)len;
    if (s->tx_n && s->tx_n % s->rekey == 0)
        rekey(s->tx, s->cipher == STAGE__SECURE_AESGCM ? s->tx_aes : NULL);
    nonce(nb, s->tx_n++);
    uint8_t *c = rec + STAGE__SECURE_HEADER;
    if (s->cipher == STAGE__SECURE_AESGCM)
        crypto_aead_aes256gcm_encrypt_detached_afternm(
            c, c + len, &maclen, m, len, rec, STAGE__SECURE_HEADER, NULL, nb,
            (const void *)s->tx_aes);
    else
        crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            c, c + len, &maclen, m, len, rec, STAGE__SECURE_HEADER, NULL, nb,
            s->tx);
}

int stage__secure_seal(stage__secure_t *s, stage_buf_t *out,
                       const stage__secure_piece_t *pieces, size_t count) {
    /* a record never spans two pieces: each is encrypted from where it
    ** lies, straight into out */
    size_t bytes = 0, records = 0;
    for (size_t i = 0; i < count; i++) {
        bytes += stage__secure_sealed_size(pieces[i].len);
        records += (pieces[i].len + STAGE__SECURE_RECORD_MAX - 1) /
                   STAGE__SECURE_RECORD_MAX;
    }
    if (s->state != SECURE_UP || s->tx_n > UINT64_MAX - 1 - records)
        return STAGE_EPROTO;
    if (stage__buf_reserve(out, bytes)) return STAGE_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *m = pieces[i].data;
        for (size_t left = pieces[i].len; left;) {
            size_t len = left < STAGE__SECURE_RECORD_MAX
                             ? left
                             : STAGE__SECURE_RECORD_MAX;
            seal_record(s, (uint8_t *)out->data + out->len, m, len);
            out->len += STAGE__SECURE_HEADER + len + STAGE__SECURE_TAG;
            m += len, left -= len;
        }
    }
    return 0;
}

int stage__secure_record(const stage__secure_t *s, const uint8_t *in,
                         size_t avail, size_t *plain, size_t *whole, char *why,
                         size_t len) {
    (void)s;
    if (avail < STAGE__SECURE_HEADER) return 0;
    uint32_t n = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
                 (uint32_t)in[2] << 8 | in[3];
    if (n == 0 || n > STAGE__SECURE_RECORD_MAX) {
        snprintf(why, len,
                 "encrypted record of %u bytes (1 to %d are allowed): "
                 "not from a node with this cluster key",
                 n, STAGE__SECURE_RECORD_MAX);
        return STAGE_EPROTO;
    }
    *plain = n;
    *whole = STAGE__SECURE_HEADER + (size_t)n + STAGE__SECURE_TAG;
    return avail >= *whole;
}

int stage__secure_open(stage__secure_t *s, const uint8_t *in, uint8_t *out,
                       char *why, size_t len) {
    uint8_t nb[12];
    size_t n =
        (size_t)in[0] << 24 | (size_t)in[1] << 16 | (size_t)in[2] << 8 | in[3];
    if (s->state != SECURE_UP) {
        snprintf(why, len, "record before the cluster-key handshake");
        return STAGE_EPROTO;
    }
    if (s->rx_n && s->rx_n % s->rekey == 0 && s->rx_rekeyed != s->rx_n) {
        rekey(s->rx, s->cipher == STAGE__SECURE_AESGCM ? s->rx_aes : NULL);
        s->rx_rekeyed = s->rx_n;
    }
    nonce(nb, s->rx_n);
    const uint8_t *c = in + STAGE__SECURE_HEADER;
    int bad =
        s->cipher == STAGE__SECURE_AESGCM
            ? crypto_aead_aes256gcm_decrypt_detached_afternm(
                  out, NULL, c, n, c + n, in, STAGE__SECURE_HEADER, nb,
                  (const void *)s->rx_aes)
            : crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                  out, NULL, c, n, c + n, in, STAGE__SECURE_HEADER, nb, s->rx);
    if (bad) {
        snprintf(why, len,
                 "encrypted record %llu does not authenticate (altered, "
                 "replayed, reordered or forged)",
                 (unsigned long long)s->rx_n);
        stage__secure_wipe(s);
        return STAGE_EPROTO;
    }
    s->rx_n++;
    return 0;
}
