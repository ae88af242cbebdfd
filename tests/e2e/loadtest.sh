#!/usr/bin/env bash
# loadtest.sh - 32 concurrent Grafana-style clients running range queries
# against a flint server that scrapes itself and a fixture every second
# (tests/e2e/loadtest/loadtest.py): 0 errors and no missed scrapes required;
# throughput and latency percentiles reported. Prints the figures, then
# "load: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
[ -x ./flint ] || make -s -j2 flint >/dev/null || { echo "load: 0 passed, 1 failed"; exit 1; }
exec timeout 300 python3 tests/e2e/loadtest/loadtest.py --flint ./flint "$@"
