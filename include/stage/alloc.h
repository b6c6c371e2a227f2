/*
** stage/alloc.h: the allocator hook — every allocation Stage makes, and
** libuv's, goes through four functions the program may replace (libuv's
** uv_replace_allocator, Lua's lua_Alloc).
**
** Process-wide, and set once at the start: before any other Stage call
** and before the program uses libuv itself. Memory is freed by the free
** function of the allocator that allocated it, so the functions cannot be
** replaced once Stage holds memory from the old ones.
*/
#ifndef STAGE_ALLOC_H
#define STAGE_ALLOC_H

#include "stage/common.h"

#include <stddef.h>

STAGE_BEGIN_DECLS

/* As C's malloc, realloc, calloc and free. Stage never asks for 0 bytes
** (Stage's own calls ask for 1 instead; libuv's uv_replace_allocator rules
** hold for libuv's), and treats NULL as out of memory: the operation fails
** with STAGE_ENOMEM, OutOfMemory or a log line, and the node keeps running.
** Called from any thread, several at once (theatres, the I/O thread, the
** program's own threads that call Stage): they must be thread-safe. They
** must not call Stage. */
typedef void *(*stage_malloc_fn)(size_t size);
typedef void *(*stage_realloc_fn)(void *ptr, size_t size);
typedef void *(*stage_calloc_fn)(size_t count, size_t size);
typedef void (*stage_free_fn)(void *ptr);

/* Make Stage, its Lua states and libuv allocate through these functions;
** all four NULL restore C's. 0, STAGE_EINVAL if only some are NULL, or
** STAGE_EBUSY (nothing changed) once Stage has allocated anything: call
** it first, before any node, packer or other Stage call that allocates.
** libuv's allocator is process-wide too: a program that uses libuv itself
** must not have allocated through libuv before this call. One thread, with
** no other thread calling Stage yet. */
STAGE_EXTERN int stage_replace_allocator(stage_malloc_fn malloc_fn,
                                         stage_realloc_fn realloc_fn,
                                         stage_calloc_fn calloc_fn,
                                         stage_free_fn free_fn);

STAGE_END_DECLS

#endif
