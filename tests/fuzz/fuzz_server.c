/* libFuzzer target for a server's front door: datagrams from several client addresses go through
 * the dispatcher (src/core/dispatch.c) exactly as the runtime drives it: unknown Initials create
 * connections, routed CIDs reach them, the rest is answered (Version Negotiation, Retry, stateless
 * reset) or dropped. Each input is a script; the first byte configures the front door (Retry on or
 * off, the connection limit), the rest are events. Initials are built by the target from plaintext
 * frames and protected with the Initial keys of their DCID, so that mutations reach the frames, the
 * ClientHello inside CRYPTO and the transport parameters in it, not only the AEAD check. The seed
 * corpus holds a real ClientHello Initial (tests/fuzz/gen_seeds.c).
 *
 * Checked: the dispatcher's connection count matches the live connections and never exceeds the
 * limit, every connection's own close names a transport error, nothing reports an internal error,
 * a reply is never larger than the datagram that caused it (no amplification by stateless replies
 * except Version Negotiation and Retry, which RFC 9000 bounds by the 1200-byte minimum), and state
 * is freed at the end of each input (LeakSanitizer).
 *
 * Events (opcode byte, arguments; a truncated event ends the script):
 *   0 t                  time passes: (t+1) x 10 ms; timers run, output is pulled
 *   1 a v k D <D> S <S> LL <p>
 *                        an Initial from address a&3, version v (0: v1, 1: unknown, 2: v2, else
 *                        v1), token k (0: none, 1: the last Retry token, whose SCID then replaces
 *                        the DCID, else k%64 bytes of junk), DCID <D> of D%21 bytes, SCID <S> of
 *                        S%21 bytes, plaintext frames <p> of LL (16-bit big-endian) bytes, padded
 *                        to 1200 bytes unless a&4
 *   2 a LL <p>           a raw datagram from address a&3
 *   3 a c n              a short header for CID c of the connections' issued CIDs, n bytes
 *   4 a LL <p>           frames in a Handshake packet forged with the Handshake keys of the last
 *                        connection, from address a&3
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "dispatch.h"
#include "forge.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "packet.h"
#include "pair.h"
#include "testcert.h"
#include "tls.h"
#include "varint.h"

#define MAX_CONNS 4
#define MAX_EVENTS 64

typedef struct fconn {
    tern_dispatch_owner owner;
    tern_conn *c;
    int used;
} fconn;

static tern_config cfg;
static tern_tls_ctx *tls;
static tern_dispatch disp;
static fconn conns[MAX_CONNS];
static uint64_t rng, now;
static uint8_t retry_token[256];
static size_t retry_token_len;
static tern_cid retry_scid;
static tern_cid issued[32];
static size_t nissued;

static int frand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(rng >> 56);
    }
    return 0;
}

static void hook_added(void *ud, tern_conn *c, const tern_cid *cid)
{
    fconn *f = ud;
    (void)tern_dispatch_add_route(&disp, &f->owner, cid);
    if (nissued < 32)
        issued[nissued++] = *cid;
}

static void hook_removed(void *ud, tern_conn *c, const tern_cid *cid)
{
    fconn *f = ud;
    tern_dispatch_remove_route(&disp, &f->owner, cid);
}

static int init_once(void)
{
    static char cert[512], key[512];
    char dir[] = "/tmp/tern-fuzz-server-XXXXXX";
    static const char *alpn[] = {"hq-interop", "h3"};
    CHECK(mkdtemp(dir));
    CHECK(tern_test_make_cert(dir, cert, sizeof(cert), key, sizeof(key)) == 0);
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 2;
    cfg.cert_file = cert;
    cfg.key_file = key;
    CHECK(tern_tls_ctx_new(&tls, 1, cert, key, NULL, 0, NULL, alpn, 2) == 0);
    return 1;
}

static void conn_free(fconn *f)
{
    tern_dispatch_detach(&disp, &f->owner);
    tern_conn_free(f->c);
    memset(f, 0, sizeof(*f));
}

static void check_conn(tern_conn *c)
{
    fuzz_check_close(c);
    CHECK(tern_conn_streams(c)->count == 0 || tern_conn_handshake_complete(c));
}

/* Pulls every connection's output (nobody answers it), runs timers, frees finished ones. */
static void service(void)
{
    static uint8_t out[1500];
    size_t live = 0;
    for (int i = 0; i < MAX_CONNS; i++) {
        fconn *f = &conns[i];
        if (!f->used)
            continue;
        if (tern_conn_next_timeout(f->c) <= now)
            tern_conn_on_timeout(f->c, now);
        for (int k = 0; k < 16; k++) {
            tern_path_addr pa;
            size_t seg = 0, cnt = 0;
            if (tern_conn_send(f->c, &pa, out, sizeof(out), 1, &seg, &cnt, now) || !cnt)
                break;
        }
        check_conn(f->c);
        if (tern_conn_is_done(f->c))
            conn_free(f);
        else
            live++;
    }
    CHECK(tern_dispatch_owner_count(&disp) == live);
}

