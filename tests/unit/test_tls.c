/* Unit tests for tls_gnutls.c: a client and a server session run a full handshake in memory, bytes
 * shuttled level by level; failures (ALPN, certificates, garbage, missing transport parameters)
 * must end with the right alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "crypto.h"
#include "testcert.h"
#include "tls.h"

#define BUF_CAP 32768

typedef struct side {
    tern_tls *tls;
    uint8_t out[TERN_LEVEL_COUNT][BUF_CAP];
    size_t out_len[TERN_LEVEL_COUNT];
    size_t sent_total[TERN_LEVEL_COUNT];
    int send_calls[TERN_LEVEL_COUNT];
    uint8_t rx[TERN_LEVEL_COUNT][TERN_MAX_SECRET_LEN], tx[TERN_LEVEL_COUNT][TERN_MAX_SECRET_LEN];
    size_t rx_len[TERN_LEVEL_COUNT], tx_len[TERN_LEVEL_COUNT];
    int aead[TERN_LEVEL_COUNT];
    uint8_t peer_tp[512];
    size_t peer_tp_len;
    int tp_calls;
    int tp_error; /* what on_tparams returns */
    int alert;
    int alert_calls;
    int rv; /* last tern_tls_recv result */
    char keylog[8][256]; /* on_keylog lines, in order */
    int keylog_n;
} side;

static int on_secret(void *ud, int level, int aead, const uint8_t *rx, const uint8_t *tx,
                     size_t len)
{
    side *s = ud;
    assert_true(level >= 0 && level < TERN_LEVEL_COUNT);
    assert_true(len <= TERN_MAX_SECRET_LEN);
    s->aead[level] = aead;
    if (rx) {
        memcpy(s->rx[level], rx, len);
        s->rx_len[level] = len;
    }
    if (tx) {
        memcpy(s->tx[level], tx, len);
        s->tx_len[level] = len;
    }
    return 0;
}

static int on_send(void *ud, int level, const uint8_t *data, size_t len)
{
    side *s = ud;
    assert_true(level >= 0 && level < TERN_LEVEL_COUNT);
    assert_true(s->out_len[level] + len <= BUF_CAP);
    memcpy(s->out[level] + s->out_len[level], data, len);
    s->out_len[level] += len;
    s->sent_total[level] += len;
    s->send_calls[level]++;
    return 0;
}

static void on_alert(void *ud, int level, uint8_t alert)
{
    side *s = ud;
    s->alert = alert;
    s->alert_calls++;
}

static int on_tparams(void *ud, const uint8_t *data, size_t len)
{
    side *s = ud;
    assert_true(len <= sizeof(s->peer_tp));
    memcpy(s->peer_tp, data, len);
    s->peer_tp_len = len;
    s->tp_calls++;
    return s->tp_error;
}

static void on_keylog(void *ud, const char *line)
{
    side *s = ud;
    assert_true(s->keylog_n < 8);
    assert_true(strlen(line) < sizeof(s->keylog[0]));
    strcpy(s->keylog[s->keylog_n++], line);
}

static const tern_tls_cb callbacks = {on_secret, on_send, on_alert, on_tparams};
static const tern_tls_cb callbacks_keylog = {on_secret, on_send, on_alert, on_tparams, on_keylog};

/* ---- fixture: certificates ------------------------------------------------------------------ */

typedef struct fixture {
    char dir[256];
    char cert[512], key[512];   /* the server's */
    char cert2[512], key2[512]; /* an unrelated one, for "wrong CA" */
} fixture;

static fixture fx;

