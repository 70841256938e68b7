/* Failure paths of crypto.c: every allocation GnuTLS makes while keys, Retry tags and tokens are
 * built fails in turn and must surface as the documented error with nothing half-installed; then
 * malformed arguments and packets (short samples, bad lengths, forged tokens that authenticate but
 * carry impossible contents) are refused with their error codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "allochook.h"
#include "crypto.h"

#define SWEEP_MAX 200 /* far more allocations than any of these operations makes */

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + 13 * i);
}

static size_t secret_len_of(int aead) { return aead == TERN_AEAD_AES_256_GCM ? 48 : 32; }

static void assert_empty(const tern_keys *k)
{
    assert_int_equal(k->aead, TERN_AEAD_NONE);
    assert_null(k->aead_hd);
    assert_null(k->hp_hd);
    assert_int_equal(k->secret_len, 0);
}

/* Protects a short-header packet with tx and opens it with rx; 0 when the payload came back. */
static int roundtrip(tern_keys *tx, const tern_keys *tx_hp, tern_keys *rx, const tern_keys *rx_hp)
{
    uint8_t pkt[64], want[20];
    size_t pn_len;
    uint64_t pn;
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0x40; /* short header, pn_len 1 */
    fill(pkt + 1, 8, 3);
    pkt[9] = 5;
    fill(want, sizeof(want), 77);
    memcpy(pkt + 10, want, sizeof(want));
    if (tern_crypto_protect(tx, tx_hp, pkt, 10, 1, sizeof(want), 5))
        return -1;
    if (tern_crypto_unprotect_header(rx_hp, pkt, 10 + sizeof(want) + 16, 9, &pn_len, &pn) ||
        pn != 5 || pn_len != 1)
        return -1;
    if (tern_crypto_decrypt(rx, pkt, 10, 10 + sizeof(want) + 16, pn) != (int)sizeof(want))
        return -1;
    return memcmp(pkt + 10, want, sizeof(want)) ? -1 : 0;
}

/* Fails allocation 0, 1, 2 ... of keys_from_secret (with and without HP key) for each AEAD: each
 * failure returns TERN_ERR_CRYPTO and leaves the keys empty, and once every allocation succeeds
 * the keys work. */
static void test_keys_from_secret_oom(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    for (int aead = TERN_AEAD_AES_128_GCM; aead <= TERN_AEAD_CHACHA20_POLY1305; aead++) {
        for (int with_hp = 0; with_hp <= 1; with_hp++) {
            uint8_t secret[48];
            size_t slen = secret_len_of(aead);
            int failures = 0, ok = 0;
            fill(secret, sizeof(secret), (uint8_t)aead);
            for (long n = 0; n < SWEEP_MAX && !ok; n++) {
                tern_keys k = {0};
                allochook_fail_after = n;
                int rv = tern_crypto_keys_from_secret(&k, aead, secret, slen, with_hp);
                int hit = allochook_fail_after < 0;
                allochook_fail_after = -1;
                if (rv == 0) {
                    tern_keys rx = {0};
                    assert_int_equal(tern_crypto_keys_from_secret(&rx, aead, secret, slen, 1), 0);
                    assert_int_equal(roundtrip(&k, with_hp ? NULL : &rx, &rx, &rx), 0);
                    tern_crypto_keys_free(&rx);
                    ok = !hit; /* succeeded without the failure being needed: done */
                } else {
                    assert_int_equal(rv, TERN_ERR_CRYPTO);
                    assert_empty(&k);
                    failures++;
                }
                tern_crypto_keys_free(&k);
            }
            assert_true(ok);
            assert_true(failures >= 1 + with_hp); /* the AEAD handle, and the HP handle */
        }
    }
}

/* The same for Initial keys (two key sets) and the next key phase; a failure at any point leaves
 * both sets empty. */
