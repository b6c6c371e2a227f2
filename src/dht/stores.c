/*
** dht/stores.c: the typed stores on the key/value layer (thesis 4.3).
**
**   hosts       H(1 || manager id, 8 bytes LE) -> [addr, cores, load, mobile,
**                                                   actors]
**   names       H(2 || name)      -> actor id              (claim: atomic)
**   types       H(3 || type)      -> items [0, actor id] and [1, "subtype"]
**   migrations  H(4 || old id text) -> current id
**   sources     H(5 || type)      -> [source, version hash]; sub = hash
**   services    H(6 || tag)       -> items [0, ref] and [1, "subtag"]
**
** H is the first 8 bytes of BLAKE2b. Set-valued stores (types, services)
** keep one item per value, its sub being the hash of the value, so many
** nodes add and remove their own items under one key. Values are msgpack.
** Pure logic: no I/O.
*/
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dht_internal.h"
#include "stage/errors.h"
#include "stage/pack.h"

uint64_t stage_dht_key(int store, const void *key, size_t len) {
    crypto_generichash_state st;
    unsigned char out[8], s = (unsigned char)store;
    /* picks the fastest BLAKE2b; once done, a cheap check. Should it fail,
    ** the portable implementation gives the same bytes: nothing to do. */
    int init = sodium_init();
    (void)init;
    crypto_generichash_init(&st, NULL, 0, sizeof(out));
    crypto_generichash_update(&st, &s, 1);
    crypto_generichash_update(&st, key, len);
    crypto_generichash_final(&st, out, sizeof(out));
    uint64_t k = 0;
    for (int i = 7; i >= 0; i--)
        k = k << 8 | out[i];
    return k;
}

static uint64_t skey(int store, const char *s) {
    return stage_dht_key(store, s, strlen(s));
}

static uint64_t id_key(int store, const stage_id_t *id) {
    char text[STAGE_ID_TEXT_MAX];
    int n = stage_id_format(id, text, sizeof(text));
    return n < 0 ? 0 : stage_dht_key(store, text, (size_t)n);
}

/* Write with the packed value p (freed here). */
static int put_packed(stage_dht_t *d, uint64_t now, uint64_t req, int op,
                      uint64_t k, uint64_t sub, uint32_t flags,
                      stage_pack_t *p) {
    int rc = stage_pack_error(p);
    if (rc == 0)
        rc = stage__dht_put_flags(d, now, req, op, k, sub, flags, p->data,
                                  p->len);
    stage_pack_free(p);
    return rc;
}

/* The sub of a set item: a hash of its packed value. */
static uint64_t item_sub(const stage_pack_t *p) {
    uint64_t s = p->err ? 0 : stage_dht_key(0, p->data, p->len);
    return s ? s : 1;
}

static int set_item(stage_dht_t *d, uint64_t now, uint64_t req, int store,
                    const char *key, int kind, const stage_id_t *id,
                    const char *name, bool remove) {
    if (!key || !*key || (kind == 0 && !id) || (kind == 1 && !name))
        return STAGE_EINVAL;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_int(&p, kind);
    if (kind == 0)
        stage_pack_id(&p, id);
    else
        stage_pack_cstr(&p, name);
    uint64_t sub = item_sub(&p);
    if (remove) {
        stage_pack_free(&p);
        return stage_dht_remove(d, now, req, skey(store, key), sub);
    }
    return put_packed(d, now, req, STAGE_DHT_OP_PUT, skey(store, key), sub, 0,
                      &p);
}

int stage_dht_host_put(stage_dht_t *d, uint64_t now, uint64_t req,
                       const stage_dht_host_t *h) {
    if (!h) return STAGE_EINVAL;
    uint64_t id = d->self.id;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(id >> (8 * i));
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 5);
    stage_pack_str(&p, h->addr, strnlen(h->addr, STAGE_ADDR_MAX - 1));
    stage_pack_int(&p, h->cores);
    stage_pack_double(&p, h->load);
    stage_pack_bool(&p, h->mobile != 0);
    stage_pack_int(&p, h->actors);
    return put_packed(d, now, req, STAGE_DHT_OP_PUT,
                      stage_dht_key(STAGE_DHT_HOSTS, b, 8), 0, RF_REPLACE, &p);
}

