/* Tests of the frame codecs (RFC 9000 §19) and the frame/packet-type rules (§12.4, Table 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "frame.h"
#include "packet.h"
#include "varint.h"

#define FEE TERN_TE_FRAME_ENCODING_ERROR

/* Parses exactly one frame that must fill buf[0..len). Failures report the caller's line. */
#define parse_whole(buf, len, f) parse_whole_at(buf, len, f, __LINE__)
static void parse_whole_at(const uint8_t *buf, size_t len, tern_frame *f, int line)
{
    const uint8_t *p = buf;
    uint64_t terr = 0;
    int rc = tern_frame_parse(&p, buf + len, f, &terr);
    _assert_int_equal((uintmax_t)rc, 0, __FILE__, line);
    _assert_int_equal((uintmax_t)(p - buf), (uintmax_t)len, __FILE__, line);
}

#define expect_bad(buf, len) expect_bad_at(buf, len, __LINE__)
static void expect_bad_at(const uint8_t *buf, size_t len, int line)
{
    const uint8_t *p = buf;
    uint64_t terr = 0;
    tern_frame f;
    int rc = tern_frame_parse(&p, buf + len, &f, &terr);
    _assert_int_equal((uintmax_t)rc, (uintmax_t)TERN_ERR_PROTO, __FILE__, line);
    _assert_int_equal(terr, FEE, __FILE__, line);
    _assert_int_equal((uintmax_t)(p - buf), 0, __FILE__, line); /* not advanced on error */
}

/* Every strict prefix of a frame whose end is self-delimiting must fail as FRAME_ENCODING_ERROR. */
static void expect_prefixes_bad(const uint8_t *buf, size_t len)
{
    for (size_t n = 0; n < len; n++)
        expect_bad(buf, n);
}

static void test_padding_ping_hsdone(void **state)
{
    (void)state;
    uint8_t buf[32] = {0};
    tern_frame f;
    assert_int_equal(tern_frame_write_padding(buf, sizeof(buf), 10), 10);
    buf[10] = 0x01;
    const uint8_t *p = buf;
    uint64_t terr;
    assert_int_equal(tern_frame_parse(&p, buf + 11, &f, &terr), 0);
    assert_int_equal(f.type, TERN_FT_PADDING);
    assert_ptr_equal(p, buf + 10); /* the whole run, and no further */
    assert_int_equal(tern_frame_parse(&p, buf + 11, &f, &terr), 0);
    assert_int_equal(f.type, TERN_FT_PING);
    assert_ptr_equal(p, buf + 11);
    assert_int_equal(tern_frame_write_padding(buf, 5, 6), 0);

    assert_int_equal(tern_frame_write_ping(buf, 1), 1);
    assert_int_equal(buf[0], 0x01);
    assert_int_equal(tern_frame_write_ping(buf, 0), 0);
    assert_int_equal(tern_frame_write_handshake_done(buf, 1), 1);
    assert_int_equal(buf[0], 0x1e);
    parse_whole(buf, 1, &f);
    assert_int_equal(f.type, TERN_FT_HANDSHAKE_DONE);
    assert_int_equal(tern_frame_write_handshake_done(buf, 0), 0);

    /* A frame type in a longer encoding than needed is accepted. */
    static const uint8_t ping2[] = {0x40, 0x01};
    parse_whole(ping2, 2, &f);
    assert_int_equal(f.type, TERN_FT_PING);
}

static void test_ack_exact(void **state)
{
    (void)state;
    const tern_pn_range r[] = {{95, 100}, {90, 90}, {0, 5}};
    uint8_t buf[64];
    size_t n = tern_frame_write_ack(buf, sizeof(buf), r, 3, 0x10, NULL);
    static const uint8_t want[] = {0x02, 0x40, 0x64, 0x10, 0x02, 0x05, 0x03, 0x00, 0x40, 0x53, 0x05};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    tern_frame f;
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_ACK);
    assert_int_equal(f.u.ack.largest, 100);
    assert_int_equal(f.u.ack.delay, 0x10);
    assert_int_equal(f.u.ack.range_count, 2);
    assert_int_equal(f.u.ack.first_range, 5);
    assert_int_equal(f.u.ack.ecn, 0);

    tern_ack_iter it;
    uint64_t lo, hi;
    tern_ack_iter_init(&it, &f);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(tern_ack_iter_next(&it, &lo, &hi), 1);
        assert_int_equal(lo, r[i].lo);
        assert_int_equal(hi, r[i].hi);
    }
    assert_int_equal(tern_ack_iter_next(&it, &lo, &hi), 0);
    expect_prefixes_bad(buf, n);

    const uint64_t ecn[3] = {1, 70, 1ull << 40};
    n = tern_frame_write_ack(buf, sizeof(buf), r, 3, 0x10, ecn);
    assert_int_equal(n, sizeof(want) + 1 + 2 + 8);
    assert_int_equal(buf[0], 0x03);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_ACK_ECN);
    assert_int_equal(f.u.ack.ecn, 1);
    assert_int_equal(f.u.ack.ect0, 1);
    assert_int_equal(f.u.ack.ect1, 70);
    assert_int_equal(f.u.ack.ce, 1ull << 40);
    assert_int_equal(f.u.ack.range_count, 2);
    expect_prefixes_bad(buf, n);
}

