/* Connection migration between a client and a server core in virtual time: probing, switching,
 * validation failures and fallbacks, removal, many migrations, NAT rebinding, an off-path attacker,
 * the preferred address (IPv4, IPv6, with migration disabled), peers that forbid migration, CID
 * shortage, a wildcard-bound client, ties between standbys, and bounded state under abuse.
 * Every transfer is checked byte for byte and by SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_test.h"
#include "frame.h"
#include "migration.h"
#include "packet.h"
#include "pair.h"
#include "varint.h"

#define SEC 1000000000ull
#define MS 1000000ull

static tern_addr addr(const char *s)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, s, 0), 0);
    return a;
}

static int cond_confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}

static void start(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_run(p, cond_confirmed, 10 * SEC));
    /* let NEW_CONNECTION_ID frames arrive */
    assert_int_equal(pair_request(p, 1000), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

static int run_for(tern_pair *p, uint64_t ns)
{
    uint64_t end = p->now + ns;
    while (p->now < end && !pair_cond_all_done(p))
        if (!pair_run(p, pair_cond_all_done, end - p->now))
            break;
    return pair_cond_all_done(p);
}

static int stream_progress_1(tern_pair *p) { return p->streams[1].got > 100000; }

static const tern_addr *active_local(tern_conn *c)
{
    return &tern_conn_active_path(c)->addr.local;
}
static const tern_addr *active_remote(tern_conn *c)
{
    return &tern_conn_active_path(c)->addr.remote;
}

/* ---- filters ------------------------------------------------------------------------------------ */

static tern_addr dead_addr;
static int drop_first_n, dropped_n;

/* drops everything to or from dead_addr (a client interface that is down) */
static int filter_dead(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    const tern_addr *client_side = to_server ? &pa->local : &pa->remote;
    return tern_addr_equal(client_side, &dead_addr);
}

/* drops the first drop_first_n client datagrams sent from dead_addr */
static int filter_first(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    if (to_server && tern_addr_equal(&pa->local, &dead_addr) && dropped_n < drop_first_n) {
        dropped_n++;
        return 1;
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------------ */

static int cond_path_validated(tern_pair *p) { return p->path_events[TERN_PATH_EV_VALIDATED] > 0; }

static void test_probe_then_switch(void **st)
{
    tern_pair p;
    start(&p, 1);
    assert_int_equal(pair_request(&p, 4 << 20), 1);
    tern_addr wifi = addr("10.0.0.3:6000");
    int id = tern_conn_path_add(p.client, &wifi, p.now);
    assert_true(id > 0);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 1);
    /* probing does not switch */
    assert_true(pair_run(&p, cond_path_validated, 5 * SEC));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    assert_false(tern_addr_equal(active_local(p.client), &wifi));
    /* the server answered the probe but did not move */
    assert_false(tern_addr_equal(active_remote(p.server), &wifi));
    assert_int_equal(tern_conn_path_set_active(p.client, &wifi, p.now), id);
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_APP);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    /* the server followed the client to its new address */
    assert_true(tern_addr_equal(active_remote(p.server), &wifi));
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 1);
    /* the new path used a new connection ID in each direction */
    const tern_cid_entry *e0 = tern_peer_cids_for_path(tern_conn_peer_cids(p.client), 0);
    const tern_cid_entry *e1 = tern_peer_cids_for_path(tern_conn_peer_cids(p.client), (uint8_t)id);
    assert_non_null(e1);
    assert_true(e0 == NULL || !tern_cid_eq(&e0->cid, &e1->cid));
    /* a validated switch loses nothing */
    assert_int_equal(tern_conn_recovery(p.server)->pkts_lost, 0);
    pair_free(&p);
}

static void test_switch_without_probe(void **st)
{
    tern_pair p;
    start(&p, 2);
    assert_int_equal(pair_request(&p, 4 << 20), 1);
    assert_true(pair_run(&p, stream_progress_1, 5 * SEC));
    tern_addr cell = addr("10.0.0.4:7000");
    int id = tern_conn_path_set_active(p.client, &cell, p.now);
    assert_true(id > 0);
    /* used at once, validated while in use */
    assert_true(tern_addr_equal(active_local(p.client), &cell));
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], 1);
    assert_true(tern_conn_path_at(p.client, id)->path_validated);
    assert_true(tern_addr_equal(active_remote(p.server), &cell));
    pair_free(&p);
}

static void test_first_challenge_lost(void **st)
{
    tern_pair p;
    start(&p, 3);
    dead_addr = addr("10.0.0.3:6000");
    drop_first_n = 1;
    dropped_n = 0;
    p.filter = filter_first;
    uint64_t t0 = p.now;
    uint64_t pto = tern_conn_pto(p.client);
    int id = tern_conn_path_add(p.client, &dead_addr, p.now);
    assert_true(id > 0);
    assert_true(pair_run(&p, cond_path_validated, 10 * SEC));
    assert_int_equal(dropped_n, 1);
    /* validated by a retransmitted challenge (new bytes) sent two PTOs of the current path later,
     * not after the new path's one-second initial PTO */
    assert_true(p.now - t0 >= 2 * pto);
    assert_true(p.now - t0 < 2 * pto + 100 * MS);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 0);
    pair_free(&p);
}

