/*
** stage/dht.h: one manager of the DHT (a Chord member with replicated,
** leased key/value stores), as pure logic.
**
** A manager does no I/O and reads no clock. The driver (the simulator, or
** the libuv transport) feeds it events: a message arrived, its timer fired,
** or a call was made; each event carries the current time in milliseconds.
** The driver drains the effects — messages to send (to a manager id at an
** address), request completions and watch notifications — then arms one
** timer at stage_dht_next_timer(). Effects accumulate over calls until
** the driver reads them (stage_dht_effects), so several calls may precede
** one drain; what it read, and the messages it points to, stay valid until
** the next call into the same manager, which starts a new list.
**
** Keys: the first 8 bytes of BLAKE2b(store byte || key). Replica i of key k
** lives at k + i*floor(2^64/R); the primary is the replica with the
** smallest key and decides atomic operations. Every entry is a lease owned
** by the manager that wrote it; the owner renews in batches.
**
** Threads: a manager is not thread-safe; one thread drives it.
*/
#ifndef STAGE_DHT_H
#define STAGE_DHT_H

#include <stddef.h>
#include <stdint.h>

#include "stage/id.h"

#define STAGE_DHT_SUCC_MAX 32            /* longest successor list */
#define STAGE_DHT_VALUE_MAX 65536        /* largest value (a source text) */
#define STAGE_DHT_PAYLOAD_MAX (1u << 22) /* largest message payload */
#define STAGE_DHT_ACKS_MAX 32            /* hop acks one message carries */

typedef struct stage_dht stage_dht_t; /* opaque: one manager */

/* A manager: its ring id and the address its node listens at. */
typedef struct stage_dht_peer {
    uint64_t id;
    char addr[STAGE_ADDR_MAX];
} stage_dht_peer_t;

#define STAGE_DHT_REPLICAS_MAX 8 /* most copies of an entry */

typedef struct stage_dht_config {
    uint64_t id;                 /* ring id, random (chosen by the caller) */
    const char *address;         /* where others reach this manager */
    uint64_t seed;               /* seeds the manager's own random choices */
    int replicas;                /* R (3), 1..STAGE_DHT_REPLICAS_MAX */
    int succ_len;                /* successor list length (8), up to 32 */
    uint32_t period_ms;          /* t: stabilize + liveness period (1000) */
    uint32_t finger_period_ms;   /* one finger refreshed this often (3000) */
    uint32_t hop_timeout_ms;     /* per-hop acknowledgement timeout (300) */
    uint32_t ack_delay_ms;       /* a hop's ack waits this long for a message to
                                 ** the same member to ride on (20); at most a
                                 ** quarter of the hop timeout */
    uint32_t request_timeout_ms; /* one try of a request (1500) */
    int request_tries;           /* tries before STAGE_ETIMEOUT (4) */
    uint32_t lease_ms;           /* lease of entries and watches (30000) */
} stage_dht_config_t;

/* ---- messages ------------------------------------------------------------ */

typedef enum stage_dht_mtype {
    STAGE_DHT_M_ACK = 1,   /* per-hop acks alone (any message may carry them) */
    STAGE_DHT_M_PING,      /* liveness probe of the predecessor */
    STAGE_DHT_M_PONG,      /* answer to PING */
    STAGE_DHT_M_GET_PRED,  /* stabilize: ask the successor its neighbours */
    STAGE_DHT_M_PRED_INFO, /* answer: peer = predecessor, peers = succ list */
    STAGE_DHT_M_NOTIFY,    /* "I think I am your predecessor" */
    STAGE_DHT_M_ROUTE,     /* routed hop by hop towards key; op says what */
    STAGE_DHT_M_REPLY,     /* straight back to the asker: rid, status */
    STAGE_DHT_M_TRANSFER,  /* entries handed over (join, leave) */
    STAGE_DHT_M_LEAVE,     /* I leave: peer = my pred/succ, peers = my list */
    STAGE_DHT_M_EVENT,     /* a watched key changed: entries = its items */
    STAGE_DHT_M_RENEW,     /* lease renewal batch, straight to a holder */
    STAGE_DHT_M_MISSING,   /* renewal answer: these entries are not here */
    STAGE_DHT_M__END
} stage_dht_mtype_t;

