/* TLS 1.3 handshake for QUIC over GnuTLS's QUIC hooks: handshake bytes travel in CRYPTO frames
 * instead of TLS records, traffic secrets are handed to the connection as they appear, alerts
 * become CRYPTO_ERROR codes, and the quic_transport_parameters extension (RFC 9001 §8.2) carries
 * the connection's transport parameters. This module owns credentials, priorities, ALPN and peer
 * verification; packet protection itself is crypto.c's. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define TP_EXT_CODEPOINT 0x39
#define DEFAULT_PRIORITY                                                                           \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
/* Appended to every priority string: QUIC runs on TLS 1.3 only (RFC 9001 §4.2), the CCM suites
 * have no QUIC packet protection here, and RFC 9001 §8.4 forbids the middlebox compatibility mode
 * (non-empty legacy_session_id, CCS). */
#define PRIORITY_SUFFIX                                                                            \
    ":-VERS-ALL:+VERS-TLS1.3:-AES-128-CCM:-AES-128-CCM-8:%DISABLE_TLS13_COMPAT_MODE"
#define MAX_TPARAMS_LEN                                                                            \
    4096 /* what we accept to send; the peer's are bounded by the message size */

/* Where the peer's handshake byte stream stands at one level. Two GnuTLS behaviours in QUIC mode
 * are worked around here: it buffers whatever length a message header claims, so the claim is
 * checked first; and it tells a HelloRetryRequest from a ServerHello only when the message arrives
 * in one piece, so a client hands ServerHello messages over whole. */
struct hs_framing {
    uint32_t body_len;  /* body bytes of the current message */
    uint32_t body_left; /* body bytes of the current message not seen yet */
    uint8_t hdr[4];
    uint8_t hdr_have;
};
#define TICKET_NAME_LEN 16    /* the key name GnuTLS starts its tickets with */
#define MAX_SERVER_HELLO 4096 /* FFDHE8192's 1 KB key share is the largest GnuTLS 3.7 can send */
#define CH_SESSION_ID_LEN_OFF 34 /* in a ClientHello body: after legacy_version and random */

/* A ticket encryption key and the key name GnuTLS puts at the start of the tickets it protects
 * with it. GnuTLS derives the name from the key and the time internally; it is learnt here from
 * the first ticket issued under the key (see note_ticket_name), which lets a ClientHello's ticket
 * be matched to the key that made it. */
struct ticket_key {
    gnutls_datum_t key;
    uint8_t name[TICKET_NAME_LEN];
    int name_known;
    uint64_t limits[TERN_TLS_EARLY_LIMITS]; /* the highest 0-RTT limits its tickets remember */
    size_t nlimits;
};

/* ClientHellos with early data seen recently (RFC 8446 §8.2): GnuTLS hands each one's identity
 * over and refuses early data when we say it was seen. A fixed table: when it is full of
 * identities still inside their window, early data is refused rather than accepted unchecked. */
#define REPLAY_ID_MAX 64
struct replay_entry {
    uint64_t expires; /* wall-clock seconds, GnuTLS's own view; 0 = free */
    uint8_t len;
    uint8_t id[REPLAY_ID_MAX];
};

struct tern_tls_ctx {
    int is_server;
    int verify_peer;
    int tickets;
    int early_data; /* server: accept 0-RTT */
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    gnutls_datum_t *alpn;
    size_t alpn_count;
    struct ticket_key tk[2]; /* [0] current, [1] previous (accepted, never used to issue) */
    int key_gen;             /* rotations so far */
    uint64_t rotation_ns;    /* 0: the key never rotates */
    tern_tstamp next_rotation;
    int rotation_started;
    gnutls_anti_replay_t anti_replay;
    struct replay_entry *replay;
    struct tern_tls *reading; /* the session whose ClientHello GnuTLS is reading, for replay_add */
    size_t replay_slots;
    uint32_t replay_window_ms;
};

struct tern_tls {
    tern_tls_ctx *ctx;
    gnutls_session_t s;
    tern_tls_cb cb;
    void *ud;
    uint8_t *tparams;
    size_t tparams_len;
    int is_server;
    int done;
    int failed;
    int cb_err;        /* first error a callback returned; takes precedence over alerts */
    int pending_alert; /* an alert decided here (missing extension, no ALPN), -1 when none */
    int alert;         /* the alert reported through on_alert, -1 when none */
    int tx_level;      /* highest level with a write secret, for alerts we raise ourselves */
    int got_tparams;   /* the extension was in the peer's latest hello / EncryptedExtensions */
    int tp_delivered;  /* on_tparams has been called */
    int aead;
    int key_gen;        /* server: the ticket key generation this session was given */
    int ticket_enabled; /* server: tickets are enabled in the GnuTLS session */
    int offered_early;  /* client: 0-RTT offered in the ClientHello */
    uint64_t limits[TERN_TLS_EARLY_LIMITS]; /* server: see tern_tls_set_early_limits */
    size_t nlimits;
    int refuse_early; /* server: the ticket's key remembers higher limits than ours */
    struct hs_framing framing[TERN_LEVEL_COUNT];
    uint8_t *sh_buf; /* client: a ServerHello being collected (Initial level only) */
    size_t sh_have;
    char alpn[256];
    char why[TERN_TLS_WHY_MAX]; /* why the handshake failed, when more can be said than the alert */
};

/* ---- context ------------------------------------------------------------------------------- */

static void ctx_free_alpn(tern_tls_ctx *ctx)
{
    for (size_t i = 0; i < ctx->alpn_count; i++)
        free(ctx->alpn[i].data);
    free(ctx->alpn);
    ctx->alpn = NULL;
    ctx->alpn_count = 0;
}

