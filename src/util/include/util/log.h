/*
** util/log.h: leveled log lines on stderr, with repeats folded, or to the
** program's function (stage_set_log, stage/log.h, which also has the
** levels).
** Any thread. One call writes one whole line (a single write(2)), so lines of
** different threads never interleave. A line like one written less than a
** second before (the same text but for its numbers) is held back and
** counted; one summary line gives the count when the second is over, or at
** exit: "... (repeated 99 times in the last 1.0 s)".
*/
#ifndef STAGE_UTIL_LOG_H
#define STAGE_UTIL_LOG_H

#include <stddef.h>

#include "stage/log.h"

/* The names STAGE_LOG takes, for messages. */
#define STAGE_LOG_LEVELS "error, warn, info or debug"

/* Longest line written, its '\n' included; longer ones are cut. */
#define STAGE_LOG_LINE_MAX 4096
/* Lines of one template within this many seconds of the first are folded. */
#define STAGE_LOG_FOLD_WINDOW 1.0

/* The level named s (any case; NULL or "" is the default, info), or -1 if
** s names none. */
int stage__log_level_parse(const char *s);

/* Lines above this level are dropped. Default STAGE_LOG_INFO, or the value
** of the STAGE_LOG environment variable (error, warn, info, debug). */
void stage__log_set_level(int level);
int stage__log_level(void);
void stage__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Write the summaries of every line held back so far (at exit it happens
** by itself). Any thread. */
void stage__log_flush(void);
/* text as it is, for a person reading the program's end ("file:line:
** message"): to the program's log function, or to stderr unprefixed. No
** level filter. */
void stage__log_text(int level, const char *text);

#define STAGE_LOG(level, ...)                                                  \
    do {                                                                       \
        if ((level) <= stage__log_level()) stage__log((level), __VA_ARGS__);   \
    } while (0)
#define LOG_ERROR(...) STAGE_LOG(STAGE_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) STAGE_LOG(STAGE_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) STAGE_LOG(STAGE_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) STAGE_LOG(STAGE_LOG_DEBUG, __VA_ARGS__)

/* ---- folding, the machinery under stage__log -------------------------------
** Pure: the caller passes the clock (seconds, monotonic) and says where
** lines go, so tests drive it without sleeping. One thread at a time
** (stage__log holds its lock). */

typedef struct stage__logfold stage__logfold_t;
/* Writes one line of len bytes, '\n' included, of level (STAGE_LOG_*). */
typedef void stage__log_out_fn(void *ud, int level, const char *line,
                               size_t len);

/* A new folding state: a line within window seconds of the first line of
** its template is held back. out gets the lines to write. Returns new
** (free with stage__logfold_destroy), or NULL when out of memory. */
stage__logfold_t *stage__logfold_new(double window, stage__log_out_fn *out,
                                     void *ud);
/* Free *fp (summaries still held are lost: flush first); *fp = NULL. */
void stage__logfold_destroy(stage__logfold_t **fp);

/* Offer line (len bytes ending in '\n', at most STAGE_LOG_LINE_MAX) of
** level at time now (a template holds lines of one level: the level is in
** the line): 0 if it was written, 1 if held back as the first repeat of its
** window (its summary is due at stage__logfold_due), 2 if held back as a
** later one. Windows closed by now are summed up first. */
int stage__logfold_line(stage__logfold_t *f, double now, int level,
                        const char *line, size_t len);

/* Write the summary of every window closed by now (every window, if all),
** oldest first, and close them. */
void stage__logfold_flush(stage__logfold_t *f, double now, int all);

/* When the next window that holds lines back closes; 1e300 if none does. */
double stage__logfold_due(const stage__logfold_t *f);

#endif
