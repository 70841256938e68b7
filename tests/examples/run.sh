#!/usr/bin/env bash
# Runs one program of examples/ against tern-server on a free loopback port: it must download a
# file and print the SHA-256 the served file has.
#   tests/examples/run.sh BUILD_DIR sansio_client|evloop_client
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/../tools/lib.sh" "$1"
example=$2
fail() { echo "$example: FAIL: $*"; cat "$work/server.log" "$work/client.log" 2>/dev/null | tail -20; exit 1; }

head -c 3000017 /dev/urandom >"$work/www/file.bin"
want=$(sha256sum "$work/www/file.bin" | cut -d' ' -f1)
port=$(free_port)
start_server "$port" -q || fail "tern-server did not start"
out=$(timeout 60 "$build/$example" "127.0.0.1:$port" /file.bin "$work/pki/ca.pem" 2>"$work/client.log")
rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc"
got=${out%% *}
[ "$got" = "$want" ] || fail "SHA-256 $got, the served file has $want"
echo "$example: ok: $(wc -c <"$work/www/file.bin") bytes, SHA-256 $got"
