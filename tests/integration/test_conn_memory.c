/* What a server holds per connection, measured through the allocator: a tern_core_server and many
 * clients of the public sans-I/O API joined by an in-memory wire (no delay, virtual time). Every
 * block the server side allocates (the library and GnuTLS under it, inside the server's calls) is
 * tracked until it is freed. Asserted: the heap a server holds per idle established connection
 * stays within a bound with hundreds of them open at once, and it is all given back once they
 * closed and were freed, wave after wave (nothing kept per connection in a cache, a freelist or
 * the connection-ID table). With TERN_MEM_SITES set in the environment, the first wave's heap is
 * also broken down by allocation site (see allochook_print_sites), per connection. */
#define _GNU_SOURCE /* dladdr */
#define ALLOCHOOK_BYTES
#define ALLOCHOOK_SITES
#include "allochook.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corefx.h"
#include "tern/core.h"
#include "tern/tern.h"

#define SEC 1000000000ull
#define SEG_MAX 1500
#define BATCH 8
#define CONNS 300
#define WAVES 3
/* The bound per idle established connection on the server, in bytes of heap: some 12,710 are
 * held today (the connection object ~6.4 KB, its 1-RTT packet protection and header protection
 * contexts ~3 KB, CIDs and reset tokens in the routing tables ~1.2 KB, the tables of our CIDs and
 * the peer's sized to the CIDs issued ~0.9 KB, the sent-packet ring of two records 560 B; the
 * handshake's CRYPTO buffers and keys, other versions' Initial keys, resumption state, the retire
 * queue, the lingering CIDs, the words of a TLS error and the close information are gone), so
 * that anything that adds a cipher context or a buffer per connection, or brings back one of
 * those (the smallest, 240 bytes), fails here. */
#define PER_CONN_MAX 12900

typedef struct dgram {
    int to_server;
    tern_path_addr path; /* as sent: local = source, remote = destination */
    size_t len;
    uint8_t data[SEG_MAX];
} dgram;

typedef struct world {
    tern_tstamp now;
    uint64_t seed;
    tern_config cfg_c, cfg_s;
    tern_callbacks cb;
    tern_core_server *server;
    tern_conn *client[CONNS], *sconn[CONNS];
    int nclients;
    dgram *q; /* a FIFO: delivered in the order sent, at once */
    size_t qhead, qtail, qcap;
} world;

static world W;

/* The calls into the server side are measured. */
#define SERVER(stmt)                                                                               \
    do {                                                                                           \
        allochook_tag = 1;                                                                         \
        stmt;                                                                                      \
        allochook_tag = 0;                                                                         \
    } while (0)

static tern_path_addr client_path(int i)
{
    char text[64];
    snprintf(text, sizeof(text), "10.%d.%d.%d:%d", 1 + i / 65536, i / 256 % 256, i % 256,
             1024 + i % 50000);
    tern_path_addr p = {corefx_addr(text), corefx_addr("10.0.0.1:443")};
    return p;
}

static int client_of(const tern_addr *a)
{
    for (int i = 0; i < W.nclients; i++) {
        tern_path_addr p = client_path(i);
        if (tern_addr_equal(&p.local, a))
            return i;
    }
    return -1;
}

static void push(int to_server, const tern_path_addr *path, const uint8_t *d, size_t len)
{
    assert_true(len <= SEG_MAX);
    assert_true(W.qtail < W.qcap);
    dgram *g = &W.q[W.qtail++];
    g->to_server = to_server;
    g->path = *path;
    g->len = len;
    memcpy(g->data, d, len);
}

static void pump(tern_conn *c, int is_server)
{
    static uint8_t buf[BATCH * SEG_MAX];
    for (;;) {
        tern_path_addr path;
        size_t seg = 0, count = 0;
        ssize_t n;
        if (is_server)
            SERVER(n = tern_core_send(c, buf, sizeof(buf), BATCH, &path, &seg, &count, W.now));
        else
            n = tern_core_send(c, buf, sizeof(buf), BATCH, &path, &seg, &count, W.now);
        assert_true(n >= 0);
        if (n == 0)
            return;
        for (size_t k = 0; k < count; k++) {
            size_t off = k * seg;
            push(is_server ? 0 : 1, &path, buf + off, (size_t)n - off < seg ? (size_t)n - off : seg);
        }
    }
}

