/* The public sans-I/O connection API (tern/core.h): thin entry points over the engine the
 * runtime drives (conn.h, migration.h, policy.h), adding only argument checks and, for a client,
 * the configuration copy and TLS context a runtime endpoint would otherwise hold. */
#include "core_rec.h"
#include "migration.h"
#include "policy.h"
#include "tern/core.h"

#include <stdlib.h>
#include <string.h>

tern_core_rec *tern_core_rec_of(const tern_conn *c)
{
    tern_core_rec *r = tern_conn_get_driver_data(c);
    return r && r->magic == TERN_CORE_REC_MAGIC ? r : NULL;
}

static int addr_family_ok(const tern_addr *a)
{
    return (a->u.sa.sa_family == AF_INET && a->len == sizeof(struct sockaddr_in)) ||
           (a->u.sa.sa_family == AF_INET6 && a->len == sizeof(struct sockaddr_in6));
}

static void client_rec_free(tern_core_rec *r)
{
    if (r->client) {
        tern_tls_ctx_free(r->client->tls);
        tern_cfg_copy_free(&r->client->conf);
        free(r->client);
    }
    free(r);
}

static int client_new(const tern_config *cfg_in, size_t cfg_size, const tern_callbacks *cb_in,
                      size_t cb_size, void *ud, const tern_path_addr *path, const char *server_name,
                      tern_rand_fn rand, void *rand_ud, tern_tstamp now, const uint8_t *session,
                      size_t session_len, unsigned flags, tern_conn **out)
{
    if (!out)
        return TERN_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg_in || !path || !rand || !addr_family_ok(&path->local) ||
        !addr_family_ok(&path->remote) || path->local.u.sa.sa_family != path->remote.u.sa.sa_family)
        return TERN_ERR_INVALID_ARG;
    /* the caller's structs may be an older, shorter layout: what they lack takes the defaults */
    tern_config cfg_full;
    tern_callbacks cb_full;
    if (tern_cfg_import(&cfg_full, cfg_in, cfg_size) || tern_cb_import(&cb_full, cb_in, cb_size))
        return TERN_ERR_ABI;
    const tern_config *cfg = &cfg_full;
    tern_core_rec *r = calloc(1, sizeof(*r));
    if (!r)
        return TERN_ERR_NOMEM;
    r->magic = TERN_CORE_REC_MAGIC;
    r->cb = cb_full;
    if (!(r->client = calloc(1, sizeof(*r->client)))) {
        free(r);
        return TERN_ERR_NOMEM;
    }
    int rv = tern_cfg_copy_init(&r->client->conf, cfg);
    if (!rv)
        rv = tern_cfg_copy_tls(&r->client->conf, 0, &r->client->tls);
    if (rv) {
        client_rec_free(r);
        return rv;
    }
    /* Stateless reset tokens of the CIDs we issue: a client's only matter to a server that lost
     * its state, so a per-connection random key is enough. */
    uint8_t reset_key[32];
    if ((rv = rand(rand_ud, reset_key, sizeof(reset_key)))) {
        client_rec_free(r);
        return rv;
    }
    tern_conn_params p;
    memset(&p, 0, sizeof(p));
    p.version = 0; /* the configuration's first version */
    p.cfg = &r->client->conf.cfg;
    p.tls_ctx = r->client->tls;
    p.cb = &r->cb;
    p.cb_ud = ud;
    p.rand = rand;
    p.rand_ud = rand_ud;
    p.reset_key = reset_key;
    p.scid_len = TERN_FRONT_CID_LEN;
    p.server_name = server_name;
    p.session = session;
    p.session_len = session_len;
    p.early_data = (flags & TERN_CONNECT_EARLY_DATA) != 0;
    tern_conn *c;
    rv = tern_conn_new(&c, &p, path, now);
    memset(reset_key, 0, sizeof(reset_key));
    if (rv) {
        client_rec_free(r);
        return rv;
    }
    tern_conn_set_driver_data(c, r);
    *out = c;
    return 0;
}

int tern_core_client_new_sized(const tern_config *cfg, size_t cfg_size, const tern_callbacks *cb,
                               size_t cb_size, void *ud, const tern_path_addr *path,
                               const char *server_name, tern_rand_fn rand, void *rand_ud,
                               tern_tstamp now, tern_conn **out)
{
    return client_new(cfg, cfg_size, cb, cb_size, ud, path, server_name, rand, rand_ud, now, NULL,
                      0, 0, out);
}

int tern_core_client_new_session_sized(const tern_config *cfg, size_t cfg_size,
                                       const tern_callbacks *cb, size_t cb_size, void *ud,
                                       const tern_path_addr *path, const char *server_name,
                                       tern_rand_fn rand, void *rand_ud, tern_tstamp now,
                                       const uint8_t *session, size_t session_len, unsigned flags,
                                       tern_conn **out)
{
    if (out)
        *out = NULL;
    if (!session)
        return TERN_ERR_SESSION;
    return client_new(cfg, cfg_size, cb, cb_size, ud, path, server_name, rand, rand_ud, now,
                      session, session_len, flags, out);
}

void tern_core_conn_free(tern_conn *c)
{
    if (!c)
        return;
    tern_core_rec *r = tern_core_rec_of(c);
    if (!r)
        return; /* not ours: a runtime connection is freed by its endpoint */
    if (r->srv) {
        tern_core_server_release(r);
        return;
    }
    tern_conn_free(c);
    client_rec_free(r);
}

