/* Multipath scheduler (draft-ietf-quic-multipath-21 leaves the policy to the endpoint): which
 * path carries the next datagrams, and what happens to a path that stops answering.
 *
 * Per send call (one path per call: a driver calls again for the next path), the path is:
 *  1. one whose path ID owes PTO probes (a path ID's probes go on its own path);
 *  1b. else one whose path ID's ACK is due and that carries its own ACKs (lowest smoothed RTT
 *     first; see tern_mpsched_carries_acks): so that a path going silent takes only its own
 *     acknowledgements with it, and a receiver keeps sending on every path it receives on;
 *  2. else, among the usable paths (validated, carrying a path ID, with a CID to send with, not
 *     abandoned, not failing), those not in backup status: the lowest smoothed RTT among those
 *     whose congestion window and pacer have room for a datagram;
 *  3. backup paths only when no available (non-backup) path is usable at all, with the same
 *     rule among them;
 *  4. when no usable path has room: the best usable one (ACKs and other frames that need no
 *     window still go out there), else the active path.
 *
 * A path is failing after TERN_MPSCHED_FAIL_PTOS consecutive PTOs of its path ID with no
 * acknowledgement in between (one: a PTO is already a round trip and its variance past the
 * last answer, and the other paths are there to carry the data; a healthy path whose ACK was only
 * late costs the copies sent elsewhere and comes back with that ACK). Then everything in flight
 * on it is declared lost at once (reinjection:
 * its data goes out on the other paths without waiting for the loss timers), and it is not
 * scheduled; its PTO probes keep going out on it, as PINGs only, and the first acknowledgement
 * of its path ID brings it back. The active path's rule applies to path ID 0 only when another
 * usable path exists: a connection with one path keeps RFC 9002's behaviour. */
#ifndef TERN_CORE_MPSCHED_H
#define TERN_CORE_MPSCHED_H

#include "common.h"

struct tern_conn;

#define TERN_MPSCHED_FAIL_PTOS 1

/* What the choice looks at, per path. */
typedef struct tern_mpsched_cand {
    int slot;
    tern_tstamp srtt;
    uint8_t backup;   /* our status for it is backup */
    uint8_t room;     /* window and pacer have room for a datagram now */
    uint8_t probes;   /* its path ID owes PTO probes */
    uint8_t ack_due;  /* its path ID's ACK decision says send now (it carries them) */
} tern_mpsched_cand;

/* The rule above over `n` usable paths: the chosen slot, or `fallback` when n is 0. Pure. */
int tern_mpsched_choose(const tern_mpsched_cand *v, size_t n, int fallback);

/* The slot the next datagrams of `c` go to (c->paths.active without multipath, before the
 * handshake is confirmed, or with no usable path). `room` is the datagram size. */
int tern_mpsched_pick(struct tern_conn *c, size_t room, tern_tstamp now);

/* 1 when path slot `slot` may carry data now: usable in the sense above. */
int tern_mpsched_usable(const struct tern_conn *c, int slot);

/* 1 when path slot `slot` carries its own path ID's ACK decisions (tern_conn_ack_home): usable.
 * A backup path does too: its ACKs sent on an available path would wait behind that path's
 * queue, past the backup path's PTO, and make it look dead; it carries no data meanwhile
 * (tern_mpsched_standing_by). */
int tern_mpsched_carries_acks(const struct tern_conn *c, int slot);
/* 1 while `slot` is a backup path and a usable available path exists: packets built on it
 * carry ACKs, PINGs and path frames, never stream data or datagrams. */
int tern_mpsched_standing_by(const struct tern_conn *c, int slot);

/* 1 when a usable path other than `slot` exists. */
int tern_mpsched_other_usable(const struct tern_conn *c, int slot);
/* 1 when our status or the peer's for the path in `slot` (a path ID's) is backup. */
int tern_mpsched_backup(const struct tern_conn *c, int slot);
/* The usable path other than `exclude` (-1: none excluded) the connection would rather have as
 * its active one: an available path before a backup one, then the lowest smoothed RTT. -1 when
 * none. */
int tern_mpsched_best(const struct tern_conn *c, int exclude);

/* A PTO fired in `space` (an application space): applies the failing rule. */
void tern_mpsched_on_pto(struct tern_conn *c, int space, tern_tstamp now);

/* An ACK of `space` was processed: its path answers again when its PTO count went back to 0. */
void tern_mpsched_on_ack(struct tern_conn *c, int space);

#endif
