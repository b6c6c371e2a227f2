/*
** net/transport.h: the node-to-node transport — one TCP connection per pair
** of nodes, carrying frames (src/wire/frame.h) both ways, and over it one
** reliable session per pair of node incarnations (src/session).
**
** A peer is named by its listen address ("host:port", IPv4 or [IPv6]
** literal) and has an incarnation, learnt in the handshake. The transport
** connects on the first send to a peer, batches every frame queued during a
** loop turn into one write, heartbeats idle connections and closes any
** connection that sends bad input or stalls. User frames belong to the
** session with the peer's incarnation: a broken connection is replaced and
** the session resumes on the new one, nothing lost or doubled; only the end
** of the session (the peer restarted, said goodbye, or was declared dead by
** the failure detector) fails what it had not acknowledged.
** docs/transport.md describes the protocol and policies.
**
** Threads: one libuv loop (the node's I/O thread) runs a transport; every
** function here is called on that loop's thread, and every callback runs
** there. Callbacks may call stage__transport_send; none may destroy the
** transport.
*/
#ifndef STAGE_NET_TRANSPORT_H
#define STAGE_NET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "secure.h"
#include "session/session.h"

typedef struct stage__transport stage__transport_t;

typedef struct stage__transport_config {
    const char *advertise;   /* address told to peers; NULL = the bound one */
    uint32_t incarnation;    /* this node's incarnation; 0 = pick one */
    uint64_t manager;        /* this node's DHT manager id, told to peers in
                             ** the handshake; 0 = none */
    size_t max_frame;        /* largest frame sent or accepted, header in */
    size_t max_outbound;     /* bytes queued per peer before STAGE_EBUSY */
    uint64_t handshake_ms;   /* connect + handshake must finish within */
    uint64_t frame_ms;       /* a frame, once started, must arrive within */
    uint64_t heartbeat_ms;   /* a connection idle this long sends a ping */
    int heartbeat_misses;    /* silent intervals before a connection is
                             ** closed (and replaced) */
    uint64_t backoff_min_ms; /* first reconnect delay */
    uint64_t backoff_max_ms; /* reconnect delays double up to this */
    int max_attempts;        /* failed connects in a row before giving up */
    int max_pending;         /* accepted, awaiting their handshake */
    uint64_t dead_after_ms;  /* a peer incarnation silent this long is dead */
    int refused_limit;       /* ... or refusing this many connects in a row */
    uint64_t ack_ms;         /* an ack owed waits at most this for data */
    /* cluster keys (net/secure.h): with keys.n >= 1 every connection runs
    ** the cluster-key handshake and carries its frames in encrypted
    ** records; keys.key[0] dials, every key is accepted. Copied (and
    ** wiped at destroy); wipe the caller's copy. */
    stage__secure_keys_t keys;
} stage__transport_config_t;

/* Callbacks. peer is the peer's listen address, borrowed for the call;
** body is borrowed for the call. Any of them may be NULL. */
typedef struct stage__transport_cbs {
    void *ud;
    /* One frame of kind (>= STAGE__NET_KIND_USER) from peer: each frame
    ** once, in the order peer sent them, across connections. */
    void (*on_frame)(void *ud, const char *peer, int kind, const char *body,
                     size_t len);
    /* A session with peer's incarnation began: once per incarnation
    ** (reconnects within a session are not reported). */
    void (*on_peer_up)(void *ud, const char *peer, uint32_t incarnation);
    /* The session with peer's incarnation ended. reason: STAGE_ESTOPPED
    ** (it restarted: a new incarnation answers at its address),
    ** STAGE_ECANCELED (it said goodbye, or no longer has the session),
    ** STAGE_ENODE_DOWN (declared dead: silent for dead_after_ms, refused
    ** refused_limit connects in a row, or stage__transport_declare_dead),
    ** STAGE_EPROTO (its counts contradict ours), or STAGE_EUNREACHABLE
    ** (incarnation 0: no session was ever made, and the retry policy gave
    ** up). why says it in words ("nothing heard from it for 10000 ms").
    ** lost iterates the dropped frames sent in the session and not
    ** acknowledged (each may or may not have been delivered; their fate is
    ** unknown), oldest first (stage__session_iter_next). A connection
    ** breaking is not reported: the session resumes on the next. */
    void (*on_peer_down)(void *ud, const char *peer, uint32_t incarnation,
                         int reason, const char *why, size_t dropped,
                         stage__session_iter_t *lost);
    /* peer's session, which refused a send with STAGE_EBUSY, holds less
    ** than half of max_outbound again. */
    void (*on_drain)(void *ud, const char *peer);
    /* peer declared this node's incarnation dead (why, in its words) and
    ** refuses it from now on: the node should stop. */
    void (*on_declared_dead)(void *ud, const char *peer, const char *why);
} stage__transport_cbs_t;

