/* NEW_TOKEN tokens (token.h): what a token binds (IPv4 address, IPv6 /64, a mapped IPv4 address as
 * the address it maps), its lifetime at both edges, and that any changed byte, a token of another
 * key, a Retry token or a cut one never opens. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "crypto.h"
#include "token.h"

#define SEC 1000000000ull
#define T0 (7 * SEC)
#define LIFE (60 * SEC)

static const uint8_t nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void key_of(uint8_t key[32], uint8_t base)
{
    uint8_t retry[32];
    for (int i = 0; i < 32; i++)
        retry[i] = (uint8_t)(base + i);
    assert_int_equal(tern_token_derive_key(retry, key), 0);
}

static tern_addr addr(const char *s)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, s, 0), 0);
    return a;
}

static void test_roundtrip_and_lifetime(void **st)
{
    (void)st;
    uint8_t key[32], tok[TERN_NEW_TOKEN_MAX];
    key_of(key, 0x40);
    tern_addr a = addr("198.51.100.7:5000");
    /* without a key, a nonce or somewhere to write it, no token */
    assert_int_equal(tern_token_seal(NULL, nonce, &a, T0, tok, sizeof(tok)), 0);
    assert_int_equal(tern_token_seal(key, NULL, &a, T0, tok, sizeof(tok)), 0);
    assert_int_equal(tern_token_seal(key, nonce, &a, T0, NULL, sizeof(tok)), 0);
    size_t n = tern_token_seal(key, nonce, &a, T0, tok, sizeof(tok));
    assert_int_equal(n, 1 + 12 + 8 + 5 + 16);
    assert_int_equal(tok[0], TERN_TOKEN_FORMAT_NEW);
    /* the issue time and the address are not readable in the token */
    assert_null(memmem(tok, n, &a.u.in.sin_addr, 4));
    assert_int_equal(tern_token_open(key, tok, n, &a, T0, LIFE), 0);
    assert_int_equal(tern_token_open(key, tok, n, &a, T0 + LIFE - 1, LIFE), 0);
    /* expired, and issued in the future (another clock) */
    assert_int_equal(tern_token_open(key, tok, n, &a, T0 + LIFE, LIFE), TERN_ERR_DROP);
    assert_int_equal(tern_token_open(key, tok, n, &a, T0 - 1, LIFE), TERN_ERR_DROP);
    /* another port is the same client (a NAT rebinding, the next connection's socket) */
    tern_addr port = addr("198.51.100.7:6000");
    assert_int_equal(tern_token_open(key, tok, n, &port, T0 + SEC, LIFE), 0);
    tern_addr other = addr("198.51.100.8:5000");
    assert_int_equal(tern_token_open(key, tok, n, &other, T0 + SEC, LIFE), TERN_ERR_DROP);
    /* the same address seen as IPv4-mapped IPv6 */
    tern_addr mapped = addr("[::ffff:198.51.100.7]:5000");
    assert_int_equal(tern_token_open(key, tok, n, &mapped, T0 + SEC, LIFE), 0);
    tern_addr v6 = addr("[2001:db8::7]:5000");
    assert_int_equal(tern_token_open(key, tok, n, &v6, T0 + SEC, LIFE), TERN_ERR_DROP);
}

