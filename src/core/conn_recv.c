/* Receiving: datagram -> coalesced packets -> header protection and decryption (with key phase
 * changes) -> frames -> connection, stream, CID and recovery state. Also what happens to the frames
 * of our own packets when they are acknowledged or lost. */
#include <stdio.h>
#include <stdlib.h>

#include "conn_internal.h"
#include "mpframe.h"
#include "mpsched.h"
#include "varint.h"

#define OLDER_PN_COPY 1500
/* Packets with less payload than this do not count as a bulk transfer's (see tern_ackr_not_bulk):
 * a full 1200-byte datagram carries about 1150 */
#define TERN_BULK_MIN_PAYLOAD 1000 /* ciphertext kept for a second reading of a one-byte packet number */

/* ---- acknowledged and lost packets of ours ------------------------------------------------------ */

void tern_conn_on_pkt_acked(void *ud, int space, const tern_sent_pkt *p)
{
    tern_conn *c = ud;
    tern_conn_ecn_on_acked(c, p);
    if (space >= TERN_SPACE_APP)
        tern_conn_pmtud_on_acked(c, p);
    if (space >= TERN_SPACE_APP && !c->keys.tx_phase_acked && tern_conn_sp(c, space) &&
        p->pn >= tern_conn_sp(c, space)->tx_phase_first_pn)
        c->keys.tx_phase_acked = 1;
    for (int i = 0; i < p->n_frames; i++) {
        const tern_sent_frame *f = &p->frames[i];
        switch (f->type) {
        case TERN_FT_STREAM: {
            tern_stream *s = tern_streams_find(&c->streams.set, (int64_t)f->id);
            if (!s)
                break;
            tern_sendbuf_on_acked(&s->snd, f->off, f->len, f->fin);
            tern_conn_queue_writable(c, s);
            tern_conn_maybe_close_stream(c, s);
            break;
        }
        case TERN_FT_CRYPTO:
            if (c->hs.crypto_snd &&
                (!c->sp[tern_level_space(f->aux)].discarded || f->aux == TERN_LEVEL_1RTT)) {
                tern_sendbuf_on_acked(&c->hs.crypto_snd[f->aux], f->off, f->len, 0);
                tern_conn_crypto_release(c);
            }
            break;
        case TERN_FT_ACK: {
            /* the space whose packets it acknowledged (multipath: any path ID's) */
            tern_pn_space_state *sp = tern_conn_sp(c, f->aux);
            if (sp)
                tern_ackr_on_ack_acked(&sp->ackr, f->off);
            break;
        }
        case TERN_FT_RESET_STREAM: {
            tern_stream *s = tern_streams_find(&c->streams.set, (int64_t)f->id);
            if (s) {
                s->flags |= TERN_SF_RESET_ACKED;
                tern_conn_maybe_close_stream(c, s);
            }
            break;
        }
        case TERN_FT_HANDSHAKE_DONE:
            c->hs.done_pending = 0;
            break;
        case TERN_FT_NEW_CONNECTION_ID:
            tern_local_cids_on_announce_acked(&c->cids.local, f->id);
            break;
        default:
            if (tern_mp_is_rec(f->type))
                tern_mp_on_frame_acked(c, f);
            break;
        }
    }
    if (space >= TERN_SPACE_APP)
        tern_conn_dgram_on_pkt(c, p, 1);
    if (space == TERN_SPACE_HANDSHAKE && !c->is_server)
        c->rec.peer_completed_address_validation = 1;
}

void tern_conn_on_pkt_lost(void *ud, int space, const tern_sent_pkt *p)
{
    tern_conn *c = ud;
    if (c->qlog) tern_qlog_packet_lost(c, space, p, c->rec.loss_trigger);
    if (p->path_id < TERN_MAX_PATHS && !p->pmtu_probe)
        tern_conn_path_slot(c, p->path_id)->pkts_lost++;
    tern_conn_ecn_on_lost(c, p);
    if (space >= TERN_SPACE_APP)
        tern_conn_pmtud_on_lost(c, p);
    tern_conn_requeue_frames(c, space, p); /* DATAGRAM frames are not among what comes back */
    if (space >= TERN_SPACE_APP)
        tern_conn_dgram_on_pkt(c, p, 0);
}

/* Puts back what a packet carried (stream and CRYPTO ranges, control frames still current), for a
 * loss or for a PTO probe. */
void tern_conn_requeue_frames(tern_conn *c, int space, const tern_sent_pkt *p)
{
    for (int i = 0; i < p->n_frames; i++) {
        const tern_sent_frame *f = &p->frames[i];
        tern_stream *s;
        switch (f->type) {
        case TERN_FT_ACK:
            /* see fill_packet for Initial and Handshake; the space is the acknowledged one's */
            if (f->aux >= TERN_SPACE_APP && tern_conn_sp(c, f->aux))
                tern_ackr_on_ack_lost(&tern_conn_sp(c, f->aux)->ackr);
            break;
        case TERN_FT_STREAM:
            s = tern_streams_find(&c->streams.set, (int64_t)f->id);
            if (!s || (s->flags & TERN_SF_RESET_SENT))
                break;
            tern_sendbuf_on_lost(&s->snd, f->off, f->len, f->fin);
            tern_streams_sendq_push(&c->streams.set, s);
            break;
        case TERN_FT_CRYPTO: /* released buffers had every byte acknowledged */
            if (c->hs.crypto_snd &&
                (!c->sp[tern_level_space(f->aux)].discarded || f->aux == TERN_LEVEL_1RTT))
                tern_sendbuf_on_lost(&c->hs.crypto_snd[f->aux], f->off, f->len, 0);
            break;
        case TERN_FT_HANDSHAKE_DONE:
            c->hs.done_pending = 1;
            break;
        case TERN_FT_NEW_TOKEN:
            tern_conn_token_on_lost(c);
            break;
        case TERN_FT_ACK_FREQUENCY:
            tern_ackfreq_on_lost(&c->ackf, f->off);
            break;
        case TERN_FT_MAX_DATA:
            if (f->off == c->flow.max_data_next)
                c->flow.need_max_data = 1;
            break;
        case TERN_FT_MAX_STREAM_DATA:
        case TERN_FT_STREAM_DATA_BLOCKED:
        case TERN_FT_RESET_STREAM:
        case TERN_FT_STOP_SENDING:
            s = tern_streams_find(&c->streams.set, (int64_t)f->id);
            if (s && tern_stream_on_frame_lost(s, f->type, f->off))
                tern_conn_stream_ctrl(c, s);
            break;
        case TERN_FT_DATA_BLOCKED:
            /* still blocked at the same limit: the peer must hear it (RFC 9000 §13.3) */
            if (f->off == c->flow.max_data_send && c->flow.data_sent >= c->flow.max_data_send)
                c->flow.need_data_blocked = 1;
            break;
        case TERN_FT_MAX_STREAMS_BIDI:
        case TERN_FT_MAX_STREAMS_UNI:
        case TERN_FT_STREAMS_BLOCKED_BIDI:
        case TERN_FT_STREAMS_BLOCKED_UNI:
            if (tern_streams_on_frame_lost(&c->streams.set, f->type, f->off))
                c->streams.ctrl_pending = 1;
            break;
        case TERN_FT_NEW_CONNECTION_ID:
            tern_local_cids_on_announce_lost(&c->cids.local, f->id); /* unless retired meanwhile */
            break;
        case TERN_FT_RETIRE_CONNECTION_ID:
            tern_peer_cids_requeue_retire(&c->cids.peer, f->id);
            break;
        default:
            if (tern_mp_is_rec(f->type))
                tern_mp_on_frame_lost(c, f);
            break;
        }
    }
}

