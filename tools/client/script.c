/* Scripted local address changes for tern-client (--add-local, --backup-local, --migrate,
 * --remove-local): each
 * action names an address and a trigger, a time after the handshake ("300ms", "2s") or an amount
 * of body data received ("20MB", "512KB"). The loop and the read path both call cl_script_run, so
 * a byte trigger fires as soon as the data that crosses it has been handed to the application.
 * A failing action is reported and the download goes on: the point is to see what tern does. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client.h"
#include "common/json.h"
#include "common/util.h"

static const char *kind_name(cl_act_kind k)
{
    switch (k) {
    case CL_ACT_ADD:
        return "add-local";
    case CL_ACT_MIGRATE:
        return "migrate";
    case CL_ACT_ADD_BACKUP:
        return "backup-local";
    default:
        return "remove-local";
    }
}

/* "300ms", "2s", "1.5s", "20MB", "512KB", "4M", "100000B". Sizes count in powers of 1024, as
 * everywhere else in the tools. Returns 0 or -1. */
static int parse_when(const char *text, int *by_bytes, uint64_t *at)
{
    static const struct {
        const char *unit;
        int bytes;
        double mult;
    } units[] = {
        {"us", 0, 1e3},
        {"ms", 0, 1e6},
        {"s", 0, 1e9},
        {"b", 1, 1},
        {"k", 1, 1024.0},
        {"kb", 1, 1024.0},
        {"kib", 1, 1024.0},
        {"m", 1, 1048576.0},
        {"mb", 1, 1048576.0},
        {"mib", 1, 1048576.0},
        {"g", 1, 1073741824.0},
        {"gb", 1, 1073741824.0},
        {"gib", 1, 1073741824.0},
    };
    char *end;
    double v;

    if (!text || !((*text >= '0' && *text <= '9') || *text == '.'))
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || !isfinite(v) || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        double x;
        if (strcasecmp(end, units[i].unit) != 0)
            continue;
        x = v * units[i].mult;
        if (x >= 1.8e19)
            return -1;
        *by_bytes = units[i].bytes;
        *at = (uint64_t)llround(x);
        return 0;
    }
    return -1; /* a bare number: seconds or bytes? */
}

static int has_port(const tern_addr *a)
{
    return a->u.sa.sa_family == AF_INET6 ? a->u.in6.sin6_port != 0 : a->u.in.sin_port != 0;
}

int cl_script_add(client *cl, cl_act_kind kind, const char *spec)
{
    const char *at = strrchr(spec, '@');
    char addr[128];
    cl_action *a;

    if (cl->nactions == CL_MAX_ACTIONS) {
        fprintf(stderr, "tern-client: at most %d address actions\n", CL_MAX_ACTIONS);
        return -1;
    }
    a = &cl->actions[cl->nactions];
    memset(a, 0, sizeof(*a));
    if (!at || at == spec || (size_t)(at - spec) >= sizeof(addr)) {
        fprintf(stderr, "tern-client: --%s '%s': expected ADDR[:PORT]@WHEN\n", kind_name(kind),
                spec);
        return -1;
    }
    memcpy(addr, spec, (size_t)(at - spec));
    addr[at - spec] = '\0';
    if (tern_addr_parse(&a->addr, addr, 0) < 0) {
        fprintf(stderr, "tern-client: --%s '%s': bad address '%s'\n", kind_name(kind), spec, addr);
        return -1;
    }
    if (parse_when(at + 1, &a->by_bytes, &a->at) < 0) {
        fprintf(stderr,
                "tern-client: --%s '%s': bad trigger '%s' (a time: 300ms, 2s; or an amount "
                "received: 512KB, 20MB)\n",
                kind_name(kind), spec, at + 1);
        return -1;
    }
    a->kind = kind;
    a->spec = spec;
    a->any_port = !has_port(&a->addr);
    if (a->by_bytes && a->at < cl->next_bytes_due)
        cl->next_bytes_due = a->at;
    cl->nactions++;
    return 0;
}

static int due(client *cl, const cl_action *a, uint64_t now)
{
    if (a->by_bytes)
        return cl->total_bytes >= a->at;
    return now - cl->connected_ns >= a->at;
}

static void update_next_bytes(client *cl)
{
    cl->next_bytes_due = UINT64_MAX;
    for (size_t i = 0; i < cl->nactions; i++)
        if (!cl->actions[i].done && cl->actions[i].by_bytes &&
            cl->actions[i].at < cl->next_bytes_due)
            cl->next_bytes_due = cl->actions[i].at;
}

