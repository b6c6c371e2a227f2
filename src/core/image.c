/*
** core/image.c: actor images — export an idle actor to bytes, import
** bytes as a live actor (the format, what travels and what does not:
** core/image.h). Runtime-neutral: each kind of actor encodes its own state
** (kind.h's state_export/state_import: lua/limage.c, native.c).
**
** Export: checks that need nothing run (a turn under way, the kind) ->
** departing -> checks of what departing may have changed (timers,
** monitors, queued runtime turns) -> the image. The actor is left as it
** was; commit removes it (it left), abort keeps it (arrived runs again).
** Import: the whole image is parsed and checked first (pass 1), then the
** actor is made, its state given, its messages queued (pass 2), and its
** arrived hook run.
** Theatre thread only, but for the held replies (a mutex) and the test
** move, which posts itself to the theatres.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/image.h"
#include "core/kind.h"
#include "core/monitor.h"
#include "core/node.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

#define IMAGE_FIELDS 10
#define MSG_FIELDS 5

/* ---- held replies ----------------------------------------------------------
 */

uint64_t stage__replies_hold(stage_node_t *node, stage__future_t *f) {
    pthread_mutex_lock(&node->replies_lock);
    uint64_t token = ++node->replies_next;
    if (stage__u64map_put(&node->replies, token, f))
        token = 0;
    else
        stage__future_ref(f);
    pthread_mutex_unlock(&node->replies_lock);
    return token;
}

stage__future_t *stage__replies_take(stage_node_t *node, uint64_t token) {
    pthread_mutex_lock(&node->replies_lock);
    stage__future_t *f =
        token ? stage__u64map_take(&node->replies, token) : NULL;
    pthread_mutex_unlock(&node->replies_lock);
    return f;
}

static void reply_stopped(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__future_t *f = val;
    stage__future_reject(f, STAGE_ESTOPPED,
                         "the node stopped before the actor this call "
                         "went to arrived where it moved",
                         NULL, NULL);
    stage__future_unref(f);
}

void stage__replies_free(stage_node_t *node) {
    pthread_mutex_lock(&node->replies_lock);
    stage_u64map_t m = node->replies;
    memset(&node->replies, 0, sizeof node->replies);
    pthread_mutex_unlock(&node->replies_lock);
    stage__u64map_each(&m, reply_stopped, NULL);
    stage__u64map_free(&m);
}

/* ---- errors ------------------------------------------------------------- */