/* ---- frames ------------------------------------------------------------------------------------ */

/* `ftype`: the frame's type on the wire, which a failure names (PATH_ACK's for a PATH_ACK, whose
 * body `f` is an ACK's). */
static int handle_ack(tern_conn *c, int space, const tern_frame *f, uint64_t ftype, int path_idx,
                      tern_tstamp now)
{
    /* on the stack: 4 KB that every connection would otherwise carry for the instant an ACK
     * frame is processed */
    tern_pn_range ranges[TERN_ACK_RANGES_SCRATCH];
    tern_ack_iter it;
    uint64_t lo, hi;
    size_t n = 0;
    tern_ack_iter_init(&it, f);
    while (n < TERN_ACK_RANGES_SCRATCH && tern_ack_iter_next(&it, &lo, &hi)) {
        ranges[n].lo = lo;
        ranges[n].hi = hi;
        n++;
    }
    tern_tstamp delay = 0;
    if (space >= TERN_SPACE_APP) {
        unsigned e = c->tp.peer_ack_delay_exponent;
        uint64_t d = f->u.ack.delay;
        delay = (d < (UINT64_MAX >> 24) >> e) ? (d << e) * TERN_NS_PER_US : TERN_TS_INF / 2;
    }
    tern_pn_range_list rl = {ranges, n};
    /* the ACK measured the round trip of packets that left on the path it came back on */
    c->rec.ack_path_id =
        path_idx >= 0 && path_idx < TERN_MAX_PATHS ? (uint8_t)path_idx : TERN_RECOVERY_ANY_PATH;
    uint64_t before = tern_recovery_q(&c->rec, space)->largest_acked;
    tern_conn_ecn_ack_begin(c);
    int rv = tern_recovery_on_ack(&c->rec, space, &rl, delay, now);
    c->rec.ack_path_id = TERN_RECOVERY_ANY_PATH;
    if (rv) {
        tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, ftype, "ACK of an unsent packet");
        return rv;
    }
    /* ECN counts are validated only from frames that raise the largest acknowledged: an older
     * frame arriving late has lower counts without any fault (RFC 9000 §13.4.2.1). A PATH_ACK's
     * counts are those of its path ID's space. */
    int raised = n && (before == UINT64_MAX || rl.r[0].hi > before);
    tern_conn_ecn_ack_end(c, space, f, raised, now);
    if (space >= TERN_SPACE_APP && raised)
        tern_mig_on_mp_acked(c, space, now);
    if (space >= TERN_SPACE_APP) {
        tern_conn_pmtud_settle(c, now);
        tern_mpsched_on_ack(c, space);
    }
    return 0;
}

static int handle_crypto(tern_conn *c, int level, const tern_frame *f, tern_tstamp now)
{
    if (tern_conn_crypto_open(c))
        return TERN_ERR_NOMEM; /* the packet goes unacknowledged, the peer sends it again */
    tern_recvbuf *rb = &c->hs.crypto_rcv[level];
    if (f->u.crypto.offset + f->u.crypto.len <= rb->read_off)
        return 0; /* an old retransmission */
    uint64_t terr = 0;
    int rv = tern_recvbuf_write(rb, f->u.crypto.offset, f->u.crypto.data, f->u.crypto.len, 0, &terr);
    if (rv == TERN_ERR_NOMEM)
        return rv; /* too many gaps: the packet goes unacknowledged, the peer sends it again */
    if (rv) {
        /* its only limit (no final size, offsets bounded by the parser) is how far ahead of what
         * TLS read the data may be: TERN_CRYPTO_BUF_LIMIT (RFC 9000 §7.5) */
        tern_conn_fail(c, TERN_TE_CRYPTO_BUFFER_EXCEEDED, TERN_FT_CRYPTO, "CRYPTO data too far");
        return rv;
    }
    return tern_conn_crypto_deliver(c, level, now);
}

static void report_open(tern_conn *c, tern_stream *s)
{
    if (s->flags & TERN_SF_OPEN_REPORTED)
        return;
    s->flags |= TERN_SF_OPEN_REPORTED;
    if (c->cb && c->cb->on_stream_open)
        c->cb->on_stream_open(c, s->id, c->cb_ud);
}

/* What the connection still lets the peer send. */
static uint64_t conn_credit(const tern_conn *c)
{
    return c->flow.max_data_recv > c->flow.data_recv ? c->flow.max_data_recv - c->flow.data_recv
                                                     : 0;
}

/* Charges a frame's new bytes to the connection and gives back what will never be read. */
static void conn_flow_apply(tern_conn *c, const tern_stream_credit *cr)
{
    c->flow.data_recv += cr->new_bytes;
    if (cr->consumed)
        tern_conn_credit_consumed(c, cr->consumed, 0);
}

static int get_stream(tern_conn *c, int64_t id, int for_send, uint64_t ftype, tern_stream **out)
{
    uint64_t terr = 0;
    int rv = tern_streams_get_remote(&c->streams.set, id, for_send, out, &terr);
    if (rv == TERN_ERR_NOMEM)
        return rv; /* the packet goes unacknowledged: the peer sends the frame again */
    if (rv) {
        tern_conn_fail(c, terr, ftype, "bad stream id");
        return rv;
    }
    if (*out && tern_sid_is_server(id) != c->is_server)
        report_open(c, *out);
    return 0;
}

