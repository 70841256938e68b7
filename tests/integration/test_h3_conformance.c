/* HTTP/3 conformance of the tools' own layer (tools/common/h3conn.c, RFC 9114 and RFC 9204 as
 * docs of the layer's contract state them): one side of an in-memory pair runs tool_h3 with
 * callbacks that log what they see; the other side is a bare tern connection on which each case
 * writes exact bytes, built here by hand (varints, frames, QPACK field sections of static
 * references and literals), never by the layer's own encoder. Each case checks what the bare side
 * observes: the application error code that closes the connection (or that nothing closed it),
 * the RESET_STREAM and STOP_SENDING codes on a stream, the frames and fields the layer sent; and
 * what the tool saw: the sequence of callbacks, the fields and the body bytes.
 *
 * Memory cases measure the heap the layer holds (allocations made inside the calls into
 * tool_h3, see allochook.h) while a peer pushes on it; they skip under the sanitizers. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/crypto.h>

#define ALLOCHOOK_BYTES
#include "allochook.h"
#include "common/h3conn.h"
#include "conn_test.h"
#include "pair.h"

#define SEC 1000000000ull
#define MS 1000000ull

/* HTTP/3 frame and stream types used below (RFC 9114 §7.2, §6.2; RFC 9218 §7). */
enum {
    F_DATA = 0x00,
    F_HEADERS = 0x01,
    F_CANCEL_PUSH = 0x03,
    F_SETTINGS = 0x04,
    F_PUSH_PROMISE = 0x05,
    F_GOAWAY = 0x07,
    F_MAX_PUSH_ID = 0x0d,
    F_PRIORITY_UPDATE = 0xf0700,
    F_PRIORITY_UPDATE_PUSH = 0xf0701,
    F_GREASE = 0x21, /* 0x1f * 0 + 0x21 */
    F_GREASE_BIG = 0x1f * 1000 + 0x21,
    S_CONTROL = 0x00,
    S_PUSH = 0x01,
    S_ENCODER = 0x02,
    S_DECODER = 0x03,
};

#define MAX_SID_ID (((uint64_t)1 << 62) - 4)

/* ---- byte strings ------------------------------------------------------------------------- */

typedef struct bb {
    uint8_t *d;
    size_t n, cap;
} bb;

static void bb_raw(bb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->d = realloc(b->d, cap);
        assert_non_null(b->d);
        b->cap = cap;
    }
    if (n)
        memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void bb_byte(bb *b, uint8_t v)
{
    bb_raw(b, &v, 1);
}

static void bb_free(bb *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

/* A QUIC variable-length integer (RFC 9000 §16) on `len` octets (1, 2, 4 or 8; 0: the fewest). */
static void bb_vi_n(bb *b, uint64_t v, int len)
{
    if (!len)
        len = v < 64 ? 1 : v < 16384 ? 2 : v < (1u << 30) ? 4 : 8;
    uint8_t o[8];
    int bits = len == 1 ? 0 : len == 2 ? 1 : len == 4 ? 2 : 3;
    for (int i = len - 1; i >= 0; i--) {
        o[i] = (uint8_t)v;
        v >>= 8;
    }
    o[0] = (uint8_t)((o[0] & 0x3f) | (bits << 6));
    bb_raw(b, o, (size_t)len);
}

static void bb_vi(bb *b, uint64_t v)
{
    bb_vi_n(b, v, 0);
}

/* One frame: type, length, payload. */
static void bb_frame(bb *b, uint64_t type, const void *pl, size_t n)
{
    bb_vi(b, type);
    bb_vi(b, n);
    bb_raw(b, pl, n);
}

/* Bytes given as hex digits, spaces ignored. */
static void bb_hex(bb *b, const char *hex)
{
    int hi = -1;
    for (; *hex; hex++) {
        int c = *hex, v;
        if (c == ' ')
            continue;
        v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            bb_byte(b, (uint8_t)(hi << 4 | v));
            hi = -1;
        }
    }
}

/* A prefixed integer (RFC 9204 §4.1.1): `first` gives the bits above the `prefix` low ones. */
static void bb_qint(bb *b, uint8_t first, int prefix, uint64_t v)
{
    uint64_t max = ((uint64_t)1 << prefix) - 1;
    if (v < max) {
        bb_byte(b, (uint8_t)(first | v));
        return;
    }
    bb_byte(b, (uint8_t)(first | max));
    v -= max;
    while (v >= 128) {
        bb_byte(b, (uint8_t)(0x80 | (v & 0x7f)));
        v >>= 7;
    }
    bb_byte(b, (uint8_t)v);
}

/* A field line as bytes (either may hold NUL). */
typedef struct fld {
    const char *n;
    size_t nl;
    const char *v;
    size_t vl;
} fld;
#define F(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

/* A field section of literal field lines with literal names, no Huffman code (RFC 9204 §4.5.6),
 * after the prefix of a section without dynamic references (Required Insert Count 0, Base 0). */
static void bb_section(bb *b, const fld *f, size_t n)
{
    bb_hex(b, "0000");
    for (size_t i = 0; i < n; i++) {
        bb_qint(b, 0x20, 3, f[i].nl);
        bb_raw(b, f[i].n, f[i].nl);
        bb_qint(b, 0x00, 7, f[i].vl);
        bb_raw(b, f[i].v, f[i].vl);
    }
}

static void bb_headers(bb *b, const fld *f, size_t n)
{
    bb s = {0};
    bb_section(&s, f, n);
    bb_frame(b, F_HEADERS, s.d, s.n);
    bb_free(&s);
}

/* GET https://example.com/ as static references: :method GET (17), :scheme https (23), :authority
 * (0) by name with a literal value, :path / (1). */
static void bb_get(bb *b)
{
    bb s = {0};
    bb_hex(&s, "0000 d1 d7 50 0b");
    bb_raw(&s, "example.com", 11);
    bb_hex(&s, "c1");
    bb_frame(b, F_HEADERS, s.d, s.n);
    bb_free(&s);
}

#define REQ_GET                                                                                    \
    F(":method", "GET"), F(":scheme", "https"), F(":authority", "example.com"), F(":path", "/")

#define QF(n, v)                                                                                   \
    {                                                                                              \
        (const uint8_t *)n, sizeof(n) - 1, (const uint8_t *)v, sizeof(v) - 1                       \
    }
static const tool_qpack_field tool_get[] = {QF(":method", "GET"), QF(":scheme", "https"),
                                            QF(":authority", "example.com"), QF(":path", "/")};

/* ---- the raw side: a tern connection the test writes on ----------------------------------- */

typedef struct rstream {
    int64_t sid;
    uint8_t *buf;
    size_t len, cap;
    int fin, reset, stopped;
    uint64_t reset_code, stop_code;
} rstream;

#define RAW_STREAMS 256

typedef struct raw_side {
    tern_conn *c;
    int connected;
    rstream st[RAW_STREAMS];
    int n;
    int64_t ctrl; /* our control stream */
} raw_side;

/* ---- the tool side: tool_h3 with logging callbacks ---------------------------------------- */

typedef struct tstream {
    int64_t sid;
    uint8_t body[8192];
    size_t blen;
    uint64_t btotal;
    uint64_t bhash; /* FNV-1a of every body byte (from the offset basis, set at first data) */
    uint64_t resp_off;
    int blocked;
} tstream;

typedef struct tool_side {
    tool_h3 *h;
    int is_server;
    tern_conn *c;
    char log[65536];
    size_t loglen;
    int64_t last_data_sid; /* the last event logged was data on this stream (-1: not data) */
    tstream st[64];
    int n;
    int respond;         /* server: answer every request that ended well with :status 200 */
    size_t resp_len;     /* ... and this many body bytes (0: none) */
    int resp_wouldblock; /* read_data answers TOOL_H3_WOULDBLOCK until resp_release is set */
    int resp_release;
    int resp_fail;   /* read_data answers -1 */
    int fail_header; /* recv_header answers 1 */
    int stop_data;   /* recv_data stops reading the stream (tool_h3_stop_stream, 0x10c) */
    int set_ud;      /* server: begin_headers attaches the stream's tstream as its user data */
    uint64_t acked;
    uint64_t ref_taken, ref_released, ref_takes, ref_releases; /* by_ref */
    /* heap measurement (allochook): the tagged bytes held, highest at the end of a call */
    long long peak;
    uint8_t scratch[32768];
} tool_side;

static tern_pair P;
static raw_side R;
static tool_side S;
static uint8_t BODY[256 * 1024];

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

static void settle(void)
{
    pair_run(&P, never, 300 * MS);
}

static rstream *rs_get(int64_t sid)
{
    for (int i = 0; i < R.n; i++)
        if (R.st[i].sid == sid)
            return &R.st[i];
    assert_true(R.n < RAW_STREAMS);
    rstream *s = &R.st[R.n++];
    memset(s, 0, sizeof(*s));
    s->sid = sid;
    return s;
}

static rstream *rs_find(int64_t sid)
{
    for (int i = 0; i < R.n; i++)
        if (R.st[i].sid == sid)
            return &R.st[i];
    return NULL;
}

static void raw_connected(tern_conn *c, void *ud)
{
    (void)ud;
    R.c = c;
    R.connected = 1;
}

static void raw_readable(tern_conn *c, int64_t sid, void *ud)
{
    (void)ud;
    rstream *s = rs_get(sid);
    for (;;) {
        if (s->cap - s->len < 4096) {
            s->cap = s->cap ? s->cap * 2 : 8192;
            s->buf = realloc(s->buf, s->cap);
            assert_non_null(s->buf);
        }
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, s->buf + s->len, s->cap - s->len, &fin);
        if (n < 0)
            break;
        s->len += (size_t)n;
        if (fin) {
            s->fin = 1;
            break;
        }
    }
}

static void raw_reset(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    (void)c;
    (void)ud;
    rstream *s = rs_get(sid);
    s->reset = 1;
    s->reset_code = code;
}

static void raw_stop(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    (void)c;
    (void)ud;
    rstream *s = rs_get(sid);
    s->stopped = 1;
    s->stop_code = code;
}

static const tern_callbacks raw_cb = {
    .on_connected = raw_connected,
    .on_stream_readable = raw_readable,
    .on_stream_reset = raw_reset,
    .on_stream_stop_sending = raw_stop,
};

/* ---- tool side callbacks ------------------------------------------------------------------ */

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(S.log + S.loglen, sizeof(S.log) - S.loglen, fmt, ap);
    va_end(ap);
    if (n > 0 && S.loglen + (size_t)n < sizeof(S.log))
        S.loglen += (size_t)n;
    S.last_data_sid = -1;
}

static tstream *ts_get(int64_t sid)
{
    for (int i = 0; i < S.n; i++)
        if (S.st[i].sid == sid)
            return &S.st[i];
    assert_true(S.n < 64);
    tstream *t = &S.st[S.n++];
    memset(t, 0, sizeof(*t));
    t->sid = sid;
    return t;
}

/* With set_ud: the user data a callback got is not what was attached to the stream. */
static void check_ud(int64_t sid, void *ud)
{
    if (S.set_ud && ud != ts_get(sid))
        logf_("U%lld! ", (long long)sid);
}

static int cb_begin_headers(tool_h3 *h, int64_t sid, void *ud)
{
    if (ud)
        logf_("U%lld! ", (long long)sid); /* nothing attached yet */
    logf_("B%lld ", (long long)sid);
    if (S.set_ud)
        assert_int_equal(tool_h3_set_stream_user_data(h, sid, ts_get(sid)), 0);
    return 0;
}

static int cb_recv_header(tool_h3 *h, int64_t sid, const tool_qpack_field *f, void *ud)
{
    (void)h;
    check_ud(sid, ud);
    logf_("H%lld %.*s=%.*s ", (long long)sid, (int)f->namelen, (const char *)f->name,
          (int)f->valuelen, (const char *)f->value);
    return S.fail_header;
}

static int cb_end_headers(tool_h3 *h, int64_t sid, int fin, void *ud)
{
    (void)h;
    check_ud(sid, ud);
    logf_("E%lld%s ", (long long)sid, fin ? "f" : "");
    return 0;
}

static uint64_t fnv(uint64_t h, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 0x100000001b3ull;
    return h;
}

static int cb_recv_data(tool_h3 *h, int64_t sid, const uint8_t *d, size_t len, void *ud)
{
    (void)h;
    check_ud(sid, ud);
    tstream *t = ts_get(sid);
    if (S.last_data_sid != sid)
        logf_("D%lld ", (long long)sid);
    S.last_data_sid = sid;
    size_t k = len;
    if (k > sizeof(t->body) - t->blen)
        k = sizeof(t->body) - t->blen;
    memcpy(t->body + t->blen, d, k);
    t->blen += k;
    if (!t->btotal)
        t->bhash = 0xcbf29ce484222325ull;
    t->bhash = fnv(t->bhash, d, len);
    t->btotal += len;
    if (S.stop_data)
        tool_h3_stop_stream(h, sid, TOOL_H3_REQUEST_CANCELLED);
    return 0;
}

static int cb_end_stream(tool_h3 *h, int64_t sid, void *ud)
{
    check_ud(sid, ud);
    logf_("F%lld ", (long long)sid);
    if (S.is_server && S.respond) {
        static const tool_qpack_field status = {(const uint8_t *)":status", 7,
                                                (const uint8_t *)"200", 3};
        if (tool_h3_submit_response(h, sid, &status, 1, S.resp_len > 0))
            logf_("X%lld ", (long long)sid); /* refused: the checks of the response see it */
    }
    return 0;
}

