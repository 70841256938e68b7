# Shell helpers shared by the demo, the benchmarks and the interop suite (sourced, not run).

# A UDP port nobody is bound to (checked with ss when available).
free_port() {
    local p
    for _ in $(seq 1 200); do
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
