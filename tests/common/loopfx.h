/* A server endpoint and a client endpoint of the real runtime in one process and one thread, over
 * loopback sockets, driven through their epoll fds and run_once. The two run a small application on
 * bidirectional streams: on each, the client sends an 8-byte big-endian length (its top bit set
 * when an upload follows), the upload if any, and FIN; the server answers with that many bytes of a
 * pseudo-random sequence, a pure function of the stream ID and the offset. A request set may hold
 * several streams at once, on one connection or several. Both directions are checked by length
 * and SHA-256, and each download also byte by byte as it arrives. Each side records the path
 * events it sees (counts, last reason per type, and the first LOOPFX_EVENTS events in full) and
 * the library's log lines, and loopfx_dump() prints them, so that a failing system test says what
 * the connection did.
 *
 * Every function asserts with cmocka: call them from inside a cmocka test. */
#ifndef TERN_TEST_LOOPFX_H
#define TERN_TEST_LOOPFX_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/crypto.h>

#include "tern/tern.h"

#define LOOPFX_ALPN "tern-test"
#define LOOPFX_CHUNK 65536
#define LOOPFX_MS 1000000ull
#define LOOPFX_EVENTS 64    /* path events kept in full per side (all are counted) */
#define LOOPFX_LOG_LINES 96 /* most recent log lines kept per side */
#define LOOPFX_LOG_LEN 192
#define LOOPFX_STREAMS 48 /* streams tracked at once per side */

/* One path event as it was reported (the path descriptions are copies). */
typedef struct loopfx_event {
    tern_path_event_type type;
    tern_path_reason reason;
    tern_path_info path;
    tern_path_info from; /* valid when has_from */
    int has_from;
    uint64_t rtt_ns;
    uint64_t at_ms; /* since the fixture was set up */
} loopfx_event;

typedef struct loopfx loopfx;

/* One download stream of the client's current request set. */
typedef struct loopfx_stream {
    tern_conn *conn;
    int64_t sid;
    uint64_t want, got;
    int fin;
    int mismatch; /* a received byte differed from the expected sequence */
    gnutls_hash_hd_t hash;
    uint8_t sha[32];
} loopfx_stream;

/* One request as the server serves it; the slot is free while conn is NULL. */
typedef struct loopfx_served {
    tern_conn *conn;
    int64_t sid;
    uint8_t req[8];
    size_t req_len;
    int upload; /* the request announced an upload */
    uint64_t want, sent;
    int sending, done;
} loopfx_served;

typedef struct loopfx_side {
    loopfx *fx;
    tern_endpoint *ep;
    tern_conn *conn; /* the latest connection accepted or connected (NULL once it closed) */
    int is_server, errors;
    int accepted, connected, closed; /* callbacks seen */
    tern_close_info close;           /* of the latest close */
    int closed_state;                /* tern_core_state() of the connection in its on_closed */
    char alpn[64];                   /* negotiated, at the latest on_connected */
    /* start one key update once this side has moved this many stream bytes (0 = never): the
     * server counts what it wrote in all, the client what it received in the current set */
    uint64_t key_update_at;
    int key_update_started;

    /* path events, indexed by tern_path_event_type */
    int ev_count[8];
    int ev_reason[8]; /* reason of the last event of each type */
    loopfx_event ev[LOOPFX_EVENTS];
    size_t nev; /* events seen (may exceed LOOPFX_EVENTS; only the first ones are kept) */

    /* server application; the upload record is that of the latest request announcing one */
    loopfx_served served[LOOPFX_STREAMS];
    uint64_t sent; /* stream bytes written, all requests */
    int up_slot;   /* index in served of the upload's request, -1 when none or closed */
    gnutls_hash_hd_t up_hash;
    uint64_t up_got;
    int up_fin;
    uint8_t up_sha[32];

    /* client application: the current request set */
    loopfx_stream st[LOOPFX_STREAMS];
    size_t nst;
    uint64_t got;               /* received on all streams of the set */
    int fin;                    /* every stream of the set has its FIN */
    int64_t csid;               /* the stream carrying the upload */
    uint64_t up_total, up_sent; /* upload bytes to send after the request, and sent so far */

    /* client: the latest NEW_TOKEN token, and how many arrived */
    uint8_t token[512];
    size_t token_len;
    int tokens;

    /* the library's log (tern_config.log), a ring of the most recent lines */
    char log[LOOPFX_LOG_LINES][LOOPFX_LOG_LEN];
    size_t nlog;

    uint8_t buf[LOOPFX_CHUNK], expect[LOOPFX_CHUNK];
} loopfx_side;

struct loopfx {
    loopfx_side srv, cli;
    tern_addr addr; /* the server's listening address */
    uint64_t t0_ms;
};

/* cmocka group setup/teardown: a throwaway certificate for "localhost", 127.0.0.1 and ::1. */
int loopfx_group_setup(void **st);
int loopfx_group_teardown(void **st);

