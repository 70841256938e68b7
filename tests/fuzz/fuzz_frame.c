/* libFuzzer target for the frame parser: every frame that parses is written again with the
 * writers and parsed back; any difference in the decoded values aborts. The same bytes as a
 * packet payload go through qlog's frame formatter, in a roomy and in a tight buffer: the JSON
 * must stay well formed (a peer chooses these bytes, reason phrases included). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz_entry.h"
#include "fuzz_frame_cmp.h"
#include "packet.h"
#include "qlog.h"
#include "varint.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static tern_pn_range ranges[FUZZ_MAX_RANGES];
static uint8_t out[1 << 17];

/* Re-encodes f into out; returns the length, or 0 when the frame cannot be re-encoded here. */
static size_t reencode(const tern_frame *f, size_t consumed)
{
    size_t cap = sizeof(out), n = 0, h;
    uint64_t t = f->type;

    if (t >= 0x08 && t <= 0x0f) {
        h = tern_frame_write_stream_hdr(out, cap, f->u.stream.stream_id, f->u.stream.offset,
                                        f->u.stream.len, f->u.stream.fin, (t & 0x02) != 0);
        CHECK(h > 0 && h + f->u.stream.len <= cap);
        CHECK(h == tern_frame_stream_hdr_len(f->u.stream.stream_id, f->u.stream.offset,
                                             f->u.stream.len, (t & 0x02) != 0));
        memcpy(out + h, f->u.stream.data, f->u.stream.len);
        return h + f->u.stream.len;
    }
    switch (t) {
    case TERN_FT_PADDING:
        return tern_frame_write_padding(out, cap, consumed);
    case TERN_FT_PING:
        return tern_frame_write_ping(out, cap);
    case TERN_FT_HANDSHAKE_DONE:
        return tern_frame_write_handshake_done(out, cap);
    case TERN_FT_IMMEDIATE_ACK:
        return tern_frame_write_immediate_ack(out, cap);
    case TERN_FT_ACK_FREQUENCY:
        n = tern_frame_write_ack_frequency(out, cap, f->u.ack_freq.seq, f->u.ack_freq.threshold,
                                           f->u.ack_freq.max_ack_delay_us, f->u.ack_freq.reorder);
        CHECK(n > 0);
        return n;
    case TERN_FT_ACK:
    case TERN_FT_ACK_ECN: {
        size_t k = fuzz_ack_ranges(f, ranges);
        if (!k)
            return 0;
        uint64_t ecn[3] = {f->u.ack.ect0, f->u.ack.ect1, f->u.ack.ce};
        n = tern_frame_write_ack(out, cap, ranges, k, f->u.ack.delay, f->u.ack.ecn ? ecn : NULL);
        CHECK(n > 0);
        return n;
    }
    case TERN_FT_RESET_STREAM:
        return tern_frame_write_reset_stream(out, cap, f->u.reset_stream.stream_id,
                                             f->u.reset_stream.app_error,
                                             f->u.reset_stream.final_size);
    case TERN_FT_STOP_SENDING:
        return tern_frame_write_stop_sending(out, cap, f->u.stop_sending.stream_id,
                                             f->u.stop_sending.app_error);
    case TERN_FT_CRYPTO:
        h = tern_frame_write_crypto_hdr(out, cap, f->u.crypto.offset, f->u.crypto.len);
        CHECK(h > 0 && h + f->u.crypto.len <= cap);
        memcpy(out + h, f->u.crypto.data, f->u.crypto.len);
        return h + f->u.crypto.len;
    case TERN_FT_NEW_TOKEN:
        return tern_frame_write_new_token(out, cap, f->u.new_token.token, f->u.new_token.len);
    case TERN_FT_MAX_DATA:
        return tern_frame_write_max_data(out, cap, f->u.max_data.max);
    case TERN_FT_DATA_BLOCKED:
        return tern_frame_write_data_blocked(out, cap, f->u.max_data.max);
    case TERN_FT_MAX_STREAM_DATA:
        return tern_frame_write_max_stream_data(out, cap, f->u.max_stream_data.stream_id,
                                                f->u.max_stream_data.max);
    case TERN_FT_STREAM_DATA_BLOCKED:
        return tern_frame_write_stream_data_blocked(out, cap, f->u.max_stream_data.stream_id,
                                                    f->u.max_stream_data.max);
    case TERN_FT_MAX_STREAMS_BIDI:
    case TERN_FT_MAX_STREAMS_UNI:
        return tern_frame_write_max_streams(out, cap, f->u.max_streams.bidi, f->u.max_streams.max);
    case TERN_FT_STREAMS_BLOCKED_BIDI:
    case TERN_FT_STREAMS_BLOCKED_UNI:
        return tern_frame_write_streams_blocked(out, cap, f->u.max_streams.bidi,
                                                f->u.max_streams.max);
    case TERN_FT_NEW_CONNECTION_ID:
        return tern_frame_write_new_cid(out, cap, f->u.new_cid.seq, f->u.new_cid.retire_prior_to,
                                        &f->u.new_cid.cid, f->u.new_cid.token);
    case TERN_FT_RETIRE_CONNECTION_ID:
        return tern_frame_write_retire_cid(out, cap, f->u.retire_cid.seq);
    case TERN_FT_PATH_CHALLENGE:
        return tern_frame_write_path_challenge(out, cap, f->u.path.data);
    case TERN_FT_PATH_RESPONSE:
        return tern_frame_write_path_response(out, cap, f->u.path.data);
    case TERN_FT_CONNECTION_CLOSE:
    case TERN_FT_CONNECTION_CLOSE_APP:
        return tern_frame_write_close(out, cap, f->u.close.app, f->u.close.error_code,
                                      f->u.close.frame_type, (const char *)f->u.close.reason,
                                      f->u.close.reason_len);
    case TERN_FT_DATAGRAM:
    case TERN_FT_DATAGRAM_LEN:
        n = tern_frame_write_datagram(out, cap, f->u.datagram.data, f->u.datagram.len,
                                      t == TERN_FT_DATAGRAM_LEN);
        CHECK(n > 0);
        CHECK(t == TERN_FT_DATAGRAM || n == tern_frame_datagram_len(f->u.datagram.len));
        return n;
    }
    abort(); /* the parser accepted a type the writers do not know */
}

