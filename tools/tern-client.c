/* tern-client: downloads one or more URLs from one server over HTTP/3 (ALPN "h3",
 * common/h3conn.c) or hq-interop (HTTP/0.9 over QUIC).
 *
 * Every URL gets its own bidirectional stream on one connection, all in parallel (as many as the
 * server's stream limit allows at a time). Each body is optionally written to a file, gathered
 * into large writes (at most CL_WRITE_CHUNK bytes held per download), and hashed with SHA-256 as
 * it arrives when --sha256 asks for it. The exit status
 * is 0 only when every download completed, with a 2xx status for HTTP/3.
 *
 * Migration can be scripted (--add-local, --migrate, --remove-local at a time after the
 * handshake or after an amount of data): every path event is printed, and the JSON report has
 * the history of every path, every switch and the longest gap in the delivery of stream data.
 *
 * This file owns options, the download table, outputs and the report; the connection's callbacks
 * and the downloads' outcomes live in client/conn.c, the protocols in client/hq.c and client/h3.c, the migration script in client/script.c and
 * the path history in client/paths.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "common/cert.h"
#include "common/json.h"
#include "common/util.h"

#define MAX_ALPN 8
#define MAX_PREFER 16
#define DEFAULT_STALL_NS (100ull * 1000000ull) /* a gap this long is a stall in the report */
/* Once every body arrived, the connection is closed and the client lingers only long enough for
 * the CONNECTION_CLOSE to leave: waiting out the whole closing period (3 PTO) would add latency
 * to every run without benefit to a process about to exit. */
#define LINGER_NS (50ull * 1000000ull)

static volatile sig_atomic_t stop_requested;

/* Long options without a short letter. */
enum { OPT_TOKEN_FILE = 1001 }; /* beside OPT_QUIC_VERSION: long options without a short letter */
enum { OPT_SHA256 = 1020 };

/* ---- setup and output ---- */

/* Opens each download's output: one URL -> `out` is a file ("-" = stdout); several -> `out` is a
 * directory and files keep their URL base names. Returns 0 or -1 after printing why. */
