/*
** net/peer.c: the peers of a transport — their queues, the handshake
** decision that keeps one connection per pair of nodes, reconnecting with
** backoff, and reporting up and down.
**
** One-connection rule: when a handshake arrives from P on an inbound
** connection while our own outbound attempt to P has not completed, the
** connection opened by the node with the smaller address wins; both nodes
** compare the same two addresses, so both keep the same connection. User
** frames wait in the peer's queue until a connection is UP, so the losing
** connection never carried any: nothing is lost or sent twice.
** Peer states: idle (no conn, empty queue) -> connecting [kick] -> up
** [hello] -> down [conn_lost] -> connecting [retry timer, frames queued]
** ... -> idle [give up after max_attempts: queue dropped, EUNREACHABLE].
** Loop thread only.
*/
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/log.h"

stage__peer_t *stage__peer_find(stage__transport_t *t, const char *addr) {
    if (t->last_peer && strcmp(t->last_peer->addr, addr) == 0)
        return t->last_peer;
    for (stage__peer_t *p = t->peers; p; p = p->next)
        if (strcmp(p->addr, addr) == 0) return t->last_peer = p;
    return NULL;
}

static void on_retry_closed(uv_handle_t *h) {
    stage__peer_t *p = h->data;
    stage__transport_t *t = p->t;
    stage__peer_free(p);
    stage__transport_handle_closed(t);
}

stage__peer_t *stage__peer_get(stage__transport_t *t, const char *addr) {
    stage__peer_t *p = stage__peer_find(t, addr);
    if (p) return p;
    p = stage__calloc(1, sizeof *p);
    if (!p) return NULL;
    p->t = t;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    stage_pack_init(&p->out);
    uv_timer_init(t->loop, &p->retry);
    p->retry.data = p;
    t->handles++;
    p->next = t->peers;
    t->peers = p;
    return t->last_peer = p;
}

void stage__peer_free(stage__peer_t *p) {
    stage_pack_free(&p->out);
    stage__free(p);
}

void stage__peer_close(stage__peer_t *p) {
    uv_close((uv_handle_t *)&p->retry, on_retry_closed);
}

/* Bytes waiting for p: queued plus being written. */
static size_t pending_bytes(const stage__peer_t *p) {
    size_t n = p->out.len;
    if (p->conn && p->conn->writing) n += p->conn->wbuf.len;
    return n;
}

int stage__peer_queue(stage__peer_t *p, int kind, const void *body, size_t len,
                      bool user) {
    size_t max = p->t->cfg.max_outbound;
    if (user && pending_bytes(p) + STAGE__FRAME_HEADER + len > max) {
        p->refused = true;
        return STAGE_EBUSY;
    }
    size_t before = p->out.len;
    int rc = stage__frame_append(&p->out, (uint8_t)kind, body, len,
                                 p->t->cfg.max_frame);
    if (rc) {
        p->out.len = before;
        p->out.err = 0;
        return rc;
    }
    if (user) p->out_frames++;
    p->out_count++;
    return 0;
}

void stage__peer_kick(stage__peer_t *p) {
    if (p->conn) {
        if (p->conn->state == CONN_UP) stage__transport_dirty(p);
        return;
    }
    if (uv_is_active((uv_handle_t *)&p->retry)) return;
    int rc = stage__conn_connect(p);
    if (rc) LOG_WARN("cannot connect to '%s': %s", p->addr, stage_strerror(rc));
}

/* Reconnect delay before attempt n (n >= 1): doubling from backoff_min,
** capped at backoff_max, with jitter in [d/2, d] so peers that lost each
** other at once do not retry in step. */
static uint64_t backoff(stage__transport_t *t, int n) {
    uint64_t d = t->cfg.backoff_min_ms;
    for (int i = 1; i < n && d < t->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > t->cfg.backoff_max_ms) d = t->cfg.backoff_max_ms;
    return d / 2 + stage__transport_random(t, d / 2 + 1);
}

static void on_retry(uv_timer_t *h) {
    stage__peer_t *p = h->data;
    if (p->conn || p->out.len == 0 || p->t->closing) return;
    int rc = stage__conn_connect(p);
    if (rc) LOG_WARN("cannot connect to '%s': %s", p->addr, stage_strerror(rc));
}

/* Drop p's queue; the number of user frames dropped. */
static size_t drop_queue(stage__peer_t *p) {
    size_t dropped = p->out_frames;
    stage_pack_reset(&p->out);
    p->out_frames = p->out_count = 0;
    p->refused = false;
    p->attempts = 0;
    uv_timer_stop(&p->retry);
    return dropped;
}

/* Drop p's queue and report it unreachable. */
static void give_up(stage__peer_t *p) {
    stage__transport_t *t = p->t;
    int attempts = p->attempts;
    size_t dropped = drop_queue(p);
    if (p->left)
        LOG_INFO("'%s' has stopped: %zu queued frames dropped", p->addr,
                 dropped);
    else
        LOG_WARN("giving up on '%s' after %d failed connection attempts: %zu "
                 "queued frames dropped",
                 p->addr, attempts, dropped);
    if (t->cbs.on_peer_down)
        t->cbs.on_peer_down(t->cbs.ud, p->addr, STAGE_EUNREACHABLE, dropped);
}

