/*
** wire/idcheck.c: what a valid actor id part is — type names and node
** addresses. Shared by the id codec (unpack.c, pack.c) and the text form
** (core/id.c), so an id that decodes always formats and parses back, and
** one that parses always encodes. Lives in src/wire because src/core links
** after it. Pure functions; any thread.
*/
#include <string.h>

#include "stage/id.h"
#include "wire/mp.h"

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int stage__type_name_valid_n(const char *s, size_t len) {
    if (len == 0 || len >= STAGE_TYPE_MAX || is_digit(s[0])) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return 1;
}

int stage_type_name_valid(const char *name) {
    if (!name) return 0;
    size_t len = strnlen(name, STAGE_TYPE_MAX);
    return stage__type_name_valid_n(name, len);
}

/* 1 if s[0..len) is a port: 1..65535 in decimal without leading zeros. */
static int port_valid(const char *s, size_t len) {
    if (len == 0 || len > 5 || s[0] == '0') return 0;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i])) return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

/* 1 if s[0..len) is a host name or IPv4 address: [A-Za-z0-9._-]+. */
static int host_valid(const char *s, size_t len) {
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' && c != '_')
            return 0;
    }
    return 1;
}

/* 1 if s[0..len) is "[v6]" with v6 of hex digits, ':' and '.'. */
static int v6_valid(const char *s, size_t len) {
    if (len < 3 || s[0] != '[' || s[len - 1] != ']') return 0;
    int colons = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        char c = s[i];
        if (c == ':')
            colons++;
        else if (!is_hex(c) && c != '.')
            return 0;
    }
    return colons >= 2;
}

int stage__node_addr_valid(const char *s, size_t len) {
    if (len == 0 || len >= STAGE_ADDR_MAX) return 0;
    if (len == 5 && memcmp(s, "local", 5) == 0) return 1;
    size_t colon = len;
    while (colon > 0 && s[colon - 1] != ':')
        colon--;
    if (colon == 0) return 0; /* no ':' at all */
    colon--;                  /* index of the last ':' */
    if (!port_valid(s + colon + 1, len - colon - 1)) return 0;
    if (s[0] == '[') return v6_valid(s, colon);
    return host_valid(s, colon);
}