typedef enum stage_dht_op {
    STAGE_DHT_OP_LOOKUP = 1, /* who owns key (join, fingers, re-merge) */
    STAGE_DHT_OP_GET,        /* items of a key */
    STAGE_DHT_OP_PUT,        /* upsert an item (at the primary, then copies) */
    STAGE_DHT_OP_CLAIM,      /* put only if no other owner holds the key */
    STAGE_DHT_OP_CAS,        /* put if the current value equals expected */
    STAGE_DHT_OP_REMOVE,     /* remove an item of its owner */
    STAGE_DHT_OP_COPY,       /* primary -> other replicas */
    STAGE_DHT_OP_WATCH,      /* watch a key at its primary (leased) */
    STAGE_DHT_OP_FETCH,      /* send entries of a range (repair), walks on */
    STAGE_DHT_OP__END
} stage_dht_op_t;

/* One message. Payload (data, len) holds entries in the internal layout of
** src/dht; the wire form is msgpack (stage_dht_msg_encode). */
typedef struct stage_dht_msg {
    uint8_t type; /* stage_dht_mtype_t */
    uint8_t op;   /* stage_dht_op_t, for ROUTE and REPLY */
    uint8_t hops; /* ROUTE: hops so far */
    uint8_t npeers;
    int32_t status; /* REPLY: 0 or a STAGE_E* code */
    uint32_t flags;
    uint64_t to;  /* manager id this message is for (the wire: low 32 bits) */
    uint64_t seq; /* ROUTE/ACK: per-hop sequence number */
    uint64_t rid; /* request id at the origin */
    uint64_t key; /* ROUTE: target key */
    uint64_t arg; /* op argument (range end, index, ...) */
    stage_dht_peer_t from;   /* sender of this hop */
    stage_dht_peer_t origin; /* ROUTE: the asker, who gets the REPLY */
    stage_dht_peer_t peer;   /* pred, new neighbour, owner found */
    uint32_t len;            /* payload bytes */
    char *data;              /* payload, malloc'd; NULL when len == 0 */
    uint8_t nacks;           /* routed messages of the receiver's that the */
    uint64_t acks[STAGE_DHT_ACKS_MAX]; /* sender got: their seq (any type) */
    stage_dht_peer_t peers[STAGE_DHT_SUCC_MAX];
} stage_dht_msg_t;

/* Encode m as one msgpack value appended to *out (a stage_pack_t). The
** address of m->from is left out: the receiver knows where the bytes came
** from; so is its id when it is known_from, the manager id the sender's
** node announced in the connection's handshake (0: none). 0 or
** STAGE_ENOMEM. */
struct stage_pack;
int stage_dht_msg_encode(const stage_dht_msg_t *m, uint64_t known_from,
                         struct stage_pack *out);
/* Decode bytes from the network into *m (free with stage_dht_msg_clear);
** from_addr is the address of the node that sent them (the connection's
** peer), which becomes m->from.addr, and from_id the manager id that node
** announced in its handshake (0: none), which becomes m->from.id unless
** the message names another sender. 0, or STAGE_EDECODE for anything
** malformed; *m is then empty. */
int stage_dht_msg_decode(stage_dht_msg_t *m, const char *buf, size_t len,
                         const char *from_addr, uint64_t from_id);
/* Free m's payload; m is empty. */
void stage_dht_msg_clear(stage_dht_msg_t *m);
/* Bytes the msgpack form of m takes on the wire (without framing), sent
** with known_from as in stage_dht_msg_encode. */
size_t stage_dht_msg_wire_size(const stage_dht_msg_t *m, uint64_t known_from);