static void test_initial_and_next_keys_oom(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_cid dcid;
    tern_cid_set(&dcid, (const uint8_t *)"\x83\x94\xc8\xf0\x3e\x51\x57\x08", 8);
    int failures = 0, ok = 0;
    for (long n = 0; n < SWEEP_MAX && !ok; n++) {
        tern_keys ctx = {0}, crx = {0}, stx = {0}, srx = {0};
        assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &dcid, 1, &stx, &srx), 0);
        allochook_fail_after = n;
        int rv = tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &dcid, 0, &ctx, &crx);
        int hit = allochook_fail_after < 0;
        allochook_fail_after = -1;
        if (rv == 0) {
            assert_int_equal(roundtrip(&ctx, NULL, &srx, &srx), 0);
            assert_int_equal(roundtrip(&stx, NULL, &crx, &crx), 0);
            ok = !hit;
        } else {
            assert_int_equal(rv, TERN_ERR_CRYPTO);
            assert_empty(&ctx);
            assert_empty(&crx);
            failures++;
        }
        tern_crypto_keys_free(&ctx);
        tern_crypto_keys_free(&crx);
        tern_crypto_keys_free(&stx);
        tern_crypto_keys_free(&srx);
    }
    assert_true(ok);
    assert_true(failures >= 4); /* two handles for each direction */

    uint8_t secret[32];
    fill(secret, sizeof(secret), 9);
    tern_keys cur = {0}, peer = {0};
    assert_int_equal(tern_crypto_keys_from_secret(&cur, TERN_AEAD_AES_128_GCM, secret, 32, 1), 0);
    assert_int_equal(tern_crypto_keys_from_secret(&peer, TERN_AEAD_AES_128_GCM, secret, 32, 1), 0);
    failures = ok = 0;
    for (long n = 0; n < SWEEP_MAX && !ok; n++) {
        tern_keys next = {0}, pnext = {0};
        allochook_fail_after = n;
        int rv = tern_crypto_next_keys(&cur, &next);
        int hit = allochook_fail_after < 0;
        allochook_fail_after = -1;
        if (rv == 0) {
            assert_int_equal(tern_crypto_next_keys(&peer, &pnext), 0);
            assert_int_equal(roundtrip(&next, &cur, &pnext, &peer), 0);
            ok = !hit;
        } else {
            assert_int_equal(rv, TERN_ERR_CRYPTO);
            assert_empty(&next);
            failures++;
        }
        tern_crypto_keys_free(&next);
        tern_crypto_keys_free(&pnext);
    }
    assert_true(ok);
    assert_true(failures >= 1);
    tern_crypto_keys_free(&cur);
    tern_crypto_keys_free(&peer);
}

static void make_addr4(tern_addr *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &a->u.in.sin_addr), 1);
    a->len = sizeof(struct sockaddr_in);
}

/* Retry tags and tokens need a cipher handle per call: when it cannot be had, the tag fails with
 * TERN_ERR_CRYPTO, sealing yields no token and opening refuses the token. */
static void test_retry_and_token_oom(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    uint8_t key[32], nonce[12], tok[TERN_RETRY_TOKEN_MAX], retry[40], tag[16], want_tag[16];
    tern_cid odcid, rscid, o, r;
    tern_addr a;
    fill(key, sizeof(key), 1);
    fill(nonce, sizeof(nonce), 2);
    fill(retry, sizeof(retry), 3);
    tern_cid_set(&odcid, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    tern_cid_set(&rscid, (const uint8_t *)"\x11\x12\x13\x14", 4);
    make_addr4(&a, "192.0.2.7", 443);
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &odcid, retry, 40, want_tag), 0);
    size_t want_n = tern_crypto_token_seal(key, nonce, &odcid, &rscid, &a, 1000, tok, sizeof(tok));
    assert_true(want_n > 0);

    int seen[3] = {0}, done[3] = {0};
    for (long n = 0; n < SWEEP_MAX && !(done[0] && done[1] && done[2]); n++) {
        allochook_fail_after = n;
        int rv = tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &odcid, retry, 40, tag);
        int hit = allochook_fail_after < 0;
        allochook_fail_after = -1;
        if (rv == 0) {
            assert_memory_equal(tag, want_tag, 16);
            done[0] |= !hit;
        } else {
            assert_int_equal(rv, TERN_ERR_CRYPTO);
            seen[0]++;
        }

        uint8_t t2[TERN_RETRY_TOKEN_MAX];
        allochook_fail_after = n;
        size_t len = tern_crypto_token_seal(key, nonce, &odcid, &rscid, &a, 1000, t2, sizeof(t2));
        hit = allochook_fail_after < 0;
        allochook_fail_after = -1;
        if (len) {
            assert_int_equal(len, want_n);
            assert_memory_equal(t2, tok, len);
            done[1] |= !hit;
        } else {
            seen[1]++;
        }

        allochook_fail_after = n;
        rv = tern_crypto_token_open(key, tok, want_n, &a, 2000, 1000000, &o, &r);
        hit = allochook_fail_after < 0;
        allochook_fail_after = -1;
        if (rv == 0) {
            assert_true(tern_cid_eq(&o, &odcid));
            assert_true(tern_cid_eq(&r, &rscid));
            done[2] |= !hit;
        } else {
            assert_int_equal(rv, TERN_ERR_DROP);
            seen[2]++;
        }
    }
    assert_true(done[0] && done[1] && done[2]);
    assert_true(seen[0] >= 1 && seen[1] >= 1 && seen[2] >= 1);
}

