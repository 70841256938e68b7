/* libFuzzer target for packet header parsing. The first input byte picks the short-header DCID
 * length; the rest is a datagram. Every packet that parses is written again with the header
 * writers and parsed back; differences abort. Packet-number recovery is checked too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "packet.h"
#include "varint.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static uint8_t out[70000];
static uint32_t versions[16384];

static void same_hdr(const tern_pkt_hdr *a, const tern_pkt_hdr *b)
{
    CHECK(a->type == b->type && a->version == b->version);
    CHECK(tern_cid_eq(&a->dcid, &b->dcid));
    CHECK(tern_cid_eq(&a->scid, &b->scid));
    CHECK(a->token_len == b->token_len);
    CHECK(a->token_len == 0 || memcmp(a->token, b->token, a->token_len) == 0);
    CHECK(a->versions_count == b->versions_count);
    CHECK(a->versions_count == 0 || !memcmp(a->versions, b->versions, 4 * a->versions_count));
}

static void roundtrip(const uint8_t *pkt, const tern_pkt_hdr *h, size_t dcid_len)
{
    tern_pkt_hdr g;
    size_t n = 0;

    switch (h->type) {
    case TERN_PKT_VN:
        if (h->versions_count > 16384)
            return;
        for (size_t i = 0; i < h->versions_count; i++)
            versions[i] = tern_get_u32(h->versions + 4 * i);
        /* The writer answers a client, so its CIDs come out swapped. */
        n = tern_pkt_write_vn(out, sizeof(out), &h->scid, &h->dcid, versions, h->versions_count,
                              pkt[0]);
        CHECK(n == h->pkt_len);
        break;
    case TERN_PKT_RETRY:
        n = tern_pkt_write_retry(out, sizeof(out), h->version, &h->dcid, &h->scid, h->token,
                                 h->token_len, pkt[0]);
        CHECK(n > 0 && n + 16 == h->pkt_len);
        memcpy(out + n, pkt + n, 16);
        n += 16;
        break;
    case TERN_PKT_1RTT:
        n = tern_pkt_write_short(out, sizeof(out), &h->dcid, 0, 1, pkt[0] & 0x04, pkt[0] & 0x20);
        CHECK(n == h->pn_offset + 1);
        n = h->pn_offset;
        memcpy(out + n, pkt + n, h->pkt_len - n);
        n = h->pkt_len;
        break;
    default: {
        size_t len_off, length = h->pkt_len - h->pn_offset;
        if (length >= 16384 || length < 1)
            return; /* beyond what the 2-byte Length placeholder can hold */
        n = tern_pkt_write_long(out, sizeof(out), h->type, h->version, &h->dcid, &h->scid,
                                h->token, h->token_len, 0, 1, &len_off);
        CHECK(n > 0);
        tern_pkt_set_length(out + len_off, length);
        n -= 1;
        memcpy(out + n, pkt + h->pn_offset, length);
        n += length;
        break;
    }
    }
    CHECK(tern_pkt_parse(out, n, dcid_len, &g) == 0);
    same_hdr(h, &g);
    CHECK(g.pkt_len == n);
    CHECK(g.pkt_len - g.pn_offset == h->pkt_len - h->pn_offset);
}

static void check_pn(const uint8_t *d, size_t size)
{
    if (size < 13)
        return;
    uint64_t largest = 0;
    for (int i = 0; i < 8; i++)
        largest = (largest << 8) | d[i];
    largest &= (1ull << 62) - 1;
    size_t nbits = 8 * (1 + (d[8] & 3));
    uint64_t mask = (1ull << nbits) - 1, win = 1ull << nbits, hwin = win / 2;
    uint64_t trunc = tern_get_u32(d + 9) & mask;
    uint64_t got = tern_pkt_decode_pn(largest, trunc, nbits);
    uint64_t expected = largest + 1;
    CHECK((got & mask) == trunc);
    CHECK(got < (1ull << 62));
    if (expected >= win && expected + win < (1ull << 62))
        CHECK(got > expected - hwin && got <= expected + hwin);

    /* The sender's length choice always lets the receiver recover the number. */
    uint64_t pn = largest + 1 + (tern_get_u32(d + 9) >> (d[8] >> 3));
    if (pn < (1ull << 62)) {
        size_t l = tern_pkt_pn_len(pn, largest);
        CHECK(l >= 1 && l <= 4);
        if (pn - largest < (1ull << 31))
            CHECK(tern_pkt_decode_pn(largest, pn & ((1ull << (8 * l)) - 1), 8 * l) == pn);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    check_pn(data, size);
    size_t dcid_len = data[0] % 21;
    const uint8_t *dg = data + 1;
    size_t len = size - 1;

    size_t off = 0;
    while (off < len) {
        tern_pkt_hdr h;
        tern_cid c;
        int is_long;
        int rc = tern_pkt_parse(dg + off, len - off, dcid_len, &h);
        int rp = tern_pkt_peek_dcid(dg + off, len - off, dcid_len, &c, &is_long);
        if (rc != 0) {
            CHECK(rc == TERN_ERR_DROP);
            break;
        }
        CHECK(rp == 0 && tern_cid_eq(&c, &h.dcid));
        CHECK(is_long == (h.type != TERN_PKT_1RTT));
        CHECK(h.pkt_len > 0 && h.pkt_len <= len - off);
        CHECK(h.pn_offset <= h.pkt_len);
        CHECK(h.token_len <= h.pkt_len);
        if (h.version == TERN_PROTO_VERSION_1 || h.type == TERN_PKT_VN || h.type == TERN_PKT_1RTT)
            roundtrip(dg + off, &h, dcid_len);
        off += h.pkt_len;
    }
    return 0;
}
