/*
** tests/fault/fault_intake.c: a node's frame intake with the Nth
** allocation failing. A node with a network (one theatre, which runs the
** I/O loop) hosts a C actor (Echo) and a Lua one (Keeper, intake.lua, the
** first argument). For each N a raw client connects, shakes hands as a
** node of its own, and sends one batch of frames of every kind the node
** takes: MSG with and without a reply, to both actors and to one that
** never existed; SPAWN; FIND (one and all); NAME; a DHT lookup; a REPLY
** nobody waits for; a malformed MSG. Once the SPAWN reply names the new
** actor, it sends a STOP for it and a MSG after the STOP. Then it leaves
** as a node does (an ACK, a BYE), coming back to its session first if the
** node closed the connection, so that no session outlives its exchange.
**
** The client's allocations stay out of the count: its frames are built
** before the failure is armed, and what it receives is kept as raw bytes,
** decoded after. For every N: no crash, no hang (20 s, then the process
** exits naming N), and every answer is either the right one or an error
** that says memory ran out; an answer that never comes is allowed only
** when a log line says memory ran out (the node logs a reply it lost).
** Leaks: the sweep runs on one node (a node's teardown takes a goodbye
** of 100 ms), whose blocks must all be freed when it is destroyed;
** STAGE_FAULT_N=n replays one N on a node of its own, so a leak or a
** wrong answer there is that N's. STAGE_FAULT_TRACE=1 prints where the
** failures strike.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/node.h"
#include "dht/dht.h"
#include "fault_common.h"
#include "faultalloc.h"
#include "net/net.h"
#include "stage/net.h"
#include "wire/frame.h"
#include "wire/mp.h"

enum {
    K_HELLO = STAGE__NET_KIND_HELLO,
    K_MSG = STAGE__NET_KIND_USER,
    K_REPLY,
    K_SPAWN,
    K_FIND,
    K_DHT,
    K_NAME,
    K_STOP
};

/* The calls of one exchange and what each must answer when all goes
** well: status 0 with a value check(), or the error want. */
enum {
    C_ECHO = 1,
    C_KEEP,
    C_SUM,
    C_SPAWN,
    C_FIND_ALL,
    C_FIND_ONE,
    C_NAME,
    C_NOBODY,
    C_COUNT,
    C_STOP,  /* phase two: the spawned actor */
    C_AFTER, /* a message to it after the STOP */
    NCALLS
};

static const char *const call_names[NCALLS] = {
    "",         "echo", "keep",      "sum",   "spawn", "find all",
    "find one", "name", "to nobody", "count", "stop",  "after stop"};

/* ---- the node ------------------------------------------------------------
 */

typedef struct echo_state {
    int64_t notes;
} echo_state_t;

static void echo_echo(stage_ctx_t *ctx, void *st, const stage_msg_t *m) {
    (void)st;
    const char *data;
    size_t len;
    stage_msg_args(m, &data, &len);
    stage_reply(ctx, m, data, len);
}

static void echo_note(stage_ctx_t *ctx, void *st, const stage_msg_t *m) {
    (void)ctx;
    (void)m;
    ((echo_state_t *)st)->notes++;
}

/* The notes since the last count. */
static void echo_count(stage_ctx_t *ctx, void *st, const stage_msg_t *m) {
    echo_state_t *e = st;
    char buf[16];
    stage_pack_t p = {buf, 0, sizeof buf, 0}; /* no allocation */
    stage_pack_int(&p, e->notes);
    e->notes = 0;
    stage_reply(ctx, m, p.data, p.len);
}

static const stage_method_t echo_methods[] = {{"echo", echo_echo},
                                              {"note", echo_note},
                                              {"count", echo_count},
                                              {NULL, NULL}};
static const stage_type_def_t echo_type = {.name = "Echo",
                                           .state_size = sizeof(echo_state_t),
                                           .methods = echo_methods};

typedef struct world {
    stage_node_t *node;
    stage_id_t echo, keeper;
    char addr[STAGE_ADDR_MAX];
    uint64_t manager;
} world_t;

static const char *script;

