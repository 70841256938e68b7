/* The peer's control stream (SETTINGS, GOAWAY, MAX_PUSH_ID, CANCEL_PUSH, PRIORITY_UPDATE; RFC
 * 9114 §6.2.1, §7, RFC 9218 §7) and its other unidirectional streams: their types, and QPACK's
 * encoder and decoder streams checked by qpack.c. Nothing here is buffered beyond a frame header
 * or a setting cut by the end of a read: unknown frames and ignored payloads are streamed past, and
 * an unknown stream is refused and forgotten. */
#include "common/h3priv.h"

#include <stdlib.h>
#include <string.h>

/* ---- the peer's control stream ---- */

static int setting(tool_h3 *h, uint64_t id, uint64_t v)
{
    unsigned bit;

    switch (id) {
    case 0x00:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
        tool_h3_fail(h, TOOL_H3_SETTINGS_ERROR, "reserved HTTP/2 setting");
        return -1;
    case SET_QPACK_MAX_TABLE_CAPACITY:
        bit = 1;
        break;
    case SET_MAX_FIELD_SECTION_SIZE:
        bit = 2;
        P(h)->peer_max_section = v;
        break;
    case SET_QPACK_BLOCKED_STREAMS:
        bit = 4;
        break;
    case SET_ENABLE_CONNECT_PROTOCOL:
        bit = 8;
        break;
    case SET_H3_DATAGRAM:
        bit = 16;
        break;
    default:
        return 0; /* unknown settings are ignored (RFC 9114 §7.2.4) */
    }
    if (P(h)->settings_mask & bit) {
        tool_h3_fail(h, TOOL_H3_SETTINGS_ERROR, "setting repeated");
        return -1;
    }
    P(h)->settings_mask |= (uint8_t)bit;
    if ((bit == 8 || bit == 16) && v > 1) {
        tool_h3_fail(h, TOOL_H3_SETTINGS_ERROR, "boolean setting above 1");
        return -1;
    }
    return 0;
}

/* A control frame carrying one varint (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH) is complete. */
static void control_varint(tool_h3 *h, uint64_t type, uint64_t v)
{
    h3_priv *p = P(h);

    if (type == FT_CANCEL_PUSH) {
        tool_h3_fail(h, TOOL_H3_ID_ERROR, "CANCEL_PUSH of a push never allowed");
    } else if (type == FT_MAX_PUSH_ID) {
        if (p->max_push_id != NONE && v < p->max_push_id) {
            tool_h3_fail(h, TOOL_H3_ID_ERROR, "MAX_PUSH_ID decreased");
            return;
        }
        p->max_push_id = v;
    } else {
        if (!h->is_server && v % 4 != 0) {
            tool_h3_fail(h, TOOL_H3_ID_ERROR, "GOAWAY names no client bidi stream");
            return;
        }
        if (p->goaway_recv != NONE && v > p->goaway_recv) {
            tool_h3_fail(h, TOOL_H3_ID_ERROR, "GOAWAY ID increased");
            return;
        }
        p->goaway_recv = v;
        if (!h->is_server)
            h3i_goaway_excludes(h, v);
        if (p->cb.goaway)
            h3i_cb_result(h, p->cb.goaway(h, (int64_t)v));
    }
}

/* A frame begins on the peer's control stream. Returns 0 or -1 (the connection failed). */
static int control_frame(tool_h3 *h, uint64_t type, uint64_t len)
{
    h3_priv *p = P(h);

    if (!p->settings_seen && type != FT_SETTINGS) {
        tool_h3_fail(h, TOOL_H3_MISSING_SETTINGS, "control stream does not start with SETTINGS");
        return -1;
    }
    if (h3i_reserved_h2_frame(h, type))
        return -1;
    switch (type) {
    case FT_SETTINGS:
        if (p->settings_seen) {
            tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "second SETTINGS");
            return -1;
        }
        if (len > CONTROL_PAYLOAD_MAX) {
            tool_h3_fail(h, TOOL_H3_EXCESSIVE_LOAD, "SETTINGS above 16 KB");
            return -1;
        }
        p->settings_seen = 1;
        break;
    case FT_DATA:
    case FT_HEADERS:
    case FT_PUSH_PROMISE:
        tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "message frame on the control stream");
        return -1;
    case FT_MAX_PUSH_ID:
        if (!h->is_server) {
            tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "MAX_PUSH_ID from a server");
            return -1;
        }
        /* fall through */
    case FT_GOAWAY:
    case FT_CANCEL_PUSH:
        if (len < 1 || len > 8) {
            tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "frame of one varint with another length");
            return -1;
        }
        break;
    case FT_PRIORITY_UPDATE_REQUEST:
    case FT_PRIORITY_UPDATE_PUSH:
        if (!h->is_server) {
            tool_h3_fail(h, TOOL_H3_FRAME_UNEXPECTED, "PRIORITY_UPDATE from a server");
            return -1;
        }
        /* the push variant must name a promised push (RFC 9218 §7.2): this side promises none */
        if (type == FT_PRIORITY_UPDATE_PUSH) {
            tool_h3_fail(h, TOOL_H3_ID_ERROR, "PRIORITY_UPDATE of a push never promised");
            return -1;
        }
        if (len > CONTROL_PAYLOAD_MAX) {
            tool_h3_fail(h, TOOL_H3_EXCESSIVE_LOAD, "PRIORITY_UPDATE above 16 KB");
            return -1;
        }
        break;
    default:
        break; /* unknown: streamed past */
    }
    if (type == FT_PRIORITY_UPDATE_REQUEST && len == 0) {
        tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "PRIORITY_UPDATE without an element ID");
        return -1;
    }
    p->cftype = type;
    p->cfleft = len;
    p->cpayload = len > 0;
    p->cpu_named = 0;
    return 0;
}

