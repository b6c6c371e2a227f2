/*
** wire/lvalue.c: Lua values <-> msgpack (see lvalue.h for the mapping).
**
** Encoding walks tables recursively, keeping the tables on the current path
** in a fixed C array: a table met again on its own path is a cycle, one met
** again elsewhere is copied. No allocation beyond the output buffer, and no
** Lua table for bookkeeping. The path of keys is kept too (the Lua stack
** holds each level's key during lua_next), so an error can name where it
** happened; the message is only built on failure.
** Decoding trusts nothing: headers come from stage__mp_head, which checks
** every length and count against the remaining bytes before a table is
** sized from it.
** Threads: the thread that owns L.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "stage/errors.h"
#include "lvalue.h"
#include "wire/mp.h"

/* ---- encoding ---------------------------------------------------------------
 */

typedef struct enc {
    lua_State *L;
    stage_pack_t *p;
    const stage__lv_hooks_t *h;
    size_t base; /* p->len when we started */
    int argn;    /* the argument being encoded; 0 for a reply value */
    int depth;   /* tables open */
    const void *open[STAGE__LV_MAX_DEPTH];
    struct {
        int key; /* stack index of the key, or 0: array index i */
        lua_Integer i;
    } path[STAGE__LV_MAX_DEPTH];
    char *err;
    size_t errlen;
    /* stage__lv_encode_state: the stack index of the table of tables met
    ** (table -> its number), and how many */
    int seen;
    lua_Integer nseen;
} enc_t;

/* Append a formatted piece to buf[0..len) at *at, truncating quietly. */
static void vappend(char *buf, size_t len, size_t *at, const char *fmt,
                    va_list ap) {
    if (*at + 1 >= len) return;
    int n = vsnprintf(buf + *at, len - *at, fmt, ap);
    if (n > 0) *at += (size_t)n < len - *at ? (size_t)n : len - *at - 1;
}

static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vappend(buf, len, at, fmt, ap);
    va_end(ap);
}

/* Append step k of the path: "field 'a'" / "index 3" / "key true" first,
** then ".'b'" / "[3]" / "[true]". */
static void path_step(enc_t *e, int k, size_t *at) {
    lua_State *L = e->L;
    int key = e->path[k].key;
    if (key && lua_type(L, key) == LUA_TSTRING)
        append(e->err, e->errlen, at, k ? ".'%s'" : "field '%s'",
               lua_tostring(L, key));
    else if (!key || lua_isinteger(L, key))
        append(e->err, e->errlen, at, k ? "[%lld]" : "index %lld",
               (long long)(key ? lua_tointeger(L, key) : e->path[k].i));
    else if (lua_type(L, key) == LUA_TNUMBER)
        append(e->err, e->errlen, at, k ? "[%.14g]" : "key %.14g",
               lua_tonumber(L, key));
    else
        append(e->err, e->errlen, at, k ? "[%s]" : "key %s",
               lua_toboolean(L, key) ? "true" : "false");
}

/* Report an error at the current path, e.g. "argument 1: field 'a'[2]:
** cannot send a function". Returns STAGE_EENCODE. */
static int fail(enc_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append the path to the current value from "self": self.a[2].b or
** self["not a name"]. */
static void state_path(enc_t *e, size_t *at) {
    lua_State *L = e->L;
    append(e->err, e->errlen, at, "self");
    for (int k = 0; k < e->depth; k++) {
        int key = e->path[k].key;
        if (key && lua_type(L, key) == LUA_TSTRING) {
            const char *s = lua_tostring(L, key);
            size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                 "QRSTUVWXYZ_0123456789");
            if (n && !s[n] && !(s[0] >= '0' && s[0] <= '9'))
                append(e->err, e->errlen, at, ".%s", s);
            else
                append(e->err, e->errlen, at, "[\"%s\"]", s);
        } else if (!key || lua_isinteger(L, key)) {
            append(e->err, e->errlen, at, "[%lld]",
                   (long long)(key ? lua_tointeger(L, key) : e->path[k].i));
        } else if (lua_type(L, key) == LUA_TNUMBER) {
            append(e->err, e->errlen, at, "[%.14g]", lua_tonumber(L, key));
        } else {
            append(e->err, e->errlen, at, "[%s]",
                   lua_toboolean(L, key) ? "true" : "false");
        }
    }
}

