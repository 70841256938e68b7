/* UDP datapath: sockets, recvmmsg with per-datagram local address / ECN / GRO segment size, and
 * sendmmsg with UDP GSO. See udp.h. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg, in6_pktinfo */
#include "udp.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define SOCK_BUF_BYTES (8 << 20)

/* Receive ancillary data: a pktinfo of either family, TOS/TCLASS of either family, GRO size. */
#define RX_CTRL_LEN                                                                                \
    (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)) +              \
     2 * CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(int)) + 64)
/* Send ancillary data: one pktinfo, a GSO segment size and the ECN bits (TOS or TCLASS). */
#define TX_CTRL_LEN                                                                                \
    (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)) +                       \
     CMSG_SPACE(sizeof(int)))

typedef union {
    char buf[RX_CTRL_LEN];
    struct cmsghdr align;
} rx_ctrl;

typedef union {
    char buf[TX_CTRL_LEN];
    struct cmsghdr align;
} tx_ctrl;

struct tern_udp_rx {
    struct mmsghdr msg[TERN_UDP_RX_BATCH];
    struct iovec iov[TERN_UDP_RX_BATCH];
    struct sockaddr_storage name[TERN_UDP_RX_BATCH];
    rx_ctrl ctrl[TERN_UDP_RX_BATCH];
    uint8_t *data;
};

struct tern_udp_tx {
    struct mmsghdr msg[TERN_UDP_TX_MSGS];
    struct iovec iov[TERN_UDP_TX_MSGS];
    tx_ctrl ctrl[TERN_UDP_TX_MSGS];
    size_t segs[TERN_UDP_TX_MSGS]; /* datagrams carried by each message */
    struct sockaddr_in6 dst6;      /* an IPv4 destination mapped for an IPv6 socket */
    tern_udp_counters cnt;
};

static int real_sendmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags)
{
    return sendmmsg(fd, msgs, n, flags);
}

static tern_udp_sendmmsg_fn do_sendmmsg = real_sendmmsg;

void tern_udp_set_sendmmsg(tern_udp_sendmmsg_fn fn)
{
    do_sendmmsg = fn ? fn : real_sendmmsg;
}

tern_udp_rx *tern_udp_rx_new(void)
{
    tern_udp_rx *rx = calloc(1, sizeof(*rx));
    if (!rx)
        return NULL;
    rx->data = malloc((size_t)TERN_UDP_RX_BATCH * TERN_UDP_RX_SLOT);
    if (!rx->data) {
        free(rx);
        return NULL;
    }
    for (size_t i = 0; i < TERN_UDP_RX_BATCH; i++) {
        rx->iov[i].iov_base = rx->data + i * TERN_UDP_RX_SLOT;
        rx->iov[i].iov_len = TERN_UDP_RX_SLOT;
        rx->msg[i].msg_hdr.msg_iov = &rx->iov[i];
        rx->msg[i].msg_hdr.msg_iovlen = 1;
        rx->msg[i].msg_hdr.msg_name = &rx->name[i];
        rx->msg[i].msg_hdr.msg_control = rx->ctrl[i].buf;
    }
    return rx;
}

void tern_udp_rx_free(tern_udp_rx *rx)
{
    if (!rx)
        return;
    free(rx->data);
    free(rx);
}

tern_udp_tx *tern_udp_tx_new(void)
{
    return calloc(1, sizeof(tern_udp_tx));
}

void tern_udp_tx_free(tern_udp_tx *tx)
{
    free(tx);
}

const tern_udp_counters *tern_udp_tx_counters(const tern_udp_tx *tx)
{
    return &tx->cnt;
}

static int is_any(const tern_addr *a)
{
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
}

static void set_int(int fd, int level, int opt, int v)
{
    (void)setsockopt(fd, level, opt, &v, sizeof(v));
}

/* Large buffers absorb bursts at high rates. The FORCE variants bypass net.core.[rw]mem_max but
 * need CAP_NET_ADMIN; without it the plain option gives what the sysctl allows. */
static void set_buffers(int fd)
{
    int v = SOCK_BUF_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
        set_int(fd, SOL_SOCKET, SO_RCVBUF, v);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
        set_int(fd, SOL_SOCKET, SO_SNDBUF, v);
}

