#!/usr/bin/env bash
# promdiff.sh - differential test: the same data in Prometheus 2.42 and in
# flint, ~140 dashboard and alert-rule queries compared answer by answer
# (tests/e2e/promdiff/promdiff.py; the queries and the documented 2 -> 3
# differences are in tests/e2e/promdiff/queries.py). Prints
# "promdiff: N passed, N failed". Needs prometheus and promtool on PATH.
set -u
cd "$(dirname "$0")/../.."
[ -x ./flint ] || make -s -j2 flint >/dev/null || { echo "promdiff: 0 passed, 1 failed"; exit 1; }
exec timeout 300 python3 tests/e2e/promdiff/promdiff.py --flint ./flint "$@"
