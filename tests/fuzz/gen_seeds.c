/* Writes the seed corpora of the fuzz targets: `gen_seeds DIR` creates DIR/<target>/<name> for
 * fuzz_conn, fuzz_server, fuzz_client, fuzz_tparams_tls, fuzz_h3 and fuzz_h3_client. Each seed is a
 * short script in its target's event format (see the header comment of each target) that reaches
 * one deep state: migration, path failure and slot recycling, loss, key update, stateless reset,
 * NAT rebinding, Retry, Version Negotiation, a real ClientHello at the front door, preferred
 * addresses, HTTP/3 and hq requests. The ClientHello is taken from a real client of this build, so
 * regenerating changes its random bytes (not its meaning). Run by `make fuzz-seeds`; the output is
 * committed under tests/fuzz/corpus/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conn_test.h"
#include "forge.h"
#include "packet.h"
#include "pair.h"
#include "resume.h"
#include "varint.h"

typedef struct seed {
    uint8_t b[4096];
    size_t n;
} seed;

static const char *root;

static void put(seed *s, const void *d, size_t n)
{
    if (s->n + n > sizeof(s->b)) {
        fprintf(stderr, "seed too large\n");
        exit(1);
    }
    memcpy(s->b + s->n, d, n);
    s->n += n;
}

static void u8(seed *s, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(s, &b, 1);
}

static void u16(seed *s, size_t v)
{
    u8(s, (unsigned)(v >> 8));
    u8(s, (unsigned)v);
}

static void bytes(seed *s, const char *hex)
{
    for (; hex[0] && hex[1]; hex += 2) {
        if (hex[0] == ' ') {
            hex--;
            continue;
        }
        unsigned v;
        sscanf(hex, "%2x", &v);
        u8(s, v);
    }
}

static void emit(const char *target, const char *name, const seed *s)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0755) && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f)) {
        perror(path);
        exit(1);
    }
}

/* ---- fuzz_conn --------------------------------------------------------------------------------
 */

enum {
    C_RUN, C_C2S, C_S2C, C_REQ, C_PATH, C_KU, C_LINK, C_NAT, C_RESET, C_RAW, C_STREAM, C_CLOSE,
    C_GONE, C_NET
};

static void ev(seed *s, int op, unsigned b)
{
    u8(s, (unsigned)op), u8(s, b);
}
static void run_ms(seed *s, unsigned ms)
{
    ev(s, C_RUN, ms <= 128 ? ms - 1 : 127 + ms / 250);
}
static void frames(seed *s, int op, unsigned a, const char *hex)
{
    seed t = {.n = 0};
    bytes(&t, hex);
    ev(s, op, a);
    u8(s, (unsigned)t.n);
    put(s, t.b, t.n);
}