static void world_open(world_t *w) {
    char err[256];
    stage_node_config_t cfg;
    stage_node_config_init(&cfg);
    cfg.theatres = 1;
    if (stage_node_new(&w->node, &cfg) ||
        stage_type_register(w->node, &echo_type) ||
        stage_node_load_script(w->node, script, err, sizeof err)) {
        fprintf(stderr, "fault_intake: cannot make the node: %s\n", err);
        exit(2);
    }
    stage_net_config_t nc;
    stage_net_config_init(&nc);
    nc.listen = "127.0.0.1:0";
    if (stage_node_network(w->node, &nc, err, sizeof err) ||
        stage_node_start(w->node) ||
        stage_node_spawn(w->node, "Echo", 0, NULL, 0, &w->echo) ||
        stage_node_spawn(w->node, "Keeper", 0, NULL, 0, &w->keeper)) {
        fprintf(stderr, "fault_intake: cannot start the node: %s\n", err);
        exit(2);
    }
    snprintf(w->addr, sizeof w->addr, "%s", stage_node_address(w->node));
    w->manager = stage_node_manager_id(w->node);
    /* FIND looks at the actors that exist: wait for both births */
    const stage_id_t *both[] = {&w->echo, &w->keeper};
    for (int i = 0; i < 2; i++) {
        stage_future_t *f;
        stage_result_t r;
        if (stage_node_send(w->node, both[i], i ? "sum" : "count",
                            i ? "\x91\x90" : NULL, i ? 2 : 0, &f) ||
            stage_future_wait(f, 10, &r) || r.status) {
            fprintf(stderr, "fault_intake: the actors do not answer\n");
            exit(2);
        }
        stage_future_release(&f);
    }
}

static void world_close(world_t *w) {
    stage_node_stop(w->node, 0);
    stage_node_wait(w->node);
    stage_node_destroy(&w->node);
}

/* ---- the client's frames -------------------------------------------------
 */

#define FAKE_ADDR "127.0.0.1:9"

static void pack_target(stage_pack_t *p, const stage_id_t *id) {
    stage_pack_int(p, id->incarnation);
    stage_pack_int(p, (int64_t)id->serial);
    stage_pack_cstr(p, id->type);
}

static void msg(stage_pack_t *p, uint64_t call, const stage_id_t *to,
                const char *method, const stage_pack_t *args) {
    size_t s = stage__frame_begin(p, K_MSG);
    stage_pack_array(p, 6);
    stage_pack_int(p, (int64_t)call);
    pack_target(p, to);
    stage_pack_cstr(p, method);
    stage_pack_raw(p, args->data, args->len);
    stage__frame_end(p, s, 0);
}

/* The echo's arguments: the reply must be these bytes. */
static void echo_args(stage_pack_t *a) {
    stage_pack_array(a, 3);
    stage_pack_int(a, 1);
    stage_pack_cstr(a, "two");
    stage_pack_array(a, 1);
    stage_pack_int(a, 3);
}

/* A DHT lookup routed to the node's manager, asked by our fake node. */
static void dht_lookup(stage_pack_t *p, const world_t *w, uint64_t rid) {
    stage_dht_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STAGE_DHT_M_ROUTE;
    m.op = STAGE_DHT_OP_LOOKUP;
    m.to = w->manager;
    m.seq = rid;
    m.rid = rid;
    m.key = 0x1234567890abcdefull;
    m.from.id = m.origin.id = 0x5151515151515151ull;
    snprintf(m.from.addr, sizeof m.from.addr, "%s", FAKE_ADDR);
    snprintf(m.origin.addr, sizeof m.origin.addr, "%s", FAKE_ADDR);
    size_t s = stage__frame_begin(p, K_DHT);
    stage_dht_msg_encode(&m, 0, p);
    stage__frame_end(p, s, 0);
}

