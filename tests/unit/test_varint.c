/* Tests of the varint codec and the bounds-checked reader (RFC 9000 §16 and Appendix A.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "varint.h"

typedef struct {
    const uint8_t *bytes;
    size_t len;
    uint64_t value;
} vector;

static const uint8_t v8[] = {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c};
static const uint8_t v4[] = {0x9d, 0x7f, 0x3e, 0x7d};
static const uint8_t v2[] = {0x7b, 0xbd};
static const uint8_t v1[] = {0x25};
static const uint8_t v2_37[] = {0x40, 0x25};

static const vector rfc_vectors[] = {
    {v8, 8, 151288809941952652ull},
    {v4, 4, 494878333},
    {v2, 2, 15293},
    {v1, 1, 37},
    {v2_37, 2, 37}, /* non-minimal two-byte encoding of 37 decodes too */
};

static void test_rfc_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < TERN_ARRAY_LEN(rfc_vectors); i++) {
        const vector *v = &rfc_vectors[i];
        tern_rd r = {v->bytes, v->bytes + v->len};
        uint64_t x = 0;
        assert_int_equal(tern_rd_varint(&r, &x), 0);
        assert_int_equal(x, v->value);
        assert_ptr_equal(r.p, v->bytes + v->len);
    }
}

static void test_rfc_encode(void **state)
{
    (void)state;
    /* The shortest encodings of the first four vectors are exactly the RFC's bytes. */
    for (size_t i = 0; i < 4; i++) {
        const vector *v = &rfc_vectors[i];
        uint8_t buf[8];
        assert_int_equal(tern_varint_len(v->value), v->len);
        uint8_t *e = tern_varint_put(buf, v->value);
        assert_int_equal(e - buf, v->len);
        assert_memory_equal(buf, v->bytes, v->len);
    }
    uint8_t buf[8];
    assert_int_equal(tern_varint_put_n(buf, 37, 2) - buf, 2);
    assert_memory_equal(buf, v2_37, 2);
}

static void test_len_boundaries(void **state)
{
    (void)state;
    assert_int_equal(tern_varint_len(0), 1);
    assert_int_equal(tern_varint_len(63), 1);
    assert_int_equal(tern_varint_len(64), 2);
    assert_int_equal(tern_varint_len(16383), 2);
    assert_int_equal(tern_varint_len(16384), 4);
    assert_int_equal(tern_varint_len((1ull << 30) - 1), 4);
    assert_int_equal(tern_varint_len(1ull << 30), 8);
    assert_int_equal(tern_varint_len(TERN_MAX_VARINT), 8);
    assert_int_equal(tern_varint_len(TERN_MAX_VARINT + 1), 0);
    assert_int_equal(tern_varint_len(UINT64_MAX), 0);
}

static void test_roundtrip_widths(void **state)
{
    (void)state;
    static const uint64_t values[] = {0, 1, 63, 64, 300, 16383, 16384, 1000000, (1ull << 30) - 1,
                                      1ull << 30, 1ull << 40, TERN_MAX_VARINT};
    for (size_t i = 0; i < TERN_ARRAY_LEN(values); i++) {
        uint64_t v = values[i];
        for (size_t w = tern_varint_len(v); w <= 8; w *= 2) {
            uint8_t buf[8];
            uint8_t *e = tern_varint_put_n(buf, v, w);
            assert_int_equal(e - buf, w);
            tern_rd r = {buf, e};
            uint64_t x;
            assert_int_equal(tern_rd_varint(&r, &x), 0);
            assert_int_equal(x, v);
            assert_ptr_equal(r.p, e);
        }
    }
}

static void test_truncated(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof(v8); n++) {
        tern_rd r = {v8, v8 + n};
        uint64_t x = 12345;
        assert_int_equal(tern_rd_varint(&r, &x), -1);
        assert_ptr_equal(r.p, v8); /* untouched on failure */
        assert_int_equal(x, 12345);
    }
}

static void test_fixed_readers_bounds(void **state)
{
    (void)state;
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    tern_rd r = {b, b + sizeof(b)};
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    const uint8_t *d;
    assert_int_equal(tern_rd_u16(&r, &u16), 0);
    assert_int_equal(u16, 0x0102);
    assert_int_equal(tern_rd_u32(&r, &u32), 0);
    assert_int_equal(u32, 0x03040506);
    assert_int_equal(tern_rd_left(&r), 1);
    assert_int_equal(tern_rd_u16(&r, &u16), -1);
    assert_int_equal(tern_rd_u32(&r, &u32), -1);
    assert_int_equal(tern_rd_bytes(&r, 2, &d), -1);
    assert_int_equal(tern_rd_left(&r), 1);
    assert_int_equal(tern_rd_bytes(&r, 1, &d), 0);
    assert_ptr_equal(d, b + 6);
    assert_int_equal(tern_rd_u8(&r, &u8), -1);
    assert_int_equal(tern_rd_bytes(&r, 0, &d), 0);
    assert_int_equal(tern_rd_left(&r), 0);
}

static void test_put_helpers(void **state)
{
    (void)state;
    uint8_t b[7];
    uint8_t *p = tern_put_u8(b, 0xaa);
    p = tern_put_u16(p, 0xbbcc);
    p = tern_put_u32(p, 0x11223344);
    assert_int_equal(p - b, 7);
    static const uint8_t want[] = {0xaa, 0xbb, 0xcc, 0x11, 0x22, 0x33, 0x44};
    assert_memory_equal(b, want, 7);
    assert_int_equal(tern_get_u32(b + 3), 0x11223344);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_decode),      cmocka_unit_test(test_rfc_encode),
        cmocka_unit_test(test_len_boundaries),  cmocka_unit_test(test_roundtrip_widths),
        cmocka_unit_test(test_truncated),       cmocka_unit_test(test_fixed_readers_bounds),
        cmocka_unit_test(test_put_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
