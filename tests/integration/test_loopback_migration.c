/* Client connection migration on the real runtime over loopback sockets: a socket per local address
 * (127.0.0.x, ports, ::1), probing, switching with and without a probe, removal down to the last
 * path, dead paths (a datapath hook drops what leaves from them), a NAT that changes the client's
 * address as the server sees it, a port-only change that keeps the congestion window, and the API's
 * refusals. Every case runs a download across the migration and checks its SHA-256, the path
 * events (types and reasons), tern_conn_paths, and what the server saw. */
#define _GNU_SOURCE /* sendmmsg */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/endpoint.h"
#include "io/udp.h"
#include "loopfx.h"
#include "tern/tern.h"

/* RFC 9002 §7.2: the initial window is min(10 * mds, max(14720, 2 * mds)); a path's window counts
 * as grown, well past what acknowledging a probe or two adds, from twice that. */
#define INITIAL_WINDOW_MAX 14720
#define GROWN_WINDOW (2 * INITIAL_WINDOW_MAX)
#define ANY (-1)

static tern_addr addr_of(const char *text)
{
    tern_addr a;
    assert_int_equal(tern_addr_parse(&a, text, 0), 0);
    return a;
}

static int ip_equal(const tern_addr *a, const tern_addr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

static int same_ip(const tern_addr *a, const char *ip)
{
    tern_addr b = addr_of(ip);
    return ip_equal(a, &b);
}

static char *fmt(const tern_addr *a, char *buf)
{
    return tern_addr_format(a, buf, 64);
}

/* Server, client, handshake, and a first small download so that the handshake is confirmed and
 * the server's spare connection IDs have arrived before any test migrates. */
static void start_pair(loopfx *f, tern_config *sc, tern_config *cc, const char *listen,
                       const tern_datapath_hooks *client_hooks)
{
    loopfx_start_server(f, sc, listen);
    loopfx_start_client(f, cc, client_hooks);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    loopfx_download(f, 1000, 5000);
    /* a plain handshake reports no path event */
    LOOPFX_CHECK_INT(f, f->cli.nev, 0);
    LOOPFX_CHECK_INT(f, f->srv.nev, 0);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
}

static void default_pair(loopfx *f)
{
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    start_pair(f, &sc, &cc, NULL, NULL);
}

static tern_addr client_local(loopfx *f)
{
    tern_path_addr p;
    tern_conn_get_path(f->cli.conn, &p);
    return p.local;
}

static tern_addr server_remote(loopfx *f)
{
    tern_path_addr p;
    tern_conn_get_path(f->srv.conn, &p);
    return p.remote;
}

static tern_path_info path_id(loopfx *f, tern_conn *c, int id)
{
    tern_path_info pi;
    if (!loopfx_path_by_id(c, id, &pi)) {
        loopfx_dump(f);
        fail_msg("no path %d", id);
    }
    return pi;
}

static uint64_t g_target;
static int cond_got_target(loopfx *f)
{
    return f->cli.got >= g_target || f->cli.fin || f->cli.closed;
}

/* Runs until the client has `bytes` of the download; the download must still be under way (the
 * next step of the test then happens in the middle of it). */
/* The bounds of these waits are wall-clock time on a machine that may be loaded (sanitizers, other
 * jobs): each waits for an event, and is generous, so that it fails only when the event does not
 * happen. */
static void progress(loopfx *f, uint64_t bytes)
{
    g_target = bytes;
    LOOPFX_CHECK(f, loopfx_drive(f, cond_got_target, 30000));
    LOOPFX_CHECK(f, !f->cli.closed);
    LOOPFX_CHECK(f, !f->cli.fin);
}

static void finish(loopfx *f, uint64_t bytes)
{
    LOOPFX_CHECK(f, loopfx_drive(f, loopfx_cond_done, 60000));
    if (!f->cli.fin || f->cli.got != bytes)
        loopfx_dump(f);
    loopfx_check_download(f, bytes);
}

/* One expected event: type, reason (ANY), path id and previous path id (ANY; NONE = no `from`). */
typedef struct want_ev {
    int type, reason, path, from;
} want_ev;
#define NONE (-2)

static void expect_events(loopfx *f, const loopfx_side *s, const want_ev *w, size_t n)
{
    static const char *const names[] = {"?",      "PROBING", "VALIDATED",           "FAILED",
                                        "ACTIVE", "REMOVED", "PEER_ADDRESS_CHANGED"};
    if (s->nev != n) {
        loopfx_dump(f);
        fail_msg("%s saw %zu path events, expected %zu", s->is_server ? "server" : "client", s->nev,
                 n);
    }
    for (size_t i = 0; i < n; i++) {
        const loopfx_event *e = &s->ev[i];
        int from = e->has_from ? e->from.id : NONE;
        if ((int)e->type != w[i].type || (w[i].reason != ANY && (int)e->reason != w[i].reason) ||
            (w[i].path != ANY && e->path.id != w[i].path) ||
            (w[i].from != ANY && from != w[i].from)) {
            loopfx_dump(f);
            fail_msg("%s event %zu: %s (%s) path %d from %d, expected %s (%s) path %d from %d",
                     s->is_server ? "server" : "client", i, names[e->type],
                     tern_path_reason_str(e->reason), e->path.id, from, names[w[i].type],
                     w[i].reason == ANY ? "any"
                                        : tern_path_reason_str((tern_path_reason)w[i].reason),
                     w[i].path, w[i].from);
        }
    }
}

/* The server's PEER_ADDRESS_CHANGED events: `n` of them, the last one from `from` to `to`. */
static void expect_server_followed(loopfx *f, int n, const tern_addr *from, const tern_addr *to)
{
    char a[64], b[64];
    LOOPFX_CHECK_INT(f, f->srv.ev_count[TERN_PATH_EV_PEER_ADDRESS_CHANGED], n);
    tern_addr now = server_remote(f);
    if (!tern_addr_equal(&now, to)) {
        loopfx_dump(f);
        fail_msg("server's path goes to %s, expected %s", fmt(&now, a), fmt(to, b));
    }
    if (n == 0)
        return;
    const loopfx_event *e = loopfx_last_event(&f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED);
    LOOPFX_CHECK(f, e != NULL && e->has_from);
    LOOPFX_CHECK_INT(f, e->reason, TERN_PATH_WHY_PEER_MIGRATED);
    LOOPFX_CHECK(f, tern_addr_equal(&e->path.addr.remote, to));
    LOOPFX_CHECK(f, tern_addr_equal(&e->from.addr.remote, from));
    LOOPFX_CHECK(f, tern_addr_equal(&e->path.addr.local, &f->addr));
}

/* Adds `ip`:0 and returns the new path's id; *bound receives the address the socket got. */
static int add_address(loopfx *f, const char *ip, tern_addr *bound, int activate)
{
    tern_addr a = addr_of(ip);
    int id = activate ? tern_conn_set_local_address(f->cli.conn, &a)
                      : tern_conn_add_local_address(f->cli.conn, &a);
    if (id < 0) {
        loopfx_dump(f);
        fail_msg("%s %s: %s (errno %d)", activate ? "set" : "add", ip, tern_strerror(id), errno);
    }
    tern_path_info pi = path_id(f, f->cli.conn, id);
    LOOPFX_CHECK(f, same_ip(&pi.addr.local, ip));
    LOOPFX_CHECK(f, loopfx_port(&pi.addr.local) != 0);
    LOOPFX_CHECK(f, tern_addr_equal(&pi.addr.remote, &f->addr));
    *bound = pi.addr.local;
    return id;
}

/* ---- probe, then switch ---------------------------------------------------------------------- */

static void test_probe_then_switch(void **st)
{
    loopfx *f = *st;
    default_pair(f);
    tern_addr orig = client_local(f);
    const uint64_t total = 24u << 20;
    loopfx_request(f, total);
    progress(f, 1u << 20);

    tern_addr wifi;
    int id = add_address(f, "127.0.0.2:0", &wifi, 0);
    LOOPFX_CHECK(f, id > 0);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
    LOOPFX_CHECK(f, !f->cli.fin);
    const loopfx_event *v = loopfx_last_event(&f->cli, TERN_PATH_EV_VALIDATED);
    LOOPFX_CHECK(f, v->rtt_ns > 0);
    LOOPFX_CHECK(f, v->rtt_ns < 1000 * LOOPFX_MS);
    LOOPFX_CHECK(f, tern_addr_equal(&v->path.addr.local, &wifi));
    LOOPFX_CHECK(f, v->path.validated && v->path.validated_ns > 0);

    /* probing did not switch either side */
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &orig));
    LOOPFX_CHECK_INT(f, f->cli.ev_count[TERN_PATH_EV_ACTIVE], 0);
    tern_path_info p0 = path_id(f, f->cli.conn, 0), p1 = path_id(f, f->cli.conn, id);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 2);
    LOOPFX_CHECK_INT(f, p0.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK_INT(f, p1.state, TERN_PATH_STATE_VALIDATED);
    LOOPFX_CHECK(f, p1.validated && p1.srtt_ns > 0);
    LOOPFX_CHECK(f, p1.pkts_sent > 0 && p1.pkts_recv > 0);
    expect_server_followed(f, 0, NULL, &orig);
    /* the server answered the probe on a path of its own, without moving to it */
    tern_path_info sp = {0};
    int found = 0;
    tern_path_info all[16];
    size_t n = 0;
    assert_int_equal(tern_conn_paths(f->srv.conn, all, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++)
        if (tern_addr_equal(&all[i].addr.remote, &wifi)) {
            sp = all[i];
            found = 1;
        }
    LOOPFX_CHECK(f, found);
    LOOPFX_CHECK(f, sp.state != TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK(f, sp.pkts_recv > 0 && sp.pkts_sent > 0);

    /* now switch to it */
    LOOPFX_CHECK_INT(f, tern_conn_set_local_address(f->cli.conn, &wifi), id);
    LOOPFX_CHECK_INT(f, f->cli.ev_count[TERN_PATH_EV_ACTIVE], 1);
    now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &wifi));
    const loopfx_event *a = loopfx_last_event(&f->cli, TERN_PATH_EV_ACTIVE);
    LOOPFX_CHECK(f, a->has_from && tern_addr_equal(&a->from.addr.local, &orig));
    LOOPFX_CHECK_INT(f, a->path.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 3000));
    LOOPFX_CHECK(f, !f->cli.fin);
    finish(f, total);

    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id, NONE},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_APP, id, 0},
    };
    expect_events(f, &f->cli, w, 3);
    expect_server_followed(f, 1, &orig, &wifi);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 2);
    p0 = path_id(f, f->cli.conn, 0);
    p1 = path_id(f, f->cli.conn, id);
    LOOPFX_CHECK_INT(f, p1.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK_INT(f, p0.state, TERN_PATH_STATE_VALIDATED);
    LOOPFX_CHECK(f, tern_addr_equal(&p0.addr.local, &orig));
    /* the bulk of the download came over the new path */
    LOOPFX_CHECK(f, p1.bytes_recv > total / 2);
}

