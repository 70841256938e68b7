/* The deep copy of a tern_config that an endpoint, a sans-I/O client or a sans-I/O server keeps
 * for the life of its connections: the struct and every string and list it points to, so that
 * the caller's memory is its own again once the copy is made. The copy's checks are those every
 * driver applies before creating connections from it. */
#ifndef TERN_CORE_CFGCOPY_H
#define TERN_CORE_CFGCOPY_H

#include "common.h"
#include "tls.h"

#define TERN_CFG_MAX_ALPN 32
#define TERN_CFG_MAX_PREFER 16

typedef struct tern_cfg_copy {
    tern_config cfg; /* its pointers point into the copies below */
    char **alpn;
    char **prefer;
    char *cert_file, *key_file, *ca_file, *tls_priority, *qlog_dir;
} tern_cfg_copy;

/* Copies `cfg` into `d` (zeroed first). Returns 0, TERN_ERR_CONFIG (no ALPN, more than
 * TERN_CFG_MAX_ALPN protocols or TERN_CFG_MAX_PREFER preferences, an empty or too long entry,
 * max_udp_payload outside 1200..65527, active_connection_id_limit < 2, a certificate without a
 * key, datagram_queue_count 0, max_datagram_frame_size above 2^62 - 1, a quic_versions list
 * with an unsupported or repeated version or more than TERN_MAX_QUIC_VERSIONS entries) or
 * TERN_ERR_NOMEM. On error `d` holds nothing to free (tern_cfg_copy_free is harmless). */
int tern_cfg_copy_init(tern_cfg_copy *d, const tern_config *cfg);
void tern_cfg_copy_free(tern_cfg_copy *d);

/* A TLS context for the copied configuration: a server's (cert_file, key_file) when `is_server`,
 * else a client's (ca_file, verify_peer). Returns the errors of tern_tls_ctx_new. */
int tern_cfg_copy_tls(const tern_cfg_copy *d, int is_server, tern_tls_ctx **out);

/* The size rule of tern.h ("Binary compatibility") for the structs every driver takes in. */
/* Fills the whole of `cfg` (this library's layout) with the defaults of tern.h. */
void tern_cfg_defaults(tern_config *cfg);
/* 1 when `size` is a tern_config size this library accepts: from the end of the required fields
 * (alpn, alpn_count) up to its own sizeof, aligned. */
int tern_cfg_size_ok(size_t size);
/* `full` = the caller's `size`-byte tern_config, completed with the defaults for what an older
 * layout lacks. Returns 0 or TERN_ERR_ABI. */
int tern_cfg_import(tern_config *full, const tern_config *in, size_t size);
/* `full` = the caller's `size`-byte callbacks (all NULL when `in` is NULL), the callbacks an older
 * layout lacks NULL. Returns 0 or TERN_ERR_ABI. */
int tern_cb_import(tern_callbacks *full, const tern_callbacks *in, size_t size);
/* `full` = the caller's `size`-byte network event (at least through `addr`), zeros for what an
 * older layout lacks. Returns 0 or TERN_ERR_ABI. */
int tern_net_event_import(tern_net_event *full, const tern_net_event *in, size_t size);

#endif
