/*
** net/net.h: the structures shared by the transport's files.
**   transport.c  the object, listening, sending, the per-turn flush, the tick
**   conn.c       one TCP connection: connect/accept, read, decode, write
**   peer.c       the peer table, handshake decisions, reconnect, up/down
**   addr.c       "host:port" parsing and formatting
**
** Ownership: the transport owns its peers (kept until destroy) and its
** connections (a list; each freed in its uv_close callback). A peer points
** at most at one connection: its outbound attempt, or the one that
** completed the handshake (state UP). Inbound connections belong to no
** peer until their handshake names one. Only an UP connection carries
** user frames, so a connection dropped by the one-connection rule never
** held any.
** Loop thread only.
*/
#ifndef STAGE_NET_NET_H
#define STAGE_NET_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "net/addr.h"
#include "transport.h"
#include "stage/id.h"
#include "wire/frame.h"

typedef struct stage__conn stage__conn_t;
typedef struct stage__peer stage__peer_t;

/* Largest frame accepted before the handshake completes. */
#define STAGE__NET_HELLO_MAX 256

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
    stage_pack_t wbuf; /* bytes being written */
    uint64_t wcount;   /* frames in wbuf */
    stage__fdec_t dec;
    uint64_t opened_ms;      /* connect or accept time */
    uint64_t frame_start_ms; /* first byte of a partial frame, or 0 */
    uint64_t last_recv_ms, last_sent_ms;
    char remote[STAGE_ADDR_MAX]; /* the socket's far end, for logs */
};

struct stage__peer {
    stage__transport_t *t;
    stage__peer_t *next;       /* in t->peers */
    stage__peer_t *next_dirty; /* in t->dirty while dirty */
    char addr[STAGE_ADDR_MAX]; /* its listen address */
    uint32_t incarnation;      /* 0 until a handshake */
    uint64_t manager;          /* its DHT manager id, from the handshake */
    stage__conn_t *conn;
    bool up;      /* conn is UP and reported up */
    bool dirty;   /* in t->dirty */
    bool refused; /* a send got STAGE_EBUSY: call on_drain */
    bool left;    /* it said goodbye: one failed connect gives up */
    int attempts; /* failed connects in a row */
    /* outbound connections that closed before their handshake completed,
    ** ever, and why the last one did (for a node joining through it) */
    uint64_t failed_connects;
    char last_failure[96];
    uv_timer_t retry;
    stage_pack_t out;      /* frames queued, not yet written */
    size_t out_frames;     /* user frames in out */
    size_t out_count;      /* frames of any kind in out */
    size_t writing_frames; /* user frames in conn->wbuf */
    stage__net_stats_t stats;
};

struct stage__transport {
    uv_loop_t *loop;
    stage__transport_config_t cfg;
    stage__transport_cbs_t cbs;
    uv_tcp_t listener;
    uv_prepare_t flush;
    uv_timer_t tick;
    /* a connection there is no memory for is accepted here and closed:
    ** libuv listens no further until the pending one is accepted */
    uv_tcp_t spare;
    bool refusing;     /* spare is closing */
    bool refuse_later; /* one is pending still: the next tick retries */
    bool listen_called, listening, closing;
    int handles; /* open handles; free at 0 when closing */
    int pending; /* inbound conns awaiting a handshake */
    char self[STAGE_ADDR_MAX];
    uint32_t incarnation;
    uint64_t rng;
    /* the libuv error of a failed listen, or 0 */
    int listen_error;
    stage__peer_t *peers, *last_peer;
    stage__peer_t *dirty;
    stage__conn_t *conns;
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
/* Write p->out on c unless a write is in flight. */
void stage__conn_flush(stage__conn_t *c);
/* Write our handshake frame on c. 0 or a STAGE_E* code. */
int stage__conn_greet(stage__conn_t *c);
/* Deadlines and heartbeats of c at time now. */
void stage__conn_tick(stage__conn_t *c, uint64_t now);
/* The name of c in logs: its peer's address, else its socket's far end. */
const char *stage__conn_name(const stage__conn_t *c);

/* peer.c */
/* The peer named addr, or NULL. */
stage__peer_t *stage__peer_find(stage__transport_t *t, const char *addr);
/* The peer named addr (canonical), created if new; NULL on ENOMEM. */
stage__peer_t *stage__peer_get(stage__transport_t *t, const char *addr);
/* Append one frame to p's queue. 0, STAGE_EBUSY or STAGE_ENOMEM. */
int stage__peer_queue(stage__peer_t *p, int kind, const void *body, size_t len,
                      bool user);
/* Have p's queue written this loop turn (connecting if needed). */
void stage__peer_kick(stage__peer_t *p);
/* A handshake arrived on c from addr/incarnation (its node's DHT manager
** id, or 0): adopt or refuse it. */
void stage__peer_hello(stage__conn_t *c, const char *addr, uint32_t incarnation,
                       uint64_t manager);
/* c, p's connection, closed: report and reconnect as the policy says. */
void stage__peer_conn_lost(stage__peer_t *p, stage__conn_t *c, int reason);
/* A write finished: call on_drain if it is due. */
void stage__peer_drained(stage__peer_t *p);
/* p said goodbye: drop its queue, report it down (STAGE_ECANCELED). */
void stage__peer_left(stage__peer_t *p);
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

#endif
