/*
** net/conn.c: one TCP connection between two nodes.
**
** Reading feeds the frame decoder (src/wire/frame.h) straight from libuv's
** buffer and hands out complete frames in order; user frames are numbered
** on arrival from the point the handshake fixed (the session's count), so
** a data frame carries no sequence number. Anything the decoder refuses, a
** frame other than a handshake before the handshake, a second handshake,
** or a stall past a deadline closes the connection with one log line
** naming the peer and the reason; no other connection is touched.
** Writing: at most one write in flight, of the session's unsent bytes in
** place (spans of its chunks, pinned until the write is over) followed by
** wbuf, the transport frames (the peer's queue swapped in whole, an ACK
** appended): one write per loop turn, uv_try_write first.
** A connection answered with DEAD is doomed: it reads and ignores until
** the peer closes (so the DEAD is not lost to a reset) or the handshake
** deadline passes; only the peer's own DEAD is read (a split: in_dead).
** With a cluster key (c->sec), the bytes on the socket are net/secure.c's:
** the handshake messages first (written by hreq), then records; only the
** plaintext of a record that authenticates is fed to the frame decoder,
** and a write's frames are sealed into records (sout) before they go.
** Anything else (a plain frame, garbage, a wrong key, a record that does
** not authenticate, a stream cut inside a record) closes the connection
** with a log line naming the peer; a REJECT tells the peer why first.
** States: see net.h. Loop thread only.
*/
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/log.h"

#define READ_CHUNK 65536
#define WBUF_RETAIN ((size_t)1 << 20)

static void on_closed(uv_handle_t *h) {
    stage__conn_t *c = h->data;
    stage__transport_t *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    stage__fdec_close(&c->dec);
    stage_pack_free(&c->wbuf);
    if (c->sec) {
        stage__secure_wipe(c->sec);
        stage__aligned_free(c->sec);
    }
    stage__buf_free(&c->sin);
    stage__buf_free(&c->sout);
    stage__free(c);
    stage__transport_handle_closed(t);
}

void stage__conn_unpend(stage__conn_t *c) {
    if (!c->pending) return;
    c->pending = false;
    c->t->pending--;
}

const char *stage__conn_name(const stage__conn_t *c) {
    return c->peer ? c->peer->addr : c->remote;
}

/* The write of c is over, or abandoned: its session bytes are free. */
static void release_spans(stage__conn_t *c) {
    for (size_t i = 0; i < c->nspans; i++)
        stage__session_release(&c->peer->s, c->spans[i].chunk);
    c->nspans = 0;
}

void stage__conn_close(stage__conn_t *c, int reason, int level,
                       const char *why) {
    if (c->state == CONN_CLOSING) return;
    if (level >= 0)
        STAGE_LOG(level, "closing connection %s '%s': %s",
                  c->outbound ? "to" : "from", stage__conn_name(c), why);
    stage__peer_t *p = c->peer;
    if (p && c->outbound && c->state != CONN_UP) {
        p->failed_connects++;
        snprintf(p->last_failure, sizeof p->last_failure, "%s", why);
    }
    c->state = CONN_CLOSING;
    stage__conn_unpend(c);
    release_spans(c); /* libuv reads no buffer of a closed handle */
    if (p && p->conn == c) stage__peer_conn_lost(p, c, reason);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* A new connection object in t's list, its handle initialised. */
static stage__conn_t *conn_new(stage__transport_t *t, bool outbound) {
    stage__conn_t *c = stage__calloc(1, sizeof *c);
    if (!c) return NULL;
    if (t->cfg.keys.n) { /* aligned: it holds AES-GCM states */
        c->sec = stage__aligned_alloc(alignof(stage__secure_t), sizeof *c->sec);
        if (!c->sec) {
            stage__free(c);
            return NULL;
        }
        stage__secure_init(c->sec, &t->cfg.keys, outbound);
    }
    if (uv_tcp_init(t->loop, &c->tcp)) {
        stage__aligned_free(c->sec);
        stage__free(c);
        return NULL;
    }
    c->t = t;
    c->tcp.data = c->creq.data = c->wreq.data = c->hreq.data = c;
    c->outbound = outbound;
    stage_pack_init(&c->wbuf);
    /* Until the handshake only a handshake may come: keep frames small so
    ** an unknown connection cannot make us buffer megabytes. */
    stage__fdec_init(&c->dec, t->cfg.max_frame < STAGE__NET_HELLO_MAX
                                  ? t->cfg.max_frame
                                  : STAGE__NET_HELLO_MAX);
    c->opened_ms = c->last_recv_ms = c->last_sent_ms = uv_now(t->loop);
    c->next = t->conns;
    if (t->conns) t->conns->prev = c;
    t->conns = c;
    t->handles++;
    return c;
}

#define ADD(field, n)                                                          \
    atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)

