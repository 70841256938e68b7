/* The tools' HTTP/3 layer (tools/common/h3conn.c) between two tern connections of an in-memory
 * pair (tests/common/pair.h): requests and response bodies of 0, 1, 70,000 and 3,000,000 bytes
 * through the layer on both sides, copied and by reference, with reads cut to a few octets;
 * request bodies a raw client writes byte by byte, their bytes hashed on arrival; a body source
 * that makes the layer wait (resume_stream); a stream abandoned from a callback; and the heap an
 * idle connection's layer holds once SETTINGS went both ways, against a raw endpoint doing the
 * same tern work. */
#define _GNU_SOURCE
#define ALLOCHOOK_BYTES
#include "allochook.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/h3conn.h"
#include "pair.h"

#define MS 1000000ull
#define BIG 3000000
#define NREQ 24

typedef struct req {
    int64_t sid;
    int used;
    /* server: what came in */
    size_t want;      /* response body asked for (from :path) */
    uint64_t in_hash; /* FNV-1a of the request body */
    uint64_t in_len;
    int ended;
    /* server: what goes out */
    size_t out_off; /* handed out by read_data */
    uint64_t acked;
    int stalls; /* read_data says WOULDBLOCK this many more times */
    /* client */
    int status;
    int headers; /* end_headers calls */
    int closed;
    uint64_t code;
} req;

typedef struct fx {
    tern_pair p;
    tool_h3 *srv, *cli;
    int raw_client; /* the client side is a bare tern connection: the test writes its bytes */
    int raw_server; /* the server side only opens a control stream and drains what comes */
    size_t cap;     /* the read buffer handed to the layer (small: reads cut short) */
    int by_ref;
    int abort_in_data; /* the server abandons a response from its recv_data */
    int stall;         /* the server's read_data has nothing until the test says so */
    uint64_t refs, released, ref_bytes;
    req sreq[NREQ], creq[NREQ];
    /* the raw client's received bytes, per stream */
    uint8_t *raw_in[NREQ];
    size_t raw_len[NREQ], raw_cap[NREQ];
    int raw_fin[NREQ];
    uint64_t raw_reset[NREQ]; /* the code of a RESET_STREAM the raw client got, plus one */
    int64_t raw_sid[NREQ];
    int nraw;
    int measure;                   /* allocations inside the server side's calls are measured */
    int small;                     /* read_data hands out one piece of 100 octets at a time */
    unsigned long long srv_allocs; /* allocations inside the server side's calls */
    uint8_t buf[65536];
} fx;

static uint8_t pattern[BIG];

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

static req *find(req *t, int64_t sid, int add)
{
    for (int i = 0; i < NREQ; i++)
        if (t[i].used && t[i].sid == sid)
            return &t[i];
    if (!add)
        return NULL;
    for (int i = 0; i < NREQ; i++) {
        if (!t[i].used) {
            memset(&t[i], 0, sizeof(t[i]));
            t[i].used = 1;
            t[i].sid = sid;
            t[i].in_hash = FNV0;
            return &t[i];
        }
    }
    return NULL;
}

/* ---- the server application ---- */

static int s_begin(tool_h3 *h, int64_t sid, void *ud)
{
    fx *f = h->app;
    req *r = find(f->sreq, sid, 1);
    assert_non_null(r);
    assert_null(ud);
    return tool_h3_set_stream_user_data(h, sid, r);
}

static int s_header(tool_h3 *h, int64_t sid, const tool_qpack_field *fl, void *ud)
{
    req *r = ud;
    if (fl->namelen == 5 && memcmp(fl->name, ":path", 5) == 0 && fl->valuelen > 1) {
        char v[32] = {0}; /* the value is not NUL-terminated */
        memcpy(v, fl->value + 1, fl->valuelen - 1 < 31 ? fl->valuelen - 1 : 31);
        r->want = (size_t)strtoull(v, NULL, 10);
    }
    return 0;
}

