/*
** net/sources.h: what sources.c (the sources store: storing, fetching)
** and updates.c (stage.update_type) share. Internal to src/net; the
** loop's owner only.
*/
#ifndef STAGE_NET_SOURCES_H
#define STAGE_NET_SOURCES_H

#include "netnode.h"

typedef struct waiter {
    struct waiter *next;
    stage__sources_cb cb;
    void *arg;
} waiter_t;

/* The put of one type's code: under way, or done (kept for the run). */
typedef struct put {
    struct put *next;
    stage__type_t *ty;
    bool done;
    int status;   /* done: 0, or STAGE_ECLASH */
    bool refresh; /* a refresh is under way: no waiters, no news */
    bool stale;   /* the last refresh found other code (logged) */
    waiter_t *waiters;
    uint64_t started; /* loop ms: waiters wait PUT_WAIT_MS at most */
} put_t;

/* How long a spawn_at waits for the put of its type's code: a DHT that is
** slow to answer (a ring still settling) must not hold spawns longer; the
** put goes on, and the node there asks the store again once if it does
** not have the code yet. */
#define PUT_WAIT_MS 2000

/* A text this node's types point to since an update: kept for the run. */
typedef struct kept {
    struct kept *next;
    size_t len;
    char text[];
} kept_t;

/* What a DHT request of ours is for (reqs). */
struct update;

typedef struct op {
    bool is_put;
    put_t *put;                /* a put */
    struct fetch *fetch;       /* a get (sources.c) */
    struct update *update;     /* an update's put ... */
    char type[STAGE_TYPE_MAX]; /* ... of this type */
    bool find;                 /* ... or its look at the types store */
} op_t;

struct stage__sources {
    stage_u64map_t reqs; /* DHT request id -> op_t */
    uint64_t refresh_at; /* loop ms of the next refresh of its puts */
    struct fetch *fetches;
    put_t *puts;
    bool rerun;   /* a held frame is taken up again: not held twice */
    kept_t *kept; /* texts of updated types (below) */
};

struct update;

/* The put of ty's code this node made, or NULL. */
put_t *stage__sources_put_find(stage__sources_t *s, const stage__type_t *ty);
/* "actor type 'T': the sources store has other code for it ..." */
void stage__sources_clash_text(char *buf, size_t len, const stage__type_t *ty);

/* updates.c: a DHT answer for an update: its put of type's code ended
** with status; its look at the types store (x) came. */
void stage__updates_stored(struct update *u, const char *type, int status);
void stage__updates_found(stage__netnode_t *nn, struct update *u,
                          const stage_dht_effect_t *x);
/* Free the texts updates kept (the node closes). */
void stage__updates_close(stage__sources_t *s);

#endif
