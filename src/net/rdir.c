/*
** net/rdir.c: the directory of a networked node — its DHT manager driven
** on the I/O thread, and the lookups scripts make through it.
**
** Names map to one actor id (claimed atomically at the key's primary).
** Types are registered per node, not per actor: the first local actor of a
** type announces (type -> a representative id of this node, serial 0) and
** its supertype link (super -> subtype); each node keeps its own list of
** actors per type (core/directory.c). find_type asks the DHT which nodes
** have the type, then one of them (FIND frame) for a random actor; so a
** spawn costs no network traffic and the DHT holds O(nodes x types)
** entries instead of one per actor (thesis 4.3.2 registers every actor;
** at a million actors that is a million leased entries to renew).
** find_type prefers a local actor when there is one.
**
** Lookup states: DHT (type_find requests out, walking subtypes for
** find_subtype) -> NODES (FIND calls to the nodes found) -> done.
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "remote.h"
#include "util/log.h"

#define MAX_TYPES 32     /* types a find_subtype walks */
#define NAME_TTL_MS 1000 /* a found name is reused this long */
#define MAX_REPS 256     /* nodes a type lookup asks */

typedef struct rep {
    char node[STAGE_ADDR_MAX];
    uint32_t incarnation;
    char type[STAGE_TYPE_MAX];
} rep_t;

typedef struct lookup {
    io_item_t *it; /* op, key, to (claim), f */
    int outstanding;
    char types[MAX_TYPES][STAGE_TYPE_MAX];
    int ntypes;
    rep_t reps[MAX_REPS];
    int nreps, next_rep;
    stage_pack_t acc; /* FIND_ALL: ids gathered */
    uint32_t nacc;
    bool failed;
} lookup_t;

static uint64_t now_ms(io_t *io) {
    return uv_now(&io->loop);
}

uint64_t stage__random64(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != sizeof x) x = (uint64_t)uv_hrtime();
    return x ? x : 1;
}

/* ---- driving the manager ------------------------------------------------ */

static void lookup_dht_done(io_t *io, lookup_t *lk,
                            const stage_dht_effect_t *fx);

static void on_dht_timer(uv_timer_t *t);

void stage__rdir_drain(io_t *io) {
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(io->dht, &n);
    for (size_t i = 0; i < n; i++) {
        const stage_dht_effect_t *x = &fx[i];
        if (x->kind == STAGE_DHT_FX_SEND) {
            stage_pack_t p = STAGE_PACK_INIT;
            /* every peer knows our manager id from our handshake */
            if (stage_dht_msg_encode(x->msg, io->manager, &p) == 0)
                stage__io_send_frame(io, x->to_addr, FRAME_DHT, p.data, p.len);
            stage_pack_free(&p);
        } else if (x->kind == STAGE_DHT_FX_DONE) {
            lookup_t *lk = stage__u64map_take(&io->reqs, x->req);
            if (lk)
                lookup_dht_done(io, lk, x);
            else
                stage__rhome_bye_done(io, x->req);
        }
    }
    /* a member once it has a successor and a predecessor: before that it
    ** serves no range, and its first requests would chase a ring that is
    ** still settling around it */
    if (!atomic_load(&io->joined) && stage_dht_successor(io->dht).id &&
        stage_dht_predecessor(io->dht).id) {
        atomic_store(&io->joined, true);
        stage__node_set_joined(io->node);
        LOG_DEBUG("joined the ring as manager %016llx",
                  (unsigned long long)io->manager);
    }
    /* at least 1 ms: libuv runs a timer re-armed for 0 ms from its own
    ** callback again in the same pass, forever */
    uint64_t next = stage_dht_next_timer(io->dht), now = now_ms(io);
    if (next == UINT64_MAX)
        uv_timer_stop(&io->dht_timer);
    else
        uv_timer_start(&io->dht_timer, on_dht_timer,
                       next > now ? next - now : 1, 0);
}

static void on_dht_timer(uv_timer_t *t) {
    io_t *io = t->data;
    stage_dht_tick(io->dht, now_ms(io));
    stage__rdir_drain(io);
}

int stage__rdir_in_dht(io_t *io, const char *peer, const char *body,
                       size_t len) {
    stage_dht_msg_t m;
    if (stage_dht_msg_decode(&m, body, len, peer,
                             stage__transport_peer_manager(io->tr, peer)))
        return STAGE_EDECODE;
    stage_dht_recv(io->dht, now_ms(io), &m);
    stage_dht_msg_clear(&m);
    stage__rdir_drain(io);
    return 0;
}

