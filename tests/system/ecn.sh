#!/usr/bin/env bash
# ECN on a real kernel: tern-server in one network namespace, tern-client in another, the
# server's end of the link shaped by tbf (a drop-tail queue) with a CE marker in front of it. The
# marker is fq_codel with ce_threshold when the kernel has it, else a BPF classifier
# (ecn_mark.bpf.c) that keeps the same backlog as the tbf queue and marks above a threshold.
# A download with ECN, then the same without (--no-ecn at both ends):
#   - with ECN the client receives CE marks, the server hears of them in ACK_ECN frames (its qlog
#     shows ACK frames with "ce" counts) and reduces its window for them ("trigger":"ECN");
#   - without ECN nothing is marked, and the queue drops instead: the server loses more packets.
# Then the client migrates to its second link ("cell"), whose ends bleach the ECN field (a BPF
# classifier clearing it): the client's cell path gives ECN up while its wifi path stays capable.
# Every body must match the file's SHA-256.
#
# usage: ecn.sh BUILD_DIR v4|v6        Exit 77: skipped, with the reason.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/netns-lib.sh"

BIN=$1 FAM=${2:-v4}
SIZE_MB=${SIZE_MB:-8}
RATE_MBIT=${RATE_MBIT:-30}
QUEUE=${QUEUE:-65536}    # tbf's queue, bytes (about 17 ms at 30 Mbit/s)
MARK_AT=${MARK_AT:-16384} # CE from this backlog on (about 4 ms)
LIMIT=${LIMIT:-25}

skip() {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
for c in ip tc sha256sum timeout; do
    command -v "$c" >/dev/null 2>&1 || skip "needs $c"
done
for b in tern-server tern-client; do
    [ -x "$BIN/$b" ] || skip "$BIN/$b not built"
done
ns_available || skip "cannot create a network namespace"

tmp=$(mktemp -d "/tmp/tern-ecn-$$.XXXXXX")
srv_pid=""
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
    ns_cleanup
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
    echo "ecn: FAIL: $*"
    for f in "$tmp"/server-*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 5 "$f"; }
    done
    exit 1
}
ns_setup "tern-ecn-$$-$RANDOM" "$FAM" || skip "the kernel cannot make veth links here"

# the bottleneck: the server's end of wifi, towards the client
ns_s tc qdisc add dev s-wifi root handle 1: tbf rate "${RATE_MBIT}mbit" burst 16kb \
    limit "$QUEUE" 2>/dev/null || skip "the kernel has no tbf qdisc"
marker=""
if ns_s tc qdisc add dev s-wifi parent 1:1 handle 10: fq_codel ce_threshold 4ms 2>/dev/null; then
    marker="fq_codel ce_threshold 4ms"
else
    command -v clang >/dev/null 2>&1 || skip "no fq_codel qdisc and no clang for the BPF marker"
    multiarch=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
    clang -O2 -g -target bpf -I"/usr/include/$multiarch" \
        -DRATE_BPS="$((RATE_MBIT * 1000000))ull" -DTHRESHOLD="${MARK_AT}ull" \
        -c "$here/ecn_mark.bpf.c" -o "$tmp/mark.o" 2>"$tmp/clang.log" ||
        skip "no fq_codel qdisc, and the BPF marker does not build: $(head -c 300 "$tmp/clang.log")"
    ns_s tc qdisc add dev s-wifi clsact 2>/dev/null &&
        ns_s tc filter add dev s-wifi egress bpf da obj "$tmp/mark.o" sec tc 2>"$tmp/tc.log" ||
        skip "no fq_codel qdisc, and tc cannot attach the BPF marker: $(head -c 300 "$tmp/tc.log")"
    marker="BPF marker at $MARK_AT B of backlog"
fi
for _ in $(seq 1 50); do
    ns_c ip link show wifi | grep -q LOWER_UP && break
    sleep 0.05
done

mkdir -p "$tmp/root"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$tmp/root/file"
src_sha=$(sha256sum "$tmp/root/file" | cut -d' ' -f1)

# the bleaching link (both ends): the same program, built to clear the field
bleach_ok=0
if command -v clang >/dev/null 2>&1 &&
    clang -O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)" \
        -DBLEACH -c "$here/ecn_mark.bpf.c" -o "$tmp/bleach.o" 2>/dev/null &&
    ns_c tc qdisc add dev cell clsact 2>/dev/null &&
    ns_c tc filter add dev cell egress bpf da obj "$tmp/bleach.o" sec tc 2>/dev/null &&
    ns_s tc qdisc add dev s-cell clsact 2>/dev/null &&
    ns_s tc filter add dev s-cell egress bpf da obj "$tmp/bleach.o" sec tc 2>/dev/null; then
    bleach_ok=1
fi

