/* Frame codecs (RFC 9000 §19) and the frame/packet-type rules of §12.4. Parsing never copies: data
 * fields point into the decrypted packet. Writers check room once up front and then store without
 * further checks, since they run for every packet built. */
#include "frame.h"
#include "packet.h"
#include "varint.h"

#define MAX_STREAMS_LIMIT (1ull << 60)

/* The varint reader of the parsers, kept inline because STREAM and ACK parsing is per packet. */
static inline int vi(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -1;
    uint64_t x = *p;
    switch (x >> 6) {
    case 0:
        *pp = p + 1;
        break;
    case 1:
        if (end - p < 2)
            return -1;
        x = ((x & 0x3f) << 8) | p[1];
        *pp = p + 2;
        break;
    case 2:
        if (end - p < 4)
            return -1;
        x = ((x & 0x3f) << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
        *pp = p + 4;
        break;
    default:
        if (end - p < 8)
            return -1;
        x &= 0x3f;
        for (int i = 1; i < 8; i++)
            x = (x << 8) | p[i];
        *pp = p + 8;
        break;
    }
    *v = x;
    return 0;
}

/* Reads a varint length followed by that many bytes. */
static inline int vbytes(const uint8_t **pp, const uint8_t *end, const uint8_t **data, size_t *len)
{
    uint64_t n;
    const uint8_t *q = *pp;
    if (vi(&q, end, &n) || n > (uint64_t)(end - q))
        return -1;
    *data = q;
    *len = (size_t)n;
    *pp = q + n;
    return 0;
}

int tern_frame_parse_ack_body(const uint8_t **pp, const uint8_t *end, int ecn, tern_frame *f)
{
    const uint8_t *q = *pp;
    uint64_t gap, len, lo;

    if (vi(&q, end, &f->u.ack.largest) || vi(&q, end, &f->u.ack.delay) ||
        vi(&q, end, &f->u.ack.range_count) || vi(&q, end, &f->u.ack.first_range))
        return -1;
    if (f->u.ack.first_range > f->u.ack.largest)
        return -1;
    lo = f->u.ack.largest - f->u.ack.first_range;
    f->u.ack.ranges = q;
    /* Each pair takes at least two bytes, so a huge range_count runs out of input quickly. */
    for (uint64_t i = 0; i < f->u.ack.range_count; i++) {
        if (vi(&q, end, &gap) || vi(&q, end, &len))
            return -1;
        if (lo < gap + 2)
            return -1;
        lo -= gap + 2; /* the next range's largest */
        if (len > lo)
            return -1;
        lo -= len;
    }
    f->u.ack.ranges_len = (size_t)(q - f->u.ack.ranges);
    f->u.ack.ecn = ecn;
    f->u.ack.ect0 = f->u.ack.ect1 = f->u.ack.ce = 0;
    if (f->u.ack.ecn && (vi(&q, end, &f->u.ack.ect0) || vi(&q, end, &f->u.ack.ect1) ||
                         vi(&q, end, &f->u.ack.ce)))
        return -1;
    *pp = q;
    return 0;
}

int tern_frame_parse_new_cid_body(const uint8_t **pp, const uint8_t *end, tern_frame *f)
{
    const uint8_t *q = *pp;
    size_t n;
    if (vi(&q, end, &f->u.new_cid.seq) || vi(&q, end, &f->u.new_cid.retire_prior_to) ||
        f->u.new_cid.retire_prior_to > f->u.new_cid.seq || q >= end)
        return -1;
    n = *q++;
    if (n < 1 || n > TERN_MAX_CID_LEN || (size_t)(end - q) < n + TERN_RESET_TOKEN_LEN)
        return -1;
    tern_cid_set(&f->u.new_cid.cid, q, n);
    memcpy(f->u.new_cid.token, q + n, TERN_RESET_TOKEN_LEN);
    *pp = q + n + TERN_RESET_TOKEN_LEN;
    return 0;
}

int tern_frame_parse(const uint8_t **p, const uint8_t *end, tern_frame *f, uint64_t *terr)
{
    const uint8_t *q = *p;
    uint64_t t, a;
    size_t n;
    const uint8_t *d;

    if (q < end && *q < 0x40) {
        t = *q++;
    } else if (vi(&q, end, &t)) {
        goto bad;
    }
    f->type = t;

    switch (t) {
    case TERN_FT_PADDING:
        while (q < end && *q == 0)
            q++;
        break;
    case TERN_FT_PING:
    case TERN_FT_HANDSHAKE_DONE:
    case TERN_FT_IMMEDIATE_ACK:
        break;
    case TERN_FT_ACK_FREQUENCY:
        if (vi(&q, end, &f->u.ack_freq.seq) || vi(&q, end, &f->u.ack_freq.threshold) ||
            vi(&q, end, &f->u.ack_freq.max_ack_delay_us) || vi(&q, end, &f->u.ack_freq.reorder))
            goto bad;
        break;
    case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x0e: case 0x0f:
        f->u.stream.offset = 0;
        if (vi(&q, end, &f->u.stream.stream_id) ||
            ((t & 0x04) && vi(&q, end, &f->u.stream.offset)))
            goto bad;
        if (t & 0x02) {
            if (vi(&q, end, &a) || a > (uint64_t)(end - q))
                goto bad;
        } else {
            a = (uint64_t)(end - q);
        }
        /* §19.8: the stream's final offset must stay encodable. */
        if (f->u.stream.offset + a > TERN_MAX_VARINT)
            goto bad;
        f->u.stream.data = q;
        f->u.stream.len = (size_t)a;
        f->u.stream.fin = (int)(t & 0x01);
        q += a;
        break;
    case TERN_FT_ACK:
    case TERN_FT_ACK_ECN:
        if (tern_frame_parse_ack_body(&q, end, t == TERN_FT_ACK_ECN, f))
            goto bad;
        break;
    case TERN_FT_RESET_STREAM:
        if (vi(&q, end, &f->u.reset_stream.stream_id) || vi(&q, end, &f->u.reset_stream.app_error) ||
            vi(&q, end, &f->u.reset_stream.final_size))
            goto bad;
        break;
    case TERN_FT_STOP_SENDING:
        if (vi(&q, end, &f->u.stop_sending.stream_id) || vi(&q, end, &f->u.stop_sending.app_error))
            goto bad;
        break;
    case TERN_FT_CRYPTO:
        if (vi(&q, end, &f->u.crypto.offset) || vbytes(&q, end, &f->u.crypto.data, &f->u.crypto.len))
            goto bad;
        if (f->u.crypto.offset + f->u.crypto.len > TERN_MAX_VARINT)
            goto bad;
        break;
    case TERN_FT_NEW_TOKEN:
        if (vbytes(&q, end, &f->u.new_token.token, &f->u.new_token.len) || f->u.new_token.len == 0)
            goto bad;
        break;
    case TERN_FT_MAX_DATA:
    case TERN_FT_DATA_BLOCKED:
        if (vi(&q, end, &f->u.max_data.max))
            goto bad;
        break;
    case TERN_FT_MAX_STREAM_DATA:
    case TERN_FT_STREAM_DATA_BLOCKED:
        if (vi(&q, end, &f->u.max_stream_data.stream_id) || vi(&q, end, &f->u.max_stream_data.max))
            goto bad;
        break;
    case TERN_FT_MAX_STREAMS_BIDI:
    case TERN_FT_MAX_STREAMS_UNI:
    case TERN_FT_STREAMS_BLOCKED_BIDI:
    case TERN_FT_STREAMS_BLOCKED_UNI:
        /* §19.11/§19.14: stream counts beyond 2^60 cannot map to stream IDs. */
        if (vi(&q, end, &f->u.max_streams.max) || f->u.max_streams.max > MAX_STREAMS_LIMIT)
            goto bad;
        f->u.max_streams.bidi = t == TERN_FT_MAX_STREAMS_BIDI || t == TERN_FT_STREAMS_BLOCKED_BIDI;
        break;
    case TERN_FT_NEW_CONNECTION_ID:
        if (tern_frame_parse_new_cid_body(&q, end, f))
            goto bad;
        break;
    case TERN_FT_RETIRE_CONNECTION_ID:
        if (vi(&q, end, &f->u.retire_cid.seq))
            goto bad;
        break;
    case TERN_FT_PATH_CHALLENGE:
    case TERN_FT_PATH_RESPONSE:
        if (end - q < 8)
            goto bad;
        memcpy(f->u.path.data, q, 8);
        q += 8;
        break;
    case TERN_FT_DATAGRAM:
        f->u.datagram.data = q;
        f->u.datagram.len = (size_t)(end - q);
        q = end;
        break;
    case TERN_FT_DATAGRAM_LEN:
        if (vbytes(&q, end, &f->u.datagram.data, &f->u.datagram.len))
            goto bad;
        break;
    case TERN_FT_CONNECTION_CLOSE:
    case TERN_FT_CONNECTION_CLOSE_APP:
        f->u.close.app = t == TERN_FT_CONNECTION_CLOSE_APP;
        f->u.close.frame_type = 0;
        if (vi(&q, end, &f->u.close.error_code) ||
            (!f->u.close.app && vi(&q, end, &f->u.close.frame_type)) ||
            vbytes(&q, end, &d, &n))
            goto bad;
        f->u.close.reason = d;
        f->u.close.reason_len = n;
        break;
    default:
        goto bad;
    }
    *p = q;
    return 0;

bad:
    *terr = TERN_TE_FRAME_ENCODING_ERROR;
    return TERN_ERR_PROTO;
}

void tern_ack_iter_init(tern_ack_iter *it, const tern_frame *f)
{
    it->f = f;
    it->p = f->u.ack.ranges;
    it->prev_lo = 0;
    it->idx = 0;
}

int tern_ack_iter_next(tern_ack_iter *it, uint64_t *lo, uint64_t *hi)
{
    const tern_frame *f = it->f;
    uint64_t gap, len;

    if (it->idx == 0) {
        *hi = f->u.ack.largest;
        *lo = f->u.ack.largest - f->u.ack.first_range;
    } else {
        const uint8_t *end = f->u.ack.ranges + f->u.ack.ranges_len;
        if (it->idx > f->u.ack.range_count || vi(&it->p, end, &gap) || vi(&it->p, end, &len))
            return 0;
        /* tern_frame_parse has proven these subtractions stay >= 0. */
        *hi = it->prev_lo - gap - 2;
        *lo = *hi - len;
    }
    it->prev_lo = *lo;
    it->idx++;
    return 1;
}

/* Table 3 of RFC 9000 as bit masks over enum tern_pkt_type. */
#define IN_I (1u << TERN_PKT_INITIAL)
#define IN_0 (1u << TERN_PKT_0RTT)
#define IN_H (1u << TERN_PKT_HANDSHAKE)
#define IN_1 (1u << TERN_PKT_1RTT)

static const uint8_t frame_pkts[TERN_FT_HANDSHAKE_DONE + 1] = {
    [TERN_FT_PADDING] = IN_I | IN_H | IN_0 | IN_1,
    [TERN_FT_PING] = IN_I | IN_H | IN_0 | IN_1,
    [TERN_FT_ACK] = IN_I | IN_H | IN_1,
    [TERN_FT_ACK_ECN] = IN_I | IN_H | IN_1,
    [TERN_FT_RESET_STREAM] = IN_0 | IN_1,
    [TERN_FT_STOP_SENDING] = IN_0 | IN_1,
    [TERN_FT_CRYPTO] = IN_I | IN_H | IN_1,
    [TERN_FT_NEW_TOKEN] = IN_1,
    [0x08] = IN_0 | IN_1, [0x09] = IN_0 | IN_1, [0x0a] = IN_0 | IN_1, [0x0b] = IN_0 | IN_1,
    [0x0c] = IN_0 | IN_1, [0x0d] = IN_0 | IN_1, [0x0e] = IN_0 | IN_1, [0x0f] = IN_0 | IN_1,
    [TERN_FT_MAX_DATA] = IN_0 | IN_1,
    [TERN_FT_MAX_STREAM_DATA] = IN_0 | IN_1,
    [TERN_FT_MAX_STREAMS_BIDI] = IN_0 | IN_1,
    [TERN_FT_MAX_STREAMS_UNI] = IN_0 | IN_1,
    [TERN_FT_DATA_BLOCKED] = IN_0 | IN_1,
    [TERN_FT_STREAM_DATA_BLOCKED] = IN_0 | IN_1,
    [TERN_FT_STREAMS_BLOCKED_BIDI] = IN_0 | IN_1,
    [TERN_FT_STREAMS_BLOCKED_UNI] = IN_0 | IN_1,
    [TERN_FT_NEW_CONNECTION_ID] = IN_0 | IN_1,
    /* §12.5 lists RETIRE_CONNECTION_ID among the frames that cannot be sent in 0-RTT. */
    [TERN_FT_RETIRE_CONNECTION_ID] = IN_1,
    [TERN_FT_PATH_CHALLENGE] = IN_0 | IN_1,
    [TERN_FT_PATH_RESPONSE] = IN_1,
    [TERN_FT_CONNECTION_CLOSE] = IN_I | IN_H | IN_0 | IN_1,
    [TERN_FT_CONNECTION_CLOSE_APP] = IN_0 | IN_1,
    [TERN_FT_HANDSHAKE_DONE] = IN_1,
};

int tern_frame_allowed(uint64_t type, int pkt_type)
{
    if (pkt_type < 0 || pkt_type > TERN_PKT_1RTT)
        return 0;
    /* RFC 9221 §4: DATAGRAM frames travel in 0-RTT and 1-RTT packets only */
    if (type == TERN_FT_DATAGRAM || type == TERN_FT_DATAGRAM_LEN)
        return ((IN_0 | IN_1) >> pkt_type) & 1;
    /* draft-ietf-quic-ack-frequency: neither frame in 0-RTT (the peer's support is not known) */
    if (type == TERN_FT_ACK_FREQUENCY || type == TERN_FT_IMMEDIATE_ACK)
        return pkt_type == TERN_PKT_1RTT;
    if (type > TERN_FT_HANDSHAKE_DONE)
        return 0;
    return (frame_pkts[type] >> pkt_type) & 1;
}

int tern_frame_is_ack_eliciting(uint64_t type)
{
    return type != TERN_FT_ACK && type != TERN_FT_ACK_ECN && type != TERN_FT_PADDING &&
           type != TERN_FT_CONNECTION_CLOSE && type != TERN_FT_CONNECTION_CLOSE_APP;
}

int tern_frame_is_probing(uint64_t type)
{
    return type == TERN_FT_PATH_CHALLENGE || type == TERN_FT_PATH_RESPONSE ||
           type == TERN_FT_NEW_CONNECTION_ID || type == TERN_FT_PADDING;
}

/* ---- writers ---- */

/* Local inline twins of tern_varint_len/put: the writers run for every packet, and the calls
 * would otherwise cross a translation unit. vlen() is 0 for values that cannot be encoded. */
static inline size_t vlen(uint64_t v)
{
    return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x40000000 ? 4 : v <= TERN_MAX_VARINT ? 8 : 0;
}

static inline uint8_t *vput(uint8_t *p, uint64_t v)
{
    if (v < 0x40) {
        p[0] = (uint8_t)v;
        return p + 1;
    }
    if (v < 0x4000) {
        p[0] = (uint8_t)(0x40 | (v >> 8));
        p[1] = (uint8_t)v;
        return p + 2;
    }
    if (v < 0x40000000) {
        p[0] = (uint8_t)(0x80 | (v >> 24));
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
        return p + 4;
    }
    return tern_varint_put_n(p, v, 8);
}

size_t tern_frame_write_padding(uint8_t *p, size_t cap, size_t n)
{
    if (n == 0 || n > cap)
        return 0;
    memset(p, 0, n);
    return n;
}

static size_t write_type_only(uint8_t *p, size_t cap, uint8_t type)
{
    if (cap < 1)
        return 0;
    *p = type;
    return 1;
}

size_t tern_frame_write_ping(uint8_t *p, size_t cap)
{
    return write_type_only(p, cap, TERN_FT_PING);
}

size_t tern_frame_write_handshake_done(uint8_t *p, size_t cap)
{
    return write_type_only(p, cap, TERN_FT_HANDSHAKE_DONE);
}

size_t tern_frame_write_immediate_ack(uint8_t *p, size_t cap)
{
    return write_type_only(p, cap, TERN_FT_IMMEDIATE_ACK);
}

size_t tern_frame_write_ack_frequency(uint8_t *p, size_t cap, uint64_t seq, uint64_t threshold,
                                      uint64_t max_ack_delay_us, uint64_t reorder)
{
    size_t a = vlen(seq), b = vlen(threshold), d = vlen(max_ack_delay_us), r = vlen(reorder);
    size_t n = 2 + a + b + d + r; /* 0xaf takes two bytes */
    if (!a || !b || !d || !r || cap < n)
        return 0;
    uint8_t *q = vput(p, TERN_FT_ACK_FREQUENCY);
    q = vput(q, seq);
    q = vput(q, threshold);
    q = vput(q, max_ack_delay_us);
    vput(q, reorder);
    return n;
}

size_t tern_frame_write_ack(uint8_t *p, size_t cap, const tern_pn_range *ranges, size_t n,
                            uint64_t ack_delay, const uint64_t *ecn)
{
    const uint8_t type = ecn ? TERN_FT_ACK_ECN : TERN_FT_ACK;
    return tern_frame_write_ack_prefixed(p, cap, &type, 1, ranges, n, ack_delay, ecn);
}

size_t tern_frame_write_ack_prefixed(uint8_t *p, size_t cap, const uint8_t *prefix,
                                     size_t prefix_len, const tern_pn_range *ranges, size_t n,
                                     uint64_t ack_delay, const uint64_t *ecn)
{
    if (n == 0 || ranges[0].lo > ranges[0].hi)
        return 0;
    size_t l1 = vlen(ranges[0].hi), l2 = vlen(ack_delay), l3 = vlen(ranges[0].hi - ranges[0].lo);
    if (!l1 || !l2)
        return 0;
    size_t fixed = prefix_len + l1 + l2 + l3;
    if (ecn) {
        size_t e0 = vlen(ecn[0]), e1 = vlen(ecn[1]), e2 = vlen(ecn[2]);
        if (!e0 || !e1 || !e2)
            return 0;
        fixed += e0 + e1 + e2;
    }
    if (fixed + 1 > cap)
        return 0;

    /* First pass: how many more ranges fit, given that range_count grows with them. */
    size_t k = 0, sum = 0;
    for (size_t i = 1; i < n; i++) {
        const tern_pn_range *prev = &ranges[i - 1], *r = &ranges[i];
        /* A range that is not strictly below the previous one with a gap ends the list. */
        if (r->lo > r->hi || prev->lo < 2 || r->hi > prev->lo - 2)
            break;
        size_t pair = vlen(prev->lo - r->hi - 2) + vlen(r->hi - r->lo);
        if (fixed + vlen(k + 1) + sum + pair > cap)
            break;
        sum += pair;
        k++;
    }

    uint8_t *q = p;
    memcpy(q, prefix, prefix_len);
    q += prefix_len;
    q = vput(q, ranges[0].hi);
    q = vput(q, ack_delay);
    q = vput(q, k);
    q = vput(q, ranges[0].hi - ranges[0].lo);
    for (size_t i = 1; i <= k; i++) {
        q = vput(q, ranges[i - 1].lo - ranges[i].hi - 2);
        q = vput(q, ranges[i].hi - ranges[i].lo);
    }
    if (ecn) {
        q = vput(q, ecn[0]);
        q = vput(q, ecn[1]);
        q = vput(q, ecn[2]);
    }
    return (size_t)(q - p);
}

/* Writes `type` followed by `n` varints, or nothing when they do not fit or cannot be encoded. */
static size_t write_varints(uint8_t *p, size_t cap, uint8_t type, const uint64_t *v, size_t n)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++) {
        size_t l = vlen(v[i]);
        if (!l)
            return 0;
        need += l;
    }
    if (need > cap)
        return 0;
    uint8_t *q = p;
    *q++ = type;
    for (size_t i = 0; i < n; i++)
        q = vput(q, v[i]);
    return need;
}

