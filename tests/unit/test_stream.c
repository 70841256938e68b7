/* Stream module (the send ring is in test_sendbuf.c): receive reassembly (exact bytes,
 * flow control, final-size rules, gap bound, chunks that follow the bytes held, the chunk pool,
 * discarding), stream ids, the stream map (implicit opening, limits, direction errors, MAX_STREAMS
 * credit, many streams, send queue) and per-stream flow control (credit checked before storing,
 * resets, stopped streams, blocked peers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "frame.h"
#include "stream.h"

#include "allochook.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_pattern(uint8_t *p, size_t len, uint64_t base)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)((base + i) * 131 + ((base + i) >> 8));
}

/* ---- receive buffer -------------------------------------------------------------------------- */

#define BIG (1024 * 1024)

/* Delivers a 1-MB buffer in a pseudo-random permutation of `chunk`-byte frames, each followed by a
 * duplicate and an overlapping frame; frames refused at the gap bound are retried later, as a peer
 * would retransmit. Returns how many were refused. */
static size_t reassemble(size_t chunk)
{
    uint8_t *src = malloc(BIG), *dst = malloc(BIG);
    size_t nchunks = BIG / chunk;
    uint32_t *perm = malloc(sizeof(uint32_t) * nchunks);
    uint32_t *retry = malloc(sizeof(uint32_t) * nchunks);
    assert_non_null(src);
    assert_non_null(dst);
    assert_non_null(perm);
    assert_non_null(retry);
    fill_pattern(src, BIG, 0);
    for (int i = 0; i < BIG; i += 7) /* not only the pattern: random bytes too */
        src[i] = (uint8_t)rnd();
    for (size_t i = 0; i < nchunks; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = nchunks - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, BIG, NULL);
    uint64_t terr = 0;
    size_t pending = nchunks, rounds = 0, nomem = 0;
    while (pending) {
        size_t nretry = 0;
        for (size_t i = 0; i < pending; i++) {
            size_t c = perm[i];
            int last = c == nchunks - 1;
            int rv = tern_recvbuf_write(&rb, c * chunk, src + c * chunk, chunk, last, &terr);
            if (rv == TERN_ERR_NOMEM) {
                retry[nretry++] = (uint32_t)c;
                nomem++;
                assert_int_equal(rb.have.n, TERN_RECVBUF_MAX_GAPS);
                continue;
            }
            assert_int_equal(rv, 0);
            assert_true(rb.have.n <= TERN_RECVBUF_MAX_GAPS);
            assert_int_equal(
                tern_recvbuf_write(&rb, c * chunk, src + c * chunk, chunk, last, &terr), 0);
            if (c > 0) {
                rv = tern_recvbuf_write(&rb, c * chunk - chunk / 4, src + c * chunk - chunk / 4,
                                        chunk / 2, 0, &terr);
                assert_true(rv == 0 || rv == TERN_ERR_NOMEM);
            }
        }
        memcpy(perm, retry, nretry * sizeof(uint32_t));
        pending = nretry;
        assert_true(++rounds < 100);
    }
    assert_int_equal(rb.have.n, 1);
    assert_int_equal(rb.final_size, BIG);
    assert_int_equal(tern_recvbuf_readable(&rb), BIG);
    size_t got = 0;
    int fin = 0;
    while (got < BIG) {
        size_t want = 1 + rnd() % 5000;
        size_t n = tern_recvbuf_read(&rb, dst + got, want, &fin);
        assert_int_equal(n, TERN_MIN(want, BIG - got));
        got += n;
    }
    assert_int_equal(fin, 1);
    assert_memory_equal(dst, src, BIG);
    assert_true(tern_recvbuf_finished(&rb));
    assert_null(rb.chunks);
    tern_recvbuf_free(&rb);
    free(src);
    free(dst);
    free(perm);
    free(retry);
    return nomem;
}

static void test_recvbuf_reassembly(void **st)
{
    reassemble(1024);
}

/* Small frames make more gaps than the bound: some are refused, and retried, none lost. */
static void test_recvbuf_reassembly_bounded(void **st)
{
    assert_true(reassemble(256) > 0);
}

/* Reading while receiving: the window slides and the ring wraps. */
static void test_recvbuf_sliding(void **st)
{
    enum { WIN = 6000, TOTAL = 200000 };
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, WIN, NULL);
    static uint8_t src[TOTAL], dst[TOTAL];
    fill_pattern(src, TOTAL, 0);
    uint64_t terr, sent = 0;
    size_t got = 0;
    int fin = 0;
    while (got < TOTAL) {
        /* send the window in two halves, second half first */
        uint64_t hi = TERN_MIN((uint64_t)TOTAL, rb.read_off + WIN);
        uint64_t mid = sent + (hi - sent) / 2;
        assert_int_equal(tern_recvbuf_write(&rb, mid, src + mid, hi - mid, hi == TOTAL, &terr), 0);
        assert_int_equal(tern_recvbuf_write(&rb, sent, src + sent, mid - sent, 0, &terr), 0);
        sent = hi;
        got += tern_recvbuf_read(&rb, dst + got, 1 + rnd() % WIN, &fin);
        assert_true(rb.ccap <= WIN / TERN_RECV_CHUNK + 2);
    }
    assert_int_equal(fin, 1);
    assert_memory_equal(dst, src, TOTAL);
    tern_recvbuf_free(&rb);
}

/* Lent bytes: in-order bytes with nothing else held are read from the caller's memory; what is
 * still unread at settle is copied, so the caller's buffer may change afterwards; bytes that are
 * not the in-order case are stored at once. The size rules are those of a plain write. */
