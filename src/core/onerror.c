/*
** core/onerror.c: what a failed turn leaves behind — the on_error policy of
** actor types (stage_on_error_t in stage/stage.h; docs/lua-api.md, "When a
** handler fails").
**
** A kind reports a failed turn from inside it: a Lua handler's or timer's
** error, a C handler's stage_fail (stage__actor_failed). KEEP changes
** nothing. STOP sets ACTOR_STOPPING, so the actor leaves by the normal stop
** path after the turn (stage__actor_destroy: death, names, timers, and
** whatever else an actor's stop sets off). RESTART sets ACTOR_RESTART, and
** the run loop calls stage__actor_restart before the actor's next message:
** timers cancelled, death run, data zeroed, and the birth message kept at
** spawn put first in the mailbox, so the new instance handles what was
** queued behind the failure. The actor keeps its serial, hence its id, its
** names and its place in the types directory.
**
** A birth that fails stops the actor (but under KEEP): running it again
** with the same arguments would fail again. A restart past the type's
** limit — more than max_restarts within restart_window seconds, an OTP
** supervisor's intensity and period — stops it too: a crash loop ends.
**
** States: serving -[failed, RESTART]-> ACTOR_RESTART -[restart]-> serving
** (birth first); serving -[failed, STOP / birth / past the limit]->
** ACTOR_STOPPING | ACTOR_FAILED -> destroyed after the turn.
** Theatre thread only.
*/
#include <stdio.h>
#include <string.h>

#include "core/actor.h"
#include "core/envelope.h"
#include "core/kind.h"
#include "core/monitor.h"
#include "core/theatre.h"
#include "core/timer.h"
#include "util/alloc.h"
#include "util/log.h"

/* What an actor of a RESTART type keeps, after its data. */
struct stage__restart {
    uint64_t sender;            /* birth's sender, 0 if not an actor */
    stage__type_t *sender_type; /* NULL if not an actor */
    double *times;              /* ring of the last max_restarts restart
                                ** times, made at the first restart */
    uint32_t next;              /* the ring's oldest slot, when full */
    uint32_t count;             /* restarts so far */
    uint32_t len;               /* birth's arguments, msgpack */
    uint8_t flags;              /* birth's ENV_REMOTE */
    char args[];
};

size_t stage__restart_size(const stage__type_t *type,
                           const stage__env_t *birth) {
    if (type->on_error != STAGE_ON_ERROR_RESTART) return 0;
    return sizeof(stage__restart_t) + (birth ? birth->len : 0);
}

void stage__restart_init(stage__actor_t *a, void *mem,
                         const stage__env_t *birth) {
    stage__restart_t *r = mem; /* zeroed with the actor */
    if (birth) {
        r->sender = birth->sender;
        r->sender_type = birth->sender_type;
        r->len = birth->len;
        r->flags = birth->hdr.flags & ENV_REMOTE;
        memcpy(r->args, stage__env_args(birth), birth->len);
    }
    a->restart = r;
}

void stage__restart_free(stage__actor_t *a) {
    if (!a->restart) return;
    stage__free(a->restart->times);
    a->restart->times = NULL;
}

/* a stops after this turn, for a failure its monitors are told. */
static void stop_failed(stage__theatre_t *t, stage__actor_t *a, int code,
                        const char *why) {
    a->flags |= ACTOR_FAILED;
    stage__actor_fail(t, a, code, why);
}

/* Count a restart at now: 0, or -1 if it is one too many (max_restarts
** already within restart_window) or no memory (*oom). */
static int count_restart(stage__restart_t *r, const stage__type_t *ty,
                         double now, bool *oom) {
    uint32_t max = (uint32_t)ty->max_restarts;
    *oom = false;
    if (!r->times && !(r->times = stage__calloc(max, sizeof *r->times))) {
        *oom = true;
        return -1;
    }
    /* full ring: times[next] is the oldest of the last max restarts */
    if (r->count >= max && now - r->times[r->next] < ty->restart_window)
        return -1;
    r->times[r->next] = now;
    r->next = (r->next + 1) % max;
    r->count++;
    return 0;
}

