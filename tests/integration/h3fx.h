/* The fixture of the HTTP/3 conformance suites (test_h3_conformance.c: the server side and the
 * peer's control and unidirectional streams; test_h3_conformance_client.c: the client side and
 * memory under attack). One side of an in-memory pair runs tool_h3 with callbacks that log what
 * they see; the other side is a bare tern connection on which each case writes exact bytes, built
 * here by hand (varints, frames, QPACK field sections of static references and literals), never
 * by the layer's own encoder. Each case checks what the bare side observes: the application error
 * code that closes the connection (or that nothing closed it), the RESET_STREAM and STOP_SENDING
 * codes on a stream, the frames and fields the layer sent; and what the tool saw: the sequence of
 * callbacks, the fields and the body bytes.
 *
 * The heap the layer holds is measured through allochook.h (allocations made inside the calls
 * into tool_h3), which h3fx.c includes for the whole program; h3fx_heap_measured() is 0 under the
 * sanitizers, where the memory cases skip. */
#ifndef TESTS_INTEGRATION_H3FX_H
#define TESTS_INTEGRATION_H3FX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/h3conn.h"
#include "pair.h"

#define SEC 1000000000ull
#define MS 1000000ull

/* HTTP/3 frame and stream types used below (RFC 9114 §7.2, §6.2; RFC 9218 §7). */
enum {
    F_DATA = 0x00,
    F_HEADERS = 0x01,
    F_CANCEL_PUSH = 0x03,
    F_SETTINGS = 0x04,
    F_PUSH_PROMISE = 0x05,
    F_GOAWAY = 0x07,
    F_MAX_PUSH_ID = 0x0d,
    F_PRIORITY_UPDATE = 0xf0700,
    F_PRIORITY_UPDATE_PUSH = 0xf0701,
    F_GREASE = 0x21, /* 0x1f * 0 + 0x21 */
    F_GREASE_BIG = 0x1f * 1000 + 0x21,
    S_CONTROL = 0x00,
    S_PUSH = 0x01,
    S_ENCODER = 0x02,
    S_DECODER = 0x03,
};

#define MAX_SID_ID (((uint64_t)1 << 62) - 4)

typedef struct bb {
    uint8_t *d;
    size_t n, cap;
} bb;

typedef struct fld {
    const char *n;
    size_t nl;
    const char *v;
    size_t vl;
} fld;
#define F(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

#define REQ_GET                                                                                    \
    F(":method", "GET"), F(":scheme", "https"), F(":authority", "example.com"), F(":path", "/")

#define QF(n, v)                                                                                   \
    {                                                                                              \
        (const uint8_t *)n, sizeof(n) - 1, (const uint8_t *)v, sizeof(v) - 1                       \
    }

typedef struct rstream {
    int64_t sid;
    uint8_t *buf;
    size_t len, cap;
    int fin, reset, stopped;
    uint64_t reset_code, stop_code;
} rstream;

#define RAW_STREAMS 256

typedef struct raw_side {
    tern_conn *c;
    int connected;
    rstream st[RAW_STREAMS];
    int n;
    int64_t ctrl; /* our control stream */
} raw_side;

typedef struct tstream {
    int64_t sid;
    uint8_t body[8192];
    size_t blen;
    uint64_t btotal;
    uint64_t bhash; /* FNV-1a of every body byte (from the offset basis, set at first data) */
    uint64_t resp_off;
    int blocked;
} tstream;

