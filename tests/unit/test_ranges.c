/* Range set: merging, splitting, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "allochook.h"
#include "ranges.h"

static void test_add_merge(void **st)
{
    tern_ranges s;
    tern_ranges_init(&s, 16);
    assert_int_equal(tern_ranges_add(&s, 10, 20), 0);
    assert_int_equal(tern_ranges_add(&s, 30, 40), 0);
    assert_int_equal(tern_ranges_add(&s, 0, 5), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(tern_ranges_add(&s, 20, 30), 0); /* adjacency merges both sides */
    assert_int_equal(s.n, 2);
    assert_int_equal(s.r[1].lo, 10);
    assert_int_equal(s.r[1].hi, 40);
    assert_int_equal(tern_ranges_add(&s, 3, 12), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.r[0].lo, 0);
    assert_int_equal(s.r[0].hi, 40);
    assert_true(tern_ranges_contains(&s, 0, 40));
    assert_false(tern_ranges_contains(&s, 0, 41));
    tern_ranges_free(&s);
}

static void test_remove_split(void **st)
{
    tern_ranges s;
    tern_ranges_init(&s, 16);
    tern_ranges_add(&s, 0, 100);
    assert_int_equal(tern_ranges_remove(&s, 40, 60), 0);
    assert_int_equal(s.n, 2);
    assert_false(tern_ranges_intersects(&s, 40, 60));
    assert_true(tern_ranges_intersects(&s, 39, 41));
    assert_int_equal(tern_ranges_remove(&s, 30, 70), 0);
    assert_int_equal(s.r[0].hi, 30);
    assert_int_equal(s.r[1].lo, 70);
    assert_int_equal(tern_ranges_remove(&s, 0, 30), 0);
    assert_int_equal(s.n, 1);
    tern_ranges_remove_below(&s, 80);
    assert_int_equal(s.r[0].lo, 80);
    assert_int_equal(s.r[0].hi, 100);
    tern_ranges_remove_below(&s, 200);
    assert_int_equal(s.n, 0);
    tern_ranges_free(&s);
}

static void test_bound(void **st)
{
    tern_ranges s;
    tern_ranges_init(&s, 8);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(tern_ranges_add(&s, i * 10, i * 10 + 1), 0);
    assert_int_equal(tern_ranges_add(&s, 1000, 1001), TERN_ERR_NOMEM);
    assert_int_equal(s.n, 8);
    /* merging into an existing range still works at the bound */
    assert_int_equal(tern_ranges_add(&s, 1, 5), 0);
    assert_int_equal(tern_ranges_remove(&s, 2, 3), TERN_ERR_NOMEM);
    assert_int_equal(s.cap, 8);
    tern_ranges_free(&s);
}

static void test_random_against_bitmap(void **st)
{
    uint8_t bits[512] = {0};
    tern_ranges s;
    tern_ranges_init(&s, 1024);
    uint32_t x = 12345;
    for (int it = 0; it < 5000; it++) {
        x = x * 1103515245 + 12345;
        uint64_t lo = (x >> 8) % 512, len = (x >> 20) % 16 + 1, hi = TERN_MIN(lo + len, 512);
        if ((x >> 4) & 1) {
            assert_int_equal(tern_ranges_add(&s, lo, hi), 0);
            for (uint64_t i = lo; i < hi; i++) bits[i] = 1;
        } else {
            assert_int_equal(tern_ranges_remove(&s, lo, hi), 0);
            for (uint64_t i = lo; i < hi; i++) bits[i] = 0;
        }
        for (uint64_t i = 0; i < 512; i++)
            assert_int_equal(tern_ranges_contains(&s, i, i + 1), bits[i]);
        for (uint32_t k = 1; k < s.n; k++)
            assert_true(s.r[k - 1].hi < s.r[k].lo); /* disjoint, not adjacent */
    }
    tern_ranges_free(&s);
}

/* Room taken at once keeps the ranges, stops at max, and later adds up to it do not reallocate. */
static void test_reserve(void **st)
{
    tern_ranges s;
    tern_ranges_init(&s, 64);
    assert_int_equal(tern_ranges_add(&s, 10, 20), 0);
    assert_int_equal(tern_ranges_reserve(&s, 1000), 0);
    assert_int_equal(s.cap, 64);
    tern_range *r = s.r;
    for (uint64_t i = 1; i < 64; i++)
        assert_int_equal(tern_ranges_add(&s, 100 * i, 100 * i + 1), 0);
    assert_ptr_equal(s.r, r);
    assert_int_equal(s.n, 64);
    assert_int_equal(s.r[0].lo, 10);
    assert_int_equal(s.r[0].hi, 20);
    tern_ranges_free(&s);
}

/* Empty intervals change nothing and are contained but intersect nothing; a set bounded at 0
 * holds one range; a failed allocation leaves the set as it was. */
static void test_empty_intervals_and_oom(void **st)
{
    tern_ranges s;
    tern_ranges_init(&s, 0);
    assert_int_equal(tern_ranges_add(&s, 5, 5), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(tern_ranges_add(&s, 1, 3), 0);
    assert_int_equal(tern_ranges_add(&s, 7, 9), TERN_ERR_NOMEM); /* max 0 means 1 */
    assert_int_equal(tern_ranges_remove(&s, 2, 2), 0);
    assert_int_equal(tern_ranges_remove(&s, 9, 4), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.r[0].lo, 1);
    assert_int_equal(s.r[0].hi, 3);
    assert_true(tern_ranges_contains(&s, 4, 4));
    assert_false(tern_ranges_intersects(&s, 2, 2));
    assert_int_equal(tern_ranges_reserve(&s, 1), 0); /* already has room */
    tern_ranges_free(&s);

    if (!ALLOCHOOK_ACTIVE)
        return;
    tern_ranges_init(&s, 64);
    allochook_fail_next = 1;
    assert_int_equal(tern_ranges_add(&s, 1, 2), TERN_ERR_NOMEM);
    assert_int_equal(s.n, 0);
    allochook_fail_next = 1;
    assert_int_equal(tern_ranges_reserve(&s, 16), TERN_ERR_NOMEM);
    assert_int_equal(s.cap, 0);
    assert_int_equal(tern_ranges_add(&s, 1, 2), 0);
    assert_true(tern_ranges_contains(&s, 1, 2));
    tern_ranges_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_add_merge),
        cmocka_unit_test(test_remove_split),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_random_against_bitmap),
        cmocka_unit_test(test_empty_intervals_and_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
