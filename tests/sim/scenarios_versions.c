/* The version suite: QUIC version 2 end to end, a client that begins in v1 and is moved to v2 by
 * the server within its first flight (compatible negotiation, RFC 9368 §2.3), a client that
 * begins in v2 towards a server that only has v1 (Version Negotiation, then v1), a forged Version
 * Negotiation packet that tries to push two v2 endpoints down to v1 (refused with
 * VERSION_NEGOTIATION_ERROR), and a v2 download under loss across a migration. Each scenario
 * checks what went on the wire: the version of every long header either way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "sim_mig.h"
#include "sim_node.h"

#define V1 TERN_PROTO_VERSION_1
#define V2 TERN_PROTO_VERSION_2
#define MBIT 1000000ull

static void versions(tern_config *cfg, uint32_t a, uint32_t b)
{
    cfg->quic_versions_count = b ? 2 : 1;
    cfg->quic_versions[0] = a;
    cfg->quic_versions[1] = b;
}

/* What crossed the server's network edge, long headers only. */
typedef struct wire {
    uint32_t first_up;       /* version of the first long header the server host received */
    uint64_t up[2], down[2]; /* long-header packets by version: [0] v1, [1] v2 */
    uint64_t down_other;     /* Version Negotiation packets sent (version 0) */
    uint64_t up_v1_after_v2; /* client packets in v1 after its first one in v2 */
    uint64_t first_down_at;  /* when the server first sent */
} wire;

static void count(wire *w, const sim_pkt *p, int up)
{
    size_t off = 0;
    while (off < p->len) {
        tern_pkt_hdr h;
        if (!(p->data[off] & 0x80) || tern_pkt_parse(p->data + off, p->len - off, 8, &h) ||
            h.pkt_len == 0)
            return;
        uint64_t *by = up ? w->up : w->down;
        if (up && !w->first_up)
            w->first_up = h.version;
        if (h.version == V1) {
            by[0]++;
            if (up && w->up[1])
                w->up_v1_after_v2++;
        } else if (h.version == V2) {
            by[1]++;
        } else if (!up) {
            w->down_other++;
        }
        if (h.type == TERN_PKT_VN || h.type == TERN_PKT_RETRY)
            return;
        off += h.pkt_len;
    }
}

static void wire_recv(sim *s, const sim_pkt *p)
{
    count(s->ud, p, 1);
}

static void wire_send(sim *s, const sim_pkt *p)
{
    wire *w = s->ud;
    if (!w->first_down_at)
        w->first_down_at = sim_time(s);
    count(w, p, 0);
}

static void watch(sim *s, wire *w)
{
    memset(w, 0, sizeof(*w));
    s->ud = w;
    s->on_server_recv = wire_recv;
    s->on_server_send = wire_send;
}

/* A plain interface without NAT: 10 ms each way, 50 Mbit/s. */
static int plain_path(sim *s)
{
    sim_link_cfg l = {.rate_bps = 50 * MBIT,
                      .delay_ns = 10 * SIM_MS,
                      .jitter_ns = 500 * SIM_US,
                      .queue_bytes = 256 * 1024};
    return sim_add_iface(s, "wifi", "10.0.1.2:5000", &l, NULL);
}

static void loss(sim *s, int i, double rate)
{
    sim_loss_cfg c = {.rate = rate};
    for (int d = 0; d < 2; d++)
        sim_iface_append(s, i, d, &sim_loss_new(s, i, d, &c)->n);
}

static void expect_version(sim *s, sim_result *r, uint32_t v)
{
    SIM_CHECK(r, tern_conn_quic_version(s->client) == v, "client speaks 0x%08x",
              (unsigned)tern_conn_quic_version(s->client));
    SIM_CHECK(r, tern_conn_quic_version(sim_server_conn(s)) == v, "server speaks 0x%08x",
              (unsigned)tern_conn_quic_version(sim_server_conn(s)));
}

