/* Event timeline of a simulation run (see sim_timeline.h). */
#include "sim_timeline.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

static const char *kind_names[SIM_TL_KINDS] = {
    "send",   "deliver",   "drop",   "dup",    "corrupt", "nat",    "reply", "accept",
    "refuse", "connected", "stream", "closed", "path",    "action", "note",
};

const char *sim_tl_kind_name(int kind)
{
    return kind >= 0 && kind < SIM_TL_KINDS ? kind_names[kind] : "?";
}

void sim_tl_init(sim_timeline *tl)
{
    memset(tl, 0, sizeof(*tl));
    tl->digest = 0xcbf29ce484222325ull;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fnv(h, b, 8);
}

static uint64_t fnv_addr(uint64_t h, const sim_tl_addr *a)
{
    h = fnv_u64(h, a->fam);
    h = fnv(h, a->ip, sizeof(a->ip));
    return fnv_u64(h, a->port);
}

void sim_tl_add(sim_timeline *tl, const sim_tl_ev *ev)
{
    /* Field by field: struct padding must not leak into the digest. */
    uint64_t h = tl->digest;
    h = fnv_u64(h, ev->t);
    h = fnv_u64(h, ev->kind);
    h = fnv_u64(h, (uint64_t)(int64_t)ev->node);
    h = fnv_u64(h, (uint64_t)(int64_t)ev->who);
    h = fnv_u64(h, (uint64_t)(int64_t)ev->dir);
    h = fnv_u64(h, ev->id);
    h = fnv_u64(h, ev->len);
    h = fnv_u64(h, (uint64_t)ev->a);
    h = fnv_u64(h, (uint64_t)ev->b);
    h = fnv_addr(h, &ev->src);
    h = fnv_addr(h, &ev->dst);
    h = fnv(h, ev->text, strnlen(ev->text, sizeof(ev->text)));
    tl->digest = h;
    if (ev->kind < SIM_TL_KINDS)
        tl->count[ev->kind]++;
    tl->ring[tl->total % SIM_TL_RING] = *ev;
    tl->total++;
    if (tl->out) {
        char line[256];
        sim_tl_format(tl, ev, line, sizeof(line));
        fprintf(tl->out, "%s\n", line);
    }
}

void sim_tl_set_text(sim_tl_ev *ev, const char *text)
{
    size_t n = text ? strnlen(text, sizeof(ev->text) - 1) : 0;
    if (n)
        memcpy(ev->text, text, n);
    ev->text[n] = 0;
}

void sim_tl_addr_from(sim_tl_addr *o, const tern_addr *a)
{
    memset(o, 0, sizeof(*o));
    if (a->len == 0)
        return;
    if (a->u.sa.sa_family == AF_INET) {
        o->fam = 4;
        memcpy(o->ip, &a->u.in.sin_addr, 4);
        o->port = ntohs(a->u.in.sin_port);
    } else if (a->u.sa.sa_family == AF_INET6) {
        o->fam = 6;
        memcpy(o->ip, &a->u.in6.sin6_addr, 16);
        o->port = ntohs(a->u.in6.sin6_port);
    }
}

static void fmt_addr(const sim_tl_addr *a, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (a->fam == 4) {
        inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, a->port);
    } else if (a->fam == 6) {
        inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
        snprintf(buf, cap, "[%s]:%u", ip, a->port);
    } else {
        snprintf(buf, cap, "-");
    }
}

static const char *who_name(int who)
{
    return who == 0 ? "client" : who == 1 ? "server" : "";
}

void sim_tl_format(const sim_timeline *tl, const sim_tl_ev *ev, char *buf, size_t cap)
{
    char where[40] = "";
    if (ev->node >= 0 && tl->node_names && (size_t)ev->node < tl->nnames)
        snprintf(where, sizeof(where), "%s", tl->node_names[ev->node]);
    else if (ev->who >= 0)
        snprintf(where, sizeof(where), "%s", who_name(ev->who));
    char head[128];
    snprintf(head, sizeof(head), "%6" PRIu64 ".%06" PRIu64 " %-9s %-14s",
             (uint64_t)(ev->t / 1000000000u), (uint64_t)((ev->t / 1000u) % 1000000u),
             sim_tl_kind_name(ev->kind), where);
    char pkt[48] = "";
    if (ev->id)
        snprintf(pkt, sizeof(pkt), " #%-6" PRIu64 " %s %5u B", ev->id,
                 ev->dir == 0   ? "c>s"
                 : ev->dir == 1 ? "s>c"
                                : "   ",
                 ev->len);
    char extra[256] = "";
    switch (ev->kind) {
    case SIM_TL_SEND: {
        char a[64], b[64];
        fmt_addr(&ev->src, a, sizeof(a));
        fmt_addr(&ev->dst, b, sizeof(b));
        snprintf(extra, sizeof(extra), " %s > %s%s%s", a, b, ev->text[0] ? " " : "", ev->text);
        break;
    }
    case SIM_TL_DUP:
        snprintf(extra, sizeof(extra), " copy #%" PRId64, ev->a);
        break;
    case SIM_TL_CORRUPT:
        snprintf(extra, sizeof(extra), " %" PRId64 " bit(s) from bit %" PRId64, ev->a, ev->b);
        break;
    case SIM_TL_ACCEPT:
        snprintf(extra, sizeof(extra), " server conn %" PRId64, ev->a);
        break;
    case SIM_TL_STREAM:
        snprintf(extra, sizeof(extra), " stream %" PRId64 " %" PRId64 " B %s", ev->a, ev->b,
                 ev->text);
        break;
    case SIM_TL_CLOSED:
        snprintf(extra, sizeof(extra), " status %s (%" PRId64 ") error 0x%" PRIx64 " %s",
                 tern_strerror((int)ev->a), ev->a, (uint64_t)ev->b, ev->text);
        break;
    case SIM_TL_PATH: {
        static const char *types[] = {"?",      "probing", "validated",           "failed",
                                      "active", "removed", "peer address changed"};
        const char *ty = ev->a > 0 && ev->a < 7 ? types[ev->a] : "?";
        if (ev->b)
            snprintf(extra, sizeof(extra), " %s (%s) %s", ty,
                     tern_path_reason_str((tern_path_reason)ev->b), ev->text);
        else
            snprintf(extra, sizeof(extra), " %s %s", ty, ev->text);
        break;
    }
    default:
        if (ev->text[0])
            snprintf(extra, sizeof(extra), " %s", ev->text);
        break;
    }
    size_t off = 0;
    const char *parts[3] = {head, pkt, extra};
    for (int i = 0; i < 3 && cap; i++) {
        size_t n = strlen(parts[i]);
        if (off + n >= cap)
            n = cap - 1 - off;
        memcpy(buf + off, parts[i], n);
        off += n;
    }
    if (cap)
        buf[off] = 0;
}

void sim_tl_print_tail(const sim_timeline *tl, FILE *f, size_t n)
{
    if (n > SIM_TL_RING)
        n = SIM_TL_RING;
    if (n > tl->total)
        n = (size_t)tl->total;
    for (uint64_t i = tl->total - n; i < tl->total; i++) {
        char line[256];
        sim_tl_format(tl, &tl->ring[i % SIM_TL_RING], line, sizeof(line));
        fprintf(f, "%s\n", line);
    }
}