static int open_outputs(client *cl, const char *out)
{
    if (!out)
        return 0;
    if (cl->n > 1 && mkdir(out, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "tern-client: cannot create directory %s: %s\n", out, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < cl->n; i++) {
        download *d = &cl->dl[i];
        char base[NAME_MAX + 1];

        if (cl->n == 1 && strcmp(out, "-") == 0) {
            d->fd = STDOUT_FILENO;
            snprintf(d->out_path, sizeof(d->out_path), "stdout");
            continue;
        }
        if (cl->n == 1) {
            snprintf(d->out_path, sizeof(d->out_path), "%s", out);
        } else {
            if (tool_url_basename(&d->url, base, sizeof(base)) < 0) {
                fprintf(stderr, "tern-client: %s: no usable file name\n", d->url_text);
                return -1;
            }
            if ((size_t)snprintf(d->out_path, sizeof(d->out_path), "%s/%s", out, base) >=
                sizeof(d->out_path)) {
                fprintf(stderr, "tern-client: %s: output path too long\n", d->url_text);
                return -1;
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(cl->dl[j].out_path, d->out_path) == 0) {
                    fprintf(stderr, "tern-client: %s and %s would both be saved as %s\n",
                            cl->dl[j].url_text, d->url_text, d->out_path);
                    return -1;
                }
            }
        }
        d->fd = open(d->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (d->fd < 0) {
            fprintf(stderr, "tern-client: cannot open %s: %s\n", d->out_path, strerror(errno));
            return -1;
        }
        d->close_fd = 1;
    }
    return 0;
}

static const char *result_name(dl_result r)
{
    switch (r) {
    case DL_OK:
        return "ok";
    case DL_HTTP_ERROR:
        return "http-error";
    case DL_RESET:
        return "reset";
    default:
        return "error";
    }
}

static void print_json(client *cl, FILE *f, int ok)
{
    uint64_t end = cl->done_ns ? cl->done_ns : tool_now_ns();
    double dur_ms = (double)(end - cl->start_ns) / 1e6;
    double hs_ms = 0;

    if (cl->have_stats && cl->stats.handshake_ns)
        hs_ms = (double)cl->stats.handshake_ns / 1e6;
    else if (cl->connected_ns)
        hs_ms = (double)(cl->connected_ns - cl->start_ns) / 1e6;
    fprintf(f, "{\"ok\":%s,\"bytes\":%llu,\"start_unix_ms\":%llu,\"duration_ms\":",
            ok ? "true" : "false", (unsigned long long)cl->total_bytes,
            (unsigned long long)cl->start_unix_ms);
    tool_json_number(f, dur_ms, 3);
    fputs(",\"handshake_ms\":", f);
    tool_json_number(f, hs_ms, 3);
    fputs(",\"throughput_mbps\":", f);
    tool_json_number(f, dur_ms > 0 ? (double)cl->total_bytes * 8.0 / (dur_ms * 1000.0) : 0, 3);
    fprintf(f, ",\"packets_sent\":%llu,\"packets_lost\":%llu,\"srtt_ms\":",
            (unsigned long long)cl->stats.pkts_sent, (unsigned long long)cl->stats.pkts_lost);
    tool_json_number(f, (double)cl->stats.srtt_ns / 1e6, 3);
    fprintf(f,
            ",\"cwnd\":%llu,\"key_updates\":%llu,\"ecn\":{\"sent\":%llu,\"recv_ect0\":%llu,"
            "\"recv_ect1\":%llu,\"recv_ce\":%llu,\"ce_reported\":%llu,\"ce_reductions\":%llu},"
            "\"cipher\":",
            (unsigned long long)cl->stats.cwnd, (unsigned long long)cl->stats.key_updates,
            (unsigned long long)cl->stats.ecn_sent, (unsigned long long)cl->stats.ecn_recv_ect0,
            (unsigned long long)cl->stats.ecn_recv_ect1, (unsigned long long)cl->stats.ecn_recv_ce,
            (unsigned long long)cl->stats.ecn_ce, (unsigned long long)cl->stats.ecn_ce_reductions);
    tool_json_string(f, cl->cipher);
    fputs(",\"quic_version\":", f);
    tool_json_string(f, cl->quic_version);
    fputs(",\"alpn\":", f);
    tool_json_string(f, cl->alpn);
    fprintf(f, ",\"resumed\":%s,\"early_data_attempted\":%s,\"early_data_accepted\":%s",
            cl->resumed ? "true" : "false", cl->early_started ? "true" : "false",
            cl->early_state == TERN_EARLY_DATA_ACCEPTED ? "true" : "false");
    fprintf(f, ",\"token_sent\":%s,\"tokens_received\":%d", cl->token_len ? "true" : "false",
            cl->tokens_received);
    fprintf(f, ",\"multipath\":%s", cl->stats.multipath ? "true" : "false");
    fputs(",\"files\":[", f);
    for (size_t i = 0; i < cl->n; i++) {
        download *d = &cl->dl[i];
        fprintf(f, "%s{\"url\":", i ? "," : "");
        tool_json_string(f, d->url_text);
        fprintf(f, ",\"bytes\":%llu,\"sha256\":", (unsigned long long)d->bytes);
        if (cl->hash)
            tool_json_string(f, d->result == DL_OK || d->result == DL_HTTP_ERROR ? d->sha256 : "");
        else
            fputs("null", f); /* not asked for (--sha256) */
        /* HTTP/0.9 has no status: null, as for a response that never arrived. */
        if (d->status)
            fprintf(f, ",\"status\":%d", d->status);
        else
            fputs(",\"status\":null", f);
        if (d->content_type[0]) {
            fputs(",\"content_type\":", f);
            tool_json_string(f, d->content_type);
        }
        fprintf(f, ",\"result\":\"%s\"", result_name(d->result));
        if (d->result == DL_RESET)
            fprintf(f, ",\"app_error\":%llu", (unsigned long long)d->reset_code);
        if (d->result == DL_ERROR && d->error[0]) {
            fputs(",\"error\":", f);
            tool_json_string(f, d->error);
        }
        fputc('}', f);
    }
    fputc(']', f);
    fputs(",\"longest_gap_ms\":", f);
    tool_json_number(f, (double)cl->longest_gap_ns / 1e6, 3);
    fputs(",\"longest_gap_at_ms\":", f);
    if (cl->longest_gap_ns)
        tool_json_number(f, (double)(cl->longest_gap_at_ns - cl->start_ns) / 1e6, 3);
    else
        fputs("null", f);
    cl_stalls_json(cl, f);
    cl_paths_json(cl, f);
    cl_paths_net_json(cl, f);
    cl_script_json(cl, f);
    cl_dgram_json(cl, f);
    if (!ok) {
        fputs(",\"error\":", f);
        tool_json_string(f, cl->error[0] ? cl->error : "one or more downloads failed");
    }
    fputs("}\n", f);
    fflush(f);
}

enum { OPT_QUIC_VERSION = 1000, OPT_MULTIPATH = 1030, OPT_BACKUP_LOCAL = 1031 }; /* long options without a short letter */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tern-client [options] URL...\n"
            "Downloads URLs (https://host:port/path, all on one host:port) over HTTP/3 or\n"
            "hq-interop, in parallel on one QUIC connection, and prints the status and size of\n"
            "each body. Exits non-zero when any download fails or has a non-2xx status.\n"
            "  --ca FILE             trust anchors (default: the system trust store)\n"
            "  --insecure            do not verify the server certificate\n"
            "  -o PATH               one URL: output file ('-' = stdout); several: a directory\n"
            "                        (default: bodies are discarded)\n"
            "  --sha256              hash each body with SHA-256 and print the digest (off by\n"
            "                        default: at loopback speed hashing costs more than QUIC)\n"
            "  --local ADDR[:PORT]   local address to send from\n"
            "  --json                print one JSON summary object\n"
            "  --alpn hq-interop|h3  ALPN to offer (repeatable, in preference order; default h3)\n"
            "  --ciphers LIST        TLS 1.3 AEADs, e.g. CHACHA20-POLY1305 or\n"
            "                        AES-128-GCM,AES-256-GCM (or a whole GnuTLS priority string)\n"
            "  --cc cubic|newreno    congestion controller (default cubic)\n"
            "  --no-ecn              send without ECN marks and ignore CE (ECN counts of\n"
            "                        what arrives are still reported)\n"
            "  --multipath           offer multipath QUIC (draft-ietf-quic-multipath-21); the\n"
            "                        JSON report says whether the server accepted it\n"
            "  --quic-version 1|2    QUIC version (repeatable, in preference order; default 1):\n"
            "                        the first is that of the first Initial, the others are\n"
            "                        offered so that the server may move the connection to\n"
            "                        one of them, or tried after Version Negotiation\n"
            "  --key-update BYTES    start one key update after BYTES received (K/M/G suffixes)\n"
            "  --datagrams N         also send N unreliable datagrams (RFC 9221) of 64 bytes and\n"
            "                        count their echoes (from a tern-server that echoes them); the\n"
            "                        connection stays until each is acknowledged or lost and\n"
            "                        echoed (echoes are waited for 200 ms at most)\n"
            "  --add-local ADDR[:PORT]@WHEN     add and probe a local address (no switch)\n"
            "  --backup-local ADDR[:PORT]@WHEN  --add-local, the path marked backup (needs\n"
            "                        --multipath and a server taking it): no data on it while\n"
            "                        another path works\n"
            "  --migrate ADDR[:PORT]@WHEN       switch to a local address (added if unknown)\n"
            "  --remove-local ADDR[:PORT]@WHEN  abandon the path of a local address\n"
            "                        WHEN: a time after the handshake (300ms, 2s) or an amount\n"
            "                        of data received (512KB, 20MB); each option repeatable, an\n"
            "                        action runs when its trigger passes. Without a port, an\n"
            "                        address that has a path means that path, and a new one\n"
            "                        gets a port from the system\n"
            "  --no-preferred-address  do not move to the server's preferred address\n"
            "  --show-paths          a table of the paths every 0.5 s and after each event\n"
            "                        (on stderr; redrawn in place on a terminal)\n"
            "  --auto-migrate        follow the host's network: standby paths on new usable\n"
            "                        addresses, failover when the active path dies, moving\n"
            "                        back to the preferred network (watches the network)\n"
            "  --prefer IFNAME|ADDR  rank an interface or local address first for\n"
            "                        --auto-migrate (repeatable, most preferred first;\n"
            "                        default: the order of the default route)\n"
            "  --no-failover         never move off a dead path by itself (only the script)\n"
            "  --watch-network       report the host's network events without following them\n"
            "  --stall-ms MS         a delivery gap this long is a stall in the report (100)\n"
            "  --idle-timeout MS     idle timeout in milliseconds (default 30000)\n"
            "  --log FILE            tern's debug log ('-' = stderr)\n"
            "  --keylog FILE         append the TLS secrets to FILE (NSS key log format), so\n"
            "                        that Wireshark or tshark decrypts a capture\n"
            "  --session-file FILE   resume the TLS session kept in FILE when it exists (a full\n"
            "                        handshake when it cannot be used), and keep the\n"
            "                        server's latest session ticket there\n"
            "  --early-data          with --session-file: send the requests (and --datagrams)\n"
            "                        in 0-RTT when the ticket allows it (needs a single\n"
            "                        --alpn, h3 by default)\n"
            "  --token-file FILE     offer the address validation token FILE holds (once: the\n"
            "                        file is removed) when it is for this server, and write\n"
            "                        the server's next NEW_TOKEN into FILE\n"
            "  --qlog-dir DIR        write a qlog file of the connection into DIR\n"
            "                        (<ODCID>_client.sqlog, JSON-SEQ; see docs/qlog.md)\n"
            "  -q, --quiet           no per-URL lines, path events or progress bar (errors\n"
            "                        still shown)\n"
            "  -h, --help            this text\n"
            "  --version             print the version and exit\n");
}

