#!/usr/bin/env bash
# grafana.sh - replays the request sequence of Grafana's Prometheus data
# source against a real flint server and checks each answer's shape
# (tests/web/grafana_replay.py). Prints "grafana: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
[ -x ./flint ] || make -s -j2 flint >/dev/null || { echo "grafana: 0 passed, 1 failed"; exit 1; }
exec timeout 300 python3 tests/web/grafana_replay.py --flint ./flint "$@"