/* Count n bytes in or out on c, for its peer and the transport. */
static void count(stage__conn_t *c, size_t n, bool in, uint64_t frames) {
    stage__transport_t *t = c->t;
    stage__net_stats_t *p = c->peer ? &c->peer->stats : NULL;
    if (in) {
        ADD(t->stats.bytes_in, n);
        ADD(t->stats.frames_in, frames);
        if (p) p->bytes_in += n, p->frames_in += frames;
    } else {
        ADD(t->stats.bytes_out, n);
        ADD(t->stats.frames_out, frames);
        ADD(t->stats.writes, 1);
        if (p) p->bytes_out += n, p->frames_out += frames, p->writes++;
    }
}

/* The write (spans, then wbuf) has been written. */
static void write_done(stage__conn_t *c) {
    count(c, c->wlen, false, c->wcount);
    release_spans(c);
    if (c->wbuf.cap > WBUF_RETAIN)
        stage_pack_free(&c->wbuf); /* a burst's buffer is not kept */
    else
        stage_pack_reset(&c->wbuf);
    if (c->sout.cap > WBUF_RETAIN)
        stage__buf_free(&c->sout);
    else
        stage__buf_clear(&c->sout);
    c->wcount = 0;
    c->writing = false;
    c->last_sent_ms = uv_now(c->t->loop);
    /* the DEAD is out: the peer closes once it has read it (or answers
    ** with its own, after a partition: in_dead), else the deadline does.
    ** No half-close: a proxy or NAT between may drop the whole connection
    ** at the first FIN, and with it the peer's answer. */
    if (c->doomed) return;
    stage__peer_t *p = c->peer;
    if (!p || p->conn != c) return;
    if (p->ctrl.len || stage__session_unsent(&p->s)) stage__transport_dirty(p);
    stage__peer_drained(p);
}

static void on_write(uv_write_t *req, int status) {
    stage__conn_t *c = req->data;
    if (c->state == CONN_CLOSING) return;
    if (status < 0) {
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_INFO, uv_strerror(status));
        return;
    }
    write_done(c);
}

/* With a cluster key: seal bufs[0..*n) (*total bytes) into records in
** c->sout, which then replaces them (*n, *total updated). 0, or -1 with c
** closed. */
static int seal(stage__conn_t *c, uv_buf_t *bufs, unsigned *n, size_t *total) {
    stage__secure_piece_t pieces[STAGE__NET_SPANS + 1];
    for (unsigned i = 0; i < *n; i++)
        pieces[i] = (stage__secure_piece_t){bufs[i].base, bufs[i].len};
    stage__buf_clear(&c->sout);
    int rc = stage__secure_seal(c->sec, &c->sout, pieces, *n);
    if (rc) {
        stage__conn_close(c, rc, STAGE_LOG_WARN,
                          rc == STAGE_ENOMEM
                              ? "out of memory to encrypt its frames"
                              : "cannot encrypt more records on this "
                                "connection (its nonces are used up)");
        return -1;
    }
    bufs[0] = uv_buf_init(c->sout.data, (unsigned)c->sout.len);
    *n = 1;
    *total = c->sout.len;
    return 0;
}

static void on_hs_write(uv_write_t *req, int status) {
    stage__conn_t *c = req->data;
    if (status < 0 && c->state != CONN_CLOSING && !c->rejected)
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_INFO, uv_strerror(status));
}

/* Write c->hs[0..len), a message of the cluster-key handshake, ahead of
** any frame (at most one per connection is in flight: HELLO, REPLY or
** REJECT). */
static void hs_write(stage__conn_t *c, size_t len) {
    uv_buf_t b = uv_buf_init((char *)c->hs, (unsigned)len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w >= 0 && (size_t)w == len) return;
    if (w < 0 && w != UV_EAGAIN) {
        if (!c->rejected)
            stage__conn_close(c, STAGE_EIO, STAGE_LOG_INFO, uv_strerror(w));
        return;
    }
    if (w > 0) b = uv_buf_init(b.base + w, (unsigned)(len - (size_t)w));
    int rc = uv_write(&c->hreq, (uv_stream_t *)&c->tcp, &b, 1, on_hs_write);
    if (rc && !c->rejected)
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_INFO, uv_strerror(rc));
}

