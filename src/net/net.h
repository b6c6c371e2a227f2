/*
** net/net.h: the structures shared by the transport's files.
**   transport.c  the object, listening, sending, the per-turn flush, the tick
**   conn.c       one TCP connection: connect/accept, read, decode, write
**   peer.c       the peer table, handshake decisions, reconnect, up/down
**   addr.c       "host:port" parsing and formatting
**   secure.c     the cluster-key handshake and records (pure, on bytes)
**
** Ownership: the transport owns its peers (kept until destroy) and its
** connections (a list; each freed in its uv_close callback). A peer points
** at most at one connection: its outbound attempt, or the one that
** completed the handshake (state UP). Inbound connections belong to no
** peer until their handshake names one. Only an UP connection carries
** user frames, so a connection dropped by the one-connection rule never
** held any. Each peer holds the session with its incarnation
** (src/session): the user frames, kept until acknowledged; a write points
** into the session's chunks (pinned) until it completes or its connection
** closes (libuv reads no buffer of a closed handle).
** Loop thread only.
*/
#ifndef STAGE_NET_NET_H
#define STAGE_NET_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "net/addr.h"
#include "session/session.h"
#include "transport.h"
#include "stage/id.h"
#include "wire/frame.h"

typedef struct stage__conn stage__conn_t;
typedef struct stage__peer stage__peer_t;

/* Largest frame accepted before the handshake completes. */
#define STAGE__NET_HELLO_MAX 256
/* Most chunks of a session one write takes (the rest go in the next). */
#define STAGE__NET_SPANS 64

/* Connection states: CONNECTING -> HELLO [connect done, our hello sent];
** an accepted connection starts in HELLO. HELLO -> UP [handshake done];
** any -> CLOSING [conn_close], then freed. */
enum { CONN_CONNECTING, CONN_HELLO, CONN_UP, CONN_CLOSING };

struct stage__conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    stage__transport_t *t;
    stage__peer_t *peer;        /* NULL for inbound before the handshake */
    stage__conn_t *prev, *next; /* in t->conns */
    int state;
    bool outbound;     /* we connected */
    bool writing;      /* wreq in flight with wbuf */
    bool pending;      /* inbound, counted in t->pending */
    bool refused;      /* the connect was refused: nothing listens there */
    bool doomed;       /* DEAD sent: it only waits to close */
    stage_pack_t wbuf; /* transport frames being written, after the spans */
    uint64_t wcount;   /* frames in the write */
    size_t wlen;       /* bytes in the write */
    /* the session's bytes in the write (pinned until it is over) */
    stage__session_span_t spans[STAGE__NET_SPANS];
    size_t nspans;
    uint64_t rseq; /* the session's number of the next user frame read */
    stage__fdec_t dec;
    uint64_t opened_ms;      /* connect or accept time; doomed: DEAD sent */
    uint64_t frame_start_ms; /* first byte of a partial frame, or 0 */
    uint64_t last_recv_ms, last_sent_ms;
    char remote[STAGE_ADDR_MAX]; /* the socket's far end, for logs */
    bool framed;   /* a frame was decoded (the peer speaks frames) */
    bool rejected; /* a REJECT was sent: input is discarded until close */
    /* with a cluster key (NULL without): the handshake and record state,
    ** the bytes read and not yet opened (from sin_off on), the sealed
    ** bytes of the write in flight, and a handshake message being written
    ** (by hreq, apart from the frames' wreq) */
    stage__secure_t *sec;
    stage_buf_t sin, sout;
    size_t sin_off;
    uv_write_t hreq;
    uint8_t hs[STAGE__SECURE_MSG];
};

struct stage__peer {
    stage__transport_t *t;
    stage__peer_t *next;       /* in t->peers */
    stage__peer_t *next_dirty; /* in t->dirty while dirty */
    char addr[STAGE_ADDR_MAX]; /* its listen address */
    uint32_t incarnation;      /* 0 until a handshake */
    uint64_t manager;          /* its DHT manager id, from the handshake */
    uint64_t max_frame; /* the largest frame it takes (its handshake; 0 until
                        ** one says): a larger one never goes */
    stage__conn_t *conn;
    stage__conn_t *greeting; /* the connection whose hello is being read */
    bool up;                 /* conn is UP */
    bool dirty;              /* in t->dirty */
    bool refused;            /* a send got STAGE_EBUSY: call on_drain */
    bool left;               /* it said goodbye: one failed connect gives up */
    int attempts;            /* failed connects in a row */
    int refusals; /* ... refused, while never reached (refused_limit: given
                  ** up) */
    /* outbound connections that closed before their handshake completed,
    ** ever, and why the last one did (for a node joining through it) */
    uint64_t failed_connects;
    char last_failure[96];
    uv_timer_t retry;
    stage__session_t s; /* the user frames, kept until acknowledged */
    stage_pack_t ctrl;  /* transport frames queued (PING, BYE) */
    size_t ctrl_count;  /* frames in ctrl */
    stage__net_stats_t stats;
};

