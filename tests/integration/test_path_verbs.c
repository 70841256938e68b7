/* The client's path verbs of the core (tern_conn_path_add / set_active / remove) at their edges,
 * between two real cores in virtual time: every documented refusal with its error, verbs called
 * before the handshake is confirmed (queued, then carried out), the active path set again, the
 * path limit (its default and its cap), a client bound to the wildcard address, the server that
 * forbids migration, removing a path that is being switched to, and the failover and path-gone
 * verbs at their edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "conn_test.h"
#include "forge.h"
#include "frame.h"
#include "migration.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull

static int never(tern_pair *p)
{
    return 0;
}

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static size_t npaths(tern_conn *c)
{
    size_t n = 0;
    assert_int_equal(tern_conn_paths(c, NULL, 0, &n), 0);
    return n;
}

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(p, 100), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

static void test_refusals(void **st)
{
    tern_pair p;
    connect_pair(&p, 1000);
    tern_conn *c = p.client;
    tern_addr none = {0}, a1 = addr("10.0.0.1:5001"), v6 = addr("[fd00::1]:5000");
    tern_addr active = tern_conn_active_path(c)->addr.local;
    assert_int_equal(tern_conn_path_add(c, NULL, p.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_path_add(NULL, &active, p.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_path_add(c, &none, p.now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_path_add(c, &v6, p.now), TERN_ERR_AF_MISMATCH);
    assert_int_equal(tern_conn_path_add(c, &active, p.now), TERN_ERR_DUPLICATE);
    assert_int_equal(tern_conn_path_add(p.server, &a1, p.now), TERN_ERR_NOT_CLIENT);
    assert_int_equal(tern_conn_path_set_active(p.server, &a1, p.now), TERN_ERR_NOT_CLIENT);
    assert_int_equal(tern_conn_path_remove(c, &a1, p.now), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_conn_path_remove(c, &active, p.now), TERN_ERR_LAST_PATH);
    /* setting the active path again changes nothing */
    assert_int_equal(tern_conn_path_set_active(c, &active, p.now), tern_conn_active_index(c));
    assert_int_equal(npaths(c), 1);
    /* after a close every verb is refused */
    assert_int_equal(tern_conn_close(c, 0, NULL), 0);
    assert_int_equal(tern_conn_path_add(c, &a1, p.now), TERN_ERR_CLOSED);
    assert_int_equal(tern_conn_path_set_active(c, &a1, p.now), TERN_ERR_CLOSED);
    assert_int_equal(tern_conn_path_remove(c, &active, p.now), TERN_ERR_CLOSED);
    pair_free(&p);
}

static void test_path_limit(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1001), 0);
    p.cfg_c.max_paths = 2;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    pair_run(&p, never, 100 * MS);
    tern_addr a1 = addr("10.0.0.1:5001"), a2 = addr("10.0.0.1:5002");
    assert_true(tern_conn_path_add(p.client, &a1, p.now) > 0);
    assert_int_equal(tern_conn_path_add(p.client, &a2, p.now), TERN_ERR_PATH_LIMIT);
    assert_int_equal(tern_conn_path_set_active(p.client, &a2, p.now), TERN_ERR_PATH_LIMIT);
    assert_int_equal(npaths(p.client), 2);
    /* once one is removed, the slot serves again */
    assert_int_equal(tern_conn_path_remove(p.client, &a1, p.now), 0);
    pair_run(&p, never, 100 * MS);
    assert_true(tern_conn_path_add(p.client, &a2, p.now) > 0);
    pair_free(&p);
}

/* With max_paths `max_paths`, the client holds `want` paths (the first and want - 1 added) and
 * refuses one more with TERN_ERR_PATH_LIMIT. */
static void check_path_limit(uint64_t seed, size_t max_paths, int want)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.cfg_c.max_paths = max_paths;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    pair_run(&p, never, 100 * MS);
    for (int k = 1; k <= want; k++) {
        char text[32];
        snprintf(text, sizeof(text), "10.0.0.1:%d", 5000 + k);
        tern_addr a = addr(text);
        if (k < want)
            assert_true(tern_conn_path_add(p.client, &a, p.now) > 0);
        else
            assert_int_equal(tern_conn_path_add(p.client, &a, p.now), TERN_ERR_PATH_LIMIT);
    }
    assert_int_equal(npaths(p.client), want);
    /* the CIDs it accepts from the server: one per path and a spare, within what it can hold */
    assert_int_equal(tern_conn_local_tparams(p.client)->active_connection_id_limit,
                     want + 1 > 16 ? 16 : want + 1);
    pair_free(&p);
}

/* max_paths 0 means the default, 8 paths. */
static void test_path_limit_default(void **st)
{
    check_path_limit(1008, 0, 8);
}

/* max_paths above what a connection holds means TERN_MAX_PATHS (16) paths, as many as the local
 * CID limit it advertises then lets the server serve (16 CIDs). */
static void test_path_limit_capped(void **st)
{
    check_path_limit(1009, 40, 16);
}

