/* Workers: N endpoints on one address (SO_REUSEPORT), the classic BPF program that steers short
 * headers to the worker their DCID names, and the in-process queues of the fallback (tern.h,
 * "workers"; docs/scaling.md).
 *
 * The program, attached with SO_ATTACH_REUSEPORT_CBPF, sees the UDP payload and returns an index
 * into the group's sockets, which the kernel numbers in bind order (worker order here):
 *     ldb [0]; jset #0x80 -> long
 *     ldb [cid_len]; mod #N; ret a          (short header: the DCID's last octet names the worker)
 *     long: ret #0xffffffff                 (out of range: the kernel falls back to its hash)
 * A datagram too short for the load ends the program with 0 (worker 0, which drops it). Classic
 * BPF needs neither privilege, nor libbpf, nor BTF. */
#include "workers.h"

#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/abi.h"
#include "endpoint_internal.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

#define WK_RING (4u << 20)    /* bytes of queued datagrams per worker */
#define WK_MAX_DGRAM 65535u
#define WK_WRAP UINT32_MAX    /* record length marking the ring's unused tail */

typedef struct wk_rec {
    uint32_t len;
    int32_t ecn;
    tern_path_addr path;
} wk_rec;

struct tern_worker {
    tern_workers *set;
    tern_endpoint *ep;
    unsigned index;
    int efd;
    pthread_mutex_t mu;
    uint8_t *ring;
    uint64_t w, r;            /* bytes written / read since the start (positions mod WK_RING) */
    tern_workers_stats st;    /* forwarded: by this worker's thread; the rest under mu */
    uint8_t *scratch;         /* tern_worker_pop's output */
    int mu_ok;
};

struct tern_workers {
    size_t n;
    int steering;
    tern_worker *w;
};

static size_t rec_size(size_t len)
{
    return (sizeof(wk_rec) + len + 7) & ~(size_t)7;
}

/* Appends a record to wk's ring; returns 0, or -1 when it does not fit. */
static int push(tern_worker *wk, const tern_path_addr *path, int ecn, const uint8_t *d,
                size_t len)
{
    size_t need = rec_size(len);
    pthread_mutex_lock(&wk->mu);
    int was_empty = wk->w == wk->r;
    size_t used = (size_t)(wk->w - wk->r), pos = (size_t)(wk->w % WK_RING);
    size_t contig = WK_RING - pos, waste = contig < need ? contig : 0;
    if (used + waste + need > WK_RING) {
        wk->st.queue_full++;
        pthread_mutex_unlock(&wk->mu);
        return -1;
    }
    if (waste) {
        if (contig >= sizeof(wk_rec)) {
            wk_rec mark = {.len = WK_WRAP};
            memcpy(wk->ring + pos, &mark, sizeof(mark));
        }
        wk->w += waste;
        pos = 0;
    }
    wk_rec h = {.len = (uint32_t)len, .ecn = ecn, .path = *path};
    memcpy(wk->ring + pos, &h, sizeof(h));
    memcpy(wk->ring + pos + sizeof(h), d, len);
    wk->w += need;
    pthread_mutex_unlock(&wk->mu);
    if (was_empty)
        tern_worker_kick(wk);
    return 0;
}

uint8_t *tern_worker_pop(tern_worker *wk, size_t *len, tern_path_addr *path, int *ecn)
{
    pthread_mutex_lock(&wk->mu);
    if (wk->w == wk->r) {
        pthread_mutex_unlock(&wk->mu);
        return NULL;
    }
    size_t pos = (size_t)(wk->r % WK_RING), contig = WK_RING - pos;
    wk_rec h;
    if (contig >= sizeof(h))
        memcpy(&h, wk->ring + pos, sizeof(h));
    if (contig < sizeof(h) || h.len == WK_WRAP) {
        wk->r += contig;
        pos = 0;
        memcpy(&h, wk->ring, sizeof(h));
    }
    memcpy(wk->scratch, wk->ring + pos + sizeof(h), h.len);
    wk->r += rec_size(h.len);
    wk->st.adopted++;
    pthread_mutex_unlock(&wk->mu);
    *len = h.len;
    *path = h.path;
    *ecn = h.ecn;
    return wk->scratch;
}

int tern_worker_steer(tern_worker *wk, const tern_cidgen *g, const tern_path_addr *path, int ecn,
                      const uint8_t *d, size_t len)
{
    if (len < 1u + g->len || (d[0] & 0x80) || len > WK_MAX_DGRAM)
        return 0;
    int owner = tern_cidgen_worker_of(g, d + 1, g->len);
    if (owner < 0 || (unsigned)owner == wk->index || (size_t)owner >= wk->set->n)
        return 0;
    tern_worker *to = &wk->set->w[owner];
    if (push(to, path, ecn, d, len) == 0) {
        pthread_mutex_lock(&wk->mu);
        wk->st.forwarded++;
        pthread_mutex_unlock(&wk->mu);
    }
    return 1;
}

