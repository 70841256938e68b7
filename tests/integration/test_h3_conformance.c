/* HTTP/3 conformance of the tools' own layer (tools/common/h3conn.c, h3ctrl.c; RFC 9114, RFC 9204
 * and RFC 9218 as the layer's contract states them), the server side: requests served and
 * refused, field section sizes, content-length, malformed requests, frames on request streams, the
 * peer's control stream and unidirectional streams, GOAWAY. The fixture and how a case observes
 * the layer: h3fx.h. */
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

/* ---- server: requests served -------------------------------------------------------------- */

/* A GET of static references, FIN: the tool sees it field by field, answers, and the raw side
 * gets :status 200 and FIN; nothing fails. */
static void test_get_served(void **state)
{
    (void)state;
    start(1);
    int64_t sid = request_get();
    assert_int_equal(sid, 0);
    expect_open();
    expect_log("B0 H0 :method=GET H0 :scheme=https H0 :authority=example.com H0 :path=/ E0f F0 "
               "C0=100 ");
    expect_response(0, "200", NULL, 0);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

/* The layer's own control stream: its first frame SETTINGS with SETTINGS_MAX_FIELD_SECTION_SIZE
 * 16384, QPACK capacity and blocked streams 0 if present, exactly one reserved identifier
 * (0x1f * N + 0x21) and nothing else; no other unidirectional stream (no QPACK streams). */
static void check_settings_sent(int64_t ctrl_sid)
{
    settle();
    rstream *s = rs_find(ctrl_sid);
    assert_non_null(s);
    assert_false(s->fin);
    assert_true(s->len >= 1);
    assert_int_equal(s->buf[0], S_CONTROL);
    size_t off = 1;
    pframe f;
    assert_true(next_frame(s->buf, s->len, &off, &f));
    assert_int_equal(f.type, F_SETTINGS);
    int field_size = 0, grease = 0;
    for (size_t i = 0; i < f.len;) {
        uint64_t id = 0, v = 0;
        size_t a = get_vi(f.pl + i, f.len - i, &id);
        assert_true(a > 0);
        size_t b = get_vi(f.pl + i + a, f.len - i - a, &v);
        assert_true(b > 0);
        i += a + b;
        if (id == 0x06) {
            assert_int_equal(v, TOOL_H3_MAX_FIELD_SECTION);
            field_size++;
        } else if (id == 0x01 || id == 0x07) {
            assert_int_equal(v, 0);
        } else if (id >= 0x21 && (id - 0x21) % 0x1f == 0) {
            grease++;
        } else {
            fail_msg("setting 0x%llx sent", (unsigned long long)id);
        }
    }
    assert_int_equal(field_size, 1);
    assert_int_equal(grease, 1);
    for (int i = 0; i < R.n; i++)
        if ((R.st[i].sid & 2) && R.st[i].sid != ctrl_sid && R.st[i].sid != R.ctrl)
            fail_msg("the layer opened unidirectional stream %lld", (long long)R.st[i].sid);
}

static void test_settings_sent_server(void **state)
{
    (void)state;
    start(1);
    check_settings_sent(3);
    expect_open();
    finish();
}

static void test_settings_sent_client(void **state)
{
    (void)state;
    start(0);
    check_settings_sent(2);
    expect_open();
    finish();
}

/* POST with content-length 5 and its body in two DATA frames with unknown frames between. */
static void test_post_body(void **state)
{
    (void)state;
    start(1);
    static const fld f[] = {F(":method", "POST"), F(":scheme", "https"),
                            F(":authority", "example.com"), F(":path", "/up"),
                            F("content-length", "5")};
    bb b = {0};
    bb_frame(&b, F_GREASE, "zz", 2);
    bb_headers(&b, f, 5);
    bb_frame(&b, F_DATA, "he", 2);
    bb_frame(&b, F_GREASE_BIG, "", 0);
    bb_frame(&b, F_DATA, "", 0);
    bb_frame(&b, F_DATA, "llo", 3);
    bb_frame(&b, F_GREASE, "x", 1);
    int64_t sid = request_bb(&b, 1);
    expect_open();
    expect_log("B0 H0 :method=POST H0 :scheme=https H0 :authority=example.com H0 :path=/up "
               "H0 content-length=5 E0 D0 F0 C0=100 ");
    tstream *t = ts_get(sid);
    assert_int_equal(t->btotal, 5);
    assert_memory_equal(t->body, "hello", 5);
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* Trailers are checked, not reported; the message ends well. */
static void test_trailers_accepted(void **state)
{
    (void)state;
    start(1);
    static const fld f[] = {REQ_GET};
    static const fld tr[] = {F("x-checksum", "abc")};
    bb b = {0};
    bb_headers(&b, f, 4);
    bb_frame(&b, F_DATA, "body", 4);
    bb_headers(&b, tr, 1);
    bb_frame(&b, F_GREASE, "after", 5);
    request_bb(&b, 1);
    expect_open();
    expect_log("B0 H0 :method=GET H0 :scheme=https H0 :authority=example.com H0 :path=/ E0 D0 "
               "F0 C0=100 ");
    expect_response(0, "200", NULL, 0);
    finish();
}

/* Every byte of the control stream and of a request in its own packet (so every varint and every
 * frame is split at every position): the same outcome as in one piece. */
static void test_split_every_byte(void **state)
{
    (void)state;
    start_ctrl(1, (const uint8_t *)"", 0); /* the control stream opened, nothing on it yet */
    bb c = {0};
    bb_byte(&c, S_CONTROL);
    bb s = {0};
    bb_vi(&s, 0x06);
    bb_vi(&s, 16384);
    bb_vi(&s, 0x21 + 0x1f * 7);
    bb_vi_n(&s, 5, 8);
    bb_frame(&c, F_SETTINGS, s.d, s.n);
    bb_free(&s);
    bb_frame(&c, F_GREASE_BIG, "grease", 6);
    raw_write_bytewise(R.ctrl, c.d, c.n, 0);
    bb_free(&c);
    static const fld f[] = {F(":method", "POST"), F(":scheme", "https"),
                            F(":authority", "example.com"), F(":path", "/split"),
                            F("content-length", "300")};
    static const fld tr[] = {F("x-t", "1")};
    bb r = {0};
    bb_headers(&r, f, 5);
    bb_frame(&r, F_GREASE, "g", 1);
    bb_frame(&r, F_DATA, BODY, 200); /* a 2-octet length */
    bb_frame(&r, F_DATA, BODY + 200, 100);
    bb_headers(&r, tr, 1);
    int64_t sid = raw_open(1);
    raw_write_bytewise(sid, r.d, r.n, 1);
    bb_free(&r);
    settle();
    expect_open();
    const char *head = "B0 H0 :method=POST H0 :scheme=https H0 :authority=example.com "
                       "H0 :path=/split H0 content-length=300 E0 D0 F0 C0=100 ";
    expect_log(head);
    tstream *t = ts_get(sid);
    assert_int_equal(t->btotal, 300);
    assert_memory_equal(t->body, BODY, 300);
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* A length on 8 octets where 1 would do is still the same length (RFC 9000 §16). */
static void test_long_varint_length(void **state)
{
    (void)state;
    start(1);
    bb s = {0};
    bb_hex(&s, "0000 d1 d7 50 01 61 c1");
    bb b = {0};
    bb_vi(&b, F_HEADERS);
    bb_vi_n(&b, s.n, 8);
    bb_raw(&b, s.d, s.n);
    bb_free(&s);
    request_bb(&b, 1);
    expect_open();
    want_log("E0f F0 ");
    finish();
}

/* A 200 KB body: DATA frames that the raw side reassembles byte for byte. */
/* Twenty requests at once, their frames interleaved across streams, each with its own body: every
 * callback goes to the right stream and every response comes back whole. */
static void concurrent_requests(int lossy)
{
    start(1);
    if (lossy) {
        P.c2s.loss = P.s2c.loss = 0.05;
        P.c2s.reorder = P.s2c.reorder = 0.1;
        P.c2s.reorder_ns = P.s2c.reorder_ns = 20 * MS;
    }
    S.resp_len = 20000;
    enum { N = 20 };
    int64_t sid[N];
    bb part[N][3];
    memset(part, 0, sizeof(part));
    for (int i = 0; i < N; i++) {
        char path[16], cl[16];
        snprintf(path, sizeof(path), "/r%d", i);
        snprintf(cl, sizeof(cl), "%d", 1000 + i);
        fld f[] = {F(":method", "POST"),
                   F(":scheme", "https"),
                   F(":authority", "a"),
                   {":path", 5, path, strlen(path)},
                   {"content-length", 14, cl, strlen(cl)}};
        bb_headers(&part[i][0], f, 5);
        bb_frame(&part[i][1], F_DATA, BODY + i, 600);
        bb_frame(&part[i][2], F_DATA, BODY + i + 600, 400 + (size_t)i);
        sid[i] = raw_open(1);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < N; i++) {
            raw_write(sid[i], part[i][k].d, part[i][k].n, k == 2);
            bb_free(&part[i][k]);
            if (i % 7 == 0)
                pair_run(&P, never, 3 * MS);
        }
    pair_run(&P, never, lossy ? 20 * SEC : 3 * SEC);
    expect_open();
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof(want), "H%lld :path=/r%d ", (long long)sid[i], i);
        want_log(want);
        snprintf(want, sizeof(want), "F%lld ", (long long)sid[i]);
        want_log(want);
        snprintf(want, sizeof(want), "C%lld=100 ", (long long)sid[i]);
        want_log(want);
        tstream *t = ts_get(sid[i]);
        assert_int_equal(t->btotal, 1000 + i);
        assert_int_equal(t->bhash, fnv(0xcbf29ce484222325ull, BODY + i, 1000 + (size_t)i));
        expect_response(sid[i], "200", BODY, 20000);
    }
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

static void test_concurrent_requests(void **state)
{
    (void)state;
    concurrent_requests(0);
}

/* The same on a link that loses 5% of the datagrams and reorders 10%. */
static void test_concurrent_requests_lossy(void **state)
{
    (void)state;
    concurrent_requests(1);
}

/* A 300 KB request body passes through recv_data in order. */
static void test_large_request_body(void **state)
{
    (void)state;
    start(1);
    fld f[] = {F(":method", "PUT"), F(":scheme", "https"), F(":authority", "a"), F(":path", "/")};
    bb b = {0};
    bb_headers(&b, f, 4);
    for (size_t off = 0; off < 300 * 1024; off += 30 * 1024)
        bb_frame(&b, F_DATA, BODY + off / 3, 30 * 1024);
    int64_t sid = raw_open(1);
    raw_write(sid, b.d, b.n, 1);
    bb_free(&b);
    pair_run(&P, never, 2 * SEC);
    expect_open();
    tstream *t = ts_get(sid);
    assert_int_equal(t->btotal, 300 * 1024);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t off = 0; off < 300 * 1024; off += 30 * 1024)
        h = fnv(h, BODY + off / 3, 30 * 1024);
    assert_int_equal(t->bhash, h);
    want_log("D0 F0 C0=100 ");
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* The peer resets its request mid-body: the close reports the peer's code; the peer asks the
 * server to stop sending its response: the stream closes, the connection serves on. */
static void test_peer_abandons(void **state)
{
    (void)state;
    start(1);
    fld f[] = {F(":method", "PUT"), F(":scheme", "https"), F(":authority", "a"), F(":path", "/")};
    bb b = {0};
    bb_headers(&b, f, 4);
    bb_frame(&b, F_DATA, BODY, 100);
    int64_t sid = request_bb(&b, 0);
    tern_stream_reset(R.c, sid, TOOL_H3_REQUEST_CANCELLED);
    settle();
    expect_open();
    want_log("C0=10c ");
    want_no_log("F0 ");
    assert_int_equal(tool_h3_open_streams(S.h), 0);

    S.resp_len = 200 * 1024;
    S.resp_wouldblock = 1; /* the response waits: the STOP_SENDING comes before its end */
    sid = request_get();
    tern_stream_stop_sending(R.c, sid, TOOL_H3_REQUEST_CANCELLED);
    settle();
    S.resp_release = 1;
    tool_h3_resume_stream(S.h, sid);
    tool_h3_flush(S.h);
    pair_run(&P, never, 2 * SEC);
    expect_open();
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->reset);
    char want[16];
    snprintf(want, sizeof(want), "C%lld=", (long long)sid);
    want_log(want);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    int64_t next = request_get();
    pair_run(&P, never, 2 * SEC);
    expect_response(next, "200", BODY, 200 * 1024);
    finish();
}

/* Stream types on several octets, written one octet per packet. */
static void test_uni_types_split(void **state)
{
    (void)state;
    start(1);
    int64_t unk = raw_open(0), enc = raw_open(0);
    static const uint8_t u[] = {0xbf, 0xff, 0xff, 0xff}; /* then STOP_SENDING */
    static const uint8_t e[] = {0x40, 0x02, 0x20};
    raw_write_bytewise(unk, u, sizeof(u), 0);
    raw_write_bytewise(enc, e, sizeof(e), 0);
    settle();
    expect_open();
    rstream *s = rs_find(unk);
    assert_non_null(s);
    assert_true(s->stopped);
    assert_int_equal(s->stop_code, TOOL_H3_STREAM_CREATION_ERROR);
    /* the 2-octet type 0x0002 is the encoder stream: a second one is an error */
    raw_uni_bb(S_ENCODER, NULL, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
}

static void test_large_response(void **state)
{
    (void)state;
    start(1);
    S.resp_len = 200 * 1024;
    int64_t sid = request_get();
    pair_run(&P, never, 2 * SEC);
    expect_open();
    expect_response(sid, "200", BODY, 200 * 1024);
    want_log("C0=100 ");
    assert_int_equal(S.acked, 200 * 1024);
    finish();
}

/* Body memory handed to tern by reference (tool_h3.by_ref): the body arrives intact, every
 * reference taken is released once, the last after tern has no more use for it. */
static void ref_release(void *ud, const void *data, size_t len)
{
    (void)ud;
    assert_true((const uint8_t *)data >= BODY &&
                (const uint8_t *)data + len <= BODY + sizeof(BODY));
    S.ref_released += len;
    S.ref_releases++;
}

static int ref_take(void *app, int64_t sid, const uint8_t *base, size_t len,
                    tern_release_fn *release, void **rud)
{
    (void)sid;
    (void)base;
    assert_ptr_equal(app, &S);
    S.ref_taken += len;
    S.ref_takes++;
    *release = ref_release;
    *rud = &S;
    return 1;
}

static void test_response_by_reference(void **state)
{
    (void)state;
    start(1);
    S.h->by_ref = ref_take;
    S.resp_len = 150 * 1024 + 7;
    int64_t sid = request_get();
    pair_run(&P, never, 2 * SEC);
    expect_open();
    expect_response(sid, "200", BODY, 150 * 1024 + 7);
    assert_int_equal(S.ref_taken, 150 * 1024 + 7);
    assert_true(S.ref_takes > 0);
    assert_int_equal(S.ref_releases, S.ref_takes);
    assert_int_equal(S.ref_released, S.ref_taken);
    assert_int_equal(S.acked, 150 * 1024 + 7);
    finish();
}

/* A 3 MB body, three times what tern buffers per stream: the layer waits for on_writable. */
static void test_response_beyond_send_buffer(void **state)
{
    (void)state;
    start(1);
    size_t n = 3 * 1024 * 1024;
    S.resp_len = n;
    int64_t sid = request_get();
    pair_run(&P, never, 5 * SEC);
    expect_open();
    uint8_t *want = malloc(n);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++)
        want[i] = BODY[i % sizeof(BODY)];
    expect_response(sid, "200", want, n);
    free(want);
    assert_int_equal(S.acked, n);
    want_log("C0=100 ");
    finish();
}

/* read_data with nothing yet: the body follows tool_h3_resume_stream. */
static void test_response_resumed(void **state)
{
    (void)state;
    start(1);
    S.resp_len = 3000;
    S.resp_wouldblock = 1;
    int64_t sid = request_get();
    rstream *s = rs_find(sid);
    assert_true(ts_get(sid)->blocked > 0);
    assert_true(!s || !s->fin);
    S.resp_release = 1;
    tool_h3_resume_stream(S.h, sid);
    tool_h3_flush(S.h);
    settle();
    expect_open();
    expect_response(sid, "200", BODY, 3000);
    finish();
}

/* read_data failing: the response stream is reset with H3_INTERNAL_ERROR. */
static void test_response_read_fails(void **state)
{
    (void)state;
    start(1);
    S.resp_len = 1000;
    S.resp_fail = 1;
    int64_t sid = request_get();
    expect_stream_error(sid, TOOL_H3_INTERNAL_ERROR, 0);
    want_log("C0=102 ");
    finish();
}

/* A callback's nonzero answer fails the connection with H3_INTERNAL_ERROR. */
static void test_callback_fails(void **state)
{
    (void)state;
    start(1);
    S.fail_header = 1;
    request_get();
    expect_close(TOOL_H3_INTERNAL_ERROR);
    finish();
}

/* tool_h3_abort_stream: RESET_STREAM with the tool's code; the close once the peer's side ended. */
static void test_abort_stream(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_get(&b);
    int64_t sid = request_bb(&b, 0);
    want_log("E0 ");
    tool_h3_abort_stream(S.h, sid, TOOL_H3_REQUEST_CANCELLED);
    tool_h3_flush(S.h);
    settle();
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->reset);
    assert_int_equal(s->reset_code, TOOL_H3_REQUEST_CANCELLED);
    raw_write(sid, NULL, 0, 1);
    settle();
    want_log("C0=10c ");
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    expect_open();
    finish();
}

