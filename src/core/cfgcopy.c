/* Deep copies of tern_config (see cfgcopy.h). */
#include "cfgcopy.h"

#include "ackfreq.h"

#include "abi.h"
#include "pmtud.h"
#include "qversion.h"

#include <stdlib.h>
#include <string.h>

static int dup_str(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return 0;
    size_t n = strlen(s) + 1;
    *out = malloc(n);
    if (!*out)
        return TERN_ERR_NOMEM;
    memcpy(*out, s, n);
    return 0;
}

/* Deep copy of a list of strings (each non-empty, at most `maxlen` bytes). */
static int dup_list(const char *const *in, size_t n, size_t maxlen, char ***out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    if (!in)
        return TERN_ERR_CONFIG;
    *out = calloc(n, sizeof(char *));
    if (!*out)
        return TERN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t len = in[i] ? strlen(in[i]) : 0;
        if (len == 0 || len > maxlen)
            return TERN_ERR_CONFIG;
        if (dup_str(in[i], &(*out)[i]))
            return TERN_ERR_NOMEM;
    }
    return 0;
}

static void free_list(char **l, size_t n)
{
    if (l)
        for (size_t i = 0; i < n; i++)
            free(l[i]);
    free(l);
}

int tern_cfg_copy_init(tern_cfg_copy *d, const tern_config *cfg)
{
    memset(d, 0, sizeof(*d));
    if (!cfg->alpn || cfg->alpn_count == 0 || cfg->alpn_count > TERN_CFG_MAX_ALPN ||
        cfg->prefer_count > TERN_CFG_MAX_PREFER)
        return TERN_ERR_CONFIG;
    if (cfg->max_udp_payload < TERN_MIN_INITIAL_SIZE || cfg->max_udp_payload > 65527 ||
        cfg->active_connection_id_limit < 2 || (cfg->cert_file && !cfg->key_file) ||
        cfg->datagram_queue_count == 0 || cfg->max_datagram_frame_size > TERN_MAX_VARINT ||
        tern_qv_check_list(cfg->quic_versions, cfg->quic_versions_count) ||
        cfg->key_update_margin_pct < 1 || cfg->key_update_margin_pct > 99 || cfg->multipath > 1 ||
        tern_ackfreq_config_ok(cfg))
        return TERN_ERR_CONFIG;
    d->cfg = *cfg;
    d->cfg.alpn = NULL;
    d->cfg.alpn_count = 0;
    d->cfg.prefer = NULL;
    d->cfg.prefer_count = 0;
    d->cfg.cert_file = d->cfg.key_file = d->cfg.ca_file = d->cfg.tls_priority = NULL;
    d->cfg.qlog_dir = NULL;
    int rv = dup_list(cfg->alpn, cfg->alpn_count, 255, &d->alpn);
    d->cfg.alpn_count = d->alpn ? cfg->alpn_count : 0;
    if (!rv)
        rv = dup_list(cfg->prefer, cfg->prefer_count, 63, &d->prefer);
    d->cfg.prefer_count = d->prefer ? cfg->prefer_count : 0;
    if (!rv && (dup_str(cfg->cert_file, &d->cert_file) || dup_str(cfg->key_file, &d->key_file) ||
                dup_str(cfg->ca_file, &d->ca_file) || dup_str(cfg->tls_priority, &d->tls_priority) ||
                dup_str(cfg->qlog_dir, &d->qlog_dir)))
        rv = TERN_ERR_NOMEM;
    if (rv) {
        tern_cfg_copy_free(d);
        return rv;
    }
    d->cfg.alpn = (const char *const *)d->alpn;
    d->cfg.prefer = (const char *const *)d->prefer;
    d->cfg.cert_file = d->cert_file;
    d->cfg.key_file = d->key_file;
    d->cfg.ca_file = d->ca_file;
    d->cfg.tls_priority = d->tls_priority;
    d->cfg.qlog_dir = d->qlog_dir;
    return 0;
}

void tern_cfg_copy_free(tern_cfg_copy *d)
{
    free_list(d->alpn, d->cfg.alpn_count);
    free_list(d->prefer, d->cfg.prefer_count);
    free(d->cert_file);
    free(d->key_file);
    free(d->ca_file);
    free(d->tls_priority);
    free(d->qlog_dir);
    memset(d, 0, sizeof(*d));
}

