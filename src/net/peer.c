/*
** net/peer.c: the peers of a transport — their sessions (src/session),
** the handshake decision that keeps one connection per pair of nodes and
** binds, resumes or ends a session, reconnecting with backoff, and
** reporting sessions up and down.
**
** One-connection rule: when a handshake arrives from P on an inbound
** connection while our own outbound attempt to P has not completed, the
** connection opened by the node with the smaller address wins; both nodes
** compare the same two addresses, so both keep the same connection. An
** outbound attempt still connecting has written nothing, so P keeps its
** own: the inbound one is kept whatever the addresses. User frames wait
** in the session until a connection is UP, so the losing connection never
** carried any. A handshake older than one already read from P (numbered
** by its sender: one sent on a dial P has since given up) is stale and
** only closes its connection.
** Reconnecting: a peer with a session is reconnected whenever its
** connection is lost, with backoff, until the session ends (the failure
** detector declares it dead: silence for dead_after_ms, or refused_limit
** refused connects in a row). A peer without one (never reached, or its
** session ended) is dialled while frames wait and given up after
** max_attempts failed connects, or, never reached, refused_limit refused
** ones (its frames are then given back: STAGE_EUNREACHABLE).
** Peer states: idle -> connecting [kick] -> up [hello: session bound] ->
** connecting [conn lost: session kept] -> up [hello: session resumed] ...
** -> idle [session ended, or given up].
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

static void on_session_end(void *ud, stage__session_t *s, uint32_t inc,
                           int reason, const char *why, uint64_t count,
                           stage__session_iter_t *lost);

stage__peer_t *stage__peer_get(stage__transport_t *t, const char *addr) {
    stage__peer_t *p = stage__peer_find(t, addr);
    if (p) return p;
    p = stage__calloc(1, sizeof *p);
    if (!p) return NULL;
    p->t = t;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    stage_pack_init(&p->ctrl);
    stage__session_hooks_t hooks = {p, on_session_end};
    stage__session_init(&p->s, &t->scfg, &hooks, t->incarnation);
    uv_timer_init(t->loop, &p->retry);
    p->retry.data = p;
    t->handles++;
    p->next = t->peers;
    t->peers = p;
    return t->last_peer = p;
}

void stage__peer_free(stage__peer_t *p) {
    stage_pack_free(&p->ctrl);
    stage__session_close(&p->s);
    stage__free(p);
}

void stage__peer_close(stage__peer_t *p) {
    uv_close((uv_handle_t *)&p->retry, on_retry_closed);
}

int stage__peer_queue(stage__peer_t *p, int kind, const void *body,
                      size_t len) {
    size_t before = p->ctrl.len;
    int rc = stage__frame_append(&p->ctrl, (uint8_t)kind, body, len,
                                 p->t->cfg.max_frame);
    if (rc) {
        p->ctrl.len = before;
        p->ctrl.err = 0;
        return rc;
    }
    p->ctrl_count++;
    return 0;
}

/* 1 if p should have a connection: a session to keep, or frames for
** whoever answers. */
static bool wants_connection(const stage__peer_t *p) {
    return stage__session_peer(&p->s) || stage__session_unacked(&p->s);
}

void stage__peer_kick(stage__peer_t *p) {
    if (p->conn) {
        if (p->conn->state == CONN_UP) stage__transport_dirty(p);
        return;
    }
    if (uv_is_active((uv_handle_t *)&p->retry) || p->t->goodbye) return;
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
    if (p->conn || p->t->closing || p->t->goodbye || !wants_connection(p))
        return;
    int rc = stage__conn_connect(p);
    if (rc) LOG_WARN("cannot connect to '%s': %s", p->addr, stage_strerror(rc));
}

