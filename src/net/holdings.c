/*
** net/holdings.c: what a networked node holds in the DHT for itself, and
** taking it back — the names it claimed for its actors (released when the
** actor stops), names other nodes ask it to hold for its actors (NAME
** frames), the types it is registered for (withdrawn when it has had no
** actor of the type for a while), and leaving: all of it removed before
** the manager leaves the ring.
**
** The state machine is src/node/holdings.c (what is held, the leave
** sequence); here it is driven: the DHT manager's effects drained after
** each step (lookup.c), a libuv timer for the leave's wait, the node's
** directory (core) asked how many actors a type has.
** Runs on the loop's owner (netnode.h).
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/move.h"
#include "netnode.h"
#include "util/alloc.h"
#include "util/log.h"

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

/* ---- the state machine's hooks ------------------------------------------ */

static size_t type_count(void *ud, void *ty) {
    (void)ud;
    return stage__dir_count(ty);
}

/* Birth and withdrawal agree through stage__dir_retire (core/directory.c). */
static bool type_retire(void *ud, void *ty) {
    (void)ud;
    return stage__dir_retire(ty);
}

static void note(void *ud, const char *what, const char *name, int rc) {
    (void)ud;
    LOG_DEBUG("%s '%s': %s", what, name, rc ? stage_strerror(rc) : "sent");
}

void stage__holdings_start(stage__netnode_t *nn) {
    stage__hold_hooks_t hooks = {nn, type_count, type_retire, note};
    stage__hold_init(&nn->holdings, nn->dht, &nn->next_id, &nn->names,
                     nn->address, stage__node_incarnation(nn->node), &hooks);
}

void stage__holdings_close(stage__netnode_t *nn) {
    stage__hold_close(&nn->holdings);
}

/* ---- leaving ------------------------------------------------------------ */

static void leave_ring(stage__netnode_t *nn) {
    size_t unconfirmed;
    if (!stage__hold_ring_left(&nn->holdings, &unconfirmed)) return;
    uv_timer_stop(&nn->leave_timer);
    if (unconfirmed)
        LOG_WARN("leaving the ring with %zu removals unconfirmed; their "
                 "entries end with their lease",
                 unconfirmed);
    if (stage_dht_leave(nn->dht, now_ms(nn)) == 0) stage__lookup_drain(nn);
    stage__netnode_left(nn);
}

static void on_leave_timer(uv_timer_t *t) {
    leave_ring(t->data);
}

/* From drain, which must not run again inside itself: the leave follows
** on the next loop turn. */
void stage__holdings_bye_done(stage__netnode_t *nn, uint64_t req) {
    if (stage__hold_bye_done(&nn->holdings, req))
        uv_timer_start(&nn->leave_timer, on_leave_timer, 0, 0);
}

void stage__holdings_leave(stage__netnode_t *nn) {
    uint64_t now = now_ms(nn);
    switch (stage__hold_leave(&nn->holdings, now)) {
    case STAGE__HOLD_LEAVE_NOW:
        stage__lookup_drain(nn); /* the removals, if any */
        leave_ring(nn);
        break;
    case STAGE__HOLD_LEAVE_WAIT:
        stage__lookup_drain(nn);
        uv_timer_start(&nn->leave_timer, on_leave_timer,
                       nn->holdings.leave_by - now, 0);
        break;
    }
}

/* ---- names this node claimed ------------------------------------------- */

void stage__holdings_claimed(stage__netnode_t *nn, const char *name,
                             const stage_id_t *id) {
    LOG_DEBUG("claimed the name '%s' (local: %d)", name,
              stage__id_is_local(nn->node, id));
    if (!stage__id_is_local(nn->node, id)) return; /* its node holds it */
    stage__hold_claimed(&nn->holdings, name, id->serial);
    /* the loop's owner writes it alone; actor_gone reads it relaxed */
    atomic_store_explicit(&nn->nclaims, (int)stage__hold_claims(&nn->holdings),
                          memory_order_relaxed);
    /* an actor that lives on another node: that node learns the name, so
    ** that it outlives this node with the actor (migration.md) */
    stage__move_renamed(nn->node, id->serial);
}

void stage__holdings_release(stage__netnode_t *nn, uint64_t serial) {
    stage__hold_release(&nn->holdings, serial, now_ms(nn));
    atomic_store_explicit(&nn->nclaims, (int)stage__hold_claims(&nn->holdings),
                          memory_order_relaxed);
    stage__lookup_drain(nn);
}

/* ---- names other nodes ask this node to hold ----------------------------- */

/* NAME [call, name, incarnation, serial, type]: claim name for our actor
** as if it had claimed it itself (core/directory.c: on its birth theatre,
** alive here or living on another node); reply true or the failure. */
int stage__holdings_in_name(stage__netnode_t *nn, const char *peer,
                            const char *body, size_t len) {
    stage__node_name_t q;
    stage_id_t id;
    if (stage__node_name_decode(&q, body, len)) return STAGE_EDECODE;
    stage__netnode_target_id(nn, &q.id, &id);
    uint64_t call = q.call;
    char name[256];
    memcpy(name, q.name, q.nlen);
    name[q.nlen] = '\0';
    if (!stage__netnode_local_target(nn, peer, call, &id)) return 0;
    stage__future_t *f = stage__netnode_owed(nn, peer, call, 0);
    if (!f) {
        stage__netnode_reply_error(nn, peer, call, STAGE_ENOMEM,
                                   "out of memory");
        return 0;
    }
    stage__directory(nn->node, STAGE__NAME_CLAIM, name, &id, f);
    stage__future_unref(f); /* the reply goes when the claim completes it */
    return 0;
}

/* ---- types this node is registered for ---------------------------------- */

/* The first local actor of a type: tell the directory this node has it. */
void stage__holdings_announce(stage__netnode_t *nn, stage__netnode_item_t *it) {
    stage__hold_announce(&nn->holdings, stage__type_find(nn->node, it->key),
                         it->key, it->super, now_ms(nn));
    stage__lookup_drain(nn);
}

void stage__holdings_sweep(stage__netnode_t *nn) {
    if (stage__hold_sweep(&nn->holdings, now_ms(nn))) stage__lookup_drain(nn);
}
