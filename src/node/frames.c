/*
** node/frames.c: the node frame codec (node/frames.h): one encoder and one
** checking decoder per kind. The decoders read hostile bytes: every length
** is bounded by the unpacker against what remains, and each field is
** checked here against what the protocol allows (docs/protocol.md).
** Pure; any thread.
*/
#include <string.h>

#include "node/frames.h"
#include "stage/errors.h"
#include "wire/mp.h"

/* ---- field readers -------------------------------------------------------
 */

/* An array header of exactly n fields. */
static int read_array(stage_unpack_t *u, uint32_t n) {
    uint32_t got;
    return stage_unpack_array(u, &got) || got != n ? STAGE_EDECODE : 0;
}

/* An integer in [min, max]. */
static int read_range(stage_unpack_t *u, int64_t min, int64_t max,
                      int64_t *out) {
    return stage_unpack_int(u, out) || *out < min || *out > max ? STAGE_EDECODE
                                                                : 0;
}

/* A call id or monitor id: >= min (0 or 1). */
static int read_id(stage_unpack_t *u, int64_t min, uint64_t *out) {
    int64_t v;
    if (read_range(u, min, INT64_MAX, &v)) return STAGE_EDECODE;
    *out = (uint64_t)v;
    return 0;
}

/* A string of min..max bytes without a NUL. */
static int read_text(stage_unpack_t *u, size_t min, size_t max, const char **s,
                     size_t *len) {
    if (stage_unpack_str(u, s, len) || *len < min || *len > max ||
        memchr(*s, 0, *len))
        return STAGE_EDECODE;
    return 0;
}

/* A status: 0 or a code down to STAGE__NODE_STATUS_MIN. */
static int read_status(stage_unpack_t *u, int *status) {
    int64_t v;
    if (read_range(u, STAGE__NODE_STATUS_MIN, 0, &v)) return STAGE_EDECODE;
    *status = stage__node_status_known((int)v);
    return 0;
}

/* The rest of the body as one msgpack array (arguments). */
static int read_args(stage_unpack_t *u, const char **args, size_t *len) {
    *args = u->p;
    if (stage_unpack_peek(u) != STAGE_T_ARRAY || stage_unpack_skip(u))
        return STAGE_EDECODE;
    *len = (size_t)(u->p - *args);
    return u->p == u->end ? 0 : STAGE_EDECODE;
}

/* Nothing after the last field. */
static int read_end(const stage_unpack_t *u) {
    return u->p == u->end && !u->err ? 0 : STAGE_EDECODE;
}

/* incarnation, serial, type: an actor of the receiver. */
static int read_target(stage_unpack_t *u, stage__node_target_t *t) {
    int64_t inc, serial;
    if (read_range(u, 0, UINT32_MAX, &inc) ||
        read_range(u, 1, INT64_MAX, &serial) ||
        read_text(u, 1, STAGE_TYPE_MAX - 1, &t->type, &t->tlen) ||
        !stage__type_name_valid_n(t->type, t->tlen))
        return STAGE_EDECODE;
    t->incarnation = (uint32_t)inc;
    t->serial = (uint64_t)serial;
    return 0;
}

static void pack_target(stage_pack_t *p, const stage_id_t *to) {
    stage_pack_int(p, to->incarnation);
    stage_pack_int(p, (int64_t)to->serial);
    stage_pack_cstr(p, to->type);
}

int stage__node_status_known(int status) {
    /* stage_strerror says "unknown error" for a code with no name */
    return status && stage_strerror(status)[0] == 'u' ? STAGE_EHANDLER : status;
}

/* ---- MSG and STOP ---------------------------------------------------------
 */

int stage__node_msg_encode(stage_pack_t *p, uint64_t call, const stage_id_t *to,
                           const char *method, size_t mlen, const char *args,
                           size_t alen) {
    stage_pack_array(p, 6);
    stage_pack_int(p, (int64_t)call);
    pack_target(p, to);
    stage_pack_str(p, method, mlen);
    if (alen)
        stage_pack_raw(p, args, alen);
    else
        stage_pack_array(p, 0);
    return stage_pack_error(p);
}

int stage__node_stop_encode(stage_pack_t *p, uint64_t call,
                            const stage_id_t *to) {
    stage_pack_array(p, 4);
    stage_pack_int(p, (int64_t)call);
    pack_target(p, to);
    return stage_pack_error(p);
}

