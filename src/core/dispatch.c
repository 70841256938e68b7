/* Endpoint front door: CID routing and the stateless answers of RFC 9000. See dispatch.h. */
#include "dispatch.h"
#include "qversion.h"

#include "crypto.h"
#include "packet.h"
#include "token.h"

#define NS_PER_SEC 1000000000ull
#define RESET_MIN_LEN 21 /* RFC 9000 §10.3: 5 unpredictable bytes + the 16-byte token */
#define RESET_MAX_LEN 43 /* long enough to look like a short-header packet with a 20-byte CID */

void tern_dispatch_config_init(tern_dispatch_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->is_server = 1;
    cfg->cid_len = TERN_DISPATCH_CID_LEN;
    cfg->max_conns = TERN_DISPATCH_MAX_CONNS;
    cfg->retry_token_lifetime_ns = TERN_DISPATCH_RETRY_TOKEN_LIFETIME_NS;
    cfg->resets_per_sec = TERN_DISPATCH_RESETS_PER_SEC;
}

int tern_dispatch_init(tern_dispatch *d, const tern_dispatch_config *cfg)
{
    memset(d, 0, sizeof(*d));
    if (!cfg || !cfg->rand || cfg->cid_len < 1 || cfg->cid_len > TERN_MAX_CID_LEN ||
        cfg->max_conns == 0)
        return TERN_ERR_INVALID_ARG;
    d->cfg = *cfg;
    if (tern_token_derive_key(cfg->retry_key, d->new_token_key))
        return TERN_ERR_CRYPTO;
    uint8_t key[16];
    int rv = cfg->rand(cfg->rand_ud, key, sizeof(key));
    if (rv)
        return rv;
    rv = tern_cidmap_init(&d->map, key);
    if (!rv) {
        rv = cfg->rand(cfg->rand_ud, key, sizeof(key));
        if (!rv)
            rv = tern_cidmap_init(&d->tokens, key);
        if (rv)
            tern_cidmap_free(&d->map);
    }
    memset(key, 0, sizeof(key));
    return rv;
}

void tern_dispatch_free(tern_dispatch *d)
{
    if (d->map.b)
        tern_cidmap_free(&d->map);
    if (d->tokens.b)
        tern_cidmap_free(&d->tokens);
    memset(d->cfg.reset_key, 0, sizeof(d->cfg.reset_key));
    memset(d->cfg.retry_key, 0, sizeof(d->cfg.retry_key));
    memset(d->new_token_key, 0, sizeof(d->new_token_key));
    d->owners = 0;
}

void tern_dispatch_set_reset_key(tern_dispatch *d, const uint8_t key[32])
{
    memcpy(d->cfg.reset_key, key, sizeof(d->cfg.reset_key));
}

int tern_dispatch_set_retry_key(tern_dispatch *d, const uint8_t key[32])
{
    uint8_t derived[32];
    if (tern_token_derive_key(key, derived))
        return TERN_ERR_CRYPTO;
    memcpy(d->cfg.retry_key, key, sizeof(d->cfg.retry_key));
    memcpy(d->new_token_key, derived, sizeof(derived));
    memset(derived, 0, sizeof(derived));
    return 0;
}

const uint8_t *tern_dispatch_reset_key(const tern_dispatch *d)
{
    return d->cfg.reset_key;
}

const uint8_t *tern_dispatch_new_token_key(const tern_dispatch *d)
{
    return d->new_token_key;
}

const tern_dispatch_stats *tern_dispatch_get_stats(const tern_dispatch *d)
{
    return &d->st;
}

size_t tern_dispatch_owner_count(const tern_dispatch *d)
{
    return d->owners;
}

/* ---- routing --------------------------------------------------------------------------------- */

void tern_dispatch_attach(tern_dispatch *d, tern_dispatch_owner *o, void *val)
{
    o->val = val;
    o->routes = NULL;
    o->tokens = NULL;
    o->attached = 1;
    o->half_open = 0;
    d->owners++;
}