void stage__actor_failed(stage__theatre_t *t, stage__actor_t *a, bool birth,
                         int code, const char *why) {
    const stage__type_t *ty = a->type;
    if (ty->on_error == STAGE_ON_ERROR_KEEP ||
        (a->flags & (ACTOR_STOPPING | ACTOR_DEAD | ACTOR_RESTART)))
        return;
    stage_id_t self;
    char id[STAGE_ID_TEXT_MAX];
    stage__make_id(t->node, a->serial, ty, &self);
    stage_id_format(&self, id, sizeof id);
    stage__restart_t *r = a->restart;
    bool oom = false;
    if (ty->on_error == STAGE_ON_ERROR_STOP) {
        LOG_WARN("actor '%s' of type '%s' stopped after an error (on_error "
                 "\"stop\"): %s",
                 id, ty->name, why);
    } else if (birth) {
        LOG_WARN("actor '%s' of type '%s' stopped: its birth failed%s: %s", id,
                 ty->name, r && r->count ? " on restart" : "", why);
    } else if (!r) { /* an actor made without its birth kept */
        LOG_WARN("actor '%s' of type '%s' stopped after an error: it has "
                 "no birth to restart from: %s",
                 id, ty->name, why);
    } else if (count_restart(r, ty, stage__now(), &oom)) {
        if (oom)
            LOG_ERROR("actor '%s' of type '%s' stopped after an error: out "
                      "of memory counting its restarts: %s",
                      id, ty->name, why);
        else
            LOG_WARN("actor '%s' of type '%s' stopped: it failed again "
                     "after %d restarts within %g s (its type's "
                     "max_restarts and restart_window): %s",
                     id, ty->name, ty->max_restarts, ty->restart_window, why);
    } else {
        LOG_WARN("actor '%s' of type '%s' restarts from birth after an error "
                 "(restart %u): %s",
                 id, ty->name, r->count, why);
        a->flags |= ACTOR_RESTART;
        return;
    }
    stop_failed(t, a, code, why);
}

/* Put a's birth message, from what it kept, first in its mailbox. */
static int queue_birth(stage__actor_t *a) {
    stage__restart_t *r = a->restart;
    stage__env_t *e = stage__env_new("birth", 5, r->args, r->len);
    if (!e) return STAGE_ENOMEM;
    e->hdr.flags = ENV_SYSTEM | r->flags;
    e->target = a->serial;
    e->target_type = a->type;
    e->sender = r->sender;
    e->sender_type = r->sender_type;
    e->next = a->mbox_head;
    a->mbox_head = e;
    if (!a->mbox_tail) a->mbox_tail = e;
    return 0;
}

void stage__actor_restart(stage__theatre_t *t, stage__actor_t *a) {
    /* the timers the failed instance set carry its state (a Lua closure
    ** over its self, a C timer's ud): they go with it, and so do those
    ** its death sets */
    stage__timers_cancel_actor(t, a->serial);
    a->type->impl->destroy(t, a); /* death; ACTOR_RESTART ignores failures */
    stage__timers_cancel_actor(t, a->serial);
    if (a->type->data_size) memset(a->data, 0, a->type->data_size);
    a->flags &= ~(uint32_t)(ACTOR_BORN | ACTOR_RESTART);
    a->spent = 0;
    if (queue_birth(a)) {
        stage_id_t self;
        char id[STAGE_ID_TEXT_MAX];
        stage__make_id(t->node, a->serial, a->type, &self);
        stage_id_format(&self, id, sizeof id);
        LOG_ERROR("actor '%s' of type '%s' stopped: out of memory restarting "
                  "it",
                  id, a->type->name);
        /* its death ran: the stop finds no state now */
        stop_failed(t, a, STAGE_ENOMEM, "out of memory restarting it");
    }
}

/* ---- images (core/image.h) ---- */

/* The sender id of what r keeps, or NULL. */
static const stage_id_t *
birth_sender(stage_node_t *node, const stage__restart_t *r, stage_id_t *id) {
    if (!r->sender_type) return NULL;
    stage__make_id(node, r->sender, r->sender_type, id);
    return id;
}

void stage__restart_pack(stage_node_t *node, const stage__actor_t *a,
                         stage_pack_t *p, double now) {
    const stage__restart_t *r = a->restart;
    if (!r) {
        stage_pack_nil(p);
        return;
    }
    stage_id_t id;
    const stage_id_t *sender = birth_sender(node, r, &id);
    stage_pack_array(p, 5);
    stage_pack_bin(p, r->args, r->len);
    if (sender)
        stage_pack_id(p, sender);
    else
        stage_pack_nil(p);
    stage_pack_bool(p, r->flags & ENV_REMOTE);
    stage_pack_int(p, r->count);
    /* the ring's last min(count, max) restarts, oldest first, as ages */
    uint32_t max = (uint32_t)a->type->max_restarts;
    uint32_t n = r->times ? (r->count < max ? r->count : max) : 0;
    stage_pack_array(p, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = r->count < max ? i : (r->next + i) % max;
        stage_pack_double(p, now - r->times[at]);
    }
}

int stage__restart_restore(stage__actor_t *a, uint32_t count,
                           const double *ages, uint32_t n, double now) {
    stage__restart_t *r = a->restart;
    uint32_t max = (uint32_t)a->type->max_restarts;
    if (!r) return 0;
    r->count = count;
    if (!n || !max) return 0;
    if (!(r->times = stage__calloc(max, sizeof *r->times))) return STAGE_ENOMEM;
    if (n > max) { /* a type with a smaller limit here: the newest */
        ages += n - max;
        n = max;
    }
    /* the ring as count_restart leaves it: slots 0..n-1 oldest first, and
    ** next the slot after them (the oldest, once full; history the image
    ** did not have reads as long past) */
    for (uint32_t i = 0; i < n; i++)
        r->times[i] = now - ages[i];
    r->next = n % max;
    return 0;
}
