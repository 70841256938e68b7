/* tern-client's shared state and the interface between its parts: tern-client.c (options,
 * downloads, output, the report), conn.c (tern's callbacks, the downloads' outcomes), hq.c
 * (hq-interop requests), h3.c (HTTP/3 requests, on the HTTP/3 layer of common/h3conn.h),
 * progress.c (the terminal progress bar), script.c (scripted local address changes),
 * paths.c (path and network events, their history, the live path table) and stalls.c (delivery
 * gaps and what ended them) and dgram.c (unreliable datagrams sent alongside, --datagrams). */
#ifndef TOOLS_CLIENT_CLIENT_H
#define TOOLS_CLIENT_CLIENT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "common/h3conn.h"
#include "common/sha256.h"
#include "common/url.h"
#include "tern/tern.h"

#define CL_READ_CHUNK (64 * 1024)
/* Bytes of a body gathered before each write(2) to its output: the pieces stream reads return
 * (an HTTP/3 DATA frame's worth, often one packet) would otherwise cost a system call each. */
#define CL_WRITE_CHUNK (1024 * 1024)

typedef enum cl_proto { CL_PROTO_NONE, CL_PROTO_HQ, CL_PROTO_H3 } cl_proto;

/* How a download ended. DL_HTTP_ERROR: a complete HTTP/3 response whose status is not 2xx. */
typedef enum dl_result { DL_PENDING, DL_OK, DL_HTTP_ERROR, DL_RESET, DL_ERROR } dl_result;

typedef struct download {
    const char *url_text;
    tool_url url;
    int64_t sid; /* -1 until the stream is opened */
    dl_result result;
    int status;             /* HTTP/3 final status, 0 before it arrives (and for hq-interop) */
    uint64_t content_length; /* announced body size, when have_length */
    int have_length;
    char content_type[128];  /* HTTP/3 content-type ("" when absent or too long) */
    uint64_t bytes;
    uint64_t reset_code;
    int fd;       /* output, -1 to discard */
    int close_fd; /* 1 when fd is ours to close */
    uint8_t *wbuf; /* body bytes not written to fd yet (CL_WRITE_CHUNK, allocated on first use) */
    size_t wlen;
    size_t req_len, req_sent; /* hq-interop request line */
    tool_sha256 hash;
    char sha256[TOOL_SHA256_HEX_LEN + 1];
    char error[160];
    char out_path[PATH_MAX];
    char req[TOOL_URL_PATH_MAX + 8];
} download;

typedef struct cl_progress {
    int enabled;
    int drawn;
    uint64_t start_ns, last_ns;
} cl_progress;

/* A scripted local address change (--add-local, --backup-local, --migrate, --remove-local). */
typedef enum cl_act_kind { CL_ACT_ADD, CL_ACT_MIGRATE, CL_ACT_REMOVE, CL_ACT_ADD_BACKUP } cl_act_kind;

typedef struct cl_action {
    cl_act_kind kind;
    const char *spec;  /* the option's argument, for messages */
    tern_addr addr;
    int any_port;      /* no port given: add/migrate bind port 0, remove/migrate match any port */
    int by_bytes;      /* trigger on bytes received; else on time since the handshake */
    uint64_t at;       /* bytes, or ns after the handshake */
    int done;
    uint64_t ran_ns;   /* when it ran (monotonic) */
    uint64_t ran_bytes;
    int rc;            /* path id (>= 0), 0 for remove, or TERN_ERR_* */
    int sys_errno;     /* errno with TERN_ERR_BIND */
} cl_action;

#define CL_MAX_ACTIONS 64
#define CL_MAX_PATH_RECS 64 /* paths remembered for the report; later ones are counted only */
#define CL_PATH_EVENTS 32   /* events remembered per path */
#define CL_MAX_MIGRATIONS 256

typedef struct cl_path_ev {
    uint64_t t_ns;
    tern_path_event_type type;
    tern_path_reason reason;
    uint64_t rtt_ns;
} cl_path_ev;

