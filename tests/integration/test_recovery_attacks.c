/* Peers that lie about or withhold acknowledgements.
 *
 * A peer that keeps a connection alive but never acknowledges anything: a client that asks for a
 * large download, then sends a little stream data every millisecond with its acknowledgements
 * suppressed. The server's sent-packet records must stay bounded (measured for every step of the
 * attack) and the server must end the connection at its unacked_ptos-th PTO in a row (the
 * client's packets, which restart the idle timer, would otherwise keep it alive for ever). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

/* The client forgets, before every send, that it has anything to acknowledge. */
static void suppress_acks(tern_pair *p, tern_conn *c, int from_server)
{
    (void)p;
    if (from_server)
        return;
    tern_ackr *a = tern_conn_ackr(c, TERN_SPACE_APP);
    a->ack_pending = 0;
    a->immediate = 0;
    a->unacked_eliciting = 0;
    if (a->has_largest)
        a->report_from = a->largest + 1;
}

static size_t server_records(const tern_pair *p)
{
    size_t n = 0;
    for (int s = 0; s < TERN_SPACE_COUNT; s++)
        n += tern_recovery_records(tern_conn_recovery(p->server), s);
    return n;
}

/* Runs the attack for at most `steps` ms (or until the server closes). Returns the records the
 * server held at most; *kth receives when the server's run of PTOs reached `k` (0: never). */
static uint64_t first_pto;

static size_t attack(tern_pair *p, int steps, uint32_t k, uint64_t *kth, uint64_t *closed_at)
{
    first_pto = 0;
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(p->client, 0, &sid), 0);
    size_t most = 0;
    *kth = *closed_at = 0;
    for (int step = 0; step < steps && !p->server_closed; step++) {
        (void)tern_stream_write(p->client, sid, "x", 1, 0);
        pair_run(p, never, 1 * MS);
        size_t held = server_records(p);
        if (held > most)
            most = held;
        if (!first_pto && tern_conn_recovery(p->server)->pto_count >= 1)
            first_pto = p->now;
        if (!*kth && k && tern_conn_recovery(p->server)->pto_count >= k)
            *kth = p->now;
        if (p->server_closed)
            *closed_at = p->now;
    }
    return most;
}

static void start_attack(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_s.idle_timeout_ms = p->cfg_c.idle_timeout_ms = 10000;
}

static void test_peer_never_acks(void **st)
{
    tern_pair p;
    start_attack(&p, 7);
    const uint32_t k = p.cfg_s.unacked_ptos;
    assert_int_equal(k, 6); /* the documented default */
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    pair_run(&p, never, 100 * MS); /* the handshake is confirmed on both sides */
    assert_true(tern_conn_handshake_confirmed(p.server));
    assert_int_equal(pair_request(&p, 50ull << 20), 0);
    p.before_send = suppress_acks;
    tern_conn_stats stats;
    tern_conn_get_stats(p.server, &stats);
    uint64_t t0 = p.now, recv0 = stats.pkts_recv, kth, closed_at;
    size_t most = attack(&p, 30000, k, &kth, &closed_at);
    tern_conn_get_stats(p.server, &stats);
    uint64_t recv = stats.pkts_recv - recv0;
    print_message("server: at most %zu records (%zu KB) during the attack, first PTO at %.3f s, "
                  "PTO %u at %.3f s, closed at %.3f s, %llu packets received from the attacker\n",
                  most, most * sizeof(tern_sent_pkt) / 1024, (double)(first_pto - t0) / 1e9, k,
                  (double)(kth - t0) / 1e9, (double)(closed_at - t0) / 1e9,
                  (unsigned long long)recv);
    /* the client kept sending: the idle timer alone would never have fired */
    assert_true(recv > 1000);
    /* the window's bound and the PTO probes' reserve beyond it */
    assert_true(most <= TERN_RECOVERY_MIN_RECORDS + TERN_RECOVERY_PROBE_RECORDS);
    assert_true(p.server_closed);
    const tern_close_info *ci = tern_conn_close_info(p.server);
    assert_int_equal(ci->status, TERN_ERR_IDLE_TIMEOUT);
    assert_string_equal(ci->reason, "peer acknowledges nothing");
    /* at the k-th PTO in a row, not one later, and well before the idle timeout */
    assert_true(kth > 0);
    assert_int_equal(closed_at, kth);
    assert_int_equal(tern_conn_recovery(p.server)->pto_count, k);
    /* k PTOs in a row from the first, backed off, each sending its probes */
    assert_true(closed_at - first_pto < 4 * SEC);
    assert_true(closed_at - t0 < 12 * SEC);
    /* silent: nothing was sent after the decision */
    assert_int_equal(tern_conn_state(p.server), TERN_CS_DONE);
    pair_free(&p);
}

