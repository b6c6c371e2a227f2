/*
** node/relocate.c: messages that follow an actor whose node left or died,
** and the migrations store entries this node writes (node/relocate.h says
** the states and rules).
**
** Targets hang off a hash of their id (chains for the rare collision);
** the ones waiting for their turn to ask the store queue in a FIFO, the
** ones waiting to ask again after an error on a list scanned by the tick
** (few: only a store in trouble puts them there). Entries this node wrote
** hang off a hash of their old id and one of their current id (formers,
** forget), and queue in a FIFO for their put.
** Effects go to one of two lists, swapped as they are read, so an input
** made while the driver runs a list adds to the other.
*/
#include <stdio.h>
#include <string.h>

#include "node/relocate.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/u64map.h"

#define DEAD_WHY_MAX 160 /* a death's why kept with its frame */

enum { IDLE, WAITING, ASKING, RETRY, FOUND, NONE };

/* A frame held for a target (the driver holds its bytes). */
typedef struct held {
    struct held *next;
    uint64_t handle;
    int hops;   /* places it followed that left in turn */
    int status; /* nowhere: this (NodeDown, NodeUnreachable: why), or
                ** ActorNotFound for a node that left */
    char why[DEAD_WHY_MAX];
} held_t;

/* What this node knows of where an actor of a node that left went. */
typedef struct target {
    struct target *next;  /* same hash */
    struct target *lnext; /* WAITING: the FIFO; RETRY: the list */
    stage_id_t old, cur;  /* cur: FOUND */
    int state;
    int tries;         /* FINDs made for this lookup */
    uint64_t none_at;  /* NONE: when the store said so */
    uint64_t retry_at; /* RETRY: ask again then */
    held_t *head, *tail;
} target_t;

/* A store entry this node put (or is putting). */
typedef struct entry {
    struct entry *onext, *cnext; /* same hash of old, of cur */
    struct entry *qnext;         /* waiting for its put */
    stage_id_t old, cur;
    uint64_t req; /* the put under way; 0: done, or to be made again */
    uint64_t tag; /* said RECORDED once in (0: none, or said) */
    bool ok, queued;
    bool stale; /* cur changed while its put was under way */
} entry_t;

typedef struct fxlist {
    stage_reloc_fx_t *v;
    size_t n, cap;
} fxlist_t;

struct stage_reloc {
    stage_reloc_config_t cfg;
    uint64_t own_id;        /* next_id when the driver gives none */
    stage_u64map_t targets; /* hash(old) -> target_t chain */
    size_t ntargets;
    stage_u64map_t looks;    /* FIND request -> target_t */
    target_t *lhead, *ltail; /* WAITING */
    target_t *retries;       /* RETRY */
    stage_u64map_t puts;     /* PUT request -> entry_t */
    stage_u64map_t byold;    /* hash(old) -> entry_t chain */
    stage_u64map_t bycur;    /* hash(cur) -> entry_t chain */
    entry_t *qhead, *qtail;  /* puts to make */
    fxlist_t fx[2];
    int fxw; /* the list inputs add to */
};

/* ---- small pieces ---------------------------------------------------------
 */

void stage_reloc_config_init(stage_reloc_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->targets_max = 65536;
    cfg->window = 64;
    cfg->hops_max = 8;
    cfg->tries = 3;
    cfg->none_ms = 1000;
    cfg->retry_ms = 200;
}

/* A hash of id's node, incarnation and serial (not 0). */
static uint64_t id_hash(const stage_id_t *id) {
    uint64_t h = 1469598103934665603ull;
    for (const char *c = id->node; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    h = (h ^ id->incarnation) * 1099511628211ull;
    h = (h ^ id->serial) * 1099511628211ull;
    return h ? h : 1;
}

/* Whether a and b name the same actor (its type aside). */
static bool same(const stage_id_t *a, const stage_id_t *b) {
    return a->serial == b->serial && a->incarnation == b->incarnation &&
           !strcmp(a->node, b->node);
}

/* Whether id can name an actor: a node address, both texts ended. */
static bool id_ok(const stage_id_t *id) {
    return id && id->node[0] && memchr(id->node, 0, sizeof id->node) &&
           memchr(id->type, 0, sizeof id->type);
}

/* A new store request id (the driver's counter, or ours). */
static uint64_t next_req(stage_reloc_t *r) {
    return ++*r->cfg.next_id;
}

/* Append an effect (out of memory: NULL, and the effect is lost; the
** driver's own log has the frame, its future its deadline). */
static stage_reloc_fx_t *fx_add(stage_reloc_t *r, int kind) {
    fxlist_t *l = &r->fx[r->fxw];
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        stage_reloc_fx_t *v = stage__realloc(l->v, cap * sizeof *v);
        if (!v) return NULL;
        l->v = v, l->cap = cap;
    }
    stage_reloc_fx_t *x = &l->v[l->n++];
    memset(x, 0, offsetof(stage_reloc_fx_t, why) + 1);
    x->kind = kind;
    return x;
}

