/*
** stage/pack.h: writing and reading the MessagePack values actors exchange.
**
** Writer: append values to a stage_pack_t; errors are sticky (check once at
** the end with stage_pack_error). Reader: a cursor over bytes that may come
** from the network, so every declared length is checked against the bytes
** that remain and nesting depth is capped; a malformed value makes every
** call return STAGE_EDECODE and the cursor stops.
**
** Actor ids are the ext type STAGE_MSGPACK_EXT_ID. Not thread-safe: one
** owner per writer or cursor.
*/
#ifndef STAGE_PACK_H
#define STAGE_PACK_H

#include "stage/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"

STAGE_BEGIN_DECLS

#define STAGE_MSGPACK_EXT_ID 1  /* msgpack ext type of an actor id */
#define STAGE_PACK_MAX_DEPTH 64 /* deepest nesting a reader accepts */

typedef struct stage_pack {
    char *data;
    size_t len;
    size_t cap;
    int err; /* first error, sticky */
} stage_pack_t;

#define STAGE_PACK_INIT                                                        \
    { NULL, 0, 0, 0 }

STAGE_EXTERN void stage_pack_init(stage_pack_t *p);
/* Free the memory; p is empty and reusable. */
STAGE_EXTERN void stage_pack_free(stage_pack_t *p);
/* Forget the contents and any error, keep the memory. */
STAGE_EXTERN void stage_pack_reset(stage_pack_t *p);
/* 0, or the first error (STAGE_ENOMEM, STAGE_EINVAL). */
STAGE_EXTERN int stage_pack_error(const stage_pack_t *p);

STAGE_EXTERN void stage_pack_nil(stage_pack_t *p);
STAGE_EXTERN void stage_pack_bool(stage_pack_t *p, bool v);
STAGE_EXTERN void stage_pack_int(stage_pack_t *p, int64_t v);
STAGE_EXTERN void stage_pack_double(stage_pack_t *p, double v);
STAGE_EXTERN void stage_pack_str(stage_pack_t *p, const char *s, size_t len);
STAGE_EXTERN void stage_pack_cstr(stage_pack_t *p, const char *s);
STAGE_EXTERN void stage_pack_bin(stage_pack_t *p, const void *b, size_t len);
STAGE_EXTERN void stage_pack_array(stage_pack_t *p,
                                   uint32_t n); /* then n values */
STAGE_EXTERN void stage_pack_map(stage_pack_t *p,
                                 uint32_t n); /* then n key, value */
STAGE_EXTERN void stage_pack_id(stage_pack_t *p, const stage_id_t *id);
/* Append one already encoded value (not checked). */
STAGE_EXTERN void stage_pack_raw(stage_pack_t *p, const void *b, size_t len);

typedef enum stage_vtype {
    STAGE_T_END = 0, /* no more bytes */
    STAGE_T_NIL,
    STAGE_T_BOOL,
    STAGE_T_INT,
    STAGE_T_DOUBLE,
    STAGE_T_STR,
    STAGE_T_BIN,
    STAGE_T_ARRAY,
    STAGE_T_MAP,
    STAGE_T_ID,
    STAGE_T_OTHER, /* an ext type we do not know: skip it */
    STAGE_T_BAD    /* malformed */
} stage_vtype_t;

typedef struct stage_unpack {
    const char *p;
    const char *end;
    int err; /* sticky STAGE_EDECODE */
} stage_unpack_t;

STAGE_EXTERN void stage_unpack_init(stage_unpack_t *u, const char *data,
                                    size_t len);
/* The type of the next value, without consuming it. */
STAGE_EXTERN stage_vtype_t stage_unpack_peek(stage_unpack_t *u);
/* Each reads one value of its type: 0, or STAGE_EDECODE (wrong type or
** malformed; the cursor does not move on a wrong type). */
STAGE_EXTERN int stage_unpack_nil(stage_unpack_t *u);
STAGE_EXTERN int stage_unpack_bool(stage_unpack_t *u, bool *v);
STAGE_EXTERN int stage_unpack_int(stage_unpack_t *u,
                                  int64_t *v); /* also from uint */
STAGE_EXTERN int stage_unpack_double(stage_unpack_t *u,
                                     double *v); /* also from int */
STAGE_EXTERN int stage_unpack_str(stage_unpack_t *u, const char **s,
                                  size_t *len);
STAGE_EXTERN int stage_unpack_bin(stage_unpack_t *u, const char **b,
                                  size_t *len);
STAGE_EXTERN int stage_unpack_array(stage_unpack_t *u, uint32_t *n);
STAGE_EXTERN int stage_unpack_map(stage_unpack_t *u, uint32_t *n);
STAGE_EXTERN int stage_unpack_id(stage_unpack_t *u, stage_id_t *id);
/* Skip one whole value, however nested (up to STAGE_PACK_MAX_DEPTH). */
STAGE_EXTERN int stage_unpack_skip(stage_unpack_t *u);

/* Check that data[0..len) is exactly one well-formed value within the
** depth cap (or, with count > 1, that many values). 0 or STAGE_EDECODE. */
STAGE_EXTERN int stage_pack_validate(const char *data, size_t len, int count);

STAGE_END_DECLS

#endif
