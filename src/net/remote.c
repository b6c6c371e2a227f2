/*
** net/remote.c: a node on the network — its I/O thread. One libuv loop runs
** the transport (transport.c), the node's DHT manager (src/dht) and the
** actor traffic between nodes: messages, replies, remote spawns and type
** queries.
**
** Who runs the loop: the I/O thread from stage_node_network until the
** node starts; then theatre 0 takes it over (adopt: the I/O thread
** leaves its loop and is joined) and polls the sockets between its turns
** and while idle, instead of sleeping on its futex. A message from an
** actor of theatre 0 is then encoded straight into the connection's
** buffer, and a frame for it goes straight to its mailbox: a round trip
** between two such actors costs no thread hand-off. Other threads hand
** work over through an MPSC inbox and a uv_async wake-up (coalesced:
** uv_async_send reads before it writes). After the theatres stop, the
** thread destroying the node runs the loop for the goodbyes. Frames (kinds >=
** STAGE__NET_KIND_USER), bodies as msgpack arrays:
**
**   MSG    [call, incarnation, serial, type, method, args]
**                                            the target on the receiving
**                                            node; call 0: no reply wanted
**   REPLY  [call, status, value]             value: the result, or
**                                            [message, actor, traceback]
**   SPAWN  [call, type, theatre, args]       reply: the new actor's id
**   FIND   [call, type, all]                 reply: an id / array of ids
**   DHT    a stage_dht message
**
** A call waits in `calls` until its reply, its deadline, or its peer being
** given up (NodeUnreachable). Frames a full peer queue refuses wait in an
** overflow list until the transport drains. Every byte from the network is
** checked before use; a bad frame is logged with its peer and dropped.
**
** Thread: everything here runs on the loop's owner except the hooks the
** theatres call (net_send, net_spawn, net_directory, net_announce,
** actor_gone, reply_done), which push to the inbox unless they run on the
** owner.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uv.h>

#include "core/mpsc.h"
#include "remote.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- the inbox -------------------------------------------------------------
 */

static void take(io_t *io, io_item_t *it);

/* 1 on the thread of the theatre that runs the loop. */
static bool on_owner(io_t *io) {
    stage__theatre_t *t =
        atomic_load_explicit(&io->owner, memory_order_relaxed);
    return t && t == stage__current();
}

static void io_push(io_t *io, io_item_t *it) {
    if (on_owner(io)) {
        take(io, it);
        return;
    }
    stage__mpsc_push(&io->inbox, &it->link);
    /* theatre 0 drains the inbox at every pass and before it sleeps: it
    ** needs waking only when asleep (stage__theatre_wake checks) */
    stage__theatre_t *owner = atomic_load(&io->owner);
    if (owner)
        stage__theatre_wake(owner);
    else
        uv_async_send(&io->async);
}

static io_item_t *item_new(int kind) {
    io_item_t *it = stage__calloc(1, sizeof *it);
    if (it) it->kind = kind;
    return it;
}

/* ---- sending frames -------------------------------------------------------
 */

static void hold_frame(io_t *io, const char *peer, int kind, const char *body,
                       size_t len) {
    held_t *h = stage__malloc(sizeof *h + len);
    if (!h) {
        LOG_ERROR("out of memory: a frame for '%s' is lost", peer);
        return;
    }
    h->next = NULL;
    h->kind = kind;
    h->len = len;
    stage__addr_copy(h->peer, peer);
    memcpy(h->body, body, len);
    if (io->held_tail)
        io->held_tail->next = h;
    else
        io->held_head = h;
    io->held_tail = h;
}

/* Send a frame to peer, keeping it if the peer's queue is full. 0, or a
** STAGE_E* code for a frame that can never go (the caller fails its call). */
int stage__io_send_frame(io_t *io, const char *peer, int kind, const char *body,
                         size_t len) {
    bool behind = false;
    for (held_t *h = io->held_head; h && !behind; h = h->next)
        behind = !strcmp(h->peer, peer); /* keep the order behind held ones */
    int rc = behind ? STAGE_EBUSY
                    : stage__transport_send(io->tr, peer, kind, body, len);
    if (rc == STAGE_EBUSY) {
        hold_frame(io, peer, kind, body, len);
        return 0;
    }
    return rc;
}

static void on_drain(void *ud, const char *peer) {
    io_t *io = ud;
    held_t **pp = &io->held_head, *last = NULL;
    while (*pp) {
        held_t *h = *pp;
        if (strcmp(h->peer, peer)) {
            last = h;
            pp = &h->next;
            continue;
        }
        if (stage__transport_send(io->tr, peer, h->kind, h->body, h->len) ==
            STAGE_EBUSY)
            break;
        *pp = h->next;
        stage__free(h);
    }
    io->held_tail = NULL;
    for (held_t *h = io->held_head; h; h = h->next)
        io->held_tail = h;
    (void)last;
}

