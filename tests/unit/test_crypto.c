/* Unit tests for crypto.c: RFC 9001 and RFC 9369 Appendix A vectors, key update, AEAD round trips and failures,
 * Retry tokens and stateless reset tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "crypto.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (s[0] && s[1]) {
        unsigned v;
        assert_true(n < cap);
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    assert_int_equal(*s, 0);
    return n;
}

static void assert_hex(const uint8_t *got, const char *want)
{
    uint8_t buf[2048];
    size_t n = unhex(want, buf, sizeof(buf));
    assert_memory_equal(got, buf, n);
}

static const tern_cid rfc_dcid = {8, {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08}};

/* The handles keep the AEAD and HP keys private, so these are derived again from the kept secret
 * with the same label function; the packet vectors of A.2/A.3 then prove the handles hold them. */
static void check_keys(const tern_keys *k, const char *secret, const char *key, const char *iv,
                       const char *hp)
{
    uint8_t buf[16];
    assert_int_equal(
        tern_crypto_expand_label(k->aead, k->secret, k->secret_len, "quic key", buf, 16), 0);
    assert_hex(buf, key);
    assert_int_equal(
        tern_crypto_expand_label(k->aead, k->secret, k->secret_len, "quic hp", buf, 16), 0);
    assert_hex(buf, hp);
    assert_int_equal(k->aead, TERN_AEAD_AES_128_GCM);
    assert_int_equal(k->secret_len, 32);
    assert_int_equal(k->key_len, 16);
    assert_non_null(k->aead_hd);
    assert_non_null(k->hp_hd);
    assert_hex(k->secret, secret);
    assert_hex(k->iv, iv);
}

/* A.1: Initial secrets, keys, IVs and HP keys for both directions. */
static void test_initial_keys(void **state)
{
    tern_keys ctx = {0}, crx = {0}, stx = {0}, srx = {0};
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 0, &ctx, &crx), 0);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 1, &stx, &srx), 0);
    check_keys(&ctx, "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
               "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c",
               "9f50449e04a0e810283a1e9933adedd2");
    check_keys(&crx, "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
               "cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e",
               "c206b8d9b9f0f37644430b490eeaa314");
    assert_memory_equal(stx.secret, crx.secret, 32);
    assert_memory_equal(srx.secret, ctx.secret, 32);
    assert_memory_equal(stx.iv, crx.iv, 12);

    /* Unknown versions have no Initial salt here. */
    tern_keys a = {0}, b = {0};
    assert_int_equal(tern_crypto_initial_keys(0xff00001d, &rfc_dcid, 0, &a, &b), TERN_ERR_CRYPTO);
    assert_null(a.aead_hd);

    tern_crypto_keys_free(&ctx);
    tern_crypto_keys_free(&crx);
    tern_crypto_keys_free(&stx);
    tern_crypto_keys_free(&srx);
    tern_crypto_keys_free(&ctx); /* idempotent */
    assert_null(ctx.aead_hd);
}

/* The A.1 key and HP key, checked with a single-block computation we can do independently: the
 * mask of A.2's sample is published ("437b9aec36"). */
static void test_hp_mask_a2(void **state)
{
    tern_keys tx = {0}, rx = {0};
    uint8_t pkt[64];
    size_t pn_len;
    uint64_t pn;
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 0, &tx, &rx), 0);
    /* A protected header whose sample is A.2's; unprotecting must yield the published header. */
    size_t n = unhex("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9b",
                     pkt, sizeof(pkt));
    assert_int_equal(tern_crypto_unprotect_header(&tx, pkt, n, 18, &pn_len, &pn), 0);
    assert_hex(pkt, "c300000001088394c8f03e5157080000449e00000002");
    assert_int_equal(pn_len, 4);
    assert_int_equal(pn, 2);
    tern_crypto_keys_free(&tx);
    tern_crypto_keys_free(&rx);
}

static const char a2_crypto[] = "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
                                "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
                                "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
                                "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
                                "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
                                "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
                                "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
                                "75300901100f088394c8f03e51570806048000ffff";

