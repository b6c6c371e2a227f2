/*
** tests/unit/test_capi_place.c: where stage_spawn puts an actor when it
** names no theatre (core/place.c), and the watchdog's report of a theatre
** stuck in one C call (core/node.c).
**
** A Spawner on theatre 0 spawns a burst of Child actors with theatre -1,
** long enough to saturate its theatre, and records the theatre in each
** new id: the burst reaches the idle theatre 1, while a pinned and a
** creatable child and an explicit theatre stay where they were put. A
** Blocker holds theatre 1 in a handler that waits on a condition (a C call
** that cannot be preempted): the log names it, the burst then stays off
** theatre 1, and the log says when the handler returns.
*/
#include <pthread.h>
#include <time.h>

#include "stage/log.h"
#include "test_capi_util.h"

#define BURST 20000 /* C spawns: well past the 2 ms that saturate */

/* ---- the log, captured ---------------------------------------------------
 */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static char log_text[16384];

static void capture(void *ud, int level, const char *message) {
    (void)ud;
    (void)level;
    pthread_mutex_lock(&log_lock);
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "%s\n", message);
    pthread_cond_broadcast(&log_cond);
    pthread_mutex_unlock(&log_lock);
}

/* Wait (WAIT_SECS at most) for a logged line holding both a and b; fail
** the test with the log otherwise. */
static void wait_logged(const char *a, const char *b) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_SECS;
    pthread_mutex_lock(&log_lock);
    for (;;) {
        for (const char *p = log_text; (p = strstr(p, a)); p++) {
            const char *end = strchr(p, '\n');
            const char *q = strstr(p, b);
            if (q && (!end || q < end)) {
                pthread_mutex_unlock(&log_lock);
                return;
            }
        }
        if (pthread_cond_timedwait(&log_cond, &log_lock, &until)) break;
    }
    pthread_mutex_unlock(&log_lock);
    fail_msg("no log line with '%s' and '%s' within %d s; the log:\n%s", a, b,
             WAIT_SECS, log_text);
}

/* The seconds written after "after" in the log's line with a (the watchdog
** says how long a turn has held its theatre). */
static double logged_secs(const char *a, const char *after) {
    pthread_mutex_lock(&log_lock);
    const char *p = strstr(log_text, a), *q = p ? strstr(p, after) : NULL;
    const char *end = p ? strchr(p, '\n') : NULL;
    double secs = q && (!end || q < end) ? strtod(q + strlen(after), NULL) : -1;
    pthread_mutex_unlock(&log_lock);
    return secs;
}

/* ---- the actors ------------------------------------------------------------
 */

/* What the last burst saw, read by the test thread after its reply. */
static int burst_on[2];             /* children per theatre */
static int pinned_on, creatable_on; /* where those went */
static int explicit_on;             /* a Child spawned on theatre 0 */
static int burst_failed;            /* a spawn that returned an error */

static int spawned_where(stage_ctx_t *ctx, const char *type, int theatre) {
    stage_id_t id;
    if (stage_spawn(ctx, type, theatre, NULL, 0, &id)) {
        burst_failed++;
        return -1;
    }
    return id.theatre;
}

static void spawner_burst(stage_ctx_t *ctx, void *state,
                          const stage_msg_t *msg) {
    (void)state;
    burst_on[0] = burst_on[1] = burst_failed = 0;
    for (int i = 0; i < BURST; i++) {
        int t = spawned_where(ctx, "Child", -1);
        if (t == 0 || t == 1) burst_on[t]++;
    }
    /* still saturated: placement is on, and these keep their place */
    pinned_on = spawned_where(ctx, "PinnedChild", -1);
    creatable_on = spawned_where(ctx, "CreatableChild", -1);
    explicit_on = spawned_where(ctx, "Child", 0);
    cu_reply_int(ctx, msg, stage_ctx_theatre(ctx));
}

/* Two children, the way a parent spawns a partner or two: their theatres
** in the reply, as 10 * first + second. */
static void spawner_pair(stage_ctx_t *ctx, void *state,
                         const stage_msg_t *msg) {
    (void)state;
    int a = spawned_where(ctx, "Child", -1);
    int b = spawned_where(ctx, "Child", -1);
    cu_reply_int(ctx, msg, 10 * a + b);
}

static const stage_method_t spawner_methods[] = {
    {"burst", spawner_burst}, {"pair", spawner_pair}, {NULL, NULL}};
static const stage_type_def_t spawner_type = {
    .name = "Spawner", .kind = STAGE_KIND_PINNED, .methods = spawner_methods};

static const stage_method_t no_methods[] = {{NULL, NULL}};
static const stage_type_def_t child_type = {.name = "Child",
                                            .methods = no_methods};
static const stage_type_def_t pinned_child_type = {
    .name = "PinnedChild", .kind = STAGE_KIND_PINNED, .methods = no_methods};
static const stage_type_def_t creatable_child_type = {.name = "CreatableChild",
                                                      .kind =
                                                          STAGE_KIND_CREATABLE,
                                                      .methods = no_methods};

