/* Paths as tern-client sees them: one stderr line per path event and per network event (address,
 * link, default route), the history of every path (its events and its last counters), of every
 * switch (failovers counted apart) and of the network for the JSON report, and the live path
 * table of --show-paths. On a terminal the table is redrawn in place; elsewhere (logs, CI) each
 * drawing is a block of plain lines, so the output stays readable as a file. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "common/json.h"
#include "common/util.h"

#define TABLE_PERIOD_NS (500ull * 1000000ull)
#define TABLE_MIN_GAP_NS                                                                           \
    (100ull * 1000000ull) /* plain output: event snapshots at most this often */

static const char *state_name(tern_path_state s)
{
    switch (s) {
    case TERN_PATH_STATE_PROBING:
        return "probing";
    case TERN_PATH_STATE_VALIDATED:
        return "validated";
    case TERN_PATH_STATE_ACTIVE:
        return "active";
    case TERN_PATH_STATE_FAILED:
        return "failed";
    case TERN_PATH_STATE_ABANDONED:
        return "abandoned";
    }
    return "unknown";
}

const char *cl_paths_event_name(tern_path_event_type t)
{
    switch (t) {
    case TERN_PATH_EV_PROBING:
        return "probing";
    case TERN_PATH_EV_VALIDATED:
        return "validated";
    case TERN_PATH_EV_FAILED:
        return "failed";
    case TERN_PATH_EV_ACTIVE:
        return "active";
    case TERN_PATH_EV_REMOVED:
        return "removed";
    case TERN_PATH_EV_PEER_ADDRESS_CHANGED:
        return "peer_address_changed";
    case TERN_PATH_EV_REFUSED:
        return "refused";
    }
    return "unknown";
}

/* 1 for a switch away from an active path that died or failed (not one the application or a
 * preference asked for). */
static int is_failover(tern_path_reason r)
{
    switch (r) {
    case TERN_PATH_WHY_SOCKET_ERROR:
    case TERN_PATH_WHY_VALIDATION_FAILED:
    case TERN_PATH_WHY_FAILOVER:
    case TERN_PATH_WHY_DEGRADING:
    case TERN_PATH_WHY_INTERFACE_GONE:
    case TERN_PATH_WHY_ADDRESS_GONE:
    case TERN_PATH_WHY_KEEPALIVE_FAILED:
        return 1;
    default:
        return 0;
    }
}

static double since_start_s(const client *cl, uint64_t t)
{
    return t >= cl->start_ns ? (double)(t - cl->start_ns) / 1e9 : -(double)(cl->start_ns - t) / 1e9;
}

void cl_paths_table_clear(client *cl)
{
    cl_paths *ps = &cl->paths;

    if (!ps->table_tty || !ps->table_lines)
        return;
    fprintf(stderr, "\033[%zuA\r\033[J", ps->table_lines);
    fflush(stderr);
    ps->table_lines = 0;
    ps->table_dirty = 1; /* put it back at the next loop iteration */
}

