/* The record behind every connection of the public sans-I/O API (tern/core.h), kept in the
 * connection's driver data: a client's own configuration copy and TLS context, or the server that
 * routes to it. Shared by core_api.c (connections) and core_server.c (the front door). */
#ifndef TERN_CORE_CORE_REC_H
#define TERN_CORE_CORE_REC_H

#include "cfgcopy.h"
#include "front.h"

#define TERN_CORE_REC_MAGIC 0x7465726eu /* tells our records from a runtime's */

/* What a client connection owns on its own (a server's connections share their server's). */
typedef struct tern_core_client_conf {
    tern_cfg_copy conf; /* its configuration and credentials */
    tern_tls_ctx *tls;
} tern_core_client_conf;

typedef struct tern_core_rec {
    uint32_t magic;
    tern_front_conn fc;         /* server connections: their routes */
    tern_core_server *srv;      /* NULL for a client */
    struct tern_core_rec *prev, *next; /* the server's list */
    tern_core_client_conf *client; /* client only (NULL for a server's connection) */
    tern_callbacks cb;
} tern_core_rec;

/* The record of a connection of tern/core.h, or NULL for any other (a runtime's). */
tern_core_rec *tern_core_rec_of(const tern_conn *c);

/* Frees a server connection's record and connection (core_server.c): unlinks and unroutes it. */
void tern_core_server_release(tern_core_rec *r);

#endif