/* Refuse c, an inbound connection, before any frame: log why, send the
** peer a REJECT with reason (so its log says why too), then discard what
** it sends until it closes or the handshake deadline passes (closing at
** once could reset the connection before the REJECT is read). */
static void reject(stage__conn_t *c, int reason, const char *why) {
    LOG_WARN("closing connection from '%s': %s", stage__conn_name(c), why);
    stage__secure_reject(c->hs, reason);
    c->rejected = c->doomed = true;
    c->opened_ms = uv_now(c->t->loop);
    hs_write(c, STAGE__SECURE_REJECT);
}

/* Write the spans, then wbuf: as much as the socket takes now, the rest
** by uv_write. */
static void start_write(stage__conn_t *c) {
    uv_buf_t bufs[STAGE__NET_SPANS + 1];
    unsigned n = 0;
    size_t total = 0;
    for (size_t i = 0; i < c->nspans; i++)
        bufs[n++] =
            uv_buf_init((char *)c->spans[i].data, (unsigned)c->spans[i].len);
    if (c->wbuf.len)
        bufs[n++] = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    if (c->sec && seal(c, bufs, &n, &total)) return;
    c->wlen = total;
    int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (w >= 0 && (size_t)w == total) {
        write_done(c);
        return;
    }
    if (w < 0 && w != UV_EAGAIN) {
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_INFO, uv_strerror(w));
        return;
    }
    unsigned first = 0;
    for (size_t left = w > 0 ? (size_t)w : 0; left;) {
        if (left >= bufs[first].len) {
            left -= bufs[first++].len;
        } else {
            bufs[first] = uv_buf_init(bufs[first].base + left,
                                      bufs[first].len - (unsigned)left);
            left = 0;
        }
    }
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs + first, n - first,
                      on_write);
    if (rc) {
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_INFO, uv_strerror(rc));
        return;
    }
    c->writing = true;
}

void stage__conn_flush(stage__conn_t *c) {
    stage__peer_t *p = c->peer;
    if (c->state != CONN_UP || c->writing || c->doomed) return;
    stage__session_t *s = &p->s;
    bool data = stage__session_unsent(s);
    uint64_t acked;
    if (stage__session_ack(s, uv_now(c->t->loop), data || p->ctrl.len,
                           &acked)) {
        char b[16];
        stage_pack_t body = {b, 0, sizeof b, 0};
        stage_pack_int(&body, (int64_t)acked);
        if (stage__peer_queue(p, STAGE__NET_KIND_ACK, body.data, body.len))
            s->ack_sent = 0; /* no memory: owed still */
    } else if (stage__session_ack_owed(s)) {
        stage__transport_ack_later(c->t);
    }
    if (!data && !p->ctrl.len) return;
    stage_pack_t tmp = c->wbuf;
    c->wbuf = p->ctrl;
    p->ctrl = tmp;
    c->wcount = p->ctrl_count;
    p->ctrl_count = 0;
    uint64_t frames = 0;
    c->nspans = stage__session_take(s, c->spans, STAGE__NET_SPANS, &frames);
    c->wcount += frames;
    start_write(c);
}

int stage__conn_greet(stage__conn_t *c) {
    stage__transport_t *t = c->t;
    stage_pack_t *w = &c->wbuf;
    uint32_t known;
    uint64_t received;
    stage__session_hello(&c->peer->s, &known, &received);
    size_t start = stage__frame_begin(w, STAGE__NET_KIND_HELLO);
    stage_pack_array(w, 8);
    stage_pack_int(w, STAGE__NET_PROTO_VERSION);
    stage_pack_cstr(w, t->self);
    stage_pack_int(w, t->incarnation);
    stage_pack_int(w, (int64_t)t->cfg.manager); /* u64 as two's complement */
    stage_pack_int(w, known);
    stage_pack_int(w, (int64_t)received);
    stage_pack_int(w, (int64_t)++t->hellos);
    stage_pack_int(w, (int64_t)t->cfg.max_frame); /* what it may send here */
    int rc = stage__frame_end(w, start, t->cfg.max_frame);
    if (rc) return rc;
    c->wcount = 1;
    start_write(c);
    return 0;
}

