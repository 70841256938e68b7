/* A view into a connection for the test suites, the simulator, the fuzzers and the benchmarks: the
 * state they observe, and the few hooks (named tern_conn_test_*) through which a test forces what
 * no peer could bring about in a short run. The connection's layout stays private to
 * conn_internal.h, so it can change without touching the tests; production drivers use conn.h
 * only. Nothing here is thread-safe: call from the thread that drives the connection. Returned
 * pointers belong to the connection and live until tern_conn_free. */
#ifndef TERN_CORE_CONN_TEST_H
#define TERN_CORE_CONN_TEST_H

#include "ack.h"
#include "cid.h"
#include "conn.h"
#include "crypto.h"
#include "path.h"
#include "policy.h"
#include "recovery.h"
#include "stream.h"
#include "tparams.h"

/* ---- lifecycle ---------------------------------------------------------------------------- */

enum tern_conn_state {
    TERN_CS_HANDSHAKE = 0,
    TERN_CS_ESTABLISHED, /* handshake complete */
    TERN_CS_CLOSING,     /* we sent CONNECTION_CLOSE; answer packets with it until the deadline */
    TERN_CS_DRAINING,    /* the peer closed (or reset); send nothing until the deadline */
    TERN_CS_DONE,
};

/* tern_conn_state (conn.h) gives the state as tern/core.h numbers it: the same values. */
_Static_assert((int)TERN_CS_HANDSHAKE == (int)TERN_CORE_HANDSHAKE &&
                   (int)TERN_CS_ESTABLISHED == (int)TERN_CORE_ESTABLISHED &&
                   (int)TERN_CS_CLOSING == (int)TERN_CORE_CLOSING &&
                   (int)TERN_CS_DRAINING == (int)TERN_CORE_DRAINING &&
                   (int)TERN_CS_DONE == (int)TERN_CORE_CLOSED,
               "the tests compare tern_conn_state with TERN_CS_*");
/* The QUIC version in use. */
uint32_t tern_conn_version(const tern_conn *c);
/* TLS finished its handshake (RFC 9001 §4.1.1); confirmed (§4.1.2). */
int tern_conn_handshake_complete(const tern_conn *c);
int tern_conn_handshake_confirmed(const tern_conn *c);
/* TLS handshake bytes this side produced at `level` (CRYPTO data, first transmissions). */
uint64_t tern_conn_crypto_produced(const tern_conn *c, int level);
/* Stream bytes a client first sent in 0-RTT packets. */
uint64_t tern_conn_early_bytes(const tern_conn *c);
/* Client: a valid packet from the server arrived (Version Negotiation and Retry are then
 * ignored). */
int tern_conn_received_any(const tern_conn *c);

/* Deadlines the connection keeps besides recovery's and the migration module's (0: not armed,
 * except the idle deadline, which is only meaningful with an idle timeout). */
typedef struct tern_conn_deadlines {
    tern_tstamp idle;
    tern_tstamp handshake;
    tern_tstamp pace_until; /* pacing stopped the last send until then */
} tern_conn_deadlines;
tern_conn_deadlines tern_conn_get_deadlines(const tern_conn *c);
/* The probe timeout of the active path (RFC 9002 §6.2.1), with the peer's max_ack_delay. */
tern_tstamp tern_conn_pto(const tern_conn *c);
/* How long an ACK of application packets may wait (within our max_ack_delay). */
tern_tstamp tern_conn_ack_delay(const tern_conn *c);

/* ---- packet number spaces and recovery ---------------------------------------------------- */

uint64_t tern_conn_next_pn(const tern_conn *c, int space);
/* The largest packet number received in `space`, UINT64_MAX when none. */
uint64_t tern_conn_largest_recv(const tern_conn *c, int space);
int tern_conn_space_discarded(const tern_conn *c, int space);
/* What `space` owes the peer in acknowledgements (writable: a test may make the connection forget
 * what it has to acknowledge, or claim it received a packet). */
tern_ackr *tern_conn_ackr(tern_conn *c, int space);
/* The connection's loss recovery (a test records the packets it forges there). */
tern_recovery *tern_conn_recovery(tern_conn *c);
/* Recovery callback: the frames of `p`, lost, are queued again as the connection would after a
 * real loss. */
void tern_conn_on_pkt_lost(void *ud, int space, const tern_sent_pkt *p);
/* Test hook: consumes the next packet number of `space`, for a packet a test forges with the
 * connection's keys. */
uint64_t tern_conn_test_take_pn(tern_conn *c, int space);

/* ---- TLS and keys ------------------------------------------------------------------------- */

tern_tls *tern_conn_tls(tern_conn *c);
/* The packet protection keys of `level` (for 1-RTT, the AEAD of the current key phase; their
 * `aead` is TERN_AEAD_NONE when not installed or discarded, and once the handshake levels' keys
 * were released). */
