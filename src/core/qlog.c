/* qlog events of one connection as JSON-SEQ records (see qlog.h and docs/qlog.md). Every record is
 * formatted into the buffer allocated with the tern_qlog and handed to the sink at once; frames are
 * taken from the plaintext of the packet (sent: just before protection, received: just after
 * decryption), so what the file shows is what went on the wire. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "conn_internal.h"
#include "mpframe.h"
#include "multipath.h"
#include "varint.h"

#define RESERVE 96 /* closing brackets and the truncation mark, always kept free */

struct tern_qlog {
    tern_qlog_sink sink;
    void *ud;
    tern_tstamp t0, now;
    /* what recovery_metrics_updated last said (of path m_path) */
    int m_path, m_valid, cc_state;
    uint64_t m_min, m_srtt, m_latest, m_var, m_cwnd, m_bif, m_ssthresh;
    uint32_t m_pto;
    /* a migration_started whose migration_complete (the new path validated) is still to come */
    int mig_to, mig_from;
    tern_path_reason mig_why;
    /* 1-RTT key phases as last logged, and how many changes each direction saw */
    int tx_bit, rx_bit;
    uint64_t tx_phase, rx_phase;
    tern_qlog_w w;
    char buf[TERN_QLOG_RECORD_MAX];
};

/* ---- writer ------------------------------------------------------------------------------------
 */

void tern_qlog_w_init(tern_qlog_w *w, char *buf, size_t cap)
{
    w->b = buf;
    w->n = 0;
    w->cap = cap;
    w->soft = cap > RESERVE ? cap - RESERVE : 0;
    w->over = 0;
}

void tern_qlog_w_raw(tern_qlog_w *w, const char *s, size_t len)
{
    if (w->over || w->n + len > w->soft) {
        w->over = 1;
        return;
    }
    memcpy(w->b + w->n, s, len);
    w->n += len;
}

static void w_lit(tern_qlog_w *w, const char *s)
{
    tern_qlog_w_raw(w, s, strlen(s));
}

/* A closing bracket: it may use the reserve kept past `soft` (it always fits there). */
static void w_close_bracket(tern_qlog_w *w, char ch)
{
    if (w->n + 2 > w->cap) {
        w->over = 1;
        return;
    }
    w->b[w->n++] = ch;
}

static void w_fmt(tern_qlog_w *w, const char *fmt, unsigned long long v)
{
    char t[32];
    int n = snprintf(t, sizeof(t), fmt, v);
    tern_qlog_w_raw(w, t, (size_t)n);
}

/* Decimal digits of v into the end of t[0..20); returns where they start (snprintf's formatting
 * machinery costs more than the rest of a record). */
static char *u64_digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void w_u64(tern_qlog_w *w, uint64_t v)
{
    char t[20];
    char *p = u64_digits(v, t + sizeof(t));
    tern_qlog_w_raw(w, p, (size_t)(t + sizeof(t) - p));
}

/* Nanoseconds as milliseconds with three decimals (qlog times and durations are ms). */
static void w_ms(tern_qlog_w *w, uint64_t ns)
{
    char t[24];
    uint64_t us = ns / 1000;
    t[20] = '.';
    t[21] = (char)('0' + us / 100 % 10);
    t[22] = (char)('0' + us / 10 % 10);
    t[23] = (char)('0' + us % 10);
    char *p = u64_digits(us / 1000, t + 20);
    tern_qlog_w_raw(w, p, (size_t)(t + sizeof(t) - p));
}

/* `,"key":` (the comma unless the object just opened). */
static void w_key(tern_qlog_w *w, const char *key)
{
    if (w->n && w->b[w->n - 1] != '{' && w->b[w->n - 1] != '[')
        tern_qlog_w_raw(w, ",", 1);
    tern_qlog_w_raw(w, "\"", 1);
    w_lit(w, key);
    tern_qlog_w_raw(w, "\":", 2);
}

static void kv_u64(tern_qlog_w *w, const char *key, uint64_t v)
{
    w_key(w, key);
    w_u64(w, v);
}

static void kv_ms(tern_qlog_w *w, const char *key, uint64_t ns)
{
    w_key(w, key);
    w_ms(w, ns);
}

/* A string value tern chose (a name, a formatted address): nothing in it needs escaping. What a
 * peer or the application supplies goes through tern_qlog_w_str instead. */
static void kv_str(tern_qlog_w *w, const char *key, const char *s)
{
    w_key(w, key);
    tern_qlog_w_raw(w, "\"", 1);
    w_lit(w, s);
    tern_qlog_w_raw(w, "\"", 1);
}

static void kv_bool(tern_qlog_w *w, const char *key, int v)
{
    w_key(w, key);
    w_lit(w, v ? "true" : "false");
}

static void kv_hex(tern_qlog_w *w, const char *key, const uint8_t *d, size_t len)
{
    w_key(w, key);
    tern_qlog_w_hex(w, d, len);
}

/* Length of the UTF-8 sequence starting at s[0..left), or 0 when it is not a valid one. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] >= 0xf5 || n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* overlong three- and four-byte forms, surrogates, beyond U+10FFFF */
    if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

void tern_qlog_w_str(tern_qlog_w *w, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    tern_qlog_w_raw(w, "\"", 1);
    for (size_t i = 0; i < len && !w->over;) {
        unsigned char ch = s[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            tern_qlog_w_raw(w, e, 2);
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            const char *short_esc = ch == '\n'   ? "\\n"
                                    : ch == '\r' ? "\\r"
                                    : ch == '\t' ? "\\t"
                                                 : NULL;
            if (short_esc) {
                tern_qlog_w_raw(w, short_esc, 2);
            } else {
                char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
                tern_qlog_w_raw(w, e, 6);
            }
            i++;
        } else if (ch < 0x80) {
            tern_qlog_w_raw(w, (const char *)s + i, 1);
            i++;
        } else {
            size_t n = utf8_len(s + i, len - i);
            if (n) {
                tern_qlog_w_raw(w, (const char *)s + i, n);
                i += n;
            } else { /* not UTF-8: the byte as a code point, so the JSON stays valid */
                char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
                tern_qlog_w_raw(w, e, 6);
                i++;
            }
        }
    }
    tern_qlog_w_raw(w, "\"", 1);
}

void tern_qlog_w_hex(tern_qlog_w *w, const uint8_t *d, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    tern_qlog_w_raw(w, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        char e[2] = {hex[d[i] >> 4], hex[d[i] & 15]};
        tern_qlog_w_raw(w, e, 2);
    }
    tern_qlog_w_raw(w, "\"", 1);
}

/* ---- frames ------------------------------------------------------------------------------------
 */

