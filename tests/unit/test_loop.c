/* Timer heap (against a brute-force minimum) and the epoll wait deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <unistd.h>

#include "io/loop.h"
#include "tern/tern.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_heap_random(void **st)
{
    enum { N = 300 };
    tern_timer t[N];
    tern_timer_heap hp;
    tern_heap_init(&hp);
    for (int i = 0; i < N; i++)
        tern_timer_init(&t[i]);
    for (int step = 0; step < 20000; step++) {
        tern_timer *x = &t[xr() % N];
        uint64_t r = xr() % 10;
        uint64_t at = r == 0 ? TERN_LOOP_NO_TIMER : xr() % 1000;
        assert_int_equal(tern_heap_set(&hp, x, at), 0);
        assert_int_equal(x->at, at);
        /* brute force: the smallest armed deadline */
        uint64_t min = TERN_LOOP_NO_TIMER;
        size_t armed = 0;
        for (int i = 0; i < N; i++) {
            if (t[i].idx != TERN_LOOP_NOT_QUEUED) {
                armed++;
                assert_ptr_equal(hp.h[t[i].idx], &t[i]);
                if (t[i].at < min)
                    min = t[i].at;
            } else {
                assert_int_equal(t[i].at, TERN_LOOP_NO_TIMER);
            }
        }
        assert_int_equal(armed, hp.n);
        tern_timer *top = tern_heap_top(&hp);
        if (armed)
            assert_int_equal(top->at, min);
        else
            assert_null(top);
        /* sometimes pop everything due, like the loop does */
        if (step % 97 == 0) {
            uint64_t now = xr() % 1000, last = 0;
            while ((top = tern_heap_top(&hp)) && top->at <= now) {
                assert_true(top->at >= last);
                last = top->at;
                tern_heap_set(&hp, top, TERN_LOOP_NO_TIMER);
            }
        }
    }
    tern_heap_free(&hp);
    for (int i = 0; i < N; i++)
        assert_int_equal(t[i].idx, TERN_LOOP_NOT_QUEUED);
}

/* After a reservation, arming that many timers never allocates (so it cannot fail). */
static void test_heap_reserve(void **st)
{
    enum { N = 1000 };
    tern_timer_heap hp;
    tern_heap_init(&hp);
    static tern_timer t[N];
    assert_int_equal(tern_heap_reserve(&hp, N), 0);
    tern_timer **array = hp.h;
    size_t cap = hp.cap;
    assert_true(cap >= N);
    for (int i = 0; i < N; i++) {
        tern_timer_init(&t[i]);
        assert_int_equal(tern_heap_set(&hp, &t[i], (uint64_t)(N - i)), 0);
    }
    assert_ptr_equal(hp.h, array);
    assert_int_equal(hp.cap, cap);
    assert_int_equal(hp.n, N);
    assert_ptr_equal(tern_heap_top(&hp), &t[N - 1]);
    /* a smaller reservation changes nothing */
    assert_int_equal(tern_heap_reserve(&hp, 10), 0);
    assert_ptr_equal(hp.h, array);
    tern_heap_free(&hp);
}

static void test_wait(void **st)
{
    tern_loop l;
    assert_int_equal(tern_loop_init(&l), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    int tag;
    assert_int_equal(tern_loop_add(&l, sv[0], EPOLLIN, &tag), 0);
    struct epoll_event ev[4];

    /* nothing readable: returns at the deadline, not before (and not much after) */
    uint64_t t0 = tern_loop_now();
    assert_int_equal(tern_loop_wait(&l, ev, 4, t0 + 20000000ull), 0);
    uint64_t dt = tern_loop_now() - t0;
    assert_true(dt >= 20000000ull);
    assert_true(dt < 500000000ull);
    assert_int_equal(tern_loop_wait(&l, ev, 4, 0), 0);  /* poll */
    assert_int_equal(tern_loop_wait(&l, ev, 4, t0), 0); /* past deadline: poll */

    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(tern_loop_wait(&l, ev, 4, TERN_LOOP_NO_TIMER), 1);
    assert_ptr_equal(ev[0].data.ptr, &tag);
    assert_true(ev[0].events & EPOLLIN);
    /* level-triggered until read; a change of interest is seen */
    assert_int_equal(tern_loop_mod(&l, sv[0], EPOLLOUT, &tag), 0);
    assert_int_equal(tern_loop_wait(&l, ev, 4, 0), 1);
    assert_true(ev[0].events & EPOLLOUT);
    assert_false(ev[0].events & EPOLLIN);
    tern_loop_del(&l, sv[0]);
    assert_int_equal(tern_loop_wait(&l, ev, 4, 0), 0);
    assert_int_equal(tern_loop_add(&l, -1, EPOLLIN, NULL), TERN_ERR_IO);
    close(sv[0]);
    close(sv[1]);
    tern_loop_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_random),
        cmocka_unit_test(test_heap_reserve),
        cmocka_unit_test(test_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
