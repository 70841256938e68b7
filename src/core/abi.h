/* The size rule of the public structs that cross the library boundary (tern.h, "Binary
 * compatibility"): a caller's struct is a prefix of ours, as long as the caller's header was, and
 * never longer. */
#ifndef TERN_CORE_ABI_H
#define TERN_CORE_ABI_H

#include <stddef.h>

/* 1 when `size` can be the size of a struct whose current layout is `max` bytes, aligned to
 * `align`, and whose oldest accepted layout is `min` bytes long. */
static inline int tern_abi_size_ok(size_t size, size_t min, size_t max, size_t align)
{
    return size >= min && size <= max && size % align == 0;
}

/* The end of member `m` of struct type `T`: the size of a layout that ends with it, before the
 * struct's tail padding. */
#define TERN_ABI_END(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))
/* The same, rounded up to the struct's alignment: sizeof of the layout that ended with `m`. */
#define TERN_ABI_SIZE_THROUGH(T, m)                                                                \
    ((TERN_ABI_END(T, m) + _Alignof(T) - 1) / _Alignof(T) * _Alignof(T))

#endif
