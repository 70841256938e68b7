/* The resumption blob codec: a round trip keeps every field, max_datagram_frame_size included;
 * a blob without that one (as written before it was remembered) still decodes, with 0, and 0 is
 * written that way; every truncation, a changed magic or version, trailing bytes, a duplicate,
 * missing or out-of-range parameter, a NUL in the ALPN and an empty or oversized session are
 * refused with TERN_ERR_SESSION; unknown parameters are skipped;
 * single-byte corruptions anywhere never crash and either fail or decode within bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "resume.h"
#include "varint.h"

static uint8_t session[300];

static void sample(tern_resume *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < sizeof(session); i++)
        session[i] = (uint8_t)(i * 13 + 5);
    r->max_early_data = 0xffffffffu;
    strcpy(r->alpn, "h3");
    r->active_connection_id_limit = 8;
    r->initial_max_data = 16u << 20;
    r->initial_max_stream_data_bidi_local = 1000;
    r->initial_max_stream_data_bidi_remote = 2000;
    r->initial_max_stream_data_uni = 3000;
    r->initial_max_streams_bidi = 100;
    r->initial_max_streams_uni = 1ull << 60;
    r->max_datagram_frame_size = 65535;
    r->session = session;
    r->session_len = sizeof(session);
}

static size_t encode(const tern_resume *r, uint8_t *buf, size_t cap)
{
    size_t n = tern_resume_encode(r, buf, cap);
    assert_true(n > 0);
    return n;
}

/* Offset of the parameters section (after magic, version, max_early_data, ALPN). */
static size_t params_off(const uint8_t *buf)
{
    return 4 + 1 + 4 + 1 + buf[9] + 2;
}

static void test_round_trip(void **st)
{
    tern_resume r, d;
    uint8_t buf[1024];
    sample(&r);
    size_t n = encode(&r, buf, sizeof(buf));
    assert_int_equal(tern_resume_decode(&d, buf, n), 0);
    assert_int_equal(d.max_early_data, r.max_early_data);
    assert_string_equal(d.alpn, "h3");
    assert_int_equal(d.active_connection_id_limit, 8);
    assert_int_equal(d.initial_max_data, 16u << 20);
    assert_int_equal(d.initial_max_stream_data_bidi_local, 1000);
    assert_int_equal(d.initial_max_stream_data_bidi_remote, 2000);
    assert_int_equal(d.initial_max_stream_data_uni, 3000);
    assert_int_equal(d.initial_max_streams_bidi, 100);
    assert_int_equal(d.initial_max_streams_uni, 1ull << 60);
    assert_int_equal(d.max_datagram_frame_size, 65535);
    assert_int_equal(d.session_len, sizeof(session));
    assert_memory_equal(d.session, session, sizeof(session));
    assert_true(d.session >= buf && d.session + d.session_len == buf + n); /* no copy */
    /* the output buffer must hold it all */
    assert_int_equal(tern_resume_encode(&r, buf, n - 1), 0);
    assert_int_equal(tern_resume_encode(&r, buf, n), n);
}

static void test_encode_refuses(void **st)
{
    tern_resume r;
    uint8_t buf[20000];
    sample(&r);
    r.session_len = 0;
    assert_int_equal(tern_resume_encode(&r, buf, sizeof(buf)), 0);
    sample(&r);
    r.session = NULL;
    assert_int_equal(tern_resume_encode(&r, buf, sizeof(buf)), 0);
    sample(&r);
    r.session_len = TERN_RESUME_MAX_SESSION + 1;
    assert_int_equal(tern_resume_encode(&r, buf, sizeof(buf)), 0);
    sample(&r);
    r.initial_max_data = 1ull << 62; /* not a varint */
    assert_int_equal(tern_resume_encode(&r, buf, sizeof(buf)), 0);
    sample(&r);
    memset(r.alpn, 'a', sizeof(r.alpn)); /* no NUL: not a string the blob can carry */
    assert_int_equal(tern_resume_encode(&r, buf, sizeof(buf)), 0);
}

static void test_truncations_and_trailing(void **st)
{
    tern_resume r, d;
    uint8_t buf[1024];
    sample(&r);
    size_t n = encode(&r, buf, sizeof(buf));
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(tern_resume_decode(&d, buf, cut), TERN_ERR_SESSION);
    buf[n] = 0;
    assert_int_equal(tern_resume_decode(&d, buf, n + 1), TERN_ERR_SESSION);
    assert_int_equal(tern_resume_decode(&d, NULL, n), TERN_ERR_SESSION);
    assert_int_equal(tern_resume_decode(NULL, buf, n), TERN_ERR_SESSION);
}

