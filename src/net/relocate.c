/*
** net/relocate.c: messages that follow an actor whose home node left —
** the migrations store (thesis 4.3, Listing 4.10) as the fallback of the
** home scheme (core/move.c). docs/migration.md "Draining a node".
**
** Writing: a node that takes an actor over from its home (ADOPT, the
** home drains) puts first id -> its id here into the store, and the ids
** it was known by before that home took it over (they came in the ADOPT),
** so chains collapse; a put that fails is made again at the next sweep.
** The entries are this node's (its manager renews them) until the actor
** stops here, or leaves in a drain of this node, when they go.
**
** Reading: a message (MSG or STOP frame) for an actor of a node
** incarnation that said goodbye — one sent after the goodbye, or one the
** session gave back undelivered, since a node that said goodbye takes
** nothing more — is held under its target and the store is asked; then
** every held message goes, in the order it came, to the id found (a
** call's future follows: it is opened again with that node), and later
** ones to that id too (a cache of what was found). No entry: each fails
** ActorNotFound (one-way: a log line). So a sender's order holds: its
** messages the home took were forwarded by it, and acknowledged by their
** node, before its goodbye (the drain's flush); the rest come back here
** in order and go after.
** Runs on the loop's owner (netnode.h).
*/
#include <stdio.h>
#include <string.h>

#include "netnode.h"
#include "stage/pack.h"
#include "util/alloc.h"
#include "util/log.h"

#define RELOCATE_CACHE_MAX 65536 /* targets remembered */
#define RELOCATE_FORMERS_MAX 16  /* earlier ids carried per actor */
#define RELOCATE_NONE_MS 1000    /* "nowhere" is believed this long */
#define RELOCATE_HOPS_MAX 8      /* places that left, one after the other */
#define RELOCATE_PUTS 64         /* store writes under way at once */

/* A message held for a target being looked up. */
typedef struct held {
    struct held *next;
    int kind;  /* FRAME_MSG or FRAME_STOP */
    int hops;  /* places it followed that left in turn */
    bool dead; /* for a node declared dead (why), not one that left */
    char why[STAGE__SESSION_WHY_MAX];
    stage__future_t *f; /* a call's (a reference), or NULL */
    size_t len;
    char body[]; /* the frame as it was sent (its call id stale) */
} held_t;

/* What this node knows of where an actor of a node that left went. */
typedef struct target {
    struct target *next; /* same hash */
    stage_id_t old;
    int state;        /* LOOKING, FOUND, NONE */
    uint64_t none_at; /* NONE: when the store said so (asked again 1 s on) */
    struct target *lnext; /* LOOKING, waiting for its turn to ask */
    stage_id_t cur;
    held_t *head, *tail;
} target_t;

enum { LOOKING = 1, FOUND, NONE };

/* A takeover this node answers (ADOPTED) once what it owes is done: the
** store's entries in, the names taken over (or refused). */
typedef struct adoption {
    stage_id_t home, cur;
    int pending;
} adoption_t;

/* A name taken over with an actor, its compare-and-swap under way. */
struct naming {
    char name[256];
    uint64_t serial; /* the actor here */
    adoption_t *ad;
};

/* A store entry this node put (or is putting). */
typedef struct entry {
    struct entry *onext, *cnext; /* same hash of old, of cur */
    struct entry *qnext;         /* waiting for its put */
    stage_id_t old, cur;
    uint64_t req; /* the put under way; 0: done, or to be made again */
    bool ok, queued;
    adoption_t *ad; /* answered once this entry is in */
} entry_t;

struct stage__relocate {
    stage_u64map_t targets; /* hash(old) -> target_t chain */
    size_t ntargets;
    stage_u64map_t looks;    /* DHT request -> target_t */
    stage_u64map_t puts;     /* DHT request -> entry_t */
    stage_u64map_t byold;    /* hash(old) -> entry_t chain */
    stage_u64map_t bycur;    /* hash(cur) -> entry_t chain */
    entry_t *qhead, *qtail;  /* puts to make, RELOCATE_PUTS at a time */
    target_t *lhead, *ltail; /* lookups to make, as many at a time */
    stage_u64map_t names;    /* DHT request -> naming_t */
};

