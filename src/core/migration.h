/* Connection migration (RFC 9000 §8.2 and §9): the client's verbs on local addresses, path
 * validation (challenges, retransmission, timeouts), the server's reaction when the client's address
 * changes (migration, NAT rebinding, off-path forwarding), and the server's preferred address. The
 * runtime adds sockets around the client verbs; the simulator calls them directly. */
#ifndef TERN_CORE_MIGRATION_H
#define TERN_CORE_MIGRATION_H

#include "conn.h"
#include "path.h"

/* ---- client verbs (also used by the runtime's tern_conn_*_local_address) ---------------------- */

/* Creates a path from `local` to the server's current address and starts validating it (at once,
 * or at handshake confirmation). Returns the path id, or TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED,
 * TERN_ERR_MIGRATION_DISABLED, TERN_ERR_ZERO_LEN_CID, TERN_ERR_DUPLICATE, TERN_ERR_PATH_LIMIT,
 * TERN_ERR_AF_MISMATCH, TERN_ERR_INVALID_ARG. */
int tern_conn_path_add(tern_conn *c, const tern_addr *local, tern_tstamp now);

/* Makes the path of `local` active, adding it first when unknown. Returns the path id or an error
 * of tern_conn_path_add. Before the handshake is confirmed the switch is queued (RFC 9000 §9). */
int tern_conn_path_set_active(tern_conn *c, const tern_addr *local, tern_tstamp now);

/* Abandons the path of `local` (moving first when it is active). Returns 0, TERN_ERR_NOT_FOUND,
 * TERN_ERR_LAST_PATH, TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED. */
int tern_conn_path_remove(tern_conn *c, const tern_addr *local, tern_tstamp now);

/* Multipath: our status of the paths from `local` (every path leaving from that address):
 * backup != 0 PATH_STATUS_BACKUP, else PATH_STATUS_AVAILABLE (draft-ietf-quic-multipath-21 §3.3).
 * A path still without a path ID (probing, waiting for the peer's CIDs, or added before the
 * handshake) takes the status when it gets one. Returns 0, TERN_ERR_INVALID_ARG,
 * TERN_ERR_NOT_CLIENT, TERN_ERR_CLOSED, TERN_ERR_NOT_FOUND, TERN_ERR_NOT_MULTIPATH (the extension
 * is not in use: either side did not offer it, or, before the peer's transport parameters, we did
 * not). */
int tern_conn_path_set_backup(tern_conn *c, const tern_addr *local, int backup);
/* The status of the path in slot idx (in use): as tern_conn_path_set_backup for one path. */
void tern_mig_path_backup(tern_conn *c, int idx, int backup);
/* 0 when path statuses can be set (the extension is in use, or may be: we offered it and the
 * handshake has not completed), else TERN_ERR_NOT_MULTIPATH. */
int tern_conn_path_status_usable(const tern_conn *c);

/* The path whose local address is `local` and which is in use (probing or validated), or -1. */
int tern_conn_path_by_local(const tern_conn *c, const tern_addr *local);

/* Sending on the path failed at the socket (the runtime tells): tern_conn_path_gone with
 * TERN_PATH_WHY_SOCKET_ERROR. */
void tern_conn_path_socket_error(tern_conn *c, int path_id, tern_tstamp now);

/* The path's interface or local address is gone (the runtime saw EADDRNOTAVAIL, ENETDOWN, ENODEV,
 * ENETUNREACH or EHOSTUNREACH on a send, or the OS said so). A path other than the active one fails
 * at once (FAILED and REMOVED events with `why`: TERN_PATH_WHY_INTERFACE_GONE, _ADDRESS_GONE or
 * _SOCKET_ERROR). For the active path, unless tern_config.failover is 0, tern_migration_failover
 * runs first; the path then fails if the connection moved, and is kept otherwise (with no
 * validated path to move to, a transient error must not end the only path; the move happens when
 * an alternative validates). With failover 0 the active path is left to the application. Client
 * and server alike; ignores an index not in use. Thread: the connection's. */
void tern_conn_path_gone(tern_conn *c, int path_id, tern_path_reason why, tern_tstamp now);

/* Failover: the active path is dead (its interface is gone, or a policy judged it so). Moves the
 * traffic at once to the best validated path (lowest smoothed RTT, then most recently validated),
 * reporting ACTIVE with `why` (normally TERN_PATH_WHY_FAILOVER). Packets in flight on the dead
 * path are declared lost and sent again on the new one, which also carries an ack-eliciting packet
 * at once (the peer learns the address even when this side only receives) and runs the PTO timer.
 * The dead path stays in use (the caller ends it or keeps probing it). With no validated path,
 * the connection moves (with `why`) to the first other path that validates (every path not
 * validated is still being validated), unless the application switches before. Returns
 * 1 when the connection moved, 0 when tern_config.failover is 0 (nothing changes: the application
 * moves the connection), TERN_ERR_LAST_PATH when no validated path exists (probing started),
 * TERN_ERR_NOT_CLIENT (a server follows its client and never moves by itself) or TERN_ERR_CLOSED.
 * Thread: the connection's. */
int tern_migration_failover(tern_conn *c, tern_path_reason why, tern_tstamp now);

/* ---- inside the connection -------------------------------------------------------------------- */

/* The path a datagram arrived on: its index, -1 to drop the datagram (a client hearing from an
 * address it did not choose, or a server hearing from an address other than its paths' before its
 * handshake completed), or TERN_MIG_NEW_PATH (a server hearing from a new address: call
 * tern_mig_create_peer_path once a packet of the datagram has been authenticated). */
#define TERN_MIG_NEW_PATH (-2)

