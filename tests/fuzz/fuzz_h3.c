/* libFuzzer target for the HTTP/3 and hq-interop code of tern-server (tools/server/conns.c, h3.c,
 * hq.c, files.c, and the HTTP/3 layer tools/common/h3conn.c with qpack.c): a real tern client
 * connection, driven by the script, talks to a server connection that runs the tool's own
 * callbacks and request handling over a small document root. The first byte picks the ALPN
 * (bit 0: h3, else hq-interop); then events open streams and write what the script says on them,
 * reset them, and let time pass. The client reads and discards every response. State is reset
 * per input.
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

#include "conn_test.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "pair.h"
#include "server/server.h"

#define MAX_EVENTS 64

static tern_pair pair;
static server srv;
static tern_callbacks server_cb; /* tern-server's own (server/conns.c) */
static int64_t streams[8];
static int nstreams;

/* The runtime calls on_accept for a new connection before it reads the first datagram. */
static void accepted(tern_pair *p)
{
    server_cb.on_accept(p->server, &srv);
}

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
        srv_callbacks(&server_cb);
        ready_once = 1;
    }
    if (size < 1)
        return 0;
    CHECK(pair_init(&pair, 9) == 0);
    set_alpn(data[0] & 1);
    pair.server_cb = &server_cb;
    pair.server_ud = &srv;
    pair.server_created = accepted;
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
        if (s && tern_conn_state(s) >= TERN_CS_CLOSING) {
            const tern_close_info *ci = tern_conn_close_info(s);
            fuzz_check_close(s);
            srv_conn *sc = tern_conn_get_user_data(s);
            if (ci->local && ci->app && sc)
                CHECK(ci->error_code != 0 || !sc->h3 || !sc->h3->failed);
        }
    }
    pair_run(&pair, never, 3000 * MS);
    /* the connection's state is freed as in tern-server: by on_closed, which the runtime calls
     * when a connection ends, else when the endpoint goes */
    if (pair.server && tern_conn_is_done(pair.server))
        server_cb.on_closed(pair.server, tern_conn_close_info(pair.server), &srv);
    while (srv.conns)
        srv_conn_free(&srv, srv.conns);
    pair_free(&pair);
    return 0;
}
