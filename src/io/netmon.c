/* rtnetlink monitor: links, addresses and default routes as tern_net_event. See netmon.h for the
 * rules of what is reported. */
#include "netmon.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NM_READS_PER_CALL 64 /* recvmsg calls per tern_netmon_read: the datapath gets a turn */

/* ---- events ---------------------------------------------------------------------------------- */

static tern_netmon_link *find_link(tern_netmon *nm, unsigned ifindex)
{
    for (size_t i = 0; i < nm->nlinks; i++)
        if (nm->links[i].ifindex == ifindex)
            return &nm->links[i];
    return NULL;
}

/* An event with the interface's name as the table knows it, to fn(ud). */
static void emit_to(const tern_netmon *nm, tern_netmon_emit_fn fn, void *ud,
                    tern_net_event_type type, unsigned ifindex, const tern_addr *a)
{
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.ifindex = ifindex;
    for (size_t i = 0; i < nm->nlinks; i++)
        if (nm->links[i].ifindex == ifindex)
            memcpy(ev.ifname, nm->links[i].name, sizeof(ev.ifname));
    if (a)
        ev.addr = *a;
    if (fn)
        fn(ud, &ev);
}

static void emit(tern_netmon *nm, tern_net_event_type type, unsigned ifindex, const tern_addr *a)
{
    nm->st.events++;
    emit_to(nm, nm->emit, nm->ud, type, ifindex, a);
}

/* ---- attributes ------------------------------------------------------------------------------ */

/* RTA_DATA and NLMSG_DATA, without the casts of those macros that drop const */
static const void *rta_data(const struct rtattr *a)
{
    return (const uint8_t *)a + RTA_LENGTH(0);
}
static const void *nlmsg_data(const struct nlmsghdr *h)
{
    return (const uint8_t *)h + NLMSG_HDRLEN;
}

/* The attributes of a message whose fixed header is `hdr_len` bytes, indexed by type (the last
 * of each type wins). Returns -1 when the message or an attribute is malformed. */