int stage__rdir_start(io_t *io, const stage_net_config_t *cfg, char *err,
                      size_t errlen) {
    stage_dht_config_t dc;
    stage_dht_config_init(&dc);
    dc.id = io->manager; /* chosen before the transport: it tells peers */
    dc.address = io->address;
    dc.seed = stage__random64();
    if (cfg->replicas > 0) dc.replicas = cfg->replicas;
    if (cfg->lease_secs > 0) dc.lease_ms = (uint32_t)(cfg->lease_secs * 1000);
    if (cfg->period_secs > 0)
        dc.period_ms = (uint32_t)(cfg->period_secs * 1000);
    int rc = stage_dht_new(&io->dht, &dc, now_ms(io));
    if (!rc && cfg->join)
        rc = stage_dht_join(io->dht, now_ms(io), cfg->join, 0);
    if (rc) {
        snprintf(err, errlen, "cannot start the manager%s%s: %s",
                 cfg->join ? " joining " : "", cfg->join ? cfg->join : "",
                 stage_strerror(rc));
        if (io->dht) stage_dht_destroy(&io->dht);
        return rc;
    }
    if (!cfg->join) { /* a ring of its own */
        atomic_store(&io->joined, true);
        stage__node_set_joined(io->node);
    }
    uv_timer_init(&io->loop, &io->dht_timer);
    io->dht_timer.data = io;
    uv_unref((uv_handle_t *)&io->dht_timer);
    uv_timer_init(&io->loop, &io->leave_timer);
    io->leave_timer.data = io;
    uv_unref((uv_handle_t *)&io->leave_timer);
    stage__rdir_drain(io);
    return 0;
}

static void drop_lookup(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    lookup_t *lk = val;
    stage__future_reject(lk->it->f, STAGE_ESTOPPED, "the node stopped", NULL,
                         NULL);
    stage__future_unref(lk->it->f);
    free(lk->it);
    stage_pack_free(&lk->acc);
    free(lk);
}

void stage__rdir_close(io_t *io) {
    stage__u64map_each(&io->reqs, drop_lookup, NULL);
    stage__u64map_free(&io->reqs);
    stage__rdir_forget_node(io, NULL);
    stage__u64map_free(&io->names);
    stage__rhome_close(io);
}

/* ---- the name cache ----------------------------------------------------- */

/* Ids found by name are kept for NAME_TTL_MS, so a node that looks the
** same name up again and again (a client in a loop) asks the DHT once a
** second; a node reported down or restarted drops its entries at once. A
** name re-bound meanwhile is seen at most NAME_TTL_MS late. */
typedef struct cached {
    uint64_t expires;
    char name[256];
    char node[STAGE_ADDR_MAX];
    size_t len;
    char value[];
} cached_t;

uint64_t stage__rdir_name_key(const char *name) {
    return stage_dht_key(STAGE_DHT_NAMES, name, strlen(name)) | 1;
}

static cached_t *cache_get(io_t *io, const char *name) {
    cached_t *c = stage__u64map_get(&io->names, stage__rdir_name_key(name));
    if (!c || strcmp(c->name, name)) return NULL;
    if (c->expires > now_ms(io)) return c;
    free(stage__u64map_take(&io->names, stage__rdir_name_key(name)));
    return NULL;
}

static void cache_put(io_t *io, const char *name, const char *value,
                      size_t len) {
    stage_id_t id;
    stage_unpack_t u;
    stage_unpack_init(&u, value, len);
    if (stage_unpack_id(&u, &id)) return;
    cached_t *c = malloc(sizeof *c + len);
    if (!c) return;
    c->expires = now_ms(io) + NAME_TTL_MS;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->node, sizeof c->node, "%s", id.node);
    c->len = len;
    memcpy(c->value, value, len);
    free(stage__u64map_take(&io->names, stage__rdir_name_key(name)));
    if (stage__u64map_put(&io->names, stage__rdir_name_key(name), c)) free(c);
}

typedef struct forget {
    const char *peer;
    uint64_t keys[64];
    int n;
} forget_t;

static void forget_match(uint64_t key, void *val, void *ud) {
    forget_t *f = ud;
    cached_t *c = val;
    if ((!f->peer || !strcmp(c->node, f->peer)) && f->n < 64)
        f->keys[f->n++] = key;
}

