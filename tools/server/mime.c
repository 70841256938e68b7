/* Content types by file name extension for tern-server. The table comes from /etc/mime.types
 * (Debian's media-types package) when it can be read; a few types a browser needs to render a
 * page (HTML, CSS, JavaScript, JSON, images, text) are built in and answer whatever the file
 * does not know, so a host without it still serves a working site. Anything else is
 * application/octet-stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"

#define OCTET_STREAM "application/octet-stream"

/* Sorted by extension (bsearch). */
static const srv_mime_entry builtin[] = {
    {"css", "text/css"},
    {"gif", "image/gif"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/vnd.microsoft.icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"mjs", "text/javascript"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"webp", "image/webp"},
};

static int cmp_entry(const void *a, const void *b)
{
    return strcasecmp(((const srv_mime_entry *)a)->ext, ((const srv_mime_entry *)b)->ext);
}

static int add(srv_mime *m, const char *ext, const char *type)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        srv_mime_entry *e = realloc(m->e, cap * sizeof(*e));
        if (!e)
            return -1;
        m->e = e;
        m->cap = cap;
    }
    m->e[m->n].ext = ext;
    m->e[m->n].type = type;
    m->n++;
    return 0;
}

/* Reads the whole file into m->text (NUL-terminated). Returns 0, or -1 when it cannot. */
static int slurp(srv_mime *m, const char *path)
{
    FILE *f = fopen(path, "r");
    long len;

    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(m->text = malloc((size_t)len + 1)) || fread(m->text, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(m->text);
        m->text = NULL;
        return -1;
    }
    m->text[len] = '\0';
    fclose(f);
    return 0;
}

int srv_mime_load(srv_mime *m, const char *path)
{
    char *line, *next;

    memset(m, 0, sizeof(*m));
    if (!path || slurp(m, path) < 0)
        return 0; /* the built-in types only */
    /* Lines "type ext ext ...", '#' comments; the strings stay in m->text. */
    for (line = m->text; line && *line; line = next) {
        char *save = NULL, *type, *ext;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#')
            continue;
        type = strtok_r(line, " \t\r", &save);
        if (!type || !strchr(type, '/'))
            continue;
        while ((ext = strtok_r(NULL, " \t\r", &save)))
            if (add(m, ext, type) < 0) {
                srv_mime_free(m);
                return -1;
            }
    }
    /* The first line naming an extension wins; qsort is not stable, hence the pass below it
     * over an order recorded first. */
    for (size_t i = 0; i < m->n; i++)
        m->e[i].order = i;
    qsort(m->e, m->n, sizeof(*m->e), srv_mime_cmp_order);
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++)
        if (k == 0 || strcasecmp(m->e[k - 1].ext, m->e[i].ext) != 0)
            m->e[k++] = m->e[i];
    m->n = k;
    return 0;
}

int srv_mime_cmp_order(const void *a, const void *b)
{
    const srv_mime_entry *x = a, *y = b;
    int c = strcasecmp(x->ext, y->ext);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

const char *srv_mime_type(const srv_mime *m, const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    srv_mime_entry key, *hit;

    if (!dot || (slash && dot < slash) || dot[1] == '\0')
        return OCTET_STREAM;
    key.ext = dot + 1;
    hit = m->n ? bsearch(&key, m->e, m->n, sizeof(*m->e), cmp_entry) : NULL;
    if (!hit)
        hit = bsearch(&key, builtin, sizeof(builtin) / sizeof(builtin[0]), sizeof(builtin[0]),
                      cmp_entry);
    return hit ? hit->type : OCTET_STREAM;
}

void srv_mime_free(srv_mime *m)
{
    free(m->e);
    free(m->text);
    memset(m, 0, sizeof(*m));
}