static const char *const transport_errors[] = {
    "no_error",
    "internal_error",
    "connection_refused",
    "flow_control_error",
    "stream_limit_error",
    "stream_state_error",
    "final_size_error",
    "frame_encoding_error",
    "transport_parameter_error",
    "connection_id_limit_error",
    "protocol_violation",
    "invalid_token",
    "application_error",
    "crypto_buffer_exceeded",
    "key_update_error",
    "aead_limit_reached",
    "no_viable_path",
};

static void w_raw_len(tern_qlog_w *w, uint64_t len)
{
    w_key(w, "raw");
    w_lit(w, "{\"length\":");
    w_u64(w, len);
    w_lit(w, "}");
}

/* Returns 1 when ranges were left out for lack of room: the frame is then whole but the last thing
 * the record can hold, and its ECN counts are left out too. */
static int w_ack(tern_qlog_w *w, const tern_frame *f, unsigned exponent)
{
    uint64_t d = f->u.ack.delay;
    uint64_t us = exponent < 32 && d < (UINT64_MAX >> 32) ? d << exponent : UINT64_MAX / 1000;
    kv_ms(w, "ack_delay", us * 1000);
    w_key(w, "acked_ranges");
    w_lit(w, "[");
    if (w->over)
        return 0; /* not even the opening of the ranges fits: the caller leaves the frame out */
    tern_ack_iter it;
    uint64_t lo, hi;
    tern_ack_iter_init(&it, f);
    for (int first = 1; tern_ack_iter_next(&it, &lo, &hi); first = 0) {
        size_t mark = w->n;
        if (!first)
            w_lit(w, ",");
        w_lit(w, "[");
        w_u64(w, lo);
        if (hi != lo) {
            w_lit(w, ",");
            w_u64(w, hi);
        }
        w_lit(w, "]");
        if (w->over) {
            w->n = mark; /* the frame stays valid without its oldest ranges */
            break;
        }
    }
    int cut = w->over;
    w->over = 0;
    w_close_bracket(w, ']');
    if (f->u.ack.ecn && !cut) {
        kv_u64(w, "ect1", f->u.ack.ect1);
        kv_u64(w, "ect0", f->u.ack.ect0);
        kv_u64(w, "ce", f->u.ack.ce);
    }
    return cut;
}

static void w_close(tern_qlog_w *w, const tern_frame *f)
{
    int app = f->type == TERN_FT_CONNECTION_CLOSE_APP;
    uint64_t code = f->u.close.error_code;
    kv_str(w, "frame_type", "connection_close");
    kv_str(w, "error_space", app ? "application" : "transport");
    if (!app && code < TERN_ARRAY_LEN(transport_errors)) {
        kv_str(w, "error", transport_errors[code]);
    } else if (!app && code >= TERN_TE_CRYPTO_ERROR && code < TERN_TE_CRYPTO_ERROR + 256) {
        char e[24];
        snprintf(e, sizeof(e), "crypto_error_0x%03llx", (unsigned long long)code);
        kv_str(w, "error", e);
    } else {
        kv_str(w, "error", "unknown");
        kv_u64(w, "error_code", code);
    }
    w_key(w, "reason");
    tern_qlog_w_str(w, (const char *)f->u.close.reason, f->u.close.reason_len);
    if (!app)
        kv_u64(w, "trigger_frame_type", f->u.close.frame_type);
}

/* Closes a frame's object; `cut`: w_ack left ranges out. Returns cut. */
static int w_frame_end(tern_qlog_w *w, int cut)
{
    if (cut) /* past the soft limit already: the reserve holds the bracket */
        w_close_bracket(w, '}');
    else
        w_lit(w, "}");
    return cut;
}

/* The fields of a NEW_CONNECTION_ID (or of a PATH_NEW_CONNECTION_ID after its path_id). */
static void w_new_cid(tern_qlog_w *w, const tern_frame *f)
{
    kv_u64(w, "sequence_number", f->u.new_cid.seq);
    kv_u64(w, "retire_prior_to", f->u.new_cid.retire_prior_to);
    kv_u64(w, "connection_id_length", f->u.new_cid.cid.len);
    kv_hex(w, "connection_id", f->u.new_cid.cid.data, f->u.new_cid.cid.len);
    kv_hex(w, "stateless_reset_token", f->u.new_cid.token, TERN_RESET_TOKEN_LEN);
}

/* One frame as a JSON object; `run` is the bytes it took (a PADDING run counts whole). Returns 1
 * when the frame was written whole but with parts left out (an ACK's oldest ranges). */
