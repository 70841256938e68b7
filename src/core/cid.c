/* Connection ID bookkeeping (RFC 9000 §5.1, §19.15, §19.16): the CIDs we issue and the peer's, with
 * tables bounded so that nothing a peer sends can make us store more than the bounds of cid.h
 * (the retire queue and the lingering CIDs take heap only while they hold something), and
 * per-path ownership of peer CIDs so that a CID is never used on two paths (§9.5). */
#include "cid.h"

#include <stdlib.h>

/* Tables start with room for two CIDs and double up to their bound: a handshake brings one or
 * two, and a peer's active_connection_id_limit (often 2, 4 or 8) the rest at once. */
#define CID_TABLE_FIRST 2

/* Makes room in `*e` (`*cap` entries, `n` used) for one more, growing it by doubling up to
 * `bound` (> n). Returns 0 or TERN_ERR_NOMEM (the table unchanged). */
static int table_reserve(tern_cid_entry **e, size_t *cap, size_t n, size_t bound)
{
    if (n < *cap)
        return 0;
    size_t ncap = TERN_MIN(*cap ? 2 * *cap : (size_t)CID_TABLE_FIRST, bound);
    if (ncap <= n)
        return TERN_ERR_NOMEM;
    tern_cid_entry *v = realloc(*e, ncap * sizeof(*v));
    if (!v)
        return TERN_ERR_NOMEM;
    *e = v;
    *cap = ncap;
    return 0;
}

/* ---- CIDs we issue --------------------------------------------------------------------------- */

void tern_local_cids_init(tern_local_cids *l, size_t cid_len)
{
    memset(l, 0, sizeof(*l));
    l->cid_len = cid_len;
}

void tern_local_cids_free(tern_local_cids *l)
{
    free(l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

int tern_local_cids_reserve(tern_local_cids *l, size_t n)
{
    n = TERN_MIN(n, (size_t)TERN_MAX_LOCAL_CIDS);
    if (n <= l->cap)
        return 0;
    tern_cid_entry *v = realloc(l->e, n * sizeof(*v));
    if (!v)
        return TERN_ERR_NOMEM;
    l->e = v;
    l->cap = n;
    return 0;
}

tern_cid_entry *tern_local_cids_add(tern_local_cids *l, const tern_cid *cid,
                                    const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    if (l->n >= TERN_MAX_LOCAL_CIDS || !cid || cid->len > TERN_MAX_CID_LEN)
        return NULL;
    if (table_reserve(&l->e, &l->cap, l->n, TERN_MAX_LOCAL_CIDS))
        return NULL;
    tern_cid_entry *e = &l->e[l->n++];
    memset(e, 0, sizeof(*e));
    e->seq = l->next_seq++;
    e->cid = *cid;
    if (token) {
        memcpy(e->token, token, TERN_RESET_TOKEN_LEN);
        e->has_token = 1;
    }
    e->path_id = TERN_CID_UNUSED;
    e->state = e->seq == 0 ? TERN_CID_ST_SENT : TERN_CID_ST_NEW;
    if (e->state == TERN_CID_ST_NEW)
        l->unannounced++;
    return e;
}

static tern_cid_entry *local_find_seq(tern_local_cids *l, uint64_t seq)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].seq == seq)
            return &l->e[i];
    return NULL;
}

int tern_local_cids_retire(tern_local_cids *l, uint64_t seq, const tern_cid *arrived_on,
                           tern_cid_entry *removed)
{
    if (seq >= l->next_seq)
        return TERN_ERR_PROTO; /* never issued */
    tern_cid_entry *e = local_find_seq(l, seq);
    if (!e)
        return 1;
    if (arrived_on && tern_cid_eq(&e->cid, arrived_on))
        return TERN_ERR_PROTO; /* the packet's own DCID */
    if (removed)
        *removed = *e;
    if (e->state == TERN_CID_ST_NEW)
        l->unannounced--;
    /* keep the table in sequence order so that lookups stay predictable */
    size_t i = (size_t)(e - l->e);
    memmove(&l->e[i], &l->e[i + 1], (l->n - i - 1) * sizeof(l->e[0]));
    l->n--;
    return 0;
}

