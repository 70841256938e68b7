/* Throwaway TLS credentials for tests: a self-signed certificate generated on the fly. */
#ifndef TERN_TEST_TESTCERT_H
#define TERN_TEST_TESTCERT_H

#include <stddef.h>

/* Generates an ECDSA P-256 key and a self-signed certificate for CN "localhost" with the subject
 * alternative names DNS:localhost, IP:127.0.0.1 and IP:::1, valid from an hour ago for a week, and
 * writes them as PEM files into `dir` (names unique within the process). The paths are stored in
 * cert_path/key_path (NUL-terminated). The certificate is its own trust anchor: give cert_path to a
 * client as its CA file. Returns 0, or a negative value on failure. */
int tern_test_make_cert(const char *dir, char *cert_path, size_t cap1, char *key_path, size_t cap2);

#endif