/* A.2: the client Initial, 1200 bytes on the wire. */
static void test_client_initial_a2(void **state)
{
    tern_keys ctx = {0}, crx = {0}, stx = {0}, srx = {0};
    uint8_t pkt[1200], plain[1162];
    size_t hdr_len, pn_len;
    uint64_t pn;

    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 0, &ctx, &crx), 0);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 1, &stx, &srx), 0);

    memset(pkt, 0, sizeof(pkt));
    hdr_len = unhex("c300000001088394c8f03e5157080000449e00000002", pkt, sizeof(pkt));
    assert_int_equal(hdr_len, 22);
    size_t clen = unhex(a2_crypto, pkt + hdr_len, sizeof(pkt) - hdr_len);
    assert_int_equal(clen, 245);
    memcpy(plain, pkt + hdr_len, sizeof(plain));

    assert_int_equal(tern_crypto_protect(&ctx, &ctx, pkt, hdr_len, 4, 1162, 2), 0);
    /* Protected header, the sample, and the next bytes as published. */
    assert_hex(pkt, "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
                    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399");
    /* Last bytes of the packet: the end of the ciphertext and the AEAD tag. */
    assert_hex(pkt + 1200 - 36, "9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
                                "e221af44860018ab0856972e194cd934");
    /* A run of bytes from the middle of the published packet. */
    assert_hex(pkt + 192, "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec");

    /* The server opens it. */
    assert_int_equal(tern_crypto_unprotect_header(&srx, pkt, sizeof(pkt), 18, &pn_len, &pn), 0);
    assert_int_equal(pn_len, 4);
    assert_int_equal(pn, 2);
    assert_hex(pkt, "c300000001088394c8f03e5157080000449e00000002");
    assert_int_equal(tern_crypto_decrypt(&srx, pkt, 22, sizeof(pkt), pn), 1162);
    assert_memory_equal(pkt + 22, plain, sizeof(plain));

    tern_crypto_keys_free(&ctx);
    tern_crypto_keys_free(&crx);
    tern_crypto_keys_free(&stx);
    tern_crypto_keys_free(&srx);
}

static const char payload[] = "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
                              "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
                              "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
                              "020304";

/* A.3: the server Initial. */
static void test_server_initial_a3(void **state)
{
    static const char hdr[] = "c1000000010008f067a5502a4262b50040750001";
    static const char protected_pkt[] =
        "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
        "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
        "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
        "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
        "2158407dd074ee";
    tern_keys ctx = {0}, crx = {0}, stx = {0}, srx = {0};
    uint8_t pkt[256], want[256];
    size_t pn_len;
    uint64_t pn;

    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 0, &ctx, &crx), 0);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, 1, &stx, &srx), 0);
    size_t hl = unhex(hdr, pkt, sizeof(pkt));
    size_t pl = unhex(payload, pkt + hl, sizeof(pkt) - hl);
    size_t wl = unhex(protected_pkt, want, sizeof(want));
    assert_int_equal(hl + pl + 16, wl);
    assert_int_equal(tern_crypto_protect(&stx, NULL, pkt, hl, 2, pl, 1), 0);
    assert_memory_equal(pkt, want, wl);

    assert_int_equal(tern_crypto_unprotect_header(&crx, pkt, wl, hl - 2, &pn_len, &pn), 0);
    assert_int_equal(pn_len, 2);
    assert_int_equal(pn, 1);
    assert_int_equal(tern_crypto_decrypt(&crx, pkt, hl, wl, pn), (int)pl);
    assert_hex(pkt, hdr);
    assert_hex(pkt + hl, payload);

    tern_crypto_keys_free(&ctx);
    tern_crypto_keys_free(&crx);
    tern_crypto_keys_free(&stx);
    tern_crypto_keys_free(&srx);
}

/* A.4: Retry integrity tag. */
static void test_retry_tag_a4(void **state)
{
    uint8_t retry[64], tag[16];
    size_t n = unhex("ff000000010008f067a5502a4262b5746f6b656e", retry, sizeof(retry));
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &rfc_dcid, retry, n, tag), 0);
    assert_hex(tag, "04a265ba2eff4d829058fb3f0f2496ba");

    /* A different original DCID gives a different tag. */
    tern_cid other = rfc_dcid;
    other.data[7] ^= 1;
    uint8_t tag2[16];
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &other, retry, n, tag2), 0);
    assert_memory_not_equal(tag, tag2, 16);
    assert_int_equal(tern_crypto_retry_tag(2, &rfc_dcid, retry, n, tag2), TERN_ERR_CRYPTO);
}

/* The A.5 case of RFC 9001 (v1) and RFC 9369 (v2): ChaCha20-Poly1305 keys from one secret with
 * the version's labels, a short header packet with a 3-byte packet number, and the next key
 * phase's secret (the version's "ku" label), which the next keys keep with the version. */
typedef struct chacha_vec {
    uint32_t version;
    const char *key_label, *hp_label, *ku_label;
    const char *iv, *key, *hp, *ku, *packet;
} chacha_vec;

