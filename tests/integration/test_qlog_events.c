/* The qlog events docs/qlog.md lists, as a pair of real cores records them through the `qlog`
 * callback: 1-RTT key updates started by either side (trigger and key phase per direction),
 * connection_closed for every kind of close on both sides (transport, CRYPTO_ERROR and unknown
 * codes, application close, clean close, idle timeout, stateless reset), a Retry's token in the
 * header of the client's next Initial, tern:network_event as reported, and packet_lost listing each
 * kind of frame a sent-packet record keeps, with the values it keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "forge.h"
#include "pair.h"
#include "policy.h"
#include "qlog.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* Every record of one side, one after the other (as a .sqlog file holds them). */
typedef struct qlog_buf {
    char text[1 << 20];
    size_t n;
    unsigned records;
} qlog_buf;

static qlog_buf qc, qs;

static void keep(qlog_buf *b, const char *r, size_t len)
{
    if (b->n + len + 1 > sizeof(b->text)) /* a long run: keep the latest */
        b->n = 0;
    memcpy(b->text + b->n, r, len);
    b->n += len;
    b->text[b->n] = 0;
    b->records++;
}
static void rec_client(void *ud, tern_conn *c, const char *r, size_t len)
{
    keep(&qc, r, len);
}
static void rec_server(void *ud, tern_conn *c, const char *r, size_t len)
{
    keep(&qs, r, len);
}

static void forget(void)
{
    qc.n = qs.n = 0;
    qc.text[0] = qs.text[0] = 0;
}

