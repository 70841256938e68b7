/* Sending: chooses what goes into each datagram (ACKs, CRYPTO, control frames, stream data, probes),
 * coalesces Initial/Handshake/1-RTT packets, pads where RFC 9000 requires it, protects the packets
 * in place and records them for loss detection. Datagrams of one call all go to one path and have
 * the same size except the last, so that the driver can hand them to UDP GSO in one system call. */
#include <stdio.h>
#include <stdlib.h>

#include "conn_internal.h"
#include "mpsched.h"

/* One packet being built inside the datagram. */
typedef struct pkt_build {
    uint8_t *start;     /* first byte of the packet */
    size_t hdr_len;     /* up to and including the packet number */
    size_t pn_len;
    size_t len_off;     /* long header: offset of the Length field; 0 for short */
    size_t payload;     /* plaintext bytes written after the header */
    size_t cap;         /* room for plaintext (tag excluded) */
    int level, space, is_long;
    tern_sent_pkt rec;
    int has_ack;
    uint8_t other_acks; /* multipath: the application spaces other than its own whose ACK or
                           PATH_ACK it carries (bit k: TERN_SPACE_APP + k) */
    uint8_t acks_copied; /* those of them that are copies: their own path carries the ACK
                            decision (tern_conn_ack_home) */
    int n_acks;         /* ACK and PATH_ACK frames it carries */
    int padded;         /* carries PADDING frames (it then counts in flight, RFC 9002 §2) */
    uint64_t ack_largest;
    /* stream data left in its send buffer, encrypted from there into its place in the payload */
    tern_crypto_piece pieces[TERN_CRYPTO_MAX_PIECES];
    size_t n_pieces;
} pkt_build;

static uint8_t *pb_cur(pkt_build *b) { return b->start + b->hdr_len + b->payload; }
static size_t pb_room(const pkt_build *b) { return b->cap - b->payload; }

static void pb_record(pkt_build *b, uint8_t type, uint64_t id, uint64_t off, uint32_t len, int fin,
                      uint16_t aux)
{
    if (b->rec.n_frames >= TERN_SENT_MAX_FRAMES)
        return;
    tern_sent_frame *f = &b->rec.frames[b->rec.n_frames++];
    f->type = type;
    f->id = id;
    f->off = off;
    f->len = len;
    f->fin = (uint8_t)fin;
    f->aux = aux;
}

/* Pacing needs a measured RTT: with only the 333 ms default, a new path would trickle its first
 * window out over a third of a second (RFC 9002 §7.7 paces on smoothed_rtt once it exists). */
static tern_tstamp pace_rtt(const tern_path *p) { return p->rtt.has_sample ? p->rtt.smoothed : 0; }

static int pb_full(const pkt_build *b) { return b->rec.n_frames >= TERN_SENT_MAX_FRAMES; }

/* PTO probes owed in any space (path IDs' included). */
static int any_probes(const tern_conn *c)
{
    for (int s = 0; s < TERN_RECOVERY_SPACES; s++) {
        const tern_pn_space_state *sp = tern_conn_sp(c, s);
        if (sp && sp->probes)
            return 1;
    }
    return 0;
}

static int level_has_keys(const tern_conn *c, int level)
{
    if (c->sp[tern_level_space(level)].discarded)
        return 0;
    const tern_keys *k = tern_conn_keys(c, level, 1);
    return k && k->aead != 0;
}

/* Skips the planned packet number of application space `space` (path ID 0's or another path
 * ID's: each has its own numbers to protect) when it comes up, and plans the next one. */
static void skip_pn_maybe(tern_conn *c, tern_pn_space_state *sp, int space)
{
    if (sp->skip_pn && sp->next_pn == sp->skip_pn) {
        tern_recovery_on_skipped(&c->rec, space, sp->next_pn);
        sp->next_pn++;
    }
    if (sp->skip_pn < sp->next_pn) {
        uint8_t r[2];
        if (c->rand(c->rand_ud, r, sizeof(r)))
            r[0] = r[1] = 0; /* the regular gap is as good, only easier to guess */
        sp->skip_pn =
            sp->next_pn + TERN_PN_SKIP_MIN + (((unsigned)r[0] << 8 | r[1]) % TERN_PN_SKIP_MIN);
    }
}

/* Starts a packet at `p` with `room` bytes available. Returns 0 when there is no room. */
static int pb_start_on(tern_conn *c, pkt_build *b, int level, uint8_t *p, size_t room, int path_idx)
{
    memset(b, 0, sizeof(*b));
    b->start = p;
    b->level = level;
    /* a path's 1-RTT packets are numbered in its path ID's space */
    tern_path *path = tern_conn_path_slot(c, path_idx);
    b->space = level == TERN_LEVEL_1RTT ? tern_path_space(path) : tern_level_space(level);
    tern_pn_space_state *sp = tern_conn_sp(c, b->space);
    const tern_sentq *rq = tern_recovery_q(&c->rec, b->space);
    if (!sp || !rq)
        return 0; /* an abandoned path ID's */
    if (b->space >= TERN_SPACE_APP)
        skip_pn_maybe(c, sp, b->space);
    uint64_t pn = sp->next_pn;
    b->pn_len = tern_pkt_pn_len(pn, rq->largest_acked);
    /* With several paths in use, packets overtake each other by far more than the reordering the
     * packet number encoding allows for (RFC 9000 §17.1 assumes one path): a packet on a slow
     * path can arrive after hundreds sent later on a fast one. Use the full four bytes then. */
    if (level == TERN_LEVEL_1RTT && c->paths.multipath_pn)
        b->pn_len = 4;
    tern_cid dcid;
    if (level == TERN_LEVEL_1RTT && path->mp_id) {
        /* a path ID above 0 sends with the CIDs the peer issued for it */
        const tern_mp_peer_cid *e = tern_mp_peer_cid_of(c, path->mp_id);
        if (!e)
            return 0;
        dcid = e->cid;
    } else {
        const tern_cid_entry *dcid_e = tern_peer_cids_for_path(&c->cids.peer, (uint8_t)path_idx);
        if (!dcid_e && c->is_server)
            /* RFC 9000 §9.5: with no spare CID, a server may answer a new peer address with the
             * current one (the peer chose to come from there) */
            dcid_e = tern_peer_cids_for_path(&c->cids.peer, (uint8_t)c->paths.active);
        if (!dcid_e)
            return 0; /* no connection ID for this path (yet) */
        dcid = dcid_e->cid;
    }
    const tern_cid *scid = &c->cids.local.e[0].cid;
    size_t hl;
    if (level == TERN_LEVEL_1RTT && !tern_conn_tx_limit_ok(c))
        return 0;
    if (level == TERN_LEVEL_1RTT) {
        hl = tern_pkt_write_short(p, room, &dcid, pn, b->pn_len, c->keys.tx_phase, 0);
    } else {
        int type = level == TERN_LEVEL_INITIAL ? TERN_PKT_INITIAL
                   : level == TERN_LEVEL_0RTT  ? TERN_PKT_0RTT
                                               : TERN_PKT_HANDSHAKE;
        hl = tern_pkt_write_long(p, room, type, c->version, &dcid, scid,
                                 type == TERN_PKT_INITIAL ? c->retry.token : NULL,
                                 type == TERN_PKT_INITIAL ? c->retry.token_len : 0, pn, b->pn_len,
                                 &b->len_off);
        b->is_long = 1;
    }
    if (!hl || hl + TERN_AEAD_TAG_LEN + 8 > room)
        return 0;
    b->hdr_len = hl;
    b->cap = room - hl - TERN_AEAD_TAG_LEN;
    b->rec.pn = pn;
    b->rec.path_id = (uint8_t)path_idx;
    return 1;
}

static int pb_start(tern_conn *c, pkt_build *b, int level, uint8_t *p, size_t room)
{
    return pb_start_on(c, b, level, p, room, c->snd.path);
}

