/*
** net/alloc.c: stage_replace_allocator — Stage's allocator (util/alloc.c)
** and libuv's, replaced together. It lives here because net is the one
** component that links libuv; util below it stays free of it.
**
** libuv is pointed at Stage's wrappers, which call whatever functions are
** installed, so a later restore (all NULL) reaches libuv too. libuv's
** uv_replace_allocator must run before libuv allocates anything: Stage
** allocates before it first calls libuv (the node exists before its
** network), so Stage's own refusal once anything is allocated (STAGE_EBUSY)
** covers libuv's use by Stage; the program's own use of libuv is its part
** (stage/alloc.h).
*/
#include <uv.h>

#include "stage/alloc.h"
#include "util/alloc.h"

int stage_replace_allocator(stage_malloc_fn malloc_fn,
                            stage_realloc_fn realloc_fn,
                            stage_calloc_fn calloc_fn, stage_free_fn free_fn) {
    int rc = stage__alloc_replace(malloc_fn, realloc_fn, calloc_fn, free_fn);
    if (rc) return rc;
    /* Only fails for a NULL function. */
    uv_replace_allocator(stage__malloc, stage__realloc, stage__calloc,
                         stage__free);
    return 0;
}
