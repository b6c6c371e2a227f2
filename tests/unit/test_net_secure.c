/*
** tests/unit/test_net_secure.c: transports with cluster keys on loopback —
** the same key carries 100,000 frames each way; nodes that run different
** ciphers agree on one; different keys, or a key against none, never bring
** a session up and say why on both sides; a broken connection is replaced
** under a new handshake and the session resumes; and hostile input to a keyed
** node (garbage, random bytes, a plain handshake, a wrong key, a cut handshake,
** and from a client that
** holds the key: a flipped bit, a replayed record, a record cut short) is
** closed with a log line naming it while a keyed pair goes on serving,
** and none of it reaches the frame decoder.
*/
#include <sodium.h>

#include "test_net_util.h"
#include "util/log.h"

static uv_loop_t loop;
static tnode_t a, b;
static uint64_t want;
static stage__secure_keys_t key_a, key_b;

static void make_keys(void) {
    memset(&key_a, 0, sizeof key_a);
    memset(&key_b, 0, sizeof key_b);
    randombytes_buf(key_a.key[0], sizeof key_a.key[0]);
    randombytes_buf(key_b.key[0], sizeof key_b.key[0]);
    key_a.n = key_b.n = 1;
}

/* Start n listening on loopback with key (NULL: none). */
static void start(tnode_t *n, const stage__secure_keys_t *key) {
    stage__transport_config_t cfg;
    tn_config(&cfg);
    if (key) cfg.keys = *key;
    tn_start(&loop, n, &cfg, NULL);
}

static int setup(void **state) {
    (void)state;
    assert_int_equal(sodium_init() < 0, 0);
    make_keys();
    uv_loop_init(&loop);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    log_capture_end();
    tn_stop(&loop, &a);
    tn_stop(&loop, &b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static bool both_have_want(void *ud) {
    (void)ud;
    return a.frames >= want && b.frames >= want;
}

static void same_key_carries_100000_frames_each_way(void **state) {
    (void)state;
    start(&a, &key_a);
    start(&b, &key_a);
    want = 100000;
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 16), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 16), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    assert_int_equal(a.frames, want);
    assert_int_equal(b.frames, want);
    assert_false(a.out_of_order || b.out_of_order);
    assert_int_equal(a.ups, 1);
    assert_int_equal(b.ups, 1);
    assert_int_equal(a.downs + b.downs, 0);
    /* a handshake per connection: both dialled at once, one was kept */
    assert_true(a.t->secure_ups >= 1 && a.t->secure_ups <= 2);
    assert_true(b.t->secure_ups >= 1 && b.t->secure_ups <= 2);
    /* the bytes on the wire are the frames' and the records' overhead */
    stage__net_stats_t s;
    assert_int_equal(stage__transport_peer_stats(a.t, b.addr, &s), 0);
    assert_true(s.bytes_out > want * 16);
}

/* A node whose CPU runs only ChaCha20-Poly1305 (narrowed here) and one
** that prefers AES-GCM agree on ChaCha20-Poly1305, and frames flow. */
static void nodes_with_different_ciphers_agree_on_one(void **state) {
    (void)state;
    stage__secure_keys_t chacha = key_a;
    chacha.ciphers = STAGE__SECURE_CHACHA;
    start(&a, &chacha);
    start(&b, &key_a);
    want = 5000;
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 100), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 100), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want, NULL));
    assert_false(a.out_of_order || b.out_of_order);
    stage__peer_t *pa = stage__peer_find(a.t, b.addr);
    stage__peer_t *pb = stage__peer_find(b.t, a.addr);
    assert_non_null(pa->conn);
    assert_non_null(pb->conn);
    assert_int_equal(pa->conn->sec->cipher, STAGE__SECURE_CHACHA);
    assert_int_equal(pb->conn->sec->cipher, STAGE__SECURE_CHACHA);
}

static bool a_gave_up(void *ud) {
    (void)ud;
    return a.downs >= 1;
}

/* a dials b with ka, b holds kb (NULL: none): a never gets a session,
** gives its frames back after its attempts, and both log a line with
** their words. */
static void never_up(const stage__secure_keys_t *ka,
                     const stage__secure_keys_t *kb, const char *a_says,
                     const char *b_says) {
    start(&a, ka);
    start(&b, kb);
    log_capture_begin();
    assert_int_equal(tn_send(&a, b.addr, 0, 16), 0);
    assert_true(tn_run_until(&loop, a_gave_up, NULL));
    assert_int_equal(a.last_reason, STAGE_EUNREACHABLE);
    assert_int_equal(a.dropped, 1);
    assert_int_equal(a.ups + b.ups, 0);
    assert_int_equal(b.frames, 0);
    assert_true(log_has("closing connection to", b.addr, a_says, NULL));
    assert_true(log_has("closing connection from", b_says, NULL));
    char why[128];
    assert_true(stage__transport_peer_failures(a.t, b.addr, why, sizeof why) >=
                1);
    assert_non_null(strstr(why, a_says));
    log_capture_end();
}

