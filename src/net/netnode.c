/*
** net/netnode.c: a node on the network — its I/O thread. One libuv loop runs
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
**   PICK   [call, type]                      reply: [n, one of the n ids]
**   DHT    a stage_dht message
**   MONITOR, DEMONITOR, DOWN                 monitors between nodes
**                                            (monitors.c)
**
** A call waits in `calls` (src/node/calls.c: the state machine; here one
** timer armed at its next deadline) until its reply, its deadline, the end
** of its peer's session (NodeDown, NodeUnreachable) or the node's stop. Frames
** a full peer queue refuses wait in an overflow list until the transport
** drains. Every byte from the network is
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

#include "core/move.h"
#include "core/mpsc.h"
#include "util/alloc.h"
#include "netnode.h"
#include "wire/frame.h"
#include "util/log.h"

/* Room a frame keeps beside a message's arguments or a reply's value for
** the header and the envelope: the longest MSG envelope (a call id, a
** target with a 63-byte type, a 255-byte method, the array headers) takes
** under 400 bytes. So a frame of max_message + ENVELOPE_ROOM carries any
** message the node lets through; the default limit keeps the default
** frame. */
#define ENVELOPE_ROOM 1024
_Static_assert(STAGE_MAX_MESSAGE_DEFAULT + ENVELOPE_ROOM ==
                   STAGE__FRAME_MAX_DEFAULT,
               "the default message limit fills the default frame");

/* ---- the inbox -------------------------------------------------------------
 */

static void take(stage__netnode_t *nn, stage__netnode_item_t *it);

/* 1 on the thread of the theatre that runs the loop. */
static bool on_owner(stage__netnode_t *nn) {
    stage__theatre_t *t =
        atomic_load_explicit(&nn->owner, memory_order_relaxed);
    return t && t == stage__current();
}

static void netnode_push(stage__netnode_t *nn, stage__netnode_item_t *it) {
    if (on_owner(nn)) {
        take(nn, it);
        return;
    }
    stage__mpsc_push(&nn->inbox, &it->link);
    /* theatre 0 drains the inbox at every pass and before it sleeps: it
    ** needs waking only when asleep (stage__theatre_wake checks) */
    stage__theatre_t *owner = atomic_load(&nn->owner);
    if (owner)
        stage__theatre_wake(owner);
    else
        uv_async_send(&nn->async);
}

/* An update_type's request to the loop (ITEM_UPDATE's args). */
typedef struct upd_item {
    stage__code_done_fn done;
    void *arg;
    size_t len;
    char methods[];
} upd_item_t;

static stage__netnode_item_t *item_new(int kind) {
    stage__netnode_item_t *it = stage__calloc(1, sizeof *it);
    if (it) it->kind = kind;
    return it;
}

/* ---- sending frames -------------------------------------------------------
 */

static void hold_frame(stage__netnode_t *nn, const char *peer, int kind,
                       const char *body, size_t len) {
    stage__held_t *h = stage__malloc(sizeof *h + len);
    if (!h) {
        LOG_ERROR("out of memory: a frame for '%s' is lost", peer);
        return;
    }
    h->next = NULL;
    h->kind = kind;
    h->len = len;
    stage__addr_copy(h->peer, peer);
    memcpy(h->body, body, len);
    if (nn->held_tail)
        nn->held_tail->next = h;
    else
        nn->held_head = h;
    nn->held_tail = h;
}

/* Send a frame to peer, keeping it if the peer's queue is full. 0, or a
** STAGE_E* code for a frame that can never go (the caller fails its call). */
int stage__netnode_send_frame(stage__netnode_t *nn, const char *peer, int kind,
                              const char *body, size_t len) {
    /* before it is held: a held frame must be one the transport takes,
    ** or its call would never hear that it was lost */
    int rc = stage__transport_fits(nn->tr, peer, len);
    if (rc) return rc;
    bool behind = false;
    for (stage__held_t *h = nn->held_head; h && !behind; h = h->next)
        behind = !strcmp(h->peer, peer); /* keep the order behind held ones */
    rc = behind ? STAGE_EBUSY
                : stage__transport_send(nn->tr, peer, kind, body, len);
    if (rc == STAGE_EBUSY) {
        hold_frame(nn, peer, kind, body, len);
        return 0;
    }
    return rc;
}

static void on_drain(void *ud, const char *peer) {
    stage__netnode_t *nn = ud;
    stage__held_t **pp = &nn->held_head, *last = NULL;
    while (*pp) {
        stage__held_t *h = *pp;
        if (strcmp(h->peer, peer)) {
            last = h;
            pp = &h->next;
            continue;
        }
        int rc = stage__transport_send(nn->tr, peer, h->kind, h->body, h->len);
        if (rc == STAGE_EBUSY) break;
        if (rc)
            LOG_WARN("a frame of kind %d for '%s' is lost: %s", h->kind, peer,
                     stage_strerror(rc));
        *pp = h->next;
        stage__free(h);
    }
    nn->held_tail = NULL;
    for (stage__held_t *h = nn->held_head; h; h = h->next)
        nn->held_tail = h;
    (void)last;
}

/* ---- replies ------------------------------------------------------------- */

/* Encode the REPLY for call from future f (done). */
static void pack_reply(stage_pack_t *p, uint64_t call,
                       const stage__future_t *f) {
    if (f->status == 0)
        stage__node_reply_encode(p, call, f->data, f->len);
    else
        stage__node_reply_fail_encode(p, call, f->status, f->message, f->actor,
                                      f->traceback);
}

/* Send the REPLY packed in p (or failed to pack) to call from peer; a
** reply that cannot go is logged, as its caller will only time out. */
static void reply_frame(stage__netnode_t *nn, const char *peer, uint64_t call,
                        const stage_pack_t *p) {
    int rc = stage_pack_error(p);
    if (!rc)
        rc = stage__netnode_send_frame(nn, peer, FRAME_REPLY, p->data, p->len);
    if (rc)
        LOG_ERROR("the reply to call %llu from '%s' is lost: %s",
                  (unsigned long long)call, peer, stage_strerror(rc));
}

/* The reply f owed through o cannot go: what says why ("is too large:
** 9000016 bytes, over ..."). Send that failure (status) instead, so that
** the caller learns it now rather than at its call's deadline, and log it
** here with the actor's id. */
static void reply_refused(stage__netnode_t *nn, const stage__owed_t *o,
                          const stage__future_t *f, int status,
                          const char *what) {
    char id[STAGE_ID_TEXT_MAX] = "?", msg[STAGE_ID_TEXT_MAX + 250];
    if (f->actor) {
        snprintf(id, sizeof id, "%s", f->actor);
    } else if (o->type) {
        stage_id_t self;
        stage__make_id(nn->node, f->target, o->type, &self);
        stage_id_format(&self, id, sizeof id);
    }
    snprintf(msg, sizeof msg, "the reply of actor '%s' %s", id, what);
    LOG_WARN("%s; its caller on '%s' gets %s", msg, o->peer,
             stage_err_name(status));
    stage__netnode_reply_error(nn, o->peer, o->call, status, msg);
}

