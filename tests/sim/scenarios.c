/* The scenario suite: handshakes under loss, amplification limit, bulk transfers under loss,
 * bursts, reordering, long and slow links, key updates, idle timeout, blackhole, stateless reset
 * and corruption (migration scenarios: scenarios_migration.c). Each scenario asserts delivered bytes
 * and SHA-256 and a bound on virtual time, plus its own specifics. Bounds are set from the spread
 * observed over many seeds with room to spare: they catch collapses, not noise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "sim_node.h"
#include "sim_scenario.h"

#define MB (1024ull * 1024ull)
#define MBIT 1000000ull

/* ---- building blocks ---------------------------------------------------------------------------
 */

/* A symmetric link for interface "wifi" (10.0.1.2). */
static int wifi(sim *s, uint64_t one_way_ms, uint64_t rate_bps, size_t queue_bytes)
{
    sim_link_cfg l = {.rate_bps = rate_bps,
                      .delay_ns = one_way_ms * SIM_MS,
                      .jitter_ns = 500 * SIM_US,
                      .queue_bytes = queue_bytes};
    return sim_add_iface(s, "wifi", "10.0.1.2:5000", &l, NULL);
}

/* The usual path: 10 ms each way, 50 Mbit/s, a queue of about two bandwidth-delay products, and
 * up to 0.5 ms of jitter so that every seed is a different run. */
static int std_path(sim *s)
{
    return wifi(s, 10, 50 * MBIT, 256 * 1024);
}

static void random_loss(sim *s, int i, double rate)
{
    sim_loss_cfg c = {.rate = rate};
    for (int d = 0; d < 2; d++)
        sim_iface_append(s, i, d, &sim_loss_new(s, i, d, &c)->n);
}

/* Handshake and idle timers out of the way of scenarios that are not about them. */
static void patient(sim *s)
{
    s->cfg_c.handshake_timeout_ms = 120000;
    s->cfg_c.idle_timeout_ms = s->cfg_s.idle_timeout_ms = 120000;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void client_stats(sim *s, tern_conn_stats *cs)
{
    memset(cs, 0, sizeof(*cs));
    if (s->client)
        tern_conn_get_stats(s->client, cs);
}

static void server_stats(sim *s, tern_conn_stats *ss)
{
    memset(ss, 0, sizeof(*ss));
    tern_conn *c = sim_server_conn(s);
    if (c)
        tern_conn_get_stats(c, ss);
}

/* Connects, downloads `bytes` on one stream, and checks bytes, hash and the time bound of the
 * transfer (from the request, made right after the handshake). */
#define DOWNLOAD(s, r, bytes, connect_limit, xfer_limit)                                           \
    do {                                                                                           \
        SIM_CHECK(r, sim_run(s, sim_cond_connected, connect_limit), "not connected after %.1f s",  \
                  secs(connect_limit));                                                            \
        SIM_CHECK(r, sim_request(s, bytes) == 0, "request refused");                               \
        uint64_t t0_ = sim_time(s);                                                                \
        int done_ = sim_run(s, sim_cond_all_done, xfer_limit);                                     \
        char why_[256];                                                                            \
        int ok_ = sim_verify(s, why_, sizeof(why_));                                               \
        xfer_ns = sim_time(s) - t0_;                                                               \
        SIM_CHECK(r, done_ && !s->client_done, "transfer unfinished after %.3f s (client %s)",     \
                  secs(xfer_ns), s->client_done ? tern_strerror(s->client_close.status) : "open"); \
        SIM_CHECK(r, ok_, "%s", why_);                                                             \
    } while (0)

static void summarize(sim *s, sim_result *r, uint64_t bytes, uint64_t xfer_ns)
{
    tern_conn_stats cs, ss;
    client_stats(s, &cs);
    server_stats(s, &ss);
    snprintf(r->summary, sizeof(r->summary),
             "connected %.3f s, %llu B in %.3f s (%.2f Mbit/s), server sent %llu pkts lost %llu, "
             "%llu events",
             secs(s->connected_at), (unsigned long long)bytes, secs(xfer_ns),
             xfer_ns ? (double)bytes * 8 / secs(xfer_ns) / 1e6 : 0.0,
             (unsigned long long)ss.pkts_sent, (unsigned long long)ss.pkts_lost,
             (unsigned long long)s->tl.total);
}

/* ---- handshake --------------------------------------------------------------------------------
 */

static void handshake_loss(sim *s, sim_result *r, double rate, uint64_t bound, uint64_t xfer_bound)
{
    int i = std_path(s);
    random_loss(s, i, rate);
    patient(s);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 100000, bound, xfer_bound);
    summarize(s, r, 100000, xfer_ns);
    SIM_CHECK(r, s->connected_at < bound, "handshake took %.3f s", secs(s->connected_at));
}