int stage__node_msg_decode(stage__node_msg_t *m, const char *body, size_t len,
                           bool stop) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    m->answerable = false;
    m->method = "stop";
    m->mlen = 4;
    m->args = NULL;
    m->alen = 0;
    if (read_array(&u, stop ? 4 : 6) || read_id(&u, 0, &m->call) ||
        read_target(&u, &m->to))
        return STAGE_EDECODE;
    m->answerable = true;
    if (stop) return read_end(&u);
    if (read_text(&u, 1, STAGE__NODE_METHOD_MAX, &m->method, &m->mlen) ||
        read_args(&u, &m->args, &m->alen))
        return STAGE_EDECODE;
    return 0;
}

int stage__node_msg_call(const char *body, size_t len, uint64_t *call) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    return read_array(&u, 6) || read_id(&u, 0, call) ? STAGE_EDECODE : 0;
}

/* ---- REPLY ----------------------------------------------------------------
 */

int stage__node_reply_encode(stage_pack_t *p, uint64_t call, const char *value,
                             size_t vlen) {
    stage_pack_array(p, 3);
    stage_pack_int(p, (int64_t)call);
    stage_pack_int(p, 0);
    stage_pack_raw(p, value, vlen);
    return stage_pack_error(p);
}

static void pack_opt_cstr(stage_pack_t *p, const char *s) {
    if (s)
        stage_pack_cstr(p, s);
    else
        stage_pack_nil(p);
}

int stage__node_reply_fail_encode(stage_pack_t *p, uint64_t call, int status,
                                  const char *message, const char *actor,
                                  const char *traceback) {
    stage_pack_array(p, 3);
    stage_pack_int(p, (int64_t)call);
    stage_pack_int(p, status);
    stage_pack_array(p, 3);
    stage_pack_cstr(p, message ? message : stage_strerror(status));
    pack_opt_cstr(p, actor);
    pack_opt_cstr(p, traceback);
    return stage_pack_error(p);
}

int stage__node_reply_decode(stage__node_reply_t *r, const char *body,
                             size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 3) || read_id(&u, 0, &r->call) ||
        read_status(&u, &r->status))
        return STAGE_EDECODE;
    r->value = u.p;
    if (stage_unpack_skip(&u) || read_end(&u)) return STAGE_EDECODE;
    r->vlen = (size_t)(u.p - r->value);
    return 0;
}

/* The next field of a failure: a string, else absent (skipped). */
static void failure_field(stage_unpack_t *u, const char **s, size_t *len) {
    if (stage_unpack_peek(u) == STAGE_T_STR && !stage_unpack_str(u, s, len))
        return;
    *s = NULL;
    *len = 0;
    stage_unpack_skip(u);
}

void stage__node_failure_decode(stage__node_failure_t *f, const char *value,
                                size_t len) {
    stage_unpack_t u;
    *f = (stage__node_failure_t){0};
    stage_unpack_init(&u, value, len);
    if (read_array(&u, 3)) return;
    failure_field(&u, &f->message, &f->mlen);
    failure_field(&u, &f->actor, &f->alen);
    failure_field(&u, &f->traceback, &f->tlen);
}

/* ---- SPAWN ----------------------------------------------------------------
 */

int stage__node_spawn_encode(stage_pack_t *p, uint64_t call, const char *type,
                             int theatre, const char *args, size_t alen) {
    stage_pack_array(p, 4);
    stage_pack_int(p, (int64_t)call);
    stage_pack_cstr(p, type);
    stage_pack_int(p, theatre);
    if (alen)
        stage_pack_raw(p, args, alen);
    else
        stage_pack_array(p, 0);
    return stage_pack_error(p);
}

int stage__node_spawn_decode(stage__node_spawn_t *s, const char *body,
                             size_t len) {
    stage_unpack_t u;
    int64_t theatre;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 4) || read_id(&u, 1, &s->call) ||
        read_text(&u, 1, STAGE_TYPE_MAX - 1, &s->type, &s->tlen) ||
        stage_unpack_int(&u, &theatre) || read_args(&u, &s->args, &s->alen))
        return STAGE_EDECODE;
    /* negative, or past any node's theatres: the receiver picks */
    s->theatre = theatre < 0 || theatre > UINT16_MAX ? -1 : (int)theatre;
    return 0;
}

