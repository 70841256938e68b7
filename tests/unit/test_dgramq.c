/* Tests of the datagram send queue (datagram.c): order, tags and bytes kept, the byte and count
 * bounds, wrapping around the ring without overlapping, and empty datagrams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "datagram.h"

static void fill(uint8_t *b, size_t n, uint64_t tag)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(tag * 31 + i);
}

/* Pops the oldest and checks its tag, length and bytes. */
static void expect_pop(tern_dgramq *q, uint64_t tag, size_t len)
{
    const tern_dgram_ent *e = tern_dgramq_peek(q);
    assert_non_null(e);
    assert_int_equal(e->tag, tag);
    assert_int_equal(e->len, len);
    uint8_t want[4096];
    fill(want, len, tag);
    if (len)
        assert_memory_equal(tern_dgramq_data(q, e), want, len);
    tern_dgramq_pop(q);
}

static void test_fifo_and_bounds(void **state)
{
    (void)state;
    tern_dgramq q;
    tern_dgramq_init(&q, 1000, 4);
    assert_null(tern_dgramq_peek(&q));
    tern_dgramq_pop(&q); /* harmless when empty */
    uint8_t b[2048];
    fill(b, 1001, 9);
    assert_int_equal(tern_dgramq_push(&q, b, 1001, 9), TERN_ERR_INVALID_ARG);
    assert_null(q.buf); /* nothing allocated for a refusal */
    for (uint64_t t = 1; t <= 4; t++) {
        fill(b, 100, t);
        assert_int_equal(tern_dgramq_push(&q, b, 100, t), 0);
    }
    /* count bound */
    assert_int_equal(tern_dgramq_push(&q, b, 1, 5), TERN_ERR_WOULD_BLOCK);
    assert_int_equal(q.n, 4);
    assert_int_equal(q.bytes, 400);
    expect_pop(&q, 1, 100);
    /* byte bound: 300 queued at 100..400, 600 free at the end, 100 at the start */
    fill(b, 601, 6);
    assert_int_equal(tern_dgramq_push(&q, b, 601, 6), TERN_ERR_WOULD_BLOCK);
    fill(b, 600, 6);
    assert_int_equal(tern_dgramq_push(&q, b, 600, 6), 0);
    assert_int_equal(q.bytes, 900);
    expect_pop(&q, 2, 100);
    expect_pop(&q, 3, 100);
    expect_pop(&q, 4, 100);
    expect_pop(&q, 6, 600);
    assert_null(tern_dgramq_peek(&q));
    assert_int_equal(q.bytes, 0);
    /* an empty queue takes the whole ring */
    fill(b, 1000, 7);
    assert_int_equal(tern_dgramq_push(&q, b, 1000, 7), 0);
    assert_int_equal(tern_dgramq_push(&q, b, 0, 8),
                     TERN_ERR_WOULD_BLOCK); /* even empty ones take a byte */
    expect_pop(&q, 7, 1000);
    tern_dgramq_free(&q);
    /* no entries at all: nothing can be queued */
    tern_dgramq_init(&q, 1000, 0);
    assert_int_equal(tern_dgramq_push(&q, b, 1, 1), TERN_ERR_INVALID_ARG);
    tern_dgramq_free(&q);
}

static void test_wrap(void **state)
{
    (void)state;
    tern_dgramq q;
    tern_dgramq_init(&q, 1000, 16);
    uint8_t b[1000];
    fill(b, 400, 1);
    assert_int_equal(tern_dgramq_push(&q, b, 400, 1), 0); /* 0..400 */
    fill(b, 400, 2);
    assert_int_equal(tern_dgramq_push(&q, b, 400, 2), 0); /* 400..800 */
    expect_pop(&q, 1, 400);
    /* 300 does not fit at the end (200 left): it wraps to 0..300 */
    fill(b, 300, 3);
    assert_int_equal(tern_dgramq_push(&q, b, 300, 3), 0);
    assert_int_equal(q.ent[(q.head + 1) % q.ecap].off, 0);
    /* 100 more fit below 400 (300..400), then nothing: 101 would overlap datagram 2 */
    fill(b, 100, 4);
    assert_int_equal(tern_dgramq_push(&q, b, 100, 4), 0);
    assert_int_equal(tern_dgramq_push(&q, b, 1, 5), TERN_ERR_WOULD_BLOCK);
    expect_pop(&q, 2, 400); /* the ring now starts at the wrap */
    assert_int_equal(q.wrapped, 0);
    fill(b, 600, 6);
    assert_int_equal(tern_dgramq_push(&q, b, 600, 6), 0); /* 400..1000 */
    expect_pop(&q, 3, 300);
    expect_pop(&q, 4, 100);
    expect_pop(&q, 6, 600);
    tern_dgramq_free(&q);
}

/* Empty datagrams keep their place around a wrap. */
static void test_empty_and_random(void **state)
{
    (void)state;
    tern_dgramq q;
    tern_dgramq_init(&q, 500, 8);
    uint8_t b[500];
    fill(b, 300, 1);
    assert_int_equal(tern_dgramq_push(&q, b, 300, 1), 0);
    assert_int_equal(tern_dgramq_push(&q, b, 0, 2), 0);
    fill(b, 199, 3);
    assert_int_equal(tern_dgramq_push(&q, b, 199, 3), 0); /* 301..500 */
    expect_pop(&q, 1, 300);
    fill(b, 250, 4);
    assert_int_equal(tern_dgramq_push(&q, b, 250, 4), 0); /* wraps: 0..250 */
    expect_pop(&q, 2, 0);
    expect_pop(&q, 3, 199);
    expect_pop(&q, 4, 250);

    /* a long random run against a model: sizes and tags come back in order and intact, the
     * queue never holds more than its bounds */
    uint64_t model_tag[64];
    size_t model_len[64], mh = 0, mn = 0;
    uint64_t next = 100, x = 88172645463325252ull;
    for (int it = 0; it < 20000; it++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x % 3) {
            size_t len = (size_t)((x >> 8) % 260);
            fill(b, len, next);
            int rv = tern_dgramq_push(&q, b, len, next);
            if (rv == 0) {
                model_tag[(mh + mn) % 64] = next;
                model_len[(mh + mn) % 64] = len;
                mn++;
            } else {
                assert_int_equal(rv, TERN_ERR_WOULD_BLOCK);
            }
            next++;
        } else if (mn) {
            expect_pop(&q, model_tag[mh], model_len[mh]);
            mh = (mh + 1) % 64;
            mn--;
        }
        assert_int_equal(q.n, mn);
        assert_true(q.n <= 8);
        assert_true(q.bytes <= 500);
    }
    tern_dgramq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_bounds),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_empty_and_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
