/* tern-client's shared state and the interface between its parts: tern-client.c (options,
 * downloads, output, the connection), hq.c (hq-interop requests), h3.c (HTTP/3 requests through
 * nghttp3) and progress.c (the terminal progress bar). */
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
    uint64_t bytes;
    uint64_t reset_code;
    int fd;       /* output, -1 to discard */
    int close_fd; /* 1 when fd is ours to close */
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

typedef struct client {
    tern_endpoint *ep;
    tern_conn *conn;
    download *dl;
    size_t n, next_open, n_finished;
    int quiet, json, connected, closed, interrupted;
    cl_proto proto;
    tool_h3 *h3;
    int64_t goaway_id; /* first stream the server will not serve; INT64_MAX without GOAWAY */
    FILE *info;        /* human-readable per-URL lines */
    uint64_t start_ns, connected_ns, done_ns, total_bytes;
    int key_update_wanted, key_update_done;
    uint64_t key_update_at;
    tern_conn_stats stats;
    int have_stats;
    tern_close_info close;
    int have_close;
    cl_progress progress;
    char cipher[32], alpn[64];
    char peer[64];   /* the server's address, for messages */
    char error[512]; /* first connection-level failure */
    unsigned char buf[CL_READ_CHUNK];
} client;

/* tern-client.c */
download *cl_find_dl(client *cl, int64_t sid);
/* Marks a download finished; when it is the last one, closes the connection cleanly. */
void cl_finish_dl(client *cl, download *d, dl_result result);
void cl_fail_dl(client *cl, download *d, const char *what, int err);
/* Body bytes of `d`: hashed, written to its output, counted. Returns 0, or -1 after finishing the
 * download as failed (the caller stops the stream). */
int cl_body(client *cl, download *d, const uint8_t *data, size_t len);

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

#endif