static void accept_conn(const tern_path_addr *pa, const tern_dispatch_result *r, uint8_t *d,
                        size_t len)
{
    fconn *f = NULL;
    for (int i = 0; i < MAX_CONNS && !f; i++)
        if (!conns[i].used)
            f = &conns[i];
    CHECK(f); /* the dispatcher's limit is MAX_CONNS */
    f->used = 1;
    tern_dispatch_attach(&disp, &f->owner, f);
    tern_conn_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.is_server = 1;
    cp.version = r->version;
    cp.cfg = &cfg;
    cp.tls_ctx = tls;
    cp.rand = frand;
    cp.reset_key = tern_dispatch_reset_key(&disp);
    cp.scid_len = disp.cfg.cid_len;
    cp.client_dcid = r->client_dcid;
    cp.client_scid = r->client_scid;
    cp.original_dcid = r->original_dcid;
    cp.retried = r->retried;
    cp.address_validated = r->address_validated;
    cp.hooks.cid_added = hook_added;
    cp.hooks.cid_removed = hook_removed;
    cp.hooks.ud = f;
    if (tern_conn_new(&f->c, &cp, pa, now)) {
        tern_dispatch_detach(&disp, &f->owner);
        memset(f, 0, sizeof(*f));
        return;
    }
    (void)tern_dispatch_add_route(&disp, &f->owner, &r->client_dcid);
    tern_conn_recv(f->c, pa, d, len, 0, now);
    tern_conn_stats st;
    tern_conn_get_stats(f->c, &st);
    if (st.pkts_recv == 0) { /* nothing authentic: forget it, as the runtime does */
        tern_dispatch_note_drop(&disp, TERN_DISPATCH_DROP_REJECTED);
        conn_free(f);
    }
}

static void input(int a, uint8_t *d, size_t len)
{
    static const char *const from[4] = {"10.0.0.1:5000", "10.0.0.1:5001", "10.9.9.9:443",
                                        "[fd00::1]:5000"};
    tern_path_addr pa;
    tern_addr_parse(&pa.local, (a & 3) == 3 ? "[fd00::2]:443" : "10.0.0.2:443", 0);
    tern_addr_parse(&pa.remote, from[a & 3], 0);
    uint8_t reply[TERN_DISPATCH_REPLY_MAX];
    tern_dispatch_result r;
    int v = tern_dispatch_classify(&disp, &pa, d, len, now, reply, sizeof(reply), &r);
    switch (v) {
    case TERN_DISPATCH_CONN:
        tern_conn_recv(((fconn *)r.owner)->c, &pa, d, len, 0, now);
        break;
    case TERN_DISPATCH_ACCEPT:
        accept_conn(&pa, &r, d, len);
        break;
    case TERN_DISPATCH_REPLY:
        CHECK(r.reply_len <= TERN_DISPATCH_REPLY_MAX);
        if (r.reply_kind == TERN_DISPATCH_REPLY_RESET)
            CHECK(r.reply_len < len && r.reply_len >= 21);
        else
            CHECK(len >= 1200);
        if (r.reply_kind == TERN_DISPATCH_REPLY_RETRY) {
            tern_pkt_hdr h;
            if (tern_pkt_parse(reply, r.reply_len, 8, &h) == 0 && h.type == TERN_PKT_RETRY &&
                h.token_len <= sizeof(retry_token)) {
                memcpy(retry_token, h.token, h.token_len);
                retry_token_len = h.token_len;
                retry_scid = h.scid;
            }
        }
        break;
    default:
        CHECK(v == TERN_DISPATCH_DROP);
        break;
    }
}

/* A CID given as a length byte (taken modulo 21) and its bytes. */
static int take_cid(const uint8_t *data, size_t size, size_t *i, tern_cid *cid)
{
    if (*i >= size)
        return 0;
    size_t n = data[(*i)++] % 21;
    if (n > size - *i)
        return 0;
    cid->len = (uint8_t)n;
    memcpy(cid->data, data + *i, n);
    *i += n;
    return 1;
}

static tern_cid make_cid(size_t n, uint8_t seed)
{
    tern_cid c;
    c.len = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        c.data[i] = (uint8_t)(seed * 31 + i * 7 + 1);
    return c;
}

