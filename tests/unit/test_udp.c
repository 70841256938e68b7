/* UDP datapath over loopback: GSO batches arrive as the right datagrams, wildcard binds learn and
 * choose the local address (IP_PKTINFO), dual-stack sockets, ECN marks, the GSO fallback and the
 * EAGAIN pending batch (both injected through the sendmmsg seam). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/udp.h"
#include "tern/core.h"

static tern_addr addr(const char *s)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, s, 0), 0);
    return a;
}

/* Receives until `want` datagrams (GRO trains cut back into datagrams) or 2 s. */
typedef struct got {
    size_t n;
    size_t len[128];
    uint8_t first[128]; /* first byte of each datagram */
    int ecns[128];      /* ECN codepoint of each datagram */
    tern_path_addr path;
    int ecn;
} got;

static void recv_n(tern_udp_sock *s, tern_udp_rx *rx, got *g, size_t want)
{
    /* expecting nothing: a short look is enough */
    int max_tries = want ? 200 : 10;
    tern_udp_dgram d[TERN_UDP_RX_BATCH];
    memset(g, 0, sizeof(*g));
    for (int tries = 0; (g->n < want || !want) && tries < max_tries; tries++) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        poll(&p, 1, 10);
        int n = tern_udp_recv(s, rx, d);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            size_t seg = d[i].seg ? d[i].seg : d[i].len;
            for (size_t off = 0; off < d[i].len; off += seg) {
                size_t l = d[i].len - off < seg ? d[i].len - off : seg;
                assert_true(g->n < 128);
                g->len[g->n] = l;
                g->first[g->n] = d[i].data[off];
                g->ecns[g->n] = d[i].ecn;
                g->n++;
            }
            g->path = d[i].path;
            g->ecn = d[i].ecn;
        }
    }
}

/* 10 x 1200 bytes + 700 bytes, each datagram starting with its index. */
static size_t make_batch(uint8_t *buf)
{
    size_t off = 0;
    for (int i = 0; i < 11; i++) {
        size_t l = i < 10 ? 1200 : 700;
        memset(buf + off, 0x40 + i, l);
        buf[off] = (uint8_t)i;
        off += l;
    }
    return off;
}

static void check_batch(const got *g)
{
    assert_int_equal(g->n, 11);
    for (size_t i = 0; i < 11; i++) {
        assert_int_equal(g->len[i], i < 10 ? 1200 : 700);
        assert_int_equal(g->first[i], i);
    }
}

static void test_gso_batch(void **st)
{
    tern_udp_sock a, b;
    tern_addr la = addr("127.0.0.1:0");
    assert_int_equal(tern_udp_open(&a, &la), 0);
    assert_int_equal(tern_udp_open(&b, &la), 0);
    assert_false(a.wildcard);
    assert_int_not_equal(ntohs(b.local.u.in.sin_port), 0);
    tern_udp_rx *rx = tern_udp_rx_new();
    tern_udp_tx *tx = tern_udp_tx_new();
    uint8_t buf[16000];
    size_t len = make_batch(buf);
    tern_path_addr p = {.local = a.local, .remote = b.local};
    assert_int_equal(tern_udp_send(&a, tx, &p, buf, len, 1200, 0), 0);
    got g;
    recv_n(&b, rx, &g, 11);
    check_batch(&g);
    assert_true(tern_addr_equal(&g.path.remote, &a.local));
    assert_true(tern_addr_equal(&g.path.local, &b.local));
    assert_int_equal(tern_udp_tx_counters(tx)->dgrams_sent, 11);
    assert_int_equal(tern_udp_tx_counters(tx)->bytes_sent, len);
    tern_udp_close(&a);
    tern_udp_close(&b);
    tern_udp_rx_free(rx);
    tern_udp_tx_free(tx);
}