void tern_tls_ctx_free(tern_tls_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->cred)
        gnutls_certificate_free_credentials(ctx->cred);
    if (ctx->prio)
        gnutls_priority_deinit(ctx->prio);
    ctx_free_alpn(ctx);
    for (int i = 0; i < 2; i++)
        if (ctx->tk[i].key.data) {
            gnutls_memset(ctx->tk[i].key.data, 0, ctx->tk[i].key.size);
            gnutls_free(ctx->tk[i].key.data);
        }
    if (ctx->anti_replay)
        gnutls_anti_replay_deinit(ctx->anti_replay);
    free(ctx->replay);
    free(ctx);
}

/* A GnuTLS failure as a tern error: running out of memory is said as such, whatever the step. */
static int from_gnutls(int g, int otherwise)
{
    return g == GNUTLS_E_MEMORY_ERROR ? TERN_ERR_NOMEM : otherwise;
}

int tern_tls_ctx_new(tern_tls_ctx **out, int is_server, const char *cert_file, const char *key_file,
                     const char *ca_file, int verify_peer, const char *priority,
                     const char *const *alpn, size_t alpn_count)
{
    tern_tls_ctx *ctx;
    char *prio_str = NULL;
    size_t plen;
    int rv, g;

    if (!out)
        return TERN_ERR_CONFIG;
    *out = NULL;
    /* RFC 9001 §8.1: ALPN is how QUIC endpoints agree on the application protocol. */
    if (!alpn || alpn_count == 0 || alpn_count > 64)
        return TERN_ERR_CONFIG;
    for (size_t i = 0; i < alpn_count; i++) {
        size_t l = alpn[i] ? strlen(alpn[i]) : 0;
        if (l == 0 || l > 255)
            return TERN_ERR_CONFIG;
    }
    if (is_server && (!cert_file || !key_file))
        return TERN_ERR_CONFIG;

    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return TERN_ERR_NOMEM;
    ctx->is_server = is_server;
    ctx->verify_peer = !is_server && verify_peer;

    ctx->alpn = calloc(alpn_count, sizeof(*ctx->alpn));
    if (!ctx->alpn) {
        rv = TERN_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < alpn_count; i++) {
        size_t l = strlen(alpn[i]);
        ctx->alpn[i].data = malloc(l);
        if (!ctx->alpn[i].data) {
            rv = TERN_ERR_NOMEM;
            goto fail;
        }
        memcpy(ctx->alpn[i].data, alpn[i], l);
        ctx->alpn[i].size = (unsigned)l;
        ctx->alpn_count = i + 1;
    }

    if (gnutls_certificate_allocate_credentials(&ctx->cred) < 0) {
        ctx->cred = NULL;
        rv = TERN_ERR_NOMEM;
        goto fail;
    }
    if (is_server) {
        if ((g = gnutls_certificate_set_x509_key_file(ctx->cred, cert_file, key_file,
                                                      GNUTLS_X509_FMT_PEM)) < 0) {
            rv = from_gnutls(g, TERN_ERR_CERT);
            goto fail;
        }
    } else if (ca_file) {
        if ((g = gnutls_certificate_set_x509_trust_file(ctx->cred, ca_file, GNUTLS_X509_FMT_PEM)) <=
            0) {
            rv = from_gnutls(g, TERN_ERR_CERT);
            goto fail;
        }
    } else if (ctx->verify_peer) {
        if ((g = gnutls_certificate_set_x509_system_trust(ctx->cred)) < 0) {
            rv = from_gnutls(g, TERN_ERR_CERT);
            goto fail;
        }
    }

    if (!priority)
        priority = DEFAULT_PRIORITY;
    plen = strlen(priority);
    prio_str = malloc(plen + sizeof(PRIORITY_SUFFIX));
    if (!prio_str) {
        rv = TERN_ERR_NOMEM;
        goto fail;
    }
    memcpy(prio_str, priority, plen);
    memcpy(prio_str + plen, PRIORITY_SUFFIX, sizeof(PRIORITY_SUFFIX));
    if ((g = gnutls_priority_init2(&ctx->prio, prio_str, NULL, 0)) < 0) {
        ctx->prio = NULL;
        rv = from_gnutls(g, TERN_ERR_CONFIG);
        goto fail;
    }
    free(prio_str);
    *out = ctx;
    return 0;
fail:
    free(prio_str);
    tern_tls_ctx_free(ctx);
    return rv;
}

int tern_tls_ctx_set_tickets(tern_tls_ctx *ctx, int enable)
{
    if (!ctx || !ctx->is_server)
        return TERN_ERR_CONFIG;
    if (enable && !ctx->tk[0].key.data) {
        if (gnutls_session_ticket_key_generate(&ctx->tk[0].key) < 0) {
            ctx->tk[0].key.data = NULL;
            ctx->tk[0].key.size = 0;
            return TERN_ERR_NOMEM;
        }
    }
    ctx->tickets = !!enable;
    return 0;
}

void tern_tls_ctx_set_ticket_rotation(tern_tls_ctx *ctx, uint64_t period_ns)
{
    if (ctx)
        ctx->rotation_ns = period_ns;
}

int tern_tls_ctx_rotate_ticket_key(tern_tls_ctx *ctx)
{
    if (!ctx || !ctx->is_server || !ctx->tickets)
        return TERN_ERR_CONFIG;
    gnutls_datum_t fresh = {NULL, 0};
    if (gnutls_session_ticket_key_generate(&fresh) < 0)
        return TERN_ERR_NOMEM;
    if (ctx->tk[1].key.data) {
        gnutls_memset(ctx->tk[1].key.data, 0, ctx->tk[1].key.size);
        gnutls_free(ctx->tk[1].key.data);
    }
    ctx->tk[1] = ctx->tk[0];
    memset(&ctx->tk[0], 0, sizeof(ctx->tk[0]));
    ctx->tk[0].key = fresh;
    ctx->key_gen++;
    return 0;
}

