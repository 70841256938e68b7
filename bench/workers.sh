#!/usr/bin/env bash
# Scaling a server over cores: tern-server with 1 and 2 workers (--workers, docs/scaling.md), and
# ngtcp2's gtlsserver (one process, one thread) as the peer, measured in the same run with the
# same clients (tern-client over HTTP/3), on loopback:
#   handshakes  PAR client loops at once, each running tern-client for a 1 KB file (a full
#               handshake, one request) until CONNS connections in all: connections per second
#   throughput  PAR clients at once, each downloading a SIZE_MB file: aggregate MB/s
# Every download is checked against the file's SHA-256. The servers run on the first
# cores, the clients on the others (taskset); with fewer than 4 cores the clients share the
# servers' cores and the figures say so.
#
# usage: bench/workers.sh BUILD_DIR
# environment: PAR (default 4), CONNS (default 200), SIZE_MB (default 50), ONLY=tern|ngtcp2
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
par=${PAR:-4}
conns=${CONNS:-200}
size_mb=${SIZE_MB:-50}
only=${ONLY:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-workers.XXXXXX")
server_pid=""
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
stop_server() { bench_stop server_pid; }
bench_traps
# shellcheck source=scripts/net-lib.sh
. "$here/../scripts/net-lib.sh"

ncpu=$(nproc)
have_taskset=0
command -v taskset >/dev/null 2>&1 && have_taskset=1

# pin_for WORKERS: sets srv_pin / cli_pin (command prefixes) and pin_note
pin_for() {
    local w=$1
    srv_pin=()
    cli_pin=()
    pin_note="not pinned"
    [ "$have_taskset" = 1 ] || return
    if [ "$ncpu" -ge $((w + 2)) ]; then
        srv_pin=(taskset -c "0-$((w - 1))")
        cli_pin=(taskset -c "$w-$((ncpu - 1))")
        pin_note="server on CPUs 0-$((w - 1)), clients on $w-$((ncpu - 1))"
    else
        srv_pin=(taskset -c "0-$((w - 1))")
        pin_note="server on CPUs 0-$((w - 1)), clients unpinned: only $ncpu CPUs, clients and server contend"
    fi
}

mkdir -p "$tmp/www"
bash "$here/../scripts/make-cert.sh" "$tmp/pki" >/dev/null || exit 1
head -c 1024 /dev/urandom >"$tmp/www/small.bin"
head -c "${size_mb}M" /dev/urandom >"$tmp/www/big.bin"
small_sha=$(sha256sum "$tmp/www/small.bin" | cut -d' ' -f1)
big_sha=$(sha256sum "$tmp/www/big.bin" | cut -d' ' -f1)

# start SIDE WORKERS: the server on a free port (sets port, server_pid)
start() {
    local side=$1 w=$2
    port=$(free_port)
    pin_for "$w"
    case $side in
    tern)
        "${srv_pin[@]}" "$build/tern-server" --listen "127.0.0.1:$port" --root "$tmp/www" \
            --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" -q --workers "$w" \
            >"$tmp/server.log" 2>&1 &
        ;;
    ngtcp2)
        "${srv_pin[@]}" gtlsserver -q -d "$tmp/www" 127.0.0.1 "$port" "$tmp/pki/key.pem" \
            "$tmp/pki/cert.pem" >"$tmp/server.log" 2>&1 &
        ;;
    esac
    server_pid=$!
    wait_bound "$port" "$server_pid"
}

# fetch FILE SHA: one tern-client run; 0 when the body has the file's hash
fetch() {
    "${cli_pin[@]}" "$build/tern-client" --sha256 --ca "$tmp/pki/ca.pem" "https://127.0.0.1:$port/$1" \
        2>/dev/null | grep -q "$2"
}

# loop_fetch N: N sequential small fetches; prints failures
loop_fetch() {
    local bad=0
    for _ in $(seq 1 "$1"); do fetch small.bin "$small_sha" || bad=$((bad + 1)); done
    echo "$bad"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

declare -A hs tput
measure() {
    local side=$1 w=$2 label=$3 t0 t1 i bad=0 per=$((conns / par))
    if ! start "$side" "$w"; then
        echo "  $label: server did not start ($(tail -2 "$tmp/server.log"))"
        return 1
    fi
    t0=$(now_ms)
    for i in $(seq 1 "$par"); do loop_fetch "$per" >"$tmp/loop$i" & done
    wait $(jobs -p | grep -v "^$server_pid$")
    t1=$(now_ms)
    for i in $(seq 1 "$par"); do bad=$((bad + $(cat "$tmp/loop$i"))); done
    hs[$label]=$(awk -v n=$((per * par)) -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", n / (ms / 1000) }')
    t0=$(now_ms)
    local pids=()
    for i in $(seq 1 "$par"); do
        (fetch big.bin "$big_sha" || echo bad >"$tmp/bigfail$i") &
        pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(now_ms)
    ls "$tmp"/bigfail* >/dev/null 2>&1 && bad=$((bad + $(ls "$tmp"/bigfail* | wc -l)))
    rm -f "$tmp"/bigfail*
    tput[$label]=$(awk -v b=$((par * size_mb * 1048576)) -v ms=$((t1 - t0)) \
        'BEGIN { printf "%.1f", b / (ms / 1000) / 1e6 }')
    stop_server
    printf '  %-22s %8s connections/s   %8s MB/s aggregate   %s   %s\n' "$label" "${hs[$label]}" \
        "${tput[$label]}" "$([ "$bad" = 0 ] && echo "sha256 ok" || echo "$bad FAILED")" "$pin_note"
}

echo "tern-server workers: $par clients at once; $conns handshakes (1 KB file each), then a" \
    "${size_mb} MiB download per client; $ncpu CPUs"
if [ "$only" != ngtcp2 ]; then
    measure tern 1 "tern, 1 worker"
    measure tern 2 "tern, 2 workers"
fi
if [ "$only" != tern ]; then
    if command -v gtlsserver >/dev/null 2>&1; then
        measure ngtcp2 1 "ngtcp2 gtlsserver"
    else
        echo "  ngtcp2: gtlsserver missing (package ngtcp2-server)"
    fi
fi
if [ -n "${hs[tern, 1 worker]:-}" ] && [ -n "${hs[tern, 2 workers]:-}" ]; then
    awk -v a="${hs[tern, 2 workers]}" -v b="${hs[tern, 1 worker]}" -v c="${tput[tern, 2 workers]}" \
        -v d="${tput[tern, 1 worker]}" 'BEGIN {
        printf "  2 workers / 1 worker: handshakes %.2f, throughput %.2f\n", a / b, c / d }'
fi
if [ -n "${hs[tern, 2 workers]:-}" ] && [ -n "${hs[ngtcp2 gtlsserver]:-}" ]; then
    awk -v a="${hs[tern, 2 workers]}" -v b="${hs[ngtcp2 gtlsserver]}" \
        -v c="${tput[tern, 2 workers]}" -v d="${tput[ngtcp2 gtlsserver]}" 'BEGIN {
        printf "  tern 2 workers / ngtcp2: handshakes %.2f, throughput %.2f\n", a / b, c / d }'
fi
