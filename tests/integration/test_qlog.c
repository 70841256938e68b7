/* qlog: the exact JSON of frames and strings as qlog.c writes them, records cut short without
 * breaking the JSON, and what qlog costs a connection: one allocation when on, none per packet,
 * nothing at all when off (measured over a whole lossy transfer of the simulated pair). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "allochook.h"
#include "frame.h"
#include "migration.h"
#include "pair.h"
#include "qlog.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The frames of payload[0..len) as qlog.c writes them, NUL-terminated in out. */
static int frames_json(const uint8_t *payload, size_t len, char *out, size_t cap)
{
    tern_qlog_w w;
    tern_qlog_w_init(&w, out, cap);
    int truncated = tern_qlog_w_frames(&w, payload, len, 3);
    out[w.n] = 0;
    return truncated;
}

static void test_stream_crypto_padding(void **st)
{
    uint8_t b[64];
    size_t n = tern_frame_write_stream_hdr(b, sizeof(b), 4, 1000, 5, 1, 1);
    memcpy(b + n, "hello", 5);
    n += 5;
    size_t c = tern_frame_write_crypto_hdr(b + n, sizeof(b) - n, 7, 3);
    memcpy(b + n + c, "abc", 3);
    n += c + 3;
    n += tern_frame_write_padding(b + n, sizeof(b) - n, 4);
    char out[512];
    assert_int_equal(frames_json(b, n, out, sizeof(out)), 0);
    assert_string_equal(out,
                        "[{\"frame_type\":\"stream\",\"stream_id\":4,\"offset\":1000,\"fin\":true,"
                        "\"raw\":{\"length\":5}},{\"frame_type\":\"crypto\",\"offset\":7,"
                        "\"raw\":{\"length\":3}},{\"frame_type\":\"padding\",\"raw\":"
                        "{\"length\":4,\"payload_length\":4}}]");
}

static void test_ack_ranges(void **st)
{
    /* largest first; a single-packet range is written as [pn] */
    tern_pn_range r[] = {{10, 12}, {5, 7}, {1, 1}};
    uint8_t b[64];
    size_t n = tern_frame_write_ack(b, sizeof(b), r, 3, 1000, NULL); /* 1000 << 3 us = 8 ms */
    uint64_t ecn[3] = {5, 0, 1};
    n += tern_frame_write_ack(b + n, sizeof(b) - n, r, 1, 1, ecn);
    char out[512];
    assert_int_equal(frames_json(b, n, out, sizeof(out)), 0);
    assert_string_equal(out, "[{\"frame_type\":\"ack\",\"ack_delay\":8.000,\"acked_ranges\":"
                             "[[10,12],[5,7],[1]]},{\"frame_type\":\"ack\",\"ack_delay\":0.008,"
                             "\"acked_ranges\":[[10,12]],\"ect1\":0,\"ect0\":5,\"ce\":1}]");
}

static void test_cid_and_path_frames(void **st)
{
    tern_cid cid = {8, {1, 2, 3, 4, 5, 6, 7, 8}};
    uint8_t token[16];
    memset(token, 0xaa, sizeof(token));
    uint8_t data[8] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    uint8_t b[128];
    size_t n = tern_frame_write_new_cid(b, sizeof(b), 2, 1, &cid, token);
    n += tern_frame_write_retire_cid(b + n, sizeof(b) - n, 9);
    n += tern_frame_write_path_challenge(b + n, sizeof(b) - n, data);
    n += tern_frame_write_path_response(b + n, sizeof(b) - n, data);
    n += tern_frame_write_max_data(b + n, sizeof(b) - n, 1u << 20);
    n += tern_frame_write_max_streams(b + n, sizeof(b) - n, 0, 100);
    n += tern_frame_write_handshake_done(b + n, sizeof(b) - n);
    n += tern_frame_write_ping(b + n, sizeof(b) - n);
    char out[1024];
    assert_int_equal(frames_json(b, n, out, sizeof(out)), 0);
    assert_string_equal(
        out, "[{\"frame_type\":\"new_connection_id\",\"sequence_number\":2,\"retire_prior_to\":1,"
             "\"connection_id_length\":8,\"connection_id\":\"0102030405060708\","
             "\"stateless_reset_token\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
             "{\"frame_type\":\"retire_connection_id\",\"sequence_number\":9},"
             "{\"frame_type\":\"path_challenge\",\"data\":\"0011223344556677\"},"
             "{\"frame_type\":\"path_response\",\"data\":\"0011223344556677\"},"
             "{\"frame_type\":\"max_data\",\"maximum\":1048576},"
             "{\"frame_type\":\"max_streams\",\"stream_type\":\"unidirectional\",\"maximum\":100},"
             "{\"frame_type\":\"handshake_done\"},{\"frame_type\":\"ping\"}]");
}

