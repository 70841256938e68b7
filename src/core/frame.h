/* Frame codecs (RFC 9000 §19): every frame type parsed into tern_frame (no copy: data fields point
 * into the packet) and written by small writers. The rules of which frame may appear in which packet
 * type (§12.4, Table 3) are here too. */
#ifndef TERN_CORE_FRAME_H
#define TERN_CORE_FRAME_H

#include "common.h"

enum tern_frame_type {
    TERN_FT_PADDING = 0x00,
    TERN_FT_PING = 0x01,
    TERN_FT_ACK = 0x02,
    TERN_FT_ACK_ECN = 0x03,
    TERN_FT_RESET_STREAM = 0x04,
    TERN_FT_STOP_SENDING = 0x05,
    TERN_FT_CRYPTO = 0x06,
    TERN_FT_NEW_TOKEN = 0x07,
    TERN_FT_STREAM = 0x08, /* 0x08..0x0f: bits OFF=0x04 LEN=0x02 FIN=0x01 */
    TERN_FT_MAX_DATA = 0x10,
    TERN_FT_MAX_STREAM_DATA = 0x11,
    TERN_FT_MAX_STREAMS_BIDI = 0x12,
    TERN_FT_MAX_STREAMS_UNI = 0x13,
    TERN_FT_DATA_BLOCKED = 0x14,
    TERN_FT_STREAM_DATA_BLOCKED = 0x15,
    TERN_FT_STREAMS_BLOCKED_BIDI = 0x16,
    TERN_FT_STREAMS_BLOCKED_UNI = 0x17,
    TERN_FT_NEW_CONNECTION_ID = 0x18,
    TERN_FT_RETIRE_CONNECTION_ID = 0x19,
    TERN_FT_PATH_CHALLENGE = 0x1a,
    TERN_FT_PATH_RESPONSE = 0x1b,
    TERN_FT_CONNECTION_CLOSE = 0x1c,
    TERN_FT_CONNECTION_CLOSE_APP = 0x1d,
    TERN_FT_HANDSHAKE_DONE = 0x1e,
    TERN_FT_IMMEDIATE_ACK = 0x1f, /* draft-ietf-quic-ack-frequency §5 */
    TERN_FT_DATAGRAM = 0x30,     /* RFC 9221: runs to the end of the packet */
    TERN_FT_DATAGRAM_LEN = 0x31, /* RFC 9221: with a Length field */
    TERN_FT_ACK_FREQUENCY = 0xaf, /* draft-ietf-quic-ack-frequency §4 */
};

typedef struct tern_frame {
    uint64_t type; /* the wire type; STREAM frames keep their 0x08..0x0f value */
    union {
        struct {
            uint64_t largest, delay, range_count, first_range;
            const uint8_t *ranges; /* range_count (gap, len) varint pairs, validated by parse */
            size_t ranges_len;
            int ecn;
            uint64_t ect0, ect1, ce;
        } ack;
        struct { uint64_t stream_id, app_error, final_size; } reset_stream;
        struct { uint64_t stream_id, app_error; } stop_sending;
        struct { uint64_t offset; const uint8_t *data; size_t len; } crypto;
        struct { const uint8_t *data; size_t len; } datagram;
        struct { const uint8_t *token; size_t len; } new_token;
        struct { uint64_t stream_id, offset; const uint8_t *data; size_t len; int fin; } stream;
        struct { uint64_t max; } max_data;            /* also DATA_BLOCKED (limit) */
        struct { uint64_t stream_id, max; } max_stream_data; /* also STREAM_DATA_BLOCKED */
        struct { uint64_t max; int bidi; } max_streams; /* also STREAMS_BLOCKED */
        struct {
            uint64_t seq, retire_prior_to;
            tern_cid cid;
            uint8_t token[TERN_RESET_TOKEN_LEN];
        } new_cid;
        struct { uint64_t seq; } retire_cid;
        /* ACK_FREQUENCY; max_ack_delay in microseconds */
        struct { uint64_t seq, threshold, max_ack_delay_us, reorder; } ack_freq;
        struct { uint8_t data[8]; } path; /* PATH_CHALLENGE / PATH_RESPONSE */
        struct {
            uint64_t error_code, frame_type; /* frame_type only for transport closes */
            const uint8_t *reason;
            size_t reason_len;
            int app;
        } close;
    } u;
} tern_frame;