int tern_cid_linger_add(tern_cid_linger *l, const tern_cid *cid, tern_tstamp until,
                        tern_cid *evicted)
{
    if (!l->s && !(l->s = malloc(sizeof(*l->s)))) {
        *evicted = *cid; /* unrouted at once, as the oldest is at the bound */
        return 1;
    }
    int out = 0;
    tern_cid_linger_slots *s = l->s;
    if (l->n == TERN_CID_LINGER) {
        *evicted = s->cid[0];
        memmove(&s->cid[0], &s->cid[1], (l->n - 1) * sizeof(s->cid[0]));
        memmove(&s->until[0], &s->until[1], (l->n - 1) * sizeof(s->until[0]));
        l->n--;
        out = 1;
    }
    s->cid[l->n] = *cid;
    s->until[l->n] = until;
    l->n++;
    return out;
}

int tern_cid_linger_contains(const tern_cid_linger *l, const tern_cid *cid)
{
    for (size_t i = 0; i < l->n; i++)
        if (tern_cid_eq(&l->s->cid[i], cid))
            return 1;
    return 0;
}

tern_tstamp tern_cid_linger_next(const tern_cid_linger *l)
{
    tern_tstamp t = TERN_TS_INF;
    for (size_t i = 0; i < l->n; i++)
        t = TERN_MIN(t, l->s->until[i]);
    return t;
}

int tern_cid_linger_pop_due(tern_cid_linger *l, tern_tstamp now, tern_cid *out)
{
    tern_cid_linger_slots *s = l->s;
    for (size_t i = 0; i < l->n; i++) {
        if (s->until[i] > now)
            continue;
        *out = s->cid[i];
        memmove(&s->cid[i], &s->cid[i + 1], (l->n - i - 1) * sizeof(s->cid[0]));
        memmove(&s->until[i], &s->until[i + 1], (l->n - i - 1) * sizeof(s->until[0]));
        if (--l->n == 0)
            tern_cid_linger_free(l);
        return 1;
    }
    return 0;
}

void tern_cid_linger_free(tern_cid_linger *l)
{
    free(l->s);
    l->s = NULL;
    l->n = 0;
}

size_t tern_local_cids_count(const tern_local_cids *l)
{
    return l->n;
}

int tern_local_cids_contains(const tern_local_cids *l, const tern_cid *cid)
{
    for (size_t i = 0; i < l->n; i++)
        if (tern_cid_eq(&l->e[i].cid, cid))
            return 1;
    return 0;
}

tern_cid_entry *tern_local_cids_next_unannounced(tern_local_cids *l)
{
    if (!l->unannounced)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].state == TERN_CID_ST_NEW && l->e[i].seq > 0)
            return &l->e[i];
    return NULL;
}

void tern_local_cids_on_announced(tern_local_cids *l, uint64_t seq)
{
    tern_cid_entry *e = local_find_seq(l, seq);
    if (e && e->state == TERN_CID_ST_NEW) {
        e->state = TERN_CID_ST_SENT;
        l->unannounced--;
    }
}

void tern_local_cids_on_announce_lost(tern_local_cids *l, uint64_t seq)
{
    tern_cid_entry *e = local_find_seq(l, seq);
    if (e && seq > 0 && e->state == TERN_CID_ST_SENT) {
        e->state = TERN_CID_ST_NEW;
        l->unannounced++;
    }
}

static void local_held(tern_local_cids *l, tern_cid_entry *e)
{
    if (e->state == TERN_CID_ST_NEW && e->seq > 0)
        l->unannounced--;
    e->state = TERN_CID_ST_HELD;
}

void tern_local_cids_on_announce_acked(tern_local_cids *l, uint64_t seq)
{
    tern_cid_entry *e = local_find_seq(l, seq);
    if (e)
        local_held(l, e);
}

