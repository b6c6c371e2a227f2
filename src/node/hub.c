/*
** node/hub.c: moves between nodes — the home scheme — as a pure state
** machine for one node (node/hub.h says the states, the transitions and
** the invariant). Hubs and guests live in one map by local serial: a hub
** is kept while its actor is away, moving, holds messages or has moves
** queued; a guest while it lives here. A guest that left leaves a tomb
** (another map, by the same serials): its home id, forwarded to, until
** its home says it stopped. A home notes the nodes its actors left.
** Pure logic: no I/O, no clock. One owner.
*/
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "node/hub.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/u64map.h"

typedef struct held {
    struct held *next;
    uint64_t msg;
} held_t;

typedef struct move {
    struct move *next;
    char dest[STAGE_ADDR_MAX];
    uint64_t req;
} move_t;

enum { HERE, AWAY };                /* a home hub's place */
enum { IDLE, EXPORT, OUT, IMPORT }; /* a home hub's move under way */
enum { LIVE, SHIP };                /* a guest */

typedef struct hub {
    uint64_t serial;
    bool guest;
    /* home */
    stage_id_t me;  /* its id here */
    int place;      /* HERE or AWAY */
    stage_id_t rid; /* AWAY: its id there */
    int stage;      /* IDLE, or the step of the move under way */
    move_t *cur, *qhead, *qtail;
    uint64_t image;            /* IMPORT: the copy kept until the answer */
    char wait[STAGE_ADDR_MAX]; /* OUT, IMPORT: whose answer */
    bool handing, handed;
    bool renamed; /* its names changed during the move under way */
    /* both: messages held while it moves */
    held_t *head, *tail;
    /* guest */
    stage_id_t home;
    int gstate;
    bool orphan;   /* SHIP, and its home's session ended meanwhile */
    char *formers; /* its IMPORT's record (the driver's bytes), or NULL */
    size_t flen;
} hub_t;

/* A guest that left (on its way home, in IN): all it leaves here is
** where what still comes to its id goes, its home id, in 48 bytes. The
** node address and the type name are shared by every tomb that names
** them (h->strs).
** A tomb is kept until its home says the actor stopped (FORGET), or the
** node stops. */
typedef struct tomb {
    struct tomb *twin; /* next of the tombs whose home serial is alike */
    const char *node, *type;
    uint64_t serial; /* its home id's */
    uint64_t here;   /* its key in h->tombs */
    uint32_t inc;
    uint16_t theatre;
    bool handing, handed; /* this node drains: TOMB asked, answered */
} tomb_t;

/* The nodes an actor born here left a tomb at (its image came home from
** there, IN): told to forget them (FORGET) once it stops. */
typedef struct visits {
    const char *type; /* its type name (its id's), shared */
    size_t n;
    const char *nodes[]; /* shared (h->strs) */
} visits_t;

/* A string shared by tombs (never freed before the machine). */
typedef struct str {
    struct str *next;
    char s[];
} str_t;

#define STRS_BUCKETS 64

/* An IMPORT the driver is taking in. */
typedef struct pending {
    struct pending *next;
    uint64_t image;
    stage_id_t home;
    char *formers; /* the IMPORT's record (copied), or NULL */
    size_t flen;
} pending_t;

/* Bytes an effect points to (REHOMED's formers), freed with its list. */
typedef struct blob {
    struct blob *next;
    char data[];
} blob_t;

typedef struct fxlist {
    stage_hub_fx_t *v;
    size_t n, cap;
    blob_t *blobs;
} fxlist_t;

struct stage_hub {
    char addr[STAGE_ADDR_MAX];
    uint32_t inc;
    stage_u64map_t hubs;
    stage_u64map_t tombs;  /* serial -> tomb_t */
    stage_u64map_t twins;  /* home serial -> its first tomb_t (twin chain) */
    stage_u64map_t visits; /* serial of an actor born here -> visits_t */
    str_t *strs[STRS_BUCKETS];
    pending_t *pending;
    fxlist_t fx[2];
    int fxw;
};

/* ---- effects --------------------------------------------------------------
 */

/* A new effect of kind, zeroed; NULL if out of memory (it is lost: the
** driver's own allocation failures are alike). */
static stage_hub_fx_t *fx_add(stage_hub_t *h, int kind) {
    fxlist_t *l = &h->fx[h->fxw];
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        stage_hub_fx_t *v = stage__realloc(l->v, cap * sizeof *v);
        if (!v) return NULL;
        l->v = v, l->cap = cap;
    }
    stage_hub_fx_t *x = &l->v[l->n++];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    return x;
}

/* Empty list l (its effects were read and are done with). */
static void fx_reset(fxlist_t *l) {
    l->n = 0;
    for (blob_t *b; (b = l->blobs);) {
        l->blobs = b->next;
        stage__free(b);
    }
}

const stage_hub_fx_t *stage_hub_effects(stage_hub_t *h, size_t *n) {
    fxlist_t *l = &h->fx[h->fxw];
    h->fxw ^= 1;
    fx_reset(&h->fx[h->fxw]);
    *n = l->n;
    return l->v;
}

/* A copy of len bytes at p, alive as long as the effects being written
** (NULL if len is 0 or out of memory). */
static const char *fx_bytes(stage_hub_t *h, const char *p, size_t len) {
    blob_t *b = len && p ? stage__malloc(sizeof *b + len) : NULL;
    if (!b) return NULL;
    memcpy(b->data, p, len);
    b->next = h->fx[h->fxw].blobs;
    h->fx[h->fxw].blobs = b;
    return b->data;
}

