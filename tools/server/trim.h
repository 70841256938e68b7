/* tern-server's policy for giving freed memory back to the system, and its report of the heap
 * (trim.c). */
#ifndef TOOLS_SERVER_TRIM_H
#define TOOLS_SERVER_TRIM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* When the memory freed by connections that closed goes back to the system. */
typedef struct srv_trim {
    size_t peak;      /* most connections open at once since the last trim */
    uint64_t closed;  /* connections closed since the last trim */
    uint64_t last_ns; /* when the last trim ran (0: never) */
} srv_trim;
/* Stops free() from trimming the heap on its own (glibc), so that connections coming and going
 * do not fault the same pages in again and again; memory goes back through srv_trim_maybe. */
void srv_trim_init(srv_trim *t);
/* A connection closed (on_closed). */
void srv_trim_note_close(srv_trim *t);
/* 1 when freed memory should go back now, with `live` connections open: a burst is over (at
 * least half of the connections open at its peak closed, and at least 64 of them; or none is
 * left open at all) and the last trim is a second old; then the count starts again. Reads no
 * clock: `now_ns` is the caller's. */
int srv_trim_due(srv_trim *t, size_t live, uint64_t now_ns);
/* srv_trim_due, and then malloc_trim. Returns 1 when it trimmed. */
int srv_trim_maybe(srv_trim *t, size_t live, uint64_t now_ns);

/* SIGUSR1 asks tern-server for srv_heap_report (the handler only sets the flag). */
void srv_heap_report_signal(volatile sig_atomic_t *flag);
/* Prints one line to `f`: "heap: B bytes allocated, C connections", B being what malloc has
 * handed out and not taken back (mallinfo2: every arena's blocks in use and the blocks it
 * mapped on their own), the memory measure tests and benchmarks read per connection. */
void srv_heap_report(FILE *f, size_t conns);

#endif