static void setup(uint8_t flags)
{
    rng = 1;
    now = 1000 * MS;
    retry_token_len = 0;
    nissued = 0;
    tern_dispatch_config dc;
    tern_dispatch_config_init(&dc);
    dc.retry = flags & 1;
    dc.max_conns = 1 + (flags >> 1) % MAX_CONNS;
    dc.rand = frand;
    for (int i = 0; i < 32; i++) {
        dc.reset_key[i] = (uint8_t)i;
        dc.retry_key[i] = (uint8_t)(i + 100);
    }
    CHECK(tern_dispatch_init(&disp, &dc) == 0);
}

static void teardown(void)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].used)
            conn_free(&conns[i]);
    tern_dispatch_free(&disp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = init_once();
    if (size < 1)
        return 0;
    setup(data[0]);
    static uint8_t dg[1500], junk[64];
    size_t i = 1;
    for (uint64_t ev = 0; ev < MAX_EVENTS && i < size; ev++) {
        uint8_t op = data[i++] % 5;
        if (op == 0) {
            if (i >= size)
                break;
            now += (uint64_t)(data[i++] + 1) * 10 * MS;
        } else if (op == 1) {
            if (i + 3 > size)
                break;
            uint8_t a = data[i], v = data[i + 1], k = data[i + 2];
            i += 3;
            tern_cid dcid, scid;
            if (!take_cid(data, size, &i, &dcid) || !take_cid(data, size, &i, &scid))
                break;
            size_t n = fuzz_take16(data, size, &i);
            if (n == SIZE_MAX)
                break;
            static const uint32_t versions[4] = {1, 0x1a2a3a4a, 0x6b3343cf, 1};
            uint32_t ver = versions[v & 3];
            const uint8_t *tok = NULL;
            size_t tlen = 0;
            tern_cid keys_dcid = dcid;
            if (k == 1 && retry_token_len) {
                tok = retry_token;
                tlen = retry_token_len;
                dcid = keys_dcid = retry_scid;
            } else if (k > 1) {
                memset(junk, k, sizeof(junk));
                tok = junk;
                tlen = k % sizeof(junk);
            }
            size_t len =
                forge_initial(0, ver == 0x1a2a3a4a ? 1 : ver, &keys_dcid, &dcid, &scid, tok, tlen,
                              ev, data + i, n, (a & 4) ? 0 : 1200, dg, sizeof(dg));
            if (len && ver == 0x1a2a3a4a)
                tern_put_u32(dg + 1, ver); /* an unknown version: the rest does not matter */
            i += n;
            if (len)
                input(a, dg, len);
        } else if (op == 2 || op == 4) {
            if (i >= size)
                break;
            uint8_t a = data[i++];
            size_t n = fuzz_take16(data, size, &i);
            if (n == SIZE_MAX)
                break;
            if (n > sizeof(dg))
                n = sizeof(dg);
            size_t len = 0;
            if (op == 2) {
                memcpy(dg, data + i, n);
                len = n;
            } else {
                tern_conn *c = NULL;
                for (int j = 0; j < MAX_CONNS; j++)
                    if (conns[j].used)
                        c = conns[j].c;
                if (c && tern_conn_rx_keys(c, TERN_LEVEL_HANDSHAKE)->aead != TERN_AEAD_NONE) {
                    const tern_cid_entry *e = tern_peer_cids_for_path(
                        tern_conn_peer_cids(c), (uint8_t)tern_conn_active_index(c));
                    tern_cid dcid = tern_conn_local_cids(c)->n ? tern_conn_local_cids(c)->e[0].cid
                                                               : make_cid(8, 0);
                    len = forge_long(TERN_PKT_HANDSHAKE, tern_conn_version(c), &dcid,
                                     e ? &e->cid : &dcid, NULL, 0, ev,
                                     tern_conn_rx_keys(c, TERN_LEVEL_HANDSHAKE), data + i, n, 0, dg,
                                     sizeof(dg));
                }
            }
            i += n;
            if (len)
                input(a, dg, len);
        } else if (op == 3) {
            if (i + 3 > size)
                break;
            uint8_t a = data[i], c = data[i + 1], n = data[i + 2];
            i += 3;
            tern_cid cid = nissued ? issued[c % nissued] : make_cid(8, c);
            size_t len = 1 + cid.len + n % 64;
            dg[0] = 0x40 | (c & 0x3f);
            memcpy(dg + 1, cid.data, cid.len);
            memset(dg + 1 + cid.len, n, len - 1 - cid.len);
            input(a, dg, len);
        }
        service();
    }
    now += 60000 * MS; /* everything times out */
    service();
    service();
    teardown();
    return 0;
}
