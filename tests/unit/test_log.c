/* tests/unit/test_log.c: folding repeated log lines (util/log.c). The
** folding state is driven with the clock passed in; the process's log is
** checked from several threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

/* What a folding state wrote, line by line. */
typedef struct out {
    int n;
    char lines[64][STAGE_LOG_LINE_MAX + 1];
} out_t;

static void capture(void *ud, int level, const char *line, size_t len) {
    (void)level;
    out_t *o = ud;
    assert_true(o->n < 64);
    assert_true(len > 0 && line[len - 1] == '\n'); /* whole lines */
    memcpy(o->lines[o->n], line, len);
    o->lines[o->n++][len] = '\0';
}

static out_t *out;
static stage__logfold_t *f;

static int setup(void **state) {
    (void)state;
    out = calloc(1, sizeof *out);
    f = stage__logfold_new(1.0, capture, out);
    return out && f ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    stage__logfold_destroy(&f);
    assert_null(f);
    free(out);
    return 0;
}

/* Offer text (a '\n' is added) at time now; what stage__logfold_line says. */
static int offer(double now, const char *text) {
    char line[STAGE_LOG_LINE_MAX];
    int n = snprintf(line, sizeof line, "%s\n", text);
    return stage__logfold_line(f, now, STAGE_LOG_WARN, line, (size_t)n);
}

static void identical_lines_fold_into_the_first_and_a_count(void **state) {
    (void)state;
    const char *l = "stage: warn: actor 'a~1/0/W/7' not found; message 'put' "
                    "not delivered";
    assert_int_equal(offer(0, l), 0);
    /* the first occurrence is written at once */
    assert_int_equal(out->n, 1);
    assert_int_equal(strncmp(out->lines[0], l, strlen(l)), 0);
    assert_int_equal(offer(0.001, l), 1);
    for (int i = 2; i < 100; i++)
        assert_int_equal(offer(0.001 * i, l), 2);
    assert_int_equal(out->n, 1);
    assert_true(stage__logfold_due(f) == 1.0);
    stage__logfold_flush(f, 0.999, 0); /* not yet closed */
    assert_int_equal(out->n, 1);
    stage__logfold_flush(f, 1.0, 0);
    assert_int_equal(out->n, 2);
    char want[512];
    snprintf(want, sizeof want, "%s (repeated 99 times in the last 1.0 s)\n",
             l);
    assert_string_equal(out->lines[1], want);
    assert_true(stage__logfold_due(f) >= 1e300);
}

static void lines_differing_in_numbers_fold_and_show_the_last(void **state) {
    (void)state;
    char l[128];
    for (int port = 50000; port < 50073; port++) {
        snprintf(l, sizeof l,
                 "stage: warn: closing connection from '127.0.0.1:%d': "
                 "connection closed by the peer",
                 port);
        offer(0.5 + (port - 50000) * 0.001, l);
    }
    assert_int_equal(out->n, 1);
    assert_non_null(strstr(out->lines[0], "'127.0.0.1:50000'"));
    stage__logfold_flush(f, 1.5, 0);
    assert_int_equal(out->n, 2);
    assert_string_equal(out->lines[1],
                        "stage: warn: closing connection from "
                        "'127.0.0.1:50072': connection closed by the peer "
                        "(72 lines like it in the last 1.0 s, with other "
                        "numbers; this one came last)\n");
}

static void a_distinct_line_is_never_held_back(void **state) {
    (void)state;
    const char *a = "stage: warn: closing connection from '10.0.0.1:7': "
                    "connection closed by the peer";
    const char *b = "stage: warn: closing connection from '10.0.0.1:7': "
                    "not a stage connection";
    const char *c = "stage: info: closing connection from '10.0.0.1:7': "
                    "connection closed by the peer"; /* another level */
    assert_int_equal(offer(0, a), 0);
    assert_int_equal(offer(0.1, b), 0);
    assert_int_equal(offer(0.2, c), 0);
    assert_int_equal(offer(0.3, a), 1);
    assert_int_equal(offer(0.4, b), 1);
    assert_int_equal(out->n, 3);
    stage__logfold_flush(f, 0.5, 1); /* at exit: all, oldest first */
    assert_int_equal(out->n, 5);
    assert_non_null(strstr(out->lines[3], "peer (repeated once in the last "
                                          "0.5 s)"));
    assert_non_null(strstr(out->lines[4], "connection (repeated once in the "
                                          "last 0.4 s)"));
}

