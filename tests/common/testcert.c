/* Test helper: generates self-signed certificates with GnuTLS's X.509 API so that no key material
 * has to live in the repository. */
#include "testcert.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static int write_file(const char *path, const gnutls_datum_t *d)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(d->data, 1, d->size, f) == d->size;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int tern_test_make_cert(const char *dir, char *cert_path, size_t cap1, char *key_path, size_t cap2)
{
    static unsigned counter;
    static const uint8_t ip4[4] = {127, 0, 0, 1};
    static const uint8_t ip6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t pem_crt = {NULL, 0}, pem_key = {NULL, 0};
    uint8_t serial[16], kid[64];
    size_t kid_len = sizeof(kid);
    time_t now = time(NULL);
    unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    int rv = -1;

    if (!dir || !cert_path || !key_path)
        return -1;
    if ((size_t)snprintf(cert_path, cap1, "%s/tern-test-%ld-%u.crt", dir, (long)getpid(), n) >=
            cap1 ||
        (size_t)snprintf(key_path, cap2, "%s/tern-test-%ld-%u.key", dir, (long)getpid(), n) >= cap2)
        return -1;

    if (gnutls_x509_privkey_init(&key) < 0) {
        key = NULL;
        goto out;
    }
    if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
        goto out;
    if (gnutls_x509_crt_init(&crt) < 0) {
        crt = NULL;
        goto out;
    }
    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
        goto out;
    serial[0] &= 0x7f; /* a positive INTEGER */
    serial[0] |= 0x01;
    if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt, now + 7 * 24 * 3600) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9) < 0 ||
        gnutls_x509_crt_set_issuer_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9) <
            0 ||
        gnutls_x509_crt_set_key(crt, key) < 0)
        goto out;
    if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                             GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, sizeof(ip4),
                                             GNUTLS_FSAN_APPEND) < 0 ||
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6, sizeof(ip6),
                                             GNUTLS_FSAN_APPEND) < 0)
        goto out;
    if (gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
        goto out;
    if (gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len) < 0 ||
        gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) < 0)
        goto out;
    if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0)
        goto out;
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem_crt) < 0 ||
        gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem_key) < 0)
        goto out;
    if (write_file(cert_path, &pem_crt) < 0 || write_file(key_path, &pem_key) < 0)
        goto out;
    rv = 0;
out:
    gnutls_free(pem_crt.data);
    gnutls_free(pem_key.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return rv;
}
