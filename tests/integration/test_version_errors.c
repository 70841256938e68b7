/* Version information that contradicts the wire (RFC 9368 §4) and version lists a configuration
 * may not hold. A real pair's server sends altered parameters (tern_tls_set_tparams before it reads
 * the ClientHello): a Chosen Version that is not the version in use makes the client close with
 * VERSION_NEGOTIATION_ERROR, which reaches the server; parameters without version information
 * are a peer that does not implement RFC 9368, which is fine when no Version Negotiation took
 * place. On the server side, a client Initial moved to v2 by an attacker (anyone can: the Initial
 * keys are public) still carries the client's Chosen Version v1, which the server refuses, and an
 * Initial in a version the server does not read (before or after it moved the client) is dropped.
 * A client without a server name starts again after Version Negotiation like one with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "cfgcopy.h"
#include "conn_test.h"
#include "corefx.h"
#include "forge.h"
#include "packet.h"
#include "pair.h"
#include "tern/core.h"
#include "tls.h"

#define SEC 1000000000ull

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void chosen_v2(tern_tparams *tp)
{
    tp->version_info.chosen = TERN_PROTO_VERSION_2;
}
static void no_version_info(tern_tparams *tp)
{
    tp->version_info.present = 0;
}

/* The server says it chose v2 while its packets are v1: refused, and the server is told. */
static void test_server_chosen_not_in_use(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1100), 0);
    p.alter_server_tparams = chosen_v2;
    assert_true(pair_run(&p, pair_cond_client_closing, 5 * SEC));
    assert_true(pair_refused(p.client, TERN_TE_VERSION_NEGOTIATION_ERROR, "chosen version"));
    assert_false(p.connected);
    assert_true(pair_run(&p, pair_cond_server_draining, 5 * SEC));
    assert_int_equal(tern_conn_close_info(p.server)->error_code, TERN_TE_VERSION_NEGOTIATION_ERROR);
    pair_free(&p);
}

/* A server without version information (one that predates RFC 9368): the connection goes on. */
static void test_server_without_version_info(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1101), 0);
    p.alter_server_tparams = no_version_info;
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 50000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_1);
    pair_free(&p);
}

/* The client's first Initial, v1, opened and protected again as a v2 Initial for a server that
 * accepts v2: the server reads a ClientHello whose Chosen Version (v1) is not the version of the
 * packet that carried it, and closes. The untouched Initial is the control. */
static void moved_initial_case(int move, uint64_t seed)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, seed), 0);
    p.cfg_s.quic_versions_count = 2;
    p.cfg_s.quic_versions[0] = TERN_PROTO_VERSION_1;
    p.cfg_s.quic_versions[1] = TERN_PROTO_VERSION_2;
    uint32_t v = move ? TERN_PROTO_VERSION_2 : TERN_PROTO_VERSION_1;
    assert_int_equal(pair_rewrite_first_initial(&p, v, NULL), 0);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_1);
    assert_int_equal(tern_conn_quic_version(p.server), v);
    if (!move) {
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        pair_free(&p);
        return;
    }
    assert_true(pair_refused(p.server, TERN_TE_VERSION_NEGOTIATION_ERROR, "chosen version"));
    pair_run(&p, pair_cond_connected, 2 * SEC);
    assert_false(p.connected);
    pair_free(&p);
}

static void test_client_chosen_not_its_initial(void **st)
{
    moved_initial_case(1, 1102);
    moved_initial_case(0, 1103);
}

/* Log lines of one side, joined. */
typedef struct log_text {
    char buf[4096];
    size_t n;
} log_text;

static void collect(void *ud, const char *line)
{
    log_text *t = ud;
    size_t len = strlen(line);
    if (t->n + len + 2 < sizeof(t->buf)) {
        memcpy(t->buf + t->n, line, len);
        t->n += len;
        t->buf[t->n++] = '\n';
        t->buf[t->n] = 0;
    }
}

