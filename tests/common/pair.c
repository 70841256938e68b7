/* In-process client/server pair over a simulated link in virtual time (see pair.h). */
#include "pair.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_test.h"
#include "forge.h"
#include "frame.h"
#include "packet.h"
#include "testcert.h"

static char cert_file[512], key_file[512];

static uint64_t rnd64(uint64_t *s)
{
    /* splitmix64: good enough and deterministic everywhere */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rnd01(uint64_t *s)
{
    return (double)(rnd64(s) >> 11) / 9007199254740992.0;
}

static int pair_rand(void *ud, uint8_t *out, size_t len)
{
    tern_pair *p = ud;
    if (p->rand_fail)
        return TERN_ERR_CRYPTO;
    while (len) {
        uint64_t v = rnd64(&p->rng);
        size_t n = len < 8 ? len : 8;
        memcpy(out, &v, n);
        out += n;
        len -= n;
    }
    return 0;
}

/* The bytes a server sends on a stream: block k of 8 bytes is mix64(seed + k), so any range can be
 * produced from its offset alone. */
static uint64_t mix64(uint64_t z)
{
    z *= 0x9e3779b97f4a7c15ull; /* one multiply: cheap enough not to hide the cost of the core */
    return z ^ (z >> 29);
}

static void gen_fill(uint64_t seed, uint64_t off, uint8_t *out, size_t n)
{
    while (n) {
        uint64_t v = mix64(seed + off / 8);
        size_t k = off % 8, take = 8 - k < n ? 8 - k : n;
        if (take == 8) { /* a whole block; bytes are defined little-endian */
            for (int i = 0; i < 8; i++)
                out[i] = (uint8_t)(v >> (8 * i));
        } else {
            for (size_t i = 0; i < take; i++)
                out[i] = (uint8_t)(v >> (8 * (k + i)));
        }
        out += take;
        off += take;
        n -= take;
    }
}

static uint64_t gen_seed(int64_t sid)
{
    return 0x1234567ull ^ ((uint64_t)sid * 0x9e3779b97f4a7c15ull);
}

static int ensure_cert(void)
{
    if (cert_file[0])
        return 0;
    char dir[] = "/tmp/tern-pair-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    return tern_test_make_cert(dir, cert_file, sizeof(cert_file), key_file, sizeof(key_file));
}

/* ---- application callbacks ------------------------------------------------------------------- */

static pair_stream *find_client_stream(tern_pair *p, int64_t sid)
{
    for (int i = 0; i < p->nstreams; i++)
        if (p->streams[i].sid == sid)
            return &p->streams[i];
    return NULL;
}

static void client_readable(tern_conn *c, int64_t sid, void *ud)
{
    tern_pair *p = ud;
    pair_stream *s = find_client_stream(p, sid);
    uint8_t buf[16384];
    for (;;) {
        int fin = 0;
        size_t cap = sizeof(buf);
        if (s && s->hold) {
            if (s->got >= s->read_limit)
                break;
            cap = (size_t)TERN_MIN((uint64_t)cap, s->read_limit - s->got);
        }
        ssize_t n = tern_stream_read(c, sid, buf, cap, &fin);
        if (n < 0)
            break;
        if (s) {
            uint8_t want[sizeof(buf)];
            gen_fill(s->gen, s->got, want, (size_t)n);
            if (memcmp(buf, want, (size_t)n) != 0)
                s->mismatch = 1;
            gnutls_hash((gnutls_hash_hd_t)s->hash_want, want, (size_t)n);
            gnutls_hash((gnutls_hash_hd_t)s->hash, buf, (size_t)n);
            s->got += (uint64_t)n;
            if (p->on_data && n > 0)
                p->on_data(p, (uint64_t)n);
            if (p->key_update_at && !p->key_update_done && s->got >= p->key_update_at &&
                tern_conn_key_update(c) == 0)
                p->key_update_done = 1;
        }
        if (fin) {
            if (s && !s->fin) {
                s->fin = 1;
                gnutls_hash_output((gnutls_hash_hd_t)s->hash, s->sha_got);
                gnutls_hash_output((gnutls_hash_hd_t)s->hash_want, s->sha_want);
            }
            break;
        }
        if (n == 0)
            break;
    }
}

static void client_connected(tern_conn *c, void *ud)
{
    tern_pair *p = ud;
    p->connected = 1;
}

static void client_ticket(tern_conn *c, const uint8_t *blob, size_t len, void *ud)
{
    tern_pair *p = ud;
    (void)c;
    pair_keep_ticket(p, blob, len);
}

void pair_keep_ticket(tern_pair *p, const uint8_t *blob, size_t len)
{
    p->tickets++;
    if (len <= sizeof(p->ticket)) {
        memcpy(p->ticket, blob, len);
        p->ticket_len = len;
    }
}

tern_tls_ctx *pair_first_ticket(tern_pair *p, uint8_t *blob, size_t cap, size_t *len,
                                uint64_t *server_hs)
{
    tern_tls_ctx *ctx = NULL;
    if (pair_run(p, pair_cond_connected, 5000000000ull) && pair_request(p, 1000) >= 0 &&
        pair_run(p, pair_cond_all_done, 5000000000ull) && pair_verify(p) &&
        !tern_conn_resumed(p->client) && tern_conn_early_data(p->client) == TERN_EARLY_DATA_NONE &&
        p->tickets >= 1 && p->ticket_len <= cap) {
        memcpy(blob, p->ticket, p->ticket_len);
        *len = p->ticket_len;
        if (server_hs)
            *server_hs = tern_conn_crypto_produced(p->server, TERN_LEVEL_HANDSHAKE);
        ctx = p->tls_s;
        p->tls_s = NULL;
    }
    pair_free(p);
    return ctx;
}

static void client_new_token(tern_conn *c, const uint8_t *token, size_t len, void *ud)
{
    tern_pair *p = ud;
    (void)c;
    p->new_tokens++;
    p->last_token_len = len < sizeof(p->last_token) ? len : sizeof(p->last_token);
    memcpy(p->last_token, token, p->last_token_len);
}

/* The same bytes generated straight into the stream's buffer, in pieces of at most 3000 bytes
 * (so that the buffer's wrap and partial commits come up), committing a few bytes less than was
 * handed out every other time. */
static void server_fill_in_place(tern_pair *p, tern_conn *c, int idx)
{
    int odd = 0;
    while (p->srv[idx].left > 0) {
        size_t want = p->srv[idx].left < 3000 ? (size_t)p->srv[idx].left : 3000;
        void *place;
        ssize_t n = tern_stream_write_buffer(c, p->srv[idx].sid, want, &place);
        if (n <= 0)
            return;
        size_t k = (size_t)n;
        if ((odd ^= 1) && k > 7)
            k -= 7;
        gen_fill(p->srv[idx].gen, p->srv[idx].total - p->srv[idx].left, place, k);
        int last = k == p->srv[idx].left;
        if (tern_stream_write_commit(c, p->srv[idx].sid, k, last))
            return;
        p->srv[idx].left -= k;
    }
}

/* A piece of the server's response held by reference: its memory follows the header. */
typedef struct ref_piece {
    tern_pair *p;
    int64_t sid;
    uint64_t end; /* stream offset after its last byte */
    size_t len;
} ref_piece;

static void ref_released(void *ud, const void *data, size_t len)
{
    ref_piece *rp = ud;
    pair_by_ref *br = rp->p->by_ref;
    br->released++;
    br->bytes_held -= rp->len;
    if (data != (const void *)(rp + 1) || len != rp->len)
        br->bad++;
    /* acknowledged means received: the client must hold the whole piece by now (pair_free
     * releases the rest while nothing is read any more; only a finished stream counts then) */
    for (int i = 0; i < rp->p->nstreams; i++)
        if (rp->p->streams[i].sid == rp->sid && rp->p->streams[i].got < rp->end && rp->p->client)
            br->early++;
    free(rp);
}

/* The same bytes in pieces of by_ref->piece, each written once by reference (or copied, every
 * other one, with by_ref->mix), a piece whole or not at all. */
static void server_fill_by_ref(tern_pair *p, tern_conn *c, int idx)
{
    pair_by_ref *br = p->by_ref;
    while (p->srv[idx].left > 0) {
        size_t n = p->srv[idx].left < br->piece ? (size_t)p->srv[idx].left : br->piece;
        uint64_t at = p->srv[idx].total - p->srv[idx].left;
        int last = n == p->srv[idx].left;
        if (br->mix && (at / br->piece) % 2) {
            uint8_t buf[65536];
            size_t k = n < sizeof(buf) ? n : sizeof(buf);
            gen_fill(p->srv[idx].gen, at, buf, k);
            ssize_t w = tern_stream_write(c, p->srv[idx].sid, buf, k, last && k == n);
            if (w <= 0)
                return;
            p->srv[idx].left -= (uint64_t)w;
            continue;
        }
        ref_piece *rp = malloc(sizeof(*rp) + n);
        if (!rp)
            return;
        *rp = (ref_piece){p, p->srv[idx].sid, at + n, n};
        gen_fill(p->srv[idx].gen, at, (uint8_t *)(rp + 1), n);
        if (tern_stream_write_ref(c, p->srv[idx].sid, rp + 1, n, last, ref_released, rp) !=
            (ssize_t)n) {
            free(rp);
            return;
        }
        br->pieces++;
        br->bytes_held += n;
        p->srv[idx].left -= n;
    }
}

static void server_fill(tern_pair *p, tern_conn *c, int idx)
{
    uint8_t buf[16384];
    if (p->by_ref) {
        server_fill_by_ref(p, c, idx);
        return;
    }
    if (p->server_in_place) {
        server_fill_in_place(p, c, idx);
        return;
    }
    while (p->srv[idx].left > 0) {
        size_t n = p->srv[idx].left < sizeof(buf) ? (size_t)p->srv[idx].left : sizeof(buf);
        size_t room = tern_stream_writable(c, p->srv[idx].sid);
        if (room == 0)
            return;
        if (n > room)
            n = room;
        gen_fill(p->srv[idx].gen, p->srv[idx].total - p->srv[idx].left, buf, n);
        int last = n == p->srv[idx].left;
        ssize_t w = tern_stream_write(c, p->srv[idx].sid, buf, n, last);
        if (w <= 0)
            return;
        p->srv[idx].left -= (uint64_t)w;
    }
}

static int srv_index(tern_pair *p, int64_t sid)
{
    for (int i = 0; i < p->nsrv; i++)
        if (p->srv[i].sid == sid)
            return i;
    if (p->nsrv == PAIR_MAX_STREAMS)
        return -1;
    int i = p->nsrv++;
    memset(&p->srv[i], 0, sizeof(p->srv[i]));
    p->srv[i].sid = sid;
    p->srv[i].gen = gen_seed(sid);
    return i;
}

static void server_readable(tern_conn *c, int64_t sid, void *ud)
{
    tern_pair *p = ud;
    int i = srv_index(p, sid);
    if (i < 0)
        return;
    for (;;) {
        uint8_t tmp[64];
        int fin = 0;
        ssize_t n = tern_stream_read(c, sid, tmp, sizeof(tmp), &fin);
        if (n < 0)
            break;
        for (ssize_t k = 0; k < n && p->srv[i].req_len < 8; k++)
            p->srv[i].req[p->srv[i].req_len++] = tmp[k];
        if (fin && !p->srv[i].responding && p->srv[i].req_len == 8) {
            uint64_t want = 0;
            for (int k = 0; k < 8; k++)
                want = want << 8 | p->srv[i].req[k];
            p->srv[i].left = p->srv[i].total = want;
            p->srv[i].responding = 1;
            if (want == 0)
                tern_stream_write(c, sid, NULL, 0, 1);
            server_fill(p, c, i);
        }
        if (fin || n == 0)
            break;
    }
}

static void server_writable(tern_conn *c, int64_t sid, void *ud)
{
    tern_pair *p = ud;
    for (int i = 0; i < p->nsrv; i++)
        if (p->srv[i].sid == sid && p->srv[i].responding)
            server_fill(p, c, i);
}

static void path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    tern_pair *p = ud;
    int srv = tern_conn_is_server(c);
    int t = (int)ev->type & 7;
    if (srv) {
        p->srv_path_events[t]++;
        p->srv_last_reason[t] = (int)ev->reason;
    } else {
        p->path_events[t]++;
        p->last_reason[t] = (int)ev->reason;
    }
    if (getenv("TERN_PAIR_TRACE")) {
        char a[64], b[64];
        fprintf(stderr, "[%.3f] %s path %d event %d (%s) %s -> %s\n", (double)p->now / 1e9,
                srv ? "server" : "client", ev->path->id, (int)ev->type,
                tern_path_reason_str(ev->reason), tern_addr_format(&ev->path->addr.local, a, 64),
                tern_addr_format(&ev->path->addr.remote, b, 64));
    }
}

