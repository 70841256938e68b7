/* tern-server's shared state and the interface between its parts: tern-server.c (options,
 * shutdown), conns.c (connections and tern's callbacks), files.c (mapping request paths to files
 * below the root), fmap.c (files mapped for bodies sent by reference), hq.c (hq-interop, HTTP/0.9
 * over QUIC) and h3.c (HTTP/3 requests, on the HTTP/3 layer of common/h3conn.h). */
#ifndef TOOLS_SERVER_SERVER_H
#define TOOLS_SERVER_SERVER_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/h3conn.h"
#include "common/sidmap.h"
#include "server/trim.h"
#include "tern/tern.h"

#define SRV_CHUNK_SIZE (64 * 1024)
/* Bytes of a mapped file per piece handed to tern by reference: a quarter of tern's default stream
 * send buffer, so that four are in flight and a released one is replaced at once. */
#define SRV_REF_PIECE (256 * 1024)
#define SRV_REQ_MAX 2048 /* longest request line (hq) or :path (h3) we accept */

typedef enum srv_proto { SRV_PROTO_NONE, SRV_PROTO_HQ, SRV_PROTO_H3 } srv_proto;

/* One extension and its content type (mime.c). */
typedef struct srv_mime_entry {
    const char *ext, *type;
    size_t order; /* position in the file, while loading */
} srv_mime_entry;

typedef struct srv_mime {
    srv_mime_entry *e; /* sorted by extension, one entry each */
    size_t n, cap;
    char *text; /* the file's contents: the entries point into it */
} srv_mime;

typedef struct server server;
typedef struct hq_stream hq_stream;
typedef struct h3_req h3_req;

typedef struct srv_conn {
    struct srv_conn *prev, *next;
    server *srv;
    tern_conn *conn;
    char peer[64];
    srv_proto proto;
    uint64_t hq_bytes_sent; /* response bytes tern accepted on hq streams */
    int key_update_done;
    int closing;             /* closed by the server's shutdown */
    uint64_t drained_since;  /* shutdown: since when nothing is in flight */
    uint64_t sent_all_since; /* shutdown: since when every byte has been sent once */
    /* hq-interop */
    tool_sidmap hq_streams; /* hq_stream records */
    /* HTTP/3 */
    tool_h3 *h3;
    h3_req *reqs; /* every request with state, for cleanup when the connection ends */
    int goaway_sent; /* 0 none, 1 notice, 2 final */
} srv_conn;

struct server {
    tern_endpoint *ep;
    char root[PATH_MAX];
    size_t root_len;
    int quiet;
    srv_mime mime;
    int shutting_down; /* new connections get a GOAWAY and are closed */
    int key_update_wanted;
    uint64_t key_update_at; /* stream bytes sent per connection before one key update */
    int datagram_echo;      /* --datagram-echo */
    srv_conn *conns;
    uint64_t accepted; /* connections accepted (on_accept) */
    srv_trim trim;
    unsigned char buf[SRV_CHUNK_SIZE]; /* pread target and read scratch, shared by all streams */
};

/* files.c: opens the file for `url_path` (percent-decoded, query dropped) below the root.
 * Returns an fd with *size and *ctype (its content type, static or owned by srv->mime) set, or -1
 * with *status 400 (malformed path) or 404 (missing, not a regular file, or outside the root). */
int srv_open_file(server *srv, const char *url_path, uint64_t *size, const char **ctype,
                  int *status);

/* fmap.c: a file mapped read-only, shared by the response sending it and the pieces of it tern
 * holds by reference. */
typedef struct srv_fmap {
    struct srv_fmap *prev, *next; /* the thread's mappings, for the SIGBUS handler */
    struct srv_fmap **head;       /* that list's head (it outlives its thread) */
    unsigned char *base;
    size_t len;
    int refs;
    volatile sig_atomic_t damaged; /* the file shrank under the mapping: zeros were read in its place */
} srv_fmap;
/* Maps the `size` bytes of fd (one reference, the caller's). NULL when the file is empty or cannot
 * be mapped: the caller reads it instead. */
srv_fmap *srv_fmap_open(int fd, uint64_t size);
/* Drops one reference; the last one unmaps. NULL is ignored. */
void srv_fmap_unref(srv_fmap *m);
/* tern_release_fn for pieces written by reference with the mapping as user data: one reference
 * each. */
void srv_fmap_release(void *ud, const void *data, size_t len);

/* mime.c: loads the extension table of `path` (a mime.types file: "type ext ext..." lines; NULL
 * or unreadable: built-in types only). Returns 0, or -1 when out of memory. */
int srv_mime_load(srv_mime *m, const char *path);
/* The content type of file `name` by its extension (case-insensitive): the file's table first,
 * then the built-in types, else "application/octet-stream". Never NULL. */
const char *srv_mime_type(const srv_mime *m, const char *name);
void srv_mime_free(srv_mime *m);
/* qsort order for loading: by extension, then by position in the file. */
int srv_mime_cmp_order(const void *a, const void *b);

/* conns.c: tern's callbacks of the server, with the `server` as their user data; each connection
 * gets its srv_conn (tern_conn_set_user_data) at on_accept, or when first seen. */
void srv_callbacks(tern_callbacks *cb);
/* Releases a connection's state and unlinks it (on_closed does it for a connection that ends). */
void srv_conn_free(server *srv, srv_conn *sc);
/* Closes a connection for the shutdown, once (H3_NO_ERROR for HTTP/3). */
void srv_close_for_shutdown(srv_conn *sc);
/* One line per finished request unless quiet. */
void srv_log_request(server *srv, srv_conn *sc, int64_t sid, const char *method, const char *path,
                     const char *status, uint64_t bytes, uint64_t start_ns);
/* Starts the configured key update once this connection has sent enough. */
void srv_maybe_key_update(srv_conn *sc);

/* hq.c: the tern stream callbacks of an hq-interop connection. */
void srv_hq_on_stream_open(srv_conn *sc, int64_t sid);
void srv_hq_on_readable(srv_conn *sc, int64_t sid);
void srv_hq_on_writable(srv_conn *sc, int64_t sid);
void srv_hq_on_reset(srv_conn *sc, int64_t sid, uint64_t app_error);
void srv_hq_on_stop_sending(srv_conn *sc, int64_t sid, uint64_t app_error);
void srv_hq_conn_free(srv_conn *sc);

/* h3.c: HTTP/3 on a connection that negotiated "h3". */
int srv_h3_start(srv_conn *sc);
/* Bytes written on every stream of an HTTP/3 connection, for the key update threshold. */
uint64_t srv_h3_bytes_sent(srv_conn *sc);
/* GOAWAY: `final` 0 sends the shutdown notice, 1 the GOAWAY after which new requests are
 * refused; the requests in progress continue either way. */
void srv_h3_goaway(srv_conn *sc, int final);
/* Number of requests still in progress. */
size_t srv_h3_active(srv_conn *sc);
void srv_h3_conn_free(srv_conn *sc);

#endif