struct stage__transport {
    uv_loop_t *loop;
    stage__transport_config_t cfg;
    stage__transport_cbs_t cbs;
    uv_tcp_t listener;
    uv_prepare_t flush;
    uv_timer_t tick;
    uv_timer_t ack; /* runs while an ack is owed and not yet due */
    /* a connection there is no memory for is accepted here and closed:
    ** libuv listens no further until the pending one is accepted */
    uv_tcp_t spare;
    bool refusing;     /* spare is closing */
    bool refuse_later; /* one is pending still: the next tick retries */
    bool listen_called, listening, closing;
    bool goodbye; /* said BYE: no more dialling or reconnecting */
    int handles;  /* open handles; free at 0 when closing */
    int pending;  /* inbound conns awaiting a handshake */
    char self[STAGE_ADDR_MAX];
    uint32_t incarnation;
    uint64_t hellos;              /* handshakes sent: each is numbered */
    uint64_t secure_ups;          /* cluster-key handshakes completed */
    uint64_t last_tick;           /* when the tick last ran (loop ms) */
    uint64_t pause_ms;            /* a longer gap: the process was paused */
    stage__session_config_t scfg; /* every peer's session's */
    uint64_t rng;
    /* the libuv error of a failed listen, or 0 */
    int listen_error;
    stage__peer_t *peers, *last_peer;
    stage__peer_t *dirty;
    stage__conn_t *conns;
    /* what each peer said it takes, for any thread (stage__transport_takes) */
    pthread_mutex_t takes_lock;
    struct stage__takes *takes;
    /* totals, read from any thread (stage__transport_stats) */
    struct {
        _Atomic uint64_t bytes_in, bytes_out, frames_in, frames_out, writes;
    } stats;
};

/* conn.c */
/* Start an outbound connection for p. 0 or a STAGE_E* code. */
int stage__conn_connect(stage__peer_t *p);
/* Accept one pending connection on the listener. */
void stage__conn_accept(stage__transport_t *t);
/* transport.c: no memory for the pending connection: close it unserved. */
void stage__transport_refuse(stage__transport_t *t);
/* Close c. Logs why at level unless level < 0; a lost UP connection is
** reported down with reason. Safe on a closing connection. */
void stage__conn_close(stage__conn_t *c, int reason, int level,
                       const char *why);
/* c no longer awaits its handshake (it completed or c is closing). */
void stage__conn_unpend(stage__conn_t *c);
/* Write p's session frames and transport frames on c unless a write is in
** flight, with an ACK if one is due. */
void stage__conn_flush(stage__conn_t *c);
/* Write our handshake frame on c. 0 or a STAGE_E* code. */
int stage__conn_greet(stage__conn_t *c);
/* Answer c, a handshake from incarnation inc (named addr), with DEAD (why)
** and close it once the peer has read it. */
void stage__conn_refuse_dead(stage__conn_t *c, const char *addr, uint32_t inc,
                             const char *why);
/* Deadlines and heartbeats of c at time now. */
void stage__conn_tick(stage__conn_t *c, uint64_t now);
/* The name of c in logs: its peer's address, else its socket's far end. */
const char *stage__conn_name(const stage__conn_t *c);

/* peer.c */
/* The peer named addr, or NULL. */
stage__peer_t *stage__peer_find(stage__transport_t *t, const char *addr);
/* The peer named addr (canonical), created if new; NULL on ENOMEM. */
stage__peer_t *stage__peer_get(stage__transport_t *t, const char *addr);
/* Append one transport frame to p's queue. 0 or STAGE_ENOMEM. */
int stage__peer_queue(stage__peer_t *p, int kind, const void *body, size_t len);
/* Have p's frames written this loop turn (connecting if needed). */
void stage__peer_kick(stage__peer_t *p);
/* What a handshake says (conn.c parses it, peer.c decides). */
typedef struct stage__hello {
    char addr[STAGE_ADDR_MAX];
    uint32_t incarnation, known;
    uint64_t manager, received, number;
    uint64_t max_frame; /* the largest frame it takes; 0: not said */
} stage__hello_t;
/* A handshake arrived on c: adopt or refuse it. */
void stage__peer_hello(stage__conn_t *c, const stage__hello_t *h);
/* c, p's connection, closed: report and reconnect as the policy says. */
void stage__peer_conn_lost(stage__peer_t *p, stage__conn_t *c, int reason);
/* A write finished: call on_drain if it is due. */
void stage__peer_drained(stage__peer_t *p);
/* p said goodbye: its session ends (STAGE_ECANCELED). */
void stage__peer_left(stage__peer_t *p);
/* Whether the node last known at p's address was declared dead (or
** replaced) and nothing has answered there since. The DHT still tries such
** an address now and then (a member it remembers may be across a partition
** that healed: docs/dht.md), so a dial there that fails is expected. */
bool stage__peer_known_gone(const stage__peer_t *p);
/* Free p's memory (its retry timer must be closed). */
void stage__peer_free(stage__peer_t *p);
/* Close p's retry timer; p is freed in its close callback. */
void stage__peer_close(stage__peer_t *p);

/* transport.c */
/* One handle of t finished closing; frees t after the last one. */
void stage__transport_handle_closed(stage__transport_t *t);
/* Have p's queue written at the end of this loop turn. */
void stage__transport_dirty(stage__peer_t *p);
/* A random number in [0, n). */
uint64_t stage__transport_random(stage__transport_t *t, uint64_t n);
/* An ack is owed and not yet due: come back within ack_ms. */
void stage__transport_ack_later(stage__transport_t *t);

#endif
