/* Workers (tern_workers, src/io/workers.c) on loopback sockets, without running the endpoints:
 * the BPF program puts every short header on the socket of the worker its DCID's last octet
 * names, whatever the source port, while the kernel's hash spreads long headers (and, without the
 * program, everything); the forwarding queue holds at most its 4 MiB under a flood, returns what
 * it took in order and intact, also across its wrap; the API's errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/endpoint_internal.h"
#include "io/workers.h"
#include "token.h"
#include "loopfx.h"

static tern_workers *start(unsigned flags, size_t n)
{
    tern_config cfg;
    loopfx_base_cfg(&cfg, 1);
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, "127.0.0.1:0", 0), 0);
    tern_workers *w = NULL;
    assert_int_equal(tern_workers_new(&cfg, NULL, NULL, n, &a, flags, &w), 0);
    assert_int_equal(tern_workers_count(w), n);
    return w;
}

/* Sends one datagram from a new socket (a new source port) to worker 0's address. */
static void send_from_new_port(const tern_addr *to, const uint8_t *d, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, d, len, 0, &to->u.sa, to->len), (ssize_t)len);
    close(fd);
}

/* Datagrams waiting on each worker's listening socket (read and discarded). */
static void count_arrivals(tern_workers *w, int *per, size_t n)
{
    usleep(50000);
    for (size_t i = 0; i < n; i++) {
        per[i] = 0;
        uint8_t buf[2048];
        while (recv(tern_ep_listener_fd(tern_workers_endpoint(w, i)), buf, sizeof(buf),
                    MSG_DONTWAIT) > 0)
            per[i]++;
    }
}

/* A short header whose 8-byte DCID ends with `last`. */
static size_t short_header(uint8_t *d, uint8_t last, uint8_t salt)
{
    d[0] = 0x41;
    for (int i = 1; i <= 7; i++)
        d[i] = (uint8_t)(salt * 31 + i);
    d[8] = last;
    memset(d + 9, 0xab, 40);
    return 49;
}

static void test_bpf_steers_short_headers(void **st)
{
    (void)st;
    tern_workers *w = start(0, 3);
    assert_int_equal(tern_workers_steering(w), TERN_WORKERS_STEER_BPF);
    tern_addr to;
    assert_int_equal(tern_endpoint_local_addr(tern_workers_endpoint(w, 0), &to), 0);
    assert_int_equal(tern_workers_endpoint(w, 0)->front.cidgen.len, 8);
    uint8_t d[64];
    int per[3];
    for (unsigned target = 0; target < 3; target++) {
        /* octets target, target + 3, ...: each names `target`, from 40 source ports */
        for (int i = 0; i < 40; i++)
            send_from_new_port(&to, d, short_header(d, (uint8_t)(target + 3u * (unsigned)i), (uint8_t)i));
        count_arrivals(w, per, 3);
        for (unsigned k = 0; k < 3; k++)
            assert_int_equal(per[k], k == target ? 40 : 0);
    }
    /* long headers go by the 4-tuple hash: 60 source ports reach more than one worker */
    for (int i = 0; i < 60; i++) {
        memset(d, 0, sizeof(d));
        d[0] = 0xc0;
        d[4] = 1;
        d[5] = 8;
        d[13] = 2; /* the DCID's last octet would name worker 2 */
        send_from_new_port(&to, d, sizeof(d));
    }
    count_arrivals(w, per, 3);
    assert_int_equal(per[0] + per[1] + per[2], 60);
    assert_true(per[2] < 60);
    tern_workers_free(w);
}

static void test_without_bpf_the_hash_spreads(void **st)
{
    (void)st;
    tern_workers *w = start(TERN_WORKERS_NO_BPF, 2);
    assert_int_equal(tern_workers_steering(w), TERN_WORKERS_STEER_FORWARD);
    tern_addr to;
    assert_int_equal(tern_endpoint_local_addr(tern_workers_endpoint(w, 1), &to), 0);
    uint8_t d[64];
    int per[2];
    for (int i = 0; i < 60; i++)
        send_from_new_port(&to, d, short_header(d, 1, (uint8_t)i)); /* all name worker 1 */
    count_arrivals(w, per, 2);
    assert_int_equal(per[0] + per[1], 60);
    assert_true(per[0] > 0 && per[1] > 0);
    tern_workers_free(w);
}

