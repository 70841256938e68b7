#!/usr/bin/env bash
# Bulk-download throughput over loopback, tern against ngtcp2's Debian example tools
# (gtlsserver/gtlsclient), same file, same machine, same run, two cases by default:
#
# - "library": the transport on its own. bench_tput_client (the public API only, hq-interop,
#   reads into a 64 KiB buffer and throws the bytes away) from tern-server, beside gtlsclient
#   without --download (it discards the body) from gtlsserver. The byte count is checked.
# - "tools": the shipped tools as a user runs them, writing the file: tern-client -o FILE (HTTP/3,
#   or TERN_ALPN=hq-interop) from tern-server, beside gtlsclient --download from gtlsserver. Every
#   copy is checked against the source's SHA-256 (after the timed run).
#
# Server on CPU 0, client on CPU 1 (taskset). Each side downloads RUNS times; the report gives the
# median wall-clock time of the client process and the rate, the fixed cost of a download (the
# median wall-clock time of RUNS downloads of a 1-byte file: process start, handshake, request,
# first byte, close and exit) and the rate of the transfer once that is taken out (file size over
# the difference of the medians), and the CPU time each process spent
# per byte of the file (the client's from perf stat's task-clock, or GNU time when perf is
# missing; the server's from /proc/PID/schedstat before and after the run), then the ratios
# tern/ngtcp2 of the rates and ngtcp2/tern of the CPU per byte (above 1: tern costs less). On a
# busy machine the CPU figures are the steadier ones: waiting for a core counts in wall-clock
# time only.
#
# Optional impaired cases run the tools through bench_udp_impair between client and server
# (10 MiB, same seed for both sides): "loss+reorder" (3% of the datagrams lost each way, 5% held
# back by 1-5 ms), "loss" and "reorder" (each alone).
#
# usage: bench/throughput.sh BUILD_DIR
# environment: RUNS (default 5), SIZE_MB (default 200), ONLY=tern|ngtcp2 (one side),
#              CASES="library tools" (default; add loss+reorder, loss, reorder),
#              TIMEOUT seconds per download (default 120), TERN_ALPN=h3|hq-interop for the
#              tools case (default h3), BASE=BUILD_DIR (another build of tern, e.g. of the
#              previous commit, measured as a third side "base" in the same run)
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
runs=${RUNS:-5}
size_mb=${SIZE_MB:-200}
only=${ONLY:-}
limit=${TIMEOUT:-120}
tern_alpn=${TERN_ALPN:-h3}
cases=${CASES:-library tools}
impair=$build/bench_udp_impair
here=$(cd "$(dirname "$0")" && pwd)
tern_server=$build/tern-server
tern_client=$build/tern-client
tern_bench=$build/bench_tput_client
base=${BASE:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench.XXXXXX")
server_pid=""
proxy_pid=""
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
stop_server() { bench_stop proxy_pid server_pid; }
bench_traps

# shellcheck source=scripts/net-lib.sh
. "$(dirname "$0")/../scripts/net-lib.sh"

now_ns() { date +%s%N; }

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# proc_cpu_ns PID: CPU time (user + system) of every thread of PID so far, in ns.
proc_cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# timed_client OUT_FILE CMD...: runs CMD on the client's core and writes its CPU time (ns) to
# OUT_FILE. Returns CMD's status.
if command -v perf >/dev/null 2>&1 && perf stat -x, -e task-clock -o /dev/null true 2>/dev/null; then
    timed_client() {
        local out=$1 rc
        shift
        perf stat -x, -e task-clock -o "$out.perf" "${cli_pin[@]}" "$@"
        rc=$?
        # task-clock in ms, with a fraction
        awk -F, '$3 == "task-clock" || $3 ~ /^task-clock/ { printf "%.0f\n", $1 * 1e6 }' \
            "$out.perf" >"$out"
        return $rc
    }
    cpu_note="client CPU from perf stat task-clock"
else
    timed_client() {
        local out=$1 rc
        shift
        /usr/bin/time -f '%U %S' -o "$out.time" "${cli_pin[@]}" "$@"
        rc=$?
        awk 'END { printf "%.0f\n", ($1 + $2) * 1e9 }' "$out.time" >"$out"
        return $rc
    }
    cpu_note="client CPU from GNU time (10 ms resolution)"
fi

bench_pin

mkdir -p "$tmp/www" "$tmp/dl"
bash "$here/../scripts/make-cert.sh" "$tmp/pki" || exit 1

declare -A times ccpu scpu status impaired fixed

# run_side NAME KIND: starts the side's server (behind the proxy when $proxy_args is set),
# downloads RUNS times with the client of KIND (library or tools), records times, CPU and status.
run_side() {
    local name=$1 kind=$2 port cport i t0 t1 s0 s1 rc got out log why
    local tern_server=$tern_server tern_client=$tern_client tern_bench=$tern_bench
    if [ "$name" = base ]; then
        tern_server=$base/tern-server tern_client=$base/tern-client tern_bench=$base/bench_tput_client
    fi
    port=$(free_port)
    cport=$port
    log=$tmp/$name-server.log
    case $name in
    tern | base)
        "${srv_pin[@]}" "$tern_server" --listen "127.0.0.1:$port" --root "$tmp/www" \
            --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" -q >"$log" 2>&1 &
        ;;
    ngtcp2)
        "${srv_pin[@]}" gtlsserver -q -d "$tmp/www" 127.0.0.1 "$port" \
            "$tmp/pki/key.pem" "$tmp/pki/cert.pem" >"$log" 2>&1 &
        ;;
    esac
    server_pid=$!
    if ! wait_bound "$port" "$server_pid"; then
        status[$name]="server did not start ($(tail -n 3 "$log" | tr '\n' ' '))"
        stop_server
        return 1
    fi
    if [ -n "$proxy_args" ]; then
        cport=$(free_port)
        # shellcheck disable=SC2086 # the options are words
        "$impair" "$cport" "$port" $proxy_args 2>"$tmp/$name-proxy.log" &
        proxy_pid=$!
        if ! wait_bound "$cport" "$proxy_pid"; then
            status[$name]="proxy did not start"
            stop_server
            return 1
        fi
    fi
    times[$name]=""
    ccpu[$name]=""
    scpu[$name]=""
    local clog=$tmp/$name-client.log
    # download FILE: the side's client fetches /FILE into $tmp/dl/FILE (the library clients
    # discard it), output in $clog, its CPU time in $tmp/cpu
    download() {
        local url="https://127.0.0.1:$cport/$1"
        case ${name/base/tern}/$kind in
        tern/library)
            timed_client "$tmp/cpu" timeout -k 5 "$limit" "$tern_bench" "127.0.0.1:$cport" \
                "/$1" "$tmp/pki/ca.pem" >"$clog" 2>&1
            ;;
        tern/tools)
            timed_client "$tmp/cpu" timeout -k 5 "$limit" "$tern_client" --ca "$tmp/pki/ca.pem" \
                -q --alpn "$tern_alpn" -o "$tmp/dl/$1" "$url" >"$clog" 2>&1
            ;;
        ngtcp2/library)
            timed_client "$tmp/cpu" timeout -k 5 "$limit" gtlsclient -q \
                --exit-on-all-streams-close 127.0.0.1 "$cport" "$url" >"$clog" 2>&1
            ;;
        ngtcp2/tools)
            timed_client "$tmp/cpu" timeout -k 5 "$limit" gtlsclient -q \
                --exit-on-all-streams-close --download "$tmp/dl" 127.0.0.1 "$cport" "$url" \
                >"$clog" 2>&1
            ;;
        esac
    }
    fixed[$name]=""
    for i in $(seq 1 "$runs"); do
        rm -f "$tmp/dl/"*
        t0=$(now_ns)
        download one.bin
        rc=$?
        t1=$(now_ns)
        if [ "$rc" -ne 0 ]; then
            status[$name]="client failed on the 1-byte file in run $i (exit $rc): $(tail -n 3 "$clog" | tr '\n' ' ')"
            stop_server
            return 1
        fi
        fixed[$name]+="$(((t1 - t0) / 1000)) "
    done
    for i in $(seq 1 "$runs"); do
        rm -f "$tmp/dl/"*
        out=$tmp/dl/file.bin
        s0=$(proc_cpu_ns "$server_pid")
        t0=$(now_ns)
        download file.bin
        rc=$?
        t1=$(now_ns)
        s1=$(proc_cpu_ns "$server_pid")
        if [ "$rc" -ne 0 ]; then
            why=$(tail -n 3 "$clog" | tr '\n' ' ')
            status[$name]="client failed in run $i (exit $rc): $why"
            stop_server
            return 1
        fi
        case ${name/base/tern}/$kind in
        tern/library)
            got=$(awk '$1 == "bytes" { print $2 }' "$clog")
            if [ "$got" != "$bytes" ]; then
                status[$name]="$got bytes of $bytes in run $i"
                stop_server
                return 1
            fi
            ;;
        ngtcp2/library) ;; # gtlsclient only reports failures
        *)
            got=$(sha256sum "$out" 2>/dev/null | cut -d' ' -f1)
            if [ "$got" != "$src_sha" ]; then
                got=$(stat -c %s "$out" 2>/dev/null || echo 0)
                status[$name]="sha256 mismatch in run $i ($got bytes)"
                stop_server
                return 1
            fi
            ;;
        esac
        times[$name]+="$(((t1 - t0) / 1000000)) "
        ccpu[$name]+="$(cat "$tmp/cpu") "
        scpu[$name]+="$((s1 - s0)) "
    done
    stop_server
    if [ -n "$proxy_args" ]; then
        # both sides must cross the proxy (an address typo would measure plain loopback)
        impaired[$name]=$(grep '^udp_impair:' "$tmp/$name-proxy.log" | sed 's/^udp_impair: //')
        if [ -z "${impaired[$name]}" ] || grep -q 'to client 0 passed' "$tmp/$name-proxy.log"; then
            status[$name]="the download did not cross the proxy (${impaired[$name]})"
            return 1
        fi
    fi
    status[$name]=ok
    return 0
}