void stage__peer_left(stage__peer_t *p) {
    stage__transport_t *t = p->t;
    p->left = true;
    size_t dropped = drop_queue(p);
    LOG_DEBUG("'%s' says goodbye%s", p->addr,
              dropped ? ": queued frames dropped" : "");
    if (t->cbs.on_peer_down)
        t->cbs.on_peer_down(t->cbs.ud, p->addr, STAGE_ECANCELED, dropped);
}

void stage__peer_conn_lost(stage__peer_t *p, stage__conn_t *c, int reason) {
    stage__transport_t *t = p->t;
    bool was_up = p->up;
    p->conn = NULL;
    p->up = false;
    p->writing_frames = 0; /* written or lost: either way not ours now */
    if (t->closing) return;
    if (was_up) {
        p->attempts = 0;
        if (p->out.len) uv_timer_start(&p->retry, on_retry, 0, 0);
        if (t->cbs.on_peer_down)
            t->cbs.on_peer_down(t->cbs.ud, p->addr, reason, 0);
        return;
    }
    if (!c->outbound) return;
    if (++p->attempts >= t->cfg.max_attempts || p->left) {
        give_up(p);
    } else if (p->out.len) {
        uint64_t d = backoff(t, p->attempts);
        LOG_DEBUG("retrying '%s' in %llu ms", p->addr, (unsigned long long)d);
        uv_timer_start(&p->retry, on_retry, d, 0);
    }
}

/* c completed its handshake with p. */
static void peer_up(stage__peer_t *p, stage__conn_t *c, uint32_t inc,
                    uint64_t manager) {
    stage__transport_t *t = p->t;
    c->state = CONN_UP;
    stage__conn_unpend(c);
    c->dec.max = t->cfg.max_frame; /* the handshake limit is lifted */
    p->conn = c;
    p->incarnation = inc;
    p->manager = manager;
    p->up = true;
    p->left = false; /* back (a restart, or it never went) */
    p->attempts = 0;
    uv_timer_stop(&p->retry);
    LOG_DEBUG("connected to '%s' (incarnation %x)", p->addr, inc);
    if (p->out.len) stage__transport_dirty(p);
    if (t->cbs.on_peer_up) t->cbs.on_peer_up(t->cbs.ud, p->addr, inc);
}

/* An inbound connection c says it comes from p: keep it or refuse it. */
static void inbound_hello(stage__peer_t *p, stage__conn_t *c, uint32_t inc,
                          uint64_t manager) {
    stage__transport_t *t = p->t;
    stage__conn_t *old = p->conn;
    if (old && old->state == CONN_UP) {
        int reason = inc != p->incarnation ? STAGE_ESTOPPED : STAGE_EIO;
        stage__conn_close(old, reason, STAGE_LOG_INFO,
                          reason == STAGE_ESTOPPED
                              ? "peer restarted with a new incarnation"
                              : "peer opened a new connection");
    } else if (old && strcmp(t->self, p->addr) < 0) {
        /* Simultaneous connect: ours was opened by the smaller address. */
        stage__conn_close(c, 0, STAGE_LOG_DEBUG,
                          "duplicate connection: keeping ours");
        return;
    } else if (old) {
        p->conn = NULL; /* theirs wins: abandon ours, not a failure */
        stage__conn_close(old, 0, STAGE_LOG_DEBUG,
                          "duplicate connection: keeping theirs");
    }
    if (p->conn) {
        /* on_peer_down for old sent a frame and so dialled p anew: this
        ** connection serves instead. */
        stage__conn_t *dial = p->conn;
        p->conn = NULL;
        stage__conn_close(dial, 0, STAGE_LOG_DEBUG, "replaced by theirs");
    }
    c->peer = p;
    p->conn = c;
    int rc = stage__conn_greet(c);
    if (rc) stage__conn_close(c, rc, STAGE_LOG_WARN, stage_strerror(rc));
    if (c->state == CONN_CLOSING) return; /* greeting may fail to write */
    peer_up(p, c, inc, manager);
}

void stage__peer_hello(stage__conn_t *c, const char *addr, uint32_t inc,
                       uint64_t manager) {
    stage__transport_t *t = c->t;
    char why[160];
    if (c->state == CONN_UP) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, "second handshake");
        return;
    }
    if (strcmp(addr, t->self) == 0) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN,
                          "handshake names this node itself");
        return;
    }
    if (c->outbound) {
        if (strcmp(addr, c->peer->addr) != 0) {
            snprintf(why, sizeof why, "handshake names '%s' instead", addr);
            stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
            return;
        }
        peer_up(c->peer, c, inc, manager);
        return;
    }
    stage__peer_t *p = stage__peer_get(t, addr);
    if (!p) {
        stage__conn_close(c, STAGE_ENOMEM, STAGE_LOG_ERROR, "out of memory");
        return;
    }
    inbound_hello(p, c, inc, manager);
}

void stage__peer_drained(stage__peer_t *p) {
    stage__transport_t *t = p->t;
    if (!p->refused || pending_bytes(p) > t->cfg.max_outbound / 2) return;
    p->refused = false;
    if (t->cbs.on_drain) t->cbs.on_drain(t->cbs.ud, p->addr);
}
