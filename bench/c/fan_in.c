/*
** bench/c/fan_in.c: 4 native sender actors each send N messages (default
** 1,000,000) into one receiver's mailbox, as fast as they can; the time
** runs until the receiver has taken all 4 N. The senders are spread over
** the theatres (sender i on theatre i mod T), the receiver is on theatre 0.
** Prints messages per second (higher is better).
*/
#include "bench.h"

#define SENDERS 4

/* Written by the driver before the senders start, read by the receiver at
** the end: the messages order the two. */
static double t0;

typedef struct receiver {
    int64_t total, left;
} receiver_t;

static void receiver_birth(stage_ctx_t *ctx, void *state,
                           const stage_msg_t *msg) {
    (void)ctx;
    receiver_t *r = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    r->total = r->left = bench_arg_int(&u);
}

static void receiver_msg(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)ctx;
    (void)msg;
    receiver_t *r = state;
    if (--r->left == 0)
        bench_report("fan_in", (double)r->total / (bench_now() - t0), "msgs/s",
                     "higher");
}

static const stage_method_t receiver_methods[] = {{"msg", receiver_msg},
                                                  {NULL, NULL}};

static const stage_type_def_t receiver_def = {.name = "Receiver",
                                              .state_size = sizeof(receiver_t),
                                              .methods = receiver_methods,
                                              .birth = receiver_birth};

/* flood(receiver, n): send it n messages. */
static void sender_flood(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_id_t receiver;
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &receiver);
    int64_t n = bench_arg_int(&u);
    for (int64_t i = 0; i < n; i++)
        stage_send(ctx, &receiver, "msg", NULL, 0, NULL);
}

static const stage_method_t sender_methods[] = {{"flood", sender_flood},
                                                {NULL, NULL}};

static const stage_type_def_t sender_def = {.name = "Sender",
                                            .methods = sender_methods};

static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    int64_t n = bench_arg_int(&u);
    int theatres = stage_node_theatres(stage_ctx_node(ctx));
    t0 = bench_now();
    stage_pack_t args = STAGE_PACK_INIT;
    stage_id_t receiver, sender;
    stage_pack_array(&args, 1);
    stage_pack_int(&args, SENDERS * n);
    int rc = stage_pack_error(&args) ||
             stage_spawn(ctx, "Receiver", 0, args.data, args.len, &receiver);
    stage_pack_reset(&args);
    stage_pack_array(&args, 2);
    stage_pack_id(&args, &receiver);
    stage_pack_int(&args, n);
    rc = rc || stage_pack_error(&args);
    for (int i = 0; i < SENDERS && rc == 0; i++) {
        rc = stage_spawn(ctx, "Sender", i % theatres, NULL, 0, &sender) ||
             stage_send(ctx, &sender, "flood", args.data, args.len, NULL);
    }
    stage_pack_free(&args);
    if (rc) stage_exit(ctx, 1);
}

static const stage_type_def_t driver_def = {
    .name = "Driver", .kind = STAGE_KIND_PINNED, .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&receiver_def, &sender_def, &driver_def,
                                       NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, 1000000));
}
