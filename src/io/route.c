/* Route lookups from a source address: connect() on an unbound-port UDP socket makes the kernel
 * choose a route for exactly that (source, destination) pair, which is what the path would use. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "route.h"

int tern_route_usable(const tern_addr *local, const tern_addr *remote)
{
    if (!local || !remote || !local->len || !remote->len)
        return TERN_ERR_INVALID_ARG;
    int fam = local->u.sa.sa_family;
    if ((fam != AF_INET && fam != AF_INET6) || remote->u.sa.sa_family != fam)
        return TERN_ERR_INVALID_ARG;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return TERN_ERR_IO;
    tern_addr src = *local;
    if (fam == AF_INET)
        src.u.in.sin_port = 0;
    else
        src.u.in6.sin6_port = 0;
    int rv = 0;
    if (bind(fd, &src.u.sa, src.len) < 0)
        rv = TERN_ERR_BIND;
    else if (connect(fd, &remote->u.sa, remote->len) < 0)
        rv = TERN_ERR_IO;
    int e = errno;
    close(fd);
    errno = e;
    return rv;
}

size_t tern_route_max_udp(const tern_addr *local, const tern_addr *remote)
{
    if (!local || !remote || !remote->len)
        return 0;
    int fam = remote->u.sa.sa_family;
    if (fam != AF_INET && fam != AF_INET6)
        return 0;
    int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return 0;
    int e = errno;
    int mtu = 0;
    socklen_t ml = sizeof(mtu);
    tern_addr src = *local;
    int bind_src = local->len && local->u.sa.sa_family == fam;
    if (bind_src && fam == AF_INET) {
        src.u.in.sin_port = 0;
        bind_src = src.u.in.sin_addr.s_addr != 0;
    } else if (bind_src) {
        src.u.in6.sin6_port = 0;
        bind_src = !IN6_IS_ADDR_UNSPECIFIED(&src.u.in6.sin6_addr);
    }
    /* the source decides the route (policy routing), so it is bound when the path has one */
    if ((bind_src && bind(fd, &src.u.sa, src.len) < 0) ||
        connect(fd, &remote->u.sa, remote->len) < 0 ||
        getsockopt(fd, fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
                   fam == AF_INET ? IP_MTU : IPV6_MTU, &mtu, &ml) < 0)
        mtu = 0;
    close(fd);
    errno = e;
    size_t hdr = fam == AF_INET ? 28 : 48;
    return mtu > 0 && (size_t)mtu > hdr ? (size_t)mtu - hdr : 0;
}