/* Everything known about one path: its latest description and what happened to it. */
typedef struct cl_path_rec {
    tern_path_info info;
    int gone;       /* REMOVED seen, or no longer listed by tern_conn_paths */
    int shown_gone; /* the plain table printed it once after it went */
    size_t nev, ev_dropped;
    cl_path_ev ev[CL_PATH_EVENTS];
} cl_path_rec;

typedef struct cl_migration {
    uint64_t t_ns;
    tern_path_reason reason;
    int have_from;
    tern_path_info from, to;
    /* stream bytes delivered in the first CL_RATE_EARLY_NS after the switch, and in the rest of
     * the first CL_RATE_WINDOW_NS (until the next switch): how fast the new path got going */
    uint64_t bytes_early, bytes_later;
    int cut_short; /* the next switch came before the window ended */
} cl_migration;

#define CL_RATE_EARLY_NS (250ull * 1000000ull)
#define CL_RATE_WINDOW_NS (1000ull * 1000000ull)

/* A delivery gap of at least the stall threshold (stalls.c). */
typedef struct cl_stall {
    uint64_t start_ns, end_ns;
    int ended;           /* the transfer ended during it */
    char end_why[160];   /* ended: why */
    int have_cause;      /* a path event happened during it */
    cl_path_ev cause;    /* the last switch of the active path in it, else the last event */
    int cause_path;
} cl_stall;

#define CL_MAX_STALLS 64

typedef struct cl_stalls {
    uint64_t threshold_ns; /* --stall-ms */
    cl_stall s[CL_MAX_STALLS];
    size_t n, total;
    int ended; /* the final gap has been closed */
    cl_path_ev last_any, last_active; /* the latest path event, and the latest ACTIVE one */
    int last_any_path, last_active_path;
} cl_stalls;

#define CL_MAX_NET_EVENTS 64

typedef struct cl_net_ev {
    uint64_t t_ns;
    tern_net_event ev;
} cl_net_ev;

typedef struct cl_paths {
    cl_path_rec rec[CL_MAX_PATH_RECS];
    size_t n, dropped;
    cl_migration mig[CL_MAX_MIGRATIONS];
    size_t nmig, mig_total;
    size_t failovers; /* switches away from a path that died (every one, kept or not) */
    cl_net_ev net[CL_MAX_NET_EVENTS];
    size_t nnet, net_total;
    int table;          /* --show-paths */
    int table_tty;      /* redraw in place (stderr is a terminal) */
    int table_dirty;    /* an event happened since the last drawing */
    int table_header_done;
    size_t table_lines; /* lines of the table on screen (tty) */
    uint64_t table_last_ns;
} cl_paths;

/* --datagrams: datagrams sent to the server (which echoes them with --datagram-echo). */
typedef struct cl_dgram {
    uint64_t want, queued;  /* asked for; accepted by tern so far */
    uint64_t queued_early;  /* of those, accepted before on_connected (sent in 0-RTT) */
    uint64_t acked, lost;   /* their outcomes */
    uint64_t echoed, bad;   /* echoes received: intact, and not ours or altered */
    int error;              /* a refusal that ended the sending (TERN_ERR_*), 0 when none */
    uint64_t settled_ns;    /* every outcome known, some echoes still out: since when */
} cl_dgram;
#define CL_DGRAM_SIZE 64
#define CL_DGRAM_ECHO_WAIT_NS (200ull * 1000000ull) /* for the last echoes, at most */
#define TERN_TOKEN_FILE_MAX 512 /* the longest token tern_conn_set_token takes */

