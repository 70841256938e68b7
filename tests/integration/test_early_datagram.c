/* Unreliable datagrams in 0-RTT (RFC 9221 §3) between a client and a server core in virtual time:
 * the resumption blob remembers the server's max_datagram_frame_size; a resuming client sends a
 * DATAGRAM frame in 0-RTT that the server application receives, byte for byte, in a 0-RTT packet
 * before its handshake completes; the largest datagram the client is offered in 0-RTT fits a
 * 0-RTT packet; refused 0-RTT reports its datagrams lost and does not send them again; a server
 * that lowered its limit refuses the 0-RTT itself; a client that sees the limit lowered under
 * accepted 0-RTT closes with PROTOCOL_VIOLATION; and a blob that remembers no limit lets no
 * datagram go before the handshake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"
#include "resume.h"

#define SEC 1000000000ull
#define SRV_MAX 1200 /* the server's max_datagram_frame_size on the first connection */
#define MAXREC 8

typedef struct app {
    /* server */
    int srv_recv;
    uint8_t srv_data[MAXREC][1500];
    size_t srv_len[MAXREC];
    int srv_state[MAXREC]; /* tern_conn_state() of the server when each one arrived */
    int srv_0rtt_dgram;    /* qlog: 0-RTT packets received carrying a DATAGRAM frame */
    /* client */
    int connected;
    int early_at_connect;
    int acked, lost;
    uint64_t acked_tag[MAXREC], lost_tag[MAXREC];
    int resend_lost; /* send a lost datagram again (as the application would), with tag + 100 */
    int resend_rv;
} app;

static app A;

static void fill(uint8_t *buf, size_t len, uint64_t tag)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(tag * 31 + i * 7);
}

static void srv_dgram(tern_conn *c, const uint8_t *data, size_t len, void *ud)
{
    app *a = ud;
    if (a->srv_recv < MAXREC) {
        memcpy(a->srv_data[a->srv_recv], data, len);
        a->srv_len[a->srv_recv] = len;
        a->srv_state[a->srv_recv] = tern_conn_state(c);
    }
    a->srv_recv++;
}

static void cli_connected(tern_conn *c, void *ud)
{
    app *a = ud;
    a->connected = 1;
    a->early_at_connect = tern_conn_early_data(c);
}

static void cli_acked(tern_conn *c, uint64_t tag, void *ud)
{
    app *a = ud;
    (void)c;
    if (a->acked < MAXREC)
        a->acked_tag[a->acked] = tag;
    a->acked++;
}

static void cli_lost(tern_conn *c, uint64_t tag, void *ud)
{
    app *a = ud;
    if (a->lost < MAXREC)
        a->lost_tag[a->lost] = tag;
    a->lost++;
    if (a->resend_lost && tag < 100) {
        uint8_t buf[100];
        fill(buf, sizeof(buf), tag + 100);
        a->resend_rv = tern_conn_send_datagram(c, buf, sizeof(buf), tag + 100);
    }
}

static const tern_callbacks srv_cb = {.on_datagram = srv_dgram};
static const tern_callbacks cli_cb = {
    .on_connected = cli_connected,
    .on_datagram_acked = cli_acked,
    .on_datagram_lost = cli_lost,
};

static void srv_qlog(void *ud, struct tern_conn *c, const char *rec, size_t len)
{
    app *a = ud;
    (void)c;
    (void)len;
    if (strstr(rec, "quic:packet_received") && strstr(rec, "\"packet_type\":\"0RTT\"") &&
        strstr(rec, "\"frame_type\":\"datagram\""))
        a->srv_0rtt_dgram++;
}

/* A first connection to a server that issues tickets, takes 0-RTT and DATAGRAM frames of up to
 * SRV_MAX bytes: its TLS context (the caller frees it) and the last blob. */
static tern_tls_ctx *first_connection(uint8_t *blob, size_t *blob_len)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 41), 0);
    assert_int_equal(tern_tls_ctx_set_tickets(p.tls_s, 1), 0);
    assert_int_equal(tern_tls_ctx_set_early_data(p.tls_s, 1, 0), 0);
    p.cfg_s.max_datagram_frame_size = SRV_MAX;
    tern_tls_ctx *ctx = pair_first_ticket(&p, blob, 20000, blob_len, NULL);
    assert_non_null(ctx);
    return ctx;
}

/* A pair whose server uses `ctx` (taking DATAGRAM frames up to `srv_max`) and whose client
 * resumes `blob` with 0-RTT; the client connection exists and 0-RTT is pending. */
static void resumed_pair(tern_pair *p, uint64_t seed, tern_tls_ctx *ctx, const uint8_t *blob,
                         size_t len, uint64_t srv_max)
{
    memset(&A, 0, sizeof(A));
    assert_int_equal(pair_init(p, seed), 0);
    tern_tls_ctx_free(p->tls_s);
    p->tls_s = ctx;
    p->session = blob;
    p->session_len = len;
    p->early_data = 1;
    p->cfg_s.max_datagram_frame_size = srv_max;
    p->cfg_s.qlog = srv_qlog;
    p->cfg_s.qlog_ud = &A;
    p->server_cb = &srv_cb;
    p->server_ud = &A;
    p->client_cb = &cli_cb;
    p->client_ud = &A;
    assert_int_equal(pair_start(p), 0);
    assert_int_equal(tern_conn_early_data(p->client), TERN_EARLY_DATA_PENDING);
}