static void a_line_after_the_window_starts_a_new_one(void **state) {
    (void)state;
    const char *l = "stage: warn: node 'x:1' is unreachable";
    offer(0, l);
    offer(0.5, l);
    /* 1.5 s: the first window closed; its summary comes before the line */
    assert_int_equal(offer(1.5, l), 0);
    assert_int_equal(out->n, 3);
    assert_non_null(strstr(out->lines[1], "(repeated once in the last 1.5 s)"));
    assert_string_equal(out->lines[2],
                        "stage: warn: node 'x:1' is unreachable\n");
    /* a window that held nothing back closes without a word */
    stage__logfold_flush(f, 10, 1);
    assert_int_equal(out->n, 3);
}

static void a_full_table_sums_up_its_oldest_window_first(void **state) {
    (void)state;
    /* sixteen templates (they differ in a word), each repeated once, fill
    ** the table */
    char l[64];
    for (int i = 0; i < 16; i++) {
        snprintf(l, sizeof l, "stage: warn: event %c", 'g' + i);
        assert_int_equal(offer(0.01 * i, l), 0);
        assert_int_equal(offer(0.01 * i + 0.001, l), 1);
    }
    assert_int_equal(out->n, 16);
    /* a seventeenth: the oldest window is summed up, then the line written */
    assert_int_equal(offer(0.5, "stage: warn: another event"), 0);
    assert_int_equal(out->n, 18);
    assert_string_equal(out->lines[16], "stage: warn: event g (repeated once "
                                        "in the last 0.5 s)\n");
    assert_string_equal(out->lines[17], "stage: warn: another event\n");
    /* ... and the others' counts are kept */
    stage__logfold_flush(f, 0.75, 1);
    assert_int_equal(out->n, 33);
    assert_string_equal(out->lines[32], "stage: warn: event v (repeated once "
                                        "in the last 0.6 s)\n");
}

static void a_summary_shows_the_first_line_of_a_long_entry(void **state) {
    (void)state;
    const char *l = "stage: warn: actor a: HandlerError: boom\nstack "
                    "traceback:\n\tx.lua:3: in function 'f'";
    offer(0, l);
    offer(0.1, l);
    assert_int_equal(strncmp(out->lines[0], l, strlen(l)), 0);
    stage__logfold_flush(f, 2, 0);
    assert_string_equal(out->lines[1], "stage: warn: actor a: HandlerError: "
                                       "boom (repeated once in the last 2.0 "
                                       "s)\n");
}

/* ---- the process's log, from several threads ------------------------------
 */

#define THREADS 4
#define LINES 2000

static void *log_lines(void *arg) {
    for (int i = 0; i < LINES; i++)
        stage__log(STAGE_LOG_WARN, "thread %d: message %d not delivered",
                   (int)(intptr_t)arg, i);
    return NULL;
}

static void threads_log_whole_lines_and_every_count(void **state) {
    (void)state;
    stage__log_set_level(STAGE_LOG_INFO);
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(
            pthread_create(&th[i], NULL, log_lines, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    stage__log_flush();
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    char line[STAGE_LOG_LINE_MAX + 256];
    long total = 0, written = 0;
    while (fgets(line, sizeof line, tmp)) {
        /* whole lines, never cut by another thread's */
        assert_int_equal(strncmp(line, "stage: warn: thread ", 20), 0);
        assert_non_null(strstr(line, " not delivered"));
        /* "(repeated N times", "(repeated once", "(N lines like it" */
        const char *r = strstr(line, "(repeated "),
                   *v = strstr(line, " like it");
        total += r && strncmp(r, "(repeated once", 14) == 0 ? 1
                 : r                                        ? atol(r + 10)
                 : v ? atol(strrchr(line, '(') + 1)
                     : 1;
        written++;
    }
    fclose(tmp);
    assert_int_equal(total, THREADS * LINES);
    /* folded: one template, so a line and a summary per second at most */
    assert_true(written < THREADS * LINES / 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            identical_lines_fold_into_the_first_and_a_count, setup, teardown),
        cmocka_unit_test_setup_teardown(
            lines_differing_in_numbers_fold_and_show_the_last, setup, teardown),
        cmocka_unit_test_setup_teardown(a_distinct_line_is_never_held_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_line_after_the_window_starts_a_new_one, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_full_table_sums_up_its_oldest_window_first, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_summary_shows_the_first_line_of_a_long_entry, setup, teardown),
        cmocka_unit_test(threads_log_whole_lines_and_every_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
