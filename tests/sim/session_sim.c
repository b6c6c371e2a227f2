/*
** tests/sim/session_sim.c: the session state machine (src/session) driven
** over a simulated network, one seed at a time, the way src/net drives it
** over TCP: a connection per pair of nodes, handshakes that bind or resume
** a session, implicit sequence numbers on a connection, acks piggybacked
** or delayed, pings, deadlines, reconnects with backoff, refused connects
** to an empty address, the failure detector, DEAD answers.
**
** The network breaks connections at random (what is in flight is lost),
** stalls nodes (SIGSTOP: nothing runs, connections are still accepted),
** partitions pairs of nodes (a black hole: no RST, no EOF), delivers stale
** frames of old connections late and frames again (reordering across
** connections, duplication), kills nodes and restarts them as new
** incarnations. Each node sends numbered messages to the others.
**
** Checked for every seed:
**   - a receiver gets each sender incarnation's messages in order, each
**     once; a number skipped was reported lost to its sender first;
**   - once the network is quiet, every message of a living sender was
**     delivered or reported lost (nothing disappears silently);
**   - gentle seeds (breaks, stalls and partitions shorter than dead_after,
**     no kills): no session ends and every message is delivered.
**
**   session_sim [FIRST_SEED [COUNT]]     (default 1 300)
** A failure prints the seed; `session_sim SEED 1` replays it.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "stage/errors.h"
#include "stage/pack.h"
#include "wire/frame.h"

#define SIM_NAME "session_sim"
#include "sim_util.h"

#define SLOTS 3
#define KIND 16
/* times in ms, scaled down from the defaults: the rules are the same */
#define DEAD_AFTER 2000
#define HEARTBEAT 200
#define MISSES 3
#define HANDSHAKE 500
#define BACKOFF_MIN 10
#define BACKOFF_MAX 200
#define MAX_ATTEMPTS 6
#define PAUSE (DEAD_AFTER / 2)
#define CHAOS_MS 30000
#define QUIET_MS (4 * DEAD_AFTER)

/* ---- failure reporting ------------------------------------------------ */

/* ---- the ledger: every message sent, and what became of it ------------ */

typedef struct msg {
    uint32_t from;    /* sender incarnation */
    int to;           /* destination slot */
    uint64_t no;      /* per (sender incarnation, slot), from 0 */
    int delivered;    /* times taken by a receiver */
    bool reported;    /* its sender was told it may be lost */
    bool sender_gone; /* its sender was killed: nobody to tell */
} msg_t;

static msg_t *ledger;
static size_t nmsgs, capmsgs;

/* The last number a receiver incarnation took from a sender incarnation. */
typedef struct pair {
    uint32_t from, to;
    uint64_t last;
} pair_t;

static pair_t pairs[4096];
static int npairs;

/* ---- nodes, peers, connections ---------------------------------------- */

typedef enum { IT_HELLO, IT_DATA, IT_ACK, IT_PING, IT_DEAD, IT_CLOSE } it_t;

typedef struct item {
    it_t type;
    uint64_t at;
    uint32_t inc, known;
    uint64_t n;      /* HELLO received, DATA seq, ACK count */
    uint64_t number; /* HELLO: the sender's count of its handshakes */
    size_t idx;      /* DATA: ledger index; len is implied */
    size_t len;
    struct item *next;
} item_t;

typedef struct proc proc_t;

typedef struct conn {
    proc_t *end[2]; /* 0 dialled, 1 accepted */
    bool open[2], up[2];
    uint64_t opened, last_recv[2], last_sent[2];
    uint64_t rseq[2];          /* the next frame's number, received at end d */
    uint64_t sseq[2];          /* the next frame's number, sent by end d */
    item_t *head[2], *tail[2]; /* items travelling to end d */
    struct conn *next;
} conn_t;

typedef struct peer {
    stage__session_t s;
    conn_t *conn;
    conn_t *greeting; /* the connection whose handshake is being read */
    int attempts;
    uint64_t retry_at; /* 0: no retry planned */
    uint64_t next_no;  /* the next message number to this slot */
    int gen;           /* sessions ended so far */
} peer_t;

