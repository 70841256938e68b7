/* qlog (draft-ietf-quic-qlog-main-schema, draft-ietf-quic-qlog-quic-events): the events of one
 * connection formatted as JSON Text Sequence records (RFC 7464) into one buffer the connection
 * owns, each handed to a sink as soon as it is complete. Nothing is allocated after tern_qlog_new;
 * with qlog off the connection holds no tern_qlog and every hook is a single pointer test in the
 * caller:
 *
 *     if (c->qlog) tern_qlog_packet_sent(c, ...);
 *
 * The event names, fields and tern's own events are listed in docs/qlog.md. */
#ifndef TERN_CORE_QLOG_H
#define TERN_CORE_QLOG_H

#include "common.h"
#include "frame.h"
#include "packet.h"

/* Bytes of one record at most. A record that would not fit loses its last array elements (frames,
 * ACK ranges), and says so with "tern_truncated": true; it is never cut inside a value. */
#define TERN_QLOG_RECORD_MAX 16384

typedef struct tern_qlog tern_qlog;
struct tern_sent_pkt;

/* ---- JSON writer (also what the unit tests check) ----------------------------------------------
 */

/* Appends to b[0..cap). Past `soft` bytes an element write sets `over` instead of writing, so that
 * the closing brackets (written with `soft` lifted) always fit. */
typedef struct tern_qlog_w {
    char *b;
    size_t n, cap, soft;
    int over;
} tern_qlog_w;

void tern_qlog_w_init(tern_qlog_w *w, char *buf, size_t cap);
/* Raw text (no escaping). */
void tern_qlog_w_raw(tern_qlog_w *w, const char *s, size_t len);
/* A JSON string: quotes added, '"', '\\' and control characters escaped, bytes that are not UTF-8
 * written as \u00XX so that the record stays valid JSON whatever the peer sent. */
void tern_qlog_w_str(tern_qlog_w *w, const char *s, size_t len);
/* Bytes as a quoted lowercase hex string. */
void tern_qlog_w_hex(tern_qlog_w *w, const uint8_t *d, size_t len);
/* The frames of a plaintext packet payload as a JSON array of qlog QuicFrame objects. ACK delays
 * are scaled with `ack_delay_exponent`. A frame that cannot be parsed ends the array with an
 * "unknown" frame. Returns 1 when elements were left out for lack of room. */
int tern_qlog_w_frames(tern_qlog_w *w, const uint8_t *payload, size_t len,
                       unsigned ack_delay_exponent);

/* ---- connection events (src/core only; `c` has a qlog) -----------------------------------------
 */

typedef void (*tern_qlog_sink)(void *ud, tern_conn *c, const char *record, size_t len);

/* Creates c->qlog and emits the header record, connection_started and the Initial keys. Needs
 * c->original_dcid and the first path set. Returns 0 or TERN_ERR_NOMEM (the connection then runs
 * without qlog). */
int tern_qlog_new(tern_conn *c, tern_qlog_sink sink, void *ud, tern_tstamp now);
void tern_qlog_free(tern_qlog *q);

/* The file name of c's qlog, "<original destination CID in hex>_<client|server>.sqlog" (the
 * naming draft-ietf-quic-qlog-quic-events recommends), NUL-terminated into buf. Returns 0, or -1
 * when cap is too small. */
int tern_qlog_file_name(tern_conn *c, char *buf, size_t cap);

/* The time of the events that follow (entry points call it first; callees without `now` use it). */
void tern_qlog_tick(tern_conn *c, tern_tstamp now);

void tern_qlog_packet_sent(tern_conn *c, int level, const uint8_t *pkt, size_t hdr_len,
                           size_t pn_len, size_t payload_len, uint64_t pn, int path_idx);
void tern_qlog_packet_received(tern_conn *c, const tern_pkt_hdr *h, const uint8_t *pkt,
                               size_t hdr_len, size_t payload_len, uint64_t pn, int path_idx,
                               tern_tstamp now);
/* RTT, window and bytes in flight of the active path, when any changed since the last record, and
 * the congestion controller's state when it changed. */
void tern_qlog_metrics(tern_conn *c, tern_tstamp now);
void tern_qlog_packet_lost(tern_conn *c, int space, const struct tern_sent_pkt *p, int trigger);

/* TLS installed secrets of `level` (rx and/or tx). */
void tern_qlog_secrets(tern_conn *c, int level, int rx, int tx);
/* Keys of `space` were discarded (both directions). */
void tern_qlog_keys_discarded(tern_conn *c, int space);
/* A 1-RTT key phase changed (compares with the phases last logged): `local` says that this side
 * began the update (the peer's following it included). */
void tern_qlog_key_update(tern_conn *c, int local);

/* connection_state_updated ("handshake_complete", "handshake_confirmed", ...). */
void tern_qlog_state(tern_conn *c, const char *state);
/* connection_closed from c->close. */
void tern_qlog_closed(tern_conn *c);

/* A path event (the same ones the application gets through on_path_event), or TERN_QLOG_PATH_NEW
 * for a path that exists without one (the handshake's, a server's path to a new peer address). */
#define TERN_QLOG_PATH_NEW ((tern_path_event_type)0)
void tern_qlog_path_event(tern_conn *c, tern_path_event_type type, tern_path_reason why, int idx,
                          int from, uint64_t rtt_ns);
/* The policy refused a move to path idx (-1: none yet) on local address `ip`. */
void tern_qlog_refused(tern_conn *c, int idx, const tern_addr *ip);
/* A network event the connection was told about. */
void tern_qlog_net_event(tern_conn *c, const tern_net_event *ev, tern_tstamp now);
/* A decision of the migration policy about the active path ("degrading", "recovered",
 * "explore"). */
void tern_qlog_policy(tern_conn *c, const char *decision, uint32_t ptos);

/* ecn_state_updated: path idx's ECN validation went from `old` to `state` (tern_ecn_state; a
 * failure says why, as tern_ecn_failure). */
void tern_qlog_ecn_state(tern_conn *c, int idx, int old, int state, int failure);
/* congestion_state_updated with trigger "ECN": CE marks reduced path idx's window. */
void tern_qlog_ecn_ce(tern_conn *c, int idx);
/* Path idx's datagram size changed from old_size to new_size (path MTU discovery); `done`: the
 * search ended there. */
void tern_qlog_mtu_updated(tern_conn *c, int idx, uint64_t old_size, uint64_t new_size, int done);

/* A stable snake_case name of a path reason ("app", "failover", ...; "unknown" beyond the enum),
 * as the "reason" fields of the qlog records say it. */
const char *tern_qlog_reason_name(tern_path_reason r);

/* Loss triggers for tern_qlog_packet_lost (tern_recovery.loss_trigger). */
enum {
    TERN_QLOG_LOSS_NONE = 0,   /* declared lost at once (Retry, path abandoned) */
    TERN_QLOG_LOSS_REORDERING, /* packet threshold */
    TERN_QLOG_LOSS_TIME,       /* time threshold */
};

#endif
