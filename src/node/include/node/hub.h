/*
** node/hub.h: moves between nodes — the home scheme (docs/migration.md
** "Between nodes") — as a pure state machine for one node: the hubs of
** the actors born here (their home, which sequences them wherever they
** live) and the guests living here (actors whose home is another node).
** No clock, no I/O, no threads: inputs in, effects out. Messages, images
** and move requests are the driver's handles, opaque here. core/move.c
** drives it in a node (one machine per theatre: the serials born there),
** tests/sim/hub_sim.c over many seeds.
**
** A home hub (an actor born here; `me`, its id here):
**   HERE  --move(dest)-->     EXPORT [FX_EXPORT]
**   EXPORT --exported-->      IMPORT [STEP IMPORT to dest; image kept]
**          --export refused-> HERE [FX_ANSWER why]
**   AWAY  --move(dest)-->     OUT [STEP OUT to the node it is at]
**   OUT   --IN(image)-->      IMPORT, or HERE if dest is this node
**                             [FX_RESTORE]
**          --REFUSED-->       AWAY [FX_ANSWER why]
**          --its node down--> lost: AWAY as it was [FX_ANSWER NodeDown]
**   IMPORT --ARRIVED(at)-->   AWAY at [FX_DROP image; FX_ANSWER at]
**          --FAILED, or dest down--> HERE [FX_RESTORE image; answer why]
** While a move is under way (EXPORT, OUT, IMPORT) every message for the
** actor is held; at its end they go, in the order they came, where it is
** (FX_DELIVER here, FX_FORWARD to its id elsewhere), then the next move
** asked starts. A hub that is HERE with nothing held or queued is
** forgotten (an actor that never moved needs none).
**   AWAY --handover--> (ADOPT sent) --ADOPTED--> handed: the node it is
**   at is its home now; messages still go there, moves are asked there
**   [FX_HANDED, with the answer's status, either way].
**   AWAY --renamed--> [STEP NAMES to the node it is at: its record again]
**   renamed while a move is under way: at the move's end, if it is away
**   then (an IMPORT that went before the change does not carry it).
** A guest (arrived here under `serial`; `home`, its home id):
**   LIVE --OUT from home--> SHIP [FX_EXPORT] --exported--> LEFT [STEP IN
**        to home]: a tomb (its home id, 48 bytes) forwards to home what
**        still comes to its id here; --refused--> LIVE [STEP REFUSED]
**   LEFT --FORGET from home--> forgotten (its messages find nothing)
**   LEFT --this node drains--> TOMB to home (there: FX_REHOMED, the id
**        -> the home id into the store) --ADOPTED--> FX_LED: handed
**   LIVE --move asked here--> a REQ to home, which sequences it
**   LIVE, SHIP --NAMES from home--> its record is the one NAMES carries
**   LIVE --ADOPT--> this node's own [FX_REHOMED, then STEP ADOPTED]
**   LIVE --its home's session ended--> this node's own [FX_REHOMED, with
**        the record its IMPORT, or the latest NAMES, carried: the ids
**        that led to its home id, the names its home held for it]
**   LIVE --stopped--> forgotten [STEP GONE to home; there, FX_GONE]
** The home records each node an IN came from (it keeps a tomb of the
** actor; a node whose session ended is struck off), and once the actor
** stops (there, or GONE) sends each of them FORGET.
** Invariant: an actor is in one place: its image leaves a node only after
** the actor stopped running there, and is kept (at home) until the
** destination answered; a destination that died before is never believed
** to have it.
**
** Not thread-safe: one owner (one theatre of the node; the simulator).
*/
#ifndef STAGE_NODE_HUB_H
#define STAGE_NODE_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"

#define STAGE_HUB_WHY_MAX 256 /* a failure's why, with its NUL */