static const tern_callbacks client_cb = {
    .on_connected = client_connected,
    .on_stream_readable = client_readable,
    .on_new_token = client_new_token,
    .on_path_event = path_event,
    .on_session_ticket = client_ticket,
};
static const tern_callbacks server_cb = {
    .on_stream_readable = server_readable,
    .on_stream_writable = server_writable,
    .on_path_event = path_event,
};

/* ---- set-up ------------------------------------------------------------------------------------
 */

static void set_addr(tern_addr *a, const char *ip, uint16_t port)
{
    tern_addr_parse(a, ip, port);
}

/* The queue of datagrams in flight starts small and doubles up to PAIR_QUEUE slots: most pairs
 * never hold more than a few hundred datagrams, and a fuzz target creates a pair per input.
 * Returns 0, or -1 when the queue is full or memory runs out. */
static int queue_grow(tern_pair *p)
{
    size_t cap = p->qcap ? 2 * p->qcap : 256;
    if (cap > PAIR_QUEUE)
        return -1;
    pair_dgram *q = realloc(p->q, cap * sizeof(*q));
    if (q)
        p->q = q;
    pair_qent *heap = realloc(p->heap, cap * sizeof(*heap));
    if (heap)
        p->heap = heap;
    uint32_t *slots = realloc(p->free_slots, cap * sizeof(*slots));
    if (slots)
        p->free_slots = slots;
    if (!q || !heap || !slots)
        return -1;
    for (size_t i = cap; i > p->qcap; i--)
        p->free_slots[p->nfree++] = (uint32_t)(i - 1);
    p->qcap = cap;
    return 0;
}