size_t tern_frame_write_reset_stream(uint8_t *p, size_t cap, uint64_t sid, uint64_t err,
                                     uint64_t final_size)
{
    uint64_t v[3] = {sid, err, final_size};
    return write_varints(p, cap, TERN_FT_RESET_STREAM, v, 3);
}

size_t tern_frame_write_stop_sending(uint8_t *p, size_t cap, uint64_t sid, uint64_t err)
{
    uint64_t v[2] = {sid, err};
    return write_varints(p, cap, TERN_FT_STOP_SENDING, v, 2);
}

size_t tern_frame_write_crypto_hdr(uint8_t *p, size_t cap, uint64_t offset, size_t len)
{
    if (offset > TERN_MAX_VARINT || len > TERN_MAX_VARINT - offset)
        return 0;
    uint64_t v[2] = {offset, len};
    return write_varints(p, cap, TERN_FT_CRYPTO, v, 2);
}

size_t tern_frame_write_new_token(uint8_t *p, size_t cap, const uint8_t *token, size_t len)
{
    size_t l = vlen(len);
    if (len == 0 || !l || len > cap || 1 + l + len > cap)
        return 0;
    p[0] = TERN_FT_NEW_TOKEN;
    memcpy(vput(p + 1, len), token, len);
    return 1 + l + len;
}

