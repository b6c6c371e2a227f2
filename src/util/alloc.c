/*
** util/alloc.c: see alloc.h. The four functions are plain globals: they
** are written only by stage__alloc_replace, which refuses once anything
** was allocated, and the program calls it before it starts threads that
** use Stage (thread creation orders the write before their reads).
** `used` is set by the first allocation; relaxed is enough, as it only
** has to catch a late replace on the thread that allocated, or after a
** thread start or a lock that orders it.
*/
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stage/errors.h"
#include "util/alloc.h"

static stage_malloc_fn malloc_fn = malloc;
static stage_realloc_fn realloc_fn = realloc;
static stage_calloc_fn calloc_fn = calloc;
static stage_free_fn free_fn = free;
static atomic_bool used;

/* Note that Stage holds memory from the installed functions now. */
static void note_use(void) {
    if (!atomic_load_explicit(&used, memory_order_relaxed))
        atomic_store_explicit(&used, true, memory_order_relaxed);
}

void *stage__malloc(size_t size) {
    note_use();
    return malloc_fn(size ? size : 1);
}

void *stage__calloc(size_t count, size_t size) {
    note_use();
    if (!count || !size) count = size = 1;
    return calloc_fn(count, size);
}

void *stage__realloc(void *ptr, size_t size) {
    note_use();
    return realloc_fn(ptr, size ? size : 1);
}

void stage__free(void *ptr) {
    if (ptr) free_fn(ptr);
}

char *stage__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = stage__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* The block starts `pad` bytes before the aligned pointer; pad (1 to
** align) is stored in the byte just before it. */
void *stage__aligned_alloc(size_t align, size_t size) {
    if (align < 2 || align > 256 || (align & (align - 1)) ||
        size > SIZE_MAX - align)
        return NULL;
    char *raw = stage__malloc(size + align);
    if (!raw) return NULL;
    size_t pad = align - (uintptr_t)raw % align;
    raw[pad - 1] = (char)(unsigned char)(pad - 1);
    return raw + pad;
}

void stage__aligned_free(void *ptr) {
    if (!ptr) return;
    char *p = ptr;
    stage__free(p - 1 - (unsigned char)p[-1]);
}

int stage__alloc_replace(stage_malloc_fn m, stage_realloc_fn r,
                         stage_calloc_fn c, stage_free_fn f) {
    int nulls = !m + !r + !c + !f;
    if (nulls != 0 && nulls != 4) return STAGE_EINVAL;
    if (atomic_load_explicit(&used, memory_order_relaxed)) return STAGE_EBUSY;
    malloc_fn = m ? m : malloc;
    realloc_fn = r ? r : realloc;
    calloc_fn = c ? c : calloc;
    free_fn = f ? f : free;
    return 0;
}
