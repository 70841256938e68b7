/* A bounded set of disjoint half-open ranges [lo, hi) of uint64, kept sorted ascending. Used for
 * received packet numbers, acknowledged and lost stream bytes, and out-of-order received bytes. The
 * array grows by doubling up to `max` ranges (never per packet); past that, inserts that would need a
 * new range fail so that a peer cannot make us store unbounded state. */
#ifndef TERN_CORE_RANGES_H
#define TERN_CORE_RANGES_H

#include "common.h"

typedef struct tern_range {
    uint64_t lo, hi; /* [lo, hi) */
} tern_range;

typedef struct tern_ranges {
    tern_range *r;
    uint32_t n, cap, max;
} tern_ranges;

void tern_ranges_init(tern_ranges *s, uint32_t max);
/* Makes room for `cap` ranges (at most `max`) at once. Returns 0 or TERN_ERR_NOMEM (unchanged). */
int tern_ranges_reserve(tern_ranges *s, uint32_t cap);
void tern_ranges_free(tern_ranges *s);

/* Adds [lo, hi), merging with neighbours. Returns 0, or TERN_ERR_NOMEM when a new range is needed and
 * the set already has `max` ranges (or allocation failed); the set is then unchanged. */
int tern_ranges_add(tern_ranges *s, uint64_t lo, uint64_t hi);

/* Removes [lo, hi) (may split a range). Returns 0 or TERN_ERR_NOMEM (split impossible at max). */
int tern_ranges_remove(tern_ranges *s, uint64_t lo, uint64_t hi);

/* Removes everything below `v`. */
void tern_ranges_remove_below(tern_ranges *s, uint64_t v);

/* 1 when every value of [lo, hi) is in the set. */
int tern_ranges_contains(const tern_ranges *s, uint64_t lo, uint64_t hi);

/* 1 when any value of [lo, hi) is in the set. */
int tern_ranges_intersects(const tern_ranges *s, uint64_t lo, uint64_t hi);

/* Smallest lo (UINT64_MAX when empty) / the first range (NULL when empty). */
static inline const tern_range *tern_ranges_first(const tern_ranges *s) { return s->n ? &s->r[0] : NULL; }
static inline const tern_range *tern_ranges_last(const tern_ranges *s) { return s->n ? &s->r[s->n - 1] : NULL; }

#endif
