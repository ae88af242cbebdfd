#!/usr/bin/env bash
# tsan.sh - the concurrent tests under ThreadSanitizer (`make tsan` builds
# build/check_flint_tsan and build/apiserver_tsan first):
#   1. Check suites with threads: web (queries, label scans, /federate,
#      /metrics and the query slots on 3 client threads while a 4th
#      appends), head (concurrent appenders and readers), db (maintenance
#      beside queriers) and scrapeloop (scrape threads and a test server)
#   2. tests/web/api_test.py's concurrent checks against apiserver_tsan
#      (parallel connections, mixed endpoints from 6 threads, the query cap
#      with a slow query cancelled by its client, /metrics counters)
# Each step passes when it passes and TSan reported nothing; every race
# report is one more failure. Last line: "tsan: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pass=0
fail=0
races=0

step() { # $1 = name, rest = command
    local name=$1; shift
    local dir="$logs/$name"
    mkdir -p "$dir"
    echo "=== tsan $name"
    TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$dir/report" "$@" 2>&1 | tail -n 3
    local rc=${PIPESTATUS[0]}
    local n
    n=$(cat "$dir"/report.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer:')
    if [ "$n" -gt 0 ]; then
        echo "--- $name: $n ThreadSanitizer report(s):"
        cat "$dir"/report.* | grep -E '^WARNING: ThreadSanitizer|^    #[0-3] ' | head -n 60
    fi
    races=$((races + n))
    if [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    echo "--- $name: exit $rc, $n report(s)"
}

step unit-web env CK_FORK=yes CK_RUN_SUITE=web build/check_flint_tsan
step unit-head env CK_FORK=yes CK_RUN_SUITE=head build/check_flint_tsan
step unit-db env CK_FORK=yes CK_RUN_SUITE=db build/check_flint_tsan
step unit-scrapeloop env CK_FORK=yes CK_RUN_SUITE=scrapeloop build/check_flint_tsan
step api timeout 600 python3 tests/web/api_test.py build/apiserver_tsan \
    --only test_concurrent,test_concurrent_mixed,test_concurrency_cap,test_metrics_counters

echo "ThreadSanitizer reports: $races"
echo "tsan: $pass passed, $((fail + races)) failed"
[ "$fail" -eq 0 ] && [ "$races" -eq 0 ]
