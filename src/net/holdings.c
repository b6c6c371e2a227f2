/*
** net/holdings.c: what a networked node holds in the DHT for itself, and
** taking it back — the names it claimed for its actors (released when the
** actor stops), names other nodes ask it to hold for its actors (NAME
** frames), the types it is registered for (withdrawn when it has had no
** actor of the type for a while), and leaving: all of it removed before
** the manager leaves the ring.
**
** Runs on the loop's owner (netnode.h); the DHT requests go out through
** the driver in lookup.c.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netnode.h"
#include "util/alloc.h"
#include "util/log.h"

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

/* ---- leaving ------------------------------------------------------------ */

/* The removals go first and the ring leave after them: were the manager to
** hand its range over while a removal is on its way, a copy of the entry
** could travel with the range and outlive the removal until its lease. */
#define LEAVE_WAIT_MS 1000

static void withdraw(stage__netnode_t *nn, int i);

static void leave_ring(stage__netnode_t *nn) {
    if (nn->left) return;
    nn->left = true;
    uv_timer_stop(&nn->leave_timer);
    if (nn->byes.count)
        LOG_WARN("leaving the ring with %zu removals unconfirmed; their "
                 "entries end with their lease",
                 nn->byes.count);
    if (stage_dht_leave(nn->dht, now_ms(nn)) == 0) stage__lookup_drain(nn);
    stage__netnode_left(nn);
}

static void on_leave_timer(uv_timer_t *t) {
    leave_ring(t->data);
}

/* Note a removal sent while leaving; its FX_DONE confirms it. */
static void bye_sent(stage__netnode_t *nn, uint64_t req, int rc) {
    if (nn->leaving && !rc) stage__u64map_put(&nn->byes, req, nn);
}

/* From drain, which must not run again inside itself: the leave follows
** on the next loop turn. */
void stage__holdings_bye_done(stage__netnode_t *nn, uint64_t req) {
    if (stage__u64map_take(&nn->byes, req) && !nn->byes.count && nn->leaving)
        uv_timer_start(&nn->leave_timer, on_leave_timer, 0, 0);
}

void stage__holdings_leave(stage__netnode_t *nn) {
    if (nn->leaving) return;
    nn->leaving = true;
    if (!stage_dht_successor(nn->dht).id) { /* alone: it all goes with us */
        leave_ring(nn);
        return;
    }
    stage__holdings_release(nn, 0); /* every name this node claimed */
    while (nn->ntypes)
        withdraw(nn, nn->ntypes - 1);
    stage__lookup_drain(nn);
    if (!nn->byes.count) {
        leave_ring(nn);
        return;
    }
    uv_timer_start(&nn->leave_timer, on_leave_timer, LEAVE_WAIT_MS, 0);
}

/* ---- names this node claimed ------------------------------------------- */

/* A name claimed for an actor of this node is released when the actor
** stops (and when the node leaves), so find_name never outlives the
** actor by more than the time the release takes to reach the primary. */
typedef struct claim {
    uint64_t serial;
    char name[256];
} claim_t;

void stage__holdings_claimed(stage__netnode_t *nn, const char *name,
                             const stage_id_t *id) {
    LOG_DEBUG("claimed the name '%s' (local: %d)", name,
              stage__id_is_local(nn->node, id));
    if (!stage__id_is_local(nn->node, id)) return; /* its node holds it */
    claim_t *c = stage__malloc(sizeof *c);
    if (!c) return;
    c->serial = id->serial;
    snprintf(c->name, sizeof c->name, "%s", name);
    claim_t *old = stage__u64map_take(&nn->claims, stage__names_key(name));
    if (old) {
        stage__free(old);
        atomic_fetch_sub(&nn->nclaims, 1);
    }
    if (stage__u64map_put(&nn->claims, stage__names_key(name), c)) {
        stage__free(c);
        return;
    }
    atomic_fetch_add(&nn->nclaims, 1);
}

typedef struct gone {
    uint64_t serial;
    uint64_t keys[64];
    int n;
} gone_t;

static void gone_match(uint64_t key, void *val, void *ud) {
    gone_t *g = ud;
    claim_t *c = val;
    if ((!g->serial || c->serial == g->serial) && g->n < 64)
        g->keys[g->n++] = key;
}

void stage__holdings_release(stage__netnode_t *nn, uint64_t serial) {
    gone_t g = {.serial = serial};
    do {
        g.n = 0;
        stage__u64map_each(&nn->claims, gone_match, &g);
        for (int i = 0; i < g.n; i++) {
            claim_t *c = stage__u64map_take(&nn->claims, g.keys[i]);
            /* fire and forget: a lost release ends with the lease */
            int rc = stage_dht_name_release(nn->dht, now_ms(nn), ++nn->next_id,
                                            c->name);
            bye_sent(nn, nn->next_id, rc);
            LOG_DEBUG("released the name '%s': %s", c->name,
                      rc ? stage_strerror(rc) : "sent");
            stage__names_drop(&nn->names, c->name);
            atomic_fetch_sub(&nn->nclaims, 1);
            stage__free(c);
        }
    } while (g.n == 64);
    stage__lookup_drain(nn);
}

