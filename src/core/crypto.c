/* Packet protection for QUIC v1 (RFC 9001 §5) and v2 (RFC 9369 §3.3): HKDF-Expand-Label key schedule, AEAD in place,
 * header protection, key update, the Retry integrity tag, stateless reset tokens and Retry address
 * validation tokens. Every primitive is GnuTLS's; cipher handles are created when keys are
 * installed and reused for every packet, so protecting or opening a packet allocates nothing. */
#include "crypto.h"
#include "qversion.h"
#include "token.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <limits.h>
#include <stdint.h>

static const uint8_t initial_salt_v1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34,
                                            0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                                            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
static const uint8_t initial_salt_v2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6,
                                            0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                                            0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};
static const uint8_t retry_key_v2[16] = {0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
                                         0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92};
static const uint8_t retry_nonce_v2[12] = {0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c,
                                           0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a};
static const uint8_t retry_key_v1[16] = {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
                                         0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e};
static const uint8_t retry_nonce_v1[12] = {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
                                           0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb};

struct aead_info {
    gnutls_cipher_algorithm_t aead;
    gnutls_cipher_algorithm_t hp; /* AES-CBC on one block with a zero IV is AES-ECB */
    gnutls_mac_algorithm_t mac;
    size_t key_len;
    size_t hash_len;
};

/* GnuTLS takes read-only input through gnutls_datum_t and giovec_t, whose pointers are not const:
 * our const input crosses into them here, and nowhere else. The lengths are those of keys,
 * secrets, CIDs and packets, far below UINT_MAX. */
static gnutls_datum_t in_datum(const void *p, size_t len)
{
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)p, (unsigned)len};
    return d;
}

static giovec_t in_iov(const void *p, size_t len)
{
    giovec_t v = {(void *)(uintptr_t)p, len};
    return v;
}

static const struct aead_info *aead_info(int aead)
{
    static const struct aead_info tab[] = {
        [TERN_AEAD_AES_128_GCM] = {GNUTLS_CIPHER_AES_128_GCM, GNUTLS_CIPHER_AES_128_CBC,
                                   GNUTLS_MAC_SHA256, 16, 32},
        [TERN_AEAD_AES_256_GCM] = {GNUTLS_CIPHER_AES_256_GCM, GNUTLS_CIPHER_AES_256_CBC,
                                   GNUTLS_MAC_SHA384, 32, 48},
        [TERN_AEAD_CHACHA20_POLY1305] = {GNUTLS_CIPHER_CHACHA20_POLY1305, GNUTLS_CIPHER_CHACHA20_32,
                                         GNUTLS_MAC_SHA256, 32, 32},
    };
    if (aead <= TERN_AEAD_NONE || aead > TERN_AEAD_CHACHA20_POLY1305)
        return NULL;
    return &tab[aead];
}

int tern_crypto_aead_from_gnutls(unsigned gnutls_cipher)
{
    switch (gnutls_cipher) {
    case GNUTLS_CIPHER_AES_128_GCM:
        return TERN_AEAD_AES_128_GCM;
    case GNUTLS_CIPHER_AES_256_GCM:
        return TERN_AEAD_AES_256_GCM;
    case GNUTLS_CIPHER_CHACHA20_POLY1305:
        return TERN_AEAD_CHACHA20_POLY1305;
    default:
        return TERN_AEAD_NONE;
    }
}

const char *tern_crypto_aead_name(int aead)
{
    switch (aead) {
    case TERN_AEAD_AES_128_GCM:
        return "AES-128-GCM";
    case TERN_AEAD_AES_256_GCM:
        return "AES-256-GCM";
    case TERN_AEAD_CHACHA20_POLY1305:
        return "CHACHA20-POLY1305";
    default:
        return "none";
    }
}

uint64_t tern_crypto_confidentiality_limit(int aead)
{
    /* ChaCha20-Poly1305's limit is above any packet number */
    return aead == TERN_AEAD_AES_128_GCM || aead == TERN_AEAD_AES_256_GCM ? 1ull << 23 : UINT64_MAX;
}

uint64_t tern_crypto_integrity_limit(int aead)
{
    if (aead == TERN_AEAD_AES_128_GCM || aead == TERN_AEAD_AES_256_GCM)
        return 1ull << 52;
    return aead == TERN_AEAD_CHACHA20_POLY1305 ? 1ull << 36 : UINT64_MAX;
}

/* HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1) with an empty context, the only form QUIC uses. */
static int expand_label(gnutls_mac_algorithm_t mac, const uint8_t *secret, size_t secret_len,
                        const char *label, uint8_t *out, size_t out_len)
{
    static const char prefix[] = "tls13 ";
    uint8_t info[2 + 1 + 255 + 1];
    size_t plen = sizeof(prefix) - 1, llen = strlen(label);

    if (plen + llen > 255 || out_len > 0xffff)
        return TERN_ERR_CRYPTO;
    info[0] = (uint8_t)(out_len >> 8);
    info[1] = (uint8_t)out_len;
    info[2] = (uint8_t)(plen + llen);
    memcpy(info + 3, prefix, plen);
    memcpy(info + 3 + plen, label, llen);
    info[3 + plen + llen] = 0;

    gnutls_datum_t key = in_datum(secret, secret_len);
    gnutls_datum_t inf = {info, (unsigned)(4 + plen + llen)};
    if (gnutls_hkdf_expand(mac, &key, &inf, out, out_len) < 0)
        return TERN_ERR_CRYPTO;
    return 0;
}

int tern_crypto_expand_label(int aead, const uint8_t *secret, size_t secret_len, const char *label,
                             uint8_t *out, size_t out_len)
{
    const struct aead_info *ai = aead_info(aead);
    if (!ai || !secret || !label || !out)
        return TERN_ERR_CRYPTO;
    return expand_label(ai->mac, secret, secret_len, label, out, out_len);
}

void tern_crypto_keys_free(tern_keys *k)
{
    if (!k)
        return;
    if (k->aead_hd)
        gnutls_aead_cipher_deinit((gnutls_aead_cipher_hd_t)k->aead_hd);
    if (k->hp_hd)
        gnutls_cipher_deinit((gnutls_cipher_hd_t)k->hp_hd);
    gnutls_memset(k, 0, sizeof(*k));
}

