/*
** node/relocate.h: messages that follow an actor whose node left or died
** — the migrations store (thesis 4.3, Listing 4.10) read and written — as
** a pure state machine: no clock (milliseconds come in), no I/O. The
** driver (net/relocate.c; tests/sim/reloc_sim.c) holds the frames, asks
** the store what the FIND effects ask, sends and fails what SEND and FAIL
** say, and makes the PUT and REMOVE requests.
**
** Reading. A frame for a target `old` that must be relocated (bounced,
** given back by a goodbye, sent to a node that left or was declared dead)
** is held under old, by the driver's handle, and the store is asked where
** old went (at most `window` FINDs under way; the others wait their turn,
** in order). Per target:
**   (new) -> LOOKING [stage_reloc_frame]
**   LOOKING -> FOUND cur  [answer: an id, not old itself]: every frame
**       held goes, in the order it came, to cur (SEND), and later ones at
**       once (the answer is cached);
**   LOOKING -> NONE [answer: nothing, or not an id]: every frame held
**       fails, and later ones for `none_ms` (then the store is asked
**       again);
**   LOOKING -> RETRY [answer: an error]: asked again after `retry_ms`, up
**       to `tries` times in all; then every frame held fails, and the next
**       frame asks afresh.
** Before a SEND to cur, the driver's `gone` hook says whether cur's node
** left (or died): then the frame follows on, held under cur (a hop), up
** to `hops_max` hops; one past fails. So a loop A -> B -> A ends.
** A frame fails (FAIL) with NodeDown if it was for a node declared dead
** (why: the death's, and, if the store could not be asked, why not),
** else ActorNotFound (why: what the store said); its `id` is the target
** it was held under when it failed.
** Order: the frames for one target leave in the order they came, across
** lookups, retries and hops (a hop appends behind the frames held there).
**
** Writing. This node took actor old over as cur: record(old, cur) puts
** old -> cur into the store (PUT, at most `window` under way, the rest in
** a FIFO); a put that fails is made again at the next sweep. The entries
** stay (the DHT manager renews them) until cur stops here or leaves, when
** forget removes them (REMOVE). An entry recorded with a tag says RECORDED
** for that tag once it is in (or forgotten), once.
**
** Not thread-safe: one owner (the node's loop; the simulator).
*/
#ifndef STAGE_NODE_RELOCATE_H
#define STAGE_NODE_RELOCATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"

#define STAGE_RELOC_WHY_MAX 256 /* a FAIL's why, with its NUL */

enum {
    STAGE_RELOC_LIVE = 0, /* gone hook: as far as the driver knows */
    STAGE_RELOC_LEFT,     /* its node incarnation said goodbye */
    STAGE_RELOC_DEAD,     /* it was declared dead (*why says why) */
};

typedef struct stage_reloc_config {
    size_t targets_max; /* targets remembered (65536) */
    int window;         /* FINDs under way at once, and PUTs (64) */
    int hops_max;       /* places that left in turn a frame follows (8) */
    int tries;          /* FINDs per lookup when the store errs (3) */
    uint64_t none_ms;   /* "nowhere" is believed this long (1000) */
    uint64_t retry_ms;  /* a FIND that erred is made again after (200) */
    /* request ids, shared with the driver's other store requests (NULL:
    ** the machine's own counter) */
    uint64_t *next_id;
    /* Whether the node of id is gone: STAGE_RELOC_LIVE, _LEFT or _DEAD
    ** (then *why, borrowed, says why). NULL: never. */
    int (*gone)(void *ud, const stage_id_t *id, const char **why);
    void *ud;
} stage_reloc_config_t;

typedef enum stage_reloc_fx_kind {
    STAGE_RELOC_FX_FIND = 1, /* ask the store where `id` is now (req) */
    STAGE_RELOC_FX_SEND,     /* send held frame `handle` to `id` */
    STAGE_RELOC_FX_FAIL,     /* fail held frame `handle`: status, why; it
                             ** was held for `id` */
    STAGE_RELOC_FX_PUT,      /* put `id` -> `cur` into the store (req) */
    STAGE_RELOC_FX_REMOVE,   /* remove this node's entry for `id` (req) */
    STAGE_RELOC_FX_RECORDED, /* what was recorded with `tag` is in (or
                             ** forgotten): said once per tag taken */
} stage_reloc_fx_kind_t;