/* ---- replies ------------------------------------------------------------- */

/* Encode the REPLY for call from future f (done). */
static void pack_reply(stage_pack_t *p, uint64_t call,
                       const stage__future_t *f) {
    stage_pack_array(p, 3);
    stage_pack_int(p, (int64_t)call);
    stage_pack_int(p, f->status);
    if (f->status == 0) {
        stage_pack_raw(p, f->data, f->len);
        return;
    }
    stage_pack_array(p, 3);
    stage_pack_cstr(p, f->message ? f->message : stage_strerror(f->status));
    if (f->actor)
        stage_pack_cstr(p, f->actor);
    else
        stage_pack_nil(p);
    if (f->traceback)
        stage_pack_cstr(p, f->traceback);
    else
        stage_pack_nil(p);
}

/* Send the REPLY packed in p (or failed to pack) to call from peer; a
** reply that cannot go is logged, as its caller will only time out. */
static void reply_frame(io_t *io, const char *peer, uint64_t call,
                        const stage_pack_t *p) {
    int rc = stage_pack_error(p);
    if (!rc) rc = stage__io_send_frame(io, peer, FRAME_REPLY, p->data, p->len);
    if (rc)
        LOG_ERROR("the reply to call %llu from '%s' is lost: %s",
                  (unsigned long long)call, peer, stage_strerror(rc));
}

static void send_reply(io_t *io, stage__future_t *f) {
    owed_t *o = f->on_done_arg;
    stage_pack_t *p = &io->reply_buf; /* the loop's owner only: reused */
    stage_pack_reset(p);
    pack_reply(p, o->call, f);
    reply_frame(io, o->peer, o->call, p);
    if (p->cap > 65536) stage_pack_free(p); /* keep no large one */
    stage__free(o);
    f->on_done_arg = NULL;
    stage__future_unref(f);
}

/* on_done of a future owed to a remote caller: any thread. */
static void reply_done(stage__future_t *f) {
    owed_t *o = f->on_done_arg;
    if (!stage__node_net(f->node)) { /* closed: nobody to send it */
        stage__free(o);
        f->on_done_arg = NULL;
        return;
    }
    f->observed = true; /* the caller gets it */
    if (on_owner(o->io)) {
        stage__future_ref(f);
        send_reply(o->io, f);
        return;
    }
    io_item_t *it = item_new(IO_REPLY);
    if (!it) {
        LOG_ERROR("out of memory: the reply for call %llu from '%s' is lost",
                  (unsigned long long)o->call, o->peer);
        return;
    }
    stage__future_ref(f);
    it->f = f;
    io_push(o->io, it);
}

/* A future whose result goes back to peer as the reply to call. */
stage__future_t *stage__io_owed(io_t *io, const char *peer, uint64_t call,
                                uint64_t target) {
    stage__future_t *f = stage__future_new(io->node, 0, target);
    owed_t *o = stage__malloc(sizeof *o);
    if (!f || !o) {
        stage__free(o);
        if (f) stage__future_unref(f);
        return NULL;
    }
    stage__addr_copy(o->peer, peer);
    o->call = call;
    o->io = io;
    f->on_done_arg = o;
    f->on_done = reply_done;
    return f;
}

/* Answer call from peer with a failure at once (no actor involved). */
void stage__io_reply_error(io_t *io, const char *peer, uint64_t call,
                           int status, const char *msg) {
    if (!call) {
        LOG_WARN("from '%s': %s", peer, msg);
        return;
    }
    stage__future_t tmp = {.status = status, .message = (char *)msg};
    stage_pack_t p = STAGE_PACK_INIT;
    pack_reply(&p, call, &tmp);
    reply_frame(io, peer, call, &p);
    stage_pack_free(&p);
}

/* ---- calls ------------------------------------------------------------------
 */

/* Register f as waiting for a reply from peer; returns the call id. */
static uint64_t call_open(io_t *io, const char *peer, stage__future_t *f) {
    call_t *c = stage__malloc(sizeof *c);
    uint64_t id = ++io->next_id;
    if (!c || stage__u64map_put(&io->calls, id, c)) {
        stage__free(c);
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        stage__future_unref(f);
        return 0;
    }
    c->f = f;
    c->cb = NULL;
    c->arg = NULL;
    stage__addr_copy(c->peer, peer);
    c->deadline = uv_now(&io->loop) + io->call_timeout;
    return id;
}

uint64_t stage__io_call_cb(io_t *io, const char *peer, stage__call_cb cb,
                           void *arg) {
    call_t *c = stage__malloc(sizeof *c);
    uint64_t id = ++io->next_id;
    if (!c || stage__u64map_put(&io->calls, id, c)) {
        stage__free(c);
        return 0;
    }
    *c = (call_t){
        .cb = cb, .arg = arg, .deadline = uv_now(&io->loop) + io->call_timeout};
    stage__addr_copy(c->peer, peer);
    return id;
}

