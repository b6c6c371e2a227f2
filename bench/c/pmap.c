/*
** bench/c/pmap.c: the parallel map of bench/lua/pmap.lua with native
** actors, placed by nobody: the driver spawns N workers (default 1,000)
** with theatre -1, so placement decides where each runs, sends each a
** chunk of CPU work (the Collatz step counts of 500 consecutive numbers,
** summed) and gathers the N results. The work is compiled C here, as it
** is JIT-compiled code in Erlang: what is left to compare is the runtime
** spreading it over the cores. The total is checked against the same sum
** done in one loop after the clock stops. Prints the time in milliseconds
** (lower is better).
*/
#include <stdio.h>

#include "bench.h"

#define CHUNK 500

/* Written by the driver before the first spawn, read by it at the end. */
static double t0;

/* The sum of the Collatz step counts of from .. to. */
static int64_t steps(int64_t from, int64_t to) {
    int64_t s = 0;
    for (int64_t i = from; i <= to; i++) {
        int64_t n = i, c = 0;
        while (n != 1) {
            n = n % 2 == 0 ? n / 2 : 3 * n + 1;
            c++;
        }
        s += c;
    }
    return s;
}

/* work(driver, from, to): send result(steps) to driver, and stop. */
static void worker_work(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t driver;
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &driver);
    int64_t from = bench_arg_int(&u);
    int64_t to = bench_arg_int(&u);
    bench_send_int(ctx, &driver, "result", steps(from, to));
    stage_stop(ctx);
}

static const stage_method_t worker_methods[] = {{"work", worker_work},
                                                {NULL, NULL}};

static const stage_type_def_t worker_def = {.name = "Worker",
                                            .methods = worker_methods};

typedef struct driver {
    int64_t n, left, total;
} driver_t;

static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    driver_t *d = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    d->n = d->left = bench_arg_int(&u);
    t0 = bench_now();
    for (int64_t i = 0; i < d->n; i++) {
        stage_id_t w;
        stage_pack_t args = STAGE_PACK_INIT;
        stage_pack_array(&args, 3);
        stage_pack_id(&args, stage_self(ctx));
        stage_pack_int(&args, i * CHUNK + 1);
        stage_pack_int(&args, (i + 1) * CHUNK);
        int rc = stage_pack_error(&args);
        if (rc == 0) rc = stage_spawn(ctx, "Worker", -1, NULL, 0, &w);
        if (rc == 0)
            rc = stage_send(ctx, &w, "work", args.data, args.len, NULL);
        stage_pack_free(&args);
        if (rc) {
            fprintf(stderr, "pmap: %s\n", stage_strerror(rc));
            stage_exit(ctx, 1);
            return;
        }
    }
}

/* result(sum): one worker's; after the last, check the total. */
static void driver_result(stage_ctx_t *ctx, void *state,
                          const stage_msg_t *msg) {
    driver_t *d = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    d->total += bench_arg_int(&u);
    if (--d->left) return;
    double ms = (bench_now() - t0) * 1e3;
    bench_report_sum(ctx, "pmap", d->total, steps(1, d->n * CHUNK), ms);
}

static const stage_method_t driver_methods[] = {{"result", driver_result},
                                                {NULL, NULL}};

static const stage_type_def_t driver_def = {.name = "Driver",
                                            .kind = STAGE_KIND_PINNED,
                                            .state_size = sizeof(driver_t),
                                            .methods = driver_methods,
                                            .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&worker_def, &driver_def, NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, 1000));
}