struct proc {
    int slot;
    uint32_t inc;
    uint64_t stalled_until;
    uint64_t hellos;   /* handshakes sent */
    uint64_t last_run; /* when it last ran: a gap is a pause of its own */
    bool killed;
    peer_t peers[SLOTS];
};

static proc_t *slots[SLOTS];
static conn_t *conns;
static bool partitioned[SLOTS][SLOTS];
static uint64_t healed_at[SLOTS][SLOTS];
static uint32_t next_inc;
static bool gentle;
/* gentle seeds: no stall or partition starts before (one at a time, each
** followed by time to recover, so no silence adds up to dead_after) */
static uint64_t calm_until;
static proc_t *procs[1024]; /* every process of the seed, to free */
static int nprocs;
static int ends; /* sessions ended, all reasons */
static uint64_t delivered_total, reported_total, dups_injected, stale_taken;

/* A stale frame: sent on a connection that broke, kept to be delivered
** late to the same session. */
typedef struct stale {
    proc_t *to;
    uint32_t to_inc, from_inc;
    int from_slot, to_gen, from_gen;
    uint64_t seq;
    size_t idx, len;
} stale_t;

static stale_t stales[256];
static int nstale;

static int end_of(const conn_t *c, const proc_t *p) {
    return c->end[0] == p ? 0 : 1;
}

static bool cut(int x, int y) {
    return partitioned[x][y];
}

/* Queue an item from end d's side to the other end. Across a partition it
** waits, as TCP retransmits: in order once healed, or lost with the
** connection if one end gives up first. */
static void send_item(conn_t *c, int d, item_t it) {
    int to = 1 - d;
    if (!c->open[d] || !c->open[to]) return;
    item_t *n = malloc(sizeof *n);
    *n = it;
    n->next = NULL;
    uint64_t at = now + 1 + rnd(8);
    if (c->tail[to] && c->tail[to]->at > at) at = c->tail[to]->at;
    n->at = at;
    if (c->tail[to])
        c->tail[to]->next = n;
    else
        c->head[to] = n;
    c->tail[to] = n;
    if (it.type != IT_CLOSE) c->last_sent[d] = now;
}

static void peer_conn_lost(proc_t *p, int slot, conn_t *c, bool was_up,
                           bool refused);

/* Items in flight to end e of c are lost; some DATA among them is kept
** to be replayed late (a stale frame of an old connection). */
static void lose_in_flight(conn_t *c, int e) {
    proc_t *to = c->end[e], *from = c->end[1 - e];
    for (item_t *it = c->head[e], *nx; it; it = nx) {
        nx = it->next;
        if (it->type == IT_DATA && !to->killed && !from->killed &&
            nstale < 256 && rnd(2))
            stales[nstale++] = (stale_t){to,
                                         to->inc,
                                         from->inc,
                                         from->slot,
                                         to->peers[from->slot].gen,
                                         from->peers[to->slot].gen,
                                         it->n,
                                         it->idx,
                                         it->len};
        free(it);
    }
    c->head[e] = c->tail[e] = NULL;
}

/* Close end d of c: it reads nothing more; the other end gets what d
** wrote before, then an EOF (unless the pair is cut). */
static void conn_close(conn_t *c, int d) {
    if (!c->open[d]) return;
    trace("close %x end %d of %x-%x", c->end[d]->inc, d, c->end[0]->inc,
          c->end[1]->inc);
    send_item(c, d, (item_t){.type = IT_CLOSE});
    c->open[d] = false;
    lose_in_flight(c, d);
    proc_t *p = c->end[d];
    if (!p->killed) peer_conn_lost(p, c->end[1 - d]->slot, c, c->up[d], false);
}

/* The network breaks c: what is in flight either way is lost, and each
** end learns it. */
static void conn_break(conn_t *c) {
    for (int e = 0; e < 2; e++)
        if (c->open[e]) lose_in_flight(c, e);
    for (int e = 0; e < 2; e++) {
        if (!c->open[e]) continue;
        c->open[e] = false;
        proc_t *p = c->end[e];
        if (!p->killed)
            peer_conn_lost(p, c->end[1 - e]->slot, c, c->up[e], false);
    }
}

