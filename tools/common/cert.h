/* Throwaway self-signed server certificate for tern-server runs without --cert/--key, and the
 * diagnosis of certificate files the library refused. */
#ifndef TOOLS_COMMON_CERT_H
#define TOOLS_COMMON_CERT_H

#include <stddef.h>

typedef struct tool_cert {
    char dir[64];        /* private temporary directory holding both files */
    char cert_file[128]; /* PEM certificate for localhost, 127.0.0.1 and ::1 */
    char key_file[128];  /* PEM ECDSA P-256 private key */
} tool_cert;

/* Generates a key and a self-signed certificate with GnuTLS and writes them into a new directory
 * under $TMPDIR (or /tmp). Returns 0, or -1 with a message written into err. */
int tool_cert_generate(tool_cert *out, char *err, size_t errcap);

/* Deletes the files and the directory (safe to call twice). */
void tool_cert_remove(tool_cert *c);

/* After tern_endpoint_new failed with TERN_ERR_CERT: finds which of the given files (any may be
 * NULL) cannot be used and writes why into msg, naming the option and the file, e.g. "cannot
 * load --ca /x.pem: No such file or directory" or "--key k.pem does not match the certificate in
 * --cert c.pem". Returns 0 with msg set, or -1 when every file looks usable (msg then says so). */
int tool_cert_diagnose(const char *cert, const char *key, const char *ca, char *msg, size_t cap);

#endif