size_t tern_frame_stream_hdr_len(uint64_t sid, uint64_t offset, size_t len, int has_len)
{
    return 1 + vlen(sid) + (offset ? vlen(offset) : 0) + (has_len ? vlen(len) : 0);
}

size_t tern_frame_write_stream_hdr(uint8_t *p, size_t cap, uint64_t sid, uint64_t offset, size_t len,
                                   int fin, int has_len)
{
    size_t ls = vlen(sid), lo = offset ? vlen(offset) : 0, ll = has_len ? vlen(len) : 0;
    if (!ls || (offset && !lo) || (has_len && !ll) || len > TERN_MAX_VARINT - offset)
        return 0;
    size_t need = 1 + ls + lo + ll;
    if (need > cap)
        return 0;
    uint8_t *q = p;
    *q++ = (uint8_t)(TERN_FT_STREAM | (offset ? 0x04 : 0) | (has_len ? 0x02 : 0) | (fin ? 0x01 : 0));
    q = vput(q, sid);
    if (offset)
        q = vput(q, offset);
    if (has_len)
        vput(q, len);
    return need;
}

size_t tern_frame_write_max_data(uint8_t *p, size_t cap, uint64_t max)
{
    return write_varints(p, cap, TERN_FT_MAX_DATA, &max, 1);
}

