/* HTTP/3 conformance of the tools' own layer, the client side (responses, informational ones,
 * GOAWAY from a server, push, the client's refusals), and the heap the layer holds while a peer
 * pushes on it (measured through allochook.h; those cases skip under the sanitizers). The fixture
 * and how a case observes the layer: h3fx.h. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#include "conn_test.h"
#include "h3fx.h"

/* ---- the client side ---------------------------------------------------------------------- */

static int64_t tool_request(const tool_qpack_field *f, size_t n, int expect_rv)
{
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(S.c, 1, &sid), 0);
    int rv = tool_h3_submit_request(S.h, sid, f, n, NULL);
    assert_int_equal(rv, expect_rv);
    tool_h3_flush(S.h);
    settle();
    return sid;
}

/* The request the tool sent: its fields in order, FIN after one HEADERS frame. */
static void expect_request(int64_t sid)
{
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->fin);
    bb fields = {0}, body = {0};
    int other;
    assert_int_equal(parse_msg(s, &fields, &body, &other), 0);
    assert_string_equal((char *)fields.d,
                        ":method=GET :scheme=https :authority=example.com :path=/ ");
    assert_int_equal(body.n, 0);
    bb_free(&fields);
    bb_free(&body);
}

/* The raw server answers stream `sid` with b (freed), FIN when `fin`. */
static void respond_bb(int64_t sid, bb *b, int fin)
{
    raw_write_bb(sid, b, fin);
}

static void bb_status(bb *b, const char *status)
{
    fld f[] = {{":status", 7, status, strlen(status)}};
    bb_headers(b, f, 1);
}

/* 103 and 100 before 200, then the body: all reported in order. */
static void test_client_informational(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    assert_int_equal(sid, 0);
    expect_request(sid);
    bb b = {0};
    bb_hex(&b, "01 03 0000 d8"); /* :status 103 (static 24) */
    bb_status(&b, "100");
    bb_hex(&b, "01 03 0000 d9"); /* :status 200 (static 25) */
    bb_frame(&b, F_GREASE, "", 0);
    bb_frame(&b, F_DATA, "hello", 5);
    respond_bb(sid, &b, 1);
    expect_open();
    expect_log("H0 :status=103 E0 H0 :status=100 E0 H0 :status=200 E0 D0 F0 C0=100 ");
    assert_memory_equal(ts_get(sid)->body, "hello", 5);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

/* Responses without a body whatever content-length says: to HEAD, 204, 304. */
static void test_client_bodiless(void **state)
{
    (void)state;
    static const tool_qpack_field head[] = {QF(":method", "HEAD"), QF(":scheme", "https"),
                                            QF(":authority", "example.com"), QF(":path", "/")};
    start(0);
    int64_t sid = tool_request(head, 4, 0);
    bb b = {0};
    fld f[] = {F(":status", "200"), F("content-length", "1000")};
    bb_headers(&b, f, 2);
    respond_bb(sid, &b, 1);
    expect_open();
    want_log("F0 C0=100 ");
    static const char *st[] = {"204", "304"};
    for (int i = 0; i < 2; i++) {
        sid = tool_request(tool_get, 4, 0);
        fld g[] = {{":status", 7, st[i], 3}, F("content-length", "10")};
        bb_headers(&b, g, 2);
        respond_bb(sid, &b, 1);
        expect_open();
        char want[32];
        snprintf(want, sizeof(want), "F%lld C%lld=100 ", (long long)sid, (long long)sid);
        want_log(want);
    }
    finish();
}

static void test_client_malformed_responses(void **state)
{
    (void)state;
    const mcase c[] = {
        CASE("no :status", F("x-foo", "1")),
        CASE("two :status", F(":status", "200"), F(":status", "200")),
        CASE("two-digit :status", F(":status", "20")),
        CASE("four-digit :status", F(":status", "2000")),
        CASE("letters in :status", F(":status", "2x0")),
        CASE(":method in response", F(":status", "200"), F(":method", "GET")),
        CASE(":path in response", F(":status", "200"), F(":path", "/")),
        CASE("pseudo after regular", F("x-foo", "1"), F(":status", "200")),
        CASE("uppercase name", F(":status", "200"), F("Content-Type", "text/plain")),
        CASE("transfer-encoding", F(":status", "200"), F("transfer-encoding", "chunked")),
        CASE("value with LF", F(":status", "200"), F("x-foo", "a\nb")),
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        bb_headers(&b, c[i].f, c[i].n);
        respond_bb(sid, &b, 0);
        settle();
        rstream *s = rs_find(sid);
        if (!s || !s->stopped || s->stop_code != TOOL_H3_MESSAGE_ERROR || close_code() != -1 ||
            !log_has("C0=10e ") || log_has("E0"))
            fail_msg("%s: stopped %d 0x%llx close 0x%llx; log %s", c[i].name, s ? s->stopped : 0,
                     s ? (unsigned long long)s->stop_code : 0ull, close_code(), S.log);
        finish();
    }
}

/* The response's body against its content-length. The request's sending side is over (FIN), so
 * a stream error shows to the raw server as STOP_SENDING while it still sends, and otherwise
 * only to the tool, in stream_close. */
static void test_client_content_length(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        fld f[] = {F(":status", "200"), F("content-length", "4")};
        bb_headers(&b, f, 2);
        bb_frame(&b, F_DATA, "abcde", i == 0 ? 4 : i == 1 ? 5 : 3);
        respond_bb(sid, &b, i != 1);
        settle();
        expect_open();
        if (i == 0) {
            want_log("D0 F0 C0=100 ");
        } else {
            if (i == 1) {
                rstream *s = rs_find(sid);
                assert_non_null(s);
                assert_true(s->stopped);
                assert_int_equal(s->stop_code, TOOL_H3_MESSAGE_ERROR);
            }
            want_log("C0=10e ");
            want_no_log("F0 ");
        }
        finish();
    }
}

