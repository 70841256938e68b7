/* Delay queue of the datapath hooks: due-time order with arrival order on ties, bounds, slot
 * reuse while an item is being delivered, forgetting a closed socket's items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "io/delayq.h"

static tern_path_addr g_path;

static void push(tern_delayq *q, uint64_t due, void *sock, uint8_t tag)
{
    uint8_t d[3] = {tag, (uint8_t)(tag + 1), (uint8_t)(tag + 2)};
    assert_int_equal(tern_delayq_push(q, due, TERN_DELAYQ_SEND, sock, &g_path, 2, d, sizeof(d)), 0);
}

static uint8_t pop_tag(tern_delayq *q, uint64_t now)
{
    tern_delayq_item *it = tern_delayq_pop_due(q, now);
    assert_non_null(it);
    assert_int_equal(it->len, 3);
    assert_int_equal(it->data[1], (uint8_t)(it->data[0] + 1));
    assert_int_equal(it->ecn, 2);
    uint8_t t = it->data[0];
    tern_delayq_release(q, it);
    return t;
}

static void test_order(void **st)
{
    tern_delayq q;
    assert_int_equal(tern_delayq_init(&q, 16, 64), 0);
    assert_int_equal(tern_delayq_next(&q), UINT64_MAX);
    assert_null(tern_delayq_pop_due(&q, 1000));
    static const uint64_t due[] = {50, 10, 30, 10, 70, 20, 10, 60};
    for (uint8_t i = 0; i < 8; i++)
        push(&q, due[i], NULL, (uint8_t)(i * 10));
    assert_int_equal(tern_delayq_len(&q), 8);
    assert_int_equal(tern_delayq_next(&q), 10);
    assert_null(tern_delayq_pop_due(&q, 9));
    /* the three due at 10 in the order they came */
    assert_int_equal(pop_tag(&q, 10), 10);
    assert_int_equal(pop_tag(&q, 10), 30);
    assert_int_equal(pop_tag(&q, 10), 60);
    assert_null(tern_delayq_pop_due(&q, 10));
    static const uint8_t rest[] = {50, 20, 0, 70, 40};
    for (size_t i = 0; i < sizeof(rest); i++)
        assert_int_equal(pop_tag(&q, 1000), rest[i]);
    assert_int_equal(tern_delayq_len(&q), 0);
    tern_delayq_free(&q);
}

static void test_bounds(void **st)
{
    tern_delayq q;
    assert_int_equal(tern_delayq_init(&q, 0, 64), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_delayq_init(&q, 4, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_delayq_init(&q, 4, 8), 0);
    uint8_t big[9] = {0};
    assert_int_equal(tern_delayq_push(&q, 1, TERN_DELAYQ_RECV, NULL, &g_path, 0, big, 9),
                     TERN_ERR_BUFFER_TOO_SMALL);
    for (int i = 0; i < 4; i++)
        push(&q, 5, NULL, (uint8_t)i);
    assert_int_equal(tern_delayq_push(&q, 1, TERN_DELAYQ_RECV, NULL, &g_path, 0, big, 8),
                     TERN_ERR_WOULD_BLOCK);
    /* a popped item keeps its slot until released: the queue is still full */
    tern_delayq_item *it = tern_delayq_pop_due(&q, 5);
    assert_non_null(it);
    assert_int_equal(it->data[0], 0);
    assert_int_equal(tern_delayq_push(&q, 1, TERN_DELAYQ_RECV, NULL, &g_path, 0, big, 8),
                     TERN_ERR_WOULD_BLOCK);
    tern_delayq_release(&q, it);
    memset(big, 0x77, sizeof(big));
    assert_int_equal(tern_delayq_push(&q, 1, TERN_DELAYQ_RECV, NULL, &g_path, 0, big, 8), 0);
    it = tern_delayq_pop_due(&q, 5);
    assert_int_equal(it->dir, TERN_DELAYQ_RECV);
    assert_int_equal(it->due, 1);
    assert_int_equal(it->data[7], 0x77);
    tern_delayq_release(&q, it);
    tern_delayq_free(&q);
}

static void test_forget(void **st)
{
    tern_delayq q;
    int s1, s2;
    assert_int_equal(tern_delayq_init(&q, 32, 16), 0);
    for (uint8_t i = 0; i < 20; i++)
        push(&q, (uint64_t)(100 - i * 3) % 37, (i % 3) ? &s1 : &s2, i);
    assert_int_equal(tern_delayq_forget(&q, &s1), 13);
    assert_int_equal(tern_delayq_forget(&q, &s1), 0);
    assert_int_equal(tern_delayq_len(&q), 7);
    uint64_t last = 0;
    for (int i = 0; i < 7; i++) {
        tern_delayq_item *it = tern_delayq_pop_due(&q, UINT64_MAX);
        assert_non_null(it);
        assert_ptr_equal(it->sock, &s2);
        assert_true(it->due >= last);
        last = it->due;
        tern_delayq_release(&q, it);
    }
    /* every slot is free again */
    for (uint8_t i = 0; i < 32; i++)
        push(&q, i, &s1, i);
    tern_delayq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
