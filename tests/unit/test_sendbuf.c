/* The stream send ring: wrapping, writes in place, acknowledgements out of order, losses, FIN
 * alone, the room limit, many gaps, and the ring given back once drained. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stream.h"

static void fill_pattern(uint8_t *p, size_t len, uint64_t base)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((base + i) * 131 + ((base + i) >> 8));
}

/* ---- send buffer ----------------------------------------------------------------------------- */

static void test_sendbuf_wrap(void **st)
{
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 8192);
    uint8_t src[8192], out[8192];
    fill_pattern(src, sizeof(src), 0);

    assert_int_equal(tern_sendbuf_write(&sb, src, 4096, 0), 4096);
    assert_int_equal(sb.cap, 4096);
    uint64_t off;
    size_t len;
    int fin, is_new;
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 5000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 0);
    assert_int_equal(len, 4096);
    assert_int_equal(fin, 0);
    assert_int_equal(is_new, 1);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    tern_sendbuf_on_acked(&sb, 0, 3000, 0);
    assert_int_equal(sb.base, 3000);

    /* 1096 unacked + 2000 new fit in the 4096 ring without growing: the write wraps. */
    assert_int_equal(tern_sendbuf_write(&sb, src + 4096, 2000, 0), 2000);
    assert_int_equal(sb.cap, 4096);
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 5000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 4096);
    assert_int_equal(len, 2000);
    tern_sendbuf_copy(&sb, off, len, out);
    assert_memory_equal(out, src + 4096, 2000);
    tern_sendbuf_copy(&sb, 3500, 2500, out); /* across the wrap point */
    assert_memory_equal(out, src + 3500, 2500);
    /* the same bytes where they lie: the end of the ring, then its start */
    const uint8_t *first, *second;
    size_t first_len;
    assert_int_equal(tern_sendbuf_peek(&sb, 3500, 2500, &first, &first_len, &second), 2);
    assert_ptr_equal(first, sb.buf + 3500);
    assert_int_equal(first_len, 596);
    assert_ptr_equal(second, sb.buf);
    assert_memory_equal(first, src + 3500, 596);
    assert_memory_equal(second, src + 4096, 2500 - 596);
    assert_int_equal(tern_sendbuf_peek(&sb, 3100, 100, &first, &first_len, &second), 1);
    assert_ptr_equal(first, sb.buf + 3100);
    assert_int_equal(first_len, 100);
    assert_null(second);
    assert_int_equal(tern_sendbuf_peek(&sb, 2999, 10, &first, &first_len, &second), 0);
    assert_int_equal(tern_sendbuf_peek(&sb, 6000, 97, &first, &first_len, &second), 0);
    assert_int_equal(tern_sendbuf_peek(&sb, 4000, 0, &first, &first_len, &second), 0);
    tern_sendbuf_on_sent(&sb, off, len, 0);

    /* Growing a wrapped ring keeps the bytes in order. */
    assert_int_equal(tern_sendbuf_write(&sb, src + 6096, 2000, 0), 2000);
    assert_int_equal(sb.cap, 8192);
    tern_sendbuf_copy(&sb, 3000, 5096, out);
    assert_memory_equal(out, src + 3000, 5096);
    tern_sendbuf_free(&sb);
}

/* Bytes produced in place: the place handed out is the ring at `end`, contiguous up to where
 * the ring wraps, within the limit; only what is committed is queued, and only up to what was
 * handed out; FIN ends it. */
