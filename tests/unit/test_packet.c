/* Tests of packet header parsing and writing (RFC 9000 §17, Appendix A; RFC 9001 Appendix A;
 * RFC 9369 §3.2's codepoints). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "packet.h"
#include "varint.h"

/* RFC 9001 A.2: the client Initial's unprotected header (packet number 2, 4 bytes). */
static const uint8_t client_initial_hdr[] = {0xc3, 0x00, 0x00, 0x00, 0x01, 0x08, 0x83, 0x94,
                                             0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, 0x00, 0x00,
                                             0x44, 0x9e, 0x00, 0x00, 0x00, 0x02};
static const uint8_t client_dcid[] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};

/* RFC 9001 A.3: the server Initial's unprotected header (packet number 1, 2 bytes). */
static const uint8_t server_initial_hdr[] = {0xc1, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0xf0, 0x67,
                                             0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5, 0x00, 0x40, 0x75,
                                             0x00, 0x01};
static const uint8_t server_scid[] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};

static void test_rfc9001_client_initial(void **state)
{
    (void)state;
    uint8_t dgram[1300] = {0};
    memcpy(dgram, client_initial_hdr, sizeof(client_initial_hdr));
    tern_pkt_hdr h;

    assert_int_equal(tern_pkt_parse(dgram, 1200, 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_INITIAL);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.dcid.len, 8);
    assert_memory_equal(h.dcid.data, client_dcid, 8);
    assert_int_equal(h.scid.len, 0);
    assert_int_equal(h.token_len, 0);
    assert_int_equal(h.pn_offset, 18);
    assert_int_equal(h.pkt_len, 18 + 0x049e);
    assert_int_equal(h.pkt_len, 1200);

    /* Coalesced: the next packet starts right after Length's end. */
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), 0);
    assert_int_equal(h.pkt_len, 1200);

    /* Length one byte past the datagram: dropped. */
    assert_int_equal(tern_pkt_parse(dgram, 1199, 8, &h), TERN_ERR_DROP);

    /* Every truncation of the header itself is dropped. */
    for (size_t n = 0; n < 18; n++)
        assert_int_equal(tern_pkt_parse(dgram, n, 8, &h), TERN_ERR_DROP);

    tern_cid dcid;
    int is_long = 0;
    assert_int_equal(tern_pkt_peek_dcid(dgram, 1200, 4, &dcid, &is_long), 0);
    assert_int_equal(is_long, 1);
    assert_int_equal(dcid.len, 8);
    assert_memory_equal(dcid.data, client_dcid, 8);
    assert_int_equal(tern_pkt_peek_dcid(dgram, 13, 4, &dcid, &is_long), TERN_ERR_DROP);
}

static void test_rfc9001_server_initial(void **state)
{
    (void)state;
    uint8_t dgram[18 + 0x75] = {0};
    memcpy(dgram, server_initial_hdr, sizeof(server_initial_hdr));
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 0, &h), 0);
    assert_int_equal(h.type, TERN_PKT_INITIAL);
    assert_int_equal(h.dcid.len, 0);
    assert_int_equal(h.scid.len, 8);
    assert_memory_equal(h.scid.data, server_scid, 8);
    assert_int_equal(h.pn_offset, 18);
    assert_int_equal(h.pkt_len, sizeof(dgram));
}

static void test_write_long_matches_rfc(void **state)
{
    (void)state;
    tern_cid dcid, scid = {0};
    tern_cid_set(&dcid, client_dcid, 8);
    uint8_t buf[64];
    size_t len_off = 0;
    size_t n = tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 2,
                                   4, &len_off);
    assert_int_equal(n, 22);
    assert_int_equal(len_off, 16);
    tern_pkt_set_length(buf + len_off, 0x049e);
    assert_memory_equal(buf, client_initial_hdr, sizeof(client_initial_hdr));

    tern_cid_set(&scid, server_scid, 8);
    dcid.len = 0;
    n = tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 1, 2,
                            &len_off);
    assert_int_equal(n, 20);
    tern_pkt_set_length(buf + len_off, 0x75);
    assert_memory_equal(buf, server_initial_hdr, sizeof(server_initial_hdr));

    /* Every capacity below the need is refused. */
    for (size_t cap = 0; cap < 20; cap++)
        assert_int_equal(tern_pkt_write_long(buf, cap, TERN_PKT_INITIAL, 1, &dcid, &scid, NULL, 0,
                                             1, 2, &len_off),
                         0);
    /* Retry / 1-RTT are not long-header-with-length types. */
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_RETRY, 1, &dcid, &scid, NULL, 0,
                                         1, 2, &len_off),
                     0);
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_HANDSHAKE, 1, &dcid, &scid,
                                         NULL, 0, 1, 5, &len_off),
                     0);
}