static int s_data(tool_h3 *h, int64_t sid, const uint8_t *d, size_t n, void *ud)
{
    fx *f = h->app;
    req *r = ud;
    r->in_hash = fnv(r->in_hash, d, n);
    r->in_len += n;
    if (f->abort_in_data)
        tool_h3_abort_stream(h, sid, TOOL_H3_REQUEST_CANCELLED);
    return 0;
}

static int s_end(tool_h3 *h, int64_t sid, void *ud)
{
    req *r = ud;
    char len[24];
    int n = snprintf(len, sizeof(len), "%zu", r->want);
    tool_qpack_field fl[] = {
        {(const uint8_t *)":status", 7, (const uint8_t *)"200", 3},
        {(const uint8_t *)"content-length", 14, (const uint8_t *)len, (size_t)n},
    };
    r->ended = 1;
    if (((fx *)h->app)->stall)
        r->stalls = 1000000;
    if (((fx *)h->app)->abort_in_data) {
        /* the sending side is gone: no response any more */
        assert_int_equal(tool_h3_submit_response(h, sid, fl, 2, 1), -1);
        return 0;
    }
    /* a second response to the same stream is refused */
    assert_int_equal(tool_h3_submit_response(h, sid, fl, 2, 1), 0);
    assert_int_equal(tool_h3_submit_response(h, sid, fl, 2, 1), -1);
    return 0;
}

static int s_close(tool_h3 *h, int64_t sid, uint64_t code, void *ud)
{
    req *r = ud;
    if (r) {
        r->closed++;
        r->code = code;
    }
    return 0;
}

/* The body in pieces of varying sizes (1 to ~20,000 octets), some of them empty. */
static ssize_t s_read(tool_h3 *h, int64_t sid, tool_h3_vec *vec, size_t veccnt, int *eof, void *ud)
{
    req *r = ud;
    size_t n = 0;
    if (r->stalls > 0) {
        r->stalls--;
        return TOOL_H3_WOULDBLOCK;
    }
    if (((fx *)h->app)->small)
        veccnt = 1;
    while (n < veccnt && r->out_off < r->want) {
        size_t piece = 1 + (r->out_off * 7919 + n * 104729) % 20000;
        if (((fx *)h->app)->small)
            piece = 100;
        if (n == 3)
            piece = 0;
        if (piece > r->want - r->out_off)
            piece = r->want - r->out_off;
        vec[n].base = pattern + r->out_off;
        vec[n].len = piece;
        r->out_off += piece;
        n++;
    }
    *eof = r->out_off == r->want;
    return (ssize_t)n;
}

static int s_acked(tool_h3 *h, int64_t sid, uint64_t n, void *ud)
{
    req *r = ud;
    r->acked += n;
    assert_true(r->acked <= r->out_off);
    return 0;
}

static void release(void *ud, const void *data, size_t len)
{
    fx *f = ud;
    f->released++;
    f->ref_bytes -= len;
    assert_true((const uint8_t *)data >= pattern && (const uint8_t *)data + len <= pattern + BIG);
}

static int by_ref(void *app, int64_t sid, const uint8_t *base, size_t len, tern_release_fn *rel,
                  void **rud)
{
    fx *f = app;
    if (!f->by_ref)
        return 0;
    f->refs++;
    f->ref_bytes += len;
    *rel = release;
    *rud = f;
    return 1;
}

static const tool_h3_callbacks srv_cb = {
    .begin_headers = s_begin,
    .recv_header = s_header,
    .recv_data = s_data,
    .end_stream = s_end,
    .stream_close = s_close,
    .read_data = s_read,
    .acked_stream_data = s_acked,
};

/* ---- the client application ---- */

static int c_header(tool_h3 *h, int64_t sid, const tool_qpack_field *fl, void *ud)
{
    req *r = ud;
    if (fl->namelen == 7 && memcmp(fl->name, ":status", 7) == 0)
        r->status = (fl->value[0] - '0') * 100 + (fl->value[1] - '0') * 10 + (fl->value[2] - '0');
    return 0;
}

