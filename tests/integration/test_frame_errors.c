/* Error paths of frame handling, each checked on the wire: after a real handshake between two
 * cores, one side receives a packet protected with the real keys that carries a frame it must
 * reject; it must close with the transport error RFC 9000 names (and the offending frame type),
 * and the CONNECTION_CLOSE it sends must reach the other side with the same code. Covers every
 * frame type truncated after its type byte, stream direction and state rules in both directions,
 * flow control at stream and connection level, final sizes of resets, CRYPTO buffering and TLS
 * errors in 1-RTT and Handshake packets, connection ID retirement, NEW_CONNECTION_ID to a
 * zero-length CID user, retire_prior_to that retires the active path's CID, reserved header bits,
 * empty packets, and the peer's own CONNECTION_CLOSE; and the frames that must not close it: a
 * repeated RESET_STREAM, frames for a stream that is gone, a retire_prior_to another path's CID
 * can answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "crypto.h"
#include "forge.h"
#include "frame.h"
#include "migration.h"
#include "pair.h"
#include "varint.h"

#define SEC 1000000000ull

static uint64_t next_seed = 500;

static void connect_pair(tern_pair *p, void (*tune)(tern_pair *p))
{
    assert_int_equal(pair_init(p, next_seed++), 0);
    if (tune)
        tune(p);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(p, 100), 0); /* both sides confirmed and acked */
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

/* Delivers a forged 1-RTT packet from `from` to `to` on the current path. */
static void inject(tern_pair *p, int to_server, const uint8_t *payload, size_t len, int flags)
{
    tern_conn *from = to_server ? p->client : p->server, *to = to_server ? p->server : p->client;
    uint8_t pkt[1500];
    size_t n = forge_1rtt(from, payload, len, flags, p->now, pkt, sizeof(pkt));
    assert_true(n > 0);
    tern_path_addr pa = to_server ? p->path_s : p->path_c;
    tern_conn_recv(to, &pa, pkt, n, 0, p->now);
}

static int cond_server_draining(tern_pair *p)
{
    return tern_conn_state(p->server) >= TERN_CS_DRAINING;
}
static int cond_client_draining(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_DRAINING;
}

/* The victim closed with `terr` (for frame `ftype`, unless it is UINT64_MAX) and the other side
 * learned that code from the wire. */
static void expect_closed(tern_pair *p, int victim_server, uint64_t terr, uint64_t ftype)
{
    tern_conn *v = victim_server ? p->server : p->client;
    tern_conn *o = victim_server ? p->client : p->server;
    assert_int_equal(tern_conn_state(v), TERN_CS_CLOSING);
    const tern_close_info *vi = tern_conn_close_info(v);
    if (vi->error_code != terr)
        fprintf(stderr, "expected 0x%llx got 0x%llx (%s)\n", (unsigned long long)terr,
                (unsigned long long)vi->error_code, vi->reason);
    assert_int_equal(vi->error_code, terr);
    assert_int_equal(vi->local, 1);
    assert_int_equal(vi->app, 0);
    if (ftype != UINT64_MAX)
        assert_int_equal(vi->frame_type, ftype);
    assert_true(pair_run(p, victim_server ? cond_client_draining : cond_server_draining, 5 * SEC));
    const tern_close_info *oi = tern_conn_close_info(o);
    assert_int_equal(oi->local, 0);
    assert_int_equal(oi->app, 0);
    assert_int_equal(oi->error_code, terr);
    if (ftype != UINT64_MAX)
        assert_int_equal(oi->frame_type, ftype);
}

static void expect_close(int to_server, const uint8_t *f, size_t len, uint64_t terr, uint64_t ftype,
                         void (*tune)(tern_pair *p))
{
    tern_pair p;
    connect_pair(&p, tune);
    inject(&p, to_server, f, len, FORGE_NO_PADDING); /* the frames end where they end */
    expect_closed(&p, to_server, terr, ftype);
    pair_free(&p);
}

/* ---- malformed frames ---------------------------------------------------------------------- */

/* Every frame type with a body, cut right after its type byte: FRAME_ENCODING_ERROR naming it,
 * whichever side receives it. */
static void test_every_frame_truncated(void **st)
{
    static const uint8_t types[] = {0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d};
    for (size_t i = 0; i < sizeof(types); i++) {
        int to_server = (int)(i & 1);
        /* frames a client may not send are refused for what they are before their body */
        if (to_server && types[i] == 0x07)
            continue;
        expect_close(to_server, &types[i], 1, TERN_TE_FRAME_ENCODING_ERROR, types[i], NULL);
    }
}

static void test_ack_range_below_zero(void **st)
{
    /* ACK largest 5, delay 0, 0 more ranges, first range 9: would reach pn -4 */
    static const uint8_t f[] = {0x02, 0x05, 0x00, 0x00, 0x09};
    expect_close(1, f, sizeof(f), TERN_TE_FRAME_ENCODING_ERROR, 0x02, NULL);
}

