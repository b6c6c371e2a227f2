/*
** net/secure.h: the cluster-key layer of a connection — its handshake and
** its records, as pure functions on bytes (no libuv, no sockets, no clock;
** tests/unit/test_secure.c drives it alone). docs/security.md says what it
** protects against and what not; docs/transport.md shows the bytes.
**
** Handshake: Noise's NNpsk0 pattern with X25519 and BLAKE2b (HKDF with
** keyed BLAKE2b as its PRF) and ChaCha20-Poly1305 for the handshake's own
** tags, from libsodium. The dialler (initiator) sends HELLO = header, the
** ciphers it offers for records, its ephemeral public key, and an empty
** payload sealed under a key derived from the cluster key and that public
** key; the acceptor (responder) checks the tag (a wrong key fails here,
** before any Diffie-Hellman is computed) and answers REPLY = header, the
** cipher chosen, its ephemeral key, an empty payload sealed under a key
** that also mixes in DH(e_i, e_r); the initiator checks that tag (a wrong
** key or a man-in-the-middle fails here). Every byte of both messages is
** in the transcript hash that seals them (so the cipher choice cannot be
** altered). Both then split the chaining key into two transport keys, one
** per direction; the ephemeral secrets are wiped. A responder that cannot
** accept a HELLO answers REJECT (a reason byte, unauthenticated: it only
** makes the log line on the far side clear).
**
**   HELLO, REPLY: "SK" | version 1 | type (1, 2) | ciphers (1) | e (32) |
**                 tag (16)
**   REJECT:       "SK" | version 1 | type 3 | reason (1)
**   record:       length (u32 big-endian, 1..RECORD_MAX) |
**                 ciphertext (length bytes) | tag (16)
**
** Records: AES-256-GCM when both CPUs run it in hardware (AES-NI), else
** ChaCha20-Poly1305 (IETF), under the direction's key, with the 4-byte
** length header as associated data. Nonce discipline: each direction's
** nonce is a 64-bit counter (4 zero bytes, then the counter
** little-endian), starting at 0 for the first record after the handshake
** and incremented once per record, never sent; the keys are new for every
** connection (both ephemeral keys are fresh), so a (key, nonce) pair is
** never used twice. Every REKEY records a direction's key is replaced by
** a one-way function of it (the counter goes on), which keeps the data
** under one AES-GCM key within its bounds (at most 2^20 records of 64 KiB:
** 2^32 blocks). A replayed, reordered, dropped, altered or injected record
** fails its tag, as does a truncated one. At 2^64 - 1 records the side
** refuses to seal more (the connection must be replaced). A failed state
** is sticky: nothing more is opened or sealed.
** Not thread-safe: one owner (the connection's loop thread).
*/
#ifndef STAGE_NET_SECURE_H
#define STAGE_NET_SECURE_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/keyfile.h"
#include "util/buf.h"

#define STAGE__SECURE_VERSION 1
#define STAGE__SECURE_MSG 53           /* HELLO and REPLY */
#define STAGE__SECURE_REJECT 5         /* REJECT */
#define STAGE__SECURE_HEADER 4         /* of a record */
#define STAGE__SECURE_TAG 16           /* of a record */
#define STAGE__SECURE_RECORD_MAX 65536 /* plaintext bytes in one record */
/* Records sealed under one key before the direction moves to the next. */
#define STAGE__SECURE_REKEY ((uint64_t)1 << 20)
#define STAGE__SECURE_AES_STATE 512 /* bytes for libsodium's AES-GCM state */

/* Ciphers (bits of the HELLO's offer; the REPLY names the one chosen). */
enum { STAGE__SECURE_CHACHA = 1, STAGE__SECURE_AESGCM = 2 };

/* The keys a node holds: keys[0] dials, every one is accepted. */
typedef struct stage__secure_keys {
    uint8_t key[STAGE__CLUSTER_KEYS][STAGE__CLUSTER_KEY_BYTES];
    int n;           /* 0: no cluster key */
    uint8_t ciphers; /* the ciphers offered and accepted; 0: every one
                     ** this CPU runs (tests narrow it) */
} stage__secure_keys_t;

/* Why a REJECT was sent. */
enum {
    STAGE__SECURE_WRONG_KEY = 1,  /* the HELLO did not verify */
    STAGE__SECURE_NO_KEY = 2,     /* the rejecting node has no key */
    STAGE__SECURE_KEY_NEEDED = 3, /* it has one and got the plain protocol */
    STAGE__SECURE_BAD_VERSION = 4
};

/* What the first bytes of a connection are. */
enum {
    STAGE__SECURE_MORE = 0,  /* too few bytes to tell */
    STAGE__SECURE_IS_PLAIN,  /* a frame of the plain protocol ("ST") */
    STAGE__SECURE_IS_SECURE, /* a message of this layer ("SK") */
    STAGE__SECURE_IS_OTHER   /* neither */
};