/* Frame kinds below STAGE__NET_KIND_USER belong to the transport. */
enum {
    STAGE__NET_KIND_HELLO = 0, /* [version, address, incarnation, manager,
                               ** known, received, number] */
    STAGE__NET_KIND_PING = 1,  /* heartbeat, body nil */
    STAGE__NET_KIND_BYE = 2,   /* the sender stops: do not wait for it */
    STAGE__NET_KIND_ACK = 3,   /* the count of the session's frames taken */
    STAGE__NET_KIND_DEAD = 4,  /* [incarnation, why]: you were declared dead */
    STAGE__NET_KIND_USER = 16
};

#define STAGE__NET_PROTO_VERSION 2 /* handshake protocol version */

typedef struct stage__net_stats {
    uint64_t bytes_in, bytes_out;   /* on the wire, headers included */
    uint64_t frames_in, frames_out; /* every kind, handshakes included */
    uint64_t writes;                /* write operations: frames batch */
} stage__net_stats_t;

/* Fill *cfg with the defaults (see docs/transport.md). */
void stage__transport_config_init(stage__transport_config_t *cfg);

/* Create a transport on loop. cfg and cbs are copied; cfg may be NULL for
** the defaults. Sets SIGPIPE to be ignored if it has the default action
** (a peer closing during a write must not kill the process). 0 and *out, or
*STAGE_EINVAL (bad config) / STAGE_ENOMEM. */
int stage__transport_new(uv_loop_t *loop, const stage__transport_config_t *cfg,
                         const stage__transport_cbs_t *cbs,
                         stage__transport_t **out);

/* Listen on addr ("host:port"; port 0 picks one). Once per transport,
** even if it failed (make a new transport to try another address). On
** success the bound address is in bound (NUL-terminated) when bound is not
** NULL. 0, STAGE_EINVAL (bad address, called before) or STAGE_EIO (the
** port is taken, say: stage__transport_listen_error tells why; the caller
** reports it). */
int stage__transport_listen(stage__transport_t *t, const char *addr,
                            char *bound, size_t len);

/* Why the listen of t failed with STAGE_EIO: a libuv error (UV_EADDRINUSE,
** ...; uv_strerror names it), or 0 if it did not. */
int stage__transport_listen_error(const stage__transport_t *t);

/* This node's address as told to peers ("" before listen without
** advertise), and its incarnation. Borrowed. */
const char *stage__transport_address(const stage__transport_t *t);
uint32_t stage__transport_incarnation(const stage__transport_t *t);

/* The DHT manager id the peer at addr announced in the handshake of its
** current connection (0: none, or not connected). */
uint64_t stage__transport_peer_manager(stage__transport_t *t, const char *addr);
/* The incarnation of the node at addr whose session this node has now (0:
** none: it never had one, or the last one ended). A frame from addr came
** in the session with the incarnation this says during on_frame. Cheap: a
** peer lookup (the last one is cached). */
uint32_t stage__transport_peer_incarnation(stage__transport_t *t,
                                           const char *addr);

/* Queue one frame of kind (>= STAGE__NET_KIND_USER, <= 255) for the peer
** listening at peer, in its session, connecting if needed; it is written
** at the end of this loop turn and kept until acknowledged. body is
** copied; it must be one msgpack value (not checked here: every body is
** made by our encoder from checked parts, and the receiver checks it
** again). 0, or: STAGE_EBUSY when the peer's session would hold more than
** max_outbound bytes (nothing queued; wait for on_drain),
** STAGE_ETOOBIG (the frame would exceed max_frame, or what the peer said
** it takes), STAGE_EINVAL (bad kind or address, peer is this node, or no
** address of our own yet), STAGE_ESTOPPED (being destroyed),
** STAGE_ENOMEM. */
int stage__transport_send(stage__transport_t *t, const char *peer, int kind,
                          const void *body, size_t len);