int pair_init(tern_pair *p, uint64_t seed)
{
    memset(p, 0, sizeof(*p));
    if (ensure_cert())
        return -1;
    p->rng = seed;
    p->now = 1000000000ull;
    if (queue_grow(p))
        return -1;
    static const char *alpn[] = {"hq-interop"};
    tern_config_init(&p->cfg_c);
    p->cfg_c.alpn = alpn;
    p->cfg_c.alpn_count = 1;
    p->cfg_c.ca_file = cert_file;
    p->cfg_s = p->cfg_c;
    p->cfg_s.cert_file = cert_file;
    p->cfg_s.key_file = key_file;
    p->cfg_s.ca_file = NULL;
    p->c2s.delay_ns = p->s2c.delay_ns = 10 * 1000000ull;
    for (int i = 0; i < 32; i++)
        p->reset_key[i] = (uint8_t)(i * 7 + 1);
    if (tern_tls_ctx_new(&p->tls_c, 0, NULL, NULL, cert_file, 1, NULL, alpn, 1))
        return -1;
    if (tern_tls_ctx_new(&p->tls_s, 1, cert_file, key_file, NULL, 0, NULL, alpn, 1))
        return -1;
    set_addr(&p->path_c.local, "10.0.0.1", 5000);
    set_addr(&p->path_c.remote, "10.0.0.2", 443);
    p->path_s.local = p->path_c.remote;
    p->path_s.remote = p->path_c.local;
    return 0;
}

