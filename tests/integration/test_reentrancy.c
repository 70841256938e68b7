/* The rules of tern.h "Calling tern from callbacks", one test each, on the real runtime over
 * 127.0.0.1: a loopfx server and a client endpoint whose callbacks call back into tern. What the
 * rules allow must work (closing, connecting again, migration verbs, stopping the loop); what
 * they defer must be deferred (tern_endpoint_free: the endpoint lives until the call that ran
 * the callback returns, then its epoll fd is closed and no callback runs after the free); what
 * they refuse must be refused with its error (run/run_once: TERN_ERR_REENTRANT; verbs on a
 * connection inside its on_closed: TERN_ERR_CLOSED). Under ASan a use after free in any of these
 * fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loopfx.h"
#include "tern/tern.h"

/* Where the client frees its endpoint from. */
enum { FREE_NONE, FREE_ON_CONNECTED, FREE_ON_CLOSED, FREE_ON_PATH_EVENT, FREE_ON_NET_EVENT };

typedef struct app {
    loopfx *f;
    tern_endpoint *ep; /* NULL once freed */
    int epfd;
    int free_in;
    int free_called;   /* tern_endpoint_free was called from a callback */
    int fd_open_in_cb; /* the endpoint's fd was still open right after that call */
    int after_free;    /* callbacks that ran after it */
    int connected, closed, path_ev[8], net_events;
    tern_close_info close;
    tern_conn *conn;
    /* behaviours */
    int close_on_connected;  /* tern_conn_close(7, "bye") from on_connected */
    int closed_inside_close; /* on_closed ran inside that tern_conn_close */
    int reconnect_on_closed; /* tern_endpoint_connect from the first on_closed */
    size_t count_in_closed;  /* tern_endpoint_conn_count inside on_closed */
    int verbs_in_closed;     /* call verbs on the closing connection inside on_closed */
    int add_rv, setl_rv, close_rv, stats_rv, open_rv;
    ssize_t write_rv;
    int run_in_connected; /* call run/run_once from on_connected */
    int run_once_rv, run_rv;
    int stop_on_connected;
    int migrate; /* add a path on connected, switch to it once validated */
    tern_addr first_local, new_local;
    int add_in_cb_rv, set_in_cb_rv;
    int endpoint_calls; /* on the first on_connected: hooks, a network event, a second
                           connection; on the second: close the first */
    tern_conn *first, *second;
    int hooks_rv, net_rv, connect_rv, close_first_rv, net_inside;
    uint64_t hooked_sends;
    tern_close_info first_close;
    int paths_rv;
} app;

static tern_hook_verdict count_send(void *ud, tern_path_addr *path, const uint8_t *data, size_t len,
                                    uint64_t *delay_ns)
{
    ((app *)ud)->hooked_sends++;
    return TERN_HOOK_PASS;
}

static void endpoint_calls(app *a, tern_conn *c)
{
    if (!a->first) {
        a->first = c;
        tern_datapath_hooks h = {.on_send = count_send, .ud = a};
        a->hooks_rv = tern_endpoint_set_datapath_hooks(a->ep, &h);
        tern_net_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = TERN_NET_LINK_UP;
        ev.ifindex = 1;
        a->net_rv = tern_endpoint_network_event(a->ep, &ev);
        a->net_inside = a->net_events;
        a->connect_rv = tern_endpoint_connect(a->ep, &a->f->addr, NULL, "localhost", &a->second);
    } else if (c == a->second) {
        a->close_first_rv = tern_conn_close(a->first, 9, "other");
    }
}

static int fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static void note(app *a)
{
    if (a->free_called)
        a->after_free++;
}

static void free_here(app *a, int where)
{
    if (a->free_in != where || a->free_called)
        return;
    a->free_called = 1;
    tern_endpoint_free(a->ep);
    tern_endpoint_free(a->ep); /* twice: still one deferred free */
    a->fd_open_in_cb = fd_open(a->epfd);
}

