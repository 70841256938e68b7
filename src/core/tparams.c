/* Transport parameters (RFC 9000 §18): the codec, the range checks of §18.2, and which side may send
 * which parameter. Semantic checks against connection state (that the CIDs match what was seen on
 * the wire, §7.3) belong to the connection. */
#include "tparams.h"
#include "varint.h"

enum {
    TP_ORIGINAL_DCID = 0x00,
    TP_MAX_IDLE_TIMEOUT = 0x01,
    TP_STATELESS_RESET_TOKEN = 0x02,
    TP_MAX_UDP_PAYLOAD_SIZE = 0x03,
    TP_INITIAL_MAX_DATA = 0x04,
    TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05,
    TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06,
    TP_INITIAL_MAX_STREAM_DATA_UNI = 0x07,
    TP_INITIAL_MAX_STREAMS_BIDI = 0x08,
    TP_INITIAL_MAX_STREAMS_UNI = 0x09,
    TP_ACK_DELAY_EXPONENT = 0x0a,
    TP_MAX_ACK_DELAY = 0x0b,
    TP_DISABLE_ACTIVE_MIGRATION = 0x0c,
    TP_PREFERRED_ADDRESS = 0x0d,
    TP_ACTIVE_CONNECTION_ID_LIMIT = 0x0e,
    TP_INITIAL_SCID = 0x0f,
    TP_RETRY_SCID = 0x10,
    TP_VERSION_INFORMATION = 0x11,
    TP_COUNT
};
/* Extensions' parameters, beyond the contiguous range of RFC 9000's (each tracked on its own for
 * duplicates). */
#define TP_MAX_DATAGRAM_FRAME_SIZE 0x20 /* RFC 9221 §3 */
#define TP_MIN_ACK_DELAY 0xff04de1bull    /* draft-ietf-quic-ack-frequency §3 */
#define TP_INITIAL_MAX_PATH_ID 0x3e     /* draft-ietf-quic-multipath-21 §2 */
#define MAX_PATH_ID_LIMIT 0xffffffffull /* path IDs are 32-bit */

#define DEFAULT_MAX_UDP_PAYLOAD 65527
#define DEFAULT_ACK_DELAY_EXPONENT 3
#define DEFAULT_MAX_ACK_DELAY 25
#define DEFAULT_ACTIVE_CID_LIMIT 2
#define MAX_STREAMS_LIMIT (1ull << 60)
/* ipv4 + port + ipv6 + port + cid length byte + token, without the CID itself */
#define PREFERRED_ADDR_FIXED (4 + 2 + 16 + 2 + 1 + TERN_RESET_TOKEN_LEN)

void tern_tparams_default(tern_tparams *tp)
{
    memset(tp, 0, sizeof(*tp));
    tp->max_udp_payload_size = DEFAULT_MAX_UDP_PAYLOAD;
    tp->ack_delay_exponent = DEFAULT_ACK_DELAY_EXPONENT;
    tp->max_ack_delay = DEFAULT_MAX_ACK_DELAY;
    tp->active_connection_id_limit = DEFAULT_ACTIVE_CID_LIMIT;
}

/* ---- encoding ---- */

typedef struct wr {
    uint8_t *p, *end;
    int overflow;
} wr;

static uint8_t *wr_reserve(wr *w, uint64_t id, size_t len)
{
    size_t need = tern_varint_len(id) + tern_varint_len(len) + len;
    if (w->overflow || (size_t)(w->end - w->p) < need) {
        w->overflow = 1;
        return NULL;
    }
    w->p = tern_varint_put(w->p, id);
    w->p = tern_varint_put(w->p, len);
    uint8_t *v = w->p;
    w->p += len;
    return v;
}

static void wr_varint(wr *w, uint64_t id, uint64_t v)
{
    size_t l = tern_varint_len(v);
    uint8_t *d;
    if (l == 0) {
        w->overflow = 1; /* not encodable: refuse rather than send garbage */
        return;
    }
    if ((d = wr_reserve(w, id, l)) != NULL)
        tern_varint_put_n(d, v, l);
}

static void wr_varint_nondefault(wr *w, uint64_t id, uint64_t v, uint64_t dflt)
{
    if (v != dflt)
        wr_varint(w, id, v);
}

static void wr_bytes(wr *w, uint64_t id, const uint8_t *b, size_t len)
{
    uint8_t *d = wr_reserve(w, id, len);
    if (d && len)
        memcpy(d, b, len);
}

