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

/* A message held for a target being looked up. */
typedef struct held {
    struct held *next;
    int kind;           /* FRAME_MSG or FRAME_STOP */
    stage__future_t *f; /* a call's (a reference), or NULL */
    size_t len;
    char body[]; /* the frame as it was sent (its call id stale) */
} held_t;

/* What this node knows of where an actor of a node that left went. */
typedef struct target {
    struct target *next; /* same hash */
    stage_id_t old;
    int state; /* LOOKING, FOUND, NONE */
    stage_id_t cur;
    held_t *head, *tail;
} target_t;

enum { LOOKING = 1, FOUND, NONE };

/* A store entry this node put (or is putting). */
typedef struct entry {
    struct entry *next;
    stage_id_t old, cur;
    uint64_t req; /* the put under way; 0: done, or to be made again */
    bool ok;
} entry_t;

struct stage__relocate {
    stage_u64map_t targets; /* hash(old) -> target_t chain */
    size_t ntargets;
    stage_u64map_t looks; /* DHT request -> target_t */
    stage_u64map_t puts;  /* DHT request -> entry_t */
    entry_t *entries;     /* every entry this node holds */
};

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

void stage__relocate_close(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    stage__u64map_each(&r->targets, targets_drop, NULL);
    stage__u64map_free(&r->targets);
    stage__u64map_free(&r->looks);
    stage__u64map_free(&r->puts);
    for (entry_t *e; (e = r->entries);) {
        r->entries = e->next;
        stage__free(e);
    }
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
static void held_send(stage__netnode_t *nn, const target_t *tg, held_t *h) {
    stage__node_msg_t m;
    bool stop = h->kind == FRAME_STOP;
    if (stage__node_msg_decode(&m, h->body, h->len, stop)) { /* ours */
        held_fail(tg, h, STAGE_EDECODE, "its message could not be re-read");
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
static void look(stage__netnode_t *nn, target_t *tg) {
    stage__relocate_t *r = nn->relocate;
    uint64_t req = ++nn->next_id;
    tg->state = LOOKING;
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
            held_fail(tg, h, STAGE_EACTOR_NOT_FOUND, why);
        }
        tg->tail = NULL;
        return;
    }
    stage__lookup_drain(nn);
}

bool stage__relocate_frame(stage__netnode_t *nn, const stage_id_t *old,
                           int kind, const char *body, size_t len,
                           stage__future_t *f) {
    stage__relocate_t *r = nn->relocate;
    if (!r || (kind != FRAME_MSG && kind != FRAME_STOP)) return false;
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
    held_t *h = stage__malloc(sizeof *h + len);
    if (!h) {
        if (f) {
            stage__future_reject(f, STAGE_ENOMEM, "out of memory", NULL, NULL);
            stage__future_unref(f);
        }
        return true;
    }
    h->next = NULL;
    h->kind = kind;
    h->f = f;
    h->len = len;
    memcpy(h->body, body, len);
    if (tg->state == FOUND) {
        held_send(nn, tg, h);
        return true;
    }
    if (tg->state == NONE && !fresh) { /* asked already: ask again */
        tg->state = 0;
    }
    if (tg->tail)
        tg->tail->next = h;
    else
        tg->head = h;
    tg->tail = h;
    if (tg->state != LOOKING) look(nn, tg);
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
        char why[200];
        snprintf(why, sizeof why,
                 "its node '%s' left, and the migrations store has no later "
                 "place for it (it stopped, or never moved)",
                 tg->old.node);
        for (held_t *h; (h = tg->head);) {
            tg->head = h->next;
            held_fail(tg, h, STAGE_EACTOR_NOT_FOUND, why);
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

static void put_one(stage__netnode_t *nn, entry_t *e) {
    stage__relocate_t *r = nn->relocate;
    uint64_t req = ++nn->next_id;
    if (stage__u64map_put(&r->puts, req, e)) return; /* again at the sweep */
    if (stage_dht_migration_put(nn->dht, now_ms(nn), req, &e->old, &e->cur)) {
        stage__u64map_take(&r->puts, req);
        return;
    }
    e->req = req;
    stage__lookup_drain(nn);
}

void stage__relocate_record(stage__netnode_t *nn, const stage_id_t *old,
                            const stage_id_t *cur) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    for (entry_t *e = r->entries; e; e = e->next)
        if (same(&e->old, old)) { /* replaced: the latest place wins */
            e->cur = *cur;
            e->ok = false;
            if (!e->req) put_one(nn, e);
            return;
        }
    entry_t *e = stage__calloc(1, sizeof *e);
    if (!e) {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(old, id, sizeof id);
        LOG_ERROR("out of memory: messages to actor '%s' will not find it "
                  "once its first node is gone",
                  id);
        return;
    }
    e->old = *old;
    e->cur = *cur;
    e->next = r->entries;
    r->entries = e;
    put_one(nn, e);
}

size_t stage__relocate_formers(stage__netnode_t *nn, const stage_id_t *cur,
                               stage_id_t *out, size_t max) {
    stage__relocate_t *r = nn->relocate;
    size_t n = 0;
    for (entry_t *e = r ? r->entries : NULL; e && n < max; e = e->next)
        if (same(&e->cur, cur)) out[n++] = e->old;
    return n;
}

void stage__relocate_forget(stage__netnode_t *nn, uint64_t serial) {
    stage__relocate_t *r = nn->relocate;
    for (entry_t **pp = r ? &r->entries : NULL; pp && *pp;) {
        entry_t *e = *pp;
        if (e->cur.serial != serial || strcmp(e->cur.node, nn->address)) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        if (e->req) stage__u64map_take(&r->puts, e->req);
        /* the entry goes from the store once no one renews it */
        stage_dht_migration_remove(nn->dht, now_ms(nn), ++nn->next_id, &e->old);
        stage__free(e);
    }
}

bool stage__relocate_pending(const stage__netnode_t *nn) {
    const stage__relocate_t *r = nn->relocate;
    if (!r) return false;
    for (const entry_t *e = r->entries; e; e = e->next)
        if (!e->ok) return true;
    return false;
}

void stage__relocate_sweep(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r || !atomic_load(&nn->joined)) return;
    for (entry_t *e = r->entries; e; e = e->next)
        if (!e->ok && !e->req) put_one(nn, e);
}

bool stage__relocate_done(stage__netnode_t *nn, const stage_dht_effect_t *x) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return false;
    target_t *tg = stage__u64map_take(&r->looks, x->req);
    if (tg) {
        looked(nn, tg, x);
        return true;
    }
    entry_t *e = stage__u64map_take(&r->puts, x->req);
    if (!e) return false;
    e->req = 0;
    if (x->status == 0) {
        e->ok = true;
    } else {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(&e->old, id, sizeof id);
        LOG_DEBUG("the migrations store did not take actor '%s' (%s): again "
                  "at the next sweep",
                  id, stage_strerror(x->status));
    }
    return true;
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
    /* this node took it over: the store learns where its ids lead now */
    stage__relocate_record(nn, &it->to, &cur);
    if (!it->len) return;
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, it->args + sizeof cur, it->len);
    if (stage_unpack_array(&u, &n)) return;
    for (uint32_t i = 0; i < n && i < RELOCATE_FORMERS_MAX; i++) {
        stage_id_t old;
        if (stage_unpack_id(&u, &old)) {
            LOG_WARN("an actor's earlier ids from node '%s' are not ids: "
                     "ignored",
                     it->to.node);
            return;
        }
        stage__relocate_record(nn, &old, &cur);
    }
}
