#!/usr/bin/env bash
# tern-server sends hq-interop bodies by reference from the mapped file; a file cut short while it
# is being sent must not bring the server down (reading the lost pages of a mapping raises
# SIGBUS). A 4 GB file is truncated to 1 MB in the middle of its download: the server must live
# on, end that response with a reset (the client fails) and log why, and serve the next request.
#   tests/tools/shrink.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() { echo "shrink: FAIL: $*"; tail -n 5 "$work/server.log"; exit 1; }

truncate -s 4G "$work/www/big.bin" # sparse: read from the page cache, never finished in time
echo small >"$work/www/small.txt"
port=$(free_port)
start_server "$port" --alpn hq-interop || fail "tern-server did not start"
timeout 60 "$build/tern-client" --ca "$work/pki/ca.pem" -q --alpn hq-interop -o "$work/big.out" \
    "https://127.0.0.1:$port/big.bin" >"$work/client.log" 2>&1 &
cli=$!
wait_size "$work/big.out" 4000000 || fail "the download did not start"
truncate -s 1M "$work/www/big.bin"
wait "$cli"
rc=$?
kill -0 "$srv" 2>/dev/null || fail "tern-server died when the file shrank"
[ "$rc" -ne 0 ] || fail "the client reports a complete download of a file that shrank"
grep -q "file changed while being sent" "$work/server.log" || fail "no reset for the shrunk file"
timeout 20 "$build/tern-client" --ca "$work/pki/ca.pem" -q --alpn hq-interop -o "$work/small.out" \
    "https://127.0.0.1:$port/small.txt" >"$work/client2.log" 2>&1 || fail "the next request failed"
cmp -s "$work/www/small.txt" "$work/small.out" || fail "the next body differs"
echo "shrink: PASS (client exit $rc; $(grep -c "file changed while being sent" "$work/server.log") reset)"
