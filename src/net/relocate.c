/*
** net/relocate.c: the driver of node/relocate.c (messages that follow an
** actor whose home node left or died; the migrations store entries this
** node writes — the fallback of the home scheme, core/move.c). The rules
** and states are the machine's (node/relocate.h); this file holds the
** frames and their futures by handle, runs the machine's effects against
** the DHT manager and the transport, and says ADOPTED to a home once what
** this node owes it is done (the store's entries in, the names taken over
** with a DHT compare-and-swap). docs/migration.md "Draining a node".
**
** Reading: a message (MSG or STOP frame) for an actor of a node
** incarnation that said goodbye — one sent after the goodbye, or one the
** session gave back undelivered, since a node that said goodbye takes
** nothing more — or that was declared dead is held here and given to the
** machine; a SEND goes to the node the store named (a call's future
** follows: it is opened again with that node), or to the actor here if it
** lives here now; a FAIL rejects the future (a one-way message: a log
** line). So a sender's order holds: its messages the home took were
** forwarded by it, and acknowledged by their node, before its goodbye (the
** drain's flush); the rest come back here in order and go after.
** Writing: a node that takes an actor over from its home (ADOPT, the home
** drains) records first id -> its id, and the ids it was known by before
** (they came in the ADOPT), so chains collapse.
** Store requests are made outside the DHT manager's effects
** (stage__relocate_run; stage__lookup_drain runs it at their end).
** Runs on the loop's owner (netnode.h).
*/
#include <stdio.h>
#include <string.h>

#include "netnode.h"
#include "node/relocate.h"
#include "stage/pack.h"
#include "util/alloc.h"
#include "util/log.h"

#define RELOCATE_FORMERS_MAX 16 /* earlier ids carried per actor */
/* A name's compare-and-swap that the DHT refused for want of an entry, or
** that timed out, is asked again at the next sweeps (every 500 ms), this
** many times; then the name is claimed for its actor (see name_taken). */
#define RELOCATE_NAME_ASKS 10

/* A message held while the machine finds where its actor is. */
typedef struct held {
    int kind;           /* FRAME_MSG or FRAME_STOP */
    stage__future_t *f; /* a call's (a reference), or NULL */
    size_t len;
    char body[]; /* the frame as it was sent (its call id stale) */
} held_t;

/* A takeover this node answers (ADOPTED) once what it owes is done: the
** store's entries in, the names taken over (or refused). */
typedef struct adoption {
    stage_id_t home, cur;
    uint64_t tag; /* the machine's RECORDED says it */
    int pending;
} adoption_t;

/* A name taken over with an actor, its compare-and-swap under way (or
** waiting for the sweep to be asked again). */
struct naming {
    char name[256];
    stage_id_t old, cur; /* the home's id, the actor here */
    adoption_t *ad;      /* NULL: an orphan's (its home died) */
    int asks;            /* asked again so far */
    bool claim;          /* the last resort: a claim, not a swap */
    struct naming *next; /* in waiting */
};

struct stage__relocate {
    stage_reloc_t *m;
    stage_u64map_t held; /* handle -> held_t */
    uint64_t handles;
    stage_u64map_t adoptions; /* tag -> adoption_t */
    uint64_t tags;
    stage_u64map_t names;   /* DHT request -> naming_t */
    struct naming *waiting; /* names to ask again at the next sweep */
    bool closing;           /* SENDs fail Stopped */
    bool running;           /* run_effects is under way */
};

typedef struct naming naming_t;
static void name_taken(stage__netnode_t *nn, naming_t *nm,
                       const stage_dht_effect_t *x);
static void adoption_step(stage__netnode_t *nn, adoption_t *ad);

/* The loop's time (ms). */
static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

/* The machine's gone hook: what the transport knows of id's node. */
static int node_gone(void *ud, const stage_id_t *id, const char **why) {
    stage__netnode_t *nn = ud;
    if (stage__transport_has_left(nn->tr, id->node, id->incarnation))
        return STAGE_RELOC_LEFT;
    if (stage__transport_is_dead(nn->tr, id->node, id->incarnation, why))
        return STAGE_RELOC_DEAD;
    return STAGE_RELOC_LIVE;
}

