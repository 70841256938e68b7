#!/usr/bin/env bash
# tern-server --max-udp-payload caps path MTU discovery: over loopback (65536-byte MTU) a download
# arrives in datagrams of up to 8972 bytes by default, and of at most the cap with it; values
# outside 1200..65527 are refused.
#   tests/tools/udp-payload.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() {
    echo "udp-payload: FAIL: $*"
    for f in client.json client.err server.log; do
        [ -f "$work/$f" ] && { echo "--- $f"; cut -c1-400 "$work/$f"; }
    done
    exit 1
}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

head -c 4000000 /dev/urandom >"$work/www/f.bin"
sum=$(sha256sum "$work/www/f.bin" | cut -d' ' -f1)

for bad in 1199 65528 x; do
    if "$build/tern-server" --max-udp-payload "$bad" >/dev/null 2>"$work/bad.err"; then
        fail "--max-udp-payload $bad accepted"
    fi
    grep -q "bad --max-udp-payload" "$work/bad.err" || fail "no message for $bad: $(cat "$work/bad.err")"
done

# run SERVER_FLAGS KIND N: over the path that carried the download, the mean UDP payload the client
# received is at most N and above 3/4 of it (KIND "capped"), or above N (KIND "grown": discovery
# went past N)
run() {
    local port
    port=$(free_port)
    # shellcheck disable=SC2086
    start_server "$port" -q $1 || fail "tern-server did not start ($1)"
    timeout 30 "$build/tern-client" -q --json --sha256 --ca "$work/pki/ca.pem" \
        "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.err" ||
        fail "the client failed (server '$1')"
    "$py" - "$work/client.json" "$sum" "$2" "$3" <<'PY' || fail "report (server '$1')"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["files"][0]["sha256"] == sys.argv[2], r
kind, n = sys.argv[3], int(sys.argv[4])
p = max(r["paths"], key=lambda q: q["bytes_received"])
avg = p["bytes_received"] / p["packets_received"]
# the bulk of 4 MB comes in full datagrams; ACK-sized and handshake packets only lower the mean
if kind == "capped":
    assert avg <= n, "mean payload %.0f above the cap %d" % (avg, n)
    assert avg > n * 0.75, "mean payload %.0f: the path did not reach the cap %d" % (avg, n)
else:
    assert avg > n, "mean payload %.0f, not above %d" % (avg, n)
print("%s: mean payload %.0f bytes over %d packets" % (kind, avg, p["packets_received"]))
PY
    stop_server
}
run "" grown 2000
run "--max-udp-payload 1350" capped 1350
run "--max-udp-payload 1200" capped 1200
echo "udp-payload: PASS"
