/* QUIC-LB connection IDs and the server's CID generator (see qlb.h). */
#include "qlb.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

int tern_qlb_init(tern_qlb *q, unsigned config_id, const uint8_t *sid, size_t sid_len,
                  size_t nonce_len, const uint8_t *key, int encode_len)
{
    memset(q, 0, sizeof(*q));
    if (config_id >= TERN_QLB_UNROUTABLE || !sid || sid_len < 1 || sid_len > TERN_QLB_MAX_SID ||
        nonce_len < TERN_QLB_MIN_NONCE || sid_len + nonce_len > TERN_QLB_MAX_PLAIN)
        return TERN_ERR_CONFIG;
    q->config_id = (uint8_t)config_id;
    q->sid_len = (uint8_t)sid_len;
    q->nonce_len = (uint8_t)nonce_len;
    q->encode_len = encode_len != 0;
    memcpy(q->sid, sid, sid_len);
    if (!key)
        return 0;
    uint8_t k[16], iv[16] = {0};
    memcpy(k, key, 16);
    gnutls_datum_t kd = {k, 16}, ivd = {iv, 16};
    gnutls_cipher_hd_t h;
    int rv = gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &kd, &ivd);
    gnutls_memset(k, 0, sizeof(k));
    if (rv < 0)
        return TERN_ERR_CRYPTO;
    q->aes = h;
    return 0;
}

void tern_qlb_free(tern_qlb *q)
{
    if (q->aes)
        gnutls_cipher_deinit((gnutls_cipher_hd_t)q->aes);
    q->aes = NULL;
}

size_t tern_qlb_len(const tern_qlb *q)
{
    return 1u + q->sid_len + q->nonce_len;
}

/* One AES-128-ECB block: CBC with the IV reset to zero before each block. */
static int ecb(tern_qlb *q, int decrypt, const uint8_t in[16], uint8_t out[16])
{
    uint8_t zero[16] = {0};
    gnutls_cipher_hd_t h = (gnutls_cipher_hd_t)q->aes;
    gnutls_cipher_set_iv(h, zero, 16);
    int rv = decrypt ? gnutls_cipher_decrypt2(h, in, 16, out, 16)
                     : gnutls_cipher_encrypt2(h, in, 16, out, 16);
    return rv < 0 ? TERN_ERR_CRYPTO : 0;
}

/* The four-pass network works on two halves of half = ceil(n / 2) bytes; for an odd n they
 * share the middle octet: the left half keeps its high nibble, the right half its low one. */
typedef struct feistel {
    size_t n, half;
    int odd;
} feistel;

static void clear_left(const feistel *f, uint8_t *l)
{
    if (f->odd)
        l[f->half - 1] &= 0xf0;
}

static void clear_right(const feistel *f, uint8_t *r)
{
    if (f->odd)
        r[0] &= 0x0f;
}

/* dst ^= first half bytes of AES(expand(n, pass, src)); the draft's expand puts the half first,
 * zeros, then the length and the pass number in the last two octets. */
static int round_xor(tern_qlb *q, const feistel *f, unsigned pass, const uint8_t *src,
                     uint8_t *dst)
{
    uint8_t in[16] = {0}, out[16];
    memcpy(in, src, f->half);
    in[14] = (uint8_t)f->n;
    in[15] = (uint8_t)pass;
    int rv = ecb(q, 0, in, out);
    for (size_t i = 0; i < f->half && !rv; i++)
        dst[i] ^= out[i];
    return rv;
}

static void split(const feistel *f, const uint8_t *pt, uint8_t *l, uint8_t *r)
{
    memcpy(l, pt, f->half);
    memcpy(r, pt + f->n - f->half, f->half);
    clear_left(f, l);
    clear_right(f, r);
}

static void join(const feistel *f, const uint8_t *l, const uint8_t *r, uint8_t *out)
{
    memcpy(out, l, f->half);
    if (f->odd) {
        out[f->half - 1] |= r[0];
        memcpy(out + f->half, r + 1, f->half - 1);
    } else {
        memcpy(out + f->half, r, f->half);
    }
}

static int four_pass_encrypt(tern_qlb *q, const uint8_t *pt, size_t n, uint8_t *ct)
{
    feistel f = {n, (n + 1) / 2, (int)(n & 1)};
    uint8_t l[10], r[10];
    split(&f, pt, l, r);
    int rv = round_xor(q, &f, 1, l, r);
    clear_right(&f, r);
    if (!rv)
        rv = round_xor(q, &f, 2, r, l);
    clear_left(&f, l);
    if (!rv)
        rv = round_xor(q, &f, 3, l, r);
    clear_right(&f, r);
    if (!rv)
        rv = round_xor(q, &f, 4, r, l);
    clear_left(&f, l);
    if (!rv)
        join(&f, l, r, ct);
    return rv;
}

/* The load balancer's side: three passes recover left_0, which holds the whole server ID when it
 * is no longer than the nonce; the fourth recovers right_0 (a longer server ID, or the nonce). */
