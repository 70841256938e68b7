/* SHA-256 over GnuTLS's hash API, so downloads can be verified without buffering them. */
#include "common/sha256.h"

int tool_sha256_init(tool_sha256 *h)
{
    h->hd = NULL;
    return gnutls_hash_init(&h->hd, GNUTLS_DIG_SHA256) < 0 ? -1 : 0;
}

int tool_sha256_update(tool_sha256 *h, const void *data, size_t len)
{
    if (!h->hd)
        return -1;
    return gnutls_hash(h->hd, data, len) < 0 ? -1 : 0;
}

void tool_sha256_final_hex(tool_sha256 *h, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];

    if (!h->hd) {
        hex[0] = '\0';
        return;
    }
    gnutls_hash_deinit(h->hd, md);
    h->hd = NULL;
    for (size_t i = 0; i < sizeof(md); i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }
    hex[TOOL_SHA256_HEX_LEN] = '\0';
}

void tool_sha256_discard(tool_sha256 *h)
{
    if (h->hd) {
        gnutls_hash_deinit(h->hd, NULL);
        h->hd = NULL;
    }
}
