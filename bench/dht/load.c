/*
** bench/dht/load.c: one DHT manager with N requests under way at once.
** A small ring of managers (4, successor lists of 1: most requests take
** two hops, and the middle member owes acks it cannot carry on a reply)
** runs on a virtual clock in this process, messages delivered in order
** with no latency. Once the ring has settled, manager 0 is given N
** requests at one instant; the run goes on until every one is answered
** and a second more (the owed acks go, the hops' timers are cleared).
** Printed, one JSON line per op and N: the CPU time the managers spent
** (receiving, ticking, taking the requests) over the messages they
** received — flat in N when a manager's work per message does not grow
** with what it has under way.
** Usage: bench_dht_load [N...] (default 1000 10000 50000). Ops: lookup;
** put (the primaries decide and copy: decisions, copy requests); get (of
** the items put). Exits 1 if a request fails, 2 on a bad argument.
** bench_dht_load --held [N...] (default 1000 10000 50000 200000): each
** manager first holds N entries of its range (leased, stored straight
** into its table in key order, which costs the same whatever the table
** is), then manager 0 is given HELD_BATCH puts at once, then gets of
** them: the lines ("held": N) show what a message costs as the entry
** table grows, the period's sweep over all the entries included.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dht/dht.h"
#include "dht/dht_internal.h" /* stage__dht_store: --held's entries */

#define MGRS 4
#define SETTLE_MS 30000
#define AFTER_MS 1000
#define ROUNDS_MAX 100000000 /* a manager whose timer never moves: fail */
#define HELD_BATCH 20000     /* --held: the puts, then gets, measured */

typedef struct qmsg {
    struct qmsg *next;
    int to;
    stage_dht_msg_t m; /* truncated after its npeers peers */
} qmsg_t;

typedef struct ring {
    stage_dht_t *d[MGRS];
    char addr[MGRS][16];
    uint64_t now;
    qmsg_t *head, *tail;
    uint64_t inputs;       /* messages received, all managers */
    uint64_t done, failed; /* manager 0's answers */
    int first_failure;
} ring_t;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_dht_load: %s\n", what);
    exit(1);
}

static size_t msg_size(const stage_dht_msg_t *m) {
    return offsetof(stage_dht_msg_t, peers) +
           (size_t)m->npeers * sizeof(m->peers[0]);
}

/* Queue a copy of m for the manager at addr; takes m's payload. */
static void post(ring_t *r, const char *addr, stage_dht_msg_t *m) {
    int to = -1;
    for (int i = 0; i < MGRS; i++)
        if (!strcmp(addr, r->addr[i])) to = i;
    if (to < 0) die("a message to an unknown address");
    qmsg_t *q = malloc(offsetof(qmsg_t, m) + msg_size(m));
    if (!q) die("out of memory");
    memcpy(&q->m, m, msg_size(m));
    m->data = NULL;
    q->next = NULL;
    q->to = to;
    if (r->tail)
        r->tail->next = q;
    else
        r->head = q;
    r->tail = q;
}

/* Take manager i's effects: queue its messages, count its answers. */
static void drain(ring_t *r, int i) {
    size_t n;
    const stage_dht_effect_t *fx = stage_dht_effects(r->d[i], &n);
    for (size_t k = 0; k < n; k++) {
        if (fx[k].kind == STAGE_DHT_FX_SEND) {
            post(r, fx[k].to_addr, fx[k].msg);
        } else if (fx[k].kind == STAGE_DHT_FX_DONE && i == 0) {
            r->done++;
            if (fx[k].status && !r->failed++) r->first_failure = fx[k].status;
        }
    }
}