void stage__conn_refuse_dead(stage__conn_t *c, const char *addr, uint32_t inc,
                             const char *why) {
    stage__transport_t *t = c->t;
    stage__peer_t *p = c->peer;
    LOG_INFO("refusing '%s' (incarnation %x): it was declared dead (%s)", addr,
             inc, why);
    if (p && p->conn == c) { /* our attempt reached a dead incarnation */
        stage__peer_conn_lost(p, c, STAGE_ENODE_DOWN);
        c->peer = NULL;
    } else if (p) {
        c->peer = NULL;
    }
    snprintf(c->remote, sizeof c->remote, "%s", addr);
    if (c->writing) { /* our hello is still going out: no room for more */
        stage__conn_close(c, STAGE_ENODE_DOWN, -1, NULL);
        return;
    }
    char text[STAGE_ADDR_MAX + STAGE__SESSION_WHY_MAX + 40];
    snprintf(text, sizeof text, "node '%s' declared it dead: %s", t->self, why);
    stage_pack_t *w = &c->wbuf;
    stage_pack_reset(w);
    size_t start = stage__frame_begin(w, STAGE__NET_KIND_DEAD);
    stage_pack_array(w, 4);
    stage_pack_int(w, inc);
    stage_pack_cstr(w, text);
    stage_pack_int(w, (int64_t)stage__transport_sessions(t));
    stage_pack_int(w, t->incarnation);
    if (stage__frame_end(w, start, t->cfg.max_frame)) {
        stage__conn_close(c, STAGE_ENOMEM, -1, NULL);
        return;
    }
    c->doomed = true;
    c->opened_ms = uv_now(t->loop); /* the deadline for the peer to go */
    c->wcount = 1;
    start_write(c);
}

/* Parse a handshake body: [version, address, incarnation, manager, known,
** received, number, max frame] (a node before the max frame sent seven).
** 0, or the reason it is refused in why. */
static int parse_hello(const stage__frame_t *f, stage__hello_t *h, char *why,
                       size_t len) {
    stage_unpack_t u;
    uint32_t n;
    int64_t version, inc, mgr, known, received, number, max_frame = 0;
    const char *s;
    size_t slen;
    stage_unpack_init(&u, f->body, f->len);
    if (stage_unpack_array(&u, &n) || n < 1 || stage_unpack_int(&u, &version))
        goto malformed;
    if (version != STAGE__NET_PROTO_VERSION) {
        snprintf(why, len,
                 "unsupported handshake version %lld (this node speaks %d)",
                 (long long)version, STAGE__NET_PROTO_VERSION);
        return STAGE_EPROTO;
    }
    if ((n != 7 && n != 8) || stage_unpack_str(&u, &s, &slen) ||
        stage_unpack_int(&u, &inc) || stage_unpack_int(&u, &mgr) ||
        stage_unpack_int(&u, &known) || stage_unpack_int(&u, &received) ||
        stage_unpack_int(&u, &number) ||
        (n == 8 &&
         (stage_unpack_int(&u, &max_frame) ||
          max_frame <= STAGE__FRAME_HEADER || max_frame > UINT32_MAX)))
        goto malformed;
    struct sockaddr_storage ss;
    char canon[STAGE_ADDR_MAX];
    if (slen == 0 || slen >= STAGE_ADDR_MAX) goto bad_addr;
    memcpy(h->addr, s, slen);
    h->addr[slen] = '\0';
    if (stage__addr_parse(h->addr, &ss) ||
        stage__addr_format((struct sockaddr *)&ss, canon, sizeof canon) ||
        strcmp(canon, h->addr) != 0 || inc <= 0 || inc > UINT32_MAX)
        goto bad_addr;
    if (known < 0 || known > UINT32_MAX || received < 0 || number <= 0) {
        snprintf(why, len, "handshake with a bad session state");
        return STAGE_EPROTO;
    }
    h->incarnation = (uint32_t)inc;
    h->manager = (uint64_t)mgr;
    h->known = (uint32_t)known;
    h->received = (uint64_t)received;
    h->number = (uint64_t)number;
    h->max_frame = (uint64_t)max_frame;
    return 0;
malformed:
    snprintf(why, len, "malformed handshake");
    return STAGE_EPROTO;
bad_addr:
    snprintf(why, len, "handshake with a bad address or incarnation");
    return STAGE_EPROTO;
}

