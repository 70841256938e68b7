/* Route lookups from a source address: connect() on an unbound-port UDP socket makes the kernel
 * choose a route for exactly that (source, destination) pair, which is what the path would use. */
#include <errno.h>
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