const stage_reloc_fx_t *stage_reloc_effects(stage_reloc_t *r, size_t *n) {
    fxlist_t *l = &r->fx[r->fxw];
    r->fxw ^= 1;
    r->fx[r->fxw].n = 0; /* the list read last time is done with */
    *n = l->n;
    return l->v;
}

bool stage_reloc_pending(const stage_reloc_t *r) {
    return r->fx[r->fxw].n > 0;
}

stage_reloc_t *stage_reloc_new(const stage_reloc_config_t *cfg) {
    stage_reloc_t *r = stage__calloc(1, sizeof *r);
    if (!r) return NULL;
    if (cfg)
        r->cfg = *cfg;
    else
        stage_reloc_config_init(&r->cfg);
    if (!r->cfg.next_id) r->cfg.next_id = &r->own_id;
    if (r->cfg.window < 1) r->cfg.window = 1;
    if (r->cfg.tries < 1) r->cfg.tries = 1;
    if (r->cfg.hops_max < 0) r->cfg.hops_max = 0;
    return r;
}

/* Free a chain of targets and the frames they hold (no effects). */
static void targets_free(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (target_t *tg = val, *next; tg; tg = next) {
        next = tg->next;
        for (held_t *h = tg->head, *hn; h; h = hn) {
            hn = h->next;
            stage__free(h);
        }
        stage__free(tg);
    }
}

/* Free a chain of entries (by old). */
static void entries_free(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (entry_t *e = val, *next; e; e = next) {
        next = e->onext;
        stage__free(e);
    }
}

void stage_reloc_destroy(stage_reloc_t **rp) {
    stage_reloc_t *r = *rp;
    if (!r) return;
    stage__u64map_each(&r->targets, targets_free, NULL);
    stage__u64map_free(&r->targets);
    stage__u64map_free(&r->looks);
    stage__u64map_free(&r->puts);
    stage__u64map_each(&r->byold, entries_free, NULL);
    stage__u64map_free(&r->byold);
    stage__u64map_free(&r->bycur);
    stage__free(r->fx[0].v);
    stage__free(r->fx[1].v);
    stage__free(r);
    *rp = NULL;
}

/* ---- reading: frames and lookups ------------------------------------------
 */

/* The target of old, or NULL. */
static target_t *target_get(const stage_reloc_t *r, const stage_id_t *old) {
    for (target_t *tg = stage__u64map_get(&r->targets, id_hash(old)); tg;
         tg = tg->next)
        if (same(&tg->old, old)) return tg;
    return NULL;
}

bool stage_reloc_knows(const stage_reloc_t *r, const stage_id_t *old) {
    if (!r->ntargets) return false; /* every remote send asks: no hashing */
    const target_t *tg = target_get(r, old);
    return tg && tg->state != IDLE && tg->state != NONE;
}

/* Fail held frame h, held for tg: status, why. Frees h. */
static void fail(stage_reloc_t *r, const target_t *tg, held_t *h, int status,
                 const char *why) {
    stage_reloc_fx_t *x = fx_add(r, STAGE_RELOC_FX_FAIL);
    if (x) {
        x->handle = h->handle;
        x->status = status;
        x->id = tg->old;
        snprintf(x->why, sizeof x->why, "%s", why);
    }
    stage__free(h);
}