typedef struct client {
    tern_endpoint *ep;
    tern_conn *conn;
    download *dl;
    size_t n, next_open, n_finished;
    int quiet, json, connected, closed, interrupted;
    int hash; /* --sha256: each body is hashed as it arrives and its digest reported */
    cl_proto proto;
    tool_h3 *h3;
    int64_t goaway_id; /* first stream the server will not serve; INT64_MAX without GOAWAY */
    FILE *info;        /* human-readable per-URL lines */
    FILE *err;         /* failed downloads and key updates (stderr; NULL: not reported) */
    uint64_t start_ns, connected_ns, done_ns, total_bytes;
    uint64_t start_unix_ms; /* wall clock at start, to line the report up with outside events */
    int key_update_wanted, key_update_done;
    uint64_t key_update_at;
    tern_conn_stats stats;
    int have_stats;
    tern_close_info close;
    int have_close;
    cl_progress progress;
    /* scripted migration */
    cl_action actions[CL_MAX_ACTIONS];
    size_t nactions;
    uint64_t next_bytes_due; /* smallest byte trigger still pending (UINT64_MAX: none) */
    int script_busy;
    /* delivery gaps: the longest interval without stream data (stalls.c), and the stalls */
    uint64_t last_data_ns, longest_gap_ns, longest_gap_at_ns;
    cl_stalls stalls;
    cl_paths paths;
    cl_dgram dg;
    int closing; /* the clean close at the end is under way */
    uint64_t closing_ns;
    /* session resumption (--session-file, --early-data) */
    const char *session_file;
    int early_wanted;  /* --early-data */
    int early_started; /* requests went out in 0-RTT (before on_connected) */
    int resumed;       /* the handshake resumed the session */
    int early_state;   /* tern_conn_early_data() once connected */
    unsigned tickets_saved;
    int session_warned;
    char cipher[32], alpn[64];
    char quic_version[16]; /* the negotiated QUIC version ("v1", "v2") once connected */
    char peer[64];   /* the server's address, for messages */
    /* --token-file (token.c): the token read (offered once), and the tokens the server sent */
    const char *token_path;
    uint8_t token[TERN_TOKEN_FILE_MAX];
    size_t token_len;
    int tokens_received;
    char error[512]; /* first connection-level failure */
    unsigned char buf[CL_READ_CHUNK];
} client;

/* token.c: reads the token of --token-file `path` into cl->token when it names this server (its
 * name and address, cl->peer) and removes the file (a token is offered once). Returns 0 (also
 * when there is no file, or it is for another server) or -1 (unreadable, not a token file). */
int cl_token_load(client *cl, const char *path);
/* A NEW_TOKEN arrived: counted, and written to cl->token_path (when set) for the next run. */
void cl_token_save(client *cl, const uint8_t *token, size_t len);

/* conn.c: tern's callbacks of the client, with the `client` as their user data. */
void cl_callbacks(tern_callbacks *cb);
/* Remembers the first connection-level failure for the report. */
void cl_set_error(client *cl, const char *msg);
/* Starts the application protocol of `alpn` (once; for 0-RTT, the protocol of the only ALPN
 * offered). Returns 0 or -1 (HTTP/3 could not start: the connection is closing). */
int cl_begin(client *cl, const char *alpn);
/* Opens streams for downloads not started yet, as far as the peer's stream limit allows. */
void cl_start_pending(client *cl);
/* Redraws the progress bar (when enabled and downloads are left). */
void cl_show_progress(client *cl);
download *cl_find_dl(client *cl, int64_t sid);
/* Marks a download finished; when it is the last one, closes the connection cleanly. */
void cl_finish_dl(client *cl, download *d, dl_result result);
void cl_fail_dl(client *cl, download *d, const char *what, int err);
/* Writes the body bytes `d` gathered to its output (also those of a download that failed: what
 * arrived is kept, as a plain write would have). Returns 0 or -1 (errno set). */
int cl_flush_body(download *d);
/* Body bytes of `d`: hashed (with --sha256), written to its output (gathered into large writes),
 * counted. Returns 0, or -1 after finishing the
 * download as failed (the caller stops the stream). */
int cl_body(client *cl, download *d, const uint8_t *data, size_t len);

/* Closes the connection cleanly once every download finished and every datagram has its
 * outcome. */
void cl_maybe_close(client *cl);

/* dgram.c: --datagrams. cl_dgram_send queues what the send queue takes (at the handshake and as
 * outcomes free room); cl_dgram_settled is 1 once every datagram has its outcome and its echo,
 * or CL_DGRAM_ECHO_WAIT_NS after the outcomes for echoes that did not come. */