static int c_headers_end(tool_h3 *h, int64_t sid, int fin, void *ud)
{
    ((req *)ud)->headers++;
    return 0;
}

static int c_data(tool_h3 *h, int64_t sid, const uint8_t *d, size_t n, void *ud)
{
    req *r = ud;
    r->in_hash = fnv(r->in_hash, d, n);
    r->in_len += n;
    return 0;
}

static int c_end(tool_h3 *h, int64_t sid, void *ud)
{
    ((req *)ud)->ended = 1;
    return 0;
}

static const tool_h3_callbacks cli_cb = {
    .recv_header = c_header,
    .end_headers = c_headers_end,
    .recv_data = c_data,
    .end_stream = c_end,
    .stream_close = s_close,
};

/* ---- tern callbacks of both sides ---- */

/* The SETTINGS a raw server sends: what the layer sends, but for its reserved setting. */
static const uint8_t raw_settings[] = {0x00, 0x04, 0x0e, 0x06, 0x80, 0x00, 0x40, 0x00, 0x01,
                                       0x00, 0x07, 0x00, 0x80, 0x00, 0x00, 0x21, 0x00};

static void srv_start(fx *f, tern_conn *c)
{
    char err[128];
    if (f->srv || f->raw_server == 2)
        return;
    if (f->raw_server) {
        int64_t sid;
        assert_int_equal(tern_conn_open_stream(c, 0, &sid), 0);
        assert_int_equal(tern_stream_write(c, sid, raw_settings, sizeof(raw_settings), 0),
                         (ssize_t)sizeof(raw_settings));
        f->raw_server = 2;
        return;
    }
    assert_int_equal(tool_h3_new(&f->srv, c, 1, &srv_cb, f, err, sizeof(err)), 0);
    f->srv->by_ref = by_ref;
}

#define MEASURED(f, call)                                                                          \
    do {                                                                                           \
        unsigned long long before_ = allochook_count;                                              \
        allochook_tag = (f)->measure;                                                              \
        call;                                                                                      \
        allochook_tag = 0;                                                                         \
        (f)->srv_allocs += allochook_count - before_;                                              \
    } while (0)

static void srv_connected(tern_conn *c, void *ud)
{
    MEASURED((fx *)ud, srv_start(ud, c));
}

static void srv_readable(tern_conn *c, int64_t sid, void *ud)
{
    fx *f = ud;
    unsigned long long before = allochook_count;
    allochook_tag = f->measure;
    srv_start(f, c);
    if (f->srv) {
        tool_h3_on_readable(f->srv, sid, f->buf, f->cap);
    } else {
        int fin = 0;
        while (tern_stream_read(c, sid, f->buf, sizeof(f->buf), &fin) > 0 && !fin)
            ;
    }
    allochook_tag = 0;
    f->srv_allocs += allochook_count - before;
}

static void srv_writable(tern_conn *c, int64_t sid, void *ud)
{
    fx *f = ud;
    if (f->srv)
        MEASURED(f, tool_h3_on_writable(f->srv, sid));
}

static void srv_reset(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    fx *f = ud;
    if (f->srv)
        MEASURED(f, tool_h3_on_reset(f->srv, sid, code));
}

static void srv_stop(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    fx *f = ud;
    if (f->srv)
        MEASURED(f, tool_h3_on_stop_sending(f->srv, sid, code));
}

static void cli_connected(tern_conn *c, void *ud)
{
    fx *f = ud;
    char err[128];
    f->p.connected = 1;
    if (!f->raw_client)
        assert_int_equal(tool_h3_new(&f->cli, c, 0, &cli_cb, f, err, sizeof(err)), 0);
}