int tern_tls_ctx_tick(tern_tls_ctx *ctx, tern_tstamp now)
{
    if (!ctx || !ctx->is_server || !ctx->tickets || !ctx->rotation_ns)
        return 0;
    if (!ctx->rotation_started) {
        ctx->rotation_started = 1;
        ctx->next_rotation = now + ctx->rotation_ns;
        return 0;
    }
    if (now < ctx->next_rotation)
        return 0;
    int rv = tern_tls_ctx_rotate_ticket_key(ctx);
    if (rv == 0)
        ctx->next_rotation = now + ctx->rotation_ns;
    return rv;
}

/* GnuTLS's anti-replay store: `key` is the window's start (12 bytes) then the ClientHello's
 * identity. The identity alone is kept, for two windows, so that a ClientHello replayed just
 * after GnuTLS starts a new window is still recognised. */
static int replay_add(void *ptr, time_t exp_time, const gnutls_datum_t *key,
                      const gnutls_datum_t *data)
{
    tern_tls_ctx *ctx = ptr;
    (void)data;
    /* the one way to refuse a session's early data once GnuTLS reads its ClientHello */
    if (ctx->reading && ctx->reading->refuse_early)
        return GNUTLS_E_DB_ERROR;
    if (key->size <= 12 || key->size - 12 > REPLAY_ID_MAX)
        return GNUTLS_E_DB_ERROR;
    const uint8_t *id = key->data + 12;
    uint8_t len = (uint8_t)(key->size - 12);
    uint64_t window_s = ctx->replay_window_ms / 1000 + 1;
    uint64_t now_s = (uint64_t)exp_time > window_s ? (uint64_t)exp_time - window_s : 0;
    struct replay_entry *slot = NULL;
    for (size_t i = 0; i < ctx->replay_slots; i++) {
        struct replay_entry *e = &ctx->replay[i];
        if (e->expires <= now_s) {
            if (!slot)
                slot = e;
            continue;
        }
        if (e->len == len && memcmp(e->id, id, len) == 0)
            return GNUTLS_E_DB_ENTRY_EXISTS;
    }
    if (!slot)
        return GNUTLS_E_DB_ERROR; /* full of live identities: refuse rather than forget one */
    slot->expires = (uint64_t)exp_time + window_s;
    slot->len = len;
    memcpy(slot->id, id, len);
    return 0;
}

int tern_tls_ctx_set_early_data(tern_tls_ctx *ctx, int enable, uint32_t window_ms)
{
    return tern_tls_ctx_set_early_data_slots(ctx, enable, window_ms, TERN_TLS_REPLAY_SLOTS);
}

int tern_tls_ctx_set_early_data_slots(tern_tls_ctx *ctx, int enable, uint32_t window_ms,
                                      size_t slots)
{
    if (!ctx || !ctx->is_server || (enable && !slots))
        return TERN_ERR_CONFIG;
    if (enable && !ctx->anti_replay) {
        ctx->replay_slots = slots;
        ctx->replay = calloc(slots, sizeof(*ctx->replay));
        if (!ctx->replay || gnutls_anti_replay_init(&ctx->anti_replay) < 0) {
            free(ctx->replay);
            ctx->replay = NULL;
            ctx->anti_replay = NULL;
            return TERN_ERR_NOMEM;
        }
        ctx->replay_window_ms = window_ms ? window_ms : TERN_TLS_REPLAY_WINDOW_MS;
        gnutls_anti_replay_set_window(ctx->anti_replay, ctx->replay_window_ms);
        gnutls_anti_replay_set_add_function(ctx->anti_replay, replay_add);
        gnutls_anti_replay_set_ptr(ctx->anti_replay, ctx);
    }
    ctx->early_data = !!enable;
    return 0;
}

/* ---- GnuTLS callbacks ------------------------------------------------------------------------ */

static int level_from_gnutls(gnutls_record_encryption_level_t l)
{
    switch (l) {
    case GNUTLS_ENCRYPTION_LEVEL_INITIAL:
        return TERN_LEVEL_INITIAL;
    case GNUTLS_ENCRYPTION_LEVEL_EARLY:
        return TERN_LEVEL_0RTT;
    case GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE:
        return TERN_LEVEL_HANDSHAKE;
    case GNUTLS_ENCRYPTION_LEVEL_APPLICATION:
    default:
        return TERN_LEVEL_1RTT;
    }
}

static gnutls_record_encryption_level_t level_to_gnutls(int l)
{
    switch (l) {
    case TERN_LEVEL_INITIAL:
        return GNUTLS_ENCRYPTION_LEVEL_INITIAL;
    case TERN_LEVEL_0RTT:
        return GNUTLS_ENCRYPTION_LEVEL_EARLY;
    case TERN_LEVEL_HANDSHAKE:
        return GNUTLS_ENCRYPTION_LEVEL_HANDSHAKE;
    default:
        return GNUTLS_ENCRYPTION_LEVEL_APPLICATION;
    }
}

static void report_alert(tern_tls *t, int level, uint8_t alert)
{
    if (t->alert >= 0)
        return; /* the first alert is the reason; anything after it is fallout */
    t->alert = alert;
    if (t->cb.on_alert)
        t->cb.on_alert(t->ud, level, alert);
}

static int cb_failed(tern_tls *t, int err)
{
    if (!t->cb_err)
        t->cb_err = err < 0 ? err : TERN_ERR_TLS;
    return -1;
}