static int group_setup(void **state)
{
    strcpy(fx.dir, "/tmp/tern-test-tls-XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    if (tern_test_make_cert(fx.dir, fx.cert, sizeof(fx.cert), fx.key, sizeof(fx.key)) != 0)
        return -1;
    if (tern_test_make_cert(fx.dir, fx.cert2, sizeof(fx.cert2), fx.key2, sizeof(fx.key2)) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    unlink(fx.cert);
    unlink(fx.key);
    unlink(fx.cert2);
    unlink(fx.key2);
    rmdir(fx.dir);
    return 0;
}

/* ---- pair ----------------------------------------------------------------------------------- */

typedef struct pair {
    tern_tls_ctx *cctx, *sctx;
    side *c, *s;
} pair;

static const uint8_t client_tp[] = {0x01, 0x04, 0x80, 0x00, 0x75, 0x30, 0x04, 0x04, 0x80,
                                    0x10, 0x00, 0x00, 0x0f, 0x04, 0xde, 0xad, 0xbe, 0xef};
static const uint8_t server_tp[] = {0x00, 0x08, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57,
                                    0x08, 0x03, 0x02, 0x45, 0xc0, 0x0e, 0x01, 0x04};

typedef struct pair_opts {
    const char *cprio, *sprio;
    const char *const *calpn;
    size_t calpn_n;
    const char *const *salpn;
    size_t salpn_n;
    const char *ca; /* default: the server's own cert */
    int verify;
    const char *name;
    int tickets; /* 1: session tickets on; 2: turned on twice, then off */
    int keylog; /* both sides get an on_keylog callback */
} pair_opts;

static const char *const alpn_hq[] = {"hq-interop"};
static const char *const alpn_srv[] = {"h3", "hq-interop"};

static void pair_init(pair *p, const pair_opts *o)
{
    memset(p, 0, sizeof(*p));
    p->c = calloc(1, sizeof(side));
    p->s = calloc(1, sizeof(side));
    assert_non_null(p->c);
    assert_non_null(p->s);
    p->c->alert = p->s->alert = -1;
    assert_int_equal(tern_tls_ctx_new(&p->sctx, 1, fx.cert, fx.key, NULL, 0, o->sprio,
                                      o->salpn ? o->salpn : alpn_srv, o->salpn ? o->salpn_n : 2),
                     0);
    if (o->tickets)
        assert_int_equal(tern_tls_ctx_set_tickets(p->sctx, 1), 0);
    if (o->tickets == 2) { /* on again (the key stays), then off */
        assert_int_equal(tern_tls_ctx_set_tickets(p->sctx, 1), 0);
        assert_int_equal(tern_tls_ctx_set_tickets(p->sctx, 0), 0);
    }
    assert_int_equal(tern_tls_ctx_new(&p->cctx, 0, NULL, NULL, o->ca ? o->ca : fx.cert, o->verify,
                                      o->cprio, o->calpn ? o->calpn : alpn_hq,
                                      o->calpn ? o->calpn_n : 1),
                     0);
    const tern_tls_cb *cb = o->keylog ? &callbacks_keylog : &callbacks;
    assert_int_equal(
        tern_tls_new(&p->s->tls, p->sctx, 1, NULL, server_tp, sizeof(server_tp), cb, p->s), 0);
    assert_int_equal(
        tern_tls_new(&p->c->tls, p->cctx, 0, o->name, client_tp, sizeof(client_tp), cb, p->c), 0);
}

static void pair_free(pair *p)
{
    tern_tls_free(p->c->tls);
    tern_tls_free(p->s->tls);
    tern_tls_ctx_free(p->cctx);
    tern_tls_ctx_free(p->sctx);
    free(p->c);
    free(p->s);
}

/* Bytes per tern_tls_recv call when delivering; 0 = each level's data in two halves. CRYPTO frames
 * may split handshake messages anywhere, so every size must work. */
static size_t chunk_size;

/* Moves everything `from` has queued into `to`, level by level, lowest first. Returns 1 if bytes
 * moved. */
static int deliver(side *from, side *to)
{
    int moved = 0;
    for (int l = 0; l < TERN_LEVEL_COUNT; l++) {
        size_t n = from->out_len[l];
        if (!n)
            continue;
        uint8_t *buf = malloc(n);
        assert_non_null(buf);
        memcpy(buf, from->out[l], n);
        from->out_len[l] = 0;
        uint8_t alert = 0xff;
        size_t chunk = chunk_size ? chunk_size : (n + 1) / 2;
        for (size_t off = 0; off < n; off += chunk) {
            to->rv = tern_tls_recv(to->tls, l, buf + off, TERN_MIN(chunk, n - off), &alert);
            if (to->rv < 0)
                break;
        }
        free(buf);
        moved = 1;
        if (to->rv < 0)
            return moved;
    }
    return moved;
}

/* Runs the handshake until nothing moves or one side fails. */
static void run(pair *p)
{
    assert_int_equal(tern_tls_start(p->c->tls), 0);
    assert_true(p->c->out_len[TERN_LEVEL_INITIAL] > 0);
    for (int i = 0; i < 20; i++) {
        int m = deliver(p->c, p->s);
        if (p->s->rv < 0)
            return;
        m |= deliver(p->s, p->c);
        if (p->c->rv < 0 || !m)
            return;
    }
    fail_msg("handshake did not settle");
}

static void assert_secrets_agree(const side *a, const side *b, int level, size_t len)
{
    assert_int_equal(a->tx_len[level], len);
    assert_int_equal(a->rx_len[level], len);
    assert_int_equal(b->tx_len[level], len);
    assert_int_equal(b->rx_len[level], len);
    assert_memory_equal(a->tx[level], b->rx[level], len);
    assert_memory_equal(a->rx[level], b->tx[level], len);
    assert_memory_not_equal(a->tx[level], a->rx[level], len);
}

static void assert_success(pair *p, int aead)
{
    size_t slen = aead == TERN_AEAD_AES_256_GCM ? 48 : 32;
    assert_int_equal(p->c->rv, 1);
    assert_int_equal(p->s->rv, 1);
    assert_true(tern_tls_is_done(p->c->tls));
    assert_true(tern_tls_is_done(p->s->tls));
    assert_int_equal(p->c->alert_calls, 0);
    assert_int_equal(p->s->alert_calls, 0);

    assert_secrets_agree(p->c, p->s, TERN_LEVEL_HANDSHAKE, slen);
    assert_secrets_agree(p->c, p->s, TERN_LEVEL_1RTT, slen);
    assert_memory_not_equal(p->c->tx[TERN_LEVEL_HANDSHAKE], p->c->tx[TERN_LEVEL_1RTT], slen);
    assert_int_equal(p->c->aead[TERN_LEVEL_HANDSHAKE], aead);
    assert_int_equal(p->c->aead[TERN_LEVEL_1RTT], aead);
    assert_int_equal(p->s->aead[TERN_LEVEL_HANDSHAKE], aead);
    assert_int_equal(p->s->aead[TERN_LEVEL_1RTT], aead);
    assert_int_equal(tern_tls_aead(p->c->tls), aead);
    assert_int_equal(tern_tls_aead(p->s->tls), aead);
    /* No 0-RTT, and no handshake bytes in 0-RTT. */
    assert_int_equal(p->c->tx_len[TERN_LEVEL_0RTT], 0);
    assert_int_equal(p->c->sent_total[TERN_LEVEL_0RTT], 0);

    /* Transport parameters arrive unchanged, once. */
    assert_int_equal(p->s->tp_calls, 1);
    assert_int_equal(p->c->tp_calls, 1);
    assert_int_equal(p->s->peer_tp_len, sizeof(client_tp));
    assert_memory_equal(p->s->peer_tp, client_tp, sizeof(client_tp));
    assert_int_equal(p->c->peer_tp_len, sizeof(server_tp));
    assert_memory_equal(p->c->peer_tp, server_tp, sizeof(server_tp));

    /* The secrets really are usable: client 1-RTT tx keys protect what the server's rx opens. */
    tern_keys ktx = {0}, krx = {0};
    uint8_t pkt[64] = {0x40, 1, 2, 3, 4, 5, 6, 7, 8, 0x2a, 'p', 'i', 'n', 'g'};
    assert_int_equal(tern_crypto_keys_from_secret(&ktx, aead, p->c->tx[TERN_LEVEL_1RTT], slen, 1),
                     0);
    assert_int_equal(tern_crypto_keys_from_secret(&krx, aead, p->s->rx[TERN_LEVEL_1RTT], slen, 1),
                     0);
    assert_int_equal(tern_crypto_protect(&ktx, NULL, pkt, 10, 1, 4, 42), 0);
    size_t pn_len;
    uint64_t pn;
    assert_int_equal(tern_crypto_unprotect_header(&krx, pkt, 30, 9, &pn_len, &pn), 0);
    assert_int_equal(pn, 42);
    assert_int_equal(tern_crypto_decrypt(&krx, pkt, 10, 30, pn), 4);
    assert_memory_equal(pkt + 10, "ping", 4);
    tern_crypto_keys_free(&ktx);
    tern_crypto_keys_free(&krx);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_handshake(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    pair_init(&p, &o);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    assert_string_equal(tern_tls_alpn(p.c->tls), "hq-interop");
    assert_string_equal(tern_tls_alpn(p.s->tls), "hq-interop");
    /* The client finished first (after sending Finished); nothing is left to send but the client
     * Finished, already delivered. */
    for (int l = 0; l < TERN_LEVEL_COUNT; l++) {
        assert_int_equal(p.c->out_len[l], 0);
        assert_int_equal(p.s->out_len[l], 0);
    }
    /* The ClientHello is at Initial, the server's flight at Initial and Handshake, no 1-RTT
     * handshake data without tickets. */
    assert_true(p.c->sent_total[TERN_LEVEL_INITIAL] > 0);
    assert_true(p.c->sent_total[TERN_LEVEL_HANDSHAKE] > 0);
    assert_true(p.s->sent_total[TERN_LEVEL_INITIAL] > 0);
    assert_true(p.s->sent_total[TERN_LEVEL_HANDSHAKE] > 0);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_1RTT], 0);
    assert_int_equal(p.c->send_calls[TERN_LEVEL_INITIAL], 1);
    /* Later calls with nothing new report completion. */
    assert_int_equal(tern_tls_recv(p.c->tls, TERN_LEVEL_1RTT, NULL, 0, NULL), 1);
    pair_free(&p);
}

static void test_server_alpn_preference(void **state)
{
    static const char *const calpn[] = {"hq-interop", "h3"};
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost", .calpn = calpn, .calpn_n = 2};
    pair_init(&p, &o);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    assert_string_equal(tern_tls_alpn(p.c->tls), "h3");
    assert_string_equal(tern_tls_alpn(p.s->tls), "h3");
    pair_free(&p);
}

static void test_each_aead(void **state)
{
    static const struct {
        const char *prio;
        int aead;
    } cases[] = {
        {"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", TERN_AEAD_AES_128_GCM},
        {"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM", TERN_AEAD_AES_256_GCM},
        {"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305",
         TERN_AEAD_CHACHA20_POLY1305},
    };
    for (size_t i = 0; i < TERN_ARRAY_LEN(cases); i++) {
        /* Forced by the client once, by the server once. */
        for (int by_server = 0; by_server < 2; by_server++) {
            pair p;
            pair_opts o = {.verify = 1, .name = "localhost"};
            if (by_server)
                o.sprio = cases[i].prio;
            else
                o.cprio = cases[i].prio;
            pair_init(&p, &o);
            run(&p);
            assert_success(&p, cases[i].aead);
            pair_free(&p);
        }
    }
}

/* A server that only takes a group the client sent no key share for answers with a
 * HelloRetryRequest; the handshake still completes and transport parameters arrive once. */
static void test_hello_retry(void **state)
{
    pair p;
    pair_opts o = {
        .verify = 1,
        .name = "localhost",
        .cprio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
                 "+GROUP-SECP384R1",
        .sprio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP384R1",
    };
    pair_init(&p, &o);
    run(&p);
    /* NORMAL ranks AES-256-GCM first: the callers' priorities are used as given. */
    assert_success(&p, TERN_AEAD_AES_256_GCM);
    /* Two ClientHellos went out at Initial. */
    assert_int_equal(p.c->send_calls[TERN_LEVEL_INITIAL], 2);
    pair_free(&p);
}

/* Handshake messages cut at every size, down to single bytes. */
static void test_fragmented(void **state)
{
    static const size_t sizes[] = {1, 2, 3, 5, 17, 64, 1000};
    for (size_t i = 0; i < TERN_ARRAY_LEN(sizes); i++) {
        for (int hrr = 0; hrr < 2; hrr++) {
            pair p;
            pair_opts o = {.verify = 1, .name = "localhost", .tickets = 1};
            if (hrr) {
                o.cprio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
                          "+GROUP-SECP384R1";
                o.sprio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP384R1";
            }
            chunk_size = sizes[i];
            pair_init(&p, &o);
            run(&p);
            chunk_size = 0;
            assert_success(&p, hrr ? TERN_AEAD_AES_256_GCM : TERN_AEAD_AES_128_GCM);
            assert_int_equal(p.c->send_calls[TERN_LEVEL_INITIAL], hrr ? 2 : 1);
            pair_free(&p);
        }
    }
}

static void test_ip_name_and_no_verify(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "127.0.0.1"};
    pair_init(&p, &o);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    pair_free(&p);

    pair_opts o6 = {.verify = 1, .name = "::1"};
    pair_init(&p, &o6);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    pair_free(&p);

    /* Without verification, an untrusted certificate and a wrong name are accepted. */
    pair_opts o2 = {.verify = 0, .name = "example.com", .ca = fx.cert2};
    pair_init(&p, &o2);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    pair_free(&p);
}

