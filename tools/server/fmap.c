/* Files mapped into memory, so that response bodies go to tern by reference
 * (tern_stream_write_ref): tern encrypts straight from the page cache and the bytes are never
 * copied by the server. A mapping lives as long as something holds it: the stream sending the
 * file, and every piece tern still holds (each release drops one reference).
 *
 * A file that shrinks while mapped would make reading the lost pages raise SIGBUS, and tern may
 * read them long after the piece was queued (retransmissions). The handler below puts a page of
 * zeros in place of such a page of one of this thread's mappings, marks the mapping damaged and
 * lets the read go on; the sender then resets the response instead of finishing it. SIGBUS is
 * delivered to the thread that touched the page, which is the thread that owns the mapping (a
 * connection lives on one thread), so each thread's list needs no lock. The list's head is
 * allocated once per thread and never freed: the connections of a worker thread are freed by the
 * main thread after the worker ended (tern_workers_free), and their last references unlink them
 * from it then. A fault anywhere else is not ours: the default action runs. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "server/server.h"

static _Thread_local srv_fmap **mapped; /* this thread's list of mappings */
static long page_size;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    uintptr_t at = (uintptr_t)si->si_addr;
    for (srv_fmap *m = mapped ? *mapped : NULL; m; m = m->next) {
        uintptr_t lo = (uintptr_t)m->base;
        if (at < lo || at >= lo + m->len)
            continue;
        void *p = (void *)(at & ~(uintptr_t)(page_size - 1));
        if (mmap(p, (size_t)page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
            MAP_FAILED)
            break;
        m->damaged = 1;
        return; /* the read is retried and finds zeros */
    }
    signal(sig, SIG_DFL); /* not one of ours: fail as it would have */
}

srv_fmap *srv_fmap_open(int fd, uint64_t size)
{
    static volatile sig_atomic_t installed;
    if (size == 0 || size > (uint64_t)SIZE_MAX)
        return NULL;
    if (!installed) {
        page_size = sysconf(_SC_PAGESIZE);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, NULL) != 0)
            return NULL;
        installed = 1;
    }
    if (!mapped && !(mapped = calloc(1, sizeof(*mapped))))
        return NULL;
    srv_fmap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m->base == MAP_FAILED) {
        free(m);
        return NULL;
    }
    (void)madvise(m->base, (size_t)size, MADV_SEQUENTIAL);
    m->len = (size_t)size;
    m->refs = 1;
    m->head = mapped;
    m->next = *mapped;
    if (m->next)
        m->next->prev = m;
    *mapped = m;
    return m;
}

void srv_fmap_unref(srv_fmap *m)
{
    if (!m || --m->refs > 0)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        *m->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    munmap(m->base, m->len);
    free(m);
}

void srv_fmap_release(void *ud, const void *data, size_t len)
{
    (void)data;
    (void)len;
    srv_fmap_unref(ud);
}