static int cond_path_failed(tern_pair *p) { return p->path_events[TERN_PATH_EV_FAILED] > 0; }

static void test_validation_timeout(void **st)
{
    tern_pair p;
    start(&p, 4);
    dead_addr = addr("10.0.0.3:6000");
    p.filter = filter_dead;
    uint64_t t0 = p.now;
    int id = tern_conn_path_add(p.client, &dead_addr, p.now);
    assert_true(id > 0);
    assert_true(pair_run(&p, cond_path_failed, 20 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_TIMEOUT);
    assert_int_equal(p.path_events[TERN_PATH_EV_REMOVED], 1);
    /* 3 x max(PTO): with an unknown RTT the new path's PTO is about one second */
    assert_true(p.now - t0 >= 2 * SEC && p.now - t0 < 5 * SEC);
    /* several challenges went out, each with new bytes */
    assert_true(tern_conn_path_at(p.client, id)->state == TERN_PATH_FAILED);
    /* the connection is unharmed */
    assert_int_equal(pair_request(&p, 100000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static int cond_back(tern_pair *p)
{
    return p->last_reason[TERN_PATH_EV_ACTIVE] == TERN_PATH_WHY_VALIDATION_FAILED;
}

static void test_unvalidated_switch_fails_back(void **st)
{
    tern_pair p;
    start(&p, 5);
    tern_addr orig = *active_local(p.client);
    assert_int_equal(pair_request(&p, 2 << 20), 1);
    dead_addr = addr("10.0.0.9:6000");
    p.filter = filter_dead;
    assert_true(tern_conn_path_set_active(p.client, &dead_addr, p.now) > 0);
    assert_true(pair_run(&p, cond_back, 20 * SEC));
    assert_true(tern_addr_equal(active_local(p.client), &orig));
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 1);
    /* data sent into the dead path was declared lost and resent on the old one */
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_remove_active_and_last(void **st)
{
    tern_pair p;
    start(&p, 6);
    tern_addr orig = *active_local(p.client);
    tern_addr b = addr("10.0.0.3:6000");
    assert_true(tern_conn_path_add(p.client, &b, p.now) > 0);
    assert_true(pair_run(&p, cond_path_validated, 5 * SEC));
    assert_int_equal(pair_request(&p, 1 << 20), 1);
    /* removing the active path moves to the other validated one first */
    assert_int_equal(tern_conn_path_remove(p.client, &orig, p.now), 0);
    assert_true(tern_addr_equal(active_local(p.client), &b));
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_ACTIVE_REMOVED);
    assert_int_equal(p.path_events[TERN_PATH_EV_REMOVED], 1);
    /* the last path cannot be removed, and nothing changes */
    assert_int_equal(tern_conn_path_remove(p.client, &b, p.now), TERN_ERR_LAST_PATH);
    assert_true(tern_addr_equal(active_local(p.client), &b));
    assert_int_equal(tern_conn_path_remove(p.client, &orig, p.now), TERN_ERR_NOT_FOUND);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_socket_error_moves_away(void **st)
{
    /* the runtime reports that the active path's interface is gone: the path fails with that
     * reason and the connection moves to the other validated path; a lone path is kept */
    tern_pair p;
    start(&p, 24);
    tern_addr orig = *active_local(p.client);
    int id0 = tern_conn_active_index(p.client);
    tern_addr b = addr("10.0.0.3:6000");
    int idb = tern_conn_path_add(p.client, &b, p.now);
    assert_true(idb > 0);
    assert_true(pair_run(&p, cond_path_validated, 5 * SEC));
    assert_int_equal(tern_conn_path_set_active(p.client, &b, p.now), idb);
    assert_int_equal(pair_request(&p, 1 << 20), 1);
    tern_conn_path_socket_error(p.client, idb, p.now);
    assert_true(tern_addr_equal(active_local(p.client), &orig));
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_FAILOVER);
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_SOCKET_ERROR);
    assert_int_equal(tern_conn_path_at(p.client, idb)->state, TERN_PATH_FAILED);
    /* with nothing to move to, a transient error does not end the only path */
    tern_conn_path_socket_error(p.client, id0, p.now);
    assert_int_equal(tern_conn_active_index(p.client), id0);
    assert_true(tern_path_in_use(tern_conn_path_at(p.client, id0)));
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_api_errors(void **st)
{
    tern_pair p;
    start(&p, 7);
    tern_addr a = *active_local(p.client);
    assert_int_equal(tern_conn_path_add(p.client, &a, p.now), TERN_ERR_DUPLICATE);
    tern_addr v6 = addr("[2001:db8::1]:5000");
    assert_int_equal(tern_conn_path_add(p.client, &v6, p.now), TERN_ERR_AF_MISMATCH);
    assert_int_equal(tern_conn_path_add(p.server, &a, p.now), TERN_ERR_NOT_CLIENT);
    /* path limit: max_paths (8) in use */
    char buf[32];
    int added = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(buf, sizeof(buf), "10.0.1.%d:6000", i + 1);
        tern_addr x = addr(buf);
        int rv = tern_conn_path_add(p.client, &x, p.now);
        if (rv == TERN_ERR_PATH_LIMIT)
            break;
        assert_true(rv > 0);
        added++;
    }
    assert_int_equal(added, 7);
    assert_int_equal(tern_conn_close(p.client, 0, NULL), 0);
    tern_addr y = addr("10.0.2.1:6000");
    assert_int_equal(tern_conn_path_add(p.client, &y, p.now), TERN_ERR_CLOSED);
    pair_free(&p);
}

static int cond_validated_8(tern_pair *p) { return p->path_events[TERN_PATH_EV_VALIDATED] >= 7; }

static void test_eight_paths_at_once(void **st)
{
    tern_pair p;
    start(&p, 8);
    char buf[32];
    for (int i = 0; i < 7; i++) {
        snprintf(buf, sizeof(buf), "10.0.3.%d:6000", i + 1);
        tern_addr x = addr(buf);
        assert_true(tern_conn_path_add(p.client, &x, p.now) > 0);
    }
    assert_true(pair_run(&p, cond_validated_8, 10 * SEC));
    size_t n = 0;
    tern_path_info info[16];
    assert_int_equal(tern_conn_paths(p.client, info, 16, &n), 0);
    assert_int_equal(n, 8);
    int validated = 0, active = 0;
    for (size_t i = 0; i < n; i++) {
        validated += info[i].validated;
        active += info[i].state == TERN_PATH_STATE_ACTIVE;
        assert_true(info[i].validated_ns > 0);
    }
    assert_int_equal(validated, 8);
    assert_int_equal(active, 1);
    pair_free(&p);
}

static void test_fifty_migrations(void **st)
{
    tern_pair p;
    start(&p, 9);
    assert_int_equal(pair_request(&p, 20 << 20), 1);
    tern_addr prev = *active_local(p.client);
    char buf[32];
    for (int i = 0; i < 50; i++) {
        snprintf(buf, sizeof(buf), "10.0.%d.%d:%d", 10 + i / 200, 1 + i % 200, 6000 + i);
        tern_addr next = addr(buf);
        int id = tern_conn_path_set_active(p.client, &next, p.now);
        if (id < 0)
            fail_msg("migration %d: %s", i, tern_strerror(id));
        if (!tern_addr_equal(active_local(p.client), &next))
            fail_msg("migration %d did not switch (waiting for a CID: %d, spare %zu)", i,
                     tern_conn_path_at(p.client, id)->waiting_cid,
                     tern_peer_cids_spare(tern_conn_peer_cids(p.client)));
        run_for(&p, 80 * MS);
        assert_int_equal(tern_conn_path_remove(p.client, &prev, p.now), 0);
        run_for(&p, 20 * MS);
        prev = next;
    }
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 50);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 0);
    assert_true(tern_addr_equal(active_remote(p.server), &prev));
    pair_free(&p);
}

