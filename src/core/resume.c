/* The resumption blob: "TRNS", a format version, then a few length-prefixed sections. Parameters
 * travel as (id, value) varint pairs under the RFC 9000 §18.2 (and RFC 9221 §3) ids, so that a
 * blob written by a later version that remembers more still reads here, and one written before a
 * parameter was remembered reads with that parameter at its RFC default. */
#include "resume.h"

#include <string.h>

#include "varint.h"

static const uint8_t MAGIC[4] = {'T', 'R', 'N', 'S'};

enum {
    TP_MAX_DATA = 0x04,
    TP_BIDI_LOCAL = 0x05,
    TP_BIDI_REMOTE = 0x06,
    TP_UNI = 0x07,
    TP_STREAMS_BIDI = 0x08,
    TP_STREAMS_UNI = 0x09,
    TP_ACTIVE_CID_LIMIT = 0x0e,
    TP_MAX_DATAGRAM_FRAME_SIZE = 0x20,
};

#define NPARAMS TERN_RESUME_LIMITS
/* The first NPARAMS_REQUIRED of param_ids are in every blob of this format; those after them came
 * later, and a blob without one remembers its default (0, which for max_datagram_frame_size means
 * no DATAGRAM frames in 0-RTT) and is written without it when it has that value. */
#define NPARAMS_REQUIRED 7
#define MAX_STREAMS_VALUE (1ull << 60)

/* The field of parameter `id`, one of param_ids (the decoder skips the others before asking). */
static uint64_t *param_slot(tern_resume *r, uint64_t id)
{
    switch (id) {
    case TP_MAX_DATA:
        return &r->initial_max_data;
    case TP_BIDI_LOCAL:
        return &r->initial_max_stream_data_bidi_local;
    case TP_BIDI_REMOTE:
        return &r->initial_max_stream_data_bidi_remote;
    case TP_UNI:
        return &r->initial_max_stream_data_uni;
    case TP_STREAMS_BIDI:
        return &r->initial_max_streams_bidi;
    case TP_STREAMS_UNI:
        return &r->initial_max_streams_uni;
    case TP_ACTIVE_CID_LIMIT:
        return &r->active_connection_id_limit;
    default: /* TP_MAX_DATAGRAM_FRAME_SIZE */
        return &r->max_datagram_frame_size;
    }
}

static uint64_t param_get(const tern_resume *r, uint64_t id)
{
    tern_resume copy = *r;
    return *param_slot(&copy, id);
}

static const uint8_t param_ids[NPARAMS] = {
    TP_MAX_DATA,     TP_BIDI_LOCAL,  TP_BIDI_REMOTE,      TP_UNI,
    TP_STREAMS_BIDI, TP_STREAMS_UNI, TP_ACTIVE_CID_LIMIT, TP_MAX_DATAGRAM_FRAME_SIZE};

/* The position of `id` in param_ids, -1 for an id this format does not remember. */
static int param_index(uint64_t id)
{
    for (int i = 0; i < NPARAMS; i++)
        if (param_ids[i] == id)
            return i;
    return -1;
}

void tern_resume_from_tparams(tern_resume *r, const tern_tparams *tp)
{
    r->active_connection_id_limit = tp->active_connection_id_limit;
    r->initial_max_data = tp->initial_max_data;
    r->initial_max_stream_data_bidi_local = tp->initial_max_stream_data_bidi_local;
    r->initial_max_stream_data_bidi_remote = tp->initial_max_stream_data_bidi_remote;
    r->initial_max_stream_data_uni = tp->initial_max_stream_data_uni;
    r->initial_max_streams_bidi = tp->initial_max_streams_bidi;
    r->initial_max_streams_uni = tp->initial_max_streams_uni;
    r->max_datagram_frame_size = tp->max_datagram_frame_size;
}

void tern_resume_to_tparams(const tern_resume *r, tern_tparams *tp)
{
    tern_tparams_default(tp);
    tp->active_connection_id_limit = r->active_connection_id_limit;
    tp->initial_max_data = r->initial_max_data;
    tp->initial_max_stream_data_bidi_local = r->initial_max_stream_data_bidi_local;
    tp->initial_max_stream_data_bidi_remote = r->initial_max_stream_data_bidi_remote;
    tp->initial_max_stream_data_uni = r->initial_max_stream_data_uni;
    tp->initial_max_streams_bidi = r->initial_max_streams_bidi;
    tp->initial_max_streams_uni = r->initial_max_streams_uni;
    tp->max_datagram_frame_size = r->max_datagram_frame_size;
}

void tern_resume_limits(const tern_resume *r, uint64_t out[TERN_RESUME_LIMITS])
{
    for (int i = 0; i < NPARAMS; i++)
        out[i] = param_get(r, param_ids[i]);
}