/* Parses p[0..n) of the peer's control stream (kept partial octets first). */
static void control_parse(tool_h3 *h, const uint8_t *buf, size_t n, int fin)
{
    h3_priv *p = P(h);
    size_t off = 0;

    p->cpart_len = 0;
    while (off < n && !h->failed) {
        size_t avail;
        if (!p->cpayload) {
            uint64_t type, len;
            size_t used = frame_header(buf + off, n - off, &type, &len);
            if (!used)
                break;
            off += used;
            if (control_frame(h, type, len) < 0)
                return;
            continue;
        }
        avail = n - off;
        if (avail > p->cfleft)
            avail = (size_t)p->cfleft;
        if (p->cftype == FT_SETTINGS) {
            uint64_t id, v;
            size_t a = vget(buf + off, avail, &id);
            size_t b = a ? vget(buf + off + a, avail - a, &v) : 0;
            if (!b) {
                if (avail == p->cfleft) {
                    tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "SETTINGS ends inside a varint");
                    return;
                }
                break; /* the rest of the setting comes with the next read */
            }
            if (setting(h, id, v) < 0)
                return;
            avail = a + b;
        } else if (p->cftype == FT_PRIORITY_UPDATE_REQUEST && !p->cpu_named) {
            /* it must name a request stream (RFC 9218 §7.2); the priority value is skipped */
            uint64_t id;
            size_t a = vget(buf + off, avail, &id);
            if (!a) {
                if (avail == p->cfleft) {
                    tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "PRIORITY_UPDATE ends inside a varint");
                    return;
                }
                break; /* the rest of the ID comes with the next read */
            }
            if (id % 4 != 0) {
                tool_h3_fail(h, TOOL_H3_ID_ERROR, "PRIORITY_UPDATE names no request stream");
                return;
            }
            p->cpu_named = 1;
            avail = a;
        } else if (p->cftype == FT_GOAWAY || p->cftype == FT_MAX_PUSH_ID ||
                   p->cftype == FT_CANCEL_PUSH) {
            uint64_t v = 0;
            if (avail < p->cfleft)
                break;
            if (vget(buf + off, avail, &v) != avail) {
                tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "frame of one varint with another length");
                return;
            }
            control_varint(h, p->cftype, v);
            if (h->failed)
                return;
        }
        off += avail;
        p->cfleft -= avail;
        if (p->cfleft == 0)
            p->cpayload = 0;
    }
    if (h->failed)
        return;
    memcpy(p->cpart, buf + off, n - off);
    p->cpart_len = (uint8_t)(n - off);
    if (fin) {
        if (p->cpayload || p->cpart_len)
            tool_h3_fail(h, TOOL_H3_FRAME_ERROR, "control stream ends inside a frame");
        else
            tool_h3_fail(h, TOOL_H3_CLOSED_CRITICAL_STREAM, "peer closed its control stream");
    }
}

/* ---- the peer's unidirectional streams ---- */

enum { UK_NONE, UK_PENDING, UK_CONTROL, UK_ENCODER, UK_DECODER };

