/* The view into a connection that conn_test.h declares: reads of its state, and the test hooks. */
#include "conn_test.h"

#include "conn_internal.h"

uint32_t tern_conn_version(const tern_conn *c)
{
    return c->version;
}
int tern_conn_handshake_complete(const tern_conn *c)
{
    return c->hs.complete;
}
uint64_t tern_conn_crypto_produced(const tern_conn *c, int level)
{
    return level >= 0 && level < TERN_LEVEL_COUNT ? c->stats.crypto_produced[level] : 0;
}

uint64_t tern_conn_early_bytes(const tern_conn *c)
{
    return c->res.early_bytes;
}

int tern_conn_handshake_confirmed(const tern_conn *c)
{
    return c->hs.confirmed;
}
int tern_conn_received_any(const tern_conn *c)
{
    return c->received_any;
}

tern_conn_deadlines tern_conn_get_deadlines(const tern_conn *c)
{
    tern_conn_deadlines d = {c->timers.idle_deadline, c->timers.handshake_deadline,
                             c->snd.pace_until};
    return d;
}

uint64_t tern_conn_next_pn(const tern_conn *c, int space)
{
    return c->sp[space].next_pn;
}
uint64_t tern_conn_largest_recv(const tern_conn *c, int space)
{
    return c->sp[space].largest_recv;
}
int tern_conn_space_discarded(const tern_conn *c, int space)
{
    return c->sp[space].discarded;
}
tern_ackr *tern_conn_ackr(tern_conn *c, int space)
{
    return &c->sp[space].ackr;
}
tern_recovery *tern_conn_recovery(tern_conn *c)
{
    return &c->rec;
}
uint64_t tern_conn_test_take_pn(tern_conn *c, int space)
{
    return c->sp[space].next_pn++;
}

tern_tls *tern_conn_tls(tern_conn *c)
{
    return c->hs.tls;
}
size_t tern_conn_close_info_bytes(const tern_conn *c)
{
    const tern_close_info *ci = c->close.info;
    return ci && ci != &tern_conn_close_nomem ? sizeof(*ci) : 0;
}
size_t tern_conn_handshake_keys_bytes(const tern_conn *c)
{
    return c->keys.hs ? sizeof(*c->keys.hs) : 0;
}
/* Keys of a level whose storage was released read as not installed. */
static tern_keys keys_gone;
tern_keys *tern_conn_tx_keys(tern_conn *c, int level)
{
    tern_keys *k = tern_conn_keys(c, level, 1);
    return k ? k : &keys_gone;
}
tern_keys *tern_conn_rx_keys(tern_conn *c, int level)
{
    tern_keys *k = tern_conn_keys(c, level, 0);
    return k ? k : &keys_gone;
}
const tern_keys *tern_conn_tx_hp(const tern_conn *c)
{
    return &c->keys.hp_tx1;
}
int tern_conn_tx_phase(const tern_conn *c)
{
    return c->keys.tx_phase;
}
int tern_conn_rx_phase(const tern_conn *c)
{
    return c->keys.rx_phase;
}
uint64_t tern_conn_key_updates(const tern_conn *c)
{
    return c->keys.updates;
}
uint64_t tern_conn_new_tokens_sent(const tern_conn *c)
{
    return c->tok.issued;
}
uint64_t tern_conn_key_updates_initiated(const tern_conn *c)
{
    return c->keys.initiated;
}
uint64_t tern_conn_tx_pkts_phase(const tern_conn *c)
{
    return c->keys.tx_pkts_phase;
}
uint64_t tern_conn_rx_auth_failed(const tern_conn *c)
{
    return c->keys.rx_auth_failed;
}

const tern_sendbuf *tern_conn_crypto_sent(const tern_conn *c, int level)
{
    return c->hs.crypto_snd ? &c->hs.crypto_snd[level] : NULL;
}

uint64_t tern_conn_crypto_recv_offset(const tern_conn *c, int level)
{
    if (!c->hs.crypto_rcv)
        return level == TERN_LEVEL_1RTT ? c->hs.crypto_1rtt_read : 0;
    return c->hs.crypto_rcv[level].read_off;
}

