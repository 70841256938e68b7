/* Test fixture: a server and a client endpoint of the real runtime in one process over loopback,
 * a download (and optional upload) application checked by SHA-256, a poll-based driver, and a
 * recorder of path events and log lines for diagnosis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "loopfx.h"
#include "tern/core.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testcert.h"

static char g_dir[64], g_cert[512], g_key[512];

/* ---- payload --------------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A pure function of the stream and the offset, so both sides agree without sharing state, and a
 * byte delivered on the wrong stream does not pass for the right one. */
void loopfx_fill(int64_t sid, uint64_t off, uint8_t *out, size_t n)
{
    uint64_t key = (uint64_t)sid * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n;) {
        uint64_t s = ((off + i) / 8) ^ key;
        uint64_t v = splitmix(&s);
        for (unsigned b = (unsigned)((off + i) % 8); b < 8 && i < n; b++)
            out[i++] = (uint8_t)(v >> (8 * b));
    }
}

void loopfx_expected_sha(int64_t sid, uint64_t len, uint8_t out[32])
{
    uint8_t *buf = malloc(LOOPFX_CHUNK);
    assert_non_null(buf);
    gnutls_hash_hd_t h;
    assert_int_equal(gnutls_hash_init(&h, GNUTLS_DIG_SHA256), 0);
    for (uint64_t off = 0; off < len;) {
        size_t n = len - off < LOOPFX_CHUNK ? (size_t)(len - off) : LOOPFX_CHUNK;
        loopfx_fill(sid, off, buf, n);
        gnutls_hash(h, buf, n);
        off += n;
    }
    gnutls_hash_deinit(h, out);
    free(buf);
}

uint64_t loopfx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint16_t loopfx_port(const tern_addr *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in.sin_port : a->u.in6.sin6_port);
}

/* ---- the application ------------------------------------------------------------------------- */

#define UPLOAD_FLAG (1ull << 63) /* in the request: an upload follows it */

static void try_key_update(loopfx_side *s, tern_conn *c, uint64_t moved)
{
    if (!s->key_update_at || s->key_update_started || moved < s->key_update_at)
        return;
    int rv = tern_conn_key_update(c);
    if (rv == 0)
        s->key_update_started = 1;
    else if (rv != TERN_ERR_STREAM_STATE) /* not yet possible: retried on the next bytes */
        s->errors++;
}

