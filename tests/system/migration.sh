#!/usr/bin/env bash
# System tests of migration on real kernels: tern-server in one network namespace, tern-client in
# another with two links into it ("wifi" preferred, "cell"; scripts/netns-lib.sh), a download
# whose SHA-256 must match, and a change of the network in the middle of it.
#
# usage: migration.sh BUILD_DIR CASE v4|v6
#   baseline      nothing happens: the harness itself (routes, shaping, hashing) works
#   app-migrate   the application moves to cell (--migrate), then wifi goes down
#   linkdown      manual, a validated cell path added early (--add-local); wifi set down
#   addrdel       manual, the same standby; wifi's address deleted
#   blackhole     manual, the same standby; the server's end of wifi set down: no socket error
#                 (the client's wifi only loses its carrier, which manual mode does not watch)
#   blackhole-route  manual, the same standby; the server's route back to wifi's address becomes a
#                 blackhole: the client's link stays up and nothing at all tells it
#   auto-linkdown automatic (--auto-migrate), both networks there from the start, each with a
#                 default route (wifi's preferred); wifi set down
#   auto-newaddr  automatic, cell has no address at first; one is added during the transfer
#   auto-newaddr-rule  automatic, cell has no address at first; wifi goes down, then cell gets its
#                 address and only after it its source rule (no default route in the main table)
#                 (with its default route), then wifi goes down
# Manual cases keep cell off the main routing table (reachable from its own address only), so
# that a socket on wifi's dead address gets an error rather than a route out of cell.
# Each case must finish the download with the right hash; the cases where wifi dies must end on
# the cell path, and in automatic mode a switch must name a network event as its reason. Prints
# the longest delivery gap the client measured (the stall). Exit 77: skipped, with the reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/netns-lib.sh"

BIN=$1 CASE=$2 FAM=${3:-v4}
SIZE_MB=${SIZE_MB:-12}
RATE=${RATE:-40mbit} # each link, each way
LIMIT=${LIMIT:-25}   # seconds the client may take (the idle timeout is 30 s)

skip() {
    echo "SKIP: $*"
    exit 77
}
ns_require "$BIN"
case $CASE in
baseline | app-migrate | linkdown | addrdel | blackhole | blackhole-route) NS_CELL_DEFAULT=0 ;;
auto-linkdown | auto-newaddr) NS_CELL_DEFAULT=1 ;;
auto-newaddr-rule) NS_CELL_DEFAULT=0 ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac

ns_begin tern-sys "$FAM"
tmp=$NS_TMP
ns_shape wifi "$RATE" >/dev/null && ns_shape cell "$RATE" >/dev/null ||
    skip "the kernel has no tbf qdisc"
case $CASE in auto-newaddr*) ns_cell_del ;; esac
ns_carriers_up

src_sha=$(ns_random_file "$tmp/root/file" "$SIZE_MB")
ns_server "$BIN" "$tmp/root" "$tmp/server.log" -q

opts=()
case $CASE in
app-migrate) opts+=(--migrate "$NS_CELL_IP@3MB") ;;
linkdown | addrdel | blackhole*) opts+=(--add-local "$NS_CELL_IP@0ms") ;;
auto-*) opts+=(--auto-migrate) ;;
esac
ns_c timeout "$LIMIT" "$BIN/tern-client" --insecure --json -o "$tmp/out" "${opts[@]}" \
    "https://$NS_SERVER_HOST:4433/file" >"$tmp/client.json" 2>"$tmp/client.err" &
client=$!

# Waits until the body holds $1 bytes; 1 when the client ended first.
wait_bytes() {
    while [ "$(stat -c %s "$tmp/out" 2>/dev/null || echo 0)" -lt "$1" ]; do
        kill -0 "$client" 2>/dev/null || return 1
        sleep 0.02
    done
}

# the change, a quarter into the transfer (auto-newaddr: the new network first, then the failure)
quarter=$((SIZE_MB * 1024 * 1024 / 4))
what="nothing"
fail_at=0
if [ "$CASE" != baseline ]; then
    if wait_bytes "$quarter"; then
        case $CASE in
        auto-newaddr) ns_cell_add && wait_bytes $((quarter * 2)) ;;
        app-migrate) wait_bytes $((quarter * 2)) ;;
        esac
        fail_at=$(stat -c %s "$tmp/out" 2>/dev/null || echo 0)
        case $CASE in
        addrdel)
            what="wifi address deleted"
            ns_c ip $NS_IPF addr del "$NS_WIFI_IP/$NS_PLEN" dev wifi
            ;;
        blackhole) what="server end of wifi down"; ns_s ip link set s-wifi down ;;
        blackhole-route)
            what="server route to wifi blackholed"
            ns_s ip $NS_IPF route add blackhole "$NS_WIFI_IP/$NS_HOSTLEN"
            ;;
        auto-newaddr-rule)
            what="wifi link down, then the cell address, then its rule"
            ns_c ip link set wifi down
            sleep 0.2
            ns_c ip $NS_IPF addr add "$NS_CELL_IP/$NS_PLEN" dev cell $NS_NODAD
            sleep 0.3 # the monitor has seen the address before its rule exists
            ns_c ip $NS_IPF route replace default via "$(ns_net_ip 2 1)" dev cell table 102
            ns_c ip $NS_IPF rule add from "$NS_CELL_IP" table 102 priority 102
            ;;
        *) what="wifi link down"; ns_c ip link set wifi down ;;
        esac
    else
        echo "the client ended before a quarter of the transfer"
    fi
fi
wait "$client"
rc=$?

fail() {
    echo "FAIL: $CASE $FAM: $*"
    echo "--- client stderr"; tail -n 40 "$tmp/client.err"
    echo "--- client json"; cat "$tmp/client.json"
    echo "--- client routes"; ns_c ip $NS_IPF route; ns_c ip $NS_IPF addr show
    exit 1
}
[ "$rc" -eq 0 ] || fail "tern-client exited with $rc (124: still running after ${LIMIT}s)"
got=$(sha256sum "$tmp/out" | cut -d' ' -f1)
[ "$got" = "$src_sha" ] || fail "sha256 $got, expected $src_sha"
active=$(grep -o '"active_path":{[^}]*}' "$tmp/client.json" || true)
if [ "$CASE" != baseline ]; then
    echo "$active" | grep -qF "\"$NS_CELL_IP:" || echo "$active" | grep -qF "[$NS_CELL_IP]" ||
        fail "the connection did not end on the cell path: $active"
fi
reasons=$(grep -o '"migrations":\[[^]]*\]' "$tmp/client.json" | grep -o '"reason":"[^"]*"' |
    cut -d'"' -f4 | paste -sd, -)
# automatic mode must have followed the OS's news (the network monitor), not only path health
case $CASE in
auto-newaddr-rule)
    # the cell path comes from the address-added event once a lookup finds the rule
    grep -qF '"event":"probing","reason":"new network"' "$tmp/client.json" ||
        fail "the cell path was not opened for the new address (switches: ${reasons:-none})"
    ;;
auto-*)
    echo "$reasons" | grep -qE "interface gone|address gone|network default changed" ||
        fail "no switch driven by a network event (switches: ${reasons:-none})"
    ;;
esac
gap=$(grep -o '"longest_gap_ms":[0-9.]*' "$tmp/client.json" | cut -d: -f2)
echo "ok: $CASE $FAM: $SIZE_MB MB, sha256 matches; change: $what at $fail_at bytes;" \
    "switches: ${reasons:-none}; longest delivery gap ${gap:-?} ms"
