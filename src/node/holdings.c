/*
** node/holdings.c: the names and types a node holds in the DHT, and the
** leave sequence (node/holdings.h). Every request goes into the node's
** manager with the next of the driver's request ids; the driver drains
** the manager's effects after each call here.
** Pure: no I/O, no clock; one owner.
*/
#include <stdio.h>
#include <string.h>

#include "node/holdings.h"
#include "stage/errors.h"
#include "util/alloc.h"

typedef struct claim {
    uint64_t serial;
    char name[256];
} claim_t;

void stage__hold_init(stage__hold_t *h, stage_dht_t *dht, uint64_t *next_id,
                      stage__names_t *names, const char *self,
                      uint32_t incarnation, const stage__hold_hooks_t *hooks) {
    memset(h, 0, sizeof *h);
    h->dht = dht;
    h->next_id = next_id;
    h->names = names;
    snprintf(h->self, sizeof h->self, "%s", self);
    h->incarnation = incarnation;
    h->hooks = *hooks;
}

static void free_claim(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage__hold_close(stage__hold_t *h) {
    stage__u64map_each(&h->claims, free_claim, NULL);
    stage__u64map_free(&h->claims);
    stage__free(h->types);
    h->types = NULL;
    h->ntypes = h->captypes = 0;
    stage__u64map_free(&h->byes);
}

static void note(stage__hold_t *h, const char *what, const char *name, int rc) {
    if (h->hooks.note) h->hooks.note(h->hooks.ud, what, name, rc);
}

/* Note a removal sent while leaving: its completion confirms it. */
static void bye_sent(stage__hold_t *h, uint64_t req, int rc) {
    if (h->leaving && !rc) stage__u64map_put(&h->byes, req, h);
}

/* ---- names ----------------------------------------------------------------
 */

int stage__hold_claimed(stage__hold_t *h, const char *name, uint64_t serial) {
    claim_t *c = stage__malloc(sizeof *c);
    if (!c) return STAGE_ENOMEM;
    c->serial = serial;
    snprintf(c->name, sizeof c->name, "%s", name);
    uint64_t key = stage__names_key(name);
    stage__free(stage__u64map_take(&h->claims, key));
    if (stage__u64map_put(&h->claims, key, c)) {
        stage__free(c);
        return STAGE_ENOMEM;
    }
    return 0;
}

size_t stage__hold_claims(const stage__hold_t *h) {
    return h->claims.count;
}

/* The claims of an actor, gathered 64 at a time (a map walk may not
** change the map). */
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

size_t stage__hold_release(stage__hold_t *h, uint64_t serial, uint64_t now) {
    gone_t g = {.serial = serial};
    size_t released = 0;
    do {
        g.n = 0;
        stage__u64map_each(&h->claims, gone_match, &g);
        for (int i = 0; i < g.n; i++) {
            claim_t *c = stage__u64map_take(&h->claims, g.keys[i]);
            uint64_t req = ++*h->next_id;
            int rc = stage_dht_name_release(h->dht, now, req, c->name);
            bye_sent(h, req, rc);
            note(h, "released the name", c->name, rc);
            stage__names_drop(h->names, c->name);
            stage__free(c);
            released++;
        }
    } while (g.n == 64);
    return released;
}

size_t stage__hold_names_of(const stage__hold_t *h, uint64_t serial,
                            const char **out, size_t max) {
    gone_t g = {.serial = serial};
    size_t n = 0;
    if (!serial) return 0;
    stage__u64map_each((stage_u64map_t *)&h->claims, gone_match, &g);
    for (int i = 0; i < g.n && n < max; i++) {
        claim_t *c = stage__u64map_get((stage_u64map_t *)&h->claims, g.keys[i]);
        if (c) out[n++] = c->name;
    }
    return n;
}

size_t stage__hold_hand_over(stage__hold_t *h, uint64_t serial) {
    gone_t g = {.serial = serial};
    size_t n = 0;
    if (!serial) return 0;
    do {
        g.n = 0;
        stage__u64map_each(&h->claims, gone_match, &g);
        for (int i = 0; i < g.n; i++) {
            claim_t *c = stage__u64map_take(&h->claims, g.keys[i]);
            stage_dht_name_forget(h->dht, c->name);
            stage__names_drop(h->names, c->name);
            stage__free(c);
            n++;
        }
    } while (g.n == 64);
    return n;
}

/* ---- types ----------------------------------------------------------------
 */

/* The representative id this node registers a type with (serial 0). */
static void type_rep(const stage__hold_t *h, const char *type,
                     stage_id_t *rep) {
    memset(rep, 0, sizeof *rep);
    snprintf(rep->node, sizeof rep->node, "%s", h->self);
    rep->incarnation = h->incarnation;
    snprintf(rep->type, sizeof rep->type, "%.63s", type);
}

void stage__hold_announce(stage__hold_t *h, void *ty, const char *type,
                          const char *super, uint64_t now) {
    bool listed = false;
    for (int i = 0; ty && i < h->ntypes && !listed; i++)
        if (h->types[i].ty == ty) listed = true, h->types[i].idle = 0;
    if (ty && !listed && h->ntypes == h->captypes) {
        int cap = h->captypes ? 2 * h->captypes : 8;
        stage__hold_type_t *p =
            stage__realloc(h->types, (size_t)cap * sizeof *p);
        if (p) h->types = p, h->captypes = cap;
    }
    if (ty && !listed && h->ntypes < h->captypes) {
        stage__hold_type_t *t = &h->types[h->ntypes++];
        t->ty = ty;
        snprintf(t->name, sizeof t->name, "%.63s", type);
        snprintf(t->super, sizeof t->super, "%.63s", super ? super : "");
        t->idle = 0;
    }
    stage_id_t rep;
    type_rep(h, type, &rep);
    /* fire and forget: the manager renews the lease */
    stage_dht_type_add(h->dht, now, ++*h->next_id, type, &rep);
    if (super && super[0])
        stage_dht_type_add_subtype(h->dht, now, ++*h->next_id, super, type);
}

/* Withdraw from types[i] (the last one moves there). */
static void withdraw(stage__hold_t *h, int i, uint64_t now) {
    stage_id_t rep;
    type_rep(h, h->types[i].name, &rep);
    uint64_t req = ++*h->next_id;
    /* fire and forget: a lost removal ends with the lease */
    int rc = stage_dht_type_remove(h->dht, now, req, h->types[i].name, &rep);
    bye_sent(h, req, rc);
    note(h, "withdrew from type", h->types[i].name, rc);
    h->types[i] = h->types[--h->ntypes];
}

size_t stage__hold_sweep(stage__hold_t *h, uint64_t now) {
    size_t withdrawn = 0;
    for (int i = 0; i < h->ntypes;) {
        stage__hold_type_t *t = &h->types[i];
        t->idle = h->hooks.count(h->hooks.ud, t->ty) ? 0 : t->idle + 1;
        if (t->idle >= STAGE__HOLD_WITHDRAW_SWEEPS &&
            h->hooks.retire(h->hooks.ud, t->ty)) {
            withdraw(h, i, now);
            withdrawn++;
        } else {
            i++;
        }
    }
    return withdrawn;
}

int stage__hold_types(const stage__hold_t *h) {
    return h->ntypes;
}

size_t stage__hold_relink(stage__hold_t *h, uint64_t now) {
    size_t n = 0;
    for (int i = 0; i < h->ntypes && !h->leaving; i++) {
        const stage__hold_type_t *t = &h->types[i];
        if (!t->super[0]) continue;
        /* fire and forget, as the announce: the renewal is the backstop */
        stage_dht_type_add_subtype(h->dht, now, ++*h->next_id, t->super,
                                   t->name);
        n++;
    }
    return n;
}

/* ---- leaving --------------------------------------------------------------
 */

int stage__hold_leave(stage__hold_t *h, uint64_t now) {
    if (h->leaving) return STAGE__HOLD_LEFT_ALREADY;
    h->leaving = true;
    /* alone: everything it holds goes with it */
    if (!stage_dht_successor(h->dht).id) return STAGE__HOLD_LEAVE_NOW;
    stage__hold_release(h, 0, now);
    while (h->ntypes)
        withdraw(h, h->ntypes - 1, now);
    if (!h->byes.count) return STAGE__HOLD_LEAVE_NOW;
    h->leave_by = now + STAGE__HOLD_LEAVE_WAIT_MS;
    return STAGE__HOLD_LEAVE_WAIT;
}

bool stage__hold_bye_done(stage__hold_t *h, uint64_t req) {
    return stage__u64map_take(&h->byes, req) && !h->byes.count && h->leaving &&
           !h->left;
}

bool stage__hold_ring_left(stage__hold_t *h, size_t *unconfirmed) {
    if (h->left) return false;
    h->left = true;
    h->leaving = true;
    *unconfirmed = h->byes.count;
    return true;
}