static void conn_seeds(void)
{
    seed s;
    /* migration to a second address, then dropping the first */
    s.n = 0;
    ev(&s, C_PATH, 0 | 1 << 2);
    run_ms(&s, 128);
    ev(&s, C_PATH, 1 | 1 << 2);
    ev(&s, C_REQ, 200);
    run_ms(&s, 1000);
    ev(&s, C_PATH, 2 | 0 << 2);
    run_ms(&s, 1000);
    emit("fuzz_conn", "migrate", &s);
    /* a new path whose datagrams never arrive fails validation */
    s.n = 0;
    ev(&s, C_LINK, 1 << 2);
    ev(&s, C_PATH, 0 | 2 << 2);
    run_ms(&s, 10000);
    run_ms(&s, 10000);
    emit("fuzz_conn", "path_failure", &s);
    /* the active path dies: the client fails over to its other path */
    s.n = 0;
    ev(&s, C_PATH, 0 | 3 << 2);
    run_ms(&s, 500);
    ev(&s, C_LINK, 0x11);
    ev(&s, C_REQ, 100);
    run_ms(&s, 10000);
    run_ms(&s, 10000);
    emit("fuzz_conn", "failover", &s);
    /* the active path's socket fails while a validated standby exists: the client fails over */
    s.n = 0;
    ev(&s, C_PATH, 0 | 1 << 2);
    run_ms(&s, 500);
    ev(&s, C_REQ, 100);
    ev(&s, C_GONE, 0 | 4);
    run_ms(&s, 3000);
    emit("fuzz_conn", "socket_error", &s);
    /* the host's network changes: the active address goes, a link goes down and comes back, the
     * default route moves to another address */
    s.n = 0;
    ev(&s, C_PATH, 0 | 2 << 2);
    run_ms(&s, 500);
    ev(&s, C_REQ, 100);
    ev(&s, C_NET, 1 | 0 << 3 | 0 << 5); /* ADDR_REMOVED of address 0 on interface 1 */
    run_ms(&s, 1000);
    ev(&s, C_NET, 3 | 2 << 3 | 1 << 5); /* LINK_DOWN of interface 2 */
    run_ms(&s, 500);
    ev(&s, C_NET, 2 | 2 << 3 | 1 << 5); /* LINK_UP of interface 2 */
    ev(&s, C_NET, 0 | 1 << 3 | 2 << 5); /* ADDR_ADDED of address 1 on interface 3 */
    ev(&s, C_NET, 4 | 1 << 3 | 2 << 5); /* DEFAULT_CHANGED to address 1 on interface 3 */
    run_ms(&s, 3000);
    emit("fuzz_conn", "network_events", &s);
    /* the new path loses what the server sends, the old one what the client sends: no path
     * works both ways (found by fuzzing; both sides must give up with NO_VIABLE_PATH at worst) */
    s.n = 0;
    ev(&s, C_LINK, 0x04);
    ev(&s, C_PATH, 3 | 3 << 2);
    ev(&s, C_REQ, 0xff);
    ev(&s, C_LINK, 0xa7);
    emit("fuzz_conn", "no_viable_path", &s);
    /* paths come and go until slots are recycled */
    s.n = 0;
    for (int k = 0; k < 6; k++) {
        ev(&s, C_PATH, 0 | (unsigned)(1 + k % 3) << 2);
        run_ms(&s, 100);
        ev(&s, C_PATH, 2 | (unsigned)(1 + k % 3) << 2);
        run_ms(&s, 50);
    }
    ev(&s, C_REQ, 10);
    run_ms(&s, 1000);
    emit("fuzz_conn", "recycle", &s);
    /* losses in both directions during a transfer */
    s.n = 0;
    ev(&s, C_REQ, 255);
    run_ms(&s, 15);
    ev(&s, C_LINK, 0x11);
    run_ms(&s, 300);
    ev(&s, C_LINK, 0);
    run_ms(&s, 3000);
    emit("fuzz_conn", "loss", &s);
    /* key updates from both sides */
    s.n = 0;
    ev(&s, C_KU, 0);
    ev(&s, C_REQ, 50);
    run_ms(&s, 500);
    ev(&s, C_KU, 1);
    ev(&s, C_REQ, 50);
    run_ms(&s, 500);
    ev(&s, C_KU, 0);
    run_ms(&s, 500);
    emit("fuzz_conn", "key_update", &s);
    /* a key phase flip the sender does not know of */
    s.n = 0;
    frames(&s, C_C2S, 8, "01");
    run_ms(&s, 100);
    ev(&s, C_REQ, 20);
    run_ms(&s, 1000);
    emit("fuzz_conn", "key_phase_forged", &s);
    /* stateless resets with the right token, to each side */
    s.n = 0;
    ev(&s, C_RESET, 10);
    run_ms(&s, 100);
    emit("fuzz_conn", "reset_client", &s);
    s.n = 0;
    ev(&s, C_RESET, 64 + 20);
    run_ms(&s, 100);
    emit("fuzz_conn", "reset_server", &s);
    /* NAT rebinding during a transfer */
    s.n = 0;
    ev(&s, C_REQ, 100);
    run_ms(&s, 20);
    ev(&s, C_NAT, 1);
    run_ms(&s, 2000);
    emit("fuzz_conn", "nat_rebind", &s);
    /* forged frames: a spoofed non-probing packet from a new address, a challenge flood, new
     * CIDs with retire_prior_to from the server, stream frames, limits */
    s.n = 0;
    frames(&s, C_C2S, 4, "01");
    run_ms(&s, 100);
    frames(&s, C_C2S, 5, "1a0102030405060708");
    frames(&s, C_C2S, 5, "1a1112131415161718");
    run_ms(&s, 5000);
    emit("fuzz_conn", "spoofed_migration", &s);
    /* packets from 24 spoofed sources: the server's path slots fill and are recycled */
    s.n = 0;
    for (unsigned k = 8; k < 32; k++) {
        frames(&s, C_C2S, (k & 7) | (k >> 3) << 4, "01");
        run_ms(&s, 20);
    }
    ev(&s, C_REQ, 20);
    run_ms(&s, 5000);
    emit("fuzz_conn", "spoofed_flood", &s);
    s.n = 0;
    frames(&s, C_S2C, 0, "180502081122334455667788aabbccddeeff00112233445566778899aabbccdd");
    run_ms(&s, 200);
    frames(&s, C_S2C, 0, "1a0102030405060708");
    run_ms(&s, 200);
    emit("fuzz_conn", "server_new_cid", &s);
    s.n = 0;
    frames(&s, C_C2S, 0, "0f0400056162636465");
    frames(&s, C_C2S, 0, "0e0802056162636465");
    frames(&s, C_C2S, 0, "04080100");
    frames(&s, C_C2S, 0, "05040a");
    frames(&s, C_C2S, 0, "1240ff");
    frames(&s, C_C2S, 0, "1404");
    frames(&s, C_C2S, 0, "1a0102030405060708");
    frames(&s, C_C2S, 0, "1b0102030405060708");
    frames(&s, C_C2S, 0, "1901");
    frames(&s, C_C2S, 0, "310568656c6c6f"); /* DATAGRAM with a Length, then one to the end */
    frames(&s, C_S2C, 0, "3068656c6c6f");
    run_ms(&s, 500);
    emit("fuzz_conn", "frames", &s);
    s.n = 0;
    ev(&s, C_REQ, 40);
    ev(&s, C_STREAM, 0);
    ev(&s, C_REQ, 40);
    ev(&s, C_STREAM, 1 | 1 << 2);
    ev(&s, C_REQ, 40);
    ev(&s, C_STREAM, 2 | 2 << 2);
    run_ms(&s, 500);
    ev(&s, C_CLOSE, 2);
    run_ms(&s, 1000);
    emit("fuzz_conn", "streams_close", &s);
}

