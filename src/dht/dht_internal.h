/*
** dht/dht_internal.h: the manager's state, shared by the files of src/dht.
**
** Files: ring.c (membership, stabilize, fingers, liveness), route.c
** (recursive routing with per-hop acks), table.c (the local entries and
** their leases, kept in etable.c's ordered chunks), kv.c (requests at the
** asker, decisions at the primary, copies, repair, renewals, watches), msg.c
** (payload layout, wire size,
** msgpack codec), stores.c (typed stores), dht.c (lifecycle, effects),
** index.c (the timed indexes: requests, decisions, hops, watches held).
** Pure logic: no I/O, no clock; time comes in with every event.
*/
#ifndef STAGE_DHT_INTERNAL_H
#define STAGE_DHT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"
#include "etable.h"
#include "util/u64map.h"

#define FINGERS 64
#define MAX_HOPS 48   /* a routed message that went this far is dropped */
#define BUSY_SPLIT 8  /* a write told "busy" asks again after period/8 */
#define BUSY_WAITS 32 /* ... this many times, free (4 periods) */
/* a read every replica told "busy" asks again after period/32 */
#define BUSY_READ_SPLIT 32
#define HOP_TRIES 3 /* next hops tried before a routed message is dropped */
#define DEAD_MAX 16 /* recently failed peers remembered */
#define GONE_MAX 64 /* owners declared dead, whose entries are refused */
#define MERGE_PERIODS 15 /* a self-lookup through another member this often */
#define KNOWN_MAX 8      /* remembered members, looked up to re-merge */

/* Route flags. */
#define RF_FINAL 0x1      /* sent by the key's predecessor: handle it */
#define RF_REPLACE 0x2    /* PUT: drop the key's other items */
#define RF_BYSUB 0x4      /* CLAIM: a clash is another sub, not another owner */
#define RF_REMOVE 0x8     /* COPY: remove the item instead */
#define RF_LAST 0x10      /* REPLY to FETCH: the walk ended here */
#define RF_SAME_LIST 0x20 /* PRED_INFO: your copy of my list is current */
#define RF_FINGERS 0x40   /* GET_PRED/PRED_INFO: send/sent fingers too */
#define RF_PUSH 0x80      /* PRED_INFO: unasked, a member joined before us */
#define RF_TAKEOVER                                                            \
    0x100 /* CLAIM: the value is an actor id, and an item                      \
          ** holding an actor of another run (incarnation)                     \
          ** of the claimant's own node is replaced */

/* One entry as it travels in a payload (internal layout, see msg.c). */
typedef struct rec {
    uint64_t key;   /* replica key */
    uint64_t sub;   /* item id within the key */
    uint64_t owner; /* manager owning the lease */
    uint64_t ver;   /* version: decided at the primary, after the one
                    ** held there (primary.c); merges compare it (table.c) */
    uint32_t ttl;   /* lease left, ms */
    uint8_t index;  /* replica index i: key = base + i*step */
    uint32_t len;
    const char *value;
    bool gone; /* a tombstone (entry_t's gone): no value, a version */
} rec_t;

/* An item of a timed index (index.c): first in the item it indexes. */
typedef struct tnode {
    uint64_t id;       /* rid, or a hop's seq: unique in its index */
    uint64_t deadline; /* absolute ms */
    size_t pos;        /* in the index's list */
    size_t slot;       /* in its heap */
} tnode_t;

/* A routed message waiting for the next hop's ACK (ix.id: its seq). */
typedef struct hop {
    tnode_t ix;
    uint64_t tried[HOP_TRIES];
    int ntried;
    bool back; /* go to our predecessor (the sender's view was stale) */
    stage_dht_msg_t msg; /* our copy, payload owned */
} hop_t;

/* An ack owed to the previous hop of a routed message: it rides on the
** next message to that member, or goes alone when due. Owed acks queue
** oldest first (so by due time: the delay is fixed), each also chained to
** the next one owed to the same member (route.c). */
typedef struct ack {
    stage_dht_peer_t to;
    uint64_t seq;
    uint64_t due;
    uint64_t next; /* the next owed to the same member (its number), or 0 */
    bool gone;     /* it rode on a message: the queue skips it */
} ack_t;

/* The acks owed to one member: the first and last in its chain. */
typedef struct ackto {
    uint64_t first, last;
} ackto_t;