/* Send f's result to the caller it is owed to. A reply to a message past
** max_message (a delegated one: the actor's own replies are checked where
** they are made), or too large for a frame (a failure with a huge
** message), sends TooLarge instead; a value the receiver would refuse,
** MalformedData. */
static void send_reply(stage__netnode_t *nn, stage__future_t *f) {
    stage__owed_t *o = f->on_done_arg;
    stage_pack_t *p = &nn->reply_buf; /* the loop's owner only: reused */
    stage_pack_reset(p);
    char what[160];
    int rc = 0;
    if (o->incarnation &&
        stage__transport_peer_incarnation(nn->tr, o->peer) != o->incarnation) {
        /* the caller's run ended (it restarted, stopped or was declared
        ** dead): a new run of the node at its address counts its calls
        ** from 1 again, and would take this reply for one of its own */
        LOG_INFO("the reply to call %llu from '%s' (incarnation %x) is "
                 "dropped: that run of the node has ended",
                 (unsigned long long)o->call, o->peer, o->incarnation);
    } else if (o->type && f->status == 0 && f->len > nn->max_message) {
        snprintf(what, sizeof what,
                 "is too large: %zu bytes, over the limit of %zu bytes "
                 "(--max-message)",
                 (size_t)f->len, nn->max_message);
        reply_refused(nn, o, f, STAGE_ETOOBIG, what);
    } else {
        pack_reply(p, o->call, f);
        rc = stage_pack_error(p);
        /* a C actor's value may nest 64 deep, one more than a REPLY frame
        ** has room for; the receiver would drop the connection for it */
        if (!rc && f->status == 0 && stage_pack_validate(p->data, p->len, 1)) {
            reply_refused(nn, o, f, STAGE_EDECODE,
                          "is not well-formed msgpack nested at most 63 "
                          "levels deep (a frame between nodes takes 64 in "
                          "all)");
        } else if (!rc) {
            rc = stage__netnode_send_frame(nn, o->peer, FRAME_REPLY, p->data,
                                           p->len);
        }
    }
    if (rc == STAGE_ETOOBIG) {
        snprintf(what, sizeof what,
                 "is too large: its frame is %zu bytes, over the %zu bytes a "
                 "frame between nodes may take",
                 p->len + STAGE__FRAME_HEADER, nn->max_frame);
        reply_refused(nn, o, f, STAGE_ETOOBIG, what);
    } else if (rc) {
        LOG_WARN("the reply to call %llu from '%s' is lost: %s",
                 (unsigned long long)o->call, o->peer, stage_strerror(rc));
    }
    if (p->cap > 65536) stage_pack_free(p); /* keep no large one */
    stage__free(o);
    f->on_done_arg = NULL;
    stage__future_unref(f);
}

/* on_done of a future owed to a remote caller: any thread. */
static void reply_done(stage__future_t *f) {
    stage__owed_t *o = f->on_done_arg;
    if (!stage__node_net(f->node)) { /* closed: nobody to send it */
        stage__free(o);
        f->on_done_arg = NULL;
        return;
    }
    f->observed = true; /* the caller gets it */
    if (on_owner(o->nn)) {
        stage__future_ref(f);
        send_reply(o->nn, f);
        return;
    }
    stage__netnode_item_t *it = item_new(ITEM_REPLY);
    if (!it) {
        LOG_ERROR("out of memory: the reply for call %llu from '%s' is lost",
                  (unsigned long long)o->call, o->peer);
        return;
    }
    stage__future_ref(f);
    it->f = f;
    netnode_push(o->nn, it);
}

/* A future whose result goes back to peer as the reply to call. */
stage__future_t *stage__netnode_owed(stage__netnode_t *nn, const char *peer,
                                     uint64_t call, uint64_t target) {
    stage__future_t *f = stage__future_new(nn->node, 0, target);
    stage__owed_t *o = stage__malloc(sizeof *o);
    if (!f || !o) {
        stage__free(o);
        if (f) stage__future_unref(f);
        return NULL;
    }
    stage__addr_copy(o->peer, peer);
    o->call = call;
    o->nn = nn;
    o->type = NULL;
    /* the call came in the session with this run of peer, now */
    o->incarnation = stage__transport_peer_incarnation(nn->tr, peer);
    f->on_done_arg = o;
    f->on_done = reply_done;
    return f;
}

/* Answer call from peer with a failure at once (no actor involved). */
void stage__netnode_reply_error(stage__netnode_t *nn, const char *peer,
                                uint64_t call, int status, const char *msg) {
    if (!call) {
        LOG_WARN("from '%s': %s", peer, msg);
        return;
    }
    stage__future_t tmp = {.status = status, .message = (char *)msg};
    stage_pack_t p = STAGE_PACK_INIT;
    pack_reply(&p, call, &tmp);
    reply_frame(nn, peer, call, &p);
    stage_pack_free(&p);
}

/* ---- calls ------------------------------------------------------------------
 */

static void on_calls_timer(uv_timer_t *t);

/* Have the calls timer fire by deadline (it may fire earlier: a call that
** ended early leaves it armed for its deadline, and a tick then finds
** nothing due). Cheap when it is armed earlier already: one compare. */
static void calls_arm(stage__netnode_t *nn, uint64_t deadline) {
    if (deadline >= nn->calls_armed) return;
    uint64_t now = uv_now(&nn->loop);
    nn->calls_armed = deadline;
    uv_timer_start(&nn->calls_timer, on_calls_timer,
                   deadline > now ? deadline - now : 1, 0);
}

/* The calls' timer: the calls past their deadline fail (Timeout). */
static void on_calls_timer(uv_timer_t *t) {
    stage__netnode_t *nn = t->data;
    nn->calls_armed = UINT64_MAX;
    stage__calls_tick(&nn->calls, uv_now(&nn->loop));
    uint64_t next = stage__calls_next_deadline(&nn->calls);
    if (next != UINT64_MAX) calls_arm(nn, next);
}

/* Open a call for f (with cb NULL) or cb(arg) to peer: its id, or 0. */
static uint64_t call_new(stage__netnode_t *nn, const char *peer,
                         stage__future_t *f, stage__call_cb cb, void *arg) {
    stage__netcall_t *c = stage__malloc(sizeof *c);
    uint64_t id = ++nn->next_id;
    if (!c ||
        stage__calls_open(&nn->calls, &c->call, id, peer, uv_now(&nn->loop))) {
        stage__free(c);
        return 0;
    }
    c->f = f;
    c->cb = cb;
    c->arg = arg;
    calls_arm(nn, c->call.deadline);
    return id;
}

/* Register f as waiting for a reply from peer; returns the call id. */
static uint64_t call_open(stage__netnode_t *nn, const char *peer,
                          stage__future_t *f) {
    uint64_t id = call_new(nn, peer, f, NULL, NULL);
    if (!id) {
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        stage__future_unref(f);
    }
    return id;
}

uint64_t stage__netnode_call_f(stage__netnode_t *nn, const char *peer,
                               stage__future_t *f) {
    return call_open(nn, peer, f);
}

void stage__netnode_push(stage__netnode_t *nn, stage__netnode_item_t *it) {
    netnode_push(nn, it);
}

uint64_t stage__netnode_call_cb(stage__netnode_t *nn, const char *peer,
                                stage__call_cb cb, void *arg) {
    return call_new(nn, peer, NULL, cb, arg);
}

void stage__netnode_call_cancel(stage__netnode_t *nn, uint64_t id) {
    stage__free(stage__calls_take(&nn->calls, id));
}

/* The calls' fail hook, and a call whose frame could not go: complete c
** with the failure and free it. */
static void call_failed(void *ud, stage__call_t *call, int status,
                        const char *msg) {
    stage__netnode_t *nn = ud;
    stage__netcall_t *c = (stage__netcall_t *)call;
    if (c->cb) {
        c->cb(nn, c->arg, status, msg, strlen(msg));
    } else {
        stage__future_reject(c->f, status, msg, NULL, NULL);
        stage__future_unref(c->f);
    }
    stage__free(c);
}

static void call_fail(stage__netnode_t *nn, uint64_t id, int status,
                      const char *msg) {
    stage__call_t *c = stage__calls_take(&nn->calls, id);
    if (c) call_failed(nn, c, status, msg);
}

void stage__netnode_call_fail(stage__netnode_t *nn, uint64_t id, int status,
                              const char *msg) {
    call_fail(nn, id, status, msg);
}

static void on_sweep(uv_timer_t *t) {
    stage__netnode_t *nn = t->data;
    stage__holdings_sweep(nn);
    stage__hosts_sweep(nn);
    stage__relocate_sweep(nn);
    stage__sources_sweep(nn);
}

/* ---- messages to other nodes -------------------------------------------- */

/* e is for an actor of a node incarnation declared dead (why): fail it at
** once, its future with NodeDown, or a line for a one-way message. */
static void dead_target(const stage_id_t *to, stage__env_t *e,
                        const char *why) {
    char text[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 600];
    stage_id_format(to, text, sizeof text);
    snprintf(msg, sizeof msg,
             "cannot send '%s' to actor '%s': its node '%s' (incarnation %x) "
             "is down: %s",
             e->hdr.kind == ENV_STOP_ACTOR ? "stop" : stage__env_method(e),
             text, to->node, to->incarnation, why);
    if (e->future)
        stage__future_reject(e->future, STAGE_ENODE_DOWN, msg, text, NULL);
    else
        LOG_WARN("%s", msg);
}