static void chacha_case(const chacha_vec *v)
{
    uint8_t secret[32], pkt[64], buf[32];
    tern_keys k = {0}, next = {0};
    size_t pn_len;
    uint64_t tpn;
    const uint64_t pn = 654360564;

    assert_int_equal(unhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b",
                           secret, sizeof(secret)),
                     32);
    assert_int_equal(tern_crypto_keys_from_secret_v(&k, v->version, TERN_AEAD_CHACHA20_POLY1305,
                                                    secret, 32, 1),
                     0);
    assert_int_equal(k.key_len, 32);
    assert_hex(k.iv, v->iv);
    assert_int_equal(tern_crypto_expand_label(k.aead, secret, 32, v->key_label, buf, 32), 0);
    assert_hex(buf, v->key);
    assert_int_equal(tern_crypto_expand_label(k.aead, secret, 32, v->hp_label, buf, 32), 0);
    assert_hex(buf, v->hp);
    assert_int_equal(tern_crypto_expand_label(k.aead, secret, 32, v->ku_label, buf, 32), 0);
    assert_hex(buf, v->ku);

    size_t hl = unhex("4200bff4", pkt, sizeof(pkt));
    pkt[hl] = 0x01;
    assert_int_equal(tern_crypto_protect(&k, &k, pkt, hl, 3, 1, pn), 0);
    assert_hex(pkt, v->packet);

    assert_int_equal(tern_crypto_unprotect_header(&k, pkt, 21, 1, &pn_len, &tpn), 0);
    assert_int_equal(pn_len, 3);
    assert_int_equal(tpn, pn & 0xffffff);
    assert_hex(pkt, "4200bff4");
    assert_int_equal(tern_crypto_decrypt(&k, pkt, hl, 21, pn), 1);
    assert_int_equal(pkt[hl], 0x01);

    assert_int_equal(tern_crypto_next_keys(&k, &next), 0);
    assert_hex(next.secret, v->ku);
    assert_int_equal(next.version, v->version);
    tern_crypto_keys_free(&next);
    tern_crypto_keys_free(&k);
}

/* A.5: ChaCha20-Poly1305 short header packet (v1; tern_crypto_keys_from_secret is v1). */
static void test_chacha_a5(void **state)
{
    static const chacha_vec v1 = {
        TERN_PROTO_VERSION_1,
        "quic key",
        "quic hp",
        "quic ku",
        "e0459b3474bdd0e44a41c144",
        "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
        "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
        "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9",
        "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
    };
    chacha_case(&v1);
    uint8_t secret[32] = {1};
    tern_keys a = {0}, b = {0};
    assert_int_equal(tern_crypto_keys_from_secret(&a, TERN_AEAD_CHACHA20_POLY1305, secret, 32, 1),
                     0);
    assert_int_equal(tern_crypto_keys_from_secret_v(&b, TERN_PROTO_VERSION_1,
                                                    TERN_AEAD_CHACHA20_POLY1305, secret, 32, 1),
                     0);
    assert_memory_equal(a.iv, b.iv, 12);
    assert_int_equal(a.version, TERN_PROTO_VERSION_1);
    tern_crypto_keys_free(&a);
    tern_crypto_keys_free(&b);
}

/* ---- QUIC version 2: RFC 9369 Appendix A ---------------------------------------------------- */

static const char v2_client_packet[] =
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc";

/* Seals `plain` (header + payload, pn_len bytes of packet number) with the sender's Initial keys
 * of `version`; the result must be `want` byte for byte, and the receiver must open it again. */
static void v2_seal_and_open(int from_server, const char *hdr_hex, const char *payload_hex,
                             size_t payload_len, size_t pn_len, uint64_t pn, const char *want_hex)
{
    tern_keys ctx = {0}, crx = {0}, stx = {0}, srx = {0};
    static uint8_t pkt[1300], want[1300], plain[1300];
    memset(pkt, 0, sizeof(pkt));
    size_t hl = unhex(hdr_hex, pkt, sizeof(pkt));
    unhex(payload_hex, pkt + hl, sizeof(pkt) - hl);
    memcpy(plain, pkt, sizeof(plain));
    size_t wl = unhex(want_hex, want, sizeof(want));
    assert_int_equal(hl + payload_len + TERN_AEAD_TAG_LEN, wl);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_2, &rfc_dcid, 0, &ctx, &crx), 0);
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_2, &rfc_dcid, 1, &stx, &srx), 0);
    tern_keys *seal = from_server ? &stx : &ctx, *open = from_server ? &crx : &srx;
    assert_int_equal(tern_crypto_protect(seal, NULL, pkt, hl, pn_len, payload_len, pn), 0);
    assert_memory_equal(pkt, want, wl);

    size_t got_pn_len;
    uint64_t got_pn;
    assert_int_equal(
        tern_crypto_unprotect_header(open, pkt, wl, hl - pn_len, &got_pn_len, &got_pn), 0);
    assert_int_equal(got_pn_len, pn_len);
    assert_int_equal(got_pn, pn);
    assert_int_equal(tern_crypto_decrypt(open, pkt, hl, wl, pn), (int)payload_len);
    assert_memory_equal(pkt, plain, hl + payload_len);

    /* v1's keys cannot open a v2 packet: the salt differs */
    tern_keys v1tx = {0}, v1rx = {0};
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_1, &rfc_dcid, !from_server,
                                              &v1tx, &v1rx),
                     0);
    memcpy(pkt, want, wl);
    assert_int_equal(tern_crypto_unprotect_header(&v1rx, pkt, wl, hl - pn_len, NULL, NULL), 0);
    assert_true(tern_crypto_decrypt(&v1rx, pkt, hl, wl, pn) < 0);
    tern_crypto_keys_free(&v1tx);
    tern_crypto_keys_free(&v1rx);
    tern_crypto_keys_free(&ctx);
    tern_crypto_keys_free(&crx);
    tern_crypto_keys_free(&stx);
    tern_crypto_keys_free(&srx);
}