static int handle_stream(tern_conn *c, const tern_frame *f)
{
    tern_stream *s;
    int64_t id = (int64_t)f->u.stream.stream_id;
    int rv;
    if ((rv = get_stream(c, id, 0, f->type, &s)))
        return rv;
    if (!s)
        return 0;
    tern_stream_credit cr;
    uint64_t terr = 0;
    /* In-order bytes an application reads from its callback are copied once, from the packet
     * to its buffer, not through the stream's chunks: they are lent until the callback
     * returns, and whatever it left unread is kept then. */
    int tell = c->cb && c->cb->on_stream_readable && !(s->flags & TERN_SF_FIN_READ);
    rv = (tell ? tern_stream_recv_lent : tern_stream_recv)(s, f->u.stream.offset, f->u.stream.data,
                                                          f->u.stream.len, f->u.stream.fin,
                                                          conn_credit(c), &cr, &terr);
    if (rv == TERN_ERR_NOMEM)
        return rv; /* too many gaps: the packet goes unacknowledged, the peer sends it again */
    if (rv) {
        tern_conn_fail(c, terr, f->type, "stream data rejected");
        return rv;
    }
    conn_flow_apply(c, &cr);
    if (s->rcv.discard) {
        tern_conn_maybe_close_stream(c, s); /* abandoned and now complete */
        return 0;
    }
    if (tell && (tern_recvbuf_readable(&s->rcv) || tern_recvbuf_finished(&s->rcv))) {
        c->cb->on_stream_readable(c, id, c->cb_ud);
        /* the callback may have closed the stream (read to the end) or the connection */
        s = tern_streams_find(&c->streams.set, id);
    }
    if (s)
        tern_recvbuf_settle(&s->rcv);
    return 0;
}

static int handle_reset_stream(tern_conn *c, const tern_frame *f)
{
    tern_stream *s;
    int64_t id = (int64_t)f->u.reset_stream.stream_id;
    int rv;
    if ((rv = get_stream(c, id, 0, f->type, &s)))
        return rv;
    if (!s)
        return 0;
    int first = !(s->flags & TERN_SF_RESET_RECVD);
    tern_stream_credit cr;
    uint64_t terr = 0;
    rv = tern_stream_on_reset(s, f->u.reset_stream.final_size, conn_credit(c), &cr, &terr);
    if (rv) {
        tern_conn_fail(c, terr, f->type, "RESET_STREAM rejected");
        return rv;
    }
    conn_flow_apply(c, &cr);
    if (!first)
        return 0;
    if (c->cb && c->cb->on_stream_reset)
        c->cb->on_stream_reset(c, id, f->u.reset_stream.app_error, c->cb_ud);
    s = tern_streams_find(&c->streams.set, id);
    if (s)
        tern_conn_maybe_close_stream(c, s);
    return 0;
}

static int handle_stop_sending(tern_conn *c, const tern_frame *f)
{
    tern_stream *s;
    int64_t id = (int64_t)f->u.stop_sending.stream_id;
    int rv;
    if ((rv = get_stream(c, id, 1, f->type, &s)))
        return rv;
    if (!s)
        return 0;
    if (c->cb && c->cb->on_stream_stop_sending)
        c->cb->on_stream_stop_sending(c, id, f->u.stop_sending.app_error, c->cb_ud);
    s = tern_streams_find(&c->streams.set, id);
    if (s && tern_stream_reset_send(s, f->u.stop_sending.app_error) == 1)
        tern_conn_stream_ctrl(c, s);
    return 0;
}

static int handle_max_stream_data(tern_conn *c, const tern_frame *f)
{
    tern_stream *s;
    int64_t id = (int64_t)f->u.max_stream_data.stream_id;
    int rv;
    if ((rv = get_stream(c, id, 1, f->type, &s)))
        return rv;
    if (s && tern_stream_on_max_stream_data(s, f->u.max_stream_data.max))
        tern_streams_sendq_push(&c->streams.set, s);
    return 0;
}

static int handle_stream_data_blocked(tern_conn *c, const tern_frame *f)
{
    tern_stream *s;
    int rv;
    if ((rv = get_stream(c, (int64_t)f->u.max_stream_data.stream_id, 0, f->type, &s)))
        return rv;
    if (s && tern_stream_on_data_blocked(s, f->u.max_stream_data.max))
        tern_conn_stream_ctrl(c, s);
    return 0;
}

/* The first path in use other than `act` that holds a peer CID, or -1. */
static int path_with_cid(tern_conn *c, int act)
{
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (i != act && tern_path_in_use(tern_conn_path_slot(c, i)) &&
            tern_peer_cids_for_path(&c->cids.peer, (uint8_t)i))
            return i;
    return -1;
}

static int handle_new_cid(tern_conn *c, const tern_frame *f)
{
    uint32_t mask = 0;
    uint64_t terr = 0;
    /* the rules of §19.15 (a zero-length CID in use among them) are tern_peer_cids_on_new's */
    int rv = tern_peer_cids_on_new(&c->cids.peer, f->u.new_cid.seq, f->u.new_cid.retire_prior_to,
                                   &f->u.new_cid.cid, f->u.new_cid.token, &mask, &terr);
    if (rv) {
        tern_conn_fail(c, terr, f->type, "NEW_CONNECTION_ID rejected");
        return rv;
    }
    /* Paths whose CIDs retire_prior_to retired take spare ones, the active path first: it must
     * keep one to send with (§5.1.2 lets the peer retire every CID but one another path holds,
     * which the active path then takes, leaving that path to wait for the next). */
    int act = c->paths.active;
    if (mask & (1u << act) && !tern_peer_cids_take(&c->cids.peer, (uint8_t)act)) {
        int from = path_with_cid(c, act);
        if (from < 0) {
            tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, f->type,
                           "retire_prior_to left no connection ID");
            return TERN_ERR_PROTO;
        }
        tern_peer_cids_reassign(&c->cids.peer, (uint8_t)from, (uint8_t)act);
        tern_conn_path_slot(c, from)->waiting_cid = 1;
    }
    for (int i = 0; i < TERN_MAX_PATHS; i++) {
        if (i == act || !(mask & (1u << i)) || !tern_path_in_use(tern_conn_path_slot(c, i)))
            continue;
        if (!tern_peer_cids_take(&c->cids.peer, (uint8_t)i))
            tern_conn_path_slot(c, i)->waiting_cid = 1;
    }
    return 0;
}

