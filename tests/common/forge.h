/* Forged datagrams for tests and fuzz targets: packets protected with the keys of a real connection
 * (so the receiver decrypts them and acts on the frames inside), and stateless resets carrying a
 * token the receiver knows. The forging connection's state changes only in the packet numbers it
 * consumes, so the real peer keeps running afterwards. */
#ifndef TERN_TEST_FORGE_H
#define TERN_TEST_FORGE_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "crypto.h"
#include "packet.h"

/* forge_1rtt flags */
enum {
    FORGE_NEXT_PHASE = 1,    /* the keys of the next key phase, key phase bit flipped (a key update
                                the sender itself does not know of) */
    FORGE_RESERVED_BITS = 2, /* the reserved header bits set (before header protection) */
    FORGE_NO_PADDING = 4,    /* no PADDING up to the header protection sample (an empty payload
                                stays empty: the 4-byte packet number and the tag cover it) */
};

/* Writes into out[0..cap) a 1-RTT packet from `from` carrying payload[0..len) (padded to the header
 * protection sample unless FORGE_NO_PADDING), for the peer CID of `from`'s active path, with the
 * next packet number of its application space, which `from`'s recovery then counts as sent (without
 * a record, like a packet of ACK frames only), so that the receiver's ACK of it is valid. `flags`:
 * FORGE_*. Returns the datagram's length, or 0 when `from` has no 1-RTT keys or no peer CID, is
 * closing, or the packet does not fit. */
size_t forge_1rtt(tern_conn *from, const uint8_t *payload, size_t len, int flags, tern_tstamp now,
                  uint8_t *out, size_t cap);

/* As forge_1rtt, to `dcid` (NULL: the peer CID of `from`'s active path) and, when `keys` is given,
 * protected with them and key phase bit `phase` (FORGE_NEXT_PHASE then does nothing). */
size_t forge_1rtt_with(tern_conn *from, const tern_cid *dcid, tern_keys *keys, int phase,
                       const uint8_t *payload, size_t len, int flags, tern_tstamp now, uint8_t *out,
                       size_t cap);

/* A long-header packet from `from` at `level` (TERN_LEVEL_INITIAL or TERN_LEVEL_HANDSHAKE) with
 * its keys of that level and the next packet number of that space, counted as sent as forge_1rtt does;
 * see forge_long for the rest. Returns the datagram's length, or 0 when `from` has no keys at
 * that level or the packet does not fit. */
size_t forge_long_from(tern_conn *from, int level, const tern_cid *dcid, const tern_cid *scid,
                       const uint8_t *token, size_t token_len, const uint8_t *payload, size_t len,
                       size_t pad_to, tern_tstamp now, uint8_t *out, size_t cap);

/* Writes a stateless reset of `len` bytes (21..1500) into out: random-looking bytes (from `seed`)
 * with a short-header first byte, ending in the reset token that `victim` holds for the peer CID of
 * its active path. Returns len, or 0 when the victim holds no such token. */
size_t forge_stateless_reset(tern_conn *victim, size_t len, uint64_t seed, uint8_t *out,
                             size_t cap);

/* Writes into out a long-header packet of `type` (TERN_PKT_INITIAL or TERN_PKT_HANDSHAKE) with
 * version, CIDs, token (Initial only) and packet number `pn` (4 bytes), protected with `keys`
 * (which carry their own header protection key), the payload padded with PADDING so that the
 * datagram is at least `pad_to` bytes. Returns the datagram's length, or 0 when it does not fit. */
size_t forge_long(int type, uint32_t version, const tern_cid *dcid, const tern_cid *scid,
                  const uint8_t *token, size_t token_len, uint64_t pn, tern_keys *keys,
                  const uint8_t *payload, size_t len, size_t pad_to, uint8_t *out, size_t cap);

/* The same as forge_long for an Initial, with the Initial keys of `client_dcid` in the direction
 * of the sender (from_server). */
size_t forge_initial(int from_server, uint32_t version, const tern_cid *client_dcid,
                     const tern_cid *dcid, const tern_cid *scid, const uint8_t *token,
                     size_t token_len, uint64_t pn, const uint8_t *payload, size_t len,
                     size_t pad_to, uint8_t *out, size_t cap);

/* Opens the first packet of a datagram, an Initial sent by the client (from_server = 0) or the
 * server, with the Initial keys of `client_dcid` (NULL: the packet's own DCID, as for a client's
 * first Initial): the header goes to *h, the plaintext frames to plain[0..return). Returns the
 * plaintext length or -1. */
long forge_open_initial(int from_server, const tern_cid *client_dcid, const uint8_t *dgram,
                        size_t len, tern_pkt_hdr *h, uint8_t *plain, size_t cap);

/* Writes into out an authentic Retry to `client` (before it heard from the server): SCID and an
 * 8-byte token all bytes `id`, the integrity tag for the client's first DCID. Returns its length,
 * or 0 when it does not fit. */
size_t forge_retry(tern_conn *client, uint8_t id, uint8_t *out, size_t cap);

/* Opens a 1-RTT packet that `from` sent (the first packet of dgram[0..len), whose DCID is
 * `dcid_len` bytes long) with `from`'s current send keys: the plaintext frames go to
 * plain[0..return). Call before `from` sends again (the packet number is decoded against its
 * latest). Returns the plaintext length, or -1 when it is not such a packet or does not open. */
long forge_open_1rtt(tern_conn *from, const uint8_t *dgram, size_t len, size_t dcid_len,
                     uint8_t *plain, size_t cap);

#endif