void stage__rdir_forget_node(io_t *io, const char *peer) {
    forget_t f = {.peer = peer};
    do {
        f.n = 0;
        stage__u64map_each(&io->names, forget_match, &f);
        for (int i = 0; i < f.n; i++)
            free(stage__u64map_take(&io->names, f.keys[i]));
    } while (f.n == 64);
}

void stage__rdir_peer_gone(io_t *io, const char *peer) {
    if (stage_dht_peer_gone(io->dht, now_ms(io), peer) > 0)
        stage__rdir_drain(io);
}

/* ---- finishing lookups -------------------------------------------------- */

static void lookup_free(lookup_t *lk) {
    stage__future_unref(lk->it->f);
    free(lk->it);
    stage_pack_free(&lk->acc);
    free(lk);
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
    if (op == STAGE__FIND_NAME) {
        snprintf(msg, sizeof msg, "no actor is named '%s'", lk->it->key);
        lookup_fail(lk, STAGE_ENAME_NOT_FOUND, msg);
        return;
    }
    snprintf(msg, sizeof msg, "no actor of type '%s'%s", lk->it->key,
             op == STAGE__FIND_SUBTYPE ? " or its subtypes" : "");
    lookup_fail(lk, STAGE_ETYPE_NOT_FOUND, msg);
}

/* Send lk's request to the DHT under a fresh request id. */
static int lookup_ask(io_t *io, lookup_t *lk, const char *type) {
    uint64_t req = ++io->next_id;
    int rc, op = lk->it->op;
    uint64_t now = now_ms(io);
    if (op == STAGE__NAME_CLAIM)
        rc = stage_dht_name_claim(io->dht, now, req, lk->it->key, &lk->it->to);
    else if (op == STAGE__FIND_NAME)
        rc = stage_dht_name_find(io->dht, now, req, lk->it->key);
    else
        rc = stage_dht_type_find(io->dht, now, req, type);
    if (!rc) rc = stage__u64map_put(&io->reqs, req, lk);
    if (!rc) lk->outstanding++;
    stage__rdir_drain(io);
    return rc;
}

/* ---- asking nodes (FIND) ------------------------------------------------ */

static void ask_next_node(io_t *io, lookup_t *lk);

/* A FIND answer: an id (find one) or an array of ids (find all). */
static void on_found(io_t *io, void *arg, int status, const char *value,
                     size_t len) {
    lookup_t *lk = arg;
    lk->outstanding--;
    if (lk->it->op == STAGE__FIND_ALL) {
        stage_unpack_t u;
        uint32_t n;
        stage_unpack_init(&u, value, len);
        if (status == 0 && !stage_unpack_array(&u, &n)) {
            const char *ids = u.p;
            if (stage_pack_validate(ids, (size_t)(u.end - ids), (int)n) == 0 ||
                n == 0) {
                stage_pack_raw(&lk->acc, ids, (size_t)(u.end - ids));
                lk->nacc += n;
            }
        }
        if (lk->outstanding) return;
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_array(&p, lk->nacc);
        stage_pack_raw(&p, lk->acc.data, lk->acc.len);
        if (stage_pack_error(&p) || stage_pack_error(&lk->acc))
            lookup_fail(lk, STAGE_ENOMEM, "out of memory");
        else
            lookup_resolve(lk, p.data, p.len);
        stage_pack_free(&p);
        return;
    }
    if (status == 0) {
        lookup_resolve(lk, value, len);
        return;
    }
    ask_next_node(io, lk); /* that node had none left: try another */
}

/* Answer a FIND for a node that is this one, without the network. */
static void find_here(io_t *io, lookup_t *lk, const rep_t *r) {
    stage__type_t *ty = stage__type_find(io->node, r->type);
    stage_pack_t p = STAGE_PACK_INIT;
    int status = STAGE_EACTOR_NOT_FOUND;
    if (ty && lk->it->op == STAGE__FIND_ALL) {
        stage_pack_t ids = STAGE_PACK_INIT;
        size_t n = stage__dir_all(io->node, ty, &ids);
        stage_pack_array(&p, (uint32_t)n);
        stage_pack_raw(&p, ids.data, ids.len);
        stage_pack_free(&ids);
        status = 0;
    } else if (ty) {
        stage_id_t id;
        status = stage__dir_random(io->node, ty, stage__random64(), &id);
        if (!status) stage_pack_id(&p, &id);
    }
    lk->outstanding++;
    on_found(io, lk, status, p.data, p.len);
    stage_pack_free(&p);
}

