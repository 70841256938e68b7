#!/usr/bin/env bash
# tern-client's --json report on a transfer that ends in a stall: the server freezes (SIGSTOP)
# in the middle of a download, the client's connection dies by its idle timeout, and the report
# must count that final gap: a stall that ended the transfer, with the connection's end as its
# cause, at least as long as the idle timeout, and the longest delivery gap at least that long.
#   tests/tools/report.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() { echo "report: FAIL: $*"; [ -f "$work/client.json" ] && cut -c1-1500 "$work/client.json"; exit 1; }

truncate -s 4G "$work/www/big.bin" # sparse: served from the page cache, never finished in time
port=$(free_port)
start_server "$port" -q || fail "tern-server did not start"

idle=1000
timeout 60 "$build/tern-client" --ca "$work/pki/ca.pem" --json --idle-timeout "$idle" \
    --stall-ms 300 -o "$work/big.out" "https://127.0.0.1:$port/big.bin" \
    >"$work/client.json" 2>"$work/client.log" &
cli=$!
# Freeze the server once a few megabytes arrived: nothing more comes, nothing answers.
wait_size "$work/big.out" 4000000 || fail "the download did not start"
kill -STOP "$srv"
wait "$cli"
rc=$?
[ "$rc" -eq 1 ] || fail "tern-client exit status $rc, expected 1 (the transfer cannot finish)"
json=$(cat "$work/client.json")
num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2" | head -n 1; }
grep -q '"ok":false' <<<"$json" || fail "the report says ok"
grep -q '"failovers":0' <<<"$json" || fail "no failover count"
grep -q '"network_events":\[\]' <<<"$json" || fail "no network event list"
stalls=$(grep -o '"stalls":\[.*\],"paths"' <<<"$json")
last=$(grep -o '{"start_ms":[^}]*"ended_transfer":true[^}]*}' <<<"$stalls" | tail -n 1)
[ -n "$last" ] || fail "no stall that ended the transfer: $stalls"
grep -q '"end":"[^"]*idle timeout' <<<"$last" || fail "the final stall's cause is not the idle timeout: $last"
ms=$(num ms "$last")
gap=$(num longest_gap_ms "$json")
awk -v ms="$ms" -v idle="$idle" 'BEGIN { exit !(ms >= idle * 0.9) }' ||
    fail "the final stall lasted $ms ms, less than the idle timeout ($idle ms)"
awk -v gap="$gap" -v ms="$ms" 'BEGIN { exit !(gap >= ms) }' ||
    fail "longest_gap_ms $gap is shorter than the final stall ($ms ms)"
grep -q "longest delivery gap" "$work/client.log" || fail "no summary line"
echo "report: ok: final stall $ms ms (idle timeout $idle ms), longest gap $gap ms"
