/* QUIC-LB connection IDs (draft-ietf-quic-load-balancers-21) and the server's CID generator.
 *
 * A QUIC-LB CID is a first octet (3 config rotation bits, then 5 bits holding the CID's length
 * minus one, or random bits), then a server ID and a nonce: in plaintext without a key, else
 * encrypted with AES-128-ECB, in one pass when server ID and nonce make exactly 16 bytes, through
 * the draft's four-pass Feistel network otherwise. A layer-4 load balancer that knows the
 * configuration decodes the server ID from any CID the server issued and routes a migrated client
 * to the same server without per-connection state.
 *
 * The generator (tern_cidgen) makes every CID a server endpoint issues: QUIC-LB CIDs when
 * configured, random bytes otherwise, and, in an endpoint that is one worker of several on the
 * same address (tern_workers), a last octet that names the worker, readable without a key by the
 * socket's steering program (src/io/workers.c). */
#ifndef TERN_CORE_QLB_H
#define TERN_CORE_QLB_H

#include "common.h"

#define TERN_QLB_MAX_SID 15       /* server ID length: 1..15 */
#define TERN_QLB_MIN_NONCE 4      /* nonce length: 4..18, server ID + nonce <= 19 */
#define TERN_QLB_MAX_PLAIN 19
#define TERN_QLB_UNROUTABLE 7     /* config rotation codepoint of CIDs with no configuration */
#define TERN_CIDGEN_MAX_WORKERS 128

typedef struct tern_qlb {
    uint8_t config_id;  /* 0..6 */
    uint8_t sid_len;
    uint8_t nonce_len;
    uint8_t encode_len; /* the first octet's low 5 bits hold the CID length - 1 (else random) */
    uint8_t sid[TERN_QLB_MAX_SID];
    void *aes;          /* gnutls_cipher_hd_t (AES-128-CBC on one block with a zero IV = ECB);
                           NULL: plaintext */
} tern_qlb;

/* Sets up a configuration: server ID sid[0..sid_len), nonce length, key (16 bytes, or NULL for
 * the plaintext algorithm). Returns 0, TERN_ERR_CONFIG (config_id > 6, lengths outside the
 * draft's bounds) or TERN_ERR_CRYPTO (the cipher could not be set up). tern_qlb_free releases it
 * (harmless on a zeroed struct). A tern_qlb with a key is used by one thread at a time. */
int tern_qlb_init(tern_qlb *q, unsigned config_id, const uint8_t *sid, size_t sid_len,
                  size_t nonce_len, const uint8_t *key, int encode_len);
void tern_qlb_free(tern_qlb *q);
/* 1 + server ID length + nonce length. */
size_t tern_qlb_len(const tern_qlb *q);

/* Writes the QUIC-LB part of a CID (tern_qlb_len bytes) to out: the first octet from the config
 * ID and either `total_len` - 1 (encode_len) or the low bits of `rand_bits`, then the server ID
 * and nonce[0..nonce_len), encrypted when there is a key. `total_len` is the length of the whole
 * CID (the caller may append bytes of its own after the QUIC-LB part; at most 20, at least
 * tern_qlb_len). Returns 0, TERN_ERR_INVALID_ARG or TERN_ERR_CRYPTO. */
int tern_qlb_encode(tern_qlb *q, const uint8_t *nonce, uint8_t rand_bits, size_t total_len,
                    uint8_t *out);
/* Reads the server ID (sid_len bytes to sid) and, when nonce is not NULL, the nonce of a CID
 * made with this configuration. Returns 0, TERN_ERR_INVALID_ARG (shorter than tern_qlb_len),
 * TERN_ERR_NOT_FOUND (its config rotation bits name another configuration: unroutable here) or
 * TERN_ERR_CRYPTO. */
int tern_qlb_decode(tern_qlb *q, const uint8_t *cid, size_t len, uint8_t *sid, uint8_t *nonce);

/* The CIDs a server endpoint issues (its connections, NEW_CONNECTION_ID, the preferred address,
 * Retry). */
typedef struct tern_cidgen {
    tern_qlb qlb;
    int use_qlb;       /* else random CIDs of `len` bytes */
    uint8_t worker;    /* this endpoint's index among `workers` */
    uint8_t workers;   /* 0 or 1: a lone endpoint, no worker octet */
    uint8_t len;       /* length of every CID made */
} tern_cidgen;

/* Sets up the generator from cfg's QUIC-LB members (see tern_config) for `workers` endpoints
 * (0 or 1: alone) of which this is `worker`; `plain_len` is the CID length without QUIC-LB.
 * With workers > 1 the CID gets a last octet naming the worker (one more byte after a QUIC-LB
 * CID; the last of `plain_len` random bytes otherwise). Returns 0, TERN_ERR_CONFIG (a QUIC-LB
 * configuration the draft forbids, too long with the worker octet, or worker >= workers) or
 * TERN_ERR_CRYPTO. tern_cidgen_free releases it. */
int tern_cidgen_init(tern_cidgen *g, const tern_config *cfg, size_t plain_len, unsigned worker,
                     unsigned workers);
void tern_cidgen_free(tern_cidgen *g);
/* Makes one CID into out (g->len bytes) with randomness from rand. Returns 0, the error of rand,
 * or TERN_ERR_CRYPTO. */
int tern_cidgen_make(tern_cidgen *g, tern_rand_fn rand, void *rand_ud, tern_cid *out);
/* The worker a CID of length g->len names through its last octet: its value modulo `workers`
 * (the octet's value is otherwise random, so CIDs of one worker do not all carry the same byte).
 * Returns the worker index, or -1 when g has no workers or cid is not of g->len bytes. */
int tern_cidgen_worker_of(const tern_cidgen *g, const uint8_t *cid, size_t len);

#endif
