#!/usr/bin/env bash
# tern-server handles its signals from the moment its socket is bound: a test (or an operator's
# script) that waits for the port and then signals at once must get the heap report (SIGUSR1) or
# the graceful stop (SIGTERM), not a server killed by the signal's default action. The window
# right after the bind is held open by a preloaded bind() that waits 500 ms after binding
# (tests/tools/slow_bind.c), and each signal is sent inside it.
#   tests/tools/signals.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
shim=$build/libtern_test_slow_bind.so
fail() {
    echo "signals: FAIL: $*"
    [ -f "$work/server.log" ] && tail -n 20 "$work/server.log"
    exit 1
}
[ -f "$shim" ] || fail "missing $shim"

# start_slow PORT: tern-server with the preloaded bind(), as start_server starts it; sets srv
start_slow() {
    LD_PRELOAD=$shim TERN_TEST_BIND_DELAY_MS=500 "$build/tern-server" --listen "127.0.0.1:$1" \
        --root "$work/www" --cert "$work/pki/cert.pem" --key "$work/pki/key.pem" -q \
        >"$work/server.log" 2>&1 &
    srv=$!
    wait_bound "$1" "$srv"
}

# SIGUSR1 inside the window: the server lives on and prints its report once it runs.
port=$(free_port)
start_slow "$port" || fail "tern-server did not start"
kill -USR1 "$srv" || fail "no server to signal"
sleep 0.8
kill -0 "$srv" 2>/dev/null || fail "SIGUSR1 right after the bind killed the server"
for _ in $(seq 1 40); do
    grep -q '^heap: ' "$work/server.log" && break
    sleep 0.05
done
grep -q '^heap: ' "$work/server.log" || fail "no heap report after SIGUSR1"
kill -TERM "$srv"
wait "$srv"
rc=$?
srv=""
[ "$rc" = 0 ] || fail "tern-server exited with $rc after SIGTERM"

# SIGTERM inside the window: a graceful stop, exit status 0 (143 would be death by the signal).
port=$(free_port)
start_slow "$port" || fail "tern-server did not start"
kill -TERM "$srv" || fail "no server to signal"
wait "$srv"
rc=$?
srv=""
[ "$rc" = 0 ] || fail "SIGTERM right after the bind: exit status $rc, not a graceful stop"
echo "signals: PASS"