/* ---- FIND and PICK ---------------------------------------------------------
 */

int stage__node_find_encode(stage_pack_t *p, uint64_t call, const char *type,
                            bool all) {
    stage_pack_array(p, all ? 3 : 2);
    stage_pack_int(p, (int64_t)call);
    stage_pack_cstr(p, type);
    if (all) stage_pack_bool(p, true);
    return stage_pack_error(p);
}

int stage__node_find_decode(stage__node_find_t *f, const char *body, size_t len,
                            bool pick) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    f->all = false;
    if (read_array(&u, pick ? 2 : 3) || read_id(&u, 1, &f->call) ||
        read_text(&u, 1, STAGE_TYPE_MAX - 1, &f->type, &f->tlen) ||
        (!pick && stage_unpack_bool(&u, &f->all)))
        return STAGE_EDECODE;
    return read_end(&u);
}

int stage__node_pick_answer_encode(stage_pack_t *p, uint64_t n,
                                   const stage_id_t *id) {
    stage_pack_array(p, 2);
    stage_pack_int(p, (int64_t)n);
    stage_pack_id(p, id);
    return stage_pack_error(p);
}

int stage__node_pick_answer_decode(uint64_t *n, stage_id_t *id,
                                   const char *value, size_t len) {
    stage_unpack_t u;
    int64_t v;
    stage_unpack_init(&u, value, len);
    if (read_array(&u, 2) || read_range(&u, 1, INT64_MAX, &v) ||
        stage_unpack_id(&u, id))
        return STAGE_EDECODE;
    *n = (uint64_t)v;
    return read_end(&u);
}

int stage__node_ids_encode(stage_pack_t *p, uint32_t n, const char *ids,
                           size_t len) {
    stage_pack_array(p, n);
    stage_pack_raw(p, ids, len);
    return stage_pack_error(p);
}

int stage__node_ids_decode(uint32_t *n, const char **ids, size_t *ilen,
                           const char *value, size_t len) {
    stage_unpack_t u;
    stage_id_t id;
    stage_unpack_init(&u, value, len);
    if (stage_unpack_array(&u, n)) return STAGE_EDECODE;
    *ids = u.p;
    for (uint32_t i = 0; i < *n; i++)
        if (stage_unpack_id(&u, &id)) return STAGE_EDECODE;
    *ilen = (size_t)(u.p - *ids);
    return read_end(&u);
}

/* ---- NAME -----------------------------------------------------------------
 */

int stage__node_name_encode(stage_pack_t *p, uint64_t call, const char *name,
                            const stage_id_t *id) {
    stage_pack_array(p, 5);
    stage_pack_int(p, (int64_t)call);
    stage_pack_cstr(p, name);
    pack_target(p, id);
    return stage_pack_error(p);
}

int stage__node_name_decode(stage__node_name_t *n, const char *body,
                            size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 5) || read_id(&u, 1, &n->call) ||
        read_text(&u, 1, STAGE__NODE_NAME_MAX, &n->name, &n->nlen) ||
        read_target(&u, &n->id))
        return STAGE_EDECODE;
    return read_end(&u);
}

/* ---- MONITOR, DEMONITOR, DOWN ----------------------------------------------
 */

int stage__node_watch_encode(stage_pack_t *p, uint64_t mon,
                             const stage_id_t *to) {
    stage_pack_array(p, 4);
    stage_pack_int(p, (int64_t)mon);
    pack_target(p, to);
    return stage_pack_error(p);
}

int stage__node_watch_decode(stage__node_watch_t *w, const char *body,
                             size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 4) || read_id(&u, 1, &w->mon) || read_target(&u, &w->to))
        return STAGE_EDECODE;
    return read_end(&u);
}

int stage__node_down_encode(stage_pack_t *p, uint64_t mon, uint64_t serial,
                            int status, const char *message) {
    stage_pack_array(p, 4);
    stage_pack_int(p, (int64_t)mon);
    stage_pack_int(p, (int64_t)serial);
    stage_pack_int(p, status);
    stage_pack_str(p, message, strnlen(message, STAGE__NODE_DOWN_MESSAGE_MAX));
    return stage_pack_error(p);
}

