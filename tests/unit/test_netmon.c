/* The rtnetlink monitor (src/io/netmon.c) on real netlink messages.
 *
 * - Parsing: buffers the kernel sent (netmon_capture.h, recorded by this program's --capture
 *   mode in a fresh network namespace) fed to tern_netmon_input, with the exact events expected;
 *   malformed variants of them (truncated, lying lengths) are refused and counted.
 * - Live (root): in a fresh network namespace per test, a real endpoint with
 *   cfg.network_monitor set, while the test adds and deletes addresses, sets veth links down and
 *   up and changes the default route; the exact sequence on_network_event saw is asserted. An
 *   overrun (a tiny receive buffer and a burst of changes) must end in exactly the events of the
 *   difference.
 * - tern_endpoint_network_event: argument checks, and that a valid event reaches the callback.
 *
 * Without root (or without the `ip` command) the live tests are skipped, saying why. */
#define _GNU_SOURCE /* unshare */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/endpoint.h"
#include "io/loop.h"
#include "io/netmon.h"
#include "netmon_capture.h"
#include "tern/tern.h"

/* ---- recording ----------------------------------------------------------------------------- */

#define REC_MAX 512

typedef struct rec {
    tern_net_event ev[REC_MAX];
    size_t n;
    /* checks run inside the callback for the address of interest (see test_live_dad) */
    const char *watch_addr;
    int watch_tentative; /* the kernel still called the address tentative when it was reported */
} rec;

static void fmt_event(const tern_net_event *ev, char *buf, size_t cap)
{
    char a[64] = "-";
    if (ev->addr.len)
        tern_addr_format(&ev->addr, a, sizeof(a));
    else if (ev->addr.u.sa.sa_family)
        snprintf(a, sizeof(a), "(no source, %s)", ev->addr.u.sa.sa_family == AF_INET ? "v4" : "v6");
    snprintf(buf, cap, "%s if=%u(%s) %s", tern_net_event_str(ev->type), ev->ifindex, ev->ifname, a);
}

static void dump_rec(const rec *r)
{
    for (size_t i = 0; i < r->n && i < REC_MAX; i++) {
        char line[160];
        fmt_event(&r->ev[i], line, sizeof(line));
        print_message("  event %zu: %s\n", i, line);
    }
}

static int ip_is(const tern_addr *a, const char *ip)
{
    tern_addr b;
    if (tern_addr_parse(&b, ip, 0))
        return 0;
    if (a->u.sa.sa_family != b.u.sa.sa_family || a->len != b.len)
        return 0;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == b.u.in.sin_addr.s_addr && a->u.in.sin_port == 0;
    return memcmp(&a->u.in6.sin6_addr, &b.u.in6.sin6_addr, 16) == 0 && a->u.in6.sin6_port == 0;
}

/* Event i is `type` on `ifindex` with address `ip` (NULL: none; "v4"/"v6": no address, that
 * family). */
static int ev_is(const tern_net_event *ev, tern_net_event_type type, unsigned ifindex,
                 const char *ip)
{
    if (ev->type != type || ev->ifindex != ifindex)
        return 0;
    if (!ip)
        return ev->addr.len == 0;
    if (!strcmp(ip, "v4") || !strcmp(ip, "v6"))
        return ev->addr.len == 0 &&
               ev->addr.u.sa.sa_family == (!strcmp(ip, "v4") ? AF_INET : AF_INET6);
    return ip_is(&ev->addr, ip);
}

typedef struct want {
    tern_net_event_type type;
    unsigned ifindex;
    const char *ip;
} want;

/* Events [from, from + n) are exactly `w`, in any order when `any_order` (link events of the two
 * ends of a veth pair come in an order the kernel chooses), and, when `last`, no more followed. */
static void expect_window(const rec *r, size_t from, const want *w, size_t n, int any_order,
                          int last)
{
    int ok = last ? r->n == from + n : r->n >= from + n;
    int used[16] = {0};
    assert_true(n <= 16);
    for (size_t i = 0; ok && i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < n && !found; j++) {
            size_t k = any_order ? j : i;
            if (any_order ? used[j] : j != i)
                continue;
            if (ev_is(&r->ev[from + i], w[k].type, w[k].ifindex, w[k].ip)) {
                used[k] = 1;
                found = 1;
            }
        }
        ok = found;
    }
    if (!ok) {
        print_message("expected from event %zu:\n", from);
        for (size_t i = 0; i < n; i++)
            print_message("  %s if=%u %s\n", tern_net_event_str(w[i].type), w[i].ifindex,
                          w[i].ip ? w[i].ip : "-");
        print_message("seen:\n");
        dump_rec(r);
    }
    assert_true(ok);
}

static void expect_events(const rec *r, size_t from, const want *w, size_t n, int any_order)
{
    expect_window(r, from, w, n, any_order, 1);
}

static void rec_emit(void *ud, const tern_net_event *ev)
{
    rec *r = ud;
    if (r->n < REC_MAX)
        r->ev[r->n] = *ev;
    r->n++;
}

/* ---- parsing captured kernel messages -------------------------------------------------------- */

/* A monitor with no socket, as if its port were the capturing socket's. */
static void cap_init(tern_netmon *nm, rec *r)
{
    memset(r, 0, sizeof(*r));
    tern_netmon_init(nm, rec_emit, r);
    nm->portid = CAP_PORTID;
}

