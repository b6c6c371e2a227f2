/*
** core/move.h: moving an actor between the theatres of one node
** (stage.migrate, stage_migrate), with nothing lost, nothing duplicated
** and each sender's order kept. docs/migration.md "Inside one node".
**
** Every message to an actor enters its birth theatre first (the id names
** it: stage__route), so the birth theatre B is the actor's sequencer: for
** an actor away from B, or moving, B keeps a hub (the theatre it is at,
** and while it moves the messages it holds). B forwards on one channel
** (its pushes to one inbox are FIFO), and every move is asked of B, which
** stops forwarding, then sends the export order to the actor's theatre C
** behind everything it forwarded there: when C runs the order, all of it
** is in the actor's mailbox, which travels in the image, straight to the
** new theatre D. B forwards again, to D, only after the import there (D
** tells it). No message ever waits at a theatre the actor left. Moves of
** one actor are queued at B and run one after another. C keeps the actor,
** taking nothing, until D has taken it in (then C drops it) or could not
** (then it serves on at C, as it was). The watches of others' monitors on
** it and a C actor's timers go along (not in the image: they are this
** process's); watch requests go through B like messages. To another node
** (the home scheme, stage__migrate_node below) those cannot go: an actor
** bound by them is refused such a move (NotSendable); the image goes to
** B, which sends it there and keeps a copy until the destination answers
** (and takes the actor back from that), and C drops the actor once its
** image leaves the node. An actor that never moved has no hub: its
** messages never meet this code. One that arrived by a move is marked
** ACTOR_MOVED: senders on its own theatre then go through the inbox too,
** behind what they sent while it was away.
**
** Threads: stage__migrate from any thread; the rest on the theatre given.
*/
#ifndef STAGE_CORE_MOVE_H
#define STAGE_CORE_MOVE_H

#include <stdbool.h>

#include "core/actor.h"
#include "core/future.h"
#include "core/netif.h"
#include "core/theatre.h"

/* Move actor serial of this node to theatre `to`, once it has finished its
** current message (or, suspended in an await, that handler). f (may be
** NULL; a reference is taken) gets the actor's id at its new place, or the
** reason it did not move (the actor then stays, serving). self: asked by
** the actor itself in its turn (it takes no more messages until it moves).
** 0, or STAGE_EINVAL (no theatre `to`, not an actor of this node),
** STAGE_ENOMEM (f untouched). Any thread. */
int stage__migrate(stage_node_t *node, uint64_t serial, int to,
                   stage__future_t *f, bool self);

/* The same, to wherever actor *by of this node is when the move starts
** (where it goes, if it is moving): a by that has stopped fails the move
** with ActorNotFound naming it. */
int stage__migrate_near(stage_node_t *node, uint64_t serial,
                        const stage_id_t *by, stage__future_t *f, bool self);

/* Actor a, in its turn on t, asks to move itself to `to`, or next to *by
** (not NULL): it takes no more messages until it has moved; the move's
** failure is logged. Asked in its arrived hook (ACTOR_ARRIVING), the move
** is asked after the messages it arrived with have been handled (a turn
** queued behind them): an actor that moves on at each arrival still
** handles every message, each after one more move at most. 0, or
** STAGE_EINVAL (moving already, no such theatre, another node's *by),
** STAGE_ENOMEM. t's thread. */
int stage__migrate_self(stage__theatre_t *t, stage__actor_t *a, int to,
                        const stage_id_t *by);
/* The same to node `where` (an address; stage__migrate_node): asked in
** arrived, after the messages it came with. 0, or STAGE_EINVAL (moving
** already, no network, address too long), STAGE_ENOMEM. t's thread. */
int stage__migrate_self_node(stage__theatre_t *t, stage__actor_t *a,
                             const char *where);

/* Envelope e (a message, or a theatre call about actor serial: a watch
** request) found serial not here, or leaving t: 1 if it follows the
** actor — sent to its birth theatre, or, there, held while it moves or
** sent to where it is — else 0 (at its birth theatre, no hub: the actor
** is here or gone; or it lives on another node, where watches do not
** follow it: the caller finds it gone). A held theatre call runs where
** the actor is. t's thread. */
int stage__move_follow(stage__theatre_t *t, uint64_t serial, stage__env_t *e);
/* Message e reached t for an actor kept there while its image travels
** (ACTOR_LEAVING): it follows the actor. t's thread. */
void stage__move_leaving(stage__theatre_t *t, stage__env_t *e);

