/*
** net/netnode.h: the I/O loop of a networked node (netnode.c), its directory
** driver (lookup.c: the DHT manager and lookups through it), what the
** node holds in the DHT for itself (holdings.c) and its join (join.c).
** Internal; everything here runs on the loop's owner unless noted: the
** I/O thread until the node starts, then theatre 0 (see netnode.c).
*/
#ifndef STAGE_NET_NETNODE_H
#define STAGE_NET_NETNODE_H

#include <stdbool.h>
#include <string.h>
#include <uv.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/envelope.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/netif.h"
#include "core/node.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "transport.h"
#include "dht/dht.h"
#include "node/calls.h"
#include "node/frames.h"
#include "node/holdings.h"
#include "node/names.h"
#include "stage/net.h"
#include "util/u64map.h"

/* The node frame kinds (src/node/frames.h has their codec). */
enum {
    FRAME_MSG = STAGE__NODE_FRAME_MSG,
    FRAME_REPLY = STAGE__NODE_FRAME_REPLY,
    FRAME_SPAWN = STAGE__NODE_FRAME_SPAWN,
    FRAME_FIND = STAGE__NODE_FRAME_FIND,
    FRAME_DHT = STAGE__NODE_FRAME_DHT,
    FRAME_NAME = STAGE__NODE_FRAME_NAME,
    FRAME_STOP = STAGE__NODE_FRAME_STOP,
    FRAME_PICK = STAGE__NODE_FRAME_PICK,
    FRAME_MONITOR = STAGE__NODE_FRAME_MONITOR, /* monitors.c */
    FRAME_DEMONITOR = STAGE__NODE_FRAME_DEMONITOR,
    FRAME_DOWN = STAGE__NODE_FRAME_DOWN,
    FRAME_NODE_DOWN = STAGE__NODE_FRAME_NODE_DOWN, /* deaths.c */
    FRAME_MOVE = STAGE__NODE_FRAME_MOVE,           /* netmove.c */
    FRAME_BOUNCE = STAGE__NODE_FRAME_BOUNCE,       /* relocate.c */
    FRAME_UPDATE = STAGE__NODE_FRAME_UPDATE        /* sources.c */
};
_Static_assert((int)STAGE__NODE_FRAME_MSG == (int)STAGE__NET_KIND_USER,
               "the node's frames are the transport's user kinds");

enum {
    ITEM_MSG = 1,
    ITEM_REPLY,
    ITEM_SPAWN,
    ITEM_DIR,
    ITEM_ANNOUNCE,
    ITEM_GONE,
    ITEM_STOP,
    ITEM_MONITOR, /* monitors.c: op 1 watch, 0 stop watching */
    ITEM_DOWN,
    ITEM_MOVE,    /* netmove.c: args holds the step, where its node */
    ITEM_REHOMED, /* relocate.c: to the old id, args the new one */
    ITEM_DRAIN,   /* netdrain.c: op says what */
    ITEM_CODE,    /* sources.c: a load of code ended (args) */
    ITEM_UPDATE   /* sources.c: an update_type (args: upd_item_t) */
};

typedef struct stage__netnode_item {
    stage__mpsc_node_t link;
    int kind;
    stage_id_t to;              /* ITEM_MSG target, ITEM_DIR id */
    stage__env_t *e;            /* ITEM_MSG */
    stage__future_t *f;         /* ITEM_REPLY: done; else: to complete */
    int op;                     /* ITEM_DIR */
    int theatre;                /* ITEM_SPAWN */
    char where[STAGE_ADDR_MAX]; /* ITEM_SPAWN node */
    char key[256]; /* ITEM_DIR key, ITEM_SPAWN/ITEM_ANNOUNCE type */
    char super[STAGE_TYPE_MAX]; /* ITEM_ANNOUNCE */
    char *args;                 /* ITEM_SPAWN; ITEM_DOWN: its message */
    size_t len;
    uint64_t mon; /* ITEM_MONITOR, ITEM_DOWN: the monitor */
} stage__netnode_item_t;

struct stage__netnode;

/* A call waiting for its REPLY (its id, peer and deadline: src/node's
** calls): it completes f, or, with cb, calls cb(nn, arg, status, value,
** len) (value: the reply, or the error message). */
typedef void (*stage__call_cb)(struct stage__netnode *nn, void *arg, int status,
                               const char *value, size_t len);