static void scn_handshake_loss_10(sim *s, sim_result *r)
{
    handshake_loss(s, r, 0.10, 20 * SIM_SEC, 15 * SIM_SEC);
}

static void scn_handshake_loss_30(sim *s, sim_result *r)
{
    handshake_loss(s, r, 0.30, 60 * SIM_SEC, 60 * SIM_SEC);
}

/* Everything the client sends in its first instant (its whole first flight) is lost: the Initial
 * comes again after the first PTO (1 s with the initial RTT of 333 ms). */
static void scn_first_flight_lost(sim *s, sim_result *r)
{
    int i = std_path(s);
    sim_loss_cfg c = {.from_ns = 0, .until_ns = 1 * SIM_MS};
    sim_loss *l = sim_loss_new(s, i, SIM_UP, &c);
    sim_iface_prepend(s, i, SIM_UP, &l->n);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 100000, 5 * SIM_SEC, 5 * SIM_SEC);
    summarize(s, r, 100000, xfer_ns);
    SIM_CHECK(r, l->n.dropped >= 1, "nothing was dropped");
    SIM_CHECK(r, s->connected_at >= 900 * SIM_MS && s->connected_at < 1500 * SIM_MS,
              "connected at %.3f s (expected after one PTO, about 1.0 s)", secs(s->connected_at));
}

/* Removes the packets of the types in `mask` from datagrams in a window of time: coalesced packets
 * before and after them survive. A datagram left empty is dropped. */
typedef struct strip_node {
    sim_node n;
    unsigned mask;
    uint64_t from, until;
    uint64_t stripped;
} strip_node;

static void strip_forward(sim *s, sim_node *n, sim_pkt *p)
{
    strip_node *st = (strip_node *)n;
    uint64_t t = sim_time(s);
    if (t < st->from || t >= st->until) {
        sim_node_emit(s, n, p);
        return;
    }
    size_t off = 0, out = 0;
    while (off < p->len) {
        tern_pkt_hdr h;
        if (tern_pkt_parse(p->data + off, p->len - off, 8, &h) || h.pkt_len == 0)
            break;
        size_t len = h.type == TERN_PKT_1RTT ? p->len - off : h.pkt_len;
        if (st->mask & (1u << h.type)) {
            st->stripped++;
        } else {
            memmove(p->data + out, p->data + off, len);
            out += len;
        }
        off += len;
    }
    if (off < p->len) { /* unparsable tail: keep it */
        memmove(p->data + out, p->data + off, p->len - off);
        out += p->len - off;
    }
    p->len = out;
    if (out == 0)
        sim_node_drop(s, n, p, "stripped");
    else
        sim_node_emit(s, n, p);
}

static void strip_free(sim_node *n)
{
    free(n);
}

static const sim_node_ops strip_ops = {"strip", strip_forward, strip_free};

static strip_node *strip_new(sim *s, int iface, int dir, unsigned mask, uint64_t from,
                             uint64_t until)
{
    strip_node *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    st->mask = mask;
    st->from = from;
    st->until = until;
    char name[32];
    snprintf(name, sizeof(name), "%s.%s.strip", s->ifaces[iface].name,
             dir == SIM_UP ? "up" : "down");
    sim_node_register(s, &st->n, &strip_ops, name);
    return st;
}

/* The server's first Handshake flight (EE, certificate, verify, finished) is lost while its
 * ServerHello gets through: the server must retransmit Handshake data on its PTO. */
static void scn_server_handshake_lost(sim *s, sim_result *r)
{
    int i = std_path(s);
    strip_node *st = strip_new(s, i, SIM_DOWN, 1u << TERN_PKT_HANDSHAKE, 0, 200 * SIM_MS);
    sim_iface_prepend(s, i, SIM_DOWN, &st->n);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 100000, 5 * SIM_SEC, 5 * SIM_SEC);
    summarize(s, r, 100000, xfer_ns);
    SIM_CHECK(r, st->stripped >= 1, "no Handshake packet was removed");
    SIM_CHECK(r, s->connected_at >= 200 * SIM_MS && s->connected_at < 2500 * SIM_MS,
              "connected at %.3f s (expected after a server PTO)", secs(s->connected_at));
}

