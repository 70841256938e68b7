#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS over its seed corpus SEEDS (read only) and, when given, the
# working corpus WORK (new inputs are added there; without it a temporary directory is used and
# removed). Every seed is run first, so the seeds are also regression inputs. A crash leaves its
# input in CRASHES (default: the working directory) and fails. Prints libFuzzer's last status line.
# Usage: run-fuzz.sh BINARY SECONDS SEEDS [WORK [CRASHES]]
set -euo pipefail
bin=$1 secs=$2 seeds=$3 work=${4:-} crashes=${5:-}
tmp=""
if [ -z "$work" ]; then
    tmp=$(mktemp -d /tmp/tern-fuzz-run-XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    work=$tmp
fi
mkdir -p "$work"
[ -n "$crashes" ] || crashes=${tmp:-$work}
mkdir -p "$crashes"
log=$(mktemp /tmp/tern-fuzz-log-XXXXXX)
trap 'rm -rf "$log" ${tmp:+"$tmp"}' EXIT
dirs=("$work")
[ -d "$seeds" ] && dirs+=("$seeds")
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    "$bin" -max_total_time="$secs" -seed=1 -max_len=4096 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "${dirs[@]}" >"$log" 2>&1 || rc=$?
grep -E '^#[0-9]+' "$log" | tail -1 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
if [ "$rc" -ne 0 ]; then
    grep -E -A30 'ERROR|==[0-9]+==|deadly signal|Test unit written' "$log" | head -60
    if [ -n "$tmp" ]; then # keep the input for the report
        mkdir -p crashes && cp "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* crashes/ 2>/dev/null || true
    fi
    exit "$rc"
fi