/* A.1: v2's Initial secrets and the keys derived with the "quicv2" labels. */
static void test_v2_initial_keys(void **state)
{
    tern_keys ctx = {0}, crx = {0};
    assert_int_equal(tern_crypto_initial_keys(TERN_PROTO_VERSION_2, &rfc_dcid, 0, &ctx, &crx), 0);
    assert_int_equal(ctx.version, TERN_PROTO_VERSION_2);
    assert_hex(ctx.secret, "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b");
    assert_hex(ctx.iv, "91f73e2351d8fa91660e909f");
    assert_hex(crx.secret, "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1");
    assert_hex(crx.iv, "dd13c276499c0249d3310652");
    uint8_t buf[16];
    assert_int_equal(tern_crypto_expand_label(ctx.aead, ctx.secret, 32, "quicv2 key", buf, 16), 0);
    assert_hex(buf, "8b1a0bc121284290a29e0971b5cd045d");
    assert_int_equal(tern_crypto_expand_label(ctx.aead, ctx.secret, 32, "quicv2 hp", buf, 16), 0);
    assert_hex(buf, "45b95e15235d6f45a6b19cbcb0294ba9");
    assert_int_equal(tern_crypto_expand_label(crx.aead, crx.secret, 32, "quicv2 key", buf, 16), 0);
    assert_hex(buf, "82db637861d55e1d011f19ea71d5d2a7");
    assert_int_equal(tern_crypto_expand_label(crx.aead, crx.secret, 32, "quicv2 hp", buf, 16), 0);
    assert_hex(buf, "edf6d05c83121201b436e16877593c3a");
    tern_crypto_keys_free(&ctx);
    tern_crypto_keys_free(&crx);
    /* keys of a version this library does not speak are refused */
    assert_int_equal(tern_crypto_keys_from_secret_v(&ctx, 0xff00001d, TERN_AEAD_AES_128_GCM,
                                                    rfc_dcid.data, 32, 1),
                     TERN_ERR_CRYPTO);
    assert_null(ctx.aead_hd);
}

/* A.2: the client Initial of v2, all 1200 bytes. */
static void test_v2_client_initial(void **state)
{
    v2_seal_and_open(0, "d36b3343cf088394c8f03e5157080000449e00000002", a2_crypto, 1162, 4, 2,
                     v2_client_packet);
}

/* A.3: the server Initial of v2. */
static void test_v2_server_initial(void **state)
{
    v2_seal_and_open(1, "d16b3343cf0008f067a5502a4262b50040750001", payload, 99, 2, 1,
                     "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698"
                     "baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17"
                     "f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2"
                     "c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8"
                     "4bed8521e2e140");
}

/* A.4: the Retry of v2 and its integrity tag under v2's key and nonce. */
static void test_v2_retry(void **state)
{
    uint8_t retry[64], tag[16];
    size_t n = unhex("cf6b3343cf0008f067a5502a4262b5746f6b656e", retry, sizeof(retry));
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_2, &rfc_dcid, retry, n, tag), 0);
    assert_hex(tag, "c8646ce8bfe33952d955543665dcc7b6");
    /* v1's key gives another tag for the same bytes */
    uint8_t tag1[16];
    assert_int_equal(tern_crypto_retry_tag(TERN_PROTO_VERSION_1, &rfc_dcid, retry, n, tag1), 0);
    assert_memory_not_equal(tag, tag1, 16);
    assert_int_equal(tern_crypto_retry_tag(0xff00001d, &rfc_dcid, retry, n, tag1),
                     TERN_ERR_CRYPTO);
}

/* A.5: ChaCha20-Poly1305 with v2's labels. */
static void test_v2_chacha(void **state)
{
    static const chacha_vec v2 = {
        TERN_PROTO_VERSION_2,
        "quicv2 key",
        "quicv2 hp",
        "quicv2 ku",
        "a6b5bc6ab7dafce30ffff5dd",
        "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
        "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
        "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88",
        "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
    };
    chacha_case(&v2);
}

/* Key update: both sides derive the same next keys, they differ from the current ones, and the
 * header protection key is not part of them. */