static void different_keys_never_come_up_and_both_say_why(void **state) {
    (void)state;
    never_up(&key_a, &key_b, "the two nodes hold different keys",
             "wrong cluster key");
}

static void a_keyed_node_refuses_a_node_without_a_key(void **state) {
    (void)state;
    never_up(NULL, &key_a, "it requires a cluster key, and this node has none",
             "it has no cluster key (it speaks the plain protocol)");
}

static void a_node_without_a_key_refuses_a_keyed_node(void **state) {
    (void)state;
    never_up(&key_a, NULL, "it has no cluster key, and this node has one",
             "it requires a cluster key, and this node has none");
}

/* The test breaks a's connection to b again and again: each new one runs
** a new handshake, and the session resumes over it. */
static int breaks;
static uint64_t break_every;

static bool both_have_want_breaking(void *ud) {
    (void)ud;
    stage__peer_t *p = stage__peer_find(a.t, b.addr);
    if (p && p->conn && p->up &&
        a.frames + b.frames >= (breaks + 1) * break_every) {
        stage__conn_close(p->conn, STAGE_EIO, STAGE_LOG_DEBUG,
                          "the test breaks it");
        breaks++;
    }
    return a.frames >= want && b.frames >= want;
}

static void a_replaced_connection_resumes_under_a_new_handshake(void **state) {
    (void)state;
    start(&a, &key_a);
    start(&b, &key_a);
    want = 100000;
    break_every = 15000;
    breaks = 0;
    for (uint64_t i = 0; i < want; i++) {
        assert_int_equal(tn_send(&a, b.addr, i, 16), 0);
        assert_int_equal(tn_send(&b, a.addr, i, 16), 0);
    }
    assert_true(tn_run_until(&loop, both_have_want_breaking, NULL));
    assert_true(breaks >= 5);
    assert_int_equal(a.frames, want);
    assert_int_equal(b.frames, want);
    assert_false(a.out_of_order || b.out_of_order);
    assert_int_equal(a.ups, 1); /* one session throughout */
    assert_int_equal(b.ups, 1);
    assert_int_equal(a.downs + b.downs, 0);
    /* a handshake per connection: the first and one per break */
    assert_true(a.t->secure_ups >= (uint64_t)breaks + 1);
    assert_true(b.t->secure_ups >= (uint64_t)breaks + 1);
}

/* ---- hostile input to a keyed node ------------------------------------ */

/* a's on_frame answers b's echo with the next frame: a ping-pong. */
static void pong(void *ud, const char *peer, int kind, const char *body,
                 size_t len) {
    tn_on_frame(ud, peer, kind, body, len);
    tn_send(&a, peer, a.next_seq, 16);
}

typedef struct raw {
    uv_tcp_t tcp;
    uv_connect_t creq;
    bool connected, closed_by_peer, done;
    size_t got;
    uint8_t in[512];
    int open_handles;
} raw_t;

static raw_t raw;

static void raw_closed(uv_handle_t *h) {
    ((raw_t *)h->data)->open_handles--;
}

static void raw_close(raw_t *r) {
    if (r->done) return;
    r->done = true;
    uv_close((uv_handle_t *)&r->tcp, raw_closed);
}

static void raw_write_cb(uv_write_t *req, int status) {
    (void)status;
    free(req->data);
    free(req);
}