static void test_close_codes_and_escaping(void **st)
{
    /* a reason with a quote, a backslash, a newline, a control byte, a byte that is not UTF-8
     * and a valid two-byte sequence */
    static const char reason[] = "a\"b\\c\nd\x01"
                                 "e\xff"
                                 "f\xc3\xa9";
    uint8_t b[256];
    size_t n = tern_frame_write_close(b, sizeof(b), 0, TERN_TE_PROTOCOL_VIOLATION, 0x08, reason,
                                      sizeof(reason) - 1);
    n += tern_frame_write_close(b + n, sizeof(b) - n, 1, 0x100, 0, "", 0);
    n += tern_frame_write_close(b + n, sizeof(b) - n, 0, 0x178, 0x06, "x", 1);
    n += tern_frame_write_close(b + n, sizeof(b) - n, 0, 0x99, 0, "", 0);
    char out[1024];
    assert_int_equal(frames_json(b, n, out, sizeof(out)), 0);
    assert_string_equal(
        out, "[{\"frame_type\":\"connection_close\",\"error_space\":\"transport\",\"error\":"
             "\"protocol_violation\",\"reason\":\"a\\\"b\\\\c\\nd\\u0001e\\u00fff\xc3\xa9\","
             "\"trigger_frame_type\":8},"
             "{\"frame_type\":\"connection_close\",\"error_space\":\"application\",\"error\":"
             "\"unknown\",\"error_code\":256,\"reason\":\"\"},"
             "{\"frame_type\":\"connection_close\",\"error_space\":\"transport\",\"error\":"
             "\"crypto_error_0x178\",\"reason\":\"x\",\"trigger_frame_type\":6},"
             "{\"frame_type\":\"connection_close\",\"error_space\":\"transport\",\"error\":"
             "\"unknown\",\"error_code\":153,\"reason\":\"\",\"trigger_frame_type\":0}]");
}

static void test_unparsable_frame(void **st)
{
    uint8_t b[] = {TERN_FT_PING, 0x21, 0x00}; /* 0x21 is no QUIC v1 frame type */
    char out[256];
    assert_int_equal(frames_json(b, sizeof(b), out, sizeof(out)), 0);
    assert_string_equal(out, "[{\"frame_type\":\"ping\"},{\"frame_type\":\"unknown\","
                             "\"frame_type_bytes\":33}]");
}

static void test_strings(void **st)
{
    char out[512];
    tern_qlog_w w;
    tern_qlog_w_init(&w, out, sizeof(out));
    /* overlong, surrogate, truncated sequence, then a valid 4-byte one, DEL and tab */
    static const char s[] = "\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xf0\x9f\x98\x80\x7f\t";
    tern_qlog_w_str(&w, s, sizeof(s) - 1);
    out[w.n] = 0;
    assert_string_equal(out, "\"\\u00c0\\u00af|\\u00ed\\u00a0\\u0080|\\u00e2\\u0082|"
                             "\xf0\x9f\x98\x80\\u007f\\t\"");
}

