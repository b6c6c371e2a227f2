/*
** tests/unit/test_scheduler.c: theatres, actors and futures through the
** public C API — order, fairness, quiescence, failures reaching futures.
*/
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "stage/stage.h"

/* ---- a recorder actor: remembers the integers it is sent, in order ------- */

#define MAX_SEEN 20000

typedef struct recorder {
    int64_t seen[MAX_SEEN];
    int n;
} recorder_t;

/* The state of the last recorder to stop, for the test to inspect: an
** actor's own state goes with it when the node stops. */
static recorder_t last_recorder;

static void rec_death(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    memcpy(&last_recorder, state, sizeof last_recorder);
}

static void rec_put(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    recorder_t *r = state;
    stage_unpack_t u;
    uint32_t argc;
    int64_t v;
    if (stage_msg_unpack(m, &u, &argc) || argc != 1 ||
        stage_unpack_int(&u, &v)) {
        stage_reply_error(ctx, m, STAGE_EINVAL, "put: expects an integer");
        return;
    }
    if (r->n < MAX_SEEN) r->seen[r->n++] = v;
    stage_pack_t out = STAGE_PACK_INIT;
    stage_pack_int(&out, v * 2);
    stage_reply(ctx, m, out.data, out.len);
    stage_pack_free(&out);
}

static void rec_fail(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    stage_reply_error(ctx, m, STAGE_EHANDLER, "asked to fail");
}

static void rec_quit(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_exit(ctx, 7);
}

static const stage_method_t rec_methods[] = {
    {"put", rec_put}, {"fail", rec_fail}, {"quit", rec_quit}, {NULL, NULL}};
static const stage_type_def_t rec_type = {.name = "Recorder",
                                          .state_size = sizeof(recorder_t),
                                          .methods = rec_methods,
                                          .death = rec_death};

static void pack_int_args(stage_pack_t *p, int64_t v) {
    stage_pack_reset(p);
    stage_pack_array(p, 1);
    stage_pack_int(p, v);
}

static stage_node_t *new_node(int theatres) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = theatres;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    assert_int_equal(stage_type_register(node, &rec_type), 0);
    return node;
}

/* A started node of theatres with a Recorder on theatre where, held so it
** does not stop at quiescence; ended releases and destroys it. */
static stage_node_t *started(int theatres, int where, stage_id_t *rec) {
    stage_node_t *node = new_node(theatres);
    assert_int_equal(stage_node_spawn(node, "Recorder", where, NULL, 0, rec),
                     0);
    stage_node_hold(node);
    assert_int_equal(stage_node_start(node), 0);
    return node;
}

static void ended(stage_node_t **node) {
    stage_node_release(*node);
    assert_int_equal(stage_node_wait(*node), 0);
    stage_node_destroy(node);
}

/* ---- tests ------------------------------------------------------------- */

static void
scheduler_messages_from_one_sender_arrive_in_send_order(void **state) {
    (void)state;
    for (int theatres = 1; theatres <= 2; theatres++) {
        stage_node_t *node = new_node(theatres);
        stage_id_t rec;
        assert_int_equal(
            stage_node_spawn(node, "Recorder", theatres - 1, NULL, 0, &rec), 0);
        stage_pack_t p = STAGE_PACK_INIT;
        for (int i = 0; i < 5000; i++) {
            pack_int_args(&p, i);
            assert_int_equal(
                stage_node_send(node, &rec, "put", p.data, p.len, NULL), 0);
        }
        stage_pack_free(&p);
        assert_int_equal(stage_node_run(node), 0); /* quiescence */
        assert_int_equal(last_recorder.n, 5000);
        for (int i = 0; i < 5000; i++)
            assert_int_equal(last_recorder.seen[i], i);
        stage_node_destroy(&node);
        assert_null(node);
    }
}

