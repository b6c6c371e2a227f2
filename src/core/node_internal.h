/*
** core/node_internal.h: the node structure and the theatre lifecycle, for
** src/core. */
#ifndef STAGE_CORE_NODE_INTERNAL_H
#define STAGE_CORE_NODE_INTERNAL_H

#include "core/directory.h"
#include "core/kind.h"
#include "core/netif.h"
#include "core/node.h"
#include "core/theatre.h"
#include "util/u64map.h"

#define SHARED_STRIPES 64

typedef struct stage__shared_stripe {
    pthread_mutex_t lock;
    stage_u64map_t map; /* serial -> theatre index + 1 */
} stage__shared_stripe_t;

struct stage_node {
    stage_node_config_t cfg;
    char address[STAGE_ADDR_MAX];
    size_t address_len; /* strlen(address): ids are compared with memcmp */
    uint32_t incarnation;
    int ntheatres;
    stage__theatre_t **theatres;
    /* types: appended only, into room for STAGE_TYPES_MAX made with the
    ** node. Before start, by the starting thread; while running
    ** (stage__type_add_live), under types_lock; each published by a
    ** release store of ntypes: readers load it with acquire and need no
    ** lock (stage__type_find) */
    stage__type_t **types;
    atomic_int ntypes;
    int captypes;
    pthread_mutex_t types_lock;
    alignas(64) atomic_int work;
    /* steal.c: how many theatres are hungry (idle, asking for work) */
    alignas(64) atomic_int nhungry;
    alignas(64) atomic_int stopping;
    atomic_bool draining;     /* a drain: moves to this node are refused */
    atomic_int stopped;       /* futex word for stage_node_wait */
    atomic_int watchdog_quit; /* futex word: the theatres are joined */
    int exit_code;
    _Atomic double stop_deadline; /* stage__node_stop_deadline */
    int started, joined, has_watchdog;
    int abandoned;        /* a theatre did not stop: the node cannot be freed */
    int output_abandoned; /* ... and it is theatre 0, the stdout actor's */
    stage_node_t *next_abandoned;
    pthread_t watchdog;
    /* the kinds of actor registered (kind.h), each with its node data;
    ** fixed once the node starts, so a signal handler may read them */
    struct {
        const stage__kind_t *kind;
        void *data;
    } kinds[STAGE_KINDS_MAX];
    int nkinds;
    bool kind_preempts; /* one of them has a preempt hook */
    stage__net_hooks_t net_hooks;
    void *net;
    stage__type_t *stdout_type;
    uint64_t stdout_serial;
    struct stage__environ *environ; /* Stdin and Files (environ.c) */
    stage__shared_stripe_t shared[SHARED_STRIPES];
    pthread_mutex_t names_lock; /* directory.c */
    void *names;
    atomic_size_t nnames; /* written under names_lock */
    /* joining a system (node.c): RING_* bits, a futex word; the futures of
    ** stage_node_joined_future that wait for it, under ring_lock, and why
    ** the join failed (written under it before RING_FAILED is set) */
    atomic_int ring;
    pthread_mutex_t ring_lock;
    int join_status;
    char join_error[512];
    stage__future_t **ring_waiters;
    size_t nring_waiters;
    /* pipeline.c: sends from outside the actors deferred on theatre 0 (its
    ** thread only), and how many are handed to it or wait there */
    stage__deferred_t *outside_deferred;
    alignas(64) atomic_int outside_sends;
    /* image.c: the futures of calls whose messages travel in an image,
    ** by token, under replies_lock */
    pthread_mutex_t replies_lock;
    stage_u64map_t replies;
    uint64_t replies_next;
};

enum { RING_JOINED = 1, RING_STOPPED = 2, RING_FAILED = 4 };

void stage__names_free(stage_node_t *node);

stage__theatre_t *stage__theatre_new(stage_node_t *node, int index);
int stage__theatre_start(stage__theatre_t *t);
/* Join t's thread by deadline (stage__now() seconds): 0, or
** STAGE_ETIMEOUT if it still runs. */
int stage__theatre_join(stage__theatre_t *t, double deadline);
/* Teardown of a stopped node's theatres (theatre.c): clear each, drain the
** inboxes until every one is quiet, close each, drain again, free each. */
void stage__theatre_clear(stage__theatre_t *t);
int stage__theatre_drain(stage__theatre_t *t);
void stage__theatre_close(stage__theatre_t *t);
void stage__theatre_free(stage__theatre_t *t);
/* Print what the stdout actor of t (theatre 0) still holds, leaving all
** else (a theatre never joined may still use it). */
void stage__theatre_flush_output(stage__theatre_t *t);

void stage__shared_init(stage_node_t *node);
void stage__shared_free(stage_node_t *node);

void stage__futex_wait(atomic_int *addr, int val, double secs);
void stage__futex_wake(atomic_int *addr);

/* Register the environment actor type for standard output and spawn its
** one actor on theatre 0 (see native.c). */
int stage__stdout_register(stage_node_t *node);
/* The Stdin actor and, with cfg.files_dir, the Files actor, on theatre 0
** (environ.c): 0, STAGE_EIO (files_dir cannot be opened) or
** STAGE_ENOMEM. Before the node starts. */
int stage__environ_new(stage_node_t *node);
/* Stop the environment thread (it answers the file calls queued) and free
** what environ_new made. After the theatres have stopped, before they are
** freed. */
void stage__environ_close(stage_node_t *node);
/* Set the exit status used at quiescence (unless stopping already). */
void stage__node_set_exit_code(stage_node_t *node, int code);

#endif