/* Anti-amplification (RFC 9000 §8.1): the client's first Initial arrives, then everything the
 * client sends is lost for 3 s. Until the server receives a Handshake packet from the client (which
 * validates the address) it must not send more than 3 times the bytes it received; bytes are
 * counted at the server's network edge. */
typedef struct amp_watch {
    uint64_t recv, sent, validated_at;
    int validated;
    uint64_t worst_excess;
    uint64_t sent_dgrams;
    uint64_t hit_limit;
} amp_watch;

static void amp_recv(sim *s, const sim_pkt *p)
{
    amp_watch *w = s->ud;
    if (w->validated)
        return;
    w->recv += p->len;
    if (sim_pkt_types(p) & (1u << TERN_PKT_HANDSHAKE)) {
        w->validated = 1;
        w->validated_at = sim_time(s);
    }
}

static void amp_send(sim *s, const sim_pkt *p)
{
    amp_watch *w = s->ud;
    if (w->validated)
        return;
    w->sent += p->len;
    w->sent_dgrams++;
    if (w->sent > 3 * w->recv && w->sent - 3 * w->recv > w->worst_excess)
        w->worst_excess = w->sent - 3 * w->recv;
    if (w->sent + 1200 > 3 * w->recv)
        w->hit_limit++;
}

static void scn_amplification(sim *s, sim_result *r)
{
    int i = std_path(s);
    sim_loss_cfg c = {.from_ns = 1 * SIM_MS, .until_ns = 3 * SIM_SEC};
    sim_loss *l = sim_loss_new(s, i, SIM_UP, &c);
    sim_iface_prepend(s, i, SIM_UP, &l->n);
    amp_watch w = {0};
    s->ud = &w;
    s->on_server_recv = amp_recv;
    s->on_server_send = amp_send;
    patient(s);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 100000, 15 * SIM_SEC, 10 * SIM_SEC);
    summarize(s, r, 100000, xfer_ns);
    snprintf(r->summary + strlen(r->summary), sizeof(r->summary) - strlen(r->summary),
             "; before validation: recv %llu B, sent %llu B in %llu dgrams",
             (unsigned long long)w.recv, (unsigned long long)w.sent,
             (unsigned long long)w.sent_dgrams);
    SIM_CHECK(r, l->n.dropped >= 2, "only %llu client datagrams dropped",
              (unsigned long long)l->n.dropped);
    SIM_CHECK(r, w.validated && w.validated_at >= 3 * SIM_SEC, "validated at %.3f s",
              secs(w.validated_at));
    SIM_CHECK(r, w.worst_excess == 0, "server sent %llu B beyond 3x the %llu B received",
              (unsigned long long)w.worst_excess, (unsigned long long)w.recv);
    SIM_CHECK(r, w.sent_dgrams >= 2, "the server never retransmitted (%llu datagrams)",
              (unsigned long long)w.sent_dgrams);
    SIM_CHECK(r, s->connected_at < 10 * SIM_SEC, "connected at %.3f s", secs(s->connected_at));
}

/* With Retry on, the dispatcher answers the first Initial with a Retry and accepts the second. */
static void scn_retry(sim *s, sim_result *r)
{
    int i = std_path(s);
    random_loss(s, i, 0.05);
    s->cfg_s.retry = 1;
    patient(s);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 200000, 20 * SIM_SEC, 20 * SIM_SEC);
    summarize(s, r, 200000, xfer_ns);
    SIM_CHECK(r, s->st.replies[TERN_DISPATCH_REPLY_RETRY] >= 1, "no Retry was sent");
    SIM_CHECK(r, s->st.accepts == 1, "%llu connections accepted",
              (unsigned long long)s->st.accepts);
}

/* ---- resumption and 0-RTT ----------------------------------------------------------------------
 */

/* The first two client datagrams that begin with a 0-RTT packet (those after the first flight's
 * Initial, which carries the first 0-RTT packet behind it): a long header (0xc0) of type 1
 * (0x10), bits header protection leaves alone. */