int pair_set_alpn(tern_pair *p, const char **alpn, size_t n)
{
    p->cfg_c.alpn = p->cfg_s.alpn = alpn;
    p->cfg_c.alpn_count = p->cfg_s.alpn_count = n;
    tern_tls_ctx_free(p->tls_c);
    tern_tls_ctx_free(p->tls_s);
    p->tls_c = p->tls_s = NULL;
    if (tern_tls_ctx_new(&p->tls_c, 0, NULL, NULL, cert_file, 1, NULL, alpn, n))
        return -1;
    if (tern_tls_ctx_new(&p->tls_s, 1, cert_file, key_file, NULL, 0, NULL, alpn, n))
        return -1;
    return 0;
}

/* Creates the client once the test has set the configs. */
static int make_client(tern_pair *p)
{
    tern_conn_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.is_server = 0;
    cp.cfg = &p->cfg_c;
    cp.tls_ctx = p->tls_c;
    cp.cb = p->client_no_cb ? NULL : p->client_cb ? p->client_cb : &client_cb;
    cp.cb_ud = p->client_cb ? p->client_ud : p;
    cp.rand = pair_rand;
    cp.rand_ud = p;
    cp.reset_key = p->reset_key;
    cp.server_name = "localhost";
    cp.session = p->session;
    cp.session_len = p->session_len;
    cp.early_data = p->early_data;
    return tern_conn_new(&p->client, &cp, &p->path_c, p->now);
}

int pair_start(tern_pair *p)
{
    if (p->client)
        return 0;
    return make_client(p);
}

/* The server's parameters as the test changes them, given to TLS before the ClientHello is read
 * (they go in the server's reply to it). */
static void alter_server_tparams(tern_pair *p)
{
    tern_tparams tp = *tern_conn_local_tparams(p->server);
    p->alter_server_tparams(&tp);
    uint8_t buf[512];
    size_t n = tern_tparams_encode(&tp, 1, buf, sizeof(buf));
    if (!n || tern_tls_set_tparams(tern_conn_tls(p->server), buf, n))
        abort();
}

