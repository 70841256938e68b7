/* libFuzzer target for the HTTP/3 and hq-interop code of tern-client (tools/client/conn.c, h3.c,
 * hq.c, and the HTTP/3 layer tools/common/h3conn.c with qpack.c): the tool's callbacks and client
 * code run on a real tern client connection and download three URLs from a server connection
 * whose every stream byte the script writes: HTTP/3 frames or hq bodies on the request streams,
 * control, QPACK and unknown unidirectional streams, FINs, resets and stops. The first byte picks
 * the ALPN (bit 0: h3, else hq-interop). State is reset per input.
 *
 * Checked: no internal error, a close the client decides on names an error code, a download
 * that finished OK has a body exactly as long as the bytes the client counted, and the tool's
 * state is freed at the end (LeakSanitizer).
 *
 * Events (opcode byte, arguments; a truncated event ends the script):
 *   0 k n <n>   the server writes <n> on the client's request stream k%3
 *   1 k         FIN on request stream k%3
 *   2 n <n>     the server opens a unidirectional stream and writes <n>
 *   3 j n <n>   more bytes on the server's unidirectional stream j%4
 *   4 k         the server resets request stream k%3 (k&8: asks the client to stop sending)
 *   5 t         time passes: (t+1) ms
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "conn_test.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "pair.h"

#define NDL 3
#define MAX_EVENTS 64

static tern_pair pair;
static client cl;
static download dls[NDL];
static int64_t uni[4];
static uint64_t written[NDL]; /* bytes the server's stream accepted per request stream */
static int nuni;

static tern_callbacks client_cb; /* tern-client's own (client/conn.c) */

/* The scripted server reads and drops what the client sends. */
static void srv_readable(tern_conn *conn, int64_t sid, void *ud)
{
    uint8_t buf[4096];
    int fin = 0;
    while (tern_stream_read(conn, sid, buf, sizeof(buf), &fin) > 0 && !fin)
        ;
}

static const tern_callbacks server_cb = {.on_stream_readable = srv_readable};

static int never(tern_pair *p)
{
    return 0;
}
static int tool_connected(tern_pair *p)
{
    return cl.connected;
}

static void set_alpn(int h3)
{
    static const char *alpn_h3[] = {"h3"}, *alpn_hq[] = {"hq-interop"};
    CHECK(pair_set_alpn(&pair, h3 ? alpn_h3 : alpn_hq, 1) == 0);
}

static void setup_client(void)
{
    static const char *urls[NDL] = {"https://localhost/index.html", "https://localhost:4433/big",
                                    "https://[::1]/a?b"};
    memset(&cl, 0, sizeof(cl));
    memset(dls, 0, sizeof(dls));
    for (int i = 0; i < NDL; i++) {
        const char *err;
        dls[i].url_text = urls[i];
        CHECK(tool_url_parse(urls[i], &dls[i].url, &err) == 0);
        dls[i].sid = -1;
        dls[i].fd = -1;
        CHECK(tool_sha256_init(&dls[i].hash) == 0);
    }
    cl.dl = dls;
    cl.n = NDL;
    cl.quiet = 1;
    cl.hash = 1;
    cl.goaway_id = INT64_MAX;
    cl.next_bytes_due = UINT64_MAX;
}

static void server_write(int64_t sid, const uint8_t *d, size_t n, int fin)
{
    if (!pair.server || tern_conn_is_done(pair.server))
        return;
    ssize_t w = tern_stream_write(pair.server, sid, d, n, fin);
    if (w > 0 && sid % 4 == 0 && sid / 4 < NDL)
        written[sid / 4] += (uint64_t)w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!client_cb.on_connected)
        cl_callbacks(&client_cb);
    CHECK(pair_init(&pair, 13) == 0);
    set_alpn(data[0] & 1);
    setup_client();
    pair.client_cb = &client_cb;
    pair.client_ud = &cl;
    pair.server_cb = &server_cb;
    CHECK(pair_run(&pair, tool_connected, 5000 * MS));
    pair_run(&pair, never, 30 * MS); /* the requests reach the server */
    nuni = 0;
    memset(written, 0, sizeof(written));
    size_t i = 1;
    for (int ev = 0; ev < MAX_EVENTS && i < size && !tern_conn_is_done(pair.client); ev++) {
        uint8_t op = data[i++] % 6;
        if (i >= size)
            break;
        uint8_t b = data[i++];
        if (op == 0 || op == 2 || op == 3) {
            uint8_t k = 0;
            if (op != 2) {
                k = b;
                if (i >= size)
                    break;
                b = data[i++];
            }
            size_t n = b > size - i ? size - i : b;
            const uint8_t *pl = data + i;
            i += n;
            if (op == 0) {
                server_write(4 * (k % NDL), pl, n, 0);
            } else if (op == 2) {
                int64_t sid;
                if (nuni < 4 && pair.server && tern_conn_open_stream(pair.server, 0, &sid) == 0) {
                    uni[nuni++] = sid;
                    server_write(sid, pl, n, 0);
                }
            } else if (k % 4 < nuni) {
                server_write(uni[k % 4], pl, n, 0);
            }
        } else if (op == 1) {
            server_write(4 * (b % NDL), NULL, 0, 1);
        } else if (op == 4 && pair.server) {
            if (b & 8)
                tern_stream_stop_sending(pair.server, 4 * (b % NDL), 0x10c);
            else
                tern_stream_reset(pair.server, 4 * (b % NDL), 0x10c);
        } else if (op == 5) {
            pair_run(&pair, never, (uint64_t)(b + 1) * MS);
        }
        pair_run(&pair, never, 1 * MS);
        fuzz_check_close(pair.client);
    }
    pair_run(&pair, never, 3000 * MS);
    fuzz_check_close(pair.client);
    for (int k = 0; k < NDL; k++) {
        if (getenv("TERN_FUZZ_TRACE"))
            fprintf(stderr, "download %d: result %d status %d bytes %llu (server wrote %llu)\n", k,
                    (int)dls[k].result, dls[k].status, (unsigned long long)dls[k].bytes,
                    (unsigned long long)written[k]);
        /* hq: the body is every byte of the response stream */
        if (cl.proto == CL_PROTO_HQ && dls[k].result == DL_OK)
            CHECK(dls[k].bytes == written[k]);
    }
    /* the end as in tern-client: on_closed (the runtime calls it when a connection ends) fails
     * what is pending and releases the HTTP/3 state */
    if (pair.client && !cl.closed)
        client_cb.on_closed(
            pair.client, tern_conn_is_done(pair.client) ? tern_conn_close_info(pair.client) : NULL,
            &cl);
    for (int k = 0; k < NDL; k++)
        CHECK(dls[k].result != DL_PENDING);
    pair_free(&pair);
    return 0;
}