void tern_crypto_keys_move(tern_keys *dst, tern_keys *src)
{
    if (dst == src)
        return;
    tern_crypto_keys_free(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

int tern_crypto_keys_from_secret(tern_keys *k, int aead, const uint8_t *secret, size_t secret_len,
                                 int with_hp)
{
    return tern_crypto_keys_from_secret_v(k, TERN_PROTO_VERSION_1, aead, secret, secret_len,
                                          with_hp);
}

/* Installs into k the packet protection key (want_aead) and/or the header protection key
 * (with_hp) derived from `secret`. Only keys with the AEAD keep the secret (a key update derives
 * from it). */
static int keys_derive(tern_keys *k, uint32_t version, int aead, const uint8_t *secret,
                       size_t secret_len, int want_aead, int with_hp)
{
    const struct aead_info *ai = aead_info(aead);
    const tern_qv_labels *lb = tern_qv_labels_for(version);
    uint8_t key[32], hp[32];
    gnutls_aead_cipher_hd_t ahd = NULL;
    gnutls_cipher_hd_t hhd = NULL;
    int rv = TERN_ERR_CRYPTO;

    if (!k || !secret)
        return TERN_ERR_CRYPTO;
    tern_crypto_keys_free(k);
    if (!ai || secret_len != ai->hash_len || !tern_qv_supported(version))
        return TERN_ERR_CRYPTO;

    if (want_aead) {
        if (expand_label(ai->mac, secret, secret_len, lb->key, key, ai->key_len) < 0 ||
            expand_label(ai->mac, secret, secret_len, lb->iv, k->iv, sizeof(k->iv)) < 0)
            goto out;
        gnutls_datum_t kd = {key, (unsigned)ai->key_len};
        if (gnutls_aead_cipher_init(&ahd, ai->aead, &kd) < 0) {
            ahd = NULL;
            goto out;
        }
    }
    if (with_hp) {
        uint8_t zero_iv[16] = {0};
        gnutls_datum_t hd = {hp, (unsigned)ai->key_len};
        gnutls_datum_t ivd = {zero_iv, sizeof(zero_iv)};
        if (expand_label(ai->mac, secret, secret_len, lb->hp, hp, ai->key_len) < 0)
            goto out;
        if (gnutls_cipher_init(&hhd, ai->hp, &hd, &ivd) < 0) {
            hhd = NULL;
            goto out;
        }
    }
    k->aead = aead;
    k->version = version;
    k->aead_hd = ahd;
    k->hp_hd = hhd;
    if (want_aead) {
        memcpy(k->secret, secret, secret_len);
        k->secret_len = (uint8_t)secret_len; /* hash_len, checked above */
    }
    k->key_len = (uint8_t)ai->key_len;
    ahd = NULL;
    hhd = NULL;
    rv = 0;
out:
    if (ahd)
        gnutls_aead_cipher_deinit(ahd);
    if (hhd)
        gnutls_cipher_deinit(hhd);
    if (rv < 0)
        tern_crypto_keys_free(k);
    gnutls_memset(key, 0, sizeof(key));
    gnutls_memset(hp, 0, sizeof(hp));
    return rv;
}

int tern_crypto_keys_from_secret_v(tern_keys *k, uint32_t version, int aead, const uint8_t *secret,
                                   size_t secret_len, int with_hp)
{
    return keys_derive(k, version, aead, secret, secret_len, 1, with_hp);
}

int tern_crypto_hp_from_secret_v(tern_keys *k, uint32_t version, int aead, const uint8_t *secret,
                                 size_t secret_len)
{
    return keys_derive(k, version, aead, secret, secret_len, 0, 1);
}

int tern_crypto_initial_keys(uint32_t version, const tern_cid *client_dcid, int is_server,
                             tern_keys *tx, tern_keys *rx)
{
    uint8_t initial[32], client[32], server[32];
    int rv = TERN_ERR_CRYPTO;

    if (!tern_qv_supported(version) || !client_dcid || client_dcid->len > TERN_MAX_CID_LEN || !tx ||
        !rx || tx == rx)
        return TERN_ERR_CRYPTO;

    gnutls_datum_t ikm = in_datum(client_dcid->data, client_dcid->len);
    gnutls_datum_t salt = version == TERN_PROTO_VERSION_2
                              ? in_datum(initial_salt_v2, sizeof(initial_salt_v2))
                              : in_datum(initial_salt_v1, sizeof(initial_salt_v1));
    if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &salt, initial) < 0)
        goto out;
    if (expand_label(GNUTLS_MAC_SHA256, initial, 32, "client in", client, 32) < 0 ||
        expand_label(GNUTLS_MAC_SHA256, initial, 32, "server in", server, 32) < 0)
        goto out;
    rv = tern_crypto_keys_from_secret_v(tx, version, TERN_AEAD_AES_128_GCM,
                                        is_server ? server : client, 32, 1);
    if (rv == 0)
        rv = tern_crypto_keys_from_secret_v(rx, version, TERN_AEAD_AES_128_GCM,
                                            is_server ? client : server, 32, 1);
    if (rv < 0) {
        tern_crypto_keys_free(tx);
        tern_crypto_keys_free(rx);
    }
out:
    gnutls_memset(initial, 0, sizeof(initial));
    gnutls_memset(client, 0, sizeof(client));
    gnutls_memset(server, 0, sizeof(server));
    return rv;
}

int tern_crypto_next_keys(const tern_keys *cur, tern_keys *next)
{
    const struct aead_info *ai;
    uint8_t secret[TERN_MAX_SECRET_LEN];
    int rv;

    if (!cur || !next || cur == next)
        return TERN_ERR_CRYPTO;
    ai = aead_info(cur->aead);
    if (!ai || cur->secret_len != ai->hash_len)
        return TERN_ERR_CRYPTO;
    rv = expand_label(ai->mac, cur->secret, cur->secret_len, tern_qv_labels_for(cur->version)->ku,
                      secret, ai->hash_len);
    if (rv == 0)
        rv = tern_crypto_keys_from_secret_v(next, cur->version, cur->aead, secret, ai->hash_len,
                                            0);
    gnutls_memset(secret, 0, sizeof(secret));
    return rv;
}

/* RFC 9001 §5.3: the IV XOR the packet number, left-padded to 12 bytes. With multipath
 * (draft-ietf-quic-multipath-21 §2.4) the 32-bit path ID fills the 4 bytes before the 8 of the
 * packet number, so path 0 gives RFC 9001's nonce. */
static void make_nonce(const uint8_t iv[12], uint32_t path_id, uint64_t pn, uint8_t nonce[12])
{
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    for (int i = 0; i < 4; i++)
        nonce[3 - i] ^= (uint8_t)(path_id >> (8 * i));
}

