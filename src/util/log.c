/*
** util/log.c: see log.h. The level is read without a lock: a stale read only
** means one line more or less while the level changes.
*/
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/log.h"

static atomic_int level = -1;
static const char *const tags[] = {"error", "warn", "info", "debug"};

int stage__log_level_parse(const char *s) {
    if (!s || !*s) return STAGE_LOG_INFO;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, tags[i]) == 0) return i;
    return -1;
}

void stage__log_set_level(int l) {
    atomic_store_explicit(&level, l, memory_order_relaxed);
}

/* The first call reads STAGE_LOG; a bad name is said once, by the thread
** whose exchange set the level (stage checks the name at start and exits:
** this is for programs that embed a node). */
int stage__log_level(void) {
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l >= 0) return l;
    const char *s = getenv("STAGE_LOG");
    int want = stage__log_level_parse(s), unset = -1;
    /* one thread wins the exchange: the warning is written once */
    if (atomic_compare_exchange_strong(&level, &unset,
                                       want < 0 ? STAGE_LOG_INFO : want) &&
        want < 0)
        stage__log(STAGE_LOG_WARN,
                   "STAGE_LOG='%s' is not a log level (%s); logging at info", s,
                   STAGE_LOG_LEVELS);
    return atomic_load_explicit(&level, memory_order_relaxed);
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