static int say(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Write the message to err; return rc. */
static int say(int rc, char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static void id_text(stage_node_t *node, const stage__actor_t *a, char *buf,
                    size_t len) {
    stage_id_t id;
    stage__make_id(node, a->serial, a->type, &id);
    stage_id_format(&id, buf, len);
}

/* ---- export ------------------------------------------------------------- */

/* What keeps a from leaving now, before its departing runs: 0 or an error
** with err. */
static int check_movable(stage__theatre_t *t, stage__actor_t *a, const char *id,
                         char *err, size_t errlen) {
    const stage__type_t *ty = a->type;
    if (a->flags & (ACTOR_DEAD | ACTOR_STOPPING))
        return say(STAGE_EACTOR_NOT_FOUND, err, errlen,
                   "actor '%s' is stopping: it cannot move", id);
    if (ty->kind == STAGE_KIND_PINNED)
        return say(STAGE_EINVAL, err, errlen,
                   "actor '%s' is pinned (kind \"pinned\"): it stays in its "
                   "theatre",
                   id);
    if (ty->kind == STAGE_KIND_CREATABLE)
        return say(STAGE_EINVAL, err, errlen,
                   "actor '%s' is creatable: there is one in every theatre, "
                   "and it does not move",
                   id);
    if (ty->native && (!ty->native->encode || !ty->native->decode))
        return say(STAGE_EENCODE, err, errlen,
                   "actor '%s' cannot move: its type '%s' has no encode and "
                   "decode callbacks for its state",
                   id, ty->name);
    if (!ty->impl->state_export || !ty->impl->state_import)
        return say(STAGE_EENCODE, err, errlen,
                   "actor '%s' cannot move: its kind of actor does not", id);
    if (t->running == a || (a->flags & (ACTOR_SUSPENDED | ACTOR_READY)))
        return say(STAGE_EBUSY, err, errlen,
                   "actor '%s' is in the middle of a handler (suspended in "
                   "an await, or preempted): it can move once that handler "
                   "has finished",
                   id);
    if (a->flags & ACTOR_RESTART)
        return say(STAGE_EBUSY, err, errlen,
                   "actor '%s' is about to restart after an error: it can "
                   "move once it has",
                   id);
    return 0;
}

/* What keeps a from leaving for now: turns and sends of its own pending
** in this theatre (also after departing, which may have made some). */
static int check_pending(stage__actor_t *a, const char *id, char *err,
                         size_t errlen) {
    if (a->flags & (ACTOR_DEAD | ACTOR_STOPPING | ACTOR_RESTART))
        return say(STAGE_EBUSY, err, errlen,
                   "actor '%s' stopped or failed in departing: it does not "
                   "move",
                   id);
    for (stage__env_t *e = a->mbox_head; e; e = e->next)
        if (e->hdr.kind == ENV_CALL)
            return say(STAGE_EBUSY, err, errlen,
                       "actor '%s' has a runtime turn queued (a timer's "
                       "firing, a callback or a monitor's): it can move "
                       "once that has run",
                       id);
    if (a->deferred)
        return say(STAGE_EBUSY, err, errlen,
                   "actor '%s' has sends waiting for futures or lookups "
                   "(pipelining): it can move once they have left",
                   id);
    return 0;
}

/* What keeps a from leaving unless its departing lets go of it: its
** timers and own monitors that do not travel (a C actor's timers and
** monitors of actors, and the watches of others on it, follow it:
** core/move.c takes them along). */
static int check_bound(stage__theatre_t *t, stage__actor_t *a, const char *id,
                       char *err, size_t errlen) {
    size_t n = stage__timers_of_actor(t, a->serial); /* those that stay */
    if (n)
        return say(STAGE_EENCODE, err, errlen,
                   "actor '%s' has %zu timer%s that may still fire: timers "
                   "of Lua actors do not travel; cancel them in departing "
                   "and set them again in arrived",
                   id, n, n == 1 ? "" : "s");
    if (stage__monitors_bind(t, a->serial) & STAGE__MON_OWN)
        return say(STAGE_EENCODE, err, errlen,
                   "actor '%s' has monitors of its own: monitors do not "
                   "travel (a Lua actor's, watches of nodes, one still "
                   "looking its actor up, one of another node's actor); "
                   "cancel them in departing and set them again in arrived",
                   id);
    return 0;
}

/* The state of a as its kind writes it: nil (not born) or bin. */
static int pack_state(stage__theatre_t *t, stage__actor_t *a, stage_pack_t *p,
                      char *err, size_t errlen) {
    stage_pack_t s = STAGE_PACK_INIT;
    int rc = a->type->impl->state_export(t, a, &s, err, errlen);
    if (!rc && stage_pack_error(&s))
        rc = say(stage_pack_error(&s), err, errlen, "out of memory");
    if (!rc) {
        if (s.len == 1 && (uint8_t)s.data[0] == 0xc0)
            stage_pack_nil(p);
        else
            stage_pack_bin(p, s.data, s.len);
    }
    stage_pack_free(&s);
    return rc;
}

/* Write a's queued messages; each call's future is held under a token,
** its tokens kept in toks (as many as messages). */
static int pack_messages(stage_node_t *node, stage__actor_t *a, stage_pack_t *p,
                         uint64_t *toks, uint32_t n) {
    stage_pack_array(p, n);
    uint32_t k = 0;
    for (stage__env_t *e = a->mbox_head; e && k < n; e = e->next, k++) {
        bool stop = e->hdr.kind == ENV_STOP_ACTOR;
        stage_pack_array(p, MSG_FIELDS);
        stage_pack_str(p, stage__env_method(e), e->mlen);
        stage_pack_bin(p, stage__env_args(e), e->len);
        stage_pack_int(p, ((e->hdr.flags & ENV_SYSTEM) ? IMAGE_MSG_SYSTEM : 0) |
                              (stop ? IMAGE_MSG_STOP : 0));
        if (e->sender_type) {
            stage_id_t s;
            stage__make_id(node, e->sender, e->sender_type, &s);
            stage_pack_id(p, &s);
        } else {
            stage_pack_nil(p);
        }
        toks[k] = 0;
        if (!e->future) {
            stage_pack_nil(p);
            continue;
        }
        if (!(toks[k] = stage__replies_hold(node, e->future)))
            return STAGE_ENOMEM;
        stage_pack_array(p, 3);
        stage_pack_cstr(p, node->address);
        stage_pack_int(p, node->incarnation);
        stage_pack_int(p, (int64_t)toks[k]);
    }
    return 0;
}

/* Let go of the held replies of tokens toks[0..n). */
static void unhold(stage_node_t *node, const uint64_t *toks, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        stage__future_t *f = stage__replies_take(node, toks[i]);
        if (f) stage__future_unref(f);
    }
}

/* The image of a, departing done, to out. */
static int pack_image(stage__theatre_t *t, stage__actor_t *a, stage_pack_t *out,
                      bool msgs, char *err, size_t errlen) {
    stage_node_t *node = t->node;
    size_t base = out->len;
    uint32_t n = 0;
    for (stage__env_t *e = msgs ? a->mbox_head : NULL; e; e = e->next)
        n++;
    uint64_t *toks = stage__calloc(n ? n : 1, sizeof *toks);
    if (!toks) return say(STAGE_ENOMEM, err, errlen, "out of memory");
    stage_id_t id;
    stage__make_id(node, a->serial, a->type, &id);
    stage_pack_array(out, IMAGE_FIELDS);
    stage_pack_cstr(out, STAGE__IMAGE_MAGIC);
    stage_pack_int(out, STAGE__IMAGE_VERSION);
    stage_pack_cstr(out, a->type->name);
    stage_pack_cstr(out, a->type->native ? "c" : "lua");
    stage_pack_id(out, &id);
    stage_pack_int(out, (a->flags & ACTOR_BORN) ? IMAGE_BORN : 0);
    stage__restart_pack(node, a, out, stage__now());
    int rc = pack_state(t, a, out, err, errlen);
    if (!rc) {
        stage__names_pack(node, a->serial, out);
        if ((rc = pack_messages(node, a, out, toks, n)))
            say(rc, err, errlen, "out of memory");
    }
    if (!rc && stage_pack_error(out))
        rc = say(stage_pack_error(out), err, errlen, "out of memory");
    /* an image travels as one message does: within max_message */
    size_t size = out->len - base, max = node->cfg.max_message;
    char idt[STAGE_ID_TEXT_MAX];
    stage_id_format(&id, idt, sizeof idt);
    if (!rc && size > max)
        rc = say(STAGE_ETOOBIG, err, errlen,
                 "actor '%s' cannot move: its image (its state and %u queued "
                 "message%s) is %zu bytes, over the limit of %zu bytes "
                 "(--max-message)",
                 idt, n, n == 1 ? "" : "s", size, max);
    if (rc) {
        unhold(node, toks, n);
        out->len = base;
    }
    stage__free(toks);
    return rc;
}

/* stage__actor_export, with the queued messages in the image or not. */
static int export(stage__theatre_t *t, stage__actor_t *a, stage_pack_t *out,
                  bool msgs, char *err, size_t errlen) {
    char id[STAGE_ID_TEXT_MAX];
    id_text(t->node, a, id, sizeof id);
    int rc = check_movable(t, a, id, err, errlen);
    if (!rc) rc = check_pending(a, id, err, errlen);
    if (rc) return rc;
    const stage__kind_t *k = a->type->impl;
    if (k->departing && (rc = k->departing(t, a, err, errlen))) return rc;
    rc = check_pending(a, id, err, errlen);
    if (!rc) rc = check_bound(t, a, id, err, errlen);
    if (!rc) rc = pack_image(t, a, out, msgs, err, errlen);
    if (rc && k->arrived && !(a->flags & (ACTOR_DEAD | ACTOR_STOPPING))) {
        char why[256];
        if (k->arrived(t, a, why, sizeof why))
            LOG_WARN("actor '%s' stays: its arrived hook failed: %s", id, why);
    }
    return rc;
}

int stage__actor_export(stage__theatre_t *t, stage__actor_t *a,
                        stage_pack_t *out, char *err, size_t errlen) {
    return export(t, a, out, true, err, errlen);
}

int stage__actor_export_bare(stage__theatre_t *t, stage__actor_t *a,
                             stage_pack_t *out, char *err, size_t errlen) {
    return export(t, a, out, false, err, errlen);
}

void stage__actor_export_commit(stage__theatre_t *t, stage__actor_t *a) {
    stage__env_t *e;
    while ((e = a->mbox_head)) { /* in the image; the callers' futures are
                                 ** held under its tokens */
        a->mbox_head = e->next;
        stage__env_free(e);
    }
    a->mbox_tail = NULL;
    if (a->type->impl->depart) a->type->impl->depart(t, a);
    stage__actor_unlist(t, a);
}

/* ---- reading an image ------------------------------------------------------
 */

typedef struct img_msg {
    const char *method, *args;
    size_t mlen, alen;
    int64_t flags;
    bool has_sender, has_reply;
    stage_id_t sender;
    const char *raddr;
    size_t raddrlen;
    int64_t rinc, token;
} img_msg_t;

typedef struct image {
    char type[STAGE_TYPE_MAX];
    bool native;
    stage_id_t id;
    int64_t flags;
    bool has_restart, rsender_ok, rremote;
    const char *rargs;
    size_t rlen;
    stage_id_t rsender;
    int64_t rcount;
    uint32_t nages;
    stage_unpack_t ages; /* at the ages' first element */
    bool has_state;
    const char *state;
    size_t slen;
    uint32_t nmsgs;
    stage_unpack_t msgs; /* at the first message */
} image_t;

/* A malformed image: STAGE_EDECODE with what is wrong. */
static int bad(char *err, size_t errlen, const char *what) {
    return say(STAGE_EDECODE, err, errlen, "malformed actor image: %s", what);
}

/* A string of 1..max-1 bytes with no NUL into buf. */
static int read_name(stage_unpack_t *u, char *buf, size_t max) {
    const char *s;
    size_t n;
    if (stage_unpack_str(u, &s, &n) || n == 0 || n >= max || memchr(s, 0, n))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 0;
}

/* nil (*has = false) or an id. */
static int read_opt_id(stage_unpack_t *u, bool *has, stage_id_t *id) {
    *has = stage_unpack_peek(u) != STAGE_T_NIL;
    return *has ? stage_unpack_id(u, id) : stage_unpack_nil(u);
}

/* 1 if args[0..len) is what a message carries: nothing, or one array. */
static bool args_ok(const char *args, size_t len) {
    if (len == 0) return true;
    stage_unpack_t u;
    stage_unpack_init(&u, args, len);
    return stage_unpack_peek(&u) == STAGE_T_ARRAY &&
           !stage_pack_validate(args, len, 1);
}

static int read_reply(stage_unpack_t *u, img_msg_t *m) {
    uint32_t n;
    m->has_reply = stage_unpack_peek(u) != STAGE_T_NIL;
    if (!m->has_reply) return stage_unpack_nil(u);
    if (stage_unpack_array(u, &n) || n != 3 ||
        stage_unpack_str(u, &m->raddr, &m->raddrlen) || m->raddrlen == 0 ||
        m->raddrlen >= STAGE_ADDR_MAX || memchr(m->raddr, 0, m->raddrlen) ||
        stage_unpack_int(u, &m->rinc) || m->rinc < 0 || m->rinc > UINT32_MAX ||
        stage_unpack_int(u, &m->token) || m->token <= 0)
        return -1;
    return 0;
}

/* The next message of the image at u. */
static int read_msg(stage_unpack_t *u, img_msg_t *m, char *err, size_t errlen) {
    uint32_t n;
    if (stage_unpack_array(u, &n) || n != MSG_FIELDS)
        return bad(err, errlen, "a message is not an array of 5");
    if (stage_unpack_str(u, &m->method, &m->mlen) || m->mlen > 255 ||
        memchr(m->method, 0, m->mlen))
        return bad(err, errlen, "a message's method is not a name");
    if (stage_unpack_bin(u, &m->args, &m->alen) || !args_ok(m->args, m->alen))
        return bad(err, errlen, "a message's arguments are not an array");
    if (stage_unpack_int(u, &m->flags) || m->flags < 0 ||
        m->flags > (IMAGE_MSG_SYSTEM | IMAGE_MSG_STOP) ||
        (m->mlen == 0 && !(m->flags & IMAGE_MSG_STOP)))
        return bad(err, errlen, "a message's flags are wrong");
    if (read_opt_id(u, &m->has_sender, &m->sender))
        return bad(err, errlen, "a message's sender is not an id");
    if (read_reply(u, m))
        return bad(err, errlen,
                   "a message's reply is not [node, "
                   "incarnation, token]");
    return 0;
}

static int read_restart(stage_unpack_t *u, image_t *im, char *err,
                        size_t errlen) {
    uint32_t n;
    im->has_restart = stage_unpack_peek(u) != STAGE_T_NIL;
    if (!im->has_restart) return stage_unpack_nil(u);
    if (stage_unpack_array(u, &n) || n != 5 ||
        stage_unpack_bin(u, &im->rargs, &im->rlen) ||
        !args_ok(im->rargs, im->rlen) ||
        read_opt_id(u, &im->rsender_ok, &im->rsender) ||
        stage_unpack_bool(u, &im->rremote) ||
        stage_unpack_int(u, &im->rcount) || im->rcount < 0 ||
        im->rcount > UINT32_MAX || stage_unpack_array(u, &im->nages) ||
        im->nages > im->rcount)
        return bad(err, errlen, "its restart record is wrong");
    im->ages = *u;
    for (uint32_t i = 0; i < im->nages; i++) {
        double d;
        if (stage_unpack_double(u, &d) || !(d >= 0) || d > 1e12)
            return bad(err, errlen, "a restart's age is wrong");
    }
    return 0;
}

/* Pass 1: check the whole image at data into *im (pointers into data). */
static int read_image(const char *data, size_t len, image_t *im, char *err,
                      size_t errlen) {
    stage_unpack_t u;
    uint32_t n;
    const char *s;
    size_t slen;
    int64_t v;
    char impl[8];
    memset(im, 0, sizeof *im);
    stage_unpack_init(&u, data, len);
    if (stage_pack_validate(data, len, 1)) /* the header counts its fields */
        return bad(err, errlen, "it is not one well-formed msgpack value");
    if (stage_unpack_array(&u, &n) || n != IMAGE_FIELDS ||
        stage_unpack_str(&u, &s, &slen) ||
        slen != sizeof STAGE__IMAGE_MAGIC - 1 ||
        memcmp(s, STAGE__IMAGE_MAGIC, slen))
        return bad(err, errlen, "it does not start as an image does");
    if (stage_unpack_int(&u, &v) || v != STAGE__IMAGE_VERSION)
        return say(STAGE_EDECODE, err, errlen,
                   "actor image of an unknown version (this node reads "
                   "version %d)",
                   STAGE__IMAGE_VERSION);
    if (read_name(&u, im->type, sizeof im->type) ||
        !stage_type_name_valid(im->type))
        return bad(err, errlen, "its type is not a type name");
    if (read_name(&u, impl, sizeof impl) ||
        (strcmp(impl, "c") && strcmp(impl, "lua")))
        return bad(err, errlen, "its kind is neither \"c\" nor \"lua\"");
    im->native = !strcmp(impl, "c");
    if (stage_unpack_id(&u, &im->id) || strcmp(im->id.type, im->type))
        return bad(err, errlen, "its id is not an id of its type");
    if (stage_unpack_int(&u, &im->flags) || im->flags < 0 ||
        im->flags > IMAGE_BORN)
        return bad(err, errlen, "its flags are wrong");
    int rc = read_restart(&u, im, err, errlen);
    if (rc) return rc;
    im->has_state = stage_unpack_peek(&u) != STAGE_T_NIL;
    if (im->has_state ? stage_unpack_bin(&u, &im->state, &im->slen)
                      : stage_unpack_nil(&u))
        return bad(err, errlen, "its state is neither nil nor bytes");
    if (stage_unpack_array(&u, &n))
        return bad(err, errlen, "its names are not an array");
    for (uint32_t i = 0; i < n; i++)
        if (stage_unpack_str(&u, &s, &slen) || slen == 0 || slen > 255)
            return bad(err, errlen, "a name is not a name");
    if (stage_unpack_array(&u, &im->nmsgs))
        return bad(err, errlen, "its messages are not an array");
    im->msgs = u;
    for (uint32_t i = 0; i < im->nmsgs; i++) {
        img_msg_t m;
        if ((rc = read_msg(&u, &m, err, errlen))) return rc;
    }
    if (u.p != u.end) return bad(err, errlen, "trailing bytes");
    return 0;
}

/* 1 if the reply of m is held by this node. */
static bool reply_here(stage_node_t *node, const img_msg_t *m) {
    return m->raddrlen == strlen(node->address) &&
           !memcmp(m->raddr, node->address, m->raddrlen) &&
           (uint32_t)m->rinc == node->incarnation;
}

/* Call fn for each message of the checked image im that holds a reply on
** this node, with its future (taken; fn owns the reference). */
static void each_local_reply(stage_node_t *node, const image_t *im,
                             void (*fn)(stage__future_t *f, void *ud),
                             void *ud) {
    stage_unpack_t u = im->msgs;
    for (uint32_t i = 0; i < im->nmsgs; i++) {
        img_msg_t m;
        if (read_msg(&u, &m, NULL, 0)) return;
        if (!m.has_reply || !reply_here(node, &m)) continue;
        stage__future_t *f = stage__replies_take(node, (uint64_t)m.token);
        if (f) fn(f, ud);
    }
}

static void release_reply(stage__future_t *f, void *ud) {
    (void)ud;
    stage__future_unref(f);
}

typedef struct failure {
    int status;
    const char *why;
} failure_t;

static void fail_reply(stage__future_t *f, void *ud) {
    const failure_t *x = ud;
    stage__future_reject(f, x->status, x->why, NULL, NULL);
    stage__future_unref(f);
}

void stage__actor_export_abort(stage__theatre_t *t, stage__actor_t *a,
                               const char *data, size_t len) {
    image_t im;
    if (!read_image(data, len, &im, NULL, 0))
        each_local_reply(t->node, &im, release_reply, NULL);
    const stage__kind_t *k = a->type->impl;
    char why[256];
    if (k->arrived && k->arrived(t, a, why, sizeof why)) {
        char id[STAGE_ID_TEXT_MAX];
        id_text(t->node, a, id, sizeof id);
        LOG_WARN("actor '%s' stays: its arrived hook failed: %s", id, why);
    }
}

int stage__image_type(const char *data, size_t len, char *type, bool *lua) {
    image_t im;
    if (read_image(data, len, &im, NULL, 0)) return STAGE_EDECODE;
    memcpy(type, im.type, sizeof im.type);
    *lua = !im.native;
    return 0;
}

void stage__image_drop(stage_node_t *node, const char *data, size_t len,
                       int status, const char *why) {
    image_t im;
    failure_t x = {status, why};
    if (!read_image(data, len, &im, NULL, 0))
        each_local_reply(node, &im, fail_reply, &x);
}

/* ---- import ------------------------------------------------------------- */

/* The type of the image here, checked: 0 and *out, or an error. */
static int import_type(stage_node_t *node, const image_t *im,
                       stage__type_t **out, char *err, size_t errlen) {
    stage__type_t *ty = stage__type_find(node, im->type);
    if (!ty || (ty->native != NULL) != im->native)
        return say(STAGE_ETYPE_NOT_FOUND, err, errlen,
                   "cannot take actor '%s' in: this node has no %s type "
                   "'%s'",
                   im->type, im->native ? "C" : "Lua", im->type);
    if (ty->kind != STAGE_KIND_MOBILE || !ty->impl->state_import)
        return say(STAGE_ETYPE_NOT_FOUND, err, errlen,
                   "cannot take an actor of type '%s' in: that type is not "
                   "mobile here",
                   im->type);
    if (ty->native && (!ty->native->encode || !ty->native->decode))
        return say(STAGE_ETYPE_NOT_FOUND, err, errlen,
                   "cannot take an actor of type '%s' in: that type has no "
                   "encode and decode callbacks here",
                   im->type);
    *out = ty;
    return 0;
}

/* Check that the image's replies can be bound: held here, or a binder. */
static int check_replies(stage_node_t *node, const image_t *im,
                         const stage__import_opts_t *o, char *err,
                         size_t errlen) {
    stage_unpack_t u = im->msgs;
    for (uint32_t i = 0; i < im->nmsgs; i++) {
        img_msg_t m;
        read_msg(&u, &m, NULL, 0); /* checked by read_image */
        if (m.has_reply && !reply_here(node, &m) && !(o && o->bind_reply))
            return say(STAGE_EUNREACHABLE, err, errlen,
                       "cannot take actor of type '%s' in: a call it holds "
                       "is answered on node '%.*s', which this node cannot "
                       "reach",
                       im->type, (int)m.raddrlen, m.raddr);
    }
    return 0;
}

/* A new actor of ty on t for the image: its serial, its birth for
** restarts and its restart history. NULL on ENOMEM. */
static stage__actor_t *make_actor(stage__theatre_t *t, stage__type_t *ty,
                                  uint64_t serial, const image_t *im) {
    stage_node_t *node = t->node;
    stage__env_t *birth = NULL;
    if (im->has_restart) {
        if (!(birth = stage__env_new("birth", 5, im->rargs, im->rlen)))
            return NULL;
        birth->hdr.flags = ENV_SYSTEM | (im->rremote ? ENV_REMOTE : 0);
        if (im->rsender_ok && stage__id_is_local(node, &im->rsender) &&
            (birth->sender_type = stage__type_find(node, im->rsender.type)))
            birth->sender = im->rsender.serial;
    }
    stage__actor_t *a = stage__actor_new(t, ty, serial, birth);
    if (birth) stage__env_free(birth);
    if (!a) return NULL;
    if (im->flags & IMAGE_BORN) a->flags |= ACTOR_BORN;
    if (im->has_restart && a->restart) {
        double *ages = stage__calloc(im->nages ? im->nages : 1, sizeof *ages);
        stage_unpack_t u = im->ages;
        for (uint32_t i = 0; ages && i < im->nages; i++)
            stage_unpack_double(&u, &ages[i]);
        int rc = ages ? stage__restart_restore(a, (uint32_t)im->rcount, ages,
                                               im->nages, stage__now())
                      : STAGE_ENOMEM;
        stage__free(ages);
        if (rc) {
            stage__actor_unlist(t, a);
            return NULL;
        }
    }
    return a;
}

/* The envelope of message m for actor a, without its reply. NULL on
** ENOMEM. */
static stage__env_t *make_env(stage__theatre_t *t, stage__actor_t *a,
                              const img_msg_t *m) {
    stage_node_t *node = t->node;
    stage__env_t *e = stage__env_new(m->method, m->mlen, m->args, m->alen);
    if (!e) return NULL;
    e->hdr.kind = (m->flags & IMAGE_MSG_STOP) ? ENV_STOP_ACTOR : ENV_MSG;
    /* came in an image, maybe from the network: decoded as hostile */
    e->hdr.flags = ENV_REMOTE | ENV_UNCHECKED |
                   ((m->flags & IMAGE_MSG_SYSTEM) ? ENV_SYSTEM : 0);
    e->target = a->serial;
    e->target_theatre = (uint16_t)stage__serial_theatre(a->serial);
    e->target_type = a->type;
    if (m->has_sender && stage__id_is_local(node, &m->sender) &&
        (e->sender_type = stage__type_find(node, m->sender.type)))
        e->sender = m->sender.serial;
    return e;
}

/* Give e the future of m's caller: held here, or bound by the caller. */
static void bind_reply(stage__theatre_t *t, stage__env_t *e, const img_msg_t *m,
                       const stage__import_opts_t *o) {
    stage_node_t *node = t->node;
    if (reply_here(node, m))
        e->future = stage__replies_take(node, (uint64_t)m->token);
    else { /* the address is the image's bytes: a C string for bind */
        char addr[STAGE_ADDR_MAX];
        snprintf(addr, sizeof addr, "%.*s", (int)m->raddrlen, m->raddr);
        e->future = o->bind_reply(node, addr, (uint32_t)m->rinc,
                                  (uint64_t)m->token, o->ud);
    }
    if (!e->future)
        LOG_WARN("actor of type '%s' arrived with a call whose caller "
                 "cannot be answered (its reply was taken already, or "
                 "cannot be bound): '%.*s' is handled without a reply",
                 e->target_type->name, (int)m->mlen, m->method);
}

/* Pass 2: make the envelopes of im's messages (all, or none: ENOMEM),
** then bind their replies and queue them for a, in order. */
static int queue_messages(stage__theatre_t *t, stage__actor_t *a,
                          const image_t *im, const stage__import_opts_t *o) {
    size_t n = im->nmsgs ? im->nmsgs : 1;
    stage__env_t **es = stage__calloc(n, sizeof *es);
    img_msg_t *ms = stage__calloc(n, sizeof *ms);
    stage_unpack_t u = im->msgs;
    uint32_t i = 0;
    for (; es && ms && i < im->nmsgs; i++) {
        read_msg(&u, &ms[i], NULL, 0); /* checked by read_image */
        if (!(es[i] = make_env(t, a, &ms[i]))) break;
    }
    if (!es || !ms || i < im->nmsgs) {
        while (es && i--)
            stage__env_free(es[i]);
        stage__free(es);
        stage__free(ms);
        return STAGE_ENOMEM;
    }
    for (i = 0; i < im->nmsgs; i++) {
        if (ms[i].has_reply) bind_reply(t, es[i], &ms[i], o);
        stage__actor_enqueue(t, a, es[i]);
    }
    stage__free(es);
    stage__free(ms);
    return 0;
}

int stage__actor_import(stage__theatre_t *t, const char *data, size_t len,
                        const stage__import_opts_t *opts, stage_id_t *old_id,
                        stage_id_t *new_id, char *err, size_t errlen) {
    stage_node_t *node = t->node;
    image_t im;
    stage__type_t *ty = NULL;
    int rc = read_image(data, len, &im, err, errlen);
    if (!rc) rc = import_type(node, &im, &ty, err, errlen);
    if (!rc) rc = check_replies(node, &im, opts, err, errlen);
    if (rc) return rc;
    char idt[STAGE_ID_TEXT_MAX];
    stage_id_format(&im.id, idt, sizeof idt);
    uint64_t want = opts ? opts->serial : 0;
    bool here = want || stage__id_is_local(node, &im.id);
    if (here && stage__actor_find(t, want ? want : im.id.serial))
        return say(STAGE_EEXISTS, err, errlen,
                   "cannot take actor '%s' in: it lives in theatre %d "
                   "already",
                   idt, t->index);
    uint64_t serial = want   ? want
                      : here ? im.id.serial
                             : stage__serial_reserve(t);
    stage__actor_t *a = make_actor(t, ty, serial, &im);
    if (!a) return say(STAGE_ENOMEM, err, errlen, "out of memory");
    if (im.has_state &&
        (rc = ty->impl->state_import(t, a, im.state, im.slen, err, errlen))) {
        stage__actor_unlist(t, a);
        return rc;
    }
    if ((rc = queue_messages(t, a, &im, opts))) {
        if (ty->impl->depart) ty->impl->depart(t, a);
        stage__actor_unlist(t, a);
        return say(rc, err, errlen, "out of memory");
    }
    if (here && stage__serial_theatre(serial) == t->index)
        stage__shared_remove(node, serial); /* back where it was born */
    else if (here)
        stage__shared_set(node, serial, t->index); /* the shared info */
    if (old_id) *old_id = im.id;
    if (new_id) stage__make_id(node, serial, ty, new_id);
    if (opts && opts->adopt) opts->adopt(t, a, opts->ud);
    char why[256];
    a->flags |= ACTOR_ARRIVING; /* a move it asks waits for its messages */
    if (im.has_state && ty->impl->arrived &&
        ty->impl->arrived(t, a, why, sizeof why))
        LOG_WARN("actor '%s' arrived in theatre %d, but its arrived hook "
                 "failed: %s",
                 idt, t->index, why);
    a->flags &= ~ACTOR_ARRIVING;
    return 0;
}

/* ---- the test move (internal) ----------------------------------------------
 */

typedef struct move {
    stage_id_t id;
    int from, to;
    stage__future_t *f;
    stage_pack_t image;
    void *watches;          /* the watches on the actor, as it travels */
    stage__timer_t *timers; /* and its timers that travel */
    void *own;              /* and its own monitors that travel */
} move_t;

static void move_free(move_t *m) {
    stage__future_unref(m->f);
    stage__monitors_drop_watches(m->watches);
    stage__timers_drop(m->timers);
    stage__monitors_drop_own(m->own);
    stage_pack_free(&m->image);
    stage__free(m);
}

/* The call never ran (the node stops): the actor's image is lost. */
static void move_drop(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)t;
    (void)a;
    move_t *m = e->arg;
    stage__future_reject(m->f, STAGE_ESTOPPED,
                         "the node stopped during the move", NULL, NULL);
    if (m->image.len)
        stage__image_drop(m->f->node, m->image.data, m->image.len,
                          STAGE_ESTOPPED, "the node stopped during the move");
    move_free(m);
    stage__env_free(e);
}