typedef struct naming naming_t;
static void name_taken(stage__netnode_t *nn, naming_t *nm, int status);
static void adoption_step(stage__netnode_t *nn, adoption_t *ad);

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

static uint64_t id_hash(const stage_id_t *id) {
    uint64_t h = 1469598103934665603ull;
    for (const char *c = id->node; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    h = (h ^ id->incarnation) * 1099511628211ull;
    h = (h ^ id->serial) * 1099511628211ull;
    return h ? h : 1;
}

static bool same(const stage_id_t *a, const stage_id_t *b) {
    return a->serial == b->serial && a->incarnation == b->incarnation &&
           !strcmp(a->node, b->node);
}

int stage__relocate_start(stage__netnode_t *nn) {
    nn->relocate = stage__calloc(1, sizeof *nn->relocate);
    return nn->relocate ? 0 : STAGE_ENOMEM;
}

/* Fail (or log) held message h for target tg: status, why. Frees h. */
static void held_fail(const target_t *tg, held_t *h, int status,
                      const char *why) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 400];
    stage_id_format(&tg->old, id, sizeof id);
    snprintf(msg, sizeof msg, "actor '%s' not found: %s", id, why);
    if (h->f) {
        stage__future_reject(h->f, status, msg, id, NULL);
        stage__future_unref(h->f);
    } else {
        LOG_WARN("a one-way message is lost: %s", msg);
    }
    stage__free(h);
}

/* The store has no later place for tg: h fails as it would have without
** the store — NodeDown for a dead node's actor, else ActorNotFound (why). */
static void held_gone(const target_t *tg, held_t *h, const char *why) {
    if (!h->dead) {
        held_fail(tg, h, STAGE_EACTOR_NOT_FOUND, why);
        return;
    }
    stage__node_msg_t m;
    bool stop = h->kind == FRAME_STOP;
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 600];
    stage_id_format(&tg->old, id, sizeof id);
    bool named = !stage__node_msg_decode(&m, h->body, h->len, stop);
    snprintf(msg, sizeof msg,
             "cannot send '%.*s' to actor '%s': its node '%s' (incarnation "
             "%x) is down: %s",
             named ? (int)m.mlen : 7, named ? m.method : "message", id,
             tg->old.node, tg->old.incarnation, h->why);
    if (h->f) {
        stage__future_reject(h->f, STAGE_ENODE_DOWN, msg, id, NULL);
        stage__future_unref(h->f);
    } else {
        LOG_WARN("%s", msg);
    }
    stage__free(h);
}

static void target_free(target_t *tg, int status, const char *why) {
    for (held_t *h; (h = tg->head);) {
        tg->head = h->next;
        held_fail(tg, h, status, why);
    }
    stage__free(tg);
}

static void targets_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (target_t *tg = val, *next; tg; tg = next) {
        next = tg->next;
        target_free(tg, STAGE_ESTOPPED, "this node stopped first");
    }
}

static void entries_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    for (entry_t *e = val, *next; e; e = next) {
        next = e->onext;
        stage__free(e->ad && --e->ad->pending == 0 ? e->ad : NULL);
        stage__free(e);
    }
}

static void names_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    naming_t *nm = val;
    stage__free(nm->ad && --nm->ad->pending == 0 ? nm->ad : NULL);
    stage__free(nm);
}

void stage__relocate_close(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    stage__u64map_each(&r->targets, targets_drop, NULL);
    stage__u64map_free(&r->targets);
    stage__u64map_free(&r->looks);
    stage__u64map_free(&r->puts);
    stage__u64map_each(&r->names, names_drop, NULL);
    stage__u64map_free(&r->names);
    stage__u64map_each(&r->byold, entries_drop, NULL);
    stage__u64map_free(&r->byold);
    stage__u64map_free(&r->bycur);
    stage__free(r);
    nn->relocate = NULL;
}

static target_t *target_get(stage__relocate_t *r, const stage_id_t *old) {
    for (target_t *tg = stage__u64map_get(&r->targets, id_hash(old)); tg;
         tg = tg->next)
        if (same(&tg->old, old)) return tg;
    return NULL;
}

/* Send held message h to tg->cur (FOUND). Frees h. */
static bool enqueue(stage__netnode_t *nn, const stage_id_t *old, held_t *h);

