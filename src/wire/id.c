/*
** wire/id.c: actor ids (stage/id.h) — what a valid node address and type
** name are, and the text form
**
**     node~incarnation/theatre/type/serial     127.0.0.1:7400~2a/0/Area/17
**
** The incarnation is lowercase hex, theatre and serial decimal, all without
** leading zeros, so each id has exactly one text form: parse accepts only
** what format writes, and two ids are equal exactly when their texts are.
** The msgpack id codec (pack.c, unpack.c) checks ids with the same
** functions, so an id that decodes always formats and parses back, and one
** that parses always encodes. This lives in src/wire, not src/core, because
** the codecs here need it and src/core links after src/wire.
** Pure functions; any thread.
*/
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "stage/errors.h"
#include "stage/id.h"
#include "wire/mp.h"

/* Character classes, one table lookup per byte (ids are checked on every
** encode and decode): DIGIT [0-9]; WORD [A-Za-z0-9_.-], the bytes of type
** names and host names; V6 [0-9A-Fa-f:.], the bytes inside [v6]. */
enum { DIGIT = 1, WORD = 2, V6 = 4 };
static const unsigned char cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 6, 0, /* 0x20: - . */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4, 0, 0, 0, 0, 0, /* 0x30: 0-9 : */
    0, 6, 6, 6, 6, 6, 6, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x40: A-O */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 2, /* 0x50: P-Z _ */
    0, 6, 6, 6, 6, 6, 6, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x60: a-o */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, /* 0x70: p-z */
};

/* 1 if every byte of s[0..len) has class bit c. */
static int all_of(const char *s, size_t len, int c) {
    int ok = c;
    for (size_t i = 0; i < len; i++)
        ok &= cls[(unsigned char)s[i]];
    return ok != 0;
}

int stage__type_name_valid_n(const char *s, size_t len) {
    if (len == 0 || len >= STAGE_TYPE_MAX) return 0;
    if (cls[(unsigned char)s[0]] & DIGIT) return 0;
    return all_of(s, len, WORD);
}

int stage_type_name_valid(const char *name) {
    if (!name) return 0;
    size_t len = strnlen(name, STAGE_TYPE_MAX);
    return stage__type_name_valid_n(name, len);
}

/* 1 if s[0..len) is a port: 1..65535 in decimal without leading zeros. */
static int port_valid(const char *s, size_t len) {
    if (len == 0 || len > 5 || s[0] == '0' || !all_of(s, len, DIGIT)) return 0;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v <= 65535;
}

/* The length of the longest prefix of s[0..len) of class c. */
static size_t span(const char *s, size_t len, int c) {
    size_t i = 0;
    while (i < len && (cls[(unsigned char)s[i]] & c))
        i++;
    return i;
}

/* 1 if s[0..len) is "[v6]:port", v6 of hex digits, ':' and '.' with two
** ':' at least. */
static int v6_addr_valid(const char *s, size_t len) {
    size_t n = span(s + 1, len - 1, V6); /* s[0] is '[' */
    const char *c1 = memchr(s + 1, ':', n);
    if (!c1 || !memchr(c1 + 1, ':', (size_t)(s + 1 + n - (c1 + 1)))) return 0;
    if (n + 3 > len || s[n + 1] != ']' || s[n + 2] != ':') return 0;
    return port_valid(s + n + 3, len - n - 3);
}

/* One forward pass: host bytes cannot be ':', so the first byte that is
** not a host byte must be the ':' before the port. */
int stage__node_addr_valid(const char *s, size_t len) {
    if (len == 0 || len >= STAGE_ADDR_MAX) return 0;
    if (s[0] == '[') return v6_addr_valid(s, len);
    size_t h = span(s, len, WORD);
    if (h == len) return len == 5 && memcmp(s, "local", 5) == 0;
    if (h == 0 || s[h] != ':') return 0;
    return port_valid(s + h + 1, len - h - 1);
}

