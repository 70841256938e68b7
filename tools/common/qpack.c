/* QPACK without a dynamic table (see qpack.h): prefixed integers, the Huffman code of HPACK, the
 * static table, field sections and the checks of the peer's encoder and decoder streams. */
#include "common/qpack.h"

#include <string.h>

#define QPACK_INT_MAX ((UINT64_C(1) << 62) - 1)
/* A prefixed integer takes at most this many octets here: enough for any value up to 2^62 - 1
 * with any prefix, and a bound on the padding a peer may put in front of a small value. */
#define QPACK_INT_MAX_OCTETS 10
/* RFC 9114 §4.2.2: each field counts its name, its value and this overhead. */
#define QPACK_FIELD_OVERHEAD 32

/* ---- prefixed integers ---- */

/* The octets `v` takes as an integer with a `prefix`-bit prefix. */
static size_t int_len(int prefix, uint64_t v)
{
    uint64_t mask = (UINT64_C(1) << prefix) - 1;
    size_t len = 1;

    if (v < mask)
        return 1;
    for (v -= mask; v >= 0x80; v >>= 7)
        len++;
    return len + 1;
}

size_t tool_qpack_int_encode(uint8_t *out, size_t cap, uint8_t first, int prefix, uint64_t v)
{
    uint8_t mask = (uint8_t)((1u << prefix) - 1);
    size_t len = int_len(prefix, v), i = 0;

    if (len > cap)
        return 0;
    first &= (uint8_t)~mask;
    if (v < mask) {
        out[0] = first | (uint8_t)v;
        return 1;
    }
    out[i++] = first | mask;
    for (v -= mask; v >= 0x80; v >>= 7)
        out[i++] = (uint8_t)(0x80 | (v & 0x7f));
    out[i++] = (uint8_t)v;
    return i;
}

ssize_t tool_qpack_int_decode(const uint8_t *p, size_t len, int prefix, uint64_t *v)
{
    uint8_t mask = (uint8_t)((1u << prefix) - 1);
    uint64_t x;
    size_t i;

    if (len == 0)
        return 0;
    x = p[0] & mask;
    if (x < mask) {
        *v = x;
        return 1;
    }
    /* at most 9 continuation octets: the last one adds below 2^63, so x cannot wrap */
    for (i = 1; i < QPACK_INT_MAX_OCTETS; i++) {
        if (i == len)
            return 0;
        x += (uint64_t)(p[i] & 0x7f) << (7 * (i - 1));
        if (x > QPACK_INT_MAX)
            return TOOL_QPACK_ERR_MALFORMED;
        if (!(p[i] & 0x80)) {
            *v = x;
            return (ssize_t)(i + 1);
        }
    }
    return TOOL_QPACK_ERR_MALFORMED;
}

/* ---- Huffman code ---- */

/* The code of each symbol (256 is EOS), right-aligned in huff_code, huff_bits bits long
 * (RFC 7541 Appendix B). */