static void held_send(stage__netnode_t *nn, const target_t *tg, held_t *h) {
    stage__node_msg_t m;
    bool stop = h->kind == FRAME_STOP;
    if (stage__node_msg_decode(&m, h->body, h->len, stop)) { /* ours */
        held_fail(tg, h, STAGE_EDECODE, "its message could not be re-read");
        return;
    }
    if (stage__transport_has_left(nn->tr, tg->cur.node, tg->cur.incarnation)) {
        /* the node it went to left in turn: on from there */
        if (++h->hops > RELOCATE_HOPS_MAX) {
            held_fail(tg, h, STAGE_EACTOR_NOT_FOUND,
                      "it moved on through more nodes that left than a "
                      "message follows");
            return;
        }
        if (!enqueue(nn, &tg->cur, h))
            held_fail(tg, h, STAGE_ENOMEM, "out of memory");
        return;
    }
    if (!strcmp(tg->cur.node, nn->address)) { /* it lives here now */
        stage__type_t *ty = stage__type_find(nn->node, tg->cur.type);
        stage__env_t *e =
            ty ? stage__env_new(m.method, m.mlen, m.args, m.alen) : NULL;
        if (!e) {
            held_fail(tg, h, ty ? STAGE_ENOMEM : STAGE_EACTOR_NOT_FOUND,
                      ty ? "out of memory" : "its type is not this node's");
            return;
        }
        if (stop) e->hdr.kind = ENV_STOP_ACTOR;
        e->future = h->f; /* its reference */
        e->target = tg->cur.serial;
        e->target_type = ty;
        stage__route(nn->node, e);
        stage__free(h);
        return;
    }
    uint64_t call = 0;
    if (h->f && !(call = stage__netnode_call_f(nn, tg->cur.node, h->f))) {
        stage__free(h); /* f failed and released */
        return;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stop ? stage__node_stop_encode(&p, call, &tg->cur)
                  : stage__node_msg_encode(&p, call, &tg->cur, m.method, m.mlen,
                                           m.args, m.alen);
    if (!rc)
        rc =
            stage__netnode_send_frame(nn, tg->cur.node, h->kind, p.data, p.len);
    stage_pack_free(&p);
    if (rc) {
        char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 200];
        stage_id_format(&tg->cur, id, sizeof id);
        snprintf(msg, sizeof msg,
                 "cannot send a message to actor '%s' (where it moved): %s", id,
                 stage_strerror(rc));
        if (call)
            stage__netnode_call_fail(nn, call, STAGE_ENODE_DOWN, msg);
        else
            LOG_WARN("%s", msg);
    }
    stage__free(h);
}

/* Look tg up in the store (LOOKING). */
/* Ask the store where tg went. */
static void ask(stage__netnode_t *nn, target_t *tg) {
    stage__relocate_t *r = nn->relocate;
    uint64_t req = ++nn->next_id;
    int rc = stage__u64map_put(&r->looks, req, tg);
    if (!rc) rc = stage_dht_migration_find(nn->dht, now_ms(nn), req, &tg->old);
    if (rc) {
        stage__u64map_take(&r->looks, req);
        tg->state = NONE;
        char why[160];
        snprintf(why, sizeof why,
                 "its node left, and the migrations store cannot be asked "
                 "where it went (%s)",
                 stage_strerror(rc));
        for (held_t *h; (h = tg->head);) {
            tg->head = h->next;
            held_gone(tg, h, why);
        }
        tg->tail = NULL;
        return;
    }
}

/* Ask for the targets waiting, while fewer than RELOCATE_PUTS lookups are
** under way (a sender of thousands of a drained node's actors would put
** them into its DHT manager at once otherwise). True if one was asked. */
static bool look_more(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    bool asked = false;
    while (r->lhead && r->looks.count < RELOCATE_PUTS) {
        target_t *tg = r->lhead;
        if (!(r->lhead = tg->lnext)) r->ltail = NULL;
        tg->lnext = NULL;
        ask(nn, tg);
        asked = true;
    }
    return asked;
}

