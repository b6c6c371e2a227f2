/*
** core/directory.h: the local directory — the actors of each type on
** this node, the names claimed on an embedded node — and the lookups
** scripts make (through the network hooks on a networked node).
*/
#ifndef STAGE_CORE_DIRECTORY_H
#define STAGE_CORE_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage/pack.h"
#include "stage/stage.h"

typedef struct stage__actor stage__actor_t;
typedef struct stage__type stage__type_t;
typedef struct stage__future stage__future_t;

enum {
    STAGE__NAME_CLAIM = 1, /* f gets true, or AlreadyExists */
    STAGE__FIND_NAME,      /* f gets the id named key, or NameNotFound */
    STAGE__FIND_TYPE,      /* f gets a random actor id of type key */
    STAGE__FIND_SUBTYPE,   /* ... of type key or one of its subtypes */
    STAGE__FIND_ALL,       /* f gets an array of every id of type key */
    STAGE__REFIND_NAME,    /* FIND_NAME past any cached answer: a call
                           ** through the name to id failed (retry.c) */
    STAGE__HOSTS           /* f gets an array of host entries (below):
                           ** this node's, then those of the nodes it has
                           ** sessions with, from the DHT (key "") */
};

/* Append one host entry to p: a map {address, theatres, load, actors,
** takes_movers} (stage.hosts(), docs/lua-api.md). */
void stage__host_pack(stage_pack_t *p, const char *address, int theatres,
                      double load, bool takes_movers, uint32_t actors);

/* Look key up (or claim it for id) and complete f, which it borrows (the
** network path takes a reference of its own). A claim for an actor of this
** node is made on the actor's theatre, behind its spawn, and fails with
** ActorNotFound if the actor is not alive there. A FIND_NAME gives f the
** name (f->byname), which the references made from f keep for a retry.
** Any thread. */
void stage__directory(stage_node_t *node, int op, const char *key,
                      const stage_id_t *id, stage__future_t *f);
/* 0 if key can be asked with op: a name is 1 to 255 bytes; a type name is
** valid (stage_type_name_valid), else no type can have it. STAGE_EINVAL
** otherwise (and for NULL). */
int stage__dir_key_check(int op, const char *key);
int stage__dir_add(stage__type_t *ty, stage__actor_t *a);
void stage__dir_remove(stage__type_t *ty, stage__actor_t *a);
/* 1 if the actor serial of type ty is alive on this node (a scan of the
** type's list: for rare requests). Any thread. */
int stage__dir_alive(stage__type_t *ty, uint64_t serial);
/* Actors of type ty alive on this node now. Any thread. */
size_t stage__dir_count(stage__type_t *ty);
/* If no actor of ty is alive here, clear ty->announced (the next birth
** announces the type again) and return 1; else 0. Any thread. */
int stage__dir_retire(stage__type_t *ty);
int stage__dir_random(stage_node_t *node, stage__type_t *ty, uint64_t seed,
                      stage_id_t *out);
size_t stage__dir_all(stage_node_t *node, stage__type_t *ty, stage_pack_t *p);
/* Claim name for id on an embedded node: 0, STAGE_EEXISTS (*holder has
** it), STAGE_EACTOR_NOT_FOUND (id is an actor of this node that is not
** alive), STAGE_ENOMEM. Any thread. */
int stage__names_claim(stage_node_t *n, const char *name, const stage_id_t *id,
                       stage_id_t *holder);
int stage__names_find(stage_node_t *n, const char *name, stage_id_t *out);
void stage__names_drop_actor(stage_node_t *n, uint64_t serial);
/* Write the names actor serial of this node holds here, a msgpack array
** of strings, to p (an image, core/image.h). Any thread. */
void stage__names_pack(stage_node_t *n, uint64_t serial, stage_pack_t *p);

#endif
