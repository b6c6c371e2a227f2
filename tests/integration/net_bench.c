/*
** tests/integration/net_bench.c: what the transport costs on loopback.
**
**   net_bench [FRAMES [ROUND_TRIPS]]
**
** Prints JSON lines:
**   net.throughput  one-way frames/s, 32-byte bodies, sender and receiver
**                   transports on two threads (two loops)
**   net.rtt         round trip of one frame through two transports (echo)
**   tcp.rtt         the same round trip over a raw blocking TCP socket
**                   pair in C, the floor the transport is compared with
** NET_BENCH_KEY=1: both transports hold a cluster key (net/secure.h).
** ctest runs it with small counts as a smoke test; it fails (exit 1) only
** if frames are lost or out of order, never on speed.
** Threads: each transport lives on its own thread's loop; main only
** creates them before and destroys them after those threads ran.
*/
#define _DEFAULT_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/transport.h"
#include "stage/errors.h"
#include "stage/pack.h"

#define KIND (STAGE__NET_KIND_USER + 1)
#define BODY 32

typedef struct side {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_idle_t pump;
    stage__transport_t *t;
    char addr[64];
    struct side *other;
    uint64_t count, target, sent;
    uint64_t t0, t1;
    bool bad;          /* a frame arrived out of order */
    uint64_t *samples; /* round trips, ns */
    uint64_t nsamples, warmup, last_send;
} side_t;

static atomic_int done;
static char body[BODY];

/* A 32-byte msgpack body: bin8 of 30 bytes, the first 8 a sequence. */
static void make_body(uint64_t seq) {
    body[0] = (char)0xc4;
    body[1] = 30;
    memcpy(body + 2, &seq, sizeof seq);
}

static uint64_t body_seq(const char *b, size_t len) {
    uint64_t seq = UINT64_MAX;
    if (len == BODY) memcpy(&seq, b + 2, sizeof seq);
    return seq;
}

static void stop_if_done(side_t *s) {
    if (atomic_load(&done)) uv_stop(&s->loop);
}

/* ---- throughput ------------------------------------------------------- */

static void pump(uv_idle_t *h) {
    side_t *s = h->data;
    stop_if_done(s);
    for (int i = 0; i < 4096 && s->sent < s->target; i++) {
        make_body(s->sent);
        int rc = stage__transport_send(s->t, s->other->addr, KIND, body, BODY);
        if (rc == STAGE_EBUSY) {
            uv_idle_stop(h); /* on_drain restarts it */
            return;
        }
        if (rc) abort();
        s->sent++;
    }
}

static void tp_drain(void *ud, const char *peer) {
    side_t *s = ud;
    (void)peer;
    uv_idle_start(&s->pump, pump);
}

static void tp_up(void *ud, const char *peer, uint32_t inc) {
    side_t *s = ud;
    (void)peer;
    (void)inc;
    if (s->target == 0) return; /* the receiver */
    s->t0 = uv_hrtime();
    uv_idle_start(&s->pump, pump);
}

static void tp_frame(void *ud, const char *peer, int kind, const char *b,
                     size_t len) {
    side_t *s = ud;
    (void)peer;
    if (kind != KIND || body_seq(b, len) != s->count) s->bad = true;
    if (++s->count == s->other->target) {
        s->t1 = uv_hrtime();
        atomic_store(&done, 1);
        uv_stop(&s->loop);
    }
}

/* ---- round trips ------------------------------------------------------ */

static void rtt_send(side_t *s) {
    make_body(s->count);
    s->last_send = uv_hrtime();
    if (stage__transport_send(s->t, s->other->addr, KIND, body, BODY)) abort();
}

static void rtt_frame(void *ud, const char *peer, int kind, const char *b,
                      size_t len) {
    side_t *s = ud;
    if (!s->samples) { /* the echo side */
        stage__transport_send(s->t, peer, kind, b, len);
        return;
    }
    if (body_seq(b, len) != s->count) s->bad = true;
    uint64_t now = uv_hrtime();
    if (s->count >= s->warmup) s->samples[s->nsamples++] = now - s->last_send;
    if (++s->count == s->target) {
        atomic_store(&done, 1);
        uv_stop(&s->loop);
        return;
    }
    rtt_send(s);
}

/* ---- plumbing ----------------------------------------------------------- */

static void run_side(void *arg) {
    side_t *s = arg;
    while (!atomic_load(&done))
        uv_run(&s->loop, UV_RUN_ONCE);
}

static void poke(uv_timer_t *h) {
    stop_if_done(h->data);
}

/* Make a side whose transport has the given callbacks; with
** NET_BENCH_KEY=1 in the environment both sides hold the same cluster
** key (a fixed one: this is a benchmark). */
static void side_init(side_t *s, stage__transport_cbs_t cbs) {
    stage__transport_config_t cfg;
    stage__transport_config_init(&cfg);
    const char *key = getenv("NET_BENCH_KEY");
    if (key && !strcmp(key, "1")) {
        memset(cfg.keys.key[0], 0x5a, sizeof cfg.keys.key[0]);
        cfg.keys.n = 1;
    }
    cbs.ud = s;
    uv_loop_init(&s->loop);
    uv_idle_init(&s->loop, &s->pump);
    s->pump.data = s;
    if (stage__transport_new(&s->loop, &cfg, &cbs, &s->t) ||
        stage__transport_listen(s->t, "127.0.0.1:0", s->addr, sizeof s->addr))
        abort();
}

