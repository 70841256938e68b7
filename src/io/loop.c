/* Clock, epoll set and timer heap. See loop.h. */
#define _GNU_SOURCE /* epoll_pwait2 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tern/tern.h"

uint64_t tern_loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tern_timer_init(tern_timer *t)
{
    t->at = TERN_LOOP_NO_TIMER;
    t->idx = TERN_LOOP_NOT_QUEUED;
}

void tern_heap_init(tern_timer_heap *hp)
{
    hp->h = NULL;
    hp->n = hp->cap = 0;
}

void tern_heap_free(tern_timer_heap *hp)
{
    for (size_t i = 0; i < hp->n; i++)
        hp->h[i]->idx = TERN_LOOP_NOT_QUEUED;
    free(hp->h);
    tern_heap_init(hp);
}

static void place(tern_timer_heap *hp, size_t i, tern_timer *t)
{
    hp->h[i] = t;
    t->idx = i;
}

static void sift_up(tern_timer_heap *hp, size_t i)
{
    tern_timer *t = hp->h[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (hp->h[parent]->at <= t->at)
            break;
        place(hp, i, hp->h[parent]);
        i = parent;
    }
    place(hp, i, t);
}

static void sift_down(tern_timer_heap *hp, size_t i)
{
    tern_timer *t = hp->h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= hp->n)
            break;
        if (c + 1 < hp->n && hp->h[c + 1]->at < hp->h[c]->at)
            c++;
        if (t->at <= hp->h[c]->at)
            break;
        place(hp, i, hp->h[c]);
        i = c;
    }
    place(hp, i, t);
}

static void heap_remove(tern_timer_heap *hp, tern_timer *t)
{
    size_t i = t->idx;
    t->idx = TERN_LOOP_NOT_QUEUED;
    hp->n--;
    if (i == hp->n)
        return;
    tern_timer *moved = hp->h[hp->n];
    place(hp, i, moved);
    if (i > 0 && hp->h[(i - 1) / 2]->at > moved->at)
        sift_up(hp, i);
    else
        sift_down(hp, i);
}

int tern_heap_reserve(tern_timer_heap *hp, size_t n)
{
    if (n <= hp->cap)
        return 0;
    size_t cap = hp->cap ? hp->cap : 64;
    while (cap < n)
        cap *= 2;
    tern_timer **h = realloc(hp->h, cap * sizeof(*h));
    if (!h)
        return TERN_ERR_NOMEM;
    hp->h = h;
    hp->cap = cap;
    return 0;
}

int tern_heap_set(tern_timer_heap *hp, tern_timer *t, uint64_t at)
{
    if (t->idx != TERN_LOOP_NOT_QUEUED) {
        if (at == TERN_LOOP_NO_TIMER) {
            heap_remove(hp, t);
            t->at = at;
            return 0;
        }
        uint64_t old = t->at;
        t->at = at;
        if (at < old)
            sift_up(hp, t->idx);
        else if (at > old)
            sift_down(hp, t->idx);
        return 0;
    }
    t->at = at;
    if (at == TERN_LOOP_NO_TIMER)
        return 0;
    if (hp->n == hp->cap && tern_heap_reserve(hp, hp->cap + 1)) {
        t->at = TERN_LOOP_NO_TIMER;
        return TERN_ERR_NOMEM;
    }
    place(hp, hp->n++, t);
    sift_up(hp, t->idx);
    return 0;
}

int tern_loop_init(tern_loop *l)
{
    tern_heap_init(&l->timers);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? TERN_ERR_IO : 0;
}

void tern_loop_free(tern_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
    tern_heap_free(&l->timers);
}

static int ctl(tern_loop *l, int op, int fd, uint32_t events, void *tag)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    return epoll_ctl(l->epfd, op, fd, &ev) == 0 ? 0 : TERN_ERR_IO;
}

int tern_loop_add(tern_loop *l, int fd, uint32_t events, void *tag)
{
    return ctl(l, EPOLL_CTL_ADD, fd, events, tag);
}

int tern_loop_mod(tern_loop *l, int fd, uint32_t events, void *tag)
{
    return ctl(l, EPOLL_CTL_MOD, fd, events, tag);
}

void tern_loop_del(tern_loop *l, int fd)
{
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int tern_loop_wait(tern_loop *l, struct epoll_event *ev, int max, uint64_t deadline)
{
    static _Atomic int no_pwait2; /* process-wide: the kernel either has it or not */
    int n;
    if (deadline == 0) {
        n = epoll_wait(l->epfd, ev, max, 0);
    } else if (deadline == TERN_LOOP_NO_TIMER) {
        n = epoll_wait(l->epfd, ev, max, -1);
    } else {
        uint64_t now = tern_loop_now();
        uint64_t d = deadline > now ? deadline - now : 0;
        n = -1;
        errno = ENOSYS;
        /* Nanosecond waits keep pacing and ACK timers precise; epoll_wait rounds up to 1 ms. */
        if (!no_pwait2) {
            struct timespec ts = {.tv_sec = (time_t)(d / 1000000000ull),
                                  .tv_nsec = (long)(d % 1000000000ull)};
            n = epoll_pwait2(l->epfd, ev, max, &ts, NULL);
            if (n < 0 && errno == ENOSYS)
                no_pwait2 = 1;
        }
        if (no_pwait2) {
            uint64_t ms = (d + 999999) / 1000000;
            n = epoll_wait(l->epfd, ev, max, ms > 3600000 ? 3600000 : (int)ms);
        }
    }
    if (n < 0)
        return errno == EINTR ? 0 : TERN_ERR_IO;
    return n;
}
