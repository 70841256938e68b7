/* Multipath data path: per-path-ID packet-number spaces and their paths (see mpspace.h). */
#include "mpspace.h"
#include "conn_internal.h"
#include "migration.h"
#include "mpframe.h"
#include "mpsched.h"

#include <stdlib.h>

int tern_mps_enable(tern_conn *c)
{
    if (c->mpd)
        return 0;
    c->mpd = calloc(1, sizeof(*c->mpd));
    if (!c->mpd)
        return TERN_ERR_NOMEM;
    c->mpd->slot0 = c->paths.active;
    for (int k = 0; k < TERN_MPS_IDS; k++)
        c->mpd->e[k].slot = -1;
    return 0;
}

static tern_mps_entry *entry_of(const tern_conn *c, uint64_t path_id)
{
    if (!c->mpd || !path_id)
        return NULL;
    for (int k = 0; k < TERN_MPS_IDS; k++)
        if (c->mpd->e[k].path_id == path_id)
            return (tern_mps_entry *)(uintptr_t)&c->mpd->e[k];
    return NULL;
}

static int space_of_entry(const tern_conn *c, const tern_mps_entry *e)
{
    return TERN_SPACE_APP + 1 + (int)(e - c->mpd->e);
}

static void entry_free(tern_conn *c, tern_mps_entry *e)
{
    if (e->sp) {
        tern_recovery_space_close(&c->rec, space_of_entry(c, e));
        tern_ackr_free(&e->sp->ackr);
        free(e->sp);
    }
    memset(e, 0, sizeof(*e));
    e->slot = -1;
}

void tern_mps_free(tern_conn *c)
{
    if (!c->mpd)
        return;
    for (int k = 0; k < TERN_MPS_IDS; k++)
        entry_free(c, &c->mpd->e[k]);
    free(c->mpd);
    c->mpd = NULL;
}

int tern_mps_bind(tern_conn *c, uint64_t path_id, int slot)
{
    if (!c->mpd || !path_id)
        return TERN_ERR_INVALID_ARG;
    tern_mps_entry *e = entry_of(c, path_id);
    if (!e) {
        for (int k = 0; k < TERN_MPS_IDS && !e; k++)
            if (!c->mpd->e[k].path_id)
                e = &c->mpd->e[k];
        if (!e)
            return TERN_ERR_INVALID_ARG;
        tern_pn_space_state *sp = calloc(1, sizeof(*sp));
        if (!sp)
            return TERN_ERR_NOMEM;
        sp->largest_recv = UINT64_MAX;
        /* its packets are all of the current send phase; a received one of the other phase is
         * the previous phase's once the keys changed */
        sp->rx_phase_first_pn = c->keys.updates ? UINT64_MAX : 0;
        tern_ackr_init(&sp->ackr);
        if (tern_recovery_space_open(&c->rec, space_of_entry(c, e), (uint8_t)slot)) {
            free(sp);
            return TERN_ERR_NOMEM;
        }
        e->sp = sp;
        e->path_id = path_id;
    }
    tern_recovery_space_set_path(&c->rec, space_of_entry(c, e), (uint8_t)slot);
    e->slot = slot;
    e->free_at = 0;
    tern_path *p = tern_conn_path_slot(c, slot);
    p->mp_id = (uint32_t)path_id;
    p->mp_space = (uint8_t)space_of_entry(c, e);
    return 0;
}

void tern_mps_release(tern_conn *c, uint64_t path_id, tern_tstamp now)
{
    tern_mps_entry *e = entry_of(c, path_id);
    if (!e)
        return;
    e->slot = -1;
    if (!e->free_at)
        e->free_at = now + 3 * tern_conn_pto(c);
}

void tern_mps_on_path_end(tern_conn *c, int slot, tern_tstamp now)
{
    if (!c->mpd)
        return;
    tern_path *p = tern_conn_path_slot(c, slot);
    if (tern_mps_slot_of(c, p->mp_id) != slot)
        return;
    (void)tern_mp_abandon(c, p->mp_id, TERN_MP_ERR_APPLICATION_ABANDON_PATH);
    if (p->mp_id)
        tern_mps_release(c, p->mp_id, now);
    else
        c->mpd->slot0 = -1;
    tern_conn_wake(c);
}

void tern_mps_on_switch(tern_conn *c, int from, int to)
{
    if (c->mpd && c->mpd->slot0 == from && tern_conn_path_slot(c, to)->mp_id == 0)
        c->mpd->slot0 = to;
}

int tern_mps_space_of(const tern_conn *c, uint64_t path_id)
{
    if (!path_id)
        return TERN_SPACE_APP;
    const tern_mps_entry *e = entry_of(c, path_id);
    return e ? space_of_entry(c, e) : -1;
}

