/*
** tests/unit/test_net_hostile.c: bad input reaching a transport. Each test
** keeps two good transports (a, b) exchanging frames — a sends, b echoes,
** a sends the next — while a raw socket sends b something bad. The bad
** connection must be closed with one log line naming it and the reason,
** and the good pair must keep exchanging frames without a peer going down.
** The slow-sender case is scaled: one byte per 40 ms against a 300 ms frame
** deadline (the same rule as one byte a second against seconds).
*/
#include <sys/socket.h>

#include "test_net_util.h"

static uv_loop_t loop;
static tnode_t a, b;

/* a's on_frame answers b's echo with the next frame: a ping-pong. */
static void pong(void *ud, const char *peer, int kind, const char *body,
                 size_t len) {
    tn_on_frame(ud, peer, kind, body, len);
    tn_send(&a, peer, a.next_seq, 16);
}

/* ---- a raw client that sends what it is told ---------------------------- */

typedef struct raw {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_timer_t drip;
    char *bytes; /* to send */
    size_t len, sent;
    size_t per_tick;  /* 0: all at once; else this many per drip */
    size_t first;     /* with per_tick: sent at once before dripping */
    bool close_after; /* close once everything is sent */
    bool connected, closed_by_peer, done;
    size_t got;   /* bytes received */
    char in[512]; /* the first of them */
    int open_handles;
} raw_t;

static raw_t raw;

static void raw_handle_closed(uv_handle_t *h) {
    raw_t *r = h->data;
    r->open_handles--;
}

static void raw_close(raw_t *r) {
    if (r->done) return;
    r->done = true;
    uv_close((uv_handle_t *)&r->tcp, raw_handle_closed);
    uv_close((uv_handle_t *)&r->drip, raw_handle_closed);
}

static void raw_write_cb(uv_write_t *req, int status) {
    (void)status;
    free(req);
}

static void raw_write(raw_t *r, size_t n) {
    if (r->done || n == 0) return;
    uv_write_t *req = malloc(sizeof *req);
    uv_buf_t buf = uv_buf_init(r->bytes + r->sent, (unsigned)n);
    if (uv_write(req, (uv_stream_t *)&r->tcp, &buf, 1, raw_write_cb)) free(req);
    r->sent += n;
}

static void raw_on_drip(uv_timer_t *h) {
    raw_t *r = h->data;
    size_t n = r->len - r->sent;
    raw_write(r, n < r->per_tick ? n : r->per_tick);
    if (r->sent == r->len) uv_timer_stop(&r->drip);
}

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    static char sink[4096];
    (void)h;
    (void)hint;
    *buf = uv_buf_init(sink, sizeof sink);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    raw_t *r = s->data;
    if (n < 0) {
        r->closed_by_peer = true;
        raw_close(r);
        return;
    }
    if (r->got < sizeof r->in) {
        size_t k = sizeof r->in - r->got;
        memcpy(r->in + r->got, buf->base, (size_t)n < k ? (size_t)n : k);
    }
    r->got += (size_t)n;
}

static void raw_on_connect(uv_connect_t *req, int status) {
    raw_t *r = req->data;
    if (r->done) return;
    assert_int_equal(status, 0);
    r->connected = true;
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
    if (r->per_tick) {
        raw_write(r, r->first);
        uv_timer_start(&r->drip, raw_on_drip, 0, 40);
        return;
    }
    raw_write(r, r->len);
    if (r->close_after) raw_close(r);
}

/* Connect raw client r to b; it sends bytes[0..len). */
static void raw_open(raw_t *r, const void *bytes, size_t len, size_t per_tick,
                     bool close_after) {
    struct sockaddr_storage ss;
    memset(r, 0, sizeof *r);
    r->bytes = malloc(len + 1);
    memcpy(r->bytes, bytes, len);
    r->len = len;
    r->per_tick = per_tick;
    r->close_after = close_after;
    uv_tcp_init(&loop, &r->tcp);
    uv_timer_init(&loop, &r->drip);
    r->tcp.data = r->creq.data = r->drip.data = r;
    r->open_handles = 2;
    assert_int_equal(stage__addr_parse(b.addr, &ss), 0);
    assert_int_equal(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&ss,
                                    raw_on_connect),
                     0);
}

