/* Two connections with multipath negotiated (a pair, pair.h) whose datagrams a test carries by
 * hand: each one opened and its multipath frames recorded on the way, delivered or dropped. */
#ifndef TERN_TEST_MPFX_H
#define TERN_TEST_MPFX_H

#include <stddef.h>
#include <stdint.h>

#include "pair.h"

#define MPFX_MS 1000000ull
#define MPFX_SEC 1000000000ull
#define MPFX_FRAMES 256

/* One multipath frame seen on the wire: its type, Path Identifier (Maximum Path Identifier for
 * MAX_PATH_ID and PATHS_BLOCKED) and its other value (a sequence number, PATH_ABANDON's Error
 * Code, PATH_CIDS_BLOCKED's Next Sequence Number; 0 for the others). */
typedef struct mpfx_frame {
    uint64_t type, path_id, value;
} mpfx_frame;

/* What went by on the wire, in order. new_* and retire_* repeat PATH_NEW_CONNECTION_ID and
 * PATH_RETIRE_CONNECTION_ID (path ID, sequence number). */
typedef struct mpfx_tally {
    size_t new_n, retire_n;
    uint64_t new_path[64], new_seq[64];
    uint64_t retire_path[64], retire_seq[64];
    size_t n;
    mpfx_frame f[MPFX_FRAMES];
    size_t datagrams;
} mpfx_tally;

/* Connects a pair with multipath on both sides; the server advertises initial_max_path_id
 * `server_max_path_id` (the client TERN_MP_LOCAL_MAX_PATH_ID). */
void mpfx_connect(tern_pair *p, uint64_t seed, uint64_t server_max_path_id);

/* Everything `from_server`'s side has to send now, one datagram at a time: opened, counted into
 * `t` (when not NULL), and delivered to the other side unless `drop`. */
void mpfx_pump(tern_pair *p, int from_server, int drop, mpfx_tally *t);

/* As mpfx_pump, losing only the datagrams that carry a frame of `type` for `path_id` (any path ID
 * with UINT64_MAX). */
void mpfx_pump_dropping(tern_pair *p, int from_server, uint64_t type, uint64_t path_id,
                        mpfx_tally *t);

/* One 1-RTT packet holding the frames f[0..n) from `from_server`'s side to the other. */
void mpfx_inject(tern_pair *p, int from_server, const uint8_t *f, size_t n);

/* Lets time pass on both sides up to `until` (their timers fire; nothing is sent). */
void mpfx_advance(tern_pair *p, uint64_t until);

/* Frames of `type` in `t`; with path_id != UINT64_MAX only those of that path ID. */
size_t mpfx_count(const mpfx_tally *t, uint64_t type, uint64_t path_id);

#endif