size_t tern_frame_write_max_stream_data(uint8_t *p, size_t cap, uint64_t sid, uint64_t max)
{
    uint64_t v[2] = {sid, max};
    return write_varints(p, cap, TERN_FT_MAX_STREAM_DATA, v, 2);
}

size_t tern_frame_write_max_streams(uint8_t *p, size_t cap, int bidi, uint64_t max)
{
    if (max > MAX_STREAMS_LIMIT)
        return 0;
    return write_varints(p, cap, bidi ? TERN_FT_MAX_STREAMS_BIDI : TERN_FT_MAX_STREAMS_UNI, &max, 1);
}

size_t tern_frame_write_data_blocked(uint8_t *p, size_t cap, uint64_t limit)
{
    return write_varints(p, cap, TERN_FT_DATA_BLOCKED, &limit, 1);
}

size_t tern_frame_write_stream_data_blocked(uint8_t *p, size_t cap, uint64_t sid, uint64_t limit)
{
    uint64_t v[2] = {sid, limit};
    return write_varints(p, cap, TERN_FT_STREAM_DATA_BLOCKED, v, 2);
}

size_t tern_frame_write_streams_blocked(uint8_t *p, size_t cap, int bidi, uint64_t limit)
{
    if (limit > MAX_STREAMS_LIMIT)
        return 0;
    return write_varints(p, cap, bidi ? TERN_FT_STREAMS_BLOCKED_BIDI : TERN_FT_STREAMS_BLOCKED_UNI,
                         &limit, 1);
}