/* Frames out of place on a response stream. */
static void test_client_response_frame_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
        uint64_t code;
    } c[] = {
        {"DATA first", "00 01 61", TOOL_H3_FRAME_UNEXPECTED},
        {"SETTINGS", "01 03 0000d9 04 00", TOOL_H3_FRAME_UNEXPECTED},
        {"GOAWAY", "01 03 0000d9 07 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY", "01 03 0000d9 02 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"DATA after trailers", "01 03 0000d9 01 06 0000 2161 0161 00 01 61",
         TOOL_H3_FRAME_UNEXPECTED},
        {"QPACK failure", "01 03 0000 81", TOOL_QPACK_DECOMPRESSION_FAILED},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        bb_hex(&b, c[i].hex);
        respond_bb(sid, &b, 0);
        settle();
        if (close_code() != (long long)c[i].code)
            fail_msg("%s: close 0x%llx, expected 0x%llx; log %s", c[i].name, close_code(),
                     (unsigned long long)c[i].code, S.log);
        finish();
    }
    /* trailers after the response's body, and unknown frames after them, are fine */
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_hex(&b, "01 03 0000d9 00 02 6869 01 06 0000 2161 0161 21 01 00");
    respond_bb(sid, &b, 1);
    expect_open();
    expect_log("H0 :status=200 E0 D0 F0 C0=100 ");
    finish();
}

/* A response written one byte per packet: 1xx, final header section, body, trailers. */
static void test_client_split_every_byte(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_hex(&b, "01 03 0000 d8");
    bb_frame(&b, F_GREASE_BIG, "zz", 2);
    fld f[] = {F(":status", "200"), F("content-length", "70")};
    bb_headers(&b, f, 2);
    bb_frame(&b, F_DATA, BODY, 70);
    bb_hex(&b, "01 06 0000 2161 0161");
    raw_write_bytewise(sid, b.d, b.n, 1);
    bb_free(&b);
    settle();
    expect_open();
    expect_log("H0 :status=103 E0 H0 :status=200 H0 content-length=70 E0 D0 F0 C0=100 ");
    assert_int_equal(ts_get(sid)->btotal, 70);
    assert_memory_equal(ts_get(sid)->body, BODY, 70);
    finish();
}

/* A response's HEADERS above 16 KB: refused from its length (STOP_SENDING with
 * H3_EXCESSIVE_LOAD); a trailer section with a pseudo-header: H3_MESSAGE_ERROR. */
static void test_client_response_stream_errors(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_vi(&b, F_HEADERS);
    bb_vi(&b, TOOL_H3_MAX_FIELD_SECTION + 1);
    bb_hex(&b, "0000 d9");
    respond_bb(sid, &b, 0);
    settle();
    expect_open();
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->stopped);
    assert_int_equal(s->stop_code, TOOL_H3_EXCESSIVE_LOAD);
    want_log("C0=107 ");
    want_no_log("H0 ");
    finish();

    start(0);
    sid = tool_request(tool_get, 4, 0);
    bb_hex(&b, "01 03 0000d9 00 01 61");
    fld tr[] = {F(":status", "200")};
    bb_headers(&b, tr, 1);
    respond_bb(sid, &b, 0);
    settle();
    expect_open();
    s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->stopped);
    assert_int_equal(s->stop_code, TOOL_H3_MESSAGE_ERROR);
    want_log("C0=10e ");
    want_no_log("F0 ");
    finish();
}

