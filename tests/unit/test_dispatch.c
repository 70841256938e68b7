/* Endpoint front door: routing, Version Negotiation, Retry and its tokens, stateless resets and
 * their rate limit in virtual time, the drop rules and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dispatch.h"
#include "packet.h"
#include "token.h"

#define SEC 1000000000ull
#define T0 (5 * SEC)

/* Deterministic randomness: a counter stream. */
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
    tern_dispatch_config cfg;
    uint32_t seed;
    tern_path_addr path;
    uint8_t reply[TERN_DISPATCH_REPLY_MAX];
    tern_dispatch_result r;
} fx;

static void cfg_default(fx *f)
{
    tern_dispatch_config_init(&f->cfg);
    for (int i = 0; i < 32; i++) {
        f->cfg.reset_key[i] = (uint8_t)(i + 1);
        f->cfg.retry_key[i] = (uint8_t)(0x80 + i);
    }
    f->seed = 42;
    f->cfg.rand = seq_rand;
    f->cfg.rand_ud = &f->seed;
}

static int setup(void **st)
{
    fx *f = calloc(1, sizeof(*f));
    cfg_default(f);
    assert_int_equal(tern_addr_parse(&f->path.local, "192.0.2.1:443", 0), 0);
    assert_int_equal(tern_addr_parse(&f->path.remote, "198.51.100.7:5000", 0), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    tern_dispatch_free(&f->d);
    free(f);
    return 0;
}

static void start(fx *f)
{
    assert_int_equal(tern_dispatch_init(&f->d, &f->cfg), 0);
}

/* A new dispatcher from f->cfg (changed since the last start). */
static void restart(fx *f)
{
    tern_dispatch_free(&f->d);
    start(f);
}

static int classify(fx *f, const uint8_t *p, size_t len, tern_tstamp now)
{
    int v = tern_dispatch_classify(&f->d, &f->path, p, len, now, f->reply, sizeof(f->reply), &f->r);
    assert_int_equal(v, f->r.verdict);
    return v;
}

static tern_cid cid_of(uint8_t base, uint8_t len)
{
    tern_cid c;
    c.len = len;
    for (uint8_t i = 0; i < len; i++)
        c.data[i] = (uint8_t)(base + i);
    return c;
}

/* A v1 long-header packet of `type` filling `total` bytes (payload zeros). */
static size_t long_pkt(uint8_t *buf, size_t total, int type, const tern_cid *dcid,
                       const tern_cid *scid, const uint8_t *token, size_t token_len)
{
    memset(buf, 0, total);
    size_t len_off;
    size_t h = tern_pkt_write_long(buf, total, type, TERN_PROTO_VERSION_1, dcid, scid, token,
                                   token_len, 0, 1, &len_off);
    assert_true(h > 0);
    tern_pkt_set_length(buf + len_off, total - h + 1);
    return total;
}

static size_t initial(uint8_t *buf, size_t total, const tern_cid *dcid, const tern_cid *scid,
                      const uint8_t *token, size_t token_len)
{
    return long_pkt(buf, total, TERN_PKT_INITIAL, dcid, scid, token, token_len);
}

static size_t short_pkt(uint8_t *buf, size_t total, const tern_cid *dcid)
{
    memset(buf, 0xab, total);
    buf[0] = 0x41;
    memcpy(buf + 1, dcid->data, dcid->len);
    return total;
}


/* 1200 bytes of a long header in an unknown version, DCID of 8 bytes, SCID of 5 (zeros). */
static void unknown_version(uint8_t p[1200])
{
    memset(p, 0, 1200);
    p[0] = 0xc3;
    p[1] = 0x1a, p[2] = 0x2a, p[3] = 0x3a, p[4] = 0x4a;
    p[5] = 8;
    p[14] = 5;
}

/* The reply is an Initial from the server to `scid` that the client, holding the Initial keys of
 * `dcid`, opens to find CONNECTION_CLOSE with INVALID_TOKEN (RFC 9000 §8.1.3). */
static void assert_invalid_token_close(fx *f, const tern_cid *dcid, const tern_cid *scid)
{
    assert_int_equal(f->r.verdict, TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_CLOSE);
    uint8_t pkt[TERN_DISPATCH_REPLY_MAX];
    size_t n = f->r.reply_len;
    assert_true(n < 1200);
    memcpy(pkt, f->reply, n);
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(pkt, n, 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_INITIAL);
    assert_int_equal(h.pkt_len, n);
    assert_true(tern_cid_eq(&h.dcid, scid));
    assert_int_equal(h.token_len, 0);
    tern_keys tx = {0}, rx = {0};
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, dcid, 0, &tx, &rx), 0);
    size_t pn_len;
    uint64_t pn;
    assert_int_equal(tern_crypto_unprotect_header(&rx, pkt, n, h.pn_offset, &pn_len, &pn), 0);
    int m = tern_crypto_decrypt(&rx, pkt, h.pn_offset + pn_len, n, pn);
    assert_int_equal(m, 4);
    static const uint8_t want[] = {0x1c, TERN_TE_INVALID_TOKEN, 0x00, 0x00};
    assert_memory_equal(pkt + h.pn_offset + pn_len, want, sizeof(want));
    tern_crypto_keys_free(&tx);
    tern_crypto_keys_free(&rx);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_init_args(void **st)
{
    fx *f = *st;
    tern_dispatch d;
    tern_dispatch_config c = f->cfg;
    c.rand = NULL;
    assert_int_equal(tern_dispatch_init(&d, &c), TERN_ERR_INVALID_ARG);
    c = f->cfg;
    c.cid_len = 0;
    assert_int_equal(tern_dispatch_init(&d, &c), TERN_ERR_INVALID_ARG);
    c.cid_len = 21;
    assert_int_equal(tern_dispatch_init(&d, &c), TERN_ERR_INVALID_ARG);
    c = f->cfg;
    c.max_conns = 0;
    assert_int_equal(tern_dispatch_init(&d, &c), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_dispatch_init(&d, NULL), TERN_ERR_INVALID_ARG);

    tern_dispatch_config def;
    tern_dispatch_config_init(&def);
    assert_int_equal(def.is_server, 1);
    assert_int_equal(def.retry, 0);
    assert_int_equal(def.cid_len, 8);
    assert_int_equal(def.max_conns, 65536);
    assert_int_equal(def.resets_per_sec, 100);
    assert_int_equal(def.retry_token_lifetime_ns, 10 * SEC);

    start(f);
    uint8_t p[64] = {0x40};
    assert_int_equal(
        tern_dispatch_classify(NULL, &f->path, p, sizeof(p), T0, f->reply, sizeof(f->reply), &f->r),
        TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_dispatch_classify(&f->d, NULL, p, sizeof(p), T0, f->reply, sizeof(f->reply), &f->r),
        TERN_ERR_INVALID_ARG);
    assert_int_equal(
        tern_dispatch_classify(&f->d, &f->path, p, sizeof(p), T0, f->reply, sizeof(f->reply), NULL),
        TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->dropped, 0);
}

