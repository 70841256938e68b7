/* QUIC packet protection (RFC 9001 §5): key derivation from TLS secrets and from the Initial salt,
 * AEAD (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) in place, header protection, key update, the
 * Retry integrity tag, and keyed helpers (stateless reset tokens, address validation tokens). All
 * primitives come from GnuTLS (nettle underneath). No allocation per packet: a tern_keys holds
 * initialised cipher handles. */
#ifndef TERN_CORE_CRYPTO_H
#define TERN_CORE_CRYPTO_H

#include "common.h"

enum tern_aead {
    TERN_AEAD_NONE = 0,
    TERN_AEAD_AES_128_GCM = 1,
    TERN_AEAD_AES_256_GCM = 2,
    TERN_AEAD_CHACHA20_POLY1305 = 3,
};

#define TERN_AEAD_TAG_LEN 16
#define TERN_MAX_SECRET_LEN 48
#define TERN_HP_SAMPLE_LEN 16

/* One direction's keys at one encryption level / key phase. Opaque handles are void* so that this
 * header does not pull in GnuTLS. */
typedef struct tern_keys {
    int aead;                 /* enum tern_aead; NONE = not installed */
    uint32_t version;         /* QUIC version whose labels derived them (key update keeps it) */
    void *aead_hd;            /* gnutls_aead_cipher_hd_t */
    void *hp_hd;              /* gnutls_cipher_hd_t: AES-CBC re-IVed to zero per block (= ECB), or
                               * CHACHA20_32 re-IVed with the sample; NULL when no HP key */
    uint8_t iv[12];
    uint8_t secret[TERN_MAX_SECRET_LEN]; /* kept for key update */
    /* the lengths fit a byte (at most TERN_MAX_SECRET_LEN and 32): a connection holds a dozen of
     * these, and two size_t with the padding around them cost 24 bytes each */
    uint8_t secret_len;
    uint8_t key_len; /* AEAD key length */
} tern_keys;
/* the layout above: a regression (a field widened, padding back) shows here first */
_Static_assert(sizeof(void *) != 8 || sizeof(tern_keys) == 88, "tern_keys packs into 88 bytes");

/* Maps a GnuTLS cipher (a gnutls_cipher_algorithm_t, an unsigned enum) to enum tern_aead (NONE
 * if unsupported). */
int tern_crypto_aead_from_gnutls(unsigned gnutls_cipher);
const char *tern_crypto_aead_name(int aead);
/* RFC 9001 §6.6: packets one key may protect (confidentiality limit), and packets failing
 * authentication a connection may see across all its keys (integrity limit); UINT64_MAX when the
 * AEAD has no limit within reach. */
uint64_t tern_crypto_confidentiality_limit(int aead);
uint64_t tern_crypto_integrity_limit(int aead);

/* HKDF-Expand-Label (RFC 8446 §7.1: "tls13 " prefix, empty context) with the hash that goes with
 * `aead` (SHA-384 for AES-256-GCM, else SHA-256). For tests and diagnostics: installing keys does
 * this itself. Returns 0 or TERN_ERR_CRYPTO. */
int tern_crypto_expand_label(int aead, const uint8_t *secret, size_t secret_len, const char *label,
                             uint8_t *out, size_t out_len);

/* Derives the Initial keys (RFC 9001 §5.2; RFC 9369 §3.3.1 for v2's salt) for `version` from the client's first DCID. `tx`/`rx` are
 * this side's send/receive keys (is_server picks the direction). Returns 0 or TERN_ERR_CRYPTO. */
int tern_crypto_initial_keys(uint32_t version, const tern_cid *client_dcid, int is_server,
                             tern_keys *tx, tern_keys *rx);

/* Installs keys derived from a TLS traffic secret (quic key/iv/hp labels) into `k`, which must be
 * zeroed or hold keys (they are freed first). `secret_len` must be the AEAD's hash length (32, or 48
 * for AES-256-GCM). `with_hp` = 0 skips the header protection key (key update reuses the old one).
 * Returns 0 or TERN_ERR_CRYPTO (k left empty). */
int tern_crypto_keys_from_secret(tern_keys *k, int aead, const uint8_t *secret, size_t secret_len,
                                 int with_hp);
/* The same for QUIC `version` (v2 derives with the "quicv2 key/iv/hp" labels, RFC 9369 §3.3.2); an
 * unsupported version fails with TERN_ERR_CRYPTO. tern_crypto_keys_from_secret is version 1. */
int tern_crypto_keys_from_secret_v(tern_keys *k, uint32_t version, int aead, const uint8_t *secret,
                                   size_t secret_len, int with_hp);
/* Only the header protection key of `secret` into `k` (freed first): what the 1-RTT header
 * protection needs for the whole connection (its key never changes with the key phase), without
 * a packet protection context nobody uses (k->aead_hd stays NULL, and no secret is kept).
 * Returns 0 or TERN_ERR_CRYPTO (k left empty). */
int tern_crypto_hp_from_secret_v(tern_keys *k, uint32_t version, int aead, const uint8_t *secret,
                                 size_t secret_len);

/* Derives the next key phase (RFC 9001 §6: "quic ku"; "quicv2 ku" for keys of v2) from `cur` into `next` (next != cur; whatever
 * next held is freed); next shares nothing with cur, and has no HP key (header protection keys do
 * not change). Returns 0 or TERN_ERR_CRYPTO. */
int tern_crypto_next_keys(const tern_keys *cur, tern_keys *next);

/* Frees the handles and wipes the secret. Safe on a zeroed or already-freed struct. */
void tern_crypto_keys_free(tern_keys *k);

/* Moves keys from src to dst (dst freed first), leaving src empty. */
void tern_crypto_keys_move(tern_keys *dst, tern_keys *src);