/* Every frame of the first batch, handshake first (incarnation inc). */
static void batch_one(stage_pack_t *p, const world_t *w, uint32_t inc) {
    stage_pack_t a = STAGE_PACK_INIT;
    size_t s = stage__frame_begin(p, K_HELLO);
    stage_pack_array(p, 7);
    stage_pack_int(p, STAGE__NET_PROTO_VERSION);
    stage_pack_cstr(p, FAKE_ADDR);
    stage_pack_int(p, inc);
    stage_pack_int(p, 0); /* no manager */
    stage_pack_int(p, 0); /* no session with the node: a new incarnation */
    stage_pack_int(p, 0);
    stage_pack_int(p, 1); /* its first handshake */
    stage__frame_end(p, s, 0);

    echo_args(&a);
    msg(p, C_ECHO, &w->echo, "echo", &a);
    stage_pack_reset(&a);
    stage_pack_array(&a, 1);
    stage_pack_int(&a, 5);
    msg(p, 0, &w->echo, "note", &a); /* one way */
    stage_pack_reset(&a);
    stage_pack_array(&a, 2);
    stage_pack_map(&a, 2);
    stage_pack_cstr(&a, "a");
    stage_pack_int(&a, 1);
    stage_pack_cstr(&a, "b");
    stage_pack_array(&a, 3);
    for (int i = 1; i <= 3; i++)
        stage_pack_int(&a, i);
    stage_pack_cstr(&a, "text");
    msg(p, C_KEEP, &w->keeper, "keep", &a);
    stage_pack_reset(&a);
    stage_pack_array(&a, 1);
    stage_pack_array(&a, 4);
    for (int i = 1; i <= 4; i++)
        stage_pack_int(&a, i);
    msg(p, C_SUM, &w->keeper, "sum", &a);

    s = stage__frame_begin(p, K_SPAWN);
    stage_pack_array(p, 4);
    stage_pack_int(p, C_SPAWN);
    stage_pack_cstr(p, "Echo");
    stage_pack_int(p, -1);
    stage_pack_array(p, 0);
    stage__frame_end(p, s, 0);
    for (int all = 1; all >= 0; all--) {
        s = stage__frame_begin(p, K_FIND);
        stage_pack_array(p, 3);
        stage_pack_int(p, all ? C_FIND_ALL : C_FIND_ONE);
        stage_pack_cstr(p, all ? "Echo" : "Keeper");
        stage_pack_bool(p, all);
        stage__frame_end(p, s, 0);
    }
    char name[32];
    snprintf(name, sizeof name, "keeper-%u", (unsigned)inc);
    s = stage__frame_begin(p, K_NAME);
    stage_pack_array(p, 5);
    stage_pack_int(p, C_NAME);
    stage_pack_cstr(p, name);
    pack_target(p, &w->keeper);
    stage__frame_end(p, s, 0);

    stage_id_t nobody = w->echo;
    nobody.serial += 1000u << 8; /* theatre bits: the same theatre */
    stage_pack_reset(&a);
    stage_pack_array(&a, 0);
    msg(p, C_NOBODY, &nobody, "echo", &a);
    s = stage__frame_begin(p, K_REPLY); /* to a call nobody made */
    stage_pack_array(p, 3);
    stage_pack_int(p, 999);
    stage_pack_int(p, 0);
    stage_pack_nil(p);
    stage__frame_end(p, s, 0);
    s = stage__frame_begin(p, K_MSG); /* malformed: dropped, logged */
    stage_pack_array(p, 2);
    stage_pack_int(p, 77);
    stage_pack_int(p, 78);
    stage__frame_end(p, s, 0);
    dht_lookup(p, w, inc);
    msg(p, C_COUNT, &w->echo, "count", &a);
    stage_pack_free(&a);
}

/* The second batch: stop the spawned actor, then send it a message. */
static void batch_two(stage_pack_t *p, const stage_id_t *spawned) {
    size_t s = stage__frame_begin(p, K_STOP);
    stage_pack_array(p, 4);
    stage_pack_int(p, C_STOP);
    pack_target(p, spawned);
    stage__frame_end(p, s, 0);
    s = stage__frame_begin(p, K_MSG);
    stage_pack_array(p, 6);
    stage_pack_int(p, C_AFTER);
    pack_target(p, spawned);
    stage_pack_cstr(p, "echo");
    stage_pack_array(p, 0);
    stage__frame_end(p, s, 0);
}

