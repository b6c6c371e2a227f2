/*
** tests/fault/fault_common.h: what the fault sweeps share — the log lines
** a run produced (through stage_set_log), the verdict on one run with a
** failed allocation, and the list of allocations to fail.
**
** A run with an allocation failed passes when nothing crashed or leaked
** (the caller checks fault_live) and either it did all its work as if
** nothing had happened (the failure was absorbed: Lua retries after a
** collection, a cache goes without) or it ended with an error that says
** memory ran out: a return code, a failed future, a log line. Anything
** else — a hang, a wrong result, an error about something else, a silent
** loss — fails the sweep with the allocation's number and the log.
*/
#ifndef STAGE_TEST_FAULT_COMMON_H
#define STAGE_TEST_FAULT_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/stage.h"
#include "util/log.h"

/* ---- the log of one run -------------------------------------------------
 */

#define LOG_KEEP 32

typedef struct runlog {
    pthread_mutex_t lock;
    int n, dropped;
    int bad; /* lines at warn or error */
    char lines[LOG_KEEP][256];
} runlog_t;

static runlog_t runlog = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline void runlog_fn(void *ud, int level, const char *message) {
    runlog_t *l = ud;
    pthread_mutex_lock(&l->lock);
    if (level <= STAGE_LOG_WARN) l->bad++;
    if (l->n < LOG_KEEP)
        snprintf(l->lines[l->n++], sizeof l->lines[0], "%s: %s",
                 level == STAGE_LOG_ERROR  ? "error"
                 : level == STAGE_LOG_WARN ? "warn"
                                           : "info",
                 message);
    else
        l->dropped++;
    pthread_mutex_unlock(&l->lock);
}

/* Start a run's log afresh. The log folds a line like one written within
** the last second into a count: each run is a program of its own here, so
** the windows the last run opened are closed first (their counts go to
** the last run's log, which is read by then). */
static inline void runlog_reset(void) {
    stage__log_flush();
    pthread_mutex_lock(&runlog.lock);
    runlog.n = runlog.dropped = runlog.bad = 0;
    pthread_mutex_unlock(&runlog.lock);
}

/* 1 if a line (or text) tells that memory ran out. */
static inline bool says_memory(const char *s) {
    for (const char *p = s; *p; p++)
        if (!strncmp(p, "memory", 6) || !strncmp(p, "Memory", 6)) return true;
    return false;
}

static inline bool runlog_says_memory(void) {
    bool yes = false;
    pthread_mutex_lock(&runlog.lock);
    for (int i = 0; i < runlog.n && !yes; i++)
        yes = says_memory(runlog.lines[i]);
    pthread_mutex_unlock(&runlog.lock);
    return yes;
}

static inline void runlog_print(void) {
    pthread_mutex_lock(&runlog.lock);
    for (int i = 0; i < runlog.n; i++)
        fprintf(stderr, "    log: %s\n", runlog.lines[i]);
    if (runlog.dropped)
        fprintf(stderr, "    log: ... %d more lines\n", runlog.dropped);
    pthread_mutex_unlock(&runlog.lock);
}

/* ---- which allocations to fail -----------------------------------------
 */

/* Every n from 1 to total if total <= every; else every stride-th one and
** `sample` more picked at random from seed. Fills list (sorted, distinct),
** returns how many. */
static inline size_t fault_plan(uint64_t total, uint64_t every, uint64_t stride,
                                size_t sample, uint64_t seed, uint64_t **list) {
    size_t cap = (size_t)(total <= every ? total : total / stride + sample);
    uint64_t *v = malloc((cap + 1) * sizeof *v);
    size_t n = 0;
    if (!v) abort();
    if (total <= every) {
        for (uint64_t i = 1; i <= total; i++)
            v[n++] = i;
        *list = v;
        return n;
    }
    for (uint64_t i = 1; i <= total; i += stride)
        v[n++] = i;
    uint64_t x = seed | 1;
    for (size_t k = 0; k < sample; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[n++] = 1 + x % total;
    }
    /* sort and drop repeats: a simple insertion sort, n is small */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || v[m - 1] != v[i]) v[m++] = v[i];
    *list = v;
    return m;
}

/* An unsigned number from the environment, or def. */
static inline uint64_t env_u64(const char *name, uint64_t def) {
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 10) : def;
}

#endif
