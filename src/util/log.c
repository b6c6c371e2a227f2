/*
** util/log.c: see log.h. The level is read without a lock: a stale read only
** means one line more or less while the level changes. The program's log
** function (stage_set_log) is read and called under hook_lock, so that
** once stage_set_log returns the old one is never called again.
*/
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"

static atomic_int level = -1;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static stage_log_fn hook;
static void *hook_ud;
static const char *const tags[] = {"error", "warn", "info", "debug"};

static int level_from_env(void) {
    const char *s = getenv("STAGE_LOG");
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, tags[i]) == 0) return i;
    return STAGE_LOG_INFO;
}

void stage_set_log(stage_log_fn fn, void *ud) {
    pthread_mutex_lock(&hook_lock);
    hook = fn;
    hook_ud = ud;
    pthread_mutex_unlock(&hook_lock);
}

/* Give text to the program's log function; 0 if it has none. */
static int to_hook(int l, const char *text) {
    pthread_mutex_lock(&hook_lock);
    stage_log_fn fn = hook;
    if (fn) fn(hook_ud, l, text);
    pthread_mutex_unlock(&hook_lock);
    return fn != NULL;
}

void stage__log_text(int l, const char *text) {
    if (to_hook(l, text)) return;
    struct iovec iov[2] = {{(void *)text, strlen(text)}, {"\n", 1}};
    ssize_t w = writev(STDERR_FILENO, iov, 2);
    (void)w;
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
    int prefix = n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n] = '\0';
    if (to_hook(l & 3, line + prefix)) return;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nothing better to do if stderr is gone */
}
