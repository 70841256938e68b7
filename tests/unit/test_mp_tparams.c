/* The multipath transport parameter initial_max_path_id (draft-ietf-quic-multipath-21 §2, id
 * 0x3e): written whenever offered (0 included), read with its checks: one varint filling its
 * length, at most 2^32-1, not twice, and never with a zero-length initial_source_connection_id
 * (PROTOCOL_VIOLATION). Absent, nothing changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mpframe.h"
#include "tparams.h"
#include "varint.h"

typedef struct blk {
    uint8_t b[256];
    size_t n;
} blk;

static void put_raw(blk *k, uint64_t id, const void *v, size_t len)
{
    uint8_t *p = tern_varint_put(k->b + k->n, id);
    p = tern_varint_put(p, len);
    if (len)
        memcpy(p, v, len);
    k->n = (size_t)(p + len - k->b);
}

static void put_vi(blk *k, uint64_t id, uint64_t v)
{
    uint8_t tmp[8];
    put_raw(k, id, tmp, (size_t)(tern_varint_put(tmp, v) - tmp));
}

static const uint8_t scid[4] = {1, 2, 3, 4};

static int decode(const blk *k, tern_tparams *tp, uint64_t *terr)
{
    *terr = 0;
    return tern_tparams_decode(tp, 0, k->b, k->n, terr);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[256];
    tern_tparams a, b;
    uint64_t terr;
    static const uint64_t vals[] = {0, 1, 63, 64, 1000, TERN_MP_PATH_ID_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        tern_tparams_default(&a);
        tern_cid_set(&a.initial_scid, scid, 4);
        a.has_initial_max_path_id = 1;
        a.initial_max_path_id = vals[i];
        size_t n = tern_tparams_encode(&a, 0, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(tern_tparams_decode(&b, 0, buf, n, &terr), 0);
        assert_int_equal(b.has_initial_max_path_id, 1);
        assert_int_equal(b.initial_max_path_id, vals[i]);
        /* the server's encoding carries it too */
        a.has_original_dcid = 1;
        n = tern_tparams_encode(&a, 1, buf, sizeof(buf));
        assert_int_equal(tern_tparams_decode(&b, 1, buf, n, &terr), 0);
        assert_int_equal(b.initial_max_path_id, vals[i]);
    }
    /* the exact bytes for 0: id 0x3e, length 1, value 0 */
    tern_tparams_default(&a);
    tern_cid_set(&a.initial_scid, scid, 4);
    size_t plain = tern_tparams_encode(&a, 0, buf, sizeof(buf));
    a.has_initial_max_path_id = 1;
    size_t n = tern_tparams_encode(&a, 0, buf, sizeof(buf));
    assert_int_equal(n, plain + 3);
    static const uint8_t want[] = {0x3e, 0x01, 0x00};
    int found = 0;
    for (size_t i = 0; i + 3 <= n; i++)
        found |= !memcmp(buf + i, want, 3);
    assert_true(found);
    /* not offered: absent from the wire, and read as absent */
    a.has_initial_max_path_id = 0;
    n = tern_tparams_encode(&a, 0, buf, sizeof(buf));
    assert_int_equal(n, plain);
    assert_int_equal(tern_tparams_decode(&b, 0, buf, n, &terr), 0);
    assert_int_equal(b.has_initial_max_path_id, 0);
    /* a value no path ID can reach is not encodable */
    a.has_initial_max_path_id = 1;
    a.initial_max_path_id = TERN_MP_PATH_ID_MAX + 1;
    assert_int_equal(tern_tparams_encode(&a, 0, buf, sizeof(buf)), 0);
}

static void test_malformed(void **state)
{
    (void)state;
    tern_tparams tp;
    uint64_t terr;
    blk k = {.n = 0};

    put_raw(&k, 0x0f, scid, 4);
    put_vi(&k, 0x3e, TERN_MP_PATH_ID_MAX + 1);
    assert_int_equal(decode(&k, &tp, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_TRANSPORT_PARAMETER_ERROR);

    k.n = 0; /* twice */
    put_raw(&k, 0x0f, scid, 4);
    put_vi(&k, 0x3e, 2);
    put_vi(&k, 0x3e, 2);
    assert_int_equal(decode(&k, &tp, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_TRANSPORT_PARAMETER_ERROR);

    k.n = 0; /* empty, and a varint that does not fill its length */
    put_raw(&k, 0x0f, scid, 4);
    put_raw(&k, 0x3e, NULL, 0);
    assert_int_equal(decode(&k, &tp, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_TRANSPORT_PARAMETER_ERROR);
    k.n = 0;
    put_raw(&k, 0x0f, scid, 4);
    static const uint8_t two[2] = {0x05, 0x00};
    put_raw(&k, 0x3e, two, 2);
    assert_int_equal(decode(&k, &tp, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_TRANSPORT_PARAMETER_ERROR);

    k.n = 0; /* a zero-length initial_source_connection_id: PROTOCOL_VIOLATION */
    put_raw(&k, 0x0f, NULL, 0);
    put_vi(&k, 0x3e, 3);
    assert_int_equal(decode(&k, &tp, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_PROTOCOL_VIOLATION);
    /* ... which without the offer stays allowed */
    k.n = 0;
    put_raw(&k, 0x0f, NULL, 0);
    assert_int_equal(decode(&k, &tp, &terr), 0);
    assert_int_equal(tp.has_initial_max_path_id, 0);

    k.n = 0; /* 2^32-1 is the largest value accepted */
    put_raw(&k, 0x0f, scid, 4);
    put_vi(&k, 0x3e, TERN_MP_PATH_ID_MAX);
    assert_int_equal(decode(&k, &tp, &terr), 0);
    assert_int_equal(tp.initial_max_path_id, TERN_MP_PATH_ID_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