static void test_wildcard_pktinfo(void **st)
{
    tern_udp_sock a, w;
    tern_addr la = addr("127.0.0.1:0"), any = addr("0.0.0.0:0");
    assert_int_equal(tern_udp_open(&a, &la), 0);
    assert_int_equal(tern_udp_open(&w, &any), 0);
    assert_true(w.wildcard);
    uint16_t wport = ntohs(w.local.u.in.sin_port);
    tern_udp_rx *rx = tern_udp_rx_new();
    tern_udp_tx *tx = tern_udp_tx_new();

    /* Sent to 127.0.0.2: the wildcard socket reports that exact local address. */
    char txt[64];
    snprintf(txt, sizeof(txt), "127.0.0.2:%u", wport);
    tern_path_addr p = {.local = a.local, .remote = addr(txt)};
    uint8_t msg[100] = {7};
    assert_int_equal(tern_udp_send(&a, tx, &p, msg, sizeof(msg), 0, 0), 0);
    got g;
    recv_n(&w, rx, &g, 1);
    assert_int_equal(g.n, 1);
    assert_true(tern_addr_equal(&g.path.local, &p.remote));
    assert_true(tern_addr_equal(&g.path.remote, &a.local));

    /* Replying from 127.0.0.3 through the same wildcard socket: the source is what we chose. */
    snprintf(txt, sizeof(txt), "127.0.0.3:%u", wport);
    tern_path_addr r = {.local = addr(txt), .remote = a.local};
    assert_int_equal(tern_udp_send(&w, tx, &r, msg, sizeof(msg), 0, 0), 0);
    recv_n(&a, rx, &g, 1);
    assert_int_equal(g.n, 1);
    assert_true(tern_addr_equal(&g.path.remote, &r.local));

    tern_udp_close(&a);
    tern_udp_close(&w);
    tern_udp_rx_free(rx);
    tern_udp_tx_free(tx);
}

/* Sends one datagram marked `ecn` from `from` on `path`; `to` receives it with that mark. Returns
 * the path to answer on, as the receiver sees it. */
static tern_path_addr send_marked(tern_udp_sock *from, tern_udp_sock *to, tern_udp_tx *tx,
                                  tern_udp_rx *rx, const tern_path_addr *path, int ecn)
{
    uint8_t msg[64] = {2};
    got g;
    assert_int_equal(tern_udp_send(from, tx, path, msg, sizeof(msg), 0, ecn), 0);
    recv_n(to, rx, &g, 1);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.ecn, ecn);
    return (tern_path_addr){.local = g.path.local, .remote = g.path.remote};
}

static void test_dual_stack(void **st)
{
    tern_udp_sock a4, a6, w;
    tern_addr l4 = addr("127.0.0.1:0"), l6 = addr("[::1]:0"), any6 = addr("[::]:0");
    assert_int_equal(tern_udp_open(&w, &any6), 0);
    assert_int_equal(tern_udp_open(&a4, &l4), 0);
    if (tern_udp_open(&a6, &l6) != 0) {
        tern_udp_close(&w);
        tern_udp_close(&a4);
        skip(); /* no IPv6 loopback here */
    }
    uint16_t wport = ntohs(w.local.u.in6.sin6_port);
    tern_udp_rx *rx = tern_udp_rx_new();
    tern_udp_tx *tx = tern_udp_tx_new();
    char txt[64];
    uint8_t msg[64] = {1};
    got g;

    /* IPv4 peer: seen as a mapped address; the reply (IPv4 destination given as such) arrives. */
    snprintf(txt, sizeof(txt), "127.0.0.1:%u", wport);
    tern_path_addr p = {.local = a4.local, .remote = addr(txt)};
    assert_int_equal(tern_udp_send(&a4, tx, &p, msg, sizeof(msg), 0, 0), 0);
    recv_n(&w, rx, &g, 1);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.path.remote.u.sa.sa_family, AF_INET6);
    assert_true(IN6_IS_ADDR_V4MAPPED(&g.path.remote.u.in6.sin6_addr));
    assert_true(IN6_IS_ADDR_V4MAPPED(&g.path.local.u.in6.sin6_addr));
    assert_int_equal(ntohs(g.path.local.u.in6.sin6_port), wport);
    tern_path_addr back = {.local = g.path.local, .remote = g.path.remote};
    assert_int_equal(tern_udp_send(&w, tx, &back, msg, sizeof(msg), 0, 0), 0);
    recv_n(&a4, rx, &g, 1);
    assert_int_equal(g.n, 1);
    assert_true(tern_addr_equal(&g.path.remote, &p.remote));
    /* an IPv4 destination in IPv4 form works on the IPv6 socket too */
    tern_path_addr back4 = {.local = back.local, .remote = a4.local};
    assert_int_equal(tern_udp_send(&w, tx, &back4, msg, sizeof(msg), 0, 0), 0);
    recv_n(&a4, rx, &g, 1);
    assert_int_equal(g.n, 1);

    /* IPv6 peer */
    snprintf(txt, sizeof(txt), "[::1]:%u", wport);
    tern_path_addr p6 = {.local = a6.local, .remote = addr(txt)};
    assert_int_equal(tern_udp_send(&a6, tx, &p6, msg, sizeof(msg), 0, 0), 0);
    recv_n(&w, rx, &g, 1);
    assert_int_equal(g.n, 1);
    assert_true(tern_addr_equal(&g.path.local, &p6.remote));
    assert_true(tern_addr_equal(&g.path.remote, &a6.local));

    /* ECN marks leave and arrive in both families, for the IPv4 peers of the dual-stack socket
     * too (IP_TOS there, IPV6_TCLASS for IPv6) */
    for (int ecn = 1; ecn < 4; ecn++) {
        /* IPv4 peer -> dual-stack socket, and back (mapped and plain IPv4 destinations) */
        tern_path_addr rb = send_marked(&a4, &w, tx, rx, &p, ecn);
        send_marked(&w, &a4, tx, rx, &rb, ecn);
        tern_path_addr rb4 = {.local = rb.local, .remote = a4.local};
        send_marked(&w, &a4, tx, rx, &rb4, ecn);
        /* IPv6 both ways */
        tern_path_addr rb6 = send_marked(&a6, &w, tx, rx, &p6, ecn);
        send_marked(&w, &a6, tx, rx, &rb6, ecn);
    }
    tern_udp_close(&a4);
    tern_udp_close(&a6);
    tern_udp_close(&w);
    tern_udp_rx_free(rx);
    tern_udp_tx_free(tx);
}

