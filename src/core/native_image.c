/*
** core/native_image.c: how C actors travel in an image (core/image.h):
** their state through their type's encode and decode callbacks, and their
** departing and arrived handlers (stage_type_def_t, docs/c-api.md
** "Moving actors"). The kind hooks of stage__native_kind (native.c).
** Theatre thread only.
*/
#include <stdio.h>
#include <string.h>

#include "core/actor.h"
#include "core/kind.h"
#include "core/theatre.h"
#include "native.h"

int stage__native_state_export(stage__theatre_t *t, stage__actor_t *a,
                               stage_pack_t *out, char *err, size_t errlen) {
    (void)t;
    const stage_type_def_t *def = a->type->native;
    if (!(a->flags & ACTOR_BORN)) { /* its birth is still queued */
        stage_pack_nil(out);
        return 0;
    }
    size_t base = out->len;
    int rc = def->encode(a->data, out);
    if (!rc && stage_pack_error(out)) rc = stage_pack_error(out);
    if (!rc && stage_pack_validate(out->data + base, out->len - base, 1)) {
        snprintf(err, errlen,
                 "type '%s': its encode callback returned 0 but %s: it must "
                 "write one msgpack value: the actor cannot move",
                 def->name,
                 out->len == base ? "wrote nothing"
                                  : "wrote bytes that are not exactly one "
                                    "msgpack value");
        out->len = base;
        return STAGE_EENCODE;
    }
    if (!rc) return 0;
    out->len = base;
    snprintf(err, errlen,
             "type '%s': its encode callback failed (%s): the actor cannot "
             "move",
             def->name, stage_strerror(rc));
    return STAGE_EENCODE;
}

int stage__native_state_import(stage__theatre_t *t, stage__actor_t *a,
                               const char *data, size_t len, char *err,
                               size_t errlen) {
    (void)t;
    const stage_type_def_t *def = a->type->native;
    if (stage_pack_validate(data, len, 1)) {
        snprintf(err, errlen,
                 "malformed actor image: the state of type '%s' is not "
                 "one msgpack value",
                 def->name);
        return STAGE_EDECODE;
    }
    int rc = def->decode(a->data, data, len);
    if (!rc) return 0;
    if (a->type->data_size) memset(a->data, 0, a->type->data_size);
    snprintf(err, errlen,
             "type '%s': its decode callback refused the state (%s): the "
             "actor did not arrive",
             def->name, stage_strerror(rc));
    return rc == STAGE_ENOMEM ? rc : STAGE_EDECODE;
}

int stage__native_departing(stage__theatre_t *t, stage__actor_t *a, char *err,
                            size_t errlen) {
    const stage_type_def_t *def = a->type->native;
    if (!def->departing || !(a->flags & ACTOR_BORN)) return 0;
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    stage__turn_begin(t, a);
    int rc = def->departing(&ctx, a->data);
    stage__turn_end(t);
    if (!rc) return 0;
    snprintf(err, errlen, "type '%s': departing refused the move: %s",
             def->name, stage_strerror(rc));
    return STAGE_EHANDLER;
}

int stage__native_arrived(stage__theatre_t *t, stage__actor_t *a, char *err,
                          size_t errlen) {
    (void)err;
    (void)errlen;
    const stage_type_def_t *def = a->type->native;
    if (!def->arrived || !(a->flags & ACTOR_BORN)) return 0;
    stage_ctx_t ctx;
    stage__ctx_init(&ctx, t, a);
    stage__turn_begin(t, a);
    def->arrived(&ctx, a->data);
    stage__turn_end(t);
    return 0;
}
