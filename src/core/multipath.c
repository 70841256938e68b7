/* Multipath QUIC: negotiation and the frames of the extension (see multipath.h). This version
 * sends on path ID 0 only; what the peer tells of other path IDs is checked and kept, bounded. */
#include "multipath.h"
#include "conn_internal.h"
#include "mpframe.h"

#include <stdlib.h>

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
    if (!c->mp.ids) {
        c->mp.ids = calloc((size_t)c->mp.local_max_path_id, sizeof(*c->mp.ids));
        if (!c->mp.ids) {
            *terr = TERN_TE_INTERNAL_ERROR;
            *why = "out of memory";
            return TERN_ERR_PROTO;
        }
    }
    c->mp.enabled = 1;
    c->mp.peer_max_path_id = tp->initial_max_path_id;
    c->mp.peer_initial_max_path_id = tp->initial_max_path_id;
    c->mp.cid_limit = TERN_MIN(c->tp.local.active_connection_id_limit, TERN_MAX_PEER_CIDS);
    c->mp.peer_cid_limit = TERN_MIN(tp->active_connection_id_limit, (uint64_t)TERN_MP_LOCAL_CIDS);
    return 0;
}

void tern_mp_free(tern_conn *c)
{
    free(c->mp.ids);
    c->mp.ids = NULL;
}

size_t tern_mp_memory(const tern_conn *c)
{
    return c->mp.ids ? (size_t)c->mp.local_max_path_id * sizeof(*c->mp.ids) : 0;
}

static int fail(tern_conn *c, uint64_t terr, uint64_t type, const char *why)
{
    tern_conn_fail(c, terr, type, why);
    return TERN_ERR_PROTO;
}

/* We retire the peer's CID `seq` of path ID `id`: PATH_RETIRE_CONNECTION_ID to send (once). */
static int retire_push(tern_mp_path_id *id, uint64_t seq)
{
    return tern_retire_queue_push(id->retire_q, &id->retire_n, TERN_MP_RETIRE_QUEUE, seq);
}

static int queue_retire(tern_conn *c, tern_mp_path_id *id, uint64_t seq)
{
    if (retire_push(id, seq))
        return fail(c, TERN_TE_CONNECTION_ID_LIMIT_ERROR, TERN_FT_PATH_NEW_CONNECTION_ID,
                    "too many CIDs to retire for a path ID");
    return 0;
}

static tern_mp_path_id *path_id_slot(tern_conn *c, uint64_t path_id)
{
    return path_id >= 1 && path_id <= c->mp.local_max_path_id ? &c->mp.ids[path_id - 1] : NULL;
}

/* Forgets our CID in `e` (retired by the peer, or its path ID abandoned): no longer routed. */
static void drop_local(tern_conn *c, tern_mp_local_cid *e)
{
    if (c->hooks.cid_removed)
        c->hooks.cid_removed(c->hooks.ud, c, &e->cid);
    memset(e, 0, sizeof(*e));
}

uint64_t tern_mp_cid_wanted(const tern_conn *c)
{
    if (!c->mp.enabled)
        return 0;
    uint64_t top = TERN_MIN(c->mp.peer_max_path_id, c->mp.local_max_path_id);
    for (uint64_t p = 1; p <= top; p++) {
        const tern_mp_path_id *id = &c->mp.ids[p - 1];
        if (id->abandoned)
            continue;
        size_t n = 0;
        for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
            n += id->lcids[i].state != TERN_MP_LCID_FREE;
        if (n < c->mp.peer_cid_limit)
            return p;
    }
    return 0;
}

void tern_mp_cid_add(tern_conn *c, uint64_t path_id, const tern_cid *cid,
                     const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    tern_mp_path_id *id = path_id_slot(c, path_id);
    if (!id)
        return;
    for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++) {
        tern_mp_local_cid *e = &id->lcids[i];
        if (e->state != TERN_MP_LCID_FREE)
            continue;
        e->seq = id->lnext_seq++;
        e->cid = *cid;
        memcpy(e->token, token, TERN_RESET_TOKEN_LEN);
        e->state = TERN_MP_LCID_NEW;
        return;
    }
}

