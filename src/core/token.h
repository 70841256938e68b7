/* NEW_TOKEN address validation tokens (RFC 9000 §8.1.3): what a server gives a client in a
 * NEW_TOKEN frame so that the client's next connection proves its address in its first Initial,
 * without a Retry round trip and free of the amplification limit. Sealed with AES-256-GCM under a
 * key derived from the server's Retry token key, so that tokens need no server state; a format
 * byte (authenticated) tells them from Retry tokens, which crypto.c makes. A token holds its issue
 * time and the client address it is bound to: the whole IPv4 address, or the /64 prefix of an
 * IPv6 address (docs/tokens.md explains the choice). */
#ifndef TERN_CORE_TOKEN_H
#define TERN_CORE_TOKEN_H

#include "common.h"

/* First byte of every NEW_TOKEN token, and of every Retry token (crypto.c). */
#define TERN_TOKEN_FORMAT_NEW 0x4e
#define TERN_TOKEN_FORMAT_RETRY 0x52
/* 1 format + 12 nonce + 8 issue time + 1 family + 8 address bytes + 16 tag */
#define TERN_NEW_TOKEN_MAX 46
/* The longest token a client accepts to present (NEW_TOKEN frames of other servers included). */
#define TERN_TOKEN_MAX_LEN 512

/* The binding of `a`: family (4 or 6) then the IPv4 address or the IPv6 /64 prefix. Returns its
 * length (5 or 9), or 0 for an address of another family. */
size_t tern_token_binding(const tern_addr *a, uint8_t out[9]);

/* Derives the NEW_TOKEN key from a server's 32-byte Retry token key (HMAC-SHA256 with a label:
 * the two kinds of token never share a key). Returns 0 or TERN_ERR_CRYPTO. */
int tern_token_derive_key(const uint8_t retry_key[32], uint8_t out[32]);

/* Seals a token for `client` issued at `issued` into out[0..cap) with the 12-byte `nonce` (fresh
 * random bytes per token). Returns the length (<= TERN_NEW_TOKEN_MAX) or 0 (cap too small, an
 * address of another family, a cipher error). */
size_t tern_token_seal(const uint8_t key[32], const uint8_t nonce[12], const tern_addr *client,
                       tern_tstamp issued, uint8_t *out, size_t cap);

/* Opens a token of tern_token_seal presented by `client` at `now`: 0 when it is authentic, bound
 * to the client's address (IPv4) or /64 prefix (IPv6), and `now - issued < lifetime`; else
 * TERN_ERR_DROP (wrong format, forged, tampered, expired, issued in the future, another
 * address). */
int tern_token_open(const uint8_t key[32], const uint8_t *tok, size_t len, const tern_addr *client,
                    tern_tstamp now, tern_tstamp lifetime);

#endif
