/* Counting and failing the allocations of a test program, to measure what the library allocates
 * and to reach its out-of-memory paths. Include it in exactly one file of the program: it replaces
 * malloc, calloc and realloc. The sanitizers own the allocator, so under them ALLOCHOOK_ACTIVE is
 * 0, nothing is replaced and the tests that need the hook skip. */
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

void *malloc(size_t n)
{
    return allochook_take(__builtin_return_address(0)) ? __libc_malloc(n) : NULL;
}
void *calloc(size_t n, size_t m)
{
    return allochook_take(__builtin_return_address(0)) ? __libc_calloc(n, m) : NULL;
}
void *realloc(void *q, size_t n)
{
    return allochook_take(__builtin_return_address(0)) ? __libc_realloc(q, n) : NULL;
}
#else
/* Nothing is counted or failed; the names exist so that tests compile and skip at run time. */
static unsigned long long allochook_count __attribute__((unused));
static int allochook_fail_next __attribute__((unused));
static long allochook_fail_after __attribute__((unused)) = -1;
static int (*allochook_filter)(void *caller) __attribute__((unused));
static unsigned long long allochook_eligible __attribute__((unused));
#endif

#endif
