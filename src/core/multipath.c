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
        c->mp.ids = calloc(TERN_MP_LOCAL_MAX_PATH_ID, sizeof(*c->mp.ids));
        if (!c->mp.ids) {
            *terr = TERN_TE_INTERNAL_ERROR;
            *why = "out of memory";
            return TERN_ERR_PROTO;
        }
        for (uint64_t i = 0; i < TERN_MP_LOCAL_MAX_PATH_ID; i++)
            c->mp.ids[i].path_id = i + 1;
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
    return c->mp.ids ? TERN_MP_LOCAL_MAX_PATH_ID * sizeof(*c->mp.ids) : 0;
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

tern_mp_path_id *tern_mp_path_id_get(const tern_conn *c, uint64_t path_id)
{
    if (!c->mp.enabled || path_id == 0 || path_id > c->mp.local_max_path_id)
        return NULL;
    for (size_t i = 0; i < TERN_MP_LOCAL_MAX_PATH_ID; i++)
        if (c->mp.ids[i].path_id == path_id)
            return &c->mp.ids[i];
    return NULL;
}

int tern_mp_path_id_index(const tern_conn *c, uint64_t path_id)
{
    const tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    return id ? (int)(id - c->mp.ids) : -1;
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
    for (size_t i = 0; i < TERN_MP_LOCAL_MAX_PATH_ID; i++) {
        const tern_mp_path_id *id = &c->mp.ids[i];
        /* none for a path ID the peer does not accept yet, nor for one either side abandoned */
        if (id->path_id > c->mp.peer_max_path_id || id->abandoned || id->ctl.abandon_tx)
            continue;
        size_t n = 0;
        for (size_t j = 0; j < TERN_MP_LOCAL_CIDS; j++)
            n += id->lcids[j].state != TERN_MP_LCID_FREE;
        if (n < c->mp.peer_cid_limit)
            return id->path_id;
    }
    return 0;
}

