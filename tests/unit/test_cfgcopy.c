/* Tests of the configuration's deep copy: every rejected configuration returns the documented
 * error and leaves nothing allocated, every string and list of the copy is its own memory, and each
 * allocation the copy makes can fail with TERN_ERR_NOMEM and nothing held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "allochook.h"
#include "cfgcopy.h"

static const char *const alpn1[] = {"hq-interop"};

static tern_config base(void)
{
    tern_config c;
    tern_config_init(&c);
    c.alpn = alpn1;
    c.alpn_count = 1;
    return c;
}

/* The copy must fail with `want` and leave `d` empty. */
#define expect_rejected(cfg, want) expect_rejected_at(cfg, want, __LINE__)
static void expect_rejected_at(const tern_config *cfg, int want, int line)
{
    tern_cfg_copy d;
    memset(&d, 0xa5, sizeof(d));
    int rc = tern_cfg_copy_init(&d, cfg);
    _assert_int_equal((uintmax_t)rc, (uintmax_t)want, __FILE__, line);
    _assert_true(d.alpn == NULL && d.prefer == NULL && d.cert_file == NULL && d.key_file == NULL &&
                     d.ca_file == NULL && d.tls_priority == NULL && d.qlog_dir == NULL,
                 "nothing held", __FILE__, line);
    tern_cfg_copy_free(&d); /* harmless after an error */
}

static void test_bad_alpn_lists(void **state)
{
    (void)state;
    tern_config c = base();
    c.alpn = NULL;
    expect_rejected(&c, TERN_ERR_CONFIG); /* none */
    c = base();
    c.alpn_count = 0;
    expect_rejected(&c, TERN_ERR_CONFIG);
    const char *many[TERN_CFG_MAX_ALPN + 1];
    for (size_t i = 0; i < TERN_CFG_MAX_ALPN + 1; i++)
        many[i] = "h3";
    c = base();
    c.alpn = many;
    c.alpn_count = TERN_CFG_MAX_ALPN + 1;
    expect_rejected(&c, TERN_ERR_CONFIG); /* one too many */
    const char *empty[] = {"h3", ""};
    c.alpn = empty;
    c.alpn_count = 2;
    expect_rejected(&c, TERN_ERR_CONFIG); /* an empty protocol, after a good one was copied */
    const char *null_entry[] = {"h3", NULL};
    c.alpn = null_entry;
    expect_rejected(&c, TERN_ERR_CONFIG);
    char longest[257];
    memset(longest, 'a', 256);
    longest[256] = 0;
    const char *too_long[] = {longest};
    c.alpn = too_long;
    c.alpn_count = 1;
    expect_rejected(&c, TERN_ERR_CONFIG); /* 256 bytes: ALPN names are at most 255 */
    longest[255] = 0;
    tern_cfg_copy d;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0); /* 255 bytes is the limit, and fits */
    assert_int_equal(strlen(d.cfg.alpn[0]), 255);
    tern_cfg_copy_free(&d);
    /* exactly the maximum count is accepted */
    c.alpn = many;
    c.alpn_count = TERN_CFG_MAX_ALPN;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0);
    assert_int_equal(d.cfg.alpn_count, TERN_CFG_MAX_ALPN);
    tern_cfg_copy_free(&d);
}

static void test_bad_prefer_lists(void **state)
{
    (void)state;
    const char *many[TERN_CFG_MAX_PREFER + 1];
    for (size_t i = 0; i < TERN_CFG_MAX_PREFER + 1; i++)
        many[i] = "wlan0";
    tern_config c = base();
    c.prefer = many;
    c.prefer_count = TERN_CFG_MAX_PREFER + 1;
    expect_rejected(&c, TERN_ERR_CONFIG);
    c.prefer = NULL;
    c.prefer_count = 1;
    expect_rejected(&c, TERN_ERR_CONFIG); /* a count without a list */
    char name[65];
    memset(name, 'e', 64);
    name[64] = 0;
    const char *too_long[] = {"wlan0", name};
    c.prefer = too_long;
    c.prefer_count = 2;
    expect_rejected(&c, TERN_ERR_CONFIG); /* 64 bytes: at most 63 */
    const char *empty[] = {""};
    c.prefer = empty;
    c.prefer_count = 1;
    expect_rejected(&c, TERN_ERR_CONFIG);
    name[63] = 0;
    c.prefer = too_long;
    c.prefer_count = 2;
    tern_cfg_copy d;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0);
    assert_int_equal(d.cfg.prefer_count, 2);
    assert_string_equal(d.cfg.prefer[1], name);
    tern_cfg_copy_free(&d);
}

