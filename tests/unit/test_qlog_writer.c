/* Tests of the qlog JSON writer: string escaping (control characters, quotes, every kind of
 * malformed UTF-8), every frame type as its exact QuicFrame JSON, connection-close error names,
 * truncation that keeps the JSON valid, and the name of every path reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "mpframe.h"
#include "qlog.h"

static char buf[TERN_QLOG_RECORD_MAX];
static tern_qlog_w w;

static const char *str_of(const char *s, size_t len)
{
    tern_qlog_w_init(&w, buf, sizeof(buf));
    tern_qlog_w_str(&w, s, len);
    buf[w.n] = 0;
    return buf;
}
#define STR(lit) str_of(lit, sizeof(lit) - 1)

static void test_escaping(void **state)
{
    (void)state;
    assert_string_equal(STR("plain"), "\"plain\"");
    assert_string_equal(STR("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(STR("\n\r\t"), "\"\\n\\r\\t\"");
    assert_string_equal(STR("\x01\x1f\x7f"), "\"\\u0001\\u001f\\u007f\"");
    assert_string_equal(STR("nul\0x"), "\"nul\\u0000x\"");
    /* valid two-, three- and four-byte sequences pass through */
    assert_string_equal(STR("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
                        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    assert_string_equal(STR("\xed\x9f\xbf\xf4\x8f\xbf\xbf"),
                        "\"\xed\x9f\xbf\xf4\x8f\xbf\xbf\""); /* the largest */
    /* malformed: each byte of the bad sequence becomes a code point of its own */
    assert_string_equal(STR("\xc0\xaf"), "\"\\u00c0\\u00af\"");            /* overlong 2-byte */
    assert_string_equal(STR("\xe0\x80\xaf"), "\"\\u00e0\\u0080\\u00af\""); /* overlong 3-byte */
    assert_string_equal(STR("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\""); /* a surrogate */
    assert_string_equal(STR("\xf0\x8f\xbf\xbf"),
                        "\"\\u00f0\\u008f\\u00bf\\u00bf\""); /* overlong 4 */
    assert_string_equal(STR("\xf4\x90\x80\x80"),
                        "\"\\u00f4\\u0090\\u0080\\u0080\""); /* > U+10FFFF */
    assert_string_equal(STR("\xf5\x80"), "\"\\u00f5\\u0080\"");
    assert_string_equal(STR("\xc3("), "\"\\u00c3(\"");            /* a bad continuation byte */
    assert_string_equal(STR("x\xe2\x82"), "\"x\\u00e2\\u0082\""); /* cut short by the end */
    assert_string_equal(STR("\x80"), "\"\\u0080\"");              /* a lone continuation byte */
    assert_int_equal(w.over, 0);
}

static void test_hex_and_truncation(void **state)
{
    (void)state;
    static const uint8_t d[] = {0x00, 0x0f, 0xa0, 0xff};
    tern_qlog_w_init(&w, buf, sizeof(buf));
    tern_qlog_w_hex(&w, d, sizeof(d));
    buf[w.n] = 0;
    assert_string_equal(buf, "\"000fa0ff\"");
    tern_qlog_w_init(&w, buf, sizeof(buf));
    tern_qlog_w_hex(&w, d, 0);
    buf[w.n] = 0;
    assert_string_equal(buf, "\"\"");

    /* a buffer of 100 bytes keeps 96 in reserve: 4 bytes of elements, and then nothing more */
    char small[100];
    tern_qlog_w_init(&w, small, sizeof(small));
    tern_qlog_w_raw(&w, "abcd", 4);
    assert_int_equal(w.n, 4);
    assert_int_equal(w.over, 0);
    tern_qlog_w_raw(&w, "e", 1);
    assert_int_equal(w.n, 4);
    assert_int_equal(w.over, 1);
    tern_qlog_w_raw(&w, "", 0); /* once over, nothing is written */
    assert_int_equal(w.n, 4);
    /* a buffer smaller than the reserve takes no element at all */
    tern_qlog_w_init(&w, small, 10);
    tern_qlog_w_raw(&w, "a", 1);
    assert_int_equal(w.n, 0);
    assert_int_equal(w.over, 1);

    /* a string cut by the limit stops at a whole escape */
    tern_qlog_w_init(&w, small, sizeof(small));
    tern_qlog_w_str(&w, "\x01\x01", 2); /* `"` + 6: over at the first escape */
    assert_int_equal(w.n, 1);
    assert_int_equal(w.over, 1);
}

/* The frames of payload[0..len) as JSON. */
static const char *frames(const uint8_t *p, size_t len, unsigned exp, int *truncated)
{
    tern_qlog_w_init(&w, buf, sizeof(buf));
    int t = tern_qlog_w_frames(&w, p, len, exp);
    if (truncated)
        *truncated = t;
    buf[w.n] = 0;
    return buf;
}

/* One frame written by `expr` at pkt[0] (the caller's `p`) and shown alone. */
static uint8_t pkt[4096];
#define ONE(expr, want)                                                                            \
    do {                                                                                           \
        size_t n_ = (expr);                                                                        \
        assert_true(n_ > 0);                                                                       \
        int t_ = 1;                                                                                \
        assert_string_equal(frames(pkt, n_, 3, &t_), want);                                        \
        assert_int_equal(t_, 0);                                                                   \
    } while (0)

static void test_every_frame(void **state)
{
    (void)state;
    uint8_t *p = pkt;
    size_t n = tern_frame_write_ping(p, 10);
    n += tern_frame_write_padding(p + n, 10, 5);
    assert_string_equal(
        frames(pkt, n, 3, NULL),
        "[{\"frame_type\":\"ping\"},{\"frame_type\":\"padding\",\"raw\":{\"length\":5,"
        "\"payload_length\":5}}]");
    ONE(tern_frame_write_reset_stream(p, 64, 4, 7, 1000),
        "[{\"frame_type\":\"reset_stream\",\"stream_id\":4,\"error\":\"unknown\",\"error_code\":7,"
        "\"final_size\":1000}]");
    ONE(tern_frame_write_stop_sending(p, 64, 8, 9),
        "[{\"frame_type\":\"stop_sending\",\"stream_id\":8,\"error\":\"unknown\",\"error_code\":9}"
        "]");
    ONE(tern_frame_write_crypto_hdr(p, 64, 100, 0),
        "[{\"frame_type\":\"crypto\",\"offset\":100,\"raw\":{\"length\":0}}]");
    static const uint8_t token[3] = {1, 2, 3};
    ONE(tern_frame_write_new_token(p, 64, token, 3),
        "[{\"frame_type\":\"new_token\",\"token\":{\"raw\":{\"length\":3}}}]");
    ONE(tern_frame_write_stream_hdr(p, 64, 1, 2, 0, 1, 1),
        "[{\"frame_type\":\"stream\",\"stream_id\":1,\"offset\":2,\"fin\":true,\"raw\":{\"length\":"
        "0}}]");
    ONE(tern_frame_write_max_data(p, 64, 123456),
        "[{\"frame_type\":\"max_data\",\"maximum\":123456}]");
    ONE(tern_frame_write_max_stream_data(p, 64, 5, 77),
        "[{\"frame_type\":\"max_stream_data\",\"stream_id\":5,\"maximum\":77}]");
    ONE(tern_frame_write_max_streams(p, 64, 1, 10),
        "[{\"frame_type\":\"max_streams\",\"stream_type\":\"bidirectional\",\"maximum\":10}]");
    ONE(tern_frame_write_max_streams(p, 64, 0, 11),
        "[{\"frame_type\":\"max_streams\",\"stream_type\":\"unidirectional\",\"maximum\":11}]");
    ONE(tern_frame_write_data_blocked(p, 64, 50),
        "[{\"frame_type\":\"data_blocked\",\"limit\":50}]");
    ONE(tern_frame_write_stream_data_blocked(p, 64, 3, 60),
        "[{\"frame_type\":\"stream_data_blocked\",\"stream_id\":3,\"limit\":60}]");
    ONE(tern_frame_write_streams_blocked(p, 64, 1, 12),
        "[{\"frame_type\":\"streams_blocked\",\"stream_type\":\"bidirectional\",\"limit\":12}]");
    ONE(tern_frame_write_streams_blocked(p, 64, 0, 13),
        "[{\"frame_type\":\"streams_blocked\",\"stream_type\":\"unidirectional\",\"limit\":13}]");
    tern_cid cid = {4, {0xde, 0xad, 0xbe, 0xef}};
    uint8_t srt[TERN_RESET_TOKEN_LEN];
    for (int i = 0; i < TERN_RESET_TOKEN_LEN; i++)
        srt[i] = (uint8_t)(0x10 + i);
    ONE(tern_frame_write_new_cid(p, 64, 2, 1, &cid, srt),
        "[{\"frame_type\":\"new_connection_id\",\"sequence_number\":2,\"retire_prior_to\":1,"
        "\"connection_id_length\":4,\"connection_id\":\"deadbeef\","
        "\"stateless_reset_token\":\"101112131415161718191a1b1c1d1e1f\"}]");
    ONE(tern_frame_write_retire_cid(p, 64, 6),
        "[{\"frame_type\":\"retire_connection_id\",\"sequence_number\":6}]");
    static const uint8_t pd[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ONE(tern_frame_write_path_challenge(p, 64, pd),
        "[{\"frame_type\":\"path_challenge\",\"data\":\"0102030405060708\"}]");
    ONE(tern_frame_write_path_response(p, 64, pd),
        "[{\"frame_type\":\"path_response\",\"data\":\"0102030405060708\"}]");
    ONE(tern_frame_write_handshake_done(p, 64), "[{\"frame_type\":\"handshake_done\"}]");
}

/* ACK_FREQUENCY and IMMEDIATE_ACK (draft-ietf-quic-ack-frequency) and every multipath frame
 * (draft-ietf-quic-multipath), with the names and fields of their qlog definitions. */
static void test_extension_frames(void **state)
{
    (void)state;
    uint8_t *p = pkt;
    ONE(tern_frame_write_ack_frequency(p, 64, 3, 9, 25000, 4),
        "[{\"frame_type\":\"ack_frequency\",\"sequence_number\":3,\"ack_eliciting_threshold\":9,"
        "\"requested_max_ack_delay\":25.000,\"reordering_threshold\":4}]");
    ONE(tern_frame_write_immediate_ack(p, 64), "[{\"frame_type\":\"immediate_ack\"}]");

    tern_pn_range r[2] = {{10, 12}, {5, 5}};
    ONE(tern_mpframe_write_path_ack(p, 256, 2, r, 2, 1000, NULL),
        "[{\"frame_type\":\"path_ack\",\"path_id\":2,\"ack_delay\":8.000,"
        "\"acked_ranges\":[[10,12],[5]]}]");
    uint64_t ecn[3] = {1, 2, 3};
    ONE(tern_mpframe_write_path_ack(p, 256, 1, r, 1, 0, ecn),
        "[{\"frame_type\":\"path_ack\",\"path_id\":1,\"ack_delay\":0.000,"
        "\"acked_ranges\":[[10,12]],\"ect1\":2,\"ect0\":1,\"ce\":3}]");
    ONE(tern_mpframe_write_path_abandon(p, 64, 3, TERN_MP_ERR_PATH_UNSTABLE_OR_POOR),
        "[{\"frame_type\":\"path_abandon\",\"path_id\":3,\"error_code\":15990}]");
    ONE(tern_mpframe_write_path_status(p, 64, 0, 4, 7),
        "[{\"frame_type\":\"path_status_backup\",\"path_id\":4,"
        "\"path_status_sequence_number\":7}]");
    ONE(tern_mpframe_write_path_status(p, 64, 1, 4, 8),
        "[{\"frame_type\":\"path_status_available\",\"path_id\":4,"
        "\"path_status_sequence_number\":8}]");
    tern_cid cid = {2, {0xab, 0xcd}};
    uint8_t srt[TERN_RESET_TOKEN_LEN];
    memset(srt, 0xee, sizeof(srt));
    ONE(tern_mpframe_write_path_new_cid(p, 64, 5, 2, 1, &cid, srt),
        "[{\"frame_type\":\"path_new_connection_id\",\"path_id\":5,\"sequence_number\":2,"
        "\"retire_prior_to\":1,\"connection_id_length\":2,\"connection_id\":\"abcd\","
        "\"stateless_reset_token\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"}]");
    ONE(tern_mpframe_write_path_retire_cid(p, 64, 6, 11),
        "[{\"frame_type\":\"path_retire_connection_id\",\"path_id\":6,\"sequence_number\":11}]");
    ONE(tern_mpframe_write_max_path_id(p, 64, 12),
        "[{\"frame_type\":\"max_path_id\",\"maximum_path_id\":12}]");
    ONE(tern_mpframe_write_paths_blocked(p, 64, 13),
        "[{\"frame_type\":\"paths_blocked\",\"maximum_path_id\":13}]");
    ONE(tern_mpframe_write_path_cids_blocked(p, 64, 7, 14),
        "[{\"frame_type\":\"path_cids_blocked\",\"path_id\":7,\"next_sequence_number\":14}]");

    /* frames after a multipath one are read on; a multipath frame cut short ends the array */
    size_t n = tern_mpframe_write_max_path_id(p, 64, 1);
    n += tern_frame_write_ping(p + n, 10);
    assert_string_equal(frames(pkt, n, 3, NULL),
                        "[{\"frame_type\":\"max_path_id\",\"maximum_path_id\":1},"
                        "{\"frame_type\":\"ping\"}]");
    n = tern_mpframe_write_path_abandon(p, 64, 3, 1);
    assert_string_equal(frames(pkt, n - 1, 3, NULL),
                        "[{\"frame_type\":\"unknown\",\"frame_type_bytes\":15989}]");
}

static void test_ack(void **state)
{
    (void)state;
    uint8_t *p = pkt;
    tern_pn_range r[3] = {{10, 12}, {5, 5}, {0, 2}};
    /* delay 1000 with exponent 3: 8 ms */
    ONE(tern_frame_write_ack(p, 256, r, 3, 1000, NULL),
        "[{\"frame_type\":\"ack\",\"ack_delay\":8.000,\"acked_ranges\":[[10,12],[5],[0,2]]}]");
    uint64_t ecn[3] = {1, 2, 3};
    ONE(tern_frame_write_ack(p, 256, r, 1, 0, ecn),
        "[{\"frame_type\":\"ack\",\"ack_delay\":0.000,\"acked_ranges\":[[10,12]],\"ect1\":2,"
        "\"ect0\":1,\"ce\":3}]");
    /* an exponent past what fits saturates instead of wrapping */
    size_t n = tern_frame_write_ack(p, 256, r, 1, 1, NULL);
    assert_string_equal(frames(pkt, n, 40, NULL),
                        "[{\"frame_type\":\"ack\",\"ack_delay\":18446744073709.551,"
                        "\"acked_ranges\":[[10,12]]}]");

    /* an ACK with more ranges than the record holds keeps its newest ranges and stays valid */
    static tern_pn_range many[3000];
    for (uint64_t i = 0; i < 3000; i++)
        many[i] = (tern_pn_range){1000000000ull - 4 * i, 1000000000ull - 4 * i};
    static uint8_t big[65536];
    n = tern_frame_write_ack(big, sizeof(big), many, 3000, 0, NULL);
    assert_true(n > 6000);
    int t = 0;
    const char *s = frames(big, n, 3, &t);
    assert_int_equal(t, 1);
    size_t len = strlen(s);
    assert_true(len < sizeof(buf));
    assert_memory_equal(
        s,
        "[{\"frame_type\":\"ack\",\"ack_delay\":0.000,\"acked_ranges\":[[1000000000],"
        "[999999996],",
        strlen("[{\"frame_type\":\"ack\",\"ack_delay\":0.000,\"acked_ranges\":"
               "[[1000000000],[999999996],"));
    assert_int_equal(s[len - 1], ']');
    assert_int_equal(s[len - 2], '}');
    assert_int_equal(s[len - 3], ']');
    assert_int_equal(s[len - 4], ']');
}

static void test_close(void **state)
{
    (void)state;
    uint8_t *p = pkt;
    ONE(tern_frame_write_close(p, 256, 0, TERN_TE_PROTOCOL_VIOLATION, 0x08, "bad\"", 4),
        "[{\"frame_type\":\"connection_close\",\"error_space\":\"transport\","
        "\"error\":\"protocol_violation\",\"reason\":\"bad\\\"\",\"trigger_frame_type\":8}]");
    ONE(tern_frame_write_close(p, 256, 0, 0x10, 0, "", 0),
        "[{\"frame_type\":\"connection_close\",\"error_space\":\"transport\","
        "\"error\":\"no_viable_path\",\"reason\":\"\",\"trigger_frame_type\":0}]");
    ONE(tern_frame_write_close(p, 256, 0, TERN_TE_CRYPTO_ERROR + 0x2a, 6, "x", 1),
        "[{\"frame_type\":\"connection_close\",\"error_space\":\"transport\","
        "\"error\":\"crypto_error_0x12a\",\"reason\":\"x\",\"trigger_frame_type\":6}]");
    ONE(tern_frame_write_close(p, 256, 0, 0x11, 0, "", 0),
        "[{\"frame_type\":\"connection_close\",\"error_space\":\"transport\","
        "\"error\":\"unknown\",\"error_code\":17,\"reason\":\"\",\"trigger_frame_type\":0}]");
    ONE(tern_frame_write_close(p, 256, 0, TERN_TE_CRYPTO_ERROR + 256, 0, "", 0),
        "[{\"frame_type\":\"connection_close\",\"error_space\":\"transport\","
        "\"error\":\"unknown\",\"error_code\":512,\"reason\":\"\",\"trigger_frame_type\":0}]");
    ONE(tern_frame_write_close(p, 256, 1, 0, 0, "bye\n", 4),
        "[{\"frame_type\":\"connection_close\",\"error_space\":\"application\","
        "\"error\":\"unknown\",\"error_code\":0,\"reason\":\"bye\\n\"}]");
}

static void test_unparsable(void **state)
{
    (void)state;
    /* a frame type tern does not know ends the array as "unknown", with its type */
    uint8_t bad[] = {0x01, 0x40, 0x21, 0x00, 0x01};
    int t = 1;
    assert_string_equal(
        frames(bad, sizeof(bad), 3, &t),
        "[{\"frame_type\":\"ping\"},{\"frame_type\":\"unknown\",\"frame_type_bytes\":33}]");
    assert_int_equal(t, 0);
    /* a known type cut short */
    uint8_t cut[] = {0x06, 0x00};
    assert_string_equal(frames(cut, sizeof(cut), 3, &t),
                        "[{\"frame_type\":\"unknown\",\"frame_type_bytes\":6}]");
    assert_string_equal(frames(cut, 0, 3, &t), "[]");
}

static void test_frames_truncated(void **state)
{
    (void)state;
    /* many PING frames into a buffer that takes only some: the array closes after a whole one */
    uint8_t pings[64];
    memset(pings, 0x01, sizeof(pings));
    char small[96 + 44]; /* room for "[" and two pings with their comma */
    tern_qlog_w_init(&w, small, sizeof(small));
    int t = tern_qlog_w_frames(&w, pings, sizeof(pings), 3);
    small[w.n] = 0;
    assert_int_equal(t, 1);
    assert_string_equal(small, "[{\"frame_type\":\"ping\"},{\"frame_type\":\"ping\"}]");
}

/* An ACK whose key fits but not the opening of its ranges is left out whole, not cut into a
 * broken key (a fuzzing find: `"ack_delay":0.033,"]}` came out). */
static void test_ack_cut_before_ranges(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x40, 0x00, 0x02, 0x21, 0x21, 0x00, 0x00}; /* PADDING, ACK */
    char small[200];
    tern_qlog_w_init(&w, small, sizeof(small));
    int t = tern_qlog_w_frames(&w, in, sizeof(in), 0);
    assert_true(w.n < sizeof(small));
    small[w.n] = 0;
    assert_int_equal(t, 1);
    assert_string_equal(small,
                        "[{\"frame_type\":\"padding\",\"raw\":{\"length\":2,\"payload_length\":2}}]");
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const want[] = {
        "none",
        "app",
        "timeout",
        "socket_error",
        "no_cid",
        "migration_disabled",
        "validation_failed",
        "active_removed",
        "preferred_address",
        "peer_migrated",
        "zero_len_cid",
        "failover",
        "degrading",
        "interface_gone",
        "address_gone",
        "default_changed",
        "migrated_back",
        "port_migration",
        "keepalive_failed",
        "new_network",
        "limit",
        "standby_unused",
        "peer_abandoned",
        "idle",
    };
    for (int i = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++)
        assert_string_equal(tern_qlog_reason_name((tern_path_reason)i), want[i]);
    assert_string_equal(tern_qlog_reason_name(TERN_PATH_WHY_STANDBY_UNUSED), "standby_unused");
    assert_string_equal(tern_qlog_reason_name((tern_path_reason)24), "unknown");
    assert_string_equal(tern_qlog_reason_name((tern_path_reason)-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_hex_and_truncation),
        cmocka_unit_test(test_every_frame),
        cmocka_unit_test(test_extension_frames),
        cmocka_unit_test(test_ack),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_unparsable),
        cmocka_unit_test(test_frames_truncated),
        cmocka_unit_test(test_ack_cut_before_ranges),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
