#!/usr/bin/env bash
# Scaling on loopback: many clients that change address in the middle of a download, against a
# server spread over workers or over machines (docs/scaling.md). Every download must arrive with
# the file's SHA-256, and the server's counters must show the steering that was asked for.
#
#   bpf      tern-server --workers 2: the BPF program steers; no datagram is forwarded between
#            workers, both workers serve connections
#   forward  --workers 2 --no-bpf: the kernel's hash spreads datagrams; the workers forward the
#            short headers of each other's connections (some must have been forwarded, every
#            forwarded one adopted)
#   nat      --workers 2 behind tern-lbproxy, whose NAT moves each flow to a new source port every
#            10 short-header datagrams (never during the handshake, which no NAT rebinding
#            survives): the server sees the peers' addresses change, still no forwarding
#   qlb      two tern-server processes with QUIC-LB server IDs 0a and 0b (encrypted, one key)
#            behind tern-lbproxy routing by the server ID in each DCID: every short header is
#            routed by CID, none is unroutable, both servers serve connections
#
# The clients keep the default idle timeout (30 s): on a loaded machine a proxy that falls behind
# loses bursts, and the sender's backed-off probe timeouts can leave a download silent for
# seconds before it resumes. KEEP=1 keeps the work directory.
#
# Usage: scale.sh BUILD_DIR CASE [CLIENTS]
set -u
build=$(cd "$1" && pwd)
case_name=$2
clients=${3:-50}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/net-lib.sh
. "$src/scripts/net-lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-scale-$case_name.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
    echo "FAIL ($case_name): $*"
    # stopped first: the proxy and the servers print their counters on the way out
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    for f in "$work"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
    exit 1
}

bash "$src/scripts/make-cert.sh" "$work/pki" >/dev/null || fail "no certificate"
mkdir -p "$work/www"
head -c 1500000 /dev/urandom >"$work/www/f.bin"
want=$(sha256sum "$work/www/f.bin" | cut -d' ' -f1)
key=00112233445566778899aabbccddeeff

# server NAME PORT ARGS...: starts tern-server, its stderr in NAME.err, stdout in NAME.out
server() {
    local name=$1 port=$2
    shift 2
    "$build/tern-server" --listen "127.0.0.1:$port" --root "$work/www" --cert "$work/pki/cert.pem" \
        --key "$work/pki/key.pem" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    wait_bound "$port" $! || fail "$name did not start"
}

# stop PID: SIGTERM and wait (the server prints its counters on the way out)
stop() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# run_clients PORT: $clients downloads at once, each moving to 127.0.0.2 (a new port too) after
# 400 KB; each must end with the file's hash
run_clients() {
    local port=$1 cp=() i
    for i in $(seq 1 "$clients"); do
        "$build/tern-client" --sha256 --ca "$work/pki/cert.pem" --migrate "127.0.0.2@400KB" \
            "https://localhost:$port/f.bin" >"$work/c$i.out" 2>"$work/c$i.cerr" &
        cp+=($!)
    done
    local bad=0 first=""
    for i in "${!cp[@]}"; do
        if ! wait "${cp[$i]}"; then
            bad=$((bad + 1))
            [ -n "$first" ] || first=$((i + 1))
        fi
    done
    [ "$bad" = 0 ] || fail "$bad of $clients clients failed; client $first: $(tail -n 4 "$work/c$first.cerr"; tail -n 2 "$work/c$first.out")"
    local good switched
    good=$(grep -l "$want" "$work"/c*.out | wc -l)
    [ "$good" = "$clients" ] || fail "$good of $clients downloads have the file's SHA-256"
    switched=$(grep -lE " [1-9][0-9]* path switch" "$work"/c*.out | wc -l)
    [ "$switched" = "$clients" ] || fail "only $switched of $clients clients moved to their new address"
}

# workers_counter FILE FIELD: the sum over workers of "N FIELD" in the server's last lines
workers_sum() {
    grep "worker [0-9]*:" "$1" | sed -n "s/.* \([0-9]*\) $2.*/\1/p" | awk '{s+=$1} END {print s+0}'
}
workers_min_conns() {
    grep "worker [0-9]*:" "$1" | sed -n 's/.*: \([0-9]*\) connections.*/\1/p' | sort -n | head -1
}