static void test_key_update(void **state)
{
    uint8_t secret[48];
    for (int aead = TERN_AEAD_AES_128_GCM; aead <= TERN_AEAD_CHACHA20_POLY1305; aead++) {
        size_t slen = aead == TERN_AEAD_AES_256_GCM ? 48 : 32;
        tern_keys a = {0}, b = {0}, an = {0}, bn = {0};
        uint8_t pkt[128], copy[128];
        for (size_t i = 0; i < slen; i++)
            secret[i] = (uint8_t)(i * 7 + (size_t)aead);
        assert_int_equal(tern_crypto_keys_from_secret(&a, aead, secret, slen, 1), 0);
        assert_int_equal(tern_crypto_keys_from_secret(&b, aead, secret, slen, 1), 0);
        assert_int_equal(tern_crypto_next_keys(&a, &an), 0);
        assert_int_equal(tern_crypto_next_keys(&b, &bn), 0);
        assert_int_equal(an.aead, aead);
        assert_int_equal(an.secret_len, slen);
        assert_memory_equal(an.secret, bn.secret, slen);
        assert_memory_equal(an.iv, bn.iv, 12);
        assert_memory_not_equal(an.secret, a.secret, slen);
        assert_memory_not_equal(an.iv, a.iv, 12);
        assert_null(an.hp_hd);
        assert_int_equal(tern_crypto_next_keys(&a, &a), TERN_ERR_CRYPTO);

        /* Protect with the next keys (HP from the first phase), open on the other side. */
        memset(pkt, 0, sizeof(pkt));
        pkt[0] = 0x44; /* short header, key phase 1, pn_len 1 */
        memset(pkt + 1, 0xab, 8);
        pkt[9] = 7;
        memcpy(pkt + 10, "hello, key update", 17);
        memcpy(copy, pkt, sizeof(copy));
        assert_int_equal(tern_crypto_protect(&an, &a, pkt, 10, 1, 17, 7), 0);
        size_t pn_len;
        uint64_t pn;
        assert_int_equal(tern_crypto_unprotect_header(&b, pkt, 43, 9, &pn_len, &pn), 0);
        assert_int_equal(pn, 7);
        uint8_t keep[128];
        memcpy(keep, pkt, sizeof(keep));
        /* The old keys cannot open it; the new ones can. */
        assert_int_equal(tern_crypto_decrypt(&b, pkt, 10, 43, pn), TERN_ERR_CRYPTO);
        memcpy(pkt, keep, sizeof(keep));
        assert_int_equal(tern_crypto_decrypt(&bn, pkt, 10, 43, pn), 17);
        assert_memory_equal(pkt, copy, 27);

        /* A second update chains from the first. */
        tern_keys ann = {0};
        assert_int_equal(tern_crypto_next_keys(&an, &ann), 0);
        assert_memory_not_equal(ann.secret, an.secret, slen);
        assert_memory_not_equal(ann.secret, a.secret, slen);

        /* Moving leaves the source empty. */
        tern_keys moved = {0};
        tern_crypto_keys_move(&moved, &ann);
        assert_null(ann.aead_hd);
        assert_non_null(moved.aead_hd);
        tern_crypto_keys_free(&moved);
        tern_crypto_keys_free(&a);
        tern_crypto_keys_free(&b);
        tern_crypto_keys_free(&an);
        tern_crypto_keys_free(&bn);
    }
}

/* AES-256-GCM round trip with a long header, many packet numbers, and rejection of tampering. */
static void test_aes256_roundtrip_and_tamper(void **state)
{
    uint8_t secret[48], pkt[1500], orig[1500];
    tern_keys tx = {0}, rx = {0};
    for (size_t i = 0; i < sizeof(secret); i++)
        secret[i] = (uint8_t)(0xa0 ^ i);
    assert_int_equal(tern_crypto_keys_from_secret(&tx, TERN_AEAD_AES_256_GCM, secret, 48, 1), 0);
    assert_int_equal(tern_crypto_keys_from_secret(&rx, TERN_AEAD_AES_256_GCM, secret, 48, 1), 0);
    assert_int_equal(tx.key_len, 32);
    /* A SHA-256 sized secret is wrong for this AEAD. */
    tern_keys bad = {0};
    assert_int_equal(tern_crypto_keys_from_secret(&bad, TERN_AEAD_AES_256_GCM, secret, 32, 1),
                     TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_keys_from_secret(&bad, TERN_AEAD_NONE, secret, 32, 1),
                     TERN_ERR_CRYPTO);
    assert_null(bad.aead_hd);

    for (uint64_t pn = 0; pn < 300; pn += 37) {
        size_t hl = 0, plen = 1000 + (size_t)pn;
        pkt[hl++] = 0xe1; /* Handshake, pn_len 2 */
        pkt[hl++] = 0, pkt[hl++] = 0, pkt[hl++] = 0, pkt[hl++] = 1;
        pkt[hl++] = 4, memset(pkt + hl, 0x11, 4), hl += 4;
        pkt[hl++] = 4, memset(pkt + hl, 0x22, 4), hl += 4;
        pkt[hl++] = 0x40 | (uint8_t)((plen + 2 + 16) >> 8), pkt[hl++] = (uint8_t)(plen + 2 + 16);
        pkt[hl++] = (uint8_t)(pn >> 8), pkt[hl++] = (uint8_t)pn;
        for (size_t i = 0; i < plen; i++)
            pkt[hl + i] = (uint8_t)(i * 31 + pn);
        memcpy(orig, pkt, hl + plen);
        assert_int_equal(tern_crypto_protect(&tx, &tx, pkt, hl, 2, plen, pn), 0);
        assert_memory_not_equal(pkt + hl, orig + hl, 32);

        size_t pn_len;
        uint64_t tpn;
        uint8_t keep[1500];
        memcpy(keep, pkt, hl + plen + 16);
        assert_int_equal(
            tern_crypto_unprotect_header(&rx, pkt, hl + plen + 16, hl - 2, &pn_len, &tpn), 0);
        assert_int_equal(pn_len, 2);
        assert_int_equal(tpn, pn);
        assert_memory_equal(pkt, orig, hl);
        uint8_t unmasked[1500];
        memcpy(unmasked, pkt, hl + plen + 16);
        assert_int_equal(tern_crypto_decrypt(&rx, pkt, hl, hl + plen + 16, pn), (int)plen);
        assert_memory_equal(pkt, orig, hl + plen);

        /* One flipped bit anywhere (header, payload, tag) fails authentication. */
        size_t spots[] = {0, hl - 1, hl, hl + plen / 2, hl + plen + 15};
        for (size_t s = 0; s < TERN_ARRAY_LEN(spots); s++) {
            memcpy(pkt, unmasked, hl + plen + 16);
            pkt[spots[s]] ^= 0x01;
            assert_int_equal(tern_crypto_decrypt(&rx, pkt, hl, hl + plen + 16, pn),
                             TERN_ERR_CRYPTO);
        }
        /* The wrong packet number fails too. */
        memcpy(pkt, unmasked, hl + plen + 16);
        assert_int_equal(tern_crypto_decrypt(&rx, pkt, hl, hl + plen + 16, pn + 1),
                         TERN_ERR_CRYPTO);
    }

    /* Too short for a tag, too short for a sample. */
    assert_int_equal(tern_crypto_decrypt(&rx, pkt, 10, 25, 0), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_decrypt(&rx, pkt, 30, 25, 0), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_unprotect_header(&rx, pkt, 20, 5, NULL, NULL), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_unprotect_header(&rx, pkt, 25, 5, NULL, NULL), 0);
    assert_int_equal(tern_crypto_unprotect_header(&rx, pkt, 25, 500, NULL, NULL), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_protect(&tx, &tx, pkt, 10, 1, 2, 0), TERN_ERR_CRYPTO);
    assert_int_equal(tern_crypto_protect(&tx, &tx, pkt, 10, 1, 3, 0), 0);
    tern_keys none = {0};
    assert_int_equal(tern_crypto_unprotect_header(&none, pkt, 100, 5, NULL, NULL), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_decrypt(&none, pkt, 10, 100, 0), TERN_ERR_CRYPTO);

    tern_crypto_keys_free(&tx);
    tern_crypto_keys_free(&rx);
}

