/* Multipath QUIC: negotiation (see multipath.h). */
#include "multipath.h"
#include "conn_internal.h"
#include "mpframe.h"

void tern_mp_init(tern_conn *c, tern_tparams *tp)
{
    memset(&c->mp, 0, sizeof(c->mp));
    if (!c->cfg->multipath)
        return;
    c->mp.offered = 1;
    c->mp.local_max_path_id = TERN_MP_LOCAL_MAX_PATH_ID;
    tp->has_initial_max_path_id = 1;
    tp->initial_max_path_id = c->mp.local_max_path_id;
}

int tern_mp_on_peer_tparams(tern_conn *c, const tern_tparams *tp, uint64_t *terr,
                            const char **why)
{
    c->mp.enabled = 0;
    if (!tp->has_initial_max_path_id)
        return 0;
    /* §2: the extension needs non-zero CIDs both ways; the peer's initial SCID is the CID we send
     * to. (tparams.c refuses the same; checked here too since a resumed or upgraded connection
     * may reach this with parameters of another origin.) */
    if (c->cids.peer_initial_scid.len == 0) {
        *terr = TERN_TE_PROTOCOL_VIOLATION;
        *why = "initial_max_path_id with a zero-length connection ID";
        return TERN_ERR_PROTO;
    }
    if (!c->mp.offered)
        return 0;
    c->mp.enabled = 1;
    c->mp.peer_max_path_id = tp->initial_max_path_id;
    return 0;
}

int tern_mp_enabled(const tern_conn *c)
{
    return c->mp.enabled;
}