static void test_ack_single_and_large(void **state)
{
    (void)state;
    uint8_t buf[64];
    tern_frame f;
    const tern_pn_range one = {0, 0};
    size_t n = tern_frame_write_ack(buf, sizeof(buf), &one, 1, 0, NULL);
    static const uint8_t want[] = {0x02, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(n, 5);
    assert_memory_equal(buf, want, 5);
    parse_whole(buf, n, &f);

    const tern_pn_range big[] = {{TERN_MAX_VARINT - 10, TERN_MAX_VARINT}, {0, 1ull << 40}};
    n = tern_frame_write_ack(buf, sizeof(buf), big, 2, TERN_MAX_VARINT, NULL);
    assert_true(n > 0);
    parse_whole(buf, n, &f);
    tern_ack_iter it;
    uint64_t lo, hi;
    tern_ack_iter_init(&it, &f);
    assert_int_equal(tern_ack_iter_next(&it, &lo, &hi), 1);
    assert_int_equal(hi, TERN_MAX_VARINT);
    assert_int_equal(lo, TERN_MAX_VARINT - 10);
    assert_int_equal(tern_ack_iter_next(&it, &lo, &hi), 1);
    assert_int_equal(hi, 1ull << 40);
    assert_int_equal(lo, 0);
    assert_int_equal(tern_ack_iter_next(&it, &lo, &hi), 0);
    expect_prefixes_bad(buf, n);

    /* Unencodable values and bad first ranges are refused. */
    const tern_pn_range toobig = {0, TERN_MAX_VARINT + 1}, inverted = {5, 4};
    assert_int_equal(tern_frame_write_ack(buf, sizeof(buf), &toobig, 1, 0, NULL), 0);
    assert_int_equal(tern_frame_write_ack(buf, sizeof(buf), &inverted, 1, 0, NULL), 0);
    assert_int_equal(tern_frame_write_ack(buf, sizeof(buf), &one, 0, 0, NULL), 0);
}

/* For every capacity, the writer emits a valid ACK holding a prefix of the ranges, or nothing. */
static void test_ack_fits_cap(void **state)
{
    (void)state;
    enum { N = 120 };
    tern_pn_range r[N];
    uint64_t hi = 100000;
    for (size_t i = 0; i < N; i++) {
        r[i].hi = hi;
        r[i].lo = hi - (i % 3) * 40;
        hi = r[i].lo - 2 - (i % 5) * 30;
    }
    uint8_t buf[1024];
    size_t full = tern_frame_write_ack(buf, sizeof(buf), r, N, 1000, NULL);
    assert_true(full > 0);
    tern_frame f;
    parse_whole(buf, full, &f);
    assert_int_equal(f.u.ack.range_count, N - 1);

    size_t prev_count = 0;
    for (size_t cap = 0; cap <= full; cap++) {
        size_t n = tern_frame_write_ack(buf, cap, r, N, 1000, NULL);
        /* type + largest (4) + delay (2) + count (1) + first range (1) */
        if (n == 0) {
            assert_true(cap < 9);
            continue;
        }
        assert_true(n <= cap);
        parse_whole(buf, n, &f);
        assert_true(f.u.ack.range_count >= prev_count); /* more room never means fewer ranges */
        prev_count = (size_t)f.u.ack.range_count;
        tern_ack_iter it;
        uint64_t lo, h;
        size_t k = 0;
        tern_ack_iter_init(&it, &f);
        while (tern_ack_iter_next(&it, &lo, &h)) {
            assert_int_equal(lo, r[k].lo);
            assert_int_equal(h, r[k].hi);
            k++;
        }
        assert_int_equal(k, f.u.ack.range_count + 1);
        /* Greedy: one more range would not have fit. */
        if (k < N) {
            size_t pair = tern_varint_len(r[k - 1].lo - r[k].hi - 2) +
                          tern_varint_len(r[k].hi - r[k].lo);
            size_t grow = tern_varint_len(k) - tern_varint_len(k - 1);
            assert_true(n + pair + grow > cap);
        }
    }
    assert_int_equal(prev_count, N - 1);
}

static void test_ack_bad_ranges_written(void **state)
{
    (void)state;
    /* Touching ranges cannot be encoded (gap would be -1): the list stops before them. */
    const tern_pn_range r[] = {{10, 20}, {5, 9}, {0, 1}};
    uint8_t buf[64];
    tern_frame f;
    size_t n = tern_frame_write_ack(buf, sizeof(buf), r, 3, 0, NULL);
    parse_whole(buf, n, &f);
    assert_int_equal(f.u.ack.range_count, 0);
    const tern_pn_range r2[] = {{10, 20}, {3, 8}, {4, 6}};
    n = tern_frame_write_ack(buf, sizeof(buf), r2, 3, 0, NULL);
    parse_whole(buf, n, &f);
    assert_int_equal(f.u.ack.range_count, 1);
}

static void test_ack_underflow(void **state)
{
    (void)state;
    /* first_range larger than largest */
    static const uint8_t a1[] = {0x02, 0x05, 0x00, 0x00, 0x06};
    expect_bad(a1, sizeof(a1));
    static const uint8_t a1ok[] = {0x02, 0x05, 0x00, 0x00, 0x05};
    tern_frame f;
    parse_whole(a1ok, sizeof(a1ok), &f);
    /* largest 10, first 2 (down to 8), gap 6 -> next hi 0, len 0: fine */
    static const uint8_t a2ok[] = {0x02, 0x0a, 0x00, 0x01, 0x02, 0x06, 0x00};
    parse_whole(a2ok, sizeof(a2ok), &f);
    /* gap 7 -> next hi would be -1 */
    static const uint8_t a2[] = {0x02, 0x0a, 0x00, 0x01, 0x02, 0x07, 0x00};
    expect_bad(a2, sizeof(a2));
    /* gap 0 -> hi 6; len 7 goes to -1 */
    static const uint8_t a3[] = {0x02, 0x0a, 0x00, 0x01, 0x02, 0x00, 0x07};
    expect_bad(a3, sizeof(a3));
    static const uint8_t a3ok[] = {0x02, 0x0a, 0x00, 0x01, 0x02, 0x00, 0x06};
    parse_whole(a3ok, sizeof(a3ok), &f);
    /* underflow in a later range */
    static const uint8_t a4[] = {0x02, 0x0a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00};
    expect_bad(a4, sizeof(a4));
    static const uint8_t a4ok[] = {0x02, 0x0a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x06, 0x00};
    parse_whole(a4ok, sizeof(a4ok), &f);
    /* a huge range count with little data */
    static const uint8_t a5[] = {0x02, 0x0a, 0x00, 0xbf, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00};
    expect_bad(a5, sizeof(a5));
}

static void test_reset_stop(void **state)
{
    (void)state;
    uint8_t buf[64];
    tern_frame f;
    size_t n = tern_frame_write_reset_stream(buf, sizeof(buf), 4, 0x100, TERN_MAX_VARINT);
    assert_int_equal(n, 1 + 1 + 2 + 8);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_RESET_STREAM);
    assert_int_equal(f.u.reset_stream.stream_id, 4);
    assert_int_equal(f.u.reset_stream.app_error, 0x100);
    assert_int_equal(f.u.reset_stream.final_size, TERN_MAX_VARINT);
    expect_prefixes_bad(buf, n);
    for (size_t cap = 0; cap < n; cap++)
        assert_int_equal(tern_frame_write_reset_stream(buf, cap, 4, 0x100, TERN_MAX_VARINT), 0);
    assert_int_equal(tern_frame_write_reset_stream(buf, sizeof(buf), 4, 1, TERN_MAX_VARINT + 1), 0);

    n = tern_frame_write_stop_sending(buf, sizeof(buf), 1ull << 50, 7);
    static const uint8_t want[] = {0x05, 0xc0, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, n);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_STOP_SENDING);
    assert_int_equal(f.u.stop_sending.stream_id, 1ull << 50);
    assert_int_equal(f.u.stop_sending.app_error, 7);
    expect_prefixes_bad(buf, n);
}