/* Plaintext gathered from pieces outside the packet seals to the very bytes the same plaintext
 * sealed in place does, for every AEAD, with pieces at block-aligned and unaligned offsets,
 * adjacent pieces (a wrapped ring), a piece at the payload's start and one at its end; pieces out
 * of order or past the payload are refused. */
static void test_protect_pieces(void **state)
{
    (void)state;
    uint8_t secret[48], ring[4096], plain[1500], want[1500], got[1500];
    for (size_t i = 0; i < sizeof(secret); i++)
        secret[i] = (uint8_t)(0x3c ^ i);
    for (size_t i = 0; i < sizeof(ring); i++)
        ring[i] = (uint8_t)(i * 7 + 3);
    static const struct {
        size_t plen, n;
        size_t at[4], len[4];
    } cases[] = {
        {1200, 1, {7}, {1190}},          /* one STREAM frame's data after its header */
        {1200, 2, {9, 509}, {500, 691}}, /* wrapped: two stretches back to back */
        {1200, 2, {0, 600}, {33, 600}},  /* from the start, and to the very end */
        {1100, 4, {5, 21, 100, 700}, {16, 1, 300, 17}}, /* several frames, odd sizes */
        {64, 1, {16}, {32}},                            /* block-aligned */
        {40, 1, {3}, {0}},                              /* an empty piece */
    };
    for (int aead = TERN_AEAD_AES_128_GCM; aead <= TERN_AEAD_CHACHA20_POLY1305; aead++) {
        size_t slen = aead == TERN_AEAD_AES_256_GCM ? 48 : 32;
        tern_keys k = {0};
        assert_int_equal(tern_crypto_keys_from_secret(&k, aead, secret, slen, 1), 0);
        for (size_t ci = 0; ci < TERN_ARRAY_LEN(cases); ci++) {
            size_t hl = 12, plen = cases[ci].plen;
            tern_crypto_piece pc[4];
            for (size_t i = 0; i < hl + plen; i++)
                plain[i] = (uint8_t)(0xa5 ^ (i * 13));
            plain[0] = 0x41;
            memcpy(got, plain, hl + plen);
            for (size_t j = 0; j < cases[ci].n; j++) {
                const uint8_t *src = ring + 97 * j + 5;
                pc[j] = (tern_crypto_piece){cases[ci].at[j], src, cases[ci].len[j]};
                memcpy(plain + hl + cases[ci].at[j], src, cases[ci].len[j]);
                /* what the packet holds there is not read */
                memset(got + hl + cases[ci].at[j], 0xee, cases[ci].len[j]);
            }
            memcpy(want, plain, hl + plen);
            assert_int_equal(tern_crypto_protect(&k, NULL, want, hl, 2, plen, 77 + ci), 0);
            assert_int_equal(
                tern_crypto_protect_pieces(&k, NULL, got, hl, 2, plen, 77 + ci, pc, cases[ci].n),
                0);
            assert_memory_equal(got, want, hl + plen + TERN_AEAD_TAG_LEN);
        }
        /* out of order, overlapping, past the end, too many */
        tern_crypto_piece bad[2] = {{100, ring, 10}, {50, ring, 10}};
        assert_int_equal(tern_crypto_protect_pieces(&k, NULL, got, 12, 2, 200, 1, bad, 2),
                         TERN_ERR_CRYPTO);
        bad[1].at = 105;
        assert_int_equal(tern_crypto_protect_pieces(&k, NULL, got, 12, 2, 200, 1, bad, 2),
                         TERN_ERR_CRYPTO);
        bad[1].at = 195;
        assert_int_equal(tern_crypto_protect_pieces(&k, NULL, got, 12, 2, 200, 1, bad, 2),
                         TERN_ERR_CRYPTO);
        bad[1].at = 190;
        assert_int_equal(tern_crypto_protect_pieces(&k, NULL, got, 12, 2, 200, 1, bad, 2), 0);
        tern_crypto_piece many[TERN_CRYPTO_MAX_PIECES + 1];
        for (size_t j = 0; j < TERN_ARRAY_LEN(many); j++)
            many[j] = (tern_crypto_piece){j * 10, ring, 5};
        assert_int_equal(
            tern_crypto_protect_pieces(&k, NULL, got, 12, 2, 200, 1, many, TERN_ARRAY_LEN(many)),
            TERN_ERR_CRYPTO);
        assert_int_equal(
            tern_crypto_protect_pieces(&k, NULL, got, 12, 2, 200, 1, many, TERN_CRYPTO_MAX_PIECES),
            0);
        tern_crypto_keys_free(&k);
    }
}

