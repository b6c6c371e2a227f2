/*
** net/deaths.c: a node incarnation declared dead, and the news of it
** spreading over the system (issue 10, "failure detection everyone
** agrees on").
**
** A node declares a peer incarnation dead itself (its session's failure
** detector: silence past --node-timeout, refused connects; or the peer was
** replaced by a new incarnation at its address) or hears it from another
** node in a NODE_DOWN frame [address, incarnation, manager, why]. Either
** way, once per incarnation:
**   - the transport quarantines it (its session ends: calls to it fail
**     with NodeDown, later sends to its actors fail at once);
**   - the DHT manager drops the entries its manager owns (its names and
**     type registrations) and refuses them for a lease
**     (stage_dht_owner_gone), instead of waiting for the leases to run
**     out; cached names of its actors go; the supertype links of this
**     node's types are put again (one it wrote last went with it);
**   - every node this one has a live session with is told (NODE_DOWN),
**     but the dead one and the one that told us. The news floods the
**     graph of sessions, which every ring member is part of (its
**     neighbours on the ring at least), each node passing it on once.
** News is believed: a node that still hears the one declared dead ends
** its session too, and that node is answered DEAD when it comes back (it
** stops; after a partition the smaller side yields, transport's
** wins_split). The lease stays the backstop for nodes the news does not
** reach.
** Recent verdicts are kept (DEATHS_MAX, for a lease's time) so a flood
** stops where it has been. Loop thread only.
*/
#include <stdio.h>
#include <string.h>

#include "netnode.h"
#include "net/addr.h"
#include "stage/errors.h"
#include "util/alloc.h"
#include "util/log.h"

#define DEATHS_MAX 256 /* recent verdicts remembered */

typedef struct stage__death {
    char addr[STAGE_ADDR_MAX];
    uint32_t incarnation;
    uint64_t until; /* loop ms; 0: free */
} death_t;

/* The slot remembering (addr, inc), or NULL. */
static death_t *known(stage__netnode_t *nn, const char *addr, uint32_t inc,
                      uint64_t now) {
    for (int i = 0; i < DEATHS_MAX && nn->deaths; i++) {
        death_t *d = &nn->deaths[i];
        if (d->until > now && d->incarnation == inc && !strcmp(d->addr, addr))
            return d;
    }
    return NULL;
}

/* Remember (addr, inc) until now + ms: false if it was known already. A
** full table forgets the verdict expiring first. */
static bool remember(stage__netnode_t *nn, const char *addr, uint32_t inc,
                     uint64_t now, uint64_t ms) {
    if (known(nn, addr, inc, now)) return false;
    if (!nn->deaths &&
        !(nn->deaths = stage__calloc(DEATHS_MAX, sizeof *nn->deaths)))
        return true; /* no memory: act, and maybe again on a repeat */
    death_t *slot = &nn->deaths[0];
    for (int i = 1; i < DEATHS_MAX && slot->until > now; i++)
        if (nn->deaths[i].until < slot->until) slot = &nn->deaths[i];
    stage__addr_copy(slot->addr, addr);
    slot->incarnation = inc;
    slot->until = now + ms;
    return true;
}

typedef struct flood {
    stage__netnode_t *nn;
    const char *addr, *from; /* not told: the dead node, the teller */
    const char *body;
    size_t len;
    int told;
} flood_t;

static void tell(void *ud, const char *peer, uint32_t inc) {
    flood_t *f = ud;
    (void)inc;
    if (!strcmp(peer, f->addr) || (f->from && !strcmp(peer, f->from))) return;
    if (stage__netnode_send_frame(f->nn, peer, FRAME_NODE_DOWN, f->body,
                                  f->len) == 0)
        f->told++;
}

void stage__deaths_declare(stage__netnode_t *nn, const char *addr,
                           uint32_t incarnation, uint64_t manager,
                           const char *why, const char *from) {
    uint64_t now = uv_now(&nn->loop);
    if (!incarnation || !remember(nn, addr, incarnation, now, nn->lease_ms))
        return;
    if (!manager) manager = stage__netnode_known_manager(nn, addr, incarnation);
    if (from)
        LOG_WARN("node '%s' (incarnation %x) is dead, says '%s': %s", addr,
                 incarnation, from, why);
    /* its session ends here too (calls fail, sends to it fail at once) */
    stage__transport_declare_dead(nn->tr, addr, incarnation, why);
    stage__lookup_forget_node(nn, addr);
    int dropped = manager ? stage_dht_owner_gone(nn->dht, now, manager) : 0;
    /* the supertype links it wrote last went too: this node's come back
    ** at once (an actor that lived here, born there, is found by its
    ** supertype as by its type) */
    size_t relinked = dropped > 0 ? stage__hold_relink(&nn->holdings, now) : 0;
    stage__lookup_drain(nn);
    stage_pack_t p = STAGE_PACK_INIT;
    int rc = stage__node_death_encode(&p, addr, incarnation, manager, why);
    flood_t f = {nn, addr, from, p.data, p.len, 0};
    if (!rc) stage__transport_each_session(nn->tr, tell, &f);
    stage_pack_free(&p);
    LOG_DEBUG("node '%s' (incarnation %x) dead: %d of its DHT entries "
              "dropped here, %zu supertype links put again, %d nodes told",
              addr, incarnation, dropped, relinked, f.told);
}

int stage__deaths_in_frame(stage__netnode_t *nn, const char *peer,
                           const char *body, size_t len) {
    stage__node_death_t d;
    char addr[STAGE_ADDR_MAX], canon[STAGE_ADDR_MAX];
    char why[STAGE__NODE_WHY_MAX + 1];
    struct sockaddr_storage ss;
    if (stage__node_death_decode(&d, body, len)) return STAGE_EDECODE;
    memcpy(addr, d.addr, d.alen);
    addr[d.alen] = '\0';
    /* the codec checked its form; canonical, it names one node */
    if (stage__addr_parse(addr, &ss) ||
        stage__addr_format((struct sockaddr *)&ss, canon, sizeof canon) ||
        strcmp(canon, addr))
        return STAGE_EDECODE;
    snprintf(why, sizeof why, "%.*s", (int)d.wlen, d.why);
    if (!strcmp(addr, nn->address)) {
        /* about this node: its sessions with the teller's side are gone
        ** or going; a DEAD answers its next handshake, and the transport
        ** decides then whether this node yields */
        LOG_WARN("'%s' says this node (incarnation %x) is dead: %s", peer,
                 d.incarnation, why);
        return 0;
    }
    stage__deaths_declare(nn, addr, d.incarnation, d.manager, why, peer);
    return 0;
}

void stage__deaths_close(stage__netnode_t *nn) {
    stage__free(nn->deaths);
    nn->deaths = NULL;
}
