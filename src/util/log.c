/*
** util/log.c: see log.h.
**
** Folding. A flood of one kind of line (a hundred one-way sends to a
** stopped actor, a port scan closing seventy connections) becomes its first
** line and one summary. A line's template is its text with every number
** masked: each run of hex digits that holds a decimal digit (ports,
** addresses, serials, ids, counts) becomes '#'. A window opens when a line
** is written and lasts STAGE_LOG_FOLD_WINDOW; a later line of the same
** template inside it is held back and counted. When the window closes, one
** line gives the count, with the text of the last line held back:
**
**   stage: warn: actor 'local~1a/0/W/7' not found ... (repeated 99 times in
**   the last 1.0 s)
**
** Invariants: the first line of a template is written at once; a line of
** another template is never held back (templates are compared whole, not
** by a hash); no count is lost (a window pushed out of the full table, or
** open at exit, is summed up first); at most FOLD_SLOTS windows are open,
** each a fixed size, so memory is bounded whatever the rate of lines. A
** flood of one template writes two lines a second.
**
** Threads: any thread logs. One mutex orders the folding state and the
** writes, so a summary never cuts a line. A flusher thread, started when a
** line is first held back, writes the summaries of windows that close while
** nothing else is logged; an atexit handler writes those still open. The
** level is read without a lock: a stale read only means one line more or
** less while the level changes.
**
** The program's log function (stage_set_log) gets the lines, folded, in
** place of stderr. It is read and called under hook_lock (taken after mu,
** never before), so that once stage_set_log returns the old one is never
** called again. The fold table is allocated once for the process with C's
** calloc, not through the allocator hook: it is never freed.
*/
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define FOLD_SLOTS 16 /* windows open at once */
#define LAST_MAX 1024 /* of the last line held back, its first line only */
#define NEVER 1e300

static atomic_int level = -1;
static const char *const tags[] = {"error", "warn", "info", "debug"};

/* ---- folding ------------------------------------------------------------ */

/* An open window: its first line was written at since; count lines of its
** template came after it and were held back, the last of them in last. */
typedef struct fold {
    bool open, varied; /* varied: a held line differed from the first */
    int level;         /* of its lines (the template holds it) */
    double since;
    unsigned long count;
    uint64_t first_hash; /* of the line written */
    size_t tlen;
    char tmpl[STAGE_LOG_LINE_MAX];
    char last[LAST_MAX];
} fold_t;

struct stage__logfold {
    double window;
    stage__log_out_fn *out;
    void *ud;
    fold_t slots[FOLD_SLOTS];
};

/* FNV-1a of s[0..n). */
static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* The template of s[0..n) into t (room for n): numbers masked. Its length. */
static size_t template_of(const char *s, size_t n, char *t) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        bool digit = false;
        while (j < n && isxdigit((unsigned char)s[j]))
            digit |= isdigit((unsigned char)s[j++]) != 0;
        if (j == i) {
            t[k++] = s[i++];
        } else if (digit) {
            t[k++] = '#';
            i = j;
        } else {
            memcpy(t + k, s + i, j - i);
            k += j - i;
            i = j;
        }
    }
    return k;
}

stage__logfold_t *stage__logfold_new(double window, stage__log_out_fn *out,
                                     void *ud) {
    stage__logfold_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->window = window;
    f->out = out;
    f->ud = ud;
    return f;
}

void stage__logfold_destroy(stage__logfold_t **fp) {
    free(*fp);
    *fp = NULL;
}

/* Close s, writing its summary at time now if it held lines back. */
static void close_window(stage__logfold_t *f, fold_t *s, double now) {
    s->open = false;
    if (!s->count) return;
    char times[32], line[LAST_MAX + 128];
    if (s->count == 1)
        snprintf(times, sizeof times, "once");
    else
        snprintf(times, sizeof times, "%lu times", s->count);
    double span = now - s->since; /* in tenths; "0.0 s" would be odd */
    if (span < 0.1) span = 0.1;
    int n = s->varied
                ? snprintf(line, sizeof line,
                           "%s (%lu line%s like it in the last %.1f s, "
                           "with other numbers; this one came last)\n",
                           s->last, s->count, s->count == 1 ? "" : "s", span)
                : snprintf(line, sizeof line,
                           "%s (repeated %s in the last %.1f s)\n", s->last,
                           times, span);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    if (n > 0) f->out(f->ud, s->level, line, (size_t)n);
}

/* The open window that closes first (only those closed by now unless all),
** or NULL. */
static fold_t *oldest(stage__logfold_t *f, double now, int all) {
    fold_t *o = NULL;
    for (int i = 0; i < FOLD_SLOTS; i++) {
        fold_t *s = &f->slots[i];
        if (s->open && (all || s->since + f->window <= now) &&
            (!o || s->since < o->since))
            o = s;
    }
    return o;
}

void stage__logfold_flush(stage__logfold_t *f, double now, int all) {
    for (fold_t *s; (s = oldest(f, now, all));)
        close_window(f, s, now);
}

