/* The driver's word on a path's local interface MTU (tern_conn_set_path_mtu): it applies to the
 * path whose both addresses match, at once to a path that already uses more (the next datagrams
 * fit), and bounds the search from then on; a path of the same local address to another remote is
 * another path, and an unknown path is TERN_ERR_NOT_FOUND. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conn.h"
#include "conn_test.h"
#include "pair.h"
#include "path.h"

#define SEC 1000000000ull

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static void test_local_mtu_hint(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 1701), 0);
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, 400000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    size_t found = tern_path_mtu(tern_conn_active_path(p.client));
    assert_true(found > 1280); /* the search went above what the hint will allow */

    assert_int_equal(tern_conn_set_path_mtu(NULL, &p.path_c, 1280, p.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_set_path_mtu(p.client, NULL, 1280, p.now), TERN_ERR_INVALID_ARG);
    tern_path_addr other = p.path_c;
    other.remote = addr("10.0.0.99:443");
    assert_int_equal(tern_conn_set_path_mtu(p.client, &other, 1280, p.now), TERN_ERR_NOT_FOUND);
    other = p.path_c;
    other.local = addr("10.0.0.1:5999");
    assert_int_equal(tern_conn_set_path_mtu(p.client, &other, 1280, p.now), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_path_mtu(tern_conn_active_path(p.client)), found);

    assert_int_equal(tern_conn_set_path_mtu(p.client, &p.path_c, 1280, p.now), 0);
    assert_true(tern_path_mtu(tern_conn_active_path(p.client)) <= 1280);
    assert_true(pair_request(&p, 400000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_path_mtu(tern_conn_active_path(p.client)) <= 1280);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_mtu_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
