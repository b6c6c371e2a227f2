/*
** net/updates.c: stage.update_type across the system (thesis 5.2, Listing
** 5.5). The node that updates a type:
**   1. writes the type's new code: its stored text, then a top-level line
**      that replays the update (`require("stage").update_type("T", {...})`,
**      each method's source in long brackets), which every later load runs;
**   2. makes it the code of its types that shared the old text, and puts
**      it in the sources store as an update (no clash);
**   3. sends an UPDATE frame [call, type, text, methods] to every node it
**      has a session with and every node the types store lists with actors
**      of the type (each once), and applies the methods here
**      (stage__code_update: every theatre, between two messages);
**   4. calls done once every one of these answered (the first failure is
**      the one it reports).
** A node that gets an UPDATE switches its code to the text and applies the
** methods, then answers. Runs on the loop's owner, but for the answers of
** this node's theatres (any thread: an atomic count and a lock).
*/
#include <stdio.h>
#include <string.h>

#include "netnode.h"
#include "sources.h"
#include "util/alloc.h"
#include "util/log.h"

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

/* An update_type under way: the answers it waits for. */
#define UPDATE_NODES 256 /* nodes one update tells */

typedef struct update {
    stage_node_t *node;
    stage__code_done_fn done; /* the caller's */
    void *arg;
    /* the UPDATE frame's body after its call (type, text, methods), and
    ** the nodes told so far (the loop's) */
    char *body;
    size_t blen;
    char (*told)[STAGE_ADDR_MAX];
    int ntold;
    atomic_int left;
    pthread_mutex_t lock;
    int status; /* under lock: the first failure */
    char why[600];
    char type[STAGE_TYPE_MAX];
} update_t;

/* One answer came (status 0, or a failure and why). Any thread. */
static void update_answer(update_t *u, int status, const char *why) {
    if (status) {
        pthread_mutex_lock(&u->lock);
        if (!u->status) {
            u->status = status;
            snprintf(u->why, sizeof u->why, "%s", why ? why : "");
        }
        pthread_mutex_unlock(&u->lock);
    }
    /* acq_rel: the last answer sees the others' status */
    if (atomic_fetch_sub_explicit(&u->left, 1, memory_order_acq_rel) != 1)
        return;
    u->done(u->node, u->arg, u->status, u->status ? u->why : NULL);
    pthread_mutex_destroy(&u->lock);
    stage__free(u->body);
    stage__free(u->told);
    stage__free(u);
}

/* An update's put of the new code of type ended with status. */
void stage__updates_stored(update_t *u, const char *type, int status) {
    char why[STAGE_TYPE_MAX + 200];
    if (status)
        snprintf(why, sizeof why,
                 "cannot update the code of '%s' in the sources store: %s",
                 type, stage_strerror(status));
    update_answer(u, status, status ? why : NULL);
}

/* The long brackets' level n ("[==[" for 2) that src does not close. */
static int level(const char *src, size_t len) {
    for (int n = 0; n < 32; n++) {
        char close[36] = "]";
        memset(close + 1, '=', (size_t)n);
        close[n + 1] = ']';
        bool found = false;
        for (size_t i = 0; i + (size_t)n + 2 <= len && !found; i++)
            found = !memcmp(src + i, close, (size_t)n + 2);
        if (!found) return n;
    }
    return -1;
}

