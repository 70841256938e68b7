/* Shared pieces of the migration scenarios (scenarios_migration.c, scenarios_failover.c): the
 * phone-like topology (wifi and cell, each with its own link, queue and NAT), the download with
 * its byte, hash and time checks, path event checks, the final-state check and scheduled client
 * verbs. */
#ifndef TERN_SIM_MIG_H
#define TERN_SIM_MIG_H

#include "sim_node.h"
#include "sim_scenario.h"

#define MB (1024ull * 1024ull)
#define MBIT 1000000ull

/* Stops the scenario when a helper recorded a failure. */
#define TRY(r, call)                                                                               \
    do {                                                                                           \
        call;                                                                                      \
        if (!(r)->ok)                                                                              \
            return;                                                                                \
    } while (0)

#define WIFI_ADDR "10.0.1.2:5000"
#define CELL_ADDR "100.64.0.2:6000"
#define PREFERRED "192.0.2.2:4433"
#define ATTACKER "198.18.0.66:6666"

typedef struct phone {
    int wifi, cell;
    sim_nat *wifi_nat, *cell_nat;
} phone;

/* Checks that the path events `who` reported, in order, match `pattern` (see
 * sim_path_events_match; "" expects none). A macro, so that a failure names the scenario's line. */
#define expect_events(s, r, who, pattern) expect_events_at(s, r, who, pattern, __FILE__, __LINE__)

/* An address and what the client's verb returned: the arguments of scheduled verbs. */
typedef struct verb {
    tern_addr addr;
    int rv;
    int done;
    uint64_t at;
} verb;

/* Seconds and milliseconds of a duration, for messages. */
double secs(uint64_t ns);
double msecs(uint64_t ns);
/* wifi: 20 ms from the server, 50 Mbit/s, behind a home NAT; cell: 80 ms, 20 Mbit/s down and 5 up,
 * behind a carrier NAT. */
void phone_net(sim *s, phone *ph);
uint16_t port_of(const tern_addr *a);
/* Interface i's address with another port (0: its own). */
tern_addr iface_addr(const sim *s, int i, uint16_t port);
void expect_events_at(sim *s, sim_result *r, int who, const char *pattern, const char *file,
                      int line);
/* Events of side `who` of a type (0: any), a reason (-1: any) and on an interface (NULL: any). */
size_t count_events(const sim *s, int who, int type, int reason, const char *iface);
/* The last event of a type reported by `who`, or NULL. */
const sim_path_ev *last_event(const sim *s, int who, int type);
/* -1: no active path; else whether it is validated. */
int active_validated(tern_conn *c);
/* The client's public address for its private address `local`: what its NAT maps it to now. */
int public_of(const sim *s, const tern_addr *local, tern_addr *pub);
/* Every validation round trip either side reported is no shorter than the propagation delay. */
void expect_plausible_rtts(sim *s, sim_result *r);
/* At the end both sides use the same, validated path (client `local` > `server`). */
void expect_active(sim *s, sim_result *r, const tern_addr *local, const tern_addr *server);
/* Connects and asks for `bytes` on one stream. */
void start_download(sim *s, sim_result *r, uint64_t bytes);
/* Runs the download to its end: bytes and SHA-256 match, nobody closed, at most `bound` of virtual
 * time from the request to the last byte (*xfer_ns receives it). */
void finish_download(sim *s, sim_result *r, uint64_t bound, uint64_t *xfer_ns);
void summarize(sim *s, sim_result *r, uint64_t xfer_ns, const char *extra);
/* Records what a client verb returned, and when. */
void verb_done(sim *s, verb *v, int rv, const char *name);
/* Scheduled client verbs (arg: a verb). */
void act_add(sim *s, void *arg);
void act_set_active(sim *s, void *arg);
void act_remove(sim *s, void *arg);
int cond_client_validated(sim *s);
int cond_client_failed(sim *s);

/* ---- stall measurement ---- */

/* Samples in-order delivery to the application every millisecond from `from` on and keeps the
 * longest gap between two deliveries (a gap still open when the run ends counts too): the stall
 * a failure caused. */
typedef struct gap_watch {
    uint64_t from, last_bytes, last_progress, max_gap, gap_end;
    int armed;
} gap_watch;

/* Starts watching at run time `at` (until every stream is done). */
void watch_gaps_from(sim *s, gap_watch *w, uint64_t at);
/* The longest delivery gap since `from`, counting one still open now. */
uint64_t gap_of(sim *s, const gap_watch *w);

#define expect_gap(s, r, w, bound)                                                                 \
    SIM_CHECK(r, gap_of(s, w) <= (bound),                                                          \
              "delivery stalled for %.0f ms (ending at %.3f s) after the failure at %.3f s "       \
              "(bound %.0f ms)",                                                                   \
              msecs(gap_of(s, w)), secs((w)->gap_end), secs((w)->from), msecs(bound))

#endif