/* A server keeps at most this many unvalidated paths opened by packets whose connection ID another
 * path uses (NAT rebindings, or copies an attacker sends on from spoofed sources), besides the
 * active path and the one it would fall back to: more such addresses recycle the least recently
 * heard of them. Paths the peer opens with fresh connection IDs are bounded by the IDs we issued.
 */
#define TERN_MIG_MAX_PEER_PROBING 4
int tern_mig_path_for_datagram(tern_conn *c, const tern_path_addr *addr, tern_tstamp now);

/* Creates the path for a new peer address, which sent a packet with destination CID `dcid` (ours).
 * The path takes a fresh peer CID only when no other path saw `dcid` (a peer that
 * migrated on purpose changes CIDs; a rebinding or a forwarded copy keeps the current one, and
 * the path borrows the active path's CID if it becomes active). Bounded: past
 * TERN_MIG_MAX_PEER_PROBING such borrowing unvalidated paths, or with every slot taken, the least
 * recently heard path that is neither active nor a fallback is recycled. Returns the index or -1.
 */
/* Multipath: `mp_id` is the path ID of `dcid` (0: path ID 0's CIDs); the path of a path ID above 0
 * sends with the peer's CIDs of that path ID and is validated with them (the caller binds it,
 * tern_mps_bind). */
int tern_mig_create_peer_path(tern_conn *c, const tern_path_addr *addr, const tern_cid *dcid,
                              uint64_t mp_id, tern_tstamp now);

/* A 1-RTT packet was processed on path `idx`: the server follows a client that moved (a non-probing
 * packet carrying the largest packet number so far). */
void tern_mig_on_app_packet(tern_conn *c, int idx, uint64_t pn, int largest, int non_probing,
                            tern_tstamp now);

/* Multipath, server: a non-probing packet with the largest packet number of path ID `mp_id`
 * arrived on path `idx`, not the one carrying that path ID (the client's NAT rebound it, or it
 * moved that path): the path ID moves to `idx` (RFC 9000 §9 within the path ID: the new address
 * is validated before the scheduler uses it, the congestion state kept when only the port
 * changed), and the old path ends, what it held in flight going out again on the other paths. */
void tern_mig_move_path_id(tern_conn *c, uint64_t mp_id, int idx, tern_tstamp now);

/* PATH_RESPONSE carrying `data` arrived: validates the path that sent the matching challenge. */
void tern_mig_on_path_response(tern_conn *c, const uint8_t data[8], tern_tstamp now);

/* The handshake is confirmed: queued probes and switches start; the client probes the server's
 * preferred address. */
void tern_mig_on_confirmed(tern_conn *c, tern_tstamp now);

/* New peer connection IDs arrived: paths waiting for one start probing. */
void tern_mig_on_new_cids(tern_conn *c, tern_tstamp now);

/* The peer's transport parameters arrived: the preferred address CID is stored. Returns 0, or
 * TERN_ERR_PROTO with *terr set when that CID breaks the connection ID rules (§5.1.1, §19.15). */
int tern_mig_on_peer_tparams(tern_conn *c, uint64_t *terr);

/* Multipath idle paths (docs/multipath.md): a 1-RTT packet was processed on path `idx`
 * (`non_probing`: it carried a frame other than PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID
 * and PADDING) / an ACK of application space `space` acknowledged something new. */
void tern_mig_on_mp_packet(tern_conn *c, int idx, int non_probing, tern_tstamp now);
void tern_mig_on_mp_acked(tern_conn *c, int space, tern_tstamp now);

/* Timers: challenge retransmission and validation deadlines; with multipath, paths idle for the
 * idle timeout are abandoned and unused ones kept alive with PINGs (tern_mig_on_mp_packet). */
tern_tstamp tern_mig_next_timeout(const tern_conn *c);
void tern_mig_on_timeout(tern_conn *c, tern_tstamp now);

/* The path to send a probe datagram on now (a challenge or owed responses), or -1; *in_use
 * receives the number of paths in use (one pass serves both, once per send call). */
int tern_mig_probe_path(tern_conn *c, size_t *in_use);

/* Number of paths in use (probing or validated). */
size_t tern_mig_paths_in_use(const tern_conn *c);

/* The paths a client may have in use under `cfg`: max_paths, 0 meaning the default (8), at most
 * TERN_MAX_PATHS. */
size_t tern_mig_max_paths(const tern_config *cfg);

/* Fills the public description of path `idx`. */
void tern_mig_path_info(const tern_conn *c, int idx, tern_path_info *out);

/* ---- for the migration policy (policy.c): the same verbs, with the policy's reasons ----------- */

/* tern_conn_path_add whose PROBING event (and later use) carries `why`. */
int tern_mig_add_path(tern_conn *c, const tern_addr *local, tern_path_reason why, tern_tstamp now);

/* Makes path `idx` (in use, not the active one) active: the ACTIVE event carries `why`. */
void tern_mig_switch(tern_conn *c, int idx, tern_path_reason why, tern_tstamp now);

/* Ends path `idx` (in use, not the active one): FAILED (when `failed`) and REMOVED with `why`. */
void tern_mig_end_path(tern_conn *c, int idx, int failed, tern_path_reason why, tern_tstamp now);

/* The validated path (not `except`, not the preferred-address path, not leaving from the IP of
 * `except_ip` when given) with the lowest smoothed RTT, or -1. */
int tern_mig_best_validated(const tern_conn *c, int except, const tern_addr *except_ip);

/* How long path `idx` may take to answer a challenge (RFC 9000 §8.2.4: 3 x max PTO). */
tern_tstamp tern_mig_validation_timeout(const tern_conn *c, int idx);

#endif