void tern_local_cids_on_used(tern_local_cids *l, const tern_cid *cid)
{
    for (size_t i = 0; i < l->n; i++)
        if (tern_cid_eq(&l->e[i].cid, cid)) {
            local_held(l, &l->e[i]);
            return;
        }
}

/* ---- CIDs the peer issued -------------------------------------------------------------------- */

/* Whether `seq` arrived before. Sequence numbers far below the newest are taken as seen: the worst
 * outcome is one needless RETIRE_CONNECTION_ID, never a retired CID used again. */
static int peer_seen(const tern_peer_cids *p, uint64_t seq)
{
    if (seq > p->highest_seq)
        return 0;
    uint64_t d = p->highest_seq - seq;
    return d >= 64 || ((p->seen_mask >> d) & 1);
}

static void peer_mark_seen(tern_peer_cids *p, uint64_t seq)
{
    if (seq > p->highest_seq) {
        uint64_t shift = seq - p->highest_seq;
        p->seen_mask = shift >= 64 ? 0 : p->seen_mask << shift;
        p->highest_seq = seq;
    }
    p->seen_mask |= 1ull << (p->highest_seq - seq);
}

void tern_peer_cids_init(tern_peer_cids *p, uint64_t limit)
{
    memset(p, 0, sizeof(*p));
    p->seen_mask = 1; /* seq 0 comes with the handshake */
    p->limit = TERN_MIN(limit, (uint64_t)TERN_MAX_PEER_CIDS);
    if (p->limit < 2)
        p->limit = 2; /* active_connection_id_limit cannot be below 2 (§18.2) */
}

static tern_cid_entry *peer_find_seq(tern_peer_cids *p, uint64_t seq)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].seq == seq)
            return &p->e[i];
    return NULL;
}

static void peer_token(tern_peer_cids *p, const tern_cid_entry *e, int added)
{
    if (p->on_token && e->has_token)
        p->on_token(p->token_ud, e->token, added);
}

static void peer_remove(tern_peer_cids *p, tern_cid_entry *e)
{
    peer_token(p, e, 0);
    size_t i = (size_t)(e - p->e);
    memmove(&p->e[i], &p->e[i + 1], (p->n - i - 1) * sizeof(p->e[0]));
    p->n--;
}

int tern_retire_queue_push(uint64_t *q, size_t *n, size_t cap, uint64_t seq)
{
    for (size_t i = 0; i < *n; i++)
        if (q[i] == seq)
            return 0;
    if (*n >= cap)
        return -1;
    q[(*n)++] = seq;
    return 0;
}

/* Queues a RETIRE_CONNECTION_ID, the queue growing by doubling up to its bound (retirements come
 * with migrations and retire_prior_to, never per packet). Returns 0, -1 when the queue is full, or
 * TERN_ERR_NOMEM. */
#define RETIRE_QUEUE_FIRST 4
static int retire_push(tern_peer_cids *p, uint64_t seq)
{
    if (p->retire_n == p->retire_cap && p->retire_cap < TERN_MAX_RETIRE_QUEUE) {
        size_t ncap = p->retire_cap ? 2 * p->retire_cap : RETIRE_QUEUE_FIRST;
        ncap = TERN_MIN(ncap, (size_t)TERN_MAX_RETIRE_QUEUE);
        uint64_t *q = realloc(p->retire_queue, ncap * sizeof(*q));
        if (!q)
            return TERN_ERR_NOMEM;
        p->retire_queue = q;
        p->retire_cap = ncap;
    }
    return tern_retire_queue_push(p->retire_queue, &p->retire_n, p->retire_cap, seq);
}

static void retire_queue_free(tern_peer_cids *p)
{
    free(p->retire_queue);
    p->retire_queue = NULL;
    p->retire_n = p->retire_cap = 0;
}

void tern_peer_cids_free(tern_peer_cids *p)
{
    free(p->e);
    p->e = NULL;
    p->n = p->cap = 0;
    retire_queue_free(p);
}

