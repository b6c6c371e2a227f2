/*
** wire/unpack.c: the msgpack cursor of stage/pack.h, over hostile bytes.
**
** Every read goes through stage__mp_head, which checks the declared length
** of a str/bin/ext and the count of an array/map against the bytes that
** remain before anything trusts them; nothing here allocates or recurses
** (skipping keeps an explicit stack of STAGE_PACK_MAX_DEPTH counters), and
** nothing asserts on input. A reader never reads a byte at or past end.
** Cursor states: OK -> FAILED (u->err = STAGE_EDECODE, sticky) on malformed
** bytes; a value of the wrong type is reported without moving or failing.
** Not thread-safe: one owner per cursor.
*/
#include <string.h>

#include "stage/errors.h"
#include "stage/pack.h"
#include "wire/mp.h"

static inline uint16_t get16(const char *s) {
    const unsigned char *b = (const unsigned char *)s;
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t get32(const char *s) {
    const unsigned char *b = (const unsigned char *)s;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           b[3];
}

static inline uint64_t get64(const char *s) {
    return (uint64_t)get32(s) << 32 | get32(s + 4);
}

/* Read an unsigned field of size bytes at s. */
static uint64_t field(const char *s, int size) {
    switch (size) {
    case 1:
        return (unsigned char)s[0];
    case 2:
        return get16(s);
    case 4:
        return get32(s);
    default:
        return get64(s);
    }
}

static int bad(stage__mp_t *m) {
    m->t = STAGE_T_BAD;
    return STAGE_EDECODE;
}

/* Header tag c (0xc0..0xdf) -> its kind and the size of its fixed field;
** the size of a str/bin/ext/array/map tag is that of its length field. */
static void tag_info(uint8_t c, stage_vtype_t *t, int *size) {
    static const struct {
        unsigned char t, size;
    } info[32] = {
        {STAGE_T_NIL, 0},   {STAGE_T_BAD, 0},    {STAGE_T_BOOL, 0},
        {STAGE_T_BOOL, 0},  {STAGE_T_BIN, 1},    {STAGE_T_BIN, 2},
        {STAGE_T_BIN, 4},   {STAGE_T_OTHER, 1},  {STAGE_T_OTHER, 2},
        {STAGE_T_OTHER, 4}, {STAGE_T_DOUBLE, 4}, {STAGE_T_DOUBLE, 8},
        {STAGE_T_INT, 1},   {STAGE_T_INT, 2},    {STAGE_T_INT, 4},
        {STAGE_T_INT, 8},   {STAGE_T_INT, 1},    {STAGE_T_INT, 2},
        {STAGE_T_INT, 4},   {STAGE_T_INT, 8},    {STAGE_T_OTHER, 0},
        {STAGE_T_OTHER, 0}, {STAGE_T_OTHER, 0},  {STAGE_T_OTHER, 0},
        {STAGE_T_OTHER, 0}, {STAGE_T_STR, 1},    {STAGE_T_STR, 2},
        {STAGE_T_STR, 4},   {STAGE_T_ARRAY, 2},  {STAGE_T_ARRAY, 4},
        {STAGE_T_MAP, 2},   {STAGE_T_MAP, 4},
    };
    *t = (stage_vtype_t)info[c - 0xc0].t;
    *size = info[c - 0xc0].size;
}

/* Decode the payload of a number tag c whose field (size bytes) is at s. */
static void number(uint8_t c, const char *s, int size, stage__mp_t *m) {
    uint64_t u = field(s, size);
    m->big = false;
    if (c == 0xca) {
        float f;
        uint32_t w = (uint32_t)u;
        memcpy(&f, &w, sizeof f);
        m->v.d = f;
    } else if (c == 0xcb) {
        memcpy(&m->v.d, &u, sizeof m->v.d);
    } else if (c <= 0xcf) { /* uint 8..64 */
        m->v.u = u;
        m->big = u > INT64_MAX;
    } else if (size == 1) {
        m->v.i = (int8_t)u;
    } else if (size == 2) {
        m->v.i = (int16_t)u;
    } else if (size == 4) {
        m->v.i = (int32_t)u;
    } else {
        m->v.i = (int64_t)u;
    }
}

/* Fill a payload-carrying header: n bytes at s must fit before end. */
static int payload(stage__mp_t *m, const char *s, uint64_t n, const char *end) {
    if (n > (uint64_t)(end - s)) return bad(m);
    m->n = (uint32_t)n;
    m->s = s;
    m->next = s + n;
    return 0;
}

/* Fill a container header: n entries (2n values for a map) each need a
** byte at least, so a count the remaining bytes cannot hold is malformed. */
static int counted(stage__mp_t *m, const char *s, uint64_t n, const char *end) {
    uint64_t values = m->t == STAGE_T_MAP ? 2 * n : n;
    if (values > (uint64_t)(end - s)) return bad(m);
    m->n = (uint32_t)n;
    m->next = s;
    return 0;
}

/* Headers 0xc0..0xdf: the tagged forms. */
static int head_tagged(uint8_t c, const char *p, const char *end,
                       stage__mp_t *m) {
    int size;
    tag_info(c, &m->t, &size);
    const char *s = p + 1;
    if (m->t == STAGE_T_BAD) return STAGE_EDECODE;
    if (c >= 0xd4 && c <= 0xd8) { /* fixext 1, 2, 4, 8, 16 */
        if (end - s < 1) return bad(m);
        m->ext = (int8_t)*s;
        m->t = m->ext == STAGE_MSGPACK_EXT_ID ? STAGE_T_ID : STAGE_T_OTHER;
        return payload(m, s + 1, 1u << (c - 0xd4), end);
    }
    if (end - s < size) return bad(m);
    switch (m->t) {
    case STAGE_T_NIL:
        m->next = s;
        return 0;
    case STAGE_T_BOOL:
        m->v.b = c == 0xc3;
        m->next = s;
        return 0;
    case STAGE_T_INT:
    case STAGE_T_DOUBLE:
        number(c, s, size, m);
        m->next = s + size;
        return 0;
    case STAGE_T_STR:
    case STAGE_T_BIN:
        return payload(m, s + size, field(s, size), end);
    case STAGE_T_ARRAY:
    case STAGE_T_MAP:
        return counted(m, s + size, field(s, size), end);
    default:
        break;
    }
    /* ext 8, 16, 32: length, then the type byte, then the payload */
    if (end - s < size + 1) return bad(m);
    m->ext = (int8_t)s[size];
    m->t = m->ext == STAGE_MSGPACK_EXT_ID ? STAGE_T_ID : STAGE_T_OTHER;
    return payload(m, s + size + 1, field(s, size), end);
}

int stage__mp_head(const char *p, const char *end, stage__mp_t *m) {
    uint8_t c = (uint8_t)*p;
    if (c <= 0x7f || c >= 0xe0) {
        m->t = STAGE_T_INT;
        m->big = false;
        m->v.i = c <= 0x7f ? (int64_t)c : (int64_t)(int8_t)c;
        m->next = p + 1;
        return 0;
    }
    if (c <= 0x8f) {
        m->t = STAGE_T_MAP;
        return counted(m, p + 1, c & 0x0f, end);
    }
    if (c <= 0x9f) {
        m->t = STAGE_T_ARRAY;
        return counted(m, p + 1, c & 0x0f, end);
    }
    if (c <= 0xbf) {
        m->t = STAGE_T_STR;
        return payload(m, p + 1, c & 0x1f, end);
    }
    return head_tagged(c, p, end, m);
}

/* Copy n < 64 bytes and a NUL. Not memcpy: for a length known to be
** small gcc inlines a rep movs, which costs more than a whole id decode. */
static void copy_part(char *dst, const char *src, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        memcpy(dst + i, src + i, 8);
    if (n - i >= 4) {
        memcpy(dst + i, src + i, 4);
        i += 4;
    }
    while (i < n) {
        dst[i] = src[i];
        i++;
    }
    dst[n] = '\0';
}

int stage__id_from_payload(const char *s, size_t len, stage_id_t *id) {
    if (len < 18 || len > STAGE__ID_PAYLOAD_MAX) return STAGE_EDECODE;
    size_t a = (unsigned char)s[0];
    if (a + 17 > len) return STAGE_EDECODE;
    size_t t = (unsigned char)s[1 + a + 14];
    if (16 + a + t != len) return STAGE_EDECODE;
    const char *node = s + 1, *nums = s + 1 + a, *type = s + 16 + a;
    if (!stage__node_addr_valid(node, a) || !stage__type_name_valid_n(type, t))
        return STAGE_EDECODE;
    if (!id) return 0;
    copy_part(id->node, node, a);
    id->incarnation = get32(nums);
    id->theatre = get16(nums + 4);
    id->serial = get64(nums + 6);
    copy_part(id->type, type, t);
    return 0;
}

int stage__mp_skip(const char **pp, const char *end, uint64_t count) {
    uint64_t left[STAGE_PACK_MAX_DEPTH + 1];
    int d = 0;
    const char *p = *pp;
    /* Zeroed only for gcc 12 -O3: it warns that m.n may be used
    ** uninitialized, unable to follow the tag table of stage__mp_head,
    ** which sets n for every array and map header it accepts. */
    stage__mp_t m = {.n = 0};
    left[0] = count;
    while (d >= 0) {
        if (left[d] == 0) {
            d--;
            continue;
        }
        left[d]--;
        if (p >= end || stage__mp_head(p, end, &m)) return STAGE_EDECODE;
        if (m.t == STAGE_T_ID && stage__id_from_payload(m.s, m.n, NULL))
            return STAGE_EDECODE;
        p = m.next;
        if (m.t == STAGE_T_ARRAY || m.t == STAGE_T_MAP) {
            if (d + 1 > STAGE_PACK_MAX_DEPTH) return STAGE_EDECODE;
            left[++d] = m.t == STAGE_T_MAP ? 2 * (uint64_t)m.n : m.n;
        }
    }
    *pp = p;
    return 0;
}

int stage_pack_validate(const char *data, size_t len, int count) {
    const char *p = data, *end = data + len;
    if (count < 0) return STAGE_EDECODE;
    if (stage__mp_skip(&p, end, (uint64_t)count)) return STAGE_EDECODE;
    return p == end ? 0 : STAGE_EDECODE;
}

/* ---- the cursor -----------------------------------------------------------
 */

void stage_unpack_init(stage_unpack_t *u, const char *data, size_t len) {
    u->p = data;
    u->end = data + len;
    u->err = 0;
}

/* Decode the next header into *m without moving. 0, or STAGE_EDECODE
** (at the end: m->t is STAGE_T_END; malformed: the cursor fails). */
static int look(stage_unpack_t *u, stage__mp_t *m) {
    if (u->err) {
        m->t = STAGE_T_BAD;
        return u->err;
    }
    if (u->p >= u->end) {
        m->t = STAGE_T_END;
        return STAGE_EDECODE;
    }
    if (stage__mp_head(u->p, u->end, m)) return u->err = STAGE_EDECODE;
    return 0;
}

stage_vtype_t stage_unpack_peek(stage_unpack_t *u) {
    stage__mp_t m;
    look(u, &m);
    return m.t;
}

/* Read the next header if it is of type t: 0 and the cursor moves past it,
** or STAGE_EDECODE (and the cursor stays on a wrong type). */
static int take(stage_unpack_t *u, stage_vtype_t t, stage__mp_t *m) {
    if (look(u, m)) return STAGE_EDECODE;
    if (m->t != t) return STAGE_EDECODE;
    u->p = m->next;
    return 0;
}

int stage_unpack_nil(stage_unpack_t *u) {
    stage__mp_t m;
    return take(u, STAGE_T_NIL, &m);
}

int stage_unpack_bool(stage_unpack_t *u, bool *v) {
    stage__mp_t m;
    if (take(u, STAGE_T_BOOL, &m)) return STAGE_EDECODE;
    *v = m.v.b;
    return 0;
}

int stage_unpack_int(stage_unpack_t *u, int64_t *v) {
    stage__mp_t m;
    if (look(u, &m) || m.t != STAGE_T_INT || m.big) return STAGE_EDECODE;
    u->p = m.next;
    *v = m.v.i;
    return 0;
}

int stage_unpack_double(stage_unpack_t *u, double *v) {
    /* Zeroed only for gcc 12 -O3, which warns that m.big may be used
    ** uninitialized: stage__mp_head sets big for every int header it
    ** accepts, through a tag table gcc does not follow. */
    stage__mp_t m = {.big = false};
    if (look(u, &m)) return STAGE_EDECODE;
    if (m.t == STAGE_T_DOUBLE)
        *v = m.v.d;
    else if (m.t == STAGE_T_INT)
        *v = m.big ? (double)m.v.u : (double)m.v.i;
    else
        return STAGE_EDECODE;
    u->p = m.next;
    return 0;
}

int stage_unpack_str(stage_unpack_t *u, const char **s, size_t *len) {
    stage__mp_t m;
    if (take(u, STAGE_T_STR, &m)) return STAGE_EDECODE;
    *s = m.s;
    *len = m.n;
    return 0;
}

int stage_unpack_bin(stage_unpack_t *u, const char **b, size_t *len) {
    stage__mp_t m;
    if (take(u, STAGE_T_BIN, &m)) return STAGE_EDECODE;
    *b = m.s;
    *len = m.n;
    return 0;
}

int stage_unpack_array(stage_unpack_t *u, uint32_t *n) {
    stage__mp_t m;
    if (take(u, STAGE_T_ARRAY, &m)) return STAGE_EDECODE;
    *n = m.n;
    return 0;
}

int stage_unpack_map(stage_unpack_t *u, uint32_t *n) {
    stage__mp_t m;
    if (take(u, STAGE_T_MAP, &m)) return STAGE_EDECODE;
    *n = m.n;
    return 0;
}

int stage_unpack_id(stage_unpack_t *u, stage_id_t *id) {
    stage__mp_t m;
    if (look(u, &m) || m.t != STAGE_T_ID) return STAGE_EDECODE;
    if (stage__id_from_payload(m.s, m.n, id)) return u->err = STAGE_EDECODE;
    u->p = m.next;
    return 0;
}

int stage_unpack_skip(stage_unpack_t *u) {
    if (u->err) return u->err;
    if (u->p >= u->end) return STAGE_EDECODE; /* at the end: nothing to skip */
    if (stage__mp_skip(&u->p, u->end, 1)) return u->err = STAGE_EDECODE;
    return 0;
}