int tern_worker_fd(const tern_worker *wk)
{
    return wk->efd;
}

void tern_worker_clear(tern_worker *wk)
{
    uint64_t v;
    while (read(wk->efd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

void tern_worker_kick(tern_worker *wk)
{
    uint64_t one = 1;
    while (write(wk->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

/* The steering program for n workers whose CIDs are cid_len bytes long. */
static int attach_bpf(int fd, size_t cid_len, size_t n)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 3, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)cid_len),
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)n),
        BPF_STMT(BPF_RET | BPF_A, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

static int worker_init(tern_worker *wk, tern_workers *set, unsigned index)
{
    wk->set = set;
    wk->index = index;
    if (pthread_mutex_init(&wk->mu, NULL))
        return TERN_ERR_NOMEM;
    wk->mu_ok = 1;
    wk->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wk->ring = malloc(WK_RING);
    wk->scratch = malloc(WK_MAX_DGRAM);
    if (wk->efd < 0 || !wk->ring || !wk->scratch)
        return wk->efd < 0 ? TERN_ERR_IO : TERN_ERR_NOMEM;
    return 0;
}

int tern_workers_new_sized(const tern_config *cfg, size_t cfg_size, const tern_callbacks *cb,
                           size_t cb_size, void *const *uds, size_t n, const tern_addr *addr,
                           unsigned flags, tern_workers **out)
{
    if (!out)
        return TERN_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg || !addr || n < 2 || n > TERN_CIDGEN_MAX_WORKERS)
        return TERN_ERR_INVALID_ARG;
    tern_workers *set = calloc(1, sizeof(*set));
    if (!set)
        return TERN_ERR_NOMEM;
    set->w = calloc(n, sizeof(*set->w));
    if (!set->w) {
        free(set);
        return TERN_ERR_NOMEM;
    }
    int rv = 0;
    tern_addr bind_addr = *addr;
    for (size_t i = 0; i < n && !rv; i++) {
        tern_worker *wk = &set->w[i];
        wk->efd = -1;
        if ((rv = worker_init(wk, set, (unsigned)i)))
            break;
        set->n = i + 1; /* what tern_workers_free releases */
        rv = tern_endpoint_new_sized(cfg, cfg_size, cb, cb_size, uds ? uds[i] : NULL, &wk->ep);
        if (!rv)
            rv = tern_ep_join_workers(wk->ep, wk, (unsigned)i, (unsigned)n);
        /* the first socket fixes the port (port 0: ephemeral); the others join its group */
        if (!rv)
            rv = tern_ep_listen_reuseport(wk->ep, &bind_addr);
        if (!rv && i == 0)
            rv = tern_endpoint_local_addr(wk->ep, &bind_addr);
        /* one Retry and NEW_TOKEN key for all: a client's token opens at whichever worker its
         * next connection reaches (reset keys stay apart: a CID's resets come from its owner) */
        if (!rv && i > 0)
            rv = tern_dispatch_set_retry_key(&wk->ep->front.disp, set->w[0].ep->front.disp.cfg.retry_key);
    }
    if (rv) {
        int e = errno;
        tern_workers_free(set);
        errno = e;
        return rv;
    }
    set->steering = TERN_WORKERS_STEER_FORWARD;
    if (!(flags & TERN_WORKERS_NO_BPF) &&
        attach_bpf(tern_ep_listener_fd(set->w[0].ep), set->w[0].ep->front.cidgen.len, n) == 0)
        set->steering = TERN_WORKERS_STEER_BPF;
    *out = set;
    return 0;
}

tern_endpoint *tern_workers_endpoint(tern_workers *w, size_t i)
{
    return w && i < w->n ? w->w[i].ep : NULL;
}

size_t tern_workers_count(const tern_workers *w)
{
    return w ? w->n : 0;
}

int tern_workers_steering(const tern_workers *w)
{
    return w ? w->steering : 0;
}

int tern_workers_get_stats_sized(tern_workers *w, size_t i, tern_workers_stats *out, size_t size)
{
    if (!w || i >= w->n || !out)
        return TERN_ERR_INVALID_ARG;
    if (!tern_abi_size_ok(size, sizeof(uint64_t), sizeof(tern_workers_stats), _Alignof(uint64_t)))
        return TERN_ERR_ABI;
    tern_worker *wk = &w->w[i];
    pthread_mutex_lock(&wk->mu);
    tern_workers_stats st = wk->st;
    pthread_mutex_unlock(&wk->mu);
    memcpy(out, &st, size);
    return 0;
}

void tern_workers_free(tern_workers *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        tern_endpoint_free(w->w[i].ep);
    for (size_t i = 0; i < w->n; i++) {
        tern_worker *wk = &w->w[i];
        if (wk->efd >= 0)
            close(wk->efd);
        if (wk->mu_ok)
            pthread_mutex_destroy(&wk->mu);
        free(wk->ring);
        free(wk->scratch);
    }
    free(w->w);
    free(w);
}
