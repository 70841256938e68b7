/* Multipath data path (mpspace.c, mpsched.c): with the extension negotiated, a client's second
 * local address opens path ID 1, and both paths carry the download at once. Every datagram is
 * opened on the way (with the sender's keys and the nonce of its path ID) and its frames counted,
 * so that what is asserted is what went over the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "conn_internal.h"
#include "mpframe.h"
#include "mpsched.h"
#include "pair.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define IDS (TERN_MPS_IDS + 1)

typedef struct wire {
    /* per direction (0: to the client, 1: to the server), per path ID */
    uint64_t pkts[2][IDS], stream_bytes[2][IDS], path_acks[2][IDS], abandons[2][IDS];
    uint64_t pings[2][IDS];
    uint64_t first_pn[2][IDS], last_pn[2][IDS];
    /* from `own_from` on: ACK / PATH_ACK frames of a path ID carried in packets of that same path
     * ID, and the time of the first (0: none) */
    uint64_t own_from, own_acks[2][IDS], own_first[2][IDS], own_last[2][IDS], own_gap[2][IDS];
    int pn_order_broken, unopened, rfc9001_nonce_opened;
} wire;

static wire W;

/* Opens a 1-RTT packet `from` just protected: path ID from its DCID (the receiver's CID), pn
 * against the sender's next one in that space. */
static void tap(tern_pair *p, int to_server, const tern_path_addr *pa, const uint8_t *d,
                size_t len)
{
    (void)pa;
    tern_conn *from = to_server ? p->client : p->server;
    tern_conn *to = to_server ? p->server : p->client;
    if (!from || !to || (d[0] & 0x80) || !from->mpd)
        return;
    tern_pkt_hdr h;
    if (tern_pkt_parse(d, len, 8, &h) || h.type != TERN_PKT_1RTT)
        return;
    uint64_t id = tern_mps_path_of_dcid(to, &h.dcid);
    int space = tern_mps_space_of(from, id);
    tern_pn_space_state *sp = space >= 0 ? tern_conn_sp(from, space) : NULL;
    if (!sp || !sp->next_pn)
        return;
    uint8_t pkt[1500], copy[1500];
    memcpy(pkt, d, h.pkt_len);
    size_t pn_len;
    uint64_t tpn;
    if (tern_crypto_unprotect_header(&from->keys.hp_tx1, pkt, h.pkt_len, h.pn_offset, &pn_len,
                                     &tpn)) {
        W.unopened++;
        return;
    }
    uint64_t pn = tern_pkt_decode_pn(sp->next_pn - 1, tpn, pn_len * 8);
    size_t hl = h.pn_offset + pn_len;
    memcpy(copy, pkt, h.pkt_len);
    int n = tern_crypto_decrypt_path(&from->keys.tx1, pkt, hl, h.pkt_len, (uint32_t)id, pn);
    if (n < 0) {
        W.unopened++;
        return;
    }
    /* the nonce carries the path ID: RFC 9001's nonce does not open a packet of path ID 1 */
    if (id && tern_crypto_decrypt(&from->keys.tx1, copy, hl, h.pkt_len, pn) >= 0)
        W.rfc9001_nonce_opened++;
    int dir = to_server;
    if (id >= IDS)
        return; /* recycled path IDs (above the first 7) are not counted */
    if (!W.pkts[dir][id])
        W.first_pn[dir][id] = pn;
    else if (pn <= W.last_pn[dir][id])
        W.pn_order_broken++;
    W.last_pn[dir][id] = pn;
    W.pkts[dir][id]++;
    const uint8_t *q = pkt + hl, *end = pkt + hl + n;
    while (q < end) {
        tern_mp_frame mf;
        tern_frame f;
        uint64_t terr;
        int rv = tern_mpframe_parse(&q, end, &mf, &terr);
        if (rv == 0) {
            if ((mf.type == TERN_FT_PATH_ACK || mf.type == TERN_FT_PATH_ACK_ECN) && mf.path_id < IDS)
                W.path_acks[dir][mf.path_id]++;
            if ((mf.type == TERN_FT_PATH_ACK || mf.type == TERN_FT_PATH_ACK_ECN) &&
                mf.path_id == id && W.own_from && p->now >= W.own_from) {
                uint64_t since = W.own_acks[dir][id]++ ? W.own_last[dir][id] : W.own_from;
                if (!W.own_first[dir][id])
                    W.own_first[dir][id] = p->now;
                W.own_gap[dir][id] = TERN_MAX(W.own_gap[dir][id], p->now - since);
                W.own_last[dir][id] = p->now;
            }
            if (mf.type == TERN_FT_PATH_ABANDON && mf.path_id < IDS)
                W.abandons[dir][mf.path_id]++;
            continue;
        }
        assert_int_equal(rv, 1);
        assert_int_equal(tern_frame_parse(&q, end, &f, &terr), 0);
        if (f.type >= TERN_FT_STREAM && f.type <= 0x0f)
            W.stream_bytes[dir][id] += f.u.stream.len;
        if (f.type == TERN_FT_PING)
            W.pings[dir][id]++;
    }
}

