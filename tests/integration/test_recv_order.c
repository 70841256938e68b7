/* The order in which the runtime reads a client connection's sockets. A connection that probes a
 * second local address receives the PATH_RESPONSE on that address's socket while its active
 * socket holds a backlog of data; draining the active socket first would hand the response to the
 * connection hundreds of packets late, beyond what its truncated packet number can express
 * (RFC 9000 §17.1), and the response would fail authentication. The peer here is a plain UDP
 * socket on 127.0.0.1 that fills the active socket with datagrams and then sends one to the second
 * socket (127.0.0.2), either before the endpoint wakes up or while it reads the backlog; a receive
 * hook records the order in which the endpoint processes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/udp.h"
#include "tern/tern.h"

#define BACKLOG 160 /* datagrams waiting on the active socket: five batches */

typedef struct order {
    tern_addr second; /* the added local address */
    int seen;         /* datagrams processed */
    int second_at;    /* 1-based position of the one on the second socket (0 = not yet) */
    int send_after;   /* send the datagram to the second socket once this many were processed */
    int sent_at;      /* how many had been processed when it was sent */
    int peer_fd;
} order;

static void send_to(int fd, const tern_addr *to);

static tern_hook_verdict on_recv(void *ud, tern_path_addr *path, uint8_t *data, size_t len,
                                 uint64_t *delay_ns)
{
    order *o = ud;
    (void)data;
    (void)len;
    (void)delay_ns;
    o->seen++;
    if (tern_addr_equal(&path->local, &o->second) && !o->second_at)
        o->second_at = o->seen;
    if (o->send_after && o->seen == o->send_after) {
        send_to(o->peer_fd, &o->second); /* arrives while the backlog is being read */
        o->sent_at = o->seen;
    }
    return TERN_HOOK_PASS;
}

static int udp_socket_on(const char *ip, tern_addr *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    memset(bound, 0, sizeof(*bound));
    bound->len = sizeof(bound->u);
    assert_int_equal(getsockname(fd, &bound->u.sa, &bound->len), 0);
    return fd;
}

static void send_to(int fd, const tern_addr *to)
{
    uint8_t junk[96] = {0}; /* no QUIC packet: dropped after the hook has seen it */
    assert_int_equal(sendto(fd, junk, sizeof(junk), 0, &to->u.sa, to->len), (ssize_t)sizeof(junk));
}

/* Queues BACKLOG datagrams on the active socket and one on the second socket (before the endpoint
 * reads, or from the hook once `send_after` were processed); returns how many datagrams were
 * processed between its sending and its processing. */
static int second_socket_delay(int send_after)
{
    tern_addr peer;
    int pfd = udp_socket_on("127.0.0.1", &peer);

    static const char *const alpn[] = {"h3"};
    tern_config cfg;
    tern_config_init(&cfg);
    cfg.alpn = alpn;
    cfg.alpn_count = 1;
    cfg.verify_peer = 0;
    tern_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    tern_endpoint *ep = NULL;
    assert_int_equal(tern_endpoint_new(&cfg, &cb, NULL, &ep), 0);
    order o;
    memset(&o, 0, sizeof(o));
    tern_datapath_hooks hooks = {.on_recv = on_recv, .ud = &o};
    assert_int_equal(tern_endpoint_set_datapath_hooks(ep, &hooks), 0);

    tern_conn *c = NULL;
    assert_int_equal(tern_endpoint_connect(ep, &peer, NULL, NULL, &c), 0);
    tern_path_addr active;
    tern_conn_get_path(c, &active);

    /* the second address's socket, on a port the system picked for a socket closed just before */
    tern_addr second;
    int tmp = udp_socket_on("127.0.0.2", &second);
    close(tmp);
    assert_true(tern_conn_add_local_address(c, &second) >= 0);
    o.second = second;
    o.peer_fd = pfd;
    /* the client's Initial leaves (and is ignored) before the datagrams are queued */
    assert_int_equal(tern_endpoint_run_once(ep, 0), 0);
    o.seen = 0;

    for (int i = 0; i < BACKLOG; i++)
        send_to(pfd, &active.local);
    if (send_after)
        o.send_after = send_after;
    else
        send_to(pfd, &second);
    for (int i = 0; i < 50 && o.seen < BACKLOG + 1; i++)
        assert_int_equal(tern_endpoint_run_once(ep, 10), 0);

    assert_int_equal(o.seen, BACKLOG + 1); /* nothing lost: the backlog was really there */
    assert_true(o.second_at > o.sent_at);
    tern_endpoint_free(ep);
    close(pfd);
    return o.second_at - o.sent_at - 1;
}

/* Waiting at the wakeup: processed after at most one batch of the backlog, not after all of it. */
static void test_waiting_at_wakeup(void **st)
{
    (void)st;
    assert_true(second_socket_delay(0) <= TERN_UDP_RX_BATCH);
}

/* Arriving while the backlog is read (as a PATH_RESPONSE does): processed after at most two
 * batches of it, well inside the 128 packets that a one-byte packet number covers. */
static void test_arriving_during_reads(void **st)
{
    (void)st;
    assert_true(second_socket_delay(10) <= 2 * TERN_UDP_RX_BATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiting_at_wakeup),
        cmocka_unit_test(test_arriving_during_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
