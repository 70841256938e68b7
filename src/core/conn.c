/* Connection lifecycle: creation, the TLS handshake and its secrets, transport parameters, timers,
 * closing, and the public connection and stream functions of tern.h. Packet processing lives in
 * conn_recv.c, packet assembly in conn_send.c, key phases and AEAD limits in conn_keys.c. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "conn_internal.h"
#include "mpsched.h"

/* ---- helpers --------------------------------------------------------------------------------- */

tern_tstamp tern_conn_pto(const tern_conn *c)
{
    const tern_path *p = tern_conn_path(c);
    return tern_rtt_pto(&p->rtt, c->hs.confirmed ? c->tp.peer_max_ack_delay : 0);
}

void tern_conn_restart_idle(tern_conn *c, tern_tstamp now)
{
    if (!c->timers.idle_timeout) {
        c->timers.idle_deadline = TERN_TS_INF;
        return;
    }
    /* RFC 9000 §10.1: never shorter than three PTOs, so that a few losses do not end the connection */
    tern_tstamp t = TERN_MAX(c->timers.idle_timeout, 3 * tern_conn_pto(c));
    c->timers.idle_deadline = now + t;
}

/* What tern_conn_close_info says of an open connection. */
static const tern_close_info close_none;
const tern_close_info tern_conn_close_nomem = {
    .status = TERN_ERR_NOMEM, .local = 1, .error_code = TERN_TE_INTERNAL_ERROR};

void tern_conn_set_close_info(tern_conn *c, int status, int app, int local, uint64_t code,
                           uint64_t frame_type, const char *reason, size_t reason_len)
{
    tern_close_info *ci = c->close.info;
    if ((ci && (ci->status || ci->error_code || ci->reason[0])) || c->state >= TERN_CS_CLOSING)
        return; /* the first reason wins */
    if (!ci && !(ci = malloc(sizeof(*ci)))) {
        c->close.info = (tern_close_info *)(uintptr_t)&tern_conn_close_nomem; /* never written */
        if (c->qlog) tern_qlog_closed(c);
        return;
    }
    c->close.info = ci;
    memset(ci, 0, sizeof(*ci));
    ci->status = status;
    ci->app = app;
    ci->local = local;
    ci->error_code = code;
    ci->frame_type = frame_type;
    size_t n = TERN_MIN(reason_len, sizeof(ci->reason) - 1);
    if (n)
        memcpy(ci->reason, reason, n);
    ci->reason[n] = 0;
    if (c->qlog) tern_qlog_closed(c);
}

static int status_for_terr(uint64_t terr)
{
    if (terr == TERN_TE_NO_ERROR)
        return 0;
    if (terr >= TERN_TE_CRYPTO_ERROR && terr < TERN_TE_CRYPTO_ERROR + 256)
        return TERN_ERR_TLS;
    return TERN_ERR_PROTO;
}

/* Closes with a transport error: CLOSING state, CONNECTION_CLOSE queued. */
void tern_conn_fail(tern_conn *c, uint64_t terr, uint64_t frame_type, const char *reason)
{
    if (c->state >= TERN_CS_CLOSING)
        return;
    tern_conn_set_close_info(c, status_for_terr(terr), 0, 1, terr, frame_type, reason,
                   reason ? strlen(reason) : 0);
    TERN_LOG(c, "closing: transport error 0x%llx frame 0x%llx: %s", (unsigned long long)terr,
             (unsigned long long)frame_type, reason ? reason : "");
    c->state = TERN_CS_CLOSING;
    c->close.pending = 1;
    c->close.deadline = 0; /* set at the first send, when `now` is known */
}

void tern_conn_enter_draining(tern_conn *c, tern_tstamp now)
{
    c->state = TERN_CS_DRAINING;
    c->close.pending = 0;
    c->close.deadline = now + 3 * tern_conn_pto(c);
}

void tern_conn_set_done(tern_conn *c) { c->state = TERN_CS_DONE; }

/* ---- keys --------------------------------------------------------------------------------------- */

static int install_secret(void *ud, int level, int aead, const uint8_t *rx, const uint8_t *tx,
                          size_t len)
{
    tern_conn *c = ud;
    if (level != TERN_LEVEL_1RTT && tern_conn_keys_open(c))
        return TERN_ERR_NOMEM;
    if (level == TERN_LEVEL_0RTT) {
        /* a client's key to send 0-RTT with; a server's to read it, given only when GnuTLS
         * accepted the client's early data */
        tern_keys *k = tern_conn_keys(c, level, !c->is_server);
        const uint8_t *secret = c->is_server ? rx : tx;
        if (!secret)
            return 0;
        tern_crypto_keys_free(k);
        if (tern_crypto_keys_from_secret_v(k, c->version, aead, secret, len, 1))
            return TERN_ERR_CRYPTO;
        c->res.early = c->is_server ? TERN_EARLY_DATA_ACCEPTED : TERN_EARLY_DATA_PENDING;
        if (c->is_server) {
            /* the application serves 0-RTT streams before the handshake completes: it needs the
             * protocol the ClientHello and its ticket agreed on */
            const char *alpn = tern_tls_alpn(c->hs.tls);
            snprintf(c->hs.alpn, sizeof(c->hs.alpn), "%s", alpn ? alpn : "");
        }
        if (c->qlog)
            tern_qlog_secrets(c, level, rx != NULL, tx != NULL);
        return 0;
    }
    c->keys.aead = aead;
    if (rx) {
        tern_keys *k = tern_conn_keys(c, level, 0);
        tern_crypto_keys_free(k);
        if (tern_crypto_keys_from_secret_v(k, c->version, aead, rx, len, level != TERN_LEVEL_1RTT))
            return TERN_ERR_CRYPTO;
        /* the next phase's receive keys are made when a packet of that phase first arrives
         * (tern_conn_install_rx_next) */
        if (level == TERN_LEVEL_1RTT &&
            tern_crypto_hp_from_secret_v(&c->keys.hp_rx1, c->version, aead, rx, len))
            return TERN_ERR_CRYPTO;
    }
    if (tx) {
        tern_keys *k = tern_conn_keys(c, level, 1);
        tern_crypto_keys_free(k);
        if (tern_crypto_keys_from_secret_v(k, c->version, aead, tx, len, level != TERN_LEVEL_1RTT))
            return TERN_ERR_CRYPTO;
        if (level == TERN_LEVEL_1RTT &&
            tern_crypto_hp_from_secret_v(&c->keys.hp_tx1, c->version, aead, tx, len))
            return TERN_ERR_CRYPTO;
        /* from now on the client's anti-deadlock probe goes in the Handshake space: its Initial
         * keys go with its first Handshake packet (RFC 9002 §6.2.2.1) */
        if (level == TERN_LEVEL_HANDSHAKE)
            c->rec.has_handshake_keys = 1;
    }
    if (level == TERN_LEVEL_1RTT) {
        c->keys.conf_limit = c->keys.test_conf_limit ? c->keys.test_conf_limit
                                                     : tern_crypto_confidentiality_limit(aead);
        c->keys.integ_limit =
            c->keys.test_integ_limit ? c->keys.test_integ_limit : tern_crypto_integrity_limit(aead);
    }
    if (c->qlog) tern_qlog_secrets(c, level, rx != NULL, tx != NULL);
    return 0;
}

/* The next receive phase's keys, made when a packet with the other key phase bit first arrives,
 * and kept until the phase changes (once per phase, whatever a peer sends). Not ahead of time:
 * an idle connection would hold a cipher context that a connection without key updates never
 * uses. RFC 9001 §6.3 allows making them while processing the packet; the timing that may show
 * tells when the peer first used a new phase, which its next packets show anyway. */
static int tls_send(void *ud, int level, const uint8_t *data, size_t len)
{
    tern_conn *c = ud;
    if (level == TERN_LEVEL_0RTT)
        level = TERN_LEVEL_1RTT;
    if (tern_conn_crypto_open(c))
        return TERN_ERR_NOMEM;
    ssize_t n = tern_sendbuf_write(&c->hs.crypto_snd[level], data, len, 0);
    if (n < 0 || (size_t)n != len)
        return TERN_ERR_NOMEM;
    c->stats.crypto_produced[level] += len;
    return 0;
}

/* Keeps the first transport error found inside a TLS callback, with its words, for the caller of
 * tern_tls_recv to close with. The words take heap only then (a connection that never fails holds
 * none); should that allocation fail, the close carries the error without them. */