/* Fills mask[0..5) from the 16-byte sample (RFC 9001 §5.4.3 / §5.4.4). */
static int hp_mask(const tern_keys *hp, const uint8_t *sample, uint8_t mask[16])
{
    gnutls_cipher_hd_t h = (gnutls_cipher_hd_t)hp->hp_hd;
    uint8_t iv[16];

    if (hp->aead == TERN_AEAD_CHACHA20_POLY1305) {
        /* The sample is the 32-bit little-endian block counter followed by the 96-bit nonce,
         * which is exactly the IV layout of GnuTLS's CHACHA20_32; the mask is the keystream. */
        static const uint8_t zeros[5];
        memcpy(iv, sample, 16);
        gnutls_cipher_set_iv(h, iv, 16);
        return gnutls_cipher_encrypt2(h, zeros, 5, mask, 5) < 0 ? TERN_ERR_CRYPTO : 0;
    }
    memset(iv, 0, sizeof(iv));
    gnutls_cipher_set_iv(h, iv, 16);
    return gnutls_cipher_encrypt2(h, sample, 16, mask, 16) < 0 ? TERN_ERR_CRYPTO : 0;
}

static int protect(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len, size_t pn_len,
                   size_t payload_len, uint32_t path_id, uint64_t pn,
                   const tern_crypto_piece *pieces, size_t n_pieces);

int tern_crypto_protect(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len,
                        size_t pn_len, size_t payload_len, uint64_t pn)
{
    return tern_crypto_protect_pieces(k, hp, pkt, hdr_len, pn_len, payload_len, pn, NULL, 0);
}

/* AEAD over a payload gathered from the packet and from pieces elsewhere, written to the packet:
 * GnuTLS's out-of-place vector encryption reads each piece where it is. The packet's own stretches
 * are read and written at the same place, which its block-wise walk allows (every block is read
 * before its ciphertext is stored). */
static int seal_gather(tern_keys *k, const uint8_t nonce[12], uint8_t *pkt, size_t hdr_len,
                       size_t payload_len, const tern_crypto_piece *pieces, size_t n_pieces)
{
    giovec_t iov[2 * TERN_CRYPTO_MAX_PIECES + 1];
    int n = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n_pieces; i++) {
        const tern_crypto_piece *pc = &pieces[i];
        if (pc->at < pos || pc->len > payload_len || pc->at > payload_len - pc->len ||
            (pc->len && !pc->data))
            return TERN_ERR_CRYPTO;
        if (pc->at > pos)
            iov[n++] = in_iov(pkt + hdr_len + pos, pc->at - pos);
        if (pc->len)
            iov[n++] = in_iov(pc->data, pc->len);
        pos = pc->at + pc->len;
    }
    if (payload_len > pos)
        iov[n++] = in_iov(pkt + hdr_len + pos, payload_len - pos);
    giovec_t ad = {pkt, hdr_len};
    size_t out_len = payload_len + TERN_AEAD_TAG_LEN;
    if (gnutls_aead_cipher_encryptv((gnutls_aead_cipher_hd_t)k->aead_hd, nonce, 12, &ad, 1,
                                    TERN_AEAD_TAG_LEN, iov, n, pkt + hdr_len, &out_len) < 0 ||
        out_len != payload_len + TERN_AEAD_TAG_LEN)
        return TERN_ERR_CRYPTO;
    return 0;
}

int tern_crypto_protect_path(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len,
                             size_t pn_len, size_t payload_len, uint32_t path_id, uint64_t pn)
{
    return protect(k, hp, pkt, hdr_len, pn_len, payload_len, path_id, pn, NULL, 0);
}

int tern_crypto_protect_pieces(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len,
                               size_t pn_len, size_t payload_len, uint64_t pn,
                               const tern_crypto_piece *pieces, size_t n_pieces)
{
    return protect(k, hp, pkt, hdr_len, pn_len, payload_len, 0, pn, pieces, n_pieces);
}

int tern_crypto_protect_pieces_path(tern_keys *k, const tern_keys *hp, uint8_t *pkt,
                                    size_t hdr_len, size_t pn_len, size_t payload_len,
                                    uint32_t path_id, uint64_t pn,
                                    const tern_crypto_piece *pieces, size_t n_pieces)
{
    return protect(k, hp, pkt, hdr_len, pn_len, payload_len, path_id, pn, pieces, n_pieces);
}

