/* Multipath and the two protections that live in packet-number spaces: ECN (RFC 9000 §13.4) and
 * skipped packet numbers against optimistic acknowledgements (RFC 9000 §21.4), on every path ID.
 * A client with a second interface opens path ID 1, the server sends a download over both, and
 * the links between them mark CE or clear the codepoint on one path only: each path ID's marks
 * are counted in its own space, reported in its PATH_ACK (0x3f) frames and judged per path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "conn_internal.h"
#include "mpframe.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static void links(pair_link *l, uint64_t delay)
{
    l->rate_bps = 20000000;
    l->delay_ns = delay;
    l->queue_limit = 64;
}

static int both_validated(tern_pair *p)
{
    int s1 = tern_mps_slot_of(p->server, 1);
    return p->path_events[TERN_PATH_EV_VALIDATED] > 0 && s1 >= 0 &&
           tern_conn_path_slot(p->server, s1)->path_validated;
}

/* A connected multipath pair with ECN marks carried end to end, whose client has opened path
 * ID 1 on its second interface (10.0.0.9, links of their own) and seen it validated. The
 * caller sets what the links do to the marks before calling. */
static void start(tern_pair *p, uint64_t seed, void (*links_set)(tern_pair *p))
{
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_c.multipath = p->cfg_s.multipath = 1;
    p->ecn = 1;
    links(&p->c2s, 10 * MS);
    links(&p->s2c, 10 * MS);
    links(&p->c2s_alt, 15 * MS);
    links(&p->s2c_alt, 15 * MS);
    if (links_set)
        links_set(p);
    p->alt_addr = addr("10.0.0.9:5000");
    assert_true(pair_connect(p));
    assert_true(p->client->mp.enabled && p->server->mp.enabled);
    tern_addr alt = p->alt_addr;
    int idx = tern_conn_path_add(p->client, &alt, p->now);
    assert_true(idx > 0);
    assert_int_equal(tern_conn_path_slot(p->client, idx)->mp_id, 1);
    assert_true(pair_run(p, both_validated, 5 * SEC));
}

/* The server's path carrying path ID `id`. */
static tern_path *srv_path(tern_pair *p, uint64_t id)
{
    int s = tern_mps_slot_of(p->server, id);
    assert_true(s >= 0);
    return tern_conn_path_slot(p->server, s);
}

/* `c`'s packet-number space of path ID `id`. */
static tern_pn_space_state *space(tern_conn *c, uint64_t id)
{
    int s = tern_mps_space_of(c, id);
    assert_true(s >= 0);
    return tern_conn_sp(c, s);
}

