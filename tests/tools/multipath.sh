#!/usr/bin/env bash
# The tools' --multipath flags over loopback: with both set the JSON report says the extension is
# in use, with only the client's (or neither) it says not, and the download is intact each time;
# with a second path, the per-path figures of the report and of --show-paths; a second path
# opened in backup status (--backup-local).
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

# A second path (--add-local on another loopback address). With both sides offering multipath,
# both paths carry the download: the report lists both, validated, each with bytes received, its
# path ID (0 and 1) and status (available), and shares of the bytes received and sent adding up to
# 1 and matching the byte counts; the --show-paths table (plain lines, stderr is not a terminal)
# has a row per path with the same share, path ID and status. Without the extension on the
# server's side the paths have no path ID nor status.
head -c 4000000 /dev/urandom >"$work/www/big.bin"
bigsum=$(sha256sum "$work/www/big.bin" | cut -d' ' -f1)
# two_paths SERVER_FLAG EXPECTED
two_paths() {
    local port
    port=$(free_port)
    # shellcheck disable=SC2086
    start_server "$port" -q $1 || fail "tern-server did not start"
    timeout 30 "$build/tern-client" --json --sha256 --ca "$work/pki/ca.pem" --multipath \
        --local 127.0.0.1 --add-local 127.0.0.2@0ms --show-paths \
        "https://127.0.0.1:$port/big.bin" >"$work/client.json" 2>"$work/client.err" ||
        fail "the client failed with a second path (server '$1')"
    "$py" - "$work/client.json" "$work/client.err" "$bigsum" "$2" <<'PY' || fail "per-path report (server '$1')"
import json, re, sys
r = json.load(open(sys.argv[1]))
mp = sys.argv[4] == "yes"
assert r["ok"] and r["files"][0]["sha256"] == sys.argv[3], r
assert r["multipath"] is mp, r
paths = r["paths"]
assert len(paths) == 2 and all(p["validated"] for p in paths), paths
assert {p["local"].split(":")[0] for p in paths} == {"127.0.0.1", "127.0.0.2"}, paths
for key, share in (("bytes_received", "share_received"), ("bytes_sent", "share_sent")):
    total = sum(p[key] for p in paths)
    assert total > 0, paths
    for p in paths:
        assert abs(p[share] - p[key] / total) < 1e-3, (share, p)
    assert abs(sum(p[share] for p in paths) - 1) < 1e-3, paths
if mp:
    # the second path carries part of the download (a 1200-byte challenge is not part of it)
    assert all(p["bytes_received"] > 100000 for p in paths), paths
    assert sorted(p["path_id"] for p in paths) == [0, 1], paths
    assert all(p["status"] == p["status_local"] == p["status_peer"] == "available"
               and p["failing"] is False for p in paths), paths
    assert sum(p["stream_bytes_scheduled"] for p in paths) > 0, paths
else:
    assert all(p["path_id"] is None and p["status"] is None for p in paths), paths
# the table: its header (printed once), then a block of rows per drawing; the last block is
# the drawing at the end, with the counters of the report
lines = open(sys.argv[2]).read().splitlines()
head = [l.split() for l in lines if l.split()[:2] == ["time", "path"]]
assert len(head) == 1 and head[0][-3:] == ["share", "pid", "status"], head
rows = [l.split() for l in lines if re.match(r"\s*[0-9.]+s\s+[0-9]+\s", l)]
assert len(rows) >= 2, rows
for row in rows[-2:]:
    p = next(p for p in paths if p["id"] == int(row[1]))
    assert abs(float(row[-3].rstrip("%")) - 100 * p["share_received"]) < 0.11, (row, p)
    assert row[-2] == (str(p["path_id"]) if mp else "-"), (row, p)
    assert row[-1] == (p["status"] if mp else "-"), (row, p)
PY
    stop_server
}
two_paths "--multipath" yes
two_paths "" no

# --backup-local: the second path is opened in backup status. The client's status of it is
# backup (the server's stays available), and the server's scheduler, told by PATH_STATUS_BACKUP,
# keeps the download on the available path: the backup path receives its validation and a few
# acknowledgement-sized packets, not a share of the 4 MB. Without the extension on the server the
# action fails with its own error and no second path exists.
backup_path() {
    local port
    port=$(free_port)
    # shellcheck disable=SC2086
    start_server "$port" -q $1 || fail "tern-server did not start"
    timeout 30 "$build/tern-client" --json --sha256 --ca "$work/pki/ca.pem" --multipath \
        --local 127.0.0.1 --backup-local 127.0.0.2@0ms \
        "https://127.0.0.1:$port/big.bin" >"$work/client.json" 2>"$work/client.err" ||
        fail "the client failed with a backup path (server '$1')"
    "$py" - "$work/client.json" "$bigsum" "$2" <<'PY' || fail "backup path report (server '$1')"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["files"][0]["sha256"] == sys.argv[2], r
act = r["actions"]
assert len(act) == 1 and act[0]["action"] == "backup-local" and act[0]["ran"], act
paths = r["paths"]
if sys.argv[3] == "yes":
    assert r["multipath"] is True, r
    assert "error" not in act[0], act
    assert len(paths) == 2 and all(p["validated"] for p in paths), paths
    main = next(p for p in paths if p["local"].startswith("127.0.0.1:"))
    bk = next(p for p in paths if p["local"].startswith("127.0.0.2:"))
    assert main["status"] == "available" and main["status_local"] == "available", main
    assert bk["status"] == "backup" and bk["status_local"] == "backup", bk
    assert bk["status_peer"] == "available", bk
    # the download went on the available path; the backup one saw at most a few KB
    assert main["bytes_received"] > 4000000, main
    assert bk["bytes_received"] < 40000, bk
    assert bk["stream_bytes_scheduled"] == 0, bk
else:
    assert r["multipath"] is False, r
    assert act[0].get("error") == "the multipath extension is not in use", act
    assert len(paths) == 1, paths
PY
    stop_server
}
backup_path "--multipath" yes
backup_path "" no
echo "multipath: PASS"