static void call_fail(io_t *io, uint64_t id, int status, const char *msg) {
    call_t *c = stage__u64map_take(&io->calls, id);
    if (!c) return;
    if (c->cb) {
        c->cb(io, c->arg, status, msg, strlen(msg));
    } else {
        stage__future_reject(c->f, status, msg, NULL, NULL);
        stage__future_unref(c->f);
    }
    stage__free(c);
}

typedef struct sweep_ctx {
    io_t *io;
    uint64_t now;
    const char *peer; /* fail the calls to this peer, or NULL: the late */
    int status;
    uint64_t ids[256];
    int n;
} sweep_ctx_t;

static void collect(uint64_t key, void *val, void *ud) {
    sweep_ctx_t *s = ud;
    call_t *c = val;
    bool hit = !s->peer ? c->deadline <= s->now
                        : !strcmp(s->peer, "*") || !strcmp(c->peer, s->peer);
    if (hit && s->n < 256) s->ids[s->n++] = key;
}

/* Fail every call to peer ("*": all), or past its deadline (peer NULL).
** why is a format with the peer (%s) and the timeout (%g). */
static void calls_fail(io_t *io, const char *peer, int status,
                       const char *why) {
    sweep_ctx_t s = {.io = io, .now = uv_now(&io->loop), .peer = peer};
    do {
        s.n = 0;
        stage__u64map_each(&io->calls, collect, &s);
        for (int i = 0; i < s.n; i++) {
            call_t *c = stage__u64map_get(&io->calls, s.ids[i]);
            char msg[STAGE_ADDR_MAX + 160];
            snprintf(msg, sizeof msg, why, c->peer,
                     (double)io->call_timeout / 1000);
            call_fail(io, s.ids[i], status, msg);
        }
    } while (s.n == 256);
}

static void on_sweep(uv_timer_t *t) {
    io_t *io = t->data;
    calls_fail(io, NULL, STAGE_ETIMEOUT, "no reply from node '%s' within %g s");
    stage__rdir_sweep(io);
}

/* ---- messages to other nodes -------------------------------------------- */

/* Send e to the actor `to` of another node; takes e. */
static void out_msg(io_t *io, const stage_id_t *to, stage__env_t *e) {
    uint64_t call = 0;
    if (e->future) {
        stage__future_ref(e->future);
        call = call_open(io, to->node, e->future);
        if (!call) goto done;
    }
    bool stop = e->hdr.kind == ENV_STOP_ACTOR; /* STOP: MSG's first fields */
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, stop ? 4 : 6);
    stage_pack_int(&p, (int64_t)call);
    stage__io_pack_target(&p, to);
    if (!stop) {
        stage_pack_str(&p, stage__env_method(e), e->mlen);
        if (e->len)
            stage_pack_raw(&p, stage__env_args(e), e->len);
        else
            stage_pack_array(&p, 0);
    }
    int rc = stage_pack_error(&p);
    if (!rc)
        rc = stage__io_send_frame(io, to->node, stop ? FRAME_STOP : FRAME_MSG,
                                  p.data, p.len);
    stage_pack_free(&p);
    if (rc) {
        char msg[STAGE_ADDR_MAX + 100];
        snprintf(msg, sizeof msg, "cannot send to node '%s': %s", to->node,
                 stage_strerror(rc));
        if (call)
            call_fail(io, call, rc == STAGE_ETOOBIG ? rc : STAGE_EUNREACHABLE,
                      msg);
        else
            LOG_WARN("%s", msg);
    }
done:
    stage__env_free(e);
}

static void out_spawn(io_t *io, io_item_t *it) {
    uint64_t call = call_open(io, it->where, it->f);
    if (!call) return;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 4);
    stage_pack_int(&p, (int64_t)call);
    stage_pack_cstr(&p, it->key);
    stage_pack_int(&p, it->theatre);
    if (it->len)
        stage_pack_raw(&p, it->args, it->len);
    else
        stage_pack_array(&p, 0);
    int rc = stage_pack_error(&p);
    if (!rc)
        rc = stage__io_send_frame(io, it->where, FRAME_SPAWN, p.data, p.len);
    stage_pack_free(&p);
    if (rc) {
        char msg[STAGE_ADDR_MAX + 100];
        snprintf(msg, sizeof msg, "cannot spawn on node '%s': %s", it->where,
                 stage_strerror(rc));
        call_fail(io, call, STAGE_EUNREACHABLE, msg);
    }
}

/* ---- frames from other nodes -------------------------------------------- */