/* A copy of len bytes at p into *out (NULL: none, or out of memory: the
** record is lost, the actor is not), its length into *outlen. */
static void keep_bytes(char **out, size_t *outlen, const char *p, size_t len) {
    *out = len && p ? stage__malloc(len) : NULL;
    if (*out) memcpy(*out, p, len);
    *outlen = *out ? len : 0;
}

/* A step to node `to`; NULL if out of memory. */
static stage_hub_step_t *step_to(stage_hub_t *h, const char *to, int op) {
    stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_STEP);
    if (!x) return NULL;
    snprintf(x->node, sizeof x->node, "%s", to);
    x->step.op = op;
    return &x->step;
}

/* An effect of kind for local serial and image (0: none). */
static void fx_serial(stage_hub_t *h, int kind, uint64_t serial,
                      uint64_t image) {
    stage_hub_fx_t *x = fx_add(h, kind);
    if (x) x->serial = serial, x->image = image;
}

/* Request req (0: none) is answered: the actor is id. */
static void answer_ok(stage_hub_t *h, uint64_t req, const stage_id_t *id) {
    stage_hub_fx_t *x = req ? fx_add(h, STAGE_HUB_FX_ANSWER) : NULL;
    if (x) x->req = req, x->id = *id;
}

/* Request req (0: none) failed: status, why. */
static void answer_fail(stage_hub_t *h, uint64_t req, int status,
                        const char *why) {
    stage_hub_fx_t *x = req ? fx_add(h, STAGE_HUB_FX_ANSWER) : NULL;
    if (!x) return;
    x->req = req;
    x->status = status;
    snprintf(x->why, sizeof x->why, "%s", why);
}

/* ---- hubs -----------------------------------------------------------------
 */

/* Whether a and b name one actor (node, incarnation, serial). */
static bool same_id(const stage_id_t *a, const stage_id_t *b) {
    return a->serial == b->serial && a->incarnation == b->incarnation &&
           !strcmp(a->node, b->node);
}

/* The hub or guest of local serial, or NULL. */
static hub_t *hub_get(const stage_hub_t *h, uint64_t serial) {
    return stage__u64map_get(&h->hubs, serial);
}

/* A new hub for serial (NULL if out of memory). */
static hub_t *hub_new(stage_hub_t *h, uint64_t serial) {
    hub_t *b = stage__calloc(1, sizeof *b);
    if (b && stage__u64map_put(&h->hubs, serial, b)) {
        stage__free(b);
        return NULL;
    }
    if (b) b->serial = serial;
    return b;
}

/* Forget hub b (what it holds and queues must be gone). */
static void hub_drop(stage_hub_t *h, hub_t *b) {
    stage__u64map_take(&h->hubs, b->serial);
    stage__free(b->formers);
    stage__free(b);
}

/* This node's id for its actor serial, of type ty. */
static stage_id_t id_here(const stage_hub_t *h, uint64_t serial,
                          const char *ty) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", h->addr);
    id.incarnation = h->inc;
    id.serial = serial;
    snprintf(id.type, sizeof id.type, "%s", ty);
    return id;
}

/* ---- tombs ----------------------------------------------------------------
 */

/* The shared copy of string s (NULL if out of memory). */
static const char *intern(stage_hub_t *h, const char *s) {
    uint32_t x = 2166136261u; /* FNV-1a */
    for (const char *c = s; *c; c++)
        x = (x ^ (unsigned char)*c) * 16777619u;
    str_t **head = &h->strs[x % STRS_BUCKETS];
    for (str_t *e = *head; e; e = e->next)
        if (!strcmp(e->s, s)) return e->s;
    size_t len = strlen(s) + 1;
    str_t *e = stage__malloc(sizeof *e + len);
    if (!e) return NULL;
    memcpy(e->s, s, len);
    e->next = *head;
    *head = e;
    return e->s;
}

/* Guest b left: a tomb takes its serial (out of memory: none does, and
** what still comes to its id finds nothing here). */
static void entomb(stage_hub_t *h, hub_t *b) {
    tomb_t *t = stage__malloc(sizeof *t);
    if (t) {
        t->twin = stage__u64map_get(&h->twins, b->home.serial);
        t->node = intern(h, b->home.node);
        t->type = intern(h, b->home.type);
        t->serial = b->home.serial;
        t->here = b->serial;
        t->inc = b->home.incarnation;
        t->theatre = b->home.theatre;
        t->handing = t->handed = false;
    }
    if (t &&
        (!t->node || !t->type || stage__u64map_put(&h->twins, t->serial, t))) {
        stage__free(t);
    } else if (t && stage__u64map_put(&h->tombs, b->serial, t)) {
        stage__u64map_take(&h->twins, t->serial); /* back as it was */
        if (t->twin) stage__u64map_put(&h->twins, t->serial, t->twin);
        stage__free(t);
    }
    hub_drop(h, b);
}

/* Whether tomb t forwards to home. */
static bool tomb_of(const tomb_t *t, const stage_id_t *home) {
    return t->serial == home->serial && t->inc == home->incarnation &&
           !strcmp(t->node, home->node);
}

/* Home id `home` stopped: its tombs here go. */
static void forget(stage_hub_t *h, const stage_id_t *home) {
    tomb_t *first = stage__u64map_take(&h->twins, home->serial), *kept = NULL;
    for (tomb_t *t = first, *next; t; t = next) {
        next = t->twin;
        if (!tomb_of(t, home)) { /* another home's, of the same serial */
            t->twin = kept;
            kept = t;
            continue;
        }
        stage__u64map_take(&h->tombs, t->here);
        if (t->handing) { /* a drain waits for it: answered now */
            stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_LED);
            if (x) {
                x->id = id_here(h, t->here, t->type);
                x->cur = *home;
                x->status = STAGE_EACTOR_NOT_FOUND;
            }
        }
        stage__free(t);
    }
    /* the map had the slot: putting it back takes no memory */
    if (kept) stage__u64map_put(&h->twins, home->serial, kept);
}