void cl_note(client *cl, const char *fmt, ...)
{
    va_list ap;

    cl_progress_clear(&cl->progress);
    cl_paths_table_clear(cl);
    fprintf(stderr, "tern-client: %7.3fs ", since_start_s(cl, tool_now_ns()));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void cl_paths_init(client *cl, int table)
{
    cl_paths *ps = &cl->paths;

    ps->table = table;
    ps->table_tty = table && isatty(STDERR_FILENO);
}

/* The record of path `p`. tern reuses the id of a path that is gone for a later one: the creation
 * time tells them apart. */
static cl_path_rec *rec_of(client *cl, const tern_path_info *p, int create)
{
    cl_paths *ps = &cl->paths;

    for (size_t i = ps->n; i-- > 0;)
        if (ps->rec[i].info.id == p->id && ps->rec[i].info.created_ns == p->created_ns)
            return &ps->rec[i];
    if (!create)
        return NULL;
    if (ps->n == CL_MAX_PATH_RECS) {
        ps->dropped++;
        return NULL;
    }
    memset(&ps->rec[ps->n], 0, sizeof(ps->rec[ps->n]));
    ps->rec[ps->n].info = *p;
    return &ps->rec[ps->n++];
}

static void fmt_pair(const tern_path_addr *pa, char *local, char *remote, size_t cap)
{
    tern_addr_format(&pa->local, local, cap);
    tern_addr_format(&pa->remote, remote, cap);
}

void cl_paths_on_event(client *cl, const tern_path_event *ev)
{
    cl_paths *ps = &cl->paths;
    uint64_t now = tool_now_ns();
    cl_path_rec *r;
    char local[64], remote[64], rtt[32], from[48] = "";
    uint64_t rtt_ns;

    if (!ev || !ev->path)
        return;
    r = rec_of(cl, ev->path, 1);
    if (r) {
        r->info = *ev->path;
        if (r->nev < CL_PATH_EVENTS)
            r->ev[r->nev++] = (cl_path_ev){
                .t_ns = now, .type = ev->type, .reason = ev->reason, .rtt_ns = ev->rtt_ns};
        else
            r->ev_dropped++;
        if (ev->type == TERN_PATH_EV_REMOVED)
            r->gone = 1;
    }
    if (ev->from) {
        cl_path_rec *f = rec_of(cl, ev->from, 1);
        if (f && !f->gone)
            f->info = *ev->from;
    }
    cl_stalls_on_path_event(cl, ev, now);
    if (ev->type == TERN_PATH_EV_ACTIVE) {
        if (is_failover(ev->reason))
            ps->failovers++;
        if (ps->nmig > 0 && now - ps->mig[ps->nmig - 1].t_ns < CL_RATE_WINDOW_NS)
            ps->mig[ps->nmig - 1].cut_short = 1;
        if (ps->nmig < CL_MAX_MIGRATIONS) {
            cl_migration *m = &ps->mig[ps->nmig++];
            memset(m, 0, sizeof(*m));
            m->t_ns = now;
            m->reason = ev->reason;
            m->to = *ev->path;
            m->have_from = ev->from != NULL;
            if (ev->from)
                m->from = *ev->from;
        }
        ps->mig_total++;
    }
    ps->table_dirty = 1;
    if (cl->quiet)
        return;
    fmt_pair(&ev->path->addr, local, remote, sizeof(local));
    /* Before its first sample a path's srtt is only the initial estimate: not worth printing. */
    rtt_ns = ev->type == TERN_PATH_EV_VALIDATED && ev->rtt_ns ? ev->rtt_ns
             : ev->path->min_rtt_ns                           ? ev->path->srtt_ns
                                                              : 0;
    if (rtt_ns)
        snprintf(rtt, sizeof(rtt), "rtt %.2f ms", (double)rtt_ns / 1e6);
    else
        snprintf(rtt, sizeof(rtt), "rtt -");
    if (ev->from)
        snprintf(from, sizeof(from), ", from path %d", ev->from->id);
    cl_note(cl, "path %d %s (%s) %s -> %s, %s%s", ev->path->id, cl_paths_event_name(ev->type),
            tern_path_reason_str(ev->reason), local, remote, rtt, from);
}

void cl_paths_refresh(client *cl)
{
    cl_paths *ps = &cl->paths;
    tern_path_info info[16];
    size_t n = 0;
    int seen[CL_MAX_PATH_RECS];

    if (!cl->conn || tern_conn_paths(cl->conn, info, sizeof(info) / sizeof(info[0]), &n) < 0)
        return;
    if (n > sizeof(info) / sizeof(info[0]))
        n = sizeof(info) / sizeof(info[0]);
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < n; i++) {
        cl_path_rec *r = rec_of(cl, &info[i], 1);
        if (!r)
            continue;
        r->info = info[i];
        r->gone = 0;
        seen[r - ps->rec] = 1;
    }
    /* A path tern no longer lists is gone even if no REMOVED event said so. */
    for (size_t i = 0; i < ps->n; i++)
        if (!seen[i])
            ps->rec[i].gone = 1;
}