/* ---- switch without a probe ------------------------------------------------------------------ */

static void test_switch_without_probe(void **st)
{
    loopfx *f = *st;
    default_pair(f);
    tern_addr orig = client_local(f);
    const uint64_t total = 24u << 20;
    loopfx_request(f, total);
    progress(f, 1u << 20);

    tern_addr cell;
    int id = add_address(f, "127.0.0.3:0", &cell, 1);
    LOOPFX_CHECK(f, id > 0);
    /* used at once, before any answer */
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &cell));
    tern_path_info p1 = path_id(f, f->cli.conn, id);
    LOOPFX_CHECK_INT(f, p1.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK_INT(f, p1.validated, 0);
    LOOPFX_CHECK_INT(f, path_id(f, f->cli.conn, 0).state, TERN_PATH_STATE_VALIDATED);
    LOOPFX_CHECK_INT(f, f->cli.ev_count[TERN_PATH_EV_VALIDATED], 0);

    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
    LOOPFX_CHECK(f, loopfx_last_event(&f->cli, TERN_PATH_EV_VALIDATED)->rtt_ns > 0);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 3000));
    LOOPFX_CHECK(f, !f->cli.fin);
    finish(f, total);

    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_APP, id, 0},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id, NONE},
    };
    expect_events(f, &f->cli, w, 3);
    expect_server_followed(f, 1, &orig, &cell);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 2);
    p1 = path_id(f, f->cli.conn, id);
    LOOPFX_CHECK_INT(f, p1.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK(f, p1.validated && p1.validated_ns >= p1.created_ns);
    LOOPFX_CHECK_INT(f, path_id(f, f->cli.conn, 0).state, TERN_PATH_STATE_VALIDATED);
    /* the server's path to the new address is validated too */
    tern_path_info all[16];
    size_t n = 0;
    assert_int_equal(tern_conn_paths(f->srv.conn, all, 16, &n), 0);
    int active = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        if (all[i].state == TERN_PATH_STATE_ACTIVE) {
            active++;
            LOOPFX_CHECK(f, tern_addr_equal(&all[i].addr.remote, &cell));
            LOOPFX_CHECK(f, all[i].validated);
        }
    LOOPFX_CHECK_INT(f, active, 1);
}

