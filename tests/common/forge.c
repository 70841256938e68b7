/* Forged datagrams protected with a real connection's keys (see forge.h). */
#include "forge.h"

#include <string.h>

#include "conn_test.h"
#include "packet.h"

size_t forge_long(int type, uint32_t version, const tern_cid *dcid, const tern_cid *scid,
                  const uint8_t *token, size_t token_len, uint64_t pn, tern_keys *keys,
                  const uint8_t *payload, size_t len, size_t pad_to, uint8_t *out, size_t cap)
{
    size_t len_off = 0;
    size_t hl =
        tern_pkt_write_long(out, cap, type, version, dcid, scid, token, token_len, pn, 4, &len_off);
    if (!hl)
        return 0;
    size_t plen = len < 4 ? 4 : len;
    if (hl + plen + 16 < pad_to)
        plen = pad_to - hl - 16;
    if (hl + plen + 16 > cap || 4 + plen + 16 >= 16384)
        return 0;
    if (len)
        memcpy(out + hl, payload, len);
    memset(out + hl + len, 0, plen - len);
    tern_pkt_set_length(out + len_off, 4 + plen + 16);
    if (tern_crypto_protect(keys, NULL, out, hl, 4, plen, pn))
        return 0;
    return hl + plen + 16;
}

/* Counts a forged packet as sent in the sender's recovery, the way a packet of ACK frames only is:
 * without a record, so that the receiver's ACK of it stays valid while a packet the receiver
 * refuses (and never acknowledges) does not sit in the sender's record queue, which nothing would
 * ever clear as the forger sends nothing again. */
static void record_sent(tern_conn *c, int space, uint64_t pn, size_t size, tern_tstamp now)
{
    tern_sentq *q = &tern_conn_recovery(c)->q[space];
    if (q->next_pn <= pn)
        q->next_pn = pn + 1;
}

size_t forge_1rtt_with(tern_conn *from, const tern_cid *dcid, tern_keys *keys, int phase,
                       const uint8_t *payload, size_t len, int flags, tern_tstamp now, uint8_t *out,
                       size_t cap)
{
    tern_conn *c = from;
    if (tern_conn_tx_keys(c, TERN_LEVEL_1RTT)->aead == TERN_AEAD_NONE ||
        tern_conn_state(c) >= TERN_CS_CLOSING)
        return 0;
    if (!dcid) {
        const tern_cid_entry *e =
            tern_peer_cids_for_path(tern_conn_peer_cids(c), (uint8_t)tern_conn_active_index(c));
        if (!e)
            return 0;
        dcid = &e->cid;
    }
    uint64_t pn = tern_conn_next_pn(c, TERN_SPACE_APP);
    int next_phase = !keys && (flags & FORGE_NEXT_PHASE);
    if (!keys)
        phase = next_phase ? !tern_conn_tx_phase(c) : tern_conn_tx_phase(c);
    size_t hl = tern_pkt_write_short(out, cap, dcid, pn, 4, phase, 0);
    size_t plen = len < 4 && !(flags & FORGE_NO_PADDING) ? 4 : len;
    if (!hl || hl + plen + 16 > cap)
        return 0;
    if (len)
        memcpy(out + hl, payload, len);
    memset(out + hl + len, 0, plen - len); /* PADDING up to the header protection sample */
    if (flags & FORGE_RESERVED_BITS)
        out[0] |= 0x18;
    int rc;
    if (next_phase) {
        tern_keys next;
        memset(&next, 0, sizeof(next));
        if (tern_crypto_next_keys(tern_conn_tx_keys(c, TERN_LEVEL_1RTT), &next))
            return 0;
        rc = tern_crypto_protect(&next, tern_conn_tx_hp(c), out, hl, 4, plen, pn);
        tern_crypto_keys_free(&next);
    } else {
        rc = tern_crypto_protect(keys ? keys : tern_conn_tx_keys(c, TERN_LEVEL_1RTT),
                                 tern_conn_tx_hp(c), out, hl, 4, plen, pn);
    }
    if (rc)
        return 0;
    tern_conn_test_take_pn(c, TERN_SPACE_APP);
    record_sent(c, TERN_SPACE_APP, pn, hl + plen + 16, now);
    return hl + plen + 16;
}

size_t forge_1rtt(tern_conn *from, const uint8_t *payload, size_t len, int flags, tern_tstamp now,
                  uint8_t *out, size_t cap)
{
    return forge_1rtt_with(from, NULL, NULL, 0, payload, len, flags, now, out, cap);
}

size_t forge_long_from(tern_conn *from, int level, const tern_cid *dcid, const tern_cid *scid,
                       const uint8_t *token, size_t token_len, const uint8_t *payload, size_t len,
                       size_t pad_to, tern_tstamp now, uint8_t *out, size_t cap)
{
    if (level != TERN_LEVEL_INITIAL && level != TERN_LEVEL_HANDSHAKE)
        return 0;
    tern_keys *keys = tern_conn_tx_keys(from, level);
    int space = tern_level_space(level);
    if (keys->aead == TERN_AEAD_NONE)
        return 0;
    uint64_t pn = tern_conn_next_pn(from, space);
    size_t n = forge_long(level == TERN_LEVEL_INITIAL ? TERN_PKT_INITIAL : TERN_PKT_HANDSHAKE,
                          tern_conn_version(from), dcid, scid, token, token_len, pn, keys, payload,
                          len, pad_to, out, cap);
    if (!n)
        return 0;
    tern_conn_test_take_pn(from, space);
    record_sent(from, space, pn, n, now);
    return n;
}