/* ---- effects ------------------------------------------------------------- */

typedef enum stage_dht_fx_kind {
    STAGE_DHT_FX_SEND = 1, /* send msg to msg->to at to_addr */
    STAGE_DHT_FX_DONE,     /* request req completed with status, items */
    STAGE_DHT_FX_WATCH,    /* watch req: the key changed, items = now */
    STAGE_DHT_FX_JOINED,   /* the manager has a successor: it is a member */
} stage_dht_fx_kind_t;

/* One item of a key: a value with the manager that owns its lease. */
typedef struct stage_dht_item {
    uint64_t owner;    /* manager id of the lease owner */
    uint64_t sub;      /* item id within the key (0 for single values) */
    const char *value; /* msgpack bytes */
    uint32_t len;
} stage_dht_item_t;

typedef struct stage_dht_effect {
    int kind;             /* stage_dht_fx_kind_t */
    const char *to_addr;  /* SEND */
    stage_dht_msg_t *msg; /* SEND: the driver may take msg->data */
    uint64_t req;         /* DONE, WATCH: the caller's request id */
    int status;           /* DONE: 0 or a STAGE_E* code */
    int hops;             /* DONE: hops the answering request took */
    size_t nitems;        /* DONE, WATCH */
    const stage_dht_item_t *items;
} stage_dht_effect_t;

/* ---- the manager --------------------------------------------------------- */

/* Fill *cfg with the defaults (id 0, address NULL: set them). */
void stage_dht_config_init(stage_dht_config_t *cfg);
/* Create a manager, alone on its own ring. Returns 0 and *out, or
** STAGE_EINVAL (bad config) / STAGE_ENOMEM. */
int stage_dht_new(stage_dht_t **out, const stage_dht_config_t *cfg,
                  uint64_t now);
/* Free the manager and everything it holds; sets *d to NULL. */
void stage_dht_destroy(stage_dht_t **d);

/* Join the ring that the manager at addr (id may be 0: unknown) belongs to.
** 0 or STAGE_EINVAL. FX_JOINED follows once a successor answers. */
int stage_dht_join(stage_dht_t *d, uint64_t now, const char *addr, uint64_t id);
/* Leave gracefully: hand the range and the neighbours over, then stop
** answering. Any later call but destroy returns STAGE_ESTOPPED. */
int stage_dht_leave(stage_dht_t *d, uint64_t now);
/* A message arrived. Borrows m (the driver frees its payload). */
void stage_dht_recv(stage_dht_t *d, uint64_t now, const stage_dht_msg_t *m);
/* The timer fired (or any time: it is harmless to call early). */
void stage_dht_tick(stage_dht_t *d, uint64_t now);
/* When to call stage_dht_tick next (absolute ms). */
uint64_t stage_dht_next_timer(const stage_dht_t *d);
/* The effects produced since they were last read; valid until the next
** call. */
const stage_dht_effect_t *stage_dht_effects(stage_dht_t *d, size_t *n);
/* Which list stage_dht_effects gives: a number that changes when a call
** after a read starts a new list. A driver whose handling of the effects
** may call the manager (or read the effects again) tells by it a list it
** has handled from a new one. Never 0. */
uint64_t stage_dht_effects_list(const stage_dht_t *d);

/* Self, successor, predecessor (id 0 if none). */
stage_dht_peer_t stage_dht_self(const stage_dht_t *d);
stage_dht_peer_t stage_dht_successor(const stage_dht_t *d);
stage_dht_peer_t stage_dht_predecessor(const stage_dht_t *d);
/* Entries this manager holds in its own range; all it holds in *total. */
size_t stage_dht_entry_count(const stage_dht_t *d, size_t *total);
/* The node at addr is gone (its transport said goodbye or gave up): forget
** every manager known at addr now, rather than after timeouts, and send
** the routed messages waiting for their acknowledgement another way.
** Returns how many managers were forgotten. */
int stage_dht_peer_gone(stage_dht_t *d, uint64_t now, const char *addr);
/* The node at addr answers with manager keep now (a node restarted at its
** address: a new incarnation, another manager): forget every other manager
** known at addr, as stage_dht_peer_gone does. keep 0 (not announced):
** nothing is forgotten. Returns how many managers were forgotten. */
int stage_dht_peer_restarted(stage_dht_t *d, uint64_t now, const char *addr,
                             uint64_t keep);