static int w_frame(tern_qlog_w *w, const tern_frame *f, size_t run, unsigned exponent)
{
    int cut = 0;
    w_lit(w, "{");
    uint64_t t = f->type;
    if (t >= TERN_FT_STREAM && t <= TERN_FT_STREAM + 7) {
        kv_str(w, "frame_type", "stream");
        kv_u64(w, "stream_id", f->u.stream.stream_id);
        kv_u64(w, "offset", f->u.stream.offset);
        kv_bool(w, "fin", f->u.stream.fin);
        w_raw_len(w, f->u.stream.len);
        w_lit(w, "}");
        return 0;
    }
    switch (t) {
    case TERN_FT_PADDING:
        kv_str(w, "frame_type", "padding");
        w_key(w, "raw");
        w_lit(w, "{\"length\":");
        w_u64(w, run);
        w_lit(w, ",\"payload_length\":");
        w_u64(w, run);
        w_lit(w, "}");
        break;
    case TERN_FT_PING:
        kv_str(w, "frame_type", "ping");
        break;
    case TERN_FT_ACK:
    case TERN_FT_ACK_ECN:
        kv_str(w, "frame_type", "ack");
        cut = w_ack(w, f, exponent);
        break;
    case TERN_FT_RESET_STREAM:
        kv_str(w, "frame_type", "reset_stream");
        kv_u64(w, "stream_id", f->u.reset_stream.stream_id);
        kv_str(w, "error", "unknown");
        kv_u64(w, "error_code", f->u.reset_stream.app_error);
        kv_u64(w, "final_size", f->u.reset_stream.final_size);
        break;
    case TERN_FT_STOP_SENDING:
        kv_str(w, "frame_type", "stop_sending");
        kv_u64(w, "stream_id", f->u.stop_sending.stream_id);
        kv_str(w, "error", "unknown");
        kv_u64(w, "error_code", f->u.stop_sending.app_error);
        break;
    case TERN_FT_CRYPTO:
        kv_str(w, "frame_type", "crypto");
        kv_u64(w, "offset", f->u.crypto.offset);
        w_raw_len(w, f->u.crypto.len);
        break;
    case TERN_FT_NEW_TOKEN:
        kv_str(w, "frame_type", "new_token");
        w_key(w, "token");
        w_lit(w, "{\"raw\":{\"length\":");
        w_u64(w, f->u.new_token.len);
        w_lit(w, "}}");
        break;
    case TERN_FT_MAX_DATA:
        kv_str(w, "frame_type", "max_data");
        kv_u64(w, "maximum", f->u.max_data.max);
        break;
    case TERN_FT_MAX_STREAM_DATA:
        kv_str(w, "frame_type", "max_stream_data");
        kv_u64(w, "stream_id", f->u.max_stream_data.stream_id);
        kv_u64(w, "maximum", f->u.max_stream_data.max);
        break;
    case TERN_FT_MAX_STREAMS_BIDI:
    case TERN_FT_MAX_STREAMS_UNI:
        kv_str(w, "frame_type", "max_streams");
        kv_str(w, "stream_type",
               t == TERN_FT_MAX_STREAMS_BIDI ? "bidirectional" : "unidirectional");
        kv_u64(w, "maximum", f->u.max_streams.max);
        break;
    case TERN_FT_DATA_BLOCKED:
        kv_str(w, "frame_type", "data_blocked");
        kv_u64(w, "limit", f->u.max_data.max);
        break;
    case TERN_FT_STREAM_DATA_BLOCKED:
        kv_str(w, "frame_type", "stream_data_blocked");
        kv_u64(w, "stream_id", f->u.max_stream_data.stream_id);
        kv_u64(w, "limit", f->u.max_stream_data.max);
        break;
    case TERN_FT_STREAMS_BLOCKED_BIDI:
    case TERN_FT_STREAMS_BLOCKED_UNI:
        kv_str(w, "frame_type", "streams_blocked");
        kv_str(w, "stream_type",
               t == TERN_FT_STREAMS_BLOCKED_BIDI ? "bidirectional" : "unidirectional");
        kv_u64(w, "limit", f->u.max_streams.max);
        break;
    case TERN_FT_NEW_CONNECTION_ID:
        kv_str(w, "frame_type", "new_connection_id");
        w_new_cid(w, f);
        break;
    case TERN_FT_RETIRE_CONNECTION_ID:
        kv_str(w, "frame_type", "retire_connection_id");
        kv_u64(w, "sequence_number", f->u.retire_cid.seq);
        break;
    case TERN_FT_PATH_CHALLENGE:
    case TERN_FT_PATH_RESPONSE:
        kv_str(w, "frame_type", t == TERN_FT_PATH_CHALLENGE ? "path_challenge" : "path_response");
        kv_hex(w, "data", f->u.path.data, 8);
        break;
    case TERN_FT_CONNECTION_CLOSE:
    case TERN_FT_CONNECTION_CLOSE_APP:
        w_close(w, f);
        break;
    case TERN_FT_HANDSHAKE_DONE:
        kv_str(w, "frame_type", "handshake_done");
        break;
    case TERN_FT_DATAGRAM:
    case TERN_FT_DATAGRAM_LEN:
        kv_str(w, "frame_type", "datagram");
        kv_u64(w, "length", f->u.datagram.len);
        w_raw_len(w, f->u.datagram.len);
        break;
    case TERN_FT_ACK_FREQUENCY:
        kv_str(w, "frame_type", "ack_frequency");
        kv_u64(w, "sequence_number", f->u.ack_freq.seq);
        kv_u64(w, "ack_eliciting_threshold", f->u.ack_freq.threshold);
        kv_ms(w, "requested_max_ack_delay",
              f->u.ack_freq.max_ack_delay_us < UINT64_MAX / 1000
                  ? f->u.ack_freq.max_ack_delay_us * 1000
                  : UINT64_MAX / 1000 * 1000);
        kv_u64(w, "reordering_threshold", f->u.ack_freq.reorder);
        break;
    case TERN_FT_IMMEDIATE_ACK:
        kv_str(w, "frame_type", "immediate_ack");
        break;
    default:
        kv_str(w, "frame_type", "unknown");
        kv_u64(w, "frame_type_bytes", t);
        break;
    }
    return w_frame_end(w, cut);
}

/* A multipath frame (draft-ietf-quic-multipath) as a JSON object, its fields named as the draft
 * names them; PATH_ACK and PATH_NEW_CONNECTION_ID carry the fields of ACK and NEW_CONNECTION_ID
 * after their path_id. Returns 1 as w_frame does. */
static int w_mp_frame(tern_qlog_w *w, const tern_mp_frame *f, unsigned exponent)
{
    static const struct {
        uint64_t type;
        const char *name;
    } names[] = {
        {TERN_FT_PATH_ACK, "path_ack"},
        {TERN_FT_PATH_ACK_ECN, "path_ack"},
        {TERN_FT_PATH_ABANDON, "path_abandon"},
        {TERN_FT_PATH_STATUS_BACKUP, "path_status_backup"},
        {TERN_FT_PATH_STATUS_AVAILABLE, "path_status_available"},
        {TERN_FT_PATH_NEW_CONNECTION_ID, "path_new_connection_id"},
        {TERN_FT_PATH_RETIRE_CONNECTION_ID, "path_retire_connection_id"},
        {TERN_FT_MAX_PATH_ID, "max_path_id"},
        {TERN_FT_PATHS_BLOCKED, "paths_blocked"},
        {TERN_FT_PATH_CIDS_BLOCKED, "path_cids_blocked"},
    };
    int cut = 0;
    const char *name = NULL;
    for (size_t i = 0; i < TERN_ARRAY_LEN(names); i++)
        if (names[i].type == f->type)
            name = names[i].name;
    w_lit(w, "{");
    if (!name) { /* tern_mpframe_parse knows no other type */
        kv_str(w, "frame_type", "unknown");
        kv_u64(w, "frame_type_bytes", f->type);
        return w_frame_end(w, 0);
    }
    kv_str(w, "frame_type", name);
    if (f->type == TERN_FT_MAX_PATH_ID || f->type == TERN_FT_PATHS_BLOCKED) {
        kv_u64(w, "maximum_path_id", f->path_id);
        return w_frame_end(w, 0);
    }
    kv_u64(w, "path_id", f->path_id);
    if (f->type == TERN_FT_PATH_ACK || f->type == TERN_FT_PATH_ACK_ECN)
        cut = w_ack(w, &f->u.ack, exponent);
    else if (f->type == TERN_FT_PATH_NEW_CONNECTION_ID)
        w_new_cid(w, &f->u.new_cid);
    else if (f->type == TERN_FT_PATH_ABANDON)
        kv_u64(w, "error_code", f->u.abandon.error_code);
    else if (f->type == TERN_FT_PATH_RETIRE_CONNECTION_ID)
        kv_u64(w, "sequence_number", f->u.retire_cid.seq);
    else if (f->type == TERN_FT_PATH_CIDS_BLOCKED)
        kv_u64(w, "next_sequence_number", f->u.cids_blocked.next_seq);
    else /* PATH_STATUS_BACKUP, PATH_STATUS_AVAILABLE */
        kv_u64(w, "path_status_sequence_number", f->u.status.seq);
    return w_frame_end(w, cut);
}

