/* Address parsing, formatting and comparison; error names; configuration defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "tern/tern.h"

static void test_parse_v4(void **st)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, "1.2.3.4:443", 9), 0);
    assert_int_equal(a.u.sa.sa_family, AF_INET);
    assert_int_equal(a.len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(a.u.in.sin_port), 443);
    assert_int_equal(ntohl(a.u.in.sin_addr.s_addr), 0x01020304);

    assert_int_equal(tern_addr_parse(&a, "10.0.0.255", 4433), 0);
    assert_int_equal(ntohs(a.u.in.sin_port), 4433);
    assert_int_equal(ntohl(a.u.in.sin_addr.s_addr), 0x0a0000ff);

    assert_int_equal(tern_addr_parse(&a, "0.0.0.0:0", 1), 0);
    assert_int_equal(ntohs(a.u.in.sin_port), 0);
    assert_int_equal(tern_addr_parse(&a, "127.0.0.1:65535", 1), 0);
    assert_int_equal(ntohs(a.u.in.sin_port), 65535);
}

static void test_parse_v6(void **st)
{
    tern_addr a;
    static const uint8_t loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(tern_addr_parse(&a, "[::1]:443", 9), 0);
    assert_int_equal(a.u.sa.sa_family, AF_INET6);
    assert_int_equal(a.len, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(a.u.in6.sin6_port), 443);
    assert_memory_equal(&a.u.in6.sin6_addr, loop6, 16);

    assert_int_equal(tern_addr_parse(&a, "::1", 853), 0);
    assert_int_equal(a.u.sa.sa_family, AF_INET6);
    assert_int_equal(ntohs(a.u.in6.sin6_port), 853);
    assert_memory_equal(&a.u.in6.sin6_addr, loop6, 16);

    assert_int_equal(tern_addr_parse(&a, "[2001:db8::17]", 7), 0);
    assert_int_equal(ntohs(a.u.in6.sin6_port), 7);
    assert_int_equal(a.u.in6.sin6_addr.s6_addr[0], 0x20);
    assert_int_equal(a.u.in6.sin6_addr.s6_addr[1], 0x01);
    assert_int_equal(a.u.in6.sin6_addr.s6_addr[15], 0x17);

    assert_int_equal(tern_addr_parse(&a, "[fe80::1%3]:5", 0), 0);
    assert_int_equal(a.u.in6.sin6_scope_id, 3);
    assert_int_equal(ntohs(a.u.in6.sin6_port), 5);
}

static void test_parse_invalid(void **st)
{
    static const char *bad[] = {
        "",
        ":",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:12a",
        "1.2.3.4:-1",
        "1.2.3.4:123456",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "localhost",
        "example.com:443",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[]:1",
        "[1.2.3.4]:5",
        ":::1",
        "1.2.3.4: 5",
        " 1.2.3.4",
        "[::1]:80:80",
        "fe80::1%",
        "fe80::1%nosuchif0",
    };
    tern_addr a;
    memset(&a, 0x77, sizeof(a));
    tern_addr before = a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tern_addr_parse(&a, bad[i], 1) != TERN_ERR_INVALID_ARG)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_memory_equal(&a, &before, sizeof(a)); /* untouched on failure */
    }
    assert_int_equal(tern_addr_parse(NULL, "1.2.3.4", 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_addr_parse(&a, NULL, 1), TERN_ERR_INVALID_ARG);
}

static void test_format(void **st)
{
    tern_addr a;
    char buf[64];
    assert_int_equal(tern_addr_parse(&a, "192.168.1.20:8443", 0), 0);
    assert_ptr_equal(tern_addr_format(&a, buf, sizeof(buf)), buf);
    assert_string_equal(buf, "192.168.1.20:8443");

    assert_int_equal(tern_addr_parse(&a, "[2001:db8::1]:443", 0), 0);
    assert_string_equal(tern_addr_format(&a, buf, sizeof(buf)), "[2001:db8::1]:443");

    assert_int_equal(tern_addr_parse(&a, "::", 0), 0);
    assert_string_equal(tern_addr_format(&a, buf, sizeof(buf)), "[::]:0");

    /* round trip */
    tern_addr b;
    assert_int_equal(tern_addr_parse(&a, "[fe80::2%9]:99", 0), 0);
    tern_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "[fe80::2%9]:99");
    assert_int_equal(tern_addr_parse(&b, buf, 0), 0);
    assert_true(tern_addr_equal(&a, &b));
    assert_int_equal(b.u.in6.sin6_scope_id, 9);

    /* truncation keeps the terminator */
    assert_int_equal(tern_addr_parse(&a, "192.168.1.20:8443", 0), 0);
    memset(buf, 'x', sizeof(buf));
    tern_addr_format(&a, buf, 8);
    assert_string_equal(buf, "192.168");
    assert_int_equal(buf[8], 'x');

    tern_addr unset;
    memset(&unset, 0, sizeof(unset));
    tern_addr_format(&unset, buf, sizeof(buf));
    assert_true(strlen(buf) > 0);
    assert_null(strchr(buf, ':'));
}

