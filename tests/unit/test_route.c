/* Route lookups from a source address on loopback: a configured address that reaches the peer,
 * an address the host does not have, a loopback source towards another host (the kernel refuses
 * the route), families that differ, and bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/route.h"

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 443), 0);
    return a;
}

static int have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    tern_addr a = addr("[::1]:0");
    int ok = bind(fd, &a.u.sa, a.len) == 0;
    close(fd);
    return ok;
}

static void test_loopback_reaches_loopback(void **st)
{
    (void)st;
    tern_addr local = addr("127.0.0.1:0"), remote = addr("127.0.0.1:443");
    assert_int_equal(tern_route_usable(&local, &remote), 0);
    /* the local port is ignored: a port in use elsewhere does not matter */
    local = addr("127.0.0.1:1");
    assert_int_equal(tern_route_usable(&local, &remote), 0);
    if (have_ipv6_loopback()) {
        tern_addr l6 = addr("[::1]:0"), r6 = addr("[::1]:443");
        assert_int_equal(tern_route_usable(&l6, &r6), 0);
    }
}

static void test_address_not_on_host(void **st)
{
    (void)st;
    /* TEST-NET-3 is never configured on a test host */
    tern_addr local = addr("203.0.113.254:0"), remote = addr("127.0.0.1:443");
    errno = 0;
    assert_int_equal(tern_route_usable(&local, &remote), TERN_ERR_BIND);
    assert_int_equal(errno, EADDRNOTAVAIL);
}

static void test_loopback_source_does_not_route_out(void **st)
{
    (void)st;
    /* the routing decision from this source: loopback addresses never leave the host */
    tern_addr local = addr("127.0.0.1:0"), remote = addr("198.51.100.1:443");
    errno = 0;
    int rv = tern_route_usable(&local, &remote);
    assert_int_equal(rv, TERN_ERR_IO);
    assert_true(errno == EINVAL || errno == ENETUNREACH || errno == EHOSTUNREACH);
}

static void test_bad_arguments(void **st)
{
    (void)st;
    tern_addr v4 = addr("127.0.0.1:0"), v6 = addr("[::1]:443"), none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(tern_route_usable(&v4, &v6), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_route_usable(NULL, &v4), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_route_usable(&v4, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_route_usable(&none, &v4), TERN_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_reaches_loopback),
        cmocka_unit_test(test_address_not_on_host),
        cmocka_unit_test(test_loopback_source_does_not_route_out),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
