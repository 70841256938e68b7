/* Tests of the transport parameter codec (RFC 9000 §18, RFC 9368 §3's version_information). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tparams.h"
#include "varint.h"

#define TPE TERN_TE_TRANSPORT_PARAMETER_ERROR

/* A tiny builder for hand-made parameter blocks. */
typedef struct blk {
    uint8_t b[512];
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
    size_t l = (size_t)(tern_varint_put(tmp, v) - tmp);
    put_raw(k, id, tmp, l);
}

static const uint8_t scid_bytes[4] = {0x5c, 0x1d, 0x00, 0x01};
static const uint8_t odcid_bytes[8] = {0x0d, 0xc1, 0xd0, 1, 2, 3, 4, 5};

/* A minimal valid block: initial_scid, and original_dcid when from a server. */
static void base(blk *k, int server)
{
    k->n = 0;
    put_raw(k, 0x0f, scid_bytes, 4);
    if (server)
        put_raw(k, 0x00, odcid_bytes, 8);
}

#define expect_ok(k, server) expect_rc_at(k, server, 0, __LINE__)
#define expect_err(k, server) expect_rc_at(k, server, TERN_ERR_PROTO, __LINE__)
static void expect_rc_at(const blk *k, int server, int want, int line)
{
    tern_tparams tp;
    uint64_t terr = 0;
    int rc = tern_tparams_decode(&tp, server, k->b, k->n, &terr);
    _assert_int_equal((uintmax_t)rc, (uintmax_t)want, __FILE__, line);
    if (want)
        _assert_int_equal(terr, TPE, __FILE__, line);
}

static void fill_all(tern_tparams *tp)
{
    tern_tparams_default(tp);
    tp->has_original_dcid = 1;
    tern_cid_set(&tp->original_dcid, odcid_bytes, 8);
    tern_cid_set(&tp->initial_scid, scid_bytes, 4);
    tp->has_retry_scid = 1;
    uint8_t r[20];
    for (int i = 0; i < 20; i++)
        r[i] = (uint8_t)(0x80 + i);
    tern_cid_set(&tp->retry_scid, r, 20);
    tp->has_stateless_reset_token = 1;
    for (int i = 0; i < 16; i++)
        tp->stateless_reset_token[i] = (uint8_t)(0x30 + i);
    tp->has_preferred_address = 1;
    tern_preferred_addr *pa = &tp->preferred_address;
    static const uint8_t v4[4] = {192, 0, 2, 7};
    memcpy(pa->ipv4, v4, 4);
    pa->ipv4_port = 4433;
    for (int i = 0; i < 16; i++)
        pa->ipv6[i] = (uint8_t)(0x20 + i);
    pa->ipv6_port = 8443;
    tern_cid_set(&pa->cid, r, 9);
    for (int i = 0; i < 16; i++)
        pa->token[i] = (uint8_t)(0xe0 + i);
    tp->max_idle_timeout = 30000;
    tp->max_udp_payload_size = 1472;
    tp->initial_max_data = 1ull << 24;
    tp->initial_max_stream_data_bidi_local = 1ull << 20;
    tp->initial_max_stream_data_bidi_remote = (1ull << 20) + 1;
    tp->initial_max_stream_data_uni = TERN_MAX_VARINT;
    tp->initial_max_streams_bidi = 1ull << 60;
    tp->initial_max_streams_uni = 3;
    tp->ack_delay_exponent = 20;
    tp->max_ack_delay = (1 << 14) - 1;
    tp->disable_active_migration = 1;
    tp->active_connection_id_limit = 8;
    tp->version_info.present = 1;
    tp->version_info.chosen = TERN_PROTO_VERSION_2;
    tp->version_info.n = 3;
    tp->version_info.available[0] = TERN_PROTO_VERSION_2;
    tp->version_info.available[1] = TERN_PROTO_VERSION_1;
    tp->version_info.available[2] = 0x1a2a3a4a; /* a reserved version, as GREASE */
}