/* ---- a real ClientHello ------------------------------------------------------------------------
 */

static int never(tern_pair *p)
{
    return 0;
}

/* The plaintext frames of a real client's first Initial (trailing PADDING dropped), its CIDs. */
static size_t client_hello(uint8_t *plain, size_t cap, tern_cid *dcid, tern_cid *scid)
{
    tern_pair p;
    if (pair_init(&p, 3)) {
        fprintf(stderr, "pair_init failed\n");
        exit(1);
    }
    pair_run(&p, never, 0);
    pair_dgram *g = &p.q[p.heap[0].slot];
    tern_pkt_hdr h;
    long n = forge_open_initial(0, NULL, g->data, g->len, &h, plain, cap);
    if (n <= 0) {
        fprintf(stderr, "cannot open the client's Initial\n");
        exit(1);
    }
    while (n > 0 && plain[n - 1] == 0)
        n--;
    *dcid = h.dcid;
    *scid = h.scid;
    pair_free(&p);
    return (size_t)n;
}

/* ---- fuzz_server ------------------------------------------------------------------------------
 */

static void initial(seed *s, unsigned a, unsigned v, unsigned k, const tern_cid *d,
                    const tern_cid *sc, const uint8_t *pl, size_t n)
{
    u8(s, 1), u8(s, a), u8(s, v), u8(s, k);
    u8(s, d->len), put(s, d->data, d->len);
    u8(s, sc->len), put(s, sc->data, sc->len);
    u16(s, n), put(s, pl, n);
}