static void download(tern_pair *p, uint64_t bytes)
{
    assert_int_equal(pair_request(p, bytes), 1);
    assert_true(pair_run(p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(p));
}

static void print_path(const char *what, const tern_path *x)
{
    fprintf(stderr, "%s: ECN %s%s%s, %llu sent ECT(0), %llu CE reported, %llu reductions, "
            "cwnd %llu, %llu lost\n", what, tern_ecn_state_str(x->ecn.state),
            x->ecn.failure ? " " : "", x->ecn.failure ? tern_ecn_failure_str(x->ecn.failure) : "",
            (unsigned long long)x->ecn.sent, (unsigned long long)x->ecn.ce,
            (unsigned long long)x->ecn.ce_reductions, (unsigned long long)x->cc.cwnd,
            (unsigned long long)x->pkts_lost);
}

/* Links that carry the marks unchanged: both paths validate ECN, each from the counts of its
 * own path ID's acknowledgements, and mark everything they send. */
static void test_ecn_validated_on_both_paths(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 5100, NULL);
    download(&p, 2 << 20);
    const tern_path *p0 = srv_path(&p, 0), *p1 = srv_path(&p, 1);
    print_path("path ID 0", p0);
    print_path("path ID 1", p1);
    assert_int_equal(p0->ecn.state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(p1->ecn.state, TERN_ECN_STATE_CAPABLE);
    assert_true(p0->ecn.sent > 200);
    assert_true(p1->ecn.sent > 200);
    /* the client counted path ID 1's ECT(0) datagrams in path ID 1's space (the counts its
     * PATH_ACKs carry) and path ID 0's in path ID 0's */
    int c1 = tern_mps_slot_of(p.client, 1), c0 = tern_mps_slot_of(p.client, 0);
    const tern_pn_space_state *r1 = space(p.client, 1), *r0 = space(p.client, 0);
    assert_int_equal(r1->ackr.ecn[0], tern_conn_path_slot(p.client, c1)->ecn.recv[0]);
    assert_true(r1->ackr.ecn[0] > 200);
    assert_true(r0->ackr.ecn[0] > 200);
    assert_true(r0->ackr.ecn[0] <= tern_conn_path_slot(p.client, c0)->ecn.recv[0]);
    assert_int_equal(r1->ackr.ecn[1] + r1->ackr.ecn[2], 0);
    /* ... and the server got them back in PATH_ACK 0x3f frames of path ID 1, apart from path ID
     * 0's ACK_ECN counts */
    const tern_pn_space_state *s1 = space(p.server, 1), *s0 = space(p.server, 0);
    assert_true(s1->ecn_seen.ect0 > 200 && s1->ecn_seen.ect0 <= r1->ackr.ecn[0]);
    assert_true(s0->ecn_seen.ect0 > 200 && s0->ecn_seen.ect0 <= r0->ackr.ecn[0]);
    assert_true(s1->ecn_seen.ect0 <= p1->ecn.sent);
    /* tern_conn_paths reports it per path */
    tern_path_info pi[4];
    size_t np = 0;
    assert_int_equal(tern_conn_paths(p.server, pi, 4, &np), 0);
    int seen = 0;
    for (size_t i = 0; i < np; i++) {
        if (pi[i].mp_path_id < 0)
            continue;
        assert_int_equal(pi[i].ecn_state, TERN_ECN_STATE_CAPABLE);
        assert_int_equal(pi[i].ecn_sent, srv_path(&p, (uint64_t)pi[i].mp_path_id)->ecn.sent);
        seen |= 1 << pi[i].mp_path_id;
    }
    assert_int_equal(seen, 3);
    pair_free(&p);
}

/* An AQM on path ID 1's way to the client marks CE once 8 datagrams are queued (about 4 ms at
 * 20 Mbit/s); path ID 0's link only drops at 64. */
static void ce_on_alt(tern_pair *p) { p->s2c_alt.ce_queue = 8; }

/* The CE marks on path ID 1 reduce path ID 1's window, as congestion, and nothing else: path ID
 * 0's controller hears none of them. */
static void test_ce_on_one_path_reduces_that_window(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 5200, ce_on_alt);
    download(&p, 4 << 20);
    const tern_path *p0 = srv_path(&p, 0), *p1 = srv_path(&p, 1);
    print_path("path ID 0", p0);
    print_path("path ID 1", p1);
    fprintf(stderr, "CE marked on path ID 1's link: %llu; dropped there %llu, on path ID 0's "
            "%llu\n", (unsigned long long)p.s2c_alt.ce_marked,
            (unsigned long long)p.s2c_alt.dropped, (unsigned long long)p.s2c.dropped);
    assert_true(p.s2c_alt.ce_marked > 10);
    assert_int_equal(p.s2c.ce_marked, 0);
    /* the client counted the marks in path ID 1's space, and path ID 1's PATH_ACKs said so */
    assert_int_equal(space(p.client, 1)->ackr.ecn[2], p.s2c_alt.ce_marked);
    assert_int_equal(space(p.client, 0)->ackr.ecn[2], 0);
    assert_int_equal(space(p.server, 0)->ecn_seen.ce, 0);
    assert_true(space(p.server, 1)->ecn_seen.ce > 10);
    /* path ID 1 answered them: capable, its window reduced by CE */
    assert_int_equal(p1->ecn.state, TERN_ECN_STATE_CAPABLE);
    assert_true(p1->ecn.ce > 10);
    assert_true(p1->ecn.ce_reductions > 0);
    /* path ID 0: capable, no CE, no reduction from CE */
    assert_int_equal(p0->ecn.state, TERN_ECN_STATE_CAPABLE);
    assert_int_equal(p0->ecn.ce, 0);
    assert_int_equal(p0->ecn.ce_reductions, 0);
    /* the connection's totals are path ID 1's */
    assert_int_equal(p.server->ecn.ce, p1->ecn.ce);
    assert_int_equal(p.server->ecn.ce_reductions, p1->ecn.ce_reductions);
    /* CE kept path ID 1's queue short: the same 64-datagram drop-tail queue overflowed at most a
     * tenth as often as path ID 0's, which sees no marks (an ACK's worth of packets released at
     * once can still overrun it now and then: 1 drop against 53 measured) */
    assert_true(p.s2c.dropped >= 10);
    assert_true(p.s2c_alt.dropped * 10 <= p.s2c.dropped);
    pair_free(&p);
}

