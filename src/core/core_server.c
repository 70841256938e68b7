/* The public sans-I/O server (tern/core.h): the shared front door (front.h) with a configuration
 * copy, credentials and the list of the connections it created, which the caller drives. */
#include "core_rec.h"
#include "tern/core.h"

#include <stdlib.h>
#include <string.h>

struct tern_core_server {
    tern_cfg_copy conf;
    tern_tls_ctx *tls;
    tern_callbacks cb;
    void *ud;
    tern_front front;
    tern_core_rec *conns;
    size_t nconns;
};

int tern_core_server_new_sized(const tern_config *cfg_in, size_t cfg_size,
                               const tern_callbacks *cb_in, size_t cb_size, void *ud,
                               tern_rand_fn rand, void *rand_ud, tern_core_server **out)
{
    if (!out)
        return TERN_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg_in || !rand)
        return TERN_ERR_INVALID_ARG;
    /* the caller's structs may be an older, shorter layout: what they lack takes the defaults */
    tern_config cfg_full;
    tern_callbacks cb_full;
    if (tern_cfg_import(&cfg_full, cfg_in, cfg_size) || tern_cb_import(&cb_full, cb_in, cb_size))
        return TERN_ERR_ABI;
    const tern_config *cfg = &cfg_full;
    if (!cfg->cert_file || !cfg->key_file)
        return TERN_ERR_CONFIG;
    tern_core_server *s = calloc(1, sizeof(*s));
    if (!s)
        return TERN_ERR_NOMEM;
    s->cb = cb_full;
    s->ud = ud;
    int rv = tern_cfg_copy_init(&s->conf, cfg);
    if (!rv)
        rv = tern_cfg_copy_tls(&s->conf, 1, &s->tls);
    if (!rv)
        rv = tern_front_init(&s->front, &s->conf.cfg, s->tls, &s->cb, ud, rand, rand_ud, NULL);
    if (rv) {
        tern_core_server_free(s);
        return rv;
    }
    *out = s;
    return 0;
}

static void unlink_rec(tern_core_server *s, tern_core_rec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->conns = r->next;
    if (r->next)
        r->next->prev = r->prev;
    s->nconns--;
}

void tern_core_server_release(tern_core_rec *r)
{
    tern_core_server *s = r->srv;
    tern_front_detach(&s->front, &r->fc);
    unlink_rec(s, r);
    tern_conn_free(r->fc.c);
    free(r);
}

void tern_core_server_free(tern_core_server *s)
{
    if (!s)
        return;
    while (s->conns)
        tern_core_server_release(s->conns);
    tern_front_free(&s->front);
    tern_tls_ctx_free(s->tls);
    tern_cfg_copy_free(&s->conf);
    free(s);
}

size_t tern_core_server_conn_count(const tern_core_server *s)
{
    return s ? s->nconns : 0;
}

static int reply_kind(int k)
{
    switch (k) {
    case TERN_DISPATCH_REPLY_VN:
        return TERN_CORE_REPLY_VN;
    case TERN_DISPATCH_REPLY_RETRY:
        return TERN_CORE_REPLY_RETRY;
    case TERN_DISPATCH_REPLY_RESET:
        return TERN_CORE_REPLY_RESET;
    default:
        return TERN_CORE_REPLY_CLOSE;
    }
}

/* The connection an ACCEPT verdict asked for, in a record of its own on the server's list. */
static tern_conn *accept_conn(tern_core_server *s, const tern_path_addr *path,
                              const tern_dispatch_result *res, uint8_t *d, size_t len, int ecn,
                              tern_tstamp now)
{
    tern_core_rec *r = calloc(1, sizeof(*r));
    if (!r) {
        tern_dispatch_note_drop(&s->front.disp, TERN_DISPATCH_DROP_REJECTED);
        return NULL;
    }
    r->magic = TERN_CORE_REC_MAGIC;
    r->srv = s;
    if (tern_front_accept(&s->front, &r->fc, r, NULL, path, res, d, len, ecn, now)) {
        free(r);
        return NULL;
    }
    r->next = s->conns;
    if (s->conns)
        s->conns->prev = r;
    s->conns = r;
    s->nconns++;
    if (s->cb.on_accept)
        s->cb.on_accept(r->fc.c, s->ud);
    return r->fc.c;
}

int tern_core_server_recv(tern_core_server *s, const tern_path_addr *path, uint8_t *dgram,
                          size_t len, int ecn, tern_tstamp now, uint8_t *reply, size_t reply_cap,
                          size_t *reply_len, int *kind, tern_conn **conn)
{
    if (!s || !path || !dgram || !conn || ecn < 0 || ecn > 3 || (reply_cap && !reply) ||
        (reply_cap && (!reply_len || !kind)))
        return TERN_ERR_INVALID_ARG;
    *conn = NULL;
    if (reply_len)
        *reply_len = 0;
    if (kind)
        *kind = TERN_CORE_REPLY_NONE;
    tern_dispatch_result r;
    uint8_t none[1];
    int v = tern_dispatch_classify(&s->front.disp, path, dgram, len, now, reply_cap ? reply : none,
                                   reply_cap, &r);
    if (v < 0)
        return v;
    switch (v) {
    case TERN_DISPATCH_CONN: {
        tern_core_rec *cr = r.owner;
        (void)tern_front_input(&s->front, &cr->fc, path, dgram, len, ecn, now);
        *conn = cr->fc.c;
        return TERN_CORE_ROUTED;
    }
    case TERN_DISPATCH_ACCEPT:
        *conn = accept_conn(s, path, &r, dgram, len, ecn, now);
        return *conn ? TERN_CORE_ACCEPTED : TERN_CORE_DROPPED;
    case TERN_DISPATCH_REPLY:
        *reply_len = r.reply_len;
        *kind = reply_kind(r.reply_kind);
        return TERN_CORE_REPLY;
    default:
        return TERN_CORE_DROPPED;
    }
}