/* The client's SETTINGS_MAX_FIELD_SECTION_SIZE bounds the response submit_response sends. */
static void test_server_peer_field_limit(void **state)
{
    (void)state;
    bb c = {0};
    bb_hex(&c, "00 0402 06 2a"); /* 42: :status 200 fits, one more field does not */
    start_bb(1, &c);
    S.respond = 0;
    int64_t a = request_get(), b = request_get();
    static const tool_qpack_field big[] = {QF(":status", "200"), QF("x", "")};
    assert_int_equal(tool_h3_submit_response(S.h, a, big, 2, 0), -1);
    assert_int_equal(tool_h3_submit_response(S.h, b, big, 1, 0), 0);
    tool_h3_flush(S.h);
    settle();
    expect_response(b, "200", NULL, 0);
    expect_open();
    finish();
}

/* The user data attached in begin_headers reaches every later callback of the stream, the
 * request's body and the response's read_data included; a second response is refused. */
static void test_stream_user_data(void **state)
{
    (void)state;
    start(1);
    S.set_ud = 1;
    S.respond = 0;
    S.resp_len = 5000;
    static const fld f[] = {F(":method", "POST"), F(":scheme", "https"), F(":authority", "a"),
                            F(":path", "/")};
    bb b = {0};
    bb_headers(&b, f, 4);
    bb_frame(&b, F_DATA, "abc", 3);
    int64_t sid = request_bb(&b, 1);
    static const tool_qpack_field status = QF(":status", "200");
    assert_int_equal(tool_h3_submit_response(S.h, sid, &status, 1, 1), 0);
    assert_int_equal(tool_h3_submit_response(S.h, sid, &status, 1, 0), -1);
    assert_int_equal(tool_h3_submit_response(S.h, sid + 4, &status, 1, 0), -1);
    tool_h3_flush(S.h);
    settle();
    expect_open();
    want_no_log("!");
    expect_log("B0 H0 :method=POST H0 :scheme=https H0 :authority=a H0 :path=/ E0 D0 F0 C0=100 ");
    expect_response(sid, "200", BODY, 5000);
    assert_int_equal(tool_h3_set_stream_user_data(S.h, sid, NULL), -1); /* its record is gone */
    finish();
}

