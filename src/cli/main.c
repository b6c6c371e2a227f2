/*
** cli/main.c: the `stage` command.
**
**   stage run [options] FILE.lua [args...]   one embedded node, all cores
**   stage node [options] [SCRIPT.lua]        a node of a system
**   stage keygen [--force] [--] FILE         a new cluster key
**   stage --help | --version
**
** Exit status: the script's (0, or stage.exit(code)); 1 with a
** "file:line: message" on stderr for a script that fails; 2 for bad usage.
*/
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define _GNU_SOURCE

#include "cli.h"
#include "core/theatre.h"
#include "dht/dht.h"
#include "net/addr.h"
#include "net/keyfile.h"
#include "stage/net.h"
#include "stage/stage.h"
#include "util/log.h"

#ifdef STAGE_WITH_MIMALLOC
#include <mimalloc.h>
#endif

static const char usage[] = "usage: stage <command> [options] [args]\n"
                            "\n"
                            "commands:\n"
                            "  run FILE.lua [args...]   run main(args) of a "
                            "script on an embedded node\n"
                            "  node [SCRIPT.lua]        start a node that "
                            "joins a system (stage node --help)\n"
                            "  sim [options]            simulate a DHT of many "
                            "nodes (stage sim --help)\n"
                            "  keygen [--force] FILE    write a new cluster "
                            "key to FILE (mode 0600)\n"
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
    "  -t, --theatres N     theatre threads, 1 to 256 (default: one per "
    "core)\n"
    "      --slice SECS     preempt a handler after SECS (default 0.01)\n"
    "      --budget SECS    fail a handler that runs past SECS (default 10)\n"
    "      --timeout SECS   default await timeout (default: none)\n"
    "      --max-message BYTES\n"
    "                       the largest message, reply or spawn argument,\n"
    "                       encoded (default 8387584: 8 MiB less 1 KiB)\n"
    "      --memory SIZE    cap each theatre's Lua heap at SIZE bytes (K, M\n"
    "                       or G: KiB, MiB, GiB; 0: no cap; default 1G): an\n"
    "                       actor past it gets MemoryExceeded for its message\n"
    "      --files DIR      grant the actors the file actor (stage.files):\n"
    "                       read, write, append, list under DIR only\n"
    "  -h, --help           show this help\n";

static const char keygen_usage[] =
    "usage: stage keygen [--force] [--] FILE\n"
    "\n"
    "Writes a new random cluster key to FILE (64 hexadecimal digits on one\n"
    "line, mode 0600): give it to every node of a system with --cluster-key\n"
    "FILE. An existing FILE is not replaced unless --force is given.\n"
    "\n"
    "options:\n"
    "      --force          replace FILE if it exists\n"
    "  -h, --help           show this help\n";

static const char node_usage[] =
    "usage: stage node [options] [SCRIPT.lua [args...]]\n"
    "\n"
    "Starts a node that joins a system through any member (or starts one),\n"
    "logs its address and manager id (stderr), runs SCRIPT's main(args) once\n"
    "it has joined, and runs until SIGTERM, SIGINT or stage.exit(code). A\n"
    "join that does not succeed within --join-timeout ends it (status 1).\n"
    "\n"
    "options:\n"
    "  -l, --listen ADDR    listen at host:port (default 127.0.0.1:0: "
    "loopback,\n"
    "                       any free port)\n"
    "  -j, --join ADDR      join the system that the node at ADDR belongs to\n"
    "      --cluster-key FILE\n"
    "                       the system's key (stage keygen FILE makes one):\n"
    "                       only nodes that hold it connect, and traffic is\n"
    "                       encrypted; given twice (rotation), the first\n"
    "                       dials and both are accepted (default:\n"
    "                       $STAGE_CLUSTER_KEY_FILE, else none)\n"
    "      --insecure       without a key, listen on a non-loopback address\n"
    "                       anyway (any host that reaches it is a member)\n"
    "      --join-timeout SECS\n"
    "                       give up joining after SECS, with exit status 1\n"
    "                       (default 30)\n"
    "      --join-retry forever\n"
    "                       retry the join until it works\n"
    "  -t, --theatres N     theatre threads, 1 to 256 (default: one per "
    "core)\n"
    "  -r, --replicas R     DHT replication factor, 1 to 8 (default 3)\n"
    "      --lease SECS     names and types of a dead node expire after\n"
    "                       SECS (default 30)\n"
    "      --period SECS    ring maintenance period (default 1)\n"
    "      --node-timeout SECS\n"
    "                       declare a node dead after SECS without a word\n"
    "                       from it (default 10)\n"
    "      --drain SECS     on SIGTERM, move the actors to other nodes for\n"
    "                       at most SECS first (default 30; 0: no drain)\n"
    "      --budget SECS    fail a handler that runs past SECS (default 10)\n"
    "      --timeout SECS   default await timeout (default: none)\n"
    "      --max-message BYTES\n"
    "                       the largest message, reply or spawn argument,\n"
    "                       encoded (default 8387584: 8 MiB less 1 KiB; the\n"
    "                       same on every node of a system)\n"
    "      --memory SIZE    cap each theatre's Lua heap at SIZE bytes (K, M\n"
    "                       or G: KiB, MiB, GiB; 0: no cap; default 1G): an\n"
    "                       actor past it gets MemoryExceeded for its message\n"
    "      --files DIR      grant the actors the file actor (stage.files):\n"
    "                       read, write, append, list under DIR only\n"
    "  -h, --help           show this help\n";

