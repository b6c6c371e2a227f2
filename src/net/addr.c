/*
** net/addr.c: node addresses as text, "host:port". host is an IPv4 literal,
** a bracketed IPv6 literal ("[::1]:7400") or "localhost" (127.0.0.1); no
** name lookup happens here, so parsing never blocks. The formatted form is
** canonical: peers are compared by it.
** Any thread: pure functions.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "stage/errors.h"

/* Split text into host (without brackets) and port. 0 or STAGE_EINVAL. */
static int split(const char *text, char *host, size_t hostlen, int *port) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text) return STAGE_EINVAL;
    const char *h = text;
    size_t n = (size_t)(colon - text);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']') return STAGE_EINVAL;
        h++;
        n -= 2;
    }
    if (n >= hostlen) return STAGE_EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || v < 0 || v > 65535)
        return STAGE_EINVAL;
    *port = (int)v;
    return 0;
}

int stage__addr_parse(const char *text, struct sockaddr_storage *ss) {
    char host[INET6_ADDRSTRLEN];
    int port;
    if (!text || split(text, host, sizeof host, &port)) return STAGE_EINVAL;
    memset(ss, 0, sizeof *ss);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return STAGE_EINVAL;
}

int stage__addr_format(const struct sockaddr *sa, char *buf, size_t len) {
    char host[INET6_ADDRSTRLEN];
    int n;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (uv_ip4_name(in, host, sizeof host)) return STAGE_EINVAL;
        n = snprintf(buf, len, "%s:%d", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (uv_ip6_name(in6, host, sizeof host)) return STAGE_EINVAL;
        n = snprintf(buf, len, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else {
        return STAGE_EINVAL;
    }
    return n < 0 || (size_t)n >= len ? STAGE_EINVAL : 0;
}
