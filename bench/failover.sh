#!/usr/bin/env bash
# Failover benchmark on real links (a benchmark, not a test: it prints figures and never fails on
# them). A client namespace with two veth links, wifi and cell (per-source routing, token-bucket
# shaped), into a server namespace (scripts/netns-lib.sh); tern-client downloads a file from
# tern-server and, part way through, the wifi path fails. For each case it prints the time from
# the failure to the first new byte delivered, with what ended the stall, next to the target
# "1 PTO of the active path + 1 RTT of the standby" (srtt(wifi) + max_ack_delay + srtt(cell):
# a lower bound of that sum, since the PTO's variance term is not in the report):
#
#   link down     ip link set wifi down (the client's end)
#   address gone  the wifi address deleted
#   blackhole     the server's route back to the wifi address blackholed: nothing on the
#                 client reports anything, only path health can tell
#   new address   automatic mode only: cell has no address at first; wifi goes down and cell
#                 gets its address at the same moment (no standby can exist before the failure)
#
# each with a warm standby (manual mode, --add-local of the cell address at the start, validated
# long before the failure) and in automatic mode (--auto-migrate --prefer wifi: tern chooses its
# standby paths itself). Last, the effect of cached path state: wifi -> cell -> back to wifi by
# --migrate, and the rate each switch reaches in its first 250 ms, as a fraction of the rate of
# the same path later (cell is new when the client moves there; wifi was used a moment before).
#
# usage: bench/failover.sh [BUILD_DIR]      (root; RUNS=N repeats each case, default 3;
#        CASES="link-down blackhole cache" runs only those; KEEP=1 keeps every report)
# Prints which cases could not run. The netem qdisc (delay) is used when the kernel has it.
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=${RUNS:-3}
size_mb=${SIZE_MB:-200}
for b in tern-server tern-client; do
    [ -x "$build/$b" ] || { echo "failover bench: build first (make build): $build/$b missing"; exit 1; }
done
# shellcheck source=scripts/netns-lib.sh
. "$root/scripts/netns-lib.sh"
if ! ns_available; then
    echo "failover bench: needs root and network namespaces (ip netns); nothing measured"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-failover-bench.XXXXXX")
srv=""
# shellcheck disable=SC2317
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    ns_cleanup
    if [ -n "${KEEP:-}" ]; then echo "reports kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/www"
head -c "${size_mb}M" /dev/urandom >"$tmp/www/file.bin"
bash "$root/scripts/make-cert.sh" "$tmp/pki" "$NS_SERVER_IP" >/dev/null
NS_CLIENT_BIN=$build/tern-client
NS_CLIENT_TIMEOUT=90
url="https://$NS_SERVER_IP:4433/file.bin"
common=(--ca "$tmp/pki/ca.pem" --local "$NS_WIFI_IP" --stall-ms 5 --idle-timeout 15000)
wifi_rate=${WIFI_RATE:-400mbit} cell_rate=${CELL_RATE:-200mbit}
wifi_delay=${WIFI_DELAY:-5ms} cell_delay=${CELL_DELAY:-15ms}

# A fresh pair of namespaces and server for each run (nocell: cell without its address).
start_net() {
    ns_cleanup
    ns_setup "tern-fobench-$$" || return 1
    [ "${1:-}" = nocell ] && ns_cell_del
    shaping="$(ns_shape wifi "$wifi_rate" "$wifi_delay"); $(ns_shape cell "$cell_rate" "$cell_delay")"
    ip netns exec "$NS_S" "$build/tern-server" --listen "$NS_SERVER_IP:4433" --root "$tmp/www" \
        --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" -q >"$tmp/server.log" 2>&1 &
    srv=$!
    sleep 0.3
}
stop_net() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    wait "$srv" 2>/dev/null
    srv=""
    ns_cleanup
}

# srtt in ms of the path whose local address is on IP $1, in report $2.
path_srtt() {
    grep -o "{\"id\":[0-9]*,\"local\":\"${1//./\\.}:[0-9]*\"[^]]*" "$2" | head -n 1 |
        sed -n 's/.*"srtt_ms":\([0-9.]*\).*/\1/p'
}

fail_action() {
    case $1 in
    link-down) echo 'ip -n "$NS_C" link set wifi down' ;;
    addr-gone) echo 'ip -n "$NS_C" addr del "$NS_WIFI_IP/24" dev wifi' ;;
    blackhole) echo 'ip -n "$NS_S" route add blackhole "$NS_WIFI_IP/32"' ;;
    new-address)
        echo 'ip -n "$NS_C" link set wifi down; NS_CELL_DEFAULT=0 ns_cell_add' ;;
    esac
}

