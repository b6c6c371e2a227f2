/*
** bench/c/bench.c: the helpers of bench.h.
*/
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t bench_count(int argc, char **argv, int64_t dflt) {
    if (argc < 2) return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(argv[1], &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "%s: count '%s' is not a positive integer\n", argv[0],
                argv[1]);
        exit(2);
    }
    return v;
}

void bench_report(const char *bench, double value, const char *unit,
                  const char *better) {
    printf("{\"bench\":\"%s\",\"impl\":\"c\",\"value\":%.1f,"
           "\"unit\":\"%s\",\"better\":\"%s\"}\n",
           bench, value, unit, better);
    fflush(stdout);
}

void bench_report_sum(stage_ctx_t *ctx, const char *bench, int64_t got,
                      int64_t want, double ms) {
    if (got != want) {
        fprintf(stderr, "%s: sum %lld, want %lld\n", bench, (long long)got,
                (long long)want);
        stage_exit(ctx, 1);
        return;
    }
    bench_report(bench, ms, "ms", "lower");
}

int64_t bench_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long long size, resident;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * (int64_t)sysconf(_SC_PAGESIZE) : -1;
}

int bench_send_int(stage_ctx_t *ctx, const stage_id_t *to, const char *method,
                   int64_t v) {
    stage_pack_t args = STAGE_PACK_INIT;
    stage_pack_array(&args, 1);
    stage_pack_int(&args, v);
    int rc = stage_pack_error(&args);
    if (rc == 0) rc = stage_send(ctx, to, method, args.data, args.len, NULL);
    stage_pack_free(&args);
    return rc;
}

int bench_send_id(stage_ctx_t *ctx, const stage_id_t *to, const char *method,
                  const stage_id_t *id) {
    stage_pack_t args = STAGE_PACK_INIT;
    stage_pack_array(&args, 1);
    stage_pack_id(&args, id);
    int rc = stage_pack_error(&args);
    if (rc == 0) rc = stage_send(ctx, to, method, args.data, args.len, NULL);
    stage_pack_free(&args);
    return rc;
}

int64_t bench_arg_int(stage_unpack_t *u) {
    int64_t v;
    if (stage_unpack_int(u, &v) == 0) return v;
    fprintf(stderr, "bench: expected an integer argument\n");
    exit(1);
}

void bench_arg_id(stage_unpack_t *u, stage_id_t *id) {
    if (stage_unpack_id(u, id) == 0) return;
    fprintf(stderr, "bench: expected an actor id argument\n");
    exit(1);
}

int bench_run(const stage_type_def_t *const *types, const char *driver,
              int64_t count) {
    stage_node_t *node = NULL;
    int rc = stage_node_new(&node, NULL);
    for (int i = 0; rc == 0 && types[i]; i++)
        rc = stage_type_register(node, types[i]);
    if (rc) {
        fprintf(stderr, "bench: cannot set up the node: %s\n",
                stage_strerror(rc));
        if (node) stage_node_destroy(&node);
        return 1;
    }
    stage_pack_t args = STAGE_PACK_INIT;
    stage_pack_array(&args, 1);
    stage_pack_int(&args, count);
    rc = stage_pack_error(&args);
    if (rc == 0)
        rc = stage_node_spawn(node, driver, 0, args.data, args.len, NULL);
    stage_pack_free(&args);
    if (rc) {
        fprintf(stderr, "bench: cannot spawn '%s': %s\n", driver,
                stage_strerror(rc));
        stage_node_destroy(&node);
        return 1;
    }
    rc = stage_node_run(node);
    stage_node_destroy(&node);
    return rc;
}
