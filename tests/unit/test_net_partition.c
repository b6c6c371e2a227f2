/*
** tests/unit/test_net_partition.c: a network partition, not a crash. Each
** peer is reached through a TCP proxy (each advertises its proxy's
** address) that can turn into a black hole: connections stay open, bytes
** vanish, new connections are accepted and hear nothing. No RST tells
** anyone anything: the heartbeats close the silent connections, the
** handshake deadline fails the reconnect attempts, and only the failure
** detector (dead_after) can end the session. A partition shorter than
** that loses nothing and declares nothing; a longer one declares each
** side dead to the other, and once it heals the one that comes back is
** told so (DEAD).
*/
#include "test_net_util.h"

static uv_loop_t loop;
static tnode_t a, b;
static uint64_t want;

/* ---- the proxies: a listener each, a pair of sockets per connection ---- */

typedef struct half {
    uv_tcp_t tcp;
    struct half *other;
    bool closing;
} half_t;

typedef struct pair {
    half_t down, up; /* down: accepted; up: dialled to the target */
    uv_connect_t creq;
    int open;
    struct pair *prev, *next; /* in pairs */
} pair_t;

typedef struct proxy {
    uv_tcp_t tcp;
    char addr[STAGE_ADDR_MAX];   /* where it listens */
    char target[STAGE_ADDR_MAX]; /* where it forwards */
} proxy_t;

static pair_t *pairs;
static proxy_t proxy_a, proxy_b;
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
    proxy_t *px = server->data;
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
    assert_int_equal(stage__addr_parse(px->target, &ss), 0);
    if (uv_tcp_connect(&p->creq, &p->up.tcp, (struct sockaddr *)&ss,
                       up_connected))
        pair_close(p);
}

/* Start px listening on loopback (its target comes with its node). */
static void proxy_start(proxy_t *px) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_init(&loop, &px->tcp);
    px->tcp.data = px;
    assert_int_equal(stage__addr_parse("127.0.0.1:0", &ss), 0);
    assert_int_equal(uv_tcp_bind(&px->tcp, (struct sockaddr *)&ss, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&px->tcp, 16, proxy_accept), 0);
    uv_tcp_getsockname(&px->tcp, (struct sockaddr *)&ss, &len);
    stage__addr_format((struct sockaddr *)&ss, px->addr, sizeof px->addr);
}

/* Start n listening on loopback, advertising px, which forwards to it. */
static void start_behind(tnode_t *n, proxy_t *px,
                         stage__transport_config_t *cfg) {
    stage__transport_cbs_t cbs = {n,          tn_on_frame, tn_on_up,
                                  tn_on_down, NULL,        tn_on_dead};
    memset(n, 0, sizeof *n);
    cfg->advertise = px->addr;
    assert_int_equal(stage__transport_new(&loop, cfg, &cbs, &n->t), 0);
    assert_int_equal(stage__transport_listen(n->t, "127.0.0.1:0", px->target,
                                             sizeof px->target),
                     0);
    snprintf(n->addr, sizeof n->addr, "%s", px->addr);
    assert_string_equal(stage__transport_address(n->t), px->addr);
}

static void config(stage__transport_config_t *cfg, uint64_t dead_after) {
    tn_config(cfg);
    cfg->heartbeat_ms = 100;
    cfg->heartbeat_misses = 3;
    cfg->handshake_ms = 300;
    cfg->dead_after_ms = dead_after;
}

