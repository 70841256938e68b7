/* Network nodes of the simulator (see sim_node.h). */
#include "sim_node.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static void *node_calloc(size_t size)
{
    void *p = calloc(1, size);
    if (!p)
        abort(); /* test code: no way on without memory */
    return p;
}

static void set_name(char *buf, size_t cap, const sim *s, int iface, int dir, const char *what)
{
    snprintf(buf, cap, "%s.%s.%s", iface >= 0 ? s->ifaces[iface].name : "?",
             dir == SIM_UP ? "up" : "down", what);
}

static void free_plain(sim_node *n)
{
    free(n);
}

/* ---- link
 * ---------------------------------------------------------------------------------------- */

static void link_pop_departed(sim_link *l, uint64_t now)
{
    while (l->qn && l->q[l->qhead].depart <= now) {
        l->qbytes -= l->q[l->qhead].len;
        l->qhead = (l->qhead + 1) % l->qcap;
        l->qn--;
    }
}

static void link_push(sim_link *l, uint64_t depart, size_t len)
{
    if (l->qn == l->qcap) {
        size_t ncap = l->qcap ? 2 * l->qcap : 64;
        struct sim_link_q *nq = malloc(ncap * sizeof(*nq));
        if (!nq)
            abort();
        for (size_t i = 0; i < l->qn; i++)
            nq[i] = l->q[(l->qhead + i) % l->qcap];
        free(l->q);
        l->q = nq;
        l->qcap = ncap;
        l->qhead = 0;
    }
    l->q[(l->qhead + l->qn) % l->qcap] = (struct sim_link_q){depart, len};
    l->qn++;
    l->qbytes += len;
    if (l->qn > l->max_qpkts)
        l->max_qpkts = l->qn;
    if (l->qbytes > l->max_qbytes)
        l->max_qbytes = l->qbytes;
}

static void link_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_link *l = (sim_link *)n;
    if (l->cfg.mtu && p->len > l->cfg.mtu) {
        l->mtu_dropped++;
        sim_node_drop(s, n, p, "mtu");
        return;
    }
    uint64_t depart = s->now;
    if (l->cfg.rate_bps) {
        link_pop_departed(l, s->now);
        if ((l->cfg.queue_pkts && l->qn + 1 > l->cfg.queue_pkts) ||
            (l->cfg.queue_bytes && l->qbytes + p->len > l->cfg.queue_bytes)) {
            sim_node_drop(s, n, p, "queue full");
            return;
        }
        if (l->cfg.ce_bytes && l->qbytes >= l->cfg.ce_bytes && p->ecn != TERN_ECN_NOT_ECT) {
            p->ecn = TERN_ECN_CE;
            l->ce_marked++;
        }
        if (l->busy_until > depart)
            depart = l->busy_until;
        depart += (uint64_t)p->len * 8 * SIM_SEC / l->cfg.rate_bps;
        l->busy_until = depart;
        link_push(l, depart, p->len);
    }
    uint64_t at = depart + l->cfg.delay_ns;
    if (l->cfg.jitter_ns)
        at += sim_rng_below(&n->rng, l->cfg.jitter_ns + 1);
    if (at < l->last_arrival)
        at = l->last_arrival;
    l->last_arrival = at;
    sim_node_emit_at(s, n, p, at);
}

static void link_free(sim_node *n)
{
    sim_link *l = (sim_link *)n;
    free(l->q);
    free(l);
}

static const sim_node_ops link_ops = {"link", link_forward, link_free};

sim_link *sim_link_create(sim *s, int iface, int dir, const sim_link_cfg *cfg)
{
    sim_link *l = node_calloc(sizeof(*l));
    l->cfg = *cfg;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "link");
    l->n.iface = iface;
    l->n.dir = dir;
    sim_node_register(s, &l->n, &link_ops, name);
    return l;
}

void sim_link_set(sim_link *l, const sim_link_cfg *cfg)
{
    l->cfg = *cfg;
}

/* ---- loss
 * ---------------------------------------------------------------------------------------- */

