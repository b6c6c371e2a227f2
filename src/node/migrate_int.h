/*
** node/migrate_int.h: what the files of one place's migration machine
** share: place.c (the machine, effects, records), migrate.c (the actor
** side: entries, aliases, moves, forwarding), route.c (the sender side:
** routes, flushes, resolving) and drain.c (senders that move).
*/
#ifndef STAGE_NODE_MIGRATE_INT_H
#define STAGE_NODE_MIGRATE_INT_H

#include "node/migrate.h"
#include "util/u64map.h"

/* Actor-side states of an address key at a place. */
enum { E_RESIDENT = 1, E_PREPARING, E_PREPARED, E_FORWARD };

/* Frames held while a move is being decided (ITEM and RETIRE only). */
typedef struct fvec {
    stage_mig_frame_t *v;
    size_t n, cap;
} fvec_t;

typedef struct ivec {
    stage_mig_item_t *v;
    size_t n, cap;
} ivec_t;

typedef struct entry {
    uint64_t key;
    int state;
    stage_mig_actor_t *actor; /* RESIDENT, PREPARING, PREPARED */
    stage_mig_addr_t next;    /* PREPARING: next.place; FORWARD: next addr */
    stage_mig_addr_t from;    /* PREPARED: the old address */
    uint64_t grace_until;     /* FORWARD */
    int aliases_in;           /* aliases here that lead to this key */
    int holds;                /* stage_mig_hold */
    fvec_t held;              /* PREPARING, PREPARED */
    /* FORWARD: in m->fwd, oldest grace_until first (grace is constant) */
    struct entry *fprev, *fnext;
} entry_t;

/* An address of an earlier place, forwarded to a key here. */
typedef struct alias {
    stage_mig_addr_t addr;
    uint64_t key;
    struct alias *next; /* same hash */
} alias_t;

enum { R_DIRECT = 1, R_FLUSHING, R_COLLECTING, R_RESOLVING, R_AFTER, R_LOST };

typedef struct route {
    stage_mig_addr_t birth;
    stage_mig_addr_t addr;  /* where this place's messages go */
    stage_mig_addr_t after; /* RESOLVING, AFTER: the address to drain */
    stage_mig_addr_t to;    /* AFTER: where the FLUSH went */
    int state;
    int err;            /* LOST */
    uint64_t flush;     /* number of the FLUSH outstanding */
    int tries;          /* store answers that did not place it */
    uint64_t due;       /* RESOLVING: ask the store then (0: asked) */
    uint64_t used;      /* the last message through it */
    bool idle_flush;    /* FLUSHING to be forgotten: nothing held */
    ivec_t held;        /* sent while switching: go after the bounced */
    ivec_t bounced;     /* came back from the old address: go first */
    struct route *next; /* same hash */
} route_t;

/* A stay here of a sender actor that moved, and one target: its messages
** to the target wait until tokens sent through the places it left have
** reached the target, and until its earlier stays here have released
** theirs. Released in the order of the stays (epochs). */
typedef struct drain_tok {
    uint32_t place;
    uint64_t handle;
    bool done;
} drain_tok_t;

typedef struct drain {
    stage_mig_addr_t sender, target; /* births */
    uint64_t skey;                   /* the sender's key in this stay */
    uint32_t epoch;                  /* the sender's epoch in this stay */
    bool left;                       /* the stay is over */
    bool released;                   /* its held messages went */
    int waiting;                     /* tokens not answered yet */
    size_t ntok, captok;
    drain_tok_t *tok;
    ivec_t held;
    struct drain *next; /* same hash */
} drain_t;

struct stage_mig {
    stage_mig_config_t cfg;
    stage_u64map_t entries; /* key -> entry_t */
    stage_u64map_t aliases; /* hash(addr) -> alias_t chain */
    stage_u64map_t routes;  /* hash(birth) -> route_t chain */
    stage_u64map_t dead;    /* place + 1 -> (void *)1 */
    stage_u64map_t drains;  /* hash(sender, target) -> drain_t chain */
    size_t naliases, nroutes;
    entry_t *fwd_head, *fwd_tail; /* FORWARD entries by grace_until */
    uint64_t route_timer; /* no route needs a tick before (a lower bound) */
    uint64_t flushes;     /* FLUSH numbers */
    stage_mig_fx_t *fx;
    size_t nfx, capfx;
    bool read;    /* effects read: the next call starts a new list */
    void **grave; /* freed when the next list starts */
    size_t ngrave, capgrave;
    stage_mig_stats_t st;
};