static void test_ecn(void **st)
{
    tern_udp_sock a, b;
    tern_addr la = addr("127.0.0.1:0");
    assert_int_equal(tern_udp_open(&a, &la), 0);
    assert_int_equal(tern_udp_open(&b, &la), 0);
    tern_udp_rx *rx = tern_udp_rx_new();
    tern_udp_tx *tx = tern_udp_tx_new();
    uint8_t msg[64] = {0};
    tern_path_addr p = {.local = a.local, .remote = b.local};
    got g;
    for (int ecn = 0; ecn < 4; ecn++) {
        int tos = ecn;
        assert_int_equal(setsockopt(a.fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)), 0);
        assert_int_equal(tern_udp_send(&a, tx, &p, msg, sizeof(msg), 0, 0), 0);
        recv_n(&b, rx, &g, 1);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.ecn, ecn);
    }
    /* marked per message, whatever the socket's own TOS */
    int tos = 0;
    assert_int_equal(setsockopt(a.fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)), 0);
    for (int ecn = 0; ecn < 4; ecn++) {
        assert_int_equal(tern_udp_send(&a, tx, &p, msg, sizeof(msg), 0, ecn), 0);
        recv_n(&b, rx, &g, 1);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.ecn, ecn);
    }
    /* every datagram of a GSO batch carries the mark (and a GRO train reports it for each) */
    uint8_t buf[16000];
    size_t len = make_batch(buf);
    assert_int_equal(tern_udp_send(&a, tx, &p, buf, len, 1200, TERN_ECN_ECT0), 0);
    recv_n(&b, rx, &g, 11);
    check_batch(&g);
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.ecns[i], TERN_ECN_ECT0);
    tern_udp_close(&a);
    tern_udp_close(&b);
    tern_udp_rx_free(rx);
    tern_udp_tx_free(tx);
}

/* ---- injected failures ----------------------------------------------------------------------- */

static int calls, fail_mode; /* 1: EIO on GSO messages; 2: EAGAIN once after one message */

static int has_gso(const struct mmsghdr *m)
{
    struct msghdr mh = m->msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT)
            return 1;
    return 0;
}

static int fail_errno;

static int fake_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
    calls++;
    if (fail_mode == 1 && has_gso(&msgs[0])) {
        errno = EIO;
        return -1;
    }
    if (fail_mode == 2) {
        if (calls == 1) {
            /* the kernel takes one message, then the buffer is full */
            int r = sendmmsg(fd, msgs, 1, flags);
            return r;
        }
        if (calls == 2) {
            errno = EAGAIN;
            return -1;
        }
    }
    if (fail_mode == 3) {
        errno = fail_errno;
        return -1;
    }
    return sendmmsg(fd, msgs, n, flags);
}