int tern_mp_pending(const tern_conn *c)
{
    if (!c->mp.enabled)
        return 0;
    for (uint64_t p = 1; p <= c->mp.local_max_path_id; p++) {
        const tern_mp_path_id *id = &c->mp.ids[p - 1];
        if (id->retire_n)
            return 1;
        for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
            if (id->lcids[i].state == TERN_MP_LCID_NEW)
                return 1;
    }
    return 0;
}

size_t tern_mp_write_next(tern_conn *c, uint8_t *p, size_t cap, tern_sent_frame *f)
{
    if (!c->mp.enabled)
        return 0;
    for (uint64_t pid = 1; pid <= c->mp.local_max_path_id; pid++) {
        tern_mp_path_id *id = &c->mp.ids[pid - 1];
        tern_mp_local_cid *best = NULL;
        for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++) {
            tern_mp_local_cid *e = &id->lcids[i];
            if (e->state == TERN_MP_LCID_NEW && (!best || e->seq < best->seq))
                best = e;
        }
        size_t n;
        memset(f, 0, sizeof(*f));
        f->aux = (uint16_t)pid;
        if (best) {
            /* we never ask the peer to retire a CID of ours: Retire Prior To stays 0 */
            n = tern_mpframe_write_path_new_cid(p, cap, pid, best->seq, 0, &best->cid,
                                                best->token);
            if (!n)
                return 0;
            best->state = TERN_MP_LCID_SENT;
            f->type = TERN_MP_REC_NEW_CID;
            f->id = best->seq;
            return n;
        }
        if (id->retire_n) {
            n = tern_mpframe_write_path_retire_cid(p, cap, pid, id->retire_q[0]);
            if (!n)
                return 0;
            f->type = TERN_MP_REC_RETIRE_CID;
            f->id = id->retire_q[0];
            memmove(id->retire_q, id->retire_q + 1, (id->retire_n - 1) * sizeof(id->retire_q[0]));
            id->retire_n--;
            return n;
        }
    }
    return 0;
}

static tern_mp_local_cid *find_local(tern_mp_path_id *id, uint64_t seq)
{
    for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
        if (id->lcids[i].state != TERN_MP_LCID_FREE && id->lcids[i].seq == seq)
            return &id->lcids[i];
    return NULL;
}

void tern_mp_on_frame_acked(tern_conn *c, const tern_sent_frame *f)
{
    tern_mp_path_id *id = c->mp.enabled ? path_id_slot(c, f->aux) : NULL;
    if (!id || f->type != TERN_MP_REC_NEW_CID)
        return;
    tern_mp_local_cid *e = find_local(id, f->id);
    if (e)
        e->state = TERN_MP_LCID_HELD;
}

void tern_mp_on_frame_lost(tern_conn *c, const tern_sent_frame *f)
{
    tern_mp_path_id *id = c->mp.enabled ? path_id_slot(c, f->aux) : NULL;
    if (!id || id->abandoned)
        return;
    if (f->type == TERN_MP_REC_NEW_CID) {
        /* unless retired or acknowledged (by another copy) meanwhile */
        tern_mp_local_cid *e = find_local(id, f->id);
        if (e && e->state == TERN_MP_LCID_SENT)
            e->state = TERN_MP_LCID_NEW;
    } else if (f->type == TERN_MP_REC_RETIRE_CID) {
        (void)retire_push(id, f->id); /* as for path ID 0: room was made when it was sent */
    }
}