static void make_addr4(tern_addr *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &a->u.in.sin_addr), 1);
    a->len = sizeof(a->u.in);
}

static void make_addr6(tern_addr *a, const char *ip, uint16_t port)
{
    memset(a, 0, sizeof(*a));
    a->u.in6.sin6_family = AF_INET6;
    a->u.in6.sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &a->u.in6.sin6_addr), 1);
    a->len = sizeof(a->u.in6);
}

static void test_tokens(void **state)
{
    uint8_t key[32], key2[32], nonce[12], tok[TERN_RETRY_TOKEN_MAX], t2[TERN_RETRY_TOKEN_MAX];
    tern_cid odcid, rscid, o, r;
    tern_addr a4, a4port, a4ip, a6;
    const tern_tstamp t0 = 1000 * TERN_NS_PER_MS, life = 10000 * TERN_NS_PER_MS;

    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i, key2[i] = (uint8_t)(i + 1);
    memset(nonce, 0x5a, sizeof(nonce));
    tern_cid_set(&odcid, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    tern_cid_set(&rscid, (const uint8_t *)"0123456789abcdefghij", 20);
    make_addr4(&a4, "192.0.2.1", 4433);
    make_addr4(&a4port, "192.0.2.1", 4434);
    make_addr4(&a4ip, "192.0.2.2", 4433);
    make_addr6(&a6, "2001:db8::1", 4433);

    size_t n = tern_crypto_token_seal(key, nonce, &odcid, &rscid, &a4, t0, tok, sizeof(tok));
    assert_true(n > 0 && n <= TERN_RETRY_TOKEN_MAX);
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4, t0 + 1, life, &o, &r), 0);
    assert_true(tern_cid_eq(&o, &odcid));
    assert_true(tern_cid_eq(&r, &rscid));
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4, t0 + life - 1, life, NULL, NULL), 0);

    /* Expired, or from the future. */
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4, t0 + life, life, &o, &r),
                     TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4, t0 - 1, life, &o, &r), TERN_ERR_DROP);
    /* Another client address: port, IP, family. */
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4port, t0, life, &o, &r), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4ip, t0, life, &o, &r), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a6, t0, life, &o, &r), TERN_ERR_DROP);
    /* Another key. */
    assert_int_equal(tern_crypto_token_open(key2, tok, n, &a4, t0, life, &o, &r), TERN_ERR_DROP);
    /* Any flipped bit, truncation or extension. */
    for (size_t i = 0; i < n; i++) {
        memcpy(t2, tok, n);
        t2[i] ^= 0x80;
        assert_int_equal(tern_crypto_token_open(key, t2, n, &a4, t0, life, &o, &r), TERN_ERR_DROP);
    }
    assert_int_equal(tern_crypto_token_open(key, tok, n - 1, &a4, t0, life, &o, &r), TERN_ERR_DROP);
    memcpy(t2, tok, n);
    t2[n] = 0;
    assert_int_equal(tern_crypto_token_open(key, t2, n + 1, &a4, t0, life, &o, &r), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(key, tok, 0, &a4, t0, life, &o, &r), TERN_ERR_DROP);

    /* IPv6, the largest token, empty CIDs. */
    tern_cid big;
    tern_cid_set(&big, (const uint8_t *)"ABCDEFGHIJKLMNOPQRST", 20);
    n = tern_crypto_token_seal(key, nonce, &big, &rscid, &a6, t0, tok, sizeof(tok));
    assert_int_equal(n, TERN_RETRY_TOKEN_MAX);
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a6, t0, life, &o, &r), 0);
    assert_true(tern_cid_eq(&o, &big));
    tern_cid empty = {0};
    n = tern_crypto_token_seal(key, nonce, &empty, &empty, &a4, t0, tok, sizeof(tok));
    assert_true(n > 0);
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4, t0, life, &o, &r), 0);
    assert_int_equal(o.len, 0);
    assert_int_equal(r.len, 0);

    /* Too small an output buffer, or no usable address. */
    assert_int_equal(tern_crypto_token_seal(key, nonce, &odcid, &rscid, &a4, t0, tok, 50), 0);
    tern_addr unset = {0};
    assert_int_equal(
        tern_crypto_token_seal(key, nonce, &odcid, &rscid, &unset, t0, tok, sizeof(tok)), 0);
    /* missing inputs, or a CID longer than any: no token */
    tern_cid longer = big;
    longer.len = TERN_MAX_CID_LEN + 1;
    assert_int_equal(tern_crypto_token_seal(NULL, nonce, &odcid, &rscid, &a4, t0, tok, sizeof(tok)),
                     0);
    assert_int_equal(tern_crypto_token_seal(key, NULL, &odcid, &rscid, &a4, t0, tok, sizeof(tok)),
                     0);
    assert_int_equal(tern_crypto_token_seal(key, nonce, NULL, &rscid, &a4, t0, tok, sizeof(tok)), 0);
    assert_int_equal(tern_crypto_token_seal(key, nonce, &odcid, NULL, &a4, t0, tok, sizeof(tok)), 0);
    assert_int_equal(tern_crypto_token_seal(key, nonce, &odcid, &rscid, &a4, t0, NULL, sizeof(tok)),
                     0);
    assert_int_equal(
        tern_crypto_token_seal(key, nonce, &longer, &rscid, &a4, t0, tok, sizeof(tok)), 0);
    assert_int_equal(
        tern_crypto_token_seal(key, nonce, &odcid, &longer, &a4, t0, tok, sizeof(tok)), 0);
    n = tern_crypto_token_seal(key, nonce, &odcid, &rscid, &a4, t0, tok, sizeof(tok));
    assert_int_equal(tern_crypto_token_open(NULL, tok, n, &a4, t0, life, &o, &r), TERN_ERR_DROP);
    assert_int_equal(tern_crypto_token_open(key, NULL, n, &a4, t0, life, &o, &r), TERN_ERR_DROP);
    /* a token of another format */
    tok[0] ^= 0xff;
    assert_int_equal(tern_crypto_token_open(key, tok, n, &a4, t0, life, &o, &r), TERN_ERR_DROP);
}