static int secret_cb(gnutls_session_t s, gnutls_record_encryption_level_t glevel, const void *rx,
                     const void *tx, size_t len)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    int level = level_from_gnutls(glevel);
    int aead = tern_crypto_aead_from_gnutls(level == TERN_LEVEL_0RTT ? gnutls_early_cipher_get(s)
                                                                     : gnutls_cipher_get(s));
    if (aead == TERN_AEAD_NONE) {
        t->pending_alert = GNUTLS_A_HANDSHAKE_FAILURE; /* cannot happen with PRIORITY_SUFFIX */
        return -1;
    }
    if (level != TERN_LEVEL_0RTT)
        t->aead = aead;
    if (tx && level > t->tx_level)
        t->tx_level = level;
    if (t->cb.on_secret) {
        int rv = t->cb.on_secret(t->ud, level, aead, rx, tx, len);
        if (rv < 0)
            return cb_failed(t, rv);
    }
    return 0;
}

/* A server's NewSessionTicket on its way out: its ticket starts with the name of the key that
 * protects it (RFC 8446 §4.6.1 layout: lifetime, age_add, nonce<0..255>, ticket<1..2^16-1>). */
static void note_ticket_name(tern_tls *t, const uint8_t *m, size_t len)
{
    tern_tls_ctx *ctx = t->ctx;
    int idx = t->key_gen == ctx->key_gen ? 0 : t->key_gen + 1 == ctx->key_gen ? 1 : -1;
    if (idx < 0 || len < 4 + 9 || m[0] != GNUTLS_HANDSHAKE_NEW_SESSION_TICKET)
        return;
    size_t off = 4 + 8;
    size_t nonce = m[off++];
    if (off + nonce + 2 > len)
        return;
    off += nonce;
    size_t tlen = (size_t)m[off] << 8 | m[off + 1];
    off += 2;
    if (tlen < TICKET_NAME_LEN || off + tlen > len)
        return;
    struct ticket_key *k = &ctx->tk[idx];
    memcpy(k->name, m + off, TICKET_NAME_LEN);
    k->name_known = 1;
    for (size_t i = 0; i < t->nlimits; i++)
        k->limits[i] = i < k->nlimits ? TERN_MAX(k->limits[i], t->limits[i]) : t->limits[i];
    k->nlimits = TERN_MAX(k->nlimits, t->nlimits);
}

static int read_cb(gnutls_session_t s, gnutls_record_encryption_level_t glevel,
                   gnutls_handshake_description_t htype, const void *data, size_t len)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    if (htype == GNUTLS_HANDSHAKE_CHANGE_CIPHER_SPEC || len == 0)
        return 0;
    if (t->is_server && htype == GNUTLS_HANDSHAKE_NEW_SESSION_TICKET)
        note_ticket_name(t, data, len);
    if (t->cb.on_send) {
        int rv = t->cb.on_send(t->ud, level_from_gnutls(glevel), data, len);
        if (rv < 0)
            return cb_failed(t, rv);
    }
    return 0;
}

/* GnuTLS calls this for alerts it wants to send: in QUIC they travel in CONNECTION_CLOSE. */
static int alert_cb(gnutls_session_t s, gnutls_record_encryption_level_t glevel,
                    gnutls_alert_level_t alevel, gnutls_alert_description_t desc)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    report_alert(t, level_from_gnutls(glevel), (uint8_t)desc);
    return 0;
}

static int tp_recv(gnutls_session_t s, const unsigned char *data, size_t len)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    t->got_tparams = 1;
    /* After a HelloRetryRequest the second ClientHello carries the extension again; the connection
     * hears about it once. */
    if (t->tp_delivered)
        return 0;
    t->tp_delivered = 1;
    if (t->cb.on_tparams) {
        int rv = t->cb.on_tparams(t->ud, data, len);
        if (rv < 0) {
            cb_failed(t, rv);
            return GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER;
        }
    }
    return 0;
}

static int tp_send(gnutls_session_t s, gnutls_buffer_t buf)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    if (t->tparams_len == 0)
        return GNUTLS_E_INT_RET_0; /* still send the extension, empty */
    if (gnutls_buffer_append_data(buf, t->tparams, t->tparams_len) < 0)
        return GNUTLS_E_MEMORY_ERROR;
    return 0;
}

/* The first PSK identity of a ClientHello (`m`: the message, with or without its 4-byte
 * header), NULL when it offers none. Only lengths are trusted here after checking them. */
const uint8_t *tern_tls_psk_identity(const uint8_t *m, size_t len, size_t *id_len)
{
    size_t off = 0;
    if (!m)
        return NULL;
    if (len >= 4 && m[0] == GNUTLS_HANDSHAKE_CLIENT_HELLO)
        off = 4;
    off += 2 + 32; /* legacy_version, random */
    if (off + 1 > len)
        return NULL;
    off += 1 + (size_t)m[off]; /* legacy_session_id */
    if (off + 2 > len)
        return NULL;
    off += 2 + ((size_t)m[off] << 8 | m[off + 1]); /* cipher_suites */
    if (off + 1 > len)
        return NULL;
    off += 1 + (size_t)m[off]; /* legacy_compression_methods */
    if (off + 2 > len)
        return NULL;
    size_t end = off + 2 + ((size_t)m[off] << 8 | m[off + 1]);
    off += 2;
    if (end > len)
        return NULL;
    while (off + 4 <= end) {
        unsigned type = (unsigned)m[off] << 8 | m[off + 1];
        size_t elen = (size_t)m[off + 2] << 8 | m[off + 3];
        off += 4;
        if (off + elen > end)
            return NULL;
        if (type == 41 && elen >= 4) { /* pre_shared_key: identities<7..2^16-1> first */
            size_t ilen = (size_t)m[off + 2] << 8 | m[off + 3];
            if (4 + ilen > elen)
                return NULL;
            *id_len = ilen;
            return m + off + 4;
        }
        off += elen;
    }
    return NULL;
}

/* Server, before GnuTLS reads a ClientHello: tickets are enabled with the key whose name the
 * offered ticket carries, so that a ticket issued before the last rotation still resumes; new
 * sessions get the current key. */