int tern_qlog_w_frames(tern_qlog_w *w, const uint8_t *payload, size_t len, unsigned exponent)
{
    const uint8_t *p = payload, *end = payload + len;
    int truncated = 0;
    w_lit(w, "[");
    for (int first = 1; p < end; first = 0) {
        size_t mark = w->n;
        if (!first)
            w_lit(w, ",");
        tern_frame f;
        tern_mp_frame mf;
        uint64_t terr = 0;
        const uint8_t *at = p;
        /* 0: a multipath frame, 1: another one, negative: neither parses */
        int mp = tern_mpframe_parse(&p, end, &mf, &terr), cut = 0;
        if (mp == 1 && tern_frame_parse(&p, end, &f, &terr))
            mp = -1;
        if (mp < 0) {
            tern_rd r = {at, end};
            uint64_t type = *at;
            (void)tern_rd_varint(&r, &type);
            w_lit(w, "{\"frame_type\":\"unknown\",\"frame_type_bytes\":");
            w_u64(w, type);
            w_lit(w, "}");
            p = end;
        } else {
            cut =
                mp == 0 ? w_mp_frame(w, &mf, exponent) : w_frame(w, &f, (size_t)(p - at), exponent);
        }
        if (cut && !w->over) {
            truncated = 1; /* the frame is in, shortened: nothing after it fits */
            break;
        }
        if (w->over) {
            w->n = mark;
            w->over = 0;
            truncated = 1;
            break;
        }
    }
    int over = w->over;
    w->over = 0;
    w_close_bracket(w, ']');
    return truncated || over;
}

/* ---- records -----------------------------------------------------------------------------------
 */

static void rec_begin(tern_qlog *q, const char *name)
{
    tern_qlog_w_init(&q->w, q->buf, sizeof(q->buf));
    tern_qlog_w_raw(&q->w, "\x1e{\"time\":", 9);
    w_ms(&q->w, q->now > q->t0 ? q->now - q->t0 : 0);
    w_lit(&q->w, ",\"name\":\"");
    w_lit(&q->w, name);
    w_lit(&q->w, "\",\"data\":{");
}

/* Closes the data object (marking a truncation), adds the event's tuple (-1: none) and hands the
 * record to the sink. */
static void rec_end(tern_conn *c, tern_qlog *q, int tuple, int truncated)
{
    tern_qlog_w *w = &q->w;
    truncated |= w->over;
    w->soft = w->cap - 1; /* the reserve is for this */
    w->over = 0;
    if (truncated)
        kv_bool(w, "tern_truncated", 1);
    w_lit(w, "}");
    if (tuple >= 0) {
        w_lit(w, ",\"tuple\":\"");
        w_u64(w, (uint64_t)tuple);
        w_lit(w, "\"");
    }
    w_lit(w, "}\n");
    w->b[w->n] = 0;
    q->sink(q->ud, c, w->b, w->n);
}

static void w_endpoint(tern_qlog_w *w, const tern_addr *a, const tern_cid *cid)
{
    char ip[INET6_ADDRSTRLEN] = "";
    w_lit(w, "{");
    if (a->len && a->u.sa.sa_family == AF_INET6 &&
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof(ip))) {
        kv_str(w, "ip_v6", ip);
        kv_u64(w, "port_v6", ntohs(a->u.in6.sin6_port));
    } else if (a->len && a->u.sa.sa_family == AF_INET &&
               inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof(ip))) {
        kv_str(w, "ip_v4", ip);
        kv_u64(w, "port_v4", ntohs(a->u.in.sin_port));
    }
    if (cid && cid->len) {
        w_key(w, "connection_ids");
        w_lit(w, "[");
        tern_qlog_w_hex(w, cid->data, cid->len);
        w_lit(w, "]");
    }
    w_lit(w, "}");
}

static const char *level_name(int level)
{
    return level == TERN_LEVEL_INITIAL     ? "initial"
           : level == TERN_LEVEL_HANDSHAKE ? "handshake"
           : level == TERN_LEVEL_0RTT      ? "0rtt"
                                           : "1rtt";
}

static void key_event(tern_conn *c, const char *name, int level, int tx, const char *trigger)
{
    tern_qlog *q = c->qlog;
    char type[32];
    int ours_is_server = c->is_server ? tx : !tx;
    snprintf(type, sizeof(type), "%s_%s_secret", ours_is_server ? "server" : "client",
             level_name(level));
    rec_begin(q, name);
    kv_str(&q->w, "key_type", type);
    if (level == TERN_LEVEL_1RTT)
        kv_u64(&q->w, "key_phase", tx ? q->tx_phase : q->rx_phase);
    kv_str(&q->w, "trigger", trigger);
    rec_end(c, q, -1, 0);
}

int tern_qlog_new(tern_conn *c, tern_qlog_sink sink, void *ud, tern_tstamp now)
{
    tern_qlog *q = malloc(sizeof(*q));
    if (!q)
        return TERN_ERR_NOMEM;
    memset(q, 0, offsetof(tern_qlog, buf));
    q->sink = sink;
    q->ud = ud;
    q->t0 = q->now = now;
    q->m_path = -1;
    q->cc_state = -1;
    q->mig_to = -1;
    c->qlog = q;
    tern_qlog_w *w = &q->w;
    tern_qlog_w_init(w, q->buf, sizeof(q->buf));
    /* Both the current schema's identification (file_schema, serialization_format) and the
     * earlier one (qlog_version, qlog_format) that deployed tools still look for. */
    w_lit(w, "\x1e{\"file_schema\":\"urn:ietf:params:qlog:file:sequential\","
             "\"serialization_format\":\"application/qlog+json-seq\","
             "\"qlog_version\":\"0.3\",\"qlog_format\":\"JSON-SEQ\",\"title\":\"tern\","
             "\"trace\":{\"vantage_point\":{\"name\":\"tern\",\"type\":\"");
    w_lit(w, c->is_server ? "server" : "client");
    w_lit(w, "\"},\"common_fields\":{\"group_id\":");
    tern_qlog_w_hex(w, c->cids.original_dcid.data, c->cids.original_dcid.len);
    w_lit(w, ",\"ODCID\":");
    tern_qlog_w_hex(w, c->cids.original_dcid.data, c->cids.original_dcid.len);
    w_lit(w, ",\"time_format\":\"relative_to_epoch\",\"reference_time\":{\"clock_type\":"
             "\"monotonic\",\"epoch\":\"unknown\"}},\"event_schemas\":["
             "\"urn:ietf:params:qlog:events:quic-12\",\"urn:tern:qlog:events:tern-1\"]}}\n");
    w->b[w->n] = 0;
    sink(ud, c, w->b, w->n);

    rec_begin(q, "quic:connection_started");
    w_key(w, "local");
    w_endpoint(w, &tern_conn_path_slot(c, 0)->addr.local, NULL);
    w_key(w, "remote");
    w_endpoint(w, &tern_conn_path_slot(c, 0)->addr.remote, NULL);
    rec_end(c, q, -1, 0);
    tern_qlog_path_event(c, TERN_QLOG_PATH_NEW, TERN_PATH_WHY_NONE, 0, -1, 0);
    tern_qlog_secrets(c, TERN_LEVEL_INITIAL, 1, 1);
    return 0;
}