static uint64_t pkts_recv(tern_conn *c)
{
    tern_conn_stats st;
    assert_int_equal(tern_conn_get_stats(c, &st), 0);
    return st.pkts_recv;
}

static void empty_available(tern_tparams *tp)
{
    tp->version_info.n = 0;
}

/* A client preferring v2 ({v2, v1}) is created and sends its first Initial (v2, not delivered):
 * into vn[0..return) goes the answer of a server that has only v1, a Version Negotiation packet
 * for that Initial; *first_dcid (when not NULL) is the Initial's DCID. */
static size_t client_v2_and_vn(tern_pair *p, uint8_t *vn, size_t cap, tern_cid *first_dcid)
{
    p->cfg_c.quic_versions_count = 2;
    p->cfg_c.quic_versions[0] = TERN_PROTO_VERSION_2;
    p->cfg_c.quic_versions[1] = TERN_PROTO_VERSION_1;
    assert_true(pair_run(p, pair_cond_now, 0));
    uint8_t dgram[1500];
    tern_path_addr out;
    size_t seg = 0, count = 0;
    assert_int_equal(tern_conn_send(p->client, &out, dgram, sizeof(dgram), 1, &seg, &count, p->now),
                     0);
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(dgram, seg, 8, &h), 0);
    assert_int_equal(h.version, TERN_PROTO_VERSION_2);
    static const uint32_t v1[] = {TERN_PROTO_VERSION_1};
    size_t n = tern_pkt_write_vn(vn, cap, &h.dcid, &h.scid, v1, 1, 0);
    assert_true(n > 0);
    if (first_dcid)
        *first_dcid = h.dcid;
    return n;
}

/* A client that prefers v2 gets a Version Negotiation packet listing v1 in answer to its first
 * Initial, and tries again in v1 towards a v1-only server whose parameters `f` alters (NULL: as
 * they are). `why` NULL: the download works in v1; else the client closes with
 * VERSION_NEGOTIATION_ERROR for that reason. */
static void after_vn_case(void (*f)(tern_tparams *tp), const char *why, uint64_t seed)
{
    tern_pair p;
    log_text lc = {.n = 0};
    assert_int_equal(pair_init(&p, seed), 0);
    p.cfg_c.log = collect;
    p.cfg_c.log_ud = &lc;
    uint8_t dgram[1500], vn[128];
    tern_path_addr out;
    size_t seg = 0, count = 0;
    tern_cid first;
    size_t n = client_v2_and_vn(&p, vn, sizeof(vn), &first);
    tern_conn_recv(p.client, &p.path_c, vn, n, 0, p.now);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_1);
    assert_non_null(strstr(lc.buf, "version negotiation: 0x00000001 instead of 0x6b3343cf"));
    /* the new attempt: a v1 Initial to a new DCID. A second VN for it (listing nothing we speak)
     * is not acted on, and the attempt goes on (this Initial is lost: the next one comes after a
     * PTO) */
    assert_int_equal(tern_conn_send(p.client, &out, dgram, sizeof(dgram), 1, &seg, &count, p.now),
                     0);
    tern_pkt_hdr h2;
    assert_int_equal(tern_pkt_parse(dgram, seg, 8, &h2), 0);
    assert_int_equal(h2.version, TERN_PROTO_VERSION_1);
    assert_false(tern_cid_eq(&h2.dcid, &first));
    static const uint32_t other[] = {0x1a2a3a4a};
    n = tern_pkt_write_vn(vn, sizeof(vn), &h2.dcid, &h2.scid, other, 1, 0);
    tern_conn_recv(p.client, &p.path_c, vn, n, 0, p.now);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_HANDSHAKE);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_1);
    if (f) {
        p.alter_server_tparams = f;
    }
    if (!why) {
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_int_equal(pair_request(&p, 100000), 0);
        assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
        assert_int_equal(tern_conn_quic_version(p.server), TERN_PROTO_VERSION_1);
        pair_free(&p);
        return;
    }
    assert_true(pair_run(&p, pair_cond_client_closing, 5 * SEC));
    assert_true(pair_refused(p.client, TERN_TE_VERSION_NEGOTIATION_ERROR, why));
    assert_false(p.connected);
    pair_free(&p);
}

