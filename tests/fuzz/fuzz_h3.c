/* libFuzzer target for the HTTP/3 and hq-interop code of tern-server (tools/server/h3.c, hq.c,
 * files.c and tools/common/h3conn.c over nghttp3): a real tern client connection, driven by the
 * script, talks to a server connection that runs the tool's own request handling over a small
 * document root. The first byte picks the ALPN (bit 0: h3, else hq-interop); then events open
 * streams and write what the script says on them, reset them, and let time pass. The client
 * reads and discards every response. State is reset per input.
 *
 * Checked: the server never reports an internal error, a close it decides on names an error code,
 * and once the script is over and the client has gone, the tool's per-connection state is freed
 * (LeakSanitizer sees the rest).
 *
 * Events (opcode byte, arguments; a truncated event ends the script):
 *   0 n <n>     the client opens a bidirectional stream and writes <n> with FIN
 *   1 n <n>     the client opens a unidirectional stream and writes <n> (no FIN)
 *   2 k n <n>   more bytes on the client's k-th stream (k%8)
 *   3 k         the client resets its k-th stream (k&8: asks the server to stop sending instead)
 *   4 t         time passes: (t+1) ms
 *   5 k         FIN on the client's k-th stream
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_internal.h"
#include "fuzz_common.h"
#include "pair.h"
#include "server/server.h"

#define MAX_EVENTS 64

static tern_pair pair;
static server srv;
static srv_conn sconn;
static int64_t streams[8];
static int nstreams;

/* What tern-server.c provides to its parts. */
void srv_log_request(server *s, srv_conn *sc, int64_t sid, const char *method, const char *path,
                     const char *status, uint64_t bytes, uint64_t start_ns)
{
}

void srv_maybe_key_update(srv_conn *sc) {}

/* The tool's glue, as tern-server wires its callbacks: the protocol is chosen by ALPN. */
static srv_conn *ready(tern_conn *c)
{
    srv_conn *sc = &sconn;
    if (!sc->conn) {
        sc->conn = c;
        sc->srv = &srv;
        snprintf(sc->peer, sizeof(sc->peer), "fuzz");
    }
    if (sc->proto == SRV_PROTO_NONE && tern_conn_is_established(c)) {
        if (strcmp(tern_conn_alpn(c), "h3") == 0) {
            sc->proto = SRV_PROTO_H3;
            if (srv_h3_start(sc) < 0)
                return NULL;
        } else {
            sc->proto = SRV_PROTO_HQ;
        }
    }
    if (sc->proto == SRV_PROTO_H3 && !sc->h3)
        return NULL;
    return sc->proto == SRV_PROTO_NONE ? NULL : sc;
}

static void on_connected(tern_conn *c, void *ud)
{
    ready(c);
}

static void on_open(tern_conn *c, int64_t sid, void *ud)
{
    srv_conn *sc = ready(c);
    if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_stream_open(sc, sid);
}

static void on_readable(tern_conn *c, int64_t sid, void *ud)
{
    srv_conn *sc = ready(c);
    if (sc && sc->proto == SRV_PROTO_H3) {
        tool_h3_on_readable(sc->h3, sid, srv.buf, sizeof(srv.buf));
    } else if (sc && sc->proto == SRV_PROTO_HQ) {
        srv_hq_on_readable(sc, sid);
    } else {
        int fin = 0;
        while (tern_stream_read(c, sid, srv.buf, sizeof(srv.buf), &fin) > 0 && !fin)
            ;
    }
}

static void on_writable(tern_conn *c, int64_t sid, void *ud)
{
    srv_conn *sc = ready(c);
    if (sc && sc->proto == SRV_PROTO_H3)
        tool_h3_on_writable(sc->h3, sid);
    else if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_writable(sc, sid);
}

static void on_reset(tern_conn *c, int64_t sid, uint64_t err, void *ud)
{
    srv_conn *sc = ready(c);
    if (sc && sc->proto == SRV_PROTO_H3)
        tool_h3_on_reset(sc->h3, sid, err);
    else if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_reset(sc, sid, err);
}