tern_keys *tern_conn_tx_keys(tern_conn *c, int level);
tern_keys *tern_conn_rx_keys(tern_conn *c, int level);
/* Heap the keys of the Initial, 0-RTT and Handshake levels hold (their block; 0 once released). */
size_t tern_conn_handshake_keys_bytes(const tern_conn *c);
/* Heap the close information holds (0 until a reason is set). */
size_t tern_conn_close_info_bytes(const tern_conn *c);
/* The 1-RTT header protection key we send with (it survives key updates). */
const tern_keys *tern_conn_tx_hp(const tern_conn *c);
int tern_conn_tx_phase(const tern_conn *c);
int tern_conn_rx_phase(const tern_conn *c);
/* Key phase changes, either side. */
uint64_t tern_conn_key_updates(const tern_conn *c);
/* Server: NEW_TOKEN frames built (a lost one is replaced by a fresh token). */
uint64_t tern_conn_new_tokens_sent(const tern_conn *c);
/* Key phase changes this side started (through tern_conn_key_update or at the limit). */
uint64_t tern_conn_key_updates_initiated(const tern_conn *c);
/* 1-RTT packets protected with the current send keys. */
uint64_t tern_conn_tx_pkts_phase(const tern_conn *c);
/* Received packets that failed authentication, all keys. */
uint64_t tern_conn_rx_auth_failed(const tern_conn *c);
/* TLS messages we sent at `level` (the client's ClientHello at TERN_LEVEL_INITIAL). */
const tern_sendbuf *tern_conn_crypto_sent(const tern_conn *c, int level);
/* The next CRYPTO offset the connection expects from the peer at `level`. */
uint64_t tern_conn_crypto_recv_offset(const tern_conn *c, int level);
/* Test hooks: lower the AEAD limits of RFC 9001 §6.6 (packets protected per key phase; packets
 * failing authentication in all) so that a short run reaches them; they hold for the rest of the
 * connection, also when set before its 1-RTT keys exist. */
void tern_conn_test_set_conf_limit(tern_conn *c, uint64_t packets);
void tern_conn_test_set_integ_limit(tern_conn *c, uint64_t packets);
/* Test hook: as if `packets` had been protected with the current send keys and the key update
 * that started this phase had never been acknowledged (so no new update may start). */
void tern_conn_test_stall_key_phase(tern_conn *c, uint64_t packets);

/* ---- connection IDs, Retry and tokens ----------------------------------------------------- */

tern_local_cids *tern_conn_local_cids(tern_conn *c);
tern_peer_cids *tern_conn_peer_cids(tern_conn *c);
/* Client: the DCID of its first Initial. */
const tern_cid *tern_conn_initial_dcid(const tern_conn *c);
/* The DCID of the client's first Initial (what original_destination_connection_id carries). */
const tern_cid *tern_conn_original_dcid(const tern_conn *c);
/* The SCID of the peer's first long-header packet (what its initial_source_connection_id is
 * checked against). */
const tern_cid *tern_conn_peer_initial_scid(const tern_conn *c);
/* Client: a Retry was accepted; the SCID it came from; the token its Initials now carry
 * (*len = 0 and NULL when none). */
int tern_conn_retry_received(const tern_conn *c);
const tern_cid *tern_conn_retry_scid(const tern_conn *c);
const uint8_t *tern_conn_token(const tern_conn *c, size_t *len);
/* Test hooks (client): replace the DCID of the first Initial (what the server's
 * original_destination_connection_id is checked against); act as if a Retry from `scid` had been
 * accepted (what retry_source_connection_id is checked against). */
void tern_conn_test_set_initial_dcid(tern_conn *c, const tern_cid *dcid);
void tern_conn_test_set_retry(tern_conn *c, const tern_cid *scid);

/* ---- transport parameters ----------------------------------------------------------------- */

const tern_tparams *tern_conn_local_tparams(const tern_conn *c);
/* The peer's parameters; meaningful once tern_conn_peer_tparams_received. */
const tern_tparams *tern_conn_peer_tparams(const tern_conn *c);
int tern_conn_peer_tparams_received(const tern_conn *c);
/* The peer's max_ack_delay (ns) and ack_delay_exponent as the connection applies them. */
tern_tstamp tern_conn_peer_max_ack_delay(const tern_conn *c);
unsigned tern_conn_peer_ack_delay_exponent(const tern_conn *c);
/* Test hook: the peer's parameters, to change as if the peer had sent other values. */
tern_tparams *tern_conn_test_peer_tparams(tern_conn *c);

/* ---- flow control and streams ------------------------------------------------------------- */

typedef struct tern_conn_flow_view {
    uint64_t max_data_send; /* the peer's MAX_DATA */
    uint64_t data_sent;     /* new stream bytes sent */
    uint64_t max_data_recv; /* the limit we enforce (largest MAX_DATA sent) */
    uint64_t max_data_next; /* what the next MAX_DATA carries */
    uint64_t data_recv;     /* sum of the highest received offsets */
    uint64_t data_read;     /* bytes the application consumed (or dropped) */
    uint64_t recv_window;
    int need_max_data;             /* a MAX_DATA is due */
    uint64_t data_blocked_sent_at; /* limit of the last DATA_BLOCKED sent, UINT64_MAX = none */
} tern_conn_flow_view;
tern_conn_flow_view tern_conn_flow(const tern_conn *c);
/* The connection's streams (writable: a test may move the next stream ID it opens). */
tern_streams *tern_conn_streams(tern_conn *c);

/* ---- paths and migration ------------------------------------------------------------------ */

/* Path slot i (0 <= i < TERN_MAX_PATHS), in use or not (tern_path_in_use); a slot that never
 * held a path reads as a zeroed, unused one. */
const tern_path *tern_conn_path_at(const tern_conn *c, int i);
/* Index of the active path, and the path itself. */
int tern_conn_active_index(const tern_conn *c);
tern_path *tern_conn_active_path(tern_conn *c);
/* Client: the path the connection switches to once it can carry packets, or -1. */
int tern_conn_pending_active(const tern_conn *c);
/* The migration policy's state. */
const tern_policy *tern_conn_policy(const tern_conn *c);

/* ---- driver hooks ------------------------------------------------------------------------- */

/* Test hook: the driver's hooks given at creation, to replace some afterwards. */
tern_conn_hooks *tern_conn_test_hooks(tern_conn *c);

#endif
