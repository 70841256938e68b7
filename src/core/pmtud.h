/* Datagram packetization layer path MTU discovery (RFC 8899, RFC 9000 §14.3) for one path: the
 * largest UDP payload the path is known to carry (the PLPMTU), the search for a larger one with
 * padded PING probes, black-hole detection, and the timer that raises the search again later.
 * Sans-I/O and free of connection state: the connection tells it what was sent, acknowledged and
 * lost, and asks it what size datagrams may be and whether a probe is due. docs/pmtud.md tells
 * the whole story. */
#ifndef TERN_CORE_PMTUD_H
#define TERN_CORE_PMTUD_H

#include "common.h"

#define TERN_PMTUD_BASE 1200     /* BASE_PLPMTU: every QUIC path carries it (RFC 9000 §14) */
#define TERN_PMTUD_MAX_UDP 65527 /* the largest UDP payload there is */
#define TERN_PMTUD_MAX_PROBES 3  /* MAX_PROBES (RFC 8899 §5.1.2): a size lost this often fails */
/* Packets above BASE lost in a row, while smaller ones are acknowledged, that make a black hole:
 * a black hole loses every one (a window's worth), a drop-tail queue under congestion rarely six
 * in a row with nothing large acknowledged in between. */
#define TERN_PMTUD_BH_LOSSES 6
#define TERN_PMTUD_RAISE_DEFAULT_MS 600000 /* PMTU_RAISE_TIMER (RFC 8899 §5.1.1): 10 minutes */

typedef enum tern_pmtud_state {
    TERN_PMTUD_IDLE = 0,  /* path not (yet) usable for probes: datagrams stay at PLPMTU */
    TERN_PMTUD_SEARCHING, /* probes run */
    TERN_PMTUD_COMPLETE,  /* nothing left to try until the raise timer or a larger limit */
} tern_pmtud_state;

typedef struct tern_pmtud {
    size_t plpmtu;     /* datagrams on the path are at most this (>= BASE) */
    size_t cap;        /* tern_config.max_udp_payload */
    size_t local;      /* the local interface's limit (0: unknown) */
    size_t peer;       /* the peer's max_udp_payload_size */
    size_t fail;       /* smallest size known to fail in this search (SIZE_MAX: none) */
    size_t probe_try;  /* the size the search tries next (0: none) */
    size_t probe_size; /* the probe in flight (0: none) */
    uint64_t probe_pn;
    tern_tstamp probe_deadline; /* it counts as lost then (TERN_TS_INF: none) */
    int probe_losses;           /* losses of probe_try so far */
    int state;                  /* enum tern_pmtud_state */
    int started;                /* tern_pmtud_start was called */
    tern_tstamp raise_ms;       /* 0: never search again once complete */
    tern_tstamp raise_at;       /* TERN_TS_INF: not armed */
    uint32_t bh_lost;           /* packets above BASE lost since one above BASE was acknowledged */
    int bh_small_acked;         /* ... and meanwhile one at most BASE was acknowledged */
    int unsettled;              /* a probe was answered or lost since tern_pmtud_settle */
    uint64_t probes_sent, probes_lost, black_holes;
} tern_pmtud;

/* Starts at BASE (or at `cap` when it is below: it never is, the configuration forbids it) with
 * the configured cap, the peer's limit unknown (65527), the interface's unknown, idle.
 * raise_ms: tern_config.pmtud_raise_ms. */
void tern_pmtud_init(tern_pmtud *m, size_t cap, uint64_t raise_ms);

/* The largest size the search may reach: min(cap, local interface limit, peer limit). */
size_t tern_pmtud_max(const tern_pmtud *m);

/* Sets the local interface's limit (largest UDP payload it carries; 0: unknown) or the peer's
 * max_udp_payload_size. Lowering one below the PLPMTU lowers the PLPMTU at once (never below
 * BASE); raising one resumes a completed search. Returns 1 when the PLPMTU changed. */
int tern_pmtud_set_local(tern_pmtud *m, size_t limit, tern_tstamp now);
int tern_pmtud_set_peer(tern_pmtud *m, size_t limit, tern_tstamp now);

/* The path may carry probes from now on (validated, handshake confirmed, active): the search
 * begins. Later calls do nothing. */
void tern_pmtud_start(tern_pmtud *m, tern_tstamp now);

/* The size of the probe to send now, or 0 when none is due (idle, complete, or one in flight). */
size_t tern_pmtud_probe_due(const tern_pmtud *m);

/* A probe of `size` bytes left as packet `pn`; it counts as lost at `deadline` unless
 * acknowledged before. */
void tern_pmtud_on_probe_sent(tern_pmtud *m, size_t size, uint64_t pn, tern_tstamp deadline);

/* The probe of packet `pn`, `size` bytes, was acknowledged: the path carries that size (the
 * PLPMTU grows at once). A late acknowledgement, after the probe was given up, counts too. */
void tern_pmtud_on_probe_acked(tern_pmtud *m, size_t size, uint64_t pn);

/* The probe of packet `pn` was declared lost (by loss detection). */
void tern_pmtud_on_probe_lost(tern_pmtud *m, uint64_t pn);

/* A packet that was not a probe, `size` bytes, was acknowledged / declared lost: the evidence of
 * black-hole detection. Cheap; called for every packet. */
void tern_pmtud_on_pkt_acked(tern_pmtud *m, size_t size);
void tern_pmtud_on_pkt_lost(tern_pmtud *m, size_t size);

/* After the acknowledgements and losses of one ACK frame (or loss timer) were reported: picks the
 * next probe (or ends the search, arming the raise timer), and detects a black hole: when
 * TERN_PMTUD_BH_LOSSES packets above BASE were lost in a row while a packet at most BASE got
 * through, the path no longer carries the PLPMTU (RFC 8899 §4.3): back to BASE, and the search
 * starts again below the size that failed. Returns 1 when a black hole was found. */
int tern_pmtud_settle(tern_pmtud *m, tern_tstamp now);

/* The next deadline (probe given up, search raised again), or TERN_TS_INF. */
tern_tstamp tern_pmtud_timer(const tern_pmtud *m);

/* Runs what is due at `now`: a probe past its deadline is lost; the raise timer starts a new
 * search for a larger size. */
void tern_pmtud_on_timeout(tern_pmtud *m, tern_tstamp now);

#endif
