#!/usr/bin/env bash
# System test of path MTU discovery on real kernels: tern-server and tern-client in two network
# namespaces joined by two veth links ("wifi" and "cell", scripts/netns-lib.sh) whose MTUs the
# case sets, a download whose SHA-256 must match, and the MTU each path discovered, from
# tern-client's JSON report, equal to its link's MTU less the IP and UDP headers (28 bytes for
# IPv4, 48 for IPv6).
#
# usage: pmtud.sh BUILD_DIR CASE v4|v6
#   1280, 1500, 9000       one link (wifi) of that MTU
#   migrate-1280           wifi 1500, the client moves to cell (1280) mid-download: the new path
#                          must start small enough and find its own size
#   migrate-9000           wifi 1500, cell 9000: the new path finds jumbo datagrams
# Exit 77: skipped, with the reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/netns-lib.sh"

BIN=$1 CASE=$2 FAM=${3:-v4}
SIZE_MB=${SIZE_MB:-8}
RATE=${RATE:-100mbit}
LIMIT=${LIMIT:-25}

skip() {
    echo "SKIP: $*"
    exit 77
}
ns_require "$BIN"
case $CASE in
1280 | 1500 | 9000) WIFI_MTU=$CASE CELL_MTU=1500 ;;
migrate-1280) WIFI_MTU=1500 CELL_MTU=1280 ;;
migrate-9000) WIFI_MTU=1500 CELL_MTU=9000 ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
NS_CELL_DEFAULT=0

ns_begin tern-pmtud "$FAM"
tmp=$NS_TMP
for l in wifi cell; do
    mtu=$WIFI_MTU
    [ "$l" = cell ] && mtu=$CELL_MTU
    ip -n "$NS_C" link set "$l" mtu "$mtu" && ip -n "$NS_S" link set "s-$l" mtu "$mtu" ||
        skip "veth links refuse an MTU of $mtu"
done
ns_shape wifi "$RATE" >/dev/null && ns_shape cell "$RATE" >/dev/null ||
    skip "the kernel has no tbf qdisc"
ns_carriers_up

src_sha=$(ns_random_file "$tmp/root/file" "$SIZE_MB")
ns_server "$BIN" "$tmp/root" "$tmp/server.log"

opts=()
case $CASE in migrate-*) opts+=(--migrate "$NS_CELL_IP@2MB") ;; esac
ns_c timeout "$LIMIT" "$BIN/tern-client" --insecure --json -o "$tmp/out" "${opts[@]}" \
    "https://$NS_SERVER_HOST:4433/file" >"$tmp/client.json" 2>"$tmp/client.err"
rc=$?

fail() {
    echo "FAIL: $CASE $FAM: $*"
    echo "--- client stderr"; tail -n 40 "$tmp/client.err"
    echo "--- client json"; cat "$tmp/client.json"
    echo "--- server"; tail -n 5 "$tmp/server.log"
    exit 1
}
[ "$rc" -eq 0 ] || fail "tern-client exited with $rc (124: still running after ${LIMIT}s)"
got=$(sha256sum "$tmp/out" | cut -d' ' -f1)
[ "$got" = "$src_sha" ] || fail "sha256 $got, expected $src_sha"
hdr=28
[ "$FAM" = v6 ] && hdr=48

# The "mtu" of the path whose local address is $1 in the client's report.
path_mtu() {
    grep -o '"paths":\[.*\],"active_path"' "$tmp/client.json" | sed 's/},{"id"/}\n{"id"/g' |
        grep -F "\"local\":\"$1" | grep -o '"mtu":[0-9]*' | head -n 1 | cut -d: -f2
}
wifi_local=$NS_WIFI_IP cell_local=$NS_CELL_IP
if [ "$FAM" = v6 ]; then wifi_local="[$NS_WIFI_IP]" cell_local="[$NS_CELL_IP]"; fi
got_wifi=$(path_mtu "$wifi_local:")
[ "$got_wifi" = $((WIFI_MTU - hdr)) ] ||
    fail "the wifi path ($WIFI_MTU-byte link) found ${got_wifi:-no} MTU, not $((WIFI_MTU - hdr))"
summary="wifi $got_wifi"
case $CASE in
migrate-*)
    got_cell=$(path_mtu "$cell_local:")
    [ "$got_cell" = $((CELL_MTU - hdr)) ] ||
        fail "the cell path ($CELL_MTU-byte link) found ${got_cell:-no} MTU, not $((CELL_MTU - hdr))"
    active=$(grep -o '"active_path":{[^}]*}' "$tmp/client.json" || true)
    echo "$active" | grep -qF "$cell_local:" || fail "the connection did not end on cell: $active"
    summary="$summary, cell $got_cell"
    ;;
esac
# the server's view of the path the download ended on, once its connection closed
last_mtu=$WIFI_MTU
case $CASE in migrate-*) last_mtu=$CELL_MTU ;; esac
srv_line=""
for _ in $(seq 1 100); do
    srv_line=$(grep -o 'path MTU [0-9]*, [0-9]* probes ([0-9]* lost), [0-9]* black holes' \
        "$tmp/server.log" | tail -n 1)
    [ -n "$srv_line" ] && break
    sleep 0.05
done
[ "$(echo "$srv_line" | awk '{print $3}' | tr -d ,)" = $((last_mtu - hdr)) ] ||
    fail "the server's last path found '${srv_line:-nothing}', not $((last_mtu - hdr))"
echo "ok: $CASE $FAM: $SIZE_MB MB, sha256 matches; client paths: $summary; server: $srv_line"