static int parse_urls(client *cl, char **urls, size_t n)
{
    const char *err = NULL;

    cl->dl = calloc(n, sizeof(*cl->dl));
    if (!cl->dl)
        return -1;
    cl->n = n;
    for (size_t i = 0; i < n; i++) {
        download *d = &cl->dl[i];
        d->url_text = urls[i];
        d->sid = -1;
        d->fd = -1;
        if (tool_url_parse(urls[i], &d->url, &err) < 0) {
            fprintf(stderr, "tern-client: %s: %s\n", urls[i], err);
            return -1;
        }
        if (i > 0 &&
            (strcmp(d->url.host, cl->dl[0].url.host) != 0 || d->url.port != cl->dl[0].url.port)) {
            fprintf(stderr, "tern-client: all URLs must share one host:port (%s differs)\n",
                    urls[i]);
            return -1;
        }
        if (cl->hash && tool_sha256_init(&d->hash) < 0) {
            fprintf(stderr, "tern-client: SHA-256 is unavailable\n");
            return -1;
        }
    }
    return 0;
}

/* Connects, resuming the session of --session-file when there is one. A file that cannot be read
 * or used is said so, and the connection makes a full handshake. */
static int connect_maybe_resumed(client *cl, const tern_addr *remote, const tern_addr *local)
{
    static uint8_t blob[65536];
    size_t len = 0;
    FILE *f = cl->session_file ? fopen(cl->session_file, "rb") : NULL;
    if (f) {
        len = fread(blob, 1, sizeof(blob), f);
        int bad = ferror(f) || !feof(f);
        fclose(f);
        if (bad) {
            fprintf(stderr,
                    "tern-client: session file %s unreadable or too large: full handshake\n",
                    cl->session_file);
            len = 0;
        }
    } else if (cl->session_file && errno != ENOENT) {
        fprintf(stderr, "tern-client: cannot open the session file %s: %s: full handshake\n",
                cl->session_file, strerror(errno));
    }
    if (len) {
        int rc = tern_endpoint_connect_session(cl->ep, remote, local, cl->dl[0].url.host, blob, len,
                                               cl->early_wanted ? TERN_CONNECT_EARLY_DATA : 0,
                                               &cl->conn);
        if (rc != TERN_ERR_SESSION)
            return rc;
        fprintf(stderr, "tern-client: session file %s cannot be used (%s): full handshake\n",
                cl->session_file, tern_strerror(rc));
    }
    return tern_endpoint_connect(cl->ep, remote, local, cl->dl[0].url.host, &cl->conn);
}