#define NM_MAX_ATTR 32
static int parse_attrs(const struct nlmsghdr *h, size_t hdr_len, const struct rtattr **tb)
{
    memset(tb, 0, NM_MAX_ATTR * sizeof(*tb));
    if (h->nlmsg_len < NLMSG_LENGTH(hdr_len))
        return -1;
    /* the walk of RTA_OK/RTA_NEXT, in unsigned arithmetic (those macros mix int and unsigned) */
    size_t off = NLMSG_SPACE(hdr_len), end = h->nlmsg_len;
    size_t left = end > off ? end - off : 0; /* the fixed header may end the message, unpadded */
    while (left >= sizeof(struct rtattr)) {
        const struct rtattr *rta = (const struct rtattr *)((const uint8_t *)h + off);
        if (rta->rta_len < sizeof(struct rtattr) || rta->rta_len > left)
            return -1; /* too short, or runs past the message */
        unsigned type = rta->rta_type & ~(unsigned)(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
        if (type < NM_MAX_ATTR)
            tb[type] = rta;
        size_t step = RTA_ALIGN(rta->rta_len);
        if (step >= left)
            break;
        off += step;
        left -= step;
    }
    return 0;
}

static int attr_u32(const struct rtattr *a, uint32_t *out)
{
    if (!a || RTA_PAYLOAD(a) < sizeof(uint32_t))
        return -1;
    memcpy(out, rta_data(a), sizeof(*out));
    return 0;
}

/* An IPv4 or IPv6 address attribute as a tern_addr with port 0. */
static int attr_addr(const struct rtattr *a, int family, tern_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (!a)
        return -1;
    if (family == AF_INET && RTA_PAYLOAD(a) == 4) {
        out->u.in.sin_family = AF_INET;
        memcpy(&out->u.in.sin_addr, rta_data(a), 4);
        out->len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (family == AF_INET6 && RTA_PAYLOAD(a) == 16) {
        out->u.in6.sin6_family = AF_INET6;
        memcpy(&out->u.in6.sin6_addr, rta_data(a), 16);
        out->len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return -1;
}

/* ---- links ----------------------------------------------------------------------------------- */

/* Keeps the order in which addresses appeared: the first of an interface is its default source. */
static void forget_addr(tern_netmon *nm, size_t i)
{
    memmove(&nm->addrs[i], &nm->addrs[i + 1], (nm->naddrs - i - 1) * sizeof(nm->addrs[0]));
    nm->naddrs--;
}

static void addr_gone(tern_netmon *nm, size_t i)
{
    tern_netmon_addr a = nm->addrs[i];
    forget_addr(nm, i);
    if (a.reported) {
        emit(nm, TERN_NET_ADDR_REMOVED, a.ifindex, &a.addr);
        nm->pending |= TERN_NETMON_DUMP_ROUTE;
    }
}

/* A link that disappeared takes its addresses and routes with it; the kernel usually reports the
 * addresses first, but an overrun may have lost that. */
static void link_gone(tern_netmon *nm, size_t i)
{
    tern_netmon_link *l = &nm->links[i];
    unsigned ifindex = l->ifindex;
    if (l->up)
        emit(nm, TERN_NET_LINK_DOWN, ifindex, NULL);
    for (size_t j = nm->naddrs; j-- > 0;)
        if (nm->addrs[j].ifindex == ifindex)
            addr_gone(nm, j);
    for (size_t j = nm->nroutes; j-- > 0;)
        if (nm->routes[j].ifindex == ifindex)
            nm->routes[j] = nm->routes[--nm->nroutes];
    /* the entry may have moved while addresses were removed: find it again */
    for (size_t j = 0; j < nm->nlinks; j++)
        if (nm->links[j].ifindex == ifindex) {
            nm->links[j] = nm->links[--nm->nlinks];
            break;
        }
    nm->pending |= TERN_NETMON_DUMP_ROUTE;
}

static int on_link(tern_netmon *nm, const struct nlmsghdr *h)
{
    const struct rtattr *tb[NM_MAX_ATTR];
    if (parse_attrs(h, sizeof(struct ifinfomsg), tb))
        return -1;
    const struct ifinfomsg *ifi = nlmsg_data(h);
    /* AF_INET6 / AF_BRIDGE link messages carry per-protocol details, not the link's state */
    if (ifi->ifi_family != AF_UNSPEC || ifi->ifi_index <= 0)
        return 0;
    unsigned ifindex = (unsigned)ifi->ifi_index;
    tern_netmon_link *l = find_link(nm, ifindex);
    if (h->nlmsg_type == RTM_DELLINK) {
        if (l)
            link_gone(nm, (size_t)(l - nm->links));
        return 0;
    }
    if (!l) {
        if (nm->nlinks == TERN_NETMON_MAX_LINKS) {
            nm->st.full++;
            return 0;
        }
        l = &nm->links[nm->nlinks++];
        memset(l, 0, sizeof(*l));
        l->ifindex = ifindex;
        l->loopback = (ifi->ifi_flags & IFF_LOOPBACK) != 0;
    }
    l->stale = 0;
    const struct rtattr *name = tb[IFLA_IFNAME];
    if (name && RTA_PAYLOAD(name) > 0) {
        size_t n = RTA_PAYLOAD(name);
        if (n > sizeof(l->name) - 1)
            n = sizeof(l->name) - 1;
        memset(l->name, 0, sizeof(l->name));
        memcpy(l->name, rta_data(name), n);
    }
    uint8_t up = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_RUNNING);
    if (up != l->up && !l->loopback) {
        l->up = up;
        emit(nm, up ? TERN_NET_LINK_UP : TERN_NET_LINK_DOWN, ifindex, NULL);
        nm->pending |= TERN_NETMON_DUMP_ROUTE;
    }
    return 0;
}

/* ---- addresses ------------------------------------------------------------------------------- */

static int find_addr(tern_netmon *nm, unsigned ifindex, const tern_addr *a)
{
    for (size_t i = 0; i < nm->naddrs; i++)
        if (nm->addrs[i].ifindex == ifindex && tern_addr_equal(&nm->addrs[i].addr, a))
            return (int)i;
    return -1;
}

static int on_addr(tern_netmon *nm, const struct nlmsghdr *h)
{
    const struct rtattr *tb[NM_MAX_ATTR];
    if (parse_attrs(h, sizeof(struct ifaddrmsg), tb))
        return -1;
    const struct ifaddrmsg *ifa = nlmsg_data(h);
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        return 0;
    tern_addr a;
    /* IFA_LOCAL is the local end on point-to-point links (IFA_ADDRESS the peer there) */
    if (attr_addr(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], ifa->ifa_family, &a))
        return -1;
    uint32_t flags = ifa->ifa_flags;
    if (tb[IFA_FLAGS] && attr_u32(tb[IFA_FLAGS], &flags))
        return -1;
    /* Addresses that cannot reach a remote peer, or that sit on a loopback link (a service
     * address, say), are not tracked at all. */
    const tern_netmon_link *l = find_link(nm, ifa->ifa_index);
    if (ifa->ifa_scope >= RT_SCOPE_LINK || (l && l->loopback))
        return 0;
    int i = find_addr(nm, ifa->ifa_index, &a);
    if (h->nlmsg_type == RTM_DELADDR) {
        if (i >= 0)
            addr_gone(nm, (size_t)i);
        return 0;
    }
    if (i < 0) {
        if (nm->naddrs == TERN_NETMON_MAX_ADDRS) {
            nm->st.full++;
            return 0;
        }
        i = (int)nm->naddrs++;
        memset(&nm->addrs[i], 0, sizeof(nm->addrs[i]));
        nm->addrs[i].ifindex = ifa->ifa_index;
        nm->addrs[i].addr = a;
    }
    tern_netmon_addr *e = &nm->addrs[i];
    e->stale = 0;
    int tentative = (flags & IFA_F_TENTATIVE) && !(flags & IFA_F_OPTIMISTIC);
    if (flags & IFA_F_DADFAILED) {
        if (e->reported) {
            e->reported = 0;
            emit(nm, TERN_NET_ADDR_REMOVED, e->ifindex, &e->addr);
            nm->pending |= TERN_NETMON_DUMP_ROUTE;
        }
    } else if (!e->reported && !tentative && !(flags & IFA_F_DEPRECATED)) {
        e->reported = 1;
        emit(nm, TERN_NET_ADDR_ADDED, e->ifindex, &e->addr);
        nm->pending |= TERN_NETMON_DUMP_ROUTE;
    }
    return 0;
}

/* ---- default routes -------------------------------------------------------------------------- */

static int same_route(const tern_netmon_route *a, const tern_netmon_route *b)
{
    return a->family == b->family && a->ifindex == b->ifindex && a->metric == b->metric &&
           memcmp(a->gw, b->gw, sizeof(a->gw)) == 0;
}

static int on_route(tern_netmon *nm, const struct nlmsghdr *h)
{
    const struct rtattr *tb[NM_MAX_ATTR];
    if (parse_attrs(h, sizeof(struct rtmsg), tb))
        return -1;
    const struct rtmsg *rtm = nlmsg_data(h);
    if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) || rtm->rtm_dst_len != 0 ||
        rtm->rtm_src_len != 0 || rtm->rtm_type != RTN_UNICAST)
        return 0;
    uint32_t table = rtm->rtm_table;
    if (tb[RTA_TABLE] && attr_u32(tb[RTA_TABLE], &table))
        return -1;
    if (table != RT_TABLE_MAIN)
        return 0;
    tern_netmon_route r;
    memset(&r, 0, sizeof(r));
    r.family = rtm->rtm_family;
    r.linkdown = (rtm->rtm_flags & (RTNH_F_LINKDOWN | RTNH_F_DEAD)) != 0;
    uint32_t u = 0;
    if (tb[RTA_OIF] && attr_u32(tb[RTA_OIF], &u))
        return -1;
    r.ifindex = u;
    if (tb[RTA_PRIORITY] && attr_u32(tb[RTA_PRIORITY], &r.metric))
        return -1;
    tern_addr gw;
    if (tb[RTA_GATEWAY]) {
        if (attr_addr(tb[RTA_GATEWAY], r.family, &gw))
            return -1;
        memcpy(r.gw,
               r.family == AF_INET ? (const void *)&gw.u.in.sin_addr
                                   : (const void *)&gw.u.in6.sin6_addr,
               r.family == AF_INET ? 4 : 16);
    }
    if (tb[RTA_PREFSRC] && attr_addr(tb[RTA_PREFSRC], r.family, &r.prefsrc))
        return -1;
    /* A multipath default: its first next hop names the interface. */
    if (!r.ifindex && tb[RTA_MULTIPATH]) {
        const struct rtnexthop *nh = rta_data(tb[RTA_MULTIPATH]);
        if (RTA_PAYLOAD(tb[RTA_MULTIPATH]) < sizeof(*nh) || nh->rtnh_len < sizeof(*nh) ||
            nh->rtnh_len > RTA_PAYLOAD(tb[RTA_MULTIPATH]))
            return -1;
        r.ifindex = (unsigned)nh->rtnh_ifindex;
        r.linkdown = (nh->rtnh_flags & (RTNH_F_LINKDOWN | RTNH_F_DEAD)) != 0;
    }

    size_t i = 0;
    while (i < nm->nroutes && !same_route(&nm->routes[i], &r))
        i++;
    if (h->nlmsg_type == RTM_DELROUTE) {
        if (i < nm->nroutes)
            nm->routes[i] = nm->routes[--nm->nroutes];
        return 0;
    }
    /* "replace" reports the new route only; the one it replaced had the same metric */
    if ((h->nlmsg_flags & NLM_F_REPLACE) && !(h->nlmsg_flags & NLM_F_MULTI)) {
        for (size_t j = nm->nroutes; j-- > 0;)
            if (nm->routes[j].family == r.family && nm->routes[j].metric == r.metric &&
                !same_route(&nm->routes[j], &r))
                nm->routes[j] = nm->routes[--nm->nroutes];
        i = 0;
        while (i < nm->nroutes && !same_route(&nm->routes[i], &r))
            i++;
    }
    if (i == nm->nroutes) {
        if (nm->nroutes == TERN_NETMON_MAX_ROUTES) {
            nm->st.full++;
            return 0;
        }
        nm->nroutes++;
    }
    nm->routes[i] = r; /* stale cleared with the rest */
    return 0;
}

