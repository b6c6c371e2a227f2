/* util/u64map.c: see u64map.h. Load factor at most 1/2. */
#include <stdlib.h>

#include "stage/errors.h"
#include "util/alloc.h"
#include "util/u64map.h"

static size_t slot(uint64_t key, size_t cap) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static int grow(stage_u64map_t *m) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    uint64_t *keys = stage__calloc(cap, sizeof *keys);
    void **vals = stage__calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        stage__free(keys);
        stage__free(vals);
        return STAGE_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = slot(m->keys[i], cap);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    stage__free(m->keys);
    stage__free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int stage__u64map_put(stage_u64map_t *m, uint64_t key, void *val) {
    if (!key) return STAGE_EINVAL;
    if ((m->count + 1) * 2 > m->cap && grow(m)) return STAGE_ENOMEM;
    size_t i = slot(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->count++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

void *stage__u64map_get(const stage_u64map_t *m, uint64_t key) {
    if (!m->cap || !key) return NULL;
    for (size_t i = slot(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key) return m->vals[i];
    return NULL;
}

void *stage__u64map_take(stage_u64map_t *m, uint64_t key) {
    if (!m->cap || !key) return NULL;
    size_t i = slot(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) return NULL;
    void *val = m->vals[i];
    /* backward-shift the entries after i that probed past it */
    for (size_t j = (i + 1) & (m->cap - 1); m->keys[j];
         j = (j + 1) & (m->cap - 1)) {
        size_t home = slot(m->keys[j], m->cap);
        if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->count--;
    return val;
}

void stage__u64map_each(const stage_u64map_t *m,
                        void (*fn)(uint64_t key, void *val, void *ud),
                        void *ud) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) fn(m->keys[i], m->vals[i], ud);
}

void stage__u64map_free(stage_u64map_t *m) {
    stage__free(m->keys);
    stage__free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->count = 0;
}