void tern_qlog_free(tern_qlog *q)
{
    free(q);
}

int tern_qlog_file_name(tern_conn *c, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const char *vp = c->is_server ? "_server.sqlog" : "_client.sqlog";
    size_t n = 2 * (size_t)c->cids.original_dcid.len;
    if (cap < n + strlen(vp) + 1)
        return -1;
    for (size_t i = 0; i < c->cids.original_dcid.len; i++) {
        buf[2 * i] = hex[c->cids.original_dcid.data[i] >> 4];
        buf[2 * i + 1] = hex[c->cids.original_dcid.data[i] & 15];
    }
    memcpy(buf + n, vp, strlen(vp) + 1);
    return 0;
}

void tern_qlog_tick(tern_conn *c, tern_tstamp now)
{
    if (now > c->qlog->now)
        c->qlog->now = now; /* never backwards: events stay in order */
}

/* ---- packets -----------------------------------------------------------------------------------
 */

/* Packet events are of protected packets only (Retry and Version Negotiation are not logged). */
static const char *pkt_type_name(int type)
{
    return type == TERN_PKT_INITIAL     ? "initial"
           : type == TERN_PKT_HANDSHAKE ? "handshake"
           : type == TERN_PKT_0RTT      ? "0RTT"
                                        : "1RTT";
}

static void w_version(tern_qlog_w *w, uint32_t v)
{
    w_key(w, "version");
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    tern_qlog_w_hex(w, b, 4);
}

/* The packet event common to both directions. */
static void packet_event(tern_conn *c, const char *name, int type, uint64_t pn, size_t pn_len,
                         const uint8_t *pkt, const tern_cid *dcid, const tern_cid *scid,
                         uint32_t version, size_t token_len, size_t hdr_len, size_t payload_len,
                         unsigned exponent, int path_idx)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    rec_begin(q, name);
    w_key(w, "header");
    w_lit(w, "{");
    kv_str(w, "packet_type", pkt_type_name(type));
    kv_u64(w, "packet_number", pn);
    kv_u64(w, "packet_number_length", pn_len);
    if (type == TERN_PKT_1RTT) {
        kv_bool(w, "key_phase_bit", (pkt[0] >> 2) & 1);
    } else {
        w_version(w, version);
        kv_u64(w, "length", pn_len + payload_len + TERN_AEAD_TAG_LEN);
        kv_u64(w, "scil", scid->len);
        kv_hex(w, "scid", scid->data, scid->len);
        if (type == TERN_PKT_INITIAL && token_len) {
            w_key(w, "token");
            w_lit(w, "{\"type\":\"retry\",\"raw\":{\"length\":");
            w_u64(w, token_len);
            w_lit(w, "}}");
        }
    }
    kv_u64(w, "dcil", dcid->len);
    kv_hex(w, "dcid", dcid->data, dcid->len);
    w_lit(w, "}");
    w_key(w, "raw");
    w_lit(w, "{\"length\":");
    w_u64(w, hdr_len + payload_len + TERN_AEAD_TAG_LEN);
    w_lit(w, ",\"payload_length\":");
    w_u64(w, payload_len);
    w_lit(w, "}");
    w_key(w, "frames");
    int truncated = tern_qlog_w_frames(w, pkt + hdr_len, payload_len, exponent);
    rec_end(c, q, path_idx, truncated);
}

void tern_qlog_packet_sent(tern_conn *c, int level, const uint8_t *pkt, size_t hdr_len,
                           size_t pn_len, size_t payload_len, uint64_t pn, int path_idx)
{
    static const tern_cid none = {0, {0}};
    int type = level == TERN_LEVEL_INITIAL     ? TERN_PKT_INITIAL
               : level == TERN_LEVEL_0RTT      ? TERN_PKT_0RTT
               : level == TERN_LEVEL_HANDSHAKE ? TERN_PKT_HANDSHAKE
                                               : TERN_PKT_1RTT;
    /* the connection IDs as the header holds them (protection has not been applied yet) */
    tern_cid dcid = none, scid = none;
    uint32_t version = 0;
    size_t token_len = 0;
    if (type == TERN_PKT_1RTT) {
        const tern_cid_entry *e = tern_peer_cids_for_path(&c->cids.peer, (uint8_t)path_idx);
        if (!e && c->is_server)
            e = tern_peer_cids_for_path(&c->cids.peer, (uint8_t)c->paths.active);
        if (e)
            dcid = e->cid;
    } else {
        tern_pkt_hdr h;
        /* the Length field is already final: the header parses like a received one */
        if (tern_pkt_parse(pkt, hdr_len + payload_len + TERN_AEAD_TAG_LEN, c->cids.scid_len, &h) ==
            0) {
            dcid = h.dcid;
            scid = h.scid;
            version = h.version;
            token_len = h.token_len;
        }
    }
    /* our exponent is a valid one (<= 20, RFC 9000 §18.2): the bound only makes the narrowing safe */
    unsigned exponent = (unsigned)TERN_MIN(c->tp.local.ack_delay_exponent, 20);
    packet_event(c, "quic:packet_sent", type, pn, pn_len, pkt, &dcid, &scid, version, token_len,
                 hdr_len, payload_len, exponent, path_idx);
}

void tern_qlog_packet_received(tern_conn *c, const tern_pkt_hdr *h, const uint8_t *pkt,
                               size_t hdr_len, size_t payload_len, uint64_t pn, int path_idx,
                               tern_tstamp now)
{
    tern_qlog_tick(c, now);
    size_t pn_len = hdr_len - h->pn_offset;
    packet_event(c, "quic:packet_received", h->type, pn, pn_len, pkt, &h->dcid, &h->scid,
                 h->version, h->token_len, hdr_len, payload_len,
                 h->type == TERN_PKT_1RTT ? c->tp.peer_ack_delay_exponent : 3, path_idx);
}