/* ---- the demo: probe, switch, switch unprobed, remove down to the last path ------------------ */

static void test_demo_sequence(void **st)
{
    loopfx *f = *st;
    default_pair(f);
    tern_addr orig = client_local(f);
    const uint64_t total = 40u << 20;
    loopfx_request(f, total);
    progress(f, 1u << 20);

    /* probe 127.0.0.2 */
    tern_addr a2, a3;
    int id2 = add_address(f, "127.0.0.2:0", &a2, 0);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
    progress(f, f->cli.got + (1u << 20));

    /* switch to it */
    LOOPFX_CHECK_INT(f, tern_conn_set_local_address(f->cli.conn, &a2), id2);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 3000));
    expect_server_followed(f, 1, &orig, &a2);
    progress(f, f->cli.got + (1u << 20));

    /* switch to 127.0.0.3 without probing it first */
    int id3 = add_address(f, "127.0.0.3:0", &a3, 1);
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &a3));
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 2, 3000));
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 2, 3000));
    expect_server_followed(f, 2, &a2, &a3);
    progress(f, f->cli.got + (1u << 20));
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 3);

    /* drop 127.0.0.2, then the original address */
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(f->cli.conn, &a2), 0);
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(f->cli.conn, &a2), TERN_ERR_NOT_FOUND);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 2);
    progress(f, f->cli.got + (1u << 20));
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(f->cli.conn, &orig), 0);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
    progress(f, f->cli.got + (1u << 20));

    /* the last path stays: refused, and nothing changes */
    size_t nev = f->cli.nev;
    tern_path_info before = path_id(f, f->cli.conn, id3);
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(f->cli.conn, &a3), TERN_ERR_LAST_PATH);
    LOOPFX_CHECK_INT(f, f->cli.nev, nev);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
    tern_path_info after = path_id(f, f->cli.conn, id3);
    LOOPFX_CHECK_INT(f, after.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK(f, after.validated && before.validated);
    LOOPFX_CHECK(f, tern_addr_equal(&after.addr.local, &a3));
    now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &a3));
    LOOPFX_CHECK(f, tern_conn_is_established(f->cli.conn));

    finish(f, total);
    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id2, NONE},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id2, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_APP, id2, 0},
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id3, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_APP, id3, id2},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id3, NONE},
        {TERN_PATH_EV_REMOVED, TERN_PATH_WHY_APP, id2, NONE},
        {TERN_PATH_EV_REMOVED, TERN_PATH_WHY_APP, 0, NONE},
    };
    expect_events(f, &f->cli, w, sizeof(w) / sizeof(w[0]));
    expect_server_followed(f, 2, &a2, &a3);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
    /* the removed addresses' sockets are closed: their ports can be bound again */
    const tern_addr *gone[2] = {&a2, &orig};
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        assert_true(fd >= 0);
        int rv = bind(fd, &gone[i]->u.sa, sizeof(struct sockaddr_in));
        int e = errno;
        close(fd);
        if (rv != 0) {
            char b[64];
            loopfx_dump(f);
            fail_msg("the socket of removed %s is still bound (errno %d)", fmt(gone[i], b), e);
        }
    }
}

