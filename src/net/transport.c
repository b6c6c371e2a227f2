/*
** net/transport.c: the transport object — configuration, listening,
** sending, the once-per-loop-turn flush and the deadline tick.
**
** Batching: a send appends a frame to the peer's queue and marks the peer
** dirty; a uv_prepare handle, which runs once per loop iteration just
** before the loop polls, writes every dirty peer's whole queue in one
** write (Redis's beforesleep). The prepare handle is active only while
** peers are dirty.
** Tick: one timer (unreferenced, so it never keeps the loop alive) checks
** every connection's deadlines and heartbeats, and every session's failure
** detector, at a quarter of the shortest configured interval.
** Acks: an owed ack rides on a write to the peer once half due, and goes
** alone when due (ack_ms, or ack_bytes owed: session/session.h); the ack
** timer, armed only while one is owed, brings the flush back in time.
** Lifetime: destroy closes every handle; the memory goes with the last
** close callback (handles counts the open ones).
** Cluster keys: kept in cfg, borrowed by every connection's secure state
** (so they live until the last handle closes), wiped when t is freed.
** Out of memory for a new connection: libuv stops listening until the
** pending connection is accepted, so it is accepted into the spare
** handle and closed (or, while the spare is still closing, at the next
** tick).
** Loop thread only.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wire/mp.h"

void stage__transport_config_init(stage__transport_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->max_frame = STAGE__FRAME_MAX_DEFAULT;
    cfg->max_outbound = 4 * STAGE__FRAME_MAX_DEFAULT;
    cfg->handshake_ms = 5000;
    cfg->frame_ms = 10000;
    cfg->heartbeat_ms = 1000;
    cfg->heartbeat_misses = 3;
    cfg->backoff_min_ms = 50;
    cfg->backoff_max_ms = 5000;
    cfg->max_attempts = 8;
    cfg->max_pending = 64;
    cfg->dead_after_ms = 10000;
    cfg->refused_limit = 2;
    cfg->ack_ms = 20;
}

static int config_valid(const stage__transport_config_t *c) {
    return c->max_frame > STAGE__FRAME_HEADER && c->max_frame <= UINT32_MAX &&
           c->max_outbound >= c->max_frame && c->handshake_ms > 0 &&
           c->frame_ms > 0 && c->heartbeat_ms > 0 && c->heartbeat_misses > 0 &&
           c->backoff_min_ms > 0 && c->backoff_max_ms >= c->backoff_min_ms &&
           c->max_attempts > 0 && c->max_pending > 0 &&
           c->dead_after_ms > c->heartbeat_ms && c->refused_limit > 0 &&
           c->ack_ms > 0 && c->keys.n >= 0 && c->keys.n <= STAGE__CLUSTER_KEYS;
}

/* The configuration of every peer's session. */
static void session_config(const stage__transport_config_t *c,
                           stage__session_config_t *s) {
    stage__session_config_init(s);
    s->max_bytes = c->max_outbound;
    s->max_frame = c->max_frame;
    s->dead_after_ms = c->dead_after_ms;
    s->refused_limit = c->refused_limit;
    s->ack_ms = c->ack_ms;
    /* owed acks go at once well before a sender could fill its bound */
    if (s->ack_bytes > c->max_outbound / 8) s->ack_bytes = c->max_outbound / 8;
}

/* Write addr's canonical form into out. 0 or STAGE_EINVAL. The form is
** wire's, which core's moves and Lua's spawn_at write too, so that every
** layer names a peer as the transport does. */
static int canonical(const char *addr, char *out, size_t len) {
    return stage__node_addr_canon(addr, out, len);
}

uint64_t stage__transport_random(stage__transport_t *t, uint64_t n) {
    t->rng ^= t->rng << 13; /* xorshift64: jitter needs no more */
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return n ? t->rng % n : 0;
}

/* A peer's word on the frames it takes. */
struct stage__takes {
    struct stage__takes *next;
    size_t max;
    char addr[STAGE_ADDR_MAX];
};

static void on_handle_closed(uv_handle_t *h) {
    stage__transport_handle_closed(h->data);
}