static void scheduler_reply_completes_the_future(void **state) {
    (void)state;
    stage_id_t rec;
    stage_node_t *node = started(2, 1, &rec);
    stage_pack_t p = STAGE_PACK_INIT;
    pack_int_args(&p, 21);
    stage_future_t *f;
    assert_int_equal(stage_node_send(node, &rec, "put", p.data, p.len, &f), 0);
    stage_result_t res;
    assert_int_equal(stage_future_wait(f, 10, &res), 0);
    assert_int_equal(res.status, 0);
    stage_unpack_t u;
    int64_t v;
    stage_unpack_init(&u, res.data, res.len);
    assert_int_equal(stage_unpack_int(&u, &v), 0);
    assert_int_equal(v, 42);
    stage_future_release(&f);
    assert_null(f);
    stage_pack_free(&p);
    ended(&node);
}

/* The status of f once done (10 s at most), and f released. */
static int wait_status(stage_future_t **f) {
    stage_result_t res;
    assert_int_equal(stage_future_wait(*f, 10, &res), 0);
    int status = res.status;
    if (!status) assert_memory_equal(res.data, "\xc3", 1); /* true */
    stage_future_release(f);
    return status;
}

static void scheduler_stop_order_follows_earlier_messages(void **state) {
    (void)state;
    stage_id_t rec;
    stage_node_t *node = started(2, 1, &rec);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_future_t *f, *last = NULL;
    for (int i = 0; i < 100; i++) {
        pack_int_args(&p, i);
        assert_int_equal(stage_node_send(node, &rec, "put", p.data, p.len,
                                         i == 99 ? &last : NULL),
                         0);
    }
    assert_int_equal(stage_node_stop_actor(node, &rec, &f), 0);
    assert_int_equal(wait_status(&f), 0);
    /* the put sent before the stop was handled (its state is gone now) */
    stage_result_t res;
    assert_int_equal(stage_future_wait(last, 10, &res), 0);
    assert_int_equal(res.status, 0);
    stage_future_release(&last);
    /* stopped: messages and a second stop find no actor */
    assert_int_equal(stage_node_send(node, &rec, "put", p.data, p.len, &f), 0);
    assert_int_equal(wait_status(&f), STAGE_EACTOR_NOT_FOUND);
    assert_int_equal(stage_node_stop_actor(node, &rec, &f), 0);
    assert_int_equal(wait_status(&f), STAGE_EACTOR_NOT_FOUND);
    stage_pack_free(&p);
    ended(&node);
}

static void scheduler_failures_reach_the_future_with_their_type(void **state) {
    (void)state;
    stage_node_t *node = new_node(1);
    stage_id_t rec, ghost;
    assert_int_equal(stage_node_spawn(node, "Recorder", 0, NULL, 0, &rec), 0);
    ghost = rec;
    ghost.serial += 1 << 20; /* never spawned */
    stage_node_hold(node);
    assert_int_equal(stage_node_start(node), 0);
    stage_future_t *f1, *f2, *f3;
    assert_int_equal(stage_node_send(node, &rec, "fail", NULL, 0, &f1), 0);
    assert_int_equal(stage_node_send(node, &rec, "nosuch", NULL, 0, &f2), 0);
    assert_int_equal(stage_node_send(node, &ghost, "put", NULL, 0, &f3), 0);
    stage_result_t r;
    assert_int_equal(stage_future_wait(f1, 10, &r), 0);
    assert_int_equal(r.status, STAGE_EHANDLER);
    assert_non_null(strstr(r.message, "asked to fail"));
    assert_int_equal(stage_future_wait(f2, 10, &r), 0);
    assert_int_equal(r.status, STAGE_ENO_METHOD);
    assert_non_null(strstr(r.message, "nosuch"));
    assert_int_equal(stage_future_wait(f3, 10, &r), 0);
    assert_int_equal(r.status, STAGE_EACTOR_NOT_FOUND);
    assert_string_equal(stage_err_name(r.status), "ActorNotFound");
    stage_future_release(&f1);
    stage_future_release(&f2);
    stage_future_release(&f3);
    /* the node keeps serving after all of that */
    stage_pack_t p = STAGE_PACK_INIT;
    pack_int_args(&p, 5);
    stage_future_t *f4;
    assert_int_equal(stage_node_send(node, &rec, "put", p.data, p.len, &f4), 0);
    assert_int_equal(stage_future_wait(f4, 10, &r), 0);
    assert_int_equal(r.status, 0);
    stage_future_release(&f4);
    stage_pack_free(&p);
    stage_node_release(node);
    stage_node_wait(node);
    stage_node_destroy(&node);
}

