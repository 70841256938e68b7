/* QUIC variable-length integers (RFC 9000 §16) and a bounds-checked byte reader. */
#ifndef TERN_CORE_VARINT_H
#define TERN_CORE_VARINT_H

#include "common.h"

/* Bytes needed to encode v (1, 2, 4 or 8); 0 when v > 2^62-1. */
size_t tern_varint_len(uint64_t v);

/* Writes v at p using the shortest encoding; returns p advanced. Caller guarantees room and v valid. */
uint8_t *tern_varint_put(uint8_t *p, uint64_t v);

/* Writes v at p using exactly `len` bytes (1, 2, 4, 8); v must fit. Returns p advanced. */
uint8_t *tern_varint_put_n(uint8_t *p, uint64_t v, size_t len);

/* Bounds-checked reader. All getters return 0 on success, -1 when the input is too short
 * (the reader is then left unchanged). */
typedef struct tern_rd {
    const uint8_t *p;
    const uint8_t *end;
} tern_rd;

static inline size_t tern_rd_left(const tern_rd *r) { return (size_t)(r->end - r->p); }
int tern_rd_varint(tern_rd *r, uint64_t *v);
int tern_rd_u8(tern_rd *r, uint8_t *v);
int tern_rd_u16(tern_rd *r, uint16_t *v);
int tern_rd_u32(tern_rd *r, uint32_t *v);
/* Points *out at the next n bytes and skips them (no copy). */
int tern_rd_bytes(tern_rd *r, size_t n, const uint8_t **out);

/* Big-endian stores. */
static inline uint8_t *tern_put_u8(uint8_t *p, uint8_t v) { *p = v; return p + 1; }
static inline uint8_t *tern_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return p + 2; }
static inline uint8_t *tern_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
    return p + 4;
}
static inline uint32_t tern_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
