/* Packet header codecs (RFC 9000 §17): parsing what is readable before header protection is
 * removed, writing long and short headers, packet-number truncation and recovery (Appendix A),
 * and the fixed layouts of Version Negotiation, Retry and stateless reset. */
#include "packet.h"
#include "qversion.h"
#include "varint.h"

#define LONG_FORM 0x80
#define FIXED_BIT 0x40
#define RETRY_TAG_LEN 16
#define LENGTH_2B_MAX 16383 /* largest value of a two-byte varint */

static int read_cid(tern_rd *r, tern_cid *c)
{
    uint8_t n;
    const uint8_t *d;
    /* Longer CIDs exist only in other versions; tern_cid cannot carry them, so they are dropped. */
    if (tern_rd_u8(r, &n) || n > TERN_MAX_CID_LEN || tern_rd_bytes(r, n, &d))
        return -1;
    tern_cid_set(c, d, n);
    return 0;
}

static int parse_long(const uint8_t *pkt, size_t len, tern_pkt_hdr *h)
{
    tern_rd r = {pkt + 1, pkt + len};
    uint8_t b0 = pkt[0];
    uint64_t v;
    const uint8_t *d;

    if (tern_rd_u32(&r, &h->version) || read_cid(&r, &h->dcid) || read_cid(&r, &h->scid))
        return TERN_ERR_DROP;

    if (h->version == 0) {
        size_t rest = tern_rd_left(&r);
        if (rest == 0 || rest % 4)
            return TERN_ERR_DROP;
        h->type = TERN_PKT_VN;
        h->versions = r.p;
        h->versions_count = rest / 4;
        h->pkt_len = len;
        return 0;
    }

    /* v1's codepoints are enum tern_pkt_type's numbering; v2 rotates them (RFC 9369 §3.2) */
    h->type = tern_qv_type_from_bits(h->version, (unsigned)b0 >> 4);
    if (!tern_qv_supported(h->version)) {
        /* The rest is version-specific: the caller only needs version and CIDs to negotiate. */
        h->pkt_len = len;
        return 0;
    }
    if (!(b0 & FIXED_BIT))
        return TERN_ERR_DROP;

    if (h->type == TERN_PKT_RETRY) {
        size_t rest = tern_rd_left(&r);
        /* §17.2.5.2: a Retry with an empty token is discarded. */
        if (rest <= RETRY_TAG_LEN)
            return TERN_ERR_DROP;
        h->token = r.p;
        h->token_len = rest - RETRY_TAG_LEN;
        h->pkt_len = len;
        return 0;
    }

    if (h->type == TERN_PKT_INITIAL) {
        if (tern_rd_varint(&r, &v) || v > tern_rd_left(&r) || tern_rd_bytes(&r, (size_t)v, &d))
            return TERN_ERR_DROP;
        h->token = v ? d : NULL;
        h->token_len = (size_t)v;
    }
    if (tern_rd_varint(&r, &v) || v > tern_rd_left(&r))
        return TERN_ERR_DROP;
    h->pn_offset = (size_t)(r.p - pkt);
    h->pkt_len = h->pn_offset + (size_t)v;
    return 0;
}

int tern_pkt_parse(const uint8_t *pkt, size_t len, size_t short_dcid_len, tern_pkt_hdr *h)
{
    memset(h, 0, sizeof(*h));
    if (len == 0)
        return TERN_ERR_DROP;
    if (pkt[0] & LONG_FORM)
        return parse_long(pkt, len, h);

    if (!(pkt[0] & FIXED_BIT) || short_dcid_len > TERN_MAX_CID_LEN || len < 1 + short_dcid_len)
        return TERN_ERR_DROP;
    h->type = TERN_PKT_1RTT;
    tern_cid_set(&h->dcid, pkt + 1, short_dcid_len);
    h->pn_offset = 1 + short_dcid_len;
    h->pkt_len = len;
    return 0;
}

