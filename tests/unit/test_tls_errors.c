/* Failure paths of tls_gnutls.c around the handshake: each allocation GnuTLS makes while a session
 * is set up fails in turn (TERN_ERR_NOMEM, no session); a callback that fails stops the handshake
 * with its own error and no alert, and the session stays failed; calls outside the contract
 * (a server asked to start, bad transport parameters, no session) are refused with their codes. */
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
#include "crypto.h"
#include "testcert.h"
#include "tls.h"

static char cert[512], key[512], dir[] = "/tmp/tern-tlserr-XXXXXX";
static tern_tls_ctx *cctx, *sctx;
static const void *main_base;
static const char *alpn[] = {"hq-interop"};

/* Allocations of tern and of GnuTLS itself may fail (not those of the libraries under GnuTLS:
 * libtasn1 crashes); no public key arithmetic runs while a session is created. */
static int eligible(void *caller)
{
    Dl_info info;
    if (!dladdr(caller, &info))
        return 0;
    return info.dli_fbase == main_base || (info.dli_fname && strstr(info.dli_fname, "libgnutls"));
}

static int setup(void **st)
{
    Dl_info info;
    if (!dladdr((void *)setup, &info) || !mkdtemp(dir))
        return -1;
    main_base = info.dli_fbase;
    if (tern_test_make_cert(dir, cert, sizeof(cert), key, sizeof(key)))
        return -1;
    if (tern_tls_ctx_new(&cctx, 0, NULL, NULL, cert, 1, NULL, alpn, 1) ||
        tern_tls_ctx_new(&sctx, 1, cert, key, NULL, 0, NULL, alpn, 1))
        return -1;
    return tern_tls_ctx_set_tickets(sctx, 1);
}

static int teardown(void **st)
{
    tern_tls_ctx_free(cctx);
    tern_tls_ctx_free(sctx);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    return 0;
}

typedef struct side {
    uint8_t out[TERN_LEVEL_COUNT][16384];
    size_t out_len[TERN_LEVEL_COUNT];
    int fail_secret, fail_send; /* the error the callback returns (0: none) */
    int secrets, alerts;
} side;

static int on_secret(void *ud, int level, int aead, const uint8_t *rx, const uint8_t *tx,
                     size_t len)
{
    side *s = ud;
    s->secrets++;
    return s->fail_secret;
}

static int on_send(void *ud, int level, const uint8_t *data, size_t len)
{
    side *s = ud;
    if (s->fail_send)
        return s->fail_send;
    assert_true(s->out_len[level] + len <= sizeof(s->out[level]));
    memcpy(s->out[level] + s->out_len[level], data, len);
    s->out_len[level] += len;
    return 0;
}

static void on_alert(void *ud, int level, uint8_t alert)
{
    side *s = ud;
    s->alerts++;
}

static int on_tparams(void *ud, const uint8_t *data, size_t len) { return 0; }

static const tern_tls_cb cb = {on_secret, on_send, on_alert, on_tparams};
static const uint8_t tp[12] = {0x04, 0x04, 0x80, 0x10, 0x00, 0x00, 0x01, 0x02, 0x43, 0xe8};

/* Each allocation of session creation (tern's and GnuTLS's) fails in turn: TERN_ERR_NOMEM and no
 * session; then the session is made and a client one produces its ClientHello. */
static void test_session_oom(void **st)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    allochook_filter = eligible;
    for (int server = 0; server <= 1; server++) {
        int failures = 0, ok = 0;
        for (long n = 0; n < 2000 && !ok; n++) {
            tern_tls *t = (tern_tls *)&failures; /* must be reset to NULL on failure */
            side s = {0};
            allochook_fail_after = n;
            int rv = tern_tls_new(&t, server ? sctx : cctx, server, server ? NULL : "localhost",
                                  tp, sizeof(tp), &cb, &s);
            int hit = allochook_fail_after < 0;
            allochook_fail_after = -1;
            if (rv == 0) {
                ok = !hit;
                if (!server && !hit) {
                    assert_int_equal(tern_tls_start(t), 0);
                    assert_true(s.out_len[TERN_LEVEL_INITIAL] > 100);
                } else if (!server) {
                    /* GnuTLS went on without what it could not allocate: the hello may fail */
                    rv = tern_tls_start(t);
                    assert_true(rv == 0 || rv == TERN_ERR_TLS);
                }
                tern_tls_free(t);
            } else {
                if (rv != TERN_ERR_NOMEM)
                    fail_msg("allocation %ld: tern_tls_new returned %d", n, rv);
                assert_null(t);
                failures++;
            }
        }
        assert_true(ok);
        assert_true(failures > 5); /* the session, the parameters, GnuTLS's own */
    }
    allochook_filter = NULL;
}

