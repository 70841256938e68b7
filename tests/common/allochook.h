/* Counting and failing the allocations of a test program, to measure what the library allocates
 * and to reach its out-of-memory paths. Include it in exactly one file of the program: it replaces
 * malloc, calloc and realloc. The sanitizers own the allocator, so under them ALLOCHOOK_ACTIVE is
 * 0, nothing is replaced and the tests that need the hook skip.
 *
 * With ALLOCHOOK_BYTES defined before including it, free is replaced too and the heap held by
 * tagged allocations is measured: every block allocated while allochook_tag is set (for instance
 * around the calls into one side of a test, the server) is remembered, and allochook_bytes holds
 * what those blocks still occupy (usable size plus the allocator's 8-byte header), whoever frees
 * them, until they are freed.
 *
 * With ALLOCHOOK_SITES defined as well, and allochook_sites_on set, each measured block remembers
 * where it was allocated (the first frames of its call stack), and allochook_print_sites()
 * reports the heap still held per allocation site, biggest first: the first frame in the program itself (the library is linked
 * in; GnuTLS and nettle are not), as an offset addr2line resolves, and the shared library's
 * function that called malloc when it was not the program. */
#ifndef TERN_TEST_ALLOCHOOK_H
#define TERN_TEST_ALLOCHOOK_H

#include <stddef.h>
#include <stdlib.h> /* the prototypes of what it replaces */

#define ALLOCHOOK_ACTIVE 1
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#undef ALLOCHOOK_ACTIVE
#define ALLOCHOOK_ACTIVE 0
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#undef ALLOCHOOK_ACTIVE
#define ALLOCHOOK_ACTIVE 0
#endif

#if ALLOCHOOK_ACTIVE
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *q, size_t n);

static unsigned long long allochook_count; /* allocations so far */
static int allochook_fail_next;           /* the next allocation fails */
/* >= 0: that many allocations succeed, the one after fails, then the hook disarms (-1 again) */
static long allochook_fail_after = -1;
/* When set, only allocations whose caller (a code address) it accepts count for and may be failed
 * by allochook_fail_after; allochook_eligible counts those. Some libraries under GnuTLS abort or
 * crash when their own allocations fail, which is theirs to fix, not ours to test. */
static int (*allochook_filter)(void *caller);
static unsigned long long allochook_eligible;

static int allochook_take(void *caller)
{
    allochook_count++;
    if (allochook_filter && !allochook_filter(caller))
        return 1;
    allochook_eligible++;
    if (allochook_fail_after > 0) {
        allochook_fail_after--;
        return 1;
    }
    if (allochook_fail_after == 0) {
        allochook_fail_after = -1;
        return 0;
    }
    if (!allochook_fail_next)
        return 1;
    allochook_fail_next = 0;
    return 0;
}

#ifdef ALLOCHOOK_BYTES
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>

extern void __libc_free(void *q);

static int allochook_tag;           /* allocations made while set are measured */
static long long allochook_bytes;   /* heap held by measured blocks still allocated */
static long long allochook_blocks;  /* how many */

/* The measured blocks: an open-addressing set of addresses (linear probing, deletion by
 * backward shift), in pages of its own so that it never allocates through the hook. */
#define ALLOCHOOK_SET (1u << 21)
static void **allochook_set;

static size_t allochook_slot(const void *q)
{
    return (size_t)(((uintptr_t)q >> 4) * 0x9E3779B97F4A7C15ull >> 43) & (ALLOCHOOK_SET - 1);
}

#ifndef ALLOCHOOK_SITES
#define allochook_note_site(i, caller) ((void)(caller))
#else
#include <dlfcn.h> /* dladdr: the program's includer defines _GNU_SOURCE first */
#include <execinfo.h>
#include <stdio.h>
#include <string.h>
#define ALLOCHOOK_DEPTH 10
/* per slot of allochook_set: the program's frame and the frame that called malloc */
static void *(*allochook_site)[2];
static int allochook_sites_on; /* set by the program: unwinding every allocation is slow */

static void allochook_note_site(size_t i, void *caller)
{
    void *bt[ALLOCHOOK_DEPTH];
    allochook_site[i][0] = allochook_site[i][1] = NULL;
    if (!allochook_sites_on)
        return;
    int n = backtrace(bt, ALLOCHOOK_DEPTH), k = 0;
    Dl_info self, di;
    void *own = NULL;
    while (k < n && bt[k] != caller)
        k++; /* the frames of the hook itself */
    if (k == n)
        k = 0;
    if (dladdr((void *)allochook_note_site, &self))
        for (; k < n && !own; k++)
            if (dladdr(bt[k], &di) && di.dli_fbase == self.dli_fbase)
                own = bt[k];
    allochook_site[i][0] = own;
    allochook_site[i][1] = caller;
}

/* Prints, to stderr, the heap held by measured blocks per site, biggest first (at most `max`
 * sites), divided by `per` (e.g. the number of connections): "own_offset caller bytes blocks". */