/* ---- field section size ------------------------------------------------------------------- */

/* The Huffman code (RFC 7541 Appendix B) of "0" + n tabs + "0": '0' is 00000, a tab is the 24-bit
 * 0xffffea, the end is padded with ones. The string is three times as long coded as decoded, so
 * that a section can take 16384 encoded octets and stay within 16384 decoded ones. */
static void bb_huff_tabs(bb *b, size_t n)
{
    uint64_t acc = 0;
    int bits = 5;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 24 | 0xffffea;
        bits += 24;
        while (bits >= 8) {
            bb_byte(b, (uint8_t)(acc >> (bits - 8)));
            bits -= 8;
        }
        acc &= ((uint64_t)1 << bits) - 1;
    }
    acc <<= 5;
    bits += 5;
    while (bits >= 8) {
        bb_byte(b, (uint8_t)(acc >> (bits - 8)));
        bits -= 8;
    }
    if (bits)
        bb_byte(b, (uint8_t)((acc << (8 - bits)) | (0xff >> bits)));
}

/* A request whose HEADERS payload is exactly `size` octets (from 1000 up): static references,
 * a Huffman-coded field of tabs and a literal padding field. */
static void bb_sized_headers(bb *b, size_t size)
{
    bb s = {0};
    bb_hex(&s, "0000 d1 d7 50 01 61 c1");
    bb_qint(&s, 0x20, 3, 5);
    bb_raw(&s, "x-tab", 5);
    bb h = {0};
    bb_huff_tabs(&h, 200);
    assert_int_equal(h.n, 602);
    bb_qint(&s, 0x80, 7, h.n);
    bb_raw(&s, h.d, h.n);
    bb_free(&h);
    bb_qint(&s, 0x20, 3, 5);
    bb_raw(&s, "x-pad", 5);
    size_t pad = size - s.n - 3; /* its length takes 3 octets from 255 up to 16510 */
    bb_qint(&s, 0x00, 7, pad);
    for (size_t i = 0; i < pad; i++)
        bb_byte(&s, 'a');
    assert_int_equal(s.n, size);
    bb_frame(b, F_HEADERS, s.d, s.n);
    bb_free(&s);
}