#define BIG 65000

static void fill(uint8_t *d, size_t len, unsigned seq)
{
    short_header(d, 1, (uint8_t)seq);
    for (size_t i = 9; i < len; i++)
        d[i] = (uint8_t)(seq * 7 + i);
}

static void test_queue_bound_and_order(void **st)
{
    (void)st;
    tern_workers *w = start(TERN_WORKERS_NO_BPF, 2);
    tern_endpoint *e0 = tern_workers_endpoint(w, 0), *e1 = tern_workers_endpoint(w, 1);
    static uint8_t d[BIG];
    tern_path_addr path;
    memset(&path, 0, sizeof(path));
    assert_int_equal(tern_addr_parse(&path.remote, "127.0.0.9:999", 0), 0);
    /* a short header naming worker 0 stays with worker 0; a long header too */
    short_header(d, 0, 1);
    assert_int_equal(tern_worker_steer(e0->wk, &e0->front.cidgen, &path, 0, d, 49), 0);
    d[0] = 0xc0;
    assert_int_equal(tern_worker_steer(e0->wk, &e0->front.cidgen, &path, 0, d, 49), 0);
    /* a flood of the largest datagrams for worker 1, which does not drain */
    unsigned taken = 0;
    for (unsigned i = 0; i < 100; i++) {
        fill(d, BIG, i);
        assert_int_equal(tern_worker_steer(e0->wk, &e0->front.cidgen, &path, 2, d, BIG), 1);
    }
    tern_workers_stats s0, s1;
    assert_int_equal(tern_workers_get_stats(w, 0, &s0), 0);
    assert_int_equal(tern_workers_get_stats(w, 1, &s1), 0);
    taken = (unsigned)s0.forwarded;
    assert_int_equal(s0.forwarded + s1.queue_full, 100);
    assert_true((uint64_t)taken * BIG <= (4u << 20));
    assert_true((uint64_t)(taken + 1) * (BIG + 512) > (4u << 20));
    /* worker 1 gets them back in order, intact */
    size_t len;
    int ecn;
    tern_path_addr got;
    static uint8_t want[BIG];
    for (unsigned i = 0; i < taken; i++) {
        uint8_t *p = tern_worker_pop(e1->wk, &len, &got, &ecn);
        assert_non_null(p);
        assert_int_equal(len, BIG);
        assert_int_equal(ecn, 2);
        assert_true(tern_addr_equal(&got.remote, &path.remote));
        fill(want, BIG, i);
        assert_memory_equal(p, want, BIG);
    }
    assert_null(tern_worker_pop(e1->wk, &len, &got, &ecn));
    /* many sizes through the ring: it wraps several times, nothing is lost or mixed up */
    unsigned pushed = 0, popped = 0;
    for (unsigned round = 0; round < 400; round++) {
        for (int k = 0; k < 3; k++, pushed++) {
            size_t l = 49 + (pushed * 7919u) % 30000u;
            fill(d, l, pushed);
            assert_int_equal(tern_worker_steer(e0->wk, &e0->front.cidgen, &path, 0, d, l), 1);
        }
        while (popped < pushed) {
            uint8_t *p = tern_worker_pop(e1->wk, &len, &got, &ecn);
            assert_non_null(p);
            size_t l = 49 + (popped * 7919u) % 30000u;
            assert_int_equal(len, l);
            fill(want, l, popped);
            assert_memory_equal(p, want, l);
            popped++;
        }
    }
    assert_int_equal(tern_workers_get_stats(w, 1, &s1), 0);
    assert_int_equal(s1.queue_full, 100 - taken);
    assert_int_equal(s1.adopted, taken + pushed);
    tern_workers_free(w);
}