static void set_pending_error(tern_conn *c, uint64_t terr, const char *fmt, ...)
{
    if (c->hs.pending_terr_set)
        return;
    c->hs.pending_terr_set = 1;
    c->hs.pending_terr = terr;
    char text[sizeof(((tern_close_info *)0)->reason)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    c->hs.pending_reason = strdup(text);
}

static void tls_alert(void *ud, int level, uint8_t alert)
{
    tern_conn *c = ud;
    /* The words for it when TLS has them (a certificate that failed verification, and why) */
    if (c->hs.tls && tern_tls_error_text(c->hs.tls)[0])
        set_pending_error(c, TERN_TE_CRYPTO_ERROR + alert, "%s", tern_tls_error_text(c->hs.tls));
    else
        set_pending_error(c, TERN_TE_CRYPTO_ERROR + alert, "TLS alert %u", alert);
}

/* The flow-control and stream limits of peer parameters: the server's own, or, for 0-RTT, the
 * ones remembered from the connection that brought the ticket. */
static void apply_peer_limits(tern_conn *c, const tern_tparams *tp)
{
    c->flow.max_data_send = tp->initial_max_data;
    tern_streams_set_peer_limits(&c->streams.set, tp->initial_max_stream_data_bidi_local,
                                 tp->initial_max_stream_data_bidi_remote,
                                 tp->initial_max_stream_data_uni);
    tern_streams_on_max_streams(&c->streams.set, 1, tp->initial_max_streams_bidi);
    tern_streams_on_max_streams(&c->streams.set, 0, tp->initial_max_streams_uni);
}

static void apply_peer_tparams(tern_conn *c)
{
    const tern_tparams *tp = &c->tp.peer;
    apply_peer_limits(c, tp);
    c->tp.peer_max_ack_delay = tp->max_ack_delay * TERN_NS_PER_MS;
    c->rec.max_ack_delay = c->tp.peer_max_ack_delay;
    c->tp.peer_ack_delay_exponent = (unsigned)tp->ack_delay_exponent;
    uint64_t ours = c->cfg->idle_timeout_ms, theirs = tp->max_idle_timeout;
    uint64_t eff = !ours ? theirs : !theirs ? ours : TERN_MIN(ours, theirs);
    c->timers.idle_timeout = eff * TERN_NS_PER_MS;
    /* during the handshake, before any search started: no timer to arm, the time does not matter */
    tern_conn_pmtud_peer_limit(c, tp->max_udp_payload_size, 0);
    if (!c->is_server && tp->has_stateless_reset_token)
        tern_peer_cids_set_initial_token(&c->cids.peer, tp->stateless_reset_token);
    tern_conn_dgram_set_peer_max(c, tp->max_datagram_frame_size);
    tern_ackfreq_on_peer_params(&c->ackf, c->cfg->ack_frequency != 0, tp->has_min_ack_delay,
                                tp->min_ack_delay_us, c->cfg->ack_bulk_every);
}

static int tls_tparams(void *ud, const uint8_t *data, size_t len)
{
    tern_conn *c = ud;
    uint64_t terr = TERN_TE_TRANSPORT_PARAMETER_ERROR;
    const char *why = "malformed transport parameters";
    tern_tparams tp;
    if (tern_tparams_decode(&tp, !c->is_server, data, len, &terr) != 0)
        goto fail;
    why = "initial_source_connection_id mismatch";
    if (!c->cids.peer_scid_known || !tern_cid_eq(&tp.initial_scid, &c->cids.peer_initial_scid))
        goto fail;
    if (!c->is_server) {
        /* the decoder refused a server's parameters without original_destination_connection_id */
        why = "original_destination_connection_id mismatch";
        if (!tern_cid_eq(&tp.original_dcid, &c->cids.initial_dcid))
            goto fail;
        why = "retry_source_connection_id mismatch";
        if (c->retry.received != tp.has_retry_scid ||
            (c->retry.received && !tern_cid_eq(&tp.retry_scid, &c->retry.scid)))
            goto fail;
    }
    if (tern_conn_version_on_tparams(c, &tp, &terr, &why))
        goto fail;
    if (tern_mp_on_peer_tparams(c, &tp, &terr, &why))
        goto fail;
    why = "out of memory";
    terr = TERN_TE_INTERNAL_ERROR;
    if (c->mp.enabled && tern_mps_enable(c))
        goto fail;
    c->tp.peer = tp;
    c->tp.peer_received = 1;
    apply_peer_tparams(c);
    why = "preferred_address connection ID rejected";
    if (tern_mig_on_peer_tparams(c, &terr))
        goto fail;
    return 0;
fail:
    set_pending_error(c, terr, "%s", why);
    return TERN_ERR_PROTO;
}

static void peer_token_changed(void *ud, const uint8_t *token, int added)
{
    tern_conn *c = ud;
    if (c->hooks.reset_token)
        c->hooks.reset_token(c->hooks.ud, c, token, added);
}

static void tls_keylog(void *ud, const char *line)
{
    tern_conn *c = ud;
    c->cfg->keylog(c->cfg->keylog_ud, line);
}

/* Client: a NewSessionTicket arrived; the application gets it with what 0-RTT must remember. */
static int tls_ticket(void *ud, const uint8_t *session, size_t len, uint32_t max_early_data)
{
    tern_conn *c = ud;
    /* RFC 9001 §4.6.1: a QUIC ticket allows early data with 0xffffffff, or not at all */
    if (max_early_data != 0 && max_early_data != 0xffffffffu) {
        set_pending_error(c, TERN_TE_PROTOCOL_VIOLATION,
                          "session ticket with max_early_data_size %u", max_early_data);
        return TERN_ERR_PROTO;
    }
    if (!c->cb || !c->cb->on_session_ticket || !c->tp.peer_received)
        return 0;
    tern_resume r;
    memset(&r, 0, sizeof(r));
    tern_resume_from_tparams(&r, &c->tp.peer);
    r.max_early_data = max_early_data;
    snprintf(r.alpn, sizeof(r.alpn), "%s", c->hs.alpn);
    r.session = session;
    r.session_len = len;
    uint8_t *blob = malloc(TERN_RESUME_MAX_LEN);
    if (!blob)
        return 0; /* a ticket is an optimisation: without memory it is not kept */
    size_t n = tern_resume_encode(&r, blob, TERN_RESUME_MAX_LEN);
    if (n)
        c->cb->on_session_ticket(c, blob, n, c->cb_ud);
    memset(blob, 0, n);
    free(blob);
    return 0;
}

static const tern_tls_cb tls_callbacks = {
    .on_secret = install_secret,
    .on_send = tls_send,
    .on_alert = tls_alert,
    .on_tparams = tls_tparams,
    .on_ticket = tls_ticket,
};

/* Client, once the handshake completed: what the server made of our 0-RTT. Refused, every
 * 0-RTT packet is lost without it being a congestion signal, and each stream starts again from
 * its first byte under the server's new limits (RFC 9000 §7.4.1, RFC 9001 §4.6.2); DATAGRAM
 * frames are not sent again (RFC 9221 §5) but reported lost through on_datagram_lost. Accepted,
 * the server must not have lowered any remembered limit, max_datagram_frame_size included (RFC
 * 9221 §3). Returns 0 or -1 (the connection failed). */
static int settle_early_data(tern_conn *c, tern_tstamp now)
{
    if (c->is_server || c->res.early != TERN_EARLY_DATA_PENDING)
        return 0;
    tern_crypto_keys_free(tern_conn_keys(c, TERN_LEVEL_0RTT, 1));
    tern_conn_keys_release(c);
    tern_resume *r = c->res.remembered; /* 0-RTT is only sent with it */
    c->res.remembered = NULL;           /* its work is done once the answer is known */
    int kept = r && tern_resume_limits_kept(r, &c->tp.peer);
    free(r);
    if (tern_tls_early_accepted(c->hs.tls)) {
        c->res.early = TERN_EARLY_DATA_ACCEPTED;
        if (!kept) {
            tern_conn_fail(c, TERN_TE_PROTOCOL_VIOLATION, 0,
                           "0-RTT accepted with lower limits than remembered");
            return -1;
        }
        TERN_LOG(c, "0-RTT accepted");
        return 0;
    }
    c->res.early = TERN_EARLY_DATA_REJECTED;
    TERN_LOG(c, "0-RTT rejected: its data goes again as 1-RTT");
    tern_recovery_declare_all_lost(&c->rec, TERN_SPACE_APP, now);
    c->flow.data_sent =
        tern_streams_restart_send(&c->streams.set, c->tp.peer.initial_max_stream_data_bidi_remote,
                                  c->tp.peer.initial_max_stream_data_uni);
    c->flow.max_data_send = c->tp.peer.initial_max_data;
    c->flow.data_blocked_sent_at = UINT64_MAX;
    return 0;
}

void tern_conn_discard_space(tern_conn *c, int space)
{
    if (c->sp[space].discarded)
        return;
    c->sp[space].discarded = 1;
    c->sp[space].probes = 0;
    tern_recovery_discard_space(&c->rec, space);
    int level = space == TERN_SPACE_INITIAL ? TERN_LEVEL_INITIAL : TERN_LEVEL_HANDSHAKE;
    tern_crypto_keys_free(tern_conn_keys(c, level, 1));
    tern_crypto_keys_free(tern_conn_keys(c, level, 0));
    tern_conn_keys_release(c);
    if (c->hs.crypto_snd) {
        tern_sendbuf_free(&c->hs.crypto_snd[level]);
        tern_sendbuf_init(&c->hs.crypto_snd[level], TERN_CRYPTO_BUF_LIMIT);
        /* nothing more arrives at this level: what it buffered (a chunk of the last flight) goes */
        tern_recvbuf_free(&c->hs.crypto_rcv[level]);
        tern_recvbuf_init(&c->hs.crypto_rcv[level], TERN_CRYPTO_BUF_LIMIT, NULL);
    }
    if (space == TERN_SPACE_INITIAL)
        tern_conn_version_discard(c);
    if (c->qlog) tern_qlog_keys_discarded(c, space);
    tern_conn_crypto_release(c);
}

int tern_conn_crypto_open(tern_conn *c)
{
    if (c->hs.crypto)
        return 0;
    tern_conn_crypto_bufs *b = malloc(sizeof(*b));
    if (!b)
        return TERN_ERR_NOMEM;
    for (int i = 0; i < TERN_LEVEL_COUNT; i++) {
        tern_sendbuf_init(&b->snd[i], TERN_CRYPTO_BUF_LIMIT);
        tern_recvbuf_init(&b->rcv[i], TERN_CRYPTO_BUF_LIMIT, NULL);
    }
    /* the 1-RTT level goes on where it was (0 the first time); the others were discarded */
    tern_sendbuf_start_at(&b->snd[TERN_LEVEL_1RTT], c->hs.crypto_1rtt_end);
    tern_recvbuf_start_at(&b->rcv[TERN_LEVEL_1RTT], c->hs.crypto_1rtt_read);
    c->hs.crypto = b;
    c->hs.crypto_snd = b->snd;
    c->hs.crypto_rcv = b->rcv;
    return 0;
}

/* Frees the block (each level's buffers) without conditions. */
static void crypto_free(tern_conn *c)
{
    tern_conn_crypto_bufs *b = c->hs.crypto;
    if (!b)
        return;
    for (int i = 0; i < TERN_LEVEL_COUNT; i++) {
        tern_sendbuf_free(&b->snd[i]);
        tern_recvbuf_free(&b->rcv[i]);
    }
    free(b);
    c->hs.crypto = NULL;
    c->hs.crypto_snd = NULL;
    c->hs.crypto_rcv = NULL;
}

void tern_conn_crypto_release(tern_conn *c)
{
    tern_conn_crypto_bufs *b = c->hs.crypto;
    if (!b || !c->hs.confirmed || !c->sp[TERN_SPACE_INITIAL].discarded ||
        !c->sp[TERN_SPACE_HANDSHAKE].discarded)
        return;
    for (int i = 0; i < TERN_LEVEL_COUNT; i++)
        if (!tern_sendbuf_drained(&b->snd[i]) || b->rcv[i].highest > b->rcv[i].read_off)
            return;
    c->hs.crypto_1rtt_end = b->snd[TERN_LEVEL_1RTT].end;
    c->hs.crypto_1rtt_read = b->rcv[TERN_LEVEL_1RTT].read_off;
    crypto_free(c);
}

void tern_conn_on_handshake_confirmed(tern_conn *c, tern_tstamp now)
{
    if (c->hs.confirmed)
        return;
    c->hs.confirmed = 1;
    c->rec.handshake_confirmed = 1;
    c->rec.peer_completed_address_validation = 1;
    tern_conn_discard_space(c, TERN_SPACE_HANDSHAKE);
    c->keys.tx_phase_acked = 1; /* a key update may start now */
    c->keys.tx_phase_elicited = 1; /* only a phase that follows an update needs its PING */
    if (c->qlog) tern_qlog_state(c, "handshake_confirmed");
    tern_mig_on_confirmed(c, now);
}

/* The peer CIDs we accept: what the configuration asks, but at least one per path we may open
 * plus one, so that the server can answer on every path (and within what we can store). */
static uint64_t local_cid_limit(const tern_config *cfg)
{
    uint64_t lim = TERN_MAX(cfg->active_connection_id_limit, (uint64_t)tern_mig_max_paths(cfg) + 1);
    return TERN_MAX(2, TERN_MIN(lim, (uint64_t)TERN_MAX_PEER_CIDS));
}

/* Every CID we issue comes from here: the driver's generator, or random bytes. */
static int make_cid(tern_conn *c, tern_cid *cid)
{
    if (c->hooks.new_cid) {
        int rv = c->hooks.new_cid(c->hooks.ud, c, cid);
        if (!rv && cid->len != c->cids.scid_len)
            rv = TERN_ERR_INTERNAL;
        return rv;
    }
    cid->len = (uint8_t)c->cids.scid_len;
    return c->rand(c->rand_ud, cid->data, cid->len);
}

void tern_conn_issue_cids(tern_conn *c)
{
    if (!c->tp.peer_received)
        return;
    /* As many as the peer takes (up to TERN_MAX_LOCAL_CIDS): a server cannot know how many paths
     * its client will open, and each needs a CID of its own. A client, whose paths the server
     * only follows, needs one per path it may open plus one spare. */
    uint64_t want = TERN_MIN(c->tp.peer.active_connection_id_limit, (uint64_t)TERN_MAX_LOCAL_CIDS);
    if (!c->is_server)
        want = TERN_MIN(want, (uint64_t)tern_mig_max_paths(c->cfg) + 1);
    /* Replacements keep one below the peer's limit: a peer may still count a CID it has just
     * retired (while the path validation that used it winds down) when our replacement arrives,
     * and close with CONNECTION_ID_LIMIT_ERROR (seen with ngtcp2 under loss). */
    if (c->cids.replacing && want > 2)
        want--;
    /* one allocation for the lot, of their number (a failure leaves the adds to grow it) */
    (void)tern_local_cids_reserve(&c->cids.local, (size_t)want);
    while (tern_local_cids_count(&c->cids.local) < want) {
        tern_cid cid;
        uint8_t token[TERN_RESET_TOKEN_LEN];
        if (make_cid(c, &cid))
            break; /* issued later, when the random source works again */
        tern_crypto_reset_token(c->reset_key, &cid, token);
        tern_cid_entry *e = tern_local_cids_add(&c->cids.local, &cid, token);
        if (!e)
            break;
        if (c->hooks.cid_added)
            c->hooks.cid_added(c->hooks.ud, c, &cid);
    }
    /* and those of the other path IDs, once multipath is in use */
    uint64_t path_id;
    while ((path_id = tern_mp_cid_wanted(c)) != 0) {
        tern_cid cid;
        uint8_t token[TERN_RESET_TOKEN_LEN];
        if (make_cid(c, &cid))
            break;
        tern_crypto_reset_token(c->reset_key, &cid, token);
        tern_mp_cid_add(c, path_id, &cid, token);
        if (c->hooks.cid_added)
            c->hooks.cid_added(c->hooks.ud, c, &cid);
    }
}

static void on_handshake_complete(tern_conn *c, tern_tstamp now)
{
    c->hs.complete = 1;
    c->stats.handshake_done_time = now;
    c->timers.handshake_deadline = TERN_TS_INF;
    c->state = TERN_CS_ESTABLISHED; /* CRYPTO is only processed before any close */
    snprintf(c->hs.alpn, sizeof(c->hs.alpn), "%s", tern_tls_alpn(c->hs.tls));
    if (c->qlog) tern_qlog_state(c, "handshake_complete");
    c->res.resumed = tern_tls_resumed(c->hs.tls);
    if (settle_early_data(c, now))
        return;
    if (c->is_server) {
        c->hs.done_pending = 1;
        tern_conn_on_handshake_confirmed(c, now);
        tern_conn_token_on_confirmed(c);
    }
    tern_conn_issue_cids(c);
    TERN_LOG(c, "handshake complete (%s, alpn %s)", tern_crypto_aead_name(c->keys.aead),
             c->hs.alpn);
    if (c->cb && c->cb->on_connected)
        c->cb->on_connected(c, c->cb_ud);
}

/* Feeds contiguous CRYPTO bytes of a level to TLS. Returns 0 or a negative error (connection failed). */
int tern_conn_crypto_deliver(tern_conn *c, int level, tern_tstamp now)
{
    uint8_t buf[4096];
    /* The handshake's end, inside this loop, may release the buffers (all read by then): the
     * level's buffer is looked up again each time. */
    while (c->hs.crypto_rcv && tern_recvbuf_readable(&c->hs.crypto_rcv[level]) > 0) {
        tern_recvbuf *rb = &c->hs.crypto_rcv[level];
        if (!c->hs.tls) {
            /* a server after its handshake, whose TLS session is gone: a client has no TLS
             * message left to send (QUIC has no post-handshake authentication, and KeyUpdate
             * is forbidden, RFC 9001 §6), so this is what TLS answered too, in its words:
             * unexpected_message */
            tern_conn_fail(c, TERN_TE_CRYPTO_ERROR + 10, TERN_FT_CRYPTO, "TLS alert 10");
            return TERN_ERR_TLS;
        }
        int fin = 0;
        size_t n = tern_recvbuf_read(rb, buf, sizeof(buf), &fin);
        uint8_t alert = 0;
        int was_done = c->hs.complete;
        int rv = tern_tls_recv(c->hs.tls, level, buf, n, &alert);
        if (rv < 0 || c->hs.pending_terr_set) {
            uint64_t terr = c->hs.pending_terr_set ? c->hs.pending_terr
                            : rv == TERN_ERR_PROTO
                                ? (uint64_t)TERN_TE_PROTOCOL_VIOLATION
                                : (uint64_t)TERN_TE_CRYPTO_ERROR + (alert ? alert : 80u);
            tern_conn_fail(c, terr, TERN_FT_CRYPTO,
                           c->hs.pending_reason && c->hs.pending_reason[0]
                               ? c->hs.pending_reason
                               : "TLS handshake failed");
            free(c->hs.pending_reason); /* copied into the close information */
            c->hs.pending_reason = NULL;
            return TERN_ERR_TLS;
        }
        /* the TLS layer refuses a handshake without the transport parameters extension
         * (missing_extension), so the peer's parameters are known here */
        if (rv == 1 && !was_done)
            on_handshake_complete(c, now);
    }
    if (c->is_server && c->hs.complete && c->hs.tls && c->state < TERN_CS_CLOSING) {
        /* The server's TLS session (some 14 KB in GnuTLS) has done its work: the handshake is
         * over, its tickets are written, and the keys of every later phase derive from the
         * secrets the connection holds. */
        tern_tls_free(c->hs.tls);
        c->hs.tls = NULL;
    }
    tern_conn_crypto_release(c); /* a client's session ticket, read */
    return 0;
}

/* ---- creation ------------------------------------------------------------------------------------ */

static void fill_local_tparams(tern_conn *c, const tern_conn_params *p)
{
    const tern_config *cfg = c->cfg;
    tern_tparams *tp = &c->tp.local;
    tern_tparams_default(tp);
    tp->max_idle_timeout = cfg->idle_timeout_ms;
    tp->max_udp_payload_size = 65527;
    tp->initial_max_data = cfg->initial_max_data;
    tp->initial_max_stream_data_bidi_local = cfg->initial_max_stream_data_bidi_local;
    tp->initial_max_stream_data_bidi_remote = cfg->initial_max_stream_data_bidi_remote;
    tp->initial_max_stream_data_uni = cfg->initial_max_stream_data_uni;
    tp->initial_max_streams_bidi = cfg->initial_max_streams_bidi;
    tp->initial_max_streams_uni = cfg->initial_max_streams_uni;
    tp->active_connection_id_limit = local_cid_limit(cfg);
    tp->disable_active_migration = cfg->disable_active_migration;
    tp->max_datagram_frame_size = cfg->max_datagram_frame_size;
    tp->has_min_ack_delay = cfg->ack_frequency != 0;
    tp->min_ack_delay_us = cfg->min_ack_delay_us;
    tp->initial_scid = c->cids.local.e[0].cid;
    tern_mp_init(c, tp);
    if (c->is_server) {
        tp->has_original_dcid = 1;
        tp->original_dcid = p->original_dcid;
        if (p->retried) {
            tp->has_retry_scid = 1;
            tp->retry_scid = p->client_dcid;
        }
        tp->has_stateless_reset_token = 1;
        memcpy(tp->stateless_reset_token, c->cids.local.e[0].token, TERN_RESET_TOKEN_LEN);
        const tern_addr *pa = &cfg->preferred_address;
        if (pa->len && c->cids.local.n > 1) {
            /* the CID of sequence number 1 travels with the preferred address */
            tp->has_preferred_address = 1;
            if (pa->u.sa.sa_family == AF_INET) {
                memcpy(tp->preferred_address.ipv4, &pa->u.in.sin_addr, 4);
                tp->preferred_address.ipv4_port = ntohs(pa->u.in.sin_port);
            } else {
                memcpy(tp->preferred_address.ipv6, &pa->u.in6.sin6_addr, 16);
                tp->preferred_address.ipv6_port = ntohs(pa->u.in6.sin6_port);
            }
            tp->preferred_address.cid = c->cids.local.e[1].cid;
            memcpy(tp->preferred_address.token, c->cids.local.e[1].token, TERN_RESET_TOKEN_LEN);
        }
    }
}

static tern_cc *path_cc(void *ud, uint8_t id)
{
    tern_conn *c = ud;
    tern_path *p = id < TERN_MAX_PATHS ? tern_conn_path_slot(c, id) : NULL;
    return p && p->state != TERN_PATH_UNUSED ? &p->cc : NULL;
}

static tern_rtt *path_rtt(void *ud, uint8_t id)
{
    tern_conn *c = ud;
    tern_path *p = id < TERN_MAX_PATHS ? tern_conn_path_slot(c, id) : NULL;
    return p && p->state != TERN_PATH_UNUSED ? &p->rtt : NULL;
}

static int alpn_offered(const tern_config *cfg, const char *alpn)
{
    for (size_t i = 0; i < cfg->alpn_count; i++)
        if (strcmp(cfg->alpn[i], alpn) == 0)
            return 1;
    return 0;
}

/* Our transport parameters, encoded, and the TLS callbacks: what every new TLS session takes. */
static int tls_setup(tern_conn *c, uint8_t *tpbuf, size_t cap, size_t *tplen, tern_tls_cb *cb)
{
    *tplen = tern_tparams_encode(&c->tp.local, c->is_server, tpbuf, cap);
    if (!*tplen)
        return TERN_ERR_INTERNAL;
    *cb = tls_callbacks;
    if (c->cfg->keylog) /* else GnuTLS's own SSLKEYLOGFILE support stays in place */
        cb->on_keylog = tls_keylog;
    return 0;
}

int tern_conn_new_tls(tern_conn *c, tern_tls_ctx *ctx, const char *server_name)
{
    uint8_t tpbuf[512];
    size_t tplen;
    tern_tls_cb tls_cb;
    int rv = tls_setup(c, tpbuf, sizeof(tpbuf), &tplen, &tls_cb);
    if (rv)
        return rv;
    return tern_tls_new(&c->hs.tls, ctx, c->is_server, server_name, tpbuf, tplen, &tls_cb, c);
}

static int check_config(const tern_config *cfg)
{
    if (!cfg || !cfg->alpn_count || !cfg->alpn)
        return TERN_ERR_CONFIG;
    if (cfg->max_udp_payload < 1200 || cfg->max_udp_payload > 65527)
        return TERN_ERR_CONFIG;
    if (cfg->initial_max_streams_bidi > (1ull << 60) || cfg->initial_max_streams_uni > (1ull << 60))
        return TERN_ERR_CONFIG;
    if (cfg->datagram_queue_count == 0 || cfg->max_datagram_frame_size > TERN_MAX_VARINT)
        return TERN_ERR_CONFIG;
    if (cfg->key_update_margin_pct < 1 || cfg->key_update_margin_pct > 99 || cfg->multipath > 1)
        return TERN_ERR_CONFIG;
    return tern_ackfreq_config_ok(cfg);
}

int tern_conn_new(tern_conn **out, const tern_conn_params *p, const tern_path_addr *path,
                  tern_tstamp now)
{
    if (!out || !p || !path || !p->rand || !p->reset_key || !p->tls_ctx)
        return TERN_ERR_INVALID_ARG;
    int rv = check_config(p->cfg);
    if (rv)
        return rv;
    size_t scid_len = p->scid_len ? p->scid_len : TERN_DEFAULT_SCID_LEN;
    if (scid_len > TERN_MAX_CID_LEN)
        return TERN_ERR_INVALID_ARG;
    tern_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return TERN_ERR_NOMEM;
    c->is_server = p->is_server;
    uint32_t versions[TERN_QV_MAX];
    tern_qv_list(p->cfg, versions);
    c->version = p->version ? p->version : versions[0];
    c->cfg = p->cfg;
    c->cb = p->cb;
    c->cb_ud = p->cb_ud;
    c->rand = p->rand;
    c->rand_ud = p->rand_ud;
    memcpy(c->reset_key, p->reset_key, 32);
    if (p->is_server && p->token_key && p->cfg->token_lifetime_ms) {
        memcpy(c->tok.key, p->token_key, 32);
        c->tok.enabled = 1;
    }
    c->hooks = p->hooks;
    c->cids.scid_len = scid_len;
    c->stats.created = now;
    c->state = TERN_CS_HANDSHAKE;
    c->close.deadline = TERN_TS_INF;
    c->timers.idle_deadline = TERN_TS_INF;
    c->timers.handshake_deadline = TERN_TS_INF;
    c->flow.data_blocked_sent_at = UINT64_MAX;
    tern_conn_dgram_init(c);

    for (int s = 0; s < TERN_SPACE_COUNT; s++) {
        c->sp[s].largest_recv = UINT64_MAX;
        tern_ackr_init(&c->sp[s].ackr);
    }
    tern_ackfreq_init(&c->ackf);
    /* the receiver's own bulk policy (docs/ack-frequency.md); a peer's ACK_FREQUENCY replaces it */
    tern_ackr_set_bulk(&c->sp[TERN_SPACE_APP].ackr, p->cfg->ack_bulk_after,
                       p->cfg->ack_bulk_every > 1 ? p->cfg->ack_bulk_every - 1 : 0);
    c->paths.slot[0] = &c->paths.first;
    tern_path *p0 = tern_conn_path_slot(c, 0);
    tern_path_init(p0, 0, path, p->cfg->cc, p->cfg->max_udp_payload, p->cfg->pmtud_raise_ms, now);
    /* the handshake path counts as validated once the handshake completes; until then a server
     * still applies the amplification limit to it */
    p0->state = TERN_PATH_VALIDATED;
    p0->path_validated = 1;
    p0->validated_at = now;
    c->paths.active = 0;
    c->paths.pending_active = -1;
    /* a client trusts the server address it chose; a server must validate the client's */
    p0->validated = !p->is_server || p->address_validated;
    tern_recovery_cb rcb = {tern_conn_on_pkt_acked, tern_conn_on_pkt_lost, path_cc, path_rtt};
    tern_recovery_init(&c->rec, c->is_server, &p0->rtt, &p0->cc, &rcb, c);
    c->tp.peer_max_ack_delay = 25 * TERN_NS_PER_MS;
    c->rec.max_ack_delay = c->tp.peer_max_ack_delay;
    c->tp.peer_ack_delay_exponent = 3;

    tern_streams_init(&c->streams.set, c->is_server, p->cfg->stream_send_buffer);
    c->streams.set.local_max_data_bidi_local = p->cfg->initial_max_stream_data_bidi_local;
    c->streams.set.local_max_data_bidi_remote = p->cfg->initial_max_stream_data_bidi_remote;
    c->streams.set.local_max_data_uni = p->cfg->initial_max_stream_data_uni;
    tern_streams_set_remote_limits(&c->streams.set, p->cfg->initial_max_streams_bidi,
                                   p->cfg->initial_max_streams_uni);
    c->flow.max_data_recv = c->flow.max_data_next = c->flow.recv_window = p->cfg->initial_max_data;
    c->streams.set.pool.budget = (size_t)TERN_MIN(c->flow.recv_window, (uint64_t)SIZE_MAX);

    /* connection IDs */
    tern_local_cids_init(&c->cids.local, scid_len);
    tern_peer_cids_init(&c->cids.peer, local_cid_limit(p->cfg));
    if (c->is_server) {
        c->cids.peer.on_token = peer_token_changed;
        c->cids.peer.token_ud = c;
    }
    tern_cid scid;
    uint8_t token[TERN_RESET_TOKEN_LEN];
    if ((rv = tern_conn_crypto_open(c)) || (rv = make_cid(c, &scid)))
        goto fail;
    /* a client's migration policy (a server gets one only if it ever opens a second path) */
    if (!c->is_server && (rv = tern_policy_init(c)))
        goto fail;
    tern_crypto_reset_token(c->reset_key, &scid, token);
    if (!tern_local_cids_add(&c->cids.local, &scid, token)) {
        rv = TERN_ERR_NOMEM; /* (the table's first room) */
        goto fail;
    }
    tern_cid pref_cid;
    pref_cid.len = 0;
    if (c->is_server && p->cfg->preferred_address.len) {
        if ((rv = make_cid(c, &pref_cid)))
            goto fail;
        uint8_t ptoken[TERN_RESET_TOKEN_LEN];
        tern_crypto_reset_token(c->reset_key, &pref_cid, ptoken);
        tern_cid_entry *pe = tern_local_cids_add(&c->cids.local, &pref_cid, ptoken);
        if (!pe) {
            rv = TERN_ERR_NOMEM;
            goto fail;
        }
        /* sent in the transport parameters */
        tern_local_cids_on_announced(&c->cids.local, pe->seq);
    }

    const tern_cid *keys_dcid;
    if (c->is_server) {
        c->cids.original_dcid = p->original_dcid;
        c->retry.sent = p->retried;
        c->cids.peer_initial_scid = p->client_scid;
        c->cids.peer_scid_known = 1;
        if ((rv = tern_peer_cids_set_initial(&c->cids.peer, &p->client_scid)))
            goto fail;
        keys_dcid = &p->client_dcid;
    } else {
        c->cids.initial_dcid.len = 16;
        if ((rv = c->rand(c->rand_ud, c->cids.initial_dcid.data, 16)))
            goto fail;
        c->cids.original_dcid = c->cids.initial_dcid;
        if ((rv = tern_peer_cids_set_initial(&c->cids.peer, &c->cids.initial_dcid)))
            goto fail;
        keys_dcid = &c->cids.initial_dcid;
    }
    /* a server's half-open connection is state a peer made us hold: it ends with the same bound */
    c->timers.handshake_deadline = now + c->cfg->handshake_timeout_ms * TERN_NS_PER_MS;
    if ((rv = tern_conn_keys_open(c)))
        goto fail;
    rv = tern_crypto_initial_keys(c->version, keys_dcid, c->is_server,
                                  tern_conn_keys(c, TERN_LEVEL_INITIAL, 1),
                                  tern_conn_keys(c, TERN_LEVEL_INITIAL, 0));
    if (rv)
        goto fail;
    fill_local_tparams(c, p);
    if ((rv = tern_conn_version_init(c, p, keys_dcid)))
        goto fail;
    /* without memory for it the connection runs without qlog: it is a diagnostic */
    if (p->qlog || p->cfg->qlog)
        (void)tern_qlog_new(c, p->qlog ? p->qlog : p->cfg->qlog,
                            p->qlog ? p->qlog_ud : p->cfg->qlog_ud, now);
    if (!c->is_server && p->session) {
        uint8_t tpbuf[512];
        size_t tplen;
        tern_tls_cb tls_cb;
        if ((rv = tls_setup(c, tpbuf, sizeof(tpbuf), &tplen, &tls_cb)))
            goto fail;
        tern_resume *r = c->res.remembered = malloc(sizeof(*r));
        if (!r) {
            rv = TERN_ERR_NOMEM;
            goto fail;
        }
        if ((rv = tern_resume_decode(r, p->session, p->session_len)))
            goto fail;
        int early =
            p->early_data && r->max_early_data == 0xffffffffu && alpn_offered(c->cfg, r->alpn);
        rv = tern_tls_new_resumed(&c->hs.tls, p->tls_ctx, p->server_name, tpbuf, tplen, &tls_cb, c,
                                  r->session, r->session_len, early);
        r->session = NULL;
        r->session_len = 0;
        c->res.remembered_set = 1;
    } else {
        if (c->is_server)
            (void)tern_tls_ctx_tick(p->tls_ctx, now); /* a failed rotation is tried again later */
        rv = tern_conn_new_tls(c, p->tls_ctx, p->server_name);
        if (!rv && c->is_server) {
            /* what a ticket this connection issues will let 0-RTT use */
            tern_resume mine;
            uint64_t limits[TERN_RESUME_LIMITS];
            tern_resume_from_tparams(&mine, &c->tp.local);
            tern_resume_limits(&mine, limits);
            rv = tern_tls_set_early_limits(c->hs.tls, limits, TERN_RESUME_LIMITS);
        }
    }
    if (rv)
        goto fail;
    if (c->hooks.cid_added) {
        c->hooks.cid_added(c->hooks.ud, c, &scid);
        if (pref_cid.len)
            c->hooks.cid_added(c->hooks.ud, c, &pref_cid);
    }
    if (!c->is_server) {
        rv = tern_tls_start(c->hs.tls);
        if (rv)
            goto fail_registered;
        if (c->res.early == TERN_EARLY_DATA_PENDING) {
            /* 0-RTT goes out under the limits the server had when it issued the ticket */
            tern_tparams tp;
            tern_resume_to_tparams(c->res.remembered, &tp);
            apply_peer_limits(c, &tp);
            /* RFC 9221 §3: DATAGRAM frames too, up to the size remembered with the ticket */
            tern_conn_dgram_set_peer_max(c, tp.max_datagram_frame_size);
        }
    }
    c->timers.idle_timeout = c->cfg->idle_timeout_ms * TERN_NS_PER_MS;
    tern_conn_restart_idle(c, now);
    *out = c;
    return 0;
fail_registered:
    if (c->hooks.cid_removed)
        c->hooks.cid_removed(c->hooks.ud, c, &scid);
fail:
    tern_conn_free(c);
    return rv;
}

int tern_conn_path_slot_open(tern_conn *c, int i)
{
    if (c->paths.slot[i])
        return 0;
    if (tern_policy_init(c)) /* a server's, for its path cache */
        return TERN_ERR_NOMEM;
    tern_path *p = calloc(1, sizeof(*p));
    if (!p)
        return TERN_ERR_NOMEM;
    c->paths.slot[i] = p;
    return 0;
}

void tern_conn_free(tern_conn *c)
{
    if (!c)
        return;
    tern_tls_free(c->hs.tls);
    tern_conn_version_free(c);
    tern_mps_free(c);
    tern_mp_free(c);
    free(c->res.remembered);
    free(c->hs.pending_reason);
    if (c->close.info != &tern_conn_close_nomem)
        free(c->close.info);
    tern_local_cids_free(&c->cids.local);
    tern_peer_cids_free(&c->cids.peer);
    tern_cid_linger_free(&c->cids.linger);
    for (int i = 0; i < TERN_LEVEL_COUNT; i++) {
        tern_crypto_keys_free(tern_conn_keys(c, i, 1));
        tern_crypto_keys_free(tern_conn_keys(c, i, 0));
    }
    free(c->keys.hs);
    crypto_free(c);
    tern_qlog_free(c->qlog);
    tern_crypto_keys_free(&c->keys.hp_tx1);
    tern_crypto_keys_free(&c->keys.hp_rx1);
    tern_crypto_keys_free(&c->keys.rx_next);
    tern_crypto_keys_free(&c->keys.rx_prev);
    for (int s = 0; s < TERN_SPACE_COUNT; s++)
        tern_ackr_free(&c->sp[s].ackr);
    tern_recovery_free(&c->rec);
    tern_streams_free(&c->streams.set);
    tern_conn_dgram_free(c);
    tern_policy_free(c);
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        if (c->paths.slot[i] != &c->paths.first)
            free(c->paths.slot[i]);
    free(c->streams.notify);
    free(c->retry.token);
    volatile uint8_t *k = c->tok.key; /* wiped: not optimised away */
    for (size_t i = 0; i < sizeof(c->tok.key); i++)
        k[i] = 0;
    free(c);
}

/* ---- timers --------------------------------------------------------------------------------------- */

/* A quarter of the path's minimum RTT, at most the 25 ms we advertise as max_ack_delay. A fixed
 * 25 ms (or even the 1 ms timer granularity) on a sub-millisecond path leaves a sender whose small
 * window holds an odd number of packets idle for many round trips waiting for the last ACK. The
 * runtime's timers are precise to the microsecond; a floor of 10 us keeps the timer meaningful. */
tern_tstamp tern_conn_ack_delay(const tern_conn *c)
{
    if (c->ackf.rx_set)
        return tern_ackfreq_rx_delay(&c->ackf, 0); /* the peer's Requested Max Ack Delay */
    const tern_rtt *rtt = &tern_conn_path(c)->rtt;
    tern_tstamp max = 25 * TERN_NS_PER_MS;
    if (!rtt->has_sample)
        return max;
    return TERN_MIN(max, TERN_MAX(rtt->min / 4, 10 * TERN_NS_PER_US));
}

/* The unacked_ptos rule of tern_config, at a PTO that just expired (`heard` = packets arrived
 * since the PTO before it). pto_count counts the PTOs since the last acknowledgement progress. */
static int peer_acks_nothing(const tern_conn *c, int heard)
{
    uint32_t k = c->cfg->unacked_ptos;
    if (!k || !c->hs.confirmed)
        return 0;
    if (k < 2)
        k = 2; /* "since the first of them" needs a first one before this one */
    /* multipath: the peer may hear us on its other paths while this one is dead (mpsched.h) */
    if (tern_mpsched_other_usable(c, c->paths.active))
        return 0;
    return c->rec.pto_count >= k && heard && c->stats.pkts_recv > c->timers.pto_run_recv;
}

tern_tstamp tern_conn_next_timeout(const tern_conn *c)
{
    /* over: nothing is left to time (a driver that keeps it a while must not wake for it) */
    if (c->state == TERN_CS_DONE)
        return TERN_TS_INF;
    if (c->state >= TERN_CS_CLOSING)
        return c->close.deadline ? c->close.deadline : 0;
    if (tern_conn_dgram_has_notes(c))
        return 0; /* datagram outcomes to report (see tern_conn_dgram_flush): at once */
    tern_tstamp t = TERN_MIN(c->timers.idle_deadline, c->timers.handshake_deadline);
    t = TERN_MIN(t, tern_recovery_timer(&c->rec, 0));
    const tern_ackr *a = &c->sp[TERN_SPACE_APP].ackr;
    /* an ACK that the amplification limit does not let out waits for the peer's next datagram,
     * not for a timer (which would be due again at once, forever) */
    /* ... nor, on a server, for the handshake to complete: 0-RTT packets are acknowledged in
     * 1-RTT ones, which it cannot send before */
    int app_acks = !c->sp[TERN_SPACE_APP].discarded && (c->hs.complete || !c->is_server) &&
                   tern_path_amp_budget(tern_conn_path(c)) >= TERN_MIN_SEND_ROOM;
    if (app_acks)
        t = TERN_MIN(t, tern_ackr_due_time(a, tern_conn_ack_sparse(c)));
    if (app_acks)
        t = TERN_MIN(t, tern_ackr_repeat_time(a));
    if (c->snd.pace_until)
        t = TERN_MIN(t, c->snd.pace_until);
    if (c->keys.rx_prev.aead)
        t = TERN_MIN(t, c->keys.rx_prev_discard);
    t = TERN_MIN(t, tern_cid_linger_next(&c->cids.linger));
    if (c->timers.silence_probe_at)
        t = TERN_MIN(t, c->timers.silence_probe_at);
    if (c->timers.rx_trim_at)
        t = TERN_MIN(t, c->timers.rx_trim_at);
    t = TERN_MIN(t, tern_policy_next_timeout(c));
    t = TERN_MIN(t, tern_conn_pmtud_timer(c));
    t = TERN_MIN(t, tern_mps_next_timeout(c));
    return TERN_MIN(t, tern_mig_next_timeout(c));
}

/* Queues what a PTO probe in `space` carries again: the unacknowledged handshake bytes, or the
 * frames of the oldest application packets still in flight (new data goes first if there is any;
 * otherwise the probe would be a bare PING that repairs nothing). */
void tern_conn_requeue_for_probe(tern_conn *c, int space)
{
    if (space >= TERN_SPACE_APP) {
        tern_sentq *q = tern_recovery_q(&c->rec, space);
        int n = 0;
        for (size_t i = 0; i < q->count && n < 2; i++) {
            const tern_sent_pkt *p = &q->ring[(q->head + i) % q->cap];
            if (p->acked || p->lost || !p->ack_eliciting)
                continue;
            tern_conn_requeue_frames(c, space, p);
            n++;
        }
        return;
    }
    int level = space == TERN_SPACE_INITIAL ? TERN_LEVEL_INITIAL : TERN_LEVEL_HANDSHAKE;
    if (!c->hs.crypto_snd)
        return; /* released: both levels were discarded */
    tern_sendbuf *sb = &c->hs.crypto_snd[level];
    if (sb->sent > sb->base)
        tern_sendbuf_on_lost(sb, sb->base, (size_t)(sb->sent - sb->base), 0);
}

static void arm_probe(tern_conn *c, int space)
{
    tern_conn_sp(c, space)->probes = 2;
    tern_conn_requeue_for_probe(c, space);
}

void tern_conn_on_timeout(tern_conn *c, tern_tstamp now)
{
    if (c->state == TERN_CS_DONE)
        return;
    if (c->qlog) tern_qlog_tick(c, now);
    if (c->state >= TERN_CS_CLOSING) {
        if (c->close.deadline && now >= c->close.deadline)
            tern_conn_set_done(c);
        return;
    }
    if (now >= c->timers.idle_deadline) {
        tern_conn_set_close_info(c, TERN_ERR_IDLE_TIMEOUT, 0, 1, TERN_TE_NO_ERROR, 0, "idle timeout", 12);
        tern_conn_set_done(c);
        return;
    }
    if (!c->hs.complete && now >= c->timers.handshake_deadline) {
        tern_conn_set_close_info(c, TERN_ERR_IDLE_TIMEOUT, 0, 1, TERN_TE_NO_ERROR, 0, "handshake timeout",
                       17);
        tern_conn_set_done(c);
        return;
    }
    if (c->snd.pace_until && now >= c->snd.pace_until)
        c->snd.pace_until = 0;
    if (c->keys.rx_prev.aead && now >= c->keys.rx_prev_discard)
        tern_crypto_keys_free(&c->keys.rx_prev);
    tern_cid gone;
    while (tern_cid_linger_pop_due(&c->cids.linger, now, &gone))
        if (c->hooks.cid_removed)
            c->hooks.cid_removed(c->hooks.ud, c, &gone);
    tern_mig_on_timeout(c, now);
    if (c->state >= TERN_CS_CLOSING)
        return;
    tern_mps_on_timeout(c, now);
    if (c->timers.rx_trim_at && now >= c->timers.rx_trim_at) {
        c->timers.rx_trim_at = 0;
        tern_streams_trim(&c->streams.set);
    }
    if (c->timers.silence_probe_at && now >= c->timers.silence_probe_at) {
        c->timers.silence_probe_at = 0;
        if (!tern_recovery_has_in_flight(&c->rec))
            c->paths.ping_pending = 1;
    }
    tern_policy_on_timeout(c, now);
    tern_conn_pmtud_on_timeout(c, now);
    tern_conn_sync_amplification(c);
    if (tern_recovery_timer(&c->rec, now) <= now) {
        int space = tern_recovery_on_timeout(&c->rec, now);
        tern_conn_pmtud_settle(c, now); /* the losses the timer declared */
        if (space >= 0) {
            int heard = c->stats.pkts_recv > c->timers.pto_prev_recv;
            if (c->rec.pto_count == 1)
                c->timers.pto_run_recv = c->stats.pkts_recv;
            c->timers.pto_prev_recv = c->stats.pkts_recv;
            if (peer_acks_nothing(c, heard)) {
                /* silent (RFC 9000 §10.1): what we send does not get through, or is ignored;
                 * a CONNECTION_CLOSE would be answered to every packet of a peer that keeps
                 * sending, for a closing period, and reach nobody on a dead direction */
                static const char why[] = "peer acknowledges nothing";
                TERN_LOG(c, "closing: %u PTOs in a row unanswered while the peer keeps sending",
                         c->rec.pto_count);
                tern_conn_set_close_info(c, TERN_ERR_IDLE_TIMEOUT, 0, 1, TERN_TE_NO_ERROR, 0, why,
                                         sizeof(why) - 1);
                tern_conn_set_done(c);
                return;
            }
        }
        if (space >= 0 && tern_conn_sp(c, space) && !tern_conn_sp(c, space)->discarded) {
            if (space == TERN_SPACE_APP)
                tern_policy_on_pto(c, now); /* first: a standby probe goes out ahead */
            tern_mpsched_on_pto(c, space, now); /* a failing path's data goes elsewhere now */
            arm_probe(c, space);
            /* RFC 9002 §6.2.4: the other handshake space's data in flight goes along, coalesced,
             * so that one datagram that gets through repairs both */
            for (int s = TERN_SPACE_INITIAL; s <= TERN_SPACE_HANDSHAKE; s++)
                if (s != space && !c->sp[s].discarded && c->rec.q[s].ack_eliciting_in_flight)
                    arm_probe(c, s);
        }
    }
    if (c->qlog) tern_qlog_metrics(c, now);
    tern_conn_flush_notifications(c);
}

int tern_conn_is_done(const tern_conn *c) { return c->state == TERN_CS_DONE; }

int tern_conn_close_sent(const tern_conn *c)
{
    return c->state == TERN_CS_DRAINING || (c->state == TERN_CS_CLOSING && !c->close.pending);
}

void tern_conn_forget_app(tern_conn *c) { c->cb = NULL; }
int tern_conn_handshake_completed(const tern_conn *c) { return c->hs.complete; }

int tern_conn_state(const tern_conn *c)
{
    switch (c->state) {
    case TERN_CS_HANDSHAKE:
        return TERN_CORE_HANDSHAKE;
    case TERN_CS_ESTABLISHED:
        return TERN_CORE_ESTABLISHED;
    case TERN_CS_CLOSING:
        return TERN_CORE_CLOSING;
    case TERN_CS_DRAINING:
        return TERN_CORE_DRAINING;
    default:
        return TERN_CORE_CLOSED;
    }
}

int tern_conn_on_port_unreachable(tern_conn *c, const tern_addr *to)
{
    static const char why[] = "port unreachable";

    if (c->is_server || c->hs.complete || c->stats.pkts_recv > 0 || c->state >= TERN_CS_CLOSING ||
        !tern_addr_equal(to, &tern_conn_path(c)->addr.remote))
        return 0;
    TERN_LOG(c, "closing: ICMP port unreachable from the server before any answer");
    tern_conn_set_close_info(c, TERN_ERR_CONN_REFUSED, 0, 1, TERN_TE_NO_ERROR, 0, why,
                             sizeof(why) - 1);
    tern_conn_set_done(c);
    return 1;
}

const tern_close_info *tern_conn_close_info(const tern_conn *c)
{
    return c->close.info ? c->close.info : &close_none;
}

void tern_conn_set_driver_data(tern_conn *c, void *d) { c->driver_data = d; }
void *tern_conn_get_driver_data(const tern_conn *c) { return c->driver_data; }

/* ---- notifications ---------------------------------------------------------------------------- */

void tern_conn_queue_writable(tern_conn *c, tern_stream *s)
{
    if (!(s->flags & TERN_SF_WANT_WRITABLE))
        return;
    size_t room = tern_sendbuf_room(&s->snd);
    if (room == 0 || room < s->want_room)
        return;
    s->flags &= ~TERN_SF_WANT_WRITABLE;
    if (c->streams.notify_n == c->streams.notify_cap) {
        size_t ncap = c->streams.notify_cap ? c->streams.notify_cap * 2 : 16;
        int64_t *n = realloc(c->streams.notify, ncap * sizeof(*n));
        if (!n) {
            s->flags |= TERN_SF_WANT_WRITABLE;
            return;
        }
        c->streams.notify = n;
        c->streams.notify_cap = ncap;
    }
    c->streams.notify[c->streams.notify_n++] = s->id;
}

void tern_conn_flush_notifications(tern_conn *c)
{
    /* callbacks may queue more: take the list as it is now */
    while (c->streams.notify_n && c->state < TERN_CS_CLOSING) {
        int64_t sid = c->streams.notify[--c->streams.notify_n];
        if (c->cb && c->cb->on_stream_writable && tern_streams_find(&c->streams.set, sid))
            c->cb->on_stream_writable(c, sid, c->cb_ud);
    }
    c->streams.notify_n = 0;
    tern_conn_dgram_flush(c);
}

void tern_conn_maybe_close_stream(tern_conn *c, tern_stream *s)
{
    if (tern_stream_is_done(s, c->is_server)) {
        int remote = tern_sid_is_server(s->id) != c->is_server;
        tern_streams_close(&c->streams.set, s);
        if (remote && (c->streams.set.need_max_streams[0] || c->streams.set.need_max_streams[1]))
            c->streams.ctrl_pending = 1;
    }
}

/* ---- connection flow control --------------------------------------------------------------- */

void tern_conn_wake(tern_conn *c)
{
    if (c->hooks.wake)
        c->hooks.wake(c->hooks.ud, c);
}

void tern_conn_credit_consumed(tern_conn *c, uint64_t n, int force)
{
    c->flow.data_read += n;
    uint64_t target = c->flow.data_read + c->flow.recv_window;
    if (target > TERN_MAX_VARINT)
        target = TERN_MAX_VARINT;
    /* credit goes out in half-window steps, not one MAX_DATA per read */
    if (target > c->flow.max_data_next &&
        (force || target - c->flow.max_data_next >= c->flow.recv_window / 2)) {
        c->flow.max_data_next = target; /* enforced once a MAX_DATA carries it */
        c->flow.need_max_data = 1;
        tern_conn_wake(c);
    }
}

void tern_conn_on_data_blocked(tern_conn *c, uint64_t limit)
{
    if (c->flow.max_data_next > limit) {
        c->flow.need_max_data =
            1; /* our last MAX_DATA did not reach the peer (or is queued): again */
        tern_conn_wake(c);
        return;
    }
    tern_conn_credit_consumed(c, 0, 1);
}

/* ---- public connection API ------------------------------------------------------------------------ */

int tern_conn_open_stream(tern_conn *c, int bidi, int64_t *sid)
{
    if (!c || !sid)
        return TERN_ERR_INVALID_ARG;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    tern_stream *s;
    int rv = tern_streams_open_local(&c->streams.set, bidi, &s);
    if (rv) {
        if (rv == TERN_ERR_STREAM_LIMIT) {
            c->streams.ctrl_pending = 1; /* STREAMS_BLOCKED */
            tern_conn_wake(c);
        }
        return rv;
    }
    *sid = s->id;
    return 0;
}

int tern_conn_close(tern_conn *c, uint64_t app_error, const char *reason)
{
    if (!c)
        return TERN_ERR_INVALID_ARG;
    if (c->state >= TERN_CS_CLOSING)
        return TERN_ERR_CLOSED;
    tern_conn_set_close_info(c, 0, 1, 1, app_error, 0, reason ? reason : "", reason ? strlen(reason) : 0);
    c->state = TERN_CS_CLOSING;
    c->close.pending = 1;
    c->close.deadline = 0;
    tern_conn_wake(c);
    return 0;
}

static void fill_stats(tern_conn *c, tern_conn_stats *out)
{
    memset(out, 0, sizeof(*out));
    const tern_path *p = tern_conn_path(c);
    out->bytes_sent = c->stats.bytes_sent;
    out->bytes_recv = c->stats.bytes_recv;
    out->pkts_sent = c->stats.pkts_sent;
    out->pkts_recv = c->stats.pkts_recv;
    out->pkts_lost = c->rec.pkts_lost;
    out->stream_bytes_sent = c->stats.stream_bytes_sent;
    out->stream_bytes_recv = c->stats.stream_bytes_recv;
    out->stream_bytes_resent = c->stats.stream_bytes_resent;
    out->srtt_ns = p->rtt.smoothed;
    out->min_rtt_ns = p->rtt.min;
    out->rttvar_ns = p->rtt.var;
    out->latest_rtt_ns = p->rtt.latest;
    out->cwnd = p->cc.cwnd;
    out->bytes_in_flight = p->cc.bytes_in_flight;
    out->handshake_ns =
        c->stats.handshake_done_time ? c->stats.handshake_done_time - c->stats.created : 0;
    out->key_updates = c->keys.updates;
    out->pto_count = c->rec.pto_total;
    out->policy_moves = c->pol ? c->pol->moves : 0;
    out->paths_restored = c->pol ? c->pol->restored : 0;
    out->spurious_losses = c->rec.spurious_losses;
    out->congestion_events = p->cc.congestion_events;
    out->congestion_undone = p->cc.congestion_undone;
    out->persistent_congestions = c->rec.persistent_congestions;
    out->ecn_state = c->cfg->ecn ? tern_conn_path(c)->ecn.state : TERN_ECN_STATE_OFF;
    out->ecn_sent = c->ecn.sent;
    out->ecn_ce = c->ecn.ce;
    out->ecn_ce_reductions = c->ecn.ce_reductions;
    out->ecn_recv_ect0 = c->ecn.recv[0];
    out->ecn_recv_ect1 = c->ecn.recv[1];
    out->ecn_recv_ce = c->ecn.recv[2];
    out->datagrams_sent = c->dgram.sent;
    out->datagrams_recv = c->dgram.recv;
    out->datagrams_acked = c->dgram.acked;
    out->datagrams_lost = c->dgram.lost;
    out->datagrams_dropped = c->dgram.dropped;
    out->mtu = tern_path_mtu(p);
    out->mtu_probes_sent = c->stats.mtu_probes_sent;
    out->mtu_probes_lost = c->stats.mtu_probes_lost;
    out->mtu_black_holes = c->stats.mtu_black_holes;
    out->acks_sent = c->stats.acks_sent;
    out->ack_frequency_sent = c->stats.ack_frequency_sent;
    out->immediate_ack_sent = c->stats.immediate_ack_sent;
    out->multipath = (uint64_t)tern_mp_enabled(c);
}

int tern_conn_get_stats_sized(tern_conn *c, tern_conn_stats *out, size_t size)
{
    if (!c || !out)
        return TERN_ERR_INVALID_ARG;
    if (!tern_abi_size_ok(size, 0, sizeof(tern_conn_stats), _Alignof(tern_conn_stats)))
        return TERN_ERR_ABI;
    tern_conn_stats st;
    fill_stats(c, &st);
    memcpy(out, &st, size);
    return 0;
}

void tern_conn_get_path(tern_conn *c, tern_path_addr *out)
{
    *out = tern_conn_path(c)->addr;
}
const char *tern_conn_alpn(tern_conn *c)
{
    return c->hs.alpn;
}
const char *tern_conn_cipher(tern_conn *c)
{
    return c->hs.complete ? tern_crypto_aead_name(c->keys.aead) : "";
}
int tern_conn_is_server(tern_conn *c) { return c->is_server; }

int tern_conn_early_data(tern_conn *c)
{
    return c ? c->res.early : TERN_EARLY_DATA_NONE;
}

int tern_conn_resumed(tern_conn *c)
{
    return c ? c->res.resumed : 0;
}

uint32_t tern_conn_quic_version(tern_conn *c) { return c ? c->version : 0; }
int tern_conn_is_established(tern_conn *c) { return c->state == TERN_CS_ESTABLISHED; }
void tern_conn_set_user_data(tern_conn *c, void *ud) { c->app_data = ud; }
void *tern_conn_get_user_data(tern_conn *c) { return c->app_data; }