static int cb_stream_close(tool_h3 *h, int64_t sid, uint64_t code, void *ud)
{
    (void)h;
    check_ud(sid, ud);
    logf_("C%lld=%llx ", (long long)sid, (unsigned long long)code);
    return 0;
}

static int cb_goaway(tool_h3 *h, int64_t id)
{
    (void)h;
    logf_("G%lld ", (long long)id);
    return 0;
}

static ssize_t cb_read_data(tool_h3 *h, int64_t sid, tool_h3_vec *vec, size_t veccnt, int *eof,
                            void *ud)
{
    (void)h;
    check_ud(sid, ud);
    tstream *t = ts_get(sid);
    if (S.resp_fail)
        return -1;
    if (S.resp_wouldblock && !S.resp_release) {
        t->blocked++;
        return TOOL_H3_WOULDBLOCK;
    }
    size_t i = 0;
    while (i < veccnt && t->resp_off < S.resp_len) {
        size_t k = S.resp_len - t->resp_off, at = t->resp_off % sizeof(BODY);
        if (k > 7000)
            k = 7000;
        if (k > sizeof(BODY) - at)
            k = sizeof(BODY) - at; /* bodies longer than BODY repeat it */
        vec[i].base = BODY + at;
        vec[i].len = k;
        t->resp_off += k;
        i++;
    }
    *eof = t->resp_off == S.resp_len;
    return (ssize_t)i;
}

static int cb_acked(tool_h3 *h, int64_t sid, uint64_t n, void *ud)
{
    (void)h;
    (void)sid;
    (void)ud;
    S.acked += n;
    return 0;
}

static const tool_h3_callbacks h3cb = {
    .begin_headers = cb_begin_headers,
    .recv_header = cb_recv_header,
    .end_headers = cb_end_headers,
    .recv_data = cb_recv_data,
    .end_stream = cb_end_stream,
    .stream_close = cb_stream_close,
    .goaway = cb_goaway,
    .read_data = cb_read_data,
    .acked_stream_data = cb_acked,
};

/* Calls into the layer count the heap they leave allocated. */
static void tag_on(void)
{
    allochook_tag = 1;
}

static void tag_off(void)
{
    allochook_tag = 0;
    if (allochook_bytes > S.peak)
        S.peak = allochook_bytes;
}

static void tool_connected(tern_conn *c, void *ud)
{
    (void)ud;
    char err[128];
    S.c = c;
    tag_on();
    int rv = tool_h3_new(&S.h, c, S.is_server, &h3cb, &S, err, sizeof(err));
    tag_off();
    if (rv)
        fprintf(stderr, "tool_h3_new: %s\n", err);
    assert_int_equal(rv, 0);
}

static void tool_readable(tern_conn *c, int64_t sid, void *ud)
{
    (void)ud;
    if (!S.h) {
        uint8_t junk[256];
        int fin;
        while (tern_stream_read(c, sid, junk, sizeof(junk), &fin) > 0)
            ;
        return;
    }
    tag_on();
    tool_h3_on_readable(S.h, sid, S.scratch, sizeof(S.scratch));
    tag_off();
}

static void tool_writable(tern_conn *c, int64_t sid, void *ud)
{
    (void)c;
    (void)ud;
    if (!S.h)
        return;
    tag_on();
    tool_h3_on_writable(S.h, sid);
    tag_off();
}

static void tool_reset(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    (void)c;
    (void)ud;
    if (!S.h)
        return;
    tag_on();
    tool_h3_on_reset(S.h, sid, code);
    tag_off();
}

static void tool_stop(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    (void)c;
    (void)ud;
    if (!S.h)
        return;
    tag_on();
    tool_h3_on_stop_sending(S.h, sid, code);
    tag_off();
}

static const tern_callbacks tool_cb = {
    .on_connected = tool_connected,
    .on_stream_readable = tool_readable,
    .on_stream_writable = tool_writable,
    .on_stream_reset = tool_reset,
    .on_stream_stop_sending = tool_stop,
};

/* ---- the pair ----------------------------------------------------------------------------- */

static int cond_ready(tern_pair *p)
{
    (void)p;
    return R.connected && S.h != NULL;
}

static void raw_write(int64_t sid, const void *data, size_t n, int fin);

/* Connects the tool side (server when tool_server, else client) to the raw side, which then opens
 * its control stream and writes ctrl[0..nctrl) on it (the stream type included; NULL: a control
 * stream with an empty SETTINGS frame). */
static void start_ctrl(int tool_server, const uint8_t *ctrl, size_t nctrl)
{
    static const char *alpn[] = {"h3"};
    memset(&R, 0, sizeof(R));
    for (size_t i = 0; i < sizeof(BODY); i++)
        BODY[i] = (uint8_t)(i * 131 + (i >> 9) * 7 + 3);
    memset(&S, 0, sizeof(S));
    S.is_server = tool_server;
    S.respond = 1;
    S.last_data_sid = -1;
    R.ctrl = -1;
    assert_int_equal(pair_init(&P, 77), 0);
    assert_int_equal(pair_set_alpn(&P, alpn, 1), 0);
    if (tool_server) {
        P.server_cb = &tool_cb;
        P.server_ud = &S;
        P.client_cb = &raw_cb;
        P.client_ud = &R;
    } else {
        P.server_cb = &raw_cb;
        P.server_ud = &R;
        P.client_cb = &tool_cb;
        P.client_ud = &S;
    }
    assert_true(pair_run(&P, cond_ready, 5 * SEC));
    settle();
    assert_int_equal(tern_conn_open_stream(R.c, 0, &R.ctrl), 0);
    if (ctrl) {
        raw_write(R.ctrl, ctrl, nctrl, 0);
    } else {
        static const uint8_t empty[] = {S_CONTROL, F_SETTINGS, 0x00};
        raw_write(R.ctrl, empty, sizeof(empty), 0);
    }
    settle();
}

static void start(int tool_server)
{
    start_ctrl(tool_server, NULL, 0);
}

static void start_bb(int tool_server, bb *ctrl)
{
    start_ctrl(tool_server, ctrl->d, ctrl->n);
    bb_free(ctrl);
}

static void finish(void)
{
    tool_h3_free(S.h);
    S.h = NULL;
    pair_free(&P);
    for (int i = 0; i < R.n; i++)
        free(R.st[i].buf);
    R.n = 0;
}

static int raw_closing(void)
{
    return !R.c || tern_conn_state(R.c) >= TERN_CS_CLOSING;
}

/* The application error code the tool side closed the connection with, as the raw side got it;
 * -1 while the connection is open; -2 when it ended otherwise. */
static long long close_code(void)
{
    if (!raw_closing())
        return -1;
    const tern_close_info *ci = tern_conn_close_info(R.c);
    if (ci->local || !ci->app)
        return -2;
    return (long long)ci->error_code;
}

/* Writes data[0..n) on `sid` (and FIN after it when `fin`), running the pair while tern's buffer
 * is full; stops early when the connection closes. */
static void raw_write(int64_t sid, const void *data, size_t n, int fin)
{
    const uint8_t *d = data;
    size_t off = 0;
    for (int guard = 0; guard < 100000 && !raw_closing(); guard++) {
        if (off < n) {
            ssize_t w = tern_stream_write(R.c, sid, d + off, n - off, 0);
            if (w > 0)
                off += (size_t)w;
            else if (w != TERN_ERR_WOULD_BLOCK)
                fail_msg("tern_stream_write(%lld): %zd", (long long)sid, w);
        }
        if (off == n) {
            if (fin)
                assert_int_equal(tern_stream_write(R.c, sid, NULL, 0, 1), 0);
            return;
        }
        pair_run(&P, never, 5 * MS);
    }
}

static void raw_write_bb(int64_t sid, bb *b, int fin)
{
    raw_write(sid, b->d, b->n, fin);
    bb_free(b);
    settle();
}

/* Each byte in its own packet: written alone, delivered before the next is written. */
static void raw_write_bytewise(int64_t sid, const uint8_t *d, size_t n, int fin)
{
    for (size_t i = 0; i < n && !raw_closing(); i++) {
        assert_int_equal(tern_stream_write(R.c, sid, d + i, 1, fin && i + 1 == n), 1);
        pair_run(&P, never, 30 * MS);
    }
}

static int64_t raw_open(int bidi)
{
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(R.c, bidi, &sid), 0);
    return sid;
}

/* A unidirectional stream of `type` carrying b (freed). */
static int64_t raw_uni_bb(uint64_t type, bb *b, int fin)
{
    int64_t sid = raw_open(0);
    bb t = {0};
    bb_vi(&t, type);
    if (b)
        bb_raw(&t, b->d, b->n);
    raw_write_bb(sid, &t, fin);
    if (b)
        bb_free(b);
    return sid;
}

static void expect_open(void)
{
    long long code = close_code();
    if (code != -1)
        fail_msg("connection closed (code 0x%llx), expected open; log: %s", code, S.log);
    assert_false(S.h->failed);
}

static void expect_close(uint64_t code)
{
    settle();
    long long got = close_code();
    if (got != (long long)code)
        fail_msg("close code 0x%llx (-1: open), expected 0x%llx; log: %s", got,
                 (unsigned long long)code, S.log);
    assert_true(S.h->failed);
}

/* The layer reset stream `sid` with `code`, and asked the raw side to stop sending with it (when
 * `stop`: the raw side had not finished its sending side). The connection stays open. */
static void expect_stream_error(int64_t sid, uint64_t code, int stop)
{
    settle();
    rstream *s = rs_find(sid);
    if (!s || !s->reset || s->reset_code != code)
        fail_msg("stream %lld: reset %d code 0x%llx, expected 0x%llx; log: %s", (long long)sid,
                 s ? s->reset : 0, s ? (unsigned long long)s->reset_code : 0ull,
                 (unsigned long long)code, S.log);
    if (stop) {
        assert_true(s->stopped);
        assert_int_equal(s->stop_code, code);
    } else if (s->stopped) {
        assert_int_equal(s->stop_code, code);
    }
    expect_open();
}

static int log_has(const char *what)
{
    return strstr(S.log, what) != NULL;
}

/* The log holds `what` (printed when it does not). */
static void want_log(const char *what)
{
    if (!log_has(what))
        fail_msg("log lacks '%s': %s", what, S.log);
}

static void want_no_log(const char *what)
{
    if (log_has(what))
        fail_msg("log has '%s': %s", what, S.log);
}

static void expect_log(const char *want)
{
    if (strcmp(S.log, want) != 0)
        fail_msg("log\n  got:  %s\n  want: %s", S.log, want);
}

/* ---- reading what the tool side sent ------------------------------------------------------ */

static size_t get_vi(const uint8_t *d, size_t n, uint64_t *v)
{
    if (!n)
        return 0;
    size_t len = (size_t)1 << (d[0] >> 6);
    if (n < len)
        return 0;
    uint64_t x = d[0] & 0x3f;
    for (size_t i = 1; i < len; i++)
        x = x << 8 | d[i];
    *v = x;
    return len;
}

typedef struct pframe {
    uint64_t type, len;
    const uint8_t *pl;
} pframe;

/* The frame at d[*off..n): 1 and *off past it, or 0 at the end or before a truncated frame. */
static int next_frame(const uint8_t *d, size_t n, size_t *off, pframe *f)
{
    size_t a = get_vi(d + *off, n - *off, &f->type);
    if (!a)
        return 0;
    size_t b = get_vi(d + *off + a, n - *off - a, &f->len);
    if (!b || f->len > n - *off - a - b)
        return 0;
    f->pl = d + *off + a + b;
    *off += a + b + f->len;
    return 1;
}

static int dec_field(void *ud, const tool_qpack_field *f)
{
    bb *out = ud;
    bb_raw(out, f->name, f->namelen);
    bb_byte(out, '=');
    bb_raw(out, f->value, f->valuelen);
    bb_byte(out, ' ');
    return 0;
}

/* A response (or request) stream as the raw side got it: the fields of every HEADERS frame (as
 * "name=value ", sections separated by "| ") and the DATA payloads; other frame types are
 * counted in *other. Returns 0 when every frame parsed. */
static int parse_msg(const rstream *s, bb *fields, bb *body, int *other)
{
    size_t off = 0;
    pframe f;
    uint8_t scratch[4096];
    *other = 0;
    while (next_frame(s->buf, s->len, &off, &f)) {
        if (f.type == F_HEADERS) {
            if (fields->n)
                bb_raw(fields, "| ", 2);
            if (tool_qpack_decode(f.pl, f.len, scratch, sizeof(scratch), UINT64_MAX, dec_field,
                                  fields))
                return -1;
        } else if (f.type == F_DATA) {
            bb_raw(body, f.pl, f.len);
        } else {
            (*other)++;
        }
    }
    bb_byte(fields, 0);
    return off == s->len ? 0 : -1;
}

