/* Multipath QUIC (draft-ietf-quic-multipath-21; docs/multipath.md): what the connection knows of
 * the extension. Negotiation: tern_config.multipath on this side makes us send
 * initial_max_path_id; the extension is in use only when the peer sent it too, and otherwise
 * nothing of it exists on the wire (single-path migration as before). */
#ifndef TERN_CORE_MULTIPATH_H
#define TERN_CORE_MULTIPATH_H

#include "common.h"
#include "tparams.h"

/* The largest path ID we offer (initial_max_path_id): path IDs 0..7, so at most 8 path IDs, of
 * which the paths a client opens use the ones it has CIDs for. */
#define TERN_MP_LOCAL_MAX_PATH_ID 7

typedef struct tern_conn_mp_state {
    int offered;                /* we sent initial_max_path_id */
    int enabled;                /* both sides did: the extension is in use */
    uint64_t local_max_path_id; /* the largest path ID we accept (what we advertised) */
    uint64_t peer_max_path_id;  /* the largest path ID the peer accepts */
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

#endif