static void test_routing(void **st)
{
    fx *f = *st;
    start(f);
    int a, b;
    tern_dispatch_owner oa, ob;
    tern_dispatch_attach(&f->d, &oa, &a);
    tern_dispatch_attach(&f->d, &ob, &b);
    assert_int_equal(tern_dispatch_owner_count(&f->d), 2);
    tern_cid c1 = cid_of(1, 8), c2 = cid_of(2, 8), c3 = cid_of(3, 8), cl = cid_of(9, 12);
    assert_int_equal(tern_dispatch_add_route(&f->d, &oa, &c1), 0);
    assert_int_equal(tern_dispatch_add_route(&f->d, &oa, &c2), 0);
    assert_int_equal(tern_dispatch_add_route(&f->d, &ob, &c3), 0);
    assert_int_equal(tern_dispatch_add_route(&f->d, &ob, &cl), 0); /* a client-chosen DCID */
    assert_int_equal(tern_dispatch_add_route(&f->d, &ob, &c1), TERN_ERR_INVALID_ARG);
    assert_ptr_equal(tern_dispatch_lookup(&f->d, &c1), &a);

    uint8_t p[1200];
    assert_int_equal(classify(f, p, short_pkt(p, 40, &c2), T0), TERN_DISPATCH_CONN);
    assert_ptr_equal(f->r.owner, &a);
    assert_true(tern_cid_eq(&f->r.dcid, &c2));
    assert_false(f->r.is_long);
    assert_int_equal(classify(f, p, short_pkt(p, 40, &c3), T0), TERN_DISPATCH_CONN);
    assert_ptr_equal(f->r.owner, &b);
    /* long headers route by their DCID whatever their length or type */
    tern_cid scid = cid_of(0x70, 5);
    assert_int_equal(classify(f, p, long_pkt(p, 300, TERN_PKT_HANDSHAKE, &cl, &scid, NULL, 0), T0),
                     TERN_DISPATCH_CONN);
    assert_ptr_equal(f->r.owner, &b);
    assert_true(f->r.is_long);
    assert_int_equal(classify(f, p, initial(p, 400, &c1, &scid, NULL, 0), T0), TERN_DISPATCH_CONN);
    assert_ptr_equal(f->r.owner, &a);

    tern_dispatch_remove_route(&f->d, &ob, &c2); /* not b's: stays */
    assert_ptr_equal(tern_dispatch_lookup(&f->d, &c2), &a);
    tern_dispatch_remove_route(&f->d, &oa, &c2);
    assert_null(tern_dispatch_lookup(&f->d, &c2));
    tern_dispatch_detach(&f->d, &ob);
    assert_int_equal(tern_dispatch_owner_count(&f->d), 1);
    assert_null(tern_dispatch_lookup(&f->d, &c3));
    assert_null(tern_dispatch_lookup(&f->d, &cl));
    assert_int_equal(tern_dispatch_add_route(&f->d, &ob, &c3), TERN_ERR_INVALID_ARG);
    tern_dispatch_detach(&f->d, &ob); /* twice is harmless */
    assert_int_equal(tern_dispatch_owner_count(&f->d), 1);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->routed, 4);
    tern_dispatch_detach(&f->d, &oa);
    assert_int_equal(tern_dispatch_owner_count(&f->d), 0);
    assert_null(tern_dispatch_lookup(&f->d, &c1));
}