static tern_addr addr(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static void links(pair_link *l, uint64_t rate, uint64_t delay)
{
    l->rate_bps = rate;
    l->delay_ns = delay;
    l->queue_limit = 64;
}

/* A connected multipath pair whose client has a second interface, 10.0.0.9, on links of their
 * own; the tap counts everything. `server_qlog` (may be NULL) gets the server's qlog records;
 * `idle_ms`: both sides' idle timeout (0: the default). */
static void start_with(tern_pair *p, uint64_t seed, tern_qlog_fn server_qlog, uint64_t idle_ms)
{
    memset(&W, 0, sizeof(W));
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_c.multipath = p->cfg_s.multipath = 1;
    p->cfg_s.qlog = server_qlog;
    if (idle_ms)
        p->cfg_c.idle_timeout_ms = p->cfg_s.idle_timeout_ms = idle_ms;
    links(&p->c2s, 20000000, 10 * MS);
    links(&p->s2c, 20000000, 10 * MS);
    links(&p->c2s_alt, 20000000, 15 * MS);
    links(&p->s2c_alt, 20000000, 15 * MS);
    p->alt_addr = addr("10.0.0.9:5000");
    p->tap = tap;
    assert_true(pair_connect(p));
    assert_true(p->client->mp.enabled && p->server->mp.enabled);
}

static void start(tern_pair *p, uint64_t seed)
{
    start_with(p, seed, NULL, 0);
}

static int both_validated(tern_pair *p)
{
    int n = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        const tern_path *x = tern_conn_path_slot(p->server, i);
        n += x && x->mp_id == 1 && x->path_validated;
    }
    return p->path_events[TERN_PATH_EV_VALIDATED] > 0 && n > 0;
}

/* The server's path carrying path ID `id` (its slot), -1 when none. */
static int server_slot(tern_pair *p, uint64_t id)
{
    return tern_mps_slot_of(p->server, id);
}

static void test_two_paths_carry_data(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4100);
    tern_addr alt = p.alt_addr;
    int idx = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_conn_path_slot(p.client, idx)->mp_id, 1);
    pair_run(&p, both_validated, 5 * SEC);
    assert_true(both_validated(&p));
    assert_int_equal(pair_request(&p, 3 << 20), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    fprintf(stderr, "stream bytes: path ID 0 %llu, path ID 1 %llu; %.3f s\n",
            (unsigned long long)W.stream_bytes[0][0], (unsigned long long)W.stream_bytes[0][1],
            (double)(p.now) / SEC);
    /* both path IDs carried stream data to the client, on the wire and by the server's count */
    assert_true(W.stream_bytes[0][0] > 300000);
    assert_true(W.stream_bytes[0][1] > 300000);
    int s1 = server_slot(&p, 1);
    assert_true(s1 >= 0 && s1 != server_slot(&p, 0));
    assert_true(tern_conn_path_slot(p.server, s1)->mp_stream_bytes > 300000);
    assert_int_equal(W.stream_bytes[0][0] + W.stream_bytes[0][1],
                     tern_conn_path_slot(p.server, server_slot(&p, 0))->mp_stream_bytes +
                         tern_conn_path_slot(p.server, s1)->mp_stream_bytes);
    /* every packet opened with its path ID's nonce, none with RFC 9001's */
    assert_int_equal(W.unopened, 0);
    assert_int_equal(W.rfc9001_nonce_opened, 0);
    /* path ID 1's packet numbers started at 0 in each direction and only increased */
    assert_true(W.pkts[0][1] > 100 && W.pkts[1][1] > 10);
    assert_int_equal(W.first_pn[0][1], 0);
    assert_int_equal(W.first_pn[1][1], 0);
    assert_int_equal(W.pn_order_broken, 0);
    /* path ID 1's packets were acknowledged with PATH_ACK, both ways */
    assert_true(W.path_acks[1][1] > 10);
    assert_true(W.path_acks[0][1] > 0);
    /* tern_conn_paths reports each path's path ID, packet numbers and share */
    tern_path_info pi[4];
    size_t np = 0;
    assert_int_equal(tern_conn_paths(p.server, pi, 4, &np), 0);
    int seen = 0;
    for (size_t i = 0; i < np; i++) {
        if (pi[i].mp_path_id < 0)
            continue;
        const tern_path *x = tern_conn_path_slot(p.server, pi[i].id);
        assert_int_equal(pi[i].mp_path_id, x->mp_id);
        assert_int_equal(pi[i].mp_stream_bytes, x->mp_stream_bytes);
        assert_true(pi[i].mp_next_pn > 100);
        assert_true(pi[i].mp_largest_acked < pi[i].mp_next_pn);
        assert_int_equal(pi[i].mp_backup_local, 0);
        assert_int_equal(pi[i].mp_failing, x->mp_failing);
        seen |= 1 << pi[i].mp_path_id;
    }
    assert_int_equal(seen, 3);
    pair_free(&p);
}

/* Without the extension on one side, the second address is a migration probe of path ID 0's:
 * nothing of multipath is allocated or on the wire, and the transfer stays on the active path. */