static int first_zero_rtt(sim *s, const sim_pkt *p, void *ud)
{
    int *left = ud;
    (void)s;
    if (*left > 0 && p->len && (p->data[0] & 0xf0) == 0xd0) {
        (*left)--;
        return 1;
    }
    return 0;
}

/* A first connection downloads and keeps the server's ticket; a second one resumes it and sends
 * 200 requests in 0-RTT, two of whose datagrams are lost on the way, with 2% random loss each way
 * besides. The lost requests are found missing once the handshake completes and go again as
 * 1-RTT: every response arrives whole, within a bound of virtual time. */
static void scn_zero_rtt_lost(sim *s, sim_result *r)
{
    int i = std_path(s);
    random_loss(s, i, 0.02);
    s->cfg_s.early_data = 1;
    s->cfg_s.initial_max_streams_bidi = 300;
    patient(s);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 20000, 20 * SIM_SEC, 20 * SIM_SEC);
    SIM_CHECK(r, s->ticket_len > 0, "no session ticket after the first connection");
    static uint8_t blob[sizeof(s->ticket)];
    size_t len = s->ticket_len;
    memcpy(blob, s->ticket, len);
    SIM_CHECK(r, sim_reconnect(s, blob, len, 1) == 0, "the client could not resume");
    SIM_CHECK(r, tern_conn_early_data(s->client) == TERN_EARLY_DATA_PENDING, "no 0-RTT offered");
    static int left;
    left = 2;
    sim_loss_cfg lc = {.filter = first_zero_rtt, .filter_ud = &left};
    sim_loss *d = sim_loss_new(s, i, SIM_UP, &lc);
    sim_iface_prepend(s, i, SIM_UP, &d->n);
    for (int k = 0; k < 200; k++)
        SIM_CHECK(r, sim_request(s, 1000 + (uint64_t)k) == 0, "request %d refused", k);
    uint64_t t0 = sim_time(s);
    int done = sim_run(s, sim_cond_all_done, 20 * SIM_SEC);
    char why[256];
    int ok = sim_verify(s, why, sizeof(why));
    xfer_ns = sim_time(s) - t0;
    SIM_CHECK(r, done && !s->client_done, "unfinished after %.3f s", secs(xfer_ns));
    SIM_CHECK(r, ok, "%s", why);
    tern_conn_stats cs;
    client_stats(s, &cs);
    snprintf(r->summary, sizeof(r->summary),
             "resumed: 200 requests in %.3f s, %llu 0-RTT datagrams lost, %llu bytes resent",
             secs(xfer_ns), (unsigned long long)d->n.dropped,
             (unsigned long long)cs.stream_bytes_resent);
    SIM_CHECK(r, d->n.dropped == 2, "%llu 0-RTT datagrams dropped",
              (unsigned long long)d->n.dropped);
    SIM_CHECK(r, tern_conn_resumed(s->client), "the session was not resumed");
    SIM_CHECK(r, tern_conn_early_data(s->client) == TERN_EARLY_DATA_ACCEPTED, "0-RTT state %d",
              tern_conn_early_data(s->client));
    SIM_CHECK(r, cs.stream_bytes_resent > 0, "nothing was sent again");
    SIM_CHECK(r, xfer_ns < 3 * SIM_SEC, "%.3f s", secs(xfer_ns));
}

/* ---- bulk transfers
 * ------------------------------------------------------------------------------ */

#define BIG (10 * MB)

static void bulk(sim *s, sim_result *r, uint64_t bytes, uint64_t bound)
{
    patient(s);
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, bytes, 20 * SIM_SEC, bound);
    summarize(s, r, bytes, xfer_ns);
    SIM_CHECK(r, xfer_ns <= bound, "%.3f s", secs(xfer_ns));
}

static void scn_loss_1pct(sim *s, sim_result *r)
{
    random_loss(s, std_path(s), 0.01);
    bulk(s, r, BIG, 30 * SIM_SEC);
}

static void scn_loss_5pct(sim *s, sim_result *r)
{
    random_loss(s, std_path(s), 0.05);
    bulk(s, r, BIG, 80 * SIM_SEC);
}

/* Gilbert-Elliott: bursts of 1/r = 4 datagrams on average entered with p = 1%, half of a burst
 * lost; about 1.9% loss overall, in clumps. */
