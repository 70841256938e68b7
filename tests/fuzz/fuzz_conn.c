/* libFuzzer target for two live connections: each input is a script of events run against a fresh
 * client/server pair (tests/common/pair.c) that has completed its handshake and one download, so
 * that every finding replays from its one file. Both peers are real tern connections: whatever one
 * of them sends reaches the other over a simulated link in virtual time, is acknowledged and
 * answered. The script lets time pass, drives the client's API (requests, key updates, new local
 * addresses, switching and removing paths, resets, closes), breaks the link per address, rebinds
 * the client behind a NAT, and forges what an attacker could: frames protected with either side's
 * keys (also with the next key phase), from the client's addresses or from spoofed ones, raw
 * datagrams, and stateless resets with the real token. This reaches path validation and failure,
 * path slot recycling, loss recovery and PTO, key updates and stateless resets.
 *
 * Checked after every event: a connection's state stays bounded, a connection that closed by its
 * own decision names a transport error, nothing reports an internal error, and when the script
 * forged nothing (the peers are honest, only the network misbehaves) neither side ever closes with
 * a transport error other than NO_VIABLE_PATH (every path broken in one direction or the other).
 *
 * Event format (one opcode byte, then its arguments; a truncated event ends the script):
 *   0 t          let time pass: t < 128: (t+1) ms, else (t-127) x 250 ms
 *   1 a n <n>    frames <n> protected by the client, sent to the server from address
 *                (a&7) | (a>>4)<<3 (0..3 the client's, 4..31 spoofed; a&8: the next key phase)
 *   2 a n <n>    frames <n> protected by the server, sent to the client (a&8: next key phase)
 *   3 b          the client requests (b+1) x 97 bytes on a new stream
 *   4 b          client path verb b&3 (add, set, remove, add+set) on local address (b>>2)&3
 *   5 b          key update on the client (b&1 = 0) or on the server
 *   6 m          link: drop client->server datagrams from address i when bit i of m is set (i<4),
 *                server->client datagrams to address i when bit 4+i is set
 *   7 b          NAT: b&1 = 0 clears it, else the client's address (b>>1)&3 appears as port 6000+b
 *   8 n          stateless reset of 21+n%64 bytes to the client (n&64: to the server)
 *   9 a n <n>    raw datagram <n> to the server from address a&7 (a&8: to the client)
 *   10 b         stream verb on the client's stream b>>2: reset, stop sending, server reset, read
 *   11 b         close: the client (b&1 = 0) or the server closes with application error b>>1
 *   12 b         the runtime reports the client's path on local address b&3 gone: its socket
 *                failed (b&4) or its interface went down
 *   13 b         the host's network changed under the client: event type 1 + (b&7)%5 (address added
 *                or removed, link up or down, default route) for local address (b>>3)&3 on
 *                interface 1 + ((b>>5)&3)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_test.h"
#include "forge.h"
#include "fuzz_common.h"
#include "fuzz_entry.h"
#include "migration.h"
#include "pair.h"
#include "policy.h"

#define MAX_EVENTS 96
#define MAX_VIRTUAL_NS (120ull * 1000 * MS)

/* 0..3: the client's own addresses (0 is the one it starts on); 4..7: addresses an attacker
 * spoofs. */
static const char *const addrs[8] = {"10.0.0.1:5000", "10.0.0.1:5001",  "10.0.0.3:5000",
                                     "10.0.0.4:7000", "10.0.0.77:5000", "10.0.0.78:443",
                                     "192.168.1.9:9", "10.0.0.2:443"};

static tern_pair pair;
static uint8_t drop_mask;

/* Index 0..7: the table; 8..31: more spoofed sources, enough to fill a server's path slots. */
static tern_addr addr_of(int i)
{
    tern_addr a;
    if ((i & 31) < 8) {
        tern_addr_parse(&a, addrs[i & 7], 0);
    } else {
        char text[32];
        snprintf(text, sizeof(text), "10.0.9.%d:%d", i & 31, 4000 + (i & 31));
        tern_addr_parse(&a, text, 0);
    }
    return a;
}

static int local_index(const tern_addr *a)
{
    for (int i = 0; i < 4; i++) {
        tern_addr b = addr_of(i);
        if (tern_addr_equal(a, &b))
            return i;
    }
    return -1;
}

/* The link filter: per-address blackholes chosen by the script. */
static int link_filter(tern_pair *p, int to_server, const tern_path_addr *pa)
{
    int i = local_index(to_server ? &pa->local : &pa->remote);
    if (i < 0)
        return 0;
    return (drop_mask >> (i + (to_server ? 0 : 4))) & 1;
}