/* ---- recovery ----------------------------------------------------------------------------------
 */

enum { CC_SLOW_START, CC_AVOIDANCE, CC_RECOVERY };
static const char *const cc_names[] = {"slow_start", "congestion_avoidance", "recovery"};

static int cc_state_of(const tern_cc *cc)
{
    if (cc->in_recovery)
        return CC_RECOVERY;
    return cc->cwnd < cc->ssthresh ? CC_SLOW_START : CC_AVOIDANCE;
}

void tern_qlog_metrics(tern_conn *c, tern_tstamp now)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    tern_qlog_tick(c, now);
    const tern_path *p = tern_conn_path(c);
    int all = !q->m_valid || q->m_path != c->paths.active;
    int any = 0;
    rec_begin(q, "quic:recovery_metrics_updated");
    if (p->rtt.has_sample) {
        if (all || p->rtt.min != q->m_min)
            kv_ms(w, "min_rtt", p->rtt.min), any = 1;
        if (all || p->rtt.smoothed != q->m_srtt)
            kv_ms(w, "smoothed_rtt", p->rtt.smoothed), any = 1;
        if (all || p->rtt.latest != q->m_latest)
            kv_ms(w, "latest_rtt", p->rtt.latest), any = 1;
        if (all || p->rtt.var != q->m_var)
            kv_ms(w, "rtt_variance", p->rtt.var), any = 1;
        q->m_min = p->rtt.min;
        q->m_srtt = p->rtt.smoothed;
        q->m_latest = p->rtt.latest;
        q->m_var = p->rtt.var;
    }
    if (all || c->rec.pto_count != q->m_pto)
        kv_u64(w, "pto_count", c->rec.pto_count), any = 1;
    if (all || p->cc.cwnd != q->m_cwnd)
        kv_u64(w, "congestion_window", p->cc.cwnd), any = 1;
    if (all || p->cc.bytes_in_flight != q->m_bif)
        kv_u64(w, "bytes_in_flight", p->cc.bytes_in_flight), any = 1;
    if (p->cc.ssthresh != UINT64_MAX && (all || p->cc.ssthresh != q->m_ssthresh))
        kv_u64(w, "ssthresh", p->cc.ssthresh), any = 1;
    q->m_pto = c->rec.pto_count;
    q->m_cwnd = p->cc.cwnd;
    q->m_bif = p->cc.bytes_in_flight;
    q->m_ssthresh = p->cc.ssthresh;
    q->m_path = c->paths.active;
    q->m_valid = 1;
    if (any)
        rec_end(c, q, c->paths.active, 0);
    int st = cc_state_of(&p->cc);
    if (st != q->cc_state) {
        rec_begin(q, "quic:congestion_state_updated");
        if (q->cc_state >= 0)
            kv_str(w, "old", cc_names[q->cc_state]);
        kv_str(w, "new", cc_names[st]);
        rec_end(c, q, c->paths.active, 0);
        q->cc_state = st;
    }
}

void tern_qlog_ecn_state(tern_conn *c, int idx, int old, int state, int failure)
{
    tern_qlog *q = c->qlog;
    rec_begin(q, "quic:ecn_state_updated");
    kv_str(&q->w, "old", tern_ecn_state_str(old));
    kv_str(&q->w, "new", tern_ecn_state_str(state));
    if (state == TERN_ECN_STATE_FAILED)
        kv_str(&q->w, "reason", tern_ecn_failure_str(failure));
    rec_end(c, q, idx, 0);
}

void tern_qlog_ecn_ce(tern_conn *c, int idx)
{
    tern_qlog *q = c->qlog;
    const tern_path *p = tern_conn_path_slot(c, idx);
    int st = cc_state_of(&p->cc);
    rec_begin(q, "quic:congestion_state_updated");
    if (idx == c->paths.active && q->cc_state >= 0)
        kv_str(&q->w, "old", cc_names[q->cc_state]);
    kv_str(&q->w, "new", cc_names[st]);
    kv_str(&q->w, "trigger", "ECN");
    rec_end(c, q, idx, 0);
    if (idx == c->paths.active)
        q->cc_state = st;
}

/* A sent-packet record's frames (what tern keeps of them) as qlog frames. */
static void w_sent_frames(tern_qlog_w *w, const tern_sent_pkt *p)
{
    w_lit(w, "[");
    for (int i = 0; i < p->n_frames; i++) {
        const tern_sent_frame *f = &p->frames[i];
        if (i)
            w_lit(w, ",");
        w_lit(w, "{");
        switch (f->type) {
        case TERN_FT_STREAM:
            kv_str(w, "frame_type", "stream");
            kv_u64(w, "stream_id", f->id);
            kv_u64(w, "offset", f->off);
            kv_bool(w, "fin", f->fin);
            w_raw_len(w, f->len);
            break;
        case TERN_FT_CRYPTO:
            kv_str(w, "frame_type", "crypto");
            kv_u64(w, "offset", f->off);
            w_raw_len(w, f->len);
            break;
        case TERN_FT_ACK:
            kv_str(w, "frame_type", "ack");
            break;
        case TERN_FT_PING:
            kv_str(w, "frame_type", "ping");
            break;
        case TERN_FT_HANDSHAKE_DONE:
            kv_str(w, "frame_type", "handshake_done");
            break;
        case TERN_FT_MAX_DATA:
            kv_str(w, "frame_type", "max_data");
            kv_u64(w, "maximum", f->off);
            break;
        case TERN_FT_MAX_STREAM_DATA:
            kv_str(w, "frame_type", "max_stream_data");
            kv_u64(w, "stream_id", f->id);
            kv_u64(w, "maximum", f->off);
            break;
        case TERN_FT_NEW_CONNECTION_ID:
            kv_str(w, "frame_type", "new_connection_id");
            kv_u64(w, "sequence_number", f->id);
            break;
        case TERN_FT_RETIRE_CONNECTION_ID:
            kv_str(w, "frame_type", "retire_connection_id");
            kv_u64(w, "sequence_number", f->id);
            break;
        case TERN_FT_RESET_STREAM:
            kv_str(w, "frame_type", "reset_stream");
            kv_u64(w, "stream_id", f->id);
            break;
        case TERN_FT_STOP_SENDING:
            kv_str(w, "frame_type", "stop_sending");
            kv_u64(w, "stream_id", f->id);
            break;
        case TERN_FT_DATA_BLOCKED:
            kv_str(w, "frame_type", "data_blocked");
            kv_u64(w, "limit", f->off);
            break;
        case TERN_FT_STREAM_DATA_BLOCKED:
            kv_str(w, "frame_type", "stream_data_blocked");
            kv_u64(w, "stream_id", f->id);
            kv_u64(w, "limit", f->off);
            break;
        case TERN_FT_MAX_STREAMS_BIDI:
        case TERN_FT_MAX_STREAMS_UNI:
            kv_str(w, "frame_type", "max_streams");
            kv_str(w, "stream_type",
                   f->type == TERN_FT_MAX_STREAMS_BIDI ? "bidirectional" : "unidirectional");
            kv_u64(w, "maximum", f->off);
            break;
        case TERN_FT_STREAMS_BLOCKED_BIDI:
        case TERN_FT_STREAMS_BLOCKED_UNI:
            kv_str(w, "frame_type", "streams_blocked");
            kv_str(w, "stream_type",
                   f->type == TERN_FT_STREAMS_BLOCKED_BIDI ? "bidirectional" : "unidirectional");
            kv_u64(w, "limit", f->off);
            break;
        case TERN_FT_DATAGRAM:
            kv_str(w, "frame_type", "datagram");
            kv_u64(w, "length", f->len);
            w_raw_len(w, f->len);
            break;
        case TERN_FT_ACK_FREQUENCY:
            kv_str(w, "frame_type", "ack_frequency");
            kv_u64(w, "sequence_number", f->off);
            break;
        case TERN_FT_IMMEDIATE_ACK:
            kv_str(w, "frame_type", "immediate_ack");
            break;
        case TERN_MP_REC_NEW_CID:
        case TERN_MP_REC_RETIRE_CID:
            kv_str(w, "frame_type",
                   f->type == TERN_MP_REC_NEW_CID ? "path_new_connection_id"
                                                  : "path_retire_connection_id");
            kv_u64(w, "path_id", f->aux);
            kv_u64(w, "sequence_number", f->id);
            break;
        default: /* a frame type the sender records and this list does not know yet */
            kv_str(w, "frame_type", "unknown");
            kv_u64(w, "frame_type_bytes", f->type);
            break;
        }
        w_lit(w, "}");
    }
    w_lit(w, "]");
}

