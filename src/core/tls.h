/* TLS 1.3 handshake for QUIC over GnuTLS's QUIC API (gnutls_handshake_set_secret_function,
 * gnutls_handshake_set_read_function, gnutls_handshake_write, gnutls_alert_set_read_function and a
 * registered quic_transport_parameters extension, RFC 9001 §8.2). The connection feeds CRYPTO data
 * per level and receives handshake bytes to send, secrets and the peer's transport parameters through
 * callbacks. */
#ifndef TERN_CORE_TLS_H
#define TERN_CORE_TLS_H

#include "common.h"

/* Largest handshake message accepted from a peer (GnuTLS would buffer any claimed length). A larger
 * claim fails the handshake with decode_error (50). */
#define TERN_TLS_MAX_HANDSHAKE_MSG 65536

/* Credentials shared by every connection of an endpoint. */
typedef struct tern_tls_ctx tern_tls_ctx;

/* Creates a context. Server: cert_file/key_file required. Client: ca_file (NULL = system trust,
 * loaded only when verify_peer), verify_peer (certificate chain, and the name given to tern_tls_new).
 * `priority` NULL = TLS 1.3 only with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305; a caller's
 * string is used as given, with ":-AES-128-CCM:-AES-128-CCM-8:%DISABLE_TLS13_COMPAT_MODE" appended
 * (no CCM packet protection; RFC 9001 §8.4).
 * alpn: 1..64 protocols of 1..255 bytes in preference order (copied); a server picks in its own
 * order and both sides fail the handshake with no_application_protocol (120) when none matches.
 * Returns 0, TERN_ERR_CERT (files unreadable), TERN_ERR_CONFIG (missing server cert, bad ALPN list,
 * bad priority string) or TERN_ERR_NOMEM. The context must outlive its sessions. */
int tern_tls_ctx_new(tern_tls_ctx **out, int is_server, const char *cert_file, const char *key_file,
                     const char *ca_file, int verify_peer, const char *priority,
                     const char *const *alpn, size_t alpn_count);
void tern_tls_ctx_free(tern_tls_ctx *ctx);

/* Server: issue TLS 1.3 session tickets (NewSessionTicket at 1-RTT, sent by GnuTLS once the
 * handshake completes) under a key generated here, and resume sessions from them. Off by default.
 * Call before creating sessions. Returns 0, TERN_ERR_CONFIG (client context) or TERN_ERR_NOMEM. */
int tern_tls_ctx_set_tickets(tern_tls_ctx *ctx, int enable);

/* Server: replaces the ticket key by a fresh one. Tickets made under the key before it still
 * resume (the ClientHello's ticket names its key); older ones lead to a full handshake. Returns
 * 0, TERN_ERR_CONFIG (client context, tickets off) or TERN_ERR_NOMEM (the key is unchanged). */
int tern_tls_ctx_rotate_ticket_key(tern_tls_ctx *ctx);
/* Server: rotate the ticket key every `period_ns` of the caller's clock (0: never), counted from
 * the first tern_tls_ctx_tick. */
void tern_tls_ctx_set_ticket_rotation(tern_tls_ctx *ctx, uint64_t period_ns);
/* Server: rotates the ticket key when its period has passed at `now`. Returns 0 or the error of
 * tern_tls_ctx_rotate_ticket_key (the rotation is tried again at the next tick). */
int tern_tls_ctx_tick(tern_tls_ctx *ctx, tern_tstamp now);

/* Anti-replay window for 0-RTT ClientHellos (RFC 8446 §8.2), when none is given, and the
 * ClientHellos remembered at most (~80 bytes each): more 0-RTT attempts than that within two
 * windows get none until older ones expire. */
