/*
** tests/unit/test_capi_util.h: what the tests of the C API (test_capi_*.c)
** share — nodes with C actor types, calls from the test's thread that wait
** for their answer (10 s at most, then the test fails), a "signal" future
** a callback on a theatre completes so the test thread can wait for it,
** and msgpack helpers. Header-only; each test file includes it once.
** Handlers and callbacks run on theatre threads, where a cmocka assertion
** must not fail (it would jump across threads): they record what they
** see, and the test thread asserts once a future says they are done.
*/
#ifndef TEST_CAPI_UTIL_H
#define TEST_CAPI_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stage/net.h"
#include "stage/stage.h"

#define WAIT_SECS 10 /* an awaited event that has not come by then fails */

/* A node of theatres with the types (NULL-terminated), not started. */
static inline stage_node_t *cu_node(int theatres,
                                    const stage_type_def_t *const *types) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = theatres;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    for (int i = 0; types && types[i]; i++)
        assert_int_equal(stage_type_register(node, types[i]), 0);
    return node;
}

/* Load tests/unit/<name>.lua into node. */
static inline void cu_script(stage_node_t *node, const char *name) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s.lua", STAGE_TEST_DIR, name);
    int rc = stage_node_load_script(node, path, err, sizeof err);
    if (rc) fail_msg("cannot load %s: %s", path, err);
}

/* Start node held (it does not stop at quiescence until cu_end). */
static inline void cu_start(stage_node_t *node) {
    stage_node_hold(node);
    assert_int_equal(stage_node_start(node), 0);
}

/* Release, wait for the node to stop (exit status 0) and destroy it. */
static inline void cu_end(stage_node_t **node) {
    stage_node_release(*node);
    assert_int_equal(stage_node_wait(*node), 0);
    stage_node_destroy(node);
}

/* Wait for f (WAIT_SECS at most); *res stays valid until f is released. */
static inline void cu_wait(stage_future_t *f, stage_result_t *res) {
    int rc = stage_future_wait(f, WAIT_SECS, res);
    if (rc)
        fail_msg("no result within %d s: %s", WAIT_SECS, stage_err_name(rc));
}

/* The status of f once done, and f released. */
static inline int cu_status(stage_future_t **f) {
    stage_result_t res;
    cu_wait(*f, &res);
    stage_future_release(f);
    return res.status;
}

/* The integer f resolves to (failing the test otherwise); f released. */
static inline int64_t cu_int(stage_future_t **f) {
    stage_result_t res;
    cu_wait(*f, &res);
    if (res.status)
        fail_msg("failed: %s: %s", stage_err_name(res.status),
                 res.message ? res.message : "");
    stage_unpack_t u;
    int64_t v;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_int(&u, &v), 0);
    stage_future_release(f);
    return v;
}

/* The string f resolves to, copied into buf; f released. */
static inline const char *cu_str(stage_future_t **f, char *buf, size_t len) {
    stage_result_t res;
    cu_wait(*f, &res);
    if (res.status)
        fail_msg("failed: %s: %s", stage_err_name(res.status),
                 res.message ? res.message : "");
    stage_unpack_t u;
    const char *s;
    size_t n;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_str(&u, &s, &n), 0);
    snprintf(buf, len, "%.*s", (int)n, s);
    stage_future_release(f);
    return buf;
}

/* The id f resolves to; f released. */
static inline void cu_id(stage_future_t **f, stage_id_t *out) {
    stage_result_t res;
    cu_wait(*f, &res);
    int rc = stage_result_id(&res, out);
    if (rc)
        fail_msg("no id: %s: %s", stage_err_name(rc),
                 res.message ? res.message : "");
    stage_future_release(f);
}

/* Send method with one integer (or, with no_arg, no argument) from the
** test's thread; a future of the answer. */
static inline stage_future_t *cu_call(stage_node_t *node, const stage_id_t *to,
                                      const char *method, int64_t arg,
                                      int no_arg) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, no_arg ? 0 : 1);
    if (!no_arg) stage_pack_int(&p, arg);
    stage_future_t *f = NULL;
    assert_int_equal(stage_node_send(node, to, method, p.data, p.len, &f), 0);
    stage_pack_free(&p);
    return f;
}

/* Resolve the promise f with an integer. */
static inline int cu_resolve_int(stage_future_t *f, int64_t v) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, v);
    int rc = stage_future_resolve(f, p.data, p.len);
    stage_pack_free(&p);
    return rc;
}

/* Reply to msg with an integer (on a theatre: no cmocka assertions there,
** they would jump across threads; a failed reply shows in the answer). */
static inline void cu_reply_int(stage_ctx_t *ctx, const stage_msg_t *msg,
                                int64_t v) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, v);
    stage_reply(ctx, msg, p.data, p.len);
    stage_pack_free(&p);
}

/* The first argument of msg as an integer (0 if there is none). */
static inline int64_t cu_arg_int(const stage_msg_t *msg) {
    stage_unpack_t u;
    uint32_t argc;
    int64_t v = 0;
    if (stage_msg_unpack(msg, &u, &argc) || argc < 1 ||
        stage_unpack_int(&u, &v))
        return 0;
    return v;
}

/* The first argument of msg as an id: 0, or -1 if it is not one. */
static inline int cu_arg_id(const stage_msg_t *msg, stage_id_t *out) {
    stage_unpack_t u;
    uint32_t argc;
    if (stage_msg_unpack(msg, &u, &argc) || argc < 1 ||
        stage_unpack_id(&u, out))
        return -1;
    return 0;
}

#endif