/* Arguments outside the contract are refused, never used. */
static void test_bad_arguments(void **st)
{
    uint8_t secret[48], out[64], label[300];
    tern_keys k = {0}, k2 = {0};
    fill(secret, sizeof(secret), 4);

    /* HKDF-Expand-Label: no such AEAD, missing buffers, a label or output beyond TLS's limits. */
    assert_int_equal(tern_crypto_expand_label(TERN_AEAD_NONE, secret, 32, "quic key", out, 16),
                     TERN_ERR_CRYPTO);
    assert_int_equal(
        tern_crypto_expand_label(TERN_AEAD_CHACHA20_POLY1305 + 1, secret, 32, "quic key", out, 16),
        TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, NULL, 32, "x", out, 16),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, secret, 32, NULL, out, 16),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, secret, 32, "x", NULL, 16),
                     TERN_ERR_CRYPTO);
    memset(label, 'a', sizeof(label));
    label[250] = 0; /* "tls13 " + 250 > 255 */
    assert_int_equal(
        tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, secret, 32, (char *)label, out, 16),
        TERN_ERR_CRYPTO);
    label[249] = 0; /* exactly 255: allowed */
    assert_int_equal(
        tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, secret, 32, (char *)label, out, 16), 0);
    assert_int_equal(tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, secret, 32, "x", out, 0x10000),
                     TERN_ERR_CRYPTO);
    /* HKDF cannot expand beyond 255 hash lengths */
    static uint8_t big[255 * 32 + 1];
    assert_int_equal(
        tern_crypto_expand_label(TERN_AEAD_AES_128_GCM, secret, 32, "x", big, sizeof(big)),
        TERN_ERR_CRYPTO);

    /* Keys from a secret: no keys, no secret, a secret of the wrong length, an unknown AEAD. */
    assert_int_equal(tern_crypto_keys_from_secret(NULL, TERN_AEAD_AES_128_GCM, secret, 32, 1),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_keys_from_secret(&k, TERN_AEAD_AES_128_GCM, NULL, 32, 1),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_keys_from_secret(&k, TERN_AEAD_AES_256_GCM, secret, 32, 1),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_keys_from_secret(&k, 0, secret, 32, 1), TERN_ERR_CRYPTO);
    assert_empty(&k);
    /* installing over live keys frees them first; a failure then leaves nothing */
    assert_int_equal(tern_crypto_keys_from_secret(&k, TERN_AEAD_AES_128_GCM, secret, 32, 1), 0);
    assert_int_equal(tern_crypto_keys_from_secret(&k, TERN_AEAD_AES_128_GCM, secret, 31, 1),
                     TERN_ERR_CRYPTO);
    assert_empty(&k);

    /* Initial keys: another version, no CID or one too long, one struct for both directions. */
    tern_cid dcid, long_cid;
    tern_cid_set(&dcid, secret, 8);
    long_cid.len = TERN_MAX_CID_LEN + 1;
    assert_int_equal(tern_crypto_initial_keys(0xff00001d, &dcid, 0, &k, &k2), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, NULL, 0, &k, &k2),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &long_cid, 0, &k, &k2),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &dcid, 0, NULL, &k2),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &dcid, 0, &k, NULL),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &dcid, 0, &k, &k),
                     TERN_ERR_CRYPTO);
    assert_empty(&k);
    assert_empty(&k2);

    /* Next keys: from nothing, into itself, from keys without a secret of their hash length. */
    assert_int_equal(tern_crypto_next_keys(NULL, &k2), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_next_keys(&k, NULL), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_next_keys(&k, &k2), TERN_ERR_CRYPTO); /* k is empty */
    assert_int_equal(tern_crypto_keys_from_secret(&k, TERN_AEAD_AES_128_GCM, secret, 32, 1), 0);
    k.secret_len = 48;
    assert_int_equal(tern_crypto_next_keys(&k, &k2), TERN_ERR_CRYPTO);
    assert_empty(&k2);
    tern_crypto_keys_free(&k);
    tern_crypto_keys_free(NULL); /* documented as safe */
    tern_crypto_keys_move(&k, &k);

    /* Retry tag: another version, no ODCID or one too long, no packet or tag. */
    uint8_t tag[16];
    assert_int_equal(tern_crypto_retry_tag(0xff00001d, &dcid, secret, 10, tag), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, NULL, secret, 10, tag),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &long_cid, secret, 10, tag),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &dcid, NULL, 10, tag),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &dcid, secret, 10, NULL),
                     TERN_ERR_CRYPTO);

    /* AEAD limits of no AEAD are unbounded; each AEAD's name. */
    assert_true(tern_crypto_confidentiality_limit(TERN_AEAD_NONE) == UINT64_MAX);
    assert_true(tern_crypto_integrity_limit(TERN_AEAD_NONE) == UINT64_MAX);
    assert_true(tern_crypto_integrity_limit(TERN_AEAD_CHACHA20_POLY1305) == 1ull << 36);
    assert_string_equal(tern_crypto_aead_name(TERN_AEAD_NONE), "none");
    assert_int_equal(tern_crypto_aead_from_gnutls(GNUTLS_CIPHER_AES_128_CCM), TERN_AEAD_NONE);
}