static void test_ipv6_prefix(void **st)
{
    (void)st;
    uint8_t key[32], tok[TERN_NEW_TOKEN_MAX];
    key_of(key, 0x40);
    tern_addr a = addr("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443");
    size_t n = tern_token_seal(key, nonce, &a, T0, tok, sizeof(tok));
    assert_int_equal(n, TERN_NEW_TOKEN_MAX);
    /* a new privacy address in the same /64 still opens it; another /64 does not */
    tern_addr same64 = addr("[2001:db8:1:2::1]:9999");
    tern_addr other64 = addr("[2001:db8:1:3:aaaa:bbbb:cccc:dddd]:443");
    assert_int_equal(tern_token_open(key, tok, n, &same64, T0, LIFE), 0);
    assert_int_equal(tern_token_open(key, tok, n, &other64, T0, LIFE), TERN_ERR_DROP);
    tern_addr v4 = addr("192.0.2.1:443");
    assert_int_equal(tern_token_open(key, tok, n, &v4, T0, LIFE), TERN_ERR_DROP);
    /* too small a buffer, an address no token can name */
    assert_int_equal(tern_token_seal(key, nonce, &a, T0, tok, TERN_NEW_TOKEN_MAX - 1), 0);
    tern_addr none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(tern_token_seal(key, nonce, &none, T0, tok, sizeof(tok)), 0);
    assert_int_equal(tern_token_seal(key, nonce, NULL, T0, tok, sizeof(tok)), 0);
    uint8_t b[9];
    assert_int_equal(tern_token_binding(&none, b), 0);
    assert_int_equal(tern_token_open(key, tok, n, &none, T0, LIFE), TERN_ERR_DROP);
}

/* Every single changed bit, every cut, another key, and a Retry token are refused. */
static void test_tamper(void **st)
{
    (void)st;
    uint8_t key[32], key2[32], tok[TERN_NEW_TOKEN_MAX];
    key_of(key, 0x40);
    key_of(key2, 0x41);
    assert_memory_not_equal(key, key2, 32);
    tern_addr a = addr("198.51.100.7:5000");
    size_t n = tern_token_seal(key, nonce, &a, T0, tok, sizeof(tok));
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            tok[i] ^= (uint8_t)(1 << bit);
            assert_int_equal(tern_token_open(key, tok, n, &a, T0, LIFE), TERN_ERR_DROP);
            tok[i] ^= (uint8_t)(1 << bit);
        }
    }
    for (size_t len = 0; len < n; len++)
        assert_int_equal(tern_token_open(key, tok, len, &a, T0, LIFE), TERN_ERR_DROP);
    uint8_t longer[TERN_NEW_TOKEN_MAX + 8] = {0};
    memcpy(longer, tok, n);
    assert_int_equal(tern_token_open(key, longer, n + 1, &a, T0, LIFE), TERN_ERR_DROP);
    assert_int_equal(tern_token_open(key2, tok, n, &a, T0, LIFE), TERN_ERR_DROP);
    assert_int_equal(tern_token_open(key, tok, n, &a, T0, LIFE), 0);
    assert_int_equal(tern_token_open(NULL, tok, n, &a, T0, LIFE), TERN_ERR_DROP);
    assert_int_equal(tern_token_open(key, NULL, n, &a, T0, LIFE), TERN_ERR_DROP);
    assert_int_equal(tern_token_seal(NULL, nonce, &a, T0, tok, sizeof(tok)), 0);

    /* a Retry token of the same server is not a NEW_TOKEN token, and the other way round */
    uint8_t retry_key[32], rtok[TERN_RETRY_TOKEN_MAX];
    for (int i = 0; i < 32; i++)
        retry_key[i] = (uint8_t)(0x40 + i);
    tern_cid odcid = {8, {1, 2, 3, 4, 5, 6, 7, 8}}, rscid = {8, {9, 9, 9, 9, 9, 9, 9, 9}};
    size_t rn =
        tern_crypto_token_seal(retry_key, nonce, &odcid, &rscid, &a, T0, rtok, sizeof(rtok));
    assert_true(rn > 0);
    assert_int_equal(rtok[0], TERN_TOKEN_FORMAT_RETRY);
    assert_int_equal(tern_token_open(key, rtok, rn, &a, T0, LIFE), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(retry_key, tok, n, &a, T0, LIFE, NULL, NULL),
                     TERN_ERR_DROP);
    /* the same bytes under the Retry key itself do not open either (derived key) */
    assert_int_equal(tern_token_open(retry_key, tok, n, &a, T0, LIFE), TERN_ERR_DROP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_lifetime),
        cmocka_unit_test(test_ipv6_prefix),
        cmocka_unit_test(test_tamper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