/* Bytes of a peer's control or QPACK stream, after its type. */
static void uni_data(tool_h3 *h, int kind, const uint8_t *p, size_t n, int fin)
{
    h3_priv *pv = P(h);

    if (kind == UK_CONTROL) {
        control_parse(h, p, n, fin);
        return;
    }
    if (kind == UK_ENCODER) {
        if (tool_qpack_check_encoder_stream(p, n) < 0) {
            tool_h3_fail(h, TOOL_QPACK_ENCODER_STREAM_ERROR, "encoder stream instruction");
            return;
        }
    } else {
        ssize_t used = tool_qpack_read_decoder_stream(p, n);
        if (used < 0 || n - (size_t)used > sizeof(pv->dpart)) {
            tool_h3_fail(h, TOOL_QPACK_DECODER_STREAM_ERROR, "decoder stream instruction");
            return;
        }
        pv->dpart_len = (uint8_t)(n - (size_t)used);
        memcpy(pv->dpart, p + used, pv->dpart_len);
    }
    if (fin)
        tool_h3_fail(h, TOOL_H3_CLOSED_CRITICAL_STREAM, "peer closed a QPACK stream");
}

/* The type of a peer's unidirectional stream is known: binds it, or refuses it. Returns its
 * kind, or UK_NONE when nothing more of it is to be read. */
static int uni_type(tool_h3 *h, int64_t sid, uint64_t type)
{
    h3_priv *p = P(h);
    int64_t *slot;
    int kind;

    switch (type) {
    case UNI_CONTROL:
        slot = &p->peer_ctrl;
        kind = UK_CONTROL;
        break;
    case UNI_ENCODER:
        slot = &p->peer_enc;
        kind = UK_ENCODER;
        break;
    case UNI_DECODER:
        slot = &p->peer_dec;
        kind = UK_DECODER;
        break;
    case UNI_PUSH:
        if (h->is_server)
            tool_h3_fail(h, TOOL_H3_STREAM_CREATION_ERROR, "push stream from a client");
        else
            tool_h3_fail(h, TOOL_H3_ID_ERROR, "push stream without MAX_PUSH_ID");
        return UK_NONE;
    default:
        /* unknown types are refused and forgotten: tern drops what still arrives */
        tern_stream_stop_sending(h->conn, sid, TOOL_H3_STREAM_CREATION_ERROR);
        return UK_NONE;
    }
    if (*slot >= 0) {
        tool_h3_fail(h, TOOL_H3_STREAM_CREATION_ERROR, "second control or QPACK stream");
        return UK_NONE;
    }
    *slot = sid;
    return kind;
}

void h3i_uni_read(tool_h3 *h, int64_t sid, uint8_t *buf, size_t cap)
{
    h3_priv *p = P(h);

    while (!h->failed) {
        int kind = sid == p->peer_ctrl  ? UK_CONTROL
                   : sid == p->peer_enc ? UK_ENCODER
                   : sid == p->peer_dec ? UK_DECODER
                                        : UK_NONE;
        uni_pending *up = NULL;
        uint8_t *part = NULL;
        size_t pre = 0;
        int fin = 0;
        ssize_t n;

        if (kind == UK_CONTROL) {
            part = p->cpart;
            pre = p->cpart_len;
        } else if (kind == UK_DECODER) {
            part = p->dpart;
            pre = p->dpart_len;
        } else if (kind == UK_NONE) {
            up = (uni_pending *)tool_sidmap_get(&p->streams, sid);
            if (up) {
                kind = UK_PENDING;
                part = up->part;
                pre = up->part_len;
            }
        }
        n = tern_stream_read(h->conn, sid, buf + pre, cap - pre, &fin);
        if (n < 0)
            return; /* nothing now; or reset (on_reset), stopped, gone */
        if (pre)
            memcpy(buf, part, pre);
        n += (ssize_t)pre;
        if (kind == UK_NONE || kind == UK_PENDING) {
            uint64_t type;
            size_t used = vget(buf, (size_t)n, &type);
            if (!used) {
                int created;
                if (fin) {
                    /* ended before its type: nothing to refuse */
                    if (up) {
                        h3i_remove_record(h, &up->node);
                        free(up);
                    }
                    return;
                }
                if (!up)
                    up = (uni_pending *)tool_sidmap_add(&p->streams, sid, sizeof(*up), &created);
                if (!up) {
                    tern_stream_stop_sending(h->conn, sid, TOOL_H3_INTERNAL_ERROR);
                    return;
                }
                memcpy(up->part, buf, (size_t)n);
                up->part_len = (uint8_t)n;
                continue;
            }
            if (up) {
                h3i_remove_record(h, &up->node);
                free(up);
            }
            kind = uni_type(h, sid, type);
            if (kind == UK_NONE)
                return;
            uni_data(h, kind, buf + used, (size_t)n - used, fin);
        } else {
            uni_data(h, kind, buf, (size_t)n, fin);
        }
        if (fin)
            return;
    }
}
