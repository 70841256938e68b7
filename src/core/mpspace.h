/* Multipath data path (draft-ietf-quic-multipath-21): the packet-number spaces of path IDs 1..7
 * on our side (next packet number, largest received, ACK state; recovery keeps the sent-packet
 * queue of each, recovery.h) and which path slot carries each path ID. Allocated when the
 * extension is negotiated (the small table) and when a path ID is first used (its space), freed
 * three PTOs after its path is abandoned, so that a connection without the extension holds
 * nothing of it and one with it holds only the path IDs in use. */
#ifndef TERN_CORE_MPSPACE_H
#define TERN_CORE_MPSPACE_H

#include "common.h"
#include "multipath.h"

struct tern_conn;
struct tern_pn_space_state;

#define TERN_MPS_IDS TERN_MP_LOCAL_MAX_PATH_ID /* path IDs above 0 we can use */

typedef struct tern_mp_data {
    struct tern_pn_space_state *sp[TERN_MPS_IDS]; /* path IDs 1..7 (NULL: not in use) */
    int8_t slot[TERN_MPS_IDS + 1];  /* the path slot carrying path ID p (-1: none) */
    tern_tstamp free_at[TERN_MPS_IDS]; /* abandoned path ID: its space goes then (0: not) */
    uint8_t abandon_sent[TERN_MPS_IDS + 1]; /* we sent (or queued) PATH_ABANDON for it */
    uint8_t abandon_recv[TERN_MPS_IDS + 1]; /* the peer abandoned it */
    uint8_t used[TERN_MPS_IDS + 1];  /* a path ever ran on it: never reused (§3 of the draft) */
} tern_mp_data;

/* The extension was negotiated: the table, with path ID 0 on the active path. Returns 0 or
 * TERN_ERR_NOMEM. */
int tern_mps_enable(struct tern_conn *c);
void tern_mps_free(struct tern_conn *c);

/* Path ID `path_id` (1..7) is carried by slot `slot` from now on: its space is allocated when
 * new (packet numbers from 0), recovery's queue too. Returns 0, TERN_ERR_NOMEM or
 * TERN_ERR_INVALID_ARG (not a path ID we can use, or abandoned). */
int tern_mps_bind(struct tern_conn *c, uint64_t path_id, int slot);

/* The path ID's path ended (abandoned, either side): no slot carries it any more; its space is
 * kept three PTOs for late acknowledgements, then freed (tern_mps_on_timeout). */
void tern_mps_release(struct tern_conn *c, uint64_t path_id, tern_tstamp now);

/* The path ID a packet to our CID `dcid` belongs to: 0 for path ID 0's CIDs (and any CID when
 * the extension is not in use). */
uint64_t tern_mps_path_of_dcid(const struct tern_conn *c, const tern_cid *dcid);

/* The lowest path ID above 0 we may open a path on now (the peer gave us CIDs for it, within
 * both maximum path IDs, never used before), 0 when none. */
uint64_t tern_mps_free_path_id(const struct tern_conn *c);

/* Timers: ACKs due in path IDs' spaces, spaces to free. */
tern_tstamp tern_mps_next_timeout(const struct tern_conn *c);
void tern_mps_on_timeout(struct tern_conn *c, tern_tstamp now);

/* Bytes the per-path-ID state holds (the table, the spaces and their records). */
size_t tern_mps_memory(const struct tern_conn *c);

#endif