uint64_t tern_mps_path_id_of(const tern_conn *c, int space)
{
    int k = space - TERN_SPACE_APP - 1;
    return c->mpd && k >= 0 && k < TERN_MPS_IDS ? c->mpd->e[k].path_id : 0;
}

int tern_mps_slot_of(const tern_conn *c, uint64_t path_id)
{
    if (!c->mpd)
        return path_id ? -1 : c->paths.active;
    if (!path_id)
        return c->mpd->slot0;
    const tern_mps_entry *e = entry_of(c, path_id);
    return e ? e->slot : -1;
}

int tern_mps_ended(const tern_conn *c, uint64_t path_id)
{
    const tern_mps_entry *e = entry_of(c, path_id);
    return e && e->slot < 0;
}

uint64_t tern_mps_path_of_dcid(const tern_conn *c, const tern_cid *dcid)
{
    return c->mpd ? tern_mp_local_cid_path(c, dcid) : 0;
}

/* Path ID 0 abandoned (by the peer, answered with ours, or by us) while its path is still bound:
 * the path ends as any path ID's does, its in-flight data going out again on the other paths at
 * once. When it is the active path (a server's, whose client left the first path), the active
 * role moves first to the usable path with the lowest smoothed RTT; with no other path it stays
 * (the peer abandoned its last path: the idle timeout decides). */
static void sync_path_id0(tern_conn *c, tern_tstamp now)
{
    int slot = c->mpd->slot0;
    if (slot < 0 || (tern_mp_peer_abandoned(c, 0, NULL) != 1 && tern_mp_local_abandoned(c, 0) != 1))
        return;
    if (slot == c->paths.active) {
        int best = tern_mpsched_best(c, slot);
        if (best < 0)
            return;
        tern_mig_switch(c, best, TERN_PATH_WHY_PEER_ABANDONED, now);
    }
    tern_mig_end_path(c, slot, 0, TERN_PATH_WHY_PEER_ABANDONED, now);
}

void tern_mps_prefer_available(tern_conn *c, tern_tstamp now)
{
    if (!c->mpd || !c->is_server || c->state != TERN_CS_ESTABLISHED ||
        !tern_mpsched_backup(c, c->paths.active))
        return;
    int best = tern_mpsched_best(c, c->paths.active);
    if (best >= 0 && !tern_mpsched_backup(c, best))
        tern_mig_switch(c, best, TERN_PATH_WHY_PEER_MIGRATED, now);
}

void tern_mps_sync(tern_conn *c, tern_tstamp now)
{
    if (!c->mpd)
        return;
    sync_path_id0(c, now);
    for (int k = 0; k < TERN_MPS_IDS; k++) {
        tern_mps_entry *e = &c->mpd->e[k];
        if (!e->path_id || e->slot < 0)
            continue;
        if (tern_mp_peer_abandoned(c, e->path_id, NULL) == 1 ||
            tern_mp_local_abandoned(c, e->path_id) == 1)
            tern_mig_end_path(c, e->slot, 0, TERN_PATH_WHY_PEER_ABANDONED, now);
    }
    tern_mps_prefer_available(c, now);
}

tern_tstamp tern_mps_next_timeout(const tern_conn *c)
{
    tern_tstamp t = TERN_TS_INF;
    if (!c->mpd)
        return t;
    for (int k = 0; k < TERN_MPS_IDS; k++) {
        const tern_mps_entry *e = &c->mpd->e[k];
        if (!e->sp)
            continue;
        if (e->free_at)
            t = TERN_MIN(t, e->free_at);
        if (c->hs.complete)
            t = TERN_MIN(t, TERN_MIN(tern_ackr_due_time(&e->sp->ackr, 0),
                                     tern_ackr_repeat_time(&e->sp->ackr)));
    }
    return t;
}

void tern_mps_on_timeout(tern_conn *c, tern_tstamp now)
{
    if (!c->mpd)
        return;
    for (int k = 0; k < TERN_MPS_IDS; k++)
        if (c->mpd->e[k].free_at && now >= c->mpd->e[k].free_at)
            entry_free(c, &c->mpd->e[k]);
}

size_t tern_mps_memory(const tern_conn *c)
{
    if (!c->mpd)
        return 0;
    size_t n = sizeof(*c->mpd);
    for (int k = 0; k < TERN_MPS_IDS; k++) {
        const tern_mps_entry *e = &c->mpd->e[k];
        if (!e->sp)
            continue;
        const tern_sentq *q = tern_recovery_q(&c->rec, space_of_entry(c, e));
        n += sizeof(*e->sp) + e->sp->ackr.recv.cap * sizeof(tern_range);
        if (q)
            n += sizeof(*q) + (q->cap + q->lost.cap) * sizeof(tern_sent_pkt);
    }
    return n;
}
