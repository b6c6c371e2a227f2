/*
** tests/integration/net_restart.c: a peer process killed with SIGKILL is
** declared dead at once (its address refuses connections: the session ends
** with STAGE_ENODE_DOWN, well before dead_after), frames sent meanwhile
** wait, and when a new process (a new incarnation) listens at the same
** address the transport connects, the waiting frames arrive in order and
** the peer is reported up with the new incarnation.
**
**   net_restart PATH_TO_NET_PEER
**
** Every wait is on an event with a deadline that fails the test.
*/
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define KIND (STAGE__NET_KIND_USER + 1)
#define WAIT_MS 10000

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "net_restart: %s:%d: check failed: %s\n",          \
                    __FILE__, __LINE__, #cond);                                \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static uv_loop_t *loop;
static stage__transport_t *t;
static const char *peer_path;

/* What the transport's callbacks saw. */
static int ups, downs, last_reason;
static uint32_t last_inc;
static uint64_t echoed; /* frames back, in order */

/* The child process and the line it printed. */
typedef struct child {
    uv_process_t proc;
    uv_pipe_t out;
    char line[128];
    size_t len;
    bool ready, exited;
} child_t;

static void on_frame(void *ud, const char *peer, int kind, const char *body,
                     size_t len) {
    stage_unpack_t u;
    int64_t seq;
    (void)ud;
    (void)peer;
    stage_unpack_init(&u, body, len);
    CHECK(kind == KIND && stage_unpack_int(&u, &seq) == 0);
    CHECK((uint64_t)seq == echoed); /* in order, none lost or doubled */
    echoed++;
}

static void on_up(void *ud, const char *peer, uint32_t inc) {
    (void)ud;
    (void)peer;
    ups++;
    last_inc = inc;
}

static void on_down(void *ud, const char *peer, uint32_t inc, int reason,
                    const char *why, size_t dropped,
                    stage__session_iter_t *lost) {
    (void)ud;
    (void)peer;
    (void)inc;
    (void)why;
    (void)dropped;
    (void)lost;
    downs++;
    last_reason = reason;
}

static void deadline(uv_timer_t *h) {
    *(bool *)h->data = true;
}

/* Run the loop until pred() holds; false if WAIT_MS passed first. */
static bool run_until(bool (*pred)(void)) {
    bool late = false;
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    timer.data = &late;
    uv_timer_start(&timer, deadline, WAIT_MS, 0);
    while (!pred() && !late)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred();
}

static child_t *cur;
static uint64_t want;

static bool child_ready(void) {
    return cur->ready;
}
static bool child_gone_and_down(void) {
    return cur->exited && downs > 0;
}
static bool all_echoed(void) {
    return echoed >= want;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
    child_t *c = p->data;
    (void)status;
    (void)sig;
    c->exited = true;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    child_t *c = h->data;
    (void)hint;
    *buf =
        uv_buf_init(c->line + c->len, (unsigned)(sizeof c->line - 1 - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    child_t *c = s->data;
    (void)buf;
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    c->len += (size_t)n;
    c->line[c->len] = '\0';
    if (strchr(c->line, '\n')) c->ready = true;
}

/* Start net_peer listening on addr; wait for its line. */
static void spawn_peer(child_t *c, const char *addr, char *bound,
                       uint32_t *inc) {
    memset(c, 0, sizeof *c);
    uv_pipe_init(loop, &c->out, 0);
    c->out.data = c->proc.data = c;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
         .data.stream = (uv_stream_t *)&c->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2}};
    char *args[] = {(char *)peer_path, (char *)addr, NULL};
    uv_process_options_t o = {.exit_cb = on_exit_cb,
                              .file = peer_path,
                              .args = args,
                              .stdio_count = 3,
                              .stdio = stdio};
    CHECK(uv_spawn(loop, &c->proc, &o) == 0);
    uv_read_start((uv_stream_t *)&c->out, alloc_cb, read_cb);
    cur = c;
    CHECK(run_until(child_ready));
    CHECK(sscanf(c->line, "%63s %u", bound, inc) == 2);
}

static void child_close(child_t *c) {
    uv_close((uv_handle_t *)&c->out, NULL);
    uv_close((uv_handle_t *)&c->proc, NULL);
}

/* Queue frames [from, to) for addr. */
static void send_range(const char *addr, uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; i++) {
        char b[16];
        stage_pack_t p = {b, 0, sizeof b, 0};
        stage_pack_int(&p, (int64_t)i);
        CHECK(p.data == b);
        CHECK(stage__transport_send(t, addr, KIND, p.data, p.len) == 0);
    }
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    peer_path = argv[1];
    loop = uv_default_loop();
    stage__transport_config_t cfg;
    stage__transport_config_init(&cfg);
    cfg.backoff_min_ms = 5;
    cfg.backoff_max_ms = 50;
    cfg.max_attempts = 1000;
    stage__transport_cbs_t cbs = {NULL, on_frame, on_up, on_down, NULL, NULL};
    CHECK(stage__transport_new(loop, &cfg, &cbs, &t) == 0);
    CHECK(stage__transport_listen(t, "127.0.0.1:0", NULL, 0) == 0);

    child_t c1, c2;
    char addr[64], addr2[64];
    uint32_t inc1, inc2;
    spawn_peer(&c1, "127.0.0.1:0", addr, &inc1);
    want = 100;
    send_range(addr, 0, want);
    CHECK(run_until(all_echoed));
    CHECK(ups == 1 && last_inc == inc1 && downs == 0);

    uint64_t killed = uv_now(loop);
    CHECK(uv_process_kill(&c1.proc, SIGKILL) == 0);
    cur = &c1;
    CHECK(run_until(child_gone_and_down));
    CHECK(last_reason == STAGE_ENODE_DOWN);
    uv_update_time(loop);
    uint64_t detected = uv_now(loop) - killed;
    CHECK(detected < 3000); /* refused connects, not 10 s of silence */
    CHECK(!stage__transport_peer_is_up(t, addr));
    child_close(&c1);

    want = 200; /* sent while nobody listens: they wait */
    send_range(addr, 100, want);
    spawn_peer(&c2, addr, addr2, &inc2);
    CHECK(strcmp(addr, addr2) == 0 && inc2 != inc1);
    CHECK(run_until(all_echoed));
    CHECK(echoed == 200 && ups == 2 && last_inc == inc2);

    uv_process_kill(&c2.proc, SIGKILL);
    cur = &c2;
    CHECK(run_until(child_gone_and_down));
    child_close(&c2);
    stage__transport_destroy(&t);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("net_restart: ok (incarnations %x then %x; the kill was detected "
           "in %llu ms)\n",
           inc1, inc2, (unsigned long long)detected);
    return 0;
}