/* ---- frame writers over the builder -------------------------------------------------------------- */

/* The ACK frame of `space`'s received packets (the sent record keeps the space in aux); for a
 * path ID above 0 a PATH_ACK, whose body is the ACK frame's after the Path Identifier. Returns
 * 1 when written. */
static int write_ack(tern_conn *c, pkt_build *b, int space, tern_tstamp now)
{
    tern_ackr *a = &tern_conn_sp(c, space)->ackr;
    if (!a->has_largest || pb_full(b))
        return 0;
    size_t n = tern_ackr_write_path(a, pb_cur(b), pb_room(b), now, 3,
                                    tern_mps_path_id_of(c, space));
    if (!n)
        return 0;
    if (space == b->space) {
        b->has_ack = 1;
        b->ack_largest = a->largest;
    } else {
        uint8_t bit = (uint8_t)(1u << (space - TERN_SPACE_APP));
        int home = tern_conn_ack_home(c, space);
        if (home >= 0 && home != b->rec.path_id)
            b->acks_copied |= bit;
        else
            b->other_acks |= bit;
    }
    b->n_acks++;
    b->payload += n;
    /* the peer's key update is acknowledged once an ACK sent after it covers it (in any path
     * ID's space: the phase is the connection's) */
    uint64_t first = tern_conn_sp(c, space)->rx_phase_first_pn;
    if (b->level == TERN_LEVEL_1RTT && first != UINT64_MAX && a->largest >= first)
        c->keys.rx_update_unacked = 0;
    pb_record(b, TERN_FT_ACK, 0, a->largest, 0, 0, (uint16_t)space);
    return 1;
}

static void add_ack(tern_conn *c, pkt_build *b, tern_tstamp now)
{
    (void)write_ack(c, b, b->space, now);
}

int tern_conn_ack_due(const tern_conn *c, int space, tern_tstamp now)
{
    const tern_pn_space_state *sp = tern_conn_sp(c, space);
    return sp && tern_ackr_should_send(&sp->ackr, now,
                                       space == TERN_SPACE_APP && tern_conn_ack_sparse(c));
}

/* Multipath ACK routing (docs/multipath.md): each path ID's ACK decisions are carried by its own
 * path while that path is usable, so that a path going silent takes only its own
 * acknowledgements with it, and a receiver keeps sending on every path it receives on (a dead
 * interface's send error shows at once). The scheduler sends there when the decision falls due
 * (mpsched.h). Packets on other paths carry a copy of a pending ACK once per decision, where there
 * is room: a faster path may bring it sooner, but the copy neither settles the decision nor
 * counts as one. A path ID without a usable path of its own has its ACKs go on any path, the
 * first one settling the decision. */
int tern_conn_ack_home(const tern_conn *c, int space)
{
    if (!c->mpd || !c->hs.confirmed || space < TERN_SPACE_APP)
        return -1;
    int slot = tern_mps_slot_of(c, tern_mps_path_id_of(c, space));
    return slot >= 0 && tern_mpsched_carries_acks(c, slot) ? slot : -1;
}

/* Multipath: a 1-RTT packet carries the acknowledgements pending in the other path IDs' spaces
 * (PATH_ACK, or ACK for path ID 0): those without a path of their own, and a copy of the others
 * once per ACK decision (see tern_conn_ack_home). */
static void add_other_acks(tern_conn *c, pkt_build *b, tern_tstamp now)
{
    if (!c->mpd || b->level != TERN_LEVEL_1RTT)
        return;
    for (int s = TERN_SPACE_APP; s < TERN_RECOVERY_SPACES; s++) {
        tern_pn_space_state *sp = tern_conn_sp(c, s);
        if (s == b->space || !sp || !sp->ackr.has_largest)
            continue;
        if (((c->snd.ack_copied >> (s - TERN_SPACE_APP)) & 1) && tern_conn_ack_home(c, s) >= 0)
            continue;
        if (sp->ackr.ack_pending || tern_ackr_repeat_due(&sp->ackr, now))
            (void)write_ack(c, b, s, now);
    }
}

/* 1 when another path ID's space without a path of its own has an ACK to send now (multipath);
 * those with one are sent there. */
static int other_acks_due(const tern_conn *c, int space, tern_tstamp now)
{
    if (!c->mpd)
        return 0;
    for (int s = TERN_SPACE_APP; s < TERN_RECOVERY_SPACES; s++)
        if (s != space && tern_conn_ack_due(c, s, now) && tern_conn_ack_home(c, s) < 0)
            return 1;
    return 0;
}

static int add_crypto(tern_conn *c, pkt_build *b)
{
    if (!c->hs.crypto_snd)
        return 0;
    tern_sendbuf *sb = &c->hs.crypto_snd[b->level];
    int added = 0;
    while (!pb_full(b)) {
        uint64_t off;
        size_t len;
        int fin, is_new;
        if (!tern_sendbuf_next(sb, UINT64_MAX, 16384, &off, &len, &fin, &is_new) || len == 0)
            break;
        size_t hdr = tern_frame_write_crypto_hdr(pb_cur(b), pb_room(b), off, 1);
        if (!hdr || pb_room(b) < hdr + 1)
            break;
        size_t max = pb_room(b) - hdr - 1; /* the length varint may grow by a byte */
        if (len > max)
            len = max;
        if (len == 0)
            break;
        hdr = tern_frame_write_crypto_hdr(pb_cur(b), pb_room(b), off, len);
        uint8_t *dst = pb_cur(b) + hdr;
        tern_sendbuf_copy(sb, off, len, dst);
        tern_sendbuf_on_sent(sb, off, len, 0);
        b->payload += hdr + len;
        pb_record(b, TERN_FT_CRYPTO, 0, off, (uint32_t)len, 0, (uint16_t)b->level);
        added = 1;
    }
    return added;
}

/* The control frames stream s owes (its TERN_SF_NEED_* flags) that fit. Returns 1 when any was
 * added. */
static int add_stream_control(pkt_build *b, tern_stream *s)
{
    int added = 0;
    size_t n;
    if (s->flags & TERN_SF_NEED_RESET) {
        n = tern_frame_write_reset_stream(pb_cur(b), pb_room(b), (uint64_t)s->id, s->reset_error,
                                          s->reset_final_size);
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_RESET_STREAM, (uint64_t)s->id, 0, 0, 0, 0);
            s->flags &= ~TERN_SF_NEED_RESET;
            added = 1;
        }
    }
    if ((s->flags & TERN_SF_NEED_STOP_SENDING) && !pb_full(b)) {
        n = tern_frame_write_stop_sending(pb_cur(b), pb_room(b), (uint64_t)s->id, s->stop_error);
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_STOP_SENDING, (uint64_t)s->id, 0, 0, 0, 0);
            s->flags &= ~TERN_SF_NEED_STOP_SENDING;
            added = 1;
        }
    }
    if ((s->flags & TERN_SF_NEED_MAX_STREAM_DATA) && !pb_full(b)) {
        n = tern_frame_write_max_stream_data(pb_cur(b), pb_room(b), (uint64_t)s->id,
                                             s->max_recv_next);
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_MAX_STREAM_DATA, (uint64_t)s->id, s->max_recv_next, 0, 0, 0);
            tern_stream_max_stream_data_sent(s, s->max_recv_next);
            s->flags &= ~TERN_SF_NEED_MAX_STREAM_DATA;
            added = 1;
        }
    }
    if ((s->flags & TERN_SF_NEED_STREAM_DATA_BLOCKED) && !pb_full(b)) {
        n = tern_frame_write_stream_data_blocked(pb_cur(b), pb_room(b), (uint64_t)s->id,
                                                 s->max_send);
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_STREAM_DATA_BLOCKED, (uint64_t)s->id, s->max_send, 0, 0, 0);
            s->flags &= ~TERN_SF_NEED_STREAM_DATA_BLOCKED;
            added = 1;
        }
    }
    return added;
}