/* ---- dead paths ------------------------------------------------------------------------------ */

typedef struct dead_hk {
    tern_addr ips[2]; /* sends from these addresses (any port) are lost */
    uint64_t dropped, passed;
} dead_hk;

static tern_hook_verdict dead_send(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                   uint64_t *delay_ns)
{
    dead_hk *h = ud;
    for (int i = 0; i < 2; i++)
        if (ip_equal(&path->local, &h->ips[i])) {
            h->dropped++;
            return TERN_HOOK_DROP;
        }
    h->passed++;
    return TERN_HOOK_PASS;
}

static void test_dead_paths(void **st)
{
    loopfx *f = *st;
    dead_hk h = {.ips = {addr_of("127.0.0.4"), addr_of("127.0.0.5")}};
    tern_datapath_hooks hooks = {.on_send = dead_send, .ud = &h};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    start_pair(f, &sc, &cc, NULL, &hooks);
    tern_addr orig = client_local(f);
    const uint64_t total = 48u << 20;
    loopfx_request(f, total);
    progress(f, 1u << 20);

    /* a probe into a dead interface, and a switch to another dead one */
    tern_addr a4, a5;
    uint64_t t0 = loopfx_now_ms();
    int id4 = add_address(f, "127.0.0.4:0", &a4, 0);
    int id5 = add_address(f, "127.0.0.5:0", &a5, 1);
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &a5));
    /* each takes three PTOs of its own path (about 3 s here), more when the machine is slow */
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_REMOVED, 2, 30000));
    uint64_t took = loopfx_now_ms() - t0;
    LOOPFX_CHECK(f, !f->cli.fin); /* the download waited for the way back */
    print_message("    both dead paths given up after %llu ms\n", (unsigned long long)took);

    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id4, NONE},
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id5, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_APP, id5, 0},
        {TERN_PATH_EV_FAILED, TERN_PATH_WHY_TIMEOUT, id4, NONE},
        {TERN_PATH_EV_REMOVED, ANY, id4, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_VALIDATION_FAILED, 0, id5},
        {TERN_PATH_EV_FAILED, TERN_PATH_WHY_TIMEOUT, id5, NONE},
        {TERN_PATH_EV_REMOVED, ANY, id5, NONE},
    };
    expect_events(f, &f->cli, w, sizeof(w) / sizeof(w[0]));
    /* back where it was, with nothing left of the dead paths */
    now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &orig));
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
    tern_path_info p0 = path_id(f, f->cli.conn, 0);
    LOOPFX_CHECK_INT(f, p0.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK(f, p0.validated);
    LOOPFX_CHECK(f, !f->cli.closed);

    finish(f, total);
    /* nothing from the dead addresses reached the server */
    expect_server_followed(f, 0, NULL, &orig);
    tern_path_info all[16];
    size_t n = 0;
    assert_int_equal(tern_conn_paths(f->srv.conn, all, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++)
        LOOPFX_CHECK(f, tern_addr_equal(&all[i].addr.remote, &orig));
    LOOPFX_CHECK(f, h.dropped > 2); /* challenges, retransmitted, and data on .5 */
    tern_endpoint_stats ec;
    tern_endpoint_get_stats(f->cli.ep, &ec);
    LOOPFX_CHECK_INT(f, ec.hook_dropped, h.dropped);

    /* a path that failed is gone, socket included: its address can be added again */
    for (int i = 0; i < 2; i++) {
        const tern_addr *a = i == 0 ? &a4 : &a5;
        errno = 0;
        int id = tern_conn_add_local_address(f->cli.conn, a);
        if (id < 0) {
            char b[64];
            int e = errno;
            loopfx_dump(f);
            fail_msg("adding %s again after its path failed: %s (errno %d: %s)", fmt(a, b),
                     tern_strerror(id), e, strerror(e));
        }
        LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(f->cli.conn, a), 0);
    }
}