static void on_connected(tern_conn *c, void *ud)
{
    app *a = ud;
    note(a);
    a->connected++;
    a->conn = c;
    if (a->run_in_connected) {
        a->run_once_rv = tern_endpoint_run_once(a->ep, 0);
        a->run_rv = tern_endpoint_run(a->ep);
    }
    if (a->stop_on_connected)
        tern_endpoint_stop(a->ep);
    if (a->endpoint_calls)
        endpoint_calls(a, c);
    if (a->close_on_connected && a->connected == 1) {
        a->close_rv = tern_conn_close(c, 7, "bye");
        a->closed_inside_close = a->closed;
    }
    if (a->migrate) {
        tern_path_addr pa;
        tern_conn_get_path(c, &pa);
        a->first_local = pa.local;
        tern_addr any;
        assert_int_equal(tern_addr_parse(&any, "127.0.0.1:0", 0), 0);
        a->add_in_cb_rv = tern_conn_add_local_address(c, &any);
    }
    free_here(a, FREE_ON_CONNECTED);
}

static void on_closed(tern_conn *c, const tern_close_info *ci, void *ud)
{
    app *a = ud;
    note(a);
    a->closed++;
    a->close = *ci;
    if (c == a->first)
        a->first_close = *ci;
    a->count_in_closed = tern_endpoint_conn_count(a->ep);
    if (a->verbs_in_closed) {
        tern_addr any;
        assert_int_equal(tern_addr_parse(&any, "127.0.0.1:0", 0), 0);
        a->add_rv = tern_conn_add_local_address(c, &any);
        a->setl_rv = tern_conn_set_local_address(c, &any);
        int64_t sid;
        a->open_rv = tern_conn_open_stream(c, 1, &sid);
        a->write_rv = tern_stream_write(c, 0, "x", 1, 0);
        tern_conn_stats st;
        a->stats_rv = tern_conn_get_stats(c, &st);
        size_t n;
        a->paths_rv = tern_conn_paths(c, NULL, 0, &n);
        a->close_rv = tern_conn_close(c, 1, "again");
    }
    if (a->reconnect_on_closed && a->closed == 1) {
        tern_conn *n = NULL;
        assert_int_equal(tern_endpoint_connect(a->ep, &a->f->addr, NULL, "localhost", &n), 0);
        assert_non_null(n);
    }
    free_here(a, FREE_ON_CLOSED);
}

static void on_path_event(tern_conn *c, const tern_path_event *ev, void *ud)
{
    app *a = ud;
    note(a);
    a->path_ev[ev->type]++;
    if (a->migrate && ev->type == TERN_PATH_EV_VALIDATED && !a->new_local.len &&
        !tern_addr_equal(&ev->path->addr.local, &a->first_local)) {
        a->new_local = ev->path->addr.local;
        a->set_in_cb_rv = tern_conn_set_local_address(c, &a->new_local);
    }
    if (ev->type == TERN_PATH_EV_PROBING)
        free_here(a, FREE_ON_PATH_EVENT);
}

static void on_network_event(tern_endpoint *ep, const tern_net_event *ev, void *ud)
{
    app *a = ud;
    note(a);
    a->net_events++;
    free_here(a, FREE_ON_NET_EVENT);
}

static void on_stream_readable(tern_conn *c, int64_t sid, void *ud)
{
    note(ud);
}

static const tern_callbacks app_cb = {
    .on_connected = on_connected,
    .on_closed = on_closed,
    .on_path_event = on_path_event,
    .on_network_event = on_network_event,
    .on_stream_readable = on_stream_readable,
};

static void start(loopfx *f, app *a)
{
    memset(a, 0, sizeof(*a));
    a->f = f;
    tern_config scfg, ccfg;
    loopfx_base_cfg(&scfg, 1);
    loopfx_start_server(f, &scfg, NULL);
    loopfx_base_cfg(&ccfg, 0);
    assert_int_equal(tern_endpoint_new(&ccfg, &app_cb, a, &a->ep), 0);
    a->epfd = tern_endpoint_fd(a->ep);
}

static void connect_client(app *a)
{
    assert_int_equal(tern_endpoint_connect(a->ep, &a->f->addr, NULL, "localhost", &a->conn), 0);
}

/* Runs the server and the client until cond(a) holds or `ms` pass; the client endpoint is
 * forgotten once a callback freed it (and must be: its fd closed when run_once returned). */