/* The Blocker's handler waits until the test lets it go (a blocking C
** call, as far as the runtime can tell), 60 s at most. */
static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static int let_go;

static void blocker_block(stage_ctx_t *ctx, void *state,
                          const stage_msg_t *msg) {
    (void)state;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&block_lock);
    while (!let_go)
        if (pthread_cond_timedwait(&block_cond, &block_lock, &until)) break;
    int freed = let_go;
    pthread_mutex_unlock(&block_lock);
    cu_reply_int(ctx, msg, freed);
}

static const stage_method_t blocker_methods[] = {{"block", blocker_block},
                                                 {NULL, NULL}};
static const stage_type_def_t blocker_type = {
    .name = "Blocker", .kind = STAGE_KIND_PINNED, .methods = blocker_methods};

static const stage_type_def_t *const all_types[] = {
    &spawner_type,         &child_type,   &pinned_child_type,
    &creatable_child_type, &blocker_type, NULL};

/* Run a burst from spawner (theatre 0) and wait for it to be over. */
static void run_burst(stage_node_t *node, const stage_id_t *spawner) {
    stage_future_t *f = cu_call(node, spawner, "burst", 0, 1);
    assert_int_equal(cu_int(&f), 0);
    assert_int_equal(burst_failed, 0);
    assert_int_equal(burst_on[0] + burst_on[1], BURST);
}

/* ---- tests ---------------------------------------------------------------
 */

static void
place_burst_reaches_idle_theatre_keeps_pinned_and_explicit(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    stage_id_t spawner;
    assert_int_equal(stage_node_spawn(node, "Spawner", 0, NULL, 0, &spawner),
                     0);
    run_burst(node, &spawner);
    /* theatre 1 was idle: the burst went on there once theatre 0 was
    ** saturated, and its start stayed home */
    assert_true(burst_on[1] > 0);
    assert_true(burst_on[0] > 0);
    assert_int_equal(pinned_on, 0);
    assert_int_equal(creatable_on, 0);
    assert_int_equal(explicit_on, 0);
    cu_end(&node);
}

static void place_few_spawns_stay_with_their_spawner(void **state) {
    (void)state;
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    stage_id_t spawner;
    assert_int_equal(stage_node_spawn(node, "Spawner", 0, NULL, 0, &spawner),
                     0);
    /* theatre 1 is idle, but two children stay with their parent */
    stage_future_t *f = cu_call(node, &spawner, "pair", 0, 1);
    assert_int_equal(cu_int(&f), 0);
    /* from outside, theatre -1 is theatre 0, as before */
    stage_id_t a, b;
    assert_int_equal(stage_node_spawn(node, "Child", -1, NULL, 0, &a), 0);
    assert_int_equal(stage_node_spawn(node, "Child", -1, NULL, 0, &b), 0);
    assert_int_equal(a.theatre, 0);
    assert_int_equal(b.theatre, 0);
    cu_end(&node);
}

static void place_stuck_theatre_is_logged_and_skipped(void **state) {
    (void)state;
    log_text[0] = 0;
    let_go = 0;
    stage_set_log(capture, NULL);
    stage_node_t *node = cu_node(2, all_types);
    cu_start(node);
    stage_id_t spawner, blocker;
    assert_int_equal(stage_node_spawn(node, "Spawner", 0, NULL, 0, &spawner),
                     0);
    assert_int_equal(stage_node_spawn(node, "Blocker", 1, NULL, 0, &blocker),
                     0);
    char who[STAGE_ID_TEXT_MAX], quoted[STAGE_ID_TEXT_MAX + 4];
    stage_id_format(&blocker, who, sizeof who);
    snprintf(quoted, sizeof quoted, "'%s'", who);
    stage_future_t *blocked = cu_call(node, &blocker, "block", 0, 1);
    wait_logged("theatre 1 is stuck: actor ", quoted);
    wait_logged("has run one message for", "cannot be preempted");
    /* how long, in seconds: a second, give or take a look */
    double held = logged_secs("theatre 1 is stuck", "has run one message for ");
    assert_true(held >= 1.0 && held < 5.0);
    /* theatre 1 is idle to the eye (nothing queued) but stuck: no spawn
    ** goes there */
    run_burst(node, &spawner);
    assert_int_equal(burst_on[1], 0);
    pthread_mutex_lock(&block_lock);
    let_go = 1;
    pthread_cond_broadcast(&block_cond);
    pthread_mutex_unlock(&block_lock);
    assert_int_equal(cu_int(&blocked), 1);
    wait_logged("theatre 1 runs again: the message of actor ", quoted);
    assert_true(logged_secs("theatre 1 runs again", "returned after ") >= held);
    cu_end(&node);
    stage_set_log(NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            place_burst_reaches_idle_theatre_keeps_pinned_and_explicit),
        cmocka_unit_test(place_few_spawns_stay_with_their_spawner),
        cmocka_unit_test(place_stuck_theatre_is_logged_and_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