void tern_mp_cid_add(tern_conn *c, uint64_t path_id, const tern_cid *cid,
                     const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
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

/* The next multipath frame to send, in tern_mp_write_next's order. */
typedef struct mp_next {
    uint8_t kind; /* TERN_MP_REC_*, 0: nothing */
    int slot;     /* index in c->mp.ids, -1: connection-wide or path ID 0 */
    int lcid;     /* NEW_CID: index in lcids */
} mp_next;

/* Our PATH_ABANDON or PATH_STATUS_* of a path ID waiting in `ctl`. */
static uint8_t ctl_next(const tern_mp_ctl *ctl)
{
    if (ctl->abandon_tx == TERN_MP_TX_PENDING)
        return TERN_MP_REC_ABANDON;
    /* once abandoned, the path's status no longer matters */
    if (!ctl->abandon_tx && ctl->status_tx == TERN_MP_TX_PENDING)
        return TERN_MP_REC_STATUS;
    return 0;
}

static mp_next next_frame(const tern_conn *c)
{
    mp_next n = {0, -1, -1};
    if (!c->mp.enabled)
        return n;
    if (c->mp.max_path_id_tx == TERN_MP_TX_PENDING)
        n.kind = TERN_MP_REC_MAX_PATH_ID;
    else if (c->mp.paths_blocked_tx == TERN_MP_TX_PENDING)
        n.kind = TERN_MP_REC_PATHS_BLOCKED;
    else
        n.kind = ctl_next(&c->mp.ctl0);
    for (int i = 0; !n.kind && i < TERN_MP_LOCAL_MAX_PATH_ID; i++) {
        const tern_mp_path_id *id = &c->mp.ids[i];
        n.slot = i;
        if ((n.kind = ctl_next(&id->ctl)) != 0)
            break;
        /* an abandoned path ID's CIDs are retired with it on both sides */
        if (id->abandoned || id->ctl.abandon_tx)
            continue;
        for (int j = 0; j < TERN_MP_LOCAL_CIDS; j++)
            if (id->lcids[j].state == TERN_MP_LCID_NEW &&
                (n.lcid < 0 || id->lcids[j].seq < id->lcids[n.lcid].seq))
                n.lcid = j;
        if (n.lcid >= 0)
            n.kind = TERN_MP_REC_NEW_CID;
        else if (id->retire_n)
            n.kind = TERN_MP_REC_RETIRE_CID;
        else if (id->cids_blocked_tx == TERN_MP_TX_PENDING)
            n.kind = TERN_MP_REC_CIDS_BLOCKED;
    }
    return n;
}

int tern_mp_pending(const tern_conn *c)
{
    return next_frame(c).kind != 0;
}

size_t tern_mp_write_next(tern_conn *c, uint8_t *p, size_t cap, tern_sent_frame *f)
{
    mp_next n = next_frame(c);
    tern_mp_path_id *id = n.slot >= 0 ? &c->mp.ids[n.slot] : NULL;
    tern_mp_ctl *ctl = id ? &id->ctl : &c->mp.ctl0;
    uint64_t path_id = id ? id->path_id : 0;
    size_t len = 0;
    memset(f, 0, sizeof(*f));
    f->type = n.kind;
    f->off = path_id;
    switch (n.kind) {
    case TERN_MP_REC_MAX_PATH_ID:
        f->off = c->mp.local_max_path_id;
        if ((len = tern_mpframe_write_max_path_id(p, cap, f->off)) != 0)
            c->mp.max_path_id_tx = TERN_MP_TX_SENT;
        break;
    case TERN_MP_REC_PATHS_BLOCKED:
        f->off = c->mp.paths_blocked_at - 1;
        if ((len = tern_mpframe_write_paths_blocked(p, cap, f->off)) != 0)
            c->mp.paths_blocked_tx = TERN_MP_TX_SENT;
        break;
    case TERN_MP_REC_ABANDON:
        if ((len = tern_mpframe_write_path_abandon(p, cap, path_id, ctl->abandon_error)) != 0)
            ctl->abandon_tx = TERN_MP_TX_SENT;
        break;
    case TERN_MP_REC_STATUS:
        f->id = ctl->status_seq;
        if ((len = tern_mpframe_write_path_status(p, cap, !ctl->backup, path_id, f->id)) != 0)
            ctl->status_tx = TERN_MP_TX_SENT;
        break;
    case TERN_MP_REC_NEW_CID: {
        /* we never ask the peer to retire a CID of ours: Retire Prior To stays 0 */
        tern_mp_local_cid *e = &id->lcids[n.lcid];
        f->id = e->seq;
        if ((len = tern_mpframe_write_path_new_cid(p, cap, path_id, f->id, 0, &e->cid,
                                                   e->token)) != 0)
            e->state = TERN_MP_LCID_SENT;
        break;
    }
    case TERN_MP_REC_RETIRE_CID:
        f->id = id->retire_q[0];
        if ((len = tern_mpframe_write_path_retire_cid(p, cap, path_id, f->id)) != 0) {
            memmove(id->retire_q, id->retire_q + 1, (id->retire_n - 1) * sizeof(id->retire_q[0]));
            id->retire_n--;
        }
        break;
    case TERN_MP_REC_CIDS_BLOCKED:
        f->id = id->cids_blocked_at - 1;
        if ((len = tern_mpframe_write_path_cids_blocked(p, cap, path_id, f->id)) != 0)
            id->cids_blocked_tx = TERN_MP_TX_SENT;
        break;
    }
    return len;
}

static tern_mp_local_cid *find_local(tern_mp_path_id *id, uint64_t seq)
{
    for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
        if (id->lcids[i].state != TERN_MP_LCID_FREE && id->lcids[i].seq == seq)
            return &id->lcids[i];
    return NULL;
}

/* Our status and abandon of `path_id` (0 included), NULL when it is not held. */
static tern_mp_ctl *ctl_of(tern_conn *c, uint64_t path_id)
{
    if (!c->mp.enabled)
        return NULL;
    if (path_id == 0)
        return &c->mp.ctl0;
    tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    return id ? &id->ctl : NULL;
}

/* The frame `f` recorded was acknowledged (acked) or lost: a SENT `tx` becomes ACKED or PENDING
 * again. `current` says whether the frame is still the one `tx` describes (not superseded). */
static void settle(uint8_t *tx, int current, int acked)
{
    if (current && *tx == TERN_MP_TX_SENT)
        *tx = acked ? TERN_MP_TX_ACKED : TERN_MP_TX_PENDING;
}

/* Closes path ID `id` once both sides abandoned it and the peer acknowledged our PATH_ABANDON:
 * its CIDs are gone on both sides (the peer's were dropped with its PATH_ABANDON), and the entry
 * takes the path ID above our maximum, which MAX_PATH_ID then announces. */
static void close_if_done(tern_conn *c, tern_mp_path_id *id)
{
    if (!id->abandoned || id->ctl.abandon_tx != TERN_MP_TX_ACKED)
        return;
    /* ours were unrouted when the peer's PATH_ABANDON came, and none issued since */
    memset(id, 0, sizeof(*id));
    c->mp.closed++;
    if (c->mp.local_max_path_id >= TERN_MP_PATH_ID_MAX)
        return; /* all 2^32 path IDs used: the entry stays free */
    id->path_id = ++c->mp.local_max_path_id;
    c->mp.max_path_id_tx = TERN_MP_TX_PENDING;
    tern_conn_issue_cids(c); /* the peer may accept the new path ID already */
}

static void on_settled(tern_conn *c, const tern_sent_frame *f, int acked)
{
    /* (records of multipath frames exist only when the extension is in use) */
    tern_mp_path_id *id = tern_mp_path_id_get(c, f->off);
    tern_mp_ctl *ctl = ctl_of(c, f->off);
    switch (f->type) {
    case TERN_MP_REC_MAX_PATH_ID:
        settle(&c->mp.max_path_id_tx, f->off == c->mp.local_max_path_id, acked);
        return;
    case TERN_MP_REC_PATHS_BLOCKED:
        /* still blocked at that limit */
        settle(&c->mp.paths_blocked_tx,
               f->off + 1 == c->mp.paths_blocked_at && f->off == c->mp.peer_max_path_id, acked);
        return;
    case TERN_MP_REC_ABANDON:
        if (ctl) {
            settle(&ctl->abandon_tx, 1, acked);
            if (id)
                close_if_done(c, id);
        }
        return;
    case TERN_MP_REC_STATUS:
        if (ctl)
            settle(&ctl->status_tx, f->id == ctl->status_seq && !ctl->abandon_tx, acked);
        return;
    }
    if (!id || id->abandoned || id->ctl.abandon_tx)
        return;
    if (f->type == TERN_MP_REC_NEW_CID) {
        /* lost: unless retired or acknowledged (by another copy) meanwhile */
        tern_mp_local_cid *e = find_local(id, f->id);
        if (e && acked)
            e->state = TERN_MP_LCID_HELD;
        else if (e && e->state == TERN_MP_LCID_SENT)
            e->state = TERN_MP_LCID_NEW;
    } else if (f->type == TERN_MP_REC_RETIRE_CID) {
        if (!acked)
            (void)retire_push(id, f->id); /* as for path ID 0: room was made when it was sent */
    } else if (f->type == TERN_MP_REC_CIDS_BLOCKED) {
        /* lost: sent again while still without the peer's CIDs at that sequence number */
        int current = f->id + 1 == id->cids_blocked_at && f->id == id->peer_next_seq;
        for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
            current &= !id->cids[i].used;
        settle(&id->cids_blocked_tx, current, acked);
    }
}

void tern_mp_on_frame_acked(tern_conn *c, const tern_sent_frame *f)
{
    on_settled(c, f, 1);
}

void tern_mp_on_frame_lost(tern_conn *c, const tern_sent_frame *f)
{
    on_settled(c, f, 0);
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
    id->peer_next_seq = TERN_MAX(id->peer_next_seq, seq + 1);
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
    tern_mp_path_id *id = names_path && f.path_id ? tern_mp_path_id_get(c, f.path_id) : NULL;
    /* §4: a frame naming a path ID that can no longer be processed (abandoned, or closed and
     * forgotten) is ignored */
    if ((id && id->abandoned) || (names_path && f.path_id && !id))
        return 0;

    switch (f.type) {
    case TERN_FT_PATH_ACK:
    case TERN_FT_PATH_ACK_ECN:
        /* a path ID's space exists once we sent on it (or kept after its abandonment for late
         * acknowledgements): any other is an ACK of packets never sent */
        if (f.path_id != 0 && tern_mps_space_of(c, f.path_id) < 0)
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
        /* the peer lacks CIDs from next_seq on: the ones of ours in flight from there did not
         * arrive yet, so they go again now rather than at loss detection, and any we still owe
         * it are issued */
        for (size_t i = 0; id && i < TERN_MP_LOCAL_CIDS; i++)
            if (id->lcids[i].state == TERN_MP_LCID_SENT &&
                id->lcids[i].seq >= f.u.cids_blocked.next_seq)
                id->lcids[i].state = TERN_MP_LCID_NEW;
        tern_conn_issue_cids(c);
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
        /* blocked below our maximum while our MAX_PATH_ID is in flight: it has not arrived, so
         * it goes again now rather than at loss detection (acknowledged, the PATHS_BLOCKED is
         * older than it) */
        if (f.path_id < c->mp.local_max_path_id && c->mp.max_path_id_tx == TERN_MP_TX_SENT)
            c->mp.max_path_id_tx = TERN_MP_TX_PENDING;
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
            id->cids_blocked_tx = TERN_MP_TX_NONE;
            for (size_t i = 0; i < TERN_MP_LOCAL_CIDS; i++)
                if (id->lcids[i].state != TERN_MP_LCID_FREE)
                    drop_local(c, &id->lcids[i]);
        } else if (!c->mp.abandoned0) {
            c->mp.abandoned0 = 1;
            c->mp.abandon_error0 = f.u.abandon.error_code;
        }
        /* §3.4: the receiver of PATH_ABANDON answers with its own unless it sent one */
        (void)tern_mp_abandon(c, f.path_id, 0);
        if (id)
            close_if_done(c, id);
        break;
    }
    return 0;
}