# run_case LABEL KIND SIZE_MB PROXY_ARGS: both sides download the same file.
run_case() {
    local label=$1 kind=$2 mb=$3 side med name
    proxy_args=$4
    rm -f "$tmp/www/file.bin"
    head -c "${mb}M" /dev/urandom >"$tmp/www/file.bin"
    head -c 1 /dev/urandom >"$tmp/www/one.bin"
    bytes=$(stat -c %s "$tmp/www/file.bin")
    src_sha=$(sha256sum "$tmp/www/file.bin" | cut -d' ' -f1)
    local -A rate cns sns
    echo "$label: loopback download of a ${mb} MiB file, $runs runs per side, medians"
    echo "  ($pin_note; $cpu_note, server CPU from /proc/PID/schedstat)"
    local sides="tern ngtcp2"
    [ -n "$base" ] && sides="tern base ngtcp2"
    for side in $sides; do
        if [ -n "$only" ] && [ "$only" != "$side" ]; then
            continue
        fi
        if [ "$side" = tern ] && { [ ! -x "$tern_server" ] || [ ! -x "$tern_client" ] ||
            [ ! -x "$tern_bench" ]; }; then
            status[$side]="$tern_server, $tern_client or $tern_bench missing (build first)"
        elif [ "$side" = base ] && { [ ! -x "$base/tern-server" ] || [ ! -x "$base/tern-client" ] ||
            [ ! -x "$base/bench_tput_client" ]; }; then
            status[$side]="tern-server, tern-client or bench_tput_client missing in $base"
        elif [ "$side" = ngtcp2 ] && ! command -v gtlsserver >/dev/null 2>&1; then
            status[$side]="gtlsserver/gtlsclient missing (packages ngtcp2-server, ngtcp2-client)"
        elif [ -n "$proxy_args" ] && [ ! -x "$impair" ]; then
            status[$side]="$impair missing (build first)"
        else
            run_side "$side" "$kind"
        fi
        case $side/$kind in
        tern/library) name="tern   bench_tput_client, hq-interop, discards" ;;
        base/library) name="base   ($base) bench_tput_client, hq-interop, discards" ;;
        base/*) name="base   ($base) tern-client -o, $([ "$tern_alpn" = h3 ] && echo HTTP/3 || echo "$tern_alpn")" ;;
        tern/*) name="tern   tern-client -o, $([ "$tern_alpn" = h3 ] && echo HTTP/3 || echo "$tern_alpn"), sha256 ok" ;;
        ngtcp2/library) name="ngtcp2 gtlsclient, HTTP/3, discards" ;;
        ngtcp2/*) name="ngtcp2 gtlsclient --download, HTTP/3, sha256 ok" ;;
        esac
        if [ "${status[$side]}" != ok ]; then
            echo "  $name: FAILED: ${status[$side]}"
            failed=1
            continue
        fi
        # shellcheck disable=SC2086
        med=$(median ${times[$side]})
        rate[$side]=$(awk -v b="$bytes" -v ms="$med" 'BEGIN { printf "%.1f", b / (ms / 1000) / 1e6 }')
        # shellcheck disable=SC2086
        cns[$side]=$(awk -v b="$bytes" -v ns="$(median ${ccpu[$side]})" 'BEGIN { printf "%.3f", ns / b }')
        # shellcheck disable=SC2086
        sns[$side]=$(awk -v b="$bytes" -v ns="$(median ${scpu[$side]})" 'BEGIN { printf "%.3f", ns / b }')
        # shellcheck disable=SC2086
        fx=$(median ${fixed[$side]})
        echo "  $name"
        awk -v t="${times[$side]}" -v ms="$med" -v r="${rate[$side]}" -v c="${cns[$side]}" \
            -v s="${sns[$side]}" -v fx="$fx" -v b="$bytes" 'BEGIN {
            printf "    wall [ %s] ms   median %.3f s   %.1f MB/s   %.2f Gbit/s\n", t, ms / 1000, r, r * 8 / 1000
            x = ms - fx / 1000
            printf "    fixed cost (1-byte download) median %.1f ms; transfer without it %s\n", fx / 1000,
                   (x > 0 ? sprintf("%.1f MB/s, %.2f Gbit/s", b / x / 1000, b / x / 1000 * 8 / 1000) : "n/a")
            printf "    CPU per byte: client %.3f ns/B (%.0f MB/s of CPU)   server %.3f ns/B (%.0f MB/s of CPU)\n",
                   c, (c > 0 ? 1000 / c : 0), s, (s > 0 ? 1000 / s : 0)
        }'
        [ -n "$proxy_args" ] && echo "    proxy, all runs: ${impaired[$side]}"
    done
    if [ -n "${rate[tern]:-}" ] && [ -n "${rate[ngtcp2]:-}" ]; then
        awk -v a="${rate[tern]}" -v b="${rate[ngtcp2]}" -v ct="${cns[tern]}" -v cn="${cns[ngtcp2]}" \
            -v st="${sns[tern]}" -v sn="${sns[ngtcp2]}" 'BEGIN {
            printf "  ratio tern/ngtcp2: wall-clock rate %.2f   CPU per byte (ngtcp2/tern): client %.2f, server %.2f\n",
                   (b > 0 ? a / b : 0), (ct > 0 ? cn / ct : 0), (st > 0 ? sn / st : 0)
        }'
    fi
    if [ -n "${rate[base]:-}" ] && [ -n "${rate[ngtcp2]:-}" ]; then
        awk -v a="${rate[base]}" -v b="${rate[ngtcp2]}" -v ct="${cns[base]}" -v cn="${cns[ngtcp2]}" \
            -v st="${sns[base]}" -v sn="${sns[ngtcp2]}" 'BEGIN {
            printf "  ratio base/ngtcp2: wall-clock rate %.2f   CPU per byte (ngtcp2/base): client %.2f, server %.2f\n",
                   (b > 0 ? a / b : 0), (ct > 0 ? cn / ct : 0), (st > 0 ? sn / st : 0)
        }'
    fi
}

failed=0
for c in $cases; do
    case $c in
    library) run_case "library" library "$size_mb" "" ;;
    tools | clean) run_case "tools" tools "$size_mb" "" ;;
    loss+reorder)
        run_case "tools, 3% loss + 5% reordered by 1-5 ms each way" tools 10 \
            "--loss 0.03 --reorder 0.05 --delay-min-us 1000 --delay-max-us 5000 --seed 7"
        ;;
    loss) run_case "tools, 3% loss each way" tools 10 "--loss 0.03 --seed 7" ;;
    reorder)
        run_case "tools, 5% reordered by 1-5 ms each way" tools 10 \
            "--reorder 0.05 --delay-min-us 1000 --delay-max-us 5000 --seed 7"
        ;;
    *) echo "unknown case $c" >&2; failed=1 ;;
    esac
done
exit $failed
