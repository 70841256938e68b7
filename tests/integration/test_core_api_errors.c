/* The sans-I/O API's (tern/core.h) answers to what an application gets wrong or cannot help:
 * malformed addresses, a failing randomness source, allocation failures at creation and at a
 * server's accept, NULL outputs, the path verbs on unknown or unusable addresses, and a server
 * connection fed and freed through the connection calls. Only the first flight of a client is
 * needed: every case here is decided before a handshake completes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "allochook.h"
#include "corefx.h"
#include "tern/core.h"
#include "tern/tern.h"

/* A randomness source that has run dry: its error must come back unchanged. */
static int failing_rand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    (void)out;
    (void)len;
    return TERN_ERR_INTERNAL;
}

static const char *const client_path[2] = {"10.0.0.1:40000", "10.0.0.9:443"};

static tern_conn *new_client(uint64_t *seed)
{
    tern_config cfg;
    corefx_client_config(&cfg);
    tern_path_addr path = {.local = corefx_addr(client_path[0]),
                           .remote = corefx_addr(client_path[1])};
    tern_conn *c = NULL;
    assert_int_equal(
        tern_core_client_new(&cfg, NULL, NULL, &path, "localhost", corefx_rand, seed, 0, &c), 0);
    return c;
}

static void test_client_new_errors(void **st)
{
    (void)st;
    uint64_t seed = 3;
    tern_config cfg;
    corefx_client_config(&cfg);
    tern_path_addr good = {.local = corefx_addr(client_path[0]),
                           .remote = corefx_addr(client_path[1])};
    tern_conn *c = (tern_conn *)&seed;

    /* the randomness source's own error, and no connection */
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &good, NULL, failing_rand, NULL, 0, &c),
                     TERN_ERR_INTERNAL);
    assert_null(c);

    /* an address without a family, one whose length does not match its family, a remote that is
     * unset: each is the caller's error */
    tern_path_addr p = good;
    memset(&p.local, 0, sizeof(p.local));
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &p, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_INVALID_ARG);
    p = good;
    p.local.len = sizeof(struct sockaddr_in6); /* an IPv4 address claiming the size of IPv6 */
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &p, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_INVALID_ARG);
    p = good;
    memset(&p.remote, 0, sizeof(p.remote));
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &p, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_INVALID_ARG);
    tern_path_addr v6 = {.local = corefx_addr("[fd00::1]:40000"),
                         .remote = corefx_addr("[fd00::9]:443")};
    v6.local.len = sizeof(struct sockaddr_in);
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &v6, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_INVALID_ARG);
    assert_null(c);
    /* the same family on both sides, IPv6, is fine */
    v6.local = corefx_addr("[fd00::1]:40000");
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &v6, NULL, corefx_rand, &seed, 0, &c),
                     0);
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    tern_core_conn_free(c);

    /* a configuration the copy rejects, and one with a certificate but no key */
    tern_config bad = cfg;
    bad.cert_file = corefx_cert_file;
    assert_int_equal(tern_core_client_new(&bad, NULL, NULL, &good, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_CONFIG);
    assert_null(c);
}

/* The first allocation of each constructor failed: TERN_ERR_NOMEM and no object. */
static void test_creation_out_of_memory(void **st)
{
    (void)st;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    uint64_t seed = 4;
    tern_config cfg;
    corefx_client_config(&cfg);
    tern_path_addr path = {.local = corefx_addr(client_path[0]),
                           .remote = corefx_addr(client_path[1])};
    tern_conn *c = (tern_conn *)&seed;
    allochook_fail_next = 1;
    assert_int_equal(tern_core_client_new(&cfg, NULL, NULL, &path, NULL, corefx_rand, &seed, 0, &c),
                     TERN_ERR_NOMEM);
    assert_int_equal(allochook_fail_next, 0);
    assert_null(c);

    corefx_server_config(&cfg);
    tern_core_server *s = (tern_core_server *)&seed;
    allochook_fail_next = 1;
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s),
                     TERN_ERR_NOMEM);
    assert_null(s);
    /* and the failures leave nothing behind that stops the next try */
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s), 0);
    tern_core_server_free(s);
}

/* Fails its `n`-th call (counting from 1) and every one after. */
static int rand_calls, rand_fail_at;
static int counting_rand(void *ud, uint8_t *out, size_t len)
{
    if (++rand_calls >= rand_fail_at)
        return TERN_ERR_INTERNAL;
    return corefx_rand(ud, out, len);
}