void tern_conn_test_set_conf_limit(tern_conn *c, uint64_t packets)
{
    c->keys.conf_limit = c->keys.test_conf_limit = packets;
}
void tern_conn_test_set_integ_limit(tern_conn *c, uint64_t packets)
{
    c->keys.integ_limit = c->keys.test_integ_limit = packets;
}

void tern_conn_test_stall_key_phase(tern_conn *c, uint64_t packets)
{
    c->keys.tx_pkts_phase = packets;
    c->keys.tx_phase_acked = 0;
    c->sp[TERN_SPACE_APP].tx_phase_first_pn = UINT64_MAX;
}

tern_local_cids *tern_conn_local_cids(tern_conn *c)
{
    return &c->cids.local;
}
tern_peer_cids *tern_conn_peer_cids(tern_conn *c)
{
    return &c->cids.peer;
}
const tern_cid *tern_conn_initial_dcid(const tern_conn *c)
{
    return &c->cids.initial_dcid;
}
const tern_cid *tern_conn_original_dcid(const tern_conn *c)
{
    return &c->cids.original_dcid;
}
const tern_cid *tern_conn_peer_initial_scid(const tern_conn *c)
{
    return &c->cids.peer_initial_scid;
}
int tern_conn_retry_received(const tern_conn *c)
{
    return c->retry.received;
}
const tern_cid *tern_conn_retry_scid(const tern_conn *c)
{
    return &c->retry.scid;
}

const uint8_t *tern_conn_token(const tern_conn *c, size_t *len)
{
    *len = c->retry.token_len;
    return c->retry.token;
}

void tern_conn_test_set_initial_dcid(tern_conn *c, const tern_cid *dcid)
{
    c->cids.initial_dcid = *dcid;
}

void tern_conn_test_set_retry(tern_conn *c, const tern_cid *scid)
{
    c->retry.received = 1;
    c->retry.scid = *scid;
}

const tern_tparams *tern_conn_local_tparams(const tern_conn *c)
{
    return &c->tp.local;
}
const tern_tparams *tern_conn_peer_tparams(const tern_conn *c)
{
    return &c->tp.peer;
}
int tern_conn_peer_tparams_received(const tern_conn *c)
{
    return c->tp.peer_received;
}
tern_tstamp tern_conn_peer_max_ack_delay(const tern_conn *c)
{
    return c->tp.peer_max_ack_delay;
}
unsigned tern_conn_peer_ack_delay_exponent(const tern_conn *c)
{
    return c->tp.peer_ack_delay_exponent;
}
tern_tparams *tern_conn_test_peer_tparams(tern_conn *c)
{
    return &c->tp.peer;
}

tern_conn_flow_view tern_conn_flow(const tern_conn *c)
{
    tern_conn_flow_view f = {
        .max_data_send = c->flow.max_data_send,
        .data_sent = c->flow.data_sent,
        .max_data_recv = c->flow.max_data_recv,
        .max_data_next = c->flow.max_data_next,
        .data_recv = c->flow.data_recv,
        .data_read = c->flow.data_read,
        .recv_window = c->flow.recv_window,
        .need_max_data = c->flow.need_max_data,
        .data_blocked_sent_at = c->flow.data_blocked_sent_at,
    };
    return f;
}

tern_streams *tern_conn_streams(tern_conn *c)
{
    return &c->streams.set;
}

const tern_path *tern_conn_path_at(const tern_conn *c, int i)
{
    static const tern_path never_used; /* a slot that never held a path reads as unused */
    const tern_path *p = tern_conn_path_slot(c, i);
    return p ? p : &never_used;
}
int tern_conn_active_index(const tern_conn *c)
{
    return c->paths.active;
}
tern_path *tern_conn_active_path(tern_conn *c)
{
    return tern_conn_path(c);
}
int tern_conn_pending_active(const tern_conn *c)
{
    return c->paths.pending_active;
}
const tern_policy *tern_conn_policy(const tern_conn *c)
{
    return c->pol;
}

tern_conn_hooks *tern_conn_test_hooks(tern_conn *c)
{
    return &c->hooks;
}
