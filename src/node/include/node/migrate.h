/*
** node/migrate.h: the migration protocol — an actor moves between places
** while senders keep sending to it — as a pure state machine: no sockets,
** no threads, no clock. Events come in (a frame arrived, a frame came back
** undelivered, a place died, the store answered, time passed), effects go
** out (send this frame, deliver that message, install the actor that
** arrived, ask the store, report a failed message). docs/migration.md has
** the protocol, its states and why it keeps each sender's order.
**
** A place is a theatre of a node incarnation; the driver numbers places
** (stage_mig_addr_t.place) and keeps one stage_mig_t per place. Between two
** places it gives a FIFO channel (a theatre's inbox, or the reliable
** session between two nodes); a frame sent to a place that died comes back
** through stage_mig_undelivered, and stage_mig_dead says the place is gone.
**
** Only moved actors and their senders meet this machine. A message to an
** actor that never moved goes straight to its birth place, as before, and a
** sender that never heard of a move has no route here (the driver tests
** stage_mig_routes() == 0 and skips the machine altogether).
**
** Actor side, per address key at a place:
**   (none) -> RESIDENT [stage_mig_depart creates it for a native actor]
**   RESIDENT -> PREPARING(dest) [stage_mig_depart: MOVE sent, arrivals held]
**   PREPARING -> FORWARD(new) [READY: COMMIT sent, held ones forwarded]
**   PREPARING -> RESIDENT [dest died: FX_RESTORED]
**   (MOVE) -> PREPARED(src) [at dest: READY sent, arrivals held]
**   PREPARED -> RESIDENT [COMMIT, or the source died: FX_ARRIVED]
**   FORWARD -> (none) [grace over and upstream retired: RETIRE sent on;
**                      or the next place died]
** Sender side, per target actor (its birth address), a route:
**   DIRECT -> FLUSHING [a hint: FLUSH on the old address, sends held]
**   DIRECT|FLUSHING -> COLLECTING [a message bounced: wait for the FLUSH]
**   FLUSHING -> DIRECT [FLUSHED: switch address, release the held]
**   COLLECTING|DIRECT -> RESOLVING [FLUSH bounced, or the place died]
**   RESOLVING -> AFTER [store answered: FLUSH-after on the new address]
**   AFTER -> DIRECT [FLUSHED: resend the bounced, release the held]
**   RESOLVING -> LOST [the store cannot place the actor: all fail]
**   DIRECT -> FLUSHING -> (forgotten) [unused for route_idle_ms: once its
**                      pipe is empty, sends take the fast path again]
** A sender actor that moved here: per target, its messages are held (a
** drain) until tokens sent through each place it left (DRAIN) have
** reached the target (DRAINED), then go through the route.
**
** Threads: not thread-safe; one thread drives one place.
*/
#ifndef STAGE_NODE_MIGRATE_H
#define STAGE_NODE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where an actor is (or was): a place and a key unique at that place. The
** driver maps it to an actor id (a node-to-node move mints a new id, a
** theatre-to-theatre move may keep the serial). key 0: no address. */
typedef struct stage_mig_addr {
    uint32_t place;
    uint64_t key;
} stage_mig_addr_t;

static inline bool stage_mig_addr_eq(stage_mig_addr_t a, stage_mig_addr_t b) {
    return a.place == b.place && a.key == b.key;
}

enum { STAGE_MIG_MSG = 1, STAGE_MIG_FLUSH = 2, STAGE_MIG_TOKEN = 3 };

/* What travels to an actor: a message (the driver's handle), a flush (a
** sender place's marker that comes back answered once everything it sent
** before is in the actor's mailbox), or a drain token (the same for a
** sender actor that moved: answered to the place it moved to). */
typedef struct stage_mig_item {
    uint8_t kind;           /* STAGE_MIG_MSG, _FLUSH or _TOKEN */
    uint8_t call;           /* MSG: a future waits for it at the sender */
    uint16_t hops;          /* places that forwarded it so far */
    uint32_t sender;        /* the sending place */
    uint32_t reply;         /* TOKEN: the place waiting for it */
    uint32_t epoch;         /* TOKEN: the sender's stay (epoch) waiting */
    uint64_t skey;          /* MSG: the sending actor's key at sender (0:
                            ** none); only a sender that moved needs it */
    uint64_t handle;        /* MSG: the driver's; FLUSH, TOKEN: a number */
    stage_mig_addr_t birth; /* the target actor (its identity) */
    stage_mig_addr_t after; /* FLUSH: answer once this address is closed;
                            ** TOKEN: the moved sender (its birth) */
} stage_mig_item_t;