static void test_stream_beyond_2_62(void **st)
{
    /* STREAM id 0 with OFF|LEN: offset 2^62-1 and 2 bytes: the end cannot be expressed */
    uint8_t f[32], *q = f;
    *q++ = 0x0e;
    *q++ = 0x00;
    q = tern_varint_put(q, (1ull << 62) - 1);
    *q++ = 0x02;
    *q++ = 'a';
    *q++ = 'b';
    expect_close(1, f, (size_t)(q - f), TERN_TE_FRAME_ENCODING_ERROR, 0x0e, NULL);
}

/* ---- stream rules -----------------------------------------------------------------------------
 */

static void test_client_gets_stream_on_its_own_unopened_uni(void **st)
{
    /* the server sends on stream 2, a client-initiated unidirectional stream never opened */
    static const uint8_t f[] = {0x0a, 0x02, 0x01, 'x'};
    expect_close(0, f, sizeof(f), TERN_TE_STREAM_STATE_ERROR, 0x0a, NULL);
}

static void open_server_uni(tern_pair *p, int64_t *sid)
{
    assert_int_equal(tern_conn_open_stream(p->server, 0, sid), 0);
    assert_int_equal(*sid, 3);
}

static void test_stream_on_servers_own_uni(void **st)
{
    /* the server opened uni stream 3; STREAM frames on it from the client break its direction */
    tern_pair p;
    connect_pair(&p, NULL);
    int64_t sid;
    open_server_uni(&p, &sid);
    static const uint8_t f[] = {0x0a, 0x03, 0x01, 'x'};
    inject(&p, 1, f, sizeof(f), 0);
    expect_closed(&p, 1, TERN_TE_STREAM_STATE_ERROR, 0x0a);
    pair_free(&p);
}

static void test_stop_sending_on_receive_only(void **st)
{
    /* STOP_SENDING for stream 2, which only the client sends on (RFC 9000 §19.5) */
    static const uint8_t f[] = {0x05, 0x02, 0x00};
    expect_close(1, f, sizeof(f), TERN_TE_STREAM_STATE_ERROR, 0x05, NULL);
}

static void test_max_stream_data_on_receive_only(void **st)
{
    static const uint8_t f[] = {0x11, 0x02, 0x44, 0x00};
    expect_close(1, f, sizeof(f), TERN_TE_STREAM_STATE_ERROR, 0x11, NULL);
}

static void test_stream_data_blocked_on_send_only(void **st)
{
    /* STREAM_DATA_BLOCKED describes the sender's side: not on the server's uni stream 3 */
    tern_pair p;
    connect_pair(&p, NULL);
    int64_t sid;
    open_server_uni(&p, &sid);
    static const uint8_t f[] = {0x15, 0x03, 0x10};
    inject(&p, 1, f, sizeof(f), 0);
    expect_closed(&p, 1, TERN_TE_STREAM_STATE_ERROR, 0x15);
    pair_free(&p);
}

static void test_reset_on_send_only(void **st)
{
    /* RESET_STREAM on the server's own uni stream 3 */
    tern_pair p;
    connect_pair(&p, NULL);
    int64_t sid;
    open_server_uni(&p, &sid);
    static const uint8_t f[] = {0x04, 0x03, 0x00, 0x00};
    inject(&p, 1, f, sizeof(f), 0);
    expect_closed(&p, 1, TERN_TE_STREAM_STATE_ERROR, 0x04);
    pair_free(&p);
}

static void test_uni_stream_limit(void **st)
{
    /* uni stream 4 x 100 + 2 is the 101st: beyond the default limit of 100 */
    uint8_t f[16], *q = f;
    *q++ = 0x0a;
    q = tern_varint_put(q, 4 * 100 + 2);
    *q++ = 0x01;
    *q++ = 'x';
    expect_close(1, f, (size_t)(q - f), TERN_TE_STREAM_LIMIT_ERROR, 0x0a, NULL);
}

/* Frames for stream 1, the server's own first bidirectional stream, which it never opened: the
 * client cannot know of it, so each is a STREAM_STATE_ERROR (RFC 9000 §19.4, §19.5, §19.8, §19.10,
 * §19.13). */
static void test_frames_on_servers_unopened_stream(void **st)
{
    static const uint8_t frames[][5] = {
        {0x08, 0x01, 'x'},        /* STREAM */
        {0x04, 0x01, 0x00, 0x00}, /* RESET_STREAM */
        {0x05, 0x01, 0x00},       /* STOP_SENDING */
        {0x11, 0x01, 0x10},       /* MAX_STREAM_DATA */
        {0x15, 0x01, 0x10},       /* STREAM_DATA_BLOCKED */
    };
    static const size_t lens[] = {3, 4, 3, 3, 3};
    for (size_t i = 0; i < 5; i++)
        expect_close(1, frames[i], lens[i], TERN_TE_STREAM_STATE_ERROR, frames[i][0], NULL);
}

