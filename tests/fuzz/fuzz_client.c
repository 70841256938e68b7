/* libFuzzer target for the client side of a connection: a tern client whose first Initial is on its
 * way to a real tern server (tests/common/pair.c) receives, interleaved with the server's real
 * answers, what the script forges in the server's name: Initial, Handshake and 1-RTT packets with
 * frames of the script's choosing (protected with the keys the client will use to open them, so
 * they are authentic at the packet layer), Retry packets with a correct or broken integrity tag,
 * Version Negotiation packets, raw datagrams, and losses of the server's datagrams. State is reset
 * per input.
 *
 * Checked after every event: the client never reports an internal error, a close it decided on for
 * a protocol reason names a transport error, its state stays bounded, and it ends (is done) within
 * its handshake or idle timeout once the script is over.
 *
 * Events (opcode byte, arguments; a truncated event ends the script):
 *   0 t              time passes: (t+1) ms, the real server and client exchange
 *   1 f LL <p>       an Initial from the server with frames <p> (f&1: from the server's real
 *                    SCID when known, else a made-up one; f&2: padded to 1200 bytes)
 *   2 f LL <p>       a Handshake packet from the server with frames <p> (once the client has
 *                    Handshake keys)
 *   3 f LL <p>       a 1-RTT packet from the server with frames <p> (f&8: next key phase)
 *   4 s k <k>        a Retry with an SCID of s%21 bytes and token <k> (s&0x80: broken tag)
 *   5 n <4n>         a Version Negotiation packet listing n%16 versions (n&0x80: wrong CIDs)
 *   6 LL <p>         a raw datagram to the client
 *   7 m              the link drops the next server datagrams whose bits are set in m
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "forge.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "packet.h"
#include "pair.h"
#include "varint.h"

#define MAX_EVENTS 64

static tern_pair pair;
static uint8_t drop_bits;
static uint64_t pn_next;

static int never(tern_pair *p)
{
    return 0;
}

static int link_filter(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    if (to_server)
        return 0;
    int drop = drop_bits & 1;
    drop_bits >>= 1;
    return drop;
}

static void check_client(void)
{
    tern_conn *c = pair.client;
    if (!c)
        return;
    fuzz_check_close(c);
    CHECK(tern_conn_streams(c)->count <=
          tern_conn_streams(c)->max_remote[0] + tern_conn_streams(c)->max_remote[1] + 64);
    size_t token_len;
    (void)tern_conn_token(c, &token_len);
    CHECK(token_len <= 65535);
}

static void to_client(uint8_t *d, size_t len)
{
    tern_conn *c = pair.client;
    if (!len || tern_conn_is_done(c))
        return;
    tern_path_addr pa = {.local = tern_conn_active_path(c)->addr.local,
                         .remote = pair.path_c.remote};
    tern_conn_recv(c, &pa, d, len, 0, pair.now);
}

/* The server's CID as the client knows it, or a made-up one. */
static tern_cid server_cid(int real)
{
    tern_cid cid = {.len = 8, .data = {0xaa, 1, 2, 3, 4, 5, 6, 7}};
    if (real && pair.server && tern_conn_local_cids(pair.server)->n)
        cid = tern_conn_local_cids(pair.server)->e[0].cid;
    return cid;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CHECK(pair_init(&pair, 11) == 0);
    pair.filter = link_filter;
    drop_bits = 0;
    pn_next = 1000;
    pair_run(&pair, never, 0); /* the client exists, its first Initial is in flight */
    tern_conn *c = pair.client;
    CHECK(c);
    static uint8_t dg[1500];
    size_t i = 0;
    for (int ev = 0; ev < MAX_EVENTS && i < size && !tern_conn_is_done(c); ev++) {
        uint8_t op = data[i++] % 8;
        size_t len = 0;
        if (op == 0 || op == 7) {
            if (i >= size)
                break;
            uint8_t b = data[i++];
            if (op == 0)
                pair_run(&pair, never, (uint64_t)(b + 1) * MS);
            else
                drop_bits = b;
        } else if (op >= 1 && op <= 3) {
            if (i >= size)
                break;
            uint8_t f = data[i++];
            size_t n = fuzz_take16(data, size, &i);
            if (n == SIZE_MAX)
                break;
            const uint8_t *pl = data + i;
            i += n;
            tern_cid dcid = tern_conn_local_cids(c)->e[0].cid, scid = server_cid(f & 1);
            if (op == 1 && tern_conn_rx_keys(c, TERN_LEVEL_INITIAL)->aead != TERN_AEAD_NONE)
                len = forge_long(TERN_PKT_INITIAL, tern_conn_version(c), &dcid, &scid, NULL, 0,
                                 pn_next++, tern_conn_rx_keys(c, TERN_LEVEL_INITIAL), pl, n,
                                 (f & 2) ? 1200 : 0, dg, sizeof(dg));
            else if (op == 2 && tern_conn_rx_keys(c, TERN_LEVEL_HANDSHAKE)->aead != TERN_AEAD_NONE)
                len = forge_long(TERN_PKT_HANDSHAKE, tern_conn_version(c), &dcid, &scid, NULL, 0,
                                 pn_next++, tern_conn_rx_keys(c, TERN_LEVEL_HANDSHAKE), pl, n, 0,
                                 dg, sizeof(dg));
            else if (op == 3 && pair.server)
                len = forge_1rtt(pair.server, pl, n, (f & 8) ? FORGE_NEXT_PHASE : 0, pair.now, dg,
                                 sizeof(dg));
        } else if (op == 4) {
            if (i + 2 > size)
                break;
            uint8_t s = data[i], k = data[i + 1];
            i += 2;
            if (k > size - i)
                k = (uint8_t)(size - i);
            tern_cid scid = {.len = (uint8_t)(s % 21)};
            for (int j = 0; j < scid.len; j++)
                scid.data[j] = (uint8_t)(s + j);
            uint8_t *q = dg;
            *q++ = 0xf0;
            q = tern_put_u32(q, tern_conn_version(c));
            *q++ = tern_conn_local_cids(c)->e[0].cid.len;
            memcpy(q, tern_conn_local_cids(c)->e[0].cid.data,
                   tern_conn_local_cids(c)->e[0].cid.len);
            q += tern_conn_local_cids(c)->e[0].cid.len;
            *q++ = scid.len;
            memcpy(q, scid.data, scid.len);
            q += scid.len;
            memcpy(q, data + i, k);
            q += k;
            i += k;
            size_t body = (size_t)(q - dg);
            if (tern_crypto_retry_tag(tern_conn_version(c), tern_conn_initial_dcid(c), dg, body,
                                      q) == 0) {
                if (s & 0x80)
                    q[0] ^= 1;
                len = body + TERN_AEAD_TAG_LEN;
            }
        } else if (op == 5) {
            if (i >= size)
                break;
            uint8_t n = data[i++];
            size_t cnt = n % 16;
            if (4 * cnt > size - i)
                cnt = (size - i) / 4;
            tern_cid d = tern_conn_local_cids(c)->e[0].cid, s = *tern_conn_initial_dcid(c);
            if (n & 0x80)
                d.data[0] ^= 1;
            uint8_t *q = dg;
            *q++ = 0xc0;
            q = tern_put_u32(q, 0);
            *q++ = d.len;
            memcpy(q, d.data, d.len);
            q += d.len;
            *q++ = s.len;
            memcpy(q, s.data, s.len);
            q += s.len;
            memcpy(q, data + i, 4 * cnt);
            q += 4 * cnt;
            i += 4 * cnt;
            len = (size_t)(q - dg);
        } else if (op == 6) {
            size_t n = fuzz_take16(data, size, &i);
            if (n == SIZE_MAX)
                break;
            if (n > sizeof(dg))
                n = sizeof(dg);
            memcpy(dg, data + i, n);
            i += n;
            len = n;
        }
        to_client(dg, len);
        check_client();
        pair_run(&pair, never, 1 * MS);
        check_client();
    }
    /* whatever happened, the client ends within its handshake or idle timeout */
    pair.filter = NULL;
    pair_run(&pair, never, 5000 * MS);
    check_client();
    if (!pair.client_closed) {
        pair_run(&pair, never, 70000 * MS);
        check_client();
        CHECK(tern_conn_state(c) != TERN_CS_HANDSHAKE);
    }
    pair_free(&pair); /* what this input allocated, it frees: no leak check reruns it */
    return 0;
}
