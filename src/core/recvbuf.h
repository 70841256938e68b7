/* Receive-side reassembly of a byte stream (STREAM and CRYPTO data, RFC 9000 §2.2, §4.5): bytes are
 * held in fixed-size chunks, so that memory follows the bytes actually held and not the highest
 * offset a peer names, and the chunks come from a pool shared by the streams of a connection, so
 * that a steady transfer allocates nothing per packet. The pool also counts every byte it holds,
 * which is how the connection proves its receive memory stays within its flow-control window. */
#ifndef TERN_CORE_RECVBUF_H
#define TERN_CORE_RECVBUF_H

#include "common.h"
#include "ranges.h"

#define TERN_RECVBUF_MAX_GAPS 256   /* out-of-order gaps a peer can make us track per stream */
#define TERN_RECV_CHUNK 4096        /* bytes per reassembly chunk */
#define TERN_RECV_POOL_MIN_FREE 16  /* spare chunks a pool keeps whatever its budget */
#define TERN_RECV_POOL_MAX_FREE 256 /* and at most (1 MiB), whatever its budget */

/* Spare chunks of one connection, and what its receive buffers hold. */
typedef struct tern_chunk_pool {
    void *free_list; /* spare chunks, linked through their first bytes */
    size_t nfree;
    size_t chunks_out;  /* chunks held by receive buffers */
    size_t index_bytes; /* chunk-pointer arrays of the receive buffers */
    size_t budget;      /* the window served: an eighth of it may be kept as spare chunks */
    uint64_t allocs;    /* calls to malloc made for chunks and chunk arrays */
} tern_chunk_pool;

/* `budget`: the bytes (the connection's receive window) the pool serves. Freed chunks are kept for
 * reuse, rather than returned to the allocator, up to an eighth of it bounded by
 * TERN_RECV_POOL_MIN_FREE and TERN_RECV_POOL_MAX_FREE: enough for a burst of reordering, little
 * for an idle connection to sit on. */
void tern_chunk_pool_init(tern_chunk_pool *p, size_t budget);
/* Returns the spare chunks to the allocator (receive buffers must have been freed first). */
void tern_chunk_pool_free(tern_chunk_pool *p);
/* Bytes allocated for reassembly through this pool: chunks in use and spare, and chunk arrays. */
size_t tern_chunk_pool_bytes(const tern_chunk_pool *p);

typedef struct tern_recvbuf {
    uint8_t **chunks; /* ring of chunk pointers; slot 0 (at `chead`) is the chunk of read_off */
    size_t ccap, chead;
    tern_chunk_pool *pool; /* NULL: chunks come from malloc directly */
    size_t limit;          /* bytes beyond read_off that may be held */
    uint64_t read_off;     /* next offset the app reads */
    uint64_t highest;      /* highest offset received + 1 */
    uint64_t final_size;   /* UINT64_MAX until known */
    tern_ranges have;      /* received ranges at or above read_off */
    int discard;           /* nothing is stored any more: read_off follows highest */
    /* In-order bytes left in the caller's memory (the decrypted packet) until
     * tern_recvbuf_settle: reads copy them from there, once, instead of through the chunks. */
    const uint8_t *lent;
    uint64_t lent_off, lent_end;
} tern_recvbuf;

void tern_recvbuf_init(tern_recvbuf *rb, size_t limit, tern_chunk_pool *pool);
/* A buffer just initialised continues a stream at `off`: the bytes below it were received and
 * read before (by a buffer that was freed since). */
void tern_recvbuf_start_at(tern_recvbuf *rb, uint64_t off);
void tern_recvbuf_free(tern_recvbuf *rb);
/* Stores [off, off+len) (duplicates and overlaps fine). Data beyond read_off + limit is
 * TERN_ERR_PROTO with *terr FLOW_CONTROL_ERROR; fin/final-size conflicts give FINAL_SIZE_ERROR
 * (RFC 9000 §4.5: a FIN below the highest offset received, or a size other than a known final
 * size). Too many gaps, or no memory: TERN_ERR_NOMEM and nothing stored nor any offset moved
 * (drop the frame, the peer will retransmit). In discard mode only the size rules apply and read_off moves with highest.
 * Returns 0 on success. */
int tern_recvbuf_write(tern_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len, int fin,
                       uint64_t *terr);
/* tern_recvbuf_write, except that bytes that start at read_off with nothing else held (the
 * in-order case of a bulk transfer) are not copied: they stay lent in `data`, which must stay
 * valid and unchanged until tern_recvbuf_settle. Their chunks are reserved all the same, so that
 * settling cannot fail. Same results and errors as tern_recvbuf_write. */
int tern_recvbuf_write_lent(tern_recvbuf *rb, uint64_t off, const uint8_t *data, size_t len,
                            int fin, uint64_t *terr);
/* Copies what is still unread of lent bytes into the chunks and forgets the caller's memory
 * (nothing when nothing is lent). */
void tern_recvbuf_settle(tern_recvbuf *rb);
/* Applies the final size of a RESET_STREAM: same final-size rules as a FIN, and a final size beyond
 * read_off + limit is FLOW_CONTROL_ERROR. *new_bytes receives how far `highest` moved. Returns 0 or
 * TERN_ERR_PROTO with *terr set. */
int tern_recvbuf_set_final_size(tern_recvbuf *rb, uint64_t final_size, uint64_t *new_bytes,
                                uint64_t *terr);
/* Stops storing: frees every chunk, moves read_off to highest and keeps it there (discard mode).
 * Returns how far read_off moved, the bytes that will now never be read. */
uint64_t tern_recvbuf_discard(tern_recvbuf *rb);
/* Contiguous bytes readable now. */
size_t tern_recvbuf_readable(const tern_recvbuf *rb);
/* Reads up to cap bytes; *fin = 1 when read_off reaches the final size. Chunks read past go back to
 * the pool; the chunk of read_off stays for the bytes that follow, even when everything was read
 * (tern_recvbuf_trim gives it back once the stream is quiet). */
size_t tern_recvbuf_read(tern_recvbuf *rb, uint8_t *dst, size_t cap, int *fin);
/* A buffer with nothing unread (no gap, nothing lent) frees its chunk, its pointer ring and its
 * range array to the allocator; the next bytes continue at their offsets and allocate them
 * again. For a stream gone quiet: HTTP/3's control and QPACK streams stay open, idle, for the
 * connection's life. Returns 1 when it freed something. */
int tern_recvbuf_trim(tern_recvbuf *rb);
/* 1 when all bytes up to the final size have been read (or discarded). */
int tern_recvbuf_finished(const tern_recvbuf *rb);
/* Bytes this buffer keeps allocated outside its pool's count (its gap list). */
size_t tern_recvbuf_overhead(const tern_recvbuf *rb);

#endif