static void test_crypto(void **state)
{
    (void)state;
    uint8_t buf[64];
    tern_frame f;
    size_t h = tern_frame_write_crypto_hdr(buf, sizeof(buf), 1000, 5);
    assert_int_equal(h, 1 + 2 + 1);
    memcpy(buf + h, "hello", 5);
    parse_whole(buf, h + 5, &f);
    assert_int_equal(f.type, TERN_FT_CRYPTO);
    assert_int_equal(f.u.crypto.offset, 1000);
    assert_int_equal(f.u.crypto.len, 5);
    assert_ptr_equal(f.u.crypto.data, buf + h);
    expect_prefixes_bad(buf, h + 5);
    assert_int_equal(tern_frame_write_crypto_hdr(buf, 3, 1000, 5), 0);
    assert_int_equal(tern_frame_write_crypto_hdr(buf, sizeof(buf), TERN_MAX_VARINT, 1), 0);

    /* offset + length beyond 2^62-1 */
    uint8_t bad[16] = {0x06};
    uint8_t *q = tern_varint_put(bad + 1, TERN_MAX_VARINT);
    *q++ = 0x01;
    *q++ = 'x';
    expect_bad(bad, (size_t)(q - bad));
}

static void test_new_token(void **state)
{
    (void)state;
    uint8_t tok[70], buf[128];
    for (size_t i = 0; i < sizeof(tok); i++)
        tok[i] = (uint8_t)i;
    tern_frame f;
    size_t n = tern_frame_write_new_token(buf, sizeof(buf), tok, sizeof(tok));
    assert_int_equal(n, 1 + 2 + 70);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_NEW_TOKEN);
    assert_int_equal(f.u.new_token.len, 70);
    assert_memory_equal(f.u.new_token.token, tok, 70);
    expect_prefixes_bad(buf, n);
    for (size_t cap = 0; cap < n; cap++)
        assert_int_equal(tern_frame_write_new_token(buf, cap, tok, sizeof(tok)), 0);
    assert_int_equal(tern_frame_write_new_token(buf, sizeof(buf), tok, 0), 0);
    static const uint8_t empty[] = {0x07, 0x00};
    expect_bad(empty, sizeof(empty));
}

