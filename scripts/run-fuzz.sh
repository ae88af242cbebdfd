#!/usr/bin/env bash
# run-fuzz.sh SECONDS FUZZER... - run each libFuzzer target for SECONDS on a
# scratch corpus seeded from tests/fuzz/corpus/<name>/ (if present); a crash
# leaves its input in build/fuzz/crash-<name>-*. Prints "fuzz: N passed, N failed".
set -u
secs=$1; shift
pass=0; fail=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=build/fuzz/corpus/$name
    mkdir -p "$corpus"
    [ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
    if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="build/fuzz/crash-$name-" "$corpus" > "build/fuzz/$name.log" 2>&1; then
        echo "$name: ok ($(grep -Eo '#[0-9]+' "build/fuzz/$name.log" | tail -1 | tr -d '#') execs in ${secs}s)"
        pass=$((pass + 1))
    else
        echo "$name: FAILED (see build/fuzz/$name.log)"; tail -30 "build/fuzz/$name.log"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
