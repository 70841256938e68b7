#!/usr/bin/env bash
# Migration benchmark (virtual time, deterministic): a download over a simulated 40 ms RTT,
# 50 Mbit/s link while the client switches its local address, to a validated path and to an
# unprobed one. Prints the longest gap in delivered data, the time back to 90% of the rate and
# what was lost or resent because of the switch, for a few seeds. Then the effect of cached path
# state: the rate in the 200 ms after moving back to a recently used network, with the cached RTT
# and window restored against a cold start (the simulator's cached_state_return scenario).
set -euo pipefail
build=${1:-build}
[ -x "$build/bench_migration" ] || { echo "build first: make build (missing $build/bench_migration)"; exit 1; }
status=0
for seed in ${SEEDS:-1 2 3}; do
    "$build/bench_migration" "$seed" || status=1
done
echo
echo "cached path state on return (wifi 20 ms, 50 Mbit/s; cell 80 ms, 20 Mbit/s; rate in the 200 ms after moving back to wifi):"
for seed in ${SEEDS:-1 2 3}; do
    line=$("$build/tern-sim" cached_state_return --seed "$seed" | grep -o '200 ms after moving back:.*') || status=1
    echo "  seed $seed: ${line:-failed}"
done
exit $status