static conn_t *conn_new(proc_t *dialler, proc_t *acceptor) {
    conn_t *c = calloc(1, sizeof *c);
    c->end[0] = dialler;
    c->end[1] = acceptor;
    c->open[0] = c->open[1] = true;
    c->opened = now;
    c->last_recv[0] = c->last_recv[1] = now;
    c->last_sent[0] = c->last_sent[1] = now;
    c->next = conns;
    conns = c;
    return c;
}

/* ---- the session hooks ------------------------------------------------- */

typedef struct hook_ud {
    proc_t *p;
    int slot;
} hook_ud_t;

static hook_ud_t hook_uds[1024];
static int nhook_uds;

static size_t body_index(const char *body, size_t len) {
    stage_unpack_t u;
    uint32_t n;
    int64_t v;
    stage_unpack_init(&u, body, len);
    CHECK(stage_unpack_array(&u, &n) == 0 && n == 2);
    CHECK(stage_unpack_int(&u, &v) == 0); /* the sender incarnation */
    CHECK(stage_unpack_int(&u, &v) == 0 && (size_t)v < nmsgs);
    return (size_t)v;
}

static void on_end(void *ud, stage__session_t *s, uint32_t inc, int reason,
                   const char *why, uint64_t count,
                   stage__session_iter_t *lost) {
    hook_ud_t *h = ud;
    proc_t *p = h->p;
    peer_t *pe = &p->peers[h->slot];
    trace("end %x with %x (slot %d): %s %s, %llu lost", p->inc, inc, h->slot,
          stage_err_name(reason), why, (unsigned long long)count);
    int kind;
    const char *body;
    size_t len;
    uint64_t n = 0;
    (void)s;
    (void)why;
    (void)inc;
    ends++;
    pe->gen++;
    if (gentle)
        die("gentle seed: session of %x with slot %d ended (%s: %s)", p->inc,
            h->slot, stage_err_name(reason), why);
    while (stage__session_iter_next(lost, &kind, &body, &len)) {
        size_t i = body_index(body, len);
        CHECK(ledger[i].from == p->inc && ledger[i].to == h->slot);
        if (!ledger[i].reported) reported_total++;
        ledger[i].reported = true;
        n++;
    }
    CHECK(n == count);
    /* as the transport: the connection of the ended session closes,
    ** unless it is the one whose handshake caused the end */
    if (pe->conn && pe->conn != pe->greeting) {
        conn_t *c = pe->conn;
        pe->conn = NULL; /* not a failed attempt: nothing to retry */
        conn_close(c, end_of(c, p));
    }
}

/* ---- a node's driver: what src/net does -------------------------------- */

static uint64_t backoff(int attempts) {
    uint64_t d = BACKOFF_MIN;
    for (int i = 1; i < attempts && d < BACKOFF_MAX; i++)
        d *= 2;
    if (d > BACKOFF_MAX) d = BACKOFF_MAX;
    return d / 2 + rnd(d / 2 + 1);
}

static bool wants_connection(peer_t *pe) {
    return stage__session_peer(&pe->s) || stage__session_unacked(&pe->s);
}

static void plan_retry(peer_t *pe, uint64_t delay) {
    pe->retry_at = now + (delay ? delay : 1);
}

/* A connection attempt of p to slot failed (refused: nothing listens). */
static void attempt_failed(proc_t *p, int slot, bool refused) {
    peer_t *pe = &p->peers[slot];
    if (refused) {
        if (stage__session_refused(&pe->s)) return; /* declared dead */
    } else {
        stage__session_not_refused(&pe->s);
    }
    if (stage__session_peer(&pe->s)) {
        plan_retry(pe, backoff(++pe->attempts));
        return;
    }
    if (++pe->attempts >= MAX_ATTEMPTS) {
        pe->attempts = 0;
        pe->retry_at = 0;
        stage__session_end(&pe->s, STAGE_EUNREACHABLE, "gave up");
        return;
    }
    if (wants_connection(pe)) plan_retry(pe, backoff(pe->attempts));
}

