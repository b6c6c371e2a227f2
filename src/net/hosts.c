/*
** net/hosts.c: this node's entry in the DHT's hosts store (thesis 4.3:
** manager id -> [address, theatres, load, takes movers, actors]), and
** reading the entries of the nodes it has sessions with — a node that
** drains chooses where its actors go by them (node/evacuate.h).
**
** Publishing: once joined, at the sweep (every 500 ms), when the figures
** changed and a second has passed since the last put, or every lease/3
** anyway (a put replaces the entry and renews its lease). The load is the
** runnable actors per theatre, smoothed over the last seconds (one sample
** a sweep): a burst of spawns does not make a node look busy for long.
** Runs on the loop's owner (netnode.h).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/theatre.h"
#include "netnode.h"
#include "util/alloc.h"
#include "util/log.h"

#define HOSTS_MIN_MS 1000 /* between two puts that carry news */
#define HOSTS_SMOOTH 0.3  /* weight of the newest sample in the load */
#define HOSTS_MAX 256     /* entries a fetch reads */

typedef struct fetch {
    stage__hosts_cb cb;
    void *arg;
    int outstanding;
    size_t n;
    stage_dht_host_t hosts[HOSTS_MAX];
} fetch_t;

struct stage__hosts {
    stage_dht_host_t last; /* what was put last */
    uint64_t put_at;       /* loop ms of the last put; 0: never */
    double load;           /* smoothed runnable actors per theatre */
    stage_u64map_t reqs;   /* DHT request id -> fetch_t */
};

static uint64_t now_ms(stage__netnode_t *nn) {
    return uv_now(&nn->loop);
}

int stage__hosts_start(stage__netnode_t *nn) {
    nn->hosts = stage__calloc(1, sizeof *nn->hosts);
    return nn->hosts ? 0 : STAGE_ENOMEM;
}

/* The node stops: a fetch ends with its last request, Stopped. */
static void fetch_drop(uint64_t key, void *val, void *ud) {
    (void)key;
    fetch_t *f = val;
    if (--f->outstanding) return;
    f->cb(ud, f->arg, STAGE_ESTOPPED, f->hosts, f->n);
    stage__free(f);
}

void stage__hosts_close(stage__netnode_t *nn) {
    if (!nn->hosts) return;
    stage__u64map_each(&nn->hosts->reqs, fetch_drop, nn);
    stage__u64map_free(&nn->hosts->reqs);
    stage__free(nn->hosts);
    nn->hosts = NULL;
}

/* This node's entry as of now (load: the smoothed one). */
static void entry(stage__netnode_t *nn, stage_dht_host_t *h) {
    stage__hosts_t *hs = nn->hosts;
    memset(h, 0, sizeof *h);
    stage__addr_copy(h->addr, nn->address);
    h->cores = stage_node_theatres(nn->node);
    h->load = round(hs->load * 100) / 100;       /* news at 0.01, not noise */
    h->mobile = !stage__node_draining(nn->node); /* not while it drains */
    unsigned runnable, actors;
    stage__place_node_load(nn->node, &runnable, &actors);
    h->actors = actors;
}

static void put(stage__netnode_t *nn, const stage_dht_host_t *h) {
    stage__hosts_t *hs = nn->hosts;
    /* fire and forget: the manager renews the lease; a put that fails is
    ** made again at the next sweep with news, or at lease/3 */
    int rc = stage_dht_host_put(nn->dht, now_ms(nn), ++nn->next_id, h);
    if (rc) {
        LOG_DEBUG("host entry not put: %s", stage_strerror(rc));
        return;
    }
    hs->last = *h;
    hs->put_at = now_ms(nn);
    stage__lookup_drain(nn);
}

void stage__hosts_sweep(stage__netnode_t *nn) {
    stage__hosts_t *hs = nn->hosts;
    if (!hs || !atomic_load(&nn->joined)) return;
    unsigned runnable, actors;
    stage__place_node_load(nn->node, &runnable, &actors);
    int cores = stage_node_theatres(nn->node);
    double sample = (double)runnable / (cores > 0 ? cores : 1);
    hs->load += HOSTS_SMOOTH * (sample - hs->load);
    stage_dht_host_t h;
    entry(nn, &h);
    uint64_t now = now_ms(nn), since = now - hs->put_at;
    bool news = h.load != hs->last.load || h.actors != hs->last.actors ||
                h.mobile != hs->last.mobile || h.cores != hs->last.cores;
    if (!hs->put_at || (news && since >= HOSTS_MIN_MS) ||
        since >= nn->lease_ms / 3)
        put(nn, &h);
}