int stage__relocate_start(stage__netnode_t *nn) {
    stage__relocate_t *r = stage__calloc(1, sizeof *r);
    if (!r) return STAGE_ENOMEM;
    stage_reloc_config_t cfg;
    stage_reloc_config_init(&cfg);
    cfg.next_id = &nn->next_id; /* shared with the other DHT requests */
    cfg.gone = node_gone;
    cfg.ud = nn;
    if (!(r->m = stage_reloc_new(&cfg))) {
        stage__free(r);
        return STAGE_ENOMEM;
    }
    nn->relocate = r;
    return 0;
}

/* Fail held message h (for actor id): status, why (the machine's). */
static void held_fail(const stage_id_t *to, held_t *h, int status,
                      const char *why) {
    char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 600];
    stage_id_format(to, id, sizeof id);
    if (status == STAGE_ENODE_DOWN || status == STAGE_EUNREACHABLE) {
        /* as without the store */
        stage__node_msg_t m;
        bool named =
            !stage__node_msg_decode(&m, h->body, h->len, h->kind == FRAME_STOP);
        snprintf(msg, sizeof msg,
                 "cannot send '%.*s' to actor '%s': its node '%s' "
                 "(incarnation %x) is %s: %s",
                 named ? (int)m.mlen : 7, named ? m.method : "message", id,
                 to->node, to->incarnation,
                 status == STAGE_ENODE_DOWN ? "down" : "unreachable", why);
    } else {
        snprintf(msg, sizeof msg, "actor '%s' not found: %s", id, why);
    }
    if (h->f) {
        stage__future_reject(h->f, status, msg, id, NULL);
        stage__future_unref(h->f);
    } else {
        LOG_WARN("a one-way message is lost: %s", msg);
    }
}

/* Deliver held message h here: its actor cur lives on this node now. */
static void held_here(stage__netnode_t *nn, const stage_id_t *cur, held_t *h,
                      const stage__node_msg_t *m) {
    stage__type_t *ty = stage__type_find(nn->node, cur->type);
    stage__env_t *e =
        ty ? stage__env_new(m->method, m->mlen, m->args, m->alen) : NULL;
    if (!e) {
        held_fail(cur, h, ty ? STAGE_ENOMEM : STAGE_EACTOR_NOT_FOUND,
                  ty ? "out of memory" : "its type is not this node's");
        return;
    }
    if (h->kind == FRAME_STOP) e->hdr.kind = ENV_STOP_ACTOR;
    e->future = h->f; /* its reference */
    e->target = cur->serial;
    e->target_type = ty;
    stage__route(nn->node, e);
}

/* Send held message h to actor cur, where the store says it is. */
static void held_send(stage__netnode_t *nn, const stage_id_t *cur, held_t *h) {
    stage__node_msg_t m;
    bool stop = h->kind == FRAME_STOP;
    if (stage__node_msg_decode(&m, h->body, h->len, stop)) { /* ours */
        held_fail(cur, h, STAGE_EDECODE, "its message could not be re-read");
        return;
    }
    if (!strcmp(cur->node, nn->address)) {
        held_here(nn, cur, h, &m);
        return;
    }
    uint64_t call = 0;
    if (h->f && !(call = stage__netnode_call_f(nn, cur->node, h->f)))
        return; /* f failed and released */
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stop ? stage__node_stop_encode(&p, call, cur)
                  : stage__node_msg_encode(&p, call, cur, m.method, m.mlen,
                                           m.args, m.alen);
    if (!rc)
        rc = stage__netnode_send_frame(nn, cur->node, h->kind, p.data, p.len);
    stage_pack_free(&p);
    if (rc) {
        char id[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 200];
        stage_id_format(cur, id, sizeof id);
        snprintf(msg, sizeof msg,
                 "cannot send a message to actor '%s' (where it moved): %s", id,
                 stage_strerror(rc));
        if (call)
            stage__netnode_call_fail(nn, call, STAGE_ENODE_DOWN, msg);
        else
            LOG_WARN("%s", msg);
    }
}

