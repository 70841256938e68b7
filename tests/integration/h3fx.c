/* The fixture of the HTTP/3 conformance suites (see h3fx.h). */
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
#include "conn_test.h"
#include "h3fx.h"

int h3fx_heap_measured(void)
{
    return ALLOCHOOK_ACTIVE;
}

/* ---- byte strings ------------------------------------------------------------------------- */


void bb_raw(bb *b, const void *p, size_t n)
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

void bb_byte(bb *b, uint8_t v)
{
    bb_raw(b, &v, 1);
}

void bb_free(bb *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

/* A QUIC variable-length integer (RFC 9000 §16) on `len` octets (1, 2, 4 or 8; 0: the fewest). */
void bb_vi_n(bb *b, uint64_t v, int len)
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

void bb_vi(bb *b, uint64_t v)
{
    bb_vi_n(b, v, 0);
}

/* One frame: type, length, payload. */
void bb_frame(bb *b, uint64_t type, const void *pl, size_t n)
{
    bb_vi(b, type);
    bb_vi(b, n);
    bb_raw(b, pl, n);
}

/* Bytes given as hex digits, spaces ignored. */
void bb_hex(bb *b, const char *hex)
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
void bb_qint(bb *b, uint8_t first, int prefix, uint64_t v)
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

/* A field section of literal field lines with literal names, no Huffman code (RFC 9204 §4.5.6),
 * after the prefix of a section without dynamic references (Required Insert Count 0, Base 0). */
void bb_section(bb *b, const fld *f, size_t n)
{
    bb_hex(b, "0000");
    for (size_t i = 0; i < n; i++) {
        bb_qint(b, 0x20, 3, f[i].nl);
        bb_raw(b, f[i].n, f[i].nl);
        bb_qint(b, 0x00, 7, f[i].vl);
        bb_raw(b, f[i].v, f[i].vl);
    }
}

void bb_headers(bb *b, const fld *f, size_t n)
{
    bb s = {0};
    bb_section(&s, f, n);
    bb_frame(b, F_HEADERS, s.d, s.n);
    bb_free(&s);
}

/* GET https://example.com/ as static references: :method GET (17), :scheme https (23), :authority
 * (0) by name with a literal value, :path / (1). */
void bb_get(bb *b)
{
    bb s = {0};
    bb_hex(&s, "0000 d1 d7 50 0b");
    bb_raw(&s, "example.com", 11);
    bb_hex(&s, "c1");
    bb_frame(b, F_HEADERS, s.d, s.n);
    bb_free(&s);
}

const tool_qpack_field tool_get[4] = {QF(":method", "GET"), QF(":scheme", "https"),
                                            QF(":authority", "example.com"), QF(":path", "/")};

/* ---- the raw side: a tern connection the test writes on ----------------------------------- */


/* ---- the tool side: tool_h3 with logging callbacks ---------------------------------------- */


tern_pair P;
raw_side R;
tool_side S;
uint8_t BODY[256 * 1024];

int never(tern_pair *p)
{
    (void)p;
    return 0;
}

void settle(void)
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

rstream *rs_find(int64_t sid)
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

tstream *ts_get(int64_t sid)
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

uint64_t fnv(uint64_t h, const uint8_t *d, size_t n)
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
void tag_on(void)
{
    allochook_tag = 1;
}

void tag_off(void)
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


/* Connects the tool side (server when tool_server, else client) to the raw side, which then opens
 * its control stream and writes ctrl[0..nctrl) on it (the stream type included; NULL: a control
 * stream with an empty SETTINGS frame). */
void start_ctrl(int tool_server, const uint8_t *ctrl, size_t nctrl)
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

void start(int tool_server)
{
    start_ctrl(tool_server, NULL, 0);
}

void start_bb(int tool_server, bb *ctrl)
{
    start_ctrl(tool_server, ctrl->d, ctrl->n);
    bb_free(ctrl);
}

void finish(void)
{
    tool_h3_free(S.h);
    S.h = NULL;
    pair_free(&P);
    for (int i = 0; i < R.n; i++)
        free(R.st[i].buf);
    R.n = 0;
}

int raw_closing(void)
{
    return !R.c || tern_conn_state(R.c) >= TERN_CS_CLOSING;
}

/* The application error code the tool side closed the connection with, as the raw side got it;
 * -1 while the connection is open; -2 when it ended otherwise. */
long long close_code(void)
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
void raw_write(int64_t sid, const void *data, size_t n, int fin)
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

void raw_write_bb(int64_t sid, bb *b, int fin)
{
    raw_write(sid, b->d, b->n, fin);
    bb_free(b);
    settle();
}

/* Each byte in its own packet: written alone, delivered before the next is written. */
void raw_write_bytewise(int64_t sid, const uint8_t *d, size_t n, int fin)
{
    for (size_t i = 0; i < n && !raw_closing(); i++) {
        assert_int_equal(tern_stream_write(R.c, sid, d + i, 1, fin && i + 1 == n), 1);
        pair_run(&P, never, 30 * MS);
    }
}

int64_t raw_open(int bidi)
{
    int64_t sid;
    assert_int_equal(tern_conn_open_stream(R.c, bidi, &sid), 0);
    return sid;
}

/* A unidirectional stream of `type` carrying b (freed). */
int64_t raw_uni_bb(uint64_t type, bb *b, int fin)
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

void expect_open(void)
{
    long long code = close_code();
    if (code != -1)
        fail_msg("connection closed (code 0x%llx), expected open; log: %s", code, S.log);
    assert_false(S.h->failed);
}

void expect_close(uint64_t code)
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
void expect_stream_error(int64_t sid, uint64_t code, int stop)
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

int log_has(const char *what)
{
    return strstr(S.log, what) != NULL;
}

/* The log holds `what` (printed when it does not). */
void want_log(const char *what)
{
    if (!log_has(what))
        fail_msg("log lacks '%s': %s", what, S.log);
}

void want_no_log(const char *what)
{
    if (log_has(what))
        fail_msg("log has '%s': %s", what, S.log);
}

void expect_log(const char *want)
{
    if (strcmp(S.log, want) != 0)
        fail_msg("log\n  got:  %s\n  want: %s", S.log, want);
}

/* ---- reading what the tool side sent ------------------------------------------------------ */

size_t get_vi(const uint8_t *d, size_t n, uint64_t *v)
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


/* The frame at d[*off..n): 1 and *off past it, or 0 at the end or before a truncated frame. */
int next_frame(const uint8_t *d, size_t n, size_t *off, pframe *f)
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
int parse_msg(const rstream *s, bb *fields, bb *body, int *other)
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
void expect_response(int64_t sid, const char *status, const uint8_t *body, size_t n)
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
int64_t request_bb(bb *b, int fin)
{
    int64_t sid = raw_open(1);
    raw_write_bb(sid, b, fin);
    return sid;
}

int64_t request_get(void)
{
    bb b = {0};
    bb_get(&b);
    return request_bb(&b, 1);
}

int64_t request_fields(const fld *f, size_t n, int fin)
{
    bb b = {0};
    bb_headers(&b, f, n);
    return request_bb(&b, fin);
}


void heap_begin(heapm *m)
{
    settle();
    m->base = allochook_bytes;
    S.peak = allochook_bytes;
}

void heap_end(heapm *m, const char *what)
{
    settle();
    m->peak = S.peak;
    m->after = allochook_bytes;
    fprintf(stderr, "%s: layer heap %lld at rest, peak +%lld, after +%lld\n", what, m->base,
            m->peak - m->base, m->after - m->base);
}

/* PRIORITY_UPDATE payload at 16384 octets accepted, at 16385 refused. */
void bb_priority_update(bb *c, size_t size)
{
    bb p = {0};
    bb_vi(&p, 0);
    while (p.n < size)
        bb_byte(&p, 'u');
    bb_frame(c, F_PRIORITY_UPDATE, p.d, p.n);
    bb_free(&p);
}