int tern_mp_enabled(const tern_conn *c)
{
    return c->mp.enabled;
}

int tern_mp_abandon(tern_conn *c, uint64_t path_id, uint64_t error_code)
{
    tern_mp_ctl *ctl = ctl_of(c, path_id);
    if (!ctl)
        return TERN_ERR_INVALID_ARG;
    if (ctl->abandon_tx)
        return 0;
    ctl->abandon_tx = TERN_MP_TX_PENDING;
    ctl->abandon_error = error_code;
    tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    if (id) {
        /* neither CIDs nor retirements nor CID requests for it go out any more */
        id->retire_n = 0;
        id->cids_blocked_tx = TERN_MP_TX_NONE;
    }
    return 0;
}

int tern_mp_set_status(tern_conn *c, uint64_t path_id, int backup)
{
    tern_mp_ctl *ctl = ctl_of(c, path_id);
    if (!ctl || ctl->abandon_tx || tern_mp_peer_abandoned(c, path_id, NULL))
        return TERN_ERR_INVALID_ARG;
    backup = backup != 0;
    if (backup == ctl->backup && (ctl->status_tx || !backup))
        return 0; /* no change (available is every path's status until one is set) */
    if (ctl->status_tx)
        ctl->status_seq++;
    ctl->backup = (uint8_t)backup;
    ctl->status_tx = TERN_MP_TX_PENDING;
    return 0;
}