/* Longest time an option takes, in seconds (11.6 days): longer is a typo,
** and the DHT keeps its periods in 32-bit milliseconds. */
#define SECS_MAX 1e6

/* What a numeric option takes: a number from min to max, whole or not. */
typedef struct range {
    double min, max;
    int whole;
} range_t;

static const range_t theatres_range = {1, STAGE_MAX_THEATRES, 1};
static const range_t replicas_range = {1, STAGE_DHT_REPLICAS_MAX, 1};
static const range_t lease_range = {0.1, SECS_MAX, 0};
static const range_t period_range = {0.01, SECS_MAX, 0};
static const range_t node_timeout_range = {0.1, SECS_MAX, 0};
static const range_t drain_range = {0, SECS_MAX, 0}; /* 0: no drain */
/* a handler's slice and budget, a default timeout: 0 is not "none" */
static const range_t secs_range = {0.001, SECS_MAX, 0};
static const range_t bytes_range = {(double)STAGE_MAX_MESSAGE_MIN,
                                    (double)STAGE_MAX_MESSAGE_MAX, 1};

/* The value v (NULL: none given) of option opt of `stage cmd`, in range r;
** or exit 2 saying what the option takes and what it got. */
static double number_arg(const char *cmd, const char *opt, const char *v,
                         range_t r) {
    char *end = NULL;
    double d = v ? strtod(v, &end) : 0;
    if (v && end != v && !*end && d >= r.min && d <= r.max &&
        (!r.whole || d == (double)(long long)d))
        return d;
    char takes[96];
    snprintf(takes, sizeof takes, "%s from %.15g to %.15g",
             r.whole ? "a whole number" : "a number of seconds", r.min, r.max);
    if (!v)
        fprintf(stderr, "stage %s: option '%s' needs a value: %s\n", cmd, opt,
                takes);
    else
        fprintf(stderr, "stage %s: option '%s' must be %s, not '%s'\n", cmd,
                opt, takes, v);
    exit(2);
}

/* The value v (NULL: none given) of --memory (opt) of `stage cmd`: a
** number of bytes with an optional K, M or G (binary), 0 for no cap, else
** at least STAGE_MEMORY_LIMIT_MIN; or exit 2 saying what it takes. */
static size_t memory_arg(const char *cmd, const char *opt, const char *v) {
    char *end = NULL;
    unsigned long long n = v && *v != '-' ? strtoull(v, &end, 10) : 0;
    int shift = !end || end == v             ? -1
                : !*end                      ? 0
                : end[1]                     ? -1
                : *end == 'K' || *end == 'k' ? 10
                : *end == 'M' || *end == 'm' ? 20
                : *end == 'G' || *end == 'g' ? 30
                                             : -1;
    if (shift >= 0 && n <= (1ULL << 40) >> shift) {
        size_t bytes = (size_t)(n << shift);
        if (bytes == 0 || bytes >= STAGE_MEMORY_LIMIT_MIN) return bytes;
    }
    fprintf(stderr,
            "stage %s: option '%s' %s a size in bytes, with K, M or G for "
            "KiB, MiB, GiB, from %zuM to 1024G (0: no cap)%s%s%s\n",
            cmd, opt, v ? "must be" : "needs", STAGE_MEMORY_LIMIT_MIN >> 20,
            v ? ", not '" : "", v ? v : "", v ? "'" : "");
    exit(2);
}