/* Protects a packet in place. pkt[0..hdr_len) is the header whose last `pn_len` bytes are the packet
 * number; pkt[hdr_len..hdr_len+payload_len) the plaintext; the 16-byte tag is written right after it
 * (caller reserves room). Then header protection is applied with `hp` (NULL: k's own HP key).
 * pn_len + payload_len must be >= 4 so that the HP sample fits (pad otherwise). Returns 0 or
 * TERN_ERR_CRYPTO. */
int tern_crypto_protect(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len,
                        size_t pn_len, size_t payload_len, uint64_t pn);

/* A piece of plaintext that lives outside the packet (stream data still in its send buffer):
 * `len` bytes at `data` stand for pkt[hdr_len + at .. hdr_len + at + len). */
typedef struct tern_crypto_piece {
    size_t at;
    const uint8_t *data;
    size_t len;
} tern_crypto_piece;

#define TERN_CRYPTO_MAX_PIECES 8

/* tern_crypto_protect, with the plaintext gathered from the packet and from `pieces` (n_pieces at
 * most TERN_CRYPTO_MAX_PIECES, in ascending order of `at`, not overlapping, inside the payload):
 * the ciphertext of each piece is written to its place in the packet, so the bytes never have to
 * be copied there first. The packet's own bytes between pieces are the rest of the plaintext.
 * With n_pieces = 0 it is tern_crypto_protect. Returns 0 or TERN_ERR_CRYPTO (also for pieces out
 * of order or outside the payload). */
int tern_crypto_protect_pieces(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len,
                               size_t pn_len, size_t payload_len, uint64_t pn,
                               const tern_crypto_piece *pieces, size_t n_pieces);
/* The same for a packet of multipath path `path_id` (its nonce, as tern_crypto_protect_path). */
int tern_crypto_protect_pieces_path(tern_keys *k, const tern_keys *hp, uint8_t *pkt,
                                    size_t hdr_len, size_t pn_len, size_t payload_len,
                                    uint32_t path_id, uint64_t pn,
                                    const tern_crypto_piece *pieces, size_t n_pieces);

/* Removes header protection from a packet whose packet number starts at pn_offset, in place, using
 * `hp` keys. pkt_len is the whole packet (sample must fit). On success *pn_len and *truncated_pn are
 * set and the first byte / pn bytes are unmasked. Returns 0 or TERN_ERR_DROP (too short). */
int tern_crypto_unprotect_header(const tern_keys *hp, uint8_t *pkt, size_t pkt_len, size_t pn_offset,
                                 size_t *pn_len, uint64_t *truncated_pn);

/* Decrypts payload in place: pkt[0..hdr_len) (unmasked) is the associated data, pkt[hdr_len..pkt_len)
 * ciphertext + tag. Returns the plaintext length, or TERN_ERR_CRYPTO when authentication fails; the
 * payload bytes are then unspecified (GnuTLS decrypts in place before checking the tag), so keep a
 * copy if another key must be tried. */
int tern_crypto_decrypt(tern_keys *k, uint8_t *pkt, size_t hdr_len, size_t pkt_len, uint64_t pn);

/* The same for a packet of multipath path `path_id` (draft-ietf-quic-multipath-21 §2.4: the path
 * ID goes into the nonce, in the 32 bits before the packet number). Path 0 is exactly
 * tern_crypto_protect / tern_crypto_decrypt. Same returns. */
int tern_crypto_protect_path(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len,
                             size_t pn_len, size_t payload_len, uint32_t path_id, uint64_t pn);
int tern_crypto_decrypt_path(tern_keys *k, uint8_t *pkt, size_t hdr_len, size_t pkt_len,
                             uint32_t path_id, uint64_t pn);

/* Retry integrity tag (RFC 9001 §5.8) over the Retry packet `retry[0..len)` (without tag) for the
 * original DCID, with the key and nonce of `version` (v1 or v2, RFC 9369 §3.3.3). Creates one cipher handle per call (Retry is not per-packet for a
 * connection). Returns 0 or TERN_ERR_CRYPTO. */
int tern_crypto_retry_tag(uint32_t version, const tern_cid *odcid, const uint8_t *retry, size_t len,
                          uint8_t tag[TERN_AEAD_TAG_LEN]);

/* Stateless reset token for `cid` under a 32-byte static key (HMAC-SHA256, truncated). */
void tern_crypto_reset_token(const uint8_t key[32], const tern_cid *cid,
                             uint8_t token[TERN_RESET_TOKEN_LEN]);

/* Address validation token (Retry): AES-256-GCM, under a 32-byte key, of the original DCID, the
 * Retry SCID, the client's address family, IP and port and the issue time. `nonce` is 12 random
 * bytes (never reuse one under the same key). `cap` must be >= TERN_RETRY_TOKEN_MAX. Returns the
 * token length written to out, or 0 on error. One cipher handle is created per call. */
#define TERN_RETRY_TOKEN_MAX 98 /* 1 format + 12 nonce + 69 plaintext (worst case) + 16 tag */
size_t tern_crypto_token_seal(const uint8_t key[32], const uint8_t nonce[12], const tern_cid *odcid,
                              const tern_cid *rscid, const tern_addr *client, tern_tstamp issued,
                              uint8_t *out, size_t cap);
/* Opens a token made by tern_crypto_token_seal; checks the client address and that `now - issued`
 * is below `lifetime`. Returns 0 and fills odcid/rscid, or TERN_ERR_DROP when invalid/expired. */
int tern_crypto_token_open(const uint8_t key[32], const uint8_t *tok, size_t len,
                           const tern_addr *client, tern_tstamp now, tern_tstamp lifetime,
                           tern_cid *odcid, tern_cid *rscid);

#endif