size_t tern_tparams_encode(const tern_tparams *tp, int is_server, uint8_t *buf, size_t cap)
{
    wr w = {buf, buf + cap, 0};

    if (is_server && tp->has_original_dcid)
        wr_bytes(&w, TP_ORIGINAL_DCID, tp->original_dcid.data, tp->original_dcid.len);
    wr_varint_nondefault(&w, TP_MAX_IDLE_TIMEOUT, tp->max_idle_timeout, 0);
    if (is_server && tp->has_stateless_reset_token)
        wr_bytes(&w, TP_STATELESS_RESET_TOKEN, tp->stateless_reset_token, TERN_RESET_TOKEN_LEN);
    wr_varint_nondefault(&w, TP_MAX_UDP_PAYLOAD_SIZE, tp->max_udp_payload_size,
                         DEFAULT_MAX_UDP_PAYLOAD);
    wr_varint_nondefault(&w, TP_INITIAL_MAX_DATA, tp->initial_max_data, 0);
    wr_varint_nondefault(&w, TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
                         tp->initial_max_stream_data_bidi_local, 0);
    wr_varint_nondefault(&w, TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
                         tp->initial_max_stream_data_bidi_remote, 0);
    wr_varint_nondefault(&w, TP_INITIAL_MAX_STREAM_DATA_UNI, tp->initial_max_stream_data_uni, 0);
    wr_varint_nondefault(&w, TP_INITIAL_MAX_STREAMS_BIDI, tp->initial_max_streams_bidi, 0);
    wr_varint_nondefault(&w, TP_INITIAL_MAX_STREAMS_UNI, tp->initial_max_streams_uni, 0);
    wr_varint_nondefault(&w, TP_ACK_DELAY_EXPONENT, tp->ack_delay_exponent,
                         DEFAULT_ACK_DELAY_EXPONENT);
    wr_varint_nondefault(&w, TP_MAX_ACK_DELAY, tp->max_ack_delay, DEFAULT_MAX_ACK_DELAY);
    if (tp->disable_active_migration)
        wr_reserve(&w, TP_DISABLE_ACTIVE_MIGRATION, 0);
    if (is_server && tp->has_preferred_address) {
        const tern_preferred_addr *pa = &tp->preferred_address;
        uint8_t *d = wr_reserve(&w, TP_PREFERRED_ADDRESS, PREFERRED_ADDR_FIXED + pa->cid.len);
        if (d) {
            memcpy(d, pa->ipv4, 4);
            d = tern_put_u16(d + 4, pa->ipv4_port);
            memcpy(d, pa->ipv6, 16);
            d = tern_put_u16(d + 16, pa->ipv6_port);
            *d++ = pa->cid.len;
            memcpy(d, pa->cid.data, pa->cid.len);
            memcpy(d + pa->cid.len, pa->token, TERN_RESET_TOKEN_LEN);
        }
    }
    wr_varint_nondefault(&w, TP_ACTIVE_CONNECTION_ID_LIMIT, tp->active_connection_id_limit,
                         DEFAULT_ACTIVE_CID_LIMIT);
    wr_bytes(&w, TP_INITIAL_SCID, tp->initial_scid.data, tp->initial_scid.len);
    if (is_server && tp->has_retry_scid)
        wr_bytes(&w, TP_RETRY_SCID, tp->retry_scid.data, tp->retry_scid.len);
    wr_varint_nondefault(&w, TP_MAX_DATAGRAM_FRAME_SIZE, tp->max_datagram_frame_size, 0);
    if (tp->has_min_ack_delay)
        wr_varint(&w, TP_MIN_ACK_DELAY, tp->min_ack_delay_us);
    if (tp->has_initial_max_path_id) {
        /* always written, 0 included: its presence is the offer */
        uint8_t *d = wr_reserve(&w, TP_INITIAL_MAX_PATH_ID,
                                tern_varint_len(tp->initial_max_path_id));
        if (tp->initial_max_path_id > MAX_PATH_ID_LIMIT)
            w.overflow = 1;
        else if (d)
            tern_varint_put(d, tp->initial_max_path_id);
    }
    if (tp->version_info.present) {
        const tern_qv_info *vi = &tp->version_info;
        size_t n = TERN_MIN(vi->n, (size_t)TERN_QV_INFO_MAX);
        uint8_t *d = wr_reserve(&w, TP_VERSION_INFORMATION, 4 * (1 + n));
        if (d) {
            d = tern_put_u32(d, vi->chosen);
            for (size_t i = 0; i < n; i++)
                d = tern_put_u32(d, vi->available[i]);
        }
    }

    return w.overflow ? 0 : (size_t)(w.p - buf);
}

