/*
** examples/c/counter.c: an actor written in C, messaged from C and from Lua.
**
** Registers a native actor type, Counter (birth(start), add(n) -> total,
** get() -> total), starts a node with the Lua script given on the command
** line, then, from the program's main thread:
**   1. spawns a Counter and sends it add(5) and a bad add("five"), waiting
**      on each future (stage_node_send + stage_future_wait);
**   2. spawns the script's Lua actor Tally with the Counter's id and asks it
**      to run: Tally sends add(1..n) to the C actor from Lua and answers
**      with the total, which the C side checks;
**   3. asks the Counter to tell a Lua Watcher its total: the C handler
**      sends to the Lua actor and prints its answer from a future
**      callback (stage_future_then), before the node stops.
** Usage: counter examples/c/counter.lua
** Threads: main() on the program's thread; the handlers on theatre threads.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stage/stage.h"

typedef struct counter {
    int64_t total;
} counter_t;

/* Reads the one integer argument of msg into *n: 0 or STAGE_EINVAL. */
static int one_int(const stage_msg_t *msg, int64_t *n) {
    stage_unpack_t u;
    uint32_t argc;
    if (stage_msg_unpack(msg, &u, &argc) || argc != 1) return STAGE_EINVAL;
    return stage_unpack_int(&u, n) ? STAGE_EINVAL : 0;
}

/* Replies to msg with one integer. */
static void reply_int(stage_ctx_t *ctx, const stage_msg_t *msg, int64_t v) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, v);
    if (stage_pack_error(&p))
        stage_reply_error(ctx, msg, STAGE_ENOMEM, "cannot encode the reply");
    else
        stage_reply(ctx, msg, p.data, p.len);
    stage_pack_free(&p);
}

/* birth(start): the counter starts at start. */
static void counter_birth(stage_ctx_t *ctx, void *state,
                          const stage_msg_t *msg) {
    (void)ctx;
    counter_t *c = state;
    if (one_int(msg, &c->total)) c->total = 0;
}

/* add(n): adds n, answers the new total; a non-integer fails the future. */
static void counter_add(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    counter_t *c = state;
    int64_t n;
    if (one_int(msg, &n)) {
        stage_reply_error(ctx, msg, STAGE_EINVAL, "add needs one integer");
        return;
    }
    c->total += n;
    reply_int(ctx, msg, c->total);
}

/* get(): answers the total. */
static void counter_get(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    reply_int(ctx, msg, ((counter_t *)state)->total);
}

/* The answer of the watcher to tell(): printed in a turn of the Counter
** (ctx is NULL only if the Counter stopped first). */
static void told(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    (void)ctx;
    (void)ud;
    stage_unpack_t u;
    const char *s;
    size_t len;
    stage_unpack_init(&u, res->data, res->len);
    if (res->status == 0 && stage_unpack_str(&u, &s, &len) == 0)
        printf("C: the Lua watcher answered \"%.*s\"\n", (int)len, s);
    else
        printf("C: the Lua watcher failed: %s\n", stage_err_name(res->status));
    fflush(stdout);
}