case $case_name in
bpf | forward)
    port=$(free_port)
    extra=()
    [ "$case_name" = forward ] && extra=(--no-bpf)
    server srv "$port" --workers 2 "${extra[@]}"
    steering=bpf
    [ "$case_name" = forward ] && steering=forward
    grep -q "steering: $steering" "$work/srv.err" || fail "steering is not $steering: $(cat "$work/srv.err")"
    run_clients "$port"
    stop "${pids[0]}"
    fwd=$(workers_sum "$work/srv.err" "datagrams forwarded")
    adopted=$(workers_sum "$work/srv.err" "adopted")
    lost=$(workers_sum "$work/srv.err" "lost to a full queue")
    [ "$(workers_min_conns "$work/srv.err")" -gt 0 ] || fail "a worker served no connection"
    if [ "$case_name" = bpf ]; then
        [ "$fwd" = 0 ] || fail "$fwd datagrams forwarded although the BPF program steers"
    else
        [ "$fwd" -gt 0 ] || fail "no datagram forwarded after $clients migrations without BPF"
        [ "$adopted" = "$fwd" ] && [ "$lost" = 0 ] || fail "forwarded $fwd, adopted $adopted, lost $lost"
    fi
    echo "ok: $case_name: $clients migrating clients, forwarded $fwd"
    ;;
nat)
    sport=$(free_port)
    server srv "$sport" --workers 2
    port=$(free_port)
    "$build/tern-lbproxy" --listen "127.0.0.1:$port" --backend "127.0.0.1:$sport" \
        --rebind-every 10 2>"$work/proxy.err" &
    pids+=($!)
    wait_bound "$port" $! || fail "proxy did not start"
    run_clients "$port"
    stop "${pids[1]}"
    stop "${pids[0]}"
    rebinds=$(sed -n 's/.* \([0-9]*\) rebinds.*/\1/p' "$work/proxy.err")
    changed=$(grep -c "peer address changed" "$work/srv.out")
    fwd=$(workers_sum "$work/srv.err" "datagrams forwarded")
    [ "${rebinds:-0}" -ge "$clients" ] || fail "the proxy rebound only ${rebinds:-0} times"
    [ "$changed" -ge "$clients" ] || fail "the server saw only $changed peer address changes"
    [ "$fwd" = 0 ] || fail "$fwd datagrams forwarded although the BPF program steers"
    echo "ok: nat: $clients clients, $rebinds rebinds, $changed address changes seen"
    ;;
qlb)
    p1=$(free_port)
    server srv1 "$p1" --qlb-server-id 0a --qlb-nonce-len 6 --qlb-key "$key" --qlb-config-id 1
    p2=$(free_port)
    server srv2 "$p2" --qlb-server-id 0b --qlb-nonce-len 6 --qlb-key "$key" --qlb-config-id 1
    port=$(free_port)
    "$build/tern-lbproxy" --listen "127.0.0.1:$port" --backend "0a@127.0.0.1:$p1" \
        --backend "0b@127.0.0.1:$p2" --qlb "1:6:$key" --qlb-config-id 1 2>"$work/proxy.err" &
    pids+=($!)
    wait_bound "$port" $! || fail "proxy did not start"
    run_clients "$port"
    stop "${pids[2]}"
    line=$(cat "$work/proxy.err")
    bycid=$(echo "$line" | sed -n 's/.* \([0-9]*\) routed by CID.*/\1/p')
    unroutable=$(echo "$line" | sed -n 's/.* \([0-9]*\) unroutable.*/\1/p')
    c1=$(grep -c " connected:" "$work/srv1.out")
    c2=$(grep -c " connected:" "$work/srv2.out")
    [ "${unroutable:-1}" = 0 ] || fail "unroutable datagrams: $line"
    [ "${bycid:-0}" -gt 0 ] || fail "nothing routed by CID: $line"
    [ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] || fail "connections: $c1 and $c2"
    [ $((c1 + c2)) = "$clients" ] || fail "$((c1 + c2)) connections for $clients clients"
    echo "ok: qlb: $clients clients over two servers ($c1 + $c2), $bycid datagrams routed by CID"
    ;;
*)
    echo "unknown case $case_name"
    exit 2
    ;;
esac
