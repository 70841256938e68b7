/* Tests of qversion.c: v2's codepoints and labels, configured lists, the server's choice of a
 * compatible version, the checks of version_information (RFC 9368 §4) and the choice after a
 * Version Negotiation packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "packet.h"
#include "qversion.h"

#define V1 TERN_PROTO_VERSION_1
#define V2 TERN_PROTO_VERSION_2
#define GREASE 0x0a1a2a3au

static tern_qv_info info(uint32_t chosen, const uint32_t *avail, size_t n)
{
    tern_qv_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.present = 1;
    vi.chosen = chosen;
    vi.n = n;
    memcpy(vi.available, avail, n * sizeof(uint32_t));
    return vi;
}

static void test_versions(void **state)
{
    (void)state;
    assert_true(tern_qv_supported(V1));
    assert_true(tern_qv_supported(V2));
    assert_false(tern_qv_supported(0));
    assert_false(tern_qv_supported(0xff000020)); /* a draft */
    assert_true(tern_qv_compatible(V1, V2));
    assert_true(tern_qv_compatible(V2, V1));
    assert_true(tern_qv_compatible(V1, V1));
    assert_false(tern_qv_compatible(V1, GREASE));
    assert_false(tern_qv_compatible(GREASE, V1));
    for (int t = TERN_PKT_INITIAL; t <= TERN_PKT_RETRY; t++) {
        assert_int_equal(tern_qv_type_bits(V1, t), (unsigned)t);
        assert_int_equal(tern_qv_type_bits(V2, t), (unsigned)(t + 1) % 4);
        assert_int_equal(tern_qv_type_from_bits(V2, tern_qv_type_bits(V2, t)), t);
        assert_int_equal(tern_qv_type_from_bits(V1, (unsigned)t), t);
    }
    assert_string_equal(tern_qv_labels_for(V1)->key, "quic key");
    assert_string_equal(tern_qv_labels_for(V2)->key, "quicv2 key");
    assert_string_equal(tern_qv_labels_for(V2)->iv, "quicv2 iv");
    assert_string_equal(tern_qv_labels_for(V2)->hp, "quicv2 hp");
    assert_string_equal(tern_qv_labels_for(V2)->ku, "quicv2 ku");
}

static void test_lists(void **state)
{
    (void)state;
    const uint32_t ok[] = {V2, V1}, dup[] = {V1, V1}, bad[] = {V1, GREASE};
    assert_int_equal(tern_qv_check_list(ok, 0), 0);
    assert_int_equal(tern_qv_check_list(ok, 2), 0);
    assert_int_equal(tern_qv_check_list(dup, 2), TERN_ERR_CONFIG);
    assert_int_equal(tern_qv_check_list(bad, 2), TERN_ERR_CONFIG);
    assert_int_equal(tern_qv_check_list(ok, TERN_QV_MAX + 1), TERN_ERR_CONFIG);

    tern_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    uint32_t out[TERN_QV_MAX];
    assert_int_equal(tern_qv_list(&cfg, out), 1); /* the default is v1 alone */
    assert_int_equal(out[0], V1);
    cfg.quic_versions_count = 2;
    cfg.quic_versions[0] = V2;
    cfg.quic_versions[1] = V1;
    assert_int_equal(tern_qv_list(&cfg, out), 2);
    assert_int_equal(out[0], V2);
    assert_int_equal(out[1], V1);
    assert_int_equal(tern_qv_list(NULL, out), 1);
    /* a count past the array (a caller's garbage): the default, not a read beyond it */
    out[0] = 0;
    cfg.quic_versions_count = TERN_QV_MAX + 1;
    assert_int_equal(tern_qv_list(&cfg, out), 1);
    assert_int_equal(out[0], V1);
}

/* The server's order decides; only versions the client offered and that are compatible with the
 * one it began in can be reached without a round trip. */
static void test_server_choose(void **state)
{
    (void)state;
    const uint32_t v2v1[] = {V2, V1}, v1v2[] = {V1, V2}, v1[] = {V1}, v2[] = {V2};
    tern_qv_info both = info(V1, v1v2, 2), only1 = info(V1, v1, 1), none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(tern_qv_server_choose(v2v1, 2, V1, &both), V2);  /* upgrade */
    assert_int_equal(tern_qv_server_choose(v1v2, 2, V1, &both), V1);  /* we prefer v1 */
    assert_int_equal(tern_qv_server_choose(v2v1, 2, V1, &only1), V1); /* not offered */
    assert_int_equal(tern_qv_server_choose(v2v1, 2, V1, &none), V1);  /* no information */
    assert_int_equal(tern_qv_server_choose(v2v1, 2, V1, NULL), V1);
    assert_int_equal(tern_qv_server_choose(v2, 1, V2, &none), V2);
    /* a client in v2 that offers v1, to a server preferring v1: moved down, as it allowed */
    tern_qv_info from2 = info(V2, v2v1, 2);
    assert_int_equal(tern_qv_server_choose(v1v2, 2, V2, &from2), V1);
    /* a client version we do not have is answered in as it is: nothing of ours it offered */
    assert_int_equal(tern_qv_server_choose(v2, 1, V1, &only1), V1);
    assert_int_equal(tern_qv_server_choose(v2, 0, V1, &both), V1);
    /* and nothing is compatible with a version we cannot read, even when offered */
    tern_qv_info from_g = info(GREASE, v2v1, 2);
    assert_int_equal(tern_qv_server_choose(v2v1, 2, GREASE, &from_g), GREASE);
}