static void test_nat_rebinding_port(void **st)
{
    tern_pair p;
    start(&p, 10);
    assert_int_equal(pair_request(&p, 4 << 20), 1);
    assert_true(pair_run(&p, stream_progress_1, 5 * SEC));
    uint64_t cwnd_before = tern_conn_active_path(p.server)->cc.cwnd;
    p.nat_from = *active_local(p.client);
    p.nat_to = addr("10.0.0.1:5999"); /* same address, new port */
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_addr_equal(active_remote(p.server), &p.nat_to));
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 1);
    assert_true(tern_conn_active_path(p.server)->path_validated);
    /* only the port changed: the congestion state was kept (not back to the initial window) */
    assert_true(cwnd_before > 14720 && tern_conn_active_path(p.server)->cc.cwnd > 14720);
    /* the client never noticed */
    assert_int_equal(p.path_events[TERN_PATH_EV_ACTIVE], 0);
    pair_free(&p);
}

static void test_nat_rebinding_address(void **st)
{
    tern_pair p;
    start(&p, 11);
    assert_int_equal(pair_request(&p, 2 << 20), 1);
    assert_true(pair_run(&p, stream_progress_1, 5 * SEC));
    p.nat_from = *active_local(p.client);
    p.nat_to = addr("10.9.9.9:40000");
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_addr_equal(active_remote(p.server), &p.nat_to));
    assert_true(tern_conn_active_path(p.server)->path_validated);
    pair_free(&p);
}

/* one client datagram is copied by an off-path attacker and arrives first from its own address:
 * the pair rewrites sources when it delivers, so the rewrite stays on from the next client send
 * until a client datagram was delivered (whatever else the client sent meanwhile) */
static int spoof_once;
static uint64_t spoof_delivered;
static int filter_spoof(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    if (to_server && spoof_once == 1) {
        spoof_once = 2;
        spoof_delivered = p->c2s.delivered;
        p->nat_from = pa->local;
        p->nat_to = addr("10.66.66.66:6666");
    }
    return 0;
}

static void spoof_end(tern_pair *p, tern_conn *c, int from_server)
{
    (void)c;
    (void)from_server;
    if (spoof_once == 2 && p->c2s.delivered > spoof_delivered) {
        spoof_once = 3;
        p->nat_from.len = 0; /* the genuine source again */
    }
}