/* An actor's migration record: who it is, its addresses still forwarded
** to it (oldest first, the current one last), and what travels with it. */
typedef struct stage_mig_actor {
    stage_mig_addr_t birth;
    uint32_t epoch; /* moves so far: the store keeps the highest */
    size_t nhist, caphist;
    stage_mig_addr_t *hist;
    size_t npend, cappend; /* flushes waiting for their `after` to close */
    stage_mig_item_t *pend;
    size_t nmsgs; /* MOVE: the mailbox, in order */
    stage_mig_item_t *msgs;
    uint64_t state;        /* the driver's handle on the packed state */
    size_t nfrom, capfrom; /* every place it left, once, newest first */
    uint32_t *from;
} stage_mig_actor_t;

typedef enum stage_mig_fkind {
    STAGE_MIG_F_ITEM = 1, /* item for address `to` */
    STAGE_MIG_F_MOVE,     /* the actor leaving `to` (its old address) */
    STAGE_MIG_F_READY,    /* dest holds the actor once at `to` as `at` */
    STAGE_MIG_F_COMMIT,   /* the source gave up the actor: run it at `to` */
    STAGE_MIG_F_RETIRE,   /* nothing more comes through `to`: close `at` */
    STAGE_MIG_F_FLUSHED,  /* to a sender: flush item answered; actor at `at` */
    STAGE_MIG_F_BOUNCE,   /* to a sender: item not taken at `to` */
    STAGE_MIG_F_FAILED,   /* to a sender: item lost with a place (err) */
    STAGE_MIG_F_HINT,     /* to a sender: item.birth is now at `at` */
    STAGE_MIG_F_CALL_AT,  /* to a sender: call item goes from `from` to
                          ** at.place (is there, if they are equal) */
    STAGE_MIG_F_DRAIN,    /* to a place a sender left: send token item
                          ** behind what that sender sent from there */
    STAGE_MIG_F_DRAINED,  /* to item.reply: token item reached the actor */
} stage_mig_fkind_t;

/* One frame between places. MOVE owns its actor record: whoever ends up
** with the frame frees it (stage_mig_frame_clear). */
typedef struct stage_mig_frame {
    uint8_t kind; /* stage_mig_fkind_t */
    uint32_t epoch;
    int err;             /* FAILED: STAGE_E* */
    uint32_t from;       /* sender-bound frames: the place that sent it */
    stage_mig_addr_t to; /* see the kinds */
    stage_mig_addr_t at; /* see the kinds */
    stage_mig_item_t item;
    stage_mig_actor_t *actor; /* MOVE */
} stage_mig_frame_t;

typedef enum stage_mig_fx_kind {
    STAGE_MIG_FX_SEND = 1, /* send frame to place `place` (takes it) */
    STAGE_MIG_FX_DELIVER,  /* put item (a MSG) in actor `key`'s mailbox */
    STAGE_MIG_FX_ARRIVED,  /* install actor as `key`: its state, then its
                           ** mailbox items[0..n); run arrived(); store
                           ** birth -> addr at epoch (migrations, names,
                           ** types) */
    STAGE_MIG_FX_RESTORED, /* the move of `key` failed (dest died): the actor
                           ** is here again, mailbox items[0..n) */
    STAGE_MIG_FX_DEPARTED, /* the move of `key` committed: free it here */
    STAGE_MIG_FX_RESOLVE,  /* ask the store where birth is: answer with
                           ** stage_mig_resolved */
    STAGE_MIG_FX_FAIL,     /* item (this place's MSG) failed with err: fail
                           ** its future, or log a one-way send */
    STAGE_MIG_FX_CALL_AT,  /* this place's call item is on its way from
                           ** `from` to `place` (from == place: it is at
                           ** place): fail it if either dies. Notices
                           ** from different places may cross: the one
                           ** with the most item.hops is the latest, and
                           ** of two with as many, the arrival */
} stage_mig_fx_kind_t;

typedef struct stage_mig_fx {
    int kind; /* stage_mig_fx_kind_t */
    uint32_t place;
    uint32_t from; /* CALL_AT */
    uint64_t key;
    int err;
    uint32_t epoch;
    stage_mig_addr_t birth, addr;
    stage_mig_frame_t frame;       /* SEND */
    stage_mig_item_t item;         /* DELIVER, FAIL, CALL_AT */
    const stage_mig_item_t *items; /* ARRIVED, RESTORED */
    size_t nitems;
    uint64_t state; /* ARRIVED, RESTORED */
} stage_mig_fx_t;

typedef struct stage_mig_config {
    uint32_t place;            /* this place */
    uint64_t grace_ms;         /* an old address forwards this long (1000) */
    uint64_t resolve_retry_ms; /* the store is asked again after (50) */
    int resolve_tries;         /* answers that cannot place it: lost (20) */
    uint64_t route_idle_ms;    /* a route unused this long is forgotten,
                               ** after a FLUSH (10000) */
    /* a fresh key for an actor arriving here (the driver's serials) */
    uint64_t (*new_key)(void *ud);
    /* 1 if key is an actor here that never moved (the driver's table):
    ** items for it are delivered as for any resident (may be NULL) */
    bool (*native)(void *ud, uint64_t key);
    void *ud;
} stage_mig_config_t;