static void test_recvbuf_lent(void **st)
{
    enum { N = 20000 };
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 4 * N, NULL);
    static uint8_t src[2 * N], pkt[N], out[2 * N];
    fill_pattern(src, sizeof(src), 3);
    uint64_t terr = 0;
    int fin = 0;

    /* lent, partly read, the rest kept at settle */
    memcpy(pkt, src, N);
    assert_int_equal(tern_recvbuf_write_lent(&rb, 0, pkt, N, 0, &terr), 0);
    assert_ptr_equal(rb.lent, pkt);
    assert_int_equal(tern_recvbuf_readable(&rb), N);
    assert_int_equal(tern_recvbuf_read(&rb, out, 7000, &fin), 7000);
    tern_recvbuf_settle(&rb);
    assert_null(rb.lent);
    memset(pkt, 0xee, sizeof(pkt)); /* the packet buffer is reused */
    assert_int_equal(tern_recvbuf_read(&rb, out + 7000, N, &fin), N - 7000);
    assert_memory_equal(out, src, N);
    assert_int_equal(fin, 0);

    /* out of order first: the later bytes are stored, the in-order ones not lent (held data) */
    memcpy(pkt, src + N + 5000, 5000);
    assert_int_equal(tern_recvbuf_write_lent(&rb, N + 5000, pkt, 5000, 0, &terr), 0);
    assert_null(rb.lent);
    memset(pkt, 0xee, 5000);
    memcpy(pkt, src + N, 5000);
    assert_int_equal(tern_recvbuf_write_lent(&rb, N, pkt, 5000, 0, &terr), 0);
    assert_null(rb.lent);
    memset(pkt, 0xee, 5000);
    assert_int_equal(tern_recvbuf_read(&rb, out + N, 10000, &fin), 10000);
    assert_memory_equal(out + N, src + N, 10000);

    /* lent with FIN, read whole: finished, nothing to keep */
    memcpy(pkt, src + N + 10000, N - 10000);
    assert_int_equal(tern_recvbuf_write_lent(&rb, N + 10000, pkt, N - 10000, 1, &terr), 0);
    assert_non_null(rb.lent);
    assert_int_equal(tern_recvbuf_read(&rb, out + N + 10000, N, &fin), N - 10000);
    assert_int_equal(fin, 1);
    tern_recvbuf_settle(&rb);
    assert_memory_equal(out, src, 2 * N);
    assert_true(tern_recvbuf_finished(&rb));
    tern_recvbuf_free(&rb);

    /* the size rules hold: beyond the limit, nothing lent */
    tern_recvbuf_init(&rb, 1000, NULL);
    assert_int_equal(tern_recvbuf_write_lent(&rb, 0, src, 1001, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    assert_null(rb.lent);
    /* a discard while lent keeps nothing */
    assert_int_equal(tern_recvbuf_write_lent(&rb, 0, src, 800, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_discard(&rb), 800);
    tern_recvbuf_settle(&rb);
    assert_null(rb.lent);
    assert_int_equal(tern_recvbuf_readable(&rb), 0);
    tern_recvbuf_free(&rb);
}

static void test_recvbuf_flow_control(void **st)
{
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 1000, NULL);
    uint8_t src[2000], out[2000];
    fill_pattern(src, sizeof(src), 0);
    uint64_t terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 1001, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    assert_int_equal(rb.highest, 0);
    assert_int_equal(tern_recvbuf_write(&rb, 1000, src, 1, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 1000, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_read(&rb, out, 500, NULL), 500);
    assert_memory_equal(out, src, 500);
    assert_int_equal(tern_recvbuf_write(&rb, 1000, src + 1000, 500, 0, &terr), 0);
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 1500, src + 1500, 1, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    /* old duplicates below read_off are fine */
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 100, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_readable(&rb), 1000);
    assert_int_equal(tern_recvbuf_read(&rb, out, 2000, NULL), 1000);
    assert_memory_equal(out, src + 500, 1000);
    /* beyond 2^62 - 1 */
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, TERN_MAX_VARINT, src, 1, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    assert_int_equal(tern_recvbuf_write(&rb, UINT64_MAX - 2, src, 10, 0, &terr), TERN_ERR_PROTO);
    tern_recvbuf_free(&rb);
}

static void test_recvbuf_final_size(void **st)
{
    uint8_t src[300];
    fill_pattern(src, sizeof(src), 0);
    uint64_t terr, nb;
    tern_recvbuf rb;

    /* FIN at another size than a known final size */
    tern_recvbuf_init(&rb, 1000, NULL);
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 100, 1, &terr), 0);
    assert_int_equal(rb.final_size, 100);
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 100, src, 100, 1, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 50, 1, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    /* the same FIN again, and data below it, are fine */
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 100, 1, &terr), 0);
    assert_int_equal(tern_recvbuf_write(&rb, 100, NULL, 0, 1, &terr), 0);
    assert_int_equal(tern_recvbuf_write(&rb, 50, src + 50, 50, 0, &terr), 0);
    /* data beyond the final size */
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 90, src + 90, 20, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 100, src, 1, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    /* RESET_STREAM with another final size */
    terr = 0;
    assert_int_equal(tern_recvbuf_set_final_size(&rb, 101, &nb, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    assert_int_equal(tern_recvbuf_set_final_size(&rb, 100, &nb, &terr), 0);
    assert_int_equal(nb, 0);
    tern_recvbuf_free(&rb);

    /* a final size below the highest offset received */
    tern_recvbuf_init(&rb, 1000, NULL);
    assert_int_equal(tern_recvbuf_write(&rb, 100, src + 100, 100, 0, &terr), 0);
    assert_int_equal(rb.highest, 200);
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 150, 1, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    assert_int_equal(rb.final_size, UINT64_MAX);
    terr = 0;
    assert_int_equal(tern_recvbuf_set_final_size(&rb, 199, &nb, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    /* reset beyond flow control */
    terr = 0;
    assert_int_equal(tern_recvbuf_set_final_size(&rb, 1001, &nb, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    assert_int_equal(tern_recvbuf_set_final_size(&rb, 250, &nb, &terr), 0);
    assert_int_equal(nb, 50);
    assert_int_equal(rb.highest, 250);
    assert_int_equal(rb.final_size, 250);
    tern_recvbuf_free(&rb);

    /* zero-length FIN at the start; then any data is beyond the final size */
    tern_recvbuf_init(&rb, 1000, NULL);
    int fin = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 0, NULL, 0, 1, &terr), 0);
    assert_int_equal(tern_recvbuf_read(&rb, NULL, 0, &fin), 0);
    assert_int_equal(fin, 1);
    assert_true(tern_recvbuf_finished(&rb));
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 1, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    tern_recvbuf_free(&rb);
}

static void test_recvbuf_gap_bound(void **st)
{
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 100000, NULL);
    uint8_t src[4096];
    fill_pattern(src, sizeof(src), 0);
    uint64_t terr;
    for (size_t i = 0; i < TERN_RECVBUF_MAX_GAPS; i++)
        assert_int_equal(tern_recvbuf_write(&rb, 2 * i + 1, src + 2 * i + 1, 1, 0, &terr), 0);
    assert_int_equal(rb.have.n, TERN_RECVBUF_MAX_GAPS);
    uint32_t have_cap = rb.have.cap;
    size_t cap = rb.ccap;
    uint64_t highest = rb.highest;
    /* a new isolated range is refused and changes nothing */
    assert_int_equal(tern_recvbuf_write(&rb, 3000, src + 3000, 10, 0, &terr), TERN_ERR_NOMEM);
    assert_int_equal(tern_recvbuf_write(&rb, 90000, src, 10, 1, &terr), TERN_ERR_NOMEM);
    assert_int_equal(rb.have.n, TERN_RECVBUF_MAX_GAPS);
    assert_int_equal(rb.have.cap, have_cap);
    assert_int_equal(rb.ccap, cap);
    assert_int_equal(rb.highest, highest);
    assert_int_equal(rb.final_size, UINT64_MAX);
    /* data touching an existing range is still taken; it closes a gap */
    assert_int_equal(tern_recvbuf_write(&rb, 2, src + 2, 1, 0, &terr), 0);
    assert_int_equal(rb.have.n, TERN_RECVBUF_MAX_GAPS - 1);
    assert_int_equal(tern_recvbuf_write(&rb, 2 * TERN_RECVBUF_MAX_GAPS,
                                        src + 2 * TERN_RECVBUF_MAX_GAPS, 5, 0, &terr),
                     0);
    assert_int_equal(rb.have.n, TERN_RECVBUF_MAX_GAPS - 1);
    /* the hole at 0 filled: everything up to the last range is readable */
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 2 * TERN_RECVBUF_MAX_GAPS, 0, &terr), 0);
    assert_int_equal(rb.have.n, 1);
    uint8_t out[4096];
    size_t n = tern_recvbuf_read(&rb, out, sizeof(out), NULL);
    assert_int_equal(n, 2 * TERN_RECVBUF_MAX_GAPS + 5);
    assert_memory_equal(out, src, n);
    tern_recvbuf_free(&rb);
}

/* ---- stream ids and map ---------------------------------------------------------------------- */

static void test_sid(void **st)
{
    /* id 0: client bidi, 1: server bidi, 2: client uni, 3: server uni */
    for (int server = 0; server <= 1; server++) {
        assert_true(tern_sid_can_send(0, server) && tern_sid_can_recv(0, server));
        assert_true(tern_sid_can_send(1, server) && tern_sid_can_recv(1, server));
    }
    assert_true(tern_sid_can_send(2, 0));
    assert_false(tern_sid_can_recv(2, 0));
    assert_false(tern_sid_can_send(2, 1));
    assert_true(tern_sid_can_recv(2, 1));
    assert_false(tern_sid_can_send(3, 0));
    assert_true(tern_sid_can_recv(3, 0));
    assert_true(tern_sid_can_send(7, 1));
    assert_false(tern_sid_can_recv(7, 1));
    assert_int_equal(tern_sid_make(2, 1, 0), 8);
    assert_int_equal(tern_sid_make(2, 0, 1), 11);
    assert_true(tern_sid_is_bidi(8));
    assert_false(tern_sid_is_bidi(11));
    assert_true(tern_sid_is_server(11));
}