/* The value at the current path is what (e.g. "a function"), which cannot
** be sent, or travel in an image. Returns STAGE_EENCODE. */
static int refuse(enc_t *e, const char *what) {
    size_t at = 0;
    if (!e->seen) return fail(e, "cannot send %s", what);
    if (!e->err || e->errlen == 0) return STAGE_EENCODE;
    e->err[0] = '\0';
    state_path(e, &at);
    append(e->err, e->errlen, &at, " is %s: it cannot travel", what);
    return STAGE_EENCODE;
}

static int fail(enc_t *e, const char *fmt, ...) {
    size_t at = 0;
    if (!e->err || e->errlen == 0) return STAGE_EENCODE;
    e->err[0] = '\0';
    if (e->seen) {
        state_path(e, &at);
        append(e->err, e->errlen, &at, ": ");
        va_list ap;
        va_start(ap, fmt);
        vappend(e->err, e->errlen, &at, fmt, ap);
        va_end(ap);
        return STAGE_EENCODE;
    }
    if (e->argn)
        append(e->err, e->errlen, &at, "argument %d", e->argn);
    else
        append(e->err, e->errlen, &at, "value");
    for (int k = 0; k < e->depth; k++) {
        if (k == 0) append(e->err, e->errlen, &at, ": ");
        path_step(e, k, &at);
    }
    append(e->err, e->errlen, &at, ": ");
    va_list ap;
    va_start(ap, fmt);
    vappend(e->err, e->errlen, &at, fmt, ap);
    va_end(ap);
    return STAGE_EENCODE;
}

static int enc_value(enc_t *e, int idx);

/* The most bytes an encoding may take: the hooks' max_bytes, if set. */
static size_t max_bytes(const enc_t *e) {
    return e->h && e->h->max_bytes ? e->h->max_bytes : STAGE__LV_MAX_BYTES;
}

/* Report that the encoding passed max_bytes. Returns STAGE_ETOOBIG. */
static int too_large(enc_t *e) {
    fail(e, "value too large (over %zu bytes%s)", max_bytes(e),
         e->h && e->h->max_bytes ? ": --max-message" : "");
    return STAGE_ETOOBIG;
}

/* Scan table t: its key count, and whether it is the sequence 1..n. */
static int enc_scan(enc_t *e, int t, lua_Unsigned *count, int *seq) {
    lua_State *L = e->L;
    lua_Unsigned n = lua_rawlen(L, t), c = 0;
    int in_range = 1;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        c++;
        int kt = lua_type(L, -1);
        if (kt == LUA_TNUMBER && lua_isinteger(L, -1)) {
            lua_Integer k = lua_tointeger(L, -1);
            if (k < 1 || (lua_Unsigned)k > n) in_range = 0;
        } else if (kt == LUA_TSTRING || kt == LUA_TNUMBER ||
                   kt == LUA_TBOOLEAN) {
            in_range = 0;
        } else {
            lua_pop(L, 1);
            char what[64];
            snprintf(what, sizeof what, "a table with a %s key",
                     lua_typename(L, kt));
            return refuse(e, what);
        }
    }
    *count = c;
    *seq = in_range && c == n;
    return 0;
}

/* Encode the key at idx (already checked to be a string, number or bool). */
static void enc_key(enc_t *e, int idx) {
    lua_State *L = e->L;
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        stage_pack_str(e->p, s, len);
    } else if (lua_isinteger(L, idx)) {
        stage_pack_int(e->p, lua_tointeger(L, idx));
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
        stage_pack_double(e->p, lua_tonumber(L, idx));
    } else {
        stage_pack_bool(e->p, lua_toboolean(L, idx));
    }
}

/* Encode the elements of table t (already open on the path). */
static int enc_fields(enc_t *e, int t, lua_Unsigned count, int seq) {
    lua_State *L = e->L;
    int d = e->depth - 1, rc;
    if (seq) {
        stage_pack_array(e->p, (uint32_t)count);
        e->path[d].key = 0;
        for (lua_Unsigned i = 1; i <= count; i++) {
            e->path[d].i = (lua_Integer)i;
            lua_rawgeti(L, t, (lua_Integer)i);
            rc = enc_value(e, lua_gettop(L));
            if (rc) return rc;
            lua_pop(L, 1);
        }
        return 0;
    }
    stage_pack_map(e->p, (uint32_t)count);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        e->path[d].key = lua_gettop(L) - 1;
        enc_key(e, -2);
        rc = enc_value(e, lua_gettop(L));
        if (rc) return rc;
        lua_pop(L, 1);
    }
    return 0;
}

