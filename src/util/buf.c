/* util/buf.c: see buf.h. */
#include <stdlib.h>
#include <string.h>

#include "stage/errors.h"
#include "util/alloc.h"
#include "util/buf.h"

int stage__buf_reserve(stage_buf_t *b, size_t n) {
    if (b->cap - b->len >= n) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < n) {
        if (cap > ((size_t)-1) / 2) return STAGE_ENOMEM;
        cap *= 2;
    }
    char *p = stage__realloc(b->data, cap);
    if (!p) return STAGE_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int stage__buf_append(stage_buf_t *b, const void *p, size_t n) {
    int rc = stage__buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void stage__buf_free(stage_buf_t *b) {
    stage__free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
