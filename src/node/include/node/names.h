/*
** node/names.h: what a node remembers of the names store between lookups
** — the name cache, the runs (incarnations) other nodes announced, and
** the rule for asking again when a name leads nowhere yet — as a pure
** state machine: time comes in as milliseconds of the driver's clock, the
** driver arms one timer at the next re-ask; no I/O.
**
** The name cache. An id found by name is kept STAGE__NAMES_TTL_MS, so a
** node that looks the same name up again and again (a client in a loop)
** asks the DHT once a second. Entries of a node that is reported down or
** restarted go at once (stage__names_forget_node). A name re-bound
** meanwhile is seen at most the TTL late by find_name, but at once by a
** call through the name that failed: its retry drops the entry and asks
** the DHT again (a REFIND).
**
** Runs. The incarnation each node announced last (its handshake): an id
** of an earlier incarnation at that address names an actor of a run that
** has ended (the node restarted), and is gone.
**
** Asking again (REFIND). A call through a name failed and the DHT still
** names an actor of the failed actor's run, which has ended (its node
** restarted and has not claimed the name again yet: it does as it
** starts); or it names nobody (the holder stopped, or died with its node,
** and its replacement has not claimed the name yet); or the directory was
** busy where the name lives (a range being repaired). Rather than answer,
** the lookup waits and asks again: 25, 50, then every 100 ms, for up to
** STAGE__NAMES_REWAIT_MS after its first wait; then it fails, saying so.
** States of a waiting lookup: ASKING -> WAITING [stage__names_rewait: 1]
** -> ASKING [due: stage__names_rewait_due]; WAITING/ASKING -> FAILED
** [stage__names_rewait: 0, the time is up].
** Not thread-safe: one owner (the node's loop).
*/
#ifndef STAGE_NODE_NAMES_H
#define STAGE_NODE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"
#include "util/u64map.h"

#define STAGE__NAMES_TTL_MS 1000    /* a name found is reused so long */
#define STAGE__NAMES_REWAIT_MS 1000 /* a REFIND asks again so long */

/* A lookup that may wait to ask again: the driver embeds one in each
** lookup (zeroed) and finds the lookup back from it. */
typedef struct stage__rewait stage__rewait_t;
struct stage__rewait {
    bool waited;           /* it has waited once: stale_since is set */
    uint64_t stale_since;  /* its first wait began */
    uint64_t due;          /* the next ask, while waiting */
    uint32_t wait_ms;      /* the last wait */
    stage__rewait_t *next; /* among the waiting, or in a list taken */
};

typedef struct stage__names {
    stage_u64map_t cache; /* name key -> cached entry */
    stage_u64map_t runs;  /* address key -> incarnation it announced */
    stage__rewait_t *waiting;
    char self[STAGE_ADDR_MAX]; /* this node's address and incarnation */
    uint32_t incarnation;
} stage__names_t;

/* What a REFIND's answer means (stage__names_refind). */
enum {
    STAGE__REFIND_ANSWER = 0, /* the answer stands: give it */
    STAGE__REFIND_STALE,      /* an actor of the failed run, which ended */
    STAGE__REFIND_MISSING,    /* no actor has the name (yet) */
    STAGE__REFIND_BUSY        /* the directory could not answer there */
};

/* Start ns empty for this node (self: its address; incarnation). */
void stage__names_init(stage__names_t *ns, const char *self,
                       uint32_t incarnation);
/* Free ns's memory. The lookups still waiting are forgotten: take them
** first (stage__names_rewait_all) to fail them. */
void stage__names_close(stage__names_t *ns);

/* The key of a name in the cache and in a node's claims (not 0). */
uint64_t stage__names_key(const char *name);

/* ---- the cache ---------------------------------------------------------- */

/* The cached id of name at now (its msgpack in *value, *len: borrowed until
** the next call that changes ns), or 0 if none or expired (it goes). 1 if
** found. */
bool stage__names_get(stage__names_t *ns, const char *name, uint64_t now,
                      const char **value, size_t *len);
/* Cache value (the msgpack of an id; anything else is not cached) for
** name at now. 0, STAGE_EDECODE or STAGE_ENOMEM (nothing cached). */
int stage__names_put(stage__names_t *ns, const char *name, const char *value,
                     size_t len, uint64_t now);
/* Drop name's entry (a call through it failed; it was claimed anew). */
void stage__names_drop(stage__names_t *ns, const char *name);
/* Drop the entries naming actors of the node at addr (NULL: all). */
void stage__names_forget_node(stage__names_t *ns, const char *addr);
/* The number of entries (expired ones included until they are read). */
size_t stage__names_count(const stage__names_t *ns);

/* ---- runs --------------------------------------------------------------- */

/* The node at addr announced incarnation (0: nothing to note). 1 if it
** announced another one before (it restarted), else 0. */
bool stage__names_peer_up(stage__names_t *ns, const char *addr,
                          uint32_t incarnation);
/* 1 if id names an actor of a run of its node that has ended: the node at
** its address (this one included) runs another incarnation now. */
bool stage__names_run_ended(const stage__names_t *ns, const stage_id_t *id);

/* ---- asking again ------------------------------------------------------- */

/* What the DHT's answer to a REFIND of a name means, the call through it
** having failed at actor failed: status (0 or a STAGE_E*) and value (the
** first item's: an id's msgpack; NULL: no item). */
int stage__names_refind(const stage__names_t *ns, const stage_id_t *failed,
                        int status, const char *value, size_t len);
/* rw is to ask again at now: 1, and it waits (rw->due, the next re-ask:
** stage__names_rewait_next), or 0 if STAGE__NAMES_REWAIT_MS have passed
** since its first wait (the driver fails the lookup). */
bool stage__names_rewait(stage__names_t *ns, stage__rewait_t *rw, uint64_t now);
/* The earliest re-ask due, or UINT64_MAX if no lookup waits. */
uint64_t stage__names_rewait_next(const stage__names_t *ns);
/* Take the lookups due at now: a list through next (NULL: none). */
stage__rewait_t *stage__names_rewait_due(stage__names_t *ns, uint64_t now);
/* Take every waiting lookup (the node stops): a list through next. */
stage__rewait_t *stage__names_rewait_all(stage__names_t *ns);

#endif
