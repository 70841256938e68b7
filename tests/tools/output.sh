#!/usr/bin/env bash
# tern-client's outputs: bodies gathered into large writes arrive whole in their files (several
# URLs into a directory, one to standard output, over both protocols, sizes around the write
# buffer's), the SHA-256 is computed and reported only when --sha256 asks for it (per-URL line and
# JSON report, equal to the file's), and a write that fails fails the download with its error.
#   tests/tools/output.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
fail() { echo "output: FAIL: $*"; [ -f "$work/client.log" ] && tail -n 20 "$work/client.log"; exit 1; }

# 0 bytes, one short piece, just over the 1 MiB write buffer, several buffers and a tail
: >"$work/www/empty.bin"
head -c 100 /dev/urandom >"$work/www/small.bin"
head -c $((1048576 + 1)) /dev/urandom >"$work/www/edge.bin"
head -c $((5 * 1048576 + 4321)) /dev/urandom >"$work/www/big.bin"
files="empty.bin small.bin edge.bin big.bin"
sha() { sha256sum "$1" | cut -d' ' -f1; }
port=$(free_port)
start_server "$port" -q || fail "tern-server did not start"
urls=()
for f in $files; do urls+=("https://127.0.0.1:$port/$f"); done

for alpn in h3 hq-interop; do
    # default: no digest, files written whole
    rm -rf "$work/out" && mkdir "$work/out"
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn "$alpn" -o "$work/out" \
        "${urls[@]}" >"$work/client.out" 2>"$work/client.log" || fail "$alpn: tern-client failed"
    for f in $files; do
        [ "$(sha "$work/out/$f")" = "$(sha "$work/www/$f")" ] || fail "$alpn: $f differs"
        grep -q "/$f: .*$(stat -c %s "$work/www/$f") bytes\$" "$work/client.out" ||
            fail "$alpn: no plain line for $f: $(cat "$work/client.out")"
    done
    grep -q sha256 "$work/client.out" && fail "$alpn: a digest without --sha256"
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn "$alpn" --json -o "$work/out" \
        "${urls[@]}" >"$work/client.json" 2>"$work/client.log" || fail "$alpn: tern-client --json failed"
    [ "$(grep -o '"sha256":null' "$work/client.json" | wc -l)" -eq 4 ] ||
        fail "$alpn: the report has digests without --sha256: $(cut -c1-600 "$work/client.json")"

    # --sha256: the digests of the lines and of the report are the files'
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn "$alpn" --sha256 \
        "${urls[@]}" >"$work/client.out" 2>"$work/client.log" || fail "$alpn: --sha256 failed"
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn "$alpn" --sha256 --json \
        "${urls[@]}" >"$work/client.json" 2>"$work/client.log" || fail "$alpn: --sha256 --json failed"
    for f in $files; do
        want=$(sha "$work/www/$f")
        grep -q "/$f: .*bytes, sha256 $want\$" "$work/client.out" || fail "$alpn: $f: wrong digest line"
        grep -q "\"url\":\"https://127.0.0.1:$port/$f\",\"bytes\":[0-9]*,\"sha256\":\"$want\"" \
            "$work/client.json" || fail "$alpn: $f: wrong digest in the report"
    done

    # standard output
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" --alpn "$alpn" -q -o - \
        "https://127.0.0.1:$port/big.bin" >"$work/stdout.bin" 2>"$work/client.log" ||
        fail "$alpn: -o - failed"
    [ "$(sha "$work/stdout.bin")" = "$(sha "$work/www/big.bin")" ] || fail "$alpn: stdout differs"
done

# a full disk: the download fails with the write's error, whichever write meets it
if [ -w /dev/full ]; then
    timeout 30 "$build/tern-client" --ca "$work/pki/ca.pem" -q -o /dev/full \
        "https://127.0.0.1:$port/small.bin" >/dev/null 2>"$work/client.log"
    rc=$?
    [ "$rc" -eq 1 ] || fail "exit status $rc writing to /dev/full, expected 1"
    grep -q "small.bin: writing the output file: No space left on device" "$work/client.log" ||
        fail "no write error reported"
fi
echo "output: ok: $files over h3 and hq-interop, digests only with --sha256"