int tern_mp_local_backup(const tern_conn *c, uint64_t path_id)
{
    if (!c->mp.enabled)
        return TERN_ERR_INVALID_ARG;
    if (path_id == 0)
        return c->mp.ctl0.backup;
    const tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    return id ? id->ctl.backup : TERN_ERR_INVALID_ARG;
}

int tern_mp_peer_backup(const tern_conn *c, uint64_t path_id)
{
    if (!c->mp.enabled)
        return TERN_ERR_INVALID_ARG;
    if (path_id == 0)
        return c->mp.backup0;
    const tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    return id ? id->backup : TERN_ERR_INVALID_ARG;
}

int tern_mp_local_abandoned(const tern_conn *c, uint64_t path_id)
{
    if (!c->mp.enabled || path_id > c->mp.local_max_path_id)
        return TERN_ERR_INVALID_ARG;
    if (path_id == 0)
        return c->mp.ctl0.abandon_tx != TERN_MP_TX_NONE;
    const tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    return id ? id->ctl.abandon_tx != TERN_MP_TX_NONE : 1;
}

int tern_mp_peer_abandoned(const tern_conn *c, uint64_t path_id, uint64_t *error_code)
{
    if (!c->mp.enabled || path_id > c->mp.local_max_path_id)
        return TERN_ERR_INVALID_ARG;
    const tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    int done = path_id == 0 ? c->mp.abandoned0 : !id || id->abandoned;
    if (done && error_code && (path_id == 0 || id))
        *error_code = id ? id->abandon_error : c->mp.abandon_error0;
    return done;
}