typedef struct tool_side {
    tool_h3 *h;
    int is_server;
    tern_conn *c;
    char log[65536];
    size_t loglen;
    int64_t last_data_sid; /* the last event logged was data on this stream (-1: not data) */
    tstream st[64];
    int n;
    int respond;         /* server: answer every request that ended well with :status 200 */
    size_t resp_len;     /* ... and this many body bytes (0: none) */
    int resp_wouldblock; /* read_data answers TOOL_H3_WOULDBLOCK until resp_release is set */
    int resp_release;
    int resp_fail;   /* read_data answers -1 */
    int fail_header; /* recv_header answers 1 */
    int stop_data;   /* recv_data stops reading the stream (tool_h3_stop_stream, 0x10c) */
    int set_ud;      /* server: begin_headers attaches the stream's tstream as its user data */
    uint64_t acked;
    uint64_t ref_taken, ref_released, ref_takes, ref_releases; /* by_ref */
    /* heap measurement (allochook): the tagged bytes held, highest at the end of a call */
    long long peak;
    uint8_t scratch[32768];
} tool_side;

typedef struct pframe {
    uint64_t type, len;
    const uint8_t *pl;
} pframe;

/* The heap the layer holds after set-up, and the most it held at the end of any call into it
 * during the attack and after the attack settled. */
typedef struct heapm {
    long long base, peak, after;
} heapm;

/* A message's fields by name (a case of the message checks). */
#define CASE(name, ...)                                                                            \
    {                                                                                              \
        name, (const fld[]){__VA_ARGS__}, sizeof((const fld[]){__VA_ARGS__}) / sizeof(fld)         \
    }

typedef struct mcase {
    const char *name;
    const fld *f;
    size_t n;
} mcase;

extern tern_pair P;
extern raw_side R;
extern tool_side S;
extern uint8_t BODY[256 * 1024];
/* GET https://example.com/, as the tool's fields */
extern const tool_qpack_field tool_get[4];

/* 1 when the heap the layer holds is measured (not under the sanitizers). */
int h3fx_heap_measured(void);

void bb_raw(bb *b, const void *p, size_t n);
void bb_byte(bb *b, uint8_t v);
void bb_free(bb *b);
void bb_vi_n(bb *b, uint64_t v, int len);
void bb_vi(bb *b, uint64_t v);
void bb_frame(bb *b, uint64_t type, const void *pl, size_t n);
void bb_hex(bb *b, const char *hex);
void bb_qint(bb *b, uint8_t first, int prefix, uint64_t v);
void bb_section(bb *b, const fld *f, size_t n);
void bb_headers(bb *b, const fld *f, size_t n);
void bb_get(bb *b);
void settle(void);
rstream *rs_find(int64_t sid);
tstream *ts_get(int64_t sid);
void tag_on(void);
void tag_off(void);
void start(int tool_server);
void start_bb(int tool_server, bb *ctrl);
void finish(void);
int raw_closing(void);
void raw_write(int64_t sid, const void *data, size_t n, int fin);
void raw_write_bb(int64_t sid, bb *b, int fin);
void raw_write_bytewise(int64_t sid, const uint8_t *d, size_t n, int fin);
int64_t raw_open(int bidi);
int64_t raw_uni_bb(uint64_t type, bb *b, int fin);
void expect_open(void);
void expect_close(uint64_t code);
void expect_stream_error(int64_t sid, uint64_t code, int stop);
int log_has(const char *what);
void want_log(const char *what);
void want_no_log(const char *what);
void expect_log(const char *want);
int next_frame(const uint8_t *d, size_t n, size_t *off, pframe *f);
int parse_msg(const rstream *s, bb *fields, bb *body, int *other);
void expect_response(int64_t sid, const char *status, const uint8_t *body, size_t n);
int64_t request_bb(bb *b, int fin);
int64_t request_get(void);
int64_t request_fields(const fld *f, size_t n, int fin);
void heap_begin(heapm *m);
void heap_end(heapm *m, const char *what);
int never(tern_pair *p);
size_t get_vi(const uint8_t *d, size_t n, uint64_t *v);
void start_ctrl(int tool_server, const uint8_t *ctrl, size_t nctrl);
uint64_t fnv(uint64_t h, const uint8_t *d, size_t n);
long long close_code(void);
/* A PRIORITY_UPDATE frame of `size` payload octets naming request stream 0. */
void bb_priority_update(bb *c, size_t size);

#endif
