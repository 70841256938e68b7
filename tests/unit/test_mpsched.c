/* The multipath scheduler's choice (mpsched.h): probes first, then the lowest smoothed RTT with
 * room among available paths, backups only when no available path is usable, and the best usable
 * path (or the fallback) when none has room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mpsched.h"

#define MS 1000000ull

static tern_mpsched_cand cand(int slot, uint64_t srtt_ms, int backup, int room, int probes)
{
    tern_mpsched_cand c = {slot, srtt_ms * MS, (uint8_t)backup, (uint8_t)room, (uint8_t)probes};
    return c;
}

static void test_lowest_rtt_with_room(void **st)
{
    (void)st;
    tern_mpsched_cand v[3] = {cand(0, 40, 0, 1, 0), cand(3, 20, 0, 1, 0), cand(5, 30, 0, 1, 0)};
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 3);
    v[1].room = 0; /* the fastest is window-limited: the next one takes the packet */
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 5);
    v[2].room = 0;
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 0);
    v[0].room = 0; /* none has room: the best usable path carries what needs no window */
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 3);
    assert_int_equal(tern_mpsched_choose(v, 0, 9), 9);
}

static void test_backup_only_without_available(void **st)
{
    (void)st;
    tern_mpsched_cand v[2] = {cand(1, 50, 0, 0, 0), cand(2, 10, 1, 1, 0)};
    /* the available path has no room: still not the backup */
    assert_int_equal(tern_mpsched_choose(v, 2, 9), 1);
    v[0].room = 1;
    assert_int_equal(tern_mpsched_choose(v, 2, 9), 1);
    /* the available path is gone (failing, abandoned): the backup carries the traffic */
    assert_int_equal(tern_mpsched_choose(&v[1], 1, 9), 2);
    tern_mpsched_cand b[2] = {cand(4, 30, 1, 1, 0), cand(6, 20, 1, 1, 0)};
    assert_int_equal(tern_mpsched_choose(b, 2, 9), 6);
}

static void test_probes_go_on_their_path(void **st)
{
    (void)st;
    tern_mpsched_cand v[3] = {cand(0, 10, 0, 1, 0), cand(1, 90, 0, 0, 1), cand(2, 10, 1, 0, 1)};
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 1);
    v[1].probes = 0; /* a backup's probes go too, whatever its status */
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 2);
}

/* A path whose path ID's ACK is due is chosen before the lowest RTT with room (its own ACKs go on
 * it), the lowest RTT among several; probes still come first. */
static void test_due_ack_goes_on_its_path(void **st)
{
    (void)st;
    tern_mpsched_cand v[3] = {cand(0, 10, 0, 1, 0), cand(1, 90, 0, 0, 0), cand(2, 60, 0, 0, 0)};
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 0);
    v[1].ack_due = 1;
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 1); /* no room: the ACK goes alone */
    v[2].ack_due = 1;
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 2);
    v[0].probes = 1;
    assert_int_equal(tern_mpsched_choose(v, 3, 9), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowest_rtt_with_room),
        cmocka_unit_test(test_backup_only_without_available),
        cmocka_unit_test(test_probes_go_on_their_path),
        cmocka_unit_test(test_due_ack_goes_on_its_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
