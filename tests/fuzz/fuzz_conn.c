/* libFuzzer target for a live connection: the input becomes the payload of a correctly protected
 * 1-RTT packet from the client (first byte chooses the source address among a few, to reach the
 * migration code), handed to an established server connection. Whatever it holds, the server must
 * not crash, must keep its state bounded, and a connection it closed must say why. A fresh pair is
 * set up whenever the server has closed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"
#include "pair.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static tern_pair pair;
static int ready;

static int cond_confirmed(tern_pair *p) { return p->client && p->client->handshake_confirmed; }

static void setup(void)
{
    if (ready)
        pair_free(&pair);
    ready = 0;
    CHECK(pair_init(&pair, 7) == 0);
    CHECK(pair_run(&pair, cond_confirmed, 10000000000ull));
    CHECK(pair_request(&pair, 1000) == 0);
    CHECK(pair_run(&pair, pair_cond_all_done, 10000000000ull));
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready || pair.server->state != TERN_CS_ESTABLISHED)
        setup();
    if (size < 1 || size > 1300)
        return 0;
    tern_conn *c = pair.client;
    uint8_t pkt[1500];
    uint64_t pn = c->sp[TERN_SPACE_APP].next_pn++;
    const tern_cid_entry *e = tern_peer_cids_for_path(&c->pcids, (uint8_t)c->active);
    CHECK(e);
    size_t hl = tern_pkt_write_short(pkt, sizeof(pkt), &e->cid, pn, 4, c->tx_phase, 0);
    size_t len = size - 1;
    memcpy(pkt + hl, data + 1, len);
    if (len < 4) {
        memset(pkt + hl + len, 0, 4 - len);
        len = 4;
    }
    CHECK(tern_crypto_protect(&c->tx[TERN_LEVEL_1RTT], &c->hp_tx1, pkt, hl, 4, len, pn) == 0);
    tern_path_addr from = {c->paths[c->active].addr.remote, c->paths[c->active].addr.local};
    if (data[0] & 1) /* another source address: a migration, a rebinding or a spoof */
        tern_addr_parse(&from.remote, (data[0] & 2) ? "10.0.0.77:5000" : "10.0.0.1:5001", 0);
    tern_conn_recv(pair.server, &from, pkt, hl + len + 16, 0, pair.now);

    tern_conn *s = pair.server;
    size_t n = 0;
    CHECK(tern_conn_paths(s, NULL, 0, &n) == 0 && n <= TERN_MAX_PATHS);
    CHECK(s->streams.count <= s->streams.max_remote[0] + s->streams.max_remote[1] + 8);
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        CHECK(s->paths[i].nresponse <= TERN_PATH_RESPONSES);
    /* a close the server decided on names a transport error (the peer may close with NO_ERROR) */
    if (s->state >= TERN_CS_CLOSING && tern_conn_close_info(s)->local)
        CHECK(tern_conn_close_info(s)->error_code != 0);
    /* let the server answer and time pass a little, so that timers and sending run too */
    pair.now += 1000000;
    static uint8_t out[1500];
    for (int k = 0; k < 4; k++) {
        tern_path_addr po;
        size_t seg = 0, cnt = 0;
        if (tern_conn_send(s, &po, out, sizeof(out), 1, &seg, &cnt, pair.now) || !cnt)
            break;
    }
    if (tern_conn_next_timeout(s) <= pair.now)
        tern_conn_on_timeout(s, pair.now);
    return 0;
}