static void peer_conn_lost(proc_t *p, int slot, conn_t *c, bool was_up,
                           bool refused) {
    peer_t *pe = &p->peers[slot];
    if (pe->conn != c) return;
    pe->conn = NULL;
    if (was_up) {
        pe->attempts = 0;
        if (wants_connection(pe)) plan_retry(pe, 0);
        return;
    }
    if (c->end[0] == p) attempt_failed(p, slot, refused);
}

static void send_hello(conn_t *c, int d) {
    proc_t *p = c->end[d];
    int slot = c->end[1 - d]->slot;
    uint32_t known;
    uint64_t received;
    stage__session_hello(&p->peers[slot].s, &known, &received);
    send_item(c, d,
              (item_t){.type = IT_HELLO,
                       .inc = p->inc,
                       .known = known,
                       .n = received,
                       .number = ++p->hellos});
}

static void dial(proc_t *p, int slot) {
    trace("dial %x -> slot %d", p->inc, slot);
    peer_t *pe = &p->peers[slot];
    pe->retry_at = 0;
    proc_t *q = slots[slot];
    if (!q) { /* nothing listens there: refused at once */
        attempt_failed(p, slot, true);
        return;
    }
    conn_t *c = conn_new(p, q);
    pe->conn = c;
    send_hello(c, 0);
}

/* Answer DEAD on c and close it. */
static void refuse_dead(conn_t *c, int d, uint32_t inc) {
    send_item(c, d, (item_t){.type = IT_DEAD, .inc = inc});
    c->up[d] = false;
    conn_close(c, d);
}

/* The handshake from end 1-d arrived at end d of c. */
static void on_hello(conn_t *c, int d, const item_t *it) {
    proc_t *p = c->end[d];
    int slot = c->end[1 - d]->slot;
    peer_t *pe = &p->peers[slot];
    char why[STAGE__SESSION_WHY_MAX];
    trace("hello at %x end %d from %x known %x received %llu", p->inc, d,
          it->inc, it->known, (unsigned long long)it->n);
    if (c->up[d]) die("second handshake");
    if (stage__session_is_dead(&pe->s, it->inc, NULL)) {
        bool mine = pe->conn == c;
        refuse_dead(c, d, it->inc);
        if (mine && d == 0) { /* our attempt reached a dead incarnation */
        }
        return;
    }
    if (stage__session_stale(&pe->s, it->inc, it->number)) {
        trace("stale hello");
        conn_close(c, d);
        return;
    }
    if (d == 1) { /* accepted: one connection per pair of nodes */
        conn_t *old = pe->conn;
        if (old && old != c) {
            int od = end_of(old, p);
            if (old->up[od]) {
                conn_close(old, od);
            } else if (p->slot < slot) { /* ours was dialled by the smaller */
                conn_close(c, d);
                return;
            } else {
                pe->conn = NULL; /* theirs wins: not a failed attempt */
                conn_close(old, od);
            }
        }
        if (pe->conn && pe->conn != c) { /* a dial made meanwhile */
            conn_t *dl = pe->conn;
            pe->conn = NULL;
            conn_close(dl, end_of(dl, p));
        }
        pe->conn = c;
    }
    pe->greeting = c;
    int r = stage__session_greeted(&pe->s, it->inc, it->known, it->n,
                                   it->number, now, why, sizeof why);
    pe->greeting = NULL;
    if (r == STAGE__SESSION_DEAD) {
        refuse_dead(c, d, it->inc);
        return;
    }
    CHECK(r != STAGE__SESSION_STALE); /* checked above */
    if (!c->open[d]) return;
    c->up[d] = true;
    c->rseq[d] = pe->s.received;
    c->sseq[d] = pe->s.acked;
    trace("up %x end %d with %x: %s, rseq %llu sseq %llu", p->inc, d, it->inc,
          r == STAGE__SESSION_NEW ? "new" : "resumed",
          (unsigned long long)c->rseq[d], (unsigned long long)c->sseq[d]);
    pe->attempts = 0;
    pe->retry_at = 0;
    stage__session_not_refused(&pe->s);
    if (d == 1) send_hello(c, d);
}

