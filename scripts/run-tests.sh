#!/usr/bin/env bash
# Runs ctest in each build directory given; prints one closing line "N passed, N failed".
set -u
total_pass=0; total_fail=0
for dir in "$@"; do
    echo "== ctest in $dir"
    log=$(mktemp)
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" --output-on-failure -j 2 2>&1 | tee "$log"
    p=$(grep -Eo '[0-9]+ tests passed' "$log" | head -1 | awk '{print $1}')
    t=$(grep -Eo 'out of [0-9]+' "$log" | tail -1 | awk '{print $3}')
    p=${p:-0}; t=${t:-0}
    if ! grep -q 'tests passed' "$log"; then t=1; p=0; fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + t - p))
    rm -f "$log"
done
echo
echo "tests: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
