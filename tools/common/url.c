/* URL parsing for the client: only what hq-interop URLs need (scheme, host, port, path). */
#include "common/url.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int parse_port(const char *p, size_t n, uint16_t *out)
{
    unsigned v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int tool_url_parse(const char *text, tool_url *out, const char **err)
{
    const char *p = text, *host, *host_end, *auth_end, *path;
    size_t hlen, plen;
    int bracketed = 0;
    unsigned char tmp[sizeof(struct in6_addr)];

    memset(out, 0, sizeof(*out));
    out->port = 443;
    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strstr(p, "://")) {
        *err = "only https:// URLs are supported";
        return -1;
    }
    auth_end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(auth_end - p))) {
        *err = "user information in URLs is not supported";
        return -1;
    }
    if (*p == '[') {
        bracketed = 1;
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (!host_end) {
            *err = "unterminated '[' in URL host";
            return -1;
        }
        p = host_end + 1;
    } else {
        host = p;
        host_end = memchr(host, ':', (size_t)(auth_end - host));
        if (!host_end)
            host_end = auth_end;
        p = host_end;
    }
    if (p < auth_end) {
        if (*p != ':' || parse_port(p + 1, (size_t)(auth_end - p - 1), &out->port) < 0) {
            *err = "bad port in URL";
            return -1;
        }
    }
    hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(out->host)) {
        *err = "missing or too long host in URL";
        return -1;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->host_is_ip =
        inet_pton(AF_INET, out->host, tmp) == 1 || inet_pton(AF_INET6, out->host, tmp) == 1;
    if (bracketed && !out->host_is_ip) {
        *err = "bracketed URL host is not an IPv6 address";
        return -1;
    }

    path = auth_end;
    plen = strcspn(path, "#");
    if (plen == 0 || path[0] != '/') {
        /* "https://h" or "https://h?q": the request path is the root. */
        if (plen + 2 > sizeof(out->path)) {
            *err = "URL path too long";
            return -1;
        }
        out->path[0] = '/';
        memcpy(out->path + 1, path, plen);
        out->path[plen + 1] = '\0';
    } else {
        if (plen + 1 > sizeof(out->path)) {
            *err = "URL path too long";
            return -1;
        }
        memcpy(out->path, path, plen);
        out->path[plen] = '\0';
    }
    for (const char *c = out->path; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
            *err = "URL path contains spaces or control characters";
            return -1;
        }
    }
    return 0;
}

int tool_url_resolve(const tool_url *u, tern_addr *out, const char **err)
{
    struct addrinfo hints, *res = NULL;
    char port[8];
    int rc;

    memset(out, 0, sizeof(*out));
    if (u->host_is_ip) {
        if (tern_addr_parse(out, u->host, u->port) < 0) {
            *err = "cannot parse the host address";
            return -1;
        }
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    snprintf(port, sizeof(port), "%u", (unsigned)u->port);
    rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0 || !res) {
        *err = rc ? gai_strerror(rc) : "host has no address";
        return -1;
    }
    if (res->ai_addrlen > sizeof(out->u)) {
        freeaddrinfo(res);
        *err = "unsupported address family";
        return -1;
    }
    memcpy(&out->u, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int tool_url_basename(const tool_url *u, char *buf, size_t cap)
{
    size_t end = strcspn(u->path, "?");
    size_t start = end;
    size_t n;

    while (start > 0 && u->path[start - 1] != '/')
        start--;
    n = end - start;
    if (n == 0) {
        if (cap < sizeof("index.html"))
            return -1;
        strcpy(buf, "index.html");
        return 0;
    }
    if (n + 1 > cap)
        return -1;
    memcpy(buf, u->path + start, n);
    buf[n] = '\0';
    if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
        return -1;
    return 0;
}