/* Why a frame for an actor of a node that is gone fails: the start, the
** store's "nowhere", and an entry that is no id (each takes the node's
** address). */
#define GONE "its node '%s' is gone (it left, died or restarted), "
#define GONE_NOWHERE                                                           \
    GONE "and the migrations store has no later place for it (it stopped, "    \
         "or never moved)"
#define GONE_NOT_ID                                                            \
    GONE "and the migrations store's entry for it is not an actor id"

/* tg has no later place (why): h fails as it would have without the store
** — NodeDown for a dead node's actor, NodeUnreachable for one of a node
** never reached (the node's why; and why too if the store could not be
** asked: no_store), else ActorNotFound. */
static void fail_gone(stage_reloc_t *r, const target_t *tg, held_t *h,
                      const char *why, bool no_store) {
    if (h->status) {
        char down[STAGE_RELOC_WHY_MAX];
        if (snprintf(down, sizeof down, "%s%s%s", h->why, no_store ? "; " : "",
                     no_store ? why : "") < 0)
            down[0] = '\0';
        fail(r, tg, h, h->status, down);
    } else {
        fail(r, tg, h, STAGE_EACTOR_NOT_FOUND, why);
    }
}

/* Fail every frame held for tg (fail_gone). */
static void fail_all(stage_reloc_t *r, target_t *tg, const char *why,
                     bool no_store) {
    held_t *h = tg->head;
    tg->head = tg->tail = NULL;
    for (held_t *next; h; h = next) {
        next = h->next;
        fail_gone(r, tg, h, why, no_store);
    }
}

/* Put tg in the FIFO of lookups waiting their turn (WAITING). */
static void wait_turn(stage_reloc_t *r, target_t *tg) {
    tg->state = WAITING;
    tg->lnext = NULL;
    if (r->ltail)
        r->ltail->lnext = tg;
    else
        r->lhead = tg;
    r->ltail = tg;
}

/* Make the FINDs waiting, while fewer than `window` are under way (a
** sender of thousands of a drained node's actors would put them all into
** its DHT manager at once otherwise). */
static void pump_finds(stage_reloc_t *r) {
    while (r->lhead && r->looks.count < (size_t)r->cfg.window) {
        target_t *tg = r->lhead;
        if (!(r->lhead = tg->lnext)) r->ltail = NULL;
        tg->lnext = NULL;
        uint64_t req = next_req(r);
        stage_reloc_fx_t *x = NULL;
        if (stage__u64map_put(&r->looks, req, tg) ||
            !(x = fx_add(r, STAGE_RELOC_FX_FIND))) {
            stage__u64map_take(&r->looks, req);
            tg->state = IDLE;
            fail_all(r, tg, "out of memory to ask the migrations store", true);
            continue;
        }
        x->req = req;
        x->id = tg->old;
        tg->state = ASKING;
        tg->tries++;
    }
}

static int enqueue(stage_reloc_t *r, uint64_t now, const stage_id_t *old,
                   held_t *h);

/* Send h on to tg->cur (FOUND), or on from there if its node is gone in
** turn. Frees h (or holds it elsewhere). */
static void deliver(stage_reloc_t *r, uint64_t now, const target_t *tg,
                    held_t *h) {
    const char *why = NULL;
    int g =
        r->cfg.gone ? r->cfg.gone(r->cfg.ud, &tg->cur, &why) : STAGE_RELOC_LIVE;
    if (g == STAGE_RELOC_LIVE) {
        stage_reloc_fx_t *x = fx_add(r, STAGE_RELOC_FX_SEND);
        if (x) {
            x->handle = h->handle;
            x->id = tg->cur;
        }
        stage__free(h);
        return;
    }
    if (++h->hops > r->cfg.hops_max) {
        fail(r, tg, h, STAGE_EACTOR_NOT_FOUND,
             "it moved on through more nodes that left than a message "
             "follows");
        return;
    }
    if (g == STAGE_RELOC_DEAD) { /* if it is nowhere, that node is down */
        h->status = STAGE_ENODE_DOWN;
        snprintf(h->why, sizeof h->why, "%s", why ? why : "it is down");
    }
    int rc = enqueue(r, now, &tg->cur, h);
    if (rc)
        fail(r, tg, h, rc,
             rc == STAGE_ENOMEM ? "out of memory to follow it further"
                                : "where it went is not an actor id");
}