/* ---- the client ----------------------------------------------------------
 */

#define RX_MAX (1 << 20)

typedef struct reply {
    bool got;
    int status;
    const char *value; /* into rx */
    size_t len;
} reply_t;

typedef struct exchange {
    char rx[RX_MAX];
    size_t rxlen, parsed;
    bool hello, closed, dht_reply;
    uint64_t users; /* user frames received: what an ACK counts */
    const char *dht_body;
    size_t dht_len;
    reply_t replies[NCALLS];
    bool phase_two; /* batch two sent */
} exchange_t;

static exchange_t ex;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(const char *addr) {
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        fprintf(stderr, "fault_intake: cannot connect to %s: %s\n", addr,
                strerror(errno));
        exit(2);
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return; /* the node closed: the judge sees why */
        p += w;
        n -= (size_t)w;
    }
}

/* Read a REPLY body [call, status, value] without allocating. */
static void take_reply(const char *body, size_t len) {
    stage_unpack_t u;
    uint32_t n;
    int64_t call, status;
    stage_unpack_init(&u, body, len);
    if (stage_unpack_array(&u, &n) || n != 3 || stage_unpack_int(&u, &call) ||
        stage_unpack_int(&u, &status) || call <= 0 || call >= NCALLS)
        return;
    reply_t *r = &ex.replies[call];
    r->got = true;
    r->status = (int)status;
    r->value = u.p;
    r->len = (size_t)(u.end - u.p);
}

/* A DHT frame: note a REPLY (its type comes first in the compact form). */
static void take_dht(const char *body, size_t len) {
    stage_unpack_t u;
    uint32_t n;
    int64_t type;
    stage_unpack_init(&u, body, len);
    if (stage_unpack_array(&u, &n) || n < 1 || stage_unpack_int(&u, &type) ||
        type != STAGE_DHT_M_REPLY)
        return;
    ex.dht_reply = true;
    ex.dht_body = body;
    ex.dht_len = len;
}

/* Take the whole frames received so far. */
static void parse(void) {
    while (ex.rxlen - ex.parsed >= STAGE__FRAME_HEADER) {
        const unsigned char *h = (const unsigned char *)ex.rx + ex.parsed;
        size_t len =
            (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (ex.rxlen - ex.parsed - STAGE__FRAME_HEADER < len) return;
        const char *body = ex.rx + ex.parsed + STAGE__FRAME_HEADER;
        if (h[3] == K_HELLO) ex.hello = true;
        if (h[3] >= STAGE__NET_KIND_USER) ex.users++;
        if (h[3] == K_REPLY) take_reply(body, len);
        if (h[3] == K_DHT) take_dht(body, len);
        ex.parsed += STAGE__FRAME_HEADER + len;
    }
}

static bool all_answered(void) {
    for (int c = 1; c < NCALLS; c++)
        if (!ex.replies[c].got &&
            (ex.phase_two || (c != C_STOP && c != C_AFTER)))
            return false;
    return ex.dht_reply;
}

/* The actor the SPAWN reply names, if it succeeded. */
static bool spawn_id(stage_id_t *id) {
    reply_t *r = &ex.replies[C_SPAWN];
    stage_unpack_t u;
    stage_unpack_init(&u, r->value, r->len);
    return r->got && r->status == 0 && !stage_unpack_id(&u, id);
}

/* Send batch two, packed into a buffer of our own: nothing allocated. */
static void send_two(int fd, const stage_id_t *id) {
    char buf[512];
    stage_pack_t p = {buf, 0, sizeof buf, 0};
    batch_two(&p, id);
    if (!stage_pack_error(&p)) send_all(fd, p.data, p.len);
}

/* Talk to the node until every call is answered, the node closes, or
** nothing more comes: 200 ms of silence once a log line says memory ran
** out, 3 s otherwise (the judge then names what is missing). */
static void converse(int fd, const stage_pack_t *one) {
    send_all(fd, one->data, one->len);
    double last = now();
    while (!all_answered() && !ex.closed) {
        stage_id_t id;
        if (!ex.phase_two && spawn_id(&id)) {
            send_two(fd, &id);
            ex.phase_two = true;
        }
        double quiet = now() - last;
        if (quiet > 3 || (quiet > 0.2 && runlog_says_memory())) break;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) <= 0) continue;
        ssize_t n = recv(fd, ex.rx + ex.rxlen, RX_MAX - ex.rxlen, 0);
        if (n <= 0) {
            ex.closed = true;
            break;
        }
        ex.rxlen += (size_t)n;
        last = now();
        parse();
    }
}

