/* Workers (tern.h, "workers"): the per-worker half that an endpoint drives. A worker endpoint
 * checks each datagram before its dispatcher sees it: a short header whose DCID names another
 * worker is queued for that worker (the fallback when no steering program runs, or a datagram
 * the program could not steer); its own queue is drained when its eventfd fires in its loop. */
#ifndef TERN_IO_WORKERS_H
#define TERN_IO_WORKERS_H

#include "core/qlb.h"
#include "tern/tern.h"

typedef struct tern_worker tern_worker;

/* 1 when the datagram was taken from this worker: queued for the worker its DCID names, or lost
 * because that worker's queue is full; 0 when it is this worker's to process. Thread: the
 * worker's own. */
int tern_worker_steer(tern_worker *wk, const tern_cidgen *g, const tern_path_addr *path, int ecn,
                      const uint8_t *d, size_t len);
/* The eventfd that becomes readable when datagrams wait in the worker's queue. */
int tern_worker_fd(const tern_worker *wk);
/* Clears the eventfd before a drain (datagrams queued after it signal it again). */
void tern_worker_clear(tern_worker *wk);
/* Pops the oldest queued datagram into the worker's scratch buffer: returns its bytes (*len, path,
 * ecn set), or NULL when the queue is empty. */
uint8_t *tern_worker_pop(tern_worker *wk, size_t *len, tern_path_addr *path, int *ecn);
/* Signals the eventfd again (a drain stopped with datagrams left, so the loop comes back). */
void tern_worker_kick(tern_worker *wk);

#endif
