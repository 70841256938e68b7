/* Stream bytes sent by reference (tern_stream_write_ref) between two connections in virtual
 * time: what arrives is the application's memory, byte for byte (SHA-256 of the download), with
 * and without loss, mixed with copied writes; each piece goes back to the application exactly once,
 * after the client has all of it, or at once when the stream is reset or the connection freed;
 * the bytes held never exceed the stream's send buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "pair.h"

#define SEC 1000000000ull

static int all_released(tern_pair *p)
{
    return p->by_ref->released == p->by_ref->pieces;
}

static int never(tern_pair *p)
{
    (void)p;
    return 0;
}

static int client_got_300k(tern_pair *p)
{
    return p->nstreams && p->streams[p->nstreams - 1].got >= 300000;
}

/* A download of `bytes` whose responses go by reference; returns the server's stats. */
static tern_conn_stats download(pair_by_ref *br, uint64_t seed, double loss, uint64_t bytes)
{
    tern_pair p;
    tern_conn_stats st;
    assert_int_equal(pair_init(&p, seed), 0);
    p.by_ref = br;
    p.c2s.loss = p.s2c.loss = loss;
    p.s2c.reorder = loss > 0 ? 0.05 : 0;
    p.s2c.reorder_ns = 2000000;
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, bytes) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 60 * SEC));
    assert_true(pair_verify(&p)); /* every byte and the SHA-256: the wire carried the memory */
    /* the last acknowledgements reach the server a little after the client has everything */
    assert_true(pair_run(&p, all_released, 5 * SEC));
    assert_int_equal(tern_conn_get_stats(p.server, &st), 0);
    pair_free(&p);
    return st;
}

static void test_by_ref_download(void **state)
{
    (void)state;
    pair_by_ref br = {.piece = 40000};
    download(&br, 4100, 0, 2000000);
    assert_int_equal(br.pieces, 1 + 50);      /* pair_connect's 100 bytes, then 50 pieces */
    assert_int_equal(br.released, br.pieces); /* once each */
    assert_int_equal(br.early, 0);
    assert_int_equal(br.bad, 0);
    assert_int_equal(br.bytes_held, 0);
}

/* Lost packets are sent again from the application's memory. */
static void test_by_ref_loss(void **state)
{
    (void)state;
    pair_by_ref br = {.piece = 25000};
    tern_conn_stats st = download(&br, 4101, 0.03, 1500000);
    assert_true(st.stream_bytes_resent > 0);
    assert_int_equal(br.pieces, 1 + 60);
    assert_int_equal(br.released, br.pieces);
    assert_int_equal(br.early, 0);
    assert_int_equal(br.bad, 0);
}

/* Copied and referenced writes alternate on one stream and arrive in order. */
static void test_by_ref_mixed(void **state)
{
    (void)state;
    pair_by_ref br = {.piece = 30000, .mix = 1};
    download(&br, 4102, 0.01, 1200000);
    assert_int_equal(br.pieces, 1 + 20); /* the other 20 were copied */
    assert_int_equal(br.released, br.pieces);
    assert_int_equal(br.early, 0);
}

/* Freeing the connection mid-download gives back every piece still held, once; a reset does so at
 * once, and the bytes held stayed within the stream's send buffer. */
static void test_by_ref_free_and_reset(void **state)
{
    (void)state;
    pair_by_ref br = {.piece = 50000};
    tern_pair p;
    assert_int_equal(pair_init(&p, 4103), 0);
    p.by_ref = &br;
    p.cfg_s.stream_send_buffer = 320000; /* six pieces */
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, 5000000) >= 0);
    assert_true(pair_run(&p, client_got_300k, 30 * SEC));
    assert_true(br.pieces > br.released);
    assert_true(br.bytes_held > 0);
    assert_true(br.bytes_held <= p.cfg_s.stream_send_buffer);
    assert_true(br.bytes_held >= 250000); /* the buffer was used, not bypassed */
    pair_free(&p);
    assert_int_equal(br.released, br.pieces);
    assert_int_equal(br.bytes_held, 0);
    assert_int_equal(br.bad, 0);

    pair_by_ref br2 = {.piece = 50000};
    assert_int_equal(pair_init(&p, 4104), 0);
    p.by_ref = &br2;
    assert_true(pair_connect(&p));
    assert_true(pair_request(&p, 5000000) >= 0);
    assert_true(pair_run(&p, client_got_300k, 30 * SEC));
    uint64_t held = br2.pieces - br2.released;
    assert_true(held > 0);
    assert_int_equal(tern_stream_reset(p.server, p.srv[p.nsrv - 1].sid, 7), 0);
    assert_int_equal(br2.released, br2.pieces); /* at once, inside the call */
    assert_int_equal(br2.bytes_held, 0);
    /* a write after the reset is refused and the piece stays the caller's */
    static const uint8_t more[10];
    assert_int_equal(
        tern_stream_write_ref(p.server, p.srv[p.nsrv - 1].sid, more, sizeof(more), 0, NULL, NULL),
        TERN_ERR_STREAM_STATE);
    pair_run(&p, never, SEC / 10);
    pair_free(&p);
    assert_int_equal(br2.released, br2.pieces); /* nothing twice */
    assert_int_equal(br2.bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_ref_download),
        cmocka_unit_test(test_by_ref_loss),
        cmocka_unit_test(test_by_ref_mixed),
        cmocka_unit_test(test_by_ref_free_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