static void test_version_negotiation(void **st)
{
    fx *f = *st;
    start(f);
    uint8_t p[1200];
    memset(p, 0, sizeof(p));
    p[0] = 0xc3;
    p[1] = 0x1a, p[2] = 0x2a, p[3] = 0x3a, p[4] = 0x4a;
    p[5] = 8;
    memcpy(p + 6, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    p[14] = 5;
    memcpy(p + 15, "\xa1\xa2\xa3\xa4\xa5", 5);

    assert_int_equal(classify(f, p, 1199, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_SMALL);
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_VN);
    static const uint8_t want[] = {0, 0, 0, 0, 5, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                   8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1};
    assert_int_equal(f->r.reply_len, 1 + sizeof(want));
    assert_int_equal(f->reply[0] & 0xc0, 0xc0);
    assert_memory_equal(f->reply + 1, want, sizeof(want));

    /* a Version Negotiation is never answered, whatever its size */
    p[1] = p[2] = p[3] = p[4] = 0;
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_VN);

    /* a truncated header gets nothing */
    p[4] = 7;
    p[14] = 20;
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_REPLY);
    uint8_t small[30];
    memcpy(small, p, sizeof(small));
    assert_int_equal(classify(f, small, sizeof(small), T0), TERN_DISPATCH_DROP);

    /* no room for the reply */
    p[14] = 5;
    assert_int_equal(
        tern_dispatch_classify(&f->d, &f->path, p, 1200, T0, f->reply, 20, &f->r),
        TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);

    const tern_dispatch_stats *s = tern_dispatch_get_stats(&f->d);
    assert_int_equal(s->vn_sent, 2);
    assert_int_equal(s->drop[TERN_DISPATCH_DROP_SMALL], 2);
    assert_int_equal(s->drop[TERN_DISPATCH_DROP_VN], 1);
    assert_int_equal(s->drop[TERN_DISPATCH_DROP_REPLY_FAILED], 1);
    assert_int_equal(s->dropped, 4);
}