int cl_paths_find_local(client *cl, const tern_addr *ip, tern_addr *out)
{
    cl_paths *ps = &cl->paths;
    const cl_path_rec *best = NULL;

    cl_paths_refresh(cl);
    for (size_t i = 0; i < ps->n; i++) {
        const cl_path_rec *r = &ps->rec[i];
        const tern_addr *l = &r->info.addr.local;
        int same;
        if (r->gone || l->u.sa.sa_family != ip->u.sa.sa_family)
            continue;
        if (ip->u.sa.sa_family == AF_INET)
            same = l->u.in.sin_addr.s_addr == ip->u.in.sin_addr.s_addr;
        else
            same = memcmp(&l->u.in6.sin6_addr, &ip->u.in6.sin6_addr, 16) == 0;
        if (same && (!best || r->info.state == TERN_PATH_STATE_ACTIVE))
            best = r;
    }
    if (!best)
        return -1;
    *out = best->info.addr.local;
    return 0;
}

void cl_paths_on_data(client *cl, uint64_t now, size_t len)
{
    cl_paths *ps = &cl->paths;
    cl_migration *m;

    if (ps->nmig == 0 || ps->mig_total != ps->nmig)
        return; /* no switch, or the latest one was not kept */
    m = &ps->mig[ps->nmig - 1];
    if (now - m->t_ns < CL_RATE_EARLY_NS)
        m->bytes_early += len;
    else if (now - m->t_ns < CL_RATE_WINDOW_NS)
        m->bytes_later += len;
}

/* Mbit/s of `bytes` over `ns`. */
static double mbps(uint64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes * 8.0 * 1e3 / (double)ns : 0.0;
}

size_t cl_paths_migrations(const client *cl)
{
    return cl->paths.mig_total;
}

/* ---- the table ---- */

static void human_bytes(char *buf, size_t cap, uint64_t v)
{
    if (v >= 1048576)
        snprintf(buf, cap, "%.1f MB", (double)v / 1048576.0);
    else
        snprintf(buf, cap, "%.1f KB", (double)v / 1024.0);
}

/* Path `r`'s share of the bytes every path kept received (or sent, `sent`), 0 when none moved:
 * with multipath, how the peer's scheduler (or ours) spread the transfer. */
static double share_of(const cl_paths *ps, const cl_path_rec *r, int sent)
{
    uint64_t all = 0;
    for (size_t i = 0; i < ps->n; i++)
        all += sent ? ps->rec[i].info.bytes_sent : ps->rec[i].info.bytes_recv;
    return all ? (double)(sent ? r->info.bytes_sent : r->info.bytes_recv) / (double)all : 0.0;
}

/* A path's multipath status as its scheduler uses it: backup when either side marked its path ID
 * backup (ours, or the peer's PATH_STATUS_BACKUP); "-" without a path ID (no multipath). */
static const char *mp_status(const tern_path_info *p)
{
    if (p->mp_path_id < 0)
        return "-";
    return p->mp_backup_local || p->mp_backup_peer ? "backup" : "available";
}