/* Node `peer` sent the image of local actor serial home: it keeps a tomb
** of it (out of memory: not recorded, and the tomb stays there until
** that node stops). */
static void visited(stage_hub_t *h, const stage_id_t *me, const char *peer) {
    uint64_t serial = me->serial;
    visits_t *v = stage__u64map_get(&h->visits, serial);
    size_t n = v ? v->n : 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v->nodes[i], peer)) return;
    const char *node = intern(h, peer), *type = intern(h, me->type);
    if (!node || !type) return;
    if (v) stage__u64map_take(&h->visits, serial); /* its slot, for w */
    visits_t *w = stage__realloc(v, sizeof *w + (n + 1) * sizeof w->nodes[0]);
    if (w) {
        w->type = type;
        w->n = n + 1;
        w->nodes[n] = node;
    } else {
        w = v; /* as it was */
    }
    /* back into the slot it left needs no memory: a new one may fail */
    if (w && stage__u64map_put(&h->visits, serial, w)) stage__free(w);
}

/* Local actor serial (born here) stopped: the nodes it left tombs at are
** told to forget them. */
static void tell_visits(stage_hub_t *h, uint64_t serial) {
    visits_t *v =
        h->visits.count ? stage__u64map_take(&h->visits, serial) : NULL;
    for (size_t i = 0; v && i < v->n; i++) {
        stage_hub_step_t *s = step_to(h, v->nodes[i], STAGE_HUB_FORGET);
        if (s) s->home = id_here(h, serial, v->type);
    }
    stage__free(v);
}

/* The tomb of local serial, or NULL. */
static const tomb_t *tomb_get(const stage_hub_t *h, uint64_t serial) {
    return h->tombs.count ? stage__u64map_get(&h->tombs, serial) : NULL;
}

/* The home id tomb t forwards to. */
static stage_id_t tomb_home(const tomb_t *t) {
    stage_id_t id;
    memset(&id, 0, sizeof id);
    snprintf(id.node, sizeof id.node, "%s", t->node);
    snprintf(id.type, sizeof id.type, "%s", t->type);
    id.serial = t->serial;
    id.incarnation = t->inc;
    id.theatre = t->theatre;
    return id;
}

/* msg for b's actor goes where it is (b not moving). */
static void route(stage_hub_t *h, const hub_t *b, uint64_t msg) {
    const stage_id_t *to = !b->guest && b->place == AWAY ? &b->rid : NULL;
    stage_hub_fx_t *x =
        fx_add(h, to ? STAGE_HUB_FX_FORWARD : STAGE_HUB_FX_DELIVER);
    if (!x) return;
    x->msg = msg;
    x->serial = b->serial;
    if (to) x->id = *to;
}

/* Hold msg behind what b holds. */
static void hold(hub_t *b, held_t *m) {
    m->next = NULL;
    if (b->tail)
        b->tail->next = m;
    else
        b->head = m;
    b->tail = m;
}

/* What b held goes where its actor is now, in order. */
static void flush(stage_hub_t *h, hub_t *b) {
    for (held_t *m; (m = b->head);) {
        b->head = m->next;
        route(h, b, m->msg);
        stage__free(m);
    }
    b->tail = NULL;
}

static bool begin(stage_hub_t *h, hub_t *b, move_t *m);

/* NAMES to the node b's actor lives at (away, not handed over): the
** driver sends its record as it is when the step goes. */
static void send_names(stage_hub_t *h, hub_t *b) {
    stage_hub_step_t *s = step_to(h, b->rid.node, STAGE_HUB_NAMES);
    if (s) s->home = b->me, s->at = b->rid;
}

/* b's move is over (answered): what it held goes, the next move asked
** starts; a hub with nothing left to do is forgotten. Names changed
** during the move go to where it is now, before a next move's OUT (an
** IMPORT built before the change did not carry them). */
static void release(stage_hub_t *h, hub_t *b) {
    stage__free(b->cur);
    b->cur = NULL;
    b->stage = IDLE;
    b->wait[0] = '\0';
    flush(h, b);
    if (b->renamed && b->place == AWAY && !b->handing && !b->handed)
        send_names(h, b);
    b->renamed = false;
    for (move_t *m; (m = b->qhead);) {
        if (!(b->qhead = m->next)) b->qtail = NULL;
        if (begin(h, b, m)) return;
    }
    if (!b->guest && b->place == HERE && !b->handing && !b->handed)
        hub_drop(h, b);
}

/* Start move m of home hub b (idle). True if under way; else it was
** answered at once (b is idle still, m freed). */
static bool begin(stage_hub_t *h, hub_t *b, move_t *m) {
    b->cur = m;
    const stage_id_t *where = b->place == AWAY ? &b->rid : &b->me;
    if (b->handed || b->handing) { /* its node sequences it now */
        stage_hub_step_t *s = step_to(h, b->rid.node, STAGE_HUB_REQ);
        if (s) {
            s->at = b->rid;
            s->req = m->req;
            snprintf(s->where, sizeof s->where, "%s", m->dest);
        }
    } else if (!strcmp(m->dest, where->node)) { /* there already */
        answer_ok(h, m->req, where);
    } else if (b->place == AWAY) {
        stage_hub_step_t *s = step_to(h, b->rid.node, STAGE_HUB_OUT);
        if (s) s->home = b->me, s->at = b->rid;
        b->stage = OUT;
        snprintf(b->wait, sizeof b->wait, "%s", b->rid.node);
        return true;
    } else {
        b->stage = EXPORT;
        fx_serial(h, STAGE_HUB_FX_EXPORT, b->serial, 0);
        return true;
    }
    stage__free(m);
    b->cur = NULL;
    return false;
}