static void test_long_roundtrip_types(void **state)
{
    (void)state;
    static const uint8_t token[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                                    19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
                                    35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
                                    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65};
    static const int types[] = {TERN_PKT_INITIAL, TERN_PKT_0RTT, TERN_PKT_HANDSHAKE};
    tern_cid dcid, scid;
    uint8_t d20[20], s5[5] = {9, 8, 7, 6, 5};
    for (int i = 0; i < 20; i++)
        d20[i] = (uint8_t)(0xa0 + i);
    tern_cid_set(&dcid, d20, 20);
    tern_cid_set(&scid, s5, 5);

    for (size_t t = 0; t < 3; t++) {
        for (size_t pn_len = 1; pn_len <= 4; pn_len++) {
            uint8_t buf[300];
            memset(buf, 0xee, sizeof(buf));
            size_t len_off;
            size_t n = tern_pkt_write_long(buf, sizeof(buf), types[t], 1, &dcid, &scid, token,
                                           sizeof(token), 0x01020304, pn_len, &len_off);
            assert_true(n > 0);
            size_t payload = 100;
            tern_pkt_set_length(buf + len_off, pn_len + payload);
            tern_pkt_hdr h;
            assert_int_equal(tern_pkt_parse(buf, sizeof(buf), 0, &h), 0);
            assert_int_equal(h.type, types[t]);
            assert_int_equal(h.version, 1);
            assert_true(tern_cid_eq(&h.dcid, &dcid));
            assert_true(tern_cid_eq(&h.scid, &scid));
            if (types[t] == TERN_PKT_INITIAL) {
                assert_int_equal(h.token_len, sizeof(token)); /* 2-byte token length */
                assert_memory_equal(h.token, token, sizeof(token));
            } else {
                assert_int_equal(h.token_len, 0);
            }
            assert_int_equal(h.pn_offset, n - pn_len);
            assert_int_equal(h.pkt_len, n + payload);
            assert_int_equal(buf[0] & 0x03, pn_len - 1);
            /* The packet number bytes are the low bytes of the pn, big-endian. */
            uint32_t pn = 0;
            for (size_t k = 0; k < pn_len; k++)
                pn = (pn << 8) | buf[h.pn_offset + k];
            assert_int_equal(pn, 0x01020304u & (uint32_t)((1ull << (8 * pn_len)) - 1));
        }
    }
}

static void test_long_bad(void **state)
{
    (void)state;
    uint8_t dgram[1200] = {0};
    tern_pkt_hdr h;
    memcpy(dgram, client_initial_hdr, sizeof(client_initial_hdr));

    dgram[0] &= (uint8_t)~0x40; /* fixed bit clear */
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), TERN_ERR_DROP);
    dgram[0] |= 0x40;

    dgram[5] = 21; /* DCID longer than 20 */
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), TERN_ERR_DROP);
    tern_cid c;
    int is_long;
    assert_int_equal(tern_pkt_peek_dcid(dgram, sizeof(dgram), 8, &c, &is_long), TERN_ERR_DROP);
    dgram[5] = 8;

    dgram[14] = 21; /* SCID longer than 20 */
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), TERN_ERR_DROP);
    dgram[14] = 0;

    /* Token length beyond the datagram. */
    dgram[15] = 0x7f;
    dgram[16] = 0xff;
    assert_int_equal(tern_pkt_parse(dgram, 100, 8, &h), TERN_ERR_DROP);
}

static void test_unknown_version(void **state)
{
    (void)state;
    uint8_t dgram[1200] = {0};
    memcpy(dgram, client_initial_hdr, sizeof(client_initial_hdr));
    dgram[1] = 0x1a; /* version 0x1a000001 */
    dgram[0] = 0x80; /* and no fixed bit: only invariant fields count */
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), 0);
    assert_int_equal(h.version, 0x1a000001u);
    assert_int_equal(h.dcid.len, 8);
    assert_memory_equal(h.dcid.data, client_dcid, 8);
    assert_int_equal(h.scid.len, 0);
    assert_int_equal(h.pkt_len, sizeof(dgram));
}

