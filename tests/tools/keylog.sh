#!/usr/bin/env bash
# The tools' --keylog FILE and GnuTLS's SSLKEYLOGFILE: after a download both files hold the
# handshake and application traffic secrets of the connection in the NSS key log format, under one
# client random, the client's lines equal to the server's; --keylog appends (a second connection
# adds its lines after the first's) and creates the file readable by its owner only; a key log file
# that cannot be opened is an error before anything is sent.
#   tests/tools/keylog.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() {
    echo "keylog: FAIL: $*"
    for f in server.keys client.keys env.keys client.log server.log; do
        [ -f "$work/$f" ] && { echo "--- $f"; cut -c1-160 "$work/$f"; }
    done
    exit 1
}
labels="CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0
SERVER_TRAFFIC_SECRET_0"

# nth_conn FILE N: the client random of FILE's N-th connection (its N-th
# CLIENT_HANDSHAKE_TRAFFIC_SECRET line).
nth_conn() {
    grep '^CLIENT_HANDSHAKE_TRAFFIC_SECRET ' "$1" | sed -n "${2}p" | cut -d' ' -f2
}

# check_conn FILE CRAND: FILE has every label of connection CRAND once, well formed.
check_conn() {
    local label count
    [ -n "$2" ] || fail "$1: no such connection"
    for label in $labels; do
        count=$(grep -cE "^$label $2 [0-9a-f]{64}([0-9a-f]{32})?\$" "$1")
        [ "$count" -eq 1 ] || fail "$1: $count well-formed $label lines for $2"
    done
}

# same_lines A B CRAND: the four traffic secrets of connection CRAND are equal in files A and B.
same_lines() {
    local label
    for label in $labels; do
        [ "$(grep "^$label $3 " "$1")" = "$(grep "^$label $3 " "$2")" ] ||
            fail "$label of $3 differs between $1 and $2"
    done
}

head -c 300000 /dev/urandom >"$work/www/f.bin"
port=$(free_port)
echo "# kept" >"$work/client.keys"
start_server "$port" -q --keylog "$work/server.keys" || fail "tern-server did not start"
[ "$(stat -c %a "$work/server.keys")" = 600 ] || fail "server.keys has mode $(stat -c %a "$work/server.keys")"
get() {
    timeout 20 "$build/tern-client" --ca "$work/pki/ca.pem" -q -o /dev/null "$@" \
        "https://127.0.0.1:$port/f.bin" >>"$work/client.log" 2>&1
}
get --keylog "$work/client.keys" || fail "the first download failed"
get --keylog "$work/client.keys" || fail "the second download failed"
head -n 1 "$work/client.keys" | grep -qx "# kept" || fail "--keylog did not append"
c1=$(nth_conn "$work/client.keys" 1)
c2=$(nth_conn "$work/client.keys" 2)
[ -n "$c2" ] && [ "$c1" != "$c2" ] || fail "not two connections with their own client random"
for c in "$c1" "$c2"; do
    check_conn "$work/client.keys" "$c"
    check_conn "$work/server.keys" "$c"
    same_lines "$work/client.keys" "$work/server.keys" "$c"
done
# the second connection's lines come after the first's
[ "$(grep -n " $c1 " "$work/client.keys" | tail -n 1 | cut -d: -f1)" -lt \
    "$(grep -n " $c2 " "$work/client.keys" | head -n 1 | cut -d: -f1)" ] ||
    fail "the connections' lines are interleaved"

# Without --keylog, GnuTLS writes the same lines to SSLKEYLOGFILE.
SSLKEYLOGFILE="$work/env.keys" get || fail "the download with SSLKEYLOGFILE failed"
[ -s "$work/env.keys" ] || fail "SSLKEYLOGFILE was not written"
c3=$(nth_conn "$work/env.keys" 1)
check_conn "$work/env.keys" "$c3"
same_lines "$work/env.keys" "$work/server.keys" "$c3"
# --keylog replaces it: nothing goes to SSLKEYLOGFILE then
before=$(wc -l <"$work/env.keys")
SSLKEYLOGFILE="$work/env.keys" get --keylog "$work/client.keys" || fail "the fourth download failed"
[ "$(wc -l <"$work/env.keys")" -eq "$before" ] || fail "SSLKEYLOGFILE written despite --keylog"
check_conn "$work/client.keys" "$(nth_conn "$work/client.keys" 3)"

# A key log that cannot be opened stops both tools with a message.
out=$("$build/tern-client" --keylog "$work/no/such/dir/k" "https://127.0.0.1:$port/f.bin" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q "cannot open key log file" <<<"$out" || fail "client: rc $rc, '$out'"
out=$("$build/tern-server" --listen 127.0.0.1:0 --root "$work/www" --keylog "$work/no/such/dir/k" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q "cannot open key log file" <<<"$out" || fail "server: rc $rc, '$out'"
echo "keylog: ok: 4 connections, $(wc -l <"$work/server.keys") server lines, $(grep -vc '^#' "$work/client.keys") client lines"