void stage__transport_handle_closed(stage__transport_t *t) {
    if (--t->handles > 0 || !t->closing) return;
    stage__secure_keys_wipe(&t->cfg.keys);
    for (struct stage__takes *k; (k = t->takes);) {
        t->takes = k->next;
        stage__free(k);
    }
    pthread_mutex_destroy(&t->takes_lock);
    stage__free(t);
}

static void on_flush(uv_prepare_t *h) {
    stage__transport_t *t = h->data;
    stage__peer_t *p = t->dirty;
    t->dirty = NULL;
    while (p) {
        stage__peer_t *next = p->next_dirty;
        p->dirty = false;
        if (p->conn) stage__conn_flush(p->conn);
        p = next;
    }
    /* A callback run by a failed write may have queued more: next turn. */
    if (!t->dirty) uv_prepare_stop(&t->flush);
}

void stage__transport_dirty(stage__peer_t *p) {
    stage__transport_t *t = p->t;
    if (p->dirty || t->closing) return;
    p->dirty = true;
    p->next_dirty = t->dirty;
    t->dirty = p;
    uv_prepare_start(&t->flush, on_flush);
}

static void on_spare_closed(uv_handle_t *h) {
    stage__transport_t *t = h->data;
    t->refusing = false;
    stage__transport_handle_closed(t);
}

void stage__transport_refuse(stage__transport_t *t) {
    if (t->closing) return;
    if (t->refusing || uv_tcp_init(t->loop, &t->spare)) {
        t->refuse_later = true;
        return;
    }
    t->spare.data = t;
    t->handles++;
    t->refusing = true;
    uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)&t->spare);
    uv_close((uv_handle_t *)&t->spare, on_spare_closed);
}

static void on_tick(uv_timer_t *h) {
    stage__transport_t *t = h->data;
    uint64_t now = uv_now(t->loop);
    if (t->refuse_later && !t->refusing) {
        t->refuse_later = false;
        stage__conn_accept(t);
    }
    for (stage__conn_t *c = t->conns; c; c = c->next)
        stage__conn_tick(c, now);
    /* The tick comes every period: a gap of seconds means this process
    ** did not run (SIGSTOP, a host frozen, a loop blocked), and what it
    ** did not hear meanwhile says nothing about its peers. Without this a
    ** node woken from a long stop would declare every other node dead,
    ** and answer them DEAD, instead of learning that it was. */
    bool paused = t->last_tick && now - t->last_tick > t->pause_ms;
    t->last_tick = now;
    for (stage__peer_t *p = t->peers; p; p = p->next) {
        if (paused) stage__session_heard(&p->s, now);
        stage__session_tick(&p->s, now); /* silence past dead_after */
    }
}

static void on_ack(uv_timer_t *h) {
    stage__transport_t *t = h->data;
    for (stage__peer_t *p = t->peers; p; p = p->next)
        if (stage__session_ack_owed(&p->s) && p->up) stage__transport_dirty(p);
}

void stage__transport_ack_later(stage__transport_t *t) {
    if (t->closing || uv_is_active((uv_handle_t *)&t->ack)) return;
    uv_timer_start(&t->ack, on_ack, t->cfg.ack_ms, 0);
}

/* The tick period: a quarter of the shortest deadline, 1 ms to 250 ms. */
static uint64_t tick_ms(const stage__transport_config_t *c) {
    uint64_t m = c->handshake_ms;
    if (c->frame_ms < m) m = c->frame_ms;
    if (c->heartbeat_ms < m) m = c->heartbeat_ms;
    m /= 4;
    return m < 1 ? 1 : m > 250 ? 250 : m;
}

/* A write to a connection the peer has closed raises SIGPIPE, which kills
** the process by default; libuv reports EPIPE instead once it is ignored.
** A handler the program installed is left alone. */
static void ignore_sigpipe(void) {
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) || sa.sa_handler != SIG_DFL) return;
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL);
}