/* Look tg up in the store (LOOKING): asked at stage__relocate_run, when
** its turn comes (this may run among the DHT manager's effects, which
** must not call it). */
static void look(stage__netnode_t *nn, target_t *tg) {
    stage__relocate_t *r = nn->relocate;
    tg->state = LOOKING;
    tg->lnext = NULL;
    if (r->ltail)
        r->ltail->lnext = tg;
    else
        r->lhead = tg;
    r->ltail = tg;
}

/* Hold h under target old (looked up if need be), or send it on at once.
** False if there is no memory for a new target (h untouched). */
static bool enqueue(stage__netnode_t *nn, const stage_id_t *old, held_t *h) {
    stage__relocate_t *r = nn->relocate;
    target_t *tg = target_get(r, old);
    bool fresh = !tg;
    if (!tg) {
        if (r->ntargets >= RELOCATE_CACHE_MAX) return false;
        if (!(tg = stage__calloc(1, sizeof *tg))) return false;
        tg->old = *old;
        uint64_t k = id_hash(old);
        tg->next = stage__u64map_get(&r->targets, k);
        if (stage__u64map_put(&r->targets, k, tg)) {
            stage__free(tg);
            return false;
        }
        r->ntargets++;
    }
    h->next = NULL;
    if (tg->state == FOUND) {
        held_send(nn, tg, h);
        return true;
    }
    if (tg->state == NONE && !fresh) {
        if (now_ms(nn) - tg->none_at < RELOCATE_NONE_MS) { /* asked lately */
            held_gone(tg, h,
                      "its node left, and the migrations store has no later "
                      "place for it (it stopped, or never moved)");
            return true;
        }
        tg->state = 0; /* ask again */
    }
    if (tg->tail)
        tg->tail->next = h;
    else
        tg->head = h;
    tg->tail = h;
    if (tg->state != LOOKING) look(nn, tg);
    return true;
}

bool stage__relocate_frame(stage__netnode_t *nn, const stage_id_t *old,
                           int kind, const char *body, size_t len,
                           stage__future_t *f, const char *dead) {
    if (!nn->relocate || (kind != FRAME_MSG && kind != FRAME_STOP))
        return false;
    held_t *h = stage__malloc(sizeof *h + len);
    if (!h) return false;
    h->next = NULL;
    h->kind = kind;
    h->hops = 0;
    h->dead = dead != NULL;
    snprintf(h->why, sizeof h->why, "%s", dead ? dead : "");
    h->f = f;
    h->len = len;
    memcpy(h->body, body, len);
    if (!enqueue(nn, old, h)) {
        stage__free(h);
        return false;
    }
    stage__relocate_run(nn);
    return true;
}

/* The store answered tg's lookup (x). */
static void looked(stage__netnode_t *nn, target_t *tg,
                   const stage_dht_effect_t *x) {
    stage_unpack_t u;
    stage_id_t cur;
    bool found = false;
    if (x->status == 0 && x->nitems) {
        stage_unpack_init(&u, x->items[0].value, x->items[0].len);
        found = stage_unpack_id(&u, &cur) == 0 && !same(&cur, &tg->old);
    }
    if (!found) {
        tg->state = NONE;
        tg->none_at = now_ms(nn);
        char why[200];
        snprintf(why, sizeof why,
                 "its node '%s' left, and the migrations store has no later "
                 "place for it (it stopped, or never moved)",
                 tg->old.node);
        for (held_t *h; (h = tg->head);) {
            tg->head = h->next;
            held_gone(tg, h, why);
        }
        tg->tail = NULL;
        return;
    }
    tg->state = FOUND;
    tg->cur = cur;
    char a[STAGE_ID_TEXT_MAX], b[STAGE_ID_TEXT_MAX];
    stage_id_format(&tg->old, a, sizeof a);
    stage_id_format(&cur, b, sizeof b);
    LOG_DEBUG("actor '%s' is '%s' now (migrations store)", a, b);
    for (held_t *h; (h = tg->head);) {
        tg->head = h->next;
        held_send(nn, tg, h);
    }
    tg->tail = NULL;
}

/* ---- the entries this node puts ------------------------------------------ */

