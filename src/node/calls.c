/*
** node/calls.c: the calls open to other nodes (node/calls.h) — an index by
** call id and a list in deadline order. Failing a set of calls detaches
** them all first and only then calls the fail hook on each: the hook may
** open and end calls (a lookup asks its next node) without disturbing the
** walk, and a call detached is out of the index, so a late REPLY or a take
** cannot end it a second time.
** Pure: no I/O, no clock; one owner.
*/
#include <stdio.h>
#include <string.h>

#include "node/calls.h"
#include "stage/errors.h"

void stage__calls_init(stage__calls_t *cs, uint64_t timeout_ms,
                       stage__calls_fail_fn fail, void *ud) {
    *cs = (stage__calls_t){.byid = STAGE_U64MAP_INIT,
                           .timeout_ms = timeout_ms,
                           .fail = fail,
                           .ud = ud};
}

void stage__calls_close(stage__calls_t *cs) {
    stage__u64map_free(&cs->byid);
    cs->head = cs->tail = NULL;
}

/* Insert c in deadline order: from the back, where it almost always goes. */
static void link_call(stage__calls_t *cs, stage__call_t *c) {
    stage__call_t *after = cs->tail;
    while (after && after->deadline > c->deadline)
        after = after->prev;
    c->prev = after;
    c->next = after ? after->next : cs->head;
    if (c->next)
        c->next->prev = c;
    else
        cs->tail = c;
    if (after)
        after->next = c;
    else
        cs->head = c;
}

static void unlink_call(stage__calls_t *cs, stage__call_t *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        cs->tail = c->prev;
    c->prev = c->next = NULL;
}

int stage__calls_open(stage__calls_t *cs, stage__call_t *c, uint64_t id,
                      const char *peer, uint64_t now) {
    if (stage__u64map_put(&cs->byid, id, c)) return STAGE_ENOMEM;
    c->id = id;
    c->deadline = now + cs->timeout_ms;
    size_t n = strnlen(peer, STAGE_ADDR_MAX - 1);
    memcpy(c->peer, peer, n); /* snprintf costs more than a message */
    c->peer[n] = '\0';
    link_call(cs, c);
    return 0;
}

stage__call_t *stage__calls_take(stage__calls_t *cs, uint64_t id) {
    stage__call_t *c = stage__u64map_take(&cs->byid, id);
    if (c) unlink_call(cs, c);
    return c;
}

stage__call_t *stage__calls_reply(stage__calls_t *cs, uint64_t id,
                                  const char *peer) {
    stage__call_t *c = stage__u64map_get(&cs->byid, id);
    if (!c || strcmp(c->peer, peer)) return NULL; /* late, or not theirs */
    return stage__calls_take(cs, id);
}

size_t stage__calls_count(const stage__calls_t *cs) {
    return cs->byid.count;
}

uint64_t stage__calls_next_deadline(const stage__calls_t *cs) {
    return cs->head ? cs->head->deadline : UINT64_MAX;
}

/* ---- failing -------------------------------------------------------------
 */

/* Which calls a failure takes, and what it tells them. */
typedef struct cause {
    int status;
    const char *peer; /* only the calls to it; NULL: all */
    uint64_t now;     /* with expired: the deadlines due */
    bool expired;
    const char *what, *why; /* a session's end, in words */
} cause_t;

static bool hit(const cause_t *k, const stage__call_t *c) {
    if (k->expired) return c->deadline <= k->now;
    return !k->peer || !strcmp(k->peer, c->peer);
}

static void describe(const stage__calls_t *cs, const cause_t *k,
                     const stage__call_t *c, char *msg, size_t len) {
    if (k->expired)
        snprintf(msg, len, "no reply from node '%s' within %g s", c->peer,
                 (double)cs->timeout_ms / 1000);
    else if (k->peer)
        snprintf(msg, len, "node '%s' %s before it replied: %s", c->peer,
                 k->what, k->why);
    else
        snprintf(msg, len, "this node shut down before node '%s' replied",
                 c->peer);
}

/* Detach the calls k takes, then fail each. Expired calls are a prefix of
** the list; the others are found by a walk. */
static size_t fail_all(stage__calls_t *cs, const cause_t *k) {
    stage__call_t *failing = NULL, **tail = &failing;
    size_t n = 0;
    for (stage__call_t *c = cs->head, *next; c; c = next) {
        next = c->next;
        if (!hit(k, c)) {
            if (k->expired) break; /* the rest are later */
            continue;
        }
        stage__u64map_take(&cs->byid, c->id);
        unlink_call(cs, c);
        *tail = c;
        tail = &c->next;
        n++;
    }
    while (failing) {
        stage__call_t *c = failing;
        failing = c->next;
        c->next = NULL;
        char msg[STAGE_ADDR_MAX + 400];
        describe(cs, k, c, msg, sizeof msg);
        cs->fail(cs->ud, c, k->status, msg);
    }
    return n;
}

size_t stage__calls_tick(stage__calls_t *cs, uint64_t now) {
    if (!cs->head || cs->head->deadline > now) return 0;
    cause_t k = {.status = STAGE_ETIMEOUT, .now = now, .expired = true};
    return fail_all(cs, &k);
}

size_t stage__calls_session_ended(stage__calls_t *cs, const char *peer,
                                  int reason, const char *why) {
    bool unreachable = reason == STAGE_EUNREACHABLE;
    cause_t k = {.status = unreachable ? STAGE_EUNREACHABLE : STAGE_ENODE_DOWN,
                 .peer = peer,
                 .what = unreachable                 ? "is unreachable"
                         : reason == STAGE_ECANCELED ? "stopped"
                         : reason == STAGE_ESTOPPED  ? "restarted"
                                                     : "is down",
                 .why = why};
    return fail_all(cs, &k);
}

size_t stage__calls_stop(stage__calls_t *cs) {
    cause_t k = {.status = STAGE_ESTOPPED};
    return fail_all(cs, &k);
}
