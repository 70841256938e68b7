/* The runtime sends what the core batches: a download over 127.0.0.1 between two endpoints of the
 * real runtime, with the sendmmsg of the UDP layer replaced by a counter that passes every call
 * on. The server's data must leave in GSO messages of several datagrams (one path, one segment
 * size, as tern_conn_send_batch builds them), each no larger than the batch limit, and arrive
 * intact (checked byte by byte by the fixture). */
#define _GNU_SOURCE /* sendmmsg */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "io/endpoint.h"
#include "io/udp.h"
#include "loopfx.h"
#include "tern/tern.h"

typedef struct counts {
    tern_addr server;
    uint64_t msgs, bytes, multi, max_len;
} counts;

static counts g_counts;

static int counting_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
    tern_addr a;
    memset(&a, 0, sizeof(a));
    socklen_t len = sizeof(a.u);
    if (getsockname(fd, &a.u.sa, &len) == 0) {
        a.len = len;
        if (tern_addr_equal(&a, &g_counts.server))
            for (unsigned i = 0; i < n; i++) {
                size_t l = 0;
                for (size_t k = 0; k < msgs[i].msg_hdr.msg_iovlen; k++)
                    l += msgs[i].msg_hdr.msg_iov[k].iov_len;
                g_counts.msgs++;
                g_counts.bytes += l;
                if (l > 1500)
                    g_counts.multi++;
                if (l > g_counts.max_len)
                    g_counts.max_len = l;
            }
    }
    return sendmmsg(fd, msgs, n, flags);
}

static void test_download_in_gso_batches(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    loopfx_start_server(f, &sc, NULL);
    memset(&g_counts, 0, sizeof(g_counts));
    assert_int_equal(tern_endpoint_local_addr(f->srv.ep, &g_counts.server), 0);
    tern_udp_set_sendmmsg(counting_sendmmsg);
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 8u << 20, 20000);
    tern_udp_set_sendmmsg(NULL);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(f->srv.ep, &es);
    print_message("server: %llu datagrams in %llu messages (%.2f per message), %llu of several, "
                  "largest %llu bytes\n",
                  (unsigned long long)es.dgrams_sent, (unsigned long long)g_counts.msgs,
                  g_counts.msgs ? (double)es.dgrams_sent / (double)g_counts.msgs : 0.0,
                  (unsigned long long)g_counts.multi, (unsigned long long)g_counts.max_len);
    assert_true(g_counts.msgs > 0);
    assert_true(es.gso_fallbacks == 0);
    /* GSO on loopback: the pacer releases bursts of about ten datagrams, and a burst leaves in
     * one message (a batch that ended at every slightly shorter datagram made two per message) */
    assert_true(g_counts.multi > 0);
    assert_true(es.dgrams_sent >= 4 * g_counts.msgs);
    /* a batch never exceeds 64 datagrams of max_udp_payload */
    assert_true(g_counts.max_len <= 64 * sc.max_udp_payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_download_in_gso_batches, loopfx_setup,
                                        loopfx_teardown),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
