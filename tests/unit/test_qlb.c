/* QUIC-LB connection IDs (qlb.h): each test vector of draft-ietf-quic-load-balancers-21's
 * appendix and its encryption example, encoded and decoded back to the server ID (and nonce);
 * the configuration bounds and errors; the generator's CIDs (QUIC-LB and random, with and
 * without the worker octet) decoding to their server ID and worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "allochook.h"
#include "qlb.h"

static size_t hex(const char *s, uint8_t *out)
{
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Encodes sid + nonce with config `cr` (key: hex or NULL), compares with the vector's CID, and
 * decodes it back both with and without the nonce. */
static void vector(unsigned cr, const char *key_hex, const char *sid_hex, const char *nonce_hex,
                   const char *cid_hex)
{
    uint8_t sid[32], nonce[32], cid[32], key[16], out[32], got_sid[32], got_nonce[32];
    size_t sl = hex(sid_hex, sid), nl = hex(nonce_hex, nonce), cl = hex(cid_hex, cid);
    if (key_hex)
        assert_int_equal(hex(key_hex, key), 16);
    tern_qlb q;
    assert_int_equal(tern_qlb_init(&q, cr, sid, sl, nl, key_hex ? key : NULL, 1), 0);
    assert_int_equal(tern_qlb_len(&q), cl);
    assert_int_equal(tern_qlb_encode(&q, nonce, 0, cl, out), 0);
    assert_memory_equal(out, cid, cl);
    memset(got_sid, 0, sizeof(got_sid));
    assert_int_equal(tern_qlb_decode(&q, cid, cl, got_sid, got_nonce), 0);
    assert_memory_equal(got_sid, sid, sl);
    assert_memory_equal(got_nonce, nonce, nl);
    memset(got_sid, 0, sizeof(got_sid));
    assert_int_equal(tern_qlb_decode(&q, cid, cl, got_sid, NULL), 0); /* 3 passes when enough */
    assert_memory_equal(got_sid, sid, sl);
    tern_qlb_free(&q);
}

#define KEY "8f95f09245765f80256934e50c66207f"

static void test_plaintext_cr0(void **st)
{
    (void)st;
    vector(0, NULL, "c4605e", "4504cc4f", "07c4605e4504cc4f");
}

/* The draft prints this CID as 20a350d28b4203487d970b and its nonce as 3487d970b, both garbled
 * (an odd number of digits); with cr 1, a 5-byte server ID and a 5-byte nonce the first octet is
 * 0x2a, then the two fields as they are. */
static void test_plaintext_cr1(void **st)
{
    (void)st;
    vector(1, NULL, "350d28b420", "3487d9700b", "2a350d28b4203487d9700b");
}

static void test_four_pass_odd(void **st)
{
    (void)st;
    vector(0, KEY, "ed793a", "ee080dbf", "0720b1d07b359d3c");
}

/* A server ID longer than the nonce: the load balancer needs the fourth pass. */
static void test_four_pass_long_sid(void **st)
{
    (void)st;
    vector(1, KEY, "ed793a51d49b8f5fab65", "ee080dbf48", "2fcc381bc74cb4fbad2823a3d1f8fed2");
}

static void test_single_pass(void **st)
{
    (void)st;
    vector(2, KEY, "ed793a51d49b8f5f", "ee080dbf48c0d1e5", "504dd2d05a7b0de9b2b9907afb5ecf8cc3");
}

/* The table gives config rotation 3 for this vector, but its CID's first octet (0x12) carries 0;
 * the ciphertext is checked as printed, with the codepoint its CID has. */
static void test_four_pass_even(void **st)
{
    (void)st;
    vector(0, KEY, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d",
           "125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc");
}

/* The draft's worked example of the four passes. */
static void test_encryption_example(void **st)
{
    (void)st;
    vector(0, "fdf726a9893ec05c0632d3956680baf0", "31441a", "9c69c275", "0767947d29be054a");
}