/* Connect the test's raw client. */
static void raw_start(const void *bytes, size_t len, size_t per_tick,
                      bool close_after) {
    raw_open(&raw, bytes, len, per_tick, close_after);
}

/* Bytes of a frame header of kind with a body of len bytes. */
static void header(stage_pack_t *p, int version, int kind, uint32_t len) {
    char h[STAGE__FRAME_HEADER];
    stage__frame_header(h, (uint8_t)kind, len);
    h[2] = (char)version;
    stage_pack_raw(p, h, sizeof h);
}

static int64_t hellos; /* handshakes numbered as their sender does */

/* A valid handshake from incarnation inc of a node claiming address from,
** which knows no session with the receiver. */
static void hello_inc(stage_pack_t *p, int proto, const char *from, int inc) {
    size_t start = stage__frame_begin(p, STAGE__NET_KIND_HELLO);
    stage_pack_array(p, 7);
    stage_pack_int(p, proto);
    stage_pack_cstr(p, from);
    stage_pack_int(p, inc);
    stage_pack_int(p, 0); /* manager */
    stage_pack_int(p, 0); /* known: no session */
    stage_pack_int(p, 0); /* received */
    stage_pack_int(p, ++hellos);
    assert_int_equal(stage__frame_end(p, start, 0), 0);
}

static void hello(stage_pack_t *p, int proto, const char *from) {
    hello_inc(p, proto, from, 77);
}

static const char *reason; /* the log line the test waits for */
static uint64_t mark;      /* a's frames when the bad one was closed */

static bool bad_closed(void *ud) {
    (void)ud;
    return raw.done && log_has("closing connection from", reason, NULL);
}

static bool good_pair_goes_on(void *ud) {
    (void)ud;
    return a.frames >= mark + 200;
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state) {
    (void)state;
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.handshake_ms = 300;
    cfg.frame_ms = 300;
    cfg.max_frame = 64 * 1024;
    cfg.max_pending = 4;
    uv_loop_init(&loop);
    tn_start(&loop, &a, &cfg, NULL);
    tn_start(&loop, &b, &cfg, NULL);
    stage__transport_cbs_t cbs = {&a,         pong, tn_on_up,
                                  tn_on_down, NULL, tn_on_dead};
    stage__transport_destroy(&a.t);
    assert_int_equal(stage__transport_new(&loop, &cfg, &cbs, &a.t), 0);
    assert_int_equal(
        stage__transport_listen(a.t, "127.0.0.1:0", a.addr, sizeof a.addr), 0);
    b.echo = true;
    assert_int_equal(tn_send(&a, b.addr, 0, 16), 0);
    mark = 0;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    log_capture_begin();
    return 0;
}

/* Close a handle a failed test left open (all of them are static). */
static void close_leftover(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static int teardown(void **state) {
    (void)state;
    log_capture_end();
    if (raw.bytes) raw_close(&raw); /* started by this test */
    free(raw.bytes);
    raw.bytes = NULL;
    tn_stop(&loop, &a);
    tn_stop(&loop, &b);
    uv_walk(&loop, close_leftover, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

/* Wait for the bad connection to be closed with the line, then for the
** good pair to exchange 200 more frames; nobody went down. */
static void expect_closed_and_good_pair_unaffected(const char *why) {
    reason = why;
    assert_true(tn_run_until(&loop, bad_closed, NULL));
    assert_true(raw.closed_by_peer || raw.close_after);
    mark = a.frames;
    assert_true(mark > 0);
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    assert_false(a.out_of_order);
    assert_int_equal(a.downs, 0);
    assert_int_equal(stage__transport_peer_is_up(b.t, a.addr), 1);
}

static void garbage_bytes_close_the_connection(void **state) {
    (void)state;
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_start(junk, sizeof junk - 1, 0, false);
    expect_closed_and_good_pair_unaffected("not a stage connection");
}

static void oversized_frame_closes_the_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    header(&p, STAGE__FRAME_VERSION, KIND_DATA, 1u << 30);
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("exceeds the maximum of 65536");
}

static void large_frame_before_handshake_closes_the_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    header(&p, STAGE__FRAME_VERSION, STAGE__NET_KIND_HELLO, 1000);
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("exceeds the maximum of 256");
}

static void wrong_frame_version_closes_the_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    header(&p, STAGE__FRAME_VERSION + 1, STAGE__NET_KIND_HELLO, 1);
    stage_pack_nil(&p);
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("unsupported protocol version");
}

