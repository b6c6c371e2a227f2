/*
** dht/etable.h: the ordered table of a manager's entries, by (key, sub).
**
** A list of sorted chunks of up to ETAB_CHUNK entries (a one-level
** B+-tree): a lookup searches the chunks by their last entry (kept with
** the chunk's pointer and count in a dense array), then inside one; an insert
** or a removal moves entries inside one chunk only (a full chunk splits in two,
** and the chunk pointers shift: ETAB_CHUNK times
** fewer than the entries). Walking in (key, sub) order goes chunk by
** chunk.
** Invariants: entries ascend strictly by (key, sub) across the chunks; no
** chunk is empty; two neighbouring chunks hold more than ETAB_CHUNK / 2
** entries together (a removal or a filter merges them), so the chunks
** are more than a quarter full on average.
** Pointers: an entry stays where it is until the next insert, remove or
** filter on its table, which may move any entry (as the sorted vector it
** replaces did); keep a position (etab_it_t) or the (key, sub) across
** such a call, never an entry_t *. A position is invalidated by any
** change too, but for the one stage__etab_remove is given: it updates it.
** The table never frees an entry's value: its owner (table.c) does.
** Pure data structure: no I/O, one thread.
*/
#ifndef STAGE_DHT_ETABLE_H
#define STAGE_DHT_ETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One entry held here. */
typedef struct entry {
    uint64_t key, sub, owner, ver;
    uint64_t expires;   /* absolute ms */
    uint64_t out_since; /* ms since it left our range (0: in range) */
    uint8_t index;
    bool stale; /* held across a stop of this manager (ring.c, woke): a
                ** merge takes a higher version into it, whoever owns it */
    bool gone;  /* a tombstone: the item was removed at version ver. No
                ** value, never read; kept a lease so that a merge cannot
                ** bring back an older copy (table.c) */
    uint32_t len;
    char *value;
} entry_t;

/* 128 entries of 72 bytes: moving half a chunk is a few kilobytes */
#define ETAB_CHUNK 128

typedef struct etab_chunk {
    entry_t v[ETAB_CHUNK];
} etab_chunk_t;

/* A chunk, its count and its last entry's (key, sub): the search over the
** chunks reads these, together, and not the chunks. */
typedef struct etab_slot {
    uint64_t key, sub;
    size_t n;
    etab_chunk_t *ch;
} etab_slot_t;

typedef struct etable {
    etab_slot_t *c; /* in order, none empty */
    size_t nc, cap;
    size_t n; /* entries */
} etable_t;

/* A position: entry i of chunk c; c == nc (i == 0) is the end. */
typedef struct etab_it {
    size_t c, i;
} etab_it_t;

/* The position of the first entry >= (key, sub) (the end if none). */
etab_it_t stage__etab_lower(const etable_t *t, uint64_t key, uint64_t sub);

/* The entry at it, or NULL at the end. Borrowed (see Pointers above). */
static inline entry_t *stage__etab_at(const etable_t *t, etab_it_t it) {
    return it.c < t->nc ? &t->c[it.c].ch->v[it.i] : NULL;
}

/* Step it to the next entry and return it, or NULL at the end. */
static inline entry_t *stage__etab_next(const etable_t *t, etab_it_t *it) {
    if (it->c >= t->nc) return NULL;
    if (++it->i == t->c[it->c].n) {
        it->c++;
        it->i = 0;
    }
    return stage__etab_at(t, *it);
}

/* Insert a copy of e at it, which must be stage__etab_lower of e's (key,
** sub), not present. Returns the stored entry, or NULL: out of memory
** (nothing changed). */
entry_t *stage__etab_insert(etable_t *t, etab_it_t it, const entry_t *e);

/* Remove the entry at it (not the end; its value is the caller's); it
** then points at the entry that followed (or the end). */
void stage__etab_remove(etable_t *t, etab_it_t *it);

/* Visit every entry in order; those keep returns false for are removed
** (keep frees their values). */
void stage__etab_filter(etable_t *t, bool (*keep)(entry_t *e, void *arg),
                        void *arg);

/* Free the chunks (not the values); the table is empty and usable. */
void stage__etab_free(etable_t *t);

#endif