/* A request this manager asked (for its caller or for itself). */
enum {
    RQ_USER = 0,
    RQ_FINGER,
    RQ_JOIN,
    RQ_MERGE,
    RQ_REPAIR,
    RQ_COPY,
    RQ_REPUT,
    RQ_WATCH,
    RQ_FIND_PRED
};
typedef struct request {
    tnode_t ix;   /* ix.id: rid */
    uint64_t arg; /* ROUTE arg (FETCH: range end; WATCH: caller req) */
    uint64_t req; /* caller's id (RQ_USER), finger index, decision rid */
    int kind;
    int op;
    int tries;
    int index;     /* replica index tried (GET falls back) */
    int misses;    /* GET: replicas that said not found */
    int busy;      /* answers "repairing, wait" so far */
    uint64_t base; /* base key */
    uint64_t sub;  /* item (writes); FETCH: start of our range */
    stage_dht_peer_t via;
    uint32_t flags;
    uint32_t len; /* payload to resend */
    char *data;
} request_t;

/* An atomic write decided here, waiting for its copies. */
typedef struct decision {
    tnode_t ix;          /* ix.id: our rid for the copies */
    uint64_t origin_rid; /* the asker's rid */
    stage_dht_peer_t origin;
    int op;
    int status;
    int waiting; /* copies not yet acknowledged */
    int acked;
    int npeers;
    stage_dht_peer_t peers[8];
    uint64_t ver; /* the write's version: the answer's arg */
    uint32_t len; /* the answer's payload */
    char *data;
} decision_t;

/* A watch held here (at the primary) or asked here (at the watcher). */
typedef struct watch {
    uint64_t key;
    uint64_t req;     /* watcher's request id */
    uint64_t expires; /* at the primary; renew time at the watcher */
    stage_dht_peer_t watcher;
} watch_t;

/* A watch held here, as the key's primary: leased, found by key. */
typedef struct held {
    tnode_t ix; /* ix.id: a number of its own; ix.deadline: lease end */
    uint64_t key;
    uint64_t req; /* watcher's request id */
    stage_dht_peer_t watcher;
    struct held *prev, *next; /* the others held on the same key */
} held_t;

/* An entry this manager owns and renews, with where its replicas are. */
typedef struct owned {
    uint64_t base, sub;
    uint32_t flags;
    uint32_t len;
    char *value;
    stage_dht_peer_t holder[8]; /* who holds replica i (id 0: unknown) */
    uint64_t sent[8], acked[8]; /* last renewal sent to it, answered */
    uint64_t asked; /* when the last put of a missing replica was sent */
    uint64_t ver;   /* the version our last write of it was given (the
                    ** answer's arg; 0: not told): re-puts and the removal
                    ** carry it */
    bool mapped;    /* in owned_at (else a collision or out of memory) */
} owned_t;

#define VEC(T)                                                                 \
    struct {                                                                   \
        T *v;                                                                  \
        size_t n, cap;                                                         \
    }

/* A timed index: its nodes by id, in a list, and by deadline (index.c). */
typedef struct tindex {
    VEC(tnode_t *) list; /* the order the manager walks them in */
    VEC(tnode_t *) heap; /* min-heap by deadline */
    stage_u64map_t byid;
    VEC(tnode_t *) due; /* the due pass under way: list order */
    size_t due_at;      /* the next of due to visit */
    bool walking;
} tindex_t;

struct stage_dht {
    /* what every call touches first, together in a few cache lines: the
    ** simulator runs thousands of managers and each call starts cold */
    /* effects since the driver last read them (fx_read: the next call
    ** starts a new list) */
    VEC(stage_dht_effect_t) fx;
    VEC(stage_dht_msg_t) out;    /* messages of FX_SEND, by index */
    VEC(stage_dht_peer_t) dests; /* their destinations, same index */
    VEC(stage_dht_msg_t) loop;   /* messages to ourselves, in order */
    size_t loop_head;
    VEC(stage_dht_item_t) items; /* items of FX_DONE/FX_WATCH */
    VEC(char *) garbage;         /* freed with the effects */
    bool fx_read;
    uint64_t fx_list;   /* which list (stage_dht_effects_list) */
    size_t fx_resolved; /* its effects whose pointers are set */
    uint64_t next_timer;
    /* time */
    uint64_t now;
    uint64_t next_period, next_finger_at, next_renew, next_merge;
    uint64_t repair_until; /* atomic ops in (repair_lo, repair_hi] wait */
    uint64_t repair_lo, repair_hi;
    int repair_left;

    /* routing */
    uint64_t seq, rid;
    tindex_t hops; /* hop_t by seq */
    tindex_t reqs; /* request_t by rid */
    tindex_t decs; /* decision_t by rid */
    VEC(ack_t)
    acks;            /* owed, oldest first; acks.v[i] is number ack_base+i
                     ** (from 1: 0 ends a chain) */
    size_t ack_head; /* acks before it have gone */
    uint64_t ack_base;
    size_t acks_owed;     /* not gone */
    stage_u64map_t ackto; /* member id -> its ackto_t */

