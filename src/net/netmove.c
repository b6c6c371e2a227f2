/*
** net/netmove.c: the network's part of moves between nodes — the MOVE
** frame (node/frames.h codec) that carries core/move.c's steps, sent on the
** loop's owner in order with the messages the same theatre sent before
** (one inbox), and checked when it comes in: a malformed frame, or one
** whose ids say it does not come from the node it claims, is refused with
** a log line (on_frame's) and the node goes on. docs/migration.md
** "Between nodes", docs/protocol.md "MOVE".
*/
#include <stdio.h>
#include <string.h>

#include "core/move.h"
#include "netnode.h"
#include "util/alloc.h"
#include "util/log.h"
#include "wire/frame.h"

/* A step waiting in the inbox: the message, its strings and data. */
typedef struct mvitem {
    stage__move_msg_t q;
    char where[STAGE_ADDR_MAX];
    char data[];
} mvitem_t;

void stage__netmove_hook(stage_node_t *node, const char *to,
                         const stage__move_msg_t *q, stage__future_t *f) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = nn ? stage__calloc(1, sizeof *it) : NULL;
    mvitem_t *mv = it ? stage__malloc(sizeof *mv + q->len) : NULL;
    if (!mv || atomic_load(&nn->closing)) {
        const char *why = !nn   ? "this node has no network (it stopped)"
                          : !mv ? "out of memory"
                                : "this node is shutting down";
        if (!mv || q->op != STAGE__MOVE_REPLY)
            LOG_WARN("a move step (%d) for node '%s' is not sent: %s", q->op,
                     to, why);
        if (f)
            stage__future_reject(f, nn && !mv ? STAGE_ENOMEM : STAGE_ESTOPPED,
                                 why, NULL, NULL);
        stage__free(mv);
        stage__free(it);
        return;
    }
    mv->q = *q;
    snprintf(mv->where, sizeof mv->where, "%s", q->where ? q->where : "");
    mv->q.where = NULL;
    if (q->len) memcpy(mv->data, q->data, q->len);
    mv->q.data = NULL;
    it->kind = ITEM_MOVE;
    stage__addr_copy(it->where, to);
    it->args = (char *)mv;
    it->len = q->len;
    if (f) stage__future_ref(f);
    it->f = f;
    stage__netnode_push(nn, it);
}