static void release_pair(tern_pair *p)
{
    p->tls_s = NULL;
    pair_free(p);
}

static int cond_connected(tern_pair *p)
{
    (void)p;
    return A.connected;
}

/* The client is connected and every datagram it sent has its outcome. */
static int cond_outcomes(tern_pair *p)
{
    tern_conn_stats st;
    if (!A.connected || tern_conn_get_stats(p->client, &st))
        return 0;
    return st.datagrams_sent > 0 && (uint64_t)(A.acked + A.lost) == st.datagrams_sent;
}

/* ... and the resend of a lost one too. */
static int cond_resend_settled(tern_pair *p)
{
    return A.lost > 0 && A.acked > 0 && cond_outcomes(p);
}

static uint8_t blob[20000];

/* The blob remembers the server's limit; a datagram written before the first packet leaves goes
 * in 0-RTT, reaches the server application intact while its handshake still runs, and is
 * acknowledged. The largest one the client is offered before the handshake is exactly what a
 * 0-RTT packet holds: it goes in 0-RTT too, and one byte more is refused as too large. */
static void test_datagram_in_0rtt(void **st)
{
    (void)st;
    size_t len;
    tern_tls_ctx *ctx = first_connection(blob, &len);
    tern_resume r;
    assert_int_equal(tern_resume_decode(&r, blob, len), 0);
    assert_int_equal(r.max_datagram_frame_size, SRV_MAX);

    tern_pair p;
    resumed_pair(&p, 42, ctx, blob, len, SRV_MAX);
    uint8_t small[100], big[1500];
    fill(small, sizeof(small), 1);
    assert_int_equal(tern_conn_send_datagram(p.client, small, sizeof(small), 1), 0);
    size_t max0 = tern_conn_datagram_max_size(p.client);
    assert_true(max0 > 1000 && max0 < SRV_MAX);
    fill(big, max0 + 1, 2);
    assert_int_equal(tern_conn_send_datagram(p.client, big, max0 + 1, 2),
                     TERN_ERR_DATAGRAM_TOO_LARGE);
    assert_int_equal(tern_conn_send_datagram(p.client, big, max0, 2), 0);
    assert_true(pair_run(&p, cond_outcomes, 5 * SEC));
    /* both arrived before the server completed its handshake, in 0-RTT packets */
    assert_int_equal(A.srv_recv, 2);
    assert_int_equal(A.srv_len[0], sizeof(small));
    assert_memory_equal(A.srv_data[0], small, sizeof(small));
    assert_int_equal(A.srv_len[1], max0);
    assert_memory_equal(A.srv_data[1], big, max0);
    assert_int_equal(A.srv_state[0], TERN_CORE_HANDSHAKE);
    assert_int_equal(A.srv_state[1], TERN_CORE_HANDSHAKE);
    assert_int_equal(A.srv_0rtt_dgram, 2);
    /* accepted, and each acknowledged once */
    assert_int_equal(A.early_at_connect, TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(A.acked, 2);
    assert_int_equal(A.lost, 0);
    /* after the handshake the short header leaves more room */
    assert_true(tern_conn_datagram_max_size(p.client) > max0);
    assert_false(p.client_closed);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* A server that no longer takes early data resumes the session and drops the 0-RTT packets: the
 * client reports the datagram lost once the handshake tells it so, never sends it again by
 * itself, and the application's own resend (from on_datagram_lost) arrives in 1-RTT. */
static void test_datagram_0rtt_rejected(void **st)
{
    (void)st;
    size_t len;
    tern_tls_ctx *ctx = first_connection(blob, &len);
    assert_int_equal(tern_tls_ctx_set_early_data(ctx, 0, 0), 0);
    tern_pair p;
    resumed_pair(&p, 43, ctx, blob, len, SRV_MAX);
    A.resend_lost = 1;
    uint8_t buf[100];
    fill(buf, sizeof(buf), 1);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1), 0);
    assert_true(pair_run(&p, cond_resend_settled, 5 * SEC));
    assert_int_equal(A.early_at_connect, TERN_EARLY_DATA_REJECTED);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_NONE);
    assert_int_equal(tern_conn_resumed(p.client), 1);
    assert_int_equal(A.lost, 1);
    assert_int_equal(A.lost_tag[0], 1);
    assert_int_equal(A.resend_rv, 0);
    assert_int_equal(A.acked, 1);
    assert_int_equal(A.acked_tag[0], 101);
    /* the server got only the resend, after its handshake */
    assert_int_equal(A.srv_recv, 1);
    fill(buf, sizeof(buf), 101);
    assert_memory_equal(A.srv_data[0], buf, sizeof(buf));
    assert_int_equal(A.srv_state[0], TERN_CORE_ESTABLISHED);
    assert_int_equal(A.srv_0rtt_dgram, 0);
    tern_conn_stats cs;
    assert_int_equal(tern_conn_get_stats(p.client, &cs), 0);
    assert_int_equal(cs.datagrams_sent, 2);
    assert_int_equal(cs.datagrams_lost, 1);
    assert_false(p.client_closed);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* A server taking early data whose max_datagram_frame_size is now below what its ticket was
 * issued under refuses the 0-RTT itself (RFC 9221 §3: accepting it, it must not reduce the
 * limit); the client's 0-RTT datagram is reported lost and the connection carries on. */