static void assert_tp_equal(const tern_tparams *a, const tern_tparams *b)
{
    assert_int_equal(a->has_original_dcid, b->has_original_dcid);
    assert_int_equal(a->has_retry_scid, b->has_retry_scid);
    assert_int_equal(a->has_stateless_reset_token, b->has_stateless_reset_token);
    assert_int_equal(a->has_preferred_address, b->has_preferred_address);
    if (a->has_original_dcid)
        assert_true(tern_cid_eq(&a->original_dcid, &b->original_dcid));
    if (a->has_retry_scid)
        assert_true(tern_cid_eq(&a->retry_scid, &b->retry_scid));
    assert_true(tern_cid_eq(&a->initial_scid, &b->initial_scid));
    if (a->has_stateless_reset_token)
        assert_memory_equal(a->stateless_reset_token, b->stateless_reset_token, 16);
    if (a->has_preferred_address) {
        const tern_preferred_addr *x = &a->preferred_address, *y = &b->preferred_address;
        assert_memory_equal(x->ipv4, y->ipv4, 4);
        assert_int_equal(x->ipv4_port, y->ipv4_port);
        assert_memory_equal(x->ipv6, y->ipv6, 16);
        assert_int_equal(x->ipv6_port, y->ipv6_port);
        assert_true(tern_cid_eq(&x->cid, &y->cid));
        assert_memory_equal(x->token, y->token, 16);
    }
    assert_int_equal(a->max_idle_timeout, b->max_idle_timeout);
    assert_int_equal(a->max_udp_payload_size, b->max_udp_payload_size);
    assert_int_equal(a->initial_max_data, b->initial_max_data);
    assert_int_equal(a->initial_max_stream_data_bidi_local, b->initial_max_stream_data_bidi_local);
    assert_int_equal(a->initial_max_stream_data_bidi_remote, b->initial_max_stream_data_bidi_remote);
    assert_int_equal(a->initial_max_stream_data_uni, b->initial_max_stream_data_uni);
    assert_int_equal(a->initial_max_streams_bidi, b->initial_max_streams_bidi);
    assert_int_equal(a->initial_max_streams_uni, b->initial_max_streams_uni);
    assert_int_equal(a->ack_delay_exponent, b->ack_delay_exponent);
    assert_int_equal(a->max_ack_delay, b->max_ack_delay);
    assert_int_equal(a->disable_active_migration, b->disable_active_migration);
    assert_int_equal(a->active_connection_id_limit, b->active_connection_id_limit);
    assert_int_equal(a->max_datagram_frame_size, b->max_datagram_frame_size);
    assert_int_equal(a->version_info.present, b->version_info.present);
    assert_int_equal(a->version_info.chosen, b->version_info.chosen);
    assert_int_equal(a->version_info.n, b->version_info.n);
    assert_memory_equal(a->version_info.available, b->version_info.available,
                        a->version_info.n * sizeof(uint32_t));
}

static void test_defaults(void **state)
{
    (void)state;
    tern_tparams tp;
    memset(&tp, 0xa5, sizeof(tp));
    tern_tparams_default(&tp);
    assert_int_equal(tp.max_idle_timeout, 0);
    assert_int_equal(tp.max_udp_payload_size, 65527);
    assert_int_equal(tp.initial_max_data, 0);
    assert_int_equal(tp.initial_max_streams_bidi, 0);
    assert_int_equal(tp.ack_delay_exponent, 3);
    assert_int_equal(tp.max_ack_delay, 25);
    assert_int_equal(tp.disable_active_migration, 0);
    assert_int_equal(tp.active_connection_id_limit, 2);
    assert_int_equal(tp.has_preferred_address, 0);
    assert_int_equal(tp.has_stateless_reset_token, 0);
    assert_int_equal(tp.initial_scid.len, 0);

    /* Decoding a minimal block yields the defaults, whatever tp held before. */
    blk k;
    base(&k, 1);
    tern_tparams got;
    uint64_t terr;
    fill_all(&got);
    assert_int_equal(tern_tparams_decode(&got, 1, k.b, k.n, &terr), 0);
    tern_tparams want;
    tern_tparams_default(&want);
    want.has_original_dcid = 1;
    tern_cid_set(&want.original_dcid, odcid_bytes, 8);
    tern_cid_set(&want.initial_scid, scid_bytes, 4);
    assert_tp_equal(&got, &want);
}

