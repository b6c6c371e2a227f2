/*
** core/image.h: the actor image — what travels when an actor moves (weak
** mobility, DESIGN.md "Migration"): a live actor, between two messages,
** turned into bytes, and bytes turned back into a live actor in another
** theatre, of this node or another, which goes on where it stopped.
**
** The image is one msgpack array (the one encoding used everywhere):
**
**   [ "stage.image", 1,            magic and version
**     type,                        the type's name (str)
**     impl,                        "lua" or "c": the kind that runs it
**     id,                          its id where it was (ext id)
**     flags,                       IMAGE_BORN: its birth has run
**     restart,                     nil, or what a RESTART type keeps:
**       [args (bin: birth's msgpack array), sender (id or nil),
**        remote (bool), count (int), ages (array of seconds since each
**        of the last restarts, oldest first)]
**     state,                       nil (not born yet), or bin: the kind's
**                                  encoding of its state (Lua: the self
**                                  table, lua/limage.c; C: the type's
**                                  encode callback)
**     names,                       array of str: the names it holds here
**     messages ]                   array, in mailbox order, of
**       [method (str), args (bin), flags (int: IMAGE_MSG_*),
**        sender (id or nil), reply (nil, or [address (str),
**        incarnation (int), token (int)]: where the caller's future waits)]
**
** What travels: the above. A queued call keeps its caller's future where
** it is: the exporting node holds it under a token (stage__replies_hold)
** and the image names that node and token, so the reply made after the
** move reaches the caller (on this node directly; from another node the
** integration sends it back to the token's node).
**
** What does not travel, and why (export refuses, the actor stays intact):
**   - a turn under way: an actor in a handler, or suspended in an await
**     (its coroutine is a C stack and a Lua thread): STAGE_EBUSY, retry
**     once the handler has finished;
**   - runtime turns already queued for it (a timer's firing, a callback,
**     a monitor's DOWN), sends of its own still waiting on futures
**     (pipelining), continuations (Lua next/catch) still pending: they
**     hold functions of this theatre: STAGE_EBUSY, they finish soon;
**   - armed timers of a Lua actor and monitors of its own: functions of
**     one theatre's Lua state: STAGE_EENCODE; cancel them in departing
**     and set them again in arrived. (A C actor's timers and the watches
**     of others on an actor are not in the image: a move inside the
**     node carries them, core/move.h);
**   - an image past the node's max_message (it travels as one message
**     does): STAGE_ETOOBIG;
**   - pinned and creatable actors: STAGE_EINVAL; C types without encode
**     and decode, state that cannot be encoded (a Lua function, coroutine,
**     userdata other than a reference, future): STAGE_EENCODE, naming the
**     field.
** Names are listed for the integration (which claims them again on
** another node); on this node they stay bound to the id, which an import
** here keeps.
**
** Hooks: departing runs (as a turn of the actor that cannot suspend)
** before the image is made; if it fails the move is refused
** (STAGE_EHANDLER) and the actor stays. If the export is refused after
** departing ran, arrived runs in place, so what departing released is set
** up again. arrived runs at the end of an import, as such a turn too,
** before the actor's queued messages. Neither runs for an actor whose
** birth has not run (its birth message travels with its messages).
**
** Images come from the network: an import checks every field before it
** creates anything, and a malformed image is STAGE_EDECODE with a message.
** Reply tokens are counters, not secrets: an image that names this node
** takes the held reply of its token, so images must come only from nodes
** of the system (the cluster key, when there is one, is what says so).
** Theatre thread only (the theatre given).
*/
#ifndef STAGE_CORE_IMAGE_H
#define STAGE_CORE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/future.h"
#include "stage/pack.h"
#include "stage/stage.h"

#define STAGE__IMAGE_MAGIC "stage.image"
#define STAGE__IMAGE_VERSION 1

enum { IMAGE_BORN = 1 };
enum { IMAGE_MSG_SYSTEM = 1, IMAGE_MSG_STOP = 2 };

/* Write the image of actor a of theatre t (t's thread; a not in a turn)
** to out, after running its departing hook. The actor stays as it was:
** then either stage__actor_export_commit (it left) or
** stage__actor_export_abort (it stays). 0, or STAGE_EBUSY, STAGE_EINVAL,
** STAGE_EENCODE, STAGE_EHANDLER (departing failed), STAGE_ETOOBIG,
** STAGE_ENOMEM, with the reason in err (out as it was). */
int stage__actor_export(stage__theatre_t *t, stage__actor_t *a,
                        stage_pack_t *out, char *err, size_t errlen);
