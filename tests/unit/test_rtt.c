/* RTT estimator: the RFC 9002 §5 formulas on hand-computed numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rtt.h"

#define MS TERN_NS_PER_MS
#define US TERN_NS_PER_US

static void test_initial_values(void **st)
{
    tern_rtt r;
    tern_rtt_init(&r);
    assert_int_equal(r.smoothed, 333 * MS);
    assert_int_equal(r.var, 333 * MS / 2);
    assert_false(r.has_sample);
    assert_int_equal(r.samples, 0);
    /* PTO before any sample: 333 + 4 * 166.5 = 999 ms (+ max_ack_delay) */
    assert_int_equal(tern_rtt_pto(&r, 0), 999 * MS);
    assert_int_equal(tern_rtt_pto(&r, 25 * MS), 1024 * MS);
}

static void test_first_sample(void **st)
{
    tern_rtt r;
    tern_rtt_init(&r);
    /* the ack delay is ignored for the first sample */
    tern_rtt_update(&r, 100 * MS, 20 * MS, 25 * MS, 1, 5000 * MS);
    assert_true(r.has_sample);
    assert_int_equal(r.latest, 100 * MS);
    assert_int_equal(r.smoothed, 100 * MS);
    assert_int_equal(r.var, 50 * MS);
    assert_int_equal(r.min, 100 * MS);
    assert_int_equal(r.first_sample_time, 5000 * MS);
    assert_int_equal(r.samples, 1);
}

static void test_smoothing(void **st)
{
    tern_rtt r;
    tern_rtt_init(&r);
    tern_rtt_update(&r, 100 * MS, 0, 25 * MS, 1, 0);
    /* adjusted = 120 - 10 = 110; var = 3/4 * 50 + 1/4 * |100 - 110| = 40;
     * srtt = 7/8 * 100 + 110/8 */
    tern_rtt_update(&r, 120 * MS, 10 * MS, 25 * MS, 1, 1);
    assert_int_equal(r.latest, 120 * MS);
    assert_int_equal(r.var, 40 * MS);
    assert_int_equal(r.smoothed, 101250 * US);
    assert_int_equal(r.min, 100 * MS);
    assert_int_equal(r.first_sample_time, 0);
    /* a lower sample moves min_rtt (raw, without the ack delay) */
    tern_rtt_update(&r, 80 * MS, 5 * MS, 25 * MS, 1, 2);
    assert_int_equal(r.min, 80 * MS);
    /* 80 - 5 < min: the delay is not subtracted; var = 3/4*40 + 1/4*21.25 */
    assert_int_equal(r.var, 30 * MS + 5312500);
    assert_int_equal(r.smoothed, (7 * 101250 * US + 80 * MS) / 8);
    assert_int_equal(r.samples, 3);
}

static void test_ack_delay_capping(void **st)
{
    tern_rtt a, b;
    tern_rtt_init(&a);
    tern_rtt_update(&a, 100 * MS, 0, 0, 0, 0);
    b = a;
    /* confirmed: the delay is capped at max_ack_delay (25): adjusted 175 */
    tern_rtt_update(&a, 200 * MS, 50 * MS, 25 * MS, 1, 0);
    assert_int_equal(a.smoothed, (7 * 100 * MS + 175 * MS) / 8);
    assert_int_equal(a.var, (3 * 50 * MS + 75 * MS) / 4);
    /* not confirmed: the full delay is used: adjusted 150 */
    tern_rtt_update(&b, 200 * MS, 50 * MS, 25 * MS, 0, 0);
    assert_int_equal(b.smoothed, (7 * 100 * MS + 150 * MS) / 8);
    assert_int_equal(b.var, (3 * 50 * MS + 50 * MS) / 4);
}

static void test_not_below_min(void **st)
{
    tern_rtt r;
    tern_rtt_init(&r);
    tern_rtt_update(&r, 100 * MS, 0, 25 * MS, 1, 0);
    /* 105 - 10 = 95 < min 100: sample stays 105 */
    tern_rtt_update(&r, 105 * MS, 10 * MS, 25 * MS, 1, 0);
    assert_int_equal(r.smoothed, (7 * 100 * MS + 105 * MS) / 8);
    /* exactly at min is allowed: 110 - 10 = 100 */
    tern_rtt r2;
    tern_rtt_init(&r2);
    tern_rtt_update(&r2, 100 * MS, 0, 25 * MS, 1, 0);
    tern_rtt_update(&r2, 110 * MS, 10 * MS, 25 * MS, 1, 0);
    assert_int_equal(r2.smoothed, 100 * MS);
    assert_int_equal(r2.var, 3 * 50 * MS / 4);
}

static void test_pto_granularity(void **st)
{
    tern_rtt r;
    tern_rtt_init(&r);
    tern_rtt_update(&r, 10 * MS, 0, 0, 1, 0);
    for (int i = 0; i < 40; i++)
        tern_rtt_update(&r, 10 * MS, 0, 0, 1, 0);
    assert_int_equal(r.smoothed, 10 * MS);
    assert_true(4 * r.var < TERN_GRANULARITY);
    /* variance vanished: the granularity (1 ms) is the floor */
    assert_int_equal(tern_rtt_pto(&r, 0), 11 * MS);
    assert_int_equal(tern_rtt_pto(&r, 25 * MS), 36 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_values), cmocka_unit_test(test_first_sample),
        cmocka_unit_test(test_smoothing),      cmocka_unit_test(test_ack_delay_capping),
        cmocka_unit_test(test_not_below_min),  cmocka_unit_test(test_pto_granularity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