    stage_dht_config_t cfg;
    stage_dht_peer_t self;
    uint64_t step; /* 2^64 / R */
    uint64_t rng;  /* splitmix64 state */
    bool stopped, joined;
    bool leaving; /* in stage_dht_leave: our own entries stay behind */

    /* ring */
    stage_dht_peer_t pred; /* id 0: none */
    uint64_t pred_seen;    /* last sign of life from pred */
    uint64_t pred_lost;    /* when pred became unknown (0: it is known) */
    bool pred_pinging;
    uint64_t range_lo; /* start of our range as last known (old pred) */
    stage_dht_peer_t succ[STAGE_DHT_SUCC_MAX];
    int nsucc;
    bool ring_whole; /* succ[] is every other member (it came round to us,
                     ** or to our predecessor) */
    bool stab_waiting, stab_retried;
    uint32_t stab_every; /* period/8 after a change, doubling to period */
    uint64_t stab_sent;
    stage_dht_peer_t finger[FINGERS];
    uint64_t rt_id[FINGERS]; /* the distinct finger ids, for a quick scan */
    uint8_t rt_idx[FINGERS]; /* and where each is in finger[] */
    int nrt;
    int next_finger;
    int finger_burst;        /* fingers still to fix quickly after joining */
    uint64_t dead[DEAD_MAX]; /* recently failed ids, ring of DEAD_MAX */
    uint64_t dead_until[DEAD_MAX];
    int ndead;
    stage_dht_peer_t known[KNOWN_MAX]; /* for re-merge after partitions */
    int nknown;
    uint32_t merges;
    char join_addr[STAGE_ADDR_MAX];
    uint64_t join_id;

    /* data */
    etable_t table;             /* by (key, sub): etable.h */
    tindex_t watches;           /* held_t, here as primary */
    stage_u64map_t watches_at;  /* key ^ WATCH_MIX -> first held on it */
    held_t *watches_zero;       /* ... for the key that maps to 0 */
    uint64_t watch_ids;         /* the last ix.id given */
    VEC(held_t *) watches_some; /* stage__dht_changed's, reused */
    VEC(watch_t) mywatches;
    VEC(owned_t) owned;
    stage_u64map_t owned_at; /* mix of (base, sub) -> index + 1 in owned */
    size_t owned_loose;      /* entries of owned not in owned_at */
    /* owners whose node was declared dead (stage_dht_owner_gone): their
    ** entries are refused until gone_until, a lease after the news, so a
    ** replica that has not heard yet cannot hand them back */
    uint64_t gone[GONE_MAX];
    uint64_t gone_until[GONE_MAX];
};

/* vec.c-like helper: grow v to hold n+1 elements of size sz. */
int stage__dht_grow(void **v, size_t *cap, size_t n, size_t sz);
#define VEC_PUSH(vec)                                                          \
    (stage__dht_grow((void **)&(vec).v, &(vec).cap, (vec).n,                   \
                     sizeof(*(vec).v)) == 0                                    \
         ? &(vec).v[(vec).n++]                                                 \
         : NULL)

/* ---- timed indexes (index.c) ---- */
/* Add n (id and deadline set, id new): 0 or STAGE_ENOMEM (not added). */
int stage__dht_ix_add(tindex_t *x, tnode_t *n);
/* Remove n (in x); the caller frees it. In a due pass, n must be the node
** just visited. */
void stage__dht_ix_remove(tindex_t *x, tnode_t *n);
/* The node with id, or NULL. */
tnode_t *stage__dht_ix_get(const tindex_t *x, uint64_t id);
/* Give n (in x) a new id (non-zero, not in x). */
void stage__dht_ix_rekey(tindex_t *x, tnode_t *n, uint64_t id);
/* Move n's deadline. */
void stage__dht_ix_set(tindex_t *x, tnode_t *n, uint64_t deadline);
/* The earliest deadline, UINT64_MAX if none. */
uint64_t stage__dht_ix_next(const tindex_t *x);
/* Start a due pass: the nodes with deadline <= now, in list order. */
void stage__dht_ix_due(tindex_t *x, uint64_t now);
/* The next node of the pass, or NULL: the pass is over. */
tnode_t *stage__dht_ix_due_next(tindex_t *x);
/* Free the index (not its nodes). */
void stage__dht_ix_free(tindex_t *x);

