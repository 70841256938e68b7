/* Multipath frame codecs (draft-ietf-quic-multipath-21 §4 and §6, code points of its IANA
 * section): PATH_ACK, PATH_ABANDON, PATH_STATUS_BACKUP / _AVAILABLE, PATH_NEW_CONNECTION_ID,
 * PATH_RETIRE_CONNECTION_ID, MAX_PATH_ID, PATHS_BLOCKED and PATH_CIDS_BLOCKED, the
 * initial_max_path_id transport parameter's id and the PATH_ABANDON error codes. Parsing never
 * copies; PATH_ACK and PATH_NEW_CONNECTION_ID share the body codecs of ACK and NEW_CONNECTION_ID
 * (frame.h), so one set of rules checks both. Which frames a connection accepts, and what it does
 * with them, is multipath.c's business. */
#ifndef TERN_CORE_MPFRAME_H
#define TERN_CORE_MPFRAME_H

#include "common.h"
#include "frame.h"

/* Transport parameter initial_max_path_id (§2): the largest path ID the sender accepts. */
#define TERN_TP_INITIAL_MAX_PATH_ID 0x3e

enum tern_mp_frame_type {
    TERN_FT_PATH_ACK = 0x3e,
    TERN_FT_PATH_ACK_ECN = 0x3f,
    TERN_FT_PATH_ABANDON = 0x3e75,
    TERN_FT_PATH_STATUS_BACKUP = 0x3e76,
    TERN_FT_PATH_STATUS_AVAILABLE = 0x3e77,
    TERN_FT_PATH_NEW_CONNECTION_ID = 0x3e78,
    TERN_FT_PATH_RETIRE_CONNECTION_ID = 0x3e79,
    TERN_FT_MAX_PATH_ID = 0x3e7a,
    TERN_FT_PATHS_BLOCKED = 0x3e7b,
    TERN_FT_PATH_CIDS_BLOCKED = 0x3e7c,
};

/* Path IDs are 32-bit (§2.1): every Path Identifier field, and initial_max_path_id, is at most
 * this. */
#define TERN_MP_PATH_ID_MAX 0xffffffffull

/* Error codes of PATH_ABANDON (§4.2.1 / IANA). Connection errors use RFC 9000's codes
 * (PROTOCOL_VIOLATION, FRAME_ENCODING_ERROR, TRANSPORT_PARAMETER_ERROR, ...). */
#define TERN_MP_ERR_APPLICATION_ABANDON_PATH 0x3eull
#define TERN_MP_ERR_PATH_RESOURCE_LIMIT_REACHED 0x3e75ull
#define TERN_MP_ERR_PATH_UNSTABLE_OR_POOR 0x3e76ull
#define TERN_MP_ERR_NO_CID_AVAILABLE_FOR_PATH 0x3e77ull

typedef struct tern_mp_frame {
    uint64_t type;    /* a TERN_FT_PATH_* / MAX_PATH_ID / PATHS_BLOCKED value */
    uint64_t path_id; /* the Path Identifier; for MAX_PATH_ID and PATHS_BLOCKED the Maximum Path
                         Identifier */
    union {
        tern_frame ack;     /* PATH_ACK: fields in ack.u.ack (ack.type is ACK or ACK_ECN, so
                               tern_ack_iter walks its ranges) */
        tern_frame new_cid; /* PATH_NEW_CONNECTION_ID: fields in new_cid.u.new_cid */
        struct { uint64_t error_code; } abandon;
        struct { uint64_t seq; } status;     /* PATH_STATUS_*: Path Status Sequence Number */
        struct { uint64_t seq; } retire_cid; /* PATH_RETIRE_CONNECTION_ID */
        struct { uint64_t next_seq; } cids_blocked;
    } u;
} tern_mp_frame;

/* 1 when `type` is one of the frame types above. */
int tern_mpframe_is_mp(uint64_t type);

/* Parses one multipath frame at *p (advancing it). Returns 0, 1 when the frame at *p is not a
 * multipath frame (nothing is consumed: it is tern_frame_parse's), or TERN_ERR_PROTO with
 * *terr = FRAME_ENCODING_ERROR for truncation and bad values: a Path Identifier (or Maximum Path
 * Identifier) above 2^32-1, which no path can have, the ACK and NEW_CONNECTION_ID checks of
 * tern_frame_parse for PATH_ACK and PATH_NEW_CONNECTION_ID. On error *p is left unchanged. */
int tern_mpframe_parse(const uint8_t **p, const uint8_t *end, tern_mp_frame *f, uint64_t *terr);

/* 1 when a multipath frame may appear in a packet of `pkt_type` (enum tern_pkt_type): 1-RTT only,
 * since the extension's transport parameter is never remembered for 0-RTT (§2). */
int tern_mpframe_allowed(uint64_t type, int pkt_type);

/* 1 for every multipath frame but PATH_ACK. */
int tern_mpframe_is_ack_eliciting(uint64_t type);

/* ---- writers: bytes written, or 0 when `cap` is too small or a value not encodable (a path ID
 * above 2^32-1 included); nothing is written then. ---- */
/* PATH_ACK: as tern_frame_write_ack, with the path ID. */
size_t tern_mpframe_write_path_ack(uint8_t *p, size_t cap, uint64_t path_id,
                                   const tern_pn_range *ranges, size_t n, uint64_t ack_delay,
                                   const uint64_t *ecn);
size_t tern_mpframe_write_path_abandon(uint8_t *p, size_t cap, uint64_t path_id, uint64_t err);
/* available != 0: PATH_STATUS_AVAILABLE, else PATH_STATUS_BACKUP. */
size_t tern_mpframe_write_path_status(uint8_t *p, size_t cap, int available, uint64_t path_id,
                                      uint64_t seq);
size_t tern_mpframe_write_path_new_cid(uint8_t *p, size_t cap, uint64_t path_id, uint64_t seq,
                                       uint64_t retire_prior_to, const tern_cid *cid,
                                       const uint8_t token[TERN_RESET_TOKEN_LEN]);
size_t tern_mpframe_write_path_retire_cid(uint8_t *p, size_t cap, uint64_t path_id, uint64_t seq);
size_t tern_mpframe_write_max_path_id(uint8_t *p, size_t cap, uint64_t max_path_id);
size_t tern_mpframe_write_paths_blocked(uint8_t *p, size_t cap, uint64_t max_path_id);
size_t tern_mpframe_write_path_cids_blocked(uint8_t *p, size_t cap, uint64_t path_id,
                                            uint64_t next_seq);

#endif