/* STAGE_ETOOBIG if a body of len bytes makes a frame larger than this node
** sends, or than the peer at peer said it takes; else 0 (a peer not yet
** heard from may take anything this node sends). */
int stage__transport_fits(stage__transport_t *t, const char *peer, size_t len);
/* The largest frame body this node sends to peer: its own limit, or less
** if peer said so at its last handshake. Any thread (a theatre checks a
** move's image before it leaves). */
size_t stage__transport_takes(stage__transport_t *t, const char *peer);
/* peer's handshake said it takes frames of at most max bytes (0: any).
** The loop's thread. */
void stage__transport_peer_takes(stage__transport_t *t, const char *addr,
                                 size_t max);

/* Tell every peer with a connection that this node stops (a BYE frame,
** written at the end of this loop turn): they end their sessions with it
** at once instead of declaring it dead seconds later. From then on the
** transport dials nobody and reconnects nowhere. */
void stage__transport_goodbye(stage__transport_t *t);

/* How many peer incarnations this node has a live session with. */
size_t stage__transport_sessions(const stage__transport_t *t);
/* Call fn(ud, addr, incarnation) for each peer with a live session. fn may
** send, but not declare a peer dead. */
void stage__transport_each_session(stage__transport_t *t,
                                   void (*fn)(void *ud, const char *addr,
                                              uint32_t incarnation),
                                   void *ud);

/* Byte and frame counts of the whole transport. Any thread (each count is
** read atomically, the five of them not at one instant). */
void stage__transport_stats(const stage__transport_t *t,
                            stage__net_stats_t *out);
/* Counts for one peer: 0, or STAGE_EINVAL if the peer is unknown. */
int stage__transport_peer_stats(const stage__transport_t *t, const char *peer,
                                stage__net_stats_t *out);
/* How many connections to peer closed before their handshake completed
** since the transport started (0: none, or an unknown peer), and in why
** (len bytes, NUL-terminated) the reason the last one did ("cannot
** connect: connection refused"), or "". */
uint64_t stage__transport_peer_failures(const stage__transport_t *t,
                                        const char *peer, char *why,
                                        size_t len);
/* 1 if peer has a connection that completed its handshake, else 0. */
int stage__transport_peer_is_up(const stage__transport_t *t, const char *peer);

/* News from elsewhere (another node's failure detector, say): incarnation
** of the node at addr is dead. It is quarantined (a handshake from it is
** answered DEAD) and its session, if any, ends with STAGE_ENODE_DOWN (why
** passed on). 0, or STAGE_EINVAL (bad address, incarnation 0, or this
** node) / STAGE_ENOMEM. */
int stage__transport_declare_dead(stage__transport_t *t, const char *addr,
                                  uint32_t incarnation, const char *why);
/* 1 if incarnation of the node at addr is known dead (declared dead here
** or replaced by a newer one; *why, if why is not NULL, gets the reason,
** borrowed until the next transport call), else 0. Cheap: a peer lookup
** (the last one is cached) and at most eight compares. */
int stage__transport_is_dead(stage__transport_t *t, const char *addr,
                             uint32_t incarnation, const char **why);
/* 1 if the node last known at addr was declared dead here (or replaced)
** and nothing has answered there since (stage__peer_known_gone), else 0. */
int stage__transport_known_gone(stage__transport_t *t, const char *addr);
/* Frames sent to live sessions and not acknowledged yet. */
size_t stage__transport_unacked(stage__transport_t *t);
/* 1 if incarnation of the node at addr said goodbye (it left), else 0. */
int stage__transport_has_left(stage__transport_t *t, const char *addr,
                              uint32_t incarnation);

/* Close every connection and handle, drop queued frames, call no callback
** again, and set *tp to NULL. Memory is freed once the loop has run the
** close callbacks: keep running the loop. Not from a callback. */
void stage__transport_destroy(stage__transport_t **tp);

#endif
