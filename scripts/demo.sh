#!/usr/bin/env bash
# The `make demo` run: connection migration during a download. tern-server serves a 200 MiB random
# file on 127.0.0.1; tern-client downloads it over QUIC (HTTP/3) from local address 127.0.0.1 and,
# part way through, probes 127.0.0.2, switches to it, switches to 127.0.0.3 without probing it
# first, then drops 127.0.0.2 and 127.0.0.1. The steps are tied to the amount received, so the
# demo shows the same thing at any speed. While it runs, tern-client prints each path event and a
# table of the paths (redrawn in place on a terminal, plain lines otherwise); at the end comes a
# report: size, time, throughput, SHA-256 match, path switches and the longest stall in delivery.
#
# As root, a second part shows an automatic failover on real links: a client namespace with two
# veth links, "wifi" and "cell" (per-source routing, token-bucket shaped), into a server
# namespace; tern-client runs with --auto-migrate preferring wifi, and the wifi link is taken
# down part way through the download. The live path table shows the move, and the report gives
# the stall: the time from the failure to the first new byte. Without root that part is skipped,
# and the demo says why. The namespaces are always deleted.
# Exits non-zero when a download fails, a hash differs or a scripted step fails.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
server_bin=$build/tern-server
client_bin=$build/tern-client
for b in "$server_bin" "$client_bin"; do
    if [ ! -x "$b" ]; then
        echo "demo: $b not found; build first (make build)" >&2
        exit 1
    fi
done

size_mb=200
# What the client does, by amount received: probe, switch, switch unprobed, drop two addresses.
steps=(--add-local 127.0.0.2@20MB --migrate 127.0.0.2@40MB --migrate 127.0.0.3@80MB
       --remove-local 127.0.0.2@120MB --remove-local 127.0.0.1@140MB)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-demo.XXXXXX")
server_pid=""
# shellcheck source=scripts/netns-lib.sh
. "$here/netns-lib.sh"
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    ns_cleanup
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=scripts/net-lib.sh
. "$(dirname "$0")/net-lib.sh"

# Top-level values of tern-client's JSON report (the first match is the top-level one: the file
# list and the paths come later in the object).
json_num() { { grep -o "\"$1\":[0-9.eE+-]*" "$2" || true; } | head -n 1 | cut -d: -f2; }
json_str() { { grep -o "\"$1\":\"[^\"]*\"" "$2" || true; } | head -n 1 | cut -d'"' -f4; }
# Number of matches of regex $1 in file $2.
count() { { grep -o "$1" "$2" || true; } | wc -l; }

mkdir -p "$tmp/www"
head -c "${size_mb}M" /dev/urandom >"$tmp/www/file.bin"
src_sha=$(sha256sum "$tmp/www/file.bin" | cut -d' ' -f1)
bash "$here/make-cert.sh" "$tmp/pki" >/dev/null

port=$(free_port)
"$server_bin" --listen "127.0.0.1:$port" --root "$tmp/www" --cert "$tmp/pki/cert.pem" \
    --key "$tmp/pki/key.pem" >"$tmp/server.log" 2>&1 &
server_pid=$!
if ! wait_bound "$port" "$server_pid"; then
    echo "demo: tern-server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi

echo "tern demo: connection migration during a $size_mb MiB download over QUIC (HTTP/3, loopback)"
echo "  server  tern-server on 127.0.0.1:$port"
echo "  client  tern-client from 127.0.0.1, and after"
echo "            20 MB  probe 127.0.0.2 (add-local)"
echo "            40 MB  switch to 127.0.0.2 (validated)"
echo "            80 MB  switch to 127.0.0.3 without probing it first"
echo "           120 MB  remove 127.0.0.2"
echo "           140 MB  remove 127.0.0.1"
echo
rc=0
# The client's path events and table go to its stderr, sent to our stdout, so that the table is
# redrawn in place only when we print to a terminal; its JSON report goes to a file.
{
    timeout -k 5 120 "$client_bin" --ca "$tmp/pki/ca.pem" --local 127.0.0.1 "${steps[@]}" \
        --show-paths --json --sha256 -o "$tmp/out.bin" "https://127.0.0.1:$port/file.bin" \
        >"$tmp/result.json"
} 2>&1 || rc=$?
echo
if [ "$rc" -ne 0 ]; then
    echo "  download FAILED (tern-client exit status $rc)"
    [ -s "$tmp/result.json" ] && sed 's/^/  json: /' "$tmp/result.json" | cut -c1-400
    [ -s "$tmp/server.log" ] && sed 's/^/  server: /' "$tmp/server.log" | tail -n 20
    exit 1
fi

bytes=$(json_num bytes "$tmp/result.json")
dur_ms=$(json_num duration_ms "$tmp/result.json")
hs_ms=$(json_num handshake_ms "$tmp/result.json")
gap_ms=$(json_num longest_gap_ms "$tmp/result.json")
gap_at=$(json_num longest_gap_at_ms "$tmp/result.json")
cipher=$(json_str cipher "$tmp/result.json")
alpn=$(json_str alpn "$tmp/result.json")
sent=$(json_num packets_sent "$tmp/result.json")
lost=$(json_num packets_lost "$tmp/result.json")
client_sha=$(json_str sha256 "$tmp/result.json")
# Each switch is one entry of "migrations", the only objects with a "to" member.
switches=$(count '"to":{' "$tmp/result.json")
step_errors=$(count '"error":"[^"]*"' "$tmp/result.json")
final_path=$({ grep -o '"active_path":{[^}]*}' "$tmp/result.json" || true; } |
    sed 's/.*"local":"\([^"]*\)","remote":"\([^"]*\)".*/\1 -> \2/')
