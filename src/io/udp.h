/* Non-blocking UDP sockets for the runtime: opening with large buffers and the ancillary data QUIC
 * needs (destination address per datagram for wildcard binds, ECN, GRO), batched receive
 * (recvmmsg) and batched send (sendmmsg + UDP GSO, with a fallback to one datagram per message when
 * GSO is refused). A batch the kernel could not take (EAGAIN) is kept in the socket until it is
 * writable again. ICMP errors can be asked for and read from the socket's error queue. Batch
 * buffers are preallocated by the caller; nothing here allocates per datagram. */
#ifndef TERN_IO_UDP_H
#define TERN_IO_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "tern/tern.h"

#define TERN_UDP_RX_BATCH 32         /* messages per recvmmsg */
#define TERN_UDP_RX_SLOT 65536       /* bytes per message slot (a GRO train can fill 64 KiB) */
#define TERN_UDP_TX_MSGS 64          /* messages per sendmmsg */
#define TERN_UDP_MAX_GSO_SEGS 64     /* kernel limit on segments per GSO send */
#define TERN_UDP_GSO_MAX_BYTES 65000 /* stay below the 64 KiB IP payload limit */

typedef struct tern_udp_sock {
    int fd;
    int family;      /* AF_INET / AF_INET6 */
    tern_addr local; /* as bound (port resolved) */
    int wildcard;    /* bound to the any-address: datagrams carry their local address */
    int gso;         /* UDP_SEGMENT usable */
    int gro;         /* UDP_GRO enabled */
    int blocked;     /* EAGAIN seen: a pending batch waits for writability */
    /* The unsent part of a batch after EAGAIN (the buffer is allocated once, on first need). */
    uint8_t *pend;
    size_t pend_cap, pend_len, pend_seg;
    int pend_ecn;
    tern_path_addr pend_path;
    void *owner; /* the runtime's tag: the client connection that owns it, or NULL */
    uint64_t path_errors; /* sends that failed because the local address or network is gone */
    int errqueue;         /* ICMP errors are queued (tern_udp_enable_errors) */
    tern_path_reason path_error_why; /* what the last of them means (tern_udp_error_reason) */
    int dead;    /* closed during this loop iteration; freed at its end */
    struct tern_udp_sock *next_dead;
} tern_udp_sock;

/* One received datagram, or a GRO train of `len` bytes cut into segments of `seg` bytes (the last
 * may be shorter; seg == 0 means a single datagram). */
typedef struct tern_udp_dgram {
    uint8_t *data;
    size_t len;
    size_t seg;
    tern_path_addr path;
    int ecn;
} tern_udp_dgram;

/* Preallocated state for one recvmmsg batch. */
typedef struct tern_udp_rx tern_udp_rx;
/* Preallocated state for one sendmmsg call, plus counters. */
typedef struct tern_udp_tx tern_udp_tx;

typedef struct tern_udp_counters {
    uint64_t dgrams_sent, bytes_sent, send_errors, gso_fallbacks;
} tern_udp_counters;

tern_udp_rx *tern_udp_rx_new(void);
void tern_udp_rx_free(tern_udp_rx *rx);
tern_udp_tx *tern_udp_tx_new(void);
void tern_udp_tx_free(tern_udp_tx *tx);
const tern_udp_counters *tern_udp_tx_counters(const tern_udp_tx *tx);

/* Opens a socket bound to `addr` (port 0 = ephemeral). IPv6 any-address sockets accept IPv4 too.
 * Returns 0, TERN_ERR_INVALID_ARG (not IPv4/IPv6) or TERN_ERR_IO (errno kept). */
int tern_udp_open(tern_udp_sock *s, const tern_addr *addr);
/* tern_udp_open with SO_REUSEPORT set before the bind: the socket joins (or starts) the group of
 * sockets bound to the same address by this user; the kernel numbers them in bind order, which
 * is what a steering program attached to the group returns (src/io/workers.c). */
int tern_udp_open_reuseport(tern_udp_sock *s, const tern_addr *addr);
void tern_udp_close(tern_udp_sock *s);

