/* Small public helpers with no state: error names, the library's version, socket address text
 * conversion and comparison, and configuration defaults. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/tern.h"

/* Indexed by -code; every TERN_ERR_* down to TERN_ERR_INTERNAL has an entry. */
static const char *const err_names[] = {
    [-TERN_OK] = "success",
    [-TERN_ERR_INVALID_ARG] = "invalid argument",
    [-TERN_ERR_NOMEM] = "out of memory",
    [-TERN_ERR_BUFFER_TOO_SMALL] = "buffer too small",
    [-TERN_ERR_PROTO] = "protocol violation by the peer",
    [-TERN_ERR_CRYPTO] = "packet protection failure",
    [-TERN_ERR_TLS] = "TLS handshake failure",
    [-TERN_ERR_STREAM_NOT_FOUND] = "stream not found",
    [-TERN_ERR_STREAM_LIMIT] = "stream limit reached",
    [-TERN_ERR_STREAM_STATE] = "operation not allowed in the stream's state",
    [-TERN_ERR_WOULD_BLOCK] = "operation would block",
    [-TERN_ERR_CLOSED] = "connection closed",
    [-TERN_ERR_IO] = "system call failed",
    [-TERN_ERR_DROP] = "datagram dropped",
    [-TERN_ERR_VERSION] = "no common QUIC version",
    [-TERN_ERR_CONFIG] = "unusable configuration",
    [-TERN_ERR_CERT] = "certificate or key cannot be loaded",
    [-TERN_ERR_NOT_FOUND] = "not found",
    [-TERN_ERR_IDLE_TIMEOUT] = "idle timeout",
    [-TERN_ERR_STATELESS_RESET] = "stateless reset received",
    [-TERN_ERR_INTERNAL] = "internal error",
    [-TERN_ERR_NOT_CLIENT] = "only a client connection can do this",
    [-TERN_ERR_MIGRATION_DISABLED] = "the peer disabled active migration",
    [-TERN_ERR_ZERO_LEN_CID] = "the peer uses zero-length connection IDs",
    [-TERN_ERR_DUPLICATE] = "address already in use by a path",
    [-TERN_ERR_PATH_LIMIT] = "path limit reached",
    [-TERN_ERR_AF_MISMATCH] = "address family differs from the peer's",
    [-TERN_ERR_BIND] = "cannot bind a socket on the address",
    [-TERN_ERR_LAST_PATH] = "refusing to remove the last usable path",
    [-TERN_ERR_CONN_REFUSED] = "connection refused",
    [-TERN_ERR_ABI] = "struct size unknown to this library (built against a newer header)",
    [-TERN_ERR_REENTRANT] = "not allowed from inside a callback",
    [-TERN_ERR_DATAGRAM_UNSUPPORTED] = "the peer does not take datagrams",
    [-TERN_ERR_DATAGRAM_TOO_LARGE] = "datagram too large",
    [-TERN_ERR_SESSION] = "unusable resumption blob",
    [-TERN_ERR_NOT_MULTIPATH] = "the multipath extension is not in use",
};

const char *tern_version(int *num)
{
    if (num)
        *num = TERN_VERSION_NUM;
    return TERN_VERSION_STRING;
}

const char *tern_path_reason_str(tern_path_reason r)
{
    switch (r) {
    case TERN_PATH_WHY_NONE: return "none";
    case TERN_PATH_WHY_APP: return "application";
    case TERN_PATH_WHY_TIMEOUT: return "validation timeout";
    case TERN_PATH_WHY_SOCKET_ERROR: return "socket error";
    case TERN_PATH_WHY_NO_CID: return "no spare peer connection ID";
    case TERN_PATH_WHY_MIGRATION_DISABLED: return "peer disabled migration";
    case TERN_PATH_WHY_VALIDATION_FAILED: return "validation failed, returned to previous path";
    case TERN_PATH_WHY_ACTIVE_REMOVED: return "active path removed";
    case TERN_PATH_WHY_PREFERRED_ADDRESS: return "server preferred address";
    case TERN_PATH_WHY_PEER_MIGRATED: return "peer address changed";
    case TERN_PATH_WHY_ZERO_LEN_CID: return "peer uses zero-length connection IDs";
    case TERN_PATH_WHY_FAILOVER: return "failover from a dead path";
    case TERN_PATH_WHY_DEGRADING: return "path degrading";
    case TERN_PATH_WHY_INTERFACE_GONE: return "interface gone";
    case TERN_PATH_WHY_ADDRESS_GONE: return "address gone";
    case TERN_PATH_WHY_DEFAULT_CHANGED: return "network default changed";
    case TERN_PATH_WHY_MIGRATED_BACK: return "migrated back";
    case TERN_PATH_WHY_PORT_MIGRATION: return "port migration";
    case TERN_PATH_WHY_KEEPALIVE_FAILED: return "standby keep-alive failed";
    case TERN_PATH_WHY_NEW_NETWORK: return "new network";
    case TERN_PATH_WHY_LIMIT: return "migration limit reached";
    case TERN_PATH_WHY_STANDBY_UNUSED: return "standby path unused";
    case TERN_PATH_WHY_PEER_ABANDONED: return "abandoned by the peer";
    case TERN_PATH_WHY_IDLE: return "idle";
    }
    return "unknown";
}