/* Stream counts beyond 2^60 cannot be encoded in a stream ID (RFC 9000 §19.11, §19.14). */
static void test_stream_counts_too_big(void **st)
{
    static const uint8_t types[] = {0x13, 0x16, 0x17};
    for (size_t i = 0; i < sizeof(types); i++) {
        uint8_t f[16], *q = f;
        *q++ = types[i];
        q = tern_varint_put(q, (1ull << 60) + 1);
        expect_close(1, f, (size_t)(q - f), TERN_TE_FRAME_ENCODING_ERROR, types[i], NULL);
    }
}

/* RESET_STREAM and STOP_SENDING count against the peer's stream limit like STREAM does. */
static void test_stream_limit_by_control_frames(void **st)
{
    uint8_t f[16], *q = f;
    *q++ = 0x04;
    q = tern_varint_put(q, 4 * 100); /* bidi stream 400: the 101st */
    *q++ = 0x00;
    *q++ = 0x00;
    expect_close(1, f, (size_t)(q - f), TERN_TE_STREAM_LIMIT_ERROR, 0x04, NULL);
    q = f;
    *q++ = 0x05;
    q = tern_varint_put(q, 4 * 100);
    *q++ = 0x00;
    expect_close(1, f, (size_t)(q - f), TERN_TE_STREAM_LIMIT_ERROR, 0x05, NULL);
}

/* ---- flow control and final sizes ------------------------------------------------------------ */

static void small_windows(tern_pair *p)
{
    p->cfg_s.initial_max_data = 10000;
    p->cfg_s.initial_max_stream_data_bidi_remote = 8000;
    p->cfg_s.initial_max_stream_data_uni = 8000;
}

static size_t stream_at(uint8_t *q, uint64_t sid, uint64_t off, size_t len)
{
    uint8_t *s = q;
    *q++ = 0x0e;
    q = tern_varint_put(q, sid);
    q = tern_varint_put(q, off);
    q = tern_varint_put(q, len);
    memset(q, 'z', len);
    return (size_t)(q + len - s);
}

static void test_connection_flow_control(void **st)
{
    /* two streams each within their 8000-byte window, 14,200 bytes together over 10,000 */
    uint8_t f[256];
    size_t n = stream_at(f, 4, 7000, 100);
    n += stream_at(f + n, 8, 7000, 100);
    expect_close(1, f, n, TERN_TE_FLOW_CONTROL_ERROR, 0x0e, small_windows);
}

static void wide_streams(tern_pair *p)
{
    p->cfg_s.initial_max_data = 10000;
    p->cfg_s.initial_max_stream_data_bidi_remote = 16000;
}

static void test_connection_flow_control_by_reset(void **st)
{
    /* a RESET_STREAM final size counts against the connection window too (RFC 9000 §4.5):
     * 12,000 bytes fit the stream's 16,000 but not the connection's 10,000 */
    uint8_t f[16], *q = f;
    *q++ = 0x04;
    *q++ = 0x04;
    *q++ = 0x00;
    q = tern_varint_put(q, 12000);
    expect_close(1, f, (size_t)(q - f), TERN_TE_FLOW_CONTROL_ERROR, 0x04, wide_streams);
}

static void test_reset_beyond_stream_window(void **st)
{
    uint8_t f[16], *q = f;
    *q++ = 0x04;
    *q++ = 0x04;
    *q++ = 0x00;
    q = tern_varint_put(q, 9000);
    expect_close(1, f, (size_t)(q - f), TERN_TE_FLOW_CONTROL_ERROR, 0x04, small_windows);
}

static void test_reset_below_received(void **st)
{
    /* 100 bytes arrived on stream 4; a reset with final size 10 contradicts them */
    uint8_t f[256];
    size_t n = stream_at(f, 4, 0, 100);
    f[n++] = 0x04;
    f[n++] = 0x04;
    f[n++] = 0x00;
    f[n++] = 10;
    expect_close(1, f, n, TERN_TE_FINAL_SIZE_ERROR, 0x04, NULL);
}

static void test_reset_changes_final_size(void **st)
{
    /* a FIN at 5 then a reset with final size 6 */
    static const uint8_t f[] = {0x0b, 0x04, 0x05, 'h', 'e', 'l', 'l', 'o', 0x04, 0x04, 0x00, 0x06};
    expect_close(1, f, sizeof(f), TERN_TE_FINAL_SIZE_ERROR, 0x04, NULL);
}

