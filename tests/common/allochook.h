/* Counting and failing the allocations of a test program, to measure what the library allocates
 * and to reach its out-of-memory paths. Include it in exactly one file of the program: it replaces
 * malloc, calloc and realloc. The sanitizers own the allocator, so under them ALLOCHOOK_ACTIVE is
 * 0, nothing is replaced and the tests that need the hook skip.
 *
 * With ALLOCHOOK_BYTES defined before including it, free is replaced too and the heap held by
 * tagged allocations is measured: every block allocated while allochook_tag is set (for instance
 * around the calls into one side of a test, the server) is remembered, and allochook_bytes holds
 * what those blocks still occupy (usable size plus the allocator's 8-byte header), whoever frees
 * them, until they are freed. */
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

static void allochook_track(void *q)
{
    if (!allochook_set) {
        void *m = mmap(NULL, ALLOCHOOK_SET * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            abort();
        allochook_set = m;
    }
    if (allochook_blocks >= (long long)ALLOCHOOK_SET / 2)
        abort(); /* the set is sized for far more than any test holds */
    size_t i = allochook_slot(q);
    while (allochook_set[i])
        i = (i + 1) & (ALLOCHOOK_SET - 1);
    allochook_set[i] = q;
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
#define ALLOCHOOK_NOTE(p) (allochook_tag && (p) ? allochook_track(p) : (void)0)
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
        allochook_track(p);
    else if (!p && was && n)
        allochook_track(q); /* it failed: q is still there */
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
#endif

#endif