static int enable_tickets(tern_tls *t, const gnutls_datum_t *msg)
{
    tern_tls_ctx *ctx = t->ctx;
    ctx->reading = t;
    if (!ctx->tickets || t->ticket_enabled)
        return 0;
    int idx = 0;
    size_t id_len = 0;
    const uint8_t *id = msg ? tern_tls_psk_identity(msg->data, msg->size, &id_len) : NULL;
    if (id && id_len >= TICKET_NAME_LEN && ctx->tk[1].key.data && ctx->tk[1].name_known &&
        memcmp(id, ctx->tk[1].name, TICKET_NAME_LEN) == 0)
        idx = 1;
    if (gnutls_session_ticket_enable_server(t->s, &ctx->tk[idx].key) < 0)
        return GNUTLS_E_INTERNAL_ERROR;
    t->key_gen = ctx->key_gen - idx;
    t->ticket_enabled = 1;
    /* RFC 9000 §7.4.1: 0-RTT sent under limits above ours would break them */
    const struct ticket_key *k = &ctx->tk[idx];
    for (size_t i = 0; i < k->nlimits; i++)
        if (i >= t->nlimits || t->limits[i] < k->limits[i])
            t->refuse_early = 1;
    return 0;
}

/* The early_data extension (RFC 8446 §4.2.10) in an extensions block `m` (2-byte length, then
 * the extensions): its max_early_data_size, 0 without one; -1 when `m` is no such block. */
static int64_t ext_max_early_data(const uint8_t *m, size_t len)
{
    if (len < 2 || 2 + ((size_t)m[0] << 8 | m[1]) != len)
        return -1;
    for (size_t off = 2; off + 4 <= len;) {
        unsigned type = (unsigned)m[off] << 8 | m[off + 1];
        size_t elen = (size_t)m[off + 2] << 8 | m[off + 3];
        off += 4;
        if (off + elen > len)
            return -1;
        if (type == 42 && elen == 4)
            return (int64_t)((uint32_t)m[off] << 24 | (uint32_t)m[off + 1] << 16 |
                             (uint32_t)m[off + 2] << 8 | m[off + 3]);
        off += elen;
    }
    return 0;
}

/* A NewSessionTicket's max_early_data_size. GnuTLS does not report it to a client; its hook
 * shows the ticket's extensions (3.7), or the whole message, which is read through to them. */
uint32_t tern_tls_nst_max_early_data(const uint8_t *m, size_t len)
{
    size_t off = 0;
    if (!m)
        return 0;
    int64_t v = ext_max_early_data(m, len);
    if (v >= 0)
        return (uint32_t)v;
    if (len >= 4 && m[0] == GNUTLS_HANDSHAKE_NEW_SESSION_TICKET)
        off = 4;
    off += 8; /* ticket_lifetime, ticket_age_add */
    if (off + 1 > len)
        return 0;
    off += 1 + (size_t)m[off]; /* ticket_nonce */
    if (off + 2 > len)
        return 0;
    off += 2 + ((size_t)m[off] << 8 | m[off + 1]); /* ticket */
    if (off > len)
        return 0;
    v = ext_max_early_data(m + off, len - off);
    return v > 0 ? (uint32_t)v : 0;
}

/* Client: a NewSessionTicket was processed; the session data (ticket and resumption secret, as
 * gnutls_session_set_data takes it) goes to the connection with the ticket's max_early_data. */
static int on_ticket(tern_tls *t, const gnutls_datum_t *msg)
{
    gnutls_datum_t d = {NULL, 0};
    if (!t->cb.on_ticket)
        return 0;
    if (gnutls_session_get_data2(t->s, &d) < 0 || !d.data)
        return 0; /* the ticket is simply not kept */
    uint32_t max_early = msg ? tern_tls_nst_max_early_data(msg->data, msg->size) : 0;
    int rv = t->cb.on_ticket(t->ud, d.data, d.size, max_early);
    gnutls_memset(d.data, 0, d.size);
    gnutls_free(d.data);
    if (rv < 0) {
        cb_failed(t, rv);
        return GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER;
    }
    return 0;
}

/* Checks what GnuTLS does not enforce for QUIC once the peer's extensions have been parsed: the
 * server looks right after the ClientHello, the client just before the server's Finished (the
 * EncryptedExtensions are parsed after their own hook runs). */
static int hook_cb(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
                   const gnutls_datum_t *msg)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    gnutls_datum_t sel;

    if (!incoming)
        return 0;
    if (t->is_server) {
        if (htype != GNUTLS_HANDSHAKE_CLIENT_HELLO)
            return 0;
        if (when == GNUTLS_HOOK_PRE) {
            t->got_tparams = 0; /* each ClientHello must carry it */
            return enable_tickets(t, msg);
        }
        t->ctx->reading = NULL;
    } else if (htype == GNUTLS_HANDSHAKE_NEW_SESSION_TICKET && when == GNUTLS_HOOK_POST) {
        return on_ticket(t, msg);
    } else if (htype != GNUTLS_HANDSHAKE_FINISHED || when != GNUTLS_HOOK_PRE) {
        return 0;
    }
    if (!t->got_tparams) {
        t->pending_alert = GNUTLS_A_MISSING_EXTENSION;
        return GNUTLS_E_MISSING_EXTENSION;
    }
    if (gnutls_alpn_get_selected_protocol(s, &sel) < 0 || sel.size == 0) {
        t->pending_alert = GNUTLS_A_NO_APPLICATION_PROTOCOL;
        return GNUTLS_E_NO_APPLICATION_PROTOCOL;
    }
    return 0;
}

/* The NSS key log format Wireshark reads: "LABEL <client_random hex> <secret hex>". A TLS 1.3
 * secret is a hash output (48 bytes at most with SHA-384); GnuTLS labels are short constants. */
#define KEYLOG_LINE_MAX 256