/* The stored code after an update: src, then a top-level line that
** replays the update's methods (a msgpack map name -> source) on the
** class: a node that loads it runs the new code. New (free with
** stage__free), or NULL. */
static kept_t *replayed(const char *src, size_t slen, const char *type,
                        const char *methods, size_t mlen) {
    stage_unpack_t u;
    uint32_t n;
    stage_unpack_init(&u, methods, mlen);
    if (stage_unpack_map(&u, &n)) return NULL;
    size_t room = slen + mlen + 128 + n * 96, at = slen;
    kept_t *k = stage__malloc(sizeof *k + room);
    if (!k) return NULL;
    memcpy(k->text, src, slen);
    at += (size_t)snprintf(k->text + at, room - at,
                           "\n-- stage.update_type\nrequire(\"stage\")."
                           "update_type(\"%s\", {",
                           type);
    for (uint32_t i = 0; i < n; i++) {
        const char *m, *s;
        size_t ml, sl;
        int lv;
        if (stage_unpack_str(&u, &m, &ml) || stage_unpack_str(&u, &s, &sl) ||
            (lv = level(s, sl)) < 0 || at + ml + sl + 96 > room) {
            stage__free(k);
            return NULL;
        }
        at += (size_t)snprintf(k->text + at, room - at, "\n  [\"%.*s\"] = [",
                               (int)ml, m);
        memset(k->text + at, '=', (size_t)lv);
        at += (size_t)lv;
        k->text[at++] = '[';
        k->text[at++] = '\n'; /* skipped after the opening bracket */
        memcpy(k->text + at, s, sl);
        at += sl;
        k->text[at++] = ']';
        memset(k->text + at, '=', (size_t)lv);
        at += (size_t)lv;
        k->text[at++] = ']';
        k->text[at++] = ',';
    }
    at += (size_t)snprintf(k->text + at, room - at, "\n})\n");
    k->len = at;
    return k;
}

/* The types of this node whose code is ty's now take text k (kept); their
** puts count as done (the store has it, or is about to). Returns how many
** (ty among them). */
static int switch_source(stage__netnode_t *nn, stage__type_t *ty, kept_t *k) {
    stage__sources_t *s = nn->sources;
    const char *old = ty->source;
    int n = stage__type_count(nn->node), moved = 0;
    for (int i = 0; i < n; i++) {
        stage__type_t *t = stage__type_at(nn->node, i);
        if (t != ty && (!old || t->source != old)) continue;
        t->source = k->text; /* the loop's own: only it reads them */
        t->source_len = k->len;
        atomic_store_explicit(&t->version, stage__code_version(k->text, k->len),
                              memory_order_relaxed);
        put_t *p = stage__sources_put_find(s, t);
        if (p && p->done) p->status = 0; /* a clash of the old code is over */
        if (p) p->stale = false;
        moved++;
    }
    /* no refresh until the update is in the store: one under way now
    ** would find the old code there and call it a clash */
    s->refresh_at = now_ms(nn) + nn->lease_ms / 3;
    k->next = s->kept;
    s->kept = k;
    return moved;
}

/* The answer of a node to an UPDATE frame (a call). */
static void update_replied(stage__netnode_t *nn, void *arg, int status,
                           const char *value, size_t len) {
    (void)nn;
    update_t *u = arg;
    char why[600];
    if (status)
        snprintf(why, sizeof why, "%.*s", (int)(len < 500 ? len : 500), value);
    update_answer(u, status, status ? why : NULL);
}

/* This node's theatres have the update (a theatre's thread). */
static void update_applied(stage_node_t *node, void *arg, int status,
                           const char *why) {
    (void)node;
    char msg[600];
    if (status)
        snprintf(msg, sizeof msg, "node '%s': %s", stage__node_address(node),
                 why);
    update_answer(arg, status, status ? msg : NULL);
}

typedef struct sending {
    stage__netnode_t *nn;
    update_t *u;
    const char *body;
    size_t len;
} sending_t;

/* Send the UPDATE frame to the node at addr, once per update. */
static void send_one(void *ud, const char *addr, uint32_t incarnation) {
    (void)incarnation;
    sending_t *sd = ud;
    update_t *u = sd->u;
    if (!strcmp(addr, sd->nn->address)) return; /* here: applied apart */
    for (int i = 0; i < u->ntold; i++)
        if (!strcmp(u->told[i], addr)) return;
    if (u->ntold == UPDATE_NODES) {
        LOG_WARN("update_type of '%s': more than %d nodes; node '%s' is "
                 "not told",
                 u->type, UPDATE_NODES, addr);
        return;
    }
    stage__addr_copy(u->told[u->ntold++], addr);
    atomic_fetch_add(&sd->u->left, 1);
    uint64_t call = stage__netnode_call_cb(sd->nn, addr, update_replied, sd->u);
    if (!call) {
        update_answer(sd->u, STAGE_ENOMEM, "out of memory");
        return;
    }
    /* the call's id in the frame: [call, type, text, methods] */
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 4);
    stage_pack_int(&p, (int64_t)call);
    stage_pack_raw(&p, sd->body, sd->len); /* type, text, methods */
    int rc = stage_pack_error(&p);
    if (!rc)
        rc = stage__netnode_send_frame(sd->nn, addr, FRAME_UPDATE, p.data,
                                       p.len);
    stage_pack_free(&p);
    if (rc) {
        char why[STAGE_ADDR_MAX + 100];
        snprintf(why, sizeof why, "cannot tell node '%s': %s", addr,
                 stage_strerror(rc));
        stage__netnode_call_fail(sd->nn, call, rc, why);
    }
}