static int drive(app *a, int (*cond)(app *), uint64_t ms)
{
    uint64_t end = loopfx_now_ms() + ms;
    while (!cond(a)) {
        if (loopfx_now_ms() > end)
            return 0;
        struct pollfd p[2] = {{.fd = tern_endpoint_fd(a->f->srv.ep), .events = POLLIN}};
        nfds_t np = 1;
        if (a->ep)
            p[np++] = (struct pollfd){.fd = a->epfd, .events = POLLIN};
        poll(p, np, 10);
        assert_int_equal(tern_endpoint_run_once(a->f->srv.ep, 0), 0);
        if (a->ep) {
            assert_int_equal(tern_endpoint_run_once(a->ep, 0), 0);
            if (a->free_called) {
                assert_true(a->fd_open_in_cb);
                assert_false(fd_open(a->epfd));
                a->ep = NULL;
            }
        }
    }
    return 1;
}

static int cond_freed(app *a)
{
    return a->ep == NULL;
}
static int cond_connected(app *a)
{
    return a->connected > 0 && a->f->srv.connected;
}
static int cond_closed(app *a)
{
    return a->closed > 0;
}
static int cond_reconnected(app *a)
{
    return a->connected >= 2;
}
static int cond_srv_closed(app *a)
{
    return a->f->srv.closed > 0;
}
static int cond_active_moved(app *a)
{
    return a->path_ev[TERN_PATH_EV_ACTIVE] > 0;
}

static void test_free_from_on_connected(void **st)
{
    app a;
    start(*st, &a);
    a.free_in = FREE_ON_CONNECTED;
    connect_client(&a);
    assert_true(drive(&a, cond_freed, 5000));
    assert_int_equal(a.connected, 1);
    assert_int_equal(a.closed, 0); /* freed, not closed: no on_closed for the connection */
    assert_int_equal(a.after_free, 0);
}

/* tern_conn_close from a callback: on_closed comes later, from the loop; there the endpoint is
 * freed, and the server saw the application's close. */
static void test_close_then_free_from_on_closed(void **st)
{
    app a;
    loopfx *f = *st;
    start(f, &a);
    a.close_on_connected = 1;
    a.free_in = FREE_ON_CLOSED;
    connect_client(&a);
    assert_true(drive(&a, cond_freed, 5000));
    assert_int_equal(a.close_rv, 0);
    assert_int_equal(a.closed_inside_close, 0);
    assert_int_equal(a.closed, 1);
    assert_int_equal(a.close.local, 1);
    assert_int_equal(a.close.app, 1);
    assert_int_equal(a.close.error_code, 7);
    assert_int_equal(a.count_in_closed, 0);
    assert_int_equal(a.after_free, 0);
    assert_true(drive(&a, cond_srv_closed, 5000));
    /* before the handshake is confirmed the close also goes at Handshake level, where an
     * application close reads as APPLICATION_ERROR (RFC 9000 §10.2.3) */
    assert_int_equal(f->srv.close.local, 0);
    if (f->srv.close.app) {
        assert_int_equal(f->srv.close.error_code, 7);
        assert_string_equal(f->srv.close.reason, "bye");
    } else {
        assert_int_equal(f->srv.close.error_code, TERN_TE_APPLICATION_ERROR);
    }
}

static void test_run_refused_inside_callback(void **st)
{
    app a;
    start(*st, &a);
    a.run_in_connected = 1;
    connect_client(&a);
    assert_true(drive(&a, cond_connected, 5000));
    assert_int_equal(a.run_once_rv, TERN_ERR_REENTRANT);
    assert_int_equal(a.run_rv, TERN_ERR_REENTRANT);
    /* the refused calls changed nothing: the connection carries on */
    assert_int_equal(tern_conn_is_established(a.conn), 1);
    assert_int_equal(tern_endpoint_run_once(a.ep, 0), 0);
    tern_endpoint_free(a.ep);
}

/* Connecting again from on_closed: the closing connection is no longer counted, the new one
 * completes its handshake. */