/* The session with p ended (the hook of src/session): its connection goes,
** unless it is the one whose handshake ended it, and the layer above gets
** the frames that were not acknowledged. */
static void on_session_end(void *ud, stage__session_t *s, uint32_t inc,
                           int reason, const char *why, uint64_t count,
                           stage__session_iter_t *lost) {
    stage__peer_t *p = ud;
    stage__transport_t *t = p->t;
    (void)s;
    if (p->conn && p->conn != p->greeting) {
        stage__conn_t *c = p->conn;
        p->conn = NULL; /* not a failed attempt: nothing to retry */
        p->up = false;
        stage__conn_close(c, reason, STAGE_LOG_DEBUG, "its session ended");
    }
    stage_pack_reset(&p->ctrl); /* pings and acks of the old session */
    p->ctrl_count = 0;
    p->attempts = 0;
    p->refusals = 0;
    uv_timer_stop(&p->retry);
    LOG_DEBUG("session with '%s' (incarnation %x) ended: %s; %llu frames not "
              "acknowledged",
              p->addr, inc, why, (unsigned long long)count);
    if (t->cbs.on_peer_down && !t->closing)
        t->cbs.on_peer_down(t->cbs.ud, p->addr, inc, reason, why, (size_t)count,
                            lost);
    stage__peer_drained(p);
}

bool stage__peer_known_gone(const stage__peer_t *p) {
    return !stage__session_peer(&p->s) && p->s.ndead > 0;
}

/* Give p up: no session, and max_attempts connects failed in a row, or
** refused_limit of them were refused. Where the node last known there was
** declared dead, that is no news (stage__peer_known_gone): said at debug. */
static void give_up(stage__peer_t *p) {
    int attempts = p->attempts;
    uint64_t n = stage__session_unacked(&p->s);
    int level = stage__peer_known_gone(p) ? STAGE_LOG_DEBUG : STAGE_LOG_WARN;
    char why[96];
    if (p->left) {
        LOG_INFO("'%s' has stopped, %llu frames queued for it", p->addr,
                 (unsigned long long)n);
        snprintf(why, sizeof why, "it has stopped");
    } else if (p->refusals >= p->t->cfg.refused_limit) {
        STAGE_LOG(level,
                  "giving up on '%s': %d connection attempts in a row were "
                  "refused (nothing listens there), %llu frames queued for it",
                  p->addr, p->refusals, (unsigned long long)n);
        snprintf(why, sizeof why,
                 "%d connection attempts in a row were refused: nothing "
                 "listens there",
                 p->refusals);
    } else {
        STAGE_LOG(level,
                  "giving up on '%s' after %d failed connection attempts, "
                  "%llu frames queued for it",
                  p->addr, attempts, (unsigned long long)n);
        snprintf(why, sizeof why, "%d connection attempts failed", attempts);
    }
    stage__session_end(&p->s, STAGE_EUNREACHABLE, why);
}

void stage__peer_left(stage__peer_t *p) {
    p->left = true;
    LOG_DEBUG("'%s' says goodbye", p->addr);
    stage__session_goodbye(&p->s, "it said goodbye (it stops)");
}

/* Reconnect p after delay ms. */
static void retry_in(stage__peer_t *p, uint64_t delay) {
    if (p->t->goodbye) return;
    if (delay)
        LOG_DEBUG("retrying '%s' in %llu ms", p->addr,
                  (unsigned long long)delay);
    uv_timer_start(&p->retry, on_retry, delay, 0);
}