/* ---- the API --------------------------------------------------------------
 */

stage_hub_t *stage_hub_new(const char *addr, uint32_t inc) {
    stage_hub_t *h = stage__calloc(1, sizeof *h);
    if (!h) return NULL;
    snprintf(h->addr, sizeof h->addr, "%s", addr);
    h->inc = inc;
    return h;
}

/* u64map_each: free hub val and what it holds and queues. */
static void hub_free(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    hub_t *b = val;
    for (held_t *m; (m = b->head);) {
        b->head = m->next;
        stage__free(m);
    }
    for (move_t *m; (m = b->qhead);) {
        b->qhead = m->next;
        stage__free(m);
    }
    stage__free(b->cur);
    stage__free(b->formers);
    stage__free(b);
}

/* u64map_each: free val (a tomb, or visits). */
static void free_val(uint64_t key, void *val, void *ud) {
    (void)key;
    (void)ud;
    stage__free(val);
}

void stage_hub_destroy(stage_hub_t **hp) {
    stage_hub_t *h = *hp;
    if (!h) return;
    stage__u64map_each(&h->hubs, hub_free, NULL);
    stage__u64map_free(&h->hubs);
    stage__u64map_each(&h->tombs, free_val, NULL);
    stage__u64map_free(&h->tombs);
    stage__u64map_free(&h->twins);
    stage__u64map_each(&h->visits, free_val, NULL);
    stage__u64map_free(&h->visits);
    for (int i = 0; i < STRS_BUCKETS; i++) {
        for (str_t *e; (e = h->strs[i]);) {
            h->strs[i] = e->next;
            stage__free(e);
        }
    }
    for (pending_t *p; (p = h->pending);) {
        h->pending = p->next;
        stage__free(p->formers);
        stage__free(p);
    }
    fx_reset(&h->fx[0]);
    fx_reset(&h->fx[1]);
    stage__free(h->fx[0].v);
    stage__free(h->fx[1].v);
    stage__free(h);
    *hp = NULL;
}

bool stage_hub_knows(const stage_hub_t *h, uint64_t serial) {
    return hub_get(h, serial) || tomb_get(h, serial);
}

bool stage_hub_visited(const stage_hub_t *h, uint64_t serial) {
    return h->visits.count && stage__u64map_get(&h->visits, serial);
}

size_t stage_hub_tombs(const stage_hub_t *h) {
    return h->tombs.count;
}

int stage_hub_place(const stage_hub_t *h, uint64_t serial, const char **node,
                    stage_id_t *id) {
    const hub_t *b = hub_get(h, serial);
    const tomb_t *t = b ? NULL : tomb_get(h, serial);
    if (t) {
        if (node) *node = t->node;
        if (id) *id = tomb_home(t);
        return STAGE_HUB_PLACE_LEFT;
    }
    const stage_id_t *at = NULL;
    const char *to = NULL;
    int place = STAGE_HUB_PLACE_HERE; /* no hub, a guest living here, or
                                      ** a home hub here and idle */
    if (b && b->guest && b->gstate == SHIP) {
        place = STAGE_HUB_PLACE_MOVING, to = b->home.node;
    } else if (b && !b->guest && b->stage != IDLE) {
        place = STAGE_HUB_PLACE_MOVING, to = b->cur->dest;
    } else if (b && !b->guest && b->place == AWAY) {
        place = b->handed || b->handing ? STAGE_HUB_PLACE_HANDED
                                        : STAGE_HUB_PLACE_AWAY;
        at = &b->rid;
    }
    if (at) to = at->node;
    if (node && to) *node = to;
    if (id && at) *id = *at;
    return place;
}

void stage_hub_msg(stage_hub_t *h, uint64_t serial, uint64_t msg) {
    hub_t *b = hub_get(h, serial);
    const tomb_t *t = b ? NULL : tomb_get(h, serial);
    if (!b) { /* a guest that left: to its home; else an actor that never
              ** moved, or none: the driver's */
        stage_hub_fx_t *x =
            fx_add(h, t ? STAGE_HUB_FX_FORWARD : STAGE_HUB_FX_DELIVER);
        if (x) x->serial = serial, x->msg = msg;
        if (x && t) x->id = tomb_home(t);
        return;
    }
    bool moving = b->guest ? b->gstate == SHIP : b->stage != IDLE;
    held_t *m = moving ? stage__malloc(sizeof *m) : NULL;
    if (!m) { /* not moving; or out of memory: it goes as it would */
        route(h, b, msg);
        return;
    }
    m->msg = msg;
    hold(b, m);
}

