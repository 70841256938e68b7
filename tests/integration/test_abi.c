/* The binary interface as a program built against another header meets it: the library's
 * version against the header's, and the sized structs of tern.h ("Binary compatibility"). A
 * program built against an older header is played by structs cut before their last members, with
 * the size such a header gives and the bytes beyond filled with garbage: tern must default those
 * members, never read the garbage, and the connection must work (a real loopback download). A
 * program built against a newer header is played by sizes beyond the library's own: refused with
 * TERN_ERR_ABI, nothing written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/abi.h"
#include "io/endpoint_internal.h"
#include "loopfx.h"
#include "tern/core.h"
#include "tern/tern.h"
#include "tern/version.h"

#define GARBAGE 0xA5

/* A layout of tern_config older than this header's: up to the migration policy, without
 * network_monitor, log, log_ud and whatever came after them. */
#define OLD_CFG_SIZE TERN_ABI_SIZE_THROUGH(tern_config, policy)
/* ... and of tern_callbacks, without on_network_event and later members. */
#define OLD_CB_SIZE TERN_ABI_SIZE_THROUGH(tern_callbacks, on_path_event)

static int all_bytes(const void *p, size_t n, uint8_t v)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return 0;
    return 1;
}

static void test_version_matches_header(void **st)
{
    (void)st;
    int num = -1;
    const char *v = tern_version(&num);
    assert_string_equal(v, TERN_VERSION_STRING);
    assert_int_equal(num, TERN_VERSION_NUM);
    assert_ptr_equal(tern_version(NULL), v);
    char text[32];
    snprintf(text, sizeof(text), "%d.%d.%d", TERN_VERSION_MAJOR, TERN_VERSION_MINOR,
             TERN_VERSION_PATCH);
    assert_string_equal(v, text);
    assert_int_equal(num,
                     (TERN_VERSION_MAJOR << 16) | (TERN_VERSION_MINOR << 8) | TERN_VERSION_PATCH);
    assert_string_equal(tern_strerror(TERN_ERR_ABI),
                        "struct size unknown to this library (built against a newer header)");
}

static void test_config_init_older_layout(void **st)
{
    (void)st;
    assert_true(OLD_CFG_SIZE < sizeof(tern_config));
    tern_config full, old;
    tern_config_init(&full);
    memset(&old, GARBAGE, sizeof(old));
    assert_int_equal(tern_config_init_sized(&old, OLD_CFG_SIZE), 0);
    assert_memory_equal(&old, &full, OLD_CFG_SIZE);
    /* the caller's struct ends there: nothing beyond is written */
    assert_true(all_bytes((uint8_t *)&old + OLD_CFG_SIZE, sizeof(old) - OLD_CFG_SIZE, GARBAGE));
}

static void test_newer_or_odd_sizes_refused(void **st)
{
    (void)st;
    uint8_t big[sizeof(tern_config) + 64];
    memset(big, GARBAGE, sizeof(big));
    assert_int_equal(tern_config_init_sized((tern_config *)(void *)big, sizeof(tern_config) + 8),
                     TERN_ERR_ABI);
    assert_true(all_bytes(big, sizeof(big), GARBAGE));
    assert_int_equal(tern_config_init_sized((tern_config *)(void *)big, OLD_CFG_SIZE + 1),
                     TERN_ERR_ABI);
    assert_int_equal(tern_config_init_sized((tern_config *)(void *)big, 8), TERN_ERR_ABI);
    assert_int_equal(tern_config_init_sized(NULL, sizeof(tern_config)), TERN_ERR_INVALID_ARG);
    assert_true(all_bytes(big, sizeof(big), GARBAGE));

    tern_config cfg;
    loopfx_base_cfg(&cfg, 0);
    tern_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    tern_endpoint *ep = (tern_endpoint *)&cfg; /* must be overwritten with NULL */
    assert_int_equal(tern_endpoint_new_sized(&cfg, sizeof(cfg) + 8, &cb, sizeof(cb), NULL, &ep),
                     TERN_ERR_ABI);
    assert_null(ep);
    assert_int_equal(
        tern_endpoint_new_sized(&cfg, sizeof(cfg), &cb, sizeof(cb) + sizeof(void *), NULL, &ep),
        TERN_ERR_ABI);
    assert_int_equal(tern_endpoint_new_sized(&cfg, sizeof(cfg), &cb, 3, NULL, &ep), TERN_ERR_ABI);
    assert_null(ep);

    assert_int_equal(tern_endpoint_new(&cfg, NULL, NULL, &ep), 0);
    tern_datapath_hooks hooks;
    memset(&hooks, 0, sizeof(hooks));
    assert_int_equal(tern_endpoint_set_datapath_hooks_sized(ep, &hooks, sizeof(hooks) + 8),
                     TERN_ERR_ABI);
    assert_int_equal(tern_endpoint_set_datapath_hooks_sized(ep, &hooks, sizeof(void *)),
                     TERN_ERR_ABI);
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_LINK_UP;
    ev.ifindex = 1;
    assert_int_equal(tern_endpoint_network_event_sized(ep, &ev, sizeof(ev) + 4), TERN_ERR_ABI);
    assert_int_equal(tern_endpoint_network_event_sized(ep, &ev, 8), TERN_ERR_ABI);
    assert_int_equal(tern_endpoint_network_event(ep, &ev), 0);
    tern_endpoint_free(ep);
}