void cl_dgram_callbacks(tern_callbacks *cb);
void cl_dgram_send(client *cl);
int cl_dgram_settled(client *cl);
void cl_dgram_summary(client *cl);
void cl_dgram_json(const client *cl, FILE *f);

/* hq.c */
void cl_hq_send_request(client *cl, download *d);
void cl_hq_on_readable(client *cl, int64_t sid);

/* h3.c */
int cl_h3_start(client *cl);
/* Sends the request of `d` on its freshly opened stream. */
void cl_h3_submit(client *cl, download *d);
void cl_h3_free(client *cl);

/* progress.c: a one-line bar on stderr, redrawn at most ten times a second; only when enabled
 * (stderr is a terminal and not -q) and after the download has run for a moment. */
void cl_progress_init(cl_progress *p, int enabled, uint64_t now_ns);
void cl_progress_update(cl_progress *p, uint64_t now_ns, uint64_t done, uint64_t total,
                        size_t files_done, size_t files);
/* Erases the bar (before other output on stderr, and at the end). */
void cl_progress_clear(cl_progress *p);

/* script.c: parses "ADDR[:PORT]@WHEN" for `kind` (the text must outlive the client). Returns 0,
 * or -1 after printing why. */
int cl_script_add(client *cl, cl_act_kind kind, const char *spec);
/* Runs every action whose trigger has passed, in the order given on the command line. Called
 * between loop iterations and as data arrives; does nothing before the handshake or after the
 * downloads ended. */
void cl_script_run(client *cl);
/* `cap_ms`, or less when a time trigger falls due sooner. */
int cl_script_wait_ms(client *cl, int cap_ms);
/* Says which actions never ran (the downloads ended first), unless quiet. */
void cl_script_report_pending(client *cl);
/* ,"actions":[...] */
void cl_script_json(client *cl, FILE *f);

/* stalls.c */
/* Stream data arrived at `now`: closes the gap since the previous delivery. */
void cl_stalls_on_data(client *cl, uint64_t now);
/* Remembers a path event as the possible end of the current gap. */
void cl_stalls_on_path_event(client *cl, const tern_path_event *ev, uint64_t now);
/* The transfer ended at `now` before every body arrived (`why`: the connection's end): the gap
 * since the last delivery is a stall too. Once; nothing when every download finished. */
void cl_stalls_on_end(client *cl, uint64_t now, const char *why);
/* ,"stall_threshold_ms":..,"stalls":[...] */
void cl_stalls_json(client *cl, FILE *f);

/* paths.c */
/* The event type's name in the report ("active", "failed", ...). */
const char *cl_paths_event_name(tern_path_event_type t);
/* A network event (address, link, default route) from tern: a line on stderr, and the report. */
void cl_paths_on_network_event(client *cl, const tern_net_event *ev);
/* ,"failovers":N,"network_events":[...] */
void cl_paths_net_json(client *cl, FILE *f);
/* A line on stderr with the time since start, after erasing the progress bar and path table. */
void cl_note(client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cl_paths_init(client *cl, int table);
void cl_paths_on_event(client *cl, const tern_path_event *ev);
/* Updates the records from tern_conn_paths (new paths, counters). */
void cl_paths_refresh(client *cl);
/* Draws the path table when it is due (every 500 ms, or after an event). `force`: now. */
void cl_paths_tick(client *cl, int force);
/* Erases the table from the terminal (before other output). */
void cl_paths_table_clear(client *cl);
/* Draws the table one last time (the paths' final counters) and leaves it on the screen. */
void cl_paths_table_end(client *cl);
/* ,"paths":[...],"migrations":[...] */
void cl_paths_json(client *cl, FILE *f);
/* Stream data arrived: counted in the rate window of the latest switch. */
void cl_paths_on_data(client *cl, uint64_t now, size_t len);
/* ACTIVE events seen (every one, even those not kept for the report). */
size_t cl_paths_migrations(const client *cl);
/* A local address given without a port: the local address of the live path on that IP (the
 * active one first). Returns 0 with *out filled, or -1 when no path has that IP. */
int cl_paths_find_local(client *cl, const tern_addr *ip, tern_addr *out);

#endif