const char *tern_net_event_str(tern_net_event_type t)
{
    switch (t) {
    case TERN_NET_ADDR_ADDED: return "address added";
    case TERN_NET_ADDR_REMOVED: return "address removed";
    case TERN_NET_LINK_UP: return "interface up";
    case TERN_NET_LINK_DOWN: return "interface down";
    case TERN_NET_DEFAULT_CHANGED: return "default route changed";
    }
    return "unknown";
}

const char *tern_strerror(int err)
{
    if (err > 0 || (size_t) - (long)err >= sizeof(err_names) / sizeof(err_names[0]) ||
        !err_names[-err])
        return "unknown error";
    return err_names[-err];
}

/* Strict decimal port: 1 to 5 digits, value <= 65535. */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    size_t n = 0;
    if (!*s)
        return -1;
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n >= 5)
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* "addr%scope": the scope is an interface name or a number. */
static int parse_v6(tern_addr *out, const char *host, uint16_t port)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    uint32_t scope = 0;
    size_t hl = strlen(host);
    if (hl >= sizeof(tmp))
        return -1;
    memcpy(tmp, host, hl + 1);
    char *pct = strchr(tmp, '%');
    if (pct) {
        *pct++ = 0;
        if (!*pct)
            return -1;
        char *end;
        unsigned long v = strtoul(pct, &end, 10);
        if (*end == 0 && v <= UINT32_MAX)
            scope = (uint32_t)v;
        else if (!(scope = if_nametoindex(pct)))
            return -1;
    }
    struct sockaddr_in6 *a = &out->u.in6;
    if (inet_pton(AF_INET6, tmp, &a->sin6_addr) != 1)
        return -1;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_scope_id = scope;
    out->len = sizeof(*a);
    return 0;
}

int tern_addr_parse(tern_addr *out, const char *text, uint16_t default_port)
{
    if (!out || !text)
        return TERN_ERR_INVALID_ARG;
    tern_addr a;
    memset(&a, 0, sizeof(a));
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    uint16_t port = default_port;
    size_t len = strlen(text);

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || (size_t)(close - text - 1) >= sizeof(host) || close == text + 1)
            return TERN_ERR_INVALID_ARG;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = 0;
        if (close[1] == ':') {
            if (parse_port(close + 2, &port))
                return TERN_ERR_INVALID_ARG;
        } else if (close[1] != 0) {
            return TERN_ERR_INVALID_ARG;
        }
        if (parse_v6(&a, host, port))
            return TERN_ERR_INVALID_ARG;
        *out = a;
        return 0;
    }

    const char *colon = strchr(text, ':');
    if (colon && strchr(colon + 1, ':')) {
        /* Two colons or more and no brackets: a bare IPv6 address, no port. */
        if (parse_v6(&a, text, port))
            return TERN_ERR_INVALID_ARG;
        *out = a;
        return 0;
    }
    size_t hl = colon ? (size_t)(colon - text) : len;
    if (hl == 0 || hl >= sizeof(host))
        return TERN_ERR_INVALID_ARG;
    memcpy(host, text, hl);
    host[hl] = 0;
    if (colon && parse_port(colon + 1, &port))
        return TERN_ERR_INVALID_ARG;
    if (inet_pton(AF_INET, host, &a.u.in.sin_addr) != 1)
        return TERN_ERR_INVALID_ARG;
    a.u.in.sin_family = AF_INET;
    a.u.in.sin_port = htons(port);
    a.len = sizeof(a.u.in);
    *out = a;
    return 0;
}

char *tern_addr_format(const tern_addr *a, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    char ip[INET6_ADDRSTRLEN];
    if (!a || a->len == 0) {
        snprintf(buf, cap, "(unset)");
    } else if (a->u.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(a->u.in.sin_port));
    } else if (a->u.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof(ip));
        if (a->u.in6.sin6_scope_id)
            snprintf(buf, cap, "[%s%%%u]:%u", ip, (unsigned)a->u.in6.sin6_scope_id,
                     (unsigned)ntohs(a->u.in6.sin6_port));
        else
            snprintf(buf, cap, "[%s]:%u", ip, (unsigned)ntohs(a->u.in6.sin6_port));
    } else {
        snprintf(buf, cap, "(family %d)", (int)a->u.sa.sa_family);
    }
    return buf;
}

int tern_addr_equal(const tern_addr *a, const tern_addr *b)
{
    if (!a || !b || a->u.sa.sa_family != b->u.sa.sa_family)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    if (a->u.sa.sa_family == AF_INET6)
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof(struct in6_addr)) == 0;
    return 0;
}