static int on_network_event_seen;

static void count_network_event(tern_endpoint *ep, const tern_net_event *ev, void *ud)
{
    on_network_event_seen++;
}

/* Both sides' structs cut before their last members, garbage after: the endpoint runs with the
 * defaults of what is missing (no network monitor, no log, no on_network_event) and downloads. */
static void test_older_layout_endpoint_works(void **st)
{
    loopfx *f = *st;
    tern_config scfg;
    loopfx_base_cfg(&scfg, 1);
    loopfx_start_server(f, &scfg, NULL);

    tern_config full;
    loopfx_base_cfg(&full, 0);
    full.network_monitor = 1; /* an older header has no such field: must not be seen */
    full.log = (tern_log_fn)(uintptr_t)1;
    tern_config old;
    memset(&old, GARBAGE, sizeof(old));
    memcpy(&old, &full, OLD_CFG_SIZE);
    tern_callbacks cb;
    memset(&cb, GARBAGE, sizeof(cb));
    memcpy(&cb, &loopfx_callbacks, OLD_CB_SIZE);

    assert_int_equal(
        tern_endpoint_new_sized(&old, OLD_CFG_SIZE, &cb, OLD_CB_SIZE, &f->cli, &f->cli.ep), 0);
    tern_endpoint *ep = f->cli.ep;
    assert_int_equal(ep->conf.cfg.network_monitor, 0);
    /* ECN and NEW_TOKEN tokens are newer settings on by default: nothing of them shows through
     * the older API */
    assert_int_equal(ep->conf.cfg.ecn, 1);
    assert_null(ep->conf.cfg.log);
    assert_null(ep->conf.cfg.log_ud);
    assert_null(ep->nm);
    assert_null(ep->cb.on_network_event);
    /* the server's NEW_TOKEN reaches no callback either; what an older layout lacks gets the
     * token lifetime and the key update margin of tern_config_init */
    assert_null(ep->cb.on_new_token);
    assert_int_equal(ep->conf.cfg.token_lifetime_ms, 86400000);
    assert_int_equal(ep->conf.cfg.key_update_margin_pct, 50);
    assert_ptr_equal(ep->cb.on_path_event, loopfx_callbacks.on_path_event);
    /* no datagrams: not advertised, the queue at its defaults, no callbacks */
    assert_int_equal(ep->conf.cfg.max_datagram_frame_size, 0);
    assert_int_equal(ep->conf.cfg.datagram_queue_bytes, 65536);
    assert_int_equal(ep->conf.cfg.datagram_queue_count, 128);
    assert_int_equal(ep->conf.cfg.datagram_drop_oldest, 0);
    assert_null(ep->cb.on_datagram);
    assert_null(ep->cb.on_datagram_acked);
    assert_null(ep->cb.on_datagram_lost);
    assert_int_equal(ep->conf.cfg.idle_timeout_ms, full.idle_timeout_ms);
    assert_memory_equal(&ep->conf.cfg.policy, &full.policy, sizeof(full.policy));
    /* an event reaches no callback: the garbage pointer after the old layout is never called */
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_LINK_UP;
    ev.ifindex = 1;
    assert_int_equal(tern_endpoint_network_event_sized(ep, &ev, sizeof(ev)), 0);

    assert_int_equal(tern_endpoint_connect(ep, &f->addr, NULL, "localhost", &f->cli.conn), 0);
    assert_true(loopfx_drive(f, loopfx_cond_connected, 10000));
    loopfx_download(f, 300000, 10000);

    /* outputs in an older, shorter layout: the prefix is written, nothing after it */
    tern_conn_stats now, part;
    const size_t old_stats = TERN_ABI_SIZE_THROUGH(tern_conn_stats, latest_rtt_ns);
    memset(&part, GARBAGE, sizeof(part));
    assert_int_equal(tern_conn_get_stats_sized(f->cli.conn, &part, old_stats), 0);
    assert_int_equal(tern_conn_get_stats(f->cli.conn, &now), 0);
    assert_true(now.stream_bytes_recv >= 300000);
    assert_memory_equal(&part, &now, old_stats);
    assert_true(all_bytes((uint8_t *)&part + old_stats, sizeof(part) - old_stats, GARBAGE));
    assert_int_equal(tern_conn_get_stats_sized(f->cli.conn, &part, sizeof(part) + 8), TERN_ERR_ABI);
    assert_int_equal(tern_conn_get_stats(NULL, &now), TERN_ERR_INVALID_ARG);
    assert_int_equal(tern_conn_get_stats(f->cli.conn, NULL), TERN_ERR_INVALID_ARG);

    /* tern_path_info entries of an older layout are that layout's size apart */
    const size_t old_pi = TERN_ABI_SIZE_THROUGH(tern_path_info, addr);
    tern_path_info cur[2];
    size_t n = 0, n_old = 0;
    assert_int_equal(tern_conn_paths(f->cli.conn, cur, 2, &n), 0);
    assert_int_equal(n, 1);
    uint8_t buf[2 * sizeof(tern_path_info)];
    memset(buf, GARBAGE, sizeof(buf));
    assert_int_equal(
        tern_conn_paths_sized(f->cli.conn, (tern_path_info *)(void *)buf, 1, &n_old, old_pi), 0);
    assert_int_equal(n_old, 1);
    assert_memory_equal(buf, &cur[0], old_pi);
    assert_true(all_bytes(buf + old_pi, sizeof(buf) - old_pi, GARBAGE));
    assert_int_equal(tern_conn_paths_sized(f->cli.conn, cur, 2, &n, sizeof(tern_path_info) + 8),
                     TERN_ERR_ABI);
}

