/* Tests of the multipath frame codecs (draft-ietf-quic-multipath-21): exact wire bytes of every
 * writer, parse of those bytes, every truncation and bad value refused as FRAME_ENCODING_ERROR,
 * and the packet-type rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mpframe.h"
#include "packet.h"

#define FEE TERN_TE_FRAME_ENCODING_ERROR

#define parse_whole(buf, len, f) parse_whole_at(buf, len, f, __LINE__)
static void parse_whole_at(const uint8_t *buf, size_t len, tern_mp_frame *f, int line)
{
    const uint8_t *p = buf;
    uint64_t terr = 0;
    int rc = tern_mpframe_parse(&p, buf + len, f, &terr);
    _assert_int_equal((uintmax_t)rc, 0, __FILE__, line);
    _assert_int_equal((uintmax_t)(p - buf), (uintmax_t)len, __FILE__, line);
}

#define expect_bad(buf, len) expect_bad_at(buf, len, __LINE__)
static void expect_bad_at(const uint8_t *buf, size_t len, int line)
{
    const uint8_t *p = buf;
    uint64_t terr = 0;
    tern_mp_frame f;
    int rc = tern_mpframe_parse(&p, buf + len, &f, &terr);
    _assert_int_equal((uintmax_t)rc, (uintmax_t)TERN_ERR_PROTO, __FILE__, line);
    _assert_int_equal(terr, FEE, __FILE__, line);
    _assert_int_equal((uintmax_t)(p - buf), 0, __FILE__, line);
}

/* Every strict prefix that still holds the whole frame type is malformed. */
static void expect_prefixes_bad(const uint8_t *buf, size_t len, size_t type_len)
{
    for (size_t n = type_len; n < len; n++)
        expect_bad(buf, n);
}

static void test_types(void **state)
{
    (void)state;
    static const uint64_t mp[] = {0x3e, 0x3f, 0x3e75, 0x3e76, 0x3e77, 0x3e78,
                                  0x3e79, 0x3e7a, 0x3e7b, 0x3e7c};
    for (size_t i = 0; i < sizeof(mp) / sizeof(mp[0]); i++) {
        assert_true(tern_mpframe_is_mp(mp[i]));
        assert_true(tern_mpframe_allowed(mp[i], TERN_PKT_1RTT));
        for (int pt = 0; pt <= TERN_PKT_VN; pt++)
            if (pt != TERN_PKT_1RTT)
                assert_false(tern_mpframe_allowed(mp[i], pt));
        assert_int_equal(tern_mpframe_is_ack_eliciting(mp[i]), mp[i] > 0x3f);
    }
    assert_false(tern_mpframe_is_mp(0x3d));
    assert_false(tern_mpframe_is_mp(0x3e74));
    assert_false(tern_mpframe_is_mp(0x3e7d));
    assert_false(tern_mpframe_is_mp(0x02));
    /* anything else is left to tern_frame_parse, unconsumed */
    static const uint8_t ping[] = {0x01}, trunc[] = {0x7e};
    tern_mp_frame f;
    uint64_t terr = 0;
    const uint8_t *p = ping;
    assert_int_equal(tern_mpframe_parse(&p, ping + 1, &f, &terr), 1);
    assert_ptr_equal(p, ping);
    p = trunc;
    assert_int_equal(tern_mpframe_parse(&p, trunc + 1, &f, &terr), 1);
    assert_ptr_equal(p, trunc);
    /* without the extension the frame parser still refuses them (RFC 9000 §12.4) */
    static const uint8_t abandon[] = {0x7e, 0x75, 0x01, 0x00};
    tern_frame g;
    p = abandon;
    assert_int_equal(tern_frame_parse(&p, abandon + sizeof(abandon), &g, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, FEE);
}

static void test_path_ack(void **state)
{
    (void)state;
    uint8_t b[64];
    tern_pn_range r[2] = {{10, 12}, {3, 5}};
    size_t n = tern_mpframe_write_path_ack(b, sizeof(b), 7, r, 2, 9, NULL);
    /* type, path 7, largest 12, delay 9, 1 range, first 2, gap 10-5-2=3, len 2 */
    static const uint8_t want[] = {0x3e, 0x07, 0x0c, 0x09, 0x01, 0x02, 0x03, 0x02};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(b, want, sizeof(want));
    tern_mp_frame f;
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_ACK);
    assert_int_equal(f.path_id, 7);
    assert_int_equal(f.u.ack.type, TERN_FT_ACK);
    assert_int_equal(f.u.ack.u.ack.largest, 12);
    assert_int_equal(f.u.ack.u.ack.delay, 9);
    assert_false(f.u.ack.u.ack.ecn);
    tern_ack_iter it;
    uint64_t lo, hi;
    tern_ack_iter_init(&it, &f.u.ack);
    assert_true(tern_ack_iter_next(&it, &lo, &hi));
    assert_int_equal(lo, 10);
    assert_int_equal(hi, 12);
    assert_true(tern_ack_iter_next(&it, &lo, &hi));
    assert_int_equal(lo, 3);
    assert_int_equal(hi, 5);
    assert_false(tern_ack_iter_next(&it, &lo, &hi));
    expect_prefixes_bad(b, n, 1);

    /* with ECN counts, and a path ID needing 4 bytes */
    uint64_t ecn[3] = {1, 2, 3};
    n = tern_mpframe_write_path_ack(b, sizeof(b), 0x10000, r, 1, 0, ecn);
    static const uint8_t want_ecn[] = {0x3f, 0x80, 0x01, 0x00, 0x00, 0x0c,
                                       0x00, 0x00, 0x02, 0x01, 0x02, 0x03};
    assert_int_equal(n, sizeof(want_ecn));
    assert_memory_equal(b, want_ecn, sizeof(want_ecn));
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_ACK_ECN);
    assert_int_equal(f.path_id, 0x10000);
    assert_true(f.u.ack.u.ack.ecn);
    assert_int_equal(f.u.ack.u.ack.ce, 3);
    expect_prefixes_bad(b, n, 1);

    /* too small a buffer writes nothing; a path ID above 2^32-1 is not writable */
    assert_int_equal(tern_mpframe_write_path_ack(b, 5, 7, r, 1, 0, NULL), 0);
    assert_int_equal(tern_mpframe_write_path_ack(b, sizeof(b), 1ull << 32, r, 1, 0, NULL), 0);
    /* malformed: a range below 0, a path ID above 2^32-1 */
    static const uint8_t under[] = {0x3e, 0x01, 0x02, 0x00, 0x00, 0x03};
    expect_bad(under, sizeof(under));
    static const uint8_t big[] = {0x3e, 0xc0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                  0x02, 0x00, 0x00, 0x00};
    expect_bad(big, sizeof(big));
    /* exactly 2^32-1 is fine */
    static const uint8_t top[] = {0x3e, 0xc0, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
                                  0x02, 0x00, 0x00, 0x00};
    parse_whole(top, sizeof(top), &f);
    assert_int_equal(f.path_id, TERN_MP_PATH_ID_MAX);
}

