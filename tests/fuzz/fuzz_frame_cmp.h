/* The frame fuzzers' check that a frame parsed, written back and parsed again is the frame it was:
 * every field of each type (the input may use longer varint encodings than the writer). Shared by
 * the RFC 9000 frame target and the multipath one, whose PATH_ACK and PATH_NEW_CONNECTION_ID
 * carry an ACK and a NEW_CONNECTION_ID body. */
#ifndef TERN_FUZZ_FRAME_CMP_H
#define TERN_FUZZ_FRAME_CMP_H

#include <stdlib.h>
#include <string.h>

#include "frame.h"

#ifndef CHECK
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)
#endif

/* Ranges an ACK frame may have for the fuzzers to write it back (more: it is not re-encoded). */
#define FUZZ_MAX_RANGES 4096

/* Collects the ranges of ACK frame `f` into r[0..FUZZ_MAX_RANGES), descending, checking that the
 * parser gave them well formed (each lo <= hi, a gap of at least one packet number between two,
 * Range Count + 1 of them). Returns their number, or 0 when there are more than FUZZ_MAX_RANGES. */
static inline size_t fuzz_ack_ranges(const tern_frame *f, tern_pn_range *r)
{
    tern_ack_iter it;
    size_t k = 0;
    uint64_t lo, hi;
    tern_ack_iter_init(&it, f);
    while (tern_ack_iter_next(&it, &lo, &hi)) {
        if (k == FUZZ_MAX_RANGES)
            return 0;
        CHECK(lo <= hi);
        if (k)
            CHECK(hi + 2 <= r[k - 1].lo);
        r[k].lo = lo;
        r[k].hi = hi;
        k++;
    }
    CHECK(k == f->u.ack.range_count + 1);
    return k;
}

static inline int bytes_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static inline void fuzz_frame_compare(const tern_frame *a, const tern_frame *b)
{
    uint64_t t = a->type;
    if (t >= 0x08 && t <= 0x0f) {
        /* An explicit zero offset is written back without the OFF bit. */
        CHECK((a->type | 0x04) == (b->type | 0x04));
        CHECK(a->u.stream.offset != 0 || b->type == (a->type & ~0x04ull));
        CHECK(a->u.stream.stream_id == b->u.stream.stream_id);
        CHECK(a->u.stream.offset == b->u.stream.offset);
        CHECK(a->u.stream.len == b->u.stream.len);
        CHECK(a->u.stream.fin == b->u.stream.fin);
        CHECK(bytes_eq(a->u.stream.data, b->u.stream.data, a->u.stream.len));
        return;
    }
    CHECK(a->type == b->type);
    switch (t) {
    case TERN_FT_ACK:
    case TERN_FT_ACK_ECN: {
        CHECK(a->u.ack.largest == b->u.ack.largest && a->u.ack.delay == b->u.ack.delay);
        CHECK(a->u.ack.range_count == b->u.ack.range_count);
        CHECK(a->u.ack.first_range == b->u.ack.first_range);
        CHECK(a->u.ack.ecn == b->u.ack.ecn);
        CHECK(a->u.ack.ect0 == b->u.ack.ect0 && a->u.ack.ect1 == b->u.ack.ect1 &&
              a->u.ack.ce == b->u.ack.ce);
        tern_ack_iter ia, ib;
        uint64_t la, ha, lb, hb;
        tern_ack_iter_init(&ia, a);
        tern_ack_iter_init(&ib, b);
        for (;;) {
            int ra = tern_ack_iter_next(&ia, &la, &ha), rb = tern_ack_iter_next(&ib, &lb, &hb);
            CHECK(ra == rb);
            if (!ra)
                break;
            CHECK(la == lb && ha == hb);
        }
        break;
    }
    case TERN_FT_RESET_STREAM:
        CHECK(!memcmp(&a->u.reset_stream, &b->u.reset_stream, sizeof(a->u.reset_stream)));
        break;
    case TERN_FT_STOP_SENDING:
        CHECK(!memcmp(&a->u.stop_sending, &b->u.stop_sending, sizeof(a->u.stop_sending)));
        break;
    case TERN_FT_CRYPTO:
        CHECK(a->u.crypto.offset == b->u.crypto.offset && a->u.crypto.len == b->u.crypto.len);
        CHECK(bytes_eq(a->u.crypto.data, b->u.crypto.data, a->u.crypto.len));
        break;
    case TERN_FT_NEW_TOKEN:
        CHECK(a->u.new_token.len == b->u.new_token.len);
        CHECK(bytes_eq(a->u.new_token.token, b->u.new_token.token, a->u.new_token.len));
        break;
    case TERN_FT_MAX_DATA:
    case TERN_FT_DATA_BLOCKED:
        CHECK(a->u.max_data.max == b->u.max_data.max);
        break;
    case TERN_FT_MAX_STREAM_DATA:
    case TERN_FT_STREAM_DATA_BLOCKED:
        CHECK(a->u.max_stream_data.stream_id == b->u.max_stream_data.stream_id);
        CHECK(a->u.max_stream_data.max == b->u.max_stream_data.max);
        break;
    case TERN_FT_MAX_STREAMS_BIDI:
    case TERN_FT_MAX_STREAMS_UNI:
    case TERN_FT_STREAMS_BLOCKED_BIDI:
    case TERN_FT_STREAMS_BLOCKED_UNI:
        CHECK(a->u.max_streams.max == b->u.max_streams.max);
        CHECK(a->u.max_streams.bidi == b->u.max_streams.bidi);
        CHECK(a->u.max_streams.max <= (1ull << 60));
        break;
    case TERN_FT_NEW_CONNECTION_ID:
        CHECK(a->u.new_cid.seq == b->u.new_cid.seq);
        CHECK(a->u.new_cid.retire_prior_to == b->u.new_cid.retire_prior_to);
        CHECK(tern_cid_eq(&a->u.new_cid.cid, &b->u.new_cid.cid));
        CHECK(!memcmp(a->u.new_cid.token, b->u.new_cid.token, TERN_RESET_TOKEN_LEN));
        break;
    case TERN_FT_RETIRE_CONNECTION_ID:
        CHECK(a->u.retire_cid.seq == b->u.retire_cid.seq);
        break;
    case TERN_FT_ACK_FREQUENCY:
        CHECK(a->u.ack_freq.seq == b->u.ack_freq.seq);
        CHECK(a->u.ack_freq.threshold == b->u.ack_freq.threshold);
        CHECK(a->u.ack_freq.max_ack_delay_us == b->u.ack_freq.max_ack_delay_us);
        CHECK(a->u.ack_freq.reorder == b->u.ack_freq.reorder);
        break;
    case TERN_FT_DATAGRAM:
    case TERN_FT_DATAGRAM_LEN:
        CHECK(a->u.datagram.len == b->u.datagram.len);
        CHECK(bytes_eq(a->u.datagram.data, b->u.datagram.data, a->u.datagram.len));
        break;
    case TERN_FT_PATH_CHALLENGE:
    case TERN_FT_PATH_RESPONSE:
        CHECK(!memcmp(a->u.path.data, b->u.path.data, 8));
        break;
    case TERN_FT_CONNECTION_CLOSE:
    case TERN_FT_CONNECTION_CLOSE_APP:
        CHECK(a->u.close.app == b->u.close.app && a->u.close.error_code == b->u.close.error_code);
        CHECK(a->u.close.frame_type == b->u.close.frame_type);
        CHECK(a->u.close.reason_len == b->u.close.reason_len);
        CHECK(bytes_eq(a->u.close.reason, b->u.close.reason, a->u.close.reason_len));
        break;
    default:
        break;
    }
}

#endif