int stage__transport_new(uv_loop_t *loop, const stage__transport_config_t *cfg,
                         const stage__transport_cbs_t *cbs,
                         stage__transport_t **out) {
    stage__transport_config_t def;
    if (!cfg) stage__transport_config_init(&def);
    if (!cfg) cfg = &def;
    if (!loop || !out || !config_valid(cfg)) return STAGE_EINVAL;
    if (cfg->keys.n && stage__secure_global_init()) return STAGE_EIO;
    stage__transport_t *t = stage__calloc(1, sizeof *t);
    if (!t) return STAGE_ENOMEM;
    ignore_sigpipe();
    t->loop = loop;
    t->cfg = *cfg;
    pthread_mutex_init(&t->takes_lock, NULL);
    if (cbs) t->cbs = *cbs;
    if (cfg->advertise && canonical(cfg->advertise, t->self, sizeof t->self)) {
        pthread_mutex_destroy(&t->takes_lock);
        stage__free(t);
        return STAGE_EINVAL;
    }
    t->cfg.advertise = NULL; /* not ours to keep; t->self holds it */
    t->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)t;
    if (!t->rng) t->rng = 1;
    t->incarnation = cfg->incarnation;
    while (!t->incarnation)
        t->incarnation = (uint32_t)stage__transport_random(t, UINT32_MAX);
    session_config(cfg, &t->scfg);
    uv_prepare_init(loop, &t->flush);
    uv_timer_init(loop, &t->tick);
    uv_timer_init(loop, &t->ack);
    t->flush.data = t->tick.data = t->ack.data = t->listener.data = t;
    t->handles = 3;
    uint64_t period = tick_ms(cfg);
    /* a gap between ticks that says the process was paused: 4 periods at
    ** least, at most a second or half of dead_after */
    t->pause_ms = cfg->dead_after_ms / 2 < 1000 ? cfg->dead_after_ms / 2 : 1000;
    if (t->pause_ms < 4 * period) t->pause_ms = 4 * period;
    uv_timer_start(&t->tick, on_tick, period, period);
    uv_unref((uv_handle_t *)&t->tick);
    uv_unref((uv_handle_t *)&t->ack);
    *out = t;
    return 0;
}

static void on_connection(uv_stream_t *server, int status) {
    stage__transport_t *t = server->data;
    if (status < 0) {
        LOG_WARN("cannot accept on '%s': %s", t->self, uv_strerror(status));
        return;
    }
    stage__conn_accept(t);
}

/* Bind and listen on ss; 0 or a libuv error. */
static int bind_listen(stage__transport_t *t, struct sockaddr_storage *ss) {
    int rc = uv_tcp_bind(&t->listener, (struct sockaddr *)ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&t->listener, 128, on_connection);
    int len = sizeof *ss;
    if (!rc) rc = uv_tcp_getsockname(&t->listener, (struct sockaddr *)ss, &len);
    return rc;
}

int stage__transport_listen(stage__transport_t *t, const char *addr,
                            char *bound, size_t len) {
    struct sockaddr_storage ss;
    char name[STAGE_ADDR_MAX];
    if (t->listen_called || t->closing || stage__addr_parse(addr, &ss))
        return STAGE_EINVAL;
    /* Once only, even after a failure: a closing handle cannot be reused
    ** before its close callback, which runs on a later loop turn. */
    t->listen_called = true;
    int rc = uv_tcp_init(t->loop, &t->listener);
    if (rc) {
        t->listen_error = rc;
        return STAGE_EIO;
    }
    t->listener.data = t;
    t->handles++;
    t->listening = true;
    rc = bind_listen(t, &ss);
    if (!rc && stage__addr_format((struct sockaddr *)&ss, name, sizeof name))
        rc = UV_EAFNOSUPPORT;
    if (rc) {
        t->listen_error = rc;
        t->listening = false;
        uv_close((uv_handle_t *)&t->listener, on_handle_closed);
        return STAGE_EIO;
    }
    if (!t->self[0]) snprintf(t->self, sizeof t->self, "%s", name);
    if (bound) snprintf(bound, len, "%s", name);
    return 0;
}

int stage__transport_listen_error(const stage__transport_t *t) {
    return t->listen_error;
}

const char *stage__transport_address(const stage__transport_t *t) {
    return t->self;
}

uint32_t stage__transport_incarnation(const stage__transport_t *t) {
    return t->incarnation;
}