/* The effective default of a family (see netmon.h): its interface (0 when none) and source. */
static unsigned best_default(tern_netmon *nm, int family, tern_addr *src)
{
    const tern_netmon_route *best = NULL;
    memset(src, 0, sizeof(*src));
    src->u.sa.sa_family = (sa_family_t)family; /* even with no source: it names the family */
    for (size_t i = 0; i < nm->nroutes; i++) {
        const tern_netmon_route *r = &nm->routes[i];
        if (r->family != family || r->linkdown || r->ifindex == 0)
            continue;
        const tern_netmon_link *l = find_link(nm, r->ifindex);
        if (l && !l->up)
            continue;
        if (!best || r->metric < best->metric)
            best = r;
    }
    if (!best)
        return 0;
    if (best->prefsrc.len) {
        *src = best->prefsrc;
    } else {
        for (size_t i = 0; i < nm->naddrs; i++) {
            const tern_netmon_addr *a = &nm->addrs[i];
            if (a->reported && a->ifindex == best->ifindex && a->addr.u.sa.sa_family == family) {
                *src = a->addr;
                break;
            }
        }
    }
    return best->ifindex;
}

static void judge_defaults(tern_netmon *nm)
{
    if (!(nm->seen & TERN_NETMON_DUMP_ROUTE) ||
        ((nm->dumping | nm->pending) & TERN_NETMON_DUMP_ROUTE))
        return;
    static const int fam[2] = {AF_INET, AF_INET6};
    for (int f = 0; f < 2; f++) {
        tern_addr src;
        unsigned ifindex = best_default(nm, fam[f], &src);
        if (ifindex == nm->def_ifindex[f] && src.len == nm->def_src[f].len &&
            (src.len == 0 || tern_addr_equal(&src, &nm->def_src[f])))
            continue;
        nm->def_ifindex[f] = ifindex;
        nm->def_src[f] = src;
        emit(nm, TERN_NET_DEFAULT_CHANGED, ifindex, &src);
    }
}

