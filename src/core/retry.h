/*
** core/retry.h: what futures need of the retry of calls through a name
** (core/retry.c): a failure that may be retried is diverted there, and a
** copy no failure took is freed with its future. Private to src/core.
*/
#ifndef STAGE_CORE_RETRY_H
#define STAGE_CORE_RETRY_H

#include "core/future.h"

/* f is failing with status (message, actor, traceback: borrowed). If f
** holds a call's copy and status is one a name retry is for, take the
** failure over: f stays pending, and the retry completes it later (with
** the new actor's reply, or this failure). Returns 1 if it took it, else
** 0 (the caller completes f). Any thread. */
int stage__retry_divert(stage__future_t *f, int status, const char *message,
                        const char *actor, const char *traceback);
/* Free the call's copy f holds, if any (f completed, or freed). Any
** thread. */
void stage__retry_drop(stage__future_t *f);

#endif