/* Hold h under target old (looked up if need be), or send it on at once.
** 0, or STAGE_ENOMEM / STAGE_EINVAL (h untouched). */
static int enqueue(stage_reloc_t *r, uint64_t now, const stage_id_t *old,
                   held_t *h) {
    if (!id_ok(old)) return STAGE_EINVAL;
    target_t *tg = target_get(r, old);
    if (!tg) {
        if (r->ntargets >= r->cfg.targets_max) return STAGE_ENOMEM;
        if (!(tg = stage__calloc(1, sizeof *tg))) return STAGE_ENOMEM;
        tg->old = *old;
        uint64_t k = id_hash(old);
        tg->next = stage__u64map_get(&r->targets, k);
        if (stage__u64map_put(&r->targets, k, tg)) {
            stage__free(tg);
            return STAGE_ENOMEM;
        }
        r->ntargets++;
    }
    h->next = NULL;
    if (tg->state == FOUND) {
        deliver(r, now, tg, h);
        return 0;
    }
    if (tg->state == NONE) {
        if (now - tg->none_at < r->cfg.none_ms) { /* asked lately */
            char why[STAGE_RELOC_WHY_MAX];
            snprintf(why, sizeof why, GONE_NOWHERE, tg->old.node);
            fail_gone(r, tg, h, why, false);
            return 0;
        }
        tg->state = IDLE; /* ask again */
    }
    if (tg->tail)
        tg->tail->next = h;
    else
        tg->head = h;
    tg->tail = h;
    if (tg->state == IDLE) {
        tg->tries = 0;
        wait_turn(r, tg);
    }
    return 0;
}

int stage_reloc_frame(stage_reloc_t *r, uint64_t now, const stage_id_t *old,
                      uint64_t handle, const char *dead) {
    return stage_reloc_frame_down(r, now, old, handle,
                                  dead ? STAGE_ENODE_DOWN : 0, dead);
}

int stage_reloc_frame_down(stage_reloc_t *r, uint64_t now,
                           const stage_id_t *old, uint64_t handle, int status,
                           const char *why) {
    if (!handle || !id_ok(old) ||
        (status && status != STAGE_ENODE_DOWN && status != STAGE_EUNREACHABLE))
        return STAGE_EINVAL;
    held_t *h = stage__malloc(sizeof *h);
    if (!h) return STAGE_ENOMEM;
    h->next = NULL;
    h->handle = handle;
    h->hops = 0;
    h->status = status;
    snprintf(h->why, sizeof h->why, "%s", status && why ? why : "");
    int rc = enqueue(r, now, old, h);
    if (rc) {
        stage__free(h);
        return rc;
    }
    pump_finds(r);
    return 0;
}

/* The store answered tg's lookup: status, cur. */
static void looked(stage_reloc_t *r, uint64_t now, target_t *tg, int status,
                   const stage_id_t *cur) {
    char why[STAGE_RELOC_WHY_MAX];
    if (status == 0 && cur && id_ok(cur) && !same(cur, &tg->old)) {
        tg->state = FOUND;
        tg->cur = *cur;
        held_t *h = tg->head;
        tg->head = tg->tail = NULL;
        for (held_t *next; h; h = next) { /* in the order they came */
            next = h->next;
            deliver(r, now, tg, h);
        }
        return;
    }
    if (status == 0 || status == STAGE_ENAME_NOT_FOUND) {
        tg->state = NONE;
        tg->none_at = now;
        bool not_id = status == 0 && cur && !id_ok(cur);
        snprintf(why, sizeof why, not_id ? GONE_NOT_ID : GONE_NOWHERE,
                 tg->old.node);
        fail_all(r, tg, why, false);
        return;
    }
    if (tg->tries < r->cfg.tries) { /* the store is in trouble: later */
        tg->state = RETRY;
        tg->retry_at = now + r->cfg.retry_ms;
        tg->lnext = r->retries;
        r->retries = tg;
        return;
    }
    tg->state = IDLE; /* the next frame asks afresh */
    snprintf(why, sizeof why,
             GONE "and the migrations store could not be asked where it "
                  "went (%s)",
             tg->old.node, stage_strerror(status));
    fail_all(r, tg, why, true);
}