/* PATH_NEW_CONNECTION_ID for a path ID above 0 (RFC 9000 §19.15's rules, per path ID). */
static int on_new_cid(tern_conn *c, tern_mp_path_id *id, const tern_mp_frame *f)
{
    const uint64_t type = f->type;
    uint64_t seq = f->u.new_cid.u.new_cid.seq, rpt = f->u.new_cid.u.new_cid.retire_prior_to;
    const tern_cid *cid = &f->u.new_cid.u.new_cid.cid;
    const uint8_t *token = f->u.new_cid.u.new_cid.token;
    size_t active = 0;

    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++) {
        tern_mp_peer_cid *e = &id->cids[i];
        if (!e->used || e->seq != seq)
            continue;
        if (!tern_cid_eq(&e->cid, cid) || memcmp(e->token, token, TERN_RESET_TOKEN_LEN))
            return fail(c, TERN_TE_PROTOCOL_VIOLATION, type,
                        "PATH_NEW_CONNECTION_ID reuses a sequence number");
        return 0; /* a retransmission */
    }
    /* RFC 9000 §5.1.2 / §19.15 per path ID: a CID below Retire Prior To is retired at once */
    if (seq < id->retire_prior_to)
        return queue_retire(c, id, seq);
    if (rpt > id->retire_prior_to) {
        id->retire_prior_to = rpt;
        for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
            if (id->cids[i].used && id->cids[i].seq < rpt) {
                id->cids[i].used = 0;
                if (queue_retire(c, id, id->cids[i].seq))
                    return TERN_ERR_PROTO;
            }
    }
    if (seq < id->retire_prior_to)
        return queue_retire(c, id, seq);
    tern_mp_peer_cid *slot = NULL;
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++) {
        if (id->cids[i].used)
            active++;
        else if (!slot)
            slot = &id->cids[i];
    }
    if (active >= c->mp.cid_limit || !slot)
        return fail(c, TERN_TE_CONNECTION_ID_LIMIT_ERROR, type,
                    "more CIDs for a path ID than active_connection_id_limit");
    slot->used = 1;
    slot->seq = seq;
    slot->cid = *cid;
    memcpy(slot->token, token, TERN_RESET_TOKEN_LEN);
    return 0;
}

