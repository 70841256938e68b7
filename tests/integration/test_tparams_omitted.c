/* Transport parameters a server must send and leaves out (RFC 9000 §7.3): without
 * original_destination_connection_id the client cannot authenticate the connection IDs of the
 * handshake; its decoder refuses such parameters as malformed and the client closes with
 * TRANSPORT_PARAMETER_ERROR, which reaches the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"
#include "tparams.h"

#define SEC 1000000000ull

static void no_original_dcid(tern_tparams *tp)
{
    tp->has_original_dcid = 0;
    memset(&tp->original_dcid, 0, sizeof(tp->original_dcid));
}

static void test_original_dcid_omitted(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 905), 0);
    p.alter_server_tparams = no_original_dcid;
    assert_true(pair_run(&p, pair_cond_client_closing, 5 * SEC));
    assert_true(pair_refused(p.client, TERN_TE_TRANSPORT_PARAMETER_ERROR,
                             "malformed transport parameters"));
    assert_false(p.connected);
    assert_true(pair_run(&p, pair_cond_server_draining, 5 * SEC));
    const tern_close_info *si = tern_conn_close_info(p.server);
    assert_int_equal(si->local, 0);
    assert_int_equal(si->error_code, TERN_TE_TRANSPORT_PARAMETER_ERROR);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_original_dcid_omitted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