static void scn_burst_loss(sim *s, sim_result *r)
{
    int i = std_path(s);
    sim_loss_cfg c = {.ge_p = 0.01, .ge_r = 0.25, .ge_loss_good = 0.0, .ge_loss_bad = 0.5};
    for (int d = 0; d < 2; d++)
        sim_iface_append(s, i, d, &sim_loss_new(s, i, d, &c)->n);
    bulk(s, r, BIG, 30 * SIM_SEC);
}

/* 5% of datagrams in each direction are held back 2 to 15 ms (the RTT is 20 ms), so that packet
 * threshold loss detection sees gaps that fill later. */
static void scn_reorder(sim *s, sim_result *r)
{
    int i = std_path(s);
    for (int d = 0; d < 2; d++)
        sim_iface_append(s, i, d, sim_reorder_new(s, i, d, 0.05, 2 * SIM_MS, 15 * SIM_MS));
    bulk(s, r, BIG, 60 * SIM_SEC);
}

/* 600 ms round trip at 20 Mbit/s with a 3 MB queue: slow start and flow control over a long pipe.
 */
static void scn_long_rtt(sim *s, sim_result *r)
{
    wifi(s, 300, 20 * MBIT, 3 * MB);
    bulk(s, r, BIG, 15 * SIM_SEC);
}

/* 1 Mbit/s with a queue of 8 datagrams: 10 MB need 84 s at full rate. Congestion control must keep
 * the link busy (no collapse into timeouts): at least 70% of the rate. */
static void scn_slow_link(sim *s, sim_result *r)
{
    sim_link_cfg l = {
        .rate_bps = 1 * MBIT, .delay_ns = 20 * SIM_MS, .jitter_ns = 500 * SIM_US, .queue_pkts = 8};
    sim_add_iface(s, "wifi", "10.0.1.2:5000", &l, NULL);
    uint64_t ideal = BIG * 8 * SIM_SEC / MBIT;
    bulk(s, r, BIG, ideal * 10 / 7);
}

/* Key updates under 1% loss, started from both applications: the client every MiB received (it
 * may only once a packet of the current phase was acknowledged, which for a receiver sending mostly
 * acknowledgements takes a while), the server every 500 ms. Both ends count every phase change. */
typedef struct ku_state {
    uint64_t server_started;
} ku_state;

static void act_server_key_update(sim *s, void *arg)
{
    ku_state *k = arg;
    tern_conn *c = sim_server_conn(s);
    if (c && tern_conn_key_update(c) == 0) {
        k->server_started++;
        sim_note(s, "server starts a key update");
    }
    if (!sim_cond_all_done(s))
        sim_after(s, 500 * SIM_MS, act_server_key_update, k, NULL);
}

static void scn_key_update_loss(sim *s, sim_result *r)
{
    random_loss(s, std_path(s), 0.01);
    s->key_update_every = 1 * MB;
    s->key_update_next = 1 * MB;
    ku_state k = {0};
    sim_at(s, 500 * SIM_MS, act_server_key_update, &k, NULL);
    bulk(s, r, BIG, 30 * SIM_SEC);
    if (!r->ok)
        return;
    tern_conn_stats cs, ss;
    client_stats(s, &cs);
    server_stats(s, &ss);
    uint64_t total = s->key_updates_started + k.server_started;
    snprintf(r->summary + strlen(r->summary), sizeof(r->summary) - strlen(r->summary),
             "; key updates started %llu+%llu, counted %llu/%llu",
             (unsigned long long)s->key_updates_started, (unsigned long long)k.server_started,
             (unsigned long long)cs.key_updates, (unsigned long long)ss.key_updates);
    SIM_CHECK(r, s->key_updates_started >= 1, "the client started no key update");
    SIM_CHECK(r, k.server_started >= 5, "the server started %llu key updates",
              (unsigned long long)k.server_started);
    /* Both ends count every phase change; two updates started at the same moment from both ends
     * make one change, and the last one may still be on its way when the download completes. */
    uint64_t most = TERN_MAX(s->key_updates_started, k.server_started);
    SIM_CHECK(r,
              cs.key_updates >= most && ss.key_updates >= most && cs.key_updates <= total &&
                  ss.key_updates <= total && cs.key_updates <= ss.key_updates + 1 &&
                  ss.key_updates <= cs.key_updates + 1,
              "client counted %llu, server %llu phase changes; %llu + %llu started",
              (unsigned long long)cs.key_updates, (unsigned long long)ss.key_updates,
              (unsigned long long)s->key_updates_started, (unsigned long long)k.server_started);
}