static void scheduler_bad_arguments_are_refused_at_once(void **state) {
    (void)state;
    stage_node_t *node = new_node(1);
    stage_id_t rec;
    assert_int_equal(stage_node_spawn(node, "Nope", 0, NULL, 0, &rec),
                     STAGE_ETYPE_NOT_FOUND);
    assert_int_equal(stage_node_spawn(node, "Recorder", 5, NULL, 0, &rec),
                     STAGE_EINVAL);
    assert_int_equal(stage_node_spawn(node, "Recorder", 0, NULL, 0, &rec), 0);
    const char not_array[] = {(char)0xc1}; /* a byte msgpack never uses */
    assert_int_equal(
        stage_node_send(node, &rec, "put", not_array, sizeof not_array, NULL),
        STAGE_EINVAL);
    assert_int_equal(stage_node_send(node, &rec, "", NULL, 0, NULL),
                     STAGE_EINVAL);
    stage_id_t remote = rec;
    strcpy(remote.node, "10.0.0.9:7400");
    assert_int_equal(stage_node_send(node, &remote, "put", NULL, 0, NULL),
                     STAGE_EUNREACHABLE);
    stage_type_def_t dup = rec_type;
    assert_int_equal(stage_type_register(node, &dup), STAGE_EEXISTS);
    dup.name = "9bad name";
    assert_int_equal(stage_type_register(node, &dup), STAGE_EINVAL);
    assert_int_equal(stage_node_run(node), 0);
    stage_node_destroy(&node);
}

static void scheduler_malformed_arguments_fail_the_future(void **state) {
    (void)state;
    stage_id_t rec;
    stage_node_t *node = started(1, 0, &rec);
    const char truncated[] = {(char)0x93, 0x01}; /* array of 3, 1 element */
    stage_future_t *f;
    assert_int_equal(
        stage_node_send(node, &rec, "put", truncated, sizeof truncated, &f), 0);
    stage_result_t r;
    assert_int_equal(stage_future_wait(f, 10, &r), 0);
    assert_int_equal(r.status, STAGE_EINVAL); /* the handler's answer */
    stage_future_release(&f);
    stage_node_release(node);
    stage_node_wait(node);
    stage_node_destroy(&node);
}

static void scheduler_exit_code_stops_the_node(void **state) {
    (void)state;
    stage_node_t *node = new_node(2);
    stage_id_t rec;
    assert_int_equal(stage_node_spawn(node, "Recorder", 1, NULL, 0, &rec), 0);
    assert_int_equal(stage_node_send(node, &rec, "quit", NULL, 0, NULL), 0);
    assert_int_equal(stage_node_run(node), 7);
    stage_node_destroy(&node);
}

/* An exit status a process cannot have is not cut to its low byte (300
** would exit 44): it is logged, and the node's status is 1. */
static int exit_logged;
static void note_exit_log(void *ud, int level, const char *text) {
    (void)ud;
    if (level == STAGE_LOG_ERROR && strstr(text, "exit status 300"))
        exit_logged++;
}

static void scheduler_exit_code_out_of_range_is_refused(void **state) {
    (void)state;
    stage_set_log(note_exit_log, NULL);
    stage_node_t *node = new_node(1);
    stage_node_stop(node, 300);
    assert_int_equal(stage_node_run(node), 1);
    stage_node_destroy(&node);
    node = new_node(1);
    stage_node_stop(node, 255);
    assert_int_equal(stage_node_run(node), 255);
    stage_node_destroy(&node);
    stage_set_log(NULL, NULL);
    assert_int_equal(exit_logged, 1);
}