static int four_pass_decrypt(tern_qlb *q, const uint8_t *ct, size_t n, int full, uint8_t *pt)
{
    feistel f = {n, (n + 1) / 2, (int)(n & 1)};
    uint8_t l[10], r[10];
    split(&f, ct, l, r);
    int rv = round_xor(q, &f, 4, r, l);
    clear_left(&f, l);
    if (!rv)
        rv = round_xor(q, &f, 3, l, r);
    clear_right(&f, r);
    if (!rv)
        rv = round_xor(q, &f, 2, r, l);
    clear_left(&f, l);
    if (!rv && full) {
        rv = round_xor(q, &f, 1, l, r);
        clear_right(&f, r);
    }
    if (rv)
        return rv;
    if (full)
        join(&f, l, r, pt);
    else
        memcpy(pt, l, f.half);
    return 0;
}

int tern_qlb_encode(tern_qlb *q, const uint8_t *nonce, uint8_t rand_bits, size_t total_len,
                    uint8_t *out)
{
    size_t ql = tern_qlb_len(q);
    if (!nonce || !out || total_len < ql || total_len > TERN_MAX_CID_LEN)
        return TERN_ERR_INVALID_ARG;
    uint8_t low = q->encode_len ? (uint8_t)(total_len - 1) : rand_bits;
    out[0] = (uint8_t)(q->config_id << 5 | (low & 0x1f));
    uint8_t pt[TERN_QLB_MAX_PLAIN];
    size_t n = ql - 1;
    memcpy(pt, q->sid, q->sid_len);
    memcpy(pt + q->sid_len, nonce, q->nonce_len);
    int rv = 0;
    if (!q->aes)
        memcpy(out + 1, pt, n);
    else if (n == 16)
        rv = ecb(q, 0, pt, out + 1);
    else
        rv = four_pass_encrypt(q, pt, n, out + 1);
    gnutls_memset(pt, 0, sizeof(pt));
    return rv;
}

int tern_qlb_decode(tern_qlb *q, const uint8_t *cid, size_t len, uint8_t *sid, uint8_t *nonce)
{
    size_t ql = tern_qlb_len(q);
    if (!cid || !sid || len < ql)
        return TERN_ERR_INVALID_ARG;
    if (cid[0] >> 5 != q->config_id)
        return TERN_ERR_NOT_FOUND;
    uint8_t pt[TERN_QLB_MAX_PLAIN];
    size_t n = ql - 1;
    int rv = 0;
    if (!q->aes)
        memcpy(pt, cid + 1, n);
    else if (n == 16)
        rv = ecb(q, 1, cid + 1, pt);
    else
        rv = four_pass_decrypt(q, cid + 1, n, nonce || 2u * q->sid_len > n, pt);
    if (!rv) {
        memcpy(sid, pt, q->sid_len);
        if (nonce)
            memcpy(nonce, pt + q->sid_len, q->nonce_len);
    }
    gnutls_memset(pt, 0, sizeof(pt));
    return rv;
}

/* ---- the generator ---------------------------------------------------------------------------- */

int tern_cidgen_init(tern_cidgen *g, const tern_config *cfg, size_t plain_len, unsigned worker,
                     unsigned workers)
{
    memset(g, 0, sizeof(*g));
    if (workers > TERN_CIDGEN_MAX_WORKERS || (workers > 1 && worker >= workers) ||
        plain_len < 2 || plain_len > TERN_MAX_CID_LEN)
        return TERN_ERR_CONFIG;
    g->workers = workers > 1 ? (uint8_t)workers : 0;
    g->worker = g->workers ? (uint8_t)worker : 0;
    if (!cfg || !cfg->qlb_server_id_len) {
        g->len = (uint8_t)plain_len;
        return 0;
    }
    int rv = tern_qlb_init(&g->qlb, cfg->qlb_config_id, cfg->qlb_server_id, cfg->qlb_server_id_len,
                           cfg->qlb_nonce_len, cfg->qlb_has_key ? cfg->qlb_key : NULL,
                           cfg->qlb_encode_len);
    if (rv)
        return rv;
    size_t len = tern_qlb_len(&g->qlb) + (g->workers ? 1 : 0);
    if (len > TERN_MAX_CID_LEN) {
        tern_qlb_free(&g->qlb);
        return TERN_ERR_CONFIG;
    }
    g->use_qlb = 1;
    g->len = (uint8_t)len;
    return 0;
}

void tern_cidgen_free(tern_cidgen *g)
{
    tern_qlb_free(&g->qlb);
}

int tern_cidgen_make(tern_cidgen *g, tern_rand_fn rand, void *rand_ud, tern_cid *out)
{
    /* random bytes: the nonce (or the whole CID), then one for the first octet's free bits and
     * one for the worker octet's multiple */
    uint8_t r[TERN_MAX_CID_LEN + 2];
    int rv = rand(rand_ud, r, sizeof(r));
    if (rv)
        return rv;
    out->len = g->len;
    if (g->use_qlb)
        rv = tern_qlb_encode(&g->qlb, r, r[TERN_MAX_CID_LEN], g->len, out->data);
    else
        memcpy(out->data, r, g->len);
    if (!rv && g->workers) {
        /* worker + k * workers for a random k that keeps the octet below 256 */
        unsigned span = 256u / g->workers;
        out->data[g->len - 1] = (uint8_t)(g->worker + (r[TERN_MAX_CID_LEN + 1] % span) * g->workers);
    }
    gnutls_memset(r, 0, sizeof(r));
    return rv;
}

int tern_cidgen_worker_of(const tern_cidgen *g, const uint8_t *cid, size_t len)
{
    if (!g->workers || !cid || len != g->len)
        return -1;
    return cid[len - 1] % g->workers;
}