/* The fake node leaves as a node does: it acknowledges what it took and
** says goodbye, and waits for the node to end the session (it closes the
** connection). A session left open would be declared dead later, with a
** warning in another exchange's log. */
static void say_goodbye(int fd) {
    char b[16];
    stage_pack_t p = STAGE_PACK_INIT, body = {b, 0, sizeof b, 0};
    stage_pack_int(&body, (int64_t)ex.users);
    stage__frame_append(&p, STAGE__NET_KIND_ACK, body.data, body.len, 0);
    stage__frame_append(&p, STAGE__NET_KIND_BYE, "\xc0", 1, 0);
    send_all(fd, p.data, p.len);
    stage_pack_free(&p);
    double until = now() + 3;
    char sink[4096];
    while (now() < until) { /* its close, or its DEAD and close */
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) <= 0) continue;
        if (recv(fd, sink, sizeof sink, 0) <= 0) break;
    }
}

/* The node closed the connection (memory ran out): come back as the same
** incarnation, resume the session, and leave. */
static void come_back_and_leave(const world_t *w, uint32_t inc) {
    stage_pack_t p = STAGE_PACK_INIT;
    size_t s = stage__frame_begin(&p, K_HELLO);
    stage_pack_array(&p, 7);
    stage_pack_int(&p, STAGE__NET_PROTO_VERSION);
    stage_pack_cstr(&p, FAKE_ADDR);
    stage_pack_int(&p, inc);
    stage_pack_int(&p, 0);
    stage_pack_int(&p, stage__node_incarnation(w->node)); /* its session */
    stage_pack_int(&p, (int64_t)ex.users);
    stage_pack_int(&p, 2); /* its second handshake */
    stage__frame_end(&p, s, 0);
    int fd = dial(w->addr);
    send_all(fd, p.data, p.len);
    stage_pack_free(&p);
    say_goodbye(fd);
    close(fd);
}

/* ---- the verdict ----------------------------------------------------------
 */

static bool int_is(const reply_t *r, int64_t want) {
    stage_unpack_t u;
    int64_t v;
    stage_unpack_init(&u, r->value, r->len);
    return !stage_unpack_int(&u, &v) && v == want;
}

static bool bool_is(const reply_t *r, bool want) {
    stage_unpack_t u;
    bool v;
    stage_unpack_init(&u, r->value, r->len);
    return !stage_unpack_bool(&u, &v) && v == want;
}

static bool id_of(const reply_t *r, const char *type) {
    stage_unpack_t u;
    stage_id_t id;
    stage_unpack_init(&u, r->value, r->len);
    return !stage_unpack_id(&u, &id) && !strcmp(id.type, type);
}

static bool ids_of(const reply_t *r, const char *type) {
    stage_unpack_t u;
    uint32_t n;
    stage_id_t id;
    stage_unpack_init(&u, r->value, r->len);
    if (stage_unpack_array(&u, &n) || n < 1) return false;
    for (uint32_t i = 0; i < n; i++)
        if (stage_unpack_id(&u, &id) || strcmp(id.type, type)) return false;
    return true;
}