/* Why a frame of `frame` bytes could not go (rc, from sending it or from
** checking its body first), for the sender's error; and the status its
** call fails with. Core checks arguments against max_message, and a frame
** has room for them: STAGE_ETOOBIG here is a value the checks did not see
** (a failure with a huge message, say). */
static int frame_failed(stage__netnode_t *nn, int rc, size_t frame, char *why,
                        size_t len) {
    if (rc == STAGE_ETOOBIG && frame > nn->max_frame)
        snprintf(why, len,
                 "its frame is %zu bytes, over the %zu bytes a frame between "
                 "nodes may take",
                 frame, nn->max_frame);
    else if (rc == STAGE_ETOOBIG) /* the peer said it takes less */
        snprintf(why, len,
                 "its frame is %zu bytes, more than that node takes (its "
                 "--max-message is smaller than this node's)",
                 frame);
    else if (rc == STAGE_EDECODE)
        snprintf(why, len,
                 "its arguments are not well-formed msgpack nested at most "
                 "62 levels deep (a frame between nodes takes 64 in all)");
    else
        snprintf(why, len, "%s", stage_strerror(rc));
    return rc == STAGE_ETOOBIG || rc == STAGE_EDECODE ? rc : STAGE_EUNREACHABLE;
}

/* Send e to the actor `to` of another node; takes e. Arguments not made
** by the Lua encoder are checked first as the receiver will check them: a
** frame it refuses would cost the whole connection. */
/* e is for an actor of a node incarnation that left, or was declared dead
** (dead: why): it goes where the migrations store says the actor is
** (relocate.c: an actor that moved away survives its birth node), or
** fails as it would have. */
static void gone_target_down(stage__netnode_t *nn, const stage_id_t *to,
                             stage__env_t *e, int status, const char *why);

static void gone_target(stage__netnode_t *nn, const stage_id_t *to,
                        stage__env_t *e, const char *dead) {
    gone_target_down(nn, to, e, dead ? STAGE_ENODE_DOWN : 0, dead);
}

/* The same, for a node down as status says (0: it left), why. */
static void gone_target_down(stage__netnode_t *nn, const stage_id_t *to,
                             stage__env_t *e, int status, const char *why) {
    bool stop = e->hdr.kind == ENV_STOP_ACTOR;
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stop ? stage__node_stop_encode(&p, 0, to)
                  : stage__node_msg_encode(&p, 0, to, stage__env_method(e),
                                           e->mlen, stage__env_args(e), e->len);
    if (e->future) stage__future_ref(e->future);
    if (rc ||
        !stage__relocate_frame_down(nn, to, stop ? FRAME_STOP : FRAME_MSG,
                                    p.data, p.len, e->future, status, why)) {
        if (e->future) stage__future_unref(e->future);
        dead_target(to, e, rc ? stage_strerror(rc) : why ? why : "it left");
    }
    stage_pack_free(&p);
}

static void out_msg(stage__netnode_t *nn, const stage_id_t *to,
                    stage__env_t *e) {
    uint64_t call = 0;
    const char *dead;
    if (stage__transport_is_dead(nn->tr, to->node, to->incarnation, &dead)) {
        char why[STAGE__SESSION_WHY_MAX];
        snprintf(why, sizeof why, "%s", dead); /* the transport's, borrowed */
        gone_target(nn, to, e, why);
        goto done;
    }
    if (stage__transport_has_left(nn->tr, to->node, to->incarnation)) {
        gone_target(nn, to, e, NULL);
        goto done;
    }
    /* an id whose messages follow its actor already (a node never reached
    ** gave them back): this one goes behind them, where they went */
    if (stage__relocate_knows(nn, to)) {
        gone_target_down(nn, to, e, STAGE_EUNREACHABLE,
                         "its node cannot be reached");
        goto done;
    }
    if (e->future) {
        stage__future_ref(e->future);
        call = call_open(nn, to->node, e->future);
        if (!call) goto done;
    }
    bool stop = e->hdr.kind == ENV_STOP_ACTOR; /* STOP: MSG's first fields */
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stop ? stage__node_stop_encode(&p, call, to)
                  : stage__node_msg_encode(&p, call, to, stage__env_method(e),
                                           e->mlen, stage__env_args(e), e->len);
    if (!rc && (e->hdr.flags & ENV_UNCHECKED) &&
        stage_pack_validate(p.data, p.len, 1))
        rc = STAGE_EDECODE;
    if (!rc)
        rc = stage__netnode_send_frame(
            nn, to->node, stop ? FRAME_STOP : FRAME_MSG, p.data, p.len);
    size_t frame = p.len + STAGE__FRAME_HEADER;
    stage_pack_free(&p);
    if (rc) {
        char id[STAGE_ID_TEXT_MAX], why[160];
        char msg[STAGE_ID_TEXT_MAX + sizeof why + 300];
        stage_id_format(to, id, sizeof id);
        int status = frame_failed(nn, rc, frame, why, sizeof why);
        snprintf(msg, sizeof msg, "cannot send '%s' to actor '%s': %s",
                 stop ? "stop" : stage__env_method(e), id, why);
        if (call)
            call_fail(nn, call, status, msg);
        else
            LOG_WARN("%s", msg);
    }
done:
    stage__env_free(e);
}

static void out_spawn_now(stage__netnode_t *nn, stage__netnode_item_t *it);

/* The store has the code of a held spawn's type now, has other code
** (SourceClash: the spawn fails), or could not be told (it goes on). */
static void spawn_stored(stage__netnode_t *nn, void *arg, int status,
                         const char *why) {
    stage__netnode_item_t *it = arg;
    if (status && status != STAGE_ECLASH) /* logged: the node there may */
        status = 0;                       /* have the type: try */
    if (status) {
        char msg[STAGE_ADDR_MAX + sizeof it->key + 700];
        snprintf(msg, sizeof msg, "cannot spawn '%s' on node '%s': %s", it->key,
                 it->where, why);
        stage__future_reject(it->f, status, msg, NULL, NULL);
        stage__future_unref(it->f);
    } else {
        out_spawn_now(nn, it);
    }
    stage__free(it->args);
    stage__free(it);
}

/* Send a SPAWN once the sources store has the type's code (the node
** there may need it): false, or true if it is held (it kept). */
static bool out_spawn(stage__netnode_t *nn, stage__netnode_item_t *it) {
    /* arguments alone more than the node there takes: the spawn fails now
    ** (out_spawn_now says why), not once the store has answered */
    if (stage__transport_fits(nn->tr, it->where, it->len) == 0) {
        stage__type_t *ty = stage__type_find(nn->node, it->key);
        int rc = stage__sources_store(nn, ty, spawn_stored, it);
        if (rc == 0) return true;
        if (rc < 0) /* the node there may have it: try */
            LOG_WARN("the code of actor type '%s' is not in the sources "
                     "store: %s",
                     it->key, stage_strerror(rc));
    }
    out_spawn_now(nn, it);
    return false;
}

static void out_spawn_now(stage__netnode_t *nn, stage__netnode_item_t *it) {
    uint64_t call = call_open(nn, it->where, it->f);
    if (!call) return;
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__node_spawn_encode(&p, call, it->key, it->theatre, it->args,
                                      it->len);
    if (!rc && stage_pack_validate(p.data, p.len, 1)) /* as out_msg */
        rc = STAGE_EDECODE;
    if (!rc)
        rc = stage__netnode_send_frame(nn, it->where, FRAME_SPAWN, p.data,
                                       p.len);
    size_t frame = p.len + STAGE__FRAME_HEADER;
    stage_pack_free(&p);
    if (rc) {
        char why[160], msg[STAGE_ADDR_MAX + sizeof it->key + sizeof why + 40];
        int status = frame_failed(nn, rc, frame, why, sizeof why);
        snprintf(msg, sizeof msg, "cannot spawn '%s' on node '%s': %s", it->key,
                 it->where, why);
        call_fail(nn, call, status, msg);
    }
}