/* The one packet protection: AEAD with the nonce of (path_id, pn), then header protection. */
static int protect(tern_keys *k, const tern_keys *hp, uint8_t *pkt, size_t hdr_len, size_t pn_len,
                   size_t payload_len, uint32_t path_id, uint64_t pn,
                   const tern_crypto_piece *pieces, size_t n_pieces)
{
    uint8_t nonce[12], mask[16];
    size_t tag_len = TERN_AEAD_TAG_LEN, pn_off;

    if (!hp)
        hp = k;
    if (!k || !k->aead_hd || !hp->hp_hd || !pkt || pn_len < 1 || pn_len > 4 || hdr_len < pn_len + 1)
        return TERN_ERR_CRYPTO;
    /* The header protection sample starts 4 bytes after the packet number start and must lie
     * inside the protected packet; senders pad short packets to guarantee it. */
    if (pn_len + payload_len < 4 || n_pieces > TERN_CRYPTO_MAX_PIECES || (n_pieces && !pieces))
        return TERN_ERR_CRYPTO;

    make_nonce(k->iv, path_id, pn, nonce);
    if (n_pieces) {
        if (seal_gather(k, nonce, pkt, hdr_len, payload_len, pieces, n_pieces))
            return TERN_ERR_CRYPTO;
    } else {
        giovec_t ad = {pkt, hdr_len};
        giovec_t pt = {pkt + hdr_len, payload_len};
        if (gnutls_aead_cipher_encryptv2((gnutls_aead_cipher_hd_t)k->aead_hd, nonce, sizeof(nonce),
                                         &ad, 1, &pt, payload_len ? 1 : 0,
                                         pkt + hdr_len + payload_len, &tag_len) < 0 ||
            tag_len != TERN_AEAD_TAG_LEN)
            return TERN_ERR_CRYPTO;
    }

    pn_off = hdr_len - pn_len;
    if (hp_mask(hp, pkt + pn_off + 4, mask) < 0)
        return TERN_ERR_CRYPTO;
    pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
    for (size_t i = 0; i < pn_len; i++)
        pkt[pn_off + i] ^= mask[1 + i];
    return 0;
}

int tern_crypto_unprotect_header(const tern_keys *hp, uint8_t *pkt, size_t pkt_len,
                                 size_t pn_offset, size_t *pn_len, uint64_t *truncated_pn)
{
    uint8_t mask[16];
    size_t n;
    uint64_t v = 0;

    if (!hp || !hp->hp_hd || !pkt || pn_offset < 1 || pn_offset > pkt_len ||
        pkt_len - pn_offset < 4 + TERN_HP_SAMPLE_LEN)
        return TERN_ERR_DROP;
    if (hp_mask(hp, pkt + pn_offset + 4, mask) < 0)
        return TERN_ERR_DROP;
    pkt[0] ^= mask[0] & ((pkt[0] & 0x80) ? 0x0f : 0x1f);
    n = (size_t)(pkt[0] & 0x03) + 1;
    for (size_t i = 0; i < n; i++) {
        pkt[pn_offset + i] ^= mask[1 + i];
        v = (v << 8) | pkt[pn_offset + i];
    }
    if (pn_len)
        *pn_len = n;
    if (truncated_pn)
        *truncated_pn = v;
    return 0;
}

int tern_crypto_decrypt(tern_keys *k, uint8_t *pkt, size_t hdr_len, size_t pkt_len, uint64_t pn)
{
    return tern_crypto_decrypt_path(k, pkt, hdr_len, pkt_len, 0, pn);
}

int tern_crypto_decrypt_path(tern_keys *k, uint8_t *pkt, size_t hdr_len, size_t pkt_len,
                             uint32_t path_id, uint64_t pn)
{
    uint8_t nonce[12];
    size_t ct_len;

    if (!k || !k->aead_hd || !pkt || hdr_len > pkt_len || pkt_len - hdr_len < TERN_AEAD_TAG_LEN)
        return TERN_ERR_CRYPTO;
    ct_len = pkt_len - hdr_len - TERN_AEAD_TAG_LEN;
    if (ct_len > INT_MAX)
        return TERN_ERR_CRYPTO;

    make_nonce(k->iv, path_id, pn, nonce);
    giovec_t ad = {pkt, hdr_len};
    giovec_t ct = {pkt + hdr_len, ct_len};
    if (gnutls_aead_cipher_decryptv2((gnutls_aead_cipher_hd_t)k->aead_hd, nonce, sizeof(nonce), &ad,
                                     1, &ct, ct_len ? 1 : 0, pkt + hdr_len + ct_len,
                                     TERN_AEAD_TAG_LEN) < 0)
        return TERN_ERR_CRYPTO;
    return (int)ct_len;
}

