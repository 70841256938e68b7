/* Out of memory at every allocation of a connection's life: a client and a server pair (in memory,
 * virtual time) handshake and then download, while the N-th allocation of either side (and of the
 * TLS library under them) fails, for every N the run makes. Whatever fails, the connection either
 * goes on and delivers every byte intact, or ends with a stated reason within its timeouts; it
 * never hangs, crashes or delivers wrong bytes. The TLS contexts' own construction is swept the
 * same way and must fail with TERN_ERR_NOMEM and nothing else. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "allochook.h"
#include "conn_internal.h"
#include "conn_test.h"
#include "pair.h"
#include "testcert.h"
#include "tls.h"

#define SEC 1000000000ull

static const void *main_base;
static int gnutls_too; /* GnuTLS's own allocations may fail too */

/* Allocations of tern may fail, and those of GnuTLS itself where the test says so; those of the
 * libraries under GnuTLS are left alone (libtasn1 crashes), and GnuTLS's allocations are spared
 * wherever it does public key arithmetic: the allocator it gives GMP aborts. */
static int eligible(void *caller)
{
    Dl_info info;
    if (!dladdr(caller, &info))
        return 0;
    return info.dli_fbase == main_base ||
           (gnutls_too && info.dli_fname && strstr(info.dli_fname, "libgnutls"));
}

static int setup(void **st)
{
    Dl_info info;
    if (!dladdr((void *)setup, &info))
        return -1;
    main_base = info.dli_fbase;
    allochook_filter = eligible;
    return 0;
}

/* The connection ended, and said why. */
static int closed_with_reason(const tern_conn *c)
{
    const tern_close_info *ci = tern_conn_close_info(c);
    return tern_conn_is_done(c) && (ci->status != 0 || ci->error_code != 0);
}

/* `upgrade`: a client that begins in v1 offering v2 and a server that moves it to v2, so that the
 * sweep reaches the allocations of compatible version negotiation too. */
static void set_versions(tern_pair *p, int upgrade)
{
    if (!upgrade)
        return;
    p->cfg_c.quic_versions_count = p->cfg_s.quic_versions_count = 2;
    p->cfg_c.quic_versions[0] = p->cfg_s.quic_versions[1] = TERN_PROTO_VERSION_1;
    p->cfg_c.quic_versions[1] = p->cfg_s.quic_versions[0] = TERN_PROTO_VERSION_2;
}

/* Allocations a clean handshake makes (from the client's creation to both sides connected). */
static unsigned long long handshake_allocs(int upgrade)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 11), 0);
    set_versions(&p, upgrade);
    unsigned long long a0 = allochook_eligible;
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    unsigned long long n = allochook_eligible - a0;
    pair_free(&p);
    return n;
}

static int never(tern_pair *p) { return 0; }

static int connected_or_closed(tern_pair *p)
{
    return p->connected || (p->client && tern_conn_is_done(p->client));
}

/* Each allocation of the handshake fails in turn. */
static void handshake_sweep(int upgrade)
{
    unsigned long long total = handshake_allocs(upgrade);
    assert_true(total > 10);
    int outcomes[3] = {0}; /* no client, connected, closed */
    for (long n = 0; n < (long)total; n++) {
        tern_pair p;
        assert_int_equal(pair_init(&p, 11), 0);
        set_versions(&p, upgrade);
        allochook_fail_after = n;
        int ok = pair_run(&p, connected_or_closed, 40 * SEC);
        int hit = allochook_fail_after < 0;
        allochook_fail_after = -1;
        assert_true(hit);
        if (!p.client) {
            outcomes[0]++; /* creating the client failed: tern_conn_new said so */
        } else if (p.connected) {
            assert_true(ok);
            outcomes[1]++;
            /* and it works: a download completes intact */
            assert_true(pair_request(&p, 20000) >= 0);
            assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
            assert_true(pair_verify(&p));
        } else {
            if (!ok || !closed_with_reason(p.client))
                fail_msg("allocation %ld: client neither connected nor closed with a reason "
                         "(status %d)", n, tern_conn_close_info(p.client)->status);
            outcomes[2]++;
        }
        pair_free(&p);
    }
    /* each outcome happens: the sweep reaches creation, recovery and the closing paths */
    assert_true(outcomes[0] > 0);
    assert_true(outcomes[1] > 0);
    assert_true(outcomes[2] > 0);
    if (upgrade) {
        /* a connection that survived is in v2 */
        tern_pair p;
        assert_int_equal(pair_init(&p, 11), 0);
        set_versions(&p, 1);
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_2);
        pair_free(&p);
    }
}

