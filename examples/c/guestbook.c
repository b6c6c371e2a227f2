/*
** examples/c/guestbook.c: a C program in a Stage system — it starts a
** node, joins a system, names a C actor and calls a Lua actor by name.
**
** The system is any set of `stage node` processes, one of them running
** examples/c/greeter.lua: its Lua actor named "greeter" greets people and
** signs them into "guestbook", which it finds by name — the C actor this
** program names. From the program's main thread:
**   1. a node with the C actor type Guestbook joins the system at
**      ADDRESS (any member's); stage_node_wait_joined waits for it;
**   2. it spawns a Guestbook and names it "guestbook";
**   3. it finds "greeter" by name and calls greet(who) twice: each time
**      the Lua actor calls back into the C actor by its name;
**   4. it asks the guestbook how many have signed, then leaves.
** Usage: guestbook ADDRESS    (e.g. after stage node examples/c/greeter.lua)
** Threads: main() on the program's thread; the handlers on theatre threads.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stage/net.h"
#include "stage/stage.h"

#define WAIT_SECS 10 /* an answer not there by then is an error */

typedef struct guestbook {
    int64_t signed_in;
} guestbook_t;

/* Replies to msg with one integer. */
static void reply_int(stage_ctx_t *ctx, const stage_msg_t *msg, int64_t v) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_int(&p, v);
    if (stage_pack_error(&p))
        stage_reply_error(ctx, msg, STAGE_ENOMEM, "cannot encode the reply");
    else
        stage_reply(ctx, msg, p.data, p.len);
    stage_pack_free(&p);
}

/* sign(who): one more guest; answers their number. */
static void guestbook_sign(stage_ctx_t *ctx, void *state,
                           const stage_msg_t *msg) {
    guestbook_t *g = state;
    stage_unpack_t u;
    uint32_t argc;
    const char *who;
    size_t len;
    if (stage_msg_unpack(msg, &u, &argc) || argc != 1 ||
        stage_unpack_str(&u, &who, &len)) {
        stage_reply_error(ctx, msg, STAGE_EINVAL, "sign needs a name");
        return;
    }
    reply_int(ctx, msg, ++g->signed_in);
}

/* count(): how many have signed. */
static void guestbook_count(stage_ctx_t *ctx, void *state,
                            const stage_msg_t *msg) {
    reply_int(ctx, msg, ((guestbook_t *)state)->signed_in);
}

static const stage_method_t guestbook_methods[] = {
    {"sign", guestbook_sign}, {"count", guestbook_count}, {NULL, NULL}};

static const stage_type_def_t guestbook_type = {
    .name = "Guestbook",
    .kind = STAGE_KIND_PINNED,
    .state_size = sizeof(guestbook_t),
    .methods = guestbook_methods,
};

/* Waits for f: 0 and its result in *res (valid until f is released), or
** the failure, printed with what was being done. */
static int wait_for(stage_future_t *f, const char *what, stage_result_t *res) {
    memset(res, 0, sizeof *res);
    int rc = stage_future_wait(f, WAIT_SECS, res);
    if (rc == 0) rc = res->status;
    if (rc)
        fprintf(stderr, "guestbook: %s: %s\n", what,
                res->message ? res->message : stage_strerror(rc));
    return rc;
}

/* Calls greeter:greet(who) and prints the answer. */
static int greet(stage_node_t *node, const stage_id_t *greeter,
                 const char *who) {
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 1);
    stage_pack_cstr(&p, who);
    stage_future_t *f = NULL;
    stage_result_t res;
    int rc = stage_pack_error(&p);
    if (!rc) rc = stage_node_send(node, greeter, "greet", p.data, p.len, &f);
    stage_pack_free(&p);
    if (!rc) rc = wait_for(f, "greet", &res);
    if (!rc) {
        stage_unpack_t u;
        const char *s;
        size_t n;
        stage_unpack_init(&u, res.data, res.len);
        if (stage_unpack_str(&u, &s, &n) == 0)
            printf("C: the Lua greeter answered \"%.*s\"\n", (int)n, s);
        else
            rc = STAGE_EDECODE;
    }
    stage_future_release(&f);
    return rc;
}

/* Steps 2 to 4, on a started node that has joined. */
static int visit(stage_node_t *node) {
    stage_id_t book, greeter;
    stage_future_t *f = NULL;
    stage_result_t res;

    /* 2. a C actor, named */
    int rc = stage_node_spawn(node, "Guestbook", -1, NULL, 0, &book);
    if (!rc) rc = stage_node_name(node, "guestbook", &book, &f);
    if (!rc) rc = wait_for(f, "naming the guestbook", &res);
    stage_future_release(&f);
    if (rc) return rc;
    printf("C: named the guestbook\n");

    /* 3. a Lua actor, found by name and called */
    rc = stage_node_find_name(node, "greeter", &f);
    if (!rc) rc = wait_for(f, "finding 'greeter'", &res);
    if (!rc) rc = stage_result_id(&res, &greeter);
    stage_future_release(&f);
    if (!rc) rc = greet(node, &greeter, "Ada");
    if (!rc) rc = greet(node, &greeter, "Grace");
    if (rc) return rc;

    /* 4. what the guestbook says */
    rc = stage_node_send(node, &book, "count", NULL, 0, &f);
    if (!rc) rc = wait_for(f, "count", &res);
    int64_t n = 0;
    stage_unpack_t u;
    if (!rc) {
        stage_unpack_init(&u, res.data, res.len);
        rc = stage_unpack_int(&u, &n) ? STAGE_EDECODE : 0;
    }
    stage_future_release(&f);
    if (!rc) printf("C: the guestbook has %" PRId64 " guests\n", n);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: guestbook ADDRESS (of a member of a system "
                        "running examples/c/greeter.lua)\n");
        return 2;
    }
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 2;
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.join = argv[1];
    stage_node_t *node = NULL;
    char err[256];
    int rc = stage_node_new(&node, &cfg);
    if (!rc) rc = stage_type_register(node, &guestbook_type);
    if (rc) {
        fprintf(stderr, "guestbook: cannot create a node: %s\n",
                stage_strerror(rc));
        stage_node_destroy(&node);
        return 1;
    }
    if ((rc = stage_node_network(node, &net, err, sizeof err))) {
        fprintf(stderr, "guestbook: %s\n", err);
        stage_node_destroy(&node);
        return 1;
    }
    if ((rc = stage_node_wait_joined(node, WAIT_SECS))) {
        fprintf(stderr, "guestbook: cannot join the system at '%s': %s\n",
                argv[1], stage_strerror(rc));
        stage_node_destroy(&node);
        return 1;
    }
    printf("C: joined the system\n");
    rc = stage_node_start(node);
    if (!rc) rc = visit(node);
    stage_node_stop(node, 0); /* a node on a network runs until stopped */
    stage_node_wait(node);
    stage_node_destroy(&node); /* leaves the system */
    printf("C: left the system\n");
    return rc ? 1 : 0;
}