static void test_accept_rules(void **st)
{
    fx *f = *st;
    f->cfg.max_conns = 1;
    start(f);
    uint8_t p[1300];
    tern_cid dcid = cid_of(0x10, 8), scid = cid_of(0x20, 5), d4 = cid_of(0x30, 4);

    assert_int_equal(classify(f, p, initial(p, 1199, &dcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_SMALL);
    assert_int_equal(classify(f, p, initial(p, 1200, &d4, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_SHORT_DCID);
    assert_int_equal(
        classify(f, p, long_pkt(p, 1200, TERN_PKT_HANDSHAKE, &dcid, &scid, NULL, 0), T0),
        TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_NOT_INITIAL);
    assert_int_equal(classify(f, p, long_pkt(p, 1200, TERN_PKT_0RTT, &dcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_NOT_INITIAL);
    /* Length beyond the datagram */
    initial(p, 1250, &dcid, &scid, NULL, 0);
    assert_int_equal(classify(f, p, 1240, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_MALFORMED);

    /* a token is ignored without Retry */
    static const uint8_t tok[5] = {1, 2, 3, 4, 5};
    assert_int_equal(classify(f, p, initial(p, 1252, &dcid, &scid, tok, sizeof(tok)), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.version, TERN_PROTO_VERSION_1);
    assert_true(tern_cid_eq(&f->r.client_dcid, &dcid));
    assert_true(tern_cid_eq(&f->r.client_scid, &scid));
    assert_true(tern_cid_eq(&f->r.original_dcid, &dcid));
    assert_int_equal(f->r.retried, 0);
    assert_int_equal(f->r.address_validated, 0);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->accepted, 1);

    /* classification alone creates nothing: the limit counts attached owners */
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_ACCEPT);
    tern_dispatch_owner o;
    int x;
    tern_dispatch_attach(&f->d, &o, &x);
    tern_cid other = cid_of(0x40, 9);
    assert_int_equal(classify(f, p, initial(p, 1200, &other, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_CONN_LIMIT);
    tern_dispatch_detach(&f->d, &o);
    assert_int_equal(classify(f, p, initial(p, 1200, &other, &scid, NULL, 0), T0),
                     TERN_DISPATCH_ACCEPT);

    /* a client-only dispatcher answers no long header */
    tern_dispatch_free(&f->d);
    f->cfg.is_server = 0;
    start(f);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_NOT_SERVER);
    p[1] = 0x0a;
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_NOT_SERVER);
}

static void test_retry(void **st)
{
    fx *f = *st;
    f->cfg.retry = 1;
    start(f);
    uint8_t p[1200];
    tern_cid odcid = cid_of(0x10, 8), scid = cid_of(0x20, 5);
    assert_int_equal(classify(f, p, initial(p, 1200, &odcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    size_t rl = f->r.reply_len;
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(f->reply, rl, 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_RETRY);
    assert_int_equal(h.version, TERN_PROTO_VERSION_1);
    assert_true(tern_cid_eq(&h.dcid, &scid));
    assert_int_equal(h.scid.len, 8);
    assert_false(tern_cid_eq(&h.scid, &odcid));
    assert_true(h.token_len > 0);
    uint8_t tag[TERN_AEAD_TAG_LEN];
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &odcid, f->reply, rl - 16, tag),
                     0);
    assert_memory_equal(tag, f->reply + rl - 16, 16);
    tern_cid rscid = h.scid;
    uint8_t token[TERN_RETRY_TOKEN_MAX];
    size_t tl = h.token_len;
    memcpy(token, h.token, tl);

    /* the client's second Initial: to the Retry SCID, with the token */
    assert_int_equal(classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0 + SEC),
                     TERN_DISPATCH_ACCEPT);
    assert_true(tern_cid_eq(&f->r.client_dcid, &rscid));
    assert_true(tern_cid_eq(&f->r.client_scid, &scid));
    assert_true(tern_cid_eq(&f->r.original_dcid, &odcid));
    assert_int_equal(f->r.retried, 1);
    assert_int_equal(f->r.address_validated, 1);

    /* Invalid tokens end the attempt with INVALID_TOKEN. Expired: */
    classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0 + 11 * SEC);
    assert_invalid_token_close(f, &rscid, &scid);
    /* another DCID than the Retry's SCID */
    classify(f, p, initial(p, 1200, &odcid, &scid, token, tl), T0 + SEC);
    assert_invalid_token_close(f, &odcid, &scid);
    /* another source address */
    tern_path_addr keep = f->path;
    assert_int_equal(tern_addr_parse(&f->path.remote, "198.51.100.7:5001", 0), 0);
    classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0 + SEC);
    assert_invalid_token_close(f, &rscid, &scid);
    f->path = keep;
    /* a flipped bit */
    token[tl / 2] ^= 1;
    classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0 + SEC);
    assert_invalid_token_close(f, &rscid, &scid);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->close_sent, 4);
    /* a token made under another key */
    token[tl / 2] ^= 1;
    tern_dispatch_free(&f->d);
    f->cfg.retry_key[0] ^= 0xff;
    start(f);
    classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0 + SEC);
    assert_invalid_token_close(f, &rscid, &scid);
    /* no room for the close */
    assert_int_equal(tern_dispatch_classify(&f->d, &f->path, p,
                                            initial(p, 1200, &rscid, &scid, token, tl), T0 + SEC,
                                            f->reply, 30, &f->r),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_BAD_TOKEN);
    /* too small for a Retry */
    assert_int_equal(tern_dispatch_classify(&f->d, &f->path, p,
                                            initial(p, 1200, &odcid, &scid, NULL, 0), T0, f->reply,
                                            60, &f->r),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->retry_sent, 0);
}

static void test_stateless_reset(void **st)
{
    fx *f = *st;
    start(f);
    tern_cid dcid = cid_of(0x55, 8);
    uint8_t p[200], token[TERN_RESET_TOKEN_LEN];
    tern_crypto_reset_token(f->cfg.reset_key, &dcid, token);

    assert_int_equal(classify(f, p, short_pkt(p, 200, &dcid), T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RESET);
    assert_int_equal(f->r.reply_len, 43);
    assert_int_equal(f->reply[0] & 0xc0, 0x40);
    assert_memory_equal(f->reply + 43 - 16, token, 16);

    assert_int_equal(classify(f, p, short_pkt(p, 30, &dcid), T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_len, 29); /* smaller than the trigger */
    assert_int_equal(classify(f, p, short_pkt(p, 22, &dcid), T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_len, 21);
    assert_memory_equal(f->reply + 5, token, 16);
    assert_int_equal(classify(f, p, short_pkt(p, 21, &dcid), T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_RESET_TOO_SMALL);
    /* shorter than our CID length: nothing to read */
    assert_int_equal(classify(f, p, short_pkt(p, 8, &dcid), T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_MALFORMED);
    assert_int_equal(classify(f, p, 0, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_MALFORMED);

    /* the key can change */
    uint8_t k2[32];
    memset(k2, 0x33, sizeof(k2));
    tern_dispatch_set_reset_key(&f->d, k2);
    assert_memory_equal(tern_dispatch_reset_key(&f->d), k2, 32);
    tern_crypto_reset_token(k2, &dcid, token);
    assert_int_equal(classify(f, p, short_pkt(p, 100, &dcid), T0), TERN_DISPATCH_REPLY);
    assert_memory_equal(f->reply + f->r.reply_len - 16, token, 16);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->reset_sent, 4);
}

static void test_reset_rate_limit(void **st)
{
    fx *f = *st;
    f->cfg.resets_per_sec = 3;
    start(f);
    tern_cid dcid = cid_of(0x66, 8);
    uint8_t p[100];
    short_pkt(p, sizeof(p), &dcid);
    tern_tstamp t = 1000 * SEC;
    for (int i = 0; i < 3; i++)
        assert_int_equal(classify(f, p, sizeof(p), t), TERN_DISPATCH_REPLY);
    assert_int_equal(classify(f, p, sizeof(p), t), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_RESET_RATE);
    /* a third of a second buys one more (virtual time only) */
    assert_int_equal(classify(f, p, sizeof(p), t + SEC / 3 - 10), TERN_DISPATCH_DROP);
    assert_int_equal(classify(f, p, sizeof(p), t + SEC / 3 + 10), TERN_DISPATCH_REPLY);
    assert_int_equal(classify(f, p, sizeof(p), t + SEC / 3 + 10), TERN_DISPATCH_DROP);
    /* time going backwards refills nothing */
    assert_int_equal(classify(f, p, sizeof(p), t), TERN_DISPATCH_DROP);
    /* a long pause refills up to the burst only */
    t += 100 * SEC;
    for (int i = 0; i < 3; i++)
        assert_int_equal(classify(f, p, sizeof(p), t), TERN_DISPATCH_REPLY);
    assert_int_equal(classify(f, p, sizeof(p), t), TERN_DISPATCH_DROP);
    const tern_dispatch_stats *s = tern_dispatch_get_stats(&f->d);
    assert_int_equal(s->reset_sent, 7);
    assert_int_equal(s->drop[TERN_DISPATCH_DROP_RESET_RATE], 5);

    /* rate 0: never */
    tern_dispatch_free(&f->d);
    f->cfg.resets_per_sec = 0;
    start(f);
    assert_int_equal(classify(f, p, sizeof(p), t), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_RESET_RATE);
}

static void test_note_drop_and_determinism(void **st)
{
    fx *f = *st;
    f->cfg.retry = 1;
    start(f);
    tern_dispatch_note_drop(&f->d, TERN_DISPATCH_DROP_REJECTED);
    tern_dispatch_note_drop(&f->d, (tern_dispatch_drop)999);
    const tern_dispatch_stats *s = tern_dispatch_get_stats(&f->d);
    assert_int_equal(s->dropped, 2);
    assert_int_equal(s->drop[TERN_DISPATCH_DROP_REJECTED], 1);
    assert_int_equal(s->drop[TERN_DISPATCH_DROP_NONE], 1);

    /* the same seed gives the same Retry, byte for byte */
    uint8_t p[1200], first[TERN_DISPATCH_REPLY_MAX];
    tern_cid odcid = cid_of(0x10, 8), scid = cid_of(0x20, 5);
    initial(p, sizeof(p), &odcid, &scid, NULL, 0);
    tern_dispatch_free(&f->d);
    f->seed = 7;
    start(f);
    assert_int_equal(classify(f, p, sizeof(p), T0), TERN_DISPATCH_REPLY);
    size_t n = f->r.reply_len;
    memcpy(first, f->reply, n);
    tern_dispatch_free(&f->d);
    f->seed = 7;
    start(f);
    assert_int_equal(classify(f, p, sizeof(p), T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_len, n);
    assert_memory_equal(f->reply, first, n);
}

/* Handshake-flood resistance: half-open owners are counted, Retry starts at retry_half_open and
 * max_half_open caps them, both whatever max_conns says; completing or leaving frees the slot. */
static void test_half_open(void **st)
{
    fx *f = *st;
    f->cfg.retry_half_open = 3;
    f->cfg.max_half_open = 5;
    start(f);
    uint8_t p[1200];
    tern_cid scid = cid_of(0x20, 5);
    tern_dispatch_owner o[8];
    int vals[8];
    /* below the threshold: accepted without Retry */
    for (int i = 0; i < 3; i++) {
        tern_cid dcid = cid_of((uint8_t)(0x10 * i), 8);
        assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, NULL, 0), T0),
                         TERN_DISPATCH_ACCEPT);
        tern_dispatch_attach(&f->d, &o[i], &vals[i]);
        tern_dispatch_set_half_open(&f->d, &o[i], 1);
        tern_dispatch_set_half_open(&f->d, &o[i], 1); /* idempotent */
        assert_int_equal(tern_dispatch_half_open_count(&f->d), (size_t)i + 1);
    }
    /* at the threshold: Retry for new clients, accept for those who followed one */
    tern_cid dcid = cid_of(0x90, 8);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(f->reply, f->r.reply_len, 8, &h), 0);
    tern_cid rscid = h.scid;
    uint8_t token[TERN_RETRY_TOKEN_MAX];
    size_t tl = h.token_len;
    memcpy(token, h.token, tl);
    assert_int_equal(classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.retried, 1);
    assert_true(tern_cid_eq(&f->r.original_dcid, &dcid));
    /* a bad token while Retry is in force: INVALID_TOKEN */
    token[5] ^= 1;
    classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0);
    assert_invalid_token_close(f, &rscid, &scid);
    token[5] ^= 1;
    for (int i = 3; i < 5; i++) {
        tern_dispatch_attach(&f->d, &o[i], &vals[i]);
        tern_dispatch_set_half_open(&f->d, &o[i], 1);
    }
    /* at the cap: even a validated client waits */
    assert_int_equal(classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_HALF_OPEN);
    /* an established connection does not count */
    tern_dispatch_set_half_open(&f->d, &o[0], 0);
    tern_dispatch_set_half_open(&f->d, &o[0], 0);
    assert_int_equal(tern_dispatch_half_open_count(&f->d), 4);
    assert_int_equal(classify(f, p, initial(p, 1200, &rscid, &scid, token, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    /* leaving frees a slot; below the threshold, Retry stops */
    tern_dispatch_detach(&f->d, &o[1]);
    tern_dispatch_detach(&f->d, &o[2]);
    assert_int_equal(tern_dispatch_half_open_count(&f->d), 2);
    assert_int_equal(tern_dispatch_owner_count(&f->d), 3);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_ACCEPT);
    /* and a token that does not open is ignored again */
    token[5] ^= 1;
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, token, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.retried, 0);
    const tern_dispatch_stats *ds = tern_dispatch_get_stats(&f->d);
    assert_int_equal(ds->retry_sent, 1);
    assert_int_equal(ds->drop[TERN_DISPATCH_DROP_HALF_OPEN], 1);
    for (int i = 0; i < 5; i++)
        tern_dispatch_detach(&f->d, &o[i]);
    assert_int_equal(tern_dispatch_half_open_count(&f->d), 0);
}

/* A NEW_TOKEN token of this server, issued to the fixture's client address at `at`. */
static size_t new_token(fx *f, tern_tstamp at, uint8_t tok[TERN_NEW_TOKEN_MAX])
{
    static const uint8_t nonce[12] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    size_t n = tern_token_seal(tern_dispatch_new_token_key(&f->d), nonce, &f->path.remote, at, tok,
                               TERN_NEW_TOKEN_MAX);
    assert_true(n > 0);
    return n;
}

/* RFC 9000 §8.1.3: a valid NEW_TOKEN token validates the address in the first Initial, even with
 * Retry forced; one that does not open (expired, tampered, another address, another server's)
 * counts as no token: a Retry when Retry is on, never INVALID_TOKEN; with Retry off, an ordinary
 * unvalidated accept. */
static void test_new_token(void **st)
{
    fx *f = *st;
    f->cfg.retry = 1;
    f->cfg.new_token_lifetime_ns = 3600 * SEC;
    start(f);
    uint8_t p[1200], tok[TERN_NEW_TOKEN_MAX];
    tern_cid dcid = cid_of(0x10, 8), scid = cid_of(0x20, 5);
    size_t tl = new_token(f, T0, tok);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0 + 60 * SEC),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 1);
    assert_int_equal(f->r.retried, 0);
    assert_true(tern_cid_eq(&f->r.original_dcid, &dcid));
    /* from another port of the same address, as a new connection's socket has */
    tern_path_addr keep = f->path;
    assert_int_equal(tern_addr_parse(&f->path.remote, "198.51.100.7:6001", 0), 0);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0 + SEC),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 1);

    /* each of these is answered with a Retry, as if there were no token */
    assert_int_equal(tern_addr_parse(&f->path.remote, "198.51.100.8:5000", 0), 0);
    classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0 + SEC);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    f->path = keep;
    classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0 + 3600 * SEC);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    tok[tl - 1] ^= 1;
    classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0 + SEC);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    tok[tl - 1] ^= 1;
    static const uint8_t foreign[] = {0x36, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    classify(f, p, initial(p, 1200, &dcid, &scid, foreign, sizeof(foreign)), T0 + SEC);
    assert_int_equal(f->r.verdict, TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    /* and the Retry it got is followed as usual */
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(f->reply, f->r.reply_len, 8, &h), 0);
    assert_int_equal(h.type, TERN_PKT_RETRY);
    tern_cid rscid = h.scid;
    uint8_t rtok[TERN_RETRY_TOKEN_MAX];
    size_t rtl = h.token_len;
    memcpy(rtok, h.token, rtl);
    assert_int_equal(classify(f, p, initial(p, 1200, &rscid, &scid, rtok, rtl), T0 + SEC),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.retried, 1);
    /* a NEW_TOKEN token after a DCID shorter than 8 bytes is no Retry follow-up: dropped */
    tern_cid shortd = cid_of(0x30, 4);
    classify(f, p, initial(p, 1200, &shortd, &scid, tok, tl), T0 + SEC);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_SHORT_DCID);
    const tern_dispatch_stats *ds = tern_dispatch_get_stats(&f->d);
    assert_int_equal(ds->new_token_accepted, 2);
    assert_int_equal(ds->new_token_ignored, 4);
    assert_int_equal(ds->retry_sent, 4);
    assert_int_equal(ds->close_sent, 0);

    /* Retry off: a token that opens validates, one that does not is ignored */
    f->cfg.retry = 0;
    restart(f);
    tl = new_token(f, T0, tok);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 1);
    tok[3] ^= 1;
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 0);
    tok[3] ^= 1;
    /* no lifetime configured: tokens are not taken at all */
    f->cfg.new_token_lifetime_ns = 0;
    restart(f);
    tl = new_token(f, T0, tok);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 0);
    /* a NEW_TOKEN token of a server with another Retry key does not open */
    f->cfg.new_token_lifetime_ns = 3600 * SEC;
    restart(f);
    tl = new_token(f, T0, tok);
    f->cfg.retry_key[0] ^= 0xff;
    restart(f);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 0);
}

