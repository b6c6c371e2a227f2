/*
** net/lookup.c: the directory of a networked node — its DHT manager driven
** on the I/O thread, and the lookups scripts make through it.
**
** Names map to one actor id (claimed atomically at the key's primary).
** Types are registered per node, not per actor: the first local actor of a
** type announces (type -> a representative id of this node, serial 0) and
** its supertype link (super -> subtype); each node keeps its own list of
** actors per type (core/directory.c). find_type asks the DHT which nodes
** have the type, then each of them (PICK frame) for how many it has and
** one at random, and keeps one answer with a probability in proportion
** to its count: every actor is equally likely, on whatever node (FIND
** frames fetch all of them for find_all_types). So a spawn costs no
** network traffic and the DHT holds O(nodes x types) entries instead of
** one per actor (thesis 4.3.2 registers every actor; at a million actors
** that is a million leased entries to renew). find_type prefers a local
** actor when there is one.
**
** Lookup states: DHT (type_find requests out, walking subtypes for
** find_subtype) -> NODES (PICK or FIND calls to all the (node, type) pairs
** found, at once) -> done.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "netnode.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAX_TYPES 32 /* types a find_subtype walks */
#define MAX_REPS 256 /* nodes a type lookup asks */

typedef struct rep {
    char node[STAGE_ADDR_MAX];
    uint32_t incarnation;
    char type[STAGE_TYPE_MAX];
} rep_t;

typedef struct lookup lookup_t;
struct lookup {
    stage__netnode_item_t *it; /* op, key, to (claim), f */
    int outstanding;
    char types[MAX_TYPES][STAGE_TYPE_MAX];
    int ntypes;
    rep_t reps[MAX_REPS];
    int nreps;
    stage_pack_t acc; /* FIND_ALL: ids gathered */
    uint32_t nacc;
    bool failed;
    int dht_error;     /* the first DHT failure other than "no entry", or 0 */
    uint64_t weight;   /* find one: the actors the nodes reported so far */
    stage_id_t chosen; /* ... and the one kept among them */
    bool have_chosen;
    int nasked;         /* types[0..nasked) asked of the DHT */
    bool queued;        /* on nn->asks, or being asked (asks_run) */
    lookup_t *next_ask; /* nn->asks */
    /* a REFIND_NAME asking again (src/node/names.c) */
    stage__rewait_t rewait;
};

/* The lookup whose rewait rw is. */
static lookup_t *of_rewait(stage__rewait_t *rw) {
    return (lookup_t *)((char *)rw - offsetof(lookup_t, rewait));
}

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

uint64_t stage__random64(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != sizeof x) x = (uint64_t)uv_hrtime();
    return x ? x : 1;
}

/* ---- driving the manager ------------------------------------------------ */

static void lookup_dht_done(stage__netnode_t *nn, lookup_t *lk,
                            const stage_dht_effect_t *fx);

static void on_dht_timer(uv_timer_t *t);
static void asks_run(stage__netnode_t *nn);

/* A copy of one of the manager's effects, the DHT message of a SEND
** encoded: the handling of an earlier one may call the manager, which
** starts a new list and frees the old one's messages and items. */
typedef struct stage__fxcopy {
    stage_dht_effect_t x; /* DONE: items point into the arena */
    stage_pack_t frame;   /* SEND: the message, encoded */
    char to[STAGE_ADDR_MAX];
    int rc; /* SEND: the encoding's */
} fxcopy_t;

/* Grow *v to hold n elements of size sz: 0, or STAGE_ENOMEM. */
static int grow(void **v, size_t *cap, size_t n, size_t sz) {
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n)
        c *= 2;
    void *p = stage__realloc(*v, c * sz);
    if (!p) return STAGE_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

/* Copy the manager's list fx of k effects into nn's buffers, which are
** kept from one list to the next (no allocation once they are big
** enough): the copies, or NULL when they cannot grow. */
static fxcopy_t *fx_copy(stage__netnode_t *nn, const stage_dht_effect_t *fx,
                         size_t k) {
    size_t bytes = 0;
    for (size_t i = 0; i < k; i++) {
        if (fx[i].kind != STAGE_DHT_FX_DONE) continue;
        bytes += fx[i].nitems * sizeof(stage_dht_item_t);
        for (size_t j = 0; j < fx[i].nitems; j++)
            bytes += (fx[i].items[j].len + 7) & ~(size_t)7;
    }
    if (grow((void **)&nn->fxc, &nn->fxc_cap, k, sizeof(fxcopy_t)) ||
        grow((void **)&nn->fx_arena, &nn->fx_arena_cap, bytes, 1))
        return NULL;
    char *a = nn->fx_arena;
    for (size_t i = 0; i < k; i++) {
        const stage_dht_effect_t *x = &fx[i];
        fxcopy_t *y = &nn->fxc[i];
        y->x = *x;
        y->frame = (stage_pack_t)STAGE_PACK_INIT;
        y->rc = 0;
        if (x->kind == STAGE_DHT_FX_SEND) {
            snprintf(y->to, sizeof y->to, "%s", x->to_addr);
            /* every peer knows our manager id from our handshake */
            y->rc = stage_dht_msg_encode(x->msg, nn->manager, &y->frame);
        } else if (x->kind == STAGE_DHT_FX_DONE && x->nitems) {
            stage_dht_item_t *items = (stage_dht_item_t *)a;
            a += x->nitems * sizeof *items;
            for (size_t j = 0; j < x->nitems; j++) {
                items[j] = x->items[j];
                memcpy(a, x->items[j].value, x->items[j].len);
                items[j].value = a;
                a += (x->items[j].len + 7) & ~(size_t)7;
            }
            y->x.items = items;
        }
    }
    return nn->fxc;
}