int stage__node_down_decode(stage__node_down_t *d, const char *body,
                            size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 4) || read_id(&u, 1, &d->mon) ||
        read_id(&u, 1, &d->serial) || read_status(&u, &d->status) ||
        stage_unpack_str(&u, &d->message, &d->mlen))
        return STAGE_EDECODE;
    return read_end(&u);
}

/* ---- NODE_DOWN ------------------------------------------------------------
 */

int stage__node_death_encode(stage_pack_t *p, const char *addr,
                             uint32_t incarnation, uint64_t manager,
                             const char *why) {
    stage_pack_array(p, 4);
    stage_pack_cstr(p, addr);
    stage_pack_int(p, incarnation);
    stage_pack_int(p, (int64_t)manager); /* u64 as two's complement */
    stage_pack_str(p, why, strnlen(why, STAGE__NODE_WHY_MAX));
    return stage_pack_error(p);
}

int stage__node_death_decode(stage__node_death_t *d, const char *body,
                             size_t len) {
    stage_unpack_t u;
    int64_t inc, manager;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 4) ||
        read_text(&u, 1, STAGE_ADDR_MAX - 1, &d->addr, &d->alen) ||
        !stage__node_addr_valid(d->addr, d->alen) ||
        read_range(&u, 1, UINT32_MAX, &inc) || stage_unpack_int(&u, &manager) ||
        stage_unpack_str(&u, &d->why, &d->wlen) ||
        d->wlen > STAGE__NODE_WHY_MAX)
        return STAGE_EDECODE;
    d->incarnation = (uint32_t)inc;
    d->manager = (uint64_t)manager;
    return read_end(&u);
}

/* ---- MOVE ------------------------------------------------------------------
 */

/* 1 if data[0..len) begins with a msgpack array. */
static int is_array(const char *data, size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, data, len);
    return stage_unpack_peek(&u) == STAGE_T_ARRAY;
}

static void pack_move_id(stage_pack_t *p, bool has, const stage_id_t *id) {
    if (!has) {
        stage_pack_nil(p);
        return;
    }
    stage_pack_array(p, 5);
    stage_pack_cstr(p, id->node);
    stage_pack_int(p, id->incarnation);
    stage_pack_int(p, id->theatre);
    stage_pack_int(p, (int64_t)id->serial);
    stage_pack_cstr(p, id->type);
}

int stage__node_move_encode(stage_pack_t *p, const stage__node_move_t *m) {
    bool formers = m->op == 5 && m->formers; /* IMPORT */
    stage_pack_array(p, formers ? 9 : 8);
    stage_pack_int(p, m->op);
    stage_pack_int(p, (int64_t)m->n);
    stage_pack_int(p, m->inc);
    stage_pack_int(p, m->status);
    pack_move_id(p, m->has_home, &m->home);
    pack_move_id(p, m->has_at, &m->at);
    if (m->where)
        stage_pack_str(p, m->where, m->wlen);
    else
        stage_pack_nil(p);
    if (m->data)
        stage_pack_bin(p, m->data, m->dlen);
    else
        stage_pack_nil(p);
    if (formers) stage_pack_bin(p, m->formers, m->flen);
    return stage_pack_error(p);
}

/* nil (*has false) or [address, incarnation, theatre, serial, type]. */
static int read_move_id(stage_unpack_t *u, bool *has, stage_id_t *id) {
    memset(id, 0, sizeof *id);
    *has = false;
    if (stage_unpack_peek(u) == STAGE_T_NIL) return stage_unpack_nil(u);
    const char *a, *ty;
    size_t alen, tlen;
    int64_t inc, th, serial;
    if (read_array(u, 5) || read_text(u, 1, STAGE_ADDR_MAX - 1, &a, &alen) ||
        !stage__node_addr_valid(a, alen) ||
        read_range(u, 1, UINT32_MAX, &inc) || read_range(u, 0, 65535, &th) ||
        read_range(u, 1, INT64_MAX, &serial) ||
        read_text(u, 1, STAGE_TYPE_MAX - 1, &ty, &tlen) ||
        !stage__type_name_valid_n(ty, tlen))
        return STAGE_EDECODE;
    memcpy(id->node, a, alen);
    id->incarnation = (uint32_t)inc;
    id->theatre = (uint16_t)th;
    id->serial = (uint64_t)serial;
    memcpy(id->type, ty, tlen);
    *has = true;
    return 0;
}