static void test_sendbuf_reserve(void **st)
{
    (void)st;
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 8192);
    uint8_t src[16384], out[8192], *p = NULL; /* stream offsets go past 8192 */
    fill_pattern(src, sizeof(src), 0);

    /* the first ring is allocated for it */
    assert_int_equal(tern_sendbuf_reserve(&sb, 3000, &p), 3000);
    assert_non_null(sb.buf);
    assert_ptr_equal(p, sb.buf);
    memcpy(p, src, 3000);
    /* more than was handed out is refused, and nothing is queued */
    assert_int_equal(tern_sendbuf_commit(&sb, 3001, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(sb.end, 0);
    assert_int_equal(tern_sendbuf_commit(&sb, 2500, 0), 0);
    assert_int_equal(sb.end, 2500);
    /* a second commit without a new reservation is refused */
    assert_int_equal(tern_sendbuf_commit(&sb, 1, 0), TERN_ERR_INVALID_ARG);

    /* send and acknowledge 2000, then reserve past the ring's end: contiguous up to the wrap */
    uint64_t off;
    size_t len;
    int fin, is_new;
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 5000, &off, &len, &fin, &is_new), 1);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    tern_sendbuf_on_acked(&sb, 0, 2000, 0);
    size_t cap = sb.cap;
    /* 500 unacknowledged bytes and cap - 500 new ones fit without growing */
    ssize_t n = tern_sendbuf_reserve(&sb, cap - 500, &p);
    assert_int_equal(n, (ssize_t)(cap - 2500)); /* up to the ring's end */
    assert_int_equal(sb.cap, cap);
    assert_ptr_equal(p, sb.buf + 2500);
    memcpy(p, src + 2500, (size_t)n);
    assert_int_equal(tern_sendbuf_commit(&sb, (size_t)n, 0), 0);
    uint64_t at = 2500 + (uint64_t)n;
    /* the rest of the room is at the ring's start */
    n = tern_sendbuf_reserve(&sb, 2000 - 1, &p);
    assert_int_equal(n, 2000 - 1);
    assert_ptr_equal(p, sb.buf);
    memcpy(p, src + at, (size_t)n);
    assert_int_equal(tern_sendbuf_commit(&sb, (size_t)n, 0), 0);
    at += (uint64_t)n;
    tern_sendbuf_copy(&sb, 2000, (size_t)(at - 2000), out);
    assert_memory_equal(out, src + 2000, (size_t)(at - 2000));

    /* growing keeps the bytes, then the limit bounds what is handed out */
    n = tern_sendbuf_reserve(&sb, 8192, &p);
    assert_true(n > 0);
    assert_int_equal(sb.cap, 8192);
    assert_int_equal((uint64_t)n, 8192 - (at - 2000));
    memcpy(p, src + at, (size_t)n);
    assert_int_equal(tern_sendbuf_commit(&sb, (size_t)n, 0), 0);
    at += (uint64_t)n;
    tern_sendbuf_copy(&sb, 2000, 8192, out);
    assert_memory_equal(out, src + 2000, 8192);
    assert_int_equal(tern_sendbuf_reserve(&sb, 10, &p), 0); /* full */
    assert_int_equal(tern_sendbuf_reserve(&sb, 0, &p), 0);

    /* a write in between takes the place: the reservation is gone */
    tern_sendbuf_on_acked(&sb, 2000, 100, 0);
    assert_int_equal(tern_sendbuf_reserve(&sb, 50, &p), 50);
    assert_int_equal(tern_sendbuf_write(&sb, src, 10, 0), 10);
    assert_int_equal(tern_sendbuf_commit(&sb, 5, 0), TERN_ERR_INVALID_ARG);
    at += 10;

    /* a commit of nothing with FIN ends the stream; then nothing more */
    assert_int_equal(tern_sendbuf_reserve(&sb, 5, &p), 5);
    assert_int_equal(tern_sendbuf_commit(&sb, 0, 1), 0);
    assert_int_equal(sb.fin, 1);
    assert_int_equal(sb.end, at);
    assert_int_equal(tern_sendbuf_reserve(&sb, 5, &p), TERN_ERR_STREAM_STATE);
    assert_int_equal(tern_sendbuf_commit(&sb, 0, 0), TERN_ERR_STREAM_STATE);
    tern_sendbuf_free(&sb);
}

static void test_sendbuf_ack_out_of_order(void **st)
{
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 100000);
    uint8_t src[3000];
    fill_pattern(src, sizeof(src), 0);
    assert_int_equal(tern_sendbuf_write(&sb, src, 3000, 1), 3000);
    uint64_t off;
    size_t len;
    int fin, is_new;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 1000, &off, &len, &fin, &is_new), 1);
        assert_int_equal(off, (uint64_t)i * 1000);
        assert_int_equal(len, 1000);
        assert_int_equal(fin, i == 2);
        tern_sendbuf_on_sent(&sb, off, len, fin);
    }
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 1000, &off, &len, &fin, &is_new), 0);
    assert_false(tern_sendbuf_has_pending(&sb, UINT64_MAX));

    size_t room0 = tern_sendbuf_room(&sb);
    assert_int_equal(room0, 0); /* FIN set: nothing more can be written */
    tern_sendbuf_on_acked(&sb, 2000, 1000, 1);
    assert_int_equal(sb.base, 0);
    assert_true(sb.fin_acked);
    assert_false(tern_sendbuf_all_acked(&sb));
    tern_sendbuf_on_acked(&sb, 0, 1000, 0);
    assert_int_equal(sb.base, 1000);        /* only the in-order prefix is released */
    tern_sendbuf_on_acked(&sb, 0, 1000, 0); /* duplicate ack */
    assert_int_equal(sb.base, 1000);
    tern_sendbuf_on_acked(&sb, 1000, 1000, 0);
    assert_int_equal(sb.base, 3000);
    assert_int_equal(sb.acked.n, 0);
    assert_true(tern_sendbuf_all_acked(&sb));
    assert_null(sb.buf); /* finished: the ring is released */
    tern_sendbuf_free(&sb);
}