static void wrong_handshake_version_closes_the_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION + 1, "127.0.0.1:9");
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("unsupported handshake version");
}

/* A handshake [version, address, incarnation, then nfields - 3 fields,
** the first (the manager) a string if str_manager]: refused. */
static void send_hello_with(int nfields, bool str_manager, const char *why) {
    stage_pack_t p = STAGE_PACK_INIT;
    size_t start = stage__frame_begin(&p, STAGE__NET_KIND_HELLO);
    stage_pack_array(&p, (uint32_t)nfields);
    stage_pack_int(&p, STAGE__NET_PROTO_VERSION);
    stage_pack_cstr(&p, "127.0.0.1:9");
    stage_pack_int(&p, 77);
    for (int i = 3; i < nfields; i++)
        if (str_manager && i == 3)
            stage_pack_cstr(&p, "x");
        else
            stage_pack_int(&p, i == 4 ? -1 : i + 5);
    assert_int_equal(stage__frame_end(&p, start, 0), 0);
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected(why);
}

static void handshake_manager_not_an_id_closes_the_connection(void **state) {
    (void)state;
    send_hello_with(7, true, "malformed handshake");
}

static void handshake_of_version_1_form_closes_the_connection(void **state) {
    (void)state;
    send_hello_with(4, false, "malformed handshake");
}

/* eight fields are a hello with its max frame (12 here, a size: the bad
** known -1 is what is refused); nine are none */
static void handshake_with_an_eighth_field_is_read(void **state) {
    (void)state;
    send_hello_with(8, false, "bad session state");
}

static void handshake_with_a_ninth_field_closes_the_connection(void **state) {
    (void)state;
    send_hello_with(9, false, "malformed handshake");
}

static void handshake_with_a_bad_session_closes_the_connection(void **state) {
    (void)state;
    send_hello_with(7, false, "bad session state"); /* known -1 */
}

static void frame_before_handshake_closes_the_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    assert_int_equal(stage__frame_append(&p, KIND_DATA, "\xc0", 1, 0), 0);
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("before the handshake");
}

static void malformed_body_closes_the_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    header(&p, STAGE__FRAME_VERSION, STAGE__NET_KIND_HELLO, 3);
    stage_pack_raw(&p, "\x93\x01\xc1", 3); /* 0xc1 is never valid */
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("malformed frame body");
}

static void truncated_frame_then_close_is_logged(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    header(&p, STAGE__FRAME_VERSION, KIND_DATA, 100);
    stage_pack_raw(&p, "\xc4\x62zzzzzzzz", 10); /* 10 of 100 bytes */
    raw_start(p.data, p.len, 0, true);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("connection closed by the peer");
    assert_true(log_has("'127.0.0.1:9'", NULL));
}

static void truncated_frame_then_stall_hits_the_deadline(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    header(&p, STAGE__FRAME_VERSION, KIND_DATA, 100);
    stage_pack_raw(&p, "\xc4\x62zz", 4); /* 4 of 100 bytes, then nothing */
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("frame not completed within");
}

static void silent_connection_hits_the_handshake_deadline(void **state) {
    (void)state;
    raw_start("", 0, 0, false);
    expect_closed_and_good_pair_unaffected("no handshake within");
}

static void one_byte_at_a_time_hits_the_frame_deadline(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    size_t hello_len = p.len;
    const char body[] = "\xbe"
                        "a string of thirty bytes......"; /* 31 */
    assert_int_equal(stage__frame_append(&p, KIND_DATA, body, 31, 0), 0);
    /* The handshake arrives whole; then one byte per drip: 39 bytes take
    ** 1.5 s, the deadline is 300 ms. */
    raw_start(p.data, p.len, 1, false);
    raw.first = hello_len;
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("frame not completed within");
    assert_true(log_has("'127.0.0.1:9'", "frame not completed", NULL));
}