static void loss_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_loss *l = (sim_loss *)n;
    uint64_t k = ++l->count;
    for (size_t i = 0; i < l->cfg.drop_n; i++)
        if (l->nth[i] == k) {
            sim_node_drop(s, n, p, "pattern");
            return;
        }
    uint64_t t = sim_time(s);
    if (l->cfg.until_ns && t >= l->cfg.from_ns && t < l->cfg.until_ns) {
        sim_node_drop(s, n, p, "window");
        return;
    }
    if (l->cfg.filter && l->cfg.filter(s, p, l->cfg.filter_ud)) {
        sim_node_drop(s, n, p, "filter");
        return;
    }
    if ((l->cfg.ge_p > 0 || l->cfg.ge_loss_good > 0 || l->cfg.ge_start_bad) &&
        (!l->cfg.ge_until_ns || t < l->cfg.ge_until_ns)) {
        /* transition first, then the state decides */
        double u = sim_rng_unit(&n->rng);
        if (l->ge_bad ? u < l->cfg.ge_r : u < l->cfg.ge_p)
            l->ge_bad = !l->ge_bad;
        double pl = l->ge_bad ? l->cfg.ge_loss_bad : l->cfg.ge_loss_good;
        if (pl > 0 && sim_rng_unit(&n->rng) < pl) {
            sim_node_drop(s, n, p, l->ge_bad ? "burst" : "ge-good");
            return;
        }
    }
    if (l->cfg.rate > 0 && sim_rng_unit(&n->rng) < l->cfg.rate) {
        sim_node_drop(s, n, p, "random");
        return;
    }
    sim_node_emit(s, n, p);
}

static const sim_node_ops loss_ops = {"loss", loss_forward, free_plain};

sim_loss *sim_loss_new(sim *s, int iface, int dir, const sim_loss_cfg *cfg)
{
    sim_loss *l = node_calloc(sizeof(*l));
    l->cfg = *cfg;
    if (l->cfg.drop_n > TERN_ARRAY_LEN(l->nth))
        l->cfg.drop_n = TERN_ARRAY_LEN(l->nth);
    for (size_t i = 0; i < l->cfg.drop_n; i++)
        l->nth[i] = cfg->drop_nth[i];
    l->cfg.drop_nth = NULL;
    l->ge_bad = cfg->ge_start_bad != 0;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "loss");
    l->n.iface = iface;
    l->n.dir = dir;
    sim_node_register(s, &l->n, &loss_ops, name);
    return l;
}

/* ---- duplication
 * --------------------------------------------------------------------------------- */

typedef struct sim_dup {
    sim_node n;
    double rate;
    uint64_t delay_max;
} sim_dup;

static void dup_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_dup *d = (sim_dup *)n;
    if (d->rate > 0 && sim_rng_unit(&n->rng) < d->rate) {
        sim_pkt *c = sim_pkt_clone(s, p);
        sim_tl_ev ev = {.kind = SIM_TL_DUP,
                        .node = (int16_t)n->index,
                        .who = -1,
                        .dir = (int8_t)p->dir,
                        .id = p->id,
                        .len = (uint32_t)p->len,
                        .a = (int64_t)c->id};
        ev.t = sim_time(s);
        sim_tl_add(&s->tl, &ev);
        uint64_t extra = sim_rng_below(&n->rng, d->delay_max + 1);
        sim_node_emit(s, n, p);
        sim_node_emit_at(s, n, c, s->now + extra);
        return;
    }
    sim_node_emit(s, n, p);
}

static const sim_node_ops dup_ops = {"dup", dup_forward, free_plain};

sim_node *sim_dup_new(sim *s, int iface, int dir, double rate, uint64_t delay_max_ns)
{
    sim_dup *d = node_calloc(sizeof(*d));
    d->rate = rate;
    d->delay_max = delay_max_ns;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "dup");
    d->n.iface = iface;
    d->n.dir = dir;
    sim_node_register(s, &d->n, &dup_ops, name);
    return &d->n;
}

/* ---- reordering
 * ---------------------------------------------------------------------------------- */

typedef struct sim_reorder {
    sim_node n;
    double rate;
    uint64_t min, max;
} sim_reorder;