/* The client refuses the rest of a body from its recv_data callback (a download it cannot
 * store): the stream closes at once with the code it gave, whether the server's FIN is already
 * there (no STOP_SENDING then) or not (STOP_SENDING 0x10c reaches the server), and nothing more
 * of the body is reported. */
static void test_client_stops_reading(void **state)
{
    (void)state;
    for (int fin = 0; fin < 2; fin++) {
        start(0);
        S.stop_data = 1;
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        bb_status(&b, "200");
        bb_frame(&b, F_DATA, "abc", 3);
        bb_frame(&b, F_DATA, "def", 3);
        respond_bb(sid, &b, fin);
        settle();
        expect_open();
        want_log("C0=10c ");
        want_no_log("F0 ");
        assert_int_equal(ts_get(sid)->btotal, 3);
        assert_int_equal(tool_h3_open_streams(S.h), 0);
        rstream *s = rs_find(sid);
        assert_non_null(s);
        assert_int_equal(s->stopped, !fin);
        if (!fin)
            assert_int_equal(s->stop_code, TOOL_H3_REQUEST_CANCELLED);
        finish();
    }
}

/* A response stream that ends without a final response: no end_stream, the close says why. */
static void test_client_response_incomplete(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        if (i)
            bb_hex(&b, "01 03 0000 d8"); /* 103 only */
        else
            bb_frame(&b, F_GREASE, "x", 1);
        respond_bb(sid, &b, 1);
        expect_open();
        want_no_log("F0 ");
        want_log("C0=");
        want_no_log("C0=100 ");
        if (!i)
            want_log("C0=10d ");
        assert_int_equal(tool_h3_open_streams(S.h), 0);
        finish();
    }
}

/* The raw server's GOAWAY: requests at or above its ID fail, those below are still answered; no
 * request can be sent on an excluded stream afterwards. */
static void test_client_goaway(void **state)
{
    (void)state;
    start(0);
    int64_t a = tool_request(tool_get, 4, 0), b4 = tool_request(tool_get, 4, 0),
            c8 = tool_request(tool_get, 4, 0);
    assert_int_equal(a, 0);
    assert_int_equal(b4, 4);
    assert_int_equal(c8, 8);
    bb g = {0};
    bb_hex(&g, "07 01 04");
    raw_write_bb(R.ctrl, &g, 0);
    expect_open();
    want_log("G4 ");
    want_log("C4=10b ");
    want_log("C8=10b ");
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(S.c, 1, &sid), 0);
    assert_int_equal(tool_h3_submit_request(S.h, sid, tool_get, 4, NULL), -1);
    bb r = {0};
    bb_hex(&r, "01 03 0000 d9");
    respond_bb(a, &r, 1);
    expect_open();
    want_log("H0 :status=200 E0f F0 C0=100 ");
    finish();
}

static void test_client_control_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
        uint64_t code;
    } c[] = {
        {"GOAWAY not a client bidi ID", "00 0400 07 01 02", TOOL_H3_ID_ERROR},
        {"GOAWAY increases", "00 0400 07 01 04 07 01 08", TOOL_H3_ID_ERROR},
        {"GOAWAY same", "00 0400 07 01 04 07 01 04", 0},
        {"MAX_PUSH_ID to a client", "00 0400 0d 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"PRIORITY_UPDATE to a client", "00 0400 800f0700 04 00 753d31", TOOL_H3_FRAME_UNEXPECTED},
        {"CANCEL_PUSH to a client", "00 0400 03 01 00", TOOL_H3_ID_ERROR},
        {"missing SETTINGS", "00 07 01 00", TOOL_H3_MISSING_SETTINGS},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        bb b = {0};
        bb_hex(&b, c[i].hex);
        start_bb(0, &b);
        settle();
        long long want = c[i].code ? (long long)c[i].code : -1;
        if (close_code() != want)
            fail_msg("%s: close 0x%llx expected 0x%llx", c[i].name, close_code(),
                     (unsigned long long)c[i].code);
        finish();
    }
}