/* Both sides of a partition that outlasted the node timeout declared each
** other dead, and each answers the other DEAD when it heals. One must
** yield, or the two would stay apart for good (or both stop): the side
** with fewer live sessions — the minority, fewer nodes reachable — stops,
** and on a tie the one with the larger address (a two-node system keeps
** the smaller). Akka's split brain resolver calls this keep-majority.
** True if this node stays: it declared the node at addr dead too (its
** incarnation inc) and has more sessions than theirs (the DEAD's count;
** both -1 when the DEAD did not say). */
static bool wins_split(stage__transport_t *t, const char *addr, int64_t inc,
                       int64_t theirs) {
    stage__peer_t *p = stage__peer_find(t, addr);
    if (!p || theirs < 0 || inc <= 0 || inc > UINT32_MAX ||
        !stage__session_is_dead(&p->s, (uint32_t)inc, NULL))
        return false;
    int64_t ours = (int64_t)stage__transport_sessions(t);
    return ours > theirs || (ours == theirs && strcmp(t->self, addr) < 0);
}

/* DEAD [incarnation, why, sessions, its incarnation] on c: this node was
** declared dead by its peer (which has sessions with that many nodes). */
static void in_dead(stage__conn_t *c, const stage__frame_t *f) {
    stage__transport_t *t = c->t;
    stage_unpack_t u;
    uint32_t n;
    int64_t inc, theirs = -1, their_inc = -1;
    const char *s;
    size_t slen;
    char why[STAGE_ADDR_MAX + STAGE__SESSION_WHY_MAX + 40];
    char name[STAGE_ADDR_MAX];
    stage_unpack_init(&u, f->body, f->len);
    if (stage_unpack_array(&u, &n) || (n != 2 && n != 4) ||
        stage_unpack_int(&u, &inc) || stage_unpack_str(&u, &s, &slen) ||
        (n == 4 && (stage_unpack_int(&u, &theirs) || theirs < 0 ||
                    stage_unpack_int(&u, &their_inc)))) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, "malformed DEAD");
        return;
    }
    if (inc != t->incarnation) { /* about an earlier incarnation: not us */
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_INFO,
                          "told that another incarnation of this node is "
                          "dead");
        return;
    }
    snprintf(why, sizeof why, "%.*s", (int)slen, s);
    snprintf(name, sizeof name, "%s", stage__conn_name(c));
    if (!c->doomed && wins_split(t, name, their_inc, theirs)) {
        const char *ours = "";
        stage__transport_is_dead(t, name, (uint32_t)their_inc, &ours);
        LOG_WARN("'%s' declared this node dead (%s), and this node declared "
                 "it dead too; this side has sessions with %zu nodes, it "
                 "with %lld: this node goes on, and tells it to stop",
                 name, why, stage__transport_sessions(t), (long long)theirs);
        /* the peer reads our DEAD on its doomed connection, and yields */
        stage__conn_refuse_dead(c, name, (uint32_t)their_inc, ours);
        return;
    }
    stage__conn_close(c, STAGE_ENODE_DOWN, -1, NULL);
    if (t->cbs.on_declared_dead)
        t->cbs.on_declared_dead(t->cbs.ud, name, why);
    else
        LOG_ERROR("this node was declared dead by '%s': %s", name, why);
}

/* ACK [count] on c. */
static void in_ack(stage__conn_t *c, const stage__frame_t *f) {
    stage_unpack_t u;
    int64_t n;
    stage_unpack_init(&u, f->body, f->len);
    if (stage_unpack_int(&u, &n) || n < 0) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, "malformed ACK");
        return;
    }
    if (stage__session_acked(&c->peer->s, (uint64_t)n)) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN,
                          "acknowledgement of frames never sent");
        return;
    }
    stage__peer_drained(c->peer);
}

/* A user frame on c, the session's next. */
static void in_user(stage__conn_t *c, const stage__frame_t *f) {
    stage__transport_t *t = c->t;
    stage__peer_t *p = c->peer;
    /* this node said goodbye, with the count of what it took: what comes
    ** after is not taken, so that its sender gets it back, undelivered
    ** for certain, when the goodbye reaches it (and may send it elsewhere:
    ** net/relocate.c) */
    if (t->goodbye) return;
    int took =
        stage__session_received(&p->s, c->rseq++, f->len, uv_now(t->loop));
    if (took < 0) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN,
                          "frame out of the session's sequence");
        return;
    }
    if (took && t->cbs.on_frame)
        t->cbs.on_frame(t->cbs.ud, p->addr, f->kind, f->body, f->len);
}

