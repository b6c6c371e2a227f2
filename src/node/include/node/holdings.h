/*
** node/holdings.h: what a node holds in the DHT for itself, and giving it
** back — the names it claimed for its actors (released when the actor
** stops), the types it is registered for (withdrawn when it has had no
** actor of the type for a while), and leaving: all of it removed before
** the manager leaves the ring. A pure state machine over the node's DHT
** manager (itself pure): time comes in as milliseconds of the driver's
** clock, the requests go into the manager, whose effects the driver
** drains and sends as after any other call into it; no I/O, no clock.
**
** Names. A name claimed for an actor of this node is released when the
** actor stops (and when the node leaves), so find_name never outlives the
** actor by more than the time the release takes to reach the primary.
**
** Types. A node registers for a type when its first actor of the type is
** born (the announce) and withdraws once it has had none at
** STAGE__HOLD_WITHDRAW_SWEEPS sweeps in a row (a type whose actors
** come and go does not flap), and from all of them when it leaves. How
** many actors a type has here, and whether its registration may go, are
** the driver's to say (hooks): the node's own directory knows.
**
** Leaving: STAYING -> LEAVING [stage__hold_leave: every name released,
** every type withdrawn] -> LEFT [every removal confirmed, or
** STAGE__HOLD_LEAVE_WAIT_MS passed, or nothing to confirm, or alone in
** the ring: the driver leaves the ring]. The removals go first and the
** ring leave after them: were the manager to hand its range over while a
** removal is on its way, a copy of the entry could travel with the range
** and outlive the removal until its lease.
** Not thread-safe: one owner (the node's loop).
*/
#ifndef STAGE_NODE_HOLDINGS_H
#define STAGE_NODE_HOLDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"
#include "node/names.h"
#include "util/u64map.h"

#define STAGE__HOLD_WITHDRAW_SWEEPS 2  /* idle sweeps before a withdrawal */
#define STAGE__HOLD_LEAVE_WAIT_MS 1000 /* removals confirmed within */

/* What the driver knows of a type (ty: its handle, opaque here). */
typedef struct stage__hold_hooks {
    void *ud;
    /* How many actors of ty this node has now. */
    size_t (*count)(void *ud, void *ty);
    /* 1 if ty's registration may go now (no actor is being born), after
    ** which a birth announces it again. */
    bool (*retire)(void *ud, void *ty);
    /* A line for the debug log (what: "released the name", "withdrew
    ** from type"; rc: the DHT's answer to the request); may be NULL. */
    void (*note)(void *ud, const char *what, const char *name, int rc);
} stage__hold_hooks_t;

typedef struct stage__hold_type {
    void *ty;
    char name[STAGE_TYPE_MAX];
    char super[STAGE_TYPE_MAX]; /* its supertype ("": none) */
    int idle;                   /* sweeps in a row without an actor */
} stage__hold_type_t;

typedef struct stage__hold {
    stage__hold_hooks_t hooks;
    stage_dht_t *dht;      /* this node's manager, borrowed */
    uint64_t *next_id;     /* the driver's request ids (shared with calls) */
    stage__names_t *names; /* the name cache: a name released goes from it */
    char self[STAGE_ADDR_MAX]; /* this node's address and incarnation */
    uint32_t incarnation;
    stage_u64map_t claims; /* name key -> claim */
    stage__hold_type_t *types;
    int ntypes, captypes;
    stage_u64map_t byes; /* leaving: removals not yet confirmed */
    bool leaving, left;
    uint64_t leave_by; /* leaving: when to stop waiting for them */
} stage__hold_t;

/* What stage__hold_leave asks of the driver. */
enum {
    STAGE__HOLD_LEFT_ALREADY = 0, /* nothing: it is leaving, or left */
    STAGE__HOLD_LEAVE_NOW,        /* leave the ring now */
    STAGE__HOLD_LEAVE_WAIT        /* wait for the confirmations, until
                                   ** leave_by at the latest */
};

/* Start h for this node (self, incarnation) over dht, with request ids
** from *next_id and the name cache names (all borrowed for h's life). */
void stage__hold_init(stage__hold_t *h, stage_dht_t *dht, uint64_t *next_id,
                      stage__names_t *names, const char *self,
                      uint32_t incarnation, const stage__hold_hooks_t *hooks);
/* Free h's memory; nothing is released (the leave does that). */
void stage__hold_close(stage__hold_t *h);

/* The DHT claimed name for actor serial of this node: it is released when
** that actor stops. 0 or STAGE_ENOMEM (the lease ends it then). */
int stage__hold_claimed(stage__hold_t *h, const char *name, uint64_t serial);
/* How many names this node holds for its actors. */
size_t stage__hold_claims(const stage__hold_t *h);
/* Actor serial of this node stopped (0: every actor, before leaving):
** release the names claimed for it, fire and forget (a lost release ends
** with the lease). Returns how many. */
size_t stage__hold_release(stage__hold_t *h, uint64_t serial, uint64_t now);

/* The names claimed for actor serial (not 0): at most max, into out
** (borrowed until h changes). */
size_t stage__hold_names_of(const stage__hold_t *h, uint64_t serial,
                            const char **out, size_t max);
/* Actor serial's names are another node's now (it took them over, with
** the actor, as the drain handed it there): forgotten here, neither
** released nor renewed. Returns how many. */
size_t stage__hold_hand_over(stage__hold_t *h, uint64_t serial);
/* The first actor of type (handle ty; super: its supertype, "" for none)
** was born here: register this node for it (again: a registration is a
** lease the manager renews; a failure only means other nodes find this
** node's actors after the next announce). */
void stage__hold_announce(stage__hold_t *h, void *ty, const char *type,
                          const char *super, uint64_t now);
/* Every half second: withdraw from the types this node has had no actor
** of at STAGE__HOLD_WITHDRAW_SWEEPS sweeps in a row. Returns how many
** withdrawals went. */
size_t stage__hold_sweep(stage__hold_t *h, uint64_t now);
/* The types this node is registered for. */
int stage__hold_types(const stage__hold_t *h);
/* A node died, and the entries its manager owned went with it: maybe the
** supertype link of one of this node's types (one item per (supertype,
** type), shared by every node that has the type, owned by the one that
** wrote it last). Put the links of this node's types again now, rather
** than at its next renewal (lease/3): find_subtype finds its actors
** meanwhile. Returns how many were put. */
size_t stage__hold_relink(stage__hold_t *h, uint64_t now);

/* Leave gracefully at now: release every name, withdraw from every type.
** STAGE__HOLD_LEAVE_NOW, _LEAVE_WAIT (until h->leave_by, or until
** stage__hold_bye_done says the last came) or _LEFT_ALREADY. */
int stage__hold_leave(stage__hold_t *h, uint64_t now);
/* DHT request req finished: 1 if it was the last removal the leave waited
** for (the driver leaves the ring: on its next loop turn, as it may be
** draining the manager's effects now). */
bool stage__hold_bye_done(stage__hold_t *h, uint64_t req);
/* The driver leaves the ring now: 1 the first time (*unconfirmed: the
** removals never confirmed, whose entries end with their lease), 0 if it
** had already. */
bool stage__hold_ring_left(stage__hold_t *h, size_t *unconfirmed);

#endif