static void test_server_lowered_limit_refuses_0rtt(void **st)
{
    (void)st;
    size_t len;
    tern_tls_ctx *ctx = first_connection(blob, &len);
    tern_pair p;
    resumed_pair(&p, 44, ctx, blob, len, SRV_MAX / 2);
    uint8_t buf[100];
    fill(buf, sizeof(buf), 1);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1), 0);
    assert_true(pair_run(&p, cond_outcomes, 5 * SEC));
    assert_int_equal(A.early_at_connect, TERN_EARLY_DATA_REJECTED);
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_NONE);
    assert_int_equal(A.lost, 1);
    assert_int_equal(A.acked, 0);
    assert_int_equal(A.srv_recv, 0);
    assert_false(p.client_closed);
    /* the server's new limit applies from now on */
    assert_true(tern_conn_datagram_max_size(p.client) < SRV_MAX / 2);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* A blob remembering a larger limit than the server gave (the server accepts the 0-RTT, its
 * ticket key remembering what it issued): the client, seeing the accepted 0-RTT's parameters
 * lower than remembered, closes with PROTOCOL_VIOLATION (RFC 9221 §3). */
static void test_client_refuses_lowered_limit(void **st)
{
    (void)st;
    size_t len;
    tern_tls_ctx *ctx = first_connection(blob, &len);
    tern_resume r;
    assert_int_equal(tern_resume_decode(&r, blob, len), 0);
    r.max_datagram_frame_size = 2 * SRV_MAX;
    static uint8_t bumped[20000];
    size_t blen = tern_resume_encode(&r, bumped, sizeof(bumped));
    assert_true(blen == len); /* a two-byte varint either way */
    tern_pair p;
    resumed_pair(&p, 45, ctx, bumped, blen, SRV_MAX);
    uint8_t buf[100];
    fill(buf, sizeof(buf), 1);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1), 0);
    assert_true(pair_run(&p, pair_cond_client_closing, 5 * SEC));
    assert_int_equal(tern_conn_early_data(p.server), TERN_EARLY_DATA_ACCEPTED);
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->local, 1);
    assert_non_null(strstr(ci->reason, "lower limits than remembered"));
    assert_int_equal(A.connected, 0);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

/* A blob without max_datagram_frame_size (as written before it was remembered, or from a server
 * that took no datagrams) still resumes with 0-RTT, stream data included; no datagram may go
 * before the server's parameters say it can, and once connected they flow. */
static void test_blob_without_limit(void **st)
{
    (void)st;
    size_t len;
    tern_tls_ctx *ctx = first_connection(blob, &len);
    tern_resume r;
    assert_int_equal(tern_resume_decode(&r, blob, len), 0);
    r.max_datagram_frame_size = 0;
    static uint8_t old[20000];
    size_t olen = tern_resume_encode(&r, old, sizeof(old));
    assert_true(olen > 0 && olen < len); /* the parameter is left out */
    tern_pair p;
    resumed_pair(&p, 46, ctx, old, olen, SRV_MAX);
    uint8_t buf[100];
    fill(buf, sizeof(buf), 1);
    assert_int_equal(tern_conn_datagram_max_size(p.client), 0);
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1),
                     TERN_ERR_DATAGRAM_UNSUPPORTED);
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(p.client, 1, &sid), 0);
    assert_int_equal(tern_stream_write(p.client, sid, buf, sizeof(buf), 1), (ssize_t)sizeof(buf));
    assert_true(pair_run(&p, cond_connected, 5 * SEC));
    assert_int_equal(A.early_at_connect, TERN_EARLY_DATA_ACCEPTED);
    assert_int_equal(tern_conn_early_bytes(p.client), sizeof(buf));
    assert_int_equal(tern_conn_send_datagram(p.client, buf, sizeof(buf), 1), 0);
    assert_true(pair_run(&p, cond_outcomes, 5 * SEC));
    assert_int_equal(A.acked, 1);
    assert_int_equal(A.srv_recv, 1);
    assert_int_equal(A.srv_0rtt_dgram, 0);
    release_pair(&p);
    tern_tls_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datagram_in_0rtt),
        cmocka_unit_test(test_datagram_0rtt_rejected),
        cmocka_unit_test(test_server_lowered_limit_refuses_0rtt),
        cmocka_unit_test(test_client_refuses_lowered_limit),
        cmocka_unit_test(test_blob_without_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