/* Handle effect x (a SEND's message encoded in frame, rc the encoding's,
** or NULL to encode it here). */
static void fx_handle(stage__netnode_t *nn, const stage_dht_effect_t *x,
                      const char *to, stage_pack_t *frame, int rc) {
    if (x->kind == STAGE_DHT_FX_SEND) {
        stage_pack_t p = STAGE_PACK_INIT;
        if (!frame) { /* every peer knows our manager id from our handshake */
            rc = stage_dht_msg_encode(x->msg, nn->manager, &p);
            frame = &p;
        }
        if (!rc)
            rc = stage__netnode_send_frame(nn, to, FRAME_DHT, frame->data,
                                           frame->len);
        if (rc == STAGE_ENOMEM) /* as if the network lost it */
            LOG_WARN("out of memory: a DHT message to '%s' is lost", to);
        stage_pack_free(frame);
        return;
    }
    if (x->kind != STAGE_DHT_FX_DONE) return;
    lookup_t *lk = stage__u64map_take(&nn->reqs, x->req);
    if (lk)
        lookup_dht_done(nn, lk, x);
    else if (!stage__hosts_done(nn, x) && !stage__relocate_done(nn, x) &&
             !stage__sources_done(nn, x))
        stage__holdings_bye_done(nn, x->req);
}

/* Handle the list of effects the manager has now. */
static void fx_run(stage__netnode_t *nn) {
    size_t k;
    const stage_dht_effect_t *fx = stage_dht_effects(nn->dht, &k);
    if (!k) return;
    fxcopy_t *c = fx_copy(nn, fx, k);
    if (!c) { /* out of memory: handled where they are, while they are */
        uint64_t list = stage_dht_effects_list(nn->dht);
        size_t i = 0;
        for (; i < k && stage_dht_effects_list(nn->dht) == list; i++)
            fx_handle(nn, &fx[i], fx[i].to_addr, NULL, 0);
        if (i < k)
            LOG_ERROR("out of memory: %zu effects of the DHT manager are "
                      "lost (its messages are retried; a request may time "
                      "out)",
                      k - i);
        return;
    }
    for (size_t i = 0; i < k; i++)
        fx_handle(nn, &c[i].x, c[i].to, &c[i].frame, c[i].rc);
}

/* Handle the manager's effects, each list once. They are copied first, so
** the handling may call the manager (a call starts a new list), and a
** drain asked for meanwhile (a handler's own) is left to this one, which
** goes on with the new list after: each effect is handled once, in the
** order of the lists. What must not run among them waits in nn->asks
** until the lists are done (asks_run), or for the next loop turn
** (stage__holdings_bye_done). */
void stage__lookup_drain(stage__netnode_t *nn) {
    if (nn->in_effects) return; /* the drain under way takes the new list */
    nn->in_effects = true;      /* stage__relocate_run waits for the end */
    for (;;) {
        uint64_t list = stage_dht_effects_list(nn->dht);
        if (list == nn->fx_handled) {
            asks_run(nn); /* which may call the manager: a new list */
            if (stage_dht_effects_list(nn->dht) == list) break;
            continue;
        }
        nn->fx_handled = list;
        fx_run(nn);
    }
    /* a member once it has a successor and a predecessor: before that it
    ** serves no range, and its first requests would chase a ring that is
    ** still settling around it */
    if (!atomic_load(&nn->joined) && !nn->join_failed &&
        stage_dht_successor(nn->dht).id && stage_dht_predecessor(nn->dht).id) {
        atomic_store(&nn->joined, true);
        stage__join_done(nn); /* its line before main's output */
        stage__node_set_joined(nn->node);
        LOG_DEBUG("joined the ring as manager %016llx",
                  (unsigned long long)nn->manager);
    }
    /* at least 1 ms: libuv runs a timer re-armed for 0 ms from its own
    ** callback again in the same pass, forever */
    uint64_t next = stage_dht_next_timer(nn->dht), now = now_ms(nn);
    if (next == UINT64_MAX)
        uv_timer_stop(&nn->dht_timer);
    else
        uv_timer_start(&nn->dht_timer, on_dht_timer,
                       next > now ? next - now : 1, 0);
    nn->in_effects = false;
    stage__relocate_run(nn);
}