static int make_server(tern_pair *p, const uint8_t *dgram, size_t len)
{
    tern_pkt_hdr h;
    if (tern_pkt_parse(dgram, len, 8, &h) || h.type != TERN_PKT_INITIAL || len < 1200)
        return -1;
    tern_conn_params sp;
    memset(&sp, 0, sizeof(sp));
    sp.is_server = 1;
    sp.cfg = &p->cfg_s;
    sp.tls_ctx = p->tls_s;
    sp.cb = p->server_cb ? p->server_cb : &server_cb;
    sp.cb_ud = p->server_cb ? p->server_ud : p;
    sp.rand = pair_rand;
    sp.rand_ud = p;
    sp.reset_key = p->reset_key;
    sp.token_key = p->token_key;
    sp.client_dcid = h.dcid;
    sp.client_scid = h.scid;
    sp.original_dcid = h.dcid;
    sp.version = h.version;
    if (p->new_cid) {
        sp.hooks.new_cid = p->new_cid;
        sp.hooks.ud = p->new_cid_ud;
        sp.scid_len = p->scid_len;
    }
    return tern_conn_new(&p->server, &sp, &p->path_s, p->now);
}

int pair_accept(tern_pair *p, const uint8_t *dgram, size_t len)
{
    return make_server(p, dgram, len);
}

int pair_rewrite_first_initial(tern_pair *p, uint32_t version, const tern_cid *scid)
{
    uint8_t dgram[1500], plain[1500], forged[1500];
    tern_path_addr out;
    size_t seg = 0, count = 0;
    if ((!p->client && make_client(p)) ||
        tern_conn_send(p->client, &out, dgram, sizeof(dgram), 1, &seg, &count, p->now) ||
        count != 1)
        return -1;
    tern_pkt_hdr h;
    long n = forge_open_initial(0, NULL, dgram, seg, &h, plain, sizeof(plain));
    if (n <= 0 || h.pkt_len != seg)
        return -1;
    while (n > 0 && plain[n - 1] == 0) /* PADDING: forge_initial pads again */
        n--;
    size_t m = forge_initial(0, version, &h.dcid, &h.dcid, scid ? scid : &h.scid, NULL, 0, 0, plain,
                             (size_t)n, seg, forged, sizeof(forged));
    if (m != seg || make_server(p, forged, m))
        return -1;
    tern_conn_recv(p->server, &p->path_s, forged, m, 0, p->now);
    return 0;
}

void pair_free(tern_pair *p)
{
    tern_conn_free(p->client);
    p->client = NULL; /* the server's pieces released below find no reader */
    tern_conn_free(p->server);
    tern_tls_ctx_free(p->tls_c);
    tern_tls_ctx_free(p->tls_s);
    for (int i = 0; i < p->nstreams; i++) {
        if (p->streams[i].hash)
            gnutls_hash_deinit((gnutls_hash_hd_t)p->streams[i].hash, NULL);
        if (p->streams[i].hash_want)
            gnutls_hash_deinit((gnutls_hash_hd_t)p->streams[i].hash_want, NULL);
    }
    free(p->q);
    free(p->heap);
    free(p->free_slots);
    memset(p, 0, sizeof(*p));
}

int pair_request(tern_pair *p, uint64_t bytes)
{
    if (!p->client || p->nstreams == PAIR_MAX_STREAMS)
        return -1;
    int64_t sid;
    if (tern_conn_open_stream(p->client, 1, &sid))
        return -1;
    pair_stream *s = &p->streams[p->nstreams];
    memset(s, 0, sizeof(*s));
    s->sid = sid;
    s->want = bytes;
    s->gen = gen_seed(sid);
    gnutls_hash_init((gnutls_hash_hd_t *)&s->hash, GNUTLS_DIG_SHA256);
    gnutls_hash_init((gnutls_hash_hd_t *)&s->hash_want, GNUTLS_DIG_SHA256);
    uint8_t req[8];
    for (int k = 0; k < 8; k++)
        req[k] = (uint8_t)(bytes >> (56 - 8 * k));
    if (tern_stream_write(p->client, sid, req, 8, 1) != 8)
        return -1;
    return p->nstreams++;
}

int pair_inject_1rtt(tern_pair *p, int to_server, const uint8_t *payload, size_t len)
{
    uint8_t pkt[1500];
    size_t n =
        forge_1rtt(to_server ? p->client : p->server, payload, len, 0, p->now, pkt, sizeof(pkt));
    if (!n)
        return TERN_ERR_INVALID_ARG;
    return tern_conn_recv(to_server ? p->server : p->client, to_server ? &p->path_s : &p->path_c,
                          pkt, n, 0, p->now);
}

