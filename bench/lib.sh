# Shared by the loopback benchmarks (sourced).
# bench_pin: server and client on different cores, so that neither steals the other's CPU time:
# sets srv_pin and cli_pin (command prefixes, empty when taskset or a second core is missing) and
# pin_note (a line for the report).
bench_pin() {
    srv_pin=()
    cli_pin=()
    if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
        srv_pin=(taskset -c 0)
        cli_pin=(taskset -c 1)
        pin_note="server on CPU 0, client on CPU 1"
    else
        pin_note="not pinned"
    fi
}

# bench_stop NAME...: stops each process whose pid the variable NAME holds, waits for it and
# clears the variable (nothing when it is empty).
bench_stop() {
    local v
    for v in "$@"; do
        if [ -n "${!v}" ]; then
            kill "${!v}" 2>/dev/null
            wait "${!v}" 2>/dev/null
            printf -v "$v" '%s' ""
        fi
    done
}

# bench_traps: at exit, stop_server (the script's own) and the removal of $tmp.
bench_traps() {
    # shellcheck disable=SC2317 # called from the EXIT trap
    bench_cleanup() {
        stop_server
        rm -rf "$tmp"
    }
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}
