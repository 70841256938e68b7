/* What the fuzz targets share: the check that aborts (so libFuzzer keeps the input), reading a
 * 16-bit length from a script, and the invariants of a connection's close. */
#ifndef TERN_FUZZ_COMMON_H
#define TERN_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>

#include "conn_test.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MS 1000000ull

/* A big-endian 16-bit length at data[*i], cut to what is left after it; SIZE_MAX when the two
 * bytes are missing (the script ends). */
static inline size_t fuzz_take16(const uint8_t *data, size_t size, size_t *i)
{
    if (*i + 2 > size)
        return SIZE_MAX;
    size_t n = (size_t)data[*i] << 8 | data[*i + 1];
    *i += 2;
    return n > size - *i ? size - *i : n;
}

/* A closing connection never reports an internal error, and a close it decided on for a protocol
 * reason names a transport error. */
static inline void fuzz_check_close(tern_conn *c)
{
    if (!c || tern_conn_state(c) < TERN_CS_CLOSING)
        return;
    const tern_close_info *ci = tern_conn_close_info(c);
    CHECK(ci->status != TERN_ERR_INTERNAL);
    if (ci->local && !ci->app && ci->status == TERN_ERR_PROTO)
        CHECK(ci->error_code != 0);
}

#endif