static void test_sendbuf_lost_first(void **st)
{
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 100000);
    uint8_t src[5000], out[1000];
    fill_pattern(src, sizeof(src), 0);
    assert_int_equal(tern_sendbuf_write(&sb, src, 5000, 0), 5000);
    uint64_t off;
    size_t len;
    int fin, is_new;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 1000, &off, &len, &fin, &is_new), 1);
        tern_sendbuf_on_sent(&sb, off, len, fin);
    }
    assert_int_equal(sb.sent, 2000);
    tern_sendbuf_on_lost(&sb, 0, 1000, 0);
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 600, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 0);
    assert_int_equal(len, 600);
    assert_int_equal(is_new, 0);
    tern_sendbuf_copy(&sb, off, len, out);
    assert_memory_equal(out, src, 600);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 5000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 600);
    assert_int_equal(len, 400);
    assert_int_equal(is_new, 0);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    /* then new data, limited by flow control */
    assert_int_equal(tern_sendbuf_next(&sb, 2500, 5000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 2000);
    assert_int_equal(len, 500);
    assert_int_equal(is_new, 1);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    assert_int_equal(tern_sendbuf_next(&sb, 2500, 5000, &off, &len, &fin, &is_new), 0);
    assert_false(tern_sendbuf_has_pending(&sb, 2500));
    assert_true(tern_sendbuf_has_pending(&sb, 2501));

    /* A loss overlapping bytes acknowledged through another packet only resends the rest. */
    tern_sendbuf_on_acked(&sb, 1000, 500, 0);
    tern_sendbuf_on_lost(&sb, 0, 2500, 0);
    assert_int_equal(sb.lost.n, 2);
    assert_int_equal(sb.lost.r[0].lo, 0);
    assert_int_equal(sb.lost.r[0].hi, 1000);
    assert_int_equal(sb.lost.r[1].lo, 1500);
    assert_int_equal(sb.lost.r[1].hi, 2500);
    /* acking the first lost range removes it from the retransmission set */
    tern_sendbuf_on_acked(&sb, 0, 1000, 0);
    assert_int_equal(sb.base, 1500);
    assert_int_equal(tern_sendbuf_next(&sb, 2500, 5000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 1500);
    assert_int_equal(len, 1000);
    assert_int_equal(is_new, 0);
    /* a loss reported for never-sent or released bytes is ignored */
    tern_sendbuf_on_lost(&sb, 0, 1500, 0);
    tern_sendbuf_on_lost(&sb, 3000, 100, 0);
    assert_int_equal(sb.lost.n, 1);
    tern_sendbuf_free(&sb);
}

static void test_sendbuf_fin_alone(void **st)
{
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 1000);
    uint8_t src[100];
    fill_pattern(src, sizeof(src), 0);
    assert_int_equal(tern_sendbuf_write(&sb, src, 100, 0), 100);
    uint64_t off;
    size_t len;
    int fin, is_new;
    assert_int_equal(tern_sendbuf_next(&sb, 100, 1000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(fin, 0);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    assert_int_equal(tern_sendbuf_next(&sb, 100, 1000, &off, &len, &fin, &is_new), 0);

    assert_int_equal(tern_sendbuf_write(&sb, NULL, 0, 1), 0);
    assert_int_equal(tern_sendbuf_write(&sb, src, 1, 0), TERN_ERR_STREAM_STATE);
    /* A lone FIN needs no flow-control credit. */
    assert_int_equal(tern_sendbuf_next(&sb, 100, 1000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 100);
    assert_int_equal(len, 0);
    assert_int_equal(fin, 1);
    assert_int_equal(is_new, 0);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    assert_false(tern_sendbuf_has_pending(&sb, 100));
    tern_sendbuf_on_lost(&sb, 100, 0, 1);
    assert_int_equal(tern_sendbuf_next(&sb, 100, 1000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 100);
    assert_int_equal(len, 0);
    assert_int_equal(fin, 1);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    tern_sendbuf_on_acked(&sb, 100, 0, 1);
    assert_false(tern_sendbuf_all_acked(&sb));
    tern_sendbuf_on_acked(&sb, 0, 100, 0);
    assert_true(tern_sendbuf_all_acked(&sb));
    /* a late loss report of the FIN after its ack changes nothing */
    tern_sendbuf_on_lost(&sb, 100, 0, 1);
    assert_false(tern_sendbuf_has_pending(&sb, UINT64_MAX));
    tern_sendbuf_free(&sb);

    /* FIN with the last bytes, lost together: resent together. */
    tern_sendbuf_init(&sb, 1000);
    assert_int_equal(tern_sendbuf_write(&sb, src, 50, 1), 50);
    assert_int_equal(tern_sendbuf_next(&sb, 1000, 1000, &off, &len, &fin, &is_new), 1);
    assert_int_equal(fin, 1);
    assert_int_equal(len, 50);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    tern_sendbuf_on_lost(&sb, 0, 50, 1);
    assert_int_equal(tern_sendbuf_next(&sb, 1000, 30, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 0);
    assert_int_equal(len, 30);
    assert_int_equal(fin, 0);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    assert_int_equal(tern_sendbuf_next(&sb, 1000, 30, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 30);
    assert_int_equal(len, 20);
    assert_int_equal(fin, 1);
    tern_sendbuf_free(&sb);
}

static void test_sendbuf_room_limit(void **st)
{
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 10000);
    static uint8_t src[20000];
    fill_pattern(src, sizeof(src), 0);
    assert_int_equal(tern_sendbuf_room(&sb), 10000);
    assert_null(sb.buf); /* nothing allocated before the first write */
    assert_int_equal(tern_sendbuf_write(&sb, src, 12000, 1), 10000);
    assert_int_equal(sb.fin, 0); /* FIN only when everything was accepted */
    assert_int_equal(tern_sendbuf_room(&sb), 0);
    assert_true(sb.cap <= 10000);
    assert_int_equal(tern_sendbuf_write(&sb, src + 10000, 2000, 1), 0);
    uint64_t off;
    size_t len;
    int fin, is_new;
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, 6000, &off, &len, &fin, &is_new), 1);
    tern_sendbuf_on_sent(&sb, off, len, fin);
    assert_int_equal(tern_sendbuf_room(&sb), 0); /* sent but unacked still occupies room */
    tern_sendbuf_on_acked(&sb, 0, 4000, 0);
    assert_int_equal(tern_sendbuf_room(&sb), 4000);
    assert_int_equal(tern_sendbuf_write(&sb, src + 10000, 2000, 1), 2000);
    assert_int_equal(sb.fin, 1);
    assert_int_equal(tern_sendbuf_room(&sb), 0);
    uint8_t out[12000];
    tern_sendbuf_copy(&sb, 4000, 8000, out);
    assert_memory_equal(out, src + 4000, 8000);
    tern_sendbuf_free(&sb);

    /* a zero-size buffer (receive-only stream) accepts nothing but a FIN */
    tern_sendbuf_init(&sb, 0);
    assert_int_equal(tern_sendbuf_write(&sb, src, 10, 0), 0);
    assert_null(sb.buf);
    tern_sendbuf_free(&sb);
}

/* The bookkeeping ranges stay bounded even when every other packet is acked. */
static void test_sendbuf_many_gaps(void **st)
{
    tern_sendbuf sb;
    size_t total = (TERN_SENDBUF_MAX_RANGES + 200) * 20;
    tern_sendbuf_init(&sb, total);
    uint8_t *src = malloc(total);
    assert_non_null(src);
    fill_pattern(src, total, 0);
    assert_int_equal(tern_sendbuf_write(&sb, src, total, 1), (ssize_t)total);
    uint64_t off;
    size_t len;
    int fin, is_new;
    while (tern_sendbuf_next(&sb, UINT64_MAX, 10, &off, &len, &fin, &is_new))
        tern_sendbuf_on_sent(&sb, off, len, fin);
    for (uint64_t o = 10; o < total; o += 20)
        tern_sendbuf_on_acked(&sb, o, 10, o + 10 == total);
    assert_true(sb.acked.n <= TERN_SENDBUF_MAX_RANGES);
    for (uint64_t o = 0; o < total; o += 20)
        tern_sendbuf_on_lost(&sb, o, 10, 0);
    assert_true(sb.lost.n <= TERN_SENDBUF_MAX_RANGES);
    /* Everything not recorded as acked is resent; once those acks arrive, all is acked. */
    int guard = 0;
    while (tern_sendbuf_next(&sb, UINT64_MAX, 1000, &off, &len, &fin, &is_new) &&
           guard++ < 100000) {
        assert_int_equal(is_new, 0);
        tern_sendbuf_on_sent(&sb, off, len, fin);
        tern_sendbuf_on_acked(&sb, off, len, fin);
    }
    assert_true(tern_sendbuf_all_acked(&sb));
    free(src);
    tern_sendbuf_free(&sb);
}

/* Send everything written so far, as one range. */
static void send_all(tern_sendbuf *sb)
{
    uint64_t off;
    size_t len;
    int fin, is_new;
    while (tern_sendbuf_next(sb, UINT64_MAX, SIZE_MAX, &off, &len, &fin, &is_new))
        tern_sendbuf_on_sent(sb, off, len, fin);
}

/* A small ring goes once all it held is acknowledged (an idle control stream holds nothing) and
 * comes back at the next write; a bulk stream's larger ring stays; an outstanding reservation
 * keeps the ring whatever its size. */
static void test_sendbuf_drained_ring_freed(void **st)
{
    tern_sendbuf sb;
    uint8_t src[4096], out[64];
    (void)st;
    fill_pattern(src, sizeof(src), 0);

    tern_sendbuf_init(&sb, 65536);
    assert_int_equal(tern_sendbuf_write(&sb, src, 300, 0), 300);
    send_all(&sb);
    tern_sendbuf_on_acked(&sb, 100, 200, 0); /* a gap below: held */
    assert_non_null(sb.buf);
    assert_non_null(sb.acked.r);
    tern_sendbuf_on_acked(&sb, 0, 100, 0);
    assert_int_equal(sb.base, 300);
    assert_null(sb.buf);
    assert_int_equal(sb.cap, 0);
    assert_null(sb.acked.r);
    assert_null(sb.lost.r);
    /* the next write allocates again and continues at offset 300 */
    assert_int_equal(tern_sendbuf_write(&sb, src + 300, 50, 0), 50);
    assert_non_null(sb.buf);
    uint64_t off;
    size_t len;
    int fin, is_new;
    assert_int_equal(tern_sendbuf_next(&sb, UINT64_MAX, SIZE_MAX, &off, &len, &fin, &is_new), 1);
    assert_int_equal(off, 300);
    assert_int_equal(len, 50);
    tern_sendbuf_copy(&sb, 300, 50, out);
    assert_memory_equal(out, src + 300, 50);
    tern_sendbuf_free(&sb);

    /* a ring larger than TERN_SENDBUF_DRAINED_FREE_MAX is kept for the next burst */
    tern_sendbuf_init(&sb, 65536);
    assert_int_equal(tern_sendbuf_write(&sb, src, 4096, 0), 4096);
    send_all(&sb);
    tern_sendbuf_on_acked(&sb, 0, 4096, 0);
    assert_int_equal(sb.base, 4096);
    assert_non_null(sb.buf);
    assert_int_equal(sb.cap, 4096);
    tern_sendbuf_free(&sb);

    /* bytes reserved in place and not committed yet keep their ring */
    tern_sendbuf_init(&sb, 65536);
    assert_int_equal(tern_sendbuf_write(&sb, src, 10, 0), 10);
    send_all(&sb);
    uint8_t *p;
    assert_int_equal(tern_sendbuf_reserve(&sb, 20, &p), 20);
    memcpy(p, src + 10, 20);
    tern_sendbuf_on_acked(&sb, 0, 10, 0);
    assert_non_null(sb.buf);
    assert_int_equal(tern_sendbuf_commit(&sb, 20, 0), 0);
    tern_sendbuf_copy(&sb, 10, 20, out);
    assert_memory_equal(out, src + 10, 20);
    tern_sendbuf_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendbuf_wrap),
        cmocka_unit_test(test_sendbuf_reserve),
        cmocka_unit_test(test_sendbuf_ack_out_of_order),
        cmocka_unit_test(test_sendbuf_lost_first),
        cmocka_unit_test(test_sendbuf_fin_alone),
        cmocka_unit_test(test_sendbuf_room_limit),
        cmocka_unit_test(test_sendbuf_many_gaps),
        cmocka_unit_test(test_sendbuf_drained_ring_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