static void setup_map(tern_streams *m, int server)
{
    tern_streams_init(m, server, 50000);
    tern_streams_set_remote_limits(m, 10, 10);
    m->max_local[0] = 2;
    m->max_local[1] = 2;
    m->local_max_data_bidi_local = 1001;
    m->local_max_data_bidi_remote = 1002;
    m->local_max_data_uni = 1003;
    m->peer_max_data_bidi_local = 2001;
    m->peer_max_data_bidi_remote = 2002;
    m->peer_max_data_uni = 2003;
}

static void test_map_implicit_open(void **st)
{
    tern_streams m;
    setup_map(&m, 1);
    tern_stream *s = NULL;
    uint64_t terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 8, 0, &s, &terr), 0);
    assert_non_null(s);
    assert_int_equal(s->id, 8);
    assert_int_equal(m.count, 3);
    assert_int_equal(m.opened_remote[0], 3);
    assert_non_null(tern_streams_find(&m, 0));
    assert_non_null(tern_streams_find(&m, 4));
    assert_null(tern_streams_find(&m, 12));
    tern_stream *s4 = tern_streams_find(&m, 4);
    assert_int_equal(tern_streams_get_remote(&m, 4, 1, &s, &terr), 0); /* MAX_STREAM_DATA */
    assert_ptr_equal(s, s4);
    assert_int_equal(m.count, 3);
    /* uni streams are counted apart */
    assert_int_equal(tern_streams_get_remote(&m, 6, 0, &s, &terr), 0);
    assert_int_equal(m.opened_remote[1], 2);
    assert_int_equal(m.count, 5);
    tern_streams_free(&m);
}

static void test_map_limits_and_values(void **st)
{
    tern_streams m;
    setup_map(&m, 1);
    tern_stream *s = NULL;
    uint64_t terr = 0;
    /* the 10th client bidi stream (id 36) is allowed, the 11th (id 40) is not */
    assert_int_equal(tern_streams_get_remote(&m, 40, 0, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_LIMIT_ERROR);
    assert_int_equal(m.count, 0);
    assert_int_equal(tern_streams_get_remote(&m, 36, 0, &s, &terr), 0);
    assert_int_equal(m.count, 10);
    /* per-stream values from the right perspective */
    assert_int_equal(s->max_recv, 1002); /* peer-opened bidi: our bidi_remote */
    assert_int_equal(s->recv_window, 1002);
    assert_int_equal(s->rcv.limit, 1002);
    assert_int_equal(s->max_send, 2001); /* the peer's bidi_local */
    assert_int_equal(s->snd.limit, 50000);
    assert_null(s->snd.buf);
    assert_null(s->rcv.chunks);
    assert_int_equal(tern_streams_get_remote(&m, 2, 0, &s, &terr), 0); /* client uni */
    assert_int_equal(s->max_recv, 1003);
    assert_int_equal(s->max_send, 0);
    assert_int_equal(s->snd.limit, 0);

    /* local streams: server bidi ids 1, 5; then the limit */
    assert_int_equal(tern_streams_open_local(&m, 1, &s), 0);
    assert_int_equal(s->id, 1);
    assert_int_equal(s->max_recv, 1001); /* ours: bidi_local */
    assert_int_equal(s->max_send, 2002); /* the peer's bidi_remote */
    assert_int_equal(tern_streams_open_local(&m, 1, &s), 0);
    assert_int_equal(s->id, 5);
    assert_int_equal(tern_streams_open_local(&m, 1, &s), TERN_ERR_STREAM_LIMIT);
    assert_true(m.need_streams_blocked[0]);
    assert_int_equal(tern_streams_on_max_streams(&m, 1, 2), 0);
    assert_int_equal(tern_streams_on_max_streams(&m, 1, 3), 1);
    assert_false(m.need_streams_blocked[0]);
    assert_int_equal(tern_streams_open_local(&m, 1, &s), 0);
    assert_int_equal(s->id, 9);
    assert_int_equal(tern_streams_open_local(&m, 0, &s), 0);
    assert_int_equal(s->id, 3);
    assert_int_equal(s->max_send, 2003);
    assert_int_equal(s->max_recv, 0);
    assert_int_equal(s->rcv.limit, 0);
    assert_int_equal(s->snd.limit, 50000);
    tern_streams_free(&m);

    /* client perspective */
    setup_map(&m, 0);
    assert_int_equal(tern_streams_open_local(&m, 1, &s), 0);
    assert_int_equal(s->id, 0);
    assert_int_equal(s->max_recv, 1001);
    assert_int_equal(s->max_send, 2002);
    assert_int_equal(tern_streams_get_remote(&m, 1, 0, &s, &terr), 0);
    assert_int_equal(s->max_recv, 1002);
    assert_int_equal(s->max_send, 2001);
    assert_int_equal(tern_streams_get_remote(&m, 3, 0, &s, &terr), 0);
    assert_int_equal(s->max_recv, 1003);
    tern_streams_free(&m);
}

static void test_map_direction_errors(void **st)
{
    tern_streams m;
    setup_map(&m, 1);
    tern_stream *s = NULL, *mine = NULL;
    uint64_t terr = 0;
    /* STREAM on a local bidi stream not opened yet */
    assert_int_equal(tern_streams_get_remote(&m, 1, 0, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_STATE_ERROR);
    assert_int_equal(tern_streams_open_local(&m, 0, &mine), 0); /* id 3, our send-only */
    /* STREAM / RESET_STREAM on our send-only stream */
    terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 3, 0, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_STATE_ERROR);
    /* STOP_SENDING / MAX_STREAM_DATA on it are fine */
    assert_int_equal(tern_streams_get_remote(&m, 3, 1, &s, &terr), 0);
    assert_ptr_equal(s, mine);
    /* MAX_STREAM_DATA on a peer's uni stream (receive-only for us) */
    terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 2, 1, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_STATE_ERROR);
    assert_int_equal(m.opened_remote[1], 0); /* refused frames open nothing */
    /* a local uni stream not opened yet, frame about our sending side */
    terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 7, 1, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_STATE_ERROR);
    assert_int_equal(tern_streams_get_remote(&m, -4, 0, &s, &terr), TERN_ERR_INVALID_ARG);
    /* an id no varint carries (2^62 and above) is no stream either, and opens none */
    s = (tern_stream *)&terr;
    uint64_t opened = m.opened_remote[0];
    assert_int_equal(tern_streams_get_remote(&m, (int64_t)1 << 62, 0, &s, &terr),
                     TERN_ERR_INVALID_ARG);
    assert_null(s);
    assert_int_equal(m.opened_remote[0], opened);
    tern_streams_free(&m);
}

static void test_map_close_credit(void **st)
{
    tern_streams m;
    setup_map(&m, 1);
    tern_stream *s = NULL;
    uint64_t terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 36, 0, &s, &terr), 0);
    for (int i = 0; i < 4; i++)
        tern_streams_close(&m, tern_streams_find(&m, 4 * i));
    assert_false(m.need_max_streams[0]);
    assert_int_equal(m.max_remote[0], 10);
    tern_streams_close(&m, tern_streams_find(&m, 16));
    assert_true(m.need_max_streams[0]);
    assert_int_equal(m.max_remote_next[0], 15);
    /* decided is not sent: the peer may open no more than it was told */
    assert_int_equal(m.max_remote[0], 10);
    assert_int_equal(tern_streams_get_remote(&m, 40, 0, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_LIMIT_ERROR);
    tern_streams_max_streams_sent(&m, 0, 15);
    assert_int_equal(m.max_remote[0], 15);
    tern_streams_max_streams_sent(&m, 0, 12); /* an older value sent again lowers nothing */
    assert_int_equal(m.max_remote[0], 15);
    assert_int_equal(m.closed_remote[0], 5);
    assert_int_equal(m.count, 5);
    /* a frame for a closed stream finds nothing, and is no error */
    s = (tern_stream *)1;
    assert_int_equal(tern_streams_get_remote(&m, 8, 0, &s, &terr), 0);
    assert_null(s);
    assert_int_equal(tern_streams_get_remote(&m, 56, 0, &s, &terr), 0);
    assert_int_equal(s->id, 56);
    terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 60, 0, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_LIMIT_ERROR);
    /* closing local streams gives no credit */
    m.need_max_streams[0] = 0;
    assert_int_equal(tern_streams_open_local(&m, 1, &s), 0);
    tern_streams_close(&m, s);
    assert_int_equal(m.closed_remote[0], 5);
    assert_false(m.need_max_streams[0]);
    assert_int_equal(tern_streams_get_remote(&m, 1, 0, &s, &terr), 0);
    assert_null(s);
    tern_streams_free(&m);
}