static void kill_proc(proc_t *p);

/* The receiver's check of one message taken from sender incarnation from. */
static void deliver(proc_t *p, uint32_t from, size_t idx) {
    msg_t *m = &ledger[idx];
    trace("deliver to %x from %x: message %zu (number %llu)", p->inc, from, idx,
          (unsigned long long)m->no);
    CHECK(m->from == from);
    CHECK(m->to == p->slot);
    if (m->delivered) die("message %zu delivered twice", idx);
    m->delivered++;
    delivered_total++;
    pair_t *pr = NULL;
    for (int i = 0; i < npairs && !pr; i++)
        if (pairs[i].from == from && pairs[i].to == p->inc) pr = &pairs[i];
    if (pr && m->no <= pr->last)
        die("out of order: %x took message %" PRIu64 " after %" PRIu64, p->inc,
            m->no, pr->last);
    uint64_t after = pr ? pr->last + 1 : 0;
    if (m->no > after) /* numbers skipped: each delivered or reported */
        for (size_t i = 0; i < nmsgs; i++) {
            msg_t *o = &ledger[i];
            if (o->from == from && o->to == p->slot && o->no >= after &&
                o->no < m->no && !o->reported && !o->delivered)
                die("hole: message %" PRIu64 " of %x skipped by %x and never "
                    "reported",
                    o->no, from, p->inc);
        }
    if (!pr) {
        CHECK(npairs < 4096);
        pr = &pairs[npairs++];
        pr->from = from;
        pr->to = p->inc;
    }
    pr->last = m->no;
}

static void on_item(conn_t *c, int d, const item_t *it) {
    proc_t *p = c->end[d];
    int slot = c->end[1 - d]->slot;
    peer_t *pe = &p->peers[slot];
    c->last_recv[d] = now;
    if (c->up[d] && pe->conn == c) stage__session_heard(&pe->s, now);
    switch (it->type) {
    case IT_HELLO:
        on_hello(c, d, it);
        return;
    case IT_CLOSE:
        conn_close(c, d);
        return;
    case IT_DEAD:
        if (it->inc == p->inc)
            kill_proc(p); /* declared dead: it stops */
        else
            conn_close(c, d);
        return;
    default:
        break;
    }
    if (!c->up[d] || pe->conn != c) {
        conn_close(c, d); /* before the handshake: a protocol error */
        return;
    }
    if (it->type == IT_ACK) {
        if (stage__session_acked(&pe->s, it->n)) conn_close(c, d);
        return;
    }
    if (it->type != IT_DATA) return; /* a ping */
    if (it->n != c->rseq[d])
        die("connection numbering: frame %" PRIu64 " where %" PRIu64
            " was implied",
            it->n, c->rseq[d]);
    int took = stage__session_received(&pe->s, c->rseq[d]++, it->len, now);
    if (took < 0) {
        conn_close(c, d);
        return;
    }
    if (took) deliver(p, ledger[it->idx].from, it->idx);
    proc_t *q = c->end[1 - d];
    if (rnd(50) == 0 && nstale < 256 && !q->killed) /* to replay it later */
        stales[nstale++] = (stale_t){p,       p->inc,  q->inc,
                                     q->slot, pe->gen, q->peers[p->slot].gen,
                                     it->n,   it->idx, it->len};
}

/* Write what p has for slot on its connection: data, then an ack. */
static void flush(proc_t *p, int slot) {
    peer_t *pe = &p->peers[slot];
    conn_t *c = pe->conn;
    if (!c) return;
    int d = end_of(c, p);
    if (!c->up[d] || !c->open[d]) return;
    stage__session_span_t spans[8];
    uint64_t frames;
    size_t n = stage__session_take(&pe->s, spans, 8, &frames);
    uint64_t counted = 0;
    for (size_t i = 0; i < n; i++) {
        stage__fdec_t dec;
        stage__frame_t f;
        stage__fdec_init(&dec, 0);
        CHECK(stage__fdec_feed(&dec, spans[i].data, spans[i].len) == 0);
        while (stage__fdec_next(&dec, &f) == 1) {
            send_item(c, d,
                      (item_t){.type = IT_DATA,
                               .n = c->sseq[d]++,
                               .idx = body_index(f.body, f.len),
                               .len = f.len});
            counted++;
        }
        stage__fdec_close(&dec);
        stage__session_release(&pe->s, spans[i].chunk);
    }
    CHECK(counted == frames);
    uint64_t ack;
    if (stage__session_ack(&pe->s, now, n > 0, &ack))
        send_item(c, d, (item_t){.type = IT_ACK, .n = ack});
}

