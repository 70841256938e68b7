/* Multipath QUIC (draft-ietf-quic-multipath-21; docs/multipath.md): what the connection knows of
 * the extension. Negotiation: tern_config.multipath on this side makes us send
 * initial_max_path_id; the extension is in use only when the peer sent it too, and otherwise
 * nothing of it exists on the wire (single-path migration as before). */
#ifndef TERN_CORE_MULTIPATH_H
#define TERN_CORE_MULTIPATH_H

#include "common.h"
#include "cid.h"
#include "frame.h"
#include "recovery.h"
#include "tparams.h"

/* The largest path ID we offer (initial_max_path_id): path IDs 0..7. It is also the number of path
 * IDs above 0 we hold state for at any time: a fixed window of this many entries over a sliding
 * range of path IDs. A path ID both sides abandoned frees its entry, which then takes the next path
 * ID, announced with MAX_PATH_ID; so a client that keeps switching networks keeps opening paths
 * while what it can make us hold never grows. */
#define TERN_MP_LOCAL_MAX_PATH_ID 7

/* CIDs we issue for each path ID above 0 (PATH_NEW_CONNECTION_ID): as many as the peer's
 * active_connection_id_limit allows, and at most this. */
#define TERN_MP_LOCAL_CIDS 4
/* PATH_RETIRE_CONNECTION_ID frames owed per path ID; a peer making us owe more (Retire Prior To
 * games) is closed with CONNECTION_ID_LIMIT_ERROR, as for path ID 0 (cid.h). */
#define TERN_MP_RETIRE_QUEUE 16
/* tern_sent_frame.type of the multipath frames a packet carried (their own types do not fit a
 * byte): off is the path ID (or the Maximum Path Identifier of MAX_PATH_ID and PATHS_BLOCKED), id
 * the sequence number (CIDs, status, PATH_CIDS_BLOCKED's Next Sequence Number). */
#define TERN_MP_REC_NEW_CID 0xf0
#define TERN_MP_REC_RETIRE_CID 0xf1
#define TERN_MP_REC_ABANDON 0xf2
#define TERN_MP_REC_STATUS 0xf3
#define TERN_MP_REC_MAX_PATH_ID 0xf4
#define TERN_MP_REC_PATHS_BLOCKED 0xf5
#define TERN_MP_REC_CIDS_BLOCKED 0xf6
#define TERN_MP_REC_FIRST TERN_MP_REC_NEW_CID
#define TERN_MP_REC_LAST TERN_MP_REC_CIDS_BLOCKED

/* 1 when a sent-frame record type is one of the TERN_MP_REC_* (for tern_mp_on_frame_acked/lost). */
static inline int tern_mp_is_rec(uint8_t type)
{
    return type >= TERN_MP_REC_FIRST && type <= TERN_MP_REC_LAST;
}

/* What became of one control frame of ours (tern_mp_ctl, MAX_PATH_ID, the blocked frames). */
enum {
    TERN_MP_TX_NONE = 0, /* nothing to say */
    TERN_MP_TX_PENDING,  /* to send (again) */
    TERN_MP_TX_SENT,     /* in flight */
    TERN_MP_TX_ACKED,    /* acknowledged */
};

/* Our PATH_STATUS_* and PATH_ABANDON for one path ID (path ID 0 included). */
typedef struct tern_mp_ctl {
    uint64_t status_seq;    /* Path Status Sequence Number of our latest status */
    uint64_t abandon_error; /* the Error Code of our PATH_ABANDON */
    uint8_t backup;         /* our latest status: 1 backup, 0 available (the default) */
    uint8_t status_tx;      /* TERN_MP_TX_* of that latest status (NONE: none ever set) */
    uint8_t abandon_tx;     /* TERN_MP_TX_* of our PATH_ABANDON (NONE: not abandoned by us) */
} tern_mp_ctl;

