/*
** net/sources.c: code that travels — this node's part of the DHT's sources
** store (thesis 4.3.3: type -> [source text, version hash]).
**
** Storing: the first actor of a type on this node (its announce) puts the
** type's source, once per type per node run (ty->source_put). A script's
** text is stored under each of its types, with one version hash (the
** BLAKE2b of the text). Another text under a name the store has is a
** clash: the put fails with SourceClash, and this node says so in an error
** line (its own actors of the type run its own code; a node that fetches
** the type gets the stored one).
**
** Fetching: a node asked to run a type it lacks (a SPAWN frame, a MOVE's
** IMPORT) holds the request and fetches the type's code, then loads it in
** every theatre (stage__code_load: lua/lcode.c) and takes the request up
** again; fetches of one type share one request. A type the store lacks
** (TypeNotFound), a DHT that does not answer (Timeout, after its own
** tries) or code that fails to load (ScriptError, SourceClash) fails every
** waiter with a message naming the type and the node.
**
** A spawn_at of a type to another node waits for the put of its code
** (PUT_WAIT_MS at most; only a SourceClash fails it): the node there may
** fetch it. Every node that stored a type's code puts it again every
** lease/3 and when a node goes (refresh), so the code outlives the node
** that stored it first. Updates (stage.update_type): updates.c.
**
** Runs on the loop's owner (netnode.h); a load's end comes from a theatre
** as an ITEM_CODE.
*/
#include <stdio.h>
#include <string.h>

#include "core/image.h"
#include "netnode.h"
#include "sources.h"
#include "util/alloc.h"
#include "util/log.h"

/* A fetch of one type's code, and what waits for it. */
typedef struct fetch {
    struct fetch *next;
    char type[STAGE_TYPE_MAX];
    waiter_t *waiters;
    double started; /* stage__now(), for the log */
    int misses;     /* answers "no such entry" so far */
    bool ask;       /* to ask again at the sweep */
} fetch_t;

/* Answers "no such entry" a fetch takes before it says TypeNotFound, a
** sweep (500 ms) apart: they cover a spawner's PUT_WAIT_MS. */
#define FETCH_MISSES 5

/* The end of a load, from a theatre to the loop (ITEM_CODE's args). */
typedef struct loaded {
    fetch_t *fetch;
    int status;
    char why[];
} loaded_t;

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

int stage__sources_start(stage__netnode_t *nn) {
    nn->sources = stage__calloc(1, sizeof *nn->sources);
    return nn->sources ? 0 : STAGE_ENOMEM;
}