static void test_short_header(void **state)
{
    (void)state;
    uint8_t cidb[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    tern_cid dcid;
    tern_cid_set(&dcid, cidb, 8);
    uint8_t buf[64] = {0};

    size_t n = tern_pkt_write_short(buf, sizeof(buf), &dcid, 0xabcd, 2, 1, 1);
    assert_int_equal(n, 11);
    assert_int_equal(buf[0], 0x40 | 0x20 | 0x04 | 0x01);
    assert_memory_equal(buf + 1, cidb, 8);
    assert_int_equal(buf[9], 0xab);
    assert_int_equal(buf[10], 0xcd);

    n = tern_pkt_write_short(buf, sizeof(buf), &dcid, 7, 1, 0, 0);
    assert_int_equal(n, 10);
    assert_int_equal(buf[0], 0x40);
    assert_int_equal(tern_pkt_write_short(buf, 9, &dcid, 7, 1, 0, 0), 0);

    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(buf, 40, 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_1RTT);
    assert_true(tern_cid_eq(&h.dcid, &dcid));
    assert_int_equal(h.pn_offset, 9);
    assert_int_equal(h.pkt_len, 40);

    assert_int_equal(tern_pkt_parse(buf, 8, 8, &h), TERN_ERR_DROP);
    buf[0] = 0x00; /* fixed bit clear */
    assert_int_equal(tern_pkt_parse(buf, 40, 8, &h), TERN_ERR_DROP);

    tern_cid c;
    int is_long = 1;
    assert_int_equal(tern_pkt_peek_dcid(buf, 40, 8, &c, &is_long), 0);
    assert_int_equal(is_long, 0);
    assert_true(tern_cid_eq(&c, &dcid));
    assert_int_equal(tern_pkt_peek_dcid(buf, 8, 8, &c, &is_long), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_parse(buf, 0, 8, &h), TERN_ERR_DROP);
}

static void test_version_negotiation(void **state)
{
    (void)state;
    uint8_t cd[4] = {0xd1, 0xd2, 0xd3, 0xd4}, cs[3] = {0x51, 0x52, 0x53};
    tern_cid client_dcid_c, client_scid_c;
    tern_cid_set(&client_dcid_c, cd, 4);
    tern_cid_set(&client_scid_c, cs, 3);
    const uint32_t versions[] = {0x00000001, 0x6b3343cf};
    uint8_t buf[64];
    size_t n = tern_pkt_write_vn(buf, sizeof(buf), &client_dcid_c, &client_scid_c, versions, 2, 0x15);
    static const uint8_t want[] = {0xc0 | 0x15, 0, 0, 0, 0, 3, 0x51, 0x52, 0x53, 4, 0xd1, 0xd2,
                                   0xd3, 0xd4, 0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));

    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(buf, n, 0, &h), 0);
    assert_int_equal(h.type, TERN_PKT_VN);
    assert_int_equal(h.version, 0);
    assert_true(tern_cid_eq(&h.dcid, &client_scid_c));
    assert_true(tern_cid_eq(&h.scid, &client_dcid_c));
    assert_int_equal(h.versions_count, 2);
    assert_int_equal(tern_get_u32(h.versions + 4), 0x6b3343cf);
    assert_int_equal(h.pkt_len, n);

    /* The fixed bit is not checked for VN. */
    buf[0] = 0x80;
    assert_int_equal(tern_pkt_parse(buf, n, 0, &h), 0);
    assert_int_equal(h.type, TERN_PKT_VN);
    /* A partial version or an empty list is dropped. */
    assert_int_equal(tern_pkt_parse(buf, n - 1, 0, &h), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_parse(buf, n - 8, 0, &h), TERN_ERR_DROP);

    assert_int_equal(tern_pkt_write_vn(buf, n - 1, &client_dcid_c, &client_scid_c, versions, 2, 0), 0);
    assert_int_equal(tern_pkt_write_vn(buf, sizeof(buf), &client_dcid_c, &client_scid_c, versions, 0, 0), 0);
}