static void test_tickets_consumed(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost", .tickets = 1};
    pair_init(&p, &o);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    /* The server sent NewSessionTicket at 1-RTT and the client took it without complaint. */
    assert_true(p.s->sent_total[TERN_LEVEL_1RTT] > 0);
    assert_int_equal(p.c->rv, 1);
    assert_int_equal(p.c->alert_calls, 0);
    pair_free(&p);
}

/* The ALPN is known as soon as it is chosen: by the server once it read the ClientHello, by the
 * client once it read the server's flight; before that it is "". */
static void test_alpn_before_done(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    pair_init(&p, &o);
    assert_string_equal(tern_tls_alpn(p.s->tls), "");
    assert_int_equal(tern_tls_start(p.c->tls), 0);
    assert_string_equal(tern_tls_alpn(p.c->tls), "");
    deliver(p.c, p.s);
    assert_false(tern_tls_is_done(p.s->tls));
    assert_string_equal(tern_tls_alpn(p.s->tls), "hq-interop");
    deliver(p.s, p.c);
    assert_string_equal(tern_tls_alpn(p.c->tls), "hq-interop");
    deliver(p.c, p.s);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    assert_string_equal(tern_tls_alpn(p.s->tls), "hq-interop");
    assert_string_equal(tern_tls_alpn(NULL), "");
    pair_free(&p);
}