/* Act on one frame received on c. */
static void dispatch(stage__conn_t *c, const stage__frame_t *f) {
    char why[160];
    stage__hello_t h;
    /* a doomed connection only waits to close, but for the DEAD of a peer
    ** that was declared dead here and declared this node dead too: one of
    ** the two yields (wins_split) */
    if (c->doomed && f->kind != STAGE__NET_KIND_DEAD) return;
    if (f->kind == STAGE__NET_KIND_HELLO) {
        if (parse_hello(f, &h, why, sizeof why))
            stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
        else
            stage__peer_hello(c, &h);
        return;
    }
    if (f->kind == STAGE__NET_KIND_DEAD) { /* may answer our handshake */
        in_dead(c, f);
        return;
    }
    if (c->state != CONN_UP) {
        snprintf(why, sizeof why, "frame of kind %u before the handshake",
                 f->kind);
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
        return;
    }
    switch (f->kind) {
    case STAGE__NET_KIND_PING:
        return;
    case STAGE__NET_KIND_BYE:
        stage__peer_left(c->peer);
        return;
    case STAGE__NET_KIND_ACK:
        in_ack(c, f);
        return;
    default:
        break;
    }
    if (f->kind < STAGE__NET_KIND_USER) {
        snprintf(why, sizeof why, "unknown transport frame kind %u", f->kind);
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
        return;
    }
    in_user(c, f);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    stage__conn_t *c = h->data;
    char *p;
    size_t len;
    (void)hint;
    if (c->rejected) { /* read only to see the peer close */
        static char scratch[4096];
        *buf = uv_buf_init(scratch, sizeof scratch);
        return;
    }
    if (c->sec) { /* records are opened from sin into the decoder */
        if (c->sin_off && c->sin.cap - c->sin.len < READ_CHUNK) {
            /* the partial record to the front (less than one record) */
            memmove(c->sin.data, c->sin.data + c->sin_off,
                    c->sin.len - c->sin_off);
            c->sin.len -= c->sin_off;
            c->sin_off = 0;
        }
        if (stage__buf_reserve(&c->sin, READ_CHUNK)) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        len = c->sin.cap - c->sin.len;
        if (len > READ_CHUNK * 4) len = READ_CHUNK * 4;
        *buf = uv_buf_init(c->sin.data + c->sin.len, (unsigned)len);
        return;
    }
    if (stage__fdec_space(&c->dec, READ_CHUNK, &p, &len)) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    if (len > READ_CHUNK * 4) len = READ_CHUNK * 4;
    *buf = uv_buf_init(p, (unsigned)len);
}

/* Take every complete frame out of c's decoder and note whether a partial
** one remains (for the frame deadline). */
static void drain_frames(stage__conn_t *c, uint64_t now) {
    stage__frame_t f;
    bool took = false;
    for (;;) {
        int rc = stage__fdec_next(&c->dec, &f);
        if (rc == 0) break;
        if (rc < 0) {
            stage__conn_close(c, rc, STAGE_LOG_WARN,
                              stage__fdec_error(&c->dec));
            return;
        }
        took = c->framed = true;
        count(c, 0, true, 1);
        dispatch(c, &f);
        if (c->state == CONN_CLOSING) return;
    }
    /* an ack is owed: the flush at the end of this turn decides when */
    if (took && c->state == CONN_UP && stage__session_ack_owed(&c->peer->s))
        stage__transport_dirty(c->peer);
    bool partial = c->dec.buf.len > c->dec.off;
    if (!partial)
        c->frame_start_ms = 0;
    else if (took || c->frame_start_ms == 0)
        c->frame_start_ms = now;
}

/* The first bytes at c (no cluster key here) are a cluster-key message:
** the peer has a key. Refuse it (an inbound one is told so) and return
** true; false if they are not (or too few to tell). */
static bool keyed_peer(stage__conn_t *c) {
    const char *p = c->dec.buf.data + c->dec.off;
    size_t n = c->dec.buf.len - c->dec.off;
    if (stage__secure_classify(p, n) != STAGE__SECURE_IS_SECURE) return false;
    const char *why = stage__secure_reason(STAGE__SECURE_KEY_NEEDED);
    if (c->outbound)
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
    else
        reject(c, STAGE__SECURE_NO_KEY, why);
    return true;
}