/* ---- the interface of the active path goes away ------------------------------------------------
 */

/* Sends from the socket bound to `dead` fail with `err`, as the kernel's do once the interface is
 * down (ENETDOWN) or the address was deleted (EADDRNOTAVAIL). */
static tern_addr g_dead_local;
static int g_dead_errno;
static uint64_t g_dead_sends;

static int dying_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
    tern_addr a;
    memset(&a, 0, sizeof(a));
    socklen_t len = sizeof(a.u);
    if (getsockname(fd, &a.u.sa, &len) == 0) {
        a.len = len;
        if (tern_addr_equal(&a, &g_dead_local)) {
            g_dead_sends++;
            errno = g_dead_errno;
            return -1;
        }
    }
    return sendmmsg(fd, msgs, n, flags);
}

/* The client downloads with a validated second address; the kernel starts refusing sends from
 * the active one with ENETDOWN. The runtime fails that path with TERN_PATH_WHY_INTERFACE_GONE and
 * the connection fails over at once (TERN_PATH_WHY_FAILOVER) to the other, which carries an
 * ack-eliciting packet though the client only receives: the download completes. */
static void test_interface_gone_fails_over(void **st)
{
    loopfx *f = *st;
    default_pair(f);
    tern_addr orig = client_local(f);
    const uint64_t total = 24u << 20;
    loopfx_request(f, total);
    tern_addr cell;
    int id = add_address(f, "127.0.0.2:0", &cell, 0);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
    progress(f, 2u << 20);

    g_dead_local = orig;
    g_dead_errno = ENETDOWN;
    g_dead_sends = 0;
    tern_udp_set_sendmmsg(dying_sendmmsg);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_REMOVED, 1, 3000));
    tern_udp_set_sendmmsg(NULL);
    LOOPFX_CHECK(f, g_dead_sends >= 1);
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &cell));
    LOOPFX_CHECK(f, !f->cli.fin);
    finish(f, total);

    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id, NONE},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id, NONE},
        {TERN_PATH_EV_ACTIVE, TERN_PATH_WHY_FAILOVER, id, 0},
        {TERN_PATH_EV_FAILED, TERN_PATH_WHY_INTERFACE_GONE, 0, NONE},
        {TERN_PATH_EV_REMOVED, TERN_PATH_WHY_INTERFACE_GONE, 0, NONE},
    };
    expect_events(f, &f->cli, w, sizeof(w) / sizeof(w[0]));
    expect_server_followed(f, 1, &orig, &cell);
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
}

/* ---- the server sees the client's address change --------------------------------------------- */

/* A NAT in front of the server's socket: datagrams from `real` arrive as from `fake`, and what the
 * server sends to `fake` goes to `real`. */
typedef struct nat_hk {
    int on;
    tern_addr real, fake;
    uint64_t in, out;
} nat_hk;

static tern_hook_verdict nat_send(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                  uint64_t *delay_ns)
{
    nat_hk *h = ud;
    if (tern_addr_equal(&path->remote, &h->fake)) {
        path->remote = h->real;
        h->out++;
    }
    return TERN_HOOK_PASS;
}