static const uint32_t huff_code[257] = {
    0x1ff8,     0x7fffd8,  0xfffffe2,  0xfffffe3, 0xfffffe4, 0xfffffe5,  0xfffffe6,  0xfffffe7,
    0xfffffe8,  0xffffea,  0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb,  0xfffffec,
    0xfffffed,  0xfffffee, 0xfffffef,  0xffffff0, 0xffffff1, 0xffffff2,  0x3ffffffe, 0xffffff3,
    0xffffff4,  0xffffff5, 0xffffff6,  0xffffff7, 0xffffff8, 0xffffff9,  0xffffffa,  0xffffffb,
    0x14,       0x3f8,     0x3f9,      0xffa,     0x1ff9,    0x15,       0xf8,       0x7fa,
    0x3fa,      0x3fb,     0xf9,       0x7fb,     0xfa,      0x16,       0x17,       0x18,
    0x0,        0x1,       0x2,        0x19,      0x1a,      0x1b,       0x1c,       0x1d,
    0x1e,       0x1f,      0x5c,       0xfb,      0x7ffc,    0x20,       0xffb,      0x3fc,
    0x1ffa,     0x21,      0x5d,       0x5e,      0x5f,      0x60,       0x61,       0x62,
    0x63,       0x64,      0x65,       0x66,      0x67,      0x68,       0x69,       0x6a,
    0x6b,       0x6c,      0x6d,       0x6e,      0x6f,      0x70,       0x71,       0x72,
    0xfc,       0x73,      0xfd,       0x1ffb,    0x7fff0,   0x1ffc,     0x3ffc,     0x22,
    0x7ffd,     0x3,       0x23,       0x4,       0x24,      0x5,        0x25,       0x26,
    0x27,       0x6,       0x74,       0x75,      0x28,      0x29,       0x2a,       0x7,
    0x2b,       0x76,      0x2c,       0x8,       0x9,       0x2d,       0x77,       0x78,
    0x79,       0x7a,      0x7b,       0x7ffe,    0x7fc,     0x3ffd,     0x1ffd,     0xffffffc,
    0xfffe6,    0x3fffd2,  0xfffe7,    0xfffe8,   0x3fffd3,  0x3fffd4,   0x3fffd5,   0x7fffd9,
    0x3fffd6,   0x7fffda,  0x7fffdb,   0x7fffdc,  0x7fffdd,  0x7fffde,   0xffffeb,   0x7fffdf,
    0xffffec,   0xffffed,  0x3fffd7,   0x7fffe0,  0xffffee,  0x7fffe1,   0x7fffe2,   0x7fffe3,
    0x7fffe4,   0x1fffdc,  0x3fffd8,   0x7fffe5,  0x3fffd9,  0x7fffe6,   0x7fffe7,   0xffffef,
    0x3fffda,   0x1fffdd,  0xfffe9,    0x3fffdb,  0x3fffdc,  0x7fffe8,   0x7fffe9,   0x1fffde,
    0x7fffea,   0x3fffdd,  0x3fffde,   0xfffff0,  0x1fffdf,  0x3fffdf,   0x7fffeb,   0x7fffec,
    0x1fffe0,   0x1fffe1,  0x3fffe0,   0x1fffe2,  0x7fffed,  0x3fffe1,   0x7fffee,   0x7fffef,
    0xfffea,    0x3fffe2,  0x3fffe3,   0x3fffe4,  0x7ffff0,  0x3fffe5,   0x3fffe6,   0x7ffff1,
    0x3ffffe0,  0x3ffffe1, 0xfffeb,    0x7fff1,   0x3fffe7,  0x7ffff2,   0x3fffe8,   0x1ffffec,
    0x3ffffe2,  0x3ffffe3, 0x3ffffe4,  0x7ffffde, 0x7ffffdf, 0x3ffffe5,  0xfffff1,   0x1ffffed,
    0x7fff2,    0x1fffe3,  0x3ffffe6,  0x7ffffe0, 0x7ffffe1, 0x3ffffe7,  0x7ffffe2,  0xfffff2,
    0x1fffe4,   0x1fffe5,  0x3ffffe8,  0x3ffffe9, 0xffffffd, 0x7ffffe3,  0x7ffffe4,  0x7ffffe5,
    0xfffec,    0xfffff3,  0xfffed,    0x1fffe6,  0x3fffe9,  0x1fffe7,   0x1fffe8,   0x7ffff3,
    0x3fffea,   0x3fffeb,  0x1ffffee,  0x1ffffef, 0xfffff4,  0xfffff5,   0x3ffffea,  0x7ffff4,
    0x3ffffeb,  0x7ffffe6, 0x3ffffec,  0x3ffffed, 0x7ffffe7, 0x7ffffe8,  0x7ffffe9,  0x7ffffea,
    0x7ffffeb,  0xffffffe, 0x7ffffec,  0x7ffffed, 0x7ffffee, 0x7ffffef,  0x7fffff0,  0x3ffffee,
    0x3fffffff,
};
static const uint8_t huff_bits[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10, 13, 6,  7,  7,  7,  7,  7,  7,
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,  6,  7,  6,  5,  5,  6,  7,  7,
    7,  7,  7,  15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21,
    23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24,
    21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
};

/* The code is canonical: ordered by length and then by symbol, each code is the one before it
 * plus one, shifted left when the length grows. Decoding uses that order: huff_sym lists the
 * symbols in it (EOS, the only 30-bit code of all ones, comes last, at position 256), and
 * huff_class has, per code length, where its codes end as a 32-bit left-aligned window (every
 * window below `limit` and at or above the previous class's starts with a code of this length),
 * its first code and that code's position in huff_sym. */
