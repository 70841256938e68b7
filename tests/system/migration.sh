#!/usr/bin/env bash
# System tests of migration on real kernels: tern-server in one network namespace, tern-client in
# another with two links into it ("wifi" preferred, "cell"; tests/system/netns-lib.sh), a
# download whose SHA-256 must match, and a change of the network in the middle of it.
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
#                 (with its default route), then wifi goes down
# Manual cases keep cell off the main routing table (reachable from its own address only), so
# that a socket on wifi's dead address gets an error rather than a route out of cell.
# Each case must finish the download with the right hash; the cases where wifi dies must end on
# the cell path, and in automatic mode a switch must name a network event as its reason. Prints
# the longest delivery gap the client measured (the stall). Exit 77: skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns-lib.sh"

BIN=$1 CASE=$2 FAM=${3:-v4}
SIZE_MB=${SIZE_MB:-12}
LIMIT=${LIMIT:-25} # seconds the client may take (the idle timeout is 30 s)
netns_require
for b in tern-server tern-client; do
    [ -x "$BIN/$b" ] || { echo "SKIP: $BIN/$b not built"; exit 77; }
done

case $CASE in
baseline | app-migrate | linkdown | addrdel | blackhole | blackhole-route) netns_setup "$FAM" ;;
auto-linkdown) netns_setup "$FAM" celldefault ;;
auto-newaddr) netns_setup "$FAM" nocell celldefault ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
netns_server "$BIN" "$SIZE_MB" || exit 1

opts=()
case $CASE in
app-migrate) opts+=(--migrate "$CLI_CELL@3MB") ;;
linkdown | addrdel | blackhole*) opts+=(--add-local "$CLI_CELL@0ms") ;;
auto-*) opts+=(--auto-migrate) ;;
esac
url="https://$SRV_URL_HOST:$SRV_PORT/file"
cli timeout "$LIMIT" "$BIN/tern-client" --insecure --json -o "$NETNS_DIR/out" "${opts[@]}" "$url" \
    >"$NETNS_DIR/client.json" 2>"$NETNS_DIR/client.err" &
client=$!

# the change, a quarter into the transfer (auto-newaddr: the new network first, then the failure)
quarter=$((SIZE_MB * 1024 * 1024 / 4))
what="nothing"
fail_at=""
if [ "$CASE" != baseline ]; then
    if netns_wait_bytes "$quarter" "$client"; then
        case $CASE in
        auto-newaddr)
            netns_cell_address
            netns_wait_bytes $((quarter * 2)) "$client"
            ;;
        app-migrate) netns_wait_bytes $((quarter * 2)) "$client" ;;
        esac
        fail_at=$(stat -c %s "$NETNS_DIR/out" 2>/dev/null || echo 0)
        case $CASE in
        addrdel) what="wifi address deleted"; cli ip $IPF addr del "$CLI_WIFI/$PLEN" dev wifi ;;
        blackhole) what="server end of wifi down"; srv ip link set wifi-s down ;;
        blackhole-route)
            what="server route to wifi blackholed"
            srv ip $IPF route add blackhole "$CLI_WIFI/$HOSTLEN"
            ;;
        *) what="wifi link down"; cli ip link set wifi down ;;
        esac
    else
        echo "the client ended before a quarter of the transfer"
    fi
fi
wait "$client"
rc=$?

show() {
    echo "--- client stderr"; tail -n 40 "$NETNS_DIR/client.err"
    echo "--- client json"; cat "$NETNS_DIR/client.json"
    echo "--- client routes"; cli ip $IPF route; cli ip $IPF addr show
}
fail() {
    echo "FAIL: $CASE $FAM: $*"
    show
    exit 1
}
[ "$rc" -eq 0 ] || fail "tern-client exited with $rc (124: still running after ${LIMIT}s)"
got=$(sha256sum "$NETNS_DIR/out" | cut -d' ' -f1)
[ "$got" = "$SRC_SHA" ] || fail "sha256 $got, expected $SRC_SHA"
active=$(grep -o '"active_path":{[^}]*}' "$NETNS_DIR/client.json" || true)
if [ "$CASE" != baseline ]; then
    echo "$active" | grep -qF "\"$CLI_CELL" || echo "$active" | grep -qF "[$CLI_CELL]" ||
        fail "the connection did not end on the cell path: $active"
fi
reasons=$(grep -o '"migrations":\[[^]]*\]' "$NETNS_DIR/client.json" | grep -o '"reason":"[^"]*"' |
    cut -d'"' -f4 | paste -sd, -)
# automatic mode must have followed the OS's news (the network monitor), not only path health
case $CASE in
auto-*)
    echo "$reasons" | grep -qE "interface gone|address gone|network default changed" ||
        fail "no switch driven by a network event (switches: ${reasons:-none})"
    ;;
esac
gap=$(grep -o '"longest_gap_ms":[0-9.]*' "$NETNS_DIR/client.json" | cut -d: -f2)
echo "ok: $CASE $FAM: $SIZE_MB MB, sha256 matches; change: $what at ${fail_at:-0} bytes;" \
     "switches: ${reasons:-none};" \
     "longest delivery gap ${gap:-?} ms"