static void cli_readable(tern_conn *c, int64_t sid, void *ud)
{
    fx *f = ud;
    int fin = 0;
    if (f->cli) {
        tool_h3_on_readable(f->cli, sid, f->buf, f->cap);
        return;
    }
    for (int i = 0; i < f->nraw; i++) {
        if (f->raw_sid[i] != sid)
            continue;
        for (;;) {
            if (f->raw_cap[i] - f->raw_len[i] < 4096) {
                f->raw_cap[i] = f->raw_cap[i] ? 2 * f->raw_cap[i] : 65536;
                f->raw_in[i] = realloc(f->raw_in[i], f->raw_cap[i]);
                assert_non_null(f->raw_in[i]);
            }
            ssize_t n = tern_stream_read(c, sid, f->raw_in[i] + f->raw_len[i],
                                         f->raw_cap[i] - f->raw_len[i], &fin);
            if (n < 0)
                return;
            f->raw_len[i] += (size_t)n;
            if (fin) {
                f->raw_fin[i] = 1;
                return;
            }
        }
    }
    while (tern_stream_read(c, sid, f->buf, sizeof(f->buf), &fin) > 0 && !fin)
        ;
}

static void cli_writable(tern_conn *c, int64_t sid, void *ud)
{
    fx *f = ud;
    if (f->cli)
        tool_h3_on_writable(f->cli, sid);
}

static void cli_reset(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    fx *f = ud;
    if (f->cli) {
        tool_h3_on_reset(f->cli, sid, code);
        return;
    }
    for (int i = 0; i < f->nraw; i++)
        if (f->raw_sid[i] == sid)
            f->raw_reset[i] = code + 1;
}

static void cli_stop(tern_conn *c, int64_t sid, uint64_t code, void *ud)
{
    fx *f = ud;
    if (f->cli)
        tool_h3_on_stop_sending(f->cli, sid, code);
}

static const tern_callbacks srv_tern = {
    .on_connected = srv_connected,
    .on_stream_readable = srv_readable,
    .on_stream_writable = srv_writable,
    .on_stream_reset = srv_reset,
    .on_stream_stop_sending = srv_stop,
};
static const tern_callbacks cli_tern = {
    .on_connected = cli_connected,
    .on_stream_readable = cli_readable,
    .on_stream_writable = cli_writable,
    .on_stream_reset = cli_reset,
    .on_stream_stop_sending = cli_stop,
};

static fx *fx_new(int raw_client, int raw_server)
{
    static const char *alpn[] = {"h3"};
    fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->raw_client = raw_client;
    f->raw_server = raw_server;
    f->cap = sizeof(f->buf);
    assert_int_equal(pair_init(&f->p, 7), 0);
    assert_int_equal(pair_set_alpn(&f->p, alpn, 1), 0);
    f->p.server_cb = &srv_tern;
    f->p.server_ud = f;
    f->p.client_cb = &cli_tern;
    f->p.client_ud = f;
    assert_true(pair_run(&f->p, pair_cond_connected, 5000 * MS));
    return f;
}

/* Frees both connections and layers; the fixture itself stays for what the test checks after. */
static void fx_end(fx *f)
{
    tool_h3_free(f->srv);
    tool_h3_free(f->cli);
    f->srv = f->cli = NULL;
    pair_free(&f->p);
    for (int i = 0; i < NREQ; i++)
        free(f->raw_in[i]);
}

static void fx_free(fx *f)
{
    fx_end(f);
    free(f);
}

static fx *run_fx; /* for the conditions below */
static req *run_req;

static int cond_closed(tern_pair *p)
{
    return run_req->closed > 0;
}

static int never(tern_pair *p)
{
    return 0;
}

