/*
** core/directory.c: what a node knows of its own actors by name and type,
** and the lookups scripts make (stage.name, find_name, find_type, ...).
**
** Locally: every actor is listed under its type (thesis 4.3.2) in a
** per-type array guarded by the type's mutex (spawn and death touch one
** entry in O(1); swap-remove keeps it dense); names live in a small table. On a
** node with a network the lookups go to the DHT through the network hooks
** (src/net/netnode.c), which ask these local lists when another node wants
** "a random actor of type T here".
**
** Any thread; each structure has its own lock.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/directory.h"
#include "core/future.h"
#include "core/kind.h"
#include "core/move.h"
#include "core/pipeline.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "node_internal.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- types --------------------------------------------------------------- */

int stage__dir_add(stage__type_t *ty, stage__actor_t *a) {
    pthread_mutex_lock(&ty->lock);
    if (ty->n == ty->cap) {
        size_t cap = ty->cap ? ty->cap * 2 : 16;
        stage__actor_t **p = stage__realloc(ty->members, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&ty->lock);
            return STAGE_ENOMEM;
        }
        ty->members = p;
        ty->cap = cap;
    }
    a->dir_slot = (uint32_t)ty->n;
    ty->members[ty->n++] = a;
    pthread_mutex_unlock(&ty->lock);
    return 0;
}

/* Remove a in O(1): the last member takes its slot. Members of other
** theatres are only touched here, under the lock, while they are listed
** (an actor is listed until its own removal, before it is freed). */
void stage__dir_remove(stage__type_t *ty, stage__actor_t *a) {
    pthread_mutex_lock(&ty->lock);
    size_t i = a->dir_slot;
    if (i < ty->n && ty->members[i] == a) {
        stage__actor_t *last = ty->members[--ty->n];
        ty->members[i] = last;
        last->dir_slot = (uint32_t)i;
    }
    pthread_mutex_unlock(&ty->lock);
}

int stage__dir_alive(stage__type_t *ty, uint64_t serial) {
    pthread_mutex_lock(&ty->lock);
    int alive = 0;
    for (size_t i = 0; i < ty->n && !alive; i++)
        alive = ty->members[i]->serial == serial;
    pthread_mutex_unlock(&ty->lock);
    return alive;
}

size_t stage__dir_count(stage__type_t *ty) {
    pthread_mutex_lock(&ty->lock);
    size_t n = ty->n;
    pthread_mutex_unlock(&ty->lock);
    return n;
}

/* Under the lock: a birth lists its actor before it looks at announced,
** so either we see the actor, or the birth sees announced cleared. */
int stage__dir_retire(stage__type_t *ty) {
    pthread_mutex_lock(&ty->lock);
    int idle = ty->n == 0;
    if (idle) atomic_store(&ty->announced, false);
    pthread_mutex_unlock(&ty->lock);
    return idle;
}

/* A random local actor of type ty: 0 and *out, or STAGE_EACTOR_NOT_FOUND. */
int stage__dir_random(stage_node_t *node, stage__type_t *ty, uint64_t seed,
                      stage_id_t *out) {
    pthread_mutex_lock(&ty->lock);
    uint64_t serial = ty->n ? ty->members[seed % ty->n]->serial : 0;
    pthread_mutex_unlock(&ty->lock);
    if (!serial) return STAGE_EACTOR_NOT_FOUND;
    stage__make_id(node, serial, ty, out);
    return 0;
}

/* Append every local actor of ty to p (ids); returns how many. */
size_t stage__dir_all(stage_node_t *node, stage__type_t *ty, stage_pack_t *p) {
    pthread_mutex_lock(&ty->lock);
    size_t n = ty->n;
    for (size_t i = 0; i < n; i++) {
        stage_id_t id;
        stage__make_id(node, ty->members[i]->serial, ty, &id);
        stage_pack_id(p, &id);
    }
    pthread_mutex_unlock(&ty->lock);
    return n;
}

/* ---- names ------------------------------------------------------------------
 */

typedef struct name_entry {
    char *name;
    stage_id_t id;
} name_entry_t;

/* 1 if actor serial is listed under ty (ty->lock held). */
static int listed(const stage__type_t *ty, uint64_t serial) {
    for (size_t i = 0; i < ty->n; i++)
        if (ty->members[i]->serial == serial) return 1;
    return 0;
}