static void test_without_extension_one_path(void **st)
{
    (void)st;
    tern_pair p;
    memset(&W, 0, sizeof(W));
    assert_int_equal(pair_init(&p, 4200), 0);
    p.cfg_c.multipath = 1; /* the server does not offer it */
    p.alt_addr = addr("10.0.0.9:5000");
    p.tap = tap;
    assert_true(pair_connect(&p));
    assert_false(p.client->mp.enabled);
    assert_null(p.client->mpd);
    assert_null(p.server->mpd);
    tern_addr alt = p.alt_addr;
    int idx = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_conn_path_slot(p.client, idx)->mp_id, 0);
    assert_int_equal(pair_request(&p, 200000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(tern_conn_path_slot(p.client, idx)->mp_stream_bytes, 0);
    tern_path_info pi[4];
    size_t np = 0;
    assert_int_equal(tern_conn_paths(p.client, pi, 4, &np), 0);
    assert_true(np >= 1);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(pi[i].mp_path_id, -1);
    assert_int_equal(W.pkts[0][0] + W.pkts[1][0], 0); /* the tap opens multipath packets only */
    pair_free(&p);
}

/* Delivery to the client application: the longest wait between two deliveries since `watch_from`
 * (virtual time), to measure a stall. */
static uint64_t last_data_at, watch_from, longest_gap;

static void on_data(tern_pair *p, uint64_t n)
{
    (void)n;
    if (watch_from && p->now >= watch_from) {
        uint64_t from = TERN_MAX(last_data_at, watch_from);
        longest_gap = TERN_MAX(longest_gap, p->now - from);
    }
    last_data_at = p->now;
}

static uint64_t kill_at;

/* The server's qlog packet_lost records: 1-RTT ones (every path ID's), and any other. */
static unsigned long qlog_lost_1rtt, qlog_lost_other;

static void count_lost(void *ud, tern_conn *c, const char *r, size_t len)
{
    (void)ud;
    (void)c;
    (void)len;
    if (!strstr(r, "\"name\":\"quic:packet_lost\""))
        return;
    if (strstr(r, "\"packet_type\":\"1RTT\""))
        qlog_lost_1rtt++;
    else
        qlog_lost_other++;
}

static int killed(tern_pair *p) { return p->now >= kill_at; }

/* Opens path ID 1, starts a 4 MiB download watched by on_data and runs it 600 ms, both paths
 * carrying it. */
static void download_on_both(tern_pair *p)
{
    p->on_data = on_data;
    last_data_at = watch_from = longest_gap = 0;
    tern_addr alt = p->alt_addr;
    assert_true(tern_conn_path_add(p->client, &alt, p->now) > 0);
    assert_true(pair_run(p, both_validated, 5 * SEC));
    assert_int_equal(pair_request(p, 4 << 20), 1);
    kill_at = p->now + 600 * MS;
    assert_false(pair_run(p, killed, 2 * SEC) && pair_cond_all_done(p));
}

/* Path ID 1 dies mid-transfer (everything on it dropped, both ways): the download completes on
 * path ID 0, intact, and its delivery never stalls for long: the dead path's first PTO makes it
 * failing and its data goes out again on the other path at once. The server's qlog reports the
 * losses of path ID 1's packets as 1-RTT packets (it read past its names table). */
static void test_dead_path_fails_over(void **st)
{
    (void)st;
    tern_pair p;
    qlog_lost_1rtt = qlog_lost_other = 0;
    start_with(&p, 4300, count_lost, 0);
    download_on_both(&p);
    uint64_t before = W.stream_bytes[0][1];
    assert_true(before > 200000); /* path ID 1 carried a share until then */
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 1;
    watch_from = p.now;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    fprintf(stderr, "longest delivery gap after the failure: %.1f ms\n",
            (double)longest_gap / MS);
    /* the dead path's PTO (about 70 ms from its last packet, sent up to a round trip after the
     * failure while PATH_ACKs of what arrived before it came back on the other path), then
     * the window it held resent over the other path's 20 Mbit/s and that path's round trip
     * (about 45 ms loaded): some 250 ms. Without the failing rule its data trickles back two
     * probes per backed-off PTO, for seconds. */
    assert_true(longest_gap < 350 * MS);
    int s1 = server_slot(&p, 1);
    assert_true(s1 >= 0);
    assert_true(tern_conn_path_slot(p.server, s1)->mp_failing);
    assert_true(qlog_lost_1rtt > 20);
    assert_int_equal(qlog_lost_other, 0);
    pair_free(&p);
}

/* The server's smoothed RTT and PTO on its path of path ID `id`. */
static void server_timing(tern_pair *p, uint64_t id, uint64_t *srtt, uint64_t *pto)
{
    const tern_path *x = tern_conn_path_slot(p->server, server_slot(p, id));
    *srtt = x->rtt.smoothed;
    *pto = tern_rtt_pto(&x->rtt, tern_conn_peer_max_ack_delay(p->server));
}

/* Path ID 0, the client's lowest-RTT path, goes silent both ways while path ID 1 lives. The client
 * only receives: were all its acknowledgements on its lowest-RTT path, path ID 1's would die with
 * path ID 0 and the server would take both paths for dead. Each path ID's ACKs go on its own path:
 * the server keeps receiving path ID 1's PATH_ACKs on path ID 1 without a pause longer than the
 * ACK delay and path ID 1's jitter, and delivery resumes within path ID 0's smoothed RTT and PTO
 * plus path ID 1's smoothed RTT as the server measured them at the failure: its last packet on
 * path ID 0 leaves at most a round trip after the failure (the acknowledgements then in flight
 * still arrive), its PTO then makes the path failing and its data is resent on path ID 1 at once,
 * which crosses it within its (loaded) round trip. */
static void test_silent_path_keeps_other_acks(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4350);
    download_on_both(&p);
    assert_true(W.stream_bytes[0][0] > 200000 && W.stream_bytes[0][1] > 200000);
    uint64_t srtt, pto, srtt0, pto0;
    server_timing(&p, 1, &srtt, &pto);
    server_timing(&p, 0, &srtt0, &pto0);
    p.c2s.blackhole = p.s2c.blackhole = 1;
    watch_from = W.own_from = p.now;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    fprintf(stderr,
            "path ID 1's PATH_ACKs on path ID 1 after the failure: %llu, at most %.1f ms apart; "
            "longest delivery gap %.1f ms (bound: path ID 0 srtt %.1f + PTO %.1f, path ID 1 "
            "srtt %.1f ms)\n",
            (unsigned long long)W.own_acks[1][1], (double)W.own_gap[1][1] / MS,
            (double)longest_gap / MS, (double)srtt0 / MS, (double)pto0 / MS, (double)srtt / MS);
    assert_true(W.own_acks[1][1] > 100);
    /* the ACK delay (25 ms) and path ID 1's variance: never a pause of its PTO */
    assert_true(W.own_gap[1][1] < pto);
    assert_true(longest_gap <= srtt0 + pto0 + srtt);
    pair_free(&p);
}

