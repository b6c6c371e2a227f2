/*
** node/calls.h: the calls a node has open to other nodes — a request
** frame sent (MSG with a call id, SPAWN, FIND, PICK, NAME, STOP) waiting
** for its REPLY — as a pure state machine: no clock (time comes in as
** milliseconds of the driver's clock), no timer (the driver asks for the
** next deadline and arms one), no I/O.
**
** A call ends exactly once, one of:
**   - its REPLY came from the node it was sent to (stage__calls_reply);
**   - the driver took it back (it could not send the frame);
**   - its deadline passed (Timeout);
**   - the session with its node ended (NodeDown; NodeUnreachable if that
**     node was never reached);
**   - this node stopped (Stopped).
** The last three are failures: the module calls the driver's fail hook
** once per call with the typed error and a sentence for the user. A REPLY
** from another node, or for a call that has ended, matches nothing.
**
** Memory: a call is the driver's (stage__call_t embedded first in its own
** record, like an intrusive list node): the module links it and hands it
** back when it ends; the driver frees it. So opening a call costs what the
** driver's one allocation costs, plus an index slot.
** Deadlines: calls are kept in deadline order (an open appends: with one
** timeout for all, deadlines only grow), so the next deadline and the
** expired calls are found at the front.
** Not thread-safe: one owner (the node's loop).
*/
#ifndef STAGE_NODE_CALLS_H
#define STAGE_NODE_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"
#include "util/u64map.h"

typedef struct stage__call stage__call_t;
struct stage__call {
    uint64_t id;
    uint64_t deadline;          /* ms of the driver's clock */
    stage__call_t *prev, *next; /* in deadline order; detached: failing */
    char peer[STAGE_ADDR_MAX];  /* the node called */
};

/* A call failed (status: STAGE_ETIMEOUT, STAGE_ENODE_DOWN,
** STAGE_EUNREACHABLE or STAGE_ESTOPPED; message borrowed for the call).
** The call is no longer the module's: the hook completes and frees it. It
** may open, take and end other calls. */
typedef void (*stage__calls_fail_fn)(void *ud, stage__call_t *c, int status,
                                     const char *message);

typedef struct stage__calls {
    stage_u64map_t byid; /* id -> stage__call_t */
    stage__call_t *head, *tail;
    uint64_t timeout_ms;
    stage__calls_fail_fn fail;
    void *ud;
} stage__calls_t;

/* Start cs empty: calls time out after timeout_ms; failures go to fail. */
void stage__calls_init(stage__calls_t *cs, uint64_t timeout_ms,
                       stage__calls_fail_fn fail, void *ud);
/* Free cs's index. Calls still open are forgotten, not failed: stop first
** (stage__calls_stop). */
void stage__calls_close(stage__calls_t *cs);

/* Open c (the driver's memory, borrowed until the call ends) as call id
** (nonzero, unique among open calls) to peer at now; its deadline is now
** + timeout_ms. 0 or STAGE_ENOMEM (c is not open). */
int stage__calls_open(stage__calls_t *cs, stage__call_t *c, uint64_t id,
                      const char *peer, uint64_t now);
/* A REPLY for call id came from peer: the call it ends (taken: the driver
** completes and frees it), or NULL if no open call id went to peer. */
stage__call_t *stage__calls_reply(stage__calls_t *cs, uint64_t id,
                                  const char *peer);
/* Take call id back (its frame could not go): the call, or NULL. */
stage__call_t *stage__calls_take(stage__calls_t *cs, uint64_t id);
/* The number of open calls. */
size_t stage__calls_count(const stage__calls_t *cs);
/* The earliest deadline of an open call, or UINT64_MAX if none. */
uint64_t stage__calls_next_deadline(const stage__calls_t *cs);

/* Fail (Timeout) every call whose deadline is at or before now. Returns
** how many failed. */
size_t stage__calls_tick(stage__calls_t *cs, uint64_t now);
/* The session with the node at peer ended for reason (the transport's:
** STAGE_EUNREACHABLE it was never reached, STAGE_ECANCELED it stopped,
** STAGE_ESTOPPED it restarted, else it was declared dead), why in words:
** every call to it fails, NodeUnreachable or NodeDown. Returns how many. */
size_t stage__calls_session_ended(stage__calls_t *cs, const char *peer,
                                  int reason, const char *why);
/* This node stops: every call fails (Stopped). Returns how many. */
size_t stage__calls_stop(stage__calls_t *cs);

#endif