/* The steps between nodes (core/netif.h's STAGE__MOVE_*, same numbers). */
enum {
    STAGE_HUB_REQ = 1,  /* move `at` to node `where` (answer: req) */
    STAGE_HUB_OUT,      /* home -> the actor's node: ship `at` home */
    STAGE_HUB_IN,       /* that node -> home: the image */
    STAGE_HUB_REFUSED,  /* that node -> home: it stays (status, why) */
    STAGE_HUB_IMPORT,   /* home -> destination: take the image in */
    STAGE_HUB_ARRIVED,  /* destination -> home: it lives as `at` */
    STAGE_HUB_FAILED,   /* destination -> home: not taken in (status, why) */
    STAGE_HUB_GONE = 9, /* the node it lived at -> home: it stopped as at */
    STAGE_HUB_ADOPT,    /* home -> the actor's node: make `at` your own */
    STAGE_HUB_ADOPTED,  /* that node -> home: done (status 0) or not */
    STAGE_HUB_NAMES,    /* home -> the actor's node: its record now */
    STAGE_HUB_FORGET,   /* home -> a node it left: it stopped, drop its
                        ** tombs */
    STAGE_HUB_TOMB      /* a node that drains -> home: its actor `home` had
                        ** id `at` there (answer: ADOPTED) */
};

typedef struct stage_hub_step {
    int op;
    stage_id_t home;            /* the actor's id at its home (all but REQ) */
    stage_id_t at;              /* REQ: whom; OUT: its id there; ARRIVED, GONE,
                                ** ADOPT, ADOPTED: its id at the sender */
    char where[STAGE_ADDR_MAX]; /* REQ */
    uint64_t req;   /* REQ: the asker's request (answered with it) */
    uint64_t image; /* IN, IMPORT: the driver's handle */
    int status;     /* REFUSED, FAILED, ADOPTED */
    char why[STAGE_HUB_WHY_MAX];
    /* IMPORT, ADOPT, NAMES: the driver's record of the ids that led to
    ** `home` before it and the names its home holds for it (opaque bytes,
    ** borrowed for the call: the machine keeps a copy with the guest; a
    ** STEP effect leaves it to the driver, which fills it in as it
    ** sends); FX_REHOMED: the record to store */
    const char *formers;
    size_t flen;
} stage_hub_step_t;

typedef enum stage_hub_fx_kind {
    STAGE_HUB_FX_DELIVER = 1, /* msg to local actor `serial` */
    STAGE_HUB_FX_FORWARD,     /* msg to `id` (another node's actor) */
    STAGE_HUB_FX_STEP,        /* send `step` to node `node` */
    STAGE_HUB_FX_EXPORT,      /* take local actor `serial` out (it stops
                              ** running here): stage_hub_exported or
                              ** stage_hub_export_refused */
    STAGE_HUB_FX_IMPORT,      /* take `image` in, a guest of `id` (its
                              ** home): stage_hub_imported or
                              ** stage_hub_import_refused */
    STAGE_HUB_FX_RESTORE,     /* `image` runs here again as `serial` (it
                              ** cannot fail: the image came from here) */
    STAGE_HUB_FX_DROP,        /* `image` is not needed any more */
    STAGE_HUB_FX_ANSWER,      /* request `req`: status 0 and `id`, or a
                              ** failure (status, why) */
    STAGE_HUB_FX_REHOMED,     /* actor `id` is this node's as `cur` (its
                              ** home left or died; or, a TOMB, `id` was
                              ** its id on a node that drains): put id and
                              ** the ids in step.formers -> cur into the
                              ** store;
                              ** then, if `node` is set, send it ADOPTED
                              ** (home id, at cur, status 0) */
    STAGE_HUB_FX_HANDED,      /* the handover of actor `id` (its id here)
                              ** to the node it lives at as `cur` was
                              ** answered: `status` 0 (its home now), or
                              ** why not (asked again next round) */
    STAGE_HUB_FX_GONE,        /* actor `serial`, born here, stopped on the
                              ** node it lived at (GONE): what this node
                              ** holds for it (its names) goes, as for an
                              ** actor that stops here */
    STAGE_HUB_FX_LED,         /* the handover of the tomb `id` (an id of
                              ** this node) to its actor's home `cur` was
                              ** answered: `status` 0 (the store leads
                              ** that id home now), or why not */
} stage_hub_fx_kind_t;

typedef struct stage_hub_fx {
    int kind;
    uint64_t msg, serial, image, req;
    stage_id_t id, cur;
    char node[STAGE_ADDR_MAX];
    int status;
    char why[STAGE_HUB_WHY_MAX];
    stage_hub_step_t step; /* STEP; REHOMED: formers (valid until the
                           ** effects are read again) */
} stage_hub_fx_t;