/* ---- ring arithmetic (ring.c) ---- */
/* x in the open-closed ring interval (a, b]; (a, a] is the whole ring. */
static inline bool in_oc(uint64_t x, uint64_t a, uint64_t b) {
    return a == b ? true : (x - a - 1) < (b - a);
}
/* x in the open ring interval (a, b); (a, a) is the ring minus a. */
static inline bool in_oo(uint64_t x, uint64_t a, uint64_t b) {
    return a == b ? x != a : (x - a - 1) < (b - a - 1);
}
uint64_t stage__dht_rand(stage_dht_t *d);
bool stage__dht_is_dead(const stage_dht_t *d, uint64_t id);
void stage__dht_peer_failed(stage_dht_t *d, uint64_t id);
/* An orphan p looks for its predecessor through us: if it lies between
** us and our successor, it becomes our successor. */
void stage__dht_closer_seen(stage_dht_t *d, const stage_dht_peer_t *p);
/* A message reached us and we have no successor: adopt its asker. */
void stage__dht_orphan_seen(stage_dht_t *d, const stage_dht_peer_t *p);
bool stage__dht_responsible(const stage_dht_t *d, uint64_t key);
/* Rebuild the quick finger index after finger[] changed. */
void stage__dht_fingers_changed(stage_dht_t *d);
/* We were not run for more than a period past our stabilize (the process
** was stopped, SIGSTOP, or its loop stalled): our successor may have
** forgotten us and stood in for our range, deciding writes there. Hold
** nothing current, as a member that has just joined, until a predecessor
** notifies us and we have repaired the range (pred_changed), and mark
** every entry held stale: the successor's hand-back and the replicas'
** newer versions replace them, whoever owns them (table.c), and reads and
** writes here answer "busy" meanwhile. */
void stage__dht_ring_woke(stage_dht_t *d);
void stage__dht_ring_recv(stage_dht_t *d, const stage_dht_msg_t *m);
void stage__dht_ring_tick(stage_dht_t *d);
void stage__dht_ring_poll(stage_dht_t *d);
uint64_t stage__dht_ring_deadline(const stage_dht_t *d);
void stage__dht_ring_found(stage_dht_t *d, const request_t *r,
                           const stage_dht_msg_t *m);
void stage__dht_ring_leave(stage_dht_t *d);
void stage__dht_pred_changed(stage_dht_t *d, uint64_t old_lo, uint64_t lo);

/* ---- routing (route.c) ---- */
/* Route m (type ROUTE) onwards from here, or handle it if the key is ours.
** Takes the payload of m. */
void stage__dht_route(stage_dht_t *d, stage_dht_msg_t *m);
void stage__dht_route_recv(stage_dht_t *d, const stage_dht_msg_t *m);
/* The acks m carries: those hops are done. */
void stage__dht_ack_recv(stage_dht_t *d, const stage_dht_msg_t *m);
/* Put owed acks on this call's messages to their members; send those due
** (all of them if all) alone. Returns the earliest due time left. */
uint64_t stage__dht_flush_acks(stage_dht_t *d, bool all);
void stage__dht_route_tick(stage_dht_t *d);
/* Free the pending hops and owed acks (stage_dht_destroy). */
void stage__dht_route_free(stage_dht_t *d);
/* The best next hop for key other than the excluded ids (NULL: none).
** jump: the message starts here, and may go straight to the owner that a
** whole successor list shows (later hops route by the ring alone, so two
** stale lists cannot bounce a message between them). */
const stage_dht_peer_t *stage__dht_next_hop(const stage_dht_t *d, uint64_t key,
                                            const uint64_t *excl, int nexcl,
                                            bool jump, bool *final);

/* ---- table (table.c) ----
** Entry pointers are borrowed: valid until the next store, erase or
** sweep, which may move any entry (etable.h). */
/* The entry (key, sub), or NULL. */
entry_t *stage__dht_find(stage_dht_t *d, uint64_t key, uint64_t sub);
/* The first entry >= (key, sub), or NULL; *it is its position. */
entry_t *stage__dht_seek(stage_dht_t *d, uint64_t key, uint64_t sub,
                         etab_it_t *it);
/* The first entry with key >= key, or NULL; *it is its position. */
entry_t *stage__dht_first(stage_dht_t *d, uint64_t key, etab_it_t *it);
/* The entry after *it (moved on to it), or NULL. */
entry_t *stage__dht_next(stage_dht_t *d, etab_it_t *it);
/* Remove the entry at *it, its value freed; return the one after (*it
** is its position), or NULL. */
entry_t *stage__dht_erase(stage_dht_t *d, etab_it_t *it);
/* A walk over the entries with key in the ring interval (lo, hi] in table
** order: a range that wraps gives its part from key 0 first, as a walk
** over the whole table filtered by in_oc(key, lo, hi) did. */
typedef struct rangeit {
    etab_it_t it;
    uint64_t from[2], to[2]; /* its parts, closed intervals */
    int part, nparts;
} rangeit_t;
entry_t *stage__dht_range_first(stage_dht_t *d, uint64_t lo, uint64_t hi,
                                rangeit_t *r);