/* The value v (NULL: none) of --files (opt) of `stage cmd`: a directory
** that can be opened, or exit (2 without a value, 1 if it cannot be
** used) saying why. */
static const char *files_arg(const char *cmd, const char *opt, const char *v) {
    struct stat st;
    if (!v) {
        fprintf(stderr, "stage %s: option '%s' needs a value: DIR\n", cmd, opt);
        exit(2);
    }
    const char *why = stat(v, &st)           ? strerror(errno)
                      : !S_ISDIR(st.st_mode) ? "not a directory"
                                             : NULL;
    if (why) {
        fprintf(stderr,
                "stage %s: option '%s': cannot grant '%s' to the actors: "
                "%c%s\n",
                cmd, opt, v, tolower((unsigned char)why[0]), why + 1);
        exit(1);
    }
    return v;
}

/* The value v of address option opt of `stage node` (checked later), or
** exit 2 if there is none. */
static const char *address_arg(const char *opt, const char *v) {
    if (v) return v;
    fprintf(stderr, "stage node: option '%s' needs a value: HOST:PORT\n", opt);
    exit(2);
}

/* The value v of --join-retry: only "forever" (no bound on the join:
** true), or exit 2. */
static bool join_retry_arg(const char *opt, const char *v) {
    if (v && !strcmp(v, "forever")) return true;
    fprintf(stderr,
            "stage node: option '%s' takes 'forever' (retry the join until it "
            "works; --join-timeout SECS bounds it instead), not '%s'\n",
            opt, v ? v : "");
    exit(2);
}

/* Wait until node has joined its system through join: 0 (a node stopped
** meanwhile, by a signal, goes on to stop), or 1 with the reason on stderr
** once the join failed for good: a node never becomes a system of its own
** by accident. */
static int wait_join(stage_node_t *node, const char *join) {
    if (stage_node_wait_joined(node, -1) != STAGE_EUNREACHABLE) return 0;
    static const char hint[] = "check the address, or give a longer "
                               "--join-timeout, or --join-retry forever";
    stage_future_t *f = NULL; /* failed at once: it says why */
    stage_result_t res;
    if (!stage_node_joined_future(node, &f) && !stage_future_wait(f, 0, &res))
        fprintf(stderr, "stage node: %s; %s\n", res.message, hint);
    else
        fprintf(stderr, "stage node: cannot join the system at '%s'; %s\n",
                join, hint);
    if (f) stage_future_release(&f);
    return 1;
}

/* The cluster keys of `stage node`: the files given (or
** $STAGE_CLUSTER_KEY_FILE), read into keys. */
typedef struct cluster_keys {
    const char *files[STAGE__CLUSTER_KEYS];
    int n;
    unsigned char keys[STAGE__CLUSTER_KEYS][STAGE__CLUSTER_KEY_BYTES];
} cluster_keys_t;

/* Note the value v of --cluster-key, or exit 2. */
static void key_arg(cluster_keys_t *k, const char *opt, const char *v) {
    if (!v) {
        fprintf(stderr, "stage node: option '%s' needs a value: FILE\n", opt);
        exit(2);
    }
    if (k->n == STAGE__CLUSTER_KEYS) {
        fprintf(stderr,
                "stage node: option '%s' given more than %d times: a node "
                "holds its key and at most one more during a rotation\n",
                opt, STAGE__CLUSTER_KEYS);
        exit(2);
    }
    k->files[k->n++] = v;
}

/* Whether the environment variable name is set and not empty. */
static bool getenv_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

/* Read the key files into k and point net at them: 0, or 1 with the
** reason on stderr. */
static int read_keys(cluster_keys_t *k, stage_net_config_t *net) {
    char err[512];
    const char *env = getenv("STAGE_CLUSTER_KEY_FILE");
    if (!k->n && env && *env) k->files[k->n++] = env;
    for (int i = 0; i < k->n; i++) {
        if (stage__keyfile_read(k->files[i], k->keys[i], err, sizeof err)) {
            fprintf(stderr, "stage node: %s\n", err);
            return 1;
        }
    }
    net->cluster_key = k->n ? k->keys[0] : NULL;
    net->cluster_key_also = k->n > 1 ? k->keys[1] : NULL;
    return 0;
}

/* Check script (NULL: none) without a node: 0, or 1 with the reason
** ("file:line: message") on stderr. */
static int check_script(const char *script) {
    char err[1024];
    if (!script || !stage_script_check(script, err, sizeof err)) return 0;
    fprintf(stderr, "%s\n", err);
    return 1;
}

/* Load script (NULL: none, but the node runs Lua code it fetches from the
** sources store) into node: 0, or 1 with the reason on stderr. */
static int load_script(stage_node_t *node, const char *script) {
    char err[1024];
    if (!stage_node_load_script(node, script, err, sizeof err)) return 0;
    fprintf(stderr, "%s\n", err);
    return 1;
}

