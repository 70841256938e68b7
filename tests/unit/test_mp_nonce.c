/* The multipath AEAD nonce (draft-ietf-quic-multipath-21 §2.4): the 32-bit path ID, big-endian,
 * XORed into the IV's first 4 bytes, the packet number into its last 8. Checked against keys whose
 * IV was changed by hand, so the layout is asserted byte for byte; path 0 is RFC 9001's nonce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"

#define HL 10
#define PL 64

static size_t build(uint8_t *pkt)
{
    pkt[0] = 0x40; /* short header, pn_len 1 */
    for (int i = 1; i < HL - 1; i++)
        pkt[i] = (uint8_t)(0xc0 + i);
    pkt[HL - 1] = 7; /* truncated packet number */
    for (int i = 0; i < PL; i++)
        pkt[HL + i] = (uint8_t)(i * 13);
    return HL + PL + TERN_AEAD_TAG_LEN;
}

static void keys(tern_keys *k, int aead, size_t slen)
{
    uint8_t secret[48];
    for (size_t i = 0; i < sizeof(secret); i++)
        secret[i] = (uint8_t)(0x5a ^ i);
    memset(k, 0, sizeof(*k));
    assert_int_equal(tern_crypto_keys_from_secret(k, aead, secret, slen, 1), 0);
}

static void check_aead(int aead, size_t slen)
{
    static const uint32_t paths[] = {1, 2, 0x01020304, 0xffffffffu};
    static const uint64_t pns[] = {0, 7, 0x123456789aull};
    uint8_t a[256], b[256];
    tern_keys k, manual;
    keys(&k, aead, slen);

    for (size_t j = 0; j < sizeof(pns) / sizeof(pns[0]); j++) {
        uint64_t pn = pns[j];
        /* path 0 is the single-path nonce */
        size_t n = build(a);
        build(b);
        assert_int_equal(tern_crypto_protect(&k, NULL, a, HL, 1, PL, pn), 0);
        assert_int_equal(tern_crypto_protect_path(&k, NULL, b, HL, 1, PL, 0, pn), 0);
        assert_memory_equal(a, b, n);

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            uint32_t id = paths[i];
            keys(&manual, aead, slen);
            manual.iv[0] ^= (uint8_t)(id >> 24);
            manual.iv[1] ^= (uint8_t)(id >> 16);
            manual.iv[2] ^= (uint8_t)(id >> 8);
            manual.iv[3] ^= (uint8_t)id;
            build(a);
            build(b);
            assert_int_equal(tern_crypto_protect_path(&k, NULL, a, HL, 1, PL, id, pn), 0);
            assert_int_equal(tern_crypto_protect(&manual, &k, b, HL, 1, PL, pn), 0);
            assert_memory_equal(a, b, n);
            /* and differs from the packet of path 0 */
            build(b);
            assert_int_equal(tern_crypto_protect(&k, NULL, b, HL, 1, PL, pn), 0);
            assert_memory_not_equal(a + HL, b + HL, PL);

            /* opened only with the same path ID (the header is unmasked first) */
            size_t pn_len;
            uint64_t tpn;
            assert_int_equal(tern_crypto_unprotect_header(&k, a, n, HL - 1, &pn_len, &tpn), 0);
            memcpy(b, a, n);
            assert_int_equal(tern_crypto_decrypt_path(&k, b, HL, n, id ^ 1, pn), TERN_ERR_CRYPTO);
            memcpy(b, a, n);
            assert_int_equal(tern_crypto_decrypt(&k, b, HL, n, pn), TERN_ERR_CRYPTO);
            assert_int_equal(tern_crypto_decrypt_path(&k, a, HL, n, id, pn), PL);
            for (int x = 0; x < PL; x++)
                assert_int_equal(a[HL + x], (uint8_t)(x * 13));
            tern_crypto_keys_free(&manual);
        }
    }
    tern_crypto_keys_free(&k);
}

static void test_nonce_aes128(void **state)
{
    (void)state;
    check_aead(TERN_AEAD_AES_128_GCM, 32);
}

static void test_nonce_aes256(void **state)
{
    (void)state;
    check_aead(TERN_AEAD_AES_256_GCM, 48);
}

static void test_nonce_chacha(void **state)
{
    (void)state;
    check_aead(TERN_AEAD_CHACHA20_POLY1305, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_aes128),
        cmocka_unit_test(test_nonce_aes256),
        cmocka_unit_test(test_nonce_chacha),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
