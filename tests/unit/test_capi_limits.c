/*
** tests/unit/test_capi_limits.c: a node's max_message through the C API,
** on one node and between two on loopback. Arguments past the limit are
** refused by the send or spawn itself (STAGE_ETOOBIG, nothing sent); a
** reply past it fails the caller's future with TooLarge at once; a node
** with a smaller limit than its caller's refuses what passes its own,
** and answers TooLarge at once; a message nested deeper than any reader
** accepts is answered MalformedData. Every wait is 2 s at most: a lost
** reply shows as a failed wait, not as a slow test. Each node serves on.
*/
#include <stdatomic.h>
#include <unistd.h>

#include "test_capi_util.h"

#define SMALL 4096  /* the server's max_message */
#define LARGE 65536 /* the caller's */
#define QUICK 2     /* seconds an answer may take */

static atomic_int last_reply_rc; /* what stage_reply returned in blob() */

/* take(...): the size of its arguments, encoded. */
static void take(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    const char *data;
    size_t len;
    stage_msg_args(m, &data, &len);
    cu_reply_int(ctx, m, (int64_t)len);
}

/* blob(n): a string of n bytes; what stage_reply returned goes in
** last_reply_rc (read it once a later message to the actor is answered). */
static void blob(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    size_t n = (size_t)cu_arg_int(m);
    char *s = malloc(n ? n : 1);
    memset(s, 'x', n);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_str(&p, s, n);
    atomic_store(&last_reply_rc, stage_reply(ctx, m, p.data, p.len));
    stage_pack_free(&p);
    free(s);
}

/* deep(n): nil inside n arrays. */
static void deep(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    int64_t n = cu_arg_int(m);
    stage_pack_t p = STAGE_PACK_INIT;
    for (int64_t i = 0; i < n; i++)
        stage_pack_array(&p, 1);
    stage_pack_nil(&p);
    atomic_store(&last_reply_rc, stage_reply(ctx, m, p.data, p.len));
    stage_pack_free(&p);
}

static const stage_method_t methods[] = {
    {"take", take}, {"blob", blob}, {"deep", deep}, {NULL, NULL}};
static const stage_type_def_t sink_type = {.name = "Sink", .methods = methods};

/* A node of 2 theatres with the Sink type and max_message max. */
static stage_node_t *node_of(size_t max) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    cfg.max_message = max;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    assert_int_equal(stage_type_register(node, &sink_type), 0);
    return node;
}

static void network(stage_node_t *node, const char *join) {
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.join = join;
    net.period_secs = 0.25;
    char err[256];
    if (stage_node_network(node, &net, err, sizeof err))
        fail_msg("stage_node_network: %s", err);
}

/* The arguments [s], s a string of n bytes, into p (reset). */
static void str_args(stage_pack_t *p, size_t n) {
    char *s = malloc(n ? n : 1);
    memset(s, 'x', n);
    stage_pack_reset(p);
    stage_pack_array(p, 1);
    stage_pack_str(p, s, n);
    free(s);
    assert_int_equal(stage_pack_error(p), 0);
}

/* f's result within QUICK seconds (failing the test otherwise). */
static void quick(stage_future_t *f, stage_result_t *res) {
    int rc = stage_future_wait(f, QUICK, res);
    if (rc) fail_msg("no answer within %d s: %s", QUICK, stage_err_name(rc));
}

/* f must fail with status within QUICK, its message holding want; f is
** released. */
static void fails_quickly(stage_future_t **f, int status, const char *want) {
    stage_result_t res;
    quick(*f, &res);
    if (res.status != status || !res.message || !strstr(res.message, want))
        fail_msg("%s: '%s', not %s: '...%s...'", stage_err_name(res.status),
                 res.message ? res.message : "", stage_err_name(status), want);
    stage_future_release(f);
}

/* take(a string of n bytes) from node to `to` answers the arguments' size. */
static void take_goes(stage_node_t *node, const stage_id_t *to, size_t n,
                      size_t size) {
    stage_pack_t p = STAGE_PACK_INIT;
    str_args(&p, n);
    assert_int_equal(p.len, size);
    stage_future_t *f;
    assert_int_equal(stage_node_send(node, to, "take", p.data, p.len, &f), 0);
    stage_pack_free(&p);
    assert_int_equal(cu_int(&f), (int64_t)size);
}

static void limits_max_message_out_of_range_is_refused(void **state) {
    (void)state;
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    assert_int_equal(cfg.max_message, STAGE_MAX_MESSAGE_DEFAULT);
    stage_node_t *node = NULL;
    cfg.max_message = STAGE_MAX_MESSAGE_MIN - 1;
    assert_int_equal(stage_node_new(&node, &cfg), STAGE_EINVAL);
    cfg.max_message = STAGE_MAX_MESSAGE_MAX + 1;
    assert_int_equal(stage_node_new(&node, &cfg), STAGE_EINVAL);
    assert_null(node);
}