/* ---- frames from other nodes -------------------------------------------- */

/* Check that id names an actor of this node; else answer the call. */
stage__type_t *stage__netnode_local_target(stage__netnode_t *nn,
                                           const char *peer, uint64_t call,
                                           const stage_id_t *id) {
    stage__type_t *ty = NULL;
    if (stage__id_is_local(nn->node, id))
        ty = stage__type_find(nn->node, id->type);
    if (!ty) {
        char text[STAGE_ID_TEXT_MAX],
            msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 80];
        stage_id_format(id, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found on node '%s' (it "
                 "stopped, or its node restarted)",
                 text, nn->address);
        stage__netnode_reply_error(nn, peer, call, STAGE_EACTOR_NOT_FOUND, msg);
    }
    return ty;
}

void stage__netnode_target_id(stage__netnode_t *nn,
                              const stage__node_target_t *t, stage_id_t *to) {
    to->incarnation = t->incarnation;
    to->serial = t->serial;
    to->theatre = (uint16_t)stage__serial_theatre(t->serial);
    memcpy(to->type, t->type, t->tlen); /* < STAGE_TYPE_MAX: the codec's */
    to->type[t->tlen] = '\0';
    stage__addr_copy(to->node, nn->address);
}

/* A message to `to` that cannot be delivered as it came: answer its call
** with status (or log it, one way), saying why. */
static void msg_refused(stage__netnode_t *nn, const char *peer, uint64_t call,
                        const stage_id_t *to, int status, const char *why) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 300];
    stage_id_format(to, id, sizeof id);
    snprintf(msg, sizeof msg, "a message to actor '%s' %s; not delivered", id,
             why);
    stage__netnode_reply_error(nn, peer, call, status, msg);
}

/* MSG [call, incarnation, serial, type, method, args], or with stop
** STOP [call, incarnation, serial, type]: the order to stop. Once the call
** and the target are read, a message that is bad or too large is answered
** (MalformedData, TooLarge) rather than only dropped: its sender would
** otherwise wait for its deadline. */
static int in_msg(stage__netnode_t *nn, const char *peer, const char *body,
                  size_t len, bool stop) {
    stage__node_msg_t m;
    stage_id_t to;
    int rc = stage__node_msg_decode(&m, body, len, stop);
    if (m.answerable) stage__netnode_target_id(nn, &m.to, &to);
    if (rc) {
        if (m.answerable)
            msg_refused(nn, peer, m.call, &to, STAGE_EDECODE,
                        "is malformed (its method, or its arguments: not one "
                        "msgpack array nested at most 64 deep)");
        return STAGE_EDECODE;
    }
    /* for an actor of an earlier run of this node (killed, restarted at
    ** its address; `to` has this node's address): lost with that run, or
    ** living on where its takeover put it, which the migrations store
    ** says. A sender that knows that run died asks the store itself; one
    ** that joined since does not, and the message goes back to it
    ** (BOUNCE) to be sent on from there, its call with it */
    if (to.incarnation != stage__node_incarnation(nn->node)) {
        stage__netnode_bounce(nn, peer, stop ? FRAME_STOP : FRAME_MSG, body,
                              len);
        return 0;
    }
    uint64_t call = m.call;
    const char *method = m.method, *args = m.args;
    size_t mlen = m.mlen, alen = m.alen;
    if (alen > nn->max_message) { /* its sender's limit is larger */
        char why[STAGE_ADDR_MAX + 160];
        snprintf(why, sizeof why,
                 "is too large: its arguments are %zu bytes, over the limit "
                 "of %zu bytes of node '%s' (--max-message)",
                 alen, nn->max_message, nn->address);
        msg_refused(nn, peer, call, &to, STAGE_ETOOBIG, why);
        return 0;
    }
    stage__type_t *ty = stage__netnode_local_target(nn, peer, call, &to);
    if (!ty) return 0;
    stage__env_t *e = stage__env_new(method, mlen, args, alen);
    if (e && stop) e->hdr.kind = ENV_STOP_ACTOR;
    if (e && call &&
        !(e->future = stage__netnode_owed(nn, peer, call, to.serial)))
        stage__env_free(e), e = NULL;
    if (e && e->future) /* its reply is an actor's: checked as one */
        ((stage__owed_t *)e->future->on_done_arg)->type = ty;
    if (!e) {
        char text[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 320];
        stage_id_format(&to, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "out of memory: message '%.*s' to actor '%s' not delivered",
                 (int)mlen, method, text);
        stage__netnode_reply_error(nn, peer, call, STAGE_ENOMEM, msg);
        return 0;
    }
    e->target = to.serial;
    e->target_type = ty;
    e->hdr.flags |= ENV_REMOTE;
    stage__route(nn->node, e);
    return 0;
}

static int in_spawn_as(stage__netnode_t *nn, const char *peer, const char *body,
                       size_t len, bool fetched);

/* A SPAWN frame held while the code of its type is fetched. */
typedef struct held_spawn {
    uint64_t call;
    char peer[STAGE_ADDR_MAX];
    size_t len;
    char body[];
} held_spawn_t;

/* The code a held SPAWN waited for is here, or not (sources.c). */
static void spawn_fetched(stage__netnode_t *nn, void *arg, int status,
                          const char *why) {
    held_spawn_t *h = arg;
    if (status)
        stage__netnode_reply_error(nn, h->peer, h->call, status, why);
    else
        in_spawn_as(nn, h->peer, h->body, h->len, true);
    stage__free(h);
}

/* Hold the SPAWN frame body for type name, which this node lacks, until
** its code is fetched: 0, or an error (not held). */
static int spawn_hold(stage__netnode_t *nn, const char *peer, uint64_t call,
                      const char *name, const char *body, size_t len) {
    held_spawn_t *h = stage__malloc(sizeof *h + len);
    if (!h) return STAGE_ENOMEM;
    h->call = call;
    stage__addr_copy(h->peer, peer);
    h->len = len;
    memcpy(h->body, body, len);
    int rc = stage__sources_need(nn, name, spawn_fetched, h);
    if (rc) stage__free(h);
    return rc;
}

static int in_spawn(stage__netnode_t *nn, const char *peer, const char *body,
                    size_t len) {
    return in_spawn_as(nn, peer, body, len, false);
}

/* A SPAWN frame; fetched: the code of its type was fetched for it. */
static int in_spawn_as(stage__netnode_t *nn, const char *peer, const char *body,
                       size_t len, bool fetched) {
    stage__node_spawn_t sp;
    if (stage__node_spawn_decode(&sp, body, len)) return STAGE_EDECODE;
    uint64_t call = sp.call;
    const char *args = sp.args;
    size_t alen = sp.alen;
    int theatre = sp.theatre;
    char name[STAGE_TYPE_MAX];
    memcpy(name, sp.type, sp.tlen);
    name[sp.tlen] = 0;
    stage__type_t *ty = stage__type_find(nn->node, name);
    int nt = stage_node_theatres(nn->node);
    char msg[STAGE_TYPE_MAX + STAGE_ADDR_MAX + 200];
    if (alen > nn->max_message) { /* its sender's limit is larger */
        snprintf(msg, sizeof msg,
                 "cannot spawn '%s' on node '%s': its arguments are %zu "
                 "bytes, over the limit of %zu bytes (--max-message)",
                 name, nn->address, alen, nn->max_message);
        stage__netnode_reply_error(nn, peer, call, STAGE_ETOOBIG, msg);
        return 0;
    }
    /* a type it lacks: its code from the sources store, once */
    int held = ty || fetched ? -1 : spawn_hold(nn, peer, call, name, body, len);
    if (!held) return 0;
    if (!ty) {
        snprintf(msg, sizeof msg,
                 fetched ? "node '%s' has no actor type '%s': the code the "
                           "sources store has under that name does not "
                           "define it"
                         : "node '%s' has no actor type '%s'",
                 nn->address, name);
        stage__netnode_reply_error(nn, peer, call, STAGE_ETYPE_NOT_FOUND, msg);
        return 0;
    }
    /* the reply's future first: an actor nobody hears of would be lost */
    stage__future_t *f = stage__netnode_owed(nn, peer, call, 0);
    if (!f) {
        snprintf(msg, sizeof msg, "cannot spawn '%s': out of memory", name);
        stage__netnode_reply_error(nn, peer, call, STAGE_ENOMEM, msg);
        return 0;
    }
    if (theatre >= nt) theatre = -1;
    uint64_t serial;
    int rc = stage__spawn(
        nn->node, ty, theatre < 0 ? (int)(call % (uint64_t)nt) : (int)theatre,
        args, alen, &serial);
    if (rc) {
        snprintf(msg, sizeof msg, "cannot spawn '%s': %s", name,
                 stage_strerror(rc));
        stage__future_reject(f, rc, msg, NULL, NULL); /* reply_done sends */
    } else {
        stage_id_t id;
        char buf[STAGE_ID_TEXT_MAX + 64]; /* an id's msgpack: no allocation */
        stage_pack_t p = {buf, 0, sizeof buf, 0};
        stage__make_id(nn->node, serial, ty, &id);
        stage_pack_id(&p, &id);
        stage__future_resolve(f, p.data, p.len);
    }
    stage__future_unref(f);
    return 0;
}