static void on_dht_timer(uv_timer_t *t) {
    stage__netnode_t *nn = t->data;
    stage_dht_tick(nn->dht, now_ms(nn));
    stage__lookup_drain(nn);
}

int stage__lookup_in_dht(stage__netnode_t *nn, const char *peer,
                         const char *body, size_t len) {
    stage_dht_msg_t m;
    if (stage_dht_msg_decode(&m, body, len, peer,
                             stage__transport_peer_manager(nn->tr, peer)))
        return STAGE_EDECODE;
    stage_dht_recv(nn->dht, now_ms(nn), &m);
    stage_dht_msg_clear(&m);
    stage__lookup_drain(nn);
    return 0;
}

int stage__lookup_start(stage__netnode_t *nn, const stage_net_config_t *cfg,
                        char *err, size_t errlen) {
    stage_dht_config_t dc;
    stage_dht_config_init(&dc);
    dc.id = nn->manager; /* chosen before the transport: it tells peers */
    dc.address = nn->address;
    dc.seed = stage__random64();
    if (cfg->replicas > 0) dc.replicas = cfg->replicas;
    if (cfg->lease_secs > 0) dc.lease_ms = (uint32_t)(cfg->lease_secs * 1000);
    nn->lease_ms = dc.lease_ms;
    if (cfg->period_secs > 0)
        dc.period_ms = (uint32_t)(cfg->period_secs * 1000);
    int rc = stage_dht_new(&nn->dht, &dc, now_ms(nn));
    if (!rc && cfg->join)
        rc = stage_dht_join(nn->dht, now_ms(nn), cfg->join, 0);
    if (rc) {
        snprintf(err, errlen, "cannot start the manager%s%s: %s",
                 cfg->join ? " joining " : "", cfg->join ? cfg->join : "",
                 stage_strerror(rc));
        if (nn->dht) stage_dht_destroy(&nn->dht);
        return rc;
    }
    if (!cfg->join) { /* a ring of its own */
        atomic_store(&nn->joined, true);
        stage__node_set_joined(nn->node);
    }
    uv_timer_init(&nn->loop, &nn->dht_timer);
    nn->dht_timer.data = nn;
    uv_unref((uv_handle_t *)&nn->dht_timer);
    uv_timer_init(&nn->loop, &nn->leave_timer);
    nn->leave_timer.data = nn;
    uv_unref((uv_handle_t *)&nn->leave_timer);
    uv_timer_init(&nn->loop, &nn->rewait_timer);
    nn->rewait_timer.data = nn;
    uv_unref((uv_handle_t *)&nn->rewait_timer);
    stage__names_init(&nn->names, nn->address,
                      stage__node_incarnation(nn->node));
    stage__holdings_start(nn);
    if (stage__hosts_start(nn) || stage__relocate_start(nn) ||
        stage__sources_start(nn)) {
        snprintf(err, errlen, "out of memory");
        return STAGE_ENOMEM;
    }
    stage__lookup_drain(nn);
    return 0;
}

/* The lookups still waiting at close, each once (a lookup of subtypes
** waits on several requests). */
typedef struct waiting {
    lookup_t **v;
    size_t n, cap;
} waiting_t;

static void note_waiting(waiting_t *w, lookup_t *lk) {
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i] == lk) return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        lookup_t **v = stage__realloc(w->v, cap * sizeof *v);
        if (!v) return; /* leaked: the process is ending anyway */
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n++] = lk;
}

static void note_req(uint64_t key, void *val, void *ud) {
    (void)key;
    note_waiting(ud, val);
}

void stage__lookup_close(stage__netnode_t *nn) {
    waiting_t w = {0};
    stage__u64map_each(&nn->reqs, note_req, &w);
    for (lookup_t *lk = nn->asks; lk; lk = lk->next_ask)
        note_waiting(&w, lk);
    nn->asks = NULL;
    for (stage__rewait_t *rw = stage__names_rewait_all(&nn->names); rw;
         rw = rw->next)
        note_waiting(&w, of_rewait(rw));
    for (size_t i = 0; i < w.n; i++) {
        lookup_t *lk = w.v[i];
        stage__future_reject(lk->it->f, STAGE_ESTOPPED, "the node stopped",
                             NULL, NULL);
        stage__future_unref(lk->it->f);
        stage__free(lk->it);
        stage_pack_free(&lk->acc);
        stage__free(lk);
    }
    stage__free(w.v);
    stage__u64map_free(&nn->reqs);
    stage__names_close(&nn->names);
    stage__holdings_close(nn);
    stage__hosts_close(nn);
    stage__relocate_close(nn);
    stage__sources_close(nn);
}

/* ---- the name cache (src/node/names.c) --------------------------------- */

void stage__lookup_forget_node(stage__netnode_t *nn, const char *peer) {
    stage__names_forget_node(&nn->names, peer);
}

