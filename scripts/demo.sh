#!/usr/bin/env bash
# The `make demo` run: serves a 100 MiB random file with tern-server on loopback, downloads it with
# tern-client over QUIC, and reports size, time, throughput and whether the SHA-256 matches.
# Exits non-zero when the download fails or the hash differs.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
server_bin=$build/tern-server
client_bin=$build/tern-client
for b in "$server_bin" "$client_bin"; do
    if [ ! -x "$b" ]; then
        echo "demo: $b not found; build first (make build)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-demo.XXXXXX")
server_pid=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A UDP port nobody is bound to (checked with ss when available).
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! command -v ss >/dev/null 2>&1 || [ -z "$(ss -Haun "sport = :$p")" ]; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Waits until process $2 has bound UDP port $1 (or died).
wait_bound() {
    local port=$1 pid=$2
    if ! command -v ss >/dev/null 2>&1; then
        sleep 0.5
        kill -0 "$pid" 2>/dev/null
        return
    fi
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || return 1
        [ -n "$(ss -Haun "sport = :$port")" ] && return 0
        sleep 0.05
    done
    return 1
}

json_num() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" "$2" | head -n 1; }
json_str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }

mkdir -p "$tmp/www"
head -c 100M /dev/urandom >"$tmp/www/file.bin"
src_sha=$(sha256sum "$tmp/www/file.bin" | cut -d' ' -f1)
bash "$here/make-cert.sh" "$tmp/pki"

port=$(free_port)
"$server_bin" --listen "127.0.0.1:$port" --root "$tmp/www" --cert "$tmp/pki/cert.pem" \
    --key "$tmp/pki/key.pem" -q >"$tmp/server.log" 2>&1 &
server_pid=$!
if ! wait_bound "$port" "$server_pid"; then
    echo "demo: tern-server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi

echo "tern demo: 100 MiB of random data over QUIC (hq-interop), 127.0.0.1:$port"
rc=0
timeout -k 5 300 "$client_bin" --ca "$tmp/pki/ca.pem" "https://127.0.0.1:$port/file.bin" \
    -o "$tmp/out.bin" --json >"$tmp/result.json" 2>"$tmp/client.log" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "  download FAILED (tern-client exit status $rc)"
    sed 's/^/  client: /' "$tmp/client.log" | tail -n 20
    [ -s "$tmp/result.json" ] && sed 's/^/  json: /' "$tmp/result.json"
    [ -s "$tmp/server.log" ] && sed 's/^/  server: /' "$tmp/server.log" | tail -n 20
    exit 1
fi

bytes=$(json_num bytes "$tmp/result.json")
dur_ms=$(json_num duration_ms "$tmp/result.json")
hs_ms=$(json_num handshake_ms "$tmp/result.json")
cipher=$(json_str cipher "$tmp/result.json")
alpn=$(json_str alpn "$tmp/result.json")
sent=$(json_num packets_sent "$tmp/result.json")
lost=$(json_num packets_lost "$tmp/result.json")
client_sha=$(json_str sha256 "$tmp/result.json")
out_sha=$(sha256sum "$tmp/out.bin" | cut -d' ' -f1)
out_bytes=$(stat -c %s "$tmp/out.bin")

awk -v b="$bytes" -v ms="$dur_ms" -v hs="$hs_ms" 'BEGIN {
    s = ms / 1000; if (s <= 0) s = 1e-9
    printf "  size        %d bytes (%.1f MiB)\n", b, b / 1048576
    printf "  time        %.3f s (handshake %.1f ms)\n", s, hs
    printf "  throughput  %.1f MB/s, %.1f Mbit/s\n", b / s / 1e6, b * 8 / s / 1e6
}'
echo "  connection  ${cipher:-?}, ALPN ${alpn:-?}, ${sent:-?} packets sent, ${lost:-?} lost"
if [ "$out_sha" = "$src_sha" ] && [ "$client_sha" = "$src_sha" ] &&
    [ "$out_bytes" = "$bytes" ]; then
    echo "  sha256      match ($src_sha)"
    exit 0
fi
echo "  sha256      MISMATCH"
echo "    source      $src_sha"
echo "    file        $out_sha ($out_bytes bytes)"
echo "    client      ${client_sha:-none}"
exit 1