static void ask_node(io_t *io, lookup_t *lk, const rep_t *r) {
    if (!strcmp(r->node, io->address)) {
        find_here(io, lk, r);
        return;
    }
    uint64_t call = stage__io_call_cb(io, r->node, on_found, lk);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 3);
    stage_pack_int(&p, (int64_t)call);
    stage_pack_cstr(&p, r->type);
    stage_pack_bool(&p, lk->it->op == STAGE__FIND_ALL);
    lk->outstanding++;
    if (!call || stage_pack_error(&p) ||
        stage__io_send_frame(io, r->node, FRAME_FIND, p.data, p.len)) {
        stage_pack_free(&p);
        if (call) stage__u64map_take(&io->calls, call); /* leaks no call */
        on_found(io, lk, STAGE_EUNREACHABLE, "", 0);
        return;
    }
    stage_pack_free(&p);
}

static void ask_next_node(io_t *io, lookup_t *lk) {
    if (lk->next_rep >= lk->nreps) {
        not_found(lk);
        return;
    }
    ask_node(io, lk, &lk->reps[lk->next_rep++]);
}

/* Every DHT lookup of lk is in: ask the nodes. */
static void ask_nodes(io_t *io, lookup_t *lk) {
    if (!lk->nreps) {
        not_found(lk);
        return;
    }
    if (lk->it->op == STAGE__FIND_ALL) {
        int n = lk->nreps;
        for (int i = 0; i < n; i++)
            ask_node(io, lk, &lk->reps[i]);
        return;
    }
    for (int i = lk->nreps - 1; i > 0; i--) { /* shuffle: a random one */
        int j = (int)(stage__random64() % (uint64_t)(i + 1));
        rep_t tmp = lk->reps[i];
        lk->reps[i] = lk->reps[j];
        lk->reps[j] = tmp;
    }
    ask_next_node(io, lk);
}

/* ---- DHT answers -------------------------------------------------------- */