/* Tickets turned off again: the server sends nothing at 1-RTT. */
static void test_tickets_turned_off(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost", .tickets = 2};
    pair_init(&p, &o);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_1RTT], 0);
    pair_free(&p);
}

static void test_alpn_mismatch(void **state)
{
    static const char *const salpn[] = {"h3"};
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost", .salpn = salpn, .salpn_n = 1};
    pair_init(&p, &o);
    run(&p);
    assert_int_equal(p.s->rv, TERN_ERR_TLS);
    assert_int_equal(p.s->alert, 120);
    assert_int_equal(p.s->alert_calls, 1);
    assert_false(tern_tls_is_done(p.s->tls));
    /* The server sent nothing back. */
    assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);
    /* Sticky. */
    uint8_t alert = 0;
    assert_int_equal(tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, (const uint8_t *)"x", 1, &alert),
                     TERN_ERR_TLS);
    assert_int_equal(alert, 120);
    assert_int_equal(p.s->alert_calls, 1);
    pair_free(&p);
}

static void test_wrong_ca(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost", .ca = fx.cert2};
    pair_init(&p, &o);
    run(&p);
    assert_int_equal(p.c->rv, TERN_ERR_TLS);
    assert_int_equal(p.c->alert_calls, 1);
    assert_int_equal(p.c->alert, 42);
    assert_false(tern_tls_is_done(p.c->tls));
    /* The client never sent its Finished. */
    assert_int_equal(p.c->sent_total[TERN_LEVEL_HANDSHAKE], 0);
    assert_int_equal(p.c->tx_len[TERN_LEVEL_1RTT], 0);
    pair_free(&p);
}

static void test_bad_hostname(void **state)
{
    static const char *const names[] = {"example.com", "127.0.0.2", "localhost.evil"};
    for (size_t i = 0; i < TERN_ARRAY_LEN(names); i++) {
        pair p;
        pair_opts o = {.verify = 1, .name = names[i]};
        pair_init(&p, &o);
        run(&p);
        assert_int_equal(p.c->rv, TERN_ERR_TLS);
        assert_int_equal(p.c->alert_calls, 1);
        assert_int_equal(p.c->alert, 42);
        assert_int_equal(p.c->sent_total[TERN_LEVEL_HANDSHAKE], 0);
        pair_free(&p);
    }
}