static void side_close(side_t *s) {
    stage__transport_destroy(&s->t);
    uv_close((uv_handle_t *)&s->pump, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
}

/* Run a and b each on a thread until done; a timer wakes each loop now
** and then so it sees done even when idle. */
static void run_pair(side_t *a, side_t *b) {
    uv_timer_t ta, tb;
    uv_timer_init(&a->loop, &ta);
    uv_timer_init(&b->loop, &tb);
    ta.data = a;
    tb.data = b;
    uv_timer_start(&ta, poke, 10, 10);
    uv_timer_start(&tb, poke, 10, 10);
    atomic_store(&done, 0);
    uv_thread_create(&a->thread, run_side, a);
    uv_thread_create(&b->thread, run_side, b);
    uv_thread_join(&a->thread);
    uv_thread_join(&b->thread);
    uv_close((uv_handle_t *)&ta, NULL);
    uv_close((uv_handle_t *)&tb, NULL);
    uv_run(&a->loop, UV_RUN_NOWAIT); /* the timers live on this stack */
    uv_run(&b->loop, UV_RUN_NOWAIT);
}

static int throughput(uint64_t frames) {
    side_t snd = {0}, rcv = {0};
    stage__transport_cbs_t cbs = {NULL, tp_frame, tp_up, NULL, tp_drain, NULL};
    side_init(&snd, cbs);
    side_init(&rcv, cbs);
    snd.other = &rcv;
    rcv.other = &snd;
    snd.target = frames;
    /* One frame first brings the connection up; tp_up starts the clock. */
    make_body(0);
    if (stage__transport_send(snd.t, rcv.addr, KIND, body, BODY)) abort();
    snd.sent = 1;
    run_pair(&snd, &rcv);
    double secs = (double)(rcv.t1 - snd.t0) / 1e9;
    printf("{\"bench\":\"net.throughput\",\"frames\":%llu,\"body_bytes\":%d,"
           "\"frames_per_s\":%.0f,\"wire_mb_per_s\":%.1f,\"ok\":%s}\n",
           (unsigned long long)frames, BODY, (double)frames / secs,
           (double)frames * (BODY + 8) / secs / 1e6,
           rcv.bad || rcv.count != frames ? "false" : "true");
    int bad = rcv.bad || rcv.count != frames;
    side_close(&snd);
    side_close(&rcv);
    return bad;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void print_rtt(const char *name, uint64_t *s, uint64_t n) {
    qsort(s, n, sizeof *s, cmp_u64);
    printf("{\"bench\":\"%s\",\"round_trips\":%llu,\"body_bytes\":%d,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
           name, (unsigned long long)n, BODY, (double)s[n / 2] / 1e3,
           (double)s[n * 99 / 100] / 1e3);
}

static int round_trips(uint64_t n) {
    side_t cli = {0}, srv = {0};
    stage__transport_cbs_t cbs = {NULL, rtt_frame, NULL, NULL, NULL, NULL};
    side_init(&cli, cbs);
    side_init(&srv, cbs);
    cli.other = &srv;
    srv.other = &cli;
    cli.warmup = n / 10;
    cli.target = n + cli.warmup;
    cli.samples = calloc(n + 1, sizeof *cli.samples);
    rtt_send(&cli); /* connects; its round trip is part of the warmup */
    run_pair(&cli, &srv);
    print_rtt("net.rtt", cli.samples, cli.nsamples);
    free(cli.samples);
    side_close(&cli);
    side_close(&srv);
    return cli.nsamples != n;
}

/* ---- raw TCP ------------------------------------------------------------ */

static int full_io(int fd, char *b, size_t n, bool rd) {
    for (size_t off = 0; off < n;) {
        ssize_t k =
            rd ? read(fd, b + off, n - off) : write(fd, b + off, n - off);
        if (k <= 0) return -1;
        off += (size_t)k;
    }
    return 0;
}

static void tcp_echo(void *arg) {
    int ls = *(int *)arg;
    int fd = accept(ls, NULL, NULL);
    int one = 1;
    char b[BODY];
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (full_io(fd, b, BODY, true) == 0 && full_io(fd, b, BODY, false) == 0)
        ;
    close(fd);
}

static int tcp_round_trips(uint64_t n) {
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1) ||
        getsockname(ls, (struct sockaddr *)&sa, &len))
        return 1;
    uv_thread_t th;
    uv_thread_create(&th, tcp_echo, &ls);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) return 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint64_t warm = n / 10, *s = calloc(n, sizeof *s);
    char b[BODY] = {0};
    for (uint64_t i = 0; i < n + warm; i++) {
        uint64_t t0 = uv_hrtime();
        if (full_io(fd, b, BODY, false) || full_io(fd, b, BODY, true)) return 1;
        if (i >= warm) s[i - warm] = uv_hrtime() - t0;
    }
    close(fd);
    uv_thread_join(&th);
    close(ls);
    print_rtt("tcp.rtt", s, n);
    free(s);
    return 0;
}

int main(int argc, char **argv) {
    uint64_t frames = argc > 1 ? strtoull(argv[1], NULL, 10) : 5000000;
    uint64_t rtts = argc > 2 ? strtoull(argv[2], NULL, 10) : 50000;
    if (frames < 1 || rtts < 10) return 2;
    int bad = throughput(frames);
    bad |= round_trips(rtts);
    bad |= tcp_round_trips(rtts);
    return bad ? 1 : 0;
}
