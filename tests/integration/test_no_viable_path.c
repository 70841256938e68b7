/* A client that moved to a path not yet validated and then abandoned the path it came from has
 * nowhere to go back to when the new path never answers: it closes with NO_VIABLE_PATH (RFC 9000
 * §20.1) once validation gives up, rather than sending into the void until the idle timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "migration.h"
#include "pair.h"

#define SEC 1000000000ull
#define MS 1000000ull

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static int client_closing(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_CLOSING;
}

static void test_active_fails_with_no_fallback(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 7001), 0);
    assert_true(pair_connect(&p));
    tern_addr home = p.path_c.local;
    tern_addr dead = addr("10.0.0.7:6000");
    p.alt_addr = dead;
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 1;
    p.c2s_alt.delay_ns = p.s2c_alt.delay_ns = 10 * MS;
    int idx = tern_conn_path_set_active(p.client, &dead, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_conn_active_index(p.client), idx);
    assert_false(tern_conn_active_path(p.client)->path_validated);
    /* the path it came from goes: the client has only the unvalidated one */
    assert_int_equal(tern_conn_path_remove(p.client, &home, p.now), 0);
    assert_int_equal(tern_mig_paths_in_use(p.client), 1);
    uint64_t start = p.now;
    assert_true(pair_run(&p, client_closing, 30 * SEC));
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->error_code, TERN_TE_NO_VIABLE_PATH);
    assert_true(ci->local);
    assert_false(ci->app);
    /* at the validation deadline (a few PTOs), well before the idle timeout */
    assert_true(p.now - start < 10 * SEC);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 1);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_fails_with_no_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