/* The JSON of an array of objects: brackets and braces balance outside strings, no raw control
 * character, escapes well formed, and nothing after the closing bracket. */
static void check_json(const char *j, size_t n)
{
    int depth = 0, in_str = 0;
    CHECK(n >= 2 && j[0] == '[' && j[n - 1] == ']');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)j[i];
        CHECK(ch >= 0x20);
        if (in_str) {
            if (ch == '\\') {
                CHECK(i + 1 < n);
                char e = j[++i];
                if (e == 'u') {
                    CHECK(i + 4 < n);
                    i += 4;
                } else {
                    CHECK(strchr("\"\\/bfnrt", e) != NULL);
                }
            } else if (ch == '"') {
                in_str = 0;
            }
            continue;
        }
        if (ch == '"')
            in_str = 1;
        else if (ch == '[' || ch == '{')
            depth++;
        else if (ch == ']' || ch == '}')
            CHECK(--depth >= 0 && (depth > 0 || i == n - 1));
    }
    CHECK(!in_str && depth == 0);
}

static char json[TERN_QLOG_RECORD_MAX];

static void qlog_frames(const uint8_t *data, size_t size, size_t cap)
{
    tern_qlog_w w;
    tern_qlog_w_init(&w, json, cap);
    (void)tern_qlog_w_frames(&w, data, size, data[0] & 31);
    CHECK(w.n < cap);
    check_json(json, w.n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size) {
        qlog_frames(data, size, sizeof(json));
        qlog_frames(data, size, 200);
    }
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *start = p;
        tern_frame f, g;
        uint64_t terr = 0;
        if (tern_frame_parse(&p, end, &f, &terr) != 0) {
            CHECK(p == start && terr == TERN_TE_FRAME_ENCODING_ERROR);
            break;
        }
        CHECK(p > start && p <= end);
        for (int pt = 0; pt <= TERN_PKT_VN; pt++)
            (void)tern_frame_allowed(f.type, pt);
        (void)tern_frame_is_ack_eliciting(f.type);
        (void)tern_frame_is_probing(f.type);

        size_t n = reencode(&f, (size_t)(p - start));
        CHECK(n > 0 && n <= sizeof(out));
        const uint8_t *q = out;
        CHECK(tern_frame_parse(&q, out + n, &g, &terr) == 0);
        CHECK(q == out + n);
        fuzz_frame_compare(&f, &g);
        /* Our writers use minimal encodings, so they never grow a frame. */
        CHECK(n <= (size_t)(p - start));
    }
    return 0;
}
