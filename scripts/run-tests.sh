#!/usr/bin/env bash
# Runs ctest in each build directory given and prints one closing line "N passed, N failed".
set -u
total_pass=0; total_fail=0
for dir in "$@"; do
    echo "== ctest in $dir"
    log=$(mktemp)
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" --output-on-failure -j 2 2>&1 | tee "$log"
    line=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
    if [ -z "$line" ]; then
        echo "ctest in $dir did not report a summary"
        total_fail=$((total_fail + 1))
    else
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
        t=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
        total_pass=$((total_pass + t - f)); total_fail=$((total_fail + f))
    fi
    rm -f "$log"
done
echo
echo "tests: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