/* The types store's answer for an update's type: tell the nodes with
** actors of it that have no session with this node. Among the manager's
** effects: frames only, no call to the manager. */
void stage__updates_found(stage__netnode_t *nn, update_t *u,
                          const stage_dht_effect_t *x) {
    sending_t sd = {nn, u, u->body, u->blen};
    for (size_t i = 0; !x->status && i < x->nitems; i++) {
        stage_unpack_t un;
        uint32_t n;
        int64_t kind;
        stage_id_t id;
        stage_unpack_init(&un, x->items[i].value, x->items[i].len);
        if (!stage_unpack_array(&un, &n) && n == 2 &&
            !stage_unpack_int(&un, &kind) && kind == 0 &&
            !stage_unpack_id(&un, &id))
            send_one(&sd, id.node, id.incarnation);
    }
    update_answer(u, 0, NULL); /* the look's own */
}

void stage__sources_update(stage__netnode_t *nn, const char *type,
                           const char *methods, size_t mlen,
                           stage__code_done_fn done, void *arg) {
    stage__sources_t *s = nn->sources;
    update_t *u = stage__calloc(1, sizeof *u);
    if (!u) {
        done(nn->node, arg, STAGE_ENOMEM, "out of memory");
        return;
    }
    u->node = nn->node;
    u->done = done;
    u->arg = arg;
    pthread_mutex_init(&u->lock, NULL);
    snprintf(u->type, sizeof u->type, "%s", type);
    atomic_init(&u->left, 1); /* this function's, until all is out */
    stage__type_t *ty = stage__type_find(nn->node, type);
    kept_t *k = ty && ty->source && s
                    ? replayed(ty->source, ty->source_len, type, methods, mlen)
                    : NULL;
    if (ty && ty->source && s && !k) {
        update_answer(u, STAGE_ENOMEM,
                      "cannot write the updated code (out of memory)");
        return;
    }
    if (k) { /* the store first: nodes that load the type later get it */
        switch_source(nn, ty, k);
        int n = stage__type_count(nn->node);
        for (int i = 0; i < n; i++) {
            stage__type_t *t = stage__type_at(nn->node, i);
            if (t->source != k->text) continue;
            op_t *o = stage__calloc(1, sizeof *o);
            uint64_t req = ++nn->next_id;
            if (!o || stage__u64map_put(&s->reqs, req, o)) {
                stage__free(o);
                update_answer(u, STAGE_ENOMEM, "out of memory");
                return;
            }
            o->update = u;
            snprintf(o->type, sizeof o->type, "%s", t->name);
            atomic_fetch_add(&u->left, 1);
            int rc = stage_dht_source_put(nn->dht, now_ms(nn), req, t->name,
                                          k->text, k->len, 1);
            if (rc) {
                stage__free(stage__u64map_take(&s->reqs, req));
                char why[STAGE_TYPE_MAX + 100];
                snprintf(why, sizeof why,
                         "cannot update the code of '%s' in the sources "
                         "store: %s",
                         t->name, stage_strerror(rc));
                update_answer(u, rc, why);
            }
        }
        stage__lookup_drain(nn);
    }
    /* the other nodes: [type, text, methods] after the call's id; those
    ** with a session, then those with actors of the type (the types
    ** store) */
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_cstr(&p, type);
    if (k)
        stage_pack_str(&p, k->text, k->len);
    else
        stage_pack_nil(&p);
    stage_pack_raw(&p, methods, mlen);
    u->told = stage__calloc(UPDATE_NODES, sizeof *u->told);
    if (!stage_pack_error(&p) && u->told) {
        u->body = p.data; /* taken */
        u->blen = p.len;
        stage_pack_init(&p);
        sending_t sd = {nn, u, u->body, u->blen};
        stage__transport_each_session(nn->tr, send_one, &sd);
        op_t *o = s ? stage__calloc(1, sizeof *o) : NULL;
        uint64_t req = ++nn->next_id;
        if (o && !stage__u64map_put(&s->reqs, req, o)) {
            o->update = u;
            o->find = true;
            atomic_fetch_add(&u->left, 1);
            if (stage_dht_type_find(nn->dht, now_ms(nn), req, type)) {
                stage__free(stage__u64map_take(&s->reqs, req));
                update_answer(u, 0, NULL); /* the sessions only */
            } else {
                stage__lookup_drain(nn);
            }
        } else {
            stage__free(o); /* the sessions only */
        }
    } else {
        update_answer(u, STAGE_ENOMEM, "out of memory");
    }
    stage_pack_free(&p);
    /* and here */
    atomic_fetch_add(&u->left, 1);
    int rc =
        stage__code_update(nn->node, type, methods, mlen, update_applied, u);
    if (rc) update_answer(u, rc, "cannot apply the update here");
    update_answer(u, 0, NULL); /* this function's */
}

