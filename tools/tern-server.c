/* tern-server: serves the files under a directory over hq-interop (HTTP/0.9 over QUIC).
 *
 * A client opens a bidirectional stream and sends "GET /path\r\n" (or "GET /path" and FIN); the
 * server answers with the file's bytes and FIN. Errors end the response with RESET_STREAM and an
 * application error code, since HTTP/0.9 has no status line:
 *   0x1  not found (missing file, not a regular file, or a path escaping the root)
 *   0x2  bad request (not a GET line, too long, or the request stream was reset)
 *   0x3  internal error (the file could not be read)
 * Files are streamed: each stream keeps only a file descriptor and an offset, and every chunk is
 * read with pread into one buffer shared by all streams, so memory does not grow with file size. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cert.h"
#include "common/util.h"
#include "tern/tern.h"

#define CHUNK_SIZE (64 * 1024)
#define REQ_MAX 2048 /* longest request line we accept, "GET " and CRLF included */
#define STREAM_BUCKETS 64
#define MAX_ALPN 8

enum { APP_ERR_NOT_FOUND = 0x1, APP_ERR_BAD_REQUEST = 0x2, APP_ERR_INTERNAL = 0x3 };

typedef struct srv_stream {
    struct srv_stream *next; /* hash chain */
    int64_t sid;
    int req_done;       /* the request line was handled */
    int req_fin;        /* nothing more will arrive from the client */
    int resp_done;      /* FIN accepted or the response was reset */
    int fd;             /* file being sent, -1 when none */
    uint64_t size, off; /* file size and bytes accepted by the stream so far */
    uint64_t start_ns;
    size_t req_len;
    const char *path; /* points into req once the request is parsed */
    char req[REQ_MAX];
} srv_stream;

typedef struct srv_conn {
    struct srv_conn *prev, *next;
    tern_conn *conn;
    char peer[64];
    size_t nstreams;
    srv_stream *buckets[STREAM_BUCKETS];
} srv_conn;

typedef struct server {
    tern_endpoint *ep;
    char root[PATH_MAX];
    size_t root_len;
    int quiet;
    srv_conn *conns;
    unsigned char buf[CHUNK_SIZE]; /* pread target and discard area, shared by all streams */
} server;

static volatile sig_atomic_t stop_requested;

/* ---- logging ---- */

static void log_request(server *srv, srv_conn *sc, srv_stream *st, const char *status)
{
    double ms;

    if (srv->quiet)
        return;
    ms = (double)(tool_now_ns() - st->start_ns) / 1e6;
    printf("%s stream %lld %s%s %s %llu bytes %.1f ms\n", sc->peer, (long long)st->sid,
           st->path ? "GET " : "", st->path ? st->path : "-", status, (unsigned long long)st->off,
           ms);
    fflush(stdout);
}

/* ---- per-connection stream table ---- */

static srv_stream **stream_slot(srv_conn *sc, int64_t sid)
{
    srv_stream **pp = &sc->buckets[((uint64_t)sid >> 2) % STREAM_BUCKETS];

    while (*pp && (*pp)->sid != sid)
        pp = &(*pp)->next;
    return pp;
}

static srv_stream *stream_get(srv_conn *sc, int64_t sid)
{
    return *stream_slot(sc, sid);
}

static srv_stream *stream_add(srv_conn *sc, int64_t sid)
{
    srv_stream **pp = stream_slot(sc, sid);
    srv_stream *st;

    if (*pp)
        return *pp;
    st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->sid = sid;
    st->fd = -1;
    st->start_ns = tool_now_ns();
    *pp = st;
    sc->nstreams++;
    return st;
}

static void stream_close_file(srv_stream *st)
{
    if (st->fd >= 0) {
        close(st->fd);
        st->fd = -1;
    }
}

static void stream_free(srv_conn *sc, srv_stream *st)
{
    srv_stream **pp = stream_slot(sc, st->sid);

    if (*pp == st) {
        *pp = st->next;
        sc->nstreams--;
    }
    stream_close_file(st);
    free(st);
}

