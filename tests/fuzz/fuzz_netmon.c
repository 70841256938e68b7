/* libFuzzer target for the rtnetlink monitor's parser. The first byte chooses a dump to be in
 * progress (its replies carry sequence 7 and port 0) and where the input splits into two reads.
 * Whatever the bytes, every event must be well formed and the events must agree with each other:
 * an address is added only when not reported yet and removed only when reported, a link goes
 * down only after it went up, and the tables stay within their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_entry.h"
#include "io/netmon.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MODEL_MAX 512

typedef struct model {
    tern_net_event ev[MODEL_MAX]; /* reported addresses (ADDR_ADDED not yet removed) */
    size_t naddr;
    unsigned up[MODEL_MAX]; /* links reported up */
    size_t nup;
} model;

static int same_addr(const tern_net_event *a, const tern_net_event *b)
{
    return a->ifindex == b->ifindex && tern_addr_equal(&a->addr, &b->addr);
}

static void on_event(void *ud, const tern_net_event *ev)
{
    model *m = ud;
    CHECK(memchr(ev->ifname, 0, sizeof(ev->ifname)));
    int fam = ev->addr.u.sa.sa_family;
    switch (ev->type) {
    case TERN_NET_ADDR_ADDED:
    case TERN_NET_ADDR_REMOVED: {
        CHECK((fam == AF_INET && ev->addr.len == sizeof(struct sockaddr_in)) ||
              (fam == AF_INET6 && ev->addr.len == sizeof(struct sockaddr_in6)));
        size_t i = 0;
        while (i < m->naddr && !same_addr(&m->ev[i], ev))
            i++;
        if (ev->type == TERN_NET_ADDR_ADDED) {
            CHECK(i == m->naddr && m->naddr < MODEL_MAX);
            m->ev[m->naddr++] = *ev;
        } else {
            CHECK(i < m->naddr);
            m->ev[i] = m->ev[--m->naddr];
        }
        break;
    }
    case TERN_NET_LINK_UP:
    case TERN_NET_LINK_DOWN: {
        CHECK(ev->ifindex != 0 && ev->addr.len == 0);
        size_t i = 0;
        while (i < m->nup && m->up[i] != ev->ifindex)
            i++;
        if (ev->type == TERN_NET_LINK_UP) {
            CHECK(i == m->nup && m->nup < MODEL_MAX);
            m->up[m->nup++] = ev->ifindex;
        } else {
            CHECK(i < m->nup);
            m->up[i] = m->up[--m->nup];
        }
        break;
    }
    case TERN_NET_DEFAULT_CHANGED:
        CHECK(fam == AF_INET || fam == AF_INET6);
        CHECK(ev->addr.len == 0 || ev->addr.len == (fam == AF_INET ? sizeof(struct sockaddr_in)
                                                                   : sizeof(struct sockaddr_in6)));
        break;
    default:
        CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static _Alignas(8) uint8_t buf[65536];
    static model m;
    static tern_netmon nm;
    if (size < 1 || size - 1 > sizeof(buf))
        return 0;
    memset(&m, 0, sizeof(m));
    tern_netmon_init(&nm, on_event, &m);
    unsigned kind = data[0] & 7;
    if (kind)
        tern_netmon_begin_dump(&nm, kind, 7);
    size_t len = size - 1, split = len ? (data[0] >> 3) * 4 % (len + 1) : 0;
    memcpy(buf, data + 1, split);
    (void)tern_netmon_input(&nm, buf, split);
    memcpy(buf, data + 1 + split, len - split);
    (void)tern_netmon_input(&nm, buf, len - split);
    CHECK(nm.nlinks <= TERN_NETMON_MAX_LINKS && nm.naddrs <= TERN_NETMON_MAX_ADDRS &&
          nm.nroutes <= TERN_NETMON_MAX_ROUTES);
    size_t reported = 0;
    for (size_t i = 0; i < nm.naddrs; i++)
        reported += nm.addrs[i].reported;
    CHECK(reported == m.naddr);
    size_t up = 0;
    for (size_t i = 0; i < nm.nlinks; i++)
        up += nm.links[i].up;
    CHECK(up == m.nup);
    return 0;
}
