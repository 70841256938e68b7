/* Multipath data path: per-path-ID packet-number spaces and their paths (see mpspace.h). */
#include "mpspace.h"
#include "conn_internal.h"

#include <stdlib.h>

int tern_mps_enable(tern_conn *c)
{
    if (c->mpd)
        return 0;
    c->mpd = calloc(1, sizeof(*c->mpd));
    if (!c->mpd)
        return TERN_ERR_NOMEM;
    memset(c->mpd->slot, -1, sizeof(c->mpd->slot));
    c->mpd->slot[0] = (int8_t)c->paths.active;
    c->mpd->used[0] = 1;
    return 0;
}

static void space_free(tern_conn *c, uint64_t p)
{
    tern_pn_space_state *sp = c->mpd->sp[p - 1];
    if (!sp)
        return;
    tern_recovery_space_close(&c->rec, TERN_SPACE_APP + (int)p);
    tern_ackr_free(&sp->ackr);
    free(sp);
    c->mpd->sp[p - 1] = NULL;
    c->mpd->free_at[p - 1] = 0;
}

void tern_mps_free(tern_conn *c)
{
    if (!c->mpd)
        return;
    for (uint64_t p = 1; p <= TERN_MPS_IDS; p++)
        space_free(c, p);
    free(c->mpd);
    c->mpd = NULL;
}

int tern_mps_bind(tern_conn *c, uint64_t path_id, int slot)
{
    if (!c->mpd || path_id > TERN_MPS_IDS || path_id > c->mp.local_max_path_id ||
        c->mpd->abandon_recv[path_id] || c->mpd->abandon_sent[path_id])
        return TERN_ERR_INVALID_ARG;
    if (path_id > 0 && !c->mpd->sp[path_id - 1]) {
        tern_pn_space_state *sp = calloc(1, sizeof(*sp));
        if (!sp)
            return TERN_ERR_NOMEM;
        sp->largest_recv = UINT64_MAX;
        /* its packets are all of the current send phase; a received one of the other phase is
         * the previous phase's once the keys changed (tern_conn_key_phase_changed) */
        sp->rx_phase_first_pn = c->keys.updates ? UINT64_MAX : 0;
        tern_ackr_init(&sp->ackr);
        if (tern_recovery_space_open(&c->rec, TERN_SPACE_APP + (int)path_id, (uint8_t)slot)) {
            free(sp);
            return TERN_ERR_NOMEM;
        }
        c->mpd->sp[path_id - 1] = sp;
    }
    if (path_id > 0)
        tern_recovery_space_set_path(&c->rec, TERN_SPACE_APP + (int)path_id, (uint8_t)slot);
    c->mpd->slot[path_id] = (int8_t)slot;
    c->mpd->used[path_id] = 1;
    tern_conn_path_slot(c, slot)->mp_id = (uint8_t)path_id;
    return 0;
}

void tern_mps_release(tern_conn *c, uint64_t path_id, tern_tstamp now)
{
    if (!c->mpd || path_id == 0 || path_id > TERN_MPS_IDS)
        return;
    c->mpd->slot[path_id] = -1;
    if (c->mpd->sp[path_id - 1] && !c->mpd->free_at[path_id - 1])
        c->mpd->free_at[path_id - 1] = now + 3 * tern_conn_pto(c);
}

uint64_t tern_mps_path_of_dcid(const tern_conn *c, const tern_cid *dcid)
{
    return c->mpd ? tern_mp_local_cid_path(c, dcid) : 0;
}

uint64_t tern_mps_free_path_id(const tern_conn *c)
{
    if (!c->mpd)
        return 0;
    uint64_t top = TERN_MIN(TERN_MIN(c->mp.peer_max_path_id, c->mp.local_max_path_id),
                            (uint64_t)TERN_MPS_IDS);
    for (uint64_t p = 1; p <= top; p++)
        if (!c->mpd->used[p] && !c->mpd->abandon_recv[p] && tern_mp_peer_cid_of(c, p))
            return p;
    return 0;
}

tern_tstamp tern_mps_next_timeout(const tern_conn *c)
{
    tern_tstamp t = TERN_TS_INF;
    if (!c->mpd)
        return t;
    for (int p = 1; p <= TERN_MPS_IDS; p++) {
        const tern_pn_space_state *sp = c->mpd->sp[p - 1];
        if (!sp)
            continue;
        if (c->mpd->free_at[p - 1])
            t = TERN_MIN(t, c->mpd->free_at[p - 1]);
        else if (c->hs.complete)
            t = TERN_MIN(t, TERN_MIN(tern_ackr_due_time(&sp->ackr, 0),
                                     tern_ackr_repeat_time(&sp->ackr)));
    }
    return t;
}

void tern_mps_on_timeout(tern_conn *c, tern_tstamp now)
{
    if (!c->mpd)
        return;
    for (uint64_t p = 1; p <= TERN_MPS_IDS; p++)
        if (c->mpd->free_at[p - 1] && now >= c->mpd->free_at[p - 1])
            space_free(c, p);
}

size_t tern_mps_memory(const tern_conn *c)
{
    if (!c->mpd)
        return 0;
    size_t n = sizeof(*c->mpd);
    for (int p = 1; p <= TERN_MPS_IDS; p++) {
        const tern_pn_space_state *sp = c->mpd->sp[p - 1];
        if (!sp)
            continue;
        const tern_sentq *q = tern_recovery_q(&c->rec, TERN_SPACE_APP + p);
        n += sizeof(*sp) + sp->ackr.recv.cap * sizeof(tern_range);
        if (q)
            n += sizeof(*q) + (q->cap + q->lost.cap) * sizeof(tern_sent_pkt);
    }
    return n;
}