void stage_hub_move(stage_hub_t *h, const stage_id_t *id, const char *dest,
                    uint64_t req) {
    hub_t *b = hub_get(h, id->serial);
    const tomb_t *t = b ? NULL : tomb_get(h, id->serial);
    if ((b && b->guest) || t) { /* its home sequences it */
        stage_id_t home = t ? tomb_home(t) : b->home;
        stage_hub_step_t *s = step_to(h, home.node, STAGE_HUB_REQ);
        if (s) {
            s->at = home;
            s->req = req;
            snprintf(s->where, sizeof s->where, "%s", dest);
        }
        return;
    }
    move_t *m = stage__calloc(1, sizeof *m);
    if (!b && m && (b = hub_new(h, id->serial))) {
        b->me = *id;
        b->place = HERE;
    }
    if (!m || !b) {
        stage__free(m);
        answer_fail(h, req, STAGE_ENOMEM, "out of memory");
        return;
    }
    snprintf(m->dest, sizeof m->dest, "%s", dest);
    m->req = req;
    if (b->stage != IDLE) { /* one move at a time, in the order asked */
        if (b->qtail)
            b->qtail->next = m;
        else
            b->qhead = m;
        b->qtail = m;
        return;
    }
    if (!begin(h, b, m) && !b->qhead && b->place == HERE && !b->head &&
        !b->handing && !b->handed)
        hub_drop(h, b);
}

/* IMPORT of image to b's move's destination; the image is kept. */
static void send_import(stage_hub_t *h, hub_t *b, uint64_t image) {
    b->stage = IMPORT;
    b->image = image;
    snprintf(b->wait, sizeof b->wait, "%s", b->cur->dest);
    stage_hub_step_t *s = step_to(h, b->cur->dest, STAGE_HUB_IMPORT);
    if (s) s->home = b->me, s->image = image;
}

/* Guest b is this node's own from now on, as `cur` (formers[0..flen):
** the record of the ids that led to its home id; answer: the node to say
** ADOPTED to once recorded, or NULL). */
static void make_own(stage_hub_t *h, hub_t *b, const char *formers, size_t flen,
                     const char *answer) {
    stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_REHOMED);
    stage_id_t cur = id_here(h, b->serial, b->home.type);
    if (x) {
        x->id = b->home;
        x->cur = cur;
        if (answer) snprintf(x->node, sizeof x->node, "%s", answer);
        x->step.formers = fx_bytes(h, formers, flen);
        x->step.flen = x->step.formers ? flen : 0;
    }
    stage__free(b->formers);
    b->formers = NULL;
    b->flen = 0;
    b->guest = false;
    b->me = cur;
    b->place = HERE;
    if (!b->head && !b->qhead) hub_drop(h, b);
}

void stage_hub_exported(stage_hub_t *h, uint64_t serial, uint64_t image) {
    hub_t *b = hub_get(h, serial);
    if (b && b->guest && b->gstate == SHIP && b->orphan) {
        /* its home died meanwhile: it stays, this node's own */
        fx_serial(h, STAGE_HUB_FX_RESTORE, serial, image);
        b->gstate = LIVE;
        flush(h, b);
        make_own(h, b, b->formers, b->flen, NULL);
    } else if (b && b->guest && b->gstate == SHIP) {
        stage_hub_step_t *s = step_to(h, b->home.node, STAGE_HUB_IN);
        if (s) s->home = b->home, s->image = image;
        for (held_t *m; (m = b->head);) { /* held while it shipped */
            b->head = m->next;
            stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_FORWARD);
            if (x) x->msg = m->msg, x->serial = serial, x->id = b->home;
            stage__free(m);
        }
        b->tail = NULL;
        entomb(h, b); /* it forwards home from now on */
    } else if (b && !b->guest && b->stage == EXPORT) {
        send_import(h, b, image);
    } else { /* no export was asked: the actor must not be lost */
        fx_serial(h, STAGE_HUB_FX_RESTORE, serial, image);
    }
}

void stage_hub_export_refused(stage_hub_t *h, uint64_t serial, int status,
                              const char *why) {
    hub_t *b = hub_get(h, serial);
    if (b && b->guest && b->gstate == SHIP) {
        stage_hub_step_t *s =
            b->orphan ? NULL : step_to(h, b->home.node, STAGE_HUB_REFUSED);
        if (s) {
            s->home = b->home;
            s->status = status;
            snprintf(s->why, sizeof s->why, "%s", why);
        }
        b->gstate = LIVE;
        flush(h, b);
        if (b->orphan) make_own(h, b, b->formers, b->flen, NULL);
    } else if (b && !b->guest && b->stage == EXPORT) {
        answer_fail(h, b->cur->req, status, why);
        release(h, b);
    }
}

void stage_hub_imported(stage_hub_t *h, uint64_t image, uint64_t serial) {
    pending_t **pp = &h->pending;
    while (*pp && (*pp)->image != image)
        pp = &(*pp)->next;
    pending_t *p = *pp;
    if (!p) return;
    *pp = p->next;
    hub_t *b = hub_new(h, serial);
    stage_id_t at = id_here(h, serial, p->home.type);
    if (b) {
        b->guest = true;
        b->home = p->home;
        b->gstate = LIVE;
        b->formers = p->formers; /* the guest keeps the record */
        b->flen = p->flen;
        p->formers = NULL;
    }
    /* no memory for its hub: it lives here, but its home's moves and
    ** death will not find it (the driver's own hubs are alike) */
    stage_hub_step_t *s = step_to(h, p->home.node, STAGE_HUB_ARRIVED);
    if (s) s->home = p->home, s->at = at;
    stage__free(p->formers);
    stage__free(p);
}

void stage_hub_import_refused(stage_hub_t *h, uint64_t image, int status,
                              const char *why) {
    pending_t **pp = &h->pending;
    while (*pp && (*pp)->image != image)
        pp = &(*pp)->next;
    pending_t *p = *pp;
    if (!p) return;
    *pp = p->next;
    stage_hub_step_t *s = step_to(h, p->home.node, STAGE_HUB_FAILED);
    if (s) {
        s->home = p->home;
        s->status = status;
        snprintf(s->why, sizeof s->why, "%s", why);
    }
    stage__free(p->formers);
    stage__free(p);
}

