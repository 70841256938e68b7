/* Multipath scheduler: the rules are in mpsched.h. */
#include "mpsched.h"
#include <stdio.h>

#include "conn_internal.h"

static int better(const tern_mpsched_cand *a, const tern_mpsched_cand *b)
{
    return !b || a->srtt < b->srtt;
}

int tern_mpsched_choose(const tern_mpsched_cand *v, size_t n, int fallback)
{
    const tern_mpsched_cand *probe = NULL, *ack = NULL, *room = NULL, *any = NULL;
    int have_available = 0;
    for (size_t i = 0; i < n; i++)
        have_available |= !v[i].backup;
    for (size_t i = 0; i < n; i++) {
        const tern_mpsched_cand *e = &v[i];
        if (e->probes && !probe)
            probe = e;
        if (e->ack_due && better(e, ack))
            ack = e;
        if (have_available && e->backup)
            continue; /* backups only when no available path is usable */
        if (better(e, any))
            any = e;
        if (e->room && better(e, room))
            room = e;
    }
    if (probe)
        return probe->slot;
    if (ack)
        return ack->slot;
    if (room)
        return room->slot;
    return any ? any->slot : fallback;
}

/* The pacer and window of a path have room for `room` bytes now; a window with room whose pacer
 * holds it lowers *pace_at to the pacer's release. */
static int has_room(tern_path *p, size_t room, tern_tstamp now, tern_tstamp *pace_at)
{
    if (tern_cc_available(&p->cc) < room)
        return 0;
    tern_tstamp srtt = p->rtt.has_sample ? p->rtt.smoothed : 0;
    tern_tstamp t = tern_pacer_next(&p->pacer, room, p->cc.cwnd, srtt, now);
    if (t > now)
        *pace_at = TERN_MIN(*pace_at, t);
    return t <= now;
}

/* A path that could carry data, failing or not. */
static int carries(const tern_conn *c, int slot)
{
    const tern_path *p = tern_conn_path_slot(c, slot);
    if (!c->mpd || !tern_path_in_use(p) || !p->path_validated || p->state != TERN_PATH_VALIDATED)
        return 0;
    if (tern_mps_slot_of(c, p->mp_id) != slot)
        return 0; /* no path ID (a probe of the server's, a path being abandoned) */
    return p->mp_id == 0 || tern_mp_peer_cid_of(c, p->mp_id) != NULL;
}

int tern_mpsched_usable(const tern_conn *c, int slot)
{
    return carries(c, slot) && !tern_conn_path_slot(c, slot)->mp_failing;
}

/* Our status for the path's path ID or the peer's is backup. */
static int is_backup(const tern_conn *c, const tern_path *p)
{
    return tern_mp_local_backup(c, p->mp_id) == 1 || tern_mp_peer_backup(c, p->mp_id) == 1;
}

int tern_mpsched_carries_acks(const tern_conn *c, int slot)
{
    return tern_mpsched_usable(c, slot);
}

int tern_mpsched_standing_by(const tern_conn *c, int slot)
{
    if (!c->mpd || !is_backup(c, tern_conn_path_slot(c, slot)))
        return 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (i != slot && tern_mpsched_usable(c, i) && !is_backup(c, tern_conn_path_slot(c, i)))
            return 1;
    return 0;
}

int tern_mpsched_backup(const tern_conn *c, int slot)
{
    const tern_path *p = tern_conn_path_slot(c, slot);
    return p && is_backup(c, p);
}

int tern_mpsched_best(const tern_conn *c, int exclude)
{
    int best = -1, best_backup = 0;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        if (i == exclude || !tern_mpsched_usable(c, i))
            continue;
        const tern_path *p = tern_conn_path_slot(c, i);
        int b = is_backup(c, p);
        if (best < 0 || b < best_backup ||
            (b == best_backup && p->rtt.smoothed < tern_conn_path_slot(c, best)->rtt.smoothed)) {
            best = i;
            best_backup = b;
        }
    }
    return best;
}

int tern_mpsched_other_usable(const tern_conn *c, int slot)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (i != slot && tern_mpsched_usable(c, i))
            return 1;
    return 0;
}

int tern_mpsched_pick(tern_conn *c, size_t room, tern_tstamp now)
{
    if (!c->mpd || !c->hs.confirmed)
        return c->paths.active;
    tern_mpsched_cand v[TERN_MAX_PATHS];
    size_t n = 0;
    tern_tstamp pace_at = TERN_TS_INF;
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        if (!carries(c, i))
            continue;
        tern_path *p = tern_conn_path_slot(c, i);
        const tern_pn_space_state *sp = tern_conn_sp(c, tern_path_space(p));
        int probes = sp && sp->probes > 0;
        if (p->mp_failing && !probes)
            continue;
        v[n].slot = i;
        v[n].srtt = p->rtt.smoothed;
        /* ours, or the peer's wish for the packets it receives there (PATH_STATUS_BACKUP) */
        v[n].backup = (uint8_t)is_backup(c, p);
        v[n].probes = (uint8_t)probes;
        int space = tern_path_space(p);
        v[n].ack_due =
            (uint8_t)(tern_conn_ack_due(c, space, now) && tern_conn_ack_home(c, space) == i);
        v[n].room = (uint8_t)has_room(p, room, now, &pace_at);
        n++;
    }
    int slot = tern_mpsched_choose(v, n, c->paths.active);
    /* nothing had room now: wake up when a pacer lets a path send (the send loop arms only the
     * chosen path's) */
    int chosen_room = 0;
    for (size_t i = 0; i < n; i++)
        chosen_room |= v[i].slot == slot && v[i].room;
    if (!chosen_room && pace_at != TERN_TS_INF)
        c->snd.pace_until = c->snd.pace_until ? TERN_MIN(c->snd.pace_until, pace_at) : pace_at;
    return slot;
}

void tern_mpsched_on_pto(tern_conn *c, int space, tern_tstamp now)
{
    if (!c->mpd || space < TERN_SPACE_APP)
        return;
    int slot = tern_mps_slot_of(c, tern_mps_path_id_of(c, space));
    if (slot < 0 || tern_recovery_pto_count(&c->rec, space) < TERN_MPSCHED_FAIL_PTOS)
        return;
    tern_path *p = tern_conn_path_slot(c, slot);
    if (p->mp_failing || !tern_mpsched_other_usable(c, slot))
        return;
    p->mp_failing = 1;
    p->mp_failures++;
    /* what it carries goes again on the other paths now, not after their loss timers */
    tern_recovery_declare_path_lost(&c->rec, (uint8_t)slot, now);
    p->cc.bytes_in_flight = 0;
    TERN_LOG(c, "path %d (path ID %u) failing: in-flight data re-sent on the other paths", slot,
             (unsigned)p->mp_id);
    tern_conn_wake(c);
}

void tern_mpsched_on_ack(tern_conn *c, int space)
{
    if (!c->mpd || space < TERN_SPACE_APP || tern_recovery_pto_count(&c->rec, space))
        return;
    int slot = tern_mps_slot_of(c, tern_mps_path_id_of(c, space));
    if (slot >= 0)
        tern_conn_path_slot(c, slot)->mp_failing = 0;
}
