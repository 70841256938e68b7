#!/usr/bin/env bash
# What tern-server holds per idle established HTTP/3 connection, and that it gives it back: 200
# clients (bench_conn_client, one process) connect, complete the handshake and the HTTP/3 setup
# (the client's control stream with SETTINGS and its QPACK streams; the server's control stream)
# and stay idle; the server's heap is read through its SIGUSR1 report (mallinfo2: bytes malloc
# handed out) before, while they are open and after they closed, for two waves. Asserted: the heap per connection stays within PER_CONN_MAX while open,
# the connections' memory is all freed once they are gone, and the second wave leaves no more
# behind than the first.
#   tests/tools/conn-memory.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
N=200
# The bound in bytes per connection, some 15,730 today: the library's connection (~12.7 KB), its
# four streams (the client's control and QPACK streams, the server's control stream: ~1.7 KB),
# the HTTP/3 layer's connection record (~350 B, no stream record or buffer while idle: see
# docs/scaling.md), the runtime's and the server's own records (~700 B); anything that adds a
# buffer per connection fails here (a 4 KB receive chunk kept on one of the client's streams
# would, and so would one more stream object, 400 B).
PER_CONN_MAX=${PER_CONN_MAX:-16050}
# after close: the tables that keep the size the wave gave them (the connection-ID map grew to
# some 2,000 entries for 200 connections)
SLACK=16384
client_pid=""
fail() {
    echo "conn-memory: FAIL: $*"
    for f in server.log client.out client.err; do
        [ -f "$work/$f" ] && { echo "--- $f"; tail -n 20 "$work/$f"; }
    done
    exit 1
}
trap '[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null; tools_cleanup' EXIT
[ -x "$build/bench_conn_client" ] || fail "missing $build/bench_conn_client"

# heap: asks the server for its report; sets bytes and conns
heap() {
    local before after line
    before=$(grep -c '^heap: ' "$work/server.log")
    kill -USR1 "$srv" || fail "the server is gone"
    for _ in $(seq 1 100); do
        after=$(grep -c '^heap: ' "$work/server.log")
        [ "$after" -gt "$before" ] && break
        sleep 0.05
    done
    line=$(grep '^heap: ' "$work/server.log" | tail -n 1)
    [ "$after" -gt "$before" ] || fail "no heap report"
    bytes=$(awk '{ print $2 }' <<<"$line")
    conns=$(awk '{ print $5 }' <<<"$line")
}

# wait_line TEXT: until the client printed TEXT
wait_line() {
    for _ in $(seq 1 300); do
        grep -q "$1" "$work/client.out" 2>/dev/null && return 0
        kill -0 "$client_pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q "$1" "$work/client.out" 2>/dev/null || fail "client: no '$1'"
}

# until the server's connections are all gone (their draining periods)
wait_empty() {
    for _ in $(seq 1 100); do
        heap
        [ "$conns" = 0 ] && return 0
        sleep 0.1
    done
    fail "$conns connections still open on the server"
}

ulimit -n 4096 2>/dev/null
port=$(free_port)
# Without glibc's per-thread cache the report is exact: the blocks a thread keeps cached for
# reuse count as allocated in mallinfo2, and their number drifts from one wave to the next.
GLIBC_TUNABLES=glibc.malloc.tcache_count=0 start_server "$port" -q --alpn h3 --idle-timeout 600000 ||
    fail "tern-server did not start"
heap
base=$bytes
if [ "$base" -lt 65536 ]; then
    # a sanitizer's allocator answers mallinfo2 with zeros: nothing to measure
    echo "conn-memory: SKIP: the server's allocator reports $base bytes (a sanitizer build)"
    exit 77
fi
: >"$work/client.out"
"$build/bench_conn_client" waves "127.0.0.1:$port" "$N" 2 1500 >"$work/client.out" \
    2>"$work/client.err" &
client_pid=$!
closed=()
for w in 1 2; do
    wait_line "wave $w established"
    sleep 0.5 # the last ACKs and HANDSHAKE_DONE settle: only the idle timers remain
    heap
    [ "$conns" = "$N" ] || fail "wave $w: $conns connections on the server, not $N"
    per=$(((bytes - base) / N))
    echo "wave $w: $bytes bytes with $N idle connections, $base before: $per bytes each"
    [ "$per" -le "$PER_CONN_MAX" ] || fail "wave $w: $per bytes per connection (at most $PER_CONN_MAX)"
    wait_line "wave $w closed"
    wait_empty
    echo "wave $w: $bytes bytes after every connection closed"
    [ "$bytes" -le $((base + SLACK)) ] || fail "wave $w: $bytes bytes held after close, $base before"
    closed+=("$bytes")
done
[ "${closed[1]}" -le $((closed[0] + 256)) ] ||
    fail "the second wave left ${closed[1]} bytes, the first ${closed[0]}"
wait "$client_pid" || fail "the client failed"
client_pid=""
echo "conn-memory: PASS"