static int udp_open(tern_udp_sock *s, const tern_addr *addr, int reuseport);

int tern_udp_open(tern_udp_sock *s, const tern_addr *addr)
{
    return udp_open(s, addr, 0);
}

int tern_udp_open_reuseport(tern_udp_sock *s, const tern_addr *addr)
{
    return udp_open(s, addr, 1);
}

static int udp_open(tern_udp_sock *s, const tern_addr *addr, int reuseport)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    if (!addr)
        return TERN_ERR_INVALID_ARG;
    int fam = addr->u.sa.sa_family;
    socklen_t alen;
    if (fam == AF_INET)
        alen = sizeof(struct sockaddr_in);
    else if (fam == AF_INET6)
        alen = sizeof(struct sockaddr_in6);
    else
        return TERN_ERR_INVALID_ARG;

    int e, fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return TERN_ERR_IO;
    s->fd = fd;
    s->family = fam;
    s->wildcard = is_any(addr);

    if (fam == AF_INET6) {
        /* Dual stack only for any-address binds: a specific IPv6 address cannot receive IPv4. */
        int mapped = IN6_IS_ADDR_V4MAPPED(&addr->u.in6.sin6_addr);
        set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, (s->wildcard || mapped) ? 0 : 1);
        set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
        set_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
        set_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE);
        if (s->wildcard || mapped) {
            /* IPv4 traffic on a dual-stack socket reports its TOS only through the IPv4 option. */
            set_int(fd, IPPROTO_IP, IP_RECVTOS, 1);
            set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
        }
    } else {
        set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
        set_int(fd, IPPROTO_IP, IP_RECVTOS, 1);
        /* DF set (RFC 9000 §14), without letting a cached path MTU fail our sends. */
        set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
    }
    set_buffers(fd);

    int seg = 0;
    socklen_t sl = sizeof(seg);
    s->gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, &sl) == 0;
    int one = 1;
    s->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;

    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, &addr->u.sa, alen) != 0)
        goto fail;
    s->local.len = sizeof(s->local.u);
    if (getsockname(fd, &s->local.u.sa, &s->local.len) != 0)
        goto fail;
    return 0;

fail:
    e = errno;
    close(fd);
    s->fd = -1;
    errno = e;
    return TERN_ERR_IO;
}

void tern_udp_close(tern_udp_sock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->pend);
    s->pend = NULL;
    s->pend_cap = s->pend_len = 0;
    s->blocked = 0;
}

/* The datagram's local address: the bound one, with the IP taken from pktinfo for wildcard binds.
 * Connected paths compare addresses exactly, so non-wildcard sockets always report their bind. */
static void parse_rx_ctrl(const tern_udp_sock *s, struct msghdr *mh, tern_udp_dgram *d)
{
    int tos = -1, tclass = -1;
    d->path.local = s->local;
    d->seg = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO && s->wildcard &&
            s->family == AF_INET) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            d->path.local.u.in.sin_addr = pi.ipi_addr;
        } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO && s->wildcard &&
                   s->family == AF_INET6) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            d->path.local.u.in6.sin6_addr = pi.ipi6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
                d->path.local.u.in6.sin6_scope_id = (uint32_t)pi.ipi6_ifindex;
        } else if (cm->cmsg_level == IPPROTO_IP &&
                   (cm->cmsg_type == IP_TOS || cm->cmsg_type == IP_RECVTOS)) {
            uint8_t v;
            memcpy(&v, CMSG_DATA(cm), 1);
            tos = v;
        } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_TCLASS) {
            int v;
            memcpy(&v, CMSG_DATA(cm), sizeof(v));
            tclass = v;
        } else if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
            int v;
            memcpy(&v, CMSG_DATA(cm), sizeof(v));
            if (v > 0 && (size_t)v < d->len)
                d->seg = (size_t)v;
        }
    }
    d->ecn = (tos >= 0 ? tos : tclass >= 0 ? tclass : 0) & 3;
}