/* A callback's error stops the handshake: returned as is, no alert, and the session stays failed
 * with the same error. */
static void test_callback_errors(void **st)
{
    tern_tls *c, *s;
    side cs = {0}, ss = {0};

    /* the client cannot send its ClientHello */
    cs.fail_send = TERN_ERR_NOMEM;
    assert_int_equal(tern_tls_new(&c, cctx, 0, "localhost", tp, sizeof(tp), &cb, &cs), 0);
    assert_int_equal(tern_tls_start(c), TERN_ERR_NOMEM);
    assert_int_equal(tern_tls_start(c), TERN_ERR_NOMEM); /* failed for good */
    assert_int_equal(tern_tls_recv(c, TERN_LEVEL_INITIAL, NULL, 0, NULL), TERN_ERR_NOMEM);
    assert_int_equal(cs.alerts, 0);
    assert_int_equal(tern_tls_is_done(c), 0);
    assert_string_equal(tern_tls_alpn(c), "");
    tern_tls_free(c);

    /* the server cannot install its Handshake keys */
    memset(&cs, 0, sizeof(cs));
    assert_int_equal(tern_tls_new(&c, cctx, 0, "localhost", tp, sizeof(tp), &cb, &cs), 0);
    assert_int_equal(tern_tls_start(c), 0);
    ss.fail_secret = TERN_ERR_CRYPTO;
    assert_int_equal(tern_tls_new(&s, sctx, 1, NULL, tp, sizeof(tp), &cb, &ss), 0);
    assert_int_equal(tern_tls_recv(s, TERN_LEVEL_INITIAL, cs.out[TERN_LEVEL_INITIAL],
                                   cs.out_len[TERN_LEVEL_INITIAL], NULL),
                     TERN_ERR_CRYPTO);
    assert_int_equal(ss.secrets, 1);
    assert_int_equal(ss.alerts, 0);
    assert_int_equal(tern_tls_recv(s, TERN_LEVEL_INITIAL, NULL, 0, NULL), TERN_ERR_CRYPTO);
    tern_tls_free(s);

    /* the server cannot send its flight */
    memset(&ss, 0, sizeof(ss));
    ss.fail_send = TERN_ERR_IO;
    assert_int_equal(tern_tls_new(&s, sctx, 1, NULL, tp, sizeof(tp), &cb, &ss), 0);
    assert_int_equal(tern_tls_recv(s, TERN_LEVEL_INITIAL, cs.out[TERN_LEVEL_INITIAL],
                                   cs.out_len[TERN_LEVEL_INITIAL], NULL),
                     TERN_ERR_IO);
    assert_int_equal(ss.alerts, 0);
    tern_tls_free(s);

    /* a good server: its flight comes back, and the client cannot install the keys it brings */
    memset(&ss, 0, sizeof(ss));
    assert_int_equal(tern_tls_new(&s, sctx, 1, NULL, tp, sizeof(tp), &cb, &ss), 0);
    assert_int_equal(tern_tls_recv(s, TERN_LEVEL_INITIAL, cs.out[TERN_LEVEL_INITIAL],
                                   cs.out_len[TERN_LEVEL_INITIAL], NULL),
                     0);
    assert_true(ss.out_len[TERN_LEVEL_INITIAL] > 0 && ss.out_len[TERN_LEVEL_HANDSHAKE] > 0);
    cs.fail_secret = TERN_ERR_CRYPTO;
    assert_int_equal(tern_tls_recv(c, TERN_LEVEL_INITIAL, ss.out[TERN_LEVEL_INITIAL],
                                   ss.out_len[TERN_LEVEL_INITIAL], NULL),
                     TERN_ERR_CRYPTO);
    assert_int_equal(cs.alerts, 0);
    assert_int_equal(tern_tls_recv(c, TERN_LEVEL_HANDSHAKE, ss.out[TERN_LEVEL_HANDSHAKE],
                                   ss.out_len[TERN_LEVEL_HANDSHAKE], NULL),
                     TERN_ERR_CRYPTO);
    tern_tls_free(c);
    tern_tls_free(s);
}