/* The client asks for /<size> through its layer. Returns its record. */
static req *get(fx *f, size_t size)
{
    char path[32];
    int64_t sid;
    int n = snprintf(path, sizeof(path), "/%zu", size);
    tool_qpack_field fl[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)"GET", 3},
        {(const uint8_t *)":scheme", 7, (const uint8_t *)"https", 5},
        {(const uint8_t *)":authority", 10, (const uint8_t *)"localhost", 9},
        {(const uint8_t *)":path", 5, (const uint8_t *)path, (size_t)n},
    };
    assert_int_equal(tern_conn_open_stream(f->p.client, 1, &sid), 0);
    req *r = find(f->creq, sid, 1);
    assert_non_null(r);
    assert_int_equal(tool_h3_submit_request(f->cli, sid, fl, 4, r), 0);
    /* a stream has one request */
    assert_int_equal(tool_h3_submit_request(f->cli, sid, fl, 4, r), -1);
    return r;
}

/* ---- GET through the layer on both sides ---- */

static void one_get(size_t size, int ref, size_t cap)
{
    fx *f = fx_new(0, 0);
    f->by_ref = ref;
    f->cap = cap;
    req *c = get(f, size);
    run_fx = f;
    run_req = c;
    assert_true(pair_run(&f->p, cond_closed, 60000 * MS));
    req *s = find(f->sreq, c->sid, 0);
    assert_non_null(s);
    assert_int_equal(c->status, 200);
    assert_int_equal(c->headers, 1);
    assert_int_equal(c->ended, 1);
    assert_int_equal(c->code, TOOL_H3_NO_ERROR);
    assert_int_equal(c->in_len, size);
    assert_int_equal(c->in_hash, fnv(FNV0, pattern, size));
    pair_run(&f->p, never, 200 * MS);
    assert_int_equal(s->closed, 1);
    assert_int_equal(s->code, TOOL_H3_NO_ERROR);
    assert_int_equal(s->acked, size);
    assert_int_equal(s->in_len, 0);
    if (ref && size)
        assert_true(f->refs > 0);
    if (!ref)
        assert_int_equal(f->refs, 0);
    assert_int_equal(tool_h3_open_streams(f->srv), 0);
    assert_int_equal(tool_h3_open_streams(f->cli), 0);
    assert_false(f->srv->failed || f->cli->failed);
    fx_end(f); /* tern releases every referenced piece at the latest when freed */
    assert_int_equal(f->refs, f->released);
    assert_int_equal(f->ref_bytes, 0);
    free(f);
}

static void test_get_copied(void **state)
{
    size_t sizes[] = {0, 1, 70000, BIG};
    for (size_t i = 0; i < 4; i++)
        one_get(sizes[i], 0, 65536);
}

static void test_get_by_ref(void **state)
{
    size_t sizes[] = {0, 1, 70000, BIG};
    for (size_t i = 0; i < 4; i++)
        one_get(sizes[i], 1, 65536);
}

/* Reads of one to a few octets: every frame header and payload is cut across reads. */
static void test_get_split_reads(void **state)
{
    size_t sizes[] = {0, 1, 70000, BIG};
    for (size_t i = 0; i < 4; i++)
        one_get(sizes[i], (int)(i & 1), 17);
}

static int cond_all_closed(tern_pair *p)
{
    for (int i = 0; i < NREQ; i++)
        if (run_fx->creq[i].used && !run_fx->creq[i].closed)
            return 0;
    return 1;
}

/* 20 requests at once over links that lose and reorder 5% of the datagrams, responses by
 * reference, reads cut short: every body arrives whole, every stream closes on both sides. */
static void test_concurrent_lossy(void **state)
{
    fx *f = fx_new(0, 0);
    run_fx = f;
    f->by_ref = 1;
    f->cap = 33;
    f->p.c2s.loss = f->p.s2c.loss = 0.05;
    f->p.c2s.reorder = f->p.s2c.reorder = 0.05;
    f->p.c2s.reorder_ns = f->p.s2c.reorder_ns = 5 * MS;
    req *c[20];
    for (int i = 0; i < 20; i++)
        c[i] = get(f, 20000 + 5000 * (size_t)i);
    assert_true(pair_run(&f->p, cond_all_closed, 120000 * MS));
    for (int i = 0; i < 20; i++) {
        size_t size = 20000 + 5000 * (size_t)i;
        assert_int_equal(c[i]->code, TOOL_H3_NO_ERROR);
        assert_int_equal(c[i]->in_len, size);
        assert_int_equal(c[i]->in_hash, fnv(FNV0, pattern, size));
    }
    pair_run(&f->p, never, 2000 * MS);
    assert_int_equal(tool_h3_open_streams(f->srv), 0);
    assert_int_equal(tool_h3_open_streams(f->cli), 0);
    assert_false(f->srv->failed || f->cli->failed);
    fx_end(f);
    assert_int_equal(f->refs, f->released);
    free(f);
}

