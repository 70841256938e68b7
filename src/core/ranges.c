/* Bounded sorted set of disjoint half-open ranges. Binary search finds the insertion point, so a
 * range set with many gaps costs O(log n) per lookup; inserts and removals shift the tail. */
#include "ranges.h"

#include <stdlib.h>

void tern_ranges_init(tern_ranges *s, uint32_t max)
{
    s->r = NULL;
    s->n = s->cap = 0;
    s->max = max ? max : 1;
}

void tern_ranges_free(tern_ranges *s)
{
    free(s->r);
    s->r = NULL;
    s->n = s->cap = 0;
}

/* First index whose hi >= v (ranges touching or after v). */
static uint32_t lower_bound_hi(const tern_ranges *s, uint64_t v)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].hi < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int tern_ranges_reserve(tern_ranges *s, uint32_t cap)
{
    if (cap > s->max)
        cap = s->max;
    if (cap <= s->cap)
        return 0;
    tern_range *nr = realloc(s->r, (size_t)cap * sizeof(*nr));
    if (!nr)
        return TERN_ERR_NOMEM;
    s->r = nr;
    s->cap = cap;
    return 0;
}

static int reserve_one(tern_ranges *s)
{
    if (s->n < s->cap)
        return 0;
    if (s->n >= s->max)
        return TERN_ERR_NOMEM;
    return tern_ranges_reserve(s, s->cap ? s->cap * 2 : 4);
}

int tern_ranges_add(tern_ranges *s, uint64_t lo, uint64_t hi)
{
    if (lo >= hi)
        return 0;
    uint32_t i = lower_bound_hi(s, lo); /* r[i].hi >= lo: may merge */
    if (i == s->n || s->r[i].lo > hi) {
        /* no overlap or adjacency: insert a new range at i */
        int rv = reserve_one(s);
        if (rv)
            return rv;
        memmove(&s->r[i + 1], &s->r[i], (size_t)(s->n - i) * sizeof(tern_range));
        s->r[i].lo = lo;
        s->r[i].hi = hi;
        s->n++;
        return 0;
    }
    /* merge r[i..j) where r[j-1].lo <= hi */
    uint32_t j = i;
    uint64_t nlo = TERN_MIN(lo, s->r[i].lo), nhi = hi;
    while (j < s->n && s->r[j].lo <= hi) {
        if (s->r[j].hi > nhi)
            nhi = s->r[j].hi;
        j++;
    }
    s->r[i].lo = nlo;
    s->r[i].hi = nhi;
    if (j > i + 1) {
        memmove(&s->r[i + 1], &s->r[j], (size_t)(s->n - j) * sizeof(tern_range));
        s->n -= j - i - 1;
    }
    return 0;
}

int tern_ranges_remove(tern_ranges *s, uint64_t lo, uint64_t hi)
{
    if (lo >= hi)
        return 0;
    uint32_t i = lower_bound_hi(s, lo + 1); /* first range with hi > lo */
    if (i < s->n && s->r[i].lo < lo && s->r[i].hi > hi) {
        /* strictly inside one range: split */
        int rv = reserve_one(s);
        if (rv)
            return rv;
        memmove(&s->r[i + 1], &s->r[i], (size_t)(s->n - i) * sizeof(tern_range));
        s->n++;
        s->r[i].hi = lo;
        s->r[i + 1].lo = hi;
        return 0;
    }
    uint32_t w = i;
    for (uint32_t k = i; k < s->n; k++) {
        tern_range cur = s->r[k];
        if (cur.lo >= hi) {
            s->r[w++] = cur;
            continue;
        }
        if (cur.lo < lo) { /* keep the left part */
            cur.hi = lo;
            s->r[w++] = cur;
        } else if (cur.hi > hi) { /* keep the right part */
            cur.lo = hi;
            s->r[w++] = cur;
        }
        /* else fully covered: dropped */
    }
    s->n = w;
    return 0;
}

void tern_ranges_remove_below(tern_ranges *s, uint64_t v)
{
    uint32_t i = lower_bound_hi(s, v + 1); /* first with hi > v */
    if (i > 0) {
        memmove(&s->r[0], &s->r[i], (size_t)(s->n - i) * sizeof(tern_range));
        s->n -= i;
    }
    if (s->n && s->r[0].lo < v)
        s->r[0].lo = v;
}

int tern_ranges_contains(const tern_ranges *s, uint64_t lo, uint64_t hi)
{
    if (lo >= hi)
        return 1;
    uint32_t i = lower_bound_hi(s, lo + 1);
    return i < s->n && s->r[i].lo <= lo && s->r[i].hi >= hi;
}

int tern_ranges_intersects(const tern_ranges *s, uint64_t lo, uint64_t hi)
{
    if (lo >= hi)
        return 0;
    uint32_t i = lower_bound_hi(s, lo + 1);
    return i < s->n && s->r[i].lo < hi;
}