bool stage_reloc_finding(const stage_reloc_t *r, uint64_t req) {
    return req && stage__u64map_get(&r->looks, req) != NULL;
}

void stage_reloc_tick(stage_reloc_t *r, uint64_t now) {
    for (target_t **pp = &r->retries; *pp;) {
        target_t *tg = *pp;
        if (tg->retry_at > now) {
            pp = &tg->lnext;
            continue;
        }
        *pp = tg->lnext;
        wait_turn(r, tg);
    }
    pump_finds(r);
}

uint64_t stage_reloc_next_timer(const stage_reloc_t *r) {
    uint64_t next = UINT64_MAX;
    for (const target_t *tg = r->retries; tg; tg = tg->lnext)
        if (tg->retry_at < next) next = tg->retry_at;
    return next;
}

/* Fail every frame a chain of targets holds: Stopped. */
static void targets_stop(uint64_t key, void *val, void *ud) {
    (void)key;
    stage_reloc_t *r = ud;
    for (target_t *tg = val; tg; tg = tg->next) {
        held_t *h = tg->head;
        tg->head = tg->tail = NULL;
        for (held_t *next; h; h = next) {
            next = h->next;
            fail(r, tg, h, STAGE_ESTOPPED, "this node stopped first");
        }
    }
}

void stage_reloc_stop(stage_reloc_t *r) {
    stage__u64map_each(&r->targets, targets_stop, r);
}

/* ---- writing: the entries this node puts ----------------------------------
 */

/* Make the puts waiting, while fewer than `window` are under way (a drain
** hands thousands of actors over at once: a window keeps the DHT's queues
** short). One that cannot be made waits for the sweep. */
static void pump_puts(stage_reloc_t *r) {
    while (r->qhead && r->puts.count < (size_t)r->cfg.window) {
        entry_t *e = r->qhead;
        if (!(r->qhead = e->qnext)) r->qtail = NULL;
        e->queued = false;
        uint64_t req = next_req(r);
        stage_reloc_fx_t *x = NULL;
        if (stage__u64map_put(&r->puts, req, e) ||
            !(x = fx_add(r, STAGE_RELOC_FX_PUT))) {
            stage__u64map_take(&r->puts, req);
            continue; /* again at the sweep */
        }
        x->req = req;
        x->id = e->old;
        x->cur = e->cur;
        e->req = req;
    }
}

/* e's put is to be made (again). */
static void put_later(stage_reloc_t *r, entry_t *e) {
    if (e->queued || e->req) return;
    e->queued = true;
    e->qnext = NULL;
    if (r->qtail)
        r->qtail->qnext = e;
    else
        r->qhead = e;
    r->qtail = e;
}

/* Unlink e from the chain of hash k in map m (next: the link's offset). */
static void chain_unlink(stage_u64map_t *m, uint64_t k, entry_t *e,
                         size_t next) {
    entry_t *head = stage__u64map_get(m, k), **pp = &head;
    while (*pp && *pp != e)
        pp = (entry_t **)((char *)*pp + next);
    if (!*pp) return;
    *pp = *(entry_t **)((char *)e + next);
    if (head)
        stage__u64map_put(m, k, head); /* replaces: no memory */
    else
        stage__u64map_take(m, k);
}

/* Link e under hash(cur) (unlisted if out of memory: formers miss it). */
static void cur_link(stage_reloc_t *r, entry_t *e) {
    uint64_t k = id_hash(&e->cur);
    e->cnext = stage__u64map_get(&r->bycur, k);
    if (stage__u64map_put(&r->bycur, k, e)) e->cnext = NULL;
}

int stage_reloc_record(stage_reloc_t *r, uint64_t now, const stage_id_t *old,
                       const stage_id_t *cur, uint64_t tag) {
    (void)now;
    if (!id_ok(old) || !id_ok(cur)) return STAGE_EINVAL;
    uint64_t k = id_hash(old);
    entry_t *e;
    for (e = stage__u64map_get(&r->byold, k); e; e = e->onext)
        if (same(&e->old, old)) break;
    if (e) { /* replaced: the latest place wins */
        chain_unlink(&r->bycur, id_hash(&e->cur), e, offsetof(entry_t, cnext));
        e->cur = *cur;
        cur_link(r, e);
        e->ok = false;
        e->stale = e->req != 0; /* the put under way carries the old cur */
    } else {
        if (!(e = stage__calloc(1, sizeof *e))) return STAGE_ENOMEM;
        e->onext = stage__u64map_get(&r->byold, k);
        if (stage__u64map_put(&r->byold, k, e)) {
            stage__free(e);
            return STAGE_ENOMEM;
        }
        e->old = *old;
        e->cur = *cur;
        cur_link(r, e);
    }
    bool took = tag && !e->tag;
    if (took) e->tag = tag;
    put_later(r, e);
    pump_puts(r);
    return took;
}