static tern_hook_verdict nat_recv(void *ud, tern_path_addr *path, uint8_t *data, size_t len,
                                  uint64_t *delay_ns)
{
    nat_hk *h = ud;
    if (h->on && tern_addr_equal(&path->remote, &h->real)) {
        path->remote = h->fake;
        h->in++;
    }
    return TERN_HOOK_PASS;
}

static void test_nat_address_change(void **st)
{
    loopfx *f = *st;
    default_pair(f);
    tern_addr orig = client_local(f);
    nat_hk h = {.real = orig, .fake = orig};
    assert_int_equal(inet_pton(AF_INET, "127.0.0.9", &h.fake.u.in.sin_addr), 1);
    tern_datapath_hooks hooks = {.on_send = nat_send, .on_recv = nat_recv, .ud = &h};
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->srv.ep, &hooks), 0);
    const uint64_t total = 24u << 20;
    loopfx_request(f, total);
    progress(f, 2u << 20);

    h.on = 1; /* the client's public address changes */
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 3000));
    LOOPFX_CHECK(f, !f->cli.fin);
    finish(f, total);

    expect_server_followed(f, 1, &orig, &h.fake);
    LOOPFX_CHECK(f, h.in > 0 && h.out > 0);
    /* more than the port changed: the new path starts from the initial window (RFC 9000 §9.4) */
    const loopfx_event *e = loopfx_last_event(&f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED);
    LOOPFX_CHECK(f, e->from.cwnd > GROWN_WINDOW);
    LOOPFX_CHECK(f, e->path.cwnd <= INITIAL_WINDOW_MAX);
    /* the server validated the new address */
    tern_path_info all[16];
    size_t n = 0;
    int active = 0;
    assert_int_equal(tern_conn_paths(f->srv.conn, all, 16, &n), 0);
    for (size_t i = 0; i < n && i < 16; i++)
        if (all[i].state == TERN_PATH_STATE_ACTIVE) {
            active++;
            LOOPFX_CHECK(f, tern_addr_equal(&all[i].addr.remote, &h.fake));
            LOOPFX_CHECK(f, all[i].validated);
        }
    LOOPFX_CHECK_INT(f, active, 1);
    LOOPFX_CHECK(f, f->srv.ev_count[TERN_PATH_EV_VALIDATED] >= 1);
    LOOPFX_CHECK_INT(f, f->srv.ev_count[TERN_PATH_EV_FAILED], 0);
    /* the client never knew */
    expect_events(f, &f->cli, NULL, 0);
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &orig));
    LOOPFX_CHECK_INT(f, loopfx_path_count(f->cli.conn), 1);
}

/* The client's datagrams really leave from another of its sockets (an address added for migration)
 * while the client's connection still believes it sends from the first: the server sees a real
 * address change on the wire, and its replies to the new address reach the client's other socket,
 * whose receive hook maps them back. */
typedef struct swap_hk {
    int on;
    tern_addr from, to;
    uint64_t out, in;
} swap_hk;

static tern_hook_verdict swap_send(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                   uint64_t *delay_ns)
{
    swap_hk *h = ud;
    if (h->on && tern_addr_equal(&path->local, &h->from)) {
        path->local = h->to;
        h->out++;
    }
    return TERN_HOOK_PASS;
}

static tern_hook_verdict swap_recv(void *ud, tern_path_addr *path, uint8_t *data, size_t len,
                                   uint64_t *delay_ns)
{
    swap_hk *h = ud;
    if (h->on && tern_addr_equal(&path->local, &h->to)) {
        path->local = h->from;
        h->in++;
    }
    return TERN_HOOK_PASS;
}

static void test_source_rewritten_to_added_socket(void **st)
{
    loopfx *f = *st;
    /* No failover: the hook hides the standby's own answers (they arrive as the active path's), so
     * a PTO on a loaded machine would make the client probe the standby, give it up and close the
     * socket the server now sends to. The case is about what the server sees. */
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.failover = 0;
    start_pair(f, &sc, &cc, NULL, NULL);
    tern_addr orig = client_local(f), a2;
    int id2 = add_address(f, "127.0.0.2:0", &a2, 0);
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
    swap_hk h = {.from = orig, .to = a2};
    tern_datapath_hooks hooks = {.on_send = swap_send, .on_recv = swap_recv, .ud = &h};
    assert_int_equal(tern_endpoint_set_datapath_hooks(f->cli.ep, &hooks), 0);
    const uint64_t total = 16u << 20;
    loopfx_request(f, total);
    progress(f, 1u << 20);

    h.on = 1;
    tern_endpoint_stats ec;
    if (!loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 2000)) {
        char b[64];
        tern_endpoint_get_stats(f->cli.ep, &ec);
        loopfx_dump(f);
        fail_msg("the server never saw the client at %s: %llu datagrams rewritten to it, %llu "
                 "dropped by the client endpoint (hook_dropped), %llu received there",
                 fmt(&a2, b), (unsigned long long)h.out, (unsigned long long)ec.hook_dropped,
                 (unsigned long long)h.in);
    }
    finish(f, total);
    tern_endpoint_get_stats(f->cli.ep, &ec);
    /* the endpoint has a socket on a2, so no rewritten datagram may be lost */
    LOOPFX_CHECK_INT(f, ec.hook_dropped, 0);
    LOOPFX_CHECK(f, h.out > 0 && h.in > 0);
    expect_server_followed(f, 1, &orig, &a2);
    /* the client's connection never moved */
    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id2, NONE},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id2, NONE},
    };
    expect_events(f, &f->cli, w, 2);
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &orig));
}