void stage__peer_conn_lost(stage__peer_t *p, stage__conn_t *c, int reason) {
    stage__transport_t *t = p->t;
    bool was_up = p->up;
    p->conn = NULL;
    p->up = false;
    stage_pack_reset(&p->ctrl); /* pings and acks of that connection */
    p->ctrl_count = 0;
    if (t->closing) return;
    bool bound = stage__session_peer(&p->s) != 0;
    if (was_up) {
        p->attempts = 0;
        p->refusals = 0;
        if (bound)
            LOG_DEBUG("connection to '%s' lost (%s); the session goes on, "
                      "%llu frames not acknowledged",
                      p->addr, stage_strerror(reason),
                      (unsigned long long)stage__session_unacked(&p->s));
        if (wants_connection(p)) retry_in(p, 0);
        return;
    }
    if (!c->outbound) return;
    if (bound) { /* keep trying until the failure detector decides */
        if (c->refused) {
            if (stage__session_refused(&p->s)) return; /* declared dead */
        } else {
            stage__session_not_refused(&p->s);
        }
        retry_in(p, backoff(t, ++p->attempts));
        return;
    }
    /* refused, and never reached: nothing listens there (it left, or
    ** died, before this node reached it), so refused_limit in a row give
    ** up, as they declare a known incarnation dead. A peer reached before
    ** (its session ended) may be restarting at its address: its frames
    ** wait for the next one, max_attempts long. */
    p->refusals = c->refused && !p->incarnation ? p->refusals + 1 : 0;
    if (++p->attempts >= t->cfg.max_attempts || p->left ||
        p->refusals >= t->cfg.refused_limit) {
        give_up(p);
    } else if (wants_connection(p)) {
        retry_in(p, backoff(t, p->attempts));
    }
}

/* c completed its handshake with p; is_new: a new session. */
static void peer_up(stage__peer_t *p, stage__conn_t *c, const stage__hello_t *h,
                    bool is_new) {
    stage__transport_t *t = p->t;
    c->state = CONN_UP;
    stage__conn_unpend(c);
    c->dec.max = t->cfg.max_frame; /* the handshake limit is lifted */
    c->rseq = p->s.received;
    p->conn = c;
    p->incarnation = h->incarnation;
    p->manager = h->manager;
    p->max_frame = h->max_frame;
    stage__transport_peer_takes(t, p->addr, h->max_frame);
    p->up = true;
    p->left = false; /* back (a restart, or it never went) */
    p->attempts = 0;
    p->refusals = 0;
    uv_timer_stop(&p->retry);
    stage__session_not_refused(&p->s);
    LOG_DEBUG("connected to '%s' (incarnation %x, %s session)", p->addr,
              h->incarnation, is_new ? "a new" : "its");
    if (p->ctrl.len || stage__session_unsent(&p->s) ||
        stage__session_ack_owed(&p->s))
        stage__transport_dirty(p);
    if (is_new && t->cbs.on_peer_up)
        t->cbs.on_peer_up(t->cbs.ud, p->addr, h->incarnation);
}

/* An inbound connection c says it comes from p: keep it or refuse it (the
** one-connection rule). 1 if c is kept (p->conn is c), else 0. */
static int inbound_keep(stage__peer_t *p, stage__conn_t *c,
                        const stage__hello_t *h) {
    stage__transport_t *t = p->t;
    stage__conn_t *old = p->conn;
    if (old && old->state == CONN_UP) {
        bool restarted = h->incarnation != p->incarnation;
        stage__conn_close(old, STAGE_EIO, STAGE_LOG_INFO,
                          restarted ? "peer restarted with a new incarnation"
                                    : "peer opened a new connection");
    } else if (old && old->state == CONN_CONNECTING) {
        /* Our dial has not connected: it wrote nothing, so P cannot have
        ** read our hello and keeps its own connection; we keep it too,
        ** whichever address is smaller. Keeping the dial would drop P's
        ** hello (at debug level) for a connection that may never come:
        ** dialling P's old incarnation, refused (made before P listened
        ** again, or nothing listens there), it declares the old one down,
        ** and the new one is not heard until it dials again, if ever. */
        p->conn = NULL; /* abandoned, not a failure */
        stage__conn_close(old, 0, STAGE_LOG_DEBUG,
                          "duplicate connection: keeping theirs (ours has "
                          "not connected)");
    } else if (old && strcmp(t->self, p->addr) < 0) {
        /* Simultaneous connect: ours was opened by the smaller address. */
        stage__conn_close(c, 0, STAGE_LOG_DEBUG,
                          "duplicate connection: keeping ours");
        return 0;
    } else if (old) {
        p->conn = NULL; /* theirs wins: abandon ours, not a failure */
        stage__conn_close(old, 0, STAGE_LOG_DEBUG,
                          "duplicate connection: keeping theirs");
    }
    if (p->conn) {
        /* a dial made meanwhile (a retry timer): this one serves instead */
        stage__conn_t *dial = p->conn;
        p->conn = NULL;
        stage__conn_close(dial, 0, STAGE_LOG_DEBUG, "replaced by theirs");
    }
    uv_timer_stop(&p->retry);
    c->peer = p;
    p->conn = c;
    return 1;
}