/* 5% of datagrams each way arrive twice, the copy up to 5 ms later: duplicates are discarded
 * (packet numbers already seen) without disturbing loss detection or flow control. */
static void scn_duplication(sim *s, sim_result *r)
{
    int i = std_path(s);
    for (int d = 0; d < 2; d++)
        sim_iface_append(s, i, d, sim_dup_new(s, i, d, 0.05, 5 * SIM_MS));
    bulk(s, r, 4 * MB, 3 * SIM_SEC);
    if (!r->ok)
        return;
    SIM_CHECK(r, s->tl.count[SIM_TL_DUP] >= 50, "only %llu datagrams duplicated",
              (unsigned long long)s->tl.count[SIM_TL_DUP]);
    SIM_CHECK(r, !s->server_closed, "server closed: %s", s->server_close.reason);
}

/* 2% of datagrams each way get 1-4 flipped bits: they fail authentication (or routing) and are
 * dropped; the transfer must complete intact and the connection stay up. */
static void scn_corruption(sim *s, sim_result *r)
{
    int i = std_path(s);
    sim_node *c[2];
    for (int d = 0; d < 2; d++) {
        c[d] = sim_corrupt_new(s, i, d, 0.02, 4);
        sim_iface_append(s, i, d, c[d]);
    }
    bulk(s, r, 4 * MB, 20 * SIM_SEC);
    if (!r->ok)
        return;
    SIM_CHECK(r, s->tl.count[SIM_TL_CORRUPT] >= 20, "only %llu datagrams corrupted",
              (unsigned long long)s->tl.count[SIM_TL_CORRUPT]);
    SIM_CHECK(r, !s->server_closed, "server closed: %s", s->server_close.reason);
}

/* ---- failures ---------------------------------------------------------------------------------
 */

/* Idle timeout of 3 s on both sides: after a short download nothing is sent, and both ends close
 * with TERN_ERR_IDLE_TIMEOUT about 3 s after the last packet. */
static void scn_idle_timeout(sim *s, sim_result *r)
{
    std_path(s);
    s->cfg_c.idle_timeout_ms = s->cfg_s.idle_timeout_ms = 3000;
    uint64_t xfer_ns = 0;
    DOWNLOAD(s, r, 10000, 5 * SIM_SEC, 5 * SIM_SEC);
    uint64_t t_done = sim_time(s);
    uint64_t sent0 = s->st.dgrams_sent[0] + s->st.dgrams_sent[1];
    SIM_CHECK(r, sim_run(s, sim_cond_both_closed, 30 * SIM_SEC), "still open after 30 s");
    uint64_t after = s->st.dgrams_sent[0] + s->st.dgrams_sent[1] - sent0;
    summarize(s, r, 10000, xfer_ns);
    SIM_CHECK(r, s->client_close.status == TERN_ERR_IDLE_TIMEOUT, "client closed with %s",
              tern_strerror(s->client_close.status));
    SIM_CHECK(r, s->server_close.status == TERN_ERR_IDLE_TIMEOUT, "server closed with %s",
              tern_strerror(s->server_close.status));
    SIM_CHECK(r,
              s->client_closed_at >= t_done + 2900 * SIM_MS &&
                  s->client_closed_at <= t_done + 4 * SIM_SEC,
              "client closed %.3f s after the transfer", secs(s->client_closed_at - t_done));
    SIM_CHECK(r, after <= 6, "%llu datagrams sent while idle", (unsigned long long)after);
}

/* Both directions go dark in the middle of a transfer, for good. Each side retransmits with
 * exponential backoff and closes by idle timeout (5 s) without spinning: the number of datagrams
 * and of simulator rounds after the cut is bounded. */