static void test_garbage(void **state)
{
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);

    /* A server fed junk whose first "header" claims a 9 MB message: refused at once instead of
     * buffered. */
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    pair_init(&p, &o);
    uint8_t alert = 0;
    int rv = tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, junk, 3, &alert);
    assert_int_equal(rv, 0);
    rv = tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, junk + 3, sizeof(junk) - 3, &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(p.s->alert_calls, 1);
    assert_int_equal(alert, p.s->alert);
    assert_int_equal(alert, 50);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);
    pair_free(&p);

    /* Just above and at the limit. */
    static uint8_t big[TERN_TLS_MAX_HANDSHAKE_MSG + 8];
    memset(big, 0x41, sizeof(big));
    big[0] = 1;
    big[1] = (uint8_t)((TERN_TLS_MAX_HANDSHAKE_MSG + 1) >> 16);
    big[2] = (uint8_t)((TERN_TLS_MAX_HANDSHAKE_MSG + 1) >> 8);
    big[3] = (uint8_t)(TERN_TLS_MAX_HANDSHAKE_MSG + 1);
    pair_init(&p, &o);
    assert_int_equal(tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, big, 4, &alert), TERN_ERR_TLS);
    assert_int_equal(alert, 50);
    pair_free(&p);
    big[1] = (uint8_t)(TERN_TLS_MAX_HANDSHAKE_MSG >> 16);
    big[2] = (uint8_t)(TERN_TLS_MAX_HANDSHAKE_MSG >> 8);
    big[3] = (uint8_t)TERN_TLS_MAX_HANDSHAKE_MSG;
    big[4 + 34] = 0; /* no legacy_session_id: the junk reaches GnuTLS */
    pair_init(&p, &o);
    assert_int_equal(tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, big, 1000, &alert), 0);
    /* The whole (junk) ClientHello: parsed and refused. */
    rv = tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, big + 1000,
                       TERN_TLS_MAX_HANDSHAKE_MSG + 4 - 1000, &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(p.s->alert_calls, 1);
    pair_free(&p);

    /* A short, well-framed junk ClientHello. */
    pair_init(&p, &o);
    uint8_t ch[40] = {1, 0, 0, 36};
    memcpy(ch + 4, junk, 36);
    ch[4 + 34] = 0;
    rv = tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, ch, sizeof(ch), &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(p.s->alert_calls, 1);
    assert_int_equal(alert, p.s->alert);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);

    /* A client fed junk instead of a ServerHello. */
    assert_int_equal(tern_tls_start(p.c->tls), 0);
    rv = tern_tls_recv(p.c->tls, TERN_LEVEL_INITIAL, junk, sizeof(junk), &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(p.c->alert_calls, 1);
    assert_int_equal(p.c->alert, 50);
    pair_free(&p);

    /* A handshake message type that is valid but out of place: a ClientHello to a client. */
    pair_init(&p, &o);
    assert_int_equal(tern_tls_start(p.c->tls), 0);
    rv = tern_tls_recv(p.c->tls, TERN_LEVEL_INITIAL, p.c->out[TERN_LEVEL_INITIAL],
                       p.c->out_len[TERN_LEVEL_INITIAL], &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(p.c->alert_calls, 1);
    pair_free(&p);

    /* Junk after a good start: the server's Handshake flight corrupted. */
    /* The last byte is the server Finished's MAC; the first, EncryptedExtensions' type. */
    for (int where = 0; where < 2; where++) {
        pair_init(&p, &o);
        assert_int_equal(tern_tls_start(p.c->tls), 0);
        deliver(p.c, p.s);
        size_t n = p.s->out_len[TERN_LEVEL_HANDSHAKE];
        assert_true(n > 100);
        p.s->out[TERN_LEVEL_HANDSHAKE][where ? n - 1 : 0] ^= 0x55;
        deliver(p.s, p.c);
        assert_int_equal(p.c->rv, TERN_ERR_TLS);
        assert_int_equal(p.c->alert_calls, 1);
        assert_int_equal(p.c->sent_total[TERN_LEVEL_HANDSHAKE], 0);
        /* unexpected_message for a message of the wrong type, decrypt_error for a bad MAC */
        assert_int_equal(p.c->alert, where ? 51 : 10);
        pair_free(&p);
    }

    /* CRYPTO data at 0-RTT is refused, and at 1-RTT before completion. */
    pair_init(&p, &o);
    rv = tern_tls_recv(p.s->tls, TERN_LEVEL_0RTT, junk, 10, &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(alert, 10);
    pair_free(&p);
    pair_init(&p, &o);
    rv = tern_tls_recv(p.s->tls, TERN_LEVEL_1RTT, junk, 10, &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(alert, 10);
    pair_free(&p);

    /* After completion: a stray message at Handshake level, junk at 1-RTT. */
    for (int lvl = 0; lvl < 2; lvl++) {
        pair_init(&p, &o);
        run(&p);
        assert_success(&p, TERN_AEAD_AES_128_GCM);
        uint8_t fin[36] = {20, 0, 0, 32};
        rv = tern_tls_recv(p.c->tls, lvl ? TERN_LEVEL_1RTT : TERN_LEVEL_HANDSHAKE, fin, sizeof(fin),
                           &alert);
        assert_int_equal(rv, TERN_ERR_TLS);
        assert_int_equal(alert, 10);
        assert_int_equal(p.c->alert_calls, 1);
        pair_free(&p);
    }
}

static void test_tparams_callback_error(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    pair_init(&p, &o);
    p.s->tp_error = TERN_ERR_PROTO;
    run(&p);
    assert_int_equal(p.s->rv, TERN_ERR_PROTO);
    assert_int_equal(p.s->alert_calls, 0);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);
    pair_free(&p);

    pair_init(&p, &o);
    p.c->tp_error = TERN_ERR_PROTO;
    run(&p);
    assert_int_equal(p.c->rv, TERN_ERR_PROTO);
    assert_int_equal(p.c->alert_calls, 0);
    assert_int_equal(p.c->sent_total[TERN_LEVEL_HANDSHAKE], 0);
    pair_free(&p);
}

/* ---- a plain GnuTLS peer that omits quic_transport_parameters ------------------------------- */

typedef struct raw {
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred;
    uint8_t out[TERN_LEVEL_COUNT][BUF_CAP];
    size_t out_len[TERN_LEVEL_COUNT];
} raw;

static int raw_secret(gnutls_session_t s, gnutls_record_encryption_level_t l, const void *rx,
                      const void *tx, size_t len)
{
    return 0;
}

static int raw_read(gnutls_session_t s, gnutls_record_encryption_level_t l,
                    gnutls_handshake_description_t htype, const void *data, size_t len)
{
    raw *r = gnutls_session_get_ptr(s);
    if (htype == GNUTLS_HANDSHAKE_CHANGE_CIPHER_SPEC)
        return 0;
    assert_true(r->out_len[l] + len <= BUF_CAP);
    memcpy(r->out[l] + r->out_len[l], data, len);
    r->out_len[l] += len;
    return 0;
}

static int raw_alert(gnutls_session_t s, gnutls_record_encryption_level_t l,
                     gnutls_alert_level_t al, gnutls_alert_description_t d)
{
    return 0;
}

static int raw_tp_recv(gnutls_session_t s, const unsigned char *data, size_t len)
{
    return 0;
}

static int raw_tp_send(gnutls_session_t s, gnutls_buffer_t buf)
{
    return gnutls_buffer_append_data(buf, server_tp, sizeof(server_tp));
}

static raw *raw_new(int server, int with_tp, int with_alpn)
{
    raw *r = calloc(1, sizeof(*r));
    gnutls_datum_t proto = {(unsigned char *)"hq-interop", 10};
    assert_non_null(r);
    assert_int_equal(gnutls_certificate_allocate_credentials(&r->cred), 0);
    if (server)
        assert_int_equal(
            gnutls_certificate_set_x509_key_file(r->cred, fx.cert, fx.key, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(
        gnutls_init(&r->s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA),
        0);
    gnutls_session_set_ptr(r->s, r);
    assert_int_equal(gnutls_priority_set_direct(r->s,
                                                "NORMAL:-VERS-ALL:+VERS-TLS1.3:"
                                                "%DISABLE_TLS13_COMPAT_MODE",
                                                NULL),
                     0);
    assert_int_equal(gnutls_credentials_set(r->s, GNUTLS_CRD_CERTIFICATE, r->cred), 0);
    if (with_alpn)
        assert_int_equal(gnutls_alpn_set_protocols(r->s, &proto, 1, 0), 0);
    if (with_tp)
        assert_int_equal(
            gnutls_session_ext_register(
                r->s, "qtp", 0x39, GNUTLS_EXT_TLS, raw_tp_recv, raw_tp_send, NULL, NULL, NULL,
                GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO | GNUTLS_EXT_FLAG_EE),
            0);
    gnutls_handshake_set_secret_function(r->s, raw_secret);
    gnutls_handshake_set_read_function(r->s, raw_read);
    gnutls_alert_set_read_function(r->s, raw_alert);
    return r;
}

static void raw_free(raw *r)
{
    gnutls_deinit(r->s);
    gnutls_certificate_free_credentials(r->cred);
    free(r);
}

/* Runs our server against a raw client; returns our server's result for the ClientHello. */
static int raw_client_vs_server(pair *p, raw *rc, uint8_t *alert)
{
    assert_int_equal(gnutls_handshake(rc->s), GNUTLS_E_AGAIN);
    assert_true(rc->out_len[GNUTLS_ENCRYPTION_LEVEL_INITIAL] > 0);
    return tern_tls_recv(p->s->tls, TERN_LEVEL_INITIAL, rc->out[GNUTLS_ENCRYPTION_LEVEL_INITIAL],
                         rc->out_len[GNUTLS_ENCRYPTION_LEVEL_INITIAL], alert);
}

/* Runs our client against a raw server; returns our client's result for the server's flight. */
static int client_vs_raw_server(pair *p, raw *rs, uint8_t *alert)
{
    assert_int_equal(tern_tls_start(p->c->tls), 0);
    assert_int_equal(gnutls_handshake_write(rs->s, GNUTLS_ENCRYPTION_LEVEL_INITIAL,
                                            p->c->out[TERN_LEVEL_INITIAL],
                                            p->c->out_len[TERN_LEVEL_INITIAL]),
                     0);
    assert_int_equal(gnutls_handshake(rs->s), GNUTLS_E_AGAIN);
    assert_true(rs->out_len[GNUTLS_ENCRYPTION_LEVEL_INITIAL] > 0);
    assert_true(rs->out_len[GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE] > 0);
    int rv = tern_tls_recv(p->c->tls, TERN_LEVEL_INITIAL, rs->out[GNUTLS_ENCRYPTION_LEVEL_INITIAL],
                           rs->out_len[GNUTLS_ENCRYPTION_LEVEL_INITIAL], alert);
    assert_int_equal(rv, 0);
    return tern_tls_recv(p->c->tls, TERN_LEVEL_HANDSHAKE,
                         rs->out[GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE],
                         rs->out_len[GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE], alert);
}

/* A peer that offers or selects no ALPN at all: no_application_protocol on both sides. */
static void test_peer_without_alpn(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    uint8_t alert = 0;

    pair_init(&p, &o);
    raw *rc = raw_new(0, 1, 0);
    assert_int_equal(raw_client_vs_server(&p, rc, &alert), TERN_ERR_TLS);
    assert_int_equal(alert, 120);
    assert_int_equal(p.s->alert_calls, 1);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);
    raw_free(rc);
    pair_free(&p);

    pair_init(&p, &o);
    raw *rs = raw_new(1, 1, 0);
    assert_int_equal(client_vs_raw_server(&p, rs, &alert), TERN_ERR_TLS);
    assert_int_equal(alert, 120);
    assert_int_equal(p.c->alert_calls, 1);
    assert_int_equal(p.c->sent_total[TERN_LEVEL_HANDSHAKE], 0);
    raw_free(rs);
    pair_free(&p);

    /* The same raw peers with ALPN complete against us: the failures above are ALPN's. */
    pair_init(&p, &o);
    rs = raw_new(1, 1, 1);
    assert_int_equal(client_vs_raw_server(&p, rs, &alert), 1);
    assert_int_equal(p.c->alert_calls, 0);
    assert_int_equal(p.c->peer_tp_len, sizeof(server_tp));
    raw_free(rs);
    pair_free(&p);
}

static void test_missing_tparams(void **state)
{
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    uint8_t alert = 0;

    /* Our server, a client without the extension: refused before a ServerHello goes out. */
    pair_init(&p, &o);
    raw *rc = raw_new(0, 0, 1);
    int rv = raw_client_vs_server(&p, rc, &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(alert, 109);
    assert_int_equal(p.s->alert_calls, 1);
    assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);
    assert_int_equal(p.s->tp_calls, 0);
    raw_free(rc);
    pair_free(&p);

    /* Our client, a server without the extension: refused before the client Finished. */
    pair_init(&p, &o);
    raw *rs = raw_new(1, 0, 1);
    rv = client_vs_raw_server(&p, rs, &alert);
    assert_int_equal(rv, TERN_ERR_TLS);
    assert_int_equal(alert, 109);
    assert_int_equal(p.c->alert_calls, 1);
    assert_int_equal(p.c->sent_total[TERN_LEVEL_HANDSHAKE], 0);
    assert_int_equal(p.c->tx_len[TERN_LEVEL_1RTT], 0);
    raw_free(rs);
    pair_free(&p);
}

static void test_ctx_errors(void **state)
{
    tern_tls_ctx *ctx = NULL;
    static const char *const empty[] = {""};
    assert_int_equal(tern_tls_ctx_new(&ctx, 1, NULL, NULL, NULL, 0, NULL, alpn_hq, 1),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 1, "/nonexistent.crt", "/nonexistent.key", NULL, 0,
                                      NULL, alpn_hq, 1),
                     TERN_ERR_CERT);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, "/nonexistent.pem", 1, NULL, alpn_hq, 1),
                     TERN_ERR_CERT);
    assert_int_equal(
        tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, "NOT-A-PRIORITY", alpn_hq, 1),
        TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, alpn_hq, 0),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, empty, 1),
                     TERN_ERR_CONFIG);
    /* Only CCM suites: nothing QUIC can protect packets with is left. */
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1,
                                      "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-CCM",
                                      alpn_hq, 1),
                     TERN_ERR_CONFIG);
    assert_null(ctx);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, alpn_hq, 1), 0);
    assert_int_equal(tern_tls_ctx_set_tickets(ctx, 1), TERN_ERR_CONFIG);
    tern_tls *t = NULL;
    side s = {0};
    /* A server session on a client context. */
    assert_int_equal(tern_tls_new(&t, ctx, 1, NULL, NULL, 0, &callbacks, &s), TERN_ERR_TLS);
    assert_null(t);
    tern_tls_ctx_free(ctx);
}