static int live(client *cl)
{
    return cl->conn && cl->connected && !cl->closed && cl->n_finished < cl->n;
}

static void run_action(client *cl, cl_action *a)
{
    tern_addr target = a->addr;
    char text[96];
    int rc;

    /* Without a port, an address that already has a path means that path (its port was picked
     * by the system), so that "add 127.0.0.2, then migrate to 127.0.0.2" works. */
    if (a->any_port && a->kind != CL_ACT_ADD && a->kind != CL_ACT_ADD_BACKUP)
        cl_paths_find_local(cl, &a->addr, &target);
    errno = 0;
    switch (a->kind) {
    case CL_ACT_ADD:
        rc = tern_conn_add_local_address(cl->conn, &target);
        break;
    case CL_ACT_ADD_BACKUP:
        rc = tern_conn_add_local_address_backup(cl->conn, &target);
        break;
    case CL_ACT_MIGRATE:
        rc = tern_conn_set_local_address(cl->conn, &target);
        break;
    default:
        rc = tern_conn_remove_local_address(cl->conn, &target);
        break;
    }
    a->sys_errno = rc == TERN_ERR_BIND ? errno : 0;
    a->done = 1;
    a->ran_ns = tool_now_ns();
    a->ran_bytes = cl->total_bytes;
    a->rc = rc;
    tern_addr_format(&target, text, sizeof(text));
    if (rc < 0)
        cl_note(cl, "--%s %s failed after %.1f MB: %s%s%s", kind_name(a->kind), a->spec,
                (double)cl->total_bytes / 1048576.0, tern_strerror(rc), a->sys_errno ? ": " : "",
                a->sys_errno ? strerror(a->sys_errno) : "");
    else if (!cl->quiet && a->kind == CL_ACT_REMOVE)
        cl_note(cl, "remove-local %s after %.1f MB", text, (double)cl->total_bytes / 1048576.0);
    else if (!cl->quiet)
        cl_note(cl, "%s %s after %.1f MB: path %d", kind_name(a->kind), a->spec,
                (double)cl->total_bytes / 1048576.0, rc);
}

void cl_script_run(client *cl)
{
    uint64_t now;

    if (cl->script_busy || !cl->nactions || !live(cl))
        return;
    cl->script_busy = 1; /* an action's path events must not start the next one from inside */
    now = tool_now_ns();
    for (size_t i = 0; i < cl->nactions && live(cl); i++) {
        cl_action *a = &cl->actions[i];
        if (!a->done && due(cl, a, now))
            run_action(cl, a);
    }
    update_next_bytes(cl);
    cl->script_busy = 0;
}

int cl_script_wait_ms(client *cl, int cap_ms)
{
    uint64_t now = tool_now_ns();

    if (!live(cl))
        return cap_ms; /* nothing runs now: no reason to wake up early */
    for (size_t i = 0; i < cl->nactions; i++) {
        const cl_action *a = &cl->actions[i];
        uint64_t when, left;
        if (a->done || a->by_bytes)
            continue;
        when = cl->connected_ns + a->at;
        left = when > now ? (when - now + 999999) / 1000000 : 0;
        if (left < (uint64_t)cap_ms)
            cap_ms = (int)left;
    }
    return cap_ms;
}

void cl_script_report_pending(client *cl)
{
    for (size_t i = 0; i < cl->nactions && !cl->quiet; i++)
        if (!cl->actions[i].done)
            cl_note(cl, "--%s %s did not run: the %s ended first", kind_name(cl->actions[i].kind),
                    cl->actions[i].spec, cl->connected ? "download" : "connection");
}

void cl_script_json(client *cl, FILE *f)
{
    fputs(",\"actions\":[", f);
    for (size_t i = 0; i < cl->nactions; i++) {
        const cl_action *a = &cl->actions[i];
        fprintf(f, "%s{\"action\":\"%s\",\"spec\":", i ? "," : "", kind_name(a->kind));
        tool_json_string(f, a->spec);
        fprintf(f, ",\"ran\":%s", a->done ? "true" : "false");
        if (a->done) {
            fputs(",\"t_ms\":", f);
            tool_json_number(f, (double)(a->ran_ns - cl->start_ns) / 1e6, 3);
            fprintf(f, ",\"bytes\":%llu", (unsigned long long)a->ran_bytes);
            if (a->rc < 0) {
                fputs(",\"error\":", f);
                tool_json_string(f, tern_strerror(a->rc));
            } else if (a->kind != CL_ACT_REMOVE) {
                fprintf(f, ",\"path\":%d", a->rc);
            }
        }
        fputc('}', f);
    }
    fputc(']', f);
}
