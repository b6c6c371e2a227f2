/*
** net/join.c: joining a system through a member's address, with a bound.
** The DHT (lookup.c) asks the member at the join address to take the
** manager in, again each period while no answer comes; this file watches
** it: while the node is not in a ring it says on stderr, now and then, how
** long it has tried and what failed (the transport's last connection
** failure to that address, or a connection up but no ring yet), and once
** the join timeout has passed it gives up for good: the manager stops
** trying (it leaves the ring it was alone on) and the node's join fails
** with NodeUnreachable and the reason (stage_node_wait_joined, the futures
** of stage_node_joined_future; stage node exits with it). A node that
** cannot join never goes on as a system of its own. A timeout < 0 retries
** for ever, still saying so.
** States: WATCHING -> JOINED [nn->joined] | FAILED [deadline passed].
** Runs on the loop's owner (netnode.h).
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "netnode.h"
#include "util/log.h"

#define JOIN_TICK_MS 250       /* how often the watch looks */
#define JOIN_DEFAULT_SECS 30.0 /* the bound when the config gives none */
#define REPORT_FIRST_MS 5000   /* progress lines: every 5 s at first, */
#define REPORT_LATER_MS 30000  /* then every 30 s after the first 30 s */

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

/* What stands in the way, in words, into out. */
static void describe(stage__netnode_t *nn, char *out, size_t len) {
    char why[96];
    uint64_t n =
        stage__transport_peer_failures(nn->tr, nn->join_addr, why, sizeof why);
    if (!strcmp(nn->join_addr, nn->address))
        snprintf(out, len, "it is this node's own address");
    else if (stage__transport_peer_is_up(nn->tr, nn->join_addr))
        snprintf(out, len,
                 "connected, but its ring has not taken this node in yet");
    else if (n)
        snprintf(out, len, "%llu connection attempt%s failed, the last: %s",
                 (unsigned long long)n, n == 1 ? "" : "s", why);
    else
        snprintf(out, len, "no connection yet");
}

/* Say how the join goes, elapsed ms after it began. */
static void report(stage__netnode_t *nn, uint64_t elapsed) {
    char what[200], until[64];
    describe(nn, what, sizeof what);
    if (nn->join_timeout_ms)
        snprintf(until, sizeof until, "until %g s (--join-timeout)",
                 (double)nn->join_timeout_ms / 1000);
    else
        snprintf(until, sizeof until, "for ever (--join-retry forever)");
    LOG_WARN("joining through '%s': not joined after %.0f s: %s; trying %s",
             nn->join_addr, (double)elapsed / 1000, what, until);
    nn->join_reported = true;
}

/* The bound has passed: stop the manager's tries and fail the join. */
static void give_up(stage__netnode_t *nn, uint64_t elapsed) {
    char what[200], msg[STAGE_ADDR_MAX + 300];
    describe(nn, what, sizeof what);
    snprintf(msg, sizeof msg,
             "cannot join the system at '%s': not joined within %g s: %s",
             nn->join_addr, (double)nn->join_timeout_ms / 1000, what);
    LOG_WARN("gave up joining through '%s' after %.1f s", nn->join_addr,
             (double)elapsed / 1000);
    nn->join_failed = true;
    uv_timer_stop(&nn->join_timer);
    if (stage_dht_leave(nn->dht, now_ms(nn)) == 0) stage__lookup_drain(nn);
    stage__node_set_join_failed(nn->node, STAGE_EUNREACHABLE, msg);
}

void stage__join_done(stage__netnode_t *nn) {
    if (!nn->join_addr[0] || !uv_is_active((uv_handle_t *)&nn->join_timer))
        return;
    uv_timer_stop(&nn->join_timer);
    if (nn->join_reported) /* it said it was not: say it is now */
        LOG_INFO("joined the system through '%s' after %.1f s", nn->join_addr,
                 (double)(now_ms(nn) - nn->join_start) / 1000);
}

static void on_join_tick(uv_timer_t *t) {
    stage__netnode_t *nn = t->data;
    uint64_t elapsed = now_ms(nn) - nn->join_start;
    if (atomic_load(&nn->joined)) {
        stage__join_done(nn);
        return;
    }
    if (nn->join_timeout_ms && elapsed >= nn->join_timeout_ms) {
        give_up(nn, elapsed);
        return;
    }
    if (elapsed >= nn->join_next_report) {
        report(nn, elapsed);
        nn->join_next_report +=
            elapsed < REPORT_LATER_MS ? REPORT_FIRST_MS : REPORT_LATER_MS;
    }
}

void stage__join_start(stage__netnode_t *nn, const stage_net_config_t *cfg) {
    struct sockaddr_storage ss; /* the transport names its peers so */
    if (stage__addr_parse(cfg->join, &ss) ||
        stage__addr_format((struct sockaddr *)&ss, nn->join_addr,
                           sizeof nn->join_addr))
        snprintf(nn->join_addr, sizeof nn->join_addr, "%s", cfg->join);
    double secs = cfg->join_timeout > 0 ? cfg->join_timeout : JOIN_DEFAULT_SECS;
    nn->join_timeout_ms = cfg->join_timeout < 0 ? 0 : (uint64_t)(secs * 1000);
    if (cfg->join_timeout >= 0 && !nn->join_timeout_ms) nn->join_timeout_ms = 1;
    nn->join_start = now_ms(nn);
    nn->join_next_report = REPORT_FIRST_MS;
    uv_timer_init(&nn->loop, &nn->join_timer);
    nn->join_timer.data = nn;
    uv_timer_start(&nn->join_timer, on_join_tick, JOIN_TICK_MS, JOIN_TICK_MS);
    uv_unref((uv_handle_t *)&nn->join_timer);
}