static void server_seeds(void)
{
    static uint8_t ch[1500];
    tern_cid d, sc;
    size_t n = client_hello(ch, sizeof(ch), &d, &sc);
    seed s;
    s.n = 0;
    u8(&s, 0);
    initial(&s, 0, 0, 0, &d, &sc, ch, n);
    u8(&s, 0), u8(&s, 5);
    u8(&s, 4), u8(&s, 0), u16(&s, 1), u8(&s, 0x01); /* a Handshake PING */
    u8(&s, 3), u8(&s, 0), u8(&s, 0), u8(&s, 30);    /* a short header to its CID */
    u8(&s, 0), u8(&s, 255);
    emit("fuzz_server", "client_hello", &s);
    /* Retry on: the first Initial gets a Retry, the second echoes its token */
    s.n = 0;
    u8(&s, 1);
    initial(&s, 0, 0, 0, &d, &sc, ch, n);
    initial(&s, 0, 0, 1, &d, &sc, ch, n);
    u8(&s, 0), u8(&s, 5);
    emit("fuzz_server", "retry", &s);
    /* connection limit of 2: three clients from three addresses */
    s.n = 0;
    u8(&s, 2);
    for (unsigned a = 0; a < 3; a++) {
        tern_cid d2 = d;
        d2.data[0] ^= (uint8_t)(a + 1);
        initial(&s, a, 0, 0, &d2, &sc, ch, n);
    }
    u8(&s, 0), u8(&s, 100);
    emit("fuzz_server", "conn_limit", &s);
    /* an unknown version, a short Initial, a junk token, a garbage short header */
    s.n = 0;
    u8(&s, 0);
    initial(&s, 1, 1, 0, &d, &sc, ch, 8);
    initial(&s, 4, 0, 0, &d, &sc, ch, n);
    initial(&s, 2, 0, 9, &d, &sc, ch, n);
    u8(&s, 2), u8(&s, 0), u16(&s, 40);
    for (int i = 0; i < 40; i++)
        u8(&s, i ? 0x55 : 0x45);
    emit("fuzz_server", "stateless", &s);
}

/* ---- fuzz_client ------------------------------------------------------------------------------
 */

static void cframes(seed *s, int op, unsigned f, const char *hex)
{
    seed t = {.n = 0};
    bytes(&t, hex);
    u8(s, (unsigned)op), u8(s, f), u16(s, t.n), put(s, t.b, t.n);
}

static void client_seeds(void)
{
    seed s;
    s.n = 0;
    for (int i = 0; i < 4; i++)
        u8(&s, 0), u8(&s, 99);
    emit("fuzz_client", "handshake", &s);
    s.n = 0;
    u8(&s, 4), u8(&s, 8), u8(&s, 16);
    bytes(&s, "00112233445566778899aabbccddeeff");
    for (int i = 0; i < 4; i++)
        u8(&s, 0), u8(&s, 99);
    emit("fuzz_client", "retry", &s);
    s.n = 0;
    u8(&s, 5), u8(&s, 2);
    bytes(&s, "0a0a0a0a6b3343cf");
    u8(&s, 0), u8(&s, 99);
    emit("fuzz_client", "version_negotiation", &s);
    s.n = 0;
    u8(&s, 0), u8(&s, 15);
    cframes(&s, 1, 3, "0200000000");
    u8(&s, 0), u8(&s, 10);
    cframes(&s, 2, 1, "01");
    cframes(&s, 1, 1, "1c0a0000");
    emit("fuzz_client", "forged_long", &s);
    s.n = 0;
    for (int i = 0; i < 3; i++)
        u8(&s, 0), u8(&s, 99);
    cframes(&s, 3, 0, "180502081122334455667788aabbccddeeff00112233445566778899aabbccdd");
    cframes(&s, 3, 0, "1a0102030405060708");
    cframes(&s, 3, 0, "1e");
    cframes(&s, 3, 0, "0704aabbccdd");
    cframes(&s, 3, 8, "01");
    cframes(&s, 3, 0, "0f0100056162636465");
    u8(&s, 0), u8(&s, 99);
    emit("fuzz_client", "forged_1rtt", &s);
    s.n = 0;
    u8(&s, 7), u8(&s, 0x5f);
    for (int i = 0; i < 6; i++)
        u8(&s, 0), u8(&s, 255);
    emit("fuzz_client", "server_loss", &s);
}

