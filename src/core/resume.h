/* The resumption blob a client application keeps between connections: the TLS session (ticket
 * and resumption secret) together with what RFC 9000 §7.4.1 says a client remembers of the
 * server's transport parameters for 0-RTT, the ticket's early data limit and the ALPN it was
 * issued for. Versioned, self-delimiting, and validated field by field on the way in. */
#ifndef TERN_CORE_RESUME_H
#define TERN_CORE_RESUME_H

#include "common.h"
#include "tparams.h"

#define TERN_RESUME_VERSION 1
#define TERN_RESUME_MAX_SESSION 16384 /* TLS session data we keep (GnuTLS's are ~1-2 KB) */
#define TERN_RESUME_MAX_LEN (TERN_RESUME_MAX_SESSION + 512)

/* The decoded blob. `session` points into the buffer that was decoded. */
typedef struct tern_resume {
    uint32_t max_early_data; /* from the ticket: 0xffffffff allows 0-RTT (RFC 9001 §4.6.1) */
    char alpn[256];          /* NUL-terminated */
    /* the remembered transport parameters (RFC 9000 §7.4.1) */
    uint64_t active_connection_id_limit;
    uint64_t initial_max_data;
    uint64_t initial_max_stream_data_bidi_local;
    uint64_t initial_max_stream_data_bidi_remote;
    uint64_t initial_max_stream_data_uni;
    uint64_t initial_max_streams_bidi;
    uint64_t initial_max_streams_uni;
    /* RFC 9221 §3: lets DATAGRAM frames go in 0-RTT; 0 (also from a blob written before it was
     * remembered) lets none */
    uint64_t max_datagram_frame_size;
    const uint8_t *session;
    size_t session_len;
} tern_resume;

/* Fills the remembered fields of `r` from the server's transport parameters. */
void tern_resume_from_tparams(tern_resume *r, const tern_tparams *tp);

/* Writes the transport parameters a client applies before the server's arrive: the remembered
 * ones over RFC defaults. */
void tern_resume_to_tparams(const tern_resume *r, tern_tparams *tp);

/* The remembered limits of `r` as an array, in a fixed order (the order tern_tls compares them in
 * on a server). */
#define TERN_RESUME_LIMITS 8
void tern_resume_limits(const tern_resume *r, uint64_t out[TERN_RESUME_LIMITS]);

/* 1 when `now` (the server's new parameters) reduces none of the remembered limits. */
int tern_resume_limits_kept(const tern_resume *r, const tern_tparams *now);

/* Encodes `r` (with r->session) into buf. Returns the length, or 0 when cap is too small or a
 * field cannot be encoded (session longer than TERN_RESUME_MAX_SESSION, a value past 2^62-1). */
size_t tern_resume_encode(const tern_resume *r, uint8_t *buf, size_t cap);

/* Decodes buf[0..len) into `r`. Any defect fails: wrong magic, unknown version, truncation,
 * trailing bytes, a length past the end, a duplicate or out-of-range parameter (streams over
 * 2^60, active_connection_id_limit under 2), a missing one of the first seven, an ALPN with a
 * NUL, an empty session. Unknown parameter ids are skipped (a newer writer may remember more);
 * a missing max_datagram_frame_size is 0 (an older writer remembered none). Returns 0 or
 * TERN_ERR_SESSION. */
int tern_resume_decode(tern_resume *r, const uint8_t *buf, size_t len);

#endif
