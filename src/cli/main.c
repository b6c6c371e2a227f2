/*
** cli/main.c: the `stage` command.
**
**   stage run [options] FILE.lua [args...]   one embedded node, all cores
**   stage --help | --version
**
** Exit status: the script's (0, or stage.exit(code)); 1 with a
** "file:line: message" on stderr for a script that fails; 2 for bad usage.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define _GNU_SOURCE

#include "cli.h"
#include "net/addr.h"
#include "stage/net.h"
#include "stage/stage.h"

static const char usage[] = "usage: stage <command> [options] [args]\n"
                            "\n"
                            "commands:\n"
                            "  run FILE.lua [args...]   run main(args) of a "
                            "script on an embedded node\n"
                            "  node [SCRIPT.lua]        start a node that "
                            "joins a system (stage node --help)\n"
                            "  sim [options]            simulate a DHT of many "
                            "nodes (stage sim --help)\n"
                            "\n"
                            "options:\n"
                            "  -h, --help               show this help (or a "
                            "command's: stage run --help)\n"
                            "  -V, --version            show the version\n";

static const char run_usage[] =
    "usage: stage run [options] FILE.lua [args...]\n"
    "\n"
    "Runs the script on an embedded node: its top level defines actor types "
    "in\n"
    "every theatre, then main(args) runs. The node exits when no actor has\n"
    "anything left to do and no timer is pending, or at stage.exit(code).\n"
    "\n"
    "options:\n"
    "  -t, --theatres N     theatre threads (default: one per core)\n"
    "      --slice SECS     preempt a handler after SECS (default 0.01)\n"
    "      --budget SECS    fail a handler that runs past SECS (default 10)\n"
    "      --timeout SECS   default await timeout (default: none)\n"
    "  -h, --help           show this help\n";

static const char node_usage[] =
    "usage: stage node [options] [SCRIPT.lua [args...]]\n"
    "\n"
    "Starts a node that joins a system through any member (or starts one),\n"
    "prints its address and manager id, runs SCRIPT's main(args) once it has\n"
    "joined, and runs until SIGTERM, SIGINT or stage.exit(code).\n"
    "\n"
    "options:\n"
    "  -l, --listen ADDR    listen at host:port (default 127.0.0.1:0: "
    "loopback,\n"
    "                       any free port)\n"
    "  -j, --join ADDR      join the system that the node at ADDR belongs to\n"
    "  -t, --theatres N     theatre threads (default: one per core)\n"
    "  -r, --replicas R     DHT replication factor (default 3)\n"
    "      --lease SECS     names and types of a dead node expire after\n"
    "                       SECS (default 30)\n"
    "      --period SECS    ring maintenance period (default 1)\n"
    "      --budget SECS    fail a handler that runs past SECS (default 10)\n"
    "      --timeout SECS   default await timeout (default: none)\n"
    "  -h, --help           show this help\n";

/* Parse a positive number option value or exit 2. */
static double number_arg(const char *opt, const char *v, double min) {
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || *end || !(d >= min)) {
        fprintf(stderr, "stage: option '%s' needs a number >= %g, got '%s'\n",
                opt, min, v ? v : "");
        exit(2);
    }
    return d;
}