static void test_data_after_reset_beyond_final_size(void **st)
{
    /* reset at final size 5, then STREAM bytes up to 8 on that stream */
    static const uint8_t f[] = {0x04, 0x04, 0x00, 0x05, 0x0e, 0x04, 0x05, 0x03, 'a', 'b', 'c'};
    expect_close(1, f, sizeof(f), TERN_TE_FINAL_SIZE_ERROR, 0x0e, NULL);
}

static void test_crypto_too_far(void **st)
{
    /* 1-RTT CRYPTO data 1 MiB ahead of what was read: beyond the buffering limit */
    uint8_t f[16], *q = f;
    *q++ = 0x06;
    q = tern_varint_put(q, 1u << 20);
    *q++ = 0x01;
    *q++ = 0x00;
    expect_close(1, f, (size_t)(q - f), TERN_TE_CRYPTO_BUFFER_EXCEEDED, 0x06, NULL);
}

/* ---- CRYPTO during the handshake --------------------------------------------------------- */

static int cond_server_awaits_finished(tern_pair *p)
{
    return p->client && p->server && tern_conn_tx_keys(p->client, TERN_LEVEL_HANDSHAKE)->aead &&
           !tern_conn_handshake_complete(p->server);
}

/* A Handshake packet from the client, before its Finished reached the server, carrying `f`: the
 * server closes with `terr` for a CRYPTO frame, and the client hears that code. */
static void handshake_crypto_case(const uint8_t *f, size_t len, uint64_t terr)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, next_seed++), 0);
    assert_true(pair_run(&p, cond_server_awaits_finished, 10 * SEC));
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(p.client), 0);
    uint8_t pkt[1500];
    size_t n = forge_long_from(p.client, TERN_LEVEL_HANDSHAKE, &e->cid,
                               &tern_conn_local_cids(p.client)->e[0].cid, NULL, 0, f, len, 0, p.now,
                               pkt, sizeof(pkt));
    assert_true(n > 0);
    tern_conn_recv(p.server, &p.path_s, pkt, n, 0, p.now);
    expect_closed(&p, 1, terr, TERN_FT_CRYPTO);
    assert_false(tern_conn_handshake_complete(p.server));
    pair_free(&p);
}

static void test_handshake_crypto_errors(void **st)
{
    /* 1 MiB ahead of the Handshake data read: beyond the buffering limit */
    uint8_t far[16], *q = far;
    *q++ = 0x06;
    q = tern_varint_put(q, 1u << 20);
    *q++ = 0x01;
    *q++ = 0x00;
    handshake_crypto_case(far, (size_t)(q - far), TERN_TE_CRYPTO_BUFFER_EXCEEDED);
    /* a ServerHello where the client's Finished belongs: TLS answers unexpected_message (10) */
    static const uint8_t hello[] = {0x06, 0x00, 0x04, 2, 0, 0, 0};
    handshake_crypto_case(hello, sizeof(hello), TERN_TE_CRYPTO_ERROR + 10);
}

/* ---- connection IDs ------------------------------------------------------------------------- */

static void test_retire_unissued_cid(void **st)
{
    static const uint8_t f[] = {0x19, 0x3f};
    expect_close(1, f, sizeof(f), TERN_TE_PROTOCOL_VIOLATION, 0x19, NULL);
}

static void test_retire_cid_of_this_packet(void **st)
{
    /* RFC 9000 §19.16: the CID retired must not be the one the packet was sent to */
    tern_pair p;
    connect_pair(&p, NULL);
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(p.client),
                                                      (uint8_t)tern_conn_active_index(p.client));
    assert_non_null(e);
    uint8_t f[16], *q = f;
    *q++ = 0x19;
    q = tern_varint_put(q, e->seq);
    inject(&p, 1, f, (size_t)(q - f), 0);
    expect_closed(&p, 1, TERN_TE_PROTOCOL_VIOLATION, 0x19);
    pair_free(&p);
}

/* The CONNECTION_CLOSE that `c` sends next, opened with its keys (its peer CID is `dcid_len`
 * bytes): its error code and frame type. Returns 1 when one left. */