int tern_cfg_copy_tls(const tern_cfg_copy *d, int is_server, tern_tls_ctx **out)
{
    const tern_config *c = &d->cfg;
    if (is_server) {
        int rv = tern_tls_ctx_new(out, 1, c->cert_file, c->key_file, NULL, 0, c->tls_priority,
                                  c->alpn, c->alpn_count);
        if (!rv && (c->session_tickets || c->early_data)) {
            rv = tern_tls_ctx_set_tickets(*out, 1);
            tern_tls_ctx_set_ticket_rotation(*out, TERN_MIN(c->ticket_key_period_s, 1ull << 32) *
                                                       1000000000ull);
        }
        if (!rv && c->early_data)
            rv = tern_tls_ctx_set_early_data(*out, 1, 0);
        if (rv) {
            tern_tls_ctx_free(*out);
            *out = NULL;
        }
        return rv;
    }
    return tern_tls_ctx_new(out, 0, NULL, NULL, c->ca_file, c->verify_peer, c->tls_priority,
                            c->alpn, c->alpn_count);
}

int tern_config_init_sized(tern_config *cfg, size_t size)
{
    if (!cfg)
        return TERN_ERR_INVALID_ARG;
    if (!tern_cfg_size_ok(size))
        return TERN_ERR_ABI;
    tern_config full;
    tern_cfg_defaults(&full);
    memcpy(cfg, &full, size);
    return 0;
}

int tern_cfg_size_ok(size_t size)
{
    return tern_abi_size_ok(size, TERN_ABI_SIZE_THROUGH(tern_config, alpn_count),
                            sizeof(tern_config), _Alignof(tern_config));
}

void tern_cfg_defaults(tern_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->verify_peer = 1;
    cfg->cc = TERN_CC_CUBIC;
    cfg->idle_timeout_ms = 30000;
    cfg->handshake_timeout_ms = 10000;
    cfg->unacked_ptos = 6;
    cfg->retry_half_open = 64;
    cfg->max_half_open = 1024;
    cfg->initial_max_data = 16u << 20;
    cfg->initial_max_stream_data_bidi_local = 4u << 20;
    cfg->initial_max_stream_data_bidi_remote = 4u << 20;
    cfg->initial_max_stream_data_uni = 4u << 20;
    cfg->initial_max_streams_bidi = 100;
    cfg->initial_max_streams_uni = 100;
    cfg->active_connection_id_limit = 8;
    cfg->stream_send_buffer = 1u << 20;
    cfg->max_udp_payload = 8972;
    cfg->max_paths = 8;
    cfg->follow_preferred_address = 1;
    cfg->failover = 1;
    cfg->ecn = 1;
    cfg->datagram_queue_bytes = 65536;
    cfg->datagram_queue_count = 128;
    cfg->ticket_key_period_s = 86400;
    tern_policy_config *pc = &cfg->policy;
    pc->degrade_ptos = 1;
    pc->explore_ptos = 2;
    pc->keepalive_ms = 15000;
    pc->migrate_back_ms = 30000;
    pc->max_migrations = 16;
    pc->max_migrations_per_network = 5;
    pc->max_port_migrations = 4;
    pc->retry_backoff_ms = 1000;
    pc->retry_backoff_max_ms = 60000;
    pc->route_recheck_ms = 500;
    pc->route_recheck_max_ms = 30000;
    pc->standby_idle_ms = 600000;
    pc->cache_rtt_ms = 600000;
    pc->cache_cc_ms = 30000;
    cfg->pmtud_raise_ms = TERN_PMTUD_RAISE_DEFAULT_MS;
    cfg->token_lifetime_ms = 86400000;
    cfg->key_update_margin_pct = 50;
    cfg->ack_frequency = 1;
    cfg->min_ack_delay_us = 1000;
    cfg->ack_bulk_after = 256;
    cfg->ack_bulk_every = 10;
}

int tern_cfg_import(tern_config *full, const tern_config *in, size_t size)
{
    if (!tern_cfg_size_ok(size))
        return TERN_ERR_ABI;
    tern_cfg_defaults(full);
    memcpy(full, in, size);
    return 0;
}

int tern_cb_import(tern_callbacks *full, const tern_callbacks *in, size_t size)
{
    memset(full, 0, sizeof(*full));
    if (!in)
        return 0;
    if (!tern_abi_size_ok(size, 0, sizeof(tern_callbacks), sizeof(void (*)(void))))
        return TERN_ERR_ABI;
    memcpy(full, in, size);
    return 0;
}

int tern_net_event_import(tern_net_event *full, const tern_net_event *in, size_t size)
{
    if (!tern_abi_size_ok(size, TERN_ABI_SIZE_THROUGH(tern_net_event, addr), sizeof(tern_net_event),
                          _Alignof(tern_net_event)))
        return TERN_ERR_ABI;
    memset(full, 0, sizeof(*full));
    memcpy(full, in, size);
    return 0;
}