/* Start the puts waiting, while fewer than RELOCATE_PUTS are under way
** (a drain hands thousands of actors over at once: a window keeps the
** DHT's queues short). */
static bool pump(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    bool sent = false;
    while (r->qhead && r->puts.count < RELOCATE_PUTS) {
        entry_t *e = r->qhead;
        if (!(r->qhead = e->qnext)) r->qtail = NULL;
        e->queued = false;
        uint64_t req = ++nn->next_id;
        if (stage__u64map_put(&r->puts, req, e)) break; /* at the sweep */
        if (stage_dht_migration_put(nn->dht, now_ms(nn), req, &e->old,
                                    &e->cur)) {
            stage__u64map_take(&r->puts, req);
            break; /* again at the sweep */
        }
        e->req = req;
        sent = true;
    }
    return sent;
}

void stage__relocate_run(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r || (!r->qhead && !r->lhead)) return; /* the common case */
    if (nn->in_effects) return; /* stage__lookup_drain runs it at the end */
    bool sent = pump(nn);
    if (look_more(nn) || sent) stage__lookup_drain(nn); /* which runs this */
}

/* e's put is to be made (again). */
static void put_later(stage__netnode_t *nn, entry_t *e) {
    stage__relocate_t *r = nn->relocate;
    if (e->queued || e->req) return;
    e->queued = true;
    e->qnext = NULL;
    if (r->qtail)
        r->qtail->qnext = e;
    else
        r->qhead = e;
    r->qtail = e;
}

/* Link e under hash(cur) / unlink it. */
static void cur_link(stage__relocate_t *r, entry_t *e) {
    uint64_t k = id_hash(&e->cur);
    e->cnext = stage__u64map_get(&r->bycur, k);
    if (stage__u64map_put(&r->bycur, k, e)) e->cnext = NULL; /* unlisted */
}

static void cur_unlink(stage__relocate_t *r, entry_t *e) {
    uint64_t k = id_hash(&e->cur);
    entry_t *head = stage__u64map_get(&r->bycur, k), **pp = &head;
    while (*pp && *pp != e)
        pp = &(*pp)->cnext;
    if (!*pp) return;
    *pp = e->cnext;
    if (head)
        stage__u64map_put(&r->bycur, k, head); /* replaces: no memory */
    else
        stage__u64map_take(&r->bycur, k);
}

/* Record old -> cur, counted in ad (may be NULL) until it is in. */
static void record(stage__netnode_t *nn, const stage_id_t *old,
                   const stage_id_t *cur, adoption_t *ad) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    uint64_t k = id_hash(old);
    for (entry_t *e = stage__u64map_get(&r->byold, k); e; e = e->onext)
        if (same(&e->old, old)) { /* replaced: the latest place wins */
            cur_unlink(r, e);
            e->cur = *cur;
            cur_link(r, e);
            e->ok = false;
            if (ad && !e->ad) e->ad = ad, ad->pending++;
            put_later(nn, e);
            stage__relocate_run(nn);
            return;
        }
    entry_t *e = stage__calloc(1, sizeof *e);
    if (e) e->onext = stage__u64map_get(&r->byold, k);
    if (!e || stage__u64map_put(&r->byold, k, e)) {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(old, id, sizeof id);
        LOG_ERROR("out of memory: messages to actor '%s' will not find it "
                  "once its first node is gone",
                  id);
        stage__free(e);
        return;
    }
    e->old = *old;
    e->cur = *cur;
    cur_link(r, e);
    if (ad) e->ad = ad, ad->pending++;
    put_later(nn, e);
    stage__relocate_run(nn);
}

void stage__relocate_record(stage__netnode_t *nn, const stage_id_t *old,
                            const stage_id_t *cur) {
    record(nn, old, cur, NULL);
}

size_t stage__relocate_formers(stage__netnode_t *nn, const stage_id_t *cur,
                               stage_id_t *out, size_t max) {
    stage__relocate_t *r = nn->relocate;
    size_t n = 0;
    if (!r || !r->bycur.count) return 0;
    for (entry_t *e = stage__u64map_get(&r->bycur, id_hash(cur)); e && n < max;
         e = e->cnext)
        if (same(&e->cur, cur)) out[n++] = e->old;
    return n;
}