/* A client whose socket is bound to the wildcard address (its path's local address is
 * 0.0.0.0:5000) sees each datagram addressed to the concrete IP it left from: those datagrams
 * belong to its path, on the same port only. */
static void test_wildcard_bound_client(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1010), 0);
    /* a packet of the server addressed to another port of that IP is no datagram of this path:
     * dropped, unprocessed; to the path's port it is taken */
    assert_int_equal(
        pair_check_wildcard_local(&p, "0.0.0.0:5000", "10.0.0.1:5000", "10.0.0.1:5001", 50000), 0);
    pair_free(&p);
}

static int client_exists(tern_pair *p)
{
    return p->client != NULL;
}

static void test_before_confirmation(void **st)
{
    /* add and switch before the handshake: both wait for confirmation (RFC 9000 §9), then the
     * client probes the new path and moves there, and the download runs on it */
    tern_pair p;
    assert_int_equal(pair_init(&p, 1002), 0);
    assert_true(pair_run(&p, client_exists, SEC));
    tern_addr a1 = addr("10.0.0.1:5001");
    int idx = tern_conn_path_set_active(p.client, &a1, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_conn_pending_active(p.client), idx);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    pair_run(&p, never, 500 * MS);
    assert_int_equal(tern_conn_active_index(p.client), idx);
    assert_int_equal(tern_conn_pending_active(p.client), -1);
    assert_true(tern_addr_equal(&tern_conn_active_path(p.client)->addr.local, &a1));
    assert_int_equal(pair_request(&p, 20000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    /* the server sees the client at its new address */
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &a1));
    pair_free(&p);
}

static void test_remove_pending_switch(void **st)
{
    /* a switch queued before confirmation is forgotten when its path is removed */
    tern_pair p;
    assert_int_equal(pair_init(&p, 1003), 0);
    assert_true(pair_run(&p, client_exists, SEC));
    tern_addr a1 = addr("10.0.0.1:5001");
    assert_true(tern_conn_path_set_active(p.client, &a1, p.now) > 0);
    assert_int_equal(tern_conn_path_remove(p.client, &a1, p.now), 0);
    assert_int_equal(tern_conn_pending_active(p.client), -1);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    pair_run(&p, never, 500 * MS);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    assert_int_equal(npaths(p.client), 1);
    pair_free(&p);
}

static void test_server_forbids_migration(void **st)
{
    /* disable_active_migration: the client refuses new paths, and a packet from a new address
     * does not move the server */
    tern_pair p;
    assert_int_equal(pair_init(&p, 1004), 0);
    p.cfg_s.disable_active_migration = 1;
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 100), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC)); /* the server is confirmed too */
    tern_addr a1 = addr("10.0.0.1:5001");
    assert_int_equal(tern_conn_path_add(p.client, &a1, p.now), TERN_ERR_MIGRATION_DISABLED);
    assert_int_equal(tern_conn_path_set_active(p.client, &a1, p.now), TERN_ERR_MIGRATION_DISABLED);
    /* a new client address is not followed: RFC 9000 §9 lets the server drop such packets (or
     * validate the path); tern drops them, so the path stays and the request does not arrive */
    tern_addr before = tern_conn_active_path(p.server)->addr.remote;
    p.nat_from = p.path_c.local;
    p.nat_to = addr("10.0.0.1:6000");
    assert_int_equal(pair_request(&p, 1000), 1);
    pair_run(&p, never, 500 * MS);
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &before));
    assert_false(p.streams[1].fin);
    assert_int_equal(p.streams[1].got, 0);
    pair_free(&p);
}

/* The failover and path-gone verbs and the path listing at their edges: refusals with their
 * errors, indexes that name no path, a server's active path whose socket fails, and a closed
 * connection, none of which changes a path or reports an event. */