static void scn_blackhole(sim *s, sim_result *r)
{
    int i = std_path(s);
    s->cfg_c.idle_timeout_ms = s->cfg_s.idle_timeout_ms = 5000;
    const uint64_t cut = 1500 * SIM_MS;
    sim_iface_cut(s, i, cut, SIM_INF);
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 5 * SIM_SEC), "not connected");
    SIM_CHECK(r, sim_request(s, BIG) == 0, "request refused");
    SIM_CHECK(r, !sim_run(s, sim_cond_all_done, cut - sim_time(s)), "finished before the cut");
    /* what was in flight at the cut still arrives for one queue + one-way delay: then count */
    SIM_CHECK(r, !sim_run(s, sim_cond_all_done, 100 * SIM_MS), "finished after the cut");
    uint64_t sent0 = s->st.dgrams_sent[0] + s->st.dgrams_sent[1];
    uint64_t it0 = s->st.iterations, tf0 = s->st.timer_fires;
    SIM_CHECK(r, sim_run(s, sim_cond_both_closed, 60 * SIM_SEC), "still open 60 s after the cut");
    uint64_t sent = s->st.dgrams_sent[0] + s->st.dgrams_sent[1] - sent0;
    uint64_t iters = s->st.iterations - it0, fires = s->st.timer_fires - tf0;
    snprintf(r->summary, sizeof(r->summary),
             "got %llu B before the cut; closed at %.3f/%.3f s; after the cut: %llu datagrams, "
             "%llu rounds, %llu timer runs",
             (unsigned long long)sim_bytes_received(s), secs(s->client_closed_at),
             secs(s->server_closed_at), (unsigned long long)sent, (unsigned long long)iters,
             (unsigned long long)fires);
    SIM_CHECK(r, s->client_close.status == TERN_ERR_IDLE_TIMEOUT, "client closed with %s",
              tern_strerror(s->client_close.status));
    SIM_CHECK(r, s->server_close.status == TERN_ERR_IDLE_TIMEOUT, "server closed with %s",
              tern_strerror(s->server_close.status));
    SIM_CHECK(r,
              s->client_closed_at >= cut + 4 * SIM_SEC && s->client_closed_at <= cut + 7 * SIM_SEC,
              "client closed %.3f s after the cut", secs(s->client_closed_at - cut));
    SIM_CHECK(r,
              s->server_closed_at >= cut + 4 * SIM_SEC && s->server_closed_at <= cut + 7 * SIM_SEC,
              "server closed %.3f s after the cut", secs(s->server_closed_at - cut));
    SIM_CHECK(r, sent <= 30, "%llu datagrams sent into the blackhole", (unsigned long long)sent);
    SIM_CHECK(r, iters <= 200 && fires <= 60, "%llu rounds, %llu timer runs after the cut",
              (unsigned long long)iters, (unsigned long long)fires);
}

/* The server loses every connection state in the middle of a download. The next client packet
 * reaches the dispatcher under an unknown CID; the stateless reset it sends back (token from the
 * same static key) ends the client's connection with TERN_ERR_STATELESS_RESET at once. */
static void act_forget(sim *s, void *arg)
{
    (void)arg;
    sim_server_forget_all(s);
}

static void scn_stateless_reset(sim *s, sim_result *r)
{
    std_path(s);
    patient(s);
    const uint64_t at = 500 * SIM_MS;
    sim_at(s, at, act_forget, NULL, "server state lost");
    SIM_CHECK(r, sim_run(s, sim_cond_connected, 5 * SIM_SEC), "not connected");
    SIM_CHECK(r, sim_request(s, BIG) == 0, "request refused");
    SIM_CHECK(r, sim_run(s, sim_cond_client_closed, 10 * SIM_SEC), "client still open");
    snprintf(r->summary, sizeof(r->summary),
             "got %llu B, client closed %.3f s after the loss of state, %llu reset(s) sent",
             (unsigned long long)sim_bytes_received(s), secs(s->client_closed_at - at),
             (unsigned long long)s->st.replies[TERN_DISPATCH_REPLY_RESET]);
    SIM_CHECK(r, s->client_close.status == TERN_ERR_STATELESS_RESET, "client closed with %s: %s",
              tern_strerror(s->client_close.status), s->client_close.reason);
    SIM_CHECK(r, s->st.replies[TERN_DISPATCH_REPLY_RESET] >= 1, "no stateless reset sent");
    SIM_CHECK(r, s->client_closed_at - at < 100 * SIM_MS, "closed %.3f s after the loss",
              secs(s->client_closed_at - at));
}

/* ---- registry
 * ------------------------------------------------------------------------------------- */