/* Hand actor a over to theatre `to` (steal.c): a is queued in t, its
** birth theatre, has never moved, and is between turns, taken off the run
** queue by the caller. It goes as a move asked of t would, without the
** request and the order (t is both the sequencer and where a is): its
** image goes to `to` now. If it cannot travel it stays, queued again,
** marked ACTOR_NOSTEAL unless the refusal was only Busy; nothing is
** logged. 0, or STAGE_EBUSY (a move of it is under way: a hub for it, or
** ACTOR_MOVING or ACTOR_LEAVING; or it is suspended in a handler) or
** STAGE_ENOMEM (either way a stays, queued again). t's thread. */
int stage__move_steal(stage__theatre_t *t, stage__actor_t *a, int to);

/* A message e for serial missed t's actor table: 1 if t is its birth
** theatre and holds a hub for it (e is then forwarded or held), else 0.
** t's thread. */
int stage__move_miss(stage__theatre_t *t, stage__env_t *e);

/* Actor a, marked ACTOR_MOVING, has finished its turn: run the move that
** waited for it (or fail it, if a stops). t's thread, a not in a turn. */
void stage__move_resume(stage__theatre_t *t, stage__actor_t *a);

/* Actor serial stopped in t: its birth theatre drops its hub (if no move
** is under way). t's thread. */
void stage__move_gone(stage__theatre_t *t, uint64_t serial);

/* 1 if actor serial, born in t, lives on another node now, or is on its
** way there (it is not in t's directory, but it is alive). t's thread. */
bool stage__move_lives_away(const stage__theatre_t *t, uint64_t serial);

/* Move actor serial of this node to node `where` (an address; this
** node's own: its birth theatre), as stage__migrate: its home sequences
** the move (an actor that arrived here asks it there). f gets its id at
** the new place, or why it stayed. 0, STAGE_EINVAL (no network, bad
** address), STAGE_ENOMEM. Any thread. */
int stage__migrate_node(stage_node_t *node, uint64_t serial, const char *where,
                        stage__future_t *f, bool self);

/* Ask the node of actor `who` (another node) to move it to node `where`;
** f (a reference is taken) gets its new id or why not. 0 or STAGE_EINVAL
** (no network). Any thread. */
int stage__migrate_remote(stage_node_t *node, const stage_id_t *who,
                          const char *where, stage__future_t *f);

/* A MOVE step from node peer (decoded by the network layer; borrowed):
** run on its theatre. f: a REQ's answer to its caller (a reference is
** taken). Any thread. */
void stage__move_net_in(stage_node_t *node, const char *peer,
                        const stage__move_msg_t *q, stage__future_t *f);

/* Node peer cannot be reached (a step could not go, or nothing answered
** at its address: an import it never took fails NodeUnreachable, not
** NodeDown), or its session ended
** (ended: it died, left or restarted): moves that wait for its answer end
** (an actor it was to take in is taken back; one that was there is lost);
** ended, the actors here whose home it was become this node's own
** (net_hooks.rehomed with STAGE_ENODE_DOWN). Any thread. */
void stage__move_node_down(stage_node_t *node, const char *peer, bool ended);

/* The names this node holds for its actor serial changed (one was given,
** or let go): if the actor lives on another node, that node learns its
** record again (a NAMES step; net/netmove.c fills the record in as it
** sends), so that the names outlive this node with the actor. Any
** thread; nothing if no actor ever moved between nodes. */
void stage__move_renamed(stage_node_t *node, uint64_t serial);

/* One round of handing this node's homes over (the drain; move.c
** "handing homes over"): in every theatre, each actor born there that
** lives on another node, not moving, is handed to that node (ADOPT); the
** answers come through net_hooks.rehomed. fn(ud, theatre, asked, busy)
** once per theatre (on its thread; theatre -1 at teardown): `busy`
** actors were moving or waiting for an answer, to be asked again. 0 or
** STAGE_EINVAL (no network). Any thread. */
typedef void (*stage__handover_fn)(void *ud, int theatre, size_t asked,
                                   size_t busy);
int stage__move_handover(stage_node_t *node, stage__handover_fn fn, void *ud);

/* The mobile actors of every theatre, for a drain: fn(ud, theatre,
** serials[0..n), nomem) once per theatre, on its thread (theatre -1 at
** teardown; nomem: that theatre's could not be listed). 0. Any thread. */
typedef void (*stage__listing_fn)(void *ud, int theatre,
                                  const uint64_t *serials, size_t n,
                                  bool nomem);
int stage__move_listing(stage_node_t *node, stage__listing_fn fn, void *ud);

/* Free t's hubs (teardown): held messages fail with Stopped. */
void stage__move_free(stage__theatre_t *t);

#endif
