/* NEW_TOKEN tokens: layout, key and checks (see token.h). */
#include "token.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* format | nonce (12) | AES-256-GCM(issue time (8, big endian) | binding (5 or 9)) | tag (16);
 * the format byte is the associated data. */
#define HDR_LEN 13
#define PT_MAX (8 + 9)
#define TAG_LEN 16

size_t tern_token_binding(const tern_addr *a, uint8_t out[9])
{
    if (!a)
        return 0;
    if (a->u.sa.sa_family == AF_INET) {
        out[0] = 4;
        memcpy(out + 1, &a->u.in.sin_addr, 4);
        return 5;
    }
    if (a->u.sa.sa_family == AF_INET6) {
        /* an IPv4-mapped address is the IPv4 address it maps: a dual-stack socket sees either */
        const uint8_t *b = a->u.in6.sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, sizeof(mapped)) == 0) {
            out[0] = 4;
            memcpy(out + 1, b + 12, 4);
            return 5;
        }
        out[0] = 6;
        memcpy(out + 1, b, 8);
        return 9;
    }
    return 0;
}

int tern_token_derive_key(const uint8_t retry_key[32], uint8_t out[32])
{
    static const char label[] = "tern NEW_TOKEN key";
    return gnutls_hmac_fast(GNUTLS_MAC_SHA256, retry_key, 32, label, sizeof(label) - 1, out) < 0
               ? TERN_ERR_CRYPTO
               : 0;
}

size_t tern_token_seal(const uint8_t key[32], const uint8_t nonce[12], const tern_addr *client,
                       tern_tstamp issued, uint8_t *out, size_t cap)
{
    uint8_t pt[PT_MAX];
    size_t n = 0, bl;
    if (!key || !nonce || !out)
        return 0;
    for (int i = 0; i < 8; i++)
        pt[n++] = (uint8_t)(issued >> (56 - 8 * i));
    bl = tern_token_binding(client, pt + n);
    if (!bl)
        return 0;
    n += bl;
    if (cap < HDR_LEN + n + TAG_LEN)
        return 0;
    out[0] = TERN_TOKEN_FORMAT_NEW;
    memcpy(out + 1, nonce, 12);
    memcpy(out + HDR_LEN, pt, n);

    gnutls_aead_cipher_hd_t h;
    gnutls_datum_t kd = {(unsigned char *)(uintptr_t)key, 32};
    size_t tag_len = TAG_LEN;
    if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &kd) < 0)
        return 0;
    giovec_t ad = {out, 1};
    giovec_t iov = {out + HDR_LEN, n};
    int rv =
        gnutls_aead_cipher_encryptv2(h, nonce, 12, &ad, 1, &iov, 1, out + HDR_LEN + n, &tag_len);
    gnutls_aead_cipher_deinit(h);
    if (rv < 0 || tag_len != TAG_LEN)
        return 0;
    return HDR_LEN + n + TAG_LEN;
}

int tern_token_open(const uint8_t key[32], const uint8_t *tok, size_t len, const tern_addr *client,
                    tern_tstamp now, tern_tstamp lifetime)
{
    uint8_t pt[PT_MAX], tag[TAG_LEN], want[9];
    if (!key || !tok || len < HDR_LEN + 8 + 5 + TAG_LEN || len > HDR_LEN + PT_MAX + TAG_LEN ||
        tok[0] != TERN_TOKEN_FORMAT_NEW)
        return TERN_ERR_DROP;
    size_t n = len - HDR_LEN - TAG_LEN;
    memcpy(pt, tok + HDR_LEN, n);
    memcpy(tag, tok + HDR_LEN + n, TAG_LEN);

    gnutls_aead_cipher_hd_t h;
    gnutls_datum_t kd = {(unsigned char *)(uintptr_t)key, 32};
    if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &kd) < 0)
        return TERN_ERR_DROP;
    giovec_t ad = {(void *)(uintptr_t)tok, 1};
    giovec_t iov = {pt, n};
    int rv = gnutls_aead_cipher_decryptv2(h, tok + 1, 12, &ad, 1, &iov, 1, tag, TAG_LEN);
    gnutls_aead_cipher_deinit(h);
    int ok = rv >= 0;
    tern_tstamp issued = 0;
    for (int i = 0; i < 8; i++)
        issued = (issued << 8) | pt[i];
    size_t wl = tern_token_binding(client, want);
    ok = ok && wl && n - 8 == wl && memcmp(pt + 8, want, wl) == 0;
    ok = ok && now >= issued && now - issued < lifetime;
    gnutls_memset(pt, 0, sizeof(pt));
    return ok ? 0 : TERN_ERR_DROP;
}