/* ---- decoding ---- */

/* A varint parameter's value must fill its length exactly. */
static int value_varint(const uint8_t *d, size_t len, uint64_t *v)
{
    tern_rd r = {d, d + len};
    return tern_rd_varint(&r, v) || r.p != r.end ? -1 : 0;
}

static int value_cid(const uint8_t *d, size_t len, tern_cid *c)
{
    if (len > TERN_MAX_CID_LEN)
        return -1;
    tern_cid_set(c, d, len);
    return 0;
}

static int value_preferred_addr(const uint8_t *d, size_t len, tern_preferred_addr *pa)
{
    if (len < PREFERRED_ADDR_FIXED)
        return -1;
    uint8_t cl = d[4 + 2 + 16 + 2];
    /* §18.2: a zero-length CID makes the preferred address unusable, and is an error. */
    if (cl < 1 || cl > TERN_MAX_CID_LEN || len != PREFERRED_ADDR_FIXED + (size_t)cl)
        return -1;
    memcpy(pa->ipv4, d, 4);
    pa->ipv4_port = (uint16_t)((d[4] << 8) | d[5]);
    memcpy(pa->ipv6, d + 6, 16);
    pa->ipv6_port = (uint16_t)((d[22] << 8) | d[23]);
    tern_cid_set(&pa->cid, d + 25, cl);
    memcpy(pa->token, d + 25 + cl, TERN_RESET_TOKEN_LEN);
    return 0;
}

/* RFC 9368 §3: Chosen Version then Available Versions, 4 bytes each, none of them 0; a client's
 * Chosen Version is among its Available Versions (§4: else a parsing failure). A list longer than
 * what is kept keeps first what the checks of version negotiation look for (the Chosen Version
 * and the versions this library speaks), then the others in their order. */
static int value_version_info(const uint8_t *d, size_t len, int from_server, tern_qv_info *vi)
{
    int listed = 0;
    if (len < 4 || len % 4)
        return -1;
    vi->present = 1;
    vi->chosen = tern_get_u32(d);
    vi->n = 0;
    if (vi->chosen == 0)
        return -1;
    for (size_t off = 4; off < len; off += 4) {
        uint32_t v = tern_get_u32(d + off);
        if (v == 0)
            return -1;
        listed |= v == vi->chosen;
    }
    if (!from_server && !listed)
        return -1;
    for (int pass = 0; pass < 2; pass++)
        for (size_t off = 4; off < len && vi->n < TERN_QV_INFO_MAX; off += 4) {
            uint32_t v = tern_get_u32(d + off);
            int wanted = v == vi->chosen || tern_qv_supported(v);
            if (wanted == (pass == 0))
                vi->available[vi->n++] = v;
        }
    return 0;
}

static int is_server_only(uint64_t id)
{
    return id == TP_ORIGINAL_DCID || id == TP_STATELESS_RESET_TOKEN || id == TP_PREFERRED_ADDRESS ||
           id == TP_RETRY_SCID;
}

