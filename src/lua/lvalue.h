/*
** wire/lvalue.h: Lua values <-> msgpack, for message arguments and replies.
**
** Mapping (docs/protocol.md "Values"): nil, booleans, integers (stay
** integers), floats (stay floats), strings (binary-safe, msgpack str; str
** and bin both decode to strings), tables (a proper sequence 1..n with no
** other key is an array, the empty table an empty array, anything else a
** map whose keys are strings, numbers or booleans) and, through the hooks,
** references (actor ids). Metatables are not looked at: tables are read and
** built raw.
**
** Limits: tables nest at most STAGE__LV_MAX_DEPTH deep when encoded (half
** of STAGE_PACK_MAX_DEPTH, leaving room for the envelopes that carry the
** value); a decoder accepts up to STAGE_PACK_MAX_DEPTH levels in all. At
** most STAGE__LV_MAX_ARGS arguments; an encoding may not pass the hooks'
** max_bytes (the node's max_message), or STAGE__LV_MAX_BYTES without one
** (this also stops a table shared many times over from exploding: a shared
** sub-table is copied at each place it is reached).
**
** Errors: the encoder never raises a Lua error itself (only a hook could);
** the decoder may raise a Lua memory error, as any Lua API call that
** allocates, but keeps no C resources while it runs (its state is on the C
** stack), so unwinding through it leaks nothing. Where nothing would
** catch that error (a coroutine not yet running, C code outside any
** lua_pcall), use stage__lv_pdecode, which turns it into STAGE_ENOMEM at
** the cost of one lua_pcall. Both reserve Lua stack
** space with lua_checkstack, which does not raise. Calls leave the Lua
** stack as it was, plus the decoded values on success.
** Threads: the thread that owns L.
*/
#ifndef STAGE_WIRE_LVALUE_H
#define STAGE_WIRE_LVALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "stage/id.h"
#include "stage/pack.h"

#define STAGE__LV_MAX_DEPTH (STAGE_PACK_MAX_DEPTH / 2)
#define STAGE__LV_MAX_ARGS 250
#define STAGE__LV_MAX_BYTES ((size_t)64 << 20)

typedef struct stage__lv_hooks {
    /* Encode the userdata at idx if it is sendable (a reference): write it
    ** to p and return 0; otherwise return STAGE_EENCODE. May be NULL. */
    int (*encode_userdata)(lua_State *L, int idx, stage_pack_t *p, void *ud);
    /* Push the Lua value for an actor id (a reference). May be NULL: then
    ** ids decode as their text form. */
    void (*push_id)(lua_State *L, const stage_id_t *id, void *ud);
    void *ud;
    size_t max_bytes; /* the largest encoding; 0: STAGE__LV_MAX_BYTES */
    /* For the state encoder (stage__lv_encode_state): NULL if the
    ** userdata at idx may travel (encode_userdata then writes it), else
    ** what it is, for the error ("a future"). May be NULL. */
    const char *(*what_userdata)(lua_State *L, int idx, void *ud);
} stage__lv_hooks_t;

/* Encode the n values at stack slots first..first+n-1 as one msgpack array.
** Arguments are numbered from 1 in messages. On failure returns
** STAGE_EENCODE (STAGE_ETOOBIG past the size limit, STAGE_ENOMEM if p
** could not grow), leaves p as it was and writes e.g. "argument 2: field
** 'f': cannot send a function" or "argument 1: table contains a cycle" to
** err. h may be NULL. */
int stage__lv_encode_args(lua_State *L, int first, int n, stage_pack_t *p,
                          const stage__lv_hooks_t *h, char *err, size_t errlen);
/* The common case of encode_args, and nothing else: fewer than 16 values,
** each nil, a boolean, a number or a string, within the size limit. Returns
** true with them encoded, or false with p as it was (encode_args then says
** what it cannot take, if anything). No userdata among them: no future. */
bool stage__lv_encode_scalars(lua_State *L, int first, int n, stage_pack_t *p,
                              const stage__lv_hooks_t *h);
/* Encode one value (a reply); errors name "value" instead of "argument N". */
int stage__lv_encode_value(lua_State *L, int idx, stage_pack_t *p,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen);
/* Encode one value as argument argn of a message (not wrapped in an
** array): errors read "argument <argn>: ..." as in encode_args. */
int stage__lv_encode_arg(lua_State *L, int idx, int argn, stage_pack_t *p,
                         const stage__lv_hooks_t *h, char *err, size_t errlen);
/* Push the elements of the msgpack array in data; returns their number, or
** STAGE_EDECODE with a message (malformed, too deep, too many values) and
** nothing pushed. */
int stage__lv_decode_args(lua_State *L, const char *data, size_t len,
                          const stage__lv_hooks_t *h, char *err, size_t errlen);
/* Push the one msgpack value in data. 0, or STAGE_EDECODE with nothing
** pushed. */
int stage__lv_decode_value(lua_State *L, const char *data, size_t len,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen);

/* An actor's state for an image (core/image.h): the table at idx as one
** msgpack value, as encode_value, except that
**   - a table met again (shared, or a cycle) is written once, and then as
**     the ext type STAGE__LV_EXT_TABLE with its number (4 bytes, big
**     endian): tables are numbered from 1 in the order they are first
**     met, the state table itself being 1, so sharing and cycles survive;
**   - a table with a metatable, other than the state table (whose class
**     the importer sets again), is refused: its metatable cannot travel;
**   - errors name the field from "self": "self.handlers[2] is a function:
**     it cannot travel".
** Returns 0 or STAGE_EENCODE / STAGE_ETOOBIG / STAGE_ENOMEM with err. */
int stage__lv_encode_state(lua_State *L, int idx, stage_pack_t *p,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen);
/* Push the state table in data (made by stage__lv_encode_state; hostile).
** 0, or STAGE_EDECODE with nothing pushed. Raises only Lua memory errors,
** as stage__lv_decode_value. */
int stage__lv_decode_state(lua_State *L, const char *data, size_t len,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen);

#define STAGE__LV_EXT_TABLE 2 /* msgpack ext type: a table seen before */

/* stage__lv_decode_args (args true) or stage__lv_decode_value (false) run
** under lua_pcall: a Lua memory error returns STAGE_ENOMEM ("out of
** memory" in err) instead of raising. Same results otherwise. */
int stage__lv_pdecode(lua_State *L, bool args, const char *data, size_t len,
                      const stage__lv_hooks_t *h, char *err, size_t errlen);

#endif