/* Parses one frame at *p (advancing it). Returns 0, or TERN_ERR_PROTO with *terr set to the
 * transport error to close with: FRAME_ENCODING_ERROR for truncation, bad values, unknown types,
 * non-minimal frame type encodings are accepted as RFC 9000 allows. STREAM offset+len beyond 2^62-1
 * is FRAME_ENCODING_ERROR (§19.8), as are CRYPTO beyond 2^62-1, an empty NEW_TOKEN, MAX_STREAMS or
 * STREAMS_BLOCKED above 2^60, NEW_CONNECTION_ID with a CID length outside 1..20 or retire_prior_to
 * > seq, and ACK ranges reaching below packet number 0. A PADDING run is consumed whole as one
 * frame. DATAGRAM frames are parsed whether or not the extension was negotiated: refusing one
 * (RFC 9221 §3) is the connection's business; so are ACK_FREQUENCY and IMMEDIATE_ACK
 * (draft-ietf-quic-ack-frequency), whose values are checked against the connection's
 * min_ack_delay there. On error *p is left unchanged. */
int tern_frame_parse(const uint8_t **p, const uint8_t *end, tern_frame *f, uint64_t *terr);

/* Iterates the ACK frame's ranges from the largest downwards: the first call yields
 * [largest - first_range, largest]. Returns 1 with *lo and *hi set, 0 when done. Parsing already
 * validated that no range goes below 0. */
typedef struct tern_ack_iter {
    const tern_frame *f;
    const uint8_t *p;
    uint64_t prev_lo; /* lo of the previous range: the next hi is prev_lo - gap - 2 */
    uint64_t idx;
} tern_ack_iter;
void tern_ack_iter_init(tern_ack_iter *it, const tern_frame *f);
int tern_ack_iter_next(tern_ack_iter *it, uint64_t *lo, uint64_t *hi);

/* The bodies (what follows the type) of ACK and NEW_CONNECTION_ID, for the frames of extensions
 * that carry the same fields after fields of their own (multipath's PATH_ACK and
 * PATH_NEW_CONNECTION_ID, mpframe.h). Same checks as tern_frame_parse; `ecn` says whether ECN
 * counts follow. Return 0 with *p advanced, or -1 (malformed) with *p unchanged. */
int tern_frame_parse_ack_body(const uint8_t **p, const uint8_t *end, int ecn, tern_frame *f);
int tern_frame_parse_new_cid_body(const uint8_t **p, const uint8_t *end, tern_frame *f);

/* 1 when a frame of `type` may appear in a packet of `pkt_type` (enum tern_pkt_type), RFC 9000
 * Table 3. */
int tern_frame_allowed(uint64_t type, int pkt_type);

/* 1 when the frame type elicits an ACK (anything but ACK, PADDING, CONNECTION_CLOSE). */
int tern_frame_is_ack_eliciting(uint64_t type);

/* 1 when the frame type is a probing frame (PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID,
 * PADDING), RFC 9000 §9.1. */
int tern_frame_is_probing(uint64_t type);

/* ---- writers: each returns the bytes written, or 0 when `cap` is too small (nothing written). ---- */
size_t tern_frame_write_padding(uint8_t *p, size_t cap, size_t n);
size_t tern_frame_write_ping(uint8_t *p, size_t cap);
/* ACK from ranges sorted descending (ranges[0].hi is the largest), n >= 1. Writes as many ranges as
 * fit in cap (at least the first one). `ecn` may be NULL (ACK) or point to 3 counters (ACK_ECN).
 * `ack_delay` is the already scaled wire value. A range that overlaps or touches the one before it
 * ends the list there (only well-separated ranges are encodable). */
typedef struct tern_pn_range { uint64_t lo, hi; } tern_pn_range; /* inclusive */
size_t tern_frame_write_ack(uint8_t *p, size_t cap, const tern_pn_range *ranges, size_t n,
                            uint64_t ack_delay, const uint64_t *ecn);
/* The same with the `prefix_len` bytes of `prefix` (an already encoded frame type and fields of
 * an extension's frame) in place of the ACK type byte. */
size_t tern_frame_write_ack_prefixed(uint8_t *p, size_t cap, const uint8_t *prefix,
                                     size_t prefix_len, const tern_pn_range *ranges, size_t n,
                                     uint64_t ack_delay, const uint64_t *ecn);
