/* More of what the sans-I/O API (tern/core.h) answers to its caller: datagrams handed in with an
 * ECN codepoint outside 0..3 or without a path or bytes, sends without their outputs, a resumed
 * client without a session, and a socket error on a path of the client, which ends that path
 * (the path verbs then no longer find it) while the connection goes on. Public headers only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "corefx.h"
#include "tern/core.h"
#include "tern/tern.h"

static tern_conn *new_client(uint64_t *seed, tern_path_addr *path)
{
    tern_config cfg;
    corefx_client_config(&cfg);
    path->local = corefx_addr("10.0.0.1:40000");
    path->remote = corefx_addr("10.0.0.9:443");
    tern_conn *c = NULL;
    assert_int_equal(
        tern_core_client_new(&cfg, NULL, NULL, path, "localhost", corefx_rand, seed, 0, &c), 0);
    return c;
}

static size_t paths_in_use(tern_conn *c)
{
    size_t n = 0;
    assert_int_equal(tern_conn_paths(c, NULL, 0, &n), 0);
    return n;
}

static void test_recv_and_send_arguments(void **st)
{
    (void)st;
    uint64_t seed = 21;
    tern_path_addr path;
    tern_conn *c = new_client(&seed, &path);
    uint8_t d[1500];
    memset(d, 0, sizeof(d));
    tern_path_addr in = {path.local, path.remote};
    assert_int_equal(tern_core_recv(c, &in, d, sizeof(d), -1, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(c, &in, d, sizeof(d), 4, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(c, NULL, d, sizeof(d), 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(c, &in, NULL, sizeof(d), 0, 0), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_recv(NULL, &in, d, sizeof(d), 0, 0), TERN_ERR_INVALID_ARG);
    uint8_t buf[1500];
    size_t seg = 0, count = 0;
    int ecn = -1;
    tern_path_addr out;
    assert_int_equal(tern_core_send(NULL, buf, sizeof(buf), 1, &out, &seg, &count, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send(c, NULL, sizeof(buf), 1, &out, &seg, &count, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send(c, buf, sizeof(buf), 1, NULL, &seg, &count, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send_ecn(NULL, buf, sizeof(buf), 1, &out, &seg, &count, &ecn, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send_ecn(c, NULL, sizeof(buf), 1, &out, &seg, &count, &ecn, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send_ecn(c, buf, sizeof(buf), 1, NULL, &seg, &count, &ecn, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send_ecn(c, buf, sizeof(buf), 1, &out, NULL, &count, &ecn, 0),
                     TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_send_ecn(c, buf, sizeof(buf), 1, &out, &seg, NULL, &ecn, 0),
                     TERN_ERR_INVALID_ARG);
    /* none of it touched the connection: its first flight is still to go, whole, marked ECT(0) */
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    ssize_t n = tern_core_send_ecn(c, buf, sizeof(buf), 1, &out, &seg, &count, &ecn, 0);
    assert_true(n >= 1200);
    assert_int_equal(count, 1);
    assert_int_equal(ecn, 2);
    assert_true(tern_addr_equal(&out.remote, &path.remote));
    /* the codepoints 0..3 are all accepted (the garbage itself is dropped) */
    for (int e = 0; e <= 3; e++)
        assert_true(tern_core_recv(c, &in, d, sizeof(d), e, 0) != TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    tern_core_conn_free(c);
}

static void test_resume_needs_session(void **st)
{
    (void)st;
    uint64_t seed = 22;
    tern_config cfg;
    corefx_client_config(&cfg);
    tern_path_addr path = {.local = corefx_addr("10.0.0.1:40000"),
                           .remote = corefx_addr("10.0.0.9:443")};
    tern_conn *c = (tern_conn *)&seed;
    assert_int_equal(tern_core_client_new_session(&cfg, NULL, NULL, &path, "localhost",
                                                  corefx_rand, &seed, 0, NULL, 100, 0, &c),
                     TERN_ERR_SESSION);
    assert_null(c);
    /* without an output either: still the session's error, nothing created */
    assert_int_equal(tern_core_client_new_session(&cfg, NULL, NULL, &path, "localhost",
                                                  corefx_rand, &seed, 0, NULL, 100, 0, NULL),
                     TERN_ERR_SESSION);
}

static void test_socket_error_ends_path(void **st)
{
    (void)st;
    uint64_t seed = 23;
    tern_path_addr path;
    tern_conn *c = new_client(&seed, &path);
    tern_addr wifi = corefx_addr("10.0.0.2:40001");
    int id = tern_core_path_add(c, &wifi, 0);
    assert_true(id > 0);
    assert_int_equal(paths_in_use(c), 2);
    assert_int_equal(tern_core_path_error(c, &wifi, TERN_PATH_WHY_SOCKET_ERROR, 0), 0);
    assert_int_equal(paths_in_use(c), 1);
    assert_int_equal(tern_core_path_remove(c, &wifi, 0), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_error(c, &wifi, TERN_PATH_WHY_SOCKET_ERROR, 0),
                     TERN_ERR_NOT_FOUND);
    /* the address may be added again, as a new path */
    assert_true(tern_core_path_add(c, &wifi, 0) > 0);
    assert_int_equal(paths_in_use(c), 2);
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    tern_core_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recv_and_send_arguments),
        cmocka_unit_test(test_resume_needs_session),
        cmocka_unit_test(test_socket_error_ends_path),
    };
    return cmocka_run_group_tests(tests, corefx_group_setup, corefx_group_teardown);
}
