#!/usr/bin/env bash
# tern-server sends bodies by reference from the mapped file (hq-interop and HTTP/3); a file cut
# short while it is being sent must not bring the server down (reading the lost pages of a
# mapping raises SIGBUS). A 4 GB file is truncated to 1 MB in the middle of its download: the
# server must live on, end that response with a reset (the client fails) and log it, and serve
# the next request.
#   tests/tools/shrink.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() { echo "shrink: FAIL: $*"; tail -n 5 "$work/server.log"; exit 1; }

echo small >"$work/www/small.txt"
# shrink ALPN: one download of a 4 GB file cut to 1 MB while it is being sent
shrink() {
    local alpn=$1 port cli rc
    truncate -s 4G "$work/www/big.bin" # sparse: read from the page cache, never finished in time
    rm -f "$work/big.out"
    port=$(free_port)
    start_server "$port" --alpn "$alpn" || fail "tern-server did not start"
    timeout 60 "$build/tern-client" --ca "$work/pki/ca.pem" -q --alpn "$alpn" -o "$work/big.out" \
        "https://127.0.0.1:$port/big.bin" >"$work/client.log" 2>&1 &
    cli=$!
    wait_size "$work/big.out" 4000000 || fail "$alpn: the download did not start"
    truncate -s 1M "$work/www/big.bin"
    wait "$cli"
    rc=$?
    kill -0 "$srv" 2>/dev/null || fail "$alpn: tern-server died when the file shrank"
    [ "$rc" -ne 0 ] || fail "$alpn: the client reports a complete download of a file that shrank"
    timeout 20 "$build/tern-client" --ca "$work/pki/ca.pem" -q --alpn "$alpn" \
        -o "$work/small.out" "https://127.0.0.1:$port/small.txt" >"$work/client2.log" 2>&1 ||
        fail "$alpn: the next request failed"
    cmp -s "$work/www/small.txt" "$work/small.out" || fail "$alpn: the next body differs"
    stop_server
    echo "shrink: $alpn: the server lives on, the client failed (exit $rc), the next request works"
}
shrink hq-interop
grep -q "file changed while being sent" "$work/server.log" || fail "hq-interop: no reset for the shrunk file"
shrink h3
grep -q "response aborted" "$work/server.log" || fail "h3: the shrunk file's response was not aborted"
echo "shrink: PASS"