/* Send bytes[0..len) (copied) on r. */
static void raw_send(raw_t *r, const void *bytes, size_t len) {
    uv_write_t *req = malloc(sizeof *req);
    req->data = malloc(len ? len : 1);
    memcpy(req->data, bytes, len);
    uv_buf_t buf = uv_buf_init(req->data, (unsigned)len);
    if (uv_write(req, (uv_stream_t *)&r->tcp, &buf, 1, raw_write_cb)) {
        free(req->data);
        free(req);
    }
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
    assert_int_equal(status, 0);
    r->connected = true;
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static bool raw_connected(void *ud) {
    return ((raw_t *)ud)->connected;
}

/* Connect raw to b and wait until it is. */
static void raw_open(void) {
    struct sockaddr_storage ss;
    memset(&raw, 0, sizeof raw);
    uv_tcp_init(&loop, &raw.tcp);
    raw.tcp.data = raw.creq.data = &raw;
    raw.open_handles = 1;
    assert_int_equal(stage__addr_parse(b.addr, &ss), 0);
    assert_int_equal(uv_tcp_connect(&raw.creq, &raw.tcp, (struct sockaddr *)&ss,
                                    raw_on_connect),
                     0);
    assert_true(tn_run_until(&loop, raw_connected, &raw));
}

static const char *reason; /* the log line the test waits for */

static bool bad_closed(void *ud) {
    (void)ud;
    return raw.done && log_has("closing connection from", reason, NULL);
}

static uint64_t mark;
static bool good_pair_goes_on(void *ud) {
    (void)ud;
    return a.frames >= mark + 200;
}

/* a and b share key_a; a pings b, b echoes, for ever. */
static void start_pair(void) {
    stage__transport_config_t cfg;
    tn_config(&cfg);
    cfg.handshake_ms = 300;
    cfg.keys = key_a;
    stage__transport_cbs_t cbs = {&a,         pong, tn_on_up,
                                  tn_on_down, NULL, tn_on_dead};
    memset(&a, 0, sizeof a);
    assert_int_equal(stage__transport_new(&loop, &cfg, &cbs, &a.t), 0);
    assert_int_equal(
        stage__transport_listen(a.t, "127.0.0.1:0", a.addr, sizeof a.addr), 0);
    tn_start(&loop, &b, &cfg, NULL);
    b.echo = true;
    assert_int_equal(tn_send(&a, b.addr, 0, 16), 0);
    mark = 0;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
}

/* After a bad connection was closed with its reason: the pair went on,
** nobody went down, and b got no frame but a's. */
static void pair_unharmed(void) {
    mark = a.frames;
    assert_true(tn_run_until(&loop, good_pair_goes_on, NULL));
    assert_int_equal(a.downs + b.downs, 0);
    assert_int_equal(a.ups, 1);
    assert_int_equal(b.ups, 1);
    assert_false(a.out_of_order || b.out_of_order);
    assert_string_equal(b.last_peer, a.addr);
}

/* Send bytes to b from a raw client; b closes it saying why. */
static void bad_bytes(const void *bytes, size_t len, bool close_after,
                      const char *why) {
    start_pair();
    log_capture_begin();
    raw_open();
    raw_send(&raw, bytes, len);
    if (close_after) raw_close(&raw);
    reason = why;
    assert_true(tn_run_until(&loop, bad_closed, NULL));
    pair_unharmed();
    log_capture_end();
}

static void garbage_is_closed(void **state) {
    (void)state;
    bad_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false,
              "garbage instead of the cluster-key handshake");
}

static void random_bytes_are_closed(void **state) {
    (void)state;
    uint8_t junk[4096];
    for (int round = 0; round < 3; round++) {
        randombytes_buf(junk, sizeof junk);
        junk[0] = 'S', junk[1] = 'K'; /* past the first check */
        junk[2] = STAGE__SECURE_VERSION, junk[3] = 1;
        bad_bytes(junk, sizeof junk, false, "wrong cluster key");
        tn_stop(&loop, &a);
        tn_stop(&loop, &b);
    }
    randombytes_buf(junk, sizeof junk);
    junk[0] = 'x';
    bad_bytes(junk, sizeof junk, false, "garbage instead of the cluster-key");
}

static void a_plain_handshake_is_refused(void **state) {
    (void)state;
    char h[STAGE__FRAME_HEADER + 4];
    stage__frame_header(h, STAGE__NET_KIND_HELLO, 4);
    memcpy(h + STAGE__FRAME_HEADER, "\x94\x02\x01\x02", 4);
    bad_bytes(h, sizeof h, false, "it has no cluster key");
    assert_true(raw.got >= STAGE__SECURE_REJECT); /* it was told why */
    assert_int_equal(stage__secure_rejected(raw.in), STAGE__SECURE_KEY_NEEDED);
}

static void a_cut_handshake_is_closed(void **state) {
    (void)state;
    stage__secure_t s;
    uint8_t hello[STAGE__SECURE_MSG];
    stage__secure_init(&s, &key_a, true);
    assert_int_equal(stage__secure_hello(&s, hello), 0);
    bad_bytes(hello, 30, true, "the stream was cut");
}

static void a_stalled_handshake_times_out(void **state) {
    (void)state;
    bad_bytes("SK", 2, false, "no handshake within 300 ms");
}

