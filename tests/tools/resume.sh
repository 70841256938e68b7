#!/usr/bin/env bash
# tern-client --session-file and --early-data against tern-server, in both protocols: the first
# run makes a full handshake and keeps the server's ticket; the second resumes it and sends its
# request in 0-RTT, which a server with --early-data accepts and one without refuses (the
# download still succeeds, its request sent again as 1-RTT). Every body is checked by SHA-256, and
# the JSON report says what happened. Datagrams go in 0-RTT too when the ticket remembers that the
# server takes them. A corrupt session file leads to a full handshake.
#   tests/tools/resume.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() { echo "resume: FAIL: $*"; cat "$work/client.log" 2>/dev/null | head -20; exit 1; }

head -c 300000 /dev/urandom >"$work/www/f.bin"
want=$(sha256sum "$work/www/f.bin" | cut -d' ' -f1)
sess="$work/session"

# get ALPN EXPECT... : one download of f.bin; each EXPECT is a string the JSON must contain
get() {
    local alpn=$1
    shift
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn "$alpn" --json \
        --session-file "$sess" --early-data -o "$work/out.bin" "https://127.0.0.1:$port/f.bin" \
        >"$work/client.json" 2>"$work/client.log" || fail "$alpn: exit $? ($(cat "$work/client.json"))"
    [ "$(sha256sum "$work/out.bin" | cut -d' ' -f1)" = "$want" ] || fail "$alpn: body differs"
    for e in "$@"; do
        grep -q "$e" "$work/client.json" || fail "$alpn: no $e in $(cat "$work/client.json")"
    done
}

for alpn in hq-interop h3; do
    rm -f "$sess"
    port=$(free_port)
    start_server "$port" -q --early-data --alpn "$alpn" || fail "tern-server did not start"
    get "$alpn" '"resumed":false' '"early_data_attempted":false'
    [ -s "$sess" ] || fail "$alpn: no session file written"
    get "$alpn" '"resumed":true' '"early_data_attempted":true' '"early_data_accepted":true'
    stop_server
    # the same ticket key is gone with that server: a new one makes a full handshake
    port=$(free_port)
    start_server "$port" -q --alpn "$alpn" || fail "tern-server did not start"
    get "$alpn" '"resumed":false' '"early_data_accepted":false'
    get "$alpn" '"resumed":true' '"early_data_attempted":false'
    stop_server
done

# datagrams in 0-RTT (RFC 9221 §3): the ticket remembers that the server takes them, and the
# resumed run's datagrams leave before the handshake, each acknowledged and echoed intact
port=$(free_port)
start_server "$port" -q --early-data --datagram-echo --alpn hq-interop ||
    fail "tern-server did not start"
rm -f "$sess"
for run in full resumed; do
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn hq-interop --json -q \
        --session-file "$sess" --early-data --datagrams 20 -o "$work/out.bin" \
        "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.log" ||
        fail "datagrams, $run: exit $? ($(cat "$work/client.json"))"
    [ "$(sha256sum "$work/out.bin" | cut -d' ' -f1)" = "$want" ] || fail "datagrams: body differs"
    python3 - "$work/client.json" "$run" <<'PY' || fail "datagrams, $run: $(cat "$work/client.json")"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["datagrams"]
early = sys.argv[2] == "resumed"
assert r["ok"] and r["resumed"] == early and r["early_data_accepted"] == early, r
assert d["sent"] == 20 and d["sent_early"] == (20 if early else 0), d
assert d["acked"] == 20 and d["lost"] == 0 and d["echoed"] == 20 and d["bad"] == 0, d
PY
done
stop_server

# a server without --early-data refuses 0-RTT from a ticket that allowed it (same process)
port=$(free_port)
start_server "$port" -q --alpn hq-interop || fail "tern-server did not start"
rm -f "$sess"
get hq-interop '"resumed":false'
get hq-interop '"resumed":true' '"early_data_attempted":false' '"early_data_accepted":false'

# a corrupt session file: said so, then a full handshake
head -c 500 /dev/urandom >"$sess"
get hq-interop '"resumed":false'
grep -q "cannot be used" "$work/client.log" || fail "no word about the corrupt session file"
[ "$(head -c 4 "$sess")" = "TRNS" ] || fail "the corrupt file was not replaced by the new ticket"
stop_server
echo "resume: ok"
