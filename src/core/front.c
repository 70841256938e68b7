/* The server front door shared by every driver (see front.h). */
#include "front.h"
#include "qversion.h"

#include <string.h>

static int retry_cid(void *ud, tern_cid *cid)
{
    tern_front *f = ud;
    return tern_cidgen_make(&f->cidgen, f->rand, f->rand_ud, cid);
}

int tern_front_init(tern_front *f, const tern_config *cfg, tern_tls_ctx *tls,
                    const tern_callbacks *cb, void *cb_ud, tern_rand_fn rand, void *rand_ud,
                    const uint8_t *keys)
{
    memset(f, 0, sizeof(*f));
    f->cfg = cfg;
    f->tls = tls;
    f->cb = cb;
    f->cb_ud = cb_ud;
    f->rand = rand;
    f->rand_ud = rand_ud;
    int rv = tern_cidgen_init(&f->cidgen, cfg, TERN_FRONT_CID_LEN, 0, 0);
    if (rv)
        return rv;
    tern_dispatch_config dc;
    tern_dispatch_config_init(&dc);
    dc.is_server = tls != NULL;
    dc.retry = cfg->retry;
    dc.cid_len = f->cidgen.len;
    dc.make_cid = retry_cid;
    dc.make_cid_ud = f;
    dc.rand = rand;
    dc.rand_ud = rand_ud;
    dc.max_conns = TERN_FRONT_MAX_CONNS;
    dc.retry_token_lifetime_ns = TERN_FRONT_RETRY_TOKEN_LIFETIME_NS;
    dc.resets_per_sec = TERN_FRONT_RESETS_PER_SEC;
    dc.retry_half_open = cfg->retry_half_open;
    dc.max_half_open = cfg->max_half_open;
    dc.versions_count = tern_qv_list(cfg, dc.versions);
    dc.new_token_lifetime_ns = cfg->token_lifetime_ms > UINT64_MAX / 1000000
                                   ? UINT64_MAX
                                   : cfg->token_lifetime_ms * 1000000;
    if (keys) {
        memcpy(dc.reset_key, keys, 32);
        memcpy(dc.retry_key, keys + 32, 32);
    } else if ((rv = rand(rand_ud, dc.reset_key, 32)) == 0) {
        rv = rand(rand_ud, dc.retry_key, 32);
    }
    if (!rv)
        rv = tern_dispatch_init(&f->disp, &dc);
    if (rv)
        tern_cidgen_free(&f->cidgen);
    /* the dispatcher keeps its copy; this one is wiped (volatile: not optimised away) */
    volatile uint8_t *p = (volatile uint8_t *)&dc;
    for (size_t i = 0; i < sizeof(dc); i++)
        p[i] = 0;
    return rv;
}

void tern_front_free(tern_front *f)
{
    tern_cidgen_free(&f->cidgen);
    tern_dispatch_free(&f->disp);
    volatile uint8_t *p = (volatile uint8_t *)&f->disp; /* the keys */
    for (size_t i = 0; i < sizeof(f->disp); i++)
        p[i] = 0;
}

int tern_front_set_worker(tern_front *f, unsigned worker, unsigned workers)
{
    if (f->disp.owners)
        return TERN_ERR_INVALID_ARG;
    tern_cidgen g;
    int rv = tern_cidgen_init(&g, f->cfg, TERN_FRONT_CID_LEN, worker, workers);
    if (rv)
        return rv;
    tern_cidgen_free(&f->cidgen);
    f->cidgen = g;
    f->disp.cfg.cid_len = g.len;
    return 0;
}

static int hook_new_cid(void *ud, tern_conn *c, tern_cid *cid)
{
    tern_front_conn *fc = ud;
    (void)c;
    return tern_cidgen_make(&fc->f->cidgen, fc->f->rand, fc->f->rand_ud, cid);
}

static void hook_cid_added(void *ud, tern_conn *c, const tern_cid *cid)
{
    tern_front_conn *fc = ud;
    (void)c;
    /* A collision with a live CID (random 8 bytes, or a client's chosen DCID) keeps the first. */
    (void)tern_dispatch_add_route(&fc->f->disp, &fc->route, cid);
}

static void hook_cid_removed(void *ud, tern_conn *c, const tern_cid *cid)
{
    tern_front_conn *fc = ud;
    (void)c;
    tern_dispatch_remove_route(&fc->f->disp, &fc->route, cid);
}

