#!/usr/bin/env bash
# test.sh - everything `make test` runs, in order, with one total at the end.
#
#   1. Check unit suites (normal build)
#   2. PromQL conformance (Prometheus' test files, floor in tests/promql/FLOOR)
#   3. command-line tests (import, tsdb ls/analyze, error messages) and the
#      HTTP API end-to-end test (tests/web/api_test.py)
#   4. end-to-end tests (tests/e2e/*.sh: real exporters, Prometheus, browser)
#   5. crash test: SIGKILLed writer, reopen, every acknowledged sample present
#   6. fuzz smoke runs (each libFuzzer target for FUZZ_SMOKE_SECONDS)
#   7. ThreadSanitizer run of the concurrent tests (make tsan)
#   8. Check unit suites again under AddressSanitizer + UBSan
#
# Each step prints its own "name: N passed, N failed" line; the last line
# adds them up, so a run that executed nothing shows "0 passed".
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
total_pass=0
total_fail=0
steps_failed=()

count() { # $1 = step name, $2 = output file, $3 = exit code
    local line p f
    line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$1: no summary line (exit $3)"
        total_fail=$((total_fail + 1)); steps_failed+=("$1"); return
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then total_fail=$((total_fail + 1)); fi
    if [ "$3" -ne 0 ] || [ "$f" -ne 0 ]; then steps_failed+=("$1"); fi
}

run_step() { # $1 = name, rest = command
    local name=$1; shift
    local out; out=$(mktemp)
    echo "=== $name"
    "$@" 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    count "$name" "$out" "$rc"
    rm -f "$out"
}

# Prometheus' PromQL test files live in ../shared beside the checkout; a
# clone elsewhere on the same machine finds them at /work/shared.
if [ -z "${PROMQL_TESTS_DIR:-}" ]; then
    for d in ../shared/promql-tests /work/shared/promql-tests; do
        if [ -d "$d" ]; then PROMQL_TESTS_DIR=$(cd "$d" && pwd); export PROMQL_TESTS_DIR; break; fi
    done
fi
run_step unit env CK_FORK=yes build/check_flint
if [ -x build/promql-runner ]; then
    # Prometheus' PromQL test files: the runner's own line lists every eval;
    # the step passes when at least tests/promql/FLOOR evals pass.
    run_step conformance bash -c 'if build/promql-runner --floor "$(cat tests/promql/FLOOR)"; then
        echo "conformance-floor: 1 passed, 0 failed"; else echo "conformance-floor: 0 passed, 1 failed"; exit 1; fi'
fi
run_step cli tests/cli/run.sh
if [ -x build/apiserver ]; then
    run_step api timeout 300 python3 tests/web/api_test.py build/apiserver
fi
# End-to-end tests against real programs: every tests/e2e/*.sh is a step
# named after its file; each prints its own "name: N passed, N failed".
for t in tests/e2e/*.sh; do
    [ -x "$t" ] || continue
    n=$(basename "$t" .sh)
    run_step "$n" timeout "${E2E_TIMEOUT:-600}" "$t"
done
if [ -x tests/crash/run.sh ]; then
    run_step crash tests/crash/run.sh "${CRASH_RUNS:-60}"
fi
if command -v clang >/dev/null && ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
    run_step fuzz bash -c "$MAKE --no-print-directory -s fuzz-build >/dev/null && scripts/run-fuzz.sh ${FUZZ_SMOKE_SECONDS:-15} \$(find build/fuzz -maxdepth 1 -type f -name 'fuzz_*' ! -name '*.*' | sort)"
fi
# ThreadSanitizer over the concurrent tests (web, head, db, scrapeloop
# suites; api_test's concurrent checks against a TSan apiserver)
run_step tsan bash -c "$MAKE --no-print-directory -s tsan"
run_step asan bash -c "$MAKE --no-print-directory -s build/check_flint_asan >/dev/null && CK_FORK=yes ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/check_flint_asan"

echo
if [ ${#steps_failed[@]} -gt 0 ]; then echo "failed steps: ${steps_failed[*]}"; fi
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