/* Delivers everything in flight (and what it answers), then runs the timers due. */
static void settle(void)
{
    while (W.qhead < W.qtail) {
        dgram d = W.q[W.qhead++];
        tern_path_addr in = {.local = d.path.remote, .remote = d.path.local};
        if (d.to_server) {
            uint8_t reply[TERN_CORE_REPLY_MAX];
            size_t rlen = 0;
            int kind = 0, v;
            tern_conn *c = NULL;
            SERVER(v = tern_core_server_recv(W.server, &in, d.data, d.len, 0, W.now, reply,
                                             sizeof(reply), &rlen, &kind, &c));
            assert_true(v >= 0);
            if (v == TERN_CORE_ACCEPTED) {
                int i = client_of(&in.remote);
                assert_true(i >= 0);
                assert_null(W.sconn[i]);
                W.sconn[i] = c;
            }
            if (v == TERN_CORE_REPLY)
                push(0, &in, reply, rlen);
            if (c)
                pump(c, 1);
        } else {
            int i = client_of(&in.local);
            assert_true(i >= 0);
            if (W.client[i]) {
                int rv = tern_core_recv(W.client[i], &in, d.data, d.len, 0, W.now);
                assert_true(rv == 0 || rv == TERN_ERR_CLOSED);
                pump(W.client[i], 0);
            }
        }
    }
    W.qhead = W.qtail = 0;
}

/* A connection's timers, until it is CLOSED (then only freeing it is left). */
static tern_tstamp timeout_of(tern_conn *c)
{
    return c && tern_core_state(c) != TERN_CORE_CLOSED ? tern_core_next_timeout(c) : TERN_TS_INF;
}

static void timers(void)
{
    for (int i = 0; i < W.nclients; i++) {
        if (timeout_of(W.client[i]) <= W.now) {
            tern_core_on_timeout(W.client[i], W.now);
            pump(W.client[i], 0);
        }
        if (timeout_of(W.sconn[i]) <= W.now) {
            SERVER(tern_core_on_timeout(W.sconn[i], W.now));
            pump(W.sconn[i], 1);
        }
    }
}

static tern_tstamp next_timer(void)
{
    tern_tstamp t = TERN_TS_INF;
    for (int i = 0; i < W.nclients; i++) {
        if (timeout_of(W.client[i]) < t)
            t = timeout_of(W.client[i]);
        if (timeout_of(W.sconn[i]) < t)
            t = timeout_of(W.sconn[i]);
    }
    return t;
}

/* Runs every timer due within `span` of virtual time from now, and what they send. */
static void run_for(tern_tstamp span)
{
    tern_tstamp end = W.now + span;
    settle();
    for (;;) {
        tern_tstamp t = next_timer();
        if (t > end)
            break;
        if (t > W.now)
            W.now = t;
        timers();
        settle();
    }
    W.now = end;
}

/* A client connects and both sides go quiet: the handshake is confirmed, its ACKs are sent and
 * only the idle timers remain. */
static void connect_one(int i)
{
    tern_path_addr path = client_path(i);
    assert_true(i == W.nclients && i < CONNS);
    W.nclients++;
    assert_int_equal(tern_core_client_new(&W.cfg_c, &W.cb, NULL, &path, "localhost", corefx_rand,
                                          &W.seed, W.now, &W.client[i]),
                     0);
    pump(W.client[i], 0);
    settle();
    assert_int_equal(tern_core_state(W.client[i]), TERN_CORE_ESTABLISHED);
    assert_non_null(W.sconn[i]);
}