static const sim_scenario registry[] = {
    {"handshake_loss_10pct", "handshake", "handshake and 100 KB with 10% random loss each way", 11,
     scn_handshake_loss_10, 10},
    {"handshake_loss_30pct", "handshake", "handshake and 100 KB with 30% random loss each way", 12,
     scn_handshake_loss_30, 10},
    {"first_flight_lost", "handshake", "the client's whole first flight is lost", 13,
     scn_first_flight_lost},
    {"server_handshake_lost", "handshake", "the server's first Handshake packets are lost", 14,
     scn_server_handshake_lost},
    {"amplification", "handshake",
     "client retransmissions lost for 3 s: server stays within 3x before validation", 15,
     scn_amplification},
    {"retry", "handshake", "server validates the address with Retry, 5% loss", 16, scn_retry},
    {"zero_rtt_lost", "handshake",
     "a resumed connection's 0-RTT requests, two datagrams of them lost, 2% loss", 17,
     scn_zero_rtt_lost, 4},
    {"loss_1pct", "transfer", "10 MB at 50 Mbit/s, 20 ms RTT, 1% random loss", 21, scn_loss_1pct},
    {"loss_5pct", "transfer", "10 MB at 50 Mbit/s, 20 ms RTT, 5% random loss", 22, scn_loss_5pct},
    {"burst_loss", "transfer", "10 MB with Gilbert-Elliott burst loss", 23, scn_burst_loss},
    {"reorder", "transfer", "10 MB with 5% of datagrams delayed 2-15 ms", 24, scn_reorder},
    {"long_rtt", "transfer", "10 MB over a 600 ms RTT, 20 Mbit/s link", 25, scn_long_rtt},
    {"slow_link", "transfer", "10 MB over 1 Mbit/s with an 8-datagram queue", 26, scn_slow_link},
    {"key_update_loss", "transfer", "10 MB at 1% loss with a key update every MiB", 27,
     scn_key_update_loss},
    {"duplication", "transfer", "4 MB with 5% of datagrams duplicated each way", 29,
     scn_duplication},
    {"corruption", "transfer", "4 MB with 2% of datagrams bit-flipped each way", 28,
     scn_corruption},
    {"idle_timeout", "failure", "both ends close by a 3 s idle timeout", 31, scn_idle_timeout},
    {"blackhole", "failure", "link cut mid-transfer: idle timeout, no busy loop", 32,
     scn_blackhole},
    {"stateless_reset", "failure", "server loses state: stateless reset closes the client", 33,
     scn_stateless_reset},
};

/* The suites of the registry, in order: this file's scenarios first. A new suite adds one line. */
static const struct {
    const sim_scenario *list;
    size_t n;
} suites[] = {
    {registry, sizeof(registry) / sizeof(registry[0])},
    {sim_migration_scenarios, SIM_MIGRATION_SCENARIOS},
    {sim_migration_wire_scenarios, SIM_MIGRATION_WIRE_SCENARIOS},
    {sim_failover_scenarios, SIM_FAILOVER_SCENARIOS},
    {sim_recovery_scenarios, SIM_RECOVERY_SCENARIOS},
    {sim_policy_scenarios, SIM_POLICY_SCENARIOS},
    {sim_ecn_scenarios, SIM_ECN_SCENARIOS},
    {sim_datagram_scenarios, SIM_DATAGRAM_SCENARIOS},
    {sim_pmtud_scenarios, SIM_PMTUD_SCENARIOS},
    {sim_version_scenarios, SIM_VERSION_SCENARIOS},
    {sim_ackfreq_scenarios, SIM_ACKFREQ_SCENARIOS},
    {sim_multipath_scenarios, SIM_MULTIPATH_SCENARIOS},
};

/* Every suite's scenarios in one array. */
const sim_scenario *sim_scenarios(size_t *n)
{
    static sim_scenario all[sizeof(registry) / sizeof(registry[0]) + SIM_MIGRATION_SCENARIOS +
                            SIM_MIGRATION_WIRE_SCENARIOS +
                            SIM_FAILOVER_SCENARIOS + SIM_RECOVERY_SCENARIOS +
                            SIM_POLICY_SCENARIOS + SIM_ECN_SCENARIOS + SIM_DATAGRAM_SCENARIOS +
                            SIM_PMTUD_SCENARIOS + SIM_VERSION_SCENARIOS +
                            SIM_ACKFREQ_SCENARIOS + SIM_MULTIPATH_SCENARIOS];
    static size_t count;
    if (!count)
        for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
            memcpy(all + count, suites[i].list, suites[i].n * sizeof(sim_scenario));
            count += suites[i].n;
        }
    *n = count;
    return all;
}