static void test_roundtrip_server_all(void **state)
{
    (void)state;
    tern_tparams tp, got;
    fill_all(&tp);
    uint8_t buf[512];
    size_t n = tern_tparams_encode(&tp, 1, buf, sizeof(buf));
    assert_true(n > 0);
    uint64_t terr;
    assert_int_equal(tern_tparams_decode(&got, 1, buf, n, &terr), 0);
    assert_tp_equal(&tp, &got);

    /* The same block claimed to come from a client carries server-only parameters: rejected. */
    assert_int_equal(tern_tparams_decode(&got, 0, buf, n, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TPE);

    for (size_t cap = 0; cap < n; cap++)
        assert_int_equal(tern_tparams_encode(&tp, 1, buf, cap), 0);
}

static void test_roundtrip_client(void **state)
{
    (void)state;
    tern_tparams tp, got;
    fill_all(&tp);
    uint8_t buf[512];
    size_t n = tern_tparams_encode(&tp, 0, buf, sizeof(buf));
    assert_true(n > 0);
    uint64_t terr;
    assert_int_equal(tern_tparams_decode(&got, 0, buf, n, &terr), 0);
    /* The server-only ones were not sent. */
    tp.has_original_dcid = tp.has_retry_scid = 0;
    tp.has_stateless_reset_token = tp.has_preferred_address = 0;
    assert_tp_equal(&tp, &got);
}

static void test_exact_encoding(void **state)
{
    (void)state;
    tern_tparams tp;
    tern_tparams_default(&tp);
    tern_cid_set(&tp.initial_scid, scid_bytes, 4);
    tp.max_idle_timeout = 30000;
    tp.initial_max_data = 1 << 20;
    tp.disable_active_migration = 1;
    uint8_t buf[64];
    size_t n = tern_tparams_encode(&tp, 0, buf, sizeof(buf));
    static const uint8_t want[] = {
        0x01, 0x04, 0x80, 0x00, 0x75, 0x30, /* max_idle_timeout 30000 */
        0x04, 0x04, 0x80, 0x10, 0x00, 0x00, /* initial_max_data 2^20 */
        0x0c, 0x00,                         /* disable_active_migration */
        0x0f, 0x04, 0x5c, 0x1d, 0x00, 0x01, /* initial_source_connection_id */
    };
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, n);

    /* Zero-length initial_scid is still written (it is required). */
    tern_tparams_default(&tp);
    n = tern_tparams_encode(&tp, 0, buf, sizeof(buf));
    assert_int_equal(n, 2);
    assert_int_equal(buf[0], 0x0f);
    assert_int_equal(buf[1], 0x00);
    tern_tparams got;
    uint64_t terr;
    assert_int_equal(tern_tparams_decode(&got, 0, buf, n, &terr), 0);
    assert_int_equal(got.initial_scid.len, 0);
}

static void test_each_param_decoded(void **state)
{
    (void)state;
    blk k;
    base(&k, 1);
    put_vi(&k, 0x01, 5000);
    put_vi(&k, 0x03, 1200);
    put_vi(&k, 0x04, 1);
    put_vi(&k, 0x05, 2);
    put_vi(&k, 0x06, 3);
    put_vi(&k, 0x07, 4);
    put_vi(&k, 0x08, 5);
    put_vi(&k, 0x09, 6);
    put_vi(&k, 0x0a, 0);
    put_vi(&k, 0x0b, 0);
    put_raw(&k, 0x0c, NULL, 0);
    put_vi(&k, 0x0e, 2);
    uint8_t tok[16] = {0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff};
    put_raw(&k, 0x02, tok, 16);
    uint8_t rs[3] = {7, 7, 7};
    put_raw(&k, 0x10, rs, 3);
    uint8_t pa[4 + 2 + 16 + 2 + 1 + 2 + 16] = {10, 0, 0, 1, 0x01, 0xbb};
    pa[22] = 0x20;
    pa[23] = 0xfb;
    pa[24] = 2;
    pa[25] = 0xc1;
    pa[26] = 0xc2;
    memcpy(pa + 27, tok, 16);
    put_raw(&k, 0x0d, pa, sizeof(pa));

    tern_tparams tp;
    uint64_t terr;
    assert_int_equal(tern_tparams_decode(&tp, 1, k.b, k.n, &terr), 0);
    assert_int_equal(tp.max_idle_timeout, 5000);
    assert_int_equal(tp.max_udp_payload_size, 1200);
    assert_int_equal(tp.initial_max_data, 1);
    assert_int_equal(tp.initial_max_stream_data_bidi_local, 2);
    assert_int_equal(tp.initial_max_stream_data_bidi_remote, 3);
    assert_int_equal(tp.initial_max_stream_data_uni, 4);
    assert_int_equal(tp.initial_max_streams_bidi, 5);
    assert_int_equal(tp.initial_max_streams_uni, 6);
    assert_int_equal(tp.ack_delay_exponent, 0);
    assert_int_equal(tp.max_ack_delay, 0);
    assert_int_equal(tp.disable_active_migration, 1);
    assert_int_equal(tp.active_connection_id_limit, 2);
    assert_int_equal(tp.has_stateless_reset_token, 1);
    assert_memory_equal(tp.stateless_reset_token, tok, 16);
    assert_int_equal(tp.has_retry_scid, 1);
    assert_int_equal(tp.retry_scid.len, 3);
    assert_int_equal(tp.has_original_dcid, 1);
    assert_memory_equal(tp.original_dcid.data, odcid_bytes, 8);
    assert_memory_equal(tp.initial_scid.data, scid_bytes, 4);
    assert_int_equal(tp.has_preferred_address, 1);
    assert_memory_equal(tp.preferred_address.ipv4, pa, 4);
    assert_int_equal(tp.preferred_address.ipv4_port, 443);
    assert_int_equal(tp.preferred_address.ipv6[0], 0);
    assert_int_equal(tp.preferred_address.ipv6_port, 0x20fb);
    assert_int_equal(tp.preferred_address.cid.len, 2);
    assert_int_equal(tp.preferred_address.cid.data[1], 0xc2);
    assert_memory_equal(tp.preferred_address.token, tok, 16);

    /* Every truncation of a valid block fails (the cut always lands inside a parameter or drops a
     * required one). */
    for (size_t n = 0; n < k.n; n++) {
        blk t = k;
        t.n = n;
        /* cuts on a parameter boundary leave a shorter but valid block when the required ones
         * (sent first) are complete */
        tern_tparams x;
        int rc = tern_tparams_decode(&x, 1, t.b, t.n, &terr);
        if (rc == 0)
            assert_true(n >= 6 + 10);
        else
            assert_int_equal(terr, TPE);
    }
}

