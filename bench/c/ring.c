/*
** bench/c/ring.c: thread ring. 503 native actors in a ring pass a token
** (an integer) that each decrements; the one that gets 0 reports. H hops
** (default 10,000,000). Setting up the ring is not timed.
** Prints hops per second (higher is better).
*/
#include <stdlib.h>

#include "bench.h"

#define SIZE 503

/* Written by the driver before it sends the token, read by the node that
** gets 0: the chain of messages orders the two. */
static double t0;
static int64_t hops;

typedef struct node {
    stage_id_t next;
} node_t;

static void node_link(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)ctx;
    node_t *nd = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &nd->next);
}

static void node_token(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    node_t *nd = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    int64_t n = bench_arg_int(&u);
    if (n == 0)
        bench_report("ring", (double)hops / (bench_now() - t0), "hops/s",
                     "higher");
    else
        bench_send_int(ctx, &nd->next, "token", n - 1);
}

static const stage_method_t node_methods[] = {
    {"link", node_link}, {"token", node_token}, {NULL, NULL}};

static const stage_type_def_t node_def = {
    .name = "Node", .state_size = sizeof(node_t), .methods = node_methods};

/* birth(hops): spawn the ring, link it, send the token. The links reach
** every node before the token can: they are queued first, on this
** theatre. */
static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    hops = bench_arg_int(&u);
    stage_id_t *ids = malloc(SIZE * sizeof *ids);
    if (!ids) {
        stage_exit(ctx, 1);
        return;
    }
    for (int i = 0; i < SIZE; i++) {
        if (stage_spawn(ctx, "Node", -1, NULL, 0, &ids[i])) {
            free(ids);
            stage_exit(ctx, 1);
            return;
        }
    }
    for (int i = 0; i < SIZE; i++)
        bench_send_id(ctx, &ids[i], "link", &ids[(i + 1) % SIZE]);
    t0 = bench_now();
    bench_send_int(ctx, &ids[0], "token", hops);
    free(ids);
}

static const stage_type_def_t driver_def = {
    .name = "Driver", .kind = STAGE_KIND_PINNED, .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&node_def, &driver_def, NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, 10000000));
}
