/*
** bench/c/idle_memory.c: memory per idle actor. The driver spawns N native
** actors (default 1,000,000) with no state that do nothing, waits until
** the last has been born (a reply to ping), and divides the growth of the
** process's resident set (RSS, from /proc/self/statm) by N. Ids are not
** kept. Prints bytes per idle actor (lower is better).
*/
#include <stdlib.h>

#include "bench.h"

static void idle_ping(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)ctx;
    (void)state;
    (void)msg;
}

static const stage_method_t idle_methods[] = {{"ping", idle_ping},
                                              {NULL, NULL}};

static const stage_type_def_t idle_def = {.name = "Idle",
                                          .methods = idle_methods};

typedef struct reading {
    int64_t n, before;
} reading_t;

/* The last idle actor answered: every one before it has been born. */
static void on_ready(stage_ctx_t *ctx, void *ud, const stage_result_t *res) {
    (void)ctx;
    reading_t *r = ud;
    if (res->status == 0)
        bench_report("idle_memory",
                     (double)(bench_rss() - r->before) / (double)r->n,
                     "bytes/actor", "lower");
    free(r);
}

static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    reading_t *r = malloc(sizeof *r);
    if (!r) {
        stage_exit(ctx, 1);
        return;
    }
    r->n = bench_arg_int(&u);
    r->before = bench_rss();
    stage_id_t last;
    int rc = 0;
    for (int64_t i = 0; i < r->n && rc == 0; i++)
        rc = stage_spawn(ctx, "Idle", -1, NULL, 0, &last);
    stage_future_t *f = NULL;
    if (rc == 0) rc = stage_send(ctx, &last, "ping", NULL, 0, &f);
    if (rc == 0) rc = stage_future_then(f, on_ready, r);
    stage_future_release(&f);
    if (rc) {
        free(r);
        stage_exit(ctx, 1);
    }
}

static const stage_type_def_t driver_def = {
    .name = "Driver", .kind = STAGE_KIND_PINNED, .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&idle_def, &driver_def, NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, 1000000));
}
