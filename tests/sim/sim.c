/* The simulator proper: clock, event queue, datagram pool, topology and routing, and the drivers of
 * the client core and of the server (dispatcher + server cores). See sim.h. */
#include "sim.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn_test.h"
#include "migration.h"
#include "packet.h"
#include "sim_app.h"
#include "sim_node.h"

const char *const sim_host_name[2] = {"client", "server"};

/* ---- randomness
 * ---------------------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sim_rng_init(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ 0x5deece66dull;
    uint64_t a = splitmix(&x);
    x = stream * 0xd1342543de82ef95ull + 0x632be59bd9b4e019ull;
    r->s = a ^ splitmix(&x);
}

uint64_t sim_rng_next(sim_rng *r)
{
    return splitmix(&r->s);
}

double sim_rng_unit(sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t sim_rng_below(sim_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* rejection keeps the draw uniform; the loop almost never repeats */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = sim_rng_next(r);
    while (v >= lim);
    return v % n;
}

static int rng_fill(void *ud, uint8_t *out, size_t len)
{
    sim_rng *r = ud;
    while (len) {
        uint64_t v = sim_rng_next(r);
        size_t n = len < 8 ? len : 8;
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)(v >> (8 * i));
        out += n;
        len -= n;
    }
    return 0;
}

static void new_stream(sim *s, sim_rng *r)
{
    sim_rng_init(r, s->seed, ++s->next_rng_stream);
}

/* ---- credentials
 * ---------------------------------------------------------------------------------- */

/* A fixed Ed25519 key and self-signed certificate for "localhost", valid 2024-01-01 to 9999-12-31.
 * Fixed rather than generated so that every run sends handshake messages of the same sizes
 * (Ed25519 signatures have one length and no randomness); test-only material. */
static const char sim_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ6snm+almyQPDSEjXJDRnPfHSJVqv7Zb0SmKKe2K2SH\n"
    "-----END PRIVATE KEY-----\n";
static const char sim_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBQjCB9aADAgECAgEBMAUGAytlcDAUMRIwEAYDVQQDEwlsb2NhbGhvc3QwIBcN\n"
    "MjQwMTAxMDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMBQxEjAQBgNVBAMTCWxvY2Fs\n"
    "aG9zdDAqMAUGAytlcAMhAM/39m196dKlbfIzHzOpJVeEstEZC6BKoZ2GCkcM8Mcs\n"
    "o2owaDAMBgNVHRMBAf8EAjAAMBQGA1UdEQQNMAuCCWxvY2FsaG9zdDATBgNVHSUE\n"
    "DDAKBggrBgEFBQcDATAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0OBBYEFOtwCwhp2otZ\n"
    "OJm0TWvH4S2KMK41MAUGAytlcANBAFtezTwDYTnmmgeC6JrazzFAlsDBVFgEThuN\n"
    "puxwTx86QbRQKpAYHJwETRfAx8izq/9MWiL+y4Bs6/rHtmWi2AE=\n"
    "-----END CERTIFICATE-----\n";

static char cred_dir[64], cert_path[128], key_path[128];

static void remove_creds(void)
{
    unlink(cert_path);
    unlink(key_path);
    rmdir(cred_dir);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int ensure_creds(void)
{
    if (cert_path[0])
        return 0;
    snprintf(cred_dir, sizeof(cred_dir), "/tmp/tern-sim-XXXXXX");
    if (!mkdtemp(cred_dir))
        return -1;
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", cred_dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", cred_dir);
    if (write_text(cert_path, sim_cert_pem) || write_text(key_path, sim_key_pem)) {
        cert_path[0] = 0;
        return -1;
    }
    atexit(remove_creds);
    return 0;
}

/* ---- datagram pool
 * -------------------------------------------------------------------------------- */

#define PKT_CHUNK 256

sim_pkt *sim_pkt_alloc(sim *s)
{
    if (!s->free_pkts) {
        sim_pkt *chunk = malloc(PKT_CHUNK * sizeof(sim_pkt));
        void **nc = realloc(s->chunks, (s->nchunks + 1) * sizeof(void *));
        if (!chunk || !nc)
            abort();
        s->chunks = nc;
        s->chunks[s->nchunks++] = chunk;
        for (int i = PKT_CHUNK - 1; i >= 0; i--) {
            chunk[i].next_free = s->free_pkts;
            s->free_pkts = &chunk[i];
        }
    }
    sim_pkt *p = s->free_pkts;
    s->free_pkts = p->next_free;
    p->next_free = NULL;
    p->id = p->orig = ++s->next_pkt_id;
    p->len = 0;
    p->ecn = 0;
    p->iface = -1;
    s->pkts_live++;
    return p;
}

void sim_pkt_free(sim *s, sim_pkt *p)
{
    p->next_free = s->free_pkts;
    s->free_pkts = p;
    s->pkts_live--;
}

sim_pkt *sim_pkt_clone(sim *s, const sim_pkt *p)
{
    sim_pkt *c = sim_pkt_alloc(s);
    uint64_t id = c->id;
    c->dir = p->dir;
    c->iface = p->iface;
    c->ecn = p->ecn;
    c->src = p->src;
    c->dst = p->dst;
    c->sent_at = p->sent_at;
    c->len = p->len;
    memcpy(c->data, p->data, p->len);
    c->id = id;
    c->orig = p->orig;
    return c;
}