/* nil (NULL) or a string / bin. */
static int read_opt(stage_unpack_t *u, bool bin, const char **s, size_t *len) {
    *s = NULL;
    *len = 0;
    if (stage_unpack_peek(u) == STAGE_T_NIL) return stage_unpack_nil(u);
    return bin ? stage_unpack_bin(u, s, len) : stage_unpack_str(u, s, len);
}

int stage__node_move_decode(stage__node_move_t *m, const char *body,
                            size_t len) {
    stage_unpack_t u;
    int64_t op, inc;
    uint32_t fields;
    memset(m, 0, sizeof *m);
    stage_unpack_init(&u, body, len);
    if (stage_unpack_array(&u, &fields) || fields < 8 || fields > 9 ||
        read_range(&u, 1, STAGE__NODE_MOVE_OPS, &op) ||
        (fields == 9 && op != 5) || /* formers: an IMPORT's only */
        read_id(&u, 0, &m->n) || read_range(&u, 0, UINT32_MAX, &inc) ||
        read_status(&u, &m->status) ||
        read_move_id(&u, &m->has_home, &m->home) ||
        read_move_id(&u, &m->has_at, &m->at) ||
        read_opt(&u, false, &m->where, &m->wlen) ||
        read_opt(&u, true, &m->data, &m->dlen) ||
        (fields == 9 && stage_unpack_bin(&u, &m->formers, &m->flen)) ||
        read_end(&u))
        return STAGE_EDECODE;
    if (m->formers && (stage_pack_validate(m->formers, m->flen, 1) ||
                       !is_array(m->formers, m->flen)))
        return STAGE_EDECODE;
    m->op = (int)op;
    m->inc = (uint32_t)inc;
    bool text = m->data && m->dlen <= STAGE__NODE_MOVE_WHY_MAX &&
                !memchr(m->data, 0, m->dlen);
    bool value = m->data && !stage_pack_validate(m->data, m->dlen, 1);
    switch (m->op) {
    case 1: /* REQ */
        return m->has_at && m->where && m->wlen < STAGE_ADDR_MAX &&
                       stage__node_addr_valid(m->where, m->wlen)
                   ? 0
                   : STAGE_EDECODE;
    case 2:  /* OUT */
    case 6:  /* ARRIVED */
    case 9:  /* GONE */
    case 14: /* TOMB */
        return m->has_home && m->has_at ? 0 : STAGE_EDECODE;
    case 10: /* ADOPT: data, if any, the earlier ids (an array) */
    case 12: /* NAMES: data, if any, the same record */
        return m->has_home && m->has_at &&
                       (!m->data || (value && is_array(m->data, m->dlen)))
                   ? 0
                   : STAGE_EDECODE;
    case 11: /* ADOPTED */
        return m->has_home && m->has_at && m->status <= 0 ? 0 : STAGE_EDECODE;
    case 13: /* FORGET */
        return m->has_home ? 0 : STAGE_EDECODE;
    case 3: /* IN */
    case 5: /* IMPORT */
        return m->has_home && value && is_array(m->data, m->dlen)
                   ? 0
                   : STAGE_EDECODE;
    case 4: /* REFUSED */
    case 7: /* FAILED */
        return m->has_home && m->status < 0 && text ? 0 : STAGE_EDECODE;
    default: /* 8: REPLY */
        return m->n && m->inc && (m->status ? text : value) ? 0 : STAGE_EDECODE;
    }
}

int stage__node_bounce_encode(stage_pack_t *p, int kind, const char *body,
                              size_t len) {
    stage_pack_array(p, 2);
    stage_pack_int(p, kind);
    stage_pack_bin(p, body, len);
    return stage_pack_error(p);
}

int stage__node_bounce_decode(const char *body, size_t len, int *kind,
                              const char **frame, size_t *flen) {
    stage_unpack_t u;
    int64_t k;
    stage_unpack_init(&u, body, len);
    if (read_array(&u, 2) ||
        read_range(&u, STAGE__NODE_FRAME_MSG, STAGE__NODE_FRAME_STOP, &k) ||
        (k != STAGE__NODE_FRAME_MSG && k != STAGE__NODE_FRAME_STOP) ||
        stage_unpack_bin(&u, frame, flen) || read_end(&u))
        return STAGE_EDECODE;
    *kind = (int)k;
    return 0;
}