/* ---- dumps ----------------------------------------------------------------------------------- */

void tern_netmon_begin_dump(tern_netmon *nm, unsigned kind, uint32_t seq)
{
    nm->dumping = kind;
    nm->dump_seq = seq;
    nm->dump_intr = 0;
    nm->pending &= ~kind;
    if (kind & TERN_NETMON_DUMP_LINK)
        for (size_t i = 0; i < nm->nlinks; i++)
            nm->links[i].stale = 1;
    if (kind & TERN_NETMON_DUMP_ADDR)
        for (size_t i = 0; i < nm->naddrs; i++)
            nm->addrs[i].stale = 1;
    if (kind & TERN_NETMON_DUMP_ROUTE)
        for (size_t i = 0; i < nm->nroutes; i++)
            nm->routes[i].stale = 1;
}

/* What the dump did not show any more is gone. */
static void end_dump(tern_netmon *nm, int ok)
{
    unsigned kind = nm->dumping;
    nm->dumping = 0;
    if (!ok) {
        /* the kernel refused or broke off: keep the tables as they are, unmarked */
        for (size_t i = 0; i < nm->nlinks; i++)
            nm->links[i].stale = 0;
        for (size_t i = 0; i < nm->naddrs; i++)
            nm->addrs[i].stale = 0;
        for (size_t i = 0; i < nm->nroutes; i++)
            nm->routes[i].stale = 0;
        return;
    }
    for (size_t i = nm->nlinks; i-- > 0;)
        if (nm->links[i].stale)
            link_gone(nm, i);
    for (size_t i = nm->naddrs; i-- > 0;)
        if (nm->addrs[i].stale)
            addr_gone(nm, i);
    for (size_t i = nm->nroutes; i-- > 0;)
        if (nm->routes[i].stale)
            nm->routes[i] = nm->routes[--nm->nroutes];
    nm->seen |= kind;
    nm->st.dumps++;
    if (nm->dump_intr)
        nm->pending |= kind;
}