/* Check that id names an actor of this node; else answer the call. */
stage__type_t *stage__io_local_target(io_t *io, const char *peer, uint64_t call,
                                      const stage_id_t *id) {
    stage__type_t *ty = NULL;
    if (stage__id_is_local(io->node, id))
        ty = stage__type_find(io->node, id->type);
    if (!ty) {
        char text[STAGE_ID_TEXT_MAX],
            msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 80];
        stage_id_format(id, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found on node '%s' (it "
                 "stopped, or its node restarted)",
                 text, io->address);
        stage__io_reply_error(io, peer, call, STAGE_EACTOR_NOT_FOUND, msg);
    }
    return ty;
}

/* Read [call, ...] header fields common to requests. */
static int read_call(stage_unpack_t *u, uint32_t want, uint64_t *call) {
    uint32_t n;
    int64_t c;
    if (stage_unpack_array(u, &n) || n != want || stage_unpack_int(u, &c) ||
        c < 0)
        return STAGE_EDECODE;
    *call = (uint64_t)c;
    return 0;
}

/* The rest of the buffer as one msgpack array (the arguments). */
static int read_args(stage_unpack_t *u, const char **args, size_t *len) {
    *args = u->p;
    if (stage_unpack_peek(u) != STAGE_T_ARRAY || stage_unpack_skip(u))
        return STAGE_EDECODE;
    *len = (size_t)(u->p - *args);
    return u->p == u->end ? 0 : STAGE_EDECODE;
}

int stage__io_read_target(io_t *io, stage_unpack_t *u, stage_id_t *to) {
    int64_t inc, serial;
    const char *type;
    size_t tlen;
    if (stage_unpack_int(u, &inc) || inc < 0 || inc > UINT32_MAX ||
        stage_unpack_int(u, &serial) || serial <= 0 ||
        stage_unpack_str(u, &type, &tlen) || tlen == 0 ||
        tlen >= STAGE_TYPE_MAX || memchr(type, 0, tlen))
        return STAGE_EDECODE;
    to->incarnation = (uint32_t)inc;
    to->serial = (uint64_t)serial;
    to->theatre = (uint16_t)stage__serial_theatre(to->serial);
    memcpy(to->type, type, tlen);
    to->type[tlen] = '\0';
    stage__addr_copy(to->node, io->address);
    return stage_type_name_valid(to->type) ? 0 : STAGE_EDECODE;
}

void stage__io_pack_target(stage_pack_t *p, const stage_id_t *to) {
    stage_pack_int(p, to->incarnation);
    stage_pack_int(p, (int64_t)to->serial);
    stage_pack_cstr(p, to->type);
}

/* MSG [call, incarnation, serial, type, method, args], or with stop
** STOP [call, incarnation, serial, type]: the order to stop. */
static int in_msg(io_t *io, const char *peer, const char *body, size_t len,
                  bool stop) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    uint64_t call;
    stage_id_t to;
    const char *method = "stop", *args = NULL;
    size_t mlen = 4, alen = 0;
    if (read_call(&u, stop ? 4 : 6, &call) ||
        stage__io_read_target(io, &u, &to))
        return STAGE_EDECODE;
    if (stop && stage_unpack_peek(&u) != STAGE_T_END) return STAGE_EDECODE;
    if (!stop &&
        (stage_unpack_str(&u, &method, &mlen) || mlen == 0 || mlen > 255 ||
         memchr(method, 0, mlen) || read_args(&u, &args, &alen)))
        return STAGE_EDECODE;
    stage__type_t *ty = stage__io_local_target(io, peer, call, &to);
    if (!ty) return 0;
    stage__env_t *e = stage__env_new(method, mlen, args, alen);
    if (e && stop) e->hdr.kind = ENV_STOP_ACTOR;
    if (e && call && !(e->future = stage__io_owed(io, peer, call, to.serial)))
        stage__env_free(e), e = NULL;
    if (!e) {
        char text[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 320];
        stage_id_format(&to, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "out of memory: message '%.*s' to actor '%s' not delivered",
                 (int)mlen, method, text);
        stage__io_reply_error(io, peer, call, STAGE_ENOMEM, msg);
        return 0;
    }
    e->target = to.serial;
    e->target_type = ty;
    e->hdr.flags |= ENV_REMOTE;
    stage__route(io->node, e);
    return 0;
}