/* 1 when path ID `id` can carry a new path but for the peer's CIDs. */
static int path_id_free(const tern_conn *c, const tern_mp_path_id *id)
{
    return id->path_id && id->path_id <= c->mp.peer_max_path_id && !id->claimed &&
           !id->abandoned && !id->ctl.abandon_tx;
}

static int has_peer_cid(const tern_mp_path_id *id)
{
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
        if (id->cids[i].used)
            return 1;
    return 0;
}

/* The lowest path ID free for a new path, with the peer's CIDs (with_cids) or without any. */
static tern_mp_path_id *lowest_free(const tern_conn *c, int with_cids)
{
    tern_mp_path_id *best = NULL;
    if (!c->mp.enabled)
        return NULL;
    for (size_t i = 0; i < TERN_MP_LOCAL_MAX_PATH_ID; i++) {
        tern_mp_path_id *id = &c->mp.ids[i];
        if (path_id_free(c, id) && has_peer_cid(id) == with_cids &&
            (!best || id->path_id < best->path_id))
            best = id;
    }
    return best;
}

uint64_t tern_mp_path_id_next(const tern_conn *c)
{
    const tern_mp_path_id *id = lowest_free(c, 1);
    return id ? id->path_id : 0;
}

int tern_mp_path_id_claim(tern_conn *c, uint64_t path_id)
{
    tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    if (!id || id->path_id > c->mp.peer_max_path_id || id->abandoned || id->ctl.abandon_tx)
        return TERN_ERR_INVALID_ARG;
    id->claimed = 1;
    return 0;
}

uint64_t tern_mp_want_path(tern_conn *c)
{
    uint64_t next = tern_mp_path_id_next(c);
    if (next || !c->mp.enabled)
        return next;
    tern_mp_path_id *id = lowest_free(c, 0);
    if (id) {
        /* once per sequence number: the peer's next CID for it answers */
        if (id->cids_blocked_at != id->peer_next_seq + 1) {
            id->cids_blocked_at = id->peer_next_seq + 1;
            id->cids_blocked_tx = TERN_MP_TX_PENDING;
        }
        return 0;
    }
    /* the peer's maximum stops us when a path ID above it is held here; once per limit value */
    int above = 0;
    for (size_t i = 0; i < TERN_MP_LOCAL_MAX_PATH_ID; i++)
        above |= c->mp.ids[i].path_id > c->mp.peer_max_path_id;
    if (above && c->mp.paths_blocked_at != c->mp.peer_max_path_id + 1) {
        c->mp.paths_blocked_at = c->mp.peer_max_path_id + 1;
        c->mp.paths_blocked_tx = TERN_MP_TX_PENDING;
    }
    return 0;
}

uint64_t tern_mp_local_cid_path(const tern_conn *c, const tern_cid *cid)
{
    if (!c->mp.enabled)
        return 0;
    for (size_t k = 0; k < TERN_MP_LOCAL_MAX_PATH_ID; k++) {
        const tern_mp_path_id *id = &c->mp.ids[k];
        for (size_t i = 0; id->path_id && i < TERN_MP_LOCAL_CIDS; i++)
            if (id->lcids[i].state != TERN_MP_LCID_FREE && tern_cid_eq(&id->lcids[i].cid, cid))
                return id->path_id;
    }
    return 0;
}

const tern_mp_peer_cid *tern_mp_peer_cid_of(const tern_conn *c, uint64_t path_id)
{
    const tern_mp_path_id *id = tern_mp_path_id_get(c, path_id);
    if (!id || id->abandoned || id->ctl.abandon_tx)
        return NULL;
    const tern_mp_peer_cid *best = NULL;
    for (size_t i = 0; i < TERN_MAX_PEER_CIDS; i++)
        if (id->cids[i].used && (!best || id->cids[i].seq < best->seq))
            best = &id->cids[i];
    return best;
}
