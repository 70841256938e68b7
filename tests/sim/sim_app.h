/* The download application run over the simulated connection (the same protocol as the pair
 * harness in tests/common/pair.c): the client opens a bidirectional stream per request and writes
 * the wanted size as 8 big-endian bytes with FIN; the server answers with that many bytes whose
 * block k (8 bytes) is a function of the stream id and k, then FIN; the client checks every byte
 * against the expected sequence and compares the SHA-256 of what it received with the SHA-256 of
 * what it expected. Optionally the client starts a key update every N received bytes. */
#ifndef TERN_SIM_APP_H
#define TERN_SIM_APP_H

#include "sim.h"

extern const tern_callbacks sim_app_client_cb;
extern const tern_callbacks sim_app_server_cb;

/* Client: opens a stream for `bytes` now (the connection must be established). Returns 0 or -1. */
int sim_app_open(sim *s, uint64_t bytes);
/* Client: issues the requests queued before the handshake completed. */
void sim_app_flush_pending(sim *s);
/* Frees the client streams' hash state. */
void sim_app_free(sim *s);
/* Frees a server connection's application state. */
void sim_app_sconn_free(sim_sconn *sc);
/* Fills out[0..n) with the bytes the server sends at offset `off` of stream `sid`. */
void sim_app_fill(int64_t sid, uint64_t off, uint8_t *out, size_t n);

#endif