static int in_spawn(io_t *io, const char *peer, const char *body, size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    uint64_t call;
    const char *type, *args;
    size_t tlen, alen;
    int64_t theatre;
    if (read_call(&u, 4, &call) || stage_unpack_str(&u, &type, &tlen) ||
        tlen >= STAGE_TYPE_MAX || stage_unpack_int(&u, &theatre) ||
        read_args(&u, &args, &alen))
        return STAGE_EDECODE;
    char name[STAGE_TYPE_MAX];
    memcpy(name, type, tlen);
    name[tlen] = 0;
    stage__type_t *ty = stage__type_find(io->node, name);
    int nt = stage_node_theatres(io->node);
    char msg[STAGE_TYPE_MAX + STAGE_ADDR_MAX + 80];
    if (!ty) {
        snprintf(msg, sizeof msg, "node '%s' has no actor type '%s'",
                 io->address, name);
        stage__io_reply_error(io, peer, call, STAGE_ETYPE_NOT_FOUND, msg);
        return 0;
    }
    /* the reply's future first: an actor nobody hears of would be lost */
    stage__future_t *f = stage__io_owed(io, peer, call, 0);
    if (!f) {
        snprintf(msg, sizeof msg, "cannot spawn '%s': out of memory", name);
        stage__io_reply_error(io, peer, call, STAGE_ENOMEM, msg);
        return 0;
    }
    if (theatre >= nt) theatre = -1;
    uint64_t serial;
    int rc = stage__spawn(
        io->node, ty, theatre < 0 ? (int)(call % (uint64_t)nt) : (int)theatre,
        args, alen, &serial);
    if (rc) {
        snprintf(msg, sizeof msg, "cannot spawn '%s': %s", name,
                 stage_strerror(rc));
        stage__future_reject(f, rc, msg, NULL, NULL); /* reply_done sends */
    } else {
        stage_id_t id;
        char buf[STAGE_ID_TEXT_MAX + 64]; /* an id's msgpack: no allocation */
        stage_pack_t p = {buf, 0, sizeof buf, 0};
        stage__make_id(io->node, serial, ty, &id);
        stage_pack_id(&p, &id);
        stage__future_resolve(f, p.data, p.len);
    }
    stage__future_unref(f);
    return 0;
}

static int in_reply(io_t *io, const char *peer, const char *body, size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    uint64_t call;
    int64_t status;
    if (read_call(&u, 3, &call) || stage_unpack_int(&u, &status) ||
        status > 0 || status < -100000)
        return STAGE_EDECODE;
    const char *value = u.p;
    if (stage_unpack_skip(&u) || u.p != u.end) return STAGE_EDECODE;
    call_t *c = stage__u64map_get(&io->calls, call);
    if (!c || strcmp(c->peer, peer)) return 0; /* late, or not theirs */
    stage__u64map_take(&io->calls, call);
    if (c->cb && status == 0) {
        c->cb(io, c->arg, 0, value, (size_t)(u.end - value));
        stage__free(c);
        return 0;
    }
    if (status == 0) {
        stage__future_resolve(c->f, value, (size_t)(u.end - value));
    } else {
        stage_unpack_t e;
        stage_unpack_init(&e, value, (size_t)(u.end - value));
        uint32_t n;
        const char *m = "", *a = NULL, *tb = NULL;
        size_t ml = 0, al = 0, tl = 0;
        char mbuf[1024], abuf[STAGE_ID_TEXT_MAX], tbuf[2048];
        if (!stage_unpack_array(&e, &n) && n == 3) {
            stage_unpack_str(&e, &m, &ml);
            if (stage_unpack_str(&e, &a, &al)) stage_unpack_skip(&e), a = NULL;
            if (stage_unpack_str(&e, &tb, &tl)) tb = NULL;
        }
        snprintf(mbuf, sizeof mbuf, "%.*s", (int)ml, m);
        if (a) snprintf(abuf, sizeof abuf, "%.*s", (int)al, a);
        if (tb) snprintf(tbuf, sizeof tbuf, "%.*s", (int)tl, tb);
        int st = stage_strerror((int)status)[0] == 'u' ? STAGE_EHANDLER
                                                       : (int)status;
        if (c->cb) {
            c->cb(io, c->arg, st, mbuf, strlen(mbuf));
            stage__free(c);
            return 0;
        }
        stage__future_reject(c->f, st, mbuf, a ? abuf : NULL, tb ? tbuf : NULL);
    }
    stage__future_unref(c->f);
    stage__free(c);
    return 0;
}

static void on_frame(void *ud, const char *peer, int kind, const char *body,
                     size_t len) {
    io_t *io = ud;
    int rc;
    io->activity++;
    switch (kind) {
    case FRAME_MSG:
        rc = in_msg(io, peer, body, len, false);
        break;
    case FRAME_STOP:
        rc = in_msg(io, peer, body, len, true);
        break;
    case FRAME_REPLY:
        rc = in_reply(io, peer, body, len);
        break;
    case FRAME_SPAWN:
        rc = in_spawn(io, peer, body, len);
        break;
    case FRAME_FIND:
        rc = stage__rdir_in_find(io, peer, body, len);
        break;
    case FRAME_NAME:
        rc = stage__rdir_in_name(io, peer, body, len);
        break;
    case FRAME_DHT:
        rc = stage__rdir_in_dht(io, peer, body, len);
        break;
    default:
        rc = STAGE_EPROTO;
    }
    if (rc)
        LOG_WARN("dropped a frame of kind %d from '%s': %s", kind, peer,
                 stage_strerror(rc));
}