int stage__node_addr_canon(const char *s, char *out, size_t len) {
    size_t n = s ? strnlen(s, STAGE_ADDR_MAX) : 0;
    if (!stage__node_addr_valid(s, n)) return STAGE_EINVAL;
    const char *colon = strrchr(s, ':');
    if (!colon) return STAGE_EINVAL; /* "local": no node to go to */
    char host[STAGE_ADDR_MAX];
    size_t h = (size_t)(colon - s);
    bool v6 = s[0] == '[';
    memcpy(host, s + v6, h - 2 * v6); /* without the brackets */
    host[h - 2 * v6] = '\0';
    if (!v6 && !strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
    unsigned char bin[16];
    char text[INET6_ADDRSTRLEN];
    int af = v6 ? AF_INET6 : AF_INET;
    if (inet_pton(af, host, bin) != 1 || !inet_ntop(af, bin, text, sizeof text))
        return STAGE_EINVAL; /* a host name: nodes are reached by address */
    int k = snprintf(out, len, v6 ? "[%s]%s" : "%s%s", text, colon);
    return k < 0 || (size_t)k >= len ? STAGE_EINVAL : 0;
}

int stage_id_format(const stage_id_t *id, char *buf, size_t len) {
    int a = (int)strnlen(id->node, STAGE_ADDR_MAX - 1);
    int t = (int)strnlen(id->type, STAGE_TYPE_MAX - 1);
    int n = snprintf(buf, len, "%.*s~%" PRIx32 "/%u/%.*s/%" PRIu64, a, id->node,
                     id->incarnation, (unsigned)id->theatre, t, id->type,
                     id->serial);
    if (n < 0 || (size_t)n >= len) return STAGE_ETOOBIG;
    return n;
}

/* Parse s[0..len) as a number in base 10 or 16 without leading zeros and
** at most max. 0 or STAGE_EINVAL. */
static int parse_num(const char *s, size_t len, int base, uint64_t max,
                     uint64_t *out) {
    if (len == 0 || (len > 1 && s[0] == '0')) return STAGE_EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a') + 10;
        else
            return STAGE_EINVAL;
        if (v > (max - d) / (unsigned)base) return STAGE_EINVAL;
        v = v * (unsigned)base + d;
    }
    *out = v;
    return 0;
}

/* The length of s[0..len) up to the first c (len if none). */
static size_t span_to(const char *s, size_t len, char c) {
    const char *q = memchr(s, c, len);
    return q ? (size_t)(q - s) : len;
}

int stage_id_parse(stage_id_t *id, const char *text, size_t len) {
    const char *s = text, *end = text + len;
    size_t a = span_to(s, len, '~');
    if (a == len || !stage__node_addr_valid(s, a)) return STAGE_EINVAL;
    const char *node = s;
    s += a + 1;
    uint64_t inc, theatre, serial;
    size_t n = span_to(s, (size_t)(end - s), '/');
    if (s + n == end || parse_num(s, n, 16, UINT32_MAX, &inc))
        return STAGE_EINVAL;
    s += n + 1;
    n = span_to(s, (size_t)(end - s), '/');
    if (s + n == end || parse_num(s, n, 10, UINT16_MAX, &theatre))
        return STAGE_EINVAL;
    s += n + 1;
    size_t t = span_to(s, (size_t)(end - s), '/');
    const char *type = s;
    if (s + t == end || !stage__type_name_valid_n(type, t)) return STAGE_EINVAL;
    s += t + 1;
    if (parse_num(s, (size_t)(end - s), 10, UINT64_MAX, &serial))
        return STAGE_EINVAL;
    memset(id, 0, sizeof *id);
    memcpy(id->node, node, a);
    id->incarnation = (uint32_t)inc;
    id->theatre = (uint16_t)theatre;
    id->serial = serial;
    memcpy(id->type, type, t);
    return 0;
}

int stage_id_equal(const stage_id_t *a, const stage_id_t *b) {
    return a->serial == b->serial && a->incarnation == b->incarnation &&
           a->theatre == b->theatre &&
           strncmp(a->node, b->node, STAGE_ADDR_MAX) == 0 &&
           strncmp(a->type, b->type, STAGE_TYPE_MAX) == 0;
}
