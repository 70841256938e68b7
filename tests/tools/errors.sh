#!/usr/bin/env bash
# What tern-client and tern-server say when they cannot work, as a new user meets it: each case
# runs the tool and checks its exit status and that its message names the cause (and the file,
# the address or the option concerned).
#   tests/tools/errors.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
client=$build/tern-client
server=$build/tern-server
echo hello >"$work/www/index.html"
printf 'not a certificate\n' >"$work/junk.pem"
failed=0

# check NAME WANT_STATUS PATTERN... -- COMMAND...: runs COMMAND, expects its exit status and every
# (fixed-string) pattern in its stderr.
check() {
    local name=$1 want=$2 pats=() rc err
    shift 2
    while [ "$1" != -- ]; do pats+=("$1"); shift; done
    shift
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "  $name FAIL: exit status $rc, expected $want: $err"
        failed=1
        return
    fi
    for p in "${pats[@]}"; do
        if [[ $err != *"$p"* ]]; then
            echo "  $name FAIL: no '$p' in: $err"
            failed=1
            return
        fi
    done
    echo "  $name ok: $err"
}

port=$(free_port)
# Nothing listens: ICMP port unreachable ends the handshake, not the 10 s timeout (the status is
# the proof: a timeout says "handshake timeout").
check refused 1 "connection refused" "127.0.0.1:$port" -- \
    timeout 20 "$client" --insecure "https://127.0.0.1:$port/index.html"
check refused-v6 1 "connection refused" "[::1]:$port" -- \
    timeout 20 "$client" --insecure "https://[::1]:$port/index.html"

start_server "$port" -q || { echo "tern-server did not start"; cat "$work/server.log"; exit 1; }
# The system trust store does not know the test CA.
check untrusted 1 "certificate verification failed" "NOT trusted" "--ca" "--insecure" -- \
    timeout 20 "$client" "https://127.0.0.1:$port/index.html"
check ca-missing 1 "--ca $work/nope.pem" "No such file or directory" -- \
    timeout 20 "$client" --ca "$work/nope.pem" "https://127.0.0.1:$port/index.html"
check ca-junk 1 "--ca $work/junk.pem" "no PEM certificate" -- \
    timeout 20 "$client" --ca "$work/junk.pem" "https://127.0.0.1:$port/index.html"
# 192.0.2.0/24 is for documentation (RFC 5737): no host has it.
check local-foreign 1 "--local 192.0.2.7" "not on this host" -- \
    timeout 20 "$client" --insecure --local 192.0.2.7 "https://127.0.0.1:$port/index.html"
check works 0 -- timeout 20 "$client" -q --ca "$work/pki/ca.pem" "https://127.0.0.1:$port/index.html"
stop_server

p2=$(free_port)
check cert-missing 1 "--cert $work/nope.pem" "No such file or directory" -- \
    timeout 20 "$server" --listen "127.0.0.1:$p2" --root "$work/www" --cert "$work/nope.pem" \
    --key "$work/pki/key.pem"
check key-junk 1 "--key $work/junk.pem" "private key" -- \
    timeout 20 "$server" --listen "127.0.0.1:$p2" --root "$work/www" --cert "$work/pki/cert.pem" \
    --key "$work/junk.pem"
# ca.pem is a certificate of another key: the pair does not match.
check key-mismatch 1 "--key $work/pki/key.pem" "--cert $work/pki/ca.pem" "do not match" -- \
    timeout 20 "$server" --listen "127.0.0.1:$p2" --root "$work/www" --cert "$work/pki/ca.pem" \
    --key "$work/pki/key.pem"
check root-missing 2 "--root DIR is required" -- timeout 20 "$server" --listen "127.0.0.1:$p2"
check root-absent 1 "--root $work/none" "No such file or directory" -- \
    timeout 20 "$server" --listen "127.0.0.1:$p2" --root "$work/none"
check qlog-dir-absent 2 "--qlog-dir $work/none" "No such file or directory" -- \
    timeout 20 "$server" --listen "127.0.0.1:$p2" --root "$work/www" --qlog-dir "$work/none"
check qlog-dir-file 2 "--qlog-dir $work/junk.pem" "Not a directory" -- \
    timeout 20 "$client" --insecure --qlog-dir "$work/junk.pem" "https://127.0.0.1:$p2/index.html"
exit $failed