static void test_abandon_status(void **state)
{
    (void)state;
    uint8_t b[32];
    tern_mp_frame f;
    size_t n = tern_mpframe_write_path_abandon(b, sizeof(b), 2, TERN_MP_ERR_APPLICATION_ABANDON_PATH);
    static const uint8_t want[] = {0x7e, 0x75, 0x02, 0x3e};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(b, want, sizeof(want));
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_ABANDON);
    assert_int_equal(f.path_id, 2);
    assert_int_equal(f.u.abandon.error_code, 0x3e);
    expect_prefixes_bad(b, n, 2);
    n = tern_mpframe_write_path_abandon(b, sizeof(b), 4, TERN_MP_ERR_NO_CID_AVAILABLE_FOR_PATH);
    parse_whole(b, n, &f);
    assert_int_equal(f.u.abandon.error_code, 0x3e77);
    assert_int_equal(tern_mpframe_write_path_abandon(b, 3, 2, 0), 0);

    n = tern_mpframe_write_path_status(b, sizeof(b), 0, 1, 5);
    static const uint8_t backup[] = {0x7e, 0x76, 0x01, 0x05};
    assert_int_equal(n, sizeof(backup));
    assert_memory_equal(b, backup, n);
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_STATUS_BACKUP);
    assert_int_equal(f.u.status.seq, 5);
    expect_prefixes_bad(b, n, 2);
    n = tern_mpframe_write_path_status(b, sizeof(b), 1, 1, 6);
    static const uint8_t avail[] = {0x7e, 0x77, 0x01, 0x06};
    assert_memory_equal(b, avail, n);
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_STATUS_AVAILABLE);
    assert_int_equal(f.path_id, 1);
    assert_int_equal(tern_mpframe_write_path_status(b, sizeof(b), 1, 1ull << 32, 0), 0);
}

