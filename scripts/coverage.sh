#!/usr/bin/env bash
# Line and branch coverage of src/ from the whole suite: builds with gcov instrumentation in its own
# directory, runs every ctest suite there (the fuzz targets are libFuzzer-only and not built), and
# prints gcovr's per-file table for src/ and then for src/core. Usage: coverage.sh [BUILD_DIR]
set -euo pipefail
dir=${1:-build-cov}
src=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DTERN_COVERAGE=ON -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
find "$dir" -name '*.gcda' -delete
# the suites; a failing test still leaves its coverage, and its failure is reported at the end
rc=0
ctest --test-dir "$dir" -j 2 --output-on-failure ${TERN_COVERAGE_CTEST_ARGS:-} >"$dir/coverage-ctest.log" 2>&1 || rc=$?
tail -3 "$dir/coverage-ctest.log"
summary="$dir/coverage-summary.json"
gcovr --root "$src" --object-directory "$dir" --filter "$src/src/" --exclude-unreachable-branches \
    -j 2 --json-summary "$summary" >/dev/null
python3 - "$summary" <<'PY'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
def pct(c, t): return 100.0 * c / t if t else 100.0
def table(title, rows):
    print(f"== {title}")
    print(f"  {'file':<28} {'lines':>14} {'%':>6} {'branches':>14} {'%':>6}")
    lc = lt = bc = bt = 0
    for f in sorted(rows, key=lambda f: f["filename"]):
        print(f"  {f['filename']:<28} {f['line_covered']:>6}/{f['line_total']:<7} "
              f"{pct(f['line_covered'], f['line_total']):>6.1f} {f['branch_covered']:>6}/"
              f"{f['branch_total']:<7} {pct(f['branch_covered'], f['branch_total']):>6.1f}")
        lc += f["line_covered"]; lt += f["line_total"]; bc += f["branch_covered"]; bt += f["branch_total"]
    print(f"  {'TOTAL':<28} {lc:>6}/{lt:<7} {pct(lc, lt):>6.1f} {bc:>6}/{bt:<7} {pct(bc, bt):>6.1f}")
table("src/ (line and branch coverage per file)", files)
table("src/core", [f for f in files if f["filename"].startswith("src/core/")])
PY
[ "$rc" -eq 0 ] || { echo "coverage: some tests failed (see $dir/coverage-ctest.log)"; exit "$rc"; }
