/* When tern-server gives freed memory back to the system. glibc keeps what a burst of
 * connections freed (and, trimming the top of the heap on every large enough free, would fault
 * the same pages in again at the next burst): free() no longer trims, and the server trims in
 * one go once a burst is over. */
#include <malloc.h>

#include "common/util.h"
#include "server/trim.h"

#define TRIM_MIN_CLOSED 64                /* connections closed since the last trim, at least */
#define TRIM_INTERVAL_NS 1000000000ull    /* at most one trim a second */
#define TRIM_THRESHOLD (64 * 1024 * 1024) /* free() leaves the heap's top alone below this */

void srv_trim_init(srv_trim *t)
{
    t->peak = 0;
    t->closed = 0;
    t->last_ns = 0;
    (void)mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
}

void srv_trim_note_close(srv_trim *t)
{
    t->closed++;
}

int srv_trim_due(srv_trim *t, size_t live, uint64_t now_ns)
{
    if (live > t->peak)
        t->peak = live;
    /* a burst is over once at least half of the connections it peaked at are gone (or all of
     * them, however few: an idle server holds nothing); a steady trickle never trims */
    int over = live == 0 ? t->closed > 0 : live <= t->peak / 2;
    if (!over || (live && t->closed < TRIM_MIN_CLOSED) ||
        (t->last_ns && now_ns - t->last_ns < TRIM_INTERVAL_NS))
        return 0;
    t->last_ns = now_ns;
    t->peak = live;
    t->closed = 0;
    return 1;
}

int srv_trim_maybe(srv_trim *t, size_t live, uint64_t now_ns)
{
    if (!srv_trim_due(t, live, now_ns))
        return 0;
    (void)malloc_trim(0);
    return 1;
}

static volatile sig_atomic_t *heap_flag;

static void on_heap_signal(int sig)
{
    (void)sig;
    if (heap_flag)
        *heap_flag = 1;
}

void srv_heap_report_signal(volatile sig_atomic_t *flag)
{
    heap_flag = flag;
    tool_set_signal(SIGUSR1, on_heap_signal, SA_RESTART);
}

void srv_heap_report(FILE *f, size_t conns)
{
    struct mallinfo2 mi = mallinfo2();

    fprintf(f, "heap: %zu bytes allocated, %zu connections\n", mi.uordblks + mi.hblkhd, conns);
    fflush(f);
}