static void test_connect_from_on_closed(void **st)
{
    app a;
    start(*st, &a);
    a.close_on_connected = 1;
    a.reconnect_on_closed = 1;
    connect_client(&a);
    assert_true(drive(&a, cond_reconnected, 8000));
    assert_int_equal(a.closed, 1);
    assert_int_equal(a.count_in_closed, 0);
    assert_int_equal(tern_endpoint_conn_count(a.ep), 1);
    assert_int_equal(tern_conn_is_established(a.conn), 1);
    tern_endpoint_free(a.ep);
}

static int cond_first_closed(app *a)
{
    return a->first_close.local == 1;
}

/* Endpoint functions from a callback (hooks installed, a network event fed, a second connection
 * started), and a connection closed from the callback of another. */
static void test_endpoint_calls_from_callbacks(void **st)
{
    app a;
    start(*st, &a);
    a.endpoint_calls = 1;
    connect_client(&a);
    assert_true(drive(&a, cond_first_closed, 8000));
    assert_int_equal(a.hooks_rv, 0);
    assert_int_equal(a.net_rv, 0);
    assert_int_equal(a.net_inside, 1); /* on_network_event ran inside the call */
    assert_int_equal(a.connect_rv, 0);
    assert_non_null(a.second);
    assert_int_equal(a.connected, 2);
    assert_int_equal(a.close_first_rv, 0);
    assert_int_equal(a.first_close.app, 1);
    assert_int_equal(a.first_close.error_code, 9);
    assert_true(a.hooked_sends > 0); /* the hooks installed from the callback see the datagrams */
    assert_int_equal(tern_endpoint_conn_count(a.ep), 1);
    assert_int_equal(tern_conn_is_established(a.second), 1);
    tern_endpoint_free(a.ep);
}

/* Inside on_closed the verbs refuse with TERN_ERR_CLOSED, reading works, and the handle is
 * freed after the callback without a trace (no socket left, nothing queued on the freed
 * record). */
static void test_verbs_inside_on_closed(void **st)
{
    app a;
    start(*st, &a);
    a.close_on_connected = 1;
    a.verbs_in_closed = 1;
    connect_client(&a);
    assert_true(drive(&a, cond_closed, 5000));
    assert_int_equal(a.add_rv, TERN_ERR_CLOSED);
    assert_int_equal(a.setl_rv, TERN_ERR_CLOSED);
    assert_int_equal(a.open_rv, TERN_ERR_CLOSED);
    assert_int_equal(a.write_rv, TERN_ERR_CLOSED);
    assert_int_equal(a.close_rv, TERN_ERR_CLOSED);
    assert_int_equal(a.stats_rv, 0);
    assert_int_equal(a.paths_rv, 0);
    /* the loop goes on with nothing of the connection left for the application; the client's
     * closing period (three PTOs, longer on a loaded machine) still runs inside the endpoint,
     * and once it is over the endpoint has no timer left */
    assert_int_equal(tern_endpoint_conn_count(a.ep), 0);
    int i;
    for (i = 0; i < 1000 && tern_endpoint_timeout_ms(a.ep) != -1; i++) {
        assert_int_equal(tern_endpoint_run_once(a.ep, 5), 0);
        assert_int_equal(tern_endpoint_conn_count(a.ep), 0);
    }
    assert_int_equal(tern_endpoint_timeout_ms(a.ep), -1);
    tern_endpoint_free(a.ep);
}

/* A network event fed by the application outside the loop runs on_network_event, which frees
 * the endpoint: freed when tern_endpoint_network_event returns, which returns 0. */
static void test_free_from_network_event(void **st)
{
    app a;
    start(*st, &a);
    a.free_in = FREE_ON_NET_EVENT;
    connect_client(&a);
    assert_true(drive(&a, cond_connected, 5000));
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = TERN_NET_LINK_DOWN;
    ev.ifindex = 1;
    assert_int_equal(tern_endpoint_network_event(a.ep, &ev), 0);
    assert_int_equal(a.net_events, 1);
    assert_true(a.fd_open_in_cb);
    assert_false(fd_open(a.epfd));
    assert_int_equal(a.after_free, 0);
}