void tern_qlog_packet_lost(tern_conn *c, int space, const tern_sent_pkt *p, int trigger)
{
    static const char *const spaces[] = {"initial", "handshake", "1RTT"};
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    rec_begin(q, "quic:packet_lost");
    w_key(w, "header");
    w_lit(w, "{");
    /* a TERN_SPACE_*, or with multipath a path ID's space above TERN_SPACE_APP: 1-RTT too */
    kv_str(w, "packet_type", spaces[TERN_MIN(space, TERN_SPACE_APP)]);
    kv_u64(w, "packet_number", p->pn);
    w_lit(w, "}");
    w_key(w, "frames");
    w_sent_frames(w, p);
    if (trigger == TERN_QLOG_LOSS_REORDERING)
        kv_str(w, "trigger", "reordering_threshold");
    else if (trigger == TERN_QLOG_LOSS_TIME)
        kv_str(w, "trigger", "time_threshold");
    rec_end(c, q, p->path_id < TERN_MAX_PATHS ? p->path_id : -1, 0);
}

/* ---- keys and state ----------------------------------------------------------------------------
 */

void tern_qlog_secrets(tern_conn *c, int level, int rx, int tx)
{
    if (level == TERN_LEVEL_1RTT) {
        c->qlog->tx_bit = c->keys.tx_phase;
        c->qlog->rx_bit = c->keys.rx_phase;
    }
    if (rx)
        key_event(c, "quic:key_updated", level, 0, "tls");
    if (tx)
        key_event(c, "quic:key_updated", level, 1, "tls");
}

void tern_qlog_keys_discarded(tern_conn *c, int space)
{
    int level = space == TERN_SPACE_INITIAL ? TERN_LEVEL_INITIAL : TERN_LEVEL_HANDSHAKE;
    key_event(c, "quic:key_discarded", level, 0, "tls");
    key_event(c, "quic:key_discarded", level, 1, "tls");
}

void tern_qlog_key_update(tern_conn *c, int local)
{
    tern_qlog *q = c->qlog;
    const char *trigger = local ? "local_update" : "remote_update";
    if (c->keys.tx_phase != q->tx_bit) {
        q->tx_bit = c->keys.tx_phase;
        q->tx_phase++;
        key_event(c, "quic:key_updated", TERN_LEVEL_1RTT, 1, trigger);
    }
    if (c->keys.rx_phase != q->rx_bit) {
        q->rx_bit = c->keys.rx_phase;
        q->rx_phase++;
        key_event(c, "quic:key_updated", TERN_LEVEL_1RTT, 0, trigger);
    }
}

void tern_qlog_state(tern_conn *c, const char *state)
{
    tern_qlog *q = c->qlog;
    rec_begin(q, "quic:connection_state_updated");
    kv_str(&q->w, "new", state);
    rec_end(c, q, -1, 0);
}

void tern_qlog_closed(tern_conn *c)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    const tern_close_info *ci = tern_conn_close_info(c);
    rec_begin(q, "quic:connection_closed");
    kv_str(w, "initiator", ci->local ? "local" : "remote");
    if (ci->app) {
        kv_str(w, "application_error", "unknown");
        kv_u64(w, "error_code", ci->error_code);
    } else if (ci->error_code < TERN_ARRAY_LEN(transport_errors)) {
        kv_str(w, "connection_error", transport_errors[ci->error_code]);
    } else if (ci->error_code >= TERN_TE_CRYPTO_ERROR &&
               ci->error_code < TERN_TE_CRYPTO_ERROR + 256) {
        char e[24];
        snprintf(e, sizeof(e), "crypto_error_0x%03llx", (unsigned long long)ci->error_code);
        kv_str(w, "connection_error", e);
    } else {
        kv_str(w, "connection_error", "unknown");
        kv_u64(w, "error_code", ci->error_code);
    }
    w_key(w, "reason");
    tern_qlog_w_str(w, ci->reason, strlen(ci->reason));
    const char *trigger = ci->status == TERN_ERR_IDLE_TIMEOUT      ? "idle_timeout"
                          : ci->status == TERN_ERR_STATELESS_RESET ? "stateless_reset"
                          : ci->status == TERN_ERR_VERSION         ? "version_mismatch"
                          : ci->app                                ? "application"
                          : ci->error_code || ci->status           ? "error"
                                                                   : "unspecified";
    kv_str(w, "trigger", trigger);
    rec_end(c, q, -1, 0);
}

/* ---- paths, network, policy --------------------------------------------------------------------
 */

