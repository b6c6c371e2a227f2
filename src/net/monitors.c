/*
** net/monitors.c: monitors between nodes — the MONITOR, DEMONITOR and
** DOWN frames — and the node incarnations this node has seen up, whose
** ends and starts core's monitors hear of (core/monitor.h).
**
**   MONITOR    [mon, incarnation, serial, type]   watch this node's actor
**                                                 for the sender's monitor
**   DEMONITOR  [mon, incarnation, serial, type]   stop watching
**   DOWN       [mon, serial, status, message]     the actor serial of the
**                                                 sender, watched by the
**                                                 receiver's monitor mon,
**                                                 stopped (status 0) or
**                                                 failed (status < 0)
**
** The watcher's node is the connection's peer, never a field: a node
** cannot watch, or unwatch, for another. A DOWN is checked by the
** watcher's theatre against its monitor (the sender must be the node of
** the actor it watches). Every field is checked; a bad frame is dropped
** and logged by the caller (netnode.c's on_frame).
**
** Known nodes: a list of the addresses seen in a handshake, each with the
** incarnation seen last and whether it is up (not declared dead since).
** on_node_up fires for an incarnation new to the list or back from dead;
** a reconnection to the same incarnation is no event.
** Loop thread only.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/monitor.h"
#include "netnode.h"
#include "util/alloc.h"
#include "util/log.h"

typedef struct stage__known {
    struct stage__known *next;
    char addr[STAGE_ADDR_MAX];
    uint32_t incarnation;
    uint64_t manager; /* the DHT manager id it announced */
    bool up;
} known_t;

/* ---- known nodes --------------------------------------------------------- */

static known_t *known_find(stage__netnode_t *nn, const char *addr) {
    for (known_t *k = nn->known; k; k = k->next)
        if (!strcmp(k->addr, addr)) return k;
    return NULL;
}

/* The incarnation of addr seen up now, or 0. */
static uint32_t up_incarnation(stage__netnode_t *nn, const char *addr) {
    known_t *k = known_find(nn, addr);
    return k && k->up ? k->incarnation : 0;
}

static const char *why_down(int reason) {
    switch (reason) {
    case STAGE_ECANCELED:
        return "it stopped";
    case STAGE_EUNREACHABLE:
        return "it is unreachable (this node gave up reconnecting)";
    case STAGE_ESTOPPED:
        return "it restarted (a new incarnation took its address)";
    default:
        return "it was declared dead";
    }
}

void stage__netnode_node_down(stage__netnode_t *nn, const char *addr,
                              uint32_t incarnation, int reason) {
    known_t *k = known_find(nn, addr);
    if (!incarnation && reason == STAGE_ESTOPPED && k)
        incarnation = k->incarnation; /* the new one serves there */
    uint32_t up_inc = 0;
    if (k && k->up && (!incarnation || k->incarnation == incarnation)) {
        up_inc = k->incarnation;
        k->up = false;
    }
    stage__monitor_node_down(nn->node, addr, incarnation, up_inc,
                             why_down(reason));
}

void stage__netnode_node_up(stage__netnode_t *nn, const char *addr,
                            uint32_t incarnation) {
    known_t *k = known_find(nn, addr);
    if (k && k->up && k->incarnation == incarnation) return; /* reconnected */
    if (k && k->incarnation != incarnation) /* its predecessor is gone */
        stage__netnode_node_down(nn, addr, k->incarnation, STAGE_ESTOPPED);
    if (!k) {
        if (!(k = stage__calloc(1, sizeof *k))) {
            LOG_ERROR("out of memory: node '%s' coming up is not reported",
                      addr);
            return;
        }
        stage__addr_copy(k->addr, addr);
        k->next = nn->known;
        nn->known = k;
    }
    k->incarnation = incarnation;
    k->manager = stage__transport_peer_manager(nn->tr, addr);
    k->up = true;
    stage__monitor_node_up(nn->node, addr, incarnation);
}

uint64_t stage__netnode_known_manager(stage__netnode_t *nn, const char *addr,
                                      uint32_t incarnation) {
    known_t *k = known_find(nn, addr);
    return k && k->incarnation == incarnation ? k->manager : 0;
}