static bool b_saw_down(void *ud) {
    (void)ud;
    return b.downs > 0;
}

/* A peer that says hello and then nothing: its connection is closed when
** the heartbeats find it silent; the session is kept and b dials its
** address, where nothing listens (port 9): refused twice, the incarnation
** is declared dead. */
static void silent_peer_after_handshake_is_declared_down(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    expect_closed_and_good_pair_unaffected("nothing received for");
    assert_true(tn_run_until(&loop, b_saw_down, NULL));
    assert_int_equal(b.downs, 1);
    assert_int_equal(b.last_reason, STAGE_ENODE_DOWN);
    assert_int_equal(b.down_inc, 77);
    assert_non_null(strstr(b.down_why, "refused"));
    assert_true(stage__transport_is_dead(b.t, "127.0.0.1:9", 77, NULL));
}

static bool refused_one(void *ud) {
    (void)ud;
    return log_has("too many connections awaiting their handshake (4)", NULL);
}

static void too_many_unnamed_connections_are_refused(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    int fds[5];
    assert_int_equal(stage__addr_parse(b.addr, &ss), 0);
    for (int i = 0; i < 5; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(
            connect(fds[i], (struct sockaddr *)&ss, sizeof(struct sockaddr_in)),
            0);
    }
    assert_true(tn_run_until(&loop, refused_one, NULL));
    mark = a.frames;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    assert_int_equal(a.downs, 0);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}

static raw_t raw2;

static bool fake_up(void *ud) {
    (void)ud;
    return b.ups == 2 && b.last_inc == 77;
}

static bool fake_replaced(void *ud) {
    (void)ud;
    return raw.closed_by_peer && b.last_inc == 78 && b.downs == 1;
}

static void restarted_peer_replaces_its_old_connection(void **state) {
    (void)state;
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    raw_start(p.data, p.len, 0, false);
    assert_true(tn_run_until(&loop, fake_up, NULL));
    stage_pack_reset(&p);
    hello_inc(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9", 78);
    raw_open(&raw2, p.data, p.len, 0, false);
    stage_pack_free(&p);
    assert_true(tn_run_until(&loop, fake_replaced, NULL));
    assert_int_equal(b.last_reason, STAGE_ESTOPPED);
    assert_int_equal(b.ups, 3);
    assert_true(log_has("'127.0.0.1:9'", "new incarnation", NULL));
    assert_int_equal(stage__transport_peer_is_up(b.t, "127.0.0.1:9"), 1);
    raw_close(&raw2);
    free(raw2.bytes);
    assert_int_equal(a.downs, 0);
}

/* ---- seeded random input ------------------------------------------------ */

static uint64_t rng;

static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Append one random frame-ish thing: a valid frame of a random kind, a
** header with random fields and random bytes, or random bytes. */
static void random_piece(stage_pack_t *p) {
    char junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)rnd(256);
    switch (rnd(3)) {
    case 0: {
        size_t start = stage__frame_begin(p, (uint8_t)rnd(256));
        if (rnd(2))
            stage_pack_int(p, rnd(1000));
        else
            stage_pack_str(p, junk, rnd(40));
        stage__frame_end(p, start, 0);
        break;
    }
    case 1:
        header(p, rnd(4) ? STAGE__FRAME_VERSION : (int)rnd(256), (int)rnd(256),
               rnd(4) ? rnd(64) : (uint32_t)rng);
        stage_pack_raw(p, junk, rnd(64));
        break;
    default:
        stage_pack_raw(p, junk, 1 + rnd(63));
    }
}

/* Connections of b that are not closing. */
static int b_live(void) {
    int k = 0;
    for (stage__conn_t *c = b.t->conns; c; c = c->next)
        k += c->state != CONN_CLOSING;
    return k;
}

static bool raw_gone(void *ud) {
    (void)ud;
    return raw.done && b_live() == 1;
}