/* Control frames of the application space. Returns 1 when any was added. */
static int add_control(tern_conn *c, pkt_build *b, tern_tstamp now)
{
    int added = 0;
    size_t n;
    if (c->ackf.peer_ok) {
        const tern_path *pp = tern_conn_path(c);
        tern_ackfreq_input in = {pp->cc.cwnd, tern_path_mtu(pp), pp->cc.bytes_in_flight,
                                 pp->cc.cwnd < pp->cc.ssthresh,
                                 pp->rtt.has_sample ? pp->rtt.smoothed : 0,
                                 c->tp.peer_max_ack_delay, c->rec.pkt_thresh};
        tern_ackfreq_update(&c->ackf, &in, now);
        uint64_t seq;
        if (c->ackf.pending && !pb_full(b) &&
            (n = tern_ackfreq_write(&c->ackf, pb_cur(b), pb_room(b), now, &seq))) {
            b->payload += n;
            pb_record(b, TERN_FT_ACK_FREQUENCY, 0, seq, 0, 0, 0);
            c->stats.ack_frequency_sent++;
            added = 1;
        }
    }
    if (c->tok.pending && !pb_full(b) &&
        (n = tern_conn_token_write(c, pb_cur(b), pb_room(b), now))) {
        b->payload += n;
        pb_record(b, TERN_FT_NEW_TOKEN, 0, 0, 0, 0, 0);
        added = 1;
    }
    if (c->hs.done_pending && c->is_server && !pb_full(b)) {
        n = tern_frame_write_handshake_done(pb_cur(b), pb_room(b));
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_HANDSHAKE_DONE, 0, 0, 0, 0, 0);
            c->hs.done_pending = 0;
            added = 1;
        }
    }
    if (c->flow.need_max_data && !pb_full(b)) {
        n = tern_frame_write_max_data(pb_cur(b), pb_room(b), c->flow.max_data_next);
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_MAX_DATA, 0, c->flow.max_data_next, 0, 0, 0);
            /* the peer may use this credit from now on, not before (RFC 9000 §4.1) */
            c->flow.max_data_recv = TERN_MAX(c->flow.max_data_recv, c->flow.max_data_next);
            c->flow.need_max_data = 0;
            added = 1;
        }
    }
    if (c->flow.need_data_blocked && !pb_full(b)) {
        n = tern_frame_write_data_blocked(pb_cur(b), pb_room(b), c->flow.max_data_send);
        if (n) {
            b->payload += n;
            pb_record(b, TERN_FT_DATA_BLOCKED, 0, c->flow.max_data_send, 0, 0, 0);
            c->flow.need_data_blocked = 0;
            added = 1;
        }
    }
    for (int uni = 0; uni < 2; uni++) {
        if (c->streams.set.need_max_streams[uni] && !pb_full(b)) {
            uint64_t max = c->streams.set.max_remote_next[uni];
            n = tern_frame_write_max_streams(pb_cur(b), pb_room(b), !uni, max);
            if (n) {
                b->payload += n;
                pb_record(b, uni ? TERN_FT_MAX_STREAMS_UNI : TERN_FT_MAX_STREAMS_BIDI, 0, max, 0, 0,
                          0);
                tern_streams_max_streams_sent(&c->streams.set, uni, max);
                c->streams.set.need_max_streams[uni] = 0;
                added = 1;
            }
        }
        if (c->streams.set.need_streams_blocked[uni] && !pb_full(b)) {
            n = tern_frame_write_streams_blocked(pb_cur(b), pb_room(b), !uni,
                                                 c->streams.set.max_local[uni]);
            if (n) {
                b->payload += n;
                pb_record(b, uni ? TERN_FT_STREAMS_BLOCKED_UNI : TERN_FT_STREAMS_BLOCKED_BIDI, 0,
                          c->streams.set.max_local[uni], 0, 0, 0);
                c->streams.set.need_streams_blocked[uni] = 0;
                added = 1;
            }
        }
    }
    const tern_cid_entry *e;
    while (!pb_full(b) && (e = tern_local_cids_next_unannounced(&c->cids.local)) != NULL) {
        n = tern_frame_write_new_cid(pb_cur(b), pb_room(b), e->seq, c->cids.local.retire_prior_to,
                                     &e->cid, e->token);
        if (!n)
            break;
        b->payload += n;
        pb_record(b, TERN_FT_NEW_CONNECTION_ID, e->seq, 0, 0, 0, 0);
        tern_local_cids_on_announced(&c->cids.local, e->seq);
        added = 1;
    }
    uint64_t seq;
    while (!pb_full(b) && pb_room(b) >= 10 && tern_peer_cids_pop_retire(&c->cids.peer, &seq)) {
        n = tern_frame_write_retire_cid(pb_cur(b), pb_room(b), seq);
        if (!n) {
            tern_peer_cids_requeue_retire(&c->cids.peer, seq);
            break;
        }
        b->payload += n;
        pb_record(b, TERN_FT_RETIRE_CONNECTION_ID, seq, 0, 0, 0, 0);
        added = 1;
    }
    if (b->level == TERN_LEVEL_1RTT) {
        tern_sent_frame mf;
        while (!pb_full(b) && (n = tern_mp_write_next(c, pb_cur(b), pb_room(b), &mf)) != 0) {
            b->payload += n;
            pb_record(b, mf.type, mf.id, mf.off, 0, 0, mf.aux);
            added = 1;
        }
    }
    if (c->streams.ctrl_pending) {
        /* only the queued streams: with many streams open, a scan of all of them per packet
         * would cost more than the packet */
        tern_streams *m = &c->streams.set;
        for (tern_stream *s = m->ctrlq_head, *next; s && !pb_full(b) && pb_room(b) >= 32;
             s = next) {
            next = s->cnext;
            added |= add_stream_control(b, s);
            if (!(s->flags & (TERN_SF_NEED_RESET | TERN_SF_NEED_STOP_SENDING |
                              TERN_SF_NEED_MAX_STREAM_DATA | TERN_SF_NEED_STREAM_DATA_BLOCKED)))
                tern_streams_ctrlq_remove(m, s);
        }
        c->streams.ctrl_pending =
            m->ctrlq_head || m->need_max_streams[0] || m->need_max_streams[1];
    }
    return added;
}

/* The app has bytes beyond the peer's limit for the stream: say so once per limit. */
static void note_stream_blocked(tern_conn *c, tern_stream *s)
{
    if (s->snd.end > s->max_send && s->blocked_at != s->max_send) {
        s->blocked_at = s->max_send;
        s->flags |= TERN_SF_NEED_STREAM_DATA_BLOCKED;
        tern_conn_stream_ctrl(c, s);
    }
}

/* Puts send-buffer bytes [off, off+len) at the end of the payload. They stay where they are (the
 * ring, or the application's memory for pieces written by reference) and are encrypted from there
 * when the packet is sealed (before anything can touch them: the packets of a datagram are sealed
 * before tern_conn_send returns); only what the packet has no piece left for, or everything when
 * qlog wants to read the plaintext frames, is copied in. */
static void pb_stream_bytes(tern_conn *c, pkt_build *b, const tern_sendbuf *sb, uint64_t off,
                            size_t len)
{
    const uint8_t *p;
    size_t n;
    if (b->space >= TERN_SPACE_APP)
        tern_conn_path_slot(c, b->rec.path_id)->mp_stream_bytes += len;
    while (len && !c->qlog && b->n_pieces < TERN_CRYPTO_MAX_PIECES &&
           (n = tern_sendbuf_span(sb, off, len, &p)) > 0) {
        b->pieces[b->n_pieces++] = (tern_crypto_piece){b->payload, p, n};
        b->payload += n;
        off += n;
        len -= n;
    }
    tern_sendbuf_copy(sb, off, len, pb_cur(b));
    b->payload += len;
}

