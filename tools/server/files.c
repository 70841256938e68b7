/* Request path to file: percent-decoding, refusal of anything that could leave the served root
 * (".." components, symlinks pointing outside), index.html for directories' trailing slash, and
 * the file's content type. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"

/* Decodes %XX escapes and drops the query in place. Returns -1 for malformed escapes, NUL bytes
 * or control characters. */
static int decode_path(char *p)
{
    char *out = p;

    for (; *p && *p != '?'; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '%') {
            unsigned v = 0;
            for (int i = 1; i <= 2; i++) {
                char h = p[i];
                v <<= 4;
                if (h >= '0' && h <= '9')
                    v |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f')
                    v |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F')
                    v |= (unsigned)(h - 'A' + 10);
                else
                    return -1;
            }
            ch = (unsigned char)v;
            p += 2;
        }
        if (ch < 0x20 || ch == 0x7f)
            return -1;
        *out++ = (char)ch;
    }
    *out = '\0';
    return 0;
}

/* 1 when any '/'-separated component of `rel` is "..". */
static int has_dotdot(const char *rel)
{
    const char *p = rel;

    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

int srv_open_file(server *srv, const char *url_path, uint64_t *size, const char **ctype,
                  int *status)
{
    char decoded[SRV_REQ_MAX], full[PATH_MAX + SRV_REQ_MAX + 16], resolved[PATH_MAX];
    const char *rel;
    struct stat sb;
    size_t len;
    int fd;

    *status = 400;
    if (url_path[0] != '/' || strlen(url_path) >= sizeof(decoded))
        return -1;
    memcpy(decoded, url_path, strlen(url_path) + 1);
    if (decode_path(decoded) < 0)
        return -1;
    *status = 404;
    rel = decoded;
    while (*rel == '/')
        rel++;
    if (has_dotdot(rel))
        return -1;
    len = strlen(rel);
    snprintf(full, sizeof(full), "%s/%s%s", srv->root, rel,
             (len == 0 || rel[len - 1] == '/') ? "index.html" : "");
    /* Resolving symlinks too: a link inside the root must not lead outside it. */
    if (!realpath(full, resolved))
        return -1;
    if (strncmp(resolved, srv->root, srv->root_len) != 0 ||
        (resolved[srv->root_len] != '/' && srv->root_len > 1))
        return -1;
    fd = open(resolved, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)sb.st_size;
    /* By the name asked for (a link keeps the type its name says), index.html included. */
    *ctype = srv_mime_type(&srv->mime, full);
    *status = 200;
    return fd;
}