/* Load script (if any) and queue its main(args). 0, or the exit status. */
static int prepare_script(stage_node_t *node, int argc, char **argv, int i) {
    if (i >= argc) return 0;
    char err[1024];
    if (stage_node_load_script(node, argv[i], err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (stage_node_run_main(node, argc - i - 1,
                            (const char *const *)argv + i + 1))
        return 1;
    return 0;
}

static int cmd_node(int argc, char **argv) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.handle_signals = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(node_usage, stdout);
            return 0;
        } else if ((!strcmp(o, "-l") || !strcmp(o, "--listen")) && v) {
            net.listen = v, i++;
        } else if ((!strcmp(o, "-j") || !strcmp(o, "--join")) && v) {
            net.join = v, i++;
        } else if (!strcmp(o, "-t") || !strcmp(o, "--theatres")) {
            cfg.theatres = (int)number_arg(o, v, 1), i++;
        } else if (!strcmp(o, "-r") || !strcmp(o, "--replicas")) {
            net.replicas = (int)number_arg(o, v, 1), i++;
        } else if (!strcmp(o, "--lease")) {
            net.lease_secs = number_arg(o, v, 0.1), i++;
        } else if (!strcmp(o, "--period")) {
            net.period_secs = number_arg(o, v, 0.01), i++;
        } else if (!strcmp(o, "--budget")) {
            cfg.budget_secs = number_arg(o, v, 0.001), i++;
        } else if (!strcmp(o, "--timeout")) {
            cfg.call_timeout = number_arg(o, v, 0), i++;
        } else {
            fprintf(stderr,
                    "stage node: unknown option or missing value "
                    "'%s'\n%s",
                    o, node_usage);
            return 2;
        }
    }
    struct sockaddr_storage ss;
    const char *bad = stage__addr_parse(net.listen, &ss) ? net.listen
                      : net.join && stage__addr_parse(net.join, &ss) ? net.join
                                                                      : NULL;
    if (bad) {
        fprintf(stderr,
                "stage node: '%s' is not an address: give HOST:PORT, HOST an "
                "IPv4 or [IPv6] literal or localhost\n%s",
                bad, node_usage);
        return 2;
    }
    stage_node_t *node;
    int rc = stage_node_new(&node, &cfg);
    if (rc) {
        fprintf(stderr, "stage node: cannot create a node: %s\n",
                stage_strerror(rc));
        return 1;
    }
    char err[512];
    if ((rc = stage_node_network(node, &net, err, sizeof err))) {
        fprintf(stderr, "stage node: %s\n", err);
        stage_node_destroy(&node);
        return 1;
    }
    printf("node %s manager %016llx\n", stage_node_address(node),
           (unsigned long long)stage_node_manager_id(node));
    fflush(stdout);
    /* main(args) runs once the node is a member (or after 10 s, with a
    ** warning: lookups may then fail until the join completes) */
    if (stage_node_wait_joined(node, 10) == STAGE_ETIMEOUT)
        fprintf(stderr, "stage node: not joined '%s' after 10 s; going on\n",
                net.join);
    int status = prepare_script(node, argc, argv, i);
    if (!status) status = stage_node_run(node);
    stage_node_destroy(&node);
    return status;
}

static int cmd_run(int argc, char **argv) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(run_usage, stdout);
            return 0;
        } else if (!strcmp(o, "-t") || !strcmp(o, "--theatres")) {
            cfg.theatres = (int)number_arg(o, v, 1), i++;
        } else if (!strcmp(o, "--slice")) {
            cfg.slice_secs = number_arg(o, v, 0.001), i++;
        } else if (!strcmp(o, "--budget")) {
            cfg.budget_secs = number_arg(o, v, 0.001), i++;
        } else if (!strcmp(o, "--timeout")) {
            cfg.call_timeout = number_arg(o, v, 0), i++;
        } else if (!strcmp(o, "--")) {
            i++;
            break;
        } else {
            fprintf(stderr, "stage run: unknown option '%s'\n%s", o, run_usage);
            return 2;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "stage run: no script given\n%s", run_usage);
        return 2;
    }
    const char *script = argv[i];
    stage_node_t *node;
    int rc = stage_node_new(&node, &cfg);
    if (rc) {
        fprintf(stderr, "stage run: cannot create a node: %s\n",
                stage_strerror(rc));
        return 1;
    }
    char err[1024];
    if ((rc = stage_node_load_script(node, script, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        stage_node_destroy(&node);
        return 1;
    }
    if ((rc = stage_node_run_main(node, argc - i - 1,
                                  (const char *const *)argv + i + 1))) {
        stage_node_destroy(&node);
        return 1;
    }
    int status = stage_node_run(node);
    stage_node_destroy(&node);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("stage %s\n", STAGE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "node")) return cmd_node(argc - 1, argv + 1);
    if (!strcmp(cmd, "sim")) return stage__cli_sim(argc - 1, argv + 1);
    fprintf(stderr, "stage: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