static void limits_on_one_node_fail_at_once(void **state) {
    (void)state;
    stage_node_t *a = node_of(SMALL);
    cu_script(a, "capi_limits");
    cu_start(a);
    stage_id_t sink;
    assert_int_equal(stage_node_spawn(a, "Sink", 1, NULL, 0, &sink), 0);
    /* [str16 of n]: 1 + 3 + n bytes; SMALL - 4 fills the limit */
    take_goes(a, &sink, SMALL - 4, SMALL);
    stage_pack_t p = STAGE_PACK_INIT;
    str_args(&p, SMALL - 3);
    stage_future_t *f = (stage_future_t *)1;
    assert_int_equal(stage_node_send(a, &sink, "take", p.data, p.len, &f),
                     STAGE_ETOOBIG);
    assert_null(f);
    assert_int_equal(stage_node_send(a, &sink, "take", p.data, p.len, NULL),
                     STAGE_ETOOBIG);
    stage_id_t born;
    assert_int_equal(stage_node_spawn(a, "Sink", 0, p.data, p.len, &born),
                     STAGE_ETOOBIG);
    assert_int_equal(stage_node_spawn_at(a, stage_node_address(a), "Sink",
                                         p.data, p.len, &f),
                     STAGE_ETOOBIG);
    str_args(&p, SMALL - 4);
    assert_int_equal(stage_node_spawn(a, "Sink", 0, p.data, p.len, &born), 0);

    /* a reply: a str16 of SMALL - 3 bytes fills the limit */
    f = cu_call(a, &sink, "blob", SMALL - 3, 0);
    stage_result_t res;
    quick(f, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.len, SMALL);
    stage_future_release(&f);
    f = cu_call(a, &sink, "blob", SMALL - 2, 0);
    quick(f, &res);
    assert_int_equal(res.status, STAGE_ETOOBIG);
    char id[STAGE_ID_TEXT_MAX], want[STAGE_ID_TEXT_MAX + 100];
    stage_id_format(&sink, id, sizeof id);
    snprintf(want, sizeof want,
             "the reply of actor '%s' is too large: %d bytes, over the limit "
             "of %d bytes",
             id, SMALL + 1, SMALL);
    assert_non_null(strstr(res.message, want));
    assert_string_equal(res.actor, id);
    stage_future_release(&f);
    /* blob has returned once sink answers the next message */
    take_goes(a, &sink, 10, 12);
    assert_int_equal(atomic_load(&last_reply_rc), STAGE_ETOOBIG);

    /* nested 3000 deep, to a Lua actor: its decoder refuses it (a reader
    ** takes 64 levels), as MalformedData at once, and the actor goes on.
    ** (Before the pipelined send below: a send queued behind one of those
    ** is split into its values at once, and refused there, EINVAL.) */
    stage_id_t echo;
    assert_int_equal(stage_node_spawn(a, "Echo", 0, NULL, 0, &echo), 0);
    stage_pack_reset(&p);
    for (int i = 0; i < 3000; i++)
        stage_pack_array(&p, 1);
    stage_pack_nil(&p);
    assert_int_equal(stage_node_send(a, &echo, "take", p.data, p.len, &f), 0);
    fails_quickly(&f, STAGE_EDECODE, "nested deeper than 64");
    f = cu_call(a, &echo, "take", 7, 0);
    assert_int_equal(cu_int(&f), 1);

    /* two arguments within the limit, pipelined: too large together */
    stage_future_t *p1, *p2;
    assert_int_equal(stage_future_new(a, &p1), 0);
    assert_int_equal(stage_future_new(a, &p2), 0);
    stage_arg_t args[2] = {{.future = p1}, {.future = p2}};
    assert_int_equal(stage_node_send_args(a, &sink, "take", args, 2, &f), 0);
    stage_pack_t half = STAGE_PACK_INIT;
    char s[3000];
    memset(s, 'y', sizeof s);
    stage_pack_str(&half, s, sizeof s);
    assert_int_equal(stage_future_resolve(p1, half.data, half.len), 0);
    assert_int_equal(stage_future_resolve(p2, half.data, half.len), 0);
    snprintf(want, sizeof want,
             "cannot send 'take' to actor '%s': its arguments are %zu bytes, "
             "over the limit of %d bytes",
             id, 1 + 2 * half.len, SMALL);
    fails_quickly(&f, STAGE_ETOOBIG, want);
    stage_future_release(&p1);
    stage_future_release(&p2);
    stage_pack_free(&half);

    take_goes(a, &sink, 10, 12); /* it serves on */
    stage_pack_free(&p);
    cu_end(&a);
}