static int handle_retire_cid(tern_conn *c, const tern_frame *f, const tern_cid *dcid,
                             tern_tstamp now)
{
    tern_cid_entry removed;
    int rv = tern_local_cids_retire(&c->cids.local, f->u.retire_cid.seq, dcid, &removed);
    if (rv < 0) {
        tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, f->type, "bad RETIRE_CONNECTION_ID");
        return rv;
    }
    /* Still routed here for 3 PTOs (tern_cid_linger): the peer's packets sent with it before the
     * retirement can arrive after it, from the path it left. The timer unroutes it. */
    tern_cid evicted;
    if (rv == 0 &&
        tern_cid_linger_add(&c->cids.linger, &removed.cid, now + 3 * tern_conn_pto(c), &evicted) &&
        c->hooks.cid_removed)
        c->hooks.cid_removed(c->hooks.ud, c, &evicted);
    if (rv == 0) {
        c->cids.replacing = 1;
        tern_conn_issue_cids(c); /* keep the peer supplied for its next path */
    }
    return 0;
}

static void handle_close(tern_conn *c, const tern_frame *f, tern_tstamp now)
{
    int app = f->type == TERN_FT_CONNECTION_CLOSE_APP;
    int status = 0;
    if (!app && f->u.close.error_code != TERN_TE_NO_ERROR)
        status = (f->u.close.error_code >= TERN_TE_CRYPTO_ERROR &&
                  f->u.close.error_code < TERN_TE_CRYPTO_ERROR + 256)
                     ? TERN_ERR_TLS
                     : TERN_ERR_PROTO;
    tern_conn_set_close_info(c, status, app, 0, f->u.close.error_code, f->u.close.frame_type,
                             (const char *)f->u.close.reason, f->u.close.reason_len);
    TERN_LOG(c, "peer closed: %s error 0x%llx", app ? "application" : "transport",
             (unsigned long long)f->u.close.error_code);
    tern_conn_enter_draining(c, now);
}

/* Returns 0, or a negative error when the connection failed or entered draining. */
static int process_frames(tern_conn *c, int pkt_type, int space, int level, const uint8_t *p,
                          const uint8_t *end, int path_idx, const tern_cid *dcid,
                          int *ack_eliciting, int *non_probing, tern_tstamp now)
{
    tern_frame f;
    int any = 0;
    while (p < end) {
        uint64_t terr = 0;
        const uint8_t *at = p;
        if (c->mp.enabled) {
            /* multipath frames (multipath.c); those of path ID 0 come back as RFC 9000's */
            int m = tern_mp_on_frame(c, pkt_type, &p, end, &f, ack_eliciting);
            if (m < 0)
                return m;
            if (m == 0) {
                int rv = 0;
                any = 1;
                *non_probing = 1;
                /* PATH_NEW_CONNECTION_ID may be what a path waiting for a path ID needed;
                 * PATH_ABANDON ends a path */
                if (f.type == TERN_FT_PADDING) {
                    tern_mps_sync(c, now);
                    tern_mig_on_new_cids(c, now);
                }
                if (f.type == TERN_FT_ACK || f.type == TERN_FT_ACK_ECN) {
                    /* PATH_ACK: the space of its path ID (0: the application space) */
                    rv = handle_ack(c, tern_mps_space_of(c, c->mp.ack_path_id), &f,
                                    f.type == TERN_FT_ACK_ECN ? TERN_FT_PATH_ACK_ECN
                                                              : TERN_FT_PATH_ACK,
                                    path_idx, now);
                } else if (f.type == TERN_FT_NEW_CONNECTION_ID) {
                    rv = handle_new_cid(c, &f);
                    if (!rv)
                        tern_mig_on_new_cids(c, now);
                } else if (f.type == TERN_FT_RETIRE_CONNECTION_ID) {
                    rv = handle_retire_cid(c, &f, dcid, now);
                }
                if (rv)
                    return rv;
                if (c->state >= TERN_CS_CLOSING)
                    return TERN_ERR_CLOSED;
                continue;
            }
        }
        if (tern_frame_parse(&p, end, &f, &terr)) {
            tern_conn_fail(c, terr, f.type, "malformed frame"); /* the parser always sets terr */
            return TERN_ERR_PROTO;
        }
        any = 1;
        if (!tern_frame_allowed(f.type, pkt_type)) {
            tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type, "frame not allowed here");
            return TERN_ERR_PROTO;
        }
        if (tern_frame_is_ack_eliciting(f.type))
            *ack_eliciting |= f.type == TERN_FT_PING ? 1 : 3; /* bit 2: more than a PING */
        if (!tern_frame_is_probing(f.type))
            *non_probing = 1;
        int rv = 0;
        switch (f.type) {
        case TERN_FT_PADDING:
        case TERN_FT_PING:
            break;
        case TERN_FT_ACK:
        case TERN_FT_ACK_ECN:
            /* in a 1-RTT packet of any path ID, an ACK is path ID 0's */
            rv = handle_ack(c, space > TERN_SPACE_APP ? TERN_SPACE_APP : space, &f, f.type,
                            path_idx, now);
            break;
        case TERN_FT_CRYPTO:
            rv = handle_crypto(c, level, &f, now);
            break;
        case TERN_FT_NEW_TOKEN:
            if (c->is_server) {
                tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type, "NEW_TOKEN from a client");
                rv = TERN_ERR_PROTO;
            } else {
                tern_conn_token_on_frame(c, f.u.new_token.token, f.u.new_token.len);
            }
            break;
        case TERN_FT_RESET_STREAM:
            rv = handle_reset_stream(c, &f);
            break;
        case TERN_FT_STOP_SENDING:
            rv = handle_stop_sending(c, &f);
            break;
        case TERN_FT_MAX_DATA:
            if (f.u.max_data.max > c->flow.max_data_send)
                c->flow.max_data_send = f.u.max_data.max;
            break;
        case TERN_FT_MAX_STREAM_DATA:
            rv = handle_max_stream_data(c, &f);
            break;
        case TERN_FT_MAX_STREAMS_BIDI:
        case TERN_FT_MAX_STREAMS_UNI:
            tern_streams_on_max_streams(&c->streams.set, f.u.max_streams.bidi, f.u.max_streams.max);
            break;
        case TERN_FT_DATA_BLOCKED:
            tern_conn_on_data_blocked(c, f.u.max_data.max);
            break;
        case TERN_FT_STREAMS_BLOCKED_BIDI:
        case TERN_FT_STREAMS_BLOCKED_UNI:
            if (tern_streams_on_streams_blocked(&c->streams.set, f.u.max_streams.bidi,
                                                f.u.max_streams.max))
                c->streams.ctrl_pending = 1;
            break;
        case TERN_FT_STREAM_DATA_BLOCKED:
            rv = handle_stream_data_blocked(c, &f);
            break;
        case TERN_FT_NEW_CONNECTION_ID:
            rv = handle_new_cid(c, &f);
            if (!rv)
                tern_mig_on_new_cids(c, now);
            break;
        case TERN_FT_RETIRE_CONNECTION_ID:
            rv = handle_retire_cid(c, &f, dcid, now);
            break;
        case TERN_FT_PATH_CHALLENGE:
            /* answered on the path it arrived on; only the latest few are owed */
            tern_path_queue_response(tern_conn_path_slot(c, path_idx), f.u.path.data);
            break;
        case TERN_FT_PATH_RESPONSE:
            tern_mig_on_path_response(c, f.u.path.data, now);
            break;
        case TERN_FT_CONNECTION_CLOSE:
        case TERN_FT_CONNECTION_CLOSE_APP:
            handle_close(c, &f, now);
            return TERN_ERR_CLOSED;
        case TERN_FT_DATAGRAM:
        case TERN_FT_DATAGRAM_LEN:
            rv = tern_conn_dgram_on_frame(c, &f, (size_t)(p - at));
            break;
        case TERN_FT_ACK_FREQUENCY: {
            uint64_t aterr = 0;
            rv = tern_ackfreq_on_frame(&c->ackf, &f, c->tp.local.has_min_ack_delay,
                                       c->tp.local.min_ack_delay_us, &aterr);
            if (rv == 1) {
                tern_ackr_set_frequency(&c->sp[TERN_SPACE_APP].ackr, f.u.ack_freq.threshold,
                                        f.u.ack_freq.reorder);
                rv = 0;
            } else if (rv < 0) {
                tern_conn_fail(c, aterr, f.type, "ACK_FREQUENCY not allowed");
            }
            break;
        }
        case TERN_FT_IMMEDIATE_ACK: {
            uint64_t aterr = 0;
            rv = tern_ackfreq_on_immediate(&c->ackf, c->tp.local.has_min_ack_delay, &aterr);
            if (rv)
                tern_conn_fail(c, aterr, f.type, "IMMEDIATE_ACK without min_ack_delay");
            break;
        }
        case TERN_FT_HANDSHAKE_DONE:
            if (c->is_server) {
                tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, f.type, "HANDSHAKE_DONE from a client");
                rv = TERN_ERR_PROTO;
            } else {
                tern_conn_on_handshake_confirmed(c, now);
            }
            break;
        default:
            if (TERN_FT_STREAM <= f.type && f.type <= 0x0f)
                rv = handle_stream(c, &f);
            break;
        }
        if (rv)
            return rv;
        if (c->state >= TERN_CS_CLOSING)
            return TERN_ERR_CLOSED;
    }
    if (!any) {
        tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, 0, "packet without frames");
        return TERN_ERR_PROTO;
    }
    return 0;
}

