/*
** bench/c/image.c: the cost of an actor image (core/image.h) — export
** (departing, checks, encoding), commit and import (decoding, requeueing,
** arrived) of an idle Lua actor, in its own theatre, with a small state
** (10 fields) and a large one (10,000 entries). No move protocol and no
** thread hop: what the image itself costs. Uses Stage's internals (it is
** a measurement of them), so it links the static libraries.
** Usage: bench_image [rounds]. Prints one result line per state.
*/
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "core/actor.h"
#include "core/image.h"
#include "core/theatre.h"

/* Export, commit and import the actor of serial `serial` rounds times on
** the calling theatre; the mean microseconds of each step and the image's
** size into out[0..3). 0, or the first failure's code (printed). */
static int rounds_of(stage__theatre_t *t, uint64_t serial, int64_t rounds,
                     double *out) {
    stage_pack_t img = STAGE_PACK_INIT;
    char err[512];
    double ex = 0, im = 0;
    for (int64_t i = 0; i < rounds; i++) {
        stage__actor_t *a = stage__actor_find(t, serial);
        stage_pack_reset(&img);
        double t0 = bench_now();
        int rc = stage__actor_export(t, a, &img, err, sizeof err);
        if (!rc) stage__actor_export_commit(t, a);
        double t1 = bench_now();
        if (!rc)
            rc = stage__actor_import(t, img.data, img.len, NULL, NULL, NULL,
                                     err, sizeof err);
        double t2 = bench_now();
        if (rc) {
            fprintf(stderr, "bench_image: %s\n", err);
            stage_pack_free(&img);
            return rc;
        }
        ex += t1 - t0;
        im += t2 - t1;
    }
    out[0] = ex / (double)rounds * 1e6;
    out[1] = im / (double)rounds * 1e6;
    out[2] = (double)img.len;
    stage_pack_free(&img);
    return 0;
}

static int64_t rounds;

/* run(small, large): measure both, print, stop the node. */
static void run(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t ids[2];
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &ids[0]);
    bench_arg_id(&u, &ids[1]);
    const char *names[2] = {"image_small", "image_large"};
    int status = 0;
    for (int i = 0; i < 2 && !status; i++) {
        double r[3];
        int64_t n = i ? (rounds + 9) / 10 : rounds;
        if ((status = rounds_of(stage__current(), ids[i].serial, n, r))) break;
        printf("# %s: export+commit %.1f us, import %.1f us, image %.0f "
               "bytes (%lld rounds)\n",
               names[i], r[0], r[1], r[2], (long long)n);
        bench_report(i ? "image_large" : "image", r[0] + r[1], "us", "lower");
    }
    stage_exit(ctx, status ? 1 : 0);
}

static const stage_method_t methods[] = {{"run", run}, {NULL, NULL}};
static const stage_type_def_t driver = {
    .name = "ImageBench", .kind = STAGE_KIND_PINNED, .methods = methods};

/* Spawn type on theatre 0 and wait until its birth has run. */
static void spawn_ready(stage_node_t *node, const char *type, stage_id_t *id) {
    stage_future_t *f;
    stage_result_t res;
    if (stage_node_spawn(node, type, 0, NULL, 0, id) ||
        stage_node_send(node, id, "ready", NULL, 0, &f) ||
        stage_future_wait(f, 10, &res) || res.status) {
        fprintf(stderr, "bench_image: cannot spawn %s\n", type);
        exit(1);
    }
    stage_future_release(&f);
}

int main(int argc, char **argv) {
    rounds = bench_count(argc, argv, 2000);
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    stage_node_t *node;
    char err[512];
    if (stage_node_new(&node, &cfg) || stage_type_register(node, &driver) ||
        stage_node_load_script(node, BENCH_IMAGE_SCRIPT, err, sizeof err)) {
        fprintf(stderr, "bench_image: cannot set the node up: %s\n", err);
        return 1;
    }
    stage_node_hold(node);
    stage_node_start(node);
    stage_id_t small, large, d;
    spawn_ready(node, "Small", &small);
    spawn_ready(node, "Large", &large);
    stage_node_spawn(node, "ImageBench", 0, NULL, 0, &d);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_id(&p, &small);
    stage_pack_id(&p, &large);
    stage_node_send(node, &d, "run", p.data, p.len, NULL);
    stage_pack_free(&p);
    stage_node_release(node);
    int status = stage_node_wait(node);
    stage_node_destroy(&node);
    return status;
}