/* State mode: a table met before is written as its number (returns 1);
** a new one is numbered (returns 0), or refused (< 0). */
static int enc_seen(enc_t *e, int t) {
    lua_State *L = e->L;
    lua_pushvalue(L, t);
    if (lua_rawget(L, e->seen) == LUA_TNUMBER) {
        uint32_t n = (uint32_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        char b[6] = {(char)0xd6,      STAGE__LV_EXT_TABLE, (char)(n >> 24),
                     (char)(n >> 16), (char)(n >> 8),      (char)n};
        stage_pack_raw(e->p, b, sizeof b);
        return 1;
    }
    lua_pop(L, 1);
    if (e->depth && lua_getmetatable(L, t)) {
        lua_pop(L, 1);
        return refuse(e, "a table with a metatable");
    }
    if (e->nseen == UINT32_MAX) return fail(e, "too many tables");
    lua_pushvalue(L, t);
    lua_pushinteger(L, ++e->nseen);
    lua_rawset(L, e->seen);
    return 0;
}

static int enc_table(enc_t *e, int t) {
    lua_State *L = e->L;
    const void *self = lua_topointer(L, t);
    if (e->seen && !lua_checkstack(L, 4))
        return fail(e, "out of Lua stack space");
    int rc = e->seen ? enc_seen(e, t) : 0;
    if (rc) return rc > 0 ? 0 : rc;
    for (int k = 0; !e->seen && k < e->depth; k++)
        if (e->open[k] == self) return fail(e, "table contains a cycle");
    if (e->depth == STAGE__LV_MAX_DEPTH)
        return fail(e, "tables nested deeper than %d", STAGE__LV_MAX_DEPTH);
    if (e->p->len - e->base > max_bytes(e)) return too_large(e);
    if (!lua_checkstack(L, 4)) return fail(e, "out of Lua stack space");
    lua_Unsigned count = 0;
    int seq = 0;
    rc = enc_scan(e, t, &count, &seq);
    if (rc) return rc;
    if (count > UINT32_MAX) return fail(e, "table too large");
    e->open[e->depth++] = self;
    rc = enc_fields(e, t, count, seq);
    if (rc) return rc;
    e->depth--;
    return 0;
}

static int enc_value(enc_t *e, int idx) {
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        stage_pack_nil(e->p);
        return 0;
    case LUA_TBOOLEAN:
        stage_pack_bool(e->p, lua_toboolean(L, idx));
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            stage_pack_int(e->p, lua_tointeger(L, idx));
        else
            stage_pack_double(e->p, lua_tonumber(L, idx));
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        stage_pack_str(e->p, s, len);
        return 0;
    }
    case LUA_TTABLE:
        return enc_table(e, idx);
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
        if (e->seen && e->h && e->h->what_userdata) {
            const char *what = e->h->what_userdata(L, idx, e->h->ud);
            if (what) return refuse(e, what);
        }
        if (e->h && e->h->encode_userdata &&
            e->h->encode_userdata(L, idx, e->p, e->h->ud) == 0)
            return 0;
        return refuse(e, e->seen ? "a userdata" : "userdata");
    case LUA_TFUNCTION:
        return refuse(e, "a function");
    case LUA_TTHREAD:
        return refuse(e, e->seen ? "a coroutine" : "a thread");
    default: {
        char what[64];
        snprintf(what, sizeof what, "a %s", luaL_typename(L, idx));
        return refuse(e, what);
    }
    }
}

/* Set up e; the caller runs the encoding, then finish(). */
static void enc_init(enc_t *e, lua_State *L, stage_pack_t *p,
                     const stage__lv_hooks_t *h, char *err, size_t errlen) {
    e->L = L;
    e->p = p;
    e->h = h;
    e->base = p->len;
    e->argn = 0;
    e->depth = 0;
    e->err = err;
    e->errlen = errlen;
    e->seen = 0;
    e->nseen = 0;
    if (err && errlen) err[0] = '\0';
}

/* Restore the stack and, on failure, the buffer. Returns rc, or the
** buffer's own error. */
static int enc_finish(enc_t *e, int top, int rc) {
    lua_settop(e->L, top);
    if (!rc && e->p->len - e->base > max_bytes(e)) rc = too_large(e);
    if (!rc && stage_pack_error(e->p)) {
        rc = stage_pack_error(e->p);
        if (e->err && e->errlen) snprintf(e->err, e->errlen, "out of memory");
    }
    if (rc) e->p->len = e->base;
    return rc;
}