static int add_stream_data(tern_conn *c, pkt_build *b)
{
    int added = 0;
    tern_stream *retry_later = NULL;
    while (!pb_full(b) && pb_room(b) > 24) {
        tern_stream *s = tern_streams_sendq_pop(&c->streams.set);
        if (!s)
            break;
        if (s->flags & TERN_SF_RESET_SENT)
            continue;
        uint64_t off;
        size_t len;
        int fin, is_new;
        size_t max_hdr = tern_frame_stream_hdr_len((uint64_t)s->id, s->snd.sent + 65536, 16384, 1);
        if (pb_room(b) <= max_hdr) {
            retry_later = s;
            break;
        }
        size_t max_len = pb_room(b) - max_hdr;
        if (!tern_sendbuf_next(&s->snd, s->max_send, max_len, &off, &len, &fin, &is_new)) {
            note_stream_blocked(c, s);
            continue; /* re-queued when credit arrives or the app writes */
        }
        if (is_new) {
            /* new bytes count against the connection window; `off + len` past what was sent */
            uint64_t new_bytes = off + len > s->snd.sent ? off + len - s->snd.sent : 0;
            uint64_t credit = c->flow.max_data_send > c->flow.data_sent
                                  ? c->flow.max_data_send - c->flow.data_sent
                                  : 0;
            if (new_bytes > credit) {
                uint64_t cut = new_bytes - credit;
                if (cut >= len) {
                    if (c->flow.data_blocked_sent_at != c->flow.max_data_send) {
                        c->flow.data_blocked_sent_at = c->flow.max_data_send;
                        c->flow.need_data_blocked = 1;
                    }
                    retry_later = s;
                    break;
                }
                len -= (size_t)cut;
                fin = 0;
                new_bytes = credit;
            }
            c->flow.data_sent += new_bytes;
            c->stats.stream_bytes_sent += new_bytes;
            if (b->level == TERN_LEVEL_0RTT)
                c->res.early_bytes += new_bytes;
        } else {
            c->stats.stream_bytes_resent += len;
        }
        size_t hdr = tern_frame_write_stream_hdr(pb_cur(b), pb_room(b), (uint64_t)s->id, off, len,
                                                 fin, 1);
        if (!hdr || hdr + len > pb_room(b)) {
            retry_later = s;
            break;
        }
        b->payload += hdr;
        pb_stream_bytes(c, b, &s->snd, off, len);
        tern_sendbuf_on_sent(&s->snd, off, len, fin);
        pb_record(b, TERN_FT_STREAM, (uint64_t)s->id, off, (uint32_t)len, fin, 0);
        added = 1;
        if (tern_sendbuf_has_pending(&s->snd, s->max_send))
            tern_streams_sendq_push(&c->streams.set, s);
        else
            note_stream_blocked(c, s);
    }
    if (retry_later)
        tern_streams_sendq_push(&c->streams.set, retry_later);
    return added;
}

/* Queued datagrams, oldest first, for as long as they fit (RFC 9221 §5: never retransmitted; the
 * record keeps only the tag, for the application's acked/lost report). They go ahead of new
 * stream data: a datagram is usually worth less the later it arrives. Returns 1 when any was
 * added. */
static int add_datagrams(tern_conn *c, pkt_build *b)
{
    int added = 0;
    const tern_dgram_ent *e;
    while (!pb_full(b) && (e = tern_conn_dgram_next(c)) != NULL) {
        size_t n = tern_frame_write_datagram(pb_cur(b), pb_room(b),
                                             tern_dgramq_data(&c->dgram.q, e), e->len, 1);
        if (!n)
            break; /* the next packet has room for it */
        b->payload += n;
        pb_record(b, TERN_FT_DATAGRAM, e->tag, 0, (uint32_t)e->len, 0, 0);
        tern_conn_dgram_on_sent(c);
        added = 1;
    }
    return added;
}

static int app_has_data(tern_conn *c)
{
    if (c->hs.done_pending || (c->tok.pending && c->hs.confirmed) || c->flow.need_max_data ||
        c->flow.need_data_blocked || c->streams.ctrl_pending ||
        tern_local_cids_next_unannounced(&c->cids.local) || c->cids.peer.retire_n ||
        tern_mp_pending(c))
        return 1;
    if (c->streams.set.sendq_head || tern_conn_dgram_pending(c))
        return 1;
    return tern_conn_crypto_pending(c, TERN_LEVEL_1RTT);
}

/* Fills one packet of `level`. Returns 1 when the packet carries something, 0 when empty. */
static int fill_packet(tern_conn *c, pkt_build *b, int allow_data, tern_tstamp now)
{
    tern_pn_space_state *sp = tern_conn_sp(c, b->space);
    int eliciting = 0;
    /* what cannot be recorded is never sent: it could be neither retransmitted nor acknowledged.
     * A PTO probe has a small reserve beyond the bound: with the records full of packets that
     * were all lost, it is the one thing that can still make the peer reveal those losses. */
    int can_record = sp->probes > 0 ? tern_recovery_can_record_probe(&c->rec, b->space)
                                    : tern_recovery_can_record(&c->rec, b->space);
    if (!can_record)
        allow_data = 0;
    /* a failing path's probes are PINGs: its data goes on the other paths (mpsched.h); so is the
     * keep-alive of a path left unused (migration.c) */
    tern_path *bp = tern_conn_path_slot(c, b->rec.path_id);
    int ping_only = bp->mp_failing || (bp->mp_keepalive && sp->probes > 0) ||
                    (b->level == TERN_LEVEL_1RTT && tern_mpsched_standing_by(c, b->rec.path_id));
    if (b->level == TERN_LEVEL_1RTT && ping_only)
        allow_data = 0;
    /* A 1-RTT PTO probe or PING carries our latest ACK: the one before may have been lost, and a
     * peer that only probes has nothing else to learn from that its packets arrived. Not in
     * Initial or Handshake: there an ACK repeated for a flight received long ago can be the
     * peer's first RTT sample, which RFC 9002 §5.3 takes whole, ack delay included (a lost
     * Finished resent at a 3 s PTO made a 3 s smoothed RTT, and PTOs of ~10 s); the handshake
     * completing tells the peer what the ACK would have. */
    int probing = b->level == TERN_LEVEL_1RTT && (sp->probes > 0 || c->paths.ping_pending);
    int zero_rtt = b->level == TERN_LEVEL_0RTT; /* no ACK nor CRYPTO there (RFC 9000 §12.4) */
    if (!zero_rtt &&
        (sp->ackr.ack_pending || tern_ackr_repeat_due(&sp->ackr, now) ||
         (allow_data && sp->ackr.has_largest && (sp->ackr.unacked_eliciting || probing))))
        add_ack(c, b, now);
    if (!zero_rtt)
        add_other_acks(c, b, now);
    if (allow_data && sp->probes > 0) {
        /* a probe repeats data still in flight rather than going out as a bare PING */
        int empty = b->space >= TERN_SPACE_APP
                        ? !app_has_data(c)
                        : !tern_conn_crypto_pending(c, b->level);
        if (empty)
            tern_conn_requeue_for_probe(c, b->space);
    }
    if (allow_data) {
        if (!zero_rtt)
            eliciting |= add_crypto(c, b);
        if (b->space >= TERN_SPACE_APP) {
            eliciting |= add_control(c, b, now);
            eliciting |= add_datagrams(c, b);
            eliciting |= add_stream_data(c, b);
        }
        /* a probe asks for an ACK at once (draft-ietf-quic-ack-frequency §5): the peer's ACK
         * delay, which the PTO allows for, is then spared */
        if (sp->probes > 0 && b->level == TERN_LEVEL_1RTT && c->ackf.peer_ok && pb_room(b) > 0 &&
            !pb_full(b)) {
            b->start[b->hdr_len + b->payload++] = TERN_FT_IMMEDIATE_ACK;
            pb_record(b, TERN_FT_IMMEDIATE_ACK, 0, 0, 0, 0, 0);
            c->stats.immediate_ack_sent++;
            eliciting = 1;
        }
    }
    if (!eliciting && sp->probes > 0 && can_record && pb_room(b) > 0 &&
        (allow_data || ping_only)) {
        b->start[b->hdr_len + b->payload++] = TERN_FT_PING;
        pb_record(b, TERN_FT_PING, 0, 0, 0, 0, 0);
        eliciting = 1;
        bp->mp_keepalive = 0;
    }
    /* The first packet on a new active path elicits an acknowledgement even when the window is
     * full (a PING is a few bytes): it is how the peer learns the address, and it arms the
     * loss-detection timer on the new path. */
    if (!eliciting && c->paths.ping_pending && b->level == TERN_LEVEL_1RTT && pb_room(b) > 0) {
        b->start[b->hdr_len + b->payload++] = TERN_FT_PING;
        pb_record(b, TERN_FT_PING, 0, 0, 0, 0, 0);
        eliciting = 1;
    }
    /* A key update is done only once the peer acknowledged a packet of the new phase (RFC 9001
     * §6.1, §6.2): a receiver that only sends ACKs would wait for that, and so be unable to
     * update again, until its next periodic PING. Its first packet in a new phase asks for an
     * acknowledgement. */
    if (!eliciting && !c->keys.tx_phase_elicited && c->hs.confirmed &&
        b->level == TERN_LEVEL_1RTT && can_record && pb_room(b) > 0) {
        b->start[b->hdr_len + b->payload++] = TERN_FT_PING;
        pb_record(b, TERN_FT_PING, 0, 0, 0, 0, 0);
        eliciting = 1;
    }
    if (eliciting && b->level == TERN_LEVEL_1RTT)
        c->keys.tx_phase_elicited = 1;
    /* A receiver that only acknowledges would never learn which of its ACK ranges arrived:
     * now and then one of its ACK packets asks for an acknowledgement (RFC 9000 §13.2.4). */
    if (!eliciting && b->n_acks && b->level == TERN_LEVEL_1RTT && can_record) {
        if (++c->snd.ack_only_run >= TERN_ACK_ONLY_PING_EVERY && pb_room(b) > 0) {
            b->start[b->hdr_len + b->payload++] = TERN_FT_PING;
            pb_record(b, TERN_FT_PING, 0, 0, 0, 0, 0);
            eliciting = 1;
        }
    }
    if (eliciting && b->level == TERN_LEVEL_1RTT)
        c->snd.ack_only_run = 0;
    if (eliciting && sp->probes > 0)
        sp->probes--;
    b->rec.ack_eliciting = (uint8_t)eliciting;
    return b->payload > 0;
}