static int decode_one(tern_tparams *tp, int from_server, uint64_t id, const uint8_t *d, size_t len)
{
    uint64_t v = 0;

    switch (id) {
    case TP_ORIGINAL_DCID:
        tp->has_original_dcid = 1;
        return value_cid(d, len, &tp->original_dcid);
    case TP_INITIAL_SCID:
        return value_cid(d, len, &tp->initial_scid);
    case TP_RETRY_SCID:
        tp->has_retry_scid = 1;
        return value_cid(d, len, &tp->retry_scid);
    case TP_STATELESS_RESET_TOKEN:
        if (len != TERN_RESET_TOKEN_LEN)
            return -1;
        memcpy(tp->stateless_reset_token, d, len);
        tp->has_stateless_reset_token = 1;
        return 0;
    case TP_PREFERRED_ADDRESS:
        tp->has_preferred_address = 1;
        return value_preferred_addr(d, len, &tp->preferred_address);
    case TP_DISABLE_ACTIVE_MIGRATION:
        tp->disable_active_migration = 1;
        return len == 0 ? 0 : -1;
    case TP_VERSION_INFORMATION:
        return value_version_info(d, len, from_server, &tp->version_info);
    default:
        break;
    }

    if (value_varint(d, len, &v))
        return -1;
    switch (id) {
    case TP_MAX_IDLE_TIMEOUT:
        tp->max_idle_timeout = v;
        return 0;
    case TP_MAX_UDP_PAYLOAD_SIZE:
        tp->max_udp_payload_size = v;
        return v < TERN_MIN_INITIAL_SIZE ? -1 : 0;
    case TP_INITIAL_MAX_DATA:
        tp->initial_max_data = v;
        return 0;
    case TP_INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
        tp->initial_max_stream_data_bidi_local = v;
        return 0;
    case TP_INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
        tp->initial_max_stream_data_bidi_remote = v;
        return 0;
    case TP_INITIAL_MAX_STREAM_DATA_UNI:
        tp->initial_max_stream_data_uni = v;
        return 0;
    case TP_INITIAL_MAX_STREAMS_BIDI:
        tp->initial_max_streams_bidi = v;
        return v > MAX_STREAMS_LIMIT ? -1 : 0;
    case TP_INITIAL_MAX_STREAMS_UNI:
        tp->initial_max_streams_uni = v;
        return v > MAX_STREAMS_LIMIT ? -1 : 0;
    case TP_ACK_DELAY_EXPONENT:
        tp->ack_delay_exponent = v;
        return v > 20 ? -1 : 0;
    case TP_MAX_ACK_DELAY:
        tp->max_ack_delay = v;
        return v >= (1u << 14) ? -1 : 0;
    case TP_ACTIVE_CONNECTION_ID_LIMIT:
        tp->active_connection_id_limit = v;
        return v < 2 ? -1 : 0;
    }
    return -1;
}

int tern_tparams_decode(tern_tparams *tp, int from_server, const uint8_t *buf, size_t len,
                        uint64_t *terr)
{
    tern_rd r = {buf, buf + len};
    uint32_t seen = 0;
    int seen_dgram = 0, seen_mad = 0, seen_mp = 0;

    tern_tparams_default(tp);
    while (tern_rd_left(&r)) {
        uint64_t id, plen;
        const uint8_t *d;
        if (tern_rd_varint(&r, &id) || tern_rd_varint(&r, &plen) || plen > tern_rd_left(&r) ||
            tern_rd_bytes(&r, (size_t)plen, &d))
            goto bad;
        if (id == TP_MAX_DATAGRAM_FRAME_SIZE) {
            if (seen_dgram++ || value_varint(d, (size_t)plen, &tp->max_datagram_frame_size))
                goto bad;
            continue;
        }
        if (id == TP_MIN_ACK_DELAY) {
            if (seen_mad++ || value_varint(d, (size_t)plen, &tp->min_ack_delay_us))
                goto bad;
            tp->has_min_ack_delay = 1;
            continue;
        }
        if (id == TP_INITIAL_MAX_PATH_ID) {
            if (seen_mp++ || value_varint(d, (size_t)plen, &tp->initial_max_path_id) ||
                tp->initial_max_path_id > MAX_PATH_ID_LIMIT)
                goto bad;
            tp->has_initial_max_path_id = 1;
            continue;
        }
        /* Unknown ids, GREASE among them, must be ignored (§18.1); they are not stored. */
        if (id >= TP_COUNT)
            continue;
        if (seen & (1u << id))
            goto bad;
        seen |= 1u << id;
        if (!from_server && is_server_only(id))
            goto bad;
        if (decode_one(tp, from_server, id, d, (size_t)plen))
            goto bad;
    }
    /* §7.3: both sides must authenticate their first SCID, and a server the client's first DCID. */
    if (!(seen & (1u << TP_INITIAL_SCID)) || (from_server && !(seen & (1u << TP_ORIGINAL_DCID))))
        goto bad;
    /* §18.2: a server with a zero-length CID must not move the client to another address */
    if (tp->has_preferred_address && tp->initial_scid.len == 0)
        goto bad;
    /* max_ack_delay may come after it: checked once both are known */
    if (tp->has_min_ack_delay && tp->min_ack_delay_us > tp->max_ack_delay * 1000)
        goto bad;
    /* multipath tells paths apart by CID: a zero-length one cannot carry the offer */
    if (tp->has_initial_max_path_id && tp->initial_scid.len == 0) {
        *terr = TERN_TE_PROTOCOL_VIOLATION;
        return TERN_ERR_PROTO;
    }
    return 0;

bad:
    *terr = TERN_TE_TRANSPORT_PARAMETER_ERROR;
    return TERN_ERR_PROTO;
}