static void test_off_path_attacker(void **st)
{
    tern_pair p;
    start(&p, 12);
    tern_addr real = *active_local(p.client);
    assert_int_equal(pair_request(&p, 2 << 20), 1);
    assert_true(pair_run(&p, stream_progress_1, 5 * SEC));
    spoof_once = 1;
    p.filter = filter_spoof;
    p.before_send = spoof_end;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    /* the connection survived and is back on the validated, genuine path */
    assert_true(tern_addr_equal(active_remote(p.server), &real));
    assert_true(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED] >= 1);
    pair_free(&p);
}

static int cond_path_validated_twice(tern_pair *p) { return p->path_events[TERN_PATH_EV_VALIDATED] >= 2; }

static int cond_on_preferred(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client) &&
           p->last_reason[TERN_PATH_EV_ACTIVE] == TERN_PATH_WHY_PREFERRED_ADDRESS;
}

/* The client moves to the server's preferred address `pref` once confirmed, and a download runs
 * there on both sides. */
static void moves_to_preferred(tern_pair *p, const char *pref_text)
{
    tern_addr pref = addr(pref_text);
    p->cfg_s.preferred_address = pref;
    assert_true(pair_run(p, cond_on_preferred, 10 * SEC));
    assert_true(tern_addr_equal(active_remote(p->client), &pref));
    assert_int_equal(pair_request(p, 1 << 20), 0);
    assert_true(pair_run(p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(p));
    assert_true(tern_addr_equal(&tern_conn_active_path(p->server)->addr.local, &pref));
    pair_free(p);
}

static void test_preferred_address(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 13), 0);
    moves_to_preferred(&p, "10.0.0.5:4433");
}

/* The same over IPv6: the client takes the preferred address of its own family. */
static void test_preferred_address_v6(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 16), 0);
    p.path_c.local = addr("[fd00::1]:5000");
    p.path_c.remote = addr("[fd00::2]:443");
    p.path_s.local = p.path_c.remote;
    p.path_s.remote = p.path_c.local;
    moves_to_preferred(&p, "[fd00::5]:4433");
}

/* A server that disables active migration still takes its client at its preferred address
 * (RFC 9000 §18.2): the only new address it accepts packets at. */
static void test_preferred_address_migration_disabled(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 17), 0);
    p.cfg_s.disable_active_migration = 1;
    moves_to_preferred(&p, "10.0.0.5:4433");
}

/* A client whose socket is bound to the wildcard address (its path's local address is 0.0.0.0 or
 * ::, with the port): datagrams arrive at whatever local IP the host routes them to, and count on
 * that path. */
static void wildcard_client(const char *wild, const char *real, const char *server, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.path_c.local = addr(wild);
    p.path_c.remote = addr(server);
    p.path_s.local = p.path_c.remote;
    p.path_s.remote = addr(real);
    p.nat_from = p.path_c.local; /* the server sees the host's real address */
    p.nat_to = addr(real);
    assert_true(pair_run(&p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(&p, 1 << 20), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    tern_addr w = addr(wild), r = addr(real);
    assert_true(tern_addr_equal(active_local(p.client), &w));
    assert_true(tern_addr_equal(&tern_conn_active_path(p.server)->addr.remote, &r));
    assert_true(tern_conn_active_path(p.client)->pkts_recv > 700);
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    pair_free(&p);
}

static void test_wildcard_local_address(void **st)
{
    wildcard_client("0.0.0.0:5000", "10.0.0.1:5000", "10.0.0.2:443", 18);
    wildcard_client("[::]:5000", "[fd00::1]:5000", "[fd00::2]:443", 19);
}

/* Two standbys of the same round trip: removing the active path moves to the one validated
 * last (the more recent proof that it works). */
static void test_best_path_tie(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 20), 0);
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    tern_addr orig = *active_local(p.client), a = addr("10.0.0.1:5001"), b = addr("10.0.0.1:5002");
    int ia = tern_conn_path_add(p.client, &a, p.now);
    assert_true(ia > 0);
    assert_true(pair_run(&p, cond_path_validated, 5 * SEC));
    run_for(&p, 100 * MS);
    int ib = tern_conn_path_add(p.client, &b, p.now);
    assert_true(ib > 0);
    assert_true(pair_run(&p, cond_path_validated_twice, 5 * SEC));
    run_for(&p, 100 * MS);
    const tern_path *pa = tern_conn_path_at(p.client, ia), *pb = tern_conn_path_at(p.client, ib);
    assert_int_equal(pa->rtt.smoothed, pb->rtt.smoothed);
    assert_true(pb->validated_at > pa->validated_at);
    assert_int_equal(tern_conn_path_remove(p.client, &orig, p.now), 0);
    assert_int_equal(tern_conn_active_index(p.client), ib);
    assert_int_equal(p.last_reason[TERN_PATH_EV_ACTIVE], TERN_PATH_WHY_ACTIVE_REMOVED);
    assert_int_equal(pair_request(&p, 100000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_remove_address_shared_with_preferred_path(void **st)
{
    /* the path to the preferred address leaves from the original local address: removing that
     * address removes both paths, and the connection moves to the one left */
    tern_pair p;
    assert_int_equal(pair_init(&p, 23), 0);
    p.cfg_s.preferred_address = addr("10.0.0.5:4433");
    assert_true(pair_run(&p, cond_on_preferred, 10 * SEC));
    tern_addr orig = *active_local(p.client);
    tern_addr b = addr("10.0.0.3:6000");
    assert_true(tern_conn_path_add(p.client, &b, p.now) > 0);
    assert_true(pair_run(&p, cond_path_validated_twice, 5 * SEC));
    assert_int_equal(pair_request(&p, 1 << 20), 0);
    assert_int_equal(tern_conn_path_remove(p.client, &orig, p.now), 0);
    assert_true(tern_addr_equal(active_local(p.client), &b));
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tern_conn_path_remove(p.client, &b, p.now), TERN_ERR_LAST_PATH);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_preferred_address_disabled(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 14), 0);
    p.cfg_s.preferred_address = addr("10.0.0.5:4433");
    p.cfg_c.follow_preferred_address = 0;
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    run_for(&p, 2 * SEC);
    tern_addr orig = addr("10.0.0.2:443");
    assert_true(tern_addr_equal(active_remote(p.client), &orig));
    assert_int_equal(p.path_events[TERN_PATH_EV_PROBING], 0);
    pair_free(&p);
}

static int cond_client_exists(tern_pair *p) { return p->client != NULL; }

static void test_peer_disables_migration(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 15), 0);
    p.cfg_s.disable_active_migration = 1;
    /* queued before confirmation: fails when the parameter is known */
    tern_addr early = addr("10.0.0.7:6000");
    assert_true(pair_run(&p, cond_client_exists, 10 * SEC));
    assert_false(tern_conn_peer_tparams_received(p.client));
    assert_true(tern_conn_path_add(p.client, &early, p.now) > 0);
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 1);
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_MIGRATION_DISABLED);
    tern_addr later = addr("10.0.0.8:6000");
    assert_int_equal(tern_conn_path_add(p.client, &later, p.now), TERN_ERR_MIGRATION_DISABLED);
    assert_int_equal(tern_conn_path_set_active(p.client, &later, p.now),
                     TERN_ERR_MIGRATION_DISABLED);
    pair_free(&p);
}