# run NAME SERVER_OPTS CLIENT_OPTS (words): one download; leaves the server's log, qlog and the
# client's report
run() {
    local name=$1 port srv_opts cli_opts
    read -r -a srv_opts <<<"$2"
    read -r -a cli_opts <<<"$3"
    port=$((4433 + ${#name}))
    mkdir -p "$tmp/qlog-$name"
    ns_s "$BIN/tern-server" --listen "$NS_SERVER_HOST:$port" --root "$tmp/root" \
        --qlog-dir "$tmp/qlog-$name" "${srv_opts[@]}" >"$tmp/server-$name.log" 2>&1 &
    srv_pid=$!
    for _ in $(seq 1 100); do
        ns_s ss -Haun "sport = :$port" | grep -q . && break
        sleep 0.05
    done
    ns_c timeout "$LIMIT" "$BIN/tern-client" --insecure --json -o "$tmp/out-$name" "${cli_opts[@]}" \
        "https://$NS_SERVER_HOST:$port/file" >"$tmp/client-$name.json" 2>"$tmp/client-$name.err" ||
        fail "$name: tern-client failed: $(tail -c 400 "$tmp/client-$name.err")"
    [ "$(sha256sum "$tmp/out-$name" | cut -d' ' -f1)" = "$src_sha" ] || fail "$name: SHA-256 differs"
    # the server reports the connection once its draining period is over
    for _ in $(seq 1 100); do
        grep -q ' closed: ' "$tmp/server-$name.log" && break
        sleep 0.05
    done
    kill "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
    grep -q ' closed: ' "$tmp/server-$name.log" || fail "$name: the server never reported the close"
}

# num FILE REGEX: the number before (or in) the first match of REGEX
num() { grep -o -E "$2" "$1" | head -n 1 | grep -o -E '[0-9]+' | head -n 1; }

run ecn "" ""
run noecn --no-ecn --no-ecn

lost_on=$(num "$tmp/server-ecn.log" '[0-9]+ packets lost')
lost_off=$(num "$tmp/server-noecn.log" '[0-9]+ packets lost')
marked_on=$(num "$tmp/server-ecn.log" '[0-9]+ packets marked')
marked_off=$(num "$tmp/server-noecn.log" '[0-9]+ packets marked')
ce_on=$(num "$tmp/server-ecn.log" '[0-9]+ CE reported')
red_on=$(num "$tmp/server-ecn.log" '[0-9]+ reductions from CE')
recv_ce_on=$(num "$tmp/client-ecn.json" '"recv_ce":[0-9]+')
recv_ce_off=$(num "$tmp/client-noecn.json" '"recv_ce":[0-9]+')
recv_ect_off=$(num "$tmp/client-noecn.json" '"recv_ect0":[0-9]+')
qlog=$(ls "$tmp"/qlog-ecn/*_server.sqlog 2>/dev/null | head -n 1)
[ -n "$qlog" ] || fail "no server qlog"
ack_ce=$(grep -c -E '"frame_type":"ack"[^}]*"ce":[1-9]' "$qlog")
ecn_cuts=$(grep -c '"trigger":"ECN"' "$qlog")
echo "ecn ($FAM, $marker): with ECN $marked_on packets marked, client got $recv_ce_on CE," \
    "server heard $ce_on CE in ACK_ECN ($ack_ce ACK frames with CE counts), $red_on window" \
    "reductions ($ecn_cuts qlog records), $lost_on packets lost; without ECN $lost_off lost"

[ "${marked_on:-0}" -gt 1000 ] || fail "the server marked ${marked_on:-?} packets"
[ "${recv_ce_on:-0}" -gt 0 ] || fail "the client received no CE mark"
[ "${ce_on:-0}" -gt 0 ] || fail "the server heard of no CE mark"
[ "$ack_ce" -gt 0 ] || fail "no ACK frame with a CE count in the server's qlog"
[ "${red_on:-0}" -gt 0 ] && [ "$ecn_cuts" -gt 0 ] || fail "no window reduction from CE"
[ "${marked_off:-1}" -eq 0 ] && [ "${recv_ce_off:-1}" -eq 0 ] && [ "${recv_ect_off:-1}" -eq 0 ] ||
    fail "--no-ecn: ${marked_off:-?} marked, ${recv_ect_off:-?} ECT(0) and ${recv_ce_off:-?} CE received"
[ "${lost_off:-0}" -gt 0 ] || fail "without ECN the queue never overflowed"
[ "${lost_on:-0}" -lt "$lost_off" ] || fail "losses with ECN ${lost_on:-?}, without $lost_off"

[ "$bleach_ok" = 1 ] || { echo "ecn: ok (bleaching link not tested: cannot attach the BPF program)"; exit 0; }
run migrate "" "--migrate $NS_CELL_IP@2MB"
python3 - "$tmp/client-migrate.json" "$NS_WIFI_IP" "$NS_CELL_IP" <<'PY' || fail "per-path ECN after the migration"
import json, sys
rep = json.load(open(sys.argv[1]))
def ip(local):
    return local.rsplit(":", 1)[0].strip("[]")
paths = {ip(p["local"]): p for p in rep["paths"]}
wifi, cell = paths.get(sys.argv[2]), paths.get(sys.argv[3])
print("ecn: migration to a bleaching link: wifi path %s/%s (%s marked), cell path %s/%s (%s marked)"
      % (wifi and wifi["ecn"], wifi and wifi["ecn_failure"], wifi and wifi["ecn_sent"], cell and cell["ecn"],
         cell and cell["ecn_failure"], cell and cell["ecn_sent"]))
ok = (wifi is not None and cell is not None and wifi["ecn"] == "capable"
      and cell["ecn"] == "failed" and cell["ecn_failure"] in ("no_counts", "bleached")
      and cell["ecn_sent"] <= 40 and cell["state"] == "active")
sys.exit(0 if ok else 1)
PY
echo "ecn: ok"