void stage__netmon_close(stage__netnode_t *nn) {
    for (known_t *k = nn->known, *next; k; k = next) {
        next = k->next;
        stage__free(k);
    }
    nn->known = NULL;
}

/* ---- sending ------------------------------------------------------------- */

/* Send a DOWN for peer's monitor mon about actor serial of this node. */
static void send_down(stage__netnode_t *nn, const char *peer, uint64_t mon,
                      uint64_t serial, int status, const char *message) {
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__node_down_encode(&p, mon, serial, status, message);
    if (!rc)
        rc = stage__netnode_send_frame(nn, peer, FRAME_DOWN, p.data, p.len);
    stage_pack_free(&p);
    if (rc)
        LOG_WARN("the DOWN of monitor %llx of node '%s' is lost: %s",
                 (unsigned long long)mon, peer, stage_strerror(rc));
}

/* A MONITOR or DEMONITOR for it->to; a MONITOR that cannot go fires its
** monitor at once. */
static void send_watch(stage__netnode_t *nn, stage__netnode_item_t *it) {
    bool on = it->op;
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__node_watch_encode(&p, it->mon, &it->to);
    if (!rc)
        rc = stage__netnode_send_frame(nn, it->to.node,
                                       on ? FRAME_MONITOR : FRAME_DEMONITOR,
                                       p.data, p.len);
    stage_pack_free(&p);
    if (!rc) return;
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 100];
    stage_id_format(&it->to, id, sizeof id);
    if (!on) {
        LOG_DEBUG("cannot stop watching actor '%s': %s", id,
                  stage_strerror(rc));
        return;
    }
    snprintf(msg, sizeof msg, "cannot watch actor '%s' on node '%s': %s", id,
             it->to.node, stage_strerror(rc));
    stage__monitor_remote_down(nn->node, it->to.node, it->mon, it->to.serial,
                               STAGE_EUNREACHABLE, msg);
}

void stage__netmon_out(stage__netnode_t *nn, stage__netnode_item_t *it) {
    if (it->kind == ITEM_MONITOR)
        send_watch(nn, it);
    else
        send_down(nn, it->where, it->mon, it->to.serial, it->op, it->args);
}

/* ---- receiving ----------------------------------------------------------- */

int stage__netmon_in_watch(stage__netnode_t *nn, const char *peer,
                           const char *body, size_t len, bool on) {
    stage__node_watch_t w;
    stage_id_t to;
    if (stage__node_watch_decode(&w, body, len)) return STAGE_EDECODE;
    stage__netnode_target_id(nn, &w.to, &to);
    uint64_t mon = w.mon;
    bool here = stage__id_is_local(nn->node, &to) &&
                stage__type_find(nn->node, to.type);
    if (!on) {
        if (here) stage__monitor_remote_unwatch(nn->node, &to, peer, mon);
        return 0;
    }
    if (!here) {
        char id[STAGE_ID_TEXT_MAX],
            msg[STAGE_ID_TEXT_MAX + STAGE_ADDR_MAX + 80];
        stage_id_format(&to, id, sizeof id);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found on node '%s' (it stopped, or its node "
                 "restarted)",
                 id, nn->address);
        send_down(nn, peer, mon, to.serial, STAGE_EACTOR_NOT_FOUND, msg);
        return 0;
    }
    stage__monitor_remote_watch(nn->node, &to, peer, up_incarnation(nn, peer),
                                mon);
    return 0;
}

int stage__netmon_in_down(stage__netnode_t *nn, const char *peer,
                          const char *body, size_t len) {
    stage__node_down_t d;
    if (stage__node_down_decode(&d, body, len)) return STAGE_EDECODE;
    /* a longer one is cut; a NUL ends it */
    char msg[STAGE__NODE_DOWN_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%.*s",
             (int)(d.mlen < sizeof msg ? d.mlen : sizeof msg - 1), d.message);
    return stage__monitor_remote_down(nn->node, peer, d.mon, d.serial, d.status,
                                      msg);
}