const char *tern_qlog_reason_name(tern_path_reason r)
{
    static const char *const names[] = {
        "none",
        "app",
        "timeout",
        "socket_error",
        "no_cid",
        "migration_disabled",
        "validation_failed",
        "active_removed",
        "preferred_address",
        "peer_migrated",
        "zero_len_cid",
        "failover",
        "degrading",
        "interface_gone",
        "address_gone",
        "default_changed",
        "migrated_back",
        "port_migration",
        "keepalive_failed",
        "new_network",
        "limit",
        "standby_unused",
        "peer_abandoned",
        "idle",
    };
    return (unsigned)r < TERN_ARRAY_LEN(names) ? names[r] : "unknown";
}

static void tuple_assigned(tern_conn *c, int idx, int gone, tern_path_reason why)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    const tern_path *p = tern_conn_path_slot(c, idx);
    rec_begin(q, "quic:tuple_assigned");
    w_key(w, "tuple_id");
    w_fmt(w, "\"%llu\"", (unsigned long long)idx);
    if (!gone) {
        const tern_cid_entry *e = tern_peer_cids_for_path(&c->cids.peer, (uint8_t)idx);
        w_key(w, "tuple_remote");
        w_endpoint(w, &p->addr.remote, e ? &e->cid : NULL);
        w_key(w, "tuple_local");
        w_endpoint(w, &p->addr.local, p->dcid.len ? &p->dcid : NULL);
    }
    if (why != TERN_PATH_WHY_NONE)
        kv_str(w, "reason", tern_qlog_reason_name(why));
    rec_end(c, q, -1, 0);
}

static void migration_state(tern_conn *c, const char *state, int idx, int from,
                            tern_path_reason why, uint64_t rtt_ns)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    const tern_path *p = tern_conn_path_slot(c, idx);
    rec_begin(q, "quic:migration_state_updated");
    kv_str(w, "new", state);
    w_key(w, "tuple_id");
    w_fmt(w, "\"%llu\"", (unsigned long long)idx);
    w_key(w, "tuple_remote");
    w_endpoint(w, &p->addr.remote, NULL);
    w_key(w, "tuple_local");
    w_endpoint(w, &p->addr.local, NULL);
    if (from >= 0) {
        w_key(w, "from_tuple_id");
        w_fmt(w, "\"%llu\"", (unsigned long long)from);
    }
    if (why != TERN_PATH_WHY_NONE)
        kv_str(w, "reason", tern_qlog_reason_name(why));
    if (rtt_ns)
        kv_ms(w, "validation_rtt", rtt_ns);
    rec_end(c, q, -1, 0);
}

void tern_qlog_path_event(tern_conn *c, tern_path_event_type type, tern_path_reason why, int idx,
                          int from, uint64_t rtt_ns)
{
    if (idx < 0 || idx >= TERN_MAX_PATHS)
        return;
    switch ((int)type) {
    case 0: /* TERN_QLOG_PATH_NEW */
        tuple_assigned(c, idx, 0, why);
        if (tern_conn_path_slot(c, idx)->need_challenge)
            migration_state(c, "probing_started", idx, -1, why, 0);
        break;
    case TERN_PATH_EV_PROBING:
        tuple_assigned(c, idx, 0, why);
        migration_state(c, "probing_started", idx, -1, why, 0);
        break;
    case TERN_PATH_EV_VALIDATED:
        migration_state(c, "probing_successful", idx, -1, why, rtt_ns);
        if (idx == c->paths.active &&
            idx == c->qlog->mig_to) /* the migration started is complete */
            migration_state(c, "migration_complete", idx, c->qlog->mig_from, c->qlog->mig_why, 0);
        if (idx == c->qlog->mig_to)
            c->qlog->mig_to = -1;
        break;
    case TERN_PATH_EV_FAILED:
        migration_state(c, "probing_abandoned", idx, -1, why, 0);
        if (idx == c->qlog->mig_to)
            c->qlog->mig_to = -1;
        break;
    case TERN_PATH_EV_ACTIVE: {
        int back = why == TERN_PATH_WHY_VALIDATION_FAILED;
        int started =
            !back && !tern_conn_path_slot(c, idx)->path_validated; /* complete once it validates */
        migration_state(c,
                        back      ? "migration_abandoned"
                        : started ? "migration_started"
                                  : "migration_complete",
                        idx, from, why, 0);
        c->qlog->mig_to = started ? idx : -1;
        c->qlog->mig_from = from;
        c->qlog->mig_why = why;
        break;
    }
    case TERN_PATH_EV_REMOVED:
        tuple_assigned(c, idx, 1, why);
        break;
    case TERN_PATH_EV_PEER_ADDRESS_CHANGED: /* the ACTIVE event said the rest */
        tuple_assigned(c, idx, 0, why);
        break;
    default:
        break;
    }
}

void tern_qlog_refused(tern_conn *c, int idx, const tern_addr *ip)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    rec_begin(q, "tern:migration_refused");
    kv_str(w, "reason", tern_qlog_reason_name(TERN_PATH_WHY_LIMIT));
    if (idx >= 0) {
        w_key(w, "tuple_id");
        w_fmt(w, "\"%llu\"", (unsigned long long)idx);
    }
    w_key(w, "local");
    w_endpoint(w, idx >= 0 ? &tern_conn_path_slot(c, idx)->addr.local : ip, NULL);
    rec_end(c, q, -1, 0);
}

void tern_qlog_net_event(tern_conn *c, const tern_net_event *ev, tern_tstamp now)
{
    tern_qlog_tick(c, now);
    static const char *const types[] = {"",        "address_added", "address_removed",
                                        "link_up", "link_down",     "default_route_changed"};
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    rec_begin(q, "tern:network_event");
    kv_str(w, "type", (unsigned)ev->type < TERN_ARRAY_LEN(types) ? types[ev->type] : "unknown");
    kv_u64(w, "ifindex", ev->ifindex);
    w_key(w, "ifname");
    tern_qlog_w_str(w, ev->ifname, strnlen(ev->ifname, sizeof(ev->ifname)));
    if (ev->addr.len) {
        w_key(w, "address");
        w_endpoint(w, &ev->addr, NULL);
    }
    rec_end(c, q, -1, 0);
}

void tern_qlog_policy(tern_conn *c, const char *decision, uint32_t ptos)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    rec_begin(q, "tern:policy_decision");
    kv_str(w, "decision", decision);
    w_key(w, "tuple_id");
    w_fmt(w, "\"%llu\"", (unsigned long long)c->paths.active);
    kv_u64(w, "pto_count", ptos);
    rec_end(c, q, -1, 0);
}

void tern_qlog_mtu_updated(tern_conn *c, int idx, uint64_t old_size, uint64_t new_size, int done)
{
    tern_qlog *q = c->qlog;
    tern_qlog_w *w = &q->w;
    rec_begin(q, "quic:mtu_updated");
    kv_u64(w, "old", old_size);
    kv_u64(w, "new", new_size);
    kv_bool(w, "done", done);
    rec_end(c, q, idx, 0);
}