/* The ALPN list and key rules of tern_tls_ctx_new at their edges: at most 64 names of 1..255
 * bytes each, none NULL; a server needs both a certificate and a key; an output pointer. */
static void test_ctx_argument_edges(void **state)
{
    tern_tls_ctx *ctx = NULL;
    const char *many[65];
    for (size_t i = 0; i < 65; i++)
        many[i] = "hq-interop";
    char long_name[257];
    memset(long_name, 'a', 256);
    long_name[256] = 0;
    const char *const too_long[] = {long_name};
    const char *const with_null[] = {"hq-interop", NULL};
    assert_int_equal(tern_tls_ctx_new(NULL, 0, NULL, NULL, fx.cert, 1, NULL, alpn_hq, 1),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, NULL, 1),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, many, 65),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, too_long, 1),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, with_null, 2),
                     TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(&ctx, 1, fx.cert, NULL, NULL, 0, NULL, alpn_hq, 1),
                     TERN_ERR_CONFIG);
    assert_null(ctx);
    /* the bounds themselves are accepted */
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, many, 64), 0);
    tern_tls_ctx_free(ctx);
    long_name[255] = 0;
    assert_int_equal(tern_tls_ctx_new(&ctx, 0, NULL, NULL, fx.cert, 1, NULL, too_long, 1), 0);
    tern_tls_ctx_free(ctx);
    assert_int_equal(tern_tls_ctx_set_tickets(NULL, 1), TERN_ERR_CONFIG);
}