/* ---- a raw client: request bodies, written an octet at a time ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    if (v < 64) {
        p[0] = (uint8_t)v;
        return 1;
    }
    if (v < 16384) {
        p[0] = (uint8_t)(0x40 | v >> 8);
        p[1] = (uint8_t)v;
        return 2;
    }
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    p[0] |= 0x80;
    return 4;
}

/* Writes all of d[0..n) on the raw client's stream, `step` octets per packet (0: at once). */
static void raw_write(fx *f, int64_t sid, const uint8_t *d, size_t n, size_t step, int fin)
{
    size_t off = 0;
    while (off < n || fin) {
        size_t k = step && n - off > step ? step : n - off;
        int last = off + k == n;
        ssize_t w = tern_stream_write(f->p.client, sid, n ? d + off : d, k, fin && last);
        assert_true(w >= 0);
        off += (size_t)w;
        pair_run(&f->p, never, step ? 1 * MS : 0);
        if (last && (size_t)w == k && fin)
            break;
        if ((size_t)w < k)
            pair_run(&f->p, never, 20 * MS);
    }
}

/* The raw client's request on a new stream: HEADERS (content-length `size`), then the body in
 * DATA frames of up to 5,000 octets with an unknown frame between two of them; the frame headers
 * and the start of the body go an octet at a time. Returns the stream. */
static int64_t raw_post(fx *f, size_t size, size_t resp)
{
    uint8_t hb[256], sec[200], fh[16];
    char path[32], len[24];
    int64_t sid;
    int pn = snprintf(path, sizeof(path), "/%zu", resp);
    int ln = snprintf(len, sizeof(len), "%zu", size);
    tool_qpack_field fl[] = {
        {(const uint8_t *)":method", 7, (const uint8_t *)"POST", 4},
        {(const uint8_t *)":scheme", 7, (const uint8_t *)"https", 5},
        {(const uint8_t *)":authority", 10, (const uint8_t *)"localhost", 9},
        {(const uint8_t *)":path", 5, (const uint8_t *)path, (size_t)pn},
        {(const uint8_t *)"content-length", 14, (const uint8_t *)len, (size_t)ln},
    };
    ssize_t sl = tool_qpack_encode(sec, sizeof(sec), fl, 5);
    assert_true(sl > 0);
    size_t hl = 0;
    hb[hl++] = 0x01;
    hl += put_varint(hb + hl, (uint64_t)sl);
    memcpy(hb + hl, sec, (size_t)sl);
    hl += (size_t)sl;
    assert_int_equal(tern_conn_open_stream(f->p.client, 1, &sid), 0);
    f->raw_sid[f->nraw++] = sid;
    raw_write(f, sid, hb, hl, 1, 0);
    size_t off = 0;
    int k = 0;
    while (off < size) {
        size_t piece = size - off < 5000 ? size - off : 5000;
        size_t n = put_varint(fh, 0x00);
        n += put_varint(fh + n, piece);
        raw_write(f, sid, fh, n, 1, 0);
        raw_write(f, sid, pattern + off, piece, k < 3 ? 1 : 0, 0);
        off += piece;
        if (k++ == 1) {
            /* a reserved frame type (0x1f * 5 + 0x21) with 3 octets: skipped */
            static const uint8_t grease[] = {0x40, 0x9a, 0x03, 1, 2, 3};
            raw_write(f, sid, grease, sizeof(grease), 1, 0);
        }
    }
    raw_write(f, sid, NULL, 0, 0, 1);
    return sid;
}