/* Occurrences of `s` in what `b` recorded since the last forget(). */
static int count(const qlog_buf *b, const char *s)
{
    int n = 0;
    for (const char *p = b->text; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

static void expect_once(const qlog_buf *b, const char *s)
{
    int n = count(b, s);
    if (n != 1)
        fprintf(stderr, "%d times: %s\nin:\n%s\n", n, s, b->text);
    assert_int_equal(n, 1);
}

static uint64_t next_seed = 900;

static void start(tern_pair *p, void (*tune)(tern_pair *p))
{
    assert_int_equal(pair_init(p, next_seed++), 0);
    p->cfg_c.qlog = rec_client;
    p->cfg_s.qlog = rec_server;
    if (tune)
        tune(p);
    assert_true(pair_connect(p));
    forget();
}

static int never(tern_pair *p)
{
    return 0;
}

/* A download after the update, so that the peer sees the new phase and answers in it. */
static void exchange(tern_pair *p)
{
    assert_true(pair_request(p, 5000) >= 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
    pair_run(p, never, 200 * MS); /* acknowledgements of the new phase */
}

#define KEY(type, phase, trigger)                                                                  \
    "\"name\":\"quic:key_updated\",\"data\":{\"key_type\":\"" type "\",\"key_phase\":" phase       \
    ",\"trigger\":\"" trigger "\"}"

static void test_key_updates(void **st)
{
    tern_pair p;
    start(&p, NULL);
    /* the client starts: its send keys now, its receive keys when the server follows */
    assert_int_equal(tern_conn_key_update(p.client), 0);
    expect_once(&qc, KEY("client_1rtt_secret", "1", "local_update"));
    assert_int_equal(count(&qc, "quic:key_updated"), 1);
    exchange(&p);
    expect_once(&qc, KEY("server_1rtt_secret", "1", "local_update"));
    /* the server follows a remote update in both directions */
    expect_once(&qs, KEY("client_1rtt_secret", "1", "remote_update"));
    expect_once(&qs, KEY("server_1rtt_secret", "1", "remote_update"));
    assert_int_equal(count(&qc, "quic:key_updated"), 2);
    assert_int_equal(count(&qs, "quic:key_updated"), 2);

    /* then the server starts one: phase 2 in each direction on both sides */
    forget();
    assert_int_equal(tern_conn_key_update(p.server), 0);
    expect_once(&qs, KEY("server_1rtt_secret", "2", "local_update"));
    exchange(&p);
    expect_once(&qs, KEY("client_1rtt_secret", "2", "local_update"));
    expect_once(&qc, KEY("server_1rtt_secret", "2", "remote_update"));
    expect_once(&qc, KEY("client_1rtt_secret", "2", "remote_update"));
    assert_int_equal(tern_conn_key_updates(p.client), 2);
    assert_true(pair_verify(&p));
    pair_free(&p);
}

/* ---- connection_closed ----------------------------------------------------------------------- */

#define CLOSED(initiator, rest)                                                                    \
    "\"name\":\"quic:connection_closed\",\"data\":{\"initiator\":\"" initiator "\"," rest "}"

static int cond_both_draining(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_DRAINING &&
           tern_conn_state(p->server) >= TERN_CS_DRAINING;
}

/* The server receives `f` from the client and closes; both sides record why. */
static void server_fails(const uint8_t *f, size_t len, const char *srv, const char *cli)
{
    tern_pair p;
    start(&p, NULL);
    pair_inject_1rtt(&p, 1, f, len);
    assert_true(pair_run(&p, cond_both_draining, 5 * SEC));
    expect_once(&qs, srv);
    expect_once(&qc, cli);
    assert_int_equal(count(&qs, "quic:connection_closed"), 1);
    assert_int_equal(count(&qc, "quic:connection_closed"), 1);
    pair_free(&p);
}

/* The client receives the peer's CONNECTION_CLOSE `f`. */
static void peer_closes(const uint8_t *f, size_t len, const char *cli)
{
    tern_pair p;
    start(&p, NULL);
    pair_inject_1rtt(&p, 0, f, len);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_DRAINING);
    expect_once(&qc, cli);
    pair_free(&p);
}

static void test_transport_closes(void **st)
{
    static const uint8_t done[] = {0x1e}; /* HANDSHAKE_DONE from a client */
    server_fails(done, sizeof(done),
                 CLOSED("local", "\"connection_error\":\"protocol_violation\",\"reason\":"
                                 "\"HANDSHAKE_DONE from a client\",\"trigger\":\"error\""),
                 CLOSED("remote", "\"connection_error\":\"protocol_violation\",\"reason\":"
                                  "\"HANDSHAKE_DONE from a client\",\"trigger\":\"error\""));
    /* a TLS KeyUpdate message in CRYPTO: unexpected_message, CRYPTO_ERROR 0x10a */
    static const uint8_t key_update[] = {0x06, 0x00, 0x05, 24, 0, 0, 1, 0};
    server_fails(key_update, sizeof(key_update),
                 CLOSED("local", "\"connection_error\":\"crypto_error_0x10a\",\"reason\":"
                                 "\"TLS alert 10\",\"trigger\":\"error\""),
                 CLOSED("remote", "\"connection_error\":\"crypto_error_0x10a\",\"reason\":"
                                  "\"TLS alert 10\",\"trigger\":\"error\""));
    /* a code past every range this side knows: kept as a number */
    static const uint8_t odd[] = {0x1c, 0x42, 0x00, 0x00, 0x01, 'z'};
    peer_closes(odd, sizeof(odd),
                CLOSED("remote", "\"connection_error\":\"unknown\",\"error_code\":512,\"reason\":"
                                 "\"z\",\"trigger\":\"error\""));
    /* NO_ERROR from the peer: a clean close */
    static const uint8_t clean[] = {0x1c, 0x00, 0x00, 0x00};
    peer_closes(
        clean, sizeof(clean),
        CLOSED("remote",
               "\"connection_error\":\"no_error\",\"reason\":\"\",\"trigger\":\"unspecified\""));
}

static void test_application_close(void **st)
{
    tern_pair p;
    start(&p, NULL);
    assert_int_equal(tern_conn_close(p.client, 7, "bye"), 0);
    assert_true(pair_run(&p, cond_both_draining, 5 * SEC));
    expect_once(&qc, CLOSED("local", "\"application_error\":\"unknown\",\"error_code\":7,"
                                     "\"reason\":\"bye\",\"trigger\":\"application\""));
    expect_once(&qs, CLOSED("remote", "\"application_error\":\"unknown\",\"error_code\":7,"
                                      "\"reason\":\"bye\",\"trigger\":\"application\""));
    pair_free(&p);
}

static void short_idle(tern_pair *p)
{
    p->cfg_c.idle_timeout_ms = 300;
    p->cfg_s.idle_timeout_ms = 300;
}

static void test_idle_timeout_and_reset(void **st)
{
    tern_pair p;
    start(&p, short_idle);
    p.c2s.blackhole = p.s2c.blackhole = 1;
    pair_run(&p, never, 2 * SEC);
    assert_true(tern_conn_is_done(p.client));
    expect_once(&qc, "\"initiator\":\"local\",\"connection_error\":\"no_error\"");
    expect_once(&qc, "\"trigger\":\"idle_timeout\"");
    expect_once(&qs, "\"trigger\":\"idle_timeout\"");
    pair_free(&p);

    start(&p, NULL);
    uint8_t reset[64];
    size_t n = forge_stateless_reset(p.client, sizeof(reset), 5, reset, sizeof(reset));
    assert_int_equal(n, sizeof(reset));
    assert_int_equal(tern_conn_recv(p.client, &p.path_c, reset, n, 0, p.now), TERN_ERR_CLOSED);
    expect_once(&qc, CLOSED("remote", "\"connection_error\":\"no_error\",\"reason\":"
                                      "\"stateless reset\",\"trigger\":\"stateless_reset\""));
    pair_free(&p);
}

/* After a Retry the client's Initial carries the token: its header says so (type and length), and
 * the Initial sent before it is reported lost at once, without a trigger. */
static void test_retry_token_in_header(void **st)
{
    tern_pair p;
    assert_int_equal(pair_init(&p, next_seed++), 0);
    p.cfg_c.qlog = rec_client;
    p.c2s.blackhole = 1;
    pair_run(&p, never, 1 * MS);
    forget();
    uint8_t pkt[256];
    size_t n = forge_retry(p.client, 0x22, pkt, sizeof(pkt));
    assert_true(n > 0);
    tern_conn_recv(p.client, &p.path_c, pkt, n, 0, p.now);
    assert_true(tern_conn_retry_received(p.client));
    expect_once(&qc, "\"name\":\"quic:packet_lost\",\"data\":{\"header\":{\"packet_type\":"
                     "\"initial\",\"packet_number\":0},\"frames\":[{\"frame_type\":\"crypto\","
                     "\"offset\":0,");
    assert_int_equal(count(&qc, "\"trigger\":\"reordering_threshold\""), 0);
    assert_int_equal(count(&qc, "\"trigger\":\"time_threshold\""), 0);
    uint8_t out[1500];
    tern_path_addr pa;
    size_t seg = 0, cnt = 0;
    assert_int_equal(tern_conn_send(p.client, &pa, out, sizeof(out), 1, &seg, &cnt, p.now), 0);
    assert_int_equal(cnt, 1);
    expect_once(&qc, "\"packet_type\":\"initial\",\"packet_number\":1,");
    expect_once(&qc, "\"scid\":\"");
    expect_once(&qc, "\"token\":{\"type\":\"retry\",\"raw\":{\"length\":8}},\"dcil\":8,"
                     "\"dcid\":\"2222222222222222\"}");
    pair_free(&p);
}

static void auto_migrate(tern_pair *p)
{
    p->cfg_c.auto_migrate = 1;
}

/* tern's own network_event records what the OS reported: the type by name (or "unknown"), the
 * interface, and the address only when the event has one. */
static void test_network_events(void **st)
{
    tern_pair p;
    start(&p, auto_migrate);
    tern_net_event down = {.type = TERN_NET_LINK_DOWN, .ifindex = 7, .ifname = "wlan9"};
    tern_conn_network_event(p.client, &down, p.now);
    expect_once(&qc, "\"name\":\"tern:network_event\",\"data\":{\"type\":\"link_down\","
                     "\"ifindex\":7,\"ifname\":\"wlan9\"}");
    tern_net_event odd = {.type = (tern_net_event_type)9, .ifindex = 8, .ifname = ""};
    tern_conn_network_event(p.client, &odd, p.now);
    expect_once(&qc, "\"data\":{\"type\":\"unknown\",\"ifindex\":8,\"ifname\":\"\"}");
    tern_net_event gone = {.type = TERN_NET_ADDR_REMOVED, .ifindex = 7, .ifname = "wlan9"};
    assert_int_equal(tern_addr_parse(&gone.addr, "10.9.8.7:0", 0), 0);
    tern_conn_network_event(p.client, &gone, p.now);
    expect_once(&qc, "\"data\":{\"type\":\"address_removed\",\"ifindex\":7,\"ifname\":\"wlan9\","
                     "\"address\":{\"ip_v4\":\"10.9.8.7\",\"port_v4\":0}}");
    assert_int_equal(count(&qc, "tern:network_event"), 3);
    /* none of them touched the connection's own path */
    assert_true(tern_conn_state(p.client) < TERN_CS_CLOSING);
    assert_int_equal(tern_conn_active_index(p.client), 0);
    pair_free(&p);
}

/* ---- packet_lost ----------------------------------------------------------------------------- */

static void add(tern_sent_pkt *pk, uint8_t type, uint64_t id, uint64_t off, uint32_t len, int fin,
                uint16_t aux)
{
    tern_sent_frame *f = &pk->frames[pk->n_frames++];
    memset(f, 0, sizeof(*f));
    f->type = type;
    f->id = id;
    f->off = off;
    f->len = len;
    f->fin = (uint8_t)fin;
    f->aux = aux;
}

/* Two records as the sender keeps them, holding every kind of frame it records, declared lost:
 * the events list each with its values, on the path the packet left on, with the trigger. The
 * frames name streams and sequence numbers that do not exist (nothing is queued again for them),
 * except MAX_DATA, which is current and so due again. */
static void test_lost_frames(void **st)
{
    tern_pair p;
    start(&p, NULL);
    tern_conn *c = p.client;
    tern_sent_pkt a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.pn = 4000;
    add(&a, TERN_FT_STREAM, 901, 1200, 300, 1, 0);
    add(&a, TERN_FT_CRYPTO, 0, 64, 32, 0, TERN_LEVEL_HANDSHAKE);
    add(&a, TERN_FT_ACK, 0, 17, 0, 0, 0);
    add(&a, TERN_FT_PING, 0, 0, 0, 0, 0);
    add(&a, TERN_FT_HANDSHAKE_DONE, 0, 0, 0, 0, 0);
    add(&a, TERN_FT_MAX_DATA, 0, tern_conn_flow(c).max_data_next, 0, 0, 0);
    add(&a, TERN_FT_MAX_STREAM_DATA, 901, 5000, 0, 0, 0);
    add(&a, TERN_FT_NEW_CONNECTION_ID, 900, 0, 0, 0, 0);
    add(&a, TERN_FT_RETIRE_CONNECTION_ID, 0, 0, 0, 0, 0);
    add(&a, TERN_FT_RESET_STREAM, 905, 0, 0, 0, 0);
    b.pn = 4001;
    add(&b, TERN_FT_STOP_SENDING, 909, 0, 0, 0, 0);
    add(&b, TERN_FT_DATA_BLOCKED, 0, 77, 0, 0, 0);
    add(&b, TERN_FT_STREAM_DATA_BLOCKED, 913, 88, 0, 0, 0);
    add(&b, TERN_FT_MAX_STREAMS_BIDI, 0, 1, 0, 0, 0);
    add(&b, TERN_FT_MAX_STREAMS_UNI, 0, 2, 0, 0, 0);
    add(&b, TERN_FT_STREAMS_BLOCKED_BIDI, 0, 3, 0, 0, 0);
    add(&b, TERN_FT_STREAMS_BLOCKED_UNI, 0, 4, 0, 0, 0);
    add(&b, 0x2a, 0, 0, 0, 0, 0); /* a type this build's list does not name */
    tern_recovery *rec = tern_conn_recovery(c);
    assert_false(tern_conn_flow(c).need_max_data);
    rec->loss_trigger = TERN_QLOG_LOSS_REORDERING;
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &a);
    rec->loss_trigger = TERN_QLOG_LOSS_TIME;
    tern_conn_on_pkt_lost(c, TERN_SPACE_APP, &b);
    expect_once(
        &qc,
        "\"name\":\"quic:packet_lost\",\"data\":{\"header\":{\"packet_type\":\"1RTT\","
        "\"packet_number\":4000},\"frames\":["
        "{\"frame_type\":\"stream\",\"stream_id\":901,\"offset\":1200,\"fin\":true,"
        "\"raw\":{\"length\":300}},"
        "{\"frame_type\":\"crypto\",\"offset\":64,\"raw\":{\"length\":32}},"
        "{\"frame_type\":\"ack\"},{\"frame_type\":\"ping\"},{\"frame_type\":\"handshake_done\"},");
    expect_once(&qc, "{\"frame_type\":\"max_stream_data\",\"stream_id\":901,\"maximum\":5000},"
                     "{\"frame_type\":\"new_connection_id\",\"sequence_number\":900},"
                     "{\"frame_type\":\"retire_connection_id\",\"sequence_number\":0},"
                     "{\"frame_type\":\"reset_stream\",\"stream_id\":905}],"
                     "\"trigger\":\"reordering_threshold\"},\"tuple\":\"0\"}");
    expect_once(
        &qc, "\"packet_number\":4001},\"frames\":["
             "{\"frame_type\":\"stop_sending\",\"stream_id\":909},"
             "{\"frame_type\":\"data_blocked\",\"limit\":77},"
             "{\"frame_type\":\"stream_data_blocked\",\"stream_id\":913,\"limit\":88},"
             "{\"frame_type\":\"max_streams\",\"stream_type\":\"bidirectional\",\"maximum\":1},"
             "{\"frame_type\":\"max_streams\",\"stream_type\":\"unidirectional\",\"maximum\":2},"
             "{\"frame_type\":\"streams_blocked\",\"stream_type\":\"bidirectional\",\"limit\":3},"
             "{\"frame_type\":\"streams_blocked\",\"stream_type\":\"unidirectional\",\"limit\":4},"
             "{\"frame_type\":\"unknown\",\"frame_type_bytes\":42}],"
             "\"trigger\":\"time_threshold\"}");
    char md[96];
    snprintf(md, sizeof(md), "{\"frame_type\":\"max_data\",\"maximum\":%llu}",
             (unsigned long long)tern_conn_flow(c).max_data_next);
    expect_once(&qc, md);
    /* the current MAX_DATA is due again, and the path counts both losses */
    assert_true(tern_conn_flow(c).need_max_data);
    assert_int_equal(tern_conn_path_at(c, 0)->pkts_lost, 2);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_updates),           cmocka_unit_test(test_transport_closes),
        cmocka_unit_test(test_application_close),     cmocka_unit_test(test_idle_timeout_and_reset),
        cmocka_unit_test(test_retry_token_in_header), cmocka_unit_test(test_network_events),
        cmocka_unit_test(test_lost_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