static void wave_open(void)
{
    for (int i = 0; i < CONNS; i++)
        connect_one(i);
    run_for(2 * SEC); /* delayed ACKs and the last flights */
    for (int i = 0; i < CONNS; i++) {
        assert_int_equal(tern_core_state(W.client[i]), TERN_CORE_ESTABLISHED);
        assert_int_equal(tern_core_state(W.sconn[i]), TERN_CORE_ESTABLISHED);
    }
    assert_int_equal(tern_core_server_conn_count(W.server), CONNS);
}

/* Every client closes; the server's connections drain, end and are freed, and so are the
 * clients. */
static void wave_close(void)
{
    for (int i = 0; i < CONNS; i++) {
        assert_int_equal(tern_conn_close(W.client[i], 0, "bye"), 0);
        pump(W.client[i], 0);
    }
    settle();
    run_for(10 * SEC); /* closing and draining periods (3 PTO) */
    for (int i = 0; i < CONNS; i++) {
        assert_int_equal(tern_core_state(W.sconn[i]), TERN_CORE_CLOSED);
        SERVER(tern_core_conn_free(W.sconn[i]));
        tern_core_conn_free(W.client[i]);
        W.sconn[i] = W.client[i] = NULL;
    }
    W.nclients = 0;
    assert_int_equal(tern_core_server_conn_count(W.server), 0);
}

static void setup_world(void)
{
    memset(&W, 0, sizeof(W));
    W.seed = 42;
    W.now = SEC;
    corefx_client_config(&W.cfg_c);
    corefx_server_config(&W.cfg_s);
    /* idle connections stay open for the whole test */
    W.cfg_c.idle_timeout_ms = W.cfg_s.idle_timeout_ms = 3600 * 1000;
    W.cfg_c.max_udp_payload = W.cfg_s.max_udp_payload = SEG_MAX;
    W.cfg_s.max_half_open = CONNS + 1;
    W.qcap = 64 * CONNS;
    W.q = malloc(W.qcap * sizeof(*W.q));
    assert_non_null(W.q);
    SERVER(assert_int_equal(tern_core_server_new(&W.cfg_s, NULL, NULL, corefx_rand, &W.seed,
                                                 &W.server),
                            0));
}

static void test_per_connection_and_waves(void **st)
{
    (void)st;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    allochook_sites_on = getenv("TERN_MEM_SITES") != NULL;
    setup_world();
    long long base = allochook_bytes; /* the server itself: credentials, keys, tables */
    long long after_close[WAVES];
    for (int w = 0; w < WAVES; w++) {
        wave_open();
        long long open = allochook_bytes;
        long long per = (open - base) / CONNS;
        print_message("wave %d: server heap %lld bytes before, %lld with %d idle connections: "
                      "%lld bytes each\n",
                      w + 1, base, open, CONNS, per);
        if (w == 0 && getenv("TERN_MEM_SITES"))
            allochook_print_sites(atoi(getenv("TERN_MEM_SITES")), CONNS);
        if (per > PER_CONN_MAX)
            fail_msg("%lld bytes of server heap per idle connection (at most %d)", per,
                     PER_CONN_MAX);
        wave_close();
        after_close[w] = allochook_bytes;
        print_message("wave %d: server heap %lld bytes after every connection closed\n", w + 1,
                      after_close[w]);
        /* all of it given back: at most a block's worth of slack for a table that keeps its size */
        if (after_close[w] > base + 4096)
            fail_msg("wave %d: %lld bytes held after close, %lld before the first", w + 1,
                     after_close[w], base);
    }
    /* and nothing grows from one wave to the next (a few bytes of slack: a table whose last
     * reallocation landed on a block of another size class) */
    for (int w = 1; w < WAVES; w++)
        if (after_close[w] > after_close[0] + 256)
            fail_msg("wave %d: %lld bytes held after close, %lld after the first", w + 1,
                     after_close[w], after_close[0]);
    SERVER(tern_core_server_free(W.server));
    assert_true(allochook_bytes <= 0 + 64); /* the server's own state goes with it */
    free(W.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_connection_and_waves),
    };
    return cmocka_run_group_tests(tests, corefx_group_setup, corefx_group_teardown);
}