/* Parses a raw response: HEADERS first (its :status into *status), then DATA payloads hashed. */
static void raw_parse(const uint8_t *p, size_t n, int *status, uint64_t *hash, uint64_t *len)
{
    size_t off = 0;
    *hash = FNV0;
    *len = 0;
    *status = 0;
    while (off < n) {
        uint64_t t = p[off] & 0x3f, l;
        size_t tl = (size_t)1 << (p[off] >> 6), ll;
        for (size_t i = 1; i < tl; i++)
            t = t << 8 | p[off + i];
        off += tl;
        ll = (size_t)1 << (p[off] >> 6);
        l = p[off] & 0x3f;
        for (size_t i = 1; i < ll; i++)
            l = l << 8 | p[off + i];
        off += ll;
        assert_true(off + l <= n);
        if (t == 0x01 && !*status) {
            /* the static entry of ":status 200" (index 25) as an indexed field line */
            assert_true(l >= 3);
            assert_int_equal(p[off + 2], 0xc0 | 25);
            *status = 200;
        } else if (t == 0x00) {
            *hash = fnv(*hash, p + off, (size_t)l);
            *len += l;
        }
        off += (size_t)l;
    }
}

static int cond_raw_fin0(tern_pair *p)
{
    return run_fx->raw_fin[0];
}

static void test_request_body_split(void **state)
{
    size_t sizes[] = {0, 1, 70000, BIG};
    for (size_t i = 0; i < 4; i++) {
        fx *f = fx_new(1, 0);
        run_fx = f;
        int64_t sid = raw_post(f, sizes[i], 1000);
        assert_true(pair_run(&f->p, cond_raw_fin0, 60000 * MS));
        req *s = find(f->sreq, sid, 0);
        assert_non_null(s);
        assert_int_equal(s->ended, 1);
        assert_int_equal(s->in_len, sizes[i]);
        assert_int_equal(s->in_hash, fnv(FNV0, pattern, sizes[i]));
        int status;
        uint64_t h, len;
        raw_parse(f->raw_in[0], f->raw_len[0], &status, &h, &len);
        assert_int_equal(status, 200);
        assert_int_equal(len, 1000);
        assert_int_equal(h, fnv(FNV0, pattern, 1000));
        pair_run(&f->p, never, 200 * MS);
        assert_int_equal(s->closed, 1);
        assert_int_equal(tool_h3_open_streams(f->srv), 0);
        assert_false(f->srv->failed);
        fx_free(f);
    }
}

/* ---- the tool's calls from callbacks and later ---- */

/* read_data has nothing at first: the stream waits until resumed, then the body completes. */
static void test_resume(void **state)
{
    fx *f = fx_new(0, 0);
    f->stall = 1;
    req *c = get(f, 70000);
    run_req = c;
    pair_run(&f->p, never, 500 * MS);
    req *s = find(f->sreq, c->sid, 0);
    assert_non_null(s);
    assert_int_equal(s->ended, 1);
    /* the headers went, no body: read_data was asked once and not again while it waits */
    assert_int_equal(c->headers, 1);
    assert_int_equal(c->in_len, 0);
    assert_int_equal(s->stalls, 1000000 - 1);
    s->stalls = 0;
    tool_h3_resume_stream(f->srv, c->sid);
    assert_true(pair_run(&f->p, cond_closed, 10000 * MS));
    assert_int_equal(c->in_len, 70000);
    assert_int_equal(c->in_hash, fnv(FNV0, pattern, 70000));
    assert_int_equal(c->code, TOOL_H3_NO_ERROR);
    fx_free(f);
}

/* The server abandons a response from inside recv_data: the client sees the reset's code, the
 * server's record closes once the request's FIN is in, with that code. */
