/* Generation of a disposable self-signed certificate, so a test server needs no PKI setup. The
 * library takes certificate file names, hence the temporary files. */
#include "common/cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static int write_file(const char *path, const gnutls_datum_t *d, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t off = 0;

    if (fd < 0)
        return -1;
    while (off < d->size) {
        ssize_t n = write(fd, d->data + off, d->size - off);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return close(fd);
}

static int build_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
    static const char cn[] = "localhost";
    unsigned char serial[16];
    unsigned char ip4[4], ip6[16];
    time_t now = time(NULL);
    int rc = 0;

    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
        return -1;
    serial[0] &= 0x7f; /* a positive INTEGER */
    inet_pton(AF_INET, "127.0.0.1", ip4);
    inet_pton(AF_INET6, "::1", ip6);

    rc |= gnutls_x509_crt_set_version(crt, 3);
    rc |= gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
    /* Back-dated so that a peer with a slightly slow clock still accepts it. */
    rc |= gnutls_x509_crt_set_activation_time(crt, now - 24 * 3600);
    rc |= gnutls_x509_crt_set_expiration_time(crt, now + 30 * 24 * 3600);
    rc |= gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, sizeof(cn) - 1);
    rc |= gnutls_x509_crt_set_key(crt, key);
    rc |= gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, cn, sizeof(cn) - 1,
                                               GNUTLS_FSAN_APPEND);
    rc |= gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, sizeof(ip4),
                                               GNUTLS_FSAN_APPEND);
    rc |= gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6, sizeof(ip6),
                                               GNUTLS_FSAN_APPEND);
    rc |= gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    rc |= gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    rc |= gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if (rc < 0)
        return -1;
    return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ? -1 : 0;
}

int tool_cert_generate(tool_cert *out, char *err, size_t errcap)
{
    const char *tmp = getenv("TMPDIR");
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t key_pem = {NULL, 0}, crt_pem = {NULL, 0};
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (!tmp || !*tmp || strlen(tmp) > 40)
        tmp = "/tmp";
    snprintf(out->dir, sizeof(out->dir), "%s/tern-server-XXXXXX", tmp);
    if (!mkdtemp(out->dir)) {
        snprintf(err, errcap, "cannot create a temporary directory under %s", tmp);
        out->dir[0] = '\0';
        return -1;
    }
    snprintf(out->cert_file, sizeof(out->cert_file), "%s/cert.pem", out->dir);
    snprintf(out->key_file, sizeof(out->key_file), "%s/key.pem", out->dir);

    if (gnutls_x509_privkey_init(&key) < 0 ||
        gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
        snprintf(err, errcap, "cannot generate a private key");
        goto fail;
    }
    if (gnutls_x509_crt_init(&crt) < 0 || build_cert(crt, key) < 0) {
        snprintf(err, errcap, "cannot build the self-signed certificate");
        goto fail;
    }
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &key_pem) < 0 ||
        gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crt_pem) < 0) {
        snprintf(err, errcap, "cannot export the certificate or key");
        goto fail;
    }
    if (write_file(out->key_file, &key_pem, 0600) < 0 ||
        write_file(out->cert_file, &crt_pem, 0644) < 0) {
        snprintf(err, errcap, "cannot write the certificate files in %s", out->dir);
        goto fail;
    }
    ret = 0;
fail:
    gnutls_free(key_pem.data);
    gnutls_free(crt_pem.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    if (ret < 0)
        tool_cert_remove(out);
    return ret;
}

void tool_cert_remove(tool_cert *c)
{
    if (c->cert_file[0])
        unlink(c->cert_file);
    if (c->key_file[0])
        unlink(c->key_file);
    if (c->dir[0])
        rmdir(c->dir);
    memset(c, 0, sizeof(*c));
}

/* Loads `path` whole. Returns 0, or -1 with the reason in msg. */
static int load(const char *opt, const char *path, gnutls_datum_t *d, char *msg, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        snprintf(msg, cap, "cannot load %s %s: %s", opt, path, strerror(errno));
        return -1;
    }
    close(fd);
    rc = gnutls_load_file(path, d);
    if (rc < 0) {
        snprintf(msg, cap, "cannot load %s %s: %s", opt, path, gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

/* A PEM file of certificates for option `opt`. Returns 0 when it has at least one, else -1 with
 * the reason in msg. */
static int check_certs(const char *opt, const char *path, char *msg, size_t cap)
{
    gnutls_datum_t d = {NULL, 0};
    gnutls_x509_crt_t *crts = NULL;
    unsigned ncrt = 0;
    int rc;

    if (load(opt, path, &d, msg, cap) < 0)
        return -1;
    rc = gnutls_x509_crt_list_import2(&crts, &ncrt, &d, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(d.data);
    if (rc < 0 || ncrt == 0) {
        snprintf(msg, cap, "cannot load %s %s: no PEM certificate in it (%s)", opt, path,
                 rc < 0 ? gnutls_strerror(rc) : "empty");
        return -1;
    }
    for (unsigned i = 0; i < ncrt; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    return 0;
}

int tool_cert_diagnose(const char *cert, const char *key, const char *ca, char *msg, size_t cap)
{
    gnutls_datum_t d = {NULL, 0};
    gnutls_x509_privkey_t pk = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    int rc;

    if (ca && check_certs("--ca", ca, msg, cap) < 0)
        return 0;
    if (cert && check_certs("--cert", cert, msg, cap) < 0)
        return 0;
    if (key) {
        if (load("--key", key, &d, msg, cap) < 0)
            return 0;
        rc = gnutls_x509_privkey_init(&pk);
        if (rc == 0)
            rc = gnutls_x509_privkey_import2(pk, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
        gnutls_free(d.data);
        if (pk)
            gnutls_x509_privkey_deinit(pk);
        if (rc < 0) {
            snprintf(msg, cap, "cannot load --key %s: no usable PEM private key in it (%s)", key,
                     gnutls_strerror(rc));
            return 0;
        }
    }
    if (cert && key) {
        /* Both parse: the pair itself is what GnuTLS refused (most often a key of another cert). */
        if (gnutls_certificate_allocate_credentials(&cred) == 0) {
            rc = gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM);
            gnutls_certificate_free_credentials(cred);
            if (rc < 0) {
                snprintf(msg, cap, "--key %s cannot be used with --cert %s: %s", key, cert,
                         gnutls_strerror(rc));
                return 0;
            }
        }
    }
    snprintf(msg, cap, "the certificate files look usable, yet the TLS library refused them");
    return -1;
}