changes=$(count 'peer address changed' "$tmp/server.log")
out_sha=$(sha256sum "$tmp/out.bin" | cut -d' ' -f1)
out_bytes=$(stat -c %s "$tmp/out.bin")

echo "result"
awk -v b="$bytes" -v ms="$dur_ms" -v hs="$hs_ms" 'BEGIN {
    s = ms / 1000; if (s <= 0) s = 1e-9
    printf "  size          %d bytes (%.1f MiB)\n", b, b / 1048576
    printf "  time          %.3f s (handshake %.1f ms)\n", s, hs
    printf "  throughput    %.1f MB/s, %.1f Mbit/s\n", b / s / 1e6, b * 8 / s / 1e6
}'
echo "  connection    ${cipher:-?}, ALPN ${alpn:-?}, ${sent:-?} packets sent by the client, ${lost:-?} lost"
echo "  migrations    $switches path switches by the client, $changes peer address changes seen by the server"
echo "  final path    ${final_path:-?}"
awk -v g="${gap_ms:-0}" -v at="${gap_at:-0}" 'BEGIN {
    printf "  longest stall %.1f ms without new data (from %.3f s)\n", g, at / 1000
}'
status=0
if [ "$out_sha" = "$src_sha" ] && [ "$client_sha" = "$src_sha" ] &&
    [ "$out_bytes" = "$bytes" ]; then
    echo "  sha256        match ($src_sha)"
else
    echo "  sha256        MISMATCH"
    echo "    source      $src_sha"
    echo "    file        $out_sha ($out_bytes bytes)"
    echo "    client      ${client_sha:-none}"
    status=1
fi
if [ "$step_errors" -ne 0 ] || [ "$switches" -lt 2 ]; then
    echo "  FAILED: $step_errors scripted step(s) failed, $switches switch(es) instead of 2 or more"
    { grep -o '"actions":.*' "$tmp/result.json" || true; } | sed 's/^/    /' | cut -c1-600
    status=1
fi
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""

# ---- part 2: automatic failover between two real links ----
echo
if [ "$(id -u)" -ne 0 ]; then
    echo "automatic failover: skipped (needs root to create network namespaces and veth links;"
    echo "  run \`sudo make demo\` to see tern move a download from wifi to cell by itself)"
    exit $status
fi
if ! ns_available; then
    echo "automatic failover: skipped (cannot create network namespaces here: ip netns failed)"
    exit $status
fi
fo=$tmp/failover
mkdir -p "$fo"
ns_setup "tern-demo-$$" || { echo "automatic failover: FAILED to set up the namespaces"; exit 1; }
echo "tern demo: automatic failover during a $size_mb MiB download, two links (network namespaces)"
shape_wifi=$(ns_shape wifi 400mbit 5ms) && shape_cell=$(ns_shape cell 200mbit 15ms) ||
    { echo "  cannot shape the links (tc)"; exit 1; }
bash "$here/make-cert.sh" "$fo/pki" "$NS_SERVER_IP" >/dev/null
echo "  client namespace  wifi $NS_WIFI_IP, cell $NS_CELL_IP (routing by source address)"
echo "  links             $shape_wifi; $shape_cell"
echo "  server            tern-server on $NS_SERVER_IP:4433 in the server namespace"
echo "  client            tern-client --auto-migrate --prefer wifi, starting on wifi"
echo "  failure           at 40% of the download: ip link set wifi down"
echo
ip netns exec "$NS_S" "$server_bin" --listen "$NS_SERVER_IP:4433" --root "$tmp/www" \
    --cert "$fo/pki/cert.pem" --key "$fo/pki/key.pem" >"$fo/server.log" 2>&1 &
server_pid=$!
sleep 0.3
NS_CLIENT_BIN=$client_bin
NS_CLIENT_LOG=-
frc=0
ns_transfer "$fo" $((size_mb * 1048576 * 4 / 10)) 'ip -n "$NS_C" link set wifi down' \
    --ca "$fo/pki/ca.pem" --local "$NS_WIFI_IP" --auto-migrate --prefer wifi --show-paths \
    --stall-ms 10 --idle-timeout 10000 "https://$NS_SERVER_IP:4433/file.bin" 2>&1 || frc=$?
echo
echo "result (failover)"
fo_sha=$(sha256sum "$fo/out.bin" 2>/dev/null | cut -d' ' -f1)
fo_bytes=$(stat -c %s "$fo/out.bin" 2>/dev/null || echo 0)
read -r rec_ms rec_ev rec_why <<<"$(ns_recovery "$fo/client.json" "$(cat "$fo/t_fail" 2>/dev/null || echo 0)")"
fo_gap=$(json_num longest_gap_ms "$fo/client.json")
fo_failovers=$(json_num failovers "$fo/client.json")
echo "  received      $fo_bytes of $((size_mb * 1048576)) bytes, tern-client exit status $frc"
echo "  failovers     ${fo_failovers:-?} (switches away from a dead path)"
if [ "$rec_ms" = none ]; then
    echo "  stall         the download never resumed after the failure ($rec_ev $rec_why)"
elif [ "$rec_ms" = - ]; then
    echo "  stall         none of 10 ms or more after the failure"
else
    echo "  stall         $rec_ms ms from the link going down to the first new byte (ended by: $rec_ev, $rec_why)"
fi
echo "  longest gap   ${fo_gap:-?} ms"
if [ "$frc" -eq 0 ] && [ "$fo_sha" = "$src_sha" ]; then
    echo "  sha256        match"
else
    echo "  FAILED: the download did not survive the failover"
    status=1
fi
exit $status