int tern_pkt_peek_dcid(const uint8_t *pkt, size_t len, size_t short_dcid_len, tern_cid *dcid,
                       int *is_long)
{
    if (len == 0)
        return TERN_ERR_DROP;
    if (pkt[0] & LONG_FORM) {
        if (len < 6 || pkt[5] > TERN_MAX_CID_LEN || len < 6u + pkt[5])
            return TERN_ERR_DROP;
        tern_cid_set(dcid, pkt + 6, pkt[5]);
        *is_long = 1;
        return 0;
    }
    if (short_dcid_len > TERN_MAX_CID_LEN || len < 1 + short_dcid_len)
        return TERN_ERR_DROP;
    tern_cid_set(dcid, pkt + 1, short_dcid_len);
    *is_long = 0;
    return 0;
}

uint64_t tern_pkt_decode_pn(uint64_t largest, uint64_t truncated, size_t pn_nbits)
{
    uint64_t expected = largest == UINT64_MAX ? 0 : largest + 1;
    uint64_t win = 1ull << pn_nbits;
    uint64_t hwin = win / 2;
    uint64_t mask = win - 1;
    uint64_t cand = (expected & ~mask) | (truncated & mask);

    /* The comparisons are the RFC's, rearranged so that nothing wraps below zero; the last one
     * keeps the result a valid packet number once the space is exhausted (largest = 2^62-1). */
    if (cand + hwin <= expected && cand < (1ull << 62) - win)
        return cand + win;
    if ((cand > expected + hwin || cand > TERN_MAX_VARINT) && cand >= win)
        return cand - win;
    return cand;
}

size_t tern_pkt_pn_len(uint64_t pn, uint64_t largest_acked)
{
    uint64_t unacked = largest_acked == UINT64_MAX ? pn + 1 : pn - largest_acked;
    if (largest_acked != UINT64_MAX && pn <= largest_acked)
        unacked = 1;
    /* The receiver must be able to tell pn apart from every packet within twice the unacked span. */
    if (unacked <= (1u << 7))
        return 1;
    if (unacked <= (1u << 15))
        return 2;
    if (unacked <= (1u << 23))
        return 3;
    return 4;
}

static uint8_t *put_pn(uint8_t *p, uint64_t pn, size_t pn_len)
{
    for (size_t i = pn_len; i > 0; i--)
        *p++ = (uint8_t)(pn >> (8 * (i - 1)));
    return p;
}

static uint8_t *put_cid(uint8_t *p, const tern_cid *c)
{
    *p++ = c->len;
    memcpy(p, c->data, c->len);
    return p + c->len;
}

size_t tern_pkt_write_long(uint8_t *p, size_t cap, int type, uint32_t version, const tern_cid *dcid,
                           const tern_cid *scid, const uint8_t *token, size_t token_len,
                           uint64_t pn, size_t pn_len, size_t *len_off)
{
    if (type != TERN_PKT_INITIAL && type != TERN_PKT_0RTT && type != TERN_PKT_HANDSHAKE)
        return 0;
    if (pn_len < 1 || pn_len > 4 || dcid->len > TERN_MAX_CID_LEN || scid->len > TERN_MAX_CID_LEN)
        return 0;
    if (type != TERN_PKT_INITIAL)
        token_len = 0;
    size_t need = 7 + (size_t)dcid->len + scid->len + pn_len;
    if (type == TERN_PKT_INITIAL) {
        size_t tl = tern_varint_len(token_len);
        if (tl == 0)
            return 0;
        need += tl + token_len;
    }
    /* Two bytes hold any Length up to 16383; a packet that may grow past that (large datagrams once
     * the path allows them) gets the four-byte form, so that its Length is never truncated. */
    size_t before_len = need - pn_len; /* the Length counts the packet number and what follows */
    size_t len_width = before_len + 2 > cap || cap - before_len - 2 <= LENGTH_2B_MAX ? 2 : 4;
    need += len_width;
    if (need > cap)
        return 0;

    uint8_t *q = p;
    *q++ = (uint8_t)(LONG_FORM | FIXED_BIT | (tern_qv_type_bits(version, type) << 4) |
                     (unsigned)(pn_len - 1));
    q = tern_put_u32(q, version);
    q = put_cid(q, dcid);
    q = put_cid(q, scid);
    if (type == TERN_PKT_INITIAL) {
        q = tern_varint_put(q, token_len);
        if (token_len)
            memcpy(q, token, token_len);
        q += token_len;
    }
    *len_off = (size_t)(q - p);
    q = tern_varint_put_n(q, 0, len_width);
    q = put_pn(q, pn, pn_len);
    return (size_t)(q - p);
}