int tern_crypto_retry_tag(uint32_t version, const tern_cid *odcid, const uint8_t *retry, size_t len,
                          uint8_t tag[TERN_AEAD_TAG_LEN])
{
    gnutls_aead_cipher_hd_t h;
    size_t tag_len = TERN_AEAD_TAG_LEN;
    uint8_t odcid_len;
    int rv;

    if (!tern_qv_supported(version) || !odcid || odcid->len > TERN_MAX_CID_LEN || !retry || !tag)
        return TERN_ERR_CRYPTO;
    int v2 = version == TERN_PROTO_VERSION_2;
    odcid_len = odcid->len;
    gnutls_datum_t kd = v2 ? in_datum(retry_key_v2, sizeof(retry_key_v2))
                           : in_datum(retry_key_v1, sizeof(retry_key_v1));
    if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_128_GCM, &kd) < 0)
        return TERN_ERR_CRYPTO;
    /* The Retry pseudo-packet is fed as three pieces of associated data instead of being
     * assembled in a buffer: ODCID length, ODCID, then the Retry packet itself. */
    giovec_t ad[3] = {
        {&odcid_len, 1},
        in_iov(odcid->data, odcid->len),
        in_iov(retry, len),
    };
    rv = gnutls_aead_cipher_encryptv2(h, v2 ? retry_nonce_v2 : retry_nonce_v1, 12, ad, 3, NULL, 0,
                                      tag, &tag_len);
    gnutls_aead_cipher_deinit(h);
    return rv < 0 || tag_len != TERN_AEAD_TAG_LEN ? TERN_ERR_CRYPTO : 0;
}

void tern_crypto_reset_token(const uint8_t key[32], const tern_cid *cid,
                             uint8_t token[TERN_RESET_TOKEN_LEN])
{
    uint8_t digest[32];
    size_t len = TERN_MIN((size_t)cid->len, (size_t)TERN_MAX_CID_LEN);

    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, 32, cid->data, len, digest) < 0) {
        /* Cannot happen with a working GnuTLS; a key-dependent fallback beats a constant. */
        gnutls_hash_fast(GNUTLS_DIG_SHA256, key, 32, digest);
    }
    memcpy(token, digest, TERN_RESET_TOKEN_LEN);
    gnutls_memset(digest, 0, sizeof(digest));
}

/* Retry token layout: format byte | 12-byte nonce | AES-256-GCM(plaintext) | 16-byte tag, with
 * the format byte as associated data. Plaintext: issue time (8, big endian) | ODCID length + ODCID
 * | Retry SCID length + SCID | address family (4 or 6) | IP (4 or 16) | port (2, network order). */
#define TOKEN_FORMAT TERN_TOKEN_FORMAT_RETRY
#define TOKEN_HDR_LEN (1 + 12)
#define TOKEN_PT_MAX (8 + 1 + TERN_MAX_CID_LEN + 1 + TERN_MAX_CID_LEN + 1 + 16 + 2)

/* Writes family, IP and port of `a`; returns bytes written or 0 for an unusable address. */
static size_t addr_bytes(const tern_addr *a, uint8_t *p)
{
    if (!a)
        return 0;
    if (a->u.sa.sa_family == AF_INET) {
        p[0] = 4;
        memcpy(p + 1, &a->u.in.sin_addr, 4);
        memcpy(p + 5, &a->u.in.sin_port, 2);
        return 7;
    }
    if (a->u.sa.sa_family == AF_INET6) {
        p[0] = 6;
        memcpy(p + 1, &a->u.in6.sin6_addr, 16);
        memcpy(p + 17, &a->u.in6.sin6_port, 2);
        return 19;
    }
    return 0;
}

