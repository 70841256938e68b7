/* The two handshake messages tern reads itself for resumption: a ClientHello's first PSK identity
 * (which ticket key a resumption needs) and a NewSessionTicket's max_early_data_size. Built
 * messages decode; every truncation and every inner length pointing past the end decodes to
 * nothing, never past the buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls.h"

static size_t put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

/* A ClientHello body: version, random, session id, two suites, one compression method, then a
 * GREASE-like extension and, when `with_psk`, pre_shared_key with a 20-byte identity. */
static size_t client_hello(uint8_t *b, int header, int with_psk)
{
    size_t o = header ? 4 : 0;
    b[o++] = 3, b[o++] = 3;
    memset(b + o, 0x11, 32), o += 32;
    b[o++] = 0;           /* legacy_session_id */
    o += put16(b + o, 4); /* cipher_suites */
    b[o++] = 0x13, b[o++] = 1, b[o++] = 0x13, b[o++] = 2;
    b[o++] = 1, b[o++] = 0; /* compression */
    size_t ext_len_at = o;
    o += 2;
    o += put16(b + o, 0x0a0a), o += put16(b + o, 1), b[o++] = 0;
    if (with_psk) {
        o += put16(b + o, 41);
        o += put16(b + o, 2 + 2 + 20 + 4 + 2 + 33);
        o += put16(b + o, 2 + 20 + 4); /* identities */
        o += put16(b + o, 20);
        for (int i = 0; i < 20; i++)
            b[o++] = (uint8_t)(0xa0 + i);
        memset(b + o, 0, 4), o += 4;        /* obfuscated_ticket_age */
        o += put16(b + o, 33), b[o++] = 32; /* binders */
        memset(b + o, 0x22, 32), o += 32;
    }
    put16(b + ext_len_at, o - ext_len_at - 2);
    if (header) {
        b[0] = 1, b[1] = 0;
        put16(b + 2, o - 4);
    }
    return o;
}

static void test_psk_identity(void **st)
{
    uint8_t ch[256];
    size_t id_len = 0;
    for (int header = 0; header < 2; header++) {
        size_t n = client_hello(ch, header, 1);
        const uint8_t *id = tern_tls_psk_identity(ch, n, &id_len);
        assert_non_null(id);
        assert_int_equal(id_len, 20);
        assert_int_equal(id[0], 0xa0);
        assert_int_equal(id[19], 0xb3);
        for (size_t cut = 0; cut < n; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exactly sized: ASan sees any overread */
            memcpy(copy, ch, cut);
            id = tern_tls_psk_identity(copy, cut, &id_len);
            /* a cut inside the binders still leaves the identity whole */
            if (id)
                assert_true(id >= copy && id + id_len <= copy + cut);
            free(copy);
        }
        n = client_hello(ch, header, 0);
        assert_null(tern_tls_psk_identity(ch, n, &id_len));
    }
    assert_null(tern_tls_psk_identity(NULL, 10, &id_len));
    /* an identity longer than its extension */
    size_t n = client_hello(ch, 0, 1);
    size_t at = n - (2 + 33) - 4 - 20 - 2;
    put16(ch + at, 200);
    assert_null(tern_tls_psk_identity(ch, n, &id_len));
    /* an extension longer than the extensions */
    n = client_hello(ch, 0, 1);
    put16(ch + 2 + 32 + 1 + 2 + 4 + 2 + 2 + 4 + 1 + 2, 500);
    assert_null(tern_tls_psk_identity(ch, n, &id_len));
}

/* A NewSessionTicket body with an early_data extension of `v` (none when `with`), and a GREASE
 * extension before it. */
static size_t nst(uint8_t *b, int header, int with, uint32_t v, size_t *ext_at)
{
    size_t o = header ? 4 : 0;
    memset(b + o, 0, 8), o += 8;
    b[o++] = 2, b[o++] = 7, b[o++] = 8; /* nonce */
    o += put16(b + o, 10);
    memset(b + o, 0x33, 10), o += 10; /* ticket */
    *ext_at = o;
    o += put16(b + o, 5 + (with ? 8 : 0));
    o += put16(b + o, 0x1a1a), o += put16(b + o, 1), b[o++] = 0;
    if (with) {
        o += put16(b + o, 42), o += put16(b + o, 4);
        b[o++] = (uint8_t)(v >> 24), b[o++] = (uint8_t)(v >> 16);
        b[o++] = (uint8_t)(v >> 8), b[o++] = (uint8_t)v;
    }
    if (header) {
        b[0] = 4, b[1] = 0;
        put16(b + 2, o - 4);
    }
    return o;
}

static void test_nst_max_early_data(void **st)
{
    uint8_t m[128];
    size_t ext_at;
    for (int header = 0; header < 2; header++) {
        size_t n = nst(m, header, 1, 0xffffffffu, &ext_at);
        /* the whole message, and its extensions block alone (GnuTLS 3.7's hook) */
        assert_int_equal(tern_tls_nst_max_early_data(m, n), 0xffffffffu);
        assert_int_equal(tern_tls_nst_max_early_data(m + ext_at, n - ext_at), 0xffffffffu);
        n = nst(m, header, 1, 16384, &ext_at);
        assert_int_equal(tern_tls_nst_max_early_data(m, n), 16384);
        n = nst(m, header, 0, 0, &ext_at);
        assert_int_equal(tern_tls_nst_max_early_data(m, n), 0);
        assert_int_equal(tern_tls_nst_max_early_data(m + ext_at, n - ext_at), 0);
        n = nst(m, header, 1, 7, &ext_at);
        for (size_t cut = 0; cut < n; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, m, cut);
            assert_int_equal(tern_tls_nst_max_early_data(copy, cut), 0);
            free(copy);
        }
    }
    assert_int_equal(tern_tls_nst_max_early_data(NULL, 5), 0);
    /* an early_data extension of the wrong size, and an extension past the block's end */
    size_t n = nst(m, 0, 1, 9, &ext_at);
    m[n - 5] = 3;
    assert_int_equal(tern_tls_nst_max_early_data(m + ext_at, n - ext_at), 0);
    n = nst(m, 0, 1, 9, &ext_at);
    m[ext_at + 2 + 3] = 200;
    assert_int_equal(tern_tls_nst_max_early_data(m, n), 0);
    /* a nonce or ticket longer than the message */
    n = nst(m, 0, 1, 9, &ext_at);
    m[8] = 250;
    assert_int_equal(tern_tls_nst_max_early_data(m, n), 0);
    n = nst(m, 0, 1, 9, &ext_at);
    put16(m + 11, 300);
    assert_int_equal(tern_tls_nst_max_early_data(m, n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psk_identity),
        cmocka_unit_test(test_nst_max_early_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
