/*
** util/buf.h: a growable byte buffer.
** Not thread-safe: one owner at a time. Growth doubles; a failed allocation
** leaves the buffer as it was and returns STAGE_ENOMEM.
*/
#ifndef STAGE_UTIL_BUF_H
#define STAGE_UTIL_BUF_H

#include <stddef.h>

typedef struct stage_buf {
    char *data;
    size_t len;
    size_t cap;
} stage_buf_t;

#define STAGE_BUF_INIT                                                         \
    { NULL, 0, 0 }

/* Make room for n more bytes. 0 or STAGE_ENOMEM. */
int stage__buf_reserve(stage_buf_t *b, size_t n);
/* Append n bytes. 0 or STAGE_ENOMEM. */
int stage__buf_append(stage_buf_t *b, const void *p, size_t n);
/* Forget the contents, keep the memory. */
static inline void stage__buf_clear(stage_buf_t *b) {
    b->len = 0;
}
/* Free the memory; the buffer is empty and reusable afterwards. */
void stage__buf_free(stage_buf_t *b);

#endif
