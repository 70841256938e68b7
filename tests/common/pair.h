/* An in-process client/server pair of sans-I/O connections joined by a lossy, reordering,
 * duplicating link in virtual time. Deterministic for a given seed. The server side accepts the
 * client's first Initial the way the runtime does, then both run a small download application:
 * the client asks for N bytes on a bidirectional stream, the server answers with N pseudo-random
 * bytes derived from the stream id, and the client checks every byte and the SHA-256. */
#ifndef TERN_TEST_PAIR_H
#define TERN_TEST_PAIR_H

#include "conn.h"
#include "tls.h"
#include "tparams.h"

#define PAIR_MAX_STREAMS 256
#define PAIR_QUEUE 8192

typedef struct pair_dgram {
    uint8_t data[1500];
    size_t len;
    int to_server;
    tern_path_addr path;  /* as the sender saw it: local = source, remote = destination */
    int ecn;              /* its codepoint (TERN_ECN_*), as the link left it */
} pair_dgram;

typedef struct pair_qent {
    uint64_t at, seq;
    uint32_t slot;
} pair_qent;

typedef struct pair_stream {
    int64_t sid;
    uint64_t want;        /* bytes requested */
    uint64_t got;         /* bytes received */
    int fin;
    int mismatch;         /* a byte differed from the expected sequence */
    int hold;             /* the application reads no more than read_limit bytes of this stream */
    uint64_t read_limit;
    uint64_t gen;         /* generator seed of the expected bytes */
    uint8_t sha_got[32], sha_want[32];
    void *hash;           /* gnutls_hash_hd_t of received bytes */
    void *hash_want;      /* of expected bytes */
} pair_stream;

typedef struct pair_link {
    double loss;          /* independent loss probability */
    double dup;           /* duplication probability */
    double reorder;       /* probability of an extra random delay up to reorder_ns */
    uint64_t reorder_ns;
    uint64_t delay_ns;    /* one-way delay */
    uint64_t rate_bps;    /* 0 = unlimited */
    uint64_t busy_until;  /* serialisation of the previous datagram */
    size_t queue_limit;   /* datagrams queued before drop-tail (0 = unlimited) */
    /* exact drops: datagram indexes (0-based, in this direction) to drop */
    const int *drop_idx;
    size_t drop_n;
    uint64_t sent_idx;
    uint64_t dropped, delivered;
    int blackhole;
    /* ECN on the way (with tern_pair.ecn): the codepoint of every datagram cleared to Not-ECT
     * (bleaching), and an AQM marking CE on ECT datagrams that find at least ce_queue datagrams
     * queued before them (0: none); ce_marked counts its marks */
    int ecn_bleach;
    size_t ce_queue;
    uint64_t ce_marked;
} pair_link;