/* Above retry_half_open, a valid NEW_TOKEN still admits at once; a flood of Initials with forged
 * tokens gets only Retries: no owner, nothing half-open, no INVALID_TOKEN, and no memory (the
 * dispatcher allocates nothing per Initial: its tables only grow with owners). */
static void test_new_token_flood(void **st)
{
    fx *f = *st;
    f->cfg.retry_half_open = 1;
    f->cfg.new_token_lifetime_ns = 3600 * SEC;
    start(f);
    tern_dispatch_owner o;
    int v;
    tern_dispatch_attach(&f->d, &o, &v);
    tern_dispatch_set_half_open(&f->d, &o, 1);
    uint8_t p[1200], tok[TERN_NEW_TOKEN_MAX];
    tern_cid scid = cid_of(0x20, 5);
    size_t tl = new_token(f, T0, tok);
    for (int i = 0; i < 10000; i++) {
        tern_cid dcid = cid_of((uint8_t)i, 8);
        uint8_t forged[TERN_NEW_TOKEN_MAX];
        memcpy(forged, tok, tl);
        forged[1 + (size_t)i % (tl - 1)] ^= (uint8_t)(1 + (size_t)i / (tl - 1));
        assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, forged, tl), T0 + SEC),
                         TERN_DISPATCH_REPLY);
        assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_RETRY);
    }
    const tern_dispatch_stats *ds = tern_dispatch_get_stats(&f->d);
    assert_int_equal(ds->retry_sent, 10000);
    assert_int_equal(ds->new_token_ignored, 10000);
    assert_int_equal(ds->accepted, 0);
    assert_int_equal(ds->close_sent, 0);
    assert_int_equal(tern_dispatch_owner_count(&f->d), 1);
    assert_int_equal(tern_dispatch_half_open_count(&f->d), 1);
    assert_int_equal(f->d.map.n, 0);
    tern_cid dcid = cid_of(0xee, 8);
    assert_int_equal(classify(f, p, initial(p, 1200, &dcid, &scid, tok, tl), T0 + SEC),
                     TERN_DISPATCH_ACCEPT);
    assert_int_equal(f->r.address_validated, 1);
    tern_dispatch_detach(&f->d, &o);
}