static const uint8_t huff_sym[256] = {
    48,  49,  50,  97,  99,  101, 105, 111, 115, 116, 32,  37,  45,  46,  47,  51,  52,  53,  54,
    55,  56,  57,  61,  65,  95,  98,  100, 102, 103, 104, 108, 109, 110, 112, 114, 117, 58,  66,
    67,  68,  69,  70,  71,  72,  73,  74,  75,  76,  77,  78,  79,  80,  81,  82,  83,  84,  85,
    86,  87,  89,  106, 107, 113, 118, 119, 120, 121, 122, 38,  42,  44,  59,  88,  90,  33,  34,
    40,  41,  63,  39,  43,  124, 35,  62,  0,   36,  64,  91,  93,  126, 94,  125, 60,  96,  123,
    92,  195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161, 167, 172, 176, 177, 179, 209,
    216, 217, 227, 229, 230, 129, 132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169, 170, 173,
    178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232, 233, 1,   135, 137, 138, 139, 140, 141,
    143, 147, 149, 150, 151, 152, 155, 157, 158, 165, 166, 168, 174, 175, 180, 182, 183, 188, 191,
    197, 231, 239, 9,   142, 144, 145, 148, 159, 171, 206, 215, 225, 236, 237, 199, 207, 234, 235,
    192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255, 203, 204, 211, 212,
    214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252, 253, 254, 2,   3,   4,   5,
    6,   7,   8,   11,  12,  14,  15,  16,  17,  18,  19,  20,  21,  23,  24,  25,  26,  27,  28,
    29,  30,  31,  127, 220, 249, 10,  13,  22,
};

#define HUFF_EOS_POS 256

static const struct huff_class {
    uint64_t limit;
    uint32_t first;
    uint16_t pos;
    uint8_t bits;
} huff_class[] = {
    {0x050000000ull, 0x0, 0, 5},           {0x0b8000000ull, 0x14, 10, 6},
    {0x0f8000000ull, 0x5c, 36, 7},         {0x0fe000000ull, 0xf8, 68, 8},
    {0x0ff400000ull, 0x3f8, 74, 10},       {0x0ffa00000ull, 0x7fa, 79, 11},
    {0x0ffc00000ull, 0xffa, 82, 12},       {0x0fff00000ull, 0x1ff8, 84, 13},
    {0x0fff80000ull, 0x3ffc, 90, 14},      {0x0fffe0000ull, 0x7ffc, 92, 15},
    {0x0fffe6000ull, 0x7fff0, 95, 19},     {0x0fffee000ull, 0xfffe6, 98, 20},
    {0x0ffff4800ull, 0x1fffdc, 106, 21},   {0x0ffffb000ull, 0x3fffd2, 119, 22},
    {0x0ffffea00ull, 0x7fffd8, 145, 23},   {0x0fffff600ull, 0xffffea, 174, 24},
    {0x0fffff800ull, 0x1ffffec, 186, 25},  {0x0fffffbc0ull, 0x3ffffe0, 190, 26},
    {0x0fffffe20ull, 0x7ffffde, 205, 27},  {0x0fffffff0ull, 0xfffffe2, 224, 28},
    {0x100000000ull, 0x3ffffffc, 253, 30},
};

size_t tool_qpack_huff_len(const uint8_t *s, size_t n)
{
    uint64_t bits = 0;

    for (size_t i = 0; i < n; i++)
        bits += huff_bits[s[i]];
    return (size_t)((bits + 7) / 8);
}

size_t tool_qpack_huff_encode(uint8_t *out, const uint8_t *s, size_t n)
{
    uint64_t acc = 0; /* pending bits in the low `nbits`; above them, bits already written */
    unsigned nbits = 0;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        acc = (acc << huff_bits[s[i]]) | huff_code[s[i]];
        nbits += huff_bits[s[i]];
        while (nbits >= 8) {
            nbits -= 8;
            out[o++] = (uint8_t)(acc >> nbits);
        }
    }
    /* EOS starts with 30 ones: its most significant bits are ones, whatever the count */
    if (nbits)
        out[o++] = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
    return o;
}