/* ---- fuzz_tparams_tls -------------------------------------------------------------------------
 */

/* Encodes tp and drops the parameters that name CIDs (the target adds the right ones). */
static void tparams_seed(const char *name, unsigned flags, const tern_tparams *tp, int server)
{
    uint8_t buf[1024];
    size_t n = tern_tparams_encode(tp, server, buf, sizeof(buf));
    if (!n) {
        fprintf(stderr, "%s: cannot encode\n", name);
        exit(1);
    }
    seed s = {.n = 0};
    u8(&s, flags);
    tern_rd r = {buf, buf + n};
    while (tern_rd_left(&r)) {
        const uint8_t *start = r.p, *body;
        uint64_t id, len;
        if (tern_rd_varint(&r, &id) || tern_rd_varint(&r, &len) ||
            tern_rd_bytes(&r, (size_t)len, &body))
            exit(1);
        if (id != 0x00 && id != 0x0f)
            put(&s, start, (size_t)(r.p - start));
    }
    emit("fuzz_tparams_tls", name, &s);
}

static void tparams_seeds(void)
{
    tern_tparams tp;
    tern_tparams_default(&tp);
    tp.initial_scid.len = 8;
    tp.has_original_dcid = 1;
    tp.original_dcid.len = 8;
    tp.initial_max_data = 1 << 20;
    tp.initial_max_stream_data_bidi_local = tp.initial_max_stream_data_bidi_remote = 1 << 18;
    tp.initial_max_stream_data_uni = 1 << 18;
    tp.initial_max_streams_bidi = tp.initial_max_streams_uni = 100;
    tp.max_idle_timeout = 30000;
    tp.active_connection_id_limit = 8;
    tparams_seed("client", 3, &tp, 0);
    tp.has_stateless_reset_token = 1;
    memset(tp.stateless_reset_token, 0x5a, sizeof(tp.stateless_reset_token));
    tparams_seed("server", 2, &tp, 1);
    tp.has_preferred_address = 1;
    tern_preferred_addr *pa = &tp.preferred_address;
    pa->ipv4[0] = 10, pa->ipv4[3] = 2, pa->ipv4_port = 4433;
    pa->cid.len = 8;
    memset(pa->cid.data, 0x77, 8);
    memset(pa->token, 0x33, sizeof(pa->token));
    tparams_seed("server_preferred_address", 2, &tp, 1);
    tp.has_preferred_address = 0;
    tp.disable_active_migration = 1;
    tp.max_ack_delay = 1000;
    tp.ack_delay_exponent = 20;
    tp.max_udp_payload_size = 1200;
    tparams_seed("server_limits", 2, &tp, 1);
    /* version information (RFC 9368): a client's offer of v1 and v2, a server's choice of v2 */
    tp.version_info.present = 1;
    tp.version_info.chosen = TERN_PROTO_VERSION_1;
    tp.version_info.n = 2;
    tp.version_info.available[0] = TERN_PROTO_VERSION_1;
    tp.version_info.available[1] = TERN_PROTO_VERSION_2;
    tparams_seed("client_version_info", 3, &tp, 0);
    tp.version_info.chosen = TERN_PROTO_VERSION_2;
    tparams_seed("server_version_info", 2, &tp, 1);
}

/* ---- fuzz_h3 ----------------------------------------------------------------------------------
 */

/* Appends an HTTP/3 frame of `type` with payload p (type and length as QUIC varints). */
static void h3_frame(seed *s, uint64_t type, const seed *p)
{
    uint8_t v[16], *e = tern_varint_put(v, type);
    e = tern_varint_put(e, p->n);
    put(s, v, (size_t)(e - v));
    put(s, p->b, p->n);
}

/* Appends the event `op` with its argument byte `a` (when a >= 0) and the bytes of t. */
static void h3_event(seed *s, unsigned op, int a, const seed *t)
{
    u8(s, op);
    if (a >= 0)
        u8(s, (unsigned)a);
    u8(s, (unsigned)t->n);
    put(s, t->b, t->n);
}

