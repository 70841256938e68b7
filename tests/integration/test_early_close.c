/* A client connection's end is reported when its CONNECTION_CLOSE has gone out (or the peer's
 * has arrived), not a closing period later: on_closed runs while the connection is still closing
 * or draining, the endpoint counts it no more (so tern_endpoint_run returns), the rest of the
 * period runs without callbacks, and the peer still gets the close with its reason. Servers keep
 * the period before reporting. Real runtime over loopback (loopfx). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "loopfx.h"
#include "tern/core.h"
#include "tern/tern.h"

static int server_closed(loopfx *f)
{
    return f->srv.closed > 0;
}

static void start(loopfx *f)
{
    tern_config s, c;
    loopfx_base_cfg(&s, 1);
    loopfx_base_cfg(&c, 0);
    loopfx_start_server(f, &s, NULL);
    loopfx_start_client(f, &c, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 200000, 10000);
}

static void test_client_close_reported_at_once(void **st)
{
    loopfx *f = *st;
    start(f);
    assert_int_equal(tern_conn_close(f->cli.conn, 0, "bye"), 0);
    assert_true(loopfx_drive(f, loopfx_cond_client_closed, 5000));
    assert_int_equal(f->cli.closed, 1);
    assert_int_equal(f->cli.closed_state, TERN_CORE_CLOSING); /* the period had not ended */
    assert_int_equal(f->cli.close.local, 1);
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 0);
    assert_int_equal(tern_endpoint_run(f->cli.ep), 0); /* nothing keeps it running */
    /* the server got the close and ends with the client's reason, after its own period */
    assert_true(loopfx_drive(f, server_closed, 5000));
    assert_int_equal(f->srv.closed_state, TERN_CORE_CLOSED);
    assert_int_equal(f->srv.close.app, 1);
    assert_int_equal(f->srv.close.local, 0);
    assert_int_equal(f->srv.close.error_code, 0);
    assert_string_equal(f->srv.close.reason, "bye");
    /* the client's period ends quietly: no second report */
    loopfx_drive(f, loopfx_cond_never, 300);
    assert_int_equal(f->cli.closed, 1);
    assert_int_equal(f->cli.errors, 0);
}

static void test_peer_close_reported_at_once(void **st)
{
    loopfx *f = *st;
    start(f);
    tern_conn *sc = f->srv.conn;
    assert_non_null(sc);
    assert_int_equal(tern_conn_close(sc, 5, "server done"), 0);
    assert_true(loopfx_drive(f, loopfx_cond_client_closed, 5000));
    assert_int_equal(f->cli.closed_state, TERN_CORE_DRAINING);
    assert_int_equal(f->cli.close.local, 0);
    assert_int_equal(f->cli.close.error_code, 5);
    assert_string_equal(f->cli.close.reason, "server done");
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 0);
    assert_int_equal(f->srv.closed, 0); /* the server's closing period still runs */
    assert_true(loopfx_drive(f, server_closed, 5000));
    assert_int_equal(f->srv.closed_state, TERN_CORE_CLOSED);
    loopfx_drive(f, loopfx_cond_never, 300);
    assert_int_equal(f->cli.closed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_client_close_reported_at_once),
        LOOPFX_TEST(test_peer_close_reported_at_once),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
