/*
** stage/id.h: actor ids, the value you need to send a message.
** An id names the node (address + incarnation), the theatre, the actor's type
** and a serial unique within the node incarnation. Text form:
**
**     127.0.0.1:7400~2a/0/Area/17
**     ^node address  ^incarnation (hex) ^theatre ^type ^serial
**
** Plain values: copy them freely, compare with stage_id_equal.
*/
#ifndef STAGE_ID_H
#define STAGE_ID_H

#include "stage/common.h"

#include <stddef.h>
#include <stdint.h>

STAGE_BEGIN_DECLS

#define STAGE_ADDR_MAX 64     /* node address, with its NUL */
#define STAGE_TYPE_MAX 64     /* type name, with its NUL */
#define STAGE_ID_TEXT_MAX 200 /* text form, with its NUL */

typedef struct stage_id {
    char node[STAGE_ADDR_MAX]; /* "host:port"; "local" for an embedded node */
    uint32_t incarnation;      /* differs each time a node starts */
    uint16_t theatre;          /* theatre the actor was born in */
    uint64_t serial;           /* unique within the node incarnation */
    char type[STAGE_TYPE_MAX]; /* actor type name */
} stage_id_t;

/* Write the text form of id into buf (NUL-terminated). Returns its length,
** or STAGE_ETOOBIG if it does not fit in len bytes. Any thread. */
STAGE_EXTERN int stage_id_format(const stage_id_t *id, char *buf, size_t len);

/* Parse the text form in text[0..len) into *id. 0, or STAGE_EINVAL for text
** that is not an id (nothing is written to *id then). Any thread. */
STAGE_EXTERN int stage_id_parse(stage_id_t *id, const char *text, size_t len);

/* 1 if a and b name the same actor, else 0. */
STAGE_EXTERN int stage_id_equal(const stage_id_t *a, const stage_id_t *b);

/* 1 if name is a valid type name: 1..63 bytes of [A-Za-z0-9_.-], not
** starting with a digit. Any thread. */
STAGE_EXTERN int stage_type_name_valid(const char *name);

STAGE_END_DECLS

#endif