/* The tool side's response on `sid` is complete (FIN), :status `status`, body body[0..n). */
static void expect_response(int64_t sid, const char *status, const uint8_t *body, size_t n)
{
    rstream *s = rs_find(sid);
    if (!s)
        fail_msg("no response on stream %lld; log: %s", (long long)sid, S.log);
    assert_true(s->fin);
    assert_false(s->reset);
    bb fields = {0}, got = {0};
    int other;
    assert_int_equal(parse_msg(s, &fields, &got, &other), 0);
    char want[64];
    snprintf(want, sizeof(want), ":status=%s ", status);
    if (strcmp((char *)fields.d, want) != 0)
        fail_msg("response fields '%s', expected '%s'", (char *)fields.d, want);
    assert_int_equal(got.n, n);
    uint8_t h1[32], h2[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, got.d, got.n, h1);
    gnutls_hash_fast(GNUTLS_DIG_SHA256, body, n, h2);
    assert_memory_equal(h1, h2, 32);
    bb_free(&fields);
    bb_free(&got);
}

/* A request on a new bidirectional stream: b (freed), FIN when `fin`. */
static int64_t request_bb(bb *b, int fin)
{
    int64_t sid = raw_open(1);
    raw_write_bb(sid, b, fin);
    return sid;
}

static int64_t request_get(void)
{
    bb b = {0};
    bb_get(&b);
    return request_bb(&b, 1);
}

static int64_t request_fields(const fld *f, size_t n, int fin)
{
    bb b = {0};
    bb_headers(&b, f, n);
    return request_bb(&b, fin);
}

/* ---- server: requests served -------------------------------------------------------------- */

/* A GET of static references, FIN: the tool sees it field by field, answers, and the raw side
 * gets :status 200 and FIN; nothing fails. */
static void test_get_served(void **state)
{
    (void)state;
    start(1);
    int64_t sid = request_get();
    assert_int_equal(sid, 0);
    expect_open();
    expect_log("B0 H0 :method=GET H0 :scheme=https H0 :authority=example.com H0 :path=/ E0f F0 "
               "C0=100 ");
    expect_response(0, "200", NULL, 0);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

/* The layer's own control stream: its first frame SETTINGS with SETTINGS_MAX_FIELD_SECTION_SIZE
 * 16384, QPACK capacity and blocked streams 0 if present, exactly one reserved identifier
 * (0x1f * N + 0x21) and nothing else; no other unidirectional stream (no QPACK streams). */
static void check_settings_sent(int64_t ctrl_sid)
{
    settle();
    rstream *s = rs_find(ctrl_sid);
    assert_non_null(s);
    assert_false(s->fin);
    assert_true(s->len >= 1);
    assert_int_equal(s->buf[0], S_CONTROL);
    size_t off = 1;
    pframe f;
    assert_true(next_frame(s->buf, s->len, &off, &f));
    assert_int_equal(f.type, F_SETTINGS);
    int field_size = 0, grease = 0;
    for (size_t i = 0; i < f.len;) {
        uint64_t id = 0, v = 0;
        size_t a = get_vi(f.pl + i, f.len - i, &id);
        assert_true(a > 0);
        size_t b = get_vi(f.pl + i + a, f.len - i - a, &v);
        assert_true(b > 0);
        i += a + b;
        if (id == 0x06) {
            assert_int_equal(v, TOOL_H3_MAX_FIELD_SECTION);
            field_size++;
        } else if (id == 0x01 || id == 0x07) {
            assert_int_equal(v, 0);
        } else if (id >= 0x21 && (id - 0x21) % 0x1f == 0) {
            grease++;
        } else {
            fail_msg("setting 0x%llx sent", (unsigned long long)id);
        }
    }
    assert_int_equal(field_size, 1);
    assert_int_equal(grease, 1);
    for (int i = 0; i < R.n; i++)
        if ((R.st[i].sid & 2) && R.st[i].sid != ctrl_sid && R.st[i].sid != R.ctrl)
            fail_msg("the layer opened unidirectional stream %lld", (long long)R.st[i].sid);
}

static void test_settings_sent_server(void **state)
{
    (void)state;
    start(1);
    check_settings_sent(3);
    expect_open();
    finish();
}

static void test_settings_sent_client(void **state)
{
    (void)state;
    start(0);
    check_settings_sent(2);
    expect_open();
    finish();
}

/* POST with content-length 5 and its body in two DATA frames with unknown frames between. */
static void test_post_body(void **state)
{
    (void)state;
    start(1);
    static const fld f[] = {F(":method", "POST"), F(":scheme", "https"),
                            F(":authority", "example.com"), F(":path", "/up"),
                            F("content-length", "5")};
    bb b = {0};
    bb_frame(&b, F_GREASE, "zz", 2);
    bb_headers(&b, f, 5);
    bb_frame(&b, F_DATA, "he", 2);
    bb_frame(&b, F_GREASE_BIG, "", 0);
    bb_frame(&b, F_DATA, "", 0);
    bb_frame(&b, F_DATA, "llo", 3);
    bb_frame(&b, F_GREASE, "x", 1);
    int64_t sid = request_bb(&b, 1);
    expect_open();
    expect_log("B0 H0 :method=POST H0 :scheme=https H0 :authority=example.com H0 :path=/up "
               "H0 content-length=5 E0 D0 F0 C0=100 ");
    tstream *t = ts_get(sid);
    assert_int_equal(t->btotal, 5);
    assert_memory_equal(t->body, "hello", 5);
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* Trailers are checked, not reported; the message ends well. */
static void test_trailers_accepted(void **state)
{
    (void)state;
    start(1);
    static const fld f[] = {REQ_GET};
    static const fld tr[] = {F("x-checksum", "abc")};
    bb b = {0};
    bb_headers(&b, f, 4);
    bb_frame(&b, F_DATA, "body", 4);
    bb_headers(&b, tr, 1);
    bb_frame(&b, F_GREASE, "after", 5);
    request_bb(&b, 1);
    expect_open();
    expect_log("B0 H0 :method=GET H0 :scheme=https H0 :authority=example.com H0 :path=/ E0 D0 "
               "F0 C0=100 ");
    expect_response(0, "200", NULL, 0);
    finish();
}

/* Every byte of the control stream and of a request in its own packet (so every varint and every
 * frame is split at every position): the same outcome as in one piece. */
static void test_split_every_byte(void **state)
{
    (void)state;
    start_ctrl(1, (const uint8_t *)"", 0); /* the control stream opened, nothing on it yet */
    bb c = {0};
    bb_byte(&c, S_CONTROL);
    bb s = {0};
    bb_vi(&s, 0x06);
    bb_vi(&s, 16384);
    bb_vi(&s, 0x21 + 0x1f * 7);
    bb_vi_n(&s, 5, 8);
    bb_frame(&c, F_SETTINGS, s.d, s.n);
    bb_free(&s);
    bb_frame(&c, F_GREASE_BIG, "grease", 6);
    raw_write_bytewise(R.ctrl, c.d, c.n, 0);
    bb_free(&c);
    static const fld f[] = {F(":method", "POST"), F(":scheme", "https"),
                            F(":authority", "example.com"), F(":path", "/split"),
                            F("content-length", "300")};
    static const fld tr[] = {F("x-t", "1")};
    bb r = {0};
    bb_headers(&r, f, 5);
    bb_frame(&r, F_GREASE, "g", 1);
    bb_frame(&r, F_DATA, BODY, 200); /* a 2-octet length */
    bb_frame(&r, F_DATA, BODY + 200, 100);
    bb_headers(&r, tr, 1);
    int64_t sid = raw_open(1);
    raw_write_bytewise(sid, r.d, r.n, 1);
    bb_free(&r);
    settle();
    expect_open();
    const char *head = "B0 H0 :method=POST H0 :scheme=https H0 :authority=example.com "
                       "H0 :path=/split H0 content-length=300 E0 D0 F0 C0=100 ";
    expect_log(head);
    tstream *t = ts_get(sid);
    assert_int_equal(t->btotal, 300);
    assert_memory_equal(t->body, BODY, 300);
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* A length on 8 octets where 1 would do is still the same length (RFC 9000 §16). */
static void test_long_varint_length(void **state)
{
    (void)state;
    start(1);
    bb s = {0};
    bb_hex(&s, "0000 d1 d7 50 01 61 c1");
    bb b = {0};
    bb_vi(&b, F_HEADERS);
    bb_vi_n(&b, s.n, 8);
    bb_raw(&b, s.d, s.n);
    bb_free(&s);
    request_bb(&b, 1);
    expect_open();
    want_log("E0f F0 ");
    finish();
}

/* A 200 KB body: DATA frames that the raw side reassembles byte for byte. */
/* Twenty requests at once, their frames interleaved across streams, each with its own body: every
 * callback goes to the right stream and every response comes back whole. */
static void concurrent_requests(int lossy)
{
    start(1);
    if (lossy) {
        P.c2s.loss = P.s2c.loss = 0.05;
        P.c2s.reorder = P.s2c.reorder = 0.1;
        P.c2s.reorder_ns = P.s2c.reorder_ns = 20 * MS;
    }
    S.resp_len = 20000;
    enum { N = 20 };
    int64_t sid[N];
    bb part[N][3];
    memset(part, 0, sizeof(part));
    for (int i = 0; i < N; i++) {
        char path[16], cl[16];
        snprintf(path, sizeof(path), "/r%d", i);
        snprintf(cl, sizeof(cl), "%d", 1000 + i);
        fld f[] = {F(":method", "POST"),
                   F(":scheme", "https"),
                   F(":authority", "a"),
                   {":path", 5, path, strlen(path)},
                   {"content-length", 14, cl, strlen(cl)}};
        bb_headers(&part[i][0], f, 5);
        bb_frame(&part[i][1], F_DATA, BODY + i, 600);
        bb_frame(&part[i][2], F_DATA, BODY + i + 600, 400 + (size_t)i);
        sid[i] = raw_open(1);
    }
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < N; i++) {
            raw_write(sid[i], part[i][k].d, part[i][k].n, k == 2);
            bb_free(&part[i][k]);
            if (i % 7 == 0)
                pair_run(&P, never, 3 * MS);
        }
    pair_run(&P, never, lossy ? 20 * SEC : 3 * SEC);
    expect_open();
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof(want), "H%lld :path=/r%d ", (long long)sid[i], i);
        want_log(want);
        snprintf(want, sizeof(want), "F%lld ", (long long)sid[i]);
        want_log(want);
        snprintf(want, sizeof(want), "C%lld=100 ", (long long)sid[i]);
        want_log(want);
        tstream *t = ts_get(sid[i]);
        assert_int_equal(t->btotal, 1000 + i);
        assert_int_equal(t->bhash, fnv(0xcbf29ce484222325ull, BODY + i, 1000 + (size_t)i));
        expect_response(sid[i], "200", BODY, 20000);
    }
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

static void test_concurrent_requests(void **state)
{
    (void)state;
    concurrent_requests(0);
}

/* The same on a link that loses 5% of the datagrams and reorders 10%. */
static void test_concurrent_requests_lossy(void **state)
{
    (void)state;
    concurrent_requests(1);
}

/* A 300 KB request body passes through recv_data in order. */
static void test_large_request_body(void **state)
{
    (void)state;
    start(1);
    fld f[] = {F(":method", "PUT"), F(":scheme", "https"), F(":authority", "a"), F(":path", "/")};
    bb b = {0};
    bb_headers(&b, f, 4);
    for (size_t off = 0; off < 300 * 1024; off += 30 * 1024)
        bb_frame(&b, F_DATA, BODY + off / 3, 30 * 1024);
    int64_t sid = raw_open(1);
    raw_write(sid, b.d, b.n, 1);
    bb_free(&b);
    pair_run(&P, never, 2 * SEC);
    expect_open();
    tstream *t = ts_get(sid);
    assert_int_equal(t->btotal, 300 * 1024);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t off = 0; off < 300 * 1024; off += 30 * 1024)
        h = fnv(h, BODY + off / 3, 30 * 1024);
    assert_int_equal(t->bhash, h);
    want_log("D0 F0 C0=100 ");
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* The peer resets its request mid-body: the close reports the peer's code; the peer asks the
 * server to stop sending its response: the stream closes, the connection serves on. */
static void test_peer_abandons(void **state)
{
    (void)state;
    start(1);
    fld f[] = {F(":method", "PUT"), F(":scheme", "https"), F(":authority", "a"), F(":path", "/")};
    bb b = {0};
    bb_headers(&b, f, 4);
    bb_frame(&b, F_DATA, BODY, 100);
    int64_t sid = request_bb(&b, 0);
    tern_stream_reset(R.c, sid, TOOL_H3_REQUEST_CANCELLED);
    settle();
    expect_open();
    want_log("C0=10c ");
    want_no_log("F0 ");
    assert_int_equal(tool_h3_open_streams(S.h), 0);

    S.resp_len = 200 * 1024;
    S.resp_wouldblock = 1; /* the response waits: the STOP_SENDING comes before its end */
    sid = request_get();
    tern_stream_stop_sending(R.c, sid, TOOL_H3_REQUEST_CANCELLED);
    settle();
    S.resp_release = 1;
    tool_h3_resume_stream(S.h, sid);
    tool_h3_flush(S.h);
    pair_run(&P, never, 2 * SEC);
    expect_open();
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->reset);
    char want[16];
    snprintf(want, sizeof(want), "C%lld=", (long long)sid);
    want_log(want);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    int64_t next = request_get();
    pair_run(&P, never, 2 * SEC);
    expect_response(next, "200", BODY, 200 * 1024);
    finish();
}