static int cond_server_has_tparams(tern_pair *p)
{
    return p->server && tern_conn_peer_tparams_received(p->server);
}

static void test_no_spare_cid(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 16), 0);
    /* a stingy server: it issues what the client asks for, so make it believe the client takes
     * two connection IDs, before its handshake completes (when it issues them): a single spare */
    assert_true(pair_run(&p, cond_server_has_tparams, 10 * SEC));
    tern_conn_test_peer_tparams(p.server)->active_connection_id_limit = 2;
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    tern_addr a = addr("10.0.0.3:6000"), b = addr("10.0.0.4:6000");
    assert_true(tern_conn_path_add(p.client, &a, p.now) > 0);
    int idb = tern_conn_path_add(p.client, &b, p.now);
    assert_true(idb > 0);
    assert_true(tern_conn_path_at(p.client, idb)->waiting_cid);
    assert_true(pair_run(&p, cond_path_failed, 20 * SEC));
    assert_int_equal(p.last_reason[TERN_PATH_EV_FAILED], TERN_PATH_WHY_NO_CID);
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], 1);
    pair_free(&p);
}

static void test_key_update_during_migration(void **st)
{
    tern_pair p;
    start(&p, 17);
    assert_int_equal(pair_request(&p, 4 << 20), 1);
    assert_true(pair_run(&p, stream_progress_1, 5 * SEC));
    tern_addr cell = addr("10.0.0.4:7000");
    assert_true(tern_conn_path_set_active(p.client, &cell, p.now) > 0);
    assert_int_equal(tern_conn_key_update(p.client), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_true(tern_conn_key_updates(p.server) >= 1);
    assert_true(tern_addr_equal(active_remote(p.server), &cell));
    pair_free(&p);
}

static void test_migration_during_loss(void **st)
{
    tern_pair p;
    start(&p, 18);
    assert_int_equal(pair_request(&p, 3 << 20), 1);
    assert_true(pair_run(&p, stream_progress_1, 5 * SEC));
    p.c2s.loss = p.s2c.loss = 0.3;
    tern_addr cell = addr("10.0.0.4:7000");
    assert_true(tern_conn_path_set_active(p.client, &cell, p.now) > 0);
    run_for(&p, 500 * MS);
    p.c2s.loss = p.s2c.loss = 0.0;
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* ---- bounded state under abuse -------------------------------------------------------------------- */

static int inject_1rtt(tern_pair *p, const tern_path_addr *from_client, const uint8_t *payload,
                       size_t len)
{
    tern_conn *c = p->client;
    uint8_t pkt[1500];
    uint64_t pn = tern_conn_test_take_pn(c, TERN_SPACE_APP);
    tern_recovery_on_unrecorded(tern_conn_recovery(c), TERN_SPACE_APP,
                                pn); /* the server may acknowledge it */
    const tern_cid_entry *e =
        tern_peer_cids_for_path(tern_conn_peer_cids(c), (uint8_t)tern_conn_active_index(c));
    size_t hl = tern_pkt_write_short(pkt, sizeof(pkt), &e->cid, pn, 4, tern_conn_tx_phase(c), 0);
    memcpy(pkt + hl, payload, len);
    assert_int_equal(tern_crypto_protect(tern_conn_tx_keys(c, TERN_LEVEL_1RTT), tern_conn_tx_hp(c),
                                         pkt, hl, 4, len, pn),
                     0);
    tern_path_addr in = {from_client->remote, from_client->local};
    return tern_conn_recv(p->server, &in, pkt, hl + len + 16, 0, p->now);
}

static void test_challenge_flood(void **st)
{
    tern_pair p;
    start(&p, 19);
    uint8_t payload[1100];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        payload[n++] = TERN_FT_PATH_CHALLENGE;
        memset(payload + n, i, 8);
        n += 8;
    }
    tern_path_addr from = tern_conn_active_path(p.client)->addr;
    for (int k = 0; k < 50; k++)
        inject_1rtt(&p, &from, payload, n);
    /* 5000 challenges: only the latest few responses are owed, nothing else grew */
    tern_path *sp = tern_conn_active_path(p.server);
    assert_true(sp->nresponse <= TERN_PATH_RESPONSES);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    assert_int_equal(pair_request(&p, 100000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

static void test_unknown_path_response(void **st)
{
    tern_pair p;
    start(&p, 20);
    uint8_t payload[9] = {TERN_FT_PATH_RESPONSE, 1, 2, 3, 4, 5, 6, 7, 8};
    tern_path_addr from = tern_conn_active_path(p.client)->addr;
    for (int k = 0; k < 100; k++)
        inject_1rtt(&p, &from, payload, sizeof(payload));
    assert_int_equal(tern_conn_state(p.server), TERN_CS_ESTABLISHED);
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_VALIDATED], 0);
    pair_free(&p);
}

/* ---- connection IDs within the peer's limit, whatever is lost ----------------------------------
 */

static int cid_violations, cid_hops;
static tern_addr cid_hop_addr[4];

/* RFC 9000 §5.1.1: the CIDs each side issued and the peer has not retired (in flight or not) never
 * exceed the peer's active_connection_id_limit; neither side stores more than its own. Checked at
 * every step of the run, while the client migrates at 0.5, 1, 1.5 and 2 MB. */
static int cond_cids_within_limits(tern_pair *p)
{
    tern_conn *cs[2] = {p->client, p->server};
    for (int k = 0; k < 2; k++) {
        tern_conn *c = cs[k];
        if (!c || !tern_conn_peer_tparams_received(c))
            continue;
        /* a NEW_CONNECTION_ID for a CID the receiver had retired is what makes a peer that does
         * not remember retired sequence numbers count one CID too many */
        if (tern_local_cids_count(tern_conn_local_cids(c)) >
                tern_conn_peer_tparams(c)->active_connection_id_limit ||
            tern_conn_peer_cids(c)->n > tern_conn_peer_cids(c)->limit ||
            tern_conn_peer_cids(c)->stale_announcements)
            cid_violations++;
    }
    if (p->nstreams > 1 && cid_hops < 4 &&
        p->streams[1].got > (uint64_t)(cid_hops + 1) * 512 * 1024) {
        tern_addr prev = *active_local(p->client);
        assert_true(tern_conn_path_set_active(p->client, &cid_hop_addr[cid_hops], p->now) >= 0);
        assert_int_equal(tern_conn_path_remove(p->client, &prev, p->now), 0);
        cid_hops++;
    }
    return pair_cond_all_done(p);
}

static void test_cid_limit_under_loss(void **st)
{
    for (uint64_t seed = 40; seed < 46; seed++) {
        tern_pair p;
        assert_int_equal(pair_init(&p, seed), 0);
        p.cfg_s.active_connection_id_limit = 3; /* the tightest a real peer may ask for */
        p.cfg_c.active_connection_id_limit = 3;
        p.cfg_c.max_paths = 2;
        assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
        p.c2s.loss = p.s2c.loss = 0.05;
        p.c2s.reorder = p.s2c.reorder = 0.05;
        p.c2s.reorder_ns = p.s2c.reorder_ns = 5 * MS;
        char buf[32];
        for (int k = 0; k < 4; k++) {
            snprintf(buf, sizeof(buf), "10.0.9.%d:700%d", k + 3, k);
            cid_hop_addr[k] = addr(buf);
        }
        cid_violations = cid_hops = 0;
        assert_int_equal(pair_request(&p, 1000), 0);
        assert_int_equal(pair_request(&p, 3 << 20), 1);
        assert_true(pair_run(&p, cond_cids_within_limits, 60 * SEC));
        assert_true(pair_verify(&p));
        assert_int_equal(cid_hops, 4);
        assert_int_equal(cid_violations, 0);
        assert_false(p.client_closed || p.server_closed);
        pair_free(&p);
    }
}

static int cond_fifteen_settled(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_VALIDATED] + p->path_events[TERN_PATH_EV_FAILED] >= 15;
}

/* A client that may use 16 paths adds 15 local addresses against a server with the default
 * configuration: the server issues connection IDs up to the client's active_connection_id_limit
 * (16), not up to a path count of its own, so every path gets one and validates. */
static void test_sixteen_paths_default_server(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 47), 0);
    p.cfg_c.max_paths = 16;
    assert_true(pair_run(&p, cond_confirmed, 10 * SEC));
    assert_int_equal(pair_request(&p, 1000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_int_equal(tern_conn_local_tparams(p.client)->active_connection_id_limit, 16);
    assert_int_equal(tern_local_cids_count(tern_conn_local_cids(p.server)), 16);
    char buf[32];
    for (int k = 0; k < 15; k++) {
        snprintf(buf, sizeof(buf), "10.0.5.%d:7000", k + 2);
        tern_addr a = addr(buf);
        assert_true(tern_conn_path_add(p.client, &a, p.now) >= 0);
    }
    assert_true(pair_run(&p, cond_fifteen_settled, 20 * SEC));
    assert_int_equal(p.path_events[TERN_PATH_EV_VALIDATED], 15);
    assert_int_equal(p.path_events[TERN_PATH_EV_FAILED], 0);
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.client, NULL, 0, &n), 0);
    assert_int_equal(n, 16);
    pair_free(&p);
}

