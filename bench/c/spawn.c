/*
** bench/c/spawn.c: spawn cost. The driver spawns N native actors (default
** 1,000,000) in its theatre; each one's birth sends done() to a collector
** and stops the actor. The time runs until the collector has every done(),
** so a spawn here is: create, run birth, send one message, stop.
** Prints ns per spawned actor (lower is better).
*/
#include "bench.h"

/* Written by the driver before it spawns, read by the collector at the
** end: the spawns and their messages order the two. */
static double t0;

typedef struct collector {
    int64_t n, left;
} collector_t;

static void collector_birth(stage_ctx_t *ctx, void *state,
                            const stage_msg_t *msg) {
    (void)ctx;
    collector_t *c = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    c->n = c->left = bench_arg_int(&u);
}

static void collector_done(stage_ctx_t *ctx, void *state,
                           const stage_msg_t *msg) {
    (void)ctx;
    (void)msg;
    collector_t *c = state;
    if (--c->left == 0)
        bench_report("spawn", (bench_now() - t0) * 1e9 / (double)c->n,
                     "ns/actor", "lower");
}

static const stage_method_t collector_methods[] = {{"done", collector_done},
                                                   {NULL, NULL}};

static const stage_type_def_t collector_def = {.name = "Collector",
                                               .state_size =
                                                   sizeof(collector_t),
                                               .methods = collector_methods,
                                               .birth = collector_birth};

/* birth(collector): tell it, and stop. */
static void worker_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t collector;
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &collector);
    stage_send(ctx, &collector, "done", NULL, 0, NULL);
    stage_stop(ctx);
}

static const stage_type_def_t worker_def = {.name = "Worker",
                                            .birth = worker_birth};

static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    int64_t n = bench_arg_int(&u);
    t0 = bench_now();
    stage_pack_t args = STAGE_PACK_INIT;
    stage_id_t collector;
    stage_pack_array(&args, 1);
    stage_pack_int(&args, n);
    int rc = stage_pack_error(&args) ||
             stage_spawn(ctx, "Collector", -1, args.data, args.len, &collector);
    stage_pack_reset(&args);
    stage_pack_array(&args, 1);
    stage_pack_id(&args, &collector);
    rc = rc || stage_pack_error(&args);
    for (int64_t i = 0; i < n && rc == 0; i++)
        rc = stage_spawn(ctx, "Worker", -1, args.data, args.len, NULL);
    stage_pack_free(&args);
    if (rc) stage_exit(ctx, 1);
}

static const stage_type_def_t driver_def = {
    .name = "Driver", .kind = STAGE_KIND_PINNED, .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&collector_def, &worker_def, &driver_def,
                                       NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, 1000000));
}