size_t tern_frame_write_new_cid(uint8_t *p, size_t cap, uint64_t seq, uint64_t retire_prior_to,
                                const tern_cid *cid, const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    const uint8_t type = TERN_FT_NEW_CONNECTION_ID;
    return tern_frame_write_new_cid_prefixed(p, cap, &type, 1, seq, retire_prior_to, cid, token);
}

size_t tern_frame_write_new_cid_prefixed(uint8_t *p, size_t cap, const uint8_t *prefix,
                                         size_t prefix_len, uint64_t seq,
                                         uint64_t retire_prior_to, const tern_cid *cid,
                                         const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    size_t l1 = vlen(seq), l2 = vlen(retire_prior_to);
    if (!l1 || !l2 || retire_prior_to > seq || cid->len < 1 || cid->len > TERN_MAX_CID_LEN)
        return 0;
    size_t need = prefix_len + l1 + l2 + 1 + cid->len + TERN_RESET_TOKEN_LEN;
    if (need > cap)
        return 0;
    uint8_t *q = p;
    memcpy(q, prefix, prefix_len);
    q += prefix_len;
    q = vput(q, seq);
    q = vput(q, retire_prior_to);
    *q++ = cid->len;
    memcpy(q, cid->data, cid->len);
    memcpy(q + cid->len, token, TERN_RESET_TOKEN_LEN);
    return need;
}

