#!/usr/bin/env bash
# qlog files of a real transfer with a migration: tern-server and tern-client on loopback, both with
# --qlog-dir, the client adding 127.0.0.2 and moving there mid-download. Both files must be
# JSON-SEQ whose every record validates against tests/qlog/qlog-schema.json and that show the
# migration (check_qlog.py --expect-migration); a copy with one field renamed must fail that check
# (the check can fail); and qvis's way of loading a file (qvis_load.mjs, run by node) must accept
# them and find the migration. Node is Debian's nodejs, nothing comes from npm. Simulated runs of
# the migration policy (tern-sim --qlog-dir) add tern's own events, checked the same way.
#   tests/qlog/run.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/../tools/lib.sh" "$1"
here="$src/tests/qlog"
fail() { echo "qlog: FAIL: $*"; [ -f "$work/client.log" ] && tail -n 20 "$work/client.log"; exit 1; }

py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import jsonschema' 2>/dev/null || py=python3
"$py" -c 'import jsonschema' 2>/dev/null ||
    fail "python3-jsonschema is missing (scripts/install-deps.sh installs it)"

head -c 2000000 /dev/urandom >"$work/www/f.bin"
mkdir -p "$work/qlog"
port=$(free_port)
start_server "$port" -q --qlog-dir "$work/qlog" || fail "tern-server did not start"
timeout 30 "$build/tern-client" -q --ca "$work/pki/ca.pem" --qlog-dir "$work/qlog" \
    --add-local 127.0.0.2@200KB --migrate 127.0.0.2@600KB -o "$work/f.out" \
    "https://127.0.0.1:$port/f.bin" >"$work/client.log" 2>&1 || fail "the download failed"
cmp -s "$work/www/f.bin" "$work/f.out" || fail "the downloaded file differs"
stop_server # the server's file is complete once its connection ended; stopping flushes it too

client=$(ls "$work"/qlog/*_client.sqlog 2>/dev/null)
server=$(ls "$work"/qlog/*_server.sqlog 2>/dev/null)
[ -n "$client" ] && [ -n "$server" ] || fail "expected one client and one server file: $(ls "$work/qlog")"
[ "$(basename "${client%_client.sqlog}")" = "$(basename "${server%_server.sqlog}")" ] ||
    fail "client and server files name different connections"

"$py" "$here/check_qlog.py" --expect-migration "$client" "$server" || fail "schema or migration check"
# path MTU discovery: the server's path raised from 1200 on each of the two paths (loopback)
n=$(grep -c '"name":"quic:mtu_updated","data":{"old":1200,' "$server" || true)
[ "$n" -ge 2 ] || fail "the server's file has $n mtu_updated records raising a path from 1200"

# the check can fail: one renamed field in one record is caught
mkdir -p "$work/broken"
broken="$work/broken/$(basename "$client")"
sed '0,/"packet_number":/s//"packet_numbr":/' "$client" >"$broken"
if "$py" "$here/check_qlog.py" "$broken" >"$work/broken.out" 2>&1; then
    fail "a record with an unknown field passed the schema"
fi
grep -q "packet_numbr" "$work/broken.out" || fail "the broken record was not the one reported: $(cat "$work/broken.out")"
echo "qlog: a renamed field is rejected: $(cut -c1-160 "$work/broken.out")"

# tern's own events (docs/qlog.md) from simulated runs of the migration policy: network events,
# the policy's decisions and a refused migration; their packets are the events checked above
[ -x "$build/tern-sim" ] || fail "no tern-sim in $build (built with the test suites)"
mkdir -p "$work/sim"
for sc in blackhole_no_standby flapping_total_limit; do
    "$build/tern-sim" "$sc" --qlog-dir "$work/sim" >"$work/sim.log" || fail "tern-sim $sc: $(cat "$work/sim.log")"
done
"$py" "$here/check_qlog.py" --only tern:,quic:migration,quic:tuple,quic:key,quic:connection,quic:congestion \
    --expect tern:network_event --expect tern:policy_decision --expect tern:migration_refused \
    --expect quic:packet_lost "$work"/sim/*.sqlog || fail "tern's events in the simulator's files"

# ECN (docs/ecn.md): validation states of the simulator's ECN suite, and the window reductions
# CE marks caused, as congestion_state_updated with trigger ECN
mkdir -p "$work/ecn"
for sc in ecn_ce_queue ecn_bleach; do
    "$build/tern-sim" "$sc" --qlog-dir "$work/ecn" >"$work/sim.log" || fail "tern-sim $sc: $(cat "$work/sim.log")"
done
"$py" "$here/check_qlog.py" --only quic:ecn,quic:congestion --expect quic:ecn_state_updated \
    --expect quic:congestion_state_updated "$work"/ecn/*.sqlog || fail "ECN events in the simulator's files"
grep -q '"name":"quic:congestion_state_updated","data":{[^}]*"trigger":"ECN"' "$work"/ecn/*_server.sqlog ||
    fail "no window reduction from CE in the simulator's server files"
grep -q '"name":"quic:ecn_state_updated","data":{"old":"testing","new":"failed","reason":"no_counts"}' \
    "$work"/ecn/*_server.sqlog || fail "no ECN validation failure in the simulator's server files"
echo "qlog: ECN events of the simulator's ECN suite validate"

# DATAGRAM frames (RFC 9221) in the packets of a simulated run with loss and a migration
mkdir -p "$work/dgram"
"$build/tern-sim" datagram_migration --qlog-dir "$work/dgram" >"$work/sim.log" ||
    fail "tern-sim datagram_migration: $(cat "$work/sim.log")"
grep -q '"frame_type":"datagram"' "$work"/dgram/*_client.sqlog || fail "no DATAGRAM frame in the client's qlog"
"$py" "$here/check_qlog.py" "$work"/dgram/*.sqlog || fail "the datagram run's files"

# multipath and ACK frequency frames of a real transfer: both tools with --multipath, the client
# adding 127.0.0.2 as a second path mid-download. Their frames must carry the names and fields of
# the drafts' qlog definitions (frames named "unknown" where the schema expects a name fail here).
mkdir -p "$work/mp"
port=$(free_port)
start_server "$port" -q --multipath --qlog-dir "$work/mp" || fail "tern-server --multipath did not start"
timeout 30 "$build/tern-client" -q --ca "$work/pki/ca.pem" --multipath --qlog-dir "$work/mp" \
    --add-local 127.0.0.2@200KB -o "$work/mp.out" "https://127.0.0.1:$port/f.bin" \
    >"$work/client.log" 2>&1 || fail "the multipath download failed"
cmp -s "$work/www/f.bin" "$work/mp.out" || fail "the multipath download differs"
stop_server
"$py" "$here/check_qlog.py" --expect-frame ack_frequency --expect-frame path_new_connection_id \
    "$work"/mp/*.sqlog || fail "the multipath run's files"
if grep -q '"frame_type":"unknown"' "$work"/mp/*.sqlog; then
    fail "a frame logged as unknown: $(grep -o '"frame_type":"unknown","frame_type_bytes":[0-9]*' "$work"/mp/*.sqlog | sort | uniq -c)"
fi
echo "qlog: multipath and ACK frequency frames validate"

if ! command -v node >/dev/null; then
    echo "qlog: skipping qvis's way of loading (no node; Debian's nodejs package provides it)"
    exit 0
fi
node "$here/qvis_load.mjs" "$client" || fail "qvis's loader rejects the client file"
node "$here/qvis_load.mjs" "$server" || fail "qvis's loader rejects the server file"
echo "qlog: PASS"