/* Deliver the queued messages and the timers due, in order, until the
** clock would pass until. */
static void run(ring_t *r, uint64_t until) {
    for (long rounds = 0; rounds < ROUNDS_MAX; rounds++) {
        if (r->head) {
            qmsg_t *q = r->head;
            r->head = q->next;
            if (!r->head) r->tail = NULL;
            stage_dht_msg_t m;
            memcpy(&m, &q->m, msg_size(&q->m));
            int to = q->to;
            free(q);
            stage_dht_recv(r->d[to], r->now, &m);
            free(m.data);
            r->inputs++;
            drain(r, to);
            continue;
        }
        uint64_t t = UINT64_MAX;
        for (int i = 0; i < MGRS; i++) {
            uint64_t ti = stage_dht_next_timer(r->d[i]);
            if (ti < t) t = ti;
        }
        if (t > until) {
            r->now = until;
            return;
        }
        if (t > r->now) r->now = t;
        for (int i = 0; i < MGRS; i++)
            if (stage_dht_next_timer(r->d[i]) <= r->now) {
                stage_dht_tick(r->d[i], r->now);
                drain(r, i);
            }
    }
    die("the ring never went quiet");
}

/* Four managers, evenly spaced on the ring, joined and settled. */
static void ring_start(ring_t *r) {
    memset(r, 0, sizeof(*r));
    r->now = 1000;
    for (int i = 0; i < MGRS; i++) {
        stage_dht_config_t cfg;
        stage_dht_config_init(&cfg);
        snprintf(r->addr[i], sizeof(r->addr[i]), "m%d:7400", i);
        cfg.id = (uint64_t)i * (UINT64_MAX / MGRS) + 12345;
        cfg.address = r->addr[i];
        cfg.seed = 7;
        cfg.succ_len = 1;
        if (stage_dht_new(&r->d[i], &cfg, r->now)) die("cannot make a manager");
    }
    for (int i = 1; i < MGRS; i++) {
        stage_dht_join(r->d[i], r->now, r->addr[0], 0);
        drain(r, i);
    }
    run(r, r->now + SETTLE_MS);
    for (int i = 0; i < MGRS; i++)
        if (stage_dht_successor(r->d[i]).id == 0) die("the ring did not form");
}

static void ring_stop(ring_t *r) {
    while (r->head) {
        qmsg_t *q = r->head;
        r->head = q->next;
        free(q->m.data);
        free(q);
    }
    for (int i = 0; i < MGRS; i++)
        stage_dht_destroy(&r->d[i]);
}

enum { OP_LOOKUP, OP_PUT, OP_GET };
static const char *const op_names[] = {"lookup", "put", "get"};
static bool quiet; /* a warm-up round: no figures printed */

static uint64_t key_of(uint64_t j) {
    uint64_t z = (j + 1) * 0x9e3779b97f4a7c15ull; /* spread on the ring */
    return z ^ (z >> 29);
}

/* Give manager 0 n requests of op at once, run until all are answered
** and a second more; print the figures (held: the entries each manager
** was given first). False if one failed. */
static int phase(ring_t *r, int op, uint64_t n, uint64_t held) {
    static const char value[] = "\xa5hello"; /* msgpack "hello" */
    uint64_t inputs0 = r->inputs, start = r->now;
    r->done = r->failed = 0;
    double t0 = cpu_now();
    for (uint64_t j = 0; j < n; j++) {
        uint64_t k = key_of(j), req = j + 1;
        int rc = op == OP_LOOKUP ? stage_dht_lookup(r->d[0], r->now, req, k)
                 : op == OP_PUT  ? stage_dht_put(r->d[0], r->now, req, k, 0,
                                                 value, sizeof(value) - 1)
                                 : stage_dht_get(r->d[0], r->now, req, k);
        if (rc) die("a request was refused");
        drain(r, 0);
    }
    uint64_t last = r->now;
    while (r->done < n && r->now < start + 60000) {
        run(r, r->now + 1);
        last = r->now;
    }
    run(r, last + AFTER_MS);
    double cpu = cpu_now() - t0;
    uint64_t inputs = r->inputs - inputs0;
    if (!quiet)
        printf(
            "{\"bench\":\"dht_load\",\"op\":\"%s\",\"n\":%llu,"
            "\"held\":%llu,\"managers\":%d,\"inputs\":%llu,\"answered\":%llu,"
            "\"failed\":%llu,\"sim_ms\":%llu,\"cpu_s\":%.3f,"
            "\"us_per_input\":%.3f}\n",
            op_names[op], (unsigned long long)n, (unsigned long long)held, MGRS,
            (unsigned long long)inputs, (unsigned long long)r->done,
            (unsigned long long)r->failed, (unsigned long long)(last - start),
            cpu, inputs ? cpu * 1e6 / (double)inputs : 0.0);
    fflush(stdout);
    if (r->failed)
        fprintf(stderr, "bench_dht_load: %s: %llu of %llu failed (first: %d)\n",
                op_names[op], (unsigned long long)r->failed,
                (unsigned long long)n, r->first_failure);
    else if (r->done < n)
        fprintf(stderr, "bench_dht_load: %s: %llu of %llu answered\n",
                op_names[op], (unsigned long long)r->done,
                (unsigned long long)n);
    return r->failed == 0 && r->done == n;
}