/* ---- the link
 * ------------------------------------------------------------------------------------ */

/* The datagrams in flight sit in a pool of slots; a min-heap of (arrival time, sequence, slot)
 * orders them, so that equal times keep their sending order and delivery costs O(log n). */
static int ent_before(const pair_qent *a, const pair_qent *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(tern_pair *p, pair_qent e)
{
    size_t i = p->qn++;
    p->heap[i] = e;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ent_before(&p->heap[i], &p->heap[parent]))
            break;
        pair_qent t = p->heap[i];
        p->heap[i] = p->heap[parent];
        p->heap[parent] = t;
        i = parent;
    }
}

static pair_qent heap_pop(tern_pair *p)
{
    pair_qent top = p->heap[0];
    p->heap[0] = p->heap[--p->qn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->qn && ent_before(&p->heap[l], &p->heap[m]))
            m = l;
        if (r < p->qn && ent_before(&p->heap[r], &p->heap[m]))
            m = r;
        if (m == i)
            break;
        pair_qent t = p->heap[i];
        p->heap[i] = p->heap[m];
        p->heap[m] = t;
        i = m;
    }
    return top;
}

static void link_send(tern_pair *p, pair_link *l, int to_server, const tern_path_addr *pa,
                      const uint8_t *d, size_t len, int ecn)
{
    if (p->tap)
        p->tap(p, to_server, pa, d, len);
    uint64_t idx = l->sent_idx++;
    for (size_t i = 0; i < l->drop_n; i++)
        if ((uint64_t)l->drop_idx[i] == idx) {
            l->dropped++;
            return;
        }
    if (p->filter && p->filter(p, to_server, pa)) {
        l->dropped++;
        return;
    }
    if (l->blackhole || (l->loss > 0 && rnd01(&p->rng) < l->loss)) {
        l->dropped++;
        return;
    }
    uint64_t depart = p->now;
    if (l->ecn_bleach)
        ecn = TERN_ECN_NOT_ECT;
    if (l->rate_bps) {
        if (l->busy_until > depart)
            depart = l->busy_until;
        uint64_t per = (uint64_t)len * 8 * 1000000000ull / l->rate_bps;
        if (l->queue_limit) {
            if (per && (depart - p->now) / per > l->queue_limit) {
                l->dropped++;
                return;
            }
        }
        if (l->ce_queue && per && (depart - p->now) / per >= l->ce_queue &&
            ecn != TERN_ECN_NOT_ECT) {
            ecn = TERN_ECN_CE;
            l->ce_marked++;
        }
        depart += (uint64_t)len * 8 * 1000000000ull / l->rate_bps;
        l->busy_until = depart;
    }
    int copies = 1 + (l->dup > 0 && rnd01(&p->rng) < l->dup);
    for (int k = 0; k < copies; k++) {
        if (p->nfree == 0 && queue_grow(p)) {
            l->dropped++;
            return;
        }
        uint32_t slot = p->free_slots[--p->nfree];
        pair_dgram *g = &p->q[slot];
        memcpy(g->data, d, len);
        g->len = len;
        g->to_server = to_server;
        g->path = *pa;
        g->ecn = ecn;
        pair_qent e = {depart + l->delay_ns, p->seq++, slot};
        if (l->reorder > 0 && rnd01(&p->rng) < l->reorder)
            e.at += rnd64(&p->rng) % (l->reorder_ns + 1);
        heap_push(p, e);
    }
}

/* The harness asks for one datagram at a time, so each size is exact. */
/* A client address on the second interface: alt_addr itself, or any port of its IP when
 * alt_addr's port is 0 (every socket bound there goes over that interface's links). */
static int on_alt(const tern_pair *p, const tern_addr *a)
{
    if (!p->alt_addr.len)
        return 0;
    const tern_addr *x = &p->alt_addr;
    uint16_t port = x->u.sa.sa_family == AF_INET6 ? x->u.in6.sin6_port : x->u.in.sin_port;
    return port ? tern_addr_equal(a, x) : tern_addr_same_ip(a, x);
}