/* The deadlines and heartbeats of end d of c. */
static void conn_tick(conn_t *c, int d) {
    if (!c->open[d]) return;
    if (!c->up[d] && now - c->opened >= HANDSHAKE) {
        conn_close(c, d);
    } else if (c->up[d] && now - c->last_recv[d] >= HEARTBEAT * MISSES) {
        conn_close(c, d);
    } else if (c->up[d] && now - c->last_sent[d] >= HEARTBEAT) {
        send_item(c, d, (item_t){.type = IT_PING});
    }
}

/* Append message number no of p to slot. */
static void app_send(proc_t *p, int slot) {
    peer_t *pe = &p->peers[slot];
    if (nmsgs == capmsgs) {
        capmsgs = capmsgs ? 2 * capmsgs : 4096;
        ledger = realloc(ledger, capmsgs * sizeof *ledger);
    }
    char b[64];
    stage_pack_t pk = {b, 0, sizeof b, 0};
    stage_pack_array(&pk, 2);
    stage_pack_int(&pk, p->inc);
    stage_pack_int(&pk, (int64_t)nmsgs);
    int rc = stage__session_append(&pe->s, KIND, pk.data, pk.len);
    if (rc == STAGE_EBUSY) return; /* the layer above holds it */
    CHECK(rc == 0);
    ledger[nmsgs++] = (msg_t){p->inc, slot, pe->next_no++, 0, false, false};
    if (!pe->conn && !pe->retry_at) dial(p, slot);
}

static proc_t *proc_new(int slot) {
    proc_t *p = calloc(1, sizeof *p);
    p->slot = slot;
    p->inc = ++next_inc * 2654435761u | 1;
    stage__session_config_t cfg;
    stage__session_config_init(&cfg);
    cfg.dead_after_ms = DEAD_AFTER;
    cfg.max_bytes = 64 << 10;
    cfg.ack_ms = 5;
    cfg.ack_bytes = 2048;
    for (int i = 0; i < SLOTS; i++) {
        CHECK(nhook_uds < 1024);
        hook_ud_t *h = &hook_uds[nhook_uds++];
        *h = (hook_ud_t){p, i};
        stage__session_hooks_t hooks = {h, on_end};
        stage__session_init(&p->peers[i].s, &cfg, &hooks, p->inc);
    }
    slots[slot] = p;
    CHECK(nprocs < 1024);
    procs[nprocs++] = p;
    return p;
}

static void kill_proc(proc_t *p) {
    if (p->killed) return;
    p->killed = true;
    for (size_t i = 0; i < nmsgs; i++)
        if (ledger[i].from == p->inc) ledger[i].sender_gone = true;
    for (conn_t *c = conns; c; c = c->next)
        for (int d = 0; d < 2; d++)
            if (c->end[d] == p) conn_close(c, d);
    for (int i = 0; i < SLOTS; i++) {
        p->peers[i].s.hooks.end = NULL; /* its memory goes with it */
        stage__session_close(&p->peers[i].s);
    }
    slots[p->slot] = NULL;
    /* p stays allocated: connections and stale frames point at it */
}

/* ---- one step of the world ---------------------------------------------- */

static bool stalled(const proc_t *p) {
    return p->stalled_until > now;
}