static void h3_seeds(void)
{
    seed s;
    /* hq: a GET of each file and a bad request */
    s.n = 0;
    u8(&s, 0);
    const char *reqs[] = {"GET /index.html\r\n", "GET /big\r\n", "GET /../x\r\n", "PUT /\r\n"};
    for (int i = 0; i < 4; i++) {
        u8(&s, 0), u8(&s, (unsigned)strlen(reqs[i]));
        put(&s, reqs[i], strlen(reqs[i]));
        u8(&s, 4), u8(&s, 20);
    }
    emit("fuzz_h3", "hq", &s);
    /* h3: the client's control stream with SETTINGS, and a request with a literal QPACK field
     * section for GET https://localhost/index.html */
    s.n = 0;
    u8(&s, 1);
    u8(&s, 1), u8(&s, 3), bytes(&s, "000400"); /* control stream: type, SETTINGS */
    u8(&s, 1), u8(&s, 1), bytes(&s, "02");     /* QPACK encoder and decoder streams */
    u8(&s, 1), u8(&s, 1), bytes(&s, "03");
    {
        seed hdr = {.n = 0};
        bytes(&hdr, "0000d1d7510b2f696e6465782e68746d6c"); /* GET, https, /index.html */
        bytes(&hdr, "50096c6f63616c686f7374");             /* :authority localhost */
        seed t = {.n = 0};
        u8(&t, 0x01), u8(&t, (unsigned)hdr.n), put(&t, hdr.b, hdr.n);
        u8(&s, 0), u8(&s, (unsigned)t.n), put(&s, t.b, t.n);
    }
    u8(&s, 4), u8(&s, 50);
    emit("fuzz_h3", "h3_get", &s);
    /* h3: a GET whose field section has Huffman-coded values, literal names (Huffman-coded and
     * not) and name references past the 4-bit prefix; then a POST with a body and trailers,
     * answered 405 */
    s.n = 0;
    u8(&s, 1);
    u8(&s, 1), u8(&s, 3), bytes(&s, "000400");
    {
        seed hdr = {.n = 0}, t = {.n = 0};
        bytes(&hdr, "0000 d1 d7");                     /* :method GET, :scheme https */
        bytes(&hdr, "50 8c f1e3c2e5f23a6ba0ab90f4ff"); /* :authority www.example.com (H) */
        bytes(&hdr, "51 0b 2f696e6465782e68746d6c");   /* :path /index.html */
        bytes(&hdr, "5f15 86 a8eb10649cbf");           /* cache-control no-cache (H) */
        bytes(&hdr, "2f01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf"); /* custom-key: custom-value */
        bytes(&hdr, "26 782d73656564 01 31");                       /* x-seed: 1 */
        bytes(&hdr, "5f50 04 66757a7a");                            /* user-agent fuzz */
        h3_frame(&t, 0x01, &hdr);
        h3_event(&s, 0, -1, &t);
    }
    {
        seed hdr = {.n = 0}, body = {.n = 0}, tr = {.n = 0}, t = {.n = 0};
        bytes(&hdr, "0000 d4 d7 50 09 6c6f63616c686f7374 c1"); /* POST https localhost / */
        bytes(&hdr, "54 01 35");                               /* content-length 5 */
        h3_frame(&t, 0x01, &hdr);
        put(&body, "hello", 5);
        h3_frame(&t, 0x00, &body);
        bytes(&tr, "0000 2f01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf");
        h3_frame(&t, 0x01, &tr);
        h3_event(&s, 0, -1, &t);
    }
    u8(&s, 4), u8(&s, 50);
    emit("fuzz_h3", "h3_huffman", &s);
}

/* ---- fuzz_h3_client ---------------------------------------------------------------------------
 */