typedef struct tern_pair {
    tern_config cfg_c, cfg_s;
    tern_tls_ctx *tls_c, *tls_s;
    tern_conn *client, *server;
    tern_path_addr path_c, path_s;
    uint64_t now;
    uint64_t rng;
    pair_link c2s, s2c;
    /* a second client interface: datagrams from/to alt_addr use these links instead (from/to
     * any port of its IP when alt_addr's port is 0, as every socket bound on an interface) */
    tern_addr alt_addr;
    pair_link c2s_alt, s2c_alt;
    pair_dgram *q;         /* slots */
    pair_qent *heap;
    uint32_t *free_slots;
    size_t qn, nfree, qcap;
    uint64_t seq;
    uint8_t reset_key[32];
    /* NEW_TOKEN: the server's token key (NULL, the default: it issues none), and the tokens the
     * client application got (the last one kept) */
    const uint8_t *token_key;
    int new_tokens;
    uint8_t last_token[64];
    size_t last_token_len;
    /* client application */
    pair_stream streams[PAIR_MAX_STREAMS];
    int nstreams;
    int connected;
    int client_closed, server_closed;
    /* server application: bytes still to send per stream */
    struct {
        int64_t sid;
        uint64_t left, total;
        uint64_t gen;
        uint8_t req[8];
        size_t req_len;
        int responding;
    } srv[PAIR_MAX_STREAMS];
    int nsrv;
    uint64_t server_bytes_sent;   /* UDP payload bytes server -> client */
    uint64_t server_bytes_recv;
    uint64_t max_amp_violation;   /* server bytes sent beyond 3x received before validation */
    int server_validated_seen;
    int amp_blocked_seen;         /* the server used its whole 3x budget at some point */
    uint64_t key_update_at;       /* client starts a key update once this many bytes arrived */
    int key_update_done;
    /* returns 1 to drop a datagram (to_server: direction; pa: the sender's view of the path) */
    int (*filter)(struct tern_pair *p, int to_server, const tern_path_addr *pa);
    /* when set: sees every datagram as it is sent, before any drop (to_server: direction) */
    void (*tap)(struct tern_pair *p, int to_server, const tern_path_addr *pa, const uint8_t *d,
                size_t len);
    void *filter_ud;
    /* a NAT: client datagrams from nat_from reach the server as coming from nat_to */
    tern_addr nat_from, nat_to;
    /* replies then reach the client addressed to nat_to, as a socket bound to the wildcard
     * address (nat_from 0.0.0.0:port) learns each datagram's destination from IP_PKTINFO */
    int nat_keeps_dst;
    tern_addr fake_server_src;    /* when set, the client sees server datagrams from here */
    int rand_fail;                /* the random source fails while set */
    /* called before a connection is asked for datagrams (from_server: which one) */
    void (*before_send)(struct tern_pair *p, tern_conn *c, int from_server);
    /* called when the client application receives stream bytes */
    void (*on_data)(struct tern_pair *p, uint64_t n);
    void *app_ud;
    /* each side's callbacks and their user data instead of the download application */
    const tern_callbacks *server_cb, *client_cb;
    int client_no_cb; /* the client connection gets no callbacks at all (its test drives it) */
    void *server_ud, *client_ud;
    /* called once the server connection exists, before it reads the client's first Initial */
    void (*server_created)(struct tern_pair *p);
    /* resumption: the client resumes `session` (with 0-RTT when early_data is set); the latest
     * blob the server's tickets brought is kept in `ticket` */
    const uint8_t *session;
    size_t session_len;
    int early_data;
    uint8_t ticket[20000];
    size_t ticket_len;
    int tickets;
    uint8_t first_c2s[1500]; /* the client's first datagram */
    size_t first_c2s_len;
    /* when set: the server's transport parameters, changed by it, replace those it would send
     * (before server_created runs) */
    void (*alter_server_tparams)(tern_tparams *tp);
    /* path events seen by each side: count and last reason per tern_path_event_type */
    int path_events[8], last_reason[8];
    int srv_path_events[8], srv_last_reason[8];
    /* when set: the server connection issues CIDs of scid_len bytes made by new_cid (its
     * tern_conn_hooks.new_cid, called with new_cid_ud) */
    int (*new_cid)(void *ud, tern_conn *c, tern_cid *cid);
    void *new_cid_ud;
    size_t scid_len;
    /* the server produces its responses in place (tern_stream_write_buffer and _commit) instead
     * of through tern_stream_write */
    int server_in_place;
    /* when set: the server queues its responses by reference (tern_stream_write_ref) from pieces
     * of memory it allocates, of by_ref->piece bytes (every other piece copied instead when
     * by_ref->mix), and counts their releases there (kept by the test: it outlives the pair) */
    struct pair_by_ref *by_ref;
    /* both sides send with the codepoints their connections choose (tern_conn_send_batch_ecn)
     * and receive each datagram with its own; else every datagram is Not-ECT */
    int ecn;
} tern_pair;

typedef struct pair_by_ref {
    size_t piece;
    int mix;
    uint64_t pieces, released, bytes_held; /* pieces queued, released; bytes not yet released */
    uint64_t early; /* releases that came before the client had every byte of the piece */
    uint64_t bad;   /* releases with a pointer or length other than the piece's */
} pair_by_ref;

/* Creates the certificate (once per process), both TLS contexts and the client connection. */
int pair_init(tern_pair *p, uint64_t seed);
void pair_free(tern_pair *p);