static void test_handshake(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    handshake_sweep(0);
}

/* The same with a compatible upgrade from v1 to v2 on the way. */
static void test_handshake_upgrade(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    handshake_sweep(1);
}

/* After a clean handshake, each allocation of a download fails in turn. */
static void test_download(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    unsigned long long total = 0;
    for (long n = -1; n < (long)total; n++) {
        tern_pair p;
        assert_int_equal(pair_init(&p, 12), 0);
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_true(pair_request(&p, 60000) >= 0);
        assert_true(pair_request(&p, 3000) >= 0);
        unsigned long long a0 = allochook_eligible;
        allochook_fail_after = n;
        int ok = pair_run(&p, pair_cond_all_done, 40 * SEC);
        allochook_fail_after = -1;
        if (n < 0)
            total = allochook_eligible - a0; /* the clean run: how many to sweep */
        assert_true(ok);
        for (int i = 0; i < p.nstreams; i++)
            assert_false(p.streams[i].mismatch);
        if (!p.client_closed)
            assert_true(pair_verify(&p));
        else if (!closed_with_reason(p.client))
            fail_msg("allocation %ld of %llu: closed without a reason: status %d error 0x%llx %s",
                     n, total, tern_conn_close_info(p.client)->status,
                     (unsigned long long)tern_conn_close_info(p.client)->error_code,
                     tern_conn_close_info(p.client)->reason);
        pair_free(&p);
    }
    assert_true(total > 0);
}

/* A frame that cannot be taken for want of memory (here: the stream it opens) leaves its packet
 * unacknowledged, so that the peer sends the frame again, and the connection open; once memory is
 * back, the same frame in a new packet opens the stream. */