/* A record too small for every frame keeps the ones that fit, closes the array and says so. */
static void test_truncation(void **st)
{
    uint8_t b[400];
    memset(b, TERN_FT_PING, sizeof(b)); /* 400 PING frames */
    char out[300];
    assert_int_equal(frames_json(b, sizeof(b), out, sizeof(out)), 1);
    size_t len = strlen(out);
    assert_true(len < sizeof(out));
    assert_int_equal(out[0], '[');
    assert_string_equal(out + len - 2, "}]");
    /* whole elements only */
    size_t n = 0;
    for (const char *p = out; (p = strstr(p, "{\"frame_type\":\"ping\"}")); p++)
        n++;
    assert_true(n > 5);
    assert_int_equal(len, 2 + n * strlen("{\"frame_type\":\"ping\"}") + (n - 1));
}

/* An array whose last element ends right at the writer's soft limit still gets its bracket (the
 * reserve is for it): found by fuzzing. */
static void test_bracket_at_the_limit(void **st)
{
    uint8_t b[] = {TERN_FT_RETIRE_CONNECTION_ID, 0x00, 0x40, 0x08}; /* then a cut STREAM frame */
    char out[200];
    frames_json(b, sizeof(b), out, sizeof(out));
    assert_string_equal(out, "[{\"frame_type\":\"retire_connection_id\",\"sequence_number\":0},"
                             "{\"frame_type\":\"unknown\",\"frame_type_bytes\":8}]");
}

/* ---- a whole connection -----------------------------------------------------------------------
 */

static struct {
    unsigned long records, headers, sent, received, metrics, lost, keys, tuples, closed, bad;
} g;

/* Counts records by name, checking their framing; must not allocate (it is measured). */
static void count_record(void *ud, tern_conn *c, const char *r, size_t len)
{
    (void)ud;
    (void)c;
    g.records++;
    if (len < 4 || r[0] != 0x1e || r[len - 1] != '\n' || r[len - 2] != '}' || strlen(r) != len)
        g.bad++;
    if (!strncmp(r, "\x1e{\"file_schema\":\"urn:ietf:params:qlog:file:sequential\"", 54))
        g.headers++;
    else if (strncmp(r, "\x1e{\"time\":", 9))
        g.bad++;
    g.sent += strstr(r, "\"name\":\"quic:packet_sent\"") != NULL;
    g.received += strstr(r, "\"name\":\"quic:packet_received\"") != NULL;
    g.metrics += strstr(r, "\"name\":\"quic:recovery_metrics_updated\"") != NULL;
    g.lost += strstr(r, "\"name\":\"quic:packet_lost\"") != NULL;
    g.keys += strstr(r, "\"name\":\"quic:key_updated\"") != NULL;
    g.tuples += strstr(r, "\"name\":\"quic:tuple_assigned\"") != NULL;
    g.closed += strstr(r, "\"name\":\"quic:connection_closed\"") != NULL;
}

static int cond_closed(tern_pair *p)
{
    return p->client_closed && p->server_closed;
}