/* The node of manager owner was declared dead (its failure detector, or
** the news from another node): drop every entry it owns here at once,
** instead of when their leases run out, tell their watchers, and refuse
** its entries for a lease's time after (a replica that has not heard the
** news yet cannot hand them back). The lease stays the backstop for the
** managers the news does not reach. Returns how many entries went. */
int stage_dht_owner_gone(stage_dht_t *d, uint64_t now, uint64_t owner);

/* Entries this manager owns (leases it renews). */
size_t stage_dht_owned_count(const stage_dht_t *d);
/* 1 if this manager holds a live entry (key, sub), else 0. */
int stage_dht_holds(const stage_dht_t *d, uint64_t now, uint64_t key,
                    uint64_t sub);

/* ---- keys ---------------------------------------------------------------- */

typedef enum stage_dht_store {
    STAGE_DHT_HOSTS = 1,
    STAGE_DHT_NAMES,
    STAGE_DHT_TYPES,
    STAGE_DHT_MIGRATIONS,
    STAGE_DHT_SOURCES,
    STAGE_DHT_SERVICES,
    STAGE_DHT_RAW, /* keys used as given (tests, the simulator) */
} stage_dht_store_t;

/* The ring key of (store, key): first 8 bytes of BLAKE2b(store || key). */
uint64_t stage_dht_key(int store, const void *key, size_t len);
/* Replica i (0..r-1) of key k, and the primary (smallest) replica. */
uint64_t stage_dht_replica(uint64_t k, int i, int r);
int stage_dht_primary_index(uint64_t k, int r);

/* ---- key/value requests (complete with FX_DONE, req echoed) ---------------
** Each returns 0 (an FX_DONE with req will follow) or STAGE_EINVAL /
** STAGE_ENOMEM / STAGE_ESTOPPED (no FX_DONE). value is msgpack bytes. */

/* Items of key k (status STAGE_ENAME_NOT_FOUND when there are none). */
int stage_dht_get(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k);
/* Put item sub of key k, owned and renewed by this manager. */
int stage_dht_put(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                  uint64_t sub, const void *value, size_t len);
/* Put k -> value unless k is held by another manager, or by us with
** another value (STAGE_EEXISTS, with the holder's item). Repeating one's
** own claim succeeds. */
int stage_dht_claim(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                    const void *value, size_t len);
/* Replace k's value if it equals expected (expected NULL: absent); else
** STAGE_EEXISTS with the current item. */
int stage_dht_cas(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                  const void *expected, size_t elen, const void *value,
                  size_t len);
/* Remove item sub of k that this manager owns (no lease renewal after). */
int stage_dht_remove(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k,
                     uint64_t sub);
/* Watch k: FX_WATCH with req at every change, until stage_dht_unwatch.
** The registration at the primary is leased and renewed. */
int stage_dht_watch(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k);
void stage_dht_unwatch(stage_dht_t *d, uint64_t req);
/* Route a lookup of k (FX_DONE carries the owner's id as item owner). */
int stage_dht_lookup(stage_dht_t *d, uint64_t now, uint64_t req, uint64_t k);

/* ---- the stores (thesis 4.3; docs/dht.md) --------------------------
** Typed wrappers over the requests above. Values are msgpack. */

typedef struct stage_dht_host {
    char addr[STAGE_ADDR_MAX];
    int cores;       /* its theatres */
    double load;     /* runnable actors per theatre, lately */
    int mobile;      /* it takes actors that move (not draining) */
    uint32_t actors; /* the mobile actors it runs */
} stage_dht_host_t;