static void test_headers_16384_accepted(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_sized_headers(&b, 16384);
    request_bb(&b, 1);
    expect_open();
    want_log("H0 x-pad=aaaa");
    want_log("E0f F0 C0=100 ");
    expect_response(0, "200", NULL, 0);
    finish();
}

static void test_headers_16385_rejected(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_sized_headers(&b, 16385);
    request_bb(&b, 1);
    expect_stream_error(0, TOOL_H3_EXCESSIVE_LOAD, 1);
    want_no_log("H0 ");
    finish();
}

/* Decided from the length alone: the payload never arrives. */
static void test_headers_oversize_decided_early(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_vi(&b, F_HEADERS);
    bb_vi(&b, 1u << 20);
    bb_hex(&b, "0000 d1");
    request_bb(&b, 0);
    expect_stream_error(0, TOOL_H3_EXCESSIVE_LOAD, 1);
    want_no_log("H0 ");
    finish();
}

/* ---- content-length ----------------------------------------------------------------------- */

static int64_t post_cl(const char *cl, const char *cl2, const char *body, size_t n, int fin)
{
    fld f[6] = {F(":method", "POST"),
                F(":scheme", "https"),
                F(":authority", "a"),
                F(":path", "/"),
                {"content-length", 14, cl, strlen(cl)},
                {"content-length", 14, cl2, cl2 ? strlen(cl2) : 0}};
    bb b = {0};
    bb_headers(&b, f, cl2 ? 6 : 5);
    if (n)
        bb_frame(&b, F_DATA, body, n);
    return request_bb(&b, fin);
}

static void test_content_length_match(void **state)
{
    (void)state;
    start(1);
    post_cl("4", "4", "abcd", 4, 1); /* twice the same value is one value */
    expect_open();
    want_log("D0 F0 ");
    expect_response(0, "200", NULL, 0);
    finish();
}

static void test_content_length_over(void **state)
{
    (void)state;
    start(1);
    post_cl("3", NULL, "abcd", 4, 0);
    expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
    want_log("C0=10e ");
    want_no_log("F0 ");
    finish();
}

static void test_content_length_under(void **state)
{
    (void)state;
    start(1);
    post_cl("10", NULL, "abcd", 4, 1);
    expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 0);
    want_log("C0=10e ");
    want_no_log("F0 ");
    finish();
}

static void test_content_length_two_values(void **state)
{
    (void)state;
    start(1);
    post_cl("4", "5", "abcd", 4, 0);
    expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
    finish();
}

static void test_content_length_not_digits(void **state)
{
    (void)state;
    static const char *bad[] = {"4a", "", "-1", " 4", "0x4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        start(1);
        post_cl(bad[i], NULL, "abcd", 4, 0);
        expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
        finish();
    }
}

/* ---- malformed requests (RFC 9114 §4.1.2, §4.2, §4.3.1) ----------------------------------- */


static const mcase malformed[] = {
    CASE("uppercase name", REQ_GET, F("X-Foo", "1")),
    CASE("space in name", REQ_GET, F("x foo", "1")),
    CASE("colon in name", REQ_GET, F("x:foo", "1")),
    CASE("control byte in name", REQ_GET,
         F("x\x01"
           "foo",
           "1")),
    CASE("empty name", REQ_GET, F("", "1")),
    CASE("uppercase pseudo", F(":Method", "GET"), F(":scheme", "https"),
         F(":authority", "example.com"), F(":path", "/")),
    CASE("NUL in value", REQ_GET, F("x-foo", "a\0b")),
    CASE("CR in value", REQ_GET, F("x-foo", "a\rb")),
    CASE("LF in value", REQ_GET, F("x-foo", "a\nb")),
    CASE("leading space", REQ_GET, F("x-foo", " a")),
    CASE("trailing space", REQ_GET, F("x-foo", "a ")),
    CASE("leading tab", REQ_GET, F("x-foo", "\ta")),
    CASE("trailing tab", REQ_GET, F("x-foo", "a\t")),
    CASE("pseudo after regular", F(":method", "GET"), F(":scheme", "https"), F("x-foo", "1"),
         F(":authority", "example.com"), F(":path", "/")),
    CASE("undefined pseudo", REQ_GET, F(":foo", "1")),
    CASE(":status in request", REQ_GET, F(":status", "200")),
    CASE(":protocol", F(":method", "CONNECT"), F(":protocol", "websocket"), F(":scheme", "https"),
         F(":authority", "example.com"), F(":path", "/")),
    CASE("two :path", REQ_GET, F(":path", "/x")),
    CASE("two :method", REQ_GET, F(":method", "GET")),
    CASE("no :method", F(":scheme", "https"), F(":authority", "example.com"), F(":path", "/")),
    CASE("no :scheme", F(":method", "GET"), F(":authority", "example.com"), F(":path", "/")),
    CASE("no :path", F(":method", "GET"), F(":scheme", "https"), F(":authority", "example.com")),
    CASE("empty :path", F(":method", "GET"), F(":scheme", "https"), F(":authority", "example.com"),
         F(":path", "")),
    CASE("CONNECT with :scheme", F(":method", "CONNECT"), F(":scheme", "https"),
         F(":authority", "example.com:443")),
    CASE("CONNECT with :path", F(":method", "CONNECT"), F(":authority", "example.com:443"),
         F(":path", "/")),
    CASE("CONNECT without :authority", F(":method", "CONNECT")),
    CASE("connection", REQ_GET, F("connection", "close")),
    CASE("keep-alive", REQ_GET, F("keep-alive", "5")),
    CASE("proxy-connection", REQ_GET, F("proxy-connection", "close")),
    CASE("transfer-encoding", REQ_GET, F("transfer-encoding", "chunked")),
    CASE("upgrade", REQ_GET, F("upgrade", "h2c")),
    CASE("te other than trailers", REQ_GET, F("te", "gzip")),
    /* RFC 9114 §4.3.1: an https request names its authority in :authority or host, neither
     * empty, the same in both */
    CASE("https without :authority or host", F(":method", "GET"), F(":scheme", "https"),
         F(":path", "/")),
    CASE("empty :authority", F(":method", "GET"), F(":scheme", "https"), F(":authority", ""),
         F(":path", "/")),
    CASE("empty host", F(":method", "GET"), F(":scheme", "https"), F(":path", "/"), F("host", "")),
    CASE(":authority and host differ", REQ_GET, F("host", "other.example")),
    CASE("two different host values", F(":method", "GET"), F(":scheme", "https"), F(":path", "/"),
         F("host", "example.com"), F("host", "example.org")),
    CASE("empty :authority of CONNECT", F(":method", "CONNECT"), F(":authority", "")),
};