static void draw(client *cl, uint64_t now)
{
    cl_paths *ps = &cl->paths;
    size_t lines = 0;

    cl_progress_clear(&cl->progress);
    if (ps->table_tty && ps->table_lines)
        fprintf(stderr, "\033[%zuA\r\033[J", ps->table_lines);
    if (ps->table_tty || !ps->table_header_done) {
        fprintf(stderr, "%8s  %4s  %-22s %-22s %-10s %9s %9s %5s %10s %6s %4s %-9s\n", "time",
                "path", "local", "remote", "state", "srtt", "cwnd", "mtu", "received", "share",
                "pid", "status");
        lines++;
        ps->table_header_done = 1;
    }
    for (size_t i = 0; i < ps->n; i++) {
        cl_path_rec *r = &ps->rec[i];
        char local[64], remote[64], srtt[16], cwnd[16], recv[16], pid[24];
        const char *state = state_name(r->info.state);

        /* Plain output shows a path once more after it went, then no more. */
        if (!ps->table_tty && r->gone && r->shown_gone)
            continue;
        if (r->gone)
            r->shown_gone = 1;
        if (r->gone && r->info.state != TERN_PATH_STATE_FAILED)
            state = "abandoned";
        fmt_pair(&r->info.addr, local, remote, sizeof(local));
        if (r->info.srtt_ns && r->info.min_rtt_ns)
            snprintf(srtt, sizeof(srtt), "%.2f ms", (double)r->info.srtt_ns / 1e6);
        else
            snprintf(srtt, sizeof(srtt), "-");
        human_bytes(cwnd, sizeof(cwnd), r->info.cwnd);
        human_bytes(recv, sizeof(recv), r->info.bytes_recv);
        if (r->info.mp_path_id >= 0)
            snprintf(pid, sizeof(pid), "%lld", (long long)r->info.mp_path_id);
        else
            snprintf(pid, sizeof(pid), "-");
        fprintf(stderr, "%7.2fs  %4d  %-22s %-22s %-10s %9s %9s %5llu %10s %5.1f%% %4s %-9s\n",
                since_start_s(cl, now), r->info.id, local, remote, state, srtt, cwnd,
                (unsigned long long)r->info.mtu, recv, 100.0 * share_of(ps, r, 0), pid,
                mp_status(&r->info));
        lines++;
    }
    fflush(stderr);
    ps->table_lines = ps->table_tty ? lines : 0;
    ps->table_last_ns = now;
    ps->table_dirty = 0;
}

void cl_paths_tick(client *cl, int force)
{
    cl_paths *ps = &cl->paths;
    uint64_t now;

    if (!ps->table || !cl->connected)
        return;
    now = tool_now_ns();
    if (!force && now - ps->table_last_ns < TABLE_PERIOD_NS &&
        !(ps->table_dirty && (ps->table_tty || now - ps->table_last_ns >= TABLE_MIN_GAP_NS)))
        return;
    cl_paths_refresh(cl);
    draw(cl, now);
}

void cl_paths_table_end(client *cl)
{
    cl_paths_refresh(cl);
    if (!cl->paths.table || !cl->connected)
        return;
    draw(cl, tool_now_ns());
    cl->paths.table = 0;
    cl->paths.table_lines = 0;
}

/* ---- JSON ---- */

static void json_ms(FILE *f, const char *key, const client *cl, uint64_t t)
{
    fprintf(f, ",\"%s\":", key);
    if (!t) {
        fputs("null", f);
        return;
    }
    tool_json_number(f, since_start_s(cl, t) * 1e3, 3);
}

static void json_path_ref(FILE *f, const tern_path_info *p)
{
    char local[64], remote[64];

    fmt_pair(&p->addr, local, remote, sizeof(local));
    fprintf(f, "{\"id\":%d,\"local\":", p->id);
    tool_json_string(f, local);
    fputs(",\"remote\":", f);
    tool_json_string(f, remote);
    fputc('}', f);
}