static void test_client_push_promise(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_hex(&b, "01 03 0000 d9");
    bb_hex(&b, "05 04 00 0000d1");
    respond_bb(sid, &b, 0);
    expect_close(TOOL_H3_ID_ERROR);
    finish();
}

static void test_client_push_stream(void **state)
{
    (void)state;
    start(0);
    bb b = {0};
    bb_hex(&b, "00");
    raw_uni_bb(S_PUSH, &b, 0);
    expect_close(TOOL_H3_ID_ERROR);
    finish();
}

static void test_client_server_bidi(void **state)
{
    (void)state;
    start(0);
    bb b = {0};
    bb_get(&b);
    int64_t sid = raw_open(1);
    assert_int_equal(sid, 1);
    raw_write_bb(sid, &b, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
}

/* The server's SETTINGS_MAX_FIELD_SECTION_SIZE bounds what submit_request sends (RFC 9114
 * §4.2.2: name + value + 32 per field). */
static void test_client_peer_field_limit(void **state)
{
    (void)state;
    /* tool_get: 42 + 44 + 53 + 38 = 177 */
    bb c = {0};
    bb_hex(&c, "00 0403 06 40 b1"); /* 177 */
    start_bb(0, &c);
    expect_open();
    int64_t sid = tool_request(tool_get, 4, 0);
    expect_request(sid);
    static const tool_qpack_field more[] = {QF(":method", "GET"), QF(":scheme", "https"),
                                            QF(":authority", "example.com"), QF(":path", "/a")};
    tool_request(more, 4, -1);
    expect_open();
    finish();

    /* without the setting: no limit */
    start(0);
    static char value[12000];
    memset(value, 'v', sizeof(value));
    tool_qpack_field large[5] = {
        QF(":method", "GET"),
        QF(":scheme", "https"),
        QF(":authority", "example.com"),
        QF(":path", "/"),
        {(const uint8_t *)"x-large", 7, (const uint8_t *)value, sizeof(value)}};
    sid = tool_request(large, 5, 0);
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->fin);
    assert_true(s->len > sizeof(value) / 2);
    expect_open();
    finish();
}

/* ---- memory under attack ------------------------------------------------------------------ */

static void test_memory_unknown_uni_streams(void **state)
{
    (void)state;
    if (!h3fx_heap_measured())
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    int64_t sids[50];
    for (int i = 0; i < 50; i++) {
        int64_t sid = raw_open(0);
        bb b = {0};
        bb_vi(&b, 0x21 + 0x1f * (uint64_t)i);
        bb_raw(&b, BODY, 1000);
        raw_write(sid, b.d, b.n, 0);
        bb_free(&b);
        sids[i] = sid;
    }
    heap_end(&m, "50 unknown unidirectional streams");
    for (int i = 0; i < 50; i++) {
        rstream *s = rs_find(sids[i]);
        assert_non_null(s);
        assert_true(s->stopped);
    }
    expect_open();
    assert_true(m.peak - m.base <= 256); /* measured: 0 */
    assert_true(m.after - m.base <= 0);
    finish();
}

static void test_memory_unknown_frames_control(void **state)
{
    (void)state;
    if (!h3fx_heap_measured())
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    bb b = {0};
    bb_vi(&b, F_GREASE_BIG);
    bb_vi(&b, 512 * 1024);
    for (int i = 0; i < 2; i++)
        bb_raw(&b, BODY, 256 * 1024);
    while (b.n < 1024 * 1024)
        bb_frame(&b, 0x21 + 0x1f * (b.n % 1000), BODY, 61);
    raw_write(R.ctrl, b.d, b.n, 0);
    bb_free(&b);
    pair_run(&P, never, 2 * SEC);
    heap_end(&m, "1 MB of unknown frames on the control stream");
    expect_open();
    assert_true(m.peak - m.base <= 256); /* measured: 0 */
    assert_true(m.after - m.base <= 0);
    int64_t sid = request_get();
    expect_response(sid, "200", NULL, 0);
    finish();
}

static void test_memory_priority_update(void **state)
{
    (void)state;
    if (!h3fx_heap_measured())
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    bb b = {0};
    bb_priority_update(&b, 100 * 1024);
    raw_write(R.ctrl, b.d, b.n, 0);
    bb_free(&b);
    heap_end(&m, "100 KB PRIORITY_UPDATE");
    expect_close(TOOL_H3_EXCESSIVE_LOAD);
    /* nothing of the 100 KB is buffered: what the call holds after it is the connection's close
     * information (some 300 B, which tern allocates when a connection first gets a reason) */
    assert_true(m.peak - m.base <= 512); /* measured: 304 */
    finish();
}

