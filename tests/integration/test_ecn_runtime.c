/* ECN on the real runtime over loopback: the kernel carries the marks each side sets per batch
 * (IP_TOS, IPV6_TCLASS, IP_TOS for the IPv4 peers of a dual-stack socket), the receiver counts
 * them and reports them in ACK_ECN, and the sender's path validates. With ECN off on one side
 * that side marks nothing but still reports what it receives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "loopfx.h"

#define DOWNLOAD (2u << 20)

typedef struct ecn_view {
    tern_conn_stats st;
    tern_path_info path;
} ecn_view;

static void view(tern_conn *c, ecn_view *v)
{
    memset(v, 0, sizeof(*v));
    assert_int_equal(tern_conn_get_stats(c, &v->st), 0);
    tern_path_addr pa;
    tern_conn_get_path(c, &pa);
    assert_true(loopfx_path_by_local(c, &pa.local, &v->path));
}

/* Downloads over a server listening on `listen` from a client bound to `local`, with ECN as
 * given at each end, and returns what each side reports. */
static void download(loopfx *f, const char *listen, const char *local, int srv_ecn, int cli_ecn,
                     ecn_view *sv, ecn_view *cv)
{
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    assert_int_equal(sc.ecn, 1); /* the default */
    sc.ecn = srv_ecn;
    cc.ecn = cli_ecn;
    loopfx_start_server(f, &sc, listen);
    tern_addr la, remote = f->addr;
    assert_int_equal(tern_addr_parse(&la, local, 0), 0);
    if (la.u.sa.sa_family == AF_INET && remote.u.sa.sa_family == AF_INET6) {
        /* a dual-stack listener on [::]: reach it at 127.0.0.1 */
        assert_int_equal(tern_addr_parse(&remote, "127.0.0.1", loopfx_port(&f->addr)), 0);
    }
    loopfx_start_client_to(f, &cc, NULL, &remote, &la);
    LOOPFX_CHECK(f, loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, DOWNLOAD, 20000);
    view(f->srv.conn, sv);
    view(f->cli.conn, cv);
    print_message(
        "    server: %s, sent %llu ECT(0), counted %llu; client: %s, sent %llu, counted "
        "%llu ECT(0) %llu CE\n",
        srv_ecn ? (sv->st.ecn_state == TERN_ECN_STATE_CAPABLE ? "capable" : "not capable") : "off",
        (unsigned long long)sv->st.ecn_sent, (unsigned long long)sv->st.ecn_recv_ect0,
        cli_ecn ? (cv->st.ecn_state == TERN_ECN_STATE_CAPABLE ? "capable" : "not capable") : "off",
        (unsigned long long)cv->st.ecn_sent, (unsigned long long)cv->st.ecn_recv_ect0,
        (unsigned long long)cv->st.ecn_recv_ce);
}

/* Both ends marked, the other end saw the marks, both paths capable. */
static void check_both_capable(loopfx *f, const ecn_view *sv, const ecn_view *cv)
{
    LOOPFX_CHECK(f, sv->st.ecn_state == TERN_ECN_STATE_CAPABLE);
    LOOPFX_CHECK(f, cv->st.ecn_state == TERN_ECN_STATE_CAPABLE);
    LOOPFX_CHECK(f, sv->path.ecn_state == TERN_ECN_STATE_CAPABLE);
    LOOPFX_CHECK(f, sv->path.ecn_failure == TERN_ECN_FAIL_NONE);
    /* 2 MiB is over 230 packets even at loopback's 8972-byte datagrams: nearly all of them
     * marked (path MTU probes go unmarked), and loopback keeps every mark */
    LOOPFX_CHECK(f, sv->st.ecn_sent > 200);
    LOOPFX_CHECK(f, cv->st.ecn_recv_ect0 > 200 && cv->st.ecn_recv_ect0 <= sv->st.ecn_sent);
    LOOPFX_CHECK(f, cv->path.ecn_recv_ect0 == cv->st.ecn_recv_ect0);
    LOOPFX_CHECK(f, sv->st.ecn_recv_ect0 > 0 && sv->st.ecn_recv_ect0 <= cv->st.ecn_sent);
    LOOPFX_CHECK(f, cv->st.ecn_recv_ect1 + cv->st.ecn_recv_ce + sv->st.ecn_recv_ce == 0);
}

static void test_ecn_v4(void **st)
{
    ecn_view sv, cv;
    download(*st, "127.0.0.1:0", "127.0.0.1:0", 1, 1, &sv, &cv);
    check_both_capable(*st, &sv, &cv);
}

static void test_ecn_v6(void **st)
{
    tern_addr probe;
    if (tern_addr_parse(&probe, "[::1]:0", 0) != 0)
        skip();
    ecn_view sv, cv;
    download(*st, "[::1]:0", "[::1]:0", 1, 1, &sv, &cv);
    check_both_capable(*st, &sv, &cv);
}

/* An IPv4 client of a dual-stack listener: the server's socket is IPv6 and its peer IPv4. */
static void test_ecn_dual_stack(void **st)
{
    ecn_view sv, cv;
    download(*st, "[::]:0", "127.0.0.1:0", 1, 1, &sv, &cv);
    check_both_capable(*st, &sv, &cv);
}

/* ECN off at the server: it marks nothing (its state says off), the client counts no mark, yet
 * the server reports the client's marks in ACK_ECN and the client's path validates. */
static void test_ecn_off_one_side(void **st)
{
    loopfx *f = *st;
    ecn_view sv, cv;
    download(f, "127.0.0.1:0", "127.0.0.1:0", 0, 1, &sv, &cv);
    LOOPFX_CHECK(f, sv.st.ecn_state == TERN_ECN_STATE_OFF);
    LOOPFX_CHECK(f, sv.path.ecn_state == TERN_ECN_STATE_OFF);
    LOOPFX_CHECK(f, sv.st.ecn_sent == 0);
    LOOPFX_CHECK(f, cv.st.ecn_recv_ect0 + cv.st.ecn_recv_ce == 0);
    LOOPFX_CHECK(f, sv.st.ecn_recv_ect0 > 0);
    LOOPFX_CHECK(f, cv.st.ecn_state == TERN_ECN_STATE_CAPABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_ecn_v4),
        LOOPFX_TEST(test_ecn_v6),
        LOOPFX_TEST(test_ecn_dual_stack),
        LOOPFX_TEST(test_ecn_off_one_side),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