/* What an ADOPT, an IMPORT and a NAMES carry for the actor beside the rest:
** [earlier ids, names], the ids it had before this home took it over from
** another node (relocate.c) and the names this home holds for it. The
** node the actor is at makes them its own: at once on an ADOPT (this home
** drains), and on an IMPORT if this home dies while the actor is there
** (node/hub.c keeps them, FX_REHOMED gives them back): its old ids still
** reach it and its names still name it. A NAMES sends them again when
** this home's names for the actor changed after its IMPORT went. Read as
** the frame is built, on the loop that notes every claim: a claim noted
** before is in. False if there is none. */
static bool carried(stage__netnode_t *nn, const stage__move_msg_t *q,
                    stage_pack_t *p) {
    stage_id_t ids[16];
    const char *names[16];
    size_t n = stage__relocate_formers(nn, &q->home, ids, 16);
    size_t k = stage__hold_names_of(&nn->holdings, q->home.serial, names, 16);
    if (!n && !k) return false;
    stage_pack_array(p, 2);
    stage_pack_array(p, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        stage_pack_id(p, &ids[i]);
    stage_pack_array(p, (uint32_t)k);
    for (size_t i = 0; i < k; i++)
        stage_pack_cstr(p, names[i]);
    return !stage_pack_error(p); /* without: the ids and names stay here */
}

void stage__netmove_out(stage__netnode_t *nn, stage__netnode_item_t *it) {
    mvitem_t *mv = (mvitem_t *)it->args;
    const stage__move_msg_t *q = &mv->q;
    uint64_t call = q->n;
    bool data = q->op == STAGE__MOVE_IN || q->op == STAGE__MOVE_IMPORT ||
                q->op == STAGE__MOVE_REFUSED || q->op == STAGE__MOVE_FAILED ||
                q->op == STAGE__MOVE_REPLY;
    if (it->f && !(call = stage__netnode_call_f(nn, it->where, it->f)))
        return; /* failed f */
    stage__node_move_t m = {.op = q->op,
                            .n = call,
                            .inc = q->inc,
                            .status = q->status,
                            .has_home = q->home.serial != 0,
                            .home = q->home,
                            .has_at = q->at.serial != 0,
                            .at = q->at,
                            .where = mv->where[0] ? mv->where : NULL,
                            .wlen = strlen(mv->where),
                            .data = data ? mv->data : NULL,
                            .dlen = it->len};
    stage_pack_t extra = STAGE_PACK_INIT;
    if (q->op == STAGE__MOVE_ADOPT && carried(nn, q, &extra)) {
        m.data = extra.data;
        m.dlen = extra.len;
    } else if (q->op == STAGE__MOVE_IMPORT && carried(nn, q, &extra)) {
        m.formers = extra.data;
        m.flen = extra.len;
    } else if (q->op == STAGE__MOVE_NAMES && carried(nn, q, &extra)) {
        m.data = extra.data; /* none: the record is empty now */
        m.dlen = extra.len;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__node_move_encode(&p, &m);
    stage_pack_free(&extra);
    if (!rc)
        rc =
            stage__netnode_send_frame(nn, it->where, FRAME_MOVE, p.data, p.len);
    size_t frame = p.len + STAGE__FRAME_HEADER;
    stage_pack_free(&p);
    if (rc == STAGE_ETOOBIG && q->op == STAGE__MOVE_IMPORT) {
        /* the destination takes no frame this large (its --max-message
        ** is smaller than this node's): as if it refused the image, so
        ** this move alone ends, the actor taken back here */
        char idt[STAGE_ID_TEXT_MAX], why[STAGE_ID_TEXT_MAX + 300];
        stage_id_format(&q->home, idt, sizeof idt);
        snprintf(why, sizeof why,
                 "actor '%s' cannot move to node '%s': its image takes a "
                 "frame of %zu bytes, more than that node takes (its "
                 "--max-message is smaller than this node's)",
                 idt, it->where, frame);
        stage__move_msg_t failed = {.op = STAGE__MOVE_FAILED,
                                    .status = STAGE_ETOOBIG,
                                    .home = q->home,
                                    .at = q->at,
                                    .data = why,
                                    .len = strlen(why)};
        stage__move_net_in(nn->node, it->where, &failed, NULL);
        return;
    }
    if (rc && q->op == STAGE__MOVE_TOMB) {
        /* the drain that waits for it hears at once, as from the home */
        stage__move_msg_t r = {.op = STAGE__MOVE_ADOPTED,
                               .status = STAGE_EUNREACHABLE,
                               .home = q->at,
                               .at = q->home};
        stage__move_net_in(nn->node, it->where, &r, NULL);
        return;
    }
    if (rc) {
        char msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 200];
        char idt[STAGE_ID_TEXT_MAX];
        stage_id_format(&q->home, idt, sizeof idt);
        if (q->op == STAGE__MOVE_IN) /* checked before it left: rare */
            snprintf(msg, sizeof msg,
                     "the image of actor '%s' could not go home to node "
                     "'%s': %s; the actor is lost",
                     idt, it->where, stage_strerror(rc));
        else
            snprintf(msg, sizeof msg,
                     "a move step (%d) for node '%s' could not go: %s", q->op,
                     it->where, stage_strerror(rc));
        if (it->f) /* a REQ's call: its caller hears it */
            stage__netnode_call_fail(nn, call, STAGE_EUNREACHABLE, msg);
        else
            LOG_WARN("%s", msg);
        /* a step that cannot go is the end of that node for the move */
        if (q->op != STAGE__MOVE_REPLY && q->op != STAGE__MOVE_REQ &&
            q->op != STAGE__MOVE_GONE && q->op != STAGE__MOVE_NAMES &&
            q->op != STAGE__MOVE_FORGET && q->op != STAGE__MOVE_TOMB)
            stage__move_node_down(nn->node, it->where, false);
    }
}

/* The node part of id is peer (the step speaks for its own actors). */
static bool from(const char *peer, const stage_id_t *id) {
    return !strcmp(peer, id->node);
}

int stage__netmove_in(stage__netnode_t *nn, const char *peer, const char *body,
                      size_t len) {
    stage__node_move_t m;
    if (stage__node_move_decode(&m, body, len)) {
        LOG_WARN("refused a MOVE frame from '%s': malformed (%zu bytes)", peer,
                 len);
        return STAGE_EDECODE;
    }
    /* who may say what: OUT, IMPORT, ADOPT, NAMES and FORGET come from the
    ** actor's home, ARRIVED, GONE, ADOPTED and TOMB from the node it
    ** arrived at */
    bool by_at = m.op == STAGE__MOVE_ARRIVED || m.op == STAGE__MOVE_GONE ||
                 m.op == STAGE__MOVE_ADOPTED || m.op == STAGE__MOVE_TOMB;
    if (((m.op == STAGE__MOVE_OUT || m.op == STAGE__MOVE_IMPORT ||
          m.op == STAGE__MOVE_ADOPT || m.op == STAGE__MOVE_NAMES ||
          m.op == STAGE__MOVE_FORGET) &&
         !from(peer, &m.home)) ||
        (by_at && !from(peer, &m.at))) {
        LOG_WARN("refused a MOVE frame (%d) from '%s': it speaks for an "
                 "actor of node '%s'",
                 m.op, peer, by_at ? m.at.node : m.home.node);
        return STAGE_EDECODE;
    }
    /* an actor of a type this node lacks: once its code is here */
    if (m.op == STAGE__MOVE_IMPORT &&
        stage__sources_hold_import(nn, peer, m.data, m.dlen, body, len,
                                   stage__netmove_in))
        return 0;
    char where[STAGE_ADDR_MAX] = "";
    if (m.where) memcpy(where, m.where, m.wlen);
    stage__move_msg_t q = {.op = m.op,
                           .n = m.n,
                           .inc = m.inc,
                           .status = m.status,
                           .home = m.home,
                           .at = m.at,
                           .where = where,
                           .data = m.data,
                           .len = m.dlen,
                           .formers = m.formers,
                           .flen = m.flen};
    stage__future_t *f = NULL;
    if (m.op == STAGE__MOVE_REQ && m.n &&
        !(f = stage__netnode_owed(nn, peer, m.n, 0))) {
        stage__netnode_reply_error(nn, peer, m.n, STAGE_ENOMEM,
                                   "out of memory");
        return 0;
    }
    stage__move_net_in(nn->node, peer, &q, f);
    if (f) stage__future_unref(f);
    return 0;
}