static size_t hex_put(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    return 2 * n;
}

static int keylog_cb(gnutls_session_t s, const char *label, const gnutls_datum_t *secret)
{
    tern_tls *t = gnutls_session_get_ptr(s);
    gnutls_datum_t crand, srand;
    char line[KEYLOG_LINE_MAX];
    size_t llen = strlen(label), n;

    gnutls_session_get_random(s, &crand, &srand);
    /* a line that cannot be what a peer decrypts with is not worth a truncated copy */
    if (crand.size != 32 ||
        llen + 2 + 2 * (size_t)crand.size + 2 * (size_t)secret->size >= sizeof(line))
        return 0;
    memcpy(line, label, llen);
    n = llen;
    line[n++] = ' ';
    n += hex_put(line + n, crand.data, crand.size);
    line[n++] = ' ';
    n += hex_put(line + n, secret->data, secret->size);
    line[n] = '\0';
    t->cb.on_keylog(t->ud, line);
    gnutls_memset(line, 0, n);
    return 0;
}

/* QUIC mode never uses the record layer; these keep GnuTLS away from any file descriptor. GnuTLS
 * calls them only for records, which the handshake read/write functions replace, so no input
 * reaches them. */
/* GCOVR_EXCL_START */
static ssize_t no_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
    errno = EIO;
    return -1;
}

static ssize_t no_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
    errno = EAGAIN;
    return -1;
}
/* GCOVR_EXCL_STOP */

/* ---- session ------------------------------------------------------------------------------- */

static int is_ip_literal(const char *name)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int tern_tls_set_tparams(tern_tls *t, const uint8_t *tparams, size_t tparams_len)
{
    if (!t || tparams_len > MAX_TPARAMS_LEN || (tparams_len && !tparams))
        return TERN_ERR_INVALID_ARG;
    uint8_t *copy = NULL;
    if (tparams_len && !(copy = malloc(tparams_len)))
        return TERN_ERR_NOMEM;
    if (tparams_len)
        memcpy(copy, tparams, tparams_len);
    free(t->tparams);
    t->tparams = copy;
    t->tparams_len = tparams_len;
    return 0;
}

static int tls_new(tern_tls **out, tern_tls_ctx *ctx, int is_server, const char *server_name,
                   const uint8_t *tparams, size_t tparams_len, const tern_tls_cb *cb, void *ud,
                   const uint8_t *session, size_t session_len, int early)
{
    tern_tls *t;
    unsigned flags;
    int rv = TERN_ERR_TLS;

    if (!out)
        return TERN_ERR_TLS;
    *out = NULL;
    if (!ctx || !!is_server != !!ctx->is_server || tparams_len > MAX_TPARAMS_LEN ||
        (tparams_len && !tparams))
        return TERN_ERR_TLS;

    t = calloc(1, sizeof(*t));
    if (!t)
        return TERN_ERR_NOMEM;
    t->ctx = ctx;
    t->is_server = !!is_server;
    t->pending_alert = -1;
    t->alert = -1;
    t->tx_level = TERN_LEVEL_INITIAL;
    t->ud = ud;
    if (cb)
        t->cb = *cb;
    if ((rv = tern_tls_set_tparams(t, tparams, tparams_len)))
        goto fail;

    flags = (is_server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA;
    if (is_server && !ctx->tickets)
        flags |= GNUTLS_NO_TICKETS;
    /* a server accepts 0-RTT only when told to; a client offers it only with a ticket allowing it
     */
    if ((is_server && ctx->tickets && ctx->early_data) || (!is_server && session && early))
        flags |= GNUTLS_ENABLE_EARLY_DATA;
    if (gnutls_init(&t->s, flags) < 0) {
        t->s = NULL;
        rv = TERN_ERR_NOMEM;
        goto fail;
    }
    gnutls_session_set_ptr(t->s, t);
    gnutls_transport_set_ptr(t->s, t);
    gnutls_transport_set_push_function(t->s, no_push);
    gnutls_transport_set_pull_function(t->s, no_pull);
    gnutls_handshake_set_timeout(t->s, GNUTLS_INDEFINITE_TIMEOUT);
    /* Replacing GnuTLS's own key log function (SSLKEYLOGFILE) only when asked keeps that
     * variable working for applications that set no callback. */
    if (t->cb.on_keylog)
        gnutls_session_set_keylog_function(t->s, keylog_cb);

    if (gnutls_priority_set(t->s, ctx->prio) < 0 ||
        gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, ctx->cred) < 0)
        goto fail;
    if (is_server && ctx->tickets && ctx->early_data) {
        /* RFC 9001 §4.6.1: QUIC tickets allow early data with max_early_data_size 0xffffffff */
        gnutls_anti_replay_enable(t->s, ctx->anti_replay);
        if (gnutls_record_set_max_early_data_size(t->s, 0xffffffffu) < 0)
            goto fail;
    }

    gnutls_handshake_set_secret_function(t->s, secret_cb);
    gnutls_handshake_set_read_function(t->s, read_cb);
    gnutls_alert_set_read_function(t->s, alert_cb);
    gnutls_handshake_set_hook_function(t->s, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_BOTH, hook_cb);
    if (gnutls_session_ext_register(t->s, "quic_transport_parameters", TP_EXT_CODEPOINT,
                                    GNUTLS_EXT_TLS, tp_recv, tp_send, NULL, NULL, NULL,
                                    GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO |
                                        GNUTLS_EXT_FLAG_EE) < 0)
        goto fail;

    if (gnutls_alpn_set_protocols(t->s, ctx->alpn, (unsigned)ctx->alpn_count,
                                  is_server ? GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE
                                            : 0) < 0)
        goto fail;

    if (!is_server) {
        /* RFC 6066 §3: no IP literals in SNI; the name is still verified against IP SANs. */
        if (server_name && !is_ip_literal(server_name) &&
            gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, server_name, strlen(server_name)) < 0)
            goto fail;
        if (ctx->verify_peer)
            gnutls_session_set_verify_cert(t->s, server_name, 0);
        if (session) {
            if (gnutls_session_set_data(t->s, session, session_len) < 0) {
                rv = TERN_ERR_SESSION;
                goto fail;
            }
            t->offered_early = !!early;
        }
    }
    *out = t;
    return 0;