int tern_dispatch_add_route(tern_dispatch *d, tern_dispatch_owner *o, const tern_cid *cid)
{
    if (!o->attached)
        return TERN_ERR_INVALID_ARG;
    return tern_cidmap_insert(&d->map, cid, o->val, &o->routes);
}

void tern_dispatch_remove_route(tern_dispatch *d, tern_dispatch_owner *o, const tern_cid *cid)
{
    if (o->attached)
        tern_cidmap_remove(&d->map, cid, o->val, &o->routes);
}

static tern_cid token_key(const uint8_t *token)
{
    tern_cid k;
    tern_cid_set(&k, token, TERN_RESET_TOKEN_LEN);
    return k;
}

int tern_dispatch_add_reset_token(tern_dispatch *d, tern_dispatch_owner *o, const uint8_t *token)
{
    if (!o->attached)
        return TERN_ERR_INVALID_ARG;
    tern_cid k = token_key(token);
    return tern_cidmap_insert(&d->tokens, &k, o->val, &o->tokens);
}

void tern_dispatch_remove_reset_token(tern_dispatch *d, tern_dispatch_owner *o,
                                      const uint8_t *token)
{
    if (!o->attached)
        return;
    tern_cid k = token_key(token);
    tern_cidmap_remove(&d->tokens, &k, o->val, &o->tokens);
}

void tern_dispatch_set_half_open(tern_dispatch *d, tern_dispatch_owner *o, int on)
{
    if (!o->attached || !!on == o->half_open)
        return;
    o->half_open = !!on;
    if (on)
        d->half_open++;
    else
        d->half_open--;
}

size_t tern_dispatch_half_open_count(const tern_dispatch *d)
{
    return d->half_open;
}

void tern_dispatch_detach(tern_dispatch *d, tern_dispatch_owner *o)
{
    if (!o->attached)
        return;
    tern_dispatch_set_half_open(d, o, 0);
    tern_cidmap_remove_owner(&d->tokens, &o->tokens);
    tern_cidmap_remove_owner(&d->map, &o->routes);
    o->attached = 0;
    d->owners--;
}

void *tern_dispatch_lookup(const tern_dispatch *d, const tern_cid *cid)
{
    return tern_cidmap_find(&d->map, cid);
}

/* ---- verdicts -------------------------------------------------------------------------------- */

static int drop(tern_dispatch *d, tern_dispatch_result *out, tern_dispatch_drop why)
{
    out->verdict = TERN_DISPATCH_DROP;
    out->drop = why;
    d->st.dropped++;
    d->st.drop[why]++;
    return TERN_DISPATCH_DROP;
}

void tern_dispatch_note_drop(tern_dispatch *d, tern_dispatch_drop reason)
{
    if ((unsigned)reason >= TERN_DISPATCH_DROP_COUNT)
        reason = TERN_DISPATCH_DROP_NONE;
    d->st.dropped++;
    d->st.drop[reason]++;
}

static int reply(tern_dispatch *d, tern_dispatch_result *out, int kind, size_t len)
{
    out->verdict = TERN_DISPATCH_REPLY;
    out->reply_kind = kind;
    out->reply_len = len;
    if (kind == TERN_DISPATCH_REPLY_VN)
        d->st.vn_sent++;
    else if (kind == TERN_DISPATCH_REPLY_RETRY)
        d->st.retry_sent++;
    else if (kind == TERN_DISPATCH_REPLY_CLOSE)
        d->st.close_sent++;
    else
        d->st.reset_sent++;
    return TERN_DISPATCH_REPLY;
}

/* The unused bits of a reply's first byte; without a random source they stay zero, which only
 * makes the reply easier to recognise. */
static uint8_t rand_byte(tern_dispatch *d)
{
    uint8_t b = 0;
    if (d->cfg.rand(d->cfg.rand_ud, &b, 1))
        b = 0;
    return b;
}

static size_t dispatch_versions(const tern_dispatch *d, uint32_t *out)
{
    if (d->cfg.versions_count == 0 || d->cfg.versions_count > TERN_MAX_QUIC_VERSIONS) {
        out[0] = TERN_PROTO_VERSION_1;
        return 1;
    }
    memcpy(out, d->cfg.versions, d->cfg.versions_count * sizeof(uint32_t));
    return d->cfg.versions_count;
}