void cl_paths_json(client *cl, FILE *f)
{
    cl_paths *ps = &cl->paths;
    const cl_path_rec *active = NULL;

    fputs(",\"paths\":[", f);
    for (size_t i = 0; i < ps->n; i++) {
        const cl_path_rec *r = &ps->rec[i];
        const tern_path_info *p = &r->info;
        char local[64], remote[64];
        const char *state = state_name(p->state);

        if (r->gone && p->state != TERN_PATH_STATE_FAILED)
            state = "abandoned";
        if (!r->gone && p->state == TERN_PATH_STATE_ACTIVE)
            active = r;
        fmt_pair(&p->addr, local, remote, sizeof(local));
        fprintf(f, "%s{\"id\":%d,\"local\":", i ? "," : "", p->id);
        tool_json_string(f, local);
        fputs(",\"remote\":", f);
        tool_json_string(f, remote);
        fprintf(f, ",\"state\":\"%s\",\"validated\":%s", state, p->validated ? "true" : "false");
        json_ms(f, "created_ms", cl, p->created_ns);
        json_ms(f, "validated_ms", cl, p->validated_ns);
        fputs(",\"srtt_ms\":", f);
        tool_json_number(f, (double)p->srtt_ns / 1e6, 3);
        fputs(",\"min_rtt_ms\":", f);
        tool_json_number(f, (double)p->min_rtt_ns / 1e6, 3);
        fprintf(f,
                ",\"cwnd\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,\"packets_sent\":%llu,"
                "\"packets_received\":%llu,\"packets_lost\":%llu,\"ecn\":\"%s\",\"ecn_failure\":"
                "\"%s\",\"ecn_sent\":%llu,\"ecn_recv_ce\":%llu,\"mtu\":%llu,\"mtu_max\":%llu,"
                "\"mtu_black_holes\":%llu,\"share_received\":%.4f,\"share_sent\":%.4f",
                (unsigned long long)p->cwnd, (unsigned long long)p->bytes_sent,
                (unsigned long long)p->bytes_recv, (unsigned long long)p->pkts_sent,
                (unsigned long long)p->pkts_recv, (unsigned long long)p->pkts_lost,
                tern_ecn_state_str(p->ecn_state), tern_ecn_failure_str(p->ecn_failure),
                (unsigned long long)p->ecn_sent, (unsigned long long)p->ecn_recv_ce,
                (unsigned long long)p->mtu, (unsigned long long)p->mtu_max,
                (unsigned long long)p->mtu_black_holes, share_of(ps, r, 0), share_of(ps, r, 1));
        /* multipath: the path ID and both sides' statuses; null without the extension */
        if (p->mp_path_id >= 0)
            fprintf(f,
                    ",\"path_id\":%lld,\"status\":\"%s\",\"status_local\":\"%s\","
                    "\"status_peer\":\"%s\",\"stream_bytes_scheduled\":%llu,\"failing\":%s",
                    (long long)p->mp_path_id, mp_status(p),
                    p->mp_backup_local ? "backup" : "available",
                    p->mp_backup_peer ? "backup" : "available",
                    (unsigned long long)p->mp_stream_bytes, p->mp_failing ? "true" : "false");
        else
            fputs(",\"path_id\":null,\"status\":null", f);
        fputs(",\"events\":[", f);
        for (size_t k = 0; k < r->nev; k++) {
            const cl_path_ev *e = &r->ev[k];
            fprintf(f, "%s{\"t_ms\":", k ? "," : "");
            tool_json_number(f, since_start_s(cl, e->t_ns) * 1e3, 3);
            fprintf(f, ",\"event\":\"%s\",\"reason\":", cl_paths_event_name(e->type));
            tool_json_string(f, tern_path_reason_str(e->reason));
            if (e->type == TERN_PATH_EV_VALIDATED) {
                fputs(",\"rtt_ms\":", f);
                tool_json_number(f, (double)e->rtt_ns / 1e6, 3);
            }
            fputc('}', f);
        }
        fputc(']', f);
        if (r->ev_dropped)
            fprintf(f, ",\"events_not_kept\":%zu", r->ev_dropped);
        fputc('}', f);
    }
    fputc(']', f);
    if (ps->dropped)
        fprintf(f, ",\"paths_not_kept\":%zu", ps->dropped);
    fputs(",\"active_path\":", f);
    if (active)
        json_path_ref(f, &active->info);
    else
        fputs("null", f);
    fputs(",\"migrations\":[", f);
    for (size_t i = 0; i < ps->nmig; i++) {
        const cl_migration *m = &ps->mig[i];
        fprintf(f, "%s{\"t_ms\":", i ? "," : "");
        tool_json_number(f, since_start_s(cl, m->t_ns) * 1e3, 3);
        fputs(",\"reason\":", f);
        tool_json_string(f, tern_path_reason_str(m->reason));
        fputs(",\"from\":", f);
        if (m->have_from)
            json_path_ref(f, &m->from);
        else
            fputs("null", f);
        fputs(",\"to\":", f);
        json_path_ref(f, &m->to);
        /* The rate the new path reached at once, and over the rest of its first second. */
        fputs(",\"rate_first_250ms_mbps\":", f);
        tool_json_number(f, mbps(m->bytes_early, CL_RATE_EARLY_NS), 3);
        fputs(",\"rate_250ms_to_1s_mbps\":", f);
        tool_json_number(f, mbps(m->bytes_later, CL_RATE_WINDOW_NS - CL_RATE_EARLY_NS), 3);
        if (m->cut_short)
            fputs(",\"window_cut_short\":true", f);
        fputc('}', f);
    }
    fputc(']', f);
    if (ps->mig_total > ps->nmig)
        fprintf(f, ",\"migrations_not_kept\":%zu", ps->mig_total - ps->nmig);
}