/* Runs the connection until every download ended (or a signal). */
static void run(client *cl)
{
    int rc;

    while (!cl->closed) {
        if (stop_requested && !cl->interrupted) {
            cl->interrupted = 1;
            cl_set_error(cl, "interrupted");
            if (cl->conn)
                tern_conn_close(cl->conn, cl->proto == CL_PROTO_H3 ? TOOL_H3_REQUEST_CANCELLED : 0,
                                "interrupted");
        }
        rc = tool_run_step(cl->ep, cl_script_wait_ms(cl, cl->done_ns ? 10 : 100));
        if (rc < 0) {
            snprintf(cl->error, sizeof(cl->error), "event loop failed: %s", tern_strerror(rc));
            break;
        }
        cl_start_pending(cl);
        cl_script_run(cl);
        cl_paths_tick(cl, 0);
        cl_show_progress(cl);
        cl_maybe_close(cl); /* the wait for datagram echoes ends on time */
        if (cl->closing_ns && tool_now_ns() - cl->closing_ns > LINGER_NS)
            break;
        if (!cl->closed && tern_endpoint_conn_count(cl->ep) == 0) {
            cl_set_error(cl, "the connection ended without a close event");
            break;
        }
        if (cl->interrupted && stop_requested > 1)
            break;
    }
    /* Left without a close event (second signal, event loop failure): the gap ends here too. */
    cl_stalls_on_end(cl, tool_now_ns(), cl->error[0] ? cl->error : "stopped");
    cl_progress_clear(&cl->progress);
}