/* One step of the cluster-key handshake on c, whose unread bytes are
** in[0..avail): the bytes it took, or 0 (more are needed, or c was
** refused). */
static size_t handshake_step(stage__conn_t *c, const uint8_t *in,
                             size_t avail) {
    char why[256];
    int kind = stage__secure_classify(in, avail);
    if (kind == STAGE__SECURE_IS_PLAIN) {
        snprintf(why, sizeof why,
                 "it has no cluster key (it speaks the "
                 "plain protocol), and this node requires "
                 "one: give both the same key");
        if (c->outbound)
            stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
        else
            reject(c, STAGE__SECURE_KEY_NEEDED, why);
        return 0;
    }
    if (kind == STAGE__SECURE_IS_OTHER) {
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN,
                          "garbage instead of the cluster-key handshake "
                          "(not a Stage node)");
        return 0;
    }
    if (avail >= 4 && in[3] == 3) { /* REJECT: it says why */
        if (avail < STAGE__SECURE_REJECT) return 0;
        snprintf(why, sizeof why, "%s",
                 stage__secure_reason(stage__secure_rejected(in)));
        stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN, why);
        return 0;
    }
    if (avail < STAGE__SECURE_MSG) return 0;
    if (c->outbound) {
        int rc = stage__secure_finish(c->sec, in, why, sizeof why);
        if (!rc) c->t->secure_ups++;
        if (!rc) rc = stage__conn_greet(c);
        if (rc)
            stage__conn_close(c, rc, STAGE_LOG_WARN,
                              rc == STAGE_EPROTO ? why : stage_strerror(rc));
        return rc ? 0 : STAGE__SECURE_MSG;
    }
    int reason;
    if (stage__secure_accept(c->sec, in, c->hs, &reason, why, sizeof why)) {
        reject(c, reason, why);
        return 0;
    }
    c->t->secure_ups++;
    hs_write(c, STAGE__SECURE_MSG);
    return STAGE__SECURE_MSG;
}

/* Take the handshake messages and whole records out of c->sin, feeding
** the plaintext of each record that authenticates to the frame decoder,
** then the frames out of it. */
static void secure_read(stage__conn_t *c, uint64_t now) {
    char why[256];
    bool fed = false;
    while (c->state != CONN_CLOSING && !c->rejected) {
        const uint8_t *in = (const uint8_t *)c->sin.data + c->sin_off;
        size_t avail = c->sin.len - c->sin_off, plain, whole, room;
        char *p;
        if (c->sec->state != SECURE_UP) {
            size_t used = handshake_step(c, in, avail);
            if (!used) break;
            c->sin_off += used;
            continue;
        }
        int rc = stage__secure_record(c->sec, in, avail, &plain, &whole, why,
                                      sizeof why);
        if (rc == 0) break;
        if (rc < 0 || stage__fdec_space(&c->dec, plain, &p, &room) ||
            stage__secure_open(c->sec, in, (uint8_t *)p, why, sizeof why)) {
            stage__conn_close(c, rc < 0 ? rc : STAGE_EPROTO, STAGE_LOG_WARN,
                              rc < 0 || c->sec->state == SECURE_FAILED
                                  ? why
                                  : "out of memory for the frames it sends");
            return;
        }
        stage__fdec_commit(&c->dec, plain);
        c->sin_off += whole;
        fed = true;
    }
    if (c->state == CONN_CLOSING || c->rejected) return;
    if (c->sin_off == c->sin.len) c->sin_off = c->sin.len = 0; /* all read */
    if (fed) drain_frames(c, now);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    stage__conn_t *c = s->data;
    (void)buf;
    if (c->state == CONN_CLOSING || n == 0) return;
    if (n < 0) {
        bool eof = n == UV_EOF;
        if (eof && c->sec && !c->rejected && c->sin.len > c->sin_off) {
            stage__conn_close(c, STAGE_EPROTO, STAGE_LOG_WARN,
                              "connection closed inside an encrypted record "
                              "or handshake message (the stream was cut)");
            return;
        }
        stage__conn_close(c, n == UV_ENOBUFS ? STAGE_ENOMEM : STAGE_EIO,
                          c->doomed || (eof && c->t->goodbye) ? STAGE_LOG_DEBUG
                          : eof && c->state == CONN_UP        ? STAGE_LOG_INFO
                                                              : STAGE_LOG_WARN,
                          eof ? "connection closed by the peer"
                          : n == UV_ENOBUFS
                              ? "out of memory for the frames it sends"
                              : uv_strerror((int)n));
        return;
    }
    if (c->rejected) return;
    if (c->sec)
        c->sin.len += (size_t)n;
    else
        stage__fdec_commit(&c->dec, (size_t)n);
    c->last_recv_ms = uv_now(c->t->loop);
    count(c, (size_t)n, true, 0);
    if (c->state == CONN_UP && c->peer->conn == c)
        stage__session_heard(&c->peer->s, c->last_recv_ms);
    if (c->sec) {
        secure_read(c, c->last_recv_ms);
        return;
    }
    if (!c->framed && c->state != CONN_UP && keyed_peer(c)) return;
    drain_frames(c, c->last_recv_ms);
}