int tern_peer_cids_set_initial(tern_peer_cids *p, const tern_cid *cid)
{
    tern_cid_entry *e = peer_find_seq(p, 0);
    if (!e) {
        if (p->n >= p->limit || table_reserve(&p->e, &p->cap, p->n, p->limit))
            return TERN_ERR_NOMEM;
        /* seq 0 sorts first */
        memmove(&p->e[1], &p->e[0], p->n * sizeof(p->e[0]));
        p->n++;
        e = &p->e[0];
        memset(e, 0, sizeof(*e));
        e->path_id = 0;
    }
    e->cid = *cid;
    p->zero_len = cid->len == 0;
    return 0;
}

void tern_peer_cids_set_initial_token(tern_peer_cids *p, const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    tern_cid_entry *e = peer_find_seq(p, 0);
    if (!e)
        return;
    peer_token(p, e, 0);
    memcpy(e->token, token, TERN_RESET_TOKEN_LEN);
    e->has_token = 1;
    peer_token(p, e, 1);
}

int tern_peer_cids_on_new(tern_peer_cids *p, uint64_t seq, uint64_t retire_prior_to,
                          const tern_cid *cid, const uint8_t token[TERN_RESET_TOKEN_LEN],
                          uint32_t *retired_path_mask, uint64_t *terr)
{
    *retired_path_mask = 0;
    if (cid->len < 1 || cid->len > TERN_MAX_CID_LEN || retire_prior_to > seq ||
        seq > TERN_MAX_VARINT) {
        *terr = TERN_TE_FRAME_ENCODING_ERROR;
        return TERN_ERR_PROTO;
    }
    if (p->zero_len) {
        *terr = TERN_TE_PROTOCOL_VIOLATION;
        return TERN_ERR_PROTO;
    }
    /* Validate against what is stored before changing anything. */
    int duplicate = 0;
    for (size_t i = 0; i < p->n; i++) {
        const tern_cid_entry *e = &p->e[i];
        int same_cid = tern_cid_eq(&e->cid, cid);
        if (e->seq == seq) {
            int same_token = e->has_token && memcmp(e->token, token, TERN_RESET_TOKEN_LEN) == 0;
            if (!same_cid || !same_token) {
                *terr = TERN_TE_PROTOCOL_VIOLATION;
                return TERN_ERR_PROTO;
            }
            duplicate = 1;
        } else if (same_cid) {
            *terr = TERN_TE_PROTOCOL_VIOLATION;
            return TERN_ERR_PROTO;
        }
    }
    if (retire_prior_to > p->retire_prior_to) {
        p->retire_prior_to = retire_prior_to;
        size_t i = 0;
        while (i < p->n) {
            tern_cid_entry *e = &p->e[i];
            if (e->seq >= retire_prior_to) {
                i++;
                continue;
            }
            int rv = retire_push(p, e->seq);
            if (rv != 0) {
                *terr = rv == TERN_ERR_NOMEM ? TERN_TE_INTERNAL_ERROR
                                             : TERN_TE_CONNECTION_ID_LIMIT_ERROR;
                return rv == TERN_ERR_NOMEM ? rv : TERN_ERR_PROTO;
            }
            if (e->path_id != TERN_CID_UNUSED && e->path_id < 32)
                *retired_path_mask |= 1u << e->path_id;
            peer_remove(p, e);
        }
    }
    if (duplicate)
        return 0;
    if (seq < p->retire_prior_to || peer_seen(p, seq)) {
        /* Retired already (by an earlier retire_prior_to or by us): retire without using it. */
        p->stale_announcements++;
        int rv = retire_push(p, seq);
        if (rv != 0) {
            *terr =
                rv == TERN_ERR_NOMEM ? TERN_TE_INTERNAL_ERROR : TERN_TE_CONNECTION_ID_LIMIT_ERROR;
            return rv == TERN_ERR_NOMEM ? rv : TERN_ERR_PROTO;
        }
        return 0;
    }
    if (p->n + 1 > p->limit) {
        *terr = TERN_TE_CONNECTION_ID_LIMIT_ERROR;
        return TERN_ERR_PROTO;
    }
    if (table_reserve(&p->e, &p->cap, p->n, p->limit)) {
        *terr = TERN_TE_INTERNAL_ERROR;
        return TERN_ERR_NOMEM;
    }
    /* keep sequence order: take() hands out the lowest spare first */
    size_t at = p->n;
    while (at > 0 && p->e[at - 1].seq > seq)
        at--;
    memmove(&p->e[at + 1], &p->e[at], (p->n - at) * sizeof(p->e[0]));
    p->n++;
    tern_cid_entry *e = &p->e[at];
    memset(e, 0, sizeof(*e));
    e->seq = seq;
    e->cid = *cid;
    memcpy(e->token, token, TERN_RESET_TOKEN_LEN);
    e->has_token = 1;
    e->path_id = TERN_CID_UNUSED;
    peer_mark_seen(p, seq);
    peer_token(p, e, 1);
    return 0;
}