static int sent_close(tern_conn *c, size_t dcid_len, tern_tstamp now, uint64_t *code,
                      uint64_t *ftype)
{
    uint8_t out[1500], plain[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    if (tern_conn_send(c, &pa, out, sizeof(out), 1, &seg, &cnt, now) != 0 || cnt == 0)
        return 0;
    long n = forge_open_1rtt(c, out, seg, dcid_len, plain, sizeof(plain));
    assert_true(n > 0);
    const uint8_t *q = plain, *end = plain + n;
    tern_frame f;
    uint64_t terr;
    while (q < end) {
        assert_int_equal(tern_frame_parse(&q, end, &f, &terr), 0);
        if (f.type == TERN_FT_CONNECTION_CLOSE) {
            *code = f.u.close.error_code;
            *ftype = f.u.close.frame_type;
            return 1;
        }
    }
    return 0;
}

static size_t new_cid_frame(uint8_t *out, uint64_t seq, uint64_t rpt, const tern_cid *cid,
                            const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    size_t n = tern_frame_write_new_cid(out, 64, seq, rpt, cid, token);
    assert_true(n > 0);
    return n;
}

/* RFC 9000 §19.15: an endpoint sending with a zero-length DCID takes NEW_CONNECTION_ID as a
 * PROTOCOL_VIOLATION. No tern server uses a zero-length CID, so the client is made to hold one for
 * the server (its packets then carry an empty DCID, as to such a server). */
static void test_new_cid_to_zero_length_user(void **st)
{
    tern_pair p;
    connect_pair(&p, NULL);
    tern_cid empty = {.len = 0};
    tern_peer_cids_set_initial(tern_conn_peer_cids(p.client), &empty);
    tern_cid cid = {.len = 8, .data = {1, 2, 3, 4, 5, 6, 7, 8}};
    uint8_t token[TERN_RESET_TOKEN_LEN] = {9}, f[64];
    size_t n = new_cid_frame(f, 40, 0, &cid, token);
    inject(&p, 0, f, n, 0);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->frame_type, TERN_FT_NEW_CONNECTION_ID);
    /* what leaves, to the empty DCID, says so too */
    uint64_t code = 0, ftype = 0;
    assert_true(sent_close(p.client, 0, p.now, &code, &ftype));
    assert_int_equal(code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ftype, TERN_FT_NEW_CONNECTION_ID);
    /* nothing of the frame was kept */
    const tern_peer_cids *pc = tern_conn_peer_cids(p.client);
    for (size_t i = 0; i < pc->n; i++)
        assert_int_not_equal(pc->e[i].seq, 40);
    pair_free(&p);
}

/* RFC 9000 §19.15: a sequence number given to two CIDs, and a CID given two sequence numbers, are
 * both PROTOCOL_VIOLATION (the same CID under its own number again is a retransmission: fine). */
static void test_new_cid_conflicts(void **st)
{
    for (int k = 0; k < 3; k++) {
        tern_pair p;
        connect_pair(&p, NULL);
        const tern_peer_cids *pc = tern_conn_peer_cids(p.client);
        const tern_cid_entry *held = &pc->e[pc->n - 1];
        tern_cid other = held->cid;
        other.data[0] ^= 0x5a;
        uint8_t f[64];
        size_t n = k == 0   ? new_cid_frame(f, held->seq, 0, &other, held->token)
                   : k == 1 ? new_cid_frame(f, held->seq + 20, 0, &held->cid, held->token)
                            : new_cid_frame(f, held->seq, 0, &held->cid, held->token);
        inject(&p, 0, f, n, 0);
        if (k < 2) {
            expect_closed(&p, 0, TERN_TE_PROTOCOL_VIOLATION, TERN_FT_NEW_CONNECTION_ID);
        } else {
            assert_true(tern_conn_state(p.client) < TERN_CS_CLOSING);
            assert_int_equal(tern_conn_close_info(p.client)->error_code, 0);
        }
        pair_free(&p);
    }
}

/* Each NEW_CONNECTION_ID retiring the one before makes the client owe one more
 * RETIRE_CONNECTION_ID. Frames that arrive faster than it can send them fill its retire queue,
 * which stays bounded: past TERN_MAX_RETIRE_QUEUE it closes with CONNECTION_ID_LIMIT_ERROR
 * (RFC 9000 §5.1.2). */
static void test_retire_queue_bound(void **st)
{
    tern_pair p;
    connect_pair(&p, NULL);
    const tern_peer_cids *pc = tern_conn_peer_cids(p.client);
    uint64_t seq = pc->highest_seq + 1;
    size_t max_queued = 0;
    int closed_at = -1;
    for (int pkt = 0; pkt < 5 && closed_at < 0; pkt++) {
        uint8_t f[1200];
        size_t n = 0;
        for (int i = 0; i < 30; i++, seq++) {
            tern_cid cid = {.len = 8, .data = {0xc1, (uint8_t)(seq >> 8), (uint8_t)seq}};
            uint8_t token[TERN_RESET_TOKEN_LEN] = {(uint8_t)seq, (uint8_t)(seq >> 8), 0x77};
            n += new_cid_frame(f + n, seq, seq, &cid, token);
        }
        inject(&p, 0, f, n, 0);
        if (pc->retire_n > max_queued)
            max_queued = pc->retire_n;
        if (tern_conn_state(p.client) >= TERN_CS_CLOSING)
            closed_at = pkt;
    }
    assert_true(closed_at >= 1); /* the first 30 fit */
    assert_true(max_queued <= TERN_MAX_RETIRE_QUEUE);
    assert_int_equal(tern_conn_close_info(p.client)->error_code, TERN_TE_CONNECTION_ID_LIMIT_ERROR);
    assert_int_equal(tern_conn_close_info(p.client)->frame_type, TERN_FT_NEW_CONNECTION_ID);
    pair_free(&p);
}