/* Run one effect of the machine. True if it asked the DHT manager. */
static bool run_one(stage__netnode_t *nn, const stage_reloc_fx_t *x) {
    stage__relocate_t *r = nn->relocate;
    held_t *h;
    int rc;
    switch (x->kind) {
    case STAGE_RELOC_FX_SEND:
    case STAGE_RELOC_FX_FAIL:
        if (!(h = stage__u64map_take(&r->held, x->handle))) return false;
        if (x->kind == STAGE_RELOC_FX_FAIL)
            held_fail(&x->id, h, x->status, x->why);
        else if (r->closing)
            held_fail(&x->id, h, STAGE_ESTOPPED, "this node stopped first");
        else
            held_send(nn, &x->id, h);
        stage__free(h);
        return false;
    case STAGE_RELOC_FX_FIND:
        if (r->closing) return false;
        rc = stage_dht_migration_find(nn->dht, now_ms(nn), x->req, &x->id);
        if (rc) stage_reloc_answer(r->m, now_ms(nn), x->req, rc, NULL);
        return !rc;
    case STAGE_RELOC_FX_PUT:
        if (r->closing) return false;
        rc = stage_dht_migration_put(nn->dht, now_ms(nn), x->req, &x->id,
                                     &x->cur);
        if (rc) stage_reloc_answer(r->m, now_ms(nn), x->req, rc, NULL);
        return !rc;
    case STAGE_RELOC_FX_REMOVE:
        /* the entry goes from the store once no one renews it */
        return !r->closing &&
               !stage_dht_migration_remove(nn->dht, now_ms(nn), x->req, &x->id);
    case STAGE_RELOC_FX_RECORDED: {
        adoption_t *ad = stage__u64map_get(&r->adoptions, x->tag);
        if (ad && !r->closing) adoption_step(nn, ad);
        return false;
    }
    }
    return false;
}

/* Run the machine's effects until it has no more. True if the DHT manager
** was asked. */
static bool run_effects(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    bool asked = false;
    size_t n;
    const stage_reloc_fx_t *fx;
    /* an effect may lead back here (a send that ends a session gives
    ** frames back): the loop under way reads what that adds, and a second
    ** reader would take the list it is running */
    if (r->running) return false;
    r->running = true;
    while ((fx = stage_reloc_effects(r->m, &n)) && n)
        for (size_t i = 0; i < n; i++)
            asked |= run_one(nn, &fx[i]);
    r->running = false;
    return asked;
}

void stage__relocate_run(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r || !stage_reloc_pending(r->m)) return; /* the common case */
    if (nn->in_effects) return; /* stage__lookup_drain runs it at the end */
    if (run_effects(nn)) stage__lookup_drain(nn); /* which runs this */
}

/* A message still held at close: its future fails Stopped. */
static void held_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    held_t *h = val;
    if (h->f) {
        stage__future_reject(h->f, STAGE_ESTOPPED,
                             "this node stopped before the message could "
                             "follow its actor",
                             NULL, NULL);
        stage__future_unref(h->f);
    } else {
        LOG_WARN("a one-way message is lost: this node stopped before it "
                 "could follow its actor");
    }
    stage__free(h);
}

/* Free a map's value. */
static void free_val(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage__relocate_close(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    r->closing = true;
    stage_reloc_stop(r->m);
    run_effects(nn);
    /* none, unless an effect was lost for want of memory */
    stage__u64map_each(&r->held, held_drop, NULL);
    stage__u64map_free(&r->held);
    stage__u64map_each(&r->names, free_val, NULL);
    stage__u64map_free(&r->names);
    while (r->waiting) {
        naming_t *nm = r->waiting;
        r->waiting = nm->next;
        stage__free(nm);
    }
    stage__u64map_each(&r->adoptions, free_val, NULL);
    stage__u64map_free(&r->adoptions);
    stage_reloc_destroy(&r->m);
    stage__free(r);
    nn->relocate = NULL;
}

bool stage__relocate_frame(stage__netnode_t *nn, const stage_id_t *old,
                           int kind, const char *body, size_t len,
                           stage__future_t *f, const char *dead) {
    return stage__relocate_frame_down(nn, old, kind, body, len, f,
                                      dead ? STAGE_ENODE_DOWN : 0, dead);
}

bool stage__relocate_frame_down(stage__netnode_t *nn, const stage_id_t *old,
                                int kind, const char *body, size_t len,
                                stage__future_t *f, int status,
                                const char *why) {
    stage__relocate_t *r = nn->relocate;
    if (!r || (kind != FRAME_MSG && kind != FRAME_STOP)) return false;
    held_t *h = stage__malloc(sizeof *h + len);
    if (!h) return false;
    h->kind = kind;
    h->f = f;
    h->len = len;
    memcpy(h->body, body, len);
    uint64_t handle = ++r->handles;
    if (stage__u64map_put(&r->held, handle, h)) {
        stage__free(h);
        return false;
    }
    if (stage_reloc_frame_down(r->m, now_ms(nn), old, handle, status, why)) {
        stage__u64map_take(&r->held, handle);
        stage__free(h);
        return false;
    }
    stage__relocate_run(nn);
    return true;
}

bool stage__relocate_knows(stage__netnode_t *nn, const stage_id_t *old) {
    return nn->relocate && stage_reloc_knows(nn->relocate->m, old);
}

/* ---- the entries this node puts ------------------------------------------ */

/* The count actor_gone reads (relaxed: an entry recorded just now for an
** actor stopping just now stays until this node stops, at worst). */
static void recorded_now(stage__netnode_t *nn) {
    atomic_store_explicit(&nn->nrecorded,
                          (int)stage_reloc_recorded(nn->relocate->m),
                          memory_order_relaxed);
}

/* Record old -> cur, counted in ad (may be NULL) until it is in. */
static void record(stage__netnode_t *nn, const stage_id_t *old,
                   const stage_id_t *cur, adoption_t *ad) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    int rc = stage_reloc_record(r->m, now_ms(nn), old, cur, ad ? ad->tag : 0);
    recorded_now(nn);
    if (rc == 1) ad->pending++;
    if (rc < 0) {
        char id[STAGE_ID_TEXT_MAX];
        stage_id_format(old, id, sizeof id);
        LOG_ERROR("%s: messages to actor '%s' will not find it once its "
                  "first node is gone",
                  rc == STAGE_ENOMEM ? "out of memory" : "not an actor id", id);
    }
    stage__relocate_run(nn);
}