/* Pads (if needed), writes Length, protects. */
static int seal_packet(tern_conn *c, pkt_build *b, size_t pad_to_payload)
{
    /* the header-protection sample needs 4 bytes after the pn start plus 16 bytes of sample */
    size_t min_payload = b->pn_len >= 4 ? 0 : 4 - b->pn_len;
    if (pad_to_payload > min_payload)
        min_payload = pad_to_payload;
    if (b->payload < min_payload) {
        memset(pb_cur(b), 0, min_payload - b->payload);
        b->payload = min_payload;
    }
    if (b->is_long &&
        tern_pkt_set_length(b->start + b->len_off, b->pn_len + b->payload + TERN_AEAD_TAG_LEN))
        return TERN_ERR_INTERNAL;
    if (c->qlog) tern_qlog_packet_sent(c, b->level, b->start, b->hdr_len, b->pn_len, b->payload,
                                       b->rec.pn, b->rec.path_id);
    /* (a packet is only built at a level with keys: level_has_keys) */
    tern_keys *k = tern_conn_keys(c, b->level, 1);
    const tern_keys *hp = b->level == TERN_LEVEL_1RTT ? &c->keys.hp_tx1 : k;
    /* a path ID's packets use the nonce with the path ID (path ID 0: RFC 9001's) */
    uint32_t path_id = (uint32_t)tern_mps_path_id_of(c, b->space);
    if (!k || tern_crypto_protect_pieces_path(k, hp, b->start, b->hdr_len, b->pn_len, b->payload,
                                              path_id, b->rec.pn, b->pieces, b->n_pieces))
        return TERN_ERR_CRYPTO;
    if (b->level == TERN_LEVEL_1RTT)
        c->keys.tx_pkts_phase++;
    return 0;
}

static size_t pkt_total(const pkt_build *b) { return b->hdr_len + b->payload + TERN_AEAD_TAG_LEN; }

/* When an application ACK that reported new ack-eliciting packets is sent again (see
 * tern_ackr_on_ack_sent): a round trip with its variance later, on paths where that is under half
 * the max_ack_delay we advertise. The peer's PTO waits that long for a lost ACK of its window; on
 * longer paths the PTO is mostly the round trip and a repeat would gain little. */
static tern_tstamp ack_repeat_at(const tern_conn *c, const tern_path *p, tern_tstamp now)
{
    const tern_rtt *rtt = &p->rtt;
    tern_tstamp after = tern_rtt_pto(rtt, 0);
    if (!rtt->has_sample || 2 * after > c->tp.local.max_ack_delay * TERN_NS_PER_MS)
        return TERN_TS_INF;
    return now + after;
}

static void commit_packet(tern_conn *c, pkt_build *b, tern_tstamp now)
{
    tern_pn_space_state *sp = tern_conn_sp(c, b->space);
    tern_path *pp = tern_conn_path_slot(c, b->rec.path_id);
    b->rec.time_sent = now;
    b->rec.size = (uint32_t)pkt_total(b);
    b->rec.in_flight = b->rec.ack_eliciting || b->padded || b->rec.n_frames > b->n_acks;
    b->rec.app_limited = 0;
    b->rec.ecn = c->snd.ecn == TERN_ECN_ECT0;
    sp->next_pn++;
    if (b->has_ack)
        c->stats.acks_sent++;
    if (b->has_ack)
        tern_ackr_on_ack_sent(&sp->ackr, b->space >= TERN_SPACE_APP ? ack_repeat_at(c, pp, now)
                                                                    : TERN_TS_INF);
    if (b->has_ack && b->space >= TERN_SPACE_APP)
        c->snd.ack_copied &= (uint8_t) ~(1u << (b->space - TERN_SPACE_APP));
    c->snd.ack_copied = (uint8_t)((c->snd.ack_copied & ~b->other_acks) | b->acks_copied);
    for (int k = 0; b->other_acks && k <= TERN_MPS_IDS; k++) {
        tern_pn_space_state *o =
            (b->other_acks >> k) & 1 ? tern_conn_sp(c, TERN_SPACE_APP + k) : NULL;
        if (o)
            tern_ackr_on_ack_sent(&o->ackr, ack_repeat_at(c, pp, now));
    }
    /* ACK-only packets are not recorded: nobody acknowledges them, and they would only pile up.
     * fill_packet made room for the record of anything else; should storing it fail all the same,
     * what the packet carried is queued again as if it were lost at once, so nothing stalls. */
    if (!b->rec.in_flight || tern_recovery_on_sent(&c->rec, b->space, &b->rec)) {
        tern_recovery_on_unrecorded(&c->rec, b->space, b->rec.pn);
        if (b->rec.in_flight) {
            tern_conn_requeue_frames(c, b->space, &b->rec);
            if (b->space >= TERN_SPACE_APP)
                tern_conn_dgram_on_pkt(c, &b->rec, 0); /* no acknowledgement can reach them */
        }
        b->rec.in_flight = 0;
    }
    if (b->rec.in_flight)
        tern_pacer_on_sent(&pp->pacer, b->rec.size, pp->cc.cwnd, pace_rtt(pp), now);
    if (b->rec.ecn)
        tern_conn_ecn_on_sent(c, b->rec.path_id, b->rec.in_flight, now);
    c->stats.pkts_sent++;
    pp->pkts_sent++;
    if (b->rec.ack_eliciting && b->level == TERN_LEVEL_1RTT && b->rec.path_id == c->paths.active)
        c->paths.ping_pending = 0;
    if (b->rec.ack_eliciting && !c->timers.ack_eliciting_since_recv) {
        c->timers.ack_eliciting_since_recv = 1;
        tern_conn_restart_idle(c, now);
    }
    /* a client stops using Initial keys once it sends a Handshake packet (RFC 9001 §4.9.1) */
    if (!c->is_server && b->level == TERN_LEVEL_HANDSHAKE)
        tern_conn_discard_space(c, TERN_SPACE_INITIAL);
}

