/* CID routing table. See cidmap.h. */
#include "cidmap.h"

#include <stdlib.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* SipHash-1-3: inputs are at most 20 bytes, so speed matters more than the margin of 2-4. */
static uint64_t siphash13(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len)
{
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    size_t end = len - (len % 8);
    for (size_t i = 0; i < end; i += 8) {
        uint64_t m = load64(in + i);
        v[3] ^= m;
        sip_round(v);
        v[0] ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[end + i] << (8 * i);
    v[3] ^= b;
    sip_round(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sip_round(v);
    sip_round(v);
    sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static size_t bucket(const tern_cidmap *m, const tern_cid *cid)
{
    return (size_t)siphash13(m->k0, m->k1, cid->data, cid->len) & (m->nb - 1);
}

#define MIN_BUCKETS 64

int tern_cidmap_init(tern_cidmap *m, const uint8_t key[16])
{
    m->nb = MIN_BUCKETS;
    m->n = 0;
    m->k0 = load64(key);
    m->k1 = load64(key + 8);
    m->b = calloc(m->nb, sizeof(*m->b));
    return m->b ? 0 : TERN_ERR_NOMEM;
}

void tern_cidmap_free(tern_cidmap *m)
{
    for (size_t i = 0; m->b && i < m->nb; i++) {
        tern_cidmap_node *e = m->b[i];
        while (e) {
            tern_cidmap_node *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->b);
    m->b = NULL;
    m->nb = m->n = 0;
}

static void resize(tern_cidmap *m, size_t nb)
{
    tern_cidmap_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* longer (or fewer, emptier) chains, still correct */
    size_t old = m->nb;
    tern_cidmap_node **ob = m->b;
    m->b = b;
    m->nb = nb;
    for (size_t i = 0; i < old; i++) {
        tern_cidmap_node *e = ob[i];
        while (e) {
            tern_cidmap_node *next = e->next;
            size_t k = bucket(m, &e->cid);
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(ob);
}

void *tern_cidmap_find(const tern_cidmap *m, const tern_cid *cid)
{
    for (tern_cidmap_node *e = m->b[bucket(m, cid)]; e; e = e->next)
        if (tern_cid_eq(&e->cid, cid))
            return e->val;
    return NULL;
}

int tern_cidmap_insert(tern_cidmap *m, const tern_cid *cid, void *val,
                       tern_cidmap_node **owner_list)
{
    if (cid->len > TERN_MAX_CID_LEN)
        return TERN_ERR_INVALID_ARG;
    if (tern_cidmap_find(m, cid))
        return TERN_ERR_INVALID_ARG;
    if (m->n >= m->nb)
        resize(m, m->nb * 2);
    tern_cidmap_node *e = malloc(sizeof(*e));
    if (!e)
        return TERN_ERR_NOMEM;
    e->cid = *cid;
    e->val = val;
    size_t k = bucket(m, cid);
    e->next = m->b[k];
    m->b[k] = e;
    e->owner_next = *owner_list;
    *owner_list = e;
    m->n++;
    return 0;
}

static void unlink_bucket(tern_cidmap *m, tern_cidmap_node *node)
{
    tern_cidmap_node **pp = &m->b[bucket(m, &node->cid)];
    while (*pp && *pp != node)
        pp = &(*pp)->next;
    if (*pp)
        *pp = node->next;
    m->n--;
}

/* The table shrinks as it grew, so that a server that once held many connections gives the
 * memory back when they are gone; between a load of 1/8 and 1 it keeps its size, so that
 * connections coming and going never resize it back and forth. */
static void maybe_shrink(tern_cidmap *m)
{
    size_t nb = m->nb;
    while (nb > MIN_BUCKETS && m->n < nb / 8)
        nb /= 2;
    if (nb != m->nb)
        resize(m, nb);
}

void tern_cidmap_remove(tern_cidmap *m, const tern_cid *cid, void *val,
                        tern_cidmap_node **owner_list)
{
    for (tern_cidmap_node **pp = owner_list; *pp; pp = &(*pp)->owner_next) {
        tern_cidmap_node *e = *pp;
        if (e->val == val && tern_cid_eq(&e->cid, cid)) {
            *pp = e->owner_next;
            unlink_bucket(m, e);
            free(e);
            maybe_shrink(m);
            return;
        }
    }
}

void tern_cidmap_remove_owner(tern_cidmap *m, tern_cidmap_node **owner_list)
{
    tern_cidmap_node *e = *owner_list;
    while (e) {
        tern_cidmap_node *next = e->owner_next;
        unlink_bucket(m, e);
        free(e);
        e = next;
    }
    *owner_list = NULL;
    maybe_shrink(m);
}