/* The request's slot, taken from the free ones for a new stream (NULL when all are in use). */
static loopfx_served *served_get(loopfx_side *s, tern_conn *c, int64_t sid, int create)
{
    loopfx_served *free_slot = NULL;
    for (size_t i = 0; i < LOOPFX_STREAMS; i++) {
        loopfx_served *r = &s->served[i];
        if (r->conn == c && r->sid == sid)
            return r;
        if (!r->conn && !free_slot)
            free_slot = r;
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->conn = c;
    free_slot->sid = sid;
    return free_slot;
}

static void server_pump(loopfx_side *s, loopfx_served *r)
{
    while (r->sending && !r->done) {
        uint64_t left = r->want - r->sent;
        size_t n = left < LOOPFX_CHUNK ? (size_t)left : LOOPFX_CHUNK;
        /* only what the stream takes now is generated; a full one is offered a single byte, so
         * that the write still reports why it is full */
        size_t room = tern_stream_writable(r->conn, r->sid);
        if (n > room)
            n = room ? room : 1;
        int fin = n == left;
        loopfx_fill(r->sid, r->sent, s->buf, n);
        ssize_t w = tern_stream_write(r->conn, r->sid, s->buf, n, fin);
        if (w == TERN_ERR_WOULD_BLOCK)
            return;
        if (w < 0) {
            s->errors++;
            return;
        }
        r->sent += (uint64_t)w;
        s->sent += (uint64_t)w;
        try_key_update(s, r->conn, s->sent);
        if (fin && (size_t)w == n)
            r->done = 1;
        else if (w == 0)
            return;
    }
}

/* The upload after the request header; the last write carries FIN. Uses its own buffer: it may
 * run from inside a read callback that is using s->buf. */
static void client_pump(loopfx_side *s, tern_conn *c)
{
    uint8_t tmp[4096];
    while (s->csid >= 0 && s->up_sent < s->up_total) {
        uint64_t left = s->up_total - s->up_sent;
        size_t n = left < sizeof(tmp) ? (size_t)left : sizeof(tmp);
        loopfx_fill(s->csid, s->up_sent, tmp, n);
        ssize_t w = tern_stream_write(c, s->csid, tmp, n, s->up_sent + n == s->up_total);
        if (w == TERN_ERR_WOULD_BLOCK || w == 0)
            return;
        if (w < 0) {
            s->errors++;
            return;
        }
        s->up_sent += (uint64_t)w;
    }
}

static void on_accept(tern_conn *c, void *ud)
{
    loopfx_side *s = ud;
    s->accepted++;
    s->conn = c;
}

static void on_connected(tern_conn *c, void *ud)
{
    loopfx_side *s = ud;
    s->connected++;
    s->conn = c;
    snprintf(s->alpn, sizeof(s->alpn), "%s", tern_conn_alpn(c));
}

static void upload_start(loopfx_side *s, loopfx_served *r)
{
    if (s->up_hash)
        gnutls_hash_deinit(s->up_hash, NULL);
    s->up_hash = NULL;
    s->up_got = 0;
    s->up_fin = 0;
    s->up_slot = (int)(r - s->served);
    if (gnutls_hash_init(&s->up_hash, GNUTLS_DIG_SHA256) != 0) {
        s->up_hash = NULL;
        s->errors++;
    }
}

/* What arrived of a request (in s->buf); bytes past its 8 bytes are an error unless it announced
 * an upload. Returns 0 after an error. */
static int server_data(loopfx_side *s, loopfx_served *r, size_t n, int fin)
{
    size_t i = 0, had = r->req_len;
    while (i < n && r->req_len < 8)
        r->req[r->req_len++] = s->buf[i++];
    if (had < 8 && r->req_len == 8) {
        for (int k = 0; k < 8; k++)
            r->want = r->want << 8 | r->req[k];
        r->upload = (r->want & UPLOAD_FLAG) != 0;
        r->want &= ~UPLOAD_FLAG;
        if (r->upload)
            upload_start(s, r);
    }
    int mine = r->upload && s->up_slot == (int)(r - s->served) && s->up_hash;
    if (i < n) {
        if (!mine)
            return 0;
        gnutls_hash(s->up_hash, s->buf + i, n - i);
        s->up_got += n - i;
    }
    if (fin) {
        if (r->req_len < 8 || r->sending)
            return 0;
        if (mine) {
            gnutls_hash_deinit(s->up_hash, s->up_sha);
            s->up_hash = NULL;
            s->up_fin = 1;
        }
        r->sending = 1;
        server_pump(s, r);
    }
    return 1;
}

static loopfx_stream *stream_find(loopfx_side *s, tern_conn *c, int64_t sid)
{
    for (size_t i = 0; i < s->nst; i++)
        if (s->st[i].conn == c && s->st[i].sid == sid)
            return &s->st[i];
    return NULL;
}

/* What arrived of a download (in s->buf), checked against the expected bytes at once. Returns 0
 * after an error. */
static int client_data(loopfx_side *s, loopfx_stream *st, size_t n, int fin)
{
    if ((n > 0 || fin) && st->fin)
        return 0;
    if (n > 0) {
        loopfx_fill(st->sid, st->got, s->expect, n);
        if (memcmp(s->buf, s->expect, n) != 0)
            st->mismatch = 1;
        gnutls_hash(st->hash, s->buf, n);
        st->got += n;
        s->got += n;
        try_key_update(s, st->conn, s->got);
    }
    if (fin) {
        st->fin = 1;
        gnutls_hash_deinit(st->hash, st->sha);
        st->hash = NULL;
        s->fin = 1;
        for (size_t i = 0; i < s->nst; i++)
            s->fin &= s->st[i].fin;
    }
    return 1;
}

static void on_readable(tern_conn *c, int64_t sid, void *ud)
{
    loopfx_side *s = ud;
    loopfx_served *r = s->is_server ? served_get(s, c, sid, 1) : NULL;
    loopfx_stream *st = s->is_server ? NULL : stream_find(s, c, sid);
    if (!r && !st) { /* a server out of slots, or a stream the client never opened */
        s->errors++;
        return;
    }
    for (;;) {
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, s->buf, sizeof(s->buf), &fin);
        if (n == TERN_ERR_WOULD_BLOCK)
            return;
        if (n < 0 ||
            !(r ? server_data(s, r, (size_t)n, fin) : client_data(s, st, (size_t)n, fin))) {
            s->errors++;
            return;
        }
        if (fin || n == 0)
            return;
    }
}