/* Cache the DHT's answer for name, unless it names an actor of a node
** incarnation known dead: an answer under way when the death was learnt
** (and the node's entries forgotten) would otherwise be served from the
** cache for a second (tests/sim/node_sim.c found it). */
static void cache_answer(stage__netnode_t *nn, const char *name,
                         const stage_dht_item_t *item) {
    stage_id_t id;
    stage_unpack_t u;
    stage_unpack_init(&u, item->value, item->len);
    if (stage_unpack_id(&u, &id) ||
        stage__transport_is_dead(nn->tr, id.node, id.incarnation, NULL))
        return;
    stage__names_put(&nn->names, name, item->value, item->len, now_ms(nn));
}

void stage__lookup_peer_gone(stage__netnode_t *nn, const char *peer) {
    if (stage_dht_peer_gone(nn->dht, now_ms(nn), peer) > 0)
        stage__lookup_drain(nn);
}

/* A node restarted at its address (kill -9, then started again) is seen
** first as a connection from a new incarnation. Its old manager will never
** answer again: waiting for the ring's timeouts to find that out (a hop's
** 300 ms, a predecessor silent for 2.5 periods) held the new run's join
** and its name claims for up to a second or more. */
bool stage__lookup_peer_up(stage__netnode_t *nn, const char *peer,
                           uint32_t incarnation) {
    uint64_t manager = stage__transport_peer_manager(nn->tr, peer);
    bool restarted = stage__names_peer_up(&nn->names, peer, incarnation);
    if (stage_dht_peer_restarted(nn->dht, now_ms(nn), peer, manager) > 0) {
        stage__lookup_forget_node(nn, peer);
        stage__lookup_drain(nn);
    }
    return restarted;
}

/* ---- finishing lookups -------------------------------------------------- */

static void lookup_free(lookup_t *lk) {
    stage__future_unref(lk->it->f);
    stage__free(lk->it);
    stage_pack_free(&lk->acc);
    stage__free(lk);
}

static void lookup_fail(lookup_t *lk, int status, const char *msg) {
    stage__future_reject(lk->it->f, status, msg, NULL, NULL);
    lookup_free(lk);
}

static void lookup_resolve(lookup_t *lk, const char *value, size_t len) {
    stage__future_resolve(lk->it->f, value, len);
    lookup_free(lk);
}

static void not_found(lookup_t *lk) {
    char msg[400];
    int op = lk->it->op;
    if (op == STAGE__FIND_NAME || op == STAGE__REFIND_NAME) {
        snprintf(msg, sizeof msg, "no actor is named '%s'", lk->it->key);
        lookup_fail(lk, STAGE_ENAME_NOT_FOUND, msg);
        return;
    }
    snprintf(msg, sizeof msg, "no actor of type '%s'%s", lk->it->key,
             op == STAGE__FIND_SUBTYPE ? " or its subtypes" : "");
    lookup_fail(lk, STAGE_ETYPE_NOT_FOUND, msg);
}

/* Send lk's request for type to the DHT under a fresh request id; with
** count, lk counts it as outstanding (before the drain, which may answer
** it at once). */
static int dht_request(stage__netnode_t *nn, lookup_t *lk, const char *type,
                       bool count) {
    uint64_t req = ++nn->next_id;
    int rc, op = lk->it->op;
    uint64_t now = now_ms(nn);
    if (op == STAGE__NAME_CLAIM)
        rc = stage_dht_name_claim(nn->dht, now, req, lk->it->key, &lk->it->to);
    else if (op == STAGE__FIND_NAME || op == STAGE__REFIND_NAME)
        rc = stage_dht_name_find(nn->dht, now, req, lk->it->key);
    else
        rc = stage_dht_type_find(nn->dht, now, req, type);
    if (!rc) rc = stage__u64map_put(&nn->reqs, req, lk);
    if (!rc && count) lk->outstanding++;
    stage__lookup_drain(nn);
    return rc;
}

static void ask_nodes(stage__netnode_t *nn, lookup_t *lk);

/* Ask the DHT for the subtypes queued on nn->asks (from the drain, which
** cannot, see stage__lookup_drain). Each queued type holds one unit of its
** lookup's outstanding, so a lookup with types left to ask is never done:
** only the request for its last type may complete and free it. While a
** lookup is being asked its queued flag stays set, so that the subtypes
** found meanwhile are appended to it rather than queued again. */
static void asks_run(stage__netnode_t *nn) {
    lookup_t *lk;
    while ((lk = nn->asks)) {
        nn->asks = lk->next_ask;
        for (bool last = false; !last;) {
            const char *type = lk->types[lk->nasked++];
            last = lk->nasked == lk->ntypes;
            if (last) lk->queued = false;              /* from here lk may go */
            int rc = dht_request(nn, lk, type, false); /* counted */
            if (rc) {
                lk->failed = true;
                if (--lk->outstanding == 0) ask_nodes(nn, lk);
            }
        }
    }
}

/* ---- asking nodes (FIND, PICK) ------------------------------------------ */

