/* The keys of a connection once TLS has made them: the block of the Initial, 0-RTT and Handshake
 * keys, which lives only while those levels do; the 1-RTT key phases (RFC 9001 §6: starting one,
 * updating on request or before the AEAD confidentiality limit, the packet numbers where each
 * phase began) and the limits of §6.6. Installing TLS's secrets stays with the TLS callbacks in
 * conn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_internal.h"

int tern_conn_install_rx_next(tern_conn *c)
{
    tern_crypto_keys_free(&c->keys.rx_next);
    return tern_crypto_next_keys(&c->keys.rx1, &c->keys.rx_next);
}

int tern_conn_keys_open(tern_conn *c)
{
    if (!c->keys.hs && !(c->keys.hs = calloc(1, sizeof(*c->keys.hs))))
        return TERN_ERR_NOMEM;
    return 0;
}

void tern_conn_keys_release(tern_conn *c)
{
    tern_conn_hs_keys *k = c->keys.hs;
    if (!k || !c->sp[TERN_SPACE_INITIAL].discarded || !c->sp[TERN_SPACE_HANDSHAKE].discarded ||
        k->tx[TERN_LEVEL_0RTT].aead || k->rx[TERN_LEVEL_0RTT].aead)
        return;
    for (int i = 0; i < TERN_LEVEL_1RTT; i++) {
        tern_crypto_keys_free(&k->tx[i]);
        tern_crypto_keys_free(&k->rx[i]);
    }
    free(k);
    c->keys.hs = NULL;
}

void tern_conn_tx_phase_start(tern_conn *c)
{
    for (int s = TERN_SPACE_APP; s < TERN_RECOVERY_SPACES; s++) {
        tern_pn_space_state *sp = tern_conn_sp(c, s);
        if (sp)
            sp->tx_phase_first_pn = sp->next_pn;
    }
}

void tern_conn_rx_phase_start(tern_conn *c, int space, uint64_t pn)
{
    for (int s = TERN_SPACE_APP; s < TERN_RECOVERY_SPACES; s++) {
        tern_pn_space_state *sp = tern_conn_sp(c, s);
        if (sp)
            sp->rx_phase_first_pn = s == space ? pn : UINT64_MAX;
    }
}

int tern_conn_key_update(tern_conn *c)
{
    if (!c)
        return TERN_ERR_INVALID_ARG;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    if (!c->hs.confirmed || !c->keys.tx_phase_acked || !c->keys.tx1.aead)
        return TERN_ERR_STREAM_STATE;
    tern_keys next;
    memset(&next, 0, sizeof(next));
    if (tern_crypto_next_keys(&c->keys.tx1, &next))
        return TERN_ERR_CRYPTO;
    tern_crypto_keys_move(&c->keys.tx1, &next);
    c->keys.tx_phase ^= 1;
    tern_conn_tx_phase_start(c);
    c->keys.tx_phase_acked = 0;
    c->keys.tx_phase_elicited = 0;
    c->keys.tx_pkts_phase = 0;
    c->keys.updates++;
    c->keys.initiated++;
    if (c->qlog) tern_qlog_key_update(c, 1);
    TERN_LOG(c, "key update initiated (phase %d)", c->keys.tx_phase);
    tern_conn_wake(c);
    return 0;
}

/* Packets protected with one key after which an update starts: the limit less the configured
 * margin (a percentage of it), so that the peer has that many packets' time to acknowledge the
 * update before the next one is due. */
static uint64_t key_update_threshold(const tern_conn *c)
{
    uint64_t lim = c->keys.conf_limit, pct = c->cfg->key_update_margin_pct; /* 1..99 */
    return lim - (lim / 100 * pct + lim % 100 * pct / 100);
}

int tern_conn_ack_sparse(const tern_conn *c)
{
    /* RFC 9001 §6.6 counts every packet protected, ACK-only ones too. A receiver past its update
     * point waits a round trip for the peer's acknowledgement of its new phase, and that
     * acknowledgement queues behind the peer's data: on a full 256 KB queue at 50 Mbit/s it took
     * 90 ms, in which ACKs of every second packet spent 180 of a 100-packet budget. One ACK per
     * max_ack_delay keeps the peer's window moving on a few packets per round trip. */
    return c->keys.conf_limit && c->hs.confirmed && !c->keys.tx_phase_acked &&
           c->keys.tx_pkts_phase >= key_update_threshold(c);
}

int tern_conn_tx_limit_ok(tern_conn *c)
{
    /* RFC 9001 §6.6: update the keys long before the confidentiality limit, as soon as an update
     * is allowed. With no update possible, close with AEAD_LIMIT_REACHED while a few packets
     * remain for the CONNECTION_CLOSE (recommended, so that the peer learns why); at the limit,
     * stop using the connection: nothing more goes out under these keys. */
    if (c->keys.tx_pkts_phase < key_update_threshold(c))
        return 1;
    if (c->hs.confirmed && c->keys.tx_phase_acked && tern_conn_key_update(c) == 0)
        return 1;
    if (c->state < TERN_CS_CLOSING &&
        c->keys.tx_pkts_phase + TERN_AEAD_CLOSE_RESERVE >= c->keys.conf_limit) {
        tern_conn_fail(c, TERN_TE_AEAD_LIMIT_REACHED, 0,
                       "AEAD confidentiality limit near and the key update not acknowledged");
        return 0; /* this packet is not built: the close goes next */
    }
    if (c->keys.tx_pkts_phase < c->keys.conf_limit)
        return 1;
    static const char why[] = "AEAD confidentiality limit reached";
    tern_conn_set_close_info(c, TERN_ERR_CRYPTO, 0, 1, TERN_TE_AEAD_LIMIT_REACHED, 0, why,
                             sizeof(why) - 1);
    tern_conn_set_done(c);
    return 0;
}