/* A migration verb called outside the loop reports PROBING at once; freeing from that callback
 * waits for the verb to return. */
static void test_free_from_path_event_in_verb(void **st)
{
    app a;
    start(*st, &a);
    a.free_in = FREE_ON_PATH_EVENT;
    connect_client(&a);
    assert_true(drive(&a, cond_connected, 5000));
    /* the client's path is validated by the handshake; wait for its confirmation */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(tern_endpoint_run_once(a.f->srv.ep, 5), 0);
        assert_int_equal(tern_endpoint_run_once(a.ep, 5), 0);
    }
    tern_addr any;
    assert_int_equal(tern_addr_parse(&any, "127.0.0.1:0", 0), 0);
    int rv = tern_conn_add_local_address(a.conn, &any);
    assert_true(rv >= 0);
    assert_int_equal(a.path_ev[TERN_PATH_EV_PROBING], 1);
    assert_true(a.free_called);
    assert_true(a.fd_open_in_cb);
    assert_false(fd_open(a.epfd));
    assert_int_equal(a.after_free, 0);
}

/* Migration verbs from callbacks: a path added in on_connected, switched to from the
 * on_path_event that reports its validation. */
static void test_migration_verbs_from_callbacks(void **st)
{
    app a;
    start(*st, &a);
    a.migrate = 1;
    connect_client(&a);
    assert_true(drive(&a, cond_active_moved, 5000));
    assert_true(a.add_in_cb_rv >= 0);
    assert_true(a.set_in_cb_rv >= 0);
    tern_path_addr pa;
    tern_conn_get_path(a.conn, &pa);
    assert_true(tern_addr_equal(&pa.local, &a.new_local));
    tern_endpoint_free(a.ep);
}

/* tern_endpoint_stop and tern_endpoint_free from inside tern_endpoint_run: run returns 0 after
 * the iteration. The server runs in a child process so that run can block. */
static pid_t serve_in_child(loopfx *f)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t end = loopfx_now_ms() + 10000;
        while (loopfx_now_ms() < end)
            if (tern_endpoint_run_once(f->srv.ep, 20) != 0)
                _exit(1);
        _exit(0);
    }
    return pid;
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGTERM);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_stop_and_free_inside_run(void **st)
{
    loopfx *f = *st;
    app a;
    start(f, &a);
    pid_t pid = serve_in_child(f);
    a.stop_on_connected = 1;
    connect_client(&a);
    assert_int_equal(tern_endpoint_run(a.ep), 0);
    assert_int_equal(a.connected, 1);
    assert_int_equal(tern_endpoint_conn_count(a.ep), 1); /* stopped, not finished */
    tern_endpoint_free(a.ep);

    tern_config ccfg;
    loopfx_base_cfg(&ccfg, 0);
    app b;
    memset(&b, 0, sizeof(b));
    b.f = f;
    b.free_in = FREE_ON_CONNECTED;
    assert_int_equal(tern_endpoint_new(&ccfg, &app_cb, &b, &b.ep), 0);
    b.epfd = tern_endpoint_fd(b.ep);
    connect_client(&b);
    assert_int_equal(tern_endpoint_run(b.ep), 0);
    assert_int_equal(b.connected, 1);
    assert_true(b.fd_open_in_cb);
    assert_false(fd_open(b.epfd));
    assert_int_equal(b.after_free, 0);
    stop_child(pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOOPFX_TEST(test_free_from_on_connected),
        LOOPFX_TEST(test_close_then_free_from_on_closed),
        LOOPFX_TEST(test_run_refused_inside_callback),
        LOOPFX_TEST(test_connect_from_on_closed),
        LOOPFX_TEST(test_verbs_inside_on_closed),
        LOOPFX_TEST(test_endpoint_calls_from_callbacks),
        LOOPFX_TEST(test_free_from_network_event),
        LOOPFX_TEST(test_free_from_path_event_in_verb),
        LOOPFX_TEST(test_migration_verbs_from_callbacks),
        LOOPFX_TEST(test_stop_and_free_inside_run),
    };
    return cmocka_run_group_tests(tests, loopfx_group_setup, loopfx_group_teardown);
}