/* Creates the server connection for the client Initial in dgram[0..len) (>= 1200 bytes) the way
 * the runtime accepts one; pair_run does it with the first datagram that reaches the server.
 * Returns 0 or -1. The datagram is not delivered. */
int pair_accept(tern_pair *p, const uint8_t *dgram, size_t len);

/* An attacker's rewrite of the client's first Initial (the whole ClientHello in one packet): the
 * client builds it, it is opened and protected again in `version` with Source Connection ID
 * `scid` (NULL: the client's own), a server is created for it (pair_accept) and reads it. The
 * client's own datagram never reaches the server. Returns 0, or -1 when any step fails. */
int pair_rewrite_first_initial(tern_pair *p, uint32_t version, const tern_cid *scid);

/* Replaces both TLS contexts and configs so that the pair offers (and agrees on) these ALPN
 * values; call before the first pair_run. `alpn` must outlive the pair. Returns 0 or -1. */
int pair_set_alpn(tern_pair *p, const char **alpn, size_t n);

/* Creates the client connection now (pair_run does it otherwise), e.g. to write 0-RTT before
 * the handshake. Returns 0 or the error of tern_conn_new. */
int pair_start(tern_pair *p);

/* Keeps a resumption blob in p->ticket (what the default client callbacks do with tickets). */
void pair_keep_ticket(tern_pair *p, const uint8_t *blob, size_t len);

/* Runs the pair (set up by the caller: a server issuing tickets) to a full handshake and a
 * 1000-byte download, keeps the last ticket's blob in blob[0..*len) and the server's
 * Handshake-level TLS bytes in *server_hs (when not NULL), and frees the pair but for its server
 * TLS context, which it returns (the caller frees it). NULL when any step failed (the pair is
 * freed all the same). */
tern_tls_ctx *pair_first_ticket(tern_pair *p, uint8_t *blob, size_t cap, size_t *len,
                                uint64_t *server_hs);

/* Client asks for `bytes` on a new stream (after the handshake, or in 0-RTT). Returns the index
 * or -1. */
int pair_request(tern_pair *p, uint64_t bytes);

/* Protects `payload` as a 1-RTT packet from the client (to_server) or the server, with the next
 * packet number of the sender, and hands it to the other side. Returns what tern_conn_recv does. */
int pair_inject_1rtt(tern_pair *p, int to_server, const uint8_t *payload, size_t len);

/* Runs the handshake and a 100-byte download: both sides are then confirmed, hold the other's
 * CIDs and have acknowledged packets of each other. Returns 1, or 0 when that took more than 10 s
 * of virtual time. */
int pair_connect(tern_pair *p);

/* Runs until `done(p)` is true or `limit_ns` of virtual time passed. Returns 1 when done. */
int pair_run(tern_pair *p, int (*done)(tern_pair *p), uint64_t limit_ns);

/* Ready-made conditions. */
int pair_cond_connected(tern_pair *p);
int pair_cond_all_done(tern_pair *p);    /* every requested stream received with FIN */
int pair_cond_both_closed(tern_pair *p);
int pair_cond_now(tern_pair *p);            /* at once: pair_run only creates the client */
int pair_cond_client_closing(tern_pair *p); /* the client is closing, draining or done */
int pair_cond_server_draining(tern_pair *p);

/* 1 when `c` is closing (or past it) because it failed the connection itself with transport
 * error `code` and a reason that contains `why`, before it accepted the peer's transport
 * parameters; else 0, saying on stderr what it found. */
int pair_refused(tern_conn *c, uint64_t code, const char *why);

/* 1 when every requested stream got all its bytes, in order, with matching SHA-256. */
int pair_verify(tern_pair *p);

/* A client bound to the wildcard address `wild` (its port included) reaches the server through the
 * pair's NAT as `bound` (the same port on a concrete IP): the pair connects and downloads
 * `request_len` bytes over that one path; then a server packet addressed to `other` (the same IP,
 * another port) must be dropped unprocessed and one addressed to `bound` taken. Returns 0 when
 * every step held, else the number of the first that did not, saying it on stderr. */
int pair_check_wildcard_local(tern_pair *p, const char *wild, const char *bound, const char *other,
                              size_t request_len);

#endif