/* Offset of the first extension of the ClientHello at ch[0..len) (handshake header included), and
 * the end of the extensions; asserts the layout. */
static size_t ch_extensions(const uint8_t *ch, size_t len, size_t *end)
{
    assert_true(len > 4 + 2 + 32 + 1);
    assert_int_equal(ch[0], 1);
    size_t o = 4 + 2 + 32;
    o += 1 + ch[o];                              /* legacy_session_id */
    o += 2 + ((size_t)ch[o] << 8 | ch[o + 1]); /* cipher_suites */
    o += 1 + ch[o];                              /* legacy_compression_methods */
    size_t elen = (size_t)ch[o] << 8 | ch[o + 1];
    o += 2;
    assert_true(o + elen <= len);
    *end = o + elen;
    return o;
}

/* RFC 9001 §4.2: whatever the priority string, only TLS 1.3 is offered. */
static void test_user_priority_tls13_only(void **state)
{
    static const char *const prios[] = {"NORMAL", "NORMAL:+VERS-TLS1.2:+VERS-TLS1.1",
                                        "SECURE128:+VERS-TLS-ALL"};
    for (size_t i = 0; i < TERN_ARRAY_LEN(prios); i++) {
        pair p;
        pair_opts o = {.verify = 1, .name = "localhost", .cprio = prios[i], .sprio = prios[i]};
        pair_init(&p, &o);
        assert_int_equal(tern_tls_start(p.c->tls), 0);
        const uint8_t *ch = p.c->out[TERN_LEVEL_INITIAL];
        size_t end, off = ch_extensions(ch, p.c->out_len[TERN_LEVEL_INITIAL], &end);
        int found = 0;
        while (off + 4 <= end) {
            unsigned type = (unsigned)ch[off] << 8 | ch[off + 1];
            size_t l = (size_t)ch[off + 2] << 8 | ch[off + 3];
            if (type == 43) { /* supported_versions: a 1-byte length, then 2 bytes each */
                found = 1;
                assert_int_equal(l, 3);
                assert_int_equal(ch[off + 4], 2);
                assert_int_equal(ch[off + 5], 0x03);
                assert_int_equal(ch[off + 6], 0x04);
            }
            off += 4 + l;
        }
        assert_true(found);
        /* and the handshake completes with it */
        pair_free(&p);
        pair_init(&p, &o);
        run(&p);
        assert_success(&p, tern_tls_aead(p.c->tls));
        pair_free(&p);
    }
}

/* RFC 9001 §8.4: a ClientHello with a non-empty legacy_session_id (middlebox compatibility mode)
 * is refused with TERN_ERR_PROTO, which the connection turns into PROTOCOL_VIOLATION. */
static void test_legacy_session_id_refused(void **state)
{
    for (int sid_len = 0; sid_len <= 32; sid_len += 32) {
        pair p;
        pair_opts o = {.verify = 1, .name = "localhost"};
        pair_init(&p, &o);
        assert_int_equal(tern_tls_start(p.c->tls), 0);
        const uint8_t *ch = p.c->out[TERN_LEVEL_INITIAL];
        size_t len = p.c->out_len[TERN_LEVEL_INITIAL];
        assert_int_equal(ch[4 + 2 + 32], 0); /* tern's client never sends one */
        /* the same ClientHello with a session ID inserted */
        uint8_t *m = malloc(len + 32);
        assert_non_null(m);
        size_t sid_off = 4 + 2 + 32;
        memcpy(m, ch, sid_off);
        m[sid_off] = (uint8_t)sid_len;
        memset(m + sid_off + 1, 0xab, (size_t)sid_len);
        memcpy(m + sid_off + 1 + sid_len, ch + sid_off + 1, len - sid_off - 1);
        size_t body = len - 4 + (size_t)sid_len;
        m[1] = (uint8_t)(body >> 16);
        m[2] = (uint8_t)(body >> 8);
        m[3] = (uint8_t)body;
        uint8_t alert = 0;
        /* in small pieces: the check must not depend on where CRYPTO frames split */
        int rv = 0;
        for (size_t off = 0; off < len + (size_t)sid_len && rv >= 0; off += 7)
            rv = tern_tls_recv(p.s->tls, TERN_LEVEL_INITIAL, m + off,
                               TERN_MIN((size_t)7, len + (size_t)sid_len - off), &alert);
        if (sid_len) {
            assert_int_equal(rv, TERN_ERR_PROTO);
            assert_int_equal(p.s->sent_total[TERN_LEVEL_INITIAL], 0);
        } else {
            assert_int_equal(rv, 0);
            assert_true(p.s->sent_total[TERN_LEVEL_INITIAL] > 0);
        }
        free(m);
        pair_free(&p);
    }
}

