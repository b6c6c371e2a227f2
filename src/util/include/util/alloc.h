/*
** util/alloc.h: the allocation functions every component of Stage uses
** instead of libc's, so that stage_replace_allocator (stage/alloc.h) sees
** every allocation. Any thread.
**
** Memory from these goes back through stage__free; memory libc hands out
** by itself (getaddrinfo, realpath) goes back to libc.
*/
#ifndef STAGE_UTIL_ALLOC_H
#define STAGE_UTIL_ALLOC_H

#include <stddef.h>

#include "stage/alloc.h"

/* As malloc, calloc, realloc, free and strdup, through the installed
** allocator. A size of 0 asks for 1 byte: NULL always means out of memory.
** stage__realloc(NULL, n) allocates. */
void *stage__malloc(size_t size);
void *stage__calloc(size_t count, size_t size);
void *stage__realloc(void *ptr, size_t size);
void stage__free(void *ptr);
char *stage__strdup(const char *s);

/* size bytes aligned to align (a power of two, at most 256); free with
** stage__aligned_free. NULL on ENOMEM. */
void *stage__aligned_alloc(size_t align, size_t size);
void stage__aligned_free(void *ptr);

/* Install the functions (all NULL: libc's). 0, STAGE_EINVAL, or
** STAGE_EBUSY once anything was allocated. stage_replace_allocator calls
** it, and routes libuv the same way. */
int stage__alloc_replace(stage_malloc_fn m, stage_realloc_fn r,
                         stage_calloc_fn c, stage_free_fn f);

#endif
