/* Field section checks of HTTP/3 messages (see h3msg.h). */
#include "common/h3msg.h"

#include <string.h>

enum { PS_METHOD = 1, PS_SCHEME = 2, PS_AUTHORITY = 4, PS_PATH = 8, PS_STATUS = 16 };

void tool_h3_msg_begin(tool_h3_msg *s, int kind)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->content_length = -1;
}

static int name_is(const tool_qpack_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->namelen == n && memcmp(f->name, s, n) == 0;
}

static int value_is(const tool_qpack_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->valuelen == n && memcmp(f->value, s, n) == 0;
}

/* A token character (RFC 9110 §5.6.2) as field names use it: uppercase letters are not. */
static int name_char(uint8_t c)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* :authority and host are never empty, and agree when both are present (RFC 9114 §4.3.1). The
 * field strings live only during the callback: the first is kept as its length and hash. */
static int authority(tool_h3_msg *s, const tool_qpack_field *f)
{
    uint64_t hash = fnv1a(f->value, f->valuelen);

    if (f->valuelen == 0)
        return -1;
    if (s->authority_seen)
        return s->authority_len == f->valuelen && s->authority_hash == hash ? 0 : -1;
    s->authority_seen = 1;
    s->authority_len = f->valuelen;
    s->authority_hash = hash;
    return 0;
}

static int value_ok(const tool_qpack_field *f)
{
    const uint8_t *v = f->value;
    size_t n = f->valuelen;

    if (n && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] == 0 || v[i] == '\r' || v[i] == '\n')
            return 0;
    return 1;
}

int tool_h3_msg_field(tool_h3_msg *s, const tool_qpack_field *f)
{
    unsigned bit = 0;

    if (f->namelen == 0 || !value_ok(f))
        return -1;
    if (f->name[0] == ':') {
        if (s->regular || s->kind == TOOL_H3_MSG_TRAILERS)
            return -1;
        if (s->kind == TOOL_H3_MSG_REQUEST) {
            bit = name_is(f, ":method")      ? PS_METHOD
                  : name_is(f, ":scheme")    ? PS_SCHEME
                  : name_is(f, ":authority") ? PS_AUTHORITY
                  : name_is(f, ":path")      ? PS_PATH
                                             : 0;
        } else if (name_is(f, ":status")) {
            bit = PS_STATUS;
        }
        if (!bit || (s->pseudo & bit))
            return -1;
        s->pseudo |= bit;
        if (bit == PS_METHOD)
            s->connect = value_is(f, "CONNECT");
        if (bit == PS_PATH)
            s->empty_path = f->valuelen == 0;
        if (bit == PS_SCHEME)
            s->needs_authority = value_is(f, "http") || value_is(f, "https");
        if (bit == PS_AUTHORITY && authority(s, f) < 0)
            return -1;
        if (bit == PS_STATUS) {
            if (f->valuelen != 3)
                return -1;
            s->status = 0;
            for (size_t i = 0; i < 3; i++) {
                if (f->value[i] < '0' || f->value[i] > '9')
                    return -1;
                s->status = s->status * 10 + (f->value[i] - '0');
            }
            /* HTTP/3 has no protocol switch (RFC 9114 §4.5) */
            if (s->status < 100 || s->status == 101)
                return -1;
        }
        return 0;
    }
    s->regular = 1;
    for (size_t i = 0; i < f->namelen; i++)
        if (!name_char(f->name[i]))
            return -1;
    if (name_is(f, "connection") || name_is(f, "keep-alive") || name_is(f, "proxy-connection") ||
        name_is(f, "transfer-encoding") || name_is(f, "upgrade"))
        return -1;
    if (name_is(f, "te") && !value_is(f, "trailers"))
        return -1;
    if (name_is(f, "host") && s->kind == TOOL_H3_MSG_REQUEST) {
        if (authority(s, f) < 0)
            return -1;
    }
    if (name_is(f, "content-length") && s->kind != TOOL_H3_MSG_TRAILERS) {
        uint64_t v = 0;
        if (f->valuelen == 0 || f->valuelen > 18)
            return -1;
        for (size_t i = 0; i < f->valuelen; i++) {
            if (f->value[i] < '0' || f->value[i] > '9')
                return -1;
            v = v * 10 + (uint64_t)(f->value[i] - '0');
        }
        if (s->content_length >= 0 && (uint64_t)s->content_length != v)
            return -1;
        s->content_length = (int64_t)v;
    }
    return 0;
}

int tool_h3_msg_end(const tool_h3_msg *s)
{
    if (s->kind == TOOL_H3_MSG_REQUEST) {
        if (!(s->pseudo & PS_METHOD))
            return -1;
        if (s->connect)
            return (s->pseudo & (PS_SCHEME | PS_PATH)) || !(s->pseudo & PS_AUTHORITY) ? -1 : 0;
        if (s->needs_authority && !s->authority_seen)
            return -1;
        return !(s->pseudo & PS_SCHEME) || !(s->pseudo & PS_PATH) || s->empty_path ? -1 : 0;
    }
    if (s->kind == TOOL_H3_MSG_RESPONSE)
        return s->pseudo & PS_STATUS ? 0 : -1;
    return 0;
}