/* The key log line of `label` on side `s`: its client random and secret, decoded. Returns 0 when
 * the side logged no such line; fails the test when it logged one that is malformed or twice. */
static int keylog_find(const side *s, const char *label, uint8_t crand[32], uint8_t *secret,
                       size_t *secret_len)
{
    int found = 0;
    for (int i = 0; i < s->keylog_n; i++) {
        const char *l = s->keylog[i];
        size_t ll = strlen(label);
        if (strncmp(l, label, ll) != 0 || l[ll] != ' ')
            continue;
        assert_false(found);
        found = 1;
        const char *h = l + ll + 1;
        const char *sp = strchr(h, ' ');
        assert_non_null(sp);
        assert_int_equal(sp - h, 64);
        size_t slen = strlen(sp + 1);
        assert_true(slen % 2 == 0 && slen / 2 <= TERN_MAX_SECRET_LEN);
        for (size_t k = 0; k < 32 + slen / 2; k++) {
            const char *d = k < 32 ? h + 2 * k : sp + 1 + 2 * (k - 32);
            unsigned v;
            assert_true(strspn(d, "0123456789abcdef") >= 2);
            assert_int_equal(sscanf(d, "%2x", &v), 1);
            if (k < 32)
                crand[k] = (uint8_t)v;
            else
                secret[k - 32] = (uint8_t)v;
        }
        *secret_len = slen / 2;
    }
    return found;
}

/* Both sides log, in the NSS key log format, exactly the secrets they installed, under one client
 * random: what a capture needs to be decrypted. With HelloRetryRequest too (the client random
 * stays that of the first ClientHello). */
static void test_keylog(void **state)
{
    static const struct {
        const char *label;
        int level;
        int client_tx; /* the client's tx secret, else its rx one */
    } want[] = {
        {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", TERN_LEVEL_HANDSHAKE, 1},
        {"SERVER_HANDSHAKE_TRAFFIC_SECRET", TERN_LEVEL_HANDSHAKE, 0},
        {"CLIENT_TRAFFIC_SECRET_0", TERN_LEVEL_1RTT, 1},
        {"SERVER_TRAFFIC_SECRET_0", TERN_LEVEL_1RTT, 0},
    };
    for (int hrr = 0; hrr < 2; hrr++) {
        pair p;
        pair_opts o = {.verify = 1, .name = "localhost", .keylog = 1};
        if (hrr) {
            o.cprio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP384R1";
            o.sprio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP384R1";
        }
        pair_init(&p, &o);
        run(&p);
        int aead = hrr ? TERN_AEAD_AES_256_GCM : TERN_AEAD_AES_128_GCM;
        size_t slen = hrr ? 48 : 32;
        assert_success(&p, aead);
        uint8_t crand0[32];
        for (size_t i = 0; i < TERN_ARRAY_LEN(want); i++) {
            for (int srv = 0; srv < 2; srv++) {
                const side *sd = srv ? p.s : p.c;
                uint8_t crand[32], secret[TERN_MAX_SECRET_LEN];
                size_t len = 0;
                assert_true(keylog_find(sd, want[i].label, crand, secret, &len));
                assert_int_equal(len, slen);
                /* the client's tx secret is the server's rx one and so on */
                const uint8_t *installed =
                    (want[i].client_tx != srv) ? sd->tx[want[i].level] : sd->rx[want[i].level];
                assert_memory_equal(secret, installed, slen);
                if (i == 0 && srv == 0)
                    memcpy(crand0, crand, 32);
                assert_memory_equal(crand, crand0, 32);
            }
        }
        /* nothing else but the exporter secret */
        assert_int_equal(p.c->keylog_n, 5);
        assert_int_equal(p.s->keylog_n, 5);
        pair_free(&p);
    }
    /* without a callback nothing is logged through tern */
    pair p;
    pair_opts o = {.verify = 1, .name = "localhost"};
    pair_init(&p, &o);
    run(&p);
    assert_success(&p, TERN_AEAD_AES_128_GCM);
    assert_int_equal(p.c->keylog_n, 0);
    assert_int_equal(p.s->keylog_n, 0);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_server_alpn_preference),
        cmocka_unit_test(test_each_aead),
        cmocka_unit_test(test_hello_retry),
        cmocka_unit_test(test_fragmented),
        cmocka_unit_test(test_ip_name_and_no_verify),
        cmocka_unit_test(test_tickets_consumed),
        cmocka_unit_test(test_tickets_turned_off),
        cmocka_unit_test(test_alpn_before_done),
        cmocka_unit_test(test_ctx_argument_edges),
        cmocka_unit_test(test_alpn_mismatch),
        cmocka_unit_test(test_wrong_ca),
        cmocka_unit_test(test_bad_hostname),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_tparams_callback_error),
        cmocka_unit_test(test_missing_tparams),
        cmocka_unit_test(test_peer_without_alpn),
        cmocka_unit_test(test_ctx_errors),
        cmocka_unit_test(test_user_priority_tls13_only),
        cmocka_unit_test(test_legacy_session_id_refused),
        cmocka_unit_test(test_keylog),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