static int spoofed_dgrams;

static int cond_never(tern_pair *p)
{
    (void)p;
    return 0;
}

/* Counts (and drops) what the server sends to the spoofed sources of the test below (10.100/16). */
static int filter_spoofed(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    (void)p;
    const uint8_t *ip = (const uint8_t *)&pa->remote.u.in.sin_addr;
    if (!to_server && pa->remote.u.sa.sa_family == AF_INET && ip[0] == 10 && ip[1] == 100) {
        spoofed_dgrams++;
        return 1;
    }
    return 0;
}

/* 200 authenticated probing packets (PATH_CHALLENGE, as an on-path attacker could copy them) from
 * 200 spoofed sources. What the attack costs is measured: the paths the server holds stay within
 * the bound for such paths at every step, no connection ID is spent on either side, the active
 * path keeps its CID, responses owed per path stay bounded, each spoofed source gets at most one
 * datagram and no more bytes than three times what it sent, and a download afterwards runs. */
static void test_spoofed_addresses_bounded(void **st)
{
    tern_pair p;
    start(&p, 21);
    uint8_t payload[9] = {TERN_FT_PATH_CHALLENGE, 9, 9, 9, 9, 9, 9, 9, 9};
    uint64_t client_cids = tern_conn_local_cids(p.client)->next_seq,
             server_cids = tern_conn_local_cids(p.server)->next_seq;
    spoofed_dgrams = 0;
    p.filter = filter_spoofed;
    char buf[32];
    size_t most = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(buf, sizeof(buf), "10.100.%d.%d:1000", i / 100, i % 100 + 1);
        tern_path_addr from = tern_conn_active_path(p.client)->addr;
        from.local = addr(buf);
        assert_int_equal(inject_1rtt(&p, &from, payload, sizeof(payload)), 0);
        pair_run(&p, cond_never, 1 * MS); /* let the server answer */
        size_t n = tern_mig_paths_in_use(p.server);
        most = n > most ? n : most;
        assert_true(n <= 1 + TERN_MIG_MAX_PEER_PROBING);
        assert_non_null(tern_peer_cids_for_path(tern_conn_peer_cids(p.server),
                                                (uint8_t)tern_conn_active_index(p.server)));
        for (int k = 0; k < TERN_MAX_PATHS; k++) {
            const tern_path *sp = tern_conn_path_at(p.server, k);
            if (!tern_path_in_use(sp))
                continue;
            assert_true(sp->nresponse <= TERN_PATH_RESPONSES);
            assert_true(sp->validated || sp->bytes_sent <= 3 * sp->bytes_recv);
        }
    }
    assert_int_equal(most, 1 + TERN_MIG_MAX_PEER_PROBING);
    /* the copies carried the DCID of the active path: no connection ID was given or retired */
    assert_int_equal(tern_conn_local_cids(p.client)->next_seq, client_cids);
    assert_int_equal(tern_conn_local_cids(p.server)->next_seq, server_cids);
    assert_int_equal(tern_conn_peer_cids(p.server)->retire_n, 0);
    assert_true(spoofed_dgrams <= 200);
    /* probing packets never moved the server, and the connection works */
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 0);
    uint64_t t0 = p.now;
    assert_int_equal(pair_request(&p, 2 << 20), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    assert_true(pair_verify(&p));
    assert_true(p.now - t0 < 3 * SEC);
    pair_free(&p);
}