/* ---- packets ------------------------------------------------------------------------------------ */

/* `tail` holds the datagram's last 16 bytes as received: decryption in place may change them. */
static int is_stateless_reset(tern_conn *c, const uint8_t *dgram, size_t len, const uint8_t *tail)
{
    if (len < 21 || (dgram[0] & 0x80))
        return 0;
    return tern_peer_cids_is_reset_token(&c->cids.peer, tail);
}

/* Called when the first packet of a datagram could not be processed (header protection or
 * decryption failed): it may be a stateless reset, checked once per datagram. */
static int check_reset(tern_conn *c, int *checked, const uint8_t *dgram, size_t len,
                       const uint8_t *tail)
{
    if (*checked)
        return 0;
    *checked = 1;
    if (!is_stateless_reset(c, dgram, len, tail))
        return 0;
    tern_conn_set_close_info(c, TERN_ERR_STATELESS_RESET, 0, 0, 0, 0, "stateless reset", 15);
    tern_conn_set_done(c);
    return TERN_ERR_CLOSED;
}

static void handle_version_negotiation(tern_conn *c, const tern_pkt_hdr *h, tern_tstamp now)
{
    /* §6.2: once any packet (a Retry included) was processed, VN can only be an attack */
    if (c->is_server || c->received_any || c->retry.received)
        return;
    if (!tern_cid_eq(&h->dcid, &c->cids.local.e[0].cid) ||
        !tern_cid_eq(&h->scid, &c->cids.initial_dcid))
        return;
    for (size_t i = 0; i < h->versions_count; i++)
        if (tern_get_u32(h->versions + 4 * i) == c->version)
            return; /* lists our version: ignore (RFC 9000 §6.2) */
    tern_conn_version_on_vn(c, h, now);
}

static void handle_retry(tern_conn *c, const uint8_t *pkt, const tern_pkt_hdr *h, tern_tstamp now)
{
    /* the parser dropped Retry packets without a token or too short for the tag (§17.2.5.2) */
    if (c->is_server || c->retry.received || c->received_any || h->version != c->version ||
        !tern_cid_eq(&h->dcid, &c->cids.local.e[0].cid))
        return;
    uint8_t tag[TERN_AEAD_TAG_LEN];
    size_t body = h->pkt_len - TERN_AEAD_TAG_LEN;
    if (tern_crypto_retry_tag(c->version, &c->cids.initial_dcid, pkt, body, tag) ||
        memcmp(tag, pkt + body, TERN_AEAD_TAG_LEN) != 0)
        return;
    uint8_t *tok = malloc(h->token_len);
    if (!tok)
        return;
    memcpy(tok, h->token, h->token_len);
    free(c->retry.token);
    c->retry.token = tok;
    c->retry.token_len = h->token_len;
    c->retry.received = 1;
    c->retry.scid = h->scid;
    /* the server's new CID is where everything goes now, and the Initial keys follow it */
    tern_peer_cids_set_initial(&c->cids.peer, &h->scid);
    c->vn.keys_dcid = h->scid;
    tern_keys *tx = tern_conn_keys(c, TERN_LEVEL_INITIAL, 1);
    tern_keys *rx = tern_conn_keys(c, TERN_LEVEL_INITIAL, 0);
    tern_crypto_keys_free(tx);
    tern_crypto_keys_free(rx);
    if (!tx || tern_crypto_initial_keys(c->version, &h->scid, 0, tx, rx)) {
        tern_conn_fail(c, TERN_TE_INTERNAL_ERROR, 0, "Initial keys after Retry");
        return;
    }
    /* the first flight was not processed: send it again, not waiting for a timer */
    tern_recovery_declare_all_lost(&c->rec, TERN_SPACE_INITIAL, now);
    /* the server dropped the 0-RTT it could not read: it goes again, to the new CID */
    if (c->res.early == TERN_EARLY_DATA_PENDING)
        tern_recovery_declare_all_lost(&c->rec, TERN_SPACE_APP, now);
    tern_sendbuf *sb = &c->hs.crypto_snd[TERN_LEVEL_INITIAL];
    if (sb->sent > sb->base)
        tern_sendbuf_on_lost(sb, sb->base, (size_t)(sb->sent - sb->base), 0);
    TERN_LOG(c, "Retry received, token %zu bytes", h->token_len);
}