static void test_stream_all_variants(void **state)
{
    (void)state;
    static const uint64_t offsets[] = {0, 1, 0x1234, 1ull << 40};
    uint8_t buf[64];
    tern_frame f;
    for (size_t oi = 0; oi < TERN_ARRAY_LEN(offsets); oi++) {
        for (int fin = 0; fin <= 1; fin++) {
            for (int has_len = 0; has_len <= 1; has_len++) {
                uint64_t off = offsets[oi];
                size_t h = tern_frame_write_stream_hdr(buf, sizeof(buf), 0x3ffu, off, 7, fin,
                                                       has_len);
                assert_int_equal(h, tern_frame_stream_hdr_len(0x3ff, off, 7, has_len));
                assert_int_equal(buf[0], 0x08 | (off ? 4 : 0) | (has_len ? 2 : 0) | fin);
                memcpy(buf + h, "payload", 7);
                parse_whole(buf, h + 7, &f);
                assert_int_equal(f.type, buf[0]);
                assert_int_equal(f.u.stream.stream_id, 0x3ff);
                assert_int_equal(f.u.stream.offset, off);
                assert_int_equal(f.u.stream.len, 7);
                assert_int_equal(f.u.stream.fin, fin);
                assert_memory_equal(f.u.stream.data, "payload", 7);
                if (has_len) {
                    expect_prefixes_bad(buf, h + 7);
                    /* The Length field delimits: trailing bytes are the next frame. */
                    buf[h + 7] = 0x01;
                    const uint8_t *p = buf;
                    uint64_t terr;
                    assert_int_equal(tern_frame_parse(&p, buf + h + 8, &f, &terr), 0);
                    assert_ptr_equal(p, buf + h + 7);
                } else {
                    /* Without Length the data runs to the end, even when empty. */
                    parse_whole(buf, h, &f);
                    assert_int_equal(f.u.stream.len, 0);
                    expect_prefixes_bad(buf, h);
                }
                for (size_t cap = 0; cap < h; cap++)
                    assert_int_equal(
                        tern_frame_write_stream_hdr(buf, cap, 0x3ff, off, 7, fin, has_len), 0);
            }
        }
    }
    /* Exact bytes: sid 4, offset 0x1234, len 5, FIN. */
    size_t h = tern_frame_write_stream_hdr(buf, sizeof(buf), 4, 0x1234, 5, 1, 1);
    static const uint8_t want[] = {0x0f, 0x04, 0x52, 0x34, 0x05};
    assert_int_equal(h, sizeof(want));
    assert_memory_equal(buf, want, h);
}

static void test_stream_limits(void **state)
{
    (void)state;
    uint8_t buf[32];
    tern_frame f;
    /* offset 2^62-1 with 1 byte of data: beyond the largest final size */
    buf[0] = 0x0e;
    buf[1] = 0x00;
    uint8_t *q = tern_varint_put(buf + 2, TERN_MAX_VARINT);
    q[0] = 0x01;
    q[1] = 'x';
    expect_bad(buf, (size_t)(q + 2 - buf));
    q[0] = 0x00; /* zero length at 2^62-1 is fine */
    parse_whole(buf, (size_t)(q + 1 - buf), &f);
    /* the same without a Length field */
    buf[0] = 0x0c;
    q[0] = 'x';
    expect_bad(buf, (size_t)(q + 1 - buf));
    parse_whole(buf, (size_t)(q - buf), &f);
    /* the length runs past the packet */
    static const uint8_t over[] = {0x0a, 0x00, 0x05, 'a', 'b'};
    expect_bad(over, sizeof(over));
    assert_int_equal(tern_frame_write_stream_hdr(buf, sizeof(buf), 0, TERN_MAX_VARINT, 1, 0, 1), 0);
    assert_int_equal(tern_frame_write_stream_hdr(buf, sizeof(buf), TERN_MAX_VARINT + 1, 0, 1, 0, 1),
                     0);
}

static void test_flow_control_frames(void **state)
{
    (void)state;
    uint8_t buf[32];
    tern_frame f;
    size_t n;

    n = tern_frame_write_max_data(buf, sizeof(buf), 1ull << 31);
    assert_int_equal(n, 1 + 8);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_MAX_DATA);
    assert_int_equal(f.u.max_data.max, 1ull << 31);
    expect_prefixes_bad(buf, n);

    n = tern_frame_write_data_blocked(buf, sizeof(buf), 63);
    assert_int_equal(n, 2);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_DATA_BLOCKED);
    assert_int_equal(f.u.max_data.max, 63);
    expect_prefixes_bad(buf, n);

    n = tern_frame_write_max_stream_data(buf, sizeof(buf), 8, 16384);
    assert_int_equal(n, 1 + 1 + 4);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_MAX_STREAM_DATA);
    assert_int_equal(f.u.max_stream_data.stream_id, 8);
    assert_int_equal(f.u.max_stream_data.max, 16384);
    expect_prefixes_bad(buf, n);

    n = tern_frame_write_stream_data_blocked(buf, sizeof(buf), 9, 64);
    assert_int_equal(n, 1 + 1 + 2);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_STREAM_DATA_BLOCKED);
    assert_int_equal(f.u.max_stream_data.stream_id, 9);
    assert_int_equal(f.u.max_stream_data.max, 64);
    expect_prefixes_bad(buf, n);

    for (int bidi = 0; bidi <= 1; bidi++) {
        n = tern_frame_write_max_streams(buf, sizeof(buf), bidi, 1ull << 60);
        assert_int_equal(n, 9);
        parse_whole(buf, n, &f);
        assert_int_equal(f.type, bidi ? TERN_FT_MAX_STREAMS_BIDI : TERN_FT_MAX_STREAMS_UNI);
        assert_int_equal(f.u.max_streams.max, 1ull << 60);
        assert_int_equal(f.u.max_streams.bidi, bidi);
        expect_prefixes_bad(buf, n);
        assert_int_equal(tern_frame_write_max_streams(buf, sizeof(buf), bidi, (1ull << 60) + 1), 0);

        n = tern_frame_write_streams_blocked(buf, sizeof(buf), bidi, 100);
        assert_int_equal(n, 3);
        parse_whole(buf, n, &f);
        assert_int_equal(f.type, bidi ? TERN_FT_STREAMS_BLOCKED_BIDI : TERN_FT_STREAMS_BLOCKED_UNI);
        assert_int_equal(f.u.max_streams.max, 100);
        assert_int_equal(f.u.max_streams.bidi, bidi);
        expect_prefixes_bad(buf, n);
        assert_int_equal(tern_frame_write_streams_blocked(buf, sizeof(buf), bidi, (1ull << 60) + 1),
                         0);
    }
    for (size_t cap = 0; cap < 9; cap++)
        assert_int_equal(tern_frame_write_max_data(buf, cap, 1ull << 31), 0);

    /* Counts above 2^60 on the wire. */
    static const uint64_t types[] = {0x12, 0x13, 0x16, 0x17};
    for (size_t i = 0; i < 4; i++) {
        buf[0] = (uint8_t)types[i];
        uint8_t *q = tern_varint_put(buf + 1, (1ull << 60) + 1);
        expect_bad(buf, (size_t)(q - buf));
        q = tern_varint_put(buf + 1, 1ull << 60);
        parse_whole(buf, (size_t)(q - buf), &f);
    }
}

