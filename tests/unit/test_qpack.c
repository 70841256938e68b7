/* QPACK of the tools without a dynamic table (tools/common/qpack.c): prefixed integers, the
 * Huffman code, the static table, field sections both ways, the bound on a decoded section, and
 * the checks of the peer's encoder and decoder streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/qpack.h"

#define INT_MAX62 ((UINT64_C(1) << 62) - 1)

/* hex (spaces allowed) into out; returns the octets */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = 0;

    while (*hex) {
        unsigned v;

        if (*hex == ' ') {
            hex++;
            continue;
        }
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static tool_qpack_field fld(const char *name, const char *value)
{
    tool_qpack_field f = {(const uint8_t *)name, strlen(name), (const uint8_t *)value,
                          strlen(value)};
    return f;
}

/* What a decode delivered: copies of each field, in order. */
typedef struct got {
    char names[64][128];
    char values[64][256];
    size_t namelen[64], valuelen[64];
    size_t n;
    int stop_at; /* returns 7 from the call for this field (1-based), 0: never */
} got;

static int collect(void *ud, const tool_qpack_field *f)
{
    got *g = ud;

    assert_true(g->n < 64);
    assert_true(f->namelen < 128 && f->valuelen < 256);
    memcpy(g->names[g->n], f->name, f->namelen);
    memcpy(g->values[g->n], f->value, f->valuelen);
    g->namelen[g->n] = f->namelen;
    g->valuelen[g->n] = f->valuelen;
    g->n++;
    return g->stop_at && (int)g->n == g->stop_at ? 7 : 0;
}

static int decode_hex(const char *hex, got *g)
{
    uint8_t in[512], scratch[1024];
    size_t n = unhex(in, sizeof(in), hex);

    memset(g, 0, sizeof(*g));
    return tool_qpack_decode(in, n, scratch, sizeof(scratch), 1 << 20, collect, g);
}

static void assert_field(const got *g, size_t i, const char *name, const char *value)
{
    assert_true(i < g->n);
    assert_int_equal(g->namelen[i], strlen(name));
    assert_memory_equal(g->names[i], name, strlen(name));
    assert_int_equal(g->valuelen[i], strlen(value));
    assert_memory_equal(g->values[i], value, strlen(value));
}

/* ---- prefixed integers ---- */

static void check_int(uint8_t first, int prefix, uint64_t v, const char *hex)
{
    uint8_t want[16], out[16];
    size_t n = unhex(want, sizeof(want), hex);
    uint64_t back = 0;

    assert_int_equal(tool_qpack_int_encode(out, sizeof(out), first, prefix, v), n);
    assert_memory_equal(out, want, n);
    assert_int_equal(tool_qpack_int_decode(want, n, prefix, &back), (ssize_t)n);
    assert_true(back == v);
    /* every shorter read is a truncation, and a buffer one short cannot hold it */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(tool_qpack_int_decode(want, k, prefix, &back), 0);
    assert_int_equal(tool_qpack_int_encode(out, n - 1, first, prefix, v), 0);
}

static void test_int_rfc7541_examples(void **st)
{
    (void)st;
    /* RFC 7541 C.1.1 - C.1.3; the bits above the prefix are kept */
    check_int(0x00, 5, 10, "0a");
    check_int(0xe0, 5, 10, "ea");
    check_int(0x00, 5, 1337, "1f 9a 0a");
    check_int(0xa0, 5, 1337, "bf 9a 0a");
    check_int(0x00, 8, 42, "2a");
    /* the prefix itself full, then a zero continuation */
    check_int(0x00, 5, 31, "1f 00");
    check_int(0x00, 8, 255, "ff 00");
    check_int(0x80, 1, 0, "80");
    check_int(0x80, 1, 1, "81 00");
}

static void test_int_limits(void **st)
{
    (void)st;
    uint8_t out[16];
    uint64_t v;

    /* 2^62 - 1 round-trips with every prefix */
    for (int prefix = 1; prefix <= 8; prefix++) {
        size_t n = tool_qpack_int_encode(out, sizeof(out), 0, prefix, INT_MAX62);

        assert_true(n >= 9 && n <= 10);
        assert_int_equal(tool_qpack_int_decode(out, n, prefix, &v), (ssize_t)n);
        assert_true(v == INT_MAX62);
        /* one more is refused */
        n = tool_qpack_int_encode(out, sizeof(out), 0, prefix, INT_MAX62 + 1);
        assert_int_equal(tool_qpack_int_decode(out, n, prefix, &v), TOOL_QPACK_ERR_MALFORMED);
    }
    /* with a 6-bit prefix the largest value takes all 10 octets; 9 of them are a truncation */
    size_t n = tool_qpack_int_encode(out, sizeof(out), 0x40, 6, INT_MAX62);
    assert_int_equal(n, 10);
    assert_int_equal(tool_qpack_int_decode(out, 9, 6, &v), 0);
    /* padding with zero continuations is fine up to 10 octets, not beyond */
    uint8_t pad[12] = {0x1f, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(tool_qpack_int_decode(pad, 10, 5, &v), 10);
    assert_true(v == 32);
    uint8_t pad11[12] = {0x1f, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(tool_qpack_int_decode(pad11, 11, 5, &v), TOOL_QPACK_ERR_MALFORMED);
    /* and 10 octets still continued are refused without waiting for more */
    assert_int_equal(tool_qpack_int_decode(pad11, 10, 5, &v), TOOL_QPACK_ERR_MALFORMED);
    /* a value past 2^62 - 1 is refused as soon as it is known, even before its end */
    uint8_t big[4] = {0xff, 0xff, 0xff, 0xff};
    uint8_t over[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(tool_qpack_int_decode(big, 4, 8, &v), 0);
    assert_int_equal(tool_qpack_int_decode(over, 9, 8, &v), 0);
    assert_int_equal(tool_qpack_int_decode(over, 10, 8, &v), TOOL_QPACK_ERR_MALFORMED);
    over[9] = 0xff;
    assert_int_equal(tool_qpack_int_decode(over, 10, 8, &v), TOOL_QPACK_ERR_MALFORMED);
    /* nothing to read */
    assert_int_equal(tool_qpack_int_decode(out, 0, 8, &v), 0);
    assert_int_equal(tool_qpack_int_encode(out, 0, 0, 8, 1), 0);
}

/* ---- Huffman code ---- */

static void check_huff(const char *s, const char *hex)
{
    uint8_t want[64], out[64], back[64];
    size_t n = unhex(want, sizeof(want), hex), len = strlen(s);

    assert_int_equal(tool_qpack_huff_len((const uint8_t *)s, len), n);
    assert_int_equal(tool_qpack_huff_encode(out, (const uint8_t *)s, len), n);
    assert_memory_equal(out, want, n);
    assert_int_equal(tool_qpack_huff_decode(back, sizeof(back), want, n), (ssize_t)len);
    assert_memory_equal(back, s, len);
    /* one octet short of room */
    assert_int_equal(tool_qpack_huff_decode(back, len - 1, want, n), TOOL_QPACK_ERR_NOSPACE);
}

static void test_huff_rfc7541_examples(void **st)
{
    (void)st;
    /* RFC 7541 C.4.1 - C.4.3 */
    check_huff("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff");
    check_huff("no-cache", "a8eb10649cbf");
    check_huff("custom-key", "25a849e95ba97d7f");
    check_huff("custom-value", "25a849e95bb8e8b4bf");
    /* RFC 7541 C.6.1 */
    check_huff("302", "6402");
    check_huff("private", "aec3771a4b");
    check_huff("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff");
    check_huff("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3");
}

static ssize_t huff_hex(const char *hex, uint8_t *out, size_t cap)
{
    uint8_t in[64];
    size_t n = unhex(in, sizeof(in), hex);

    return tool_qpack_huff_decode(out, cap, in, n);
}

static void test_huff_invalid(void **st)
{
    (void)st;
    uint8_t out[64];

    /* nothing decodes to nothing */
    assert_int_equal(huff_hex("", out, 0), 0);
    /* '0' is 00000: three ones of padding are fine, three that are not all ones are not */
    assert_int_equal(huff_hex("07", out, sizeof(out)), 1);
    assert_int_equal(out[0], '0');
    assert_int_equal(huff_hex("06", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(huff_hex("05", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    /* '&' is 8 bits: alone it needs no padding; an octet of ones after it is 8 bits of padding */
    assert_int_equal(huff_hex("f8", out, sizeof(out)), 1);
    assert_int_equal(out[0], '&');
    assert_int_equal(huff_hex("f8ff", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    /* '0' then 11 ones */
    assert_int_equal(huff_hex("07ff", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    /* 7 ones of padding is the most: "00x" is 17 bits, then 7 ones; 15 ones are too many */
    assert_int_equal(huff_hex("003cff", out, sizeof(out)), 3);
    assert_memory_equal(out, "00x", 3);
    assert_int_equal(huff_hex("003cffff", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    /* "aa" is 10 bits, then 6 ones */
    assert_int_equal(huff_hex("18ff", out, sizeof(out)), 2);
    assert_memory_equal(out, "aa", 2);
    /* EOS (30 ones) whole in the input, alone or after a symbol */
    assert_int_equal(huff_hex("ffffffff", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(huff_hex("fffffffc", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(huff_hex("1fffffffff", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    /* a code cut short by the end of the input: the first 16 bits of '\0' (13 bits, 1111111111000)
     * are fine; a 28-bit code cut after 24 bits is not, and neither is one that ends in zeros */
    assert_int_equal(huff_hex("ffc7", out, sizeof(out)), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(huff_hex("fffffe", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(huff_hex("ffc0", out, sizeof(out)), TOOL_QPACK_ERR_MALFORMED);
    /* no room */
    assert_int_equal(huff_hex("07", out, 0), TOOL_QPACK_ERR_NOSPACE);
}

static void test_huff_every_byte(void **st)
{
    (void)st;
    uint8_t s[256], enc[1024], back[256];

    /* each byte alone */
    for (unsigned c = 0; c < 256; c++) {
        uint8_t x = (uint8_t)c;
        size_t n = tool_qpack_huff_encode(enc, &x, 1);

        assert_int_equal(n, tool_qpack_huff_len(&x, 1));
        assert_int_equal(tool_qpack_huff_decode(back, sizeof(back), enc, n), 1);
        assert_int_equal(back[0], c);
    }
    /* all of them in one string, in both orders: codes that straddle octets */
    for (int order = 0; order < 2; order++) {
        for (unsigned c = 0; c < 256; c++)
            s[c] = (uint8_t)(order ? 255 - c : c);
        size_t n = tool_qpack_huff_encode(enc, s, sizeof(s));

        assert_int_equal(n, tool_qpack_huff_len(s, sizeof(s)));
        assert_int_equal(tool_qpack_huff_decode(back, sizeof(back), enc, n), 256);
        assert_memory_equal(back, s, sizeof(s));
    }
}

/* ---- static table ---- */

static void check_static(uint64_t i, const char *name, const char *value)
{
    const tool_qpack_field *e = tool_qpack_static(i);

    assert_non_null(e);
    assert_int_equal(e->namelen, strlen(name));
    assert_memory_equal(e->name, name, e->namelen);
    assert_int_equal(e->valuelen, strlen(value));
    assert_memory_equal(e->value, value, e->valuelen);
}

static void test_static_table(void **st)
{
    (void)st;
    int full = -1;

    assert_int_equal(TOOL_QPACK_STATIC_COUNT, 99);
    assert_non_null(tool_qpack_static(98));
    assert_null(tool_qpack_static(99));
    assert_null(tool_qpack_static(UINT64_MAX));
    check_static(0, ":authority", "");
    check_static(1, ":path", "/");
    check_static(2, "age", "0");
    check_static(14, "set-cookie", "");
    check_static(15, ":method", "CONNECT");
    check_static(17, ":method", "GET");
    check_static(21, ":method", "PUT");
    check_static(23, ":scheme", "https");
    check_static(25, ":status", "200");
    check_static(28, ":status", "503");
    check_static(31, "accept-encoding", "gzip, deflate, br");
    check_static(37, "cache-control", "max-age=2592000");
    check_static(41, "cache-control", "public, max-age=31536000");
    check_static(47, "content-type", "application/x-www-form-urlencoded");
    check_static(52, "content-type", "text/html; charset=utf-8");
    check_static(54, "content-type", "text/plain;charset=utf-8");
    check_static(55, "range", "bytes=0-");
    check_static(58, "strict-transport-security", "max-age=31536000; includesubdomains; preload");
    check_static(62, "x-xss-protection", "1; mode=block");
    check_static(63, ":status", "100");
    check_static(71, ":status", "500");
    check_static(72, "accept-language", "");
    check_static(73, "access-control-allow-credentials", "FALSE");
    check_static(77, "access-control-allow-methods", "get, post, options");
    check_static(83, "alt-svc", "clear");
    check_static(85, "content-security-policy",
                 "script-src 'none'; object-src 'none'; base-uri 'none'");
    check_static(91, "purpose", "prefetch");
    check_static(94, "upgrade-insecure-requests", "1");
    check_static(97, "x-frame-options", "deny");
    check_static(98, "x-frame-options", "sameorigin");
    /* all of it: FNV-1a over each name and value with a NUL after each, and their total length,
     * both computed from RFC 9204 Appendix A */
    uint64_t h = 0xcbf29ce484222325u;
    size_t total = 0;
    for (uint64_t i = 0; i < TOOL_QPACK_STATIC_COUNT; i++) {
        const tool_qpack_field *e = tool_qpack_static(i);

        for (int part = 0; part < 2; part++) {
            const uint8_t *p = part ? e->value : e->name;
            size_t len = part ? e->valuelen : e->namelen;

            for (size_t k = 0; k <= len; k++) {
                h ^= k < len ? p[k] : 0;
                h *= 0x100000001b3u;
            }
            total += len;
        }
    }
    assert_int_equal(total, 2026);
    assert_true(h == 0x7c4c3c504f8cc3b1u);
    /* every entry is found whole at its own index, and names are lowercase */
    for (int i = 0; i < TOOL_QPACK_STATIC_COUNT; i++) {
        const tool_qpack_field *e = tool_qpack_static((uint64_t)i);

        assert_int_equal(tool_qpack_static_find(e->name, e->namelen, e->value, e->valuelen, &full),
                         i);
        assert_int_equal(full, 1);
        for (size_t k = 0; k < e->namelen; k++)
            assert_false(e->name[k] >= 'A' && e->name[k] <= 'Z');
    }
    /* a known name with another value: its lowest index, not whole */
    tool_qpack_field f = fld(":status", "201");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), 24);
    assert_int_equal(full, 0);
    f = fld("access-control-allow-headers", "x-mine");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), 33);
    assert_int_equal(full, 0);
    /* the value must match whole, not as a prefix */
    f = fld(":path", "/x");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), 1);
    assert_int_equal(full, 0);
    f = fld(":authority", "example.com");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), 0);
    assert_int_equal(full, 0);
    /* names compare exactly: no entry for these */
    f = fld("x-unknown", "1");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), -1);
    f = fld(":Path", "/");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), -1);
    f = fld(":pat", "/");
    assert_int_equal(tool_qpack_static_find(f.name, f.namelen, f.value, f.valuelen, &full), -1);
}

/* ---- field sections ---- */

static void test_decode_rfc9204_b1(void **st)
{
    (void)st;
    got g;

    /* RFC 9204 B.1: a literal with a static name reference, no dynamic table */
    assert_int_equal(decode_hex("0000 510b 2f69 6e64 6578 2e68 746d 6c", &g), 0);
    assert_int_equal(g.n, 1);
    assert_field(&g, 0, ":path", "/index.html");
    /* just the prefix: a section without lines */
    assert_int_equal(decode_hex("0000", &g), 0);
    assert_int_equal(g.n, 0);
}

static void test_decode_base(void **st)
{
    (void)st;
    got g;

    /* without dynamic references the Base means nothing, and any non-negative one is allowed
     * (RFC 9204 §4.5.1.2), in one octet or more */
    assert_int_equal(decode_hex("0005 d1", &g), 0);
    assert_field(&g, 0, ":method", "GET");
    assert_int_equal(decode_hex("007f00 d1", &g), 0);
    assert_field(&g, 0, ":method", "GET");
    /* a negative Base is not: with Required Insert Count 0 it would be below zero */
    assert_int_equal(decode_hex("0080 d1", &g), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(decode_hex("0081 d1", &g), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(g.n, 0);
}

static void test_decode_malformed(void **st)
{
    (void)st;
    got g;
    static const char *bad[] = {
        "",                                      /* no prefix */
        "00",                                    /* no Base */
        "ff",                                    /* Required Insert Count cut short */
        "01 00",                                 /* Required Insert Count 1: a dynamic table */
        "02 00 d1",                              /* 2 */
        "ff00 00",                               /* 255, in two octets */
        "00 7f",                                 /* Delta Base cut short */
        "0000 80",                               /* indexed, dynamic (T = 0) */
        "0000 bf 01",                            /* indexed, dynamic, larger index */
        "0000 ff 24",                            /* static index 99: beyond the table */
        "0000 ff",                               /* static index cut short */
        "0000 ff ff ff ff ff ff ff ff ff ff 01", /* static index over 2^62 */
        "0000 10",                               /* indexed with post-base index */
        "0000 1f 00",                            /* the same, larger */
        "0000 40 01 61",                         /* literal with a dynamic name reference (T = 0) */
        "0000 60 01 61",                         /* the same with N set */
        "0000 5f 54 01 61",                      /* literal with static name reference 99 */
        "0000 00 01 61",                         /* literal with post-base name reference */
        "0000 08 01 61",                         /* the same with N set */
        "0000 07 00 01 61",                      /* the same, larger index */
        "0000 51",                               /* name reference without its value */
        "0000 51 05 61",                         /* value longer than what is left */
        "0000 51 02 61",                         /* by one octet */
        "0000 22 61 01 61", /* literal name by one octet (it would take the value's length) */
        "0000 51 7f",       /* value length cut short */
        "0000 51 7f ff ff ff ff ff ff ff ff ff 01", /* value length over 2^62 */
        "0000 23 61 62",                            /* literal name longer than what is left */
        "0000 21 61",                               /* literal name without a value */
        "0000 27",                                  /* literal name length cut short */
        "0000 51 84 ffffffff",                      /* Huffman value holding EOS */
        "0000 51 81 06",                            /* Huffman value with padding of zeros */
        "0000 51 82 07ff",                          /* Huffman value with 11 bits of padding */
        "0000 2c ffffffff 00",                      /* Huffman name holding EOS */
        "0000 d1 80",                               /* a good line, then a dynamic one */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = decode_hex(bad[i], &g);

        if (rc != TOOL_QPACK_ERR_MALFORMED)
            fail_msg("\"%s\": %d", bad[i], rc);
    }
    /* the good line before the bad one was delivered, nothing after */
    assert_int_equal(decode_hex("0000 d1 80 d1", &g), TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(g.n, 1);
    /* the edges of the good: static index 98, both as a line and as a name */
    assert_int_equal(decode_hex("0000 ff 23 5f 53 01 61", &g), 0);
    assert_field(&g, 0, "x-frame-options", "sameorigin");
    assert_field(&g, 1, "x-frame-options", "a");
    /* N set on a static name reference or a literal name changes nothing here */
    assert_int_equal(decode_hex("0000 71 01 61 31 61 01 62", &g), 0);
    assert_field(&g, 0, ":path", "a");
    assert_field(&g, 1, "a", "b");
    /* empty name and value */
    assert_int_equal(decode_hex("0000 20 00", &g), 0);
    assert_field(&g, 0, "", "");
}

static void test_decode_scratch(void **st)
{
    (void)st;
    uint8_t in[64], scratch[8 + 15]; /* exactly what the test below needs */
    got g = {0};
    /* a literal name "x-custom" and value "www.example.com", both Huffman-coded */
    size_t n = unhex(in, sizeof(in), "0000 2e f2b12d424f4f 8c f1e3c2e5f23a6ba0ab90f4ff");

    /* the name takes 8 octets of scratch, the value 15 */
    assert_int_equal(tool_qpack_decode(in, n, scratch, sizeof(scratch), 1000, collect, &g), 0);
    assert_field(&g, 0, "x-custom", "www.example.com");
    memset(&g, 0, sizeof(g));
    assert_int_equal(tool_qpack_decode(in, n, scratch, 8 + 14, 1000, collect, &g),
                     TOOL_QPACK_ERR_MALFORMED);
    assert_int_equal(g.n, 0);
    /* plain strings stay in the input: no scratch needed */
    n = unhex(in, sizeof(in), "0000 23 616263 03 646566");
    assert_int_equal(tool_qpack_decode(in, n, NULL, 0, 1000, collect, &g), 0);
    assert_field(&g, 0, "abc", "def");
}

static void test_decode_size_bound(void **st)
{
    (void)st;
    uint8_t in[8192], scratch[64];
    got g;
    /* :method GET (7 + 3 + 32 = 42), then "x-custom: www.example.com" Huffman-coded: counted
     * decoded, 8 + 15 + 32 = 55 */
    size_t n = unhex(in, sizeof(in), "0000 d1 2e f2b12d424f4f 8c f1e3c2e5f23a6ba0ab90f4ff");

    memset(&g, 0, sizeof(g));
    assert_int_equal(tool_qpack_decode(in, n, scratch, sizeof(scratch), 97, collect, &g), 0);
    assert_int_equal(g.n, 2);
    /* one over at the second field: the first was delivered, the second was not */
    memset(&g, 0, sizeof(g));
    assert_int_equal(tool_qpack_decode(in, n, scratch, sizeof(scratch), 96, collect, &g),
                     TOOL_QPACK_ERR_TOO_LARGE);
    assert_int_equal(g.n, 1);
    /* and over at the first: nothing */
    memset(&g, 0, sizeof(g));
    assert_int_equal(tool_qpack_decode(in, n, scratch, sizeof(scratch), 42, collect, &g),
                     TOOL_QPACK_ERR_TOO_LARGE);
    assert_int_equal(g.n, 1);
    memset(&g, 0, sizeof(g));
    assert_int_equal(tool_qpack_decode(in, n, scratch, sizeof(scratch), 41, collect, &g),
                     TOOL_QPACK_ERR_TOO_LARGE);
    assert_int_equal(g.n, 0);
    assert_int_equal(tool_qpack_decode(in, 2, scratch, sizeof(scratch), 0, collect, &g), 0);
}

static int count_fields(void *ud, const tool_qpack_field *f)
{
    (void)f;
    (*(size_t *)ud)++;
    return 0;
}

/* An attacker's section of one-octet lines, each naming the longest static entry: the bound
 * stops the calls (and the work they cause) at what max_size allows. */
static void test_decode_bound_under_attack(void **st)
{
    (void)st;
    static uint8_t in[16384];
    size_t calls = 0;
    const tool_qpack_field *csp = tool_qpack_static(85);
    uint64_t per = csp->namelen + csp->valuelen + 32, max = 16384;

    /* after the prefix, 8191 indexed lines of entry 85 (63 in the first octet, 22 more) */
    in[0] = in[1] = 0;
    for (size_t i = 2; i + 1 < sizeof(in); i += 2)
        in[i] = 0xff, in[i + 1] = 85 - 63;
    assert_int_equal(tool_qpack_decode(in, sizeof(in), NULL, 0, max, count_fields, &calls),
                     TOOL_QPACK_ERR_TOO_LARGE);
    assert_int_equal(calls, max / per);
    /* the whole section would have been 50 times the bound */
    assert_true((sizeof(in) - 2) / 2 * per > 50 * max);
}

static void test_decode_callback_stops(void **st)
{
    (void)st;
    got g;

    memset(&g, 0, sizeof(g));
    g.stop_at = 2;
    uint8_t in[16];
    size_t n = unhex(in, sizeof(in), "0000 d1 d7 c1");
    assert_int_equal(tool_qpack_decode(in, n, NULL, 0, 1000, collect, &g), 7);
    assert_int_equal(g.n, 2);
}

static void test_encode_small_exact(void **st)
{
    (void)st;
    tool_qpack_field f[] = {
        fld(":method", "GET"),          /* indexed 17 */
        fld(":scheme", "https"),        /* indexed 23 */
        fld(":authority", "localhost"), /* name reference 0, Huffman value (6 < 9) */
        fld(":path", "/index.html"),    /* name reference 1, Huffman value (8 < 11) */
        fld("x-custom", "v"),           /* literal name, Huffman (6 < 8); value plain (1 = 1) */
    };
    uint8_t want[64], out[64];
    size_t n = unhex(want, sizeof(want),
                     "0000 d1 d7 5086a0e41d139d09 518860d5485f2bce9a68 2ef2b12d424f4f 0176");
    ssize_t w = tool_qpack_encode(out, sizeof(out), f, 5);

    assert_int_equal(w, (ssize_t)n);
    assert_memory_equal(out, want, n);
    assert_true(tool_qpack_encode_bound(f, 5) >= n);
    /* NOSPACE for every shorter buffer, without writing past it */
    for (size_t cap = 0; cap < n; cap++) {
        memset(out, 0xee, sizeof(out));
        assert_int_equal(tool_qpack_encode(out, cap, f, 5), TOOL_QPACK_ERR_NOSPACE);
        for (size_t k = cap; k < sizeof(out); k++)
            assert_int_equal(out[k], 0xee);
    }
    /* no fields: the prefix alone */
    assert_int_equal(tool_qpack_encode(out, 2, f, 0), 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    assert_int_equal(tool_qpack_encode_bound(f, 0), 2);
}

static void roundtrip(const tool_qpack_field *f, size_t n)
{
    uint8_t out[4096], scratch[4096];
    size_t plain = 2, bound = tool_qpack_encode_bound(f, n);
    ssize_t w = tool_qpack_encode(out, sizeof(out), f, n);
    got g;

    assert_true(w > 0);
    assert_true((size_t)w <= bound);
    for (size_t i = 0; i < n; i++)
        plain += 2 + f[i].namelen + f[i].valuelen;
    /* the static table and Huffman make it shorter than the strings themselves */
    assert_true((size_t)w < plain);
    memset(&g, 0, sizeof(g));
    assert_int_equal(
        tool_qpack_decode(out, (size_t)w, scratch, sizeof(scratch), 1 << 20, collect, &g), 0);
    assert_int_equal(g.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g.namelen[i], f[i].namelen);
        assert_memory_equal(g.names[i], f[i].name, f[i].namelen);
        assert_int_equal(g.valuelen[i], f[i].valuelen);
        assert_memory_equal(g.values[i], f[i].value, f[i].valuelen);
    }
    /* the exact size is enough, one less is not */
    assert_int_equal(tool_qpack_encode(scratch, (size_t)w, f, n), w);
    assert_memory_equal(scratch, out, (size_t)w);
    assert_int_equal(tool_qpack_encode(scratch, (size_t)w - 1, f, n), TOOL_QPACK_ERR_NOSPACE);
}

static void test_encode_decode_realistic(void **st)
{
    (void)st;
    tool_qpack_field req[] = {
        fld(":method", "GET"),
        fld(":scheme", "https"),
        fld(":authority", "www.example.com"),
        fld(":path", "/assets/app.js?v=3"),
        fld("user-agent", "tern-client/0.9"),
        fld("accept", "*/*"),
        fld("accept-encoding", "gzip, deflate, br"),
        fld("accept-language", "en-US,en;q=0.5"),
        fld("cookie", "session=4f2a9c; theme=dark"),
        fld("x-request-id", "0b5e3c1f-77aa-4d1e-9a0c-2f4e8b6d1a93"),
    };
    tool_qpack_field resp[] = {
        fld(":status", "200"),
        fld("content-type", "application/javascript"),
        fld("content-length", "48213"),
        fld("cache-control", "public, max-age=31536000"),
        fld("date", "Thu, 03 Dec 2026 08:46:16 GMT"),
        fld("etag", "\"5f2a-1c3b\""),
        fld("server", "tern-server"),
        fld("strict-transport-security", "max-age=31536000; includesubdomains"),
        fld("vary", "accept-encoding"),
        fld("x-content-type-options", "nosniff"),
        fld("alt-svc", "h3=\":443\"; ma=86400"),
        fld("x-binary", "\x01\x7f\xff\x80"), /* plain: Huffman would be longer */
    };
    roundtrip(req, sizeof(req) / sizeof(req[0]));
    roundtrip(resp, sizeof(resp) / sizeof(resp[0]));
    /* a string Huffman does not shorten is sent plain: here 4 octets after "x-binary" */
    uint8_t out[64];
    ssize_t w = tool_qpack_encode(out, sizeof(out), &resp[11], 1);
    assert_int_equal(w, 2 + 1 + 6 + 1 + 4);
    assert_int_equal(out[9], 0x04); /* H = 0, length 4 */
    assert_memory_equal(out + 10, "\x01\x7f\xff\x80", 4);
}

static void test_encode_long_strings(void **st)
{
    (void)st;
    /* lengths past the prefixes of both strings' integers */
    static char name[200], value[300];
    memset(name, 'n', sizeof(name) - 1);
    memset(value, 'v', sizeof(value) - 1);
    tool_qpack_field f = fld(name, value);
    static uint8_t out[1024], scratch[1024];
    size_t calls = 0;
    ssize_t w = tool_qpack_encode(out, sizeof(out), &f, 1);

    assert_true(w > 0 && (size_t)w <= tool_qpack_encode_bound(&f, 1));
    assert_int_equal(
        tool_qpack_decode(out, (size_t)w, scratch, sizeof(scratch), 1000, count_fields, &calls), 0);
    assert_int_equal(calls, 1);
}

/* Fields that neither the static table nor Huffman shortens take the bound exactly, their
 * lengths just past the prefixes (7 for the name's 3 bits, 127 for the value's 7). */
static void test_encode_bound_exact(void **st)
{
    (void)st;
    static char name[8] = "x-$$$$$", value[128];
    static uint8_t out[256];
    memset(value, 0x80, sizeof(value) - 1);
    tool_qpack_field f[2] = {fld(name, value), fld(name, "")};
    size_t bound = tool_qpack_encode_bound(f, 2);

    assert_int_equal(bound, 2 + (2 + 7 + 2 + 127) + (2 + 7 + 1));
    assert_int_equal(tool_qpack_encode(out, sizeof(out), f, 2), (ssize_t)bound);
    assert_int_equal(tool_qpack_encode(out, bound - 1, f, 2), TOOL_QPACK_ERR_NOSPACE);
}

/* ---- the peer's encoder and decoder streams ---- */

static int enc_check_hex(const char *hex)
{
    uint8_t in[32];
    size_t n = unhex(in, sizeof(in), hex);

    return tool_qpack_check_encoder_stream(in, n);
}

static void test_encoder_stream(void **st)
{
    (void)st;
    assert_int_equal(enc_check_hex(""), 0);
    assert_int_equal(enc_check_hex("20"), 0);
    assert_int_equal(enc_check_hex("202020"), 0);
    assert_int_equal(enc_check_hex("21"), TOOL_QPACK_ERR_MALFORMED);          /* capacity 1 */
    assert_int_equal(enc_check_hex("3fe11f"), TOOL_QPACK_ERR_MALFORMED);      /* capacity 4096 */
    assert_int_equal(enc_check_hex("c0 01 61"), TOOL_QPACK_ERR_MALFORMED);    /* insert, static */
    assert_int_equal(enc_check_hex("80 01 61"), TOOL_QPACK_ERR_MALFORMED);    /* insert, dynamic */
    assert_int_equal(enc_check_hex("41 61 01 62"), TOOL_QPACK_ERR_MALFORMED); /* literal name */
    assert_int_equal(enc_check_hex("00"), TOOL_QPACK_ERR_MALFORMED);          /* duplicate */
    assert_int_equal(enc_check_hex("20 20 00"), TOOL_QPACK_ERR_MALFORMED);
    /* any split gives the same verdict as the whole */
    uint8_t s[] = {0x20, 0x20, 0x3f, 0xe1, 0x1f};
    for (size_t cut = 0; cut <= sizeof(s); cut++) {
        int a = tool_qpack_check_encoder_stream(s, cut);
        int b = tool_qpack_check_encoder_stream(s + cut, sizeof(s) - cut);

        assert_int_equal(a < 0 || b < 0, 1);
        assert_int_equal(a, cut > 2 ? TOOL_QPACK_ERR_MALFORMED : 0);
    }
}

static void test_decoder_stream(void **st)
{
    (void)st;
    uint8_t in[64] = {0};
    size_t n;

    assert_int_equal(tool_qpack_read_decoder_stream(in, 0), 0);
    /* Stream Cancellation of stream 4, of stream 64 (two octets) */
    n = unhex(in, sizeof(in), "44 7f01");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), 3);
    /* a cut instruction is left for later */
    assert_int_equal(tool_qpack_read_decoder_stream(in, 2), 1);
    assert_int_equal(tool_qpack_read_decoder_stream(in + 1, 1), 0);
    /* the largest stream ID takes 10 octets; 9 of them are kept waiting */
    size_t w = tool_qpack_int_encode(in, sizeof(in), 0x40, 6, INT_MAX62);
    assert_int_equal(w, 10);
    assert_int_equal(tool_qpack_read_decoder_stream(in, 10), 10);
    assert_int_equal(tool_qpack_read_decoder_stream(in, 9), 0);
    /* past it: refused */
    w = tool_qpack_int_encode(in, sizeof(in), 0x40, 6, INT_MAX62 + 1);
    assert_int_equal(tool_qpack_read_decoder_stream(in, w), TOOL_QPACK_ERR_MALFORMED);
    n = unhex(in, sizeof(in), "7f ff ff ff ff ff ff ff ff ff 00");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), TOOL_QPACK_ERR_MALFORMED);
    /* Section Acknowledgment: no section had a Required Insert Count above 0 */
    n = unhex(in, sizeof(in), "84");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), TOOL_QPACK_ERR_MALFORMED);
    n = unhex(in, sizeof(in), "ff");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), TOOL_QPACK_ERR_MALFORMED);
    /* Insert Count Increment: nothing was inserted (of 1, and of 0) */
    n = unhex(in, sizeof(in), "01");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), TOOL_QPACK_ERR_MALFORMED);
    n = unhex(in, sizeof(in), "00");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), TOOL_QPACK_ERR_MALFORMED);
    /* after good ones */
    n = unhex(in, sizeof(in), "44 48 01");
    assert_int_equal(tool_qpack_read_decoder_stream(in, n), TOOL_QPACK_ERR_MALFORMED);
}

/* The decoder stream fed one octet at a time, the way a caller keeps the unread rest: every
 * instruction is taken once, whatever the split. */
static void test_decoder_stream_split(void **st)
{
    (void)st;
    uint8_t stream[64], pend[64];
    size_t n = 0, npend = 0, taken = 0;

    n += tool_qpack_int_encode(stream + n, sizeof(stream) - n, 0x40, 6, 0);
    n += tool_qpack_int_encode(stream + n, sizeof(stream) - n, 0x40, 6, 1337);
    n += tool_qpack_int_encode(stream + n, sizeof(stream) - n, 0x40, 6, INT_MAX62);
    n += tool_qpack_int_encode(stream + n, sizeof(stream) - n, 0x40, 6, 62);
    n += tool_qpack_int_encode(stream + n, sizeof(stream) - n, 0x40, 6, 63);
    for (size_t chunk = 1; chunk <= n; chunk++) {
        npend = taken = 0;
        for (size_t off = 0; off < n; off += chunk) {
            size_t k = off + chunk <= n ? chunk : n - off;
            ssize_t r;

            memcpy(pend + npend, stream + off, k);
            npend += k;
            r = tool_qpack_read_decoder_stream(pend, npend);
            assert_true(r >= 0);
            taken += (size_t)r;
            memmove(pend, pend + r, npend - (size_t)r);
            npend -= (size_t)r;
            assert_true(npend <= 9);
        }
        assert_int_equal(taken, n);
        assert_int_equal(npend, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_rfc7541_examples),
        cmocka_unit_test(test_int_limits),
        cmocka_unit_test(test_huff_rfc7541_examples),
        cmocka_unit_test(test_huff_invalid),
        cmocka_unit_test(test_huff_every_byte),
        cmocka_unit_test(test_static_table),
        cmocka_unit_test(test_decode_rfc9204_b1),
        cmocka_unit_test(test_decode_base),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_decode_scratch),
        cmocka_unit_test(test_decode_size_bound),
        cmocka_unit_test(test_decode_bound_under_attack),
        cmocka_unit_test(test_decode_callback_stops),
        cmocka_unit_test(test_encode_small_exact),
        cmocka_unit_test(test_encode_decode_realistic),
        cmocka_unit_test(test_encode_long_strings),
        cmocka_unit_test(test_encode_bound_exact),
        cmocka_unit_test(test_encoder_stream),
        cmocka_unit_test(test_decoder_stream),
        cmocka_unit_test(test_decoder_stream_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
