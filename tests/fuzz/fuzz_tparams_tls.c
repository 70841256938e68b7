/* libFuzzer target for transport parameters as they arrive through TLS (RFC 9001 §8.2), into a
 * real connection rather than the decoder alone. The first byte picks the direction:
 *  - bit 0 clear: the server's parameters. A real server (tests/common/pair.c) sends the input in
 *    its EncryptedExtensions (tern_tls_set_tparams before it reads the ClientHello); the victim is
 *    the client, which parses them inside GnuTLS's extension callback, checks the CIDs, applies
 *    them, and acts on a preferred address.
 *  - bit 0 set: the client's parameters. The client's real first Initial is opened with its Initial
 *    keys, the quic_transport_parameters extension of its ClientHello is replaced by the input, and
 *    the packet is protected again and delivered; the victim is the server.
 * Bit 1 appends the parameters that name the connection IDs of this run (initial_source_connection
 * _id, and from the server original_destination_connection_id), which the connection IDs of a
 * fixed seed make the same in every run, so that mutations get past the CID checks.
 *
 * Checked: when the decoder rejects the parameters, the victim closes with that transport error
 * (TRANSPORT_PARAMETER_ERROR) and nothing else; when the victim accepted them, it did not close
 * with TRANSPORT_PARAMETER_ERROR for a decoding reason; and no internal error ever. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "forge.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "packet.h"
#include "pair.h"
#include "tls.h"
#include "varint.h"

#define TP_MAX 1000

static tern_pair pair;
static uint8_t tp[TP_MAX + 64];
static size_t tp_len;
static int add_cids;

static int never(tern_pair *p)
{
    return 0;
}
static int server_exists(tern_pair *p)
{
    return p->server != NULL;
}

static size_t put_cid_param(uint8_t *q, uint64_t id, const tern_cid *cid)
{
    uint8_t *s = q;
    q = tern_varint_put(q, id);
    q = tern_varint_put(q, cid->len);
    memcpy(q, cid->data, cid->len);
    return (size_t)(q + cid->len - s);
}

static void server_created(tern_pair *p)
{
    if (add_cids) {
        tp_len += put_cid_param(tp + tp_len, 0x00, tern_conn_original_dcid(p->server));
        tp_len += put_cid_param(tp + tp_len, 0x0f, &tern_conn_local_cids(p->server)->e[0].cid);
    }
    CHECK(tern_tls_set_tparams(tern_conn_tls(p->server), tp, tp_len) == 0);
}

/* Replaces the extension's body in the ClientHello at ch[0..*len) (cap bytes of room). */
static int splice_ch(uint8_t *ch, size_t *len, size_t cap, const uint8_t *body, size_t blen)
{
    size_t n = *len, o = 4 + 2 + 32;
    if (n < o + 1 || ch[0] != 1)
        return -1;
    o += 1 + ch[o]; /* legacy_session_id */
    if (o + 2 > n)
        return -1;
    o += 2 + ((size_t)ch[o] << 8 | ch[o + 1]); /* cipher_suites */
    if (o + 1 > n)
        return -1;
    o += 1 + ch[o]; /* legacy_compression_methods */
    if (o + 2 > n)
        return -1;
    size_t ext_len_at = o, end = o + 2 + ((size_t)ch[o] << 8 | ch[o + 1]);
    if (end > n)
        return -1;
    for (o += 2; o + 4 <= end;) {
        unsigned type = (unsigned)ch[o] << 8 | ch[o + 1];
        size_t el = (size_t)ch[o + 2] << 8 | ch[o + 3];
        if (type == 0x39) {
            size_t after = o + 4 + el;
            if (n - el + blen > cap)
                return -1;
            memmove(ch + o + 4 + blen, ch + after, n - after);
            memcpy(ch + o + 4, body, blen);
            n = n - el + blen;
            ch[o + 2] = (uint8_t)(blen >> 8);
            ch[o + 3] = (uint8_t)blen;
            size_t exts = ((size_t)ch[ext_len_at] << 8 | ch[ext_len_at + 1]) - el + blen;
            ch[ext_len_at] = (uint8_t)(exts >> 8);
            ch[ext_len_at + 1] = (uint8_t)exts;
            size_t msg = n - 4;
            ch[1] = (uint8_t)(msg >> 16);
            ch[2] = (uint8_t)(msg >> 8);
            ch[3] = (uint8_t)msg;
            *len = n;
            return 0;
        }
        o += 4 + el;
    }
    return -1;
}