static int failing_rand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    (void)out;
    (void)len;
    return TERN_ERR_CRYPTO;
}

/* A random source that fails is an error of tern_dispatch_init, not an abort. */
static void test_rand_failure(void **st)
{
    fx f;
    memset(&f, 0, sizeof(f));
    cfg_default(&f);
    f.cfg.rand = failing_rand;
    tern_dispatch d;
    assert_int_equal(tern_dispatch_init(&d, &f.cfg), TERN_ERR_CRYPTO);
}

/* Random bytes that stop coming after the dispatcher started. */
typedef struct switch_rand_state {
    uint32_t seed;
    int fail;
} switch_rand_state;

static int switch_rand(void *ud, uint8_t *out, size_t len)
{
    switch_rand_state *s = ud;
    return s->fail ? TERN_ERR_CRYPTO : seq_rand(&s->seed, out, len);
}

/* Replies that cannot be made are drops with reason REPLY_FAILED (no random bytes for a Retry or a
 * stateless reset, no room for them); a Version Negotiation goes out without random bits; a header
 * too short to name its CIDs gets no answer. */
static void test_reply_failures(void **st)
{
    fx *f = *st;
    switch_rand_state rs = {7, 0};
    f->cfg.rand = switch_rand;
    f->cfg.rand_ud = &rs;
    f->cfg.retry = 1;
    start(f);
    rs.fail = 1;
    uint8_t p[1200];
    tern_cid odcid = cid_of(0x10, 8), scid = cid_of(0x20, 5), dcid = cid_of(0x55, 8);
    uint64_t dropped = tern_dispatch_get_stats(&f->d)->dropped;

    assert_int_equal(classify(f, p, initial(p, 1200, &odcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);
    assert_int_equal(classify(f, p, short_pkt(p, 200, &dcid), T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->dropped, dropped + 2);

    unknown_version(p);
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_VN);
    assert_int_equal(f->reply[0], 0xc0); /* long header, fixed bit, unused bits zero */
    rs.fail = 0;

    /* room for nothing: a Retry and a reset need more than the caller gives */
    uint8_t small[20];
    initial(p, 1200, &odcid, &scid, NULL, 0);
    int v = tern_dispatch_classify(&f->d, &f->path, p, 1200, T0, small, 10, &f->r);
    assert_int_equal(v, TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);
    v = tern_dispatch_classify(&f->d, &f->path, p, 1200, T0, small, sizeof(small), &f->r);
    assert_int_equal(v, TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);
    short_pkt(p, 200, &dcid);
    v = tern_dispatch_classify(&f->d, &f->path, p, 200, T0, small, sizeof(small), &f->r);
    assert_int_equal(v, TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);

    /* unknown versions whose CIDs do not fit the datagram */
    memset(p, 0, sizeof(p));
    p[0] = 0xc3;
    p[1] = 0x1a, p[2] = 0x2a, p[3] = 0x3a, p[4] = 0x4a;
    p[5] = 21; /* DCID longer than any */
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_MALFORMED);
    p[5] = 8;
    p[14] = 21; /* SCID longer than any */
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_MALFORMED);
}

