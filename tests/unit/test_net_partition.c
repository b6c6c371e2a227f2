/*
** tests/unit/test_net_partition.c: a network partition, not a crash. The
** peers talk through a TCP proxy (b advertises the proxy's address) that
** can turn into a black hole: connections stay open, bytes vanish, new
** connections are accepted and hear nothing. No RST tells anyone anything,
** so only heartbeats can find the failure, and only the handshake deadline
** can fail the reconnect attempts. Then the partition heals.
*/
#include "test_net_util.h"

static uv_loop_t loop;
static tnode_t a, b;
static uint64_t want;

/* ---- the proxy: one listener, a pair of sockets per connection ---------- */

typedef struct half {
    uv_tcp_t tcp;
    struct half *other;
    bool closing;
} half_t;

typedef struct pair {
    half_t down, up; /* down: accepted from a; up: dialled to b */
    uv_connect_t creq;
    int open;
    struct pair *prev, *next; /* in pairs */
} pair_t;

static pair_t *pairs;

static uv_tcp_t proxy;
static char proxy_addr[STAGE_ADDR_MAX];
static bool black_hole;

static void half_closed(uv_handle_t *h) {
    pair_t *p = h->data;
    if (--p->open) return;
    if (p->prev)
        p->prev->next = p->next;
    else
        pairs = p->next;
    if (p->next) p->next->prev = p->prev;
    free(p);
}

static void half_close(half_t *h) {
    if (h->closing) return;
    h->closing = true;
    uv_close((uv_handle_t *)&h->tcp, half_closed);
}

static void pair_close(pair_t *p) {
    half_close(&p->down);
    half_close(&p->up);
}

static void fwd_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    (void)h;
    (void)hint;
    *buf = uv_buf_init(malloc(65536), 65536);
}

static void fwd_written(uv_write_t *req, int status) {
    (void)status;
    free(req->data);
    free(req);
}

static void fwd_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    half_t *h = (half_t *)s;
    pair_t *p = s->data;
    if (n < 0) {
        free(buf->base);
        if (black_hole)
            half_close(h); /* not even a close gets through */
        else
            pair_close(p);
        return;
    }
    if (n == 0 || black_hole || h->other->closing) {
        free(buf->base); /* the black hole swallows it */
        return;
    }
    uv_write_t *req = malloc(sizeof *req);
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    req->data = buf->base;
    if (uv_write(req, (uv_stream_t *)&h->other->tcp, &out, 1, fwd_written)) {
        free(buf->base);
        free(req);
    }
}

static void up_connected(uv_connect_t *req, int status) {
    pair_t *p = req->data;
    if (status < 0 || p->up.closing) {
        pair_close(p);
        return;
    }
    uv_read_start((uv_stream_t *)&p->down.tcp, fwd_alloc, fwd_read);
    uv_read_start((uv_stream_t *)&p->up.tcp, fwd_alloc, fwd_read);
}

static void proxy_accept(uv_stream_t *server, int status) {
    struct sockaddr_storage ss;
    if (status < 0) return;
    pair_t *p = calloc(1, sizeof *p);
    uv_tcp_init(&loop, &p->down.tcp);
    uv_tcp_init(&loop, &p->up.tcp);
    p->open = 2;
    p->down.tcp.data = p->up.tcp.data = p->creq.data = p;
    p->down.other = &p->up;
    p->up.other = &p->down;
    p->next = pairs;
    if (pairs) pairs->prev = p;
    pairs = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->down.tcp), 0);
    assert_int_equal(stage__addr_parse(b.addr, &ss), 0);
    if (uv_tcp_connect(&p->creq, &p->up.tcp, (struct sockaddr *)&ss,
                       up_connected))
        pair_close(p);
}

static void proxy_start(void) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_init(&loop, &proxy);
    assert_int_equal(stage__addr_parse("127.0.0.1:0", &ss), 0);
    assert_int_equal(uv_tcp_bind(&proxy, (struct sockaddr *)&ss, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&proxy, 16, proxy_accept), 0);
    uv_tcp_getsockname(&proxy, (struct sockaddr *)&ss, &len);
    stage__addr_format((struct sockaddr *)&ss, proxy_addr, sizeof proxy_addr);
}

/* ---- the test ----------------------------------------------------------- */

static bool b_has_want(void *ud) {
    (void)ud;
    return b.frames >= want;
}

static bool both_timed_out(void *ud) {
    (void)ud;
    return a.downs >= 1 && b.downs >= 1;
}

static bool a_gave_up(void *ud) {
    (void)ud;
    return a.last_reason == STAGE_EUNREACHABLE;
}

static bool healed(void *ud) {
    (void)ud;
    return b.frames >= want && a.ups >= 2;
}

static void partition_is_found_by_heartbeats_and_heals(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.heartbeat_ms = 100;
    cfg.heartbeat_misses = 3;
    cfg.handshake_ms = 300;
    cfg.max_attempts = 3;
    uv_loop_init(&loop);
    tn_start(&loop, &a, &cfg, NULL);
    tn_start(&loop, &b, &cfg, NULL);
    proxy_start();
    /* b is known by the proxy's address: restart it advertising that. */
    stage__transport_cbs_t cbs = {&b, tn_on_frame, tn_on_up, tn_on_down, NULL};
    char real[STAGE_ADDR_MAX];
    snprintf(real, sizeof real, "%s", b.addr);
    tn_stop(&loop, &b);
    cfg.advertise = proxy_addr;
    assert_int_equal(stage__transport_new(&loop, &cfg, &cbs, &b.t), 0);
    assert_int_equal(stage__transport_listen(b.t, real, b.addr, sizeof b.addr),
                     0);
    assert_string_equal(stage__transport_address(b.t), proxy_addr);

    want = 10;
    for (uint64_t i = 0; i < want; i++)
        assert_int_equal(tn_send(&a, proxy_addr, i, 8), 0);
    assert_true(tn_run_until(&loop, b_has_want, NULL));
    assert_string_equal(b.last_peer, a.addr);

    log_capture_begin();
    black_hole = true;
    assert_true(tn_run_until(&loop, both_timed_out, NULL));
    assert_int_equal(a.last_reason, STAGE_ETIMEOUT);
    assert_int_equal(b.last_reason, STAGE_ETIMEOUT);
    assert_true(log_has(proxy_addr, "nothing received for", NULL));

    /* While partitioned, every attempt connects and hears nothing. */
    for (uint64_t i = 10; i < 15; i++)
        assert_int_equal(tn_send(&a, proxy_addr, i, 8), 0);
    assert_true(tn_run_until(&loop, a_gave_up, NULL));
    assert_int_equal(a.dropped, 5);
    assert_true(log_has("no handshake within 300 ms", NULL));
    assert_true(log_has("giving up on", proxy_addr, "5 queued frames", NULL));
    log_capture_end();

    black_hole = false;
    b.next_seq = 15; /* 10..14 were dropped, and said so */
    want = 15;
    for (uint64_t i = 15; i < 20; i++)
        assert_int_equal(tn_send(&a, proxy_addr, i, 8), 0);
    assert_true(tn_run_until(&loop, healed, NULL));
    assert_int_equal(b.frames, 15);
    assert_false(b.out_of_order);

    tn_stop(&loop, &a);
    tn_stop(&loop, &b);
    for (pair_t *p = pairs; p; p = p->next)
        pair_close(p);
    uv_close((uv_handle_t *)&proxy, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int teardown(void **state) {
    (void)state;
    log_capture_end(); /* shows why, if the test failed while capturing */
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(partition_is_found_by_heartbeats_and_heals,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