/* The shared info says actor serial lives in theatre (none: its birth
** theatre). */
static void place(stage_node_t *node, uint64_t serial, int theatre) {
    if (stage__serial_theatre(serial) == theatre)
        stage__shared_remove(node, serial);
    else
        stage__shared_set(node, serial, theatre);
}

static int post(stage_node_t *node, int theatre, stage__call_fn fn, move_t *m) {
    stage__env_t *e = stage__env_call(fn, move_drop, m);
    if (!e) return STAGE_ENOMEM;
    stage__theatre_post(stage__node_theatre(node, theatre), e);
    return 0;
}

/* The watches and timers m carries, to the actor it took in at t. */
static void give_watches(stage__theatre_t *t, move_t *m) {
    stage__actor_t *a = stage__actor_find(t, m->id.serial);
    if (!a) return;
    stage__monitors_give_watches(t, a, m->watches);
    m->watches = NULL;
    stage__timers_give(t, m->timers);
    m->timers = NULL;
    stage__monitors_give_own(t, a, m->own);
    m->own = NULL;
}

/* Back in the theatre it left: the import there failed. */
static void move_back(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    move_t *m = e->arg;
    char err[512];
    if (stage__actor_import(t, m->image.data, m->image.len, NULL, NULL, NULL,
                            err, sizeof err)) {
        LOG_ERROR("actor lost in a test move: %s", err);
        stage__image_drop(t->node, m->image.data, m->image.len, STAGE_ENOMEM,
                          err);
    } else {
        give_watches(t, m);
    }
    move_free(m);
    stage__env_free(e);
}

