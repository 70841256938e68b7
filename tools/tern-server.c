/* tern-server: serves the files under a directory over HTTP/3 (ALPN "h3", common/h3conn.c) and
 * hq-interop (HTTP/0.9 over QUIC), whichever the client negotiates.
 *
 * This file owns options and the shutdown at SIGINT/SIGTERM (the connections and the dispatch of
 * tern's callbacks to the protocol of each live in server/conns.c): HTTP/3
 * clients get a GOAWAY, requests in progress may finish for a grace period, then every
 * connection is closed (H3_NO_ERROR for HTTP/3). A second signal skips the grace period.
 * Client migration is logged as it happens (a peer's new address, a path that failed); the
 * server can advertise a preferred address (and listens there too) or forbid active migration. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cert.h"
#include "common/util.h"
#include "server/server.h"
#include "tern/tern.h"

#define MAX_ALPN 8
#define GRACE_NS (10ull * 1000000000ull) /* requests in progress may finish during this */
#define NOTICE_NS (100ull * 1000000ull)  /* between the GOAWAY notice and the final GOAWAY */
#define MIME_TYPES_FILE "/etc/mime.types" /* Debian's media-types */
#define MAX_WORKERS 64

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t heap_report_requested; /* SIGUSR1 */

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: tern-server --listen ADDR:PORT --root DIR [options]\n"
               "Serves the files under DIR over HTTP/3 and hq-interop (HTTP/0.9 over QUIC).\n"
               "  --listen ADDR:PORT    address to bind, e.g. 127.0.0.1:4433 or [::1]:4433\n"
               "  --root DIR            directory to serve\n"
               "  --cert FILE --key FILE  PEM certificate chain and key (default: a throwaway\n"
               "                        self-signed certificate for localhost, 127.0.0.1, ::1)\n"
               "  --alpn hq-interop|h3  ALPN to accept (repeatable, in preference order;\n"
               "                        default h3, then hq-interop)\n"
               "  --retry               validate client addresses with Retry\n"
               "  --early-data          accept 0-RTT from clients resuming a session (session\n"
               "                        tickets are always issued; replayed ClientHellos get\n"
               "                        no 0-RTT)\n"
               "  --quic-version 1|2    QUIC version to accept (repeatable, in preference\n"
               "                        order; default 1): a client that begins in another one\n"
               "                        it also offers is moved to the first of these\n"
               "  --ciphers LIST        TLS 1.3 AEADs, e.g. CHACHA20-POLY1305 or\n"
               "                        AES-128-GCM,AES-256-GCM (or a whole GnuTLS priority string)\n"
               "  --key-update BYTES    start one key update per connection after BYTES of\n"
               "                        stream data sent (K/M/G suffixes)\n"
               "  --cc cubic|newreno    congestion controller (default cubic)\n"
               "  --no-ecn              send without ECN marks and ignore CE (ECN counts of\n"
               "                        what arrives are still reported)\n"
               "  --multipath           accept (and offer) multipath QUIC\n"
               "                        (draft-ietf-quic-multipath-21)\n"
               "  --max-udp-payload N   cap of path MTU discovery: the largest UDP payload\n"
               "                        sent, 1200..65527 (default 8972; 1200 turns it off)\n"
               "  --idle-timeout MS     idle timeout in milliseconds (default 30000)\n"
               "  --preferred-address ADDR:PORT  advertise a preferred address (RFC 9000\n"
               "                        §9.6) and listen there too\n"
               "  --disable-active-migration  ask clients not to migrate (packets from new\n"
               "                        addresses are dropped, except at the preferred address)\n"
               "  --datagram-echo       take unreliable datagrams (RFC 9221) and send each one\n"
               "                        back to its sender\n"
               "  --mime-types FILE     content types by file extension (default\n"
               "                        /etc/mime.types; html, css, js, json, png, txt and a few\n"
               "                        more are known without it; others: octet-stream)\n"
               "  --log FILE            tern's debug log ('-' = stderr)\n"
               "  --keylog FILE         append the TLS secrets to FILE (NSS key log format), so\n"
               "                        that Wireshark or tshark decrypts a capture\n"
               "  --qlog-dir DIR        write a qlog file per connection into DIR\n"
               "                        (<ODCID>_server.sqlog, JSON-SEQ; see docs/qlog.md)\n"
               "  --workers N           N endpoints, one thread each, on SO_REUSEPORT sockets of\n"
               "                        the --listen address; a BPF program steers each client's\n"
               "                        packets to its worker by connection ID (docs/scaling.md)\n"
               "  --no-bpf              with --workers: no steering program; a worker forwards\n"
               "                        packets of another worker's connection to it\n"
               "  --qlb-server-id HEX   QUIC-LB (draft-ietf-quic-load-balancers): every connection\n"
               "                        ID encodes this server ID (1..15 bytes)\n"
               "  --qlb-nonce-len N     QUIC-LB nonce bytes (4..18, default 8)\n"
               "  --qlb-key HEX         QUIC-LB AES-128 key (16 bytes; default: plaintext)\n"
               "  --qlb-config-id N     QUIC-LB config rotation codepoint (0..6, default 0)\n"
               "  -q, --quiet           no per-connection, per-request and migration log lines\n"
               "  -h, --help            this text\n"
               "  --version             print the version and exit\n");
}

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "tern-server: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

