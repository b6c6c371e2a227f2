/*
** stage/errors.h: the error codes every Stage function returns.
** Functions return 0 or a negative STAGE_E* code. One table generates the
** codes, the typed names a Lua script sees (error.type) and the messages.
*/
#ifndef STAGE_ERRORS_H
#define STAGE_ERRORS_H

#include "stage/common.h"

STAGE_BEGIN_DECLS

/* XX(code, TypedName, message) */
#define STAGE_ERRNO_MAP(XX)                                                    \
    XX(NOMEM, "OutOfMemory", "out of memory")                                  \
    XX(INVAL, "InvalidArgument", "invalid argument")                           \
    XX(ACTOR_NOT_FOUND, "ActorNotFound", "actor not found")                    \
    XX(NAME_NOT_FOUND, "NameNotFound", "name not found")                       \
    XX(TYPE_NOT_FOUND, "TypeNotFound", "actor type not found")                 \
    XX(NO_METHOD, "NoSuchMethod", "no such method")                            \
    XX(TIMEOUT, "Timeout", "timed out")                                        \
    XX(UNREACHABLE, "NodeUnreachable", "node unreachable")                     \
    XX(EXISTS, "AlreadyExists", "already exists")                              \
    XX(ENCODE, "NotSendable", "value cannot be sent")                          \
    XX(DECODE, "MalformedData", "malformed data")                              \
    XX(TOOBIG, "TooLarge", "too large")                                        \
    XX(HANDLER, "HandlerError", "handler failed")                              \
    XX(DEADLOCK, "Deadlock", "await would deadlock")                           \
    XX(BUDGET, "BudgetExceeded", "handler exceeded its budget")                \
    XX(STOPPED, "Stopped", "node stopped")                                     \
    XX(IO, "IOError", "input/output error")                                    \
    XX(PROTO, "ProtocolError", "protocol error")                               \
    XX(SCRIPT, "ScriptError", "script error")                                  \
    XX(CLASH, "SourceClash", "source clash")                                   \
    XX(CANCELED, "Canceled", "canceled")                                       \
    XX(BUSY, "Busy", "resource busy")                                          \
    XX(NODE_DOWN, "NodeDown", "node down")                                     \
    XX(MEMORY, "MemoryExceeded", "memory limit exceeded")

typedef enum stage_errno {
    STAGE_OK = 0,
    STAGE__ERRNO_BASE = -1000,
#define STAGE__ERRNO_ENUM(code, name, msg) STAGE_E##code,
    STAGE_ERRNO_MAP(STAGE__ERRNO_ENUM)
#undef STAGE__ERRNO_ENUM
        STAGE__ERRNO_END
} stage_errno_t;

/* The message for err ("actor not found"); "unknown error" if not ours. */
STAGE_EXTERN const char *stage_strerror(int err);
/* The typed name for err ("ActorNotFound"); "Error" if not ours. */
STAGE_EXTERN const char *stage_err_name(int err);
/* The code whose typed name is name, or STAGE_EINVAL if there is none. */
STAGE_EXTERN int stage_err_from_name(const char *name);

STAGE_END_DECLS

#endif