/* A FIND answer for find_all_types: an array of ids; a node that fails
** to answer adds none. */
static void add_ids(lookup_t *lk, int status, const char *value, size_t len) {
    uint32_t n;
    const char *ids;
    size_t ilen;
    if (status || stage__node_ids_decode(&n, &ids, &ilen, value, len) || !n)
        return;
    stage_pack_raw(&lk->acc, ids, ilen);
    lk->nacc += n;
}

/* A PICK answer: [n, id], one of the node's n actors of the type. Each
** answer replaces the one kept with probability n / (the n of all the
** answers so far), so the id kept at the end is each actor's with equal
** probability, whatever the nodes' shares (weighted reservoir sampling). */
static void add_pick(lookup_t *lk, int status, const char *value, size_t len) {
    uint64_t n;
    stage_id_t id;
    if (status || stage__node_pick_answer_decode(&n, &id, value, len)) return;
    lk->weight += n;
    if (stage__random64() % lk->weight < n) {
        lk->chosen = id;
        lk->have_chosen = true;
    }
}

/* Every node asked has answered (or failed): complete lk. */
static void nodes_done(lookup_t *lk) {
    if (lk->it->op != STAGE__FIND_ALL) {
        if (!lk->have_chosen) {
            not_found(lk); /* every node had none left, or failed */
            return;
        }
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_id(&p, &lk->chosen);
        if (stage_pack_error(&p))
            lookup_fail(lk, STAGE_ENOMEM, "out of memory");
        else
            lookup_resolve(lk, p.data, p.len);
        stage_pack_free(&p);
        return;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, lk->nacc);
    stage_pack_raw(&p, lk->acc.data, lk->acc.len);
    if (stage_pack_error(&p) || stage_pack_error(&lk->acc))
        lookup_fail(lk, STAGE_ENOMEM, "out of memory");
    else
        lookup_resolve(lk, p.data, p.len);
    stage_pack_free(&p);
}

/* A FIND or PICK answer (a call's callback, or this node's own). */
static void on_found(stage__netnode_t *nn, void *arg, int status,
                     const char *value, size_t len) {
    (void)nn;
    lookup_t *lk = arg;
    if (lk->it->op == STAGE__FIND_ALL)
        add_ids(lk, status, value, len);
    else
        add_pick(lk, status, value, len);
    if (--lk->outstanding == 0) nodes_done(lk);
}

/* Into p: [n, id] for one of this node's n actors of type, picked at
** random. 0, or STAGE_EACTOR_NOT_FOUND if it has none. */
static int pick_here(stage__netnode_t *nn, const char *type, stage_pack_t *p) {
    stage__type_t *ty = stage__type_find(nn->node, type);
    stage_id_t id;
    if (!ty || stage__dir_random(nn->node, ty, stage__random64(), &id))
        return STAGE_EACTOR_NOT_FOUND;
    size_t n = stage__dir_count(ty); /* 0 if the one picked just stopped */
    stage__node_pick_answer_encode(p, n ? n : 1, &id);
    return 0;
}

/* Into p: this node's actors of type, an array of ids. */
static void all_here(stage__netnode_t *nn, const char *type, stage_pack_t *p) {
    stage__type_t *ty = stage__type_find(nn->node, type);
    stage_pack_t ids = STAGE_PACK_INIT;
    size_t n = ty ? stage__dir_all(nn->node, ty, &ids) : 0;
    stage__node_ids_encode(p, (uint32_t)n, ids.data, ids.len);
    stage_pack_free(&ids);
}

/* Answer a FIND or PICK for a node that is this one, without the network. */
static void find_here(stage__netnode_t *nn, lookup_t *lk, const rep_t *r) {
    stage_pack_t p = STAGE_PACK_INIT;
    int status = 0;
    if (lk->it->op == STAGE__FIND_ALL)
        all_here(nn, r->type, &p);
    else
        status = pick_here(nn, r->type, &p);
    on_found(nn, lk, status, p.data, p.len);
    stage_pack_free(&p);
}

/* Ask the node of r for its actors of r's type: FIND [call, type, true]
** for all of them, PICK [call, type] for one and their number. The answer
** comes to on_found, which this call may run itself. */
static void ask_node(stage__netnode_t *nn, lookup_t *lk, const rep_t *r) {
    lk->outstanding++;
    if (!strcmp(r->node, nn->address)) {
        find_here(nn, lk, r);
        return;
    }
    bool all = lk->it->op == STAGE__FIND_ALL;
    uint64_t call = stage__netnode_call_cb(nn, r->node, on_found, lk);
    stage_pack_t p = STAGE_PACK_INIT;
    if (!call || stage__node_find_encode(&p, call, r->type, all) ||
        stage__netnode_send_frame(nn, r->node, all ? FRAME_FIND : FRAME_PICK,
                                  p.data, p.len)) {
        stage_pack_free(&p);
        if (call) stage__netnode_call_cancel(nn, call);
        on_found(nn, lk, STAGE_EUNREACHABLE, "", 0);
        return;
    }
    stage_pack_free(&p);
}