/* A window full of 0-RTT is acknowledged only in 1-RTT packets, after the handshake: a client's
 * Initial and Handshake CRYPTO frames go out past it, or its Finished would wait for a PTO. */
#define ALLOW_HANDSHAKE 2

static int handshake_behind_early_data(const tern_conn *c)
{
    return !c->is_server && c->res.early != TERN_EARLY_DATA_NONE &&
           (tern_conn_crypto_pending(c, TERN_LEVEL_INITIAL) ||
            tern_conn_crypto_pending(c, TERN_LEVEL_HANDSHAKE));
}

/* A datagram that joins a batch and comes out at most this much shorter than the batch's segment
 * size is padded up to it: stream frames leave a few bytes of their worst-case header unused, and
 * without the padding every second datagram would end its GSO batch. A few bytes of PADDING cost
 * less than a system call per two datagrams. */
#define TERN_BATCH_PAD_MAX 32

/* Builds one datagram into out[0..cap). Returns its size (0: nothing to send). `allow_in` = 0
 * allows only ACKs (cwnd exhausted), ALLOW_HANDSHAKE also Initial and Handshake CRYPTO. `pad_to`
 * (0: none): a datagram whose last packet is ack-eliciting and at most TERN_BATCH_PAD_MAX bytes
 * shorter is padded to exactly that size. */
static int build_datagram(tern_conn *c, uint8_t *out, size_t cap, int allow_in, size_t pad_to,
                          tern_tstamp now, size_t *size_out)
{
    pkt_build pkts[4];
    int np = 0;
    size_t used = 0;
    int has_initial_eliciting = 0;
    static const int levels[4] = {TERN_LEVEL_INITIAL, TERN_LEVEL_0RTT, TERN_LEVEL_HANDSHAKE,
                                  TERN_LEVEL_1RTT};
    for (int li = 0; li < 4; li++) {
        int level = levels[li];
        int allow_data =
            allow_in == 1 || (allow_in == ALLOW_HANDSHAKE &&
                              (level == TERN_LEVEL_INITIAL || level == TERN_LEVEL_HANDSHAKE));
        if (!level_has_keys(c, level))
            continue;
        if (level == TERN_LEVEL_0RTT) {
            /* a client's early data, until its 1-RTT keys take over */
            if (c->is_server || c->hs.complete || !allow_data ||
                (!app_has_data(c) && !c->sp[TERN_SPACE_APP].probes))
                continue;
        }
        if (level == TERN_LEVEL_1RTT && !c->hs.complete && c->is_server)
            continue; /* no 0.5-RTT data */
        if (level == TERN_LEVEL_1RTT && !c->hs.complete && !c->is_server)
            continue;
        int space = level == TERN_LEVEL_1RTT ? tern_path_space(tern_conn_path_slot(c, c->snd.path))
                                             : tern_level_space(level);
        tern_pn_space_state *sp = tern_conn_sp(c, space);
        if (!sp)
            continue;
        int want = tern_conn_ack_due(c, space, now) || sp->probes > 0 ||
                   (level == TERN_LEVEL_1RTT && c->paths.ping_pending) ||
                   (level == TERN_LEVEL_1RTT && other_acks_due(c, space, now));
        if (allow_data) {
            if (space >= TERN_SPACE_APP)
                want |= app_has_data(c);
            else
                want |= tern_conn_crypto_pending(c, level);
        }
        if (!want)
            continue;
        if (cap - used < TERN_MIN_SEND_ROOM)
            break;
        pkt_build *b = &pkts[np];
        if (!pb_start(c, b, level, out + used, cap - used))
            break;
        if (!fill_packet(c, b, allow_data, now))
            continue;
        if (level == TERN_LEVEL_INITIAL && b->rec.ack_eliciting)
            has_initial_eliciting = 1;
        if (!c->is_server && level == TERN_LEVEL_INITIAL)
            has_initial_eliciting = 1; /* every client datagram with Initial is padded */
        used += pkt_total(b);
        np++;
    }
    if (np == 0) {
        *size_out = 0;
        return 0;
    }
    /* RFC 9000 §14.1: datagrams with (ack-eliciting) Initial packets are at least 1200 bytes */
    size_t pad_last = 0;
    if (has_initial_eliciting && used < TERN_MIN_INITIAL_SIZE) {
        size_t need = TERN_MIN_INITIAL_SIZE - used;
        if (need > cap - used)
            need = cap - used;
        pad_last = pkts[np - 1].payload + need;
        /* padding needs a record (it counts in flight); without room, the ACK goes unpadded */
        if (need > 0 && tern_recovery_can_record(&c->rec, pkts[np - 1].space))
            pkts[np - 1].padded = 1;
        else if (!pkts[np - 1].rec.ack_eliciting)
            pad_last = 0;
    } else if (pad_to > used && pad_to <= cap && pad_to - used <= TERN_BATCH_PAD_MAX &&
               pkts[np - 1].rec.ack_eliciting) {
        pad_last = pkts[np - 1].payload + (pad_to - used);
    }
    for (int i = 0; i < np; i++) {
        size_t before = pkt_total(&pkts[i]);
        if (seal_packet(c, &pkts[i], i == np - 1 ? pad_last : 0))
            return TERN_ERR_CRYPTO;
        used += pkt_total(&pkts[i]) - before;
    }
    for (int i = 0; i < np; i++)
        commit_packet(c, &pkts[i], now);
    *size_out = used;
    return 0;
}

