/* A flood of Initials against the real server endpoint over 127.0.0.1, from a socket that never
 * answers (as spoofed sources would not): real ClientHellos, each under a new connection ID. What
 * the flood costs is measured, not assumed: connections in their handshake, heap held (glibc's
 * mallinfo2; not measured under ASan, whose allocator does not report it), Retry replies from the
 * configured threshold on, drops at the cap, the server handshake timeout giving everything back,
 * and a legitimate client still connecting and downloading while the flood holds the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "io/endpoint.h"
#include "loopfx.h"
#include "tern/tern.h"
#include "tls.h"

#define FLOOD_MAX 400

typedef struct flood {
    uint8_t (*dg)[1500];
    size_t len[FLOOD_MAX];
    size_t n;
    int fd;
} flood;

static int flood_rand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    assert_int_equal(gnutls_rnd(GNUTLS_RND_NONCE, out, len), 0);
    return 0;
}

/* The first datagram of `n` fresh client connections (a padded Initial with a ClientHello each),
 * each presenting a forged NEW_TOKEN token when `forged_tokens` is set. */
static void flood_make_tokens(flood *fl, size_t n, int forged_tokens)
{
    static const char *const alpn[] = {LOOPFX_ALPN};
    tern_config cfg;
    loopfx_base_cfg(&cfg, 0);
    tern_tls_ctx *ctx;
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, NULL, 0, NULL, alpn, 1), 0);
    fl->dg = calloc(n, sizeof(*fl->dg));
    assert_non_null(fl->dg);
    tern_path_addr path;
    memset(&path, 0, sizeof(path));
    assert_int_equal(tern_addr_parse(&path.local, "127.0.0.1:9", 0), 0);
    assert_int_equal(tern_addr_parse(&path.remote, "127.0.0.1:443", 0), 0);
    for (size_t i = 0; i < n; i++) {
        tern_conn_params p;
        memset(&p, 0, sizeof(p));
        p.version = TERN_PROTO_VERSION_1;
        p.cfg = &cfg;
        p.tls_ctx = ctx;
        p.rand = flood_rand;
        p.scid_len = 8;
        p.server_name = "localhost";
        static const uint8_t reset_key[32];
        p.reset_key = reset_key;
        tern_conn *c;
        assert_int_equal(tern_conn_new(&c, &p, &path, 1), 0);
        if (forged_tokens) {
            uint8_t tok[46];
            flood_rand(NULL, tok, sizeof(tok));
            tok[0] = 0x4e; /* the NEW_TOKEN format of tern's tokens, its contents random */
            assert_int_equal(tern_conn_set_token(c, tok, sizeof(tok)), 0);
        }
        tern_path_addr out;
        size_t seg = 0, count = 0;
        assert_int_equal(tern_conn_send(c, &out, fl->dg[i], sizeof(fl->dg[i]), 1, &seg, &count, 1),
                         0);
        assert_int_equal(count, 1);
        assert_true(seg >= 1200);
        fl->len[i] = seg;
        tern_conn_free(c);
    }
    tern_tls_ctx_free(ctx);
    fl->n = n;
    fl->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(fl->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fl->fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void flood_make(flood *fl, size_t n)
{
    flood_make_tokens(fl, n, 0);
}

static void flood_free(flood *fl)
{
    free(fl->dg);
    close(fl->fd);
}

/* Sends datagrams [from, to) to the server, letting it read them in batches. */
static void flood_send(loopfx *f, flood *fl, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        ssize_t n = sendto(fl->fd, fl->dg[i], fl->len[i], 0, &f->addr.u.sa, f->addr.len);
        assert_int_equal((size_t)n, fl->len[i]);
        if (i % 16 == 15)
            loopfx_drive(f, loopfx_cond_never, 5);
    }
    loopfx_drive(f, loopfx_cond_never, 100);
}

static tern_endpoint_stats stats(loopfx *f)
{
    tern_endpoint_stats s;
    tern_endpoint_get_stats(f->srv.ep, &s);
    return s;
}

/* Heap in use, or 0 when the allocator does not say (ASan). */
static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

/* A server with these limits, and `n` flood Initials ready to go. Returns the heap in use once the
 * server is up. */
static size_t start_server(loopfx *f, flood *fl, size_t n, size_t retry_half_open,
                           size_t max_half_open, uint64_t handshake_timeout_ms)
{
    flood_make(fl, n);
    tern_config sc;
    loopfx_base_cfg(&sc, 1);
    sc.retry_half_open = retry_half_open;
    sc.max_half_open = max_half_open;
    sc.handshake_timeout_ms = handshake_timeout_ms;
    loopfx_start_server(f, &sc, NULL);
    return heap_used();
}

static int cond_no_half_open(loopfx *f)
{
    return stats(f).half_open == 0;
}