/* Every DHT lookup of lk is in: ask every node listed, all at once, and
** complete lk when the last has answered. No node has actors of the
** type: find_all_types gets an empty list (a normal answer for "all of
** them", as on an embedded node), the others TypeNotFound; unless the DHT
** could not answer. */
static void ask_nodes(stage__netnode_t *nn, lookup_t *lk) {
    if (!lk->nreps && lk->dht_error) {
        char msg[400];
        snprintf(msg, sizeof msg, "the directory could not answer for '%s': %s",
                 lk->it->key, stage_strerror(lk->dht_error));
        lookup_fail(lk, lk->dht_error, msg);
        return;
    }
    if (!lk->nreps && lk->it->op == STAGE__FIND_ALL) {
        lookup_resolve(lk, "\x90", 1); /* [] */
        return;
    }
    if (!lk->nreps) {
        not_found(lk);
        return;
    }
    lk->outstanding++; /* an answer given at once must not complete lk */
    for (int i = 0; i < lk->nreps; i++)
        ask_node(nn, lk, &lk->reps[i]);
    on_found(nn, lk, STAGE_ECANCELED, "", 0); /* drops that hold */
}

/* ---- DHT answers -------------------------------------------------------- */

static void add_item(stage__netnode_t *nn, lookup_t *lk,
                     const stage_dht_item_t *item) {
    stage_unpack_t u;
    uint32_t n;
    int64_t kind;
    stage_unpack_init(&u, item->value, item->len);
    if (stage_unpack_array(&u, &n) || n != 2 || stage_unpack_int(&u, &kind))
        return;
    if (kind == 0) {
        stage_id_t id;
        if (stage_unpack_id(&u, &id) || lk->nreps >= MAX_REPS) return;
        for (int i = 0; i < lk->nreps; i++) /* an earlier run's entry */
            if (!strcmp(lk->reps[i].node, id.node) &&
                !strcmp(lk->reps[i].type, id.type))
                return; /* the node answers once, for its current run */
        rep_t *r = &lk->reps[lk->nreps++];
        snprintf(r->node, sizeof r->node, "%s", id.node);
        r->incarnation = id.incarnation;
        snprintf(r->type, sizeof r->type, "%s", id.type);
        return;
    }
    const char *sub;
    size_t len;
    if (kind != 1 || lk->it->op != STAGE__FIND_SUBTYPE ||
        stage_unpack_str(&u, &sub, &len) || len >= STAGE_TYPE_MAX ||
        lk->ntypes >= MAX_TYPES)
        return;
    char name[STAGE_TYPE_MAX];
    snprintf(name, sizeof name, "%.*s", (int)len, sub);
    for (int i = 0; i < lk->ntypes; i++)
        if (!strcmp(lk->types[i], name)) return; /* seen: no cycles */
    snprintf(lk->types[lk->ntypes++], STAGE_TYPE_MAX, "%s", name);
    lk->outstanding++; /* asked once the drain is over (asks_run) */
    if (!lk->queued) {
        lk->queued = true;
        lk->next_ask = nn->asks;
        nn->asks = lk;
    }
}

static void on_rewait_timer(uv_timer_t *t);

/* Arm the rewait timer at the first re-ask due, or stop it. */
static void rearm_rewaits(stage__netnode_t *nn) {
    uint64_t first = stage__names_rewait_next(&nn->names), now = now_ms(nn);
    if (first == UINT64_MAX)
        uv_timer_stop(&nn->rewait_timer);
    else
        uv_timer_start(&nn->rewait_timer, on_rewait_timer,
                       first > now ? first - now : 1, 0);
}

/* lk asks the DHT again a little later (src/node/names.c says when), or,
** once the time for that is up, fails with status and gave_up. */
static void wait_again(stage__netnode_t *nn, lookup_t *lk, int status,
                       const char *gave_up) {
    if (stage__names_rewait(&nn->names, &lk->rewait, now_ms(nn)))
        rearm_rewaits(nn);
    else
        lookup_fail(lk, status, gave_up);
}

/* A REFIND_NAME (a call through the name to lk->it->to failed,
** core/retry.c) got an answer that would fail again (node/names.h, "Asking
** again"): lk waits and asks again, or fails saying why. Returns 1 if it
** did either, 0 if the answer stands. */
static bool refind_waits(stage__netnode_t *nn, lookup_t *lk,
                         const stage_dht_effect_t *fx) {
    const stage_dht_item_t *item = fx->nitems ? &fx->items[0] : NULL;
    int verdict =
        stage__names_refind(&nn->names, &lk->it->to, fx->status,
                            item ? item->value : NULL, item ? item->len : 0);
    char msg[STAGE_ADDR_MAX + 400];
    switch (verdict) {
    case STAGE__REFIND_STALE:
        snprintf(msg, sizeof msg,
                 "it names an actor of an earlier run of node '%s', which "
                 "restarted and has not claimed the name again",
                 lk->it->to.node);
        wait_again(nn, lk, STAGE_EACTOR_NOT_FOUND, msg);
        return true;
    case STAGE__REFIND_MISSING:
        snprintf(msg, sizeof msg,
                 "no actor is named '%s' (asked again for %d ms)", lk->it->key,
                 STAGE__NAMES_REWAIT_MS);
        wait_again(nn, lk, STAGE_ENAME_NOT_FOUND, msg);
        return true;
    case STAGE__REFIND_BUSY:
        /* the directory is busy where the name lives (a dead node's range
        ** being repaired, a restarted node joining): ask again too */
        snprintf(msg, sizeof msg, "the directory could not answer for '%s': %s",
                 lk->it->key, stage_strerror(fx->status));
        wait_again(nn, lk, fx->status, msg);
        return true;
    }
    return false;
}