double stage__logfold_due(const stage__logfold_t *f) {
    double due = NEVER;
    for (int i = 0; i < FOLD_SLOTS; i++) {
        const fold_t *s = &f->slots[i];
        if (s->open && s->count && s->since + f->window < due)
            due = s->since + f->window;
    }
    return due;
}

/* Keep the first line of line[0..len) as s's last line held back. */
static void keep_last(fold_t *s, const char *line, size_t len) {
    const char *nl = memchr(line, '\n', len);
    size_t n = nl ? (size_t)(nl - line) : len;
    if (n > LAST_MAX - 1) n = LAST_MAX - 1;
    memcpy(s->last, line, n);
    s->last[n] = '\0';
}

int stage__logfold_line(stage__logfold_t *f, double now, int lvl,
                        const char *line, size_t len) {
    stage__logfold_flush(f, now, 0);
    if (len > STAGE_LOG_LINE_MAX) len = STAGE_LOG_LINE_MAX;
    char t[STAGE_LOG_LINE_MAX];
    size_t tlen = template_of(line, len, t);
    fold_t *free_slot = NULL;
    for (int i = 0; i < FOLD_SLOTS; i++) {
        fold_t *s = &f->slots[i];
        if (!s->open) {
            if (!free_slot) free_slot = s;
        } else if (s->tlen == tlen && memcmp(s->tmpl, t, tlen) == 0) {
            s->varied |= hash(line, len) != s->first_hash;
            keep_last(s, line, len);
            return ++s->count == 1 ? 1 : 2;
        }
    }
    fold_t *s = free_slot;
    if (!s) { /* the table is full: the oldest window makes room */
        s = oldest(f, now, 1);
        close_window(f, s, now);
    }
    s->open = true;
    s->level = lvl;
    s->varied = false;
    s->since = now;
    s->count = 0;
    s->first_hash = hash(line, len);
    s->tlen = tlen;
    memcpy(s->tmpl, t, tlen);
    f->out(f->ud, lvl, line, len);
    return 0;
}

/* ---- the process's log ----------------------------------------------------
 */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;     /* the flusher's: a summary may be due sooner */
static stage__logfold_t *folds; /* NULL when out of memory: no folding */
static bool flusher_started;    /* under mu */

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static stage_log_fn hook;
static void *hook_ud;

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

/* Write one line ("stage: LEVEL: text\n", or a summary of such lines): to
** the program's log function as its level and text, else to stderr. */
static void write_out(void *ud, int lvl, const char *line, size_t len) {
    (void)ud;
    size_t prefix = strlen("stage: : ") + strlen(tags[lvl & 3]);
    if (len >= prefix) {
        char text[STAGE_LOG_LINE_MAX + 128];
        size_t k = len - prefix;
        if (k && line[len - 1] == '\n') k--;
        if (k > sizeof text - 1) k = sizeof text - 1;
        memcpy(text, line + prefix, k);
        text[k] = '\0';
        if (to_hook(lvl & 3, text)) return;
    }
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nothing better to do if stderr is gone */
}

static double now_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void stage__log_flush(void) {
    pthread_mutex_lock(&mu);
    if (folds) stage__logfold_flush(folds, now_secs(), 1);
    pthread_mutex_unlock(&mu);
}

static void at_exit(void) {
    stage__log_flush();
}

static void init(void) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &a);
    pthread_condattr_destroy(&a);
    folds = stage__logfold_new(STAGE_LOG_FOLD_WINDOW, write_out, NULL);
    atexit(at_exit);
}

/* Sum up windows as they close, while nothing else is logged. */
static void *flusher(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        double due = stage__logfold_due(folds), now = now_secs();
        if (due >= NEVER) {
            pthread_cond_wait(&wake, &mu);
        } else if (now < due) {
            struct timespec ts = {(time_t)due,
                                  (long)((due - (double)(time_t)due) * 1e9)};
            pthread_cond_timedwait(&wake, &mu, &ts);
        } else {
            stage__logfold_flush(folds, now, 0);
        }
    }
    return NULL;
}

/* Under mu: start the flusher, with every signal blocked (signals are for
** the threads that handle them). If it cannot start, summaries still come
** with the next line logged, or at exit. */
static void start_flusher(void) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    if (pthread_create(&th, NULL, flusher, NULL) == 0) {
        pthread_detach(th);
        flusher_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

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
    char line[STAGE_LOG_LINE_MAX];
    int n = snprintf(line, sizeof line, "stage: %s: ", tags[l & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    pthread_once(&once, init);
    pthread_mutex_lock(&mu);
    if (!folds) {
        write_out(NULL, l & 3, line, (size_t)n);
    } else if (stage__logfold_line(folds, now_secs(), l & 3, line, (size_t)n) ==
               1) {
        /* a summary is now due, maybe sooner than the flusher waits for */
        if (!flusher_started) start_flusher();
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&mu);
}