static void run_proc(proc_t *p) {
    /* as the transport: a process that did not run for a while heard
    ** nothing meanwhile, and that says nothing about its peers */
    if (p->last_run && now - p->last_run > PAUSE)
        for (int i = 0; i < SLOTS; i++)
            stage__session_heard(&p->peers[i].s, now);
    p->last_run = now;
    /* timers first, as a loop does after a stall */
    for (conn_t *c = conns; c; c = c->next)
        for (int d = 0; d < 2; d++)
            if (c->end[d] == p && !p->killed) conn_tick(c, d);
    for (int i = 0; i < SLOTS && !p->killed; i++) {
        if (i == p->slot) continue;
        peer_t *pe = &p->peers[i];
        stage__session_tick(&pe->s, now);
        if (!pe->conn && pe->retry_at && now >= pe->retry_at) {
            if (wants_connection(pe))
                dial(p, i);
            else
                pe->retry_at = 0;
        }
    }
    /* then what arrived */
    for (conn_t *c = conns; c && !p->killed; c = c->next)
        for (int d = 0; d < 2 && !p->killed; d++) {
            if (c->end[d] != p) continue;
            item_t *it;
            while (!p->killed && c->open[d] && (it = c->head[d]) &&
                   it->at <= now) {
                if (cut(c->end[0]->slot, c->end[1]->slot)) break;
                c->head[d] = it->next;
                if (!c->head[d]) c->tail[d] = NULL;
                on_item(c, d, it);
                free(it);
            }
        }
    for (int i = 0; i < SLOTS && !p->killed; i++)
        if (i != p->slot) flush(p, i);
}

/* Deliver a stale frame (an old connection's, or one delivered already)
** to its session, as if it came late on the current connection. */
static void inject_stale(void) {
    if (!nstale) return;
    int k = (int)rnd((uint64_t)nstale);
    stale_t st = stales[k];
    stales[k] = stales[--nstale];
    proc_t *p = st.to, *q = slots[st.from_slot];
    if (p->killed || stalled(p) || !q || q->inc != st.from_inc) return;
    peer_t *pe = &p->peers[st.from_slot];
    if (pe->gen != st.to_gen || q->peers[p->slot].gen != st.from_gen ||
        stage__session_peer(&pe->s) != st.from_inc || !pe->conn ||
        !pe->conn->up[end_of(pe->conn, p)])
        return; /* another session: TCP never mixes them */
    int took = stage__session_received(&pe->s, st.seq, st.len, now);
    trace("stale to %x from %x: seq %llu (received %llu): %d", p->inc,
          st.from_inc, (unsigned long long)st.seq,
          (unsigned long long)pe->s.received - (took == 1), took);
    if (took < 0) {
        conn_close(pe->conn, end_of(pe->conn, p)); /* a gap */
        return;
    }
    dups_injected++;
    if (took) {
        stale_taken++;
        deliver(p, st.from_inc, st.idx);
    }
}

static void chaos(void) {
    uint64_t r = rnd(10000);
    int x = (int)rnd(SLOTS), y = (int)rnd(SLOTS);
    if (r < 8) { /* break a connection */
        int k = 0;
        for (conn_t *c = conns; c; c = c->next)
            k += c->open[0] || c->open[1];
        int pick = k ? (int)rnd((uint64_t)k) : -1;
        for (conn_t *c = conns; c && pick >= 0; c = c->next) {
            if (!(c->open[0] || c->open[1]) || pick--) continue;
            conn_break(c);
            break;
        }
    } else if (r < 11 && slots[x] && !stalled(slots[x]) &&
               now >= calm_until) { /* SIGSTOP, then SIGCONT */
        uint64_t most = gentle ? DEAD_AFTER / 2 : 2 * DEAD_AFTER;
        slots[x]->stalled_until = now + 50 + rnd(most - 50);
        if (gentle) calm_until = slots[x]->stalled_until + DEAD_AFTER;
    } else if (r < 13 && x != y && !partitioned[x][y] && now >= calm_until) {
        partitioned[x][y] = partitioned[y][x] = true;
        uint64_t most = gentle ? DEAD_AFTER / 2 : 3 * DEAD_AFTER;
        healed_at[x][y] = healed_at[y][x] = now + 50 + rnd(most - 50);
        if (gentle) calm_until = healed_at[x][y] + DEAD_AFTER;
    } else if (r < 14 && !gentle && slots[x] && rnd(3) == 0) {
        kill_proc(slots[x]); /* kill -9 */
    } else if (r < 40 && !gentle && !slots[x]) {
        proc_new(x); /* restarted: a new incarnation */
    } else if (r < 60) {
        inject_stale();
    }
}