size_t stage_reloc_formers(const stage_reloc_t *r, const stage_id_t *cur,
                           stage_id_t *out, size_t max) {
    size_t n = 0;
    if (!r->bycur.count) return 0;
    for (entry_t *e = stage__u64map_get(&r->bycur, id_hash(cur)); e && n < max;
         e = e->cnext)
        if (same(&e->cur, cur)) out[n++] = e->old;
    return n;
}

/* Say RECORDED for e's tag (once). */
static void recorded(stage_reloc_t *r, entry_t *e) {
    if (!e->tag) return;
    stage_reloc_fx_t *x = fx_add(r, STAGE_RELOC_FX_RECORDED);
    if (x) x->tag = e->tag;
    e->tag = 0;
}

/* Drop e (in neither chain any more): from the puts, the queue, and the
** store's renewals. */
static void entry_drop(stage_reloc_t *r, entry_t *e) {
    if (e->req) stage__u64map_take(&r->puts, e->req);
    if (e->queued) {
        entry_t **pp = &r->qhead, *prev = NULL;
        while (*pp && *pp != e)
            prev = *pp, pp = &(*pp)->qnext;
        if (*pp) *pp = e->qnext;
        if (r->qtail == e) r->qtail = prev;
    }
    recorded(r, e); /* it stopped: nothing to wait for */
    stage_reloc_fx_t *x = fx_add(r, STAGE_RELOC_FX_REMOVE);
    if (x) {
        x->req = next_req(r);
        x->id = e->old;
    }
    stage__free(e);
}

size_t stage_reloc_recorded(const stage_reloc_t *r) {
    return r->bycur.count;
}

void stage_reloc_forget(stage_reloc_t *r, uint64_t now, const stage_id_t *cur) {
    (void)now;
    if (!r->bycur.count) return; /* the common case: nothing */
    for (;;) {
        entry_t *e = stage__u64map_get(&r->bycur, id_hash(cur));
        while (e && !same(&e->cur, cur))
            e = e->cnext;
        if (!e) break;
        chain_unlink(&r->bycur, id_hash(cur), e, offsetof(entry_t, cnext));
        chain_unlink(&r->byold, id_hash(&e->old), e, offsetof(entry_t, onext));
        entry_drop(r, e);
    }
    pump_puts(r);
}

/* Queue the puts of a chain of entries that are not in. */
static void sweep_one(uint64_t key, void *val, void *ud) {
    (void)key;
    for (entry_t *e = val; e; e = e->onext)
        if (!e->ok) put_later(ud, e);
}

void stage_reloc_sweep(stage_reloc_t *r, uint64_t now) {
    (void)now;
    stage__u64map_each(&r->byold, sweep_one, r);
    pump_puts(r);
}

/* The store answered e's put: status. */
static void put_done(stage_reloc_t *r, entry_t *e, int status) {
    e->req = 0;
    if (e->stale) { /* it put the place before the latest: again now */
        e->stale = false;
        put_later(r, e);
        return;
    }
    if (status) return; /* again at the next sweep */
    e->ok = true;
    recorded(r, e);
}

bool stage_reloc_answer(stage_reloc_t *r, uint64_t now, uint64_t req,
                        int status, const stage_id_t *cur) {
    if (!req) return false;
    target_t *tg = stage__u64map_take(&r->looks, req);
    if (tg) {
        if (tg->state == ASKING) looked(r, now, tg, status, cur);
        pump_finds(r);
        return true;
    }
    entry_t *e = stage__u64map_take(&r->puts, req);
    if (!e) return false;
    put_done(r, e, status);
    pump_puts(r);
    return true;
}