/* Call and free every waiter of fetch f with status and why; free f. */
static void fetch_end(stage__netnode_t *nn, fetch_t *f, int status,
                      const char *why) {
    stage__sources_t *s = nn->sources;
    for (fetch_t **p = s ? &s->fetches : NULL; p && *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    while (f->waiters) {
        waiter_t *w = f->waiters;
        f->waiters = w->next;
        w->cb(nn, w->arg, status, why);
        stage__free(w);
    }
    stage__free(f);
}

static void op_free(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage__sources_close(stage__netnode_t *nn) {
    stage__sources_t *s = nn->sources;
    if (!s) return;
    stage__u64map_each(&s->reqs, op_free, NULL);
    stage__u64map_free(&s->reqs);
    while (s->fetches) /* a load under way ends with ITEM_CODE: dropped */
        fetch_end(nn, s->fetches, STAGE_ESTOPPED, "the node stopped");
    stage__updates_close(s);
    while (s->puts) {
        put_t *p = s->puts;
        s->puts = p->next;
        for (waiter_t *w; (w = p->waiters);) {
            p->waiters = w->next;
            w->cb(nn, w->arg, STAGE_ESTOPPED, "the node stopped");
            stage__free(w);
        }
        stage__free(p);
    }
    stage__free(s);
    nn->sources = NULL;
}

/* ---- storing ------------------------------------------------------------ */

put_t *stage__sources_put_find(stage__sources_t *s, const stage__type_t *ty) {
    put_t *p = s->puts;
    while (p && p->ty != ty)
        p = p->next;
    return p;
}

/* The clash of ty's code with the store's, as a sentence. */
void stage__sources_clash_text(char *buf, size_t len, const stage__type_t *ty) {
    snprintf(buf, len,
             "actor type '%s': the sources store has other code for it "
             "(another node's script defines a type of that name): this "
             "node's actors of '%s' run this node's code, and nodes that "
             "fetch '%s' get the other; rename the type, or replace the "
             "stored code with stage.update_type",
             ty->name, ty->name, ty->name);
}

/* A new request's record, under a fresh request id (*req); NULL if out of
** memory. */
static op_t *op_new(stage__netnode_t *nn, uint64_t *req) {
    op_t *o = stage__calloc(1, sizeof *o);
    *req = ++nn->next_id;
    if (o && stage__u64map_put(&nn->sources->reqs, *req, o)) {
        stage__free(o);
        o = NULL;
    }
    return o;
}

/* Start the put of ty's code: 0, or an error. */
static int put_start(stage__netnode_t *nn, put_t *p) {
    stage__sources_t *s = nn->sources;
    uint64_t req;
    op_t *o = op_new(nn, &req);
    if (!o) return STAGE_ENOMEM;
    o->is_put = true;
    o->put = p;
    int rc = stage_dht_source_put(nn->dht, now_ms(nn), req, p->ty->name,
                                  p->ty->source, p->ty->source_len, 0);
    if (rc) {
        stage__free(stage__u64map_take(&s->reqs, req));
        return rc;
    }
    stage__lookup_drain(nn);
    return 0;
}

int stage__sources_store(stage__netnode_t *nn, stage__type_t *ty,
                         stage__sources_cb cb, void *arg) {
    stage__sources_t *s = nn->sources;
    if (!s) return STAGE_ESTOPPED;
    if (!ty || !ty->source) return 1; /* no code that travels: C */
    /* room for the entry's array and hash around the text */
    if (ty->source_len > STAGE_DHT_VALUE_MAX - 32) return STAGE_ETOOBIG;
    put_t *p = stage__sources_put_find(s, ty);
    if (p && p->done && !p->status) return 1;
    if (p && p->done && cb) { /* a clash: said again to each spawn_at */
        char why[STAGE_TYPE_MAX * 3 + 300];
        stage__sources_clash_text(why, sizeof why, ty);
        cb(nn, arg, p->status, why);
        return 0;
    }
    if (p && p->done) return 1;
    waiter_t *w = NULL;
    if (cb && !(w = stage__calloc(1, sizeof *w))) return STAGE_ENOMEM;
    if (w) w->cb = cb, w->arg = arg;
    if (p) { /* under way: wait with the others */
        if (w) w->next = p->waiters, p->waiters = w;
        return 0;
    }
    if (!(p = stage__calloc(1, sizeof *p))) {
        stage__free(w);
        return STAGE_ENOMEM;
    }
    /* whole and listed before the put: a manager that holds the key
    ** itself answers within put_start (put_done may then free p) */
    p->ty = ty;
    p->started = now_ms(nn);
    p->waiters = w;
    p->next = s->puts;
    s->puts = p;
    atomic_store(&ty->source_put, true);
    int rc = put_start(nn, p);
    if (rc) { /* not asked: put_done will not run; cb is not called */
        for (put_t **q = &s->puts; *q; q = &(*q)->next)
            if (*q == p) {
                *q = p->next;
                break;
            }
        stage__free(w);
        stage__free(p);
        atomic_store(&ty->source_put, false);
    }
    return rc;
}

void stage__sources_announce(stage__netnode_t *nn, stage__type_t *ty) {
    if (!nn->sources || !ty || !ty->source || atomic_load(&ty->source_put))
        return;
    int rc = stage__sources_store(nn, ty, NULL, NULL);
    if (rc == STAGE_ETOOBIG && !atomic_exchange(&ty->source_put, true))
        LOG_WARN("the code of actor type '%s' is not in the sources store: "
                 "its script is %zu bytes, over the %d bytes an entry may "
                 "hold; other nodes cannot fetch it (split the script)",
                 ty->name, ty->source_len, STAGE_DHT_VALUE_MAX - 32);
    else if (rc < 0)
        LOG_WARN("the code of actor type '%s' is not in the sources store: "
                 "%s (its next first actor here tries again)",
                 ty->name, stage_strerror(rc));
}

/* The put p ended with status: tell who waits. */
static void put_done(stage__netnode_t *nn, put_t *p, int status) {
    if (p->refresh) { /* news only if the store has other code now */
        p->refresh = false;
        /* other code now: an update this node has not heard of (or one
        ** under way): said, once; its spawns go on as they did */
        if (status == STAGE_ECLASH && !p->stale)
            LOG_WARN("actor type '%s': the sources store has other code "
                     "for it than this node runs now: it was updated "
                     "(stage.update_type) from a node this one has no "
                     "session with, or is being updated",
                     p->ty->name);
        p->stale = status == STAGE_ECLASH;
        return;
    }
    char why[STAGE_TYPE_MAX * 3 + 300];
    stage__type_t *ty = p->ty;
    if (status == STAGE_ECLASH) {
        stage__sources_clash_text(why, sizeof why, ty);
        LOG_ERROR("%s", why); /* once per type per node run */
    } else if (status) {
        snprintf(why, sizeof why,
                 "cannot store the code of actor type '%s' in the sources "
                 "store: %s",
                 ty->name, stage_strerror(status));
        LOG_WARN("%s (its next first actor here tries again)", why);
    }
    waiter_t *w = p->waiters;
    p->waiters = NULL;
    if (!status || status == STAGE_ECLASH) {
        p->done = true;
        p->status = status;
    } else { /* forgotten: the next announce or spawn_at puts again */
        stage__sources_t *s = nn->sources;
        for (put_t **q = &s->puts; *q; q = &(*q)->next)
            if (*q == p) {
                *q = p->next;
                break;
            }
        stage__free(p);
        atomic_store(&ty->source_put, false);
    }
    while (w) {
        waiter_t *next = w->next;
        w->cb(nn, w->arg, status, status ? why : NULL);
        stage__free(w);
        w = next;
    }
}

/* ---- fetching ----------------------------------------------------------- */

/* The load of fetch f's code ended (a theatre's thread): to the loop. */
static void on_loaded(stage_node_t *node, void *arg, int status,
                      const char *why) {
    stage__netnode_t *nn = stage__node_net(node);
    /* none: the node is being torn down, and its fetches ended already */
    if (!nn || atomic_load(&nn->closing)) return;
    size_t n = why ? strlen(why) + 1 : 1;
    stage__netnode_item_t *it = stage__calloc(1, sizeof *it);
    loaded_t *l = it ? stage__malloc(sizeof *l + n) : NULL;
    if (!l) { /* the waiters wait for the node's stop */
        LOG_ERROR("out of memory: the end of a load of code is lost");
        stage__free(it);
        return;
    }
    l->fetch = arg;
    l->status = status;
    memcpy(l->why, why ? why : "", n);
    it->kind = ITEM_CODE;
    it->args = (char *)l;
    stage__netnode_push(nn, it);
}

void stage__sources_loaded(stage__netnode_t *nn, stage__netnode_item_t *it) {
    loaded_t *l = (loaded_t *)it->args;
    fetch_t *f = l->fetch;
    stage__sources_t *s = nn->sources;
    bool live = false;
    for (fetch_t *g = s ? s->fetches : NULL; g && !live; g = g->next)
        live = g == f;
    if (!live) return; /* the node stopped meanwhile: fetch_end ran */
    if (!l->status) {
        LOG_INFO("loaded the code of actor type '%s' from the sources "
                 "store (fetched and run in every theatre) in %.1f ms",
                 f->type, (stage__now() - f->started) * 1e3);
        fetch_end(nn, f, 0, NULL);
        return;
    }
    char why[STAGE_TYPE_MAX + STAGE_ADDR_MAX + 700];
    snprintf(why, sizeof why,
             "the code of actor type '%s' from the sources store does not "
             "load on node '%s': %s",
             f->type, nn->address, l->why);
    LOG_WARN("%s", why);
    fetch_end(nn, f, l->status, why);
}

/* The answer to fetch f's get: load the code, or fail the waiters. */
static void get_done(stage__netnode_t *nn, fetch_t *f,
                     const stage_dht_effect_t *x) {
    char why[STAGE_TYPE_MAX + STAGE_ADDR_MAX + 300];
    int status = x->status;
    if ((status == STAGE_ENAME_NOT_FOUND || (!status && !x->nitems)) &&
        f->misses++ < FETCH_MISSES) {
        /* a put of a node that stored it just now may not have reached
        ** the replicas yet: again at the next sweeps (the manager cannot
        ** be called from here) */
        f->ask = true;
        return;
    }
    if (status == STAGE_ENAME_NOT_FOUND || (!status && !x->nitems)) {
        snprintf(why, sizeof why,
                 "node '%s' has no actor type '%s', and the sources store "
                 "has no code for it (no node of the system has run an "
                 "actor of that type)",
                 nn->address, f->type);
        fetch_end(nn, f, STAGE_ETYPE_NOT_FOUND, why);
        return;
    }
    if (status) {
        snprintf(why, sizeof why,
                 "node '%s' has no actor type '%s', and cannot fetch its "
                 "code from the sources store: %s",
                 nn->address, f->type,
                 status == STAGE_ETIMEOUT ? "the DHT did not answer in time"
                                          : stage_strerror(status));
        fetch_end(nn, f, status == STAGE_ETIMEOUT ? status : STAGE_EIO, why);
        return;
    }
    stage_unpack_t u;
    uint32_t n;
    const char *src;
    size_t len;
    stage_unpack_init(&u, x->items[0].value, x->items[0].len);
    if (stage_unpack_array(&u, &n) || n != 2 ||
        stage_unpack_str(&u, &src, &len)) {
        snprintf(why, sizeof why,
                 "the sources store's entry for actor type '%s' is not one "
                 "([source, version]; %u bytes)",
                 f->type, (unsigned)x->items[0].len);
        fetch_end(nn, f, STAGE_EDECODE, why);
        return;
    }
    int rc = stage__code_load(nn->node, f->type, src, len, on_loaded, f);
    if (rc) {
        snprintf(why, sizeof why,
                 "cannot load the code of actor type '%s' on node '%s': %s",
                 f->type, nn->address,
                 rc == STAGE_EINVAL ? "this node runs no Lua"
                                    : stage_strerror(rc));
        fetch_end(nn, f, rc, why);
    }
}

bool stage__sources_done(stage__netnode_t *nn, const stage_dht_effect_t *x) {
    op_t *o =
        nn->sources ? stage__u64map_take(&nn->sources->reqs, x->req) : NULL;
    if (!o) return false;
    if (o->update && o->find)
        stage__updates_found(nn, o->update, x);
    else if (o->update)
        stage__updates_stored(o->update, o->type, x->status);
    else if (o->is_put)
        put_done(nn, o->put, x->status);
    else
        get_done(nn, o->fetch, x);
    stage__free(o);
    return true;
}

/* Ask the store for fetch f's entry: 0, or an error. */
static int ask(stage__netnode_t *nn, fetch_t *f) {
    stage__sources_t *s = nn->sources;
    uint64_t req;
    op_t *o = op_new(nn, &req);
    if (!o) return STAGE_ENOMEM;
    o->fetch = f;
    int rc = stage_dht_source_get(nn->dht, now_ms(nn), req, f->type);
    if (rc) stage__free(stage__u64map_take(&s->reqs, req));
    return rc;
}

void stage__sources_peer_gone(stage__netnode_t *nn) {
    if (nn->sources) nn->sources->refresh_at = 0;
}

/* Put again the code of every type this node stored: an entry lives as
** long as its owner renews it, and the store keeps one owner's (the
** first); so every node that runs the code keeps it there (a put of the
** same code by another node renews the entry; after its owner went, it
** makes it anew). */
static bool refresh(stage__netnode_t *nn) {
    stage__sources_t *s = nn->sources;
    uint64_t now = now_ms(nn);
    if (!s->puts || now < s->refresh_at) return false;
    s->refresh_at = now + nn->lease_ms / 3;
    bool asked = false;
    for (put_t *p = s->puts; p; p = p->next) {
        if (!p->done || p->status || p->refresh) continue;
        uint64_t req;
        op_t *o = op_new(nn, &req);
        if (!o) break; /* the next sweep tries again */
        o->is_put = true;
        o->put = p;
        if (stage_dht_source_put(nn->dht, now, req, p->ty->name, p->ty->source,
                                 p->ty->source_len, 0)) {
            stage__free(stage__u64map_take(&s->reqs, req));
            continue;
        }
        p->refresh = true;
        asked = true;
    }
    return asked;
}

/* Let the spawns go that waited PUT_WAIT_MS for a put. */
static void put_waited(stage__netnode_t *nn) {
    uint64_t now = now_ms(nn);
    for (put_t *p = nn->sources->puts; p; p = p->next) {
        if (p->done || !p->waiters || now - p->started < PUT_WAIT_MS) continue;
        LOG_WARN("the sources store has not confirmed the code of actor "
                 "type '%s' after %d ms: its spawn_at goes on",
                 p->ty->name, PUT_WAIT_MS);
        waiter_t *w = p->waiters;
        p->waiters = NULL;
        while (w) {
            waiter_t *next = w->next;
            w->cb(nn, w->arg, 0, NULL);
            stage__free(w);
            w = next;
        }
    }
}

void stage__sources_sweep(stage__netnode_t *nn) {
    stage__sources_t *s = nn->sources;
    if (!s) return;
    put_waited(nn);
    bool asked = refresh(nn);
    for (fetch_t *f = s->fetches, *next; f; f = next) {
        next = f->next;
        if (!f->ask) continue;
        f->ask = false;
        int rc = ask(nn, f);
        if (rc) {
            char why[STAGE_TYPE_MAX + STAGE_ADDR_MAX + 200];
            snprintf(why, sizeof why,
                     "node '%s' has no actor type '%s', and cannot ask the "
                     "sources store for its code: %s",
                     nn->address, f->type, stage_strerror(rc));
            fetch_end(nn, f, rc, why);
        }
        asked = true;
    }
    if (asked) stage__lookup_drain(nn);
}

int stage__sources_need(stage__netnode_t *nn, const char *type,
                        stage__sources_cb cb, void *arg) {
    stage__sources_t *s = nn->sources;
    if (!s) return STAGE_ESTOPPED;
    if (!stage_type_name_valid(type)) return STAGE_EINVAL;
    waiter_t *w = stage__calloc(1, sizeof *w);
    if (!w) return STAGE_ENOMEM;
    w->cb = cb;
    w->arg = arg;
    fetch_t *f = s->fetches;
    while (f && strcmp(f->type, type))
        f = f->next;
    if (f) { /* one fetch a type */
        w->next = f->waiters;
        f->waiters = w;
        return 0;
    }
    f = stage__calloc(1, sizeof *f);
    if (!f) {
        stage__free(w);
        return STAGE_ENOMEM;
    }
    snprintf(f->type, sizeof f->type, "%s", type);
    f->waiters = w;
    f->started = stage__now();
    int rc = ask(nn, f);
    if (rc) {
        stage__free(f);
        stage__free(w);
        return rc;
    }
    f->next = s->fetches;
    s->fetches = f;
    stage__lookup_drain(nn);
    return 0;
}

/* ---- an import held for its code ---------------------------------------- */

/* A MOVE frame held while the code of its actor's type is fetched. */
typedef struct held_frame {
    stage__sources_frame_fn fn;
    char peer[STAGE_ADDR_MAX];
    char type[STAGE_TYPE_MAX];
    size_t len;
    char body[];
} held_frame_t;

/* The code a held frame waited for is here, or not: take the frame up
** again (without the code, the import fails naming the type). */
static void frame_fetched(stage__netnode_t *nn, void *arg, int status,
                          const char *why) {
    held_frame_t *h = arg;
    if (status)
        LOG_WARN("an actor of type '%s' from '%s' cannot come in: %s", h->type,
                 h->peer, why);
    stage__sources_t *s = nn->sources;
    if (s) s->rerun = true;
    h->fn(nn, h->peer, h->body, h->len);
    if (s) s->rerun = false;
    stage__free(h);
}

bool stage__sources_hold_import(stage__netnode_t *nn, const char *peer,
                                const char *image, size_t ilen,
                                const char *body, size_t len,
                                stage__sources_frame_fn fn) {
    char type[STAGE_TYPE_MAX];
    bool lua;
    if (!nn->sources || nn->sources->rerun ||
        stage__image_type(image, ilen, type, &lua) || !lua ||
        stage__type_find(nn->node, type))
        return false;
    held_frame_t *h = stage__malloc(sizeof *h + len);
    if (!h) return false; /* the import fails, naming the type */
    h->fn = fn;
    stage__addr_copy(h->peer, peer);
    memcpy(h->type, type, sizeof type);
    h->len = len;
    memcpy(h->body, body, len);
    if (stage__sources_need(nn, type, frame_fetched, h)) {
        stage__free(h);
        return false;
    }
    return true;
}
