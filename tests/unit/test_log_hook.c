/*
** tests/unit/test_log_hook.c: the log hook (stage_set_log) — a program gets
** Stage's lines, with their levels, instead of stderr, and stops getting
** them once it takes its function back.
*/
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "stage/stage.h"
#include "util/log.h"

/* ---- a recording log function --------------------------------------------
 */

#define MAX_LINES 64

typedef struct rec {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    int levels[MAX_LINES];
    char lines[MAX_LINES][512];
    atomic_int calls;
} rec_t;

static void rec_init(rec_t *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void rec_log(void *ud, int level, const char *message) {
    rec_t *r = ud;
    atomic_fetch_add(&r->calls, 1);
    pthread_mutex_lock(&r->lock);
    if (r->n < MAX_LINES) {
        r->levels[r->n] = level;
        snprintf(r->lines[r->n], sizeof r->lines[0], "%s", message);
        r->n++;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Wait until r has a line containing needle; its index, or fail after 10 s. */
static int rec_wait_for(rec_t *r, const char *needle) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        for (int i = 0; i < r->n; i++) {
            if (strstr(r->lines[i], needle)) {
                pthread_mutex_unlock(&r->lock);
                return i;
            }
        }
        if (pthread_cond_timedwait(&r->cond, &r->lock, &until)) break;
    }
    pthread_mutex_unlock(&r->lock);
    fail_msg("no log line with '%s' within 10 s", needle);
    return -1;
}

/* What fd 2 receives while f(arg) runs, in buf. */
static void capture_stderr(void (*f)(void *), void *arg, char *buf,
                           size_t len) {
    char path[] = "/tmp/stage_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(2);
    dup2(fd, 2);
    f(arg);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, len - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
}

/* ---- tests ----------------------------------------------------------------
 */

static void log_hook_gets_level_and_text_without_prefix(void **state) {
    (void)state;
    rec_t r;
    rec_init(&r);
    stage_set_log(rec_log, &r);
    stage__log(STAGE_LOG_WARN, "cannot reach '%s': %d tries", "10.0.0.2", 3);
    stage__log(STAGE_LOG_ERROR, "second");
    stage_set_log(NULL, NULL);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.levels[0], STAGE_LOG_WARN);
    assert_string_equal(r.lines[0], "cannot reach '10.0.0.2': 3 tries");
    assert_int_equal(r.levels[1], STAGE_LOG_ERROR);
    assert_string_equal(r.lines[1], "second");
}

static void log_a_line(void *arg) {
    stage__log(STAGE_LOG_WARN, "%s", (const char *)arg);
}

static void log_text(void *arg) {
    stage__log_text(STAGE_LOG_ERROR, arg);
}

static void log_without_hook_goes_to_stderr(void **state) {
    (void)state;
    rec_t r;
    rec_init(&r);
    stage_set_log(rec_log, &r);
    stage_set_log(NULL, NULL); /* taken back: stderr again */
    char out[256];
    capture_stderr(log_a_line, "to stderr", out, sizeof out);
    assert_string_equal(out, "stage: warn: to stderr\n");
    capture_stderr(log_text, "app.lua:3: boom", out, sizeof out);
    assert_string_equal(out, "app.lua:3: boom\n");
    assert_int_equal(r.n, 0);
}

static void log_hook_gets_a_long_line_cut_not_lost(void **state) {
    (void)state;
    rec_t r;
    rec_init(&r);
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    stage_set_log(rec_log, &r);
    stage__log(STAGE_LOG_ERROR, "%s", big);
    stage_set_log(NULL, NULL);
    assert_int_equal(r.n, 1);
    size_t n = strlen(r.lines[0]);
    assert_true(n > 400); /* cut to the recorder's buffer, but there */
    assert_int_equal(r.lines[0][0], 'x');
}

/* A node's own lines reach the hook: a message to an actor that does not
** exist, sent without a future, is logged. */
static void nop(stage_ctx_t *ctx, void *st, const stage_msg_t *m) {
    (void)ctx;
    (void)st;
    (void)m;
}
static const stage_method_t nop_methods[] = {{"nop", nop}, {NULL, NULL}};
static const stage_type_def_t nop_type = {
    .name = "Nop", .state_size = 1, .methods = nop_methods};