/* ---- IPv6, a port-only change keeps the congestion state ------------------------------------- */

static int have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static uint64_t g_cwnd_target;
static int cond_cwnd_grown(loopfx *f)
{
    tern_path_info all[16];
    size_t n = 0;
    if (f->cli.closed || tern_conn_paths(f->cli.conn, all, 16, &n))
        return 1;
    for (size_t i = 0; i < n && i < 16; i++)
        if (all[i].state == TERN_PATH_STATE_ACTIVE)
            return all[i].cwnd >= g_cwnd_target || f->srv.up_fin;
    return 1;
}

/* The client uploads (so that its own window grows) and then downloads; mid-upload it moves to a
 * new port of [::1], probed first or not. */
static void port_change_v6(loopfx *f, int probe_first)
{
    if (!have_ipv6_loopback()) {
        print_message("    ::1 is not available on this host: skipped\n");
        skip();
    }
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    start_pair(f, &sc, &cc, "[::1]:0", NULL);
    tern_addr orig = client_local(f);
    LOOPFX_CHECK_INT(f, orig.u.sa.sa_family, AF_INET6);
    LOOPFX_CHECK(f, same_ip(&orig, "::1"));
    const uint64_t up = 64u << 20, down = 4u << 20;
    loopfx_request_upload(f, down, up);
    g_cwnd_target = 2 * GROWN_WINDOW;
    LOOPFX_CHECK(f, loopfx_drive(f, cond_cwnd_grown, 10000));
    LOOPFX_CHECK(f, !f->srv.up_fin);

    tern_addr np;
    int id;
    if (probe_first) {
        id = add_address(f, "[::1]:0", &np, 0);
        LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
        LOOPFX_CHECK_INT(f, tern_conn_set_local_address(f->cli.conn, &np), id);
    } else {
        id = add_address(f, "[::1]:0", &np, 1);
    }
    LOOPFX_CHECK(f, !f->srv.up_fin);
    const loopfx_event *a = loopfx_last_event(&f->cli, TERN_PATH_EV_ACTIVE);
    LOOPFX_CHECK(f, a != NULL && a->has_from);
    LOOPFX_CHECK_INT(f, a->path.id, id);
    LOOPFX_CHECK_INT(f, a->from.id, 0);
    print_message("    cwnd at the switch: old path %llu, new path %llu\n",
                  (unsigned long long)a->from.cwnd, (unsigned long long)a->path.cwnd);
    LOOPFX_CHECK(f, a->from.cwnd > GROWN_WINDOW);
    /* only the port changed: same network, the window is kept (RFC 9000 §9.4) */
    LOOPFX_CHECK_INT(f, a->path.cwnd, a->from.cwnd);
    LOOPFX_CHECK(f, a->path.srtt_ns > 0);

    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->srv, TERN_PATH_EV_PEER_ADDRESS_CHANGED, 1, 3000));
    finish(f, down);
    loopfx_check_upload(f, up);
    expect_server_followed(f, 1, &orig, &np);
    tern_path_info p = path_id(f, f->cli.conn, id);
    LOOPFX_CHECK_INT(f, p.state, TERN_PATH_STATE_ACTIVE);
    LOOPFX_CHECK(f, p.validated);
    LOOPFX_CHECK(f, p.cwnd > GROWN_WINDOW);
    LOOPFX_CHECK_INT(f, f->cli.ev_count[TERN_PATH_EV_ACTIVE], 1);
    LOOPFX_CHECK_INT(f, f->cli.ev_count[TERN_PATH_EV_FAILED], 0);
}

static void test_ipv6_port_change_probed(void **st)
{
    port_change_v6(*st, 1);
}

static void test_ipv6_port_change_unprobed(void **st)
{
    port_change_v6(*st, 0);
}

/* ---- refusals on real sockets ---------------------------------------------------------------- */

