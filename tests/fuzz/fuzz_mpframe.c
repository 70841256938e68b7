/* libFuzzer target for the multipath frame parser (mpframe.c): every multipath frame that parses
 * is written again with the writers and parsed back, and must decode to the same values in no
 * more bytes; a refused one leaves the input where it was, with FRAME_ENCODING_ERROR. Bytes that
 * are not a multipath frame go to tern_frame_parse, so mixed packets keep being walked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz_entry.h"
#include "fuzz_frame_cmp.h"
#include "mpframe.h"
#include "packet.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static tern_pn_range ranges[FUZZ_MAX_RANGES];
static uint8_t out[1 << 16];

static size_t reencode(const tern_mp_frame *f)
{
    size_t cap = sizeof(out);
    switch (f->type) {
    case TERN_FT_PATH_ACK:
    case TERN_FT_PATH_ACK_ECN: {
        size_t k = fuzz_ack_ranges(&f->u.ack, ranges);
        if (!k)
            return 0;
        const tern_frame *a = &f->u.ack;
        uint64_t ecn[3] = {a->u.ack.ect0, a->u.ack.ect1, a->u.ack.ce};
        return tern_mpframe_write_path_ack(out, cap, f->path_id, ranges, k, a->u.ack.delay,
                                           a->u.ack.ecn ? ecn : NULL);
    }
    case TERN_FT_PATH_ABANDON:
        return tern_mpframe_write_path_abandon(out, cap, f->path_id, f->u.abandon.error_code);
    case TERN_FT_PATH_STATUS_BACKUP:
    case TERN_FT_PATH_STATUS_AVAILABLE:
        return tern_mpframe_write_path_status(out, cap, f->type == TERN_FT_PATH_STATUS_AVAILABLE,
                                              f->path_id, f->u.status.seq);
    case TERN_FT_PATH_NEW_CONNECTION_ID:
        return tern_mpframe_write_path_new_cid(
            out, cap, f->path_id, f->u.new_cid.u.new_cid.seq,
            f->u.new_cid.u.new_cid.retire_prior_to, &f->u.new_cid.u.new_cid.cid,
            f->u.new_cid.u.new_cid.token);
    case TERN_FT_PATH_RETIRE_CONNECTION_ID:
        return tern_mpframe_write_path_retire_cid(out, cap, f->path_id, f->u.retire_cid.seq);
    case TERN_FT_MAX_PATH_ID:
        return tern_mpframe_write_max_path_id(out, cap, f->path_id);
    case TERN_FT_PATHS_BLOCKED:
        return tern_mpframe_write_paths_blocked(out, cap, f->path_id);
    case TERN_FT_PATH_CIDS_BLOCKED:
        return tern_mpframe_write_path_cids_blocked(out, cap, f->path_id,
                                                    f->u.cids_blocked.next_seq);
    }
    abort(); /* the parser accepted a type the writers do not know */
}

static void compare(const tern_mp_frame *a, const tern_mp_frame *b)
{
    CHECK(a->type == b->type && a->path_id == b->path_id);
    CHECK(a->path_id <= TERN_MP_PATH_ID_MAX);
    switch (a->type) {
    case TERN_FT_PATH_ACK:
    case TERN_FT_PATH_ACK_ECN:
        fuzz_frame_compare(&a->u.ack, &b->u.ack);
        break;
    case TERN_FT_PATH_ABANDON:
        CHECK(a->u.abandon.error_code == b->u.abandon.error_code);
        break;
    case TERN_FT_PATH_STATUS_BACKUP:
    case TERN_FT_PATH_STATUS_AVAILABLE:
        CHECK(a->u.status.seq == b->u.status.seq);
        break;
    case TERN_FT_PATH_NEW_CONNECTION_ID:
        fuzz_frame_compare(&a->u.new_cid, &b->u.new_cid);
        break;
    case TERN_FT_PATH_RETIRE_CONNECTION_ID:
        CHECK(a->u.retire_cid.seq == b->u.retire_cid.seq);
        break;
    case TERN_FT_PATH_CIDS_BLOCKED:
        CHECK(a->u.cids_blocked.next_seq == b->u.cids_blocked.next_seq);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *start = p;
        tern_mp_frame f, g;
        uint64_t terr = 0;
        int rc = tern_mpframe_parse(&p, end, &f, &terr);
        if (rc == 1) {
            /* not ours: the RFC 9000 parser walks on, or the packet ends here */
            tern_frame h;
            CHECK(p == start);
            if (tern_frame_parse(&p, end, &h, &terr) != 0)
                break;
            continue;
        }
        if (rc != 0) {
            CHECK(rc == TERN_ERR_PROTO && p == start && terr == TERN_TE_FRAME_ENCODING_ERROR);
            break;
        }
        CHECK(p > start && p <= end);
        CHECK(tern_mpframe_is_mp(f.type));
        CHECK(tern_mpframe_allowed(f.type, TERN_PKT_1RTT));
        CHECK(!tern_mpframe_allowed(f.type, TERN_PKT_0RTT));
        size_t n = reencode(&f);
        if (n == 0 && (f.type == TERN_FT_PATH_ACK || f.type == TERN_FT_PATH_ACK_ECN) &&
            f.u.ack.u.ack.range_count >= FUZZ_MAX_RANGES)
            continue;
        CHECK(n > 0);
        const uint8_t *q = out;
        CHECK(tern_mpframe_parse(&q, out + n, &g, &terr) == 0);
        CHECK(q == out + n);
        compare(&f, &g);
        /* the writers use minimal encodings, so they never grow a frame */
        CHECK(n <= (size_t)(p - start));
    }
    return 0;
}