/* Once both directions are finished the state has no further use. */
static void stream_maybe_free(srv_conn *sc, srv_stream *st)
{
    if (st->req_fin && st->resp_done)
        stream_free(sc, st);
}

static srv_conn *conn_state(server *srv, tern_conn *c)
{
    srv_conn *sc = tern_conn_get_user_data(c);
    tern_path_addr pa;

    if (sc)
        return sc;
    sc = calloc(1, sizeof(*sc));
    if (!sc)
        return NULL;
    sc->conn = c;
    tern_conn_get_path(c, &pa);
    if (pa.remote.len)
        tern_addr_format(&pa.remote, sc->peer, sizeof(sc->peer));
    else
        snprintf(sc->peer, sizeof(sc->peer), "?");
    sc->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = sc;
    srv->conns = sc;
    tern_conn_set_user_data(c, sc);
    return sc;
}

static void conn_state_free(server *srv, srv_conn *sc)
{
    for (size_t i = 0; i < STREAM_BUCKETS; i++) {
        while (sc->buckets[i]) {
            srv_stream *st = sc->buckets[i];
            if (st->req_done && !st->resp_done)
                log_request(srv, sc, st, "aborted (connection closed)");
            stream_free(sc, st);
        }
    }
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        srv->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    free(sc);
}

/* ---- responses ---- */

static void respond_error(server *srv, srv_conn *sc, srv_stream *st, uint64_t code,
                          const char *status)
{
    stream_close_file(st);
    tern_stream_reset(sc->conn, st->sid, code);
    st->resp_done = 1;
    log_request(srv, sc, st, status);
}

/* Moves file bytes into the stream until it pushes back; resumed from on_stream_writable. */
static void pump(server *srv, srv_conn *sc, srv_stream *st)
{
    while (st->fd >= 0) {
        uint64_t remaining = st->size - st->off;
        size_t want = remaining < CHUNK_SIZE ? (size_t)remaining : CHUNK_SIZE;
        size_t room = tern_stream_writable(sc->conn, st->sid);
        ssize_t n = 0, w;
        int fin;

        /* A zero answer is not trusted as "wait": only a refused write promises a writable
         * event, so then the write is attempted anyway. */
        if (room > 0 && room < want)
            want = room;
        if (want > 0) {
            n = pread(st->fd, srv->buf, want, (off_t)st->off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                respond_error(srv, sc, st, APP_ERR_INTERNAL, "read error");
                return;
            }
        }
        /* n == 0 before the expected size means the file shrank: end the body where it ends. */
        fin = st->off + (uint64_t)n >= st->size || n == 0;
        w = tern_stream_write(sc->conn, st->sid, srv->buf, (size_t)n, fin);
        if (w == TERN_ERR_WOULD_BLOCK)
            return;
        if (w < 0) {
            stream_close_file(st);
            st->resp_done = 1;
            log_request(srv, sc, st, tern_strerror((int)w));
            return;
        }
        st->off += (uint64_t)w;
        if (w < n)
            return;
        if (fin) {
            stream_close_file(st);
            st->resp_done = 1;
            log_request(srv, sc, st, "200");
            return;
        }
    }
}

/* Decodes %XX escapes and drops the query in place. Returns -1 for malformed escapes, NUL bytes
 * or control characters. */
static int decode_path(char *p)
{
    char *out = p;

    for (; *p && *p != '?'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '%') {
            unsigned v = 0;
            for (int i = 1; i <= 2; i++) {
                char h = p[i];
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f')
                    v |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F')
                    v |= (unsigned)(h - 'A' + 10);
                else
                    return -1;
            }
            ch = (unsigned char)v;
            p += 2;
        }
        if (ch < 0x20 || ch == 0x7f)
            return -1;
        *out++ = (char)ch;
    }
    *out = '\0';
    return 0;
}