/* The closing lines: delivery gaps and switches, then what the script did not get to do. */
static void print_summary(client *cl)
{
    double secs;

    cl_script_report_pending(cl);
    if (cl->quiet || !cl->connected)
        return;
    secs = (double)((cl->done_ns ? cl->done_ns : tool_now_ns()) - cl->start_ns) / 1e9;
    fprintf(cl->info,
            "%llu bytes in %.3f s (%.1f MB/s), longest delivery gap %.3f ms, %zu stall%s, %zu path "
            "switch%s, %zu failover%s\n",
            (unsigned long long)cl->total_bytes, secs,
            secs > 0 ? (double)cl->total_bytes / secs / 1e6 : 0.0,
            (double)cl->longest_gap_ns / 1e6, cl->stalls.total, cl->stalls.total == 1 ? "" : "s",
            cl_paths_migrations(cl), cl_paths_migrations(cl) == 1 ? "" : "es",
            cl->paths.failovers, cl->paths.failovers == 1 ? "" : "s");
    cl_dgram_summary(cl);
    fflush(cl->info);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"ca", required_argument, NULL, 'c'},
                                         {"insecure", no_argument, NULL, 'k'},
                                         {"local", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"alpn", required_argument, NULL, 'a'},
                                         {"ciphers", required_argument, NULL, 'x'},
                                         {"quic-version", required_argument, NULL, OPT_QUIC_VERSION},
                                         {"cc", required_argument, NULL, 'C'},
                                         {"no-ecn", no_argument, NULL, 'E'},
                                         {"multipath", no_argument, NULL, OPT_MULTIPATH},
                                         {"key-update", required_argument, NULL, 'K'},
                                         {"datagrams", required_argument, NULL, 'G'},
                                         {"add-local", required_argument, NULL, 'A'},
                                         {"backup-local", required_argument, NULL, OPT_BACKUP_LOCAL},
                                         {"migrate", required_argument, NULL, 'M'},
                                         {"remove-local", required_argument, NULL, 'D'},
                                         {"no-preferred-address", no_argument, NULL, 'P'},
                                         {"show-paths", no_argument, NULL, 'S'},
                                         {"auto-migrate", no_argument, NULL, 'U'},
                                         {"prefer", required_argument, NULL, 'F'},
                                         {"no-failover", no_argument, NULL, 'N'},
                                         {"watch-network", no_argument, NULL, 'W'},
                                         {"stall-ms", required_argument, NULL, 'T'},
                                         {"idle-timeout", required_argument, NULL, 'I'},
                                         {"log", required_argument, NULL, 'L'},
                                         {"keylog", required_argument, NULL, 'Y'},
                                         {"qlog-dir", required_argument, NULL, 'Q'},
                                         {"session-file", required_argument, NULL, 'Z'},
                                         {"early-data", no_argument, NULL, '0'},
                                         {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
                                         {"sha256", no_argument, NULL, OPT_SHA256},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL, *local_text = NULL, *err = NULL, *log_path = NULL;
    const char *keylog_path = NULL;
    FILE *log = NULL, *keylog = NULL;
    int show_paths = 0;
    const char *alpn[MAX_ALPN];
    size_t alpn_count = 0;
    const char *prefer[MAX_PREFER];
    size_t prefer_count = 0;
    uint64_t v;
    char priority[TOOL_PRIORITY_MAX];
    tern_config cfg;
    tern_callbacks cb;
    tern_addr remote, local;
    client *cl;
    int opt, rc, ok, status = 1;

    cl = calloc(1, sizeof(*cl));
    if (!cl) {
        fprintf(stderr, "tern-client: out of memory\n");
        return 1;
    }
    cl->goaway_id = INT64_MAX;
    cl->next_bytes_due = UINT64_MAX; /* lowered by each byte-triggered --add-local & co */
    cl->stalls.threshold_ns = DEFAULT_STALL_NS;
    tern_config_init(&cfg);
#define BAD_OPTION(...)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "tern-client: " __VA_ARGS__);                                              \
        status = 2;                                                                                \
        goto out;                                                                                  \
    } while (0)
    while ((opt = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cfg.ca_file = optarg;
            break;
        case 'k':
            cfg.verify_peer = 0;
            break;
        case 'o':
            out = optarg;
            break;
        case 'l':
            local_text = optarg;
            break;
        case 'j':
            cl->json = 1;
            break;
        case 'a':
            if (alpn_count == MAX_ALPN)
                BAD_OPTION("at most %d --alpn values\n", MAX_ALPN);
            if (strcmp(optarg, "h3") != 0 && strcmp(optarg, "hq-interop") != 0)
                BAD_OPTION("unsupported ALPN '%s' (h3, hq-interop)\n", optarg);
            alpn[alpn_count++] = optarg;
            break;
        case 'x':
            if (tool_parse_ciphers(optarg, priority, sizeof(priority)) < 0)
                BAD_OPTION("bad --ciphers '%s' (AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305)\n",
                           optarg);
            cfg.tls_priority = priority;
            break;
        case 'C':
            if (tool_parse_cc(optarg, &cfg.cc) < 0)
                BAD_OPTION("unknown congestion controller '%s'\n", optarg);
            break;
        case 'E':
            cfg.ecn = 0;
            break;
        case OPT_MULTIPATH:
            cfg.multipath = 1;
            break;
        case OPT_QUIC_VERSION:
            if (tool_add_quic_version(optarg, &cfg) < 0)
                BAD_OPTION("bad --quic-version '%s' (1 or 2, each once)\n", optarg);
            break;
        case 'K':
            if (tool_parse_size(optarg, &cl->key_update_at) < 0)
                BAD_OPTION("bad --key-update '%s'\n", optarg);
            cl->key_update_wanted = 1;
            break;
        case 'G':
            if (tool_parse_size(optarg, &cl->dg.want) < 0)
                BAD_OPTION("bad --datagrams '%s'\n", optarg);
            if (cl->dg.want)
                cfg.max_datagram_frame_size = 65535; /* the echoes come back */
            break;
        case 'A':
        case OPT_BACKUP_LOCAL:
        case 'M':
        case 'D':
            if (cl_script_add(cl,
                              opt == 'A'                ? CL_ACT_ADD
                              : opt == OPT_BACKUP_LOCAL ? CL_ACT_ADD_BACKUP
                              : opt == 'M'              ? CL_ACT_MIGRATE
                                                        : CL_ACT_REMOVE,
                              optarg) < 0) {
                status = 2;
                goto out;
            }
            break;
        case 'P':
            cfg.follow_preferred_address = 0;
            break;
        case 'S':
            show_paths = 1;
            break;
        case 'U':
            cfg.auto_migrate = 1;
            break;
        case 'F':
            if (prefer_count == MAX_PREFER)
                BAD_OPTION("at most %d --prefer values\n", MAX_PREFER);
            if (!optarg[0] || strlen(optarg) > 63)
                BAD_OPTION("bad --prefer '%s' (an interface name or a local address)\n", optarg);
            prefer[prefer_count++] = optarg;
            break;
        case 'N':
            cfg.failover = 0;
            break;
        case 'W':
            cfg.network_monitor = 1;
            break;
        case 'T':
            if (tool_parse_size(optarg, &v) < 0)
                BAD_OPTION("bad --stall-ms '%s'\n", optarg);
            cl->stalls.threshold_ns = v * 1000000ull;
            break;
        case 'I':
            if (tool_parse_size(optarg, &v) < 0)
                BAD_OPTION("bad --idle-timeout '%s'\n", optarg);
            cfg.idle_timeout_ms = v;
            break;
        case 'L':
            log_path = optarg;
            break;
        case 'Y':
            keylog_path = optarg;
            break;
        case 'Q':
            if (tool_qlog_dir_check(optarg) < 0)
                BAD_OPTION("cannot write qlog files into --qlog-dir %s: %s\n", optarg,
                           strerror(errno));
            cfg.qlog_dir = optarg;
            break;
        case 'Z':
            cl->session_file = optarg;
            break;
        case '0':
            cl->early_wanted = 1;
            break;
        case OPT_TOKEN_FILE:
            cl->token_path = optarg;
            break;
        case OPT_SHA256:
            cl->hash = 1;
            break;
        case 'q':
            cl->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        case 'V':
            tool_print_version("tern-client");
            status = 0;
            goto out;
        default:
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        status = 2;
        goto out;
    }
    if (parse_urls(cl, argv + optind, (size_t)(argc - optind)) < 0)
        goto out;
    /* Keep stdout clean for the body (-o -) or the JSON object. */
    cl->err = stderr;
    cl->info = (cl->json || (out && strcmp(out, "-") == 0)) ? stderr : stdout;
    if (tool_url_resolve(&cl->dl[0].url, &remote, &err) < 0) {
        fprintf(stderr, "tern-client: cannot resolve %s: %s\n", cl->dl[0].url.host, err);
        goto out;
    }
    memset(&local, 0, sizeof(local));
    if (local_text && tern_addr_parse(&local, local_text, 0) < 0) {
        fprintf(stderr, "tern-client: bad --local address '%s'\n", local_text);
        goto out;
    }
    tern_addr_format(&remote, cl->peer, sizeof(cl->peer));
    if (open_outputs(cl, out) < 0)
        goto out;
    if (cl->token_path && cl_token_load(cl, cl->token_path) < 0)
        goto out;
    if (log_path && tool_log_open(log_path, &log) < 0) {
        fprintf(stderr, "tern-client: cannot open log file %s: %s\n", log_path, strerror(errno));
        goto out;
    }
    if (log) {
        cfg.log = tool_log_line;
        cfg.log_ud = log;
    }
    if (keylog_path && tool_keylog_open(keylog_path, &keylog) < 0) {
        fprintf(stderr, "tern-client: cannot open key log file %s: %s\n", keylog_path,
                strerror(errno));
        goto out;
    }
    if (keylog) {
        cfg.keylog = tool_keylog_line;
        cfg.keylog_ud = keylog;
    }

    if (alpn_count == 0)
        alpn[alpn_count++] = "h3";
    if (cl->early_wanted && !cl->session_file)
        BAD_OPTION("--early-data needs --session-file\n");
    if (cl->early_wanted && alpn_count > 1)
        BAD_OPTION("--early-data needs a single --alpn (the protocol of the 0-RTT requests)\n");
    cfg.alpn = alpn;
    cfg.alpn_count = alpn_count;
    if (prefer_count) {
        cfg.prefer = prefer;
        cfg.prefer_count = prefer_count;
    }
    cl_callbacks(&cb);

    rc = tern_endpoint_new(&cfg, &cb, cl, &cl->ep);
    if (rc == TERN_ERR_CERT) {
        char why[600];
        tool_cert_diagnose(NULL, NULL, cfg.ca_file, why, sizeof(why));
        fprintf(stderr, "tern-client: %s\n", why);
        goto out;
    }
    if (rc == TERN_ERR_CONFIG && prefer_count) {
        fprintf(stderr, "tern-client: the --prefer list cannot be used: %s\n", tern_strerror(rc));
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "tern-client: cannot create the endpoint: %s\n", tern_strerror(rc));
        goto out;
    }
    tool_install_stop_signals(&stop_requested);
    cl->start_ns = tool_now_ns();
    cl->start_unix_ms = tool_unix_ms();
    cl_progress_init(&cl->progress, !cl->quiet && !show_paths && isatty(STDERR_FILENO),
                     cl->start_ns);
    cl_paths_init(cl, show_paths);
    rc = connect_maybe_resumed(cl, &remote, local_text ? &local : NULL);
    if (rc < 0 && local_text && rc == TERN_ERR_IO && errno == EADDRNOTAVAIL) {
        fprintf(stderr,
                "tern-client: cannot use --local %s: that address is not on this host (%s)\n",
                local_text, strerror(errno));
        goto out;
    }
    if (rc < 0 && local_text && rc == TERN_ERR_IO) {
        fprintf(stderr, "tern-client: cannot send from --local %s: %s\n", local_text,
                strerror(errno));
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "tern-client: cannot connect to %s: %s%s%s\n", cl->dl[0].url.host,
                tern_strerror(rc), rc == TERN_ERR_IO ? ": " : "",
                rc == TERN_ERR_IO ? strerror(errno) : "");
        goto out;
    }
    if (cl->token_len && (rc = tern_conn_set_token(cl->conn, cl->token, cl->token_len)) < 0) {
        fprintf(stderr, "tern-client: cannot use the token of --token-file: %s\n",
                tern_strerror(rc));
        goto out;
    }
    if (cl->conn && tern_conn_early_data(cl->conn) == TERN_EARLY_DATA_PENDING) {
        /* 0-RTT: the requests leave with the ClientHello */
        cl->early_started = 1;
        if (cl_begin(cl, alpn[0]) == 0)
            cl_start_pending(cl);
        cl_dgram_send(cl);
    }
    run(cl);

    ok = cl->n_finished == cl->n;
    for (size_t i = 0; i < cl->n; i++)
        ok = ok && cl->dl[i].result == DL_OK;
    if (cl->dg.error) {
        ok = 0;
        snprintf(cl->error, sizeof(cl->error), "datagrams: %s", tern_strerror(cl->dg.error));
    }
    print_summary(cl);
    if (!ok && cl->error[0])
        fprintf(stderr, "tern-client: %s\n", cl->error);
    if (cl->json)
        print_json(cl, (out && strcmp(out, "-") == 0) ? stderr : stdout, ok);
    status = ok ? 0 : 1;

out:
    if (cl->ep)
        tern_endpoint_free(cl->ep);
    cl_h3_free(cl);
    for (size_t i = 0; i < cl->n; i++) {
        tool_sha256_discard(&cl->dl[i].hash);
        (void)cl_flush_body(&cl->dl[i]);
        free(cl->dl[i].wbuf);
        if (cl->dl[i].close_fd && cl->dl[i].fd >= 0)
            close(cl->dl[i].fd);
    }
    free(cl->dl);
    free(cl);
    tool_log_close(log);
    tool_log_close(keylog);
    return status;
}
