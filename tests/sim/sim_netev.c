/* The client host's network as its migration policy sees it: interfaces that go away and come
 * back, the network events the OS would report (addresses, links, default route), and the driver
 * hooks the policy uses (the routing table, sockets on new ports). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"
#include "sim.h"

static sim_netev_arg *act_slot(sim *s, int iface, int value)
{
    if (s->nnetev == SIM_NETEV_MAX)
        abort(); /* scenarios are code: raise the bound */
    sim_netev_arg *a = &s->netev[s->nnetev++];
    a->iface = iface;
    a->value = value;
    return a;
}

static void act_set_down(sim *s, void *arg)
{
    sim_netev_arg *a = arg;
    s->ifaces[a->iface].down = a->value;
    sim_note(s, "interface %s %s", s->ifaces[a->iface].name, a->value ? "gone" : "back");
}

void sim_iface_set_down_at(sim *s, int i, uint64_t at, int down)
{
    if (i < 0 || i >= s->niface)
        return;
    sim_at(s, at, act_set_down, act_slot(s, i, down), down ? "interface down" : "interface up");
}

static void act_net_event(sim *s, void *arg)
{
    sim_netev_arg *a = arg;
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = (tern_net_event_type)a->value;
    if (a->iface >= 0) {
        const sim_iface *f = &s->ifaces[a->iface];
        ev.ifindex = (unsigned)a->iface + 1;
        snprintf(ev.ifname, sizeof(ev.ifname), "%s", f->name);
        ev.addr = f->addr;
        ev.addr.u.in.sin_port = 0;
    }
    sim_note(s, "network: %s %s", tern_net_event_str(ev.type),
             a->iface >= 0 ? s->ifaces[a->iface].name : "(none)");
    if (s->client && !s->client_done)
        tern_conn_network_event(s->client, &ev, s->now);
}

void sim_net_event_at(sim *s, uint64_t at, tern_net_event_type type, int i)
{
    if (i >= s->niface)
        return;
    sim_at(s, at, act_net_event, act_slot(s, i, (int)type), "network event");
}

int sim_hook_route_usable(void *ud, tern_conn *c, const tern_addr *local, const tern_addr *remote)
{
    sim *s = ud;
    (void)c;
    (void)remote;
    int i = sim_iface_by_ip(s, local);
    if (i < 0 || s->ifaces[i].down)
        return TERN_ERR_BIND; /* no such address on the host */
    return s->ifaces[i].no_route ? TERN_ERR_IO : 0;
}

int sim_hook_bind_local(void *ud, tern_conn *c, const tern_addr *local, tern_addr *bound)
{
    sim *s = ud;
    (void)c;
    int i = sim_iface_by_ip(s, local);
    if (i < 0 || s->ifaces[i].down)
        return TERN_ERR_BIND;
    sim_iface *f = &s->ifaces[i];
    if (f->next_port < 20000)
        f->next_port = 20000;
    *bound = *local;
    bound->u.in.sin_port = htons(f->next_port++);
    return 0;
}

size_t sim_hook_path_mtu(void *ud, tern_conn *c, const tern_path_addr *path)
{
    sim *s = ud;
    int i = c == s->client ? sim_iface_by_ip(s, &path->local)
                           : sim_iface_for_dst(s, &path->remote);
    return i >= 0 ? s->ifaces[i].if_mtu : 0;
}