size_t tern_crypto_token_seal(const uint8_t key[32], const uint8_t nonce[12], const tern_cid *odcid,
                              const tern_cid *rscid, const tern_addr *client, tern_tstamp issued,
                              uint8_t *out, size_t cap)
{
    gnutls_aead_cipher_hd_t h;
    size_t n = 0, alen, tag_len = TERN_AEAD_TAG_LEN;
    uint8_t *pt;
    int rv;

    if (!key || !nonce || !odcid || !rscid || !out || odcid->len > TERN_MAX_CID_LEN ||
        rscid->len > TERN_MAX_CID_LEN)
        return 0;
    /* Worst case first, so that the plaintext can be built in place in `out`. */
    if (cap < TOKEN_HDR_LEN + TOKEN_PT_MAX + TERN_AEAD_TAG_LEN)
        return 0;
    out[0] = TOKEN_FORMAT;
    memcpy(out + 1, nonce, 12);
    pt = out + TOKEN_HDR_LEN;
    for (int i = 0; i < 8; i++)
        pt[n++] = (uint8_t)(issued >> (56 - 8 * i));
    pt[n++] = odcid->len;
    memcpy(pt + n, odcid->data, odcid->len);
    n += odcid->len;
    pt[n++] = rscid->len;
    memcpy(pt + n, rscid->data, rscid->len);
    n += rscid->len;
    alen = addr_bytes(client, pt + n);
    if (!alen)
        return 0;
    n += alen;

    gnutls_datum_t kd = in_datum(key, 32);
    if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &kd) < 0)
        return 0;
    giovec_t ad = {out, 1};
    giovec_t iov = {pt, n};
    rv = gnutls_aead_cipher_encryptv2(h, nonce, 12, &ad, 1, &iov, 1, pt + n, &tag_len);
    gnutls_aead_cipher_deinit(h);
    if (rv < 0 || tag_len != TERN_AEAD_TAG_LEN)
        return 0;
    return TOKEN_HDR_LEN + n + TERN_AEAD_TAG_LEN;
}

int tern_crypto_token_open(const uint8_t key[32], const uint8_t *tok, size_t len,
                           const tern_addr *client, tern_tstamp now, tern_tstamp lifetime,
                           tern_cid *odcid, tern_cid *rscid)
{
    gnutls_aead_cipher_hd_t h;
    uint8_t pt[TOKEN_PT_MAX], tag[TERN_AEAD_TAG_LEN], addr[19];
    size_t n, off = 0, alen;
    tern_tstamp issued = 0;
    uint8_t l1, l2;
    int rv;

    if (!key || !tok || len < TOKEN_HDR_LEN + 8 + 2 + 7 + TERN_AEAD_TAG_LEN ||
        len > TOKEN_HDR_LEN + TOKEN_PT_MAX + TERN_AEAD_TAG_LEN || tok[0] != TOKEN_FORMAT)
        return TERN_ERR_DROP;
    n = len - TOKEN_HDR_LEN - TERN_AEAD_TAG_LEN;
    memcpy(pt, tok + TOKEN_HDR_LEN, n);
    memcpy(tag, tok + TOKEN_HDR_LEN + n, TERN_AEAD_TAG_LEN);

    gnutls_datum_t kd = in_datum(key, 32);
    if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &kd) < 0)
        return TERN_ERR_DROP;
    giovec_t ad = in_iov(tok, 1);
    giovec_t iov = {pt, n};
    rv = gnutls_aead_cipher_decryptv2(h, tok + 1, 12, &ad, 1, &iov, 1, tag, TERN_AEAD_TAG_LEN);
    gnutls_aead_cipher_deinit(h);
    if (rv < 0)
        goto drop;

    for (int i = 0; i < 8; i++)
        issued = (issued << 8) | pt[off++];
    l1 = pt[off++];
    if (l1 > TERN_MAX_CID_LEN || n - off < (size_t)l1 + 1)
        goto drop;
    off += l1;
    l2 = pt[off++];
    if (l2 > TERN_MAX_CID_LEN || n - off < l2)
        goto drop;
    off += l2;
    alen = addr_bytes(client, addr);
    if (!alen || n - off != alen || memcmp(pt + off, addr, alen) != 0)
        goto drop;
    if (now < issued || now - issued >= lifetime)
        goto drop;

    if (odcid)
        tern_cid_set(odcid, pt + 9, l1);
    if (rscid)
        tern_cid_set(rscid, pt + 10 + l1, l2);
    gnutls_memset(pt, 0, sizeof(pt));
    return 0;
drop:
    gnutls_memset(pt, 0, sizeof(pt));
    return TERN_ERR_DROP;
}