/* Decrypts a 1-RTT packet, handling key phases (RFC 9001 §6). Returns the plaintext length or <0. */
/* The packet is of path ID `path_id` (its nonce), whose space `sp` is NULL when it has none yet;
 * every path ID shares the connection's key phase. */
static int decrypt_1rtt(tern_conn *c, tern_pn_space_state *sp, int space, uint32_t path_id,
                        uint8_t *pkt, size_t hdr_len, size_t pkt_len, uint64_t pn,
                        tern_tstamp now)
{
    int phase = (pkt[0] >> 2) & 1;
    uint64_t first = sp ? sp->rx_phase_first_pn : (c->keys.updates ? UINT64_MAX : 0);
    if (phase == c->keys.rx_phase) {
        int n = tern_crypto_decrypt_path(&c->keys.rx1, pkt, hdr_len, pkt_len, path_id, pn);
        /* this space's first packet of the current phase: older ones of the other phase are
         * the previous phase's */
        if (n >= 0 && sp && (first == UINT64_MAX || pn < first))
            sp->rx_phase_first_pn = pn;
        return n;
    }
    if (c->keys.rx_prev.aead && pn < first)
        return tern_crypto_decrypt_path(&c->keys.rx_prev, pkt, hdr_len, pkt_len, path_id, pn);
    if (!c->hs.confirmed || (!c->keys.rx_next.aead && tern_conn_install_rx_next(c)))
        return TERN_ERR_CRYPTO;
    int n = tern_crypto_decrypt_path(&c->keys.rx_next, pkt, hdr_len, pkt_len, path_id, pn);
    if (n < 0)
        return n;
    /* RFC 9001 §6.1, §6.2: a peer starts an update only once it saw an acknowledgement of a
     * packet of the current phase, which we send after rotating. A peer that flips the phase
     * sooner makes us derive keys for every packet it sends. Following our own update (our send
     * phase is already the new one) is not an update of the peer's. */
    int answers_ours = c->keys.tx_phase != c->keys.rx_phase;
    if (c->keys.rx_update_unacked && !answers_ours) {
        tern_conn_fail(c, TERN_TE_KEY_UPDATE_ERROR, 0, "key update before the previous was acked");
        return TERN_ERR_PROTO;
    }
    /* the peer moved to the next phase: rotate receive keys and follow with ours */
    tern_crypto_keys_move(&c->keys.rx_prev, &c->keys.rx1);
    tern_crypto_keys_move(&c->keys.rx1, &c->keys.rx_next); /* empties rx_next */
    c->keys.rx_phase ^= 1;
    tern_conn_rx_phase_start(c, space, pn);
    c->keys.rx_update_unacked = 1;
    c->keys.rx_prev_discard = now + 3 * tern_conn_pto(c);
    if (c->keys.tx_phase != c->keys.rx_phase) {
        tern_keys next;
        memset(&next, 0, sizeof(next));
        if (tern_crypto_next_keys(&c->keys.tx1, &next) == 0) {
            tern_crypto_keys_move(&c->keys.tx1, &next);
            c->keys.tx_phase = c->keys.rx_phase;
            tern_conn_tx_phase_start(c);
            c->keys.tx_phase_acked = 0;
            c->keys.tx_phase_elicited = 0;
            c->keys.tx_pkts_phase = 0;
            c->keys.updates++;
        }
    }
    if (c->qlog) tern_qlog_key_update(c, answers_ours);
    TERN_LOG(c, "key phase %d received", c->keys.rx_phase);
    return n;
}