static void test_equal(void **st)
{
    tern_addr a, b;
    assert_int_equal(tern_addr_parse(&a, "127.0.0.1:1000", 0), 0);
    assert_int_equal(tern_addr_parse(&b, "127.0.0.1", 1000), 0);
    assert_true(tern_addr_equal(&a, &b));
    b.u.in.sin_zero[0] = 1; /* padding is not part of the address */
    assert_true(tern_addr_equal(&a, &b));
    assert_int_equal(tern_addr_parse(&b, "127.0.0.1:1001", 0), 0);
    assert_false(tern_addr_equal(&a, &b));
    assert_int_equal(tern_addr_parse(&b, "127.0.0.2:1000", 0), 0);
    assert_false(tern_addr_equal(&a, &b));
    /* the same IPv4 address mapped into IPv6 is another family */
    assert_int_equal(tern_addr_parse(&b, "[::ffff:127.0.0.1]:1000", 0), 0);
    assert_false(tern_addr_equal(&a, &b));
    assert_false(tern_addr_equal(&b, &a));

    tern_addr c, d;
    assert_int_equal(tern_addr_parse(&c, "[2001:db8::1]:5", 0), 0);
    assert_int_equal(tern_addr_parse(&d, "2001:db8:0::1", 5), 0);
    assert_true(tern_addr_equal(&c, &d));
    d.u.in6.sin6_addr.s6_addr[15] ^= 1;
    assert_false(tern_addr_equal(&c, &d));
    assert_false(tern_addr_equal(&c, NULL));
}

/* the most negative code tern.h defines */
#define LAST_ERR TERN_ERR_NOT_MULTIPATH

static void test_strerror(void **st)
{
    const char *names[-LAST_ERR + 1];
    for (int e = 0; e >= LAST_ERR; e--) {
        const char *s = tern_strerror(e);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        names[-e] = s;
        for (int k = 0; k < -e; k++)
            if (strcmp(names[k], s) == 0)
                fail_msg("codes %d and %d share the name \"%s\"", -k, e, s);
    }
    const char *unknown = tern_strerror(-1000);
    assert_non_null(unknown);
    assert_true(strlen(unknown) > 0);
    for (int k = 0; k <= -LAST_ERR; k++)
        assert_string_not_equal(names[k], unknown);
    assert_string_equal(tern_strerror(1), unknown);
    assert_string_equal(tern_strerror(LAST_ERR - 1), unknown);
}

static void test_config_defaults(void **st)
{
    tern_config c;
    memset(&c, 0xa5, sizeof(c));
    tern_config_init(&c);
    assert_null(c.alpn);
    assert_int_equal(c.alpn_count, 0);
    assert_null(c.cert_file);
    assert_null(c.key_file);
    assert_null(c.ca_file);
    assert_null(c.tls_priority);
    assert_int_equal(c.verify_peer, 1);
    assert_int_equal(c.cc, TERN_CC_CUBIC);
    assert_int_equal(c.idle_timeout_ms, 30000);
    assert_int_equal(c.handshake_timeout_ms, 10000);
    assert_int_equal(c.initial_max_data, 16u << 20);
    assert_int_equal(c.initial_max_stream_data_bidi_local, 4u << 20);
    assert_int_equal(c.initial_max_stream_data_bidi_remote, 4u << 20);
    assert_int_equal(c.initial_max_stream_data_uni, 4u << 20);
    assert_int_equal(c.initial_max_streams_bidi, 100);
    assert_int_equal(c.initial_max_streams_uni, 100);
    assert_int_equal(c.active_connection_id_limit, 8);
    assert_int_equal(c.stream_send_buffer, 1u << 20);
    assert_int_equal(c.max_udp_payload, 8972);
    assert_int_equal(c.retry, 0);
    assert_int_equal(c.disable_active_migration, 0);
    assert_int_equal(c.max_paths, 8);
    assert_int_equal(c.follow_preferred_address, 1);
    assert_int_equal(c.preferred_address.len, 0);
    assert_null(c.log);
    assert_null(c.log_ud);
    assert_int_equal(c.max_datagram_frame_size, 0);
    assert_int_equal(c.datagram_queue_bytes, 65536);
    assert_int_equal(c.datagram_queue_count, 128);
    assert_int_equal(c.datagram_drop_oldest, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_v4),        cmocka_unit_test(test_parse_v6),
        cmocka_unit_test(test_parse_invalid),   cmocka_unit_test(test_format),
        cmocka_unit_test(test_equal),           cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_config_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