ssize_t tool_qpack_huff_decode(uint8_t *out, size_t cap, const uint8_t *in, size_t n)
{
    uint64_t acc = 0; /* bits not decoded yet in the low `nbits` (at most 56) */
    unsigned nbits = 0;
    size_t i = 0, len = 0;

    for (;;) {
        const struct huff_class *c = huff_class;
        uint32_t win;
        size_t pos;

        while (nbits <= 48 && i < n) {
            acc = (acc << 8) | in[i++];
            nbits += 8;
        }
        if (!nbits)
            break;
        /* the next 32 bits, left-aligned; past the input's end, ones: a code that reaches into
         * them is cut short, and padding of all ones reads as the start of EOS */
        if (nbits >= 32)
            win = (uint32_t)(acc >> (nbits - 32));
        else
            win = (uint32_t)(acc << (32 - nbits)) | (uint32_t)((UINT64_C(1) << (32 - nbits)) - 1);
        while (win >= c->limit)
            c++;
        if (c->bits > nbits) {
            /* the input ended inside this code: fine only if what is left is padding, at most
             * 7 bits, all ones */
            uint32_t ones = (1u << nbits) - 1;

            if (nbits > 7 || ((uint32_t)acc & ones) != ones)
                return TOOL_QPACK_ERR_MALFORMED;
            break;
        }
        pos = c->pos + ((win >> (32 - c->bits)) - c->first);
        if (pos == HUFF_EOS_POS)
            return TOOL_QPACK_ERR_MALFORMED;
        if (len == cap)
            return TOOL_QPACK_ERR_NOSPACE;
        out[len++] = huff_sym[pos];
        nbits -= c->bits;
    }
    return (ssize_t)len;
}

/* ---- static table ---- */

#define ENTRY(n, v)                                                                                \
    {                                                                                              \
        (const uint8_t *)(n), sizeof(n) - 1, (const uint8_t *)(v), sizeof(v) - 1                   \
    }

/* RFC 9204 Appendix A */
static const tool_qpack_field static_table[TOOL_QPACK_STATIC_COUNT] = {
    ENTRY(":authority", ""),
    ENTRY(":path", "/"),
    ENTRY("age", "0"),
    ENTRY("content-disposition", ""),
    ENTRY("content-length", "0"),
    ENTRY("cookie", ""),
    ENTRY("date", ""),
    ENTRY("etag", ""),
    ENTRY("if-modified-since", ""),
    ENTRY("if-none-match", ""),
    ENTRY("last-modified", ""), /* 10 */
    ENTRY("link", ""),
    ENTRY("location", ""),
    ENTRY("referer", ""),
    ENTRY("set-cookie", ""),
    ENTRY(":method", "CONNECT"),
    ENTRY(":method", "DELETE"),
    ENTRY(":method", "GET"),
    ENTRY(":method", "HEAD"),
    ENTRY(":method", "OPTIONS"),
    ENTRY(":method", "POST"), /* 20 */
    ENTRY(":method", "PUT"),
    ENTRY(":scheme", "http"),
    ENTRY(":scheme", "https"),
    ENTRY(":status", "103"),
    ENTRY(":status", "200"),
    ENTRY(":status", "304"),
    ENTRY(":status", "404"),
    ENTRY(":status", "503"),
    ENTRY("accept", "*/*"),
    ENTRY("accept", "application/dns-message"), /* 30 */
    ENTRY("accept-encoding", "gzip, deflate, br"),
    ENTRY("accept-ranges", "bytes"),
    ENTRY("access-control-allow-headers", "cache-control"),
    ENTRY("access-control-allow-headers", "content-type"),
    ENTRY("access-control-allow-origin", "*"),
    ENTRY("cache-control", "max-age=0"),
    ENTRY("cache-control", "max-age=2592000"),
    ENTRY("cache-control", "max-age=604800"),
    ENTRY("cache-control", "no-cache"),
    ENTRY("cache-control", "no-store"), /* 40 */
    ENTRY("cache-control", "public, max-age=31536000"),
    ENTRY("content-encoding", "br"),
    ENTRY("content-encoding", "gzip"),
    ENTRY("content-type", "application/dns-message"),
    ENTRY("content-type", "application/javascript"),
    ENTRY("content-type", "application/json"),
    ENTRY("content-type", "application/x-www-form-urlencoded"),
    ENTRY("content-type", "image/gif"),
    ENTRY("content-type", "image/jpeg"),
    ENTRY("content-type", "image/png"), /* 50 */
    ENTRY("content-type", "text/css"),
    ENTRY("content-type", "text/html; charset=utf-8"),
    ENTRY("content-type", "text/plain"),
    ENTRY("content-type", "text/plain;charset=utf-8"),
    ENTRY("range", "bytes=0-"),
    ENTRY("strict-transport-security", "max-age=31536000"),
    ENTRY("strict-transport-security", "max-age=31536000; includesubdomains"),
    ENTRY("strict-transport-security", "max-age=31536000; includesubdomains; preload"),
    ENTRY("vary", "accept-encoding"),
    ENTRY("vary", "origin"), /* 60 */
    ENTRY("x-content-type-options", "nosniff"),
    ENTRY("x-xss-protection", "1; mode=block"),
    ENTRY(":status", "100"),
    ENTRY(":status", "204"),
    ENTRY(":status", "206"),
    ENTRY(":status", "302"),
    ENTRY(":status", "400"),
    ENTRY(":status", "403"),
    ENTRY(":status", "421"),
    ENTRY(":status", "425"), /* 70 */
    ENTRY(":status", "500"),
    ENTRY("accept-language", ""),
    ENTRY("access-control-allow-credentials", "FALSE"),
    ENTRY("access-control-allow-credentials", "TRUE"),
    ENTRY("access-control-allow-headers", "*"),
    ENTRY("access-control-allow-methods", "get"),
    ENTRY("access-control-allow-methods", "get, post, options"),
    ENTRY("access-control-allow-methods", "options"),
    ENTRY("access-control-expose-headers", "content-length"),
    ENTRY("access-control-request-headers", "content-type"), /* 80 */
    ENTRY("access-control-request-method", "get"),
    ENTRY("access-control-request-method", "post"),
    ENTRY("alt-svc", "clear"),
    ENTRY("authorization", ""),
    ENTRY("content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"),
    ENTRY("early-data", "1"),
    ENTRY("expect-ct", ""),
    ENTRY("forwarded", ""),
    ENTRY("if-range", ""),
    ENTRY("origin", ""), /* 90 */
    ENTRY("purpose", "prefetch"),
    ENTRY("server", ""),
    ENTRY("timing-allow-origin", "*"),
    ENTRY("upgrade-insecure-requests", "1"),
    ENTRY("user-agent", ""),
    ENTRY("x-forwarded-for", ""),
    ENTRY("x-frame-options", "deny"),
    ENTRY("x-frame-options", "sameorigin"),
};