/* cmocka per-test setup/teardown: *st becomes a zeroed loopfx; teardown frees both endpoints. */
int loopfx_setup(void **st);
int loopfx_teardown(void **st);
#define LOOPFX_TEST(fn) cmocka_unit_test_setup_teardown(fn, loopfx_setup, loopfx_teardown)

/* Defaults plus the ALPN and, for a server, the certificate; for a client, the trust anchor. */
void loopfx_base_cfg(tern_config *cfg, int server);

/* The fixture's application, for a test that replaces one callback (the user data is a side). */
extern const tern_callbacks loopfx_callbacks;

/* Creates the server endpoint with `cb` (NULL: loopfx_callbacks) and listens on `listen`
 * ("127.0.0.1:0" when NULL); f->addr is the bound address, which must have the family asked for
 * and a port (the one asked for, if any). Unless cfg->log is set, the side's log ring receives the
 * library's log. */
void loopfx_start_server_cb(loopfx *f, const tern_config *cfg, const tern_callbacks *cb,
                            const char *listen);
void loopfx_start_server(loopfx *f, const tern_config *cfg, const char *listen);

/* Creates the client endpoint, installs `hooks` on it first when not NULL, and connects with
 * server name "localhost" to `remote` (NULL: f->addr) from `local` (NULL: any). */
void loopfx_start_client_to(loopfx *f, const tern_config *cfg, const tern_datapath_hooks *hooks,
                            const tern_addr *remote, const tern_addr *local);
void loopfx_start_client(loopfx *f, const tern_config *cfg, const tern_datapath_hooks *hooks);
/* Frees the client endpoint and forgets everything the client side recorded, so that a new
 * client can start. */
void loopfx_reset_client(loopfx *f);

/* Runs both endpoints until cond(f) holds or `ms` elapse. Returns 1 when cond held. */
int loopfx_drive(loopfx *f, int (*cond)(loopfx *), uint64_t ms);
/* Runs until `s` has seen at least `n` path events of `type`, or `ms` elapse. Returns 1 if so. */
int loopfx_drive_events(loopfx *f, const loopfx_side *s, tern_path_event_type type, int n,
                        uint64_t ms);

int loopfx_cond_never(loopfx *f);
int loopfx_cond_connected(loopfx *f); /* both sides connected */
int loopfx_cond_done(loopfx *f); /* every stream of the set got its FIN, or the client closed */
int loopfx_cond_client_closed(loopfx *f);

/* The client starts a new request set (the previous one is forgotten) with a request for `down`
 * bytes on a new stream of f->cli.conn; with _upload, the request announces an upload of `up`
 * bytes (possibly none) and sends it after itself. */
void loopfx_request(loopfx *f, uint64_t down);
void loopfx_request_upload(loopfx *f, uint64_t down, uint64_t up);
/* Adds a request for `down` bytes on a new stream of `c` to the current set. */
void loopfx_request_on(loopfx *f, tern_conn *c, uint64_t down);

/* Fails unless every stream of the set received exactly what it asked for, matching byte by byte
 * and by SHA-256, `bytes` in all, and no side saw an application error (a close is reported with
 * its reason). */
void loopfx_check_download(loopfx *f, uint64_t bytes);
/* Fails unless the server received exactly `bytes` of upload with the expected SHA-256. */
void loopfx_check_upload(loopfx *f, uint64_t bytes);
/* request + drive until done within `ms` + check_download. */
void loopfx_download(loopfx *f, uint64_t bytes, uint64_t ms);

/* Byte `off` of stream `sid`'s payload, in either direction, is a pure function of the two. */
void loopfx_fill(int64_t sid, uint64_t off, uint8_t *out, size_t n);
void loopfx_expected_sha(int64_t sid, uint64_t len, uint8_t out[32]);

uint64_t loopfx_now_ms(void);
uint16_t loopfx_port(const tern_addr *a); /* host order */

/* The last event of `type` seen by `s`, or NULL (also when only later events overflowed). */
const loopfx_event *loopfx_last_event(const loopfx_side *s, tern_path_event_type type);

/* Copies the description of the path whose local address is `local` (or, with local NULL, of the
 * path with id `id`) from tern_conn_paths; returns 1 when found. */
int loopfx_path_by_local(tern_conn *c, const tern_addr *local, tern_path_info *out);
int loopfx_path_by_id(tern_conn *c, int id, tern_path_info *out);
/* Number of paths tern_conn_paths reports. */
size_t loopfx_path_count(tern_conn *c);

/* Prints both sides' path events, paths and recent log lines. */
void loopfx_dump(loopfx *f);

/* Assertions that print loopfx_dump(f) before failing. */
#define LOOPFX_CHECK(f, cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            loopfx_dump(f);                                                                        \
            fail_msg("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);                        \
        }                                                                                          \
    } while (0)
#define LOOPFX_CHECK_INT(f, a, b)                                                                  \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            loopfx_dump(f);                                                                        \
            fail_msg("%s:%d: %s is %lld, expected %s = %lld", __FILE__, __LINE__, #a, a_, #b, b_); \
        }                                                                                          \
    } while (0)

#endif
