/* A 1-RTT packet whose one-byte packet number was outrun by more than 128 later packets before it
 * was processed (as a PATH_RESPONSE on a probed path is, behind a batch of data read from the
 * active path's socket) is still authenticated and processed; a forgery of the same shape is
 * counted once as an authentication failure. Two cores after a real handshake; the late packet is
 * protected by hand with the server's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "frame.h"
#include "packet.h"
#include "pair.h"

#define SEC 1000000000ull
#define OUTRUN 200 /* later packets processed first: beyond the 128 of a one-byte number */

static void connect_pair(tern_pair *p, uint64_t seed)
{
    assert_int_equal(pair_init(p, seed), 0);
    assert_true(pair_run(p, pair_cond_connected, 10 * SEC));
    assert_int_equal(pair_request(p, 100), 0);
    assert_true(pair_run(p, pair_cond_all_done, 10 * SEC));
}

/* A PING from the server with the server's next packet number, encoded in one byte; recorded as
 * sent (not in flight) so that the client's acknowledgement of it is of a known packet. */
static size_t protect_ping_1byte_pn(tern_pair *p, uint8_t *pkt, size_t cap, uint64_t *pn_out)
{
    tern_conn *s = p->server;
    uint64_t pn = tern_conn_test_take_pn(s, TERN_SPACE_APP);
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(s), 0);
    size_t hl = tern_pkt_write_short(pkt, cap, &e->cid, pn, 1, tern_conn_tx_phase(s), 0);
    assert_true(hl > 0);
    uint8_t payload[24] = {TERN_FT_PING}; /* the rest PADDING: room for the protection sample */
    memcpy(pkt + hl, payload, sizeof(payload));
    assert_int_equal(tern_crypto_protect(tern_conn_tx_keys(s, TERN_LEVEL_1RTT), tern_conn_tx_hp(s),
                                         pkt, hl, 1, sizeof(payload), pn),
                     0);
    tern_sent_pkt rec;
    memset(&rec, 0, sizeof(rec));
    rec.pn = pn;
    rec.time_sent = p->now;
    rec.size = (uint32_t)(hl + sizeof(payload) + TERN_AEAD_TAG_LEN);
    tern_recovery_on_sent(tern_conn_recovery(s), TERN_SPACE_APP, &rec);
    *pn_out = pn;
    return hl + sizeof(payload) + TERN_AEAD_TAG_LEN;
}

/* Sends the one-byte-numbered packet, then OUTRUN later ones which the client processes first;
 * `forge` flips a ciphertext byte of the late one. Returns the pair (to be freed) with the late
 * packet processed. */
static void late_packet(tern_pair *p, int forge, uint64_t *pn, uint64_t *auth_failed_before)
{
    connect_pair(p, 91);
    uint8_t pkt[128];
    size_t len = protect_ping_1byte_pn(p, pkt, sizeof(pkt), pn);
    static const uint8_t ping[] = {TERN_FT_PING};
    for (int i = 0; i < OUTRUN; i++)
        assert_int_equal(pair_inject_1rtt(p, 0, ping, sizeof(ping)), 0);
    assert_true(tern_conn_largest_recv(p->client, TERN_SPACE_APP) >= *pn + OUTRUN);
    if (forge)
        pkt[len - 1] ^= 1;
    *auth_failed_before = tern_conn_rx_auth_failed(p->client);
    assert_int_equal(tern_conn_recv(p->client, &p->path_c, pkt, len, 0, p->now), 0);
}

static void test_late_packet_processed(void **st)
{
    (void)st;
    tern_pair p;
    uint64_t pn, failed;
    late_packet(&p, 0, &pn, &failed);
    assert_true(tern_ackr_is_dup(tern_conn_ackr(p.client, TERN_SPACE_APP), pn)); /* received */
    assert_int_equal(tern_conn_rx_auth_failed(p.client), failed);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

static void test_late_forgery_counted_once(void **st)
{
    (void)st;
    tern_pair p;
    uint64_t pn, failed;
    late_packet(&p, 1, &pn, &failed);
    assert_false(tern_ackr_is_dup(tern_conn_ackr(p.client, TERN_SPACE_APP), pn));
    assert_int_equal(tern_conn_rx_auth_failed(p.client), failed + 1);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_packet_processed),
        cmocka_unit_test(test_late_forgery_counted_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
