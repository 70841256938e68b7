/* A server's preferred address that the client cannot or need not use (RFC 9000 §9.6): one of
 * the other address family only, or the address the client already talks to. The client stays
 * on its path, opens no other, and the connection serves a download intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define SEC 1000000000ull

static tern_addr addr(const char *s)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, s, 0), 0);
    return a;
}

static int cond_confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}
static int never(tern_pair *p) { return 0; }

static void stays_on_original(const char *preferred, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.cfg_s.preferred_address = addr(preferred);
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    pair_run(&p, never, 2 * SEC);
    tern_addr orig = addr("10.0.0.2:443");
    assert_true(tern_addr_equal(&tern_conn_active_path(p.client)->addr.remote, &orig));
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pair_request(&p, 200000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* Only an IPv6 preferred address for a client on IPv4. */
static void test_other_family_only(void **st) { stays_on_original("[fd00::5]:4433", 61); }

/* The preferred address is the one in use. */
static void test_same_address(void **st) { stays_on_original("10.0.0.2:443", 62); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_other_family_only),
        cmocka_unit_test(test_same_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
