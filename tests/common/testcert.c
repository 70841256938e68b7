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

/* One certificate of a chain: `issuer`/`issuer_key` NULL makes it self-signed. */
static int chain_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, int ca,
                      gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key, time_t now)
{
    static const uint8_t ip4[4] = {127, 0, 0, 1};
    uint8_t serial[16], kid[64];
    size_t kid_len = sizeof(kid), cn_len = strlen(cn);
    if (cn_len > 64) /* X.520's upper bound for a common name */
        return -1;
    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
        return -1;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
        gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
        gnutls_x509_crt_set_expiration_time(crt, now + 7 * 24 * 3600) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)cn_len) < 0 ||
        gnutls_x509_crt_set_key(crt, key) < 0)
        return -1;
    if (ca) {
        if (gnutls_x509_crt_set_basic_constraints(crt, 1, -1) < 0 ||
            gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0)
            return -1;
    } else {
        if (gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                                 GNUTLS_FSAN_APPEND) < 0 ||
            gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, sizeof(ip4),
                                                 GNUTLS_FSAN_APPEND) < 0 ||
            gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
            gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                                   GNUTLS_KEY_KEY_ENCIPHERMENT) < 0 ||
            gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
            return -1;
    }
    if (gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len) < 0 ||
        gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len) < 0)
        return -1;
    if (issuer) /* copies the issuer's name into the certificate */
        return gnutls_x509_crt_sign2(crt, issuer, issuer_key, GNUTLS_DIG_SHA256, 0) < 0 ? -1 : 0;
    return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ? -1 : 0;
}

static int append_pem(FILE *f, gnutls_x509_crt_t crt)
{
    gnutls_datum_t d = {NULL, 0};
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
        return -1;
    int ok = fwrite(d.data, 1, d.size, f) == d.size;
    gnutls_free(d.data);
    return ok ? 0 : -1;
}

int tern_test_make_chain(const char *dir, unsigned rsa_bits, char *chain_path, char *key_path,
                         char *root_path, size_t cap)
{
    static unsigned counter;
    static const char *names[4] = {"tern test root", "tern test intermediate 1",
                                   "tern test intermediate 2", "localhost"};
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt[4] = {NULL, NULL, NULL, NULL};
    gnutls_datum_t pem_key = {NULL, 0};
    time_t now = time(NULL);
    unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    FILE *f = NULL;
    int rv = -1;
    if (!dir || !chain_path || !key_path || !root_path)
        return -1;
    long pid = (long)getpid();
    if ((size_t)snprintf(chain_path, cap, "%s/tern-chain-%ld-%u.crt", dir, pid, n) >= cap ||
        (size_t)snprintf(key_path, cap, "%s/tern-chain-%ld-%u.key", dir, pid, n) >= cap ||
        (size_t)snprintf(root_path, cap, "%s/tern-chain-%ld-%u-root.crt", dir, pid, n) >= cap)
        return -1;
    if (gnutls_x509_privkey_init(&key) < 0) {
        key = NULL;
        goto out;
    }
    if (gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, rsa_bits, 0) < 0)
        goto out;
    for (int i = 0; i < 4; i++) {
        if (gnutls_x509_crt_init(&crt[i]) < 0) {
            crt[i] = NULL;
            goto out;
        }
        if (chain_cert(crt[i], key, names[i], i < 3, i ? crt[i - 1] : NULL, i ? key : NULL, now))
            goto out;
    }
    if (!(f = fopen(chain_path, "wb")))
        goto out;
    for (int i = 3; i >= 1; i--)
        if (append_pem(f, crt[i]))
            goto out;
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    if (!(f = fopen(root_path, "wb")) || append_pem(f, crt[0]))
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        goto out;
    }
    f = NULL;
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem_key) < 0 ||
        write_file(key_path, &pem_key) < 0)
        goto out;
    rv = 0;
out:
    if (f)
        fclose(f);
    gnutls_free(pem_key.data);
    for (int i = 0; i < 4; i++)
        if (crt[i])
            gnutls_x509_crt_deinit(crt[i]);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return rv;
}
