/* Types shared by every module of the sans-I/O core: timestamps, connection IDs, packet number
 * spaces and encryption levels. Nothing here allocates or performs I/O. */
#ifndef TERN_CORE_COMMON_H
#define TERN_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/core.h" /* tern_tstamp, TERN_TS_INF, tern_rand_fn */
#include "tern/tern.h"

#define TERN_NS_PER_MS 1000000ull
#define TERN_NS_PER_US 1000ull

#define TERN_MAX_CID_LEN 20
#define TERN_RESET_TOKEN_LEN 16
#define TERN_MIN_INITIAL_SIZE 1200
#define TERN_MAX_VARINT ((1ull << 62) - 1)

typedef struct tern_cid {
    uint8_t len;
    uint8_t data[TERN_MAX_CID_LEN];
} tern_cid;

static inline int tern_cid_eq(const tern_cid *a, const tern_cid *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static inline void tern_cid_set(tern_cid *c, const uint8_t *data, size_t len)
{
    c->len = (uint8_t)len;
    if (len)
        memcpy(c->data, data, len);
}

/* Encryption levels (TLS epochs). */
enum tern_level {
    TERN_LEVEL_INITIAL = 0,
    TERN_LEVEL_0RTT = 1,
    TERN_LEVEL_HANDSHAKE = 2,
    TERN_LEVEL_1RTT = 3,
    TERN_LEVEL_COUNT = 4
};

/* Packet number spaces. */
enum tern_pn_space {
    TERN_SPACE_INITIAL = 0,
    TERN_SPACE_HANDSHAKE = 1,
    TERN_SPACE_APP = 2,
    TERN_SPACE_COUNT = 3
};

/* The packet number space of an encryption level (0-RTT and 1-RTT share the application's). */
static inline int tern_level_space(int level)
{
    return level == TERN_LEVEL_INITIAL     ? TERN_SPACE_INITIAL
           : level == TERN_LEVEL_HANDSHAKE ? TERN_SPACE_HANDSHAKE
                                           : TERN_SPACE_APP;
}

#define TERN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TERN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TERN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