static size_t build_close(tern_conn *c, uint8_t *out, size_t cap, tern_tstamp now)
{
    /* Before the handshake completes the peer may lack 1-RTT keys: close in every level we have,
     * and an application close becomes APPLICATION_ERROR outside 1-RTT (RFC 9000 §10.2.3). */
    size_t used = 0;
    static const int levels[3] = {TERN_LEVEL_INITIAL, TERN_LEVEL_HANDSHAKE, TERN_LEVEL_1RTT};
    pkt_build pkts[3];
    int np = 0;
    int has_initial = 0;
    for (int li = 0; li < 3; li++) {
        int level = levels[li];
        if (!level_has_keys(c, level))
            continue;
        if (level == TERN_LEVEL_1RTT && !c->hs.complete)
            continue;
        if (level != TERN_LEVEL_1RTT && c->hs.confirmed)
            continue;
        /* a client whose handshake completed got the server's Handshake packets: the server
         * reads Handshake (and this datagram's first packet must not be a close in Initial that
         * ends the server before it reads the Finished below) */
        if (level == TERN_LEVEL_INITIAL && !c->is_server && c->hs.complete)
            continue;
        pkt_build *b = &pkts[np];
        if (!pb_start(c, b, level, out + used, cap - used))
            break;
        const tern_close_info *ci = tern_conn_close_info(c);
        int app = ci->app && level == TERN_LEVEL_1RTT;
        uint64_t code = ci->app && !app ? TERN_TE_APPLICATION_ERROR : ci->error_code;
        const char *reason = (ci->app && !app) ? "" : ci->reason;
        /* A client closing as soon as its handshake completed (in on_connected) still owes the
         * server its Finished: sent first, it completes the server's handshake too, so that the
         * server's front door no longer counts the connection as a handshake in progress (a
         * half-open slot, a reason to send Retry to the next clients). The close frame keeps its
         * room; the Finished goes once (the close is not retransmitted). */
        if (level == TERN_LEVEL_HANDSHAKE && !c->is_server && c->hs.complete) {
            size_t keep = b->cap, close_room = 25 + strlen(reason);
            if (pb_room(b) > close_room) {
                b->cap -= close_room;
                (void)add_crypto(c, b);
                b->cap = keep;
            }
        }
        size_t n = tern_frame_write_close(pb_cur(b), pb_room(b), app, code,
                                          ci->frame_type, reason, strlen(reason));
        if (!n)
            break;
        b->payload += n;
        if (level == TERN_LEVEL_INITIAL)
            has_initial = 1;
        used += pkt_total(b);
        np++;
    }
    size_t pad_last = 0;
    if (np && has_initial && !c->is_server && used < TERN_MIN_INITIAL_SIZE)
        pad_last = pkts[np - 1].payload + TERN_MIN(TERN_MIN_INITIAL_SIZE - used, cap - used);
    size_t total = 0;
    for (int i = 0; i < np; i++) {
        if (seal_packet(c, &pkts[i], i == np - 1 ? pad_last : 0))
            return 0;
        tern_recovery_on_unrecorded(&c->rec, pkts[i].space,
                                    tern_conn_sp(c, pkts[i].space)->next_pn++);
        total += pkt_total(&pkts[i]);
    }
    return total;
}

/* A datagram that probes or answers on path `idx`: PATH_CHALLENGE with fresh random bytes and/or
 * the PATH_RESPONSEs owed there, padded to 1200 bytes unless the path's amplification budget
 * forbids it (RFC 9000 §8.2.1, §8.2.2). Returns its size, 0 when nothing could be built. */
static size_t build_probe(tern_conn *c, int idx, uint8_t *buf, size_t cap, tern_tstamp now)
{
    tern_path *p = tern_conn_path_slot(c, idx);
    uint64_t budget = tern_path_amp_budget(p);
    size_t room = TERN_MIN(cap, tern_path_mtu(p));
    if (budget < room)
        room = (size_t)budget;
    pkt_build b;
    if (room < TERN_MIN_SEND_ROOM || !tern_recovery_can_record(&c->rec, tern_path_space(p)) ||
        !pb_start_on(c, &b, TERN_LEVEL_1RTT, buf, room, idx))
        return 0;
    int padded = room >= TERN_MIN_INITIAL_SIZE;
    int challenge = p->need_challenge || (p->need_padded_challenge && padded);
    uint8_t data[8];
    if (challenge && c->rand(c->rand_ud, data, 8))
        challenge = 0; /* a predictable challenge proves nothing: try again at the next send */
    if (challenge) {
        size_t n = tern_frame_write_path_challenge(pb_cur(&b), pb_room(&b), data);
        if (n) {
            b.payload += n;
            tern_path_on_challenge_sent(p, data, now);
            p->need_challenge = 0;
            p->need_padded_challenge = !padded;
            /* Retransmitted with new bytes until the deadline. The new path's own PTO (from the
             * 333 ms initial RTT when it has no sample) would leave a lost answer unrepaired for a
             * second: start from twice the current path's PTO instead, doubling each time. */
            tern_tstamp own = tern_rtt_pto(&p->rtt, c->tp.peer_max_ack_delay);
            if (!p->challenge_interval)
                p->challenge_interval = TERN_MIN(own, 2 * tern_conn_pto(c));
            else
                p->challenge_interval = TERN_MIN(2 * p->challenge_interval, own);
            p->challenge_retx_at = now + p->challenge_interval;
        }
    }
    while (p->nresponse && pb_room(&b) >= 9) {
        size_t n = tern_frame_write_path_response(pb_cur(&b), pb_room(&b), p->response[0]);
        if (!n)
            break;
        b.payload += n;
        memmove(p->response[0], p->response[1], (size_t)(p->nresponse - 1) * 8);
        p->nresponse--;
    }
    int ping = p->probe_ping && pb_room(&b) >= 1;
    if (ping) {
        /* the policy's probe of a standby while the active path degrades: a PING makes it a
         * non-probing packet, so a peer whose packets no longer arrive on the active path moves
         * here as soon as it gets it (it leaves before the active path's PTO probes: when those
         * arrive, they carry the larger packet numbers and keep the peer where it is) */
        b.start[b.hdr_len + b.payload++] = TERN_FT_PING;
        pb_record(&b, TERN_FT_PING, 0, 0, 0, 0, 0);
        p->probe_ping = 0;
    }
    if ((idx == c->paths.active || ping) && tern_conn_sp(c, b.space)->ackr.ack_pending)
        add_ack(c, &b, now);
    if (b.payload == 0)
        return 0;
    b.rec.ack_eliciting = 1;
    size_t pad = 0;
    if (padded && b.hdr_len + b.payload + TERN_AEAD_TAG_LEN < TERN_MIN_INITIAL_SIZE)
        pad = TERN_MIN_INITIAL_SIZE - b.hdr_len - TERN_AEAD_TAG_LEN;
    if (seal_packet(c, &b, pad))
        return 0;
    b.padded = pad > 0;
    commit_packet(c, &b, now);
    return pkt_total(&b);
}

/* A path MTU probe of exactly `size` bytes on the active path: a PING padded out (RFC 9000 §14.4),
 * with the ACK due if any. Returns its size, 0 when it could not be built. */
static size_t build_pmtu_probe(tern_conn *c, uint8_t *buf, size_t size, tern_tstamp now)
{
    pkt_build b;
    if (!tern_recovery_can_record(&c->rec, tern_path_space(tern_conn_path(c))) ||
        !pb_start(c, &b, TERN_LEVEL_1RTT, buf, size))
        return 0;
    if (tern_conn_sp(c, b.space)->ackr.ack_pending)
        add_ack(c, &b, now);
    b.start[b.hdr_len + b.payload++] = TERN_FT_PING;
    pb_record(&b, TERN_FT_PING, 0, 0, 0, 0, 0);
    b.rec.ack_eliciting = 1;
    b.rec.pmtu_probe = 1;
    if (seal_packet(c, &b, size - b.hdr_len - TERN_AEAD_TAG_LEN))
        return 0;
    b.padded = 1;
    commit_packet(c, &b, now);
    tern_conn_pmtud_probe_sent(c, size, b.rec.pn, now);
    return pkt_total(&b);
}

/* The packets just sent did not fill the window because the application had no more data: their
 * acknowledgements must not grow it (RFC 9002 §7.8), or an idle sender would collect an unbounded
 * window and later burst into the network. */
static void mark_app_limited(tern_conn *c, int space, uint64_t from_pn)
{
    tern_sentq *q = tern_recovery_q(&c->rec, space);
    for (size_t i = q->count; i > 0; i--) {
        tern_sent_pkt *p = &q->ring[(q->head + i - 1) % q->cap];
        if (p->pn < from_pn)
            break;
        p->app_limited = 1;
    }
}

void tern_conn_sync_amplification(tern_conn *c)
{
    c->rec.amplification_blocked =
        c->is_server && tern_path_amp_budget(tern_conn_path(c)) < TERN_MIN_SEND_ROOM;
}

int tern_conn_send(tern_conn *c, tern_path_addr *path_out, uint8_t *buf, size_t cap,
                   size_t max_count, size_t *seg_size, size_t *count, tern_tstamp now)
{
    size_t len;
    return tern_conn_send_batch(c, path_out, buf, cap, max_count, seg_size, count, &len, now);
}