/* Each malformed section, without FIN: the stream is reset and stopped with H3_MESSAGE_ERROR,
 * the tool learns it in stream_close and never sees end_headers; the connection lives on and
 * serves the next request. */
static void test_malformed_requests(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        start(1);
        int64_t sid = request_fields(malformed[i].f, malformed[i].n, 0);
        settle();
        rstream *s = rs_find(sid);
        if (!s || !s->reset || s->reset_code != TOOL_H3_MESSAGE_ERROR || !s->stopped ||
            s->stop_code != TOOL_H3_MESSAGE_ERROR || close_code() != -1 || log_has("E0") ||
            !log_has("C0=10e ")) {
            fprintf(stderr,
                    "malformed request '%s' not refused: reset %d 0x%llx stop %d 0x%llx "
                    "close 0x%llx; log: %s\n",
                    malformed[i].name, s ? s->reset : 0,
                    s ? (unsigned long long)s->reset_code : 0ull, s ? s->stopped : 0,
                    s ? (unsigned long long)s->stop_code : 0ull, close_code(), S.log);
            failed++;
        } else {
            int64_t next = request_get();
            expect_open();
            expect_response(next, "200", NULL, 0);
        }
        finish();
    }
    assert_int_equal(failed, 0);
}

/* The valid neighbours of the malformed cases. */
static void test_valid_requests(void **state)
{
    (void)state;
    const mcase valid[] = {
        CASE("te trailers", REQ_GET, F("te", "trailers")),
        CASE("CONNECT", F(":method", "CONNECT"), F(":authority", "example.com:443")),
        CASE("tab inside value", REQ_GET, F("x-foo", "a\tb c")),
        CASE("token characters", REQ_GET, F("x-!#$%&'*+-.^_`|~09az", "1")),
        CASE("empty value", REQ_GET, F("x-foo", "")),
        CASE("obs-text value", REQ_GET, F("x-foo", "caf\xc3\xa9")),
        CASE("http scheme", F(":method", "GET"), F(":scheme", "http"),
             F(":authority", "example.com"), F(":path", "/")),
        CASE("host instead of :authority", F(":method", "GET"), F(":scheme", "https"),
             F(":path", "/"), F("host", "example.com")),
        CASE(":authority and the same host", REQ_GET, F("host", "example.com")),
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        start(1);
        int64_t sid = request_fields(valid[i].f, valid[i].n, 1);
        settle();
        if (close_code() != -1 || !log_has("E0f F0 C0=100 "))
            fail_msg("%s: close 0x%llx log %s", valid[i].name, close_code(), S.log);
        expect_response(sid, "200", NULL, 0);
        finish();
    }
}

/* Trailers with a pseudo-header, or a malformed field, make the message malformed. */
static void test_malformed_trailers(void **state)
{
    (void)state;
    static const fld get[] = {REQ_GET};
    static const fld tr1[] = {F(":path", "/")};
    static const fld tr2[] = {F("X-Bad", "1")};
    const fld *trs[] = {tr1, tr2};
    for (int i = 0; i < 2; i++) {
        start(1);
        bb b = {0};
        bb_headers(&b, get, 4);
        bb_frame(&b, F_DATA, "x", 1);
        bb_headers(&b, trs[i], 1);
        request_bb(&b, 0);
        expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
        want_no_log("F0 ");
        finish();
    }
}

/* A FIN before any HEADERS: H3_REQUEST_INCOMPLETE on the stream. */
static void test_request_incomplete(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        start(1);
        bb b = {0};
        if (i)
            bb_frame(&b, F_GREASE, "abc", 3);
        int64_t sid = raw_open(1);
        if (b.n)
            raw_write_bb(sid, &b, 1);
        else
            raw_write(sid, NULL, 0, 1);
        expect_stream_error(sid, TOOL_H3_REQUEST_INCOMPLETE, 0);
        want_no_log("E0");
        finish();
    }
}

/* ---- frames on a request stream ----------------------------------------------------------- */

static void test_request_frame_errors(void **state)
{
    (void)state;
    static const fld get[] = {REQ_GET};
    static const struct {
        const char *name;
        int headers_first;
        uint64_t type;
        const char *payload_hex;
        uint64_t code;
    } c[] = {
        {"DATA first", 0, F_DATA, "616263", TOOL_H3_FRAME_UNEXPECTED},
        {"SETTINGS", 1, F_SETTINGS, "", TOOL_H3_FRAME_UNEXPECTED},
        {"GOAWAY", 1, F_GOAWAY, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"MAX_PUSH_ID", 1, F_MAX_PUSH_ID, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"CANCEL_PUSH", 1, F_CANCEL_PUSH, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"SETTINGS first", 0, F_SETTINGS, "", TOOL_H3_FRAME_UNEXPECTED},
        {"GOAWAY first", 0, F_GOAWAY, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"PUSH_PROMISE to a server", 1, F_PUSH_PROMISE, "00 0000d1", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY", 1, 0x02, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PING", 1, 0x06, "0000000000000000", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 WINDOW_UPDATE", 1, 0x08, "00000001", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 CONTINUATION", 1, 0x09, "", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY first", 0, 0x02, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"QPACK failure: insert count", 0, F_HEADERS, "0100 d1", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: dynamic ref", 0, F_HEADERS, "0000 81", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: static 99", 0, F_HEADERS, "0000 ff24", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: truncated line", 0, F_HEADERS, "0000 5f", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: post-base", 0, F_HEADERS, "0000 10", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: empty HEADERS", 0, F_HEADERS, "", TOOL_QPACK_DECOMPRESSION_FAILED},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(1);
        bb b = {0}, pl = {0};
        if (c[i].headers_first)
            bb_headers(&b, get, 4);
        bb_hex(&pl, c[i].payload_hex);
        bb_frame(&b, c[i].type, pl.d, pl.n);
        bb_free(&pl);
        request_bb(&b, 0);
        settle();
        if (close_code() != (long long)c[i].code)
            fail_msg("%s: close 0x%llx, expected 0x%llx; log %s", c[i].name, close_code(),
                     (unsigned long long)c[i].code, S.log);
        assert_true(S.h->failed);
        finish();
    }
}