static void test_unknown_ignored(void **state)
{
    (void)state;
    blk k;
    base(&k, 0);
    uint8_t junk[40];
    memset(junk, 0x99, sizeof(junk));
    put_raw(&k, 31 * 5 + 27, junk, sizeof(junk)); /* reserved (GREASE) id */
    put_raw(&k, 31 * 5 + 27, junk, 3);             /* even twice */
    put_raw(&k, 0x12, junk, 0);
    put_raw(&k, 0x2ab2, junk, 1);    /* an extension we do not know */
    put_raw(&k, TERN_MAX_VARINT, junk, 7);
    expect_ok(&k, 0);
}

/* max_datagram_frame_size (RFC 9221 §3): absent is 0, any varint value from either side, once,
 * filling its length; written only when not 0. */
static void test_max_datagram_frame_size(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0, 1, 1200, 65535, TERN_MAX_VARINT};
    for (int server = 0; server < 2; server++)
        for (size_t i = 0; i < TERN_ARRAY_LEN(vals); i++) {
            blk k;
            base(&k, server);
            put_vi(&k, 0x20, vals[i]);
            tern_tparams tp;
            uint64_t terr = 0;
            assert_int_equal(tern_tparams_decode(&tp, server, k.b, k.n, &terr), 0);
            assert_int_equal(tp.max_datagram_frame_size, vals[i]);
            /* round trip */
            uint8_t buf[256];
            size_t n = tern_tparams_encode(&tp, server, buf, sizeof(buf));
            assert_true(n > 0);
            tern_tparams back;
            assert_int_equal(tern_tparams_decode(&back, server, buf, n, &terr), 0);
            assert_int_equal(back.max_datagram_frame_size, vals[i]);
            put_vi(&k, 0x20, vals[i]); /* twice */
            expect_err(&k, server);
        }
    blk k;
    base(&k, 0);
    tern_tparams tp;
    uint64_t terr = 0;
    assert_int_equal(tern_tparams_decode(&tp, 0, k.b, k.n, &terr), 0);
    assert_int_equal(tp.max_datagram_frame_size, 0);
    /* the value must fill its length exactly: a 1-byte varint in 2 bytes, and a truncated one */
    static const uint8_t padded[] = {0x05, 0x00};
    base(&k, 0);
    put_raw(&k, 0x20, padded, 2);
    expect_err(&k, 0);
    static const uint8_t cut[] = {0x44};
    base(&k, 0);
    put_raw(&k, 0x20, cut, 1);
    expect_err(&k, 0);
    base(&k, 0);
    put_raw(&k, 0x20, NULL, 0);
    expect_err(&k, 0);
    /* encoding: absent at 0, exactly id 0x20, length 2, value 1200 otherwise */
    tern_tparams_default(&tp);
    tern_cid_set(&tp.initial_scid, scid_bytes, 4);
    uint8_t a[128], b[128];
    size_t na = tern_tparams_encode(&tp, 0, a, sizeof(a));
    tp.max_datagram_frame_size = 1200;
    size_t nb = tern_tparams_encode(&tp, 0, b, sizeof(b));
    assert_int_equal(nb, na + 4);
    assert_memory_equal(b, a, na);
    static const uint8_t tail[] = {0x20, 0x02, 0x44, 0xb0};
    assert_memory_equal(b + na, tail, 4);
}