static void test_server_new_errors(void **st)
{
    (void)st;
    uint64_t seed = 5;
    tern_config cfg;
    corefx_server_config(&cfg);
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, NULL),
                     TERN_ERR_INVALID_ARG);
    tern_core_server *s = (tern_core_server *)&seed;
    cfg.key_file = NULL; /* a certificate without its key */
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s),
                     TERN_ERR_CONFIG);
    assert_null(s);
    corefx_server_config(&cfg);
    cfg.alpn_count = 0; /* credentials, but a configuration the copy rejects */
    assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, corefx_rand, &seed, &s),
                     TERN_ERR_CONFIG);
    assert_null(s);
    /* the keys of stateless resets, then of Retry tokens, are drawn at creation: either draw
     * failing is the server's failure, with the source's own error */
    corefx_server_config(&cfg);
    for (rand_fail_at = 1; rand_fail_at <= 2; rand_fail_at++) {
        rand_calls = 0;
        s = (tern_core_server *)&seed;
        assert_int_equal(tern_core_server_new(&cfg, NULL, NULL, counting_rand, &seed, &s),
                         TERN_ERR_INTERNAL);
        assert_int_equal(rand_calls, rand_fail_at);
        assert_null(s);
    }
}

static void test_send_and_path_errors(void **st)
{
    (void)st;
    uint64_t seed = 6;
    tern_conn *c = new_client(&seed);
    uint8_t buf[1500];
    size_t seg = 0, count = 0;
    tern_path_addr out;
    assert_int_equal(tern_core_send(c, buf, sizeof(buf), 1, &out, NULL, &count, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send(c, buf, sizeof(buf), 1, &out, &seg, NULL, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_on_timeout(c, 0), 0);

    tern_addr here = corefx_addr(client_path[0]), elsewhere = corefx_addr("10.0.0.7:40000");
    assert_int_equal(tern_core_path_error(NULL, &here, TERN_PATH_WHY_SOCKET_ERROR, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_error(c, NULL, TERN_PATH_WHY_SOCKET_ERROR, 0),
                     TERN_ERR_INVALID_ARG);
    /* each reason the socket layer may give is accepted; an address no path uses is not found */
    assert_int_equal(tern_core_path_error(c, &elsewhere, TERN_PATH_WHY_SOCKET_ERROR, 0),
                     TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_error(c, &elsewhere, TERN_PATH_WHY_INTERFACE_GONE, 0),
                     TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_error(c, &elsewhere, TERN_PATH_WHY_ADDRESS_GONE, 0),
                     TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_error(c, &here, TERN_PATH_WHY_TIMEOUT, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_remove(c, &elsewhere, 0), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_remove(NULL, &elsewhere, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_add(NULL, &elsewhere, 0), TERN_ERR_INVALID_ARG);
    /* an IPv4 address with the length of an IPv6 one */
    tern_addr odd = elsewhere;
    odd.len = sizeof(struct sockaddr_in6);
    assert_int_equal(tern_core_path_set_active(c, &odd, 0), TERN_ERR_INVALID_ARG);
    tern_addr v6port0 = corefx_addr("[fd00::1]");
    assert_int_equal(tern_core_path_set_active(c, &v6port0, 0), TERN_ERR_INVALID_ARG);
    /* a second network of another family cannot reach the server's address */
    tern_addr v6 = corefx_addr("[fd00::1]:40000");
    assert_int_equal(tern_core_path_add(c, &v6, 0), TERN_ERR_AF_MISMATCH);
    /* the same local address twice */
    assert_int_equal(tern_core_path_add(c, &here, 0), TERN_ERR_DUPLICATE);
    assert_int_equal(tern_core_port_unreachable(NULL, &here), TERN_ERR_INVALID_ARG);
    /* from an address that is not the server's: ignored */
    assert_int_equal(tern_core_port_unreachable(c, &elsewhere), 0);
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_LINK_DOWN;
    ev.ifindex = 7;
    snprintf(ev.ifname, sizeof(ev.ifname), "wlan0");
    assert_int_equal(tern_core_network_event(NULL, &ev, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_network_event(c, NULL, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_network_event(c, &ev, 0), 0); /* without auto_migrate: no effect */
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    tern_core_conn_free(c);
}

/* The client's first datagram, as it would go on the wire. */
static size_t first_flight(tern_conn *c, uint8_t *buf, size_t cap, tern_path_addr *path)
{
    size_t seg = 0, count = 0;
    ssize_t n = tern_core_send(c, buf, cap, 1, path, &seg, &count, 0);
    assert_true(n >= 1200);
    assert_int_equal(count, 1);
    return (size_t)n;
}

static int accepted;
static void on_accept(tern_conn *c, void *ud)
{
    (void)c;
    (void)ud;
    accepted++;
}

static void test_server_accept_and_free(void **st)
{
    (void)st;
    uint64_t seed = 7;
    tern_conn *c = new_client(&seed);
    uint8_t d[1500], copy[1500], reply[TERN_CORE_REPLY_MAX];
    tern_path_addr sent;
    size_t n = first_flight(c, d, sizeof(d), &sent);
    /* as the server sees it: local = its address, remote = the client */
    tern_path_addr at = {.local = sent.remote, .remote = sent.local};

    tern_config cfg;
    corefx_server_config(&cfg);
    tern_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.on_accept = on_accept;
    tern_core_server *s;
    assert_int_equal(tern_core_server_new(&cfg, &cb, NULL, corefx_rand, &seed, &s), 0);
    tern_conn *sc = (tern_conn *)&seed;
    size_t rlen = 1;
    int kind = -1;
    /* a reply capacity without a buffer */
    assert_int_equal(tern_core_server_recv(s, &at, d, n, 0, 0, NULL, 16, &rlen, &kind, &sc),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_core_server_recv(s, &at, d, n, -1, 0, reply, sizeof(reply), &rlen, &kind, &sc),
        TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_core_server_recv(s, NULL, d, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &sc),
        TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_core_server_recv(s, &at, NULL, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &sc),
        TERN_ERR_INVALID_ARG);

    if (ALLOCHOOK_ACTIVE) {
        /* the record of the new connection cannot be allocated: dropped, nothing created */
        memcpy(copy, d, n);
        allochook_fail_next = 1;
        assert_int_equal(
            tern_core_server_recv(s, &at, copy, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &sc),
            TERN_CORE_DROPPED);
        assert_int_equal(allochook_fail_next, 0);
        assert_null(sc);
        assert_int_equal(rlen, 0);
        assert_int_equal(kind, TERN_CORE_REPLY_NONE);
        assert_int_equal(tern_core_server_conn_count(s), 0);
        assert_int_equal(accepted, 0);
        /* the record is allocated, the connection is not */
        memcpy(copy, d, n);
        allochook_fail_after = 1;
        assert_int_equal(
            tern_core_server_recv(s, &at, copy, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &sc),
            TERN_CORE_DROPPED);
        assert_int_equal(allochook_fail_after, -1);
        assert_null(sc);
        assert_int_equal(tern_core_server_conn_count(s), 0);
        assert_int_equal(accepted, 0);
    }
    /* an Initial whose header is fine but whose protected payload was damaged: the connection
     * made for it authenticates nothing and is dropped again */
    memcpy(copy, d, n);
    copy[n - 1] ^= 0x40;
    assert_int_equal(
        tern_core_server_recv(s, &at, copy, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &sc),
        TERN_CORE_DROPPED);
    assert_null(sc);
    assert_int_equal(tern_core_server_conn_count(s), 0);
    assert_int_equal(accepted, 0);
    memcpy(copy, d, n);
    assert_int_equal(
        tern_core_server_recv(s, &at, copy, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &sc),
        TERN_CORE_ACCEPTED);
    assert_non_null(sc);
    assert_int_equal(accepted, 1);
    assert_int_equal(tern_core_server_conn_count(s), 1);
    assert_int_equal(tern_core_state(sc), TERN_CORE_HANDSHAKE);
    /* the same Initial again, fed straight to the server connection: a duplicate, dropped */
    memcpy(copy, d, n);
    assert_int_equal(tern_core_recv(sc, &at, copy, n, 0, 0), 0);
    assert_int_equal(tern_core_state(sc), TERN_CORE_HANDSHAKE);
    /* and through the server: routed to it */
    memcpy(copy, d, n);
    tern_conn *again = NULL;
    assert_int_equal(
        tern_core_server_recv(s, &at, copy, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &again),
        TERN_CORE_ROUTED);
    assert_ptr_equal(again, sc);
    assert_int_equal(tern_core_server_conn_count(s), 1);
    /* freed by the caller: the server no longer routes to it (and no longer counts it) */
    tern_core_conn_free(sc);
    assert_int_equal(tern_core_server_conn_count(s), 0);
    memcpy(copy, d, n);
    assert_int_equal(
        tern_core_server_recv(s, &at, copy, n, 0, 0, reply, sizeof(reply), &rlen, &kind, &again),
        TERN_CORE_ACCEPTED); /* a new connection again, not the freed one */
    assert_int_equal(accepted, 2);
    assert_int_equal(tern_core_server_conn_count(s), 1);
    tern_core_server_free(s); /* frees the connection the caller left */
    tern_core_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_new_errors),
        cmocka_unit_test(test_creation_out_of_memory),
        cmocka_unit_test(test_server_new_errors),
        cmocka_unit_test(test_send_and_path_errors),
        cmocka_unit_test(test_server_accept_and_free),
    };
    return cmocka_run_group_tests(tests, corefx_group_setup, corefx_group_teardown);
}