/* A lossy 2 MB download; returns the allocations it made (0 without the allocation hook). */
static unsigned long long transfer(int qlog)
{
    memset(&g, 0, sizeof(g));
#if ALLOCHOOK_ACTIVE
    unsigned long long a0 = allochook_count;
#endif
    tern_pair p;
    assert_int_equal(pair_init(&p, 77), 0);
    if (qlog)
        p.cfg_c.qlog = p.cfg_s.qlog = count_record;
    p.s2c.loss = 0.02;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_true(pair_request(&p, 2u << 20) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    tern_conn_close(p.client, 0, "done");
    assert_true(pair_run(&p, cond_closed, 10 * SEC));
    pair_free(&p);
#if ALLOCHOOK_ACTIVE
    return allochook_count - a0;
#else
    return 0;
#endif
}

static void test_connection_records(void **st)
{
    transfer(1);
    fprintf(stderr, "qlog: %lu records, %lu sent, %lu received, %lu metrics, %lu lost\n", g.records,
            g.sent, g.received, g.metrics, g.lost);
    assert_int_equal(g.bad, 0);
    assert_int_equal(g.headers, 2); /* one per connection, each its first record */
    assert_true(g.sent > 1000 && g.received > 1000);
    assert_true(g.metrics > 10);
    assert_true(g.lost > 0);      /* 2% loss */
    assert_int_equal(g.keys, 12); /* Initial, Handshake, 1-RTT, both directions, both sides */
    assert_int_equal(g.tuples, 2);
    assert_int_equal(g.closed, 2);
}

static void test_cost(void **st)
{
#if !ALLOCHOOK_ACTIVE
    skip(); /* the sanitizers own the allocator */
#else
    unsigned long long off = transfer(0);
    assert_int_equal(g.records, 0); /* off: nothing formatted, nothing handed over */
    unsigned long long on = transfer(1);
    unsigned long packets = g.sent + g.received;
    fprintf(stderr, "qlog: allocations off %llu, on %llu, over %lu packets\n", off, on, packets);
    /* the record buffer of each of the two connections, and nothing per packet */
    assert_int_equal(on - off, 2);
#endif
}

/* ---- a migration to a path not yet validated ---------------------------------------------------- */

#define MIG_MAX 32
static char mig[2][MIG_MAX][160]; /* [server] migration_state_updated data, in order */
static int nmig[2];

static void keep_migration(void *ud, tern_conn *c, const char *r, size_t len)
{
    int srv = tern_conn_is_server(c);
    const char *d = strstr(r, "\"name\":\"quic:migration_state_updated\",\"data\":");
    if (!d || nmig[srv] == MIG_MAX)
        return;
    d += strlen("\"name\":\"quic:migration_state_updated\",\"data\":");
    /* the state, the tuple and the rest without the addresses */
    char *out = mig[srv][nmig[srv]++];
    const char *local = strstr(d, ",\"tuple_remote\"");
    const char *tail = strstr(d, "\"from_tuple_id\"");
    if (!tail)
        tail = strstr(d, "\"reason\"");
    snprintf(out, sizeof(mig[0][0]), "%.*s|%s", local ? (int)(local - d) : 0, d, tail ? tail : "");
    char *end = strstr(out, "}}");
    if (end)
        *end = 0;
}

static int cond_some_data(tern_pair *p) { return p->streams[0].got > 200000; }

static void test_migration_records(void **st)
{
    nmig[0] = nmig[1] = 0;
    tern_pair p;
    assert_int_equal(pair_init(&p, 5), 0);
    p.cfg_c.qlog = p.cfg_s.qlog = keep_migration;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 2u << 20), 0);
    assert_true(pair_run(&p, cond_some_data, 10 * SEC));
    tern_addr cell;
    assert_int_equal(tern_addr_parse(&cell, "10.0.0.4:7000", 0), 0);
    assert_int_equal(tern_conn_path_set_active(p.client, &cell, p.now), 1); /* not validated yet */
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < nmig[k]; i++)
            fprintf(stderr, "%s %s\n", k ? "server" : "client", mig[k][i]);
    assert_int_equal(nmig[0], 4);
    assert_string_equal(mig[0][0], "{\"new\":\"probing_started\",\"tuple_id\":\"1\"|");
    assert_string_equal(mig[0][1], "{\"new\":\"migration_started\",\"tuple_id\":\"1\"|"
                                   "\"from_tuple_id\":\"0\",\"reason\":\"app\"");
    assert_non_null(strstr(mig[0][2], "{\"new\":\"probing_successful\",\"tuple_id\":\"1\"|"));
    assert_string_equal(mig[0][3], "{\"new\":\"migration_complete\",\"tuple_id\":\"1\"|"
                                   "\"from_tuple_id\":\"0\",\"reason\":\"app\"");
    /* the completion names the move it completes; and the server followed the client there */
    int followed = 0;
    for (int i = 0; i < nmig[1]; i++)
        followed |= strstr(mig[1][i], "\"from_tuple_id\":\"0\",\"reason\":\"peer_migrated\"") != NULL &&
                    strstr(mig[1][i], "migration_complete") != NULL;
    assert_true(followed);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_crypto_padding),
        cmocka_unit_test(test_ack_ranges),
        cmocka_unit_test(test_cid_and_path_frames),
        cmocka_unit_test(test_close_codes_and_escaping),
        cmocka_unit_test(test_unparsable_frame),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_bracket_at_the_limit),
        cmocka_unit_test(test_connection_records),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_migration_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