static void free_claim(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage__holdings_close(stage__netnode_t *nn) {
    stage__u64map_each(&nn->claims, free_claim, NULL);
    stage__u64map_free(&nn->claims);
    stage__free(nn->types);
    nn->types = NULL;
    nn->ntypes = nn->captypes = 0;
    stage__u64map_free(&nn->byes);
}

/* ---- names other nodes ask this node to hold ----------------------------- */

/* NAME [call, name, incarnation, serial, type]: claim name for our actor
** (alive) as if it had claimed it itself; reply true or the failure. */
int stage__holdings_in_name(stage__netnode_t *nn, const char *peer,
                            const char *body, size_t len) {
    stage__node_name_t q;
    stage_id_t id;
    if (stage__node_name_decode(&q, body, len)) return STAGE_EDECODE;
    stage__netnode_target_id(nn, &q.id, &id);
    uint64_t call = q.call;
    const char *name = q.name;
    size_t nlen = q.nlen;
    stage__type_t *ty = stage__netnode_local_target(nn, peer, call, &id);
    if (!ty) return 0;
    if (!stage__dir_alive(ty, id.serial)) {
        char text[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 300];
        stage_id_format(&id, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found (it stopped): the "
                 "name '%.*s' is not given to it",
                 text, (int)nlen, name);
        stage__netnode_reply_error(nn, peer, call, STAGE_EACTOR_NOT_FOUND, msg);
        return 0;
    }
    stage__netnode_item_t *it = stage__calloc(1, sizeof *it);
    stage__future_t *f = stage__netnode_owed(nn, peer, call, 0);
    if (!it || !f) {
        stage__free(it);
        if (f)
            stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL),
                stage__future_unref(f);
        else
            stage__netnode_reply_error(nn, peer, call, STAGE_ENOMEM,
                                       "out of memory");
        return 0;
    }
    it->kind = ITEM_DIR;
    it->op = STAGE__NAME_CLAIM;
    memcpy(it->key, name, nlen);
    it->key[nlen] = '\0';
    it->to = id;
    it->f = f; /* the item's reference; the reply goes when it completes */
    stage__lookup_request(nn, it);
    return 0;
}

/* ---- types this node is registered for ---------------------------------- */

/* A node registers for a type when its first actor of the type is born
** (the announce) and withdraws once it has had none at WITHDRAW_SWEEPS
** sweeps in a row (a type whose actors come and go does not flap), and
** from all of them when it leaves. Birth and withdrawal agree through
** stage__dir_retire (core/directory.c). */
#define WITHDRAW_SWEEPS 2

typedef struct stage__announced {
    stage__type_t *ty;
    int idle; /* sweeps in a row without an actor */
} announced_t;

/* The representative id this node registers a type with (serial 0). */
static void type_rep(stage__netnode_t *nn, const char *type, stage_id_t *rep) {
    memset(rep, 0, sizeof *rep);
    snprintf(rep->node, sizeof rep->node, "%s", nn->address);
    rep->incarnation = stage__node_incarnation(nn->node);
    snprintf(rep->type, sizeof rep->type, "%.63s", type);
}

/* The first local actor of a type: tell the directory this node has it. */
void stage__holdings_announce(stage__netnode_t *nn, stage__netnode_item_t *it) {
    stage__type_t *ty = stage__type_find(nn->node, it->key);
    bool listed = false;
    for (int i = 0; ty && i < nn->ntypes && !listed; i++)
        if (nn->types[i].ty == ty) listed = true, nn->types[i].idle = 0;
    if (ty && !listed && nn->ntypes == nn->captypes) {
        int cap = nn->captypes ? 2 * nn->captypes : 8;
        announced_t *p = stage__realloc(nn->types, (size_t)cap * sizeof *p);
        if (p) nn->types = p, nn->captypes = cap;
    }
    if (ty && !listed && nn->ntypes < nn->captypes)
        nn->types[nn->ntypes++] = (announced_t){ty, 0};
    stage_id_t rep;
    type_rep(nn, it->key, &rep);
    uint64_t now = now_ms(nn);
    /* fire and forget: the manager renews the lease; a failure only means
    ** other nodes find this node's actors later, after the next announce */
    stage_dht_type_add(nn->dht, now, ++nn->next_id, it->key, &rep);
    if (it->super[0])
        stage_dht_type_add_subtype(nn->dht, now, ++nn->next_id, it->super,
                                   it->key);
    stage__lookup_drain(nn);
}

static void withdraw(stage__netnode_t *nn, int i) {
    stage_id_t rep;
    type_rep(nn, nn->types[i].ty->name, &rep);
    /* fire and forget: a lost removal ends with the lease */
    int rc = stage_dht_type_remove(nn->dht, now_ms(nn), ++nn->next_id,
                                   nn->types[i].ty->name, &rep);
    bye_sent(nn, nn->next_id, rc);
    LOG_DEBUG("withdrew from type '%s'", nn->types[i].ty->name);
    nn->types[i] = nn->types[--nn->ntypes];
}

void stage__holdings_sweep(stage__netnode_t *nn) {
    int before = nn->ntypes;
    for (int i = 0; i < nn->ntypes;) {
        announced_t *a = &nn->types[i];
        a->idle = stage__dir_count(a->ty) ? 0 : a->idle + 1;
        if (a->idle >= WITHDRAW_SWEEPS && stage__dir_retire(a->ty))
            withdraw(nn, i); /* moves the last one here */
        else
            i++;
    }
    if (nn->ntypes != before) stage__lookup_drain(nn);
}