int tern_pkt_set_length(uint8_t *p, size_t length)
{
    /* the placeholder's two prefix bits say how wide tern_pkt_write_long made the field */
    size_t width = (size_t)1 << (p[0] >> 6);
    if ((width != 2 && width != 4) || length >= (1ull << (8 * width - 2)))
        return -1;
    tern_varint_put_n(p, length, width);
    return 0;
}

size_t tern_pkt_write_short(uint8_t *p, size_t cap, const tern_cid *dcid, uint64_t pn, size_t pn_len,
                            int key_phase, int spin)
{
    if (pn_len < 1 || pn_len > 4 || dcid->len > TERN_MAX_CID_LEN || cap < 1 + dcid->len + pn_len)
        return 0;
    p[0] = (uint8_t)(FIXED_BIT | (spin ? 0x20 : 0) | (key_phase ? 0x04 : 0) | (pn_len - 1));
    memcpy(p + 1, dcid->data, dcid->len);
    return (size_t)(put_pn(p + 1 + dcid->len, pn, pn_len) - p);
}

size_t tern_pkt_write_vn(uint8_t *p, size_t cap, const tern_cid *client_dcid,
                         const tern_cid *client_scid, const uint32_t *versions, size_t n,
                         uint8_t unused)
{
    if (n == 0 || client_dcid->len > TERN_MAX_CID_LEN || client_scid->len > TERN_MAX_CID_LEN)
        return 0;
    if (n > (cap / 4) || 7 + (size_t)client_dcid->len + client_scid->len + 4 * n > cap)
        return 0;
    /* 0x40 stays set so that demultiplexers of other protocols sharing the port see QUIC (§17.2.1). */
    uint8_t *q = p;
    *q++ = (uint8_t)(LONG_FORM | FIXED_BIT | (unused & 0x3f));
    q = tern_put_u32(q, 0);
    q = put_cid(q, client_scid);
    q = put_cid(q, client_dcid);
    for (size_t i = 0; i < n; i++)
        q = tern_put_u32(q, versions[i]);
    return (size_t)(q - p);
}

size_t tern_pkt_write_retry(uint8_t *p, size_t cap, uint32_t version, const tern_cid *dcid,
                            const tern_cid *scid, const uint8_t *token, size_t token_len,
                            uint8_t unused)
{
    if (token_len == 0 || dcid->len > TERN_MAX_CID_LEN || scid->len > TERN_MAX_CID_LEN)
        return 0;
    if (token_len > cap || 7 + (size_t)dcid->len + scid->len + token_len > cap)
        return 0;
    uint8_t *q = p;
    *q++ = (uint8_t)(LONG_FORM | FIXED_BIT | (tern_qv_type_bits(version, TERN_PKT_RETRY) << 4) |
                     (unused & 0x0f));
    q = tern_put_u32(q, version);
    q = put_cid(q, dcid);
    q = put_cid(q, scid);
    memcpy(q, token, token_len);
    return (size_t)(q + token_len - p);
}

size_t tern_pkt_write_stateless_reset(uint8_t *p, size_t len, const uint8_t *rnd,
                                      const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    if (len < 21)
        return 0;
    memmove(p, rnd, len - TERN_RESET_TOKEN_LEN);
    p[0] = (uint8_t)(FIXED_BIT | (p[0] & 0x3f));
    memmove(p + len - TERN_RESET_TOKEN_LEN, token, TERN_RESET_TOKEN_LEN);
    return len;
}