tern_cid_entry *tern_peer_cids_for_path(tern_peer_cids *p, uint8_t path_id)
{
    if (path_id == TERN_CID_UNUSED)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (p->e[i].path_id == path_id)
            return &p->e[i];
    return NULL;
}

tern_cid_entry *tern_peer_cids_take(tern_peer_cids *p, uint8_t path_id)
{
    if (path_id == TERN_CID_UNUSED)
        return NULL;
    size_t i = 0;
    while (i < p->n && p->e[i].path_id != TERN_CID_UNUSED)
        i++;
    if (i == p->n)
        return NULL;
    uint64_t seq = p->e[i].seq;
    /* Retiring the old CID shifts the table: look the new one up again by sequence number. */
    tern_peer_cids_retire_path(p, path_id);
    tern_cid_entry *e = peer_find_seq(p, seq);
    e->path_id = path_id;
    return e;
}

int tern_peer_cids_reassign(tern_peer_cids *p, uint8_t from, uint8_t to)
{
    tern_cid_entry *e = tern_peer_cids_for_path(p, from);
    if (!e || to == TERN_CID_UNUSED || tern_peer_cids_for_path(p, to))
        return -1;
    e->path_id = to;
    return 0;
}

void tern_peer_cids_retire_path(tern_peer_cids *p, uint8_t path_id)
{
    tern_cid_entry *e = tern_peer_cids_for_path(p, path_id);
    if (!e)
        return;
    (void)retire_push(p, e->seq);
    peer_remove(p, e);
}

int tern_peer_cids_is_reset_token(const tern_peer_cids *p,
                                  const uint8_t token[TERN_RESET_TOKEN_LEN])
{
    int found = 0;
    for (size_t i = 0; i < p->n; i++) {
        const tern_cid_entry *e = &p->e[i];
        /* Compare every byte of every candidate so that timing says nothing about the token. */
        uint8_t diff = 0;
        for (size_t k = 0; k < TERN_RESET_TOKEN_LEN; k++)
            diff |= (uint8_t)(e->token[k] ^ token[k]);
        found |= (diff == 0) & e->has_token & (e->path_id != TERN_CID_UNUSED);
    }
    return found;
}

size_t tern_peer_cids_spare(const tern_peer_cids *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->e[i].path_id == TERN_CID_UNUSED;
    return n;
}

int tern_peer_cids_pop_retire(tern_peer_cids *p, uint64_t *seq)
{
    if (!p->retire_n)
        return 0;
    *seq = p->retire_queue[0];
    memmove(&p->retire_queue[0], &p->retire_queue[1], (p->retire_n - 1) * sizeof(uint64_t));
    if (--p->retire_n == 0)
        retire_queue_free(p); /* the queue takes heap again with the next retirement */
    return 1;
}

void tern_peer_cids_requeue_retire(tern_peer_cids *p, uint64_t seq)
{
    (void)retire_push(p, seq);
}