void stage__peer_hello(stage__conn_t *c, const stage__hello_t *h) {
    stage__transport_t *t = c->t;
    char why[STAGE__SESSION_WHY_MAX];
    const char *dead;
    if (c->state == CONN_UP) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, "second handshake");
        return;
    }
    if (strcmp(h->addr, t->self) == 0) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN,
                          "handshake names this node itself");
        return;
    }
    if (c->outbound && strcmp(h->addr, c->peer->addr) != 0) {
        snprintf(why, sizeof why, "handshake names '%s' instead", h->addr);
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
        return;
    }
    stage__peer_t *p = c->outbound ? c->peer : stage__peer_get(t, h->addr);
    if (!p) {
        stage__conn_close(c, STAGE_ENOMEM, STAGE_LOG_ERROR, "out of memory");
        return;
    }
    if (stage__session_is_dead(&p->s, h->incarnation, &dead)) {
        stage__conn_refuse_dead(c, h->addr, h->incarnation, dead);
        return;
    }
    if (stage__session_stale(&p->s, h->incarnation, h->number)) {
        stage__conn_close(c, 0, STAGE_LOG_DEBUG,
                          "stale handshake (of a connection given up)");
        return;
    }
    if (stage__session_has_left(&p->s, h->incarnation)) {
        stage__conn_close(c, 0, STAGE_LOG_DEBUG,
                          "it said goodbye and is stopping");
        return;
    }
    /* this node is stopping: a session may resume (its goodbye is on its
    ** way), none begins */
    if (t->goodbye && !c->outbound &&
        (stage__session_peer(&p->s) != h->incarnation ||
         h->known != t->incarnation)) {
        stage__conn_close(c, 0, STAGE_LOG_DEBUG,
                          "this node said goodbye and is stopping");
        return;
    }
    if (!c->outbound && !inbound_keep(p, c, h)) return;
    p->greeting = c;
    int r = stage__session_greeted(&p->s, h->incarnation, h->known, h->received,
                                   h->number, uv_now(t->loop), why, sizeof why);
    p->greeting = NULL;
    if (c->state == CONN_CLOSING) return;
    if (r == STAGE__SESSION_DEAD) {
        stage__conn_refuse_dead(c, h->addr, h->incarnation, why);
        return;
    }
    if (r == STAGE__SESSION_STALE || r == STAGE__SESSION_LEFT) {
        /* checked above; never acted on */
        if (p->conn == c) p->conn = NULL;
        stage__conn_close(c, 0, STAGE_LOG_DEBUG, "stale handshake");
        return;
    }
    if (!c->outbound) {
        int rc = stage__conn_greet(c);
        if (rc) stage__conn_close(c, rc, STAGE_LOG_WARN, stage_strerror(rc));
        if (c->state == CONN_CLOSING) return; /* greeting may fail to write */
    }
    peer_up(p, c, h, r == STAGE__SESSION_NEW);
}

void stage__peer_drained(stage__peer_t *p) {
    stage__transport_t *t = p->t;
    if (!p->refused || stage__session_bytes(&p->s) > t->cfg.max_outbound / 2)
        return;
    p->refused = false;
    if (t->cbs.on_drain) t->cbs.on_drain(t->cbs.ud, p->addr);
}