static int never(tern_pair *p)
{
    return 0;
}
static int cond_confirmed(tern_pair *p)
{
    return p->client && tern_conn_handshake_confirmed(p->client);
}

static void check_conn(tern_conn *c, int forged)
{
    if (!c)
        return;
    CHECK(tern_conn_streams(c)->count <=
          tern_conn_streams(c)->max_remote[0] + tern_conn_streams(c)->max_remote[1] + 64);
    for (int i = 0; i < TERN_MAX_PATHS; i++)
        CHECK(tern_conn_path_at(c, i)->nresponse <= TERN_PATH_RESPONSES);
    fuzz_check_close(c);
    const tern_close_info *ci = tern_conn_close_info(c);
    /* between honest peers, only the network can end a connection: idle timeout, or no path
     * left that works both ways */
    if (tern_conn_state(c) >= TERN_CS_CLOSING && !forged && ci->local && !ci->app) {
        int ok = ci->error_code == 0 || ci->error_code == TERN_TE_NO_VIABLE_PATH;
        if (!ok && getenv("TERN_FUZZ_TRACE"))
            fprintf(stderr, "%s closed with 0x%llx: %s\n",
                    tern_conn_is_server(c) ? "server" : "client",
                    (unsigned long long)ci->error_code, ci->reason);
        CHECK(ok);
    }
}

static void check_all(int forged)
{
    check_conn(pair.client, forged);
    check_conn(pair.server, forged);
}

static void deliver(tern_conn *to, const tern_path_addr *pa, uint8_t *d, size_t len)
{
    if (to && len && !tern_conn_is_done(to))
        tern_conn_recv(to, pa, d, len, 0, pair.now);
}

/* The path a datagram of the server sees from address i, and the client's view of it. */
static tern_path_addr to_server_path(int i)
{
    tern_path_addr pa = {.local = pair.path_s.local, .remote = addr_of(i)};
    return pa;
}

static tern_path_addr to_client_path(int i)
{
    tern_path_addr pa = {.local = tern_conn_active_path(pair.client)->addr.local,
                         .remote = pair.path_c.remote};
    if (i >= 4) /* a spoofed server address */
        pa.remote = addr_of(i);
    return pa;
}

static void client_path_verb(int verb, int idx)
{
    tern_addr a = addr_of(idx);
    tern_conn *c = pair.client;
    /* the core's verbs: the runtime's tern_conn_*_local_address add sockets around them */
    switch (verb) {
    case 0:
        tern_conn_path_add(c, &a, pair.now);
        break;
    case 1:
        tern_conn_path_set_active(c, &a, pair.now);
        break;
    case 2:
        tern_conn_path_remove(c, &a, pair.now);
        break;
    default:
        tern_conn_path_add(c, &a, pair.now);
        tern_conn_path_set_active(c, &a, pair.now);
        break;
    }
}

/* What the runtime tells the core when a path's socket fails or its interface goes away. */
static void client_path_gone(int idx, tern_path_reason why)
{
    tern_addr a = addr_of(idx);
    int path = tern_conn_path_by_local(pair.client, &a);
    if (path >= 0)
        tern_conn_path_gone(pair.client, path, why, pair.now);
}

/* What the network monitor reports: an event about the IP of one of the client's addresses. */
static void client_network_event(uint8_t b)
{
    tern_net_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = (tern_net_event_type)(1 + (b & 7) % 5);
    ev.ifindex = 1 + ((b >> 5) & 3);
    snprintf(ev.ifname, sizeof(ev.ifname), "if%u", ev.ifindex);
    ev.addr = addr_of((b >> 3) & 3);
    if (ev.addr.u.sa.sa_family == AF_INET)
        ev.addr.u.in.sin_port = 0;
    tern_conn_network_event(pair.client, &ev, pair.now);
}

static void stream_verb(int verb, int idx)
{
    if (pair.nstreams == 0)
        return;
    int64_t sid = pair.streams[idx % pair.nstreams].sid;
    uint8_t buf[4096];
    int fin;
    switch (verb) {
    case 0:
        tern_stream_reset(pair.client, sid, 7);
        break;
    case 1:
        tern_stream_stop_sending(pair.client, sid, 8);
        break;
    case 2:
        if (pair.server)
            tern_stream_reset(pair.server, sid, 9);
        break;
    default:
        tern_stream_read(pair.client, sid, buf, sizeof(buf), &fin);
        break;
    }
}