/* An actor that keeps messaging itself and exits at its 50th message. */
static int looped;

static void loop_again(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    stage_send(ctx, stage_self(ctx), "again", NULL, 0, NULL);
    if (++looped == 50) stage_exit(ctx, 9);
}

static const stage_method_t loop_methods[] = {{"again", loop_again},
                                              {NULL, NULL}};
static const stage_type_def_t loop_type = {.name = "Loop",
                                           .methods = loop_methods};

static void scheduler_exit_runs_no_further_handler(void **state) {
    (void)state;
    stage_node_t *node = new_node(1);
    assert_int_equal(stage_type_register(node, &loop_type), 0);
    stage_id_t loop;
    assert_int_equal(stage_node_spawn(node, "Loop", 0, NULL, 0, &loop), 0);
    assert_int_equal(stage_node_send(node, &loop, "again", NULL, 0, NULL), 0);
    assert_int_equal(stage_node_run(node), 9);
    assert_int_equal(looped, 50); /* not the rest of its 100-message turn */
    stage_node_destroy(&node);
}

/* ---- fairness: a flood to one actor does not starve another ------------ */

static int flood_handled;     /* messages the flooder has handled */
static int probe_ran_at = -1; /* flood_handled when the probe ran */

static void flood_again(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)state;
    (void)m;
    if (++flood_handled < 100000)
        stage_send(ctx, stage_self(ctx), "again", NULL, 0, NULL);
}

static void probe_ping(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)ctx;
    (void)state;
    (void)m;
    probe_ran_at = flood_handled;
}

static const stage_method_t flood_methods[] = {
    {"again", flood_again}, {"ping", probe_ping}, {NULL, NULL}};
static const stage_type_def_t flood_type = {.name = "Flood",
                                            .methods = flood_methods};

static void scheduler_turns_are_bounded_so_others_run(void **state) {
    (void)state;
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    assert_int_equal(stage_type_register(node, &flood_type), 0);
    stage_id_t flooder, probe;
    assert_int_equal(stage_node_spawn(node, "Flood", 0, NULL, 0, &flooder), 0);
    assert_int_equal(stage_node_spawn(node, "Flood", 0, NULL, 0, &probe), 0);
    assert_int_equal(stage_node_send(node, &flooder, "again", NULL, 0, NULL),
                     0);
    assert_int_equal(stage_node_send(node, &probe, "ping", NULL, 0, NULL), 0);
    assert_int_equal(stage_node_run(node), 0);
    assert_int_equal(flood_handled, 100000);
    /* the probe ran within a few turns of the flooder, not after it */
    assert_in_range(probe_ran_at, 0, 1000);
    stage_node_destroy(&node);
}

/* ---- deaths at the node's stop ----------------------------------------- */

static pthread_mutex_t deaths_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t deaths[64]; /* the names of the actors whose death ran */
static int ndeaths;

static void mortal_birth(stage_ctx_t *ctx, void *state, const stage_msg_t *m) {
    (void)ctx;
    stage_unpack_t u;
    uint32_t argc;
    assert_int_equal(stage_msg_unpack(m, &u, &argc), 0);
    assert_int_equal(argc, 1);
    assert_int_equal(stage_unpack_int(&u, state), 0);
}

static void mortal_death(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    pthread_mutex_lock(&deaths_lock);
    if (ndeaths < 64) deaths[ndeaths++] = *(int64_t *)state;
    pthread_mutex_unlock(&deaths_lock);
}

static const stage_type_def_t mortal_type = {.name = "Mortal",
                                             .state_size = sizeof(int64_t),
                                             .birth = mortal_birth,
                                             .death = mortal_death};

static sem_t stuck_release; /* posted by the test to end the stuck death */