static void reorder_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_reorder *r = (sim_reorder *)n;
    if (r->rate > 0 && sim_rng_unit(&n->rng) < r->rate) {
        uint64_t extra = r->min + sim_rng_below(&n->rng, r->max - r->min + 1);
        sim_node_emit_at(s, n, p, s->now + extra);
        return;
    }
    sim_node_emit(s, n, p);
}

static const sim_node_ops reorder_ops = {"reorder", reorder_forward, free_plain};

sim_node *sim_reorder_new(sim *s, int iface, int dir, double rate, uint64_t min_ns, uint64_t max_ns)
{
    sim_reorder *r = node_calloc(sizeof(*r));
    r->rate = rate;
    r->min = min_ns;
    r->max = max_ns < min_ns ? min_ns : max_ns;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "reorder");
    r->n.iface = iface;
    r->n.dir = dir;
    sim_node_register(s, &r->n, &reorder_ops, name);
    return &r->n;
}

/* ---- receive batches
 * ----------------------------------------------------------------------------- */

typedef struct sim_batch {
    sim_node n;
    uint64_t period;
} sim_batch;

static void batch_forward(sim *s, sim_node *n, sim_pkt *p)
{
    uint64_t period = ((sim_batch *)n)->period;
    uint64_t t = sim_time(s);
    sim_node_emit_at(s, n, p, s->start + (t / period + 1) * period);
}

static const sim_node_ops batch_ops = {"batch", batch_forward, free_plain};

sim_node *sim_batch_new(sim *s, int iface, int dir, uint64_t period_ns)
{
    sim_batch *b = node_calloc(sizeof(*b));
    b->period = period_ns ? period_ns : 1;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "batch");
    b->n.iface = iface;
    b->n.dir = dir;
    sim_node_register(s, &b->n, &batch_ops, name);
    return &b->n;
}

/* ---- corruption
 * ---------------------------------------------------------------------------------- */

typedef struct sim_corrupt {
    sim_node n;
    double rate;
    unsigned max_bits;
} sim_corrupt;

static void corrupt_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_corrupt *c = (sim_corrupt *)n;
    if (p->len && c->rate > 0 && sim_rng_unit(&n->rng) < c->rate) {
        unsigned bits = 1 + (unsigned)sim_rng_below(&n->rng, c->max_bits ? c->max_bits : 1);
        uint64_t first = 0;
        for (unsigned i = 0; i < bits; i++) {
            uint64_t pos = sim_rng_below(&n->rng, (uint64_t)p->len * 8);
            if (i == 0)
                first = pos;
            p->data[pos / 8] ^= (uint8_t)(1u << (pos % 8));
        }
        sim_tl_ev ev = {.kind = SIM_TL_CORRUPT,
                        .node = (int16_t)n->index,
                        .who = -1,
                        .dir = (int8_t)p->dir,
                        .id = p->id,
                        .len = (uint32_t)p->len,
                        .a = bits,
                        .b = (int64_t)first};
        ev.t = sim_time(s);
        sim_tl_add(&s->tl, &ev);
    }
    sim_node_emit(s, n, p);
}

static const sim_node_ops corrupt_ops = {"corrupt", corrupt_forward, free_plain};

sim_node *sim_corrupt_new(sim *s, int iface, int dir, double rate, unsigned max_bits)
{
    sim_corrupt *c = node_calloc(sizeof(*c));
    c->rate = rate;
    c->max_bits = max_bits;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "corrupt");
    c->n.iface = iface;
    c->n.dir = dir;
    sim_node_register(s, &c->n, &corrupt_ops, name);
    return &c->n;
}

/* ---- ECN rewriting ----------------------------------------------------------------------------- */

typedef struct sim_ecn {
    sim_node n;
    int mode;
    uint64_t *changed;
} sim_ecn;

static void ecn_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_ecn *e = (sim_ecn *)n;
    int v = p->ecn;
    if (e->mode == SIM_ECN_BLEACH)
        v = TERN_ECN_NOT_ECT;
    else if (e->mode == SIM_ECN_TO_ECT1 && v == TERN_ECN_ECT0)
        v = TERN_ECN_ECT1;
    else if (e->mode == SIM_ECN_TO_CE && (v == TERN_ECN_ECT0 || v == TERN_ECN_ECT1))
        v = TERN_ECN_CE;
    if (v != p->ecn && e->changed)
        (*e->changed)++;
    p->ecn = v;
    sim_node_emit(s, n, p);
}