/* Path ID 1's way to the client clears the codepoint. */
static void bleach_alt(tern_pair *p) { p->s2c_alt.ecn_bleach = 1; }

/* A path that bleaches fails ECN validation on that path only: path ID 1 gives the marks up
 * after its test, path ID 0 stays capable and marks everything. */
static void test_bleaching_fails_that_path_only(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 5300, bleach_alt);
    download(&p, 2 << 20);
    const tern_path *p0 = srv_path(&p, 0), *p1 = srv_path(&p, 1);
    print_path("path ID 0", p0);
    print_path("path ID 1", p1);
    /* nothing marked arrived on path ID 1: its PATH_ACKs had no counts (0x3e), and the server
     * saw none for its space */
    const tern_pn_space_state *r1 = space(p.client, 1);
    assert_int_equal(r1->ackr.ecn[0] + r1->ackr.ecn[1] + r1->ackr.ecn[2], 0);
    const tern_pn_space_state *s1 = space(p.server, 1);
    assert_int_equal(s1->ecn_seen.ect0 + s1->ecn_seen.ect1 + s1->ecn_seen.ce, 0);
    assert_int_equal(p1->ecn.state, TERN_ECN_STATE_FAILED);
    assert_int_equal(p1->ecn.failure, TERN_ECN_FAIL_NO_COUNTS);
    /* the first PATH_ACK without counts that acknowledged a marked packet failed it (RFC 9000
     * §13.4.2.1): it marked at most its test's packets, then nothing of the download */
    assert_true(p1->ecn.sent >= 1);
    assert_true(p1->ecn.sent <= TERN_ECN_TESTING_PACKETS);
    assert_true(p1->pkts_sent > 500);
    /* path ID 0 validated and kept marking */
    assert_int_equal(p0->ecn.state, TERN_ECN_STATE_CAPABLE);
    assert_true(p0->ecn.sent > 200);
    assert_true(space(p.server, 0)->ecn_seen.ect0 > 200);
    pair_free(&p);
}

static int path1_sent_past_skip(tern_pair *p)
{
    const tern_sentq *q = tern_recovery_q(&p->server->rec, tern_mps_space_of(p->server, 1));
    return q && q->next_pn > 2 * TERN_PN_SKIP_MIN + 16;
}

/* An optimistic acknowledgement on path ID 1: a PATH_ACK claiming every packet number of path
 * ID 1 the server used, skipped ones included, closes the connection with PROTOCOL_VIOLATION.
 * Path ID 1's space skips a packet number every TERN_PN_SKIP_MIN to 2 * TERN_PN_SKIP_MIN - 1
 * packets like path ID 0's, so past 2 * TERN_PN_SKIP_MIN packets at least one was skipped. */
static void test_path_ack_of_skipped_pn(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 5400, NULL);
    assert_int_equal(pair_request(&p, 8 << 20), 1);
    assert_true(pair_run(&p, path1_sent_past_skip, 30 * SEC));
    const tern_sentq *q = tern_recovery_q(&p.server->rec, tern_mps_space_of(p.server, 1));
    uint64_t largest = q->next_pn - 1;
    /* the skipped one is remembered in path ID 1's space */
    int remembered = 0;
    for (int k = 0; k < TERN_RECOVERY_SKIPPED; k++)
        remembered += q->skipped[k] >= TERN_PN_SKIP_MIN && q->skipped[k] < q->next_pn;
    assert_true(remembered > 0);
    /* the honest client acknowledged none of them so far */
    assert_true(tern_conn_state(p.server) < TERN_CS_CLOSING);
    uint8_t f[64];
    tern_pn_range r = {0, largest};
    size_t n = tern_mpframe_write_path_ack(f, sizeof(f), 1, &r, 1, 0, NULL);
    assert_true(n > 0);
    pair_inject_1rtt(&p, 1, f, n);
    assert_true(tern_conn_state(p.server) >= TERN_CS_CLOSING);
    const tern_close_info *ci = tern_conn_close_info(p.server);
    assert_int_equal(ci->error_code, TERN_TE_PROTOCOL_VIOLATION);
    assert_int_equal(ci->frame_type, TERN_FT_PATH_ACK);
    assert_int_equal(ci->local, 1);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecn_validated_on_both_paths),
        cmocka_unit_test(test_ce_on_one_path_reduces_that_window),
        cmocka_unit_test(test_bleaching_fails_that_path_only),
        cmocka_unit_test(test_path_ack_of_skipped_pn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