/* Version Negotiation from the version-independent header (RFC 8999 §5.1): only the two CIDs are
 * read, whatever follows them. */
static int answer_vn(tern_dispatch *d, const uint8_t *p, size_t len, uint8_t *out, size_t cap,
                     tern_dispatch_result *res)
{
    size_t o = 5;
    tern_cid dcid, scid;
    if (o >= len || p[o] > TERN_MAX_CID_LEN || o + 1 + p[o] >= len)
        return drop(d, res, TERN_DISPATCH_DROP_MALFORMED);
    tern_cid_set(&dcid, p + o + 1, p[o]);
    o += 1 + p[o];
    if (p[o] > TERN_MAX_CID_LEN || o + 1 + p[o] > len)
        return drop(d, res, TERN_DISPATCH_DROP_MALFORMED);
    tern_cid_set(&scid, p + o + 1, p[o]);
    uint32_t versions[TERN_MAX_QUIC_VERSIONS];
    size_t nv = dispatch_versions(d, versions);
    size_t n = tern_pkt_write_vn(out, cap, &dcid, &scid, versions, nv, rand_byte(d));
    if (!n)
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    return reply(d, res, TERN_DISPATCH_REPLY_VN, n);
}

static int answer_retry(tern_dispatch *d, const tern_path_addr *path, const tern_pkt_hdr *h,
                        tern_tstamp now, uint8_t *out, size_t cap, tern_dispatch_result *res)
{
    tern_cid rscid;
    rscid.len = (uint8_t)d->cfg.cid_len;
    uint8_t nonce[12], token[TERN_RETRY_TOKEN_MAX];
    int rv = d->cfg.make_cid ? d->cfg.make_cid(d->cfg.make_cid_ud, &rscid)
                             : d->cfg.rand(d->cfg.rand_ud, rscid.data, rscid.len);
    if (rv || rscid.len != d->cfg.cid_len || d->cfg.rand(d->cfg.rand_ud, nonce, sizeof(nonce)))
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    size_t tl = tern_crypto_token_seal(d->cfg.retry_key, nonce, &h->dcid, &rscid, &path->remote,
                                       now, token, sizeof(token));
    if (!tl || cap < TERN_AEAD_TAG_LEN)
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    size_t n = tern_pkt_write_retry(out, cap - TERN_AEAD_TAG_LEN, h->version, &h->scid, &rscid,
                                    token, tl, rand_byte(d));
    if (!n || tern_crypto_retry_tag(h->version, &h->dcid, out, n, out + n))
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    return reply(d, res, TERN_DISPATCH_REPLY_RETRY, n + TERN_AEAD_TAG_LEN);
}

/* RFC 9000 §8.1.3: a client that followed a Retry accepts no second one, so a token that does not
 * open ends its attempt at once (an Initial with CONNECTION_CLOSE under the Initial keys of the
 * DCID it used) instead of leaving it to time out. Not padded: it is not ack-eliciting (§14.1), and
 * no larger than the Initial that caused it. */
static int answer_invalid_token(tern_dispatch *d, const tern_pkt_hdr *h, uint8_t *out, size_t cap,
                                tern_dispatch_result *res)
{
    static const uint8_t frame[] = {0x1c, TERN_TE_INVALID_TOKEN, 0x00, 0x00};
    tern_keys tx, rx;
    memset(&tx, 0, sizeof(tx));
    memset(&rx, 0, sizeof(rx));
    size_t len_off = 0, n = 0;
    if (tern_crypto_initial_keys(h->version, &h->dcid, 1, &tx, &rx) == 0) {
        size_t hl = tern_pkt_write_long(out, cap, TERN_PKT_INITIAL, h->version, &h->scid, &h->dcid,
                                        NULL, 0, 0, 1, &len_off);
        if (hl && hl + sizeof(frame) + TERN_AEAD_TAG_LEN <= cap) {
            memcpy(out + hl, frame, sizeof(frame));
            if (tern_pkt_set_length(out + len_off, 1 + sizeof(frame) + TERN_AEAD_TAG_LEN) == 0 &&
                tern_crypto_protect(&tx, &tx, out, hl, 1, sizeof(frame), 0) == 0)
                n = hl + sizeof(frame) + TERN_AEAD_TAG_LEN;
        }
    }
    tern_crypto_keys_free(&tx);
    tern_crypto_keys_free(&rx);
    if (!n)
        return drop(d, res, TERN_DISPATCH_DROP_BAD_TOKEN);
    return reply(d, res, TERN_DISPATCH_REPLY_CLOSE, n);
}

