/*
** node/names.c: the name cache, the runs other nodes announced, and the
** rule for asking again (node/names.h).
** Pure: no I/O, no clock; one owner.
*/
#include <stdio.h>
#include <string.h>

#include "dht/dht.h"
#include "node/names.h"
#include "stage/errors.h"
#include "stage/pack.h"
#include "util/alloc.h"

/* One name's cached id. */
typedef struct cached {
    uint64_t expires;
    char name[256];
    char node[STAGE_ADDR_MAX]; /* its actor's node */
    size_t len;
    char value[]; /* the id's msgpack */
} cached_t;

void stage__names_init(stage__names_t *ns, const char *self,
                       uint32_t incarnation) {
    memset(ns, 0, sizeof *ns);
    snprintf(ns->self, sizeof ns->self, "%s", self);
    ns->incarnation = incarnation;
}

void stage__names_close(stage__names_t *ns) {
    stage__names_forget_node(ns, NULL);
    stage__u64map_free(&ns->cache);
    stage__u64map_free(&ns->runs);
    ns->waiting = NULL;
}

uint64_t stage__names_key(const char *name) {
    return stage_dht_key(STAGE_DHT_NAMES, name, strlen(name)) | 1;
}

/* ---- the cache ------------------------------------------------------------
 */

bool stage__names_get(stage__names_t *ns, const char *name, uint64_t now,
                      const char **value, size_t *len) {
    uint64_t key = stage__names_key(name);
    cached_t *c = stage__u64map_get(&ns->cache, key);
    if (!c || strcmp(c->name, name)) return false;
    if (c->expires <= now) {
        stage__free(stage__u64map_take(&ns->cache, key));
        return false;
    }
    *value = c->value;
    *len = c->len;
    return true;
}

int stage__names_put(stage__names_t *ns, const char *name, const char *value,
                     size_t len, uint64_t now) {
    stage_id_t id;
    stage_unpack_t u;
    stage_unpack_init(&u, value, len);
    if (stage_unpack_id(&u, &id) || u.p != u.end) return STAGE_EDECODE;
    cached_t *c = stage__malloc(sizeof *c + len);
    if (!c) return STAGE_ENOMEM;
    c->expires = now + STAGE__NAMES_TTL_MS;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->node, sizeof c->node, "%s", id.node);
    c->len = len;
    memcpy(c->value, value, len);
    uint64_t key = stage__names_key(name);
    stage__free(stage__u64map_take(&ns->cache, key));
    if (stage__u64map_put(&ns->cache, key, c)) {
        stage__free(c);
        return STAGE_ENOMEM;
    }
    return 0;
}

void stage__names_drop(stage__names_t *ns, const char *name) {
    stage__free(stage__u64map_take(&ns->cache, stage__names_key(name)));
}

size_t stage__names_count(const stage__names_t *ns) {
    return ns->cache.count;
}

/* The entries of a node, gathered 64 at a time (a map walk may not change
** the map). */
typedef struct forget {
    const char *addr;
    uint64_t keys[64];
    int n;
} forget_t;

static void forget_match(uint64_t key, void *val, void *ud) {
    forget_t *f = ud;
    cached_t *c = val;
    if ((!f->addr || !strcmp(c->node, f->addr)) && f->n < 64)
        f->keys[f->n++] = key;
}

void stage__names_forget_node(stage__names_t *ns, const char *addr) {
    forget_t f = {.addr = addr};
    do {
        f.n = 0;
        stage__u64map_each(&ns->cache, forget_match, &f);
        for (int i = 0; i < f.n; i++)
            stage__free(stage__u64map_take(&ns->cache, f.keys[i]));
    } while (f.n == 64);
}

/* ---- runs -----------------------------------------------------------------
 */

/* The key of a node address in runs (not 0). */
static uint64_t addr_key(const char *addr) {
    return stage_dht_key(STAGE_DHT_RAW, addr, strlen(addr)) | 1;
}

bool stage__names_peer_up(stage__names_t *ns, const char *addr,
                          uint32_t incarnation) {
    void *before = stage__u64map_get(&ns->runs, addr_key(addr));
    if (incarnation) /* 0 is never a run's: nothing to note */
        stage__u64map_put(&ns->runs, addr_key(addr),
                          (void *)(uintptr_t)incarnation);
    return before && incarnation && (uint32_t)(uintptr_t)before != incarnation;
}

bool stage__names_run_ended(const stage__names_t *ns, const stage_id_t *id) {
    if (!strcmp(id->node, ns->self)) return id->incarnation != ns->incarnation;
    void *v = stage__u64map_get(&ns->runs, addr_key(id->node));
    return v && (uint32_t)(uintptr_t)v != id->incarnation;
}

/* ---- asking again ---------------------------------------------------------
 */

int stage__names_refind(const stage__names_t *ns, const stage_id_t *failed,
                        int status, const char *value, size_t len) {
    if (status == STAGE_ETIMEOUT || status == STAGE_EBUSY)
        return STAGE__REFIND_BUSY;
    if ((status == 0 && !value) || status == STAGE_ENAME_NOT_FOUND)
        return STAGE__REFIND_MISSING;
    if (status) return STAGE__REFIND_ANSWER;
    /* only the failed actor's run: were our note of the node's incarnation
    ** older than the name's actor, that actor would be the live one */
    stage_id_t id;
    stage_unpack_t u;
    stage_unpack_init(&u, value, len);
    if (stage_unpack_id(&u, &id) || id.incarnation != failed->incarnation ||
        strcmp(id.node, failed->node) || !stage__names_run_ended(ns, &id))
        return STAGE__REFIND_ANSWER;
    return STAGE__REFIND_STALE;
}

bool stage__names_rewait(stage__names_t *ns, stage__rewait_t *rw,
                         uint64_t now) {
    if (!rw->waited) {
        rw->waited = true;
        rw->stale_since = now;
    }
    if (now - rw->stale_since >= STAGE__NAMES_REWAIT_MS) return false;
    rw->wait_ms = !rw->wait_ms ? 25 : rw->wait_ms < 100 ? 2 * rw->wait_ms : 100;
    rw->due = now + rw->wait_ms;
    rw->next = ns->waiting;
    ns->waiting = rw;
    return true;
}

uint64_t stage__names_rewait_next(const stage__names_t *ns) {
    uint64_t first = UINT64_MAX;
    for (const stage__rewait_t *rw = ns->waiting; rw; rw = rw->next)
        if (rw->due < first) first = rw->due;
    return first;
}

stage__rewait_t *stage__names_rewait_due(stage__names_t *ns, uint64_t now) {
    stage__rewait_t *due = NULL;
    for (stage__rewait_t **pp = &ns->waiting; *pp;) {
        stage__rewait_t *rw = *pp;
        if (rw->due > now) {
            pp = &rw->next;
            continue;
        }
        *pp = rw->next;
        rw->next = due;
        due = rw;
    }
    return due;
}

stage__rewait_t *stage__names_rewait_all(stage__names_t *ns) {
    stage__rewait_t *all = ns->waiting;
    ns->waiting = NULL;
    return all;
}