size_t tern_frame_write_retire_cid(uint8_t *p, size_t cap, uint64_t seq)
{
    return write_varints(p, cap, TERN_FT_RETIRE_CONNECTION_ID, &seq, 1);
}

static size_t write_path(uint8_t *p, size_t cap, uint8_t type, const uint8_t data[8])
{
    if (cap < 9)
        return 0;
    p[0] = type;
    memcpy(p + 1, data, 8);
    return 9;
}

size_t tern_frame_write_path_challenge(uint8_t *p, size_t cap, const uint8_t data[8])
{
    return write_path(p, cap, TERN_FT_PATH_CHALLENGE, data);
}

size_t tern_frame_write_path_response(uint8_t *p, size_t cap, const uint8_t data[8])
{
    return write_path(p, cap, TERN_FT_PATH_RESPONSE, data);
}

size_t tern_frame_write_close(uint8_t *p, size_t cap, int app, uint64_t err, uint64_t frame_type,
                              const char *reason, size_t reason_len)
{
    size_t le = vlen(err), lf = app ? 0 : vlen(frame_type);
    if (!le || (!app && !lf))
        return 0;
    size_t fixed = 1 + le + lf;
    if (fixed + 1 > cap)
        return 0;
    size_t avail = cap - fixed;
    size_t r = TERN_MIN(reason_len, avail - 1);
    while (r && vlen(r) + r > avail)
        r--;
    /* Do not cut a UTF-8 sequence in half. */
    if (r < reason_len)
        while (r && ((uint8_t)reason[r] & 0xc0) == 0x80)
            r--;

    uint8_t *q = p;
    *q++ = app ? TERN_FT_CONNECTION_CLOSE_APP : TERN_FT_CONNECTION_CLOSE;
    q = vput(q, err);
    if (!app)
        q = vput(q, frame_type);
    q = vput(q, r);
    if (r)
        memcpy(q, reason, r);
    return (size_t)(q + r - p);
}