/* Token bucket in integer nano-resets: refilled by elapsed virtual time, capped at one second's
 * worth (the burst). The clock starts at the first reset considered, full. */
static int reset_allowed(tern_dispatch *d, tern_tstamp now)
{
    uint64_t rate = d->cfg.resets_per_sec, cap = rate * NS_PER_SEC;
    if (rate == 0)
        return 0;
    if (!d->reset_started) {
        d->reset_started = 1;
        d->reset_budget = cap;
        d->reset_at = now;
    } else if (now > d->reset_at) {
        uint64_t el = now - d->reset_at;
        d->reset_at = now;
        if (el >= NS_PER_SEC || el * rate >= cap - d->reset_budget)
            d->reset_budget = cap;
        else
            d->reset_budget += el * rate;
    }
    if (d->reset_budget < NS_PER_SEC)
        return 0;
    d->reset_budget -= NS_PER_SEC;
    return 1;
}

static int answer_reset(tern_dispatch *d, const tern_cid *dcid, size_t len, tern_tstamp now,
                        uint8_t *out, size_t cap, tern_dispatch_result *res)
{
    if (len <= RESET_MIN_LEN)
        return drop(d, res, TERN_DISPATCH_DROP_RESET_TOO_SMALL);
    size_t rl = len - 1 < RESET_MAX_LEN ? len - 1 : RESET_MAX_LEN;
    if (cap < rl)
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    if (!reset_allowed(d, now))
        return drop(d, res, TERN_DISPATCH_DROP_RESET_RATE);
    uint8_t rnd[RESET_MAX_LEN], token[TERN_RESET_TOKEN_LEN];
    if (d->cfg.rand(d->cfg.rand_ud, rnd, rl - TERN_RESET_TOKEN_LEN))
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    tern_crypto_reset_token(d->cfg.reset_key, dcid, token);
    if (tern_pkt_write_stateless_reset(out, rl, rnd, token) != rl)
        return drop(d, res, TERN_DISPATCH_DROP_REPLY_FAILED);
    return reply(d, res, TERN_DISPATCH_REPLY_RESET, rl);
}