/* Stream types on several octets, written one octet per packet. */
static void test_uni_types_split(void **state)
{
    (void)state;
    start(1);
    int64_t unk = raw_open(0), enc = raw_open(0);
    static const uint8_t u[] = {0xbf, 0xff, 0xff, 0xff}; /* then STOP_SENDING */
    static const uint8_t e[] = {0x40, 0x02, 0x20};
    raw_write_bytewise(unk, u, sizeof(u), 0);
    raw_write_bytewise(enc, e, sizeof(e), 0);
    settle();
    expect_open();
    rstream *s = rs_find(unk);
    assert_non_null(s);
    assert_true(s->stopped);
    assert_int_equal(s->stop_code, TOOL_H3_STREAM_CREATION_ERROR);
    /* the 2-octet type 0x0002 is the encoder stream: a second one is an error */
    raw_uni_bb(S_ENCODER, NULL, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
}

static void test_large_response(void **state)
{
    (void)state;
    start(1);
    S.resp_len = 200 * 1024;
    int64_t sid = request_get();
    pair_run(&P, never, 2 * SEC);
    expect_open();
    expect_response(sid, "200", BODY, 200 * 1024);
    want_log("C0=100 ");
    assert_int_equal(S.acked, 200 * 1024);
    finish();
}

/* Body memory handed to tern by reference (tool_h3.by_ref): the body arrives intact, every
 * reference taken is released once, the last after tern has no more use for it. */
static void ref_release(void *ud, const void *data, size_t len)
{
    (void)ud;
    assert_true((const uint8_t *)data >= BODY &&
                (const uint8_t *)data + len <= BODY + sizeof(BODY));
    S.ref_released += len;
    S.ref_releases++;
}

static int ref_take(void *app, int64_t sid, const uint8_t *base, size_t len,
                    tern_release_fn *release, void **rud)
{
    (void)sid;
    (void)base;
    assert_ptr_equal(app, &S);
    S.ref_taken += len;
    S.ref_takes++;
    *release = ref_release;
    *rud = &S;
    return 1;
}

static void test_response_by_reference(void **state)
{
    (void)state;
    start(1);
    S.h->by_ref = ref_take;
    S.resp_len = 150 * 1024 + 7;
    int64_t sid = request_get();
    pair_run(&P, never, 2 * SEC);
    expect_open();
    expect_response(sid, "200", BODY, 150 * 1024 + 7);
    assert_int_equal(S.ref_taken, 150 * 1024 + 7);
    assert_true(S.ref_takes > 0);
    assert_int_equal(S.ref_releases, S.ref_takes);
    assert_int_equal(S.ref_released, S.ref_taken);
    assert_int_equal(S.acked, 150 * 1024 + 7);
    finish();
}

/* A 3 MB body, three times what tern buffers per stream: the layer waits for on_writable. */
static void test_response_beyond_send_buffer(void **state)
{
    (void)state;
    start(1);
    size_t n = 3 * 1024 * 1024;
    S.resp_len = n;
    int64_t sid = request_get();
    pair_run(&P, never, 5 * SEC);
    expect_open();
    uint8_t *want = malloc(n);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++)
        want[i] = BODY[i % sizeof(BODY)];
    expect_response(sid, "200", want, n);
    free(want);
    assert_int_equal(S.acked, n);
    want_log("C0=100 ");
    finish();
}

/* read_data with nothing yet: the body follows tool_h3_resume_stream. */
static void test_response_resumed(void **state)
{
    (void)state;
    start(1);
    S.resp_len = 3000;
    S.resp_wouldblock = 1;
    int64_t sid = request_get();
    rstream *s = rs_find(sid);
    assert_true(ts_get(sid)->blocked > 0);
    assert_true(!s || !s->fin);
    S.resp_release = 1;
    tool_h3_resume_stream(S.h, sid);
    tool_h3_flush(S.h);
    settle();
    expect_open();
    expect_response(sid, "200", BODY, 3000);
    finish();
}

/* read_data failing: the response stream is reset with H3_INTERNAL_ERROR. */
static void test_response_read_fails(void **state)
{
    (void)state;
    start(1);
    S.resp_len = 1000;
    S.resp_fail = 1;
    int64_t sid = request_get();
    expect_stream_error(sid, TOOL_H3_INTERNAL_ERROR, 0);
    want_log("C0=102 ");
    finish();
}

/* A callback's nonzero answer fails the connection with H3_INTERNAL_ERROR. */
static void test_callback_fails(void **state)
{
    (void)state;
    start(1);
    S.fail_header = 1;
    request_get();
    expect_close(TOOL_H3_INTERNAL_ERROR);
    finish();
}

/* tool_h3_abort_stream: RESET_STREAM with the tool's code; the close once the peer's side ended. */
static void test_abort_stream(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_get(&b);
    int64_t sid = request_bb(&b, 0);
    want_log("E0 ");
    tool_h3_abort_stream(S.h, sid, TOOL_H3_REQUEST_CANCELLED);
    tool_h3_flush(S.h);
    settle();
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->reset);
    assert_int_equal(s->reset_code, TOOL_H3_REQUEST_CANCELLED);
    raw_write(sid, NULL, 0, 1);
    settle();
    want_log("C0=10c ");
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    expect_open();
    finish();
}

/* The client's SETTINGS_MAX_FIELD_SECTION_SIZE bounds the response submit_response sends. */
static void test_server_peer_field_limit(void **state)
{
    (void)state;
    bb c = {0};
    bb_hex(&c, "00 0402 06 2a"); /* 42: :status 200 fits, one more field does not */
    start_bb(1, &c);
    S.respond = 0;
    int64_t a = request_get(), b = request_get();
    static const tool_qpack_field big[] = {QF(":status", "200"), QF("x", "")};
    assert_int_equal(tool_h3_submit_response(S.h, a, big, 2, 0), -1);
    assert_int_equal(tool_h3_submit_response(S.h, b, big, 1, 0), 0);
    tool_h3_flush(S.h);
    settle();
    expect_response(b, "200", NULL, 0);
    expect_open();
    finish();
}

/* The user data attached in begin_headers reaches every later callback of the stream, the
 * request's body and the response's read_data included; a second response is refused. */
static void test_stream_user_data(void **state)
{
    (void)state;
    start(1);
    S.set_ud = 1;
    S.respond = 0;
    S.resp_len = 5000;
    static const fld f[] = {F(":method", "POST"), F(":scheme", "https"), F(":authority", "a"),
                            F(":path", "/")};
    bb b = {0};
    bb_headers(&b, f, 4);
    bb_frame(&b, F_DATA, "abc", 3);
    int64_t sid = request_bb(&b, 1);
    static const tool_qpack_field status = QF(":status", "200");
    assert_int_equal(tool_h3_submit_response(S.h, sid, &status, 1, 1), 0);
    assert_int_equal(tool_h3_submit_response(S.h, sid, &status, 1, 0), -1);
    assert_int_equal(tool_h3_submit_response(S.h, sid + 4, &status, 1, 0), -1);
    tool_h3_flush(S.h);
    settle();
    expect_open();
    want_no_log("!");
    expect_log("B0 H0 :method=POST H0 :scheme=https H0 :authority=a H0 :path=/ E0 D0 F0 C0=100 ");
    expect_response(sid, "200", BODY, 5000);
    assert_int_equal(tool_h3_set_stream_user_data(S.h, sid, NULL), -1); /* its record is gone */
    finish();
}

/* ---- field section size ------------------------------------------------------------------- */

/* The Huffman code (RFC 7541 Appendix B) of "0" + n tabs + "0": '0' is 00000, a tab is the 24-bit
 * 0xffffea, the end is padded with ones. The string is three times as long coded as decoded, so
 * that a section can take 16384 encoded octets and stay within 16384 decoded ones. */
static void bb_huff_tabs(bb *b, size_t n)
{
    uint64_t acc = 0;
    int bits = 5;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 24 | 0xffffea;
        bits += 24;
        while (bits >= 8) {
            bb_byte(b, (uint8_t)(acc >> (bits - 8)));
            bits -= 8;
        }
        acc &= ((uint64_t)1 << bits) - 1;
    }
    acc <<= 5;
    bits += 5;
    while (bits >= 8) {
        bb_byte(b, (uint8_t)(acc >> (bits - 8)));
        bits -= 8;
    }
    if (bits)
        bb_byte(b, (uint8_t)((acc << (8 - bits)) | (0xff >> bits)));
}

/* A request whose HEADERS payload is exactly `size` octets (from 1000 up): static references,
 * a Huffman-coded field of tabs and a literal padding field. */
static void bb_sized_headers(bb *b, size_t size)
{
    bb s = {0};
    bb_hex(&s, "0000 d1 d7 50 01 61 c1");
    bb_qint(&s, 0x20, 3, 5);
    bb_raw(&s, "x-tab", 5);
    bb h = {0};
    bb_huff_tabs(&h, 200);
    assert_int_equal(h.n, 602);
    bb_qint(&s, 0x80, 7, h.n);
    bb_raw(&s, h.d, h.n);
    bb_free(&h);
    bb_qint(&s, 0x20, 3, 5);
    bb_raw(&s, "x-pad", 5);
    size_t pad = size - s.n - 3; /* its length takes 3 octets from 255 up to 16510 */
    bb_qint(&s, 0x00, 7, pad);
    for (size_t i = 0; i < pad; i++)
        bb_byte(&s, 'a');
    assert_int_equal(s.n, size);
    bb_frame(b, F_HEADERS, s.d, s.n);
    bb_free(&s);
}

static void test_headers_16384_accepted(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_sized_headers(&b, 16384);
    request_bb(&b, 1);
    expect_open();
    want_log("H0 x-pad=aaaa");
    want_log("E0f F0 C0=100 ");
    expect_response(0, "200", NULL, 0);
    finish();
}

static void test_headers_16385_rejected(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_sized_headers(&b, 16385);
    request_bb(&b, 1);
    expect_stream_error(0, TOOL_H3_EXCESSIVE_LOAD, 1);
    want_no_log("H0 ");
    finish();
}

/* Decided from the length alone: the payload never arrives. */
static void test_headers_oversize_decided_early(void **state)
{
    (void)state;
    start(1);
    bb b = {0};
    bb_vi(&b, F_HEADERS);
    bb_vi(&b, 1u << 20);
    bb_hex(&b, "0000 d1");
    request_bb(&b, 0);
    expect_stream_error(0, TOOL_H3_EXCESSIVE_LOAD, 1);
    want_no_log("H0 ");
    finish();
}

/* ---- content-length ----------------------------------------------------------------------- */

static int64_t post_cl(const char *cl, const char *cl2, const char *body, size_t n, int fin)
{
    fld f[6] = {F(":method", "POST"),
                F(":scheme", "https"),
                F(":authority", "a"),
                F(":path", "/"),
                {"content-length", 14, cl, strlen(cl)},
                {"content-length", 14, cl2, cl2 ? strlen(cl2) : 0}};
    bb b = {0};
    bb_headers(&b, f, cl2 ? 6 : 5);
    if (n)
        bb_frame(&b, F_DATA, body, n);
    return request_bb(&b, fin);
}

static void test_content_length_match(void **state)
{
    (void)state;
    start(1);
    post_cl("4", "4", "abcd", 4, 1); /* twice the same value is one value */
    expect_open();
    want_log("D0 F0 ");
    expect_response(0, "200", NULL, 0);
    finish();
}

static void test_content_length_over(void **state)
{
    (void)state;
    start(1);
    post_cl("3", NULL, "abcd", 4, 0);
    expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
    want_log("C0=10e ");
    want_no_log("F0 ");
    finish();
}

static void test_content_length_under(void **state)
{
    (void)state;
    start(1);
    post_cl("10", NULL, "abcd", 4, 1);
    expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 0);
    want_log("C0=10e ");
    want_no_log("F0 ");
    finish();
}

static void test_content_length_two_values(void **state)
{
    (void)state;
    start(1);
    post_cl("4", "5", "abcd", 4, 0);
    expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
    finish();
}

static void test_content_length_not_digits(void **state)
{
    (void)state;
    static const char *bad[] = {"4a", "", "-1", " 4", "0x4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        start(1);
        post_cl(bad[i], NULL, "abcd", 4, 0);
        expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
        finish();
    }
}

/* ---- malformed requests (RFC 9114 §4.1.2, §4.2, §4.3.1) ----------------------------------- */

#define CASE(name, ...)                                                                            \
    {                                                                                              \
        name, (const fld[]){__VA_ARGS__}, sizeof((const fld[]){__VA_ARGS__}) / sizeof(fld)         \
    }

typedef struct mcase {
    const char *name;
    const fld *f;
    size_t n;
} mcase;