/* A server with unacked_ptos = k downloading 50 MB to a client that acknowledges nothing. */
static void start_never_acking(tern_pair *p, uint64_t seed, uint32_t k)
{
    start_attack(p, seed);
    p->cfg_s.unacked_ptos = k;
    assert_true(pair_run(p, pair_cond_connected, 5 * SEC));
    pair_run(p, never, 100 * MS);
    assert_int_equal(pair_request(p, 50ull << 20), 0);
    p->before_send = suppress_acks;
}

/* unacked_ptos = 0 turns the rule off: the attacker's packets then keep the connection alive
 * past the idle timeout, while the records stay bounded all the same. */
static void test_peer_never_acks_rule_off(void **st)
{
    tern_pair p;
    start_never_acking(&p, 9, 0);
    uint64_t kth, closed_at;
    size_t most = attack(&p, 16000, 0, &kth, &closed_at);
    assert_false(p.server_closed);
    assert_true(tern_conn_recovery(p.server)->pto_count > 6);
    assert_true(most <= TERN_RECOVERY_MIN_RECORDS + TERN_RECOVERY_PROBE_RECORDS);
    pair_free(&p);
}

/* unacked_ptos = 1 counts as 2: "since the first of them" needs a PTO before the one that ends
 * the connection. It closes at the second PTO in a row, not at the first. */
static void test_peer_never_acks_one_pto(void **st)
{
    tern_pair p;
    start_never_acking(&p, 11, 1);
    uint64_t kth = 0, closed_at = 0;
    attack(&p, 30000, 2, &kth, &closed_at);
    assert_true(p.server_closed);
    assert_string_equal(tern_conn_close_info(p.server)->reason, "peer acknowledges nothing");
    assert_true(kth > 0);
    assert_int_equal(closed_at, kth);
    assert_int_equal(tern_conn_recovery(p.server)->pto_count, 2);
    pair_free(&p);
}

/* A lossy download (30% of the client's datagrams, ACKs included, lost; 5% of the server's) sees
 * PTOs, but never unacked_ptos of them in a row without progress: it completes. */
static void test_lossy_download_unaffected(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 11), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    pair_run(&p, never, 100 * MS);
    p.c2s.loss = 0.30;
    p.s2c.loss = 0.05;
    assert_int_equal(pair_request(&p, 4ull << 20), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p));
    tern_conn_stats ss;
    tern_conn_get_stats(p.server, &ss);
    print_message("server: %llu packets, %llu lost, %llu PTOs\n", (unsigned long long)ss.pkts_sent,
                  (unsigned long long)ss.pkts_lost, (unsigned long long)ss.pto_count);
    assert_true(ss.pto_count > 0);
    assert_false(p.server_closed);
    assert_false(p.client_closed);
    pair_free(&p);
}

/* The client acknowledges a packet number the server never sent (it skips one now and then): the
 * server closes with PROTOCOL_VIOLATION. Without the lie, a download sees skipped numbers and
 * completes. */
static void test_optimistic_ack(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 8), 0);
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 4ull << 20), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    assert_true(pair_verify(&p));
    const tern_sentq *q = &tern_conn_recovery(p.server)->q[TERN_SPACE_APP];
    size_t skipped = 0;
    uint64_t lie = UINT64_MAX;
    for (int k = 0; k < TERN_RECOVERY_SKIPPED; k++)
        if (q->skipped[k] != UINT64_MAX) {
            skipped++;
            lie = q->skipped[k];
        }
    tern_conn_stats ss;
    tern_conn_get_stats(p.server, &ss);
    print_message("server sent %llu packets, %zu skipped numbers remembered\n",
                  (unsigned long long)ss.pkts_sent, skipped);
    assert_true(skipped >= 2);
    assert_false(p.server_closed);
    /* the client claims the skipped packet arrived */
    tern_ackr *a = tern_conn_ackr(p.client, TERN_SPACE_APP);
    assert_int_equal(tern_ackr_on_packet(a, lie, 1, 0, p.now, 0), 0);
    assert_int_equal(pair_request(&p, 1000), 1);
    pair_run(&p, pair_cond_both_closed, 5 * SEC);
    const tern_close_info *ci = tern_conn_close_info(p.server);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->status, TERN_ERR_PROTO);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_never_acks),
        cmocka_unit_test(test_peer_never_acks_rule_off),
        cmocka_unit_test(test_peer_never_acks_one_pto),
        cmocka_unit_test(test_lossy_download_unaffected),
        cmocka_unit_test(test_optimistic_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
