/*
** core/native_directory.c: names and lookups in the C API — stage_name,
** stage_find_name, stage_find_type, stage_find_subtype,
** stage_find_all_types, stage_hosts, from a handler or turn (ctx) and from
** outside (stage_node_*).
**
** Each makes a future and hands it to core's directory (directory.c),
** which answers from the node itself or, on a networked node, through the
** network hooks: the same path Lua's stage.name and find_* take. Any
** thread for the stage_node_* calls; the others in a handler or turn.
*/
#include "core/directory.h"
#include "core/future.h"
#include "native.h"

/* Ask the directory op for key (a claim for id) with a future owned by
** theatre owner; *fut gets it, or with fut NULL (claims only) a failure is
** logged when the future goes. */
static int ask(stage_node_t *node, int owner, int op, const char *key,
               const stage_id_t *id, stage_future_t **fut) {
    if (fut) *fut = NULL;
    if ((!fut && op != STAGE__NAME_CLAIM) || (op == STAGE__NAME_CLAIM && !id))
        return STAGE_EINVAL;
    int rc = stage__dir_key_check(op, key);
    if (rc) return rc;
    stage__future_t *f = stage__future_new(node, owner, 0);
    if (!f) return STAGE_ENOMEM;
    stage__directory(node, op, key, id, f); /* borrows f */
    if (fut)
        *fut = (stage_future_t *)f;
    else
        stage__future_unref(f);
    return 0;
}

static int ask_ctx(stage_ctx_t *ctx, int op, const char *key,
                   stage_future_t **fut) {
    return ask(ctx->t->node, ctx->t->index, op, key, NULL, fut);
}

int stage_name(stage_ctx_t *ctx, const char *name, const stage_id_t *id,
               stage_future_t **fut) {
    return ask(ctx->t->node, ctx->t->index, STAGE__NAME_CLAIM, name,
               id ? id : stage_self(ctx), fut);
}

int stage_node_name(stage_node_t *node, const char *name, const stage_id_t *id,
                    stage_future_t **fut) {
    return ask(node, 0, STAGE__NAME_CLAIM, name, id, fut);
}

int stage_find_name(stage_ctx_t *ctx, const char *name, stage_future_t **fut) {
    return ask_ctx(ctx, STAGE__FIND_NAME, name, fut);
}

int stage_node_find_name(stage_node_t *node, const char *name,
                         stage_future_t **fut) {
    return ask(node, 0, STAGE__FIND_NAME, name, NULL, fut);
}

int stage_find_type(stage_ctx_t *ctx, const char *type, stage_future_t **fut) {
    return ask_ctx(ctx, STAGE__FIND_TYPE, type, fut);
}

int stage_node_find_type(stage_node_t *node, const char *type,
                         stage_future_t **fut) {
    return ask(node, 0, STAGE__FIND_TYPE, type, NULL, fut);
}

int stage_find_subtype(stage_ctx_t *ctx, const char *type,
                       stage_future_t **fut) {
    return ask_ctx(ctx, STAGE__FIND_SUBTYPE, type, fut);
}

int stage_node_find_subtype(stage_node_t *node, const char *type,
                            stage_future_t **fut) {
    return ask(node, 0, STAGE__FIND_SUBTYPE, type, NULL, fut);
}

int stage_find_all_types(stage_ctx_t *ctx, const char *type,
                         stage_future_t **fut) {
    return ask_ctx(ctx, STAGE__FIND_ALL, type, fut);
}

int stage_node_find_all_types(stage_node_t *node, const char *type,
                              stage_future_t **fut) {
    return ask(node, 0, STAGE__FIND_ALL, type, NULL, fut);
}

int stage_hosts(stage_ctx_t *ctx, stage_future_t **fut) {
    return ask_ctx(ctx, STAGE__HOSTS, "", fut);
}

int stage_node_hosts(stage_node_t *node, stage_future_t **fut) {
    return ask(node, 0, STAGE__HOSTS, "", NULL, fut);
}