static void on_writable(tern_conn *c, int64_t sid, void *ud)
{
    loopfx_side *s = ud;
    if (s->is_server) {
        loopfx_served *r = served_get(s, c, sid, 0);
        if (r)
            server_pump(s, r);
    } else if (sid == s->csid) {
        client_pump(s, c);
    }
}

static void on_closed(tern_conn *c, const tern_close_info *info, void *ud)
{
    loopfx_side *s = ud;
    s->closed++;
    s->close = *info;
    s->closed_state = tern_core_state(c);
    if (s->conn == c)
        s->conn = NULL;
    /* the connection's memory may serve a later one: its requests go with it */
    for (size_t i = 0; s->is_server && i < LOOPFX_STREAMS; i++)
        if (s->served[i].conn == c) {
            s->served[i].conn = NULL;
            if (s->up_slot == (int)i)
                s->up_slot = -1;
        }
}

static void on_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    loopfx_side *s = ud;
    int t = (int)ev->type;
    if (t < 0 || t >= 8) {
        s->errors++;
        return;
    }
    s->ev_count[t]++;
    s->ev_reason[t] = (int)ev->reason;
    if (s->nev < LOOPFX_EVENTS) {
        loopfx_event *e = &s->ev[s->nev];
        memset(e, 0, sizeof(*e));
        e->type = ev->type;
        e->reason = ev->reason;
        if (ev->path)
            e->path = *ev->path;
        if (ev->from) {
            e->from = *ev->from;
            e->has_from = 1;
        }
        e->rtt_ns = ev->rtt_ns;
        e->at_ms = loopfx_now_ms() - s->fx->t0_ms;
    }
    s->nev++;
}

static void on_new_token(tern_conn *c, const uint8_t *token, size_t len, void *ud)
{
    loopfx_side *s = ud;
    (void)c;
    assert_true(len > 0 && len <= sizeof(s->token));
    memcpy(s->token, token, len);
    s->token_len = len;
    s->tokens++;
}

const tern_callbacks loopfx_callbacks = {
    .on_new_token = on_new_token,
    .on_accept = on_accept,
    .on_connected = on_connected,
    .on_stream_readable = on_readable,
    .on_stream_writable = on_writable,
    .on_closed = on_closed,
    .on_path_event = on_path_event,
};

static void side_log(void *ud, const char *line)
{
    loopfx_side *s = ud;
    snprintf(s->log[s->nlog % LOOPFX_LOG_LINES], LOOPFX_LOG_LEN, "%6llu ms %s",
             (unsigned long long)(loopfx_now_ms() - s->fx->t0_ms), line);
    s->nlog++;
    if (getenv("LOOPFX_LOG"))
        fprintf(stderr, "[%s] %s\n", s->is_server ? "srv" : "cli",
                s->log[(s->nlog - 1) % LOOPFX_LOG_LINES]);
}

