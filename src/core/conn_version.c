/* A connection's side of version negotiation (RFC 9368): the version_information it sends and
 * checks, a server's move to a compatible version it prefers without a round trip (§2.3, §6), a
 * client's move when the server's first packets come in that version, and a client's new attempt
 * after a Version Negotiation packet, whose downgrade protection (§4) is the check of the server's
 * Available Versions once the handshake authenticated them. */
#include "conn_internal.h"

#include <stdio.h>
#include <stdlib.h>

static void set_local_info(tern_conn *c)
{
    tern_qv_info *vi = &c->tp.local.version_info;
    vi->present = 1;
    vi->chosen = c->version;
    vi->n = c->vn.n;
    memcpy(vi->available, c->vn.ours, c->vn.n * sizeof(uint32_t));
}

int tern_conn_version_init(tern_conn *c, const tern_conn_params *p, const tern_cid *keys_dcid)
{
    c->vn.n = tern_qv_list(c->cfg, c->vn.ours);
    c->vn.original = c->version;
    c->vn.keys_dcid = *keys_dcid;
    set_local_info(c);
    /* only a client starts again, and only one that has another version to try */
    if (c->is_server || c->vn.n < 2)
        return 0;
    c->vn.tls_ctx = p->tls_ctx;
    if (p->server_name) {
        size_t len = strlen(p->server_name) + 1;
        if (!(c->vn.server_name = malloc(len)))
            return TERN_ERR_NOMEM;
        memcpy(c->vn.server_name, p->server_name, len);
    }
    return 0;
}

static int initial_keys(tern_conn *c, uint32_t v, tern_keys *tx, tern_keys *rx)
{
    return tern_crypto_initial_keys(v, &c->vn.keys_dcid, c->is_server, tx, rx);
}

/* The keys of other versions (allocated the first time). NULL when out of memory. */
static tern_conn_vn_keys *other_keys(tern_conn *c)
{
    if (!c->vn.keys)
        c->vn.keys = calloc(1, sizeof(*c->vn.keys));
    return c->vn.keys;
}

/* Server: the first Initial (the ClientHello) was read in the original version; everything we
 * send is in `v` from now on, and the client's Initials are read in either until it follows. */
static int server_upgrade(tern_conn *c, uint32_t v)
{
    tern_keys tx, rx;
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    tern_conn_vn_keys *k = other_keys(c);
    if (!k)
        return TERN_ERR_NOMEM;
    if (initial_keys(c, v, &tx, &rx))
        return TERN_ERR_CRYPTO;
    tern_keys *cur_tx = tern_conn_keys(c, TERN_LEVEL_INITIAL, 1);
    tern_keys *cur_rx = tern_conn_keys(c, TERN_LEVEL_INITIAL, 0);
    if (!cur_tx) {
        /* the Initial space is gone: no Initial of the client's is read after that */
        tern_crypto_keys_free(&tx);
        tern_crypto_keys_free(&rx);
        return TERN_ERR_INTERNAL;
    }
    tern_crypto_keys_move(&k->orig_rx, cur_rx);
    tern_crypto_keys_move(cur_rx, &rx);
    tern_crypto_keys_move(cur_tx, &tx);
    c->version = v;
    c->vn.upgraded = 1;
    set_local_info(c);
    uint8_t buf[512];
    size_t n = tern_tparams_encode(&c->tp.local, 1, buf, sizeof(buf));
    if (!n || tern_tls_set_tparams(c->hs.tls, buf, n))
        return TERN_ERR_INTERNAL;
    TERN_LOG(c, "version 0x%08x chosen for a client that began in 0x%08x", (unsigned)v,
             (unsigned)c->vn.original);
    return 0;
}

int tern_conn_version_on_tparams(tern_conn *c, const tern_tparams *tp, uint64_t *terr,
                                 const char **why)
{
    const tern_qv_info *peer = &tp->version_info;
    *terr = TERN_TE_VERSION_NEGOTIATION_ERROR;
    if (!c->is_server)
        return tern_qv_client_check(c->vn.ours, c->vn.n, c->version, c->vn.after_vn, peer, why);
    if (tern_qv_server_check(c->vn.original, peer, why))
        return TERN_ERR_PROTO;
    uint32_t v = tern_qv_server_choose(c->vn.ours, c->vn.n, c->vn.original, peer);
    if (v != c->version && server_upgrade(c, v)) {
        *terr = TERN_TE_INTERNAL_ERROR;
        *why = "version upgrade";
        return TERN_ERR_PROTO;
    }
    return 0;
}

/* A new connection attempt in `v` (RFC 9368 §2.2): a new first DCID and its Initial keys, a new
 * ClientHello whose version_information chooses `v`; what was sent in the old version is
 * forgotten, not lost (no congestion signal, nothing to send again). */