static void allochook_print_sites(int max, long long per)
{
    enum { SITES = 4096 };
    static struct { void *own, *caller; long long bytes, blocks; } agg[SITES];
    size_t nagg = 0;
    memset(agg, 0, sizeof(agg));
    for (size_t i = 0; allochook_set && i < ALLOCHOOK_SET; i++) {
        if (!allochook_set[i])
            continue;
        void *own = allochook_site[i][0], *caller = allochook_site[i][1];
        if (own == caller)
            caller = NULL; /* the program called malloc itself */
        size_t k = 0;
        while (k < nagg && (agg[k].own != own || agg[k].caller != caller))
            k++;
        if (k == nagg) {
            if (nagg == SITES)
                continue;
            agg[nagg].own = own;
            agg[nagg++].caller = caller;
        }
        agg[k].bytes += (long long)malloc_usable_size(allochook_set[i]) + 8;
        agg[k].blocks++;
    }
    for (int shown = 0; shown < max; shown++) {
        size_t best = nagg;
        for (size_t k = 0; k < nagg; k++)
            if (agg[k].blocks && (best == nagg || agg[k].bytes > agg[best].bytes))
                best = k;
        if (best == nagg)
            break;
        Dl_info own, caller;
        const char *cname = "-";
        uintptr_t off = 0;
        if (agg[best].own && dladdr(agg[best].own, &own))
            off = (uintptr_t)agg[best].own - (uintptr_t)own.dli_fbase;
        if (agg[best].caller && dladdr(agg[best].caller, &caller) && caller.dli_sname)
            cname = caller.dli_sname;
        fprintf(stderr, "site 0x%lx %-28s %8lld B %6.2f blocks\n", (unsigned long)off, cname,
                agg[best].bytes / per, (double)agg[best].blocks / (double)per);
        agg[best].blocks = 0;
    }
}
#endif

static void allochook_track(void *q, void *caller)
{
    if (!allochook_set) {
        void *m = mmap(NULL, ALLOCHOOK_SET * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            abort();
        allochook_set = m;
#ifdef ALLOCHOOK_SITES
        m = mmap(NULL, ALLOCHOOK_SET * sizeof(*allochook_site), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            abort();
        allochook_site = m;
        /* backtrace's first call loads the unwinder, which allocates: not measured */
        int tag = allochook_tag;
        allochook_tag = 0;
        void *bt[1];
        backtrace(bt, 1);
        allochook_tag = tag;
#endif
    }
    if (allochook_blocks >= (long long)ALLOCHOOK_SET / 2)
        abort(); /* the set is sized for far more than any test holds */
    size_t i = allochook_slot(q);
    while (allochook_set[i])
        i = (i + 1) & (ALLOCHOOK_SET - 1);
    allochook_set[i] = q;
    allochook_note_site(i, caller);
    allochook_blocks++;
    allochook_bytes += (long long)malloc_usable_size(q) + 8;
}

/* Forgets q when it is measured; returns 1 then. */
static int allochook_untrack(void *q)
{
    if (!allochook_set || !allochook_blocks)
        return 0;
    size_t i = allochook_slot(q);
    while (allochook_set[i] && allochook_set[i] != q)
        i = (i + 1) & (ALLOCHOOK_SET - 1);
    if (!allochook_set[i])
        return 0;
    allochook_blocks--;
    allochook_bytes -= (long long)malloc_usable_size(q) + 8;
    /* backward shift: entries after the hole that probed past it move into it */
    size_t hole = i;
    for (size_t j = (i + 1) & (ALLOCHOOK_SET - 1); allochook_set[j];
         j = (j + 1) & (ALLOCHOOK_SET - 1)) {
        size_t home = allochook_slot(allochook_set[j]);
        if (((j - home) & (ALLOCHOOK_SET - 1)) >= ((j - hole) & (ALLOCHOOK_SET - 1))) {
            allochook_set[hole] = allochook_set[j];
#ifdef ALLOCHOOK_SITES
            allochook_site[hole][0] = allochook_site[j][0];
            allochook_site[hole][1] = allochook_site[j][1];
#endif
            hole = j;
        }
    }
    allochook_set[hole] = NULL;
    return 1;
}

void free(void *q)
{
    if (q)
        allochook_untrack(q);
    __libc_free(q);
}
#define ALLOCHOOK_NOTE(p)                                                                          \
    (allochook_tag && (p) ? allochook_track(p, __builtin_return_address(0)) : (void)0)
#else
#define ALLOCHOOK_NOTE(p) ((void)0)
#endif

void *malloc(size_t n)
{
    if (!allochook_take(__builtin_return_address(0)))
        return NULL;
    void *p = __libc_malloc(n);
    ALLOCHOOK_NOTE(p);
    return p;
}
void *calloc(size_t n, size_t m)
{
    if (!allochook_take(__builtin_return_address(0)))
        return NULL;
    void *p = __libc_calloc(n, m);
    ALLOCHOOK_NOTE(p);
    return p;
}
void *realloc(void *q, size_t n)
{
    if (!allochook_take(__builtin_return_address(0)))
        return NULL;
#ifdef ALLOCHOOK_BYTES
    /* a measured block stays measured when it moves or grows, whoever grows it */
    int was = q && allochook_untrack(q);
    void *p = __libc_realloc(q, n);
    if (p && (was || allochook_tag))
        allochook_track(p, __builtin_return_address(0));
    else if (!p && was && n)
        allochook_track(q, __builtin_return_address(0)); /* it failed: q is still there */
    return p;
#else
    return __libc_realloc(q, n);
#endif
}
#else
/* Nothing is counted or failed; the names exist so that tests compile and skip at run time. */
static unsigned long long allochook_count __attribute__((unused));
static int allochook_fail_next __attribute__((unused));
static long allochook_fail_after __attribute__((unused)) = -1;
static int (*allochook_filter)(void *caller) __attribute__((unused));
static unsigned long long allochook_eligible __attribute__((unused));
#ifdef ALLOCHOOK_BYTES
static int allochook_tag __attribute__((unused));
static long long allochook_bytes __attribute__((unused));
static long long allochook_blocks __attribute__((unused));
#endif
#ifdef ALLOCHOOK_SITES
static int allochook_sites_on __attribute__((unused));
static void allochook_print_sites(int max, long long per) __attribute__((unused));
static void allochook_print_sites(int max, long long per)
{
    (void)max;
    (void)per;
}
#endif
#endif

#endif