static void test_new_cid(void **state)
{
    (void)state;
    uint8_t buf[64], tok[16];
    for (int i = 0; i < 16; i++)
        tok[i] = (uint8_t)(0xf0 + i);
    tern_frame f;
    for (uint8_t len = 1; len <= 20; len++) {
        tern_cid cid;
        uint8_t d[20];
        memset(d, len, sizeof(d));
        tern_cid_set(&cid, d, len);
        size_t n = tern_frame_write_new_cid(buf, sizeof(buf), 300, 299, &cid, tok);
        assert_int_equal(n, 1 + 2 + 2 + 1 + len + 16);
        parse_whole(buf, n, &f);
        assert_int_equal(f.type, TERN_FT_NEW_CONNECTION_ID);
        assert_int_equal(f.u.new_cid.seq, 300);
        assert_int_equal(f.u.new_cid.retire_prior_to, 299);
        assert_true(tern_cid_eq(&f.u.new_cid.cid, &cid));
        assert_memory_equal(f.u.new_cid.token, tok, 16);
        expect_prefixes_bad(buf, n);
        for (size_t cap = 0; cap < n; cap++)
            assert_int_equal(tern_frame_write_new_cid(buf, cap, 300, 299, &cid, tok), 0);
    }
    tern_cid cid = {.len = 4, .data = {1, 2, 3, 4}};
    assert_int_equal(tern_frame_write_new_cid(buf, sizeof(buf), 1, 2, &cid, tok), 0);
    cid.len = 0;
    assert_int_equal(tern_frame_write_new_cid(buf, sizeof(buf), 1, 0, &cid, tok), 0);

    /* Bad wire forms: length 0, length 21, retire_prior_to > seq. */
    uint8_t bad[64] = {0x18, 0x01, 0x00, 0x00};
    memset(bad + 4, 0xab, 40);
    expect_bad(bad, 4 + 16);
    bad[3] = 21;
    expect_bad(bad, 4 + 21 + 16);
    bad[3] = 20;
    parse_whole(bad, 4 + 20 + 16, &f);
    bad[1] = 0x01;
    bad[2] = 0x02;
    expect_bad(bad, 4 + 20 + 16);
}

static void test_retire_path(void **state)
{
    (void)state;
    uint8_t buf[32];
    tern_frame f;
    size_t n = tern_frame_write_retire_cid(buf, sizeof(buf), 77);
    assert_int_equal(n, 3);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_RETIRE_CONNECTION_ID);
    assert_int_equal(f.u.retire_cid.seq, 77);
    expect_prefixes_bad(buf, n);

    const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    n = tern_frame_write_path_challenge(buf, sizeof(buf), data);
    assert_int_equal(n, 9);
    assert_int_equal(buf[0], 0x1a);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_CHALLENGE);
    assert_memory_equal(f.u.path.data, data, 8);
    expect_prefixes_bad(buf, n);
    assert_int_equal(tern_frame_write_path_challenge(buf, 8, data), 0);

    n = tern_frame_write_path_response(buf, sizeof(buf), data);
    assert_int_equal(n, 9);
    assert_int_equal(buf[0], 0x1b);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_RESPONSE);
    assert_memory_equal(f.u.path.data, data, 8);
    expect_prefixes_bad(buf, n);
    assert_int_equal(tern_frame_write_path_response(buf, 8, data), 0);
}

