/*
** util/log.h: leveled log lines on stderr, or to the program's function
** (stage_set_log, stage/log.h, which also has the levels).
** Any thread. One call writes one whole line (a single write(2)), so lines of
** different threads never interleave.
*/
#ifndef STAGE_UTIL_LOG_H
#define STAGE_UTIL_LOG_H

#include "stage/log.h"

/* Lines above this level are dropped. Default STAGE_LOG_INFO, or the value
** of the STAGE_LOG environment variable (error, warn, info, debug). */
void stage__log_set_level(int level);
int stage__log_level(void);
void stage__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
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

#endif