int tern_conn_send_batch(tern_conn *c, tern_path_addr *path_out, uint8_t *buf, size_t cap,
                         size_t max_count, size_t *seg_size, size_t *count, size_t *len,
                         tern_tstamp now)
{
    return tern_conn_send_batch_ecn(c, path_out, buf, cap, max_count, seg_size, count, len, NULL,
                                    now);
}

int tern_conn_send_batch_ecn(tern_conn *c, tern_path_addr *path_out, uint8_t *buf, size_t cap,
                             size_t max_count, size_t *seg_size, size_t *count, size_t *len,
                             int *ecn, tern_tstamp now)
{
    if (!c || !buf || !seg_size || !count || !path_out || !len)
        return TERN_ERR_INVALID_ARG;
    *count = 0;
    *seg_size = 0;
    *len = 0;
    c->snd.ecn = TERN_ECN_NOT_ECT;
    if (ecn)
        *ecn = TERN_ECN_NOT_ECT;
    if (c->qlog) tern_qlog_tick(c, now);
    c->snd.path = c->paths.active;
    tern_path *pp = tern_conn_path(c);
    *path_out = pp->addr;
    if (c->state == TERN_CS_DONE || c->state == TERN_CS_DRAINING)
        return 0;
    size_t mtu = tern_path_mtu(pp);
    if (c->state == TERN_CS_CLOSING) {
        if (!c->close.deadline)
            c->close.deadline = now + 3 * tern_conn_pto(c);
        if (!c->close.pending || cap < 1200)
            return 0;
        uint64_t budget = tern_path_amp_budget(pp);
        size_t room = (size_t)TERN_MIN((uint64_t)TERN_MIN(cap, mtu), budget);
        size_t n = room >= 64 ? build_close(c, buf, room, now) : 0;
        c->close.pending = 0;
        c->close.last_sent = now;
        if (n) {
            *count = 1;
            *seg_size = n;
            *len = n;
            c->stats.bytes_sent += n;
            pp->bytes_sent += n;
        }
        return 0;
    }
    /* path validation first: a probe datagram goes alone, to its own path */
    size_t in_use = 1;
    int probe = tern_mig_probe_path(c, &in_use);
    c->paths.multipath_pn = in_use > 1;
    if (c->state != TERN_CS_ESTABLISHED)
        probe = -1;
    if (probe >= 0 && max_count > 0) {
        if (ecn)
            c->snd.ecn = tern_conn_ecn_mark(c, probe, now);
        size_t n = build_probe(c, probe, buf, cap, now);
        if (n) {
            if (ecn)
                *ecn = c->snd.ecn;
            tern_path *qp = tern_conn_path_slot(c, probe);
            *path_out = qp->addr;
            *count = 1;
            *seg_size = n;
            *len = n;
            c->stats.bytes_sent += n;
            qp->bytes_sent += n;
            return 0;
        }
    }
    /* a path MTU probe goes alone too: a datagram of its own size. It is left unmarked (Not-ECT):
     * its loss says nothing about ECN, and a path whose test packets were mostly probes lost for
     * their size must not fail ECN validation for it */
    size_t probe_size = c->state == TERN_CS_ESTABLISHED && max_count > 0
                            ? tern_conn_pmtud_probe_size(c, cap, now)
                            : 0;
    if (probe_size && probe_size <= cap) {
        c->snd.ecn = TERN_ECN_NOT_ECT;
        size_t n = build_pmtu_probe(c, buf, probe_size, now);
        if (n) {
            *count = 1;
            *seg_size = n;
            *len = n;
            c->stats.bytes_sent += n;
            pp->bytes_sent += n;
            return 0;
        }
    }
    /* multipath: the scheduler picks this call's path (mpsched.h); the next call may pick
     * another */
    if (c->mpd && c->state == TERN_CS_ESTABLISHED) {
        c->snd.path = tern_mpsched_pick(c, mtu, now);
        pp = tern_conn_path_slot(c, c->snd.path);
        *path_out = pp->addr;
        mtu = tern_path_mtu(pp);
    }
    int app_space = tern_path_space(pp);
    uint64_t *limited_from = pp->mp_id ? &pp->mp_app_limited_from : &c->snd.app_limited_from;
    /* every path marks as its own validation says: a path ID's counts come back in its
     * PATH_ACKs */
    c->snd.ecn = ecn ? tern_conn_ecn_mark(c, c->snd.path, now) : TERN_ECN_NOT_ECT;
    /* PTO probes after a first PTO without an answer go at the base size: if the path stopped
     * carrying its PLPMTU (a black hole), they still get through, and their acknowledgement
     * reveals the larger packets as lost (RFC 8899 §4.3) */
    if (tern_recovery_pto_count(&c->rec, app_space) && mtu > TERN_PMTUD_BASE && any_probes(c))
        mtu = TERN_PMTUD_BASE;
    size_t seg = 0;
    int ran_dry = 0; /* stopped because nothing was left to send */
    int amp_held = 0; /* the amplification limit held the datagrams back, not the window */
    /* the loop ends early when building a packet closed the connection (the AEAD limit) */
    while (*count < max_count && c->state < TERN_CS_CLOSING) {
        size_t room = cap - *count * (seg ? seg : mtu);
        if (seg && room < seg)
            break;
        if (room > mtu)
            room = mtu;
        if (seg)
            room = TERN_MIN(room, seg);
        uint64_t budget = tern_path_amp_budget(pp);
        if (budget < room) {
            amp_held = 1;
            if (budget < TERN_MIN_SEND_ROOM)
                break;
            room = (size_t)budget;
        }
        if (room < TERN_MIN_SEND_ROOM)
            break;
        int allow_data = 1;
        int probing = any_probes(c);
        if (!probing) {
            if (tern_cc_available(&pp->cc) < room) {
                allow_data = handshake_behind_early_data(c) ? ALLOW_HANDSHAKE : 0;
                *limited_from = tern_conn_sp(c, app_space)->next_pn; /* window-limited so far */
            }
            else {
                tern_tstamp t = tern_pacer_next(&pp->pacer, room, pp->cc.cwnd, pace_rtt(pp), now);
                if (t > now) {
                    c->snd.pace_until = t;
                    allow_data = 0;
                }
            }
        }
        size_t n = 0;
        int rv = build_datagram(c, buf + *count * (seg ? seg : 0), room, allow_data, seg, now, &n);
        if (rv)
            return rv;
        if (n == 0) {
            ran_dry = allow_data == 1;
            break;
        }
        if (allow_data == 1)
            c->snd.pace_until = 0;
        c->stats.bytes_sent += n;
        pp->bytes_sent += n;
        if (!seg)
            seg = n;
        (*count)++;
        *len += n;
        if (n < seg)
            break; /* a short datagram ends the batch */
        if (allow_data != 1)
            break;
    }
    if (*count == 0 && c->state == TERN_CS_CLOSING)
        return tern_conn_send_batch(c, path_out, buf, cap, max_count, seg_size, count, len, now);
    *seg_size = seg;
    if (ecn && *count)
        *ecn = c->snd.ecn;
    tern_conn_sync_amplification(c);
    /* RFC 9002 §7.8: a window the sender does not fill must not grow on what it carries. An
     * unvalidated path allows three times what it received: acknowledgements of those small
     * packets said nothing about the window, which grew a packet at a time in slow start until
     * the validation let all of it out at once. */
    if ((ran_dry || amp_held) && pp->cc.bytes_in_flight < pp->cc.cwnd) {
        mark_app_limited(c, app_space, *limited_from);
        *limited_from = tern_conn_sp(c, app_space)->next_pn;
    }
    if (c->qlog) tern_qlog_metrics(c, now);
    return 0;
}