/* Processes one packet. Returns 0 when it was processed or dropped, <0 when the connection failed. */
static int process_packet(tern_conn *c, int *path_idx_io, const tern_path_addr *addr, uint8_t *pkt,
                          const tern_pkt_hdr *h, int ecn, int *stateless_reset_checked,
                          uint8_t *dgram, size_t dgram_len, const uint8_t *tail, tern_tstamp now)
{
    int level;
    switch (h->type) {
    case TERN_PKT_VN:
        handle_version_negotiation(c, h, now);
        return 0;
    case TERN_PKT_RETRY:
        handle_retry(c, pkt, h, now);
        return 0;
    case TERN_PKT_INITIAL:
        level = TERN_LEVEL_INITIAL;
        break;
    case TERN_PKT_HANDSHAKE:
        level = TERN_LEVEL_HANDSHAKE;
        break;
    case TERN_PKT_1RTT:
        level = TERN_LEVEL_1RTT;
        break;
    case TERN_PKT_0RTT:
        if (!c->is_server)
            return 0;            /* a server never sends 0-RTT */
        level = TERN_LEVEL_0RTT; /* read only with a key GnuTLS gave for accepted early data */
        break;
    default:
        return 0;
    }
    int space = tern_level_space(level);
    if (c->sp[space].discarded)
        return 0;
    /* multipath: a 1-RTT packet to one of the CIDs we issued for path ID p is numbered in p's
     * space (which a path ID the peer opens has not until the packet authenticates) */
    uint64_t mp_id = level == TERN_LEVEL_1RTT ? tern_mps_path_of_dcid(c, &h->dcid) : 0;
    if (mp_id) {
        if (tern_mps_ended(c, mp_id))
            return 0; /* its path ended: its space only waits for late acknowledgements */
        space = tern_mps_space_of(c, mp_id); /* -1: the peer opens it with this packet */
    }
    tern_pn_space_state *sp = space >= 0 ? tern_conn_sp(c, space) : NULL;
    uint64_t largest_recv = sp ? sp->largest_recv : UINT64_MAX;
    /* long headers: the version in use, or one that negotiation still allows */
    tern_keys *rxk =
        level == TERN_LEVEL_1RTT ? &c->keys.rx1 : tern_conn_version_rx_keys(c, h, level);
    if (!rxk)
        return 0;
    const tern_keys *hp = level == TERN_LEVEL_1RTT ? &c->keys.hp_rx1 : rxk;
    if (!hp->aead || !rxk->aead)
        return 0; /* keys not yet (or no longer) available */
    if (!c->is_server && h->type == TERN_PKT_INITIAL && h->token_len)
        return 0; /* servers never send tokens in Initial packets */
    /* §7.2: the server's first Initial fixed its Source Connection ID */
    if (!c->is_server && h->type != TERN_PKT_1RTT && c->received_any && c->cids.peer_scid_known &&
        !tern_cid_eq(&h->scid, &c->cids.peer_initial_scid))
        return 0;

    size_t pn_len = 0;
    uint64_t trunc = 0;
    /* a reset of 21-28 bytes is too short to carry a header protection sample (§10.3.1) */
    if (tern_crypto_unprotect_header(hp, pkt, h->pkt_len, h->pn_offset, &pn_len, &trunc))
        return check_reset(c, stateless_reset_checked, dgram, dgram_len, tail);
    uint64_t pn = tern_pkt_decode_pn(largest_recv, trunc, pn_len * 8);
    size_t hdr_len = h->pn_offset + pn_len;
    /* A one-byte packet number covers 128 packets either side of the next expected one. A
     * packet sent before more than 128 that were processed first (it came on another path, whose
     * socket was read after a batch of the active one) decodes 256 too high and fails
     * authentication: that reading is tried again one window lower, from a copy of the
     * ciphertext (decryption works in place). */
    uint8_t older_ct[OLDER_PN_COPY];
    size_t ct_len = h->pkt_len - hdr_len;
    int try_older = level == TERN_LEVEL_1RTT && pn_len == 1 && pn >= 256 &&
                    largest_recv != UINT64_MAX && pn > largest_recv && ct_len <= sizeof(older_ct);
    if (try_older)
        memcpy(older_ct, pkt + hdr_len, ct_len);
    int n = level == TERN_LEVEL_1RTT
                ? decrypt_1rtt(c, sp, space, (uint32_t)mp_id, pkt, hdr_len, h->pkt_len, pn, now)
                : tern_crypto_decrypt(rxk, pkt, hdr_len, h->pkt_len, pn);
    if (n < 0 && n != TERN_ERR_PROTO && try_older) {
        memcpy(pkt + hdr_len, older_ct, ct_len);
        int m = decrypt_1rtt(c, sp, space, (uint32_t)mp_id, pkt, hdr_len, h->pkt_len, pn - 256,
                             now);
        if (m >= 0 || m == TERN_ERR_PROTO) {
            n = m;
            pn -= 256;
        }
    }
    if (n == TERN_ERR_PROTO)
        return n; /* decrypt_1rtt closed the connection */
    if (n < 0) {
        if (check_reset(c, stateless_reset_checked, dgram, dgram_len, tail))
            return TERN_ERR_CLOSED;
        /* RFC 9001 §6.6: forgeries are counted across all keys, and bounded */
        if (++c->keys.rx_auth_failed > c->keys.integ_limit && c->keys.integ_limit) {
            tern_conn_fail(c, TERN_TE_AEAD_LIMIT_REACHED, 0, "AEAD integrity limit reached");
            return TERN_ERR_PROTO;
        }
        return 0;
    }
    /* reserved bits must be zero once protection is removed (RFC 9000 §17.2, §17.3.1) */
    uint8_t reserved = (pkt[0] & 0x80) ? (pkt[0] & 0x0c) : (pkt[0] & 0x18);
    if (reserved) {
        tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, 0, "reserved bits set");
        return TERN_ERR_PROTO;
    }
    if (sp && tern_ackr_is_dup(&sp->ackr, pn))
        return 0;
    if (level != TERN_LEVEL_1RTT)
        tern_conn_version_on_authentic(c, rxk);

    if (!c->received_any) {
        c->received_any = 1;
        if (!c->is_server && h->type != TERN_PKT_1RTT) {
            /* the server's chosen CID replaces our random initial DCID */
            c->cids.peer_initial_scid = h->scid;
            c->cids.peer_scid_known = 1;
            tern_peer_cids_set_initial(&c->cids.peer, &h->scid);
        }
    }
    if (*path_idx_io == TERN_MIG_NEW_PATH) {
        /* the first authenticated packet from a new peer address: only 1-RTT packets move paths */
        int idx = level == TERN_LEVEL_1RTT
                      ? tern_mig_create_peer_path(c, addr, &h->dcid, mp_id, now)
                      : -1;
        if (idx < 0)
            return 0;
        *path_idx_io = idx;
        tern_conn_path_slot(c, idx)->bytes_recv += dgram_len;
    }
    int path_idx = *path_idx_io;
    tern_path *pp = tern_conn_path_slot(c, path_idx);
    if (mp_id && !sp) {
        /* the peer opened path ID mp_id (draft-ietf-quic-multipath-21 §3.1): this path carries
         * it, and is validated from here as any new path (tern_mig_create_peer_path) */
        if (pp->mp_id != mp_id && tern_mps_slot_of(c, pp->mp_id) == path_idx)
            return 0; /* another path ID's path: the peer must open a path ID on its own path */
        if (tern_mp_path_id_claim(c, mp_id) || tern_mps_bind(c, mp_id, path_idx))
            return 0;
        space = tern_mps_space_of(c, mp_id);
        sp = tern_conn_sp(c, space);
    }
    if (c->is_server && h->type == TERN_PKT_HANDSHAKE && !pp->validated) {
        /* a Handshake packet proves the client got our Initial: address validated */
        pp->validated = 1;
    }
    if (c->is_server && h->type == TERN_PKT_HANDSHAKE)
        tern_conn_discard_space(c, TERN_SPACE_INITIAL);

    int ack_eliciting = 0, non_probing = 0;
    const uint8_t *payload = pkt + hdr_len;
    int largest = sp->largest_recv == UINT64_MAX || pn > sp->largest_recv;
    if (c->qlog) tern_qlog_packet_received(c, h, pkt, hdr_len, (size_t)n, pn, path_idx, now);
    c->ackf.rx_immediate = 0;
    int rv = process_frames(c, h->type, space, level, payload, payload + n, path_idx, &h->dcid,
                            &ack_eliciting, &non_probing, now);
    if (c->state == TERN_CS_DONE)
        return TERN_ERR_CLOSED;
    if (rv && c->state >= TERN_CS_CLOSING)
        return rv;
    if (rv == TERN_ERR_NOMEM)
        return 0; /* unacknowledged: the peer sends again what could not be taken now */
    /* the frames may have ended this path ID (PATH_ABANDON): its space stays a while */
    sp = tern_conn_sp(c, space);
    if (!sp || sp->discarded)
        return 0; /* e.g. HANDSHAKE_DONE just discarded nothing here, but Initial may be gone */
    if (sp->largest_recv == UINT64_MAX || pn > sp->largest_recv)
        sp->largest_recv = pn;
    tern_tstamp mad = space >= TERN_SPACE_APP ? tern_conn_ack_delay(c) : 0;
    tern_ackr_on_packet(&sp->ackr, pn, ack_eliciting, ecn, now, mad);
    if (ack_eliciting && (size_t)n < TERN_BULK_MIN_PAYLOAD)
        tern_ackr_not_bulk(&sp->ackr);
    if (c->ackf.rx_immediate) {
        c->ackf.rx_immediate = 0; /* only 1-RTT packets carry the frame */
        tern_ackr_immediate(&sp->ackr);
    }
    c->stats.pkts_recv++;
    pp->pkts_recv++;
    tern_conn_ecn_on_recv(c, path_idx, ecn);
    /* RFC 9001 §4.9.3: once the client speaks 1-RTT, whatever 0-RTT it sent before has arrived
     * or is lost (and sent again in 1-RTT) */
    tern_keys *k0 = tern_conn_keys(c, TERN_LEVEL_0RTT, 0);
    if (level == TERN_LEVEL_1RTT && k0 && k0->aead) {
        tern_crypto_keys_free(k0);
        tern_conn_keys_release(c);
    }
    if (level == TERN_LEVEL_1RTT && c->state < TERN_CS_CLOSING) {
        if (!tern_cid_eq(&pp->dcid, &h->dcid) &&
            !tern_cid_linger_contains(&c->cids.linger, &h->dcid)) {
            /* a CID the peer sends with is one it holds: never announced to it again (one it
             * retired only arrives late, and names no path) */
            pp->dcid = h->dcid;
            tern_local_cids_on_used(&c->cids.local, &h->dcid);
        }
        tern_mig_on_mp_packet(c, path_idx, non_probing, now);
        /* a packet of another path ID than the active path's is no migration of it */
        tern_mig_on_app_packet(c, path_idx, pn, largest,
                               non_probing && tern_conn_path(c)->mp_id == mp_id, now);
        if (mp_id && c->is_server && non_probing && largest &&
            tern_mps_slot_of(c, mp_id) != path_idx)
            tern_mig_move_path_id(c, mp_id, path_idx, now);
        /* A side that only receives has nothing in flight, hence no loss timer: should the peer
         * fall silent (a NAT rebound and drops what is sent to the old port), nothing would be
         * sent again before the idle timeout. One PING a PTO after the last packet received that
         * carried more than a PING (once per silence, so two idle peers do not keep each other
         * alive) hands the matter to the PTO machinery. */
        if ((ack_eliciting & 2) && c->hs.confirmed)
            c->timers.silence_probe_at = now + tern_conn_pto(c);
        if (ack_eliciting & 2)
            c->timers.rx_trim_at = now + 3 * tern_conn_pto(c);
    }
    c->timers.ack_eliciting_since_recv = 0;
    tern_conn_restart_idle(c, now);
    return rv;
}