/* tell(watcher): sends watcher:changed(total), a C actor messaging a Lua
** one; the answer arrives in told(). Replies nil at once. */
static void counter_tell(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t watcher;
    if (stage_msg_unpack(msg, &u, &argc) || argc != 1 ||
        stage_unpack_id(&u, &watcher)) {
        stage_reply_error(ctx, msg, STAGE_EINVAL, "tell needs an actor");
        return;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_future_t *f = NULL;
    stage_pack_array(&p, 1);
    stage_pack_int(&p, ((counter_t *)state)->total);
    int rc = stage_pack_error(&p);
    if (rc == 0) rc = stage_send(ctx, &watcher, "changed", p.data, p.len, &f);
    if (rc == 0) rc = stage_future_then(f, told, NULL);
    stage_future_release(&f); /* the callback needs none */
    stage_pack_free(&p);
    if (rc) stage_reply_error(ctx, msg, rc, "cannot tell the watcher");
}

static const stage_method_t counter_methods[] = {{"add", counter_add},
                                                 {"get", counter_get},
                                                 {"tell", counter_tell},
                                                 {NULL, NULL}};

static const stage_type_def_t counter_type = {
    .name = "Counter",
    .kind = STAGE_KIND_MOBILE,
    .state_size = sizeof(counter_t),
    .methods = counter_methods,
    .birth = counter_birth,
};

/* Sends method(args) to 'to' from this thread and waits for the reply.
** Returns the future's status; *v gets an integer reply. */
static int call(stage_node_t *node, const stage_id_t *to, const char *method,
                const stage_pack_t *args, int64_t *v) {
    stage_future_t *f = NULL;
    stage_result_t res;
    int rc = stage_node_send(node, to, method, args->data, args->len, &f);
    if (rc) return rc;
    rc = stage_future_wait(f, 10, &res);
    if (rc == 0) rc = res.status;
    if (rc == 0) {
        stage_unpack_t u;
        stage_unpack_init(&u, res.data, res.len);
        if (stage_unpack_int(&u, v)) rc = STAGE_EDECODE;
    }
    stage_future_release(&f);
    return rc;
}

/* Runs both parts on a started node; 0 when every answer was right. */
static int run(stage_node_t *node) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t counter, tally, watcher;
    int64_t v = 0;
    int bad = 0;

    stage_pack_array(&p, 1);
    stage_pack_int(&p, 10);
    if (stage_node_spawn(node, "Counter", 1, p.data, p.len, &counter)) return 1;
    printf("C: spawned a Counter at 10\n");

    stage_pack_reset(&p);
    stage_pack_array(&p, 1);
    stage_pack_int(&p, 5);
    int rc = call(node, &counter, "add", &p, &v);
    printf("C: add(5) -> %" PRId64 "\n", v);
    bad |= rc != 0 || v != 15;

    stage_pack_reset(&p);
    stage_pack_array(&p, 1);
    stage_pack_cstr(&p, "five");
    rc = call(node, &counter, "add", &p, &v);
    printf("C: add(\"five\") failed: %s\n", stage_err_name(rc));
    bad |= rc != STAGE_EINVAL;

    stage_pack_reset(&p);
    stage_pack_array(&p, 1);
    stage_pack_id(&p, &counter);
    if (stage_node_spawn(node, "Tally", 0, p.data, p.len, &tally)) return 1;
    stage_pack_reset(&p);
    stage_pack_array(&p, 1);
    stage_pack_int(&p, 4);
    fflush(stdout); /* the Lua actor prints through the same stdout */
    rc = call(node, &tally, "run", &p, &v);
    printf("C: the Lua actor answered %" PRId64 "\n", v);
    bad |= rc != 0 || v != 25;

    stage_pack_reset(&p);
    stage_pack_array(&p, 0);
    rc = call(node, &counter, "get", &p, &v);
    printf("C: get() -> %" PRId64 "\n", v);
    bad |= rc != 0 || v != 25;

    /* no waiting here: the node stops once told() has run */
    if (stage_node_spawn(node, "Watcher", 0, NULL, 0, &watcher)) return 1;
    stage_pack_reset(&p);
    stage_pack_array(&p, 1);
    stage_pack_id(&p, &watcher);
    fflush(stdout);
    bad |= stage_node_send(node, &counter, "tell", p.data, p.len, NULL) != 0;
    stage_pack_free(&p);
    return bad;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: counter SCRIPT.lua\n");
        return 2;
    }
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    stage_node_t *node = NULL;
    char err[256];
    if (stage_node_new(&node, &cfg) ||
        stage_type_register(node, &counter_type)) {
        fprintf(stderr, "counter: cannot create the node\n");
        return 1;
    }
    if (stage_node_load_script(node, argv[1], err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        stage_node_destroy(&node);
        return 1;
    }
    stage_node_hold(node); /* stay up while this thread sends */
    int bad = stage_node_start(node) ? 1 : run(node);
    stage_node_release(node);
    int status = stage_node_wait(node);
    printf("C: node exited with status %d\n", status);
    stage_node_destroy(&node);
    return bad || status ? 1 : 0;
}