int tern_mp_on_frame(tern_conn *c, int pkt_type, const uint8_t **p, const uint8_t *end,
                     tern_frame *rfc, int *ack_eliciting)
{
    tern_mp_frame f;
    uint64_t terr = 0;
    int rv = tern_mpframe_parse(p, end, &f, &terr);
    if (rv == 1)
        return 1;
    if (rv)
        return fail(c, terr, f.type, "malformed multipath frame");
    rfc->type = TERN_FT_PADDING;
    c->mp.ack_path_id = 0;
    if (!tern_mpframe_allowed(f.type, pkt_type))
        return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type, "multipath frame outside 1-RTT");
    if (tern_mpframe_is_ack_eliciting(f.type))
        *ack_eliciting |= 3;

    /* a Path Identifier names a path ID we gave the peer CIDs for, so at most our maximum; the
     * limits of MAX_PATH_ID and PATHS_BLOCKED are the peer's and ours */
    int names_path = f.type != TERN_FT_MAX_PATH_ID && f.type != TERN_FT_PATHS_BLOCKED;
    if (names_path && f.path_id > c->mp.local_max_path_id)
        return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type,
                    "path ID above our maximum path ID");
    tern_mp_path_id *id = names_path && f.path_id ? &c->mp.ids[f.path_id - 1] : NULL;
    /* §4: a frame naming a path ID that can no longer be processed (abandoned) is ignored */
    if (id && id->abandoned)
        return 0;

    switch (f.type) {
    case TERN_FT_PATH_ACK:
    case TERN_FT_PATH_ACK_ECN:
        /* a path ID's space exists once we sent on it (or kept after its abandonment for late
         * acknowledgements): any other is an ACK of packets never sent */
        if (f.path_id != 0 &&
            !tern_recovery_space_exists(&c->rec, TERN_SPACE_APP + (int)f.path_id))
            return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type,
                        "PATH_ACK for a path ID nothing was sent on");
        *rfc = f.u.ack;
        c->mp.ack_path_id = f.path_id;
        break;
    case TERN_FT_PATH_NEW_CONNECTION_ID:
        if (!id) {
            *rfc = f.u.new_cid;
            break;
        }
        return on_new_cid(c, id, &f);
    case TERN_FT_PATH_RETIRE_CONNECTION_ID:
        if (id) {
            /* RFC 9000 §19.16 per path ID */
            if (f.u.retire_cid.seq >= id->lnext_seq)
                return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type,
                            "PATH_RETIRE_CONNECTION_ID of a CID never issued");
            tern_mp_local_cid *e = find_local(id, f.u.retire_cid.seq);
            if (e) {
                drop_local(c, e);
                tern_conn_issue_cids(c); /* its replacement */
            }
            break;
        }
        rfc->type = TERN_FT_RETIRE_CONNECTION_ID;
        rfc->u.retire_cid.seq = f.u.retire_cid.seq;
        break;
    case TERN_FT_PATH_CIDS_BLOCKED: {
        uint64_t issued = id ? id->lnext_seq : c->cids.local.next_seq;
        if (f.u.cids_blocked.next_seq > issued)
            return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type,
                        "PATH_CIDS_BLOCKED beyond the CIDs issued");
        break;
    }
    case TERN_FT_MAX_PATH_ID:
        /* §4.6: below the peer's initial_max_path_id is invalid; smaller than one already
         * received (but not below that) is stale and ignored */
        if (f.path_id < c->mp.peer_initial_max_path_id)
            return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type,
                        "MAX_PATH_ID below initial_max_path_id");
        if (f.path_id > c->mp.peer_max_path_id) {
            c->mp.peer_max_path_id = f.path_id;
            tern_conn_issue_cids(c); /* CIDs for the path IDs it opens */
        }
        break;
    case TERN_FT_PATHS_BLOCKED:
        if (f.path_id > c->mp.local_max_path_id)
            return fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type,
                        "PATHS_BLOCKED at a limit never given");
        c->mp.peer_blocked_at = f.path_id + 1;
        break;
    case TERN_FT_PATH_STATUS_BACKUP:
    case TERN_FT_PATH_STATUS_AVAILABLE: {
        uint64_t *seen = id ? &id->status_seq : &c->mp.status_seq0;
        int *backup = id ? &id->backup : &c->mp.backup0;
        /* only a newer status than the last one applied counts (reordering) */
        if (f.u.status.seq + 1 > *seen) {
            *seen = f.u.status.seq + 1;
            *backup = f.type == TERN_FT_PATH_STATUS_BACKUP;
        }
        break;
    }
    case TERN_FT_PATH_ABANDON:
        if (id) {
            id->abandoned = 1;
            id->abandon_error = f.u.abandon.error_code;
            memset(id->cids, 0, sizeof(id->cids));
            id->retire_n = 0; /* its CIDs are gone on both sides */
            for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
                if (id->lcids[i].state != TERN_MP_LCID_FREE)
                    drop_local(c, &id->lcids[i]);
        } else {
            c->mp.abandoned0 = 1;
        }
        break;
    }
    return 0;
}

int tern_mp_enabled(const tern_conn *c)
{
    return c->mp.enabled;
}

uint64_t tern_mp_local_cid_path(const tern_conn *c, const tern_cid *cid)
{
    if (!c->mp.enabled)
        return 0;
    for (uint64_t p = 1; p <= c->mp.local_max_path_id; p++) {
        const tern_mp_path_id *id = &c->mp.ids[p - 1];
        for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
            if (id->lcids[i].state != TERN_MP_LCID_FREE && tern_cid_eq(&id->lcids[i].cid, cid))
                return p;
    }
    return 0;
}

const tern_mp_peer_cid *tern_mp_peer_cid_of(const tern_conn *c, uint64_t path_id)
{
    if (!c->mp.enabled || path_id < 1 || path_id > c->mp.local_max_path_id)
        return NULL;
    const tern_mp_path_id *id = &c->mp.ids[path_id - 1];
    const tern_mp_peer_cid *best = NULL;
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
        if (id->cids[i].used && (!best || id->cids[i].seq < best->seq))
            best = &id->cids[i];
    return id->abandoned ? NULL : best;
}