static void download(sim *s, sim_result *r, uint64_t bytes, uint64_t bound, const wire *w)
{
    uint64_t xfer = 0;
    TRY(r, start_download(s, r, bytes));
    TRY(r, finish_download(s, r, bound, &xfer));
    char extra[160];
    snprintf(extra, sizeof(extra),
             "connected %.1f ms; long headers up v1 %llu v2 %llu, down v1 %llu v2 %llu",
             msecs(s->connected_at), (unsigned long long)w->up[0], (unsigned long long)w->up[1],
             (unsigned long long)w->down[0], (unsigned long long)w->down[1]);
    summarize(s, r, xfer, extra);
}

/* Both ends speak only v2: every long header is v2, the download is whole. */
static void scn_v2_only(sim *s, sim_result *r)
{
    int i = plain_path(s);
    loss(s, i, 0.01);
    versions(&s->cfg_c, V2, 0);
    versions(&s->cfg_s, V2, 0);
    wire w;
    watch(s, &w);
    TRY(r, download(s, r, 2 * MB, 5 * SIM_SEC, &w));
    TRY(r, expect_version(s, r, V2));
    SIM_CHECK(r, w.up[0] == 0 && w.down[0] == 0, "v1 on the wire: up %llu down %llu",
              (unsigned long long)w.up[0], (unsigned long long)w.down[0]);
    SIM_CHECK(r, w.up[1] >= 2 && w.down[1] >= 2, "too few v2 long headers");
    SIM_CHECK(r, s->st.replies[TERN_DISPATCH_REPLY_VN] == 0, "Version Negotiation was sent");
}

/* The client begins in v1 offering v2, the server prefers v2: its first packets are already v2,
 * the client follows with its next Initial, and the handshake takes one round trip as in v1. */
static void scn_compatible_upgrade(sim *s, sim_result *r)
{
    plain_path(s);
    versions(&s->cfg_c, V1, V2);
    versions(&s->cfg_s, V2, V1);
    wire w;
    watch(s, &w);
    TRY(r, download(s, r, 1 * MB, 3 * SIM_SEC, &w));
    TRY(r, expect_version(s, r, V2));
    SIM_CHECK(r, w.first_up == V1, "the client began in 0x%08x", (unsigned)w.first_up);
    SIM_CHECK(r, w.down[0] == 0, "the server sent %llu v1 packets", (unsigned long long)w.down[0]);
    SIM_CHECK(r, w.down[1] >= 2, "the server sent %llu v2 packets", (unsigned long long)w.down[1]);
    SIM_CHECK(r, w.up[1] >= 1, "the client never sent v2");
    SIM_CHECK(r, w.up_v1_after_v2 == 0, "%llu client v1 packets after its first v2 one",
              (unsigned long long)w.up_v1_after_v2);
    SIM_CHECK(r, s->st.replies[TERN_DISPATCH_REPLY_VN] == 0 && s->st.accepts == 1,
              "VN %llu, accepts %llu", (unsigned long long)s->st.replies[TERN_DISPATCH_REPLY_VN],
              (unsigned long long)s->st.accepts);
    /* no extra round trip: the RTT is 20 ms; a VN round would add another */
    SIM_CHECK(r, s->connected_at < 35 * SIM_MS, "connected at %.1f ms", msecs(s->connected_at));
    SIM_CHECK(r, w.first_down_at < 15 * SIM_MS, "server first sent at %.1f ms",
              msecs(w.first_down_at));
}

/* With Retry: the Retry is in the client's first version (v1) and the Initial that follows it,
 * with the token, is moved to v2 like a first one; its keys derive from the Retry's SCID. */
static void scn_upgrade_after_retry(sim *s, sim_result *r)
{
    int i = plain_path(s);
    loss(s, i, 0.02);
    versions(&s->cfg_c, V1, V2);
    versions(&s->cfg_s, V2, V1);
    s->cfg_s.retry = 1;
    wire w;
    watch(s, &w);
    TRY(r, download(s, r, 512 * 1024, 5 * SIM_SEC, &w));
    TRY(r, expect_version(s, r, V2));
    SIM_CHECK(r, s->st.replies[TERN_DISPATCH_REPLY_RETRY] >= 1, "no Retry");
    SIM_CHECK(r, w.first_up == V1, "the client began in 0x%08x", (unsigned)w.first_up);
    /* the Retry itself is the only v1 packet the server sends */
    SIM_CHECK(r, w.down[0] == s->st.replies[TERN_DISPATCH_REPLY_RETRY],
              "the server sent %llu v1 packets for %llu Retry", (unsigned long long)w.down[0],
              (unsigned long long)s->st.replies[TERN_DISPATCH_REPLY_RETRY]);
    SIM_CHECK(r, w.up_v1_after_v2 == 0, "%llu client v1 packets after its first v2 one",
              (unsigned long long)w.up_v1_after_v2);
}

