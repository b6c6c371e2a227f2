/*
** tests/integration/net_peer.c: a helper node for transport tests run as a
** separate process. It listens on ADDR (default 127.0.0.1:0), prints
** "ADDRESS INCARNATION" on one line of stdout once listening, and sends
** every frame it receives back to its sender. It runs until killed.
**
**   net_peer [ADDR]
*/
#include <stdio.h>

#include "net/transport.h"

static stage__transport_t *t;

static void echo(void *ud, const char *peer, int kind, const char *body,
                 size_t len) {
    (void)ud;
    stage__transport_send(t, peer, kind, body, len);
}

int main(int argc, char **argv) {
    uv_loop_t *loop = uv_default_loop();
    stage__transport_cbs_t cbs = {NULL, echo, NULL, NULL, NULL, NULL};
    char bound[64];
    if (stage__transport_new(loop, NULL, &cbs, &t) ||
        stage__transport_listen(t, argc > 1 ? argv[1] : "127.0.0.1:0", bound,
                                sizeof bound)) {
        fprintf(stderr, "net_peer: cannot listen\n");
        return 1;
    }
    printf("%s %u\n", bound, stage__transport_incarnation(t));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
