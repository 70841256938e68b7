#!/usr/bin/env bash
# The tools' datagrams (RFC 9221): tern-client --datagrams 300 against tern-server --datagram-echo
# over loopback, alongside a download: the JSON report counts 300 sent, each acknowledged or lost
# (on loopback: acknowledged), every echo intact and none foreign, the download still intact. The
# same against a server without --datagram-echo fails with the support error, the download kept.
#   tests/tools/datagram.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() {
    echo "datagram: FAIL: $*"
    for f in client.json client.err server.log; do
        [ -f "$work/$f" ] && { echo "--- $f"; cut -c1-400 "$work/$f"; }
    done
    exit 1
}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

head -c 300000 /dev/urandom >"$work/www/f.bin"
port=$(free_port)
start_server "$port" -q --datagram-echo || fail "tern-server did not start"
timeout 30 "$build/tern-client" -q --json --sha256 --ca "$work/pki/ca.pem" --datagrams 300 \
    "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.err" ||
    fail "the client failed"
"$py" - "$work/client.json" "$(sha256sum "$work/www/f.bin" | cut -d' ' -f1)" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["datagrams"]
assert r["ok"] and r["files"][0]["sha256"] == sys.argv[2], r
assert d["wanted"] == 300 and d["sent"] == 300, d
assert d["acked"] + d["lost"] == 300 and d["acked"] == 300, d
assert d["echoed"] == 300 and d["bad"] == 0 and d["error"] is None, d
print("datagram: 300 sent, %d acknowledged, %d echoed" % (d["acked"], d["echoed"]))
PY
stop_server

port=$(free_port)
start_server "$port" -q || fail "tern-server did not start"
if timeout 30 "$build/tern-client" -q --json --ca "$work/pki/ca.pem" --datagrams 5 \
    "https://127.0.0.1:$port/f.bin" >"$work/client.json" 2>"$work/client.err"; then
    fail "datagrams to a server that takes none did not fail the run"
fi
grep -q "datagrams: the peer does not take datagrams" "$work/client.err" ||
    fail "no support error on stderr"
"$py" - "$work/client.json" <<'PY' || fail "report without support"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["datagrams"]
assert not r["ok"] and r["files"][0]["result"] == "ok", r
assert d["sent"] == 0 and d["error"] == "the peer does not take datagrams", d
PY
echo "datagram: PASS"