/* 1 once a connection can be closed without cutting off a response: no request in progress and
 * everything it was given sent and acknowledged, for an RTT (so that a last ACK or a retransmission
 * in progress is not mistaken for the end). tern reports no acknowledgement of stream data, so
 * "all new stream bytes sent, nothing in flight" stands for it. A peer that went away never
 * acknowledges the GOAWAY: once every byte has been sent, three PTOs are waited at most. */
static int conn_drained(srv_conn *sc, uint64_t now)
{
    tern_conn_stats st;
    uint64_t hold, pto;

    if (srv_h3_active(sc) > 0 || sc->hq_streams.count > 0) {
        sc->drained_since = sc->sent_all_since = 0;
        return 0;
    }
    tern_conn_get_stats(sc->conn, &st);
    if (st.stream_bytes_sent < sc->hq_bytes_sent + srv_h3_bytes_sent(sc)) {
        sc->drained_since = sc->sent_all_since = 0;
        return 0;
    }
    if (!sc->sent_all_since)
        sc->sent_all_since = now;
    pto = st.srtt_ns + 4 * st.rttvar_ns;
    if (now - sc->sent_all_since >= (3 * pto > 200000000ull ? 3 * pto : 200000000ull))
        return 1;
    if (st.bytes_in_flight > 0) {
        sc->drained_since = 0;
        return 0;
    }
    if (!sc->drained_since) {
        sc->drained_since = now;
        return 0;
    }
    hold = st.srtt_ns > 2000000 ? st.srtt_ns : 2000000;
    return now - sc->drained_since >= hold;
}

/* SIGINT/SIGTERM: GOAWAY, a grace period for requests in progress, then close everything. */
static void shut_down(server *srv)
{
    uint64_t start = tool_now_ns(), now = start;
    int final = 0, open = 0;

    srv->shutting_down = 1;
    for (srv_conn *sc = srv->conns; sc; sc = sc->next) {
        srv_h3_goaway(sc, 0);
        open++;
    }
    if (!srv->quiet) {
        printf("shutting down: %d connection%s, requests in progress may finish\n", open,
               open == 1 ? "" : "s");
        fflush(stdout);
    }
    while (stop_requested < 2 && now - start < GRACE_NS) {
        open = 0;
        if (!final && now - start >= NOTICE_NS) {
            for (srv_conn *sc = srv->conns; sc; sc = sc->next)
                srv_h3_goaway(sc, 1);
            final = 1;
        }
        for (srv_conn *sc = srv->conns; sc; sc = sc->next) {
            if (final && !sc->closing && conn_drained(sc, now))
                srv_close_for_shutdown(sc);
            open += !sc->closing;
        }
        if (final && open == 0)
            break;
        if (tool_run_step(srv->ep, 10) < 0)
            break;
        now = tool_now_ns();
    }
    for (srv_conn *sc = srv->conns; sc; sc = sc->next)
        srv_close_for_shutdown(sc);
    /* Give the close frames a moment to leave. */
    start = tool_now_ns();
    while (tern_endpoint_conn_count(srv->ep) > 0 && tool_now_ns() - start < 300 * 1000000ull)
        if (tool_run_step(srv->ep, 20) < 0)
            break;
}

/* Hex digits to bytes (at most cap); returns 0 with *len set, or -1. */
static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

/* One worker's thread: its endpoint's loop until a stop signal, then its own shutdown. */
static void *worker_main(void *arg)
{
    server *srv = arg;
    while (!stop_requested) {
        int rc = tool_run_step(srv->ep, 250);
        if (rc < 0) {
            fprintf(stderr, "tern-server: event loop failed: %s (%s)\n", tern_strerror(rc),
                    strerror(errno));
            break;
        }
        srv_trim_maybe(&srv->trim, tern_endpoint_conn_count(srv->ep), tool_now_ns());
    }
    shut_down(srv);
    return NULL;
}