static void test_map_many(void **st)
{
    enum { N = 10000 };
    tern_streams m;
    tern_streams_init(&m, 0, 1000);
    m.max_local[0] = N;
    tern_streams_set_remote_limits(&m, 0, N);
    m.local_max_data_uni = 100;
    tern_stream *s;
    for (int i = 0; i < N; i++) {
        assert_int_equal(tern_streams_open_local(&m, 1, &s), 0);
        assert_int_equal(s->id, 4 * i);
    }
    assert_int_equal(tern_streams_open_local(&m, 1, &s), TERN_ERR_STREAM_LIMIT);
    /* one frame on the last server uni stream opens all N */
    uint64_t terr;
    assert_int_equal(tern_streams_get_remote(&m, tern_sid_make(N - 1, 0, 1), 0, &s, &terr), 0);
    assert_int_equal(m.count, 2 * N);
    assert_true(m.nbuckets >= m.count); /* chains stay short */
    for (int i = 0; i < N; i++) {
        assert_non_null(tern_streams_find(&m, 4 * i));
        assert_non_null(tern_streams_find(&m, tern_sid_make((uint64_t)i, 0, 1)));
    }
    /* close in a scrambled order */
    for (int i = 0; i < N; i++) {
        int k = (int)(((uint64_t)i * 7919) % N);
        tern_stream *a = tern_streams_find(&m, 4 * k);
        tern_stream *b = tern_streams_find(&m, tern_sid_make((uint64_t)k, 0, 1));
        assert_non_null(a);
        assert_non_null(b);
        if (i % 3 == 0)
            tern_streams_sendq_push(&m, a);
        tern_streams_close(&m, a);
        tern_streams_close(&m, b);
        assert_null(tern_streams_find(&m, 4 * k));
    }
    assert_int_equal(m.count, 0);
    assert_null(m.sendq_head);
    assert_int_equal(m.closed_remote[1], N);
    assert_int_equal(m.max_remote_next[1], 2 * N);
    assert_true(m.need_max_streams[1]);
    tern_streams_free(&m);
}

static void test_map_sendq(void **st)
{
    tern_streams m;
    setup_map(&m, 0);
    m.max_local[0] = 5;
    tern_stream *a, *b, *c;
    assert_int_equal(tern_streams_open_local(&m, 1, &a), 0);
    assert_int_equal(tern_streams_open_local(&m, 1, &b), 0);
    assert_int_equal(tern_streams_open_local(&m, 1, &c), 0);
    tern_streams_sendq_push(&m, a);
    tern_streams_sendq_push(&m, b);
    tern_streams_sendq_push(&m, a); /* already queued */
    tern_streams_sendq_push(&m, c);
    assert_ptr_equal(tern_streams_sendq_pop(&m), a);
    tern_streams_sendq_push(&m, a); /* round robin: back to the tail */
    assert_ptr_equal(tern_streams_sendq_pop(&m), b);
    tern_streams_close(&m, c); /* closing unlinks it */
    assert_ptr_equal(tern_streams_sendq_pop(&m), a);
    assert_null(tern_streams_sendq_pop(&m));
    tern_streams_sendq_push(&m, b);
    assert_ptr_equal(tern_streams_sendq_pop(&m), b);
    assert_null(tern_streams_sendq_pop(&m));
    tern_streams_free(&m);
}

/* The control queue holds each stream once, in any order of pushes and removals, and a stream
 * closed while queued leaves it. */
static void test_map_ctrlq(void **st)
{
    tern_streams m;
    setup_map(&m, 0);
    m.max_local[0] = 5;
    tern_stream *a, *b, *c;
    assert_int_equal(tern_streams_open_local(&m, 1, &a), 0);
    assert_int_equal(tern_streams_open_local(&m, 1, &b), 0);
    assert_int_equal(tern_streams_open_local(&m, 1, &c), 0);
    assert_null(m.ctrlq_head);
    tern_streams_ctrlq_push(&m, a);
    tern_streams_ctrlq_push(&m, b);
    tern_streams_ctrlq_push(&m, a); /* already queued: stays once */
    tern_streams_ctrlq_push(&m, c);
    int n = 0;
    for (tern_stream *s = m.ctrlq_head; s; s = s->cnext)
        n++;
    assert_int_equal(n, 3);
    tern_streams_ctrlq_remove(&m, b); /* from the middle */
    assert_false(b->in_ctrlq);
    tern_streams_ctrlq_remove(&m, b); /* not queued: nothing */
    tern_streams_close(&m, c);        /* the head, closed: unlinked */
    assert_ptr_equal(m.ctrlq_head, a);
    assert_null(a->cnext);
    assert_null(a->cprev);
    tern_streams_ctrlq_remove(&m, a);
    assert_null(m.ctrlq_head);
    tern_streams_ctrlq_push(&m, b);
    assert_ptr_equal(m.ctrlq_head, b);
    tern_streams_free(&m);
    assert_null(m.ctrlq_head);
}