unsigned sim_pkt_types(const sim_pkt *p)
{
    unsigned mask = 0;
    size_t off = 0;
    while (off < p->len) {
        tern_pkt_hdr h;
        if (tern_pkt_parse(p->data + off, p->len - off, 8, &h) || h.pkt_len == 0)
            break;
        mask |= 1u << h.type;
        if (h.type == TERN_PKT_1RTT || h.type == TERN_PKT_RETRY || h.type == TERN_PKT_VN)
            break;
        off += h.pkt_len;
    }
    return mask;
}

/* ---- event queue
 * ---------------------------------------------------------------------------------- */

typedef struct sim_ev {
    uint64_t at, seq;
    sim_node *node; /* a datagram leaving `node` */
    sim_pkt *pkt;
    sim_action_fn fn; /* or an action */
    void *arg;
    const char *label;
} sim_ev;

static int ev_before(const sim_ev *a, const sim_ev *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(sim *s, sim_ev e)
{
    if (s->hn == s->hcap) {
        size_t nc = s->hcap ? 2 * s->hcap : 1024;
        sim_ev *nh = realloc(s->heap, nc * sizeof(*nh));
        if (!nh)
            abort();
        s->heap = nh;
        s->hcap = nc;
    }
    e.seq = s->seq++;
    size_t i = s->hn++;
    s->heap[i] = e;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ev_before(&s->heap[i], &s->heap[up]))
            break;
        sim_ev t = s->heap[i];
        s->heap[i] = s->heap[up];
        s->heap[up] = t;
        i = up;
    }
}

static sim_ev heap_pop(sim *s)
{
    sim_ev top = s->heap[0];
    s->heap[0] = s->heap[--s->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->hn && ev_before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->hn && ev_before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        sim_ev t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
    return top;
}

void sim_at(sim *s, uint64_t at, sim_action_fn fn, void *arg, const char *label)
{
    uint64_t abs = at > UINT64_MAX - s->start ? UINT64_MAX : s->start + at;
    if (abs < s->now)
        abs = s->now;
    heap_push(s, (sim_ev){.at = abs, .fn = fn, .arg = arg, .label = label});
}

void sim_after(sim *s, uint64_t after, sim_action_fn fn, void *arg, const char *label)
{
    sim_at(s, sim_time(s) + after, fn, arg, label);
}

/* ---- timeline helpers
 * ----------------------------------------------------------------------------- */

/* "I H" for a datagram holding an Initial and a Handshake packet, "1" for a short header, ... */
static void types_text(const sim_pkt *p, char *buf, size_t cap)
{
    static const char *abbr[] = {"I", "0RTT", "H", "Retry", "1", "VN"};
    unsigned m = sim_pkt_types(p);
    size_t off = 0;
    buf[0] = 0;
    for (int t = 0; t < 6 && off + 8 < cap; t++)
        if (m & (1u << t))
            off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? " " : "[", abbr[t]);
    if (off && off + 2 < cap)
        snprintf(buf + off, cap - off, "]");
}

static void tl_pkt(sim *s, int kind, int node, int who, const sim_pkt *p, const char *text)
{
    sim_tl_ev ev = {.kind = (uint16_t)kind,
                    .node = (int16_t)node,
                    .who = (int8_t)who,
                    .dir = (int8_t)p->dir,
                    .id = p->id,
                    .len = (uint32_t)p->len};
    ev.t = sim_time(s);
    char types[40];
    if (kind == SIM_TL_SEND) {
        sim_tl_addr_from(&ev.src, &p->src);
        sim_tl_addr_from(&ev.dst, &p->dst);
        if (!text) {
            types_text(p, types, sizeof(types));
            text = types;
        }
    }
    sim_tl_set_text(&ev, text);
    sim_tl_add(&s->tl, &ev);
}

static void tl_simple(sim *s, int kind, int who, int64_t a, int64_t b, const char *text)
{
    sim_tl_ev ev = {
        .kind = (uint16_t)kind, .node = -1, .who = (int8_t)who, .dir = -1, .a = a, .b = b};
    ev.t = sim_time(s);
    sim_tl_set_text(&ev, text);
    sim_tl_add(&s->tl, &ev);
}