typedef struct stage_reloc_fx {
    int kind;
    uint64_t req;    /* FIND, PUT, REMOVE: the request (answer with it) */
    uint64_t handle; /* SEND, FAIL */
    uint64_t tag;    /* RECORDED */
    int status;      /* FAIL: STAGE_ENODE_DOWN, STAGE_EACTOR_NOT_FOUND, ... */
    stage_id_t id;
    stage_id_t cur;                /* PUT */
    char why[STAGE_RELOC_WHY_MAX]; /* FAIL */
} stage_reloc_fx_t;

typedef struct stage_reloc stage_reloc_t;

/* Fill *cfg with the defaults. */
void stage_reloc_config_init(stage_reloc_config_t *cfg);
/* A machine; cfg is copied (NULL: the defaults). NULL if out of memory. */
stage_reloc_t *stage_reloc_new(const stage_reloc_config_t *cfg);
/* Free *r (frames still held are forgotten: stage_reloc_stop first) and
** set it to NULL. */
void stage_reloc_destroy(stage_reloc_t **r);

/* Hold frame `handle` (the driver's, not 0) for target old, of a node
** incarnation that left (dead: NULL) or was declared dead (dead: why,
** copied). 0; STAGE_EINVAL (handle 0, old not an id); STAGE_ENOMEM (no
** memory, or targets_max reached): not taken, the driver fails it. */
int stage_reloc_frame(stage_reloc_t *r, uint64_t now, const stage_id_t *old,
                      uint64_t handle, const char *dead);
/* The same, for a frame whose node is down in the way status says: 0 (it
** left), STAGE_ENODE_DOWN (declared dead) or STAGE_EUNREACHABLE (never
** reached, or given up on: a node that left before this one ever knew
** it), why copied: if the store has no later place, the frame fails with
** that status and why. STAGE_EINVAL for another status. */
int stage_reloc_frame_down(stage_reloc_t *r, uint64_t now,
                           const stage_id_t *old, uint64_t handle, int status,
                           const char *why);
/* Whether frames for old go through the machine now: it holds some, asks
** the store, or knows where old went (FOUND). A driver sends there what
** it would send to old's node, so that they keep their order behind the
** held ones, and go straight where old went. */
bool stage_reloc_knows(const stage_reloc_t *r, const stage_id_t *old);
/* The store answered request req: status 0 and cur (an entry; NULL or
** not an id: a garbage entry, as none), STAGE_ENAME_NOT_FOUND (none), or
** another error. True if req was one of the machine's (FIND or PUT). */
bool stage_reloc_answer(stage_reloc_t *r, uint64_t now, uint64_t req,
                        int status, const stage_id_t *cur);
/* Whether req is a FIND of the machine's under way (its answer carries
** the entry the driver reads for stage_reloc_answer). */
bool stage_reloc_finding(const stage_reloc_t *r, uint64_t req);
/* Time passed (retries; harmless to call early). */
void stage_reloc_tick(stage_reloc_t *r, uint64_t now);
/* When to call stage_reloc_tick next (absolute ms; UINT64_MAX: never). */
uint64_t stage_reloc_next_timer(const stage_reloc_t *r);
/* This node stops: every frame held fails Stopped. */
void stage_reloc_stop(stage_reloc_t *r);

/* This node took actor old over as cur: old -> cur goes into the store
** (replacing an entry of old: the latest place wins). tag (0: none) is
** said by RECORDED once the entry is in. 1 if the tag was taken, 0 if not
** (tag 0, or the entry waits for another tag already), STAGE_EINVAL (not
** ids), STAGE_ENOMEM. */
int stage_reloc_record(stage_reloc_t *r, uint64_t now, const stage_id_t *old,
                       const stage_id_t *cur, uint64_t tag);
/* The ids recorded as leading to cur (at most max, into out). */
size_t stage_reloc_formers(const stage_reloc_t *r, const stage_id_t *cur,
                           stage_id_t *out, size_t max);
/* How many actors of this node entries lead to (0: forget has nothing to
** do). */
size_t stage_reloc_recorded(const stage_reloc_t *r);
/* Actor cur stopped here or left: the entries leading to it go (REMOVE). */
void stage_reloc_forget(stage_reloc_t *r, uint64_t now, const stage_id_t *cur);
/* The sweep: entries the store did not take are put again. */
void stage_reloc_sweep(stage_reloc_t *r, uint64_t now);

/* The effects since they were last read; valid until the next call of
** this function (inputs made meanwhile, even while running these, add to
** the next list). */
const stage_reloc_fx_t *stage_reloc_effects(stage_reloc_t *r, size_t *n);
/* Whether effects wait to be read. */
bool stage_reloc_pending(const stage_reloc_t *r);

#endif