uint64_t stage__transport_peer_manager(stage__transport_t *t,
                                       const char *addr) {
    stage__peer_t *p = stage__peer_find(t, addr);
    return p && p->up ? p->manager : 0;
}

uint32_t stage__transport_peer_incarnation(stage__transport_t *t,
                                           const char *addr) {
    stage__peer_t *p = stage__peer_find(t, addr);
    return p ? stage__session_peer(&p->s) : 0;
}

static bool peer_refuses(const stage__peer_t *p, size_t len) {
    return p->max_frame && len > p->max_frame - STAGE__FRAME_HEADER;
}

int stage__transport_fits(stage__transport_t *t, const char *peer, size_t len) {
    if (len > t->cfg.max_frame - STAGE__FRAME_HEADER) return STAGE_ETOOBIG;
    stage__peer_t *p = stage__peer_find(t, peer);
    return p && peer_refuses(p, len) ? STAGE_ETOOBIG : 0;
}

void stage__transport_peer_takes(stage__transport_t *t, const char *addr,
                                 size_t max) {
    pthread_mutex_lock(&t->takes_lock);
    struct stage__takes *k = t->takes;
    while (k && strcmp(k->addr, addr))
        k = k->next;
    if (!k && (k = stage__calloc(1, sizeof *k))) {
        snprintf(k->addr, sizeof k->addr, "%s", addr);
        k->next = t->takes;
        t->takes = k;
    }
    if (k) k->max = max; /* out of memory: not known, as before */
    pthread_mutex_unlock(&t->takes_lock);
}

size_t stage__transport_takes(stage__transport_t *t, const char *peer) {
    size_t max = t->cfg.max_frame;
    pthread_mutex_lock(&t->takes_lock);
    for (struct stage__takes *k = t->takes; k; k = k->next)
        if (!strcmp(k->addr, peer) && k->max && k->max < max) max = k->max;
    pthread_mutex_unlock(&t->takes_lock);
    return max - STAGE__FRAME_HEADER;
}

int stage__transport_send(stage__transport_t *t, const char *peer, int kind,
                          const void *body, size_t len) {
    if (t->closing) return STAGE_ESTOPPED;
    if (kind < STAGE__NET_KIND_USER || kind > 255 || !t->self[0] || !peer)
        return STAGE_EINVAL;
    if (len > t->cfg.max_frame - STAGE__FRAME_HEADER) return STAGE_ETOOBIG;
    stage__peer_t *p = stage__peer_find(t, peer);
    if (!p) {
        char canon[STAGE_ADDR_MAX];
        if (canonical(peer, canon, sizeof canon) || !strcmp(canon, t->self))
            return STAGE_EINVAL;
        p = stage__peer_get(t, canon);
        if (!p) return STAGE_ENOMEM;
    }
    /* past what the peer said it takes: it would close the connection at
    ** the frame's header, and the session would send it again, forever */
    if (peer_refuses(p, len)) return STAGE_ETOOBIG;
    int rc = stage__session_append(&p->s, kind, body, len);
    if (rc == STAGE_EBUSY) p->refused = true;
    if (rc) return rc;
    stage__peer_kick(p);
    return 0;
}

void stage__transport_goodbye(stage__transport_t *t) {
    for (stage__peer_t *p = t->peers; p; p = p->next) {
        if (!p->up) continue;
        uint64_t n;
        if (stage__session_ack_all(&p->s, &n)) { /* nothing it sent is lost */
            char b[16];
            stage_pack_t body = {b, 0, sizeof b, 0};
            stage_pack_int(&body, (int64_t)n);
            stage__peer_queue(p, STAGE__NET_KIND_ACK, body.data, body.len);
        }
        if (stage__peer_queue(p, STAGE__NET_KIND_BYE, "\xc0", 1) == 0)
            stage__peer_kick(p);
    }
    t->goodbye = true;
}

int stage__transport_declare_dead(stage__transport_t *t, const char *addr,
                                  uint32_t incarnation, const char *why) {
    char canon[STAGE_ADDR_MAX];
    if (!incarnation || canonical(addr, canon, sizeof canon) ||
        !strcmp(canon, t->self))
        return STAGE_EINVAL;
    stage__peer_t *p = stage__peer_get(t, canon);
    if (!p) return STAGE_ENOMEM;
    if (stage__session_peer(&p->s) == incarnation)
        LOG_INFO("'%s' (incarnation %x) is declared dead: %s", canon,
                 incarnation, why);
    stage__session_declare_dead(&p->s, incarnation, why);
    return 0;
}