/* The home hub of s->home whose move waits for peer at stage st. */
static hub_t *waiting(stage_hub_t *h, const char *peer,
                      const stage_hub_step_t *s, int st) {
    hub_t *b = hub_get(h, s->home.serial);
    return b && !b->guest && b->stage == st && !strcmp(b->wait, peer) ? b
                                                                      : NULL;
}

/* The image of b's actor came home (IN): here if it goes here, else on. */
static void came_home(stage_hub_t *h, hub_t *b, uint64_t image) {
    if (strcmp(b->cur->dest, h->addr)) {
        send_import(h, b, image);
        return;
    }
    fx_serial(h, STAGE_HUB_FX_RESTORE, b->serial, image);
    b->place = HERE;
    answer_ok(h, b->cur->req, &b->me);
    release(h, b);
}

/* The actor of b (waiting for its destination) is taken back from the
** copy kept: status, why. */
static void take_back(stage_hub_t *h, hub_t *b, int status, const char *why) {
    fx_serial(h, STAGE_HUB_FX_RESTORE, b->serial, b->image);
    b->image = 0;
    b->place = HERE;
    answer_fail(h, b->cur->req, status, why);
    release(h, b);
}

/* OUT at the guest's node. */
static void step_out(stage_hub_t *h, const char *peer,
                     const stage_hub_step_t *s) {
    hub_t *b = hub_get(h, s->at.serial);
    if (b && b->guest && b->gstate == LIVE && same_id(&b->home, &s->home)) {
        b->gstate = SHIP;
        fx_serial(h, STAGE_HUB_FX_EXPORT, b->serial, 0);
        return;
    }
    stage_hub_step_t *r = step_to(h, peer, STAGE_HUB_REFUSED);
    if (!r) return;
    r->home = s->home;
    r->status = STAGE_EACTOR_NOT_FOUND;
    snprintf(r->why, sizeof r->why,
             "actor %llu is not on node '%s' (it left, or stopped)",
             (unsigned long long)s->at.serial, h->addr);
}

/* ADOPT at the guest's node. */
static void step_adopt(stage_hub_t *h, const char *peer,
                       const stage_hub_step_t *s) {
    hub_t *b = hub_get(h, s->at.serial);
    if (b && b->guest && b->gstate == LIVE && same_id(&b->home, &s->home)) {
        make_own(h, b, s->formers, s->flen, peer);
        return; /* ADOPTED once recorded: the driver's */
    }
    /* one shipping or gone home: its home asks again where it is */
    const tomb_t *t = b ? NULL : tomb_get(h, s->at.serial);
    bool ours =
        b ? b->guest && same_id(&b->home, &s->home) : t && tomb_of(t, &s->home);
    stage_hub_step_t *r = step_to(h, peer, STAGE_HUB_ADOPTED);
    if (r) {
        r->home = s->home;
        r->at = s->at;
        r->status = ours ? STAGE_EBUSY : STAGE_EACTOR_NOT_FOUND;
    }
}

/* ADOPTED at a node that drains, for tomb t (`at`: its actor's home id):
** the store leads its id home now (status 0), or not. */
static void tomb_adopted(stage_hub_t *h, tomb_t *t, const stage_hub_step_t *s) {
    if (!t->handing || !tomb_of(t, &s->at)) return;
    t->handing = false;
    t->handed = true; /* or not: asked once, as its home refused it */
    stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_LED);
    if (x) x->id = s->home, x->cur = tomb_home(t), x->status = s->status;
}

/* ADOPTED at home (or, for a tomb, at a node that drains). */
static void step_adopted(stage_hub_t *h, const stage_hub_step_t *s) {
    hub_t *b = hub_get(h, s->home.serial);
    tomb_t *t = b || !h->tombs.count
                    ? NULL
                    : stage__u64map_get(&h->tombs, s->home.serial);
    if (t) tomb_adopted(h, t, s);
    if (!b || b->guest || !b->handing || !same_id(&b->rid, &s->at)) return;
    stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_HANDED);
    if (x) x->id = b->me, x->cur = b->rid, x->status = s->status;
    b->handing = false;
    if (!s->status)
        b->handed = true;
    else if (s->status == STAGE_EACTOR_NOT_FOUND && b->stage == IDLE &&
             !b->head && !b->qhead)
        hub_drop(h, b);
}

/* Whether actor serial (born here) left a tomb at node peer. */
static bool left_at(const stage_hub_t *h, uint64_t serial, const char *peer) {
    const visits_t *v =
        h->visits.count ? stage__u64map_get(&h->visits, serial) : NULL;
    for (size_t i = 0; v && i < v->n; i++)
        if (!strcmp(v->nodes[i], peer)) return true;
    return false;
}

/* TOMB at the home: its actor had id `at` at peer, which drains. The
** store leads that id here, and peer is answered (ADOPTED) once it does.
** Only for an actor of this node that left a tomb there (its visits):
** else (it stopped, its FORGET crossing this; or a peer speaking for
** another actor) peer hears ActorNotFound, and the store is not told. */
static void step_tomb(stage_hub_t *h, const char *peer,
                      const stage_hub_step_t *s) {
    if (strcmp(s->at.node, peer)) return;
    if (strcmp(s->home.node, h->addr) || s->home.incarnation != h->inc ||
        !left_at(h, s->home.serial, peer)) {
        stage_hub_step_t *r = step_to(h, peer, STAGE_HUB_ADOPTED);
        if (r) {
            r->home = s->at;
            r->at = s->home;
            r->status = STAGE_EACTOR_NOT_FOUND;
        }
        return;
    }
    stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_REHOMED);
    if (!x) return;
    x->id = s->at;
    x->cur = s->home;
    snprintf(x->node, sizeof x->node, "%s", peer);
}