/* 1 when any '/'-separated component of `rel` is "..". */
static int has_dotdot(const char *rel)
{
    const char *p = rel;

    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* Opens the file for `url_path` below the root. Returns an fd, or -1 when it must not be served. */
static int open_below_root(server *srv, const char *url_path, uint64_t *size)
{
    char decoded[REQ_MAX], full[PATH_MAX + REQ_MAX + 16], resolved[PATH_MAX];
    const char *rel;
    struct stat sb;
    size_t len;
    int fd;

    snprintf(decoded, sizeof(decoded), "%s", url_path);
    if (decode_path(decoded) < 0)
        return -1;
    rel = decoded;
    while (*rel == '/')
        rel++;
    if (has_dotdot(rel))
        return -1;
    len = strlen(rel);
    snprintf(full, sizeof(full), "%s/%s%s", srv->root, rel,
             (len == 0 || rel[len - 1] == '/') ? "index.html" : "");
    /* Resolving symlinks too: a link inside the root must not lead outside it. */
    if (!realpath(full, resolved))
        return -1;
    if (strncmp(resolved, srv->root, srv->root_len) != 0 ||
        (resolved[srv->root_len] != '/' && srv->root_len > 1))
        return -1;
    fd = open(resolved, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)sb.st_size;
    return fd;
}

/* Handles one request line (NUL-terminated, line ending removed). */
static void handle_request(server *srv, srv_conn *sc, srv_stream *st, char *line)
{
    char *path, *end;

    st->req_done = 1;
    if (strncmp(line, "GET ", 4) != 0) {
        respond_error(srv, sc, st, APP_ERR_BAD_REQUEST, "400 bad request");
        return;
    }
    path = line + 4;
    while (*path == ' ')
        path++;
    end = path + strcspn(path, " "); /* tolerate a trailing " HTTP/x.y" */
    *end = '\0';
    st->path = path;
    if (path[0] != '/') {
        respond_error(srv, sc, st, APP_ERR_BAD_REQUEST, "400 bad request");
        return;
    }
    st->fd = open_below_root(srv, path, &st->size);
    if (st->fd < 0) {
        respond_error(srv, sc, st, APP_ERR_NOT_FOUND, "404 not found");
        return;
    }
    pump(srv, sc, st);
}

/* Looks for a complete request line; `fin` means the bytes so far are all there will be. */
static void try_parse(server *srv, srv_conn *sc, srv_stream *st, int fin)
{
    char *nl = memchr(st->req, '\n', st->req_len);
    size_t len;

    if (!nl && !fin) {
        if (st->req_len >= REQ_MAX - 1) {
            st->req_done = 1;
            tern_stream_stop_sending(sc->conn, st->sid, APP_ERR_BAD_REQUEST);
            st->req_fin = 1;
            respond_error(srv, sc, st, APP_ERR_BAD_REQUEST, "400 request too long");
        }
        return;
    }
    len = nl ? (size_t)(nl - st->req) : st->req_len;
    if (len > 0 && st->req[len - 1] == '\r')
        len--;
    st->req[len] = '\0';
    if (memchr(st->req, '\0', len)) {
        st->req_done = 1;
        respond_error(srv, sc, st, APP_ERR_BAD_REQUEST, "400 bad request");
        return;
    }
    handle_request(srv, sc, st, st->req);
}

/* ---- callbacks ---- */

static void on_accept(tern_conn *c, void *ud)
{
    if (!conn_state(ud, c))
        tern_conn_close(c, 0x3, "out of memory");
}

static void on_stream_open(tern_conn *c, int64_t sid, void *ud)
{
    srv_conn *sc = conn_state(ud, c);

    /* Only client-initiated bidirectional streams carry requests (low bits 00). */
    if (sc && (sid & 0x3) == 0 && !stream_add(sc, sid))
        tern_stream_reset(c, sid, APP_ERR_INTERNAL);
}

static void on_stream_readable(tern_conn *c, int64_t sid, void *ud)
{
    server *srv = ud;
    srv_conn *sc = conn_state(srv, c);
    srv_stream *st = sc ? stream_get(sc, sid) : NULL;

    /* Without state (a unidirectional stream, or one already finished) data is only drained. */
    for (;;) {
        unsigned char *dst = srv->buf;
        size_t cap = sizeof(srv->buf);
        ssize_t n;
        int fin = 0;

        if (st && !st->req_done) {
            dst = (unsigned char *)st->req + st->req_len;
            cap = REQ_MAX - 1 - st->req_len;
        }
        n = tern_stream_read(c, sid, dst, cap, &fin);
        if (n == TERN_ERR_WOULD_BLOCK)
            break;
        if (n < 0) {
            fin = 1;
            n = 0;
        }
        if (st && !st->req_done) {
            st->req_len += (size_t)n;
            try_parse(srv, sc, st, fin);
        }
        if (fin) {
            if (st)
                st->req_fin = 1;
            break;
        }
        if (n == 0)
            break;
    }
    if (st)
        stream_maybe_free(sc, st);
}

static void on_stream_writable(tern_conn *c, int64_t sid, void *ud)
{
    server *srv = ud;
    srv_conn *sc = conn_state(srv, c);
    srv_stream *st = sc ? stream_get(sc, sid) : NULL;

    if (st && st->fd >= 0) {
        pump(srv, sc, st);
        stream_maybe_free(sc, st);
    }
}

static void on_stream_reset(tern_conn *c, int64_t sid, uint64_t app_error, void *ud)
{
    server *srv = ud;
    srv_conn *sc = conn_state(srv, c);
    srv_stream *st = sc ? stream_get(sc, sid) : NULL;

    if (!st)
        return;
    st->req_fin = 1;
    if (!st->req_done) {
        /* The request never completed: there is nothing to answer. */
        st->req_done = 1;
        respond_error(srv, sc, st, APP_ERR_BAD_REQUEST, "request reset by client");
    }
    stream_maybe_free(sc, st);
}

static void on_stream_stop_sending(tern_conn *c, int64_t sid, uint64_t app_error, void *ud)
{
    server *srv = ud;
    srv_conn *sc = conn_state(srv, c);
    srv_stream *st = sc ? stream_get(sc, sid) : NULL;
    char status[64];

    if (!st || st->resp_done)
        return;
    stream_close_file(st);
    st->resp_done = 1;
    snprintf(status, sizeof(status), "stopped by client (0x%llx)", (unsigned long long)app_error);
    log_request(srv, sc, st, status);
    stream_maybe_free(sc, st);
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    server *srv = ud;
    srv_conn *sc = tern_conn_get_user_data(c);

    if (!srv->quiet && info && (info->status != 0 || info->error_code != 0)) {
        printf("%s connection closed: %s, %s error 0x%llx%s%s%s\n", sc ? sc->peer : "?",
               tern_strerror(info->status), info->app ? "application" : "transport",
               (unsigned long long)info->error_code, info->reason[0] ? " (" : "", info->reason,
               info->reason[0] ? ")" : "");
        fflush(stdout);
    }
    if (sc) {
        conn_state_free(srv, sc);
        tern_conn_set_user_data(c, NULL);
    }
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: tern-server --listen ADDR:PORT --root DIR [options]\n"
               "Serves the files under DIR over hq-interop (HTTP/0.9 over QUIC).\n"
               "  --listen ADDR:PORT    address to bind, e.g. 127.0.0.1:4433 or [::1]:4433\n"
               "  --root DIR            directory to serve\n"
               "  --cert FILE --key FILE  PEM certificate chain and key (default: a throwaway\n"
               "                        self-signed certificate for localhost, 127.0.0.1, ::1)\n"
               "  --retry               validate client addresses with Retry\n"
               "  --alpn PROTO          ALPN to accept (repeatable; default hq-interop)\n"
               "  --cc cubic|newreno    congestion controller (default cubic)\n"
               "  --idle-timeout MS     idle timeout in milliseconds (default 30000)\n"
               "  -q, --quiet           no per-request log lines\n"
               "  -h, --help            this text\n");
}

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "tern-server: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"retry", no_argument, NULL, 'R'},
                                         {"alpn", required_argument, NULL, 'a'},
                                         {"cc", required_argument, NULL, 'C'},
                                         {"idle-timeout", required_argument, NULL, 'i'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *listen_text = NULL, *root = NULL, *cert = NULL, *key = NULL;
    const char *alpn[MAX_ALPN];
    size_t alpn_count = 0;
    tern_config cfg;
    tern_callbacks cb;
    tool_cert tmp_cert;
    tern_addr addr;
    server *srv;
    char errbuf[256], where[64];
    int opt, rc, quiet = 0, status = 1;
    uint64_t v;

    memset(&tmp_cert, 0, sizeof(tmp_cert));
    tern_config_init(&cfg);
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
        case 'a':
            if (alpn_count == MAX_ALPN)
                return fail("at most %s --alpn values", "8");
            alpn[alpn_count++] = optarg;
            break;
        case 'C':
            if (tool_parse_cc(optarg, &cfg.cc) < 0)
                return fail("unknown congestion controller '%s' (cubic, newreno)", optarg);
            break;
        case 'i':
            if (tool_parse_size(optarg, &v) < 0)
                return fail("bad --idle-timeout '%s'", optarg);
            cfg.idle_timeout_ms = v;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !listen_text || !root) {
        usage(stderr);
        return 2;
    }
    if (!cert != !key)
        return fail("%s", "--cert and --key go together");
    if (tern_addr_parse(&addr, listen_text, 4433) < 0)
        return fail("bad --listen address '%s'", listen_text);

    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return fail("%s", "out of memory");
    srv->quiet = quiet;
    if (!realpath(root, srv->root)) {
        fail("cannot open root directory '%s'", root);
        goto out;
    }
    srv->root_len = strlen(srv->root);
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
    if (alpn_count == 0)
        alpn[alpn_count++] = "hq-interop";
    cfg.alpn = alpn;
    cfg.alpn_count = alpn_count;
    cfg.cert_file = cert;
    cfg.key_file = key;

    memset(&cb, 0, sizeof(cb));
    cb.on_accept = on_accept;
    cb.on_stream_open = on_stream_open;
    cb.on_stream_readable = on_stream_readable;
    cb.on_stream_writable = on_stream_writable;
    cb.on_stream_reset = on_stream_reset;
    cb.on_stream_stop_sending = on_stream_stop_sending;
    cb.on_closed = on_closed;

    rc = tern_endpoint_new(&cfg, &cb, srv, &srv->ep);
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
    if (!srv->quiet)
        fprintf(stderr, "tern-server: listening on %s, serving %s\n", where, srv->root);

    tool_install_stop_signals(&stop_requested);
    status = 0;
    while (!stop_requested) {
        rc = tool_run_step(srv->ep, 250);
        if (rc < 0) {
            fprintf(stderr, "tern-server: event loop failed: %s (%s)\n", tern_strerror(rc),
                    strerror(errno));
            status = 1;
            break;
        }
    }
    tern_endpoint_stop(srv->ep);

    /* Tell connected clients we are going, and give the close frames a moment to leave. */
    for (srv_conn *sc = srv->conns, *next; sc; sc = next) {
        next = sc->next;
        tern_conn_close(sc->conn, 0, "server shutting down");
    }
    {
        uint64_t deadline = tool_now_ns() + 300 * 1000000ull;
        while (tern_endpoint_conn_count(srv->ep) > 0 && tool_now_ns() < deadline)
            if (tool_run_step(srv->ep, 20) < 0)
                break;
    }

out:
    if (srv->ep)
        tern_endpoint_free(srv->ep);
    /* tern_endpoint_free runs no callbacks: release what on_closed did not. */
    while (srv->conns)
        conn_state_free(srv, srv->conns);
    tool_cert_remove(&tmp_cert);
    free(srv);
    return status;
}
