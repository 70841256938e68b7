/* Route lookups from a given source: whether the host's routing table (policy routing included)
 * carries datagrams from a local address to a peer. The migration policy asks before it makes a
 * path of an address. */
#ifndef TERN_IO_ROUTE_H
#define TERN_IO_ROUTE_H

#include "tern/tern.h"

/* 0 when a UDP socket bound to `local` (its port ignored) can be connected to `remote`: the kernel
 * then found a route from that source to the peer, honouring per-source rules (ip rule from ...),
 * and the address is configured on the host. Sends nothing. Returns TERN_ERR_INVALID_ARG (NULL,
 * not IPv4/IPv6, or the families differ), TERN_ERR_BIND (the address is not on the host: errno
 * EADDRNOTAVAIL), TERN_ERR_IO (no route from there: errno ENETUNREACH, EHOSTUNREACH, EINVAL for
 * a loopback source towards another host, ... or the socket could not be created). errno is kept
 * on error. Any thread. */
int tern_route_usable(const tern_addr *local, const tern_addr *remote);

/* The largest UDP payload the kernel's route from `local` (its port ignored; the any-address or
 * len 0: the kernel's choice) to `remote` carries: the MTU of the route (the outgoing interface's,
 * or one set on the route) less the IP and UDP headers (28 bytes for IPv4, 48 for IPv6), as
 * IP_MTU / IPV6_MTU on a UDP socket connected there reports it. 0 when it cannot be told (no
 * route, the address is not on the host, not IPv4/IPv6). Sends nothing; errno is kept. Any
 * thread. */
size_t tern_route_max_udp(const tern_addr *local, const tern_addr *remote);

#endif
