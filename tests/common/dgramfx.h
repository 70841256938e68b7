/* Datagrams for the tests of RFC 9221 support: each one carries its tag in its first 8 bytes
 * (big-endian) and then a byte pattern of the tag, so that a receiver can tell which datagram it
 * got and that its bytes are intact, whatever order and losses the network brought. */
#ifndef TERN_TEST_DGRAMFX_H
#define TERN_TEST_DGRAMFX_H

#include <stddef.h>
#include <stdint.h>

#define DGRAMFX_MAX 2048 /* longest datagram dgramfx_parse checks */

/* Writes datagram `tag` of `len` bytes (8 <= len <= DGRAMFX_MAX) to out; returns len. */
size_t dgramfx_make(uint64_t tag, size_t len, uint8_t *out);
/* 1 when data[0..len) is a datagram dgramfx_make wrote (its tag in *tag), else 0. */
int dgramfx_parse(const uint8_t *data, size_t len, uint64_t *tag);
/* A 64-bit hash of the bytes (FNV-1a): summed over datagrams, an order-free content hash. */
uint64_t dgramfx_hash(const uint8_t *data, size_t len);

#endif