/* ---- fixture --------------------------------------------------------------------------------- */

static const char *const g_alpn[] = {LOOPFX_ALPN};

int loopfx_group_setup(void **st)
{
    (void)st;
    snprintf(g_dir, sizeof(g_dir), "/tmp/tern-loopfx-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    return tern_test_make_cert(g_dir, g_cert, sizeof(g_cert), g_key, sizeof(g_key));
}

int loopfx_group_teardown(void **st)
{
    (void)st;
    unlink(g_cert);
    unlink(g_key);
    rmdir(g_dir);
    return 0;
}

static void side_init(loopfx *f, loopfx_side *s, int server)
{
    memset(s, 0, sizeof(*s));
    s->fx = f;
    s->is_server = server;
    s->up_slot = -1;
    s->csid = -1;
}

/* Ends the client's request set: its hashes are released and its counters start again. */
static void streams_clear(loopfx_side *s)
{
    for (size_t i = 0; i < s->nst; i++)
        if (s->st[i].hash)
            gnutls_hash_deinit(s->st[i].hash, NULL);
    s->nst = 0;
    s->got = 0;
    s->fin = 0;
}

int loopfx_setup(void **st)
{
    loopfx *f = calloc(1, sizeof(loopfx));
    *st = f;
    if (!f)
        return -1;
    side_init(f, &f->srv, 1);
    side_init(f, &f->cli, 0);
    f->t0_ms = loopfx_now_ms();
    return 0;
}

int loopfx_teardown(void **st)
{
    loopfx *f = *st;
    loopfx_reset_client(f);
    if (f->srv.ep)
        tern_endpoint_free(f->srv.ep);
    if (f->srv.up_hash)
        gnutls_hash_deinit(f->srv.up_hash, NULL);
    free(f);
    return 0;
}

void loopfx_base_cfg(tern_config *cfg, int server)
{
    tern_config_init(cfg);
    cfg->alpn = g_alpn;
    cfg->alpn_count = 1;
    if (server) {
        cfg->cert_file = g_cert;
        cfg->key_file = g_key;
    } else {
        cfg->ca_file = g_cert;
    }
}

static void attach_log(tern_config *c, loopfx_side *s)
{
    if (!c->log) {
        c->log = side_log;
        c->log_ud = s;
    }
}

void loopfx_start_server_cb(loopfx *f, const tern_config *cfg, const tern_callbacks *cb,
                            const char *listen)
{
    tern_config c = *cfg;
    attach_log(&c, &f->srv);
    assert_int_equal(tern_endpoint_new(&c, cb ? cb : &loopfx_callbacks, &f->srv, &f->srv.ep), 0);
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, listen ? listen : "127.0.0.1:0", 0), 0);
    assert_int_equal(tern_endpoint_listen(f->srv.ep, &a), 0);
    assert_int_equal(tern_endpoint_local_addr(f->srv.ep, &f->addr), 0);
    assert_int_equal(f->addr.u.sa.sa_family, a.u.sa.sa_family);
    assert_int_not_equal(loopfx_port(&f->addr), 0);
    if (loopfx_port(&a))
        assert_int_equal(loopfx_port(&f->addr), loopfx_port(&a));
}

void loopfx_start_server(loopfx *f, const tern_config *cfg, const char *listen)
{
    loopfx_start_server_cb(f, cfg, NULL, listen);
}

void loopfx_start_client_to(loopfx *f, const tern_config *cfg, const tern_datapath_hooks *hooks,
                            const tern_addr *remote, const tern_addr *local)
{
    tern_config c = *cfg;
    attach_log(&c, &f->cli);
    assert_int_equal(tern_endpoint_new(&c, &loopfx_callbacks, &f->cli, &f->cli.ep), 0);
    if (hooks)
        assert_int_equal(tern_endpoint_set_datapath_hooks(f->cli.ep, hooks), 0);
    assert_int_equal(tern_endpoint_connect(f->cli.ep, remote ? remote : &f->addr, local,
                                           "localhost", &f->cli.conn),
                     0);
    assert_non_null(f->cli.conn);
    assert_int_equal(tern_endpoint_conn_count(f->cli.ep), 1);
}