static void test_retry(void **state)
{
    (void)state;
    uint8_t d[2] = {0xaa, 0xbb}, s[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tok[5] = {'t', 'o', 'k', 'e', 'n'};
    tern_cid dcid, scid;
    tern_cid_set(&dcid, d, 2);
    tern_cid_set(&scid, s, 8);
    uint8_t buf[64];
    size_t n = tern_pkt_write_retry(buf, sizeof(buf), 1, &dcid, &scid, tok, 5, 0x0f);
    assert_int_equal(n, 1 + 4 + 1 + 2 + 1 + 8 + 5);
    assert_int_equal(buf[0], 0xc0 | 0x30 | 0x0f);
    assert_int_equal(tern_get_u32(buf + 1), 1);
    assert_memory_equal(buf + n - 5, tok, 5);
    memset(buf + n, 0x77, 16); /* integrity tag */

    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(buf, n + 16, 0, &h), 0);
    assert_int_equal(h.type, TERN_PKT_RETRY);
    assert_true(tern_cid_eq(&h.dcid, &dcid));
    assert_true(tern_cid_eq(&h.scid, &scid));
    assert_int_equal(h.token_len, 5);
    assert_memory_equal(h.token, tok, 5);
    assert_int_equal(h.pkt_len, n + 16);

    /* Without a token (only the tag left) the Retry is discarded, and so is a short tag. */
    assert_int_equal(tern_pkt_parse(buf, n - 5 + 16, 0, &h), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_parse(buf, n - 5 + 10, 0, &h), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_write_retry(buf, sizeof(buf), 1, &dcid, &scid, tok, 0, 0), 0);
    assert_int_equal(tern_pkt_write_retry(buf, n - 1, 1, &dcid, &scid, tok, 5, 0), 0);
}

/* RFC 9369 §3.2: v2's long header types are v1's rotated by one, both ways; the headers of
 * RFC 9369 A.2, A.3 and A.4 parse to their types. */
static void test_v2_codepoints(void **state)
{
    (void)state;
    static const struct {
        int type;
        uint8_t bits;
    } v2[] = {{TERN_PKT_INITIAL, 1}, {TERN_PKT_0RTT, 2}, {TERN_PKT_HANDSHAKE, 3},
              {TERN_PKT_RETRY, 0}};
    uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tok[3] = {7, 7, 7};
    tern_cid dcid, scid;
    tern_cid_set(&dcid, d, 8);
    tern_cid_set(&scid, d, 4);
    for (size_t i = 0; i < 4; i++) {
        uint8_t buf[128];
        size_t len_off, n;
        memset(buf, 0, sizeof(buf));
        if (v2[i].type == TERN_PKT_RETRY) {
            n = tern_pkt_write_retry(buf, sizeof(buf), TERN_PROTO_VERSION_2, &dcid, &scid, tok, 3,
                                     0);
            n += 16;
        } else {
            n = tern_pkt_write_long(buf, sizeof(buf), v2[i].type, TERN_PROTO_VERSION_2, &dcid,
                                    &scid, NULL, 0, 5, 1, &len_off);
            assert_int_equal(tern_pkt_set_length(buf + len_off, 1 + 40), 0);
            n += 40;
        }
        assert_int_equal((buf[0] >> 4) & 3, v2[i].bits);
        assert_int_equal(tern_get_u32(buf + 1), TERN_PROTO_VERSION_2);
        tern_pkt_hdr h;
        assert_int_equal(tern_pkt_parse(buf, n, 0, &h), 0);
        assert_int_equal(h.type, v2[i].type);
        assert_int_equal(h.version, TERN_PROTO_VERSION_2);
        /* the same bits in v1 mean another type */
        buf[4] = 1;
        assert_int_equal(tern_pkt_parse(buf, n, 0, &h) == 0 && h.type == v2[i].type, 0);
    }
    /* the RFC's first bytes: client Initial 0xd3, server Initial 0xd1, Retry 0xcf */
    static const uint8_t ci[] = {0xd3, 0x6b, 0x33, 0x43, 0xcf, 0x08, 0x83, 0x94, 0xc8, 0xf0,
                                 0x3e, 0x51, 0x57, 0x08, 0x00, 0x00, 0x44, 0x9e, 0, 0, 0, 2};
    uint8_t dgram[1200] = {0};
    memcpy(dgram, ci, sizeof(ci));
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_INITIAL);
    assert_int_equal(h.pn_offset, 18);
    assert_int_equal(h.pkt_len, 18 + 0x49e);
    /* the fixed bit is checked for v2 as for v1 */
    dgram[0] &= (uint8_t)~0x40;
    assert_int_equal(tern_pkt_parse(dgram, sizeof(dgram), 8, &h), TERN_ERR_DROP);
}