static int in_reply(stage__netnode_t *nn, const char *peer, const char *body,
                    size_t len) {
    stage__node_reply_t r;
    if (stage__node_reply_decode(&r, body, len)) return STAGE_EDECODE;
    stage__netcall_t *c =
        (stage__netcall_t *)stage__calls_reply(&nn->calls, r.call, peer);
    if (!c) return 0; /* late, or not theirs */
    if (c->cb && r.status == 0) {
        c->cb(nn, c->arg, 0, r.value, r.vlen);
        stage__free(c);
        return 0;
    }
    if (r.status == 0) {
        stage__future_resolve(c->f, r.value, r.vlen);
    } else {
        stage__node_failure_t e;
        char mbuf[1024], abuf[STAGE_ID_TEXT_MAX], tbuf[2048];
        stage__node_failure_decode(&e, r.value, r.vlen);
        snprintf(mbuf, sizeof mbuf, "%.*s", (int)e.mlen,
                 e.message ? e.message : "");
        if (e.actor) snprintf(abuf, sizeof abuf, "%.*s", (int)e.alen, e.actor);
        if (e.traceback)
            snprintf(tbuf, sizeof tbuf, "%.*s", (int)e.tlen, e.traceback);
        if (c->cb) {
            c->cb(nn, c->arg, r.status, mbuf, strlen(mbuf));
            stage__free(c);
            return 0;
        }
        stage__future_reject(c->f, r.status, mbuf, e.actor ? abuf : NULL,
                             e.traceback ? tbuf : NULL);
    }
    stage__future_unref(c->f);
    stage__free(c);
    return 0;
}

static bool given_back(stage__netnode_t *nn, const char *peer, int kind,
                       const char *body, size_t len, int status,
                       const char *why);

static void on_frame(void *ud, const char *peer, int kind, const char *body,
                     size_t len) {
    stage__netnode_t *nn = ud;
    int rc;
    nn->activity++;
    switch (kind) {
    case FRAME_MSG:
    case FRAME_STOP:
        if (nn->drain && stage__drain_bounce(nn, peer, kind, body, len)) {
            rc = 0;
            break;
        }
        rc = in_msg(nn, peer, body, len, kind == FRAME_STOP);
        break;
    case FRAME_BOUNCE: {
        int k;
        const char *fb;
        size_t fl;
        rc = stage__node_bounce_decode(body, len, &k, &fb, &fl);
        if (!rc && !given_back(nn, peer, k, fb, fl, 0, NULL))
            LOG_WARN("a message node '%s' sent back (it drains) matches "
                     "nothing sent to it: dropped",
                     peer);
        break;
    }
    case FRAME_REPLY:
        rc = in_reply(nn, peer, body, len);
        break;
    case FRAME_SPAWN:
        rc = in_spawn(nn, peer, body, len);
        break;
    case FRAME_FIND:
        rc = stage__lookup_in_find(nn, peer, body, len);
        break;
    case FRAME_PICK:
        rc = stage__lookup_in_pick(nn, peer, body, len);
        break;
    case FRAME_NAME:
        rc = stage__holdings_in_name(nn, peer, body, len);
        break;
    case FRAME_DHT:
        rc = stage__lookup_in_dht(nn, peer, body, len);
        break;
    case FRAME_MONITOR:
    case FRAME_DEMONITOR:
        rc = stage__netmon_in_watch(nn, peer, body, len, kind == FRAME_MONITOR);
        break;
    case FRAME_DOWN:
        rc = stage__netmon_in_down(nn, peer, body, len);
        break;
    case FRAME_NODE_DOWN:
        rc = stage__deaths_in_frame(nn, peer, body, len);
        break;
    case FRAME_MOVE:
        rc = stage__netmove_in(nn, peer, body, len);
        break;
    case FRAME_UPDATE:
        rc = stage__sources_in_update(nn, peer, body, len);
        break;
    default:
        rc = STAGE_EPROTO;
    }
    if (rc)
        LOG_WARN("dropped a frame of kind %d from '%s': %s", kind, peer,
                 stage_strerror(rc));
}

/* What the frames a session gave back (or the overflow list held) were. */
typedef struct lost {
    size_t oneway, replies;
} lost_t;

/* A MSG or STOP frame given back by the session with peer, which left
** (status 0) or was never reached (STAGE_EUNREACHABLE: why), so it was
** not delivered: it goes where its actor went (relocate.c), its call (if
** any) with it; an actor the store has no later place for fails as it
** would have. True if taken so. */
static bool given_back(stage__netnode_t *nn, const char *peer, int kind,
                       const char *body, size_t len, int status,
                       const char *why) {
    stage__node_msg_t m;
    if ((kind != FRAME_MSG && kind != FRAME_STOP) ||
        stage__node_msg_decode(&m, body, len, kind == FRAME_STOP))
        return false;
    stage_id_t to;
    stage__netnode_target_id(nn, &m.to, &to);
    stage__addr_copy(to.node, peer);
    /* a node never reached whose run this node has heard of since (dead,
    ** or gone): what it sent later to that run went where its actors went
    ** at once, and this frame, older, must not arrive after it: it fails
    ** with the session, as a frame for a node that is down does */
    const char *dead;
    if (status == STAGE_EUNREACHABLE &&
        (stage__transport_is_dead(nn->tr, to.node, to.incarnation, &dead) ||
         stage__transport_has_left(nn->tr, to.node, to.incarnation)))
        return false;
    stage__future_t *f = NULL;
    if (m.call) {
        stage__netcall_t *c =
            (stage__netcall_t *)stage__calls_take(&nn->calls, m.call);
        if (!c) return false; /* it ended already */
        if (c->cb) {          /* not a message's: fails as the session ends */
            stage__calls_open(&nn->calls, &c->call, m.call, peer,
                              uv_now(&nn->loop));
            return false;
        }
        f = c->f;
        stage__free(c);
    }
    if (stage__relocate_frame_down(nn, &to, kind, body, len, f, status, why))
        return true;
    if (f) {
        stage__future_reject(f, status ? status : STAGE_ENODE_DOWN,
                             status ? why
                                    : "its node left, and this node has no "
                                      "memory to send it where the actor went",
                             NULL, NULL);
        stage__future_unref(f);
    }
    return true;
}

bool stage__netnode_given_back(stage__netnode_t *nn, const char *peer, int kind,
                               const char *body, size_t len) {
    return given_back(nn, peer, kind, body, len, 0, NULL);
}

static void lost_count(lost_t *l, int kind, const char *body, size_t len) {
    uint64_t call;
    if (kind == FRAME_REPLY) {
        l->replies++;
    } else if (kind == FRAME_MSG && !stage__node_msg_call(body, len, &call) &&
               call == 0) {
        l->oneway++; /* a call's failure reaches its future instead */
    }
}

/* A session with peer's incarnation began (a restarted node's too: the
** DHT manager forgets its earlier run's manager at once, lookup.c). */
static void on_peer_up(void *ud, const char *peer, uint32_t incarnation) {
    stage__netnode_t *nn = ud;
    stage__lookup_peer_up(nn, peer, incarnation);
    stage__netnode_node_up(nn, peer, incarnation);
}

