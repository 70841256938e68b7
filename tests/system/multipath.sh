#!/usr/bin/env bash
# System test of multipath QUIC on real kernels: tern-server in one network namespace, tern-client
# in another with two veth links into it (wifi and cell, per-source routing: scripts/netns-lib.sh),
# each shaped to RATE (50 Mbit/s) each way with a token bucket. Both tools run with --multipath.
#
# usage: multipath.sh BUILD_DIR [v4|v6]
#
# Three downloads of SIZE_MB MiB, each checked by SHA-256:
#   1. one link: the client uses wifi only; its rate is the reference
#   2. two links: --add-local of the cell address; the rate must reach at least 1.6x the first
#      (MIN_RATIO, in percent: 160), both paths carrying part of the download
#   3. two links, and wifi's link set down (`ip link set down` at the client) a quarter into the
#      transfer: nothing may be lost
# Cell is reached only from its own address (no default route through it), so that the second
# path runs over cell's link. Exit 77: skipped, with the reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/netns-lib.sh"

BIN=$1 FAM=${2:-v4}
SIZE_MB=${SIZE_MB:-32}
RATE=${RATE:-50mbit}
MIN_RATIO=${MIN_RATIO:-160}
LIMIT=${LIMIT:-20} # seconds one download may take

ns_require "$BIN"
NS_CELL_DEFAULT=0
ns_begin tern-mptest "$FAM"
tmp=$NS_TMP
ns_shape wifi "$RATE" >/dev/null && ns_shape cell "$RATE" >/dev/null ||
    { echo "SKIP: the kernel has no tbf qdisc"; exit 77; }
ns_carriers_up || { echo "FAIL: the links have no carrier"; exit 1; }

src_sha=$(ns_random_file "$tmp/root/file" "$SIZE_MB")
ns_server "$BIN" "$tmp/root" "$tmp/server.log" -q --multipath ||
    { echo "FAIL: tern-server did not start"; cat "$tmp/server.log"; exit 1; }

fail() {
    echo "FAIL: multipath $FAM: $*"
    echo "--- client stderr"; tail -n 30 "$tmp/client.err"
    echo "--- client json"; cut -c1-3000 "$tmp/client.json"
    exit 1
}

# download NAME ARGS...: one download with the client's ARGS; its report stays in $tmp/NAME.json.
# With DOWN_AT set (bytes), wifi's link goes down once the body holds that many.
download() {
    local name=$1 pid rc
    shift
    rm -f "$tmp/out"
    ns_c timeout "$LIMIT" "$BIN/tern-client" --insecure --json -o "$tmp/out" --multipath \
        --local "$NS_WIFI_IP" "$@" "https://$NS_SERVER_HOST:4433/file" \
        >"$tmp/client.json" 2>"$tmp/client.err" &
    pid=$!
    if [ -n "${DOWN_AT:-}" ]; then
        wait_size "$tmp/out" "$DOWN_AT" "$LIMIT" && ns_c ip link set wifi down
    fi
    wait "$pid"
    rc=$?
    cp "$tmp/client.json" "$tmp/$name.json"
    [ "$rc" -eq 0 ] || fail "$name: tern-client exited with $rc (124: still running after ${LIMIT}s)"
    [ "$(sha256sum "$tmp/out" | cut -d' ' -f1)" = "$src_sha" ] || fail "$name: the SHA-256 differs"
    grep -q '"multipath":true' "$tmp/client.json" || fail "$name: multipath was not negotiated"
}

# The report's throughput in Mbit/s.
rate_of() { grep -o '"throughput_mbps":[0-9.]*' "$1" | head -n 1 | cut -d: -f2; }

download one
one=$(rate_of "$tmp/one.json")
download two --add-local "$NS_CELL_IP@0ms"
two=$(rate_of "$tmp/two.json")
ratio=$(awk -v a="$two" -v b="$one" 'BEGIN { printf "%d", (b > 0 ? 100 * a / b : 0) }')
wifi_b=$(ns_path_bytes "$NS_WIFI_IP" "$tmp/two.json")
cell_b=$(ns_path_bytes "$NS_CELL_IP" "$tmp/two.json")
[ "$ratio" -ge "$MIN_RATIO" ] ||
    fail "two links: $two Mbit/s, one link: $one Mbit/s: x$(awk -v r="$ratio" 'BEGIN { print r / 100 }') (at least x$(awk -v r="$MIN_RATIO" 'BEGIN { print r / 100 }') expected); bytes on wifi $wifi_b, on cell $cell_b"
[ "$wifi_b" -gt 0 ] && [ "$cell_b" -gt 0 ] ||
    fail "two links: bytes received on wifi $wifi_b, on cell $cell_b"

DOWN_AT=$((SIZE_MB * 1048576 / 4)) download linkdown --add-local "$NS_CELL_IP@0ms"
gap=$(grep -o '"longest_gap_ms":[0-9.]*' "$tmp/linkdown.json" | cut -d: -f2)

echo "ok: multipath $FAM: $SIZE_MB MiB over links of $RATE: one link $one Mbit/s, two links" \
    "$two Mbit/s (x$(awk -v r="$ratio" 'BEGIN { print r / 100 }'); wifi $wifi_b B, cell $cell_b B);" \
    "wifi down at a quarter: sha256 matches, longest delivery gap ${gap:-?} ms"