/* NAMES at the guest's node: the record its home sends is the one it
** keeps (a guest gone home has none to keep). */
static void step_names(stage_hub_t *h, const stage_hub_step_t *s) {
    hub_t *b = hub_get(h, s->at.serial);
    if (!b || !b->guest || !same_id(&b->home, &s->home))
        return; /* it stopped, or left: its home knows, or will */
    char *copy;
    size_t len;
    keep_bytes(&copy, &len, s->formers, s->flen);
    if (!copy && s->flen && s->formers)
        return; /* out of memory: the older record is kept */
    stage__free(b->formers);
    b->formers = copy;
    b->flen = len;
}

void stage_hub_step(stage_hub_t *h, const char *peer,
                    const stage_hub_step_t *s) {
    hub_t *b;
    pending_t *p;
    switch (s->op) {
    case STAGE_HUB_REQ:
        if (!strcmp(s->at.node, h->addr) && s->at.incarnation == h->inc) {
            stage_hub_move(h, &s->at, s->where, s->req);
        } else {
            answer_fail(h, s->req, STAGE_EACTOR_NOT_FOUND,
                        "actor not found on this node: cannot move it");
        }
        break;
    case STAGE_HUB_OUT:
        step_out(h, peer, s);
        break;
    case STAGE_HUB_IN:
        if ((b = waiting(h, peer, s, OUT))) {
            visited(h, &b->me, peer); /* a tomb of it stays there */
            came_home(h, b, s->image);
        } else {
            fx_serial(h, STAGE_HUB_FX_DROP, 0, s->image);
        }
        break;
    case STAGE_HUB_REFUSED:
        if ((b = waiting(h, peer, s, OUT))) {
            answer_fail(h, b->cur->req, s->status, s->why);
            release(h, b);
        }
        break;
    case STAGE_HUB_IMPORT:
        if (!(p = stage__calloc(1, sizeof *p))) {
            stage_hub_step_t *r = step_to(h, peer, STAGE_HUB_FAILED);
            if (r) {
                r->home = s->home;
                r->status = STAGE_ENOMEM;
                snprintf(r->why, sizeof r->why, "out of memory");
            }
            break;
        }
        p->image = s->image;
        p->home = s->home;
        keep_bytes(&p->formers, &p->flen, s->formers, s->flen);
        p->next = h->pending;
        h->pending = p;
        stage_hub_fx_t *x = fx_add(h, STAGE_HUB_FX_IMPORT);
        if (x) x->image = s->image, x->id = s->home;
        break;
    case STAGE_HUB_ARRIVED:
        if ((b = waiting(h, peer, s, IMPORT))) {
            fx_serial(h, STAGE_HUB_FX_DROP, 0, b->image);
            b->image = 0;
            b->place = AWAY;
            b->rid = s->at;
            answer_ok(h, b->cur->req, &s->at);
            release(h, b);
        }
        break;
    case STAGE_HUB_FAILED:
        if ((b = waiting(h, peer, s, IMPORT)))
            take_back(h, b, s->status, s->why);
        break;
    case STAGE_HUB_GONE:
        b = hub_get(h, s->home.serial);
        if (!b || b->guest || b->place != AWAY || strcmp(peer, b->rid.node) ||
            !same_id(&b->rid, &s->at))
            break;
        /* it stopped where it lived: whatever this node holds for it
        ** goes, a move asked of it meanwhile or not (that move finds it
        ** gone there) */
        fx_serial(h, STAGE_HUB_FX_GONE, b->serial, 0);
        tell_visits(h, b->serial);
        if (b->stage == IDLE && !b->head && !b->qhead) hub_drop(h, b);
        break;
    case STAGE_HUB_FORGET:
        if (h->twins.count) forget(h, &s->home);
        break;
    case STAGE_HUB_TOMB:
        step_tomb(h, peer, s);
        break;
    case STAGE_HUB_ADOPT:
        step_adopt(h, peer, s);
        break;
    case STAGE_HUB_ADOPTED:
        step_adopted(h, s);
        break;
    case STAGE_HUB_NAMES:
        step_names(h, s);
        break;
    }
}

void stage_hub_renamed(stage_hub_t *h, uint64_t serial) {
    hub_t *b = hub_get(h, serial);
    if (!b || b->guest || b->handing || b->handed) return;
    if (b->stage != IDLE)
        b->renamed = true; /* at the move's end (release) */
    else if (b->place == AWAY)
        send_names(h, b);
}

const char *stage_hub_record(const stage_hub_t *h, uint64_t serial,
                             size_t *len) {
    const hub_t *b = hub_get(h, serial);
    *len = b && b->guest ? b->flen : 0;
    return b && b->guest ? b->formers : NULL;
}

void stage_hub_stopped(stage_hub_t *h, uint64_t serial) {
    hub_t *b = hub_get(h, serial);
    if (!b || !b->guest) tell_visits(h, serial);
    if (!b || (b->guest ? b->gstate != LIVE : b->stage != IDLE)) return;
    if (b->guest) {
        stage_hub_step_t *s = step_to(h, b->home.node, STAGE_HUB_GONE);
        if (s) s->home = b->home, s->at = id_here(h, serial, b->home.type);
    }
    flush(h, b); /* nothing held when not moving: for the form */
    hub_drop(h, b);
}