static void test_config_bounds(void **st)
{
    (void)st;
    uint8_t sid[16] = {1, 2, 3}, key[16] = {0};
    tern_qlb q;
    assert_int_equal(tern_qlb_init(&q, 7, sid, 3, 4, NULL, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_qlb_init(&q, 6, sid, 3, 4, NULL, 1), 0);
    assert_int_equal(tern_qlb_init(&q, 0, sid, 0, 4, NULL, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_qlb_init(&q, 0, sid, 16, 4, NULL, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_qlb_init(&q, 0, sid, 3, 3, NULL, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_qlb_init(&q, 0, sid, 15, 5, key, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_qlb_init(&q, 0, NULL, 3, 4, key, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_qlb_init(&q, 0, sid, 15, 4, key, 1), 0); /* 19 bytes: the most */
    assert_int_equal(tern_qlb_len(&q), 20);
    tern_qlb_free(&q);
}

static void test_decode_errors(void **st)
{
    (void)st;
    uint8_t sid[3] = {9, 8, 7}, nonce[4] = {1, 2, 3, 4}, key[16] = {5}, cid[20], got[15];
    tern_qlb q;
    assert_int_equal(tern_qlb_init(&q, 3, sid, 3, 4, key, 0), 0);
    assert_int_equal(tern_qlb_encode(&q, nonce, 0x15, 8, cid), 0);
    assert_int_equal(cid[0], 3 << 5 | 0x15); /* no length encoding: the caller's random bits */
    assert_int_equal(tern_qlb_encode(&q, nonce, 0, 7, cid), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_qlb_encode(&q, nonce, 0, 21, cid), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_qlb_encode(&q, NULL, 0, 8, cid), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_qlb_decode(&q, cid, 7, got, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_qlb_decode(&q, cid, 8, NULL, NULL), TERN_ERR_INVALID_ARG);
    cid[0] = (uint8_t)(2 << 5 | 7); /* another configuration */
    assert_int_equal(tern_qlb_decode(&q, cid, 8, got, NULL), TERN_ERR_NOT_FOUND);
    cid[0] = (uint8_t)(TERN_QLB_UNROUTABLE << 5 | 7);
    assert_int_equal(tern_qlb_decode(&q, cid, 8, got, NULL), TERN_ERR_NOT_FOUND);
    cid[0] = (uint8_t)(3 << 5);
    assert_int_equal(tern_qlb_decode(&q, cid, 8, got, NULL), 0);
    assert_memory_equal(got, sid, 3);
    tern_qlb_free(&q);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static int rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(rng_state >> 56);
    }
    return 0;
}

static int failing_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    (void)out;
    (void)len;
    return TERN_ERR_INTERNAL;
}

static void qlb_cfg(tern_config *cfg, size_t sid_len, size_t nonce_len, int keyed)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->qlb_server_id_len = (uint8_t)sid_len;
    cfg->qlb_nonce_len = (uint8_t)nonce_len;
    cfg->qlb_config_id = 5;
    cfg->qlb_encode_len = 1;
    cfg->qlb_has_key = (uint8_t)keyed;
    for (size_t i = 0; i < sid_len; i++)
        cfg->qlb_server_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 16; i++)
        cfg->qlb_key[i] = (uint8_t)(i * 7);
}

/* Many CIDs of every shape: each decodes to the server ID, names its worker, and none repeats. */
static void test_generator(void **st)
{
    (void)st;
    static const struct {
        size_t sid, nonce;
        int keyed;
        unsigned workers;
    } shapes[] = {{0, 0, 0, 0}, {0, 0, 0, 2}, {0, 0, 0, 7}, {2, 6, 0, 0}, {2, 6, 1, 0},
                  {8, 8, 1, 2},  {3, 4, 1, 3},  {9, 9, 1, 4},  {15, 4, 1, 0}, {10, 5, 0, 128}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        tern_config cfg;
        qlb_cfg(&cfg, shapes[s].sid, shapes[s].nonce, shapes[s].keyed);
        unsigned nw = shapes[s].workers;
        for (unsigned w = 0; w < (nw ? nw : 1); w += nw > 8 ? 31 : 1) {
            tern_cidgen g;
            assert_int_equal(tern_cidgen_init(&g, &cfg, 8, w, nw), 0);
            size_t want = shapes[s].sid ? 1 + shapes[s].sid + shapes[s].nonce + (nw > 1) : 8;
            assert_int_equal(g.len, want);
            tern_cid seen[64];
            for (int i = 0; i < 64; i++) {
                tern_cid c;
                assert_int_equal(tern_cidgen_make(&g, rng, NULL, &c), 0);
                assert_int_equal(c.len, want);
                for (int j = 0; j < i; j++)
                    assert_false(tern_cid_eq(&c, &seen[j]));
                seen[i] = c;
                assert_int_equal(tern_cidgen_worker_of(&g, c.data, c.len), nw > 1 ? (int)w : -1);
                if (shapes[s].sid) {
                    uint8_t sid[15];
                    assert_int_equal(c.data[0] >> 5, 5);
                    assert_int_equal(c.data[0] & 0x1f, want - 1);
                    assert_int_equal(tern_qlb_decode(&g.qlb, c.data, c.len, sid, NULL), 0);
                    assert_memory_equal(sid, cfg.qlb_server_id, shapes[s].sid);
                }
            }
            assert_int_equal(tern_cidgen_make(&g, failing_rng, NULL, &seen[0]), TERN_ERR_INTERNAL);
            assert_int_equal(tern_cidgen_worker_of(&g, seen[1].data, seen[1].len - 1), -1);
            tern_cidgen_free(&g);
        }
    }
}

static void test_generator_bounds(void **st)
{
    (void)st;
    tern_config cfg;
    tern_cidgen g;
    qlb_cfg(&cfg, 15, 4, 1); /* 20 bytes: no room for the worker octet */
    assert_int_equal(tern_cidgen_init(&g, &cfg, 8, 0, 0), 0);
    tern_cidgen_free(&g);
    assert_int_equal(tern_cidgen_init(&g, &cfg, 8, 0, 2), TERN_ERR_CONFIG);
    qlb_cfg(&cfg, 0, 0, 0);
    assert_int_equal(tern_cidgen_init(&g, &cfg, 8, 2, 2), TERN_ERR_CONFIG);
    assert_int_equal(tern_cidgen_init(&g, &cfg, 8, 0, TERN_CIDGEN_MAX_WORKERS + 1),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_cidgen_init(&g, &cfg, 1, 0, 0), TERN_ERR_CONFIG);
    assert_int_equal(tern_cidgen_init(&g, &cfg, 21, 0, 0), TERN_ERR_CONFIG);
    qlb_cfg(&cfg, 3, 2, 0); /* a nonce below 4 bytes */
    assert_int_equal(tern_cidgen_init(&g, &cfg, 8, 0, 0), TERN_ERR_CONFIG);
}

/* Every allocation GnuTLS makes while the cipher is set up fails in turn: TERN_ERR_CRYPTO with no
 * cipher left behind, through tern_cidgen_init too, until the setup succeeds. */
static void test_cipher_setup_failures(void **st)
{
    (void)st;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    uint8_t sid[3] = {1, 2, 3}, key[16] = {9};
    tern_config cfg;
    qlb_cfg(&cfg, 3, 4, 1);
    int failures = 0;
    for (long n = 0; n < 100; n++) {
        tern_qlb q;
        tern_cidgen g;
        allochook_fail_after = n;
        int rv = tern_qlb_init(&q, 0, sid, 3, 4, key, 1);
        int hit = allochook_fail_after < 0;
        allochook_fail_after = n;
        int grv = tern_cidgen_init(&g, &cfg, 8, 0, 0);
        allochook_fail_after = -1;
        if (!hit) {
            assert_int_equal(rv, 0);
            assert_int_equal(grv, 0);
            tern_qlb_free(&q);
            tern_cidgen_free(&g);
            break;
        }
        failures++;
        assert_int_equal(rv, TERN_ERR_CRYPTO);
        assert_null(q.aes);
        assert_int_equal(grv, TERN_ERR_CRYPTO);
    }
    assert_true(failures > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plaintext_cr0),      cmocka_unit_test(test_plaintext_cr1),
        cmocka_unit_test(test_four_pass_odd),      cmocka_unit_test(test_four_pass_long_sid),
        cmocka_unit_test(test_single_pass),        cmocka_unit_test(test_four_pass_even),
        cmocka_unit_test(test_encryption_example), cmocka_unit_test(test_config_bounds),
        cmocka_unit_test(test_decode_errors),      cmocka_unit_test(test_generator),
        cmocka_unit_test(test_generator_bounds),  cmocka_unit_test(test_cipher_setup_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