/* The same program with this header's callbacks gets on_network_event: the size decides. */
static void test_current_layout_gets_new_members(void **st)
{
    (void)st;
    tern_config cfg;
    loopfx_base_cfg(&cfg, 0);
    tern_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.on_network_event = count_network_event;
    tern_endpoint *ep;
    assert_int_equal(tern_endpoint_new(&cfg, &cb, NULL, &ep), 0);
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_LINK_UP;
    ev.ifindex = 1;
    on_network_event_seen = 0;
    assert_int_equal(tern_endpoint_network_event(ep, &ev), 0);
    assert_int_equal(on_network_event_seen, 1);
    tern_endpoint_free(ep);
    /* and with the old size, the same struct's on_network_event is not there */
    assert_int_equal(tern_endpoint_new_sized(&cfg, sizeof(cfg), &cb, OLD_CB_SIZE, NULL, &ep), 0);
    assert_int_equal(tern_endpoint_network_event(ep, &ev), 0);
    assert_int_equal(on_network_event_seen, 1);
    tern_endpoint_free(ep);
}

static int fill_rand(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(i * 37u + 11u);
    return 0;
}

/* The sans-I/O API of core.h takes the same structs under the same rule. */
static void test_core_api_sized_structs(void **st)
{
    (void)st;
    tern_config full;
    loopfx_base_cfg(&full, 0);
    tern_config old;
    memset(&old, GARBAGE, sizeof(old));
    memcpy(&old, &full, OLD_CFG_SIZE);
    tern_callbacks cb;
    memset(&cb, GARBAGE, sizeof(cb));
    memcpy(&cb, &loopfx_callbacks, OLD_CB_SIZE);
    tern_path_addr path;
    memset(&path, 0, sizeof(path));
    assert_int_equal(tern_addr_parse(&path.local, "127.0.0.1", 40001), 0);
    assert_int_equal(tern_addr_parse(&path.remote, "127.0.0.1", 40002), 0);

    tern_conn *c = NULL;
    assert_int_equal(tern_core_client_new_sized(&old, sizeof(tern_config) + 8, &cb, OLD_CB_SIZE,
                                                NULL, &path, NULL, fill_rand, NULL, 0, &c),
                     TERN_ERR_ABI);
    assert_null(c);
    assert_int_equal(tern_core_client_new_sized(&old, OLD_CFG_SIZE, &cb, 3, NULL, &path, NULL,
                                                fill_rand, NULL, 0, &c),
                     TERN_ERR_ABI);
    tern_core_server *srv = NULL;
    assert_int_equal(tern_core_server_new_sized(&full, sizeof(tern_config) + 8, NULL, 0, NULL,
                                                fill_rand, NULL, &srv),
                     TERN_ERR_ABI);
    assert_null(srv);

    /* an older layout works: the garbage beyond it is never read (the connection is made, its
     * first flight goes out, a network event reaches no garbage callback) */
    assert_int_equal(tern_core_client_new_sized(&old, OLD_CFG_SIZE, &cb, OLD_CB_SIZE, NULL, &path,
                                                NULL, fill_rand, NULL, 0, &c),
                     0);
    uint8_t buf[4 * 1500];
    size_t seg = 0, count = 0;
    tern_path_addr out_path;
    assert_true(tern_core_send(c, buf, sizeof(buf), 4, &out_path, &seg, &count, 0) >= 1200);
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_LINK_UP;
    ev.ifindex = 1;
    assert_int_equal(tern_core_network_event_sized(c, &ev, sizeof(ev) + 4, 0), TERN_ERR_ABI);
    assert_int_equal(tern_core_network_event_sized(c, &ev, 3, 0), TERN_ERR_ABI);
    assert_int_equal(tern_core_network_event(c, &ev, 0), 0);
    tern_core_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_matches_header),
        cmocka_unit_test(test_config_init_older_layout),
        cmocka_unit_test(test_newer_or_odd_sizes_refused),
        LOOPFX_TEST(test_older_layout_endpoint_works),
        cmocka_unit_test(test_current_layout_gets_new_members),
        cmocka_unit_test(test_core_api_sized_structs),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