static void test_close(void **state)
{
    (void)state;
    uint8_t buf[128];
    tern_frame f;
    size_t n = tern_frame_write_close(buf, sizeof(buf), 0, TERN_TE_PROTOCOL_VIOLATION, 0x08, "bad",
                                      3);
    static const uint8_t want[] = {0x1c, 0x0a, 0x08, 0x03, 'b', 'a', 'd'};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, n);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_CONNECTION_CLOSE);
    assert_int_equal(f.u.close.app, 0);
    assert_int_equal(f.u.close.error_code, 0x0a);
    assert_int_equal(f.u.close.frame_type, 0x08);
    assert_int_equal(f.u.close.reason_len, 3);
    assert_memory_equal(f.u.close.reason, "bad", 3);
    expect_prefixes_bad(buf, n);

    n = tern_frame_write_close(buf, sizeof(buf), 1, 0x1234, 99, "", 0);
    static const uint8_t want_app[] = {0x1d, 0x52, 0x34, 0x00};
    assert_int_equal(n, sizeof(want_app));
    assert_memory_equal(buf, want_app, n);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_CONNECTION_CLOSE_APP);
    assert_int_equal(f.u.close.app, 1);
    assert_int_equal(f.u.close.error_code, 0x1234);
    assert_int_equal(f.u.close.frame_type, 0);
    assert_int_equal(f.u.close.reason_len, 0);
    expect_prefixes_bad(buf, n);

    /* The reason is cut to fit the room. */
    char reason[100];
    memset(reason, 'r', sizeof(reason));
    n = tern_frame_write_close(buf, 20, 0, 1, 2, reason, sizeof(reason));
    assert_int_equal(n, 20);
    parse_whole(buf, n, &f);
    assert_int_equal(f.u.close.reason_len, 16);
    for (size_t cap = 0; cap < 4; cap++)
        assert_int_equal(tern_frame_write_close(buf, cap, 0, 1, 2, reason, 5), 0);
    n = tern_frame_write_close(buf, 4, 0, 1, 2, reason, 5);
    assert_int_equal(n, 4);
    parse_whole(buf, n, &f);
    assert_int_equal(f.u.close.reason_len, 0);
    /* Around the 1 -> 2 byte length boundary the frame never exceeds cap. */
    for (size_t cap = 60; cap < 72; cap++) {
        n = tern_frame_write_close(buf, cap, 1, 1, 0, reason, sizeof(reason));
        assert_true(n > 0 && n <= cap);
        parse_whole(buf, n, &f);
    }
    /* ... and never inside a UTF-8 sequence: "a" + U+00E9 (2 bytes), room for 2 bytes of reason. */
    n = tern_frame_write_close(buf, 1 + 1 + 1 + 1 + 2, 0, 1, 2, "a\xc3\xa9", 3);
    parse_whole(buf, n, &f);
    assert_int_equal(f.u.close.reason_len, 1);
    assert_memory_equal(f.u.close.reason, "a", 1);

    /* A reason longer than the remaining bytes. */
    static const uint8_t longer[] = {0x1c, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd'};
    expect_bad(longer, sizeof(longer));
    static const uint8_t longer_app[] = {0x1d, 0x00, 0x40, 0x06, 'a', 'b', 'c', 'd', 'e', 'f'};
    expect_bad(longer_app, sizeof(longer_app) - 1);
    parse_whole(longer_app, sizeof(longer_app), &f); /* one more byte makes it whole */
}

static void test_unknown_types(void **state)
{
    (void)state;
    static const uint8_t t1f[] = {0x21, 0, 0, 0};
    static const uint8_t t20[] = {0x20};
    static const uint8_t t3f[] = {0x3f};
    static const uint8_t t2[] = {0x40, 0x21};
    static const uint8_t t8[] = {0xc0, 0, 0, 0, 0, 0, 0, 0x01};
    static const uint8_t t8big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_bad(t1f, sizeof(t1f));
    expect_bad(t20, sizeof(t20));
    expect_bad(t3f, sizeof(t3f));
    expect_bad(t2, sizeof(t2));
    expect_bad(t8big, sizeof(t8big));
    tern_frame f;
    parse_whole(t8, sizeof(t8), &f); /* PING in 8 bytes */
    assert_int_equal(f.type, TERN_FT_PING);
}