/* ---- network events ---- */

/* The IP of a network event's address (its port is always 0). */
static void ip_text(const tern_addr *a, char *buf, size_t cap)
{
    if (a->u.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &a->u.in.sin_addr, buf, (socklen_t)cap);
    else if (a->u.sa.sa_family == AF_INET6)
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, buf, (socklen_t)cap);
    else
        snprintf(buf, cap, "?");
}

static void fmt_net(const tern_net_event *ev, char *buf, size_t cap)
{
    char addr[INET6_ADDRSTRLEN] = "", ifc[48];

    if (ev->addr.len)
        ip_text(&ev->addr, addr, sizeof(addr));
    if (ev->ifname[0])
        snprintf(ifc, sizeof(ifc), "%s (%u)", ev->ifname, ev->ifindex);
    else
        snprintf(ifc, sizeof(ifc), "interface %u", ev->ifindex);
    if (ev->type == TERN_NET_DEFAULT_CHANGED && ev->ifindex == 0)
        snprintf(buf, cap, "%s: none", tern_net_event_str(ev->type));
    else
        snprintf(buf, cap, "%s: %s%s%s", tern_net_event_str(ev->type), addr, addr[0] ? " on " : "",
                 ifc);
}

void cl_paths_on_network_event(client *cl, const tern_net_event *ev)
{
    cl_paths *ps = &cl->paths;
    char text[160];

    if (!ev)
        return;
    if (ps->nnet < CL_MAX_NET_EVENTS)
        ps->net[ps->nnet++] = (cl_net_ev){.t_ns = tool_now_ns(), .ev = *ev};
    ps->net_total++;
    ps->table_dirty = 1;
    if (cl->quiet)
        return;
    fmt_net(ev, text, sizeof(text));
    cl_note(cl, "network %s", text);
}

void cl_paths_net_json(client *cl, FILE *f)
{
    cl_paths *ps = &cl->paths;
    char addr[INET6_ADDRSTRLEN];

    fprintf(f, ",\"failovers\":%zu,\"network_events\":[", ps->failovers);
    for (size_t i = 0; i < ps->nnet; i++) {
        const tern_net_event *e = &ps->net[i].ev;
        fprintf(f, "%s{\"t_ms\":", i ? "," : "");
        tool_json_number(f, since_start_s(cl, ps->net[i].t_ns) * 1e3, 3);
        fputs(",\"event\":", f);
        tool_json_string(f, tern_net_event_str(e->type));
        fprintf(f, ",\"ifindex\":%u,\"ifname\":", e->ifindex);
        tool_json_string(f, e->ifname);
        fputs(",\"addr\":", f);
        if (e->addr.len) {
            ip_text(&e->addr, addr, sizeof(addr));
            tool_json_string(f, addr);
        } else {
            fputs("null", f);
        }
        fputc('}', f);
    }
    fputc(']', f);
    if (ps->net_total > ps->nnet)
        fprintf(f, ",\"network_events_not_kept\":%zu", ps->net_total - ps->nnet);
}