/* The waits that are due ask the DHT again. */
static void on_rewait_timer(uv_timer_t *t) {
    stage__netnode_t *nn = t->data;
    stage__rewait_t *due = stage__names_rewait_due(&nn->names, now_ms(nn));
    rearm_rewaits(nn);
    while (due) {
        lookup_t *lk = of_rewait(due);
        due = due->next;
        int rc = dht_request(nn, lk, lk->it->key, true);
        if (rc) {
            char msg[340];
            snprintf(msg, sizeof msg,
                     "the directory is not available for '%s': %s", lk->it->key,
                     stage_strerror(rc));
            lookup_fail(lk, rc == STAGE_ENOMEM ? rc : STAGE_EUNREACHABLE, msg);
        }
    }
}

static void lookup_dht_done(stage__netnode_t *nn, lookup_t *lk,
                            const stage_dht_effect_t *fx) {
    lk->outstanding--;
    int op = lk->it->op;
    if (op == STAGE__REFIND_NAME && refind_waits(nn, lk, fx)) return;
    if (op == STAGE__NAME_CLAIM || op == STAGE__FIND_NAME ||
        op == STAGE__REFIND_NAME) {
        if (fx->status == 0 && op == STAGE__NAME_CLAIM) {
            stage__names_drop(&nn->names, lk->it->key);
            stage__holdings_claimed(nn, lk->it->key, &lk->it->to);
            lookup_resolve(lk, "\xc3", 1);
        } else if (fx->status == 0 && fx->nitems) {
            cache_answer(nn, lk->it->key, &fx->items[0]);
            lookup_resolve(lk, fx->items[0].value, fx->items[0].len);
        } else if (fx->status == STAGE_EEXISTS) {
            char msg[400];
            snprintf(msg, sizeof msg, "the name '%s' is taken", lk->it->key);
            lookup_fail(lk, STAGE_EEXISTS, msg);
        } else if (fx->status == 0 || fx->status == STAGE_ENAME_NOT_FOUND) {
            not_found(lk);
        } else {
            char msg[400];
            snprintf(msg, sizeof msg,
                     "the directory could not answer for "
                     "'%s': %s",
                     lk->it->key, stage_strerror(fx->status));
            lookup_fail(lk, fx->status, msg);
        }
        return;
    }
    if (fx->status && fx->status != STAGE_ENAME_NOT_FOUND && !lk->dht_error)
        lk->dht_error = fx->status;
    for (size_t i = 0; fx->status == 0 && i < fx->nitems; i++)
        add_item(nn, lk, &fx->items[i]);
    if (lk->outstanding) return;
    ask_nodes(nn, lk);
}

/* ---- requests from theatres --------------------------------------------- */

static void claim_at_home(stage__netnode_t *nn, lookup_t *lk);

void stage__lookup_request(stage__netnode_t *nn, stage__netnode_item_t *it) {
    if (it->op == STAGE__HOSTS) {
        stage__hosts_request(nn, it);
        return;
    }
    lookup_t *lk = stage__calloc(1, sizeof *lk);
    if (!lk) {
        stage__future_reject(it->f, STAGE_ENOMEM, NULL, NULL, NULL);
        stage__future_unref(it->f);
        stage__free(it);
        return;
    }
    lk->it = it;
    if (it->op == STAGE__NAME_CLAIM && !stage__id_is_local(nn->node, &it->to)) {
        claim_at_home(nn, lk);
        return;
    }
    /* a call through the name failed: what the cache says led there */
    if (it->op == STAGE__REFIND_NAME) stage__names_drop(&nn->names, it->key);
    const char *cached;
    size_t clen;
    if (it->op == STAGE__FIND_NAME &&
        stage__names_get(&nn->names, it->key, now_ms(nn), &cached, &clen)) {
        lookup_resolve(lk, cached, clen);
        return;
    }
    if (it->op == STAGE__FIND_TYPE || it->op == STAGE__FIND_SUBTYPE) {
        /* a local actor answers at once */
        stage__type_t *ty = stage__type_find(nn->node, it->key);
        stage_id_t id;
        if (ty && it->op == STAGE__FIND_TYPE &&
            stage__dir_random(nn->node, ty, stage__random64(), &id) == 0) {
            char buf[STAGE_ID_TEXT_MAX + 64]; /* an id: no allocation */
            stage_pack_t p = {buf, 0, sizeof buf, 0};
            stage_pack_id(&p, &id);
            lookup_resolve(lk, p.data, p.len);
            return;
        }
    }
    snprintf(lk->types[lk->ntypes++], STAGE_TYPE_MAX, "%.63s", it->key);
    lk->nasked = 1;
    int rc = dht_request(nn, lk, it->key, true);
    if (rc) {
        char msg[340];
        snprintf(msg, sizeof msg, "the directory is not available for '%s': %s",
                 it->key, stage_strerror(rc));
        lookup_fail(lk, rc == STAGE_ENOMEM ? rc : STAGE_EUNREACHABLE, msg);
    }
}