static void test_replayed_datagram_costs_nothing(void **st)
{
    /* an attacker replays one genuine datagram from many spoofed sources: it is a duplicate, so no
     * path is created and no connection ID is spent */
    tern_pair p;
    start(&p, 22);
    tern_conn *c = p.client;
    uint8_t pkt[64], copy[64];
    uint64_t pn = tern_conn_test_take_pn(c, TERN_SPACE_APP);
    const tern_cid_entry *e =
        tern_peer_cids_for_path(tern_conn_peer_cids(c), (uint8_t)tern_conn_active_index(c));
    size_t hl = tern_pkt_write_short(pkt, sizeof(pkt), &e->cid, pn, 4, tern_conn_tx_phase(c), 0);
    memset(pkt + hl, TERN_FT_PING, 4);
    assert_int_equal(tern_crypto_protect(tern_conn_tx_keys(c, TERN_LEVEL_1RTT), tern_conn_tx_hp(c),
                                         pkt, hl, 4, 4, pn),
                     0);
    size_t len = hl + 4 + 16;
    tern_path_addr genuine = {tern_conn_active_path(p.client)->addr.remote,
                              tern_conn_active_path(p.client)->addr.local};
    memcpy(copy, pkt, len);
    tern_conn_recv(p.server, &genuine, copy, len, 0, p.now);
    size_t retire_before = tern_conn_peer_cids(p.client)->retire_n;
    char buf[32];
    for (int i = 0; i < 50; i++) {
        snprintf(buf, sizeof(buf), "10.77.0.%d:%d", i + 1, 2000 + i);
        tern_path_addr spoofed = genuine;
        spoofed.remote = addr(buf);
        memcpy(copy, pkt, len);
        tern_conn_recv(p.server, &spoofed, copy, len, 0, p.now);
    }
    size_t n = 0;
    assert_int_equal(tern_conn_paths(p.server, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tern_conn_peer_cids(p.server)->retire_n, 0);
    assert_int_equal(tern_conn_peer_cids(p.client)->retire_n, retire_before);
    assert_int_equal(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED], 0);
    pair_free(&p);
}