/* Drop the frames held for peer (the session they were for ended; left:
** it said goodbye, or was never reached (status, why), and the messages
** among them follow their actors). */
static void held_drop(stage__netnode_t *nn, const char *peer, lost_t *l,
                      bool left, int status, const char *why) {
    stage__held_t **pp = &nn->held_head;
    nn->held_tail = NULL;
    while (*pp) {
        stage__held_t *h = *pp;
        if (strcmp(h->peer, peer)) {
            nn->held_tail = h;
            pp = &h->next;
            continue;
        }
        if (!left ||
            !given_back(nn, peer, h->kind, h->body, h->len, status, why))
            lost_count(l, h->kind, h->body, h->len);
        *pp = h->next;
        stage__free(h);
    }
}

/* The session with peer's incarnation ended (or peer was never reached):
** every call waiting on it fails with NodeDown (NodeUnreachable if it was
** never reached), naming the node and why, and one line says so, with the
** one-way messages and replies that may not have arrived. */
static void on_peer_down(void *ud, const char *peer, uint32_t incarnation,
                         int reason, const char *why, size_t dropped,
                         stage__session_iter_t *lost) {
    stage__netnode_t *nn = ud;
    lost_t l = {0, 0};
    int kind;
    const char *body;
    size_t len;
    (void)dropped;
    /* frames for a node that left, or that this node never reached (it
    ** may have left before: a node that joined after a drain knows
    ** nothing of it), follow their actors where the store says */
    bool never = reason == STAGE_EUNREACHABLE && !incarnation;
    bool left = (reason == STAGE_ECANCELED || never) && nn->relocate;
    int status = never ? STAGE_EUNREACHABLE : 0;
    while (stage__session_iter_next(lost, &kind, &body, &len))
        if (!left || !given_back(nn, peer, kind, body, len, status, why))
            lost_count(&l, kind, body, len);
    held_drop(nn, peer, &l, left, status, why);
    stage__lookup_forget_node(nn, peer); /* its actors may be gone */
    if (reason != STAGE_ESTOPPED) stage__lookup_peer_gone(nn, peer);
    stage__sources_peer_gone(nn); /* the code it stored may go with it */
    bool unreachable = reason == STAGE_EUNREACHABLE;
    const char *what = unreachable                 ? "is unreachable"
                       : reason == STAGE_ECANCELED ? "stopped"
                       : reason == STAGE_ESTOPPED  ? "restarted"
                                                   : "is down";
    size_t calls = stage__calls_session_ended(&nn->calls, peer, reason, why);
    char counts[160] = "";
    int k = 0;
    if (calls)
        k += snprintf(counts + k, sizeof counts - (size_t)k,
                      "; %zu call%s failed", calls, calls == 1 ? "" : "s");
    if (l.oneway)
        k += snprintf(counts + k, sizeof counts - (size_t)k,
                      "; %zu one-way message%s to it may not have arrived",
                      l.oneway, l.oneway == 1 ? "" : "s");
    if (l.replies)
        snprintf(counts + k, sizeof counts - (size_t)k,
                 "; %zu repl%s to it may not have arrived", l.replies,
                 l.replies == 1 ? "y" : "ies");
    /* a node declared dead is news; one that left or restarted is only
    ** when something was lost with it; so is an address whose node was
    ** declared dead before, still not answering (the DHT tries it now and
    ** then: stage__peer_known_gone) */
    bool quiet =
        (reason == STAGE_ECANCELED || reason == STAGE_ESTOPPED) && !counts[0];
    if (incarnation)
        STAGE_LOG(quiet ? STAGE_LOG_INFO : STAGE_LOG_WARN,
                  "node '%s' (incarnation %x) %s: %s%s", peer, incarnation,
                  what, why, counts);
    else
        STAGE_LOG(!counts[0] && stage__transport_known_gone(nn->tr, peer)
                      ? STAGE_LOG_DEBUG
                      : STAGE_LOG_WARN,
                  "node '%s' %s: %s%s", peer, what, why, counts);
    /* the whole system hears of a death (not of a goodbye: a node that
    ** leaves withdraws its own entries) */
    if (incarnation && reason != STAGE_ECANCELED)
        stage__deaths_declare(nn, peer, incarnation, 0, why, NULL);
    /* its monitors and node watches (a session existed: it was up) */
    if (incarnation) stage__netnode_node_down(nn, peer, incarnation, reason);
    /* moves waiting for it (core/move.c); a node never reached had no
    ** session to end (nor guests of ours, nor was it home to any here) */
    stage__move_node_down(nn->node, peer, !never);
}

/* Another node declared this one dead (its incarnation is refused there
** from now on): stop, with status 1. */
static void on_declared_dead(void *ud, const char *peer, const char *why) {
    stage__netnode_t *nn = ud;
    LOG_ERROR("this node (incarnation %x) was declared dead by '%s' (%s): "
              "stopping",
              stage__node_incarnation(nn->node), peer, why);
    stage_node_stop(nn->node, 1);
}

/* ---- the loop ----------------------------------------------------------- */

static void on_stop_timer(uv_timer_t *t) {
    stage__netnode_t *nn = t->data;
    nn->loop_done = true;
    uv_stop(t->loop);
}

/* Leave (names and types first, then the ring: stage__holdings_leave), give
** the goodbye frames a moment to go out, stop. */
static void stop_soon(stage__netnode_t *nn) {
    stage__holdings_leave(nn);
}

void stage__netnode_left(stage__netnode_t *nn) {
    stage__transport_goodbye(nn->tr);
    uv_timer_init(&nn->loop, &nn->stop_timer);
    nn->stop_timer.data = nn;
    uv_timer_start(&nn->stop_timer, on_stop_timer, 100, 0);
}

static void take(stage__netnode_t *nn, stage__netnode_item_t *it) {
    switch (it->kind) {
    case ITEM_MSG:
        out_msg(nn, &it->to, it->e);
        break;
    case ITEM_REPLY:
        send_reply(nn, it->f);
        break;
    case ITEM_SPAWN:
        if (out_spawn(nn, it)) return; /* kept until its code is stored */
        break;
    case ITEM_DIR:
        stage__lookup_request(nn, it);
        return; /* keeps it */
    case ITEM_ANNOUNCE:
        stage__holdings_announce(nn, it);
        stage__sources_announce(nn, stage__type_find(nn->node, it->key));
        break;
    case ITEM_CODE:
        stage__sources_loaded(nn, it);
        break;
    case ITEM_UPDATE: {
        upd_item_t *u = (upd_item_t *)it->args;
        stage__sources_update(nn, it->key, u->methods, u->len, u->done, u->arg);
        break;
    }
    case ITEM_GONE:
        stage__holdings_release(nn, it->to.serial);
        stage__relocate_forget(nn, it->to.serial);
        break;
    case ITEM_STOP:
        stop_soon(nn);
        break;
    case ITEM_MONITOR:
    case ITEM_DOWN:
        stage__netmon_out(nn, it);
        break;
    case ITEM_MOVE:
        stage__netmove_out(nn, it);
        break;
    case ITEM_REHOMED:
        stage__relocate_item(nn, it);
        break;
    case ITEM_DRAIN:
        stage__drain_item(nn, it);
        break;
    }
    stage__free(it->args);
    stage__free(it);
}

static void on_async(uv_async_t *a) {
    stage__netnode_t *nn = a->data;
    stage__mpsc_node_t *n;
    while ((n = stage__mpsc_pop(&nn->inbox))) {
        nn->activity++;
        take(nn, (stage__netnode_item_t *)n);
    }
}

