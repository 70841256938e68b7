#!/usr/bin/env bash
# Many connections on one server, over loopback: what tern-server holds per idle established
# connection (and ngtcp2's gtlsserver for comparison, with the same client), whether it gives
# the memory back once they closed, wave after wave, and handshakes per second on one core for
# both servers, with and without Retry (tern-server --retry, gtlsserver -V).
#
# The client is bench_conn_client (bench/conn_client.c, the public API only): one process, one
# endpoint, a socket per connection, ALPN h3 (or $ALPN), no request. The server runs pinned on CPU 0, the
# client on CPU 1. Memory is read from /proc: RSS, and the heap (the Rss of [heap] and of every
# anonymous mapping, where malloc's arenas and large blocks live) after each wave is established
# and after it closed.
#
# The handshake rate depends on how busy the machine is; what the server spends is read from
# /proc too (user + system time during the rate run), so each rate line also gives handshakes per
# CPU-second of the server: what one core sustains, comparable between runs on a loaded machine.
#
# usage: bench/connections.sh BUILD_DIR
# environment: CONNS="1000 10000" (connections per wave, one server run each), WAVES (3),
#              HOLD_MS (3000: how long each wave stays open, and the pause after it closed),
#              RATE_SECONDS (5), PARALLEL (16 handshakes in flight), ONLY=tern|ngtcp2,
#              BASE=DIR (another build, e.g. of an older commit: its tern-server is measured in
#              the same run as side "base", with this build's client), PHASES ("memory rate"),
#              ALPN (h3; hq-interop measures the transport without HTTP/3's state: the client
#              opens no stream, and gtlsserver, which speaks h3 only, is left out)
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
conns_list=${CONNS:-1000 10000}
waves=${WAVES:-3}
hold_ms=${HOLD_MS:-3000}
rate_seconds=${RATE_SECONDS:-5}
parallel=${PARALLEL:-16}
only=${ONLY:-}
base=${BASE:-}
phases=${PHASES:-memory rate}
alpn=${ALPN:-h3}
export BENCH_ALPN=$alpn
here=$(cd "$(dirname "$0")" && pwd)
client=$build/bench_conn_client
tern_server=$build/tern-server
base_server=${base:+$base/tern-server}
for f in "$client" "$tern_server" $base_server; do
    [ -x "$f" ] || { echo "missing $f (make build)" >&2; exit 2; }
done
have_ngtcp2=1
command -v gtlsserver >/dev/null 2>&1 || have_ngtcp2=0
[ "$alpn" = h3 ] || have_ngtcp2=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-connbench.XXXXXX")
server_pid=""
client_pid=""
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
stop_server() { bench_stop client_pid server_pid; }
bench_traps
# shellcheck source=scripts/net-lib.sh
. "$here/../scripts/net-lib.sh"
bench_pin
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p "$tmp/www"
bash "$here/../scripts/make-cert.sh" "$tmp/pki" >/dev/null || exit 1

# mem PID: "RSS_KB HEAP_KB"
mem() {
    local rss heap
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    heap=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { anon = ($6 == "" || $6 == "[heap]") }
                anon && /^Rss:/ { kb += $2 }
                END { print kb + 0 }' "/proc/$1/smaps" 2>/dev/null)
    echo "${rss:-0} ${heap:-0}"
}

# start_server SIDE RETRY: starts it on a free port (sets port, server_pid); 1 when it did not.
start_server() {
    local side=$1 retry=$2 log=$tmp/$1-server.log
    port=$(free_port)
    case $side in
    tern | base)
        local opt=() bin=$tern_server
        [ "$side" = base ] && bin=$base_server
        [ "$retry" = 1 ] && opt=(--retry)
        "${srv_pin[@]}" "$bin" --listen "127.0.0.1:$port" --root "$tmp/www" \
            --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" --alpn "$alpn" \
            --idle-timeout 600000 -q "${opt[@]}" >"$log" 2>&1 &
        ;;
    ngtcp2)
        local opt=()
        [ "$retry" = 1 ] && opt=(-V)
        "${srv_pin[@]}" gtlsserver -q --timeout=600s "${opt[@]}" -d "$tmp/www" 127.0.0.1 \
            "$port" "$tmp/pki/key.pem" "$tmp/pki/cert.pem" >"$log" 2>&1 &
        ;;
    esac
    server_pid=$!
    if ! wait_bound "$port" "$server_pid"; then
        echo "$side server did not start: $(tail -n 3 "$log" | tr '\n' ' ')" >&2
        bench_stop server_pid
        return 1
    fi
}

