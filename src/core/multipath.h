/* Multipath QUIC (draft-ietf-quic-multipath-21; docs/multipath.md): what the connection knows of
 * the extension. Negotiation: tern_config.multipath on this side makes us send
 * initial_max_path_id; the extension is in use only when the peer sent it too, and otherwise
 * nothing of it exists on the wire (single-path migration as before). */
#ifndef TERN_CORE_MULTIPATH_H
#define TERN_CORE_MULTIPATH_H

#include "common.h"
#include "cid.h"
#include "frame.h"
#include "tparams.h"

/* The largest path ID we offer (initial_max_path_id): path IDs 0..7, so at most 8 path IDs, of
 * which the paths a client opens use the ones it has CIDs for. */
#define TERN_MP_LOCAL_MAX_PATH_ID 7

/* A CID the peer issued for a path ID above 0 (PATH_NEW_CONNECTION_ID). */
typedef struct tern_mp_peer_cid {
    uint64_t seq;
    tern_cid cid;
    uint8_t token[TERN_RESET_TOKEN_LEN];
    uint8_t used; /* slot holds a CID */
} tern_mp_peer_cid;

/* What we know of one path ID above 0: bounded by construction (limit CIDs, one status). */
typedef struct tern_mp_path_id {
    tern_mp_peer_cid cids[TERN_MAX_PEER_CIDS];
    uint64_t retire_prior_to;   /* the peer's largest Retire Prior To for this path ID */
    uint64_t status_seq;        /* largest Path Status Sequence Number applied (+1; 0: none) */
    int backup;                 /* the peer's last PATH_STATUS: 1 backup, 0 available */
    int abandoned;              /* the peer sent PATH_ABANDON for it */
    uint64_t abandon_error;
} tern_mp_path_id;

typedef struct tern_conn_mp_state {
    int offered;                /* we sent initial_max_path_id */
    int enabled;                /* both sides did: the extension is in use */
    uint64_t local_max_path_id; /* the largest path ID we accept (what we advertised) */
    uint64_t peer_max_path_id;  /* the largest path ID the peer accepts (transport parameter,
                                   raised by MAX_PATH_ID) */
    uint64_t peer_initial_max_path_id; /* the peer's initial_max_path_id: no MAX_PATH_ID may go
                                          below it */
    uint64_t peer_blocked_at;   /* the Maximum Path Identifier of the peer's last PATHS_BLOCKED
                                   (+1; 0: none) */
    uint64_t cid_limit;         /* our active_connection_id_limit: CIDs held per path ID */
    /* path IDs 1..local_max_path_id (allocated once, when the extension is negotiated); path
     * ID 0 is the connection's own CID state (cid.c) */
    tern_mp_path_id *ids;
    /* path ID 0's status and abandon, as for the others */
    uint64_t status_seq0;
    int backup0, abandoned0;
} tern_conn_mp_state;

struct tern_conn;

/* At creation: offers the extension in `tp` when cfg->multipath is set. */
void tern_mp_init(struct tern_conn *c, tern_tparams *tp);

/* The peer's transport parameters arrived (already decoded and checked by tparams.c): the
 * extension is in use when both sides offered it. Returns 0, or TERN_ERR_PROTO with *terr and
 * *why set: an offer from a peer whose connection ID toward us is zero-length is a
 * PROTOCOL_VIOLATION (our own CIDs are never empty). */
int tern_mp_on_peer_tparams(struct tern_conn *c, const tern_tparams *tp, uint64_t *terr,
                            const char **why);

/* 1 when the extension was negotiated on this connection. */
int tern_mp_enabled(const struct tern_conn *c);

/* Frees what tern_mp_on_peer_tparams allocated (with the connection). */
void tern_mp_free(struct tern_conn *c);

/* Reads one frame at *p of a packet of `pkt_type` when the extension is in use. Returns 1 when
 * it is not a multipath frame (nothing consumed); 0 when it was one (*p advanced): then `rfc`
 * either has type PADDING (done) or holds the RFC 9000 frame the caller processes as usual,
 * since path ID 0 is the connection's first path: PATH_ACK becomes ACK, PATH_NEW_CONNECTION_ID
 * NEW_CONNECTION_ID and PATH_RETIRE_CONNECTION_ID RETIRE_CONNECTION_ID. Sets bit 0 and 1 of
 * *ack_eliciting for every frame but PATH_ACK. Every violation fails the connection
 * (tern_conn_fail, then TERN_ERR_PROTO): a malformed frame (FRAME_ENCODING_ERROR), one outside
 * a 1-RTT packet, a path ID above the one we advertised, a PATH_ACK of a path ID we never sent
 * on, a PATH_RETIRE_CONNECTION_ID of a CID we never issued, a PATHS_BLOCKED or
 * PATH_CIDS_BLOCKED at a limit we never gave, a CID sequence number reused for another CID
 * (PROTOCOL_VIOLATION), more CIDs for one path ID than our active_connection_id_limit
 * (CONNECTION_ID_LIMIT_ERROR). What the peer can make us hold is bounded: one table of
 * active_connection_id_limit CIDs per path ID up to our maximum path ID, nothing else. */
int tern_mp_on_frame(struct tern_conn *c, int pkt_type, const uint8_t **p, const uint8_t *end,
                     tern_frame *rfc, int *ack_eliciting);

/* Bytes the multipath state of the connection holds (what a peer can make it hold). */
size_t tern_mp_memory(const struct tern_conn *c);

#endif