static void random_input_never_hurts_the_node(void **state) {
    (void)state;
    const char *env = getenv("STAGE_NET_SEED"); /* to replay a failure */
    uint64_t seed = env ? strtoull(env, NULL, 10) : uv_hrtime() | 1;
    print_message("seed %llu (replay: STAGE_NET_SEED=%llu)\n",
                  (unsigned long long)seed, (unsigned long long)seed);
    for (int i = 0; i < 60; i++) {
        stage_pack_t p = STAGE_PACK_INIT;
        rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
        if (rnd(5))
            hello_inc(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9",
                      (int)rnd(1000));
        for (int k = rnd(6); k >= 0; k--)
            random_piece(&p);
        if (raw.bytes) {
            free(raw.bytes);
            raw.bytes = NULL;
        }
        raw_start(p.data, p.len, 0, true);
        stage_pack_free(&p);
        if (!tn_run_until(&loop, raw_gone, NULL))
            fail_msg("connection %d of seed %llu still open", i,
                     (unsigned long long)seed);
    }
    mark = a.frames;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    assert_false(a.out_of_order);
    assert_int_equal(a.downs, 0);
    assert_int_equal(stage__transport_peer_is_up(b.t, a.addr), 1);
}

/* ---- a dial made by on_peer_down while a connection replaces another --- */

/* A listener standing for node X: it answers every connection with X's
** handshake, as X would. */
static uv_tcp_t xl;
static char x_addr[STAGE_ADDR_MAX];
static raw_t x_conn; /* the connection X accepted */
static int x_accepted;

static void x_accept(uv_stream_t *server, int status) {
    stage_pack_t p = STAGE_PACK_INIT;
    if (status < 0 || x_accepted++) return; /* one is all we look at */
    hello_inc(&p, STAGE__NET_PROTO_VERSION, x_addr, 78);
    memset(&x_conn, 0, sizeof x_conn);
    uv_tcp_init(&loop, &x_conn.tcp);
    uv_timer_init(&loop, &x_conn.drip);
    x_conn.tcp.data = x_conn.drip.data = &x_conn;
    x_conn.bytes = p.data; /* owned by x_conn now */
    x_conn.len = p.len;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&x_conn.tcp), 0);
    uv_read_start((uv_stream_t *)&x_conn.tcp, raw_alloc, raw_read);
    raw_write(&x_conn, x_conn.len);
}

static bool frame_on_new_connection(void *ud) {
    stage__net_stats_t s;
    (void)ud;
    stage__transport_peer_stats(b.t, x_addr, &s);
    /* raw2 got b's hello and frame 1000 (b's hello to raw, its hello to
    ** raw2, frame 1000) */
    return raw2.got > 0 && s.frames_out >= 3 && b.downs == 1;
}

/* X restarts (incarnation 78) and connects while b still has X's old
** connection: the old one goes, the session with 77 ends (ESTOPPED), and
** what b's on_peer_down sends X at once (frame 1000) goes on the new
** connection, without dialling X. */
static void replacing_connection_serves_what_on_down_sends(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_init(&loop, &xl);
    assert_int_equal(stage__addr_parse("127.0.0.1:0", &ss), 0);
    assert_int_equal(uv_tcp_bind(&xl, (struct sockaddr *)&ss, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&xl, 8, x_accept), 0);
    uv_tcp_getsockname(&xl, (struct sockaddr *)&ss, &len);
    stage__addr_format((struct sockaddr *)&ss, x_addr, sizeof x_addr);
    x_accepted = 0;

    stage_pack_t p = STAGE_PACK_INIT;
    hello_inc(&p, STAGE__NET_PROTO_VERSION, x_addr, 77);
    raw_start(p.data, p.len, 0, false);
    b.last_inc = 0;
    while (b.last_inc != 77)
        uv_run(&loop, UV_RUN_ONCE);
    b.resend = true;
    stage_pack_reset(&p);
    hello_inc(&p, STAGE__NET_PROTO_VERSION, x_addr, 78);
    raw_open(&raw2, p.data, p.len, 0, false);
    stage_pack_free(&p);
    assert_true(tn_run_until(&loop, frame_on_new_connection, NULL));
    assert_int_equal(b.last_reason, STAGE_ESTOPPED);
    assert_int_equal(b.down_inc, 77);
    assert_int_equal(x_accepted, 0); /* no dial */
    int up = 0;
    for (stage__conn_t *c = b.t->conns; c; c = c->next)
        up += c->state == CONN_UP && c->peer &&
              strcmp(c->peer->addr, x_addr) == 0;
    assert_int_equal(up, 1);
    b.resend = false;
    raw_close(&raw2);
    free(raw2.bytes);
    if (x_accepted) {
        raw_close(&x_conn);
        free(x_conn.bytes);
    }
    uv_close((uv_handle_t *)&xl, NULL);
}