/* --workers N: N copies of the server state, one endpoint and one thread each (the first runs
 * on this thread). Returns the exit status. */
static int run_workers(server *first, const tern_config *cfg, const tern_callbacks *cb,
                       const tern_addr *addr, size_t n, unsigned flags, const char *listen_text)
{
    server *srvs[MAX_WORKERS];
    pthread_t th[MAX_WORKERS];
    tern_workers *w = NULL;
    char where[64];
    int status = 1;
    size_t made = 1, started = 0;

    srvs[0] = first;
    for (; made < n; made++) {
        srvs[made] = calloc(1, sizeof(server));
        if (!srvs[made]) {
            fprintf(stderr, "tern-server: out of memory\n");
            goto out;
        }
        srvs[made]->mime = first->mime; /* read-only once loaded: shared */
        memcpy(srvs[made]->root, first->root, sizeof(first->root));
        srvs[made]->root_len = first->root_len;
        srvs[made]->quiet = first->quiet;
        srvs[made]->key_update_wanted = first->key_update_wanted;
        srvs[made]->key_update_at = first->key_update_at;
        srvs[made]->datagram_echo = first->datagram_echo;
    }
    int rc = tern_workers_new(cfg, cb, (void *const *)srvs, n, addr, flags, &w);
    if (rc < 0) {
        fprintf(stderr, "tern-server: cannot start %zu workers on %s: %s%s%s\n", n, listen_text,
                tern_strerror(rc), rc == TERN_ERR_IO ? ": " : "",
                rc == TERN_ERR_IO ? strerror(errno) : "");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        srvs[i]->ep = tern_workers_endpoint(w, i);
    tern_addr bound;
    if (tern_endpoint_local_addr(srvs[0]->ep, &bound) == 0)
        tern_addr_format(&bound, where, sizeof(where));
    else
        snprintf(where, sizeof(where), "%s", listen_text);
    if (!first->quiet)
        fprintf(stderr, "tern-server: listening on %s with %zu workers (steering: %s), serving %s\n",
                where, n, tern_workers_steering(w) == TERN_WORKERS_STEER_BPF ? "bpf" : "forward",
                first->root);
    for (started = 1; started < n; started++)
        if (pthread_create(&th[started], NULL, worker_main, srvs[started]) != 0) {
            fprintf(stderr, "tern-server: cannot start a worker thread\n");
            stop_requested = 2;
            break;
        }
    worker_main(srvs[0]);
    for (size_t i = 1; i < started; i++)
        pthread_join(th[i], NULL);
    status = started == n ? 0 : 1;
    for (size_t i = 0; i < n && !first->quiet; i++) {
        tern_workers_stats st;
        tern_workers_get_stats(w, i, &st);
        fprintf(stderr,
                "tern-server: worker %zu: %" PRIu64 " connections, %" PRIu64
                " datagrams forwarded, %" PRIu64 " adopted, %" PRIu64 " lost to a full queue\n",
                i, srvs[i]->accepted, st.forwarded, st.adopted, st.queue_full);
    }
out:
    tern_workers_free(w);
    for (size_t i = 0; i < made; i++) {
        if (!srvs[i])
            continue;
        srvs[i]->ep = NULL;
        /* tern_workers_free runs no callbacks: release what on_closed did not */
        while (srvs[i]->conns)
            srv_conn_free(srvs[i], srvs[i]->conns);
        if (i > 0)
            free(srvs[i]);
    }
    return status;
}

enum { OPT_MULTIPATH = 1000, OPT_MAX_UDP_PAYLOAD }; /* long options without a short letter */

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"retry", no_argument, NULL, 'R'},
                                         {"early-data", no_argument, NULL, '0'},
                                         {"quic-version", required_argument, NULL, 'U'},
                                         {"alpn", required_argument, NULL, 'a'},
                                         {"ciphers", required_argument, NULL, 'x'},
                                         {"key-update", required_argument, NULL, 'K'},
                                         {"cc", required_argument, NULL, 'C'},
                                         {"no-ecn", no_argument, NULL, 'E'},
                                         {"multipath", no_argument, NULL, OPT_MULTIPATH},
                                         {"max-udp-payload", required_argument, NULL,
                                          OPT_MAX_UDP_PAYLOAD},
                                         {"idle-timeout", required_argument, NULL, 'i'},
                                         {"preferred-address", required_argument, NULL, 'p'},
                                         {"disable-active-migration", no_argument, NULL, 'm'},
                                         {"datagram-echo", no_argument, NULL, 'D'},
                                         {"mime-types", required_argument, NULL, 'T'},
                                         {"log", required_argument, NULL, 'L'},
                                         {"keylog", required_argument, NULL, 'Y'},
                                         {"qlog-dir", required_argument, NULL, 'Q'},
                                         {"workers", required_argument, NULL, 'W'},
                                         {"no-bpf", no_argument, NULL, 'B'},
                                         {"qlb-server-id", required_argument, NULL, 'S'},
                                         {"qlb-nonce-len", required_argument, NULL, 'N'},
                                         {"qlb-key", required_argument, NULL, 'Z'},
                                         {"qlb-config-id", required_argument, NULL, 'I'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *listen_text = NULL, *root = NULL, *cert = NULL, *key = NULL;
    const char *preferred_text = NULL, *log_path = NULL, *mime_types = MIME_TYPES_FILE;
    const char *keylog_path = NULL;
    FILE *log = NULL, *keylog = NULL;
    const char *alpn[MAX_ALPN];
    size_t alpn_count = 0;
    tern_config cfg;
    tern_callbacks cb;
    tool_cert tmp_cert;
    tern_addr addr;
    server *srv;
    char errbuf[1024], where[64], priority[TOOL_PRIORITY_MAX];
    int opt, rc, status = 1;
    uint64_t v;
    size_t nworkers = 1, hexlen;
    unsigned worker_flags = 0;

    memset(&tmp_cert, 0, sizeof(tmp_cert));
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return fail("%s", "out of memory");
    srv_trim_init(&srv->trim);
    tern_config_init(&cfg);
    cfg.session_tickets = 1; /* resumption costs the server nothing but the tickets' bytes */
    cfg.qlb_nonce_len = 8;
    cfg.qlb_encode_len = 1;
#define BAD_OPTION(...)                                                                            \
    do {                                                                                           \
        fail(__VA_ARGS__);                                                                         \
        status = 2;                                                                                \
        goto out;                                                                                  \
    } while (0)
    while ((opt = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            listen_text = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'R':
            cfg.retry = 1;
            break;
        case 'U':
            if (tool_add_quic_version(optarg, &cfg) < 0)
                BAD_OPTION("bad --quic-version '%s' (1 or 2, each once)", optarg);
            break;
        case 'a':
            if (alpn_count == MAX_ALPN)
                BAD_OPTION("at most %s --alpn values", "8");
            if (strcmp(optarg, "h3") != 0 && strcmp(optarg, "hq-interop") != 0)
                BAD_OPTION("unsupported ALPN '%s' (h3, hq-interop)", optarg);
            alpn[alpn_count++] = optarg;
            break;
        case 'x':
            if (tool_parse_ciphers(optarg, priority, sizeof(priority)) < 0)
                BAD_OPTION("bad --ciphers '%s' (AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305)",
                            optarg);
            cfg.tls_priority = priority;
            break;
        case 'K':
            if (tool_parse_size(optarg, &srv->key_update_at) < 0)
                BAD_OPTION("bad --key-update '%s'", optarg);
            srv->key_update_wanted = 1;
            break;
        case 'C':
            if (tool_parse_cc(optarg, &cfg.cc) < 0)
                BAD_OPTION("unknown congestion controller '%s' (cubic, newreno)", optarg);
            break;
        case 'E':
            cfg.ecn = 0;
            break;
        case OPT_MULTIPATH:
            cfg.multipath = 1;
            break;
        case OPT_MAX_UDP_PAYLOAD:
            if (tool_parse_size(optarg, &v) < 0 || v < 1200 || v > 65527)
                BAD_OPTION("bad --max-udp-payload '%s' (1200..65527)", optarg);
            cfg.max_udp_payload = (size_t)v;
            break;
        case 'i':
            if (tool_parse_size(optarg, &v) < 0)
                BAD_OPTION("bad --idle-timeout '%s'", optarg);
            cfg.idle_timeout_ms = v;
            break;
        case 'p':
            preferred_text = optarg;
            break;
        case 'm':
            cfg.disable_active_migration = 1;
            break;
        case 'D':
            /* any datagram that fits in a packet, and room for a burst of echoes: an echo the
             * queue cannot take is not sent */
            cfg.max_datagram_frame_size = 65535;
            cfg.datagram_queue_bytes = 1u << 20;
            cfg.datagram_queue_count = 8192;
            srv->datagram_echo = 1;
            break;
        case 'T':
            mime_types = optarg;
            break;
        case 'L':
            log_path = optarg;
            break;
        case 'Y':
            keylog_path = optarg;
            break;
        case 'Q':
            if (tool_qlog_dir_check(optarg) < 0) {
                snprintf(errbuf, sizeof(errbuf), "cannot write qlog files into --qlog-dir %s: %s",
                         optarg, strerror(errno));
                BAD_OPTION("%s", errbuf);
            }
            cfg.qlog_dir = optarg;
            break;
        case '0':
            cfg.early_data = 1;
            break;
        case 'W':
            if (tool_parse_size(optarg, &v) < 0 || v < 1 || v > MAX_WORKERS)
                BAD_OPTION("bad --workers '%s' (1..64)", optarg);
            nworkers = (size_t)v;
            break;
        case 'B':
            worker_flags |= TERN_WORKERS_NO_BPF;
            break;
        case 'S':
            if (parse_hex(optarg, cfg.qlb_server_id, sizeof(cfg.qlb_server_id), &hexlen) < 0 ||
                hexlen == 0)
                BAD_OPTION("bad --qlb-server-id '%s' (1..15 bytes in hex)", optarg);
            cfg.qlb_server_id_len = (uint8_t)hexlen;
            break;
        case 'N':
            if (tool_parse_size(optarg, &v) < 0 || v > 18)
                BAD_OPTION("bad --qlb-nonce-len '%s' (4..18)", optarg);
            cfg.qlb_nonce_len = (uint8_t)v;
            break;
        case 'Z':
            if (parse_hex(optarg, cfg.qlb_key, sizeof(cfg.qlb_key), &hexlen) < 0 || hexlen != 16)
                BAD_OPTION("bad --qlb-key '%s' (16 bytes in hex)", optarg);
            cfg.qlb_has_key = 1;
            break;
        case 'I':
            if (tool_parse_size(optarg, &v) < 0 || v > 6)
                BAD_OPTION("bad --qlb-config-id '%s' (0..6)", optarg);
            cfg.qlb_config_id = (uint8_t)v;
            break;
        case 'q':
            srv->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        case 'V':
            tool_print_version("tern-server");
            status = 0;
            goto out;
        default:
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    if (optind != argc)
        BAD_OPTION("unexpected argument '%s' (see --help)", argv[optind]);
    if (!cfg.qlb_server_id_len && (cfg.qlb_has_key || cfg.qlb_config_id))
        BAD_OPTION("%s", "--qlb-key and --qlb-config-id need --qlb-server-id");
    if (nworkers > 1 && preferred_text)
        BAD_OPTION("%s", "--workers does not combine with --preferred-address");
    if (!listen_text)
        BAD_OPTION("%s", "--listen ADDR:PORT is required: the address to serve on (see --help)");
    if (!root)
        BAD_OPTION("%s", "--root DIR is required: the directory of files to serve (see --help)");
    if (!cert != !key)
        BAD_OPTION("%s", "--cert and --key go together");
    if (tern_addr_parse(&addr, listen_text, 4433) < 0)
        BAD_OPTION("bad --listen address '%s'", listen_text);
    if (preferred_text &&
        (tern_addr_parse(&cfg.preferred_address, preferred_text, 0) < 0 ||
         (cfg.preferred_address.u.sa.sa_family == AF_INET ? cfg.preferred_address.u.in.sin_port
                                                          : cfg.preferred_address.u.in6.sin6_port) == 0))
        BAD_OPTION("bad --preferred-address '%s' (ADDR:PORT, the port is required)", preferred_text);
    if (log_path && tool_log_open(log_path, &log) < 0) {
        snprintf(errbuf, sizeof(errbuf), "cannot open log file %s: %s", log_path, strerror(errno));
        fail("%s", errbuf);
        goto out;
    }
    if (log) {
        cfg.log = tool_log_line;
        cfg.log_ud = log;
    }
    if (keylog_path && tool_keylog_open(keylog_path, &keylog) < 0) {
        snprintf(errbuf, sizeof(errbuf), "cannot open key log file %s: %s", keylog_path,
                 strerror(errno));
        fail("%s", errbuf);
        goto out;
    }
    if (keylog) {
        cfg.keylog = tool_keylog_line;
        cfg.keylog_ud = keylog;
    }

    if (!realpath(root, srv->root)) {
        snprintf(errbuf, sizeof(errbuf), "cannot open --root %s: %s", root, strerror(errno));
        fail("%s", errbuf);
        goto out;
    }
    srv->root_len = strlen(srv->root);
    if (srv_mime_load(&srv->mime, mime_types) < 0) {
        fail("%s", "out of memory");
        goto out;
    }
    {
        struct stat sb;
        if (stat(srv->root, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
            fail("'%s' is not a directory", root);
            goto out;
        }
    }
    if (!cert) {
        if (tool_cert_generate(&tmp_cert, errbuf, sizeof(errbuf)) < 0) {
            fail("%s", errbuf);
            goto out;
        }
        cert = tmp_cert.cert_file;
        key = tmp_cert.key_file;
    }
    if (alpn_count == 0) {
        alpn[alpn_count++] = "h3";
        alpn[alpn_count++] = "hq-interop";
    }
    cfg.alpn = alpn;
    cfg.alpn_count = alpn_count;
    cfg.cert_file = cert;
    cfg.key_file = key;

    srv_callbacks(&cb);
    /* Before any socket is bound: whoever sees the port bound may signal the server (a stop, a
     * heap report) and must not kill it by the signals' default action. */
    tool_install_stop_signals(&stop_requested);
    srv_heap_report_signal(&heap_report_requested);

    if (nworkers > 1) {
        status = run_workers(srv, &cfg, &cb, &addr, nworkers, worker_flags, listen_text);
        goto out;
    }
    rc = tern_endpoint_new(&cfg, &cb, srv, &srv->ep);
    if (rc == TERN_ERR_CERT) {
        tool_cert_diagnose(cert, key, NULL, errbuf, sizeof(errbuf));
        fail("%s", errbuf);
        goto out;
    }
    if (rc < 0) {
        fail("cannot create the endpoint: %s", tern_strerror(rc));
        goto out;
    }
    rc = tern_endpoint_listen(srv->ep, &addr);
    if (rc < 0) {
        snprintf(errbuf, sizeof(errbuf), "cannot listen on %s: %s%s%s", listen_text,
                 tern_strerror(rc), rc == TERN_ERR_IO ? ": " : "",
                 rc == TERN_ERR_IO ? strerror(errno) : "");
        fail("%s", errbuf);
        goto out;
    }
    if (tern_endpoint_local_addr(srv->ep, &addr) == 0)
        tern_addr_format(&addr, where, sizeof(where));
    else
        snprintf(where, sizeof(where), "%s", listen_text);
    /* Clients that follow the preferred address send there: the endpoint needs a socket on it. */
    if (preferred_text && !tern_addr_equal(&cfg.preferred_address, &addr)) {
        rc = tern_endpoint_listen(srv->ep, &cfg.preferred_address);
        if (rc < 0) {
            snprintf(errbuf, sizeof(errbuf), "cannot listen on the preferred address %s: %s%s%s",
                     preferred_text, tern_strerror(rc), rc == TERN_ERR_IO ? ": " : "",
                     rc == TERN_ERR_IO ? strerror(errno) : "");
            fail("%s", errbuf);
            goto out;
        }
    }
    if (!srv->quiet)
        fprintf(stderr, "tern-server: listening on %s%s%s, serving %s\n", where,
                preferred_text ? ", preferred address " : "", preferred_text ? preferred_text : "",
                srv->root);

    status = 0;
    while (!stop_requested) {
        rc = tool_run_step(srv->ep, 250);
        if (rc < 0) {
            fprintf(stderr, "tern-server: event loop failed: %s (%s)\n", tern_strerror(rc),
                    strerror(errno));
            status = 1;
            break;
        }
        srv_trim_maybe(&srv->trim, tern_endpoint_conn_count(srv->ep), tool_now_ns());
        if (heap_report_requested) {
            heap_report_requested = 0;
            srv_heap_report(stdout, tern_endpoint_conn_count(srv->ep));
        }
    }
    shut_down(srv);

out:
    if (srv->ep)
        tern_endpoint_free(srv->ep);
    /* tern_endpoint_free runs no callbacks: release what on_closed did not. */
    while (srv->conns)
        srv_conn_free(srv, srv->conns);
    tool_cert_remove(&tmp_cert);
    srv_mime_free(&srv->mime);
    free(srv);
    tool_log_close(log);
    tool_log_close(keylog);
    return status;
}