void loopfx_start_client(loopfx *f, const tern_config *cfg, const tern_datapath_hooks *hooks)
{
    loopfx_start_client_to(f, cfg, hooks, NULL, NULL);
}

void loopfx_reset_client(loopfx *f)
{
    if (f->cli.ep)
        tern_endpoint_free(f->cli.ep);
    streams_clear(&f->cli);
    side_init(f, &f->cli, 0);
}

/* Runs both endpoints until cond(f, arg) holds or `ms` elapse. Returns 1 when cond held. */
static int drive(loopfx *f, int (*cond)(loopfx *, const void *), const void *arg, uint64_t ms)
{
    uint64_t end = loopfx_now_ms() + ms;
    loopfx_side *sides[2] = {&f->srv, &f->cli};
    while (!cond(f, arg)) {
        if (loopfx_now_ms() > end)
            return 0;
        struct pollfd p[2];
        int np = 0, t = 20;
        for (int i = 0; i < 2; i++) {
            if (!sides[i]->ep)
                continue;
            p[np].fd = tern_endpoint_fd(sides[i]->ep);
            p[np].events = POLLIN;
            np++;
            int et = tern_endpoint_timeout_ms(sides[i]->ep);
            if (et >= 0 && et < t)
                t = et;
        }
        poll(p, (nfds_t)np, t);
        for (int i = 0; i < 2; i++)
            if (sides[i]->ep)
                assert_int_equal(tern_endpoint_run_once(sides[i]->ep, 0), 0);
    }
    return 1;
}

static int plain_cond(loopfx *f, const void *arg)
{
    int (*const *cond)(loopfx *) = arg;
    return (*cond)(f);
}

int loopfx_drive(loopfx *f, int (*cond)(loopfx *), uint64_t ms)
{
    return drive(f, plain_cond, &cond, ms);
}

typedef struct ev_want {
    const loopfx_side *s;
    tern_path_event_type type;
    int n;
} ev_want;

static int events_cond(loopfx *f, const void *arg)
{
    const ev_want *w = arg;
    (void)f;
    return w->s->ev_count[w->type] >= w->n;
}

int loopfx_drive_events(loopfx *f, const loopfx_side *s, tern_path_event_type type, int n,
                        uint64_t ms)
{
    assert_true(type > 0 && type < 8);
    ev_want w = {s, type, n};
    return drive(f, events_cond, &w, ms);
}

int loopfx_cond_never(loopfx *f)
{
    (void)f;
    return 0;
}

int loopfx_cond_connected(loopfx *f)
{
    return f->cli.connected && f->srv.connected;
}

int loopfx_cond_done(loopfx *f)
{
    return f->cli.fin || f->cli.closed;
}

int loopfx_cond_client_closed(loopfx *f)
{
    return f->cli.closed;
}

/* Opens a stream on `c` and sends the request for `down` bytes; FIN follows unless an upload
 * does. */
static loopfx_stream *request_on(loopfx *f, tern_conn *c, uint64_t down, int upload, int fin)
{
    loopfx_side *s = &f->cli;
    assert_true(s->nst < LOOPFX_STREAMS);
    assert_true(down < UPLOAD_FLAG);
    loopfx_stream *st = &s->st[s->nst];
    memset(st, 0, sizeof(*st));
    st->conn = c;
    st->want = down;
    assert_int_equal(tern_conn_open_stream(c, 1, &st->sid), 0);
    assert_int_equal(gnutls_hash_init(&st->hash, GNUTLS_DIG_SHA256), 0);
    s->nst++;
    s->fin = 0;
    uint64_t v = down | (upload ? UPLOAD_FLAG : 0);
    uint8_t req[8];
    for (int i = 0; i < 8; i++)
        req[i] = (uint8_t)(v >> (56 - 8 * i));
    assert_int_equal(tern_stream_write(c, st->sid, req, sizeof(req), fin), 8);
    return st;
}