/* States: START -> SENT [hello] -> UP [finish] (initiator);
** START -> UP [accept] (responder); any -> FAILED. */
enum { SECURE_START, SECURE_SENT, SECURE_UP, SECURE_FAILED };

typedef struct stage__secure {
    int state;
    bool initiator;
    int key; /* index of the key the handshake used */
    const stage__secure_keys_t *keys;
    uint8_t ck[32], h[32], k[32]; /* Noise symmetric state */
    uint64_t n;                   /* nonce of k */
    uint8_t e_sk[32], e_pk[32];   /* our ephemeral key pair */
    uint8_t offered;              /* initiator: the ciphers its HELLO offered */
    int cipher;                   /* STAGE__SECURE_CHACHA or _AESGCM */
    uint8_t tx[32], rx[32];       /* transport keys (the current ones) */
    uint64_t tx_n, rx_n;          /* records sealed and opened */
    uint64_t rekey;               /* records per key: STAGE__SECURE_REKEY */
    uint64_t rx_rekeyed;          /* rx_n at the last receive rekey */
    alignas(16) unsigned char tx_aes[STAGE__SECURE_AES_STATE];
    alignas(16) unsigned char rx_aes[STAGE__SECURE_AES_STATE];
} stage__secure_t;

/* One piece of plaintext to seal (pieces are concatenated). */
typedef struct stage__secure_piece {
    const void *data;
    size_t len;
} stage__secure_piece_t;

/* Make libsodium ready (once per process; any thread). 0 or STAGE_EIO. */
int stage__secure_global_init(void);

/* Wipe keys (n is 0 afterwards). */
void stage__secure_keys_wipe(stage__secure_keys_t *keys);

/* Start s for one connection, borrowing keys (n >= 1) for its life. */
void stage__secure_init(stage__secure_t *s, const stage__secure_keys_t *keys,
                        bool initiator);
/* Wipe every secret of s. */
void stage__secure_wipe(stage__secure_t *s);

/* What the first bytes p[0..n) of a connection are (STAGE__SECURE_IS_*),
** or STAGE__SECURE_MORE. */
int stage__secure_classify(const void *p, size_t n);

/* Initiator: write HELLO into out. 0, or STAGE_EIO (no randomness). */
int stage__secure_hello(stage__secure_t *s, uint8_t out[STAGE__SECURE_MSG]);
/* Responder: check HELLO in[] under each key and write REPLY into out;
** s is then UP. 0, or STAGE_EPROTO with *reject set (the reason to send
** back: STAGE__SECURE_*) and the reason in why. */
int stage__secure_accept(stage__secure_t *s,
                         const uint8_t in[STAGE__SECURE_MSG],
                         uint8_t out[STAGE__SECURE_MSG], int *reject, char *why,
                         size_t len);
/* Initiator: check REPLY in[]; s is then UP. 0, or STAGE_EPROTO and why. */
int stage__secure_finish(stage__secure_t *s,
                         const uint8_t in[STAGE__SECURE_MSG], char *why,
                         size_t len);

/* Write REJECT with reason into out. */
void stage__secure_reject(uint8_t out[STAGE__SECURE_REJECT], int reason);
/* The reason of the REJECT in[] (STAGE__SECURE_*), or 0 if in[] is not
** one. */
int stage__secure_rejected(const uint8_t in[STAGE__SECURE_REJECT]);
/* The sentence a node logs for a REJECT reason it received. */
const char *stage__secure_reason(int reason);

/* The bytes that n plaintext bytes in one piece take once sealed. */
size_t stage__secure_sealed_size(size_t n);
/* Seal pieces[0..count), in order, as records of at most RECORD_MAX
** plaintext bytes each (a record holds bytes of one piece only: each is
** encrypted where it lies, without a copy), appended to out. 0,
** STAGE_ENOMEM (out unchanged), or STAGE_EPROTO (not UP, or the nonces
** are used up). */
int stage__secure_seal(stage__secure_t *s, stage_buf_t *out,
                       const stage__secure_piece_t *pieces, size_t count);
/* The record at the start of in[0..avail): 1 and its plaintext length in
** *plain and its whole length in *whole; 0 if more bytes are needed;
** STAGE_EPROTO with why for a length out of bounds. */
int stage__secure_record(const stage__secure_t *s, const uint8_t *in,
                         size_t avail, size_t *plain, size_t *whole, char *why,
                         size_t len);
/* Open the complete record at in (stage__secure_record said 1) into
** out[0..plain). 0, or STAGE_EPROTO with why (forged, altered, replayed
** or out of order; s is then FAILED). */
int stage__secure_open(stage__secure_t *s, const uint8_t *in, uint8_t *out,
                       char *why, size_t len);

#endif