/* ---- retire_prior_to and the paths' connection IDs ----------------------------------------- */

/* A CID the server accepts packets for (as if it had issued it), and its reset token. */
static uint64_t server_cid(tern_pair *p, uint8_t tag, tern_cid *cid,
                           uint8_t token[TERN_RESET_TOKEN_LEN])
{
    cid->len = 8;
    for (int i = 0; i < 8; i++)
        cid->data[i] = (uint8_t)(tag * 16 + i);
    tern_crypto_reset_token(p->reset_key, cid, token);
    tern_local_cids *l = tern_conn_local_cids(p->server);
    tern_cid_entry *e = tern_local_cids_add(l, cid, token);
    assert_non_null(e);
    tern_local_cids_on_announced(l, e->seq); /* the test announces it */
    return e->seq;
}

static const tern_cid_entry *path_cid(tern_pair *p, int idx)
{
    return tern_peer_cids_for_path(tern_conn_peer_cids(p->client), (uint8_t)idx);
}

static int cond_path1_validated(tern_pair *p)
{
    return tern_conn_path_at(p->client, 1)->path_validated;
}

/* The client moved to path 1 and keeps path 0 (the fallback). A NEW_CONNECTION_ID whose
 * retire_prior_to retires the CIDs of both brings one new CID: the active path takes it whatever
 * its slot, the other path waits for the next. Then the peer repeats a CID that the other path
 * holds with a retire_prior_to beyond the active path's (RFC 9000 §5.1.2 lets it retire all but
 * that one): the active path takes it and the connection goes on carrying data with it. */
static void test_retire_prior_to_active_path(void **st)
{
    tern_pair p;
    connect_pair(&p, NULL);
    tern_addr alt;
    assert_int_equal(tern_addr_parse(&alt, "10.0.0.9:7100", 0), 0);
    assert_int_equal(tern_conn_path_set_active(p.client, &alt, p.now), 1);
    assert_true(pair_run(&p, cond_path1_validated, 5 * SEC));
    assert_int_equal(tern_conn_active_index(p.client), 1);
    assert_non_null(path_cid(&p, 0));
    assert_non_null(path_cid(&p, 1));

    tern_cid a, b;
    uint8_t ta[TERN_RESET_TOKEN_LEN], tb[TERN_RESET_TOKEN_LEN], f[64];
    uint64_t sa = server_cid(&p, 1, &a, ta), sb = server_cid(&p, 2, &b, tb);
    /* everything below sa retired, sa the only CID left */
    inject(&p, 0, f, new_cid_frame(f, sa, sa, &a, ta), 0);
    assert_true(tern_conn_state(p.client) < TERN_CS_CLOSING);
    assert_int_equal(path_cid(&p, 1)->seq, sa);
    assert_null(path_cid(&p, 0));
    assert_true(tern_conn_path_at(p.client, 0)->waiting_cid);
    /* the next one goes to the waiting path */
    inject(&p, 0, f, new_cid_frame(f, sb, sa, &b, tb), 0);
    assert_int_equal(path_cid(&p, 0)->seq, sb);
    assert_false(tern_conn_path_at(p.client, 0)->waiting_cid);
    assert_int_equal(tern_peer_cids_spare(tern_conn_peer_cids(p.client)), 0);

    /* sb again, now retiring sa: the active path takes sb from path 0 */
    inject(&p, 0, f, new_cid_frame(f, sb, sb, &b, tb), 0);
    assert_true(tern_conn_state(p.client) < TERN_CS_CLOSING);
    assert_int_equal(path_cid(&p, 1)->seq, sb);
    assert_null(path_cid(&p, 0));
    assert_true(tern_conn_path_at(p.client, 0)->waiting_cid);
    /* data still flows, to sb, and the client retired everything below it */
    assert_int_equal(pair_request(&p, 20000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_cid_eq(&tern_conn_active_path(p.server)->dcid, &b));
    const tern_local_cids *l = tern_conn_local_cids(p.server);
    for (size_t i = 0; i < l->n; i++)
        assert_true(l->e[i].seq >= sb);
    assert_true(tern_conn_state(p.client) < TERN_CS_CLOSING);
    pair_free(&p);
}

/* The peer repeats a CID the client itself retired, with a retire_prior_to that retires the
 * active path's: no CID is left to send with. The client closes with PROTOCOL_VIOLATION and
 * sends nothing more (every CID it knew is retired). */
static void test_retire_prior_to_leaves_nothing(void **st)
{
    tern_pair p;
    connect_pair(&p, NULL);
    tern_cid a, b;
    uint8_t ta[TERN_RESET_TOKEN_LEN], tb[TERN_RESET_TOKEN_LEN], f[64];
    uint64_t sa = server_cid(&p, 1, &a, ta), sb = server_cid(&p, 2, &b, tb);
    inject(&p, 0, f, new_cid_frame(f, sa, sa, &a, ta), 0);
    assert_int_equal(path_cid(&p, 0)->seq, sa);
    assert_int_equal(tern_peer_cids_spare(tern_conn_peer_cids(p.client)), 0);
    /* a second path waits for a CID, gets sb, and retires it when it is removed */
    tern_addr alt;
    assert_int_equal(tern_addr_parse(&alt, "10.0.0.9:7100", 0), 0);
    int id = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(id > 0);
    assert_true(tern_conn_path_at(p.client, id)->waiting_cid);
    inject(&p, 0, f, new_cid_frame(f, sb, sa, &b, tb), 0);
    assert_int_equal(path_cid(&p, id)->seq, sb);
    assert_int_equal(tern_conn_path_remove(p.client, &alt, p.now), 0);
    assert_null(path_cid(&p, id));
    inject(&p, 0, f, new_cid_frame(f, sb, sb, &b, tb), 0);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p.client);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->frame_type, TERN_FT_NEW_CONNECTION_ID);
    assert_null(path_cid(&p, 0));
    uint64_t code, ftype;
    assert_false(sent_close(p.client, 8, p.now, &code, &ftype));
    pair_free(&p);
}