fail:
    tern_tls_free(t);
    return rv;
}

int tern_tls_new(tern_tls **out, tern_tls_ctx *ctx, int is_server, const char *server_name,
                 const uint8_t *tparams, size_t tparams_len, const tern_tls_cb *cb, void *ud)
{
    return tls_new(out, ctx, is_server, server_name, tparams, tparams_len, cb, ud, NULL, 0, 0);
}

int tern_tls_new_resumed(tern_tls **out, tern_tls_ctx *ctx, const char *server_name,
                         const uint8_t *tparams, size_t tparams_len, const tern_tls_cb *cb,
                         void *ud, const uint8_t *session, size_t session_len, int early)
{
    if (!session || !session_len || session_len > UINT32_MAX) {
        if (out)
            *out = NULL;
        return TERN_ERR_SESSION;
    }
    return tls_new(out, ctx, 0, server_name, tparams, tparams_len, cb, ud, session, session_len,
                   early);
}

void tern_tls_free(tern_tls *t)
{
    if (!t)
        return;
    if (t->ctx && t->ctx->reading == t)
        t->ctx->reading = NULL;
    if (t->s)
        gnutls_deinit(t->s);
    free(t->tparams);
    free(t->sh_buf);
    free(t);
}

/* The certificate's verification status in words ("The certificate is NOT trusted. The
 * certificate issuer is unknown."), for the close reason: the alert number alone says nothing. */
static void note_verify_failure(tern_tls *t)
{
    static const char prefix[] = "certificate verification failed: ";
    gnutls_datum_t text = {NULL, 0};
    unsigned status = gnutls_session_get_verify_cert_status(t->s);

    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0 ||
        !text.data) {
        snprintf(t->why, sizeof(t->why), "%s(status 0x%x)", prefix, status);
        return;
    }
    snprintf(t->why, sizeof(t->why), "%s%.*s", prefix, (int)text.size, (const char *)text.data);
    gnutls_free(text.data);
    for (size_t n = strlen(t->why); n > 0 && t->why[n - 1] == ' '; n--)
        t->why[n - 1] = '\0';
}

const char *tern_tls_error_text(const tern_tls *t)
{
    return t->why;
}

/* Turns a fatal GnuTLS error into the connection's view: the callback's own error if one failed,
 * else TERN_ERR_TLS with exactly one alert reported. */
static int fail(tern_tls *t, int gerr, uint8_t *alert)
{
    if (!t->failed) {
        t->failed = 1;
        if (!t->cb_err && t->alert < 0) {
            if (t->pending_alert >= 0) {
                report_alert(t, t->tx_level, (uint8_t)t->pending_alert);
            } else {
                if (gerr == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
                    note_verify_failure(t);
                    report_alert(t, t->tx_level, GNUTLS_A_BAD_CERTIFICATE);
                } else {
                    gnutls_alert_send_appropriate(t->s, gerr);
                }
                if (t->alert < 0)
                    report_alert(t, t->tx_level, GNUTLS_A_INTERNAL_ERROR);
            }
        }
    }
    if (alert && t->alert >= 0)
        *alert = (uint8_t)t->alert;
    return t->cb_err ? t->cb_err : TERN_ERR_TLS;
}

static int drive(tern_tls *t, uint8_t *alert)
{
    int rv;

    if (t->done)
        return 1;
    do {
        rv = gnutls_handshake(t->s);
    } while (rv == GNUTLS_E_INTERRUPTED && !t->cb_err);
    if (t->cb_err)
        return fail(t, rv, alert);
    if (rv == 0) {
        gnutls_datum_t sel;
        t->done = 1;
        if (gnutls_alpn_get_selected_protocol(t->s, &sel) == 0 && sel.size < sizeof(t->alpn)) {
            memcpy(t->alpn, sel.data, sel.size);
            t->alpn[sel.size] = 0;
        }
        return 1;
    }
    if (rv == GNUTLS_E_AGAIN)
        return 0;
    return fail(t, rv, alert);
}

int tern_tls_start(tern_tls *t)
{
    if (!t || t->is_server)
        return TERN_ERR_TLS;
    if (t->failed)
        return t->cb_err ? t->cb_err : TERN_ERR_TLS;
    int rv = drive(t, NULL);
    return rv < 0 ? rv : 0;
}

static int hs_write(tern_tls *t, int level, const uint8_t *data, size_t len)
{
    int rv = gnutls_handshake_write(t->s, level_to_gnutls(level), data, len);
    if (t->cb_err || (rv < 0 && gnutls_error_is_fatal(rv)))
        return rv < 0 ? rv : GNUTLS_E_INTERNAL_ERROR;
    return 0;
}

/* Passes `data` to GnuTLS after checking each message's claimed length, holding ServerHello
 * messages until complete (see struct hs_framing). Returns 0 or a GnuTLS error. */