/* Anything but unknown frames after the trailers. */
static void test_after_trailers(void **state)
{
    (void)state;
    static const fld get[] = {REQ_GET};
    static const fld tr[] = {F("x-t", "1")};
    for (int i = 0; i < 2; i++) {
        start(1);
        bb b = {0};
        bb_headers(&b, get, 4);
        bb_headers(&b, tr, 1);
        if (i)
            bb_headers(&b, tr, 1);
        else
            bb_frame(&b, F_DATA, "x", 1);
        request_bb(&b, 0);
        expect_close(TOOL_H3_FRAME_UNEXPECTED);
        finish();
    }
}

/* A request stream ending inside a frame (its type, its length or its payload). */
static void test_request_truncated(void **state)
{
    (void)state;
    static const char *cut[] = {"01", "01 05", "01 05 0000d1", "00 41", "40"};
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        start(1);
        bb b = {0};
        if (i == 3)
            bb_get(&b);
        bb_hex(&b, cut[i]);
        request_bb(&b, 1);
        settle();
        if (close_code() != TOOL_H3_FRAME_ERROR)
            fail_msg("cut '%s': close 0x%llx; log %s", cut[i], close_code(), S.log);
        finish();
    }
}

/* ---- the peer's control stream ------------------------------------------------------------ */

static void ctrl_case(const char *name, const char *hex, uint64_t code)
{
    bb c = {0};
    bb_hex(&c, hex);
    start_bb(1, &c);
    settle();
    long long got = close_code();
    if (got != (code ? (long long)code : -1))
        fail_msg("%s (%s): close 0x%llx, expected 0x%llx; log %s", name, hex, got,
                 (unsigned long long)code, S.log);
    if (!code) { /* accepted: the connection still serves */
        int64_t sid = request_get();
        expect_open();
        expect_response(sid, "200", NULL, 0);
    }
    finish();
}