static void on_peer_down(void *ud, const char *peer, int reason,
                         size_t dropped) {
    io_t *io = ud;
    stage__rdir_forget_node(io, peer); /* its actors may be gone */
    if (reason == STAGE_ECANCELED || reason == STAGE_EUNREACHABLE)
        stage__rdir_peer_gone(io, peer);
    if (reason == STAGE_ECANCELED) {
        LOG_INFO("node '%s' stopped%s", peer,
                 dropped ? "; queued messages to it failed" : "");
        calls_fail(io, peer, STAGE_EUNREACHABLE,
                   "node '%s' stopped before it replied");
    } else if (reason == STAGE_EUNREACHABLE || reason == STAGE_ESTOPPED) {
        LOG_WARN("node '%s' is %s%s", peer,
                 reason == STAGE_ESTOPPED ? "a new incarnation" : "unreachable",
                 dropped ? "; queued messages to it failed" : "");
        calls_fail(io, peer, STAGE_EUNREACHABLE,
                   reason == STAGE_ESTOPPED
                       ? "node '%s' restarted before it replied"
                       : "node '%s' is unreachable (gave up reconnecting)");
    }
}

/* ---- the loop ----------------------------------------------------------- */

static void on_stop_timer(uv_timer_t *t) {
    io_t *io = t->data;
    io->loop_done = true;
    uv_stop(t->loop);
}

/* Leave (names and types first, then the ring: stage__rdir_leave), give
** the goodbye frames a moment to go out, stop. */
static void stop_soon(io_t *io) {
    stage__rdir_leave(io);
}

void stage__io_left(io_t *io) {
    stage__transport_goodbye(io->tr);
    uv_timer_init(&io->loop, &io->stop_timer);
    io->stop_timer.data = io;
    uv_timer_start(&io->stop_timer, on_stop_timer, 100, 0);
}

static void take(io_t *io, io_item_t *it) {
    switch (it->kind) {
    case IO_MSG:
        out_msg(io, &it->to, it->e);
        break;
    case IO_REPLY:
        send_reply(io, it->f);
        break;
    case IO_SPAWN:
        out_spawn(io, it);
        break;
    case IO_DIR:
        stage__rdir_lookup(io, it);
        return; /* keeps it */
    case IO_ANNOUNCE:
        stage__rdir_announce(io, it);
        break;
    case IO_GONE:
        stage__rdir_release(io, it->to.serial);
        break;
    case IO_STOP:
        stop_soon(io);
        break;
    }
    stage__free(it->args);
    stage__free(it);
}

static void on_async(uv_async_t *a) {
    io_t *io = a->data;
    stage__mpsc_node_t *n;
    while ((n = stage__mpsc_pop(&io->inbox))) {
        io->activity++;
        take(io, (io_item_t *)n);
    }
}