static void h3_client_seeds(void)
{
    seed s;
    /* hq: a body with FIN on the first request, a reset of the second, a stop on the third */
    s.n = 0;
    u8(&s, 0);
    u8(&s, 0), u8(&s, 0), u8(&s, 6), put(&s, "hello\n", 6);
    u8(&s, 1), u8(&s, 0);
    u8(&s, 4), u8(&s, 1);
    u8(&s, 4), u8(&s, 8 | 2);
    u8(&s, 5), u8(&s, 50);
    emit("fuzz_h3_client", "hq", &s);
    /* h3: control stream with SETTINGS, QPACK streams, a 200 response with a body, a 404, GOAWAY */
    s.n = 0;
    u8(&s, 1);
    u8(&s, 2), u8(&s, 3), bytes(&s, "000400");
    u8(&s, 2), u8(&s, 1), bytes(&s, "02");
    u8(&s, 2), u8(&s, 1), bytes(&s, "03");
    u8(&s, 0), u8(&s, 0), u8(&s, 5 + 7), bytes(&s, "01030000d9"), bytes(&s, "000568656c6c6f");
    u8(&s, 1), u8(&s, 0);
    u8(&s, 0), u8(&s, 1), u8(&s, 5), bytes(&s, "01030000db"); /* :status 404 */
    u8(&s, 1), u8(&s, 1);
    u8(&s, 3), u8(&s, 0), u8(&s, 3), bytes(&s, "070108"); /* GOAWAY 8 */
    u8(&s, 5), u8(&s, 50);
    emit("fuzz_h3_client", "h3_responses", &s);
    /* h3: responses with Huffman-coded values and literal names: a 200 with content-type,
     * content-length, date and custom-key (each its own field line form) and a body; a 100 then a
     * 302 with a location; a 302 whose :status is a Huffman literal, a body and trailers */
    s.n = 0;
    u8(&s, 1);
    u8(&s, 2), u8(&s, 3), bytes(&s, "000400");
    {
        seed hdr = {.n = 0}, body = {.n = 0}, t = {.n = 0};
        bytes(&hdr, "0000 d9");                      /* :status 200 */
        bytes(&hdr, "5f1d 0a 746578742f706c61696e"); /* content-type text/plain */
        bytes(&hdr, "54 01 35");                     /* content-length 5 */
        bytes(&hdr, "56 96 d07abe941054d444a8200595040b8166e082a62d1bff"); /* date (H) */
        bytes(&hdr, "2f01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf"); /* custom-key: custom-value */
        h3_frame(&t, 0x01, &hdr);
        put(&body, "hello", 5);
        h3_frame(&t, 0x00, &body);
        h3_event(&s, 0, 0, &t);
    }
    u8(&s, 1), u8(&s, 0);
    {
        seed info = {.n = 0}, hdr = {.n = 0}, t = {.n = 0};
        bytes(&info, "0000 ff00"); /* :status 100 */
        h3_frame(&t, 0x01, &info);
        bytes(&hdr, "0000 ff03 c4");                             /* :status 302, content-length 0 */
        bytes(&hdr, "5c 91 9d29ad171863c78f0b97c8e9ae82ae43d3"); /* location (H) */
        h3_frame(&t, 0x01, &hdr);
        h3_event(&s, 0, 1, &t);
    }
    u8(&s, 1), u8(&s, 1);
    {
        seed hdr = {.n = 0}, body = {.n = 0}, tr = {.n = 0}, t = {.n = 0};
        bytes(&hdr, "0000 5f09 82 6402");  /* :status 302 (H) */
        bytes(&hdr, "5f15 85 aec3771a4b"); /* cache-control private (H) */
        h3_frame(&t, 0x01, &hdr);
        put(&body, "moved\n", 6);
        h3_frame(&t, 0x00, &body);
        bytes(&tr, "0000 2f01 25a849e95ba97d7f 89 25a849e95bb8e8b4bf");
        h3_frame(&t, 0x01, &tr);
        h3_event(&s, 0, 2, &t);
    }
    u8(&s, 1), u8(&s, 2);
    u8(&s, 5), u8(&s, 50);
    emit("fuzz_h3_client", "h3_huffman", &s);
}

/* ---- fuzz_session: resumption blobs ---------------------------------------------------------- */