static int restart(tern_conn *c, uint32_t v, tern_tstamp now)
{
    tern_cid dcid;
    dcid.len = 16;
    if (c->rand(c->rand_ud, dcid.data, dcid.len))
        return TERN_ERR_INTERNAL;
    tern_keys tx, rx;
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    c->vn.keys_dcid = dcid;
    if (tern_conn_keys_open(c))
        return TERN_ERR_NOMEM;
    if (initial_keys(c, v, &tx, &rx))
        return TERN_ERR_CRYPTO;
    tern_crypto_keys_move(tern_conn_keys(c, TERN_LEVEL_INITIAL, 1), &tx);
    tern_crypto_keys_move(tern_conn_keys(c, TERN_LEVEL_INITIAL, 0), &rx);
    c->cids.initial_dcid = dcid;
    c->cids.original_dcid = dcid;
    tern_peer_cids_set_initial(&c->cids.peer, &dcid);
    c->version = v;
    c->vn.original = v;
    c->vn.after_vn = 1;
    set_local_info(c);
    /* the old records go (no congestion signal); what they carried is dropped with the buffer */
    tern_recovery_declare_all_lost(&c->rec, TERN_SPACE_INITIAL, now);
    tern_sendbuf_free(&c->hs.crypto_snd[TERN_LEVEL_INITIAL]);
    tern_sendbuf_init(&c->hs.crypto_snd[TERN_LEVEL_INITIAL], TERN_CRYPTO_BUF_LIMIT);
    tern_tls_free(c->hs.tls);
    c->hs.tls = NULL;
    int rv = tern_conn_new_tls(c, c->vn.tls_ctx, c->vn.server_name);
    if (!rv)
        rv = tern_tls_start(c->hs.tls);
    return rv;
}

void tern_conn_version_on_vn(tern_conn *c, const tern_pkt_hdr *h, tern_tstamp now)
{
    /* one attempt per Version Negotiation at most: a second one can only be an attack */
    if (c->vn.after_vn)
        return;
    uint32_t v = tern_qv_after_vn(c->vn.ours, c->vn.n, c->version, h->versions, h->versions_count);
    /* a client's first version is the first of its list (tern_conn_new), so another one to try
     * means a list of two or more, and tern_conn_version_init kept the TLS context for it */
    if (!v) {
        tern_conn_set_close_info(c, TERN_ERR_VERSION, 0, 0, 0, 0, "version negotiation", 19);
        tern_conn_set_done(c);
        return;
    }
    TERN_LOG(c, "version negotiation: 0x%08x instead of 0x%08x", (unsigned)v, (unsigned)c->version);
    if (restart(c, v, now)) {
        tern_conn_set_close_info(c, TERN_ERR_VERSION, 0, 0, 0, 0, "version negotiation", 19);
        tern_conn_set_done(c);
    }
}

tern_keys *tern_conn_version_rx_keys(tern_conn *c, const tern_pkt_hdr *h, int level)
{
    if (h->version == c->version)
        return tern_conn_keys(c, level, 0);
    if (level != TERN_LEVEL_INITIAL)
        return NULL;
    /* (the keys of the version a server moved from stay until the Initial space goes, and no
     * Initial is read after that) */
    if (c->is_server)
        return c->vn.upgraded && h->version == c->vn.original && c->vn.keys ? &c->vn.keys->orig_rx
                                                                             : NULL;
    /* the server's first packet may move us to another version of ours compatible with the one
     * we began in (RFC 9368 §6); once anything authenticated in a version, that one stays */
    if (c->received_any || !tern_qv_in(h->version, c->vn.ours, c->vn.n) ||
        !tern_qv_compatible(c->version, h->version))
        return NULL;
    tern_conn_vn_keys *k = other_keys(c);
    if (!k)
        return NULL;
    if (c->vn.cand_version != h->version) {
        tern_crypto_keys_free(&k->cand_tx);
        tern_crypto_keys_free(&k->cand_rx);
        c->vn.cand_version = 0;
        if (initial_keys(c, h->version, &k->cand_tx, &k->cand_rx))
            return NULL;
        c->vn.cand_version = h->version;
    }
    return &k->cand_rx;
}

void tern_conn_version_on_authentic(tern_conn *c, const tern_keys *rx)
{
    tern_conn_vn_keys *k = c->vn.keys;
    if (c->is_server || !k || rx != &k->cand_rx || !c->keys.hs)
        return;
    tern_crypto_keys_move(tern_conn_keys(c, TERN_LEVEL_INITIAL, 1), &k->cand_tx);
    tern_crypto_keys_move(tern_conn_keys(c, TERN_LEVEL_INITIAL, 0), &k->cand_rx);
    TERN_LOG(c, "server moved the connection to version 0x%08x", (unsigned)c->vn.cand_version);
    c->version = c->vn.cand_version;
    c->vn.cand_version = 0;
    c->vn.upgraded = 1;
}

void tern_conn_version_free(tern_conn *c)
{
    tern_conn_version_discard(c);
    free(c->vn.server_name);
    c->vn.server_name = NULL;
}

void tern_conn_version_discard(tern_conn *c)
{
    tern_conn_vn_keys *k = c->vn.keys;
    c->vn.cand_version = 0;
    if (!k)
        return;
    tern_crypto_keys_free(&k->orig_rx);
    tern_crypto_keys_free(&k->cand_tx);
    tern_crypto_keys_free(&k->cand_rx);
    free(k);
    c->vn.keys = NULL;
}