/* A new set: the server's record of the previous upload ends too (it restarts with the request
 * that announces the next one). */
static void new_set(loopfx *f)
{
    streams_clear(&f->cli);
    f->srv.up_fin = 0;
    f->srv.up_got = 0;
}

void loopfx_request_upload(loopfx *f, uint64_t down, uint64_t up)
{
    loopfx_side *c = &f->cli;
    new_set(f);
    loopfx_stream *st = request_on(f, c->conn, down, 1, up == 0);
    c->csid = st->sid;
    c->up_total = up;
    c->up_sent = 0;
    client_pump(c, c->conn);
}

void loopfx_request(loopfx *f, uint64_t down)
{
    new_set(f);
    request_on(f, f->cli.conn, down, 0, 1);
}

void loopfx_request_on(loopfx *f, tern_conn *c, uint64_t down)
{
    request_on(f, c, down, 0, 1);
}

void loopfx_check_download(loopfx *f, uint64_t bytes)
{
    const tern_close_info *ci = &f->cli.close;
    if (f->cli.closed) {
        loopfx_dump(f);
        fail_msg("client closed: status %d (%s), %s error 0x%llx frame 0x%llx, \"%s\"", ci->status,
                 tern_strerror(ci->status), ci->local ? "local" : "remote",
                 (unsigned long long)ci->error_code, (unsigned long long)ci->frame_type,
                 ci->reason);
    }
    assert_true(f->cli.nst > 0);
    assert_true(f->cli.fin);
    for (size_t i = 0; i < f->cli.nst; i++) {
        const loopfx_stream *st = &f->cli.st[i];
        assert_true(st->fin);
        assert_int_equal(st->got, st->want);
        assert_false(st->mismatch);
        uint8_t want[32];
        loopfx_expected_sha(st->sid, st->want, want);
        assert_memory_equal(st->sha, want, 32);
    }
    assert_int_equal(f->cli.got, bytes);
    assert_int_equal(f->cli.errors, 0);
    assert_int_equal(f->srv.errors, 0);
}

void loopfx_check_upload(loopfx *f, uint64_t bytes)
{
    assert_true(f->srv.up_fin);
    assert_int_equal(f->srv.up_got, bytes);
    uint8_t want[32];
    loopfx_expected_sha(f->cli.csid, bytes, want);
    assert_memory_equal(f->srv.up_sha, want, 32);
    assert_int_equal(f->srv.errors, 0);
}

void loopfx_download(loopfx *f, uint64_t bytes, uint64_t ms)
{
    loopfx_request(f, bytes);
    assert_true(loopfx_drive(f, loopfx_cond_done, ms));
    loopfx_check_download(f, bytes);
}

/* ---- paths and events ------------------------------------------------------------------------ */

const loopfx_event *loopfx_last_event(const loopfx_side *s, tern_path_event_type type)
{
    size_t n = s->nev < LOOPFX_EVENTS ? s->nev : LOOPFX_EVENTS;
    for (size_t i = n; i-- > 0;)
        if (s->ev[i].type == type)
            return &s->ev[i];
    return NULL;
}

#define PATHS_MAX 32

static size_t get_paths(tern_conn *c, tern_path_info *out)
{
    size_t n = 0;
    assert_int_equal(tern_conn_paths(c, out, PATHS_MAX, &n), 0);
    assert_true(n <= PATHS_MAX);
    return n;
}

int loopfx_path_by_local(tern_conn *c, const tern_addr *local, tern_path_info *out)
{
    tern_path_info p[PATHS_MAX];
    size_t n = get_paths(c, p);
    for (size_t i = 0; i < n; i++)
        if (tern_addr_equal(&p[i].addr.local, local)) {
            *out = p[i];
            return 1;
        }
    return 0;
}