static int feed(tern_tls *t, int level, const uint8_t *data, size_t len)
{
    struct hs_framing *f = &t->framing[level];
    int rv;

    while (len) {
        if (f->body_left) {
            size_t n = TERN_MIN((size_t)f->body_left, len);
            size_t pos = f->body_len - f->body_left;
            /* RFC 9001 §8.4: a QUIC client never uses a legacy_session_id (GnuTLS would accept
             * one); a connection error of type PROTOCOL_VIOLATION */
            if (t->is_server && level == TERN_LEVEL_INITIAL &&
                f->hdr[0] == GNUTLS_HANDSHAKE_CLIENT_HELLO && pos <= CH_SESSION_ID_LEN_OFF &&
                CH_SESSION_ID_LEN_OFF < pos + n && data[CH_SESSION_ID_LEN_OFF - pos] != 0) {
                cb_failed(t, TERN_ERR_PROTO);
                return GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER;
            }
            if (t->sh_buf && level == TERN_LEVEL_INITIAL) {
                memcpy(t->sh_buf + t->sh_have, data, n);
                t->sh_have += n;
            } else if ((rv = hs_write(t, level, data, n)) < 0) {
                return rv;
            }
            f->body_left -= (uint32_t)n;
            data += n;
            len -= n;
        } else {
            size_t n = TERN_MIN((size_t)(4 - f->hdr_have), len);
            memcpy(f->hdr + f->hdr_have, data, n);
            f->hdr_have += (uint8_t)n;
            data += n;
            len -= n;
            if (f->hdr_have < 4)
                continue;
            f->hdr_have = 0;
            f->body_left = (uint32_t)f->hdr[1] << 16 | (uint32_t)f->hdr[2] << 8 | f->hdr[3];
            f->body_len = f->body_left;
            if (f->body_left > TERN_TLS_MAX_HANDSHAKE_MSG)
                return GNUTLS_E_HANDSHAKE_TOO_LARGE;
            /* RFC 9001 §6: QUIC has its own key update, a TLS KeyUpdate is unexpected_message;
             * §4.4: no post-handshake authentication either. A server receives nothing at
             * 1-RTT, a client only session tickets. */
            if (level == TERN_LEVEL_1RTT &&
                (t->is_server || f->hdr[0] != GNUTLS_HANDSHAKE_NEW_SESSION_TICKET)) {
                t->pending_alert = GNUTLS_A_UNEXPECTED_MESSAGE;
                return GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET;
            }
            if (!t->is_server && level == TERN_LEVEL_INITIAL &&
                f->hdr[0] == GNUTLS_HANDSHAKE_SERVER_HELLO) {
                if (f->body_left > MAX_SERVER_HELLO)
                    return GNUTLS_E_HANDSHAKE_TOO_LARGE;
                t->sh_buf = malloc(4 + (size_t)f->body_left);
                if (!t->sh_buf)
                    return GNUTLS_E_MEMORY_ERROR;
                memcpy(t->sh_buf, f->hdr, 4);
                t->sh_have = 4;
            } else if ((rv = hs_write(t, level, f->hdr, 4)) < 0) {
                return rv;
            }
        }
        if (t->sh_buf && level == TERN_LEVEL_INITIAL && f->body_left == 0 && f->hdr_have == 0) {
            rv = hs_write(t, level, t->sh_buf, t->sh_have);
            free(t->sh_buf);
            t->sh_buf = NULL;
            t->sh_have = 0;
            if (rv < 0)
                return rv;
        }
    }
    return 0;
}

int tern_tls_recv(tern_tls *t, int level, const uint8_t *data, size_t len, uint8_t *alert)
{
    int rv;

    if (!t)
        return TERN_ERR_TLS;
    if (t->failed)
        return fail(t, 0, alert);
    /* CRYPTO frames are forbidden in 0-RTT packets (RFC 9000 §12.4), and nothing legitimate is
     * sent at 1-RTT before the handshake is complete (a client's 1-RTT keys come with the server
     * Finished; servers receive no 1-RTT handshake messages at all), nor at Initial or Handshake
     * after it. Refusing these also keeps GnuTLS from buffering messages for a level it is not at.
     */
    if ((level != TERN_LEVEL_INITIAL && level != TERN_LEVEL_HANDSHAKE &&
         level != TERN_LEVEL_1RTT) ||
        (len && (level == TERN_LEVEL_1RTT) != !!t->done)) {
        t->pending_alert = GNUTLS_A_UNEXPECTED_MESSAGE;
        return fail(t, GNUTLS_E_UNEXPECTED_PACKET, alert);
    }
    if (len && (rv = feed(t, level, data, len)) < 0)
        return fail(t, rv, alert);
    /* After completion the handshake write above has already processed post-handshake messages
     * (NewSessionTicket); there is nothing else to drive. */
    return drive(t, alert);
}

const char *tern_tls_alpn(tern_tls *t)
{
    gnutls_datum_t sel;
    if (!t)
        return "";
    if (!t->done && !t->failed && gnutls_alpn_get_selected_protocol(t->s, &sel) == 0 &&
        sel.size < sizeof(t->alpn)) {
        memcpy(t->alpn, sel.data, sel.size);
        t->alpn[sel.size] = 0;
    }
    return t->alpn;
}

int tern_tls_aead(tern_tls *t)
{
    return t ? t->aead : TERN_AEAD_NONE;
}

int tern_tls_is_done(tern_tls *t)
{
    return t ? t->done : 0;
}

int tern_tls_set_early_limits(tern_tls *t, const uint64_t *limits, size_t n)
{
    if (!t || !t->is_server || n > TERN_TLS_EARLY_LIMITS || (n && !limits))
        return TERN_ERR_INVALID_ARG;
    if (n)
        memcpy(t->limits, limits, n * sizeof(*limits));
    t->nlimits = n;
    return 0;
}

int tern_tls_resumed(tern_tls *t)
{
    return t && t->done && gnutls_session_is_resumed(t->s) ? 1 : 0;
}

int tern_tls_early_accepted(tern_tls *t)
{
    if (!t || !t->done)
        return 0;
    if (!t->is_server && !t->offered_early)
        return 0;
    return (gnutls_session_get_flags(t->s) & GNUTLS_SFLAGS_EARLY_DATA) ? 1 : 0;
}