static int cond_always(tern_pair *p)
{
    return 1;
}

/* The client's NAT rebinds right after its first Initial, and the server cannot reach it (every
 * answer is lost): the client's retransmitted Initials, genuine and authenticated, now arrive from
 * another address. A client must not migrate before the handshake is confirmed (RFC 9000 §9), and
 * bytes from that address must not buy the first address more than 3x what it sent (§8.1): the
 * server drops them, opens no path, and stays within three times the first datagram. */
static void test_handshake_from_other_address_buys_no_budget(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 23), 0);
    assert_true(pair_run(&p, cond_always, 0)); /* creates the client */
    uint8_t d[1500];
    tern_path_addr out;
    size_t seg = 0, count = 0;
    assert_int_equal(tern_conn_send(p.client, &out, d, sizeof(d), 1, &seg, &count, p.now), 0);
    assert_int_equal(count, 1);
    assert_true(seg >= 1200);
    assert_int_equal(pair_accept(&p, d, seg), 0);
    tern_path_addr in = {out.remote, out.local};
    assert_int_equal(tern_conn_recv(p.server, &in, d, seg, 0, p.now), 0);
    p.server_bytes_recv += seg;
    p.nat_from = out.local;
    p.nat_to = addr("10.0.9.9:7000");
    p.s2c.blackhole = 1;
    assert_false(pair_run(&p, pair_cond_connected, 10 * SEC));
    tern_conn *s = p.server;
    fprintf(stderr,
            "first datagram %zu bytes, %llu more from the rebound address; server sent "
            "%llu (3x: %zu)\n",
            seg, (unsigned long long)(p.server_bytes_recv - seg),
            (unsigned long long)p.server_bytes_sent, 3 * seg);
    assert_true(p.server_bytes_recv - seg >= 2 * 1200); /* the client did retransmit from there */
    assert_int_equal(tern_conn_active_path(s)->bytes_recv, seg);
    assert_true(p.server_bytes_sent <= 3 * seg);
    assert_true(p.server_bytes_sent >= 3 * seg - 1500); /* it did use the budget it had */
    assert_true(tern_addr_equal(&tern_conn_active_path(s)->addr.remote, &out.local));
    size_t n = 0;
    assert_int_equal(tern_conn_paths(s, NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_then_switch),
        cmocka_unit_test(test_switch_without_probe),
        cmocka_unit_test(test_first_challenge_lost),
        cmocka_unit_test(test_validation_timeout),
        cmocka_unit_test(test_unvalidated_switch_fails_back),
        cmocka_unit_test(test_remove_active_and_last),
        cmocka_unit_test(test_socket_error_moves_away),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_eight_paths_at_once),
        cmocka_unit_test(test_fifty_migrations),
        cmocka_unit_test(test_nat_rebinding_port),
        cmocka_unit_test(test_nat_rebinding_address),
        cmocka_unit_test(test_off_path_attacker),
        cmocka_unit_test(test_preferred_address),
        cmocka_unit_test(test_preferred_address_v6),
        cmocka_unit_test(test_preferred_address_migration_disabled),
        cmocka_unit_test(test_wildcard_local_address),
        cmocka_unit_test(test_best_path_tie),
        cmocka_unit_test(test_remove_address_shared_with_preferred_path),
        cmocka_unit_test(test_preferred_address_disabled),
        cmocka_unit_test(test_peer_disables_migration),
        cmocka_unit_test(test_no_spare_cid),
        cmocka_unit_test(test_key_update_during_migration),
        cmocka_unit_test(test_migration_during_loss),
        cmocka_unit_test(test_challenge_flood),
        cmocka_unit_test(test_unknown_path_response),
        cmocka_unit_test(test_spoofed_addresses_bounded),
        cmocka_unit_test(test_cid_limit_under_loss),
        cmocka_unit_test(test_sixteen_paths_default_server),
        cmocka_unit_test(test_replayed_datagram_costs_nothing),
        cmocka_unit_test(test_handshake_from_other_address_buys_no_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