size_t tern_frame_write_reset_stream(uint8_t *p, size_t cap, uint64_t sid, uint64_t err, uint64_t final_size);
size_t tern_frame_write_stop_sending(uint8_t *p, size_t cap, uint64_t sid, uint64_t err);
/* CRYPTO header only (type, offset, length); the caller copies `len` bytes right after. */
size_t tern_frame_write_crypto_hdr(uint8_t *p, size_t cap, uint64_t offset, size_t len);
size_t tern_frame_write_new_token(uint8_t *p, size_t cap, const uint8_t *token, size_t len);
/* STREAM header only; with `has_len` = 0 the frame runs to the end of the packet. The caller copies
 * `len` bytes right after. */
size_t tern_frame_write_stream_hdr(uint8_t *p, size_t cap, uint64_t sid, uint64_t offset, size_t len,
                                   int fin, int has_len);
/* Size of a STREAM header for these values (used to decide how much data fits). */
size_t tern_frame_stream_hdr_len(uint64_t sid, uint64_t offset, size_t len, int has_len);
size_t tern_frame_write_max_data(uint8_t *p, size_t cap, uint64_t max);
size_t tern_frame_write_max_stream_data(uint8_t *p, size_t cap, uint64_t sid, uint64_t max);
size_t tern_frame_write_max_streams(uint8_t *p, size_t cap, int bidi, uint64_t max);
size_t tern_frame_write_data_blocked(uint8_t *p, size_t cap, uint64_t limit);
size_t tern_frame_write_stream_data_blocked(uint8_t *p, size_t cap, uint64_t sid, uint64_t limit);
size_t tern_frame_write_streams_blocked(uint8_t *p, size_t cap, int bidi, uint64_t limit);
size_t tern_frame_write_new_cid(uint8_t *p, size_t cap, uint64_t seq, uint64_t retire_prior_to,
                                const tern_cid *cid, const uint8_t token[TERN_RESET_TOKEN_LEN]);
/* NEW_CONNECTION_ID's fields after `prefix` (see tern_frame_write_ack_prefixed). */
size_t tern_frame_write_new_cid_prefixed(uint8_t *p, size_t cap, const uint8_t *prefix,
                                         size_t prefix_len, uint64_t seq,
                                         uint64_t retire_prior_to, const tern_cid *cid,
                                         const uint8_t token[TERN_RESET_TOKEN_LEN]);
size_t tern_frame_write_retire_cid(uint8_t *p, size_t cap, uint64_t seq);
size_t tern_frame_write_path_challenge(uint8_t *p, size_t cap, const uint8_t data[8]);
size_t tern_frame_write_path_response(uint8_t *p, size_t cap, const uint8_t data[8]);
/* CONNECTION_CLOSE: app != 0 writes type 0x1d (no frame_type field). The reason is truncated to
 * fit `cap`. */
size_t tern_frame_write_close(uint8_t *p, size_t cap, int app, uint64_t err, uint64_t frame_type,
                              const char *reason, size_t reason_len);
size_t tern_frame_write_handshake_done(uint8_t *p, size_t cap);
/* ACK_FREQUENCY (draft-ietf-quic-ack-frequency §4): sequence number, Ack-Eliciting Threshold,
 * Requested Max Ack Delay (microseconds), Reordering Threshold. 0 also when a value is not
 * encodable. */
size_t tern_frame_write_ack_frequency(uint8_t *p, size_t cap, uint64_t seq, uint64_t threshold,
                                      uint64_t max_ack_delay_us, uint64_t reorder);
/* IMMEDIATE_ACK (draft-ietf-quic-ack-frequency §5): one byte. */
size_t tern_frame_write_immediate_ack(uint8_t *p, size_t cap);
/* DATAGRAM (RFC 9221 §4) with its payload copied in: type 0x31 with a Length field, or with
 * `has_len` = 0 type 0x30, which runs to the end of the packet (the caller writes nothing after
 * it). */
size_t tern_frame_write_datagram(uint8_t *p, size_t cap, const uint8_t *data, size_t len,
                                 int has_len);
/* Bytes a DATAGRAM frame with a Length field takes for `len` payload bytes (0: not encodable). */
size_t tern_frame_datagram_len(size_t len);
/* The largest payload of a DATAGRAM frame with a Length field that takes at most `frame` bytes
 * (0 also when not even an empty one fits: 2 bytes). */
uint64_t tern_frame_datagram_max_payload(uint64_t frame);

#endif