/* ---- packets -------------------------------------------------------------------------------- */

static void test_reserved_bits(void **st)
{
    tern_pair p;
    connect_pair(&p, NULL);
    static const uint8_t f[] = {0x01};
    inject(&p, 1, f, sizeof(f), FORGE_RESERVED_BITS);
    expect_closed(&p, 1, TERN_TE_PROTOCOL_VIOLATION, UINT64_MAX);
    pair_free(&p);
}

static void test_packet_without_frames(void **st)
{
    tern_pair p;
    connect_pair(&p, NULL);
    inject(&p, 0, NULL, 0, FORGE_NO_PADDING);
    expect_closed(&p, 0, TERN_TE_PROTOCOL_VIOLATION, UINT64_MAX);
    pair_free(&p);
}

/* ---- the peer's CONNECTION_CLOSE --------------------------------------------------------------
 */

static void peer_close(const uint8_t *f, size_t len, int app, uint64_t code, int status)
{
    tern_pair p;
    connect_pair(&p, NULL);
    inject(&p, 1, f, len, 0);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_DRAINING);
    const tern_close_info *ci = tern_conn_close_info(p.server);
    assert_int_equal(ci->local, 0);
    assert_int_equal(ci->app, app);
    assert_int_equal(ci->error_code, code);
    assert_int_equal(ci->status, status);
    /* draining: nothing more leaves the server, and it ends after its drain period */
    uint8_t out[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(p.server, &pa, out, sizeof(out), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 0);
    tern_conn_on_timeout(p.server, p.now + 10 * SEC);
    assert_true(tern_conn_is_done(p.server));
    pair_free(&p);
}

static void test_peer_close_kinds(void **st)
{
    /* transport error FLOW_CONTROL_ERROR for frame 0x08, reason "ab" */
    static const uint8_t t[] = {0x1c, 0x03, 0x08, 0x02, 'a', 'b'};
    peer_close(t, sizeof(t), 0, 0x03, TERN_ERR_PROTO);
    /* a TLS alert (CRYPTO_ERROR 0x12a, bad_certificate) */
    static const uint8_t c[] = {0x1c, 0x41, 0x2a, 0x00, 0x00};
    peer_close(c, sizeof(c), 0, 0x12a, TERN_ERR_TLS);
    /* NO_ERROR: a clean close */
    static const uint8_t n[] = {0x1c, 0x00, 0x00, 0x00};
    peer_close(n, sizeof(n), 0, 0, 0);
    /* an application close with code 7 */
    static const uint8_t a[] = {0x1d, 0x07, 0x00};
    peer_close(a, sizeof(a), 1, 7, 0);
    /* the first code above the CRYPTO_ERROR range is a transport error again */
    static const uint8_t above[] = {0x1c, 0x42, 0x00, 0x00, 0x00};
    peer_close(above, sizeof(above), 0, 0x200, TERN_ERR_PROTO);
}

/* ---- repeated and late stream frames -------------------------------------------------------- */

typedef struct stream_events {
    int resets, stops;
    uint64_t reset_code, stop_code;
} stream_events;

static void ev_reset(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    stream_events *e = ud;
    e->resets++;
    e->reset_code = code;
}

static void ev_stop(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    stream_events *e = ud;
    e->stops++;
    e->stop_code = code;
}

static void ev_readable(tern_conn *c, int64_t sid, void *ud) {}