static void on_signal(uv_signal_t *s, int signum) {
    stage__netnode_t *nn = s->data;
    if (signum == SIGTERM && !atomic_load(&nn->closing) &&
        stage__drain_start(nn))
        return;
    LOG_INFO("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stage_node_stop(nn->node, 0);
}

/* After each wake-up the loop lingers LINGER_SECS, polling the sockets
** and the inbox without sleeping: a reply or the next message of a
** conversation usually comes within that, and an epoll sleep plus an
** eventfd wake-up per message cost more than the message (see theatre.c,
** which lingers the same way). */
#define LINGER_SECS 50e-6

static bool netnode_keeps_loop(stage__netnode_t *nn) {
    return !nn->loop_done && !atomic_load(&nn->handover);
}

static void netnode_main(void *arg) {
    stage__netnode_t *nn = arg;
    while (netnode_keeps_loop(nn)) {
        uv_run(&nn->loop, UV_RUN_ONCE);
        double until = stage__now() + LINGER_SECS;
        while (netnode_keeps_loop(nn) && stage__now() < until) {
            if (!stage__mpsc_empty(&nn->inbox)) {
                on_async(&nn->async);
                until = stage__now() + LINGER_SECS;
            }
            uv_run(&nn->loop, UV_RUN_NOWAIT);
        }
    }
}

/* ---- theatre 0 runs the loop ---------------------------------------------
 */

static void on_poll_timer(uv_timer_t *t) {
    (void)t; /* its firing ends the poll */
}

/* The poller of theatre 0 (stage__poller_t). */
static int netnode_poll(void *ud, double timeout) {
    stage__netnode_t *nn = ud;
    uint64_t before = nn->activity;
    on_async(&nn->async); /* the inbox first: no eventfd round needed */
    if (timeout == 0 || nn->activity != before) {
        uv_run(&nn->loop, UV_RUN_NOWAIT);
    } else {
        if (timeout > 0)
            uv_timer_start(&nn->poll_timer, on_poll_timer,
                           (uint64_t)(timeout * 1000) + 1, 0);
        uv_run(&nn->loop, UV_RUN_ONCE);
        uv_timer_stop(&nn->poll_timer);
    }
    return nn->activity != before;
}

static void netnode_wake(void *ud) {
    stage__netnode_t *nn = ud;
    uv_async_send(&nn->async);
}

/* Theatre 0 starts: take the loop over from the I/O thread. */
static void net_adopt(stage_node_t *node, stage__theatre_t *t) {
    stage__netnode_t *nn = stage__node_net(node);
    atomic_store(&nn->handover, true);
    uv_async_send(&nn->async);
    uv_thread_join(&nn->thread);
    atomic_store(&nn->owner, t);
    t->poller = (stage__poller_t){netnode_poll, netnode_wake, nn};
}

/* ---- hooks the theatres call (any thread) ------------------------------- */

static void net_send(stage_node_t *node, const stage_id_t *to,
                     stage__env_t *e) {
    stage__netnode_t *nn = stage__node_net(node);
    if (on_owner(nn) && !atomic_load(&nn->closing)) {
        out_msg(nn, to, e);
        return;
    }
    stage__netnode_item_t *it = item_new(ITEM_MSG);
    if (!it || atomic_load(&nn->closing)) {
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
    netnode_push(nn, it);
}

static void net_spawn(stage_node_t *node, const char *where, const char *type,
                      const char *args, size_t len, stage__future_t *f) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = item_new(ITEM_SPAWN);
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
    netnode_push(nn, it);
}

static void net_directory(stage_node_t *node, int op, const char *key,
                          const stage_id_t *id, stage__future_t *f) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = item_new(ITEM_DIR);
    if (!it) {
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        return;
    }
    stage__future_ref(f);
    it->op = op;
    snprintf(it->key, sizeof it->key, "%s", key);
    if (id) it->to = *id;
    it->f = f;
    netnode_push(nn, it);
}

static void net_announce(stage_node_t *node, stage__type_t *ty) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = item_new(ITEM_ANNOUNCE);
    if (!it) return; /* the type stays findable locally */
    snprintf(it->key, sizeof it->key, "%s", ty->name);
    snprintf(it->super, sizeof it->super, "%s", ty->super);
    netnode_push(nn, it);
}

static int net_update(stage_node_t *node, stage__type_t *ty,
                      const char *methods, size_t len, stage__code_done_fn done,
                      void *arg) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = item_new(ITEM_UPDATE);
    upd_item_t *u = it ? stage__malloc(sizeof *u + len) : NULL;
    if (!u) {
        stage__free(it);
        return STAGE_ENOMEM;
    }
    u->done = done;
    u->arg = arg;
    u->len = len;
    memcpy(u->methods, methods, len);
    snprintf(it->key, sizeof it->key, "%s", ty->name);
    it->args = (char *)u;
    netnode_push(nn, it);
    return 0;
}

static void net_actor_gone(stage_node_t *node, uint64_t serial) {
    stage__netnode_t *nn = stage__node_net(node);
    /* relaxed: a claim noted just now for an actor stopping just now is
    ** released with the lease at worst */
    if (!atomic_load_explicit(&nn->nclaims, memory_order_relaxed) &&
        !atomic_load_explicit(&nn->nrecorded, memory_order_relaxed))
        return;
    stage__netnode_item_t *it = item_new(ITEM_GONE);
    if (!it) return; /* the lease ends it */
    it->to.serial = serial;
    netnode_push(nn, it);
}

/* Hook monitor: a MONITOR (on) or DEMONITOR frame for actor `to`. */
static void net_monitor(stage_node_t *node, const stage_id_t *to, uint64_t mon,
                        bool on) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = item_new(ITEM_MONITOR);
    if (!it || atomic_load(&nn->closing)) { /* this node stops */
        stage__free(it);
        return;
    }
    it->to = *to;
    it->mon = mon;
    it->op = on;
    netnode_push(nn, it);
}

/* Hook down: a DOWN frame to node `to` for its monitor mon. */
static void net_down(stage_node_t *node, const char *to, uint64_t mon,
                     uint64_t serial, int reason, const char *message) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = item_new(ITEM_DOWN);
    size_t len = strlen(message);
    char *copy = it ? stage__malloc(len + 1) : NULL;
    if (!copy || atomic_load(&nn->closing)) {
        if (!copy)
            LOG_ERROR("out of memory: the DOWN of monitor %llx of node '%s' "
                      "is lost",
                      (unsigned long long)mon, to);
        stage__free(it);
        stage__free(copy);
        return;
    }
    memcpy(copy, message, len + 1);
    stage__addr_copy(it->where, to);
    it->to.serial = serial;
    it->mon = mon;
    it->op = reason;
    it->args = copy;
    it->len = len;
    netnode_push(nn, it);
}

static size_t net_takes(stage_node_t *node, const char *to) {
    stage__netnode_t *nn = stage__node_net(node);
    return stage__transport_takes(nn->tr, to);
}

static int net_stats(stage_node_t *node, stage_net_stats_t *out) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__net_stats_t s;
    stage__transport_stats(nn->tr, &s);
    *out = (stage_net_stats_t){s.bytes_in, s.bytes_out, s.frames_in,
                               s.frames_out, s.writes};
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void net_close(stage_node_t *node) {
    stage__netnode_t *nn = stage__node_net(node);
    if (!nn) return;
    atomic_store(&nn->closing, true);
    if (atomic_load(&nn->owner)) { /* theatre 0 ran it and has stopped */
        on_async(&nn->async);
        stop_soon(nn);
        while (!nn->loop_done)
            uv_run(&nn->loop, UV_RUN_ONCE);
    } else {
        stage__netnode_item_t *stop = item_new(ITEM_STOP);
        if (stop) netnode_push(nn, stop);
        uv_thread_join(&nn->thread);
    }
    on_async(&nn->async); /* what came in meanwhile */
    stage__calls_stop(&nn->calls);
    stage__drain_close(nn);
    stage__lookup_close(nn);
    stage__netmon_close(nn);
    stage__deaths_close(nn);
    for (stage__held_t *h; (h = nn->held_head);) {
        nn->held_head = h->next;
        stage__free(h);
    }
    stage__transport_destroy(&nn->tr);
    uv_walk(&nn->loop, close_walk, NULL);
    uv_run(&nn->loop, UV_RUN_DEFAULT);
    uv_loop_close(&nn->loop);
    stage_dht_destroy(&nn->dht);
    stage__free(nn->fxc); /* lookup.c's copies of the manager's effects */
    stage__free(nn->fx_arena);
    stage__calls_close(&nn->calls);
    stage_pack_free(&nn->reply_buf);
    /* replies still owed (messages the theatres drop at teardown) find no
    ** network from now on (see reply_done) */
    stage__net_hooks_t none = {0};
    stage__node_set_net_hooks(node, &none, NULL);
    stage__free(nn);
}