static const sim_node_ops ecn_ops = {"ecn", ecn_forward, free_plain};

sim_node *sim_ecn_new(sim *s, int iface, int dir, int mode, uint64_t *changed)
{
    sim_ecn *e = node_calloc(sizeof(*e));
    e->mode = mode;
    e->changed = changed;
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "ecn");
    e->n.iface = iface;
    e->n.dir = dir;
    sim_node_register(s, &e->n, &ecn_ops, name);
    return &e->n;
}

/* ---- switch
 * -------------------------------------------------------------------------------------- */

static void switch_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_switch *sw = (sim_switch *)n;
    if (sw->off)
        sim_node_drop(s, n, p, sw->reason);
    else
        sim_node_emit(s, n, p);
}

static const sim_node_ops switch_ops = {"switch", switch_forward, free_plain};

sim_switch *sim_switch_new(sim *s, int iface, int dir, const char *reason)
{
    sim_switch *sw = node_calloc(sizeof(*sw));
    sw->reason = reason ? reason : "cut";
    char name[32];
    set_name(name, sizeof(name), s, iface, dir, "switch");
    sw->n.iface = iface;
    sw->n.dir = dir;
    sim_node_register(s, &sw->n, &switch_ops, name);
    return sw;
}

void sim_switch_set(sim *s, sim_switch *sw, int off)
{
    sw->off = off;
    sim_note(s, "%s %s", sw->n.name, off ? sw->reason : "restored");
}

static void act_switch_off(sim *s, void *arg)
{
    sim_switch_set(s, arg, 1);
}
static void act_switch_on(sim *s, void *arg)
{
    sim_switch_set(s, arg, 0);
}

static void schedule_switch(sim *s, sim_switch *sw, uint64_t from, uint64_t until)
{
    sim_at(s, from, act_switch_off, sw, NULL);
    if (until != SIM_INF)
        sim_at(s, until, act_switch_on, sw, NULL);
}

void sim_iface_cut(sim *s, int i, uint64_t from, uint64_t until)
{
    for (int dir = 0; dir < 2; dir++) {
        sim_switch *sw = sim_switch_new(s, i, dir, "cut");
        sim_iface_prepend(s, i, dir, &sw->n);
        schedule_switch(s, sw, from, until);
    }
}

void sim_iface_blackhole(sim *s, int i, int dir, uint64_t from, uint64_t until)
{
    sim_switch *sw = sim_switch_new(s, i, dir, "blackhole");
    sim_iface_prepend(s, i, dir, &sw->n);
    schedule_switch(s, sw, from, until);
}

/* ---- NAT
 * ----------------------------------------------------------------------------------------- */

static uint16_t addr_port(const tern_addr *a)
{
    return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in.sin_port : a->u.in6.sin6_port);
}

static void addr_set_port(tern_addr *a, uint16_t port)
{
    if (a->u.sa.sa_family == AF_INET)
        a->u.in.sin_port = htons(port);
    else
        a->u.in6.sin6_port = htons(port);
}

static int same_ip(const tern_addr *a, const tern_addr *b)
{
    tern_addr x = *a;
    addr_set_port(&x, addr_port(b));
    return tern_addr_equal(&x, b);
}

static void nat_note(sim *s, sim_node *n, const sim_pkt *p, const char *fmt, const tern_addr *a,
                     const tern_addr *b)
{
    char x[64], y[64], text[160];
    sim_tl_ev ev = {.kind = SIM_TL_NAT,
                    .node = (int16_t)n->index,
                    .who = -1,
                    .dir = (int8_t)(p ? p->dir : -1),
                    .id = p ? p->id : 0,
                    .len = p ? (uint32_t)p->len : 0};
    ev.t = sim_time(s);
    snprintf(text, sizeof(text), fmt, tern_addr_format(a, x, sizeof(x)),
             tern_addr_format(b, y, sizeof(y)));
    sim_tl_set_text(&ev, text);
    sim_tl_add(&s->tl, &ev);
}