/* ---- messages -------------------------------------------------------------------------------- */

static int is_dump_reply(const tern_netmon *nm, const struct nlmsghdr *h)
{
    return nm->dumping && h->nlmsg_seq == nm->dump_seq && h->nlmsg_pid == nm->portid;
}

int tern_netmon_input(tern_netmon *nm, const uint8_t *buf, size_t len)
{
    int bad = 0;
    size_t left = len;
    while (left >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + (len - left));
        if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > left)
            break;
        /* the last message of a buffer may end unpadded */
        left -= NLMSG_ALIGN(h->nlmsg_len) < left ? NLMSG_ALIGN(h->nlmsg_len) : left;
        nm->st.msgs++;
        int reply = is_dump_reply(nm, h);
        if (reply && (h->nlmsg_flags & NLM_F_DUMP_INTR))
            nm->dump_intr = 1;
        int rv = 0;
        switch (h->nlmsg_type) {
        case NLMSG_DONE:
            if (reply)
                end_dump(nm, 1);
            break;
        case NLMSG_ERROR:
            if (reply) {
                const struct nlmsgerr *e = nlmsg_data(h);
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)) || e->error)
                    end_dump(nm, 0);
            }
            break;
        case RTM_NEWLINK:
        case RTM_DELLINK:
            rv = on_link(nm, h);
            break;
        case RTM_NEWADDR:
        case RTM_DELADDR:
            rv = on_addr(nm, h);
            break;
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
            rv = on_route(nm, h);
            break;
        default:
            break;
        }
        if (rv) {
            nm->st.malformed++;
            bad = 1;
        }
    }
    if (left > 0) { /* a header or a length that does not fit what was received */
        nm->st.malformed++;
        bad = 1;
    }
    judge_defaults(nm);
    return bad ? TERN_ERR_PROTO : 0;
}

void tern_netmon_replay(const tern_netmon *nm, tern_netmon_emit_fn fn, void *ud)
{
    static const int fam[2] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < nm->nlinks; i++)
        if (nm->links[i].up)
            emit_to(nm, fn, ud, TERN_NET_LINK_UP, nm->links[i].ifindex, NULL);
    for (size_t i = 0; i < nm->naddrs; i++)
        if (nm->addrs[i].reported)
            emit_to(nm, fn, ud, TERN_NET_ADDR_ADDED, nm->addrs[i].ifindex, &nm->addrs[i].addr);
    for (int f = 0; f < 2; f++)
        if (nm->def_ifindex[f]) {
            tern_addr src = nm->def_src[f];
            src.u.sa.sa_family = (sa_family_t)fam[f];
            emit_to(nm, fn, ud, TERN_NET_DEFAULT_CHANGED, nm->def_ifindex[f], &src);
        }
}