static void on_stop(tern_conn *c, int64_t sid, uint64_t err, void *ud)
{
    srv_conn *sc = ready(c);
    if (sc && sc->proto == SRV_PROTO_H3)
        tool_h3_on_stop_sending(sc->h3, sid, err);
    else if (sc && sc->proto == SRV_PROTO_HQ)
        srv_hq_on_stop_sending(sc, sid, err);
}

static const tern_callbacks server_cb = {
    .on_connected = on_connected,
    .on_stream_open = on_open,
    .on_stream_readable = on_readable,
    .on_stream_writable = on_writable,
    .on_stream_reset = on_reset,
    .on_stream_stop_sending = on_stop,
};

static int never(tern_pair *p)
{
    return 0;
}

static void make_root(void)
{
    char dir[] = "/tmp/tern-fuzz-h3-XXXXXX";
    CHECK(mkdtemp(dir));
    snprintf(srv.root, sizeof(srv.root), "%s", dir);
    srv.root_len = strlen(srv.root);
    srv.quiet = 1;
    CHECK(srv_mime_load(&srv.mime, "/etc/mime.types") == 0); /* built-in types without it */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/index.html", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("<html>hello</html>\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/big", dir);
    f = fopen(path, "w");
    CHECK(f);
    for (int i = 0; i < 3000; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/sub", dir);
    mkdir(path, 0755);
}

static void set_alpn(int h3)
{
    static const char *alpn_h3[] = {"h3"}, *alpn_hq[] = {"hq-interop"};
    CHECK(pair_set_alpn(&pair, h3 ? alpn_h3 : alpn_hq, 1) == 0);
}

static void write_stream(int64_t sid, const uint8_t *d, size_t n, int fin)
{
    if (tern_conn_is_done(pair.client))
        return;
    tern_stream_write(pair.client, sid, d, n, fin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready_once;
    if (!ready_once) {
        make_root();
        ready_once = 1;
    }
    if (size < 1)
        return 0;
    pair_free(&pair);
    CHECK(pair_init(&pair, 9) == 0);
    set_alpn(data[0] & 1);
    memset(&sconn, 0, sizeof(sconn));
    pair.server_cb = &server_cb;
    CHECK(pair_run(&pair, pair_cond_connected, 5000 * MS));
    nstreams = 0;
    size_t i = 1;
    for (int ev = 0; ev < MAX_EVENTS && i < size && !tern_conn_is_done(pair.client); ev++) {
        uint8_t op = data[i++] % 6;
        if (i >= size)
            break;
        uint8_t b = data[i++];
        if (op == 0 || op == 1 || op == 2) {
            int k = 0;
            if (op == 2) {
                k = b % 8;
                if (i >= size)
                    break;
                b = data[i++];
            }
            size_t n = b > size - i ? size - i : b;
            const uint8_t *pl = data + i;
            i += n;
            if (op == 2) {
                if (k < nstreams)
                    write_stream(streams[k], pl, n, 0);
                continue;
            }
            int64_t sid;
            if (nstreams < 8 && tern_conn_open_stream(pair.client, op == 0, &sid) == 0) {
                streams[nstreams++] = sid;
                write_stream(sid, pl, n, op == 0);
            }
        } else if (op == 3 && (b % 8) < nstreams) {
            if (b & 8)
                tern_stream_stop_sending(pair.client, streams[b % 8], 0x10c);
            else
                tern_stream_reset(pair.client, streams[b % 8], 0x10c);
        } else if (op == 4) {
            pair_run(&pair, never, (uint64_t)(b + 1) * MS);
        } else if (op == 5 && (b % 8) < nstreams) {
            write_stream(streams[b % 8], NULL, 0, 1);
        }
        pair_run(&pair, never, 1 * MS);
        tern_conn *s = pair.server;
        if (s && s->state >= TERN_CS_CLOSING) {
            const tern_close_info *ci = tern_conn_close_info(s);
            fuzz_check_close(s);
            if (ci->local && ci->app)
                CHECK(ci->error_code != 0 || !sconn.h3 || !sconn.h3->failed);
        }
    }
    pair_run(&pair, never, 3000 * MS);
    /* the tool frees its per-connection state as tern-server does when the connection ends */
    srv_hq_conn_free(&sconn);
    srv_h3_conn_free(&sconn);
    return 0;
}