/* The socket of c is connected: read, and say hello if we dialled. */
static int conn_start(stage__conn_t *c) {
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = CONN_HELLO;
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) return STAGE_EIO;
    if (c->outbound && c->sec) { /* the cluster-key handshake comes first */
        rc = stage__secure_hello(c->sec, c->hs);
        if (!rc) hs_write(c, STAGE__SECURE_MSG);
        return rc;
    }
    return c->outbound ? stage__conn_greet(c) : 0;
}

static void on_connect(uv_connect_t *req, int status) {
    stage__conn_t *c = req->data;
    char why[160];
    if (c->state == CONN_CLOSING) return;
    if (status < 0) {
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(status));
        c->refused = status == UV_ECONNREFUSED;
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_DEBUG, why);
        return;
    }
    int rc = conn_start(c);
    if (rc) stage__conn_close(c, rc, STAGE_LOG_WARN, stage_strerror(rc));
}

int stage__conn_connect(stage__peer_t *p) {
    struct sockaddr_storage ss;
    if (stage__addr_parse(p->addr, &ss)) return STAGE_EINVAL;
    stage__conn_t *c = conn_new(p->t, true);
    if (!c) return STAGE_ENOMEM;
    c->state = CONN_CONNECTING;
    c->peer = p;
    p->conn = c;
    snprintf(c->remote, sizeof c->remote, "%s", p->addr);
    int rc =
        uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss, on_connect);
    if (rc) {
        char why[160];
        snprintf(why, sizeof why, "cannot connect: %s", uv_strerror(rc));
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_DEBUG, why);
    }
    return 0;
}

void stage__conn_accept(stage__transport_t *t) {
    stage__conn_t *c = conn_new(t, false);
    if (!c) {
        LOG_ERROR("cannot accept a connection: out of memory; closing it");
        stage__transport_refuse(t);
        return;
    }
    c->state = CONN_HELLO;
    int rc = uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)&c->tcp);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (!rc && !uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
        stage__addr_format((struct sockaddr *)&ss, c->remote, sizeof c->remote);
    if (rc) {
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_WARN, "cannot accept");
        return;
    }
    if (t->pending >= t->cfg.max_pending) {
        char why[96];
        snprintf(why, sizeof why,
                 "too many connections awaiting their handshake (%d)",
                 t->pending);
        stage__conn_close(c, STAGE_EBUSY, STAGE_LOG_WARN, why);
        return;
    }
    c->pending = true;
    t->pending++;
    if (conn_start(c))
        stage__conn_close(c, STAGE_EIO, STAGE_LOG_WARN, "cannot accept");
}

void stage__conn_tick(stage__conn_t *c, uint64_t now) {
    const stage__transport_config_t *cfg = &c->t->cfg;
    char why[160];
    if (c->state == CONN_CLOSING) return;
    if (c->doomed) {
        if (now - c->opened_ms >= cfg->handshake_ms)
            stage__conn_close(c, STAGE_ETIMEOUT, -1, NULL);
        return;
    }
    if (c->state != CONN_UP && now - c->opened_ms >= cfg->handshake_ms) {
        snprintf(why, sizeof why, "no handshake within %llu ms",
                 (unsigned long long)cfg->handshake_ms);
        stage__conn_close(c, STAGE_ETIMEOUT, STAGE_LOG_WARN, why);
    } else if (c->frame_start_ms && now - c->frame_start_ms >= cfg->frame_ms) {
        snprintf(why, sizeof why, "frame not completed within %llu ms",
                 (unsigned long long)cfg->frame_ms);
        stage__conn_close(c, STAGE_ETIMEOUT, STAGE_LOG_WARN, why);
    } else if (c->state == CONN_UP &&
               now - c->last_recv_ms >=
                   cfg->heartbeat_ms * (uint64_t)cfg->heartbeat_misses) {
        snprintf(why, sizeof why, "nothing received for %llu ms",
                 (unsigned long long)(now - c->last_recv_ms));
        stage__conn_close(c, STAGE_ETIMEOUT, STAGE_LOG_WARN, why);
    } else if (c->state == CONN_UP && !c->writing && !c->peer->ctrl.len &&
               now - c->last_sent_ms >= cfg->heartbeat_ms) {
        static const char nil = (char)0xc0; /* msgpack nil */
        if (stage__peer_queue(c->peer, STAGE__NET_KIND_PING, &nil, 1) == 0)
            stage__transport_dirty(c->peer);
    }
}