/* ---- a restart while a dial to the old incarnation connects ------------- */

/* A listener standing for node X whose accept queue is full (backlog 0, one
** connection never accepted): a dial to it stays CONNECTING (its SYN is
** dropped) until the handshake deadline. Bound on 127.0.0.2, so that X's
** address sorts after b's and the one-connection rule would keep b's dial
** against a handshake from X. */
static int x_fd = -1, x_filler = -1;

static void x_full_listen(void) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    x_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(x_fd >= 0);
    assert_int_equal(stage__addr_parse("127.0.0.2:0", &ss), 0);
    assert_int_equal(
        bind(x_fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)), 0);
    assert_int_equal(listen(x_fd, 0), 0);
    assert_int_equal(getsockname(x_fd, (struct sockaddr *)&ss, &len), 0);
    stage__addr_format((struct sockaddr *)&ss, x_addr, sizeof x_addr);
    assert_true(strcmp(b.addr, x_addr) < 0);
    x_filler = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(x_filler >= 0);
    assert_int_equal(
        connect(x_filler, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)),
        0);
}

static bool b_dials_x(void *ud) {
    (void)ud;
    stage__peer_t *p = stage__peer_find(b.t, x_addr);
    return p && p->conn && p->conn->state == CONN_CONNECTING;
}

static bool x_restart_taken(void *ud) {
    (void)ud;
    stage__peer_t *p = stage__peer_find(b.t, x_addr);
    return (p && p->up && p->incarnation == 78 && p->s.received == 1) ||
           raw2.done;
}

/* X (incarnation 77) loses its connection to b; b dials X's address to
** resume the session, and before that dial connects, X's next incarnation
** (78) connects to b with its handshake and a frame. b has sent nothing on
** its dial, so X can only keep its own connection: b must take it too (the
** session with 77 ends, ESTOPPED; the one with 78 begins and takes the
** frame), not close it as a duplicate of a dial that may never connect. */
static void restart_during_a_dial_is_taken(void **state) {
    (void)state;
    x_full_listen();
    stage_pack_t p = STAGE_PACK_INIT;
    hello_inc(&p, STAGE__NET_PROTO_VERSION, x_addr, 77);
    raw_start(p.data, p.len, 0, false);
    b.last_inc = 0;
    while (b.last_inc != 77)
        uv_run(&loop, UV_RUN_ONCE);
    raw_close(&raw); /* b keeps the session and dials X */
    assert_true(tn_run_until(&loop, b_dials_x, NULL));
    stage_pack_reset(&p);
    hello_inc(&p, STAGE__NET_PROTO_VERSION, x_addr, 78);
    stage_pack_t body = STAGE_PACK_INIT;
    stage_pack_array(&body, 2);
    stage_pack_int(&body, 0);
    stage_pack_bin(&body, "", 0);
    assert_int_equal(stage__frame_append(&p, KIND_DATA, body.data, body.len, 0),
                     0);
    stage_pack_free(&body);
    raw_open(&raw2, p.data, p.len, 0, false);
    stage_pack_free(&p);
    assert_true(tn_run_until(&loop, x_restart_taken, NULL));
    assert_false(raw2.done); /* not closed as a duplicate */
    assert_int_equal(b.down_inc, 77);
    assert_int_equal(b.last_reason, STAGE_ESTOPPED);
    assert_int_equal(b.last_inc, 78);
    /* and the race was run: b's dial was still connecting when it gave way */
    assert_non_null(strstr(stage__peer_find(b.t, x_addr)->last_failure,
                           "ours has not connected"));
    raw_close(&raw2);
    free(raw2.bytes);
    close(x_filler);
    close(x_fd);
    mark = a.frames;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    assert_int_equal(a.downs, 0);
}

