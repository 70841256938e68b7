#!/usr/bin/env bash
# A migration as the wire shows it: tern-server and tern-client, both with --keylog, in a fresh
# network namespace whose loopback has segmentation and receive offloads off (so that the capture
# holds the datagrams as sent, not GSO super-packets), tcpdump on lo during a download in which the
# client adds a second address, moves there and removes the first, then moves to a third address
# without probing it first and removes the second, with a key update in the middle. The
# capture is decrypted by tshark with the client's key log, and again with the server's (the two
# decodes must be the same), and tests/system/wire_check.py checks what docs/migration.md
# promises: a fresh peer CID per path, padded PATH_CHALLENGE/PATH_RESPONSE, each response on the
# arrival path, RETIRE_CONNECTION_ID on removal, and the rest the capture can show.
#
# usage: capture.sh BUILD_DIR [v4|v6]   (root; exit 77: skipped, with the reason)
#   v4: the server on 127.0.0.1, the client from 127.0.0.1, then 127.0.0.2, then 127.0.0.3
#   v6: the server on ::1, the client from ::1, then fd7e::2, then fd7e::3 (added to lo)
set -u
BIN=$1 FAM=${2:-v4}
if [ "$FAM" = v6 ]; then
    SERVER=::1 IPS=(::1 fd7e::2 fd7e::3) HOST="[::1]"
else
    SERVER=127.0.0.1 IPS=(127.0.0.1 127.0.0.2 127.0.0.3) HOST=127.0.0.1
fi
here=$(cd "$(dirname "$0")" && pwd)
SIZE_KB=${SIZE_KB:-6144}
PORT=4433 # the namespace is ours alone
SENTINEL=4434 # datagrams that show the capture has begun

skip() {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root to create a network namespace and capture on it"
for c in ip ethtool tcpdump tshark python3 ss sha256sum timeout; do
    command -v "$c" >/dev/null 2>&1 || skip "needs $c"
done
for b in tern-server tern-client; do
    [ -x "$BIN/$b" ] || skip "$BIN/$b not built"
done

ns="tern-cap-$$-$RANDOM"
tmp=$(mktemp -d "/tmp/tern-cap-$$.XXXXXX")
srv_pid="" cap_pid=""
cleanup() {
    [ -n "$cap_pid" ] && stop "$cap_pid"
    [ -n "$srv_pid" ] && stop "$srv_pid"
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
    echo "FAIL: $*"
    for f in client.err server.log capture.err; do
        [ -s "$tmp/$f" ] && { echo "--- $f"; tail -n 30 "$tmp/$f"; }
    done
    exit 1
}
in_ns() { ip netns exec "$ns" "$@"; }
# stop PID: SIGTERM (the capture then writes out what it holds), SIGKILL after 5 s
stop() {
    kill "$1" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
ip -n "$ns" link set lo up
in_ns ethtool -K lo tx-udp-segmentation off gso off gro off >/dev/null 2>&1
if [ "$FAM" = v6 ]; then
    for a in "${IPS[@]:1}"; do
        ip -n "$ns" -6 addr add "$a/128" dev lo nodad || skip "cannot add $a to the namespace's lo"
    done
fi
offloads=$(in_ns ethtool -k lo)
for feature in tx-udp-segmentation generic-segmentation-offload generic-receive-offload; do
    grep -q "^[[:space:]]*$feature: off" <<<"$offloads" ||
        skip "cannot turn $feature off on the namespace's lo"
done

mkdir -p "$tmp/root"
head -c "$((SIZE_KB * 1024))" /dev/urandom >"$tmp/root/file"
src_sha=$(sha256sum "$tmp/root/file" | cut -d' ' -f1)

# tcpdump -U writes each packet out at once, so the sentinel datagrams below show when the capture
# has begun ("listening on" can come before the socket receives); they are left out of the decode
ip netns exec "$ns" tcpdump -U -n -i lo -B 65536 -s 0 -w "$tmp/cap.pcap" \
    "udp port $PORT or udp port $SENTINEL" 2>"$tmp/capture.err" &
cap_pid=$!
ready=0
for _ in $(seq 1 200); do
    kill -0 "$cap_pid" 2>/dev/null || break
    in_ns bash -c "echo ready >/dev/udp/$SERVER/$SENTINEL" 2>/dev/null || true
    sleep 0.05
    [ "$(stat -c %s "$tmp/cap.pcap" 2>/dev/null || echo 0)" -gt 24 ] && { ready=1; break; }
done
[ "$ready" = 1 ] || fail "tcpdump captured nothing in 10 s: $(head -c 300 "$tmp/capture.err")"

ip netns exec "$ns" "$BIN/tern-server" --listen "$HOST:$PORT" --root "$tmp/root" -q \
    --keylog "$tmp/server.keys" >"$tmp/server.log" 2>&1 &
srv_pid=$!
for _ in $(seq 1 100); do
    in_ns ss -Haun "sport = :$PORT" | grep -q . && break
    sleep 0.05
done

# the second address added at 1/8 of the body, the move there at 2/8, the first removed at 3/8,
# a move to the third (not probed first) at 4/8, the second removed at 5/8, a key update at 6/8
e=$((SIZE_KB / 8))
in_ns timeout 20 "$BIN/tern-client" --insecure --local "${IPS[0]}" --json -o "$tmp/out" \
    --keylog "$tmp/client.keys" --add-local "${IPS[1]}@${e}KB" --migrate "${IPS[1]}@$((2 * e))KB" \
    --remove-local "${IPS[0]}@$((3 * e))KB" --migrate "${IPS[2]}@$((4 * e))KB" \
    --remove-local "${IPS[1]}@$((5 * e))KB" --key-update "$((6 * e))K" \
    "https://$HOST:$PORT/file" >"$tmp/client.json" 2>"$tmp/client.err"
rc=$?
sleep 0.2 # the last acknowledgements
stop "$cap_pid"
cap_pid=""
stop "$srv_pid"
srv_pid=""

[ "$rc" -eq 0 ] || fail "tern-client exited with $rc"
[ "$(sha256sum "$tmp/out" | cut -d' ' -f1)" = "$src_sha" ] || fail "the body's SHA-256 differs"
dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$tmp/capture.err")
[ "$dropped" = 0 ] || fail "the capture is incomplete: $(tr '\n' ' ' <"$tmp/capture.err")"

fields=()
for f in $(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import wire_check
print(" ".join(wire_check.FIELD_NAMES))' "$here"); do
    fields+=(-e "$f")
done
decode() {
    tshark -r "$tmp/cap.pcap" -d "udp.port==$PORT,quic" -Y "udp.port==$PORT" -o "tls.keylog_file:$1" -T fields \
        -E separator=/t "${fields[@]}" 2>"$tmp/tshark.err"
}
decode "$tmp/client.keys" >"$tmp/fields.client" || fail "tshark: $(head -c 300 "$tmp/tshark.err")"
decode "$tmp/server.keys" >"$tmp/fields.server" || fail "tshark: $(head -c 300 "$tmp/tshark.err")"
cmp -s "$tmp/fields.client" "$tmp/fields.server" ||
    fail "the client's and the server's key logs decode the capture differently"

python3 "$here/wire_check.py" "$tmp/fields.client" "$SERVER" "$PORT" 8 "${IPS[@]}" ||
    fail "the wire broke a promise of docs/migration.md (above)"
echo "ok: $FAM: $(wc -l <"$tmp/fields.client") datagrams captured and decrypted, $SIZE_KB KB, sha256 matches"
