#!/usr/bin/env bash
# Bulk-download throughput over loopback: tern (tern-server/tern-client) against ngtcp2's Debian
# example tools (gtlsserver/gtlsclient), both speaking HTTP/3, same file, same machine, same run.
# HTTP/3 on both sides keeps the comparison fair: the framing and QPACK work is the same.
# Each side downloads the file RUNS times; the median wall-clock time of the client process is
# reported, every downloaded copy is checked against the source SHA-256.
#
# Two cases by default: "clean" (plain loopback, SIZE_MB) and "loss+reorder" (a 10 MiB file
# through bench_udp_impair between client and server, losing 3% of the datagrams each way and
# holding 5% back by 1-5 ms, the same seed for both sides); "loss" and "reorder" run each
# impairment alone, to tell which one costs.
#
# usage: bench/throughput.sh BUILD_DIR
# environment: RUNS (default 3), SIZE_MB (default 200), ONLY=tern|ngtcp2 (run one side),
#              CASES="clean loss+reorder" (default; "loss" and "reorder" run each impairment
#              alone), TIMEOUT seconds per download
#              (default 120), TERN_ALPN=h3|hq-interop (default h3)
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
runs=${RUNS:-3}
size_mb=${SIZE_MB:-200}
only=${ONLY:-}
limit=${TIMEOUT:-120}
tern_alpn=${TERN_ALPN:-h3}
cases=${CASES:-clean loss+reorder}
impair=$build/bench_udp_impair
here=$(cd "$(dirname "$0")" && pwd)
tern_server=$build/tern-server
tern_client=$build/tern-client

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

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench_pin

mkdir -p "$tmp/www" "$tmp/dl"
bash "$here/../scripts/make-cert.sh" "$tmp/pki" || exit 1

declare -A times status impaired

# run_side NAME: starts the side's server (behind the proxy when $proxy_args is set), downloads
# RUNS times, records times and status.
run_side() {
    local name=$1 port cport i t0 t1 rc got out log why
    port=$(free_port)
    cport=$port
    log=$tmp/$name-server.log
    case $name in
    tern)
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
    for i in $(seq 1 "$runs"); do
        rm -f "$tmp/dl/"*
        t0=$(now_ns)
        case $name in
        tern)
            out=$tmp/dl/file.bin
            timeout -k 5 "$limit" "${cli_pin[@]}" "$tern_client" --ca "$tmp/pki/ca.pem" -q \
                --alpn "$tern_alpn" -o "$out" "https://127.0.0.1:$cport/file.bin" \
                >"$tmp/$name-client.log" 2>&1
            rc=$?
            ;;
        ngtcp2)
            out=$tmp/dl/file.bin
            timeout -k 5 "$limit" "${cli_pin[@]}" gtlsclient -q --exit-on-all-streams-close \
                --download "$tmp/dl" 127.0.0.1 "$cport" "https://127.0.0.1:$cport/file.bin" \
                >"$tmp/$name-client.log" 2>&1
            rc=$?
            ;;
        esac
        t1=$(now_ns)
        if [ "$rc" -ne 0 ]; then
            why=$(tail -n 3 "$tmp/$name-client.log" | tr '\n' ' ')
            status[$name]="client failed in run $i (exit $rc): $why"
            stop_server
            return 1
        fi
        got=$(sha256sum "$out" 2>/dev/null | cut -d' ' -f1)
        if [ "$got" != "$src_sha" ]; then
            got=$(stat -c %s "$out" 2>/dev/null || echo 0)
            status[$name]="sha256 mismatch in run $i ($got bytes)"
            stop_server
            return 1
        fi
        times[$name]+="$(( (t1 - t0) / 1000000 )) "
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

# run_case LABEL SIZE_MB PROXY_ARGS: both sides download the same file.
run_case() {
    local label=$1 mb=$2 side med
    proxy_args=$3
    rm -f "$tmp/www/file.bin"
    head -c "${mb}M" /dev/urandom >"$tmp/www/file.bin"
    bytes=$(stat -c %s "$tmp/www/file.bin")
    src_sha=$(sha256sum "$tmp/www/file.bin" | cut -d' ' -f1)
    rate=()
    echo "$label: loopback download of a ${mb} MiB file, $runs runs per side," \
        "median wall-clock ($pin_note)"
    for side in tern ngtcp2; do
        if [ -n "$only" ] && [ "$only" != "$side" ]; then
            continue
        fi
        if [ "$side" = tern ] && { [ ! -x "$tern_server" ] || [ ! -x "$tern_client" ]; }; then
            status[$side]="$tern_server or $tern_client missing (build first)"
        elif [ "$side" = ngtcp2 ] && ! command -v gtlsserver >/dev/null 2>&1; then
            status[$side]="gtlsserver/gtlsclient missing (packages ngtcp2-server, ngtcp2-client)"
        elif [ -n "$proxy_args" ] && [ ! -x "$impair" ]; then
            status[$side]="$impair missing (build first)"
        else
            run_side "$side"
        fi
        local name="$side"
        [ "$side" = tern ] && name=$(printf 'tern   (%-10s)' "$([ "$tern_alpn" = h3 ] && echo HTTP/3 || echo "$tern_alpn")")
        [ "$side" = ngtcp2 ] && name="ngtcp2 (HTTP/3    )"
        if [ "${status[$side]}" != ok ]; then
            echo "  $name FAILED: ${status[$side]}"
            failed=1
            continue
        fi
        # shellcheck disable=SC2086
        med=$(median ${times[$side]})
        rate[$side]=$(awk -v b="$bytes" -v ms="$med" 'BEGIN { printf "%.1f", b / (ms / 1000) / 1e6 }')
        awk -v l="$name" -v t="${times[$side]}" -v ms="$med" -v r="${rate[$side]}" 'BEGIN {
            printf "  %s runs [ %s] ms   median %.3f s   %s MB/s (%.0f Mbit/s)   sha256 ok\n",
                   l, t, ms / 1000, r, r * 8
        }'
        [ -n "$proxy_args" ] && echo "      proxy, all runs: ${impaired[$side]}"
    done
    if [ -n "${rate[tern]:-}" ] && [ -n "${rate[ngtcp2]:-}" ]; then
        awk -v a="${rate[tern]}" -v b="${rate[ngtcp2]}" \
            'BEGIN { printf "  ratio tern/ngtcp2: %.2f\n", (b > 0 ? a / b : 0) }'
    fi
}

failed=0
declare -A rate
for c in $cases; do
    case $c in
    clean) run_case "clean" "$size_mb" "" ;;
    loss+reorder)
        run_case "3% loss + 5% reordered by 1-5 ms each way" 10 \
            "--loss 0.03 --reorder 0.05 --delay-min-us 1000 --delay-max-us 5000 --seed 7"
        ;;
    loss) run_case "3% loss each way" 10 "--loss 0.03 --seed 7" ;;
    reorder)
        run_case "5% reordered by 1-5 ms each way" 10 \
            "--reorder 0.05 --delay-min-us 1000 --delay-max-us 5000 --seed 7"
        ;;
    *) echo "unknown case $c" >&2; failed=1 ;;
    esac
done
exit $failed