static const tern_callbacks counting_cb = {
    .on_stream_readable = ev_readable,
    .on_stream_reset = ev_reset,
    .on_stream_stop_sending = ev_stop,
};

static int never(tern_pair *p) { return 0; }

/* A RESET_STREAM repeated is reported once; STOP_SENDING is reported and answered; frames for a
 * stream that is gone are ignored. None of them closes the connection. */
static void test_repeated_and_late_stream_frames(void **st)
{
    tern_pair p;
    stream_events ev = {0};
    assert_int_equal(pair_init(&p, next_seed++), 0);
    p.server_cb = &counting_cb;
    p.server_ud = &ev;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    pair_run(&p, never, SEC / 2); /* the server has its 1-RTT keys */

    int64_t sid;
    assert_int_equal(tern_conn_open_stream(p.client, 1, &sid), 0);
    assert_int_equal(sid, 0);
    assert_int_equal(tern_stream_write(p.client, sid, "abc", 3, 0), 3);
    pair_run(&p, never, SEC / 4); /* the server has stream 0 and its 3 bytes */
    assert_non_null(tern_streams_find(tern_conn_streams(p.server), 0));
    static const uint8_t reset[] = {0x04, 0x00, 0x05, 0x03}; /* code 5, final size 3 */
    static const uint8_t stop[] = {0x05, 0x00, 0x06};        /* code 6 */
    inject(&p, 1, reset, sizeof(reset), 0);
    inject(&p, 1, reset, sizeof(reset), 0);
    assert_int_equal(ev.resets, 1);
    assert_int_equal(ev.reset_code, 5);
    inject(&p, 1, stop, sizeof(stop), 0);
    assert_int_equal(ev.stops, 1);
    assert_int_equal(ev.stop_code, 6);
    assert_true(tern_conn_state(p.server) < TERN_CS_CLOSING);

    /* the server answers with its RESET_STREAM; once that is acknowledged the stream is gone */
    pair_run(&p, never, SEC);
    assert_null(tern_streams_find(tern_conn_streams(p.server), 0));
    static const uint8_t late[][4] = {
        {0x04, 0x00, 0x05, 0x03}, /* RESET_STREAM */
        {0x05, 0x00, 0x06},       /* STOP_SENDING */
        {0x11, 0x00, 0x40, 0x80}, /* MAX_STREAM_DATA 128 */
        {0x15, 0x00, 0x03},       /* STREAM_DATA_BLOCKED 3 */
    };
    static const size_t late_len[] = {4, 3, 4, 3};
    for (size_t i = 0; i < 4; i++)
        inject(&p, 1, late[i], late_len[i], 0);
    assert_int_equal(ev.resets, 1);
    assert_int_equal(ev.stops, 1);
    assert_true(tern_conn_state(p.server) < TERN_CS_CLOSING);
    assert_int_equal(tern_conn_close_info(p.server)->error_code, 0);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_frame_truncated),
        cmocka_unit_test(test_ack_range_below_zero),
        cmocka_unit_test(test_stream_beyond_2_62),
        cmocka_unit_test(test_client_gets_stream_on_its_own_unopened_uni),
        cmocka_unit_test(test_stream_on_servers_own_uni),
        cmocka_unit_test(test_stop_sending_on_receive_only),
        cmocka_unit_test(test_max_stream_data_on_receive_only),
        cmocka_unit_test(test_stream_data_blocked_on_send_only),
        cmocka_unit_test(test_reset_on_send_only),
        cmocka_unit_test(test_uni_stream_limit),
        cmocka_unit_test(test_frames_on_servers_unopened_stream),
        cmocka_unit_test(test_stream_counts_too_big),
        cmocka_unit_test(test_stream_limit_by_control_frames),
        cmocka_unit_test(test_connection_flow_control),
        cmocka_unit_test(test_connection_flow_control_by_reset),
        cmocka_unit_test(test_reset_beyond_stream_window),
        cmocka_unit_test(test_reset_below_received),
        cmocka_unit_test(test_reset_changes_final_size),
        cmocka_unit_test(test_data_after_reset_beyond_final_size),
        cmocka_unit_test(test_crypto_too_far),
        cmocka_unit_test(test_handshake_crypto_errors),
        cmocka_unit_test(test_retire_unissued_cid),
        cmocka_unit_test(test_retire_cid_of_this_packet),
        cmocka_unit_test(test_new_cid_to_zero_length_user),
        cmocka_unit_test(test_new_cid_conflicts),
        cmocka_unit_test(test_retire_queue_bound),
        cmocka_unit_test(test_retire_prior_to_active_path),
        cmocka_unit_test(test_retire_prior_to_leaves_nothing),
        cmocka_unit_test(test_reserved_bits),
        cmocka_unit_test(test_packet_without_frames),
        cmocka_unit_test(test_peer_close_kinds),
        cmocka_unit_test(test_repeated_and_late_stream_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