/* Retry from the threshold on: the flood never gets past it, a real client does. */
static void test_flood_switches_to_retry(void **st)
{
    loopfx *f = *st;
    flood fl;
    size_t heap0 = start_server(f, &fl, 300, 40, 100, 1500);
    tern_config cc;
    loopfx_base_cfg(&cc, 0);

    flood_send(f, &fl, 0, 100);
    tern_endpoint_stats s = stats(f);
    assert_int_equal(s.half_open, 40);
    assert_int_equal(s.conns_accepted, 40);
    assert_int_equal(s.retry_sent, 60);
    size_t heap40 = heap_used();

    flood_send(f, &fl, 100, 300);
    s = stats(f);
    assert_int_equal(s.half_open, 40);
    assert_int_equal(s.conns_accepted, 40);
    assert_int_equal(s.retry_sent, 260);
    size_t heap_flood = heap_used();
    if (heap0) {
        size_t per_conn = (heap40 - heap0) / 40;
        printf("flood: %zu B per half-open connection; 200 more Initials: %+zd B\n", per_conn,
               (ssize_t)(heap_flood - heap40));
        /* the Initials answered with Retry hold nothing */
        assert_true(heap_flood < heap40 + 64 * 1024);
        assert_true(heap40 - heap0 < 40 * 128 * 1024);
    }

    /* a real client in the middle of the flood: it follows the Retry and gets its download */
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    assert_int_equal(stats(f).retry_sent, 261);
    loopfx_download(f, 100000, 5000);
    assert_int_equal(stats(f).half_open, 40);

    /* the server's handshake timeout gives the flood's state back */
    assert_true(loopfx_drive(f, cond_no_half_open, 4000));
    size_t heap_after = heap_used();
    if (heap0) {
        printf("flood: heap held after the handshake timeout %+zd B (at the flood's peak %+zd B)\n",
               (ssize_t)(heap_after - heap0), (ssize_t)(heap_flood - heap0));
        assert_true(heap_after < heap0 + (heap_flood - heap0) / 4);
    }
    /* below the threshold again, a new Initial is accepted without Retry */
    uint64_t retries = stats(f).retry_sent;
    flood_free(&fl);
    flood_make(&fl, 1);
    flood_send(f, &fl, 0, 1);
    assert_int_equal(stats(f).retry_sent, retries);
    assert_int_equal(stats(f).half_open, 1);
    flood_free(&fl);
}

/* Above the Retry threshold, Initials with forged NEW_TOKEN tokens cost no more than Initials
 * without: each gets a Retry (never INVALID_TOKEN, which is for Retry tokens), none a connection,
 * and the heap does not grow with them. */
static void test_flood_forged_tokens(void **st)
{
    loopfx *f = *st;
    flood fl;
    start_server(f, &fl, 1, 1, 100, 1500);
    flood_send(f, &fl, 0, 1); /* one handshake in progress: the threshold is reached */
    flood_free(&fl);
    flood_make_tokens(&fl, 300, 1);
    flood_send(f, &fl, 0, 50); /* the allocator's arenas settle */
    size_t heap0 = heap_used();
    flood_send(f, &fl, 50, 300);
    tern_endpoint_stats s = stats(f);
    size_t heap1 = heap_used();
    assert_int_equal(s.half_open, 1);
    assert_int_equal(s.conns_accepted, 1);
    assert_int_equal(s.retry_sent, 300);
    assert_int_equal(s.dispatch.new_token_ignored, 300);
    assert_int_equal(s.dispatch.new_token_accepted, 0);
    assert_int_equal(s.dispatch.close_sent, 0);
    if (heap0) {
        printf("flood: 250 Initials with forged tokens: %+zd B\n", (ssize_t)(heap1 - heap0));
        assert_true(heap1 < heap0 + 16 * 1024);
    }
    flood_free(&fl);
}

/* Without automatic Retry the cap holds, and a real client gets in once the flood times out. */
static void test_flood_capped(void **st)
{
    loopfx *f = *st;
    flood fl;
    size_t heap0 = start_server(f, &fl, 100, 0, 30, 1000);
    tern_config cc;
    loopfx_base_cfg(&cc, 0);
    flood_send(f, &fl, 0, 100);
    tern_endpoint_stats s = stats(f);
    assert_int_equal(s.half_open, 30);
    assert_int_equal(s.conns_accepted, 30);
    assert_int_equal(s.retry_sent, 0);
    assert_int_equal(s.dispatch.drop[TERN_DISPATCH_DROP_HALF_OPEN], 70);
    if (heap0)
        assert_true(heap_used() - heap0 < 30 * 128 * 1024);
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 6000));
    loopfx_download(f, 10000, 5000);
    flood_free(&fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_flood_switches_to_retry),
        LOOPFX_TEST(test_flood_capped),
        LOOPFX_TEST(test_flood_forged_tokens),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