size_t stage__transport_sessions(const stage__transport_t *t) {
    size_t n = 0;
    for (const stage__peer_t *p = t->peers; p; p = p->next)
        n += stage__session_peer(&p->s) != 0;
    return n;
}

void stage__transport_each_session(stage__transport_t *t,
                                   void (*fn)(void *ud, const char *addr,
                                              uint32_t incarnation),
                                   void *ud) {
    for (stage__peer_t *p = t->peers; p; p = p->next)
        if (stage__session_peer(&p->s))
            fn(ud, p->addr, stage__session_peer(&p->s));
}

int stage__transport_is_dead(stage__transport_t *t, const char *addr,
                             uint32_t incarnation, const char **why) {
    stage__peer_t *p = stage__peer_find(t, addr);
    return p && p->s.ndead && stage__session_is_dead(&p->s, incarnation, why);
}

int stage__transport_known_gone(stage__transport_t *t, const char *addr) {
    stage__peer_t *p = stage__peer_find(t, addr);
    return p && stage__peer_known_gone(p);
}

size_t stage__transport_unacked(stage__transport_t *t) {
    size_t n = 0;
    for (stage__peer_t *p = t->peers; p; p = p->next)
        if (p->up) n += (size_t)stage__session_unacked(&p->s);
    return n;
}

int stage__transport_has_left(stage__transport_t *t, const char *addr,
                              uint32_t incarnation) {
    stage__peer_t *p = stage__peer_find(t, addr);
    return p && stage__session_has_left(&p->s, incarnation);
}

void stage__transport_stats(const stage__transport_t *t,
                            stage__net_stats_t *out) {
    stage__transport_t *m = (stage__transport_t *)t; /* atomic loads */
    out->bytes_in =
        atomic_load_explicit(&m->stats.bytes_in, memory_order_relaxed);
    out->bytes_out =
        atomic_load_explicit(&m->stats.bytes_out, memory_order_relaxed);
    out->frames_in =
        atomic_load_explicit(&m->stats.frames_in, memory_order_relaxed);
    out->frames_out =
        atomic_load_explicit(&m->stats.frames_out, memory_order_relaxed);
    out->writes = atomic_load_explicit(&m->stats.writes, memory_order_relaxed);
}

int stage__transport_peer_stats(const stage__transport_t *t, const char *peer,
                                stage__net_stats_t *out) {
    stage__peer_t *p = stage__peer_find((stage__transport_t *)t, peer);
    if (!p) return STAGE_EINVAL;
    *out = p->stats;
    return 0;
}

uint64_t stage__transport_peer_failures(const stage__transport_t *t,
                                        const char *peer, char *why,
                                        size_t len) {
    stage__peer_t *p = stage__peer_find((stage__transport_t *)t, peer);
    snprintf(why, len, "%s", p ? p->last_failure : "");
    return p ? p->failed_connects : 0;
}

int stage__transport_peer_is_up(const stage__transport_t *t, const char *peer) {
    stage__peer_t *p = stage__peer_find((stage__transport_t *)t, peer);
    return p && p->up;
}

void stage__transport_destroy(stage__transport_t **tp) {
    stage__transport_t *t = *tp;
    if (!t) return;
    *tp = NULL;
    t->closing = true;
    for (stage__conn_t *c = t->conns; c; c = c->next)
        stage__conn_close(c, STAGE_ESTOPPED, -1, NULL);
    for (stage__peer_t *p = t->peers; p; p = p->next)
        stage__peer_close(p);
    if (t->listening) uv_close((uv_handle_t *)&t->listener, on_handle_closed);
    uv_close((uv_handle_t *)&t->flush, on_handle_closed);
    uv_close((uv_handle_t *)&t->tick, on_handle_closed);
    uv_close((uv_handle_t *)&t->ack, on_handle_closed);
}
