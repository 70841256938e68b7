#!/usr/bin/env bash
# QUIC versions over loopback with the tools: v2 end to end; a client that begins in v1 and offers
# v2, moved to v2 by a server that prefers it (compatible negotiation); a client that prefers v2
# towards a v1-only server (Version Negotiation, then v1); no common version (an error, no
# download). Every download is checked by the SHA-256 of its bytes, the version by the client's
# --json report and the server's connected line; bad --quic-version values are refused.
#   tests/tools/versions.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() {
    echo "versions: FAIL: $*"
    for f in client.json client.log server.log; do
        [ -f "$work/$f" ] && { echo "--- $f"; cut -c1-600 "$work/$f"; }
    done
    exit 1
}

head -c 700000 /dev/urandom >"$work/www/f.bin"
want=$(sha256sum "$work/www/f.bin" | cut -d' ' -f1)

# case NAME "SERVER ARGS" "CLIENT ARGS" VERSION: the download works in VERSION ("v1", "v2").
case_ok() {
    local name=$1 sargs=$2 cargs=$3 version=$4 port json
    port=$(free_port)
    # shellcheck disable=SC2086
    start_server "$port" $sargs || fail "$name: tern-server did not start"
    # shellcheck disable=SC2086
    timeout 20 "$build/tern-client" --ca "$work/pki/ca.pem" --json --sha256 -q $cargs \
        "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.log" ||
        fail "$name: tern-client failed"
    json=$(cat "$work/client.json")
    grep -q '"ok":true' <<<"$json" || fail "$name: the report says not ok"
    grep -q "\"sha256\":\"$want\"" <<<"$json" || fail "$name: wrong SHA-256"
    grep -q "\"quic_version\":\"$version\"" <<<"$json" || fail "$name: not $version"
    stop_server
    grep -q "connected: ALPN h3, [A-Z0-9-]*, QUIC $version\$" "$work/server.log" ||
        fail "$name: the server did not connect in $version"
    echo "versions: $name: $version, SHA-256 ok"
}

case_ok v2 "--quic-version 2" "--quic-version 2" v2
case_ok compatible "--quic-version 2 --quic-version 1" "--quic-version 1 --quic-version 2" v2
case_ok server-prefers-v1 "--quic-version 1 --quic-version 2" "--quic-version 1 --quic-version 2" v1
case_ok vn-to-v1 "--quic-version 1" "--quic-version 2 --quic-version 1" v1
case_ok default "" "" v1

# No common version: Version Negotiation ends the attempt, with the error named.
port=$(free_port)
start_server "$port" --quic-version 1 || fail "tern-server did not start"
timeout 20 "$build/tern-client" --ca "$work/pki/ca.pem" --json -q --quic-version 2 \
    "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.log"
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "no common version: exit status $rc"
grep -qi 'version' "$work/client.json" "$work/client.log" || fail "no common version: no word of it"
stop_server
echo "versions: no common version: refused (exit $rc)"

for bad in 3 0 v2 "2 --quic-version 2"; do
    # shellcheck disable=SC2086
    "$build/tern-client" --quic-version $bad https://127.0.0.1:1/ >/dev/null 2>&1
    [ $? -eq 2 ] || fail "tern-client accepted --quic-version $bad"
    # shellcheck disable=SC2086
    "$build/tern-server" --listen 127.0.0.1:0 --root "$work/www" --quic-version $bad \
        >/dev/null 2>&1
    [ $? -eq 2 ] || fail "tern-server accepted --quic-version $bad"
done
echo "versions: bad --quic-version values refused"
