/* Transport parameters (RFC 9000 §18, and RFC 9368's version_information): encoding, decoding with validation, defaults. */
#ifndef TERN_CORE_TPARAMS_H
#define TERN_CORE_TPARAMS_H

#include "common.h"
#include "qversion.h"

typedef struct tern_preferred_addr {
    uint8_t ipv4[4];
    uint16_t ipv4_port;
    uint8_t ipv6[16];
    uint16_t ipv6_port;
    tern_cid cid;
    uint8_t token[TERN_RESET_TOKEN_LEN];
} tern_preferred_addr;

typedef struct tern_tparams {
    /* presence flags for the optional CID-related ones */
    int has_original_dcid, has_retry_scid, has_stateless_reset_token, has_preferred_address;
    tern_cid original_dcid;      /* server only */
    tern_cid initial_scid;       /* both; required */
    tern_cid retry_scid;         /* server only, after Retry */
    uint8_t stateless_reset_token[TERN_RESET_TOKEN_LEN]; /* server only */
    tern_preferred_addr preferred_address;              /* server only */
    uint64_t max_idle_timeout;   /* ms, 0 = none */
    uint64_t max_udp_payload_size; /* default 65527, must be >= 1200 */
    uint64_t initial_max_data;
    uint64_t initial_max_stream_data_bidi_local;
    uint64_t initial_max_stream_data_bidi_remote;
    uint64_t initial_max_stream_data_uni;
    uint64_t initial_max_streams_bidi; /* <= 2^60 */
    uint64_t initial_max_streams_uni;  /* <= 2^60 */
    uint64_t ack_delay_exponent;       /* default 3, <= 20 */
    uint64_t max_ack_delay;            /* ms, default 25, < 2^14 */
    int disable_active_migration;
    uint64_t active_connection_id_limit; /* default 2, >= 2 */
    uint64_t max_datagram_frame_size;    /* RFC 9221; default 0: no DATAGRAM frames accepted */
    tern_qv_info version_info;         /* version_information (RFC 9368 §3), both; optional */
    /* draft-ietf-quic-ack-frequency §3: min_ack_delay in microseconds, at most max_ack_delay;
     * sending it lets the peer send ACK_FREQUENCY and IMMEDIATE_ACK frames */
    int has_min_ack_delay;
    uint64_t min_ack_delay_us;
    /* initial_max_path_id (draft-ietf-quic-multipath-21 §2, id 0x3e): present = the sender
     * offers multipath; the largest path ID it accepts, <= 2^32-1 */
    int has_initial_max_path_id;
    uint64_t initial_max_path_id;
} tern_tparams;

/* Sets every field to the RFC default (absent) value. */
void tern_tparams_default(tern_tparams *tp);

/* Encodes `tp` as sent by a server (is_server = 1) or client. Server-only parameters are written only
 * by a server and only when their has_* flag is set (a server must set has_original_dcid).
 * initial_source_connection_id is always written; numeric parameters only when they differ from the
 * default. Returns the length written, or 0 when `cap` is too small or a value is not encodable. */
size_t tern_tparams_encode(const tern_tparams *tp, int is_server, uint8_t *buf, size_t cap);

/* Decodes parameters sent by the peer into `tp` (reset to defaults first, so absent ones read as
 * their default). `from_server` says who sent them: a client sending a server-only parameter is an
 * error. Unknown (including reserved/GREASE) ids are ignored; duplicates, bad lengths (a varint that
 * does not fill its length exactly included), out-of-range values, a preferred_address with a
 * zero-length CID, a version_information that is not a non-zero Chosen Version followed by non-zero
 * Available Versions (4 bytes each; of a longer list than TERN_QV_INFO_MAX, the Chosen
 * Version and the versions this library speaks are kept first) that, from a client, include
 * the Chosen Version, a min_ack_delay above max_ack_delay (draft-ietf-quic-ack-frequency §3:
 * microseconds against milliseconds), and a missing
 * initial_source_connection_id (or, from a server, a missing
 * original_destination_connection_id) fail. Whether the CIDs match those seen on the wire is the
 * caller's check. initial_max_path_id above 2^32-1, or sent with a zero-length
 * initial_source_connection_id (multipath needs CIDs: draft-ietf-quic-multipath-21 §2, whose
 * error for it is PROTOCOL_VIOLATION), fails too. Returns 0, or TERN_ERR_PROTO with *terr =
 * TRANSPORT_PARAMETER_ERROR (PROTOCOL_VIOLATION for the zero-length CID). */
int tern_tparams_decode(tern_tparams *tp, int from_server, const uint8_t *buf, size_t len,
                        uint64_t *terr);

#endif