#define TERN_TLS_REPLAY_WINDOW_MS 10000
#define TERN_TLS_REPLAY_SLOTS 4096
/* Server: accept early data (0-RTT) in resumed sessions (with tickets on), under GnuTLS's
 * anti-replay check: a ClientHello whose ticket age is off by more than `window_ms` (0: the
 * default), or whose identity was already seen within two windows, has its early data refused
 * (the handshake goes on as 1-RTT). Returns 0, TERN_ERR_CONFIG (client context) or
 * TERN_ERR_NOMEM. */
int tern_tls_ctx_set_early_data(tern_tls_ctx *ctx, int enable, uint32_t window_ms);
/* The same with room for `slots` ClientHellos instead of TERN_TLS_REPLAY_SLOTS (the first call
 * that enables early data fixes it). TERN_ERR_CONFIG also for 0 slots. */
int tern_tls_ctx_set_early_data_slots(tern_tls_ctx *ctx, int enable, uint32_t window_ms,
                                      size_t slots);

/* Callbacks run inside tern_tls_start/tern_tls_recv. When one returns a negative error the handshake
 * stops and that error (not TERN_ERR_TLS) is returned, with no alert reported: the connection
 * decides how to close (e.g. TRANSPORT_PARAMETER_ERROR for bad transport parameters). */
typedef struct tern_tls_cb {
    /* New secrets for `level`: rx and/or tx may be NULL when only one direction is installed.
     * `aead` is enum tern_aead. Return 0 or a negative error to abort the handshake. */
    int (*on_secret)(void *ud, int level, int aead, const uint8_t *rx, const uint8_t *tx, size_t len);
    /* Handshake bytes to send in CRYPTO frames at `level`. Return 0 or negative. */
    int (*on_send)(void *ud, int level, const uint8_t *data, size_t len);
    /* A TLS alert to report (the connection closes with CRYPTO_ERROR 0x100 + alert). */
    void (*on_alert)(void *ud, int level, uint8_t alert);
    /* The peer's raw transport parameters extension, once per session (a second ClientHello after
     * HelloRetryRequest is not reported again). Return 0 or negative to abort. */
    int (*on_tparams)(void *ud, const uint8_t *data, size_t len);
    /* One line of the NSS key log format per secret ("LABEL <client_random hex> <secret hex>", no
     * newline), for decrypting captures. Optional: while NULL, GnuTLS keeps its own behaviour of
     * appending the lines to the file named by SSLKEYLOGFILE, when that is set. */
    void (*on_keylog)(void *ud, const char *line);
    /* Client: a session ticket arrived. `session` (what tern_tls_new_resumed takes) is valid during
     * the call only; `max_early_data` is the ticket's early data limit (0: no early data).
     * Return 0 or negative to fail the connection. Optional. */
    int (*on_ticket)(void *ud, const uint8_t *session, size_t len, uint32_t max_early_data);
} tern_tls_cb;

typedef struct tern_tls tern_tls;

/* Creates a session. `tparams` (already encoded, copied, <= 4096 bytes) is always sent in the
 * extension (empty when tparams_len is 0). A peer whose handshake lacks the extension fails it with
 * missing_extension (109) before we send anything more. Client: server_name for SNI (skipped for IP
 * literals) and verification (NULL = no SNI, hostname not checked; IP literals match IP SANs).
 * `is_server` must match the context. Returns 0, TERN_ERR_TLS or TERN_ERR_NOMEM. */
int tern_tls_new(tern_tls **out, tern_tls_ctx *ctx, int is_server, const char *server_name,
                 const uint8_t *tparams, size_t tparams_len, const tern_tls_cb *cb, void *ud);
void tern_tls_free(tern_tls *t);

/* Client: tern_tls_new that resumes `session` (from on_ticket; copied) and, with `early`, offers
 * 0-RTT (its key then comes through on_secret at TERN_LEVEL_0RTT during tern_tls_start). The
 * server may still decline either: see tern_tls_resumed and tern_tls_early_accepted. Returns 0,
 * TERN_ERR_SESSION (session data GnuTLS cannot use), TERN_ERR_TLS or TERN_ERR_NOMEM. */
