/* Path bookkeeping (src/core/path.c) on its own: which addresses count as the same network (IPv4,
 * IPv6, never across families), the cache of ended paths over IPv6 (what is restored, and the
 * window only when it is larger than the new path's), and the bounded memory of challenges sent
 * and responses owed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "path.h"

#define MS 1000000ull
#define SEC 1000000000ull

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static tern_path make_path(const char *local, const char *remote)
{
    tern_path p;
    tern_path_addr pa;
    pa.local = addr(local);
    pa.remote = addr(remote);
    tern_path_init(&p, 1, &pa, TERN_CC_CUBIC, 1200, 0, 0);
    return p;
}

static void test_same_ip(void **st)
{
    (void)st;
    tern_addr v4 = addr("192.0.2.1:443"), v4b = addr("192.0.2.1:8443"), v4c = addr("192.0.2.2:443");
    tern_addr v6 = addr("[2001:db8::1]:443"), v6b = addr("[2001:db8::1]:9"),
              v6c = addr("[2001:db8::2]:443");
    tern_addr mapped = addr("[::ffff:192.0.2.1]:443");
    assert_true(tern_addr_same_ip(&v4, &v4b));
    assert_false(tern_addr_same_ip(&v4, &v4c));
    assert_true(tern_addr_same_ip(&v6, &v6b));
    assert_false(tern_addr_same_ip(&v6, &v6c));
    /* another family is another network, even an IPv4-mapped form of the same address */
    assert_false(tern_addr_same_ip(&v4, &mapped));
    assert_false(tern_addr_same_ip(&mapped, &v4));
    assert_false(tern_addr_same_ip(&v4, &v6));
    /* no address at all is nobody's IP, not even its own */
    tern_addr none;
    memset(&none, 0, sizeof(none));
    assert_false(tern_addr_same_ip(&none, &none));

    tern_path_addr a = {v6, v4}, b = {v6b, v4b}, c = {v6c, v4};
    assert_true(tern_path_only_port_changed(&a, &b));
    assert_false(tern_path_only_port_changed(&a, &c));
}

static void test_cache_ipv6(void **st)
{
    (void)st;
    tern_path_cache pc;
    memset(&pc, 0, sizeof(pc));
    tern_path used = make_path("[2001:db8::10]:5000", "[2001:db8::1]:443");
    tern_rtt_update(&used.rtt, 70 * MS, 0, 0, 0, 1 * SEC);
    used.cc.cwnd = 500000;
    used.cc.bytes_in_flight = 4000;
    /* saved at time 0 still counts as saved */
    tern_path_cache_save(&pc, &used, 0);

    /* an IPv4 path with nothing in common: nothing */
    tern_path v4 = make_path("10.0.0.1:5000", "192.0.2.1:443");
    assert_int_equal(tern_path_cache_restore(&pc, &v4, 600 * SEC, 30 * SEC, 1 * SEC), 0);
    assert_false(v4.rtt.has_sample);
    /* another local IPv6 address: another network */
    tern_path other = make_path("[2001:db8::11]:5000", "[2001:db8::1]:443");
    assert_int_equal(tern_path_cache_restore(&pc, &other, 600 * SEC, 30 * SEC, 1 * SEC), 0);

    /* another port of the same addresses: RTT and window (bytes in flight its own) */
    tern_path fresh = make_path("[2001:db8::10]:6000", "[2001:db8::1]:443");
    fresh.cc.bytes_in_flight = 77;
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 1 * SEC), 2);
    assert_int_equal(fresh.rtt.smoothed, used.rtt.smoothed);
    assert_int_equal(fresh.cc.cwnd, 500000);
    assert_int_equal(fresh.cc.bytes_in_flight, 77);
    assert_int_equal(fresh.restored_cwnd, 500000);

    /* a cached window smaller than the new path's initial one is not restored: RTT only */
    used.cc.cwnd = 2000;
    tern_path_cache_save(&pc, &used, 2 * SEC); /* replaces the entry of the same network */
    fresh = make_path("[2001:db8::10]:6001", "[2001:db8::1]:443");
    uint64_t initial = fresh.cc.cwnd;
    assert_true(initial > 2000);
    assert_int_equal(tern_path_cache_restore(&pc, &fresh, 600 * SEC, 30 * SEC, 3 * SEC), 1);
    assert_true(fresh.rtt.has_sample);
    assert_int_equal(fresh.cc.cwnd, initial);
    assert_int_equal(fresh.restored, 1);
    int entries = 0;
    for (int i = 0; i < TERN_PATH_CACHE; i++)
        entries += pc.e[i].saved_at != 0;
    assert_int_equal(entries, 1);
}

static void test_challenges_and_responses_bounded(void **st)
{
    (void)st;
    tern_path p = make_path("[2001:db8::10]:5000", "[2001:db8::1]:443");
    uint8_t v[TERN_PATH_CHALLENGES + 2][8];
    for (int i = 0; i < TERN_PATH_CHALLENGES + 2; i++) {
        memset(v[i], 0x10 + i, 8);
        tern_path_on_challenge_sent(&p, v[i], (tern_tstamp)((unsigned)i + 1u) * MS);
    }
    assert_int_equal(p.nchallenge, TERN_PATH_CHALLENGES);
    tern_tstamp at = 0;
    /* the oldest ones were forgotten: their answers validate nothing */
    assert_int_equal(tern_path_on_response(&p, v[0], &at), 0);
    assert_int_equal(tern_path_on_response(&p, v[1], &at), 0);
    assert_int_equal(at, 0);
    /* an answer to one remembered gives its send time and ends the round */
    assert_int_equal(tern_path_on_response(&p, v[3], &at), 1);
    assert_int_equal(at, 4 * MS);
    assert_int_equal(p.nchallenge, 0);
    assert_int_equal(tern_path_on_response(&p, v[4], &at), 0);

    for (int i = 0; i < TERN_PATH_RESPONSES + 3; i++) {
        uint8_t d[8];
        memset(d, 0x40 + i, 8);
        tern_path_queue_response(&p, d);
    }
    assert_int_equal(p.nresponse, TERN_PATH_RESPONSES);
    /* the latest ones are owed, oldest first */
    assert_int_equal(p.response[0][0], 0x40 + 3);
    assert_int_equal(p.response[TERN_PATH_RESPONSES - 1][0], 0x40 + TERN_PATH_RESPONSES + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_ip),
        cmocka_unit_test(test_cache_ipv6),
        cmocka_unit_test(test_challenges_and_responses_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