static void log_hook_gets_a_nodes_lines(void **state) {
    (void)state;
    rec_t r;
    rec_init(&r);
    stage_set_log(rec_log, &r);
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    assert_int_equal(stage_type_register(node, &nop_type), 0);
    stage_node_hold(node);
    assert_int_equal(stage_node_start(node), 0);
    stage_id_t id;
    assert_int_equal(stage_node_spawn(node, "Nop", 1, NULL, 0, &id), 0);
    id.serial += 1 << 8; /* a serial never handed out */
    assert_int_equal(stage_node_send(node, &id, "nop", NULL, 0, NULL), 0);
    int i = rec_wait_for(&r, "not found");
    assert_int_equal(r.levels[i], STAGE_LOG_WARN);
    assert_non_null(strstr(r.lines[i], "message 'nop' not delivered"));
    stage_node_release(node);
    assert_int_equal(stage_node_wait(node), 0);
    stage_node_destroy(&node);
    stage_set_log(NULL, NULL);
}

/* An embedded program's main failing: its "file:line: message" reaches the
** hook, not stderr. */
static void log_hook_gets_main_failure(void **state) {
    (void)state;
    char path[] = "/tmp/stage_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char script[] = "function main(args)\n"
                          "  error('the value 5 is too big')\n"
                          "end\n";
    assert_int_equal(write(fd, script, sizeof script - 1),
                     (ssize_t)sizeof script - 1);
    close(fd);
    rec_t r;
    rec_init(&r);
    stage_set_log(rec_log, &r);
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    stage_node_t *node;
    assert_int_equal(stage_node_new(&node, &cfg), 0);
    char err[256];
    assert_int_equal(stage_node_load_script(node, path, err, sizeof err), 0);
    assert_int_equal(stage_node_run_main(node, 0, NULL), 0);
    assert_int_equal(stage_node_run(node), 1);
    stage_node_destroy(&node);
    stage_set_log(NULL, NULL);
    unlink(path);
    char want[128];
    snprintf(want, sizeof want, "%s:2: the value 5 is too big", path);
    int i = rec_wait_for(&r, want);
    assert_int_equal(r.levels[i], STAGE_LOG_ERROR);
    assert_memory_equal(r.lines[i], want, strlen(want));
}

/* ---- replacing the function while other threads log ----------------------
 */

static atomic_int stop_logging;

/* Log lines that all differ, and not only in their numbers (the log folds
** lines alike but for numbers into a count): a counter written in the
** letters g..z, which no hex number holds. */
static void *logger(void *arg) {
    unsigned i = (unsigned)(uintptr_t)arg << 24;
    while (!atomic_load(&stop_logging)) {
        char word[16];
        int k = 0;
        for (unsigned v = i++; k == 0 || v; v /= 20)
            word[k++] = (char)('g' + v % 20);
        word[k] = '\0';
        stage__log(STAGE_LOG_ERROR, "busy %s", word);
    }
    return NULL;
}

static void log_hook_replaced_is_never_called_after(void **state) {
    (void)state;
    rec_t a, b;
    rec_init(&a);
    rec_init(&b);
    stage_set_log(rec_log, &a);
    atomic_store(&stop_logging, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(
            pthread_create(&th[i], NULL, logger, (void *)(uintptr_t)i), 0);
    rec_wait_for(&a, "busy");
    stage_set_log(rec_log, &b);
    int calls_a = atomic_load(&a.calls);
    rec_wait_for(&b, "busy");
    while (atomic_load(&b.calls) < 1000)
        ; /* let the loggers run on with b */
    atomic_store(&stop_logging, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    stage_set_log(NULL, NULL);
    assert_int_equal(atomic_load(&a.calls), calls_a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(log_hook_gets_level_and_text_without_prefix),
        cmocka_unit_test(log_without_hook_goes_to_stderr),
        cmocka_unit_test(log_hook_gets_a_long_line_cut_not_lost),
        cmocka_unit_test(log_hook_gets_a_nodes_lines),
        cmocka_unit_test(log_hook_gets_main_failure),
        cmocka_unit_test(log_hook_replaced_is_never_called_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