void sim_note(sim *s, const char *fmt, ...)
{
    char text[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    tl_simple(s, SIM_TL_NOTE, -1, 0, 0, text);
}

/* ---- nodes and routing
 * ---------------------------------------------------------------------------- */

static void sync_names(sim *s)
{
    /* The timeline prints names by index; keep a parallel array of pointers into the nodes. */
    const char **names = realloc(s->node_names, s->nnodes * sizeof(char *));
    if (!names)
        abort();
    for (size_t i = 0; i < s->nnodes; i++)
        names[i] = s->nodes[i]->name;
    s->node_names = names;
    s->tl.node_names = names;
    s->tl.nnames = s->nnodes;
}

void sim_node_register(sim *s, sim_node *n, const sim_node_ops *ops, const char *name)
{
    if (s->nnodes == s->nodes_cap) {
        size_t nc = s->nodes_cap ? 2 * s->nodes_cap : 32;
        sim_node **nn = realloc(s->nodes, nc * sizeof(*nn));
        if (!nn)
            abort();
        s->nodes = nn;
        s->nodes_cap = nc;
    }
    n->ops = ops;
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->index = (int)s->nnodes;
    n->next = NULL;
    new_stream(s, &n->rng);
    s->nodes[s->nnodes++] = n;
    sync_names(s);
}

static void host_input(sim *s, int host, sim_pkt *p);

static void pass_to(sim *s, sim_node *next, int dir, sim_pkt *p)
{
    if (next) {
        next->in++;
        next->bytes_in += p->len;
        next->ops->forward(s, next, p);
    } else {
        host_input(s, dir == SIM_UP ? SIM_SERVER : SIM_CLIENT, p);
    }
}

void sim_node_emit(sim *s, sim_node *n, sim_pkt *p)
{
    n->out++;
    pass_to(s, n->next, p->dir, p);
}

void sim_node_emit_at(sim *s, sim_node *n, sim_pkt *p, uint64_t at)
{
    if (at <= s->now) {
        sim_node_emit(s, n, p);
        return;
    }
    heap_push(s, (sim_ev){.at = at, .node = n, .pkt = p});
}

void sim_node_drop(sim *s, sim_node *n, sim_pkt *p, const char *reason)
{
    n->dropped++;
    tl_pkt(s, SIM_TL_DROP, n->index, -1, p, reason);
    sim_pkt_free(s, p);
}

static void relink(sim_iface *f)
{
    sim_node *seq[2][18];
    int n[2] = {0, 0};
    if (f->nat)
        seq[SIM_UP][n[SIM_UP]++] = &f->nat->out;
    for (int i = 0; i < f->nchain[SIM_UP]; i++)
        seq[SIM_UP][n[SIM_UP]++] = f->chain[SIM_UP][i];
    for (int i = 0; i < f->nchain[SIM_DOWN]; i++)
        seq[SIM_DOWN][n[SIM_DOWN]++] = f->chain[SIM_DOWN][i];
    if (f->nat)
        seq[SIM_DOWN][n[SIM_DOWN]++] = &f->nat->in;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < n[d]; i++)
            seq[d][i]->next = i + 1 < n[d] ? seq[d][i + 1] : NULL;
}

static sim_node *chain_head(sim_iface *f, int dir)
{
    if (dir == SIM_UP)
        return f->nat ? &f->nat->out : f->nchain[SIM_UP] ? f->chain[SIM_UP][0] : NULL;
    if (f->nchain[SIM_DOWN])
        return f->chain[SIM_DOWN][0];
    return f->nat ? &f->nat->in : NULL;
}

void sim_iface_append(sim *s, int i, int dir, sim_node *n)
{
    if (i < 0 || i >= s->niface)
        abort();
    sim_iface *f = &s->ifaces[i];
    if (n) {
        if (f->nchain[dir] == (int)TERN_ARRAY_LEN(f->chain[dir]))
            abort();
        f->chain[dir][f->nchain[dir]++] = n;
        n->iface = i;
        n->dir = dir;
    }
    relink(f);
}

void sim_iface_prepend(sim *s, int i, int dir, sim_node *n)
{
    if (i < 0 || i >= s->niface)
        abort();
    sim_iface *f = &s->ifaces[i];
    if (f->nchain[dir] == (int)TERN_ARRAY_LEN(f->chain[dir]))
        abort();
    memmove(&f->chain[dir][1], &f->chain[dir][0], (size_t)f->nchain[dir] * sizeof(sim_node *));
    f->chain[dir][0] = n;
    f->nchain[dir]++;
    n->iface = i;
    n->dir = dir;
    relink(f);
}

tern_addr sim_addr(const char *text)
{
    tern_addr a;
    if (tern_addr_parse(&a, text, 0)) {
        fprintf(stderr, "sim: bad address '%s'\n", text);
        abort();
    }
    return a;
}

