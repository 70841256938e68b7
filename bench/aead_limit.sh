#!/usr/bin/env bash
# One download past AES-128-GCM's confidentiality limit (RFC 9001 §6.6: 2^23 packets under one
# key, about 12 GB of 1452-byte datagrams) over loopback: tern must update its keys by itself
# before the limit (at key_update_margin_pct, by default every 2^22 packets) and keep going. The
# report gives the bytes, the time, the key updates tern-client counted (phase changes, either
# side), those tern-server counted, the 1-RTT packets the server sent, and the same download
# with ngtcp2's gtlsserver/gtlsclient in the same run for a time ratio. The file is sparse (no
# disk space); tern-client checks nothing but the byte count and discards the body. The server's
# datagrams are held to 1472 bytes (a 1500-byte link): loopback's path MTU discovery would
# otherwise reach 8972, and 13 GiB would then take only about 1.6 million packets.
#
# usage: bench/aead_limit.sh BUILD_DIR
# environment: SIZE_GB (default 13: past 2^23 full packets), ONLY=tern|ngtcp2, TIMEOUT seconds
#              per download (default 1800)
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1
size_gb=${SIZE_GB:-13}
only=${ONLY:-}
limit=${TIMEOUT:-1800}
here=$(cd "$(dirname "$0")" && pwd)
tern_server=$build/tern-server
tern_client=$build/tern-client

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-aead.XXXXXX")
server_pid=""
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
stop_server() { bench_stop server_pid; }
bench_traps

# shellcheck source=scripts/net-lib.sh
. "$here/../scripts/net-lib.sh"

bench_pin

mkdir -p "$tmp/www"
truncate -s "${size_gb}G" "$tmp/www/big.bin"
size=$(stat -c %s "$tmp/www/big.bin")
bash "$here/../scripts/make-cert.sh" "$tmp/pki" >/dev/null || exit 1
now_ns() { date +%s%N; }

echo "aead_limit: one ${size_gb} GiB download ($size bytes) over loopback, AES-128-GCM, $pin_note"
echo "  confidentiality limit 2^23 = 8388608 packets per key; about $((size / 1452)) full datagrams"

tern_ms="" ngtcp2_ms=""
if [ "$only" != ngtcp2 ]; then
    port=$(free_port)
    "${srv_pin[@]}" "$tern_server" --listen "127.0.0.1:$port" --root "$tmp/www" \
        --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" --ciphers AES-128-GCM \
        --max-udp-payload 1472 >"$tmp/tern-server.log" 2>&1 &
    server_pid=$!
    wait_bound "$port" "$server_pid" || { echo "tern-server did not start" >&2; exit 1; }
    t0=$(now_ns)
    timeout -k 5 "$limit" "${cli_pin[@]}" "$tern_client" --ca "$tmp/pki/ca.pem" -q --json \
        --ciphers AES-128-GCM --alpn hq-interop -o /dev/null "https://127.0.0.1:$port/big.bin" \
        >"$tmp/tern.json" 2>"$tmp/tern-client.log"
    rc=$?
    t1=$(now_ns)
    # the server reports the connection once it closed
    for _ in $(seq 1 50); do grep -q ' closed: ' "$tmp/tern-server.log" && break; sleep 0.1; done
    stop_server
    tern_ms=$(((t1 - t0) / 1000000))
    got=$(sed -n 's/.*"bytes":\([0-9]*\),"start_unix_ms".*/\1/p' "$tmp/tern.json")
    cku=$(sed -n 's/.*"key_updates":\([0-9]*\).*/\1/p' "$tmp/tern.json")
    sent=$(sed -n 's/.*"packets_sent":\([0-9]*\).*/\1/p' "$tmp/tern.json")
    srv_line=$(grep ' closed: ' "$tmp/tern-server.log" | tail -n 1)
    sku=$(sed -n 's/.* \([0-9]*\) key updates.*/\1/p' <<<"$srv_line")
    spkts=$(sed -n 's/.*recovery: \([0-9]*\) packets sent.*/\1/p' <<<"$srv_line")
    echo "  tern:   exit $rc, ${got:-?} bytes in ${tern_ms} ms" \
        "($(awk -v b="${got:-0}" -v ms="$tern_ms" 'BEGIN { printf "%.0f", ms ? b * 8 / ms / 1000 : 0 }') Mbit/s)"
    echo "          key updates: client counted ${cku:-?}, server counted ${sku:-?};" \
        "server sent ${spkts:-?} packets (${spkts:+$((spkts / 4194304))} x 2^22), client ${sent:-?}"
    if [ "$rc" -ne 0 ] || [ "${got:-0}" != "$size" ]; then
        echo "  tern FAILED:"; tail -n 5 "$tmp/tern-client.log" "$tmp/tern-server.log"
    fi
fi
if [ "$only" != tern ]; then
    port=$(free_port)
    "${srv_pin[@]}" gtlsserver -q -d "$tmp/www" 127.0.0.1 "$port" "$tmp/pki/key.pem" \
        "$tmp/pki/cert.pem" --ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM >"$tmp/ng-server.log" 2>&1 &
    server_pid=$!
    wait_bound "$port" "$server_pid" || { echo "gtlsserver did not start" >&2; exit 1; }
    t0=$(now_ns)
    timeout -k 5 "$limit" "${cli_pin[@]}" gtlsclient -q --exit-on-all-streams-close \
        --ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM 127.0.0.1 "$port" "https://127.0.0.1:$port/big.bin" \
        >"$tmp/ng-client.log" 2>&1
    rc=$?
    t1=$(now_ns)
    stop_server
    ngtcp2_ms=$(((t1 - t0) / 1000000))
    echo "  ngtcp2: exit $rc in ${ngtcp2_ms} ms (gtlsclient -> gtlsserver; its tools report no" \
        "key update count)"
fi
if [ -n "$tern_ms" ] && [ -n "$ngtcp2_ms" ] && [ "$ngtcp2_ms" -gt 0 ]; then
    echo "  time ratio tern/ngtcp2: $(awk -v a="$tern_ms" -v b="$ngtcp2_ms" 'BEGIN { printf "%.2f", a / b }')"
fi
