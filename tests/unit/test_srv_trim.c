/* tern-server's trim policy (tools/server/trim.c): freed memory goes back once a burst of
 * connections is over, at most once a second, and never during a steady trickle of short
 * connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/trim.h"

#define SEC 1000000000ull

static void test_burst_over(void **st)
{
    (void)st;
    srv_trim t = {0};
    uint64_t now = 5 * SEC;
    /* 1000 connections open; nothing closed yet */
    for (size_t live = 1; live <= 1000; live++)
        assert_int_equal(srv_trim_due(&t, live, now), 0);
    /* they close: no trim while more than half are open */
    size_t live = 1000;
    for (; live > 500; live--) {
        srv_trim_note_close(&t);
        assert_int_equal(srv_trim_due(&t, live - 1, now), live - 1 == 500);
    }
    /* trimmed once; the rest closing within the second does not trim again */
    for (; live > 0; live--) {
        srv_trim_note_close(&t);
        assert_int_equal(srv_trim_due(&t, live - 1, now + SEC / 2), 0);
    }
    /* a second later, with none left open: the rest goes back */
    assert_int_equal(srv_trim_due(&t, 0, now + SEC), 1);
    /* and an idle server does not trim again and again */
    assert_int_equal(srv_trim_due(&t, 0, now + 5 * SEC), 0);
}

static void test_steady_trickle(void **st)
{
    (void)st;
    srv_trim t = {0};
    uint64_t now = SEC;
    /* 16 open at any time, thousands come and go: never a trim */
    int trims = 0;
    for (uint64_t i = 0; i < 5000; i++) {
        srv_trim_note_close(&t);
        trims += srv_trim_due(&t, 15 + (size_t)(i % 2), now + i * (SEC / 100));
    }
    assert_int_equal(trims, 0);
    /* a few closed out of a small peak: not worth a trim while some are open */
    srv_trim u = {0};
    assert_int_equal(srv_trim_due(&u, 10, now), 0);
    for (int i = 0; i < 8; i++)
        srv_trim_note_close(&u);
    assert_int_equal(srv_trim_due(&u, 2, now + 2 * SEC), 0);
    /* but the last one closing empties the server: trimmed */
    srv_trim_note_close(&u);
    srv_trim_note_close(&u);
    assert_int_equal(srv_trim_due(&u, 0, now + 2 * SEC), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_over),
        cmocka_unit_test(test_steady_trickle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