int tern_udp_recv(tern_udp_sock *s, tern_udp_rx *rx, tern_udp_dgram *out)
{
    for (size_t i = 0; i < TERN_UDP_RX_BATCH; i++) {
        struct msghdr *mh = &rx->msg[i].msg_hdr;
        mh->msg_namelen = sizeof(rx->name[i]);
        mh->msg_controllen = sizeof(rx->ctrl[i].buf);
        mh->msg_flags = 0;
        rx->msg[i].msg_len = 0;
    }
    int n;
    do {
        n = recvmmsg(s->fd, rx->msg, TERN_UDP_RX_BATCH, 0, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        /* ICMP-reported errors on an unconnected socket are not fatal: the next call continues. */
        if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
            return 0;
        return TERN_ERR_IO;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        struct msghdr *mh = &rx->msg[i].msg_hdr;
        size_t len = rx->msg[i].msg_len;
        if ((mh->msg_flags & MSG_TRUNC) || len == 0 || mh->msg_namelen > sizeof(out->path.remote.u))
            continue;
        tern_udp_dgram *d = &out[k];
        d->data = rx->data + (size_t)i * TERN_UDP_RX_SLOT;
        d->len = len;
        memset(&d->path.remote, 0, sizeof(d->path.remote));
        memcpy(&d->path.remote.u, &rx->name[i], mh->msg_namelen);
        d->path.remote.len = mh->msg_namelen;
        parse_rx_ctrl(s, mh, d);
        k++;
    }
    return k;
}

int tern_udp_enable_errors(tern_udp_sock *s, int on)
{
    int rv;

    if (s->family == AF_INET6) {
        rv = setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
        /* IPv4 peers of a dual-stack socket report through the IPv4 option; harmless otherwise. */
        (void)setsockopt(s->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
    } else {
        rv = setsockopt(s->fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
    }
    if (rv != 0)
        return TERN_ERR_IO;
    s->errqueue = on;
    return 0;
}

int tern_udp_read_error(tern_udp_sock *s, tern_udp_error *out)
{
    /* The offending datagram's first bytes come back as data: not needed, so a tiny buffer (the
     * rest is discarded with MSG_TRUNC set). */
    uint8_t data[8];
    struct sockaddr_storage name;
    union {
        char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6)) * 2];
        struct cmsghdr align;
    } ctrl;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    struct msghdr mh;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_name = &name;
    mh.msg_namelen = sizeof(name);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl.buf;
    mh.msg_controllen = sizeof(ctrl.buf);
    do {
        n = recvmsg(s->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : TERN_ERR_IO;
    memset(out, 0, sizeof(*out));
    if (mh.msg_namelen > 0 && mh.msg_namelen <= sizeof(out->dest.u)) {
        memcpy(&out->dest.u, &name, mh.msg_namelen);
        out->dest.len = mh.msg_namelen;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (!((cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR) ||
              (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
            continue;
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
        out->err = (int)ee.ee_errno;
        out->icmp = ee.ee_origin == SO_EE_ORIGIN_ICMP || ee.ee_origin == SO_EE_ORIGIN_ICMP6;
    }
    return 1;
}

/* Fills message i with buf[0..len) (segments of `seg` bytes when seg != 0), marked with ECN
 * codepoint `ecn` (every segment of a GSO message carries it). */
static void build_msg(tern_udp_sock *s, tern_udp_tx *tx, size_t i, const tern_path_addr *path,
                      const uint8_t *buf, size_t len, size_t seg, int ecn)
{
    struct msghdr *mh = &tx->msg[i].msg_hdr;
    memset(mh, 0, sizeof(*mh));
    /* sendmsg only reads through these pointers, which POSIX does not declare const */
    tx->iov[i].iov_base = (void *)(uintptr_t)buf;
    tx->iov[i].iov_len = len;
    mh->msg_iov = &tx->iov[i];
    mh->msg_iovlen = 1;
    if (s->family == AF_INET6 && path->remote.u.sa.sa_family == AF_INET) {
        mh->msg_name = &tx->dst6;
        mh->msg_namelen = sizeof(tx->dst6);
    } else {
        mh->msg_name = (void *)(uintptr_t)&path->remote.u.sa;
        mh->msg_namelen = path->remote.len;
    }

    size_t clen = 0;
    char *cbuf = tx->ctrl[i].buf;
    memset(cbuf, 0, sizeof(tx->ctrl[i].buf));
    mh->msg_control = cbuf;
    mh->msg_controllen = sizeof(tx->ctrl[i].buf);
    struct cmsghdr *cm = CMSG_FIRSTHDR(mh);

    if (s->wildcard && path->local.len && !is_any(&path->local)) {
        if (s->family == AF_INET && path->local.u.sa.sa_family == AF_INET) {
            struct in_pktinfo pi;
            memset(&pi, 0, sizeof(pi));
            pi.ipi_spec_dst = path->local.u.in.sin_addr;
            cm->cmsg_level = IPPROTO_IP;
            cm->cmsg_type = IP_PKTINFO;
            cm->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
            clen += CMSG_SPACE(sizeof(pi));
            cm = CMSG_NXTHDR(mh, cm);
        } else if (s->family == AF_INET6) {
            /* IPv4 sources on a dual-stack socket travel as mapped addresses in IPV6_PKTINFO. */
            struct in6_pktinfo pi;
            memset(&pi, 0, sizeof(pi));
            if (path->local.u.sa.sa_family == AF_INET) {
                pi.ipi6_addr.s6_addr[10] = 0xff;
                pi.ipi6_addr.s6_addr[11] = 0xff;
                memcpy(&pi.ipi6_addr.s6_addr[12], &path->local.u.in.sin_addr, 4);
            } else {
                pi.ipi6_addr = path->local.u.in6.sin6_addr;
                pi.ipi6_ifindex = path->local.u.in6.sin6_scope_id;
            }
            cm->cmsg_level = IPPROTO_IPV6;
            cm->cmsg_type = IPV6_PKTINFO;
            cm->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
            clen += CMSG_SPACE(sizeof(pi));
            cm = CMSG_NXTHDR(mh, cm);
        }
    }
    if (seg && len > seg) {
        uint16_t v = (uint16_t)seg;
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(v));
        memcpy(CMSG_DATA(cm), &v, sizeof(v));
        clen += CMSG_SPACE(sizeof(v));
        cm = CMSG_NXTHDR(mh, cm);
    }
    if (ecn & 3) {
        /* An IPv4 destination of a dual-stack socket leaves as IPv4: its TOS is the IPv4
         * option's, as on receive. */
        int v = ecn & 3;
        int v4 = s->family == AF_INET || path->remote.u.sa.sa_family == AF_INET ||
                 IN6_IS_ADDR_V4MAPPED(&path->remote.u.in6.sin6_addr);
        cm->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
        cm->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
        cm->cmsg_len = CMSG_LEN(sizeof(v));
        memcpy(CMSG_DATA(cm), &v, sizeof(v));
        clen += CMSG_SPACE(sizeof(v));
    }
    mh->msg_controllen = clen;
    if (!clen)
        mh->msg_control = NULL;
}

/* Sends buf[0..len) from *off on; advances *off past what the kernel took or what was dropped for
 * good. Returns 0 when done, TERN_ERR_WOULD_BLOCK on EAGAIN. */
static int send_batch(tern_udp_sock *s, tern_udp_tx *tx, const tern_path_addr *path,
                      const uint8_t *buf, size_t len, size_t seg, int ecn, size_t *off)
{
    if (s->family == AF_INET6 && path->remote.u.sa.sa_family == AF_INET) {
        memset(&tx->dst6, 0, sizeof(tx->dst6));
        tx->dst6.sin6_family = AF_INET6;
        tx->dst6.sin6_port = path->remote.u.in.sin_port;
        tx->dst6.sin6_addr.s6_addr[10] = 0xff;
        tx->dst6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&tx->dst6.sin6_addr.s6_addr[12], &path->remote.u.in.sin_addr, 4);
    }
    if (seg == 0 || seg > len)
        seg = len;
    while (*off < len) {
        size_t per_msg = 1;
        if (s->gso && seg < len) {
            per_msg = TERN_UDP_GSO_MAX_BYTES / seg;
            if (per_msg > TERN_UDP_MAX_GSO_SEGS)
                per_msg = TERN_UDP_MAX_GSO_SEGS;
            if (per_msg == 0)
                per_msg = 1;
        }
        size_t nmsg = 0, pos = *off;
        while (pos < len && nmsg < TERN_UDP_TX_MSGS) {
            size_t chunk = per_msg * seg;
            if (chunk > len - pos)
                chunk = len - pos;
            build_msg(s, tx, nmsg, path, buf + pos, chunk, per_msg > 1 ? seg : 0, ecn);
            tx->segs[nmsg] = (chunk + seg - 1) / seg;
            pos += chunk;
            nmsg++;
        }
        int n = do_sendmmsg(s->fd, tx->msg, (unsigned)nmsg, 0);
        if (n > 0) {
            for (int i = 0; i < n; i++) {
                *off += tx->iov[i].iov_len;
                tx->cnt.dgrams_sent += tx->segs[i];
                tx->cnt.bytes_sent += tx->iov[i].iov_len;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return TERN_ERR_WOULD_BLOCK;
        if (n < 0 && (errno == EIO || errno == EINVAL) && per_msg > 1) {
            /* The device or kernel refused segmentation offload: never try it again here. */
            s->gso = 0;
            tx->cnt.gso_fallbacks++;
            continue;
        }
        /* Unreachable destination, message too large, ...: the datagrams are lost. Errors saying
         * the local address or its network is gone are kept for the owner to act on. */
        tx->cnt.send_errors++;
        tern_path_reason why = tern_udp_error_reason(errno);
        if (why != TERN_PATH_WHY_NONE) {
            s->path_errors++;
            s->path_error_why = why;
        }
        *off += tx->iov[0].iov_len;
    }
    return 0;
}

static int keep_pending(tern_udp_sock *s, const tern_path_addr *path, const uint8_t *rest,
                        size_t len, size_t seg, int ecn)
{
    if (s->pend_cap < len) {
        /* Sized for a full batch on first use, so this happens once per socket in practice. */
        size_t cap =
            len < (size_t)TERN_UDP_MAX_GSO_SEGS * 1500 ? (size_t)TERN_UDP_MAX_GSO_SEGS * 1500 : len;
        uint8_t *p = realloc(s->pend, cap);
        if (!p)
            return TERN_ERR_NOMEM;
        s->pend = p;
        s->pend_cap = cap;
    }
    memmove(s->pend, rest, len);
    s->pend_len = len;
    s->pend_seg = seg;
    s->pend_ecn = ecn;
    if (path != &s->pend_path)
        s->pend_path = *path;
    s->blocked = 1;
    return TERN_ERR_WOULD_BLOCK;
}

int tern_udp_send(tern_udp_sock *s, tern_udp_tx *tx, const tern_path_addr *path, const uint8_t *buf,
                  size_t len, size_t seg, int ecn)
{
    if (s->blocked)
        return TERN_ERR_WOULD_BLOCK;
    size_t off = 0;
    if (send_batch(s, tx, path, buf, len, seg, ecn, &off) == 0)
        return 0;
    return keep_pending(s, path, buf + off, len - off, seg, ecn);
}

int tern_udp_send_one(tern_udp_sock *s, tern_udp_tx *tx, const tern_path_addr *path,
                      const uint8_t *buf, size_t len)
{
    if (s->blocked)
        return TERN_ERR_WOULD_BLOCK;
    size_t off = 0;
    return send_batch(s, tx, path, buf, len, 0, 0, &off);
}

int tern_udp_send_pending(tern_udp_sock *s, tern_udp_tx *tx)
{
    if (!s->blocked)
        return 0;
    size_t off = 0;
    if (send_batch(s, tx, &s->pend_path, s->pend, s->pend_len, s->pend_seg, s->pend_ecn, &off) ==
        0) {
        s->blocked = 0;
        s->pend_len = 0;
        return 0;
    }
    memmove(s->pend, s->pend + off, s->pend_len - off);
    s->pend_len -= off;
    return TERN_ERR_WOULD_BLOCK;
}

tern_path_reason tern_udp_error_reason(int err)
{
    switch (err) {
    case ENETDOWN:
    case ENODEV:
        return TERN_PATH_WHY_INTERFACE_GONE;
    case EADDRNOTAVAIL:
        return TERN_PATH_WHY_ADDRESS_GONE;
    case ENETUNREACH:
    case EHOSTUNREACH:
        return TERN_PATH_WHY_SOCKET_ERROR;
    default:
        return TERN_PATH_WHY_NONE;
    }
}