static int server_heard_abandon0(tern_pair *p)
{
    return tern_mp_peer_abandoned(p->server, 0, NULL) == 1;
}

/* The client leaves its first address mid-transfer: it fails over to path ID 1 and abandons path
 * ID 0. The server ends its path of path ID 0 on that PATH_ABANDON, at once: the active path
 * moves to path ID 1's, and what path ID 0 held in flight goes out again there without waiting
 * for its PTO (a path that can no longer be answered on). */
static void test_abandon_path_id0_ends_server_path(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4450);
    download_on_both(&p);
    int s0 = server_slot(&p, 0), s1 = server_slot(&p, 1);
    assert_true(s0 >= 0 && s1 >= 0 && p.server->paths.active == s0);
    assert_true(tern_conn_path_slot(p.server, s0)->cc.bytes_in_flight > 0);
    tern_addr first = p.path_c.local;
    p.c2s.blackhole = p.s2c.blackhole = 1; /* the address is gone: nothing crosses it */
    watch_from = p.now;
    assert_int_equal(tern_conn_path_remove(p.client, &first, p.now), 0);
    assert_true(pair_run(&p, server_heard_abandon0, 1 * SEC));
    uint64_t heard = p.now - watch_from;
    /* ended with the frame that said so, its in-flight packets declared lost */
    assert_int_equal(server_slot(&p, 0), -1);
    assert_int_equal(p.server->paths.active, s1);
    assert_false(tern_path_in_use(tern_conn_path_slot(p.server, s0)));
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    uint64_t srtt1, pto1;
    server_timing(&p, 1, &srtt1, &pto1);
    fprintf(stderr,
            "PATH_ABANDON of path ID 0 at the server after %.1f ms; longest delivery "
            "gap %.1f ms\n",
            (double)heard / MS, (double)longest_gap / MS);
    /* the frame's one way, then the resent window over path ID 1: under its PTO in all */
    assert_true(longest_gap < heard + pto1);
    pair_free(&p);
}

/* A download of 1 MiB, complete and intact, none of it on path ID 1 (a backup) either way. */
static void download_off_path_id_1(tern_pair *p)
{
    uint64_t before = W.stream_bytes[0][0];
    assert_true(pair_request(p, 1 << 20) >= 0);
    assert_true(pair_run(p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(p));
    assert_int_equal(W.stream_bytes[0][1], 0);
    assert_int_equal(W.stream_bytes[1][1], 0);
    assert_true(W.stream_bytes[0][0] - before >= 1 << 20);
}

/* A path in backup status (ours, sent to the peer with PATH_STATUS_BACKUP) carries no stream
 * data while the available path works, in either direction. */
static void test_backup_path_stays_idle(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4400);
    tern_addr alt = p.alt_addr;
    int idx = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_mp_set_status(p.client, 1, 1), 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    assert_int_equal(tern_mp_peer_backup(p.server, 1), 1);
    tern_path_info pi;
    tern_mig_path_info(p.server, server_slot(&p, 1), &pi);
    assert_int_equal(pi.mp_backup_peer, 1);
    assert_int_equal(pi.mp_backup_local, 0);
    download_off_path_id_1(&p);
    /* the path is alive all the same: validated, and its packets acknowledged */
    assert_true(tern_conn_path_slot(p.client, idx)->path_validated);
    pair_free(&p);
}

/* 1 when `c` reports a path carrying path ID `id` (tern_conn_paths). */
static int reports_path_id(tern_conn *c, int64_t id)
{
    tern_path_info pi[TERN_MAX_PATHS];
    size_t np = 0;
    assert_int_equal(tern_conn_paths(c, pi, TERN_MAX_PATHS, &np), 0);
    for (size_t i = 0; i < np; i++)
        if (pi[i].mp_path_id == id)
            return 1;
    return 0;
}

static int path_id_1_gone(tern_pair *p)
{
    return !reports_path_id(p->client, 1) && !reports_path_id(p->server, 1);
}

