/*
** net/rhome.c: what a networked node holds in the DHT for itself, and
** taking it back — the names it claimed for its actors (released when the
** actor stops), names other nodes ask it to hold for its actors (NAME
** frames), the types it is registered for (withdrawn when it has had no
** actor of the type for a while), and leaving: all of it removed before
** the manager leaves the ring.
**
** Runs on the loop's owner (remote.h); the DHT requests go out through
** the driver in rdir.c.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"
#include "util/alloc.h"
#include "util/log.h"

static uint64_t now_ms(io_t *io) {
    return uv_now(&io->loop);
}

/* ---- leaving ------------------------------------------------------------ */

/* The removals go first and the ring leave after them: were the manager to
** hand its range over while a removal is on its way, a copy of the entry
** could travel with the range and outlive the removal until its lease. */
#define LEAVE_WAIT_MS 1000

static void withdraw(io_t *io, int i);

static void leave_ring(io_t *io) {
    if (io->left) return;
    io->left = true;
    uv_timer_stop(&io->leave_timer);
    if (io->byes.count)
        LOG_WARN("leaving the ring with %zu removals unconfirmed; their "
                 "entries end with their lease",
                 io->byes.count);
    if (stage_dht_leave(io->dht, now_ms(io)) == 0) stage__rdir_drain(io);
    stage__io_left(io);
}

static void on_leave_timer(uv_timer_t *t) {
    leave_ring(t->data);
}

/* Note a removal sent while leaving; its FX_DONE confirms it. */
static void bye_sent(io_t *io, uint64_t req, int rc) {
    if (io->leaving && !rc) stage__u64map_put(&io->byes, req, io);
}

/* From drain, which must not run again inside itself: the leave follows
** on the next loop turn. */
void stage__rhome_bye_done(io_t *io, uint64_t req) {
    if (stage__u64map_take(&io->byes, req) && !io->byes.count && io->leaving)
        uv_timer_start(&io->leave_timer, on_leave_timer, 0, 0);
}

void stage__rdir_leave(io_t *io) {
    if (io->leaving) return;
    io->leaving = true;
    if (!stage_dht_successor(io->dht).id) { /* alone: it all goes with us */
        leave_ring(io);
        return;
    }
    stage__rdir_release(io, 0); /* every name this node claimed */
    while (io->ntypes)
        withdraw(io, io->ntypes - 1);
    stage__rdir_drain(io);
    if (!io->byes.count) {
        leave_ring(io);
        return;
    }
    uv_timer_start(&io->leave_timer, on_leave_timer, LEAVE_WAIT_MS, 0);
}

/* ---- names this node claimed ------------------------------------------- */

/* A name claimed for an actor of this node is released when the actor
** stops (and when the node leaves), so find_name never outlives the
** actor by more than the time the release takes to reach the primary. */
typedef struct claim {
    uint64_t serial;
    char name[256];
} claim_t;