void sim_nat_set_timeout(sim_nat *nat, uint64_t idle_ns, int wedge)
{
    nat->idle_timeout = idle_ns;
    nat->wedge = wedge;
}

/* A live mapping idle past the timeout expires now (checked when a datagram would use it). Returns
 * 1 when it is no longer usable. */
static int nat_expire(sim *s, sim_node *n, sim_nat *nat, struct sim_nat_map *m, const sim_pkt *p)
{
    if (m->wedged)
        return 1;
    if (!m->live || !nat->idle_timeout || s->now - m->last_used < nat->idle_timeout)
        return 0;
    nat->expired++;
    nat_note(s, n, p, nat->wedge ? "expired, wedged %s = %s" : "expired %s = %s", &m->priv, &m->pub);
    if (nat->wedge) {
        m->wedged = 1;
    } else {
        m->live = 0;
        m->stale_until = 0;
    }
    return 1;
}

static void nat_out_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_nat *nat = (sim_nat *)((char *)n - offsetof(sim_nat, out));
    struct sim_nat_map *m = NULL;
    for (int i = 0; i < nat->nmap; i++)
        if (nat->map[i].live && tern_addr_equal(&nat->map[i].priv, &p->src)) {
            m = &nat->map[i];
            break;
        }
    if (m && nat_expire(s, n, nat, m, p)) {
        if (m->wedged) {
            sim_node_drop(s, n, p, "nat: wedged binding");
            return;
        }
        m = NULL;
    }
    if (!m) {
        if (nat->nmap == SIM_NAT_MAX_MAPS) {
            /* recycle the oldest mapping slot that is no longer used; failing that, evict the
             * live mapping idle for longest, as a real NAT with a full table does */
            int k = -1;
            for (int i = 0; i < nat->nmap && k < 0; i++)
                if (!nat->map[i].live && s->now >= nat->map[i].stale_until)
                    k = i;
            if (k < 0)
                for (int i = 0; i < nat->nmap; i++)
                    if (nat->map[i].live &&
                        (k < 0 || nat->map[i].last_used < nat->map[k].last_used))
                        k = i;
            if (k < 0) {
                sim_node_drop(s, n, p, "nat full");
                return;
            }
            if (nat->map[k].live)
                nat_note(s, n, p, "evict %s = %s", &nat->map[k].priv, &nat->map[k].pub);
            memmove(&nat->map[k], &nat->map[k + 1], (size_t)(nat->nmap - k - 1) * sizeof(*m));
            nat->nmap--;
        }
        m = &nat->map[nat->nmap++];
        m->priv = p->src;
        m->pub = nat->pub;
        m->live = 1;
        addr_set_port(&nat->pub, (uint16_t)(addr_port(&nat->pub) + 1));
        nat_note(s, n, p, "map %s = %s", &m->priv, &m->pub);
    }
    m->last_used = s->now;
    p->src = m->pub;
    sim_node_emit(s, n, p);
}

static void nat_in_forward(sim *s, sim_node *n, sim_pkt *p)
{
    sim_nat *nat = (sim_nat *)((char *)n - offsetof(sim_nat, in));
    for (int i = 0; i < nat->nmap; i++)
        if ((nat->map[i].live || s->now < nat->map[i].stale_until) &&
            tern_addr_equal(&nat->map[i].pub, &p->dst)) {
            if (nat_expire(s, n, nat, &nat->map[i], p)) {
                sim_node_drop(s, n, p, "nat: binding expired");
                return;
            }
            p->dst = nat->map[i].priv;
            sim_node_emit(s, n, p);
            return;
        }
    sim_node_drop(s, n, p, "nat: no mapping");
}

static void nat_free_out(sim_node *n)
{
    free((char *)n - offsetof(sim_nat, out));
}

static void nat_free_in(sim_node *n)
{
    (void)n; /* freed with the out face */
}

static const sim_node_ops nat_out_ops = {"nat", nat_out_forward, nat_free_out};
static const sim_node_ops nat_in_ops = {"nat", nat_in_forward, nat_free_in};

static void nat_add_ip(sim_nat *nat, const tern_addr *a)
{
    if (!sim_nat_owns(nat, a) && nat->nips < SIM_NAT_MAX_IPS)
        nat->ips[nat->nips++] = *a;
}