static void test_stateless_reset(void **state)
{
    (void)state;
    uint8_t rnd[64], tok[16], buf[64];
    for (int i = 0; i < 64; i++)
        rnd[i] = (uint8_t)(0xff - i);
    for (int i = 0; i < 16; i++)
        tok[i] = (uint8_t)(0x10 + i);

    assert_int_equal(tern_pkt_write_stateless_reset(buf, 20, rnd, tok), 0);
    for (size_t len = 21; len <= 43; len += 22) {
        assert_int_equal(tern_pkt_write_stateless_reset(buf, len, rnd, tok), len);
        assert_int_equal(buf[0] & 0xc0, 0x40); /* short header, fixed bit set */
        assert_int_equal(buf[0] & 0x3f, rnd[0] & 0x3f);
        assert_memory_equal(buf + 1, rnd + 1, len - 17);
        assert_memory_equal(buf + len - 16, tok, 16);
        tern_pkt_hdr h;
        assert_int_equal(tern_pkt_parse(buf, len, 4, &h), 0);
        assert_int_equal(h.type, TERN_PKT_1RTT);
    }
}

static void test_decode_pn(void **state)
{
    (void)state;
    /* RFC 9000 A.3 */
    assert_int_equal(tern_pkt_decode_pn(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
    /* Nothing received yet. */
    assert_int_equal(tern_pkt_decode_pn(UINT64_MAX, 0, 8), 0);
    assert_int_equal(tern_pkt_decode_pn(UINT64_MAX, 5, 8), 5);
    /* Wrapping forwards and backwards around a window edge. */
    assert_int_equal(tern_pkt_decode_pn(0xff, 0x00, 8), 0x100);
    assert_int_equal(tern_pkt_decode_pn(0x100, 0xff, 8), 0xff);
    assert_int_equal(tern_pkt_decode_pn(0x17f, 0x00, 8), 0x200);
    assert_int_equal(tern_pkt_decode_pn(0x180, 0x00, 8), 0x200);
    assert_int_equal(tern_pkt_decode_pn(0x10, 0xf0, 8), 0xf0); /* cannot go below 0 */
    /* Near the top of the pn space nothing goes above 2^62-1. */
    uint64_t top = (1ull << 62) - 1;
    assert_int_equal(tern_pkt_decode_pn(top - 1, top & 0xff, 8), top);
    assert_int_equal(tern_pkt_decode_pn(top - 1, 0x00, 8), (top & ~0xffull));
    /* Once the space is exhausted the result still stays a valid packet number. */
    assert_int_equal(tern_pkt_decode_pn(top, 0x00, 8), top & ~0xffull);
    assert_int_equal(tern_pkt_decode_pn(top, 0xff, 8), top);
}

static void test_pn_len(void **state)
{
    (void)state;
    /* RFC 9000 A.2 */
    assert_int_equal(tern_pkt_pn_len(0xac5c02, 0xabe8b3), 2);
    assert_int_equal(tern_pkt_pn_len(0xace8fe, 0xabe8b3), 3);
    assert_int_equal(tern_pkt_pn_len(0, UINT64_MAX), 1);
    assert_int_equal(tern_pkt_pn_len(127, UINT64_MAX), 1);
    assert_int_equal(tern_pkt_pn_len(128, UINT64_MAX), 2);
    assert_int_equal(tern_pkt_pn_len(1000, 999), 1);
    assert_int_equal(tern_pkt_pn_len(1000 + 128, 1000), 1);
    assert_int_equal(tern_pkt_pn_len(1000 + 129, 1000), 2);
    assert_int_equal(tern_pkt_pn_len(1000 + 32768, 1000), 2);
    assert_int_equal(tern_pkt_pn_len(1000 + 32769, 1000), 3);
    assert_int_equal(tern_pkt_pn_len(1ull << 40, 0), 4);

    /* Whatever the choice, the receiver (which has seen at least largest_acked) recovers pn. */
    static const uint64_t acked[] = {0, 1, 200, 0xabe8b3, 0xffff, 1ull << 33};
    static const uint64_t dist[] = {1, 2, 100, 128, 129, 255, 256, 30000, 32768, 32769, 1 << 20,
                                    (1 << 23), (1 << 23) + 1, (1u << 31) - 1};
    for (size_t i = 0; i < TERN_ARRAY_LEN(acked); i++) {
        for (size_t j = 0; j < TERN_ARRAY_LEN(dist); j++) {
            uint64_t pn = acked[i] + dist[j];
            size_t l = tern_pkt_pn_len(pn, acked[i]);
            uint64_t trunc = pn & ((1ull << (8 * l)) - 1);
            /* The receiver's largest may be anything in [acked, pn - 1]. */
            assert_int_equal(tern_pkt_decode_pn(acked[i], trunc, 8 * l), pn);
            assert_int_equal(tern_pkt_decode_pn(pn - 1, trunc, 8 * l), pn);
        }
    }
}

/* Lengths above 16383 (datagrams up to max_udp_payload 65527) need the 4-byte varint: the
 * Length read back must be the one written, at every size. */
static void test_long_length_large(void **state)
{
    (void)state;
    static uint8_t buf[65527];
    tern_cid dcid, scid;
    tern_cid_set(&dcid, client_dcid, 8);
    tern_cid_set(&scid, server_scid, 8);
    static const size_t caps[] = {1200, 16000, 16420, 16421, 30000, 65527};
    for (size_t i = 0; i < TERN_ARRAY_LEN(caps); i++) {
        size_t len_off = 0;
        size_t n = tern_pkt_write_long(buf, caps[i], TERN_PKT_HANDSHAKE, 1, &dcid, &scid, NULL, 0,
                                       7, 2, &len_off);
        assert_true(n > 0);
        /* the largest packet that fits the capacity, then a small one in the same header */
        size_t lengths[] = {caps[i] - n + 2, 100};
        for (size_t k = 0; k < 2; k++) {
            assert_int_equal(tern_pkt_set_length(buf + len_off, lengths[k]), 0);
            tern_pkt_hdr h;
            assert_int_equal(tern_pkt_parse(buf, caps[i], 8, &h), 0);
            assert_int_equal(h.pn_offset, n - 2);
            assert_int_equal(h.pkt_len, h.pn_offset + lengths[k]);
        }
        /* a 2-byte field was chosen only when nothing longer than 16383 fits */
        assert_int_equal(buf[len_off] >> 6, caps[i] - (len_off + 2) <= 16383 ? 1 : 2);
    }
    /* a length the field cannot hold is refused, not truncated */
    size_t len_off = 0;
    assert_true(tern_pkt_write_long(buf, 1200, TERN_PKT_INITIAL, 1, &dcid, &scid, NULL, 0, 0, 1,
                                    &len_off) > 0);
    assert_int_equal(tern_pkt_set_length(buf + len_off, 16384), -1);
}

/* Writers refuse what they cannot encode and buffers too small for the result; the Length field
 * refuses values beyond its width; parsers refuse CID lengths and truncations they cannot hold. */
static void test_writer_refusals(void **st)
{
    uint8_t buf[256], tok[4] = {1, 2, 3, 4};
    tern_cid c8, c21, c0 = {0};
    size_t lo;
    c8.len = 8;
    memset(c8.data, 0x11, 8);
    c21.len = 21;
    uint32_t v[2] = {TERN_PROTO_VERSION_1, 0x1a2a3a4a};

    /* long header: packet number length 0 or 5, CIDs too long, Retry is not written here */
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_INITIAL, TERN_PROTO_VERSION_1,
                                         &c8, &c8, NULL, 0, 1, 0, &lo), 0);
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_INITIAL, TERN_PROTO_VERSION_1,
                                         &c8, &c8, NULL, 0, 1, 5, &lo), 0);
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_HANDSHAKE, TERN_PROTO_VERSION_1,
                                         &c21, &c8, NULL, 0, 1, 2, &lo), 0);
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_HANDSHAKE, TERN_PROTO_VERSION_1,
                                         &c8, &c21, NULL, 0, 1, 2, &lo), 0);
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_RETRY, TERN_PROTO_VERSION_1,
                                         &c8, &c8, NULL, 0, 1, 2, &lo), 0);
    /* a token length beyond any varint */
    assert_int_equal(tern_pkt_write_long(buf, sizeof(buf), TERN_PKT_INITIAL, TERN_PROTO_VERSION_1,
                                         &c8, &c8, tok, 1ull << 62, 1, 2, &lo), 0);

    /* Length: a two-byte field holds up to 16383 */
    size_t h = tern_pkt_write_long(buf, 100, TERN_PKT_HANDSHAKE, TERN_PROTO_VERSION_1, &c8, &c0,
                                   NULL, 0, 1, 2, &lo);
    assert_true(h > 0);
    assert_int_equal(tern_pkt_set_length(buf + lo, 16383), 0);
    assert_int_equal(tern_pkt_set_length(buf + lo, 16384), -1);
    uint8_t one = 0x00; /* a one-byte field is not one tern writes */
    assert_int_equal(tern_pkt_set_length(&one, 1), -1);

    /* short header */
    assert_int_equal(tern_pkt_write_short(buf, sizeof(buf), &c8, 1, 0, 0, 0), 0);
    assert_int_equal(tern_pkt_write_short(buf, sizeof(buf), &c8, 1, 5, 0, 0), 0);
    assert_int_equal(tern_pkt_write_short(buf, sizeof(buf), &c21, 1, 1, 0, 0), 0);
    assert_int_equal(tern_pkt_write_short(buf, 9, &c8, 1, 1, 0, 0), 0);
    assert_int_equal(tern_pkt_write_short(buf, 10, &c8, 1, 1, 1, 1), 10);
    assert_int_equal(buf[0], 0x40 | 0x20 | 0x04);

    /* Version Negotiation: no versions, CIDs too long, no room */
    assert_int_equal(tern_pkt_write_vn(buf, sizeof(buf), &c8, &c8, v, 0, 0), 0);
    assert_int_equal(tern_pkt_write_vn(buf, sizeof(buf), &c21, &c8, v, 2, 0), 0);
    assert_int_equal(tern_pkt_write_vn(buf, sizeof(buf), &c8, &c21, v, 2, 0), 0);
    assert_int_equal(tern_pkt_write_vn(buf, 7, &c0, &c0, v, 2, 0), 0);
    assert_int_equal(tern_pkt_write_vn(buf, 7 + 16 + 7, &c8, &c8, v, 2, 0), 0);
    assert_int_equal(tern_pkt_write_vn(buf, 7 + 16 + 8, &c8, &c8, v, 2, 0), 7 + 16 + 8);

    /* Retry: no token, CIDs too long, no room */
    assert_int_equal(tern_pkt_write_retry(buf, sizeof(buf), 1, &c8, &c8, tok, 0, 0), 0);
    assert_int_equal(tern_pkt_write_retry(buf, sizeof(buf), 1, &c21, &c8, tok, 4, 0), 0);
    assert_int_equal(tern_pkt_write_retry(buf, sizeof(buf), 1, &c8, &c21, tok, 4, 0), 0);
    assert_int_equal(tern_pkt_write_retry(buf, 3, 1, &c8, &c8, tok, 4, 0), 0);
    assert_int_equal(tern_pkt_write_retry(buf, 7 + 16 + 3, 1, &c8, &c8, tok, 4, 0), 0);

    /* parsing: a short header whose DCID length is beyond any, or longer than the packet */
    tern_pkt_hdr hd;
    tern_cid d;
    int is_long;
    buf[0] = 0x40;
    assert_int_equal(tern_pkt_parse(buf, 30, 21, &hd), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_parse(buf, 5, 8, &hd), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_peek_dcid(buf, 30, 21, &d, &is_long), TERN_ERR_DROP);
    assert_int_equal(tern_pkt_peek_dcid(buf, 5, 8, &d, &is_long), TERN_ERR_DROP);
    /* a long header whose DCID length is beyond any */
    buf[0] = 0xc0;
    buf[5] = 21;
    assert_int_equal(tern_pkt_peek_dcid(buf, 30, 8, &d, &is_long), TERN_ERR_DROP);
    buf[5] = 20;
    assert_int_equal(tern_pkt_peek_dcid(buf, 25, 8, &d, &is_long), TERN_ERR_DROP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9001_client_initial),
        cmocka_unit_test(test_rfc9001_server_initial),
        cmocka_unit_test(test_write_long_matches_rfc),
        cmocka_unit_test(test_long_roundtrip_types),
        cmocka_unit_test(test_long_length_large),
        cmocka_unit_test(test_long_bad),
        cmocka_unit_test(test_unknown_version),
        cmocka_unit_test(test_short_header),
        cmocka_unit_test(test_version_negotiation),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_v2_codepoints),
        cmocka_unit_test(test_stateless_reset),
        cmocka_unit_test(test_decode_pn),
        cmocka_unit_test(test_pn_len),
        cmocka_unit_test(test_writer_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