static void test_magic_version_alpn(void **st)
{
    tern_resume r, d;
    uint8_t buf[1024];
    sample(&r);
    size_t n = encode(&r, buf, sizeof(buf));
    buf[0] ^= 1;
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    buf[0] ^= 1;
    buf[4] = TERN_RESUME_VERSION + 1; /* a newer writer's layout is not guessed at */
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    buf[4] = TERN_RESUME_VERSION;
    buf[10] = 0; /* a NUL inside the ALPN */
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    buf[10] = 'h';
    assert_int_equal(tern_resume_decode(&d, buf, n), 0);
    /* an empty ALPN is carried as such */
    sample(&r);
    r.alpn[0] = 0;
    n = encode(&r, buf, sizeof(buf));
    assert_int_equal(tern_resume_decode(&d, buf, n), 0);
    assert_string_equal(d.alpn, "");
}

/* Rebuilds a blob of the sample with `params` as its parameters section. */
static size_t with_params(uint8_t *buf, const uint8_t *params, size_t plen)
{
    tern_resume r;
    uint8_t orig[1024];
    sample(&r);
    size_t n = encode(&r, orig, sizeof(orig));
    size_t po = params_off(orig);
    size_t old = (size_t)orig[po - 2] << 8 | orig[po - 1];
    memcpy(buf, orig, po - 2);
    buf[po - 2] = (uint8_t)(plen >> 8);
    buf[po - 1] = (uint8_t)plen;
    memcpy(buf + po, params, plen);
    memcpy(buf + po + plen, orig + po + old, n - po - old);
    return n - old + plen;
}

static size_t put_param(uint8_t *p, uint64_t id, uint64_t v)
{
    uint8_t *q = tern_varint_put(p, id);
    q = tern_varint_put(q, v);
    return (size_t)(q - p);
}

static size_t all_params(uint8_t *p, uint64_t streams_bidi, uint64_t cid_limit)
{
    size_t n = 0;
    n += put_param(p + n, 0x04, 1000);
    n += put_param(p + n, 0x05, 1000);
    n += put_param(p + n, 0x06, 1000);
    n += put_param(p + n, 0x07, 1000);
    n += put_param(p + n, 0x08, streams_bidi);
    n += put_param(p + n, 0x09, 10);
    n += put_param(p + n, 0x0e, cid_limit);
    return n;
}

static void test_parameters(void **st)
{
    tern_resume d;
    uint8_t params[128], buf[1024];
    size_t pl = all_params(params, 7, 2);
    size_t n = with_params(buf, params, pl);
    assert_int_equal(tern_resume_decode(&d, buf, n), 0);
    assert_int_equal(d.initial_max_streams_bidi, 7);
    /* without max_datagram_frame_size (a blob written before it was remembered): none */
    assert_int_equal(d.max_datagram_frame_size, 0);
    /* with it */
    size_t pl2 = pl + put_param(params + pl, 0x20, 12345);
    n = with_params(buf, params, pl2);
    assert_int_equal(tern_resume_decode(&d, buf, n), 0);
    assert_int_equal(d.max_datagram_frame_size, 12345);
    /* unknown ids (a later writer's, or GREASE) are skipped */
    pl2 = pl + put_param(params + pl, 0x21, 12345);
    pl2 += put_param(params + pl2, 0x1f * 31 + 27, 1);
    n = with_params(buf, params, pl2);
    assert_int_equal(tern_resume_decode(&d, buf, n), 0);
    assert_int_equal(d.max_datagram_frame_size, 0);
    /* a duplicate */
    pl2 = pl + put_param(params + pl, 0x04, 1);
    n = with_params(buf, params, pl2);
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    pl2 = pl + put_param(params + pl, 0x20, 1);
    pl2 += put_param(params + pl2, 0x20, 1);
    n = with_params(buf, params, pl2);
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    /* a missing one */
    n = with_params(buf, params, pl - 2);
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    /* out of range values */
    pl = all_params(params, (1ull << 60) + 1, 2);
    n = with_params(buf, params, pl);
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    pl = all_params(params, 7, 1);
    n = with_params(buf, params, pl);
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
    /* a value cut in the middle of its varint */
    pl = all_params(params, 7, 2);
    params[pl++] = 0x04;
    params[pl++] = 0x80; /* a 4-byte varint with one byte */
    n = with_params(buf, params, pl);
    assert_int_equal(tern_resume_decode(&d, buf, n), TERN_ERR_SESSION);
}

/* A limit of 0 is written as a blob of before it was remembered: exactly those bytes, which an
 * older reader (it skips unknown ids) and this one read alike. */