/* A handshake from an incarnation declared dead is answered with DEAD
** (its incarnation, who declared it dead and why) and closed. */
static bool raw_told_dead(void *ud) {
    (void)ud;
    return raw.done && raw.got > 0;
}

static void dead_incarnation_is_answered_dead(void **state) {
    (void)state;
    assert_int_equal(stage__transport_declare_dead(b.t, "127.0.0.1:9", 77,
                                                   "the test says so"),
                     0);
    assert_true(stage__transport_is_dead(b.t, "127.0.0.1:9", 77, NULL));
    assert_false(stage__transport_is_dead(b.t, "127.0.0.1:9", 78, NULL));
    stage_pack_t p = STAGE_PACK_INIT;
    hello(&p, STAGE__NET_PROTO_VERSION, "127.0.0.1:9");
    raw_start(p.data, p.len, 0, false);
    stage_pack_free(&p);
    assert_true(tn_run_until(&loop, raw_told_dead, NULL));
    /* what came back is one DEAD frame: [77, who declared it and why,
    ** b's live sessions, b's incarnation] */
    stage__fdec_t d;
    stage__frame_t f;
    stage__fdec_init(&d, 0);
    assert_int_equal(stage__fdec_feed(&d, raw.in, raw.got), 0);
    assert_int_equal(stage__fdec_next(&d, &f), 1);
    assert_int_equal(f.kind, STAGE__NET_KIND_DEAD);
    stage_unpack_t u;
    uint32_t n;
    int64_t inc;
    const char *why;
    size_t wlen;
    stage_unpack_init(&u, f.body, f.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(stage_unpack_int(&u, &inc), 0);
    assert_int_equal(inc, 77);
    assert_int_equal(stage_unpack_str(&u, &why, &wlen), 0);
    int64_t sessions, its;
    assert_int_equal(stage_unpack_int(&u, &sessions), 0);
    assert_int_equal(sessions, 1); /* b's session with a */
    assert_int_equal(stage_unpack_int(&u, &its), 0);
    assert_int_equal(its, stage__transport_incarnation(b.t));
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)wlen, why);
    assert_non_null(strstr(text, b.addr)); /* who declared it dead */
    assert_non_null(strstr(text, "the test says so"));
    assert_int_equal(stage__fdec_next(&d, &f), 0); /* nothing else */
    stage__fdec_close(&d);
    assert_true(log_has("refusing", "'127.0.0.1:9' (incarnation 4d)",
                        "the test says so", NULL));
    assert_int_equal(b.ups, 1); /* no session with it */
    mark = a.frames;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    assert_int_equal(a.downs + b.downs, 0);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(garbage_bytes_close_the_connection),
        T(oversized_frame_closes_the_connection),
        T(large_frame_before_handshake_closes_the_connection),
        T(wrong_frame_version_closes_the_connection),
        T(wrong_handshake_version_closes_the_connection),
        T(handshake_manager_not_an_id_closes_the_connection),
        T(handshake_of_version_1_form_closes_the_connection),
        T(handshake_with_an_eighth_field_is_read),
        T(handshake_with_a_ninth_field_closes_the_connection),
        T(handshake_with_a_bad_session_closes_the_connection),
        T(frame_before_handshake_closes_the_connection),
        T(malformed_body_closes_the_connection),
        T(truncated_frame_then_close_is_logged),
        T(truncated_frame_then_stall_hits_the_deadline),
        T(silent_connection_hits_the_handshake_deadline),
        T(one_byte_at_a_time_hits_the_frame_deadline),
        T(silent_peer_after_handshake_is_declared_down),
        T(too_many_unnamed_connections_are_refused),
        T(restarted_peer_replaces_its_old_connection),
        T(random_input_never_hurts_the_node),
        T(replacing_connection_serves_what_on_down_sends),
        T(dead_incarnation_is_answered_dead),
        T(restart_during_a_dial_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