/* The arguments of most messages are a few numbers, strings and booleans:
** write them as enc_value would, without the set-up a walk of tables needs.
** Returns 0, or 1 at the first argument of another type (nothing is
** undone: the caller starts over). */
static int enc_scalars(lua_State *L, int first, int n, stage_pack_t *p) {
    for (int i = first; i < first + n; i++) {
        switch (lua_type(L, i)) {
        case LUA_TNIL:
            stage_pack_nil(p);
            break;
        case LUA_TBOOLEAN:
            stage_pack_bool(p, lua_toboolean(L, i));
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, i))
                stage_pack_int(p, lua_tointeger(L, i));
            else
                stage_pack_double(p, lua_tonumber(L, i));
            break;
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, i, &len);
            stage_pack_str(p, s, len);
            break;
        }
        default:
            return 1;
        }
    }
    return 0;
}

bool stage__lv_encode_scalars(lua_State *L, int first, int n, stage_pack_t *p,
                              const stage__lv_hooks_t *h) {
    if (n < 0 || n >= 16) return false;
    size_t base = p->len;
    stage_pack_array(p, (uint32_t)n);
    if (!enc_scalars(L, lua_absindex(L, first), n, p) && !stage_pack_error(p) &&
        p->len - base <=
            (h && h->max_bytes ? h->max_bytes : STAGE__LV_MAX_BYTES))
        return true;
    p->len = base;
    return false;
}

int stage__lv_encode_args(lua_State *L, int first, int n, stage_pack_t *p,
                          const stage__lv_hooks_t *h, char *err,
                          size_t errlen) {
    if (stage__lv_encode_scalars(L, first, n, p, h)) {
        if (err && errlen) err[0] = '\0';
        return 0;
    }
    enc_t e;
    int top = lua_gettop(L), rc = 0;
    enc_init(&e, L, p, h, err, errlen);
    if (n < 0 || n > STAGE__LV_MAX_ARGS) {
        if (err && errlen)
            snprintf(err, errlen, "too many arguments (%d, at most %d)", n,
                     STAGE__LV_MAX_ARGS);
        return STAGE_EENCODE;
    }
    first = lua_absindex(L, first);
    stage_pack_array(p, (uint32_t)n);
    for (int i = 0; i < n && !rc; i++) {
        e.argn = i + 1;
        rc = enc_value(&e, first + i);
    }
    return enc_finish(&e, top, rc);
}

int stage__lv_encode_value(lua_State *L, int idx, stage_pack_t *p,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen) {
    enc_t e;
    int top = lua_gettop(L);
    enc_init(&e, L, p, h, err, errlen);
    return enc_finish(&e, top, enc_value(&e, lua_absindex(L, idx)));
}

int stage__lv_encode_arg(lua_State *L, int idx, int argn, stage_pack_t *p,
                         const stage__lv_hooks_t *h, char *err, size_t errlen) {
    enc_t e;
    int top = lua_gettop(L);
    enc_init(&e, L, p, h, err, errlen);
    e.argn = argn;
    return enc_finish(&e, top, enc_value(&e, lua_absindex(L, idx)));
}

int stage__lv_encode_state(lua_State *L, int idx, stage_pack_t *p,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen) {
    enc_t e;
    int top = lua_gettop(L);
    idx = lua_absindex(L, idx);
    enc_init(&e, L, p, h, err, errlen);
    if (!lua_checkstack(L, 4)) {
        if (err && errlen) snprintf(err, errlen, "out of Lua stack space");
        return STAGE_EENCODE;
    }
    if (lua_type(L, idx) != LUA_TTABLE) {
        if (err && errlen) snprintf(err, errlen, "self is not a table");
        return STAGE_EENCODE;
    }
    lua_newtable(L);
    e.seen = lua_gettop(L);
    return enc_finish(&e, top, enc_value(&e, idx));
}

/* ---- decoding ---------------------------------------------------------------
 */

typedef struct dec {
    lua_State *L;
    const char *start, *p, *end;
    const stage__lv_hooks_t *h;
    char *err;
    size_t errlen;
    int seen;          /* state: stack index of number -> table, or 0 */
    lua_Integer nseen; /* tables made so far */
} dec_t;

