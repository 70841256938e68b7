/* The connection's debug log tells the story of a connection in its own words: the handshake
 * with its AEAD and ALPN, a key update on both sides, a transport error with its code and frame,
 * and the peer's close with its kind and code (an application close in the handshake travels as
 * APPLICATION_ERROR). Each line is checked as written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "pair.h"

#define SEC 1000000000ull

typedef struct log_lines {
    char text[64][256];
    int n;
} log_lines;

static void collect(void *ud, const char *line)
{
    log_lines *l = ud;
    if (l->n < 64)
        snprintf(l->text[l->n++], sizeof(l->text[0]), "%s", line);
}

static int has_line(const log_lines *l, const char *want)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->text[i], want) == 0)
            return 1;
    for (int i = 0; i < l->n; i++)
        fprintf(stderr, "  log: %s\n", l->text[i]);
    return 0;
}

static int never(tern_pair *p) { return 0; }

static void test_story(void **st)
{
    static log_lines cl, sl;
    memset(&cl, 0, sizeof(cl));
    memset(&sl, 0, sizeof(sl));
    tern_pair p;
    assert_int_equal(pair_init(&p, 71), 0);
    p.cfg_c.log = collect;
    p.cfg_c.log_ud = &cl;
    p.cfg_s.log = collect;
    p.cfg_s.log_ud = &sl;
    p.key_update_at = 100000;
    assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
    assert_true(has_line(&cl, "handshake complete (AES-128-GCM, alpn hq-interop)"));
    assert_int_equal(pair_request(&p, 400000), 0);
    assert_true(pair_run(&p, pair_cond_all_done, 20 * SEC));
    assert_true(pair_verify(&p));
    assert_true(p.key_update_done);
    assert_true(has_line(&cl, "key update initiated (phase 1)"));
    assert_true(has_line(&sl, "key phase 1 received"));

    /* a frame the server must refuse: HANDSHAKE_DONE from a client */
    static const uint8_t hd[] = {0x1e};
    pair_inject_1rtt(&p, 1, hd, sizeof(hd));
    assert_true(has_line(&sl, "closing: transport error 0xa frame 0x1e: HANDSHAKE_DONE from a client"));
    pair_run(&p, never, SEC);
    assert_true(has_line(&cl, "peer closed: transport error 0xa"));
    pair_free(&p);

    /* an application close during the handshake goes out as APPLICATION_ERROR (0xc, RFC 9000
     * §10.2.3); once the handshake is confirmed it reaches the peer as itself */
    for (int confirmed = 0; confirmed <= 1; confirmed++) {
        memset(&sl, 0, sizeof(sl));
        assert_int_equal(pair_init(&p, 72), 0);
        p.cfg_s.log = collect;
        p.cfg_s.log_ud = &sl;
        assert_true(pair_run(&p, pair_cond_connected, 5 * SEC));
        if (confirmed) {
            assert_int_equal(pair_request(&p, 100), 0);
            assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
        }
        assert_int_equal(tern_conn_close(p.client, 0x2a, "bye"), 0);
        pair_run(&p, never, SEC);
        assert_true(has_line(&sl, confirmed ? "peer closed: application error 0x2a"
                                            : "peer closed: transport error 0xc"));
        if (!confirmed)
            pair_free(&p);
    }
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_story),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
