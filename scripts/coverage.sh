#!/usr/bin/env bash
# Line and branch coverage of src/: builds with gcov instrumentation in its own directory, runs
# every ctest suite there (the fuzz targets replay their seed corpora), and prints line and branch
# coverage per file of src/ and then of src/core.
# Usage: coverage.sh [BUILD_DIR [TARGET CORPUS...]]
# With a fuzz target and corpus directories, only that target replays those inputs instead of the
# suite (what a fuzzing campaign reaches), and the functions named in TERN_COVERAGE_FUNCS (space
# separated) are listed with their call counts.
set -euo pipefail
dir=${1:-build-cov}
src=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DTERN_COVERAGE=ON -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build "$dir" -j "$(nproc)" >/dev/null
find "$dir" -name '*.gcda' -delete
rc=0
if [ $# -ge 2 ]; then
    target=$2
    shift 2
    "$dir/$target" "$@" || rc=$?
else
    # the suites; a failing test still leaves its coverage, and its failure is reported at the end
    ctest --test-dir "$dir" -j 2 --output-on-failure ${TERN_COVERAGE_CTEST_ARGS:-} \
        >"$dir/coverage-ctest.log" 2>&1 || rc=$?
    tail -3 "$dir/coverage-ctest.log"
fi
json="$dir/coverage.json"
gcovr --root "$src" --object-directory "$dir" --filter "$src/src/" --exclude-unreachable-branches \
    -j 2 --json "$json" >/dev/null
python3 - "$json" "${TERN_COVERAGE_FUNCS:-}" <<'PY'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
def stats(f):
    lines = [l for l in f["lines"] if not l.get("gcovr/noncode")]
    lc = sum(1 for l in lines if l["count"] > 0)
    br = [b for l in lines for b in l.get("branches", [])]
    bc = sum(1 for b in br if b["count"] > 0)
    return lc, len(lines), bc, len(br)
def pct(c, t): return 100.0 * c / t if t else 100.0
def table(title, rows):
    print(f"== {title}")
    print(f"  {'file':<28} {'lines':>14} {'%':>6} {'branches':>14} {'%':>6}")
    tl = [0, 0, 0, 0]
    for f in sorted(rows, key=lambda f: f["file"]):
        s = stats(f)
        tl = [a + b for a, b in zip(tl, s)]
        print(f"  {f['file']:<28} {s[0]:>6}/{s[1]:<7} {pct(s[0], s[1]):>6.1f} {s[2]:>6}/{s[3]:<7} "
              f"{pct(s[2], s[3]):>6.1f}")
    print(f"  {'TOTAL':<28} {tl[0]:>6}/{tl[1]:<7} {pct(tl[0], tl[1]):>6.1f} {tl[2]:>6}/{tl[3]:<7} "
          f"{pct(tl[2], tl[3]):>6.1f}")
table("src/ (line and branch coverage per file)", files)
table("src/core", [f for f in files if f["file"].startswith("src/core/")])
wanted = sys.argv[2].split()
if wanted:
    print("== calls")
    for f in files:
        for fn in f.get("functions", []):
            if fn["name"] in wanted:
                print(f"  {fn['name']:<36} {f['file']}:{fn['lineno']:<5} {fn['execution_count']}")
PY
[ "$rc" -eq 0 ] || { echo "coverage: some tests failed (see $dir/coverage-ctest.log)"; exit "$rc"; }