/* Report a decoding error at the current byte. Returns STAGE_EDECODE. */
static int dfail(dec_t *d, const char *fmt, ...) {
    if (!d->err || d->errlen == 0) return STAGE_EDECODE;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->err, d->errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < d->errlen)
        snprintf(d->err + n, d->errlen - (size_t)n, " at byte %zu",
                 (size_t)(d->p - d->start));
    return STAGE_EDECODE;
}

static int dec_value(dec_t *d, int depth);

static int dec_id(dec_t *d, const stage__mp_t *m) {
    stage_id_t id;
    if (stage__id_from_payload(m->s, m->n, &id))
        return dfail(d, "malformed actor id");
    if (d->h && d->h->push_id) {
        d->h->push_id(d->L, &id, d->h->ud);
    } else {
        char text[STAGE_ID_TEXT_MAX];
        int n = stage_id_format(&id, text, sizeof text);
        lua_pushlstring(d->L, text, n > 0 ? (size_t)n : 0);
    }
    return 0;
}

/* Decode a map key; only strings, numbers (not NaN) and booleans. */
static int dec_key(dec_t *d, int depth) {
    const char *at = d->p;
    int rc = dec_value(d, depth);
    if (rc) return rc;
    int t = lua_type(d->L, -1);
    if (t == LUA_TSTRING || t == LUA_TBOOLEAN ||
        (t == LUA_TNUMBER && !isnan(lua_tonumber(d->L, -1))))
        return 0;
    d->p = at;
    return dfail(d, "map key of type %s", luaL_typename(d->L, -1));
}

/* A table size hint for n entries: n is at most the remaining bytes (the
** header check), but a hint past a million would only pre-allocate. */
static int size_hint(uint32_t n) {
    return n < (1u << 20) ? (int)n : 1 << 20;
}

static int dec_container(dec_t *d, const stage__mp_t *m, int depth) {
    lua_State *L = d->L;
    if (!lua_checkstack(L, 4)) return dfail(d, "out of Lua stack space");
    int rc;
    if (d->seen) { /* numbered as the encoder met it: before its fields */
        lua_createtable(L, m->t == STAGE_T_ARRAY ? size_hint(m->n) : 0,
                        m->t == STAGE_T_MAP ? size_hint(m->n) : 0);
        lua_pushvalue(L, -1);
        lua_rawseti(L, d->seen, ++d->nseen);
    }
    if (m->t == STAGE_T_ARRAY) {
        if (!d->seen) lua_createtable(L, size_hint(m->n), 0);
        for (uint32_t i = 1; i <= m->n; i++) {
            if ((rc = dec_value(d, depth + 1))) return rc;
            lua_rawseti(L, -2, (lua_Integer)i);
        }
        return 0;
    }
    if (!d->seen) lua_createtable(L, 0, size_hint(m->n));
    for (uint32_t i = 0; i < m->n; i++) {
        if ((rc = dec_key(d, depth + 1))) return rc;
        if ((rc = dec_value(d, depth + 1))) return rc;
        lua_rawset(L, -3);
    }
    return 0;
}

/* Push the value at d->p; depth is the nesting of a container found here. */
static int dec_value(dec_t *d, int depth) {
    lua_State *L = d->L;
    stage__mp_t m;
    if (d->p >= d->end) return dfail(d, "truncated value");
    if (stage__mp_head(d->p, d->end, &m)) return dfail(d, "malformed value");
    const char *at = d->p;
    if ((m.t == STAGE_T_ARRAY || m.t == STAGE_T_MAP) &&
        depth > STAGE_PACK_MAX_DEPTH)
        return dfail(d, "nested deeper than %d", STAGE_PACK_MAX_DEPTH);
    d->p = m.next;
    switch (m.t) {
    case STAGE_T_NIL:
        lua_pushnil(L);
        return 0;
    case STAGE_T_BOOL:
        lua_pushboolean(L, m.v.b);
        return 0;
    case STAGE_T_INT:
        if (m.big)
            lua_pushnumber(L, (lua_Number)m.v.u);
        else
            lua_pushinteger(L, (lua_Integer)m.v.i);
        return 0;
    case STAGE_T_DOUBLE:
        lua_pushnumber(L, m.v.d);
        return 0;
    case STAGE_T_STR:
    case STAGE_T_BIN:
        lua_pushlstring(L, m.s, m.n);
        return 0;
    case STAGE_T_ARRAY:
    case STAGE_T_MAP:
        return dec_container(d, &m, depth);
    case STAGE_T_ID:
        d->p = at; /* an error points at the id */
        if (dec_id(d, &m)) return STAGE_EDECODE;
        d->p = m.next;
        return 0;
    default:
        d->p = at;
        if (d->seen && m.ext == STAGE__LV_EXT_TABLE && m.n == 4) {
            const unsigned char *b = (const unsigned char *)m.s;
            lua_Integer k =
                (lua_Integer)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                              (uint32_t)b[2] << 8 | b[3]);
            if (k < 1 || k > d->nseen)
                return dfail(d, "reference to table %lld, of %lld so far",
                             (long long)k, (long long)d->nseen);
            lua_rawgeti(L, d->seen, k);
            d->p = m.next;
            return 0;
        }
        return dfail(d, "unsupported ext type %d", m.ext);
    }
}