static void move_in(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    move_t *m = e->arg;
    char err[512];
    int rc = stage__actor_import(t, m->image.data, m->image.len, NULL, NULL,
                                 NULL, err, sizeof err);
    if (rc) {
        stage__future_reject(m->f, rc, err, NULL, NULL);
        place(t->node, m->id.serial, m->from);
        e->arg = NULL;
        if (!post(t->node, m->from, move_back, m)) {
            e->drop = NULL;
            stage__env_free(e);
            return;
        }
        LOG_ERROR("actor lost in a test move: out of memory");
        stage__image_drop(t->node, m->image.data, m->image.len, STAGE_ENOMEM,
                          "out of memory");
    } else {
        give_watches(t, m);
        stage__future_resolve(m->f, "\xc3", 1); /* true */
    }
    move_free(m);
    stage__env_free(e);
}

static void move_out(stage__theatre_t *t, stage__actor_t *a, stage__env_t *e) {
    (void)a;
    move_t *m = e->arg;
    char err[512];
    stage__actor_t *x = stage__actor_find(t, m->id.serial);
    int rc = x ? stage__actor_export(t, x, &m->image, err, sizeof err)
               : STAGE_EACTOR_NOT_FOUND;
    if (!x)
        snprintf(err, sizeof err, "actor not found in theatre %d", t->index);
    if (!rc) {
        m->from = t->index;
        place(t->node, m->id.serial, m->to);
        /* taken before the post: m is the other theatre's from then on */
        m->watches = stage__monitors_take_watches(t, x->serial);
        m->timers = stage__timers_take(t, x->serial);
        m->own = stage__monitors_take_own(t, x->serial);
        if (!(rc = post(t->node, m->to, move_in, m))) {
            stage__actor_export_commit(t, x);
            stage__env_free(e);
            return;
        }
        give_watches(t, m); /* back to it: it stays */
        place(t->node, m->id.serial, t->index);
        stage__actor_export_abort(t, x, m->image.data, m->image.len);
        snprintf(err, sizeof err, "out of memory");
    }
    stage__future_reject(m->f, rc, err, NULL, NULL);
    move_free(m);
    stage__env_free(e);
}

int stage__test_move(stage_node_t *node, const stage_id_t *id, int to,
                     stage__future_t *f) {
    if (!id || !f || !stage__node_theatre(node, to) ||
        !stage__id_is_local(node, id))
        return STAGE_EINVAL;
    int at = stage__shared_lookup(node, id->serial);
    if (at < 0) at = stage__serial_theatre(id->serial);
    if (!stage__node_theatre(node, at)) return STAGE_EINVAL;
    move_t *m = stage__calloc(1, sizeof *m);
    if (!m) return STAGE_ENOMEM;
    m->id = *id;
    m->to = to;
    m->f = f;
    stage_pack_init(&m->image);
    stage__future_ref(f);
    if (post(node, at, move_out, m)) {
        move_free(m);
        return STAGE_ENOMEM;
    }
    return 0;
}
