/*
** stage/log.h: Stage's log lines — where they go (stderr, or a function
** the program installs, as SQLite's SQLITE_CONFIG_LOG) and their levels.
*/
#ifndef STAGE_LOG_H
#define STAGE_LOG_H

#include "stage/common.h"

STAGE_BEGIN_DECLS

/* The levels of a line, most severe first. Lines above the level the
** STAGE_LOG environment variable names (error, warn, info, debug; info by
** default) are not made at all. */
typedef enum stage_log_level {
    STAGE_LOG_ERROR = 0,
    STAGE_LOG_WARN,
    STAGE_LOG_INFO,
    STAGE_LOG_DEBUG
} stage_log_level_t;

/* Receives one log line: its level and its text (borrowed for the call,
** without the "stage: level: " prefix stderr gets, nor a newline). Called
** from whatever thread logs — theatres, the I/O thread, the program's
** threads inside Stage calls — but one call at a time. It must not call
** Stage, and should return soon: the thread that logs waits for it. */
typedef void (*stage_log_fn)(void *ud, int level, const char *message);

/* Send Stage's log lines to fn(ud, level, message) instead of stderr; fn
** NULL restores stderr. Any thread, at any time: once this returns, no
** line goes to the old function (a call to it under way has returned). */
STAGE_EXTERN void stage_set_log(stage_log_fn fn, void *ud);

STAGE_END_DECLS

#endif