static void session_seeds(void)
{
    tern_resume r;
    uint8_t sess[700], out[2048];
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < sizeof(sess); i++)
        sess[i] = (uint8_t)(i * 29 + 3);
    r.max_early_data = 0xffffffffu;
    strcpy(r.alpn, "hq-interop");
    r.active_connection_id_limit = 8;
    r.initial_max_data = 16u << 20;
    r.initial_max_stream_data_bidi_local = r.initial_max_stream_data_bidi_remote = 4u << 20;
    r.initial_max_stream_data_uni = 4u << 20;
    r.initial_max_streams_bidi = r.initial_max_streams_uni = 100;
    r.session = sess;
    r.session_len = sizeof(sess);
    seed s = {.n = 0};
    put(&s, out, tern_resume_encode(&r, out, sizeof(out)));
    emit("fuzz_session", "ticket_early", &s);
    r.max_early_data = 0;
    r.alpn[0] = 0;
    s.n = 0;
    put(&s, out, tern_resume_encode(&r, out, sizeof(out)));
    emit("fuzz_session", "ticket_no_early", &s);
}

/* ---- fuzz_mpframe: one seed per multipath frame, a mixed packet and malformed ends ---- */

static void mp_seed(const char *name, const char *hex)
{
    seed s = {.n = 0};
    bytes(&s, hex);
    emit("fuzz_mpframe", name, &s);
}

static void mpframe_seeds(void)
{
    mp_seed("path_ack", "3e070c09010203 02");
    mp_seed("path_ack_ecn", "3f800100000c0000020102 03");
    mp_seed("path_abandon", "7e75023e");
    mp_seed("path_status_backup", "7e760105");
    mp_seed("path_status_available", "7e770106");
    mp_seed("path_new_cid", "7e7803020104aabbccdd000102030405060708090a0b0c0d0e0f");
    mp_seed("path_retire_cid", "7e7903 4040");
    mp_seed("max_path_id", "7e7a08");
    mp_seed("paths_blocked", "7e7b08");
    mp_seed("path_cids_blocked", "7e7c0509");
    /* with RFC 9000 frames around them, as in a packet */
    mp_seed("mixed", "01 7e7a08 3e000000000000 1a0102030405060708 7e760105 00 00");
    /* a path ID of 2^32, a truncated CID */
    mp_seed("bad_path_id", "7e7ac000000100000000");
    mp_seed("bad_new_cid", "7e7803020104aabb");
}

/* ---- fuzz_qpack: field sections, a Huffman string, encoder and decoder stream bytes ---- */

static void qpack_seed(const char *name, const char *hex)
{
    seed s = {.n = 0};
    bytes(&s, hex);
    emit("fuzz_qpack", name, &s);
}

static void qpack_seeds(void)
{
    /* RFC 9204 B.1: :path /index.html, a literal with a static name reference */
    qpack_seed("rfc9204_b1", "0000510b2f696e6465782e68746d6c");
    /* GET https://localhost/index.html and x-custom: v, as the tools' encoder writes it */
    qpack_seed("request", "0000d1d75086a0e41d139d09518860d5485f2bce9a682ef2b12d424f4f0176");
    /* :status 200, content-length 0 (indexed), a Huffman-coded literal name and value, a plain
     * value, and a second octet of static index */
    qpack_seed("response", "0000d9c4 2ef2b12d424f4f 8cf1e3c2e5f23a6ba0ab90f4ff 5f1d0568656c6c6f "
                           "ff23");
    /* a non-zero Base, in two octets */
    qpack_seed("base", "007f00d1");
    /* malformed: a dynamic reference, a post-base index, a negative Base */
    qpack_seed("dynamic", "0000d180");
    qpack_seed("post_base", "000010");
    qpack_seed("negative_base", "0080d1");
    /* www.example.com Huffman-coded (RFC 7541 C.4.1) */
    qpack_seed("huffman", "f1e3c2e5f23a6ba0ab90f4ff");
    /* Set Dynamic Table Capacity 0 twice; Stream Cancellations of streams 4, 64 and 2^62 - 1 */
    qpack_seed("encoder_stream", "2020");
    qpack_seed("decoder_stream", "44 7f01 7fc0ffffffffffffff3f");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) && errno != EEXIST) {
        perror(root);
        return 1;
    }
    conn_seeds();
    server_seeds();
    client_seeds();
    tparams_seeds();
    h3_seeds();
    h3_client_seeds();
    session_seeds();
    mpframe_seeds();
    qpack_seeds();
    return 0;
}