void stage__relocate_record(stage__netnode_t *nn, const stage_id_t *old,
                            const stage_id_t *cur) {
    record(nn, old, cur, NULL);
}

size_t stage__relocate_formers(stage__netnode_t *nn, const stage_id_t *cur,
                               stage_id_t *out, size_t max) {
    stage__relocate_t *r = nn->relocate;
    return r ? stage_reloc_formers(r->m, cur, out, max) : 0;
}

void stage__relocate_forget(stage__netnode_t *nn, uint64_t serial) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    stage_id_t me = {.serial = serial};
    stage__addr_copy(me.node, nn->address);
    me.incarnation = stage__node_incarnation(nn->node);
    stage_reloc_forget(r->m, now_ms(nn), &me);
    recorded_now(nn);
    stage__relocate_run(nn);
}

static void names_again(stage__netnode_t *nn);

void stage__relocate_sweep(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return;
    names_again(nn);
    stage_reloc_tick(r->m, now_ms(nn)); /* lookups asked again */
    if (atomic_load(&nn->joined)) stage_reloc_sweep(r->m, now_ms(nn));
    stage__relocate_run(nn);
}

bool stage__relocate_done(stage__netnode_t *nn, const stage_dht_effect_t *x) {
    stage__relocate_t *r = nn->relocate;
    if (!r) return false;
    naming_t *nm = stage__u64map_take(&r->names, x->req);
    if (nm) {
        name_taken(nn, nm, x);
        return true;
    }
    stage_id_t cur;
    bool have = false;
    /* the entry is read for the machine's lookups only: another's DONE is
    ** not ours to read (nor, once a handler before it in the same list has
    ** made a request and drained again, safe to) */
    if (x->status == 0 && x->nitems && stage_reloc_finding(r->m, x->req)) {
        stage_unpack_t u;
        stage_unpack_init(&u, x->items[0].value, x->items[0].len);
        have = stage_unpack_id(&u, &cur) == 0;
        if (!have) memset(&cur, 0, sizeof cur); /* garbage: not an id */
        have = true;
    }
    return stage_reloc_answer(r->m, now_ms(nn), x->req, x->status,
                              have ? &cur : NULL);
}

/* ---- names that come with an actor ----------------------------------------
 */

/* One thing ad waited for is done: at the last, its ADOPTED goes. */
static void adoption_step(stage__netnode_t *nn, adoption_t *ad) {
    if (--ad->pending) return;
    stage__move_msg_t q = {
        .op = STAGE__MOVE_ADOPTED, .home = ad->home, .at = ad->cur};
    stage__netmove_hook(nn->node, ad->home.node, &q, NULL);
    stage__u64map_take(&nn->relocate->adoptions, ad->tag);
    stage__free(ad);
}