typedef struct stage__netcall {
    stage__call_t call; /* first: the node's calls hand it back */
    stage__future_t *f;
    stage__call_cb cb;
    void *arg;
} stage__netcall_t;

/* The reply owed to a remote caller (stage__future_t.on_done_arg). */
typedef struct stage__owed {
    char peer[STAGE_ADDR_MAX];
    uint32_t incarnation; /* the caller's run: its session's, at the call */
    uint64_t call;
    struct stage__netnode *nn;
    /* the type of the actor (serial: the future's target) whose reply to a
    ** message this is; NULL for the node's own answers (FIND, PICK, ...) */
    stage__type_t *type;
} stage__owed_t;

/* A frame waiting for a full peer queue to drain. */
typedef struct stage__held {
    struct stage__held *next;
    int kind;
    size_t len;
    char peer[STAGE_ADDR_MAX];
    char body[];
} stage__held_t;

typedef struct stage__netnode {
    stage_node_t *node;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t dht_timer, sweep, stop_timer, poll_timer;
    uv_timer_t calls_timer; /* at the calls' next deadline, or earlier */
    uint64_t calls_armed;   /* when it fires (loop ms); UINT64_MAX: idle */
    uv_signal_t sigterm, sigint;
    uv_thread_t thread;
    stage__mpsc_t inbox;
    stage_pack_t reply_buf; /* REPLY bodies, packed on the loop's owner */
    atomic_bool closing;
    atomic_bool joined;   /* the manager is a member of a ring */
    atomic_bool handover; /* theatre 0 asks the I/O thread for the loop */
    /* theatre 0 once it runs the loop, else NULL: on its thread, work is
    ** done at once instead of going through the inbox */
    _Atomic(stage__theatre_t *) owner;
    bool loop_done;    /* the loop stopped for good */
    uint64_t activity; /* frames and items handled: polls compare it */
    stage__transport_t *tr;
    stage_dht_t *dht;
    stage__calls_t calls;    /* open calls (src/node/calls.c) */
    stage_u64map_t reqs;     /* DHT request id -> lookup_t */
    struct lookup *asks;     /* lookups with subtypes to ask (lookup.c) */
    stage__names_t names;    /* the name cache, the runs nodes announced,
                             ** the lookups waiting to ask again
                             ** (src/node/names.c) */
    uv_timer_t rewait_timer; /* ... until the first is due (lookup.c) */
    stage__hold_t holdings;  /* the names and types this node holds, the
                             ** leave (src/node/holdings.c) */
    atomic_int nclaims;      /* its names: actor_gone skips work at 0 */
    atomic_int nrecorded;    /* its actors the migrations store leads to
                             ** (relocate.c): the same */
    uv_timer_t leave_timer;  /* the leave's wait for its removals */
    uint64_t next_id;
    uint64_t call_timeout;     /* ms */
    uint64_t drain_ms;         /* SIGTERM's drain at most; 0: none */
    bool in_effects;           /* lookup.c handles the DHT manager's effects */
    uint64_t fx_handled;       /* ... the last list of them it took (0: none) */
    struct stage__fxcopy *fxc; /* ... copied there (lookup.c), */
    size_t fxc_cap;
    char *fx_arena; /* ... with their items */
    size_t fx_arena_cap;
    size_t max_message; /* the node's: arguments and replies, encoded */
    size_t max_frame;   /* the transport's, header included */
    stage__held_t *held_head, *held_tail;
    char address[STAGE_ADDR_MAX];
    uint64_t manager;
    bool signals;
    struct stage__hosts *hosts;       /* hosts.c: this node's host entry */
    struct stage__relocate *relocate; /* relocate.c */
    struct stage__drain *drain;       /* netdrain.c: SIGTERM's drain */
    struct stage__sources *sources;   /* sources.c: code stored, fetched */
    struct stage__known *known;       /* monitors.c: the nodes seen up */
    struct stage__death *deaths;      /* deaths.c: recent verdicts */
    uint64_t lease_ms;                /* the DHT's lease (deaths.c) */
    /* joining through another node (join.c) */
    uv_timer_t join_timer;
    char join_addr[STAGE_ADDR_MAX]; /* the member's, as the transport has it */
    uint64_t join_start;            /* loop ms */
    uint64_t join_timeout_ms;       /* 0: for ever */
    uint64_t join_next_report;      /* ms after join_start */
    bool join_reported;             /* a progress line was written */
    bool join_failed;               /* gave up: never joined from now on */
} stage__netnode_t;