static void test_bad_numbers(void **state)
{
    (void)state;
    tern_config c = base();
    c.max_udp_payload = TERN_MIN_INITIAL_SIZE - 1;
    expect_rejected(&c, TERN_ERR_CONFIG);
    c.max_udp_payload = 65528;
    expect_rejected(&c, TERN_ERR_CONFIG);
    c = base();
    c.active_connection_id_limit = 1;
    expect_rejected(&c, TERN_ERR_CONFIG);
    c = base();
    c.cert_file = "cert.pem"; /* a certificate without its key */
    expect_rejected(&c, TERN_ERR_CONFIG);
    c = base();
    assert_int_equal(c.key_update_margin_pct, 50);
    c.key_update_margin_pct = 0; /* a key update at the limit itself: too late */
    expect_rejected(&c, TERN_ERR_CONFIG);
    c.key_update_margin_pct = 100; /* an update with every packet */
    expect_rejected(&c, TERN_ERR_CONFIG);
    c = base();
    c.max_udp_payload = 65527;
    c.active_connection_id_limit = 2;
    c.key_update_margin_pct = 99;
    tern_cfg_copy d;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0);
    assert_int_equal(d.cfg.max_udp_payload, 65527);
    assert_int_equal(d.cfg.key_update_margin_pct, 99);
    tern_cfg_copy_free(&d);
    c.key_update_margin_pct = 1;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0);
    tern_cfg_copy_free(&d);
}

static tern_config full(char *alpn0, char *pref0, char *cert, char *qlog)
{
    static const char *alpn[2], *prefer[1];
    alpn[0] = alpn0;
    alpn[1] = "h3";
    prefer[0] = pref0;
    tern_config c = base();
    c.alpn = alpn;
    c.alpn_count = 2;
    c.prefer = prefer;
    c.prefer_count = 1;
    c.cert_file = cert;
    c.key_file = "key.pem";
    c.ca_file = "ca.pem";
    c.tls_priority = "NORMAL";
    c.qlog_dir = qlog;
    return c;
}

static void test_copy_owns_its_memory(void **state)
{
    (void)state;
    char a[] = "hq-interop", p[] = "eth0", cert[] = "cert.pem", q[] = "/tmp/q";
    tern_config c = full(a, p, cert, q);
    tern_cfg_copy d;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0);
    memset(a, 'x', strlen(a));
    memset(p, 'x', strlen(p));
    memset(cert, 'x', strlen(cert));
    memset(q, 'x', strlen(q));
    assert_string_equal(d.cfg.alpn[0], "hq-interop");
    assert_string_equal(d.cfg.alpn[1], "h3");
    assert_int_equal(d.cfg.alpn_count, 2);
    assert_string_equal(d.cfg.prefer[0], "eth0");
    assert_string_equal(d.cfg.cert_file, "cert.pem");
    assert_string_equal(d.cfg.key_file, "key.pem");
    assert_string_equal(d.cfg.ca_file, "ca.pem");
    assert_string_equal(d.cfg.tls_priority, "NORMAL");
    assert_string_equal(d.cfg.qlog_dir, "/tmp/q");
    assert_ptr_not_equal(d.cfg.alpn, c.alpn);
    assert_ptr_not_equal(d.cfg.cert_file, cert);
    tern_cfg_copy_free(&d);
    assert_null(d.cfg.alpn);
    assert_int_equal(d.cfg.alpn_count, 0);
}

/* Each allocation of a full copy, failed in turn: TERN_ERR_NOMEM with nothing held (the total
 * allocated count returns to where it was: every allocation made before the failure was freed). */
static void test_each_allocation_fails(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    char a[] = "hq-interop", p[] = "eth0", cert[] = "cert.pem", q[] = "/tmp/q";
    tern_config c = full(a, p, cert, q);
    unsigned long long before = allochook_count;
    tern_cfg_copy d;
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0);
    unsigned long long n = allochook_count - before;
    /* 2 lists, 3 list entries, 5 strings */
    assert_int_equal(n, 10);
    tern_cfg_copy_free(&d);
    for (unsigned long long i = 0; i < n; i++) {
        allochook_fail_after = (long)i;
        memset(&d, 0xa5, sizeof(d));
        assert_int_equal(tern_cfg_copy_init(&d, &c), TERN_ERR_NOMEM);
        assert_int_equal(allochook_fail_after, -1); /* the i-th allocation was the one failed */
        assert_null(d.alpn);
        assert_null(d.prefer);
        assert_null(d.cert_file);
        assert_null(d.qlog_dir);
    }
    assert_int_equal(tern_cfg_copy_init(&d, &c), 0); /* and a retry succeeds */
    tern_cfg_copy_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_alpn_lists),        cmocka_unit_test(test_bad_prefer_lists),
        cmocka_unit_test(test_bad_numbers),           cmocka_unit_test(test_copy_owns_its_memory),
        cmocka_unit_test(test_each_allocation_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
