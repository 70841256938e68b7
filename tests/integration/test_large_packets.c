/* A handshake whose flight is far larger than a datagram, with max_udp_payload 65527: two cores
 * shuttled without loss in datagrams of any size. The server's certificate carries a 24 KB
 * extension. Every path starts at the base PLPMTU of 1200 bytes (RFC 9000 §14) and only path MTU
 * discovery, after the handshake, may raise it: the flight must go out in long-header packets of
 * at most 1200 bytes, however large the cap, so that a 1280-byte link carries it, and the
 * handshake must complete. (Length fields above 16383 bytes, RFC 9000 §17.2, are unit-tested in
 * test_packet.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn_test.h"
#include "packet.h"
#include "tls.h"

#define BIG 65527
#define EXT_LEN 24000

static const char *const g_alpn[] = {"tern-test"};

static int rnd(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    assert_int_equal(gnutls_rnd(GNUTLS_RND_NONCE, out, len), 0);
    return 0;
}

static void write_pem(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d->data, 1, d->size, f), d->size);
    assert_int_equal(fclose(f), 0);
}

/* A self-signed ECDSA certificate for "localhost" with a private extension of EXT_LEN bytes. */
static void make_big_cert(const char *cert_path, const char *key_path)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    static const uint8_t serial[] = {0x01, 0x02, 0x03};
    time_t now = time(NULL);
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 3600), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + 3600), 0);
    assert_int_equal(
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9), 0);
    assert_int_equal(
        gnutls_x509_crt_set_issuer_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9),
        0);
    assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
    /* an OCTET STRING of EXT_LEN bytes (DER: 04 82 len) under a private OID */
    static uint8_t ext[EXT_LEN + 4];
    ext[0] = 0x04;
    ext[1] = 0x82;
    ext[2] = (uint8_t)(EXT_LEN >> 8);
    ext[3] = (uint8_t)EXT_LEN;
    memset(ext + 4, 0x5a, EXT_LEN);
    assert_int_equal(
        gnutls_x509_crt_set_extension_by_oid(crt, "1.3.6.1.4.1.55555.1", ext, sizeof(ext), 0), 0);
    assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
    gnutls_datum_t pc, pk;
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pc), 0);
    assert_int_equal(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pk), 0);
    write_pem(cert_path, &pc);
    write_pem(key_path, &pk);
    gnutls_free(pc.data);
    gnutls_free(pk.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
}

typedef struct side {
    tern_conn *c;
    tern_path_addr path;
    size_t largest_long; /* largest long-header packet seen in what this side sent */
    size_t first_len;    /* its first datagram */
} side;

/* Every packet of a datagram parses, and long headers account for the bytes they carry. */
static void scan(side *s, const uint8_t *d, size_t len)
{
    size_t off = 0;
    while (off < len) {
        tern_pkt_hdr h;
        assert_int_equal(tern_pkt_parse(d + off, len - off, 8, &h), 0);
        assert_true(h.pkt_len > 0 && h.pkt_len <= len - off);
        if (h.type != TERN_PKT_1RTT && h.pkt_len > s->largest_long)
            s->largest_long = h.pkt_len;
        off += h.pkt_len;
    }
}

/* Moves everything `from` has to send to `to`, one datagram at a time. Returns the datagrams. */
static int shuttle(side *from, side *to, uint8_t *buf, uint64_t now)
{
    int moved = 0;
    for (;;) {
        tern_path_addr out;
        size_t seg = 0, count = 0;
        assert_int_equal(tern_conn_send(from->c, &out, buf, BIG, 1, &seg, &count, now), 0);
        if (count == 0)
            return moved;
        scan(from, buf, seg);
        if (!from->first_len)
            from->first_len = seg;
        tern_conn_recv(to->c, &to->path, buf, seg, 0, now);
        moved++;
    }
}

/* What both cores share: version 1, 8-byte CIDs, this process's randomness. */
static void core_params(tern_conn_params *p, int is_server, const tern_config *cfg,
                        tern_tls_ctx *ctx)
{
    static const uint8_t reset_key[32];
    memset(p, 0, sizeof(*p));
    p->is_server = is_server;
    p->version = TERN_PROTO_VERSION_1;
    p->cfg = cfg;
    p->tls_ctx = ctx;
    p->rand = rnd;
    p->scid_len = 8;
    p->reset_key = reset_key;
}

static void test_handshake_with_big_long_packets(void **st)
{
    (void)st;
    char dir[] = "/tmp/tern-test-large-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cert[512], key[512];
    snprintf(cert, sizeof(cert), "%s/big.crt", dir);
    snprintf(key, sizeof(key), "%s/big.key", dir);
    make_big_cert(cert, key);
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = g_alpn;
    cfg.alpn_count = 1;
    cfg.max_udp_payload = BIG;
    tern_tls_ctx *sctx, *cctx;
    assert_int_equal(tern_tls_ctx_new(&sctx, 1, cert, key, NULL, 0, NULL, g_alpn, 1), 0);
    assert_int_equal(tern_tls_ctx_new(&cctx, 0, NULL, NULL, NULL, 0, NULL, g_alpn, 1), 0);
    side cli = {0}, srv = {0};
    assert_int_equal(tern_addr_parse(&cli.path.local, "10.0.0.1:5000", 0), 0);
    assert_int_equal(tern_addr_parse(&cli.path.remote, "10.0.0.2:443", 0), 0);
    srv.path.local = cli.path.remote;
    srv.path.remote = cli.path.local;
    tern_conn_params p;
    core_params(&p, 0, &cfg, cctx);
    p.server_name = "localhost";
    assert_int_equal(tern_conn_new(&cli.c, &p, &cli.path, 1), 0);

    uint8_t *buf = malloc(BIG);
    assert_non_null(buf);
    /* the server is created from the client's first Initial, as a dispatcher would */
    tern_path_addr o;
    size_t seg = 0, count = 0;
    assert_int_equal(tern_conn_send(cli.c, &o, buf, BIG, 1, &seg, &count, 1), 0);
    assert_int_equal(count, 1);
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(buf, seg, 8, &h), 0);
    core_params(&p, 1, &cfg, sctx);
    p.client_dcid = h.dcid;
    p.client_scid = h.scid;
    p.original_dcid = h.dcid;
    assert_int_equal(tern_conn_new(&srv.c, &p, &srv.path, 1), 0);
    scan(&cli, buf, seg);
    tern_conn_recv(srv.c, &srv.path, buf, seg, 0, 1);

    uint64_t now = 1;
    for (int round = 0; round < 50; round++) {
        now += 1000000;
        int m = shuttle(&srv, &cli, buf, now) + shuttle(&cli, &srv, buf, now);
        if (tern_conn_is_established(cli.c) && tern_conn_is_established(srv.c) && !m)
            break;
    }
    printf("largest long-header packet: client %zu bytes, server %zu bytes\n", cli.largest_long,
           srv.largest_long);
    assert_true(srv.largest_long > 1000 && srv.largest_long <= 1200);
    assert_true(cli.largest_long <= 1200);
    /* RFC 9000 §14.1: the server's first datagram (an ack-eliciting Initial) is padded too */
    assert_true(srv.first_len >= 1200);
    assert_true(tern_conn_is_established(cli.c));
    assert_true(tern_conn_is_established(srv.c));

    free(buf);
    tern_conn_free(cli.c);
    tern_conn_free(srv.c);
    tern_tls_ctx_free(sctx);
    tern_tls_ctx_free(cctx);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_with_big_long_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