/* Names go when their actor stops (stage__actor_destroy drops them), so a
** name is given only to an actor alive now. For an actor of this node the
** check and the insert happen under its type's lock, which its removal
** from the type's list takes too: either the removal comes first and the
** claim fails, or it comes after and its stage__names_drop_actor finds the
** name. */
int stage__names_claim(stage_node_t *n, const char *name, const stage_id_t *id,
                       stage_id_t *holder) {
    stage__type_t *ty = NULL;
    if (stage__id_is_local(n, id) && !(ty = stage__type_find(n, id->type)))
        return STAGE_EACTOR_NOT_FOUND;
    int rc = 0;
    pthread_mutex_lock(&n->names_lock);
    if (ty) pthread_mutex_lock(&ty->lock);
    name_entry_t *tab = n->names;
    size_t i = 0;
    while (i < n->nnames && strcmp(tab[i].name, name))
        i++;
    if (ty && !listed(ty, id->serial)) {
        rc = STAGE_EACTOR_NOT_FOUND;
    } else if (i < n->nnames) {
        if (!stage_id_equal(&tab[i].id, id)) {
            *holder = tab[i].id;
            rc = STAGE_EEXISTS;
        }
    } else if (!(tab =
                     stage__realloc(n->names, (n->nnames + 1) * sizeof *tab))) {
        rc = STAGE_ENOMEM;
    } else {
        n->names = tab;
        if (!(tab[n->nnames].name = stage__strdup(name))) {
            rc = STAGE_ENOMEM;
        } else {
            tab[n->nnames++].id = *id;
        }
    }
    if (ty) pthread_mutex_unlock(&ty->lock);
    pthread_mutex_unlock(&n->names_lock);
    return rc;
}

