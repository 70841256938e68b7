/* TLS 1.3 handshake for QUIC over GnuTLS's QUIC API (gnutls_handshake_set_secret_function,
 * gnutls_handshake_set_read_function, gnutls_handshake_write, gnutls_alert_set_read_function and a
 * registered quic_transport_parameters extension, RFC 9001 §8.2). The connection feeds CRYPTO data
 * per level and receives handshake bytes to send, secrets and the peer's transport parameters through
 * callbacks. */
#ifndef TERN_CORE_TLS_H
#define TERN_CORE_TLS_H

#include "common.h"

/* Credentials shared by every connection of an endpoint. */
typedef struct tern_tls_ctx tern_tls_ctx;

/* Creates a context. Server: cert_file/key_file required. Client: ca_file (NULL = system trust),
 * verify_peer. `priority` NULL = TLS 1.3 only with AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.
 * alpn: protocols in preference order. Returns 0, TERN_ERR_CERT, TERN_ERR_CONFIG or TERN_ERR_NOMEM. */
int tern_tls_ctx_new(tern_tls_ctx **out, int is_server, const char *cert_file, const char *key_file,
                     const char *ca_file, int verify_peer, const char *priority,
                     const char *const *alpn, size_t alpn_count);
void tern_tls_ctx_free(tern_tls_ctx *ctx);

typedef struct tern_tls_cb {
    /* New secrets for `level`: rx and/or tx may be NULL when only one direction is installed.
     * `aead` is enum tern_aead. Return 0 or a negative error to abort the handshake. */
    int (*on_secret)(void *ud, int level, int aead, const uint8_t *rx, const uint8_t *tx, size_t len);
    /* Handshake bytes to send in CRYPTO frames at `level`. Return 0 or negative. */
    int (*on_send)(void *ud, int level, const uint8_t *data, size_t len);
    /* A TLS alert to report (the connection closes with CRYPTO_ERROR 0x100 + alert). */
    void (*on_alert)(void *ud, int level, uint8_t alert);
    /* The peer's raw transport parameters extension. Return 0 or negative to abort. */
    int (*on_tparams)(void *ud, const uint8_t *data, size_t len);
} tern_tls_cb;

typedef struct tern_tls tern_tls;

/* Creates a session. `tparams` (already encoded, copied) is sent in the extension. Client:
 * server_name for SNI and verification (NULL = no SNI, hostname not checked). Returns 0,
 * TERN_ERR_TLS or TERN_ERR_NOMEM. */
int tern_tls_new(tern_tls **out, tern_tls_ctx *ctx, int is_server, const char *server_name,
                 const uint8_t *tparams, size_t tparams_len, const tern_tls_cb *cb, void *ud);
void tern_tls_free(tern_tls *t);

/* Client: produces the ClientHello (through on_send). Returns 0 or TERN_ERR_TLS. */
int tern_tls_start(tern_tls *t);

/* Feeds in-order CRYPTO data received at `level` and advances the handshake. Returns 1 when the
 * handshake completed during this call (or had completed), 0 when it needs more data, or
 * TERN_ERR_TLS (an alert was reported through on_alert; *alert also set when non-NULL). */
int tern_tls_recv(tern_tls *t, int level, const uint8_t *data, size_t len, uint8_t *alert);

/* Negotiated ALPN (NUL-terminated, "" when none). */
const char *tern_tls_alpn(tern_tls *t);
/* Negotiated AEAD (enum tern_aead) once known. */
int tern_tls_aead(tern_tls *t);
/* 1 once the handshake has completed. */
int tern_tls_is_done(tern_tls *t);

#endif