/* Server connections: a datagram for no known CID that ends with one of these tokens goes to the
 * connection, which recognises its client's stateless reset. */
static void hook_reset_token(void *ud, tern_conn *c, const uint8_t *token, int added)
{
    tern_front_conn *fc = ud;
    (void)c;
    if (added)
        (void)tern_dispatch_add_reset_token(&fc->f->disp, &fc->route, token);
    else
        tern_dispatch_remove_reset_token(&fc->f->disp, &fc->route, token);
}

void tern_front_attach(tern_front *f, tern_front_conn *fc, void *val)
{
    fc->f = f;
    fc->c = NULL;
    tern_dispatch_attach(&f->disp, &fc->route, val);
}

void tern_front_hooks(tern_front_conn *fc, tern_conn_hooks *h)
{
    h->cid_added = hook_cid_added;
    h->cid_removed = hook_cid_removed;
    h->reset_token = hook_reset_token;
    h->new_cid = hook_new_cid;
    h->ud = fc;
}

void tern_front_detach(tern_front *f, tern_front_conn *fc)
{
    tern_dispatch_detach(&f->disp, &fc->route);
}

int tern_front_accept(tern_front *f, tern_front_conn *fc, void *val, const tern_conn_hooks *extra,
                      const tern_path_addr *path, const tern_dispatch_result *r, uint8_t *d,
                      size_t len, int ecn, tern_tstamp now)
{
    tern_front_attach(f, fc, val);
    tern_conn_params p;
    memset(&p, 0, sizeof(p));
    p.is_server = 1;
    p.version = r->version;
    p.cfg = f->cfg;
    p.tls_ctx = f->tls;
    p.cb = f->cb;
    p.cb_ud = f->cb_ud;
    p.rand = f->rand;
    p.rand_ud = f->rand_ud;
    p.reset_key = tern_dispatch_reset_key(&f->disp);
    p.token_key = tern_dispatch_new_token_key(&f->disp);
    p.scid_len = f->cidgen.len;
    p.client_dcid = r->client_dcid;
    p.client_scid = r->client_scid;
    p.original_dcid = r->original_dcid;
    p.retried = r->retried;
    p.address_validated = r->address_validated;
    if (extra)
        p.hooks = *extra;
    tern_front_hooks(fc, &p.hooks);
    if (f->qlog) {
        p.qlog = f->qlog;
        p.qlog_ud = val;
    }
    tern_conn *c;
    int rv = f->tls ? tern_conn_new(&c, &p, path, now) : TERN_ERR_CONFIG;
    if (rv) {
        tern_front_detach(f, fc);
        tern_dispatch_note_drop(&f->disp, TERN_DISPATCH_DROP_REJECTED);
        return rv;
    }
    fc->c = c;
    tern_conn_set_driver_data(c, val); /* the callbacks of its first datagram may look for it */
    /* Retransmitted Initials still carry the DCID the client chose (or the Retry's SCID). */
    (void)tern_dispatch_add_route(&f->disp, &fc->route, &r->client_dcid);
    (void)tern_conn_recv(c, path, d, len, ecn, now);
    tern_conn_stats cs;
    tern_conn_get_stats(c, &cs);
    if (cs.pkts_recv == 0) {
        tern_front_detach(f, fc);
        tern_conn_free(c);
        fc->c = NULL;
        tern_dispatch_note_drop(&f->disp, TERN_DISPATCH_DROP_REJECTED);
        return TERN_ERR_DROP;
    }
    tern_dispatch_set_half_open(&f->disp, &fc->route, !tern_conn_handshake_completed(c));
    return 0;
}

int tern_front_input(tern_front *f, tern_front_conn *fc, const tern_path_addr *path, uint8_t *d,
                     size_t len, int ecn, tern_tstamp now)
{
    int rv = tern_conn_recv(fc->c, path, d, len, ecn, now);
    /* A server connection stops counting as half-open once its handshake completed, also when
     * the same datagram closed it (a client that connects, looks and leaves): its draining
     * period must not hold a handshake slot. One closed before completing keeps its slot until
     * it is freed: Initial keys are public, so anyone can close a handshake it started. */
    if (fc->route.half_open && tern_conn_handshake_completed(fc->c))
        tern_dispatch_set_half_open(&f->disp, &fc->route, 0);
    return rv;
}