/* Rewrites the client's first Initial (in the link's queue) with the input as its parameters. */
static int rewrite_client_initial(void)
{
    CHECK(pair.qn == 1);
    pair_dgram *g = &pair.q[pair.heap[0].slot];
    tern_pkt_hdr h;
    static uint8_t plain[1500], frames[1500];
    long pl = forge_open_initial(0, NULL, g->data, g->len, &h, plain, sizeof(plain));
    CHECK(pl > 0);
    /* the first frame is CRYPTO at offset 0 holding the whole ClientHello */
    tern_rd r = {plain, plain + pl};
    uint64_t type, off, clen;
    const uint8_t *body;
    CHECK(tern_rd_varint(&r, &type) == 0 && type == 0x06);
    CHECK(tern_rd_varint(&r, &off) == 0 && off == 0);
    CHECK(tern_rd_varint(&r, &clen) == 0 && tern_rd_bytes(&r, (size_t)clen, &body) == 0);
    static uint8_t ch[1500];
    size_t chlen = (size_t)clen;
    memcpy(ch, body, chlen);
    if (add_cids)
        tp_len += put_cid_param(tp + tp_len, 0x0f, &tern_conn_local_cids(pair.client)->e[0].cid);
    if (splice_ch(ch, &chlen, sizeof(ch), tp, tp_len))
        return -1;
    uint8_t *w = frames;
    *w++ = 0x06;
    w = tern_varint_put(w, 0);
    w = tern_varint_put(w, chlen);
    if (chlen > sizeof(frames) - 16)
        return -1;
    memcpy(w, ch, chlen);
    w += chlen;
    size_t n = forge_initial(0, h.version, &h.dcid, &h.dcid, &h.scid, NULL, 0, 0, frames,
                             (size_t)(w - frames), 1200, g->data, sizeof(g->data));
    if (!n)
        return -1;
    g->len = n;
    return 0;
}

static void check_victim(tern_conn *v, int from_server)
{
    CHECK(v);
    tern_tparams dec;
    uint64_t terr = 0;
    int bad = tern_tparams_decode(&dec, from_server, tp, tp_len, &terr) != 0;
    fuzz_check_close(v);
    const tern_close_info *ci = tern_conn_close_info(v);
    if (bad) {
        CHECK(tern_conn_state(v) >= TERN_CS_CLOSING && ci->local && !ci->app);
        CHECK(ci->error_code == terr);
        CHECK(!tern_conn_peer_tparams_received(v));
    } else if (tern_conn_peer_tparams_received(v)) {
        CHECK(!(tern_conn_state(v) >= TERN_CS_CLOSING && ci->local &&
                ci->error_code == TERN_TE_TRANSPORT_PARAMETER_ERROR &&
                strstr(ci->reason, "malformed")));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > TP_MAX + 1)
        return 0;
    int client_params = data[0] & 1;
    add_cids = (data[0] >> 1) & 1;
    memcpy(tp, data + 1, size - 1);
    tp_len = size - 1;
    CHECK(pair_init(&pair, 5) == 0);
    if (client_params) {
        pair_run(&pair, never, 0);
        if (rewrite_client_initial()) {
            pair_free(&pair);
            return 0;
        }
        pair_run(&pair, server_exists, 1000 * MS);
        check_victim(pair.server, 0);
    } else {
        pair.server_created = server_created;
        /* until the client has read the server's first flight */
        pair_run(&pair, never, 30 * MS);
        check_victim(pair.client, 1);
    }
    /* the rest of the connection, whatever state it is in */
    pair_run(&pair, never, 2000 * MS);
    pair_free(&pair); /* what this input allocated, it frees: no leak check reruns it */
    return 0;
}