static int setup(void)
{
    drop_mask = 0;
    CHECK(pair_init(&pair, 7) == 0);
    pair.cfg_c.max_paths = 4;
    /* both take DATAGRAM frames up to 200 bytes: forged ones are delivered or, too large, refused */
    pair.cfg_c.max_datagram_frame_size = pair.cfg_s.max_datagram_frame_size = 200;
    pair.filter = link_filter;
    CHECK(pair_run(&pair, cond_confirmed, 10000 * MS));
    CHECK(pair_request(&pair, 1000) >= 0);
    CHECK(pair_run(&pair, pair_cond_all_done, 10000 * MS));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const uint64_t start = pair.now;
    size_t i = 0;
    int forged = 0;
    static uint8_t buf[1500];
    for (int ev = 0; ev < MAX_EVENTS && i < size && pair.now - start < MAX_VIRTUAL_NS; ev++) {
        uint8_t op = data[i++] % 14;
        if (i >= size)
            break;
        uint8_t b = data[i++];
        if (op == 1 || op == 2 || op == 9) { /* events with a payload */
            if (i >= size)
                break;
            size_t n = data[i++];
            if (n > size - i)
                n = size - i;
            const uint8_t *pl = data + i;
            i += n;
            forged = 1;
            if (op == 1 && pair.server) {
                size_t len = forge_1rtt(pair.client, pl, n, (b & 8) ? FORGE_NEXT_PHASE : 0,
                                        pair.now, buf, sizeof(buf));
                tern_path_addr pa = to_server_path((b & 7) | (b >> 4) << 3);
                deliver(pair.server, &pa, buf, len);
            } else if (op == 2) {
                if (!pair.server)
                    continue;
                size_t len = forge_1rtt(pair.server, pl, n, (b & 8) ? FORGE_NEXT_PHASE : 0,
                                        pair.now, buf, sizeof(buf));
                tern_path_addr pa = to_client_path(b & 7);
                deliver(pair.client, &pa, buf, len);
            } else if (op == 9) {
                memcpy(buf, pl, n);
                if (b & 8) {
                    tern_path_addr pa = to_client_path(b & 7);
                    deliver(pair.client, &pa, buf, n);
                } else {
                    tern_path_addr pa = to_server_path(b & 7);
                    deliver(pair.server, &pa, buf, n);
                }
            }
        } else {
            switch (op) {
            case 0: {
                uint64_t dt = b < 128 ? (uint64_t)(b + 1) * MS : (uint64_t)(b - 127) * 250 * MS;
                pair_run(&pair, never, dt);
                break;
            }
            case 3:
                pair_request(&pair, (uint64_t)(b + 1) * 97);
                break;
            case 4:
                client_path_verb(b & 3, (b >> 2) & 3);
                break;
            case 5:
                if (b & 1) {
                    if (pair.server)
                        tern_conn_key_update(pair.server);
                } else {
                    tern_conn_key_update(pair.client);
                }
                break;
            case 6:
                drop_mask = b;
                break;
            case 7:
                if (b & 1) {
                    char text[32];
                    snprintf(text, sizeof(text), "10.0.0.1:%d", 6000 + b);
                    pair.nat_from = addr_of((b >> 1) & 3);
                    tern_addr_parse(&pair.nat_to, text, 0);
                } else {
                    memset(&pair.nat_from, 0, sizeof(pair.nat_from));
                }
                break;
            case 8: {
                forged = 1;
                tern_conn *victim = (b & 64) ? pair.server : pair.client;
                if (!victim)
                    break;
                size_t len = forge_stateless_reset(victim, 21 + b % 64, b, buf, sizeof(buf));
                tern_path_addr pa = (b & 64) ? to_server_path(0) : to_client_path(0);
                deliver(victim, &pa, buf, len);
                break;
            }
            case 10:
                stream_verb(b & 3, b >> 2);
                break;
            case 11:
                if (b & 1) {
                    if (pair.server)
                        tern_conn_close(pair.server, b >> 1, "fuzz");
                } else {
                    tern_conn_close(pair.client, b >> 1, "fuzz");
                }
                break;
            case 12:
                client_path_gone(b & 3, (b & 4) ? TERN_PATH_WHY_SOCKET_ERROR
                                                : TERN_PATH_WHY_INTERFACE_GONE);
                break;
            case 13:
                client_network_event(b);
                break;
            }
        }
        check_all(forged);
        /* a short step after each event so that both sides answer what happened */
        pair_run(&pair, never, 2 * MS);
        check_all(forged);
    }
    /* let everything that is still pending settle: timers, retransmissions, path validation */
    pair_run(&pair, never, 5000 * MS);
    check_all(forged);
    pair_free(&pair);
    return 0;
}