int stage__names_find(stage_node_t *n, const char *name, stage_id_t *out) {
    int rc = STAGE_ENAME_NOT_FOUND;
    pthread_mutex_lock(&n->names_lock);
    for (size_t i = 0; i < n->nnames; i++) {
        name_entry_t *e = &((name_entry_t *)n->names)[i];
        if (!strcmp(e->name, name)) {
            *out = e->id;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&n->names_lock);
    return rc;
}

void stage__names_pack(stage_node_t *n, uint64_t serial, stage_pack_t *p) {
    pthread_mutex_lock(&n->names_lock);
    name_entry_t *tab = n->names;
    uint32_t k = 0;
    for (size_t i = 0; i < n->nnames; i++)
        k += stage__id_is_local(n, &tab[i].id) && tab[i].id.serial == serial;
    stage_pack_array(p, k);
    for (size_t i = 0; i < n->nnames; i++)
        if (stage__id_is_local(n, &tab[i].id) && tab[i].id.serial == serial)
            stage_pack_cstr(p, tab[i].name);
    pthread_mutex_unlock(&n->names_lock);
}

/* Drop the names of actor serial (it stopped). */
void stage__names_drop_actor(stage_node_t *n, uint64_t serial) {
    pthread_mutex_lock(&n->names_lock);
    name_entry_t *tab = n->names;
    for (size_t i = 0; i < n->nnames;) {
        if (stage__id_is_local(n, &tab[i].id) && tab[i].id.serial == serial) {
            stage__free(tab[i].name);
            tab[i] = tab[--n->nnames];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&n->names_lock);
}

void stage__names_free(stage_node_t *n) {
    name_entry_t *tab = n->names;
    for (size_t i = 0; i < n->nnames; i++)
        stage__free(tab[i].name);
    stage__free(tab);
    n->names = NULL;
    n->nnames = 0;
    pthread_mutex_destroy(&n->names_lock);
}

/* ---- lookups ------------------------------------------------------------ */

static uint64_t mix(uint64_t x) { /* splitmix64: a cheap random pick */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void resolve_id(stage__future_t *f, const stage_id_t *id) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_id(&p, id);
    if (stage_pack_error(&p))
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
    else
        stage__future_resolve(f, p.data, p.len);
    stage_pack_free(&p);
}

/* Types t and, with subtypes, every type whose supertype chain reaches t,
** into types[] (at most max); returns how many. */
static int type_family(stage_node_t *n, const char *t, bool subtypes,
                       stage__type_t **types, int max) {
    int k = 0;
    /* acquire: a type code added while running is seen whole (node.c) */
    int nt = atomic_load_explicit(&n->ntypes, memory_order_acquire);
    for (int i = 0; i < nt && k < max; i++) {
        stage__type_t *ty = n->types[i];
        int depth = 0; /* C types name supertypes freely: bound the walk */
        for (stage__type_t *c = ty; c && depth++ < 64;
             c = c->super[0] ? stage__type_find(n, c->super) : NULL) {
            if (!strcmp(c->name, t)) {
                types[k++] = ty;
                break;
            }
            if (!subtypes) break;
        }
    }
    return k;
}

/* A random actor among those of types[0..k), each actor equally likely:
** the type is chosen in proportion to its actors, then one of them. (A
** type chosen first, then an actor, favours the actors of small types.)
** A type emptied meanwhile by another theatre is skipped. 0 and *out, or
** STAGE_EACTOR_NOT_FOUND. */
static int pick_in_family(stage_node_t *n, stage__type_t **types, int k,
                          uint64_t seed, stage_id_t *out) {
    size_t counts[64], total = 0;
    for (int i = 0; i < k; i++)
        total += counts[i] = stage__dir_count(types[i]);
    for (int tries = 0; total && tries < k; tries++) {
        uint64_t r = mix(seed + (uint64_t)tries) % total;
        int i = 0;
        while (r >= counts[i])
            r -= counts[i++];
        if (stage__dir_random(n, types[i], r, out) == 0) return 0;
        total -= counts[i]; /* gone meanwhile: pick among the others */
        counts[i] = 0;
    }
    return STAGE_EACTOR_NOT_FOUND;
}

void stage__host_pack(stage_pack_t *p, const char *address, int theatres,
                      double load, bool takes_movers, uint32_t actors) {
    stage_pack_map(p, 5);
    stage_pack_cstr(p, "address");
    stage_pack_cstr(p, address);
    stage_pack_cstr(p, "theatres");
    stage_pack_int(p, theatres);
    stage_pack_cstr(p, "load");
    stage_pack_double(p, load);
    stage_pack_cstr(p, "actors");
    stage_pack_int(p, actors);
    stage_pack_cstr(p, "takes_movers");
    stage_pack_bool(p, takes_movers);
}

/* An embedded node's hosts: itself, its load as its theatres last
** published it. */
static void local_hosts(stage_node_t *n, stage__future_t *f) {
    unsigned runnable, actors;
    stage__place_node_load(n, &runnable, &actors);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage__host_pack(&p, n->address, n->ntheatres,
                     (double)runnable / n->ntheatres, true, actors);
    if (stage_pack_error(&p))
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
    else
        stage__future_resolve(f, p.data, p.len);
    stage_pack_free(&p);
}

static void local_find(stage_node_t *n, int op, const char *key,
                       stage__future_t *f) {
    char msg[400];
    stage_id_t id;
    if (op == STAGE__HOSTS) {
        local_hosts(n, f);
        return;
    }
    if (op == STAGE__FIND_NAME || op == STAGE__REFIND_NAME) {
        if (stage__names_find(n, key, &id) == 0)
            resolve_id(f, &id);
        else {
            snprintf(msg, sizeof msg, "no actor is named '%s'", key);
            stage__future_reject(f, STAGE_ENAME_NOT_FOUND, msg, NULL, NULL);
        }
        return;
    }
    stage__type_t *fam[64];
    int k = type_family(n, key, op == STAGE__FIND_SUBTYPE, fam, 64);
    if (op == STAGE__FIND_ALL) {
        stage_pack_t body = STAGE_PACK_INIT, p = STAGE_PACK_INIT;
        size_t total = 0;
        for (int i = 0; i < k; i++)
            total += stage__dir_all(n, fam[i], &body);
        stage_pack_array(&p, (uint32_t)total);
        stage_pack_raw(&p, body.data, body.len);
        if (stage_pack_error(&p) || stage_pack_error(&body))
            stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        else
            stage__future_resolve(f, p.data, p.len);
        stage_pack_free(&p);
        stage_pack_free(&body);
        return;
    }
    uint64_t seed =
        mix((uint64_t)(uintptr_t)f ^ (uint64_t)(stage__now() * 1e9));
    if (pick_in_family(n, fam, k, seed, &id) == 0) {
        resolve_id(f, &id);
        return;
    }
    snprintf(msg, sizeof msg, "no actor of type '%s'%s", key,
             op == STAGE__FIND_SUBTYPE ? " or its subtypes" : "");
    stage__future_reject(f, STAGE_ETYPE_NOT_FOUND, msg, NULL, NULL);
}

int stage__dir_key_check(int op, const char *key) {
    if (!key) return STAGE_EINVAL;
    if (op == STAGE__HOSTS) return 0; /* no key */
    if (op == STAGE__NAME_CLAIM || op == STAGE__FIND_NAME ||
        op == STAGE__REFIND_NAME) {
        size_t len = strnlen(key, 256);
        return len == 0 || len > 255 ? STAGE_EINVAL : 0;
    }
    return stage_type_name_valid(key) ? 0 : STAGE_EINVAL;
}

/* Fail a claim of name for id: taken by holder, or id is not alive. */
static void claim_failed(stage__future_t *f, int rc, const char *name,
                         const stage_id_t *id, const stage_id_t *holder) {
    char text[STAGE_ID_TEXT_MAX], msg[STAGE_ID_TEXT_MAX + 320];
    if (rc == STAGE_EEXISTS) {
        stage_id_format(holder, text, sizeof text);
        snprintf(msg, sizeof msg, "the name '%s' is taken by %s", name, text);
    } else if (rc == STAGE_EACTOR_NOT_FOUND) {
        stage_id_format(id, text, sizeof text);
        snprintf(msg, sizeof msg,
                 "actor '%s' not found (it stopped or never existed): the "
                 "name '%s' is not given to it",
                 text, name);
    } else {
        snprintf(msg, sizeof msg, "cannot claim the name '%s': %s", name,
                 stage_strerror(rc));
    }
    stage__future_reject(f, rc, msg, NULL, NULL);
}

/* 1 if id names an actor of this node that is alive now: here, or born
** here and living on another node (a name given through its first id is
** held here, as one given before it moved: it follows the actor's next
** move, and goes when it stops). On the actor's birth theatre. */
static int local_alive(stage_node_t *n, const stage_id_t *id) {
    stage__type_t *ty = stage__type_find(n, id->type);
    stage__theatre_t *t = stage__current();
    return ty && (stage__dir_alive(ty, id->serial) ||
                  (t && stage__move_lives_away(t, id->serial)));
}

/* Claim key for id now and complete f. */
static void claim(stage_node_t *n, const char *key, const stage_id_t *id,
                  stage__future_t *f) {
    bool local = stage__id_is_local(n, id);
    if (n->net_hooks.directory) {
        if (local && !local_alive(n, id))
            claim_failed(f, STAGE_EACTOR_NOT_FOUND, key, id, NULL);
        else
            n->net_hooks.directory(n, STAGE__NAME_CLAIM, key, id, f);
        return;
    }
    stage_id_t holder;
    int rc = stage__names_claim(n, key, id, &holder);
    if (rc == 0)
        stage__future_resolve(f, "\xc3", 1); /* true */
    else
        claim_failed(f, rc, key, id, &holder);
}

/* A claim for an actor of this node, carried to the actor's theatre. */
typedef struct claim_req {
    stage__future_t *f; /* a reference */
    stage_id_t id;
    char key[256];
} claim_req_t;

static void claim_call(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)a;
    claim_req_t *r = e->arg;
    claim(t->node, r->key, &r->id, r->f);
    stage__future_unref(r->f);
    stage__free(r);
    stage__env_free(e);
}

static void claim_drop(stage__theatre_t *t, stage__actor_t *a,
                       stage__env_t *e) {
    (void)t;
    (void)a;
    claim_req_t *r = e->arg;
    stage__future_reject(r->f, STAGE_ESTOPPED,
                         "the node stopped before the name was claimed", NULL,
                         NULL);
    stage__future_unref(r->f);
    stage__free(r);
    stage__env_free(e);
}

/* A spawn from another thread is a call pushed to the actor's theatre, so
** a claim for an actor of this node goes there too, behind it: an actor
** named just after its spawn is alive by then, and one that has stopped
** is found gone. */
static void claim_at_home(stage_node_t *n, const char *key,
                          const stage_id_t *id, stage__future_t *f) {
    stage__theatre_t *home =
        stage__node_theatre(n, stage__serial_theatre(id->serial));
    if (!home) {
        claim_failed(f, STAGE_EACTOR_NOT_FOUND, key, id, NULL);
        return;
    }
    if (stage__current() == home) {
        claim(n, key, id, f);
        return;
    }
    claim_req_t *r = stage__malloc(sizeof *r);
    stage__env_t *e = r ? stage__env_call(claim_call, claim_drop, r) : NULL;
    if (!e) {
        stage__free(r);
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        return;
    }
    stage__future_ref(r->f = f);
    r->id = *id;
    snprintf(r->key, sizeof r->key, "%s", key);
    stage__theatre_post(home, e);
}

void stage__directory(stage_node_t *n, int op, const char *key,
                      const stage_id_t *id, stage__future_t *f) {
    if (op == STAGE__FIND_NAME && !f->byname &&
        !(f->byname = stage__byname_new(key))) {
        stage__future_reject(f, STAGE_ENOMEM, NULL, NULL, NULL);
        return;
    }
    if (op == STAGE__NAME_CLAIM) {
        if (stage__id_is_local(n, id))
            claim_at_home(n, key, id, f);
        else
            claim(n, key, id, f);
    } else if (n->net_hooks.directory) {
        n->net_hooks.directory(n, op, key, id, f);
    } else {
        local_find(n, op, key, f);
    }
}