static void on_signal(uv_signal_t *s, int signum) {
    io_t *io = s->data;
    LOG_INFO("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stage_node_stop(io->node, 0);
}

/* After each wake-up the loop lingers LINGER_SECS, polling the sockets
** and the inbox without sleeping: a reply or the next message of a
** conversation usually comes within that, and an epoll sleep plus an
** eventfd wake-up per message cost more than the message (see theatre.c,
** which lingers the same way). */
#define LINGER_SECS 50e-6

static bool io_keeps_loop(io_t *io) {
    return !io->loop_done && !atomic_load(&io->handover);
}

static void io_main(void *arg) {
    io_t *io = arg;
    while (io_keeps_loop(io)) {
        uv_run(&io->loop, UV_RUN_ONCE);
        double until = stage__now() + LINGER_SECS;
        while (io_keeps_loop(io) && stage__now() < until) {
            if (!stage__mpsc_empty(&io->inbox)) {
                on_async(&io->async);
                until = stage__now() + LINGER_SECS;
            }
            uv_run(&io->loop, UV_RUN_NOWAIT);
        }
    }
}

/* ---- theatre 0 runs the loop ---------------------------------------------
 */

static void on_poll_timer(uv_timer_t *t) {
    (void)t; /* its firing ends the poll */
}

/* The poller of theatre 0 (stage__poller_t). */
static int io_poll(void *ud, double timeout) {
    io_t *io = ud;
    uint64_t before = io->activity;
    on_async(&io->async); /* the inbox first: no eventfd round needed */
    if (timeout == 0 || io->activity != before) {
        uv_run(&io->loop, UV_RUN_NOWAIT);
    } else {
        if (timeout > 0)
            uv_timer_start(&io->poll_timer, on_poll_timer,
                           (uint64_t)(timeout * 1000) + 1, 0);
        uv_run(&io->loop, UV_RUN_ONCE);
        uv_timer_stop(&io->poll_timer);
    }
    return io->activity != before;
}

static void io_wake(void *ud) {
    io_t *io = ud;
    uv_async_send(&io->async);
}

/* Theatre 0 starts: take the loop over from the I/O thread. */
static void net_adopt(stage_node_t *node, stage__theatre_t *t) {
    io_t *io = stage__node_net(node);
    atomic_store(&io->handover, true);
    uv_async_send(&io->async);
    uv_thread_join(&io->thread);
    atomic_store(&io->owner, t);
    t->poller = (stage__poller_t){io_poll, io_wake, io};
}

/* ---- hooks the theatres call (any thread) ------------------------------- */

static void net_send(stage_node_t *node, const stage_id_t *to,
                     stage__env_t *e) {
    io_t *io = stage__node_net(node);
    if (on_owner(io) && !atomic_load(&io->closing)) {
        out_msg(io, to, e);
        return;
    }
    io_item_t *it = item_new(IO_MSG);
    if (!it || atomic_load(&io->closing)) {
        stage__free(it);
        if (e->future)
            stage__future_reject(e->future, STAGE_ESTOPPED,
                                 "this node is "
                                 "shutting down",
                                 NULL, NULL);
        stage__env_free(e);
        return;
    }
    it->to = *to;
    it->e = e;
    io_push(io, it);
}

static void net_spawn(stage_node_t *node, const char *where, const char *type,
                      const char *args, size_t len, stage__future_t *f) {
    io_t *io = stage__node_net(node);
    io_item_t *it = item_new(IO_SPAWN);
    char *copy = it && len ? stage__malloc(len) : NULL;
    if (!it || (len && !copy)) {
        stage__free(it);
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        stage__future_unref(f);
        return;
    }
    if (len) memcpy(copy, args, len);
    snprintf(it->where, sizeof it->where, "%s", where);
    snprintf(it->key, sizeof it->key, "%s", type);
    it->theatre = -1;
    it->args = copy;
    it->len = len;
    it->f = f;
    io_push(io, it);
}

static void net_directory(stage_node_t *node, int op, const char *key,
                          const stage_id_t *id, stage__future_t *f) {
    io_t *io = stage__node_net(node);
    io_item_t *it = item_new(IO_DIR);
    if (!it) {
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        return;
    }
    stage__future_ref(f);
    it->op = op;
    snprintf(it->key, sizeof it->key, "%s", key);
    if (id) it->to = *id;
    it->f = f;
    io_push(io, it);
}

static void net_announce(stage_node_t *node, stage__type_t *ty) {
    io_t *io = stage__node_net(node);
    io_item_t *it = item_new(IO_ANNOUNCE);
    if (!it) return; /* the type stays findable locally */
    snprintf(it->key, sizeof it->key, "%s", ty->name);
    snprintf(it->super, sizeof it->super, "%s", ty->super);
    io_push(io, it);
}

static void net_actor_gone(stage_node_t *node, uint64_t serial) {
    io_t *io = stage__node_net(node);
    /* relaxed: a claim noted just now for an actor stopping just now is
    ** released with the lease at worst */
    if (!atomic_load_explicit(&io->nclaims, memory_order_relaxed)) return;
    io_item_t *it = item_new(IO_GONE);
    if (!it) return; /* the lease ends it */
    it->to.serial = serial;
    io_push(io, it);
}

static int net_stats(stage_node_t *node, stage_net_stats_t *out) {
    io_t *io = stage__node_net(node);
    stage__net_stats_t s;
    stage__transport_stats(io->tr, &s);
    *out = (stage_net_stats_t){s.bytes_in, s.bytes_out, s.frames_in,
                               s.frames_out, s.writes};
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void net_close(stage_node_t *node) {
    io_t *io = stage__node_net(node);
    if (!io) return;
    atomic_store(&io->closing, true);
    if (atomic_load(&io->owner)) { /* theatre 0 ran it and has stopped */
        on_async(&io->async);
        stop_soon(io);
        while (!io->loop_done)
            uv_run(&io->loop, UV_RUN_ONCE);
    } else {
        io_item_t *stop = item_new(IO_STOP);
        if (stop) io_push(io, stop);
        uv_thread_join(&io->thread);
    }
    on_async(&io->async); /* what came in meanwhile */
    calls_fail(io, "*", STAGE_ESTOPPED,
               "this node shut down before node '%s' replied (%g)");
    stage__rdir_close(io);
    for (held_t *h; (h = io->held_head);) {
        io->held_head = h->next;
        stage__free(h);
    }
    stage__transport_destroy(&io->tr);
    uv_walk(&io->loop, close_walk, NULL);
    uv_run(&io->loop, UV_RUN_DEFAULT);
    uv_loop_close(&io->loop);
    stage_dht_destroy(&io->dht);
    stage__u64map_free(&io->calls);
    stage_pack_free(&io->reply_buf);
    /* replies still owed (messages the theatres drop at teardown) find no
    ** network from now on (see reply_done) */
    stage__net_hooks_t none = {0};
    stage__node_set_net_hooks(node, &none, NULL);
    stage__free(io);
}

/* ---- start -------------------------------------------------------------- */

void stage_net_config_init(stage_net_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->replicas = 3;
    cfg->call_timeout = 60;
    cfg->lease_secs = 30;
    cfg->period_secs = 1;
}

const char *stage_node_address(const stage_node_t *node) {
    return stage__node_address(node);
}

int stage_node_joined(const stage_node_t *node) {
    io_t *io = stage__node_net((stage_node_t *)node);
    return io && atomic_load(&io->joined);
}

uint64_t stage_node_manager_id(const stage_node_t *node) {
    io_t *io = stage__node_net((stage_node_t *)node);
    return io ? io->manager : 0;
}

static int start_transport(io_t *io, const stage_net_config_t *cfg, char *err,
                           size_t errlen) {
    stage__transport_config_t tc;
    stage__transport_config_init(&tc);
    tc.incarnation = stage__node_incarnation(io->node);
    tc.manager = io->manager;
    stage__transport_cbs_t cbs = {.ud = io,
                                  .on_frame = on_frame,
                                  .on_peer_down = on_peer_down,
                                  .on_drain = on_drain};
    int rc = stage__transport_new(&io->loop, &tc, &cbs, &io->tr);
    if (!rc)
        rc = stage__transport_listen(io->tr, cfg->listen, io->address,
                                     sizeof io->address);
    if (rc) {
        snprintf(err, errlen, "cannot listen at '%s': %s", cfg->listen,
                 stage_strerror(rc));
        return rc;
    }
    return stage__node_set_address(io->node, io->address);
}

static void start_handles(io_t *io, bool signals) {
    uv_async_init(&io->loop, &io->async, on_async);
    io->async.data = io;
    uv_timer_init(&io->loop, &io->sweep);
    io->sweep.data = io;
    uv_timer_start(&io->sweep, on_sweep, 500, 500);
    uv_unref((uv_handle_t *)&io->sweep);
    uv_timer_init(&io->loop, &io->poll_timer);
    if (signals) {
        uv_signal_init(&io->loop, &io->sigterm);
        uv_signal_init(&io->loop, &io->sigint);
        io->sigterm.data = io->sigint.data = io;
        uv_signal_start(&io->sigterm, on_signal, SIGTERM);
        uv_signal_start(&io->sigint, on_signal, SIGINT);
    }
}

int stage_node_network(stage_node_t *node, const stage_net_config_t *cfg,
                       char *err, size_t errlen) {
    if (!cfg || !cfg->listen || stage__node_net(node)) {
        snprintf(err, errlen, "a network needs a listen address, once");
        return STAGE_EINVAL;
    }
    io_t *io = stage__calloc(1, sizeof *io);
    if (!io || uv_loop_init(&io->loop)) {
        stage__free(io);
        snprintf(err, errlen, "out of memory");
        return STAGE_ENOMEM;
    }
    io->node = node;
    io->call_timeout =
        (uint64_t)((cfg->call_timeout > 0 ? cfg->call_timeout : 60) * 1000);
    stage__mpsc_init(&io->inbox);
    io->manager = stage__random64();
    int rc = start_transport(io, cfg, err, errlen);
    if (!rc) rc = stage__rdir_start(io, cfg, err, errlen);
    if (rc) {
        if (io->tr) stage__transport_destroy(&io->tr);
        uv_run(&io->loop, UV_RUN_NOWAIT);
        uv_loop_close(&io->loop);
        stage__free(io);
        return rc;
    }
    start_handles(io, cfg->handle_signals);
    stage__net_hooks_t hooks = {.directory = net_directory,
                                .announce = net_announce,
                                .actor_gone = net_actor_gone,
                                .close = net_close,
                                .adopt = net_adopt,
                                .stats = net_stats,
                                .send = net_send,
                                .spawn = net_spawn};
    stage__node_set_net_hooks(node, &hooks, io);
    stage_node_hold(node); /* a listener keeps the node alive */
    if (uv_thread_create(&io->thread, io_main, io)) {
        snprintf(err, errlen, "cannot start the I/O thread");
        return STAGE_ENOMEM;
    }
    return 0;
}
