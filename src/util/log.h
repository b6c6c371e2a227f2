/*
** util/log.h: leveled log lines on stderr.
** Any thread. One call writes one whole line (a single write(2)), so lines of
** different threads never interleave.
*/
#ifndef STAGE_UTIL_LOG_H
#define STAGE_UTIL_LOG_H

enum { STAGE_LOG_ERROR, STAGE_LOG_WARN, STAGE_LOG_INFO, STAGE_LOG_DEBUG };

/* The names STAGE_LOG takes, for messages. */
#define STAGE_LOG_LEVELS "error, warn, info or debug"

/* The level named s (any case; NULL or "" is the default, info), or -1 if
** s names none. */
int stage__log_level_parse(const char *s);

/* Lines above this level are dropped. Default STAGE_LOG_INFO, or the value
** of the STAGE_LOG environment variable (error, warn, info, debug). */
void stage__log_set_level(int level);
int stage__log_level(void);
void stage__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define STAGE_LOG(level, ...)                                                  \
    do {                                                                       \
        if ((level) <= stage__log_level()) stage__log((level), __VA_ARGS__);   \
    } while (0)
#define LOG_ERROR(...) STAGE_LOG(STAGE_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) STAGE_LOG(STAGE_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) STAGE_LOG(STAGE_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) STAGE_LOG(STAGE_LOG_DEBUG, __VA_ARGS__)

#endif