static void test_cids(void **state)
{
    (void)state;
    uint8_t b[64], token[16];
    tern_cid cid;
    uint8_t cb[4] = {0xaa, 0xbb, 0xcc, 0xdd};
    tern_cid_set(&cid, cb, 4);
    for (int i = 0; i < 16; i++)
        token[i] = (uint8_t)i;
    size_t n = tern_mpframe_write_path_new_cid(b, sizeof(b), 3, 2, 1, &cid, token);
    static const uint8_t head[] = {0x7e, 0x78, 0x03, 0x02, 0x01, 0x04, 0xaa, 0xbb, 0xcc, 0xdd};
    assert_int_equal(n, sizeof(head) + 16);
    assert_memory_equal(b, head, sizeof(head));
    assert_memory_equal(b + sizeof(head), token, 16);
    tern_mp_frame f;
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_NEW_CONNECTION_ID);
    assert_int_equal(f.path_id, 3);
    assert_int_equal(f.u.new_cid.u.new_cid.seq, 2);
    assert_int_equal(f.u.new_cid.u.new_cid.retire_prior_to, 1);
    assert_true(tern_cid_eq(&f.u.new_cid.u.new_cid.cid, &cid));
    assert_memory_equal(f.u.new_cid.u.new_cid.token, token, 16);
    expect_prefixes_bad(b, n, 2);
    /* retire_prior_to above seq, zero-length and 21-byte CIDs */
    uint8_t bad[sizeof(head) + 16];
    memcpy(bad, b, sizeof(bad));
    bad[4] = 0x03;
    expect_bad(bad, sizeof(bad));
    memcpy(bad, b, sizeof(bad));
    bad[5] = 0;
    expect_bad(bad, 6 + 16);
    bad[5] = 21;
    expect_bad(bad, sizeof(bad));
    assert_int_equal(tern_mpframe_write_path_new_cid(b, sizeof(b), 3, 1, 2, &cid, token), 0);
    assert_int_equal(tern_mpframe_write_path_new_cid(b, n - 1, 3, 2, 1, &cid, token), 0);

    n = tern_mpframe_write_path_retire_cid(b, sizeof(b), 3, 0x40);
    static const uint8_t ret[] = {0x7e, 0x79, 0x03, 0x40, 0x40};
    assert_int_equal(n, sizeof(ret));
    assert_memory_equal(b, ret, n);
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_RETIRE_CONNECTION_ID);
    assert_int_equal(f.u.retire_cid.seq, 0x40);
    expect_prefixes_bad(b, n, 2);

    n = tern_mpframe_write_path_cids_blocked(b, sizeof(b), 5, 9);
    static const uint8_t blk[] = {0x7e, 0x7c, 0x05, 0x09};
    assert_memory_equal(b, blk, n);
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATH_CIDS_BLOCKED);
    assert_int_equal(f.path_id, 5);
    assert_int_equal(f.u.cids_blocked.next_seq, 9);
    expect_prefixes_bad(b, n, 2);
}

static void test_path_id_limits(void **state)
{
    (void)state;
    uint8_t b[16];
    tern_mp_frame f;
    size_t n = tern_mpframe_write_max_path_id(b, sizeof(b), 8);
    static const uint8_t max[] = {0x7e, 0x7a, 0x08};
    assert_int_equal(n, sizeof(max));
    assert_memory_equal(b, max, n);
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_MAX_PATH_ID);
    assert_int_equal(f.path_id, 8);
    expect_prefixes_bad(b, n, 2);
    n = tern_mpframe_write_paths_blocked(b, sizeof(b), 8);
    static const uint8_t blk[] = {0x7e, 0x7b, 0x08};
    assert_memory_equal(b, blk, n);
    parse_whole(b, n, &f);
    assert_int_equal(f.type, TERN_FT_PATHS_BLOCKED);
    /* above 2^32-1: neither written nor accepted */
    assert_int_equal(tern_mpframe_write_max_path_id(b, sizeof(b), 1ull << 32), 0);
    assert_int_equal(tern_mpframe_write_paths_blocked(b, sizeof(b), 1ull << 32), 0);
    static const uint8_t big[] = {0x7e, 0x7a, 0xc0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
    expect_bad(big, sizeof(big));
    static const uint8_t big2[] = {0x7e, 0x7b, 0xc0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
    expect_bad(big2, sizeof(big2));
    assert_int_equal(tern_mpframe_write_max_path_id(b, 2, 8), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_path_ack),
        cmocka_unit_test(test_abandon_status),
        cmocka_unit_test(test_cids),
        cmocka_unit_test(test_path_id_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