static int unknown_long(tern_dispatch *d, const tern_path_addr *path, const uint8_t *p, size_t len,
                        tern_tstamp now, uint8_t *out, size_t cap, tern_dispatch_result *res)
{
    if (!d->cfg.is_server)
        return drop(d, res, TERN_DISPATCH_DROP_NOT_SERVER);
    if (len < 7)
        return drop(d, res, TERN_DISPATCH_DROP_MALFORMED);
    uint32_t version = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (version == 0)
        return drop(d, res, TERN_DISPATCH_DROP_VN);
    uint32_t accepted[TERN_MAX_QUIC_VERSIONS];
    size_t na = dispatch_versions(d, accepted);
    if (!tern_qv_in(version, accepted, na)) {
        /* §14.1: an answer no larger than what a client must send (no amplification). */
        if (len < TERN_MIN_INITIAL_SIZE)
            return drop(d, res, TERN_DISPATCH_DROP_SMALL);
        return answer_vn(d, p, len, out, cap, res);
    }
    tern_pkt_hdr h;
    if (tern_pkt_parse(p, len, d->cfg.cid_len, &h))
        return drop(d, res, TERN_DISPATCH_DROP_MALFORMED);
    if (h.type != TERN_PKT_INITIAL)
        return drop(d, res, TERN_DISPATCH_DROP_NOT_INITIAL);
    if (len < TERN_MIN_INITIAL_SIZE)
        return drop(d, res, TERN_DISPATCH_DROP_SMALL);
    /* §7.2: a client's first DCID has at least 8 bytes; after a Retry it is our Retry SCID, which
     * the token check below compares exactly. */
    int retry_format = h.token_len && h.token[0] == TERN_TOKEN_FORMAT_RETRY;
    if (h.dcid.len < 8 && !retry_format)
        return drop(d, res, TERN_DISPATCH_DROP_SHORT_DCID);
    if (d->owners >= d->cfg.max_conns)
        return drop(d, res, TERN_DISPATCH_DROP_CONN_LIMIT);
    if (d->cfg.max_half_open && d->half_open >= d->cfg.max_half_open)
        return drop(d, res, TERN_DISPATCH_DROP_HALF_OPEN);

    /* Retry is on by configuration, or because so many handshakes are pending that the next ones
     * must prove their address before they cost a connection (a flood from spoofed sources never
     * gets past the Retry) */
    int retry = d->cfg.retry || (d->cfg.retry_half_open && d->half_open >= d->cfg.retry_half_open);
    tern_cid odcid = h.dcid;
    int retried = 0, validated = 0;
    if (retry_format) {
        tern_cid rscid, o;
        if (tern_crypto_token_open(d->cfg.retry_key, h.token, h.token_len, &path->remote, now,
                                   d->cfg.retry_token_lifetime_ns, &o, &rscid) == 0 &&
            tern_cid_eq(&rscid, &h.dcid)) {
            odcid = o;
            retried = validated = 1;
        } else if (retry) {
            return answer_invalid_token(d, &h, out, cap, res);
        } else if (h.dcid.len < 8) {
            return drop(d, res, TERN_DISPATCH_DROP_SHORT_DCID);
        }
    } else if (h.token_len && d->cfg.new_token_lifetime_ns &&
               tern_token_open(d->new_token_key, h.token, h.token_len, &path->remote, now,
                               d->cfg.new_token_lifetime_ns) == 0) {
        validated = 1;
        d->st.new_token_accepted++;
    } else {
        if (h.token_len)
            d->st.new_token_ignored++;
        if (retry)
            return answer_retry(d, path, &h, now, out, cap, res);
    }
    res->verdict = TERN_DISPATCH_ACCEPT;
    res->version = h.version;
    res->client_dcid = h.dcid;
    res->client_scid = h.scid;
    res->original_dcid = odcid;
    res->retried = retried;
    res->address_validated = validated;
    d->st.accepted++;
    return TERN_DISPATCH_ACCEPT;
}

int tern_dispatch_classify(tern_dispatch *d, const tern_path_addr *path, const uint8_t *dgram,
                           size_t len, tern_tstamp now, uint8_t *reply_buf, size_t reply_cap,
                           tern_dispatch_result *out)
{
    if (!d || !path || (!dgram && len) || (!reply_buf && reply_cap) || !out)
        return TERN_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (!dgram || tern_pkt_peek_dcid(dgram, len, d->cfg.cid_len, &out->dcid, &out->is_long)) {
        out->dcid.len = 0;
        return drop(d, out, TERN_DISPATCH_DROP_MALFORMED);
    }
    void *owner = tern_cidmap_find(&d->map, &out->dcid);
    if (owner) {
        out->verdict = TERN_DISPATCH_CONN;
        out->owner = owner;
        d->st.routed++;
        return TERN_DISPATCH_CONN;
    }
    if (out->is_long)
        return unknown_long(d, path, dgram, len, now, reply_buf, reply_cap, out);
    if (len >= RESET_MIN_LEN && d->tokens.n) {
        tern_cid k = token_key(dgram + len - TERN_RESET_TOKEN_LEN);
        owner = tern_cidmap_find(&d->tokens, &k);
        if (owner) {
            out->verdict = TERN_DISPATCH_CONN;
            out->owner = owner;
            d->st.routed++;
            return TERN_DISPATCH_CONN;
        }
    }
    return answer_reset(d, &out->dcid, len, now, reply_buf, reply_cap, out);
}
