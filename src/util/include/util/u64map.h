/*
** util/u64map.h: a map from non-zero 64-bit keys to pointers (open
** addressing, linear probing, backward-shift deletion: no tombstones).
** Not thread-safe: one owner.
*/
#ifndef STAGE_UTIL_U64MAP_H
#define STAGE_UTIL_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct stage_u64map {
    uint64_t *keys; /* 0 = empty */
    void **vals;
    size_t cap, count;
} stage_u64map_t;

#define STAGE_U64MAP_INIT                                                      \
    { NULL, NULL, 0, 0 }

/* Set key (non-zero) to val. 0 or STAGE_ENOMEM / STAGE_EINVAL (key 0). */
int stage__u64map_put(stage_u64map_t *m, uint64_t key, void *val);
/* The value of key, or NULL. */
void *stage__u64map_get(const stage_u64map_t *m, uint64_t key);
/* Remove key and return its value (NULL if absent). */
void *stage__u64map_take(stage_u64map_t *m, uint64_t key);
/* Call fn(key, val, ud) for every entry; fn may not change the map. */
void stage__u64map_each(const stage_u64map_t *m,
                        void (*fn)(uint64_t key, void *val, void *ud),
                        void *ud);
void stage__u64map_free(stage_u64map_t *m);

#endif
