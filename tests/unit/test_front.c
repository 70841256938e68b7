/* The server front door (front.c) on its own: how it turns a tern_config into the dispatcher's
 * limits, when it lets a driver make it a worker of several, and what it does with an ACCEPT when
 * it has no server credentials (a client driver). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "front.h"

static int seeded_rand(void *ud, uint8_t *out, size_t len)
{
    uint64_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        out[i] = (uint8_t)*s;
    }
    return 0;
}

static int failing_rand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    (void)out;
    (void)len;
    return TERN_ERR_INTERNAL;
}

/* The NEW_TOKEN lifetime is configured in ms and kept in ns: a lifetime too long for ns means
 * "tokens never expire", never a short lifetime from a wrapped product. */
static void test_token_lifetime(void **st)
{
    (void)st;
    uint64_t seed = 1;
    tern_config cfg;
    tern_config_init(&cfg);
    tern_front f;
    cfg.token_lifetime_ms = 7000;
    assert_int_equal(tern_front_init(&f, &cfg, NULL, NULL, NULL, seeded_rand, &seed, NULL), 0);
    assert_int_equal(f.disp.cfg.new_token_lifetime_ns, 7000ull * 1000000ull);
    tern_front_free(&f);

    cfg.token_lifetime_ms = UINT64_MAX / 1000000 + 1; /* ~584 years: the product wraps */
    assert_int_equal(tern_front_init(&f, &cfg, NULL, NULL, NULL, seeded_rand, &seed, NULL), 0);
    assert_true(f.disp.cfg.new_token_lifetime_ns == UINT64_MAX);
    tern_front_free(&f);

    cfg.token_lifetime_ms = UINT64_MAX / 1000000; /* the largest that still fits */
    assert_int_equal(tern_front_init(&f, &cfg, NULL, NULL, NULL, seeded_rand, &seed, NULL), 0);
    assert_true(f.disp.cfg.new_token_lifetime_ns == (UINT64_MAX / 1000000) * 1000000);
    tern_front_free(&f);
}

/* Without keys given, both come from the random source, whose failure is the init's. */
static void test_keys_from_rand(void **st)
{
    (void)st;
    tern_config cfg;
    tern_config_init(&cfg);
    tern_front f;
    assert_int_equal(tern_front_init(&f, &cfg, NULL, NULL, NULL, failing_rand, NULL, NULL),
                     TERN_ERR_INTERNAL);
    uint64_t s1 = 5, s2 = 5, s3 = 6;
    tern_front a, b, c;
    assert_int_equal(tern_front_init(&a, &cfg, NULL, NULL, NULL, seeded_rand, &s1, NULL), 0);
    assert_int_equal(tern_front_init(&b, &cfg, NULL, NULL, NULL, seeded_rand, &s2, NULL), 0);
    assert_int_equal(tern_front_init(&c, &cfg, NULL, NULL, NULL, seeded_rand, &s3, NULL), 0);
    /* the same stream gives the same keys, another stream others; the two keys differ */
    assert_memory_equal(tern_dispatch_reset_key(&a.disp), tern_dispatch_reset_key(&b.disp), 32);
    assert_memory_not_equal(tern_dispatch_reset_key(&a.disp), tern_dispatch_reset_key(&c.disp),
                            32);
    assert_memory_not_equal(a.disp.cfg.reset_key, a.disp.cfg.retry_key, 32);
    tern_front_free(&a);
    tern_front_free(&b);
    tern_front_free(&c);
}

/* A front door becomes a worker only before any connection exists: the CIDs it already handed
 * out would name no worker. Afterwards its CIDs carry the worker octet. */
static void test_worker_only_before_connections(void **st)
{
    (void)st;
    uint64_t seed = 9;
    tern_config cfg;
    tern_config_init(&cfg);
    tern_front f;
    assert_int_equal(tern_front_init(&f, &cfg, NULL, NULL, NULL, seeded_rand, &seed, NULL), 0);
    tern_front_conn fc;
    int val = 1;
    tern_front_attach(&f, &fc, &val);
    assert_int_equal(f.disp.owners, 1);
    assert_int_equal(tern_front_set_worker(&f, 2, 4), TERN_ERR_INVALID_ARG);
    assert_int_equal(f.cidgen.workers, 0); /* unchanged */
    tern_front_detach(&f, &fc);
    assert_int_equal(f.disp.owners, 0);
    /* worker 4 of 4 does not exist: refused, the generator kept */
    assert_int_equal(tern_front_set_worker(&f, 4, 4), TERN_ERR_CONFIG);
    assert_int_equal(f.cidgen.workers, 0);
    assert_int_equal(tern_front_set_worker(&f, 2, 4), 0);
    assert_int_equal(f.disp.cfg.cid_len, TERN_FRONT_CID_LEN);
    for (int i = 0; i < 50; i++) {
        tern_cid cid;
        assert_int_equal(tern_cidgen_make(&f.cidgen, f.rand, f.rand_ud, &cid), 0);
        assert_int_equal(cid.len, TERN_FRONT_CID_LEN);
        assert_int_equal(tern_cidgen_worker_of(&f.cidgen, cid.data, cid.len), 2);
        /* a CID of another length is no CID of this generator */
        assert_int_equal(tern_cidgen_worker_of(&f.cidgen, cid.data, cid.len - 1), -1);
    }
    tern_front_free(&f);
}

/* A front door without server credentials (a client driver's) creates no connection for an
 * ACCEPT: TERN_ERR_CONFIG, nothing left routed, the drop counted as rejected. */
static void test_accept_without_credentials(void **st)
{
    (void)st;
    uint64_t seed = 3;
    tern_config cfg;
    tern_config_init(&cfg);
    tern_front f;
    assert_int_equal(tern_front_init(&f, &cfg, NULL, NULL, NULL, seeded_rand, &seed, NULL), 0);
    tern_dispatch_result r;
    memset(&r, 0, sizeof(r));
    r.verdict = TERN_DISPATCH_ACCEPT;
    r.version = 1;
    r.client_dcid.len = 8;
    memset(r.client_dcid.data, 0x11, 8);
    r.original_dcid = r.client_dcid;
    r.client_scid.len = 8;
    memset(r.client_scid.data, 0x22, 8);
    tern_path_addr pa;
    memset(&pa, 0, sizeof(pa));
    assert_int_equal(tern_addr_parse(&pa.local, "127.0.0.1", 443), 0);
    assert_int_equal(tern_addr_parse(&pa.remote, "127.0.0.1", 5000), 0);
    uint8_t d[1200] = {0xc0};
    tern_front_conn fc;
    int val = 7;
    uint64_t rejected = f.disp.st.drop[TERN_DISPATCH_DROP_REJECTED];
    assert_int_equal(tern_front_accept(&f, &fc, &val, NULL, &pa, &r, d, sizeof(d), 0, 1000),
                     TERN_ERR_CONFIG);
    assert_null(fc.c);
    assert_int_equal(f.disp.owners, 0);
    assert_int_equal(f.disp.st.drop[TERN_DISPATCH_DROP_REJECTED], rejected + 1);
    tern_front_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_lifetime),
        cmocka_unit_test(test_keys_from_rand),
        cmocka_unit_test(test_worker_only_before_connections),
        cmocka_unit_test(test_accept_without_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
