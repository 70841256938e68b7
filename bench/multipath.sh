#!/usr/bin/env bash
# Multipath benchmark on real links (a benchmark, not a test: it prints figures and never fails on
# them). A client namespace with two veth links, wifi and cell (per-source routing, token-bucket
# shaped, netem delay when the kernel has it), into a server namespace (scripts/netns-lib.sh);
# tern-server --multipath serves a file that tern-client downloads. In one run it measures:
#
#   aggregation  the download over wifi alone, then over wifi and cell at once (--multipath
#                --add-local cell), RUNS times each: the rates and their ratio (two links / one)
#   failover     wifi's link set down (the client's end) part way through the download: the time
#                from the failure to the first new byte delivered (tern-client's stalls, threshold
#                --stall-ms 5), for multipath (both paths in use) against today's single-path
#                migration, with a warm standby (--add-local, failover on the send error) and in
#                automatic mode (--auto-migrate --prefer wifi), and the ratio of the medians
#
# usage: bench/multipath.sh [BUILD_DIR]    (root; RUNS=N repeats each case, default 3;
#        CASES="aggregation failover" runs only those; RATE, WIFI_DELAY, CELL_DELAY, SIZE_MB)
# The client runs on CPU 1 and the server on CPU 0 when taskset and two cores are there.
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=${RUNS:-3}
size_mb=${SIZE_MB:-100}
rate=${RATE:-100mbit}
wifi_delay=${WIFI_DELAY:-5ms} cell_delay=${CELL_DELAY:-10ms}
cases=${CASES:-aggregation failover}
for b in tern-server tern-client; do
    [ -x "$build/$b" ] || { echo "multipath bench: build first (make build): $build/$b missing"; exit 1; }
done
# shellcheck source=scripts/netns-lib.sh
. "$root/scripts/netns-lib.sh"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
if ! ns_available; then
    echo "multipath bench: needs root and network namespaces (ip netns); nothing measured"
    exit 1
fi
bench_pin
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-mp-bench.XXXXXX")
srv=""
# shellcheck disable=SC2317
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    ns_cleanup
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/www"
head -c "${size_mb}M" /dev/urandom >"$tmp/www/file.bin"
bash "$root/scripts/make-cert.sh" "$tmp/pki" "$NS_SERVER_IP" >/dev/null
# ns_transfer runs NS_CLIENT_BIN: a wrapper that pins the client
printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${cli_pin[*]}" "$build/tern-client" >"$tmp/client.sh"
chmod +x "$tmp/client.sh"
NS_CLIENT_BIN=$tmp/client.sh
NS_CLIENT_TIMEOUT=90
url="https://$NS_SERVER_IP:4433/file.bin"
common=(--ca "$tmp/pki/ca.pem" --local "$NS_WIFI_IP" --stall-ms 5 --idle-timeout 15000)
NS_CELL_DEFAULT=0 # cell reached from its own address only: the second path runs over cell

# A fresh pair of namespaces and server for each run.
start_net() {
    ns_cleanup
    ns_setup "tern-mpbench-$$" || return 1
    shaping="$(ns_shape wifi "$rate" "$wifi_delay"); $(ns_shape cell "$rate" "$cell_delay")"
    ip netns exec "$NS_S" "${srv_pin[@]}" "$build/tern-server" --listen "$NS_SERVER_IP:4433" \
        --root "$tmp/www" --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" -q --multipath \
        >"$tmp/server.log" 2>&1 &
    srv=$!
    sleep 0.3
}
stop_net() {
    bench_stop srv
    ns_cleanup
}

num() { grep -o "\"$1\":[0-9.]*" "$2" | head -n 1 | cut -d: -f2; }
# The median of the numbers on the command line ("-" when there is none).
median() {
    printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -n |
        awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
             else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "x%.2f", a / b }'; }

# ---- aggregation ----
if [[ " $cases " == *" aggregation "* ]]; then
    one=() two=() shares=""
    for run in $(seq 1 "$runs"); do
        start_net || { echo "cannot set up the namespaces"; exit 1; }
        ns_transfer "$tmp" 0 : "${common[@]}" --multipath "$url"
        one+=("$(num throughput_mbps "$tmp/client.json")")
        stop_net
        start_net || exit 1
        ns_transfer "$tmp" 0 : "${common[@]}" --multipath --add-local "$NS_CELL_IP@0ms" "$url"
        two+=("$(num throughput_mbps "$tmp/client.json")")
        w=$(ns_path_bytes "$NS_WIFI_IP" "$tmp/client.json") c=$(ns_path_bytes "$NS_CELL_IP" "$tmp/client.json")
        shares+=" $(awk -v w="$w" -v c="$c" 'BEGIN { printf "%.0f/%.0f", (w + c ? 100 * w / (w + c) : 0), (w + c ? 100 * c / (w + c) : 0) }')"
        stop_net
    done
    m1=$(median "${one[@]}") m2=$(median "${two[@]}")
    echo "aggregation: $size_mb MiB download, Mbit/s per run"
    printf '  %-34s %s (median %s)\n' "one link (wifi)" "${one[*]}" "$m1"
    printf '  %-34s %s (median %s)\n' "two links (multipath)" "${two[*]}" "$m2"
    printf '  %-34s %s\n' "wifi/cell share of bytes (%)" "${shares# }"
    printf '  %-34s %s\n' "two links / one" "$(ratio "$m2" "$m1")"
    echo
fi

# ---- failover ----
if [[ " $cases " == *" failover "* ]]; then
    echo "failover: wifi's link down at 30% of the download; failure -> first new byte (ms)"
    declare -A med
    for mode in multipath standby auto; do
        figures=() ended=""
        for run in $(seq 1 "$runs"); do
            start_net || exit 1
            case $mode in
            multipath) opts=(--multipath --add-local "$NS_CELL_IP@0ms") ;;
            standby) opts=(--add-local "$NS_CELL_IP@0ms") ;;
            auto) opts=(--auto-migrate --prefer wifi) ;;
            esac
            ns_transfer "$tmp" $((size_mb * 1048576 * 3 / 10)) \
                'ip -n "$NS_C" link set wifi down' "${common[@]}" "${opts[@]}" "$url"
            read -r ms ev why <<<"$(ns_recovery "$tmp/client.json" "$(cat "$tmp/t_fail" 2>/dev/null || echo 0)")"
            case $ms in
            none) figures+=(never); ended="no recovery: $ev $why" ;;
            -) figures+=("<5") ;;
            *) figures+=("$ms"); ended="$ev ($why)" ;;
            esac
            stop_net
        done
        # a stall under the threshold counts as 5 ms in the median
        vals=()
        for f in "${figures[@]}"; do [ "$f" = "<5" ] && vals+=(5) || vals+=("$f"); done
        med[$mode]=$(median "${vals[@]}")
        title=$mode
        case $mode in
        multipath) title="multipath (both paths in use)" ;;
        standby) title="migration, warm standby" ;;
        auto) title="migration, --auto-migrate" ;;
        esac
        printf '  %-34s %s (median %s)%s\n' "$title" "${figures[*]}" "${med[$mode]}" \
            "${ended:+, ended by $ended}"
    done
    printf '  %-34s %s\n' "multipath / warm standby" "$(ratio "${med[multipath]}" "${med[standby]}")"
    printf '  %-34s %s\n' "multipath / --auto-migrate" "$(ratio "${med[multipath]}" "${med[auto]}")"
    echo
fi
echo "links: ${shaping:-?}; $pin_note"