/* An UPDATE's owed reply (arg), once this node's theatres have it. */
static void owed_applied(stage_node_t *node, void *arg, int status,
                         const char *why) {
    stage__future_t *f = arg;
    char msg[600];
    if (status) {
        snprintf(msg, sizeof msg, "node '%s': %s", stage__node_address(node),
                 why);
        stage__future_reject(f, status, msg, NULL, NULL);
    } else {
        stage__future_resolve(f, "\xc3", 1); /* true */
    }
    stage__future_unref(f);
}

int stage__sources_in_update(stage__netnode_t *nn, const char *peer,
                             const char *body, size_t len) {
    stage_unpack_t u;
    uint32_t n;
    int64_t call;
    const char *type, *text = NULL, *methods;
    size_t tlen, xlen = 0;
    char name[STAGE_TYPE_MAX];
    stage_unpack_init(&u, body, len);
    if (stage_pack_validate(body, len, 1) || stage_unpack_array(&u, &n) ||
        n != 4 || stage_unpack_int(&u, &call) || call <= 0 ||
        stage_unpack_str(&u, &type, &tlen) || tlen == 0 || tlen >= sizeof name)
        return STAGE_EDECODE;
    memcpy(name, type, tlen);
    name[tlen] = '\0';
    if (stage_unpack_peek(&u) == STAGE_T_NIL
            ? stage_unpack_nil(&u)
            : stage_unpack_str(&u, &text, &xlen))
        return STAGE_EDECODE;
    methods = u.p;
    size_t mlen = (size_t)(u.end - u.p);
    stage_unpack_t m = u;
    if (!stage_type_name_valid(name) || stage_unpack_peek(&m) != STAGE_T_MAP ||
        stage_unpack_skip(&m) || m.p != m.end)
        return STAGE_EDECODE;
    stage__type_t *ty = stage__type_find(nn->node, name);
    stage__future_t *f = stage__netnode_owed(nn, peer, (uint64_t)call, 0);
    if (!f) {
        stage__netnode_reply_error(nn, peer, (uint64_t)call, STAGE_ENOMEM,
                                   "out of memory");
        return 0;
    }
    if (!ty) { /* none here: a later load fetches the stored code */
        stage__future_resolve(f, "\xc3", 1);
        stage__future_unref(f);
        return 0;
    }
    if (text && ty->source && nn->sources) {
        kept_t *k = stage__malloc(sizeof *k + xlen);
        if (k) {
            memcpy(k->text, text, xlen);
            k->len = xlen;
            switch_source(nn, ty, k);
        }
    }
    int rc = stage__code_update(nn->node, name, methods, mlen, owed_applied, f);
    if (rc) {
        stage__future_reject(f, rc, "cannot apply the update", NULL, NULL);
        stage__future_unref(f);
    }
    return 0;
}

void stage__updates_close(stage__sources_t *s) {
    while (s->kept) {
        kept_t *k = s->kept;
        s->kept = k->next;
        stage__free(k);
    }
}
