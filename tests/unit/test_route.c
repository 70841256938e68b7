/* Route lookups from a source address on loopback: a configured address that reaches the peer,
 * an address the host does not have, a loopback source towards another host (the kernel refuses
 * the route), families that differ, and bad arguments. As root, also a multihomed host with
 * per-source routing rules, in a private network namespace of a child process. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* In the child's own network namespace: two addresses on one interface with a default route, and
 * a rule that sends whatever leaves from the second one to a table whose default is unreachable.
 * Exit 0 when the lookups agree with the rules, 77 when the namespace cannot be made. */
static int per_source_child(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        return 77;
    static const char *const setup[] = {
        "ip link set lo up",
        "ip link add v0 type veth peer name v1",
        "ip link set v0 up",
        "ip link set v1 up",
        "ip addr add 10.9.0.1/24 dev v0",
        "ip addr add 10.9.0.2/24 dev v0",
        "ip route add default via 10.9.0.254 dev v0",
        "ip rule add from 10.9.0.2 table 100",
        "ip route add unreachable default table 100",
    };
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", setup[i]);
        if (system(cmd) != 0)
            return 77; /* no ip(8) or no veth support: nothing to test here */
    }
    tern_addr a1, a2, peer;
    if (tern_addr_parse(&a1, "10.9.0.1", 0) || tern_addr_parse(&a2, "10.9.0.2", 0) ||
        tern_addr_parse(&peer, "198.51.100.1:443", 0))
        return 1;
    if (tern_route_usable(&a1, &peer) != 0)
        return 2;
    errno = 0;
    if (tern_route_usable(&a2, &peer) != TERN_ERR_IO || errno != EHOSTUNREACH)
        return 3;
    return 0;
}

static void test_per_source_rules(void **st)
{
    (void)st;
    if (geteuid() != 0) {
        fprintf(stderr, "    skipped: network namespaces need root\n");
        skip();
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(per_source_child());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        fprintf(stderr, "    skipped: no network namespace with a veth pair here\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_reaches_loopback),
        cmocka_unit_test(test_address_not_on_host),
        cmocka_unit_test(test_loopback_source_does_not_route_out),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_per_source_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
