/* The stream-count credit a server gives its peer (src/core/stream.c), at the ends of its range:
 * limits above 2^60 are clamped to 2^60 (RFC 9000 §4.6: a larger MAX_STREAMS cannot be sent), a
 * peer that closes streams at the top of the range earns no credit beyond it, and below it the
 * credit goes out in batches of half the initial limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stream.h"

#define MAX_COUNT (1ull << 60)

static tern_stream *open_remote(tern_streams *m, int64_t id)
{
    tern_stream *s = NULL;
    uint64_t terr = 0;
    assert_int_equal(tern_streams_get_remote(m, id, 0, &s, &terr), 0);
    assert_non_null(s);
    return s;
}

static void test_clamped_at_top(void **st)
{
    (void)st;
    tern_streams m;
    tern_streams_init(&m, 1, 65536);
    tern_streams_set_remote_limits(&m, UINT64_MAX, 5);
    assert_true(m.max_remote[0] == MAX_COUNT);
    assert_true(m.max_remote_next[0] == MAX_COUNT);
    assert_int_equal(m.max_remote[1], 5);
    /* bidi: closing streams would take the credit past 2^60: none is owed */
    for (int64_t id = 0; id < 4 * 4; id += 4)
        tern_streams_close(&m, open_remote(&m, id));
    assert_false(m.need_max_streams[0]);
    assert_true(m.max_remote_next[0] == MAX_COUNT);
    /* uni with 5: credit in batches of 2 (half of 5) */
    tern_streams_close(&m, open_remote(&m, 2));
    assert_false(m.need_max_streams[1]);
    assert_int_equal(m.max_remote_next[1], 5);
    tern_streams_close(&m, open_remote(&m, 6));
    assert_true(m.need_max_streams[1]);
    assert_int_equal(m.max_remote_next[1], 7);
    /* the enforced limit moves only once the frame goes out */
    assert_int_equal(m.max_remote[1], 5);
    uint64_t terr = 0;
    tern_stream *s = NULL;
    assert_int_equal(tern_streams_get_remote(&m, 4 * 5 + 2, 0, &s, &terr), TERN_ERR_PROTO);
    assert_int_equal(terr, TERN_TE_STREAM_LIMIT_ERROR);
    tern_streams_max_streams_sent(&m, 1, 7);
    assert_int_equal(m.max_remote[1], 7);
    assert_non_null(open_remote(&m, 4 * 5 + 2));
    tern_streams_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clamped_at_top),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
