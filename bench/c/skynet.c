/*
** bench/c/skynet.c: skynet. A native actor spawns 10 children, each spawns
** 10, ... down to L leaves (default 1,000,000, a power of 10: so 1,111,111
** actors). Leaf i sends sum(i) to its parent; every parent sends the sum
** of its children to its own parent and stops. The root spreads its ten
** children over the theatres; below that, children live with their parent.
** Checks the total. Prints the time in milliseconds (lower is better).
*/

#include "bench.h"

/* Written by the driver before the first spawn, read by it at the end. */
static double t0;

typedef struct skynet {
    stage_id_t parent;
    int64_t left, total;
} skynet_t;

/* Spawn one Skynet(parent, num, size, spread) on theatre. */
static int spawn_skynet(stage_ctx_t *ctx, int theatre, const stage_id_t *parent,
                        int64_t num, int64_t size, bool spread) {
    stage_pack_t args = STAGE_PACK_INIT;
    stage_pack_array(&args, 4);
    stage_pack_id(&args, parent);
    stage_pack_int(&args, num);
    stage_pack_int(&args, size);
    stage_pack_bool(&args, spread);
    int rc = stage_pack_error(&args);
    if (rc == 0)
        rc = stage_spawn(ctx, "Skynet", theatre, args.data, args.len, NULL);
    stage_pack_free(&args);
    return rc;
}

static void skynet_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    skynet_t *s = state;
    stage_unpack_t u;
    uint32_t argc;
    bool spread = false;
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &s->parent);
    int64_t num = bench_arg_int(&u);
    int64_t size = bench_arg_int(&u);
    stage_unpack_bool(&u, &spread);
    if (size == 1) {
        bench_send_int(ctx, &s->parent, "sum", num);
        stage_stop(ctx);
        return;
    }
    int theatres = stage_node_theatres(stage_ctx_node(ctx));
    int64_t sub = size / 10;
    s->left = 10;
    for (int i = 0; i < 10; i++)
        spawn_skynet(ctx, spread ? i % theatres : -1, stage_self(ctx),
                     num + i * sub, sub, false);
}

static void skynet_sum(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    skynet_t *s = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    s->total += bench_arg_int(&u);
    if (--s->left == 0) {
        bench_send_int(ctx, &s->parent, "sum", s->total);
        stage_stop(ctx);
    }
}

static const stage_method_t skynet_methods[] = {{"sum", skynet_sum},
                                                {NULL, NULL}};

static const stage_type_def_t skynet_def = {.name = "Skynet",
                                            .state_size = sizeof(skynet_t),
                                            .methods = skynet_methods,
                                            .birth = skynet_birth};

typedef struct driver {
    int64_t leaves;
} driver_t;

static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    driver_t *d = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    d->leaves = bench_arg_int(&u);
    t0 = bench_now();
    if (spawn_skynet(ctx, -1, stage_self(ctx), 0, d->leaves, true))
        stage_exit(ctx, 1);
}

/* sum(total): the answer; check it. */
static void driver_sum(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    driver_t *d = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    int64_t total = bench_arg_int(&u);
    double ms = (bench_now() - t0) * 1e3;
    bench_report_sum(ctx, "skynet", total, d->leaves * (d->leaves - 1) / 2, ms);
}

static const stage_method_t driver_methods[] = {{"sum", driver_sum},
                                                {NULL, NULL}};

static const stage_type_def_t driver_def = {.name = "Driver",
                                            .kind = STAGE_KIND_PINNED,
                                            .state_size = sizeof(driver_t),
                                            .methods = driver_methods,
                                            .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&skynet_def, &driver_def, NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, 1000000));
}