int tern_core_recv(tern_conn *c, const tern_path_addr *path, uint8_t *dgram, size_t len, int ecn,
                   tern_tstamp now)
{
    if (!c || !path || !dgram || ecn < 0 || ecn > 3)
        return TERN_ERR_INVALID_ARG;
    tern_core_rec *r = tern_core_rec_of(c);
    if (r && r->srv)
        return tern_front_input(r->fc.f, &r->fc, path, dgram, len, ecn, now);
    return tern_conn_recv(c, path, dgram, len, ecn, now);
}

ssize_t tern_core_send(tern_conn *c, uint8_t *buf, size_t cap, size_t max_count,
                       tern_path_addr *path, size_t *seg_size, size_t *count, tern_tstamp now)
{
    if (!c || !buf || !path || !seg_size || !count)
        return TERN_ERR_INVALID_ARG;
    size_t len = 0;
    int rv = tern_conn_send_batch(c, path, buf, cap, max_count, seg_size, count, &len, now);
    if (rv)
        return rv;
    return *count ? (ssize_t)len : 0;
}

ssize_t tern_core_send_ecn(tern_conn *c, uint8_t *buf, size_t cap, size_t max_count,
                           tern_path_addr *path, size_t *seg_size, size_t *count, int *ecn,
                           tern_tstamp now)
{
    if (!c || !buf || !path || !seg_size || !count || !ecn)
        return TERN_ERR_INVALID_ARG;
    size_t len = 0;
    int rv = tern_conn_send_batch_ecn(c, path, buf, cap, max_count, seg_size, count, &len, ecn, now);
    if (rv)
        return rv;
    return *count ? (ssize_t)len : 0;
}

tern_tstamp tern_core_next_timeout(const tern_conn *c)
{
    return c ? tern_conn_next_timeout(c) : TERN_TS_INF;
}

int tern_core_on_timeout(tern_conn *c, tern_tstamp now)
{
    if (!c)
        return TERN_ERR_INVALID_ARG;
    tern_conn_on_timeout(c, now);
    return 0;
}

int tern_core_state(const tern_conn *c)
{
    return c ? tern_conn_state(c) : TERN_ERR_INVALID_ARG;
}

const tern_close_info *tern_core_close_info(const tern_conn *c)
{
    return c ? tern_conn_close_info(c) : NULL;
}

/* ---- paths ------------------------------------------------------------------------------------ */

/* The caller's socket is bound already: its address is concrete, with a port. */
static int bound_addr_ok(const tern_addr *a)
{
    if (!a || !addr_family_ok(a))
        return 0;
    return (a->u.sa.sa_family == AF_INET ? a->u.in.sin_port : a->u.in6.sin6_port) != 0;
}

int tern_core_path_add(tern_conn *c, const tern_addr *local, tern_tstamp now)
{
    if (!c || !bound_addr_ok(local))
        return TERN_ERR_INVALID_ARG;
    return tern_conn_path_add(c, local, now);
}

int tern_core_path_set_active(tern_conn *c, const tern_addr *local, tern_tstamp now)
{
    if (!c || !bound_addr_ok(local))
        return TERN_ERR_INVALID_ARG;
    return tern_conn_path_set_active(c, local, now);
}

int tern_core_path_remove(tern_conn *c, const tern_addr *local, tern_tstamp now)
{
    if (!c || !bound_addr_ok(local))
        return TERN_ERR_INVALID_ARG;
    return tern_conn_path_remove(c, local, now);
}

int tern_core_path_set_backup(tern_conn *c, const tern_addr *local, int backup)
{
    if (!c || !bound_addr_ok(local))
        return TERN_ERR_INVALID_ARG;
    return tern_conn_path_set_backup(c, local, backup);
}

int tern_core_path_error(tern_conn *c, const tern_addr *local, tern_path_reason why,
                         tern_tstamp now)
{
    if (!c || !local || (why != TERN_PATH_WHY_SOCKET_ERROR && why != TERN_PATH_WHY_INTERFACE_GONE &&
                         why != TERN_PATH_WHY_ADDRESS_GONE))
        return TERN_ERR_INVALID_ARG;
    int idx = tern_conn_path_by_local(c, local);
    if (idx < 0)
        return TERN_ERR_NOT_FOUND;
    tern_conn_path_gone(c, idx, why, now);
    return 0;
}

int tern_core_path_mtu(tern_conn *c, const tern_path_addr *path, size_t max_udp_payload,
                       tern_tstamp now)
{
    return tern_conn_set_path_mtu(c, path, max_udp_payload, now);
}

int tern_core_port_unreachable(tern_conn *c, const tern_addr *to)
{
    if (!c || !to)
        return TERN_ERR_INVALID_ARG;
    return tern_conn_on_port_unreachable(c, to);
}

int tern_core_network_event_sized(tern_conn *c, const tern_net_event *in, size_t ev_size,
                                  tern_tstamp now)
{
    if (!c || !in)
        return TERN_ERR_INVALID_ARG;
    tern_net_event ev;
    if (tern_net_event_import(&ev, in, ev_size))
        return TERN_ERR_ABI;
    if (tern_net_event_check(&ev))
        return TERN_ERR_INVALID_ARG;
    tern_conn_network_event(c, &ev, now);
    return 0;
}