static void test_failover_and_gone_edges(void **st)
{
    tern_pair p;
    connect_pair(&p, 1005);
    tern_conn *c = p.client;
    tern_path_info info[4];
    size_t n = 0;
    assert_int_equal(tern_conn_paths(NULL, info, 4, &n), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_paths(c, NULL, 4, &n), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_paths(c, info, 4, NULL), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_migration_failover(p.server, TERN_PATH_WHY_FAILOVER, p.now),
                     TERN_ERR_NOT_CLIENT);
    /* no other path: nothing to move to yet; the first path that validates is taken (with the
     * failover reason when none was given) */
    assert_int_equal(tern_migration_failover(c, TERN_PATH_WHY_NONE, p.now), TERN_ERR_LAST_PATH);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    tern_addr a1 = addr("10.0.0.1:5001");
    int id = tern_conn_path_add(c, &a1, p.now);
    assert_true(id > 0);
    pair_run(&p, never, 200 * MS);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_FAILOVER);
    assert_int_equal(tern_conn_active_index(c), id);
    for (int t = 0; t < 8; t++)
        p.path_events[t] = p.srv_path_events[t] = 0;
    /* indexes that name no path in use */
    tern_conn_path_gone(c, -1, TERN_PATH_WHY_SOCKET_ERROR, p.now);
    tern_conn_path_gone(c, TERN_MAX_PATHS, TERN_PATH_WHY_SOCKET_ERROR, p.now);
    tern_conn_path_gone(c, 9, TERN_PATH_WHY_SOCKET_ERROR, p.now);
    tern_conn_path_gone(NULL, 0, TERN_PATH_WHY_SOCKET_ERROR, p.now);
    /* a server's only path whose socket fails is kept: it follows its client, never moves */
    tern_conn_path_socket_error(p.server, tern_conn_active_index(p.server), p.now);
    for (int t = 0; t < 8; t++)
        assert_int_equal(p.path_events[t] + p.srv_path_events[t], 0);
    assert_int_equal(npaths(c), 2); /* the first path stays, validated */
    assert_int_equal(pair_request(&p, 5000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    /* closed: refused, and the path stays as it was */
    assert_int_equal(tern_conn_close(c, 0, NULL), 0);
    assert_int_equal(tern_migration_failover(c, TERN_PATH_WHY_FAILOVER, p.now), TERN_ERR_CLOSED);
    tern_conn_path_gone(c, id, TERN_PATH_WHY_SOCKET_ERROR, p.now);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 0);
    assert_int_equal(tern_conn_paths(c, info, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(info[id].state, TERN_PATH_STATE_ACTIVE);
    pair_free(&p);
}

static int cond_failed(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_FAILED] > 0;
}

/* A path that finds no spare connection ID waits for one, and so does a switch to it; the switch
 * is forgotten when the path goes: its socket failed, or no CID came within the validation time.
 * The server's supply is used up by paths added and removed while its replacements cannot arrive
 * (the first retirement after a full supply gets none). The connection stays on its path. */
static void test_switch_to_path_without_cid(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1006), 0);
    p.cfg_c.max_paths = 2;
    p.cfg_c.active_connection_id_limit = 2; /* the server issues max_paths + 1 = 3 */
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 100), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    tern_conn *c = p.client;
    tern_addr a = addr("10.0.0.1:5001"), b = addr("10.0.0.1:5002"), d = addr("10.0.0.1:5003");
    assert_true(tern_conn_path_add(c, &a, p.now) > 0);
    pair_run(&p, never, 100 * MS);
    assert_int_equal(tern_conn_path_remove(c, &a, p.now), 0);
    pair_run(&p, never, 100 * MS);
    assert_true(tern_conn_path_add(c, &b, p.now) > 0);
    pair_run(&p, never, 100 * MS);
    p.s2c.blackhole = 1; /* no NEW_CONNECTION_ID from now on */
    assert_int_equal(tern_conn_path_remove(c, &b, p.now), 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 0);

    /* the first waits; set active, then its socket fails */
    int id = tern_conn_path_set_active(c, &d, p.now);
    assert_true(id > 0);
    assert_int_equal(p.last_reason[TERN_PATH_EV_PROBING], TERN_PATH_WHY_NO_CID);
    assert_int_equal(tern_conn_pending_active(c), id);
    tern_conn_path_socket_error(c, id, p.now);
    assert_int_equal(tern_conn_pending_active(c), -1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_SOCKET_ERROR);
    /* the next waits too; set active, and no CID comes */
    id = tern_conn_path_set_active(c, &d, p.now);
    assert_true(id > 0);
    assert_int_equal(tern_conn_pending_active(c), id);
    p.path_events[TERN_PATH_EV_FAILED] = 0;
    assert_true(pair_run(&p, cond_failed, 10 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_NO_CID);
    assert_int_equal(tern_conn_pending_active(c), -1);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_int_equal(tern_conn_active_index(c), 0);
    p.s2c.blackhole = 0;
    assert_int_equal(pair_request(&p, 5000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* A switch asked for before the handshake, to a server that turns out to forbid migration: the
 * path fails at confirmation and the switch is forgotten. */
static void test_pending_switch_forbidden(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1007), 0);
    p.cfg_s.disable_active_migration = 1;
    assert_true(pair_run(&p, client_exists, SEC));
    tern_addr a1 = addr("10.0.0.1:5001");
    int idx = tern_conn_path_set_active(p.client, &a1, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_conn_pending_active(p.client), idx);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    pair_run(&p, never, 500 * MS);
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_MIGRATION_DISABLED);
    assert_int_equal(tern_conn_pending_active(p.client), -1);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    assert_int_equal(npaths(p.client), 1);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_path_limit),
        cmocka_unit_test(test_path_limit_default),
        cmocka_unit_test(test_path_limit_capped),
        cmocka_unit_test(test_wildcard_bound_client),
        cmocka_unit_test(test_before_confirmation),
        cmocka_unit_test(test_remove_pending_switch),
        cmocka_unit_test(test_server_forbids_migration),
        cmocka_unit_test(test_failover_and_gone_edges),
        cmocka_unit_test(test_switch_to_path_without_cid),
        cmocka_unit_test(test_pending_switch_forbidden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
