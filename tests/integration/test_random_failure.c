/* A random source that fails: creating a connection returns its error (nothing aborts), and a
 * connection whose source fails for a while after the handshake goes on, postponing what needed
 * random bytes (connection IDs, path challenges) instead of using bytes it did not get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define SEC 1000000000ull

static void test_create_fails(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 3), 0);
    p.rand_fail = 1;
    assert_false(pair_run(&p, pair_cond_connected, 1 * SEC));
    assert_null(p.client);
    pair_free(&p);
}

static void test_transfer_goes_on(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 4), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    p.rand_fail = 1;
    assert_int_equal(pair_request(&p, 2 << 20), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_false(p.client_closed || p.server_closed);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_fails),
        cmocka_unit_test(test_transfer_goes_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