static const mcase malformed[] = {
    CASE("uppercase name", REQ_GET, F("X-Foo", "1")),
    CASE("space in name", REQ_GET, F("x foo", "1")),
    CASE("colon in name", REQ_GET, F("x:foo", "1")),
    CASE("control byte in name", REQ_GET,
         F("x\x01"
           "foo",
           "1")),
    CASE("empty name", REQ_GET, F("", "1")),
    CASE("uppercase pseudo", F(":Method", "GET"), F(":scheme", "https"),
         F(":authority", "example.com"), F(":path", "/")),
    CASE("NUL in value", REQ_GET, F("x-foo", "a\0b")),
    CASE("CR in value", REQ_GET, F("x-foo", "a\rb")),
    CASE("LF in value", REQ_GET, F("x-foo", "a\nb")),
    CASE("leading space", REQ_GET, F("x-foo", " a")),
    CASE("trailing space", REQ_GET, F("x-foo", "a ")),
    CASE("leading tab", REQ_GET, F("x-foo", "\ta")),
    CASE("trailing tab", REQ_GET, F("x-foo", "a\t")),
    CASE("pseudo after regular", F(":method", "GET"), F(":scheme", "https"), F("x-foo", "1"),
         F(":authority", "example.com"), F(":path", "/")),
    CASE("undefined pseudo", REQ_GET, F(":foo", "1")),
    CASE(":status in request", REQ_GET, F(":status", "200")),
    CASE(":protocol", F(":method", "CONNECT"), F(":protocol", "websocket"), F(":scheme", "https"),
         F(":authority", "example.com"), F(":path", "/")),
    CASE("two :path", REQ_GET, F(":path", "/x")),
    CASE("two :method", REQ_GET, F(":method", "GET")),
    CASE("no :method", F(":scheme", "https"), F(":authority", "example.com"), F(":path", "/")),
    CASE("no :scheme", F(":method", "GET"), F(":authority", "example.com"), F(":path", "/")),
    CASE("no :path", F(":method", "GET"), F(":scheme", "https"), F(":authority", "example.com")),
    CASE("empty :path", F(":method", "GET"), F(":scheme", "https"), F(":authority", "example.com"),
         F(":path", "")),
    CASE("CONNECT with :scheme", F(":method", "CONNECT"), F(":scheme", "https"),
         F(":authority", "example.com:443")),
    CASE("CONNECT with :path", F(":method", "CONNECT"), F(":authority", "example.com:443"),
         F(":path", "/")),
    CASE("CONNECT without :authority", F(":method", "CONNECT")),
    CASE("connection", REQ_GET, F("connection", "close")),
    CASE("keep-alive", REQ_GET, F("keep-alive", "5")),
    CASE("proxy-connection", REQ_GET, F("proxy-connection", "close")),
    CASE("transfer-encoding", REQ_GET, F("transfer-encoding", "chunked")),
    CASE("upgrade", REQ_GET, F("upgrade", "h2c")),
    CASE("te other than trailers", REQ_GET, F("te", "gzip")),
    /* RFC 9114 §4.3.1: an https request names its authority in :authority or host, neither
     * empty, the same in both */
    CASE("https without :authority or host", F(":method", "GET"), F(":scheme", "https"),
         F(":path", "/")),
    CASE("empty :authority", F(":method", "GET"), F(":scheme", "https"), F(":authority", ""),
         F(":path", "/")),
    CASE("empty host", F(":method", "GET"), F(":scheme", "https"), F(":path", "/"), F("host", "")),
    CASE(":authority and host differ", REQ_GET, F("host", "other.example")),
    CASE("two different host values", F(":method", "GET"), F(":scheme", "https"), F(":path", "/"),
         F("host", "example.com"), F("host", "example.org")),
    CASE("empty :authority of CONNECT", F(":method", "CONNECT"), F(":authority", "")),
};

/* Each malformed section, without FIN: the stream is reset and stopped with H3_MESSAGE_ERROR,
 * the tool learns it in stream_close and never sees end_headers; the connection lives on and
 * serves the next request. */
static void test_malformed_requests(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        start(1);
        int64_t sid = request_fields(malformed[i].f, malformed[i].n, 0);
        settle();
        rstream *s = rs_find(sid);
        if (!s || !s->reset || s->reset_code != TOOL_H3_MESSAGE_ERROR || !s->stopped ||
            s->stop_code != TOOL_H3_MESSAGE_ERROR || close_code() != -1 || log_has("E0") ||
            !log_has("C0=10e ")) {
            fprintf(stderr,
                    "malformed request '%s' not refused: reset %d 0x%llx stop %d 0x%llx "
                    "close 0x%llx; log: %s\n",
                    malformed[i].name, s ? s->reset : 0,
                    s ? (unsigned long long)s->reset_code : 0ull, s ? s->stopped : 0,
                    s ? (unsigned long long)s->stop_code : 0ull, close_code(), S.log);
            failed++;
        } else {
            int64_t next = request_get();
            expect_open();
            expect_response(next, "200", NULL, 0);
        }
        finish();
    }
    assert_int_equal(failed, 0);
}

/* The valid neighbours of the malformed cases. */
static void test_valid_requests(void **state)
{
    (void)state;
    const mcase valid[] = {
        CASE("te trailers", REQ_GET, F("te", "trailers")),
        CASE("CONNECT", F(":method", "CONNECT"), F(":authority", "example.com:443")),
        CASE("tab inside value", REQ_GET, F("x-foo", "a\tb c")),
        CASE("token characters", REQ_GET, F("x-!#$%&'*+-.^_`|~09az", "1")),
        CASE("empty value", REQ_GET, F("x-foo", "")),
        CASE("obs-text value", REQ_GET, F("x-foo", "caf\xc3\xa9")),
        CASE("http scheme", F(":method", "GET"), F(":scheme", "http"),
             F(":authority", "example.com"), F(":path", "/")),
        CASE("host instead of :authority", F(":method", "GET"), F(":scheme", "https"),
             F(":path", "/"), F("host", "example.com")),
        CASE(":authority and the same host", REQ_GET, F("host", "example.com")),
    };
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        start(1);
        int64_t sid = request_fields(valid[i].f, valid[i].n, 1);
        settle();
        if (close_code() != -1 || !log_has("E0f F0 C0=100 "))
            fail_msg("%s: close 0x%llx log %s", valid[i].name, close_code(), S.log);
        expect_response(sid, "200", NULL, 0);
        finish();
    }
}

/* Trailers with a pseudo-header, or a malformed field, make the message malformed. */
static void test_malformed_trailers(void **state)
{
    (void)state;
    static const fld get[] = {REQ_GET};
    static const fld tr1[] = {F(":path", "/")};
    static const fld tr2[] = {F("X-Bad", "1")};
    const fld *trs[] = {tr1, tr2};
    for (int i = 0; i < 2; i++) {
        start(1);
        bb b = {0};
        bb_headers(&b, get, 4);
        bb_frame(&b, F_DATA, "x", 1);
        bb_headers(&b, trs[i], 1);
        request_bb(&b, 0);
        expect_stream_error(0, TOOL_H3_MESSAGE_ERROR, 1);
        want_no_log("F0 ");
        finish();
    }
}

/* A FIN before any HEADERS: H3_REQUEST_INCOMPLETE on the stream. */
static void test_request_incomplete(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        start(1);
        bb b = {0};
        if (i)
            bb_frame(&b, F_GREASE, "abc", 3);
        int64_t sid = raw_open(1);
        if (b.n)
            raw_write_bb(sid, &b, 1);
        else
            raw_write(sid, NULL, 0, 1);
        expect_stream_error(sid, TOOL_H3_REQUEST_INCOMPLETE, 0);
        want_no_log("E0");
        finish();
    }
}

/* ---- frames on a request stream ----------------------------------------------------------- */

static void test_request_frame_errors(void **state)
{
    (void)state;
    static const fld get[] = {REQ_GET};
    static const struct {
        const char *name;
        int headers_first;
        uint64_t type;
        const char *payload_hex;
        uint64_t code;
    } c[] = {
        {"DATA first", 0, F_DATA, "616263", TOOL_H3_FRAME_UNEXPECTED},
        {"SETTINGS", 1, F_SETTINGS, "", TOOL_H3_FRAME_UNEXPECTED},
        {"GOAWAY", 1, F_GOAWAY, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"MAX_PUSH_ID", 1, F_MAX_PUSH_ID, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"CANCEL_PUSH", 1, F_CANCEL_PUSH, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"SETTINGS first", 0, F_SETTINGS, "", TOOL_H3_FRAME_UNEXPECTED},
        {"GOAWAY first", 0, F_GOAWAY, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"PUSH_PROMISE to a server", 1, F_PUSH_PROMISE, "00 0000d1", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY", 1, 0x02, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PING", 1, 0x06, "0000000000000000", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 WINDOW_UPDATE", 1, 0x08, "00000001", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 CONTINUATION", 1, 0x09, "", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY first", 0, 0x02, "00", TOOL_H3_FRAME_UNEXPECTED},
        {"QPACK failure: insert count", 0, F_HEADERS, "0100 d1", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: dynamic ref", 0, F_HEADERS, "0000 81", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: static 99", 0, F_HEADERS, "0000 ff24", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: truncated line", 0, F_HEADERS, "0000 5f", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: post-base", 0, F_HEADERS, "0000 10", TOOL_QPACK_DECOMPRESSION_FAILED},
        {"QPACK failure: empty HEADERS", 0, F_HEADERS, "", TOOL_QPACK_DECOMPRESSION_FAILED},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(1);
        bb b = {0}, pl = {0};
        if (c[i].headers_first)
            bb_headers(&b, get, 4);
        bb_hex(&pl, c[i].payload_hex);
        bb_frame(&b, c[i].type, pl.d, pl.n);
        bb_free(&pl);
        request_bb(&b, 0);
        settle();
        if (close_code() != (long long)c[i].code)
            fail_msg("%s: close 0x%llx, expected 0x%llx; log %s", c[i].name, close_code(),
                     (unsigned long long)c[i].code, S.log);
        assert_true(S.h->failed);
        finish();
    }
}

/* Anything but unknown frames after the trailers. */
static void test_after_trailers(void **state)
{
    (void)state;
    static const fld get[] = {REQ_GET};
    static const fld tr[] = {F("x-t", "1")};
    for (int i = 0; i < 2; i++) {
        start(1);
        bb b = {0};
        bb_headers(&b, get, 4);
        bb_headers(&b, tr, 1);
        if (i)
            bb_headers(&b, tr, 1);
        else
            bb_frame(&b, F_DATA, "x", 1);
        request_bb(&b, 0);
        expect_close(TOOL_H3_FRAME_UNEXPECTED);
        finish();
    }
}

/* A request stream ending inside a frame (its type, its length or its payload). */
static void test_request_truncated(void **state)
{
    (void)state;
    static const char *cut[] = {"01", "01 05", "01 05 0000d1", "00 41", "40"};
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        start(1);
        bb b = {0};
        if (i == 3)
            bb_get(&b);
        bb_hex(&b, cut[i]);
        request_bb(&b, 1);
        settle();
        if (close_code() != TOOL_H3_FRAME_ERROR)
            fail_msg("cut '%s': close 0x%llx; log %s", cut[i], close_code(), S.log);
        finish();
    }
}

/* ---- the peer's control stream ------------------------------------------------------------ */

static void ctrl_case(const char *name, const char *hex, uint64_t code)
{
    bb c = {0};
    bb_hex(&c, hex);
    start_bb(1, &c);
    settle();
    long long got = close_code();
    if (got != (code ? (long long)code : -1))
        fail_msg("%s (%s): close 0x%llx, expected 0x%llx; log %s", name, hex, got,
                 (unsigned long long)code, S.log);
    if (!code) { /* accepted: the connection still serves */
        int64_t sid = request_get();
        expect_open();
        expect_response(sid, "200", NULL, 0);
    }
    finish();
}