/* min_ack_delay (draft-ietf-quic-ack-frequency §3): id 0xff04de1b, microseconds, from either side,
 * once, filling its length, and not above max_ack_delay (milliseconds) wherever that comes. */
static void test_min_ack_delay(void **state)
{
    (void)state;
    uint64_t terr = 0;
    tern_tparams tp;
    for (int server = 0; server < 2; server++) {
        blk k;
        base(&k, server);
        assert_int_equal(tern_tparams_decode(&tp, server, k.b, k.n, &terr), 0);
        assert_int_equal(tp.has_min_ack_delay, 0);
        /* 0, 1 us and exactly the default max_ack_delay of 25 ms are fine */
        static const uint64_t ok[] = {0, 1, 1000, 25000};
        for (size_t i = 0; i < TERN_ARRAY_LEN(ok); i++) {
            base(&k, server);
            put_vi(&k, 0xff04de1b, ok[i]);
            assert_int_equal(tern_tparams_decode(&tp, server, k.b, k.n, &terr), 0);
            assert_int_equal(tp.has_min_ack_delay, 1);
            assert_int_equal(tp.min_ack_delay_us, ok[i]);
            uint8_t buf[256];
            size_t n = tern_tparams_encode(&tp, server, buf, sizeof(buf));
            assert_true(n > 0);
            tern_tparams back;
            assert_int_equal(tern_tparams_decode(&back, server, buf, n, &terr), 0);
            assert_int_equal(back.has_min_ack_delay, 1);
            assert_int_equal(back.min_ack_delay_us, ok[i]);
            put_vi(&k, 0xff04de1b, ok[i]); /* twice */
            expect_err(&k, server);
        }
        /* one microsecond above the default 25 ms */
        base(&k, server);
        put_vi(&k, 0xff04de1b, 25001);
        expect_err(&k, server);
        /* against an explicit max_ack_delay, before or after it */
        base(&k, server);
        put_vi(&k, 0xff04de1b, 5000);
        put_vi(&k, 0x0b, 4);
        expect_err(&k, server);
        base(&k, server);
        put_vi(&k, 0x0b, 5);
        put_vi(&k, 0xff04de1b, 5000);
        assert_int_equal(tern_tparams_decode(&tp, server, k.b, k.n, &terr), 0);
        base(&k, server);
        put_vi(&k, 0x0b, 0);
        put_vi(&k, 0xff04de1b, 1);
        expect_err(&k, server);
    }
    /* a value that does not fill its length */
    static const uint8_t padded[] = {0x05, 0x00};
    blk k;
    base(&k, 0);
    put_raw(&k, 0xff04de1b, padded, 2);
    expect_err(&k, 0);
    base(&k, 0);
    put_raw(&k, 0xff04de1b, NULL, 0);
    expect_err(&k, 0);
    /* encoding: absent without the flag; with it, id 0xff04de1b (8 bytes), length 2, value */
    tern_tparams_default(&tp);
    tern_cid_set(&tp.initial_scid, scid_bytes, 4);
    uint8_t a[128], b[128];
    size_t na = tern_tparams_encode(&tp, 0, a, sizeof(a));
    tp.has_min_ack_delay = 1;
    tp.min_ack_delay_us = 1000;
    size_t nb = tern_tparams_encode(&tp, 0, b, sizeof(b));
    assert_int_equal(nb, na + 11);
    static const uint8_t tail[] = {0xc0, 0, 0, 0, 0xff, 0x04, 0xde, 0x1b, 0x02, 0x43, 0xe8};
    assert_memory_equal(b + na, tail, sizeof(tail));
}

