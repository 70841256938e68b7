#!/usr/bin/env bash
# The tools' --multipath flags over loopback: with both set the JSON report says the extension is
# in use, with only the client's (or neither) it says not, and the download is intact each time.
#   tests/tools/multipath.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() {
    echo "multipath: FAIL: $*"
    for f in client.json client.err server.log; do
        [ -f "$work/$f" ] && { echo "--- $f"; cut -c1-400 "$work/$f"; }
    done
    exit 1
}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

head -c 200000 /dev/urandom >"$work/www/f.bin"
sum=$(sha256sum "$work/www/f.bin" | cut -d' ' -f1)

# run SERVER_FLAG CLIENT_FLAG EXPECTED
run() {
    local port
    port=$(free_port)
    # shellcheck disable=SC2086
    start_server "$port" -q $1 || fail "tern-server did not start"
    # shellcheck disable=SC2086
    timeout 30 "$build/tern-client" -q --json --sha256 --ca "$work/pki/ca.pem" $2 \
        "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.err" ||
        fail "the client failed (server '$1', client '$2')"
    "$py" - "$work/client.json" "$sum" "$3" <<'PY' || fail "report (server '$1', client '$2')"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["files"][0]["sha256"] == sys.argv[2], r
assert r["multipath"] == (sys.argv[3] == "yes"), r
PY
    stop_server
}
run "--multipath" "--multipath" yes
run "" "--multipath" no
run "--multipath" "" no
run "" "" no
echo "multipath: PASS"