int loopfx_path_by_id(tern_conn *c, int id, tern_path_info *out)
{
    tern_path_info p[PATHS_MAX];
    size_t n = get_paths(c, p);
    for (size_t i = 0; i < n; i++)
        if (p[i].id == id) {
            *out = p[i];
            return 1;
        }
    return 0;
}

size_t loopfx_path_count(tern_conn *c)
{
    tern_path_info p[PATHS_MAX];
    return get_paths(c, p);
}

static const char *ev_name(int t)
{
    static const char *const names[] = {"?",      "PROBING", "VALIDATED",           "FAILED",
                                        "ACTIVE", "REMOVED", "PEER_ADDRESS_CHANGED"};
    return t >= 0 && t < 7 ? names[t] : "?";
}

static const char *state_name(int s)
{
    static const char *const names[] = {"?",      "probing", "validated",
                                        "active", "failed",  "abandoned"};
    return s >= 0 && s < 6 ? names[s] : "?";
}

static void print_path(const char *pfx, const tern_path_info *p)
{
    char l[64], r[64];
    tern_addr_format(&p->addr.local, l, sizeof(l));
    tern_addr_format(&p->addr.remote, r, sizeof(r));
    print_message("%spath %d %s -> %s %s%s srtt %.2f ms cwnd %llu sent %llu recv %llu lost %llu\n",
                  pfx, p->id, l, r, state_name((int)p->state), p->validated ? " (validated)" : "",
                  (double)p->srtt_ns / 1e6, (unsigned long long)p->cwnd,
                  (unsigned long long)p->pkts_sent, (unsigned long long)p->pkts_recv,
                  (unsigned long long)p->pkts_lost);
}

static void dump_side(const char *name, loopfx_side *s)
{
    print_message("---- %s: %zu path events\n", name, s->nev);
    size_t n = s->nev < LOOPFX_EVENTS ? s->nev : LOOPFX_EVENTS;
    for (size_t i = 0; i < n; i++) {
        const loopfx_event *e = &s->ev[i];
        char l[64], r[64];
        tern_addr_format(&e->path.addr.local, l, sizeof(l));
        tern_addr_format(&e->path.addr.remote, r, sizeof(r));
        print_message("  %6llu ms %s (%s) path %d %s -> %s", (unsigned long long)e->at_ms,
                      ev_name((int)e->type), tern_path_reason_str(e->reason), e->path.id, l, r);
        if (e->has_from)
            print_message(" from path %d", e->from.id);
        if (e->rtt_ns)
            print_message(" rtt %.3f ms", (double)e->rtt_ns / 1e6);
        print_message("\n");
    }
    if (s->conn) {
        tern_path_info p[PATHS_MAX];
        size_t np = 0;
        if (tern_conn_paths(s->conn, p, PATHS_MAX, &np) == 0)
            for (size_t i = 0; i < np && i < PATHS_MAX; i++)
                print_path("  now: ", &p[i]);
    } else {
        print_message("  (no connection)\n");
    }
    size_t first = s->nlog > LOOPFX_LOG_LINES ? s->nlog - LOOPFX_LOG_LINES : 0;
    for (size_t i = first; i < s->nlog; i++)
        print_message("  log %s\n", s->log[i % LOOPFX_LOG_LINES]);
}

void loopfx_dump(loopfx *f)
{
    dump_side("client", &f->cli);
    dump_side("server", &f->srv);
    print_message("---- download: %llu bytes%s, upload %llu/%llu sent, %llu received%s\n",
                  (unsigned long long)f->cli.got, f->cli.fin ? " (fin)" : "",
                  (unsigned long long)f->cli.up_sent, (unsigned long long)f->cli.up_total,
                  (unsigned long long)f->srv.up_got, f->srv.up_fin ? " (fin)" : "");
}