static void pump(tern_pair *p, tern_conn *c, int from_server)
{
    static uint8_t buf[1500];
    if (c && p->before_send)
        p->before_send(p, c, from_server);
    for (int guard = 0; guard < 100000 && c; guard++) {
        tern_path_addr out;
        size_t seg = 0, count = 0, len = 0;
        int ecn = TERN_ECN_NOT_ECT;
        if (tern_conn_send_batch_ecn(c, &out, buf, sizeof(buf), 1, &seg, &count, &len,
                                     p->ecn ? &ecn : NULL, p->now) ||
            count == 0)
            break;
        if (from_server) {
            p->server_bytes_sent += seg;
            uint64_t limit = 3 * p->server_bytes_recv;
            if (p->server && tern_conn_path_at(p->server, 0)->validated)
                p->server_validated_seen = 1;
            if (!p->server_validated_seen && p->server_bytes_sent > limit &&
                p->server_bytes_sent - limit > p->max_amp_violation)
                p->max_amp_violation = p->server_bytes_sent - limit;
            if (!p->server_validated_seen && p->server_bytes_sent == limit)
                p->amp_blocked_seen = 1;
            int alt = on_alt(p, &out.remote);
            link_send(p, alt ? &p->s2c_alt : &p->s2c, 0, &out, buf, seg, ecn);
        } else {
            if (!p->first_c2s_len && seg <= sizeof(p->first_c2s)) {
                memcpy(p->first_c2s, buf, seg);
                p->first_c2s_len = seg;
            }
            int alt = on_alt(p, &out.local);
            link_send(p, alt ? &p->c2s_alt : &p->c2s, 1, &out, buf, seg, ecn);
        }
    }
}

static uint64_t next_event(tern_pair *p)
{
    uint64_t t = p->qn ? p->heap[0].at : UINT64_MAX;
    if (p->client && !tern_conn_is_done(p->client)) {
        uint64_t ct = tern_conn_next_timeout(p->client);
        if (ct < t)
            t = ct;
    }
    if (p->server && !tern_conn_is_done(p->server)) {
        uint64_t st = tern_conn_next_timeout(p->server);
        if (st < t)
            t = st;
    }
    return t;
}

static void deliver_due(tern_pair *p)
{
    while (p->qn && p->heap[0].at <= p->now) {
        pair_qent e = heap_pop(p);
        /* the slot is free again at once: nothing sends while a datagram is being received */
        p->free_slots[p->nfree++] = e.slot;
        pair_dgram *g = &p->q[e.slot];
        if (g->to_server) {
            p->c2s.delivered++;
            p->server_bytes_recv += g->len;
            if (!p->server) {
                if (make_server(p, g->data, g->len))
                    continue;
                if (p->alter_server_tparams)
                    alter_server_tparams(p);
                if (p->server_created)
                    p->server_created(p);
            }
            /* the server sees the datagram from the client's source, possibly rewritten (NAT) */
            tern_path_addr in = {g->path.remote, g->path.local};
            if (p->nat_from.len && tern_addr_equal(&in.remote, &p->nat_from))
                in.remote = p->nat_to;
            tern_conn_recv(p->server, &in, g->data, g->len, g->ecn, p->now);
        } else {
            p->s2c.delivered++;
            if (p->client) {
                tern_path_addr in = {g->path.remote, g->path.local};
                if (p->nat_from.len && !p->nat_keeps_dst && tern_addr_equal(&in.local, &p->nat_to))
                    in.local = p->nat_from; /* the NAT maps replies back */
                if (p->fake_server_src.len)
                    in.remote = p->fake_server_src;
                tern_conn_recv(p->client, &in, g->data, g->len, g->ecn, p->now);
            }
        }
    }
}

int pair_run(tern_pair *p, int (*done)(tern_pair *p), uint64_t limit_ns)
{
    if (!p->client && make_client(p))
        return 0;
    uint64_t end = p->now + limit_ns;
    for (long iter = 0; iter < 50000000; iter++) {
        if (done(p))
            return 1;
        pump(p, p->client, 0);
        if (p->server)
            pump(p, p->server, 1);
        uint64_t t = next_event(p);
        if (t == UINT64_MAX || t > end) {
            p->now = end; /* nothing happens before the limit: time still passes */
            return done(p);
        }
        if (t > p->now)
            p->now = t;
        deliver_due(p);
        if (p->client && tern_conn_next_timeout(p->client) <= p->now)
            tern_conn_on_timeout(p->client, p->now);
        if (p->server && tern_conn_next_timeout(p->server) <= p->now)
            tern_conn_on_timeout(p->server, p->now);
        if (p->client && tern_conn_is_done(p->client))
            p->client_closed = 1;
        if (p->server && tern_conn_is_done(p->server))
            p->server_closed = 1;
    }
    return done(p);
}