const tool_qpack_field *tool_qpack_static(uint64_t index)
{
    return index < TOOL_QPACK_STATIC_COUNT ? &static_table[index] : NULL;
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int tool_qpack_static_find(const uint8_t *name, size_t namelen, const uint8_t *value,
                           size_t valuelen, int *full)
{
    int by_name = -1;

    for (int i = 0; i < TOOL_QPACK_STATIC_COUNT; i++) {
        const tool_qpack_field *e = &static_table[i];

        if (!bytes_eq(e->name, e->namelen, name, namelen))
            continue;
        if (bytes_eq(e->value, e->valuelen, value, valuelen)) {
            *full = 1;
            return i;
        }
        if (by_name < 0)
            by_name = i;
    }
    *full = 0;
    return by_name;
}

/* ---- field sections ---- */

/* First octets of the field line representations (RFC 9204 §4.5.2 - §4.5.6). */
#define LINE_INDEXED 0x80         /* 1 T index(6) */
#define LINE_INDEXED_STATIC 0x40  /* T of an indexed line */
#define LINE_NAME_REF 0x40        /* 01 N T index(4) */
#define LINE_NAME_REF_STATIC 0x10 /* T of a line with a name reference */
#define LINE_LITERAL_NAME 0x20    /* 001 N H length(3) */
/* below them, the post-base forms: 0001 index(4) and 0000 N index(3) */

size_t tool_qpack_encode_bound(const tool_qpack_field *fields, size_t n)
{
    size_t bound = 2; /* the prefix */

    /* a literal with a literal name and both strings as they are is the longest form: a static
     * reference is at most two octets, replacing a name of at least three; Huffman is only used
     * when shorter */
    for (size_t i = 0; i < n; i++)
        bound += int_len(3, fields[i].namelen) + fields[i].namelen +
                 int_len(7, fields[i].valuelen) + fields[i].valuelen;
    return bound;
}

/* Writes string s[0..n) at out[*o..cap) with its length as an integer of a `prefix`-bit prefix,
 * the H bit just above it and `first`'s bits above that; Huffman-coded when that is shorter.
 * Returns 0, or TOOL_QPACK_ERR_NOSPACE. */
static int put_string(uint8_t *out, size_t cap, size_t *o, uint8_t first, int prefix,
                      const uint8_t *s, size_t n)
{
    size_t hlen = tool_qpack_huff_len(s, n), w;
    int huff = hlen < n;
    size_t len = huff ? hlen : n;

    w = tool_qpack_int_encode(out + *o, cap - *o, (uint8_t)(first | (huff ? 1u << prefix : 0)),
                              prefix, len);
    if (!w || len > cap - *o - w)
        return TOOL_QPACK_ERR_NOSPACE;
    *o += w;
    if (huff)
        tool_qpack_huff_encode(out + *o, s, n);
    else if (n)
        memcpy(out + *o, s, n);
    *o += len;
    return 0;
}

ssize_t tool_qpack_encode(uint8_t *out, size_t cap, const tool_qpack_field *fields, size_t n)
{
    size_t o = 2;

    if (cap < 2)
        return TOOL_QPACK_ERR_NOSPACE;
    out[0] = 0; /* Required Insert Count 0 */
    out[1] = 0; /* Sign 0, Delta Base 0 */
    for (size_t i = 0; i < n; i++) {
        const tool_qpack_field *f = &fields[i];
        int full, idx = tool_qpack_static_find(f->name, f->namelen, f->value, f->valuelen, &full);
        size_t w;

        if (idx >= 0 && full) {
            w = tool_qpack_int_encode(out + o, cap - o, LINE_INDEXED | LINE_INDEXED_STATIC, 6,
                                      (uint64_t)idx);
            if (!w)
                return TOOL_QPACK_ERR_NOSPACE;
            o += w;
            continue;
        }
        if (idx >= 0) {
            w = tool_qpack_int_encode(out + o, cap - o, LINE_NAME_REF | LINE_NAME_REF_STATIC, 4,
                                      (uint64_t)idx);
            if (!w)
                return TOOL_QPACK_ERR_NOSPACE;
            o += w;
        } else if (put_string(out, cap, &o, LINE_LITERAL_NAME, 3, f->name, f->namelen) < 0) {
            return TOOL_QPACK_ERR_NOSPACE;
        }
        if (put_string(out, cap, &o, 0, 7, f->value, f->valuelen) < 0)
            return TOOL_QPACK_ERR_NOSPACE;
    }
    return (ssize_t)o;
}

/* Reads a string at in[*pos..n) whose length has a `prefix`-bit prefix with the H bit just above
 * it. A Huffman-coded string is decoded into scratch[*used..cap), which it then takes; a plain
 * one stays in the input. Returns 0, or TOOL_QPACK_ERR_MALFORMED. */
static int get_string(const uint8_t *in, size_t n, size_t *pos, int prefix, uint8_t *scratch,
                      size_t cap, size_t *used, const uint8_t **s, size_t *slen)
{
    int huff = in[*pos] & (1u << prefix);
    uint64_t len;
    ssize_t r = tool_qpack_int_decode(in + *pos, n - *pos, prefix, &len);

    if (r <= 0)
        return TOOL_QPACK_ERR_MALFORMED;
    *pos += (size_t)r;
    if (len > n - *pos)
        return TOOL_QPACK_ERR_MALFORMED;
    if (huff) {
        uint8_t *dst = scratch ? scratch + *used : NULL; /* no scratch at all is allowed */

        r = tool_qpack_huff_decode(dst, cap - *used, in + *pos, (size_t)len);
        if (r < 0)
            return TOOL_QPACK_ERR_MALFORMED;
        *s = dst ? dst : in + *pos;
        *slen = (size_t)r;
        *used += (size_t)r;
    } else {
        *s = in + *pos;
        *slen = (size_t)len;
    }
    *pos += (size_t)len;
    return 0;
}

/* Reads a static table index at in[*pos..n) with a `prefix`-bit prefix. Returns its entry, or
 * NULL (truncated, or beyond the table). */
static const tool_qpack_field *get_static(const uint8_t *in, size_t n, size_t *pos, int prefix)
{
    uint64_t idx;
    ssize_t r = tool_qpack_int_decode(in + *pos, n - *pos, prefix, &idx);

    if (r <= 0)
        return NULL;
    *pos += (size_t)r;
    return tool_qpack_static(idx);
}

int tool_qpack_decode(const uint8_t *in, size_t n, uint8_t *scratch, size_t scratch_cap,
                      uint64_t max_size, tool_qpack_field_fn fn, void *ud)
{
    uint64_t ric, delta_base, size = 0;
    size_t pos = 0;
    ssize_t r;

    /* the prefix: without a dynamic table, Required Insert Count is 0, and so the sign bit must
     * be 0 (a negative Base); the Base itself then refers to nothing and any value is allowed
     * (RFC 9204 §4.5.1.2) */
    r = tool_qpack_int_decode(in, n, 8, &ric);
    if (r <= 0 || ric != 0)
        return TOOL_QPACK_ERR_MALFORMED;
    pos = (size_t)r;
    if (pos == n || (in[pos] & 0x80))
        return TOOL_QPACK_ERR_MALFORMED;
    r = tool_qpack_int_decode(in + pos, n - pos, 7, &delta_base);
    if (r <= 0)
        return TOOL_QPACK_ERR_MALFORMED;
    pos += (size_t)r;

    while (pos < n) {
        uint8_t b = in[pos];
        tool_qpack_field f;
        size_t used = 0;
        int rc;

        if (b & LINE_INDEXED) {
            const tool_qpack_field *e;

            if (!(b & LINE_INDEXED_STATIC) || !(e = get_static(in, n, &pos, 6)))
                return TOOL_QPACK_ERR_MALFORMED;
            f = *e;
        } else if (b & LINE_NAME_REF) {
            const tool_qpack_field *e;

            if (!(b & LINE_NAME_REF_STATIC) || !(e = get_static(in, n, &pos, 4)))
                return TOOL_QPACK_ERR_MALFORMED;
            f.name = e->name;
            f.namelen = e->namelen;
            if (pos == n ||
                get_string(in, n, &pos, 7, scratch, scratch_cap, &used, &f.value, &f.valuelen) < 0)
                return TOOL_QPACK_ERR_MALFORMED;
        } else if (b & LINE_LITERAL_NAME) {
            if (get_string(in, n, &pos, 3, scratch, scratch_cap, &used, &f.name, &f.namelen) < 0)
                return TOOL_QPACK_ERR_MALFORMED;
            if (pos == n ||
                get_string(in, n, &pos, 7, scratch, scratch_cap, &used, &f.value, &f.valuelen) < 0)
                return TOOL_QPACK_ERR_MALFORMED;
        } else {
            /* both post-base forms reference the dynamic table */
            return TOOL_QPACK_ERR_MALFORMED;
        }
        size += (uint64_t)f.namelen + f.valuelen + QPACK_FIELD_OVERHEAD;
        if (size > max_size)
            return TOOL_QPACK_ERR_TOO_LARGE;
        rc = fn(ud, &f);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the peer's encoder and decoder streams ---- */

/* Set Dynamic Table Capacity (001 capacity(5)) with capacity 0 */
#define ENC_SET_CAPACITY_0 0x20

int tool_qpack_check_encoder_stream(const uint8_t *p, size_t len)
{
    /* capacity 0 fits in the prefix and has no other encoding, so every octet must be this one
     * instruction */
    for (size_t i = 0; i < len; i++)
        if (p[i] != ENC_SET_CAPACITY_0)
            return TOOL_QPACK_ERR_MALFORMED;
    return 0;
}

/* Decoder stream instructions (RFC 9204 §4.4) */
#define DEC_SECTION_ACK 0x80         /* 1 stream ID(7) */
#define DEC_STREAM_CANCELLATION 0x40 /* 01 stream ID(6); below it, Insert Count Increment */

ssize_t tool_qpack_read_decoder_stream(const uint8_t *p, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        uint64_t sid;
        ssize_t r;

        /* the first octet tells a Section Acknowledgment or an Insert Count Increment: either is
         * wrong whatever follows */
        if ((p[pos] & DEC_SECTION_ACK) || !(p[pos] & DEC_STREAM_CANCELLATION))
            return TOOL_QPACK_ERR_MALFORMED;
        r = tool_qpack_int_decode(p + pos, len - pos, 6, &sid);
        if (r < 0)
            return TOOL_QPACK_ERR_MALFORMED;
        if (r == 0)
            break; /* the rest arrives later */
        pos += (size_t)r;
    }
    return (ssize_t)pos;
}