int tern_tls_new_resumed(tern_tls **out, tern_tls_ctx *ctx, const char *server_name,
                         const uint8_t *tparams, size_t tparams_len, const tern_tls_cb *cb,
                         void *ud, const uint8_t *session, size_t session_len, int early);
/* Server: the limits this connection's transport parameters give 0-RTT, as `n` values compared
 * one by one (at most TERN_TLS_EARLY_LIMITS; the caller keeps one order). Tickets remember the
 * highest limits of the connections that issued them under each key; a resumption whose
 * connection gives less than its ticket's key remembers gets no 0-RTT (RFC 9000 §7.4.1), the
 * handshake going on as 1-RTT. Call before the ClientHello is read. Returns 0 or
 * TERN_ERR_INVALID_ARG. */
#define TERN_TLS_EARLY_LIMITS 8
int tern_tls_set_early_limits(tern_tls *t, const uint64_t *limits, size_t n);
/* The first PSK identity (`*id_len` bytes, pointing into `m`) of a ClientHello `m` (with or
 * without its 4-byte handshake header), NULL when it offers none or is malformed. */
const uint8_t *tern_tls_psk_identity(const uint8_t *m, size_t len, size_t *id_len);
/* The max_early_data_size of a NewSessionTicket, from its extensions block (what GnuTLS 3.7's
 * hook shows) or from the whole message (with or without its header): 0 without an early_data
 * extension, or when malformed. */
uint32_t tern_tls_nst_max_early_data(const uint8_t *m, size_t len);
/* 1 once a handshake completed by resuming a session (no certificate was exchanged). */
int tern_tls_resumed(tern_tls *t);
/* 1 once a handshake completed with early data accepted (client: the server said so in its
 * EncryptedExtensions; server: it accepted the client's). */
int tern_tls_early_accepted(tern_tls *t);

/* Replaces the encoded transport parameters this side sends (copied, <= 4096 bytes; empty sends
 * an empty extension). Effective until they are sent: a client's go in its ClientHello (at
 * tern_tls_start), a server's in reply to the ClientHello. Returns 0, TERN_ERR_INVALID_ARG or
 * TERN_ERR_NOMEM (the previous parameters are kept). */
int tern_tls_set_tparams(tern_tls *t, const uint8_t *tparams, size_t tparams_len);

/* Client: produces the ClientHello (through on_send). Returns 0, TERN_ERR_TLS or a callback's own
 * negative error. */
int tern_tls_start(tern_tls *t);

/* Feeds in-order CRYPTO data received at `level` (Initial or Handshake before completion, 1-RTT
 * after it; anything else fails with unexpected_message) and advances the handshake. Returns 1 when
 * the handshake completed during this call (or had completed), 0 when it needs more data,
 * TERN_ERR_TLS (an alert was reported through on_alert, once; *alert also set when non-NULL),
 * TERN_ERR_PROTO (server: a ClientHello with a legacy_session_id, RFC 9001 §8.4; no alert), or a
 * callback's own negative error. At 1-RTT only a client's NewSessionTicket messages are accepted
 * (consumed, returning 1); a KeyUpdate, a CertificateRequest or any other message fails with
 * unexpected_message (RFC 9001 §6, §4.4). Once failed, every later call fails the same way. */
int tern_tls_recv(tern_tls *t, int level, const uint8_t *data, size_t len, uint8_t *alert);

/* After a failed handshake: why, in words, when the alert says too little (the certificate's
 * verification status); "" otherwise. At most TERN_TLS_WHY_MAX - 1 bytes. */
#define TERN_TLS_WHY_MAX 200
const char *tern_tls_error_text(const tern_tls *t);

/* Negotiated ALPN (NUL-terminated, "" when none). */
const char *tern_tls_alpn(tern_tls *t);
/* Negotiated AEAD (enum tern_aead) once known. */
int tern_tls_aead(tern_tls *t);
/* 1 once the handshake has completed. */
int tern_tls_is_done(tern_tls *t);

#endif