static int cmd_node(int argc, char **argv) {
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    stage_net_config_t net;
    stage_net_config_init(&net);
    net.listen = "127.0.0.1:0";
    net.handle_signals = 1;
    const char *join_opt = NULL; /* --join-timeout or --join-retry, if given */
    cluster_keys_t keys = {0};
    bool forever = false; /* --join-retry forever: whatever the timeout */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(node_usage, stdout);
            return 0;
        } else if (!strcmp(o, "-l") || !strcmp(o, "--listen")) {
            net.listen = address_arg(o, v), i++;
        } else if (!strcmp(o, "-j") || !strcmp(o, "--join")) {
            net.join = address_arg(o, v), i++;
        } else if (!strcmp(o, "--cluster-key")) {
            key_arg(&keys, o, v), i++;
        } else if (!strcmp(o, "--insecure")) {
            net.insecure = 1;
        } else if (!strcmp(o, "--join-timeout")) {
            net.join_timeout = number_arg("node", o, v, secs_range), i++;
            join_opt = o;
        } else if (!strcmp(o, "--join-retry")) {
            forever = join_retry_arg(o, v), i++;
            join_opt = o;
        } else if (!strcmp(o, "-t") || !strcmp(o, "--theatres")) {
            cfg.theatres = (int)number_arg("node", o, v, theatres_range), i++;
        } else if (!strcmp(o, "-r") || !strcmp(o, "--replicas")) {
            net.replicas = (int)number_arg("node", o, v, replicas_range), i++;
        } else if (!strcmp(o, "--lease")) {
            net.lease_secs = number_arg("node", o, v, lease_range), i++;
        } else if (!strcmp(o, "--period")) {
            net.period_secs = number_arg("node", o, v, period_range), i++;
        } else if (!strcmp(o, "--node-timeout")) {
            net.node_timeout = number_arg("node", o, v, node_timeout_range),
            i++;
        } else if (!strcmp(o, "--drain")) {
            double secs = number_arg("node", o, v, drain_range);
            net.drain_timeout = secs > 0 ? secs : -1, i++;
        } else if (!strcmp(o, "--budget")) {
            cfg.budget_secs = number_arg("node", o, v, secs_range), i++;
        } else if (!strcmp(o, "--timeout")) {
            cfg.call_timeout = number_arg("node", o, v, secs_range), i++;
        } else if (!strcmp(o, "--max-message")) {
            cfg.max_message = (size_t)number_arg("node", o, v, bytes_range),
            i++;
        } else if (!strcmp(o, "--memory")) {
            cfg.memory_limit = memory_arg("node", o, v), i++;
        } else if (!strcmp(o, "--files")) {
            cfg.files_dir = files_arg("node", o, v), i++;
        } else {
            fprintf(stderr, "stage node: unknown option '%s'\n%s", o,
                    node_usage);
            return 2;
        }
    }
    if (forever) net.join_timeout = -1;
    if (join_opt && !net.join) {
        fprintf(stderr,
                "stage node: option '%s' needs '--join ADDR': without it the "
                "node starts a system of its own\n",
                join_opt);
        return 2;
    }
    /* entries are renewed every lease / 3, once a period at the most; in
    ** whole milliseconds, as the DHT gets them (net/lookup.c) */
    if ((uint32_t)(net.lease_secs * 1000) <
        3 * (uint32_t)(net.period_secs * 1000)) {
        fprintf(stderr,
                "stage node: option '--lease' must be at least 3 times "
                "'--period' (lease %g s, period %g s)\n",
                net.lease_secs, net.period_secs);
        return 2;
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
    if (net.insecure && (keys.n || getenv_nonempty("STAGE_CLUSTER_KEY_FILE"))) {
        fprintf(stderr,
                "stage node: '--insecure' and a cluster key (%s) contradict "
                "each other: with a key every connection is authenticated "
                "and encrypted; drop one of them\n",
                keys.n ? "--cluster-key" : "STAGE_CLUSTER_KEY_FILE");
        return 2;
    }
    if (read_keys(&keys, &net)) return 1;
    if (!net.cluster_key && !net.insecure &&
        !stage__addr_is_loopback(net.listen)) {
        fprintf(stderr,
                "stage node: refusing to listen at '%s' without a cluster "
                "key: every host that can reach it could join the system and "
                "run code in it; give --cluster-key FILE (stage keygen FILE "
                "makes one), or --insecure to listen anyway\n",
                net.listen);
        return 1;
    }
    /* a script that cannot run fails before the node opens a port */
    const char *script = i < argc ? argv[i] : NULL;
    if (check_script(script)) return 1;
    stage_node_t *node;
    int rc = stage_node_new(&node, &cfg);
    if (rc) {
        fprintf(stderr, "stage node: cannot create a node: %s\n",
                stage_strerror(rc));
        return 1;
    }
    char err[512];
    rc = stage_node_network(node, &net, err, sizeof err);
    stage__keyfile_wipe(keys.keys, sizeof keys.keys); /* the node has them */
    if (rc) {
        fprintf(stderr, "stage node: %s\n", err);
        stage_node_destroy(&node);
        return 1;
    }
    /* a log line, not stdout: the script's stdout is its own */
    LOG_INFO("node '%s' listening, manager %016llx%s", stage_node_address(node),
             (unsigned long long)stage_node_manager_id(node),
             net.cluster_key ? ", cluster key required" : "");
    /* the top level runs now: an error it raises ends the node before the
    ** join is waited for */
    int status = load_script(node, script);
    /* main(args) runs once the node is a member; a join that gives up
    ** (--join-timeout) ends the node */
    if (!status && net.join) status = wait_join(node, net.join);
    if (!status && script &&
        stage_node_run_main(node, argc - i - 1,
                            (const char *const *)argv + i + 1))
        status = 1;
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
            cfg.theatres = (int)number_arg("run", o, v, theatres_range), i++;
        } else if (!strcmp(o, "--slice")) {
            cfg.slice_secs = number_arg("run", o, v, secs_range), i++;
        } else if (!strcmp(o, "--budget")) {
            cfg.budget_secs = number_arg("run", o, v, secs_range), i++;
        } else if (!strcmp(o, "--timeout")) {
            cfg.call_timeout = number_arg("run", o, v, secs_range), i++;
        } else if (!strcmp(o, "--max-message")) {
            cfg.max_message = (size_t)number_arg("run", o, v, bytes_range), i++;
        } else if (!strcmp(o, "--memory")) {
            cfg.memory_limit = memory_arg("run", o, v), i++;
        } else if (!strcmp(o, "--files")) {
            cfg.files_dir = files_arg("run", o, v), i++;
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

/* stage keygen [--force] [--] FILE: 0, 1 (the file could not be written, or
** exists) or 2 (usage), with the reason on stderr. */
static int cmd_keygen(int argc, char **argv) {
    bool force = false, ended = false;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if ((!strcmp(o, "-h") || !strcmp(o, "--help")) && !ended) {
            fputs(keygen_usage, stdout);
            return 0;
        } else if (!strcmp(o, "--force") && !ended) {
            force = true;
        } else if (!strcmp(o, "--") && !ended) {
            ended = true; /* what follows is FILE, even "-x" */
        } else if (o[0] == '-' && o[1] && !ended) {
            fprintf(stderr,
                    "stage keygen: unknown option '%s' (for a FILE whose "
                    "name begins with '-', give '--' before it)\n%s",
                    o, keygen_usage);
            return 2;
        } else if (file) {
            fprintf(stderr, "stage keygen: one FILE only, not '%s' too\n%s", o,
                    keygen_usage);
            return 2;
        } else {
            file = o;
        }
    }
    if (!file) {
        fprintf(stderr, "stage keygen: no FILE given\n%s", keygen_usage);
        return 2;
    }
    char err[512];
    if (stage__keyfile_generate(file, force, err, sizeof err)) {
        fprintf(stderr, "stage keygen: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "stage keygen: wrote a new cluster key to '%s' (mode 0600)\n",
            file);
    return 0;
}

/* The allocator this process runs on (src/cli/CMakeLists.txt links
** mimalloc, whose malloc and free are then every library's). */
static void print_allocator(void) {
#ifdef STAGE_WITH_MIMALLOC
    int v = mi_version(); /* 209: 2.0.9 */
    printf("allocator: mimalloc %d.%d.%d\n", v / 100, v / 10 % 10, v % 10);
#else
    printf("allocator: the C library's malloc\n");
#endif
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
        print_allocator();
        return 0;
    }
    const char *log = getenv("STAGE_LOG");
    if (stage__log_level_parse(log) < 0) {
        fprintf(
            stderr,
            "stage: STAGE_LOG='%s' is not a log level: give " STAGE_LOG_LEVELS
            "\n",
            log);
        return 2;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "node")) return cmd_node(argc - 1, argv + 1);
    if (!strcmp(cmd, "sim")) return stage__cli_sim(argc - 1, argv + 1);
    if (!strcmp(cmd, "keygen")) return cmd_keygen(argc - 1, argv + 1);
    fprintf(stderr, "stage: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