# wait_line FILE TEXT: until FILE has a line with TEXT (0), or the client ended (1).
wait_line() {
    while ! grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$client_pid" 2>/dev/null || { grep -q "$2" "$1" 2>/dev/null; return $?; }
        sleep 0.1
    done
}

sides=()
[ "$only" != ngtcp2 ] && sides+=(tern)
[ "$only" != ngtcp2 ] && [ -n "$base" ] && sides+=(base)
[ "$only" != tern ] && [ $have_ngtcp2 = 1 ] && sides+=(ngtcp2)

# cpu_ticks PID: user + system time so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

if [[ " $phases " == *" memory "* ]]; then
echo "== memory per idle established connection ($pin_note; $waves waves, held ${hold_ms} ms)"
printf '%-7s %6s %5s %12s %12s %12s %12s %12s\n' server conns wave "heap_open_KB" "per_conn_B" \
    "rss_per_B" "heap_closed" "rss_closed"
for side in "${sides[@]}"; do
    for n in $conns_list; do
        start_server "$side" 0 || continue
        sleep 0.3
        read -r rss0 heap0 <<<"$(mem "$server_pid")"
        out=$tmp/$side-$n-client.out
        : >"$out"
        "${cli_pin[@]}" "$client" waves "127.0.0.1:$port" "$n" "$waves" "$hold_ms" >"$out" \
            2>"$tmp/$side-$n-client.err" &
        client_pid=$!
        for w in $(seq 1 "$waves"); do
            if ! wait_line "$out" "wave $w established"; then
                echo "$side $n: wave $w not established: $(tail -n 2 "$tmp/$side-$n-client.err" | tr '\n' ' ')"
                break
            fi
            sleep 1
            read -r rss heap <<<"$(mem "$server_pid")"
            wait_line "$out" "wave $w closed" || break
            # the client is done once its CONNECTION_CLOSE left; the server still drains for
            # three PTOs and gives memory back at most once a second (tools/server/trim.h)
            sleep 2
            read -r rssc heapc <<<"$(mem "$server_pid")"
            printf '%-7s %6s %5s %12s %12s %12s %12s %12s\n' "$side" "$n" "$w" "$heap" \
                $(((heap - heap0) * 1024 / n)) $(((rss - rss0) * 1024 / n)) "$heapc" "$rssc"
        done
        wait "$client_pid" 2>/dev/null
        client_pid=""
        echo "        (before any connection: heap ${heap0} KB, RSS ${rss0} KB)"
        bench_stop server_pid
    done
done
fi

[[ " $phases " == *" rate "* ]] || exit 0
echo
echo "== handshakes per second, server on one core ($pin_note; $parallel in flight, ${rate_seconds} s)"
echo "   (per_cpu_s: handshakes per CPU-second the server used, what one busy core would sustain)"
declare -A rate percpu
for retry in 0 1; do
    for side in "${sides[@]}"; do
        start_server "$side" "$retry" || continue
        t0=$(cpu_ticks "$server_pid")
        line=$("${cli_pin[@]}" "$client" rate "127.0.0.1:$port" "$rate_seconds" "$parallel" \
            2>"$tmp/$side-rate.err")
        t1=$(cpu_ticks "$server_pid")
        rate[$side,$retry]=$(awk '{ print $6 }' <<<"$line")
        hs=$(awk '{ print $2 }' <<<"$line")
        percpu[$side,$retry]=$(awk -v h="${hs:-0}" -v d=$((t1 - t0)) -v hz="$hz" \
            'BEGIN { printf "%.0f", (d > 0 ? h * hz / d : 0) }')
        printf '%-7s retry=%s  %s  server_cpu_s %.2f per_cpu_s %s\n' "$side" "$retry" \
            "${line:-failed: $(tail -n 1 "$tmp/$side-rate.err")}" \
            "$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { print d / hz }')" "${percpu[$side,$retry]}"
        bench_stop server_pid
    done
done
for retry in 0 1; do
    for side in tern base; do
        t=${rate[$side,$retry]:-} g=${rate[ngtcp2,$retry]:-}
        tc=${percpu[$side,$retry]:-} gc=${percpu[ngtcp2,$retry]:-}
        if [ -n "$t" ] && [ -n "$g" ]; then
            awk -v t="$t" -v g="$g" -v tc="$tc" -v gc="$gc" -v r="$retry" -v s="$side" \
                'BEGIN { printf "%s/ngtcp2 handshakes, retry=%s: rate %.2f, per CPU-second %.2f\n",
                         s, r, (g > 0 ? t / g : 0), (gc > 0 ? tc / gc : 0) }'
        fi
    done
done