void stage__hosts_now(stage__netnode_t *nn) {
    if (!nn->hosts || !atomic_load(&nn->joined)) return;
    stage_dht_host_t h;
    entry(nn, &h);
    put(nn, &h);
}

/* ---- reading others' entries -------------------------------------------- */

typedef struct asking {
    stage__netnode_t *nn;
    fetch_t *f;
    int rc;
} asking_t;

static void ask_one(void *ud, const char *addr, uint32_t incarnation) {
    (void)incarnation;
    asking_t *a = ud;
    stage__netnode_t *nn = a->nn;
    uint64_t manager = stage__transport_peer_manager(nn->tr, addr);
    if (!manager || a->rc || a->f->outstanding >= HOSTS_MAX) return;
    uint64_t req = ++nn->next_id;
    if (stage__u64map_put(&nn->hosts->reqs, req, a->f)) {
        a->rc = STAGE_ENOMEM;
        return;
    }
    int rc = stage_dht_host_get(nn->dht, now_ms(nn), req, manager);
    if (rc) {
        stage__u64map_take(&nn->hosts->reqs, req);
        return; /* that node is left out */
    }
    a->f->outstanding++;
}

int stage__hosts_fetch(stage__netnode_t *nn, stage__hosts_cb cb, void *arg) {
    if (!nn->hosts) return STAGE_ESTOPPED;
    fetch_t *f = stage__calloc(1, sizeof *f);
    if (!f) return STAGE_ENOMEM;
    f->cb = cb;
    f->arg = arg;
    f->outstanding = 1; /* this call's, until every request is out */
    asking_t a = {nn, f, 0};
    stage__transport_each_session(nn->tr, ask_one, &a);
    stage__lookup_drain(nn); /* a lone manager answers at once */
    if (--f->outstanding == 0) {
        cb(nn, arg, 0, f->hosts, f->n);
        stage__free(f);
    }
    return 0;
}

bool stage__hosts_done(stage__netnode_t *nn, const stage_dht_effect_t *x) {
    fetch_t *f =
        nn->hosts ? stage__u64map_take(&nn->hosts->reqs, x->req) : NULL;
    if (!f) return false;
    stage_dht_host_t h;
    if (x->status == 0 && x->nitems &&
        stage_dht_host_decode(x->items[0].value, x->items[0].len, &h) == 0 &&
        f->n < HOSTS_MAX)
        f->hosts[f->n++] = h;
    else if (x->status == 0 && x->nitems)
        LOG_WARN("a host entry in the DHT is not one (%zu bytes): ignored",
                 (size_t)x->items[0].len);
    if (--f->outstanding == 0) {
        f->cb(nn, f->arg, 0, f->hosts, f->n);
        stage__free(f);
    }
    return true;
}

/* ---- stage.hosts() ------------------------------------------------------ */

static void answer(stage__netnode_t *nn, void *arg, int status,
                   const stage_dht_host_t *hosts, size_t n) {
    stage__netnode_item_t *it = arg;
    if (status) {
        stage__future_reject(it->f, status,
                             "the node stopped before the DHT answered", NULL,
                             NULL);
    } else {
        stage_dht_host_t self;
        entry(nn, &self);
        uint32_t k = 1;
        for (size_t i = 0; i < n; i++)
            k += strcmp(hosts[i].addr, self.addr) != 0;
        stage_pack_t p = STAGE_PACK_INIT;
        stage_pack_array(&p, k);
        stage__host_pack(&p, self.addr, self.cores, self.load, self.mobile,
                         self.actors);
        for (size_t i = 0; i < n; i++)
            if (strcmp(hosts[i].addr, self.addr))
                stage__host_pack(&p, hosts[i].addr, hosts[i].cores,
                                 hosts[i].load, hosts[i].mobile,
                                 hosts[i].actors);
        if (stage_pack_error(&p))
            stage__future_reject(it->f, STAGE_ENOMEM, NULL, NULL, NULL);
        else
            stage__future_resolve(it->f, p.data, p.len);
        stage_pack_free(&p);
    }
    stage__future_unref(it->f);
    stage__free(it);
}

void stage__hosts_request(stage__netnode_t *nn, stage__netnode_item_t *it) {
    int rc = stage__hosts_fetch(nn, answer, it);
    if (rc) {
        stage__future_reject(it->f, rc, "cannot read the hosts store", NULL,
                             NULL);
        stage__future_unref(it->f);
        stage__free(it);
    }
}