/* RFC 9368 §4 and §8 after Version Negotiation: version information that confirms v1, none at all
 * from a v1 server (read as "v1 only"), and an empty list of available versions. */
static void test_after_version_negotiation(void **st)
{
    after_vn_case(NULL, NULL, 1104);
    after_vn_case(no_version_info, NULL, 1105);
    after_vn_case(empty_available, "no available versions", 1106);
}

/* A new attempt after Version Negotiation needs a new first DCID: without random bytes for it
 * the connection ends as if no version were in common, and says so. */
static void test_new_attempt_without_randomness(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, 1107), 0);
    uint8_t vn[128];
    size_t n = client_v2_and_vn(&p, vn, sizeof(vn), NULL);
    p.rand_fail = 1;
    tern_conn_recv(p.client, &p.path_c, vn, n, 0, p.now);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_DONE);
    assert_int_equal(tern_conn_close_info(p.client)->status, TERN_ERR_VERSION);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_2);
    pair_free(&p);
}

/* A program built before the version list: its tern_config ends at qlog_ud, and whatever lies
 * beyond in its memory is not read: its client speaks v1, as it did. The same bytes read as a
 * list by a program of this header are refused. */
static void test_older_layout_speaks_v1(void **st)
{
    tern_config cfg;
    memset(&cfg, 0xA5, sizeof(cfg));
    corefx_client_config(&cfg);
    memset(&cfg.quic_versions_count, 0xA5,
           sizeof(cfg) - offsetof(tern_config, quic_versions_count)); /* garbage after it */
    size_t old = offsetof(tern_config, qlog_ud) + sizeof(void *);
    tern_path_addr path = {.local = corefx_addr("10.0.1.1:4000"),
                           .remote = corefx_addr("10.0.0.9:443")};
    uint64_t seed = 1108;
    tern_conn *c = NULL;
    assert_int_equal(tern_core_client_new_sized(&cfg, old, NULL, sizeof(tern_callbacks), NULL,
                                                &path, "localhost", corefx_rand, &seed, SEC, &c),
                     0);
    assert_int_equal(tern_conn_quic_version(c), TERN_PROTO_VERSION_1);
    uint8_t buf[1500];
    size_t seg = 0, count = 0;
    assert_true(tern_core_send(c, buf, sizeof(buf), 1, &path, &seg, &count, SEC) > 0);
    assert_int_equal(be32(buf + 1), TERN_PROTO_VERSION_1);
    tern_core_conn_free(c);
    c = NULL;
    assert_int_equal(tern_core_client_new_sized(&cfg, sizeof(cfg), NULL, sizeof(tern_callbacks),
                                                NULL, &path, "localhost", corefx_rand, &seed, SEC,
                                                &c),
                     TERN_ERR_CONFIG);
    assert_null(c);
    /* a v2 client through the same API: its first Initial is v2 */
    corefx_client_config(&cfg);
    cfg.quic_versions_count = 1;
    cfg.quic_versions[0] = TERN_PROTO_VERSION_2;
    assert_int_equal(
        tern_core_client_new(&cfg, NULL, NULL, &path, "localhost", corefx_rand, &seed, SEC, &c), 0);
    assert_true(tern_core_send(c, buf, sizeof(buf), 1, &path, &seg, &count, SEC) > 0);
    assert_int_equal(be32(buf + 1), TERN_PROTO_VERSION_2);
    assert_int_equal(buf[0] & 0x30, 0x10); /* v2's Initial codepoint */
    tern_core_conn_free(c);
}