/* Unknown frames of 1 MB in all on a request stream, between HEADERS and FIN. */
static void test_memory_unknown_frames_request(void **state)
{
    (void)state;
    if (!h3fx_heap_measured())
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    bb b = {0};
    bb_get(&b);
    bb_vi(&b, F_GREASE);
    bb_vi(&b, 1024 * 1024);
    for (int i = 0; i < 4; i++)
        bb_raw(&b, BODY, 256 * 1024);
    int64_t sid = raw_open(1);
    raw_write(sid, b.d, b.n, 1);
    bb_free(&b);
    pair_run(&P, never, 2 * SEC);
    heap_end(&m, "1 MB of unknown frames on a request stream");
    expect_open();
    expect_response(sid, "200", NULL, 0);
    /* the request's record comes and goes; nothing grows with the frames */
    assert_true(m.peak - m.base <= 1024); /* measured: 272 */
    assert_true(m.after - m.base <= 0);
    finish();
}

/* Twenty requests each stopping inside a 16384-octet HEADERS frame: the layer holds at most that
 * much per stream (h3conn.h: a header buffer of at most TOOL_H3_MAX_FIELD_SECTION octets while
 * the frame arrives) besides a small record; it all goes when the peer resets the streams. */
static void test_memory_partial_headers(void **state)
{
    (void)state;
    if (!h3fx_heap_measured())
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    enum { N = 20 };
    int64_t sid[N];
    for (int i = 0; i < N; i++) {
        bb b = {0};
        bb_vi(&b, F_HEADERS);
        bb_vi(&b, TOOL_H3_MAX_FIELD_SECTION);
        bb_hex(&b, "0000");
        bb_raw(&b, BODY, 1000);
        sid[i] = raw_open(1);
        raw_write(sid[i], b.d, b.n, 0);
        bb_free(&b);
    }
    heap_end(&m, "20 requests inside a 16384-octet HEADERS");
    expect_open();
    fprintf(stderr, "per stream: %lld (bound %d)\n", (m.peak - m.base) / N,
            TOOL_H3_MAX_FIELD_SECTION + 512);
    assert_true(m.peak - m.base <= (long long)N * (TOOL_H3_MAX_FIELD_SECTION + 512));
    for (int i = 0; i < N; i++)
        tern_stream_reset(R.c, sid[i], TOOL_H3_REQUEST_CANCELLED);
    heap_end(&m, "... after the peer reset them");
    assert_true(m.after - m.base <= 0);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

/* Fifty unidirectional streams whose type never completes (the first octet of an 8-octet
 * varint): what the layer keeps for each is small, and goes when they end. */
static void test_memory_pending_stream_types(void **state)
{
    (void)state;
    if (!h3fx_heap_measured())
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    int64_t sid[50];
    for (int i = 0; i < 50; i++) {
        sid[i] = raw_open(0);
        raw_write(sid[i], "\xc0", 1, 0);
    }
    heap_end(&m, "50 unidirectional streams inside their type");
    expect_open();
    assert_true(m.peak - m.base <= 50 * 80); /* measured: 2784 */
    for (int i = 0; i < 50; i++)
        raw_write(sid[i], NULL, 0, 1);
    heap_end(&m, "... after they ended");
    assert_true(m.after - m.base <= 0);
    expect_open();
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_informational),
        cmocka_unit_test(test_client_response_incomplete),
        cmocka_unit_test(test_client_bodiless),
        cmocka_unit_test(test_client_malformed_responses),
        cmocka_unit_test(test_client_content_length),
        cmocka_unit_test(test_client_response_frame_errors),
        cmocka_unit_test(test_client_split_every_byte),
        cmocka_unit_test(test_client_response_stream_errors),
        cmocka_unit_test(test_client_stops_reading),
        cmocka_unit_test(test_client_goaway),
        cmocka_unit_test(test_client_control_rules),
        cmocka_unit_test(test_client_push_promise),
        cmocka_unit_test(test_client_push_stream),
        cmocka_unit_test(test_client_server_bidi),
        cmocka_unit_test(test_client_peer_field_limit),
        cmocka_unit_test(test_memory_unknown_uni_streams),
        cmocka_unit_test(test_memory_unknown_frames_control),
        cmocka_unit_test(test_memory_priority_update),
        cmocka_unit_test(test_memory_unknown_frames_request),
        cmocka_unit_test(test_memory_partial_headers),
        cmocka_unit_test(test_memory_pending_stream_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
