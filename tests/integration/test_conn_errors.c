/* How a client connection reports that it cannot get through, over the real runtime on loopback
 * (and the refusal rule on a pair of cores):
 * a server that is not running (ICMP port unreachable: "connection refused" at once, not a
 * handshake timeout, and never once the server has answered) and a server certificate that fails
 * verification (the close reason says why). The endpoints are the loopfx fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopfx.h"
#include "pair.h"
#include "tern/tern.h"
#include "testcert.h"

/* An address on `ip` with a UDP port nobody is bound to any more (bound, read, closed). */
static void closed_port(const char *ip, tern_addr *out)
{
    assert_int_equal(tern_addr_parse(out, ip, 0), 0);
    int fd = socket(out->u.sa.sa_family, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, &out->u.sa, out->len), 0);
    socklen_t len = sizeof(out->u);
    assert_int_equal(getsockname(fd, &out->u.sa, &len), 0);
    out->len = len;
    close(fd);
}

static void refused(loopfx *f, const char *ip)
{
    tern_config cc;
    tern_addr nobody;
    closed_port(ip, &nobody);
    loopfx_base_cfg(&cc, 0);
    /* A timeout would end it too, with another status: TERN_ERR_IDLE_TIMEOUT. */
    cc.handshake_timeout_ms = 5000;
    loopfx_start_client_to(f, &cc, NULL, &nobody, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_client_closed, 8000));
    assert_int_equal(f->cli.connected, 0);
    assert_int_equal(f->cli.close.status, TERN_ERR_CONN_REFUSED);
    assert_string_equal(f->cli.close.reason, "port unreachable");
    assert_int_equal(f->cli.close.local, 1);
    assert_string_equal(tern_strerror(TERN_ERR_CONN_REFUSED), "connection refused");
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 0);
}

static void test_refused_v4(void **st)
{
    refused(*st, "127.0.0.1");
}

static void test_refused_v6(void **st)
{
    refused(*st, "::1");
}

/* Once the server has answered, a port unreachable is not believed: the connection lives on until
 * its own timers decide. The server's endpoint goes away after the handshake; every probe the
 * client sends then comes back as a port unreachable. */
static void test_unreachable_after_answer_ignored(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.idle_timeout_ms = 1500;
    loopfx_start_server(f, &sc, NULL);
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    tern_endpoint_free(f->srv.ep);
    f->srv.ep = NULL;
    loopfx_request(f, 100000); /* something to send, and so to be refused */
    assert_true(loopfx_drive(f, loopfx_cond_client_closed, 8000));
    assert_int_equal(f->cli.close.status, TERN_ERR_IDLE_TIMEOUT);
}

/* The rule itself, on a pair of cores: only a client that has heard nothing from the server ends,
 * and only for the server's own address. */
static int cond_now(tern_pair *p)
{
    (void)p;
    return 1;
}

static void test_port_unreachable_rule(void **st)
{
    tern_pair p;
    tern_addr other;
    (void)st;

    assert_int_equal(pair_init(&p, 7), 0);
    assert_true(pair_run(&p, cond_now, 0)); /* creates the client, nothing exchanged */
    other = p.path_c.remote;
    other.u.in.sin_port ^= 0x0101; /* the server's IP, another port */
    assert_int_equal(tern_conn_on_port_unreachable(p.client, &other), 0);
    assert_int_equal(tern_conn_on_port_unreachable(p.client, &p.path_c.remote), 1);
    assert_true(tern_conn_is_done(p.client));
    assert_int_equal(tern_conn_close_info(p.client)->status, TERN_ERR_CONN_REFUSED);
    pair_free(&p);

    /* Once the server answered, it is ignored, and the download completes. */
    assert_int_equal(pair_init(&p, 8), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5000000000ull));
    assert_true(pair_request(&p, 200000) >= 0);
    assert_int_equal(tern_conn_on_port_unreachable(p.client, &p.path_c.remote), 0);
    assert_int_equal(tern_conn_on_port_unreachable(p.server, &p.path_s.remote), 0);
    assert_false(tern_conn_is_done(p.client));
    assert_true(pair_run(&p, pair_cond_all_done, 10000000000ull));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* A client that trusts another CA: the reason names the verification failure in words. */
static void test_untrusted_certificate(void **st)
{
    loopfx *f = *st;
    char dir[] = "/tmp/tern-errors-XXXXXX", other_cert[256], other_key[256];
    tern_config sc, cc;

    assert_non_null(mkdtemp(dir));
    assert_int_equal(
        tern_test_make_cert(dir, other_cert, sizeof(other_cert), other_key, sizeof(other_key)), 0);
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.ca_file = other_cert;
    loopfx_start_server(f, &sc, NULL);
    loopfx_start_client(f, &cc, NULL);
    int closed = loopfx_drive(f, loopfx_cond_client_closed, 5000);
    unlink(other_cert);
    unlink(other_key);
    rmdir(dir);
    assert_true(closed);
    assert_int_equal(f->cli.connected, 0);
    assert_int_equal(f->cli.close.status, TERN_ERR_TLS);
    assert_int_equal(f->cli.close.error_code, TERN_TE_CRYPTO_ERROR + 42); /* bad_certificate */
    assert_non_null(strstr(f->cli.close.reason, "certificate verification failed: "));
    assert_non_null(strstr(f->cli.close.reason, "NOT trusted"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_refused_v4),
        LOOPFX_TEST(test_refused_v6),
        LOOPFX_TEST(test_unreachable_after_answer_ignored),
        cmocka_unit_test(test_port_unreachable_rule),
        LOOPFX_TEST(test_untrusted_certificate),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
