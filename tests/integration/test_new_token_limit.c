/* A client keeps the NEW_TOKEN tokens it could present again (RFC 9000 §8.1.3): a token up to
 * TERN_TOKEN_MAX_LEN bytes, from any server, reaches the application; a longer one is dropped
 * (it would not be sent back) and the connection goes on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conn_test.h"
#include "frame.h"
#include "pair.h"
#include "token.h"

#define SEC 1000000000ull

static void send_token(tern_pair *p, size_t len, uint8_t fill)
{
    uint8_t tok[TERN_TOKEN_MAX_LEN + 100];
    assert_true(len <= sizeof(tok));
    memset(tok, fill, len);
    uint8_t payload[1200];
    size_t n = tern_frame_write_new_token(payload, sizeof(payload), tok, len);
    assert_true(n > 0);
    assert_int_equal(pair_inject_1rtt(p, 0, payload, n), 0);
}

static void test_token_length_limit(void **st)
{
    (void)st;
    tern_pair p;
    assert_int_equal(pair_init(&p, 1601), 0);
    assert_true(pair_connect(&p));
    assert_int_equal(p.new_tokens, 0); /* this server issues none */
    send_token(&p, TERN_TOKEN_MAX_LEN + 1, 0x61);
    assert_int_equal(p.new_tokens, 0);
    send_token(&p, TERN_TOKEN_MAX_LEN, 0x62);
    assert_int_equal(p.new_tokens, 1);
    assert_int_equal(p.last_token[0], 0x62);
    send_token(&p, 40, 0x63);
    assert_int_equal(p.new_tokens, 2);
    assert_int_equal(p.last_token_len, 40);
    assert_int_equal(p.last_token[39], 0x63);
    assert_int_equal(tern_conn_state(p.client), TERN_CS_ESTABLISHED);
    assert_true(pair_request(&p, 5000) >= 0);
    assert_true(pair_run(&p, pair_cond_all_done, 5 * SEC));
    assert_true(pair_verify(&p));
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_length_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