/* Calls outside the contract. */
static void test_refusals(void **st)
{
    tern_tls *t = NULL;
    side s = {0};
    uint8_t big[4097] = {0};

    assert_int_equal(tern_tls_new(NULL, cctx, 0, NULL, tp, sizeof(tp), &cb, &s), TERN_ERR_TLS);
    assert_int_equal(tern_tls_new(&t, NULL, 0, NULL, tp, sizeof(tp), &cb, &s), TERN_ERR_TLS);
    assert_null(t);
    assert_int_equal(tern_tls_new(&t, cctx, 1, NULL, tp, sizeof(tp), &cb, &s), TERN_ERR_TLS);
    assert_int_equal(tern_tls_new(&t, sctx, 0, NULL, tp, sizeof(tp), &cb, &s), TERN_ERR_TLS);
    assert_int_equal(tern_tls_new(&t, cctx, 0, NULL, big, sizeof(big), &cb, &s), TERN_ERR_TLS);
    assert_int_equal(tern_tls_new(&t, cctx, 0, NULL, NULL, 4, &cb, &s), TERN_ERR_TLS);
    assert_null(t);

    /* without callbacks nothing is reported, and the handshake still runs */
    assert_int_equal(tern_tls_new(&t, cctx, 0, "127.0.0.1", NULL, 0, NULL, NULL), 0);
    assert_int_equal(tern_tls_set_tparams(t, big, sizeof(big)), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_tls_set_tparams(t, NULL, 3), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_tls_set_tparams(NULL, tp, sizeof(tp)), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_tls_set_tparams(t, NULL, 0), 0);
    assert_int_equal(tern_tls_start(t), 0);
    tern_tls_free(t);

    /* a server does not start */
    assert_int_equal(tern_tls_new(&t, sctx, 1, NULL, tp, sizeof(tp), &cb, &s), 0);
    assert_int_equal(tern_tls_start(t), TERN_ERR_TLS);
    assert_int_equal(tern_tls_aead(t), TERN_AEAD_NONE);
    tern_tls_free(t);

    /* no session at all */
    assert_int_equal(tern_tls_start(NULL), TERN_ERR_TLS);
    assert_int_equal(tern_tls_recv(NULL, TERN_LEVEL_INITIAL, tp, 1, NULL), TERN_ERR_TLS);
    assert_string_equal(tern_tls_alpn(NULL), "");
    assert_int_equal(tern_tls_aead(NULL), TERN_AEAD_NONE);
    assert_int_equal(tern_tls_is_done(NULL), 0);
    tern_tls_free(NULL);

    /* tickets are a server's, and need a context */
    assert_int_equal(tern_tls_ctx_set_tickets(cctx, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_set_tickets(NULL, 1), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_new(NULL, 0, NULL, NULL, NULL, 0, NULL, alpn, 1),
                     TERN_ERR_CONFIG);
}

/* The context's verbs outside their contract, and their allocation failures: ticket keys rotate on
 * a server with tickets only, and a tick rotates once its period has passed, not before (seen by
 * the allocation a rotation makes failing); early data needs a server and room for ClientHellos;
 * a resumption needs session data; early-data limits are a server session's. */
static void test_ctx_refusals(void **st)
{
    tern_tls_ctx *plain = NULL;
    assert_int_equal(tern_tls_ctx_new(&plain, 1, cert, key, NULL, 0, NULL, alpn, 1), 0);
    assert_int_equal(tern_tls_ctx_rotate_ticket_key(NULL), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_rotate_ticket_key(cctx), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_rotate_ticket_key(plain), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_rotate_ticket_key(sctx), 0);
    tern_tls_ctx_set_ticket_rotation(NULL, 1000); /* no context: nothing to set */
    if (ALLOCHOOK_ACTIVE) {
        /* a rotation allocates its new key: an armed failure left unused means none ran */
        allochook_fail_next = 1;
        assert_int_equal(tern_tls_ctx_tick(NULL, 1), 0);
        assert_int_equal(tern_tls_ctx_tick(cctx, 1), 0);
        assert_int_equal(tern_tls_ctx_tick(plain, 1), 0);
        assert_int_equal(tern_tls_ctx_tick(sctx, 1), 0); /* no period set */
        tern_tls_ctx_set_ticket_rotation(sctx, 1000);
        assert_int_equal(tern_tls_ctx_tick(sctx, 5000), 0); /* the period starts */
        assert_int_equal(tern_tls_ctx_tick(sctx, 5999), 0);
        assert_int_equal(allochook_fail_next, 1);
        assert_int_equal(tern_tls_ctx_tick(sctx, 6000), TERN_ERR_NOMEM);
        assert_int_equal(allochook_fail_next, 0);
        assert_int_equal(tern_tls_ctx_tick(sctx, 6001), 0); /* tried again, and done */
        allochook_fail_next = 1;
        assert_int_equal(tern_tls_ctx_tick(sctx, 6500), 0); /* the next period runs from 6001 */
        assert_int_equal(allochook_fail_next, 1);
        allochook_fail_next = 0;
        tern_tls_ctx_set_ticket_rotation(sctx, 0);
        allochook_fail_next = 1;
        assert_int_equal(tern_tls_ctx_rotate_ticket_key(sctx), TERN_ERR_NOMEM);
        allochook_fail_next = 0;
    }

    assert_int_equal(tern_tls_ctx_set_early_data(NULL, 1, 0), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_set_early_data(cctx, 1, 0), TERN_ERR_CONFIG);
    assert_int_equal(tern_tls_ctx_set_early_data_slots(plain, 1, 0, 0), TERN_ERR_CONFIG);
    if (ALLOCHOOK_ACTIVE) {
        allochook_filter = eligible;
        allochook_fail_after = 0; /* the ClientHello store */
        assert_int_equal(tern_tls_ctx_set_early_data(plain, 1, 0), TERN_ERR_NOMEM);
        allochook_fail_after = 1; /* GnuTLS's anti-replay context */
        assert_int_equal(tern_tls_ctx_set_early_data(plain, 1, 0), TERN_ERR_NOMEM);
        allochook_fail_after = -1;
        allochook_filter = NULL;
    }
    assert_int_equal(tern_tls_ctx_set_early_data(plain, 1, 500), 0);
    assert_int_equal(tern_tls_ctx_set_early_data(plain, 1, 0), 0); /* already on */
    assert_int_equal(tern_tls_ctx_set_early_data(plain, 0, 0), 0);

    tern_tls *t = (tern_tls *)&plain;
    side s = {0};
    uint8_t blob[8] = {1};
    assert_int_equal(tern_tls_new_resumed(&t, cctx, "localhost", tp, sizeof(tp), &cb, &s, NULL, 8, 0),
                     TERN_ERR_SESSION);
    assert_null(t);
    assert_int_equal(tern_tls_new_resumed(NULL, cctx, "localhost", tp, sizeof(tp), &cb, &s, blob, 0,
                                          0),
                     TERN_ERR_SESSION);

    uint64_t lim[2] = {1, 2}, big[TERN_TLS_EARLY_LIMITS + 1] = {0};
    assert_int_equal(tern_tls_set_early_limits(NULL, lim, 2), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_tls_new(&t, cctx, 0, "localhost", tp, sizeof(tp), &cb, &s), 0);
    assert_int_equal(tern_tls_set_early_limits(t, lim, 2), TERN_ERR_INVALID_ARG); /* a client */
    assert_int_equal(tern_tls_resumed(t), 0);
    assert_int_equal(tern_tls_early_accepted(t), 0);
    tern_tls_free(t);
    assert_int_equal(tern_tls_new(&t, sctx, 1, NULL, tp, sizeof(tp), &cb, &s), 0);
    assert_int_equal(tern_tls_set_early_limits(t, big, TERN_TLS_EARLY_LIMITS + 1),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_tls_set_early_limits(t, NULL, 2), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_tls_set_early_limits(t, NULL, 0), 0);
    assert_int_equal(tern_tls_set_early_limits(t, lim, 2), 0);
    assert_int_equal(tern_tls_early_accepted(t), 0); /* not done */
    tern_tls_free(t);
    assert_int_equal(tern_tls_resumed(NULL), 0);
    assert_int_equal(tern_tls_early_accepted(NULL), 0);
    tern_tls_ctx_free(plain);
}

/* A server session without callbacks still runs its handshake (it reads the ClientHello and picks
 * the cipher, with nobody told its keys or the client's parameters), and a broken ClientHello
 * still fails it with an alert the caller gets back. */
static void test_server_without_callbacks(void **st)
{
    tern_tls *c, *s;
    side cs = {0};
    assert_int_equal(tern_tls_new(&c, cctx, 0, "localhost", tp, sizeof(tp), &cb, &cs), 0);
    assert_int_equal(tern_tls_start(c), 0);
    assert_int_equal(tern_tls_new(&s, sctx, 1, NULL, tp, sizeof(tp), NULL, NULL), 0);
    assert_int_equal(tern_tls_aead(s), TERN_AEAD_NONE);
    assert_int_equal(tern_tls_recv(s, TERN_LEVEL_INITIAL, cs.out[TERN_LEVEL_INITIAL],
                                   cs.out_len[TERN_LEVEL_INITIAL], NULL),
                     0);
    assert_int_not_equal(tern_tls_aead(s), TERN_AEAD_NONE);
    tern_tls_free(s);

    const uint8_t bad[8] = {0x7f, 0, 0, 4, 1, 2, 3, 4}; /* no handshake message of that type */
    uint8_t alert = 0;
    assert_int_equal(tern_tls_new(&s, sctx, 1, NULL, tp, sizeof(tp), NULL, NULL), 0);
    assert_int_equal(tern_tls_recv(s, TERN_LEVEL_INITIAL, bad, sizeof(bad), &alert), TERN_ERR_TLS);
    assert_int_not_equal(alert, 0);
    tern_tls_free(s);
    tern_tls_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_oom),
        cmocka_unit_test(test_callback_errors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_server_without_callbacks),
        cmocka_unit_test(test_ctx_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