int stage_dht_host_decode(const char *value, size_t len, stage_dht_host_t *h) {
    stage_unpack_t u;
    uint32_t n;
    const char *addr;
    size_t alen;
    int64_t cores, actors;
    double load;
    bool mobile;
    stage_unpack_init(&u, value, len);
    if (stage_unpack_array(&u, &n) || n < 5 ||
        stage_unpack_str(&u, &addr, &alen) || !alen || alen >= STAGE_ADDR_MAX ||
        memchr(addr, 0, alen) || stage_unpack_int(&u, &cores) || cores < 1 ||
        cores > 65536 || stage_unpack_double(&u, &load) ||
        !(load >= 0 && load < 1e9) || stage_unpack_bool(&u, &mobile) ||
        stage_unpack_int(&u, &actors) || actors < 0 || actors > UINT32_MAX)
        return STAGE_EDECODE;
    memcpy(h->addr, addr, alen);
    h->addr[alen] = 0;
    h->cores = (int)cores;
    h->load = load;
    h->mobile = mobile;
    h->actors = (uint32_t)actors;
    return 0;
}

int stage_dht_host_get(stage_dht_t *d, uint64_t now, uint64_t req,
                       uint64_t manager) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(manager >> (8 * i));
    return stage_dht_get(d, now, req, stage_dht_key(STAGE_DHT_HOSTS, b, 8));
}

int stage_dht_name_claim(stage_dht_t *d, uint64_t now, uint64_t req,
                         const char *name, const stage_id_t *actor) {
    if (!name || !*name || !actor) return STAGE_EINVAL;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_id(&p, actor);
    /* a restarted node takes over the names of its earlier run at once */
    return put_packed(d, now, req, STAGE_DHT_OP_CLAIM,
                      skey(STAGE_DHT_NAMES, name), 0, RF_TAKEOVER, &p);
}

int stage_dht_name_find(stage_dht_t *d, uint64_t now, uint64_t req,
                        const char *name) {
    if (!name || !*name) return STAGE_EINVAL;
    return stage_dht_get(d, now, req, skey(STAGE_DHT_NAMES, name));
}

int stage_dht_name_move(stage_dht_t *d, uint64_t now, uint64_t req,
                        const char *name, const stage_id_t *from,
                        const stage_id_t *to) {
    if (!name || !*name || !from || !to) return STAGE_EINVAL;
    stage_pack_t e = STAGE_PACK_INIT, v = STAGE_PACK_INIT;
    stage_pack_id(&e, from);
    stage_pack_id(&v, to);
    int rc = stage_pack_error(&e) || stage_pack_error(&v)
                 ? STAGE_ENOMEM
                 : stage_dht_cas(d, now, req, skey(STAGE_DHT_NAMES, name),
                                 e.data, e.len, v.data, v.len);
    stage_pack_free(&e);
    stage_pack_free(&v);
    return rc;
}

void stage_dht_name_forget(stage_dht_t *d, const char *name) {
    if (name && *name) stage__dht_forget(d, skey(STAGE_DHT_NAMES, name), 0);
}

int stage_dht_name_release(stage_dht_t *d, uint64_t now, uint64_t req,
                           const char *name) {
    if (!name || !*name) return STAGE_EINVAL;
    return stage_dht_remove(d, now, req, skey(STAGE_DHT_NAMES, name), 0);
}

int stage_dht_type_add(stage_dht_t *d, uint64_t now, uint64_t req,
                       const char *type, const stage_id_t *actor) {
    return set_item(d, now, req, STAGE_DHT_TYPES, type, 0, actor, NULL, false);
}

int stage_dht_type_add_subtype(stage_dht_t *d, uint64_t now, uint64_t req,
                               const char *type, const char *subtype) {
    return set_item(d, now, req, STAGE_DHT_TYPES, type, 1, NULL, subtype,
                    false);
}

