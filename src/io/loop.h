/* Event loop primitives of the runtime: the monotonic clock, an epoll set and a binary min-heap of
 * timers (one per connection, keyed by the connection's next deadline). */
#ifndef TERN_IO_LOOP_H
#define TERN_IO_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#define TERN_LOOP_NO_TIMER UINT64_MAX
#define TERN_LOOP_NOT_QUEUED SIZE_MAX

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t tern_loop_now(void);

/* Embedded in whatever needs a deadline. */
typedef struct tern_timer {
    uint64_t at;
    size_t idx; /* position in the heap, TERN_LOOP_NOT_QUEUED when not armed */
} tern_timer;

typedef struct tern_timer_heap {
    tern_timer **h;
    size_t n, cap;
} tern_timer_heap;

void tern_timer_init(tern_timer *t);
void tern_heap_init(tern_timer_heap *hp);
void tern_heap_free(tern_timer_heap *hp);
/* Makes room for `n` armed timers, so that arming any of them later cannot fail. Returns 0 or
 * TERN_ERR_NOMEM (nothing changed). */
int tern_heap_reserve(tern_timer_heap *hp, size_t n);
/* Arms, moves or (at == TERN_LOOP_NO_TIMER) disarms `t`. O(log n). Returns 0 or TERN_ERR_NOMEM
 * (the timer is then left disarmed); never fails while the armed timers fit what was reserved. */
int tern_heap_set(tern_timer_heap *hp, tern_timer *t, uint64_t at);
/* The earliest timer, or NULL. */
static inline tern_timer *tern_heap_top(const tern_timer_heap *hp)
{
    return hp->n ? hp->h[0] : NULL;
}

typedef struct tern_loop {
    int epfd;
    tern_timer_heap timers;
} tern_loop;

/* Returns 0 or TERN_ERR_IO. */
int tern_loop_init(tern_loop *l);
void tern_loop_free(tern_loop *l);
/* Registers / changes / removes fd (level-triggered) with `events` (EPOLLIN, EPOLLOUT) and a tag.
 * Return 0 or TERN_ERR_IO. */
int tern_loop_add(tern_loop *l, int fd, uint32_t events, void *tag);
int tern_loop_mod(tern_loop *l, int fd, uint32_t events, void *tag);
void tern_loop_del(tern_loop *l, int fd);
/* Waits for events until `deadline` (absolute ns; 0 = poll, TERN_LOOP_NO_TIMER = forever). Returns
 * the number of events (0 on timeout or signal) or TERN_ERR_IO. */
int tern_loop_wait(tern_loop *l, struct epoll_event *ev, int max, uint64_t deadline);

#endif