/* Where a local actor is, as the machine sees it (stage_hub_place). */
enum {
    STAGE_HUB_PLACE_HERE = 0, /* here, or no hub: the driver's */
    STAGE_HUB_PLACE_MOVING,   /* a move between nodes is under way */
    STAGE_HUB_PLACE_AWAY,     /* born here, lives on another node */
    STAGE_HUB_PLACE_HANDED,   /* ... which is its home now (or is asked) */
    STAGE_HUB_PLACE_LEFT      /* a guest gone home: forwarded there */
};

typedef struct stage_hub stage_hub_t;

/* A machine for the node at addr (incarnation inc). NULL if out of
** memory. */
stage_hub_t *stage_hub_new(const char *addr, uint32_t inc);
/* Free *h and set it to NULL (held messages, images and requests are
** forgotten: the driver fails its own). */
void stage_hub_destroy(stage_hub_t **h);

/* A message for local id `serial`: delivered, forwarded or held. */
void stage_hub_msg(stage_hub_t *h, uint64_t serial, uint64_t msg);
/* Move local actor `id` (an id of this node) to node `dest`; req is
** answered (FX_ANSWER) once, with its new id or why not (or passed on in
** a STEP REQ). Moves asked while one is under way wait, in order; a
** driver with moves of its own (core/move.c: inside the node) may keep
** the one queue itself and ask here one at a time. */
void stage_hub_move(stage_hub_t *h, const stage_id_t *id, const char *dest,
                    uint64_t req);
/* FX_EXPORT's answers: the actor left, its image is `image`; or it stays
** (status < 0, why). */
void stage_hub_exported(stage_hub_t *h, uint64_t serial, uint64_t image);
void stage_hub_export_refused(stage_hub_t *h, uint64_t serial, int status,
                              const char *why);
/* FX_IMPORT's answers: it runs here as `serial`; or not (status, why). */
void stage_hub_imported(stage_hub_t *h, uint64_t image, uint64_t serial);
void stage_hub_import_refused(stage_hub_t *h, uint64_t image, int status,
                              const char *why);
/* A step from node peer (copied). */
void stage_hub_step(stage_hub_t *h, const char *peer,
                    const stage_hub_step_t *s);
/* The names this node holds for local actor `serial` (born here) changed:
** if it lives on another node, that node is sent its record again (STEP
** NAMES), now, or once a move under way has ended; nothing if it is here
** (its next IMPORT carries the record) or handed over. */
void stage_hub_renamed(stage_hub_t *h, uint64_t serial);
/* The record guest `serial` keeps (its IMPORT's, or the latest NAMES'):
** *len bytes, borrowed until the machine changes; NULL if none. */
const char *stage_hub_record(const stage_hub_t *h, uint64_t serial,
                             size_t *len);
/* Local actor `serial` stopped: a guest tells its home (GONE); one born
** here tells the nodes it left tombs at (FORGET). */
void stage_hub_stopped(stage_hub_t *h, uint64_t serial);
/* Node peer is gone (its session ended: ended; else a step could not go,
** or nothing answered at its address): moves waiting for it end (an
** import it never took: NodeDown if ended, else NodeUnreachable); if
** ended, the guests whose home it was are this node's own. */
void stage_hub_node_down(stage_hub_t *h, const char *peer, bool ended);
/* This node drains: ADOPT to the node each away actor lives at, and
** TOMB to the home of each actor that left a tomb here (the home puts
** that id -> its id into the migrations store: FX_REHOMED there). The
** count of actors and tombs still to hand over (asked, or busy moving). */
size_t stage_hub_handover(stage_hub_t *h);
/* Whether local id `serial` has a hub or is a guest here (living, or a
** tomb). */
bool stage_hub_knows(const stage_hub_t *h, uint64_t serial);
/* Whether actor `serial`, born here, left tombs on other nodes: its stop
** must be told (stage_hub_stopped), for FORGET. */
bool stage_hub_visited(const stage_hub_t *h, uint64_t serial);
/* The tombs this node keeps (guests that left). */
size_t stage_hub_tombs(const stage_hub_t *h);
/* Where local id `serial` is (STAGE_HUB_PLACE_*); *node (may be NULL)
** gets the node it lives at, or goes to while MOVING (its home, for a
** guest on its way there), and *id (may be NULL) its id there (AWAY,
** HANDED; LEFT: its home id). Untouched for HERE. */
int stage_hub_place(const stage_hub_t *h, uint64_t serial, const char **node,
                    stage_id_t *id);

/* The effects since they were last read; valid until the next call. */
const stage_hub_fx_t *stage_hub_effects(stage_hub_t *h, size_t *n);

#endif