typedef struct keys {
    uint64_t *v;
    size_t n, cap;
} keys_t;

/* u64map_each: collect the keys (a step may change the map). */
static void key_add(uint64_t key, void *val, void *ud) {
    (void)val;
    keys_t *k = ud;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 64;
        uint64_t *v = stage__realloc(k->v, cap * sizeof *v);
        if (!v) return;
        k->v = v, k->cap = cap;
    }
    k->v[k->n++] = key;
}

/* Node peer is gone for hub b. */
static void down_one(stage_hub_t *h, hub_t *b, const char *peer, bool ended) {
    char why[STAGE_HUB_WHY_MAX];
    if (!b->guest && b->stage == IMPORT && !strcmp(b->wait, peer)) {
        /* not ended: the IMPORT never reached it (nothing answered at its
        ** address, or the frame could not go) */
        snprintf(why, sizeof why,
                 ended ? "node '%s' went down before it took the actor in: "
                         "the actor is taken back on node '%s'"
                       : "node '%s' was not reached: the actor is taken back "
                         "on node '%s'",
                 peer, h->addr);
        take_back(h, b, ended ? STAGE_ENODE_DOWN : STAGE_EUNREACHABLE, why);
    } else if (!b->guest && b->stage == OUT && !strcmp(b->wait, peer)) {
        snprintf(why, sizeof why,
                 "node '%s' went down with the actor: it is lost", peer);
        answer_fail(h, b->cur->req, STAGE_ENODE_DOWN, why);
        release(h, b); /* what it held goes there: it fails NodeDown */
    } else if (!b->guest && b->handing && !strcmp(b->rid.node, peer)) {
        b->handing = false; /* the actor went with that node */
    } else if (ended && b->guest && !strcmp(b->home.node, peer)) {
        if (b->gstate == LIVE)
            make_own(h, b, b->formers, b->flen, NULL);
        else if (b->gstate == SHIP)
            b->orphan = true; /* at the export's end */
    }
}

/* u64map_each: node ud is gone, and its tombs with it. */
static void unvisit(uint64_t key, void *val, void *ud) {
    (void)key;
    visits_t *v = val;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->nodes[i], ud)) continue;
        v->nodes[i] = v->nodes[--v->n]; /* the order does not matter */
        return;
    }
}

typedef struct downed {
    stage_hub_t *h;
    const char *peer;
} downed_t;

/* u64map_each: the home of tomb val ended: nothing to hand it over to (a
** TOMB asked is answered NodeDown). */
static void tomb_down(uint64_t key, void *val, void *ud) {
    (void)key;
    tomb_t *t = val;
    downed_t *d = ud;
    if (t->handed || strcmp(t->node, d->peer)) return;
    if (t->handing) {
        stage_hub_fx_t *x = fx_add(d->h, STAGE_HUB_FX_LED);
        if (x) {
            x->id = id_here(d->h, t->here, t->type);
            x->cur = tomb_home(t);
            x->status = STAGE_ENODE_DOWN;
        }
    }
    t->handing = false;
    t->handed = true;
}

void stage_hub_node_down(stage_hub_t *h, const char *peer, bool ended) {
    if (ended && h->visits.count)
        stage__u64map_each(&h->visits, unvisit, (void *)peer);
    if (ended && h->tombs.count)
        stage__u64map_each(&h->tombs, tomb_down,
                           &(downed_t){h, peer}); /* no map change */
    keys_t k = {0};
    stage__u64map_each(&h->hubs, key_add, &k);
    for (size_t i = 0; i < k.n; i++) {
        hub_t *b = hub_get(h, k.v[i]);
        if (b) down_one(h, b, peer, ended);
    }
    stage__free(k.v);
}

#define TOMBS_PER_ROUND 1024

typedef struct handround {
    stage_hub_t *h;
    size_t left;
    size_t tombs; /* TOMBs asked this round */
} handround_t;

/* u64map_each: ADOPT for an actor born here that lives elsewhere. */
static void hand_one(uint64_t key, void *val, void *ud) {
    (void)key;
    hub_t *b = val;
    handround_t *r = ud;
    if (b->guest || b->handed || (b->place != AWAY && b->stage == IDLE)) return;
    r->left++;
    if (b->stage != IDLE || b->handing) return; /* busy: next round */
    stage_hub_step_t *s = step_to(r->h, b->rid.node, STAGE_HUB_ADOPT);
    if (s) s->home = b->me, s->at = b->rid;
    b->handing = true;
}

/* u64map_each: TOMB to the home of a tomb not handed over yet, at most
** TOMBS_PER_ROUND a round (each effect is a kilobyte and more; the rest
** are asked in the next rounds). */
static void hand_tomb(uint64_t key, void *val, void *ud) {
    tomb_t *t = val;
    handround_t *r = ud;
    if (t->handed) return;
    r->left++;
    if (t->handing || r->tombs == TOMBS_PER_ROUND) return;
    stage_hub_step_t *s = step_to(r->h, t->node, STAGE_HUB_TOMB);
    if (!s) return; /* out of memory: next round */
    s->home = tomb_home(t);
    s->at = id_here(r->h, key, t->type);
    t->handing = true;
    r->tombs++;
}

size_t stage_hub_handover(stage_hub_t *h) {
    handround_t r = {h, 0, 0};
    stage__u64map_each(&h->hubs, hand_one, &r);
    stage__u64map_each(&h->tombs, hand_tomb, &r);
    return r.left;
}