static void test_duplicates(void **state)
{
    (void)state;
    static const uint64_t ids[] = {0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   0x09, 0x0a, 0x0b, 0x0e};
    for (size_t i = 0; i < TERN_ARRAY_LEN(ids); i++) {
        uint64_t v = ids[i] == 0x03 ? 1300 : 10; /* valid on its own */
        blk k;
        base(&k, 0);
        put_vi(&k, ids[i], v);
        expect_ok(&k, 0);
        put_vi(&k, ids[i], v);
        expect_err(&k, 0);
    }
    blk k;
    base(&k, 0);
    put_raw(&k, 0x0f, scid_bytes, 4); /* initial_scid twice */
    expect_err(&k, 0);
    base(&k, 0);
    put_raw(&k, 0x0c, NULL, 0);
    put_raw(&k, 0x0c, NULL, 0);
    expect_err(&k, 0);
    base(&k, 1);
    put_raw(&k, 0x00, odcid_bytes, 8);
    expect_err(&k, 1);
}

static void test_bad_lengths(void **state)
{
    (void)state;
    blk k;
    uint8_t v[40] = {0};

    /* A varint that does not fill its length, or overruns it. */
    base(&k, 0);
    v[0] = 0x05;
    put_raw(&k, 0x04, v, 2);
    expect_err(&k, 0);
    base(&k, 0);
    v[0] = 0x40;
    put_raw(&k, 0x04, v, 1);
    expect_err(&k, 0);
    base(&k, 0);
    put_raw(&k, 0x04, v, 0);
    expect_err(&k, 0);
    /* A non-minimal varint that fills its length exactly is fine. */
    base(&k, 0);
    v[0] = 0x40;
    v[1] = 0x05;
    put_raw(&k, 0x04, v, 2);
    expect_ok(&k, 0);

    base(&k, 1);
    put_raw(&k, 0x02, v, 15); /* reset token */
    expect_err(&k, 1);
    base(&k, 1);
    put_raw(&k, 0x02, v, 17);
    expect_err(&k, 1);
    base(&k, 0);
    put_raw(&k, 0x0c, v, 1); /* disable_active_migration has no value */
    expect_err(&k, 0);
    base(&k, 0);
    k.n = 0;
    put_raw(&k, 0x0f, v, 21); /* CID too long */
    expect_err(&k, 0);
    base(&k, 1);
    k.n = 0;
    put_raw(&k, 0x0f, scid_bytes, 4);
    put_raw(&k, 0x00, v, 21);
    expect_err(&k, 1);
    base(&k, 1);
    put_raw(&k, 0x10, v, 21);
    expect_err(&k, 1);

    /* preferred_address: CID length byte must match the total length, and be 1..20. */
    uint8_t pa[4 + 2 + 16 + 2 + 1 + 20 + 16] = {0};
    for (size_t cl = 0; cl <= 21; cl++) {
        pa[24] = (uint8_t)cl;
        size_t total = 4 + 2 + 16 + 2 + 1 + cl + 16;
        if (total > sizeof(pa))
            total = sizeof(pa);
        base(&k, 1);
        put_raw(&k, 0x0d, pa, total);
        if (cl >= 1 && cl <= 20)
            expect_ok(&k, 1);
        else
            expect_err(&k, 1);
        if (cl >= 1 && cl <= 20) {
            base(&k, 1);
            put_raw(&k, 0x0d, pa, total - 1);
            expect_err(&k, 1);
            if (total < sizeof(pa)) {
                base(&k, 1);
                put_raw(&k, 0x0d, pa, total + 1);
                expect_err(&k, 1);
            }
        }
    }

    /* Parameter length beyond the block, and a truncated id. */
    base(&k, 0);
    k.b[k.n++] = 0x04;
    k.b[k.n++] = 0x08;
    k.b[k.n++] = 0x01;
    expect_err(&k, 0);
    base(&k, 0);
    k.b[k.n++] = 0x80;
    expect_err(&k, 0);
    base(&k, 0);
    k.b[k.n++] = 0x04;
    expect_err(&k, 0);
}

static void test_value_ranges(void **state)
{
    (void)state;
    struct {
        uint64_t id, bad, good;
    } cases[] = {
        {0x03, 1199, 1200},                      /* max_udp_payload_size */
        {0x03, 0, 65527},
        {0x0a, 21, 20},                          /* ack_delay_exponent */
        {0x0b, 1 << 14, (1 << 14) - 1},          /* max_ack_delay */
        {0x0e, 1, 2},                            /* active_connection_id_limit */
        {0x0e, 0, TERN_MAX_VARINT},
        {0x08, (1ull << 60) + 1, 1ull << 60},    /* initial_max_streams_bidi */
        {0x09, (1ull << 60) + 1, 1ull << 60},    /* initial_max_streams_uni */
    };
    for (size_t i = 0; i < TERN_ARRAY_LEN(cases); i++) {
        blk k;
        base(&k, 0);
        put_vi(&k, cases[i].id, cases[i].bad);
        expect_err(&k, 0);
        base(&k, 0);
        put_vi(&k, cases[i].id, cases[i].good);
        expect_ok(&k, 0);
    }
}

