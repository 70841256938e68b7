/* QUIC variable-length integers (RFC 9000 §16) and the bounds-checked reader every parser uses.
 * Decoders accept non-minimal encodings; encoders always produce the shortest form unless a width
 * is forced (the Length field of long headers is reserved at 2 bytes before its value is known). */
#include "varint.h"

size_t tern_varint_len(uint64_t v)
{
    if (v < 0x40)
        return 1;
    if (v < 0x4000)
        return 2;
    if (v < 0x40000000)
        return 4;
    if (v <= TERN_MAX_VARINT)
        return 8;
    return 0;
}

uint8_t *tern_varint_put_n(uint8_t *p, uint64_t v, size_t len)
{
    switch (len) {
    case 1:
        p[0] = (uint8_t)v;
        return p + 1;
    case 2:
        p[0] = (uint8_t)(0x40 | (v >> 8));
        p[1] = (uint8_t)v;
        return p + 2;
    case 4:
        p[0] = (uint8_t)(0x80 | (v >> 24));
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
        return p + 4;
    default:
        p[0] = (uint8_t)(0xc0 | (v >> 56));
        p[1] = (uint8_t)(v >> 48);
        p[2] = (uint8_t)(v >> 40);
        p[3] = (uint8_t)(v >> 32);
        p[4] = (uint8_t)(v >> 24);
        p[5] = (uint8_t)(v >> 16);
        p[6] = (uint8_t)(v >> 8);
        p[7] = (uint8_t)v;
        return p + 8;
    }
}

uint8_t *tern_varint_put(uint8_t *p, uint64_t v)
{
    if (v < 0x40) {
        *p = (uint8_t)v;
        return p + 1;
    }
    return tern_varint_put_n(p, v, tern_varint_len(v));
}

int tern_rd_varint(tern_rd *r, uint64_t *v)
{
    const uint8_t *p = r->p;
    size_t left = (size_t)(r->end - p);
    if (left == 0)
        return -1;
    size_t n = (size_t)1 << (p[0] >> 6);
    if (left < n)
        return -1;
    uint64_t x = p[0] & 0x3f;
    for (size_t i = 1; i < n; i++)
        x = (x << 8) | p[i];
    *v = x;
    r->p = p + n;
    return 0;
}

int tern_rd_u8(tern_rd *r, uint8_t *v)
{
    if (r->p == r->end)
        return -1;
    *v = *r->p++;
    return 0;
}

int tern_rd_u16(tern_rd *r, uint16_t *v)
{
    if (tern_rd_left(r) < 2)
        return -1;
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return 0;
}

int tern_rd_u32(tern_rd *r, uint32_t *v)
{
    if (tern_rd_left(r) < 4)
        return -1;
    *v = tern_get_u32(r->p);
    r->p += 4;
    return 0;
}

int tern_rd_bytes(tern_rd *r, size_t n, const uint8_t **out)
{
    if (tern_rd_left(r) < n)
        return -1;
    *out = r->p;
    r->p += n;
    return 0;
}