static void test_control_stream_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
        uint64_t code;
    } c[] = {
        /* accepted */
        {"empty SETTINGS", "00 0400", 0},
        {"SETTINGS of every kept kind", "00 040b 01 00 06 4400 07 00 08 01 33 01", 0},
        {"unknown and reserved settings", "00 040a 21 05 40ff 01 3e 80000000", 0},
        {"connect protocol 0, datagram 0", "00 0404 08 00 33 00", 0},
        /* the response that follows still references no dynamic table */
        {"peer allows a dynamic table", "00 0406 01 5000 07 4064", 0},
        {"grease frames after SETTINGS", "00 0400 21 03 616263 5f 00 4040 01 00", 0},
        {"PRIORITY_UPDATE", "00 0400 800f0700 04 00 753d31", 0},
        {"MAX_PUSH_ID", "00 0400 0d 01 05", 0},
        {"MAX_PUSH_ID same and larger", "00 0400 0d 01 05 0d 01 05 0d 01 07", 0},
        {"GOAWAY from a client", "00 0400 07 01 05", 0},
        {"GOAWAY same and smaller", "00 0400 07 01 05 07 01 05 07 01 02", 0},
        /* SETTINGS */
        {"setting 0x00", "00 0402 00 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x02", "00 0402 02 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x03", "00 0402 03 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x04", "00 0402 04 00", TOOL_H3_SETTINGS_ERROR},
        {"setting 0x05", "00 0402 05 00", TOOL_H3_SETTINGS_ERROR},
        {"0x06 twice", "00 0404 06 10 06 10", TOOL_H3_SETTINGS_ERROR},
        {"0x01 twice", "00 0404 01 00 01 00", TOOL_H3_SETTINGS_ERROR},
        {"0x07 twice", "00 0404 07 00 07 00", TOOL_H3_SETTINGS_ERROR},
        {"0x08 twice", "00 0404 08 00 08 01", TOOL_H3_SETTINGS_ERROR},
        {"connect protocol 2", "00 0402 08 02", TOOL_H3_SETTINGS_ERROR},
        {"datagram 2", "00 0403 33 40 02", TOOL_H3_SETTINGS_ERROR},
        {"SETTINGS ends in a varint", "00 0402 06 40", TOOL_H3_FRAME_ERROR},
        {"SETTINGS ends after an identifier", "00 0401 06", TOOL_H3_FRAME_ERROR},
        /* order and kinds of frames */
        {"GOAWAY first", "00 07 01 00", TOOL_H3_MISSING_SETTINGS},
        {"DATA first", "00 00 01 00", TOOL_H3_MISSING_SETTINGS},
        {"unknown frame first", "00 21 00 0400", TOOL_H3_MISSING_SETTINGS},
        {"second SETTINGS", "00 0400 0400", TOOL_H3_FRAME_UNEXPECTED},
        {"DATA", "00 0400 00 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"HEADERS", "00 0400 01 03 0000d1", TOOL_H3_FRAME_UNEXPECTED},
        {"PUSH_PROMISE", "00 0400 05 04 00 0000d1", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY", "00 0400 02 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PING", "00 0400 06 08 0000000000000000", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 WINDOW_UPDATE", "00 0400 08 04 00000001", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 CONTINUATION", "00 0400 09 00", TOOL_H3_FRAME_UNEXPECTED},
        /* one varint payloads */
        {"GOAWAY empty", "00 0400 07 00", TOOL_H3_FRAME_ERROR},
        {"GOAWAY two varints", "00 0400 07 02 05 05", TOOL_H3_FRAME_ERROR},
        {"GOAWAY short varint", "00 0400 07 01 40", TOOL_H3_FRAME_ERROR},
        {"MAX_PUSH_ID empty", "00 0400 0d 00", TOOL_H3_FRAME_ERROR},
        {"MAX_PUSH_ID two varints", "00 0400 0d 02 05 05", TOOL_H3_FRAME_ERROR},
        {"CANCEL_PUSH empty", "00 0400 03 00", TOOL_H3_FRAME_ERROR},
        {"CANCEL_PUSH two varints", "00 0400 03 02 00 00", TOOL_H3_FRAME_ERROR},
        /* IDs */
        {"GOAWAY increases", "00 0400 07 01 05 07 01 06", TOOL_H3_ID_ERROR},
        {"MAX_PUSH_ID decreases", "00 0400 0d 01 05 0d 01 04", TOOL_H3_ID_ERROR},
        {"CANCEL_PUSH", "00 0400 03 01 00", TOOL_H3_ID_ERROR},
        {"CANCEL_PUSH after MAX_PUSH_ID", "00 0400 0d 01 05 03 01 01", TOOL_H3_ID_ERROR},
        /* PRIORITY_UPDATE's element ID (RFC 9218 §7.2) */
        {"PRIORITY_UPDATE of stream 8, two-octet ID", "00 0400 800f0700 02 4008", 0},
        {"PRIORITY_UPDATE of a unidirectional stream", "00 0400 800f0700 04 02 753d31",
         TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE of a server stream", "00 0400 800f0700 04 01 753d31", TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE of a push", "00 0400 800f0701 04 00 753d31", TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE of a push after MAX_PUSH_ID", "00 0400 0d 01 05 800f0701 01 00",
         TOOL_H3_ID_ERROR},
        {"PRIORITY_UPDATE empty", "00 0400 800f0700 00", TOOL_H3_FRAME_ERROR},
        {"PRIORITY_UPDATE ends in its ID", "00 0400 800f0700 01 40", TOOL_H3_FRAME_ERROR},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        ctrl_case(c[i].name, c[i].hex, c[i].code);
}

/* The client's GOAWAY (a push ID) reaches the tool. */
static void test_goaway_from_client_reported(void **state)
{
    (void)state;
    ctrl_case("GOAWAY reported", "00 0400 07 01 09", 0);
    bb c = {0};
    bb_hex(&c, "00 0400 07 01 09 07 01 03");
    start_bb(1, &c);
    expect_open();
    want_log("G9 G3 ");
    finish();
}

/* SETTINGS payload at 16384 octets accepted (distinct unknown identifiers), at 16385 refused. */
static void bb_big_settings(bb *c, size_t size)
{
    bb s = {0};
    size_t pairs = size == 16384 ? 2048 : 2047;
    for (size_t i = 0; i < pairs; i++) {
        bb_vi_n(&s, 0x100000 + i, 4);
        bb_vi_n(&s, i, 4);
    }
    if (size != 16384) {
        bb_vi_n(&s, 0x3000000000ull, 8);
        bb_vi_n(&s, 0, 1);
    }
    assert_int_equal(s.n, size);
    bb_byte(c, S_CONTROL);
    bb_frame(c, F_SETTINGS, s.d, s.n);
    bb_free(&s);
}

static void test_settings_16k(void **state)
{
    (void)state;
    bb c = {0};
    bb_big_settings(&c, 16384);
    start_bb(1, &c);
    expect_open();
    int64_t sid = request_get();
    expect_open();
    expect_response(sid, "200", NULL, 0);
    finish();

    bb_big_settings(&c, 16385);
    start_bb(1, &c);
    expect_close(TOOL_H3_EXCESSIVE_LOAD);
    finish();
}

/* PRIORITY_UPDATE payload at 16384 octets accepted, at 16385 refused. */
static void bb_priority_update(bb *c, size_t size)
{
    bb p = {0};
    bb_vi(&p, 0);
    while (p.n < size)
        bb_byte(&p, 'u');
    bb_frame(c, F_PRIORITY_UPDATE, p.d, p.n);
    bb_free(&p);
}

static void test_priority_update_16k(void **state)
{
    (void)state;
    for (int over = 0; over < 2; over++) {
        bb c = {0};
        bb_hex(&c, "00 0400");
        bb_priority_update(&c, 16384 + (size_t)over);
        start_bb(1, &c);
        if (over) {
            expect_close(TOOL_H3_EXCESSIVE_LOAD);
        } else {
            expect_open();
            int64_t sid = request_get();
            expect_open();
            expect_response(sid, "200", NULL, 0);
        }
        finish();
    }
}

/* The control stream ending: FIN, RESET_STREAM, or a truncated frame; STOP_SENDING on ours. */
static void test_control_stream_closed(void **state)
{
    (void)state;
    start(1);
    raw_write(R.ctrl, NULL, 0, 1);
    expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
    finish();

    start(1);
    tern_stream_reset(R.c, R.ctrl, 0x100);
    expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
    finish();

    start(1);
    tern_stream_stop_sending(R.c, 3, 0x100);
    expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
    finish();

    bb c = {0};
    bb_hex(&c, "00 0400 07 02 00");
    start_ctrl(1, c.d, c.n);
    bb_free(&c);
    raw_write(R.ctrl, NULL, 0, 1);
    expect_close(TOOL_H3_FRAME_ERROR);
    finish();
}

/* ---- unidirectional streams --------------------------------------------------------------- */

static void test_uni_stream_rules(void **state)
{
    (void)state;
    /* a second control stream */
    start(1);
    bb b = {0};
    bb_hex(&b, "0400");
    raw_uni_bb(S_CONTROL, &b, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
    /* a second encoder or decoder stream */
    for (uint64_t type = S_ENCODER; type <= S_DECODER; type++) {
        start(1);
        raw_uni_bb(type, NULL, 0);
        expect_open();
        raw_uni_bb(type, NULL, 0);
        expect_close(TOOL_H3_STREAM_CREATION_ERROR);
        finish();
    }
    /* a push stream sent to a server */
    start(1);
    bb_hex(&b, "00");
    raw_uni_bb(S_PUSH, &b, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
    /* the encoder or decoder stream ending */
    for (uint64_t type = S_ENCODER; type <= S_DECODER; type++) {
        start(1);
        int64_t sid = raw_uni_bb(type, NULL, 0);
        expect_open();
        raw_write(sid, NULL, 0, 1);
        expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
        finish();
        start(1);
        sid = raw_uni_bb(type, NULL, 0);
        tern_stream_reset(R.c, sid, 0x100);
        expect_close(TOOL_H3_CLOSED_CRITICAL_STREAM);
        finish();
    }
}

/* Unknown stream types: STOP_SENDING(H3_STREAM_CREATION_ERROR), whatever arrives is ignored, the
 * connection serves on. */
static void test_unknown_uni_streams(void **state)
{
    (void)state;
    static const uint64_t types[] = {0x21, 0x04, 0x54, 0x1f * 100 + 0x21, 0x3fffffff};
    start(1);
    int64_t sids[5];
    for (int i = 0; i < 5; i++) {
        bb b = {0};
        bb_hex(&b, "0400 0000 01 03 0000d1");
        sids[i] = raw_uni_bb(types[i], &b, 0);
    }
    settle();
    for (int i = 0; i < 5; i++) {
        rstream *s = rs_find(sids[i]);
        if (!s || !s->stopped || s->stop_code != TOOL_H3_STREAM_CREATION_ERROR)
            fail_msg("type 0x%llx: stopped %d code 0x%llx", (unsigned long long)types[i],
                     s ? s->stopped : 0, s ? (unsigned long long)s->stop_code : 0ull);
    }
    expect_open();
    int64_t sid = request_get();
    expect_open();
    expect_response(sid, "200", NULL, 0);
    finish();
}

/* QPACK streams: what a decoder of capacity 0 accepts and refuses (RFC 9204 §4.3, §4.4). */
static void test_qpack_streams(void **state)
{
    (void)state;
    static const struct {
        uint64_t type;
        const char *hex;
        uint64_t code;
    } c[] = {
        {S_ENCODER, "", 0},
        {S_ENCODER, "20", 0},
        {S_ENCODER, "20 20", 0},
        {S_ENCODER, "21", TOOL_QPACK_ENCODER_STREAM_ERROR},          /* capacity 1 */
        {S_ENCODER, "3f e1 1f", TOOL_QPACK_ENCODER_STREAM_ERROR},    /* capacity 4096 */
        {S_ENCODER, "c1 01 61", TOOL_QPACK_ENCODER_STREAM_ERROR},    /* insert, static name */
        {S_ENCODER, "41 61 01 61", TOOL_QPACK_ENCODER_STREAM_ERROR}, /* insert, literal name */
        {S_ENCODER, "00", TOOL_QPACK_ENCODER_STREAM_ERROR},          /* duplicate */
        {S_DECODER, "", 0},
        {S_DECODER, "40", 0},                               /* stream cancellation, stream 0 */
        {S_DECODER, "44 7f 01", 0},                         /* stream 4, stream 64 */
        {S_DECODER, "80", TOOL_QPACK_DECODER_STREAM_ERROR}, /* section acknowledgement */
        {S_DECODER, "01", TOOL_QPACK_DECODER_STREAM_ERROR}, /* insert count increment */
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(1);
        bb b = {0};
        bb_hex(&b, c[i].hex);
        raw_uni_bb(c[i].type, &b, 0);
        settle();
        long long want = c[i].code ? (long long)c[i].code : -1;
        if (close_code() != want)
            fail_msg("stream type %llu '%s': close 0x%llx, expected 0x%llx; log %s",
                     (unsigned long long)c[i].type, c[i].hex, close_code(),
                     (unsigned long long)c[i].code, S.log);
        if (!c[i].code) {
            int64_t sid = request_get();
            expect_open();
            expect_response(sid, "200", NULL, 0);
        }
        finish();
    }
}

/* Encoder stream bytes one at a time: the verdict does not depend on the split. */
static void test_qpack_streams_split(void **state)
{
    (void)state;
    start(1);
    int64_t enc = raw_open(0), dec = raw_open(0);
    static const uint8_t e[] = {S_ENCODER, 0x20, 0x20};
    static const uint8_t d[] = {S_DECODER, 0x7f, 0x81, 0x01, 0x40};
    raw_write_bytewise(enc, e, sizeof(e), 0);
    raw_write_bytewise(dec, d, sizeof(d), 0);
    settle();
    expect_open();
    static const uint8_t bad[] = {0x3f, 0xe1, 0x1f};
    raw_write_bytewise(enc, bad, sizeof(bad), 0);
    expect_close(TOOL_QPACK_ENCODER_STREAM_ERROR);
    finish();
}

/* ---- GOAWAY from the server --------------------------------------------------------------- */

static uint64_t last_goaway(int64_t ctrl_sid, int *count)
{
    rstream *s = rs_find(ctrl_sid);
    assert_non_null(s);
    size_t off = 1;
    pframe f;
    uint64_t id = UINT64_MAX;
    *count = 0;
    while (next_frame(s->buf, s->len, &off, &f)) {
        if (f.type != F_GOAWAY)
            continue;
        size_t a = get_vi(f.pl, f.len, &id);
        assert_int_equal(a, f.len);
        (*count)++;
    }
    return id;
}

static void test_server_goaway(void **state)
{
    (void)state;
    start(1);
    int64_t s0 = request_get();
    expect_response(s0, "200", NULL, 0);
    assert_int_equal(tool_h3_shutdown_notice(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    int n;
    assert_int_equal(last_goaway(3, &n), MAX_SID_ID);
    assert_int_equal(n, 1);
    /* the notice excludes nothing */
    int64_t s4 = request_get();
    expect_response(s4, "200", NULL, 0);
    /* a request under way when the final GOAWAY goes */
    bb b = {0};
    bb_get(&b);
    int64_t s8 = request_bb(&b, 0);
    assert_int_equal(s8, 8);
    want_log("E8 ");
    assert_int_equal(tool_h3_shutdown(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    assert_int_equal(last_goaway(3, &n), 12);
    assert_int_equal(n, 2);
    raw_write(s8, NULL, 0, 1);
    settle();
    expect_response(s8, "200", NULL, 0);
    /* at or above the GOAWAY: rejected, never shown to the tool */
    int64_t s12 = raw_open(1);
    bb_get(&b);
    raw_write_bb(s12, &b, 0);
    expect_stream_error(s12, TOOL_H3_REQUEST_REJECTED, 1);
    int64_t s16 = request_get();
    expect_stream_error(s16, TOOL_H3_REQUEST_REJECTED, 0);
    want_no_log("B12 ");
    want_no_log("B16 ");
    expect_open();
    finish();
}

/* A final GOAWAY straight away, with a request of a lower stream arriving after it: below the
 * GOAWAY's ID it is served (RFC 9114 §5.2), at the ID refused. */
static void test_server_goaway_late_lower_stream(void **state)
{
    (void)state;
    start(1);
    int64_t s0 = raw_open(1); /* nothing on it yet: the server does not know it */
    int64_t s4 = request_get();
    assert_int_equal(s4, 4);
    expect_response(s4, "200", NULL, 0);
    assert_int_equal(tool_h3_shutdown(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    int n;
    assert_int_equal(last_goaway(3, &n), 8);
    assert_int_equal(n, 1);
    bb b = {0};
    bb_get(&b);
    raw_write_bb(s0, &b, 1);
    expect_response(s0, "200", NULL, 0);
    int64_t s8 = request_get();
    expect_stream_error(s8, TOOL_H3_REQUEST_REJECTED, 0);
    /* a notice after the final GOAWAY would raise its ID: nothing is sent */
    assert_int_equal(tool_h3_shutdown_notice(S.h), 0);
    tool_h3_flush(S.h);
    settle();
    assert_int_equal(last_goaway(3, &n), 8);
    assert_int_equal(n, 1);
    expect_open();
    finish();
}

/* ---- the client side ---------------------------------------------------------------------- */

static int64_t tool_request(const tool_qpack_field *f, size_t n, int expect_rv)
{
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(S.c, 1, &sid), 0);
    int rv = tool_h3_submit_request(S.h, sid, f, n, NULL);
    assert_int_equal(rv, expect_rv);
    tool_h3_flush(S.h);
    settle();
    return sid;
}

/* The request the tool sent: its fields in order, FIN after one HEADERS frame. */
static void expect_request(int64_t sid)
{
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->fin);
    bb fields = {0}, body = {0};
    int other;
    assert_int_equal(parse_msg(s, &fields, &body, &other), 0);
    assert_string_equal((char *)fields.d,
                        ":method=GET :scheme=https :authority=example.com :path=/ ");
    assert_int_equal(body.n, 0);
    bb_free(&fields);
    bb_free(&body);
}

/* The raw server answers stream `sid` with b (freed), FIN when `fin`. */
static void respond_bb(int64_t sid, bb *b, int fin)
{
    raw_write_bb(sid, b, fin);
}

static void bb_status(bb *b, const char *status)
{
    fld f[] = {{":status", 7, status, strlen(status)}};
    bb_headers(b, f, 1);
}

/* 103 and 100 before 200, then the body: all reported in order. */
static void test_client_informational(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    assert_int_equal(sid, 0);
    expect_request(sid);
    bb b = {0};
    bb_hex(&b, "01 03 0000 d8"); /* :status 103 (static 24) */
    bb_status(&b, "100");
    bb_hex(&b, "01 03 0000 d9"); /* :status 200 (static 25) */
    bb_frame(&b, F_GREASE, "", 0);
    bb_frame(&b, F_DATA, "hello", 5);
    respond_bb(sid, &b, 1);
    expect_open();
    expect_log("H0 :status=103 E0 H0 :status=100 E0 H0 :status=200 E0 D0 F0 C0=100 ");
    assert_memory_equal(ts_get(sid)->body, "hello", 5);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

/* Responses without a body whatever content-length says: to HEAD, 204, 304. */
static void test_client_bodiless(void **state)
{
    (void)state;
    static const tool_qpack_field head[] = {QF(":method", "HEAD"), QF(":scheme", "https"),
                                            QF(":authority", "example.com"), QF(":path", "/")};
    start(0);
    int64_t sid = tool_request(head, 4, 0);
    bb b = {0};
    fld f[] = {F(":status", "200"), F("content-length", "1000")};
    bb_headers(&b, f, 2);
    respond_bb(sid, &b, 1);
    expect_open();
    want_log("F0 C0=100 ");
    static const char *st[] = {"204", "304"};
    for (int i = 0; i < 2; i++) {
        sid = tool_request(tool_get, 4, 0);
        fld g[] = {{":status", 7, st[i], 3}, F("content-length", "10")};
        bb_headers(&b, g, 2);
        respond_bb(sid, &b, 1);
        expect_open();
        char want[32];
        snprintf(want, sizeof(want), "F%lld C%lld=100 ", (long long)sid, (long long)sid);
        want_log(want);
    }
    finish();
}

static void test_client_malformed_responses(void **state)
{
    (void)state;
    const mcase c[] = {
        CASE("no :status", F("x-foo", "1")),
        CASE("two :status", F(":status", "200"), F(":status", "200")),
        CASE("two-digit :status", F(":status", "20")),
        CASE("four-digit :status", F(":status", "2000")),
        CASE("letters in :status", F(":status", "2x0")),
        CASE(":method in response", F(":status", "200"), F(":method", "GET")),
        CASE(":path in response", F(":status", "200"), F(":path", "/")),
        CASE("pseudo after regular", F("x-foo", "1"), F(":status", "200")),
        CASE("uppercase name", F(":status", "200"), F("Content-Type", "text/plain")),
        CASE("transfer-encoding", F(":status", "200"), F("transfer-encoding", "chunked")),
        CASE("value with LF", F(":status", "200"), F("x-foo", "a\nb")),
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        bb_headers(&b, c[i].f, c[i].n);
        respond_bb(sid, &b, 0);
        settle();
        rstream *s = rs_find(sid);
        if (!s || !s->stopped || s->stop_code != TOOL_H3_MESSAGE_ERROR || close_code() != -1 ||
            !log_has("C0=10e ") || log_has("E0"))
            fail_msg("%s: stopped %d 0x%llx close 0x%llx; log %s", c[i].name, s ? s->stopped : 0,
                     s ? (unsigned long long)s->stop_code : 0ull, close_code(), S.log);
        finish();
    }
}

/* The response's body against its content-length. The request's sending side is over (FIN), so
 * a stream error shows to the raw server as STOP_SENDING while it still sends, and otherwise
 * only to the tool, in stream_close. */
static void test_client_content_length(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        fld f[] = {F(":status", "200"), F("content-length", "4")};
        bb_headers(&b, f, 2);
        bb_frame(&b, F_DATA, "abcde", i == 0 ? 4 : i == 1 ? 5 : 3);
        respond_bb(sid, &b, i != 1);
        settle();
        expect_open();
        if (i == 0) {
            want_log("D0 F0 C0=100 ");
        } else {
            if (i == 1) {
                rstream *s = rs_find(sid);
                assert_non_null(s);
                assert_true(s->stopped);
                assert_int_equal(s->stop_code, TOOL_H3_MESSAGE_ERROR);
            }
            want_log("C0=10e ");
            want_no_log("F0 ");
        }
        finish();
    }
}

/* Frames out of place on a response stream. */
static void test_client_response_frame_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
        uint64_t code;
    } c[] = {
        {"DATA first", "00 01 61", TOOL_H3_FRAME_UNEXPECTED},
        {"SETTINGS", "01 03 0000d9 04 00", TOOL_H3_FRAME_UNEXPECTED},
        {"GOAWAY", "01 03 0000d9 07 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"h2 PRIORITY", "01 03 0000d9 02 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"DATA after trailers", "01 03 0000d9 01 06 0000 2161 0161 00 01 61",
         TOOL_H3_FRAME_UNEXPECTED},
        {"QPACK failure", "01 03 0000 81", TOOL_QPACK_DECOMPRESSION_FAILED},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        bb_hex(&b, c[i].hex);
        respond_bb(sid, &b, 0);
        settle();
        if (close_code() != (long long)c[i].code)
            fail_msg("%s: close 0x%llx, expected 0x%llx; log %s", c[i].name, close_code(),
                     (unsigned long long)c[i].code, S.log);
        finish();
    }
    /* trailers after the response's body, and unknown frames after them, are fine */
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_hex(&b, "01 03 0000d9 00 02 6869 01 06 0000 2161 0161 21 01 00");
    respond_bb(sid, &b, 1);
    expect_open();
    expect_log("H0 :status=200 E0 D0 F0 C0=100 ");
    finish();
}

/* A response written one byte per packet: 1xx, final header section, body, trailers. */
static void test_client_split_every_byte(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_hex(&b, "01 03 0000 d8");
    bb_frame(&b, F_GREASE_BIG, "zz", 2);
    fld f[] = {F(":status", "200"), F("content-length", "70")};
    bb_headers(&b, f, 2);
    bb_frame(&b, F_DATA, BODY, 70);
    bb_hex(&b, "01 06 0000 2161 0161");
    raw_write_bytewise(sid, b.d, b.n, 1);
    bb_free(&b);
    settle();
    expect_open();
    expect_log("H0 :status=103 E0 H0 :status=200 H0 content-length=70 E0 D0 F0 C0=100 ");
    assert_int_equal(ts_get(sid)->btotal, 70);
    assert_memory_equal(ts_get(sid)->body, BODY, 70);
    finish();
}

/* A response's HEADERS above 16 KB: refused from its length (STOP_SENDING with
 * H3_EXCESSIVE_LOAD); a trailer section with a pseudo-header: H3_MESSAGE_ERROR. */
static void test_client_response_stream_errors(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_vi(&b, F_HEADERS);
    bb_vi(&b, TOOL_H3_MAX_FIELD_SECTION + 1);
    bb_hex(&b, "0000 d9");
    respond_bb(sid, &b, 0);
    settle();
    expect_open();
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->stopped);
    assert_int_equal(s->stop_code, TOOL_H3_EXCESSIVE_LOAD);
    want_log("C0=107 ");
    want_no_log("H0 ");
    finish();

    start(0);
    sid = tool_request(tool_get, 4, 0);
    bb_hex(&b, "01 03 0000d9 00 01 61");
    fld tr[] = {F(":status", "200")};
    bb_headers(&b, tr, 1);
    respond_bb(sid, &b, 0);
    settle();
    expect_open();
    s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->stopped);
    assert_int_equal(s->stop_code, TOOL_H3_MESSAGE_ERROR);
    want_log("C0=10e ");
    want_no_log("F0 ");
    finish();
}

/* The client refuses the rest of a body from its recv_data callback (a download it cannot
 * store): the stream closes at once with the code it gave, whether the server's FIN is already
 * there (no STOP_SENDING then) or not (STOP_SENDING 0x10c reaches the server), and nothing more
 * of the body is reported. */
static void test_client_stops_reading(void **state)
{
    (void)state;
    for (int fin = 0; fin < 2; fin++) {
        start(0);
        S.stop_data = 1;
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        bb_status(&b, "200");
        bb_frame(&b, F_DATA, "abc", 3);
        bb_frame(&b, F_DATA, "def", 3);
        respond_bb(sid, &b, fin);
        settle();
        expect_open();
        want_log("C0=10c ");
        want_no_log("F0 ");
        assert_int_equal(ts_get(sid)->btotal, 3);
        assert_int_equal(tool_h3_open_streams(S.h), 0);
        rstream *s = rs_find(sid);
        assert_non_null(s);
        assert_int_equal(s->stopped, !fin);
        if (!fin)
            assert_int_equal(s->stop_code, TOOL_H3_REQUEST_CANCELLED);
        finish();
    }
}

/* A response stream that ends without a final response: no end_stream, the close says why. */
static void test_client_response_incomplete(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        start(0);
        int64_t sid = tool_request(tool_get, 4, 0);
        bb b = {0};
        if (i)
            bb_hex(&b, "01 03 0000 d8"); /* 103 only */
        else
            bb_frame(&b, F_GREASE, "x", 1);
        respond_bb(sid, &b, 1);
        expect_open();
        want_no_log("F0 ");
        want_log("C0=");
        want_no_log("C0=100 ");
        if (!i)
            want_log("C0=10d ");
        assert_int_equal(tool_h3_open_streams(S.h), 0);
        finish();
    }
}

/* The raw server's GOAWAY: requests at or above its ID fail, those below are still answered; no
 * request can be sent on an excluded stream afterwards. */
static void test_client_goaway(void **state)
{
    (void)state;
    start(0);
    int64_t a = tool_request(tool_get, 4, 0), b4 = tool_request(tool_get, 4, 0),
            c8 = tool_request(tool_get, 4, 0);
    assert_int_equal(a, 0);
    assert_int_equal(b4, 4);
    assert_int_equal(c8, 8);
    bb g = {0};
    bb_hex(&g, "07 01 04");
    raw_write_bb(R.ctrl, &g, 0);
    expect_open();
    want_log("G4 ");
    want_log("C4=10b ");
    want_log("C8=10b ");
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(S.c, 1, &sid), 0);
    assert_int_equal(tool_h3_submit_request(S.h, sid, tool_get, 4, NULL), -1);
    bb r = {0};
    bb_hex(&r, "01 03 0000 d9");
    respond_bb(a, &r, 1);
    expect_open();
    want_log("H0 :status=200 E0f F0 C0=100 ");
    finish();
}

static void test_client_control_rules(void **state)
{
    (void)state;
    static const struct {
        const char *name, *hex;
        uint64_t code;
    } c[] = {
        {"GOAWAY not a client bidi ID", "00 0400 07 01 02", TOOL_H3_ID_ERROR},
        {"GOAWAY increases", "00 0400 07 01 04 07 01 08", TOOL_H3_ID_ERROR},
        {"GOAWAY same", "00 0400 07 01 04 07 01 04", 0},
        {"MAX_PUSH_ID to a client", "00 0400 0d 01 00", TOOL_H3_FRAME_UNEXPECTED},
        {"PRIORITY_UPDATE to a client", "00 0400 800f0700 04 00 753d31", TOOL_H3_FRAME_UNEXPECTED},
        {"CANCEL_PUSH to a client", "00 0400 03 01 00", TOOL_H3_ID_ERROR},
        {"missing SETTINGS", "00 07 01 00", TOOL_H3_MISSING_SETTINGS},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        bb b = {0};
        bb_hex(&b, c[i].hex);
        start_bb(0, &b);
        settle();
        long long want = c[i].code ? (long long)c[i].code : -1;
        if (close_code() != want)
            fail_msg("%s: close 0x%llx expected 0x%llx", c[i].name, close_code(),
                     (unsigned long long)c[i].code);
        finish();
    }
}

static void test_client_push_promise(void **state)
{
    (void)state;
    start(0);
    int64_t sid = tool_request(tool_get, 4, 0);
    bb b = {0};
    bb_hex(&b, "01 03 0000 d9");
    bb_hex(&b, "05 04 00 0000d1");
    respond_bb(sid, &b, 0);
    expect_close(TOOL_H3_ID_ERROR);
    finish();
}

static void test_client_push_stream(void **state)
{
    (void)state;
    start(0);
    bb b = {0};
    bb_hex(&b, "00");
    raw_uni_bb(S_PUSH, &b, 0);
    expect_close(TOOL_H3_ID_ERROR);
    finish();
}

static void test_client_server_bidi(void **state)
{
    (void)state;
    start(0);
    bb b = {0};
    bb_get(&b);
    int64_t sid = raw_open(1);
    assert_int_equal(sid, 1);
    raw_write_bb(sid, &b, 0);
    expect_close(TOOL_H3_STREAM_CREATION_ERROR);
    finish();
}

/* The server's SETTINGS_MAX_FIELD_SECTION_SIZE bounds what submit_request sends (RFC 9114
 * §4.2.2: name + value + 32 per field). */
static void test_client_peer_field_limit(void **state)
{
    (void)state;
    /* tool_get: 42 + 44 + 53 + 38 = 177 */
    bb c = {0};
    bb_hex(&c, "00 0403 06 40 b1"); /* 177 */
    start_bb(0, &c);
    expect_open();
    int64_t sid = tool_request(tool_get, 4, 0);
    expect_request(sid);
    static const tool_qpack_field more[] = {QF(":method", "GET"), QF(":scheme", "https"),
                                            QF(":authority", "example.com"), QF(":path", "/a")};
    tool_request(more, 4, -1);
    expect_open();
    finish();

    /* without the setting: no limit */
    start(0);
    static char value[12000];
    memset(value, 'v', sizeof(value));
    tool_qpack_field large[5] = {
        QF(":method", "GET"),
        QF(":scheme", "https"),
        QF(":authority", "example.com"),
        QF(":path", "/"),
        {(const uint8_t *)"x-large", 7, (const uint8_t *)value, sizeof(value)}};
    sid = tool_request(large, 5, 0);
    rstream *s = rs_find(sid);
    assert_non_null(s);
    assert_true(s->fin);
    assert_true(s->len > sizeof(value) / 2);
    expect_open();
    finish();
}

/* ---- memory under attack ------------------------------------------------------------------ */

/* The heap the layer holds after set-up, and the most it held at the end of any call into it
 * during the attack and after the attack settled. */
typedef struct heapm {
    long long base, peak, after;
} heapm;

static void heap_begin(heapm *m)
{
    settle();
    m->base = allochook_bytes;
    S.peak = allochook_bytes;
}

static void heap_end(heapm *m, const char *what)
{
    settle();
    m->peak = S.peak;
    m->after = allochook_bytes;
    fprintf(stderr, "%s: layer heap %lld at rest, peak +%lld, after +%lld\n", what, m->base,
            m->peak - m->base, m->after - m->base);
}

static void test_memory_unknown_uni_streams(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    int64_t sids[50];
    for (int i = 0; i < 50; i++) {
        int64_t sid = raw_open(0);
        bb b = {0};
        bb_vi(&b, 0x21 + 0x1f * (uint64_t)i);
        bb_raw(&b, BODY, 1000);
        raw_write(sid, b.d, b.n, 0);
        bb_free(&b);
        sids[i] = sid;
    }
    heap_end(&m, "50 unknown unidirectional streams");
    for (int i = 0; i < 50; i++) {
        rstream *s = rs_find(sids[i]);
        assert_non_null(s);
        assert_true(s->stopped);
    }
    expect_open();
    assert_true(m.peak - m.base <= 256); /* measured: 0 */
    assert_true(m.after - m.base <= 0);
    finish();
}

static void test_memory_unknown_frames_control(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    bb b = {0};
    bb_vi(&b, F_GREASE_BIG);
    bb_vi(&b, 512 * 1024);
    for (int i = 0; i < 2; i++)
        bb_raw(&b, BODY, 256 * 1024);
    while (b.n < 1024 * 1024)
        bb_frame(&b, 0x21 + 0x1f * (b.n % 1000), BODY, 61);
    raw_write(R.ctrl, b.d, b.n, 0);
    bb_free(&b);
    pair_run(&P, never, 2 * SEC);
    heap_end(&m, "1 MB of unknown frames on the control stream");
    expect_open();
    assert_true(m.peak - m.base <= 256); /* measured: 0 */
    assert_true(m.after - m.base <= 0);
    int64_t sid = request_get();
    expect_response(sid, "200", NULL, 0);
    finish();
}

static void test_memory_priority_update(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    bb b = {0};
    bb_priority_update(&b, 100 * 1024);
    raw_write(R.ctrl, b.d, b.n, 0);
    bb_free(&b);
    heap_end(&m, "100 KB PRIORITY_UPDATE");
    expect_close(TOOL_H3_EXCESSIVE_LOAD);
    /* nothing of the 100 KB is buffered: what the call holds after it is the connection's close
     * information (some 300 B, which tern allocates when a connection first gets a reason) */
    assert_true(m.peak - m.base <= 512); /* measured: 304 */
    finish();
}

/* Unknown frames of 1 MB in all on a request stream, between HEADERS and FIN. */
static void test_memory_unknown_frames_request(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    bb b = {0};
    bb_get(&b);
    bb_vi(&b, F_GREASE);
    bb_vi(&b, 1024 * 1024);
    for (int i = 0; i < 4; i++)
        bb_raw(&b, BODY, 256 * 1024);
    int64_t sid = raw_open(1);
    raw_write(sid, b.d, b.n, 1);
    bb_free(&b);
    pair_run(&P, never, 2 * SEC);
    heap_end(&m, "1 MB of unknown frames on a request stream");
    expect_open();
    expect_response(sid, "200", NULL, 0);
    /* the request's record comes and goes; nothing grows with the frames */
    assert_true(m.peak - m.base <= 1024); /* measured: 272 */
    assert_true(m.after - m.base <= 0);
    finish();
}

/* Twenty requests each stopping inside a 16384-octet HEADERS frame: the layer holds at most that
 * much per stream (h3conn.h: a header buffer of at most TOOL_H3_MAX_FIELD_SECTION octets while
 * the frame arrives) besides a small record; it all goes when the peer resets the streams. */
static void test_memory_partial_headers(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    enum { N = 20 };
    int64_t sid[N];
    for (int i = 0; i < N; i++) {
        bb b = {0};
        bb_vi(&b, F_HEADERS);
        bb_vi(&b, TOOL_H3_MAX_FIELD_SECTION);
        bb_hex(&b, "0000");
        bb_raw(&b, BODY, 1000);
        sid[i] = raw_open(1);
        raw_write(sid[i], b.d, b.n, 0);
        bb_free(&b);
    }
    heap_end(&m, "20 requests inside a 16384-octet HEADERS");
    expect_open();
    fprintf(stderr, "per stream: %lld (bound %d)\n", (m.peak - m.base) / N,
            TOOL_H3_MAX_FIELD_SECTION + 512);
    assert_true(m.peak - m.base <= (long long)N * (TOOL_H3_MAX_FIELD_SECTION + 512));
    for (int i = 0; i < N; i++)
        tern_stream_reset(R.c, sid[i], TOOL_H3_REQUEST_CANCELLED);
    heap_end(&m, "... after the peer reset them");
    assert_true(m.after - m.base <= 0);
    assert_int_equal(tool_h3_open_streams(S.h), 0);
    finish();
}

/* Fifty unidirectional streams whose type never completes (the first octet of an 8-octet
 * varint): what the layer keeps for each is small, and goes when they end. */
static void test_memory_pending_stream_types(void **state)
{
    (void)state;
    if (!ALLOCHOOK_ACTIVE)
        skip();
    start(1);
    heapm m;
    heap_begin(&m);
    int64_t sid[50];
    for (int i = 0; i < 50; i++) {
        sid[i] = raw_open(0);
        raw_write(sid[i], "\xc0", 1, 0);
    }
    heap_end(&m, "50 unidirectional streams inside their type");
    expect_open();
    assert_true(m.peak - m.base <= 50 * 80); /* measured: 2784 */
    for (int i = 0; i < 50; i++)
        raw_write(sid[i], NULL, 0, 1);
    heap_end(&m, "... after they ended");
    assert_true(m.after - m.base <= 0);
    expect_open();
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_served),
        cmocka_unit_test(test_settings_sent_server),
        cmocka_unit_test(test_settings_sent_client),
        cmocka_unit_test(test_post_body),
        cmocka_unit_test(test_trailers_accepted),
        cmocka_unit_test(test_split_every_byte),
        cmocka_unit_test(test_long_varint_length),
        cmocka_unit_test(test_concurrent_requests),
        cmocka_unit_test(test_concurrent_requests_lossy),
        cmocka_unit_test(test_large_request_body),
        cmocka_unit_test(test_peer_abandons),
        cmocka_unit_test(test_uni_types_split),
        cmocka_unit_test(test_large_response),
        cmocka_unit_test(test_response_beyond_send_buffer),
        cmocka_unit_test(test_response_resumed),
        cmocka_unit_test(test_response_by_reference),
        cmocka_unit_test(test_response_read_fails),
        cmocka_unit_test(test_callback_fails),
        cmocka_unit_test(test_abort_stream),
        cmocka_unit_test(test_server_peer_field_limit),
        cmocka_unit_test(test_stream_user_data),
        cmocka_unit_test(test_headers_16384_accepted),
        cmocka_unit_test(test_headers_16385_rejected),
        cmocka_unit_test(test_headers_oversize_decided_early),
        cmocka_unit_test(test_content_length_match),
        cmocka_unit_test(test_content_length_over),
        cmocka_unit_test(test_content_length_under),
        cmocka_unit_test(test_content_length_two_values),
        cmocka_unit_test(test_content_length_not_digits),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_valid_requests),
        cmocka_unit_test(test_malformed_trailers),
        cmocka_unit_test(test_request_incomplete),
        cmocka_unit_test(test_request_frame_errors),
        cmocka_unit_test(test_after_trailers),
        cmocka_unit_test(test_request_truncated),
        cmocka_unit_test(test_control_stream_rules),
        cmocka_unit_test(test_goaway_from_client_reported),
        cmocka_unit_test(test_settings_16k),
        cmocka_unit_test(test_priority_update_16k),
        cmocka_unit_test(test_control_stream_closed),
        cmocka_unit_test(test_uni_stream_rules),
        cmocka_unit_test(test_unknown_uni_streams),
        cmocka_unit_test(test_qpack_streams),
        cmocka_unit_test(test_qpack_streams_split),
        cmocka_unit_test(test_server_goaway),
        cmocka_unit_test(test_server_goaway_late_lower_stream),
        cmocka_unit_test(test_client_informational),
        cmocka_unit_test(test_client_response_incomplete),
        cmocka_unit_test(test_client_bodiless),
        cmocka_unit_test(test_client_malformed_responses),
        cmocka_unit_test(test_client_content_length),
        cmocka_unit_test(test_client_response_frame_errors),
        cmocka_unit_test(test_client_split_every_byte),
        cmocka_unit_test(test_client_response_stream_errors),
        cmocka_unit_test(test_client_stops_reading),
        cmocka_unit_test(test_client_goaway),
        cmocka_unit_test(test_client_control_rules),
        cmocka_unit_test(test_client_push_promise),
        cmocka_unit_test(test_client_push_stream),
        cmocka_unit_test(test_client_server_bidi),
        cmocka_unit_test(test_client_peer_field_limit),
        cmocka_unit_test(test_memory_unknown_uni_streams),
        cmocka_unit_test(test_memory_unknown_frames_control),
        cmocka_unit_test(test_memory_priority_update),
        cmocka_unit_test(test_memory_unknown_frames_request),
        cmocka_unit_test(test_memory_partial_headers),
        cmocka_unit_test(test_memory_pending_stream_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