static void test_server_only_from_client(void **state)
{
    (void)state;
    uint8_t v[64] = {0};
    v[24] = 4; /* preferred_address CID length */
    const struct {
        uint64_t id;
        size_t len;
    } so[] = {{0x00, 8}, {0x02, 16}, {0x0d, 4 + 2 + 16 + 2 + 1 + 4 + 16}, {0x10, 5}};
    for (size_t i = 0; i < TERN_ARRAY_LEN(so); i++) {
        blk k;
        base(&k, 0);
        put_raw(&k, so[i].id, v, so[i].len);
        expect_err(&k, 0);
        /* the very same bytes are fine from a server */
        base(&k, 1);
        if (so[i].id != 0x00)
            put_raw(&k, so[i].id, v, so[i].len);
        expect_ok(&k, 1);
    }
}

static void test_required(void **state)
{
    (void)state;
    blk k = {.n = 0};
    put_vi(&k, 0x04, 100);
    expect_err(&k, 0); /* no initial_source_connection_id */
    k.n = 0;
    expect_err(&k, 0);
    k.n = 0;
    put_raw(&k, 0x0f, scid_bytes, 4);
    expect_ok(&k, 0);
    expect_err(&k, 1); /* a server must send original_destination_connection_id */
    k.n = 0;
    put_raw(&k, 0x00, odcid_bytes, 8);
    expect_err(&k, 1);
}