/* Random bytes that fail from the `fail_at`-th call on (counting from 1). */
typedef struct count_rand_state {
    uint32_t seed;
    int calls, fail_at;
} count_rand_state;

static int count_rand(void *ud, uint8_t *out, size_t len)
{
    count_rand_state *s = ud;
    if (++s->calls >= s->fail_at && s->fail_at > 0)
        return TERN_ERR_CRYPTO;
    return seq_rand(&s->seed, out, len);
}

/* The edges of the front door's API: the second key of init failing (its error, nothing held); a
 * Retry whose nonce cannot be drawn; verbs on a detached owner; a version list too long to be one
 * (only v1 is offered); a datagram too short to be a reset is not matched against the tokens; and
 * the arguments that are refused. */
static void test_api_edges(void **st)
{
    fx *f = *st;
    count_rand_state rs = {3, 0, 2};
    tern_dispatch d;
    f->cfg.rand = count_rand;
    f->cfg.rand_ud = &rs;
    assert_int_equal(tern_dispatch_init(&d, &f->cfg), TERN_ERR_CRYPTO);
    assert_int_equal(rs.calls, 2);

    /* a Retry draws its SCID, then its nonce: the nonce fails */
    rs.calls = 0;
    rs.fail_at = 0;
    f->cfg.retry = 1;
    start(f);
    uint8_t p[1200];
    tern_cid odcid = cid_of(0x10, 8), scid = cid_of(0x20, 5);
    rs.calls = 0;
    rs.fail_at = 2;
    assert_int_equal(classify(f, p, initial(p, 1200, &odcid, &scid, NULL, 0), T0),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_REPLY_FAILED);
    assert_int_equal(rs.calls, 2);
    assert_int_equal(tern_dispatch_get_stats(&f->d)->retry_sent, 0);
    rs.fail_at = 0;

    /* a detached owner holds nothing: its verbs are refused or do nothing */
    int a, b;
    tern_dispatch_owner oa, ob;
    tern_dispatch_attach(&f->d, &oa, &a);
    tern_dispatch_attach(&f->d, &ob, &b);
    uint8_t token[TERN_RESET_TOKEN_LEN];
    memset(token, 0x5c, sizeof(token));
    assert_int_equal(tern_dispatch_add_reset_token(&f->d, &oa, token), 0);
    tern_dispatch_detach(&f->d, &ob);
    assert_int_equal(tern_dispatch_add_reset_token(&f->d, &ob, token), TERN_ERR_INVALID_ARG);
    tern_dispatch_remove_reset_token(&f->d, &ob, token);
    tern_dispatch_set_half_open(&f->d, &ob, 1);
    assert_int_equal(f->d.half_open, 0);
    tern_dispatch_set_half_open(&f->d, &oa, 1);
    tern_dispatch_set_half_open(&f->d, &oa, 1); /* already */
    assert_int_equal(f->d.half_open, 1);
    /* oa's token still routes a reset-sized datagram; 20 bytes are too few to be one */
    uint8_t sp[64];
    tern_cid dcid = cid_of(0x77, 8);
    short_pkt(sp, 40, &dcid);
    memcpy(sp + 40 - TERN_RESET_TOKEN_LEN, token, TERN_RESET_TOKEN_LEN);
    assert_int_equal(classify(f, sp, 40, T0), TERN_DISPATCH_CONN);
    assert_ptr_equal(f->r.owner, &a);
    short_pkt(sp, 20, &dcid);
    memcpy(sp + 20 - TERN_RESET_TOKEN_LEN, token, TERN_RESET_TOKEN_LEN);
    assert_int_equal(classify(f, sp, 20, T0), TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_RESET_TOO_SMALL);
    tern_dispatch_detach(&f->d, &oa);

    /* more versions than a list holds: Version Negotiation offers v1 alone */
    f->cfg.retry = 0;
    f->cfg.versions_count = TERN_MAX_QUIC_VERSIONS + 1;
    restart(f);
    unknown_version(p);
    assert_int_equal(classify(f, p, 1200, T0), TERN_DISPATCH_REPLY);
    assert_int_equal(f->r.reply_kind, TERN_DISPATCH_REPLY_VN);
    assert_int_equal(f->r.reply_len, 1 + 4 + 1 + 5 + 1 + 8 + 4);
    static const uint8_t v1[4] = {0, 0, 0, 1};
    assert_memory_equal(f->reply + f->r.reply_len - 4, v1, 4);

    /* arguments: no datagram is a malformed one; a length without bytes, or room without a
     * buffer, is refused */
    assert_int_equal(tern_dispatch_classify(&f->d, &f->path, NULL, 0, T0, f->reply,
                                            sizeof(f->reply), &f->r),
                     TERN_DISPATCH_DROP);
    assert_int_equal(f->r.drop, TERN_DISPATCH_DROP_MALFORMED);
    assert_int_equal(tern_dispatch_classify(&f->d, &f->path, NULL, 10, T0, f->reply,
                                            sizeof(f->reply), &f->r),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_dispatch_classify(&f->d, &f->path, p, 1200, T0, NULL, 100, &f->r),
                     TERN_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rand_failure),
        cmocka_unit_test_setup_teardown(test_init_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stateless_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_drop_and_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_token_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_edges, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