static void heal(void) {
    for (int x = 0; x < SLOTS; x++)
        for (int y = 0; y < SLOTS; y++)
            if (partitioned[x][y] && now >= healed_at[x][y])
                partitioned[x][y] = false;
}

/* Forget connections closed at both ends with nothing in flight. */
static void conns_gc(void) {
    for (conn_t **pp = &conns; *pp;) {
        conn_t *c = *pp;
        if (c->open[0] || c->open[1] || c->head[0] || c->head[1]) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        free(c);
    }
}

static void step(bool quiet) {
    now += 1 + rnd(3);
    conns_gc();
    if (!quiet) chaos();
    heal();
    int order[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        order[i] = i;
    for (int i = SLOTS - 1; i > 0; i--) {
        int j = (int)rnd((uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < SLOTS; k++) {
        proc_t *p = slots[order[k]];
        if (!p || stalled(p)) continue;
        if (!quiet)
            for (int i = 0; i < SLOTS; i++)
                if (i != p->slot && rnd(40) == 0) app_send(p, i);
        run_proc(p);
    }
}

/* ---- one seed ------------------------------------------------------------ */

static void reset_world(void) {
    for (conn_t *c = conns, *n; c; c = n) {
        n = c->next;
        for (int d = 0; d < 2; d++)
            for (item_t *it = c->head[d], *nx; it; it = nx) {
                nx = it->next;
                free(it);
            }
        free(c);
    }
    conns = NULL;
    for (int i = 0; i < SLOTS; i++)
        if (slots[i]) kill_proc(slots[i]);
    for (int i = 0; i < nprocs; i++)
        free(procs[i]);
    nprocs = 0;
    calm_until = 0;
    memset(partitioned, 0, sizeof partitioned);
    nmsgs = 0;
    npairs = 0;
    nstale = 0;
    nhook_uds = 0;
    ends = 0;
}

static void run_seed(void) {
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    now = 1000;
    gentle = seed % 3 == 0;
    for (int i = 0; i < SLOTS; i++)
        proc_new(i);
    while (now < 1000 + CHAOS_MS)
        step(false);
    /* the quiet end: no faults, no new messages; partitions heal, stalls
    ** end, and every session either drains or dies */
    memset(partitioned, 0, sizeof partitioned);
    for (int i = 0; i < SLOTS; i++)
        if (slots[i]) slots[i]->stalled_until = 0;
    uint64_t until = now + QUIET_MS;
    while (now < until)
        step(true);
    for (size_t i = 0; i < nmsgs; i++) {
        msg_t *m = &ledger[i];
        if (m->sender_gone || m->delivered || m->reported) continue;
        die("message %zu (number %" PRIu64 " of %x to slot %d) neither "
            "delivered nor reported lost",
            i, m->no, m->from, m->to);
    }
    if (gentle)
        for (size_t i = 0; i < nmsgs; i++)
            if (!ledger[i].delivered)
                die("gentle seed: message %zu was not delivered", i);
}

int main(int argc, char **argv) {
    tracing = getenv("SESSION_SIM_TRACE") != NULL;
    uint64_t first = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 300;
    uint64_t msgs = 0, all_ends = 0;
    for (seed = first; seed < first + count; seed++) {
        run_seed();
        msgs += nmsgs;
        all_ends += (uint64_t)ends;
        reset_world();
    }
    printf("session_sim: %" PRIu64 " seeds from %" PRIu64 ": %" PRIu64
           " messages, %" PRIu64 " delivered, %" PRIu64
           " reported lost, %d+ sessions ended, %" PRIu64
           " stale frames replayed (%" PRIu64 " taken): ok\n",
           count, first, msgs, delivered_total, reported_total, (int)all_ends,
           dups_injected, stale_taken);
    free(ledger);
    return 0;
}