static void test_frame_dropped_unacknowledged(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_pair p;
    assert_int_equal(pair_init(&p, 13), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    pair_run(&p, never, SEC / 2); /* the server has the client's Finished and 1-RTT keys */
    assert_true(tern_conn_largest_recv(p.server, TERN_SPACE_APP) != UINT64_MAX);
    /* STREAM (LEN, FIN) on client bidirectional stream 8: opens streams 0, 4 and 8 */
    static const uint8_t frame[] = {0x0b, 0x08, 0x05, 'h', 'e', 'l', 'l', 'o'};
    uint64_t largest = tern_conn_largest_recv(p.server, TERN_SPACE_APP);
    allochook_fail_after = 0;
    assert_int_equal(pair_inject_1rtt(&p, 1, frame, sizeof(frame)), 0);
    assert_true(allochook_fail_after < 0);
    allochook_fail_after = -1;
    assert_false(tern_conn_is_done(p.server));
    assert_int_equal(tern_conn_close_info(p.server)->error_code, 0);
    assert_int_equal(tern_conn_close_info(p.server)->status, 0);
    assert_true(tern_conn_largest_recv(p.server, TERN_SPACE_APP) == largest); /* not acknowledged */

    assert_int_equal(pair_inject_1rtt(&p, 1, frame, sizeof(frame)), 0);
    assert_true(tern_conn_largest_recv(p.server, TERN_SPACE_APP) != largest);
    /* the server application read the bytes */
    int found = 0;
    for (int i = 0; i < p.nsrv; i++)
        if (p.srv[i].sid == 8 && p.srv[i].req_len == 5 && !memcmp(p.srv[i].req, "hello", 5))
            found = 1;
    assert_true(found);
    pair_free(&p);
}

/* Building the TLS contexts: each allocation failure ends in an error with no context; almost all
 * say TERN_ERR_NOMEM (GnuTLS hides a few as file, parse or request errors, which come out as
 * TERN_ERR_CERT or TERN_ERR_CONFIG), then it succeeds. */
static void test_tls_ctx(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    char cert[512], key[512], dir[] = "/tmp/tern-allocfail-XXXXXX";
    static const char *alpn[] = {"hq-interop", "h3"};
    assert_non_null(mkdtemp(dir));
    assert_int_equal(tern_test_make_cert(dir, cert, sizeof(cert), key, sizeof(key)), 0);
    for (int server = 0; server <= 1; server++) {
        int nomem = 0, other = 0, ok = 0;
        gnutls_too = !server; /* a server loads its key: public key arithmetic */
        for (long n = 0; n < 5000 && !ok; n++) {
            tern_tls_ctx *ctx = NULL;
            allochook_fail_after = n;
            int rv = server ? tern_tls_ctx_new(&ctx, 1, cert, key, NULL, 0, NULL, alpn, 2)
                            : tern_tls_ctx_new(&ctx, 0, NULL, NULL, cert, 1, NULL, alpn, 2);
            int hit = allochook_fail_after < 0;
            allochook_fail_after = -1;
            if (rv == 0) {
                assert_non_null(ctx);
                ok = !hit;
                if (server) /* the ticket key is one more allocation of GnuTLS */
                    assert_int_equal(tern_tls_ctx_set_tickets(ctx, 1), 0);
            } else {
                assert_null(ctx);
                if (rv == TERN_ERR_NOMEM)
                    nomem++;
                else if (rv == TERN_ERR_CERT || rv == TERN_ERR_CONFIG)
                    other++;
                else
                    fail_msg("allocation %ld: tern_tls_ctx_new returned %d", n, rv);
            }
            tern_tls_ctx_free(ctx);
        }
        gnutls_too = 0;
        assert_true(ok);
        if (nomem < 4 * other)
            fail_msg("%s: %d failures said out of memory, %d something else",
                     server ? "server" : "client", nomem, other);
    }

    tern_tls_ctx *ctx = NULL;
    assert_int_equal(tern_tls_ctx_new(&ctx, 1, cert, key, NULL, 0, NULL, alpn, 2), 0);
    gnutls_too = 1;
    allochook_fail_after = 0;
    assert_int_equal(tern_tls_ctx_set_tickets(ctx, 1), TERN_ERR_NOMEM);
    allochook_fail_after = -1;
    gnutls_too = 0;
    assert_int_equal(tern_tls_ctx_set_tickets(ctx, 1), 0);
    assert_int_equal(tern_tls_ctx_set_tickets(ctx, 1), 0); /* the key is made once */
    tern_tls_ctx_free(ctx);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* Only the allocation that gives a connection's path slot its path (a tiny function: its calls
 * lie within its first bytes, even with coverage counters; the functions after it allocate
 * nothing). */
static int path_slot_caller(void *caller)
{
    const char *f = (const char *)(uintptr_t)tern_conn_path_slot_open;
    return (const char *)caller > f && (const char *)caller < f + 160;
}

static tern_addr parse(const char *s)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, s, 0), 0);
    return a;
}

static int confirmed(tern_pair *p) { return p->client && tern_conn_handshake_confirmed(p->client); }
static int some_bytes(tern_pair *p) { return p->streams[1].got > 100000; }

/* A connection allocates a path for a slot only when it first opens one there: a client that
 * cannot get one is told TERN_ERR_NOMEM (no path, no event) and may add the address again; a
 * server whose client's NAT rebound drops the packet it could not make a path for, and follows
 * the client with the next one. */
static void test_path_slot(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_pair p;
    assert_int_equal(pair_init(&p, 14), 0);
    assert_true(pair_run(&p, confirmed, 10 * SEC));
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    /* one path each, and no slot beyond the first holds one */
    for (int i = 1; i < TERN_MAX_PATHS; i++) {
        assert_null(tern_conn_path_slot(p.client, i));
        assert_null(tern_conn_path_slot(p.server, i));
    }
    tern_addr wifi = parse("10.0.0.3:6000");
    allochook_filter = path_slot_caller;
    allochook_fail_after = 0;
    assert_int_equal(tern_conn_path_add(p.client, &wifi, p.now), TERN_ERR_NOMEM);
    assert_true(allochook_fail_after < 0);
    allochook_fail_after = -1;
    assert_int_equal(tern_mig_paths_in_use(p.client), 1);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    int id = tern_conn_path_add(p.client, &wifi, p.now);
    assert_true(id > 0);
    assert_non_null(tern_conn_path_slot(p.client, id));
    assert_int_equal(pair_request(&p, 1 << 20), 1);
    assert_true(pair_run(&p, some_bytes, 5 * SEC));
    assert_int_equal(tern_conn_path_set_active(p.client, &wifi, p.now), id);

    /* the server: the client's NAT rebinds while the server's next path cannot be allocated */
    p.nat_from = wifi;
    p.nat_to = parse("10.0.0.9:7777");
    allochook_fail_after = 0;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(allochook_fail_after < 0); /* it was reached */
    allochook_fail_after = -1;
    allochook_filter = eligible;
    assert_true(pair_verify(&p));
    assert_false(tern_conn_is_done(p.server));
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &p.nat_to));
    pair_free(&p);
}

