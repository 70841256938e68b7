/* See mpfx.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mpfx.h"
#include "conn_internal.h"
#include "forge.h"
#include "mpframe.h"

static uint64_t server_max;

static void alter_server(tern_tparams *tp)
{
    tp->initial_max_path_id = server_max;
}

void mpfx_connect(tern_pair *p, uint64_t seed, uint64_t server_max_path_id)
{
    assert_int_equal(pair_init(p, seed), 0);
    p->cfg_c.multipath = p->cfg_s.multipath = 1;
    server_max = server_max_path_id;
    p->alter_server_tparams = alter_server;
    assert_true(pair_connect(p));
    assert_true(p->client->mp.enabled);
    assert_true(p->server->mp.enabled);
}

static void count_frames(mpfx_tally *t, const uint8_t *plain, long n)
{
    const uint8_t *q = plain, *end = plain + n;
    while (q < end) {
        tern_mp_frame mf;
        tern_frame f;
        uint64_t terr;
        int rv = tern_mpframe_parse(&q, end, &mf, &terr);
        if (rv == 1) {
            assert_int_equal(tern_frame_parse(&q, end, &f, &terr), 0);
            continue;
        }
        assert_int_equal(rv, 0);
        uint64_t v = 0;
        if (mf.type == TERN_FT_PATH_NEW_CONNECTION_ID) {
            v = mf.u.new_cid.u.new_cid.seq;
            /* we never ask the peer to retire ours early */
            assert_int_equal(mf.u.new_cid.u.new_cid.retire_prior_to, 0);
            if (t->new_n < 64) {
                t->new_path[t->new_n] = mf.path_id;
                t->new_seq[t->new_n++] = v;
            }
        } else if (mf.type == TERN_FT_PATH_RETIRE_CONNECTION_ID) {
            v = mf.u.retire_cid.seq;
            if (t->retire_n < 64) {
                t->retire_path[t->retire_n] = mf.path_id;
                t->retire_seq[t->retire_n++] = v;
            }
        } else if (mf.type == TERN_FT_PATH_ABANDON) {
            v = mf.u.abandon.error_code;
        } else if (mf.type == TERN_FT_PATH_STATUS_BACKUP ||
                   mf.type == TERN_FT_PATH_STATUS_AVAILABLE) {
            v = mf.u.status.seq;
        } else if (mf.type == TERN_FT_PATH_CIDS_BLOCKED) {
            v = mf.u.cids_blocked.next_seq;
        }
        if (t->n < MPFX_FRAMES)
            t->f[t->n++] = (mpfx_frame){mf.type, mf.path_id, v};
    }
}

/* mpfx_pump, dropping every datagram (drop_type 0 and drop) or those carrying a frame of
 * drop_type for drop_path. */
static void pump(tern_pair *p, int from_server, int drop, uint64_t drop_type, uint64_t drop_path,
                 mpfx_tally *t)
{
    tern_conn *from = from_server ? p->server : p->client;
    tern_conn *to = from_server ? p->client : p->server;
    for (int i = 0; i < 64; i++) {
        uint8_t buf[1500], plain[1500];
        tern_path_addr pa;
        size_t seg = 0, cnt = 0;
        assert_int_equal(tern_conn_send(from, &pa, buf, sizeof(buf), 1, &seg, &cnt, p->now), 0);
        if (cnt == 0)
            return;
        long n = forge_open_1rtt(from, buf, seg, 8, plain, sizeof(plain));
        assert_true(n > 0);
        mpfx_tally one;
        memset(&one, 0, sizeof(one));
        count_frames(&one, plain, n);
        if (t) {
            count_frames(t, plain, n);
            t->datagrams++;
        }
        int lose = drop_type ? mpfx_count(&one, drop_type, drop_path) > 0 : drop;
        if (!lose) {
            tern_path_addr rpa = from_server ? p->path_c : p->path_s;
            tern_conn_recv(to, &rpa, buf, seg, 0, p->now);
        }
    }
    fail_msg("endless sending");
}

void mpfx_pump(tern_pair *p, int from_server, int drop, mpfx_tally *t)
{
    pump(p, from_server, drop, 0, 0, t);
}

void mpfx_pump_dropping(tern_pair *p, int from_server, uint64_t type, uint64_t path_id,
                        mpfx_tally *t)
{
    pump(p, from_server, 0, type, path_id, t);
}

void mpfx_inject(tern_pair *p, int from_server, const uint8_t *f, size_t n)
{
    uint8_t pkt[1500];
    tern_conn *from = from_server ? p->server : p->client;
    size_t len = forge_1rtt(from, f, n, 0, p->now, pkt, sizeof(pkt));
    assert_true(len > 0);
    tern_path_addr pa = from_server ? p->path_c : p->path_s;
    tern_conn_recv(from_server ? p->client : p->server, &pa, pkt, len, 0, p->now);
}

void mpfx_advance(tern_pair *p, uint64_t until)
{
    for (int i = 0; i < 1000 && p->now < until; i++) {
        uint64_t t = TERN_MIN(tern_conn_next_timeout(p->client), tern_conn_next_timeout(p->server));
        p->now = TERN_MIN(TERN_MAX(t, p->now + MPFX_MS), until);
        tern_conn_on_timeout(p->client, p->now);
        tern_conn_on_timeout(p->server, p->now);
    }
}

size_t mpfx_count(const mpfx_tally *t, uint64_t type, uint64_t path_id)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->f[i].type == type && (path_id == UINT64_MAX || t->f[i].path_id == path_id);
    return n;
}