/* The compatible upgrade step by step on a pair: the server reads the client's v1 Initial (and
 * a copy of it, with the v1 keys it keeps) and answers in v2; the client drops a forged v2
 * Initial (its candidate v2 keys do not authenticate it), takes the real one and moves to v2;
 * from then on v1 packets are dropped before decryption, whatever their level. */
static void test_upgrade_step_by_step(void **st)
{
    tern_pair p;
    log_text lc = {.n = 0}, ls = {.n = 0};
    assert_int_equal(pair_init(&p, 1109), 0);
    p.cfg_c.quic_versions_count = p.cfg_s.quic_versions_count = 2;
    p.cfg_c.quic_versions[0] = p.cfg_s.quic_versions[1] = TERN_PROTO_VERSION_1;
    p.cfg_c.quic_versions[1] = p.cfg_s.quic_versions[0] = TERN_PROTO_VERSION_2;
    p.cfg_c.log = p.cfg_s.log = collect;
    p.cfg_c.log_ud = &lc;
    p.cfg_s.log_ud = &ls;
    assert_true(pair_run(&p, pair_cond_now, 0));
    uint8_t ci[1500], copy[1500], si[1500], bad[1500];
    tern_path_addr out;
    size_t clen = 0, slen = 0, count = 0;
    assert_int_equal(tern_conn_send(p.client, &out, ci, sizeof(ci), 1, &clen, &count, p.now), 0);
    assert_int_equal(be32(ci + 1), TERN_PROTO_VERSION_1);
    memcpy(copy, ci, clen);
    assert_int_equal(pair_accept(&p, ci, clen), 0);
    tern_conn_recv(p.server, &p.path_s, ci, clen, 0, p.now);
    assert_int_equal(tern_conn_quic_version(p.server), TERN_PROTO_VERSION_2);
    assert_non_null(
        strstr(ls.buf, "version 0x6b3343cf chosen for a client that began in 0x00000001"));
    uint64_t before = pkts_recv(p.server);
    tern_conn_recv(p.server, &p.path_s, copy, clen, 0, p.now); /* opened, then a duplicate */
    assert_int_equal(pkts_recv(p.server), before);
    assert_int_equal(tern_conn_state(p.server), TERN_CS_HANDSHAKE);

    assert_int_equal(tern_conn_send(p.server, &out, si, sizeof(si), 1, &slen, &count, p.now), 0);
    assert_int_equal(be32(si + 1), TERN_PROTO_VERSION_2);
    assert_int_equal(si[0] & 0x30, 0x10);
    memcpy(bad, si, slen);
    bad[60] ^= 0x40; /* in the protected payload of the Initial */
    tern_conn_recv(p.client, &p.path_c, bad, slen, 0, p.now);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_1);
    assert_int_equal(pkts_recv(p.client), 0);
    tern_conn_recv(p.client, &p.path_c, si, slen, 0, p.now);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_2);
    assert_non_null(strstr(lc.buf, "server moved the connection to version 0x6b3343cf"));
    uint64_t got = pkts_recv(p.client);
    assert_true(got >= 1);

    /* v1 packets now: an Initial with the v1 keys of the client's DCID, and a Handshake header */
    uint8_t frame[] = {0x01}; /* PING */
    const tern_cid *odcid = tern_conn_initial_dcid(p.client);
    const tern_cid *cscid = &tern_conn_local_tparams(p.client)->initial_scid;
    const tern_cid *sscid = tern_conn_peer_initial_scid(p.client);
    size_t n = forge_initial(1, TERN_PROTO_VERSION_1, odcid, cscid, sscid, NULL, 0, 7, frame, 1,
                             1200, bad, sizeof(bad));
    assert_true(n >= 1200);
    tern_conn_recv(p.client, &p.path_c, bad, n, 0, p.now);
    size_t len_off;
    n = tern_pkt_write_long(bad, sizeof(bad), TERN_PKT_HANDSHAKE, TERN_PROTO_VERSION_1, cscid,
                            sscid, NULL, 0, 9, 1, &len_off);
    assert_true(n > 0);
    memset(bad + n, 0x33, 60);
    assert_int_equal(tern_pkt_set_length(bad + len_off, 1 + 60), 0);
    tern_conn_recv(p.client, &p.path_c, bad, n + 60, 0, p.now);
    assert_int_equal(pkts_recv(p.client), got);
    assert_int_equal(tern_conn_quic_version(p.client), TERN_PROTO_VERSION_2);
    assert_true(tern_conn_state(p.client) < TERN_CS_CLOSING);

    /* and the pair completes the handshake and a download in v2 */
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_int_equal(pair_request(&p, 200000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* A client without a server name (no SNI: an address, a private deployment) that prefers v2
 * gets a Version Negotiation listing v1: it starts again in v1, to a new first DCID, as one with
 * a name does. */
static void test_vn_without_server_name(void **st)
{
    tern_config cfg;
    corefx_client_config(&cfg);
    cfg.quic_versions_count = 2;
    cfg.quic_versions[0] = TERN_PROTO_VERSION_2;
    cfg.quic_versions[1] = TERN_PROTO_VERSION_1;
    tern_path_addr path = {.local = corefx_addr("10.0.1.1:4000"),
                           .remote = corefx_addr("10.0.0.9:443")};
    uint64_t seed = 1110;
    tern_conn *c = NULL;
    assert_int_equal(
        tern_core_client_new(&cfg, NULL, NULL, &path, NULL, corefx_rand, &seed, SEC, &c), 0);
    uint8_t buf[1500], vn[128];
    size_t seg = 0, count = 0;
    tern_path_addr out;
    assert_true(tern_core_send(c, buf, sizeof(buf), 1, &out, &seg, &count, SEC) > 0);
    tern_pkt_hdr h;
    assert_int_equal(tern_pkt_parse(buf, seg, 8, &h), 0);
    assert_int_equal(h.version, TERN_PROTO_VERSION_2);
    tern_cid first = h.dcid;
    static const uint32_t v1[] = {TERN_PROTO_VERSION_1};
    size_t n = tern_pkt_write_vn(vn, sizeof(vn), &h.dcid, &h.scid, v1, 1, 0);
    assert_true(n > 0);
    assert_int_equal(tern_core_recv(c, &path, vn, n, 0, SEC + 1000), 0);
    assert_int_equal(tern_core_state(c), TERN_CORE_HANDSHAKE);
    assert_int_equal(tern_conn_quic_version(c), TERN_PROTO_VERSION_1);
    assert_true(tern_core_send(c, buf, sizeof(buf), 1, &out, &seg, &count, SEC + 1000) > 0);
    assert_int_equal(tern_pkt_parse(buf, seg, 8, &h), 0);
    assert_int_equal(h.version, TERN_PROTO_VERSION_1);
    assert_int_equal(h.type, TERN_PKT_INITIAL);
    assert_true(seg >= 1200);
    assert_false(tern_cid_eq(&h.dcid, &first));
    tern_core_conn_free(c);
}

/* A server reads Initials in the version in use, and, once it moved the client to another, in
 * the one the client began in: an Initial in any other version is dropped unread, before and
 * after a move, and the handshake carries on. */
static void test_server_drops_other_versions(void **st)
{
    for (int upgrade = 0; upgrade <= 1; upgrade++) {
        tern_pair p;
        assert_int_equal(pair_init(&p, 1111 + (uint64_t)upgrade), 0);
        if (upgrade) {
            p.cfg_c.quic_versions_count = p.cfg_s.quic_versions_count = 2;
            p.cfg_c.quic_versions[0] = p.cfg_s.quic_versions[1] = TERN_PROTO_VERSION_1;
            p.cfg_c.quic_versions[1] = p.cfg_s.quic_versions[0] = TERN_PROTO_VERSION_2;
        }
        assert_true(pair_run(&p, pair_cond_now, 0));
        uint8_t ci[1500], bad[1500];
        tern_path_addr out;
        size_t clen = 0, count = 0;
        assert_int_equal(tern_conn_send(p.client, &out, ci, sizeof(ci), 1, &clen, &count, p.now),
                         0);
        assert_int_equal(pair_accept(&p, ci, clen), 0);
        memcpy(bad, ci, clen);
        tern_conn_recv(p.server, &p.path_s, ci, clen, 0, p.now);
        assert_int_equal(tern_conn_quic_version(p.server),
                         upgrade ? TERN_PROTO_VERSION_2 : TERN_PROTO_VERSION_1);
        uint64_t before = pkts_recv(p.server);
        /* the client's Initial again, as v2 would protect it (not upgraded: a version the server
         * does not use), or under a version nobody speaks (upgraded: neither of the two) */
        const tern_cid *odcid = tern_conn_initial_dcid(p.client);
        const tern_cid *cscid = &tern_conn_local_tparams(p.client)->initial_scid;
        uint8_t frame[] = {0x01};
        size_t n;
        if (!upgrade) {
            n = forge_initial(0, TERN_PROTO_VERSION_2, odcid, odcid, cscid, NULL, 0, 5, frame, 1,
                              1200, bad, sizeof(bad));
            assert_true(n >= 1200);
        } else {
            n = clen;
            bad[1] = 0x1a, bad[2] = 0x2a, bad[3] = 0x3a, bad[4] = 0x4a;
        }
        tern_conn_recv(p.server, &p.path_s, bad, n, 0, p.now);
        assert_int_equal(pkts_recv(p.server), before);
        assert_int_equal(tern_conn_state(p.server), TERN_CS_HANDSHAKE);
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        assert_int_equal(tern_conn_quic_version(p.client), tern_conn_quic_version(p.server));
        pair_free(&p);
    }
}

/* Version lists a driver refuses to copy. */
static void test_config_lists(void **st)
{
    static const char *alpn[] = {"hq-interop"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    tern_cfg_copy d;
    static const uint32_t bad[][2] = {{TERN_PROTO_VERSION_1, TERN_PROTO_VERSION_1},
                                      {TERN_PROTO_VERSION_1, 0xff00001d},
                                      {0, TERN_PROTO_VERSION_1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.quic_versions_count = 2;
        memcpy(cfg.quic_versions, bad[i], sizeof(bad[i]));
        assert_int_equal(tern_cfg_copy_init(&d, &cfg), TERN_ERR_CONFIG);
    }
    cfg.quic_versions_count = TERN_MAX_QUIC_VERSIONS + 1;
    assert_int_equal(tern_cfg_copy_init(&d, &cfg), TERN_ERR_CONFIG);
    cfg.quic_versions_count = 2;
    cfg.quic_versions[0] = TERN_PROTO_VERSION_2;
    cfg.quic_versions[1] = TERN_PROTO_VERSION_1;
    assert_int_equal(tern_cfg_copy_init(&d, &cfg), 0);
    assert_int_equal(d.cfg.quic_versions[0], TERN_PROTO_VERSION_2);
    tern_cfg_copy_free(&d);
    /* the default layout says v1 alone */
    tern_config_init(&cfg);
    assert_int_equal(cfg.quic_versions_count, 0);
    assert_int_equal(tern_conn_quic_version(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_chosen_not_in_use),
        cmocka_unit_test(test_server_without_version_info),
        cmocka_unit_test(test_client_chosen_not_its_initial),
        cmocka_unit_test(test_after_version_negotiation),
        cmocka_unit_test(test_new_attempt_without_randomness),
        cmocka_unit_test(test_upgrade_step_by_step),
        cmocka_unit_test(test_vn_without_server_name),
        cmocka_unit_test(test_server_drops_other_versions),
        cmocka_unit_test(test_config_lists),
        cmocka_unit_test(test_older_layout_speaks_v1),
    };
    return cmocka_run_group_tests(tests, corefx_group_setup, corefx_group_teardown);
}