static void feed(tern_netmon *nm, const uint8_t *buf, size_t len)
{
    /* the kernel's buffers are 4-byte aligned, and so must ours be */
    static _Alignas(8) uint8_t tmp[32768];
    assert_true(len <= sizeof(tmp));
    memcpy(tmp, buf, len);
    assert_int_equal(tern_netmon_input(nm, tmp, len), 0);
}

/* The initial dumps, in the order the monitor asks for them. */
static void feed_dumps(tern_netmon *nm)
{
    tern_netmon_begin_dump(nm, TERN_NETMON_DUMP_LINK, CAP_SEQ_LINK);
    feed(nm, cap_dump_link, sizeof(cap_dump_link));
    tern_netmon_begin_dump(nm, TERN_NETMON_DUMP_ADDR, CAP_SEQ_ADDR);
    feed(nm, cap_dump_addr, sizeof(cap_dump_addr));
    tern_netmon_begin_dump(nm, TERN_NETMON_DUMP_ROUTE, CAP_SEQ_ROUTE);
    feed(nm, cap_dump_route, sizeof(cap_dump_route));
    assert_int_equal(nm->dumping, 0);
    assert_true(nm->seen == TERN_NETMON_DUMP_ALL);
}

/* A monitor that has read the captured initial state; returns the number of events so far. */
static size_t cap_start(tern_netmon *nm, rec *r)
{
    cap_init(nm, r);
    feed_dumps(nm);
    return r->n;
}

static void test_parse_dumps(void **st)
{
    tern_netmon nm;
    rec r;
    cap_init(&nm, &r);
    feed_dumps(&nm);
    /* lo is not reported; fe80:: addresses and 127.0.0.1 are not; the default route is */
    want w[] = {
        {TERN_NET_LINK_UP, CAP_IF_T1, NULL},
        {TERN_NET_LINK_UP, CAP_IF_T0, NULL},
        {TERN_NET_ADDR_ADDED, CAP_IF_T0, "10.77.0.1"},
        {TERN_NET_ADDR_ADDED, CAP_IF_T1, "10.78.0.1"},
        {TERN_NET_ADDR_ADDED, CAP_IF_T0, "fd77::1"},
        {TERN_NET_DEFAULT_CHANGED, CAP_IF_T0, "10.77.0.1"},
        {TERN_NET_DEFAULT_CHANGED, CAP_IF_T0, "fd77::1"},
    };
    expect_events(&r, 0, w, sizeof(w) / sizeof(w[0]), 1);
    for (size_t i = 0; i < r.n; i++)
        assert_string_equal(r.ev[i].ifname, r.ev[i].ifindex == CAP_IF_T0 ? "t0" : "t1");
    assert_int_equal(nm.st.malformed, 0);

    /* a newcomer is told the same state */
    static rec again;
    memset(&again, 0, sizeof(again));
    tern_netmon_replay(&nm, rec_emit, &again);
    expect_events(&again, 0, w, sizeof(w) / sizeof(w[0]), 1);
    for (size_t i = 0; i < again.n; i++)
        assert_string_equal(again.ev[i].ifname, again.ev[i].ifindex == CAP_IF_T0 ? "t0" : "t1");

    /* the same dumps again: nothing changed, nothing is reported */
    size_t n = r.n;
    feed_dumps(&nm);
    assert_int_equal(r.n, n);
}

/* One change as the monitor lives it: the notifications, then, when they made it ask for one, the
 * route dump taken right after them. */