/* Is a successful answer to call c the right one? */
static bool right_value(int c, const reply_t *r) {
    stage_pack_t a = STAGE_PACK_INIT;
    bool ok = false;
    switch (c) {
    case C_ECHO:
        echo_args(&a);
        ok = r->len == a.len && !memcmp(r->value, a.data, a.len);
        break;
    case C_KEEP:
        ok = int_is(r, 8);
        break;
    case C_SUM:
        ok = int_is(r, 10);
        break;
    case C_SPAWN:
        ok = id_of(r, "Echo");
        break;
    case C_FIND_ALL:
        ok = ids_of(r, "Echo");
        break;
    case C_FIND_ONE:
        ok = id_of(r, "Keeper");
        break;
    case C_NAME:
    case C_STOP:
        ok = bool_is(r, true);
        break;
    case C_COUNT: { /* the notes since the last count: ours at least */
        stage_unpack_t u;
        int64_t v;
        stage_unpack_init(&u, r->value, r->len);
        ok = !stage_unpack_int(&u, &v) && v >= 1;
        break;
    }
    }
    stage_pack_free(&a);
    return ok;
}

/* The error a call must answer with when nothing fails. */
static int wanted_error(int c) {
    return c == C_NOBODY || c == C_AFTER ? STAGE_EACTOR_NOT_FOUND : 0;
}

/* The message of a failure reply (value [message, actor, traceback]). */
static bool reply_says_memory(const reply_t *r) {
    stage_unpack_t u;
    uint32_t n;
    const char *m;
    size_t ml;
    char buf[256];
    stage_unpack_init(&u, r->value, r->len);
    if (stage_unpack_array(&u, &n) || n < 1 || stage_unpack_str(&u, &m, &ml))
        return false;
    snprintf(buf, sizeof buf, "%.*s", (int)ml, m);
    return says_memory(buf);
}

/* NULL if the exchange passes; else what went wrong (in why). */
static const char *judge(bool failed, char *why, size_t len) {
    bool memory = runlog_says_memory();
    for (int c = 1; c < NCALLS; c++) {
        const reply_t *r = &ex.replies[c];
        if ((c == C_STOP || c == C_AFTER) && !ex.phase_two) continue;
        if (!r->got) {
            if (failed && memory) continue;
            snprintf(why, len, "no answer to '%s'%s", call_names[c],
                     failed ? " and no line says memory ran out" : "");
            return why;
        }
        if (r->status == wanted_error(c) && (r->status || right_value(c, r)))
            continue;
        if (failed && (r->status == STAGE_ENOMEM || reply_says_memory(r)))
            continue;
        if (c == C_COUNT && !r->status && failed && memory)
            continue; /* the one-way note was lost, with a log line */
        int k = snprintf(why, len, "'%s' answered status %d%s:", call_names[c],
                         r->status, r->status ? "" : " with a wrong value");
        for (size_t i = 0; i < r->len && i < 40 && k + 4 < (int)len; i++)
            k += snprintf(why + k, len - (size_t)k, " %02x",
                          (unsigned char)r->value[i]);
        return why;
    }
    if (!ex.dht_reply && !(failed && memory)) {
        snprintf(why, len, "no DHT reply to the lookup");
        return why;
    }
    if (!failed && runlog.bad != 1) {
        snprintf(why, len, "%d warnings, wanted 1 (the malformed frame)",
                 runlog.bad);
        return why;
    }
    return NULL;
}

/* The DHT reply must be a reply to our lookup (decoded now: allocates). */
static const char *judge_dht(const world_t *w, uint64_t rid, char *why,
                             size_t len) {
    if (!ex.dht_reply) return NULL;
    stage_dht_msg_t m;
    if (stage_dht_msg_decode(&m, ex.dht_body, ex.dht_len, w->addr,
                             w->manager)) {
        snprintf(why, len, "the DHT reply does not decode");
        return why;
    }
    bool ok = m.type == STAGE_DHT_M_REPLY && m.rid == rid;
    stage_dht_msg_clear(&m);
    if (ok) return NULL;
    snprintf(why, len, "the DHT reply is not the lookup's");
    return why;
}

/* ---- one exchange --------------------------------------------------------
 */

static char hang_msg[160];

static void on_alarm(int sig) {
    (void)sig;
    ssize_t w = write(2, hang_msg, strlen(hang_msg));
    (void)w;
    _exit(3);
}