static void test_stream_flow(void **st)
{
    tern_streams m;
    setup_map(&m, 1);
    m.local_max_data_bidi_remote = 1000;
    tern_stream *s;
    uint64_t terr = 0;
    tern_stream_credit cr;
    assert_int_equal(tern_streams_get_remote(&m, 0, 0, &s, &terr), 0);
    uint8_t src[2000], out[2000];
    fill_pattern(src, sizeof(src), 0);
    assert_int_equal(tern_stream_recv(s, 500, src + 500, 500, 0, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 1000);
    assert_int_equal(tern_stream_recv(s, 0, src, 600, 0, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 0);
    assert_int_equal(tern_stream_recv(s, 1000, src, 1, 0, UINT64_MAX, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    assert_int_equal(tern_stream_update_recv_credit(s, 0), 0);
    assert_int_equal(tern_recvbuf_read(&s->rcv, out, 400, NULL), 400);
    assert_int_equal(tern_stream_update_recv_credit(s, 0), 0); /* 600 still open */
    assert_int_equal(tern_recvbuf_read(&s->rcv, out + 400, 200, NULL), 200);
    assert_int_equal(tern_stream_update_recv_credit(s, 0), 1);
    assert_int_equal(s->max_recv_next, 1600);
    assert_true(s->flags & TERN_SF_NEED_MAX_STREAM_DATA);
    /* decided is not sent: the peer may send no more than it was told */
    assert_int_equal(s->max_recv, 1000);
    assert_int_equal(tern_stream_recv(s, 1000, src + 1000, 600, 1, UINT64_MAX, &cr, &terr),
                     TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    tern_stream_max_stream_data_sent(s, s->max_recv_next);
    assert_int_equal(s->max_recv, 1600);
    assert_int_equal(tern_stream_recv(s, 1000, src + 1000, 600, 1, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 600);
    size_t n = tern_recvbuf_read(&s->rcv, out + 600, 2000, NULL);
    assert_int_equal(n, 1000);
    assert_memory_equal(out, src, 1600);
    assert_int_equal(tern_stream_update_recv_credit(s, 0), 0); /* final size known: no credit */

    /* an enlarged window reaches the ring too */
    tern_stream *s2;
    assert_int_equal(tern_streams_get_remote(&m, 4, 0, &s2, &terr), 0);
    s2->recv_window = 2000;
    assert_int_equal(tern_stream_update_recv_credit(s2, 0), 1);
    assert_int_equal(s2->max_recv_next, 2000);
    tern_stream_max_stream_data_sent(s2, s2->max_recv_next);
    assert_int_equal(s2->rcv.limit, 2000);
    assert_int_equal(tern_stream_recv(s2, 1500, src, 500, 0, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 2000);

    /* done only when both directions are */
    assert_false(tern_stream_is_done(s, 1));
    assert_int_equal(tern_sendbuf_write(&s->snd, src, 10, 1), 10);
    tern_sendbuf_on_sent(&s->snd, 0, 10, 1);
    tern_sendbuf_on_acked(&s->snd, 0, 10, 1);
    assert_true(tern_stream_is_done(s, 1));
    tern_streams_free(&m);
}


/* Memory follows the bytes held, not the offsets named; chunks read past go back to the pool and
 * come out of it again without a new allocation. */
static void test_recvbuf_chunks(void **st)
{
    tern_chunk_pool pool;
    tern_chunk_pool_init(&pool, 1u << 20);
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 1u << 20, &pool);
    static uint8_t src[1u << 20], out[1u << 20];
    fill_pattern(src, sizeof(src), 0);
    uint64_t terr;
    for (uint64_t off = 0; off < (1u << 20); off += 100000)
        assert_int_equal(tern_recvbuf_write(&rb, off, src + off, 1, 0, &terr), 0);
    assert_int_equal(rb.highest, 1000001);
    assert_int_equal(pool.chunks_out, 11);
    /* 11 chunks and the pointer ring: a ring sized by the highest offset would hold 1 MiB */
    assert_true(tern_chunk_pool_bytes(&pool) <= 11 * TERN_RECV_CHUNK + 300 * sizeof(void *));
    /* a frame across a chunk boundary needs both chunks */
    assert_int_equal(tern_recvbuf_write(&rb, 4000, src + 4000, 200, 0, &terr), 0);
    assert_int_equal(pool.chunks_out, 12);
    /* fill everything, read it back exactly, and every chunk is returned */
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 1u << 20, 1, &terr), 0);
    assert_int_equal(pool.chunks_out, (1u << 20) / TERN_RECV_CHUNK);
    uint64_t allocs = pool.allocs;
    size_t got = 0;
    int fin = 0;
    while (!fin) {
        got += tern_recvbuf_read(&rb, out + got, 1 + rnd() % 9000, &fin);
        assert_true(pool.chunks_out <= ((1u << 20) - got) / TERN_RECV_CHUNK + 1);
    }
    assert_int_equal(got, 1u << 20);
    assert_memory_equal(out, src, got);
    assert_int_equal(pool.chunks_out, 0);
    assert_null(rb.chunks);
    /* spares kept: an eighth of the budget (32 chunks) */
    assert_int_equal(pool.nfree, (1u << 20) / 8 / TERN_RECV_CHUNK);
    assert_int_equal(pool.index_bytes, 0);
    tern_recvbuf_free(&rb);

    /* a second buffer reuses the spares: no allocation for chunks */
    tern_recvbuf_init(&rb, 1u << 20, &pool);
    for (uint64_t off = 0; off < 32 * TERN_RECV_CHUNK; off += 1024)
        assert_int_equal(tern_recvbuf_write(&rb, off, src + off, 1024, 0, &terr), 0);
    assert_int_equal(pool.chunks_out, 32);
    assert_int_equal(pool.nfree, 0);
    assert_int_equal(pool.allocs, allocs + 3); /* the pointer ring at 8, 16, 32: no chunk */
    tern_recvbuf_free(&rb);
    assert_int_equal(pool.chunks_out, 0);
    assert_int_equal(tern_chunk_pool_bytes(&pool), 32 * TERN_RECV_CHUNK);
    tern_chunk_pool_free(&pool);
    assert_int_equal(tern_chunk_pool_bytes(&pool), 0);
}

/* A stream read to the end of what arrived keeps the chunk of its read offset, so that a reader
 * that drains every packet allocates nothing per packet: 14 packets of 1200 bytes, each read at
 * once, cost one chunk per 4 KB crossed and no more (the chunks read past go back to the pool as
 * spares and come out again). tern_recvbuf_trim, once the stream is quiet, gives the chunk,
 * pointer ring and range array back to the allocator, whether the bytes were copied in or lent;
 * the next bytes continue at their offsets. It does nothing while bytes are unread or lent. */
static void test_recvbuf_drained_trim(void **st)
{
    tern_chunk_pool pool;
    tern_chunk_pool_init(&pool, 1u << 20);
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 1u << 20, &pool);
    static uint8_t src[8 * TERN_RECV_CHUNK];
    uint8_t out[TERN_RECV_CHUNK];
    fill_pattern(src, sizeof(src), 0);
    uint64_t terr;
    int fin;
    (void)st;
    /* copied in, with a gap first: trimming waits until the gap is filled and everything read */
    assert_int_equal(tern_recvbuf_write(&rb, 3, src + 3, 4, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_trim(&rb), 0);
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 3, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_read(&rb, out, 2, &fin), 2);
    assert_int_equal(tern_recvbuf_trim(&rb), 0); /* 5 bytes unread */
    assert_int_equal(pool.chunks_out, 1);
    assert_int_equal(tern_recvbuf_read(&rb, out + 2, sizeof(out), &fin), 5);
    assert_memory_equal(out, src, 7);
    assert_int_equal(pool.chunks_out, 1); /* kept for the next bytes */
    assert_int_equal(tern_recvbuf_trim(&rb), 1);
    assert_int_equal(pool.chunks_out, 0);
    assert_int_equal(pool.nfree, 0); /* freed, not kept as a spare */
    assert_null(rb.chunks);
    assert_null(rb.have.r);
    assert_int_equal(tern_chunk_pool_bytes(&pool), 0);
    assert_int_equal(tern_recvbuf_trim(&rb), 0); /* nothing left to free */
    /* packets read one by one as they arrive, lent and copied alternately: no allocation but
     * for the chunks of new 4 KB ranges while the spares run dry, and the pointer ring once */
    uint64_t at = rb.read_off, allocs = pool.allocs;
    for (int i = 0; i < 14; i++) {
        if (i & 1)
            assert_int_equal(tern_recvbuf_write(&rb, at, src + at % 4096, 1200, 0, &terr), 0);
        else
            assert_int_equal(tern_recvbuf_write_lent(&rb, at, src + at % 4096, 1200, 0, &terr),
                             0);
        assert_int_equal(tern_recvbuf_read(&rb, out, sizeof(out), &fin), 1200);
        assert_memory_equal(out, src + at % 4096, 1200);
        tern_recvbuf_settle(&rb);
        at += 1200;
        assert_true(pool.chunks_out <= 2);
    }
    /* the first chunk, the pointer ring, one more chunk while the spare list was empty */
    assert_true(pool.allocs - allocs <= 3);
    /* lent, settled with bytes unread: trimming waits until they are read */
    assert_int_equal(tern_recvbuf_write_lent(&rb, at, src, 10, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_trim(&rb), 0); /* lent */
    tern_recvbuf_settle(&rb);
    assert_int_equal(tern_recvbuf_trim(&rb), 0); /* unread */
    assert_int_equal(tern_recvbuf_read(&rb, out, sizeof(out), &fin), 10);
    assert_memory_equal(out, src, 10);
    assert_int_equal(tern_recvbuf_trim(&rb), 1);
    assert_null(rb.chunks);
    assert_int_equal(pool.chunks_out, 0);
    tern_chunk_pool_free(&pool); /* the spares */
    assert_int_equal(tern_chunk_pool_bytes(&pool), 0);
    /* and the stream goes on at its offset after the trim */
    assert_int_equal(tern_recvbuf_write(&rb, at + 10, src + 5, 20, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_read(&rb, out, sizeof(out), &fin), 20);
    assert_memory_equal(out, src + 5, 20);
    tern_recvbuf_free(&rb);
    tern_chunk_pool_free(&pool);
}

/* Discarding frees everything; the final-size rules still hold; read_off follows what arrives. */
static void test_recvbuf_discard(void **st)
{
    tern_chunk_pool pool;
    tern_chunk_pool_init(&pool, 0);
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 100000, &pool);
    uint8_t src[3000];
    fill_pattern(src, sizeof(src), 0);
    uint64_t terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 1000, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_write(&rb, 2000, src, 1000, 0, &terr), 0);
    assert_int_equal(tern_recvbuf_read(&rb, src, 300, NULL), 300);
    assert_int_equal(tern_recvbuf_discard(&rb), 2700);
    assert_int_equal(rb.read_off, 3000);
    assert_int_equal(pool.chunks_out, 0);
    assert_null(rb.chunks);
    assert_int_equal(tern_recvbuf_overhead(&rb), 0);
    assert_int_equal(tern_recvbuf_readable(&rb), 0);
    /* more bytes: nothing stored, read_off moves with them */
    assert_int_equal(tern_recvbuf_write(&rb, 3000, src, 500, 0, &terr), 0);
    assert_int_equal(rb.read_off, 3500);
    assert_int_equal(pool.chunks_out, 0);
    assert_int_equal(tern_recvbuf_write(&rb, 100, src, 50, 0, &terr), 0); /* old bytes */
    /* a FIN below the highest offset is still a FINAL_SIZE_ERROR (RFC 9000 §4.5) */
    assert_int_equal(tern_recvbuf_write(&rb, 1000, src, 0, 1, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    assert_false(tern_recvbuf_finished(&rb));
    assert_int_equal(tern_recvbuf_write(&rb, 3500, src, 500, 1, &terr), 0);
    assert_true(tern_recvbuf_finished(&rb));
    terr = 0;
    assert_int_equal(tern_recvbuf_write(&rb, 3900, src, 200, 0, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    tern_recvbuf_free(&rb);
    tern_chunk_pool_free(&pool);
}

/* 8 KiB of the test pattern, for tests that only send it. */
static const uint8_t *pattern(void)
{
    static uint8_t p[8192];
    static int done;
    if (!done) {
        fill_pattern(p, sizeof(p), 0);
        done = 1;
    }
    return p;
}

/* A server-side map (setup_map) and the peer's stream `id` in it. */
static tern_stream *server_map_stream(tern_streams *m, int64_t id)
{
    tern_stream *s;
    uint64_t terr = 0;
    setup_map(m, 1);
    assert_int_equal(tern_streams_get_remote(m, id, 0, &s, &terr), 0);
    return s;
}

/* Stream and connection limits are checked before anything is stored. */
static void test_stream_credit_before_storing(void **st)
{
    tern_streams m;
    uint64_t terr = 0;
    tern_stream_credit cr;
    tern_stream *s = server_map_stream(&m, 0);
    const uint8_t *src = pattern();
    assert_int_equal(tern_stream_recv(s, 500, src, 100, 0, 99, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    assert_null(s->rcv.chunks);
    assert_int_equal(m.pool.chunks_out, 0);
    assert_int_equal(s->rcv.highest, 0);
    /* exactly the credit left is fine, and only the new bytes count */
    assert_int_equal(tern_stream_recv(s, 500, src, 100, 0, 600, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 600);
    assert_int_equal(cr.consumed, 0);
    assert_int_equal(tern_stream_recv(s, 0, src, 700, 0, 100, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 100);
    assert_int_equal(tern_stream_recv(s, 700, src, 303, 0, UINT64_MAX, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR); /* beyond the stream's 1002 */
    assert_true(tern_streams_recv_bytes(&m) > 0);
    tern_streams_free(&m);
}

/* RESET_STREAM: the stream's limits, the final-size rules, the memory and the credit. */
static void test_stream_reset_recv(void **st)
{
    tern_streams m;
    uint64_t terr = 0;
    tern_stream_credit cr;
    tern_stream *s = server_map_stream(&m, 0);
    const uint8_t *src = pattern();
    assert_int_equal(tern_stream_recv(s, 0, src, 300, 0, UINT64_MAX, &cr, &terr), 0);
    uint8_t out[100];
    assert_int_equal(tern_recvbuf_read(&s->rcv, out, 100, NULL), 100);
    assert_int_equal(tern_stream_on_reset(s, 1003, UINT64_MAX, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR); /* past max_recv 1002 */
    assert_int_equal(tern_stream_on_reset(s, 900, 599, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR); /* past the connection's credit */
    assert_int_equal(tern_stream_on_reset(s, 299, UINT64_MAX, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    assert_false(s->flags & TERN_SF_RESET_RECVD);
    assert_int_equal(tern_stream_on_reset(s, 900, 600, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 600);
    assert_int_equal(cr.consumed, 800); /* 200 buffered and 600 never sent */
    assert_true(s->flags & TERN_SF_RESET_RECVD);
    assert_null(s->rcv.chunks);
    assert_int_equal(m.pool.chunks_out, 0);
    /* a repeat with the same size is fine and consumes nothing; another size is not */
    assert_int_equal(tern_stream_on_reset(s, 900, 0, &cr, &terr), 0);
    assert_int_equal(cr.consumed, 0);
    assert_int_equal(tern_stream_on_reset(s, 901, UINT64_MAX, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    /* late STREAM data: sizes checked, nothing stored */
    assert_int_equal(tern_stream_recv(s, 800, src, 100, 1, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes + cr.consumed, 0);
    assert_int_equal(tern_stream_recv(s, 800, src, 150, 0, UINT64_MAX, &cr, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FINAL_SIZE_ERROR);
    assert_true(tern_stream_is_done(s, 1) == 0); /* our sending side is still open */
    tern_streams_free(&m);
}

/* STOP_SENDING: asked only while the peer still sends; what is held or comes later is consumed. */
static void test_stream_stop_recv(void **st)
{
    tern_streams m;
    uint64_t terr = 0;
    tern_stream_credit cr;
    tern_stream *s = server_map_stream(&m, 0), *t;
    const uint8_t *src = pattern();
    assert_int_equal(tern_stream_recv(s, 100, src, 400, 0, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(tern_stream_stop_recv(s, 7), 500);
    assert_true(s->flags & TERN_SF_NEED_STOP_SENDING);
    assert_int_equal(s->stop_error, 7);
    assert_int_equal(tern_stream_stop_recv(s, 8), 0); /* once */
    assert_int_equal(s->stop_error, 7);
    assert_int_equal(tern_stream_recv(s, 500, src, 300, 0, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(cr.new_bytes, 300);
    assert_int_equal(cr.consumed, 300);
    assert_int_equal(tern_stream_update_recv_credit(s, 1), 0); /* no credit for a stopped stream */
    assert_int_equal(tern_stream_on_data_blocked(s, s->max_recv), 0);
    /* the FIN ends the receive side: nothing will ever be read, nothing is owed */
    assert_int_equal(tern_stream_recv(s, 800, src, 0, 1, UINT64_MAX, &cr, &terr), 0);
    assert_true(tern_recvbuf_finished(&s->rcv));

    /* after the peer's FIN there is nothing to stop: no frame, the bytes are consumed at once */
    assert_int_equal(tern_streams_get_remote(&m, 4, 0, &t, &terr), 0);
    assert_int_equal(tern_stream_recv(t, 0, src, 1000, 1, UINT64_MAX, &cr, &terr), 0);
    assert_int_equal(tern_stream_stop_recv(t, 9), 1000);
    assert_false(t->flags & TERN_SF_NEED_STOP_SENDING);
    assert_true(tern_recvbuf_finished(&t->rcv));
    assert_int_equal(m.pool.chunks_out, 0);
    tern_streams_free(&m);
}

/* STREAM_DATA_BLOCKED: our last MAX_STREAM_DATA again, or the credit reading opened. */
static void test_stream_data_blocked(void **st)
{
    tern_streams m;
    uint64_t terr = 0;
    tern_stream_credit cr;
    tern_stream *s = server_map_stream(&m, 0);
    const uint8_t *src = pattern();
    assert_int_equal(tern_stream_recv(s, 0, src, 1002, 0, UINT64_MAX, &cr, &terr), 0);
    /* nothing read: no credit to give */
    assert_int_equal(tern_stream_on_data_blocked(s, 1002), 0);
    assert_false(s->flags & TERN_SF_NEED_MAX_STREAM_DATA);
    /* 100 read: below the half-window step, yet a blocked peer gets it */
    uint8_t out[100];
    assert_int_equal(tern_recvbuf_read(&s->rcv, out, 100, NULL), 100);
    assert_int_equal(tern_stream_update_recv_credit(s, 0), 0);
    assert_int_equal(tern_stream_on_data_blocked(s, 1002), 1);
    assert_int_equal(s->max_recv_next, 1102);
    assert_true(s->flags & TERN_SF_NEED_MAX_STREAM_DATA);
    /* the peer blocked at the old limit missed the new one: say it again */
    s->flags &= ~(uint32_t)TERN_SF_NEED_MAX_STREAM_DATA;
    tern_stream_max_stream_data_sent(s, s->max_recv_next);
    assert_int_equal(tern_stream_on_data_blocked(s, 1002), 1);
    assert_int_equal(s->max_recv_next, 1102);
    assert_true(s->flags & TERN_SF_NEED_MAX_STREAM_DATA);
    tern_streams_free(&m);
}

/* Resetting our side: queued once, refused once everything was acknowledged. */
static void test_stream_reset_send(void **st)
{
    tern_streams m;
    uint64_t terr = 0;
    tern_stream *s = server_map_stream(&m, 0);
    const uint8_t *src = pattern();
    assert_int_equal(tern_sendbuf_write(&s->snd, src, 100, 0), 100);
    tern_sendbuf_on_sent(&s->snd, 0, 60, 0);
    assert_int_equal(tern_stream_reset_send(s, 5), 1);
    assert_int_equal(s->reset_final_size, 60);
    assert_int_equal(s->reset_error, 5);
    assert_true(s->flags & TERN_SF_NEED_RESET);
    assert_int_equal(tern_stream_reset_send(s, 6), 0);
    assert_int_equal(s->reset_error, 5);
    tern_stream *t;
    assert_int_equal(tern_streams_get_remote(&m, 4, 0, &t, &terr), 0);
    assert_int_equal(tern_sendbuf_write(&t->snd, src, 10, 1), 10);
    tern_sendbuf_on_sent(&t->snd, 0, 10, 1);
    tern_sendbuf_on_acked(&t->snd, 0, 10, 1);
    assert_int_equal(tern_stream_reset_send(t, 5), TERN_ERR_STREAM_STATE);
    tern_streams_free(&m);
}

/* The peer's initial stream limits reach local streams opened before they were known. */
static void test_streams_peer_limits(void **st)
{
    tern_streams m;
    setup_map(&m, 0);
    m.peer_max_data_bidi_remote = m.peer_max_data_uni = 0;
    tern_stream *b, *u, *r;
    uint64_t terr = 0;
    assert_int_equal(tern_streams_open_local(&m, 1, &b), 0);
    assert_int_equal(tern_streams_open_local(&m, 0, &u), 0);
    assert_int_equal(tern_streams_get_remote(&m, 1, 0, &r, &terr), 0); /* server bidi */
    assert_int_equal(b->max_send, 0);
    tern_streams_set_peer_limits(&m, 3000, 4000, 5000);
    assert_int_equal(b->max_send, 4000);
    assert_int_equal(u->max_send, 5000);
    assert_int_equal(r->max_send, 2001); /* a peer stream keeps what it was opened with */
    assert_int_equal(m.peer_max_data_bidi_local, 3000);
    /* MAX_STREAM_DATA only raises the limit, and says when bytes became sendable */
    assert_int_equal(tern_stream_on_max_stream_data(b, 3000), 0);
    assert_int_equal(b->max_send, 4000);
    assert_int_equal(tern_stream_on_max_stream_data(b, 5000), 0); /* nothing written */
    assert_int_equal(b->max_send, 5000);
    assert_int_equal(tern_sendbuf_write(&b->snd, pattern(), 6000, 0), 6000);
    tern_sendbuf_on_sent(&b->snd, 0, 5000, 0);
    assert_false(tern_sendbuf_has_pending(&b->snd, b->max_send));
    assert_int_equal(tern_stream_on_max_stream_data(b, 7000), 1);
    /* MAX_STREAMS only ever raises the limit, clamped to 2^60 */
    assert_int_equal(tern_streams_on_max_streams(&m, 1, 1), 0);
    assert_int_equal(tern_streams_on_max_streams(&m, 1, UINT64_MAX), 1);
    assert_int_equal(m.max_local[0], 1ull << 60);
    tern_streams_free(&m);
}

/* A failed allocation drops the frame and changes nothing a later retransmission depends on. */
static void test_recvbuf_alloc_failure(void **st)
{
#if !ALLOCHOOK_ACTIVE
    skip();
#else
    tern_chunk_pool pool;
    tern_chunk_pool_init(&pool, 0);
    tern_recvbuf rb;
    tern_recvbuf_init(&rb, 1u << 20, &pool);
    static uint8_t src[20000], out[20000];
    fill_pattern(src, sizeof(src), 7);
    uint64_t terr;
    /* the pointer ring cannot be allocated */
    allochook_fail_next = 1;
    assert_int_equal(tern_recvbuf_write(&rb, 100, src + 100, 5000, 0, &terr), TERN_ERR_NOMEM);
    assert_int_equal(rb.highest, 0);
    assert_int_equal(rb.have.n, 0);
    assert_int_equal(pool.chunks_out, 0);
    /* a chunk cannot be allocated */
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 10, 0, &terr), 0);
    allochook_fail_next = 1;
    assert_int_equal(tern_recvbuf_write(&rb, 10000, src + 10000, 10000, 1, &terr), TERN_ERR_NOMEM);
    assert_int_equal(rb.highest, 10);
    assert_int_equal(rb.final_size, UINT64_MAX);
    assert_int_equal(rb.have.n, 1);
    /* the retransmissions fill everything in */
    assert_int_equal(tern_recvbuf_write(&rb, 10000, src + 10000, 10000, 1, &terr), 0);
    assert_int_equal(tern_recvbuf_write(&rb, 0, src, 10000, 0, &terr), 0);
    int fin = 0;
    assert_int_equal(tern_recvbuf_read(&rb, out, sizeof(out), &fin), sizeof(out));
    assert_true(fin);
    assert_memory_equal(out, src, sizeof(out));
    assert_int_equal(pool.chunks_out, 0);
    tern_recvbuf_free(&rb);
    tern_chunk_pool_free(&pool);
#endif
}

/* Lost control frames are queued again only while still current. */
static void test_stream_frame_lost(void **st)
{
    tern_streams m;
    uint64_t terr = 0;
    tern_stream_credit cr;
    tern_stream *s = server_map_stream(&m, 0);
    const uint8_t *src = pattern();
    /* MAX_STREAM_DATA: the current limit only, and not once the final size is known */
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_MAX_STREAM_DATA, s->max_recv - 1), 0);
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_MAX_STREAM_DATA, s->max_recv), 1);
    assert_true(s->flags & TERN_SF_NEED_MAX_STREAM_DATA);
    /* STREAM_DATA_BLOCKED: only while still blocked at that limit */
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_STREAM_DATA_BLOCKED, s->max_send), 0);
    assert_int_equal(tern_sendbuf_write(&s->snd, src, 2000, 0), 2000);
    s->max_send = 1500;
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_STREAM_DATA_BLOCKED, 1000), 0);
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_STREAM_DATA_BLOCKED, 1500), 1);
    assert_true(s->flags & TERN_SF_NEED_STREAM_DATA_BLOCKED);
    /* STOP_SENDING: not once the peer's FIN is known */
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_STOP_SENDING, 0), 1);
    assert_int_equal(tern_stream_recv(s, 0, src, 10, 1, UINT64_MAX, &cr, &terr), 0);
    s->flags &= ~(uint32_t)(TERN_SF_NEED_STOP_SENDING | TERN_SF_NEED_MAX_STREAM_DATA);
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_STOP_SENDING, 0), 0);
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_MAX_STREAM_DATA, s->max_recv), 0);
    /* RESET_STREAM: until it is acknowledged */
    assert_int_equal(tern_stream_reset_send(s, 1), 1);
    s->flags &= ~(uint32_t)TERN_SF_NEED_RESET;
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_STREAM_DATA_BLOCKED, 1500), 0);
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_RESET_STREAM, 0), 1);
    s->flags |= TERN_SF_RESET_ACKED;
    s->flags &= ~(uint32_t)TERN_SF_NEED_RESET;
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_RESET_STREAM, 0), 0);
    assert_int_equal(tern_stream_on_frame_lost(s, TERN_FT_PING, 0), 0);
    tern_streams_free(&m);
}

/* MAX_STREAMS and STREAMS_BLOCKED: answered and repeated only while current. */
static void test_streams_blocked_and_lost(void **st)
{
    tern_streams m;
    setup_map(&m, 1); /* the peer may open 10 of each; we may open 2 of each */
    tern_stream *s;
    uint64_t terr = 0;
    /* the peer closes 4 of its streams: credit goes out in steps of 5, none yet */
    for (int64_t i = 0; i < 4; i++) {
        assert_int_equal(tern_streams_get_remote(&m, i * 4, 0, &s, &terr), 0);
        tern_streams_close(&m, s);
    }
    assert_int_equal(m.max_remote[0], 10);
    assert_false(m.need_max_streams[0]);
    /* blocked at 10: the 4 earned streams go out now */
    assert_int_equal(tern_streams_on_streams_blocked(&m, 1, 10), 1);
    assert_int_equal(m.max_remote_next[0], 14);
    assert_true(m.need_max_streams[0]);
    /* blocked at an older limit: ours is repeated, not changed */
    m.need_max_streams[0] = 0;
    tern_streams_max_streams_sent(&m, 0, 14);
    assert_int_equal(tern_streams_on_streams_blocked(&m, 1, 8), 1);
    assert_int_equal(m.max_remote_next[0], 14);
    assert_int_equal(m.max_remote[0], 14);
    assert_true(m.need_max_streams[0]);
    /* nothing earned on the uni side */
    assert_int_equal(tern_streams_on_streams_blocked(&m, 0, 10), 0);
    assert_false(m.need_max_streams[1]);
    /* a lost MAX_STREAMS is repeated only if it is the latest */
    m.need_max_streams[0] = 0;
    assert_int_equal(tern_streams_on_frame_lost(&m, TERN_FT_MAX_STREAMS_BIDI, 10), 0);
    assert_int_equal(tern_streams_on_frame_lost(&m, TERN_FT_MAX_STREAMS_BIDI, 14), 1);
    assert_true(m.need_max_streams[0]);
    /* our STREAMS_BLOCKED: repeated while still blocked at that limit */
    assert_int_equal(tern_streams_on_frame_lost(&m, TERN_FT_STREAMS_BLOCKED_UNI, 2), 0);
    assert_int_equal(tern_streams_open_local(&m, 0, &s), 0);
    assert_int_equal(tern_streams_open_local(&m, 0, &s), 0);
    assert_int_equal(tern_streams_open_local(&m, 0, &s), TERN_ERR_STREAM_LIMIT);
    m.need_streams_blocked[1] = 0;
    assert_int_equal(tern_streams_on_frame_lost(&m, TERN_FT_STREAMS_BLOCKED_UNI, 2), 1);
    assert_true(m.need_streams_blocked[1]);
    assert_int_equal(tern_streams_on_max_streams(&m, 0, 3), 1);
    assert_int_equal(tern_streams_on_frame_lost(&m, TERN_FT_STREAMS_BLOCKED_UNI, 2), 0);
    assert_int_equal(tern_streams_on_frame_lost(&m, TERN_FT_PING, 0), 0);
    tern_streams_free(&m);
}

/* The edges of the stream verbs: bytes promised without a buffer are refused; a copy outside what
 * is buffered copies nothing; an offset beyond any varint is a flow control error; a stream opened
 * without asking for it is still opened; closing no stream, or one already gone, does nothing; a
 * peer allowed one stream at a time gets MAX_STREAMS for each one closed. */
static void test_stream_api_edges(void **st)
{
    tern_sendbuf sb;
    tern_sendbuf_init(&sb, 8192);
    assert_int_equal(tern_sendbuf_write(&sb, NULL, 5, 0), TERN_ERR_INVALID_ARG);
    static const uint8_t src[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_int_equal(tern_sendbuf_write(&sb, src, sizeof(src), 0), 10);
    uint8_t dst[16];
    memset(dst, 0xee, sizeof(dst));
    tern_sendbuf_copy(&sb, 5, 6, dst); /* ends beyond the buffered bytes */
    tern_sendbuf_copy(&sb, 0, 0, dst);
    for (size_t i = 0; i < sizeof(dst); i++)
        assert_int_equal(dst[i], 0xee);
    tern_sendbuf_copy(&sb, 5, 5, dst);
    assert_memory_equal(dst, src + 5, 5);
    tern_sendbuf_free(&sb);

    tern_streams m;
    tern_streams_init(&m, 1, 50000);
    tern_streams_set_remote_limits(&m, 1, 1);
    m.max_local[0] = 2;
    assert_int_equal(tern_streams_open_local(&m, 1, NULL), 0);
    assert_non_null(tern_streams_find(&m, 1)); /* the server's first bidirectional stream */
    tern_stream *s = NULL;
    uint64_t terr = 0;
    assert_int_equal(tern_streams_get_remote(&m, 0, 0, &s, &terr), 0);
    tern_stream_credit cr;
    assert_int_equal(tern_stream_recv(s, TERN_MAX_VARINT, (const uint8_t *)"x", 1, 0, 1000, &cr,
                                      &terr),
                     TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_FLOW_CONTROL_ERROR);
    size_t count = m.count;
    tern_streams_close(&m, NULL);
    assert_int_equal(m.count, count);
    tern_streams_close(&m, s);
    assert_int_equal(m.count, count - 1);
    assert_int_equal(m.need_max_streams[0], 1); /* one at a time: every close is worth a frame */
    assert_int_equal(m.max_remote_next[0], 2);
    tern_streams_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recvbuf_reassembly),
        cmocka_unit_test(test_recvbuf_reassembly_bounded),
        cmocka_unit_test(test_recvbuf_sliding),
        cmocka_unit_test(test_recvbuf_lent),
        cmocka_unit_test(test_recvbuf_flow_control),
        cmocka_unit_test(test_recvbuf_final_size),
        cmocka_unit_test(test_recvbuf_gap_bound),
        cmocka_unit_test(test_sid),
        cmocka_unit_test(test_map_implicit_open),
        cmocka_unit_test(test_map_limits_and_values),
        cmocka_unit_test(test_map_direction_errors),
        cmocka_unit_test(test_map_close_credit),
        cmocka_unit_test(test_map_many),
        cmocka_unit_test(test_map_sendq),
        cmocka_unit_test(test_map_ctrlq),
        cmocka_unit_test(test_stream_flow),
        cmocka_unit_test(test_recvbuf_chunks),
        cmocka_unit_test(test_recvbuf_discard),
        cmocka_unit_test(test_recvbuf_alloc_failure),
        cmocka_unit_test(test_stream_credit_before_storing),
        cmocka_unit_test(test_stream_reset_recv),
        cmocka_unit_test(test_stream_stop_recv),
        cmocka_unit_test(test_stream_data_blocked),
        cmocka_unit_test(test_stream_reset_send),
        cmocka_unit_test(test_streams_peer_limits),
        cmocka_unit_test(test_stream_frame_lost),
        cmocka_unit_test(test_streams_blocked_and_lost),
        cmocka_unit_test(test_stream_api_edges),
        cmocka_unit_test(test_recvbuf_drained_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
