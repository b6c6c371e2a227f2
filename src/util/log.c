/*
** util/log.c: see log.h. The level is read without a lock: a stale read only
** means one line more or less while the level changes.
*/
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

static atomic_int level = -1;
static const char *const tags[] = {"error", "warn", "info", "debug"};

static int level_from_env(void) {
    const char *s = getenv("STAGE_LOG");
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, tags[i]) == 0) return i;
    return STAGE_LOG_INFO;
}

void stage__log_set_level(int l) {
    atomic_store_explicit(&level, l, memory_order_relaxed);
}

int stage__log_level(void) {
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) {
        l = level_from_env();
        stage__log_set_level(l);
    }
    return l;
}

void stage__log(int l, const char *fmt, ...) {
    char line[4096];
    int n = snprintf(line, sizeof line, "stage: %s: ", tags[l & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nothing better to do if stderr is gone */
}