static void test_abort_from_callback(void **state)
{
    fx *f = fx_new(1, 0);
    run_fx = f;
    f->abort_in_data = 1;
    int64_t sid = raw_post(f, 100, 1000);
    pair_run(&f->p, never, 500 * MS);
    req *s = find(f->sreq, sid, 0);
    assert_non_null(s);
    assert_int_equal(s->closed, 1);
    assert_int_equal(s->code, TOOL_H3_REQUEST_CANCELLED);
    assert_int_equal(tool_h3_open_streams(f->srv), 0);
    assert_int_equal(f->raw_len[0], 0);
    assert_int_equal(f->raw_reset[0], TOOL_H3_REQUEST_CANCELLED + 1);
    assert_false(f->srv->failed);
    fx_free(f);
}

/* 3,000,000 bytes in 30,000 DATA frames of 100 octets, some 2,500 packets: what the server side
 * allocates inside its calls (the layer, and tern under it) does not grow with either. */
static void test_no_allocation_per_frame(void **state)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    for (int ref = 0; ref < 2; ref++) {
        fx *f = fx_new(0, 0);
        f->small = 1;
        f->by_ref = ref;
        req *c = get(f, BIG);
        run_req = c;
        assert_true(pair_run(&f->p, cond_closed, 60000 * MS));
        assert_int_equal(c->in_len, BIG);
        assert_int_equal(c->in_hash, fnv(FNV0, pattern, BIG));
        printf("3 MB in 100-octet DATA frames (%s): %llu allocations on the server side\n",
               ref ? "by reference" : "copied", f->srv_allocs);
        assert_true(f->srv_allocs < 100);
        fx_free(f);
    }
}

/* ---- memory of an idle connection ---- */

/* Heap the server side holds once SETTINGS went both ways: the layer's, and a raw endpoint's
 * that opens a control stream, writes SETTINGS and drains the client's streams. */
static long long idle_heap(int raw_server)
{
    fx *f = calloc(1, sizeof(*f));
    static const char *alpn[] = {"h3"};
    assert_non_null(f);
    f->raw_server = raw_server;
    f->cap = sizeof(f->buf);
    f->measure = 1;
    assert_int_equal(pair_init(&f->p, 7), 0);
    assert_int_equal(pair_set_alpn(&f->p, alpn, 1), 0);
    f->p.server_cb = &srv_tern;
    f->p.server_ud = f;
    f->p.client_cb = &cli_tern;
    f->p.client_ud = f;
    allochook_bytes = 0;
    assert_true(pair_run(&f->p, pair_cond_connected, 5000 * MS));
    pair_run(&f->p, never, 1000 * MS); /* SETTINGS both ways, acknowledged */
    long long held = allochook_bytes;
    if (!raw_server) {
        assert_non_null(f->srv);
        assert_int_equal(tool_h3_open_streams(f->srv), 0);
        assert_false(f->srv->failed || f->cli->failed);
    }
    f->measure = 0;
    fx_free(f);
    return held;
}

static void test_idle_memory(void **state)
{
    if (!ALLOCHOOK_ACTIVE)
        skip();
    long long raw = idle_heap(1), layer = idle_heap(0);
    printf("idle server side: %lld bytes with the layer, %lld for the same tern work: %lld\n",
           layer, raw, layer - raw);
    assert_true(layer - raw <= 512);
    assert_true(layer > raw); /* the tool_h3 itself is measured */
}

int main(void)
{
    for (size_t i = 0; i < BIG; i++)
        pattern[i] = (uint8_t)((i * 2654435761u) >> 13);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_copied),          cmocka_unit_test(test_get_by_ref),
        cmocka_unit_test(test_get_split_reads),     cmocka_unit_test(test_concurrent_lossy),
        cmocka_unit_test(test_request_body_split),  cmocka_unit_test(test_resume),
        cmocka_unit_test(test_abort_from_callback), cmocka_unit_test(test_no_allocation_per_frame),
        cmocka_unit_test(test_idle_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
