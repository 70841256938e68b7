/* Streaming SHA-256 (GnuTLS) with hex output, used to check every downloaded body. */
#ifndef TOOLS_COMMON_SHA256_H
#define TOOLS_COMMON_SHA256_H

#include <stddef.h>

#include <gnutls/crypto.h>

#define TOOL_SHA256_HEX_LEN 64

typedef struct tool_sha256 {
    gnutls_hash_hd_t hd;
} tool_sha256;

/* Returns 0, or -1 when GnuTLS cannot create the hash. */
int tool_sha256_init(tool_sha256 *h);
/* Returns 0 or -1. */
int tool_sha256_update(tool_sha256 *h, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into hex (at least 65 bytes) and frees the state. */
void tool_sha256_final_hex(tool_sha256 *h, char *hex);
/* Frees the state without producing a digest (safe on a zeroed struct). */
void tool_sha256_discard(tool_sha256 *h);

#endif