/* Idle paths: path ID 1's link drops everything both ways mid-transfer while path ID 0 works.
 * For the idle timeout (1 s) nothing non-probing arrives on it and nothing sent on it is
 * acknowledged: both sides abandon it, each PATH_ABANDON crossing on path ID 0, the path leaves
 * tern_conn_paths, and the connection stays up and completes the download. */
static void test_idle_path_abandoned(void **st)
{
    (void)st;
    tern_pair p;
    start_with(&p, 4700, NULL, 1000);
    tern_addr alt = p.alt_addr;
    assert_true(tern_conn_path_add(p.client, &alt, p.now) > 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    assert_int_equal(pair_request(&p, 6 << 20), 1);
    kill_at = p.now + 300 * MS;
    assert_false(pair_run(&p, killed, 2 * SEC) && pair_cond_all_done(&p));
    assert_true(W.stream_bytes[0][1] > 0);
    p.c2s_alt.blackhole = p.s2c_alt.blackhole = 1;
    uint64_t cut = p.now;
    assert_true(pair_run(&p, path_id_1_gone, 5 * SEC));
    uint64_t gone_after = p.now - cut;
    fprintf(stderr, "path ID 1 gone %.0f ms after its link was cut\n", (double)gone_after / MS);
    /* not before the idle timeout (its last packets arrived up to a round trip before the cut),
     * and not much after it */
    assert_true(gone_after >= 1000 * MS - 50 * MS);
    assert_true(gone_after < 1500 * MS);
    assert_true(p.client->state < TERN_CS_CLOSING && p.server->state < TERN_CS_CLOSING);
    assert_true(reports_path_id(p.client, 0) && reports_path_id(p.server, 0));
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    /* PATH_ABANDON for path ID 1 went out both ways (the first side's, then the answer), and
     * arrived: on path ID 0, the only one left */
    assert_true(W.abandons[0][1] > 0 && W.abandons[1][1] > 0);
    assert_int_equal(tern_mp_peer_abandoned(p.client, 1, NULL), 1);
    assert_int_equal(tern_mp_peer_abandoned(p.server, 1, NULL), 1);
    pair_free(&p);
}

/* A backup path left idle for three idle timeouts while the available path carries a download
 * stays: keep-alive PINGs go out on it both ways (each side's scheduler leaves it unused), no
 * stream byte does, it stays validated, and it carries the rest of the download once the
 * available path fails. */
static void test_idle_backup_kept_alive(void **st)
{
    (void)st;
    tern_pair p;
    start_with(&p, 4800, NULL, 1000);
    links(&p.c2s, 5000000, 10 * MS);
    links(&p.s2c, 5000000, 10 * MS);
    tern_addr alt = p.alt_addr;
    int idx = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_mp_set_status(p.client, 1, 1), 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    uint64_t pings_c = W.pings[1][1], pings_s = W.pings[0][1];
    assert_int_equal(pair_request(&p, 4 << 20), 1);
    kill_at = p.now + 3000 * MS;
    assert_false(pair_run(&p, killed, 4 * SEC) && pair_cond_all_done(&p));
    fprintf(stderr, "keep-alive PINGs on path ID 1 in 3 s: client %llu, server %llu\n",
            (unsigned long long)(W.pings[1][1] - pings_c),
            (unsigned long long)(W.pings[0][1] - pings_s));
    /* a keep-alive is due a third of the idle timeout after the path ID's last ack-eliciting
     * packet: up to nine each way in 3 s (measured 6 and 7) */
    assert_true(W.pings[1][1] - pings_c >= 5);
    assert_true(W.pings[0][1] - pings_s >= 5);
    assert_int_equal(W.stream_bytes[0][1], 0);
    assert_int_equal(W.stream_bytes[1][1], 0);
    assert_true(reports_path_id(p.client, 1) && reports_path_id(p.server, 1));
    assert_true(tern_conn_path_slot(p.client, idx)->path_validated);
    assert_true(tern_conn_path_slot(p.server, server_slot(&p, 1))->path_validated);
    assert_int_equal(W.abandons[0][1] + W.abandons[1][1], 0);
    /* the available path dies: the backup takes the rest */
    p.c2s.blackhole = p.s2c.blackhole = 1;
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_true(W.stream_bytes[0][1] > 100000);
    pair_free(&p);
}

static int both_done(tern_pair *p)
{
    return p->client->state == TERN_CS_DONE && p->server->state == TERN_CS_DONE;
}

/* With one path, the idle rule abandons nothing: a cut link ends the connection with its own
 * idle timeout, with no PATH_ABANDON on the wire. */
static void test_idle_single_path_kept(void **st)
{
    (void)st;
    tern_pair p;
    start_with(&p, 4900, NULL, 1000);
    assert_int_equal(pair_request(&p, 1 << 20), 1);
    kill_at = p.now + 200 * MS;
    assert_false(pair_run(&p, killed, 2 * SEC) && pair_cond_all_done(&p));
    p.c2s.blackhole = p.s2c.blackhole = 1;
    assert_true(pair_run(&p, both_done, 3 * SEC));
    assert_int_equal(W.abandons[0][0] + W.abandons[1][0], 0);
    assert_int_equal(tern_conn_close_info(p.client)->status, TERN_ERR_IDLE_TIMEOUT);
    assert_int_equal(tern_conn_close_info(p.server)->status, TERN_ERR_IDLE_TIMEOUT);
    pair_free(&p);
}

static int server_sees_available(tern_pair *p)
{
    return tern_mp_peer_backup(p->server, 1) == 0;
}

/* The application's verb (tern_core_path_set_backup, which tern_conn_set_path_backup and
 * tern_conn_add_local_address_backup use): a path marked backup right after it was added gets the
 * status with its path ID, the server learns it (PATH_STATUS_BACKUP) and neither side puts a
 * stream byte on it; marked available again, the next download uses it. Every error the verb
 * documents, each from the state that causes it. */
static void test_backup_verb(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4450);
    tern_addr alt = p.alt_addr, none = addr("10.0.0.77:5000");
    assert_int_equal(tern_core_path_set_backup(NULL, &alt, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_set_backup(p.client, NULL, 1), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_core_path_set_backup(p.client, &none, 1), TERN_ERR_NOT_FOUND);
    assert_int_equal(tern_core_path_set_backup(p.server, &alt, 1), TERN_ERR_NOT_CLIENT);
    int idx = tern_core_path_add(p.client, &alt, p.now);
    assert_true(idx > 0);
    assert_int_equal(tern_core_path_set_backup(p.client, &alt, 1), 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    assert_true(pair_run(&p, pair_cond_now, 200 * MS));
    assert_int_equal(tern_mp_local_backup(p.client, 1), 1);
    assert_int_equal(tern_mp_peer_backup(p.server, 1), 1);
    tern_path_info pi[4];
    size_t np = 0;
    assert_int_equal(tern_conn_paths(p.client, pi, 4, &np), 0);
    assert_int_equal(np, 2);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(pi[i].mp_backup_local, pi[i].mp_path_id == 1);
    download_off_path_id_1(&p);
    /* available again: PATH_STATUS_AVAILABLE, and the next download is spread */
    assert_int_equal(tern_core_path_set_backup(p.client, &alt, 0), 0);
    assert_true(pair_run(&p, server_sees_available, 5 * SEC));
    assert_int_equal(tern_mp_local_backup(p.client, 1), 0);
    assert_true(pair_request(&p, 4 << 20) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_true(W.stream_bytes[0][1] > 100000);
    assert_int_equal(tern_conn_close(p.client, 0, "done"), 0);
    assert_int_equal(tern_core_path_set_backup(p.client, &alt, 1), TERN_ERR_CLOSED);
    pair_free(&p);

    /* marked before the handshake (the extension not known yet, the path not probed): the path
     * takes the status with its path ID, once the handshake is confirmed */
    memset(&W, 0, sizeof(W));
    assert_int_equal(pair_init(&p, 4455), 0);
    p.cfg_c.multipath = p.cfg_s.multipath = 1;
    links(&p.c2s, 20000000, 10 * MS);
    links(&p.s2c, 20000000, 10 * MS);
    links(&p.c2s_alt, 20000000, 15 * MS);
    links(&p.s2c_alt, 20000000, 15 * MS);
    p.alt_addr = alt;
    p.tap = tap;
    assert_true(pair_run(&p, pair_cond_now, SEC));
    assert_true(tern_core_path_add(p.client, &alt, p.now) > 0);
    assert_int_equal(tern_core_path_set_backup(p.client, &alt, 1), 0);
    assert_true(pair_connect(&p));
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    assert_true(pair_run(&p, pair_cond_now, 200 * MS));
    assert_int_equal(tern_mp_local_backup(p.client, 1), 1);
    assert_int_equal(tern_mp_peer_backup(p.server, 1), 1);
    download_off_path_id_1(&p);
    pair_free(&p);

    /* the extension not in use: the server does not offer it, or the client does not */
    for (int srv_offers = 0; srv_offers < 2; srv_offers++) {
        memset(&W, 0, sizeof(W));
        assert_int_equal(pair_init(&p, 4460 + (uint64_t)srv_offers), 0);
        p.cfg_c.multipath = !srv_offers;
        p.cfg_s.multipath = (uint64_t)srv_offers;
        p.alt_addr = alt;
        assert_true(pair_connect(&p));
        assert_false(p.client->mp.enabled);
        assert_true(tern_core_path_add(p.client, &alt, p.now) > 0);
        assert_int_equal(tern_core_path_set_backup(p.client, &alt, 1), TERN_ERR_NOT_MULTIPATH);
        assert_int_equal(tern_core_path_set_backup(p.client, &alt, 0), TERN_ERR_NOT_MULTIPATH);
        pair_free(&p);
    }
}

static int client_path_gone(tern_pair *p)
{
    return p->path_events[TERN_PATH_EV_REMOVED] > 0;
}

static int abandon_done(tern_pair *p)
{
    return pair_cond_all_done(p) && W.abandons[0][1] > 0 && W.abandons[1][1] > 0;
}

/* remove_local_address mid-transfer: PATH_ABANDON goes both ways, nothing of the download is
 * lost, and the path ID's space is freed three PTOs later on both sides (memory measured). */
static void test_remove_abandons_path(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4500);
    tern_addr alt = p.alt_addr;
    int idx = tern_conn_path_add(p.client, &alt, p.now);
    assert_true(idx > 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    size_t idle_mem = tern_mps_memory(p.client);
    assert_int_equal(pair_request(&p, 3 << 20), 1);
    kill_at = p.now + 500 * MS;
    pair_run(&p, killed, 2 * SEC);
    assert_true(W.stream_bytes[0][1] > 100000);
    size_t busy_mem = tern_mps_memory(p.client);
    assert_true(busy_mem > sizeof(tern_mp_data));
    assert_int_equal(tern_conn_path_remove(p.client, &alt, p.now), 0);
    assert_true(client_path_gone(&p));
    /* ended, its space kept for late acknowledgements */
    assert_int_equal(tern_mps_ended(p.client, 1), 1);
    assert_true(tern_mps_space_of(p.client, 1) >= 0);
    assert_true(pair_run(&p, abandon_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_int_equal(tern_mp_local_abandoned(p.client, 1), 1);
    assert_int_equal(tern_mp_peer_abandoned(p.server, 1, NULL), 1);
    assert_int_equal(tern_mp_local_abandoned(p.server, 1), 1); /* answered */
    /* the space waits 3 PTOs for late acknowledgements, then goes */
    uint64_t until = p.now + 3 * SEC;
    while (p.now < until) {
        uint64_t t = TERN_MIN(tern_conn_next_timeout(p.client), tern_conn_next_timeout(p.server));
        p.now = TERN_MIN(TERN_MAX(t, p.now + MS), until);
        tern_conn_on_timeout(p.client, p.now);
        tern_conn_on_timeout(p.server, p.now);
    }
    assert_int_equal(tern_mps_space_of(p.client, 1), -1);
    assert_int_equal(tern_mps_space_of(p.server, 1), -1);
    assert_int_equal(tern_mps_memory(p.client), sizeof(tern_mp_data));
    assert_int_equal(tern_mps_memory(p.server), sizeof(tern_mp_data));
    fprintf(stderr, "multipath data state: %zu bytes idle with path ID 1, %zu mid-transfer, %zu "
            "after the abandon\n", idle_mem, busy_mem, tern_mps_memory(p.client));
    pair_free(&p);
}

/* A peer flooding PATH_ACKs for path IDs we never sent on is refused (PROTOCOL_VIOLATION) and
 * makes us allocate nothing for them. */
static void test_path_ack_for_unused_space(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4600);
    size_t before = tern_mps_memory(p.client);
    assert_int_equal(before, sizeof(tern_mp_data));
    uint8_t f[64];
    tern_pn_range r = {0, 10};
    size_t n = tern_mpframe_write_path_ack(f, sizeof(f), 3, &r, 1, 0, NULL);
    assert_true(n > 0);
    pair_inject_1rtt(&p, 0, f, n);
    assert_int_equal(tern_mps_memory(p.client), before);
    assert_true(tern_conn_state(p.client) >= TERN_CS_CLOSING);
    assert_int_equal(tern_conn_close_info(p.client)->error_code, TERN_TE_PROTOCOL_VIOLATION);
    pair_free(&p);
}

/* A key update in the middle of a two-path transfer: one phase for every path ID. Both sides
 * change phase once, no packet of either path ID fails to open (an old-phase packet of one path
 * ID arriving after the other's first new-phase packet is opened with the previous keys, not
 * taken for a second update), and the download is intact. */
static void test_key_update_across_paths(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4700);
    tern_addr alt = p.alt_addr;
    assert_true(tern_conn_path_add(p.client, &alt, p.now) > 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    p.key_update_at = 1 << 20;
    assert_int_equal(pair_request(&p, 3 << 20), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    assert_true(p.key_update_done);
    assert_int_equal(p.client->keys.updates, 1);
    assert_int_equal(p.server->keys.updates, 1);
    assert_int_equal(p.client->keys.rx_auth_failed, 0);
    assert_int_equal(p.server->keys.rx_auth_failed, 0);
    assert_true(W.stream_bytes[0][1] > 300000);
    /* after the update both path IDs went on in the new phase */
    assert_int_equal(p.server->keys.tx_phase, 1);
    pair_free(&p);
}

static uint64_t cycle_id;
static size_t srv_mem_max, cli_mem_max;

static void track_mem(tern_pair *p)
{
    srv_mem_max = TERN_MAX(srv_mem_max, tern_mps_memory(p->server));
    cli_mem_max = TERN_MAX(cli_mem_max, tern_mps_memory(p->client));
}

static int cycle_validated(tern_pair *p)
{
    track_mem(p);
    int s = tern_mps_slot_of(p->server, cycle_id);
    return s >= 0 && tern_conn_path_slot(p->server, s)->path_validated;
}

static int cycle_closed(tern_pair *p)
{
    track_mem(p);
    return tern_mp_local_abandoned(p->server, cycle_id) == 1 &&
           tern_mp_peer_abandoned(p->client, cycle_id, NULL) == 1 &&
           tern_mp_path_id_next(p->client) != 0;
}

/* A client opening and abandoning a path after another, far more than the 7 path IDs held at
 * once (they are recycled with MAX_PATH_ID): the data-path state of either side never holds
 * more than the path IDs in use and those still waiting for late acknowledgements, and goes
 * back to its empty table once they are gone. */
static void test_cycling_path_ids_bounded(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4800);
    p.alt_addr = addr("10.0.0.9:0"); /* every port of the second interface */
    size_t base = tern_mps_memory(p.server);
    assert_int_equal(base, sizeof(tern_mp_data));
    assert_int_equal(tern_mps_memory(p.client), base);
    srv_mem_max = cli_mem_max = 0;
    size_t one = 0;
    const int rounds = 16;
    for (int i = 0; i < rounds; i++) {
        char text[32];
        snprintf(text, sizeof(text), "10.0.0.9:%d", 5000 + i);
        tern_addr a = addr(text);
        int idx = tern_conn_path_add(p.client, &a, p.now);
        assert_true(idx > 0);
        cycle_id = tern_conn_path_slot(p.client, idx)->mp_id;
        assert_true(cycle_id > 0);
        assert_true(pair_run(&p, cycle_validated, 5 * SEC));
        assert_int_equal(tern_conn_path_remove(p.client, &a, p.now), 0);
        assert_true(pair_run(&p, cycle_closed, 5 * SEC));
        if (!one) {
            /* one path ID's space as its round left it, abandoned and waiting for late
             * acknowledgements, on the side that holds more (the client's sent-packet ring grew
             * with what it sent on it, from its first two records) */
            one = TERN_MAX(tern_mps_memory(p.server), tern_mps_memory(p.client)) - base;
        }
    }
    /* path IDs went past the 7 held at once: they were recycled */
    assert_true(cycle_id > TERN_MPS_IDS);
    fprintf(stderr,
            "cycling %d path IDs (last %llu): data-path state at most %zu bytes (server), "
            "%zu (client); one abandoned path ID %zu\n",
            rounds, (unsigned long long)cycle_id, srv_mem_max, cli_mem_max, one);
    /* at most the path IDs held at once (one more of slack), never one per round */
    assert_true(srv_mem_max <= base + (TERN_MPS_IDS + 1) * one);
    assert_true(cli_mem_max <= base + (TERN_MPS_IDS + 1) * one);
    /* three PTOs later nothing is left but the table */
    uint64_t until = p.now + 3 * SEC;
    while (p.now < until) {
        uint64_t t = TERN_MIN(tern_conn_next_timeout(p.client), tern_conn_next_timeout(p.server));
        p.now = TERN_MIN(TERN_MAX(t, p.now + MS), until);
        tern_conn_on_timeout(p.client, p.now);
        tern_conn_on_timeout(p.server, p.now);
    }
    assert_int_equal(tern_mps_memory(p.server), base);
    assert_int_equal(tern_mps_memory(p.client), base);
    /* and the connection still works */
    assert_int_equal(pair_request(&p, 100000), 1);
    assert_true(pair_run(&p, pair_cond_all_done, 10 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* The client's NAT rebinds path ID 1 mid-transfer (a new source port): the server moves that path
 * ID to the new address once it is validated, the old one ends (what it held goes again on the
 * other path), and the download goes on over both paths, intact. */
static void test_nat_rebinding_of_path_id(void **st)
{
    (void)st;
    tern_pair p;
    start(&p, 4900);
    tern_addr alt = p.alt_addr;
    p.alt_addr = addr("10.0.0.9:0");
    assert_true(tern_conn_path_add(p.client, &alt, p.now) > 0);
    assert_true(pair_run(&p, both_validated, 5 * SEC));
    assert_int_equal(pair_request(&p, 3 << 20), 1);
    kill_at = p.now + 400 * MS;
    pair_run(&p, killed, 2 * SEC);
    int before_slot = server_slot(&p, 1);
    p.nat_from = alt;
    p.nat_to = addr("10.0.0.9:7000");
    uint64_t before = W.stream_bytes[0][1];
    assert_true(pair_run(&p, pair_cond_all_done, 30 * SEC));
    assert_true(pair_verify(&p));
    int s1 = server_slot(&p, 1);
    assert_true(s1 >= 0 && s1 != before_slot);
    assert_true(tern_addr_equal(&tern_conn_path_slot(p.server, s1)->addr.remote, &p.nat_to));
    assert_true(tern_conn_path_slot(p.server, s1)->path_validated);
    assert_false(tern_path_in_use(tern_conn_path_slot(p.server, before_slot)));
    assert_true(p.srv_path_events[TERN_PATH_EV_PEER_ADDRESS_CHANGED] >= 1);
    /* path ID 1 carried data again after the rebinding */
    assert_true(W.stream_bytes[0][1] > before + 100000);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_paths_carry_data),
        cmocka_unit_test(test_without_extension_one_path),
        cmocka_unit_test(test_dead_path_fails_over),
        cmocka_unit_test(test_silent_path_keeps_other_acks),
        cmocka_unit_test(test_backup_path_stays_idle),
        cmocka_unit_test(test_idle_path_abandoned),
        cmocka_unit_test(test_idle_backup_kept_alive),
        cmocka_unit_test(test_idle_single_path_kept),
        cmocka_unit_test(test_backup_verb),
        cmocka_unit_test(test_remove_abandons_path),
        cmocka_unit_test(test_abandon_path_id0_ends_server_path),
        cmocka_unit_test(test_path_ack_for_unused_space),
        cmocka_unit_test(test_key_update_across_paths),
        cmocka_unit_test(test_cycling_path_ids_bounded),
        cmocka_unit_test(test_nat_rebinding_of_path_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