/* The same, but a's queued messages stay in its mailbox and are not in the
** image (a move inside the node hands them over as they are: a move then
** costs the state, not the backlog). The checks are the same. */
int stage__actor_export_bare(stage__theatre_t *t, stage__actor_t *a,
                             stage_pack_t *out, char *err, size_t errlen);
/* The image of a (data, len) is on its way: remove a from t without its
** death and without failing its queued messages (they travel; the image
** holds their callers' futures). Its names stay bound to its id. t's
** thread. */
void stage__actor_export_commit(stage__theatre_t *t, stage__actor_t *a);
/* The image of a (data, len) will not be used: let go of the calls it
** holds and run a's arrived hook in place. t's thread. */
void stage__actor_export_abort(stage__theatre_t *t, stage__actor_t *a,
                               const char *data, size_t len);

typedef struct stage__import_opts {
    /* A reply the image holds on another node (address, incarnation,
    ** token): return a new future whose completion answers that call (the
    ** integration's), or NULL. bind NULL: such an image is refused. */
    stage__future_t *(*bind_reply)(stage_node_t *node, const char *address,
                                   uint32_t incarnation, uint64_t token,
                                   void *ud);
    /* The actor a is made, its state and messages in, and its arrived
    ** hook is about to run: give it what travelled beside the image (a
    ** move inside the node: core/move.c). May be NULL. */
    void (*adopt)(stage__theatre_t *t, stage__actor_t *a, void *ud);
    void *ud;
    /* nonzero: take the actor in under this serial of this node (a move
    ** between nodes bringing it back to its birth id, core/move.c) */
    uint64_t serial;
} stage__import_opts_t;

/* Create in theatre t (t's thread) the actor the image data[0..len)
** describes, with its state, its queued messages in order, and its
** calls' futures, then run its arrived hook. An image of an actor of
** this node keeps its id (the shared info then says it lives in t), and
** is imported only once its export was committed, or while the theatre
** it left keeps it leaving (core/move.h: one live actor per id);
** another node's gets a new id on t. opts may be NULL. *old_id and *new_id
** (may be NULL) get its ids. 0, or STAGE_EDECODE (malformed),
** STAGE_ETYPE_NOT_FOUND (no such type here, or of another kind),
** STAGE_EEXISTS (that id lives here already), STAGE_EUNREACHABLE (a call
** held elsewhere and no bind_reply), STAGE_ENOMEM, with err. Nothing is
** created on error. */
int stage__actor_import(stage__theatre_t *t, const char *data, size_t len,
                        const stage__import_opts_t *opts, stage_id_t *old_id,
                        stage_id_t *new_id, char *err, size_t errlen);

/* The actor type an image names, into type[STAGE_TYPE_MAX], and whether
** it is a Lua one (*lua): 0, or STAGE_EDECODE (not an image). Any thread;
** data is hostile. */
int stage__image_type(const char *data, size_t len, char *type, bool *lua);

/* An image that will never be imported: fail the calls it holds on this
** node with status and why. Any thread. */
void stage__image_drop(stage_node_t *node, const char *data, size_t len,
                       int status, const char *why);

/* Held replies (image.c): the futures of calls whose message travels in an
** image. Hold takes a reference and returns its token (0: ENOMEM); take
** returns the future with that reference, or NULL. Any thread. */
uint64_t stage__replies_hold(stage_node_t *node, stage__future_t *f);
stage__future_t *stage__replies_take(stage_node_t *node, uint64_t token);
/* Fail and release every held reply (node teardown). */
void stage__replies_free(stage_node_t *node);

/* INTERNAL, FOR TESTS ONLY: move the idle actor id of this node to theatre
** `to` of the same node through export and import, and complete f (a
** reference is taken) with true, or with why not. The real move — with
** forwarding of messages that race it, per-sender ordering across it, the
** migrations store and moves between nodes — is the integration's: here a
** message sent while the actor is in flight may be refused or overtaken.
** Tests wait for f before they send again. Any thread. 0 or
** STAGE_EINVAL / STAGE_ENOMEM (f untouched). */
int stage__test_move(stage_node_t *node, const stage_id_t *id, int to,
                     stage__future_t *f);

#endif
