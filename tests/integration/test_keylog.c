/* TLS key logging through tern_config.keylog, over the real runtime on 127.0.0.1: both sides of a
 * connection hear the handshake and application traffic secrets as NSS key log lines, under the
 * client's random, with the same secrets on both sides (the pair a capture decrypts with), and a
 * key update adds no line. The endpoints and the application are the loopfx fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "loopfx.h"
#include "tern/tern.h"

#define LOG_MAX 32

typedef struct keylog_rec {
    char lines[LOG_MAX][256];
    int n;
    int overflow;
} keylog_rec;

static void on_keylog(void *ud, const char *line)
{
    keylog_rec *r = ud;
    if (r->n == LOG_MAX || strlen(line) >= sizeof(r->lines[0])) {
        r->overflow = 1;
        return;
    }
    strcpy(r->lines[r->n++], line);
}

static const char *const labels[] = {
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
};

/* The line of `label` with client random `crand` (64 hex digits; NULL: any) in `r`, or NULL.
 * Fails when there are two. */
static const char *find_line(const keylog_rec *r, const char *label, const char *crand)
{
    const char *found = NULL;
    size_t ll = strlen(label);
    for (int i = 0; i < r->n; i++) {
        const char *l = r->lines[i];
        if (strncmp(l, label, ll) != 0 || l[ll] != ' ')
            continue;
        if (crand && strncmp(l + ll + 1, crand, 64) != 0)
            continue;
        assert_null(found);
        found = l;
    }
    return found;
}

/* Checks the shape of every line: LABEL, 64 lowercase hex digits, a secret of 32 or 48 bytes. */
static void check_format(const keylog_rec *r)
{
    assert_false(r->overflow);
    for (int i = 0; i < r->n; i++) {
        const char *l = r->lines[i];
        const char *sp1 = strchr(l, ' ');
        assert_non_null(sp1);
        assert_true(strspn(l, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") == (size_t)(sp1 - l));
        assert_int_equal(strspn(sp1 + 1, "0123456789abcdef"), 64);
        assert_int_equal(sp1[65], ' ');
        size_t slen = strlen(sp1 + 66);
        assert_int_equal(strspn(sp1 + 66, "0123456789abcdef"), slen);
        assert_true(slen == 64 || slen == 96);
    }
}

/* Both records hold the four traffic secrets of the connection whose client random the client's
 * CLIENT_HANDSHAKE_TRAFFIC_SECRET line names, and the two sides agree on each. Copies the client
 * random (64 hex digits and a NUL) into crand. */
static void check_agree(const keylog_rec *cli, const keylog_rec *srv, int cli_from, char crand[65])
{
    keylog_rec tail = *cli;
    /* only the lines of the latest connection of the client */
    memmove(tail.lines, cli->lines + cli_from, sizeof(tail.lines[0]) * (size_t)(cli->n - cli_from));
    tail.n = cli->n - cli_from;
    const char *first = find_line(&tail, labels[0], NULL);
    assert_non_null(first);
    memcpy(crand, first + strlen(labels[0]) + 1, 64);
    crand[64] = '\0';
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        const char *c = find_line(&tail, labels[i], crand);
        const char *s = find_line(srv, labels[i], crand);
        if (!c || !s)
            fail_msg("%s missing on the %s side", labels[i], c ? "server" : "client");
        assert_string_equal(c, s);
    }
}

static void test_keylog_both_sides(void **st)
{
    loopfx *f = *st;
    keylog_rec cli = {0}, srv = {0};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    sc.keylog = on_keylog;
    sc.keylog_ud = &srv;
    cc.keylog = on_keylog;
    cc.keylog_ud = &cli;
    loopfx_start_server(f, &sc, NULL);
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));

    /* a download with a key update in the middle: 1-RTT keys of later phases derive from the
     * logged secrets (RFC 9001 §6.1), so nothing more is logged */
    f->cli.key_update_at = 256 << 10;
    loopfx_download(f, 1 << 20, 20000);
    assert_true(f->cli.key_update_started);
    tern_conn_stats cs;
    tern_conn_get_stats(f->cli.conn, &cs);
    assert_true(cs.key_updates >= 1);

    check_format(&cli);
    check_format(&srv);
    char crand1[65];
    check_agree(&cli, &srv, 0, crand1);
    /* the four traffic secrets and the exporter secret, once each */
    assert_non_null(find_line(&cli, "EXPORTER_SECRET", crand1));
    assert_int_equal(cli.n, 5);
    assert_int_equal(srv.n, 5);

    /* a second connection: new lines under a new client random, on both sides */
    int from = cli.n;
    loopfx_reset_client(f);
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    check_format(&cli);
    check_format(&srv);
    char crand2[65];
    check_agree(&cli, &srv, from, crand2);
    assert_string_not_equal(crand1, crand2);
    assert_int_equal(cli.n, 10);
    assert_int_equal(srv.n, 10);
}

/* Without a callback tern logs nothing of its own (GnuTLS's SSLKEYLOGFILE support stays in
 * place, tested with the tools); with one on the client only, the server says nothing. */
static void test_keylog_one_side(void **st)
{
    loopfx *f = *st;
    keylog_rec cli = {0};
    tern_config sc, cc;
    loopfx_base_cfg(&sc, 1);
    loopfx_base_cfg(&cc, 0);
    cc.keylog = on_keylog;
    cc.keylog_ud = &cli;
    loopfx_start_server(f, &sc, NULL);
    loopfx_start_client(f, &cc, NULL);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 5000));
    check_format(&cli);
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        assert_non_null(find_line(&cli, labels[i], NULL));
    assert_int_equal(cli.n, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_keylog_both_sides),
        LOOPFX_TEST(test_keylog_one_side),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