static int same_ip(const tern_addr *a, const tern_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

int sim_iface_by_ip(const sim *s, const tern_addr *a)
{
    for (int i = 0; i < s->niface; i++)
        if (same_ip(&s->ifaces[i].addr, a))
            return i;
    return -1;
}

int sim_iface_for_dst(const sim *s, const tern_addr *dst)
{
    for (int i = 0; i < s->niface; i++) {
        const sim_iface *f = &s->ifaces[i];
        if (f->nat ? sim_nat_owns(f->nat, dst) : same_ip(&f->addr, dst))
            return i;
    }
    return -1;
}

int sim_add_iface(sim *s, const char *name, const char *addr, const sim_link_cfg *up,
                  const sim_link_cfg *down)
{
    if (s->niface == SIM_MAX_IFACES)
        return -1;
    int i = s->niface++;
    sim_iface *f = &s->ifaces[i];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->addr = sim_addr(addr);
    f->link[SIM_UP] = sim_link_create(s, i, SIM_UP, up);
    f->link[SIM_DOWN] = sim_link_create(s, i, SIM_DOWN, down ? down : up);
    sim_iface_append(s, i, SIM_UP, &f->link[SIM_UP]->n);
    sim_iface_append(s, i, SIM_DOWN, &f->link[SIM_DOWN]->n);
    return i;
}

/* Puts a datagram leaving a host onto the network. */
static void route(sim *s, int from, sim_pkt *p)
{
    p->dir = from == SIM_CLIENT ? SIM_UP : SIM_DOWN;
    p->sent_at = s->now;
    int i = from == SIM_CLIENT ? sim_iface_by_ip(s, &p->src) : sim_iface_for_dst(s, &p->dst);
    if (i < 0 || s->ifaces[i].down) {
        tl_pkt(s, SIM_TL_DROP, -1, from, p, i < 0 ? "no route" : "interface down");
        sim_pkt_free(s, p);
        return;
    }
    p->iface = i;
    pass_to(s, chain_head(&s->ifaces[i], p->dir), p->dir, p);
}

/* ---- server
 * --------------------------------------------------------------------------------------- */

static void sconn_link(sim *s, sim_sconn *sc)
{
    sc->next = NULL;
    if (s->sconns_tail)
        s->sconns_tail->next = sc;
    else
        s->sconns = sc;
    s->sconns_tail = sc;
}

static void sconn_destroy(sim *s, sim_sconn *sc)
{
    tern_front_detach(&s->front, &sc->fc);
    tern_conn_free(sc->c);
    sim_app_sconn_free(sc);
    free(sc);
}

static const char *drop_name(tern_dispatch_drop why)
{
    static const char *names[TERN_DISPATCH_DROP_COUNT] = {
        "none",         "malformed",       "version negotiation", "too small",
        "not a server", "not an Initial",  "short DCID",          "connection limit",
        "bad token",    "reset too small", "reset rate",          "reply failed",
        "rejected",     "half-open limit",
    };
    return why >= 0 && why < TERN_DISPATCH_DROP_COUNT && names[why] ? names[why] : "?";
}

static size_t server_path_mtu(void *ud, tern_conn *c, const tern_path_addr *path)
{
    sim_sconn *sc = (sim_sconn *)(void *)((char *)ud - offsetof(sim_sconn, fc));
    return sim_hook_path_mtu(sc->s, c, path);
}

static void server_accept(sim *s, const tern_path_addr *path, const tern_dispatch_result *r,
                          sim_pkt *p)
{
    sim_sconn *sc = calloc(1, sizeof(*sc));
    if (!sc)
        abort();
    sc->s = s;
    sc->num = ++s->nsconns;
    tern_conn_hooks h;
    memset(&h, 0, sizeof(h));
    h.path_mtu = server_path_mtu; /* its ud is the front door's view, inside the sim_sconn */
    int rv = tern_front_accept(&s->front, &sc->fc, sc, &h, path, r, p->data, p->len, p->ecn,
                               s->now);
    if (rv) {
        /* nothing authentic in it (e.g. a corrupted Initial): forgotten, as the runtime does */
        tl_pkt(s, SIM_TL_REFUSE, -1, SIM_SERVER, p,
               rv == TERN_ERR_DROP ? "rejected: nothing authentic" : tern_strerror(rv));
        sim_app_sconn_free(sc);
        free(sc);
        if (rv == TERN_ERR_DROP)
            s->st.conns_discarded++;
        return;
    }
    sc->c = sc->fc.c;
    sconn_link(s, sc);
    sc->accepted = 1;
    s->st.accepts++;
    sim_tl_ev ev = {.kind = SIM_TL_ACCEPT,
                    .node = -1,
                    .who = SIM_SERVER,
                    .dir = (int8_t)p->dir,
                    .id = p->id,
                    .len = (uint32_t)p->len,
                    .a = sc->num};
    ev.t = sim_time(s);
    sim_tl_add(&s->tl, &ev);
}

static void server_input(sim *s, sim_pkt *p)
{
    tern_path_addr path = {.local = p->dst, .remote = p->src};
    uint8_t reply[TERN_DISPATCH_REPLY_MAX];
    tern_dispatch_result r;
    int v =
        tern_dispatch_classify(&s->front.disp, &path, p->data, p->len, s->now, reply, sizeof(reply), &r);
    switch (v) {
    case TERN_DISPATCH_CONN: {
        sim_sconn *sc = r.owner;
        (void)tern_front_input(&s->front, &sc->fc, &path, p->data, p->len, p->ecn, s->now);
        break;
    }
    case TERN_DISPATCH_ACCEPT:
        server_accept(s, &path, &r, p);
        break;
    case TERN_DISPATCH_REPLY: {
        static const char *kinds[] = {"VN", "Retry", "stateless reset", "INVALID_TOKEN close"};
        const char *k =
            r.reply_kind >= 0 && r.reply_kind < TERN_DISPATCH_REPLY_KINDS ? kinds[r.reply_kind] : "?";
        sim_pkt *q = sim_pkt_alloc(s);
        memcpy(q->data, reply, r.reply_len);
        q->len = r.reply_len;
        q->src = path.local;
        q->dst = path.remote;
        q->dir = SIM_DOWN;
        if (r.reply_kind >= 0 && r.reply_kind < 3)
            s->st.replies[r.reply_kind]++;
        s->st.dgrams_sent[SIM_SERVER]++;
        s->st.bytes_sent[SIM_SERVER] += q->len;
        tl_pkt(s, SIM_TL_REPLY, -1, SIM_SERVER, p, k);
        tl_pkt(s, SIM_TL_SEND, -1, SIM_SERVER, q, k);
        if (s->on_server_send)
            s->on_server_send(s, q);
        route(s, SIM_SERVER, q);
        break;
    }
    default:
        tl_pkt(s, SIM_TL_REFUSE, -1, SIM_SERVER, p,
               v == TERN_DISPATCH_DROP ? drop_name(r.drop) : "?");
        break;
    }
}

void sim_server_forget_all(sim *s)
{
    while (s->sconns) {
        sim_sconn *sc = s->sconns;
        s->sconns = sc->next;
        sconn_destroy(s, sc);
    }
    s->sconns_tail = NULL;
    sim_note(s, "server forgets every connection");
}

tern_conn *sim_server_conn(sim *s)
{
    for (sim_sconn *sc = s->sconns; sc; sc = sc->next)
        if (sc->accepted)
            return sc->c;
    return NULL;
}

/* ---- hosts
 * ---------------------------------------------------------------------------------------- */

static void host_input(sim *s, int host, sim_pkt *p)
{
    if (s->sink) {
        tl_pkt(s, SIM_TL_DELIVER, -1, host, p, NULL);
        s->sink(s, host, p, s->sink_ud);
        sim_pkt_free(s, p);
        return;
    }
    s->st.dgrams_recv[host]++;
    s->st.bytes_recv[host] += p->len;
    tl_pkt(s, SIM_TL_DELIVER, -1, host, p, NULL);
    if (host == SIM_SERVER) {
        if (s->on_server_recv)
            s->on_server_recv(s, p);
        server_input(s, p);
    } else {
        if (s->on_client_recv)
            s->on_client_recv(s, p);
        if (s->client && !s->client_done) {
            tern_path_addr path = {.local = p->dst, .remote = p->src};
            (void)tern_conn_recv(s->client, &path, p->data, p->len, p->ecn, s->now);
        }
    }
    sim_pkt_free(s, p);
}

/* Pulls every datagram a core has to send now, one at a time so that each size is exact. */
static void pump(sim *s, tern_conn *c, int who)
{
    for (int guard = 0; guard < 100000; guard++) {
        sim_pkt *p = sim_pkt_alloc(s);
        tern_path_addr out;
        size_t seg = 0, count = 0, len = 0;
        int ecn = 0;
        int rv = tern_conn_send_batch_ecn(c, &out, p->data, sizeof(p->data), 1, &seg, &count, &len,
                                          &ecn, s->now);
        if (rv || count == 0 || seg == 0) {
            sim_pkt_free(s, p);
            return;
        }
        p->len = seg;
        p->ecn = ecn;
        p->src = out.local;
        p->dst = out.remote;
        p->dir = who == SIM_CLIENT ? SIM_UP : SIM_DOWN;
        int fi = who == SIM_CLIENT ? sim_iface_by_ip(s, &p->src) : -1;
        if (fi >= 0 && s->ifaces[fi].down) {
            /* the address is gone from the host: the send fails, as sendmsg would */
            tl_pkt(s, SIM_TL_DROP, -1, who, p, "socket error (interface down)");
            sim_pkt_free(s, p);
            tern_conn_path_socket_error(c, tern_conn_path_by_local(c, &out.local), s->now);
            continue;
        }
        s->st.dgrams_sent[who]++;
        s->st.bytes_sent[who] += seg;
        tl_pkt(s, SIM_TL_SEND, -1, who, p, NULL);
        if (who == SIM_SERVER && s->on_server_send)
            s->on_server_send(s, p);
        route(s, who, p);
    }
    s->stuck = 1;
    snprintf(s->stuck_why, sizeof(s->stuck_why), "%s core produced 100000 datagrams at one instant",
             sim_host_name[who]);
}

uint64_t sim_send_raw(sim *s, int from, const tern_addr *src, const tern_addr *dst,
                      const uint8_t *data, size_t len)
{
    sim_pkt *p = sim_pkt_alloc(s);
    if (len > sizeof(p->data))
        len = sizeof(p->data);
    for (size_t i = 0; i < len; i++)
        p->data[i] = data ? data[i] : (uint8_t)i;
    p->len = len;
    p->src = *src;
    p->dst = *dst;
    p->dir = from == SIM_CLIENT ? SIM_UP : SIM_DOWN;
    uint64_t id = p->id;
    s->st.dgrams_sent[from]++;
    s->st.bytes_sent[from] += len;
    tl_pkt(s, SIM_TL_SEND, -1, from, p, "raw");
    route(s, from, p);
    return id;
}

static void pump_all(sim *s)
{
    if (s->client && !s->client_done)
        pump(s, s->client, SIM_CLIENT);
    for (sim_sconn *sc = s->sconns; sc; sc = sc->next)
        if (!sc->done)
            pump(s, sc->c, SIM_SERVER);
}

static void record_close(sim *s, int who, const tern_close_info *ci)
{
    tl_simple(s, SIM_TL_CLOSED, who, ci->status, (int64_t)ci->error_code, ci->reason);
}

static void reap(sim *s)
{
    if (s->client && !s->client_done && tern_conn_is_done(s->client)) {
        s->client_done = 1;
        s->client_closed_at = sim_time(s);
        s->client_close = *tern_conn_close_info(s->client);
        record_close(s, SIM_CLIENT, &s->client_close);
    }
    for (sim_sconn *sc = s->sconns; sc; sc = sc->next) {
        if (sc->done || !tern_conn_is_done(sc->c))
            continue;
        sc->done = 1;
        tern_front_detach(&s->front, &sc->fc);
        const tern_close_info *ci = tern_conn_close_info(sc->c);
        if (!s->server_closed) {
            s->server_closed = 1;
            s->server_closed_at = sim_time(s);
            s->server_close = *ci;
        }
        record_close(s, SIM_SERVER, ci);
    }
}

static uint64_t next_time(sim *s)
{
    uint64_t t = s->hn ? s->heap[0].at : SIM_INF;
    if (s->client && !s->client_done) {
        uint64_t ct = tern_conn_next_timeout(s->client);
        if (ct < t)
            t = ct;
    }
    for (sim_sconn *sc = s->sconns; sc; sc = sc->next) {
        if (sc->done)
            continue;
        uint64_t st = tern_conn_next_timeout(sc->c);
        if (st < t)
            t = st;
    }
    return t;
}

static void run_due_events(sim *s)
{
    while (s->hn && s->heap[0].at <= s->now) {
        sim_ev e = heap_pop(s);
        s->st.events++;
        if (e.fn) {
            if (e.label)
                tl_simple(s, SIM_TL_ACTION, -1, 0, 0, e.label);
            e.fn(s, e.arg);
        } else {
            sim_node_emit(s, e.node, e.pkt);
        }
    }
}

static void run_timers(sim *s)
{
    if (s->client && !s->client_done && tern_conn_next_timeout(s->client) <= s->now) {
        s->st.timer_fires++;
        tern_conn_on_timeout(s->client, s->now);
    }
    for (sim_sconn *sc = s->sconns; sc; sc = sc->next)
        if (!sc->done && tern_conn_next_timeout(sc->c) <= s->now) {
            s->st.timer_fires++;
            tern_conn_on_timeout(sc->c, s->now);
        }
}

/* Which of a core's timers is due now, and whether the active path may send at all: enough to
 * name the culprit of a busy loop without a debugger. */
static size_t timer_detail(tern_conn *c, uint64_t now, char *buf, size_t cap)
{
    const tern_ackr *a = tern_conn_ackr(c, TERN_SPACE_APP);
    tern_path *pp = tern_conn_active_path(c);
    tern_conn_deadlines d = tern_conn_get_deadlines(c);
    uint64_t amp = tern_path_amp_budget(pp);
    int n =
        snprintf(buf, cap,
                 "%s%s%s%s%s%s (state %d, active path %d, cwnd %llu, in flight %llu, "
                 "amplification budget %s%llu B)",
                 d.idle <= now ? " idle" : "", d.handshake <= now ? " handshake" : "",
                 tern_recovery_timer(tern_conn_recovery(c), 0) <= now ? " loss/PTO" : "",
                 a->ack_pending && !tern_conn_space_discarded(c, TERN_SPACE_APP) &&
                         (a->immediate || a->ack_deadline <= now)
                     ? (a->immediate ? " ack(immediate)" : " ack")
                     : "",
                 d.pace_until && d.pace_until <= now ? " pacing" : "",
                 tern_mig_next_timeout(c) <= now ? " migration" : "", tern_conn_state(c),
                 tern_conn_active_index(c), (unsigned long long)pp->cc.cwnd,
                 (unsigned long long)pp->cc.bytes_in_flight, amp == UINT64_MAX ? "unlimited " : "",
                 (unsigned long long)(amp == UINT64_MAX ? 0 : amp));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void describe_stuck(sim *s)
{
    char who[200] = "";
    size_t off = 0;
    if (s->client && !s->client_done && tern_conn_next_timeout(s->client) <= s->now) {
        off += (size_t)snprintf(who + off, sizeof(who) - off, " client:");
        off += timer_detail(s->client, s->now, who + off, sizeof(who) - off);
    }
    for (sim_sconn *sc = s->sconns; sc && off + 32 < sizeof(who); sc = sc->next)
        if (!sc->done && tern_conn_next_timeout(sc->c) <= s->now) {
            off += (size_t)snprintf(who + off, sizeof(who) - off, " server#%d:", sc->num);
            off += timer_detail(sc->c, s->now, who + off, sizeof(who) - off);
        }
    s->stuck = 1;
    snprintf(s->stuck_why, sizeof(s->stuck_why),
             "busy loop: %d rounds at t=%.6f s without the clock advancing; due:%s", SIM_SPIN_LIMIT,
             (double)sim_time(s) / 1e9, off ? who : " nothing");
}

static int make_client(sim *s, const uint8_t *session, size_t session_len, int early)
{
    tern_conn_params cp;
    memset(&cp, 0, sizeof(cp));
    cp.version = 0; /* the configuration's first version */
    cp.cfg = &s->cfg_c;
    cp.tls_ctx = s->tls_c;
    cp.cb = &sim_app_client_cb;
    cp.cb_ud = s;
    cp.rand = rng_fill;
    cp.rand_ud = &s->client_rng;
    cp.reset_key = s->client_reset_key;
    cp.server_name = "localhost";
    cp.session = session;
    cp.session_len = session_len;
    cp.early_data = early;
    cp.hooks.route_usable = sim_hook_route_usable;
    cp.hooks.bind_local = sim_hook_bind_local;
    cp.hooks.path_mtu = sim_hook_path_mtu;
    cp.hooks.ud = s;
    tern_path_addr path = {.local = s->ifaces[s->client_iface].addr, .remote = s->server_addr};
    return tern_conn_new(&s->client, &cp, &path, s->now);
}

int sim_reconnect(sim *s, const uint8_t *session, size_t session_len, int early)
{
    if (!s->started)
        return TERN_ERR_INVALID_ARG;
    tern_conn_free(s->client);
    s->client = NULL;
    sim_app_free(s);
    s->npending = 0;
    s->connected = s->client_done = 0;
    s->connected_at = s->client_closed_at = 0;
    memset(&s->client_close, 0, sizeof(s->client_close));
    s->reconnected_at = sim_time(s);
    return make_client(s, session, session_len, early);
}

int sim_start(sim *s)
{
    if (s->started)
        return 0;
    if (s->niface == 0 || s->client_iface < 0 || s->client_iface >= s->niface)
        return TERN_ERR_INVALID_ARG;
    /* the simulator's credentials unless a scenario chose others */
    int rv = tern_tls_ctx_new(&s->tls_c, 0, NULL, NULL, s->cfg_c.ca_file, s->cfg_c.verify_peer,
                              s->cfg_c.tls_priority, s->cfg_c.alpn, s->cfg_c.alpn_count);
    if (!rv)
        rv = tern_tls_ctx_new(&s->tls_s, 1, s->cfg_s.cert_file, s->cfg_s.key_file, NULL, 0,
                              s->cfg_s.tls_priority, s->cfg_s.alpn, s->cfg_s.alpn_count);
    /* tickets and 0-RTT as tern_config asks for them (the runtime's tern_cfg_copy_tls) */
    if (!rv && (s->cfg_s.session_tickets || s->cfg_s.early_data))
        rv = tern_tls_ctx_set_tickets(s->tls_s, 1);
    if (!rv && s->cfg_s.early_data)
        rv = tern_tls_ctx_set_early_data(s->tls_s, 1, 0);
    if (rv)
        return rv;
    /* the front door draws from a stream of its own, the connections from the server's */
    uint8_t keys[64];
    memcpy(keys, s->reset_key, 32);
    rng_fill(&s->server_rng, keys + 32, 32);
    sim_rng *drng = malloc(sizeof(*drng));
    if (!drng)
        return TERN_ERR_NOMEM;
    new_stream(s, drng);
    s->disp_rng = drng;
    if ((rv = tern_front_init(&s->front, &s->cfg_s, s->tls_s, &sim_app_server_cb, s, rng_fill, drng,
                              keys)))
        return rv;
    s->front.rand_ud = &s->server_rng;
    s->disp_ready = 1;

    if ((rv = make_client(s, NULL, 0, 0)))
        return rv;
    s->started = 1;
    return 0;
}

int sim_run(sim *s, int (*cond)(sim *s), uint64_t limit_ns)
{
    if (!s->started && !s->sink) {
        int rv = sim_start(s);
        if (rv) {
            s->stuck = 1;
            snprintf(s->stuck_why, sizeof(s->stuck_why), "the simulation could not start: %s",
                     tern_strerror(rv));
            return 0;
        }
    }
    uint64_t end = limit_ns > UINT64_MAX - s->now ? UINT64_MAX : s->now + limit_ns;
    uint64_t spin = 0;
    for (;;) {
        /* what is due now first: an action at the current instant (a cut at 0, a migration)
         * applies to what the cores send next */
        run_due_events(s);
        run_timers(s);
        s->st.iterations++;
        pump_all(s);
        reap(s);
        if (cond && cond(s))
            return 1;
        if (s->stuck)
            return 0;
        uint64_t t = next_time(s);
        if (t == SIM_INF || t > end) {
            if (end != UINT64_MAX && end > s->now)
                s->now = end;
            return cond ? cond(s) : 1;
        }
        if (t > s->now) {
            s->now = t;
            spin = 0;
        } else {
            /* a timer due now, once more: legitimate a few times (a send that had to wait for
             * this round), a busy loop when it never stops */
            if (++spin > s->st.max_spin)
                s->st.max_spin = spin;
            if (spin >= SIM_SPIN_LIMIT) {
                describe_stuck(s);
                return 0;
            }
        }
    }
}

/* ---- conditions and the application's view
 * ---------------------------------------------------------- */

int sim_cond_connected(sim *s)
{
    return s->connected;
}
int sim_cond_client_closed(sim *s)
{
    return s->client_done;
}

int sim_cond_all_done(sim *s)
{
    if (s->client_done)
        return 1;
    if (s->npending)
        return 0;
    for (int i = 0; i < s->ncs; i++)
        if (!s->cs[i].fin)
            return 0;
    return s->ncs > 0;
}

int sim_cond_both_closed(sim *s)
{
    if (!s->client_done)
        return 0;
    for (sim_sconn *sc = s->sconns; sc; sc = sc->next)
        if (!sc->done)
            return 0;
    return 1;
}

int sim_request(sim *s, uint64_t bytes)
{
    if (s->client && !s->client_done &&
        (s->connected || tern_conn_early_data(s->client) == TERN_EARLY_DATA_PENDING))
        return sim_app_open(s, bytes);
    if (s->npending + s->ncs >= SIM_MAX_STREAMS)
        return -1;
    s->pending_req[s->npending++] = bytes;
    return 0;
}

uint64_t sim_bytes_received(const sim *s)
{
    uint64_t n = 0;
    for (int i = 0; i < s->ncs; i++)
        n += s->cs[i].got;
    return n;
}

void sim_tap_client_qlog(sim *s, tern_qlog_fn fn, void *ud, tern_qlog_fn *next, void **next_ud)
{
    *next = s->cfg_c.qlog;
    *next_ud = s->cfg_c.qlog_ud;
    s->cfg_c.qlog = fn;
    s->cfg_c.qlog_ud = ud;
}

int sim_verify(sim *s, char *why, size_t cap)
{
    char dummy[8];
    if (!why) {
        why = dummy;
        cap = sizeof(dummy);
    }
    why[0] = 0;
    if (s->ncs == 0 || s->npending) {
        snprintf(why, cap, "%d stream(s) opened, %d request(s) never sent", s->ncs, s->npending);
        return 0;
    }
    for (int i = 0; i < s->ncs; i++) {
        sim_cstream *st = &s->cs[i];
        if (!st->fin || st->mismatch || st->got != st->want ||
            memcmp(st->sha_got, st->sha_want, 32) != 0) {
            snprintf(why, cap, "stream %lld: fin=%d mismatch=%d got=%llu of %llu sha256 %s",
                     (long long)st->sid, st->fin, st->mismatch, (unsigned long long)st->got,
                     (unsigned long long)st->want,
                     st->fin ? (memcmp(st->sha_got, st->sha_want, 32) ? "differs" : "equal")
                             : "not computed");
            return 0;
        }
    }
    return 1;
}

/* ---- life cycle
 * ------------------------------------------------------------------------------------ */

sim *sim_new(uint64_t seed)
{
    if (ensure_creds())
        return NULL;
    sim *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cs = calloc(SIM_MAX_STREAMS, sizeof(*s->cs));
    if (!s->cs) {
        free(s);
        return NULL;
    }
    s->seed = seed;
    s->start = s->now = SIM_SEC;
    sim_tl_init(&s->tl);
    new_stream(s, &s->client_rng);
    new_stream(s, &s->server_rng);
    sim_rng keys;
    new_stream(s, &keys);
    rng_fill(&keys, s->reset_key, sizeof(s->reset_key));
    rng_fill(&keys, s->client_reset_key, sizeof(s->client_reset_key));

    static const char *alpn[] = {"hq-interop"};
    tern_config_init(&s->cfg_c);
    s->cfg_c.alpn = alpn;
    s->cfg_c.alpn_count = 1;
    s->cfg_c.ca_file = cert_path;
    /* Ethernet-sized datagrams unless a scenario asks for more (path MTU discovery's) */
    s->cfg_c.max_udp_payload = 1452;
    s->cfg_s = s->cfg_c;
    s->cfg_s.ca_file = NULL;
    s->cfg_s.cert_file = cert_path;
    s->cfg_s.key_file = key_path;
    s->server_addr = sim_addr("192.0.2.1:443");
    return s;
}

void sim_free(sim *s)
{
    if (!s)
        return;
    while (s->hn) {
        sim_ev e = heap_pop(s);
        if (e.pkt)
            sim_pkt_free(s, e.pkt);
    }
    free(s->heap);
    while (s->sconns) {
        sim_sconn *sc = s->sconns;
        s->sconns = sc->next;
        sconn_destroy(s, sc);
    }
    if (s->disp_ready)
        tern_front_free(&s->front);
    free(s->disp_rng);
    sim_app_free(s);
    free(s->cs);
    tern_conn_free(s->client);
    tern_tls_ctx_free(s->tls_c);
    tern_tls_ctx_free(s->tls_s);
    for (size_t i = 0; i < s->nnodes; i++)
        s->nodes[i]->ops->free(s->nodes[i]);
    free(s->nodes);
    free(s->node_names);
    free(s->path_log[0]);
    free(s->path_log[1]);
    for (size_t i = 0; i < s->nchunks; i++)
        free(s->chunks[i]);
    free(s->chunks);
    free(s);
}