static void feed_step(tern_netmon *nm, const uint8_t *notif, size_t len, const uint8_t *routes,
                      size_t rlen, uint32_t seq)
{
    feed(nm, notif, len);
    if (nm->pending & TERN_NETMON_DUMP_ROUTE) {
        tern_netmon_begin_dump(nm, TERN_NETMON_DUMP_ROUTE, seq);
        feed(nm, routes, rlen);
    }
    assert_int_equal(nm->pending, 0);
}
#define FEED_STEP(nm, name)                                                                        \
    feed_step(nm, cap_##name, sizeof(cap_##name), cap_##name##_routes,                             \
              sizeof(cap_##name##_routes), CAP_SEQ_##name)

static void test_parse_changes(void **st)
{
    tern_netmon nm;
    rec r;
    size_t n = cap_start(&nm, &r);

    /* a new IPv4 address (with the kernel's local and prefix routes around it) */
    FEED_STEP(&nm, addr_add);
    want add[] = {{TERN_NET_ADDR_ADDED, CAP_IF_T0, "10.77.0.9"}};
    expect_events(&r, n, add, 1, 0);
    /* its change of lifetime is not a new address */
    FEED_STEP(&nm, addr_change);
    expect_events(&r, n, add, 1, 0);
    FEED_STEP(&nm, addr_del);
    want del[] = {{TERN_NET_ADDR_ADDED, CAP_IF_T0, "10.77.0.9"},
                  {TERN_NET_ADDR_REMOVED, CAP_IF_T0, "10.77.0.9"}};
    expect_events(&r, n, del, 2, 0);
    n = r.n;

    /* IPv6 with duplicate address detection: tentative first (nothing), then usable */
    FEED_STEP(&nm, addr6_tentative);
    assert_int_equal(r.n, n);
    FEED_STEP(&nm, addr6_ready);
    want ready[] = {{TERN_NET_ADDR_ADDED, CAP_IF_T0, "fd77::3"}};
    expect_events(&r, n, ready, 1, 0);
    n = r.n;

    /* the default moves to t1 (a route of lower metric) */
    FEED_STEP(&nm, route_add);
    want moved[] = {{TERN_NET_DEFAULT_CHANGED, CAP_IF_T1, "10.78.0.1"}};
    expect_events(&r, n, moved, 1, 0);
    n = r.n;

    /* t1 set down: both ends of the pair lose their link; the kernel drops t1's IPv4 route without
     * a word, which the route re-read (asked for by the link change) shows; t0's routes are kept
     * but marked link-down */
    feed(&nm, cap_link_down, sizeof(cap_link_down));
    want down[] = {{TERN_NET_LINK_DOWN, CAP_IF_T1, NULL}, {TERN_NET_LINK_DOWN, CAP_IF_T0, NULL}};
    expect_events(&r, n, down, 2, 1);
    assert_true(nm.pending & TERN_NETMON_DUMP_ROUTE); /* judged after the re-read only */
    tern_netmon_begin_dump(&nm, TERN_NETMON_DUMP_ROUTE, CAP_SEQ_link_down);
    feed(&nm, cap_link_down_routes, sizeof(cap_link_down_routes));
    want nodef[] = {{TERN_NET_LINK_DOWN, CAP_IF_T1, NULL},
                    {TERN_NET_LINK_DOWN, CAP_IF_T0, NULL},
                    {TERN_NET_DEFAULT_CHANGED, 0, "v4"},
                    {TERN_NET_DEFAULT_CHANGED, 0, "v6"}};
    expect_events(&r, n, nodef, 4, 1);
    assert_int_equal(nm.st.malformed, 0);

    /* a newcomer now hears of the addresses only: no link is up, no default is left */
    static rec again;
    memset(&again, 0, sizeof(again));
    tern_netmon_replay(&nm, rec_emit, &again);
    want now[] = {{TERN_NET_ADDR_ADDED, CAP_IF_T1, "10.78.0.1"},
                  {TERN_NET_ADDR_ADDED, CAP_IF_T0, "10.77.0.1"},
                  {TERN_NET_ADDR_ADDED, CAP_IF_T0, "fd77::1"},
                  {TERN_NET_ADDR_ADDED, CAP_IF_T0, "fd77::3"}};
    expect_events(&again, 0, now, 4, 1);
}

/* Malformed copies of real messages: every one is refused and counted, nothing is reported, and
 * what follows a bad message in the same buffer is still read. */
static void test_parse_malformed(void **st)
{
    tern_netmon nm;
    rec r;
    size_t n = cap_start(&nm, &r);
    static _Alignas(8) uint8_t b[4096];
    assert_true(sizeof(cap_addr_add) <= sizeof(b));

    /* the first message of cap_addr_add is the RTM_NEWADDR */
    const struct nlmsghdr *h0 = (const void *)cap_addr_add;
    assert_int_equal(h0->nlmsg_type, RTM_NEWADDR);
    uint32_t l0 = h0->nlmsg_len;

    /* 1. the buffer ends inside the message */
    memcpy(b, cap_addr_add, l0);
    assert_int_equal(tern_netmon_input(&nm, b, l0 - 8), TERN_ERR_PROTO);
    /* 2. a header shorter than ifaddrmsg */
    memcpy(b, cap_addr_add, l0);
    ((struct nlmsghdr *)b)->nlmsg_len = NLMSG_LENGTH(4);
    assert_int_equal(tern_netmon_input(&nm, b, NLMSG_ALIGN(NLMSG_LENGTH(4))), TERN_ERR_PROTO);
    /* 3. an attribute claiming more than the message holds */
    memcpy(b, cap_addr_add, l0);
    struct rtattr *rta = (struct rtattr *)(b + NLMSG_SPACE(sizeof(struct ifaddrmsg)));
    rta->rta_len = (unsigned short)(l0 + 64);
    assert_int_equal(tern_netmon_input(&nm, b, l0), TERN_ERR_PROTO);
    /* 4. an address of the wrong length for its family */
    memcpy(b, cap_addr_add, l0);
    ((struct ifaddrmsg *)NLMSG_DATA((struct nlmsghdr *)b))->ifa_family = AF_INET6;
    assert_int_equal(tern_netmon_input(&nm, b, l0), TERN_ERR_PROTO);
    assert_int_equal(r.n, n);
    assert_int_equal(nm.st.malformed, 4);

    /* a bad message followed by the real ones: those are read */
    size_t rest = sizeof(cap_addr_add);
    memcpy(b, cap_addr_add, l0);
    ((struct ifaddrmsg *)NLMSG_DATA((struct nlmsghdr *)b))->ifa_family = AF_INET6;
    memcpy(b + l0, cap_addr_add, rest);
    assert_int_equal(tern_netmon_input(&nm, b, l0 + rest), TERN_ERR_PROTO);
    want add[] = {{TERN_NET_ADDR_ADDED, CAP_IF_T0, "10.77.0.9"}};
    expect_events(&r, n, add, 1, 0);
}

/* The tables are bounded: a flood of addresses stores TERN_NETMON_MAX_ADDRS, counts the rest,
 * and reports only what it stored. */
static void test_parse_table_bound(void **st)
{
    tern_netmon nm;
    rec r;
    size_t n = cap_start(&nm, &r), before = nm.naddrs;
    const struct nlmsghdr *h0 = (const void *)cap_addr_add;
    uint32_t l0 = h0->nlmsg_len;
    static _Alignas(8) uint8_t b[4096];
    for (unsigned i = 0; i < 300; i++) {
        memcpy(b, cap_addr_add, l0);
        /* rewrite every IPv4 address attribute to 10.100.i/8 */
        for (size_t off = NLMSG_SPACE(sizeof(struct ifaddrmsg));
             off + sizeof(struct rtattr) <= l0;) {
            struct rtattr *rta = (struct rtattr *)(b + off);
            if (rta->rta_len < sizeof(struct rtattr) || rta->rta_len > l0 - off)
                break;
            if ((rta->rta_type == IFA_LOCAL || rta->rta_type == IFA_ADDRESS) &&
                RTA_PAYLOAD(rta) == 4) {
                uint32_t ip = htonl(0x0a640000u + i);
                memcpy(RTA_DATA(rta), &ip, 4);
            }
            off += RTA_ALIGN(rta->rta_len);
        }
        assert_int_equal(tern_netmon_input(&nm, b, l0), 0);
    }
    assert_int_equal(nm.naddrs, TERN_NETMON_MAX_ADDRS);
    assert_int_equal(r.n - n, TERN_NETMON_MAX_ADDRS - before);
    assert_int_equal(nm.st.full, 300 - (TERN_NETMON_MAX_ADDRS - before));
}

/* ---- tern_endpoint_network_event ---------------------------------------------------------------
 */

static void on_net(tern_endpoint *ep, const tern_net_event *ev, void *ud)
{
    rec_emit(ud, ev);
}

static tern_endpoint *new_ep(rec *r, int monitor)
{
    static const char *alpn[] = {"tern-test"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.verify_peer = 0;
    cfg.network_monitor = monitor;
    tern_callbacks cb = {.on_network_event = on_net};
    tern_endpoint *ep = NULL;
    assert_int_equal(tern_endpoint_new(&cfg, &cb, r, &ep), 0);
    return ep;
}

static void test_event_args(void **st)
{
    static rec r;
    memset(&r, 0, sizeof(r));
    tern_endpoint *ep = new_ep(&r, 0);
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_ADDR_ADDED;
    ev.ifindex = 3;
    strcpy(ev.ifname, "wlan0");
    assert_int_equal(tern_addr_parse(&ev.addr, "192.0.2.7", 0), 0);
    assert_int_equal(tern_endpoint_network_event(NULL, &ev), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_endpoint_network_event(ep, NULL), TERN_ERR_INVALID_ARG);
    tern_net_event bad = ev;
    bad.type = 0;
    assert_int_equal(tern_endpoint_network_event(ep, &bad), TERN_ERR_INVALID_ARG);
    bad.type = TERN_NET_DEFAULT_CHANGED + 1;
    assert_int_equal(tern_endpoint_network_event(ep, &bad), TERN_ERR_INVALID_ARG);
    /* address events need an address */
    bad = ev;
    bad.type = TERN_NET_ADDR_REMOVED;
    memset(&bad.addr, 0, sizeof(bad.addr));
    assert_int_equal(tern_endpoint_network_event(ep, &bad), TERN_ERR_INVALID_ARG);
    /* a length that does not match the family */
    bad = ev;
    bad.addr.len = sizeof(struct sockaddr_in6);
    assert_int_equal(tern_endpoint_network_event(ep, &bad), TERN_ERR_INVALID_ARG);
    bad = ev;
    bad.addr.u.sa.sa_family = AF_UNIX;
    assert_int_equal(tern_endpoint_network_event(ep, &bad), TERN_ERR_INVALID_ARG);
    /* an interface name without its NUL */
    bad = ev;
    memset(bad.ifname, 'x', sizeof(bad.ifname));
    assert_int_equal(tern_endpoint_network_event(ep, &bad), TERN_ERR_INVALID_ARG);
    assert_int_equal(r.n, 0); /* none of those reached the application */

    assert_int_equal(tern_endpoint_network_event(ep, &ev), 0);
    tern_net_event ok = ev;
    ok.type = TERN_NET_LINK_DOWN;
    memset(&ok.addr, 0, sizeof(ok.addr));
    assert_int_equal(tern_endpoint_network_event(ep, &ok), 0);
    ok.type = TERN_NET_DEFAULT_CHANGED; /* no default left, family named */
    ok.ifindex = 0;
    ok.addr.u.sa.sa_family = AF_INET6;
    assert_int_equal(tern_endpoint_network_event(ep, &ok), 0);
    assert_int_equal(r.n, 3);
    assert_true(ev_is(&r.ev[0], TERN_NET_ADDR_ADDED, 3, "192.0.2.7"));
    assert_string_equal(r.ev[0].ifname, "wlan0");
    assert_true(ev_is(&r.ev[1], TERN_NET_LINK_DOWN, 3, NULL));
    assert_true(ev_is(&r.ev[2], TERN_NET_DEFAULT_CHANGED, 0, "v6"));
    tern_endpoint_free(ep);
}

/* ---- live, in a fresh network namespace ------------------------------------------------------ */

static const char *no_live_reason(void)
{
    if (geteuid() != 0)
        return "needs root to create a network namespace";
    if (system("ip -V >/dev/null 2>&1") != 0)
        return "needs the ip command (iproute2)";
    return NULL;
}

/* A namespace of our own, with only a loopback link in it: other tests' interfaces are not seen. */
static int fresh_netns(void)
{
    const char *why = no_live_reason();
    if (why) {
        print_message("skipped: %s\n", why);
        return 0;
    }
    if (unshare(CLONE_NEWNET) != 0) {
        print_message("skipped: unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return 0;
    }
    if (system("ip link add tp0 type veth peer name tp1 2>/dev/null && ip link del tp0") != 0) {
        print_message("skipped: the kernel has no veth links\n");
        return 0;
    }
    return 1;
}

static void sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rv = system(cmd);
    if (rv != 0)
        print_message("command failed (%d): %s\n", rv, cmd);
    assert_int_equal(rv, 0);
}

/* Runs the endpoint until `r` holds `n` events (at most `ms`), then a quiet while more, so that an
 * event too many is seen too. */
static void pump(tern_endpoint *ep, rec *r, size_t n, int ms)
{
    uint64_t end = tern_loop_now() + (uint64_t)ms * UINT64_C(1000000);
    while (r->n < n && tern_loop_now() < end)
        assert_int_equal(tern_endpoint_run_once(ep, 20), 0);
    end = tern_loop_now() + 300ull * 1000000ull;
    while (tern_loop_now() < end)
        assert_int_equal(tern_endpoint_run_once(ep, 20), 0);
}

/* The far ends of the test's veth links live in a namespace of their own (held by a child that
 * dies with us), so that only the near ends are seen and a carrier can be cut from outside. */
static pid_t peer_pid;

static void peer_start(void)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char ok = unshare(CLONE_NEWNET) == 0;
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char ok = 0;
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    peer_pid = pid;
    assert_true(ok);
}

static int peer_stop(void **st)
{
    if (peer_pid > 0) {
        kill(peer_pid, SIGKILL);
        waitpid(peer_pid, NULL, 0);
    }
    peer_pid = 0;
    return 0;
}

#define PEER "nsenter -t %d -n "

/* Runs a command (printf-style), then the endpoint until the events after it are exactly `w`. */
static void step(tern_endpoint *ep, rec *r, const want *w, size_t n, int any_order, const char *fmt,
                 ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    size_t from = r->n;
    sh("%s", cmd);
    pump(ep, r, from + n, 3000);
    expect_events(r, from, w, n, any_order);
}
#define STEP(w, any_order, ...) step(ep, &r, w, sizeof(w) / sizeof(w[0]), any_order, __VA_ARGS__)
#define QUIET(...) step(ep, &r, NULL, 0, 0, __VA_ARGS__)

static void test_live_sequence(void **st)
{
    if (!fresh_netns())
        skip();
    peer_start();
    static rec r;
    memset(&r, 0, sizeof(r));
    tern_endpoint *ep = new_ep(&r, 1);
    /* the initial dump of an empty namespace: nothing to report (lo is not) */
    pump(ep, &r, 0, 0);
    tern_endpoint_stats es;
    tern_endpoint_get_stats(ep, &es);
    assert_true(es.netmon.dumps >= 3);
    expect_events(&r, 0, NULL, 0, 0);

    /* t0 and t1 up, their far ends not yet: no carrier, not running */
    QUIET("ip link add t0 type veth peer name p0 netns %d && "
          "ip link add t1 type veth peer name p1 netns %d && ip link set t0 up && "
          "ip link set t1 up",
          peer_pid, peer_pid);
    unsigned t0 = if_nametoindex("t0"), t1 = if_nametoindex("t1");
    assert_true(t0 && t1);

    want up[] = {{TERN_NET_LINK_UP, t0, NULL}, {TERN_NET_LINK_UP, t1, NULL}};
    STEP(up, 1, PEER "ip link set p0 up && " PEER "ip link set p1 up", peer_pid, peer_pid);
    assert_string_equal(r.ev[0].ifname, r.ev[0].ifindex == t0 ? "t0" : "t1");

    want a1[] = {{TERN_NET_ADDR_ADDED, t0, "10.77.0.1"}};
    STEP(a1, 0, "ip addr add 10.77.0.1/24 dev t0");
    assert_string_equal(r.ev[r.n - 1].ifname, "t0");

    want d1[] = {{TERN_NET_DEFAULT_CHANGED, t0, "10.77.0.1"}};
    STEP(d1, 0, "ip route add default via 10.77.0.2 dev t0 metric 100");

    /* a better default through t1 */
    want d2[] = {{TERN_NET_ADDR_ADDED, t1, "10.78.0.1"},
                 {TERN_NET_DEFAULT_CHANGED, t1, "10.78.0.1"}};
    STEP(d2, 0,
         "ip addr add 10.78.0.1/24 dev t1 && "
         "ip route add default via 10.78.0.2 dev t1 metric 50");

    /* a lifetime change of a known address is not a new address; an IPv6 one without DAD is */
    QUIET("ip addr change 10.77.0.1/24 dev t0 valid_lft 3000 preferred_lft 3000");
    want a6[] = {{TERN_NET_ADDR_ADDED, t0, "fd77::1"}};
    STEP(a6, 0, "ip -6 addr add fd77::1/64 dev t0 nodad");

    /* t1 set down: the kernel drops its IPv4 route without a word; the default is t0's again */
    want down[] = {{TERN_NET_LINK_DOWN, t1, NULL}, {TERN_NET_DEFAULT_CHANGED, t0, "10.77.0.1"}};
    STEP(down, 0, "ip link set t1 down");

    /* t1 up again: its route is gone for good, so the default stays */
    want up1[] = {{TERN_NET_LINK_UP, t1, NULL}};
    STEP(up1, 0, "ip link set t1 up");

    /* t0 loses its carrier (its far end goes down, no local command): the route through it is
     * kept, marked link-down, and no default is left */
    want cut[] = {{TERN_NET_LINK_DOWN, t0, NULL}, {TERN_NET_DEFAULT_CHANGED, 0, "v4"}};
    STEP(cut, 0, PEER "ip link set p0 down", peer_pid);

    want d3[] = {{TERN_NET_DEFAULT_CHANGED, t1, "10.78.0.1"}};
    STEP(d3, 0, "ip route add default via 10.78.0.2 dev t1 metric 50");

    /* the carrier comes back: t0's route is usable again but t1's is better */
    want up0[] = {{TERN_NET_LINK_UP, t0, NULL}};
    STEP(up0, 0, PEER "ip link set p0 up", peer_pid);

    /* t1's address goes, and with it (silently) the route through it: back to t0 */
    want gone[] = {{TERN_NET_ADDR_REMOVED, t1, "10.78.0.1"},
                   {TERN_NET_DEFAULT_CHANGED, t0, "10.77.0.1"}};
    STEP(gone, 0, "ip addr del 10.78.0.1/24 dev t1");

    /* a second address is not the default's source; a route naming its source makes it so */
    want a5[] = {{TERN_NET_ADDR_ADDED, t0, "10.77.0.5"}};
    STEP(a5, 0, "ip addr add 10.77.0.5/24 dev t0");
    want src[] = {{TERN_NET_DEFAULT_CHANGED, t0, "10.77.0.5"}};
    STEP(src, 0, "ip route replace default via 10.77.0.2 dev t0 metric 100 src 10.77.0.5");

    /* "replace" by a route through t1 of the same metric: the kernel reports the new route only,
     * and t0's must be gone from the table too, as deleting the new one shows */
    want a8[] = {{TERN_NET_ADDR_ADDED, t1, "10.78.0.1"}};
    STEP(a8, 0, "ip addr add 10.78.0.1/24 dev t1");
    want rep[] = {{TERN_NET_DEFAULT_CHANGED, t1, "10.78.0.1"}};
    STEP(rep, 0, "ip route replace default via 10.78.0.2 dev t1 metric 100");
    want none[] = {{TERN_NET_DEFAULT_CHANGED, 0, "v4"}};
    STEP(none, 0, "ip route del default via 10.78.0.2 dev t1 metric 100");

    /* deleting t0: down and its addresses gone, in an order of the kernel's */
    want del[] = {{TERN_NET_LINK_DOWN, t0, NULL},
                  {TERN_NET_ADDR_REMOVED, t0, "10.77.0.1"},
                  {TERN_NET_ADDR_REMOVED, t0, "10.77.0.5"},
                  {TERN_NET_ADDR_REMOVED, t0, "fd77::1"}};
    STEP(del, 1, "ip link del t0");
    tern_endpoint_get_stats(ep, &es);
    assert_int_equal(es.netmon.malformed, 0);
    assert_int_equal(es.netmon.overruns, 0);
    tern_endpoint_free(ep);
}

/* The address of interest is reported only once duplicate address detection is over: at the moment
 * of the callback, the kernel no longer lists it as tentative. */
static void on_net_watch(tern_endpoint *ep, const tern_net_event *ev, void *ud)
{
    rec *r = ud;
    if (r->watch_addr && ev->type == TERN_NET_ADDR_ADDED && ip_is(&ev->addr, r->watch_addr)) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "ip -6 addr show tentative | grep -q ' %s/'", r->watch_addr);
        if (system(cmd) == 0)
            r->watch_tentative = 1;
    }
    rec_emit(ud, ev);
}