static void test_gso_fallback(void **st)
{
    tern_udp_sock a, b;
    tern_addr la = addr("127.0.0.1:0");
    assert_int_equal(tern_udp_open(&a, &la), 0);
    assert_int_equal(tern_udp_open(&b, &la), 0);
    tern_udp_rx *rx = tern_udp_rx_new();
    tern_udp_tx *tx = tern_udp_tx_new();
    a.gso = 1; /* as if the kernel had offered it */
    calls = 0;
    fail_mode = 1;
    tern_udp_set_sendmmsg(fake_sendmmsg);
    uint8_t buf[16000];
    size_t len = make_batch(buf);
    tern_path_addr p = {.local = a.local, .remote = b.local};
    assert_int_equal(tern_udp_send(&a, tx, &p, buf, len, 1200, 0), 0);
    tern_udp_set_sendmmsg(NULL);
    assert_false(a.gso);
    assert_int_equal(tern_udp_tx_counters(tx)->gso_fallbacks, 1);
    assert_int_equal(tern_udp_tx_counters(tx)->send_errors, 0);
    got g;
    recv_n(&b, rx, &g, 11);
    check_batch(&g);
    tern_udp_close(&a);
    tern_udp_close(&b);
    tern_udp_rx_free(rx);
    tern_udp_tx_free(tx);
}

static void test_eagain_pending(void **st)
{
    tern_udp_sock a, b;
    tern_addr la = addr("127.0.0.1:0");
    assert_int_equal(tern_udp_open(&a, &la), 0);
    assert_int_equal(tern_udp_open(&b, &la), 0);
    a.gso = 0; /* one message per datagram, so that "one message taken" is one datagram */
    tern_udp_rx *rx = tern_udp_rx_new();
    tern_udp_tx *tx = tern_udp_tx_new();
    calls = 0;
    fail_mode = 2;
    tern_udp_set_sendmmsg(fake_sendmmsg);
    uint8_t buf[16000];
    size_t len = make_batch(buf);
    tern_path_addr p = {.local = a.local, .remote = b.local};
    assert_int_equal(tern_udp_send(&a, tx, &p, buf, len, 1200, 0), TERN_ERR_WOULD_BLOCK);
    assert_true(a.blocked);
    assert_int_equal(a.pend_len, len - 1200);
    memset(buf, 0xee, sizeof(buf)); /* the pending copy must not depend on the caller's buffer */
    /* a blocked socket takes nothing more */
    uint8_t other[50] = {99};
    assert_int_equal(tern_udp_send(&a, tx, &p, other, sizeof(other), 0, 0), TERN_ERR_WOULD_BLOCK);
    assert_int_equal(tern_udp_send_one(&a, tx, &p, other, sizeof(other)), TERN_ERR_WOULD_BLOCK);
    assert_int_equal(tern_udp_send_pending(&a, tx), 0);
    assert_false(a.blocked);
    assert_int_equal(tern_udp_send_pending(&a, tx), 0); /* nothing left: no-op */
    tern_udp_set_sendmmsg(NULL);
    got g;
    recv_n(&b, rx, &g, 11);
    check_batch(&g); /* every datagram exactly once, in order */
    recv_n(&b, rx, &g, 0);
    assert_int_equal(g.n, 0);
    tern_udp_close(&a);
    tern_udp_close(&b);
    tern_udp_rx_free(rx);
    tern_udp_tx_free(tx);
}

/* A send error that says the interface or the address is gone is kept on the socket with its
 * meaning (for the runtime to fail the path over); other errors only lose the datagrams. */