/* Give every manager n leased entries spread over its range, in key
** order (each goes at the end of its table: no shifting, vector or not). */
static void hold(ring_t *r, uint64_t n) {
    for (int i = 0; i < MGRS; i++) {
        stage_dht_t *d = r->d[i];
        uint64_t lo = stage_dht_predecessor(d).id, hi = stage_dht_self(d).id;
        uint64_t gap = (hi - lo) / (n + 1);
        for (uint64_t j = 1; j <= n; j++) {
            rec_t e = {.key = lo + j * gap,
                       .owner = 0x51ed,
                       .ttl = d->cfg.lease_ms,
                       .len = 6,
                       .value = "\xa5hello"};
            if (stage__dht_store(d, &e, false)) die("out of memory");
        }
        size_t total;
        if (stage_dht_entry_count(d, &total) != n || total != n)
            die("the held entries are not all in range");
    }
}

int main(int argc, char **argv) {
    uint64_t sizes[16] = {1000, 10000, 50000};
    int nsizes = 3, first = 1;
    bool held = argc > 1 && !strcmp(argv[1], "--held");
    if (held) {
        static const uint64_t hs[] = {1000, 10000, 50000, 200000};
        memcpy(sizes, hs, sizeof hs);
        nsizes = 4;
        first = 2;
    }
    if (argc > first) nsizes = 0;
    for (int i = first; i < argc; i++) {
        char *end;
        unsigned long long v = strtoull(argv[i], &end, 10);
        if (*argv[i] == '-' || *end || v == 0 || v > 10000000 || nsizes == 16) {
            fprintf(stderr,
                    "bench_dht_load: '%s' is not a %s count from 1 to "
                    "10000000 (at most 16 of them)\n",
                    argv[i], held ? "held entry" : "request");
            return 2;
        }
        sizes[nsizes++] = v;
    }
    int ok = 1;
    /* --held: a first round unprinted, so that the first size measured
    ** does not pay for the process's first page faults */
    quiet = held;
    for (int s = held ? -1 : 0; s < nsizes; s++, quiet = false) {
        ring_t r;
        ring_start(&r);
        if (held && s < 0) {
            hold(&r, sizes[0]);
            ok &= phase(&r, OP_PUT, HELD_BATCH, sizes[0]);
        } else if (held) {
            hold(&r, sizes[s]);
            ok &= phase(&r, OP_PUT, HELD_BATCH, sizes[s]);
            ok &= phase(&r, OP_GET, HELD_BATCH, sizes[s]);
        } else {
            for (int op = OP_LOOKUP; op <= OP_GET; op++)
                ok &= phase(&r, op, sizes[s], 0);
        }
        ring_stop(&r);
    }
    return ok ? 0 : 1;
}