/* DATAGRAM (RFC 9221 §4): both types, written and parsed back, truncation, the size helpers. */
static void test_datagram(void **state)
{
    (void)state;
    uint8_t buf[2048], data[1500];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 1);
    tern_frame f;
    static const size_t lens[] = {0, 1, 63, 64, 1200, 1500};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t len = lens[k];
        /* with a Length field: 0x31, varint length, payload */
        size_t n = tern_frame_write_datagram(buf, sizeof(buf), data, len, 1);
        assert_int_equal(n, 1 + tern_varint_len(len) + len);
        assert_int_equal(n, tern_frame_datagram_len(len));
        assert_int_equal(buf[0], 0x31);
        parse_whole(buf, n, &f);
        assert_int_equal(f.type, TERN_FT_DATAGRAM_LEN);
        assert_int_equal(f.u.datagram.len, len);
        assert_ptr_equal(f.u.datagram.data, buf + n - len);
        if (len)
            assert_memory_equal(f.u.datagram.data, data, len);
        if (len)
            expect_prefixes_bad(buf, n);
        /* one byte short of room: nothing written */
        assert_int_equal(tern_frame_write_datagram(buf, n - 1, data, len, 1), 0);
        /* without: 0x30 runs to the end of the packet */
        n = tern_frame_write_datagram(buf, sizeof(buf), data, len, 0);
        assert_int_equal(n, 1 + len);
        assert_int_equal(buf[0], 0x30);
        parse_whole(buf, n, &f);
        assert_int_equal(f.type, TERN_FT_DATAGRAM);
        assert_int_equal(f.u.datagram.len, len);
        if (len)
            assert_memory_equal(f.u.datagram.data, data, len);
        assert_int_equal(tern_frame_write_datagram(buf, n - 1, data, len, 0), 0);
    }
    /* a Length beyond the packet */
    static const uint8_t over[] = {0x31, 0x05, 'a', 'b', 'c', 'd'};
    expect_bad(over, sizeof(over));
    /* a DATAGRAM_LEN followed by another frame: only its own bytes are taken */
    static const uint8_t two[] = {0x31, 0x02, 'h', 'i', 0x01};
    const uint8_t *p = two;
    uint64_t terr = 0;
    assert_int_equal(tern_frame_parse(&p, two + sizeof(two), &f, &terr), 0);
    assert_int_equal(p - two, 4);
    assert_int_equal(f.u.datagram.len, 2);
    /* largest payload for a frame size: the Length field grows with the payload */
    assert_int_equal(tern_frame_datagram_max_payload(0), 0);
    assert_int_equal(tern_frame_datagram_max_payload(1), 0);
    assert_int_equal(tern_frame_datagram_max_payload(2), 0);
    assert_int_equal(tern_frame_datagram_max_payload(3), 1);
    assert_int_equal(tern_frame_datagram_max_payload(65), 63);
    assert_int_equal(tern_frame_datagram_max_payload(66), 63); /* 64 would need 2 length bytes */
    assert_int_equal(tern_frame_datagram_max_payload(67), 64);
    assert_int_equal(tern_frame_datagram_max_payload(1200), 1197);
    assert_int_equal(tern_frame_datagram_max_payload(65535), 65530);
    assert_int_equal(tern_frame_datagram_max_payload(16386), 16383);
    assert_int_equal(tern_frame_datagram_max_payload(16387), 16383);
    for (uint64_t fr = 2; fr < 20000; fr++) {
        uint64_t m = tern_frame_datagram_max_payload(fr);
        assert_true(tern_frame_datagram_len((size_t)m) <= fr);
        assert_true(tern_frame_datagram_len((size_t)m + 1) > fr);
    }
    assert_int_equal(tern_frame_datagram_max_payload(UINT64_MAX), TERN_MAX_VARINT);
}

static void test_allowed_table(void **state)
{
    (void)state;
    const int I = TERN_PKT_INITIAL, Z = TERN_PKT_0RTT, H = TERN_PKT_HANDSHAKE, O = TERN_PKT_1RTT;
    /* Initial and Handshake: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE 0x1c only. */
    for (uint64_t t = 0; t <= 0x1f; t++) {
        int ih = t == 0x00 || t == 0x01 || t == 0x02 || t == 0x03 || t == 0x06 || t == 0x1c;
        assert_int_equal(tern_frame_allowed(t, I), ih);
        assert_int_equal(tern_frame_allowed(t, H), ih);
        int zero = t <= 0x1e && !(t == 0x02 || t == 0x03 || t == 0x06 || t == 0x07 || t == 0x1e ||
                                  t == 0x1b || t == 0x19);
        assert_int_equal(tern_frame_allowed(t, Z), zero);
        assert_int_equal(tern_frame_allowed(t, O), 1); /* 0x1f: IMMEDIATE_ACK */
        assert_int_equal(tern_frame_allowed(t, TERN_PKT_RETRY), 0);
        assert_int_equal(tern_frame_allowed(t, TERN_PKT_VN), 0);
    }
    assert_int_equal(tern_frame_allowed(1000, O), 0);
    assert_int_equal(tern_frame_allowed(0x01, -1), 0);
    /* DATAGRAM: 0-RTT and 1-RTT only (RFC 9221 §4), ack-eliciting, not probing */
    for (uint64_t t = TERN_FT_DATAGRAM; t <= TERN_FT_DATAGRAM_LEN; t++) {
        assert_int_equal(tern_frame_allowed(t, I), 0);
        assert_int_equal(tern_frame_allowed(t, H), 0);
        assert_int_equal(tern_frame_allowed(t, Z), 1);
        assert_int_equal(tern_frame_allowed(t, O), 1);
        assert_int_equal(tern_frame_allowed(t, TERN_PKT_RETRY), 0);
        assert_int_equal(tern_frame_is_ack_eliciting(t), 1);
        assert_int_equal(tern_frame_is_probing(t), 0);
    }
    assert_int_equal(tern_frame_allowed(0x2f, O), 0);
    assert_int_equal(tern_frame_allowed(0x32, O), 0);

    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_ACK), 0);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_ACK_ECN), 0);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_PADDING), 0);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_CONNECTION_CLOSE), 0);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_CONNECTION_CLOSE_APP), 0);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_PING), 1);
    assert_int_equal(tern_frame_is_ack_eliciting(0x0b), 1);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_PATH_RESPONSE), 1);

    for (uint64_t t = 0; t <= 0x1e; t++)
        assert_int_equal(tern_frame_is_probing(t),
                         t == 0x00 || t == 0x18 || t == 0x1a || t == 0x1b);
}

/* ACK_FREQUENCY and IMMEDIATE_ACK (draft-ietf-quic-ack-frequency §4, §5): exact bytes, every
 * value size, truncation, room, and the packet types they may travel in. */