printf '%-12s %-26s %-36s %s\n' case mode "failure -> first new byte (each run)" "target, ended by"
declare -A titles=([standby]="manual, warm standby" [auto]="automatic (--auto-migrate)")
cases=${CASES:-link-down addr-gone blackhole new-address cache}
for kase in link-down addr-gone blackhole new-address; do
    [[ " $cases " == *" $kase "* ]] || continue
    for mode in standby auto; do
        [ "$kase" = new-address ] && [ "$mode" = standby ] && continue
        figures="" target="" ended=""
        for run in $(seq 1 "$runs"); do
            if [ "$kase" = new-address ]; then start_net nocell; else start_net; fi || {
                echo "cannot set up the namespaces"; exit 1; }
            opts=("${common[@]}")
            if [ "$mode" = standby ]; then
                opts+=(--add-local "$NS_CELL_IP@0ms")
            else
                opts+=(--auto-migrate --prefer wifi)
            fi
            ns_transfer "$tmp" $((size_mb * 1048576 * 3 / 10)) "$(fail_action "$kase")" \
                "${opts[@]}" "$url"
            read -r ms ev why <<<"$(ns_recovery "$tmp/client.json" "$(cat "$tmp/t_fail" 2>/dev/null || echo 0)")"
            if [ "$ms" = none ]; then
                figures+=" never"
                ended="no recovery: $ev $why"
            elif [ "$ms" = - ]; then
                figures+=" <5"
            else
                figures+=" $ms"
                ended="$ev ($why)"
                sw=$(path_srtt "$NS_WIFI_IP" "$tmp/client.json")
                sc=$(path_srtt "$NS_CELL_IP" "$tmp/client.json")
                [ -n "$sw" ] && [ -n "$sc" ] &&
                    target=$(awk -v w="$sw" -v c="$sc" 'BEGIN { printf ">= %.1f", w + 25 + c }')
            fi
            cp "$tmp/client.json" "$tmp/$kase-$mode-$run.json"
            stop_net
        done
        [[ $figures == *[0-9]* ]] && figures+=" ms"
        printf '%-12s %-26s %-36s %s\n' "$kase" "${titles[$mode]}" "${figures# }" \
            "${target:-?} ms, ${ended:-?}"
    done
done

# ---- cached path state: the rate right after a switch ----
[[ " $cases " == *" cache "* ]] || exit 0
echo
echo "rate in the first 250 ms after a switch, against the same path from 250 ms to 1 s after it"
printf '%-34s %s\n' switch "first 250 ms / 250 ms-1 s (Mbit/s), each run"
to_cell="" back=""
for run in $(seq 1 "$runs"); do
    start_net || exit 1
    ns_transfer "$tmp" 0 : "${common[@]}" --add-local "$NS_CELL_IP@0ms" \
        --migrate "$NS_CELL_IP@40MB" --migrate "$NS_WIFI_IP@80MB" "$url"
    cp "$tmp/client.json" "$tmp/cache-$run.json"
    rates=$(grep -o '"migrations":\[.*' "$tmp/client.json" |
        grep -o '"rate_first_250ms_mbps":[0-9.]*,"rate_250ms_to_1s_mbps":[0-9.]*' |
        sed 's/"rate_first_250ms_mbps"://; s/,"rate_250ms_to_1s_mbps":/ /')
    r1=$(sed -n 1p <<<"$rates")
    r2=$(sed -n 2p <<<"$rates")
    [ -n "$r1" ] && to_cell+=" $(awk -v a="${r1% *}" -v b="${r1#* }" 'BEGIN { printf "%.0f/%.0f (%.0f%%)", a, b, (b > 0 ? 100 * a / b : 0) }')"
    [ -n "$r2" ] && back+=" $(awk -v a="${r2% *}" -v b="${r2#* }" 'BEGIN { printf "%.0f/%.0f (%.0f%%)", a, b, (b > 0 ? 100 * a / b : 0) }')"
    stop_net
done
printf '%-34s %s\n' "wifi -> cell (a new path)" "${to_cell# }"
printf '%-34s %s\n' "cell -> wifi (used 1 s before)" "${back# }"
echo
echo "links: $shaping; $size_mb MiB download, failure at 30%; tern-client --stall-ms 5"
echo "target: 1 PTO of wifi + 1 RTT of cell, shown as srtt(wifi) + 25 ms (max_ack_delay) + srtt(cell)"
