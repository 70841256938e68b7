#!/usr/bin/env bash
# ACKs per MB and CPU per MB of a bulk download in the protocol engine, with RFC 9000's ACK rule,
# the receiver's bulk policy and the ACK frequency extension, in the same run (bench_ack_frequency,
# both ends in one process over a virtual link; no sockets), pinned to one core.
# usage: bench/ack_frequency.sh BUILD_DIR   environment: SIZE_MB (default 100), RATE_MBIT
#        (default 0: no rate limit), RUNS (default 3), CPU (default 1)
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
exec taskset -c "${CPU:-1}" "$1/bench_ack_frequency" "${SIZE_MB:-100}" "${RATE_MBIT:-0}" "${RUNS:-3}"
