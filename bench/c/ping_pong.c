/*
** bench/c/ping_pong.c: two native actors bounce a ball N round trips
** (default 2,000,000; a round trip is 2 messages): each sends it back to
** the other with one fewer to go; the one that gets 0 reports. Both live
** in theatre 0; built with BENCH_CROSS (bench_ping_pong_cross) they live in
** theatres 0 and 1, so every message crosses between the two theatre
** threads (default 200,000 round trips: crossing is slow and the rate
** settles well before). Prints messages per second (higher is better).
*/
#include "bench.h"

#ifdef BENCH_CROSS
#define NAME "ping_pong_cross"
#define ROUNDS 200000
#define THEATRE_B 1
#else
#define NAME "ping_pong"
#define ROUNDS 2000000
#define THEATRE_B 0
#endif

/* Written by the driver before it sends the first ball, read by the player
** that gets the last: the chain of messages orders the two. */
static double t0;
static int64_t msgs;

typedef struct player {
    stage_id_t other;
} player_t;

static void player_partner(stage_ctx_t *ctx, void *state,
                           const stage_msg_t *msg) {
    (void)ctx;
    player_t *p = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    bench_arg_id(&u, &p->other);
}

static void player_ball(stage_ctx_t *ctx, void *state, const stage_msg_t *msg) {
    player_t *p = state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    int64_t n = bench_arg_int(&u);
    if (n == 0)
        bench_report(NAME, (double)msgs / (bench_now() - t0), "msgs/s",
                     "higher");
    else
        bench_send_int(ctx, &p->other, "ball", n - 1);
}

static const stage_method_t player_methods[] = {
    {"partner", player_partner}, {"ball", player_ball}, {NULL, NULL}};

static const stage_type_def_t player_def = {.name = "Player",
                                            .state_size = sizeof(player_t),
                                            .methods = player_methods};

/* birth(rounds): spawn the two players, introduce them, serve. */
static void driver_birth(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    stage_unpack_t u;
    uint32_t argc;
    stage_msg_unpack(msg, &u, &argc);
    int64_t rounds = bench_arg_int(&u);
    stage_id_t a, b;
    if (stage_spawn(ctx, "Player", 0, NULL, 0, &a) ||
        stage_spawn(ctx, "Player", THEATRE_B, NULL, 0, &b)) {
        stage_exit(ctx, 1);
        return;
    }
    bench_send_id(ctx, &a, "partner", &b);
    bench_send_id(ctx, &b, "partner", &a);
    msgs = 2 * rounds;
    t0 = bench_now();
    bench_send_int(ctx, &a, "ball", msgs);
}

static const stage_type_def_t driver_def = {
    .name = "Driver", .kind = STAGE_KIND_PINNED, .birth = driver_birth};

int main(int argc, char **argv) {
    const stage_type_def_t *types[] = {&player_def, &driver_def, NULL};
    return bench_run(types, "Driver", bench_count(argc, argv, ROUNDS));
}