/* An error the kernel reported for a datagram the socket sent. */
typedef struct tern_udp_error {
    int err;        /* errno value: ECONNREFUSED for a port unreachable, EHOSTUNREACH, EMSGSIZE... */
    int icmp;       /* 1 when an ICMP or ICMPv6 message reported it, 0 for a local error */
    tern_addr dest; /* where the failed datagram was going */
} tern_udp_error;

/* Asks the kernel to queue the ICMP errors of the socket's datagrams (IP_RECVERR, IPV6_RECVERR;
 * `on` 0 stops it): an unconnected UDP socket never hears of them otherwise. Queued errors raise
 * EPOLLERR until tern_udp_read_error has read them all, and the latest one also fails the next
 * send, once. Sets s->errqueue. Returns 0 or TERN_ERR_IO (errno kept). */
int tern_udp_enable_errors(tern_udp_sock *s, int on);

/* Reads one queued error (MSG_ERRQUEUE). Returns 1 with *out filled, 0 when the queue is empty, or
 * TERN_ERR_IO. */
int tern_udp_read_error(tern_udp_sock *s, tern_udp_error *out);

/* Receives up to TERN_UDP_RX_BATCH messages into rx's slots. Returns the count (0 when nothing is
 * waiting) or TERN_ERR_IO. `out` must have TERN_UDP_RX_BATCH entries; they point into rx and stay
 * valid until the next call with the same rx. */
int tern_udp_recv(tern_udp_sock *s, tern_udp_rx *rx, tern_udp_dgram *out);

/* Sends datagrams laid out back to back in buf[0..len): each `seg` bytes except the last, from
 * path->local (used as source address when the socket is a wildcard bind) to path->remote, with
 * ECN codepoint `ecn` (TERN_ECN_*, 0: Not-ECT) in the TOS / traffic class of each. Returns
 * 0 when everything was handed to the kernel or dropped for good (errors other than EAGAIN lose
 * the datagrams, as a network would), TERN_ERR_WOULD_BLOCK when the socket is full: the unsent rest
 * is kept in the socket (s->blocked) and goes out with tern_udp_send_pending once writable, or
 * TERN_ERR_NOMEM when that copy could not be made (the rest is lost). A socket already blocked
 * queues nothing more: the call returns TERN_ERR_WOULD_BLOCK and the datagrams are lost. */
int tern_udp_send(tern_udp_sock *s, tern_udp_tx *tx, const tern_path_addr *path, const uint8_t *buf,
                  size_t len, size_t seg, int ecn);

/* Like tern_udp_send for one datagram that is not worth keeping (stateless replies): returns 0,
 * or TERN_ERR_WOULD_BLOCK when it could not leave now (it is then dropped). */
int tern_udp_send_one(tern_udp_sock *s, tern_udp_tx *tx, const tern_path_addr *path,
                      const uint8_t *buf, size_t len);

/* Test seam: replaces sendmmsg(2) for every socket of the process (NULL restores it), so that
 * tests can inject EAGAIN or a GSO refusal. Not for production use. */
struct mmsghdr;
typedef int (*tern_udp_sendmmsg_fn)(int fd, struct mmsghdr *msgs, unsigned int n, int flags);
void tern_udp_set_sendmmsg(tern_udp_sendmmsg_fn fn);

/* What a send error means for the path it was sent on: TERN_PATH_WHY_INTERFACE_GONE (ENETDOWN,
 * ENODEV: the interface is down or gone), TERN_PATH_WHY_ADDRESS_GONE (EADDRNOTAVAIL: the local
 * address left the host), TERN_PATH_WHY_SOCKET_ERROR (ENETUNREACH, EHOSTUNREACH: no route from that
 * address any more), or TERN_PATH_WHY_NONE for errors that only lose the datagram (EMSGSIZE, ...).
 * Any thread. */
tern_path_reason tern_udp_error_reason(int err);

/* Retries the pending batch. Returns 0 when it left (s->blocked cleared) or TERN_ERR_WOULD_BLOCK.
 */
int tern_udp_send_pending(tern_udp_sock *s, tern_udp_tx *tx);

#endif
