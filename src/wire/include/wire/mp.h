/*
** wire/mp.h: the pieces of the msgpack reader shared inside src/wire and
** with src/wire/id.c — one-header decoding, id payloads, id part checks.
**
** stage__mp_head decodes the header of the value at p and checks it against
** the bytes up to end: a str, bin or ext payload must fit, an array of n
** values needs at least n bytes left and a map of n pairs at least 2n. So
** a reader that trusts the header never reads past end and never allocates
** more than the input could hold. Pure functions; any thread.
*/
#ifndef STAGE_WIRE_MP_H
#define STAGE_WIRE_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/pack.h"

/* Free the calling thread's cache of small writer buffers (pack.c). A
** thread's cache goes when the thread ends; this is for a thread that
** stays, a test counting blocks say. */
void stage__pack_cache_free(void);

/* One decoded header. */
typedef struct stage__mp {
    stage_vtype_t t; /* never STAGE_T_END; STAGE_T_BAD on error */
    bool big;        /* STAGE_T_INT: an unsigned value above INT64_MAX (in u) */
    int8_t ext;      /* STAGE_T_ID / STAGE_T_OTHER: the ext type */
    uint32_t n;      /* ARRAY/MAP: count; STR/BIN/ID/OTHER: payload length */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
    } v;
    const char *s;    /* STR/BIN/ID/OTHER: the payload */
    const char *next; /* the byte after the header (and its payload) */
} stage__mp_t;

/* Decode the header at p (p < end). 0, or STAGE_EDECODE with m->t BAD. */
int stage__mp_head(const char *p, const char *end, stage__mp_t *m);

/* Skip count whole values from *pp (nesting capped at STAGE_PACK_MAX_DEPTH,
** id payloads checked); *pp moves past them. 0 or STAGE_EDECODE. */
int stage__mp_skip(const char **pp, const char *end, uint64_t count);

/* The id ext payload (docs/protocol.md "Values"): decode s[0..len) into
** *id (may be NULL to only check it). 0 or STAGE_EDECODE. */
int stage__id_from_payload(const char *s, size_t len, stage_id_t *id);
/* Largest id payload: 1 + 63 + 4 + 2 + 8 + 1 + 63. */
#define STAGE__ID_PAYLOAD_MAX 142

/* 1 if s[0..len) is a node address: "local", "host:port" or
** "[v6addr]:port", at most STAGE_ADDR_MAX - 1 bytes. */
int stage__node_addr_valid(const char *s, size_t len);
/* The canonical form of node address s into out (len bytes), as the
** transport writes it: "localhost" is 127.0.0.1, an IP literal is written
** as inet_ntop writes it. 0, or STAGE_EINVAL for what is not an IP
** address and port ("local", a host name: nodes are reached by address)
** or does not fit. Pure. */
int stage__node_addr_canon(const char *s, char *out, size_t len);
/* 1 if s[0..len) is a valid type name (see stage_type_name_valid). */
int stage__type_name_valid_n(const char *s, size_t len);

#endif