static void dec_init(dec_t *d, lua_State *L, const char *data, size_t len,
                     const stage__lv_hooks_t *h, char *err, size_t errlen) {
    d->L = L;
    d->start = d->p = data;
    d->end = data + len;
    d->h = h;
    d->err = err;
    d->errlen = errlen;
    d->seen = 0;
    d->nseen = 0;
    if (err && errlen) err[0] = '\0';
}

/* Push the value at *p if it is one of the scalars most arguments are
** (an integer of up to 32 bits, a string of up to 31 bytes, nil, a
** boolean) and all of it is before end, and move *p past it. Returns 0,
** pushing nothing, for anything else: dec_value decodes (or refuses) it. */
static int dec_scalar(lua_State *L, const char **p, const char *end) {
    const unsigned char *b = (const unsigned char *)*p;
    size_t left = (size_t)(end - *p);
    unsigned c = b[0];
    if (c <= 0x7f || c >= 0xe0) { /* fixint */
        lua_pushinteger(L, (int8_t)c >= 0 ? (lua_Integer)c : (int8_t)c);
        *p += 1;
        return 1;
    }
    if (c >= 0xa0 && c <= 0xbf) { /* fixstr */
        size_t n = c & 0x1f;
        if (n >= left) return 0;
        lua_pushlstring(L, *p + 1, n);
        *p += 1 + n;
        return 1;
    }
    lua_Integer v;
    size_t size;
    switch (c) {
    case 0xc0:
        lua_pushnil(L);
        *p += 1;
        return 1;
    case 0xc2:
    case 0xc3:
        lua_pushboolean(L, c == 0xc3);
        *p += 1;
        return 1;
    case 0xcc:
    case 0xd0:
        if (left < 2) return 0;
        v = c == 0xcc ? b[1] : (int8_t)b[1];
        size = 2;
        break;
    case 0xcd:
    case 0xd1:
        if (left < 3) return 0;
        v = (uint16_t)(b[1] << 8 | b[2]);
        if (c == 0xd1) v = (int16_t)v;
        size = 3;
        break;
    case 0xce:
    case 0xd2:
        if (left < 5) return 0;
        v = (lua_Integer)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
                          (uint32_t)b[3] << 8 | b[4]);
        if (c == 0xd2) v = (int32_t)(uint32_t)v;
        size = 5;
        break;
    default:
        return 0;
    }
    lua_pushinteger(L, v);
    *p += size;
    return 1;
}

int stage__lv_decode_args(lua_State *L, const char *data, size_t len,
                          const stage__lv_hooks_t *h, char *err,
                          size_t errlen) {
    unsigned c = len ? (unsigned char)data[0] : 0;
    if (c >= 0x90 && c <= 0x9f && lua_checkstack(L, (int)(c & 0x0f) + 4)) {
        /* a fixarray of scalars, the common case: no decoder to set up */
        int n = (int)(c & 0x0f), i = 0;
        const char *p = data + 1, *end = data + len;
        while (i < n && p < end && dec_scalar(L, &p, end))
            i++;
        if (i == n && p == end) {
            if (err && errlen) err[0] = '\0';
            return n;
        }
        lua_pop(L, i); /* the walk below decodes it, or says what is wrong */
    }
    dec_t d;
    stage__mp_t m;
    int top = lua_gettop(L), rc = 0;
    dec_init(&d, L, data, len, h, err, errlen);
    if (len == 0 || stage__mp_head(data, d.end, &m) || m.t != STAGE_T_ARRAY)
        return dfail(&d, "arguments are not an array");
    if (m.n > STAGE__LV_MAX_ARGS)
        return dfail(&d, "too many values (%u, at most %d)", (unsigned)m.n,
                     STAGE__LV_MAX_ARGS);
    if (!lua_checkstack(L, (int)m.n + 4))
        return dfail(&d, "out of Lua stack space");
    d.p = m.next;
    for (uint32_t i = 0; i < m.n && !rc; i++)
        if (d.p >= d.end || !dec_scalar(L, &d.p, d.end)) rc = dec_value(&d, 2);
    if (!rc && d.p != d.end) rc = dfail(&d, "trailing bytes");
    if (rc) {
        lua_settop(L, top);
        return rc;
    }
    return (int)m.n;
}

