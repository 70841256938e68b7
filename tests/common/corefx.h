/* What tests of the sans-I/O API (tern/core.h) share: a seeded randomness source, addresses from
 * text, and client and server configurations over throwaway credentials made once per test
 * program. Public headers only, like the programs these tests stand for. */
#ifndef TERN_TEST_COREFX_H
#define TERN_TEST_COREFX_H

#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

/* The credentials of corefx_group_setup (a self-signed certificate for "localhost"). */
extern char corefx_cert_file[512], corefx_key_file[512];

/* A reproducible randomness source (xorshift over the uint64_t state at `ud`). */
int corefx_rand(void *ud, uint8_t *out, size_t len);
/* The address in `text` (port included); fails the test when it does not parse. */
tern_addr corefx_addr(const char *text);
/* tern_config_init plus hq-interop and the credentials: a client trusting them, or a server
 * presenting them. */
void corefx_client_config(tern_config *cfg);
void corefx_server_config(tern_config *cfg);
/* cmocka group setup and teardown: make the credentials, remove them. */
int corefx_group_setup(void **st);
int corefx_group_teardown(void **st);

#endif
