/*
** tests/unit/test_counter_type.h: a C actor type whose state can travel,
** shared by the tests of images and of moves (test_image.c,
** test_migrate_local.c). State {count, arrivals, departs, refuse}:
** add(x) answers the running count; info() answers [count, arrivals,
** departs, theatre]; refuse(flag) makes departing refuse; where() answers
** its theatre. encode/decode carry count, arrivals and departs; departing
** counts departures (or refuses), arrived counts arrivals. A Fickle's
** decode (c_decode_refuse) refuses every state. counter_info reads what
** info() answers (test_migrate_local.c, test_steal.c, test_capi_net.c).
*/
#ifndef TEST_COUNTER_TYPE_H
#define TEST_COUNTER_TYPE_H

#include "test_capi_util.h"

typedef struct counter {
    int64_t count, arrivals, departs, refuse;
} counter_t;

static void c_add(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    counter_t *c = state;
    c->count += cu_arg_int(msg);
    cu_reply_int(ctx, msg, c->count);
}

/* [count, arrivals, departs, theatre] */
static void c_info(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    counter_t *c = state;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 4);
    stage_pack_int(&p, c->count);
    stage_pack_int(&p, c->arrivals);
    stage_pack_int(&p, c->departs);
    stage_pack_int(&p, stage_ctx_theatre(ctx));
    stage_reply(ctx, msg, p.data, p.len);
    stage_pack_free(&p);
}

static void c_refuse(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    ((counter_t *)state)->refuse = cu_arg_int(msg);
    cu_reply_int(ctx, msg, 1);
}

static void c_where(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    cu_reply_int(ctx, msg, stage_ctx_theatre(ctx));
}

static int c_encode(const void *state, stage_pack_t *out) {
    const counter_t *c = state;
    stage_pack_array(out, 3);
    stage_pack_int(out, c->count);
    stage_pack_int(out, c->arrivals);
    stage_pack_int(out, c->departs);
    return 0;
}

static int c_decode(void *state, const char *data, size_t len) {
    counter_t *c = state;
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, data, len);
    if (stage_unpack_array(&u, &n) || n != 3 ||
        stage_unpack_int(&u, &c->count) || stage_unpack_int(&u, &c->arrivals) ||
        stage_unpack_int(&u, &c->departs))
        return STAGE_EDECODE;
    return 0;
}

static int c_departing(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    counter_t *c = state;
    if (c->refuse) return STAGE_EBUSY;
    c->departs++;
    return 0;
}

static void c_arrived(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    ((counter_t *)state)->arrivals++;
}

/* A Fickle: a Counter whose decode refuses every state. */
static inline int c_decode_refuse(void *state, const char *data, size_t len) {
    (void)state;
    (void)data;
    (void)len;
    return STAGE_EINVAL;
}

/* The [count, arrivals, departs, theatre] that the info() call *f
** answers, into v; *f released. */
static inline void counter_info(stage_future_t **f, int64_t v[4]) {
    stage_result_t res;
    cu_wait(*f, &res);
    assert_int_equal(res.status, 0);
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_array(&u, &n), 0);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(stage_unpack_int(&u, &v[i]), 0);
    stage_future_release(f);
}

#endif