static void test_path_errors(void **st)
{
    static const struct {
        int err;
        tern_path_reason why;
    } cases[] = {
        {ENETDOWN, TERN_PATH_WHY_INTERFACE_GONE},
        {ENODEV, TERN_PATH_WHY_INTERFACE_GONE},
        {EADDRNOTAVAIL, TERN_PATH_WHY_ADDRESS_GONE},
        {ENETUNREACH, TERN_PATH_WHY_SOCKET_ERROR},
        {EHOSTUNREACH, TERN_PATH_WHY_SOCKET_ERROR},
        {EMSGSIZE, TERN_PATH_WHY_NONE},
        {EPERM, TERN_PATH_WHY_NONE},
    };
    tern_udp_tx *tx = tern_udp_tx_new();
    uint8_t buf[1200] = {1};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(tern_udp_error_reason(cases[i].err), cases[i].why);
        tern_udp_sock a;
        tern_addr la = addr("127.0.0.1:0");
        assert_int_equal(tern_udp_open(&a, &la), 0);
        fail_mode = 3;
        fail_errno = cases[i].err;
        tern_udp_set_sendmmsg(fake_sendmmsg);
        tern_path_addr p = {.local = a.local, .remote = a.local};
        uint64_t errors = tern_udp_tx_counters(tx)->send_errors;
        assert_int_equal(tern_udp_send(&a, tx, &p, buf, sizeof(buf), 0, 0), 0);
        tern_udp_set_sendmmsg(NULL);
        assert_int_equal(tern_udp_tx_counters(tx)->send_errors, errors + 1);
        assert_int_equal(a.path_errors, cases[i].why != TERN_PATH_WHY_NONE);
        assert_int_equal(a.path_error_why, cases[i].why);
        assert_false(a.blocked);
        tern_udp_close(&a);
    }
    fail_mode = 0;
    tern_udp_tx_free(tx);
}

/* The same on a real kernel, in a network namespace of the test's own (root only): a socket on an
 * interface's address sends, then the address is deleted, and the next send fails with what Linux
 * reports then (ENETUNREACH: the route went with the address), which the socket keeps as a path
 * error. Runs in a child process, so that the namespace dies with it. */
static int real_kernel_child(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        return 77;
    if (system("ip link set lo up && ip link add tu0 type veth peer name tu1 && "
               "ip link set tu0 up && ip link set tu1 up && ip addr add 10.77.0.2/24 dev tu0") != 0)
        return 77;
    tern_udp_sock a;
    tern_addr la = addr("10.77.0.2:0");
    if (tern_udp_open(&a, &la) != 0)
        return 10;
    tern_udp_tx *tx = tern_udp_tx_new();
    uint8_t buf[100] = {1};
    tern_path_addr p = {.local = a.local, .remote = addr("10.77.0.9:9")};
    if (tern_udp_send(&a, tx, &p, buf, sizeof(buf), 0, 0) != 0 || a.path_errors != 0)
        return 11;
    if (system("ip addr del 10.77.0.2/24 dev tu0") != 0)
        return 12;
    if (tern_udp_send(&a, tx, &p, buf, sizeof(buf), 0, 0) != 0)
        return 13;
    if (a.path_errors != 1 || a.path_error_why != TERN_PATH_WHY_SOCKET_ERROR)
        return 14;
    tern_udp_close(&a);
    tern_udp_tx_free(tx);
    return 0;
}

static void test_path_error_real_kernel(void **st)
{
    if (geteuid() != 0) {
        print_message("    skipped: needs root (a network namespace of its own)\n");
        skip();
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(real_kernel_child());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        print_message("    skipped: no network namespace or ip(8) veth support here\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_open_errors(void **st)
{
    tern_udp_sock a, b;
    tern_addr bad;
    memset(&bad, 0, sizeof(bad));
    bad.u.sa.sa_family = AF_UNIX;
    assert_int_equal(tern_udp_open(&a, &bad), TERN_ERR_INVALID_ARG);
    assert_int_equal(a.fd, -1);
    tern_addr la = addr("127.0.0.1:0");
    assert_int_equal(tern_udp_open(&a, &la), 0);
    /* the same port twice: bind fails with errno kept */
    assert_int_equal(tern_udp_open(&b, &a.local), TERN_ERR_IO);
    assert_int_equal(errno, EADDRINUSE);
    assert_int_equal(b.fd, -1);
    tern_udp_close(&a);
    tern_udp_close(&a); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gso_batch),
        cmocka_unit_test(test_wildcard_pktinfo),
        cmocka_unit_test(test_dual_stack),
        cmocka_unit_test(test_ecn),
        cmocka_unit_test(test_gso_fallback),
        cmocka_unit_test(test_eagain_pending),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_path_errors),
        cmocka_unit_test(test_path_error_real_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