int pair_cond_connected(tern_pair *p)
{
    return p->connected;
}

int pair_cond_now(tern_pair *p)
{
    return 1;
}

int pair_refused(tern_conn *c, uint64_t code, const char *why)
{
    const tern_close_info *ci = tern_conn_close_info(c);
    if (tern_conn_state(c) >= TERN_CS_CLOSING && ci->local && !ci->app && ci->error_code == code &&
        strstr(ci->reason, why) && !tern_conn_peer_tparams_received(c))
        return 1;
    fprintf(stderr, "state %d, local %d app %d code 0x%llx reason '%s' (expected 0x%llx '%s')\n",
            tern_conn_state(c), ci->local, ci->app, (unsigned long long)ci->error_code, ci->reason,
            (unsigned long long)code, why);
    return 0;
}

int pair_cond_client_closing(tern_pair *p)
{
    return tern_conn_state(p->client) >= TERN_CS_CLOSING;
}

int pair_cond_server_draining(tern_pair *p)
{
    return p->server && tern_conn_state(p->server) >= TERN_CS_DRAINING;
}

int pair_cond_all_done(tern_pair *p)
{
    if (p->client_closed)
        return 1;
    for (int i = 0; i < p->nstreams; i++)
        if (!p->streams[i].fin)
            return 0;
    return p->nstreams > 0;
}

int pair_cond_both_closed(tern_pair *p)
{
    return p->client_closed && p->server_closed;
}

int pair_connect(tern_pair *p)
{
    const uint64_t limit = 10000000000ull; /* 10 s */
    return pair_run(p, pair_cond_connected, limit) && pair_request(p, 100) >= 0 &&
           pair_run(p, pair_cond_all_done, limit);
}

int pair_verify(tern_pair *p)
{
    if (p->nstreams == 0)
        return 0;
    for (int i = 0; i < p->nstreams; i++) {
        pair_stream *s = &p->streams[i];
        if (!s->fin || s->mismatch || s->got != s->want ||
            memcmp(s->sha_got, s->sha_want, 32) != 0) {
            fprintf(stderr, "stream %lld: fin=%d mismatch=%d got=%llu want=%llu\n",
                    (long long)s->sid, s->fin, s->mismatch, (unsigned long long)s->got,
                    (unsigned long long)s->want);
            return 0;
        }
    }
    return 1;
}

static int addr_of(const char *text, tern_addr *out)
{
    return tern_addr_parse(out, text, 0);
}

int pair_check_wildcard_local(tern_pair *p, const char *wild, const char *bound, const char *other,
                              size_t request_len)
{
    tern_addr w, b, o;
    if (addr_of(wild, &w) || addr_of(bound, &b) || addr_of(other, &o)) {
        fprintf(stderr, "wildcard check: an address does not parse\n");
        return 1;
    }
    p->path_c.local = w;
    p->nat_from = w;
    p->nat_to = b;
    p->nat_keeps_dst = 1;
    p->path_s.remote = b;
    size_t n = 0;
    int step = 2;
    if (!pair_connect(p) || pair_request(p, request_len) < 0 ||
        !pair_run(p, pair_cond_all_done, 5000000000ull) || !pair_verify(p))
        goto fail;
    step = 3;
    if (tern_conn_paths(p->client, NULL, 0, &n) != 0 || n != 1 ||
        tern_conn_paths(p->server, NULL, 0, &n) != 0 || n != 1)
        goto fail;
    /* to another port of that IP: no datagram of this path, dropped unprocessed; to the path's
     * own port: taken */
    static const uint8_t ping[] = {TERN_FT_PING};
    uint8_t pkt[1500];
    tern_path_addr in = {o, p->path_c.remote};
    uint64_t largest = tern_conn_largest_recv(p->client, TERN_SPACE_APP);
    step = 4;
    size_t len = forge_1rtt(p->server, ping, sizeof(ping), 0, p->now, pkt, sizeof(pkt));
    if (len == 0 || tern_conn_recv(p->client, &in, pkt, len, 0, p->now) != 0 ||
        tern_conn_largest_recv(p->client, TERN_SPACE_APP) != largest)
        goto fail;
    step = 5;
    in.local = b;
    len = forge_1rtt(p->server, ping, sizeof(ping), 0, p->now, pkt, sizeof(pkt));
    if (len == 0 || tern_conn_recv(p->client, &in, pkt, len, 0, p->now) != 0 ||
        tern_conn_largest_recv(p->client, TERN_SPACE_APP) <= largest)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "wildcard check: step %d failed\n", step);
    return step;
}