/* The client prefers v2, the server has v1 only: Version Negotiation, a new attempt in v1, whose
 * version information confirms that v1 was the best choice. */
static void scn_vn_to_v1(sim *s, sim_result *r)
{
    int i = plain_path(s);
    loss(s, i, 0.01);
    versions(&s->cfg_c, V2, V1);
    versions(&s->cfg_s, V1, 0);
    wire w;
    watch(s, &w);
    TRY(r, download(s, r, 1 * MB, 5 * SIM_SEC, &w));
    TRY(r, expect_version(s, r, V1));
    SIM_CHECK(r, w.first_up == V2, "the client began in 0x%08x", (unsigned)w.first_up);
    SIM_CHECK(r, s->st.replies[TERN_DISPATCH_REPLY_VN] >= 1, "no Version Negotiation");
    SIM_CHECK(r, w.down[1] == 0, "the server sent v2");
    SIM_CHECK(r, s->st.accepts == 1, "%llu accepts", (unsigned long long)s->st.accepts);
    /* one round trip more than a handshake */
    SIM_CHECK(r, s->connected_at >= 40 * SIM_MS, "connected at %.1f ms", msecs(s->connected_at));
}

/* An on-path attacker drops the client's first datagram and answers with a Version Negotiation
 * packet that lists only v1, although the server speaks v2 too. */
typedef struct forge_node {
    sim_node n;
    int done;
    uint64_t forged;
} forge_node;

static void forge_forward(sim *s, sim_node *n, sim_pkt *p)
{
    forge_node *f = (forge_node *)n;
    tern_pkt_hdr h;
    if (f->done || tern_pkt_parse(p->data, p->len, 8, &h) || h.type != TERN_PKT_INITIAL) {
        sim_node_emit(s, n, p);
        return;
    }
    f->done = 1;
    static const uint32_t v1[] = {V1};
    uint8_t vn[128];
    size_t len = tern_pkt_write_vn(vn, sizeof(vn), &h.dcid, &h.scid, v1, 1, 0x2a);
    tern_addr client = p->src;
    sim_node_drop(s, n, p, "attacker");
    if (len) {
        sim_send_raw(s, SIM_SERVER, &s->server_addr, &client, vn, len);
        f->forged++;
    }
}

static void forge_free(sim_node *n)
{
    free(n);
}

static const sim_node_ops forge_ops = {"forge_vn", forge_forward, forge_free};

static forge_node *forge_add(sim *s, int i)
{
    forge_node *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    sim_node_register(s, &f->n, &forge_ops, "wifi.up.forge_vn");
    sim_iface_prepend(s, i, SIM_UP, &f->n);
    return f;
}