size_t tern_frame_datagram_len(size_t len)
{
    size_t l = vlen(len);
    return l && len <= TERN_MAX_VARINT - 1 - l ? 1 + l + len : 0;
}

size_t tern_frame_write_datagram(uint8_t *p, size_t cap, const uint8_t *data, size_t len,
                                 int has_len)
{
    size_t l = has_len ? vlen(len) : 0;
    if ((has_len && !l) || len > cap || cap - len < 1 + l)
        return 0;
    p[0] = has_len ? TERN_FT_DATAGRAM_LEN : TERN_FT_DATAGRAM;
    uint8_t *q = has_len ? vput(p + 1, len) : p + 1;
    if (len)
        memcpy(q, data, len);
    return 1 + l + len;
}

uint64_t tern_frame_datagram_max_payload(uint64_t frame)
{
    /* the Length field's size depends on the payload's: the best of each size that fits */
    static const uint64_t top[4] = {0x3f, 0x3fff, 0x3fffffff, TERN_MAX_VARINT};
    static const unsigned width[4] = {1, 2, 4, 8};
    uint64_t best = 0;
    for (int i = 0; i < 4 && frame >= 1 + (uint64_t)width[i]; i++)
        best = TERN_MAX(best, TERN_MIN(frame - 1 - width[i], top[i]));
    return best;
}