/* Drop e (it is in neither map's chain any more) from the store's
** renewals, and the queue. */
static void entry_drop(stage__netnode_t *nn, entry_t *e) {
    stage__relocate_t *r = nn->relocate;
    if (e->req) stage__u64map_take(&r->puts, e->req);
    if (e->queued) {
        entry_t **pp = &r->qhead, *prev = NULL;
        while (*pp && *pp != e)
            prev = *pp, pp = &(*pp)->qnext;
        if (*pp) *pp = e->qnext;
        if (r->qtail == e) r->qtail = prev;
    }
    if (e->ad) adoption_step(nn, e->ad); /* it stopped: answered */
    /* the entry goes from the store once no one renews it */
    stage_dht_migration_remove(nn->dht, now_ms(nn), ++nn->next_id, &e->old);
    stage__free(e);
}

void stage__relocate_forget(stage__netnode_t *nn, uint64_t serial) {
    stage__relocate_t *r = nn->relocate;
    if (!r || !r->bycur.count) return; /* the common case: nothing */
    stage_id_t me = {.serial = serial};
    stage__addr_copy(me.node, nn->address);
    me.incarnation = stage__node_incarnation(nn->node);
    entry_t *gone[RELOCATE_FORMERS_MAX + 1];
    size_t n = 0;
    for (entry_t *e = stage__u64map_get(&r->bycur, id_hash(&me));
         e && n < sizeof gone / sizeof gone[0]; e = e->cnext)
        if (same(&e->cur, &me)) gone[n++] = e;
    for (size_t i = 0; i < n; i++) {
        entry_t *e = gone[i];
        cur_unlink(r, e);
        uint64_t k = id_hash(&e->old);
        entry_t *head = stage__u64map_get(&r->byold, k), **pp = &head;
        while (*pp && *pp != e)
            pp = &(*pp)->onext;
        if (*pp) *pp = e->onext;
        if (head)
            stage__u64map_put(&r->byold, k, head);
        else
            stage__u64map_take(&r->byold, k);
        entry_drop(nn, e);
    }
    stage__relocate_run(nn);
}

typedef struct sweeping {
    stage__netnode_t *nn;
} sweeping_t;

static void sweep_one(uint64_t key, void *val, void *ud) {
    (void)key;
    sweeping_t *sw = ud;
    for (entry_t *e = val; e; e = e->onext)
        if (!e->ok) put_later(sw->nn, e);
}

void stage__relocate_sweep(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r || !atomic_load(&nn->joined) || !r->byold.count) return;
    sweeping_t sw = {nn};
    stage__u64map_each(&r->byold, sweep_one, &sw);
    stage__relocate_run(nn);
}

bool stage__relocate_done(stage__netnode_t *nn, const stage_dht_effect_t *x) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return false;
    target_t *tg = stage__u64map_take(&r->looks, x->req);
    if (tg) {
        looked(nn, tg, x); /* the next asked at stage__relocate_run */
        return true;
    }
    naming_t *nm = stage__u64map_take(&r->names, x->req);
    if (nm) {
        name_taken(nn, nm, x->status);
        return true;
    }
    entry_t *e = stage__u64map_take(&r->puts, x->req);
    if (!e) return false;
    e->req = 0; /* the next put goes at stage__relocate_run */
    if (x->status == 0) {
        e->ok = true;
        if (e->ad) adoption_step(nn, e->ad);
        e->ad = NULL;
    } else {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(&e->old, id, sizeof id);
        LOG_DEBUG("the migrations store did not take actor '%s' (%s): again "
                  "at the next sweep",
                  id, stage_strerror(x->status));
    }
    return true;
}

/* ---- names that come with an actor ----------------------------------------
 */

/* One thing ad waited for is done: at the last, its ADOPTED goes. */
static void adoption_step(stage__netnode_t *nn, adoption_t *ad) {
    if (--ad->pending) return;
    stage__move_msg_t q = {
        .op = STAGE__MOVE_ADOPTED, .home = ad->home, .at = ad->cur};
    stage__netmove_hook(nn->node, ad->home.node, &q, NULL);
    stage__free(ad);
}

