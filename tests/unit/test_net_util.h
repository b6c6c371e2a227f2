/*
** tests/unit/test_net_util.h: what the transport tests share — a test node
** (a transport plus what its callbacks saw), running the loop until a
** condition holds or a deadline fails the test, numbered frames to check
** order, and capturing log lines. Header-only; each test_net_*.c includes
** it once. One thread: the tests drive one libuv loop.
*/
#ifndef TEST_NET_UTIL_H
#define TEST_NET_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/net.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define KIND_DATA (STAGE__NET_KIND_USER + 1)
#define WAIT_MS 10000 /* a condition not met by then fails the test */

typedef struct tnode {
    stage__transport_t *t;
    char addr[STAGE_ADDR_MAX];
    int ups, downs, drains;
    int last_reason;
    size_t dropped;
    uint32_t last_inc, down_inc;
    char down_why[256];
    uint64_t lost[64]; /* numbers of the frames given back, in order */
    size_t nlost;
    int declared; /* told it was declared dead */
    char dead_why[256];
    uint64_t frames, bytes, next_seq;
    bool out_of_order;
    bool echo;   /* send every frame back to its sender */
    bool resend; /* on a lost connection, send the peer frame 1000 */
    char last_peer[STAGE_ADDR_MAX];
} tnode_t;

static inline void tn_on_frame(void *ud, const char *peer, int kind,
                               const char *body, size_t len) {
    tnode_t *n = ud;
    stage_unpack_t u;
    uint32_t argc;
    int64_t seq = -1;
    stage_unpack_init(&u, body, len);
    if (kind != KIND_DATA || stage_unpack_array(&u, &argc) ||
        stage_unpack_int(&u, &seq) || (uint64_t)seq != n->next_seq)
        n->out_of_order = true;
    n->next_seq = (uint64_t)seq + 1;
    n->frames++;
    n->bytes += len;
    snprintf(n->last_peer, sizeof n->last_peer, "%s", peer);
    if (n->echo) stage__transport_send(n->t, peer, kind, body, len);
}

static inline void tn_on_up(void *ud, const char *peer, uint32_t inc) {
    tnode_t *n = ud;
    n->ups++;
    n->last_inc = inc;
    snprintf(n->last_peer, sizeof n->last_peer, "%s", peer);
}

static inline int tn_send(tnode_t *n, const char *peer, uint64_t seq,
                          size_t pad);

static inline void tn_on_down(void *ud, const char *peer, uint32_t inc,
                              int reason, const char *why, size_t dropped,
                              stage__session_iter_t *lost) {
    tnode_t *n = ud;
    int kind;
    const char *body;
    size_t len, k = 0;
    n->downs++;
    n->last_reason = reason;
    n->down_inc = inc;
    snprintf(n->down_why, sizeof n->down_why, "%s", why);
    n->dropped += dropped;
    while (stage__session_iter_next(lost, &kind, &body, &len)) {
        stage_unpack_t u;
        uint32_t argc;
        int64_t seq = -1;
        stage_unpack_init(&u, body, len);
        if (!stage_unpack_array(&u, &argc)) stage_unpack_int(&u, &seq);
        if (n->nlost < 64) n->lost[n->nlost++] = (uint64_t)seq;
        k++;
    }
    assert_int_equal(k, dropped); /* the count is what the iterator gives */
    if (n->resend && reason != STAGE_EUNREACHABLE) tn_send(n, peer, 1000, 4);
}

static inline void tn_on_dead(void *ud, const char *peer, const char *why) {
    tnode_t *n = ud;
    (void)peer;
    n->declared++;
    snprintf(n->dead_why, sizeof n->dead_why, "%s", why);
}

static inline void tn_on_drain(void *ud, const char *peer) {
    (void)peer;
    ((tnode_t *)ud)->drains++;
}

/* Fast deadlines so failure paths take milliseconds. */
static inline void tn_config(stage__transport_config_t *cfg) {
    stage__transport_config_init(cfg);
    cfg->handshake_ms = 2000;
    cfg->frame_ms = 2000;
    cfg->heartbeat_ms = 500;
    cfg->backoff_min_ms = 5;
    cfg->backoff_max_ms = 40;
    cfg->max_attempts = 4;
}

/* Start n listening on addr (default loopback, any port) with cfg. */
static inline void tn_start(uv_loop_t *loop, tnode_t *n,
                            const stage__transport_config_t *cfg,
                            const char *addr) {
    stage__transport_cbs_t cbs = {n,          tn_on_frame, tn_on_up,
                                  tn_on_down, tn_on_drain, tn_on_dead};
    memset(n, 0, sizeof *n);
    assert_int_equal(stage__transport_new(loop, cfg, &cbs, &n->t), 0);
    assert_int_equal(stage__transport_listen(n->t, addr ? addr : "127.0.0.1:0",
                                             n->addr, sizeof n->addr),
                     0);
}

/* Queue frame number seq with pad bytes of payload for peer. */
static inline int tn_send(tnode_t *n, const char *peer, uint64_t seq,
                          size_t pad) {
    stage_pack_t p = STAGE_PACK_INIT;
    char *zeros = calloc(1, pad + 1);
    stage_pack_array(&p, 2);
    stage_pack_int(&p, (int64_t)seq);
    stage_pack_bin(&p, zeros, pad);
    assert_int_equal(stage_pack_error(&p), 0);
    int rc = stage__transport_send(n->t, peer, KIND_DATA, p.data, p.len);
    stage_pack_free(&p);
    free(zeros);
    return rc;
}

typedef bool (*tn_pred)(void *ud);

static inline void tn_deadline(uv_timer_t *h) {
    *(bool *)h->data = true;
}

/* Run loop until pred(ud) holds; false if WAIT_MS passed first. */
static inline bool tn_run_until(uv_loop_t *loop, tn_pred pred, void *ud) {
    bool late = false;
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = &late;
    uv_timer_start(&timer, tn_deadline, WAIT_MS, 0);
    while (!pred(ud) && !late)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(ud);
}

/* Destroy n's transport and run the loop until its handles are closed. */
static inline void tn_stop(uv_loop_t *loop, tnode_t *n) {
    stage__transport_destroy(&n->t);
    for (int i = 0; i < 100; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

/* ---- log capture: stderr goes to a file while a test looks for a line */

static int saved_stderr = -1;
static FILE *log_file;

static inline void log_capture_begin(void) {
    fflush(stderr);
    log_file = tmpfile();
    assert_non_null(log_file);
    saved_stderr = dup(2);
    dup2(fileno(log_file), 2);
}

/* 1 if a line captured so far contains every one of the strings (up to a
** NULL). */
static inline bool log_has(const char *s1, ...) {
    char buf[65536];
    long n = pread(fileno(log_file), buf, sizeof buf - 1, 0);
    if (n < 0) return false;
    buf[n] = '\0';
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        bool all = strstr(line, s1) != NULL;
        va_list ap;
        va_start(ap, s1);
        for (const char *s; all && (s = va_arg(ap, const char *));)
            all = strstr(line, s) != NULL;
        va_end(ap);
        if (all) return true;
    }
    return false;
}

/* Restore stderr and copy the captured lines there (a failed check's
** message among them). Does nothing when not capturing. */
static inline void log_capture_end(void) {
    char buf[65536];
    if (saved_stderr < 0) return;
    long n = pread(fileno(log_file), buf, sizeof buf - 1, 0);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    if (n > 0) fprintf(stderr, "%.*s", (int)n, buf); /* keep them visible */
    fclose(log_file);
}

#endif