static void downgrade(sim *s, sim_result *r, uint32_t s0, uint32_t s1, int refused)
{
    int i = plain_path(s);
    forge_node *f = forge_add(s, i);
    versions(&s->cfg_c, V2, V1);
    versions(&s->cfg_s, s0, s1);
    wire w;
    watch(s, &w);
    if (!refused) {
        TRY(r, download(s, r, 256 * 1024, 3 * SIM_SEC, &w));
        TRY(r, expect_version(s, r, V2));
        SIM_CHECK(r, f->forged == 1, "nothing forged");
        SIM_CHECK(r, w.first_up == V1, "the server first saw 0x%08x", (unsigned)w.first_up);
        return;
    }
    SIM_CHECK(r, sim_run(s, sim_cond_client_closed, 3 * SIM_SEC), "the client did not close");
    snprintf(r->summary, sizeof(r->summary), "closed at %.1f ms: 0x%llx %.120s",
             msecs(s->client_closed_at), (unsigned long long)s->client_close.error_code,
             s->client_close.reason);
    SIM_CHECK(r, f->forged == 1, "nothing forged");
    SIM_CHECK(r, !s->connected, "the client connected over a downgrade");
    SIM_CHECK(r,
              s->client_close.error_code == TERN_TE_VERSION_NEGOTIATION_ERROR &&
                  s->client_close.local && !s->client_close.app,
              "closed with 0x%llx (local %d app %d)",
              (unsigned long long)s->client_close.error_code, s->client_close.local,
              s->client_close.app);
    SIM_CHECK(r, strstr(s->client_close.reason, "downgrade") != NULL, "reason: %s",
              s->client_close.reason);
    /* the server is told why: the CONNECTION_CLOSE reached it */
    SIM_CHECK(r, sim_run(s, sim_cond_both_closed, 3 * SIM_SEC), "the server did not close");
    SIM_CHECK(r, s->server_close.error_code == TERN_TE_VERSION_NEGOTIATION_ERROR,
              "server closed with 0x%llx", (unsigned long long)s->server_close.error_code);
    SIM_CHECK(r, sim_bytes_received(s) == 0, "data was delivered");
}

/* The server prefers v1 but has v2: the client, pushed to v1, sees v2 among the server's
 * Available Versions and refuses to go on (RFC 9368 §4). */
static void scn_downgrade_refused(sim *s, sim_result *r)
{
    downgrade(s, r, V1, V2, 1);
}

/* The server prefers v2: the attempt in v1 is moved back to v2 by compatible negotiation, and the
 * attack costs one round trip only. */
static void scn_downgrade_undone(sim *s, sim_result *r)
{
    downgrade(s, r, V2, V1, 0);
}

/* v2 under 1% loss each way on wifi while the client moves to cell mid-download. */
static void scn_v2_migration(sim *s, sim_result *r)
{
    phone ph;
    phone_net(s, &ph);
    loss(s, ph.wifi, 0.01);
    versions(&s->cfg_c, V1, V2);
    versions(&s->cfg_s, V2, 0);
    wire w;
    watch(s, &w);
    tern_addr cell = iface_addr(s, ph.cell, 0);
    verb set = {.addr = cell};
    sim_at(s, 400 * SIM_MS, act_set_active, &set, "client switches to cell");
    TRY(r, download(s, r, 4 * MB, 10 * SIM_SEC, &w));
    TRY(r, expect_version(s, r, V2));
    SIM_CHECK(r, set.rv > 0, "set_active returned %d", set.rv);
    SIM_CHECK(r, w.down[0] == 0, "the server sent v1");
    TRY(r, expect_active(s, r, &cell, &s->server_addr));
    SIM_CHECK(r, count_events(s, SIM_SERVER, TERN_PATH_EV_ACTIVE, -1, "cell") >= 1,
              "the server never moved to cell");
}

const sim_scenario sim_version_scenarios[SIM_VERSION_SCENARIOS] = {
    {"v2_only", "versions", "2 MB in QUIC v2 at 1% loss: no v1 on the wire", 81, scn_v2_only},
    {"compatible_upgrade", "versions",
     "client begins in v1, the server's first flight moves it to v2 in one round trip", 82,
     scn_compatible_upgrade},
    {"upgrade_after_retry", "versions", "Retry in v1, then the upgrade to v2, at 2% loss", 87,
     scn_upgrade_after_retry},
    {"vn_to_v1", "versions", "client prefers v2, server has v1 only: VN, then v1", 83,
     scn_vn_to_v1},
    {"downgrade_refused", "versions",
     "forged VN pushes v2 endpoints to v1: VERSION_NEGOTIATION_ERROR", 84, scn_downgrade_refused},
    {"downgrade_undone", "versions",
     "forged VN, server prefers v2: compatible negotiation brings v2 back", 85,
     scn_downgrade_undone},
    {"v2_migration", "versions", "4 MB in v2 at 1% loss with a move from wifi to cell", 86,
     scn_v2_migration},
};