/* The close information (its reason's 256 bytes) takes heap only once the connection ends: an
 * open connection holds none, the closing side and the peer that learns why do. Without memory
 * for it, the connection still closes, as one that ran out of memory (INTERNAL_ERROR on the wire,
 * TERN_ERR_NOMEM to the application), and frees nothing it did not allocate. */
static void test_close_info_on_demand(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    for (int nomem = 0; nomem < 2; nomem++) {
        tern_pair p;
        assert_int_equal(pair_init(&p, 15), 0);
        assert_true(pair_connect(&p));
        assert_int_equal(tern_conn_close_info_bytes(p.client), 0);
        assert_int_equal(tern_conn_close_info_bytes(p.server), 0);
        assert_int_equal(tern_conn_close_info(p.client)->status, 0);
        assert_int_equal(tern_conn_close_info(p.client)->error_code, 0);
        allochook_fail_next = nomem;
        assert_int_equal(tern_conn_close(p.client, 7, "bye"), 0);
        allochook_fail_next = 0;
        const tern_close_info *ci = tern_conn_close_info(p.client);
        assert_true(pair_run(&p, pair_cond_both_closed, 10 * SEC));
        const tern_close_info *si = tern_conn_close_info(p.server);
        assert_int_equal(si->local, 0);
        assert_int_equal(tern_conn_close_info_bytes(p.server), sizeof(tern_close_info));
        if (!nomem) {
            assert_int_equal(tern_conn_close_info_bytes(p.client), sizeof(tern_close_info));
            assert_int_equal(ci->app, 1);
            assert_int_equal(ci->error_code, 7);
            assert_string_equal(ci->reason, "bye");
            assert_int_equal(si->app, 1);
            assert_int_equal(si->error_code, 7);
            assert_string_equal(si->reason, "bye");
        } else {
            assert_int_equal(tern_conn_close_info_bytes(p.client), 0);
            assert_int_equal(ci->status, TERN_ERR_NOMEM);
            assert_int_equal(ci->error_code, TERN_TE_INTERNAL_ERROR);
            assert_int_equal(si->app, 0);
            assert_int_equal(si->error_code, TERN_TE_INTERNAL_ERROR);
            assert_string_equal(si->reason, "");
        }
        pair_free(&p);
    }
}

/* A stream the application cannot open for want of memory: TERN_ERR_NOMEM, nothing held, no
 * STREAMS_BLOCKED owed (the peer's limit was not the reason); the next open works and is the
 * stream the failed one would have been. */
static void test_open_stream_nomem(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    tern_pair p;
    assert_int_equal(pair_init(&p, 14), 0);
    assert_true(pair_connect(&p));
    pair_run(&p, never, SEC / 10);
    int64_t sid = -1, sid2 = -1;
    allochook_fail_next = 1;
    assert_int_equal(tern_conn_open_stream(p.client, 1, &sid), TERN_ERR_NOMEM);
    allochook_fail_next = 0;
    uint8_t buf[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(p.client, &pa, buf, sizeof(buf), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 0); /* nothing to say about it */
    assert_int_equal(tern_conn_open_stream(p.client, 1, &sid2), 0);
    assert_int_equal(sid2, 4); /* after stream 0 of pair_connect */
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_ctx),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_handshake_upgrade),
        cmocka_unit_test(test_download),
        cmocka_unit_test(test_frame_dropped_unacknowledged),
        cmocka_unit_test(test_path_slot),
        cmocka_unit_test(test_open_stream_nomem),
        cmocka_unit_test(test_close_info_on_demand),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