static void test_datagram_limit_absent(void **st)
{
    tern_resume r, d;
    uint8_t with[1024], without[1024];
    sample(&r);
    size_t n1 = encode(&r, with, sizeof(with));
    r.max_datagram_frame_size = 0;
    size_t n0 = encode(&r, without, sizeof(without));
    /* the (0x20, 65535) pair is 1 + 4 bytes */
    assert_int_equal(n1, n0 + 5);
    uint8_t params[128];
    size_t pl = 0;
    pl += put_param(params + pl, 0x04, r.initial_max_data);
    pl += put_param(params + pl, 0x05, r.initial_max_stream_data_bidi_local);
    pl += put_param(params + pl, 0x06, r.initial_max_stream_data_bidi_remote);
    pl += put_param(params + pl, 0x07, r.initial_max_stream_data_uni);
    pl += put_param(params + pl, 0x08, r.initial_max_streams_bidi);
    pl += put_param(params + pl, 0x09, r.initial_max_streams_uni);
    pl += put_param(params + pl, 0x0e, r.active_connection_id_limit);
    size_t po = params_off(without);
    assert_int_equal((size_t)without[po - 2] << 8 | without[po - 1], pl);
    assert_memory_equal(without + po, params, pl);
    assert_int_equal(tern_resume_decode(&d, without, n0), 0);
    assert_int_equal(d.max_datagram_frame_size, 0);
    assert_int_equal(d.initial_max_data, r.initial_max_data);
    /* a limit past 2^62-1 cannot be written */
    r.max_datagram_frame_size = 1ull << 62;
    assert_int_equal(tern_resume_encode(&r, with, sizeof(with)), 0);
}

static void test_session_bounds(void **st)
{
    tern_resume r, d;
    static uint8_t big[TERN_RESUME_MAX_LEN + 16];
    static uint8_t sess[TERN_RESUME_MAX_SESSION];
    sample(&r);
    r.session = sess;
    r.session_len = sizeof(sess);
    size_t n = encode(&r, big, sizeof(big));
    assert_true(n <= TERN_RESUME_MAX_LEN);
    assert_int_equal(tern_resume_decode(&d, big, n), 0);
    /* a declared session length past the limit, whatever follows */
    size_t lo = n - sizeof(sess) - 4;
    big[lo] = 0;
    big[lo + 1] = 0;
    big[lo + 2] = (uint8_t)((TERN_RESUME_MAX_SESSION + 1) >> 8);
    big[lo + 3] = (uint8_t)(TERN_RESUME_MAX_SESSION + 1);
    assert_int_equal(tern_resume_decode(&d, big, n + 1), TERN_ERR_SESSION);
    /* an empty session */
    sample(&r);
    n = encode(&r, big, sizeof(big));
    lo = n - sizeof(session) - 4;
    memset(big + lo, 0, 4);
    assert_int_equal(tern_resume_decode(&d, big, lo + 4), TERN_ERR_SESSION);
}

static void test_byte_flips(void **st)
{
    tern_resume r, d;
    uint8_t buf[1024];
    sample(&r);
    size_t n = encode(&r, buf, sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rv = tern_resume_decode(&d, buf, n);
            if (rv == 0) {
                assert_true(d.session_len > 0 && d.session_len <= TERN_RESUME_MAX_SESSION);
                assert_true(d.session + d.session_len == buf + n);
                assert_true(d.active_connection_id_limit >= 2);
            } else {
                assert_int_equal(rv, TERN_ERR_SESSION);
                assert_int_equal(d.session_len, 0);
            }
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
}

static void test_limits_kept(void **st)
{
    tern_resume r;
    tern_tparams tp;
    sample(&r);
    tern_resume_to_tparams(&r, &tp);
    assert_int_equal(tp.initial_max_stream_data_uni, 3000);
    assert_int_equal(tp.max_ack_delay, 25); /* the rest stays at its default */
    assert_true(tern_resume_limits_kept(&r, &tp));
    tp.initial_max_streams_bidi++; /* raising is fine */
    assert_true(tern_resume_limits_kept(&r, &tp));
    uint64_t *fields[] = {&tp.initial_max_data,
                          &tp.initial_max_stream_data_bidi_local,
                          &tp.initial_max_stream_data_bidi_remote,
                          &tp.initial_max_stream_data_uni,
                          &tp.initial_max_streams_bidi,
                          &tp.initial_max_streams_uni,
                          &tp.active_connection_id_limit,
                          &tp.max_datagram_frame_size};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        tern_resume_to_tparams(&r, &tp);
        (*fields[i])--;
        assert_false(tern_resume_limits_kept(&r, &tp));
    }
    tern_resume back;
    memset(&back, 0, sizeof(back));
    tern_resume_to_tparams(&r, &tp);
    tern_resume_from_tparams(&back, &tp);
    assert_int_equal(back.initial_max_streams_uni, r.initial_max_streams_uni);
    assert_int_equal(back.active_connection_id_limit, r.active_connection_id_limit);
    assert_int_equal(back.max_datagram_frame_size, 65535);
    /* the limits in their fixed order, the datagram one last (what a server's tickets keep) */
    uint64_t lim[TERN_RESUME_LIMITS];
    tern_resume_limits(&r, lim);
    assert_int_equal(lim[0], r.initial_max_data);
    assert_int_equal(lim[TERN_RESUME_LIMITS - 1], 65535);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_truncations_and_trailing),
        cmocka_unit_test(test_magic_version_alpn),
        cmocka_unit_test(test_parameters),
        cmocka_unit_test(test_datagram_limit_absent),
        cmocka_unit_test(test_session_bounds),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_limits_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