int stage_dht_type_remove(stage_dht_t *d, uint64_t now, uint64_t req,
                          const char *type, const stage_id_t *actor) {
    return set_item(d, now, req, STAGE_DHT_TYPES, type, 0, actor, NULL, true);
}

int stage_dht_type_find(stage_dht_t *d, uint64_t now, uint64_t req,
                        const char *type) {
    if (!type || !*type) return STAGE_EINVAL;
    return stage_dht_get(d, now, req, skey(STAGE_DHT_TYPES, type));
}

int stage_dht_migration_put(stage_dht_t *d, uint64_t now, uint64_t req,
                            const stage_id_t *old, const stage_id_t *cur) {
    if (!old || !cur) return STAGE_EINVAL;
    uint64_t k = id_key(STAGE_DHT_MIGRATIONS, old);
    if (!k) return STAGE_EINVAL;
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_id(&p, cur);
    return put_packed(d, now, req, STAGE_DHT_OP_PUT, k, 0, RF_REPLACE, &p);
}

int stage_dht_migration_remove(stage_dht_t *d, uint64_t now, uint64_t req,
                               const stage_id_t *old) {
    uint64_t k = old ? id_key(STAGE_DHT_MIGRATIONS, old) : 0;
    if (!k) return STAGE_EINVAL;
    return stage_dht_remove(d, now, req, k, 0);
}

int stage_dht_migration_find(stage_dht_t *d, uint64_t now, uint64_t req,
                             const stage_id_t *old) {
    uint64_t k = old ? id_key(STAGE_DHT_MIGRATIONS, old) : 0;
    if (!k) return STAGE_EINVAL;
    return stage_dht_get(d, now, req, k);
}

int stage_dht_source_put(stage_dht_t *d, uint64_t now, uint64_t req,
                         const char *type, const char *src, size_t len,
                         int update) {
    if (!type || !stage_type_name_valid(type) || (!src && len))
        return STAGE_EINVAL;
    uint64_t version = stage_dht_key(STAGE_DHT_SOURCES, src, len);
    stage_pack_t p = STAGE_PACK_INIT;
    stage_pack_array(&p, 2);
    stage_pack_str(&p, src, len);
    stage_pack_int(&p, (int64_t)version);
    int op = update ? STAGE_DHT_OP_PUT : STAGE_DHT_OP_CLAIM;
    uint32_t flags = update ? RF_REPLACE : RF_BYSUB;
    return put_packed(d, now, req, op, skey(STAGE_DHT_SOURCES, type),
                      version ? version : 1, flags, &p);
}

int stage_dht_source_get(stage_dht_t *d, uint64_t now, uint64_t req,
                         const char *type) {
    if (!type || !*type) return STAGE_EINVAL;
    return stage_dht_get(d, now, req, skey(STAGE_DHT_SOURCES, type));
}

int stage_dht_service_export(stage_dht_t *d, uint64_t now, uint64_t req,
                             const char *tag, const stage_id_t *ref) {
    return set_item(d, now, req, STAGE_DHT_SERVICES, tag, 0, ref, NULL, false);
}

int stage_dht_service_add_subtag(stage_dht_t *d, uint64_t now, uint64_t req,
                                 const char *tag, const char *subtag) {
    return set_item(d, now, req, STAGE_DHT_SERVICES, tag, 1, NULL, subtag,
                    false);
}

int stage_dht_service_retract(stage_dht_t *d, uint64_t now, uint64_t req,
                              const char *tag, const stage_id_t *ref) {
    return set_item(d, now, req, STAGE_DHT_SERVICES, tag, 0, ref, NULL, true);
}

int stage_dht_service_find(stage_dht_t *d, uint64_t now, uint64_t req,
                           const char *tag) {
    if (!tag || !*tag) return STAGE_EINVAL;
    return stage_dht_get(d, now, req, skey(STAGE_DHT_SERVICES, tag));
}

int stage_dht_service_watch(stage_dht_t *d, uint64_t now, uint64_t req,
                            const char *tag) {
    if (!tag || !*tag) return STAGE_EINVAL;
    return stage_dht_watch(d, now, req, skey(STAGE_DHT_SERVICES, tag));
}