static void test_server_check(void **state)
{
    (void)state;
    const uint32_t v1v2[] = {V1, V2};
    const char *why = NULL;
    tern_qv_info vi = info(V1, v1v2, 2), none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(tern_qv_server_check(V1, &vi, &why), 0);
    assert_int_equal(tern_qv_server_check(V1, &none, &why), 0);
    assert_int_equal(tern_qv_server_check(V2, &vi, &why), TERN_ERR_PROTO);
    assert_non_null(why);
}

/* RFC 9368 §4 from the client's side. */
static void test_client_check(void **state)
{
    (void)state;
    const uint32_t v2v1[] = {V2, V1}, v1v2[] = {V1, V2}, v1[] = {V1}, g[] = {GREASE, V1};
    const char *why = NULL;
    tern_qv_info none;
    memset(&none, 0, sizeof(none));
    tern_qv_info s_both = info(V1, v1v2, 2), s_v1 = info(V1, v1, 1), s_v2 = info(V2, v2v1, 2);
    /* no VN: only the chosen version is compared with the wire */
    assert_int_equal(tern_qv_client_check(v1v2, 2, V1, 0, &s_both, &why), 0);
    assert_int_equal(tern_qv_client_check(v1v2, 2, V1, 0, &none, &why), 0);
    assert_int_equal(tern_qv_client_check(v1v2, 2, V2, 0, &s_both, &why), TERN_ERR_PROTO);
    assert_int_equal(tern_qv_client_check(v1v2, 2, V2, 0, &s_v2, &why), 0);
    /* after VN: a server that only has v1 agrees with our move to v1 */
    assert_int_equal(tern_qv_client_check(v2v1, 2, V1, 1, &s_v1, &why), 0);
    const tern_qv_info s_g = info(V1, g, 2);
    assert_int_equal(tern_qv_client_check(v2v1, 2, V1, 1, &s_g, &why), 0);
    /* after VN: a server that also speaks v2, which we prefer: downgraded */
    why = NULL;
    assert_int_equal(tern_qv_client_check(v2v1, 2, V1, 1, &s_both, &why), TERN_ERR_PROTO);
    assert_string_equal(why, "version downgrade");
    /* after VN, no version information: a v1 server that predates it means "v1 only" (RFC 9368
     * §8), which agrees with our move to v1 unless we preferred nothing over v1 */
    assert_int_equal(tern_qv_client_check(v2v1, 2, V1, 1, &none, &why), 0);
    /* ... and proves nothing for any other version */
    why = NULL;
    assert_int_equal(tern_qv_client_check(v1v2, 2, V2, 1, &none, &why), TERN_ERR_PROTO);
    assert_string_equal(why, "no version information after version negotiation");
    /* after VN, an empty list of available versions */
    tern_qv_info empty = info(V1, v1, 0);
    why = NULL;
    assert_int_equal(tern_qv_client_check(v2v1, 2, V1, 1, &empty, &why), TERN_ERR_PROTO);
    assert_string_equal(why, "no available versions after version negotiation");
    assert_int_equal(tern_qv_client_check(v2v1, 2, V1, 0, &empty, &why), 0); /* without VN */
    /* after VN, in a version outside our list that the server has while it has nothing else of
     * ours: no version we would have preferred, so no downgrade */
    const uint32_t v2only[] = {V2};
    assert_int_equal(tern_qv_client_check(v2only, 1, V1, 1, &s_v1, &why), 0);
}

static void test_after_vn(void **state)
{
    (void)state;
    const uint32_t v2v1[] = {V2, V1}, v2[] = {V2};
    const uint8_t lists_v1[] = {0x0a, 0x1a, 0x2a, 0x3a, 0, 0, 0, 1};
    const uint8_t lists_both[] = {0x6b, 0x33, 0x43, 0xcf, 0, 0, 0, 1};
    assert_int_equal(tern_qv_after_vn(v2v1, 2, V2, lists_v1, 2), V1);
    assert_int_equal(tern_qv_after_vn(v2, 1, V2, lists_v1, 2), 0); /* nothing in common */
    /* the current version is never chosen again */
    assert_int_equal(tern_qv_after_vn(v2v1, 2, V2, lists_both, 2), V1);
    assert_int_equal(tern_qv_after_vn(v2v1, 2, V1, lists_both, 2), V2);
    assert_int_equal(tern_qv_after_vn(v2v1, 2, V2, lists_v1, 0), 0); /* an empty list */
    assert_true(tern_qv_in(V1, v2v1, 2));
    assert_false(tern_qv_in(GREASE, v2v1, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),      cmocka_unit_test(test_lists),
        cmocka_unit_test(test_server_choose), cmocka_unit_test(test_server_check),
        cmocka_unit_test(test_client_check),  cmocka_unit_test(test_after_vn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