static void test_api_errors(void **st)
{
    loopfx *f = *st;
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.max_paths = 3;
    start_pair(f, &sc, &cc, NULL, NULL);
    tern_conn *c = f->cli.conn;
    tern_addr orig = client_local(f), a2;
    int id2 = add_address(f, "127.0.0.2:0", &a2, 0);
    size_t nev = f->cli.nev;

    /* the same address twice, the connection's own address included */
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &a2), TERN_ERR_DUPLICATE);
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &orig), TERN_ERR_DUPLICATE);
    /* IPv6 on an IPv4 connection, either verb */
    tern_addr v6 = addr_of("[::1]:0");
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &v6), TERN_ERR_AF_MISMATCH);
    LOOPFX_CHECK_INT(f, tern_conn_set_local_address(c, &v6), TERN_ERR_AF_MISMATCH);
    /* an address this host does not have (TEST-NET-1) */
    tern_addr absent = addr_of("192.0.2.1:0");
    errno = 0;
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &absent), TERN_ERR_BIND);
    LOOPFX_CHECK_INT(f, errno, EADDRNOTAVAIL);
    errno = 0;
    LOOPFX_CHECK_INT(f, tern_conn_set_local_address(c, &absent), TERN_ERR_BIND);
    LOOPFX_CHECK_INT(f, errno, EADDRNOTAVAIL);
    /* a port another socket holds */
    errno = 0;
    tern_addr taken = f->addr;
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &taken), TERN_ERR_BIND);
    LOOPFX_CHECK_INT(f, errno, EADDRINUSE);
    /* unknown addresses, bad arguments */
    tern_addr unknown = addr_of("127.0.0.7:9");
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(c, &unknown), TERN_ERR_NOT_FOUND);
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(NULL, &a2), TERN_ERR_INVALID_ARG);
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, NULL), TERN_ERR_INVALID_ARG);
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(c, NULL), TERN_ERR_INVALID_ARG);
    /* the path limit (max_paths 3) */
    tern_addr a3;
    add_address(f, "127.0.0.3:0", &a3, 0);
    tern_addr a4 = addr_of("127.0.0.4:0");
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &a4), TERN_ERR_PATH_LIMIT);
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(c, &a3), 0);
    /* only a client moves */
    tern_conn *s = f->srv.conn;
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(s, &a4), TERN_ERR_NOT_CLIENT);
    LOOPFX_CHECK_INT(f, tern_conn_set_local_address(s, &a4), TERN_ERR_NOT_CLIENT);
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(s, &f->addr), TERN_ERR_NOT_CLIENT);

    /* none of that changed anything: a download still works, on the original path */
    LOOPFX_CHECK(f, loopfx_drive_events(f, &f->cli, TERN_PATH_EV_VALIDATED, 1, 3000));
    loopfx_request(f, 4u << 20);
    finish(f, 4u << 20);
    want_ev w[] = {
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, id2, NONE},
        {TERN_PATH_EV_PROBING, TERN_PATH_WHY_NONE, ANY, NONE},
        {TERN_PATH_EV_REMOVED, TERN_PATH_WHY_APP, ANY, NONE},
        {TERN_PATH_EV_VALIDATED, TERN_PATH_WHY_NONE, id2, NONE},
    };
    LOOPFX_CHECK_INT(f, nev, 1);
    expect_events(f, &f->cli, w, 4);
    tern_addr now = client_local(f);
    LOOPFX_CHECK(f, tern_addr_equal(&now, &orig));
    LOOPFX_CHECK_INT(f, loopfx_path_count(c), 2);
    expect_server_followed(f, 0, NULL, &orig);

    /* after close */
    LOOPFX_CHECK_INT(f, tern_conn_close(c, 0, "bye"), 0);
    tern_addr a5 = addr_of("127.0.0.5:0");
    LOOPFX_CHECK_INT(f, tern_conn_add_local_address(c, &a5), TERN_ERR_CLOSED);
    LOOPFX_CHECK_INT(f, tern_conn_set_local_address(c, &a5), TERN_ERR_CLOSED);
    LOOPFX_CHECK_INT(f, tern_conn_remove_local_address(c, &a2), TERN_ERR_CLOSED);
    LOOPFX_CHECK(f, loopfx_drive(f, loopfx_cond_client_closed, 5000));
    LOOPFX_CHECK_INT(f, f->cli.close.status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_probe_then_switch, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_switch_without_probe, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_demo_sequence, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_dead_paths, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_interface_gone_fails_over, loopfx_setup,
                                        loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_nat_address_change, loopfx_setup, loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_source_rewritten_to_added_socket, loopfx_setup,
                                        loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_port_change_probed, loopfx_setup,
                                        loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_port_change_unprobed, loopfx_setup,
                                        loopfx_teardown),
        cmocka_unit_test_setup_teardown(test_api_errors, loopfx_setup, loopfx_teardown),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