/* hosts: this manager's id -> its node's description, replaced at each
** put. */
int stage_dht_host_put(stage_dht_t *d, uint64_t now, uint64_t req,
                       const stage_dht_host_t *h);
int stage_dht_host_get(stage_dht_t *d, uint64_t now, uint64_t req,
                       uint64_t manager);
/* A host entry's value (what a get answered) into *h. 0, or
** STAGE_EDECODE (not a host entry: a value from the network). */
int stage_dht_host_decode(const char *value, size_t len, stage_dht_host_t *h);
/* names: claim name for actor (atomic), find it, drop it. */
int stage_dht_name_claim(stage_dht_t *d, uint64_t now, uint64_t req,
                         const char *name, const stage_id_t *actor);
int stage_dht_name_find(stage_dht_t *d, uint64_t now, uint64_t req,
                        const char *name);
int stage_dht_name_release(stage_dht_t *d, uint64_t now, uint64_t req,
                           const char *name);
/* Take name over from actor `from` (whoever holds it) for actor `to`:
** this manager holds it from then on (STAGE_EEXISTS if it names another
** actor than `from`, or no one). */
int stage_dht_name_move(stage_dht_t *d, uint64_t now, uint64_t req,
                        const char *name, const stage_id_t *from,
                        const stage_id_t *to);
/* This manager no longer holds name (another took it over): forgotten,
** neither removed nor renewed. */
void stage_dht_name_forget(stage_dht_t *d, const char *name);
/* types: add an actor of a type, or an immediate subtype; remove; find
** (items: actor ids [0, id] and subtypes [1, "name"]). */
int stage_dht_type_add(stage_dht_t *d, uint64_t now, uint64_t req,
                       const char *type, const stage_id_t *actor);
int stage_dht_type_add_subtype(stage_dht_t *d, uint64_t now, uint64_t req,
                               const char *type, const char *subtype);
int stage_dht_type_remove(stage_dht_t *d, uint64_t now, uint64_t req,
                          const char *type, const stage_id_t *actor);
int stage_dht_type_find(stage_dht_t *d, uint64_t now, uint64_t req,
                        const char *type);
/* migrations: old id -> current id (the caller maps every old id it had,
** so chains collapse); find. */
int stage_dht_migration_put(stage_dht_t *d, uint64_t now, uint64_t req,
                            const stage_id_t *old, const stage_id_t *cur);
int stage_dht_migration_find(stage_dht_t *d, uint64_t now, uint64_t req,
                             const stage_id_t *old);
/* Drop this manager's entry for old (no renewal after; another
** manager's entry under old stays). */
int stage_dht_migration_remove(stage_dht_t *d, uint64_t now, uint64_t req,
                               const stage_id_t *old);
/* sources: type -> [source, hash]. A different hash under an existing
** type is STAGE_ECLASH unless update is set. */
int stage_dht_source_put(stage_dht_t *d, uint64_t now, uint64_t req,
                         const char *type, const char *src, size_t len,
                         int update);
int stage_dht_source_get(stage_dht_t *d, uint64_t now, uint64_t req,
                         const char *type);
/* services: tag -> exported references [0, id] and subtags [1, "tag"]. */
int stage_dht_service_export(stage_dht_t *d, uint64_t now, uint64_t req,
                             const char *tag, const stage_id_t *ref);
int stage_dht_service_add_subtag(stage_dht_t *d, uint64_t now, uint64_t req,
                                 const char *tag, const char *subtag);
int stage_dht_service_retract(stage_dht_t *d, uint64_t now, uint64_t req,
                              const char *tag, const stage_id_t *ref);
int stage_dht_service_find(stage_dht_t *d, uint64_t now, uint64_t req,
                           const char *tag);
int stage_dht_service_watch(stage_dht_t *d, uint64_t now, uint64_t req,
                            const char *tag);

#endif