/* tern_mp_local_cid.state */
enum {
    TERN_MP_LCID_FREE = 0,
    TERN_MP_LCID_NEW,  /* PATH_NEW_CONNECTION_ID to send */
    TERN_MP_LCID_SENT, /* sent, not known to have arrived */
    TERN_MP_LCID_HELD, /* acknowledged: never announced again (see TERN_CID_ST_HELD) */
};

/* A CID we issued for a path ID above 0. */
typedef struct tern_mp_local_cid {
    uint64_t seq;
    tern_cid cid;
    uint8_t token[TERN_RESET_TOKEN_LEN];
    uint8_t state;
} tern_mp_local_cid;

/* A CID the peer issued for a path ID above 0 (PATH_NEW_CONNECTION_ID). */
typedef struct tern_mp_peer_cid {
    uint64_t seq;
    tern_cid cid;
    uint8_t token[TERN_RESET_TOKEN_LEN];
    uint8_t used; /* slot holds a CID */
} tern_mp_peer_cid;

/* What we know of one path ID above 0: bounded by construction (limit CIDs, one status). */
typedef struct tern_mp_path_id {
    uint64_t path_id;           /* the path ID this entry holds */
    tern_mp_peer_cid cids[TERN_MAX_PEER_CIDS];
    uint64_t retire_prior_to;   /* the peer's largest Retire Prior To for this path ID */
    uint64_t peer_next_seq;     /* the peer's largest CID sequence number for it, plus 1 */
    uint64_t status_seq;        /* largest Path Status Sequence Number applied (+1; 0: none) */
    int backup;                 /* the peer's last PATH_STATUS: 1 backup, 0 available */
    int abandoned;              /* the peer sent PATH_ABANDON for it */
    uint64_t abandon_error;
    /* ours for this path ID */
    tern_mp_local_cid lcids[TERN_MP_LOCAL_CIDS];
    uint64_t lnext_seq;         /* the sequence number of the next CID we issue */
    /* the peer's CIDs we retired (Retire Prior To): PATH_RETIRE_CONNECTION_ID to send */
    uint64_t retire_q[TERN_MP_RETIRE_QUEUE];
    size_t retire_n;
    tern_mp_ctl ctl;            /* our status and abandon */
    int claimed;                /* a path uses it (tern_mp_path_id_claim) */
    uint64_t cids_blocked_at;   /* Next Sequence Number of our PATH_CIDS_BLOCKED (+1; 0: none) */
    uint8_t cids_blocked_tx;    /* TERN_MP_TX_* of that frame */
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
    uint64_t peer_cid_limit;    /* CIDs we issue per path ID: the peer's
                                   active_connection_id_limit, at most TERN_MP_LOCAL_CIDS */
    /* the path IDs above 0 we hold: TERN_MP_LOCAL_MAX_PATH_ID entries, allocated once when the
     * extension is negotiated, each naming a path ID of (0, local_max_path_id] that is not
     * closed (abandoned by both sides); path ID 0 is the connection's own CID state (cid.c) */
    tern_mp_path_id *ids;
    /* path ID 0's status and abandon, as for the others */
    uint64_t status_seq0;
    int backup0, abandoned0;
    uint64_t abandon_error0;
    tern_mp_ctl ctl0;           /* ours for path ID 0 */
    uint8_t max_path_id_tx;     /* TERN_MP_TX_* of MAX_PATH_ID (local_max_path_id) */
    uint8_t paths_blocked_tx;   /* TERN_MP_TX_* of PATHS_BLOCKED (paths_blocked_at - 1) */
    uint64_t paths_blocked_at;  /* the limit our last PATHS_BLOCKED named (+1; 0: none) */
    uint64_t closed;            /* path IDs above 0 closed and their entries reused */
    /* the Path Identifier of the last PATH_ACK tern_mp_on_frame returned as an ACK */
    uint64_t ack_path_id;
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
 * (CONNECTION_ID_LIMIT_ERROR). A frame naming a path ID the peer abandoned or that is closed is
 * ignored; a PATH_ABANDON is answered with ours (tern_mp_abandon). What the peer can make us hold
 * is bounded: one table of active_connection_id_limit CIDs for each of the
 * TERN_MP_LOCAL_MAX_PATH_ID path IDs held, nothing else. */
/* A PATH_ACK of a path ID above 0 is returned as an ACK too, with its path ID in
 * c->mp.ack_path_id (0 for ACK and PATH_ACK of path ID 0); one of a path ID we never sent on
 * (no packet-number space of ours exists for it, mpspace.h) is a PROTOCOL_VIOLATION. */
int tern_mp_on_frame(struct tern_conn *c, int pkt_type, const uint8_t **p, const uint8_t *end,
                     tern_frame *rfc, int *ack_eliciting);

/* The CIDs we issue for path IDs above 0, once the extension is in use: for every path ID we hold
 * up to the peer's maximum path ID that neither side abandoned, up to
 * peer_cid_limit unretired CIDs. tern_mp_cid_wanted returns a path ID short of one (0: none);
 * tern_mp_cid_add adds `cid` with its reset token to it, to be sent in PATH_NEW_CONNECTION_ID
 * (the caller routes the CID to the connection). */
uint64_t tern_mp_cid_wanted(const struct tern_conn *c);
void tern_mp_cid_add(struct tern_conn *c, uint64_t path_id, const tern_cid *cid,
                     const uint8_t token[TERN_RESET_TOKEN_LEN]);

/* 1 when multipath frames wait to be sent (only in 1-RTT packets). */
int tern_mp_pending(const struct tern_conn *c);

/* Writes the next multipath frame waiting to be sent at p if it fits in `cap`, and fills *f with
 * what the sent-packet record keeps of it (TERN_MP_REC_*). The order: MAX_PATH_ID, PATHS_BLOCKED,
 * then per path ID (0 first) PATH_ABANDON, PATH_STATUS_*, PATH_NEW_CONNECTION_ID,
 * PATH_RETIRE_CONNECTION_ID, PATH_CIDS_BLOCKED. Returns the bytes written, 0 when nothing waits or
 * it does not fit (then nothing changes). */
size_t tern_mp_write_next(struct tern_conn *c, uint8_t *p, size_t cap, tern_sent_frame *f);

/* A packet with the multipath frame recorded as `f` was acknowledged / lost: a lost frame is
 * sent again while still current (RFC 9000 §13.3: a CID not retired since, a retirement). */
void tern_mp_on_frame_acked(struct tern_conn *c, const tern_sent_frame *f);
void tern_mp_on_frame_lost(struct tern_conn *c, const tern_sent_frame *f);

/* ---- what the data path calls (a path ID is "held" while it is at most our maximum path ID
 * and not closed; a closed one was abandoned by both sides and its entry reused) ---- */

/* The entry of path ID `path_id` (above 0) in c->mp.ids, NULL when it is not held (0, above our
 * maximum path ID, or closed). Entries are reused for new path IDs: never index c->mp.ids by path
 * ID. tern_mp_path_id_index gives the entry's index (0 .. TERN_MP_LOCAL_MAX_PATH_ID - 1), -1 when
 * not held: per-path-ID state kept elsewhere in a table of that size can use it, and must be
 * released before the entry is reused (when the path ID closes, see tern_mp_abandon). */
tern_mp_path_id *tern_mp_path_id_get(const struct tern_conn *c, uint64_t path_id);
int tern_mp_path_id_index(const struct tern_conn *c, uint64_t path_id);

/* Abandons path ID `path_id` (§3.4): PATH_ABANDON with `error_code` (NO_ERROR or a
 * TERN_MP_ERR_* code) is sent, and sent again on loss until acknowledged. From then on no status,
 * CID or retirement is sent for it. Once the peer abandoned it too (it answers ours; we answer
 * its own automatically) and our PATH_ABANDON was acknowledged, the path ID is closed: its CIDs
 * are forgotten on both sides and its entry takes the next path ID, which MAX_PATH_ID announces.
 * Returns 0 (also when already abandoned by us: the first error code stays), or
 * TERN_ERR_INVALID_ARG when the extension is not in use or `path_id` is not held. */
int tern_mp_abandon(struct tern_conn *c, uint64_t path_id, uint64_t error_code);

/* Sets our status of path ID `path_id` (§3.3): backup != 0 PATH_STATUS_BACKUP, else
 * PATH_STATUS_AVAILABLE, with the next Path Status Sequence Number of that path ID. Only the
 * latest status is kept: it is sent again when lost, an older one lost is not. Setting the status
 * it already has (available when none was ever set) sends nothing. Returns 0, or
 * TERN_ERR_INVALID_ARG when the extension is not in use, `path_id` is not held or either side
 * abandoned it. */
int tern_mp_set_status(struct tern_conn *c, uint64_t path_id, int backup);

/* Our status of `path_id` (what tern_mp_set_status set) / the peer's (its latest PATH_STATUS_*):
 * 1 backup, 0 available (also before any status), TERN_ERR_INVALID_ARG when the extension is not
 * in use or `path_id` is not held. */
int tern_mp_local_backup(const struct tern_conn *c, uint64_t path_id);
int tern_mp_peer_backup(const struct tern_conn *c, uint64_t path_id);

/* 1 when we abandoned `path_id` (tern_mp_abandon, or our answer to the peer's PATH_ABANDON) /
 * when the peer did (its PATH_ABANDON arrived: the data path stops using the path; *error_code,
 * when not NULL, gets the peer's Error Code while the path ID is held); both are 1 for a closed
 * path ID. 0 when not, TERN_ERR_INVALID_ARG when the extension is not in use or `path_id` is
 * above our maximum path ID. */
int tern_mp_local_abandoned(const struct tern_conn *c, uint64_t path_id);
int tern_mp_peer_abandoned(const struct tern_conn *c, uint64_t path_id, uint64_t *error_code);

/* The path ID a new path should use: the lowest path ID above 0 within both sides' maximum path
 * IDs, held, not claimed, abandoned by neither side, for which the peer gave us a CID. 0 when
 * there is none (path ID 0 is the first path's). */
uint64_t tern_mp_path_id_next(const struct tern_conn *c);

/* Marks `path_id` as used by a path (one we open, or one the peer opened toward us), so that
 * tern_mp_path_id_next no longer offers it. Returns 0, or TERN_ERR_INVALID_ARG when the
 * extension is not in use or `path_id` is 0, not held, above the peer's maximum or abandoned. */
int tern_mp_path_id_claim(struct tern_conn *c, uint64_t path_id);

/* The data path wants to open a path: returns tern_mp_path_id_next when there is one. Otherwise 0,
 * and tells the peer why (§4.7), once per limit: PATH_CIDS_BLOCKED (path ID, the next sequence
 * number we expect) for the lowest path ID that only lacks the peer's CIDs, else PATHS_BLOCKED
 * (the peer's maximum path ID) when that maximum is what stops us (a path ID above it is held on
 * our side). Nothing is sent when our own maximum is the limit. */
uint64_t tern_mp_want_path(struct tern_conn *c);

/* The path ID (above 0) of ours whose CIDs include `cid`, 0 when none does (path ID 0's CIDs are
 * cid.c's). */
uint64_t tern_mp_local_cid_path(const struct tern_conn *c, const tern_cid *cid);

/* The peer's CID to send with on path ID `path_id` (above 0): the one with the lowest sequence
 * number it gave us for that path ID, NULL when none (not held, or abandoned by either side). */
const tern_mp_peer_cid *tern_mp_peer_cid_of(const struct tern_conn *c, uint64_t path_id);

/* Bytes the multipath state of the connection holds (what a peer can make it hold). */
size_t tern_mp_memory(const struct tern_conn *c);

#endif
