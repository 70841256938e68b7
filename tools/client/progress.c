/* Terminal progress bar for tern-client: percentage when the total size is known, bytes, rate and
 * files done; drawn in place with a carriage return so it never scrolls the terminal. */
#include <stdio.h>

#include "client/client.h"

#define DELAY_NS (500ull * 1000000ull)   /* short downloads never show a bar */
#define PERIOD_NS (100ull * 1000000ull) /* at most ten redraws a second */
#define BAR_WIDTH 24

void cl_progress_init(cl_progress *p, int enabled, uint64_t now_ns)
{
    p->enabled = enabled;
    p->drawn = 0;
    p->start_ns = now_ns;
    p->last_ns = 0;
}

static void human(char *buf, size_t cap, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void cl_progress_update(cl_progress *p, uint64_t now_ns, uint64_t done, uint64_t total,
                        size_t files_done, size_t files)
{
    char got[24], all[24], rate[24], bar[BAR_WIDTH + 1];
    double secs;

    if (!p->enabled || now_ns - p->start_ns < DELAY_NS || now_ns - p->last_ns < PERIOD_NS)
        return;
    p->last_ns = now_ns;
    secs = (double)(now_ns - p->start_ns) / 1e9;
    human(got, sizeof(got), (double)done);
    human(rate, sizeof(rate), secs > 0 ? (double)done / secs : 0);
    if (total > 0 && done <= total) {
        size_t fill = (size_t)((double)done / (double)total * BAR_WIDTH);
        for (size_t i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        human(all, sizeof(all), (double)total);
        fprintf(stderr, "\r[%s] %3.0f%% %s / %s  %s/s  %zu/%zu files\033[K", bar,
                (double)done * 100.0 / (double)total, got, all, rate, files_done, files);
    } else {
        fprintf(stderr, "\r%s  %s/s  %zu/%zu files\033[K", got, rate, files_done, files);
    }
    fflush(stderr);
    p->drawn = 1;
}

void cl_progress_clear(cl_progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
}