/* A NEW_TOKEN token issued by one worker opens at another; reset keys stay each worker's. */
static void test_workers_share_token_keys(void **st)
{
    (void)st;
    tern_workers *w = start(0, 3);
    const tern_dispatch *d0 = &tern_workers_endpoint(w, 0)->front.disp;
    tern_addr client;
    assert_int_equal(tern_addr_parse(&client, "127.0.0.7:5555", 0), 0);
    uint8_t tok[128], nonce[12] = {1, 2, 3};
    size_t n = tern_token_seal(tern_dispatch_new_token_key(d0), nonce, &client, 1000, tok,
                               sizeof(tok));
    assert_true(n > 0);
    for (size_t i = 1; i < 3; i++) {
        const tern_dispatch *di = &tern_workers_endpoint(w, i)->front.disp;
        assert_int_equal(tern_token_open(tern_dispatch_new_token_key(di), tok, n, &client, 2000,
                                         1000000),
                         0);
        assert_memory_not_equal(tern_dispatch_reset_key(di), tern_dispatch_reset_key(d0), 32);
    }
    tern_workers_free(w);
}

static void test_api_errors(void **st)
{
    (void)st;
    tern_config cfg;
    loopfx_base_cfg(&cfg, 1);
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, "127.0.0.1:0", 0), 0);
    tern_workers *w = (tern_workers *)&a;
    assert_int_equal(tern_workers_new(&cfg, NULL, NULL, 1, &a, 0, &w), TERN_ERR_INVALID_ARG);
    assert_null(w);
    assert_int_equal(tern_workers_new(&cfg, NULL, NULL, 129, &a, 0, &w), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_new(&cfg, NULL, NULL, 2, NULL, 0, &w), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_new(NULL, NULL, NULL, 2, &a, 0, &w), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_new(&cfg, NULL, NULL, 2, &a, 0, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_new_sized(&cfg, 3, NULL, 0, NULL, 2, &a, 0, &w), TERN_ERR_ABI);
    /* a QUIC-LB CID of 20 bytes leaves no room for the worker octet */
    tern_config q = cfg;
    q.qlb_server_id_len = 15;
    q.qlb_nonce_len = 4;
    assert_int_equal(tern_workers_new(&q, NULL, NULL, 2, &a, 0, &w), TERN_ERR_CONFIG);
    q.qlb_nonce_len = 3; /* below the draft's minimum: refused by tern_endpoint_new too */
    tern_endpoint *ep = NULL;
    assert_int_equal(tern_endpoint_new(&q, NULL, NULL, &ep), TERN_ERR_CONFIG);
    tern_config client;
    loopfx_base_cfg(&client, 0);
    assert_int_equal(tern_workers_new(&client, NULL, NULL, 2, &a, 0, &w), TERN_ERR_CONFIG);
    /* a port someone else holds without SO_REUSEPORT */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
    tern_addr taken;
    taken.len = sizeof(taken.u);
    assert_int_equal(getsockname(fd, &taken.u.sa, &taken.len), 0);
    assert_int_equal(tern_workers_new(&cfg, NULL, NULL, 2, &taken, 0, &w), TERN_ERR_IO);
    assert_int_equal(errno, EADDRINUSE);
    close(fd);

    w = start(0, 2);
    tern_workers_stats s;
    assert_int_equal(tern_workers_get_stats(w, 2, &s), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_get_stats(NULL, 0, &s), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_get_stats(w, 0, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_workers_get_stats_sized(w, 0, &s, 5), TERN_ERR_ABI);
    assert_int_equal(tern_workers_get_stats_sized(w, 0, &s, sizeof(s) + 8), TERN_ERR_ABI);
    assert_null(tern_workers_endpoint(w, 2));
    assert_null(tern_workers_endpoint(NULL, 0));
    assert_int_equal(tern_workers_count(NULL), 0);
    assert_int_equal(tern_workers_steering(NULL), 0);
    /* an endpoint already a worker cannot join again */
    assert_int_equal(tern_ep_join_workers(tern_workers_endpoint(w, 0), NULL, 0, 2),
                     TERN_ERR_INVALID_ARG);
    tern_workers_free(w);
    tern_workers_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpf_steers_short_headers),
        cmocka_unit_test(test_without_bpf_the_hash_spreads),
        cmocka_unit_test(test_queue_bound_and_order),
        cmocka_unit_test(test_workers_share_token_keys),
        cmocka_unit_test(test_api_errors),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