/* ---- start -------------------------------------------------------------- */

void stage_net_config_init(stage_net_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->replicas = 3;
    cfg->call_timeout = 60;
    cfg->lease_secs = 30;
    cfg->period_secs = 1;
    cfg->join_timeout = 30;
    cfg->node_timeout = 10;
    cfg->drain_timeout = 30;
}

const char *stage_node_address(const stage_node_t *node) {
    return stage__node_address(node);
}

int stage_node_joined(const stage_node_t *node) {
    stage__netnode_t *nn = stage__node_net((stage_node_t *)node);
    return nn && atomic_load(&nn->joined);
}

uint64_t stage_node_manager_id(const stage_node_t *node) {
    stage__netnode_t *nn = stage__node_net((stage_node_t *)node);
    return nn ? nn->manager : 0;
}

/* Say in err why listening at addr failed (rc from the transport), in the
** system's words, and what to do where that is clear. */
static void listen_failed(stage__netnode_t *nn, const char *addr, int rc,
                          char *err, size_t errlen) {
    int uv = nn->tr ? stage__transport_listen_error(nn->tr) : 0;
    const char *hint =
        uv == UV_EADDRINUSE ? " (another process listens there: give another "
                              "port, or port 0 for any free one)"
        : uv == UV_EADDRNOTAVAIL ? " (it is not an address of this host)"
        : uv == UV_EACCES        ? " (ports below 1024 need privileges)"
                                 : "";
    snprintf(err, errlen, "cannot listen at '%s': %s%s", addr,
             uv ? uv_strerror(uv) : stage_strerror(rc), hint);
}

static int start_transport(stage__netnode_t *nn, const stage_net_config_t *cfg,
                           char *err, size_t errlen) {
    stage__transport_config_t tc;
    stage__transport_config_init(&tc);
    tc.incarnation = stage__node_incarnation(nn->node);
    tc.manager = nn->manager;
    /* frames never shrink below the default: DHT messages need it */
    if (nn->max_message + ENVELOPE_ROOM > tc.max_frame) {
        tc.max_frame = nn->max_message + ENVELOPE_ROOM;
        tc.max_outbound = 4 * tc.max_frame;
    }
    nn->max_frame = tc.max_frame;
    if (cfg->node_timeout > 0) { /* else the default, 10 s */
        tc.dead_after_ms = (uint64_t)(cfg->node_timeout * 1000);
        if (tc.dead_after_ms < 10) tc.dead_after_ms = 10;
    }
    /* five heartbeats at least within the timeout: a short one still
    ** hears a live node */
    if (tc.heartbeat_ms > tc.dead_after_ms / 5)
        tc.heartbeat_ms = tc.dead_after_ms / 5 ? tc.dead_after_ms / 5 : 1;
    if (cfg->cluster_key) { /* secure.h: the first key dials */
        memcpy(tc.keys.key[tc.keys.n++], cfg->cluster_key,
               STAGE__CLUSTER_KEY_BYTES);
        if (cfg->cluster_key_also)
            memcpy(tc.keys.key[tc.keys.n++], cfg->cluster_key_also,
                   STAGE__CLUSTER_KEY_BYTES);
    }
    stage__transport_cbs_t cbs = {.ud = nn,
                                  .on_frame = on_frame,
                                  .on_peer_down = on_peer_down,
                                  .on_peer_up = on_peer_up,
                                  .on_drain = on_drain,
                                  .on_declared_dead = on_declared_dead};
    int rc = stage__transport_new(&nn->loop, &tc, &cbs, &nn->tr);
    stage__secure_keys_wipe(&tc.keys); /* the transport has its copy */
    if (!rc)
        rc = stage__transport_listen(nn->tr, cfg->listen, nn->address,
                                     sizeof nn->address);
    if (rc) listen_failed(nn, cfg->listen, rc, err, errlen);
    return rc ? rc : stage__node_set_address(nn->node, nn->address);
}

static void start_handles(stage__netnode_t *nn, bool signals) {
    uv_async_init(&nn->loop, &nn->async, on_async);
    nn->async.data = nn;
    uv_timer_init(&nn->loop, &nn->sweep);
    nn->sweep.data = nn;
    uv_timer_start(&nn->sweep, on_sweep, 500, 500);
    uv_unref((uv_handle_t *)&nn->sweep);
    uv_timer_init(&nn->loop, &nn->calls_timer);
    nn->calls_timer.data = nn;
    uv_unref((uv_handle_t *)&nn->calls_timer);
    uv_timer_init(&nn->loop, &nn->poll_timer);
    if (signals) {
        uv_signal_init(&nn->loop, &nn->sigterm);
        uv_signal_init(&nn->loop, &nn->sigint);
        nn->sigterm.data = nn->sigint.data = nn;
        uv_signal_start(&nn->sigterm, on_signal, SIGTERM);
        uv_signal_start(&nn->sigint, on_signal, SIGINT);
    }
}

int stage_node_network(stage_node_t *node, const stage_net_config_t *cfg,
                       char *err, size_t errlen) {
    if (!cfg || !cfg->listen || stage__node_net(node)) {
        snprintf(err, errlen, "a network needs a listen address, once");
        return STAGE_EINVAL;
    }
    if (cfg->join_timeout != cfg->join_timeout) {
        snprintf(err, errlen, "the join timeout is not a number");
        return STAGE_EINVAL;
    }
    if (!cfg->cluster_key && !cfg->insecure &&
        !stage__addr_is_loopback(cfg->listen)) {
        snprintf(err, errlen,
                 "refusing to listen at '%s' without a cluster key: every "
                 "host that can reach it could join the system and run code "
                 "in it (give a cluster key, listen on loopback, or set "
                 "insecure)",
                 cfg->listen);
        return STAGE_EINVAL;
    }
    stage__netnode_t *nn = stage__calloc(1, sizeof *nn);
    if (!nn || uv_loop_init(&nn->loop)) {
        stage__free(nn);
        snprintf(err, errlen, "out of memory");
        return STAGE_ENOMEM;
    }
    nn->node = node;
    nn->drain_ms = cfg->drain_timeout < 0 ? 0
                   : cfg->drain_timeout == 0
                       ? 30000
                       : (uint64_t)(cfg->drain_timeout * 1000);
    nn->call_timeout =
        (uint64_t)((cfg->call_timeout > 0 ? cfg->call_timeout : 60) * 1000);
    nn->max_message = stage__node_config(node)->max_message;
    stage__calls_init(&nn->calls, nn->call_timeout, call_failed, nn);
    nn->calls_armed = UINT64_MAX;
    stage__mpsc_init(&nn->inbox);
    nn->manager = stage__random64();
    int rc = start_transport(nn, cfg, err, errlen);
    if (!rc) rc = stage__lookup_start(nn, cfg, err, errlen);
    if (!rc && cfg->join) stage__join_start(nn, cfg);
    if (rc) {
        if (nn->tr) stage__transport_destroy(&nn->tr);
        uv_run(&nn->loop, UV_RUN_NOWAIT);
        uv_loop_close(&nn->loop);
        stage__free(nn);
        return rc;
    }
    start_handles(nn, cfg->handle_signals);
    stage__net_hooks_t hooks = {.directory = net_directory,
                                .announce = net_announce,
                                .actor_gone = net_actor_gone,
                                .close = net_close,
                                .adopt = net_adopt,
                                .stats = net_stats,
                                .send = net_send,
                                .spawn = net_spawn,
                                .monitor = net_monitor,
                                .down = net_down,
                                .takes = net_takes,
                                .move = stage__netmove_hook,
                                .rehomed = stage__relocate_hook,
                                .led = stage__drain_led,
                                .update = net_update};
    stage__node_set_net_hooks(node, &hooks, nn);
    stage_node_hold(node); /* a listener keeps the node alive */
    if (uv_thread_create(&nn->thread, netnode_main, nn)) {
        snprintf(err, errlen, "cannot start the I/O thread");
        return STAGE_ENOMEM;
    }
    return 0;
}