static void test_reset_token(void **state)
{
    uint8_t key[32], key2[32], t1[16], t2[16], t3[16], t4[16];
    tern_cid c1, c2;
    memset(key, 0x42, sizeof(key));
    memcpy(key2, key, sizeof(key2));
    key2[31] ^= 1;
    tern_cid_set(&c1, (const uint8_t *)"\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    c2 = c1;
    c2.data[0] ^= 1;
    tern_crypto_reset_token(key, &c1, t1);
    tern_crypto_reset_token(key, &c1, t2);
    tern_crypto_reset_token(key, &c2, t3);
    tern_crypto_reset_token(key2, &c1, t4);
    assert_memory_equal(t1, t2, 16);
    assert_memory_not_equal(t1, t3, 16);
    assert_memory_not_equal(t1, t4, 16);
}

static void test_names(void **state)
{
    assert_int_equal(tern_crypto_aead_from_gnutls(GNUTLS_CIPHER_AES_128_GCM),
                     TERN_AEAD_AES_128_GCM);
    assert_string_equal(tern_crypto_aead_name(TERN_AEAD_CHACHA20_POLY1305), "CHACHA20-POLY1305");
    assert_string_equal(tern_crypto_aead_name(99), "none");
    assert_int_equal(tern_crypto_aead_from_gnutls(0), TERN_AEAD_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_keys),
        cmocka_unit_test(test_hp_mask_a2),
        cmocka_unit_test(test_client_initial_a2),
        cmocka_unit_test(test_server_initial_a3),
        cmocka_unit_test(test_retry_tag_a4),
        cmocka_unit_test(test_chacha_a5),
        cmocka_unit_test(test_v2_initial_keys),
        cmocka_unit_test(test_v2_client_initial),
        cmocka_unit_test(test_v2_server_initial),
        cmocka_unit_test(test_v2_retry),
        cmocka_unit_test(test_v2_chacha),
        cmocka_unit_test(test_key_update),
        cmocka_unit_test(test_aes256_roundtrip_and_tamper),
        cmocka_unit_test(test_protect_pieces),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_reset_token),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