size_t forge_stateless_reset(tern_conn *victim, size_t len, uint64_t seed, uint8_t *out, size_t cap)
{
    const tern_cid_entry *e = tern_peer_cids_for_path(tern_conn_peer_cids(victim),
                                                      (uint8_t)tern_conn_active_index(victim));
    if (!e || !e->has_token || len < 21 || len > cap)
        return 0;
    for (size_t i = 0; i < len - TERN_RESET_TOKEN_LEN; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(seed >> 56);
    }
    out[0] = (uint8_t)(0x40 | (out[0] & 0x3f));
    memcpy(out + len - TERN_RESET_TOKEN_LEN, e->token, TERN_RESET_TOKEN_LEN);
    return len;
}

size_t forge_initial(int from_server, uint32_t version, const tern_cid *client_dcid,
                     const tern_cid *dcid, const tern_cid *scid, const uint8_t *token,
                     size_t token_len, uint64_t pn, const uint8_t *payload, size_t len,
                     size_t pad_to, uint8_t *out, size_t cap)
{
    tern_keys tx, rx;
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    if (tern_crypto_initial_keys(version, client_dcid, from_server, &tx, &rx))
        return 0;
    size_t n = forge_long(TERN_PKT_INITIAL, version, dcid, scid, token, token_len, pn, &tx, payload,
                          len, pad_to, out, cap);
    tern_crypto_keys_free(&tx);
    tern_crypto_keys_free(&rx);
    return n;
}

long forge_open_initial(int from_server, const tern_cid *client_dcid, const uint8_t *dgram,
                        size_t len, tern_pkt_hdr *h, uint8_t *plain, size_t cap)
{
    uint8_t pkt[1500];
    if (len > sizeof(pkt) || tern_pkt_parse(dgram, len, 8, h) || h->type != TERN_PKT_INITIAL)
        return -1;
    memcpy(pkt, dgram, h->pkt_len);
    tern_keys tx, rx;
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    /* the receiver's keys open what the sender protected */
    if (tern_crypto_initial_keys(h->version, client_dcid ? client_dcid : &h->dcid, !from_server,
                                 &tx, &rx))
        return -1;
    long n = -1;
    size_t pn_len;
    uint64_t tpn;
    if (tern_crypto_unprotect_header(&rx, pkt, h->pkt_len, h->pn_offset, &pn_len, &tpn) == 0) {
        size_t hl = h->pn_offset + pn_len;
        int r = tern_crypto_decrypt(&rx, pkt, hl, h->pkt_len, tpn);
        if (r >= 0 && (size_t)r <= cap) {
            memcpy(plain, pkt + hl, (size_t)r);
            n = r;
        }
    }
    tern_crypto_keys_free(&tx);
    tern_crypto_keys_free(&rx);
    return n;
}

long forge_open_1rtt(tern_conn *from, const uint8_t *dgram, size_t len, size_t dcid_len,
                     uint8_t *plain, size_t cap)
{
    uint8_t pkt[1500];
    tern_pkt_hdr h;
    if (len > sizeof(pkt) || tern_pkt_parse(dgram, len, dcid_len, &h) || h.type != TERN_PKT_1RTT)
        return -1;
    memcpy(pkt, dgram, h.pkt_len);
    /* the sender's own keys open what it protected: packet protection is symmetric */
    size_t pn_len;
    uint64_t tpn;
    if (tern_crypto_unprotect_header(tern_conn_tx_hp(from), pkt, h.pkt_len, h.pn_offset, &pn_len,
                                     &tpn))
        return -1;
    uint64_t next = tern_conn_next_pn(from, TERN_SPACE_APP);
    uint64_t pn = tern_pkt_decode_pn(next ? next - 1 : UINT64_MAX, tpn, pn_len * 8);
    size_t hl = h.pn_offset + pn_len;
    int r = tern_crypto_decrypt(tern_conn_tx_keys(from, TERN_LEVEL_1RTT), pkt, hl, h.pkt_len, pn);
    if (r < 0 || (size_t)r > cap)
        return -1;
    memcpy(plain, pkt + hl, (size_t)r);
    return r;
}

size_t forge_retry(tern_conn *client, uint8_t id, uint8_t *out, size_t cap)
{
    tern_cid rscid;
    memset(rscid.data, id, 8);
    rscid.len = 8;
    uint8_t token[8];
    memset(token, id, sizeof(token));
    if (cap < TERN_AEAD_TAG_LEN)
        return 0;
    size_t n = tern_pkt_write_retry(out, cap - TERN_AEAD_TAG_LEN, tern_conn_version(client),
                                    &tern_conn_local_cids(client)->e[0].cid, &rscid, token,
                                    sizeof(token), 0);
    if (!n || tern_crypto_retry_tag(tern_conn_version(client), tern_conn_initial_dcid(client), out,
                                    n, out + n))
        return 0;
    return n + TERN_AEAD_TAG_LEN;
}
