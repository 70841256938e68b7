/* Throwaway TLS credentials for tests: a self-signed certificate, or a CA chain, generated on the
 * fly. */
#ifndef TERN_TEST_TESTCERT_H
#define TERN_TEST_TESTCERT_H

#include <stddef.h>

/* Generates an ECDSA P-256 key and a self-signed certificate for CN "localhost" with the subject
 * alternative names DNS:localhost, IP:127.0.0.1 and IP:::1, valid from an hour ago for a week, and
 * writes them as PEM files into `dir` (names unique within the process). The paths are stored in
 * cert_path/key_path (NUL-terminated). The certificate is its own trust anchor: give cert_path to a
 * client as its CA file. Returns 0, or a negative value on failure. */
int tern_test_make_cert(const char *dir, char *cert_path, size_t cap1, char *key_path, size_t cap2);

/* Generates a certificate chain as a public server would present it: a root CA, two intermediate
 * CAs and a leaf for "localhost" (same names as above), every certificate with an RSA key of
 * `rsa_bits` bits signed with SHA-256 by the one above it. One RSA key serves the whole chain, so
 * that a 4096-bit chain costs one key generation (the sizes on the wire are those of four keys).
 * Writes `chain_path` (leaf, then the intermediates from the leaf up: what the server sends),
 * `key_path` (the leaf's key) and `root_path` (the trust anchor to give the client), all PEM, into
 * `dir`; each path buffer holds `cap` bytes. Returns 0, or a negative value on failure. */
int tern_test_make_chain(const char *dir, unsigned rsa_bits, char *chain_path, char *key_path,
                         char *root_path, size_t cap);

#endif