/* RFC 9000 §18.2: a server that uses a zero-length connection ID must not send preferred_address. */
static void test_preferred_address_zero_len_scid(void **state)
{
    (void)state;
    tern_tparams tp, got;
    fill_all(&tp);
    tp.initial_scid.len = 0;
    uint8_t buf[512];
    size_t n = tern_tparams_encode(&tp, 1, buf, sizeof(buf));
    assert_true(n > 0);
    uint64_t terr = 0;
    assert_int_equal(tern_tparams_decode(&got, 1, buf, n, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TPE);
    /* without the preferred address the zero-length CID is fine */
    tp.has_preferred_address = 0;
    n = tern_tparams_encode(&tp, 1, buf, sizeof(buf));
    assert_int_equal(tern_tparams_decode(&got, 1, buf, n, &terr), 0);
    assert_int_equal(got.initial_scid.len, 0);
}

/* RFC 9368 §3: the exact bytes, what a decoder keeps, and every malformed form. */
static void test_version_information(void **state)
{
    (void)state;
    tern_tparams tp, got;
    tern_tparams_default(&tp);
    tern_cid_set(&tp.initial_scid, scid_bytes, 4);
    tp.version_info.present = 1;
    tp.version_info.chosen = TERN_PROTO_VERSION_1;
    tp.version_info.n = 2;
    tp.version_info.available[0] = TERN_PROTO_VERSION_1;
    tp.version_info.available[1] = TERN_PROTO_VERSION_2;
    uint8_t buf[128];
    size_t n = tern_tparams_encode(&tp, 0, buf, sizeof(buf));
    static const uint8_t want[] = {
        0x0f, 0x04, 0x5c, 0x1d, 0x00, 0x01,                   /* initial_source_connection_id */
        0x11, 0x0c, 0x00, 0x00, 0x00, 0x01,                   /* version_information: chosen v1 */
        0x00, 0x00, 0x00, 0x01, 0x6b, 0x33, 0x43, 0xcf,       /* available v1, v2 */
    };
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, n);
    uint64_t terr;
    assert_int_equal(tern_tparams_decode(&got, 0, buf, n, &terr), 0);
    assert_tp_equal(&tp, &got);
    /* absent: not present, nothing else assumed */
    tern_tparams_default(&tp);
    n = tern_tparams_encode(&tp, 0, buf, sizeof(buf));
    assert_int_equal(tern_tparams_decode(&got, 0, buf, n, &terr), 0);
    assert_int_equal(got.version_info.present, 0);

    /* a Chosen Version alone: from a server, valid; from a client, its Chosen Version is missing
     * from its (empty) Available Versions */
    blk k;
    uint8_t v[80];
    memset(v, 0, sizeof(v));
    v[3] = 1;
    base(&k, 1);
    put_raw(&k, 0x11, v, 4);
    expect_ok(&k, 1);
    base(&k, 0);
    put_raw(&k, 0x11, v, 4);
    expect_err(&k, 0);
    v[7] = 1; /* chosen v1, available v1 */
    base(&k, 0);
    put_raw(&k, 0x11, v, 8);
    expect_ok(&k, 0);
    /* lengths that are not whole versions, or no chosen version */
    static const size_t bad_len[] = {0, 1, 3, 5, 7, 10};
    for (size_t i = 0; i < TERN_ARRAY_LEN(bad_len); i++) {
        base(&k, 0);
        put_raw(&k, 0x11, v, bad_len[i]);
        expect_err(&k, 0);
    }
    /* a zero chosen version, or a zero among the available ones */
    uint8_t z[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    base(&k, 0);
    put_raw(&k, 0x11, z, 8);
    expect_err(&k, 0);
    uint8_t z2[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    base(&k, 0);
    put_raw(&k, 0x11, z2, 12);
    expect_err(&k, 0);
    /* a client's Chosen Version must be among its Available Versions; a server's need not be */
    uint8_t unlisted[8] = {0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf};
    base(&k, 0);
    put_raw(&k, 0x11, unlisted, 8);
    expect_err(&k, 0);
    base(&k, 1);
    put_raw(&k, 0x11, unlisted, 8);
    expect_ok(&k, 1);
    /* twice */
    base(&k, 0);
    put_raw(&k, 0x11, v, 8);
    put_raw(&k, 0x11, v, 8);
    expect_err(&k, 0);
    /* 19 available versions: the first TERN_QV_INFO_MAX are kept, in order, and no more */
    for (size_t i = 0; i < 20; i++) {
        v[4 * i] = 0x0a;
        v[4 * i + 3] = (uint8_t)i;
    }
    base(&k, 1);
    put_raw(&k, 0x11, v, 80);
    assert_int_equal(tern_tparams_decode(&got, 1, k.b, k.n, &terr), 0);
    assert_int_equal(got.version_info.chosen, 0x0a000000u);
    assert_int_equal(got.version_info.n, TERN_QV_INFO_MAX);
    for (size_t i = 0; i < TERN_QV_INFO_MAX; i++)
        assert_int_equal(got.version_info.available[i], 0x0a000000u + i + 1);
    /* ... but when the list is longer, the Chosen Version and v1 and v2 come first: a client's
     * chosen version at the end stays listed (its parameters encode and decode again), and a
     * server's v2 at the end still shows up for the downgrade check */
    memcpy(v + 76, "\x6b\x33\x43\xcf", 4);
    v[0] = 0x6b, v[1] = 0x33, v[2] = 0x43, v[3] = 0xcf; /* chosen v2, listed last */
    for (int from_server = 0; from_server < 2; from_server++) {
        base(&k, from_server);
        put_raw(&k, 0x11, v, 80);
        assert_int_equal(tern_tparams_decode(&got, from_server, k.b, k.n, &terr), 0);
        assert_int_equal(got.version_info.n, TERN_QV_INFO_MAX);
        assert_int_equal(got.version_info.available[0], TERN_PROTO_VERSION_2);
        assert_int_equal(got.version_info.available[1], 0x0a000001u);
        uint8_t enc[512];
        size_t en = tern_tparams_encode(&got, from_server, enc, sizeof(enc));
        assert_true(en > 0);
        tern_tparams again;
        assert_int_equal(tern_tparams_decode(&again, from_server, enc, en, &terr), 0);
        assert_memory_equal(again.version_info.available, got.version_info.available,
                            TERN_QV_INFO_MAX * sizeof(uint32_t));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_roundtrip_server_all),
        cmocka_unit_test(test_roundtrip_client),
        cmocka_unit_test(test_exact_encoding),
        cmocka_unit_test(test_each_param_decoded),
        cmocka_unit_test(test_unknown_ignored),
        cmocka_unit_test(test_max_datagram_frame_size),
        cmocka_unit_test(test_min_ack_delay),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_value_ranges),
        cmocka_unit_test(test_server_only_from_client),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_preferred_address_zero_len_scid),
        cmocka_unit_test(test_version_information),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