entry_t *stage__dht_range_next(stage_dht_t *d, rangeit_t *r);
int stage__dht_store(stage_dht_t *d, const rec_t *r, bool merge);
void stage__dht_table_tick(stage_dht_t *d);
void stage__dht_table_free(stage_dht_t *d);

/* ---- payloads (msg.c) ---- */
typedef struct payload {
    char *data;
    uint32_t len, cap;
    int err;
} payload_t;
void stage__dht_pl_rec(payload_t *p, const rec_t *r);
void stage__dht_pl_entry(payload_t *p, const entry_t *e, uint64_t now);
/* Read the next rec from data[*off..len): 1, 0 at the end, -1 if bad. */
int stage__dht_pl_next(const char *data, uint32_t len, uint32_t *off, rec_t *r);

/* ---- key/value: the asker (kv.c) and the owner (primary.c) ---- */
/* The first watch held on key (the others follow by next), or NULL. */
held_t *stage__dht_watches_on(const stage_dht_t *d, uint64_t key);
uint64_t stage__dht_base(const stage_dht_t *d, uint64_t key, int index);
bool stage__dht_frozen(const stage_dht_t *d, uint64_t key);
void stage__dht_decision_copied(stage_dht_t *d, uint64_t rid, int index,
                                const stage_dht_peer_t *holder, bool ok);
void stage__dht_primary_tick(stage_dht_t *d);
void stage__dht_renew_recv(stage_dht_t *d, const stage_dht_msg_t *m);
void stage__dht_primary_free(stage_dht_t *d);
void stage__dht_kv_handle(stage_dht_t *d, const stage_dht_msg_t *m);
void stage__dht_kv_reply(stage_dht_t *d, const stage_dht_msg_t *m);
void stage__dht_kv_recv(stage_dht_t *d, const stage_dht_msg_t *m);
void stage__dht_kv_tick(stage_dht_t *d);
void stage__dht_transfer(stage_dht_t *d, const stage_dht_peer_t *to,
                         uint64_t lo, uint64_t hi);
/* Send pl (taken) as a message of type to 'to'; nothing if empty. */
void stage__dht_send_payload(stage_dht_t *d, int type,
                             const stage_dht_peer_t *to, payload_t *pl);
void stage__dht_repair(stage_dht_t *d, uint64_t lo, uint64_t hi);
/* Ask: route op towards key (base key and replica index for stores).
** Takes pl's memory (pl may be NULL). 0 or STAGE_ENOMEM. */
typedef struct reqspec {
    int kind, op, index;
    uint64_t req, key, sub, arg;
    uint32_t flags;
    const stage_dht_peer_t *via; /* send straight there (join, merge) */
} reqspec_t;
int stage__dht_request(stage_dht_t *d, const reqspec_t *s, payload_t *pl);
void stage__dht_changed(stage_dht_t *d, uint64_t key);
void stage__dht_kv_free(stage_dht_t *d);

/* The entry we own for (base, sub), or NULL; drop one (its value freed,
** the last entry moved into its place). */
owned_t *stage__dht_owned_find(stage_dht_t *d, uint64_t base, uint64_t sub);
void stage__dht_owned_drop(stage_dht_t *d, owned_t *o);

/* A user write of op with route flags (api.c; stores.c uses it). */
int stage__dht_put_flags(stage_dht_t *d, uint64_t now, uint64_t req, int op,
                         uint64_t k, uint64_t sub, uint32_t flags,
                         const void *value, size_t len);

/* ---- effects (dht.c) ---- */
void stage__dht_begin(stage_dht_t *d, uint64_t now); /* API call starts */
void stage__dht_end(stage_dht_t *d);                 /* and ends */
stage_dht_msg_t *stage__dht_send(stage_dht_t *d, int type,
                                 const stage_dht_peer_t *to);
void stage__dht_done(stage_dht_t *d, uint64_t req, int status, int hops,
                     const char *data, uint32_t len, int kind);
void stage__dht_keep(stage_dht_t *d, char *p); /* free p at the next call */

/* Stop owning entry (k, sub): no renewal, no removal (api.c). */
void stage__dht_forget(stage_dht_t *d, uint64_t k, uint64_t sub);

#endif
