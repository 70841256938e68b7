/* Tagged test datagrams (see dgramfx.h). */
#include "dgramfx.h"

#include <string.h>

size_t dgramfx_make(uint64_t tag, size_t len, uint8_t *out)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(tag >> (56 - 8 * i));
    for (size_t i = 8; i < len; i++)
        out[i] = (uint8_t)(tag * 131 + i);
    return len;
}

int dgramfx_parse(const uint8_t *data, size_t len, uint64_t *tag)
{
    uint8_t want[DGRAMFX_MAX];
    if (len < 8 || len > sizeof(want))
        return 0;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | data[i];
    *tag = t;
    return memcmp(data, want, dgramfx_make(t, len, want)) == 0;
}

uint64_t dgramfx_hash(const uint8_t *data, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}