sim_nat *sim_nat_add(sim *s, int i, const char *pub)
{
    if (i < 0 || i >= s->niface || s->ifaces[i].nat)
        return NULL;
    sim_nat *nat = node_calloc(sizeof(*nat));
    nat->pub = sim_addr(pub);
    nat_add_ip(nat, &nat->pub);
    char name[32];
    snprintf(name, sizeof(name), "%s.nat", s->ifaces[i].name);
    nat->out.iface = nat->in.iface = i;
    nat->out.dir = SIM_UP;
    nat->in.dir = SIM_DOWN;
    /* the in face is registered first so that freeing (in index order) never touches it last */
    sim_node_register(s, &nat->in, &nat_in_ops, name);
    sim_node_register(s, &nat->out, &nat_out_ops, name);
    s->ifaces[i].nat = nat;
    sim_iface_append(s, i, SIM_UP, NULL); /* relink the chains */
    return nat;
}

static void nat_retire(sim *s, sim_nat *nat, uint64_t grace_ns)
{
    for (int i = 0; i < nat->nmap; i++)
        if (nat->map[i].live) {
            nat->map[i].live = 0;
            nat->map[i].stale_until = s->now + grace_ns;
        }
}

void sim_nat_rebind_port(sim *s, sim_nat *nat, uint64_t grace_ns)
{
    nat_retire(s, nat, grace_ns);
    sim_note(s, "%s rebinds: next port %u", nat->out.name, addr_port(&nat->pub));
}

void sim_nat_rebind_addr(sim *s, sim_nat *nat, const char *pub, uint64_t grace_ns)
{
    nat_retire(s, nat, grace_ns);
    nat->pub = sim_addr(pub);
    nat_add_ip(nat, &nat->pub);
    sim_note(s, "%s rebinds to %s", nat->out.name, pub);
}

int sim_nat_owns(const sim_nat *nat, const tern_addr *ip)
{
    for (int i = 0; i < nat->nips; i++)
        if (same_ip(&nat->ips[i], ip))
            return 1;
    return 0;
}

int sim_nat_public(const sim_nat *nat, const tern_addr *priv, tern_addr *pub)
{
    for (int i = 0; i < nat->nmap; i++)
        if (nat->map[i].live && tern_addr_equal(&nat->map[i].priv, priv)) {
            *pub = nat->map[i].pub;
            return 0;
        }
    return -1;
}

int sim_nat_private(const sim_nat *nat, const tern_addr *pub, tern_addr *priv)
{
    for (int i = 0; i < nat->nmap; i++)
        if (tern_addr_equal(&nat->map[i].pub, pub)) {
            *priv = nat->map[i].priv;
            return 0;
        }
    return -1;
}

typedef struct sim_nat_rebind rebind_act;

static void act_rebind(sim *s, void *arg)
{
    rebind_act *a = arg;
    if (a->pub[0])
        sim_nat_rebind_addr(s, a->nat, a->pub, a->grace);
    else
        sim_nat_rebind_port(s, a->nat, a->grace);
}

/* The action's argument lives in the NAT, so that nothing needs freeing. */
static rebind_act *rebind_slot(sim_nat *nat)
{
    if (nat->nacts == (int)TERN_ARRAY_LEN(nat->acts))
        abort();
    return &nat->acts[nat->nacts++];
}

void sim_nat_rebind_port_at(sim *s, sim_nat *nat, uint64_t at, uint64_t grace_ns)
{
    rebind_act *a = rebind_slot(nat);
    *a = (rebind_act){.nat = nat, .grace = grace_ns};
    sim_at(s, at, act_rebind, a, "nat rebind (port)");
}

void sim_nat_rebind_addr_at(sim *s, sim_nat *nat, uint64_t at, const char *pub, uint64_t grace_ns)
{
    rebind_act *a = rebind_slot(nat);
    *a = (rebind_act){.nat = nat, .grace = grace_ns};
    snprintf(a->pub, sizeof(a->pub), "%s", pub);
    sim_at(s, at, act_rebind, a, "nat rebind (address)");
}