/* Take name over from actor old for cur, an actor of this node now. */
static void name_take(stage__netnode_t *nn, const char *name, size_t len,
                      const stage_id_t *old, const stage_id_t *cur,
                      adoption_t *ad) {
    stage__relocate_t *r = nn->relocate;
    naming_t *nm = stage__malloc(sizeof *nm);
    if (!nm) return;
    nm->ad = ad;
    memcpy(nm->name, name, len);
    nm->name[len] = '\0';
    nm->serial = cur->serial;
    uint64_t req = ++nn->next_id;
    if (stage__u64map_put(&r->names, req, nm) ||
        stage_dht_name_move(nn->dht, now_ms(nn), req, nm->name, old, cur)) {
        stage__u64map_take(&r->names, req);
        LOG_WARN("the name '%s' does not follow its actor here: the DHT "
                 "cannot be asked",
                 nm->name);
        stage__free(nm);
        return;
    }
    ad->pending++;
    stage__lookup_drain(nn);
}

/* The DHT answered a name's takeover. */
static void name_taken(stage__netnode_t *nn, naming_t *nm, int status) {
    if (status == 0)
        stage__hold_claimed(&nn->holdings, nm->name, nm->serial);
    else
        LOG_WARN("the name '%s' does not follow its actor here: %s", nm->name,
                 stage_strerror(status));
    adoption_t *ad = nm->ad;
    stage__free(nm);
    adoption_step(nn, ad);
}

/* ---- the hook (core/netif.h: rehomed) ------------------------------------ */

void stage__relocate_hook(stage_node_t *node, const stage_id_t *old,
                          const stage_id_t *cur, int status,
                          const char *formers, size_t flen) {
    stage__netnode_t *nn = stage__node_net(node);
    stage__netnode_item_t *it = nn ? stage__calloc(1, sizeof *it) : NULL;
    char *args = it ? stage__malloc(sizeof *cur + flen + 1) : NULL;
    if (!args) {
        stage__free(it);
        LOG_ERROR("out of memory: a handover of actor '%s' is not recorded",
                  old->type);
        return;
    }
    it->kind = ITEM_REHOMED;
    it->to = *old;
    it->op = status;
    memcpy(args, cur, sizeof *cur);
    if (flen) memcpy(args + sizeof *cur, formers, flen);
    it->args = args;
    it->len = flen;
    stage__netnode_push(nn, it);
}

void stage__relocate_item(stage__netnode_t *nn, stage__netnode_item_t *it) {
    stage_id_t cur;
    memcpy(&cur, it->args, sizeof cur);
    if (!strcmp(it->to.node, nn->address)) { /* this node handed it over */
        stage__drain_rehomed(nn, &it->to, &cur, it->op);
        return;
    }
    if (it->op == STAGE_ENODE_DOWN) { /* its home is gone: no one to answer */
        stage__relocate_record(nn, &it->to, &cur);
        return;
    }
    /* this node took it over: the store learns where its ids lead now,
    ** and the names its home held for it are this node's; its home hears
    ** once they are (it leaves after) */
    adoption_t *ad = stage__calloc(1, sizeof *ad);
    if (!ad) {
        LOG_ERROR("out of memory: an actor taken over from '%s' is not "
                  "recorded",
                  it->to.node);
        return;
    }
    ad->home = it->to;
    ad->cur = cur;
    ad->pending = 1; /* until every request below is out */
    record(nn, &it->to, &cur, ad);
    if (it->len) {
        stage_unpack_t u;
        uint32_t n, k;
        stage_unpack_init(&u, it->args + sizeof cur, it->len);
        if (stage_unpack_array(&u, &n) || n != 2 || stage_unpack_array(&u, &n))
            goto bad;
        for (uint32_t i = 0; i < n; i++) {
            stage_id_t old;
            if (stage_unpack_id(&u, &old)) goto bad;
            if (i < RELOCATE_FORMERS_MAX) record(nn, &old, &cur, ad);
        }
        if (stage_unpack_array(&u, &k)) goto bad;
        for (uint32_t i = 0; i < k; i++) {
            const char *name;
            size_t len;
            if (stage_unpack_str(&u, &name, &len) || !len || len > 255)
                goto bad;
            name_take(nn, name, len, &it->to, &cur, ad);
        }
    }
    adoption_step(nn, ad);
    return;
bad:
    LOG_WARN("the earlier ids and names of an actor node '%s' handed over "
             "are not what they should be: ignored",
             it->to.node);
    adoption_step(nn, ad);
}