typedef struct stage_mig stage_mig_t; /* opaque: one place */

/* Fill *cfg with the defaults (place 0, new_key NULL: set them). */
void stage_mig_config_init(stage_mig_config_t *cfg);
/* A place's machine; cfg is copied. NULL if out of memory or new_key is
** missing. Free with stage_mig_destroy. */
stage_mig_t *stage_mig_new(const stage_mig_config_t *cfg);
/* Free m and everything it holds; sets *m to NULL. */
void stage_mig_destroy(stage_mig_t **m);
/* Free what a frame owns (a MOVE's record); the frame is then empty. */
void stage_mig_frame_clear(stage_mig_frame_t *f);
/* Free an actor record made by this module. */
void stage_mig_actor_free(stage_mig_actor_t *a);

/* ---- actor side ----------------------------------------------------- */

/* Move the actor at key (between messages) to place dest: its mailbox
** items[0..n) (copied) and its packed state travel. 0; STAGE_EBUSY if it is
** moving already; STAGE_EINVAL if it is not here or dest is this place or
** dead; STAGE_ENOMEM. */
int stage_mig_depart(stage_mig_t *m, uint64_t now, uint64_t key, uint32_t dest,
                     const stage_mig_item_t *items, size_t n, uint64_t state);
/* The actor at key stopped: it is forgotten here (later items bounce). */
void stage_mig_stopped(stage_mig_t *m, uint64_t key);
/* Keep key's forwarding past its grace while the driver holds something of
** the departed actor's here (an outstanding future); release undoes it. */
void stage_mig_hold(stage_mig_t *m, uint64_t key);
void stage_mig_release(stage_mig_t *m, uint64_t now, uint64_t key);

/* ---- sender side ---------------------------------------------------- */

/* Send item (a MSG of this place to item->birth) through address via (the
** id the sender holds). Without a route and with via the birth address,
** this is the fast path: one SEND. item->skey names the sending actor at
** this place: if it moved here, its first message to each target waits
** until what it sent to that target from the places it left is in the
** target's mailbox (a drain: one round trip). */
void stage_mig_send(stage_mig_t *m, uint64_t now, const stage_mig_item_t *item,
                    stage_mig_addr_t via);
/* The store's answer to FX_RESOLVE: birth is at addr (key 0: unknown). */
void stage_mig_resolved(stage_mig_t *m, uint64_t now, stage_mig_addr_t birth,
                        stage_mig_addr_t addr);
/* The store's answer to FX_RESOLVE: the actor born at birth is gone for
** good (it stopped: STAGE_EACTOR_NOT_FOUND); every message to it fails with
** err at once, without the tries an unknown answer gets. */
void stage_mig_resolved_gone(stage_mig_t *m, uint64_t now,
                             stage_mig_addr_t birth, int err);
/* Routes held (0: every send is the fast path). */
size_t stage_mig_routes(const stage_mig_t *m);

/* ---- both ----------------------------------------------------------- */

/* Frame f came from place from. Takes what f owns. */
void stage_mig_recv(stage_mig_t *m, uint64_t now, uint32_t from,
                    stage_mig_frame_t *f);
/* Frame f, sent to place to, was not acknowledged when to's session ended
** (its fate is unknown). Takes what f owns. Call after stage_mig_dead. */
void stage_mig_undelivered(stage_mig_t *m, uint64_t now, uint32_t to,
                           stage_mig_frame_t *f);
/* Places places[0..n) died (a node incarnation was declared dead: its
** theatres): nothing more comes from them, nothing more goes to them. */
void stage_mig_dead(stage_mig_t *m, uint64_t now, const uint32_t *places,
                    size_t n);
/* Time passed (harmless to call early). */
void stage_mig_tick(stage_mig_t *m, uint64_t now);
/* When to call stage_mig_tick next (absolute ms; UINT64_MAX: never). */
uint64_t stage_mig_next_timer(const stage_mig_t *m);
/* The effects produced since they were last read; valid until the next
** call into m. */
const stage_mig_fx_t *stage_mig_effects(stage_mig_t *m, size_t *n);

/* Counts, for tests and metrics. */
typedef struct stage_mig_stats {
    uint64_t forwarded, bounced, flushes, resolves, hints, retired, lost;
    size_t entries, aliases, routes;
} stage_mig_stats_t;
void stage_mig_stats(const stage_mig_t *m, stage_mig_stats_t *out);

#endif