static void test_live_dad(void **st)
{
    if (!fresh_netns())
        skip();
    static rec r;
    memset(&r, 0, sizeof(r));
    sh("ip link add t0 type veth peer name t1 && ip link set t0 up && ip link set t1 up");
    unsigned t0 = if_nametoindex("t0"), t1 = if_nametoindex("t1");
    static const char *alpn[] = {"tern-test"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.auto_migrate = 1; /* implies the monitor */
    tern_callbacks cb = {.on_network_event = on_net_watch};
    tern_endpoint *ep = NULL;
    assert_int_equal(tern_endpoint_new(&cfg, &cb, &r, &ep), 0);
    want up[] = {{TERN_NET_LINK_UP, t0, NULL}, {TERN_NET_LINK_UP, t1, NULL}};
    pump(ep, &r, 2, 3000);
    expect_events(&r, 0, up, 2, 1);

    r.watch_addr = "fd77::2";
    sh("ip -6 addr add fd77::2/64 dev t0"); /* with DAD: tentative for a second */
    want a[] = {{TERN_NET_ADDR_ADDED, t0, "fd77::2"}};
    pump(ep, &r, 3, 5000);
    expect_events(&r, 2, a, 1, 0);
    assert_int_equal(r.watch_tentative, 0);
    tern_endpoint_free(ep);
}

/* An application with a loop of its own waits on tern_endpoint_fd(): a change of the network must
 * wake it, and the next run_once reports it. */
static void test_live_foreign_loop(void **st)
{
    if (!fresh_netns())
        skip();
    static rec r;
    memset(&r, 0, sizeof(r));
    sh("ip link add t0 type veth peer name t1 && ip link set t0 up && ip link set t1 up");
    unsigned t0 = if_nametoindex("t0");
    tern_endpoint *ep = new_ep(&r, 1);
    want up[] = {{TERN_NET_LINK_UP, t0, NULL}, {TERN_NET_LINK_UP, if_nametoindex("t1"), NULL}};
    pump(ep, &r, 2, 3000);
    expect_events(&r, 0, up, 2, 1);
    struct pollfd pfd = {.fd = tern_endpoint_fd(ep), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0); /* nothing to do now */

    sh("ip addr add 10.77.0.1/24 dev t0");
    assert_int_equal(poll(&pfd, 1, 3000), 1);
    assert_int_equal(tern_endpoint_run_once(ep, 0), 0);
    want a[] = {{TERN_NET_ADDR_ADDED, t0, "10.77.0.1"}};
    expect_window(&r, 2, a, 1, 0, 0);
    tern_endpoint_free(ep);
}

/* An overrun (ENOBUFS: notifications lost) is repaired by reading the tables again: the events
 * are then exactly the difference, each address once. */
static void test_live_overrun(void **st)
{
    if (!fresh_netns())
        skip();
    enum { N = 100 };
    static rec r;
    memset(&r, 0, sizeof(r));
    sh("ip link add t0 type veth peer name t1 && ip link set t0 up && ip link set t1 up");
    unsigned t0 = if_nametoindex("t0");
    static tern_netmon nm;
    tern_netmon_init(&nm, rec_emit, &r);
    assert_int_equal(tern_netmon_open(&nm), 0);
    for (int i = 0; i < 200 && (nm.dumping || nm.pending || r.n < 2); i++) {
        assert_int_equal(tern_netmon_read(&nm), 0);
        usleep(20000);
    }
    assert_int_equal(r.n, 2); /* the two links */
    int small = 1;            /* the kernel's minimum */
    assert_int_equal(setsockopt(nm.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);

    char path[] = "/tmp/tern-netmon-batch-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < N; i++)
        fprintf(f, "addr add 10.90.%d.%d/32 dev t0\n", i / 200, 1 + i % 200);
    fclose(f);
    sh("ip -batch %s", path);
    for (int i = 0; i < 100 && (nm.dumping || nm.pending || nm.st.overruns == 0 || i < 5); i++) {
        assert_int_equal(tern_netmon_read(&nm), 0);
        usleep(10000);
    }
    assert_true(nm.st.overruns >= 1);
    size_t added = 0;
    for (size_t i = 2; i < r.n; i++) {
        assert_int_equal(r.ev[i].type, TERN_NET_ADDR_ADDED);
        assert_int_equal(r.ev[i].ifindex, t0);
        for (size_t j = 2; j < i; j++)
            assert_false(tern_addr_equal(&r.ev[i].addr, &r.ev[j].addr));
        added++;
    }
    assert_int_equal(added, N);

    /* and the way back: every one removed, once, though most notifications are lost again */
    uint64_t overruns = nm.st.overruns;
    f = fopen(path, "w");
    for (int i = 0; i < N; i++)
        fprintf(f, "addr del 10.90.%d.%d/32 dev t0\n", i / 200, 1 + i % 200);
    fclose(f);
    sh("ip -batch %s", path);
    unlink(path);
    size_t n = r.n;
    for (int i = 0; i < 100 && (nm.dumping || nm.pending || nm.st.overruns == overruns || i < 5);
         i++) {
        assert_int_equal(tern_netmon_read(&nm), 0);
        usleep(10000);
    }
    assert_true(nm.st.overruns > overruns);
    assert_int_equal(r.n - n, N);
    for (size_t i = n; i < r.n; i++) {
        assert_int_equal(r.ev[i].type, TERN_NET_ADDR_REMOVED);
        for (size_t j = n; j < i; j++)
            assert_false(tern_addr_equal(&r.ev[i].addr, &r.ev[j].addr));
    }
    assert_int_equal(nm.naddrs, 0);
    assert_int_equal(nm.st.malformed, 0);
    tern_netmon_close(&nm);
}

/* ---- capture mode: records the buffers of netmon_capture.h -------------------------------------
 */

static int cap_fd;
static uint32_t cap_seq = 100;

static void cap_print(const char *name, const uint8_t *b, size_t len)
{
    printf("static const uint8_t %s[%zu] = {", name, len);
    for (size_t i = 0; i < len; i++)
        printf("%s0x%02x,", i % 16 ? " " : "\n    ", b[i]);
    printf("\n};\n");
}

/* Everything the socket receives for `ms`, concatenated (each read is whole messages). */
static size_t cap_read(uint8_t *out, size_t cap, int ms)
{
    size_t len = 0;
    uint64_t end = tern_loop_now() + (uint64_t)ms * UINT64_C(1000000);
    while (tern_loop_now() < end) {
        ssize_t n = recv(cap_fd, out + len, cap - len, MSG_DONTWAIT);
        if (n > 0)
            len += (size_t)n;
        else
            usleep(10000);
    }
    return len;
}

static void cap_step(const char *name, const char *cmd, int ms)
{
    static uint8_t b[32768];
    if (cmd && system(cmd) != 0) {
        fprintf(stderr, "capture: failed: %s\n", cmd);
        exit(1);
    }
    cap_print(name, b, cap_read(b, sizeof(b), ms));
}

static void cap_dump(const char *name, const char *seqname, uint16_t type);

/* The notifications of one change (cap_NAME), then a route dump (cap_NAME_routes, CAP_SEQ_NAME)
 * as the monitor asks for after a link or address change. */
static void cap_change(const char *name, const char *cmd, int ms)
{
    char a[64], b[64], c[64];
    printf("/* %s */\n", cmd ? cmd : "(later)");
    snprintf(a, sizeof(a), "cap_%s", name);
    snprintf(b, sizeof(b), "cap_%s_routes", name);
    snprintf(c, sizeof(c), "CAP_SEQ_%s", name);
    cap_step(a, cmd, ms);
    cap_dump(b, c, RTM_GETROUTE);
}

static void cap_dump(const char *name, const char *seqname, uint16_t type)
{
    struct {
        struct nlmsghdr h;
        struct rtmsg m; /* the largest of ifinfomsg, ifaddrmsg, rtmsg; zero: every family */
    } req;
    memset(&req, 0, sizeof(req));
    req.h.nlmsg_len = NLMSG_LENGTH(type == RTM_GETLINK   ? sizeof(struct ifinfomsg)
                                   : type == RTM_GETADDR ? sizeof(struct ifaddrmsg)
                                                         : sizeof(struct rtmsg));
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = ++cap_seq;
    if (send(cap_fd, &req, req.h.nlmsg_len, 0) < 0) {
        perror("capture: send");
        exit(1);
    }
    printf("#define %s %u\n", seqname, cap_seq);
    cap_step(name, NULL, 300);
}

static int capture(void)
{
    if (!fresh_netns())
        return 77;
    if (system("ip link add t0 type veth peer name t1 && ip link set t0 up && ip link set t1 up && "
               "ip addr add 10.77.0.1/24 dev t0 && ip addr add 10.78.0.1/24 dev t1 && "
               "ip -6 addr add fd77::1/64 dev t0 nodad && "
               "ip route add default via 10.77.0.2 dev t0 metric 100 && "
               "ip -6 route add default via fd77::2 dev t0 metric 100 && sleep 2") != 0)
        return 1;
    cap_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                                          RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE};
    socklen_t sl = sizeof(sa);
    if (cap_fd < 0 || bind(cap_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        getsockname(cap_fd, (struct sockaddr *)&sa, &sl))
        return 1;
    struct utsname un;
    if (uname(&un))
        strcpy(un.release, "?");
    printf("/* Netlink messages as the kernel (Linux %s) sent them, recorded by `test_netmon "
           "--capture`\n"
           " * in a fresh network namespace holding the veth pair t0/t1 (10.77.0.1/24 and\n"
           " * fd77::1/64 on t0, 10.78.0.1/24 on t1, default routes via t0 of metric 100), and\n"
           " * then while the steps named below ran. Regenerate with that command (as root). */\n",
           un.release);
    printf("#ifndef TERN_TEST_NETMON_CAPTURE_H\n#define TERN_TEST_NETMON_CAPTURE_H\n\n");
    printf("#include <stdint.h>\n\n");
    printf("#define CAP_PORTID %u\n", sa.nl_pid);
    printf("#define CAP_IF_T0 %u\n#define CAP_IF_T1 %u\n", if_nametoindex("t0"),
           if_nametoindex("t1"));
    cap_dump("cap_dump_link", "CAP_SEQ_LINK", RTM_GETLINK);
    cap_dump("cap_dump_addr", "CAP_SEQ_ADDR", RTM_GETADDR);
    cap_dump("cap_dump_route", "CAP_SEQ_ROUTE", RTM_GETROUTE);
    cap_change("addr_add", "ip addr add 10.77.0.9/24 dev t0", 300);
    cap_change("addr_change",
               "ip addr change 10.77.0.9/24 dev t0 valid_lft 3000 preferred_lft 3000", 300);
    cap_change("addr_del", "ip addr del 10.77.0.9/24 dev t0", 300);
    /* with DAD: reported at once as tentative, then again once DAD is over */
    cap_change("addr6_tentative", "ip -6 addr add fd77::3/64 dev t0", 200);
    cap_change("addr6_ready", NULL, 2500);
    cap_change("route_add", "ip route add default via 10.78.0.2 dev t1 metric 50", 300);
    cap_change("link_down", "ip link set t1 down", 1500);
    printf("\n#endif\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--capture"))
        return capture();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_dumps),
        cmocka_unit_test(test_parse_changes),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_table_bound),
        cmocka_unit_test(test_event_args),
        cmocka_unit_test_teardown(test_live_sequence, peer_stop),
        cmocka_unit_test(test_live_dad),
        cmocka_unit_test(test_live_foreign_loop),
        cmocka_unit_test(test_live_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