int tern_resume_limits_kept(const tern_resume *r, const tern_tparams *now)
{
    tern_resume cur;
    uint64_t was[TERN_RESUME_LIMITS], is[TERN_RESUME_LIMITS];
    tern_resume_from_tparams(&cur, now);
    tern_resume_limits(r, was);
    tern_resume_limits(&cur, is);
    for (int i = 0; i < NPARAMS; i++)
        if (is[i] < was[i])
            return 0;
    return 1;
}

size_t tern_resume_encode(const tern_resume *r, uint8_t *buf, size_t cap)
{
    uint8_t params[NPARAMS * 9];
    uint8_t *q = params;
    size_t alpn_len = strnlen(r->alpn, sizeof(r->alpn));
    if (alpn_len >= sizeof(r->alpn) || !r->session || !r->session_len ||
        r->session_len > TERN_RESUME_MAX_SESSION)
        return 0;
    for (int i = 0; i < NPARAMS; i++) {
        uint64_t v = param_get(r, param_ids[i]);
        if (!tern_varint_len(v))
            return 0;
        if (i >= NPARAMS_REQUIRED && v == 0)
            continue; /* the default: as a blob written before it was remembered */
        q = tern_varint_put(q, param_ids[i]);
        q = tern_varint_put(q, v);
    }
    size_t plen = (size_t)(q - params);
    size_t need = 4 + 1 + 4 + 1 + alpn_len + 2 + plen + 4 + r->session_len;
    if (need > cap)
        return 0;
    uint8_t *p = buf;
    memcpy(p, MAGIC, 4);
    p += 4;
    p = tern_put_u8(p, TERN_RESUME_VERSION);
    p = tern_put_u32(p, r->max_early_data);
    p = tern_put_u8(p, (uint8_t)alpn_len);
    memcpy(p, r->alpn, alpn_len);
    p += alpn_len;
    p = tern_put_u16(p, (uint16_t)plen);
    memcpy(p, params, plen);
    p += plen;
    p = tern_put_u32(p, (uint32_t)r->session_len);
    memcpy(p, r->session, r->session_len);
    p += r->session_len;
    return (size_t)(p - buf);
}

static int decode_params(tern_resume *r, const uint8_t *p, size_t len)
{
    tern_rd rd = {p, p + len};
    unsigned seen = 0;
    while (tern_rd_left(&rd)) {
        uint64_t id, v;
        if (tern_rd_varint(&rd, &id) || tern_rd_varint(&rd, &v))
            return -1;
        int i = param_index(id);
        if (i < 0)
            continue;
        unsigned bit = 1u << i;
        if (seen & bit)
            return -1;
        seen |= bit;
        *param_slot(r, id) = v;
    }
    for (int i = 0; i < NPARAMS_REQUIRED; i++)
        if (!(seen & (1u << i)))
            return -1; /* a writer of this format always remembers these */
    if (r->initial_max_streams_bidi > MAX_STREAMS_VALUE ||
        r->initial_max_streams_uni > MAX_STREAMS_VALUE || r->active_connection_id_limit < 2)
        return -1;
    return 0;
}

int tern_resume_decode(tern_resume *r, const uint8_t *buf, size_t len)
{
    if (!r || !buf)
        return TERN_ERR_SESSION;
    memset(r, 0, sizeof(*r));
    tern_rd rd = {buf, buf + len};
    const uint8_t *magic, *alpn, *params, *session;
    uint8_t version, alpn_len;
    uint16_t plen;
    uint32_t slen;
    if (tern_rd_bytes(&rd, 4, &magic) || memcmp(magic, MAGIC, 4) || tern_rd_u8(&rd, &version) ||
        version != TERN_RESUME_VERSION || tern_rd_u32(&rd, &r->max_early_data) ||
        tern_rd_u8(&rd, &alpn_len) || tern_rd_bytes(&rd, alpn_len, &alpn) ||
        memchr(alpn, 0, alpn_len) || tern_rd_u16(&rd, &plen) || tern_rd_bytes(&rd, plen, &params) ||
        decode_params(r, params, plen) || tern_rd_u32(&rd, &slen) || slen == 0 ||
        slen > TERN_RESUME_MAX_SESSION || tern_rd_bytes(&rd, slen, &session) || tern_rd_left(&rd)) {
        memset(r, 0, sizeof(*r));
        return TERN_ERR_SESSION;
    }
    memcpy(r->alpn, alpn, alpn_len);
    r->alpn[alpn_len] = 0;
    r->session = session;
    r->session_len = slen;
    return 0;
}