/* Copy a peer address into a STAGE_ADDR_MAX buffer (snprintf costs more
** than a whole message on the hot path). */
static inline void stage__addr_copy(char *dst, const char *src) {
    size_t n = strnlen(src, STAGE_ADDR_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* netnode.c */
/* The id of the actor of this node a decoded frame names (t: checked by
** the codec; whether it is ours is stage__netnode_local_target's). */
void stage__netnode_target_id(stage__netnode_t *nn,
                              const stage__node_target_t *t, stage_id_t *to);
/* The type of id if it names an actor type of this node; else NULL, and
** the call (if any) is answered ActorNotFound. */
stage__type_t *stage__netnode_local_target(stage__netnode_t *nn,
                                           const char *peer, uint64_t call,
                                           const stage_id_t *id);
/* The manager has left the ring: stop once the goodbyes are out. */
void stage__netnode_left(stage__netnode_t *nn);
int stage__netnode_send_frame(stage__netnode_t *nn, const char *peer, int kind,
                              const char *body, size_t len);
/* Open a call to peer answered through cb (f NULL). Returns its id or 0. */
uint64_t stage__netnode_call_cb(stage__netnode_t *nn, const char *peer,
                                stage__call_cb cb, void *arg);
/* Open a call to peer answered by completing f (its reference is the
** call's). Returns its id, or 0 (f failed and released). */
uint64_t stage__netnode_call_f(stage__netnode_t *nn, const char *peer,
                               stage__future_t *f);
/* Fail call id with status and msg (its frame could not go). */
void stage__netnode_call_fail(stage__netnode_t *nn, uint64_t id, int status,
                              const char *msg);
/* Close call id without calling its callback (its frame could not go). */
void stage__netnode_call_cancel(stage__netnode_t *nn, uint64_t id);
/* A future whose completion is sent to peer as the reply to call. */
stage__future_t *stage__netnode_owed(stage__netnode_t *nn, const char *peer,
                                     uint64_t call, uint64_t target);
void stage__netnode_reply_error(stage__netnode_t *nn, const char *peer,
                                uint64_t call, int status, const char *msg);

/* hosts.c */
typedef struct stage__hosts stage__hosts_t;
/* The entries of the nodes this node has sessions with: hosts[0..n) (a
** node whose entry is missing or unreadable is left out), status 0; or
** STAGE_ESTOPPED if the node stops first. Called once. It may not call
** the DHT manager (it runs among the manager's effects): what it starts
** goes through the loop. */
typedef void (*stage__hosts_cb)(stage__netnode_t *nn, void *arg, int status,
                                const stage_dht_host_t *hosts, size_t n);
int stage__hosts_start(stage__netnode_t *nn);
void stage__hosts_close(stage__netnode_t *nn);
/* Publish this node's entry now (its drain began). */
void stage__hosts_now(stage__netnode_t *nn);
/* Publish this node's entry if it is due (the sweep's). */
void stage__hosts_sweep(stage__netnode_t *nn);
/* Read the entries of the nodes with a session (cb above). 0, or
** STAGE_ENOMEM, STAGE_ESTOPPED. */
int stage__hosts_fetch(stage__netnode_t *nn, stage__hosts_cb cb, void *arg);
/* x (a DHT DONE) answers a fetch: handled, true; else false. */
bool stage__hosts_done(stage__netnode_t *nn, const stage_dht_effect_t *x);
/* A STAGE__HOSTS lookup (stage.hosts()): it->f gets the entries, this
** node's first; it is freed. */
void stage__hosts_request(stage__netnode_t *nn, stage__netnode_item_t *it);

/* netnode.c: a frame the session gave back, or a BOUNCE, follows its
** actor (true: taken so). */
bool stage__netnode_given_back(stage__netnode_t *nn, const char *peer, int kind,
                               const char *body, size_t len);
/* relocate.c: messages to actors whose home node left */
typedef struct stage__relocate stage__relocate_t;
int stage__relocate_start(stage__netnode_t *nn);
void stage__relocate_close(stage__netnode_t *nn);
/* A MSG or STOP frame (body, as it was sent) for actor old, of a node
** incarnation that left (dead: NULL) or was declared dead (dead: why):
** held, then sent where the store says it is (f: its call's future, a
** reference taken over; failed if it is nowhere: ActorNotFound, or for a
** dead node NodeDown, as without the store). False if not taken (not such
** a frame; no memory to hold it). */
bool stage__relocate_frame(stage__netnode_t *nn, const stage_id_t *old,
                           int kind, const char *body, size_t len,
                           stage__future_t *f, const char *dead);
/* The same for a node down as status says (0: it left; STAGE_ENODE_DOWN;
** STAGE_EUNREACHABLE: never reached), why: its failure if the store has
** no later place (node/relocate.h, stage_reloc_frame_down). */
bool stage__relocate_frame_down(stage__netnode_t *nn, const stage_id_t *old,
                                int kind, const char *body, size_t len,
                                stage__future_t *f, int status,
                                const char *why);
/* Whether messages to old go through relocate.c now (it holds some for
** old, or knows where old went): see stage_reloc_knows. */
bool stage__relocate_knows(stage__netnode_t *nn, const stage_id_t *old);
/* This node took actor old over as cur: put old -> cur in the store
** (again at the sweep until it takes it). */
void stage__relocate_record(stage__netnode_t *nn, const stage_id_t *old,
                            const stage_id_t *cur);
/* The ids recorded as leading to cur (at most max, into out). */
size_t stage__relocate_formers(stage__netnode_t *nn, const stage_id_t *cur,
                               stage_id_t *out, size_t max);
/* Actor serial of this node stopped or left: its entries go. */
void stage__relocate_forget(stage__netnode_t *nn, uint64_t serial);
/* The sweep: puts that failed are made again. */
void stage__relocate_sweep(stage__netnode_t *nn);
/* Make the store requests waiting for their turn (lookups, puts): not
** among the DHT manager's effects (stage__lookup_drain runs it after). */
void stage__relocate_run(stage__netnode_t *nn);
/* x (a DHT DONE) is one of relocate's: handled, true. */
bool stage__relocate_done(stage__netnode_t *nn, const stage_dht_effect_t *x);
/* net_hooks.rehomed (any thread), and its item on the loop. */
void stage__relocate_hook(stage_node_t *node, const stage_id_t *old,
                          const stage_id_t *cur, int status,
                          const char *formers, size_t flen);
void stage__relocate_item(stage__netnode_t *nn, stage__netnode_item_t *it);

/* netdrain.c: SIGTERM to a node with peers moves its actors away first */
typedef struct stage__drain stage__drain_t;
/* Start draining (SIGTERM); false if there is nothing to drain to (no
** peer: the node stops as it would). */
bool stage__drain_start(stage__netnode_t *nn);
/* Actor old of this node was handed to cur's node (status 0) or not. */
void stage__drain_rehomed(stage__netnode_t *nn, const stage_id_t *old,
                          const stage_id_t *cur, int status);
/* A tomb of this node was handed to its actor's home (status 0: the
** store leads its id there) or not (net hook `led`; any thread). */
void stage__drain_led(stage_node_t *node, int status);
/* A move the drain asked for ended (loop item). */
void stage__drain_item(stage__netnode_t *nn, stage__netnode_item_t *it);
/* A MSG or STOP frame from peer while this node bounces (the end of its
** drain): held, or sent back at once. True if bounced. */
bool stage__drain_bounce(stage__netnode_t *nn, const char *peer, int kind,
                         const char *body, size_t len);
/* Send a MSG or STOP frame back to its sender (BOUNCE), which sends it
** where the migrations store says its actor is (relocate.c). */
void stage__netnode_bounce(stage__netnode_t *nn, const char *peer, int kind,
                           const char *body, size_t len);
/* The drain's part of the node's close. */
void stage__drain_close(stage__netnode_t *nn);
/* sources.c: code that travels (the sources store) */
typedef struct stage__sources stage__sources_t;
/* The code a request waited for is loaded here (status 0), or is not
** (status, with why: a sentence naming the type and this node). Called
** once, on the loop's owner; it may not call the DHT manager. */
typedef void (*stage__sources_cb)(stage__netnode_t *nn, void *arg, int status,
                                  const char *why);
int stage__sources_start(stage__netnode_t *nn);
void stage__sources_close(stage__netnode_t *nn);
/* The first actor of ty here (its announce): store its code once. */
void stage__sources_announce(stage__netnode_t *nn, stage__type_t *ty);
/* Make sure the store has ty's code (a spawn_at of ty is about to go):
** 1 if it has (or ty's code does not travel: a C type), cb not called;
** 0: cb once the put is done (status 0, or SourceClash, or why it
** failed); or a negative error (cb not called). */
int stage__sources_store(stage__netnode_t *nn, stage__type_t *ty,
                         stage__sources_cb cb, void *arg);
/* Fetch the code of type (which this node lacks) from the sources store
** and load it; then cb. 0, or STAGE_EINVAL (not a type name),
** STAGE_ENOMEM, STAGE_ESTOPPED: cb is not called. Not from among the
** manager's effects. */
int stage__sources_need(stage__netnode_t *nn, const char *type,
                        stage__sources_cb cb, void *arg);
/* x (a DHT DONE) answers a put or a get of ours: handled, true. */
bool stage__sources_done(stage__netnode_t *nn, const stage_dht_effect_t *x);
/* A frame (a MOVE's IMPORT) whose image[0..ilen) names a Lua type this
** node lacks: hold a copy of body, fetch the type's code, and run fn on
** the frame again (then without the code, it fails naming the type; the
** fetch's failure is logged): true. false: nothing held, go on. */
typedef int (*stage__sources_frame_fn)(stage__netnode_t *nn, const char *peer,
                                       const char *body, size_t len);
bool stage__sources_hold_import(stage__netnode_t *nn, const char *peer,
                                const char *image, size_t ilen,
                                const char *body, size_t len,
                                stage__sources_frame_fn fn);
/* Every half second: ask again for what the store did not have; put
** this node's code again every lease/3, or at once after a peer went. */
void stage__sources_sweep(stage__netnode_t *nn);
/* A node went: the entries it owned may go, code among them. */
void stage__sources_peer_gone(stage__netnode_t *nn);
/* stage.update_type of type on every node: the store (the type's code
** with a line that replays the update), then an UPDATE frame to every
** node with a session, and here; done once all answered. */
void stage__sources_update(stage__netnode_t *nn, const char *type,
                           const char *methods, size_t mlen,
                           stage__code_done_fn done, void *arg);
/* An UPDATE frame: 0, or STAGE_EDECODE. */
int stage__sources_in_update(stage__netnode_t *nn, const char *peer,
                             const char *body, size_t len);
/* An ITEM_CODE: a load ended. */
void stage__sources_loaded(stage__netnode_t *nn, stage__netnode_item_t *it);

/* lookup.c */
/* Send the manager's effects and rearm its timer: after every DHT call. */
void stage__lookup_drain(stage__netnode_t *nn);
/* A random nonzero 64-bit number (manager ids, seeds, picks). */
uint64_t stage__random64(void);
int stage__lookup_start(stage__netnode_t *nn, const stage_net_config_t *cfg,
                        char *err, size_t errlen);
void stage__lookup_close(stage__netnode_t *nn);
/* Forget cached names of actors on node peer (it died or restarted). */
void stage__lookup_forget_node(stage__netnode_t *nn, const char *peer);
/* The node at peer stopped or is unreachable: the manager forgets it. */
void stage__lookup_peer_gone(stage__netnode_t *nn, const char *peer);
/* A connection to peer came up, its node announcing incarnation: if the
** node restarted (it announces another manager than the one the DHT knows
** there), the manager forgets the old one at once, and the names cached
** for the old run go. Returns 1 if peer is known to have run another
** incarnation before (it restarted), else 0. */
bool stage__lookup_peer_up(stage__netnode_t *nn, const char *peer,
                           uint32_t incarnation);
int stage__lookup_in_dht(stage__netnode_t *nn, const char *peer,
                         const char *body, size_t len);
int stage__lookup_in_find(stage__netnode_t *nn, const char *peer,
                          const char *body, size_t len);
int stage__lookup_in_pick(stage__netnode_t *nn, const char *peer,
                          const char *body, size_t len);
/* A directory request from a theatre; takes it. */
void stage__lookup_request(stage__netnode_t *nn, stage__netnode_item_t *it);

/* monitors.c */
/* Node addr's incarnation inc (0: not known; with reason STAGE_ESTOPPED
** the one last seen up there, else every one) is dead, for reason (the
** STAGE_E* of on_peer_down): monitors of its actors fire with NodeDown,
** this node's watches for its monitors go, and on_node_down runs if it
** was up. */
void stage__netnode_node_down(stage__netnode_t *nn, const char *addr,
                              uint32_t incarnation, int reason);
/* A connection to addr's incarnation inc completed its handshake: if that
** incarnation is new (or was declared dead), on_node_up runs; an older
** incarnation seen up there is dead (a restart). */
void stage__netnode_node_up(stage__netnode_t *nn, const char *addr,
                            uint32_t incarnation);
/* MONITOR (on) and DEMONITOR frames, DOWN frames: 0 or STAGE_EDECODE. */
int stage__netmon_in_watch(stage__netnode_t *nn, const char *peer,
                           const char *body, size_t len, bool on);
int stage__netmon_in_down(stage__netnode_t *nn, const char *peer,
                          const char *body, size_t len);
/* Send the frame of an ITEM_MONITOR or ITEM_DOWN. */
void stage__netmon_out(stage__netnode_t *nn, stage__netnode_item_t *it);
void stage__netmon_close(stage__netnode_t *nn);
/* The DHT manager id addr's incarnation announced when it came up, or 0. */
uint64_t stage__netnode_known_manager(stage__netnode_t *nn, const char *addr,
                                      uint32_t incarnation);

/* netmove.c: moves between nodes (core/move.c's MOVE steps) */
/* The core hook: send step q to node `to` (REQ: f answers it). */
void stage__netmove_hook(stage_node_t *node, const char *to,
                         const stage__move_msg_t *q, stage__future_t *f);
/* Send the step of an ITEM_MOVE (the loop's owner). */
void stage__netmove_out(stage__netnode_t *nn, stage__netnode_item_t *it);
/* A MOVE frame from peer: 0 or STAGE_EDECODE (refused). */
int stage__netmove_in(stage__netnode_t *nn, const char *peer, const char *body,
                      size_t len);
/* Queue it for the loop (netnode.c's inbox; at once on its owner). */
void stage__netnode_push(stage__netnode_t *nn, stage__netnode_item_t *it);

/* deaths.c */
/* addr's incarnation is dead (why: a sentence), found here (from NULL) or
** told by node from: once per incarnation, the transport quarantines it,
** the DHT drops what its manager (0: the one it announced) owned, and
** every node with a session hears it but the dead one and from. */
void stage__deaths_declare(stage__netnode_t *nn, const char *addr,
                           uint32_t incarnation, uint64_t manager,
                           const char *why, const char *from);
/* A NODE_DOWN frame: 0 or STAGE_EDECODE. */
int stage__deaths_in_frame(stage__netnode_t *nn, const char *peer,
                           const char *body, size_t len);
void stage__deaths_close(stage__netnode_t *nn);
/* join.c */
/* Watch the join through cfg->join (set) that lookup.c started: progress
** lines, and the failure once cfg->join_timeout has passed. */
void stage__join_start(stage__netnode_t *nn, const stage_net_config_t *cfg);
/* The node has joined: stop watching (and say so, if it said it had not). */
void stage__join_done(stage__netnode_t *nn);

/* holdings.c */
/* Start what the node holds (after the manager: lookup.c). */
void stage__holdings_start(stage__netnode_t *nn);
/* Leave gracefully: remove this node's names and type registrations, then
** (once the DHT confirmed them, or after a second) leave the ring and call
** stage__netnode_left. Effects go out on the loop. */
void stage__holdings_leave(stage__netnode_t *nn);
int stage__holdings_in_name(stage__netnode_t *nn, const char *peer,
                            const char *body, size_t len);
void stage__holdings_announce(stage__netnode_t *nn, stage__netnode_item_t *it);
/* Actor serial of this node stopped: release the names claimed for it
** (all of them with serial 0, before leaving). */
void stage__holdings_release(stage__netnode_t *nn, uint64_t serial);
/* Every half second: withdraw from the types this node has had no actor
** of for a while. */
void stage__holdings_sweep(stage__netnode_t *nn);
/* The DHT claimed name for id: released when id stops, if id is ours. */
void stage__holdings_claimed(stage__netnode_t *nn, const char *name,
                             const stage_id_t *id);
/* Request req finished: if it was a removal we wait for to leave, note it. */
void stage__holdings_bye_done(stage__netnode_t *nn, uint64_t req);
void stage__holdings_close(stage__netnode_t *nn);

#endif