/* One connection's exchange with allocation n failing (0: none). Returns
** 0 if it passed; counts the allocations it saw in *counted. */
static int exchange(world_t *w, uint64_t n, uint32_t inc, uint64_t *counted,
                    bool *failed) {
    stage_pack_t one = STAGE_PACK_INIT;
    memset(&ex.replies, 0, sizeof ex.replies);
    ex.rxlen = ex.parsed = 0;
    ex.hello = ex.closed = ex.dht_reply = ex.phase_two = false;
    ex.users = 0;
    batch_one(&one, w, inc);
    runlog_reset();
    snprintf(hang_msg, sizeof hang_msg,
             "fault_intake: the exchange with allocation %llu failed hung "
             "for 20 s\n",
             (unsigned long long)n);
    alarm(20);
    int fd = dial(w->addr);
    fault_arm(n, false);
    converse(fd, &one);
    *counted = fault_disarm();
    *failed = fault_failed() != 0;
    if (!ex.closed) say_goodbye(fd);
    close(fd);
    if (ex.closed) come_back_and_leave(w, inc);
    alarm(0);
    stage_pack_free(&one);
    char why[256];
    const char *bad = judge(*failed, why, sizeof why);
    if (!bad) bad = judge_dht(w, inc, why, sizeof why);
    if (!bad) return 0;
    fprintf(stderr,
            "fault_intake: allocation %llu of the exchange failed: %s "
            "(failed: %s, connection closed: %s)\n",
            (unsigned long long)n, bad, *failed ? "yes" : "no",
            ex.closed ? "yes" : "no");
    runlog_print();
    return 1;
}

/* ---- the sweep -----------------------------------------------------------
 */

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fault_intake INTAKE.lua\n");
        return 2;
    }
    script = argv[1];
    fault_install();
    stage_set_log(runlog_fn, &runlog);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    long live = fault_live();
    world_t w;
    world_open(&w);
    uint32_t inc = 100;
    uint64_t total = 0, counted;
    bool failed;
    for (int i = 0; i < 2; i++) /* the first warms the node up */
        if (exchange(&w, 0, inc++, &total, &failed)) {
            fprintf(stderr, "fault_intake: the exchange fails without "
                            "faults\n");
            return 1;
        }
    uint64_t only = env_u64("STAGE_FAULT_N", 0), *plan;
    uint64_t seed = env_u64("STAGE_FAULT_SEED", 1);
    size_t np = 1;
    if (only) {
        plan = malloc(sizeof *plan);
        plan[0] = only;
    } else {
        np = fault_plan(total, 4000, 5, 300, seed, &plan);
    }
    fprintf(stderr,
            "fault_intake: %llu allocations an exchange, %zu exchanges "
            "(seed %llu)\n",
            (unsigned long long)total, np, (unsigned long long)seed);
    int bad = 0, absorbed = 0, max_bad = (int)env_u64("STAGE_FAULT_MAX_BAD", 5);
    double t0 = now(), slowest = 0;
    uint64_t slowest_n = 0;
    for (size_t i = 0; i < np && bad < max_bad; i++) {
        double t = now();
        bad += exchange(&w, plan[i], inc++, &counted, &failed);
        absorbed += failed && !ex.closed && all_answered();
        if (now() - t > slowest) {
            slowest = now() - t;
            slowest_n = plan[i];
        }
    }
    /* the node still serves as if nothing had happened */
    if (exchange(&w, 0, inc++, &counted, &failed)) {
        fprintf(stderr, "fault_intake: the node does not serve after the "
                        "sweep\n");
        bad++;
    }
    double secs = now() - t0;
    world_close(&w);
    free(plan);
    stage__pack_cache_free();
    long leaked = fault_live() - live;
    if (leaked) {
        fprintf(stderr,
                "fault_intake: %ld blocks leaked over the sweep (replay "
                "single allocations with STAGE_FAULT_N to find which)\n",
                leaked);
        bad++;
    }
    fprintf(stderr,
            "fault_intake: %d exchanges absorbed the failure, %zu answered "
            "some call with an error or lost it with a log line, %d went "
            "wrong; %.1f s, the slowest %.0f ms (allocation %llu)\n",
            absorbed, np - (size_t)absorbed, bad, secs, slowest * 1e3,
            (unsigned long long)slowest_n);
    return bad != 0;
}