static void test_control_stream_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
        uint64_t code;
    } c[] = {
        /* accepted */
        {"empty SETTINGS", "00 0400", 0},
        {"SETTINGS of every kept kind", "00 040b 01 00 06 4400 07 00 08 01 33 01", 0},
        {"unknown and reserved settings", "00 040a 21 05 40ff 01 3e 80000000", 0},
        {"connect protocol 0, datagram 0", "00 0404 08 00 33 00", 0},
        /* the response that follows still references no dynamic table */
        {"peer allows a dynamic table", "00 0406 01 5000 07 4064", 0},
        {"grease frames after SETTINGS", "00 0400 21 03 616263 5f 00 4040 01 00", 0},
        {"PRIORITY_UPDATE", "00 0400 800f0700 04 00 753d31", 0},
        {"MAX_PUSH_ID", "00 0400 0d 01 05", 0},
        {"MAX_PUSH_ID same and larger", "00 0400 0d 01 05 0d 01 05 0d 01 07", 0},
        {"GOAWAY from a client", "00 0400 07 01 05", 0},
        {"GOAWAY same and smaller", "00 0400 07 01 05 07 01 05 07 01 02", 0},
        /* SETTINGS */
        {"setting 0x00", "00 0402 00 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x02", "00 0402 02 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x03", "00 0402 03 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x04", "00 0402 04 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x05", "00 0402 05 00", TOOL_H3_SETTINGS_ERROR},
        {"0x06 twice", "00 0404 06 10 06 10", TOOL_H3_SETTINGS_ERROR},
        {"0x01 twice", "00 0404 01 00 01 00", TOOL_H3_SETTINGS_ERROR},
        {"0x07 twice", "00 0404 07 00 07 00", TOOL_H3_SETTINGS_ERROR},
        {"0x08 twice", "00 0404 08 00 08 01", TOOL_H3_SETTINGS_ERROR},
        {"connect protocol 2", "00 0402 08 02", TOOL_H3_SETTINGS_ERROR},
        {"datagram 2", "00 0403 33 40 02", TOOL_H3_SETTINGS_ERROR},
        {"SETTINGS ends in a varint", "00 0402 06 40", TOOL_H3_FRAME_ERROR},
        {"SETTINGS ends after an identifier", "00 0401 06", TOOL_H3_FRAME_ERROR},
        /* order and kinds of frames */
        {"GOAWAY first", "00 07 01 00", TOOL_H3_MISSING_SETTINGS},
        {"DATA first", "00 00 01 00", TOOL_H3_MISSING_SETTINGS},
        {"unknown frame first", "00 21 00 0400", TOOL_H3_MISSING_SETTINGS},
        {"second SETTINGS", "00 0400 0400", TOOL_H3_FRAME_UNEXPECTED},
        {"DATA", "00 0400 00 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"HEADERS", "00 0400 01 03 0000d1", TOOL_H3_FRAME_UNEXPECTED},
        {"PUSH_PROMISE", "00 0400 05 04 00 0000d1", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY", "00 0400 02 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PING", "00 0400 06 08 0000000000000000", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 WINDOW_UPDATE", "00 0400 08 04 00000001", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 CONTINUATION", "00 0400 09 00", TOOL_H3_FRAME_UNEXPECTED},
        /* one varint payloads */
        {"GOAWAY empty", "00 0400 07 00", TOOL_H3_FRAME_ERROR},
        {"GOAWAY two varints", "00 0400 07 02 05 05", TOOL_H3_FRAME_ERROR},
        {"GOAWAY short varint", "00 0400 07 01 40", TOOL_H3_FRAME_ERROR},
        {"MAX_PUSH_ID empty", "00 0400 0d 00", TOOL_H3_FRAME_ERROR},
        {"MAX_PUSH_ID two varints", "00 0400 0d 02 05 05", TOOL_H3_FRAME_ERROR},
        {"CANCEL_PUSH empty", "00 0400 03 00", TOOL_H3_FRAME_ERROR},
        {"CANCEL_PUSH two varints", "00 0400 03 02 00 00", TOOL_H3_FRAME_ERROR},
        /* IDs */
        {"GOAWAY increases", "00 0400 07 01 05 07 01 06", TOOL_H3_ID_ERROR},
        {"MAX_PUSH_ID decreases", "00 0400 0d 01 05 0d 01 04", TOOL_H3_ID_ERROR},
        {"CANCEL_PUSH", "00 0400 03 01 00", TOOL_H3_ID_ERROR},
        {"CANCEL_PUSH after MAX_PUSH_ID", "00 0400 0d 01 05 03 01 01", TOOL_H3_ID_ERROR},
        /* PRIORITY_UPDATE's element ID (RFC 9218 §7.2) */
        {"PRIORITY_UPDATE of stream 8, two-octet ID", "00 0400 800f0700 02 4008", 0},
        {"PRIORITY_UPDATE of a unidirectional stream", "00 0400 800f0700 04 02 753d31",
         TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE of a server stream", "00 0400 800f0700 04 01 753d31", TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE of a push", "00 0400 800f0701 04 00 753d31", TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE of a push after MAX_PUSH_ID", "00 0400 0d 01 05 800f0701 01 00",
         TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE empty", "00 0400 800f0700 00", TOOL_H3_FRAME_ERROR},
        {"PRIORITY_UPDATE ends in its ID", "00 0400 800f0700 01 40", TOOL_H3_FRAME_ERROR},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        ctrl_case(c[i].name, c[i].hex, c[i].code);
}

/* The client's GOAWAY (a push ID) reaches the tool. */
static void test_goaway_from_client_reported(void **state)
{
    (void)state;
    ctrl_case("GOAWAY reported", "00 0400 07 01 09", 0);
    bb c = {0};
    bb_hex(&c, "00 0400 07 01 09 07 01 03");
    start_bb(1, &c);
    expect_open();
    want_log("G9 G3 ");
    finish();
}

/* SETTINGS payload at 16384 octets accepted (distinct unknown identifiers), at 16385 refused. */
static void bb_big_settings(bb *c, size_t size)
{
    bb s = {0};
    size_t pairs = size == 16384 ? 2048 : 2047;
    for (size_t i = 0; i < pairs; i++) {
        bb_vi_n(&s, 0x100000 + i, 4);
        bb_vi_n(&s, i, 4);
    }
    if (size != 16384) {
        bb_vi_n(&s, 0x3000000000ull, 8);
        bb_vi_n(&s, 0, 1);
    }
    assert_int_equal(s.n, size);
    bb_byte(c, S_CONTROL);
    bb_frame(c, F_SETTINGS, s.d, s.n);
    bb_free(&s);
}

static void test_settings_16k(void **state)
{
    (void)state;
    bb c = {0};
    bb_big_settings(&c, 16384);
    start_bb(1, &c);
    expect_open();
    int64_t sid = request_get();
    expect_open();
    expect_response(sid, "200", NULL, 0);
    finish();

    bb_big_settings(&c, 16385);
    start_bb(1, &c);
    expect_close(TOOL_H3_EXCESSIVE_LOAD);
    finish();
}


static void test_priority_update_16k(void **state)
{
    (void)state;
    for (int over = 0; over < 2; over++) {
        bb c = {0};
        bb_hex(&c, "00 0400");
        bb_priority_update(&c, 16384 + (size_t)over);
        start_bb(1, &c);
        if (over) {
            expect_close(TOOL_H3_EXCESSIVE_LOAD);
        } else {
            expect_open();
            int64_t sid = request_get();
            expect_open();
            expect_response(sid, "200", NULL, 0);
        }
        finish();
    }
}

/* The control stream ending: FIN, RESET_STREAM, or a truncated frame; STOP_SENDING on ours. */
static void test_control_stream_closed(void **state)
{
    (void)state;
    start(1);
    raw_write(R.ctrl, NULL, 0, 1);
    expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
    finish();

    start(1);
    tern_stream_reset(R.c, R.ctrl, 0x100);
    expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
    finish();

    start(1);
    tern_stream_stop_sending(R.c, 3, 0x100);
    expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
    finish();

    bb c = {0};
    bb_hex(&c, "00 0400 07 02 00");
    start_ctrl(1, c.d, c.n);
    bb_free(&c);
    raw_write(R.ctrl, NULL, 0, 1);
    expect_close(TOOL_H3_FRAME_ERROR);
    finish();
}

/* ---- unidirectional streams --------------------------------------------------------------- */

static void test_uni_stream_rules(void **state)
{
    (void)state;
    /* a second control stream */
    start(1);
    bb b = {0};
    bb_hex(&b, "0400");
    raw_uni_bb(S_CONTROL, &b, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
    /* a second encoder or decoder stream */
    for (uint64_t type = S_ENCODER; type <= S_DECODER; type++) {
        start(1);
        raw_uni_bb(type, NULL, 0);
        expect_open();
        raw_uni_bb(type, NULL, 0);
        expect_close(TOOL_H3_STREAM_CREATION_ERROR);
        finish();
    }
    /* a push stream sent to a server */
    start(1);
    bb_hex(&b, "00");
    raw_uni_bb(S_PUSH, &b, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
    /* the encoder or decoder stream ending */
    for (uint64_t type = S_ENCODER; type <= S_DECODER; type++) {
        start(1);
        int64_t sid = raw_uni_bb(type, NULL, 0);
        expect_open();
        raw_write(sid, NULL, 0, 1);
        expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
        finish();
        start(1);
        sid = raw_uni_bb(type, NULL, 0);
        tern_stream_reset(R.c, sid, 0x100);
        expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
        finish();
    }
}

/* Unknown stream types: STOP_SENDING(H3_STREAM_CREATION_ERROR), whatever arrives is ignored, the
 * connection serves on. */
static void test_unknown_uni_streams(void **state)
{
    (void)state;
    static const uint64_t types[] = {0x21, 0x04, 0x54, 0x1f * 100 + 0x21, 0x3fffffff};
    start(1);
    int64_t sids[5];
    for (int i = 0; i < 5; i++) {
        bb b = {0};
        bb_hex(&b, "0400 0000 01 03 0000d1");
        sids[i] = raw_uni_bb(types[i], &b, 0);
    }
    settle();
    for (int i = 0; i < 5; i++) {
        rstream *s = rs_find(sids[i]);
        if (!s || !s->stopped || s->stop_code != TOOL_H3_STREAM_CREATION_ERROR)
            fail_msg("type 0x%llx: stopped %d code 0x%llx", (unsigned long long)types[i],
                     s ? s->stopped : 0, s ? (unsigned long long)s->stop_code : 0ull);
    }
    expect_open();
    int64_t sid = request_get();
    expect_open();
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* QPACK streams: what a decoder of capacity 0 accepts and refuses (RFC 9204 §4.3, §4.4). */
static void test_qpack_streams(void **state)
{
    (void)state;
    static const struct {
        uint64_t type;
        const char *hex;
        uint64_t code;
    } c[] = {
        {S_ENCODER, "", 0},
        {S_ENCODER, "20", 0},
        {S_ENCODER, "20 20", 0},
        {S_ENCODER, "21", TOOL_QPACK_ENCODER_STREAM_ERROR},          /* capacity 1 */
        {S_ENCODER, "3f e1 1f", TOOL_QPACK_ENCODER_STREAM_ERROR},    /* capacity 4096 */
        {S_ENCODER, "c1 01 61", TOOL_QPACK_ENCODER_STREAM_ERROR},    /* insert, static name */
        {S_ENCODER, "41 61 01 61", TOOL_QPACK_ENCODER_STREAM_ERROR}, /* insert, literal name */
        {S_ENCODER, "00", TOOL_QPACK_ENCODER_STREAM_ERROR},          /* duplicate */
        {S_DECODER, "", 0},
        {S_DECODER, "40", 0},                               /* stream cancellation, stream 0 */
        {S_DECODER, "44 7f 01", 0},                         /* stream 4, stream 64 */
        {S_DECODER, "80", TOOL_QPACK_DECODER_STREAM_ERROR}, /* section acknowledgement */
        {S_DECODER, "01", TOOL_QPACK_DECODER_STREAM_ERROR}, /* insert count increment */
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(1);
        bb b = {0};
        bb_hex(&b, c[i].hex);
        raw_uni_bb(c[i].type, &b, 0);
        settle();
        long long want = c[i].code ? (long long)c[i].code : -1;
        if (close_code() != want)
            fail_msg("stream type %llu '%s': close 0x%llx, expected 0x%llx; log %s",
                     (unsigned long long)c[i].type, c[i].hex, close_code(),
                     (unsigned long long)c[i].code, S.log);
        if (!c[i].code) {
            int64_t sid = request_get();
            expect_open();
            expect_response(sid, "200", NULL, 0);
        }
        finish();
    }
}

/* Encoder stream bytes one at a time: the verdict does not depend on the split. */
static void test_qpack_streams_split(void **state)
{
    (void)state;
    start(1);
    int64_t enc = raw_open(0), dec = raw_open(0);
    static const uint8_t e[] = {S_ENCODER, 0x20, 0x20};
    static const uint8_t d[] = {S_DECODER, 0x7f, 0x81, 0x01, 0x40};
    raw_write_bytewise(enc, e, sizeof(e), 0);
    raw_write_bytewise(dec, d, sizeof(d), 0);
    settle();
    expect_open();
    static const uint8_t bad[] = {0x3f, 0xe1, 0x1f};
    raw_write_bytewise(enc, bad, sizeof(bad), 0);
    expect_close(TOOL_QPACK_ENCODER_STREAM_ERROR);
    finish();
}

/* ---- GOAWAY from the server --------------------------------------------------------------- */

static uint64_t last_goaway(int64_t ctrl_sid, int *count)
{
    rstream *s = rs_find(ctrl_sid);
    assert_non_null(s);
    size_t off = 1;
    pframe f;
    uint64_t id = UINT64_MAX;
    *count = 0;
    while (next_frame(s->buf, s->len, &off, &f)) {
        if (f.type != F_GOAWAY)
            continue;
        size_t a = get_vi(f.pl, f.len, &id);
        assert_int_equal(a, f.len);
        (*count)++;
    }
    return id;
}

static void test_server_goaway(void **state)
{
    (void)state;
    start(1);
    int64_t s0 = request_get();
    expect_response(s0, "200", NULL, 0);
    assert_int_equal(tool_h3_shutdown_notice(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    int n;
    assert_int_equal(last_goaway(3, &n), MAX_SID_ID);
    assert_int_equal(n, 1);
    /* the notice excludes nothing */
    int64_t s4 = request_get();
    expect_response(s4, "200", NULL, 0);
    /* a request under way when the final GOAWAY goes */
    bb b = {0};
    bb_get(&b);
    int64_t s8 = request_bb(&b, 0);
    assert_int_equal(s8, 8);
    want_log("E8 ");
    assert_int_equal(tool_h3_shutdown(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    assert_int_equal(last_goaway(3, &n), 12);
    assert_int_equal(n, 2);
    raw_write(s8, NULL, 0, 1);
    settle();
    expect_response(s8, "200", NULL, 0);
    /* at or above the GOAWAY: rejected, never shown to the tool */
    int64_t s12 = raw_open(1);
    bb_get(&b);
    raw_write_bb(s12, &b, 0);
    expect_stream_error(s12, TOOL_H3_REQUEST_REJECTED, 1);
    int64_t s16 = request_get();
    expect_stream_error(s16, TOOL_H3_REQUEST_REJECTED, 0);
    want_no_log("B12 ");
    want_no_log("B16 ");
    expect_open();
    finish();
}

/* A final GOAWAY straight away, with a request of a lower stream arriving after it: below the
 * GOAWAY's ID it is served (RFC 9114 §5.2), at the ID refused. */
static void test_server_goaway_late_lower_stream(void **state)
{
    (void)state;
    start(1);
    int64_t s0 = raw_open(1); /* nothing on it yet: the server does not know it */
    int64_t s4 = request_get();
    assert_int_equal(s4, 4);
    expect_response(s4, "200", NULL, 0);
    assert_int_equal(tool_h3_shutdown(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    int n;
    assert_int_equal(last_goaway(3, &n), 8);
    assert_int_equal(n, 1);
    bb b = {0};
    bb_get(&b);
    raw_write_bb(s0, &b, 1);
    expect_response(s0, "200", NULL, 0);
    int64_t s8 = request_get();
    expect_stream_error(s8, TOOL_H3_REQUEST_REJECTED, 0);
    /* a notice after the final GOAWAY would raise its ID: nothing is sent */
    assert_int_equal(tool_h3_shutdown_notice(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    assert_int_equal(last_goaway(3, &n), 8);
    assert_int_equal(n, 1);
    expect_open();
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_served),
        cmocka_unit_test(test_settings_sent_server),
        cmocka_unit_test(test_settings_sent_client),
        cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_trailers_accepted),
        cmocka_unit_test(test_split_every_byte),
        cmocka_unit_test(test_long_varint_length),
        cmocka_unit_test(test_concurrent_requests),
        cmocka_unit_test(test_concurrent_requests_lossy),
        cmocka_unit_test(test_large_request_body),
        cmocka_unit_test(test_peer_abandons),
        cmocka_unit_test(test_uni_types_split),
        cmocka_unit_test(test_large_response),
        cmocka_unit_test(test_response_beyond_send_buffer),
        cmocka_unit_test(test_response_resumed),
        cmocka_unit_test(test_response_by_reference),
        cmocka_unit_test(test_response_read_fails),
        cmocka_unit_test(test_callback_fails),
        cmocka_unit_test(test_abort_stream),
        cmocka_unit_test(test_server_peer_field_limit),
        cmocka_unit_test(test_stream_user_data),
        cmocka_unit_test(test_headers_16384_accepted),
        cmocka_unit_test(test_headers_16385_rejected),
        cmocka_unit_test(test_headers_oversize_decided_early),
        cmocka_unit_test(test_content_length_match),
        cmocka_unit_test(test_content_length_over),
        cmocka_unit_test(test_content_length_under),
        cmocka_unit_test(test_content_length_two_values),
        cmocka_unit_test(test_content_length_not_digits),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_valid_requests),
        cmocka_unit_test(test_malformed_trailers),
        cmocka_unit_test(test_request_incomplete),
        cmocka_unit_test(test_request_frame_errors),
        cmocka_unit_test(test_after_trailers),
        cmocka_unit_test(test_request_truncated),
        cmocka_unit_test(test_control_stream_rules),
        cmocka_unit_test(test_goaway_from_client_reported),
        cmocka_unit_test(test_settings_16k),
        cmocka_unit_test(test_priority_update_16k),
        cmocka_unit_test(test_control_stream_closed),
        cmocka_unit_test(test_uni_stream_rules),
        cmocka_unit_test(test_unknown_uni_streams),
        cmocka_unit_test(test_qpack_streams),
        cmocka_unit_test(test_qpack_streams_split),
        cmocka_unit_test(test_server_goaway),
        cmocka_unit_test(test_server_goaway_late_lower_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