/* Ask the DHT to move nm's name to its actor here (or, nm->claim, to
** claim it for it). False if it cannot be asked (nm is not kept). */
static bool name_ask(stage__netnode_t *nn, naming_t *nm) {
    stage__relocate_t *r = nn->relocate;
    uint64_t req = ++nn->next_id;
    if (stage__u64map_put(&r->names, req, nm)) return false;
    int rc = nm->claim ? stage_dht_name_claim(nn->dht, now_ms(nn), req,
                                              nm->name, &nm->cur)
                       : stage_dht_name_move(nn->dht, now_ms(nn), req, nm->name,
                                             &nm->old, &nm->cur);
    if (rc) {
        stage__u64map_take(&r->names, req);
        return false;
    }
    return true;
}

/* Take name over from actor old for cur, an actor of this node now. */
static void name_take(stage__netnode_t *nn, const char *name, size_t len,
                      const stage_id_t *old, const stage_id_t *cur,
                      adoption_t *ad) {
    naming_t *nm = stage__calloc(1, sizeof *nm);
    if (!nm) return;
    nm->ad = ad;
    memcpy(nm->name, name, len);
    nm->name[len] = '\0';
    nm->old = *old;
    nm->cur = *cur;
    if (!name_ask(nn, nm)) {
        LOG_WARN("the name '%s' does not follow its actor here: the DHT "
                 "cannot be asked",
                 nm->name);
        stage__free(nm);
        return;
    }
    if (ad) ad->pending++;
    stage__lookup_drain(nn);
}

/* nm is done with (answered, or not asked again): the adoption it belongs
** to, if any, has one thing fewer to wait for. */
static void name_done(stage__netnode_t *nn, naming_t *nm) {
    adoption_t *ad = nm->ad;
    stage__free(nm);
    if (ad) adoption_step(nn, ad);
}

/* The sweep: ask again for the names waiting. */
static void names_again(stage__netnode_t *nn) {
    stage__relocate_t *r = nn->relocate;
    naming_t *nm = r->waiting;
    r->waiting = NULL;
    if (!nm) return;
    while (nm) {
        naming_t *next = nm->next;
        nm->next = NULL;
        if (r->closing || !name_ask(nn, nm)) {
            LOG_WARN("the name '%s' does not follow its actor here: the DHT "
                     "cannot be asked",
                     nm->name);
            name_done(nn, nm);
        }
        nm = next;
    }
    stage__lookup_drain(nn);
}

/* What the DHT found instead of the home's id when it refused to move a
** name (x: its DONE, whose items hold the primary's entry, if any). */
static void name_refused(const naming_t *nm, const stage_dht_effect_t *x) {
    char found[STAGE_ID_TEXT_MAX + 16] = "no entry for it where the DHT looked";
    stage_id_t id;
    stage_unpack_t u;
    if (x->nitems) {
        stage_unpack_init(&u, x->items[0].value, x->items[0].len);
        if (stage_unpack_id(&u, &id) == 0) {
            char text[STAGE_ID_TEXT_MAX];
            stage_id_format(&id, text, sizeof text);
            snprintf(found, sizeof found, "it names '%s'", text);
        } else {
            snprintf(found, sizeof found, "its entry is not an actor id");
        }
    }
    LOG_WARN("the name '%s' does not follow its actor here: it is not its "
             "home's any more (%s)",
             nm->name, found);
}