static void stuck_death(stage_ctx_t *ctx, void *state) {
    (void)ctx;
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30; /* a bound for the test process, not for the node */
    while (sem_timedwait(&stuck_release, &ts) && errno == EINTR)
        ;
}

static const stage_type_def_t stuck_type = {.name = "Stuck",
                                            .death = stuck_death};

/* A node of theatres with Mortals named first.. on theatre 0 and
** first+10.. on theatre 1 (n each, spawned in that order). */
static stage_node_t *mortals(const stage_node_config_t *cfg, int n) {
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, cfg), 0);
    assert_int_equal(stage_type_register(node, &mortal_type), 0);
    assert_int_equal(stage_type_register(node, &stuck_type), 0);
    stage_pack_t p = STAGE_PACK_INIT;
    for (int th = 0; th < 2; th++)
        for (int i = 0; i < n; i++) {
            pack_int_args(&p, th * 10 + i);
            assert_int_equal(
                stage_node_spawn(node, "Mortal", th, p.data, p.len, NULL), 0);
        }
    stage_pack_free(&p);
    ndeaths = 0;
    return node;
}

/* Where name stands among the recorded deaths (-1: not there). */
static int death_rank(int64_t name) {
    for (int i = 0; i < ndeaths; i++)
        if (deaths[i] == name) return i;
    return -1;
}

static void scheduler_deaths_run_at_the_stop_youngest_first(void **state) {
    (void)state;
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    stage_node_t *node = mortals(&cfg, 5);
    assert_int_equal(stage_node_run(node), 0); /* quiescence */
    assert_int_equal(ndeaths, 10);             /* each once */
    for (int th = 0; th < 2; th++)
        for (int i = 0; i < 4; i++) /* the reverse of the spawn order */
            assert_true(death_rank(th * 10 + i) > death_rank(th * 10 + i + 1));
    stage_node_destroy(&node);
    assert_int_equal(ndeaths, 10); /* none again at teardown */
}

static double now_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void scheduler_a_death_that_blocks_is_left_after_the_grace(void **st) {
    (void)st;
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    cfg.stop_grace_secs = 0.2;
    assert_int_equal(sem_init(&stuck_release, 0, 0), 0);
    stage_node_t *node = mortals(&cfg, 3);
    assert_int_equal(stage_node_spawn(node, "Stuck", 1, NULL, 0, NULL), 0);
    double t0 = now_secs();
    assert_int_equal(stage_node_run(node), 0);
    double took = now_secs() - t0;
    /* the grace and the one-second margin, not the 30 s of the death */
    assert_true(took >= 1.2 && took < 5);
    pthread_mutex_lock(&deaths_lock);
    for (int i = 0; i < 3; i++) /* theatre 0's deaths all ran */
        assert_true(death_rank(i) >= 0);
    pthread_mutex_unlock(&deaths_lock);
    stage_node_destroy(&node); /* leaves the node: a theatre still runs */
    assert_null(node);
    sem_post(&stuck_release);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            scheduler_messages_from_one_sender_arrive_in_send_order),
        cmocka_unit_test(scheduler_reply_completes_the_future),
        cmocka_unit_test(scheduler_stop_order_follows_earlier_messages),
        cmocka_unit_test(scheduler_failures_reach_the_future_with_their_type),
        cmocka_unit_test(scheduler_bad_arguments_are_refused_at_once),
        cmocka_unit_test(scheduler_malformed_arguments_fail_the_future),
        cmocka_unit_test(scheduler_exit_code_stops_the_node),
        cmocka_unit_test(scheduler_exit_code_out_of_range_is_refused),
        cmocka_unit_test(scheduler_exit_runs_no_further_handler),
        cmocka_unit_test(scheduler_turns_are_bounded_so_others_run),
        cmocka_unit_test(scheduler_deaths_run_at_the_stop_youngest_first),
        cmocka_unit_test(scheduler_a_death_that_blocks_is_left_after_the_grace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