static void limits_between_nodes_fail_at_once_where_found(void **state) {
    (void)state;
    stage_node_t *a = node_of(SMALL), *b = node_of(LARGE);
    network(a, NULL);
    network(b, stage_node_address(a));
    assert_int_equal(stage_node_wait_joined(b, WAIT_SECS), 0);
    cu_start(a);
    cu_start(b);
    stage_id_t sink;
    assert_int_equal(stage_node_spawn(a, "Sink", 1, NULL, 0, &sink), 0);
    take_goes(b, &sink, SMALL - 4, SMALL);
    char id[STAGE_ID_TEXT_MAX], want[STAGE_ID_TEXT_MAX + 200];
    stage_id_format(&sink, id, sizeof id);

    /* past a's limit, within b's: a finds it and answers TooLarge */
    stage_pack_t p = STAGE_PACK_INIT;
    str_args(&p, SMALL - 3);
    stage_future_t *f;
    assert_int_equal(stage_node_send(b, &sink, "take", p.data, p.len, &f), 0);
    snprintf(want, sizeof want,
             "a message to actor '%s' is too large: its arguments are %d "
             "bytes, over the limit of %d bytes of node '%s'",
             id, SMALL + 1, SMALL, stage_node_address(a));
    fails_quickly(&f, STAGE_ETOOBIG, want);
    assert_int_equal(stage_node_spawn_at(b, stage_node_address(a), "Sink",
                                         p.data, p.len, &f),
                     0);
    snprintf(want, sizeof want,
             "cannot spawn 'Sink' on node '%s': its arguments are %d bytes, "
             "over the limit of %d bytes",
             stage_node_address(a), SMALL + 1, SMALL);
    fails_quickly(&f, STAGE_ETOOBIG, want);

    /* a's address as "localhost:PORT" names a (the limit applies there);
    ** a host name names no node */
    char local[STAGE_ADDR_MAX];
    snprintf(local, sizeof local, "localhost%s",
             strrchr(stage_node_address(a), ':'));
    assert_int_equal(stage_node_spawn_at(b, local, "Sink", p.data, p.len, &f),
                     0);
    fails_quickly(&f, STAGE_ETOOBIG, want);
    assert_int_equal(
        stage_node_spawn_at(b, "example.com:7400", "Sink", p.data, p.len, &f),
        STAGE_EINVAL);

    /* past b's own limit: refused by the send itself */
    str_args(&p, LARGE);
    assert_int_equal(stage_node_send(b, &sink, "take", p.data, p.len, &f),
                     STAGE_ETOOBIG);
    assert_int_equal(stage_node_spawn_at(b, stage_node_address(a), "Sink",
                                         p.data, p.len, &f),
                     STAGE_ETOOBIG);

    /* a reply past a's limit: a answers TooLarge instead of the value */
    f = cu_call(b, &sink, "blob", SMALL - 2, 0);
    snprintf(want, sizeof want, "the reply of actor '%s' is too large", id);
    fails_quickly(&f, STAGE_ETOOBIG, want);
    f = cu_call(b, &sink, "blob", SMALL - 3, 0);
    stage_result_t res;
    quick(f, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.len, SMALL);
    stage_future_release(&f);

    /* nested 3000 deep (a reader takes 64 levels in a frame): the sender
    ** finds it (the receiver would drop the connection) and fails it */
    stage_pack_reset(&p);
    for (int i = 0; i < 3000; i++)
        stage_pack_array(&p, 1);
    stage_pack_nil(&p);
    assert_int_equal(stage_node_send(b, &sink, "take", p.data, p.len, &f), 0);
    snprintf(want, sizeof want,
             "cannot send 'take' to actor '%s': its arguments are not "
             "well-formed msgpack nested at most 62 levels deep",
             id);
    fails_quickly(&f, STAGE_EDECODE, want);
    /* a reply nested 64 deep is a value (stage_reply takes it), but one
    ** more than a REPLY frame holds: a answers MalformedData; 63 goes */
    f = cu_call(b, &sink, "deep", 64, 0);
    snprintf(want, sizeof want,
             "the reply of actor '%s' is not well-formed msgpack nested at "
             "most 63 levels deep",
             id);
    fails_quickly(&f, STAGE_EDECODE, want);
    take_goes(b, &sink, 10, 12); /* deep has returned */
    assert_int_equal(atomic_load(&last_reply_rc), 0);
    f = cu_call(b, &sink, "deep", 63, 0);
    quick(f, &res);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.len, 64);
    stage_future_release(&f);

    take_goes(b, &sink, 10, 12); /* a serves on */
    stage_pack_free(&p);
    stage_node_release(b);
    stage_node_stop(b, 0);
    assert_int_equal(stage_node_wait(b), 0);
    stage_node_destroy(&b);
    stage_node_release(a);
    stage_node_stop(a, 0);
    assert_int_equal(stage_node_wait(a), 0);
    stage_node_destroy(&a);
}

int main(void) {
    alarm(120); /* a hang fails loudly */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_max_message_out_of_range_is_refused),
        cmocka_unit_test(limits_on_one_node_fail_at_once),
        cmocka_unit_test(limits_between_nodes_fail_at_once_where_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
