/* Multipath frame codecs (draft-ietf-quic-multipath-21): see mpframe.h. The frame types are
 * two-byte varints (PATH_ACK's one byte); every other field is a varint, bar the CID and token of
 * PATH_NEW_CONNECTION_ID, whose body is NEW_CONNECTION_ID's and parsed by frame.c. */
#include "mpframe.h"
#include "packet.h"
#include "varint.h"

int tern_mpframe_is_mp(uint64_t type)
{
    return type == TERN_FT_PATH_ACK || type == TERN_FT_PATH_ACK_ECN ||
           (type >= TERN_FT_PATH_ABANDON && type <= TERN_FT_PATH_CIDS_BLOCKED);
}

int tern_mpframe_allowed(uint64_t type, int pkt_type)
{
    return tern_mpframe_is_mp(type) && pkt_type == TERN_PKT_1RTT;
}

int tern_mpframe_is_ack_eliciting(uint64_t type)
{
    return tern_mpframe_is_mp(type) && type != TERN_FT_PATH_ACK && type != TERN_FT_PATH_ACK_ECN;
}

static int path_id(tern_rd *r, uint64_t *v)
{
    return tern_rd_varint(r, v) || *v > TERN_MP_PATH_ID_MAX ? -1 : 0;
}

int tern_mpframe_parse(const uint8_t **p, const uint8_t *end, tern_mp_frame *f, uint64_t *terr)
{
    tern_rd r = {*p, end};
    uint64_t t;

    if (tern_rd_varint(&r, &t) || !tern_mpframe_is_mp(t))
        return 1; /* not ours: tern_frame_parse reports truncation and unknown types */
    f->type = t;
    switch (t) {
    case TERN_FT_PATH_ACK:
    case TERN_FT_PATH_ACK_ECN:
        f->u.ack.type = t == TERN_FT_PATH_ACK_ECN ? TERN_FT_ACK_ECN : TERN_FT_ACK;
        if (path_id(&r, &f->path_id) ||
            tern_frame_parse_ack_body(&r.p, end, t == TERN_FT_PATH_ACK_ECN, &f->u.ack))
            goto bad;
        break;
    case TERN_FT_PATH_ABANDON:
        if (path_id(&r, &f->path_id) || tern_rd_varint(&r, &f->u.abandon.error_code))
            goto bad;
        break;
    case TERN_FT_PATH_STATUS_BACKUP:
    case TERN_FT_PATH_STATUS_AVAILABLE:
        if (path_id(&r, &f->path_id) || tern_rd_varint(&r, &f->u.status.seq))
            goto bad;
        break;
    case TERN_FT_PATH_NEW_CONNECTION_ID:
        f->u.new_cid.type = TERN_FT_NEW_CONNECTION_ID;
        if (path_id(&r, &f->path_id) || tern_frame_parse_new_cid_body(&r.p, end, &f->u.new_cid))
            goto bad;
        break;
    case TERN_FT_PATH_RETIRE_CONNECTION_ID:
        if (path_id(&r, &f->path_id) || tern_rd_varint(&r, &f->u.retire_cid.seq))
            goto bad;
        break;
    case TERN_FT_MAX_PATH_ID:
    case TERN_FT_PATHS_BLOCKED:
        if (path_id(&r, &f->path_id))
            goto bad;
        break;
    case TERN_FT_PATH_CIDS_BLOCKED:
        if (path_id(&r, &f->path_id) || tern_rd_varint(&r, &f->u.cids_blocked.next_seq))
            goto bad;
        break;
    }
    *p = r.p;
    return 0;

bad:
    *terr = TERN_TE_FRAME_ENCODING_ERROR;
    return TERN_ERR_PROTO;
}

/* ---- writers ---- */

/* The frame type then `n` varints into `out` (room for 8 + 8 * n bytes); 0 when a value is not
 * encodable. */
static size_t prefix(uint8_t *out, uint64_t type, const uint64_t *v, size_t n)
{
    uint8_t *q = tern_varint_put(out, type);
    for (size_t i = 0; i < n; i++) {
        if (!tern_varint_len(v[i]))
            return 0;
        q = tern_varint_put(q, v[i]);
    }
    return (size_t)(q - out);
}

static size_t write_fields(uint8_t *p, size_t cap, uint64_t type, const uint64_t *v, size_t n)
{
    uint8_t tmp[8 * 4];
    if (v[0] > TERN_MP_PATH_ID_MAX)
        return 0;
    size_t len = prefix(tmp, type, v, n);
    if (!len || len > cap)
        return 0;
    memcpy(p, tmp, len);
    return len;
}

size_t tern_mpframe_write_path_ack(uint8_t *p, size_t cap, uint64_t path_id,
                                   const tern_pn_range *ranges, size_t n, uint64_t ack_delay,
                                   const uint64_t *ecn)
{
    uint8_t pre[16];
    if (path_id > TERN_MP_PATH_ID_MAX)
        return 0;
    size_t len = prefix(pre, ecn ? TERN_FT_PATH_ACK_ECN : TERN_FT_PATH_ACK, &path_id, 1);
    return tern_frame_write_ack_prefixed(p, cap, pre, len, ranges, n, ack_delay, ecn);
}

size_t tern_mpframe_write_path_abandon(uint8_t *p, size_t cap, uint64_t path_id, uint64_t err)
{
    uint64_t v[2] = {path_id, err};
    return write_fields(p, cap, TERN_FT_PATH_ABANDON, v, 2);
}

size_t tern_mpframe_write_path_status(uint8_t *p, size_t cap, int available, uint64_t path_id,
                                      uint64_t seq)
{
    uint64_t v[2] = {path_id, seq};
    return write_fields(p, cap,
                        available ? TERN_FT_PATH_STATUS_AVAILABLE : TERN_FT_PATH_STATUS_BACKUP, v,
                        2);
}

size_t tern_mpframe_write_path_new_cid(uint8_t *p, size_t cap, uint64_t path_id, uint64_t seq,
                                       uint64_t retire_prior_to, const tern_cid *cid,
                                       const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    uint8_t pre[16];
    if (path_id > TERN_MP_PATH_ID_MAX)
        return 0;
    size_t len = prefix(pre, TERN_FT_PATH_NEW_CONNECTION_ID, &path_id, 1);
    return tern_frame_write_new_cid_prefixed(p, cap, pre, len, seq, retire_prior_to, cid, token);
}

size_t tern_mpframe_write_path_retire_cid(uint8_t *p, size_t cap, uint64_t path_id, uint64_t seq)
{
    uint64_t v[2] = {path_id, seq};
    return write_fields(p, cap, TERN_FT_PATH_RETIRE_CONNECTION_ID, v, 2);
}

size_t tern_mpframe_write_max_path_id(uint8_t *p, size_t cap, uint64_t max_path_id)
{
    return write_fields(p, cap, TERN_FT_MAX_PATH_ID, &max_path_id, 1);
}

size_t tern_mpframe_write_paths_blocked(uint8_t *p, size_t cap, uint64_t max_path_id)
{
    return write_fields(p, cap, TERN_FT_PATHS_BLOCKED, &max_path_id, 1);
}

size_t tern_mpframe_write_path_cids_blocked(uint8_t *p, size_t cap, uint64_t path_id,
                                            uint64_t next_seq)
{
    uint64_t v[2] = {path_id, next_seq};
    return write_fields(p, cap, TERN_FT_PATH_CIDS_BLOCKED, v, 2);
}