/* ---- socket ---------------------------------------------------------------------------------- */

void tern_netmon_init(tern_netmon *nm, tern_netmon_emit_fn emit_fn, void *ud)
{
    memset(nm, 0, sizeof(*nm));
    nm->fd = -1;
    nm->emit = emit_fn;
    nm->ud = ud;
}

/* Sends the request for the next pending dump (links, then addresses, then routes). */
static int request_dump(tern_netmon *nm)
{
    unsigned kind = (nm->pending & TERN_NETMON_DUMP_LINK)   ? TERN_NETMON_DUMP_LINK
                    : (nm->pending & TERN_NETMON_DUMP_ADDR) ? TERN_NETMON_DUMP_ADDR
                                                            : TERN_NETMON_DUMP_ROUTE;
    struct {
        struct nlmsghdr h;
        union {
            struct ifinfomsg ifi;
            struct ifaddrmsg ifa;
            struct rtmsg rtm;
        } u;
    } req;
    memset(&req, 0, sizeof(req));
    size_t body = kind == TERN_NETMON_DUMP_LINK   ? sizeof(req.u.ifi)
                  : kind == TERN_NETMON_DUMP_ADDR ? sizeof(req.u.ifa)
                                                  : sizeof(req.u.rtm);
    req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body); /* a header and one fixed struct */
    req.h.nlmsg_type = kind == TERN_NETMON_DUMP_LINK   ? RTM_GETLINK
                       : kind == TERN_NETMON_DUMP_ADDR ? RTM_GETADDR
                                                       : RTM_GETROUTE;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = ++nm->seq;
    /* family AF_UNSPEC (zero): every family in one dump */
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n;
    do
        n = sendto(nm->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return TERN_ERR_IO;
    tern_netmon_begin_dump(nm, kind, req.h.nlmsg_seq);
    return 0;
}

int tern_netmon_open(tern_netmon *nm)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return TERN_ERR_IO;
    int rcvbuf = TERN_NETMON_RCVBUF;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* best effort */
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
                                          RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE};
    socklen_t sl = sizeof(sa);
    uint8_t *buf = malloc(TERN_NETMON_BUF);
    int rv = TERN_ERR_IO;
    if (!buf) {
        rv = TERN_ERR_NOMEM;
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        goto fail;
    nm->fd = fd;
    nm->portid = sa.nl_pid;
    nm->buf = buf;
    nm->pending = TERN_NETMON_DUMP_ALL;
    if ((rv = request_dump(nm))) {
        int e = errno;
        nm->fd = -1;
        nm->buf = NULL;
        errno = e;
        goto fail;
    }
    return 0;
fail:;
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return rv;
}

int tern_netmon_read(tern_netmon *nm)
{
    if (nm->fd < 0)
        return 0;
    for (int round = 0; round < NM_READS_PER_CALL; round++) {
        if (!nm->dumping && nm->pending && request_dump(nm))
            return TERN_ERR_IO;
        struct sockaddr_nl from;
        struct iovec iov = {.iov_base = nm->buf, .iov_len = TERN_NETMON_BUF};
        struct msghdr mh = {
            .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(nm->fd, &mh, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == ENOBUFS) {
                /* notifications were lost: read everything again once the dump (if any) is over */
                nm->st.overruns++;
                nm->pending |= TERN_NETMON_DUMP_ALL;
                continue;
            }
            return TERN_ERR_IO;
        }
        if (mh.msg_namelen < sizeof(from) || from.nl_pid != 0)
            continue; /* only the kernel speaks on this socket */
        if (mh.msg_flags & MSG_TRUNC) {
            nm->st.overruns++;
            nm->pending |= TERN_NETMON_DUMP_ALL;
            continue;
        }
        (void)tern_netmon_input(nm, nm->buf, (size_t)n); /* malformed parts are counted */
    }
    return 0;
}

void tern_netmon_close(tern_netmon *nm)
{
    if (nm->fd >= 0)
        close(nm->fd);
    nm->fd = -1;
    free(nm->buf);
    nm->buf = NULL;
}