/* ---- shared helpers (place.c) ------------------------------------------ */

/* v grown to hold need elements of size (capacity in *cap); aborts when
** out of memory, like every allocation of the machine. */
void *stage__mig_grow(void *v, size_t *cap, size_t need, size_t size);
/* A copy of p[0..n) (NULL if n is 0). */
void *stage__mig_dup(const void *p, size_t n, size_t size);
/* A deep copy of a (its mailbox, addresses and places too). */
stage_mig_actor_t *stage__mig_actor_copy(const stage_mig_actor_t *a);

uint64_t stage__mig_hash(stage_mig_addr_t a);
/* Start an API call: clear what was read. */
void stage__mig_enter(stage_mig_t *m);
stage_mig_fx_t *stage__mig_fx(stage_mig_t *m, int kind);
void stage__mig_send(stage_mig_t *m, uint32_t place,
                     const stage_mig_frame_t *f);
/* Free p when the current effects are dropped. */
void stage__mig_bury(stage_mig_t *m, void *p);
bool stage__mig_is_dead(const stage_mig_t *m, uint32_t place);
int stage__mig_ipush(ivec_t *v, const stage_mig_item_t *it);

/* ---- the sender side (route.c) ----------------------------------------- */

/* A sender-bound frame (FLUSHED, BOUNCE, FAILED, HINT, CALL_AT) arrived,
** or was produced here for this place's own items. */
void stage__mig_route_frame(stage_mig_t *m, uint64_t now,
                            const stage_mig_frame_t *f);
/* item of this place through via, in its turn: the route, or the fast
** path (route.c). */
void stage__mig_send_routed(stage_mig_t *m, uint64_t now,
                            const stage_mig_item_t *item, stage_mig_addr_t via);
/* 1 if item, from the moved sender a, waits in a drain (drain.c). */
bool stage__mig_drain_holds(stage_mig_t *m, uint64_t now,
                            const stage_mig_actor_t *a,
                            const stage_mig_item_t *item);
/* A DRAIN came: put its token behind what the sender sent from here. */
void stage__mig_on_drain(stage_mig_t *m, uint64_t now,
                         const stage_mig_frame_t *f);
/* A token of this place's drains was answered. */
void stage__mig_on_drained(stage_mig_t *m, uint64_t now,
                           const stage_mig_item_t *it);
/* Free every drain. */
void stage__mig_drains_free(stage_mig_t *m);
/* The moved sender at key departs: forget the drains it finished here. */
void stage__mig_drains_departed(stage_mig_t *m, uint64_t key);
/* 1 if entry key at this place is a resident actor that moved here; its
** record is then in *a. */
bool stage__mig_moved_sender(stage_mig_t *m, uint64_t key,
                             const stage_mig_actor_t **a);
/* Answer token item `it` (it reached its actor). */
void stage__mig_token_reached(stage_mig_t *m, const stage_mig_item_t *it);

/* A frame this place sent as a sender (hops 0) came back undelivered. */
void stage__mig_route_undelivered(stage_mig_t *m, uint64_t now, uint32_t to,
                                  const stage_mig_item_t *it);
void stage__mig_route_dead(stage_mig_t *m, uint64_t now, uint32_t place);
/* Places died (after stage__mig_route_dead for each): tokens sent to them
** will not come back; the others are asked again (one may have died on
** its way). */
void stage__mig_drains_dead(stage_mig_t *m, uint64_t now);
void stage__mig_route_tick(stage_mig_t *m, uint64_t now);
uint64_t stage__mig_route_next(const stage_mig_t *m);
void stage__mig_route_free(stage_mig_t *m);

#endif