static int setup(void **state) {
    (void)state;
    uv_loop_init(&loop);
    proxy_start(&proxy_a);
    proxy_start(&proxy_b);
    black_hole = false;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    log_capture_end(); /* shows why, if the test failed while capturing */
    tn_stop(&loop, &a);
    tn_stop(&loop, &b);
    for (pair_t *p = pairs; p; p = p->next)
        pair_close(p);
    uv_close((uv_handle_t *)&proxy_a.tcp, NULL);
    uv_close((uv_handle_t *)&proxy_b.tcp, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

/* ---- the tests ----------------------------------------------------------- */

static bool both_have_want(void *ud) {
    (void)ud;
    return a.frames >= want && b.frames >= want;
}

static bool b_has_want_acked(void *ud) {
    (void)ud;
    stage__peer_t *p = stage__peer_find(a.t, b.addr);
    return b.frames >= want && p && stage__session_unacked(&p->s) == 0;
}

static bool both_lost_their_connection(void *ud) {
    (void)ud;
    return log_has(proxy_b.addr, "nothing received for", NULL) &&
           log_has(proxy_a.addr, "nothing received for", NULL);
}

static bool a_retried_into_the_hole(void *ud) {
    (void)ud;
    return log_has("no handshake within 300 ms", NULL);
}

/* Shorter than dead_after (3 s): frames sent during the partition both
** ways arrive once it heals, once each, in order; nobody is declared dead
** and the session is the same one (no second on_peer_up). */
static void short_partition_loses_nothing_and_declares_nothing(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    config(&cfg, 3000);
    start_behind(&a, &proxy_a, &cfg);
    start_behind(&b, &proxy_b, &cfg);
    want = 10;
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 8), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    assert_string_equal(b.last_peer, a.addr);

    log_capture_begin();
    black_hole = true;
    for (uint64_t i = 10; i < 30; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 8), 0);
    }
    assert_true(tn_run_until(&loop, both_lost_their_connection, NULL));
    assert_true(tn_run_until(&loop, a_retried_into_the_hole, NULL));
    assert_int_equal(a.frames + b.frames, 20); /* nothing got through */
    black_hole = false;
    want = 30;
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    log_capture_end();
    assert_int_equal(a.frames, 30);
    assert_int_equal(b.frames, 30);
    assert_false(a.out_of_order || b.out_of_order);
    assert_int_equal(a.downs + b.downs, 0);
    assert_int_equal(a.ups, 1);
    assert_int_equal(b.ups, 1);
    assert_int_equal(a.declared + b.declared, 0);
}

static bool both_declared_dead(void *ud) {
    (void)ud;
    return a.downs >= 1 && b.downs >= 1;
}

static bool told_dead(void *ud) {
    return ((tnode_t *)ud)->declared > 0;
}

/* Longer than dead_after (1 s): each side declares the other dead and
** gives back what it had not acknowledged. Once healed, a comes back and
** b answers DEAD; but a declared b dead too, and one of the two must
** yield: with as many live sessions each (none), the larger address. It
** learns it was declared dead, by whom and why; the other goes on. */
static void long_partition_declares_both_dead(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    config(&cfg, 1000);
    start_behind(&a, &proxy_a, &cfg);
    start_behind(&b, &proxy_b, &cfg);
    want = 10;
    for (uint64_t i = 0; i < want; i++)
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
    assert_true(tn_run_until(&loop, b_has_want_acked, NULL));

    log_capture_begin();
    black_hole = true;
    for (uint64_t i = 10; i < 15; i++)
        assert_int_equal(tn_send(&a, b.addr, i, 8), 0);
    assert_true(tn_run_until(&loop, both_declared_dead, NULL));
    assert_int_equal(a.last_reason, STAGE_ENODE_DOWN);
    assert_int_equal(b.last_reason, STAGE_ENODE_DOWN);
    assert_non_null(strstr(a.down_why, "nothing heard from it for"));
    assert_int_equal(a.nlost, 5); /* 10..14, never acknowledged */
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(a.lost[i], 10 + i);
    assert_int_equal(b.frames, 10);

    black_hole = false;
    assert_int_equal(tn_send(&a, b.addr, 15, 8), 0); /* a dials b again */
    tnode_t *loser = strcmp(a.addr, b.addr) > 0 ? &a : &b;
    tnode_t *winner = loser == &a ? &b : &a;
    assert_true(tn_run_until(&loop, told_dead, loser));
    assert_non_null(strstr(loser->dead_why, winner->addr));
    assert_non_null(strstr(loser->dead_why, "nothing heard from it for"));
    assert_int_equal(winner->declared, 0);
    assert_true(log_has("refusing", a.addr, "declared dead", NULL));
    if (loser == &b) /* a read b's DEAD, stayed, and answered with its own */
        assert_true(
            log_has("declared this node dead", "this node goes on", NULL));
    log_capture_end();
    assert_int_equal(b.frames, 10); /* nothing from a dead incarnation */
    assert_int_equal(b.ups, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            short_partition_loses_nothing_and_declares_nothing, setup,
            teardown),
        cmocka_unit_test_setup_teardown(long_partition_declares_both_dead,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