/* Packet protection with impossible geometry or missing keys is refused; header protection needs
 * its whole sample inside the packet; a tag that does not authenticate is TERN_ERR_CRYPTO. */
static void test_protect_and_open_refusals(void **st)
{
    uint8_t secret[32], pkt[128];
    tern_keys k = {0}, nohp = {0}, empty = {0};
    size_t pn_len;
    uint64_t pn;
    fill(secret, sizeof(secret), 5);
    assert_int_equal(tern_crypto_keys_from_secret(&k, TERN_AEAD_AES_128_GCM, secret, 32, 1), 0);
    assert_int_equal(tern_crypto_keys_from_secret(&nohp, TERN_AEAD_AES_128_GCM, secret, 32, 0), 0);
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0x41;

    assert_int_equal(tern_crypto_protect(NULL, &k, pkt, 10, 2, 20, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&empty, &k, pkt, 10, 2, 20, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&nohp, NULL, pkt, 10, 2, 20, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&k, NULL, NULL, 10, 2, 20, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&k, NULL, pkt, 10, 0, 20, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&k, NULL, pkt, 10, 5, 20, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&k, NULL, pkt, 2, 2, 20, 1), TERN_ERR_CRYPTO);
    /* pn_len + payload < 4: the sample would start in the tag's last bytes... and beyond */
    assert_int_equal(tern_crypto_protect(&k, NULL, pkt, 10, 1, 2, 1), TERN_ERR_CRYPTO);
    /* 3 + 1 = 4 is the least that fits */
    assert_int_equal(tern_crypto_protect(&k, NULL, pkt, 10, 1, 3, 1), 0);

    /* Header protection: no keys, no HP key, pn offset 0 or past the end, sample cut short. */
    assert_int_equal(tern_crypto_unprotect_header(NULL, pkt, 60, 9, &pn_len, &pn), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_unprotect_header(&nohp, pkt, 60, 9, &pn_len, &pn), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_unprotect_header(&k, NULL, 60, 9, &pn_len, &pn), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_unprotect_header(&k, pkt, 60, 0, &pn_len, &pn), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_unprotect_header(&k, pkt, 60, 61, &pn_len, &pn), TERN_ERR_DROP);
    uint8_t before[128];
    memcpy(before, pkt, sizeof(pkt));
    assert_int_equal(tern_crypto_unprotect_header(&k, pkt, 9 + 4 + 15, 9, &pn_len, &pn),
                     TERN_ERR_DROP);
    assert_memory_equal(pkt, before, sizeof(pkt)); /* nothing unmasked */
    assert_int_equal(tern_crypto_unprotect_header(&k, pkt, 9 + 4 + 16, 9, NULL, NULL), 0);

    /* Decryption: no keys, header longer than the packet, no room for a tag, a forged tag. */
    assert_int_equal(tern_crypto_decrypt(NULL, pkt, 10, 40, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_decrypt(&empty, pkt, 10, 40, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_decrypt(&k, NULL, 10, 40, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_decrypt(&k, pkt, 41, 40, 1), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_decrypt(&k, pkt, 30, 45, 1), TERN_ERR_CRYPTO);
    /* a packet of header + tag only (no payload) authenticates with the right tag */
    memset(pkt, 0, sizeof(pkt));
    pkt[0] = 0x43; /* pn_len 4 */
    pkt[9] = 9;
    assert_int_equal(tern_crypto_protect(&k, NULL, pkt, 10, 4, 0, 9), 0);
    assert_int_equal(tern_crypto_unprotect_header(&k, pkt, 26, 6, &pn_len, &pn), 0);
    assert_int_equal(pn_len, 4);
    assert_int_equal(pn, 9);
    memcpy(before, pkt, 26);
    assert_int_equal(tern_crypto_decrypt(&k, pkt, 10, 26, pn), 0);
    before[25] ^= 1;
    assert_int_equal(tern_crypto_decrypt(&k, before, 10, 26, pn), TERN_ERR_CRYPTO);

    tern_crypto_keys_free(&k);
    tern_crypto_keys_free(&nohp);
}

/* Seals a token plaintext the way tern_crypto_token_seal does, so that authentic tokens with
 * contents a sealer never writes can be offered to the opener. */
static size_t seal_raw(const uint8_t key[32], const uint8_t *pt, size_t n, uint8_t *out)
{
    gnutls_aead_cipher_hd_t h;
    uint8_t kb[32]; /* GnuTLS takes the key through a non-const pointer */
    memcpy(kb, key, sizeof(kb));
    gnutls_datum_t kd = {kb, 32};
    size_t tag_len = 16;
    out[0] = 0x52;
    memset(out + 1, 0x33, 12);
    memcpy(out + 13, pt, n);
    assert_int_equal(gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &kd), 0);
    giovec_t ad = {out, 1};
    giovec_t iov = {out + 13, n};
    assert_int_equal(gnutls_aead_cipher_encryptv2(h, out + 1, 12, &ad, 1, &iov, 1, out + 13 + n,
                                                  &tag_len),
                     0);
    gnutls_aead_cipher_deinit(h);
    return 13 + n + 16;
}

/* Tokens: the opener re-checks every length inside an authentic plaintext, and the sealer refuses
 * CIDs it cannot encode. */
static void test_token_contents(void **st)
{
    uint8_t key[32], nonce[12], tok[TERN_RETRY_TOKEN_MAX + 8], pt[80];
    tern_cid o, r, c8, c21;
    tern_addr a;
    fill(key, sizeof(key), 6);
    fill(nonce, sizeof(nonce), 7);
    make_addr4(&a, "198.51.100.4", 4433);
    tern_cid_set(&c8, key, 8);
    c21.len = TERN_MAX_CID_LEN + 1;

    assert_int_equal(tern_crypto_token_seal(key, nonce, &c21, &c8, &a, 1, tok, sizeof(tok)), 0);
    assert_int_equal(tern_crypto_token_seal(key, nonce, &c8, &c21, &a, 1, tok, sizeof(tok)), 0);
    assert_int_equal(tern_crypto_token_seal(NULL, nonce, &c8, &c8, &a, 1, tok, sizeof(tok)), 0);
    assert_int_equal(tern_crypto_token_seal(key, nonce, &c8, &c8, NULL, 1, tok, sizeof(tok)), 0);

    /* issue time | l1 | odcid | l2 | rscid | 4 | ip | port: a valid one first */
    size_t n = 0;
    memset(pt, 0, sizeof(pt));
    n += 8;
    pt[n++] = 8;
    n += 8;
    pt[n++] = 0;
    pt[n++] = 4;
    memcpy(pt + n, &a.u.in.sin_addr, 4);
    memcpy(pt + n + 4, &a.u.in.sin_port, 2);
    n += 6;
    size_t len = seal_raw(key, pt, n, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), 0);
    assert_int_equal(o.len, 8);
    assert_int_equal(r.len, 0);

    /* an ODCID length above 20 */
    pt[8] = 21;
    len = seal_raw(key, pt, n, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    /* an ODCID running past the end */
    pt[8] = 20;
    len = seal_raw(key, pt, n, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    /* a Retry SCID length above 20, then one running past the end */
    pt[8] = 8;
    pt[17] = 21;
    len = seal_raw(key, pt, n, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    pt[17] = 8;
    len = seal_raw(key, pt, n, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    /* the address does not fill the rest exactly */
    pt[17] = 0;
    len = seal_raw(key, pt, n + 1, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    /* a client whose address cannot be encoded matches nothing */
    tern_addr unset = {0};
    len = seal_raw(key, pt, n, tok);
    assert_int_equal(tern_crypto_token_open(key, tok, len, &unset, 5, 100, &o, &r), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(NULL, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(key, NULL, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
    tok[0] = 0x53;
    assert_int_equal(tern_crypto_token_open(key, tok, len, &a, 5, 100, &o, &r), TERN_ERR_DROP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_from_secret_oom),
        cmocka_unit_test(test_initial_and_next_keys_oom),
        cmocka_unit_test(test_retry_and_token_oom),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_protect_and_open_refusals),
        cmocka_unit_test(test_token_contents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