int stage__lv_decode_value(lua_State *L, const char *data, size_t len,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen) {
    dec_t d;
    int top = lua_gettop(L);
    dec_init(&d, L, data, len, h, err, errlen);
    if (!lua_checkstack(L, 4)) return dfail(&d, "out of Lua stack space");
    int rc = dec_value(&d, 1);
    if (!rc && d.p != d.end) rc = dfail(&d, "trailing bytes");
    if (rc) lua_settop(L, top);
    return rc;
}

int stage__lv_decode_state(lua_State *L, const char *data, size_t len,
                           const stage__lv_hooks_t *h, char *err,
                           size_t errlen) {
    dec_t d;
    stage__mp_t m;
    int top = lua_gettop(L);
    dec_init(&d, L, data, len, h, err, errlen);
    if (!lua_checkstack(L, 6)) return dfail(&d, "out of Lua stack space");
    if (len == 0 || stage__mp_head(data, d.end, &m) ||
        (m.t != STAGE_T_MAP && m.t != STAGE_T_ARRAY))
        return dfail(&d, "the state is not a table");
    lua_newtable(L);
    d.seen = lua_gettop(L);
    int rc = dec_value(&d, 1);
    if (!rc && d.p != d.end) rc = dfail(&d, "trailing bytes");
    if (rc) {
        lua_settop(L, top);
        return rc;
    }
    lua_remove(L, d.seen);
    return 0;
}

/* The arguments of a protected decode, passed as a light userdata. */
typedef struct pdec {
    bool args;
    const char *data;
    size_t len;
    const stage__lv_hooks_t *h;
    char *err;
    size_t errlen;
    int rc;
} pdec_t;

static int pdecode(lua_State *L) {
    pdec_t *a = lua_touserdata(L, 1);
    lua_pop(L, 1);
    if (a->args) {
        a->rc =
            stage__lv_decode_args(L, a->data, a->len, a->h, a->err, a->errlen);
        return a->rc > 0 ? a->rc : 0;
    }
    a->rc = stage__lv_decode_value(L, a->data, a->len, a->h, a->err, a->errlen);
    return a->rc ? 0 : 1;
}

/* Whether data is only scalars (nil, booleans, numbers): one, or (args)
** an array of them. Pushing those allocates nothing, so their decode
** cannot raise. */
static bool scalars_only(bool args, const char *data, size_t len) {
    const char *p = data, *end = data + len;
    stage__mp_t m;
    uint32_t n = 1;
    if (args) {
        if (len == 0 || stage__mp_head(p, end, &m) || m.t != STAGE_T_ARRAY)
            return false;
        n = m.n;
        p = m.next;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (p >= end || stage__mp_head(p, end, &m) ||
            (m.t != STAGE_T_NIL && m.t != STAGE_T_BOOL && m.t != STAGE_T_INT &&
             m.t != STAGE_T_DOUBLE))
            return false;
        p = m.next;
    }
    return p == end;
}

int stage__lv_pdecode(lua_State *L, bool args, const char *data, size_t len,
                      const stage__lv_hooks_t *h, char *err, size_t errlen) {
    if (scalars_only(args, data, len)) { /* the common ping: no pcall */
        return args ? stage__lv_decode_args(L, data, len, h, err, errlen)
                    : stage__lv_decode_value(L, data, len, h, err, errlen);
    }
    pdec_t a = {args, data, len, h, err, errlen, 0};
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 2)) {
        if (err && errlen) snprintf(err, errlen, "out of Lua stack space");
        return STAGE_EDECODE;
    }
    lua_pushcfunction(L, pdecode);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
        lua_settop(L, top);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return STAGE_ENOMEM;
    }
    return a.rc;
}