int tern_conn_recv(tern_conn *c, const tern_path_addr *path, uint8_t *dgram, size_t len, int ecn,
                   tern_tstamp now)
{
    if (!c || !dgram)
        return TERN_ERR_INVALID_ARG;
    if (c->state == TERN_CS_DONE || c->state == TERN_CS_DRAINING)
        return TERN_ERR_CLOSED;
    if (c->state == TERN_CS_CLOSING) {
        /* answer with CONNECTION_CLOSE again, at most once per PTO */
        if (now >= c->close.last_sent + tern_conn_pto(c))
            c->close.pending = 1;
        return TERN_ERR_CLOSED;
    }
    if (c->qlog) tern_qlog_tick(c, now);
    /* a client only accepts datagrams on its own paths, from the server addresses it chose
     * (RFC 9000 §9); a server may see the client on a new path, once its handshake completed */
    int path_idx = tern_mig_path_for_datagram(c, path, now);
    if (path_idx == -1)
        return 0;
    c->stats.bytes_recv += len;
    if (path_idx >= 0)
        tern_conn_path_slot(c, path_idx)->bytes_recv += len;
    uint8_t tail[TERN_RESET_TOKEN_LEN] = {0};
    if (len >= TERN_RESET_TOKEN_LEN)
        memcpy(tail, dgram + len - TERN_RESET_TOKEN_LEN, TERN_RESET_TOKEN_LEN);
    size_t off = 0;
    tern_cid first_dcid;
    int reset_checked = 0;
    int rv = 0;
    while (off < len) {
        tern_pkt_hdr h;
        if (tern_pkt_parse(dgram + off, len - off, c->cids.scid_len, &h) != 0) {
            if (off == 0 && check_reset(c, &reset_checked, dgram, len, tail))
                return TERN_ERR_CLOSED;
            break;
        }
        if (off == 0)
            first_dcid = h.dcid;
        /* §12.2: a packet coalesced behind one with another DCID belongs to no one here */
        if (off > 0 && !tern_cid_eq(&h.dcid, &first_dcid)) {
            off += h.pkt_len;
            continue;
        }
        /* a server knows which CIDs it issued; a datagram to none of them may be the client's
         * stateless reset, which the driver routed here by its token */
        if (c->is_server && h.type == TERN_PKT_1RTT &&
            !tern_local_cids_contains(&c->cids.local, &h.dcid) &&
            !tern_cid_linger_contains(&c->cids.linger, &h.dcid) &&
            !tern_mps_path_of_dcid(c, &h.dcid)) {
            if (off == 0 && check_reset(c, &reset_checked, dgram, len, tail))
                return TERN_ERR_CLOSED;
            break;
        }
        /* §14.1: a server drops Initial packets in datagrams smaller than 1200 bytes */
        if (c->is_server && h.type == TERN_PKT_INITIAL && len < TERN_MIN_INITIAL_SIZE) {
            off += h.pkt_len;
            continue;
        }
        rv = process_packet(c, &path_idx, path, dgram + off, &h, ecn, &reset_checked, dgram, len, tail, now);
        if (rv && c->state >= TERN_CS_CLOSING)
            break;
        if (h.type == TERN_PKT_VN || h.type == TERN_PKT_RETRY)
            break;
        off += h.pkt_len;
    }
    if (c->qlog) tern_qlog_metrics(c, now);
    tern_conn_flush_notifications(c);
    return c->state >= TERN_CS_CLOSING ? TERN_ERR_CLOSED : 0;
}
