/* "https://host[:port]/path" parsing and host resolution for tern-client. */
#ifndef TOOLS_COMMON_URL_H
#define TOOLS_COMMON_URL_H

#include <stdint.h>

#include "tern/tern.h"

#define TOOL_URL_HOST_MAX 256
#define TOOL_URL_PATH_MAX 2048

typedef struct tool_url {
    char host[TOOL_URL_HOST_MAX]; /* without the brackets of an IPv6 literal */
    uint16_t port;                /* 443 when the URL has none */
    int host_is_ip;               /* 1 for an IPv4 or IPv6 literal */
    char path[TOOL_URL_PATH_MAX]; /* starts with '/'; "/" when the URL has none; query kept */
} tool_url;

/* Parses an https:// URL (the scheme may be omitted). Userinfo and fragments are rejected or
 * dropped. Returns 0, or -1 with a static message in *err. */
int tool_url_parse(const char *text, tool_url *out, const char **err);

/* Resolves the URL's host to an address with the URL's port: IP literals directly, names through
 * getaddrinfo (first UDP result). Returns 0, or -1 with a static message in *err. */
int tool_url_resolve(const tool_url *u, tern_addr *out, const char **err);

/* The last path component without query ("index.html" when empty), copied into buf. Returns 0, or
 * -1 when it does not fit or would be unsafe as a file name ("." or ".."). */
int tool_url_basename(const tool_url *u, char *buf, size_t cap);

#endif