/* The DHT answered a name's takeover (x: its DONE). A refusal with no
** entry in hand is no answer: the replica that decided it may stand in
** for a primary that is stopped (SIGSTOP, a long pause) and not hold the
** entry, which comes back with its primary (cluster.drain_fault: a frozen
** node that held most of the ring refused 4 of 10 names this way). So is
** a timeout. Both are asked again, RELOCATE_NAME_ASKS times; after that,
** the DHT has no entry for it wherever it looked: it is claimed for the
** actor here, put again as it would have been. An orphan's name is
** claimed at the first refusal with no entry: its home is dead, and every
** manager drops a dead node's entries (docs/dht.md, "Failures"), so no
** entry is what there is to see. */
static void name_taken(stage__netnode_t *nn, naming_t *nm,
                       const stage_dht_effect_t *x) {
    stage__relocate_t *r = nn->relocate;
    bool unseen = x->status == STAGE_EEXISTS && !x->nitems && !nm->claim;
    if (unseen && !nm->ad && !r->closing) {
        LOG_INFO("the name '%s' is claimed for its actor here: its home "
                 "'%s' is gone (it stopped or died), and the name with it",
                 nm->name, nm->old.node);
        nm->claim = true;
        if (!name_ask(nn, nm)) {
            LOG_WARN("the name '%s' does not follow its actor here: the DHT "
                     "cannot be asked",
                     nm->name);
            name_done(nn, nm);
        }
        return;
    } else if ((unseen || x->status == STAGE_ETIMEOUT) && !r->closing) {
        if (nm->asks < RELOCATE_NAME_ASKS) {
            nm->asks++;
            LOG_INFO("the name '%s' waits to follow its actor here: %s; "
                     "asked again (%d of %d)",
                     nm->name,
                     unseen ? "the DHT found no entry for it (a replica "
                              "standing in for its primary may not hold it)"
                            : "the DHT did not answer in time",
                     nm->asks, RELOCATE_NAME_ASKS);
            nm->next = r->waiting;
            r->waiting = nm;
            return;
        }
        if (unseen) { /* nothing to swap: the name is put again */
            LOG_WARN("the name '%s' is claimed again for its actor here: "
                     "the DHT found no entry for it in %d asks",
                     nm->name, RELOCATE_NAME_ASKS + 1);
            nm->claim = true;
            if (name_ask(nn, nm)) return;
        }
    }
    if (x->status == 0) {
        /* noted as any claim: released when the actor stops here, and
        ** told to the node it lives on if it moved on meanwhile */
        stage__holdings_claimed(nn, nm->name, &nm->cur);
        if (nm->asks && !nm->claim) /* a claim said so already */
            LOG_INFO("the name '%s' follows its actor here (asked %d times)",
                     nm->name, nm->asks + 1);
    } else if (x->status == STAGE_EEXISTS) {
        name_refused(nm, x);
    } else {
        LOG_WARN("the name '%s' does not follow its actor here: %s", nm->name,
                 stage_strerror(x->status));
    }
    name_done(nn, nm);
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

/* Make what came with actor old, cur here now, this node's: data (len
** bytes) is [earlier ids, names] (netmove.c, carried): the earlier ids
** lead to cur from now on, and the names name it. ad: the adoption the
** store's entries and the names are for (its home drains), or NULL for an
** orphan (its home died: the entries of both died with it). */
static void take_carried(stage__netnode_t *nn, const char *data, size_t len,
                         const stage_id_t *old, const stage_id_t *cur,
                         adoption_t *ad) {
    stage_unpack_t u;
    uint32_t n, k;
    stage_unpack_init(&u, data, len);
    if (stage_unpack_array(&u, &n) || n != 2 || stage_unpack_array(&u, &n))
        goto bad;
    for (uint32_t i = 0; i < n; i++) {
        stage_id_t former;
        if (stage_unpack_id(&u, &former)) goto bad;
        if (i < RELOCATE_FORMERS_MAX) record(nn, &former, cur, ad);
    }
    if (stage_unpack_array(&u, &k)) goto bad;
    for (uint32_t i = 0; i < k; i++) {
        const char *name;
        size_t nlen;
        if (stage_unpack_str(&u, &name, &nlen) || !nlen || nlen > 255 ||
            memchr(name, '\0', nlen))
            goto bad;
        name_take(nn, name, nlen, old, cur, ad);
    }
    return;
bad:
    LOG_WARN("the earlier ids and names of an actor node '%s' handed over "
             "are not what they should be: the rest are ignored",
             old->node);
}

void stage__relocate_item(stage__netnode_t *nn, stage__netnode_item_t *it) {
    stage_id_t cur;
    memcpy(&cur, it->args, sizeof cur);
    if (!strcmp(it->to.node, nn->address)) { /* this node handed it over */
        stage__drain_rehomed(nn, &it->to, &cur, it->op);
        return;
    }
    if (!nn->relocate) return;        /* stopping */
    if (it->op == STAGE_ENODE_DOWN) { /* its home is gone: no one to answer */
        stage__relocate_record(nn, &it->to, &cur);
        if (it->len)
            take_carried(nn, it->args + sizeof cur, it->len, &it->to, &cur,
                         NULL);
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
    ad->tag = ++nn->relocate->tags;
    if (stage__u64map_put(&nn->relocate->adoptions, ad->tag, ad)) {
        stage__free(ad);
        LOG_ERROR("out of memory: an actor taken over from '%s' is not "
                  "recorded",
                  it->to.node);
        return;
    }
    record(nn, &it->to, &cur, ad);
    if (it->len)
        take_carried(nn, it->args + sizeof cur, it->len, &it->to, &cur, ad);
    adoption_step(nn, ad);
}
