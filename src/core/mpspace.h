/* Multipath data path (draft-ietf-quic-multipath-21): the packet-number spaces of the path IDs
 * above 0 we use (next packet number, largest received, ACK state; recovery keeps the
 * sent-packet queue of each, recovery.h) and which path slot carries each path ID. A small table
 * allocated when the extension is negotiated holds TERN_MPS_IDS entries; an entry's space is
 * allocated when its path ID is first used and freed three PTOs after its path ended (late
 * acknowledgements are still taken meanwhile), so that a connection without the extension holds
 * nothing of it and one with it holds only the path IDs in use. Path IDs themselves (which are
 * held, claimed, abandoned, closed and recycled) are multipath.c's; entry k's space is
 * recovery's TERN_SPACE_APP + 1 + k, whatever its path ID. */
#ifndef TERN_CORE_MPSPACE_H
#define TERN_CORE_MPSPACE_H

#include "common.h"
#include "multipath.h"

struct tern_conn;
struct tern_pn_space_state;

#define TERN_MPS_IDS TERN_MP_LOCAL_MAX_PATH_ID /* path IDs above 0 in use at once */

typedef struct tern_mps_entry {
    uint64_t path_id;            /* 0: free */
    struct tern_pn_space_state *sp;
    int slot;                    /* the path slot carrying it (-1: its path ended) */
    tern_tstamp free_at;         /* its path ended: the space goes then (0: in use) */
} tern_mps_entry;

typedef struct tern_mp_data {
    int slot0;                   /* the path slot carrying path ID 0 (-1: abandoned) */
    tern_mps_entry e[TERN_MPS_IDS];
    /* keep-alives of idle paths (migration.c) go out only while the application uses the
     * connection: its stream and datagram byte count when last looked at, and when it changed */
    uint64_t app_count;
    tern_tstamp app_at;
} tern_mp_data;

/* The extension was negotiated: the table, with path ID 0 on the active path. Returns 0 or
 * TERN_ERR_NOMEM. */
int tern_mps_enable(struct tern_conn *c);
void tern_mps_free(struct tern_conn *c);

/* Path ID `path_id` (above 0, held by multipath.c and claimed for a path) is carried by slot
 * `slot` from now on: a new one gets an entry and a space (packet numbers from 0), recovery's
 * queue too. Returns 0, TERN_ERR_NOMEM, or TERN_ERR_INVALID_ARG (no free entry: every one waits
 * for late acknowledgements of an ended path ID). */
int tern_mps_bind(struct tern_conn *c, uint64_t path_id, int slot);

/* Path ID `path_id`'s path ended (abandoned, either side): no slot carries it any more; its
 * space is kept three PTOs for late acknowledgements, then freed (tern_mps_on_timeout). */
void tern_mps_release(struct tern_conn *c, uint64_t path_id, tern_tstamp now);

/* Path slot `slot` ends (removed, failed, abandoned by the peer): its path ID is abandoned
 * (PATH_ABANDON, multipath.c; nothing when already) and released. Path ID 0 too, when the slot
 * carried it. */
void tern_mps_on_path_end(struct tern_conn *c, int slot, tern_tstamp now);

/* The active path moved from slot `from` to `to`: a server follows its client's path ID 0 to
 * the new address (RFC 9000 §9 within path ID 0). */
void tern_mps_on_switch(struct tern_conn *c, int from, int to);

/* The recovery space of path ID `path_id` (TERN_SPACE_APP for 0), -1 when it has none. */
int tern_mps_space_of(const struct tern_conn *c, uint64_t path_id);
/* The path ID whose packets `space` numbers (0 for TERN_SPACE_APP and below). */
uint64_t tern_mps_path_id_of(const struct tern_conn *c, int space);
/* The slot carrying path ID `path_id`: -1 when none (never opened, or ended). */
int tern_mps_slot_of(const struct tern_conn *c, uint64_t path_id);
/* 1 when path ID `path_id` had a path that ended and its space is still kept. */
int tern_mps_ended(const struct tern_conn *c, uint64_t path_id);

/* The path ID a packet to our CID `dcid` belongs to: 0 for path ID 0's CIDs (and any CID when
 * the extension is not in use). */
uint64_t tern_mps_path_of_dcid(const struct tern_conn *c, const tern_cid *dcid);

/* Ends the paths whose path ID either side abandoned (a PATH_ABANDON arrived, ours answered):
 * what they carried goes out on the other paths, their spaces wait for late acknowledgements. */
void tern_mps_sync(struct tern_conn *c, tern_tstamp now);
/* Server: while its active path is one the client (or we) marked backup and an available path is
 * usable, the active role (where probes and handshake-level traffic go, and what a single-path
 * view of the connection reports) moves to the best available one (tern_mpsched_best). Called
 * when statuses or paths change: after multipath frames and when a path validates. */
void tern_mps_prefer_available(struct tern_conn *c, tern_tstamp now);

/* Timers: ACKs due in path IDs' spaces, spaces to free. */
tern_tstamp tern_mps_next_timeout(const struct tern_conn *c);
void tern_mps_on_timeout(struct tern_conn *c, tern_tstamp now);

/* Bytes the per-path-ID state holds (the table, the spaces and their records). */
size_t tern_mps_memory(const struct tern_conn *c);

#endif