/* A client that holds the key: it completes the handshake on raw, then
** sends what the test makes of sealed records. */
static stage__secure_t client;

static bool raw_has_reply(void *ud) {
    (void)ud;
    return raw.got >= STAGE__SECURE_MSG || raw.done;
}

static void keyed_client(void) {
    uint8_t hello[STAGE__SECURE_MSG];
    char why[256];
    start_pair();
    log_capture_begin();
    raw_open();
    stage__secure_init(&client, &key_a, true);
    assert_int_equal(stage__secure_hello(&client, hello), 0);
    raw_send(&raw, hello, sizeof hello);
    assert_true(tn_run_until(&loop, raw_has_reply, NULL));
    assert_int_equal(stage__secure_finish(&client, raw.in, why, sizeof why), 0);
}

/* A sealed record of a plain PING frame (valid, harmless: before a node
** handshake it is refused as a frame before the handshake). */
static void sealed_ping(stage_buf_t *out) {
    char f[STAGE__FRAME_HEADER + 1];
    stage__frame_header(f, STAGE__NET_KIND_HELLO, 1);
    f[STAGE__FRAME_HEADER] = (char)0xc0; /* nil: a malformed HELLO body */
    stage__secure_piece_t p = {f, sizeof f};
    assert_int_equal(stage__secure_seal(&client, out, &p, 1), 0);
}

static void a_flipped_bit_in_a_record_is_closed(void **state) {
    (void)state;
    stage_buf_t rec = STAGE_BUF_INIT;
    keyed_client();
    sealed_ping(&rec);
    rec.data[STAGE__SECURE_HEADER + 3] ^= 0x10;
    raw_send(&raw, rec.data, rec.len);
    reason = "does not authenticate";
    assert_true(tn_run_until(&loop, bad_closed, NULL));
    /* nothing reached the decoder: a malformed HELLO would say so */
    assert_false(log_has("malformed handshake", NULL));
    pair_unharmed();
    log_capture_end();
    stage__buf_free(&rec);
}

static void a_replayed_record_is_closed(void **state) {
    (void)state;
    stage_buf_t rec = STAGE_BUF_INIT, twice = STAGE_BUF_INIT;
    keyed_client();
    /* a record of 3 bytes of a frame header: the decoder waits for more */
    stage__secure_piece_t p = {"ST\4", 3};
    assert_int_equal(stage__secure_seal(&client, &rec, &p, 1), 0);
    stage__buf_append(&twice, rec.data, rec.len);
    stage__buf_append(&twice, rec.data, rec.len);
    raw_send(&raw, twice.data, twice.len);
    reason = "record 1 does not authenticate";
    assert_true(tn_run_until(&loop, bad_closed, NULL));
    pair_unharmed();
    log_capture_end();
    stage__buf_free(&rec);
    stage__buf_free(&twice);
}

static void a_record_cut_short_is_closed(void **state) {
    (void)state;
    stage_buf_t rec = STAGE_BUF_INIT;
    keyed_client();
    sealed_ping(&rec);
    raw_send(&raw, rec.data, rec.len - 5);
    raw_close(&raw);
    reason = "the stream was cut";
    assert_true(tn_run_until(&loop, bad_closed, NULL));
    assert_false(log_has("malformed handshake", NULL));
    pair_unharmed();
    log_capture_end();
    stage__buf_free(&rec);
}

/* The one record that authenticates does reach the decoder (the checks
** above are not vacuous): its malformed HELLO is refused as such. */
static void a_good_record_reaches_the_decoder(void **state) {
    (void)state;
    stage_buf_t rec = STAGE_BUF_INIT;
    keyed_client();
    sealed_ping(&rec);
    raw_send(&raw, rec.data, rec.len);
    reason = "malformed handshake";
    assert_true(tn_run_until(&loop, bad_closed, NULL));
    pair_unharmed();
    log_capture_end();
    stage__buf_free(&rec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(same_key_carries_100000_frames_each_way,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            nodes_with_different_ciphers_agree_on_one, setup, teardown),
        cmocka_unit_test_setup_teardown(
            different_keys_never_come_up_and_both_say_why, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_keyed_node_refuses_a_node_without_a_key, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_node_without_a_key_refuses_a_keyed_node, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_replaced_connection_resumes_under_a_new_handshake, setup,
            teardown),
        cmocka_unit_test_setup_teardown(garbage_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(random_bytes_are_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_plain_handshake_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_cut_handshake_is_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_stalled_handshake_times_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_flipped_bit_in_a_record_is_closed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_replayed_record_is_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_record_cut_short_is_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_good_record_reaches_the_decoder,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