/* A PICK from another node: [n, id], one of our n actors of a type, or
** ActorNotFound. */
int stage__lookup_in_pick(stage__netnode_t *nn, const char *peer,
                          const char *body, size_t len) {
    stage__node_find_t q;
    char name[STAGE_TYPE_MAX];
    if (stage__node_find_decode(&q, body, len, true)) return STAGE_EDECODE;
    memcpy(name, q.type, q.tlen);
    name[q.tlen] = '\0';
    uint64_t call = q.call;
    stage__future_t *f = stage__netnode_owed(nn, peer, call, 0);
    if (!f) return 0;
    stage_pack_t p = STAGE_PACK_INIT;
    if (pick_here(nn, name, &p))
        stage__future_reject(f, STAGE_EACTOR_NOT_FOUND, "none here", NULL,
                             NULL);
    else if (stage_pack_error(&p))
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
    else
        stage__future_resolve(f, p.data, p.len);
    stage_pack_free(&p);
    stage__future_unref(f);
    return 0;
}

/* A FIND from another node: our actors of a type. */
int stage__lookup_in_find(stage__netnode_t *nn, const char *peer,
                          const char *body, size_t len) {
    stage__node_find_t q;
    char name[STAGE_TYPE_MAX];
    if (stage__node_find_decode(&q, body, len, false)) return STAGE_EDECODE;
    memcpy(name, q.type, q.tlen);
    name[q.tlen] = '\0';
    uint64_t call = q.call;
    bool all = q.all;
    stage__type_t *ty = stage__type_find(nn->node, name);
    stage__future_t *f = stage__netnode_owed(nn, peer, call, 0);
    if (!f) {
        stage__netnode_reply_error(nn, peer, call, STAGE_ENOMEM,
                                   "out of memory");
        return 0;
    }
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t id;
    if (ty && all) {
        stage_pack_t ids = STAGE_PACK_INIT;
        size_t k = stage__dir_all(nn->node, ty, &ids);
        if (stage_pack_error(&ids) ||
            stage__node_ids_encode(&p, (uint32_t)k, ids.data, ids.len))
            stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        else
            stage__future_resolve(f, p.data, p.len);
        stage_pack_free(&ids);
    } else if (ty &&
               stage__dir_random(nn->node, ty, stage__random64(), &id) == 0) {
        stage_pack_id(&p, &id);
        if (stage_pack_error(&p))
            stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        else
            stage__future_resolve(f, p.data, p.len);
    } else {
        stage__future_reject(f, STAGE_EACTOR_NOT_FOUND, "none here", NULL,
                             NULL);
    }
    stage_pack_free(&p);
    stage__future_unref(f);
    return 0;
}

/* ---- names for actors of other nodes (the asking side; holdings.c answers) */

/* A name for an actor of another node is claimed by that node (a NAME
** frame): it renews the lease and releases the name when the actor stops,
** as for its own names; a claim for an actor that is gone fails with
** ActorNotFound. NAME [call, name, incarnation, serial, type], reply true
** or the claim's failure. */

static void on_claimed_home(stage__netnode_t *nn, void *arg, int status,
                            const char *value, size_t len) {
    (void)nn;
    lookup_t *lk = arg;
    if (status == 0) {
        lookup_resolve(lk, value, len);
        return;
    }
    char msg[600];
    snprintf(msg, sizeof msg, "%.*s", (int)len, value);
    lookup_fail(lk, status, msg);
}

static void claim_at_home(stage__netnode_t *nn, lookup_t *lk) {
    const stage_id_t *id = &lk->it->to;
    uint64_t call = stage__netnode_call_cb(nn, id->node, on_claimed_home, lk);
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = !call ? STAGE_ENOMEM
                   : stage__node_name_encode(&p, call, lk->it->key, id);
    if (!rc)
        rc = stage__netnode_send_frame(nn, id->node, FRAME_NAME, p.data, p.len);
    stage_pack_free(&p);
    if (rc) {
        if (call) stage__netnode_call_cancel(nn, call);
        char msg[STAGE_ADDR_MAX + 100];
        snprintf(msg, sizeof msg, "cannot ask node '%s' to hold the name: %s",
                 id->node, stage_strerror(rc));
        lookup_fail(lk, STAGE_EUNREACHABLE, msg);
    }
}