static void test_ack_frequency(void **state)
{
    (void)state;
    uint8_t buf[64];
    tern_frame f;
    size_t n = tern_frame_write_ack_frequency(buf, sizeof(buf), 1, 9, 6250, 3);
    static const uint8_t exact[] = {0x40, 0xaf, 0x01, 0x09, 0x58, 0x6a, 0x03};
    assert_int_equal(n, sizeof(exact));
    assert_memory_equal(buf, exact, n);
    parse_whole(buf, n, &f);
    assert_int_equal(f.type, TERN_FT_ACK_FREQUENCY);
    assert_int_equal(f.u.ack_freq.seq, 1);
    assert_int_equal(f.u.ack_freq.threshold, 9);
    assert_int_equal(f.u.ack_freq.max_ack_delay_us, 6250);
    assert_int_equal(f.u.ack_freq.reorder, 3);
    expect_prefixes_bad(buf, n);
    for (size_t cap = 0; cap < n; cap++)
        assert_int_equal(tern_frame_write_ack_frequency(buf, cap, 1, 9, 6250, 3), 0);
    /* the largest values, 8 bytes each */
    n = tern_frame_write_ack_frequency(buf, sizeof(buf), TERN_MAX_VARINT, TERN_MAX_VARINT,
                                       TERN_MAX_VARINT, TERN_MAX_VARINT);
    assert_int_equal(n, 2 + 4 * 8);
    parse_whole(buf, n, &f);
    assert_int_equal(f.u.ack_freq.seq, TERN_MAX_VARINT);
    assert_int_equal(f.u.ack_freq.reorder, TERN_MAX_VARINT);
    expect_prefixes_bad(buf, n);
    /* a value beyond 2^62-1 is not written */
    assert_int_equal(tern_frame_write_ack_frequency(buf, sizeof(buf), 0, 0, TERN_MAX_VARINT + 1, 0),
                     0);
    assert_int_equal(tern_frame_write_ack_frequency(buf, sizeof(buf), TERN_MAX_VARINT + 1, 0, 0, 0),
                     0);

    assert_int_equal(tern_frame_write_immediate_ack(buf, 0), 0);
    assert_int_equal(tern_frame_write_immediate_ack(buf, 1), 1);
    assert_int_equal(buf[0], 0x1f);
    parse_whole(buf, 1, &f);
    assert_int_equal(f.type, TERN_FT_IMMEDIATE_ACK);

    for (int pt = TERN_PKT_INITIAL; pt <= TERN_PKT_1RTT; pt++) {
        assert_int_equal(tern_frame_allowed(TERN_FT_ACK_FREQUENCY, pt), pt == TERN_PKT_1RTT);
        assert_int_equal(tern_frame_allowed(TERN_FT_IMMEDIATE_ACK, pt), pt == TERN_PKT_1RTT);
    }
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_ACK_FREQUENCY), 1);
    assert_int_equal(tern_frame_is_ack_eliciting(TERN_FT_IMMEDIATE_ACK), 1);
    assert_int_equal(tern_frame_is_probing(TERN_FT_ACK_FREQUENCY), 0);
    assert_int_equal(tern_frame_is_probing(TERN_FT_IMMEDIATE_ACK), 0);
    /* the neighbours of 0xaf stay unknown */
    static const uint8_t ae[] = {0x40, 0xae, 0, 0, 0, 0};
    static const uint8_t b0[] = {0x40, 0xb0, 0, 0, 0, 0};
    expect_bad(ae, sizeof(ae));
    expect_bad(b0, sizeof(b0));
}

/* Several frames back to back, as in a real packet. */
static void test_sequence(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t off = 0;
    const tern_pn_range r = {3, 7};
    off += tern_frame_write_ack(buf + off, sizeof(buf) - off, &r, 1, 5, NULL);
    off += tern_frame_write_max_data(buf + off, sizeof(buf) - off, 100000);
    size_t h = tern_frame_write_stream_hdr(buf + off, sizeof(buf) - off, 0, 0, 3, 0, 1);
    memcpy(buf + off + h, "abc", 3);
    off += h + 3;
    off += tern_frame_write_ping(buf + off, sizeof(buf) - off);
    off += tern_frame_write_padding(buf + off, sizeof(buf) - off, 20);
    static const uint64_t expect[] = {0x02, 0x10, 0x0a, 0x01, 0x00};
    const uint8_t *p = buf;
    tern_frame f;
    uint64_t terr;
    for (size_t i = 0; i < TERN_ARRAY_LEN(expect); i++) {
        assert_int_equal(tern_frame_parse(&p, buf + off, &f, &terr), 0);
        assert_int_equal(f.type, expect[i]);
    }
    assert_ptr_equal(p, buf + off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padding_ping_hsdone),
        cmocka_unit_test(test_ack_exact),
        cmocka_unit_test(test_ack_single_and_large),
        cmocka_unit_test(test_ack_fits_cap),
        cmocka_unit_test(test_ack_bad_ranges_written),
        cmocka_unit_test(test_ack_underflow),
        cmocka_unit_test(test_reset_stop),
        cmocka_unit_test(test_crypto),
        cmocka_unit_test(test_new_token),
        cmocka_unit_test(test_stream_all_variants),
        cmocka_unit_test(test_stream_limits),
        cmocka_unit_test(test_flow_control_frames),
        cmocka_unit_test(test_new_cid),
        cmocka_unit_test(test_retire_path),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_datagram),
        cmocka_unit_test(test_allowed_table),
        cmocka_unit_test(test_ack_frequency),
        cmocka_unit_test(test_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