void stage__rhome_claimed(io_t *io, const char *name, const stage_id_t *id) {
    LOG_DEBUG("claimed the name '%s' (local: %d)", name,
              stage__id_is_local(io->node, id));
    if (!stage__id_is_local(io->node, id)) return; /* its node holds it */
    claim_t *c = stage__malloc(sizeof *c);
    if (!c) return;
    c->serial = id->serial;
    snprintf(c->name, sizeof c->name, "%s", name);
    claim_t *old = stage__u64map_take(&io->claims, stage__rdir_name_key(name));
    if (old) {
        stage__free(old);
        atomic_fetch_sub(&io->nclaims, 1);
    }
    if (stage__u64map_put(&io->claims, stage__rdir_name_key(name), c)) {
        stage__free(c);
        return;
    }
    atomic_fetch_add(&io->nclaims, 1);
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

void stage__rdir_release(io_t *io, uint64_t serial) {
    gone_t g = {.serial = serial};
    do {
        g.n = 0;
        stage__u64map_each(&io->claims, gone_match, &g);
        for (int i = 0; i < g.n; i++) {
            claim_t *c = stage__u64map_take(&io->claims, g.keys[i]);
            /* fire and forget: a lost release ends with the lease */
            int rc = stage_dht_name_release(io->dht, now_ms(io), ++io->next_id,
                                            c->name);
            bye_sent(io, io->next_id, rc);
            LOG_DEBUG("released the name '%s': %s", c->name,
                      rc ? stage_strerror(rc) : "sent");
            stage__free(stage__u64map_take(&io->names, g.keys[i]));
            atomic_fetch_sub(&io->nclaims, 1);
            stage__free(c);
        }
    } while (g.n == 64);
    stage__rdir_drain(io);
}

static void free_claim(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage__rhome_close(io_t *io) {
    stage__u64map_each(&io->claims, free_claim, NULL);
    stage__u64map_free(&io->claims);
    stage__free(io->types);
    io->types = NULL;
    io->ntypes = io->captypes = 0;
    stage__u64map_free(&io->byes);
}

/* ---- names other nodes ask this node to hold ----------------------------- */

/* NAME [call, name, incarnation, serial, type]: claim name for our actor
** (alive) as if it had claimed it itself; reply true or the failure. */
int stage__rdir_in_name(io_t *io, const char *peer, const char *body,
                        size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    uint32_t n;
    int64_t call;
    const char *name;
    size_t nlen;
    stage_id_t id;
    if (stage_unpack_array(&u, &n) || n != 5 || stage_unpack_int(&u, &call) ||
        call <= 0 || stage_unpack_str(&u, &name, &nlen) || nlen == 0 ||
        nlen > 255 || memchr(name, 0, nlen) ||
        stage__io_read_target(io, &u, &id) || u.p != u.end)
        return STAGE_EDECODE;
    stage__type_t *ty = stage__io_local_target(io, peer, (uint64_t)call, &id);
    if (!ty) return 0;
    if (!stage__dir_alive(ty, id.serial)) {
        char text[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 300];
        stage_id_format(&id, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found (it stopped): the "
                 "name '%.*s' is not given to it",
                 text, (int)nlen, name);
        stage__io_reply_error(io, peer, (uint64_t)call, STAGE_EACTOR_NOT_FOUND,
                              msg);
        return 0;
    }
    io_item_t *it = stage__calloc(1, sizeof *it);
    stage__future_t *f = stage__io_owed(io, peer, (uint64_t)call, 0);
    if (!it || !f) {
        stage__free(it);
        if (f)
            stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL),
                stage__future_unref(f);
        else
            stage__io_reply_error(io, peer, (uint64_t)call, STAGE_ENOMEM,
                                  "out of memory");
        return 0;
    }
    it->kind = IO_DIR;
    it->op = STAGE__NAME_CLAIM;
    memcpy(it->key, name, nlen);
    it->key[nlen] = '\0';
    it->to = id;
    it->f = f; /* the item's reference; the reply goes when it completes */
    stage__rdir_lookup(io, it);
    return 0;
}

/* ---- types this node is registered for ---------------------------------- */

/* A node registers for a type when its first actor of the type is born
** (the announce) and withdraws once it has had none at WITHDRAW_SWEEPS
** sweeps in a row (a type whose actors come and go does not flap), and
** from all of them when it leaves. Birth and withdrawal agree through
** stage__dir_retire (core/directory.c). */
#define WITHDRAW_SWEEPS 2

typedef struct announced {
    stage__type_t *ty;
    int idle; /* sweeps in a row without an actor */
} announced_t;

/* The representative id this node registers a type with (serial 0). */
static void type_rep(io_t *io, const char *type, stage_id_t *rep) {
    memset(rep, 0, sizeof *rep);
    snprintf(rep->node, sizeof rep->node, "%s", io->address);
    rep->incarnation = stage__node_incarnation(io->node);
    snprintf(rep->type, sizeof rep->type, "%.63s", type);
}

/* The first local actor of a type: tell the directory this node has it. */
void stage__rdir_announce(io_t *io, io_item_t *it) {
    stage__type_t *ty = stage__type_find(io->node, it->key);
    bool listed = false;
    for (int i = 0; ty && i < io->ntypes && !listed; i++)
        if (io->types[i].ty == ty) listed = true, io->types[i].idle = 0;
    if (ty && !listed && io->ntypes == io->captypes) {
        int cap = io->captypes ? 2 * io->captypes : 8;
        announced_t *p = stage__realloc(io->types, (size_t)cap * sizeof *p);
        if (p) io->types = p, io->captypes = cap;
    }
    if (ty && !listed && io->ntypes < io->captypes)
        io->types[io->ntypes++] = (announced_t){ty, 0};
    stage_id_t rep;
    type_rep(io, it->key, &rep);
    uint64_t now = now_ms(io);
    /* fire and forget: the manager renews the lease; a failure only means
    ** other nodes find this node's actors later, after the next announce */
    stage_dht_type_add(io->dht, now, ++io->next_id, it->key, &rep);
    if (it->super[0])
        stage_dht_type_add_subtype(io->dht, now, ++io->next_id, it->super,
                                   it->key);
    stage__rdir_drain(io);
}

static void withdraw(io_t *io, int i) {
    stage_id_t rep;
    type_rep(io, io->types[i].ty->name, &rep);
    /* fire and forget: a lost removal ends with the lease */
    int rc = stage_dht_type_remove(io->dht, now_ms(io), ++io->next_id,
                                   io->types[i].ty->name, &rep);
    bye_sent(io, io->next_id, rc);
    LOG_DEBUG("withdrew from type '%s'", io->types[i].ty->name);
    io->types[i] = io->types[--io->ntypes];
}

void stage__rdir_sweep(io_t *io) {
    int before = io->ntypes;
    for (int i = 0; i < io->ntypes;) {
        announced_t *a = &io->types[i];
        a->idle = stage__dir_count(a->ty) ? 0 : a->idle + 1;
        if (a->idle >= WITHDRAW_SWEEPS && stage__dir_retire(a->ty))
            withdraw(io, i); /* moves the last one here */
        else
            i++;
    }
    if (io->ntypes != before) stage__rdir_drain(io);
}
