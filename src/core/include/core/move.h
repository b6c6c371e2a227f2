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
** is in the actor's mailbox, which travels in the image. B forwards again,
** to the new theatre, only after the import there. No message ever waits
** at a theatre the actor left. Moves of one actor are queued at B and run
** one after another. An actor that never moved has no hub: its messages
** never meet this code. One that arrived by a move is marked ACTOR_MOVED:
** senders on its own theatre then go through the inbox too, behind what
** they sent while it was away.
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

/* Node peer's session ended (it died, or cannot be reached): moves that
** wait for its answer end (an actor it was to take in is taken back; one
** that was there is lost). Any thread. */
void stage__move_node_down(stage_node_t *node, const char *peer);

/* Free t's hubs (teardown): held messages fail with Stopped. */
void stage__move_free(stage__theatre_t *t);

#endif