static void add_item(io_t *io, lookup_t *lk, const stage_dht_item_t *item) {
    stage_unpack_t u;
    uint32_t n;
    int64_t kind;
    stage_unpack_init(&u, item->value, item->len);
    if (stage_unpack_array(&u, &n) || n != 2 || stage_unpack_int(&u, &kind))
        return;
    if (kind == 0) {
        stage_id_t id;
        if (stage_unpack_id(&u, &id) || lk->nreps >= MAX_REPS) return;
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
    if (lookup_ask(io, lk, name)) lk->failed = true;
}

static void lookup_dht_done(io_t *io, lookup_t *lk,
                            const stage_dht_effect_t *fx) {
    lk->outstanding--;
    int op = lk->it->op;
    if (op == STAGE__NAME_CLAIM || op == STAGE__FIND_NAME) {
        if (fx->status == 0 && op == STAGE__NAME_CLAIM) {
            free(stage__u64map_take(&io->names,
                                    stage__rdir_name_key(lk->it->key)));
            stage__rhome_claimed(io, lk->it->key, &lk->it->to);
            lookup_resolve(lk, "\xc3", 1);
        } else if (fx->status == 0 && fx->nitems) {
            cache_put(io, lk->it->key, fx->items[0].value, fx->items[0].len);
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
    for (size_t i = 0; fx->status == 0 && i < fx->nitems; i++)
        add_item(io, lk, &fx->items[i]);
    if (lk->outstanding) return;
    ask_nodes(io, lk);
}

/* ---- requests from theatres --------------------------------------------- */

static void claim_at_home(io_t *io, lookup_t *lk);

void stage__rdir_lookup(io_t *io, io_item_t *it) {
    lookup_t *lk = calloc(1, sizeof *lk);
    if (!lk) {
        stage__future_reject(it->f, STAGE_ENOMEM, NULL, NULL, NULL);
        stage__future_unref(it->f);
        free(it);
        return;
    }
    lk->it = it;
    if (it->op == STAGE__NAME_CLAIM && !stage__id_is_local(io->node, &it->to)) {
        claim_at_home(io, lk);
        return;
    }
    cached_t *c = it->op == STAGE__FIND_NAME ? cache_get(io, it->key) : NULL;
    if (c) {
        lookup_resolve(lk, c->value, c->len);
        return;
    }
    if (it->op == STAGE__FIND_TYPE || it->op == STAGE__FIND_SUBTYPE) {
        /* a local actor answers at once */
        stage__type_t *ty = stage__type_find(io->node, it->key);
        stage_id_t id;
        if (ty && it->op == STAGE__FIND_TYPE &&
            stage__dir_random(io->node, ty, stage__random64(), &id) == 0) {
            stage_pack_t p = STAGE_PACK_INIT;
            stage_pack_id(&p, &id);
            lookup_resolve(lk, p.data, p.len);
            stage_pack_free(&p);
            return;
        }
    }
    snprintf(lk->types[lk->ntypes++], STAGE_TYPE_MAX, "%.63s", it->key);
    if (lookup_ask(io, lk, it->key)) {
        char msg[300];
        snprintf(msg, sizeof msg, "the directory is not available for '%s'",
                 it->key);
        lookup_fail(lk, STAGE_EUNREACHABLE, msg);
    }
}

/* A FIND from another node: our actors of a type. */
int stage__rdir_in_find(io_t *io, const char *peer, const char *body,
                        size_t len) {
    stage_unpack_t u;
    stage_unpack_init(&u, body, len);
    uint32_t n;
    int64_t call;
    const char *type;
    size_t tlen;
    bool all;
    if (stage_unpack_array(&u, &n) || n != 3 || stage_unpack_int(&u, &call) ||
        call <= 0 || stage_unpack_str(&u, &type, &tlen) ||
        tlen >= STAGE_TYPE_MAX || stage_unpack_bool(&u, &all) || u.p != u.end)
        return STAGE_EDECODE;
    char name[STAGE_TYPE_MAX];
    snprintf(name, sizeof name, "%.*s", (int)tlen, type);
    stage__type_t *ty = stage__type_find(io->node, name);
    stage__future_t *f = stage__io_owed(io, peer, (uint64_t)call, 0);
    if (!f) return 0;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_id_t id;
    if (ty && all) {
        stage_pack_t ids = STAGE_PACK_INIT;
        size_t k = stage__dir_all(io->node, ty, &ids);
        stage_pack_array(&p, (uint32_t)k);
        stage_pack_raw(&p, ids.data, ids.len);
        stage_pack_free(&ids);
        stage__future_resolve(f, p.data, p.len);
    } else if (ty &&
               stage__dir_random(io->node, ty, stage__random64(), &id) == 0) {
        stage_pack_id(&p, &id);
        stage__future_resolve(f, p.data, p.len);
    } else {
        stage__future_reject(f, STAGE_EACTOR_NOT_FOUND, "none here", NULL,
                             NULL);
    }
    stage_pack_free(&p);
    stage__future_unref(f);
    return 0;
}

/* ---- names for actors of other nodes (the asking side; rhome.c answers) */

/* A name for an actor of another node is claimed by that node (a NAME
** frame): it renews the lease and releases the name when the actor stops,
** as for its own names; a claim for an actor that is gone fails with
** ActorNotFound. NAME [call, name, incarnation, serial, type], reply true
** or the claim's failure. */

static void on_claimed_home(io_t *io, void *arg, int status, const char *value,
                            size_t len) {
    (void)io;
    lookup_t *lk = arg;
    if (status == 0) {
        lookup_resolve(lk, value, len);
        return;
    }
    char msg[600];
    snprintf(msg, sizeof msg, "%.*s", (int)len, value);
    lookup_fail(lk, status, msg);
}

static void claim_at_home(io_t *io, lookup_t *lk) {
    const stage_id_t *id = &lk->it->to;
    uint64_t call = stage__io_call_cb(io, id->node, on_claimed_home, lk);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 5);
    stage_pack_int(&p, (int64_t)call);
    stage_pack_cstr(&p, lk->it->key);
    stage__io_pack_target(&p, id);
    int rc = !call ? STAGE_ENOMEM : stage_pack_error(&p);
    if (!rc) rc = stage__io_send_frame(io, id->node, FRAME_NAME, p.data, p.len);
    stage_pack_free(&p);
    if (rc) {
        if (call) stage__u64map_take(&io->calls, call);
        char msg[STAGE_ADDR_MAX + 100];
        snprintf(msg, sizeof msg, "cannot ask node '%s' to hold the name: %s",
                 id->node, stage_strerror(rc));
        lookup_fail(lk, STAGE_EUNREACHABLE, msg);
    }
}
