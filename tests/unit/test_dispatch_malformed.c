/* The server front door (dispatch.c) with long-header datagrams that no connection exists for and
 * that are malformed: too short to hold a version, a Version Negotiation trigger whose connection
 * ID lengths exceed 20 (RFC 8999 §5.1 allows 255, but a VN echoing them would be no QUIC v1
 * header), and an Initial whose token looks like our Retry's but does not open, with a DCID too
 * short for a first Initial. Each is dropped with its reason and answered with nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "crypto.h"
#include "dispatch.h"
#include "forge.h"
#include "packet.h"
#include "token.h"

#define SEC 1000000000ull
#define T0 (5 * SEC)

static int seq_rand(void *ud, uint8_t *out, size_t len)
{
    uint32_t *s = ud;
    for (size_t i = 0; i < len; i++) {
        *s = *s * 1103515245u + 12345u;
        out[i] = (uint8_t)(*s >> 16);
    }
    return 0;
}

typedef struct fx {
    tern_dispatch d;
    uint32_t seed;
    tern_path_addr path;
    uint8_t reply[TERN_DISPATCH_REPLY_MAX];
    tern_dispatch_result r;
} fx;

static void start(fx *f)
{
    memset(f, 0, sizeof(*f));
    tern_dispatch_config cfg;
    tern_dispatch_config_init(&cfg);
    for (int i = 0; i < 32; i++) {
        cfg.reset_key[i] = (uint8_t)(i + 1);
        cfg.retry_key[i] = (uint8_t)(0x80 + i);
    }
    f->seed = 7;
    cfg.rand = seq_rand;
    cfg.rand_ud = &f->seed;
    assert_int_equal(tern_dispatch_init(&f->d, &cfg), 0);
    assert_int_equal(tern_addr_parse(&f->path.local, "192.0.2.1:443", 0), 0);
    assert_int_equal(tern_addr_parse(&f->path.remote, "198.51.100.7:5000", 0), 0);
}

static int classify(fx *f, const uint8_t *d, size_t len)
{
    memset(&f->r, 0, sizeof(f->r));
    return tern_dispatch_classify(&f->d, &f->path, d, len, T0, f->reply, sizeof(f->reply), &f->r);
}

static void expect_drop(fx *f, const uint8_t *d, size_t len, tern_dispatch_drop why)
{
    uint64_t before = f->d.st.drop[why], dropped = f->d.st.dropped;
    assert_int_equal(classify(f, d, len), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, why);
    assert_int_equal(f->d.st.drop[why], before + 1);
    assert_int_equal(f->d.st.dropped, dropped + 1);
    assert_int_equal(f->d.st.vn_sent, 0);
    assert_int_equal(f->d.st.retry_sent, 0);
    assert_int_equal(f->d.owners, 0);
}

/* A long header of an unknown version, 1200 bytes, with these CID length bytes. */
static size_t unknown_version(uint8_t *d, size_t cap, uint8_t dcil, uint8_t scil)
{
    assert_true(cap >= 1200);
    memset(d, 0x5a, 1200);
    d[0] = 0xc0;
    d[1] = 0x1a, d[2] = 0x2a, d[3] = 0x3a, d[4] = 0x4a;
    d[5] = dcil;
    d[6 + dcil] = scil;
    return 1200;
}

static void test_short_long_header(void **st)
{
    (void)st;
    fx f;
    start(&f);
    static const uint8_t six[6] = {0xc0, 0, 0, 0, 1, 8};
    expect_drop(&f, six, sizeof(six), TERN_DISPATCH_DROP_MALFORMED);
    tern_dispatch_free(&f.d);
}

static void test_vn_trigger_with_long_cids(void **st)
{
    (void)st;
    fx f;
    start(&f);
    uint8_t d[1500];
    size_t n = unknown_version(d, sizeof(d), 21, 8);
    expect_drop(&f, d, n, TERN_DISPATCH_DROP_MALFORMED);
    n = unknown_version(d, sizeof(d), 8, 21);
    expect_drop(&f, d, n, TERN_DISPATCH_DROP_MALFORMED);
    /* the control: 20-byte CIDs are answered, both echoed */
    n = unknown_version(d, sizeof(d), 20, 20);
    assert_int_equal(classify(&f, d, n), TERN_DISPATCH_REPLY);
    assert_int_equal(f.r.reply_kind, TERN_DISPATCH_REPLY_VN);
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(f.reply, f.r.reply_len, 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_VN);
    assert_int_equal(h.dcid.len, 20);
    assert_int_equal(h.scid.len, 20);
    assert_int_equal(f.d.st.vn_sent, 1);
    tern_dispatch_free(&f.d);
}

/* An Initial whose token starts like our Retry tokens but does not open, with Retry off: taken as
 * no token; then its 4-byte DCID is too short for a client's first Initial. */
static void test_forged_retry_token_short_dcid(void **st)
{
    (void)st;
    fx f;
    start(&f);
    tern_cid dcid = {.len = 4, .data = {1, 2, 3, 4}}, scid = {.len = 8, .data = {9}};
    uint8_t token[40];
    memset(token, 0x33, sizeof(token));
    token[0] = TERN_TOKEN_FORMAT_RETRY;
    static const uint8_t ping[] = {0x01};
    uint8_t d[1500];
    size_t n = forge_initial(0, TERN_PROTO_VERSION_1, &dcid, &dcid, &scid, token, sizeof(token), 0,
                             ping, sizeof(ping), 1200, d, sizeof(d));
    assert_true(n >= 1200);
    expect_drop(&f, d, n, TERN_DISPATCH_DROP_SHORT_DCID);
    tern_dispatch_free(&f.d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_long_header),
        cmocka_unit_test(test_vn_trigger_with_long_cids),
        cmocka_unit_test(test_forged_retry_token_short_dcid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
